/* kernels/simd/gemv.c — fp32 matrix-vector kernels, one version per ISA (see gemv.h). */
#include "kernels/simd/gemv.h"

#include <immintrin.h>

#include "kernels/status.h"

/* Columns of y kept in L1 while the cols kernel sweeps B's rows: 16 KiB of y,
 * well inside the 32-48 KiB L1 of current x86 cores, with room left for the
 * lines of B in flight. */
#define COLS_BLOCK 4096

/* --- which ISA --- */

int nnp_isa_supported(enum nnp_isa isa)
{
    __builtin_cpu_init();
    switch (isa) {
    case NNP_ISA_SCALAR: return 1;
    case NNP_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case NNP_ISA_AVX512: return __builtin_cpu_supports("avx512f");
    default: return 0;
    }
}

enum nnp_isa nnp_isa_best(void)
{
    static int best = -1; /* a benign race: every thread computes the same answer */
    if (best < 0) {
        int b = NNP_ISA_SCALAR;
        if (nnp_isa_supported(NNP_ISA_AVX2))
            b = NNP_ISA_AVX2;
        if (nnp_isa_supported(NNP_ISA_AVX512))
            b = NNP_ISA_AVX512;
        best = b;
    }
    return (enum nnp_isa)best;
}

const char *nnp_isa_name(enum nnp_isa isa)
{
    switch (isa) {
    case NNP_ISA_SCALAR: return "scalar";
    case NNP_ISA_AVX2: return "avx2";
    case NNP_ISA_AVX512: return "avx512";
    default: return "?";
    }
}

/* --- scalar: the reference the SIMD versions are tested against --- */

static void rows_scalar(const float *w, const float *x, float *y, int64_t n, int64_t k)
{
    for (int64_t i = 0; i < n; i++) {
        const float *wi = w + i * k; /* (k) */
        /* four partial sums: the order of additions then matches no SIMD
         * version exactly either, which is what the error bound in the tests
         * is for */
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t j = 0;
        for (; j + 4 <= k; j += 4) {
            s0 += wi[j] * x[j];
            s1 += wi[j + 1] * x[j + 1];
            s2 += wi[j + 2] * x[j + 2];
            s3 += wi[j + 3] * x[j + 3];
        }
        for (; j < k; j++)
            s0 += wi[j] * x[j];
        y[i] = (s0 + s1) + (s2 + s3);
    }
}

static void cols_scalar(const float *b, int64_t ldb, const float *x, float *y, int64_t k,
                        int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += COLS_BLOCK) {
        int64_t nb = n - j0 < COLS_BLOCK ? n - j0 : COLS_BLOCK;
        float *yb = y + j0; /* (nb) */
        for (int64_t i = 0; i < k; i++) {
            const float *bi = b + i * ldb + j0; /* (nb) */
            float xi = x[i];
            for (int64_t j = 0; j < nb; j++)
                yb[j] += xi * bi[j];
        }
    }
}

/* --- AVX2 + FMA --- */

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Four rows at a time share each load of x; two accumulators per row give
 * eight independent FMA chains, enough to cover the FMA latency. */
