/* kernels/simd/qdw.c — the int8 depthwise convolution of a plane (what and how: qdw.h). */
#include "kernels/simd/qdw.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define QDW_MAX_ROWS 32    /* kernel rows */
#define QDW_MAX_WORDS (QDW_MAX_ROWS * 2)

static int64_t quads_of(const struct nnp_window *win)
{
    return (win->kernel[1] + 3) / 4;
}

bool nnp_qdw_fit(const struct nnp_window *win)
{
#if defined(__x86_64__)
    static int cpu = -1;
    if (cpu < 0)
        cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    return cpu && win->n_sp == 2 && win->kernel[0] <= QDW_MAX_ROWS && win->kernel[1] <= 8 &&
           win->stride[1] <= 4 &&
           win->in[1] < ((int64_t)1 << 40) &&
           win->dil[0] == 1 && win->dil[1] == 1 && win->out[0] >= 1 && win->out[1] >= 1;
#else
    (void)win;
    return false;
#endif
}

size_t nnp_qdw_weight_words(const struct nnp_window *win)
{
    return (size_t)(win->kernel[0] * quads_of(win));
}

size_t nnp_qdw_geom_bytes(const struct nnp_window *win)
{
    size_t entries = (size_t)((win->out[1] + 15) / 16 * quads_of(win));
    return sizeof(struct nnp_qdw_geom) + entries * (sizeof(int64_t) + sizeof(uint64_t));
}

void nnp_qdw_geom_make(const struct nnp_window *win, struct nnp_qdw_geom *g)
{
    int64_t nq = quads_of(win), sw = win->stride[1], w = win->in[1], pl = win->pad_begin[1];
    int64_t nch = (win->out[1] + 15) / 16;
    bool two = win->out[1] <= 8;
    g->col = (int64_t *)(void *)(g + 1);
    g->mask = (uint64_t *)(void *)(g->col + nch * nq);
    for (int j = 0; j < 16; j++) /* lane j: the 4 bytes from column j * stride */
        for (int t = 0; t < 4; t++)
            g->idx[4 * j + t] = (uint8_t)(two && j >= 8 ? 64 + (j - 8) * sw + t : j * sw + t);
    for (int64_t c = 0; c < nch; c++)
        for (int64_t q = 0; q < nq; q++) {
            int64_t o = c * 16 * sw - pl + 4 * q;
            int64_t lo = o < 0 ? -o : 0, hi = w - o < 64 ? w - o : 64; /* bytes [lo, hi) */
            g->col[c * nq + q] = o;
            g->mask[c * nq + q] = hi <= lo ? 0 : (~0ull >> (64 - (hi - lo))) << lo;
        }
}

void nnp_qdw_weights(const struct nnp_window *win, const int8_t *w, int32_t *dst)
{
    int64_t kh = win->kernel[0], kw = win->kernel[1], nq = quads_of(win);
    for (int64_t ky = 0; ky < kh; ky++)
        for (int64_t q = 0; q < nq; q++) {
            uint8_t b[4] = {0, 0, 0, 0};
            for (int64_t t = 0; t < 4 && 4 * q + t < kw; t++)
                b[t] = (uint8_t)w[ky * kw + 4 * q + t];
            memcpy(dst + ky * nq + q, b, 4);
        }
}

#if defined(__x86_64__)
#define TQDW __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))

/* The vector loop, inlined with its shape as constants where they are known: KH kernel
 * rows of NQ quads (0: from the window), TWO rows to a vector, FLIP (int8 in) */
