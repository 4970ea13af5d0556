/* kernels/ops/op_reduce.c — ReduceMean, ReduceSum, ReduceMax over float32,
 * float64, int32 and int64.
 *
 * Axes: an attribute up to opset 17 (ReduceSum: up to opset 11), an optional
 * int64 input from ReduceSum-13 (and, for all three, opset 18). The input
 * must be a constant, because it decides the output shape. Empty or absent
 * axes reduce everything, unless noop_with_empty_axes = 1, which passes the
 * input through.
 *
 * The walk: size-1 axes are dropped and neighbouring axes that are both
 * reduced or both kept are merged, which turns the usual cases into one of
 *   last axis reduced    out[o] = reduce(row), contiguous rows
 *   last axis kept       out[o, :] op= x[..., :], a vector update
 * and the input is read once, in address order, in either case.
 * Integer means divide with truncation toward zero, as C (and ONNX Runtime) do.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kernels/ops/op.h"

enum reduce_kind { RED_SUM, RED_MEAN, RED_MAX };

struct reduce_state {
    enum reduce_kind kind;
    bool noop;                     /* copy: empty axes with noop_with_empty_axes */
    int rank;                      /* merged rank (>= 1) */
    int64_t dims[NNP_MAX_RANK];    /* merged input dims */
    bool reduced[NNP_MAX_RANK];    /* merged axis is reduced */
    int64_t ostride[NNP_MAX_RANK]; /* output element stride per merged axis, 0 if reduced */
    int64_t count;                 /* input elements per output element (the mean's divisor) */
    enum nnp_dtype dtype;
};

static enum nnp_status reduce_prepare(struct nnp_exec_node *n, struct nnp_arena *arena,
                                      enum reduce_kind kind)
{
    const struct nnp_rt_value *x = n->in[0];
    const struct nnp_rt_value *axes_in = n->n_in > 1 ? n->in[1] : NULL;
    if (x->dtype != NNP_DTYPE_F32 && x->dtype != NNP_DTYPE_F64 && x->dtype != NNP_DTYPE_I32 &&
        x->dtype != NNP_DTYPE_I64)
        return nnp_op_unsupported(n, "input is %s; supported: float32, float64, int32, int64",
                                  nnp_dtype_name(x->dtype));
    int r = x->rank;
    struct reduce_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->kind = kind;
    s->dtype = x->dtype;

    int64_t axes[NNP_MAX_RANK];
    int n_axes;
    const struct nnp_attr *attr = nnp_node_attr(n->node, "axes");
    if (axes_in) {
        NNP_OP_CHECK(n, !attr, "axes is given both as an attribute and as an input");
        if (axes_in->dtype != NNP_DTYPE_I64 && axes_in->dtype != NNP_DTYPE_I32)
            return nnp_op_error(n, "axes input is %s, expected int64",
                                nnp_dtype_name(axes_in->dtype));
        if (!axes_in->is_const || (!axes_in->data && axes_in->numel))
            return nnp_op_unsupported(n,
                                      "axes input '%s' must be a constant (it decides the "
                                      "output shape)",
                                      axes_in->name);
        NNP_OP_CHECK(n, axes_in->rank <= 1, "axes input is %d-D, expected 1-D", axes_in->rank);
        NNP_OP_CHECK(n, axes_in->numel <= r, "axes has %" PRId64 " values for a %d-D input",
                     axes_in->numel, r);
        n_axes = (int)axes_in->numel;
        for (int i = 0; i < n_axes; i++)
            axes[i] = nnp_rt_get_int(axes_in, i);
    } else if (attr) {
        NNP_OP_CHECK(n, attr->type == NNP_ATTR_INTS, "attribute axes must be a list of ints");
        NNP_OP_CHECK(n, attr->n <= r, "axes has %" PRId64 " values for a %d-D input", attr->n, r);
        n_axes = (int)attr->n;
        for (int i = 0; i < n_axes; i++)
            axes[i] = attr->ints[i];
    } else {
        n_axes = 0;
    }
    int64_t keepdims = nnp_node_attr_int(n->node, "keepdims", 1);
    int64_t noop = nnp_node_attr_int(n->node, "noop_with_empty_axes", 0);
    NNP_OP_CHECK(n, keepdims == 0 || keepdims == 1, "keepdims is %" PRId64 ", expected 0 or 1",
                 keepdims);
    NNP_OP_CHECK(n, noop == 0 || noop == 1, "noop_with_empty_axes is %" PRId64 ", expected 0 or 1",
                 noop);

    bool red[NNP_MAX_RANK] = {false};
    for (int i = 0; i < n_axes; i++) {
        int64_t a = axes[i];
        NNP_OP_CHECK(n, a >= -r && a < r,
                     "axes[%d] is %" PRId64 ", expected -%d..%d for a %d-D input", i, a, r, r - 1,
                     r);
        if (a < 0)
            a += r;
        NNP_OP_CHECK(n, !red[a], "axis %" PRId64 " appears twice in axes", a);
        red[a] = true;
    }
    if (n_axes == 0) {
        if (noop) {
            s->noop = true;
            n->state = s;
            return nnp_rt_same_shape(n->out[0], x);
        }
        for (int i = 0; i < r; i++)
            red[i] = true;
    }

    int64_t od[NNP_MAX_RANK];
    int orank = 0;
    s->count = 1;
    for (int i = 0; i < r; i++) {
        if (red[i])
            s->count *= x->dims[i];
        if (!red[i])
            od[orank++] = x->dims[i];
        else if (keepdims)
            od[orank++] = 1;
    }

