/* kernels/simd/vmath.c — vectorised exp, erf and row kernels (see vmath.h).
 *
 * Every kernel is a body over `vf` (16 floats, GCC vector extension) that is
 * inlined into three wrappers compiled for AVX-512, AVX2 and the baseline; a
 * 16-float block maps to one zmm, two ymm or four xmm registers. The tail of a
 * row (n % 16 elements) goes through a padded 16-float block, so every element
 * is computed by the same code and the result does not depend on where an
 * element sits in the row.
 *
 * exp: n = round(x log2 e) by the 1.5 * 2^23 trick, r = x - n ln 2 in two
 *      parts (the high part has 9 bits, so n * C1 is exact), exp(r) as
 *      1 + r + r^2 P(r) with P of degree 5 on |r| <= ln2/2, then 2^n applied
 *      as two factors 2^(n/2)
 *      so that n in [-150, 128] never leaves the exponent range: results
 *      overflow to +inf and underflow to subnormals and 0 as libm's do.
 * erf: two pieces split at |x| = 0.927734375. Below, erf is odd and
 *      erf(x)/x - 1 is smooth in x^2: x + x P(x^2), P of degree 5. Above,
 *      erfc(t) decays like exp(-t^2), so log(erfc t) is close to a low-degree
 *      polynomial: erf = 1 - exp(q(|x|)), q(t) = t K(t) - t, K of degree 6;
 *      sign restored. Both pieces are computed and blended.
 *
 * All polynomial coefficients (and exp's C2) come from kernels/simd/vmath_fit.py
 * (rerun: /usr/bin/python3 kernels/simd/vmath_fit.py): relative-error weighted
 * least squares on Chebyshev nodes against Python's math.exp / math.erf /
 * math.erfc, Lawson reweighting toward minimax, then rounded to float one
 * coefficient at a time with the rest refitted.
 *
 * The AVX2 and AVX-512 builds fuse a * b + c (the Makefile compiles this file
 * with -ffp-contract=fast; the baseline has no FMA), so the ISAs can differ in
 * the last bit. Measured against double libm: over every 64th float (the unit
 * test, which sweeps every build the CPU runs) AVX2 / AVX-512 exp 0.976 ulp,
 * erf 1.063; baseline exp 0.960, erf 1.267. Over every 4th float: AVX2 /
 * AVX-512 exp 0.982, erf 1.205; baseline exp 0.960, erf 1.316.
 */
#include "kernels/simd/vmath.h"

#include <math.h>
#include <string.h>

/* The helpers below take and return 64-byte vectors; they are always inlined,
 * so the ABI GCC warns about for such arguments never applies. (The Makefile
 * also passes -Wno-psabi for this file: the pragma silences the warning, not
 * the note GCC adds once per file.) */
#pragma GCC diagnostic ignored "-Wpsabi"

