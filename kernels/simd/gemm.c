/* kernels/simd/gemm.c — the fp32 matrix product and its micro-kernels (see gemm.h). */
#include "kernels/simd/gemm.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/status.h"
#include "kernels/threads.h"

#define MR NNP_GEMM_MR
#define NR NNP_GEMM_NR
#define KC NNP_GEMM_KC
#define KC_MAX (KC + KC / 4) /* the longest block of k (nnp_gemm_kc) */
/* panels of B packed together when the loop over k is outside (A_L2_BYTES): 8 x 24 KiB,
 * in L2 with the slice of A */
#define NC_PANELS 8

/* A product below this many multiply-adds stays on the calling thread: handing work
 * to the pool and waiting for it costs a few microseconds, what about 2^18
 * multiply-adds take at this kernel's speed. */
#define GEMM_PAR_MIN_MACS (1 << 18)
/* Items per thread when a product is split: the pool hands them out one at a time,
 * so a thread the machine delays leaves its share to the other. */
#define GEMM_ITEMS_PER_THREAD 4

/* One micro-kernel call beyond A and B: where its tile of C is, how much of it is
 * real, and, on the last block of k, the epilogue at the tile. */
struct tile {
    float *c;     /* the tile's first element; rows ldc apart */
    int64_t ldc;
    int mv, nv;   /* real rows (<= MR) and columns (<= NR); the rest is never touched */
    bool add_c;   /* not the first block of k: add onto what C holds */
    bool last;    /* the last block of k: apply the epilogue */
    float scale;
    const float *bias_m, *bias_n, *res; /* at the tile, or NULL */
    const float *mul_m, *add_m, *mul_n, *add_n; /* at the tile, or NULL (in pairs) */
    int64_t ldr;
    enum nnp_act_kind act; /* applied here: NONE, RELU, LEAKY_RELU or CLIP */
    float alpha, beta;
    const int64_t *brow; /* B row p at b + brow[p] (nnp_gemm.b_rows), or NULL: b + p*ldb */
    const uint16_t *bmask; /* with brow, or NULL: the panel's masks (nnp_gemm.b_mask), 3 */
    int64_t brun, bk0;     /* for row p at bmask + 3 * ((bk0 + p) / brun) */
    const float *pf; /* cache lines to prefetch, one per step of k (pf_lines of them): */
    int pf_lines;    /* the next operand that comes from memory (nnp_gemm_block_isa) */
    int64_t pf_ld;   /* floats from one line to the next: 16, or B's ldb (a line per row) */
};

/* The activations applied in registers: those whose comparisons the SIMD code can
 * mirror exactly (kernels/ops/op_unary.c's relu_f, leakyrelu_f, clip_f). The others
 * go through nnp_act_apply() on the stored tile. */
static bool act_in_kernel(enum nnp_act_kind k)
{
    return k == NNP_ACT_NONE || k == NNP_ACT_RELU || k == NNP_ACT_LEAKY_RELU ||
           k == NNP_ACT_CLIP;
}

/* --- portable C: the reference the SIMD kernels are tested against --- */

static float act_scalar(const struct tile *t, float x)
{
    switch (t->act) {
    case NNP_ACT_RELU: return 0.0f > x ? 0.0f : x;
    case NNP_ACT_LEAKY_RELU: return x * (x < 0.0f ? t->alpha : 1.0f);
    case NNP_ACT_CLIP:
        x = x < t->alpha ? t->alpha : x;
        return x > t->beta ? t->beta : x;
    default: return x;
    }
}

/* A element (i, p): packed a[p*MR + i], rows a[i*lda + p] */
static void kernel_scalar(bool packed, int64_t kc, const float *a, int64_t lda, const float *b,
                          int64_t ldb, const struct tile *t)
{
    float acc[MR][NR];
    for (int i = 0; i < t->mv; i++)
        for (int j = 0; j < t->nv; j++)
            acc[i][j] = 0.0f;
    for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < t->mv; i++) {
            float av = packed ? a[p * MR + i] : a[i * lda + p];
            for (int j = 0; j < t->nv; j++)
                acc[i][j] += av * (t->bmask &&
                                           !(t->bmask[3 * ((t->bk0 + p) / t->brun) + j / 16] >>
                                                 j % 16 &
                                             1)
                                       ? 0.0f
                                       : (t->brow ? b + t->brow[p] : b + p * ldb)[j]);
        }
    for (int i = 0; i < t->mv; i++)
        for (int j = 0; j < t->nv; j++) {
            float x = acc[i][j];
            float *c = t->c + i * t->ldc + j;
            if (t->add_c)
                x += *c;
            if (t->last) {
                if (t->scale != 1.0f)
                    x *= t->scale;
                if (t->bias_m)
                    x += t->bias_m[i];
                if (t->bias_n)
                    x += t->bias_n[j];
                if (t->mul_m)
                    x = x * t->mul_m[i] + t->add_m[i];
                if (t->mul_n)
                    x = x * t->mul_n[j] + t->add_n[j];
                if (t->res)
                    x += t->res[i * t->ldr + j];
                x = act_scalar(t, x);
            }
            *c = x;
        }
}

/* --- AVX-512: an 8 x 48 tile in 24 zmm --- */

#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

