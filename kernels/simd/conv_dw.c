/* kernels/simd/conv_dw.c — the direct depthwise convolution of one plane (see conv_dw.h).
 *
 * The output is cut into bands of up to DW_NV_MAX vectors of columns. For a band, each
 * input row it needs is copied once ("staged") into a ring of rows on the stack:
 * 64-byte aligned, zeros in place of the pads, and split into its `sw` phases (phase q
 * holds the columns b0 + sw * j + q), so that a tap of any stride reads `vl`
 * consecutive floats of one phase: stride 2 costs two permutes per 16 staged inputs
 * instead of one per tap, and no tap needs a mask or a bounds check. Rows outside x
 * read a row of zeros. A block then computes R output rows of the band at once (R * NV
 * accumulators: enough independent FMA chains to cover the FMA latency), kernel row by
 * kernel row, tap by tap, and stores each output once with its epilogue.
 *
 * Measured on this project's machines (AVX-512, one thread, variants interleaved in one
 * process): 112x112 3x3 stride 1, the staged copy is about a third of the time (it is
 * where x comes in from L2); making each tap's vector from aligned loads and a permute
 * ran 1.2x faster than loading it unaligned (two of three such loads cross a cache
 * line), and unrolling the 3 taps of 3x3 with immediate shifts another 1.05x at
 * 112x112 and 1.3-1.5x on 28x28 to 7x7 (1.1-1.3x with stride 2).
 */
#include "kernels/simd/conv_dw.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/status.h"

/* Vectors of a band: 8 zmm (128 columns) hold a 112-wide MobileNet row at once. */
#define DW_NV_MAX 8
/* The staged rows of a band, on the stack: 32 KiB, room for bands of 8 vectors with
 * kernels up to 29 rows by 113 columns (stride and dilation 1); larger windows get
 * narrower bands, and one that does not fit with one vector (hundreds of kernel rows
 * or thousands of columns) is computed one output at a time. */
#define DW_STAGE_FLOATS 8192
/* Output rows a block computes at once, at most; the ring holds the input rows of this
 * many. */
#define DW_R_MAX 4

/* the window, unpacked; the pads at the end only shorten OH and OW */
struct dw_geo {
    int64_t H, W;   /* input plane */
    int64_t OH, OW; /* output plane */
    int64_t kh, kw;
    int64_t sh, sw; /* strides */
    int64_t dh, dw; /* dilations */
    int64_t ph, pw; /* pads at the start */
};

/* one call's operands */
struct dw_plane {
    const struct dw_geo *g;
    const float *x; /* (H, W) */
    const float *w; /* (kh, kw) */
    float bias;
    const float *res; /* (OH, OW), or NULL */
    const struct nnp_act *act;
    bool act_in_regs; /* act is applied where the value is made (else on the stored row) */
    float *y;         /* (OH, OW) */
};

/* the columns [o0, o0 + nl) of the output and the staged input rows they read */
struct dw_band {
    int64_t o0, nl;
    int64_t b0;        /* input column of element 0 of phase 0: o0 * sw - pw (may be < 0) */
    int64_t ph_len;    /* floats per phase, a multiple of 16 */
    int64_t reach;     /* the last tap's offset in its phase: (kw - 1) * dw / sw */
    int64_t row_len;   /* floats per staged row: sw * ph_len */
    int64_t span;      /* rows the ring holds, a power of 2: input row ih is in slot ih % span */
    float *ring;       /* (span, sw, ph_len), 64-byte aligned */
    const float *zero; /* (sw, ph_len) zeros: what a row outside x reads */
};

static int64_t ceil_div(int64_t a, int64_t b) /* a >= 0, b > 0 */
{
    return (a + b - 1) / b;
}

/* The activations applied where each value is made, with comparisons that give the
 * bits of kernels/ops/op_unary.c's loops (NaN passes through each); the others go through
 * nnp_act_apply() on the stored row. */
static bool act_in_regs(enum nnp_act_kind k)
{
    return k == NNP_ACT_NONE || k == NNP_ACT_RELU || k == NNP_ACT_LEAKY_RELU || k == NNP_ACT_CLIP;
}

#define ALWAYS_INLINE __attribute__((always_inline)) static inline

/* --- one output at a time: the portable version, and windows too large to stage --- */

/* output (oh, ow) before the epilogue, as conv_dw.h defines it. Inlined into each
 * ISA's code, where fmaf() is one instruction (a libm call in the portable build). */
ALWAYS_INLINE float dw_point(const struct dw_geo *g, const float *x, const float *w, int64_t oh,
                             int64_t ow)
{
    int64_t ih0 = oh * g->sh - g->ph, iw0 = ow * g->sw - g->pw;
    float acc = 0.0f;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = ih0 + ki * g->dh;
        bool row_in = ih >= 0 && ih < g->H;
        const float *wr = w + ki * g->kw;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t iw = iw0 + kj * g->dw;
            float xv = row_in && iw >= 0 && iw < g->W ? x[ih * g->W + iw] : 0.0f;
            acc = fmaf(xv, wr[kj], acc);
        }
    }
    return acc;
}

/* relu_f, leakyrelu_f and clip_f of kernels/ops/op_unary.c */
ALWAYS_INLINE float dw_act1(const struct nnp_act *a, float v)
{
    switch (a->kind) {
    case NNP_ACT_RELU: return 0.0f > v ? 0.0f : v;
    case NNP_ACT_LEAKY_RELU: return v * (v < 0.0f ? a->alpha : 1.0f);
    case NNP_ACT_CLIP:
        v = v < a->alpha ? a->alpha : v;
        return v > a->beta ? a->beta : v;
    default: return v;
    }
}

ALWAYS_INLINE void dw_points(const struct dw_plane *p)
{
    const struct dw_geo *g = p->g;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = p->y + oh * g->OW; /* (OW) */
        for (int64_t ow = 0; ow < g->OW; ow++) {
            float v = dw_point(g, p->x, p->w, oh, ow) + p->bias;
            if (p->res)
                v += p->res[oh * g->OW + ow];
            yr[ow] = p->act_in_regs ? dw_act1(p->act, v) : v;
        }
        if (!p->act_in_regs)
            nnp_act_apply(p->act, g->OW, yr);
    }
}

