/* kernels/ops/op_pool.c — MaxPool, AveragePool, GlobalAveragePool; 1-D to 6-D.
 *
 * Every output position reduces the taps of its window that land inside the
 * input (MaxPool ignores padding; AveragePool counts it only with
 * count_include_pad). Per axis those taps form one range [lo, hi), found in
 * O(1) (tap_range), so no tap is ever tested against the bounds. 1-D and 2-D
 * pools run a 2-D loop nest (a 1-D window is 2-D with height 1); 3-D and up
 * walk the window with an odometer. That general version is also the
 * reference the 2-D one is tested against. float32 2-D pools without Indices
 * are separable: the window's rows are combined with vector instructions into
 * one row, then its columns along that row. With the range computed only at
 * the borders, that took LeNet's first MaxPool (2x2, stride 2, 6x28x28, batch
 * 64, one thread) from 1.40 ms to 0.12 ms.
 *
 * MaxPool's optional Indices output holds int64 positions into the flattened
 * input: (n*C + c) * plane + the spatial offset, row-major, or column-major
 * (first axis fastest) with storage_order = 1, as ONNX Runtime writes them.
 * MaxPool runs float32, int8 and uint8 (opset 12); AveragePool float32.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/simd/gemv.h"
#include "kernels/ops/op.h"
#include "kernels/threads.h"
#include "kernels/ops/window.h"

enum pool_kind { POOL_MAX, POOL_AVG };

struct pool_state {
    struct nnp_window w;   /* spatial geometry */
    struct nnp_window w2d; /* the same, as 2-D, for n_sp <= 2 */
    int64_t planes;        /* N * C */
    int64_t iprod, oprod;  /* spatial elements of X and Y */
    bool include_pad;      /* AveragePool count_include_pad */
    bool col_major;        /* MaxPool storage_order = 1 */
    int64_t row_floats;    /* separable 2-D paths: scratch floats per thread */
    enum nnp_dtype dtype;
    enum nnp_isa isa;
};

/* Taps t in [0, k) with 0 <= base + t*d < n form [*lo, *hi) (empty when *lo >= *hi). */
static void tap_range(int64_t base, int64_t d, int64_t n, int64_t k, int64_t *lo, int64_t *hi)
{
    int64_t l = base >= 0 ? 0 : (-base + d - 1) / d;
    int64_t h = n - base <= 0 ? 0 : (n - base + d - 1) / d;
    *lo = l < k ? l : k;
    *hi = h < k ? h : k;
    if (*hi < *lo)
        *hi = *lo;
}

/* Outputs along axis i whose whole window lies inside the input: [*lo, *hi). */
static void interior(const struct nnp_window *w, int i, int64_t *lo, int64_t *hi)
{
    int64_t s = w->stride[i],
            last = w->in[i] - 1 - (w->kernel[i] - 1) * w->dil[i] + w->pad_begin[i];
    int64_t l = (w->pad_begin[i] + s - 1) / s;
    int64_t h = last < 0 ? 0 : last / s + 1;
    *lo = l < w->out[i] ? l : w->out[i];
    *hi = h < w->out[i] ? h : w->out[i];
    if (*hi < *lo)
        *hi = *lo;
}