AVX512 __m512 act512(const struct tile *t, __m512 x)
{
    const __m512 zero = _mm512_setzero_ps();
    switch (t->act) {
    case NNP_ACT_RELU: return _mm512_max_ps(zero, x); /* 0 > x ? 0 : x */
    case NNP_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
        return _mm512_mul_ps(x, _mm512_mask_blend_ps(neg, _mm512_set1_ps(1.0f),
                                                     _mm512_set1_ps(t->alpha)));
    }
    case NNP_ACT_CLIP:
        x = _mm512_max_ps(_mm512_set1_ps(t->alpha), x); /* x < lo ? lo : x */
        return _mm512_min_ps(_mm512_set1_ps(t->beta), x); /* x > hi ? hi : x */
    default: return x;
    }
}

#if defined(__x86_64__)
/* Masked tiles of 8 rows (b_mask): out (8 rows of NR floats, the first 16 * NV real) =
 * A (packed, kc steps) . B (row p at b + brow[p], NV vectors), the rows of B in runs that
 * share their masks (the first run has `left` rows and its masks at mk, the next runs
 * `run` rows and the next masks each). Written out because GCC, given the masks in C,
 * keeps them in general registers and moves each into a mask register on every step:
 * a uop on an FMA port per vector of B (11% of the testdata CNN's 28 x 28 layers).
 * A line from pf on is prefetched per step, up to pf_end (the tile's t->pf). kc > 0,
 * left > 0. Row i, vector v accumulates in zmm(3i + v), stored at out + 16 * (3i + v);
 * B's vectors are zmm24..26, A's broadcast zmm27. */
#define MZ(acc) "vpxord %%zmm" #acc ", %%zmm" #acc ", %%zmm" #acc "\n\t"
#define MS(acc) "vmovups %%zmm" #acc ", " #acc "*64(%[out])\n\t"
#define MB(i) "vbroadcastss " #i "*4(%[a]), %%zmm27\n\t"
#define MF(v, acc) "vfmadd231ps %%zmm" #v ", %%zmm27, %%zmm" #acc "\n\t"
#define ML(v, k) "vmovups " #k "*64-64(%[t]), %%zmm" #v "%{%%k" #k "%}%{z%}\n\t"
#define MROW1(i, a) MB(i) MF(24, a)
#define MROW2(i, a, b) MROW1(i, a) MF(25, b)
#define MROW3(i, a, b, c) MROW2(i, a, b) MF(26, c)
#define MTILE1(X) X(0, 0) X(1, 3) X(2, 6) X(3, 9) X(4, 12) X(5, 15) X(6, 18) X(7, 21)
#define MTILE2(X) X(0, 0, 1) X(1, 3, 4) X(2, 6, 7) X(3, 9, 10) X(4, 12, 13) X(5, 15, 16) \
                  X(6, 18, 19) X(7, 21, 22)
#define MTILE3(X) X(0, 0, 1, 2) X(1, 3, 4, 5) X(2, 6, 7, 8) X(3, 9, 10, 11) X(4, 12, 13, 14) \
                  X(5, 15, 16, 17) X(6, 18, 19, 20) X(7, 21, 22, 23)
#define MZ1(i, a) MZ(a)
#define MZ2(i, a, b) MZ(a) MZ(b)
#define MZ3(i, a, b, c) MZ(a) MZ(b) MZ(c)
#define MS1(i, a) MS(a)
#define MS2(i, a, b) MS(a) MS(b)
#define MS3(i, a, b, c) MS(a) MS(b) MS(c)
#define ML1 ML(24, 1)
#define ML2 ML1 ML(25, 2)
#define ML3 ML2 ML(26, 3)
/* a run: its masks, then min(left, kc) steps, each B's row (masked) then A's 8 */
#define MRUN                                                                                       \
    "1:\n\t"                                                                                       \
    "kmovw (%[mk]), %%k1\n\t"                                                                      \
    "kmovw 2(%[mk]), %%k2\n\t"                                                                     \
    "kmovw 4(%[mk]), %%k3\n\t"                                                                     \
    "add $6, %[mk]\n\t"                                                                            \
    "cmp %[kc], %[left]\n\t"                                                                       \
    "cmovg %[kc], %[left]\n\t"                                                                     \
    "sub %[left], %[kc]\n\t"                                                                       \
    "2:\n\t"                                                                                       \
    "prefetcht0 (%[pf])\n\t"                                                                       \
    "lea 64(%[pf]), %[t]\n\t"                                                                      \
    "cmp %[pf_end], %[t]\n\t"                                                                      \
    "cmovb %[t], %[pf]\n\t"                                                                        \
    "mov (%[brow]), %[t]\n\t"                                                                      \
    "add $8, %[brow]\n\t"                                                                          \
    "lea (%[b],%[t],4), %[t]\n\t"
#define MNEXT                                                                                      \
    "add $32, %[a]\n\t"                                                                            \
    "dec %[left]\n\t"                                                                              \
    "jnz 2b\n\t"                                                                                   \
    "mov %[run], %[left]\n\t"                                                                      \
    "test %[kc], %[kc]\n\t"                                                                        \
    "jnz 1b\n\t"