static void dw_scalar(const struct dw_plane *p)
{
    dw_points(p);
}

/* --- bands and the ring of staged rows, shared by the SIMD versions --- */

/* staged input row ih (a row of zeros outside x) */
ALWAYS_INLINE const float *dw_row(const struct dw_geo *g, const struct dw_band *b, int64_t ih)
{
    return ih >= 0 && ih < g->H ? b->ring + (ih & (b->span - 1)) * b->row_len : b->zero;
}

/* Phase lengths and ring rows for bands of nv vectors of vl columns.
 * @return whether they fit in DW_STAGE_FLOATS (the ring and the zero row) */
static bool dw_fit(const struct dw_geo *g, int64_t vl, int64_t nv, int64_t *ph_len, int64_t *span)
{
    int64_t reach = (g->kw - 1) * g->dw / g->sw; /* the last tap's offset within a phase */
    *ph_len = ceil_div(vl * nv + reach, 16) * 16;
    int64_t need = (DW_R_MAX - 1) * g->sh + (g->kh - 1) * g->dh + 1; /* rows a block reads */
    if (need > DW_STAGE_FLOATS)
        return false;
    for (*span = 1; *span < need; *span *= 2)
        ;
    int64_t row, all;
    return !__builtin_mul_overflow(g->sw, *ph_len, &row) &&
           !__builtin_mul_overflow(*span + 1, row, &all) && all <= DW_STAGE_FLOATS;
}

typedef void (*dw_stage_fn)(const struct dw_plane *, const struct dw_band *, int64_t ih);
typedef void (*dw_block_fn)(const struct dw_plane *, const struct dw_band *, int64_t oh);

/* what the band loop needs of an ISA */
struct dw_isa {
    int64_t vl, nv_max;
    const int *rows;          /* [nv - 1]: rows per block */
    dw_stage_fn stage;        /* stages one input row of a band */
    const dw_block_fn *block; /* [nv - 1]: rows [oh, oh + rows) (fewer at the bottom) */
    void (*points)(const struct dw_plane *);
};

/* The whole plane, band by band. @return false when not even one vector's band fits
 * (the caller then computes one output at a time). */
static bool dw_bands(const struct dw_plane *p, const struct dw_isa *isa)
{
    const struct dw_geo *g = p->g;
    _Alignas(64) float buf[DW_STAGE_FLOATS];
    int64_t nv = isa->nv_max, ph_len = 0, span = 0;
    while (nv > 0 && !dw_fit(g, isa->vl, nv, &ph_len, &span))
        nv--;
    if (nv == 0)
        return false;
    /* bands of equal width (in whole vectors), as few as there can be */
    int64_t n_bands = ceil_div(g->OW, isa->vl * nv);
    int64_t width = ceil_div(ceil_div(g->OW, n_bands), isa->vl) * isa->vl;
    struct dw_band b = {.reach = (g->kw - 1) * g->dw / g->sw,
                        .span = span,
                        .ring = buf,
                        .zero = buf + span * g->sw * ph_len};
    memset(buf + span * g->sw * ph_len, 0, (size_t)(g->sw * ph_len) * sizeof *buf);
    for (b.o0 = 0; b.o0 < g->OW; b.o0 += width) {
        b.nl = g->OW - b.o0 < width ? g->OW - b.o0 : width;
        b.b0 = b.o0 * g->sw - g->pw;
        int64_t nvb = ceil_div(b.nl, isa->vl), rows = isa->rows[nvb - 1];
        b.ph_len = ceil_div(isa->vl * nvb + b.reach, 16) * 16; /* no more than it reads */
        b.row_len = g->sw * b.ph_len;
        dw_block_fn block = isa->block[nvb - 1];
        int64_t staged = -1; /* input rows up to this one are staged (those still needed) */
        for (int64_t oh = 0; oh < g->OH; oh += rows) {
            /* stage the rows this block reads that are not yet: the ring holds the others */
            int64_t last = (oh + rows < g->OH ? oh + rows : g->OH) - 1;
            int64_t lo = oh * g->sh - g->ph, hi = last * g->sh - g->ph + (g->kh - 1) * g->dh;
            if (lo <= staged)
                lo = staged + 1;
            lo = lo > 0 ? lo : 0;
            hi = hi < g->H - 1 ? hi : g->H - 1;
            for (int64_t ih = lo; ih <= hi; ih++)
                isa->stage(p, &b, ih);
            staged = hi > staged ? hi : staged;
            block(p, &b, oh);
        }
    }
    return true;
}

/* Phase q, element j of a staged row: input column b0 + sw * j + q, 0 outside [0, W).
 * The element by element form: any stride, and the chunks at the row's ends. */
ALWAYS_INLINE void dw_stage_elems(const struct dw_geo *g, const struct dw_band *b, const float *row,
                                  float *dst, int64_t j0, int64_t j1)
{
    for (int64_t q = 0; q < g->sw; q++)
        for (int64_t j = j0; j < j1; j++) {
            int64_t c = b->b0 + g->sw * j + q;
            dst[q * b->ph_len + j] = c >= 0 && c < g->W ? row[c] : 0.0f;
        }
}

/* --- AVX2 + FMA: 8 columns per ymm --- */

#define AVX2 __attribute__((target("avx2,fma"), always_inline)) static inline

/* blocks of 1..6 vectors: 4, 8, 9, 12, 10, 12 accumulators of the 16 ymm */
static const int dw_rows256[6] = {4, 4, 3, 3, 2, 2};

