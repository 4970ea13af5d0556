/* kernels/simd/qrow.c — QuantizeLinear and DequantizeLinear rows (qrow.h): scalar,
 * AVX2 and AVX-512, the same float32 operations in each. */
#include "kernels/simd/qrow.h"

#include <immintrin.h>

#include "kernels/ops/quant.h"

static void quantize_scalar(const float *x, int64_t n, float scale, int32_t zp, enum nnp_dtype t,
                            void *y)
{
    int32_t lo = nnp_q_lo(t), hi = nnp_q_hi(t);
    for (int64_t i = 0; i < n; i++)
        nnp_q_put(t, y, i, nnp_q_quantize(x[i] / scale, zp, lo, hi));
}

static void dequantize_scalar(const void *x, enum nnp_dtype t, int64_t n, float scale,
                              int32_t zp, float *y)
{
    for (int64_t i = 0; i < n; i++) /* int32: wraps as int32 arithmetic does */
        y[i] = (float)(int32_t)((uint32_t)nnp_q_get(t, x, i) - (uint32_t)zp) * scale;
}

#if defined(__x86_64__)
/* max(v, lo) first: MAXPS gives its second operand when the first is NaN, so NaN goes to
 * lo as in nnp_q_quantize(); then min, rounding to nearest even, exact conversion */
__attribute__((target("avx512f"))) static void quantize_avx512(const float *x, int64_t n,
                                                               float scale, int32_t zp,
                                                               enum nnp_dtype t, void *y)
{
    int32_t lo = nnp_q_lo(t), hi = nnp_q_hi(t);
    __m512 s = _mm512_set1_ps(scale), flo = _mm512_set1_ps((float)(lo - zp));
    __m512 fhi = _mm512_set1_ps((float)(hi - zp));
    __m512i z = _mm512_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), s);
        v = _mm512_min_ps(_mm512_max_ps(v, flo), fhi);
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
        __m128i b = t == NNP_DTYPE_U8 ? _mm512_cvtusepi32_epi8(q) : _mm512_cvtsepi32_epi8(q);
        _mm_storeu_si128((__m128i *)((uint8_t *)y + i), b);
    }
    quantize_scalar(x + i, n - i, scale, zp, t, (uint8_t *)y + i);
}

__attribute__((target("avx512f"))) static void dequantize_avx512(const void *x, enum nnp_dtype t,
                                                                 int64_t n, float scale,
                                                                 int32_t zp, float *y)
{
    __m512 s = _mm512_set1_ps(scale);
    __m512i z = _mm512_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)((const uint8_t *)x + i));
        __m512i v = t == NNP_DTYPE_U8 ? _mm512_cvtepu8_epi32(b) : _mm512_cvtepi8_epi32(b);
        __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(v, z));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(f, s));
    }
    dequantize_scalar((const uint8_t *)x + i, t, n - i, scale, zp, y + i);
}

/* AVX2: the same, eight at a time; the packing to bytes through saturating packs of
 * values already in range */
__attribute__((target("avx2"))) static void quantize_avx2(const float *x, int64_t n, float scale,
                                                          int32_t zp, enum nnp_dtype t, void *y)
{
    int32_t lo = nnp_q_lo(t), hi = nnp_q_hi(t);
    __m256 s = _mm256_set1_ps(scale), flo = _mm256_set1_ps((float)(lo - zp));
    __m256 fhi = _mm256_set1_ps((float)(hi - zp));
    __m256i z = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
        v = _mm256_min_ps(_mm256_max_ps(v, flo), fhi);
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        __m128i b = t == NNP_DTYPE_U8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
        _mm_storel_epi64((__m128i *)((uint8_t *)y + i), b);
    }
    quantize_scalar(x + i, n - i, scale, zp, t, (uint8_t *)y + i);
}

__attribute__((target("avx2"))) static void dequantize_avx2(const void *x, enum nnp_dtype t,
                                                            int64_t n, float scale, int32_t zp,
                                                            float *y)
{
    __m256 s = _mm256_set1_ps(scale);
    __m256i z = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)((const uint8_t *)x + i));
        __m256i v = t == NNP_DTYPE_U8 ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b);
        __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(f, s));
    }
    dequantize_scalar((const uint8_t *)x + i, t, n - i, scale, zp, y + i);
}
#endif

void nnp_quantize_row(enum nnp_isa isa, const float *x, int64_t n, float scale, int32_t zp,
                      enum nnp_dtype t, void *y)
{
#if defined(__x86_64__)
    if (isa == NNP_ISA_AVX512) {
        quantize_avx512(x, n, scale, zp, t, y);
        return;
    }
    if (isa == NNP_ISA_AVX2) {
        quantize_avx2(x, n, scale, zp, t, y);
        return;
    }
#endif
    (void)isa;
    quantize_scalar(x, n, scale, zp, t, y);
}

void nnp_dequantize_row(enum nnp_isa isa, const void *x, enum nnp_dtype t, int64_t n,
                        float scale, int32_t zp, float *y)
{
#if defined(__x86_64__)
    if (t != NNP_DTYPE_I32 && isa == NNP_ISA_AVX512) {
        dequantize_avx512(x, t, n, scale, zp, y);
        return;
    }
    if (t != NNP_DTYPE_I32 && isa == NNP_ISA_AVX2) {
        dequantize_avx2(x, t, n, scale, zp, y);
        return;
    }
#endif
    (void)isa;
    dequantize_scalar(x, t, n, scale, zp, y);
}
