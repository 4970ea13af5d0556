/* passes/pass.h — what a pass is, and how a pipeline of them runs.
 *
 *     struct nnp_pipeline *p;
 *     if (nnp_pipeline_parse("fold,prune(sparsity=0.9)", &p) != NNP_OK)
 *         puts(nnp_error_message());      // points at the offending text
 *     struct nnp_pass_ctx ctx = {.seed = 0, .threads = 2};
 *     nnp_pipeline_run(p, g, &ctx);       // ctx.records: timings and stats
 *     nnp_pipeline_free(p);
 *
 * A pass is one row in passes.def plus its own file defining
 * `const struct nnp_pass nnp_pass_<name>`: a name, a one-line help, an option
 * table and a run function. The option table drives pipeline parsing,
 * `nnpress passes`, `--help` of the pass's subcommand, and the man page check.
 */
#ifndef NNP_PASS_H
#define NNP_PASS_H

#include "kernels/graph.h"
#include "kernels/report.h"

enum nnp_opt_type {
    NNP_OPT_BOOL,   /* 0/1, true/false */
    NNP_OPT_INT,    /* range [min, max] */
    NNP_OPT_FLOAT,  /* range [min, max] */
    NNP_OPT_CHOICE, /* one of `choices`, '|'-separated */
    NNP_OPT_STRING,
};

struct nnp_pass_opt {
    const char *name;
    enum nnp_opt_type type;
    const char *def;     /* default, in the syntax a user would type */
    double min, max;     /* INT and FLOAT */
    const char *choices; /* CHOICE: "element|row|channel" */
    const char *help;
};

/* Parsed option values, in the order of the pass's option table. */
union nnp_opt_value {
    int64_t i; /* BOOL, INT, and CHOICE (index into choices) */
    double f;
    const char *s;
};

#define NNP_PASS_MAX_OPTS 16

/* Everything a pass may use beyond the graph. */
struct nnp_pass_ctx {
    uint64_t seed;
    int threads;
    int quiet;
    const char *data_path;   /* --data, NULL if none */
    const char *labels_path; /* --labels */
    float data_scale, data_shift;
    int n_records;
    struct nnp_pass_record *records; /* (n_records) one per pass run, owned by the pipeline */
};

struct nnp_pass {
    const char *name;
    const char *help; /* one line */
    int n_opts;
    const struct nnp_pass_opt *opts; /* (n_opts) */
    /* run() transforms g in place and may record stats in rec. It returns an
     * error status with a message, leaving g in a state that is freed, not written. */
    enum nnp_status (*run)(struct nnp_graph *g, const union nnp_opt_value *opt,
                           struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec);
};

/*! Add a counter to a pass record. */
void nnp_pass_stat(struct nnp_pass_record *rec, const char *key, double value);
/*! nnp_pass_keep() : record that candidate node n stays as it was, and why (copied), in
 *  the list the report writes as the pass's kept_float; rec NULL: nothing. @return
 *  NNP_OK or NNP_ERR_NOMEM. */
enum nnp_status nnp_pass_keep(struct nnp_pass_record *rec, const struct nnp_node *n,
                              const char *reason);

/*! nnp_pass_f32_const() : the dense float32 constant v holds (an initializer or a Constant
 *  node's value, nnp_value_constant()), or NULL: the weights fold and quantize rewrite. */
const struct nnp_tensor *nnp_pass_f32_const(const struct nnp_value *v);

/*! @return 1 when `name` is one of the '+'-separated items of `list` ("Conv+Gemm"): how
 *  options name operator types and nodes. */
bool nnp_pass_in_list(const char *list, const char *name);

/*! @return the registered passes (from passes.def), NULL-terminated. */
const struct nnp_pass *const *nnp_pass_registry(void);
/*! @return the pass called `name`, or NULL. */
const struct nnp_pass *nnp_pass_find(const char *name);

struct nnp_pipeline;

/*! nnp_pipeline_parse() : parse `text` ("fold,prune(sparsity=0.9)"); "" or "none" is
 *  the empty pipeline. @return NNP_OK, or NNP_ERR_USAGE with a message that quotes
 *  the text and the column of the problem. *out is freed with nnp_pipeline_free(). */
enum nnp_status nnp_pipeline_parse(const char *text, struct nnp_pipeline **out);
/*! nnp_pipeline_set() : set option `name` of step `step` from text, as if written in the
 *  pipeline (used by the pass subcommands: `nnpress prune --sparsity 0.9`). */
enum nnp_status nnp_pipeline_set(struct nnp_pipeline *p, int step, const char *name,
                                 const char *value);
/*! @return the parsed option values of step `step`, in the order of its pass's option
 *  table (valid until the pipeline is freed or set again). */
const union nnp_opt_value *nnp_pipeline_options(const struct nnp_pipeline *p, int step);
/*! @return the number of steps. */
int nnp_pipeline_length(const struct nnp_pipeline *p);
/*! nnp_pipeline_run() : run every step on g, in order; fills ctx->records. */
enum nnp_status nnp_pipeline_run(struct nnp_pipeline *p, struct nnp_graph *g,
                                 struct nnp_pass_ctx *ctx);
/*! Frees the pipeline; accepts NULL. */
void nnp_pipeline_free(struct nnp_pipeline *p);

/*! Format an option's default and range for help text ("0.5 (0..1)"). */
void nnp_pass_opt_describe(const struct nnp_pass_opt *o, char *buf, size_t size);

#endif
