/* kernels/simd/qgemm.c — the int8 matrix product and its requantizing epilogue
 * (layout and arithmetic: qgemm.h). */
#define _GNU_SOURCE /* syscall(): AMX's permission */
#include "kernels/simd/qgemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define MR NNP_QGEMM_MR
#define NR NNP_QGEMM_NR
/* AVX-512: k in blocks of QKC steps of 4 (96 x 192 bytes of B: 18 KiB, in L1), over
 * QCHUNK tiles of rows at a time, their sums kept in between (a block of B is read
 * from L2 once per 8 tiles, not once per tile) */
#define QKC 96
#define QCHUNK 8
/* AMX: rows of A a tile holds, k steps (of 64) of a block of B kept in L1 (8 x 3 KiB),
 * and tiles of rows per block */
#define AMX_ROWS 16
#define AMX_KC 8
#define AMX_CHUNK 4

#if defined(__x86_64__)
/* AMX-INT8 in the CPU (CPUID 7.0 EDX bits 24 and 25), its tile state enabled by the OS
 * (XCR0 bits 17 and 18), and this process allowed to use it (Linux asks for that once:
 * arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, feature 18) */
static int amx_usable(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17))
        return 0;
#if defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
#else
    return 0;
#endif
}
#endif

int nnp_qisa_supported(enum nnp_qisa isa)
{
    switch (isa) {
    case NNP_QISA_SCALAR: return 1;
#if defined(__x86_64__)
    case NNP_QISA_AVX2: return __builtin_cpu_supports("avx2") != 0;
    case NNP_QISA_AVXVNNI:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avxvnni");
    case NNP_QISA_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    case NNP_QISA_AMX: { /* (its epilogue is the AVX-512 one) */
        static int ok = -1;
        if (ok < 0)
            ok = nnp_qisa_supported(NNP_QISA_AVX512VNNI) && amx_usable();
        return ok;
    }
#endif
    default: return 0;
    }
}

enum nnp_qisa nnp_qisa_best(void)
{
    static int best = -1;
    if (best < 0) {
        int b = NNP_QISA_SCALAR;
        for (int i = NNP_QISA_AVX2; i < NNP_QISA_COUNT; i++)
            if (nnp_qisa_supported((enum nnp_qisa)i))
                b = i;
        best = b;
    }
    return (enum nnp_qisa)best;
}

const char *nnp_qisa_name(enum nnp_qisa isa)
{
    static const char *const names[] = {"scalar", "avx2", "avxvnni", "avx512vnni", "amx"};
    return isa >= 0 && isa < NNP_QISA_COUNT ? names[isa] : "?";
}

static int64_t k4_of(int64_t k)
{
    return (k + 3) / 4;
}

size_t nnp_qgemm_a_bytes(int64_t m, int64_t k)
{
    return (size_t)((m + MR - 1) / MR * MR) * (size_t)k4_of(k) * 4;
}

size_t nnp_qgemm_b_bytes(int64_t k, int64_t n)
{
    /* and AMX_ROWS groups of slack: AMX reads B 16 groups at a time, the last ones past
     * k (times A's zeros) */
    return (size_t)((n + NR - 1) / NR * NR) * (size_t)k4_of(k) * 4 + AMX_ROWS * NR * 4;
}

static int64_t lda_of(int64_t k)
{
    return (k + 63) / 64 * 64;
}

int64_t nnp_qgemm_a_rows_lda(int64_t k)
{
    return lda_of(k);
}

size_t nnp_qgemm_a_rows_bytes(int64_t m, int64_t k)
{
    return (size_t)(m + AMX_ROWS) * (size_t)lda_of(k);
}

void nnp_qgemm_pack_a_rows(const uint8_t *a, int64_t rs, int64_t m, int64_t k, uint8_t flip,
                           uint8_t *dst)
{
    int64_t lda = lda_of(k);
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *s = a + i * rs;
        uint8_t *d = dst + i * lda;
        int64_t p = 0;
#if defined(__SSE2__)
        __m128i fv = _mm_set1_epi8((char)flip);
        for (; p + 16 <= k; p += 16)
            _mm_storeu_si128((__m128i *)(d + p),
                             _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + p)), fv));
#endif
        for (; p < k; p++)
            d[p] = s[p] ^ flip;
        memset(d + k, 0, (size_t)(lda - k));
    }
    memset(dst + m * lda, 0, (size_t)(AMX_ROWS * lda));
}