__attribute__((target("avx2,fma"))) static void dw_stage256(const struct dw_plane *pp,
                                                            const struct dw_band *bp, int64_t ih)
{
    /* copies: the stores may alias anything, and would have the fields reloaded */
    const struct dw_plane pl = *pp, *p = &pl;
    const struct dw_band bl = *bp, *b = &bl;
    const struct dw_geo gl = *p->g, *g = &gl;
    const float *row = p->x + ih * g->W; /* (W) */
    float *dst = b->ring + (ih & (b->span - 1)) * b->row_len;
    int64_t W = g->W;
    for (int64_t j = 0; j < b->ph_len; j += 8) {
        int64_t c = b->b0 + g->sw * j; /* the chunk reads columns [c, c + 8 sw) */
        if (g->sw > 2 || c < 0 || c + 8 * g->sw > W) {
            dw_stage_elems(g, b, row, dst, j, j + 8);
        } else if (g->sw == 1) {
            _mm256_store_ps(dst + j, _mm256_loadu_ps(row + c));
        } else {
            __m256 lo = _mm256_loadu_ps(row + c), hi = _mm256_loadu_ps(row + c + 8);
            /* per 128-bit lane: evens (odds) of lo then of hi; then the lanes in order */
            __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            __m256 od = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
            ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8));
            od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8));
            _mm256_store_ps(dst + j, ev);
            _mm256_store_ps(dst + b->ph_len + j, od);
        }
    }
}

AVX2 __m256 dw_act256(const struct nnp_act *a, __m256 v)
{
    const __m256 zero = _mm256_setzero_ps();
    switch (a->kind) {
    case NNP_ACT_RELU: return _mm256_max_ps(zero, v); /* 0 > v ? 0 : v */
    case NNP_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
        return _mm256_mul_ps(v,
                             _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_set1_ps(a->alpha), neg));
    }
    case NNP_ACT_CLIP:
        v = _mm256_max_ps(_mm256_set1_ps(a->alpha), v);   /* v < lo ? lo : v */
        return _mm256_min_ps(_mm256_set1_ps(a->beta), v); /* v > hi ? hi : v */
    default: return v;
    }
}

/* lanes < n on (n 0..8) */
AVX2 __m256i dw_mask256(int64_t n)
{
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_loadu_si256((const void *)ramp));
}

/* rows [oh, oh + R) (those < OH) of band b: NV vectors each. S: 0, or the stride (1 or 2)
 * of a 3-wide kernel of dilation 1 along the row, whose taps are then unrolled. */
AVX2 void dw_block256(const int NV, const int R, const int S, const struct dw_plane *pp,
                      const struct dw_band *bp, int64_t oh)
{
    /* copies: the stores may alias anything, and would have the fields reloaded */
    const struct dw_plane pl = *pp, *p = &pl;
    const struct dw_band bl = *bp, *b = &bl;
    const struct dw_geo gl = *p->g, *g = &gl;
    const int64_t nr = g->OH - oh < R ? g->OH - oh : R;
    const int64_t dq = g->dw % g->sw, dd = g->dw / g->sw; /* a tap's step: phase, offset */
    __m256 acc[DW_R_MAX][DW_NV_MAX];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm256_setzero_ps();
    for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *wr = p->w + ki * g->kw;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            if (r >= nr)
                continue;
            const float *src = dw_row(g, b, (oh + r) * g->sh + ki * g->dh - g->ph);
            if (S) { /* 3 taps, dilation 1: where each reads is known to the compiler */
                const float *x1 = S == 1 ? src + 1 : src + b->ph_len, *x2 = src + 3 - S;
                __m256 w0 = _mm256_broadcast_ss(wr), w1 = _mm256_broadcast_ss(wr + 1);
                __m256 w2 = _mm256_broadcast_ss(wr + 2);
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm256_fmadd_ps(_mm256_load_ps(src + 8 * v), w0, acc[r][v]);
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + 8 * v), w1, acc[r][v]);
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm256_fmadd_ps(_mm256_loadu_ps(x2 + 8 * v), w2, acc[r][v]);
                continue;
            }
            int64_t q = 0, off = 0; /* tap kj reads phase q from element off */
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *xp = src + q * b->ph_len + off;
                __m256 wv = _mm256_broadcast_ss(wr + kj);
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm256_fmadd_ps(_mm256_loadu_ps(xp + 8 * v), wv, acc[r][v]);
                q += dq, off += dd;
                if (q >= g->sw)
                    q -= g->sw, off++;
            }
        }
    }
    const struct nnp_act act = *p->act;
    const __m256 bv = _mm256_set1_ps(p->bias);
    const __m256i tail = dw_mask256(b->nl - 8 * (NV - 1));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if (r >= nr)
            break;
        float *yr = p->y + (oh + r) * g->OW + b->o0;
        const float *rr = p->res ? p->res + (oh + r) * g->OW + b->o0 : NULL;
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            __m256 t = _mm256_add_ps(acc[r][v], bv);
            if (v < NV - 1) {
                if (rr)
                    t = _mm256_add_ps(t, _mm256_loadu_ps(rr + 8 * v));
                _mm256_storeu_ps(yr + 8 * v, dw_act256(&act, t));
            } else {
                if (rr)
                    t = _mm256_add_ps(t, _mm256_maskload_ps(rr + 8 * v, tail));
                _mm256_maskstore_ps(yr + 8 * v, tail, dw_act256(&act, t));
            }
        }
        if (!p->act_in_regs)
            nnp_act_apply(p->act, b->nl, yr);
    }
}

#define DW256(NV)                                                                                  \
    __attribute__((target("avx2,fma"))) static void dw_block256_##NV(                              \
        const struct dw_plane *p, const struct dw_band *b, int64_t oh)                             \
    {                                                                                              \
        if (p->g->kw == 3 && p->g->dw == 1 && p->g->sw == 1)                                       \
            dw_block256(NV, dw_rows256[NV - 1], 1, p, b, oh);                                      \
        else if (p->g->kw == 3 && p->g->dw == 1 && p->g->sw == 2)                                  \
            dw_block256(NV, dw_rows256[NV - 1], 2, p, b, oh);                                      \
        else                                                                                       \
            dw_block256(NV, dw_rows256[NV - 1], 0, p, b, oh);                                      \
    }