__attribute__((target("avx2,fma"))) static void rows_avx2(const float *w, const float *x, float *y,
                                                          int64_t n, int64_t k)
{
    int64_t k16 = k & ~(int64_t)15, k8 = k & ~(int64_t)7;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *w0 = w + i * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int64_t j = 0;
        for (; j < k16; j += 16) {
            __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), x0, a0);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j + 8), x1, b0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), x0, a1);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j + 8), x1, b1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), x0, a2);
            b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j + 8), x1, b2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), x0, a3);
            b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j + 8), x1, b3);
        }
        if (j < k8) {
            __m256 x0 = _mm256_loadu_ps(x + j);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), x0, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), x0, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), x0, a3);
            j += 8;
        }
        float s0 = hsum256(_mm256_add_ps(a0, b0)), s1 = hsum256(_mm256_add_ps(a1, b1));
        float s2 = hsum256(_mm256_add_ps(a2, b2)), s3 = hsum256(_mm256_add_ps(a3, b3));
        for (; j < k; j++) {
            s0 += w0[j] * x[j];
            s1 += w1[j] * x[j];
            s2 += w2[j] * x[j];
            s3 += w3[j] * x[j];
        }
        y[i] = s0;
        y[i + 1] = s1;
        y[i + 2] = s2;
        y[i + 3] = s3;
    }
    for (; i < n; i++) {
        const float *w0 = w + i * k;
        __m256 a0 = _mm256_setzero_ps(), b0 = a0;
        int64_t j = 0;
        for (; j < k16; j += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), _mm256_loadu_ps(x + j), a0);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j + 8), _mm256_loadu_ps(x + j + 8), b0);
        }
        if (j < k8) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), _mm256_loadu_ps(x + j), a0);
            j += 8;
        }
        float s = hsum256(_mm256_add_ps(a0, b0));
        for (; j < k; j++)
            s += w0[j] * x[j];
        y[i] = s;
    }
}

/* Four rows of B per pass over the y block: y is loaded and stored once for
 * four FMAs, and B is still read in address order within each row. */
__attribute__((target("avx2,fma"))) static void cols_avx2(const float *b, int64_t ldb,
                                                          const float *x, float *y, int64_t k,
                                                          int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += COLS_BLOCK) {
        int64_t nb = n - j0 < COLS_BLOCK ? n - j0 : COLS_BLOCK;
        int64_t nb8 = nb & ~(int64_t)7;
        float *yb = y + j0; /* (nb) */
        int64_t i = 0;
        for (; i + 4 <= k; i += 4) {
            const float *r0 = b + i * ldb + j0, *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;
            __m256 x0 = _mm256_set1_ps(x[i]), x1 = _mm256_set1_ps(x[i + 1]);
            __m256 x2 = _mm256_set1_ps(x[i + 2]), x3 = _mm256_set1_ps(x[i + 3]);
            int64_t j = 0;
            for (; j < nb8; j += 8) {
                __m256 acc = _mm256_loadu_ps(yb + j);
                __m256 p = _mm256_mul_ps(_mm256_loadu_ps(r1 + j), x1);
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), x0, acc);
                p = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j), x3, p);
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j), x2, acc);
                _mm256_storeu_ps(yb + j, _mm256_add_ps(acc, p));
            }
            for (; j < nb; j++)
                yb[j] += x[i] * r0[j] + x[i + 1] * r1[j] + x[i + 2] * r2[j] + x[i + 3] * r3[j];
        }
        for (; i < k; i++) {
            const float *r0 = b + i * ldb + j0;
            __m256 x0 = _mm256_set1_ps(x[i]);
            int64_t j = 0;
            for (; j < nb8; j += 8)
                _mm256_storeu_ps(
                    yb + j, _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), x0, _mm256_loadu_ps(yb + j)));
            for (; j < nb; j++)
                yb[j] += x[i] * r0[j];
        }
    }
}

/* --- AVX-512F --- */

/* As rows_avx2, 16 lanes wide; the last partial vector is a masked load, so
 * no scalar tail and no read past the end of a row. */