#define MASKED_TILE(NV)                                                                            \
    __attribute__((target("avx512f"))) static void masked_8x##NV(                                 \
        int64_t kc, const float *a, const int64_t *brow, const float *b, const uint16_t *mk,      \
        int64_t left, int64_t run, const float *pf, const float *pf_end, float *out)              \
    {                                                                                              \
        int64_t t;                                                                                 \
        __asm__ volatile(MTILE##NV(MZ##NV) MRUN ML##NV MTILE##NV(MROW##NV) MNEXT                  \
                         MTILE##NV(MS##NV)                                                         \
                         : [a] "+r"(a), [brow] "+r"(brow), [mk] "+r"(mk), [left] "+r"(left),      \
                           [kc] "+r"(kc), [t] "=&r"(t), [pf] "+r"(pf)                              \
                         : [b] "r"(b), [run] "r"(run), [pf_end] "r"(pf_end), [out] "r"(out)       \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",        \
                           "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",  \
                           "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",         \
                           "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "k1", "k2", "k3", "cc",   \
                           "memory");                                                              \
    }
MASKED_TILE(1)
MASKED_TILE(2)
MASKED_TILE(3)
#undef MZ
#undef MS
#undef MB
#undef MF
#undef ML
#undef MROW1
#undef MROW2
#undef MROW3
#undef MTILE1
#undef MTILE2
#undef MTILE3
#undef MZ1
#undef MZ2
#undef MZ3
#undef MS1
#undef MS2
#undef MS3
#undef ML1
#undef ML2
#undef ML3
#undef MRUN
#undef MNEXT
#undef MASKED_TILE
#endif

/* NV vectors of 16 columns (1..3), ROWS rows (1, 2, 4 or 8: a tile of mv rows runs the
 * smallest that holds them, so that 49 rows cost 6 tiles and a row, not 7 tiles), A
 * packed or rows: inlined into wrappers so that the accumulators stay in registers. */
AVX512 void body512(const int NV, const bool packed, const bool full, const int ROWS,
                    const bool ind, const bool msk, int64_t kc, const float *a, int64_t lda,
                    const float *b, int64_t ldb, const struct tile *t)
{
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            acc[i][v] = _mm512_setzero_ps();
    int rest = t->nv - 16 * (NV - 1); /* columns in the last vector, 1..16 */
    __mmask16 ml = (__mmask16)(rest >= 16 ? 0xffff : (1u << rest) - 1);
    /* rows past mv (rows of A that do not exist) read the last real one instead */
    const float *ar[MR];
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++)
        ar[i] = packed ? a + i : a + (i < t->mv ? i : t->mv - 1) * lda;
    const int64_t cs = packed ? MR : 1;
#if defined(__x86_64__)
    if (msk && ROWS == 8 && kc > 0) {
        float out[MR * NR] __attribute__((aligned(64)));
        (NV == 1 ? masked_8x1 : NV == 2 ? masked_8x2 : masked_8x3)(
            kc, a, t->brow, b, t->bmask + 3 * (t->bk0 / t->brun), t->brun - t->bk0 % t->brun,
            t->brun, t->pf_lines > 0 ? t->pf : a,
            t->pf_lines > 0 ? t->pf + 16 * (t->pf_lines - 1) : a, out);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_load_ps(out + 16 * (3 * i + v));
        kc = 0; /* the loop below has nothing left to do */
    }
#endif
    /* masked: rows in runs that share their masks, loaded once per run */
    int64_t p = 0, run = msk ? t->bk0 / t->brun : 0, left = msk ? t->brun - t->bk0 % t->brun : kc;
    __mmask16 m0 = 0xffff, m1 = 0xffff, m2 = 0xffff;
    while (p < kc) {
        int64_t end = kc - p <= left ? kc : p + left;
        if (msk) {
            const uint16_t *mk = t->bmask + 3 * run++;
            m0 = mk[0];
            m1 = NV >= 2 ? mk[1] : m1;
            m2 = NV == 3 ? mk[2] : m2;
            left = t->brun;
        }
#pragma GCC unroll 4
    for (; p < end; p++) {
        const float *bp = ind ? b + t->brow[p] : b + p * ldb;
        if (p < t->pf_lines)
            _mm_prefetch((const char *)(t->pf + p * t->pf_ld), _MM_HINT_T0);
        __m512 b0, b1, b2;
        if (msk) { /* lanes outside the image read as 0 */
            b0 = _mm512_maskz_loadu_ps(m0, bp);
            b1 = NV >= 2 ? _mm512_maskz_loadu_ps(m1, bp + 16) : _mm512_setzero_ps();
            b2 = NV == 3 ? _mm512_maskz_loadu_ps(m2, bp + 32) : _mm512_setzero_ps();
        } else {
            /* a masked load costs an extra uop on the FMA ports of some cores: full
             * tiles, the common case, load without */
            b0 = NV == 1 && !full ? _mm512_maskz_loadu_ps(ml, bp) : _mm512_loadu_ps(bp);
            b1 = NV == 2 && !full ? _mm512_maskz_loadu_ps(ml, bp + 16)
                 : NV >= 2        ? _mm512_loadu_ps(bp + 16)
                                  : _mm512_setzero_ps();
            b2 = NV == 3 && !full ? _mm512_maskz_loadu_ps(ml, bp + 32)
                 : NV == 3        ? _mm512_loadu_ps(bp + 32)
                                  : _mm512_setzero_ps();
        }
#pragma GCC unroll 8
        for (int i = 0; i < ROWS; i++) {
            __m512 ai = _mm512_set1_ps(ar[i][p * cs]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (NV > 1)
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            if (NV > 2)
                acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
        }
    }
    }
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
        if (i >= t->mv)
            break;
        float *c = t->c + i * t->ldc;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            __mmask16 m = v == NV - 1 ? ml : (__mmask16)0xffff;
            __m512 x = acc[i][v];
            if (t->add_c)
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, c + 16 * v));
            if (t->last) {
                if (t->scale != 1.0f)
                    x = _mm512_mul_ps(x, _mm512_set1_ps(t->scale));
                if (t->bias_m)
                    x = _mm512_add_ps(x, _mm512_set1_ps(t->bias_m[i]));
                if (t->bias_n)
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, t->bias_n + 16 * v));
                if (t->mul_m)
                    x = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(t->mul_m[i])),
                                      _mm512_set1_ps(t->add_m[i]));
                if (t->mul_n)
                    x = _mm512_add_ps(_mm512_mul_ps(x, _mm512_maskz_loadu_ps(m, t->mul_n + 16 * v)),
                                      _mm512_maskz_loadu_ps(m, t->add_n + 16 * v));
                if (t->res)
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, t->res + i * t->ldr + 16 * v));
                x = act512(t, x);
            }
            _mm512_mask_storeu_ps(c + 16 * v, m, x);
        }
    }
}

