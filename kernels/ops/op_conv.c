/* kernels/ops/op_conv.c — Conv and ConvTranspose, fp32, 1-D to 6-D.
 *
 * Conv runs on the matrix product of kernels/simd/gemm.c, one product per (image,
 * group): Y_g (Mg, OH*OW) = W_g (Mg, Cg*kh*kw) . col (Cg*kh*kw, OH*OW), with
 * the bias, a fused residual Add and a fused activation in its epilogue. The
 * column matrix col is never written out whole: the product asks for it a
 * panel at a time (KC rows x 48 output positions, 24 KiB, in L1), and
 *   pointwise  1x1 kernel, stride 1, no pads: col is the input image itself,
 *              read in place (rows of OH*OW floats, one per input channel)
 *   masked     a 1-D or 2-D window whose output is as wide as the input (stride
 *              1, "same" pads) or as its phase planes: each row of col is the
 *              input (or one phase plane of it) from one offset on, read in place,
 *              the pads lanes masked off (mask_pays)
 *   shifted    other 1-D or 2-D windows with few channels: the same over the
 *              phase planes of the padded input, columns over its width (shift_pays)
 *   2-D        any other 1-D or 2-D window: pack_2d gathers the panel from the
 *              input, each row of it a few contiguous (stride 1) or strided
 *              runs of one input row, with the pads as zeros
 *   N-D        3-D and up: pack_nd, position by position
 * The weights are packed once, at plan time, into the panels the product's
 * micro-kernel reads (weights computed at run time are read as rows instead).
 * Threads split the products into blocks of output positions (then of output
 * channels), each packing its own panels: nothing is serial, and one image at
 * batch 1 keeps both threads busy. The split does not change a bit (gemm.h).
 *
 *   depthwise  one input channel per group (group = C), up to 2-D: the direct
 *              kernel of conv_dw.c, one output plane at a time, the bias, a
 *              fused Add and activation in its epilogue
 *
 * A 1-D window is run as a 2-D one of height 1 (window.h).
 *
 * ConvTranspose is the adjoint: col (Mg*kprod, iprod) = W_g^T (Cg, Mg*kprod)^T x
 * X_g (Cg, iprod) by sgemm, then col2im adds each column entry into the output
 * position it came from. With a 1x1 kernel, stride 1 and no pads the sgemm
 * writes the output directly.
 *
 * ConvInteger and QLinearConv (uint8 / int8, summed in int32) share the checks and the
 * window. QLinearConv with constant int8 weights (zero points 0) runs on the integer
 * GEMM (kernels/simd/qgemm.c) over its input blocked 4 channels to a lane, read in
 * place (on AMX by tiles of 16 channel groups of one tap, when padding the channels to
 * that costs at most half again); depthwise ones a plane at a time, in integers
 * (kernels/simd/qdw.c) when the output is int8, else in float; the rest, and ConvInteger, as
 * direct loops (quant.h has their rounding), which are also what the fast paths are
 * tested against.
 *
 * conv_reference and convt_reference are naive loops over every output (input)
 * position, in double, that the tests hold the fast paths to.
 */
#include <cblas.h>
#include <immintrin.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/simd/conv_dw.h"
#include "kernels/simd/gemm.h"
#include "kernels/simd/gemv.h"
#include "kernels/simd/qdw.h"
#include "kernels/simd/qgemm.h"
#include "kernels/simd/qrow.h"
#include "kernels/ops/op.h"
#include "kernels/ops/quant.h"
#include "kernels/threads.h"
#include "kernels/ops/window.h"

enum conv_kernel {
    CONV_GEMM,      /* Conv: the matrix product (gemm.c), col made as `col` says */
    CONV_DEPTHWISE, /* Conv: one input channel per group, up to 2-D: direct */
    CONV_POINTWISE, /* ConvTranspose: 1x1, stride 1, unpadded: sgemm straight into Y */
    CONV_IM2COL_2D, /* ConvTranspose: sgemm, then col2im, 1-D / 2-D */
    CONV_IM2COL_ND, /* ConvTranspose: sgemm, then col2im, 3-D and up */
};

