/* kernels/ops/op_resize.c — Resize: nearest and N-D linear interpolation.
 *
 * Opset 10 takes (X, scales); 11 takes (X, roi, scales[, sizes]) with either
 * scales or sizes non-empty; 13 makes roi and scales optional. The output
 * shape is floor(input * scale) or sizes, so scales/sizes (and roi, for
 * tf_crop_and_resize) must be constant when the plan is made.
 *
 * Prepare turns every output coordinate of every dim into a table entry once:
 * the input index (nearest), or the two input indices and the weight of the
 * upper one (linear), and whether it falls outside the crop box
 * (tf_crop_and_resize, which then yields extrapolation_value). A dim whose
 * weights are all zero is walked like a nearest dim. Forward walks the output
 * row by row: the outer dims give up to 2^k weighted source rows, the last dim
 * is a gather (nearest) or a two-tap blend (linear) — on NCHW input with H and
 * W scaled that is plain bilinear interpolation. The reference kernel sums
 * all 2^rank corners for every output element on its own.
 *
 * Not supported (refused with a message): mode cubic, antialias and axes
 * (opset 18), keep_aspect_ratio_policy other than stretch, and linear on
 * types other than float32. Opset 10 maps coordinates as "asymmetric" and
 * picks the nearest pixel as ONNX Runtime does for that opset: floor when
 * upsampling, ceil when downsampling.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kernels/ops/op_tensor.h"

enum rs_coord { C_HALF_PIXEL, C_PYTORCH_HALF_PIXEL, C_ALIGN_CORNERS, C_ASYMMETRIC,
                C_TF_HALF_PIXEL_FOR_NN, C_TF_CROP_AND_RESIZE };
enum rs_nearest { N_ROUND_PREFER_FLOOR, N_ROUND_PREFER_CEIL, N_FLOOR, N_CEIL, N_SIMPLE };

/* One dim's coordinate table, (out_dim) entries each. */
struct rs_dim {
    int64_t *i0, *i1; /* source indices (i1 only for linear) */
    float *w;         /* weight of i1 (linear) */
    uint8_t *outside; /* 1: outside the crop box (tf_crop_and_resize) */
    bool active;      /* some weight is not 0: blend i0 and i1 */
};

struct rs_state {
    bool linear;
    bool crop;
    int rank;
    size_t es;
    uint8_t extrapolation[16]; /* extrapolation_value as one element of X's dtype */
    int64_t in_st[NNP_MAX_RANK];
    struct rs_dim dim[NNP_MAX_RANK];
};

static const char *const coord_names[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                          "asymmetric", "tf_half_pixel_for_nn",
                                          "tf_crop_and_resize"};
static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                            "ceil"};