void nnp_qgemm_pack_a(const uint8_t *a, int64_t rs, int64_t cs, int64_t m, int64_t k,
                      uint8_t flip, uint8_t *dst)
{
    int64_t k4 = k4_of(k);
    memset(dst, 0, nnp_qgemm_a_bytes(m, k));
    uint32_t flip4 = flip * 0x01010101u;
    int64_t i = 0;
#if defined(__SSE2__)
    /* whole panels of 8 rows, 16 k at a time: two 4 x 4 transposes of 32-bit lanes */
    if (cs == 1) {
        __m128i fv = _mm_set1_epi8((char)flip);
        for (; i + MR <= m; i += MR) {
            uint8_t *d = dst + (i / MR) * k4 * MR * 4;
            int64_t p = 0;
            for (; p + 16 <= k; p += 16, d += 4 * MR * 4) {
                __m128i r[MR];
                for (int t = 0; t < MR; t++)
                    r[t] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(a + (i + t) * rs + p)),
                                         fv);
                for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
                    __m128i t0 = _mm_unpacklo_epi32(r[4 * h], r[4 * h + 1]);
                    __m128i t1 = _mm_unpacklo_epi32(r[4 * h + 2], r[4 * h + 3]);
                    __m128i t2 = _mm_unpackhi_epi32(r[4 * h], r[4 * h + 1]);
                    __m128i t3 = _mm_unpackhi_epi32(r[4 * h + 2], r[4 * h + 3]);
                    /* k group q of rows 4h.. at d + q * 32 + h * 16 */
                    _mm_storeu_si128((__m128i *)(d + 0 * 32 + h * 16), _mm_unpacklo_epi64(t0, t1));
                    _mm_storeu_si128((__m128i *)(d + 1 * 32 + h * 16), _mm_unpackhi_epi64(t0, t1));
                    _mm_storeu_si128((__m128i *)(d + 2 * 32 + h * 16), _mm_unpacklo_epi64(t2, t3));
                    _mm_storeu_si128((__m128i *)(d + 3 * 32 + h * 16), _mm_unpackhi_epi64(t2, t3));
                }
            }
            for (int t = 0; t < MR; t++) /* the last k of each row */
                for (int64_t q = p; q < k; q++)
                    d[((q - p) / 4) * MR * 4 + t * 4 + (q - p) % 4] =
                        (uint8_t)(a[(i + t) * rs + q] ^ flip);
        }
    }
#endif
    for (; i < m; i++) {
        uint8_t *d = dst + (i / MR) * k4 * MR * 4 + (i % MR) * 4;
        int64_t p = 0;
        if (cs == 1) /* a row's 4 k at a time (what a MatMul's activations are) */
            for (; p + 4 <= k; p += 4, d += MR * 4) {
                uint32_t v;
                memcpy(&v, a + i * rs + p, 4);
                v ^= flip4;
                memcpy(d, &v, 4);
            }
        for (int64_t q = 0; p < k; p++, q++)
            d[(q / 4) * MR * 4 + q % 4] = (uint8_t)(a[i * rs + p * cs] ^ flip);
    }
}

/* rows p .. p+3 (all exist) and 16 columns from j (all exist) of a B whose rows are
 * contiguous, interleaved into 64 bytes of a panel */
#if defined(__SSE2__)
static void pack4x16(const uint8_t *b, int64_t rs, __m128i flip, uint8_t *d)
{
    __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)b), flip);
    __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(b + rs)), flip);
    __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(b + 2 * rs)), flip);
    __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(b + 3 * rs)), flip);
    __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
    __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
    _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(t0, t2));
    _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(t0, t2));
    _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(t1, t3));
    _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(t1, t3));
}
#endif

void nnp_qgemm_interleave4(const uint8_t *rows, int64_t rs, int64_t n, uint8_t flip,
                           uint8_t *dst)
{
    int64_t t = 0;
#if defined(__SSE2__)
    __m128i fv = _mm_set1_epi8((char)flip);
    for (; t + 16 <= n; t += 16)
        pack4x16(rows + t, rs, fv, dst + 4 * t);
    if (t < n && n >= 16) { /* the last 16, overlapping what is done */
        pack4x16(rows + n - 16, rs, fv, dst + 4 * (n - 16));
        return;
    }
    if (t < n && rs >= 16) { /* fewer than 16: the rows are read 16 wide (rs >= 16) */
        uint8_t tmp[64];
        pack4x16(rows, rs, fv, tmp);
        memcpy(dst, tmp, (size_t)(4 * n));
        return;
    }
#endif
    for (; t < n; t++)
        for (int c = 0; c < 4; c++)
            dst[4 * t + c] = (uint8_t)(rows[c * rs + t] ^ flip);
}