#define VL 16
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));
typedef double vd __attribute__((vector_size(VL * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(VL * sizeof(int64_t))));

#define VM_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define VM_NO_VECTORIZE _Pragma("clang loop vectorize(disable)")
#else
#define VM_NO_VECTORIZE /* GCC leaves these scalar loops alone at -O2 */
#endif
#define VM_AVX512 __attribute__((target("avx512f,fma")))
#define VM_AVX2 __attribute__((target("avx2,fma")))

VM_INLINE vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
VM_INLINE void vstore(float *p, vf v)
{
    memcpy(p, &v, sizeof v);
}
VM_INLINE vf vsplat(float a)
{
    return (vf){0} + a;
}
/* m ? a : b, lane-wise; m is all ones or all zeros per lane */
VM_INLINE vf vsel(vi m, vf a, vf b)
{
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}
VM_INLINE vf vmin(vf a, vf b)
{
    return vsel(a < b, a, b);
}
VM_INLINE vf vmaxf(vf a, vf b)
{
    return vsel(a > b, a, b);
}

VM_INLINE vf v_exp(vf x)
{
    vf xc = vmin(vmaxf(x, vsplat(-104.0f)), vsplat(89.0f)); /* n in [-150, 129) */
    vf t = xc * 1.44269504088896341f + 12582912.0f;         /* 1.5 * 2^23: round to nearest */
    vf n = t - 12582912.0f;
    /* C1 = 355/512 (ln 2 to 9 bits), C2 = float(ln 2 - C1) and P(r), highest
     * degree first: from kernels/simd/vmath_fit.py (/usr/bin/python3 kernels/simd/vmath_fit.py) */
    vf r = xc - n * 0.693359375f;
    r = r - n * -0.000212194442f;
    vf p = vsplat(0.000197903573f);
    p = p * r + 0.00139446498f;
    p = p * r + 0.00833349675f;
    p = p * r + 0.0416662954f;
    p = p * r + 0.166666657f;
    p = p * r + 0.5f;
    p = p * (r * r) + r + 1.0f;
    vi ni = __builtin_convertvector(n, vi);
    vi n1 = ni / 2, n2 = ni - n1; /* each in [-75, 65]: a normal power of two */
    vf s1 = (vf)((n1 + 127) * (1 << 23)), s2 = (vf)((n2 + 127) * (1 << 23));
    return vsel(x == x, p * s1 * s2, x); /* NaN passes */
}

VM_INLINE vf v_erf(vf a)
{
    vi sign = (vi)a & (int32_t)0x80000000;
    vf t = (vf)((vi)a & 0x7fffffff);
    vf s = a * a;
    /* |a| <= 0.927734375: a + a P(a^2); P highest degree first, from
     * kernels/simd/vmath_fit.py (/usr/bin/python3 kernels/simd/vmath_fit.py) */
    vf r = vsplat(-0.000596423924f);
    r = r * s + 0.00498800725f;
    r = r * s + -0.0267631318f;
    r = r * s + 0.112817213f;
    r = r * s + -0.376124859f;
    r = r * s + 0.128379151f;
    vf small = r * a + a;
    /* above: 1 - exp(q(t)), q = t K(t) - t, t clamped (erf is 1 in float from
     * 3.92 on); K highest degree first, from kernels/simd/vmath_fit.py
     * (/usr/bin/python3 kernels/simd/vmath_fit.py) */
    vf tc = vmin(t, vsplat(6.0f));
    vf sc = tc * tc;
    vf q = vsplat(-1.15272287e-05f) * tc + 0.0003257684f;
    vf u = vsplat(-0.00365452422f) * tc + 0.0237876065f;
    q = q * sc + u;
    q = q * tc + -0.106266566f;
    q = q * tc + -0.635133326f;
    q = q * tc + -0.128652945f;
    q = q * tc - tc;
    vf big = 1.0f - v_exp(q);
    big = (vf)((vi)big | sign);
    vf y = vsel(t > 0.927734375f, big, small);
    return vsel(a == a, y, a);
}

VM_INLINE vf v_gelu(vf x)
{
    return 0.5f * x * (1.0f + v_erf(x * 0.70710678118654752f));
}

VM_INLINE vf v_sigmoid(vf x)
{
    return 1.0f / (1.0f + v_exp(-x));
}

/* --- elementwise maps, generated --- */

#define VM_MAP_BODY(fn)                                                                            \
    VM_INLINE void fn##_body(int64_t n, float *y, const float *x)                                  \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + VL <= n; i += VL)                                                               \
            vstore(y + i, v_##fn(vload(x + i)));                                                   \
        if (i < n) {                                                                               \
            float buf[VL] = {0};                                                                   \
            size_t rest = (size_t)(n - i) * sizeof(float);                                         \
            memcpy(buf, x + i, rest);                                                              \
            vstore(buf, v_##fn(vload(buf)));                                                       \
            memcpy(y + i, buf, rest);                                                              \
        }                                                                                          \
    }

/* Three builds of one body and the dispatch. __builtin_cpu_supports reads a
 * table libgcc fills before main, so asking at every call costs a few loads. */
static int isa_cap = NNP_VMATH_AVX512; /* nnp_vmath_limit_isa() */

static int isa_level(void)
{
    int best = NNP_VMATH_BASE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = NNP_VMATH_AVX2;
    if (best == NNP_VMATH_AVX2 && __builtin_cpu_supports("avx512f"))
        best = NNP_VMATH_AVX512;
    return best < isa_cap ? best : isa_cap;
}

int nnp_vmath_limit_isa(int level)
{
    isa_cap = level < NNP_VMATH_BASE ? NNP_VMATH_BASE : level;
    return isa_level();
}

#define VM_DISPATCH(ret, name, body, params, args)                                                 \
    VM_AVX512 static ret name##_avx512 params                                                      \
    {                                                                                              \
        return body args;                                                                          \
    }                                                                                              \
    VM_AVX2 static ret name##_avx2 params                                                          \
    {                                                                                              \
        return body args;                                                                          \
    }                                                                                              \
    static ret name##_base params                                                                  \
    {                                                                                              \
        return body args;                                                                          \
    }                                                                                              \
    ret name params                                                                                \
    {                                                                                              \
        switch (isa_level()) {                                                                     \
        case NNP_VMATH_AVX512: return name##_avx512 args;                                          \
        case NNP_VMATH_AVX2: return name##_avx2 args;                                              \
        default: return name##_base args;                                                          \
        }                                                                                          \
    }
#define VM_DISPATCH_VOID(name, body, params, args)                                                 \
    VM_AVX512 static void name##_avx512 params                                                     \
    {                                                                                              \
        body args;                                                                                 \
    }                                                                                              \
    VM_AVX2 static void name##_avx2 params                                                         \
    {                                                                                              \
        body args;                                                                                 \
    }                                                                                              \
    static void name##_base params                                                                 \
    {                                                                                              \
        body args;                                                                                 \
    }                                                                                              \
    void name params                                                                               \
    {                                                                                              \
        switch (isa_level()) {                                                                     \
        case NNP_VMATH_AVX512: name##_avx512 args; break;                                          \
        case NNP_VMATH_AVX2: name##_avx2 args; break;                                              \
        default: name##_base args; break;                                                          \
        }                                                                                          \
    }

VM_MAP_BODY(exp)
VM_MAP_BODY(erf)
VM_MAP_BODY(gelu)
VM_MAP_BODY(sigmoid)

#define MAP_PARAMS (int64_t n, float *y, const float *x)
#define MAP_ARGS (n, y, x)
VM_DISPATCH_VOID(nnp_vexp, exp_body, MAP_PARAMS, MAP_ARGS)
VM_DISPATCH_VOID(nnp_verf, erf_body, MAP_PARAMS, MAP_ARGS)
VM_DISPATCH_VOID(nnp_vgelu, gelu_body, MAP_PARAMS, MAP_ARGS)
VM_DISPATCH_VOID(nnp_vsigmoid, sigmoid_body, MAP_PARAMS, MAP_ARGS)

float nnp_expf_v(float x)
{
    float y;
    nnp_vexp(1, &y, &x);
    return y;
}

float nnp_erff_v(float x)
{
    float y;
    nnp_verf(1, &y, &x);
    return y;
}

/* --- row kernels --- */

/* Horizontal reductions as a tree of shuffles (four steps for 16 lanes): the
 * lane-by-lane loop is a 16-long chain of dependent adds, which cost more than
 * the arithmetic of a 16- or 48-element row.
 *
 * VM_SHUFFLE(v, mask type, lanes...) is the lane permutation in each compiler's
 * spelling: GCC's __builtin_shuffle takes the lanes as a vector of the mask
 * type, clang knows only __builtin_shufflevector, which takes them as constant
 * arguments. The same lanes move either way, so the sums are the same. */
#if defined(__clang__)
#define VM_SHUFFLE(v, mask_type, ...) __builtin_shufflevector((v), (v), __VA_ARGS__)
#else
#define VM_SHUFFLE(v, mask_type, ...) __builtin_shuffle((v), (mask_type){__VA_ARGS__})
#endif
/* each step folds the upper half of the lanes still in play onto the lower half */
#define VM_FOLD8 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7
#define VM_FOLD4 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3
#define VM_FOLD2 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1
#define VM_FOLD1 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0

VM_INLINE float hsum_f(vf v)
{
    v += VM_SHUFFLE(v, vi, VM_FOLD8);
    v += VM_SHUFFLE(v, vi, VM_FOLD4);
    v += VM_SHUFFLE(v, vi, VM_FOLD2);
    v += VM_SHUFFLE(v, vi, VM_FOLD1);
    return v[0];
}
VM_INLINE double hsum_d(vd v)
{
    v += VM_SHUFFLE(v, vl, VM_FOLD8);
    v += VM_SHUFFLE(v, vl, VM_FOLD4);
    v += VM_SHUFFLE(v, vl, VM_FOLD2);
    v += VM_SHUFFLE(v, vl, VM_FOLD1);
    return v[0];
}
/* NaN lanes are skipped as the reference's `x > m ? x : m` skips them */
VM_INLINE float hmax_f(vf v)
{
    vf w = VM_SHUFFLE(v, vi, VM_FOLD8);
    v = vmaxf(v, w);
    w = VM_SHUFFLE(v, vi, VM_FOLD4);
    v = vmaxf(v, w);
    w = VM_SHUFFLE(v, vi, VM_FOLD2);
    v = vmaxf(v, w);
    w = VM_SHUFFLE(v, vi, VM_FOLD1);
    v = vmaxf(v, w);
    return v[0];
}

/* The last n % 16 elements of a row as a block, the other lanes `fill`. */
VM_INLINE vf vload_part(const float *x, int64_t rest, float fill)
{
    float buf[VL];
    for (int k = 0; k < VL; k++)
        buf[k] = fill;
    memcpy(buf, x, (size_t)rest * sizeof(float));
    return vload(buf);
}
VM_INLINE void vstore_part(float *y, int64_t rest, vf v)
{
    float buf[VL];
    vstore(buf, v);
    memcpy(y, buf, (size_t)rest * sizeof(float));
}

/* One row: max, exp(x - max) and its sum, scale. A row of up to 16 (attention
 * over 16 tokens) stays in one register; padded lanes hold -inf, whose exp is 0. */
VM_INLINE void softmax_rows_body(int64_t rows, int64_t len, float *y, const float *x)
{
    int64_t full = len / VL * VL, rest = len - full;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        float *yr = y + r * len;
        if (len == VL) {
            vf v = vload(xr);
            vf e = v_exp(v - hmax_f(v));
            vstore(yr, e * (1.0f / hsum_f(e)));
            continue;
        }
        if (len < VL) {
            vf v = vload_part(xr, len, -INFINITY);
            vf e = v_exp(v - hmax_f(v));
            vstore_part(yr, len, e * (1.0f / hsum_f(e)));
            continue;
        }
        vf m = vsplat(-INFINITY);
        for (int64_t i = 0; i < full; i += VL)
            m = vmaxf(vload(xr + i), m);
        vf tail = rest ? vload_part(xr + full, rest, -INFINITY) : vsplat(-INFINITY);
        vf sh = vsplat(hmax_f(vmaxf(tail, m)));
        vf acc = {0};
        for (int64_t i = 0; i < full; i += VL) {
            vf e = v_exp(vload(xr + i) - sh);
            vstore(yr + i, e);
            acc += e;
        }
        if (rest) {
            vf e = v_exp(tail - sh);
            acc += e;
            vstore_part(yr + full, rest, e);
        }
        float inv = 1.0f / hsum_f(acc);
        for (int64_t i = 0; i < full; i += VL)
            vstore(yr + i, vload(yr + i) * inv);
        for (int64_t i = full; i < len; i++)
            yr[i] *= inv;
    }
}
VM_DISPATCH_VOID(nnp_vsoftmax_rows, softmax_rows_body,
                 (int64_t rows, int64_t len, float *y, const float *x), (rows, len, y, x))

VM_INLINE void layernorm_rows_body(int64_t rows, int64_t n, float *y, const float *x,
                                   const float *scale, const float *bias, float epsilon,
                                   float *mean_out, float *istd_out)
{
    int64_t full = n / VL * VL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        /* the mean in double lanes: a float sum over a row offset from zero (x ~ 10 +- 2)
         * would move the mean by an ulp of the offset, which every output inherits */
        vd dacc = {0};
        for (int64_t i = 0; i < full; i += VL)
            dacc += __builtin_convertvector(vload(xr + i), vd);
        double sum = hsum_d(dacc);
        for (int64_t i = full; i < n; i++)
            sum += xr[i];
        float m = n ? (float)(sum / (double)n) : 0.0f;
        vf vm = vsplat(m), acc = {0};
        for (int64_t i = 0; i < full; i += VL) {
            vf d = vload(xr + i) - vm;
            acc += d * d;
        }
        double sq = hsum_f(acc);
        for (int64_t i = full; i < n; i++) {
            double d = (double)xr[i] - m;
            sq += d * d;
        }
        double var = n ? sq / (double)n : 0.0;
        float is = (float)(1.0 / sqrt(var + (double)epsilon));
        vf vis = vsplat(is);
        for (int64_t i = 0; i < full; i += VL) {
            vf v = (vload(xr + i) - vm) * vis * vload(scale + i);
            if (bias)
                v += vload(bias + i);
            vstore(yr + i, v);
        }
        /* Kept scalar: vectorised, clang turns the bias select into a masked load and
         * fuses the multiply-add, which its scalar code and GCC's do not, so rows with
         * 8 or more tail elements would round differently in the last bit by compiler. */
        VM_NO_VECTORIZE
        for (int64_t i = full; i < n; i++)
            yr[i] = (xr[i] - m) * is * scale[i] + (bias ? bias[i] : 0.0f);
        if (mean_out)
            mean_out[r] = m;
        if (istd_out)
            istd_out[r] = is;
    }
}
VM_DISPATCH_VOID(nnp_vlayernorm_rows, layernorm_rows_body,
                 (int64_t rows, int64_t n, float *y, const float *x, const float *scale,
                  const float *bias, float epsilon, float *mean_out, float *istd_out),
                 (rows, n, y, x, scale, bias, epsilon, mean_out, istd_out))
