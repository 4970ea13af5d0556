/* kernels/ops/window.h — sliding-window geometry shared by Conv, ConvTranspose,
 * MaxPool and AveragePool: the attributes kernel_shape, strides, dilations,
 * pads and auto_pad, checked once and turned into output sizes and pads.
 *
 *     struct nnp_window w;
 *     st = nnp_window_parse(n, &w, x->rank - 2, weight_spatial_dims);  // attributes
 *     st = nnp_window_forward(n, &w, x->dims + 2, ceil_mode);           // Conv, pools
 *     out_dims[2 + i] = w.out[i];
 *
 * Output size along one axis, with the effective kernel ek = (k - 1) * d + 1:
 *   NOTSET      floor((in + pb + pe - ek) / s) + 1   (ceil with ceil_mode, but a
 *               window must start inside the input or its left pad, as PyTorch
 *               and ONNX >= 1.16 say)
 *   VALID       floor((in - ek) / s) + 1, no pads
 *   SAME_UPPER  ceil(in / s), total pad (out - 1) * s + ek - in, the odd one at the end
 *   SAME_LOWER  the same, the odd one at the start
 * Explicit pads next to an auto_pad other than NOTSET are ignored, as ONNX
 * Runtime does (the spec forbids the pair; exporters have written it anyway).
 */
#ifndef NNP_WINDOW_H
#define NNP_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ops/op.h"

/* Spatial axes: everything after N and C. */
#define NNP_WINDOW_MAX (NNP_MAX_RANK - 2)

enum nnp_auto_pad { NNP_PAD_NOTSET, NNP_PAD_SAME_UPPER, NNP_PAD_SAME_LOWER, NNP_PAD_VALID };

struct nnp_window {
    int n_sp; /* spatial axes, 1..NNP_WINDOW_MAX */
    enum nnp_auto_pad auto_pad;
    int64_t kernel[NNP_WINDOW_MAX];    /* kernel_shape */
    int64_t stride[NNP_WINDOW_MAX];    /* strides, default 1 */
    int64_t dil[NNP_WINDOW_MAX];       /* dilations, default 1 */
    int64_t pad_begin[NNP_WINDOW_MAX]; /* pads[0 .. n_sp-1], or computed for SAME_* */
    int64_t pad_end[NNP_WINDOW_MAX];   /* pads[n_sp .. 2*n_sp-1] */
    int64_t in[NNP_WINDOW_MAX];        /* input spatial sizes */
    int64_t out[NNP_WINDOW_MAX];       /* output spatial sizes */
};

/*! nnp_window_parse() : read kernel_shape, strides, dilations, pads and auto_pad of
 *  node n for `n_sp` spatial axes. `kernel_from_w` (n_sp sizes, or NULL) is the
 *  kernel the weight implies: kernel_shape may then be absent, and must match it
 *  when present. Without it kernel_shape is required (pools).
 *  @return NNP_OK, or NNP_ERR_INVALID naming the attribute, e.g. "pads has 3 values,
 *  expected 4". */
enum nnp_status nnp_window_parse(const struct nnp_exec_node *n, struct nnp_window *w, int n_sp,
                                 const int64_t *kernel_from_w);

/*! nnp_window_forward() : output sizes and pads of a forward window (Conv, pools)
 *  over input spatial sizes `in` (n_sp of them). `ceil_mode` rounds up (pools).
 *  @return NNP_OK, or NNP_ERR_INVALID when the window does not fit the input. */
enum nnp_status nnp_window_forward(const struct nnp_exec_node *n, struct nnp_window *w,
                                   const int64_t *in, bool ceil_mode);

/*! nnp_window_flat2d() : a 1-D window as a 2-D one of height 1, so that 1-D
 *  inputs take the 2-D fast paths. Does nothing unless n_sp == 1. */
void nnp_window_flat2d(struct nnp_window *w);

/*! nnp_window_check() : refuse spatial sizes whose product overflows int64 (hostile
 *  attributes: pads up to 2^30 on each of six axes). nnp_window_forward() calls it.
 *  @return NNP_OK or NNP_ERR_INVALID. */
enum nnp_status nnp_window_check(const struct nnp_exec_node *n, const int64_t *dims, int n_sp);

/*! @return the product of `n` sizes (each already checked to be >= 0, the product by
 *  nnp_window_check() or because they are the dims of a tensor). */
int64_t nnp_window_prod(const int64_t *dims, int n);

/*! nnp_window_lanes() : for the 2-D window w, bit l set when output j0 + l (row-major,
 *  l < 16, j0 + l < OH * OW) reads a tap whose input, (oh * sh + dy, ow * sw + dx), is
 *  inside the input: the lanes of a masked load (the pads masked off). dy, dx: the tap's
 *  offset, ki * dh - pad_top and kj * dw - pad_left. */
uint16_t nnp_window_lanes(const struct nnp_window *w, int64_t j0, int64_t dy, int64_t dx);

#endif
