/* kernels/op_conv.c — Conv and ConvTranspose, fp32, 1-D to 6-D.
 *
 * Conv, kernel chosen in prepare:
 *   pointwise  1x1 kernel, stride 1, no pads: the input image already is the
 *              column matrix, one sgemm per (image, group)
 *   depthwise  one input channel per group (group = C), up to 2-D: direct
 *              loops, each kernel tap one axpy along an output row
 *   shift      other 2-D convolutions with stride 1 (unless the waste below is
 *              too dear, see shift_pays): the input is copied once
 *              into a padded plane (Hp, Wp); computed over the padded width,
 *              output row oh, column ow reads padded position
 *              (oh + ki*dh, ow + kj*dw), so the column-matrix row of tap
 *              (c, ki, kj) is one contiguous slice of that plane: im2col is
 *              Cg*kh*kw memcpy calls instead of a gather per output row. The
 *              sgemm computes Wp - OW extra columns per row (garbage, dropped
 *              when the rows are copied out with the bias added)
 *   im2col     the rest (strided, or many output channels on a narrow image):
 *              the receptive fields of one (image, group)
 *              unrolled into scratch, col (Cg*kprod, oprod), then sgemm
 *              W_g (Mg, Cg*kprod) x col -> Y_g (Mg, oprod). 1-D and 2-D use a
 *              row-wise im2col, 3-D and up a general one.
 * A 1-D window is run as a 2-D one of height 1 (window.h), so 1-D convolutions
 * take the 2-D paths. On LeNet's layers (batch 64, one thread, timed in
 * alternation with the im2col path) the shift path ran conv1 (1->6, 5x5, pad 2)
 * 2.3x and conv2 (6->16, 5x5) 2.8x faster: with so few output channels the
 * short per-row copies of im2col, not the sgemm, were the cost.
 *
 * ConvTranspose is the adjoint: col (Mg*kprod, iprod) = W_g^T (Cg, Mg*kprod)^T x
 * X_g (Cg, iprod) by sgemm, then col2im adds each column entry into the output
 * position it came from. With a 1x1 kernel, stride 1 and no pads the sgemm
 * writes the output directly.
 *
 * The shift and im2col paths put several images side by side in one column
 * matrix (a block, see conv_images_per_block) and run one sgemm per block and
 * group, copying the result out to NCHW with the bias added; pointwise and
 * one-image blocks have the sgemm add onto the bias written in y (beta = 1).
 *
 * Threads (n->pool): whole blocks, or (image, group) units, go to the threads,
 * each with its own slice of scratch; the arithmetic is that of one thread, so
 * the output is bit-identical for any thread count. With a single block (batch
 * 1, one group) the output channels are split instead, each thread running
 * the sgemm on a row block of W: OpenBLAS may then sum in another order.
 * conv_reference and convt_reference are naive loops over every output (input)
 * position, in double, that the tests hold the fast paths to.
 */
#include <cblas.h>
#include <inttypes.h>
#include <string.h>

#include "gemv.h"
#include "op.h"
#include "threads.h"
#include "window.h"

enum conv_kernel {
    CONV_POINTWISE, /* 1x1, stride 1, unpadded: sgemm on the input itself */
    CONV_DEPTHWISE, /* one input channel per group, up to 2-D: direct */
    CONV_SHIFT_2D,  /* 1-D / 2-D, stride 1: padded plane, contiguous im2col rows, sgemm */
    CONV_IM2COL_2D, /* 1-D / 2-D im2col + sgemm */
    CONV_IM2COL_ND, /* 3-D and up im2col + sgemm */
};

/* Shared by Conv and ConvTranspose. For ConvTranspose "in" and "out" keep
 * their meaning (X and Y), while the window maps output to input. */
struct conv_state {
    struct nnp_window w;   /* Conv: w.in = X spatial, w.out = Y spatial */
    struct nnp_window w2d; /* w as 2-D (height 1 for 1-D) for the 2-D paths */
    int64_t batch;         /* N */
    int64_t c_in, c_out;   /* C (X channels), M (Y channels) */
    int64_t group;
    int64_t cg_in, cg_out; /* channels per group */
    int64_t kprod;         /* kernel elements */
    int64_t iprod, oprod;  /* X and Y spatial elements */
    int64_t hp, wp;        /* shift: padded plane */
    int64_t pad_floats;    /* shift: floats of the padded input in scratch */
    int64_t nb;            /* shift/im2col: images per block (one sgemm per block, group) */
    int64_t block_cols;    /* shift: OH*Wp, im2col: oprod; columns one image adds */
    size_t slice_bytes;    /* scratch per thread (scratch holds `threads` slices) */
    bool has_bias;
    enum conv_kernel kernel;
    enum nnp_isa isa;
};

static enum nnp_status need_f32(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                const char *what)
{
    if (v->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "%s is %s, only float32 is supported", what,
                                  nnp_dtype_name(v->dtype));
    return NNP_OK;
}

/* a * b * c elements of float as bytes, or 0 with an error if that overflows or exceeds
 * the BLAS int limit per dimension */
static enum nnp_status scratch_floats(const struct nnp_exec_node *n, int64_t rows, int64_t cols,
                                      size_t *bytes)
{
    int64_t e;
    if (rows > INT32_MAX || cols > INT32_MAX || __builtin_mul_overflow(rows, cols, &e) ||
        (uint64_t)e > SIZE_MAX / 8)
        return nnp_op_unsupported(n, "a %" PRId64 " x %" PRId64 " column matrix is too large", rows,
                                  cols);
    *bytes = (size_t)e * sizeof(float);
    return NNP_OK;
}