void nnp_qgemm_pack_b(const uint8_t *b, int64_t rs, int64_t cs, int64_t k, int64_t n,
                      uint8_t flip, uint8_t *dst)
{
    int64_t k4 = k4_of(k);
    for (int64_t u = 0; u * NR < n; u++) {
        uint8_t *pd = dst + u * k4 * NR * 4;
        int64_t jb = u * NR, je = jb + NR < n ? jb + NR : n;
        memset(pd, 0, (size_t)(k4 * NR * 4));
        int64_t p = 0;
#if defined(__SSE2__)
        if (cs == 1) { /* 4 rows x 16 columns at a time */
            __m128i fv = _mm_set1_epi8((char)flip);
            for (; p + 4 <= k; p += 4)
                for (int64_t j = jb; j + 16 <= je; j += 16)
                    pack4x16(b + p * rs + j, rs, fv, pd + (p / 4) * NR * 4 + (j - jb) * 4);
            /* the columns past the last 16 of those rows, below */
            int64_t jt = jb + (je - jb) / 16 * 16;
            for (int64_t q = 0; q < p; q++)
                for (int64_t j = jt; j < je; j++)
                    pd[(q / 4) * NR * 4 + (j - jb) * 4 + q % 4] = (uint8_t)(b[q * rs + j] ^ flip);
        }
#endif
        for (; p < k; p++)
            for (int64_t j = jb; j < je; j++)
                pd[(p / 4) * NR * 4 + (j - jb) * 4 + p % 4] = (uint8_t)(b[p * rs + j * cs] ^ flip);
    }
}

/* ------------------------------------------------------------------ scalar */

/* the epilogue of one sum (qgemm.h): the bits every ISA gives */
static int32_t requant(const struct nnp_qgemm *g, int64_t i, int64_t j, uint32_t acc)
{
    int64_t ch = g->per_col ? j : i;
    int32_t v = (int32_t)(acc + (uint32_t)g->off[ch]);
    float f = (float)v * g->mul[ch];
    if (g->cf) {
        if (g->cf_mul)
            f = f * g->cf_mul[ch] + g->cf_add[ch];
        if (g->cf_clamp) { /* Relu's and Clip's own comparisons: NaN and -0 pass */
            f = g->cf_lo > f ? g->cf_lo : f;
            f = g->cf_hi < f ? g->cf_hi : f;
        }
        g->cf[i * g->ldc + j] = f;
        return 0;
    }
    float flo = (float)(g->lo - g->zp), fhi = (float)(g->hi - g->zp);
    if (!(f >= flo))
        f = flo;
    if (f > fhi)
        f = fhi;
    return (int32_t)nearbyintf(f) + g->zp;
}

static void block_scalar(const struct nnp_qgemm *g, int64_t m0, int64_t m1, int64_t n0,
                         int64_t n1)
{
    int64_t k4 = k4_of(g->k);
    for (int64_t i = m0; i < m1; i++)
        for (int64_t j = n0; j < n1; j++) {
            const uint8_t *ap = g->lda ? g->a + i * g->lda
                                       : g->a + (i / MR) * k4 * MR * 4 + (i % MR) * 4;
            const uint8_t *bp = g->b + (j / NR) * k4 * NR * 4 + (j % NR) * 4;
            uint32_t acc = 0;
            for (int64_t s = 0; s < k4; s++, ap += g->lda ? 4 : MR * 4, bp += NR * 4)
                for (int q = 0; q < 4; q++) {
                    if (g->b_koff)
                        bp = g->b + (g->b_koff[s] + j) * 4;
                    if (g->b_tile)
                        bp = g->b + (g->b_tile[s / 16] + s % 16 * g->b_tile_stride + j) * 4;
                    int32_t av = g->a_signed ? (int8_t)ap[q] : ap[q];
                    int32_t bv = g->a_signed ? bp[q] : (int8_t)bp[q];
                    acc += (uint32_t)(av * bv);
                }
            int32_t q = requant(g, i, j, acc);
            if (!g->cf)
                g->c[i * g->ldc + j] = (uint8_t)q;
        }
}

#if defined(__x86_64__)
static int32_t load32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---------------------------------------------------------- AVX512-VNNI */

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE __attribute__((always_inline)) static inline

/* step s of B: the next packed group, or (koff) the group's place in the activation */
#define B_STEP(base, koff, s) ((koff) ? (base) + (int64_t)(koff)[s] * 4 : (base) + (s) * NR * 4)

/* One vector of 16 sums (row i, columns j.., mask mk) through the epilogue (qgemm.h):
 * off and mul are the row's or these columns' */
T512 INLINE void epi512(const struct nnp_qgemm *g, __m512i sum, int64_t i, int64_t j,
                        __mmask16 mk, __m512i off, __m512 mul)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sum, off)), mul);
    if (g->cf) {
        if (g->cf_mul) {
            __m512 a = g->per_col ? _mm512_maskz_loadu_ps(mk, g->cf_mul + j)
                                  : _mm512_set1_ps(g->cf_mul[i]);
            __m512 b = g->per_col ? _mm512_maskz_loadu_ps(mk, g->cf_add + j)
                                  : _mm512_set1_ps(g->cf_add[i]);
            f = _mm512_add_ps(_mm512_mul_ps(f, a), b);
        }
        if (g->cf_clamp) /* lo > f ? lo : f, then hi < f ? hi : f */
            f = _mm512_min_ps(_mm512_set1_ps(g->cf_hi), _mm512_max_ps(_mm512_set1_ps(g->cf_lo), f));
        _mm512_mask_storeu_ps(g->cf + i * g->ldc + j, mk, f);
        return;
    }
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps((float)(g->lo - g->zp))),
                      _mm512_set1_ps((float)(g->hi - g->zp)));
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(g->zp));
    _mm512_mask_cvtepi32_storeu_epi8(g->c + i * g->ldc + j, mk, q);
}