/* Where Conv's column matrix comes from (CONV_GEMM). */
enum conv_col {
    COL_DIRECT, /* 1x1, stride 1, unpadded: the input image, rows of iprod */
    COL_MASK,   /* 2-D, stride 1, as wide as the input: the input image read in place,
                   row k of col one offset into it, the pads masked lanes (mask_pays) */
    COL_SHIFT,  /* 2-D: over the width of the phase planes, rows sliced from them */
    COL_2D,     /* pack_2d, from the 2-D window w2d */
    COL_ND,     /* pack_nd, from the N-D window w */
    COL_T,      /* a small output plane, 2-D: the product transposed, Y^T = col^T . W^T,
                   positions as rows (pack_colt), output channels as columns */
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
    int64_t kdim;          /* Conv: Cg * kprod, the product's inner dimension */
    enum conv_col col;
    const float *wp;       /* Conv: weights packed at plan time, group after group, or NULL
                              (weights computed at run time: read as rows) */
    size_t wp_group;       /* floats of wp per group */
    int64_t hp, wpad;      /* COL_SHIFT, COL_T: the padded plane (H + pads, W + pads) */
    int64_t hq, wq;        /* COL_SHIFT: a phase plane, hp / sh x wpad / sw rounded up:
                              phase (ph, pw) of a padded plane holds its rows ph, ph + sh,
                              ... and columns pw, pw + sw, ...; sh * sw of them per
                              channel (one for stride 1: the padded plane itself) */
    int64_t shift_cols;    /* COL_SHIFT: the product's columns, (OH - 1) * wq + OW */
    int64_t *shift_rows;   /* COL_SHIFT: where row k of the column matrix starts in the
                              group's phase planes (with packed weights the gemm reads B
                              there in place: nnp_gemm.b_rows; else pack_shift copies);
                              COL_MASK, masked: where it starts in the group's input or its
                              unpadded phase planes, for output 0 (outside for the pads) */
    int64_t mask_block;    /* COL_MASK, masked COL_SHIFT: channels per block (mask_block) */
    uint16_t *mask;        /* COL_MASK, masked COL_SHIFT: the lanes inside the input, per
                              panel of 48 outputs and run of mask_block rows of the column
                              matrix (nnp_gemm.b_mask; mask_row_at orders the rows) */
    size_t pad_bytes;      /* COL_SHIFT: every padded plane, at the start of scratch;
                              COL_T: one image's col^T, packed, then colt_bytes on the
                              padded planes of one image and group */
    size_t colt_bytes;     /* COL_T: the packed col^T of one image and group */
    size_t unit_bytes;     /* COL_SHIFT: the phase planes of one image and group */
    size_t slice_bytes;    /* scratch per thread (scratch holds `threads` slices) */
    bool masked;           /* COL_SHIFT: the phase planes of the unpadded input (hq, wq its
                              height and width / stride rounded up), the pads masked lanes
                              of B as in COL_MASK (mask_pays): no column computed for
                              nothing, no store through a panel */
    uint16_t *dw_masks;    /* CONV_DEPTHWISE, flat (nnp_conv_dw2d_flat_fit): its masks and */
    int64_t *dw_off;       /* offsets, made at plan time; NULL: not flat */
    bool own_planes;       /* COL_SHIFT, one image and group, threads: each thread makes
                              its own phase planes (shift_own_pays) */
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

/* Input and weight checks shared by the operators; sets batch, channels, group. x, w and
 * b (or NULL) are the float operators' inputs 0, 1 and 2, the integer ones' own (uint8 or
 * int8 x and w, int32 b). */
static enum nnp_status conv_common(struct nnp_exec_node *n, struct conv_state *s, bool transpose,
                                   const struct nnp_rt_value *x, const struct nnp_rt_value *w,
                                   const struct nnp_rt_value *b)
{
    const char *op = n->op->name; /* (a QDQ Conv the planner runs as QLinearConv: this) */
    bool integer = !transpose && strcmp(op, "Conv") != 0;
    enum nnp_status st;
    if (integer) {
        if (!nnp_q_8bit(x->dtype) || !nnp_q_8bit(w->dtype))
            return nnp_op_unsupported(n, "%s of %s by %s weights: only uint8 and int8 are "
                                      "supported", op, nnp_dtype_name(x->dtype),
                                      nnp_dtype_name(w->dtype));
        NNP_OP_CHECK(n, !b || b->dtype == NNP_DTYPE_I32, "bias B is %s, expected int32",
                     nnp_dtype_name(b->dtype));
    } else if ((st = need_f32(n, x, "input X")) || (st = need_f32(n, w, "weight W")) ||
               (b && (st = need_f32(n, b, "bias B")))) {
        return st;
    }
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

/* The window of a Conv (or its integer forms) of x by w: s->w and its 2-D form w2d, and
 * the kernel, input and output plane sizes. */
static enum nnp_status conv_window(struct nnp_exec_node *n, struct conv_state *s,
                                   const struct nnp_rt_value *x, const struct nnp_rt_value *w)
{
    int n_sp = x->rank - 2;
    enum nnp_status st;
    if ((st = nnp_window_parse(n, &s->w, n_sp, w->dims + 2)) ||
        (st = nnp_window_forward(n, &s->w, x->dims + 2, false)))
        return st;
    s->kprod = nnp_window_prod(s->w.kernel, n_sp);
    s->iprod = nnp_window_prod(s->w.in, n_sp);
    s->oprod = nnp_window_prod(s->w.out, n_sp);
    s->w2d = s->w;
    nnp_window_flat2d(&s->w2d);
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

/* A plane of few output positions leaves the last panel of 48 columns mostly empty:
 * 49 positions (7x7) take four vectors of 16, 64 columns computed for 49. Transposed,
 * the positions are rows of the product (panels of 8: 56 for 49) and the output
 * channels its columns (512 fill panels exactly), at the price of gathering col^T
 * once per image and storing the result transposed. Worth it when the plane wastes a
 * tenth or more of its vectors and there are channels to fill the columns; the
 * gather is that of every other path, the store one pass over the output. */
static bool transpose_pays(const struct conv_state *s, bool weights_known)
{
    const struct nnp_window *w = &s->w2d;
    int64_t vec = (s->oprod + 15) / 16 * 16, rows = (s->oprod + 7) / 8 * 8;
    /* the gather indexes a padded plane with 32-bit offsets: planes of up to 2^20 */
    int64_t hp = w->in[0] + w->pad_begin[0] + w->pad_end[0];
    int64_t wp = w->in[1] + w->pad_begin[1] + w->pad_end[1];
    return weights_known && s->w.n_sp <= 2 && s->oprod <= 256 && s->cg_out >= 64 &&
           10 * (vec - s->oprod) >= vec && rows * 10 < vec * 9 && hp <= 1 << 10 &&
           wp <= 1 << 10;
}

/* A window computed over the width of the phase planes (hq x wq, see conv_state) takes
 * each row of the column matrix as one slice of a phase plane: tap (ki, kj) of output
 * (oh, ow) is phase ((ki*dh) % sh, (kj*dw) % sw) at row oh + ki*dh / sh, column
 * ow + kj*dw / sw, so that consecutive outputs of a row are consecutive floats whatever
 * the stride, and no pad is tested. The price: wq - OW extra columns per output row,
 * computed and dropped, and one pass that splits the input into the phases. What it
 * saves is pack_2d's gather, a cycle or two per float of the column matrix, which the
 * product then spends cg_out multiply-adds on (cg_out / 32 cycles at the kernel's
 * speed): the fewer the output channels, the more the gather weighs and the more
 * waste shifting may cost. With packed weights the gemm reads the slices in place
 * (b_rows): shifted while the waste times the channels stays under
 * SHIFT_WASTE_COLS_IN_PLACE output columns (LeNet's 16 channels on 10 of 14 columns:
 * 1.7 -> 1.2 ms at batch 64; resnet18's 256 channels on 14 of 16). Without, pack_shift
 * copies each slice into a panel, which costs part of what it saves: a lower bound. */
#define SHIFT_WASTE_COLS_IN_PLACE 48
#define SHIFT_WASTE_COLS 32
/* Phase planes in use (taps and strides: min(kh, sh) x min(kw, sw)) beyond this split into
 * planes too small to copy well: the transformer's 7x7 stride-7 patch embedding on 28 x
 * 28 makes 49 planes of 4 x 4, 0.26-0.42 ms at batch 64, 0.18-0.27 gathered (pack_2d). */
#define SHIFT_MAX_PHASES 4

static bool phases_few(const struct nnp_window *w)
{
    int64_t ph = w->kernel[0] < w->stride[0] ? w->kernel[0] : w->stride[0];
    int64_t pw = w->kernel[1] < w->stride[1] ? w->kernel[1] : w->stride[1];
    return ph * pw <= SHIFT_MAX_PHASES;
}

static bool shift_pays(const struct conv_state *s, bool weights_known)
{
    const struct nnp_window *w = &s->w2d;
    int64_t wpad = w->in[1] + w->pad_begin[1] + w->pad_end[1];
    int64_t wq = (wpad + w->stride[1] - 1) / w->stride[1], waste = wq - w->out[1];
    if (!phases_few(w))
        return false;
    if (weights_known) /* 1x1 kernels (strided or padded) gather as cheaply as they split */
        return waste * s->cg_out <= SHIFT_WASTE_COLS_IN_PLACE * w->out[1] && s->kprod > 1;
    return w->stride[0] == 1 && w->stride[1] == 1 &&
           waste * s->cg_out <= SHIFT_WASTE_COLS * w->out[1];
}

/* COL_MASK and masked COL_SHIFT take the column matrix's rows in blocks of channels,
 * tap after tap within a block: row r is channel (r / (taps * B)) * B + r % B at tap
 * r / B % taps, B the largest divisor of Cg up to 16 (the weights are packed in that
 * order). A run of B rows shares its masks, and one block's rows read a few lines of
 * B channels again and again while they are in L1: tap after tap over all the
 * channels (B = Cg) reads resnet18's 256 channels on 14 x 14 from L2 (1.83 ms, 1.69
 * with the padded planes). */
#define MASK_BLOCK 16

static int64_t mask_block(int64_t cg)
{
    int64_t b = cg < MASK_BLOCK ? cg : MASK_BLOCK;
    while (b > 1 && cg % b)
        b--;
    return b > 0 ? b : 1;
}

/* An output as wide as the input (the pads of a "same" convolution), or at stride s
 * as wide as the input's phase planes (W / s rounded up; conv_state.hq): output
 * position j and tap (ki, kj) read the input (or one phase plane of it) at j + one
 * offset per tap, so that the product reads every row of the column matrix in place,
 * with no column computed for nothing. Lanes whose tap falls in a pad would read the
 * neighbouring row (or outside the plane): their mask bits are clear and they load as
 * the zeros the pads are. At stride 1 that is the input itself, no copy (COL_MASK);
 * strided, the unpadded phase planes (COL_SHIFT, masked). Against the padded phase
 * planes it saves their copy at stride 1 (10% of the testdata CNN) and the padded
 * width's columns and its store through a panel (8%). Masked loads are AVX-512's; the
 * masks take 6 bytes per panel of 48 outputs and tap, bounded here. */
#define MASK_MAX_BYTES (256 << 10)

static bool mask_pays(const struct conv_state *s, bool weights_known)
{
    const struct nnp_window *w = &s->w2d;
    int64_t panels = (s->oprod + NNP_GEMM_NR - 1) / NNP_GEMM_NR;
    int64_t wq = (w->in[1] + w->stride[1] - 1) / w->stride[1];
    double runs = (double)s->kdim / (double)mask_block(s->cg_in);
    return weights_known && s->isa == NNP_ISA_AVX512 && w->out[1] == wq && phases_few(w) &&
           (double)panels * runs * 6.0 <= MASK_MAX_BYTES;
}

/* the channel and tap of row r (mask_block) */
static void mask_row_at(const struct conv_state *s, int64_t r, int64_t *c, int64_t *t)
{
    int64_t b = s->mask_block, run = r / b;
    *c = run / s->kprod * b + r % b;
    *t = run % s->kprod;
}

/* Row r of the column matrix starts at shift_rows[r] in the planes (the input, hq x wq
 * = H x W, or its sh x sw phase planes of hq x wq each) for output 0; the masks, per
 * panel of outputs and run of rows, have the lanes whose input is inside. */
static void mask_rows(struct conv_state *s, struct nnp_arena *arena)
{
    const struct nnp_window *w = &s->w2d;
    int64_t kw = w->kernel[1];
    int64_t sh = w->stride[0], sw = w->stride[1], plane = s->hq * s->wq;
    int64_t panels = (s->oprod + NNP_GEMM_NR - 1) / NNP_GEMM_NR, runs = s->kdim / s->mask_block;
    s->shift_rows = nnp_arena_alloc(arena, (size_t)s->kdim * sizeof(int64_t));
    s->mask = nnp_arena_alloc(arena, (size_t)(panels * runs * 3) * sizeof(uint16_t));
    for (int64_t r = 0; r < s->kdim; r++) {
        int64_t c, t;
        mask_row_at(s, r, &c, &t);
        int64_t dy = t / kw * w->dil[0] - w->pad_begin[0];
        int64_t dx = t % kw * w->dil[1] - w->pad_begin[1];
        /* input row sh * oh + dy: phase dy mod sh, its row oh + floor(dy / sh) */
        int64_t ph = (dy % sh + sh) % sh, pw = (dx % sw + sw) % sw;
        s->shift_rows[r] = ((c * sh + ph) * sw + pw) * plane + (dy - ph) / sh * s->wq +
                           (dx - pw) / sw;
    }
    for (int64_t q = 0; q < panels; q++)
        for (int64_t run = 0; run < runs; run++) {
            int64_t c, t;
            mask_row_at(s, run * s->mask_block, &c, &t);
            int64_t dy = t / kw * w->dil[0] - w->pad_begin[0];
            int64_t dx = t % kw * w->dil[1] - w->pad_begin[1];
            uint16_t *m = s->mask + (q * runs + run) * 3;
            for (int v = 0; v < 3; v++)
                m[v] = nnp_window_lanes(w, q * NNP_GEMM_NR + 16 * v, dy, dx);
        }
}

/* Where both apply, the transposed product (COL_T) or the masked one: transposed, the
 * weights are B, read once panel by panel; masked they are A, read again for every
 * panel of 48 outputs (two for a 7 x 7 plane), which beyond the L2 costs more than the
 * transposed product's gather and transposed store (resnet18's 512 channels on 7 x 7:
 * 1.66 ms transposed, 2.38 masked). Below, the masked product is as fast or faster
 * (the testdata CNN's 64 channels on 7 x 7 at batch 64: 2.49 and 2.47 ms; at stride 2,
 * 1.55 and 1.45). */
#define TRANSPOSED_MIN_WEIGHT_BYTES (512 << 10)

static bool transposed_beats_masked(const struct conv_state *s)
{
    return (double)s->cg_out * (double)s->kdim * sizeof(float) > TRANSPOSED_MIN_WEIGHT_BYTES;
}

/* Where both apply, the masked product or the padded phase planes, by what each costs
 * beyond the product, per output, as a fraction of it: padded, (wq - OW) / OW columns
 * computed for nothing and a store through a panel, worth MASK_SINK_MACS of the K
 * multiply-adds; masked, its masked loads (MASK_LOAD_COST) and a reload of the masks per
 * run of mask_block rows (MASK_RUN_STEPS steps). The two constants are fitted to
 * measurements, each layer alone, one thread: the testdata CNN's 16 channels on 28 x 28
 * (K = 144) 11% faster masked, resnet18's 64 on 56 x 56 (K = 576) 6% slower; the model
 * then also has resnet18's 3-channel stem (K = 147) and 256 channels on 14 x 14 slower
 * masked, the testdata CNN's stride-2 layers faster, as measured. */
#define MASK_LOAD_COST 0.06
#define MASK_SINK_MACS 34.0
#define MASK_RUN_STEPS 1.5

static bool masked_beats_shift(const struct conv_state *s)
{
    const struct nnp_window *w = &s->w2d;
    int64_t wpad = w->in[1] + w->pad_begin[1] + w->pad_end[1];
    int64_t wq = (wpad + w->stride[1] - 1) / w->stride[1];
    double padded = (double)(wq - w->out[1]) / (double)w->out[1] +
                    MASK_SINK_MACS / (double)(s->kdim > 0 ? s->kdim : 1);
    return padded > MASK_LOAD_COST + MASK_RUN_STEPS / (double)s->mask_block;
}

/* One image on several threads: each thread makes its own phase planes, as its first
 * block of the product begins, when the input is small enough to copy twice. Then
 * the convolution is one hand-off instead of two (planes, then product), the copy is
 * not left to one thread while the others wait (the testdata CNN's inputs are too
 * small to split), and each thread reads its planes from its own cache. Bounded by
 * what the planes weigh against the L2: larger inputs are split over the threads. */
#define SHIFT_OWN_MAX_BYTES (512 << 10)

static bool shift_own_pays(const struct conv_state *s)
{
    return s->unit_bytes <= SHIFT_OWN_MAX_BYTES;
}

static enum nnp_status conv_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    struct conv_state *s = nnp_arena_alloc(arena, sizeof *s);
    enum nnp_status st =
        conv_common(n, s, false, n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : NULL);
    if (st)
        return st;
    const struct nnp_rt_value *x = n->in[0], *w = n->in[1];
    int n_sp = x->rank - 2;
    if ((st = conv_window(n, s, x, w)))
        return st;
    NNP_OP_CHECK(n,
                 !__builtin_mul_overflow(s->cg_in, s->kprod, &s->kdim) && s->kdim <= INT32_MAX &&
                     s->cg_out <= INT32_MAX && s->oprod <= INT32_MAX,
                 "the layer is too large (sizes above 2^31-1)");

    bool unit = true; /* 1x1 kernel, stride 1, no pads */
    for (int i = 0; i < n_sp; i++)
        unit &= s->w.kernel[i] == 1 && s->w.stride[i] == 1 && s->w.pad_begin[i] == 0 &&
                s->w.pad_end[i] == 0;
    s->kernel = s->cg_in == 1 && s->group > 1 && n_sp <= 2 ? CONV_DEPTHWISE : CONV_GEMM;
    bool w_known = w->is_const && w->data && s->kdim > 0;
    s->mask_block = mask_block(s->cg_in);
    bool transposed = s->kernel == CONV_GEMM && transpose_pays(s, w_known);
    bool masked = !unit && n_sp <= 2 && s->kernel == CONV_GEMM && mask_pays(s, w_known) &&
                  (transposed ? !transposed_beats_masked(s) : masked_beats_shift(s));
    bool stride1 = s->w2d.stride[0] == 1 && s->w2d.stride[1] == 1;
    s->col = masked       ? (stride1 ? COL_MASK : COL_SHIFT)
             : transposed ? COL_T
             : unit       ? COL_DIRECT
             : n_sp <= 2  ? (shift_pays(s, w_known) ? COL_SHIFT : COL_2D)
                          : COL_ND;
    s->masked = masked && !stride1;
    n->state = s;
    n->flops = 2.0 * (double)s->batch * (double)s->c_out * (double)s->oprod * (double)s->kdim;
    n->work = nnp_work_prod(5, (int64_t[]){s->batch, s->c_out, s->oprod, s->cg_in, s->kprod});

    if (s->kernel == CONV_DEPTHWISE && nnp_conv_dw2d_flat_fit(s->isa, &s->w2d)) {
        s->dw_masks = nnp_arena_alloc(arena, nnp_conv_dw2d_flat_masks(&s->w2d) * sizeof(uint16_t));
        s->dw_off = nnp_arena_alloc(arena, (size_t)s->kprod * sizeof(int64_t));
        nnp_conv_dw2d_flat_plan(&s->w2d, s->dw_masks, s->dw_off);
    }
    if (s->kernel == CONV_GEMM) {
        /* a B panel per thread, and constant weights packed for the micro-kernel */
        int threads = n->threads > 1 ? n->threads : 1;
        int64_t sink_rows = s->col == COL_SHIFT && !s->masked ? s->cg_out
                            : s->col == COL_T                  ? s->oprod
                                                               : 0;
        s->slice_bytes = (nnp_gemm_scratch_bytes(sink_rows) + 63) & ~(size_t)63;
        const struct nnp_window *w2 = &s->w2d;
        s->hp = w2->in[0] + w2->pad_begin[0] + w2->pad_end[0];
        s->wpad = w2->in[1] + w2->pad_begin[1] + w2->pad_end[1];
        if (s->col == COL_T) {
            /* one image's col^T, packed as the product's A, gathered from the padded
             * planes of that image and group (transpose_pays bounds both) */
            s->colt_bytes = (nnp_gemm_a_floats(s->oprod, s->kdim) * sizeof(float) + 63) &
                            ~(size_t)63;
            s->pad_bytes = s->colt_bytes +
                           (((size_t)(s->cg_in * s->hp * s->wpad) * sizeof(float) + 63) &
                            ~(size_t)63);
        }
        if (s->col == COL_MASK) { /* the input itself */
            s->hq = w2->in[0];
            s->wq = w2->in[1];
            mask_rows(s, arena);
        }
        if (s->col == COL_SHIFT) {
            /* every image's phase planes, and slack past the last */
            int64_t sh = w2->stride[0], sw = w2->stride[1];
            int64_t ph = s->masked ? w2->in[0] : s->hp, pw = s->masked ? w2->in[1] : s->wpad;
            s->hq = (ph + sh - 1) / sh;
            s->wq = (pw + sw - 1) / sw;
            s->shift_cols = s->masked ? s->oprod : (w2->out[0] - 1) * s->wq + w2->out[1];
            int64_t floats;
            NNP_OP_CHECK(n,
                         !__builtin_mul_overflow(s->hq * sh, s->wq * sw, &floats) &&
                             !__builtin_mul_overflow(floats, s->batch * s->c_in, &floats) &&
                             floats < INT64_MAX / 8 - (1 << 20),
                         "the padded input is too large");
            floats += s->wq + NNP_GEMM_NR;
            s->pad_bytes = ((size_t)floats * sizeof(float) + 63) & ~(size_t)63;
            s->unit_bytes = ((size_t)(s->cg_in * sh * sw * s->hq * s->wq + s->wq + NNP_GEMM_NR) *
                                 sizeof(float) +
                             63) &
                            ~(size_t)63;
            if (s->masked)
                mask_rows(s, arena);
            int64_t kk = s->kprod, kw = w2->kernel[1], phase = s->hq * s->wq;
            if (!s->masked)
                s->shift_rows = nnp_arena_alloc(arena, (size_t)s->kdim * sizeof(int64_t));
            for (int64_t r = 0; r < s->kdim && !s->masked; r++) {
                int64_t th = r % kk / kw * w2->dil[0], tw = r % kw * w2->dil[1];
                s->shift_rows[r] = (r / kk * sh * sw + th % sh * sw + tw % sw) * phase +
                                   th / sh * s->wq + tw / sw;
            }
        }
        NNP_OP_CHECK(n, s->slice_bytes <= (SIZE_MAX - s->pad_bytes) / (size_t)threads,
                     "the scratch is too large");
        n->scratch_bytes = s->pad_bytes + s->slice_bytes * (size_t)threads;
        if (s->col == COL_SHIFT && s->batch * s->group >= 2) { /* shift_units */
            NNP_OP_CHECK(n, s->unit_bytes + s->slice_bytes <= SIZE_MAX / (size_t)threads,
                         "the scratch is too large");
            n->scratch_bytes = (s->unit_bytes + s->slice_bytes) * (size_t)threads;
        }
        s->own_planes = s->col == COL_SHIFT && s->batch * s->group == 1 && threads > 1 &&
                        shift_own_pays(s);
        if (s->own_planes) { /* phase planes and slice per thread, and a flag each */
            NNP_OP_CHECK(n, s->unit_bytes + s->slice_bytes <= (SIZE_MAX - 64) / (size_t)threads,
                         "the scratch is too large");
            n->scratch_bytes = (s->unit_bytes + s->slice_bytes) * (size_t)threads +
                               (((size_t)threads + 63) & ~(size_t)63);
        }
        if (s->col == COL_T) { /* a col^T, padded planes and slice per thread (colt_units) */
            NNP_OP_CHECK(n, s->pad_bytes + s->slice_bytes <= SIZE_MAX / (size_t)threads,
                         "the scratch is too large");
            n->scratch_bytes = (s->pad_bytes + s->slice_bytes) * (size_t)threads;
        }
        /* constant weights packed for the micro-kernel, group after group: W^T (K, Mg) as
         * the product's B in panels of 48 channels (COL_T), else W (Mg, K) as its A */
        bool as_b = s->col == COL_T;
        if (as_b || (w->is_const && w->data && s->kdim > 0 && s->cg_out > 0)) {
            s->wp_group = as_b ? nnp_gemm_b_floats(s->kdim, s->cg_out)
                               : nnp_gemm_a_floats(s->cg_out, s->kdim);
            NNP_OP_CHECK(n, s->wp_group <= SIZE_MAX / sizeof(float) / (size_t)s->group,
                         "the weights are too large to pack");
            size_t bytes = s->wp_group * (size_t)s->group * sizeof(float);
            uint8_t *raw = nnp_arena_alloc_big(arena, bytes + 64);
            if (!raw)
                return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory for %zu bytes of packed "
                                  "weights", n->node->name, bytes);
            float *wp = (float *)(raw + (64 - (uintptr_t)raw % 64) % 64);
            float *reordered = NULL; /* COL_MASK, masked: W_g's columns in mask_row_at's order */
            if ((s->col == COL_MASK || s->masked) &&
                !(reordered = malloc((size_t)(s->cg_out * s->kdim) * sizeof(float))))
                return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory to reorder the weights",
                                  n->node->name);
            for (int64_t g = 0; g < s->group; g++) {
                const float *wg = (const float *)w->data + g * s->cg_out * s->kdim;
                float *dst = wp + (size_t)g * s->wp_group;
                if (reordered) {
                    for (int64_t r = 0; r < s->kdim; r++) {
                        int64_t c, t;
                        mask_row_at(s, r, &c, &t);
                        for (int64_t m = 0; m < s->cg_out; m++)
                            reordered[m * s->kdim + r] = wg[(m * s->cg_in + c) * s->kprod + t];
                    }
                    wg = reordered;
                }
                if (as_b)
                    nnp_gemm_pack_b(wg, 1, s->kdim, s->kdim, s->cg_out, dst);
                else
                    nnp_gemm_pack_a(wg, s->kdim, 1, s->cg_out, s->kdim, dst);
            }
            free(reordered);
            s->wp = wp;
            n->packed_bytes = bytes;
        }
    }

    int64_t od[NNP_MAX_RANK] = {s->batch, s->c_out};
    memcpy(od + 2, s->w.out, sizeof(int64_t) * (size_t)n_sp);
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, x->rank, od);
}

/* dst[t] = src[t * stride] for t < len: the gather of one run of a column-matrix row */
static inline void gather_run(float *dst, const float *src, int64_t len, int64_t stride)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)len * sizeof *dst);
        return;
    }
    for (int64_t t = 0; t < len; t++)
        dst[t] = src[t * stride];
}

/* The same with AVX-512: a run is at most a panel (48 floats), so libc's memcpy, with
 * its dispatch, cost more than the copy. Stride 2 takes the even lanes of 32 consecutive
 * inputs. The loads are masked to the run: nothing past it is read. */