/* Input and weight checks shared by both operators; sets batch, channels, group. */
static enum nnp_status conv_common(struct nnp_exec_node *n, struct conv_state *s, bool transpose)
{
    const struct nnp_rt_value *x = n->in[0], *w = n->in[1];
    const struct nnp_rt_value *b = n->n_in > 2 ? n->in[2] : NULL;
    const char *op = transpose ? "ConvTranspose" : "Conv";
    enum nnp_status st;
    if ((st = need_f32(n, x, "input X")) || (st = need_f32(n, w, "weight W")) ||
        (b && (st = need_f32(n, b, "bias B"))))
        return st;
    NNP_OP_CHECK(n, x->rank >= 3, "input is %d-D, %s needs at least 3-D (N, C, spatial...)",
                 x->rank, op);
    NNP_OP_CHECK(n, w->rank == x->rank, "weight is %d-D, %s needs %d-D for a %d-D input", w->rank,
                 op, x->rank, x->rank);
    int64_t group = nnp_node_attr_int(n->node, "group", 1);
    s->batch = x->dims[0];
    s->c_in = x->dims[1];
    NNP_OP_CHECK(n, group >= 1 && group <= INT32_MAX, "group is %" PRId64 ", expected >= 1", group);
    NNP_OP_CHECK(n, s->c_in % group == 0,
                 "input has %" PRId64 " channels, not a multiple of group %" PRId64, s->c_in,
                 group);
    s->group = group;
    s->cg_in = s->c_in / group;
    if (!transpose) {
        /* W (M, C/group, k...) */
        NNP_OP_CHECK(n, w->dims[1] == s->cg_in,
                     "weight has %" PRId64 " input channels per group, expected %" PRId64
                     " (%" PRId64 " channels / group %" PRId64 ")",
                     w->dims[1], s->cg_in, s->c_in, group);
        s->c_out = w->dims[0];
        NNP_OP_CHECK(n, s->c_out % group == 0,
                     "weight has %" PRId64 " output channels, not a multiple of group %" PRId64,
                     s->c_out, group);
        s->cg_out = s->c_out / group;
    } else {
        /* W (C, M/group, k...) */
        NNP_OP_CHECK(n, w->dims[0] == s->c_in,
                     "weight has %" PRId64 " input channels, the input has %" PRId64, w->dims[0],
                     s->c_in);
        s->cg_out = w->dims[1];
        NNP_OP_CHECK(n, s->cg_out <= INT64_MAX / group, "too many output channels");
        s->c_out = s->cg_out * group;
    }
    if (b) {
        NNP_OP_CHECK(n, b->rank == 1 && b->dims[0] == s->c_out,
                     "bias has shape %s, expected [%" PRId64 "]",
                     nnp_rt_shape_str(b, (char[96]){0}, 96), s->c_out);
        s->has_bias = true;
    }
    s->isa = nnp_isa_best();
    return NNP_OK;
}

/* Y (channels, plane) = bias per channel, or 0 */
static void fill_bias(enum nnp_isa isa, float *y, const float *bias, int64_t channels,
                      int64_t plane)
{
    for (int64_t c = 0; c < channels; c++)
        nnp_vset(isa, plane, bias ? bias[c] : 0.0f, y + c * plane);
}

/* Positions t in [0, n_out) with 0 <= t * stride + off < n_in form the range [*lo, *hi)
 * (empty when *lo >= *hi). */
static void valid_range(int64_t off, int64_t stride, int64_t n_in, int64_t n_out, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = n_in - off <= 0 ? 0 : (n_in - off + stride - 1) / stride;
    *lo = l < n_out ? l : n_out;
    *hi = h < n_out ? h : n_out;
}

/* ------------------------------------------------------------------ Conv */

/* The shift path trades the gather of im2col for Wp - OW wasted columns of sgemm
 * per output row. The gather costs about the same per column element whatever the
 * layer; the waste costs in proportion to the output channels. Measured (one
 * thread): LeNet's 6- and 16-channel layers run 2.3-2.8x faster shifted, 64
 * channels at 56x56 break even, 512 channels at 7x7 (Wp = 9: 29% waste) run 1.3x
 * slower. Shift while the waste times the channels stays under 32 output columns. */
static bool shift_pays(const struct conv_state *s)
{
    const struct nnp_window *w = &s->w2d;
    int64_t waste = w->pad_begin[1] + w->pad_end[1] + (w->kernel[1] - 1) * w->dil[1];
    return waste * s->cg_out <= 32 * w->out[1];
}

/* Images per sgemm on the shift and im2col paths. One image of a small layer is a
 * small sgemm (LeNet's conv2: 16 x 140 x 150; a 7x7 layer 49 columns) that
 * OpenBLAS runs far from its peak, with its fixed cost per call on top: several
 * images side by side in one column matrix make one larger sgemm, at the price
 * of copying the result out to NCHW (which the bias is added on the way). The
 * block stops growing at CONV_COLS_TARGET columns, or when its column matrix and
 * result would no longer fit CONV_BLOCK_BYTES (about the L2 of one core, so
 * that what im2col wrote is still in cache when the sgemm packs it).
 * One image per block (large images) on the im2col paths skips the copy: the sgemm
 * adds onto the bias written in y. The block size depends on the shapes only,
 * never on the thread count: threads take whole blocks, so the result is the same
 * for any thread count. */
#define CONV_COLS_TARGET 256
#define CONV_BLOCK_BYTES (1024 * 1024)

static int64_t conv_images_per_block(const struct conv_state *s)
{
    int64_t cols = s->block_cols > 0 ? s->block_cols : 1;
    int64_t per_image = (s->cg_in * s->kprod + s->cg_out) * cols * (int64_t)sizeof(float);
    int64_t nb = (CONV_COLS_TARGET + cols - 1) / cols;
    if (per_image > 0 && nb > CONV_BLOCK_BYTES / per_image)
        nb = CONV_BLOCK_BYTES / per_image;
    if (nb > s->batch)
        nb = s->batch;
    return nb > 1 ? nb : 1;
}