#define K512(NV, packed, full, rows, ind, msk, name)                                               \
    __attribute__((target("avx512f"))) static void name(int64_t kc, const float *a, int64_t lda,   \
                                                        const float *b, int64_t ldb,               \
                                                        const struct tile *t)                      \
    {                                                                                              \
        body512(NV, packed, full, rows, ind, msk, kc, a, lda, b, ldb, t);                          \
    }
#define K512_ROWS(NV, packed, full, ind, msk, name)                                                \
    K512(NV, packed, full, 1, ind, msk, name##_1)                                                  \
    K512(NV, packed, full, 2, ind, msk, name##_2)                                                  \
    K512(NV, packed, full, 4, ind, msk, name##_4)                                                  \
    K512(NV, packed, full, 8, ind, msk, name##_8)
K512_ROWS(1, true, false, false, false, k512_p1)
K512_ROWS(2, true, false, false, false, k512_p2)
K512_ROWS(3, true, false, false, false, k512_p3)
K512_ROWS(3, true, true, false, false, k512_p3_full)
K512_ROWS(1, false, false, false, false, k512_r1)
K512_ROWS(2, false, false, false, false, k512_r2)
K512_ROWS(3, false, false, false, false, k512_r3)
K512_ROWS(3, false, true, false, false, k512_r3_full)
/* B rows at offsets (b_rows), A packed: the stride-1 convolution's slices of padded planes */
K512_ROWS(1, true, false, true, false, k512_i1)
K512_ROWS(2, true, false, true, false, k512_i2)
K512_ROWS(3, true, false, true, false, k512_i3)
K512_ROWS(3, true, true, true, false, k512_i3_full)
/* the same with lanes masked (b_mask): the stride-1 convolution on the unpadded input */
K512_ROWS(1, true, false, true, true, k512_m1)
K512_ROWS(2, true, false, true, true, k512_m2)
K512_ROWS(3, true, false, true, true, k512_m3)
#define K512_SET(name) {name##_1, name##_2, name##_4, name##_8}

static void kernel_avx512(bool packed, int64_t kc, const float *a, int64_t lda, const float *b,
                          int64_t ldb, const struct tile *t)
{
    typedef void (*fn)(int64_t, const float *, int64_t, const float *, int64_t,
                       const struct tile *);
    static const fn table[4][4][4] = {
        {K512_SET(k512_r1), K512_SET(k512_r2), K512_SET(k512_r3), K512_SET(k512_r3_full)},
        {K512_SET(k512_p1), K512_SET(k512_p2), K512_SET(k512_p3), K512_SET(k512_p3_full)},
        {K512_SET(k512_i1), K512_SET(k512_i2), K512_SET(k512_i3), K512_SET(k512_i3_full)},
        /* masked: a full panel is three masked vectors like any other */
        {K512_SET(k512_m1), K512_SET(k512_m2), K512_SET(k512_m3), K512_SET(k512_m3)}};
    NNP_ASSERT(!t->brow || packed); /* b_rows comes with packed A (gemm.h) */
    int rows = t->mv <= 1 ? 0 : t->mv <= 2 ? 1 : t->mv <= 4 ? 2 : 3;
    int mode = t->bmask ? 3 : t->brow ? 2 : packed;
    table[mode][t->nv == NR ? 3 : (t->nv - 1) / 16][rows](kc, a, lda, b, ldb, t);
}

/* --- AVX2 + FMA: 4 x 24 tiles in 12 ymm, four of them per 8 x 48 --- */

#define AVX2 __attribute__((target("avx2,fma"), always_inline)) static inline

AVX2 __m256 act256(const struct tile *t, __m256 x)
{
    const __m256 zero = _mm256_setzero_ps();
    switch (t->act) {
    case NNP_ACT_RELU: return _mm256_max_ps(zero, x);
    case NNP_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(x, zero, _CMP_LT_OQ);
        return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_set1_ps(t->alpha),
                                                 neg));
    }
    case NNP_ACT_CLIP:
        x = _mm256_max_ps(_mm256_set1_ps(t->alpha), x);
        return _mm256_min_ps(_mm256_set1_ps(t->beta), x);
    default: return x;
    }
}

/* lanes < rest on (rest 0..8) */
AVX2 __m256i mask256(int rest)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_loadu_si256((const void *)ramp));
}