static enum nnp_status pool_prepare(struct nnp_exec_node *n, struct nnp_arena *arena,
                                    enum pool_kind kind)
{
    const struct nnp_rt_value *x = n->in[0];
    const char *op = kind == POOL_MAX ? "MaxPool" : "AveragePool";
    bool ok_type = x->dtype == NNP_DTYPE_F32 ||
                   (kind == POOL_MAX && (x->dtype == NNP_DTYPE_U8 || x->dtype == NNP_DTYPE_I8));
    if (!ok_type)
        return nnp_op_unsupported(n, "input is %s, %s supports %s", nnp_dtype_name(x->dtype), op,
                                  kind == POOL_MAX ? "float32, int8 and uint8" : "float32");
    NNP_OP_CHECK(n, x->rank >= 3, "input is %d-D, %s needs at least 3-D (N, C, spatial...)",
                 x->rank, op);
    struct pool_state *s = nnp_arena_alloc(arena, sizeof *s);
    int n_sp = x->rank - 2;
    enum nnp_status st = nnp_window_parse(n, &s->w, n_sp, NULL);
    if (st)
        return st;
    int64_t ceil_mode = nnp_node_attr_int(n->node, "ceil_mode", 0);
    NNP_OP_CHECK(n, ceil_mode == 0 || ceil_mode == 1, "ceil_mode is %" PRId64 ", expected 0 or 1",
                 ceil_mode);
    /* a window entirely in the padding would have nothing to pool */
    for (int i = 0; i < n_sp; i++) {
        int64_t ek = (s->w.kernel[i] - 1) * s->w.dil[i] + 1;
        NNP_OP_CHECK(n, s->w.pad_begin[i] < ek && s->w.pad_end[i] < ek,
                     "pads on axis %d (%" PRId64 ", %" PRId64
                     ") must be smaller than the kernel (%" PRId64 ")",
                     i, s->w.pad_begin[i], s->w.pad_end[i], ek);
    }
    if ((st = nnp_window_forward(n, &s->w, x->dims + 2, ceil_mode != 0)))
        return st;
    if (kind == POOL_MAX) {
        int64_t order = nnp_node_attr_int(n->node, "storage_order", 0);
        NNP_OP_CHECK(n, order == 0 || order == 1, "storage_order is %" PRId64 ", expected 0 or 1",
                     order);
        s->col_major = order == 1;
    } else {
        int64_t inc = nnp_node_attr_int(n->node, "count_include_pad", 0);
        NNP_OP_CHECK(n, inc == 0 || inc == 1, "count_include_pad is %" PRId64 ", expected 0 or 1",
                     inc);
        s->include_pad = inc == 1;
    }
    s->planes = x->dims[0] * x->dims[1];
    s->iprod = nnp_window_prod(s->w.in, n_sp);
    s->oprod = nnp_window_prod(s->w.out, n_sp);
    s->dtype = x->dtype;
    s->w2d = s->w;
    nnp_window_flat2d(&s->w2d);
    s->isa = nnp_isa_best();
    /* the separable 2-D float32 paths: one input row of scratch */
    bool indices = kind == POOL_MAX && n->n_out > 1 && n->out[1];
    if (n_sp <= 2 && x->dtype == NNP_DTYPE_F32 && !indices) {
        /* one row per thread, a whole number of cache lines apart */
        s->row_floats = ((s->w2d.in[1] ? s->w2d.in[1] : 1) + 15) & ~(int64_t)15;
        n->scratch_bytes = (size_t)s->row_floats * sizeof(float) *
                           (size_t)(n->threads > 1 ? n->threads : 1);
    }
    n->state = s;
    /* every output visits its whole window (the reference kernel does) */
    int64_t taps[2 + NNP_WINDOW_MAX] = {s->planes, s->oprod};
    memcpy(taps + 2, s->w.kernel, sizeof(int64_t) * (size_t)n_sp);
    n->work = nnp_work_prod(2 + n_sp, taps);

    int64_t od[NNP_MAX_RANK] = {x->dims[0], x->dims[1]};
    memcpy(od + 2, s->w.out, sizeof(int64_t) * (size_t)n_sp);
    if ((st = nnp_rt_set_shape(n->out[0], x->dtype, x->rank, od)))
        return st;
    if (n->n_out > 1 && n->out[1])
        return nnp_rt_set_shape(n->out[1], NNP_DTYPE_I64, x->rank, od);
    return NNP_OK;
}