TQDW __attribute__((always_inline)) static inline void
plane_loop(const struct nnp_window *win, const struct nnp_qdw *p, const int KH, const int NQ,
           const bool TWO, const bool FLIP)
{
    int64_t kh = KH ? KH : win->kernel[0], nq = NQ ? NQ : quads_of(win);
    int64_t sh = win->stride[0];
    int64_t h = win->in[0], w = win->in[1], oh = win->out[0], ow = win->out[1];
    int64_t pt = win->pad_begin[0];
    int64_t nch = (ow + 15) / 16;
    const int64_t *col = p->geom->col;
    const uint64_t *mk = p->geom->mask;
    __m512i vidx = _mm512_loadu_si512(p->geom->idx);
    __m512i pad = _mm512_set1_epi8((char)p->pad), flip = _mm512_set1_epi8((char)p->flip);
    __m512i padx = _mm512_xor_si512(pad, flip); /* so that the flip gives pad back */
    __m512i off = _mm512_set1_epi32(p->off), zp = _mm512_set1_epi32(p->zp);
    __m512 mul = _mm512_set1_ps(p->mul);
    __m512 flo = _mm512_set1_ps((float)(p->lo - p->zp)), fhi = _mm512_set1_ps((float)(p->hi - p->zp));
    __m512i wv[QDW_MAX_WORDS];
    for (int64_t t = 0; t < kh * nq; t++)
        wv[t] = _mm512_set1_epi32(p->w[t]);
    uintptr_t x = (uintptr_t)p->x;
    const uintptr_t none = 0;
    for (int64_t oy = 0; oy < oh; oy += TWO ? 2 : 1) {
        /* each kernel row's input row (and, TWO, the next output row's), or none: pads */
        uintptr_t r1[QDW_MAX_ROWS], r2[QDW_MAX_ROWS];
        for (int64_t ky = 0; ky < kh; ky++) {
            int64_t iy = oy * sh - pt + ky, iy2 = iy + sh;
            r1[ky] = iy >= 0 && iy < h ? x + (uintptr_t)(iy * w) : none;
            r2[ky] = TWO && oy + 1 < oh && iy2 >= 0 && iy2 < h ? x + (uintptr_t)(iy2 * w) : none;
        }
        for (int64_t c = 0; c < nch; c++) {
            __m512i acc = off; /* (+ off first: int32 sums wrap the same either way) */
            for (int64_t ky = 0; ky < kh; ky++)
                for (int64_t q = 0; q < nq; q++) {
                    int64_t t = c * nq + q;
                    /* masked loads: nothing outside the row is read */
                    __m512i v = pad, quads;
                    if (r1[ky] != none) {
                        v = _mm512_mask_loadu_epi8(FLIP ? padx : pad, (__mmask64)mk[t],
                                                   (const void *)(r1[ky] + (uintptr_t)col[t]));
                        if (FLIP)
                            v = _mm512_xor_si512(v, flip);
                    }
                    if (TWO) { /* lanes 8..: the next output row's */
                        __m512i v2 = pad;
                        if (r2[ky] != none) {
                            v2 = _mm512_mask_loadu_epi8(FLIP ? padx : pad, (__mmask64)mk[t],
                                                        (const void *)(r2[ky] + (uintptr_t)col[t]));
                            if (FLIP)
                                v2 = _mm512_xor_si512(v2, flip);
                        }
                        quads = _mm512_permutex2var_epi8(v, vidx, v2);
                    } else {
                        quads = _mm512_permutexvar_epi8(vidx, v);
                    }
                    acc = _mm512_dpbusd_epi32(acc, quads, wv[ky * nq + q]);
                }
            /* the epilogue of qgemm.c, to the bit */
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mul);
            f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
            __m512i qv = _mm512_add_epi32(_mm512_cvtps_epi32(f), zp);
            if (TWO) { /* row oy from lane 0, row oy + 1 from lane 8: contiguous in y */
                __mmask16 m1 = (__mmask16)((1u << ow) - 1);
                bool both = oy + 1 < oh;
                __m512i lanes = _mm512_maskz_compress_epi32(both ? (__mmask16)(m1 | m1 << 8) : m1, qv);
                _mm512_mask_cvtepi32_storeu_epi8(p->y + oy * ow,
                                                 (__mmask16)((1u << (both ? 2 * ow : ow)) - 1), lanes);
            } else {
                int64_t j0 = c * 16;
                __mmask16 m = ow - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ow - j0)) - 1);
                _mm512_mask_cvtepi32_storeu_epi8(p->y + oy * ow + j0, m, qv);
            }
        }
    }
}

#define QDW_FN(name, KH, NQ, TWO, FLIP)                                                        \
    TQDW static void name(const struct nnp_window *win, const struct nnp_qdw *p)              \
    {                                                                                          \
        plane_loop(win, p, KH, NQ, TWO, FLIP);                                                 \
    }
QDW_FN(qdw3_u8, 3, 1, false, false)
QDW_FN(qdw3_s8, 3, 1, false, true)
QDW_FN(qdw3_two_u8, 3, 1, true, false)
QDW_FN(qdw3_two_s8, 3, 1, true, true)
QDW_FN(qdw_any, 0, 0, false, true)
QDW_FN(qdw_any_two, 0, 0, true, true)

TQDW static void plane_vbmi(const struct nnp_window *win, const struct nnp_qdw *p)
{
    bool two = win->out[1] <= 8, s8 = p->flip != 0;
    if (win->kernel[0] == 3 && win->kernel[1] <= 4)
        (two ? (s8 ? qdw3_two_s8 : qdw3_two_u8) : (s8 ? qdw3_s8 : qdw3_u8))(win, p);
    else
        (two ? qdw_any_two : qdw_any)(win, p);
}
#endif

void nnp_qdw_plane(const struct nnp_window *win, const struct nnp_qdw *p)
{
#if defined(__x86_64__)
    plane_vbmi(win, p);
#else
    (void)win, (void)p;
#endif
}
