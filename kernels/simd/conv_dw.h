/* kernels/simd/conv_dw.h — the direct depthwise 2-D convolution of one channel plane, fp32,
 * with its epilogue (bias, residual, activation) applied before the output is stored.
 *
 *     // x (C, H, W), w (C, kh, kw), bias (C), y (C, OH, OW); win from nnp_window_forward()
 *     // (a 1-D convolution: nnp_window_flat2d() first, it is then a 2-D one of height 1)
 *     struct nnp_act relu6 = {NNP_ACT_CLIP, 0.0f, 6.0f};
 *     enum nnp_isa isa = nnp_isa_best();
 *     for (int64_t c = 0; c < C; c++)
 *         nnp_conv_dw2d(isa, &win, x + c * H * W, w + c * kh * kw, bias[c], NULL, &relu6,
 *                       y + c * OH * OW);
 *
 * What one output is, on every path and every ISA:
 *   acc = +0; for ki = 0..kh-1, kj = 0..kw-1 (in that order): acc = fmaf(xp, w[ki][kj], acc)
 *   with xp the input under the tap, or 0 in the pads; then y = acc + bias (rounded to
 *   float), y = y + res (when res is given), y = act(y).
 * That is the value the unfused nodes give (Conv, then Add, then the activation). Every
 * output sums all kh * kw taps, the pads as zeros, as ONNX defines them (so an infinite
 * or NaN weight gives NaN where its tap falls in a pad, as on a zero-padded input).
 * Since the order of the taps does not depend on where an output sits (interior or
 * border, vector lane or tail), the AVX-512, AVX2 and scalar versions give the same
 * bits: all three fuse every multiply-add (the scalar one through fmaf()). RELU,
 * LEAKY_RELU and CLIP are applied in registers with the comparisons of
 * kernels/ops/op_unary.c; the other activations by nnp_act_apply() on the stored row.
 *
 * Why the kernel is shaped this way: a depthwise layer does kh * kw multiply-adds per
 * output (9 for 3x3), far too few for a matrix product, so what costs is moving data
 * and the borders, not the arithmetic. An axpy per tap and output row (op_conv.c's
 * depthwise loop) loads and stores each output row kh * kw times, and a stride other
 * than 1 falls to scalar code. Here the output is cut into bands of up to 8 vectors
 * (128 columns with AVX-512: a 112-wide MobileNet row is one band), and each input row
 * a band needs is copied once into a small ring of rows on the stack: 64-byte aligned,
 * zeros in place of the pads (the copy reads x with masked and expand loads at the
 * row's ends: never a byte outside x, never a pointer before it), and split into its
 * `stride` phases (even and odd columns for stride 2), so that a tap of any stride
 * reads consecutive floats of one phase. The taps then need no mask and no bounds
 * check. A block holds R output rows x NV vectors of accumulators in registers (8 to
 * 16 independent FMA chains, enough to hide the FMA latency) across all taps, and stores
 * each output once with its epilogue. With stride 1 and a kernel that reaches less than
 * 16 columns, AVX-512 loads each staged row as aligned vectors once per kernel row and
 * makes each tap's shifted vector with a permute: unaligned loads that cross cache lines
 * cost more here than the permutes. A window too large for the ring (hundreds of kernel
 * rows, or thousands of columns) is done one output at a time.
 */
#ifndef NNP_CONV_DW_H
#define NNP_CONV_DW_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ops/act.h"
#include "kernels/simd/gemv.h"
#include "kernels/ops/window.h"

/*! nnp_conv_dw2d() : y (OH, OW) = act(conv(x (H, W), w (kh, kw)) + bias [+ res (OH, OW)])
 *  for one channel of a depthwise convolution (or of any group with one input channel
 *  per output), window `win` (win->n_sp == 2: in = {H, W}, out = {OH, OW}). Give bias 0
 *  for a layer without one. res may be NULL; act may be NULL or NNP_ACT_NONE. y must not
 *  overlap x, w or res. Reads nothing of x outside its H * W floats (nothing when the
 *  output is empty or H * W is 0); writes exactly the OH * OW floats of y. Uses 33 KiB
 *  of stack. `isa` must be supported. */
void nnp_conv_dw2d(enum nnp_isa isa, const struct nnp_window *win, const float *x, const float *w,
                   float bias, const float *res, const struct nnp_act *act, float *y);

/*! nnp_conv_dw2d_channels() : nnp_conv_dw2d() on `nch` (1..16) channels at once, channel
 *  c at x + c*H*W, w + c*kh*kw, bias[c] (bias NULL: 0), res + c*OH*OW and y + c*OH*OW,
 *  with the same bits, for planes a row of vectors would leave mostly empty (AVX-512).
 *  Only when nnp_conv_dw2d_channels_fit(): an output row of at most 14 columns, a
 *  window region of at most 512 positions (staged: 36 KiB of stack); or 3x3 at stride 2,
 *  no dilation, a left pad of at most 1, rows of at most 32 inputs and 16 outputs. */
void nnp_conv_dw2d_channels(const struct nnp_window *win, const float *x, const float *w,
                            const float *bias, const float *res, const struct nnp_act *act,
                            float *y, int nch);
bool nnp_conv_dw2d_channels_fit(enum nnp_isa isa, const struct nnp_window *win);
/*! nnp_conv_dw2d_flat() : nnp_conv_dw2d() with the same bits for stride 1 and an output as
 *  wide as the input ("same" pads), the plane taken as one run of vectors, read in place
 *  with the pads masked (AVX-512). Only when nnp_conv_dw2d_flat_fit(); masks
 *  (nnp_conv_dw2d_flat_masks() of them) and off (kh * kw) from nnp_conv_dw2d_flat_plan(),
 *  once per geometry. Reads x only at the lanes its masks keep: nothing outside x. */
bool nnp_conv_dw2d_flat_fit(enum nnp_isa isa, const struct nnp_window *win);
size_t nnp_conv_dw2d_flat_masks(const struct nnp_window *win);
void nnp_conv_dw2d_flat_plan(const struct nnp_window *win, uint16_t *masks, int64_t *off);
void nnp_conv_dw2d_flat(const struct nnp_window *win, const uint16_t *masks, const int64_t *off,
                        const float *x, const float *w, float bias, const float *res,
                        const struct nnp_act *act, float *y);

/*! nnp_conv_dw2d_ref() : the naive reference for the tests, with the same definition
 *  except that each output's taps are summed in double (with bias and res, the pads as
 *  zeros), rounded to float once, then given to nnp_act_apply(). */
void nnp_conv_dw2d_ref(const struct nnp_window *win, const float *x, const float *w, float bias,
                       const float *res, const struct nnp_act *act, float *y);

#endif
