/* kernels/dtype.c — element type traits and half-precision conversions.
 *
 * The conversions of whole arrays (float16 graphs run on the float32 kernels: the
 * planner widens every input and rounds every output) take 8 elements a step with
 * F16C where the CPU has it. A block of 8 holding a NaN (or, widening, an inf or NaN
 * half) goes through the scalar functions instead, so that every ISA gives the same
 * bits: the instructions keep a NaN's payload, the scalar code a canonical one. */
#include "kernels/dtype.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static const struct {
    int onnx;
    size_t size;
    const char *name;
} traits[NNP_DTYPE_COUNT] = {
#define X(e, code, sz, nm) [NNP_DTYPE_##e] = {.onnx = code, .size = sz, .name = nm},
#include "kernels/dtypes.def"
#undef X
};

size_t nnp_dtype_size(enum nnp_dtype t)
{
    return (unsigned)t < NNP_DTYPE_COUNT ? traits[t].size : 0;
}

const char *nnp_dtype_name(enum nnp_dtype t)
{
    return (unsigned)t < NNP_DTYPE_COUNT ? traits[t].name : "invalid";
}

int nnp_dtype_onnx(enum nnp_dtype t)
{
    return (unsigned)t < NNP_DTYPE_COUNT ? traits[t].onnx : 0;
}

enum nnp_dtype nnp_dtype_from_onnx(int code)
{
    for (int t = 0; t < NNP_DTYPE_COUNT; t++)
        if (traits[t].onnx == code)
            return (enum nnp_dtype)t;
    return NNP_DTYPE_UNDEFINED;
}

enum nnp_dtype nnp_dtype_from_name(const char *name)
{
    for (int t = 1; t < NNP_DTYPE_COUNT; t++)
        if (strcmp(traits[t].name, name) == 0)
            return (enum nnp_dtype)t;
    return NNP_DTYPE_UNDEFINED;
}

int nnp_dtype_is_float(enum nnp_dtype t)
{
    return t == NNP_DTYPE_F32 || t == NNP_DTYPE_F16 || t == NNP_DTYPE_BF16 || t == NNP_DTYPE_F64;
}

float nnp_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) { /* inf or nan: keep the payload */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal half is a normal float: value = man * 2^-24 */
            float f = ldexpf((float)man, -24);
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t nnp_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf stays inf, nan stays a quiet nan */
        return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return sign | 0x7c00;
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        /* adding 0.5 moves the mantissa bits we keep to the bottom, and the FPU
         * rounds to nearest even for us */
        float a;
        memcpy(&a, &ax, 4);
        float r = a + 0.5f;
        uint32_t rb;
        memcpy(&rb, &r, 4);
        return sign | (uint16_t)(rb - 0x3f000000u);
    }
    uint32_t odd = (ax >> 13) & 1;
    ax += 0xc8000fffu + odd; /* rebias exponent (-112 << 23) and round to nearest even */
    return sign | (uint16_t)(ax >> 13);
}

float nnp_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t nnp_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) static int64_t f16_to_f32_f16c(float *dst, const uint16_t *src,
                                                                  int64_t n)
{
    int64_t i = 0;
    const __m128i exp = _mm_set1_epi16(0x7c00);
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, exp), exp)))
            for (int k = 0; k < 8; k++)
                dst[i + k] = nnp_f16_to_f32(src[i + k]);
        else
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    return i;
}

__attribute__((target("avx,f16c"))) static int64_t f32_to_f16_f16c(uint16_t *dst, const float *src,
                                                                  int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)))
            for (int k = 0; k < 8; k++)
                dst[i + k] = nnp_f32_to_f16(src[i + k]);
        else
            _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    }
    return i;
}

static int has_f16c(void)
{
    static int known = -1;
    if (known < 0)
        known = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    return known;
}
#endif

void nnp_f16_to_f32_n(float *dst, const uint16_t *src, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__)
    if (has_f16c())
        i = f16_to_f32_f16c(dst, src, n);
#endif
    for (; i < n; i++)
        dst[i] = nnp_f16_to_f32(src[i]);
}

void nnp_f32_to_f16_n(uint16_t *dst, const float *src, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__)
    if (has_f16c())
        i = f32_to_f16_f16c(dst, src, n);
#endif
    for (; i < n; i++)
        dst[i] = nnp_f32_to_f16(src[i]);
}