/* rows of A: 4 (the half of a panel), element (i, p) at a[i*ra + p*cs] */
AVX2 void body256(const int NV, const bool packed, int64_t kc, const float *a, int64_t lda,
                  const float *b, int64_t ldb, const struct tile *t)
{
    __m256 acc[4][3];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++)
            acc[i][v] = _mm256_setzero_ps();
    __m256i ml = mask256(t->nv - 8 * (NV - 1));
    const float *ar[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        ar[i] = packed ? a + i : a + (i < t->mv ? i : t->mv - 1) * lda;
    const int64_t cs = packed ? MR : 1;
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = t->brow ? b + t->brow[p] : b + p * ldb;
        if (p < t->pf_lines)
            _mm_prefetch((const char *)(t->pf + p * t->pf_ld), _MM_HINT_T0);
        __m256 b0 = NV == 1 ? _mm256_maskload_ps(bp, ml) : _mm256_loadu_ps(bp);
        __m256 b1 = NV == 2   ? _mm256_maskload_ps(bp + 8, ml)
                    : NV == 3 ? _mm256_loadu_ps(bp + 8)
                              : _mm256_setzero_ps();
        __m256 b2 = NV == 3 ? _mm256_maskload_ps(bp + 16, ml) : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m256 ai = _mm256_broadcast_ss(&ar[i][p * cs]);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (NV > 1)
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            if (NV > 2)
                acc[i][2] = _mm256_fmadd_ps(ai, b2, acc[i][2]);
        }
    }
    const __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        if (i >= t->mv)
            break;
        float *c = t->c + i * t->ldc;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            __m256i m = v == NV - 1 ? ml : all;
            __m256 x = acc[i][v];
            if (t->add_c)
                x = _mm256_add_ps(x, _mm256_maskload_ps(c + 8 * v, m));
            if (t->last) {
                if (t->scale != 1.0f)
                    x = _mm256_mul_ps(x, _mm256_set1_ps(t->scale));
                if (t->bias_m)
                    x = _mm256_add_ps(x, _mm256_set1_ps(t->bias_m[i]));
                if (t->bias_n)
                    x = _mm256_add_ps(x, _mm256_maskload_ps(t->bias_n + 8 * v, m));
                if (t->mul_m)
                    x = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(t->mul_m[i])),
                                      _mm256_set1_ps(t->add_m[i]));
                if (t->mul_n)
                    x = _mm256_add_ps(_mm256_mul_ps(x, _mm256_maskload_ps(t->mul_n + 8 * v, m)),
                                      _mm256_maskload_ps(t->add_n + 8 * v, m));
                if (t->res)
                    x = _mm256_add_ps(x, _mm256_maskload_ps(t->res + i * t->ldr + 8 * v, m));
                x = act256(t, x);
            }
            _mm256_maskstore_ps(c + 8 * v, m, x);
        }
    }
}

#define K256(NV, packed, name)                                                                     \
    __attribute__((target("avx2,fma"))) static void name(int64_t kc, const float *a, int64_t lda,  \
                                                         const float *b, int64_t ldb,              \
                                                         const struct tile *t)                     \
    {                                                                                              \
        body256(NV, packed, kc, a, lda, b, ldb, t);                                                \
    }
K256(1, true, k256_p1)
K256(2, true, k256_p2)
K256(3, true, k256_p3)
K256(1, false, k256_r1)
K256(2, false, k256_r2)
K256(3, false, k256_r3)

static void kernel_avx2(bool packed, int64_t kc, const float *a, int64_t lda, const float *b,
                        int64_t ldb, const struct tile *t)
{
    typedef void (*fn)(int64_t, const float *, int64_t, const float *, int64_t,
                       const struct tile *);
    static const fn table[2][3] = {{k256_r1, k256_r2, k256_r3}, {k256_p1, k256_p2, k256_p3}};
    NNP_ASSERT(!t->bmask); /* masked B: AVX-512 and scalar only (gemm.h) */
    for (int r0 = 0; r0 < t->mv; r0 += 4)
        for (int c0 = 0; c0 < t->nv; c0 += 24) {
            struct tile q = *t;
            q.mv = t->mv - r0 < 4 ? t->mv - r0 : 4;
            q.nv = t->nv - c0 < 24 ? t->nv - c0 : 24;
            q.c = t->c + r0 * t->ldc + c0;
            q.bias_m = t->bias_m ? t->bias_m + r0 : NULL;
            q.bias_n = t->bias_n ? t->bias_n + c0 : NULL;
            q.mul_m = t->mul_m ? t->mul_m + r0 : NULL;
            q.add_m = t->add_m ? t->add_m + r0 : NULL;
            q.mul_n = t->mul_n ? t->mul_n + c0 : NULL;
            q.add_n = t->add_n ? t->add_n + c0 : NULL;
            q.res = t->res ? t->res + r0 * t->ldr + c0 : NULL;
            const float *ap = packed ? a + r0 : a + r0 * lda;
            table[packed][(q.nv - 1) / 8](kc, ap, lda, b + c0, ldb, &q);
        }
}

/* --- packing --- */

size_t nnp_gemm_a_floats(int64_t m, int64_t k)
{
    return (size_t)((m + MR - 1) / MR) * MR * (size_t)k;
}

size_t nnp_gemm_b_floats(int64_t k, int64_t n)
{
    return (size_t)((n + NR - 1) / NR) * NR * (size_t)k;
}

