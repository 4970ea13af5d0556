/* kernels/ops/window.c — sliding-window attributes and output sizes (see window.h). */
#include "kernels/ops/window.h"

#include <inttypes.h>
#include <string.h>

/* Attribute values above this are refused: no real model comes near, and the
 * bound keeps (k - 1) * d + 1 and in + pads far from int64 overflow. */
#define WINDOW_ATTR_MAX ((int64_t)1 << 30)

/* Read an INTS attribute that must have exactly `want` values, each in [lo, WINDOW_ATTR_MAX].
 * @return 0 absent, 1 read, or -1 with the error recorded. */
static int read_ints(const struct nnp_exec_node *n, const char *name, int64_t *out, int want,
                     int64_t lo, enum nnp_status *st)
{
    const struct nnp_attr *a = nnp_node_attr(n->node, name);
    if (!a)
        return 0;
    if (a->type != NNP_ATTR_INTS) {
        *st = nnp_op_error(n, "attribute %s must be a list of ints", name);
        return -1;
    }
    if (a->n != want) {
        *st = nnp_op_error(n, "%s has %" PRId64 " value%s, expected %d", name, a->n,
                           a->n == 1 ? "" : "s", want);
        return -1;
    }
    for (int i = 0; i < want; i++) {
        if (a->ints[i] < lo || a->ints[i] > WINDOW_ATTR_MAX) {
            *st = nnp_op_error(n, "%s[%d] is %" PRId64 ", expected %" PRId64 "..%" PRId64, name, i,
                               a->ints[i], lo, WINDOW_ATTR_MAX);
            return -1;
        }
        out[i] = a->ints[i];
    }
    return 1;
}

enum nnp_status nnp_window_parse(const struct nnp_exec_node *n, struct nnp_window *w, int n_sp,
                                 const int64_t *kernel_from_w)
{
    memset(w, 0, sizeof *w);
    if (n_sp < 1 || n_sp > NNP_WINDOW_MAX)
        return nnp_op_error(n, "input has %d spatial axes, expected 1..%d", n_sp, NNP_WINDOW_MAX);
    w->n_sp = n_sp;
    enum nnp_status st = NNP_OK;

    int have_k = read_ints(n, "kernel_shape", w->kernel, n_sp, 1, &st);
    if (have_k < 0)
        return st;
    if (kernel_from_w) {
        for (int i = 0; i < n_sp; i++) {
            if (have_k && w->kernel[i] != kernel_from_w[i])
                return nnp_op_error(n,
                                    "kernel_shape[%d] is %" PRId64 " but the weight has %" PRId64,
                                    i, w->kernel[i], kernel_from_w[i]);
            if (kernel_from_w[i] < 1 || kernel_from_w[i] > WINDOW_ATTR_MAX)
                return nnp_op_error(n, "weight spatial size %" PRId64 " is out of range",
                                    kernel_from_w[i]);
            w->kernel[i] = kernel_from_w[i];
        }
    } else if (!have_k) {
        return nnp_op_error(n, "attribute kernel_shape is required");
    }

    for (int i = 0; i < n_sp; i++)
        w->stride[i] = w->dil[i] = 1;
    if (read_ints(n, "strides", w->stride, n_sp, 1, &st) < 0)
        return st;
    if (read_ints(n, "dilations", w->dil, n_sp, 1, &st) < 0)
        return st;
    int64_t pads[2 * NNP_WINDOW_MAX];
    int have_pads = read_ints(n, "pads", pads, 2 * n_sp, 0, &st);
    if (have_pads < 0)
        return st;

    const struct nnp_attr *ap = nnp_node_attr(n->node, "auto_pad");
    const char *mode = ap && ap->type == NNP_ATTR_STRING ? ap->s.data : "NOTSET";
    if (ap && ap->type != NNP_ATTR_STRING)
        return nnp_op_error(n, "attribute auto_pad must be a string");
    if (strcmp(mode, "NOTSET") == 0)
        w->auto_pad = NNP_PAD_NOTSET;
    else if (strcmp(mode, "SAME_UPPER") == 0)
        w->auto_pad = NNP_PAD_SAME_UPPER;
    else if (strcmp(mode, "SAME_LOWER") == 0)
        w->auto_pad = NNP_PAD_SAME_LOWER;
    else if (strcmp(mode, "VALID") == 0)
        w->auto_pad = NNP_PAD_VALID;
    else
        return nnp_op_error(
            n, "auto_pad is \"%s\", expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", mode);
    if (have_pads && w->auto_pad == NNP_PAD_NOTSET)
        for (int i = 0; i < n_sp; i++) {
            w->pad_begin[i] = pads[i];
            w->pad_end[i] = pads[n_sp + i];
        }
    return NNP_OK;
}