/* Column-major offset of a position in row-major offset `lin` over dims in (n axes). */
static int64_t col_major_of(int64_t lin, const int64_t *in, int n)
{
    int64_t off = 0, step = 1, idx[NNP_WINDOW_MAX];
    for (int i = n - 1; i >= 0; i--) {
        idx[i] = lin % in[i];
        lin /= in[i];
    }
    for (int i = 0; i < n; i++) {
        off += idx[i] * step;
        step *= in[i];
    }
    return off;
}

/* --- MaxPool --- */

/* One version per element type: 2-D loops (with and without Indices) and the
 * general N-D walk. The first tap seeds the maximum, so a window always reports
 * a real index; after that ties go to the earlier tap and NaN never wins a
 * comparison. The 2-D loops split each output row into the outputs whose window
 * lies inside the input (the common case: no range to compute) and the border. */
#define MAXPOOL2D(NAME, T, LOWEST, IND)                                                            \
    static void NAME(const struct pool_state *s, const T *x, T *y, int64_t *ind)                   \
    {                                                                                              \
        const struct nnp_window *w = &s->w2d;                                                      \
        int64_t H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];                        \
        int64_t kw = w->kernel[1], sw = w->stride[1], dh = w->dil[0], dw = w->dil[1];              \
        int64_t wlo, whi;                                                                          \
        interior(w, 1, &wlo, &whi);                                                                \
        for (int64_t p = 0; p < s->planes; p++) {                                                  \
            const T *xp = x + p * H * W;                                                           \
            for (int64_t oh = 0; oh < OH; oh++) {                                                  \
                int64_t bh = oh * w->stride[0] - w->pad_begin[0], h0, h1;                          \
                tap_range(bh, dh, H, w->kernel[0], &h0, &h1);                                      \
                T *yr = y + (p * OH + oh) * OW;                                                    \
                for (int64_t ow = 0; ow < OW; ow++) {                                              \
                    int64_t bw = ow * sw - w->pad_begin[1], w0 = 0, w1 = kw;                       \
                    if (ow < wlo || ow >= whi)                                                     \
                        tap_range(bw, dw, W, kw, &w0, &w1);                                        \
                    T best = LOWEST;                                                               \
                    int64_t at = -1;                                                               \
                    for (int64_t i = h0; i < h1; i++) {                                            \
                        int64_t ih = bh + i * dh;                                                  \
                        const T *xr = xp + ih * W + bw;                                            \
                        for (int64_t j = w0; j < w1; j++) {                                        \
                            T v = xr[j * dw];                                                      \
                            if (v > best || at < 0) {                                              \
                                best = v;                                                          \
                                at = IND ? (s->col_major ? ih + (bw + j * dw) * H                  \
                                                         : ih * W + bw + j * dw)                   \
                                         : 0;                                                      \
                            }                                                                      \
                        }                                                                          \
                    }                                                                              \
                    yr[ow] = best;                                                                 \
                    if (IND)                                                                       \
                        ind[(p * OH + oh) * OW + ow] = p * H * W + (at < 0 ? 0 : at);              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#define MAXPOOLND(SUF, T, LOWEST)                                                                  \
    static void maxpoolnd_##SUF(const struct pool_state *s, const T *x, T *y, int64_t *ind)        \
    {                                                                                              \
        const struct nnp_window *w = &s->w;                                                        \
        int ns = w->n_sp;                                                                          \
        for (int64_t p = 0; p < s->planes; p++) {                                                  \
            const T *xp = x + p * s->iprod;                                                        \
            int64_t o[NNP_WINDOW_MAX] = {0};                                                       \
            for (int64_t q = 0; q < s->oprod; q++) {                                               \
                int64_t base[NNP_WINDOW_MAX], lo[NNP_WINDOW_MAX], hi[NNP_WINDOW_MAX];              \
                int64_t t[NNP_WINDOW_MAX];                                                         \
                bool empty = false;                                                                \
                for (int i = 0; i < ns; i++) {                                                     \
                    base[i] = o[i] * w->stride[i] - w->pad_begin[i];                               \
                    tap_range(base[i], w->dil[i], w->in[i], w->kernel[i], &lo[i], &hi[i]);         \
                    empty |= lo[i] >= hi[i];                                                       \
                    t[i] = lo[i];                                                                  \
                }                                                                                  \
                T best = LOWEST;                                                                   \
                int64_t at = -1;                                                                   \
                while (!empty) {                                                                   \
                    int64_t lin = 0;                                                               \
                    for (int i = 0; i < ns; i++)                                                   \
                        lin = lin * w->in[i] + base[i] + t[i] * w->dil[i];                         \
                    T v = xp[lin];                                                                 \
                    if (v > best || at < 0) {                                                      \
                        best = v;                                                                  \
                        at = lin;                                                                  \
                    }                                                                              \
                    int i = ns - 1;                                                                \
                    for (; i >= 0 && ++t[i] == hi[i]; i--)                                         \
                        t[i] = lo[i];                                                              \
                    if (i < 0)                                                                     \
                        break;                                                                     \
                }                                                                                  \
                y[p * s->oprod + q] = best;                                                        \
                if (ind) {                                                                         \
                    int64_t off = at < 0 ? 0 : at;                                                 \
                    if (s->col_major)                                                              \
                        off = col_major_of(off, w->in, ns);                                        \
                    ind[p * s->oprod + q] = p * s->iprod + off;                                    \
                }                                                                                  \
                for (int i = ns - 1; i >= 0 && ++o[i] == w->out[i]; i--)                           \
                    o[i] = 0;                                                                      \
            }                                                                                      \
        }                                                                                          \
    }

MAXPOOLND(f32, float, -INFINITY)
MAXPOOLND(u8, uint8_t, 0)
MAXPOOLND(i8, int8_t, INT8_MIN)
MAXPOOL2D(maxpool2d_ind_f32, float, -INFINITY, 1)
MAXPOOL2D(maxpool2d_u8, uint8_t, 0, 0)
MAXPOOL2D(maxpool2d_ind_u8, uint8_t, 0, 1)
MAXPOOL2D(maxpool2d_i8, int8_t, INT8_MIN, 0)
MAXPOOL2D(maxpool2d_ind_i8, int8_t, INT8_MIN, 1)

#if defined(__x86_64__)
/* The interior columns [lo, hi) of maxpool2d_sep's column pass, 16 outputs at a time: tap
 * j of the 16 is a gather at stride sw. max_ps(v, best) is v > best ? v : best, the
 * scalar loop's comparison, NaN included. */
__attribute__((target("avx512f"))) static void colmax_avx512(const float *row, float *yr,
                                                             int64_t lo, int64_t hi,
                                                             int64_t sw, int64_t dw,
                                                             int64_t kw, int64_t pb)
{
    __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
                                                      3, 2, 1, 0),
                                     _mm512_set1_epi32((int)sw));
    for (int64_t ow = lo; ow < hi; ow += 16) {
        __mmask16 m = hi - ow >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (hi - ow)) - 1);
        const float *base = row + ow * sw - pb;
        __m512 best = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, base, 4);
        for (int64_t j = 1; j < kw; j++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, base + j * dw, 4);
            best = _mm512_max_ps(v, best);
        }
        _mm512_mask_storeu_ps(yr + ow, m, best);
    }
}
#endif