DW256(1)
DW256(2)
DW256(3)
DW256(4)
DW256(5)
DW256(6)

static const dw_block_fn dw_blocks256[6] = {dw_block256_1, dw_block256_2, dw_block256_3,
                                            dw_block256_4, dw_block256_5, dw_block256_6};

__attribute__((target("avx2,fma"))) static void dw_points256(const struct dw_plane *p)
{
    dw_points(p);
}

static const struct dw_isa dw_avx2 = {8, 6, dw_rows256, dw_stage256, dw_blocks256, dw_points256};

/* --- AVX-512F: 16 columns per zmm --- */

#define AVX512 __attribute__((target("avx512f"), always_inline)) static inline

/* blocks of 1..8 vectors: 4, 8, 12, 12, 15, 12, 14, 16 accumulators of the 32 zmm */
static const int dw_rows512[8] = {4, 4, 4, 3, 3, 2, 2, 2};

/* 16 columns of a row from column c on, 0 outside [0, W); never a byte outside the row,
 * never a pointer before it: left of the row the columns inside go to their lanes by an
 * expand load from the row's start. */
AVX512 __m512 dw_load16(const float *row, int64_t c, int64_t W)
{
    if (c >= 0 && c + 16 <= W)
        return _mm512_loadu_ps(row + c);
    int64_t lo = c < 0 ? -c : 0, hi = W - c; /* lanes [lo, hi) are inside */
    lo = lo < 16 ? lo : 16;
    hi = hi < 16 ? hi : 16;
    if (hi <= lo)
        return _mm512_setzero_ps();
    __mmask16 m = (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    return c < 0 ? _mm512_maskz_expandloadu_ps(m, row) : _mm512_maskz_loadu_ps(m, row + c);
}

__attribute__((target("avx512f"))) static void dw_stage512(const struct dw_plane *pp,
                                                           const struct dw_band *bp, int64_t ih)
{
    /* copies: the stores may alias anything, and would have the fields reloaded */
    const struct dw_plane pl = *pp, *p = &pl;
    const struct dw_band bl = *bp, *b = &bl;
    const struct dw_geo gl = *p->g, *g = &gl;
    const float *row = p->x + ih * g->W; /* (W) */
    float *dst = b->ring + (ih & (b->span - 1)) * b->row_len;
    if (g->sw > 2) {
        dw_stage_elems(g, b, row, dst, 0, b->ph_len);
        return;
    }
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t j = 0; j < b->ph_len; j += 16) {
        int64_t c = b->b0 + g->sw * j;
        if (g->sw == 1) {
            _mm512_store_ps(dst + j, dw_load16(row, c, g->W));
        } else {
            __m512 lo = dw_load16(row, c, g->W), hi = dw_load16(row, c + 16, g->W);
            _mm512_store_ps(dst + j, _mm512_permutex2var_ps(lo, even, hi));
            _mm512_store_ps(dst + b->ph_len + j, _mm512_permutex2var_ps(lo, odd, hi));
        }
    }
}

AVX512 __m512 dw_act512(const struct nnp_act *a, __m512 v)
{
    const __m512 zero = _mm512_setzero_ps();
    switch (a->kind) {
    case NNP_ACT_RELU: return _mm512_max_ps(zero, v); /* 0 > v ? 0 : v */
    case NNP_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
        return _mm512_mul_ps(
            v, _mm512_mask_blend_ps(neg, _mm512_set1_ps(1.0f), _mm512_set1_ps(a->alpha)));
    }
    case NNP_ACT_CLIP:
        v = _mm512_max_ps(_mm512_set1_ps(a->alpha), v);   /* v < lo ? lo : v */
        return _mm512_min_ps(_mm512_set1_ps(a->beta), v); /* v > hi ? hi : v */
    default: return v;
    }
}

/* elements s.. of lo, then hi's first: the vector s columns further on */
#define dw_shift512(lo, hi, s)                                                                     \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), s))

/* Rows [oh, oh + R) (those < OH) of band b: NV vectors each. How a tap's vector is made:
 *   PERM, stride 1, the kernel reaching less than 16 columns: the staged row is loaded as
 *     aligned vectors once per kernel row; tap kj, k columns on, is a permute of two
 *     (an unaligned load of 64 bytes always crosses a cache line);
 *   K3 as well (3 taps, dilation 1, stride S = 1 or 2): the taps unrolled, the shifts
 *     immediate (valignd); with stride 2 the middle tap is the odd phase, aligned;
 *   else: an unaligned load from the tap's phase. */