/* A tile of R rows (R constant once inlined; `rows` <= R of them stored) x 3 vectors of
 * 16 over the whole of k, its sums in registers from start to epilogue */
T512 INLINE void tile512(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,
                         int64_t k4, int64_t i0, int rows, int64_t j0, int nc, const int R,
                         const int32_t *koff)
{
    __m512i acc[MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        for (int v = 0; v < 3; v++)
            acc[r][v] = _mm512_setzero_si512();
    if (g->a_signed) {
        for (int64_t s = 0; s < k4; s++, ap += MR * 4) {
            const uint8_t *b = B_STEP(bp, koff, s);
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64),
                    b2 = _mm512_loadu_si512(b + 128);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m512i av = _mm512_set1_epi32(load32(ap + r * 4));
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b0, av);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b1, av);
                acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], b2, av);
            }
        }
    } else {
        for (int64_t s = 0; s < k4; s++, ap += MR * 4) {
            const uint8_t *b = B_STEP(bp, koff, s);
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64),
                    b2 = _mm512_loadu_si512(b + 128);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m512i av = _mm512_set1_epi32(load32(ap + r * 4));
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
                acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, b2);
            }
        }
    }
    /* the epilogue, unrolled over the tile (the sums stay in registers): a column
     * vector's mask, and per-column parameters, once for all rows */
    __mmask16 mk[3];
    __m512i coff[3];
    __m512 cmul[3];
    for (int v = 0; v < 3; v++) {
        int cnt = nc - 16 * v;
        mk[v] = cnt >= 16 ? (__mmask16)0xFFFF : cnt <= 0 ? 0 : (__mmask16)((1u << cnt) - 1);
        if (g->per_col) {
            coff[v] = _mm512_maskz_loadu_epi32(mk[v], g->off + j0 + 16 * v);
            cmul[v] = _mm512_maskz_loadu_ps(mk[v], g->mul + j0 + 16 * v);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if (r >= rows)
            continue;
        int64_t i = i0 + r;
        __m512i roff = g->per_col ? _mm512_setzero_si512() : _mm512_set1_epi32(g->off[i]);
        __m512 rmul = g->per_col ? _mm512_setzero_ps() : _mm512_set1_ps(g->mul[i]);
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            if (mk[v])
                epi512(g, acc[r][v], i, j0 + 16 * v, mk[v], g->per_col ? coff[v] : roff,
                       g->per_col ? cmul[v] : rmul);
    }
}

/* Steps [s0, s1) of a tile of 8 rows into part (8 x 48 int32), starting from part
 * (from_part) or from 0: blocks of k for the large-k products. Written with 24 named
 * accumulators: with an array GCC keeps a copy of the sums on the stack every step once
 * they come from or go to memory. */
#define FOR8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define P_DECL(r) __m512i c##r##0, c##r##1, c##r##2;
#define P_ZERO(r) c##r##0 = c##r##1 = c##r##2 = _mm512_setzero_si512();
#define P_LOAD(r)                                                                            \
    c##r##0 = _mm512_load_si512(part + (r * 3 + 0) * 16);                                    \
    c##r##1 = _mm512_load_si512(part + (r * 3 + 1) * 16);                                    \
    c##r##2 = _mm512_load_si512(part + (r * 3 + 2) * 16);