static enum nnp_status conv_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    struct conv_state *s = nnp_arena_alloc(arena, sizeof *s);
    enum nnp_status st = conv_common(n, s, false);
    if (st)
        return st;
    const struct nnp_rt_value *x = n->in[0], *w = n->in[1];
    int n_sp = x->rank - 2;
    if ((st = nnp_window_parse(n, &s->w, n_sp, w->dims + 2)) ||
        (st = nnp_window_forward(n, &s->w, x->dims + 2, false)))
        return st;
    s->kprod = nnp_window_prod(s->w.kernel, n_sp);
    s->iprod = nnp_window_prod(s->w.in, n_sp);
    s->oprod = nnp_window_prod(s->w.out, n_sp);
    s->w2d = s->w;
    nnp_window_flat2d(&s->w2d);

    bool unit = true, stride1 = true; /* unit: 1x1 kernel, stride 1, no pads */
    for (int i = 0; i < n_sp; i++) {
        unit &= s->w.kernel[i] == 1 && s->w.stride[i] == 1 && s->w.pad_begin[i] == 0 &&
                s->w.pad_end[i] == 0;
        stride1 &= s->w.stride[i] == 1;
    }
    /* no input channels: the output is the bias, which the pointwise path writes without
     * the scratch the others would size to nothing */
    if (unit || s->cg_in == 0)
        s->kernel = CONV_POINTWISE;
    else if (s->cg_in == 1 && s->group > 1 && n_sp <= 2)
        s->kernel = CONV_DEPTHWISE;
    else if (stride1 && n_sp <= 2 && shift_pays(s))
        s->kernel = CONV_SHIFT_2D;
    else
        s->kernel = n_sp <= 2 ? CONV_IM2COL_2D : CONV_IM2COL_ND;

    if (s->kernel == CONV_SHIFT_2D || s->kernel == CONV_IM2COL_2D ||
        s->kernel == CONV_IM2COL_ND) {
        /* scratch per thread: [shift: the padded input of one image (Cg, Hp, Wp) + the
         * slack the last tap's slice runs past it,] col (Cg*kprod, nb*cols) and the
         * sgemm's output (Mg, nb*cols), copied out to NCHW with the bias added */
        const struct nnp_window *w2 = &s->w2d;
        s->pad_floats = 0;
        s->block_cols = s->oprod;
        if (s->kernel == CONV_SHIFT_2D) {
            s->hp = w2->in[0] + w2->pad_begin[0] + w2->pad_end[0];
            s->wp = w2->in[1] + w2->pad_begin[1] + w2->pad_end[1];
            s->pad_floats = s->cg_in * s->hp * s->wp + (w2->kernel[1] - 1) * w2->dil[1];
            s->block_cols = w2->out[0] * s->wp;
        }
        s->nb = conv_images_per_block(s);
        size_t col = 0, out = 0, pad = 0;
        if ((st = scratch_floats(n, s->cg_in * s->kprod, s->nb * s->block_cols, &col)) ||
            (st = scratch_floats(n, s->cg_out, s->nb * s->block_cols, &out)) ||
            (st = scratch_floats(n, s->pad_floats, 1, &pad)))
            return st;
        if (s->nb == 1 && s->kernel != CONV_SHIFT_2D)
            out = 0; /* the sgemm writes y directly (block_gemm) */
        s->slice_bytes = (pad + col + out + 63) & ~(size_t)63;
        int threads = n->threads > 1 ? n->threads : 1;
        NNP_OP_CHECK(n, s->slice_bytes <= SIZE_MAX / 2 / (size_t)threads,
                     "the column matrix is too large");
        n->scratch_bytes = s->slice_bytes * (size_t)threads;
    }
    NNP_OP_CHECK(
        n, s->cg_out <= INT32_MAX && s->oprod <= INT32_MAX && s->cg_in * s->kprod <= INT32_MAX,
        "the layer is too large for BLAS (sizes above 2^31-1)");
    n->state = s;
    n->work = nnp_work_prod(5, (int64_t[]){s->batch, s->c_out, s->oprod, s->cg_in, s->kprod});

    int64_t od[NNP_MAX_RANK] = {s->batch, s->c_out};
    memcpy(od + 2, s->w.out, sizeof(int64_t) * (size_t)n_sp);
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, x->rank, od);
}

/* col (cg*kh*kw, oh*ow), rows ldc apart, from x (cg, H, W), 2-D window w */
static void im2col_2d(const struct nnp_window *w, const float *x, int64_t cg, float *col,
                      int64_t ldc)
{
    int64_t H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];
    int64_t kh = w->kernel[0], kw = w->kernel[1], sh = w->stride[0], sw = w->stride[1];
    for (int64_t c = 0; c < cg; c++)
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++) {
                float *row = col + ((c * kh + ki) * kw + kj) * ldc; /* (OH, OW) */
                int64_t ih0 = ki * w->dil[0] - w->pad_begin[0];
                int64_t iw0 = kj * w->dil[1] - w->pad_begin[1];
                int64_t lo, hi;
                valid_range(iw0, sw, W, OW, &lo, &hi);
                if (hi < lo)
                    hi = lo;
                for (int64_t oh = 0; oh < OH; oh++) {
                    float *dst = row + oh * OW;
                    int64_t ih = ih0 + oh * sh;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)OW * sizeof *dst);
                        continue;
                    }
                    const float *src = x + (c * H + ih) * W + iw0;
                    for (int64_t ow = 0; ow < lo; ow++) /* the pads: a few elements */
                        dst[ow] = 0.0f;
                    for (int64_t ow = lo; ow < hi; ow++)
                        dst[ow] = src[ow * sw];
                    for (int64_t ow = hi; ow < OW; ow++)
                        dst[ow] = 0.0f;
                }
            }
}