AVX512 void dw_block512(const int NV, const int R, const bool PERM, const bool K3, const int S,
                        const struct dw_plane *pp, const struct dw_band *bp, int64_t oh)
{
    /* copies: the stores may alias anything, and would have the fields reloaded */
    const struct dw_plane pl = *pp, *p = &pl;
    const struct dw_band bl = *bp, *b = &bl;
    const struct dw_geo gl = *p->g, *g = &gl;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const int64_t nr = g->OH - oh < R ? g->OH - oh : R;
    const int64_t dq = g->dw % g->sw, dd = g->dw / g->sw; /* a tap's step: phase, offset */
    __m512 acc[DW_R_MAX][DW_NV_MAX];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *wr = p->w + ki * g->kw;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            if (r >= nr)
                continue;
            const float *src = dw_row(g, b, (oh + r) * g->sh + ki * g->dh - g->ph);
            if (PERM) {
                __m512 a[DW_NV_MAX + 1];
#pragma GCC unroll 9
                for (int m = 0; m <= NV; m++)
                    a[m] =
                        m < NV || b->reach > 0 ? _mm512_load_ps(src + 16 * m) : _mm512_setzero_ps();
                if (K3) { /* 3 taps at columns 0, 1, 2: shifts known to the compiler */
                    __m512 w0 = _mm512_set1_ps(wr[0]), w1 = _mm512_set1_ps(wr[1]);
                    __m512 w2 = _mm512_set1_ps(wr[2]);
#pragma GCC unroll 8
                    for (int v = 0; v < NV; v++)
                        acc[r][v] = _mm512_fmadd_ps(a[v], w0, acc[r][v]);
                    if (S == 1) {
#pragma GCC unroll 8
                        for (int v = 0; v < NV; v++)
                            acc[r][v] =
                                _mm512_fmadd_ps(dw_shift512(a[v], a[v + 1], 1), w1, acc[r][v]);
                    } else { /* stride 2: tap 1 is the odd phase, at 0 */
#pragma GCC unroll 8
                        for (int v = 0; v < NV; v++)
                            acc[r][v] = _mm512_fmadd_ps(_mm512_load_ps(src + b->ph_len + 16 * v),
                                                        w1, acc[r][v]);
                    }
#pragma GCC unroll 8
                    for (int v = 0; v < NV; v++) { /* tap 2: 2 columns on, or 1 in phase 0 */
                        __m512 x2 = S == 1 ? dw_shift512(a[v], a[v + 1], 2)
                                           : dw_shift512(a[v], a[v + 1], 1);
                        acc[r][v] = _mm512_fmadd_ps(x2, w2, acc[r][v]);
                    }
                    continue;
                }
                int64_t off = 0;
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    __m512 wv = _mm512_set1_ps(wr[kj]);
                    if (off == 0) {
#pragma GCC unroll 8
                        for (int v = 0; v < NV; v++)
                            acc[r][v] = _mm512_fmadd_ps(a[v], wv, acc[r][v]);
                    } else {
                        __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32((int)off));
#pragma GCC unroll 8
                        for (int v = 0; v < NV; v++)
                            acc[r][v] = _mm512_fmadd_ps(_mm512_permutex2var_ps(a[v], idx, a[v + 1]),
                                                        wv, acc[r][v]);
                    }
                    off += g->dw;
                }
                continue;
            }
            int64_t q = 0, off = 0; /* tap kj reads phase q from element off */
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const float *xp = src + q * b->ph_len + off;
                __m512 wv = _mm512_set1_ps(wr[kj]);
#pragma GCC unroll 8
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 16 * v), wv, acc[r][v]);
                q += dq, off += dd;
                if (q >= g->sw)
                    q -= g->sw, off++;
            }
        }
    }
    const struct nnp_act act = *p->act; /* copies: the stores may alias anything */
    const __m512 bv = _mm512_set1_ps(p->bias);
    const int64_t rest = b->nl - 16 * (NV - 1); /* columns in the last vector, 1..16 */
    const __mmask16 tail = (__mmask16)(rest >= 16 ? 0xffffu : (1u << rest) - 1u);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if (r >= nr)
            break;
        float *yr = p->y + (oh + r) * g->OW + b->o0;
        const float *rr = p->res ? p->res + (oh + r) * g->OW + b->o0 : NULL;
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            __mmask16 m = v < NV - 1 ? (__mmask16)0xffff : tail;
            __m512 t = _mm512_add_ps(acc[r][v], bv);
            if (rr)
                t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, rr + 16 * v));
            _mm512_mask_storeu_ps(yr + 16 * v, m, dw_act512(&act, t));
        }
        if (!p->act_in_regs)
            nnp_act_apply(p->act, b->nl, yr);
    }
}

#define DW512(NV)                                                                                  \
    __attribute__((target("avx512f"))) static void dw_block512_##NV(                               \
        const struct dw_plane *p, const struct dw_band *b, int64_t oh)                             \
    {                                                                                              \
        if (p->g->sw == 1 && p->g->kw == 3 && p->g->dw == 1)                                       \
            dw_block512(NV, dw_rows512[NV - 1], true, true, 1, p, b, oh);                          \
        else if (p->g->sw == 2 && p->g->kw == 3 && p->g->dw == 1)                                  \
            dw_block512(NV, dw_rows512[NV - 1], true, true, 2, p, b, oh);                          \
        else if (p->g->sw == 1 && b->reach < 16)                                                   \
            dw_block512(NV, dw_rows512[NV - 1], true, false, 1, p, b, oh);                         \
        else                                                                                       \
            dw_block512(NV, dw_rows512[NV - 1], false, false, 1, p, b, oh);                        \
    }
DW512(1)
DW512(2)
DW512(3)
DW512(4)
DW512(5)
DW512(6)
DW512(7)
DW512(8)

static const dw_block_fn dw_blocks512[8] = {dw_block512_1, dw_block512_2, dw_block512_3,
                                            dw_block512_4, dw_block512_5, dw_block512_6,
                                            dw_block512_7, dw_block512_8};

__attribute__((target("avx512f"))) static void dw_points512(const struct dw_plane *p)
{
    dw_points(p);
}

static const struct dw_isa dw_avx512 = {16, 8, dw_rows512, dw_stage512, dw_blocks512, dw_points512};

/* --- entry points --- */

static void dw_geo_of(const struct nnp_window *win, struct dw_geo *g)
{
    NNP_ASSERT(win->n_sp == 2);
    *g = (struct dw_geo){
        .H = win->in[0],
        .W = win->in[1],
        .OH = win->out[0],
        .OW = win->out[1],
        .kh = win->kernel[0],
        .kw = win->kernel[1],
        .sh = win->stride[0],
        .sw = win->stride[1],
        .dh = win->dil[0],
        .dw = win->dil[1],
        .ph = win->pad_begin[0],
        .pw = win->pad_begin[1],
    };
    NNP_ASSERT(g->H >= 0 && g->W >= 0 && g->OH >= 0 && g->OW >= 0);
    NNP_ASSERT(g->kh >= 1 && g->kw >= 1 && g->sh >= 1 && g->sw >= 1 && g->dh >= 1 && g->dw >= 1);
}

