/* kernels/ops/op_quant.c — QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear:
 * float32 to and from uint8 / int8 (int32 too for DequantizeLinear).
 *
 *   QuantizeLinear        y = saturate(round(x / scale) + zero_point)
 *   DequantizeLinear      y = (x - zero_point) * scale
 *   DynamicQuantizeLinear uint8 with scale and zero point from the input's own range,
 *                         widened to hold 0: scale = (max - min) / 255,
 *                         zero_point = saturate(round(-min / scale))
 *
 * in float32, rounding ties to even (kernels/ops/quant.h), as ONNX Runtime computes
 * them. Scale and zero point are one value (per tensor) or one per index of `axis`
 * (per axis, default axis 1); they may be inputs computed at run time. Blocked
 * quantization (opset 21's block_size) and the float8 / 4-bit types are refused.
 * The integer products (MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv)
 * live with their float families in op_gemm.c and op_conv.c.
 */
#include <inttypes.h>
#include <math.h>

#include "kernels/ops/op.h"
#include "kernels/ops/quant.h"
#include "kernels/ops/window.h"
#include "kernels/simd/qrow.h"

/* The parameters of a per-tensor or per-axis (de)quantization of x. */
struct q_axis {
    int64_t outer, count, inner; /* x as (outer, count, inner); count 1: per tensor */
    enum nnp_dtype q;            /* the integer side's type */
    enum nnp_isa isa;            /* of the rows (kernels/simd/qrow.c) */
};

/* Check scale (float32) and the optional zero point against x, read `axis` and
 * `block_size`, and lay x out as (outer, count, inner). */
static enum nnp_status q_axis_prepare(struct nnp_exec_node *n, const struct nnp_rt_value *x,
                                      const struct nnp_rt_value *scale,
                                      const struct nnp_rt_value *zp, struct q_axis *s)
{
    const char *op = n->node->op_type;
    NNP_OP_CHECK(n, scale->dtype == NNP_DTYPE_F32, "%s's scale is %s, expected float32", op,
                 nnp_dtype_name(scale->dtype));
    if (nnp_node_attr_int(n->node, "block_size", 0) != 0)
        return nnp_op_unsupported(n, "%s with block_size (blocked quantization) is not "
                                  "supported", op);
    if (zp) {
        char a[96], b[96];
        NNP_OP_CHECK(n, zp->rank == scale->rank && zp->numel == scale->numel,
                     "%s's zero point has shape %s, its scale %s: they must match", op,
                     nnp_rt_shape_str(zp, a, sizeof a), nnp_rt_shape_str(scale, b, sizeof b));
    }
    s->outer = 1;
    s->count = 1;
    s->inner = x->numel;
    s->isa = nnp_isa_best();
    if (scale->rank == 0 || (scale->rank == 1 && scale->numel == 1 && x->rank == 0))
        return NNP_OK;
    NNP_OP_CHECK(n, scale->rank == 1, "%s's scale is %d-D: expected a scalar or 1-D (per axis)",
                 op, scale->rank);
    int64_t axis = nnp_node_attr_int(n->node, "axis", 1);
    NNP_OP_CHECK(n, axis >= -x->rank && axis < x->rank,
                 "axis %" PRId64 " is outside the input's %d axes", axis, x->rank);
    if (axis < 0)
        axis += x->rank;
    if (scale->numel == 1 && x->dims[axis] != 1) /* [1]: per tensor, as ONNX Runtime takes it */
        return NNP_OK;
    NNP_OP_CHECK(n, scale->dims[0] == x->dims[axis],
                 "%s's scale has %" PRId64 " values, axis %" PRId64 " of the input %" PRId64, op,
                 scale->dims[0], axis, x->dims[axis]);
    s->outer = nnp_window_prod(x->dims, (int)axis);
    s->count = x->dims[axis];
    s->inner = nnp_window_prod(x->dims + axis + 1, x->rank - (int)axis - 1);
    return NNP_OK;
}

/* ---------------------------------------------------------- QuantizeLinear */

static enum nnp_status quantize_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *x = n->in[0], *scale = n->in[1];
    const struct nnp_rt_value *zp = n->n_in > 2 ? n->in[2] : NULL;
    if (x->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "QuantizeLinear of %s: only float32 inputs are supported",
                                  nnp_dtype_name(x->dtype));
    struct q_axis *s = nnp_arena_alloc(arena, sizeof *s);
    enum nnp_status st = q_axis_prepare(n, x, scale, zp, s);
    if (st)
        return st;
    /* the output type is the zero point's; without one uint8, or opset 21's output_dtype */
    int64_t want = nnp_node_attr_int(n->node, "output_dtype", 0);
    s->q = zp ? zp->dtype : want == 3 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
    if (!zp && want != 0 && want != 2 && want != 3)
        return nnp_op_unsupported(n, "QuantizeLinear to output_dtype %" PRId64 ": only uint8 "
                                  "(2) and int8 (3) are supported", want);
    if (!nnp_q_8bit(s->q))
        return nnp_op_unsupported(n, "QuantizeLinear to %s: only uint8 and int8 are supported",
                                  nnp_dtype_name(s->q));
    NNP_OP_CHECK(n, !zp || want == 0 || want == (s->q == NNP_DTYPE_I8 ? 3 : 2),
                 "output_dtype %" PRId64 " differs from the zero point's type %s", want,
                 nnp_dtype_name(s->q));
    n->state = s;
    return nnp_rt_set_shape(n->out[0], s->q, x->rank, x->dims);
}