#define P_STORE(r)                                                                           \
    _mm512_store_si512(part + (r * 3 + 0) * 16, c##r##0);                                    \
    _mm512_store_si512(part + (r * 3 + 1) * 16, c##r##1);                                    \
    _mm512_store_si512(part + (r * 3 + 2) * 16, c##r##2);
#define P_STEP_S(r) /* A int8 (broadcast), B uint8 */                                          \
    {                                                                                        \
        __m512i av = _mm512_set1_epi32(load32(ap + r * 4));                                  \
        c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, av);                                      \
        c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, av);                                      \
        c##r##2 = _mm512_dpbusd_epi32(c##r##2, b2, av);                                      \
    }
#define P_STEP_U(r) /* A uint8 (broadcast), B int8 */                                          \
    {                                                                                        \
        __m512i av = _mm512_set1_epi32(load32(ap + r * 4));                                  \
        c##r##0 = _mm512_dpbusd_epi32(c##r##0, av, b0);                                      \
        c##r##1 = _mm512_dpbusd_epi32(c##r##1, av, b1);                                      \
        c##r##2 = _mm512_dpbusd_epi32(c##r##2, av, b2);                                      \
    }

T512 static void part512(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,
                         int64_t s0, int64_t s1, bool from_part, int32_t *part)
{
    FOR8(P_DECL)
    if (from_part) {
        FOR8(P_LOAD)
    } else {
        FOR8(P_ZERO)
    }
    const int32_t *koff = g->b_koff;
    ap += s0 * MR * 4;
    if (g->a_signed)
        for (int64_t s = s0; s < s1; s++, ap += MR * 4) {
            const uint8_t *b = B_STEP(bp, koff, s);
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64),
                    b2 = _mm512_loadu_si512(b + 128);
            FOR8(P_STEP_S)
        }
    else
        for (int64_t s = s0; s < s1; s++, ap += MR * 4) {
            const uint8_t *b = B_STEP(bp, koff, s);
            __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64),
                    b2 = _mm512_loadu_si512(b + 128);
            FOR8(P_STEP_U)
        }
    FOR8(P_STORE)
}

/* the epilogue of a tile whose sums are in part (after its last block of k) */
T512 static void part512_store(const struct nnp_qgemm *g, const int32_t *part, int64_t i0,
                               int rows, int64_t j0, int nc)
{
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        for (int v = 0; v < 3 && nc > 16 * v; v++) {
            int cnt = nc - 16 * v;
            __mmask16 mk = cnt >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1);
            int64_t j = j0 + 16 * v;
            __m512i off = g->per_col ? _mm512_maskz_loadu_epi32(mk, g->off + j)
                                     : _mm512_set1_epi32(g->off[i]);
            __m512 mul = g->per_col ? _mm512_maskz_loadu_ps(mk, g->mul + j)
                                    : _mm512_set1_ps(g->mul[i]);
            epi512(g, _mm512_load_si512(part + (r * 3 + v) * 16), i, j, mk, off, mul);
        }
    }
}

#define TILE512(R)                                                                             \
    T512 static void tile512_##R(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp, \
                                 int64_t k4, int64_t i0, int rows, int64_t j0, int nc)         \
    {                                                                                          \
        tile512(g, ap, bp, k4, i0, rows, j0, nc, R, NULL);                                     \
    }                                                                                          \
    T512 static void tile512_in_##R(const struct nnp_qgemm *g, const uint8_t *ap,              \
                                    const uint8_t *bp, int64_t k4, int64_t i0, int rows,       \
                                    int64_t j0, int nc)                                        \
    {                                                                                          \
        tile512(g, ap, bp, k4, i0, rows, j0, nc, R, g->b_koff);                                \
    }
TILE512(1)
TILE512(2)
TILE512(4)
TILE512(8)

/* ------------------------------------------------------------------- AMX */

/* A tile of 16 rows x 48 columns as three tiles of 16 x 16 sums (tmm0-2), from A's
 * rows (tmm3: 16 rows x 64 k, lda apart) and a panel of B (tmm4-6: 16 groups of 4 k x
 * 16 columns, the panel's rows of 192 bytes read 64 bytes at a time, or, b_tile, rows
 * b_tile_stride lanes apart in place): tdpbusd (u8 x s8) or, a_signed, tdpbsud, the
 * sums exact as vpdpbusd's. k runs in blocks of AMX_KC steps of 64 over
 * AMX_CHUNK tiles of rows, their sums in memory in between (tileloadd / tilestored),
 * so that B's block is read from L1 by all of them. Past k, A is zero: the groups of B
 * read there (the next panel's, or the slack nnp_qgemm_b_bytes leaves) add nothing. */
#define TAMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni")))

struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* The tiles' shapes (all 16 x 64 bytes), loaded once per thread and kept: ldtilecfg
 * costs about as much as a small product (~100 ns), and nothing else here changes them. */
static _Thread_local bool amx_configured;

TAMX static void amx_configure(void)
{
    struct amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 7; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    amx_configured = true;
}

/* steps [s0, s1) of 64 k into tmm0-2 (nt of them): A's rows at ap, B's at bp (packed
 * panel) or at its tiles' places; SIGNED (a constant once inlined): A int8, B uint8 */