/* col (cg*kprod, oprod), rows ldc apart, from x (cg, in...), any number of spatial axes */
static void im2col_nd(const struct nnp_window *w, const float *x, int64_t cg, float *col,
                      int64_t ldc)
{
    int ns = w->n_sp;
    int64_t kprod = nnp_window_prod(w->kernel, ns), oprod = nnp_window_prod(w->out, ns);
    int64_t iprod = nnp_window_prod(w->in, ns);
    for (int64_t r = 0; r < cg * kprod; r++) {
        int64_t c = r / kprod, kr = r % kprod;
        int64_t off[NNP_WINDOW_MAX]; /* input position of output 0 for this tap, per axis */
        for (int i = ns - 1; i >= 0; i--) {
            off[i] = (kr % w->kernel[i]) * w->dil[i] - w->pad_begin[i];
            kr /= w->kernel[i];
        }
        const float *xc = x + c * iprod;
        float *row = col + r * ldc;
        int64_t o[NNP_WINDOW_MAX] = {0}; /* output position, odometer */
        for (int64_t p = 0; p < oprod; p++) {
            int64_t lin = 0;
            bool inside = true;
            for (int i = 0; i < ns; i++) {
                int64_t pos = off[i] + o[i] * w->stride[i];
                inside &= pos >= 0 && pos < w->in[i];
                lin = lin * w->in[i] + pos;
            }
            row[p] = inside ? xc[lin] : 0.0f;
            for (int i = ns - 1; i >= 0 && ++o[i] == w->out[i]; i--)
                o[i] = 0;
        }
    }
}

/* One block of the shift and im2col paths: images b0 .. b0+nbk-1 of group g.
 * Scratch: [xpad (Cg, Hp, Wp) + slack,] col (Cg*kprod, nbk*cols), ybuf (Mg, nbk*cols). */
struct conv_block {
    const struct conv_state *s;
    const float *x, *w, *bias; /* the whole tensors: (N, C, in...), (M, Cg, k...), (M) */
    float *y;                  /* (N, M, out...) */
    int64_t b0, nbk, g;
    float *xpad, *col, *ybuf; /* in the slice of the thread that prepared the block */
};

static void block_scratch(struct conv_block *k, uint8_t *slice)
{
    const struct conv_state *s = k->s;
    k->xpad = (float *)slice;
    k->col = k->xpad + s->pad_floats;
    k->ybuf = k->col + s->cg_in * s->kprod * k->nbk * s->block_cols;
}

/* col for the block: each image's columns side by side */
static void block_im2col(const struct conv_block *k)
{
    const struct conv_state *s = k->s;
    int64_t cols = s->block_cols, ldc = k->nbk * cols;
    for (int64_t i = 0; i < k->nbk; i++) {
        const float *xg = k->x + ((k->b0 + i) * s->c_in + k->g * s->cg_in) * s->iprod;
        float *coli = k->col + i * cols;
        if (s->kernel == CONV_IM2COL_2D) {
            im2col_2d(&s->w2d, xg, s->cg_in, coli, ldc);
            continue;
        }
        if (s->kernel == CONV_IM2COL_ND) {
            im2col_nd(&s->w, xg, s->cg_in, coli, ldc);
            continue;
        }
        /* shift: the padded plane (zero borders, the image copied in), then one
         * contiguous slice of it per tap */
        const struct nnp_window *win = &s->w2d;
        int64_t H = win->in[0], W = win->in[1], kh = win->kernel[0], kw = win->kernel[1];
        int64_t hp = s->hp, wp = s->wp;
        float *xpad = k->xpad;
        if (i == 0) /* the borders stay zero: every image writes the same interior */
            memset(xpad, 0, (size_t)s->pad_floats * sizeof *xpad);
        for (int64_t c = 0; c < s->cg_in; c++)
            for (int64_t h = 0; h < H; h++)
                memcpy(xpad + (c * hp + h + win->pad_begin[0]) * wp + win->pad_begin[1],
                       xg + (c * H + h) * W, (size_t)W * sizeof *xg);
        for (int64_t c = 0; c < s->cg_in; c++)
            for (int64_t ki = 0; ki < kh; ki++)
                for (int64_t kj = 0; kj < kw; kj++)
                    memcpy(coli + ((c * kh + ki) * kw + kj) * ldc,
                           xpad + c * hp * wp + ki * win->dil[0] * wp + kj * win->dil[1],
                           (size_t)cols * sizeof *coli);
    }
}