enum nnp_status nnp_window_forward(const struct nnp_exec_node *n, struct nnp_window *w,
                                   const int64_t *in, bool ceil_mode)
{
    for (int i = 0; i < w->n_sp; i++) {
        int64_t k = w->kernel[i], s = w->stride[i], d = w->dil[i];
        int64_t ek = (k - 1) * d + 1;
        w->in[i] = in[i];
        switch (w->auto_pad) {
        case NNP_PAD_SAME_UPPER:
        case NNP_PAD_SAME_LOWER: {
            int64_t o = in[i] / s + (in[i] % s != 0);
            int64_t total = o > 0 ? (o - 1) * s + ek - in[i] : 0;
            if (total < 0)
                total = 0;
            int64_t small = total / 2;
            w->pad_begin[i] = w->auto_pad == NNP_PAD_SAME_UPPER ? small : total - small;
            w->pad_end[i] = total - w->pad_begin[i];
            w->out[i] = o;
            continue;
        }
        case NNP_PAD_VALID: w->pad_begin[i] = w->pad_end[i] = 0; break;
        case NNP_PAD_NOTSET: break;
        }
        int64_t span = in[i] + w->pad_begin[i] + w->pad_end[i] - ek;
        if (span < 0)
            return nnp_op_error(n,
                                "spatial axis %d: input size %" PRId64 " with pads %" PRId64
                                "+%" PRId64 " is smaller than the kernel extent %" PRId64,
                                i, in[i], w->pad_begin[i], w->pad_end[i], ek);
        int64_t o = span / s + 1;
        if (ceil_mode && span % s != 0) {
            o++;
            /* the last window would start in the end padding: drop it */
            if ((o - 1) * s >= in[i] + w->pad_begin[i])
                o--;
        }
        w->out[i] = o;
    }
    return nnp_window_check(n, w->out, w->n_sp);
}

enum nnp_status nnp_window_check(const struct nnp_exec_node *n, const int64_t *dims, int n_sp)
{
    int64_t p = 1;
    for (int i = 0; i < n_sp; i++)
        if (__builtin_mul_overflow(p, dims[i], &p))
            return nnp_op_error(n, "the output's spatial size overflows");
    return NNP_OK;
}

void nnp_window_flat2d(struct nnp_window *w)
{
    if (w->n_sp != 1)
        return;
    int64_t *fields[] = {w->kernel, w->stride, w->dil, w->pad_begin, w->pad_end, w->in, w->out};
    int64_t unit[] = {1, 1, 1, 0, 0, 1, 1};
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
        fields[f][1] = fields[f][0];
        fields[f][0] = unit[f];
    }
    w->n_sp = 2;
}

int64_t nnp_window_prod(const int64_t *dims, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= dims[i];
    return p;
}

uint16_t nnp_window_lanes(const struct nnp_window *w, int64_t j0, int64_t dy, int64_t dx)
{
    int64_t P = w->out[0] * w->out[1], OW = w->out[1];
    uint16_t m = 0;
    for (int l = 0; l < 16; l++) {
        int64_t j = j0 + l, iy = j / OW * w->stride[0] + dy, ix = j % OW * w->stride[1] + dx;
        if (j < P && iy >= 0 && iy < w->in[0] && ix >= 0 && ix < w->in[1])
            m |= (uint16_t)(1u << l);
    }
    return m;
}