TAMX __attribute__((always_inline)) static inline void
amx_steps(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp, int64_t bs,
          int64_t s0, int64_t s1, int nt, const bool SIGNED)
{
    for (int64_t s = s0; s < s1; s++) {
        const uint8_t *b = g->b_tile ? bp + (int64_t)g->b_tile[s] * 4 : bp + s * 16 * NR * 4;
        _tile_loadd(3, ap + s * 64, g->lda);
        _tile_loadd(4, b, bs);
        if (SIGNED)
            _tile_dpbsud(0, 3, 4);
        else
            _tile_dpbusd(0, 3, 4);
        if (nt > 1) {
            _tile_loadd(5, b + 64, bs);
            if (SIGNED)
                _tile_dpbsud(1, 3, 5);
            else
                _tile_dpbusd(1, 3, 5);
        }
        if (nt > 2) {
            _tile_loadd(6, b + 128, bs);
            if (SIGNED)
                _tile_dpbsud(2, 3, 6);
            else
                _tile_dpbusd(2, 3, 6);
        }
    }
}

TAMX static void block_amx(const struct nnp_qgemm *g, int64_t m0, int64_t m1, int64_t n0,
                           int64_t n1)
{
    if (!amx_configured)
        amx_configure();
    int64_t k4 = k4_of(g->k), ks = lda_of(g->k) / 64, lda = g->lda;
    int32_t part[AMX_CHUNK][AMX_ROWS * NR] __attribute__((aligned(64)));
    for (int64_t j0 = n0; j0 < n1; j0 += NR) {
        int nc = (int)(n1 - j0 < NR ? n1 - j0 : NR);
        int nt = (nc + 15) / 16; /* tiles of 16 columns */
        const uint8_t *bp = g->b + (j0 / NR) * k4 * NR * 4;
        int64_t bs = NR * 4; /* B's row stride */
        if (g->b_tile) {
            bp = g->b + j0 * 4;
            bs = g->b_tile_stride * 4;
        }
        for (int64_t c0 = m0; c0 < m1; c0 += AMX_CHUNK * AMX_ROWS) {
            int64_t c1 = c0 + AMX_CHUNK * AMX_ROWS < m1 ? c0 + AMX_CHUNK * AMX_ROWS : m1;
            for (int64_t s0 = 0; s0 < ks; s0 += AMX_KC) {
                int64_t s1 = s0 + AMX_KC < ks ? s0 + AMX_KC : ks;
                for (int64_t i0 = c0; i0 < c1; i0 += AMX_ROWS) {
                    int32_t *pt = part[(i0 - c0) / AMX_ROWS];
                    if (s0 == 0) {
                        _tile_zero(0);
                        _tile_zero(1);
                        _tile_zero(2);
                    } else {
                        _tile_loadd(0, pt, NR * 4);
                        _tile_loadd(1, pt + 16, NR * 4);
                        _tile_loadd(2, pt + 32, NR * 4);
                    }
                    const uint8_t *ap = g->a + i0 * lda;
                    if (g->a_signed)
                        amx_steps(g, ap, bp, bs, s0, s1, nt, true);
                    else
                        amx_steps(g, ap, bp, bs, s0, s1, nt, false);
                    _tile_stored(0, pt, NR * 4);
                    _tile_stored(1, pt + 16, NR * 4);
                    _tile_stored(2, pt + 32, NR * 4);
                    if (s1 == ks) {
                        int rows = (int)(c1 - i0 < AMX_ROWS ? c1 - i0 : AMX_ROWS);
                        part512_store(g, pt, i0, rows, j0, nc);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------- AVX-VNNI and AVX2 (ymm) */

/* Sub-tiles of 4 rows x 16 columns (2 ymm a row: 8 sums, 16 registers in all), six to
 * a tile of 8 x 48. The epilogue is the AVX-512 one's arithmetic on 8 lanes. */
#define T256 __attribute__((target("avx2")))
#define TVNNI __attribute__((target("avx2,avxvnni")))

T256 INLINE void store256(const struct nnp_qgemm *g, __m256i acc, int64_t i, int64_t j, int cnt)
{
    __m256i off;
    __m256 mul;
    if (g->per_col) {
        int32_t ob[8] = {0};
        float mb[8] = {0};
        memcpy(ob, g->off + j, (size_t)cnt * sizeof *ob);
        memcpy(mb, g->mul + j, (size_t)cnt * sizeof *mb);
        off = _mm256_loadu_si256((const __m256i *)ob);
        mul = _mm256_loadu_ps(mb);
    } else {
        off = _mm256_set1_epi32(g->off[i]);
        mul = _mm256_set1_ps(g->mul[i]);
    }
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, off)), mul);
    if (g->cf) {
        float fb[8];
        if (g->cf_mul) {
            float ab[8] = {0}, bb[8] = {0};
            for (int t = 0; t < cnt; t++) {
                ab[t] = g->cf_mul[g->per_col ? j + t : i];
                bb[t] = g->cf_add[g->per_col ? j + t : i];
            }
            f = _mm256_add_ps(_mm256_mul_ps(f, _mm256_loadu_ps(ab)), _mm256_loadu_ps(bb));
        }
        if (g->cf_clamp) /* lo > f ? lo : f, then hi < f ? hi : f */
            f = _mm256_min_ps(_mm256_set1_ps(g->cf_hi),
                              _mm256_max_ps(_mm256_set1_ps(g->cf_lo), f));
        _mm256_storeu_ps(fb, f);
        memcpy(g->cf + i * g->ldc + j, fb, (size_t)cnt * sizeof *fb);
        return;
    }
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)(g->lo - g->zp))),
                      _mm256_set1_ps((float)(g->hi - g->zp)));
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(g->zp));
    int32_t out[8];
    _mm256_storeu_si256((__m256i *)out, q);
    uint8_t *c = g->c + i * g->ldc + j;
    for (int t = 0; t < cnt; t++)
        c[t] = (uint8_t)out[t];
}