/* output channels [m0, m1) of the block: sgemm, then copied out to NCHW with the bias */
static void block_gemm(const struct conv_block *k, int64_t m0, int64_t m1)
{
    const struct conv_state *s = k->s;
    int64_t cols = s->block_cols, ldc = k->nbk * cols, kdim = s->cg_in * s->kprod;
    const float *wg = k->w + (k->g * s->cg_out + m0) * kdim;
    if (s->nb == 1 && s->kernel != CONV_SHIFT_2D) {
        /* one image per block (large images): the sgemm adds onto the bias in y itself,
         * no copy */
        int64_t oc0 = k->g * s->cg_out + m0;
        float *yg = k->y + (k->b0 * s->c_out + oc0) * s->oprod; /* (m1 - m0, oprod) */
        fill_bias(s->isa, yg, k->bias ? k->bias + oc0 : NULL, m1 - m0, s->oprod);
        if (kdim > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(m1 - m0),
                        (int)s->oprod, (int)kdim, 1.0f, wg, (int)kdim, k->col, (int)s->oprod,
                        1.0f, yg, (int)s->oprod);
        return;
    }
    if (kdim > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(m1 - m0), (int)ldc,
                    (int)kdim, 1.0f, wg, (int)kdim, k->col, (int)ldc, 0.0f, k->ybuf + m0 * ldc,
                    (int)ldc);
    else
        memset(k->ybuf + m0 * ldc, 0, (size_t)((m1 - m0) * ldc) * sizeof *k->ybuf);
    int64_t OH = s->w2d.out[0], OW = s->w2d.out[1];
    for (int64_t i = 0; i < k->nbk; i++)
        for (int64_t m = m0; m < m1; m++) {
            int64_t oc = k->g * s->cg_out + m;
            float bv = k->bias ? k->bias[oc] : 0.0f;
            float *ym = k->y + ((k->b0 + i) * s->c_out + oc) * s->oprod; /* (out...) */
            const float *src = k->ybuf + m * ldc + i * cols;
            if (s->kernel != CONV_SHIFT_2D) {
                nnp_vadds(s->isa, s->oprod, src, bv, ym);
                continue;
            }
            for (int64_t oh = 0; oh < OH; oh++) /* drop the Wp - OW garbage columns */
                nnp_vadds(s->isa, OW, src + oh * s->wp, bv, ym + oh * OW);
        }
}

/* y (mult, OH, OW) += the depthwise convolution of one channel x (H, W) with
 * mult filters w (mult, kh, kw); y holds the bias already */
static void depthwise_2d(const struct conv_state *s, const float *x, const float *w, float *y)
{
    const struct nnp_window *win = &s->w2d;
    int64_t H = win->in[0], W = win->in[1], OH = win->out[0], OW = win->out[1];
    int64_t kh = win->kernel[0], kw = win->kernel[1], sw = win->stride[1];
    for (int64_t m = 0; m < s->cg_out; m++) {
        const float *wm = w + m * kh * kw;
        float *ym = y + m * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            float *yrow = ym + oh * OW;
            for (int64_t ki = 0; ki < kh; ki++) {
                int64_t ih = oh * win->stride[0] + ki * win->dil[0] - win->pad_begin[0];
                if (ih < 0 || ih >= H)
                    continue;
                const float *xrow = x + ih * W;
                for (int64_t kj = 0; kj < kw; kj++) {
                    int64_t iw0 = kj * win->dil[1] - win->pad_begin[1], lo, hi;
                    valid_range(iw0, sw, W, OW, &lo, &hi);
                    float wv = wm[ki * kw + kj];
                    if (sw == 1) {
                        if (hi > lo)
                            nnp_axpy(s->isa, hi - lo, wv, xrow + iw0 + lo, yrow + lo);
                    } else {
                        for (int64_t ow = lo; ow < hi; ow++)
                            yrow[ow] += wv * xrow[iw0 + ow * sw];
                    }
                }
            }
        }
    }
}

/* Work below this many multiply-adds runs on one thread: waking the other costs a
 * few microseconds. */
#define CONV_PAR_MIN_MACS (1 << 18)
/* Splitting one image's output channels costs more: the im2col before it is serial
 * and both threads then share one column matrix. Below this it lost to one thread
 * (resnet at batch 1: 0.33 ms on two threads, 0.23 on one, 0.23 with this bound). */
#define CONV_SPLIT_MIN_MACS (1 << 21)

struct conv_job {
    const struct conv_state *s;
    const float *x, *w, *bias;
    float *y;
    uint8_t *scratch;   /* (threads, slice_bytes) */
    int64_t n_blocks_b; /* blocks per group */
    struct conv_block *one; /* the block whose output channels are split (M split) */
    int64_t m_chunk;        /* M split: output channels per item */
};

/* blocks [begin, end), numbered group-major: (g, image block) */
static void conv_blocks_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_job *j = ctx;
    const struct conv_state *s = j->s;
    for (int64_t t = begin; t < end; t++) {
        int64_t g = t / j->n_blocks_b, b0 = (t % j->n_blocks_b) * s->nb;
        struct conv_block k = {s, j->x, j->w, j->bias, j->y, b0, 0, g, NULL, NULL, NULL};
        k.nbk = s->batch - b0 < s->nb ? s->batch - b0 : s->nb;
        block_scratch(&k, j->scratch + (size_t)tid * s->slice_bytes);
        block_im2col(&k);
        block_gemm(&k, 0, s->cg_out);
    }
}

static void conv_mchunks_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_job *j = ctx;
    (void)tid;
    int64_t m1 = end * j->m_chunk;
    block_gemm(j->one, begin * j->m_chunk, m1 < j->s->cg_out ? m1 : j->s->cg_out);
}

/* pointwise and depthwise: units (image, group) [begin, end), output channels [m0, m1)
 * of each (m0 = 0, m1 = Mg unless the channels are split) */
static void conv_unit(const struct conv_job *j, int64_t u, int64_t m0, int64_t m1)
{
    const struct conv_state *s = j->s;
    int64_t b = u / s->group, g = u % s->group, kdim = s->cg_in * s->kprod;
    const float *xg = j->x + (b * s->c_in + g * s->cg_in) * s->iprod;
    const float *wg = j->w + (g * s->cg_out + m0) * kdim;
    float *yg = j->y + (b * s->c_out + g * s->cg_out + m0) * s->oprod;
    fill_bias(s->isa, yg, j->bias ? j->bias + g * s->cg_out + m0 : NULL, m1 - m0, s->oprod);
    if (s->kernel == CONV_DEPTHWISE) {
        depthwise_2d(s, xg, wg, yg);
        return;
    }
    if (s->oprod == 0 || m1 == m0 || kdim == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(m1 - m0), (int)s->oprod,
                (int)kdim, 1.0f, wg, (int)kdim, xg, (int)s->oprod, 1.0f, yg, (int)s->oprod);
}

