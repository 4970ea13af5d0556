/* cmd/infer.h — what `run`, `bench` and `eval` share: the thread count,
 * fitting data files to a model's inputs, planning the runtime, and a progress
 * line on a terminal.
 *
 *     int threads;
 *     if ((rc = infer_threads(a, &threads))) return rc;        // usage error printed
 *     struct nnp_tensor shape;
 *     if (!nnp_shape_fit(&input->t, 3, (int64_t[]){10000, 28, 28}, false, &shape))
 *         ...                                                   // [10000,784] for an MLP
 *     struct nnp_runtime *rt;
 *     if ((rc = infer_plan(path, g, &opts, &rt))) return rc;   // "model.onnx: node ..."
 *
 *     struct progress p;
 *     progress_start(&p, a, "eval");                            // only on a terminal
 *     progress_show(&p, done, total);                           // throttled
 *     progress_end(&p);
 */
#ifndef NNP_CMD_INFER_H
#define NNP_CMD_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cli.h"
#include "kernels/runtime.h"

/*! --threads N, default all cores. @return 0 or 2 (printed). */
int infer_threads(const struct cli_args *a, int *threads);
/*! --scale and --shift for integer data. @return 0 or 2 (printed). */
int infer_scale(const struct cli_args *a, float *scale, float *shift);

/*! @return how many inputs a caller must feed: graph inputs without an initializer. */
int infer_n_feeds(const struct nnp_graph *g);
/*! @return the i-th of them (0 <= i < infer_n_feeds(g)). */
struct nnp_value *infer_feed(const struct nnp_graph *g, int i);
/*! "input, mask": the names of the feeds, for messages. @return buf. */
char *infer_feed_names(const struct nnp_graph *g, char *buf, size_t size);


/*! "[10000,28,28]" for a bare shape. @return buf. */
char *infer_shape_str(int rank, const int64_t *dims, char *buf, size_t size);
/*! "float32 [batch,1,28,28] (784 values per sample)": what a model input expects. @return buf. */
char *infer_expects(const struct nnp_tensor *t, char *buf, size_t size);

/* The options of a command that makes its own inputs (bench), read by
 * infer_input_shapes(); both may be given more than once. */
// clang-format off
#define INFER_SHAPE_OPTS                                                                           \
    {"shape", 0, "NAME=DIMS",                                                                      \
     "run input NAME with shape DIMS, such as 1x3x640x640 (DIMS alone: the only input)", true},    \
    {"dim", 0, "NAME=VALUE",                                                                       \
     "bind the symbolic dimension NAME (as the model calls it) to VALUE", true}
// clang-format on

/*! infer_input_shapes() : the shape of every graph input a caller feeds, into shapes[i]
 *  (one per g->inputs[i]; rank -1 for inputs that are initializers): --shape NAME=DIMS
 *  when given, else the model's shape with each symbolic dimension bound by --dim, and a
 *  first dimension still unbound set to `batch`. `batch_given`: --batch was on the command
 *  line, so a model whose first dimension is fixed to another value is refused. Any other
 *  dimension left unknown is a usage error naming the input and the dimension.
 *  @return 0 or 2 (printed). */
int infer_input_shapes(const struct cli_args *a, const struct nnp_graph *g, int64_t batch,
                       bool batch_given, struct nnp_tensor *shapes);
/*! "conv2+add1+relu2": the i-th node the plan fused and those it took in. @return buf. */
char *infer_fused_item(const struct nnp_runtime *rt, int i, char *buf, size_t size);
/*! "conv1+relu1, conv2+add1+relu2": every one, or "" when none. @return buf. */
char *infer_fused_list(const struct nnp_runtime *rt, char *buf, size_t size);

/*! "x [1,3,224,224]" for every input the runtime planned, comma-separated. @return buf. */
char *infer_planned_inputs(struct nnp_runtime *rt, char *buf, size_t size);

/*! nnp_runtime_new() with the model's path in front of any error, which is
 *  printed. @return 0 or the exit code. */
int infer_plan(const char *path, const struct nnp_graph *g, const struct nnp_runtime_opts *o,
               struct nnp_runtime **rt);
/*! nnp_runtime_run() likewise. */
int infer_run(const char *path, struct nnp_runtime *rt);
/*! @return the runtime's input called `name`, or NULL. */
struct nnp_rt_value *infer_rt_input(struct nnp_runtime *rt, const char *name);

/* A one-line progress report on standard error, only when it is a terminal and
 * --quiet was not given, redrawn at most a few times a second. */
struct progress {
    bool on;
    const char *what; /* "eval" */
    double last;      /* cli_now() of the last redraw */
};
void progress_start(struct progress *p, const struct cli_args *a, const char *what);
void progress_show(struct progress *p, int64_t done, int64_t total);
/*! Erase the line. */
void progress_end(struct progress *p);

#endif
