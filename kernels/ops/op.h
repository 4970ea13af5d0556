/* kernels/ops/op.h — the contract between the executor and an operator.
 *
 * An operator is one row in kernels/ops/ops.def and a `const struct nnp_op
 * nnp_op_<Name>` defined in the file that row names. It is run in two steps,
 * as cONNXr does:
 *
 *   prepare  once per plan: check the inputs' dtypes and shapes and the
 *            attributes, set each output's dtype and shape, parse attributes
 *            into `state`, pick a kernel by shape, and ask for scratch bytes.
 *            Errors name the node: "node conv1: Conv weight is 3-D, needs 4-D".
 *   forward  every run: compute only. No allocation, no attribute parsing.
 *
 *     static enum nnp_status relu_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
 *     {
 *         NNP_OP_CHECK(n, n->in[0]->dtype == NNP_DTYPE_F32, "Relu needs float32");
 *         nnp_rt_same_shape(n->out[0], n->in[0]);
 *         return NNP_OK;
 *     }
 *     static enum nnp_status relu_forward(struct nnp_exec_node *n) { ... }
 *     const struct nnp_op nnp_op_Relu = {"Relu", 1, 1, 1, 1, relu_prepare, relu_forward};
 *
 * `reference` is the naive kernel the fast one is tested against (NULL when
 * forward is the naive one); `backward` (roadmap step 5) accumulates input
 * gradients with += from output gradients, NULL for ops that are not trained.
 */
#ifndef NNP_OP_H
#define NNP_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ops/act.h"
#include "kernels/arena.h"
#include "kernels/graph.h"

/* A tensor as the runtime sees it: a static shape and one buffer. */
struct nnp_rt_value {
    const char *name;
    enum nnp_dtype dtype;
    int rank;
    int64_t dims[NNP_MAX_RANK];
    int64_t numel;
    size_t nbytes;
    void *data;    /* constant data, or a slot in the activation arena, set by the plan */
    bool is_const; /* known before any run: an initializer or computed from constants */
    bool is_input, is_output;
    bool elided; /* computed inside a fused node and never stored: no data */
    struct nnp_rt_value *grad; /* training: dLoss/dValue, same shape (roadmap step 5) */
    /* memory plan */
    int first_use, last_use;    /* node indices: produced at, last read at */
    struct nnp_rt_value *share; /* the value whose buffer this one uses (a view, or an
                                   operator run in place), NULL: its own */
    size_t offset;              /* in the activation arena */
};

/* What the planner folded into a node that runs in its place (runtime.c): the node
 * computes act(its own result * mul + add + residual) into out[0], which is then the
 * output of the last node fused. Only operators whose flags say so are given any. */
struct nnp_fusion {
    const float *mul, *add;              /* per output channel (dims[1]): a fused
                                            BatchNormalization's x * a + b; or NULL */
    struct nnp_act act;                  /* NNP_ACT_NONE: none */
    const struct nnp_rt_value *residual; /* a fused Add's other input, same shape; or NULL */
    int n_nodes;
    const struct nnp_node *nodes[3];     /* the IR nodes fused in, in graph order */
};

struct nnp_op;
struct nnp_pool;

/* One node of a plan. */
struct nnp_exec_node {
    const struct nnp_node *node; /* the IR node: name, attributes */
    const struct nnp_op *op;
    int n_in, n_out;
    struct nnp_rt_value **in;  /* (n_in); NULL = omitted optional input */
    struct nnp_rt_value **out; /* (n_out); NULL = omitted optional output */
    void *state;               /* what prepare parsed and chose, in the plan's arena */
    size_t scratch_bytes;      /* asked by prepare */
    size_t packed_bytes;       /* constant data prepare made in the plan's arena (packed
                                  weights), counted with the plan's constants */
    uint64_t work;             /* prepare's estimate of forward's steps (multiply-adds,
                                * window taps) where one per input and output element,
                                * the runtime's default, is far too few; 0 = default */
    void *scratch;             /* given by the plan before forward; shared between nodes */
    int threads;               /* the plan's thread count (prepare sizes scratch by it) */
    struct nnp_pool *pool;     /* the plan's threads, for nnp_parallel_for; NULL = serial */
    int64_t opset;             /* the model's ai.onnx opset, for behaviour that changed */
    double flops;              /* set by prepare of the matrix operators (Conv, Gemm, MatMul...):
                                  2 x the multiply-adds of one run, what GFLOP/s is taken of */
    struct nnp_fusion fusion;  /* set by the planner after prepare, for NNP_OP_FUSE_* ops */
};

