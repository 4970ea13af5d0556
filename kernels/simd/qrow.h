/* kernels/simd/qrow.h — rows of QuantizeLinear and DequantizeLinear: the element loops
 * of kernels/ops/op_quant.c, once per ISA.
 *
 *     // y[i] = saturate(round(x[i] / scale) + zp), uint8
 *     nnp_quantize_row(nnp_isa_best(), x, n, scale, zp, NNP_DTYPE_U8, y);
 *     // y[i] = (x[i] - zp) * scale
 *     nnp_dequantize_row(nnp_isa_best(), x, NNP_DTYPE_I8, n, scale, zp, y);
 *
 * Every version computes what kernels/ops/quant.h's nnp_q_quantize() does, in the
 * same float32 operations (an IEEE division, the clamp to [lo - zp, hi - zp] with NaN
 * going to the low end, rounding ties to even, the zero point added as an integer), so
 * they give the same bits; the scalar version is the reference the tests hold the
 * others to. A QDQ model runs these at every quantized activation.
 */
#ifndef NNP_QROW_H
#define NNP_QROW_H

#include <stdint.h>

#include "kernels/dtype.h"
#include "kernels/simd/gemv.h"

/*! nnp_quantize_row() : y[i] = saturate(round(x[i] / scale) + zp) for i < n, y of type
 *  `t` (uint8 or int8). */
void nnp_quantize_row(enum nnp_isa isa, const float *x, int64_t n, float scale, int32_t zp,
                      enum nnp_dtype t, void *y);
/*! nnp_dequantize_row() : y[i] = (float)(x[i] - zp) * scale for i < n, x of type `t`
 *  (uint8 or int8; int32 takes the scalar loop of op_quant.c). */
void nnp_dequantize_row(enum nnp_isa isa, const void *x, enum nnp_dtype t, int64_t n,
                        float scale, int32_t zp, float *y);

#endif