/* float32 without Indices, 2-D: separable. The rows of a window are reduced
 * first, elementwise and vectorized, into one row (scratch, W floats); the
 * window's columns are then reduced along that row. Same seeding as above: the
 * tap at (h0, w0) starts the maximum, later NaNs never win. */
static void maxpool2d_sep(const struct pool_state *s, const float *x, float *y, float *row,
                          int64_t p_begin, int64_t p_end)
{
    const struct nnp_window *w = &s->w2d;
    int64_t H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];
    int64_t kw = w->kernel[1], sw = w->stride[1], dh = w->dil[0], dw = w->dil[1];
    int64_t wlo, whi;
    interior(w, 1, &wlo, &whi);
    for (int64_t p = p_begin; p < p_end; p++) {
        const float *xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t bh = oh * w->stride[0] - w->pad_begin[0], h0, h1;
            tap_range(bh, dh, H, w->kernel[0], &h0, &h1);
            float *yr = y + (p * OH + oh) * OW;
            if (h0 >= h1) {
                nnp_vset(s->isa, OW, -INFINITY, yr);
                continue;
            }
            memcpy(row, xp + (bh + h0 * dh) * W, (size_t)W * sizeof *row);
            for (int64_t i = h0 + 1; i < h1; i++)
                nnp_vmax(s->isa, W, xp + (bh + i * dh) * W, row);
            int64_t skip_lo = OW, skip_hi = OW; /* columns done by the vector pass */
#if defined(__x86_64__)
            if (s->isa == NNP_ISA_AVX512 && whi - wlo >= 16 && W * sw < INT32_MAX / 16) {
                colmax_avx512(row, yr, wlo, whi, sw, dw, kw, w->pad_begin[1]);
                skip_lo = wlo;
                skip_hi = whi;
            }
#endif
            for (int64_t ow = 0; ow < OW; ow++) {
                if (ow == skip_lo) {
                    ow = skip_hi - 1;
                    continue;
                }
                int64_t bw = ow * sw - w->pad_begin[1], w0 = 0, w1 = kw;
                if (ow < wlo || ow >= whi)
                    tap_range(bw, dw, W, kw, &w0, &w1);
                float best = w0 < w1 ? row[bw + w0 * dw] : -INFINITY;
                for (int64_t j = w0 + 1; j < w1; j++) {
                    float v = row[bw + j * dw];
                    best = v > best ? v : best;
                }
                yr[ow] = best;
            }
        }
    }
}