void nnp_conv_dw2d(enum nnp_isa isa, const struct nnp_window *win, const float *x, const float *w,
                   float bias, const float *res, const struct nnp_act *act, float *y)
{
    static const struct nnp_act none = {NNP_ACT_NONE, 0.0f, 0.0f};
    struct dw_geo g;
    dw_geo_of(win, &g);
    if (g.OH == 0 || g.OW == 0)
        return;
    if (g.H == 0 || g.W == 0) /* every tap is in the padding: x is never read */
        g.H = g.W = 0;
    if (!act)
        act = &none;
    NNP_ASSERT(act->kind >= 0 && act->kind < NNP_ACT_COUNT);
    struct dw_plane p = {&g, x, w, bias, res, act, act_in_regs(act->kind), y};
    const struct dw_isa *simd = isa == NNP_ISA_AVX512 ? &dw_avx512
                                : isa == NNP_ISA_AVX2 ? &dw_avx2
                                                      : NULL;
    if (!simd)
        dw_scalar(&p);
    else if (!dw_bands(&p, simd))
        simd->points(&p);
}

/* --- stride 1, an output as wide as the input: the plane as one flat run (AVX-512) --- */

/* With stride 1 and OW == W, output position j (row-major) reads tap t's input at j +
 * off[t], off[t] = (ki*dh - ph) * W + kj*dw - pw, whatever row j is on: a vector of 16
 * outputs is 16 consecutive inputs from one offset per tap, read in place, the lanes
 * whose tap falls in a pad (or past the plane) masked off, as the zeros they stand for.
 * The plane runs as vectors of 16 of its OH * OW outputs, not row by row: no row pads a
 * vector (a 28-wide row takes 2 vectors for 28 outputs, 784 of them take 49), nothing
 * is staged, and eight vectors take each tap together (eight FMA chains). The masks
 * depend on the geometry only: made once, at plan time. Measured on MobileNet-v2's
 * stride-1 layers (one thread, each alone, against the staged kernels, best p50):
 * 192 x 28 x 28 0.118 -> 0.075 ms, 384 x 14 x 14 0.077 -> 0.044, 576 x 14 x 14
 * 0.121 -> 0.066, 960 x 7 x 7 0.055 -> 0.042 (those two against the 16-channel path). */
#define DW_FLAT_MAX_TAPS 64
/* Up to 56 x 56 (196 vectors: 0.249 -> 0.218 ms for 144 channels); 112 x 112 (784) ran
 * slower flat (0.153 -> 0.172 ms, 32 channels): its masks no longer stay in L1 beside
 * the rows, and the staged kernel's rows of 8 vectors already fill every lane. */
#define DW_FLAT_MAX_VECS 512

bool nnp_conv_dw2d_flat_fit(enum nnp_isa isa, const struct nnp_window *win)
{
    if (isa != NNP_ISA_AVX512 || win->n_sp != 2)
        return false;
    int64_t vecs = (win->out[0] * win->out[1] + 15) / 16, taps = win->kernel[0] * win->kernel[1];
    return win->stride[0] == 1 && win->stride[1] == 1 && win->out[1] == win->in[1] &&
           win->out[0] > 0 && win->out[1] > 0 && taps <= DW_FLAT_MAX_TAPS &&
           vecs <= DW_FLAT_MAX_VECS;
}

size_t nnp_conv_dw2d_flat_masks(const struct nnp_window *win)
{
    int64_t vecs = (win->out[0] * win->out[1] + 15) / 16;
    return (size_t)(vecs * win->kernel[0] * win->kernel[1]);
}

void nnp_conv_dw2d_flat_plan(const struct nnp_window *win, uint16_t *masks, int64_t *off)
{
    struct dw_geo g;
    dw_geo_of(win, &g);
    int64_t taps = g.kh * g.kw, P = g.OH * g.OW, vecs = (P + 15) / 16;
    for (int64_t t = 0; t < taps; t++)
        off[t] = (t / g.kw * g.dh - g.ph) * g.W + t % g.kw * g.dw - g.pw;
    for (int64_t v = 0; v < vecs; v++)
        for (int64_t t = 0; t < taps; t++)
            masks[v * taps + t] = nnp_window_lanes(win, v * 16, t / g.kw * g.dh - g.ph,
                                                   t % g.kw * g.dw - g.pw);
}

/* NB vectors from vector v0 on: the taps in order into NB chains, then the epilogue */
AVX512 void dw_flat_block(const int NB, const struct dw_plane *p, const uint16_t *masks,
                          const int64_t *off, int64_t taps, int64_t P, int64_t v0)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int b = 0; b < NB; b++)
        acc[b] = _mm512_setzero_ps();
    const float *x = p->x + v0 * 16;
    const uint16_t *m = masks + v0 * taps;
    for (int64_t t = 0; t < taps; t++) {
        __m512 wv = _mm512_set1_ps(p->w[t]);
#pragma GCC unroll 8
        for (int b = 0; b < NB; b++)
            acc[b] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[b * taps + t], x + b * 16 + off[t]),
                                     wv, acc[b]);
    }
    const __m512 bias = _mm512_set1_ps(p->bias);
#pragma GCC unroll 8
    for (int b = 0; b < NB; b++) {
        int64_t j = (v0 + b) * 16;
        __mmask16 st = P - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (P - j)) - 1);
        __m512 v = _mm512_add_ps(acc[b], bias);
        if (p->res)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(st, p->res + j));
        if (p->act_in_regs)
            v = dw_act512(p->act, v);
        _mm512_mask_storeu_ps(p->y + j, st, v);
    }
}

__attribute__((target("avx512f"))) void
nnp_conv_dw2d_flat(const struct nnp_window *win, const uint16_t *masks, const int64_t *off,
                   const float *x, const float *w, float bias, const float *res,
                   const struct nnp_act *act, float *y)
{
    static const struct nnp_act none = {NNP_ACT_NONE, 0.0f, 0.0f};
    struct dw_geo g;
    dw_geo_of(win, &g);
    if (!act)
        act = &none;
    struct dw_plane p = {&g, x, w, bias, res, act, act_in_regs(act->kind), y};
    int64_t taps = g.kh * g.kw, P = g.OH * g.OW, vecs = (P + 15) / 16, v0 = 0;
    for (; v0 + 8 <= vecs; v0 += 8)
        dw_flat_block(8, &p, masks, off, taps, P, v0);
    for (; v0 + 4 <= vecs; v0 += 4)
        dw_flat_block(4, &p, masks, off, taps, P, v0);
    for (; v0 < vecs; v0++)
        dw_flat_block(1, &p, masks, off, taps, P, v0);
    if (!p.act_in_regs)
        nnp_act_apply(act, P, y);
}