__attribute__((target("avx512f"), always_inline)) static inline void
gather_run512(float *dst, const float *src, int64_t len, int64_t stride)
{
    if (stride == 1) {
        for (int64_t t = 0; t < len; t += 16) {
            __mmask16 m = len - t >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - t)) - 1);
            _mm512_mask_storeu_ps(dst + t, m, _mm512_maskz_loadu_ps(m, src + t));
        }
        return;
    }
    if (stride == 2) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                              2, 0);
        for (int64_t t = 0; t < len; t += 16) {
            int64_t n = len - t < 16 ? len - t : 16; /* outputs; they read 2n - 1 inputs */
            int64_t in = 2 * n - 1;
            __mmask16 lo = in >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << in) - 1);
            __mmask16 hi = in > 16 ? (__mmask16)((1u << (in - 16)) - 1) : 0;
            __m512 a = _mm512_maskz_loadu_ps(lo, src + 2 * t);
            __m512 b = _mm512_maskz_loadu_ps(hi, src + 2 * t + 16);
            __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_ps(dst + t, m, _mm512_permutex2var_ps(a, even, b));
        }
        return;
    }
    for (int64_t t = 0; t < len; t++)
        dst[t] = src[t * stride];
}

/* One run of output positions within an output row, as the panel's columns cover it. */
struct col_run {
    int64_t oh, ow0, len; /* output row, first column, how many */
    int64_t at;           /* its first column in the panel */
};

/* What kernel column kj reads of run q: columns [lo, hi) of the run are inside the
 * input row, from input column `from` on (the rest are pads). The same for every
 * channel and kernel row, so made once per panel: the division in valid_range() cost
 * more than the copy of a short run. */
struct tap_span {
    int32_t lo, hi;
    int64_t from;
};

/* kernel columns a panel's table holds; wider kernels compute the spans row by row */
#define PACK_TAP_MAX 16

/* Rows k0 .. k0+kc-1, columns j0 .. j0+nc-1 of the column matrix of one image and group
 * (g->pack_src: x_g (Cg, H, W)), 2-D window: row k is input channel k / (kh*kw) at tap
 * (ki, kj); column p is output position (p / OW, p % OW). Each row of the panel is a
 * few runs, one per output row the columns span, each a strided read of one input row
 * with the pads as zeros. Built twice, with and without AVX-512, from one body (the
 * gather is passed as a constant and inlined). */
typedef void (*gather_fn)(float *dst, const float *src, int64_t len, int64_t stride);

/* len zeros at dst: the pads of a row, often one or two floats, where a call to memset
 * costs more than the store */
static inline void zero_run(float *dst, int64_t len)
{
    memset(dst, 0, (size_t)len * sizeof *dst);
}

__attribute__((target("avx512f"), always_inline)) static inline void zero_run512(float *dst,
                                                                               int64_t len)
{
    const __m512 z = _mm512_setzero_ps();
    int64_t t = 0;
    for (; t + 16 <= len; t += 16)
        _mm512_storeu_ps(dst + t, z);
    if (t < len)
        _mm512_mask_storeu_ps(dst + t, (__mmask16)((1u << (len - t)) - 1), z);
}
typedef void (*zero_fn)(float *dst, int64_t len);

__attribute__((always_inline)) static inline void
pack_2d_body(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
             float *dst, gather_fn gather)
{
    const struct conv_state *s = g->pack_ctx;
    const struct nnp_window *w = &s->w2d;
    const float *x = g->pack_src;
    int64_t H = w->in[0], W = w->in[1], OW = w->out[1];
    int64_t kh = w->kernel[0], kw = w->kernel[1], sh = w->stride[0], sw = w->stride[1];
    struct col_run runs[NNP_GEMM_NR];
    int n_runs = 0;
    for (int64_t p = j0; p < j0 + nc;) {
        int64_t oh = p / OW, ow = p % OW, len = OW - ow < j0 + nc - p ? OW - ow : j0 + nc - p;
        runs[n_runs++] = (struct col_run){oh, ow, len, p - j0};
        p += len;
    }
    bool table = kw <= PACK_TAP_MAX;
    struct tap_span spans[PACK_TAP_MAX][NNP_GEMM_NR];
    for (int64_t kj = 0; table && kj < kw; kj++)
        for (int q = 0; q < n_runs; q++) {
            int64_t iw0 = runs[q].ow0 * sw + kj * w->dil[1] - w->pad_begin[1], lo, hi;
            valid_range(iw0, sw, W, runs[q].len, &lo, &hi);
            if (hi < lo)
                hi = lo;
            spans[kj][q] = (struct tap_span){(int32_t)lo, (int32_t)hi, iw0 + lo * sw};
        }
    /* (c, ki, kj) of row k0, then counted up row by row */
    int64_t c = k0 / (kh * kw), ki = k0 % (kh * kw) / kw, kj = k0 % kw;
    for (int64_t r = 0; r < kc; r++) {
        const float *xc = x + c * H * W;
        float *row = dst + r * NNP_GEMM_NR;
        int64_t dh = ki * w->dil[0] - w->pad_begin[0];
        for (int q = 0; q < n_runs; q++) {
            const struct col_run *u = &runs[q];
            float *out = row + u->at;
            int64_t ih = u->oh * sh + dh;
            if (ih < 0 || ih >= H) {
                for (int64_t t2 = 0; t2 < u->len; t2++)
                    out[t2] = 0.0f;
                continue;
            }
            /* output columns ow0 + t read input column iw0 + t*sw: those inside [0, W) */
            struct tap_span sp;
            if (table) {
                sp = spans[kj][q];
            } else {
                int64_t iw0 = u->ow0 * sw + kj * w->dil[1] - w->pad_begin[1], lo, hi;
                valid_range(iw0, sw, W, u->len, &lo, &hi);
                if (hi < lo)
                    hi = lo;
                sp = (struct tap_span){(int32_t)lo, (int32_t)hi, iw0 + lo * sw};
            }
            for (int64_t t2 = 0; t2 < sp.lo; t2++)
                out[t2] = 0.0f;
            gather(out + sp.lo, xc + ih * W + sp.from, sp.hi - sp.lo, sw);
            for (int64_t t2 = sp.hi; t2 < u->len; t2++)
                out[t2] = 0.0f;
        }
        if (++kj == kw) {
            kj = 0;
            if (++ki == kh) {
                ki = 0;
                c++;
            }
        }
    }
}

static void pack_2d(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                    float *dst)
{
    pack_2d_body(g, k0, kc, j0, nc, dst, gather_run);
}

__attribute__((target("avx512f"))) static void pack_2d_avx512(const struct nnp_gemm *g,
                                                               int64_t k0, int64_t kc,
                                                               int64_t j0, int64_t nc, float *dst)
{
    pack_2d_body(g, k0, kc, j0, nc, dst, gather_run512); /* inlined: a constant pointer */
}

/* COL_SHIFT: row k of the column matrix is the slice of a phase plane that starts at
 * shift_rows[k]: columns j0 .. j0+nc-1 of it are one copy. g->pack_src: the group's
 * phase planes. */
__attribute__((always_inline)) static inline void
pack_shift_body(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                float *dst, gather_fn gather)
{
    const struct conv_state *s = g->pack_ctx;
    for (int64_t r = 0; r < kc; r++)
        gather(dst + r * NNP_GEMM_NR, g->pack_src + s->shift_rows[k0 + r] + j0, nc, 1);
}

static void pack_shift(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                       float *dst)
{
    pack_shift_body(g, k0, kc, j0, nc, dst, gather_run);
}

__attribute__((target("avx512f"))) static void pack_shift_avx512(const struct nnp_gemm *g,
                                                                  int64_t k0, int64_t kc,
                                                                  int64_t j0, int64_t nc,
                                                                  float *dst)
{
    pack_shift_body(g, k0, kc, j0, nc, dst, gather_run512);
}

/* COL_SHIFT: the product's column j is output position (j / wpad, j % wpad), real when
 * j % wpad < OW: each row of the panel goes to the output as the runs of real columns,
 * with the residual and the activation on the way. */
static void store_shift(const struct nnp_gemm *g, int64_t m0, int64_t m1, int64_t j0,
                        int64_t nc, const float *panel)
{
    const struct conv_state *s = g->pack_ctx;
    int64_t OW = s->w2d.out[1];
    for (int64_t j = j0; j < j0 + nc;) {
        int64_t oh = j / s->wq, ow = j % s->wq;
        if (ow >= OW) { /* the garbage columns of one row */
            j += s->wq - ow;
            continue;
        }
        int64_t len = OW - ow < j0 + nc - j ? OW - ow : j0 + nc - j;
        int64_t at = oh * OW + ow; /* in the output plane */
        const float *res = g->epi.res ? g->epi.res + m0 * g->epi.ldr + at : NULL;
        nnp_gemm_finish_rows(&g->epi.act, m1 - m0, len, panel + (j - j0), NNP_GEMM_NR, res,
                             g->epi.ldr, g->c + m0 * g->ldc + at, g->ldc);
        j += len;
    }
}

/* COL_T: planes [begin, end) of the input (image-major) into the padded planes: zero
 * borders, the image copied inside */
struct pad_job {
    const struct conv_state *s;
    const float *x;
    float *xpad;
};

__attribute__((always_inline)) static inline void
pad_body(const struct pad_job *j, int64_t begin, int64_t end, gather_fn copy, zero_fn zero)
{
    const struct conv_state *s = j->s;
    const struct nnp_window *w = &s->w2d;
    int64_t H = w->in[0], W = w->in[1], pt = w->pad_begin[0], pl = w->pad_begin[1];
    for (int64_t p = begin; p < end; p++) {
        float *dst = j->xpad + p * s->hp * s->wpad;
        const float *src = j->x + p * H * W;
        zero(dst, pt * s->wpad);
        for (int64_t h = 0; h < H; h++) {
            float *row = dst + (pt + h) * s->wpad;
            zero(row, pl);
            copy(row + pl, src + h * W, W, 1);
            zero(row + pl + W, s->wpad - pl - W);
        }
        zero(dst + (pt + H) * s->wpad, (s->hp - pt - H) * s->wpad);
    }
}

static void pad_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    pad_body(ctx, begin, end, gather_run, zero_run);
}

__attribute__((target("avx512f"))) static void pad_task_avx512(void *ctx, int64_t begin,
                                                                int64_t end, int tid)
{
    (void)tid;
    pad_body(ctx, begin, end, gather_run512, zero_run512);
}

/* COL_SHIFT: planes [begin, end) of the input (image-major) into their sh x sw phase
 * planes (conv_state.hq): phase (ph, pw) row r, column q is the padded plane's row
 * r*sh + ph, column q*sw + pw, zero in the pads and past the padded plane. Phases that
 * no tap reads (a 1x1 kernel at stride 2 reads one of four) are left unwritten. Masked
 * (conv_state.masked), the same of the unpadded input: tap t then reads phase
 * (t * dil - pad) mod stride. */
static bool phase_used(int64_t phase, int64_t stride, int64_t kernel, int64_t dil, int64_t pad)
{
    for (int64_t t = 0; t < kernel && t < stride; t++)
        if (((t * dil - pad) % stride + stride) % stride == phase)
            return true;
    return false;
}

__attribute__((always_inline)) static inline void
phase_body(const struct pad_job *j, int64_t begin, int64_t end, gather_fn gather, zero_fn zero)
{
    const struct conv_state *s = j->s;
    const struct nnp_window *w = &s->w2d;
    /* masked: the phases of the unpadded input (the pads are masked lanes) */
    int64_t H = w->in[0], W = w->in[1];
    int64_t pt = s->masked ? 0 : w->pad_begin[0], pl = s->masked ? 0 : w->pad_begin[1];
    int64_t sh = w->stride[0], sw = w->stride[1], hq = s->hq, wq = s->wq;
    int64_t tap_t = s->masked ? w->pad_begin[0] : 0, tap_l = s->masked ? w->pad_begin[1] : 0;
    for (int64_t p = begin; p < end; p++) {
        const float *src = j->x + p * H * W;
        for (int64_t ph = 0; ph < sh; ph++) {
            if (!phase_used(ph, sh, w->kernel[0], w->dil[0], tap_t))
                continue;
            for (int64_t pw = 0; pw < sw; pw++) {
                if (!phase_used(pw, sw, w->kernel[1], w->dil[1], tap_l))
                    continue;
                float *dst = j->xpad + ((p * sh + ph) * sw + pw) * hq * wq;
                /* the columns q whose input column q*sw + pw - pl is inside [0, W) */
                int64_t qlo = pl - pw > 0 ? (pl - pw + sw - 1) / sw : 0;
                int64_t qhi = W + pl - pw > 0 ? (W + pl - pw + sw - 1) / sw : 0;
                qhi = qhi < wq ? qhi : wq;
                qlo = qlo < qhi ? qlo : qhi;
                for (int64_t r = 0; r < hq; r++, dst += wq) {
                    int64_t i = r * sh + ph - pt;
                    if (i < 0 || i >= H || qlo == qhi) {
                        zero(dst, wq);
                        continue;
                    }
                    zero(dst, qlo);
                    gather(dst + qlo, src + i * W + qlo * sw + pw - pl, qhi - qlo, sw);
                    zero(dst + qhi, wq - qhi);
                }
            }
        }
    }
}

static void phase_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    phase_body(ctx, begin, end, gather_run, zero_run);
}

/* Masked, both column phases of stride 2 used: each input row once, its even and odd
 * columns into the two phases at once. phase_body takes one phase at a time, two short
 * runs per row with their setup: a third of the stride-2 layers of the testdata CNN. */
__attribute__((target("avx512f"))) static void phase2_rows(const struct pad_job *j,
                                                            int64_t begin, int64_t end)
{
    const struct conv_state *s = j->s;
    const struct nnp_window *w = &s->w2d;
    int64_t H = w->in[0], W = w->in[1], sh = w->stride[0], hq = s->hq, wq = s->wq;
    int64_t plane = hq * wq;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                          2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t p = begin; p < end; p++) {
        const float *src = j->x + p * H * W;
        for (int64_t ph = 0; ph < sh; ph++) {
            if (!phase_used(ph, sh, w->kernel[0], w->dil[0], w->pad_begin[0]))
                continue;
            float *de = j->xpad + (p * sh + ph) * 2 * plane, *dodd = de + plane;
            for (int64_t r = 0; r < hq; r++, de += wq, dodd += wq) {
                int64_t i = r * sh + ph;
                if (i >= H) {
                    zero_run512(de, wq);
                    zero_run512(dodd, wq);
                    continue;
                }
                for (int64_t t = 0; t < wq; t += 16) { /* inputs 2t .. 2t + 31, up to W */
                    int64_t in = W - 2 * t < 32 ? W - 2 * t : 32, n = wq - t < 16 ? wq - t : 16;
                    __mmask16 lo = in >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << in) - 1);
                    __mmask16 hi = in > 16 ? (__mmask16)((1ull << (in - 16)) - 1) : 0;
                    __mmask16 m = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
                    __m512 a = _mm512_maskz_loadu_ps(lo, src + i * W + 2 * t);
                    __m512 b = _mm512_maskz_loadu_ps(hi, src + i * W + 2 * t + 16);
                    _mm512_mask_storeu_ps(de + t, m, _mm512_permutex2var_ps(a, even, b));
                    _mm512_mask_storeu_ps(dodd + t, m, _mm512_permutex2var_ps(a, odd, b));
                }
            }
        }
    }
}