T256 INLINE void sub_store(const struct nnp_qgemm *g, __m256i acc[4][2], int R, int64_t i0,
                           int rows, int64_t j0, int nc)
{
    for (int r = 0; r < R && r < rows; r++)
        for (int h = 0; h < 2; h++) {
            int cnt = nc - 8 * h;
            if (cnt <= 0)
                break;
            store256(g, acc[r][h], i0 + r, j0 + 8 * h, cnt > 8 ? 8 : cnt);
        }
}

/* the sub-tile at rows i0 (ap: its first row's bytes), columns j0 (bp: its 16 columns) */
TVNNI INLINE void sub_vnni(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,
                           int64_t k4, int64_t i0, int rows, int64_t j0, int nc, const int R,
                           const int32_t *koff)
{
    __m256i acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const uint8_t *base = bp;
    for (int64_t s = 0; s < k4; s++, ap += MR * 4) {
        const uint8_t *b = B_STEP(base, koff, s);
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i av = _mm256_set1_epi32(load32(ap + r * 4));
            if (g->a_signed) {
                acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], b0, av);
                acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], b1, av);
            } else {
                acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, b0);
                acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, b1);
            }
        }
    }
    sub_store(g, acc, R, i0, rows, j0, nc);
}

/* vpdpbusd of 4 x (u8 x s8) per lane, exactly: even and odd bytes widened to 16 bits,
 * multiplied and paired by vpmaddwd (no saturation: |255 x 128| + |255 x 128| < 2^31) */
T256 INLINE void split_u(__m256i u, __m256i *e, __m256i *o)
{
    *e = _mm256_and_si256(u, _mm256_set1_epi16(0x00FF));
    *o = _mm256_srli_epi16(u, 8);
}

T256 INLINE void split_s(__m256i s, __m256i *e, __m256i *o)
{
    *e = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8);
    *o = _mm256_srai_epi16(s, 8);
}

T256 INLINE __m256i dp2(__m256i acc, __m256i ue, __m256i uo, __m256i se, __m256i so)
{
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(ue, se));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(uo, so));
}

T256 INLINE void sub_avx2(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,
                          int64_t k4, int64_t i0, int rows, int64_t j0, int nc, const int R,
                          const int32_t *koff)
{
    __m256i acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    bool as = g->a_signed;
    const uint8_t *base = bp;
    for (int64_t s = 0; s < k4; s++, ap += MR * 4) {
        const uint8_t *b = B_STEP(base, koff, s);
        __m256i b0e, b0o, b1e, b1o;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        if (as) {
            split_u(b0, &b0e, &b0o);
            split_u(b1, &b1e, &b1o);
        } else {
            split_s(b0, &b0e, &b0o);
            split_s(b1, &b1e, &b1o);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i ae, ao, av = _mm256_set1_epi32(load32(ap + r * 4));
            if (as)
                split_s(av, &ae, &ao);
            else
                split_u(av, &ae, &ao);
            acc[r][0] = dp2(acc[r][0], ae, ao, b0e, b0o);
            acc[r][1] = dp2(acc[r][1], ae, ao, b1e, b1o);
        }
    }
    sub_store(g, acc, R, i0, rows, j0, nc);
}

#define SUB_FN(name, target, body, R, koff)                                                     \
    target static void name(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,      \
                            int64_t k4, int64_t i0, int rows, int64_t j0, int nc)              \
    {                                                                                          \
        body(g, ap, bp, k4, i0, rows, j0, nc, R, koff);                                        \
    }