/* --- small planes, 16 channels at a time (AVX-512) --- */

/* Planes of 7 or 14 columns fill half a vector or less along a row; across channels
 * every lane is busy. The window's input region of each of 16 channels is staged as
 * (position, channel) with zeros in the pads, one gather per position, so that a tap of
 * 16 outputs is one aligned load; four outputs run side by side (four FMA chains). The
 * taps, their order, the fma and the epilogue are those of dw_point and dw_points:
 * the same bits. */
#define DW_CH_STAGE 512 /* staged positions: 32 KiB of stack */

static bool dw_ch_geo(const struct dw_geo *g, int64_t *hs, int64_t *ws)
{
    *hs = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    *ws = (g->OW - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    return g->OH > 0 && g->OW > 0 && g->OW <= 14 && *hs <= DW_CH_STAGE &&
           *ws <= DW_CH_STAGE && *hs * *ws <= DW_CH_STAGE && g->kh * g->kw <= 64 &&
           g->H * g->W <= INT32_MAX / 16 && g->OH * g->OW <= INT32_MAX / 16;
}

static bool dw3x3_rows_fit(const struct dw_geo *g);

bool nnp_conv_dw2d_channels_fit(enum nnp_isa isa, const struct nnp_window *win)
{
    struct dw_geo g;
    int64_t hs, ws;
    dw_geo_of(win, &g);
    return isa == NNP_ISA_AVX512 && (dw3x3_rows_fit(&g) || dw_ch_geo(&g, &hs, &ws));
}

/* 3x3, stride 2, no dilation, a left pad of 0 or 1, output rows of up to 16 floats
 * (inputs of up to 32): each output row of a channel is one vector. An input row is
 * loaded once (zeros past its end), split into its even and odd columns, and its three
 * taps are those vectors shifted by a lane (valignd), zeros where the window leaves the
 * row, which is what the staged path stages there; four output rows run side by side,
 * each summing its taps in the same (ki, kj) order with the same fma and epilogue: the
 * same bits, without the gathers and scatters of staging. MobileNet-v2's 192 channels
 * of 28 x 28 at stride 2: 0.084 -> 0.042 ms, where staging the 29 x 29 window would not
 * fit and each plane ran on its own. The same rows at stride 1 (one load, three shifts)
 * measured slower than staging on 14 x 14 and 7 x 7 planes (0.082 -> 0.099 and
 * 0.059 -> 0.137 ms), so stride 1 stays with staging. */
static bool dw3x3_rows_fit(const struct dw_geo *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1 &&
           g->pw <= 1 && g->OW >= 1 && g->OW <= 16 && g->W <= 32;
}

/* lane i of the result: lane i + s of v (s = -1 or 1), zero outside v */
__attribute__((target("avx512f"), always_inline)) static inline __m512 dw_shift(__m512 v, int s)
{
    const __m512i z = _mm512_setzero_si512(), vi = _mm512_castps_si512(v);
    return _mm512_castsi512_ps(s < 0 ? _mm512_alignr_epi32(vi, z, 15)
                                     : _mm512_alignr_epi32(z, vi, 1));
}

__attribute__((target("avx512f"))) static void
dw3x3_rows(const struct dw_geo *g, const float *x, const float *w, const float *bias,
           const float *res, const struct nnp_act *act, bool in_regs, float *y, int nch)
{
    const __m512 zero = _mm512_setzero_ps();
    const __mmask16 out = (__mmask16)((1u << g->OW) - 1);
    /* the row's first 16 columns and the rest (W <= 32) */
    const __mmask16 lo = (__mmask16)(g->W >= 16 ? 0xffff : (1u << g->W) - 1);
    const __mmask16 hi = (__mmask16)(g->W >= 32   ? 0xffff
                                      : g->W > 16 ? (1u << (g->W - 16)) - 1
                                                  : 0);
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd =
        _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    int64_t plane = g->H * g->W, oplane = g->OH * g->OW;
    for (int c = 0; c < nch; c++) {
        const float *xc = x + c * plane, *wc = w + c * 9;
        __m512 wv[9];
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++)
            wv[t] = _mm512_set1_ps(wc[t]);
        __m512 bv = _mm512_set1_ps(bias ? bias[c] : 0.0f);
        float *yc = y + c * oplane;
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += 4) {
            int nr = g->OH - oh0 < 4 ? (int)(g->OH - oh0) : 4;
            __m512 acc[4] = {zero, zero, zero, zero};
            /* input row 2 * oh0 + r - ph feeds output rows oh0 + i with r = 2 * i + ki */
            for (int r = 0; r < 2 * (nr - 1) + 3; r++) {
                int64_t ih = 2 * oh0 + r - g->ph;
                __m512 a = zero, b = zero;
                if (ih >= 0 && ih < g->H && g->W > 0) {
                    a = _mm512_maskz_loadu_ps(lo, xc + ih * g->W);
                    if (hi)
                        b = _mm512_maskz_loadu_ps(hi, xc + ih * g->W + 16);
                }
                __m512 ev = _mm512_permutex2var_ps(a, even, b);
                __m512 od = _mm512_permutex2var_ps(a, odd, b);
                /* column 2 ow + kj - pw: even, odd, then even one lane on (pw 0); odd one
                 * lane back, even, odd (pw 1) */
                __m512 tap[3] = {g->pw ? dw_shift(od, -1) : ev, g->pw ? ev : od,
                                 g->pw ? od : dw_shift(ev, 1)};
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    int64_t ki = r - 2 * i;
                    if (i < nr && ki >= 0 && ki < 3) {
                        acc[i] = _mm512_fmadd_ps(tap[0], wv[ki * 3], acc[i]);
                        acc[i] = _mm512_fmadd_ps(tap[1], wv[ki * 3 + 1], acc[i]);
                        acc[i] = _mm512_fmadd_ps(tap[2], wv[ki * 3 + 2], acc[i]);
                    }
                }
            }
            for (int i = 0; i < nr; i++) {
                int64_t oh = oh0 + i;
                __m512 v = _mm512_add_ps(acc[i], bv);
                if (res)
                    v = _mm512_add_ps(v,
                                      _mm512_maskz_loadu_ps(out, res + c * oplane + oh * g->OW));
                if (in_regs)
                    v = dw_act512(act, v);
                _mm512_mask_storeu_ps(yc + oh * g->OW, out, v);
            }
        }
    }
}