__attribute__((target("avx512f"))) static void phase_task_avx512(void *ctx, int64_t begin,
                                                                  int64_t end, int tid)
{
    const struct pad_job *j = ctx;
    const struct nnp_window *w = &j->s->w2d;
    (void)tid;
    if (j->s->masked && w->stride[1] == 2 &&
        phase_used(0, 2, w->kernel[1], w->dil[1], w->pad_begin[1]) &&
        phase_used(1, 2, w->kernel[1], w->dil[1], w->pad_begin[1]))
        phase2_rows(j, begin, end);
    else
        phase_body(ctx, begin, end, gather_run512, zero_run512);
}

/* COL_T: col^T (P, K) of one image and group as the product's A, packed (gemm.h,
 * nnp_gemm_pack_a), gathered from the group's padded planes (pad_task): element
 * (position p, row k) is the padded plane of channel k / (kh*kw) at tap (ki, kj) under
 * output position p, the pads its zeros, so that no element is tested. Each position
 * has one offset into a plane, each row k one plane and tap: a row of a panel is 8
 * loads at fixed offsets from one pointer, one gather on AVX2 and AVX-512. The rows
 * of the last panel past P repeat position P - 1 (their results are not stored). */
struct colt_job {
    const struct conv_state *s;
    const float *xpad; /* the group's Cg padded planes (hp, wpad) */
    float *a;          /* (nnp_gemm_a_floats(P, K)) */
};

#define MRT NNP_GEMM_MR

/* one row of a panel: dst[i] = src[off[i]] for the MR positions */
static inline void colt_row(float *dst, const float *src, const int32_t *off)
{
    for (int i = 0; i < MRT; i++)
        dst[i] = src[off[i]];
}

#if defined(__x86_64__)
__attribute__((target("avx2"), always_inline)) static inline void
colt_row_avx2(float *dst, const float *src, const int32_t *off)
{
    __m256i idx = _mm256_loadu_si256((const __m256i *)off);
    _mm256_storeu_ps(dst, _mm256_i32gather_ps(src, idx, 4));
}
#endif

__attribute__((always_inline)) static inline void
colt_body(const struct colt_job *j, int64_t begin, int64_t end,
          void (*row)(float *, const float *, const int32_t *))
{
    const struct conv_state *s = j->s;
    const struct nnp_window *w = &s->w2d;
    int64_t OW = w->out[1], P = s->oprod, K = s->kdim, plane = s->hp * s->wpad;
    int64_t kh = w->kernel[0], kw = w->kernel[1], mp = (P + MRT - 1) / MRT * MRT;
    int64_t tap_h = w->dil[0] * s->wpad, tap_w = w->dil[1];
    for (int64_t q = begin; q < end; q++) {
        int32_t off[MRT];
        for (int i = 0; i < MRT; i++) {
            int64_t p = q * MRT + i < P ? q * MRT + i : P - 1;
            off[i] = (int32_t)(p / OW * w->stride[0] * s->wpad + p % OW * w->stride[1]);
        }
        for (int64_t k0 = 0, kc; k0 < K; k0 += kc) {
            kc = nnp_gemm_kc(K, k0);
            float *panel = j->a + k0 * mp + q * kc * MRT; /* (kc, MR) */
            int64_t c = k0 / (kh * kw), ki = k0 % (kh * kw) / kw, kj = k0 % kw;
            for (int64_t r = 0; r < kc; r++) {
                row(panel + r * MRT, j->xpad + c * plane + ki * tap_h + kj * tap_w, off);
                if (++kj == kw) {
                    kj = 0;
                    if (++ki == kh) {
                        ki = 0;
                        c++;
                    }
                }
            }
        }
    }
}

/* position panels [begin, end) of 8 positions, every slice of k */
static void colt_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    colt_body(ctx, begin, end, colt_row);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void colt_task_avx2(void *ctx, int64_t begin,
                                                            int64_t end, int tid)
{
    (void)tid;
    colt_body(ctx, begin, end, colt_row_avx2);
}
#endif

/* COL_T: rows [m0, m1) of the product are output positions, its columns j0 .. j0+nc-1
 * output channels: each channel's run of positions goes to its plane, gathered out of
 * the panel's column, with the residual and the activation on the way. */
static void store_transposed(const struct nnp_gemm *g, int64_t m0, int64_t m1, int64_t j0,
                             int64_t nc, const float *panel)
{
    const struct conv_state *s = g->pack_ctx;
    float run[NNP_GEMM_MR * 64];
    for (int64_t j = 0; j < nc; j++)
        for (int64_t p0 = m0; p0 < m1; p0 += (int64_t)(sizeof run / sizeof *run)) {
            int64_t len = m1 - p0 < (int64_t)(sizeof run / sizeof *run)
                              ? m1 - p0
                              : (int64_t)(sizeof run / sizeof *run);
            for (int64_t i = 0; i < len; i++)
                run[i] = panel[(p0 + i - m0) * NNP_GEMM_NR + j];
            int64_t at = (j0 + j) * s->oprod + p0; /* channel j0 + j, position p0 */
            nnp_gemm_finish_row(&g->epi.act, run, g->epi.res ? g->epi.res + at : NULL,
                                g->c + at, len);
        }
}

/* The same with AVX-512: 8 positions x 16 channels of the panel at a time, transposed in
 * registers (two 8 x 8 transposes of the 256-bit halves) into each channel's run, which
 * then takes the rest of its epilogue as above: the same values, the same bits. The
 * scalar loop above reads the panel a float at a time, 48 floats apart: MobileNet-v2's
 * 160 -> 960 on 7 x 7 spent a third of its time there. */
#define TRANSPOSED_RUN 64

__attribute__((target("avx512f"))) static void store_transposed_avx512(const struct nnp_gemm *g,
                                                                        int64_t m0, int64_t m1,
                                                                        int64_t j0, int64_t nc,
                                                                        const float *panel)
{
    const struct conv_state *s = g->pack_ctx;
    float run[16][TRANSPOSED_RUN] __attribute__((aligned(32)));
    for (int64_t jc = 0; jc < nc; jc += 16) {
        int cols = (int)(nc - jc < 16 ? nc - jc : 16);
        __mmask16 cm = (__mmask16)(cols == 16 ? 0xffff : (1u << cols) - 1);
        for (int64_t p0 = m0; p0 < m1; p0 += TRANSPOSED_RUN) {
            int64_t len = m1 - p0 < TRANSPOSED_RUN ? m1 - p0 : TRANSPOSED_RUN;
            for (int64_t r0 = 0; r0 < len; r0 += 8) {
                __m256 lo[8], hi[8];
                for (int i = 0; i < 8; i++) { /* rows past the block read its last one */
                    int64_t r = p0 + r0 + i < m1 ? p0 + r0 + i : m1 - 1;
                    __m512 v = _mm512_maskz_loadu_ps(cm, panel + (r - m0) * NNP_GEMM_NR + jc);
                    lo[i] = _mm512_castps512_ps256(v);
                    hi[i] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
                }
                for (int h = 0; h < 2; h++) {
                    __m256 *q = h ? hi : lo, t[8], u[8];
                    for (int i = 0; i < 8; i += 2) {
                        t[i] = _mm256_unpacklo_ps(q[i], q[i + 1]);
                        t[i + 1] = _mm256_unpackhi_ps(q[i], q[i + 1]);
                    }
                    for (int i = 0; i < 8; i += 4) {
                        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
                        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
                    }
                    for (int c = 0; c < 4; c++) { /* column c and c + 4 of this half */
                        _mm256_store_ps(&run[8 * h + c][r0], _mm256_permute2f128_ps(u[c], u[c + 4], 0x20));
                        _mm256_store_ps(&run[8 * h + c + 4][r0],
                                        _mm256_permute2f128_ps(u[c], u[c + 4], 0x31));
                    }
                }
            }
            for (int c = 0; c < cols; c++) {
                int64_t at = (j0 + jc + c) * s->oprod + p0; /* channel j0 + jc + c, position p0 */
                nnp_gemm_finish_row(&g->epi.act, run[c], g->epi.res ? g->epi.res + at : NULL,
                                    g->c + at, len);
            }
        }
    }
}

/* The same for any number of spatial axes, position by position. */
static void pack_nd(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                    float *dst)
{
    const struct conv_state *s = g->pack_ctx;
    const struct nnp_window *w = &s->w;
    int ns = w->n_sp;
    for (int64_t r = 0; r < kc; r++) {
        int64_t k = k0 + r, c = k / s->kprod, kr = k % s->kprod;
        int64_t off[NNP_WINDOW_MAX]; /* input position of output 0 for this tap, per axis */
        for (int i = ns - 1; i >= 0; i--) {
            off[i] = (kr % w->kernel[i]) * w->dil[i] - w->pad_begin[i];
            kr /= w->kernel[i];
        }
        const float *xc = g->pack_src + c * s->iprod;
        float *row = dst + r * NNP_GEMM_NR;
        for (int64_t j = 0; j < nc; j++) {
            int64_t p = j0 + j, lin = 0;
            bool inside = true;
            int64_t o[NNP_WINDOW_MAX]; /* the output position of column p */
            for (int i = ns - 1; i >= 0; i--) {
                o[i] = p % w->out[i];
                p /= w->out[i];
            }
            for (int i = 0; i < ns; i++) {
                int64_t pos = off[i] + o[i] * w->stride[i];
                inside &= pos >= 0 && pos < w->in[i];
                lin = lin * w->in[i] + pos;
            }
            row[j] = inside ? xc[lin] : 0.0f;
        }
    }
}

/* Depthwise planes below this many multiply-adds in all stay on one thread: waking the
 * other costs a few microseconds. */
#define DW_PAR_MIN_MACS (1 << 17)

/* What one run of a Conv reads and writes, for the per-product callbacks. */
struct conv_run {
    const struct conv_state *s;
    const float *x, *w, *bias; /* (N, C, in...), (M, C/group, k...), (M) or NULL */
    const float *xpad;         /* COL_SHIFT: every image's phase planes, or with unit_xpad
                                  those of the product at hand only */
    bool unit_xpad;
    uint8_t *own;              /* own_planes: thread t's phase planes at own + t * own_stride, */
    size_t own_stride;         /* made the first time it takes a block: when ready[t] is 0 */
    uint8_t *ready;
    const float *colt;         /* COL_T: the product's A for the image and group at hand */
    const float *mul, *add;    /* a fused BatchNormalization, per output channel, or NULL */
    const float *res;          /* a fused Add's other input, like y, or NULL */
    const struct nnp_act *act;
    float *y; /* (N, M, out...) */
};

static void phase_task(void *ctx, int64_t begin, int64_t end, int tid);
static void phase_task_avx512(void *ctx, int64_t begin, int64_t end, int tid);

/* Product u = image u / group, group u % group, for thread tid. */
static void conv_unit(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    const struct conv_run *r = ctx;
    const struct conv_state *s = r->s;
    int64_t b = u / s->group, gi = u % s->group;
    const float *xg = r->x + (b * s->c_in + gi * s->cg_in) * s->iprod;
    int64_t yo = (b * s->c_out + gi * s->cg_out) * s->oprod;
    bool shift = s->col == COL_SHIFT;
    int64_t xpad_at = r->unit_xpad ? 0
                                   : (b * s->c_in + gi * s->cg_in) * s->hq * s->wq *
                                         s->w2d.stride[0] * s->w2d.stride[1];
    struct conv_run own;
    if (r->own) { /* this thread's own planes, made before its first block */
        float *planes = (float *)(r->own + (size_t)tid * r->own_stride);
        if (!r->ready[tid]) {
            struct pad_job pj = {s, xg, planes};
            (s->isa == NNP_ISA_AVX512 ? phase_task_avx512 : phase_task)(&pj, 0, s->cg_in, tid);
            r->ready[tid] = 1;
        }
        own = *r;
        own.xpad = planes;
        r = &own;
    }
    if (s->col == COL_T) { /* Y_g^T (P, Mg) = col^T (P, K) . W_g^T (K, Mg) */
        *g = (struct nnp_gemm){
            .m = s->oprod,
            .n = s->cg_out,
            .k = s->kdim,
            .a = r->colt,
            .lda = s->kdim,
            .a_packed = true,
            .b = s->wp + (size_t)gi * s->wp_group,
            .ldb = s->cg_out,
            .b_packed = true,
            .pack_ctx = s,
            .c = r->y + yo,
            .ldc = s->oprod,
            .store_c = s->isa == NNP_ISA_AVX512 ? store_transposed_avx512 : store_transposed,
            .epi = {.scale = 1.0f,
                    .bias_n = r->bias ? r->bias + gi * s->cg_out : NULL,
                    .mul_n = r->mul ? r->mul + gi * s->cg_out : NULL,
                    .add_n = r->mul ? r->add + gi * s->cg_out : NULL,
                    .res = r->res ? r->res + yo : NULL,
                    .ldr = s->oprod,
                    .act = *r->act},
        };
        return;
    }
    *g = (struct nnp_gemm){
        .m = s->cg_out,
        .n = shift ? s->shift_cols : s->oprod,
        .k = s->kdim,
        .a = s->wp ? s->wp + (size_t)gi * s->wp_group : r->w + gi * s->cg_out * s->kdim,
        .lda = s->kdim,
        .a_packed = s->wp != NULL,
        .b = shift && s->wp ? r->xpad + xpad_at : xg,
        .ldb = s->iprod,
        .b_rows = (shift && s->wp) || s->col == COL_MASK ? s->shift_rows : NULL,
        .b_mask = s->col == COL_MASK || s->masked ? s->mask : NULL,
        .b_run = s->mask_block,
        .pack_b = shift && !s->wp
                      ? (s->isa == NNP_ISA_AVX512 ? pack_shift_avx512 : pack_shift)
                  : s->col == COL_2D ? (s->isa == NNP_ISA_AVX512 ? pack_2d_avx512 : pack_2d)
                  : s->col == COL_ND ? pack_nd
                                     : NULL,
        .pack_ctx = s,
        .pack_src = shift ? r->xpad + xpad_at : xg,
        .c = r->y + yo,
        .ldc = s->oprod,
        .store_c = shift && !s->masked ? store_shift : NULL,
        .epi = {.scale = 1.0f,
                .bias_m = r->bias ? r->bias + gi * s->cg_out : NULL,
                .mul_m = r->mul ? r->mul + gi * s->cg_out : NULL,
                .add_m = r->mul ? r->add + gi * s->cg_out : NULL,
                .res = r->res ? r->res + yo : NULL,
                .ldr = s->oprod,
                .act = *r->act},
    };
}

/* COL_T runs one image and group at a time (its col^T in scratch): product u of them */
struct conv_one {
    const struct conv_run *r;
    int64_t u;
};

static void conv_unit_one(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    const struct conv_one *o = ctx;
    (void)u;
    conv_unit(o->r, o->u, tid, g);
}

/* COL_T with several images (or groups) and threads: units [begin, end) on one thread,
 * each padded, gathered and multiplied in the thread's own part of the scratch (the
 * product of one image is small: splitting it costs three hand-offs per image). */
struct colt_units {
    const struct conv_run *r;
    uint8_t *scratch;
    size_t per_thread; /* pad_bytes + slice_bytes */
    void (*gather)(void *, int64_t, int64_t, int);
};

/* COL_T without pads (1x1 kernels, mostly): the input planes are the padded planes */
static bool unpadded(const struct conv_state *s)
{
    return s->hp == s->w2d.in[0] && s->wpad == s->w2d.in[1];
}