static enum nnp_status quantize_forward(struct nnp_exec_node *n)
{
    const struct q_axis *s = n->state;
    const float *x = n->in[0]->data, *scale = n->in[1]->data;
    const struct nnp_rt_value *zpv = n->n_in > 2 ? n->in[2] : NULL;
    void *y = n->out[0]->data;
    for (int64_t o = 0, at = 0; o < s->outer; o++)
        for (int64_t c = 0; c < s->count; c++, at += s->inner)
            nnp_quantize_row(s->isa, x + at, s->inner, scale[c],
                             zpv ? nnp_q_get(s->q, zpv->data, c) : 0, s->q, (uint8_t *)y + at);
    return NNP_OK;
}

const struct nnp_op nnp_op_QuantizeLinear = {
    .name = "QuantizeLinear",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .prepare = quantize_prepare,
    .forward = quantize_forward,
};

/* -------------------------------------------------------- DequantizeLinear */

static enum nnp_status dequantize_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *x = n->in[0], *scale = n->in[1];
    const struct nnp_rt_value *zp = n->n_in > 2 ? n->in[2] : NULL;
    if (!nnp_q_8bit(x->dtype) && x->dtype != NNP_DTYPE_I32)
        return nnp_op_unsupported(n, "DequantizeLinear of %s: only uint8, int8 and int32 are "
                                  "supported", nnp_dtype_name(x->dtype));
    NNP_OP_CHECK(n, !zp || zp->dtype == x->dtype,
                 "DequantizeLinear's zero point is %s, its input %s: they must match",
                 nnp_dtype_name(zp ? zp->dtype : x->dtype), nnp_dtype_name(x->dtype));
    struct q_axis *s = nnp_arena_alloc(arena, sizeof *s);
    enum nnp_status st = q_axis_prepare(n, x, scale, zp, s);
    if (st)
        return st;
    s->q = x->dtype;
    n->state = s;
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, x->rank, x->dims);
}

static enum nnp_status dequantize_forward(struct nnp_exec_node *n)
{
    const struct q_axis *s = n->state;
    const void *x = n->in[0]->data;
    const float *scale = n->in[1]->data;
    const struct nnp_rt_value *zpv = n->n_in > 2 ? n->in[2] : NULL;
    float *y = n->out[0]->data;
    size_t size = nnp_dtype_size(s->q);
    for (int64_t o = 0, at = 0; o < s->outer; o++)
        for (int64_t c = 0; c < s->count; c++, at += s->inner)
            nnp_dequantize_row(s->isa, (const uint8_t *)x + (size_t)at * size, s->q, s->inner,
                               scale[c], zpv ? nnp_q_get(s->q, zpv->data, c) : 0, y + at);
    return NNP_OK;
}

const struct nnp_op nnp_op_DequantizeLinear = {
    .name = "DequantizeLinear",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .prepare = dequantize_prepare,
    .forward = dequantize_forward,
};

/* --------------------------------------------------- DynamicQuantizeLinear */

static enum nnp_status dynq_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    (void)arena;
    const struct nnp_rt_value *x = n->in[0];
    if (x->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "DynamicQuantizeLinear of %s: only float32 is supported",
                                  nnp_dtype_name(x->dtype));
    enum nnp_status st = nnp_rt_set_shape(n->out[0], NNP_DTYPE_U8, x->rank, x->dims);
    if (!st && n->out[1])
        st = nnp_rt_set_shape(n->out[1], NNP_DTYPE_F32, 0, NULL);
    if (!st && n->out[2])
        st = nnp_rt_set_shape(n->out[2], NNP_DTYPE_U8, 0, NULL);
    return st;
}

static enum nnp_status dynq_forward(struct nnp_exec_node *n)
{
    const float *x = n->in[0]->data;
    int64_t count = n->in[0]->numel;
    float lo = 0.0f, hi = 0.0f; /* the range always holds 0, which must quantize exactly */
    for (int64_t i = 0; i < count; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    int32_t zp = scale != 0.0f ? nnp_q_quantize(0.0f - lo / scale, 0, 0, 255) : 0;
    uint8_t *y = n->out[0]->data;
    for (int64_t i = 0; i < count; i++) /* scale 0: every x is 0 (0 / 0 quantizes to lo) */
        y[i] = (uint8_t)nnp_q_quantize(x[i] / scale, zp, 0, 255);
    if (n->out[1])
        *(float *)n->out[1]->data = scale;
    if (n->out[2])
        *(uint8_t *)n->out[2]->data = (uint8_t)zp;
    return NNP_OK;
}

const struct nnp_op nnp_op_DynamicQuantizeLinear = {
    .name = "DynamicQuantizeLinear",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 3,
    .prepare = dynq_prepare,
    .forward = dynq_forward,
};