/* Pools over fewer input elements than this run on one thread. */
#define POOL_PAR_MIN (1 << 15)

struct sep_job {
    const struct pool_state *s;
    const float *x;
    float *y;
    float *scratch; /* (threads, row_floats) */
    int64_t chunk;  /* planes per item */
};

static void maxpool_sep_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct sep_job *j = ctx;
    int64_t p1 = end * j->chunk;
    maxpool2d_sep(j->s, j->x, j->y, j->scratch + tid * j->s->row_floats, begin * j->chunk,
                  p1 < j->s->planes ? p1 : j->s->planes);
}

static enum nnp_status maxpool_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return pool_prepare(n, a, POOL_MAX);
}

static enum nnp_status maxpool_run(struct nnp_exec_node *n, bool general)
{
    const struct pool_state *s = n->state;
    const void *x = n->in[0]->data;
    void *y = n->out[0]->data;
    int64_t *ind = n->n_out > 1 && n->out[1] ? n->out[1]->data : NULL;
    bool use2d = !general && s->w.n_sp <= 2;
    if (use2d && s->dtype == NNP_DTYPE_F32 && !ind) {
        /* planes in blocks over the threads, each its own scratch row: every output is
         * computed as on one thread (bit-identical) */
        struct sep_job j = {s, x, y, n->scratch, s->planes};
        int64_t work = s->planes * s->w2d.in[0] * s->w2d.in[1];
        int threads = nnp_pool_threads(n->pool);
        if (threads > 1 && work >= POOL_PAR_MIN && s->planes >= 2 * threads)
            j.chunk = (s->planes + 4 * threads - 1) / (4 * threads);
        nnp_parallel_for(j.chunk < s->planes ? n->pool : NULL,
                         (s->planes + j.chunk - 1) / (j.chunk ? j.chunk : 1), maxpool_sep_task, &j);
        return NNP_OK;
    }
    switch (s->dtype) {
    case NNP_DTYPE_U8:
        (!use2d ? maxpoolnd_u8 : ind ? maxpool2d_ind_u8 : maxpool2d_u8)(s, x, y, ind);
        break;
    case NNP_DTYPE_I8:
        (!use2d ? maxpoolnd_i8 : ind ? maxpool2d_ind_i8 : maxpool2d_i8)(s, x, y, ind);
        break;
    default: (!use2d ? maxpoolnd_f32 : maxpool2d_ind_f32)(s, x, y, ind); break;
    }
    return NNP_OK;
}

