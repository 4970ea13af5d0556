/* kernels/report.h — the numbers nnpress reports about a model, in one place.
 *
 *     struct nnp_summary s;
 *     nnp_summary_init(&s, g);             // params, nonzeros, bytes, per layer
 *     printf("%lld parameters\n", (long long)s.params);
 *     nnp_summary_free(&s);
 *
 * Every figure the report JSON carries has one home here (DESIGN.md: "every
 * report field has one home"); formats/report_json.c writes and reads these
 * structs, cmd/ prints them as tables. Latency and accuracy arrive with the
 * runtime (roadmap step 2) and have their slots already.
 */
#ifndef NNP_REPORT_H
#define NNP_REPORT_H

#include "kernels/graph.h"

/* One row of the per-layer table: a node that reads weights (constants, stored as
 * initializers or Constant nodes: nnp_value_data()). */
struct nnp_layer {
    const char *node;   /* node name, or "#index" when it has none */
    const char *op;     /* op_type */
    const char *weight; /* its largest constant input */
    char shape[96];     /* that weight's shape, "[300,784]" */
    enum nnp_dtype dtype;
    int64_t params;   /* elements of every constant this node is first to read */
    int64_t nonzeros; /* of those, the nonzero ones (-1 if not numeric) */
    uint64_t bytes;   /* their storage bytes */
};

struct nnp_op_count {
    const char *op; /* "Conv", or "domain:Op" outside ai.onnx */
    int count;
};

struct nnp_summary {
    int64_t params;        /* elements of all constants (nnp_value_data()), each once */
    int64_t nonzeros;      /* nonzero elements among them */
    uint64_t weight_bytes; /* their storage bytes */
    double bits_per_weight; /* 8 * weight_bytes / params */
    int n_nodes;
    int n_layers;
    struct nnp_layer *layers; /* (n_layers), malloc'd */
    int n_ops;
    struct nnp_op_count *ops; /* (n_ops) op histogram, most frequent first, then by name */
};

/*! Fill `s` from the graph (which must outlive s: names point into it, and be linked,
 *  see nnp_value_data()). */
void nnp_summary_init(struct nnp_summary *s, const struct nnp_graph *g);
/*! Frees what nnp_summary_init allocated; accepts NULL. */
void nnp_summary_free(struct nnp_summary *s);

/* Sizes of a model file as written. */
struct nnp_sizes {
    uint64_t onnx_bytes;      /* the .onnx file */
    uint64_t zstd_bytes;      /* that file compressed by zstd at level 3 (its default) */
    uint64_t container_bytes; /* the .nnp container, 0 if none was written */
};

/* Latency as measured by the runtime (filled from roadmap step 2 on). */
struct nnp_latency {
    int measured; /* 0: the fields below are not set */
    int batch, threads, runs;
    double min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, max_ms, cv;
    double throughput; /* samples per second */
    uint64_t peak_bytes;
};

/* Accuracy as measured by the runtime on --data (roadmap step 2 on). */
struct nnp_accuracy {
    int measured;
    int64_t samples;
    double top1, top5;          /* fractions, top5 < 0 when not applicable */
    double agreement;           /* argmax agreement with the original model */
    double max_abs_error, cosine, sqnr_db;
};

/* One model's side of a report: what it is and what it measured. */
struct nnp_model_report {
    const char *path;
    struct nnp_sizes sizes;
    struct nnp_summary summary;
    struct nnp_latency latency;
    struct nnp_accuracy accuracy;
};

#define NNP_REPORT_MAX_STATS 16

/* A node a pass left in float32, and why ("kept_float" in the pass's record). */
struct nnp_kept_float {
    char *node, *op, *reason; /* malloc'd copies, freed with the record */
};

/* What one pass did: timing plus named counters. */
struct nnp_pass_record {
    const char *name;
    char options[256]; /* the options as canonical text: "sparsity=0.9,granularity=element" */
    double seconds;
    int n_stats;
    struct {
        const char *key; /* e.g. "batchnorm_folded" */
        double value;
    } stats[NNP_REPORT_MAX_STATS];
    int n_kept;
    struct nnp_kept_float *kept; /* (n_kept) malloc'd, owned by the pipeline */
};

/* The whole report of one `nnpress compress` run. */
struct nnp_report {
    const char *command;  /* "compress", "fold", ... */
    const char *pipeline; /* as given */
    uint64_t seed;
    int threads;
    struct nnp_model_report before, after;
    int n_passes;
    const struct nnp_pass_record *passes; /* (n_passes) */
};

#endif