static void conv_units_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_job *j = ctx;
    (void)tid;
    for (int64_t u = begin; u < end; u++)
        conv_unit(j, u, 0, j->s->cg_out);
}

static void conv_unit_mchunks_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_job *j = ctx;
    (void)tid;
    int64_t m1 = end * j->m_chunk;
    conv_unit(j, 0, begin * j->m_chunk, m1 < j->s->cg_out ? m1 : j->s->cg_out);
}

/* Threads take whole blocks (or (image, group) units) when there are at least as
 * many as threads: the same arithmetic as on one thread. Fewer (batch 1, one
 * group) split the output channels of each instead: the sgemm then runs on row
 * blocks of W, which OpenBLAS may sum in another order (float reassociation). */
static enum nnp_status conv_forward(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    struct conv_job j = {
        .s = s,
        .x = n->in[0]->data,                            /* (N, C, in...) */
        .w = n->in[1]->data,                            /* (M, C/group, k...) */
        .bias = s->has_bias ? n->in[2]->data : NULL,    /* (M) */
        .y = n->out[0]->data,                           /* (N, M, out...) */
        .scratch = n->scratch,                          /* (threads, slice_bytes) */
    };
    int threads = nnp_pool_threads(n->pool);
    NNP_ASSERT(threads <= (n->threads > 1 ? n->threads : 1)); /* scratch was sized for it */
    int64_t kdim = s->cg_in * s->kprod;
    int64_t macs = s->cg_out * s->oprod * (kdim > 0 ? kdim : 1); /* per (image, group) */
    bool split_m = s->group == 1 && s->batch == 1 && threads > 1 && s->cg_out >= 32 &&
                   macs >= CONV_SPLIT_MIN_MACS;
    struct nnp_pool *pool = macs * s->batch * s->group >= CONV_PAR_MIN_MACS ? n->pool : NULL;
    j.m_chunk = 16; /* the sgemm kernel's row block */
    int64_t m_items = (s->cg_out + j.m_chunk - 1) / j.m_chunk;

    if (s->kernel == CONV_POINTWISE || s->kernel == CONV_DEPTHWISE) {
        if (split_m && s->kernel == CONV_POINTWISE)
            nnp_parallel_for(n->pool, m_items, conv_unit_mchunks_task, &j);
        else
            nnp_parallel_for(pool, s->batch * s->group, conv_units_task, &j);
        return NNP_OK;
    }
    if (s->oprod == 0 || s->cg_out == 0 || s->batch == 0)
        return NNP_OK;
    j.n_blocks_b = (s->batch + s->nb - 1) / s->nb;
    if (!split_m) {
        nnp_parallel_for(pool, j.n_blocks_b * s->group, conv_blocks_task, &j);
        return NNP_OK;
    }
    /* one image, one group: im2col here, the output channels across the threads */
    struct conv_block k = {s, j.x, j.w, j.bias, j.y, 0, 1, 0, NULL, NULL, NULL};
    block_scratch(&k, j.scratch);
    block_im2col(&k);
    j.one = &k;
    nnp_parallel_for(n->pool, m_items, conv_mchunks_task, &j);
    return NNP_OK;
}

static enum nnp_status conv_reference(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    const struct nnp_window *w = &s->w;
    const float *x = n->in[0]->data, *wt = n->in[1]->data;
    const float *bias = s->has_bias ? n->in[2]->data : NULL;
    float *y = n->out[0]->data;
    int ns = w->n_sp;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t m = 0; m < s->c_out; m++) {
            int64_t g = m / s->cg_out;
            for (int64_t p = 0; p < s->oprod; p++) {
                int64_t o[NNP_WINDOW_MAX], t = p;
                for (int i = ns - 1; i >= 0; i--) {
                    o[i] = t % w->out[i];
                    t /= w->out[i];
                }
                double acc = bias ? bias[m] : 0.0;
                for (int64_t c = 0; c < s->cg_in; c++)
                    for (int64_t k = 0; k < s->kprod; k++) {
                        int64_t lin = 0, kt = k, kk[NNP_WINDOW_MAX];
                        for (int i = ns - 1; i >= 0; i--) {
                            kk[i] = kt % w->kernel[i];
                            kt /= w->kernel[i];
                        }
                        bool inside = true;
                        for (int i = 0; i < ns; i++) {
                            int64_t pos = o[i] * w->stride[i] + kk[i] * w->dil[i] - w->pad_begin[i];
                            inside &= pos >= 0 && pos < w->in[i];
                            lin = lin * w->in[i] + pos;
                        }
                        if (!inside)
                            continue;
                        double xv = x[(b * s->c_in + g * s->cg_in + c) * s->iprod + lin];
                        acc += xv * wt[(m * s->cg_in + c) * s->kprod + k];
                    }
                y[(b * s->c_out + m) * s->oprod + p] = (float)acc;
            }
        }
    return NNP_OK;
}

const struct nnp_op nnp_op_Conv = {
    .name = "Conv",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .prepare = conv_prepare,
    .forward = conv_forward,
    .reference = conv_reference,
    .backward = NULL,
};

/* --------------------------------------------------------- ConvTranspose */

/* ConvTranspose output size along one axis before pads, from the ONNX formula
 * stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1; 0 for an empty
 * input, -1 if it overflows. Attributes are at most 2^30 (window.c), `in` any int64. */
static int64_t convt_span(const struct nnp_window *w, int i, int64_t in, int64_t out_pad)
{
    int64_t o;
    if (in < 1)
        return 0;
    if (__builtin_mul_overflow(w->stride[i], in - 1, &o) ||
        __builtin_add_overflow(o, out_pad + (w->kernel[i] - 1) * w->dil[i] + 1, &o))
        return -1;
    return o;
}