static enum nnp_status maxpool_forward(struct nnp_exec_node *n)
{
    return maxpool_run(n, false);
}
static enum nnp_status maxpool_reference(struct nnp_exec_node *n)
{
    return maxpool_run(n, true);
}

const struct nnp_op nnp_op_MaxPool = {
    .name = "MaxPool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 2,
    .prepare = maxpool_prepare,
    .forward = maxpool_forward,
    .reference = maxpool_reference,
    .backward = NULL,
};

/* --- AveragePool --- */

/* How many taps an axis contributes to the divisor: those inside the input, or with
 * count_include_pad those inside the padded input (never beyond its end pad, which
 * only ceil_mode windows reach). */
static int64_t avg_count(const struct nnp_window *w, int i, int64_t base, bool include_pad)
{
    int64_t lo, hi;
    if (include_pad)
        tap_range(base + w->pad_begin[i], w->dil[i], w->in[i] + w->pad_begin[i] + w->pad_end[i],
                  w->kernel[i], &lo, &hi);
    else
        tap_range(base, w->dil[i], w->in[i], w->kernel[i], &lo, &hi);
    return hi - lo;
}

/* 2-D, separable as maxpool2d_sep: the window's rows summed into one row (scratch,
 * W floats), then its columns along that row. */
static void avgpool2d(const struct pool_state *s, const float *x, float *y, float *row)
{
    const struct nnp_window *w = &s->w2d;
    int64_t H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];
    int64_t kw = w->kernel[1], sw = w->stride[1], dh = w->dil[0], dw = w->dil[1];
    int64_t wlo, whi;
    interior(w, 1, &wlo, &whi);
    for (int64_t p = 0; p < s->planes; p++) {
        const float *xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t bh = oh * w->stride[0] - w->pad_begin[0], h0, h1;
            tap_range(bh, dh, H, w->kernel[0], &h0, &h1);
            int64_t ch = avg_count(w, 0, bh, s->include_pad);
            float *yr = y + (p * OH + oh) * OW;
            if (h0 >= h1) {
                nnp_vset(s->isa, OW, 0.0f, yr);
                continue;
            }
            memcpy(row, xp + (bh + h0 * dh) * W, (size_t)W * sizeof *row);
            for (int64_t i = h0 + 1; i < h1; i++)
                nnp_axpy(s->isa, W, 1.0f, xp + (bh + i * dh) * W, row);
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t bw = ow * sw - w->pad_begin[1], w0 = 0, w1 = kw, cw = kw;
                if (ow < wlo || ow >= whi) {
                    tap_range(bw, dw, W, kw, &w0, &w1);
                    cw = avg_count(w, 1, bw, s->include_pad);
                }
                float sum = 0.0f;
                for (int64_t j = w0; j < w1; j++)
                    sum += row[bw + j * dw];
                int64_t cnt = ch * cw;
                yr[ow] = cnt ? sum / (float)cnt : 0.0f;
            }
        }
    }
}