/* What the planner may do with an operator (struct nnp_op flags). */
enum {
    NNP_OP_VIEW = 1 << 0,     /* output 0 is input 0's bytes (Reshape): it shares the buffer,
                                 and forward copies only when the buffers differ */
    NNP_OP_IN_PLACE = 1 << 1, /* output 0 may be written over an input of the same size that
                                 is not read after this node (elementwise ops) */
    NNP_OP_FUSE_ACT = 1 << 2, /* forward applies fusion.act to its output */
    NNP_OP_FUSE_ADD = 1 << 3, /* forward adds fusion.residual before the activation */
    NNP_OP_FUSE_AFFINE = 1 << 4, /* forward applies fusion.mul, add before both */
};

struct nnp_op {
    const char *name;
    int min_in, max_in, min_out, max_out;
    enum nnp_status (*prepare)(struct nnp_exec_node *n, struct nnp_arena *a);
    enum nnp_status (*forward)(struct nnp_exec_node *n);
    enum nnp_status (*reference)(struct nnp_exec_node *n);
    enum nnp_status (*backward)(struct nnp_exec_node *n);
    /* Input slots whose values prepare reads (a shape, axes, pads, scales: what decides
     * an output shape), a bit per slot. The planner needs them constant: a graph input
     * that reaches one, directly or through other nodes, is planned with the values the
     * caller gives (nnp_runtime_const_inputs()). */
    uint32_t const_inputs;
    unsigned flags; /* NNP_OP_VIEW, NNP_OP_IN_PLACE, NNP_OP_FUSE_ACT, NNP_OP_FUSE_ADD */
};

/* const_inputs: slot k */
#define NNP_SLOT(k) (UINT32_C(1) << (k))

/*! @return the operator called `op_type` in the ai.onnx domain, or NULL. */
const struct nnp_op *nnp_op_find(const char *op_type);
/*! @return every operator (ops.def order), NULL-terminated. */
const struct nnp_op *const *nnp_op_table(void);
/*! Names of ops.def rows whose definition is not linked in (should be none). @return count. */
int nnp_op_table_missing(const char **names, int max);

/* --- helpers for prepare functions --- */

/*! Record "node NAME: <message>" and return NNP_ERR_INVALID. */
enum nnp_status nnp_op_error(const struct nnp_exec_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*! Record "node NAME: <message>" and return NNP_ERR_UNSUPPORTED. */
enum nnp_status nnp_op_unsupported(const struct nnp_exec_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define NNP_OP_CHECK(n, cond, ...)                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return nnp_op_error((n), __VA_ARGS__);                                                 \
    } while (0)

/*! Set v's dtype and shape (numel and nbytes follow). @return NNP_OK or an error if too large. */
enum nnp_status nnp_rt_set_shape(struct nnp_rt_value *v, enum nnp_dtype dtype, int rank,
                                 const int64_t *dims);
/*! Give `out` the dtype and shape of `in`. */
enum nnp_status nnp_rt_same_shape(struct nnp_rt_value *out, const struct nnp_rt_value *in);
/*! NumPy broadcasting of a and b into dims/rank. @return NNP_OK or an error naming the node. */
enum nnp_status nnp_rt_broadcast(const struct nnp_exec_node *n, const struct nnp_rt_value *a,
                                 const struct nnp_rt_value *b, int *rank, int64_t *dims);
/*! Format a value's shape "[1,3,224,224]" into buf. @return buf. */
char *nnp_rt_shape_str(const struct nnp_rt_value *v, char *buf, size_t size);
/*! Read an integer tensor (int32/int64) element i as int64. */
int64_t nnp_rt_get_int(const struct nnp_rt_value *v, int64_t i);
/*! The product of `count` sizes >= 0, saturating at UINT64_MAX: forward's work as a
 *  prepare records it for the runtime's limit (nnp_runtime_opts.max_work) when its kernel
 *  does far more than one step per element, e.g. for MatMul
 *  `n->work = nnp_work_prod(4, (int64_t[]){batch, m, n, k});` */
uint64_t nnp_work_prod(int count, const int64_t *sizes);
/*! Read attribute `name` as a list of ints into out[max]. @return count, -1 if absent. */
int nnp_attr_ints(const struct nnp_node *node, const char *name, int64_t *out, int max);

/*! nnp_bn_affine() : the per-channel x * mul[c] + add[c] that the prepared
 *  BatchNormalization node bn computes (op_norm.c, the same arithmetic), made in the
 *  arena, for the planner to fold into the node before it. @return false when it is no
 *  such node or its statistics are not constants known at plan time (spatial = 0 too). */
bool nnp_bn_affine(const struct nnp_exec_node *bn, struct nnp_arena *a, const float **mul,
                   const float **add);

#endif