/* where panel i0 / MR of A's packed slice k0 starts (see nnp_gemm_pack_a) */
static int64_t a_panel_at(int64_t m, int64_t k, int64_t i0, int64_t k0)
{
    int64_t mp = (m + MR - 1) / MR * MR, kc = nnp_gemm_kc(k, k0);
    return k0 * mp + (i0 / MR) * kc * MR;
}

void nnp_gemm_pack_a(const float *a, int64_t rs, int64_t cs, int64_t m, int64_t k, float *dst)
{
    for (int64_t k0 = 0, kc; k0 < k; k0 += kc) {
        kc = nnp_gemm_kc(k, k0);
        for (int64_t i0 = 0; i0 < m; i0 += MR) {
            float *panel = dst + a_panel_at(m, k, i0, k0); /* (kc, MR) */
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    panel[p * MR + i] = i0 + i < m ? a[(i0 + i) * rs + (k0 + p) * cs] : 0.0f;
        }
    }
}

void nnp_gemm_pack_b(const float *b, int64_t rs, int64_t cs, int64_t k, int64_t n, float *dst)
{
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        float *panel = dst + (j0 / NR) * k * NR; /* (k, NR) */
        int64_t nc = n - j0 < NR ? n - j0 : NR;
        for (int64_t p = 0; p < k; p++) {
            float *row = panel + p * NR;
            if (cs == 1) {
                memcpy(row, b + p * rs + j0, (size_t)nc * sizeof *row);
            } else {
                for (int64_t j = 0; j < nc; j++)
                    row[j] = b[p * rs + (j0 + j) * cs];
            }
            for (int64_t j = nc; j < NR; j++)
                row[j] = 0.0f;
        }
    }
}

size_t nnp_gemm_scratch_bytes(int64_t m)
{
    size_t cpanels = (size_t)((m + MR - 1) / MR) * MR * NR * NC_PANELS * sizeof(float);
    return (size_t)KC_MAX * NR * NC_PANELS * sizeof(float) + cpanels;
}

/* --- the rest of the epilogue, after a store_c --- */

__attribute__((target("avx512f"))) static void finish_avx512(const struct tile *t, int64_t rows,
                                                              int64_t n, const float *src,
                                                              int64_t lds, const float *res,
                                                              int64_t ldr, float *dst,
                                                              int64_t ldd)
{
    __mmask16 tail = (__mmask16)((1u << (n % 16)) - 1);
    for (int64_t r = 0; r < rows; r++, src += lds, res = res ? res + ldr : NULL, dst += ldd) {
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m512 x = _mm512_loadu_ps(src + i);
            if (res)
                x = _mm512_add_ps(x, _mm512_loadu_ps(res + i));
            _mm512_storeu_ps(dst + i, act512(t, x));
        }
        if (i < n) {
            __m512 x = _mm512_maskz_loadu_ps(tail, src + i);
            if (res)
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(tail, res + i));
            _mm512_mask_storeu_ps(dst + i, tail, act512(t, x));
        }
    }
}

static void finish_scalar(const struct tile *t, int64_t rows, int64_t n, const float *src,
                          int64_t lds, const float *res, int64_t ldr, float *dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++, src += lds, res = res ? res + ldr : NULL, dst += ldd)
        for (int64_t i = 0; i < n; i++)
            dst[i] = act_scalar(t, res ? src[i] + res[i] : src[i]);
}

void nnp_gemm_finish_rows(const struct nnp_act *act, int64_t rows, int64_t n, const float *src,
                          int64_t lds, const float *res, int64_t ldr, float *dst, int64_t ldd)
{
    bool in_kernel = act_in_kernel(act->kind);
    struct tile t = {.act = in_kernel ? act->kind : NNP_ACT_NONE,
                     .alpha = act->alpha,
                     .beta = act->beta};
    if (nnp_isa_best() == NNP_ISA_AVX512)
        finish_avx512(&t, rows, n, src, lds, res, ldr, dst, ldd);
    else
        finish_scalar(&t, rows, n, src, lds, res, ldr, dst, ldd);
    if (!in_kernel)
        for (int64_t r = 0; r < rows; r++)
            nnp_act_apply(act, n, dst + r * ldd);
}

void nnp_gemm_finish_row(const struct nnp_act *act, const float *src, const float *res,
                         float *dst, int64_t n)
{
    nnp_gemm_finish_rows(act, 1, n, src, 0, res, 0, dst, 0);
}

/* --- the block loop --- */

/* The block's rows of A (rows x k floats) stay in L2 while the columns go by when they
 * take at most this much; larger ones would be read from L3 again for every panel of
 * columns, so then the loop over k goes outside, over a group of NC_PANELS panels of B
 * packed at once: each KC-row slice of A is read once per group instead of per panel. */
#define A_L2_BYTES (512 * 1024)