static void avgpoolnd(const struct pool_state *s, const float *x, float *y)
{
    const struct nnp_window *w = &s->w;
    int ns = w->n_sp;
    for (int64_t p = 0; p < s->planes; p++) {
        const float *xp = x + p * s->iprod;
        int64_t o[NNP_WINDOW_MAX] = {0};
        for (int64_t q = 0; q < s->oprod; q++) {
            int64_t base[NNP_WINDOW_MAX], lo[NNP_WINDOW_MAX], hi[NNP_WINDOW_MAX], t[NNP_WINDOW_MAX];
            int64_t cnt = 1;
            bool empty = false;
            for (int i = 0; i < ns; i++) {
                base[i] = o[i] * w->stride[i] - w->pad_begin[i];
                tap_range(base[i], w->dil[i], w->in[i], w->kernel[i], &lo[i], &hi[i]);
                empty |= lo[i] >= hi[i];
                t[i] = lo[i];
                cnt *= avg_count(w, i, base[i], s->include_pad);
            }
            double sum = 0.0;
            while (!empty) {
                int64_t lin = 0;
                for (int i = 0; i < ns; i++)
                    lin = lin * w->in[i] + base[i] + t[i] * w->dil[i];
                sum += xp[lin];
                int i = ns - 1;
                for (; i >= 0 && ++t[i] == hi[i]; i--)
                    t[i] = lo[i];
                if (i < 0)
                    break;
            }
            y[p * s->oprod + q] = cnt ? (float)(sum / (double)cnt) : 0.0f;
            for (int i = ns - 1; i >= 0 && ++o[i] == w->out[i]; i--)
                o[i] = 0;
        }
    }
}

static enum nnp_status avgpool_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return pool_prepare(n, a, POOL_AVG);
}

static enum nnp_status avgpool_forward(struct nnp_exec_node *n)
{
    const struct pool_state *s = n->state;
    if (s->w.n_sp <= 2)
        avgpool2d(s, n->in[0]->data, n->out[0]->data, n->scratch);
    else
        avgpoolnd(s, n->in[0]->data, n->out[0]->data);
    return NNP_OK;
}

static enum nnp_status avgpool_reference(struct nnp_exec_node *n)
{
    avgpoolnd(n->state, n->in[0]->data, n->out[0]->data);
    return NNP_OK;
}

const struct nnp_op nnp_op_AveragePool = {
    .name = "AveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = avgpool_prepare,
    .forward = avgpool_forward,
    .reference = avgpool_reference,
    .backward = NULL,
};

/* --- GlobalAveragePool --- */

static enum nnp_status gap_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *x = n->in[0];
    if (x->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "input is %s, GlobalAveragePool supports float32",
                                  nnp_dtype_name(x->dtype));
    NNP_OP_CHECK(n, x->rank >= 2, "input is %d-D, GlobalAveragePool needs at least 2-D (N, C, ...)",
                 x->rank);
    struct pool_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->planes = x->dims[0] * x->dims[1];
    s->iprod = nnp_window_prod(x->dims + 2, x->rank - 2);
    n->state = s;
    int64_t od[NNP_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        od[i] = i < 2 ? x->dims[i] : 1;
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, x->rank, od);
}

static enum nnp_status gap_forward(struct nnp_exec_node *n)
{
    const struct pool_state *s = n->state;
    const float *x = n->in[0]->data; /* (planes, iprod) */
    float *y = n->out[0]->data;      /* (planes) */
    for (int64_t p = 0; p < s->planes; p++) {
        const float *xp = x + p * s->iprod;
        /* four partial sums: shorter dependency chains, and less rounding drift
         * than one running sum over a large plane */
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int64_t i = 0;
        for (; i + 4 <= s->iprod; i += 4) {
            a0 += xp[i];
            a1 += xp[i + 1];
            a2 += xp[i + 2];
            a3 += xp[i + 3];
        }
        for (; i < s->iprod; i++)
            a0 += xp[i];
        y[p] = s->iprod ? ((a0 + a1) + (a2 + a3)) / (float)s->iprod : NAN;
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_GlobalAveragePool = {
    .name = "GlobalAveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = gap_prepare,
    .forward = gap_forward,
    .reference = NULL,
    .backward = NULL,
};
