/* kernels/simd/gemv.h — fp32 matrix-vector kernels for batch-1 layers, and the row
 * helpers of the convolution loops.
 *
 *     enum nnp_isa isa = nnp_isa_best();              // once; AVX-512, AVX2+FMA or scalar
 *     nnp_gemv_rows(isa, w, x, y, n, k);              // y[n] = W[n,:] . x    (W is [n,k])
 *     nnp_gemv_cols(isa, b, x, y, k, n);              // y[n] += sum_k x[k] B[k,n] (B is [k,n])
 *     nnp_axpy(isa, n, a, x, y);                      // y += a * x (and nnp_vset, nnp_vadds)
 *
 * Why not cblas_sgemm with M = 1: OpenBLAS 0.3.21 runs its GEMM kernel for one
 * row, about 3x slower than streaming the matrix once (kernels/PERF-NOTES in
 * /work/shared). A matrix-vector product does 2 flops per 4-byte weight, so it
 * is bound by memory bandwidth, not arithmetic: these kernels read each
 * weight exactly once, in address order, with enough independent accumulators
 * that the loads are never waiting on an FMA.
 *
 * The `rows` form serves Gemm with transB = 1 (PyTorch's Linear layout,
 * weights [N,K]) and MatMul by a vector; the `cols` form serves Gemm with
 * transB = 0 and MatMul with one row. Each ISA version is compiled with a
 * target attribute and chosen at run time, so the binary runs anywhere; the
 * scalar version is the reference the others are tested against.
 */
#ifndef NNP_GEMV_H
#define NNP_GEMV_H

#include <stdint.h>

enum nnp_isa {
    NNP_ISA_SCALAR, /* portable C */
    NNP_ISA_AVX2,   /* AVX2 + FMA */
    NNP_ISA_AVX512, /* AVX-512F */
    NNP_ISA_COUNT
};

/*! @return the best ISA this CPU runs (checked once, then cached). */
enum nnp_isa nnp_isa_best(void);
/*! @return 1 if this CPU can run `isa`. */
int nnp_isa_supported(enum nnp_isa isa);
/*! @return "scalar", "avx2" or "avx512". */
const char *nnp_isa_name(enum nnp_isa isa);

/*! nnp_gemv_rows() : y[i] = sum_j w[i*k + j] * x[j] for i < n.
 *  w (n, k) row-major, x (k), y (n); y must not overlap w or x. `isa` must be supported. */
void nnp_gemv_rows(enum nnp_isa isa, const float *w, const float *x, float *y, int64_t n,
                   int64_t k);

/*! nnp_gemv_cols() : y[j] += sum_i x[i] * b[i*n + j] for j < n (accumulates: clear y first;
 *  this lets a caller split k into blocks that stay in cache across several x).
 *  b (k, n) row-major, x (k), y (n); y must not overlap b or x. `isa` must be supported. */
void nnp_gemv_cols(enum nnp_isa isa, const float *b, const float *x, float *y, int64_t k,
                   int64_t n);

/*! nnp_gemv_cols_ld() : nnp_gemv_cols() on columns of a wider matrix: row i of b starts at
 *  b + i*ldb (ldb >= n). Threads each take a column range of the same b this way; every
 *  y[j] is summed in the same order whatever the range, so the split is bit-identical. */
void nnp_gemv_cols_ld(enum nnp_isa isa, const float *b, int64_t ldb, const float *x, float *y,
                      int64_t k, int64_t n);

/* Row helpers for the convolution and pooling loops, whose rows are often short
 * (28 floats): a libc call per row, or a scalar loop (GCC's -O2 does not
 * vectorize loops of unknown length), would cost more than the work. */

/*! nnp_axpy() : y[i] += a * x[i] for i < n, the row update of the direct (depthwise)
 *  convolution and of col2im. y must not overlap x. `isa` must be supported. */
void nnp_axpy(enum nnp_isa isa, int64_t n, float a, const float *x, float *y);
/*! nnp_vset() : y[i] = v for i < n. */
void nnp_vset(enum nnp_isa isa, int64_t n, float v, float *y);
/*! nnp_vmax() : y[i] = max(x[i], y[i]) for i < n; a NaN in x never wins, one in y stays
 *  (so the first row a running maximum starts from decides, as in a scalar loop). */
void nnp_vmax(enum nnp_isa isa, int64_t n, const float *x, float *y);
/*! nnp_vadds() : y[i] = x[i] + b for i < n; y may be x, or not overlap it. */
void nnp_vadds(enum nnp_isa isa, int64_t n, const float *x, float b, float *y);

#endif