static enum nnp_status convt_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    struct conv_state *s = nnp_arena_alloc(arena, sizeof *s);
    enum nnp_status st = conv_common(n, s, true);
    if (st)
        return st;
    const struct nnp_rt_value *x = n->in[0], *w = n->in[1];
    int n_sp = x->rank - 2;
    struct nnp_window *win = &s->w;
    if ((st = nnp_window_parse(n, win, n_sp, w->dims + 2)))
        return st;

    int64_t out_pad[NNP_WINDOW_MAX] = {0};
    int cnt = nnp_attr_ints(n->node, "output_padding", out_pad, NNP_WINDOW_MAX);
    NNP_OP_CHECK(n, cnt < 0 || cnt == n_sp, "output_padding has %d values, expected %d", cnt, n_sp);
    for (int i = 0; i < n_sp; i++)
        NNP_OP_CHECK(n, out_pad[i] >= 0 && out_pad[i] <= ((int64_t)1 << 30),
                     "output_padding[%d] is %" PRId64 ", expected >= 0", i, out_pad[i]);

    /* output_shape: the spatial sizes (or, as some exporters write, the whole shape) */
    int64_t out_shape[NNP_MAX_RANK];
    cnt = nnp_attr_ints(n->node, "output_shape", out_shape, NNP_MAX_RANK);
    const int64_t *want = NULL;
    if (cnt >= 0) {
        NNP_OP_CHECK(n, cnt == n_sp || cnt == n_sp + 2,
                     "output_shape has %d values, expected %d (or %d)", cnt, n_sp, n_sp + 2);
        want = out_shape + (cnt - n_sp);
        for (int i = 0; i < n_sp; i++)
            NNP_OP_CHECK(n, want[i] >= 0 && want[i] <= ((int64_t)1 << 40),
                         "output_shape value %" PRId64 " is out of range", want[i]);
    }

    for (int i = 0; i < n_sp; i++) {
        int64_t in = x->dims[2 + i];
        win->out[i] = in; /* the window maps Y positions to X positions: Y is its input */
        int64_t natural = convt_span(win, i, in, out_pad[i]);
        NNP_OP_CHECK(n, natural >= 0, "spatial axis %d: the output size overflows", i);
        if (want || win->auto_pad == NNP_PAD_SAME_UPPER || win->auto_pad == NNP_PAD_SAME_LOWER) {
            int64_t target;
            if (want)
                target = want[i];
            else
                NNP_OP_CHECK(n, !__builtin_mul_overflow(in, win->stride[i], &target),
                             "spatial axis %d: the output size overflows", i);
            int64_t total = natural - target;
            /* ONNX: SAME_UPPER puts the odd pad at the end, otherwise at the start.
             * A negative total (output_shape larger than the natural size) leaves
             * output positions that no input reaches: they get the bias. */
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            if (win->auto_pad == NNP_PAD_SAME_UPPER) {
                win->pad_begin[i] = half;
                win->pad_end[i] = total - half;
            } else {
                win->pad_end[i] = half;
                win->pad_begin[i] = total - half;
            }
        } else if (win->auto_pad == NNP_PAD_VALID) {
            win->pad_begin[i] = win->pad_end[i] = 0;
        }
        int64_t o = natural - win->pad_begin[i] - win->pad_end[i];
        NNP_OP_CHECK(n, o >= 0,
                     "spatial axis %d: the output size would be %" PRId64
                     " (pads larger than the output)",
                     i, o);
        win->in[i] = o;
    }
    if ((st = nnp_window_check(n, win->in, n_sp)))
        return st;
    /* from here on: w.out = X spatial, w.in = Y spatial (the forward window of Y -> X) */
    s->kprod = nnp_window_prod(win->kernel, n_sp);
    s->iprod = nnp_window_prod(win->out, n_sp);
    s->oprod = nnp_window_prod(win->in, n_sp);
    s->w2d = *win;
    nnp_window_flat2d(&s->w2d);

    bool unit = true;
    for (int i = 0; i < n_sp; i++)
        unit &= win->kernel[i] == 1 && win->stride[i] == 1 && win->pad_begin[i] == 0 &&
                win->pad_end[i] == 0 && out_pad[i] == 0;
    s->kernel = unit ? CONV_POINTWISE : n_sp <= 2 ? CONV_IM2COL_2D : CONV_IM2COL_ND;
    NNP_OP_CHECK(
        n, s->cg_out * s->kprod <= INT32_MAX && s->iprod <= INT32_MAX && s->cg_in <= INT32_MAX,
        "the layer is too large for BLAS (sizes above 2^31-1)");
    if (!unit && (st = scratch_floats(n, s->cg_out * s->kprod, s->iprod, &n->scratch_bytes)))
        return st;
    n->state = s;
    n->work = nnp_work_prod(5, (int64_t[]){s->batch, s->c_in, s->iprod, s->cg_out, s->kprod});

    int64_t od[NNP_MAX_RANK] = {s->batch, s->c_out};
    memcpy(od + 2, win->in, sizeof(int64_t) * (size_t)n_sp);
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, x->rank, od);
}

/* y (cg, OH, OW) += col (cg*kh*kw, H*W) scattered back; 2-D window w maps Y (w->in) to
 * X (w->out) */
