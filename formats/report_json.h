/* formats/report_json.h — the report and `inspect --json` as JSON (jansson).
 *
 *     char *text = nnp_report_json(&report);     // malloc'd, caller frees
 *     nnp_file_write_atomic("report.json", text, strlen(text));
 *
 *     struct nnp_report_figures f;
 *     nnp_report_read("report.json", &f);        // for `nnpress check` and tests
 *
 * The schema is documented in man/nnpress-report.5; "schema" in the document
 * is bumped when a field changes meaning.
 */
#ifndef NNP_FORMATS_REPORT_JSON_H
#define NNP_FORMATS_REPORT_JSON_H

#include "kernels/graph.h"
#include "kernels/report.h"

#define NNP_REPORT_SCHEMA 1

/*! @return the report of a compress run as pretty-printed JSON, malloc'd (NULL on OOM). */
char *nnp_report_json(const struct nnp_report *r);

/*! @return `nnpress inspect --json` for graph g (m: its sizes and summary), malloc'd. */
char *nnp_inspect_json(const struct nnp_graph *g, const struct nnp_model_report *m);

/* What `inspect` says of a data file. */
struct nnp_data_stats {
    const char *path;
    const char *format; /* "npy", "idx", "idx.gz", "pb" */
    int64_t samples;
    int rank; /* of one sample */
    int64_t dims[NNP_MAX_RANK];
    enum nnp_dtype dtype;    /* as stored */
    double scale, shift;     /* integer data became x * scale + shift */
    double min, max, mean;   /* of the float32 values */
};

/*! @return `nnpress inspect --json DATA` as JSON, malloc'd (NULL on OOM). */
char *nnp_data_json(const struct nnp_data_stats *s);

/* One input as a run was planned: what `bench` fed the model. */
struct nnp_input_shape {
    const char *name;
    enum nnp_dtype dtype;
    int rank;
    int64_t dims[NNP_MAX_RANK];
};

/* What `nnpress bench` measured: latency (kernels/report.h) and the runtime's memory plan. */
struct nnp_bench_stats {
    const char *path;   /* the model */
    const char *blas;   /* the OpenBLAS core in use ("SkylakeX") */
    const char *int8;   /* the integer kernels' ISA ("amx", "avx512vnni": qgemm.h) */
    uint64_t seed;      /* of the random inputs */
    double warmup_s;    /* asked for */
    double duration_s;  /* asked for */
    double timed_s;     /* spent in the timed runs */
    struct nnp_latency latency;
    uint64_t arena_bytes;      /* activations after buffer reuse */
    uint64_t naive_bytes;      /* activations with one buffer each */
    uint64_t scratch_bytes;    /* the largest scratch a kernel asked for */
    uint64_t const_bytes;      /* weights and plan-time constants */
    uint64_t peak_bytes;       /* arena + scratch + const */
    uint64_t naive_peak_bytes; /* naive + scratch + const */
    int n_inputs;
    const struct nnp_input_shape *inputs; /* (n_inputs) the shapes the model ran with */
    double flops; /* one run's work in the matrix operators (nnp_runtime_memory) */
    int n_fused;
    const char *const *fused; /* (n_fused) "conv1+relu1": a node and those fused into it */
};

/*! @return `nnpress bench --json` as JSON, malloc'd (NULL on OOM). */
char *nnp_bench_json(const struct nnp_bench_stats *b);

/* One output of `nnpress eval --reference`, compared with the reference's. */
struct nnp_output_compare {
    const char *name;
    int64_t samples, agree; /* argmax agreement: agree of samples */
    double max_abs_error;
    double max_rel_error; /* max_abs_error / the largest |reference output| */
    double cosine;
    double sqnr_db;       /* +inf (JSON null) when identical */
};

/* What `nnpress eval` measured. */
struct nnp_eval_stats {
    const char *path;      /* the model */
    const char *data;      /* --data */
    const char *labels;    /* --labels, or NULL */
    const char *reference; /* --reference, or NULL */
    int batch, threads;
    int64_t top1_correct, top5_correct; /* -1 when not measured */
    struct nnp_accuracy accuracy;       /* agreement etc.: of the first output */
    int n_outputs;
    const struct nnp_output_compare *outputs; /* (n_outputs), with --reference */
};

/*! @return `nnpress eval --json` as JSON, malloc'd (NULL on OOM). */
char *nnp_eval_json(const struct nnp_eval_stats *e);

/* One node of `nnpress sensitivity`: the model with only it quantized. */
struct nnp_sens_row {
    const char *name;    /* the node */
    const char *op_type;
    double sqnr_db;      /* the first output against the float model's (+inf: JSON null) */
    int64_t correct;     /* top-1 right answers, -1 without labels */
};

/* What `nnpress sensitivity` measured. */
struct nnp_sens_stats {
    const char *path;         /* the model */
    const char *quantize;     /* the pass with the options given: "quantize(mode=dynamic)" */
    const char *calib_data;   /* --data */
    int64_t calib_samples;    /* calibrated on (0: the mode does not calibrate) */
    const char *data;         /* measured on: --eval-data, or --data */
    const char *labels;       /* their labels, or NULL */
    int64_t samples;          /* measured on */
    int64_t float_correct;    /* -1 without labels */
    double all_sqnr_db;       /* every node quantized */
    int64_t all_correct;
    int n_rows;
    const struct nnp_sens_row *rows; /* (n_rows) ranked, most sensitive first */
};

/*! @return `nnpress sensitivity --json` as JSON, malloc'd (NULL on OOM). */
char *nnp_sensitivity_json(const struct nnp_sens_stats *s);

/* The figures a gate compares, read back from a report. */
struct nnp_report_side {
    uint64_t onnx_bytes, zstd_bytes;
    int64_t params, nonzeros;
    uint64_t weight_bytes;
    struct nnp_latency latency;
    struct nnp_accuracy accuracy;
};

struct nnp_report_figures {
    int schema;
    struct nnp_report_side before, after;
};

/*! nnp_report_read() : read a report written by nnp_report_json().
 *  @return NNP_OK, NNP_ERR_IO, or NNP_ERR_FORMAT naming the missing or mistyped field. */
enum nnp_status nnp_report_read(const char *path, struct nnp_report_figures *out);

#endif