__attribute__((target("avx512f"))) void
nnp_conv_dw2d_channels(const struct nnp_window *win, const float *x, const float *w,
                       const float *bias, const float *res, const struct nnp_act *act, float *y,
                       int nch)
{
    static const struct nnp_act none = {NNP_ACT_NONE, 0.0f, 0.0f};
    struct dw_geo g;
    int64_t hs, ws;
    dw_geo_of(win, &g);
    NNP_ASSERT(nch >= 1 && nch <= 16 && (dw3x3_rows_fit(&g) || dw_ch_geo(&g, &hs, &ws)));
    if (!act)
        act = &none;
    bool in_regs = act_in_regs(act->kind);
    int64_t plane = g.H * g.W, oplane = g.OH * g.OW, taps = g.kh * g.kw;
    if (dw3x3_rows_fit(&g)) {
        dw3x3_rows(&g, x, w, bias, res, act, in_regs, y, nch);
        if (!in_regs)
            for (int c = 0; c < nch; c++)
                nnp_act_apply(act, oplane, y + c * oplane);
        return;
    }
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __mmask16 m = (__mmask16)(nch == 16 ? 0xffff : (1u << nch) - 1);
    const __m512i xi = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)plane));
    const __m512i yi = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)oplane));
    const __m512i wi = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)taps));
    const __m512 zero = _mm512_setzero_ps();
    __attribute__((aligned(64))) float st[DW_CH_STAGE * 16];
    __attribute__((aligned(64))) float wt[64 * 16];
    for (int64_t t = 0; t < taps; t++)
        _mm512_store_ps(wt + 16 * t, _mm512_mask_i32gather_ps(zero, m, wi, w + t, 4));
    __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias) : zero;
    for (int64_t r = 0; r < hs; r++) {
        int64_t ih = r - g.ph;
        for (int64_t q = 0; q < ws; q++) {
            int64_t iw = q - g.pw;
            __m512 v = zero;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                v = _mm512_mask_i32gather_ps(zero, m, xi, x + ih * g.W + iw, 4);
            _mm512_store_ps(st + 16 * (r * ws + q), v);
        }
    }
    int64_t tap_h = g.dh * ws, tap_w = g.dw;
    for (int64_t p = 0; p < oplane;) {
        int n = oplane - p >= 4 ? 4 : 1; /* outputs side by side */
        int64_t at[4];
        __m512 acc[4];
        for (int i = 0; i < n; i++) {
            int64_t oh = (p + i) / g.OW, ow = (p + i) % g.OW;
            at[i] = oh * g.sh * ws + ow * g.sw;
            acc[i] = zero;
        }
        for (int64_t ki = 0; ki < g.kh; ki++)
            for (int64_t kj = 0; kj < g.kw; kj++) {
                __m512 wv = _mm512_load_ps(wt + 16 * (ki * g.kw + kj));
                int64_t off = ki * tap_h + kj * tap_w;
                if (n == 4) {
                    acc[0] = _mm512_fmadd_ps(_mm512_load_ps(st + 16 * (at[0] + off)), wv, acc[0]);
                    acc[1] = _mm512_fmadd_ps(_mm512_load_ps(st + 16 * (at[1] + off)), wv, acc[1]);
                    acc[2] = _mm512_fmadd_ps(_mm512_load_ps(st + 16 * (at[2] + off)), wv, acc[2]);
                    acc[3] = _mm512_fmadd_ps(_mm512_load_ps(st + 16 * (at[3] + off)), wv, acc[3]);
                } else {
                    acc[0] = _mm512_fmadd_ps(_mm512_load_ps(st + 16 * (at[0] + off)), wv, acc[0]);
                }
            }
        for (int i = 0; i < n; i++) {
            __m512 v = _mm512_add_ps(acc[i], bv);
            if (res)
                v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(zero, m, yi, res + p + i, 4));
            if (in_regs)
                v = dw_act512(act, v);
            _mm512_mask_i32scatter_ps(y + p + i, m, yi, v, 4);
        }
        p += n;
    }
    if (!in_regs)
        for (int c = 0; c < nch; c++)
            nnp_act_apply(act, oplane, y + c * oplane);
}

void nnp_conv_dw2d_ref(const struct nnp_window *win, const float *x, const float *w, float bias,
                       const float *res, const struct nnp_act *act, float *y)
{
    struct dw_geo g;
    dw_geo_of(win, &g);
    for (int64_t oh = 0; oh < g.OH; oh++) {
        float *yr = y + oh * g.OW; /* (OW) */
        for (int64_t ow = 0; ow < g.OW; ow++) {
            double acc = 0.0;
            for (int64_t ki = 0; ki < g.kh; ki++)
                for (int64_t kj = 0; kj < g.kw; kj++) {
                    int64_t ih = oh * g.sh + ki * g.dh - g.ph, iw = ow * g.sw + kj * g.dw - g.pw;
                    bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
                    acc += (in ? (double)x[ih * g.W + iw] : 0.0) * w[ki * g.kw + kj];
                }
            acc += bias;
            if (res)
                acc += res[oh * g.OW + ow];
            yr[ow] = (float)acc;
        }
        if (act)
            nnp_act_apply(act, g.OW, yr);
    }
}
