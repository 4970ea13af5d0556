/* kernels/simd/vmath.h — vectorised float32 exp, erf and the row kernels built on
 * them (Softmax rows, LayerNormalization rows), for the fast forward kernels of
 * op_unary.c and op_norm.c. Their reference kernels keep libm.
 *
 *     float y[n];
 *     nnp_vexp(n, y, x);                 // y[i] = exp(x[i]), <= 2 ulp
 *     nnp_vsoftmax_rows(rows, len, y, x); // each row of len: exp(x - max) / sum
 *
 * Each function is one body written with GCC vector types (16 floats), built
 * three times: AVX-512, AVX2 (both with FMA) and baseline SSE2, picked by the
 * CPU at each call. The ISAs may differ in the last bit (FMA); on one machine
 * an element's result does not depend on its place in a row, and the scalar
 * nnp_expf_v / nnp_erff_v run the same code on a one-element block.
 *
 * Accuracy (tests/unit/test_ops_tensor.c sweeps it against double libm):
 *   exp: <= 2 ulp for normal results (x in [-87.3, 88.7]); +inf above 88.72,
 *        0 below -103.9, subnormal results within 1 ulp of the subnormal step.
 *   erf: <= 2 ulp everywhere (|erf| is 1 from |x| >= 3.92), NaN passes.
 */
#ifndef NNP_VMATH_H
#define NNP_VMATH_H

#include <stdint.h>

/*! y[i] = exp(x[i]) for i < n. y may equal x. */
void nnp_vexp(int64_t n, float *y, const float *x);
/*! y[i] = erf(x[i]) for i < n. y may equal x. */
void nnp_verf(int64_t n, float *y, const float *x);
/*! y[i] = 0.5 x (1 + erf(x / sqrt 2)) (Gelu, approximate = none). y may equal x. */
void nnp_vgelu(int64_t n, float *y, const float *x);
/*! y[i] = 1 / (1 + exp(-x[i])). y may equal x. */
void nnp_vsigmoid(int64_t n, float *y, const float *x);
/*! Softmax of each of `rows` contiguous rows of `len`: y = exp(x - max) / sum.
 *  The sum is in float (tree of 16 lanes); NaN elements do not count for the
 *  max (as in the reference) but make their row NaN through exp. y may equal x. */
void nnp_vsoftmax_rows(int64_t rows, int64_t len, float *y, const float *x);
/*! LayerNormalization of `rows` contiguous rows of n: the mean summed in 16
 *  double lanes, the variance around it in 16 float lanes (each partial sum
 *  n/16 terms long); y = (x - mean) * istd * scale + bias (bias may be NULL);
 *  mean_out / istd_out (rows) may be NULL. */
void nnp_vlayernorm_rows(int64_t rows, int64_t n, float *y, const float *x, const float *scale,
                         const float *bias, float epsilon, float *mean_out, float *istd_out);

/*! The scalar forms: the same code as the vector lanes. */
float nnp_expf_v(float x);
float nnp_erff_v(float x);

enum { NNP_VMATH_BASE, NNP_VMATH_AVX2, NNP_VMATH_AVX512 };
/*! For tests: use no build above `level` (NNP_VMATH_AVX512 lifts the limit).
 *  Not thread-safe. @return the level now in use (the lower of level and the CPU's). */
int nnp_vmath_limit_isa(int level);

#endif