__attribute__((target("avx512f"))) static void rows_avx512(const float *w, const float *x, float *y,
                                                           int64_t n, int64_t k)
{
    int64_t k32 = k & ~(int64_t)31, k16 = k & ~(int64_t)15;
    __mmask16 tail = (__mmask16)((1u << (k - k16)) - 1u);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *w0 = w + i * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int64_t j = 0;
        for (; j < k32; j += 32) {
            __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), x0, a0);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j + 16), x1, b0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + j), x0, a1);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + j + 16), x1, b1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + j), x0, a2);
            b2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + j + 16), x1, b2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + j), x0, a3);
            b3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + j + 16), x1, b3);
        }
        if (j < k16) {
            __m512 x0 = _mm512_loadu_ps(x + j);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), x0, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + j), x0, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + j), x0, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + j), x0, a3);
            j += 16;
        }
        if (tail) {
            __m512 x0 = _mm512_maskz_loadu_ps(tail, x + j);
            b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + j), x0, b0);
            b1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w1 + j), x0, b1);
            b2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w2 + j), x0, b2);
            b3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w3 + j), x0, b3);
        }
        y[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
        y[i + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
        y[i + 2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
        y[i + 3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
    }
    for (; i < n; i++) {
        const float *w0 = w + i * k;
        __m512 a0 = _mm512_setzero_ps(), b0 = a0;
        int64_t j = 0;
        for (; j < k32; j += 32) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), _mm512_loadu_ps(x + j), a0);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j + 16), _mm512_loadu_ps(x + j + 16), b0);
        }
        if (j < k16) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), _mm512_loadu_ps(x + j), a0);
            j += 16;
        }
        if (tail)
            b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + j),
                                 _mm512_maskz_loadu_ps(tail, x + j), b0);
        y[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    }
}

__attribute__((target("avx512f"))) static void cols_avx512(const float *b, int64_t ldb,
                                                           const float *x, float *y, int64_t k,
                                                           int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += COLS_BLOCK) {
        int64_t nb = n - j0 < COLS_BLOCK ? n - j0 : COLS_BLOCK;
        int64_t nb16 = nb & ~(int64_t)15;
        __mmask16 tail = (__mmask16)((1u << (nb - nb16)) - 1u);
        float *yb = y + j0; /* (nb) */
        int64_t i = 0;
        for (; i + 4 <= k; i += 4) {
            const float *r0 = b + i * ldb + j0, *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;
            __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[i + 1]);
            __m512 x2 = _mm512_set1_ps(x[i + 2]), x3 = _mm512_set1_ps(x[i + 3]);
            int64_t j = 0;
            for (; j < nb16; j += 16) {
                __m512 acc = _mm512_loadu_ps(yb + j);
                __m512 p = _mm512_mul_ps(_mm512_loadu_ps(r1 + j), x1);
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), x0, acc);
                p = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j), x3, p);
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j), x2, acc);
                _mm512_storeu_ps(yb + j, _mm512_add_ps(acc, p));
            }
            if (tail) {
                __m512 acc = _mm512_maskz_loadu_ps(tail, yb + j);
                __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r1 + j), x1);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r0 + j), x0, acc);
                p = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r3 + j), x3, p);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r2 + j), x2, acc);
                _mm512_mask_storeu_ps(yb + j, tail, _mm512_add_ps(acc, p));
            }
        }
        for (; i < k; i++) {
            const float *r0 = b + i * ldb + j0;
            __m512 x0 = _mm512_set1_ps(x[i]);
            int64_t j = 0;
            for (; j < nb16; j += 16)
                _mm512_storeu_ps(
                    yb + j, _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), x0, _mm512_loadu_ps(yb + j)));
            if (tail)
                _mm512_mask_storeu_ps(yb + j, tail,
                                      _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, r0 + j), x0,
                                                      _mm512_maskz_loadu_ps(tail, yb + j)));
        }
    }
}

/* --- y += a * x --- */

static void axpy_scalar(int64_t n, float a, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

__attribute__((target("avx2,fma"))) static void axpy_avx2(int64_t n, float a, const float *x,
                                                          float *y)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(_mm256_loadu_ps(x + i), av, _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

__attribute__((target("avx512f"))) static void axpy_avx512(int64_t n, float a, const float *x,
                                                           float *y)
{
    __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(_mm512_loadu_ps(x + i), av, _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), av, _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* --- y = v, y = x + b --- */

static void vset_scalar(int64_t n, float v, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = v;
}

static void vadds_scalar(int64_t n, const float *x, float b, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] + b;
}

__attribute__((target("avx2,fma"))) static void vset_avx2(int64_t n, float v, float *y)
{
    __m256 vv = _mm256_set1_ps(v);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, vv);
    for (; i < n; i++)
        y[i] = v;
}

__attribute__((target("avx2,fma"))) static void vadds_avx2(int64_t n, const float *x, float b,
                                                           float *y)
{
    __m256 bv = _mm256_set1_ps(b);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), bv));
    for (; i < n; i++)
        y[i] = x[i] + b;
}