void nnp_gemm_block_isa(enum nnp_isa isa, const struct nnp_gemm *g, int64_t m0, int64_t m1,
                        int64_t n0, int64_t n1, void *scratch)
{
    NNP_ASSERT(m0 % MR == 0 && n0 % NR == 0 && m1 <= g->m && n1 <= g->n);
    NNP_ASSERT(!g->pack_b || scratch);
    void (*kernel)(bool, int64_t, const float *, int64_t, const float *, int64_t,
                   const struct tile *) = isa == NNP_ISA_AVX512 ? kernel_avx512
                                          : isa == NNP_ISA_AVX2 ? kernel_avx2
                                                                : kernel_scalar;
    const struct nnp_epilogue *e = &g->epi;
    bool sink = g->store_c != NULL;
    bool post_act = !sink && !act_in_kernel(e->act.kind);
    int64_t k = g->k, rows = (m1 - m0 + MR - 1) / MR * MR;
    int64_t group = (size_t)(m1 - m0) * (size_t)k * sizeof(float) > A_L2_BYTES ? NC_PANELS : 1;
    /* scratch: the group's B panels (KC_MAX x NR each), then with store_c its C panels
     * (rows x NR each) */
    float *bgroup = scratch;
    float *cpanels = sink ? (float *)scratch + (size_t)KC_MAX * NR * NC_PANELS : NULL;
    NNP_ASSERT(!sink || scratch);
    for (int64_t g0 = n0; g0 < n1; g0 += group * NR) {
        int64_t g1 = g0 + group * NR < n1 ? g0 + group * NR : n1;
        for (int64_t k0 = 0, kc; k0 < k || k0 == 0; k0 += kc) {
            kc = nnp_gemm_kc(k, k0);
            bool last = k0 + kc >= k;
            for (int64_t j0 = g0; j0 < g1; j0 += NR) {
                int nc = (int)(g1 - j0 < NR ? g1 - j0 : NR);
                int64_t q = (j0 - g0) / NR; /* the panel within the group */
                const float *bp;
                int64_t ldb;
                if (g->pack_b) {
                    bp = bgroup + (size_t)q * KC_MAX * NR;
                    g->pack_b(g, k0, kc, j0, nc, (float *)bp);
                    ldb = NR;
                } else if (g->b_packed) {
                    bp = g->b + (j0 / NR) * k * NR + k0 * NR;
                    ldb = NR;
                } else if (g->b_rows) {
                    bp = g->b + j0;
                    ldb = 0;
                } else {
                    bp = g->b + k0 * g->ldb + j0;
                    ldb = g->ldb;
                }
                float *cpanel = sink ? cpanels + (size_t)q * rows * NR : NULL;
                /* Weights that stream from memory (resnet18 holds 46 MB of them) are
                 * fetched a slice ahead, spread over the tiles as a line per step of k:
                 * packed B, the slice the loop takes next (the next panel of the group,
                 * else the group's first at the next k, else the next group's first);
                 * packed A read for the first time (the group's first panel), the
                 * next tile's slice, which follows this one in memory.
                 * B read in place, rows ldb apart (a 1x1 convolution's input planes),
                 * more rows than the hardware prefetchers follow: its next slice, line
                 * v of each row in the tile v < 3, a row per step. mobilenet_v2's
                 * 144 -> 24 on 56 x 56 at batch 8, alone, min 2.49 -> 2.16 ms; the
                 * model at batch 8, 1 thread, 86.7 -> 77.9 ms. */
                int64_t nj = j0 + NR, nk0 = k0;
                if (nj >= g1) {
                    nj = g0;
                    nk0 = k0 + kc;
                    if (nk0 >= k) {
                        nj = g1;
                        nk0 = 0;
                    }
                }
                const float *pf_b = NULL, *pf_rows = NULL;
                int64_t pf_b_lines = 0;
                if (g->b_packed && nj < n1) {
                    pf_b = g->b + (nj / NR) * k * NR + nk0 * NR;
                    pf_b_lines = nnp_gemm_kc(k, nk0) * NR / 16;
                } else if (!g->pack_b && !g->b_packed && !g->b_rows && nj < n1 && k > 0) {
                    pf_rows = g->b + nk0 * g->ldb + nj;
                }
                for (int64_t i0 = m0; i0 < m1; i0 += MR) {
                    struct tile t = {
                        .c = sink ? cpanel + (i0 - m0) * NR : g->c + i0 * g->ldc + j0,
                        .ldc = sink ? NR : g->ldc,
                        .mv = (int)(m1 - i0 < MR ? m1 - i0 : MR),
                        .nv = nc,
                        .add_c = k0 > 0,
                        .last = last,
                        .scale = e->scale != 0.0f ? e->scale : 1.0f,
                        .bias_m = e->bias_m ? e->bias_m + i0 : NULL,
                        .bias_n = e->bias_n ? e->bias_n + j0 : NULL,
                        .mul_m = e->mul_m ? e->mul_m + i0 : NULL,
                        .add_m = e->mul_m ? e->add_m + i0 : NULL,
                        .mul_n = e->mul_n ? e->mul_n + j0 : NULL,
                        .add_n = e->mul_n ? e->add_n + j0 : NULL,
                        .res = e->res && !sink ? e->res + i0 * e->ldr + j0 : NULL,
                        .ldr = e->ldr,
                        .act = post_act || sink ? NNP_ACT_NONE : e->act.kind,
                        .alpha = e->act.alpha,
                        .beta = e->act.beta,
                        .brow = g->b_rows && !g->pack_b ? g->b_rows + k0 : NULL,
                        .bmask = g->b_mask && g->b_rows && !g->pack_b
                                     ? g->b_mask + (j0 / NR) * ((k + g->b_run - 1) / g->b_run) * 3
                                     : NULL,
                        .brun = g->b_run,
                        .bk0 = k0,
                        .pf_ld = 16,
                    };
                    const float *ap = g->a_packed ? g->a + a_panel_at(g->m, k, i0, k0)
                                                  : g->a + i0 * g->lda + k0;
                    int64_t done = (i0 - m0) / MR * kc; /* lines of pf_b already asked */
                    if (pf_b && done < pf_b_lines) {
                        t.pf = pf_b + 16 * done;
                        t.pf_lines = (int)(pf_b_lines - done < kc ? pf_b_lines - done : kc);
                    } else if (pf_rows && i0 - m0 < NR / 16 * MR) {
                        t.pf = pf_rows + (i0 - m0) / MR * 16;
                        t.pf_lines = (int)nnp_gemm_kc(k, nk0);
                        t.pf_ld = g->ldb;
                    } else if (!pf_b && g->a_packed && j0 == g0 && i0 + MR < m1) {
                        t.pf = ap + kc * MR;
                        t.pf_lines = (int)(kc * MR / 16);
                    }
                    kernel(g->a_packed, kc, ap, g->lda, bp, ldb, &t);
                    if (last && post_act) /* while the tile is in L1 */
                        for (int i = 0; i < t.mv; i++)
                            nnp_act_apply(&e->act, nc, t.c + i * t.ldc);
                }
                if (last && sink)
                    g->store_c(g, m0, m1, j0, nc, cpanel);
            }
            if (k == 0)
                break;
        }
    }
}