static void colt_units_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct colt_units *cu = ctx;
    const struct conv_state *s = cu->r->s;
    uint8_t *base = cu->scratch + (size_t)tid * cu->per_thread;
    struct conv_run r = *cu->r;
    float *colt = (float *)base, *xpad = (float *)(base + s->colt_bytes);
    r.colt = colt;
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / s->group, gi = u % s->group;
        const float *xg = r.x + (b * s->c_in + gi * s->cg_in) * s->iprod;
        struct pad_job pj = {s, xg, xpad};
        if (!unpadded(s))
            (s->isa == NNP_ISA_AVX512 ? pad_task_avx512 : pad_task)(&pj, 0, s->cg_in, tid);
        struct colt_job cj = {s, unpadded(s) ? xg : xpad, colt};
        cu->gather(&cj, 0, (s->oprod + NNP_GEMM_MR - 1) / NNP_GEMM_MR, tid);
        struct nnp_gemm g;
        conv_unit(&r, u, tid, &g);
        nnp_gemm_block(&g, 0, g.m, 0, g.n, base + s->pad_bytes);
    }
}

/* COL_SHIFT with several images (or groups): units [begin, end) on one thread, each
 * split into its phase planes in the thread's part of the scratch and multiplied at
 * once, while the planes are in L2 (all the images' planes at batch 8 are not). */
struct shift_units {
    const struct conv_run *r;
    uint8_t *scratch;
    size_t per_thread; /* unit_bytes + slice_bytes */
};

static void shift_units_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct shift_units *su = ctx;
    const struct conv_state *s = su->r->s;
    uint8_t *base = su->scratch + (size_t)tid * su->per_thread;
    struct conv_run r = *su->r;
    r.xpad = (const float *)base;
    r.unit_xpad = true;
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / s->group, gi = u % s->group;
        struct pad_job pj = {s, r.x + (b * s->c_in + gi * s->cg_in) * s->iprod, (float *)base};
        (s->isa == NNP_ISA_AVX512 ? phase_task_avx512 : phase_task)(&pj, 0, s->cg_in, tid);
        struct nnp_gemm g;
        conv_unit(&r, u, tid, &g);
        nnp_gemm_block(&g, 0, g.m, 0, g.n, base + s->unit_bytes);
    }
}

/* A fused BatchNormalization after a depthwise kernel, which has no place for it:
 * planes [c0, c0 + nch) of image b, while in cache, y = act(y * a + b + res), rounded
 * step by step as the unfused nodes do. */
static void affine_planes(const struct conv_run *r, int64_t b, int64_t c0, int64_t nch)
{
    const struct conv_state *s = r->s;
    for (int64_t c = c0; c < c0 + nch; c++) {
        int64_t yo = (b * s->c_out + c) * s->oprod;
        float *y = r->y + yo, a = r->mul[c], sh = r->add[c];
        for (int64_t i = 0; i < s->oprod; i++)
            y[i] = y[i] * a + sh;
        nnp_gemm_finish_row(r->act, y, r->res ? r->res + yo : NULL, y, s->oprod);
    }
}

/* depthwise, one input channel per output, small planes: blocks (image, 16 channels)
 * [begin, end) (conv_dw.h, nnp_conv_dw2d_channels) */
static void dw16_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_run *r = ctx;
    const struct conv_state *s = r->s;
    int64_t blocks = (s->c_out + 15) / 16;
    (void)tid;
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / blocks, c0 = u % blocks * 16;
        int nch = (int)(s->c_out - c0 < 16 ? s->c_out - c0 : 16);
        int64_t yo = (b * s->c_out + c0) * s->oprod;
        const struct nnp_act none = {NNP_ACT_NONE, 0, 0};
        nnp_conv_dw2d_channels(&s->w2d, r->x + (b * s->c_in + c0) * s->iprod,
                               r->w + c0 * s->kprod, r->bias ? r->bias + c0 : NULL,
                               r->res && !r->mul ? r->res + yo : NULL, r->mul ? &none : r->act,
                               r->y + yo, nch);
        if (r->mul)
            affine_planes(r, b, c0, nch);
    }
}

/* depthwise: output planes (image, output channel) [begin, end), each with its bias,
 * fused Add and activation (conv_dw.c) */
static void dw_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct conv_run *r = ctx;
    const struct conv_state *s = r->s;
    const struct nnp_act none = {NNP_ACT_NONE, 0, 0};
    (void)tid;
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / s->c_out, oc = u % s->c_out, gi = oc / s->cg_out;
        const float *xg = r->x + (b * s->c_in + gi) * s->iprod;
        int64_t yo = (b * s->c_out + oc) * s->oprod;
        const float *wo = r->w + oc * s->kprod, *ro = r->res && !r->mul ? r->res + yo : NULL;
        float bo = r->bias ? r->bias[oc] : 0.0f;
        if (s->dw_off)
            nnp_conv_dw2d_flat(&s->w2d, s->dw_masks, s->dw_off, xg, wo, bo, ro,
                               r->mul ? &none : r->act, r->y + yo);
        else
            nnp_conv_dw2d(s->isa, &s->w2d, xg, wo, bo, ro, r->mul ? &none : r->act, r->y + yo);
        if (r->mul)
            affine_planes(r, b, oc, 1);
    }
}

static enum nnp_status conv_forward(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    const struct nnp_rt_value *res = n->fusion.residual;
    struct conv_run r = {
        .s = s,
        .x = n->in[0]->data,
        .w = n->in[1]->data,
        .bias = s->has_bias ? n->in[2]->data : NULL,
        .mul = n->fusion.mul,
        .add = n->fusion.add,
        .res = res ? res->data : NULL,
        .act = &n->fusion.act,
        .y = n->out[0]->data,
    };
    int64_t units = s->batch * s->group;
    if (s->kernel == CONV_DEPTHWISE) {
        int64_t planes = s->batch * s->c_out;
        double macs = (double)planes * (double)s->oprod * (double)s->kprod;
        struct nnp_pool *pool = macs >= DW_PAR_MIN_MACS ? n->pool : NULL;
        if (!s->dw_off && s->cg_out == 1 && nnp_conv_dw2d_channels_fit(s->isa, &s->w2d))
            nnp_parallel_for(pool, s->batch * ((s->c_out + 15) / 16), dw16_task, &r);
        else
            nnp_parallel_for(pool, planes, dw_task, &r);
        return NNP_OK;
    }
    NNP_ASSERT(nnp_pool_threads(n->pool) <= (n->threads > 1 ? n->threads : 1));
    uint8_t *slices = (uint8_t *)n->scratch + s->pad_bytes;
    int64_t cols = s->oprod;
    if (s->col == COL_SHIFT && units >= 2) {
        struct shift_units su = {&r, n->scratch, s->unit_bytes + s->slice_bytes};
        nnp_parallel_for(n->pool, units, shift_units_task, &su);
        return NNP_OK;
    }
    if (s->col == COL_SHIFT && s->own_planes) {
        int threads = nnp_pool_threads(n->pool);
        size_t stride = s->unit_bytes + s->slice_bytes;
        r.own = n->scratch;
        r.own_stride = stride;
        r.ready = (uint8_t *)n->scratch + stride * (size_t)threads;
        memset(r.ready, 0, (size_t)threads);
        r.unit_xpad = true;
        nnp_gemm_units(n->pool, 1, s->cg_out, s->shift_cols, s->kdim, conv_unit, &r,
                       (uint8_t *)n->scratch + s->unit_bytes, stride);
        return NNP_OK;
    }
    if (s->col == COL_SHIFT) {
        struct pad_job pj = {s, r.x, n->scratch};
        int64_t planes = s->batch * s->c_in;
        nnp_parallel_for(planes * s->hp * s->wpad >= DW_PAR_MIN_MACS ? n->pool : NULL, planes,
                         s->isa == NNP_ISA_AVX512 ? phase_task_avx512 : phase_task, &pj);
        r.xpad = n->scratch;
        cols = s->shift_cols;
    }
    if (s->col == COL_T) { /* one product per image and group: col^T first */
        float *colt = n->scratch, *xpad = (float *)((uint8_t *)n->scratch + s->colt_bytes);
        int64_t panels = (s->oprod + NNP_GEMM_MR - 1) / NNP_GEMM_MR;
        double macs = (double)s->oprod * (double)s->cg_out * (double)s->kdim;
        struct nnp_pool *pool = macs >= nnp_gemm_par_min_macs() ? n->pool : NULL;
        void (*gather)(void *, int64_t, int64_t, int) = colt_task;
#if defined(__x86_64__)
        if (s->isa != NNP_ISA_SCALAR)
            gather = colt_task_avx2;
#endif
        if (units >= 2 && nnp_pool_threads(n->pool) > 1) {
            struct colt_units cu = {&r, n->scratch, s->pad_bytes + s->slice_bytes, gather};
            nnp_parallel_for(n->pool, units, colt_units_task, &cu);
            return NNP_OK;
        }
        for (int64_t u = 0; u < units; u++) {
            int64_t b = u / s->group, gi = u % s->group;
            const float *xg = r.x + (b * s->c_in + gi * s->cg_in) * s->iprod;
            struct pad_job pj = {s, xg, xpad};
            if (!unpadded(s))
                nnp_parallel_for(pool, s->cg_in,
                                 s->isa == NNP_ISA_AVX512 ? pad_task_avx512 : pad_task, &pj);
            struct colt_job cj = {s, unpadded(s) ? xg : xpad, colt};
            nnp_parallel_for(pool, panels, gather, &cj);
            r.colt = colt;
            struct conv_one one = {&r, u};
            nnp_gemm_units(n->pool, 1, s->oprod, s->cg_out, s->kdim, conv_unit_one, &one, slices,
                           s->slice_bytes);
        }
        return NNP_OK;
    }
    nnp_gemm_units(n->pool, units, s->cg_out, cols, s->kdim, conv_unit, &r, slices,
                   s->slice_bytes);
    return NNP_OK;
}

/* For the naive loops: output position p (row-major over w->out) and kernel tap k
 * (row-major over w->kernel) read input position *lin (row-major over w->in), or a pad
 * (false). */
static bool window_tap(const struct nnp_window *w, int64_t p, int64_t k, int64_t *lin)
{
    int64_t o[NNP_WINDOW_MAX], kk[NNP_WINDOW_MAX];
    for (int i = w->n_sp - 1; i >= 0; i--) {
        o[i] = p % w->out[i];
        p /= w->out[i];
        kk[i] = k % w->kernel[i];
        k /= w->kernel[i];
    }
    bool inside = true;
    *lin = 0;
    for (int i = 0; i < w->n_sp; i++) {
        int64_t pos = o[i] * w->stride[i] + kk[i] * w->dil[i] - w->pad_begin[i];
        inside &= pos >= 0 && pos < w->in[i];
        *lin = *lin * w->in[i] + pos;
    }
    return inside;
}

