/* kernels/ops/quant.h — the arithmetic of the quantized operators (op_quant.c,
 * op_gemm.c's MatMulInteger and QLinearMatMul, op_conv.c's ConvInteger and
 * QLinearConv), written once so that each rounds the same way.
 *
 *     // QuantizeLinear of one float, int8, zero point 3
 *     int8_t q = (int8_t)nnp_q_quantize(x / scale, 3, -128, 127);
 *     // requantize a product's int32 sum into uint8: multiplier a_s * b_s / y_s
 *     uint8_t y = (uint8_t)nnp_q_quantize((float)acc * mul, zp, 0, 255);
 *
 * What ONNX says and ONNX Runtime does, in float32 throughout: y = saturate(
 * round(v) + zero_point), round to nearest with ties to even (the FPU's mode,
 * nearbyintf). Clamping v to [lo - zp, hi - zp] before rounding gives the same
 * integers (the bounds are integers) and keeps inf and huge values out of the
 * conversion; NaN goes to lo, as ONNX Runtime's max-then-min does.
 */
#ifndef NNP_QUANT_H
#define NNP_QUANT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/dtype.h"
#include "kernels/ops/act.h"

/* The integer types a quantized tensor may have here: uint8 and int8 (int32 for
 * DequantizeLinear's input and the integer products' outputs). */
static inline bool nnp_q_8bit(enum nnp_dtype t)
{
    return t == NNP_DTYPE_U8 || t == NNP_DTYPE_I8;
}

static inline int32_t nnp_q_lo(enum nnp_dtype t)
{
    return t == NNP_DTYPE_I8 ? -128 : t == NNP_DTYPE_U8 ? 0 : INT32_MIN;
}

static inline int32_t nnp_q_hi(enum nnp_dtype t)
{
    return t == NNP_DTYPE_I8 ? 127 : t == NNP_DTYPE_U8 ? 255 : INT32_MAX;
}

/* element i of an uint8, int8 or int32 tensor */
static inline int32_t nnp_q_get(enum nnp_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case NNP_DTYPE_U8: return ((const uint8_t *)p)[i];
    case NNP_DTYPE_I8: return ((const int8_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

/* store v, already in the type's range */
static inline void nnp_q_put(enum nnp_dtype t, void *p, int64_t i, int32_t v)
{
    switch (t) {
    case NNP_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case NNP_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    default: ((int32_t *)p)[i] = v; break;
    }
}

/* saturate(round(v) + zp) into [lo, hi] (8-bit ranges: the float bounds are exact) */
static inline int32_t nnp_q_quantize(float v, int32_t zp, int32_t lo, int32_t hi)
{
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    if (!(v >= flo)) /* NaN too */
        v = flo;
    if (v > fhi)
        v = fhi;
    return (int32_t)nearbyintf(v) + zp;
}

/* The output range [*lo, *hi] of an integer kernel whose result went through `act`
 * (Relu or Clip) and then QuantizeLinear(y_scale, zp): Q is monotone, so
 * Q(act(v)) = clamp(Q(v), Q(act's low end), Q(its high end)) for every v. */
static inline void nnp_q_act_bounds(const struct nnp_act *act, float y_scale, int32_t zp,
                                    int32_t *lo, int32_t *hi)
{
    if (act->kind == NNP_ACT_RELU && *lo < zp)
        *lo = zp;
    if (act->kind == NNP_ACT_CLIP) {
        int32_t a = nnp_q_quantize(act->alpha / y_scale, zp, *lo, *hi);
        int32_t b = nnp_q_quantize(act->beta / y_scale, zp, *lo, *hi);
        *lo = a > *lo ? a : *lo;
        *hi = b < *hi ? b : *hi;
    }
}

#endif