void nnp_gemm_block(const struct nnp_gemm *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                    void *scratch)
{
    nnp_gemm_block_isa(nnp_isa_best(), g, m0, m1, n0, n1, scratch);
}

/* --- many products over the pool --- */

struct units_job {
    nnp_gemm_unit_fn unit;
    const void *ctx;
    int64_t m, n;
    int64_t mb, nb; /* blocks per unit along m and n */
    int64_t m_panels, n_panels;
    uint8_t *scratch;
    size_t slice_bytes;
};

static void units_task(void *arg, int64_t begin, int64_t end, int tid)
{
    const struct units_job *j = arg;
    /* callers whose operands need no packing pass no scratch (NULL, 0): no slice either */
    void *scratch = j->scratch ? j->scratch + (size_t)tid * j->slice_bytes : NULL;
    for (int64_t t = begin; t < end; t++) {
        int64_t per = j->mb * j->nb, u = t / per, r = t % per;
        int64_t bi = r / j->nb, bj = r % j->nb;
        int64_t m0 = bi * j->m_panels / j->mb * MR, m1 = (bi + 1) * j->m_panels / j->mb * MR;
        int64_t n0 = bj * j->n_panels / j->nb * NR, n1 = (bj + 1) * j->n_panels / j->nb * NR;
        struct nnp_gemm g;
        j->unit(j->ctx, u, tid, &g);
        nnp_gemm_block(&g, m0, m1 < j->m ? m1 : j->m, n0, n1 < j->n ? n1 : j->n, scratch);
    }
}

int nnp_gemm_par_min_macs(void)
{
    return GEMM_PAR_MIN_MACS;
}

void nnp_gemm_units(struct nnp_pool *pool, int64_t n_units, int64_t m, int64_t n, int64_t k,
                    nnp_gemm_unit_fn unit, const void *ctx, uint8_t *scratch, size_t slice_bytes)
{
    double macs = (double)n_units * (double)m * (double)n * (double)(k > 0 ? k : 1);
    if (macs < GEMM_PAR_MIN_MACS)
        pool = NULL;
    nnp_gemm_units_split(pool, n_units, m, n, k, unit, ctx, scratch, slice_bytes);
}

void nnp_gemm_units_split(struct nnp_pool *pool, int64_t n_units, int64_t m, int64_t n,
                          int64_t k, nnp_gemm_unit_fn unit, const void *ctx, uint8_t *scratch,
                          size_t slice_bytes)
{
    (void)k;
    if (n_units <= 0 || m <= 0 || n <= 0)
        return;
    NNP_ASSERT(slice_bytes >= nnp_gemm_scratch_bytes(0) || !scratch);
    struct units_job j = {unit, ctx, m, n, 1, 1, (m + MR - 1) / MR, (n + NR - 1) / NR, scratch,
                          slice_bytes};
    int threads = nnp_pool_threads(pool);
    if (threads <= 1) {
        units_task(&j, 0, n_units, 0);
        return;
    }
    /* Split the smaller operand's way, so that the larger is read once: blocks along n
     * (each packs its own columns of B, nothing twice) while B is the larger, then along
     * m when the columns run out; blocks along m first when A is the larger (weights of
     * a late convolution layer, 512 x 4608 over 63 columns: split along n, every block
     * would stream all 9 MB of them again). */
    int64_t want = (int64_t)threads * GEMM_ITEMS_PER_THREAD;
    int64_t per_unit = (want + n_units - 1) / n_units;
    if (m > n) {
        j.mb = per_unit < j.m_panels ? per_unit : j.m_panels;
        int64_t need_n = (per_unit + j.mb - 1) / j.mb;
        j.nb = need_n < j.n_panels ? need_n : j.n_panels;
    } else {
        j.nb = per_unit < j.n_panels ? per_unit : j.n_panels;
        int64_t need_m = (per_unit + j.nb - 1) / j.nb;
        j.mb = need_m < j.m_panels ? need_m : j.m_panels;
    }
    nnp_parallel_for(pool, n_units * j.mb * j.nb, units_task, &j);
}