static enum nnp_status conv_reference(struct nnp_exec_node *n)
{
    const struct conv_state *s = n->state;
    const struct nnp_window *w = &s->w;
    const float *x = n->in[0]->data, *wt = n->in[1]->data;
    const float *bias = s->has_bias ? n->in[2]->data : NULL;
    float *y = n->out[0]->data;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t m = 0; m < s->c_out; m++) {
            int64_t g = m / s->cg_out;
            for (int64_t p = 0; p < s->oprod; p++) {
                double acc = bias ? bias[m] : 0.0;
                for (int64_t c = 0; c < s->cg_in; c++)
                    for (int64_t k = 0; k < s->kprod; k++) {
                        int64_t lin;
                        if (!window_tap(w, p, k, &lin))
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
    .flags = NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD | NNP_OP_FUSE_AFFINE,
};

/* ------------------------------------------------ ConvInteger, QLinearConv */

/* Conv over uint8 / int8 input and weights, summed in int32 (wrapping as int32 does):
 *   ConvInteger  y (int32) = conv(x - x_zero_point, w - w_zero_point)
 *   QLinearConv  y = saturate(round((that + B) * (x_scale * w_scale / y_scale))
 *                + y_zero_point)
 * The pads are zeros after the zero point is taken off (they add nothing). x's
 * parameters are one value, w's one or one per output channel, y's one; B is int32,
 * one per output channel. The direct loops here are the reference; the integer GEMM
 * path below (qconv_state.fast) is the forward where it applies. A QLinearConv the
 * planner makes from a QDQ Conv may have no y_scale: then its result is float32,
 * dequantized (x_scale * w_scale), with a fused BatchNormalization, Add and activation. */
struct qconv_state {
    struct conv_state c;
    enum nnp_dtype ty;
    bool qlinear;
    /* The integer GEMM (qgemm.h), for a QLinearConv of constant int8 weights with zero
     * points 0 and constant parameters, up to 2-D, not depthwise: Y_g = requant(W_g .
     * col_g) with col_g never made. The group's input is laid out once per run "blocked":
     * 4 channels to a 32-bit lane (what vpdpbusd multiplies by 4 weights at once), padded
     * with its zero point, split into stride x stride phase planes (as COL_SHIFT does for
     * float), int8 flipped to uint8 + 128; then every kernel tap of every 4 channels is
     * one offset into it (koff), and the product reads B there in place, over the phase
     * planes' width wq: columns past OW in each row are computed and dropped (scatter).
     * The weights are reordered to match: k = ((c/4 * kh + ky) * kw + kx) * 4 + c%4. */
    bool fast;
    bool per_unit;     /* a task per (image, group), each blocking its own input (many
                          units: batches, groups); else the units in turn, each split
                          over the threads by panels of 48 columns and blocks of rows */
    bool scatter;      /* wq != OW: C goes through a panel, its valid columns copied out */
    uint8_t *wp;       /* reordered, packed weights, wp_group bytes per group */
    size_t wp_group;
    int64_t kq;        /* the reordered k: c4n x kernel x 4 */
    bool taps4;        /* one input channel at stride 1 along x (a first layer): the lanes
                          hold 4 consecutive columns of the padded input instead of 4
                          channels, k = (ky * G + kx / 4) * 4 + kx % 4, G = kw / 4 rounded
                          up (c4n = G): LeNet's 5x5 takes 40 k, not 100 */
    int32_t *koff;     /* (kq / 4) each group of 4 k's first lane in the blocked input */
    bool amx;          /* AMX (qgemm.h, A in rows): k = ((t * c4p + c / 4) * 4 + c % 4, the
                          channels' groups of each tap t padded with zero weights to c4p, a
                          multiple of 16, so that every 16 groups are one tap's channels,
                          a tile of B in place (b_tile: lanes `plane` apart); kq is then
                          taps x c4p x 4, and koff unused */
    int64_t c4p, plane;
    int32_t *amx_tile; /* (kq / 64) each tile's first lane in the blocked input */
    int64_t c4n, phases, hq, wq, hpad, wpad; /* blocked input: c4n x phases planes hq x wq */
    int64_t ncols;     /* the product's columns: (OH - 1) * wq + OW */
    size_t xb_bytes;   /* the blocked input of one unit, with the lanes tiles read past it */
    size_t rows_bytes; /* per thread: 4 padded input rows and (stride 2) their 8 halves,
                          then a C panel (scatter) */
    int32_t *off;      /* (M) bias - (zero point as uint8) x sum of the channel's weights */
    float *mul;        /* (M) x_scale * w_scale / y_scale (x_scale * w_scale: float out) */
    uint8_t flip, pad; /* 0x80 for int8 input; the input's zero point as stored */
    enum nnp_qisa qisa;
    /* Depthwise (one input channel per group) in float, a plane at a time: the plane
     * dequantized, the float kernel of conv_dw.c with the weights and bias dequantized
     * once, the result quantized (or, float out, stored) while in cache. As fast as the
     * float layer, without its separate passes over memory for DequantizeLinear and
     * QuantizeLinear. */
    bool dw, dw16; /* dw16: 16 channels at a time (nnp_conv_dw2d_channels) */
    float *wf, *bf; /* (M x kernel), (M): w * w_scale, B * x_scale * w_scale */
    /* or, int8 out, in integers (qdw.h): the sums exact, requantized as the GEMM's are;
     * off and mul as above, the weights as quads (dwq_words per channel) */
    bool qdw;
    int32_t *dwq;
    size_t dwq_words;
    struct nnp_qdw_geom *geom;
};

/* inputs: x, w, their zero points, the scales and y's zero point (QLinearConv), B */
enum { QC_X, QC_W, QC_XZ, QC_WZ, QC_XS, QC_WS, QC_YS, QC_YZ, QC_B, QC_SLOTS };
static const int qc_slot[2][QC_SLOTS] = {
    {0, 1, 2, 3, -1, -1, -1, -1, -1}, /* ConvInteger */
    {0, 3, 2, 5, 1, 4, 6, 7, 8},      /* QLinearConv */
};

static const struct nnp_rt_value *qc_in(const struct nnp_exec_node *n, bool qlinear, int what)
{
    int k = qc_slot[qlinear][what];
    return k >= 0 && k < n->n_in ? n->in[k] : NULL;
}

/* one value, or (per output channel) `count` */
static enum nnp_status qc_param(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                const char *what, enum nnp_dtype t, int64_t count)
{
    if (!v)
        return NNP_OK;
    NNP_OP_CHECK(n, v->dtype == t, "%s is %s, expected %s", what, nnp_dtype_name(v->dtype),
                 nnp_dtype_name(t));
    NNP_OP_CHECK(n, v->numel == 1 || v->numel == count,
                 "%s has %" PRId64 " values: expected 1%s", what, v->numel,
                 count > 1 ? " or one per output channel" : "");
    return NNP_OK;
}

static int32_t qc_zp(const struct nnp_rt_value *v, int64_t i);
static float qc_scale(const struct nnp_rt_value *v, int64_t i);

/* every parameter known at plan time, the weights int8 with zero points 0 */
static bool qconv_fast_fits(const struct nnp_exec_node *n, const struct conv_state *s)
{
    const struct nnp_rt_value *x = qc_in(n, true, QC_X), *w = qc_in(n, true, QC_W);
    const struct nnp_rt_value *wz = qc_in(n, true, QC_WZ), *b = qc_in(n, true, QC_B);
    if (x->rank > 4 || w->dtype != NNP_DTYPE_I8 || !w->is_const || !w->data || s->kdim < 1 ||
        s->oprod < 1 || s->kdim > (1 << 16) || (b && (!b->is_const || !b->data)))
        return false;
    for (int k = QC_XZ; k <= QC_YZ; k++) {
        const struct nnp_rt_value *v = qc_in(n, true, k);
        if (v && (!v->is_const || !v->data))
            return false;
        if (!v && k != QC_XZ && k != QC_WZ && k != QC_YZ && k != QC_YS)
            return false;
    }
    for (int64_t m = 0; wz && m < wz->numel; m++)
        if (qc_zp(wz, m) != 0)
            return false;
    return true;
}

/* Depthwise, int8 out, in integers (qconv_state.qdw): the weights as quads, each
 * channel's offset and multiplier. */
static enum nnp_status qconv_qdw_prepare(struct nnp_exec_node *n, struct qconv_state *q,
                                         struct nnp_arena *arena)
{
    struct conv_state *s = &q->c;
    const struct nnp_rt_value *x = qc_in(n, true, QC_X), *w = qc_in(n, true, QC_W);
    const struct nnp_rt_value *b = qc_in(n, true, QC_B);
    q->dwq_words = nnp_qdw_weight_words(&s->w2d);
    q->dwq = nnp_arena_alloc_big(arena, q->dwq_words * (size_t)s->c_out * sizeof *q->dwq);
    q->off = nnp_arena_alloc_big(arena, (size_t)s->c_out * sizeof *q->off);
    q->mul = nnp_arena_alloc_big(arena, (size_t)s->c_out * sizeof *q->mul);
    q->geom = nnp_arena_alloc_big(arena, nnp_qdw_geom_bytes(&s->w2d));
    if (!q->dwq || !q->off || !q->mul || !q->geom)
        return nnp_op_error(n, "no memory for the depthwise weights");
    nnp_qdw_geom_make(&s->w2d, q->geom);
    q->flip = x->dtype == NNP_DTYPE_I8 ? 0x80 : 0;
    q->pad = (uint8_t)((uint8_t)qc_zp(qc_in(n, true, QC_XZ), 0) ^ q->flip);
    float xs = qc_scale(qc_in(n, true, QC_XS), 0), ys = qc_scale(qc_in(n, true, QC_YS), 0);
    const int8_t *wd = w->data;
    for (int64_t m = 0; m < s->c_out; m++) {
        nnp_qdw_weights(&s->w2d, wd + m * s->kprod, q->dwq + (size_t)m * q->dwq_words);
        uint32_t sum = 0;
        for (int64_t t = 0; t < s->kprod; t++)
            sum += (uint32_t)(int32_t)wd[m * s->kprod + t];
        uint32_t bias = b ? (uint32_t)((const int32_t *)b->data)[m] : 0;
        q->off[m] = (int32_t)(bias - (uint32_t)q->pad * sum);
        q->mul[m] = xs * qc_scale(qc_in(n, true, QC_WS), m) / ys; /* as qconv_reference */
    }
    n->packed_bytes = (size_t)s->c_out * (q->dwq_words * sizeof *q->dwq + sizeof *q->off +
                                          sizeof *q->mul);
    q->qdw = q->dw = q->fast = true;
    return NNP_OK;
}

/* Depthwise (qconv_state.dw): the float weights and bias, the float kernel's plan. */
static enum nnp_status qconv_dw_prepare(struct nnp_exec_node *n, struct qconv_state *q,
                                        struct nnp_arena *arena)
{
    struct conv_state *s = &q->c;
    if (q->ty != NNP_DTYPE_F32 && nnp_qdw_fit(&s->w2d))
        return qconv_qdw_prepare(n, q, arena);
    const struct nnp_rt_value *w = qc_in(n, true, QC_W), *b = qc_in(n, true, QC_B);
    q->wf = nnp_arena_alloc_big(arena, (size_t)(s->c_out * s->kprod) * sizeof(float));
    q->bf = nnp_arena_alloc_big(arena, (size_t)s->c_out * sizeof(float));
    if (!q->wf || !q->bf)
        return nnp_op_error(n, "no memory for the dequantized weights");
    float xs = qc_scale(qc_in(n, true, QC_XS), 0);
    for (int64_t m = 0; m < s->c_out; m++) {
        float ws = qc_scale(qc_in(n, true, QC_WS), m);
        for (int64_t t = 0; t < s->kprod; t++) /* as DequantizeLinear (zero point 0) */
            q->wf[m * s->kprod + t] = (float)((const int8_t *)w->data)[m * s->kprod + t] * ws;
        q->bf[m] = b ? (float)((const int32_t *)b->data)[m] * (xs * ws) : 0.0f;
    }
    if (nnp_conv_dw2d_flat_fit(s->isa, &s->w2d)) {
        s->dw_masks = nnp_arena_alloc(arena, nnp_conv_dw2d_flat_masks(&s->w2d) * sizeof(uint16_t));
        s->dw_off = nnp_arena_alloc(arena, (size_t)s->kprod * sizeof(int64_t));
        nnp_conv_dw2d_flat_plan(&s->w2d, s->dw_masks, s->dw_off);
    }
    n->packed_bytes = (size_t)(s->c_out * (s->kprod + 1)) * sizeof(float);
    int threads = n->threads > 0 ? n->threads : 1;
    /* small planes 16 channels at a time, as the float layer does them */
    q->dw16 = s->cg_out == 1 && nnp_conv_dw2d_channels_fit(s->isa, &s->w2d) &&
               (!s->dw_off || s->oprod <= 64); /* (tiny planes: the calls per plane cost) */
    size_t slice = (16 * (size_t)(s->iprod + s->oprod) * sizeof(float) + 63) / 64 * 64;
    n->scratch_bytes = (size_t)threads * slice;
    q->dw = q->fast = true;
    return NNP_OK;
}

/* The integer GEMM path (qconv_state): geometry, weights reordered and packed, each
 * channel's offset and multiplier, made once. */
#define QCONV_ROWS 64 /* rows of a task when one unit is split over the threads */
#define QROW_SLACK 64 /* bytes past a padded input row (the interleave reads 16 at a time) */

static enum nnp_status qconv_fast_prepare(struct nnp_exec_node *n, struct qconv_state *q,
                                          struct nnp_arena *arena)
{
    struct conv_state *s = &q->c;
    if (!qconv_fast_fits(n, s))
        return NNP_OK;
    if (s->cg_in == 1 && s->group > 1)
        return qconv_dw_prepare(n, q, arena);
    const struct nnp_rt_value *x = qc_in(n, true, QC_X), *w = qc_in(n, true, QC_W);
    const struct nnp_rt_value *b = qc_in(n, true, QC_B);
    const struct nnp_window *w2 = &s->w2d;
    int64_t kh = w2->kernel[0], kw = w2->kernel[1], sh = w2->stride[0], sw = w2->stride[1];
    q->taps4 = s->cg_in == 1 && sw == 1 && w2->dil[1] == 1 && kw >= 2;
    if (!q->taps4 && s->cg_in <= 2) /* lanes mostly padding: the float layer is faster */
        return NNP_OK;
    q->c4n = q->taps4 ? (kw + 3) / 4 : (s->cg_in + 3) / 4;
    q->phases = sh * sw;
    q->hpad = w2->in[0] + w2->pad_begin[0] + w2->pad_end[0];
    q->wpad = w2->in[1] + w2->pad_begin[1] + w2->pad_end[1];
    q->hq = (q->hpad + sh - 1) / sh;
    q->wq = (q->wpad + sw - 1) / sw;
    q->ncols = (w2->out[0] - 1) * q->wq + w2->out[1];
    q->scatter = q->wq != w2->out[1];
    int64_t taps = kh * kw, k4 = q->taps4 ? kh * q->c4n : q->c4n * taps;
    int64_t lanes = (q->taps4 ? 1 : q->c4n) * q->phases * q->hq * q->wq;
    q->kq = k4 * 4;
    if (lanes > INT32_MAX / 2 || q->kq > (1 << 16))
        return NNP_OK;
    q->qisa = nnp_qisa_best();
    /* AMX when the channels' padding to 16 groups costs at most half as much again */
    q->c4p = (q->c4n + 15) / 16 * 16;
    q->plane = q->phases * q->hq * q->wq;
    q->amx = q->qisa == NNP_QISA_AMX && !q->taps4 && 2 * q->c4p <= 3 * q->c4n;
    if (q->amx)
        q->kq = taps * q->c4p * 4;
    q->koff = nnp_arena_alloc_big(arena, (size_t)k4 * sizeof *q->koff);
    q->amx_tile = q->amx ? nnp_arena_alloc_big(arena, (size_t)(q->kq / 64) * sizeof(int32_t)) : NULL;
    if (q->amx && !q->amx_tile)
        return nnp_op_error(n, "no memory for the tiles' offsets");
    q->wp_group = q->amx ? nnp_qgemm_a_rows_bytes(s->cg_out, q->kq)
                         : nnp_qgemm_a_bytes(s->cg_out, q->kq);
    size_t wbytes = q->wp_group * (size_t)s->group;
    q->wp = nnp_arena_alloc_big(arena, wbytes);
    q->off = nnp_arena_alloc_big(arena, (size_t)s->c_out * sizeof *q->off);
    q->mul = nnp_arena_alloc_big(arena, (size_t)s->c_out * sizeof *q->mul);
    if (!q->wp || !q->off || !q->mul || !q->koff)
        return nnp_op_error(n, "no memory for the packed weights (%zu bytes)", wbytes);
    int8_t *wr = malloc((size_t)(s->cg_out * q->kq)); /* a group reordered, then packed */
    if (!wr)
        return nnp_op_error(n, "no memory to reorder the weights");
    int64_t max_koff = 0;
    for (int64_t ky = 0; q->taps4 && ky < kh; ky++) /* taps4: one plane (or sh phases) */
        for (int64_t g = 0; g < q->c4n; g++) {
            int64_t dy = ky * w2->dil[0];
            int64_t o = ((dy % sh) * q->hq + dy / sh) * q->wq + 4 * g;
            q->koff[ky * q->c4n + g] = (int32_t)o;
            max_koff = o > max_koff ? o : max_koff;
        }
    for (int64_t c4 = 0; !q->taps4 && c4 < q->c4n; c4++)
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
                int64_t dy = ky * w2->dil[0], dx = kx * w2->dil[1];
                int64_t ph = (dy % sh) * sw + dx % sw;
                int64_t o = ((c4 * q->phases + ph) * q->hq + dy / sh) * q->wq + dx / sw;
                q->koff[(c4 * kh + ky) * kw + kx] = (int32_t)o;
                max_koff = o > max_koff ? o : max_koff;
            }
    for (int64_t st = 0; q->amx && st < q->kq / 64; st++) { /* tap t, channel groups c4.. */
        int64_t t = st / (q->c4p / 16), c4 = st % (q->c4p / 16) * 16;
        int64_t o = q->koff[t] + c4 * q->plane; /* (koff of channel group 0, tap t) */
        q->amx_tile[st] = (int32_t)o;
        o += 15 * q->plane; /* the tile's last row (past c4n: junk, times zero weights) */
        max_koff = o > max_koff ? o : max_koff;
    }
    int64_t read = max_koff + (q->ncols + NNP_QGEMM_NR - 1) / NNP_QGEMM_NR * NNP_QGEMM_NR;
    q->xb_bytes = (size_t)((read > lanes ? read : lanes) + 16) * 4;
    const int8_t *wd = w->data;
    for (int64_t g = 0; g < s->group; g++) {
        memset(wr, 0, (size_t)(s->cg_out * q->kq));
        for (int64_t m = 0; m < s->cg_out; m++)
            for (int64_t c = 0; c < s->cg_in; c++)
                for (int64_t t = 0; t < taps; t++) {
                    int64_t ky = t / kw, kx = t % kw;
                    int64_t k = q->taps4 ? (ky * q->c4n + kx / 4) * 4 + kx % 4
                                : q->amx ? (t * q->c4p + c / 4) * 4 + c % 4
                                         : ((c / 4) * taps + t) * 4 + c % 4;
                    wr[m * q->kq + k] = wd[((g * s->cg_out + m) * s->cg_in + c) * taps + t];
                }
        if (q->amx)
            nnp_qgemm_pack_a_rows((const uint8_t *)wr, q->kq, s->cg_out, q->kq, 0,
                                  q->wp + (size_t)g * q->wp_group);
        else
            nnp_qgemm_pack_a((const uint8_t *)wr, q->kq, 1, s->cg_out, q->kq, 0,
                             q->wp + (size_t)g * q->wp_group);
    }
    free(wr);
    int32_t xz = qc_zp(qc_in(n, true, QC_XZ), 0);
    q->flip = x->dtype == NNP_DTYPE_I8 ? 0x80 : 0;
    q->pad = (uint8_t)xz;
    uint32_t zu = (uint32_t)(uint8_t)(q->pad ^ q->flip);
    float xs = qc_scale(qc_in(n, true, QC_XS), 0);
    float ys = q->ty == NNP_DTYPE_F32 ? 1.0f : qc_scale(qc_in(n, true, QC_YS), 0);
    for (int64_t m = 0; m < s->c_out; m++) {
        uint32_t sum = 0;
        for (int64_t p = 0; p < s->kdim; p++)
            sum += (uint32_t)(int32_t)wd[m * s->kdim + p];
        uint32_t bias = b ? (uint32_t)((const int32_t *)b->data)[m] : 0;
        q->off[m] = (int32_t)(bias - zu * sum);
        /* the multiplier as qconv_reference has it */
        q->mul[m] = q->ty == NNP_DTYPE_F32 ? xs * qc_scale(qc_in(n, true, QC_WS), m)
                                            : xs * qc_scale(qc_in(n, true, QC_WS), m) / ys;
    }
    n->packed_bytes = wbytes + (size_t)s->c_out * (sizeof *q->off + sizeof *q->mul) +
                      (size_t)k4 * sizeof *q->koff;
    int threads = n->threads > 0 ? n->threads : 1;
    int64_t units = s->batch * s->group;
    q->per_unit = units >= 2 * threads && units > 1;
    size_t panel = q->scatter ? (size_t)QCONV_ROWS * NNP_QGEMM_NR * sizeof(float) : 0;
    if (q->per_unit && q->scatter)
        panel = (size_t)s->cg_out * NNP_QGEMM_NR * sizeof(float);
    q->rows_bytes = ((size_t)8 * (size_t)(q->wpad + QROW_SLACK) + panel + 63) / 64 * 64;
    size_t slice = q->rows_bytes + (q->per_unit ? (q->xb_bytes + 63) / 64 * 64 : 0);
    n->scratch_bytes = (q->per_unit ? 0 : (q->xb_bytes + 63) / 64 * 64) + (size_t)threads * slice;
    q->fast = true;
    return NNP_OK;
}

static enum nnp_status qconv_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    bool ql = strcmp(n->op->name, "QLinearConv") == 0;
    const struct nnp_rt_value *x = qc_in(n, ql, QC_X), *w = qc_in(n, ql, QC_W);
    struct qconv_state *q = nnp_arena_alloc(arena, sizeof *q);
    struct conv_state *s = &q->c;
    enum nnp_status st = conv_common(n, s, false, x, w, qc_in(n, ql, QC_B));
    if (st)
        return st;
    int n_sp = x->rank - 2;
    if ((st = conv_window(n, s, x, w)))
        return st;
    NNP_OP_CHECK(n, !__builtin_mul_overflow(s->cg_in, s->kprod, &s->kdim),
                 "the layer is too large");
    q->qlinear = ql;
    q->ty = NNP_DTYPE_I32;
    if ((st = qc_param(n, qc_in(n, ql, QC_XZ), "x_zero_point", x->dtype, 1)) ||
        (st = qc_param(n, qc_in(n, ql, QC_WZ), "w_zero_point", w->dtype, s->c_out)))
        return st;
    /* the planner's form of a QDQ Conv whose result is not quantized again: no y_scale,
     * the result dequantized (x_scale * w_scale), in float32 (runtime.c, plan_qdq) */
    bool planned = ql && strcmp(n->node->op_type, "QLinearConv") != 0;
    if (planned && !qc_in(n, ql, QC_YS)) {
        q->ty = NNP_DTYPE_F32;
        if ((st = qc_param(n, qc_in(n, ql, QC_XS), "x_scale", NNP_DTYPE_F32, 1)) ||
            (st = qc_param(n, qc_in(n, ql, QC_WS), "w_scale", NNP_DTYPE_F32, s->c_out)))
            return st;
    } else if (ql) {
        q->ty = qc_in(n, ql, QC_YZ) ? qc_in(n, ql, QC_YZ)->dtype : NNP_DTYPE_U8;
        if (!nnp_q_8bit(q->ty))
            return nnp_op_unsupported(n, "QLinearConv to %s: only uint8 and int8 are supported",
                                      nnp_dtype_name(q->ty));
        if ((st = qc_param(n, qc_in(n, ql, QC_XS), "x_scale", NNP_DTYPE_F32, 1)) ||
            (st = qc_param(n, qc_in(n, ql, QC_WS), "w_scale", NNP_DTYPE_F32, s->c_out)) ||
            (st = qc_param(n, qc_in(n, ql, QC_YS), "y_scale", NNP_DTYPE_F32, 1)) ||
            (st = qc_param(n, qc_in(n, ql, QC_YZ), "y_zero_point", q->ty, 1)))
            return st;
    }
    n->state = q;
    n->flops = 2.0 * (double)s->batch * (double)s->c_out * (double)s->oprod * (double)s->kdim;
    n->work = nnp_work_prod(5, (int64_t[]){s->batch, s->c_out, s->oprod, s->cg_in, s->kprod});
    int64_t od[NNP_MAX_RANK] = {s->batch, s->c_out};
    memcpy(od + 2, s->w.out, sizeof(int64_t) * (size_t)n_sp);
    if ((st = nnp_rt_set_shape(n->out[0], q->ty, x->rank, od)))
        return st;
    return ql ? qconv_fast_prepare(n, q, arena) : NNP_OK;
}

