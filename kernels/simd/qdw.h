/* kernels/simd/qdw.h — the int8 depthwise convolution of one channel plane, summed
 * exactly in int32 and requantized to 8 bits as the integer GEMM's epilogue does
 * (qgemm.h), so that it gives the bits of QLinearConv's direct loops.
 *
 *     // once per layer: the window (kw <= 8, strides <= 4, no dilation)
 *     if (nnp_qdw_fit(&win)) {
 *         int32_t *wq = ...alloc(nnp_qdw_weight_words(&win) * C);
 *         for (c = 0; c < C; c++)
 *             nnp_qdw_weights(&win, w + c * kh * kw, wq + c * nnp_qdw_weight_words(&win));
 *         struct nnp_qdw_geom *geom = ...alloc(nnp_qdw_geom_bytes(&win));
 *         nnp_qdw_geom_make(&win, geom);
 *         // per plane
 *         struct nnp_qdw p = {.geom = geom, .x = xc, .flip = 0x80, .pad = xz ^ 0x80, .w = wq_c,
 *                             .off = bias_c - (xz ^ 0x80) * sum_w_c, .mul = ms / ys,
 *                             .zp = yz, .lo = -128, .hi = 127, .y = yc};
 *         nnp_qdw_plane(&win, &p);
 *     }
 *
 * What one output is:
 *   acc = sum over the taps of w[ky][kx] * xu, xu the input byte under the tap (XORed
 *         with flip: int8 read as uint8 + 128) or `pad` in the pads
 *   y   = clamp(round_even((float)(acc + off) * mul) + zp, lo, hi)
 * With pad the input's zero point as read, a pad adds exactly what a zero does in the
 * real values, and off holds the bias less the zero point times the channel's weight
 * sum: the integer sum of ONNX's definition.
 *
 * How: 16 outputs of a row are one vector of int32 lanes (two rows of up to 8, for
 * small planes). For each kernel row, 64 bytes of the input row are loaded from the
 * column the first output's window starts at, masked to the row (`pad` outside it:
 * nothing outside the input is read, and the pads need no copy of the plane); one
 * vpermb picks, for lane j, the 4 bytes at columns j * stride + 4q .. + 3 of them, and
 * one vpdpbusd multiplies those by 4 weights of the kernel row (a kernel row of 3 is 3
 * weights and a zero; of 5 to 8, two such quads): kh vpdpbusd for a 3x3, on bytes,
 * where the float kernel needs 9 FMAs on 4 times the data, and the dequantizing and
 * quantizing passes around it. Needs AVX512-VBMI and AVX512-VNNI (nnp_qdw_fit says no
 * without them).
 */
#ifndef NNP_QDW_H
#define NNP_QDW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ops/window.h"

/* A layer's geometry, the same for every plane: for each chunk of 16 outputs of a row
 * and each quad, the column its 64 loaded bytes start at and the mask of those inside
 * the row; the lanes' byte indices. Made by nnp_qdw_geom_make() in
 * nnp_qdw_geom_bytes(). */
struct nnp_qdw_geom {
    uint8_t idx[64];
    int64_t *col;
    uint64_t *mask;
};

struct nnp_qdw {
    const struct nnp_qdw_geom *geom;
    const uint8_t *x; /* the input plane (H, W) */
    uint8_t flip;     /* XORed into every input byte: 0x80 for int8 */
    uint8_t pad;      /* the pads' byte, as read (after the flip) */
    const int32_t *w; /* the channel's weights from nnp_qdw_weights() */
    int32_t off;      /* added to each sum */
    float mul;        /* x_scale * w_scale / y_scale */
    int32_t zp, lo, hi; /* the output's zero point and range */
    uint8_t *y;       /* the output plane (OH, OW), uint8 or int8 bytes */
};

/*! @return true when this CPU and window run here: 2-D, kernel width up to 8, strides up
 *  to 4, dilations 1. */
bool nnp_qdw_fit(const struct nnp_window *win);
/*! @return bytes of the layer's geometry (struct nnp_qdw_geom and its arrays). */
size_t nnp_qdw_geom_bytes(const struct nnp_window *win);
/*! nnp_qdw_geom_make() : the layer's geometry into g, of nnp_qdw_geom_bytes() bytes
 *  (8-byte aligned). */
void nnp_qdw_geom_make(const struct nnp_window *win, struct nnp_qdw_geom *g);
/*! @return int32 words of a channel's weights for nnp_qdw_weights(). */
size_t nnp_qdw_weight_words(const struct nnp_window *win);
/*! nnp_qdw_weights() : a channel's int8 weights (kh, kw) as quads of 4 bytes (zeros past
 *  kw), the layout nnp_qdw_plane() reads. */
void nnp_qdw_weights(const struct nnp_window *win, const int8_t *w, int32_t *dst);
/*! nnp_qdw_plane() : one channel's output plane (the definition above). Only when
 *  nnp_qdw_fit(). */
void nnp_qdw_plane(const struct nnp_window *win, const struct nnp_qdw *p);

#endif