static int lookup(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The input coordinate of output coordinate x along one dim. len_out is the
 * resized length before flooring (input * scale when scales are given), as
 * ONNX's reference implementation uses it. */
static double rs_original(enum rs_coord c, double x, double scale, int64_t len_in, double len_out,
                          double roi_start, double roi_end)
{
    switch (c) {
    case C_HALF_PIXEL: return (x + 0.5) / scale - 0.5;
    case C_PYTORCH_HALF_PIXEL: return len_out > 1.0 ? (x + 0.5) / scale - 0.5 : 0.0;
    case C_ALIGN_CORNERS:
        return len_out == 1.0 ? 0.0 : x * (double)(len_in - 1) / (len_out - 1.0);
    case C_ASYMMETRIC: return x / scale;
    case C_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case C_TF_CROP_AND_RESIZE:
        return len_out > 1.0 ? roi_start * (double)(len_in - 1) +
                                   x * (roi_end - roi_start) * (double)(len_in - 1) /
                                       (len_out - 1.0)
                             : 0.5 * (roi_start + roi_end) * (double)(len_in - 1);
    }
    return 0.0;
}

static int64_t rs_nearest(enum rs_nearest m, double x, double scale)
{
    switch (m) {
    case N_ROUND_PREFER_FLOOR: return (int64_t)(x == floor(x) + 0.5 ? floor(x) : round(x));
    case N_ROUND_PREFER_CEIL: return (int64_t)(x == floor(x) + 0.5 ? ceil(x) : round(x));
    case N_FLOOR: return (int64_t)floor(x);
    case N_CEIL: return (int64_t)ceil(x);
    case N_SIMPLE: return (int64_t)(scale < 1.0 ? ceil(x) : floor(x));
    }
    return 0;
}

/* Reads input k (float scales or roi) as doubles; it must be constant. */
static enum nnp_status rs_const_floats(const struct nnp_exec_node *n, int k, const char *what,
                                       double *out, int max, int *count)
{
    const struct nnp_rt_value *v = n->in[k];
    if (!nnp_dtype_is_float(v->dtype))
        return nnp_op_error(n, "Resize %s must be a float tensor, found %s", what,
                            nnp_dtype_name(v->dtype));
    if (!v->is_const || (!v->data && v->numel > 0))
        return nnp_op_unsupported(n, "Resize %s (%s) is computed at run time; this runtime needs "
                                     "it to be a constant (static shapes)",
                                  what, v->name ? v->name : "?");
    if (v->numel != max)
        return nnp_op_error(n, "Resize %s has %" PRId64 " values, %d expected", what, v->numel,
                            max);
    for (int i = 0; i < max; i++)
        out[i] = nnp_elem_get_f64(v->dtype, v->data, i);
    *count = max;
    return NNP_OK;
}

static int given(const struct nnp_exec_node *n, int k)
{
    return nnp_opx_has(n, k) && n->in[k]->numel > 0;
}

static enum nnp_status resize_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "X");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "X");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int r = x->rank;
    struct rs_state *s = nnp_arena_alloc(a, sizeof *s);
    s->rank = r;
    s->es = nnp_dtype_size(x->dtype);

    /* attributes */
    const char *mode, *coord = "half_pixel", *nearest = "round_prefer_floor";
    const char *policy = "stretch";
    int64_t antialias = 0;
    float extrap = 0.0f;
    if ((st = nnp_opx_attr_string(n, "mode", "nearest", &mode)) != NNP_OK)
        return st;
    if (n->opset >= 11) {
        if ((st = nnp_opx_attr_string(n, "coordinate_transformation_mode", coord, &coord)) !=
                NNP_OK ||
            (st = nnp_opx_attr_string(n, "nearest_mode", nearest, &nearest)) != NNP_OK ||
            (st = nnp_opx_attr_float(n, "extrapolation_value", 0.0f, &extrap)) != NNP_OK ||
            (st = nnp_opx_attr_int(n, "antialias", 0, &antialias)) != NNP_OK ||
            (st = nnp_opx_attr_string(n, "keep_aspect_ratio_policy", policy, &policy)) != NNP_OK)
            return st;
    }
    if (strcmp(mode, "cubic") == 0)
        return nnp_op_unsupported(n, "Resize mode \"cubic\" is not supported (nearest, linear)");
    if (strcmp(mode, "linear") == 0)
        s->linear = true;
    else if (strcmp(mode, "nearest") != 0)
        return nnp_op_error(n, "Resize mode \"%s\" is not one of nearest, linear, cubic", mode);
    if (antialias)
        return nnp_op_unsupported(n, "Resize with antialias is not supported");
    if (strcmp(policy, "stretch") != 0)
        return nnp_op_unsupported(n, "Resize keep_aspect_ratio_policy \"%s\" is not supported",
                                  policy);
    if (nnp_node_attr(n->node, "axes"))
        return nnp_op_unsupported(n, "Resize with the attribute axes is not supported");
    int ci = lookup(coord, coord_names, 6);
    if (ci < 0)
        return nnp_op_unsupported(n, "Resize coordinate_transformation_mode \"%s\" is not "
                                     "supported",
                                  coord);
    int ni = lookup(nearest, nearest_names, 4);
    if (ni < 0)
        return nnp_op_error(n, "Resize nearest_mode \"%s\" is not one of round_prefer_floor, "
                               "round_prefer_ceil, floor, ceil",
                            nearest);
    enum rs_coord cm = (enum rs_coord)ci;
    enum rs_nearest nm = (enum rs_nearest)ni;
    if (n->opset < 11) { /* Resize-10 */
        cm = C_ASYMMETRIC;
        nm = N_SIMPLE;
    }
    s->crop = cm == C_TF_CROP_AND_RESIZE;
    if (s->linear && x->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "Resize linear of %s tensors is not supported (float32)",
                                  nnp_dtype_name(x->dtype));
    if (s->crop) {
        if (!nnp_dtype_is_float(x->dtype) && !nnp_dtype_is_int(x->dtype))
            return nnp_op_unsupported(n, "Resize tf_crop_and_resize of %s tensors",
                                      nnp_dtype_name(x->dtype));
        nnp_elem_set_f64(x->dtype, s->extrapolation, 0, extrap);
    }

    /* inputs: scales or sizes, and roi */
    double scales[NNP_MAX_RANK], roi[2 * NNP_MAX_RANK], len_out[NNP_MAX_RANK];
    int64_t dims[NNP_MAX_RANK];
    int cnt;
    int k_scales = n->opset < 11 ? 1 : 2, k_sizes = n->opset < 11 ? -1 : 3;
    bool has_scales = given(n, k_scales), has_sizes = k_sizes > 0 && given(n, k_sizes);
    if (has_scales == has_sizes)
        return nnp_op_error(n, "Resize needs exactly one of scales and sizes, found %s",
                            has_scales ? "both" : "neither");
    if (has_scales) {
        if ((st = rs_const_floats(n, k_scales, "scales", scales, r, &cnt)) != NNP_OK)
            return st;
        for (int i = 0; i < r; i++) {
            if (!(scales[i] > 0) || !isfinite(scales[i]))
                return nnp_op_error(n, "Resize scale %d is %g, it must be > 0 and finite", i,
                                    scales[i]);
            len_out[i] = (double)x->dims[i] * scales[i];
            /* 2^62: far above any tensor set_shape accepts, and exact as an int64 */
            if (len_out[i] >= 0x1p62)
                return nnp_op_error(n, "Resize scale %d (%g) makes dim %d %g long", i,
                                    scales[i], i, len_out[i]);
            dims[i] = (int64_t)floor(len_out[i]);
        }
    } else {
        if ((st = nnp_opx_const_ints(n, k_sizes, "Resize's sizes", dims, NNP_MAX_RANK, &cnt)) !=
            NNP_OK)
            return st;
        if (cnt != r)
            return nnp_op_error(n, "Resize sizes has %d values, X has rank %d", cnt, r);
        for (int i = 0; i < r; i++) {
            if (dims[i] < 0)
                return nnp_op_error(n, "Resize size %d is negative (%" PRId64 ")", i, dims[i]);
            scales[i] = x->dims[i] ? (double)dims[i] / (double)x->dims[i] : 1.0;
            len_out[i] = (double)dims[i];
        }
    }
    for (int i = 0; i < r; i++)
        roi[i] = 0.0, roi[r + i] = 1.0;
    if (s->crop) {
        if (!given(n, 1))
            return nnp_op_error(n, "Resize tf_crop_and_resize needs roi");
        if ((st = rs_const_floats(n, 1, "roi", roi, 2 * r, &cnt)) != NNP_OK)
            return st;
        for (int i = 0; i < 2 * r; i++)
            if (!isfinite(roi[i]))
                return nnp_op_error(n, "Resize roi value %d is %g, expected a finite number", i,
                                    roi[i]);
    }
    if ((st = nnp_rt_set_shape(n->out[0], x->dtype, r, dims)) != NNP_OK)
        return st;
    /* linear: the reference kernel blends all 2^rank corners of every output */
    if (s->linear)
        n->work = nnp_work_prod(2, (int64_t[]){n->out[0]->numel, (int64_t)1 << r});
    for (int i = 0; i < r; i++)
        if (dims[i] > 0 && x->dims[i] == 0)
            return nnp_op_error(n, "Resize of an empty dim %d to %" PRId64, i, dims[i]);

    /* the coordinate tables */
    int64_t stride = 1;
    for (int d = r - 1; d >= 0; d--) {
        s->in_st[d] = stride;
        stride *= x->dims[d];
    }
    for (int d = 0; d < r; d++) {
        struct rs_dim *t = &s->dim[d];
        int64_t len = dims[d], len_in = x->dims[d];
        size_t cells = (size_t)(len ? len : 1);
        t->i0 = nnp_arena_alloc_big(a, cells * sizeof *t->i0);
        t->i1 = nnp_arena_alloc_big(a, cells * sizeof *t->i1);
        t->w = nnp_arena_alloc_big(a, cells * sizeof *t->w);
        t->outside = nnp_arena_alloc_big(a, cells);
        if (!t->i0 || !t->i1 || !t->w || !t->outside)
            return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory for Resize tables",
                              n->node->name);
        for (int64_t o = 0; o < len; o++) {
            double xo = rs_original(cm, (double)o, scales[d], len_in, len_out[d], roi[d],
                                    roi[r + d]);
            if (s->crop && (xo < 0.0 || xo > (double)(len_in - 1)))
                t->outside[o] = 1;
            if (!s->linear) {
                /* a tiny scale maps far outside the input, past what an int64 holds; any
                 * index outside is clamped to the edge below anyway */
                double xn = xo < -1.0 ? -1.0 : xo > (double)len_in ? (double)len_in : xo;
                int64_t i = rs_nearest(nm, xn, scales[d]);
                t->i0[o] = t->i1[o] = i < 0 ? 0 : i >= len_in ? len_in - 1 : i;
                continue;
            }
            xo = xo < 0.0 ? 0.0 : xo > (double)(len_in - 1) ? (double)(len_in - 1) : xo;
            int64_t i0 = (int64_t)floor(xo);
            t->i0[o] = i0;
            t->i1[o] = i0 + 1 < len_in ? i0 + 1 : i0;
            t->w[o] = (float)(xo - (double)i0);
            if (t->w[o] != 0.0f)
                t->active = true;
        }
    }
    n->state = s;
    return NNP_OK;
}