static void col2im_2d(const struct conv_state *s, const struct nnp_window *w, const float *col,
                      float *y)
{
    int64_t OH = w->in[0], OW = w->in[1], H = w->out[0], W = w->out[1];
    int64_t kh = w->kernel[0], kw = w->kernel[1], sw = w->stride[1];
    int64_t iprod = H * W;
    for (int64_t c = 0; c < s->cg_out; c++)
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++) {
                const float *row = col + ((c * kh + ki) * kw + kj) * iprod; /* (H, W) */
                int64_t ow0 = kj * w->dil[1] - w->pad_begin[1], lo, hi;
                valid_range(ow0, sw, OW, W, &lo, &hi);
                for (int64_t ih = 0; ih < H; ih++) {
                    int64_t oh = ih * w->stride[0] + ki * w->dil[0] - w->pad_begin[0];
                    if (oh < 0 || oh >= OH)
                        continue;
                    float *dst = y + (c * OH + oh) * OW + ow0;
                    const float *src = row + ih * W;
                    if (sw == 1) {
                        if (hi > lo)
                            nnp_axpy(s->isa, hi - lo, 1.0f, src + lo, dst + lo);
                    } else {
                        for (int64_t iw = lo; iw < hi; iw++)
                            dst[iw * sw] += src[iw];
                    }
                }
            }
}

static void col2im_nd(const struct conv_state *s, const float *col, float *y)
{
    const struct nnp_window *w = &s->w;
    int ns = w->n_sp;
    for (int64_t r = 0; r < s->cg_out * s->kprod; r++) {
        int64_t c = r / s->kprod, kr = r % s->kprod;
        int64_t off[NNP_WINDOW_MAX];
        for (int i = ns - 1; i >= 0; i--) {
            off[i] = (kr % w->kernel[i]) * w->dil[i] - w->pad_begin[i];
            kr /= w->kernel[i];
        }
        float *yc = y + c * s->oprod;
        const float *row = col + r * s->iprod;
        int64_t p[NNP_WINDOW_MAX] = {0}; /* X position, odometer */
        for (int64_t q = 0; q < s->iprod; q++) {
            int64_t lin = 0;
            bool inside = true;
            for (int i = 0; i < ns; i++) {
                int64_t pos = off[i] + p[i] * w->stride[i];
                inside &= pos >= 0 && pos < w->in[i];
                lin = lin * w->in[i] + pos;
            }
            if (inside)
                yc[lin] += row[q];
            for (int i = ns - 1; i >= 0 && ++p[i] == w->out[i]; i--)
                p[i] = 0;
        }
    }
}

static enum nnp_status convt_forward(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    const float *x = n->in[0]->data;                         /* (N, C, in...) */
    const float *w = n->in[1]->data;                         /* (C, M/group, k...) */
    const float *bias = s->has_bias ? n->in[2]->data : NULL; /* (M) */
    float *y = n->out[0]->data;                              /* (N, M, out...) */
    float *col = n->scratch;                                 /* (Mg*kprod, iprod) */
    int64_t rows = s->cg_out * s->kprod;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t g = 0; g < s->group; g++) {
            const float *xg = x + (b * s->c_in + g * s->cg_in) * s->iprod;
            const float *wg = w + g * s->cg_in * rows;
            float *yg = y + (b * s->c_out + g * s->cg_out) * s->oprod;
            fill_bias(s->isa, yg, bias ? bias + g * s->cg_out : NULL, s->cg_out, s->oprod);
            if (rows == 0 || s->iprod == 0 || s->cg_in == 0)
                continue;
            bool direct = s->kernel == CONV_POINTWISE;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)s->iprod,
                        (int)s->cg_in, 1.0f, wg, (int)rows, xg, (int)s->iprod, direct ? 1.0f : 0.0f,
                        direct ? yg : col, (int)s->iprod);
            if (s->kernel == CONV_IM2COL_2D)
                col2im_2d(s, &s->w2d, col, yg);
            else if (s->kernel == CONV_IM2COL_ND)
                col2im_nd(s, col, yg);
        }
    return NNP_OK;
}

static enum nnp_status convt_reference(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    const struct nnp_window *w = &s->w;
    const float *x = n->in[0]->data, *wt = n->in[1]->data;
    const float *bias = s->has_bias ? n->in[2]->data : NULL;
    float *y = n->out[0]->data;
    int ns = w->n_sp;
    for (int64_t b = 0; b < s->batch; b++)
        fill_bias(NNP_ISA_SCALAR, y + b * s->c_out * s->oprod, bias, s->c_out, s->oprod);
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t c = 0; c < s->c_in; c++) {
            int64_t g = c / s->cg_in;
            for (int64_t q = 0; q < s->iprod; q++) {
                int64_t p[NNP_WINDOW_MAX], t = q;
                for (int i = ns - 1; i >= 0; i--) {
                    p[i] = t % w->out[i];
                    t /= w->out[i];
                }
                float xv = x[(b * s->c_in + c) * s->iprod + q];
                for (int64_t m = 0; m < s->cg_out; m++)
                    for (int64_t k = 0; k < s->kprod; k++) {
                        int64_t lin = 0, kt = k, kk[NNP_WINDOW_MAX];
                        for (int i = ns - 1; i >= 0; i--) {
                            kk[i] = kt % w->kernel[i];
                            kt /= w->kernel[i];
                        }
                        bool inside = true;
                        for (int i = 0; i < ns; i++) {
                            int64_t pos = p[i] * w->stride[i] + kk[i] * w->dil[i] - w->pad_begin[i];
                            inside &= pos >= 0 && pos < w->in[i];
                            lin = lin * w->in[i] + pos;
                        }
                        if (!inside)
                            continue;
                        int64_t oc = g * s->cg_out + m;
                        y[(b * s->c_out + oc) * s->oprod + lin] +=
                            xv * wt[(c * s->cg_out + m) * s->kprod + k];
                    }
            }
        }
    return NNP_OK;
}

const struct nnp_op nnp_op_ConvTranspose = {
    .name = "ConvTranspose",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .prepare = convt_prepare,
    .forward = convt_forward,
    .reference = convt_reference,
    .backward = NULL,
};