    /* merge: drop size-1 axes, join neighbours of the same kind */
    s->rank = 0;
    for (int i = 0; i < r; i++) {
        if (x->dims[i] == 1)
            continue;
        if (s->rank > 0 && s->reduced[s->rank - 1] == red[i]) {
            s->dims[s->rank - 1] *= x->dims[i];
        } else {
            s->dims[s->rank] = x->dims[i];
            s->reduced[s->rank] = red[i];
            s->rank++;
        }
    }
    if (s->rank == 0) { /* every axis has size 1 (or a scalar): one element */
        s->dims[0] = 1;
        s->reduced[0] = true;
        s->rank = 1;
    }
    if (x->numel == 0) {
        /* nothing to read: every output is the reduction of nothing. The walk must not
         * count rows either, whose number the other dims decide ([2^40,16,0] reduced
         * over axis 0 is 2^44 empty rows) */
        s->dims[0] = 0;
        s->reduced[0] = false;
        s->rank = 1;
    }
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        s->ostride[i] = s->reduced[i] ? 0 : st;
        if (!s->reduced[i])
            st *= s->dims[i];
    }
    n->state = s;
    return nnp_rt_set_shape(n->out[0], x->dtype, orank, od);
}

/* One version per element type. ACC accumulates a contiguous row (double for
 * floats: a long row summed in float drifts). */
#define DEFINE_REDUCE(SUF, T, ACC, LOWEST, EMPTY)                                                  \
    static void reduce_##SUF(const struct reduce_state *s, const T *x, T *y, int64_t n_out)        \
    {                                                                                              \
        bool max = s->kind == RED_MAX;                                                             \
        for (int64_t i = 0; i < n_out; i++)                                                        \
            y[i] = max ? LOWEST : (T)0;                                                            \
        int last = s->rank - 1;                                                                    \
        int64_t len = s->dims[last];                                                               \
        int64_t rows = 1;                                                                          \
        for (int i = 0; i < last; i++)                                                             \
            rows *= s->dims[i];                                                                    \
        int64_t idx[NNP_MAX_RANK] = {0}, off = 0;                                                  \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *xr = x + r * len;                                                             \
            if (s->reduced[last]) {                                                                \
                if (max) {                                                                         \
                    T m = y[off];                                                                  \
                    for (int64_t j = 0; j < len; j++)                                              \
                        m = xr[j] > m ? xr[j] : m;                                                 \
                    y[off] = m;                                                                    \
                } else {                                                                           \
                    ACC acc = 0;                                                                   \
                    for (int64_t j = 0; j < len; j++)                                              \
                        acc += xr[j];                                                              \
                    y[off] = (T)(y[off] + acc);                                                    \
                }                                                                                  \
            } else {                                                                               \
                T *yr = y + off;                                                                   \
                if (max)                                                                           \
                    for (int64_t j = 0; j < len; j++)                                              \
                        yr[j] = xr[j] > yr[j] ? xr[j] : yr[j];                                     \
                else                                                                               \
                    for (int64_t j = 0; j < len; j++)                                              \
                        yr[j] += xr[j];                                                            \
            }                                                                                      \
            for (int i = last - 1; i >= 0; i--) { /* odometer over the outer axes */               \
                off += s->ostride[i];                                                              \
                if (++idx[i] < s->dims[i])                                                         \
                    break;                                                                         \
                off -= s->ostride[i] * s->dims[i];                                                 \
                idx[i] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
        if (s->kind == RED_MEAN) {                                                                 \
            for (int64_t i = 0; i < n_out; i++)                                                    \
                y[i] = s->count ? (T)(y[i] / (T)s->count) : (EMPTY);                               \
        }                                                                                          \
    }

/* the mean of nothing: NaN for floats, 0 for integers */
DEFINE_REDUCE(f32, float, double, -INFINITY, NAN)
DEFINE_REDUCE(f64, double, double, -INFINITY, NAN)
DEFINE_REDUCE(i32, int32_t, int64_t, INT32_MIN, 0)
DEFINE_REDUCE(i64, int64_t, int64_t, INT64_MIN, 0)

static enum nnp_status reduce_forward(struct nnp_exec_node *n)
{
    const struct reduce_state *s = n->state;
    const void *x = n->in[0]->data;
    void *y = n->out[0]->data;
    int64_t n_out = n->out[0]->numel;
    if (s->noop) {
        if (n->out[0]->nbytes)
            memmove(y, x, n->out[0]->nbytes);
        return NNP_OK;
    }
    switch (s->dtype) {
    case NNP_DTYPE_F64: reduce_f64(s, x, y, n_out); break;
    case NNP_DTYPE_I32: reduce_i32(s, x, y, n_out); break;
    case NNP_DTYPE_I64: reduce_i64(s, x, y, n_out); break;
    default: reduce_f32(s, x, y, n_out); break;
    }
    return NNP_OK;
}

static enum nnp_status reducemean_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return reduce_prepare(n, a, RED_MEAN);
}
static enum nnp_status reducesum_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return reduce_prepare(n, a, RED_SUM);
}
static enum nnp_status reducemax_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return reduce_prepare(n, a, RED_MAX);
}

const struct nnp_op nnp_op_ReduceMean = {
    .name = "ReduceMean",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = reducemean_prepare,
    .forward = reduce_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1), /* axes */
};

const struct nnp_op nnp_op_ReduceSum = {
    .name = "ReduceSum",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = reducesum_prepare,
    .forward = reduce_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1), /* axes */
};

const struct nnp_op nnp_op_ReduceMax = {
    .name = "ReduceMax",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = reducemax_prepare,
    .forward = reduce_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1), /* axes */
};