/* at most 2^(rank-1) weighted source rows per output row */
#define RS_MAX_CORNERS (1 << (NNP_MAX_RANK - 1))

static enum nnp_status resize_forward(struct nnp_exec_node *n)
{
    const struct rs_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (y->numel == 0)
        return NNP_OK;
    int r = s->rank;
    size_t es = s->es;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return NNP_OK;
    }
    const struct rs_dim *last = &s->dim[r - 1];
    int64_t ow = y->dims[r - 1];
    int64_t idx[NNP_MAX_RANK] = {0};
    int64_t off[RS_MAX_CORNERS];
    float wt[RS_MAX_CORNERS];
    char *o = y->data;
    for (int64_t row = 0; row < y->numel / ow; row++, o += (size_t)ow * es) {
        int nc = 1;
        off[0] = 0, wt[0] = 1.0f;
        bool outside = false;
        for (int d = 0; d < r - 1; d++) {
            const struct rs_dim *t = &s->dim[d];
            int64_t c = idx[d];
            outside |= s->crop && t->outside[c];
            if (s->linear && t->active) { /* each corner splits in two */
                for (int k = 0; k < nc; k++) {
                    off[nc + k] = off[k] + t->i1[c] * s->in_st[d];
                    wt[nc + k] = wt[k] * t->w[c];
                    off[k] += t->i0[c] * s->in_st[d];
                    wt[k] *= 1.0f - t->w[c];
                }
                nc *= 2;
            } else {
                for (int k = 0; k < nc; k++)
                    off[k] += t->i0[c] * s->in_st[d];
            }
        }
        if (outside) {
            nnp_elem_fill(o, s->extrapolation, es, ow);
        } else if (!s->linear) {
            const char *src = (const char *)x->data + (size_t)off[0] * es;
            if (es == 4) {
                const float *sf = (const float *)(const void *)src;
                float *of = (float *)(void *)o;
                for (int64_t c = 0; c < ow; c++)
                    of[c] = sf[last->i0[c]];
            } else {
                for (int64_t c = 0; c < ow; c++)
                    nnp_elem_copy(o + (size_t)c * es, src + (size_t)last->i0[c] * es, es);
            }
            if (s->crop)
                for (int64_t c = 0; c < ow; c++)
                    if (last->outside[c])
                        nnp_elem_copy(o + (size_t)c * es, s->extrapolation, es);
        } else {
            const float *in = x->data;
            float *of = (float *)(void *)o, ev;
            memcpy(&ev, s->extrapolation, sizeof ev);
            for (int64_t c = 0; c < ow; c++) {
                int64_t i0 = last->i0[c], i1 = last->i1[c];
                float w = last->w[c], v = 0.0f;
                for (int k = 0; k < nc; k++) {
                    const float *p = in + off[k];
                    v += wt[k] * (p[i0] + w * (p[i1] - p[i0]));
                }
                of[c] = s->crop && last->outside[c] ? ev : v;
            }
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return NNP_OK;
}

/* Every output element on its own: all 2^rank corners, weights multiplied out. */
static enum nnp_status resize_reference(struct nnp_exec_node *n)
{
    const struct rs_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    int r = s->rank;
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t c[NNP_MAX_RANK], rem = i;
        bool outside = false;
        for (int d = r - 1; d >= 0; d--) {
            c[d] = rem % y->dims[d];
            rem /= y->dims[d];
            outside |= s->crop && s->dim[d].outside[c[d]];
        }
        char *dst = (char *)y->data + (size_t)i * s->es;
        if (outside) {
            nnp_elem_copy(dst, s->extrapolation, s->es);
            continue;
        }
        if (!s->linear) {
            int64_t off = 0;
            for (int d = 0; d < r; d++)
                off += s->dim[d].i0[c[d]] * s->in_st[d];
            nnp_elem_copy(dst, (const char *)x->data + (size_t)off * s->es, s->es);
            continue;
        }
        double v = 0.0;
        for (int corner = 0; corner < (1 << r); corner++) {
            double w = 1.0;
            int64_t off = 0;
            for (int d = 0; d < r; d++) {
                const struct rs_dim *t = &s->dim[d];
                bool up = (corner >> d) & 1;
                w *= up ? t->w[c[d]] : 1.0 - t->w[c[d]];
                off += (up ? t->i1[c[d]] : t->i0[c[d]]) * s->in_st[d];
            }
            if (w != 0.0)
                v += w * ((const float *)x->data)[off];
        }
        *(float *)(void *)dst = (float)v;
    }
    return NNP_OK;
}

/* roi, scales and sizes decide the output shape */
const struct nnp_op nnp_op_Resize = {
    .name = "Resize",
    .min_in = 1,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .prepare = resize_prepare,
    .forward = resize_forward,
    .reference = resize_reference,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1) | NNP_SLOT(2) | NNP_SLOT(3),
};