static int32_t qc_zp(const struct nnp_rt_value *v, int64_t i)
{
    return v ? nnp_q_get(v->dtype, v->data, v->numel == 1 ? 0 : i) : 0;
}

static float qc_scale(const struct nnp_rt_value *v, int64_t i)
{
    return ((const float *)v->data)[v->numel == 1 ? 0 : i];
}

static enum nnp_status qconv_reference(struct nnp_exec_node *n)
{
    const struct qconv_state *q = n->state;
    const struct conv_state *s = &q->c;
    const struct nnp_window *w = &s->w;
    bool ql = q->qlinear;
    const struct nnp_rt_value *xv = qc_in(n, ql, QC_X), *wv = qc_in(n, ql, QC_W);
    const struct nnp_rt_value *bv = qc_in(n, ql, QC_B);
    int32_t xz = qc_zp(qc_in(n, ql, QC_XZ), 0), yz = ql ? qc_zp(qc_in(n, ql, QC_YZ), 0) : 0;
    float xs = ql ? qc_scale(qc_in(n, ql, QC_XS), 0) : 0.0f;
    bool fout = q->ty == NNP_DTYPE_F32;
    float ys = ql && !fout ? qc_scale(qc_in(n, ql, QC_YS), 0) : 0.0f;
    int32_t lo = nnp_q_lo(q->ty), hi = nnp_q_hi(q->ty);
    if (ql && !fout) /* the planner's Relu or Clip before the QuantizeLinear */
        nnp_q_act_bounds(&n->fusion.act, ys, yz, &lo, &hi);
    void *y = n->out[0]->data;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t m = 0; m < s->c_out; m++) {
            int64_t g = m / s->cg_out;
            int32_t wz = qc_zp(qc_in(n, ql, QC_WZ), m);
            float mul = !ql  ? 0.0f
                        : fout ? xs * qc_scale(qc_in(n, ql, QC_WS), m)
                               : xs * qc_scale(qc_in(n, ql, QC_WS), m) / ys;
            for (int64_t p = 0; p < s->oprod; p++) {
                int64_t acc = bv ? ((const int32_t *)bv->data)[m] : 0;
                for (int64_t c = 0; c < s->cg_in; c++)
                    for (int64_t k = 0; k < s->kprod; k++) {
                        int64_t lin;
                        if (!window_tap(w, p, k, &lin))
                            continue;
                        int64_t xi = (b * s->c_in + g * s->cg_in + c) * s->iprod + lin;
                        int64_t wi = (m * s->cg_in + c) * s->kprod + k;
                        acc += (int64_t)(nnp_q_get(xv->dtype, xv->data, xi) - xz) *
                               (nnp_q_get(wv->dtype, wv->data, wi) - wz);
                    }
                int32_t sum = (int32_t)(uint32_t)(uint64_t)acc; /* int32 wrap-around */
                int64_t at = (b * s->c_out + m) * s->oprod + p;
                if (fout)
                    ((float *)y)[at] = (float)sum * mul;
                else if (ql)
                    nnp_q_put(q->ty, y, at, nnp_q_quantize((float)sum * mul, yz, lo, hi));
                else
                    ((int32_t *)y)[at] = sum;
            }
        }
    if (fout) { /* a fused BatchNormalization, Add and activation (the planner's) */
        const struct nnp_rt_value *res = n->fusion.residual;
        for (int64_t i = 0; n->fusion.mul && i < n->out[0]->numel; i++) {
            int64_t c = i / s->oprod % s->c_out;
            ((float *)y)[i] = ((float *)y)[i] * n->fusion.mul[c] + n->fusion.add[c];
        }
        nnp_gemm_finish_rows(&n->fusion.act, 1, n->out[0]->numel, y, 0,
                             res ? res->data : NULL, 0, y, 0);
    }
    return NNP_OK;
}

/* Even and odd bytes of src (n of each) into ev and od, 16 at a time: src is read to
 * 2n rounded up to 32, ev and od written to n rounded up to 16. */
static void split_phases2(const uint8_t *src, int64_t n, uint8_t *ev, uint8_t *od)
{
    int64_t t = 0;
#if defined(__SSE2__)
    __m128i lowb = _mm_set1_epi16(0x00FF);
    for (; t < n; t += 16) {
        __m128i lo = _mm_loadu_si128((const __m128i *)(src + 2 * t));
        __m128i hi = _mm_loadu_si128((const __m128i *)(src + 2 * t + 16));
        _mm_storeu_si128((__m128i *)(ev + t),
                         _mm_packus_epi16(_mm_and_si128(lo, lowb), _mm_and_si128(hi, lowb)));
        _mm_storeu_si128((__m128i *)(od + t),
                         _mm_packus_epi16(_mm_srli_epi16(lo, 8), _mm_srli_epi16(hi, 8)));
    }
#endif
    for (; t < n; t++) {
        ev[t] = src[2 * t];
        od[t] = src[2 * t + 1];
    }
}

/* Blocks [c4_0, c4_1) of 4 channels of one group's input xg into xb (qconv_state). A
 * row of 4 whole channels at stride 1 is interleaved straight from the input, its pads
 * set around it; otherwise the 4 rows are padded in `rows` first (then, for stride 2,
 * split into their even and odd columns) and interleaved from there. */
static void qconv_block_input(const struct qconv_state *q, const uint8_t *xg, int64_t c4_0,
                              int64_t c4_1, uint8_t *rows, uint8_t *xb)
{
    const struct conv_state *s = &q->c;
    const struct nnp_window *w = &s->w2d;
    int64_t ih = w->in[0], iw = w->in[1], pt = w->pad_begin[0], pl = w->pad_begin[1];
    int64_t sh = w->stride[0], sw = w->stride[1], rs = q->wpad + QROW_SLACK;
    int64_t wq = q->wq, plane = q->hq * wq * 4;
    uint8_t zu = (uint8_t)(q->pad ^ q->flip);
    uint8_t *split = rows + 4 * rs; /* stride 2: 8 rows of (rs / 2) */
    int64_t rs2 = rs / 2;
    if (q->taps4) { /* one plane (c4 0 only), lane t = padded columns t .. t + 3 */
        for (int64_t py = 0; py < sh && c4_0 == 0; py++)
            for (int64_t yq = (q->hpad - py + sh - 1) / sh; yq < q->hq; yq++)
                memset(xb + py * plane + yq * wq * 4, zu, (size_t)(wq * 4));
        for (int64_t yp = 0; yp < q->hpad && c4_0 == 0; yp++) {
            int64_t iy = yp - pt;
            uint8_t *dst = xb + (yp % sh) * plane + (yp / sh) * wq * 4;
            memset(rows, q->pad, (size_t)rs);
            if (iy >= 0 && iy < ih)
                memcpy(rows + pl, xg + iy * iw, (size_t)iw);
            nnp_qgemm_interleave4(rows, 1, wq, q->flip, dst);
        }
        return;
    }
    for (int64_t c4 = c4_0; c4 < c4_1; c4++) {
        uint8_t *blk = xb + c4 * q->phases * plane;
        int64_t nreal = s->cg_in - c4 * 4 < 4 ? s->cg_in - c4 * 4 : 4;
        /* phase rows below the padded input (hq * sh > hpad): the zero point */
        for (int64_t py = 0; py < sh; py++)
            for (int64_t yq = (q->hpad - py + sh - 1) / sh; yq < q->hq; yq++)
                for (int64_t px = 0; px < sw; px++)
                    memset(blk + (py * sw + px) * plane + yq * wq * 4, zu, (size_t)(wq * 4));
        for (int64_t yp = 0; yp < q->hpad; yp++) {
            int64_t iy = yp - pt, py = yp % sh, yq = yp / sh;
            uint8_t *dst0 = blk + py * sw * plane + yq * wq * 4; /* phase (py, 0) */
            if (iy < 0 || iy >= ih) {
                for (int64_t px = 0; px < sw; px++)
                    memset(dst0 + px * plane, zu, (size_t)(wq * 4));
                continue;
            }
            const uint8_t *src = xg + c4 * 4 * s->iprod + iy * iw;
            if (sw == 1 && nreal == 4 && iw >= 16) { /* (16 bytes of each row read) */
                memset(dst0, zu, (size_t)(pl * 4));
                nnp_qgemm_interleave4(src, s->iprod, iw, q->flip, dst0 + pl * 4);
                memset(dst0 + (pl + iw) * 4, zu, (size_t)((wq - pl - iw) * 4));
                continue;
            }
            for (int ci = 0; ci < 4; ci++) {
                uint8_t *row = rows + ci * rs;
                if (ci >= nreal) {
                    memset(row, q->pad, (size_t)rs);
                    continue;
                }
                memset(row, q->pad, (size_t)pl);
                memcpy(row + pl, src + ci * s->iprod, (size_t)iw);
                memset(row + pl + iw, q->pad, (size_t)(rs - pl - iw));
            }
            if (sw == 1) {
                nnp_qgemm_interleave4(rows, rs, wq, q->flip, dst0);
            } else if (sw == 2) {
                for (int ci = 0; ci < 4; ci++)
                    split_phases2(rows + ci * rs, wq, split + ci * rs2, split + (4 + ci) * rs2);
                nnp_qgemm_interleave4(split, rs2, wq, q->flip, dst0);
                nnp_qgemm_interleave4(split + 4 * rs2, rs2, wq, q->flip, dst0 + plane);
            } else {
                for (int64_t px = 0; px < sw; px++)
                    for (int64_t t = 0; t < wq; t++)
                        for (int ci = 0; ci < 4; ci++) {
                            int64_t xx = px + t * sw;
                            uint8_t v = xx < rs ? rows[ci * rs + xx] : q->pad;
                            dst0[px * plane + 4 * t + ci] = (uint8_t)(v ^ q->flip);
                        }
            }
        }
    }
}

struct qconv_run {
    const struct qconv_state *q;
    const uint8_t *x;
    uint8_t *y, *scratch;
    size_t slice; /* scratch bytes per thread, after the shared blocked input */
    int32_t zp, lo, hi;
    const struct nnp_act *act; /* float output: a fused activation and residual Add, */
    const float *res;
    const float *fmul, *fadd;  /* and a BatchNormalization before them (per channel) */
    int64_t b, g, row_blocks; /* the unit in hand (units in turn) */
    const uint8_t *xb;
};

/* The valid columns of a C panel (rows [m0, m1), columns [j0, j0 + nc) of the product,
 * row i at panel + (i - m0) * NR elements) to the output, the fused Add and activation
 * applied on the way (float out). */
static void qconv_scatter(const struct qconv_run *r, int64_t at, int64_t m0, int64_t m1,
                          int64_t j0, int64_t nc, const uint8_t *panel)
{
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    int64_t ow = s->w2d.out[1];
    bool fout = q->ty == NNP_DTYPE_F32;
    size_t es = fout ? sizeof(float) : 1;
    for (int64_t j = j0; j < j0 + nc;) {
        int64_t oy = j / q->wq, ox = j % q->wq;
        int64_t run = ow - ox; /* valid columns from j on this row */
        if (run <= 0) {
            j += q->wq - ox;
            continue;
        }
        if (run > j0 + nc - j)
            run = j0 + nc - j;
        int64_t pos = oy * ow + ox;
        for (int64_t i = m0; i < m1; i++) {
            const uint8_t *src = panel + ((i - m0) * NNP_QGEMM_NR + (j - j0)) * (int64_t)es;
            int64_t o = at + i * s->oprod + pos;
            if (!fout) {
                memcpy(r->y + o, src, (size_t)run);
                continue;
            }
            float *dst = (float *)(void *)r->y + o;
            if (r->act->kind || r->res)
                nnp_gemm_finish_row(r->act, (const float *)(const void *)src,
                                    r->res ? r->res + o : NULL, dst, run);
            else
                memcpy(dst, src, (size_t)run * sizeof *dst);
        }
        j += run;
    }
}