__attribute__((target("avx512f"))) static void vset_avx512(int64_t n, float v, float *y)
{
    __m512 vv = _mm512_set1_ps(v);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, vv);
    if (i < n)
        _mm512_mask_storeu_ps(y + i, (__mmask16)((1u << (n - i)) - 1u), vv);
}

__attribute__((target("avx512f"))) static void vadds_avx512(int64_t n, const float *x, float b,
                                                            float *y)
{
    __m512 bv = _mm512_set1_ps(b);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(x + i), bv));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), bv));
    }
}

/* --- y = max(x, y) --- */

static void vmax_scalar(int64_t n, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] > y[i] ? x[i] : y[i];
}

/* (v)maxps returns its second operand when either is NaN: y goes second */
__attribute__((target("avx2,fma"))) static void vmax_avx2(int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = x[i] > y[i] ? x[i] : y[i];
}

__attribute__((target("avx512f"))) static void vmax_avx512(int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(
            y + i, m,
            _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* --- dispatch --- */

void nnp_vmax(enum nnp_isa isa, int64_t n, const float *x, float *y)
{
    switch (isa) {
    case NNP_ISA_AVX512: vmax_avx512(n, x, y); break;
    case NNP_ISA_AVX2: vmax_avx2(n, x, y); break;
    default: vmax_scalar(n, x, y); break;
    }
}

void nnp_vset(enum nnp_isa isa, int64_t n, float v, float *y)
{
    switch (isa) {
    case NNP_ISA_AVX512: vset_avx512(n, v, y); break;
    case NNP_ISA_AVX2: vset_avx2(n, v, y); break;
    default: vset_scalar(n, v, y); break;
    }
}

void nnp_vadds(enum nnp_isa isa, int64_t n, const float *x, float b, float *y)
{
    switch (isa) {
    case NNP_ISA_AVX512: vadds_avx512(n, x, b, y); break;
    case NNP_ISA_AVX2: vadds_avx2(n, x, b, y); break;
    default: vadds_scalar(n, x, b, y); break;
    }
}

void nnp_axpy(enum nnp_isa isa, int64_t n, float a, const float *x, float *y)
{
    switch (isa) {
    case NNP_ISA_AVX512: axpy_avx512(n, a, x, y); break;
    case NNP_ISA_AVX2: axpy_avx2(n, a, x, y); break;
    default: axpy_scalar(n, a, x, y); break;
    }
}

void nnp_gemv_rows(enum nnp_isa isa, const float *w, const float *x, float *y, int64_t n, int64_t k)
{
    NNP_ASSERT(n >= 0 && k >= 0);
    switch (isa) {
    case NNP_ISA_AVX512: rows_avx512(w, x, y, n, k); break;
    case NNP_ISA_AVX2: rows_avx2(w, x, y, n, k); break;
    default: rows_scalar(w, x, y, n, k); break;
    }
}

void nnp_gemv_cols(enum nnp_isa isa, const float *b, const float *x, float *y, int64_t k, int64_t n)
{
    nnp_gemv_cols_ld(isa, b, n, x, y, k, n);
}

void nnp_gemv_cols_ld(enum nnp_isa isa, const float *b, int64_t ldb, const float *x, float *y,
                      int64_t k, int64_t n)
{
    NNP_ASSERT(n >= 0 && k >= 0 && ldb >= n);
    switch (isa) {
    case NNP_ISA_AVX512: cols_avx512(b, ldb, x, y, k, n); break;
    case NNP_ISA_AVX2: cols_avx2(b, ldb, x, y, k, n); break;
    default: cols_scalar(b, ldb, x, y, k, n); break;
    }
}