#define SUB_FNS(name, target, body)                                                             \
    SUB_FN(name##_1, target, body, 1, NULL)                                                    \
    SUB_FN(name##_2, target, body, 2, NULL)                                                    \
    SUB_FN(name##_4, target, body, 4, NULL)                                                    \
    SUB_FN(name##_in_1, target, body, 1, g->b_koff)                                            \
    SUB_FN(name##_in_2, target, body, 2, g->b_koff)                                            \
    SUB_FN(name##_in_4, target, body, 4, g->b_koff)
SUB_FNS(vnni256, TVNNI, sub_vnni)
SUB_FNS(avx2, T256, sub_avx2)
#endif /* __x86_64__ */

typedef void (*tile_fn)(const struct nnp_qgemm *g, const uint8_t *ap, const uint8_t *bp,
                        int64_t k4, int64_t i0, int rows, int64_t j0, int nc);

void nnp_qgemm_block(enum nnp_qisa isa, const struct nnp_qgemm *g, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1)
{
    if (m0 >= m1 || n0 >= n1)
        return;
#if defined(__x86_64__)
    if (g->lda) { /* A in rows: AMX's */
        if (isa == NNP_QISA_AMX && !g->b_koff && nnp_qisa_supported(isa)) /* (asks for it) */
            block_amx(g, m0, m1, n0, n1);
        else
            block_scalar(g, m0, m1, n0, n1);
        return;
    }
    if (isa == NNP_QISA_AMX) /* A in panels: the vector kernels' */
        isa = NNP_QISA_AVX512VNNI;
    if (isa != NNP_QISA_SCALAR) {
        int64_t k4 = k4_of(g->k);
        bool wide = isa == NNP_QISA_AVX512VNNI;
        static const tile_fn t512[2][8] = {
            {tile512_1, tile512_2, tile512_4, tile512_4, tile512_8, tile512_8, tile512_8,
             tile512_8},
            {tile512_in_1, tile512_in_2, tile512_in_4, tile512_in_4, tile512_in_8,
             tile512_in_8, tile512_in_8, tile512_in_8}};
        static const tile_fn tvnni[2][4] = {{vnni256_1, vnni256_2, vnni256_4, vnni256_4},
                                            {vnni256_in_1, vnni256_in_2, vnni256_in_4,
                                             vnni256_in_4}};
        static const tile_fn tavx2[2][4] = {{avx2_1, avx2_2, avx2_4, avx2_4},
                                            {avx2_in_1, avx2_in_2, avx2_in_4, avx2_in_4}};
        int in = g->b_koff != NULL;
        for (int64_t j0 = n0; j0 < n1; j0 += NR) {
            int nc = (int)(n1 - j0 < NR ? n1 - j0 : NR);
            const uint8_t *bp = in ? g->b + j0 * 4 : g->b + (j0 / NR) * k4 * NR * 4;
            if (wide) { /* blocks of QKC steps over QCHUNK tiles: B's block stays in L1 */
                int32_t part[QCHUNK][MR * NR] __attribute__((aligned(64)));
                for (int64_t c0 = m0; c0 < m1; c0 += QCHUNK * MR) {
                    int64_t c1 = c0 + QCHUNK * MR < m1 ? c0 + QCHUNK * MR : m1;
                    /* (one tile of rows reuses no block of B: its registers' tile, of
                       as many rows as it has, over the whole k) */
                    int64_t kc = k4 <= QKC + QKC / 2 || c1 - c0 <= MR ? k4 : QKC;
                    for (int64_t s0 = 0; s0 < k4; s0 += kc) {
                        int64_t s1 = k4 - (s0 + kc) < kc / 2 ? k4 : s0 + kc;
                        for (int64_t i0 = c0; i0 < c1; i0 += MR) {
                            int rows = (int)(c1 - i0 < MR ? c1 - i0 : MR);
                            const uint8_t *ap = g->a + (i0 / MR) * k4 * MR * 4;
                            int32_t *pt = part[(i0 - c0) / MR];
                            if (s0 == 0 && s1 == k4) { /* one block: the registers' tile */
                                t512[in][rows - 1](g, ap, bp, k4, i0, rows, j0, nc);
                                continue;
                            }
                            part512(g, ap, bp, s0, s1, s0 > 0, pt);
                            if (s1 == k4)
                                part512_store(g, pt, i0, rows, j0, nc);
                        }
                        if (s1 == k4)
                            break;
                    }
                }
                continue;
            }
            for (int64_t i0 = m0; i0 < m1; i0 += MR) {
                int rows = (int)(m1 - i0 < MR ? m1 - i0 : MR);
                const uint8_t *ap = g->a + (i0 / MR) * k4 * MR * 4;
                const tile_fn *t = isa == NNP_QISA_AVXVNNI ? tvnni[in] : tavx2[in];
                for (int h = 0; h * 4 < rows; h++) { /* 4 rows, then the next 4 */
                    int rh = rows - 4 * h < 4 ? rows - 4 * h : 4;
                    for (int v = 0; v * 16 < nc; v++)
                        t[rh - 1](g, ap + 16 * h, bp + 64 * v, k4, i0 + 4 * h, rh, j0 + 16 * v,
                                  nc - 16 * v < 16 ? nc - 16 * v : 16);
                }
            }
        }
        return;
    }
#else
    (void)isa;
#endif
    block_scalar(g, m0, m1, n0, n1);
}