/* panel u (48 columns) and rows [m0, m1) of unit (b, g), from its blocked input xb */
static void qconv_panel(const struct qconv_run *r, const uint8_t *xb, int64_t b, int64_t g,
                        int64_t u, int64_t m0, int64_t m1, uint8_t *cpanel)
{
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    int64_t j0 = u * NNP_QGEMM_NR, nc = q->ncols - j0 < NNP_QGEMM_NR ? q->ncols - j0 : NNP_QGEMM_NR;
    int64_t c0 = g * s->cg_out, at = (b * s->c_out + c0) * s->oprod;
    bool fout = q->ty == NNP_DTYPE_F32;
    struct nnp_qgemm G = {.m = s->cg_out, .n = nc, .k = q->kq,
                          .a = q->wp + (size_t)g * q->wp_group, .b = xb + j0 * 4,
                          .b_koff = q->koff, .a_signed = true, .off = q->off + c0,
                          .mul = q->mul + c0, .zp = r->zp, .lo = r->lo, .hi = r->hi};
    if (q->amx) { /* A in rows, B by tiles */
        G.lda = q->kq;
        G.b_koff = NULL;
        G.b_tile = q->amx_tile;
        G.b_tile_stride = q->plane;
    }
    if (fout && r->fmul) { /* a fused BatchNormalization, in the epilogue */
        G.cf_mul = r->fmul + c0;
        G.cf_add = r->fadd + c0;
    }
    bool clamp = fout && !r->res && (r->act->kind == NNP_ACT_RELU || r->act->kind == NNP_ACT_CLIP);
    if (clamp) { /* the activation in the epilogue */
        G.cf_clamp = true;
        G.cf_lo = r->act->kind == NNP_ACT_RELU ? 0.0f : r->act->alpha;
        G.cf_hi = r->act->kind == NNP_ACT_RELU ? INFINITY : r->act->beta;
    }
    const struct nnp_act none = {NNP_ACT_NONE, 0, 0};
    struct qconv_run rr = *r;
    if (clamp)
        rr.act = &none;
    r = &rr;
    if (q->scatter) { /* rows m0.. into the panel, NR apart */
        G.c = cpanel - m0 * NNP_QGEMM_NR * (fout ? 4 : 1);
        if (fout)
            G.cf = (float *)(void *)cpanel - m0 * NNP_QGEMM_NR;
        G.ldc = NNP_QGEMM_NR;
        nnp_qgemm_block(q->qisa, &G, m0, m1, 0, nc);
        qconv_scatter(r, at, m0, m1, j0, nc, cpanel);
        return;
    }
    G.c = r->y + at + j0;
    G.ldc = s->oprod;
    if (fout)
        G.cf = (float *)(void *)r->y + at + j0;
    nnp_qgemm_block(q->qisa, &G, m0, m1, 0, nc);
    if (G.cf && (r->act->kind || r->res)) /* a fused Add and activation, still in cache */
        nnp_gemm_finish_rows(r->act, m1 - m0, nc, G.cf + m0 * s->oprod, s->oprod,
                             r->res ? r->res + at + j0 + m0 * s->oprod : NULL, s->oprod,
                             G.cf + m0 * s->oprod, s->oprod);
}

static const uint8_t *qconv_unit_x(const struct qconv_run *r, int64_t b, int64_t g)
{
    const struct conv_state *s = &r->q->c;
    return r->x + (b * s->c_in + g * s->cg_in) * s->iprod;
}

/* per_unit: unit i whole, on thread tid */
static void qconv_unit_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct qconv_run *r = ctx;
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    uint8_t *rows = r->scratch + (size_t)tid * r->slice, *xb = rows + q->rows_bytes;
    uint8_t *cpanel = rows + (size_t)8 * (size_t)(q->wpad + QROW_SLACK);
    cpanel = (uint8_t *)(((uintptr_t)cpanel + 63) & ~(uintptr_t)63);
    for (int64_t i = begin; i < end; i++) {
        int64_t b = i / s->group, g = i % s->group;
        qconv_block_input(q, qconv_unit_x(r, b, g), 0, q->c4n, rows, xb);
        for (int64_t u = 0; u * NNP_QGEMM_NR < q->ncols; u++)
            qconv_panel(r, xb, b, g, u, 0, s->cg_out, cpanel);
    }
}

static void qconv_blocking_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct qconv_run *r = ctx;
    uint8_t *rows = r->scratch + (r->q->xb_bytes + 63) / 64 * 64 + (size_t)tid * r->slice;
    qconv_block_input(r->q, qconv_unit_x(r, r->b, r->g), begin, end, rows, (uint8_t *)r->xb);
}

/* units in turn: task i = (panel, block of rows) of the unit in hand */
static void qconv_block_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct qconv_run *r = ctx;
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    uint8_t *rows = r->scratch + (q->xb_bytes + 63) / 64 * 64 + (size_t)tid * r->slice;
    uint8_t *cpanel = rows + (size_t)8 * (size_t)(q->wpad + QROW_SLACK);
    cpanel = (uint8_t *)(((uintptr_t)cpanel + 63) & ~(uintptr_t)63);
    for (int64_t i = begin; i < end; i++) {
        int64_t u = i / r->row_blocks, m0 = i % r->row_blocks * QCONV_ROWS;
        int64_t m1 = m0 + QCONV_ROWS < s->cg_out ? m0 + QCONV_ROWS : s->cg_out;
        qconv_panel(r, r->xb, r->b, r->g, u, m0, m1, cpanel);
    }
}

struct qconv_dw_run {
    const struct nnp_exec_node *n;
    const struct qconv_state *q;
    size_t slice;
};

/* depthwise, float out, a fused BatchNormalization: y = act(y * a + b + res) on the plane
 * of channel c (at yo in the output) */
static void qconv_dw_affine(const struct nnp_exec_node *n, float *y, int64_t c, int64_t yo)
{
    const struct qconv_state *q = n->state;
    const struct nnp_rt_value *res = n->fusion.residual;
    int64_t len = q->c.oprod;
    float a = n->fusion.mul[c], b = n->fusion.add[c];
    for (int64_t t = 0; t < len; t++)
        y[t] = y[t] * a + b;
    nnp_gemm_finish_row(&n->fusion.act, y, res ? (const float *)res->data + yo : NULL, y, len);
}

/* depthwise: planes (image, output channel) [begin, end), each dequantized, convolved
 * in float with its fused activation (and Add, float out), then quantized */
static void qconv_dw_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct qconv_dw_run *r = ctx;
    const struct nnp_exec_node *n = r->n;
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    const struct nnp_rt_value *x = qc_in(n, true, QC_X), *res = n->fusion.residual;
    float *xf = (float *)(void *)((uint8_t *)n->scratch + (size_t)tid * r->slice);
    float *yf = xf + s->iprod;
    float xs = qc_scale(qc_in(n, true, QC_XS), 0);
    int32_t xz = qc_zp(qc_in(n, true, QC_XZ), 0);
    bool fout = q->ty == NNP_DTYPE_F32;
    size_t xes = nnp_dtype_size(x->dtype);
    /* a fused BatchNormalization (float out): the kernel's plain result, then
     * x * a + b, the Add and the activation, as the float layer's affine_planes */
    const struct nnp_act none = {NNP_ACT_NONE, 0, 0};
    const float *fm = n->fusion.mul;
    const struct nnp_act *act = fm ? &none : &n->fusion.act;
    float ys = fout ? 0.0f : qc_scale(qc_in(n, true, QC_YS), 0);
    int32_t yz = fout ? 0 : qc_zp(qc_in(n, true, QC_YZ), 0);
    if (q->dw16) { /* units: (image, 16 channels) */
        int64_t blocks = (s->c_out + 15) / 16;
        for (int64_t u = begin; u < end; u++) {
            int64_t b = u / blocks, c0 = u % blocks * 16;
            int nch = (int)(s->c_out - c0 < 16 ? s->c_out - c0 : 16);
            int64_t yo = (b * s->c_out + c0) * s->oprod;
            nnp_dequantize_row(s->isa, (const uint8_t *)x->data +
                                           (size_t)((b * s->c_in + c0) * s->iprod) * xes,
                               x->dtype, nch * s->iprod, xs, xz, xf);
            float *yd = yf + 15 * s->iprod; /* after the 16 input planes */
            float *dst = fout ? (float *)n->out[0]->data + yo : yd;
            nnp_conv_dw2d_channels(&s->w2d, xf, q->wf + c0 * s->kprod, q->bf + c0,
                                   fout && res && !fm ? (const float *)res->data + yo : NULL,
                                   act, dst, nch);
            for (int c = 0; fm && c < nch; c++)
                qconv_dw_affine(n, dst + c * s->oprod, c0 + c, yo + c * s->oprod);
            if (!fout)
                nnp_quantize_row(s->isa, yd, nch * s->oprod, ys, yz, q->ty,
                                 (uint8_t *)n->out[0]->data + yo);
        }
        return;
    }
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / s->c_out, oc = u % s->c_out, gi = oc / s->cg_out;
        int64_t yo = (b * s->c_out + oc) * s->oprod;
        nnp_dequantize_row(s->isa, (const uint8_t *)x->data + (size_t)((b * s->c_in + gi) * s->iprod) * xes,
                           x->dtype, s->iprod, xs, xz, xf);
        float *dst = fout ? (float *)n->out[0]->data + yo : yf;
        const float *ro = fout && res && !fm ? (const float *)res->data + yo : NULL;
        if (s->dw_off)
            nnp_conv_dw2d_flat(&s->w2d, s->dw_masks, s->dw_off, xf, q->wf + oc * s->kprod,
                               q->bf[oc], ro, act, dst);
        else
            nnp_conv_dw2d(s->isa, &s->w2d, xf, q->wf + oc * s->kprod, q->bf[oc], ro, act, dst);
        if (fm)
            qconv_dw_affine(n, dst, oc, yo);
        if (!fout)
            nnp_quantize_row(s->isa, yf, s->oprod, ys, yz, q->ty, (uint8_t *)n->out[0]->data + yo);
    }
}

/* depthwise in integers: planes (image, output channel) [begin, end) */
static void qconv_qdw_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct qconv_dw_run *r = ctx;
    const struct nnp_exec_node *n = r->n;
    const struct qconv_state *q = r->q;
    const struct conv_state *s = &q->c;
    (void)tid;
    struct nnp_qdw p = {.geom = q->geom, .flip = q->flip, .pad = q->pad, .zp = qc_zp(qc_in(n, true, QC_YZ), 0),
                        .lo = nnp_q_lo(q->ty), .hi = nnp_q_hi(q->ty)};
    /* the planner's Relu or Clip before the QuantizeLinear */
    nnp_q_act_bounds(&n->fusion.act, qc_scale(qc_in(n, true, QC_YS), 0), p.zp, &p.lo, &p.hi);
    const uint8_t *x = qc_in(n, true, QC_X)->data;
    for (int64_t u = begin; u < end; u++) {
        int64_t b = u / s->c_out, oc = u % s->c_out, gi = oc / s->cg_out;
        p.x = x + (b * s->c_in + gi) * s->iprod;
        p.w = q->dwq + (size_t)oc * q->dwq_words;
        p.off = q->off[oc];
        p.mul = q->mul[oc];
        p.y = (uint8_t *)n->out[0]->data + (b * s->c_out + oc) * s->oprod;
        nnp_qdw_plane(&s->w2d, &p);
    }
}

static enum nnp_status qconv_forward(struct nnp_exec_node *n)
{
    const struct qconv_state *q = n->state;
    if (!q->fast)
        return qconv_reference(n);
    const struct conv_state *s = &q->c;
    if (q->qdw) {
        struct qconv_dw_run dr = {n, q, 0};
        double macs = (double)s->batch * (double)s->c_out * (double)s->oprod * (double)s->kprod;
        nnp_parallel_for(macs >= DW_PAR_MIN_MACS ? n->pool : NULL, s->batch * s->c_out,
                         qconv_qdw_task, &dr);
        return NNP_OK;
    }
    if (q->dw) {
        struct qconv_dw_run dr = {n, q,
                                  (16 * (size_t)(s->iprod + s->oprod) * sizeof(float) + 63) / 64 * 64};
        double macs = (double)s->batch * (double)s->c_out * (double)s->oprod * (double)s->kprod;
        int64_t units = q->dw16 ? s->batch * ((s->c_out + 15) / 16) : s->batch * s->c_out;
        nnp_parallel_for(macs >= DW_PAR_MIN_MACS ? n->pool : NULL, units, qconv_dw_task, &dr);
        return NNP_OK;
    }
    struct qconv_run r = {.q = q, .x = qc_in(n, true, QC_X)->data, .y = n->out[0]->data,
                          .scratch = n->scratch,
                          .slice = q->rows_bytes + (q->per_unit ? (q->xb_bytes + 63) / 64 * 64 : 0)};
    r.zp = qc_zp(qc_in(n, true, QC_YZ), 0);
    r.lo = nnp_q_lo(q->ty);
    r.hi = nnp_q_hi(q->ty);
    r.act = &n->fusion.act;
    r.res = n->fusion.residual ? n->fusion.residual->data : NULL;
    r.fmul = n->fusion.mul;
    r.fadd = n->fusion.add;
    if (q->ty != NNP_DTYPE_F32) /* the planner's Relu or Clip before the QuantizeLinear */
        nnp_q_act_bounds(&n->fusion.act, qc_scale(qc_in(n, true, QC_YS), 0), r.zp, &r.lo, &r.hi);
    double macs = (double)s->batch * (double)s->c_out * (double)s->oprod * (double)s->kdim;
    struct nnp_pool *pool = macs >= 4.0 * nnp_gemm_par_min_macs() ? n->pool : NULL;
    int64_t units = s->batch * s->group;
    if (q->per_unit) {
        nnp_parallel_for(pool, units, qconv_unit_task, &r);
        return NNP_OK;
    }
    r.row_blocks = (s->cg_out + QCONV_ROWS - 1) / QCONV_ROWS;
    r.xb = r.scratch;
    int64_t panels = (q->ncols + NNP_QGEMM_NR - 1) / NNP_QGEMM_NR;
    for (int64_t i = 0; i < units; i++) {
        r.b = i / s->group;
        r.g = i % s->group;
        nnp_parallel_for(q->c4n >= 8 && !q->taps4 ? pool : NULL, q->taps4 ? 1 : q->c4n,
                         qconv_blocking_task, &r);
        nnp_parallel_for(pool, panels * r.row_blocks, qconv_block_task, &r);
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_ConvInteger = {
    .name = "ConvInteger",
    .min_in = 2,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .prepare = qconv_prepare,
    .forward = qconv_reference,
};

const struct nnp_op nnp_op_QLinearConv = {
    .name = "QLinearConv",
    .min_in = 8,
    .max_in = 9,
    .min_out = 1,
    .max_out = 1,
    .prepare = qconv_prepare,
    .forward = qconv_forward,
    .reference = qconv_reference,
    /* only the planner's float-output form takes them (runtime.c: plan_fusion) */
    .flags = NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD | NNP_OP_FUSE_AFFINE,
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
    enum nnp_status st =
        conv_common(n, s, true, n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : NULL);
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
    n->flops = 2.0 * (double)s->batch * (double)s->c_in * (double)s->iprod *
               (double)(s->cg_out * s->kprod);
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
