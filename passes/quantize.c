/* passes/quantize.c — int8 quantization in QDQ form (QuantizeLinear /
 * DequantizeLinear pairs around float operators), which ONNX Runtime runs and
 * fuses into its integer kernels, and nnpress's runtime runs as written; or with
 * format=qop in operator form (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger).
 *
 * What is quantized: the nodes of `ops` (Conv, Gemm, MatMul by default) whose weight
 * is a float32 constant (an initializer or a Constant node), less `exclude`, and of
 * those only the ones `only` names when it is given:
 *
 *   weights   int8, symmetric (zero point 0): scale = max|w| / 127 per output channel
 *             (per_channel=1; Conv's axis 0, Gemm's and MatMul's output-channel axis) or
 *             per tensor, w_q = saturate(round(w / scale)) in [-127, 127]; the node then
 *             reads DequantizeLinear(w_q). A weight shared by several nodes is quantized
 *             once. type=uint8 instead: uint8 with a zero point per channel (or tensor),
 *             its range widened to hold 0, scale = (max - min) / 255, zero_point =
 *             round(-min / scale), w_q = saturate(round(w / scale) + zero_point); the rest
 *             as for int8. (nnpress's integer kernels take int8 weights with zero point 0:
 *             such layers run in nnpress as written, dequantized into float.)
 *   mode=weight  that only: integer weights (a quarter of the bytes), float compute.
 *   mode=dynamic  Gemm and MatMul (by default) in ONNX Runtime's dynamic form:
 *             DynamicQuantizeLinear of the activation at run time (uint8, its range
 *             that of the tensor at hand: results depend on the batch), MatMulInteger
 *             by the int8 weight, Cast, Mul by the two scales (dynamic_node).
 *   mode=static  also each such node's activation input, with a range calibrated on
 *             --data (calib_samples samples, the float model run on them a batch at a
 *             time, keeping only a running minimum and maximum per tensor: memory does
 *             not grow with the samples; calib=percentile|entropy|mse read them twice,
 *             the second time into a histogram of 2048 bins over that range, and take
 *             from it: percentile, the range that leaves (100 - percentile) / 2 % of the
 *             values out at each end; entropy and mse, of the ranges [lo f, hi f]
 *             ([-m f, m f], m = max|x|, when symmetric) for f = k / 2048 down to where a
 *             quantization step is narrower than a bin, the one of least cost on the
 *             grid that range gives (scale, zero point as below): entropy, the KL
 *             divergence from the clipped histogram P (the outliers added to its end
 *             bins) to Q, the bins inside as the grid sees them (the count of each level
 *             spread over its nonempty bins; the outliers left out), TensorRT's method
 *             on 256 levels (255 when symmetric) instead of 128 of |x|; mse, the expected
 *             squared error, scale^2 / 12 for each value inside and (x - end)^2 for each
 *             value clipped; on equal costs the widest range):
 *             QuantizeLinear then DequantizeLinear, uint8
 *             with a zero point (activations=asymmetric, the range widened to hold 0:
 *             scale = (max - min) / 255, zero_point = round(-min / scale)) or int8 with
 *             zero point 0 (symmetric: scale = max|x| / 127); and the bias, int32 at
 *             scale x_scale * w_scale (as ONNX Runtime's integer kernels add it), when
 *             it fits and Gemm's alpha and beta are 1.
 *
 * format=qop writes the same arithmetic as ONNX's integer operators, which both runtimes
 * run: mode=static calibrates each target's output too, and a Conv becomes QLinearConv
 * (int32 bias), a MatMul or a Gemm without C QLinearMatMul, a Gemm with C QLinearMatMul
 * then an Add of C in float (qop_node says why); the output is dequantized for float
 * readers only, and a target reading another's output takes its 8 bits as they are; a
 * Relu alone after a target is folded into it when activations are asymmetric (relu_after).
 * mode=dynamic is operator form already, and with qop quantizes a Conv too, as ConvInteger
 * (dynamic_conv), when ops= names it (not by default: nnpress's runtime runs ConvInteger
 * as a direct loop). mode=weight has none: a usage error.
 *
 * type=fp16 instead stores float weights as float16, or (compute=fp16) runs the whole
 * float graph in float16 after a safety scan (passes/quantize_fp16.c). The mode, format,
 * calibration and activation options do not apply.
 *
 * Sensitivity (passes/quantize.h): the pass is split into a plan (the targets and their
 * calibrated ranges, made once on the float graph) and its application to the graph or
 * to a copy of it with some targets skipped, so that each target can be quantized alone
 * in a copy and measured (passes/measure.c) without calibrating again. max_accuracy_drop
 * ranks the targets so, then skips the most sensitive one at a time until the measured
 * top-1 drop is small enough, and applies that to the graph.
 *
 * Every candidate left in float is reported on stderr with the reason (unless
 * --quiet), counted in the pass's statistics and, for int8, listed with it in the
 * report's kept_float (nnp_pass_keep()). A model that already holds
 * quantized operators is refused, as is static mode without data. */
#include "pass.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/array.h"
#include "formats/dataset.h"
#include "formats/onnx.h"
#include "kernels/runtime.h"
#include "passes/quantize.h"
#include "passes/quantize_fp16.h"

enum { OPT_TYPE, OPT_MODE, OPT_FORMAT, OPT_PER_CHANNEL, OPT_ACTIVATIONS, OPT_CALIB,
       OPT_PERCENTILE, OPT_CALIB_SAMPLES, OPT_OPS, OPT_EXCLUDE, OPT_ONLY, OPT_MAX_DROP,
       OPT_COMPUTE, OPT_KEEP_IO };
enum { TYPE_INT8, TYPE_UINT8, TYPE_FP16 };
enum { MODE_STATIC, MODE_WEIGHT, MODE_DYNAMIC };
enum { FORMAT_QDQ, FORMAT_QOP };
enum { ACT_ASYMMETRIC, ACT_SYMMETRIC };
enum { CALIB_MINMAX, CALIB_PERCENTILE, CALIB_ENTROPY, CALIB_MSE };

static const struct nnp_pass_opt quantize_opts[] = {
    [OPT_TYPE] = {"type", NNP_OPT_CHOICE, "int8", 0, 0, "int8|uint8|fp16",
                  "int8 (symmetric weights), uint8 (weights with zero points), or fp16: "
                  "weights stored as float16, computed in float32"},
    [OPT_MODE] = {"mode", NNP_OPT_CHOICE, "static", 0, 0, "static|weight|dynamic",
                  "static: weights and activations calibrated on --data; weight: weights only; "
                  "dynamic: activations quantized at run time"},
    [OPT_FORMAT] = {"format", NNP_OPT_CHOICE, "qdq", 0, 0, "qdq|qop",
                    "qdq: QuantizeLinear/DequantizeLinear around float operators; qop: integer "
                    "operators (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger)"},
    [OPT_PER_CHANNEL] = {"per_channel", NNP_OPT_BOOL, "1", 0, 1, NULL,
                         "a weight scale per output channel (else one per tensor)"},
    [OPT_ACTIVATIONS] = {"activations", NNP_OPT_CHOICE, "asymmetric", 0, 0,
                         "asymmetric|symmetric",
                         "activations as uint8 with a zero point, or int8 around 0"},
    [OPT_CALIB] = {"calib", NNP_OPT_CHOICE, "minmax", 0, 0, "minmax|percentile|entropy|mse",
                   "activation ranges: the extremes seen, percentiles of the values, or the "
                   "clip of least KL divergence (entropy) or squared error (mse)"},
    [OPT_PERCENTILE] = {"percentile", NNP_OPT_FLOAT, "99.99", 50, 100, NULL,
                        "calib=percentile: the share of values inside the range, in %"},
    [OPT_CALIB_SAMPLES] = {"calib_samples", NNP_OPT_INT, "1000", 1, 1e9, NULL,
                           "calibration samples read from --data (fewer if it has fewer)"},
    [OPT_OPS] = {"ops", NNP_OPT_STRING, "", 0, 0, NULL,
                 "the operator types to quantize, '+'-separated (default Conv+Gemm+MatMul; "
                 "Gemm+MatMul in dynamic mode)"},
    [OPT_EXCLUDE] = {"exclude", NNP_OPT_STRING, "", 0, 0, NULL,
                     "node names or operator types kept in float, '+'-separated"},
    [OPT_ONLY] = {"only", NNP_OPT_STRING, "", 0, 0, NULL,
                  "quantize only these node names or operator types, '+'-separated "
                  "(default: every candidate)"},
    [OPT_MAX_DROP] = {"max_accuracy_drop", NNP_OPT_FLOAT, "100", 0, 100, NULL,
                      "keep the most sensitive nodes in float until top-1 on --data and "
                      "--labels is at most this many points below float's (100: no check)"},
    [OPT_COMPUTE] = {"compute", NNP_OPT_CHOICE, "fp32", 0, 0, "fp32|fp16",
                     "type=fp16: fp32 (weights of ops= in float16, read through Cast), or fp16 "
                     "(the whole float graph in float16, nodes the --data scan finds beyond "
                     "its range kept float32)"},
    [OPT_KEEP_IO] = {"keep_io", NNP_OPT_BOOL, "1", 0, 1, NULL,
                     "compute=fp16: the graph's inputs and outputs stay float32 (Casts at "
                     "the edges); 0: they become float16"},
};

#define CALIB_BATCH 100

/* One node to quantize. */
struct target {
    struct nnp_node *n;
    int axis;  /* the weight's output-channel axis */
    bool bias; /* input 2 is a float32 constant with one value per output channel */
    int act;   /* index into the calibrated activations, or -1 */
    int out;   /* format=qop, mode=static: that of its output, or -1 */
    int relu;  /* format=qop: the index of the Relu folded into it (the output's range is
                  the Relu's), or -1 */
    struct nnp_node *relu_node; /* that Relu, in the graph being rewritten */
};

/* A calibrated activation: a value some target reads as its input 0. */
#define CALIB_BINS 2048

struct act_range {
    struct nnp_value *v;
    double lo, hi;
    uint64_t *hist; /* but for minmax: CALIB_BINS counts over [lo, hi] of the first pass */
    float scale;
    int32_t zp;
    struct nnp_value *sv, *zv; /* its scale and zero point as constants, once made */
    struct nnp_value *q;       /* it in 8 bits: its QuantizeLinear, or the quantized node
                                  that makes it (format=qop) */
    struct nnp_value *dq;      /* its DequantizeLinear output, once made */
    struct nnp_value *dyn[3];  /* mode=dynamic: its DynamicQuantizeLinear outputs */
};

/* `name` is one of the '+'-separated items of `list` */
static bool in_list(const char *list, const char *name)
{
    return nnp_pass_in_list(list, name);
}

static bool quantized_op(const char *op)
{
    static const char *const ops[] = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                      "QLinearConv", "QLinearMatMul", "ConvInteger",
                                      "MatMulInteger"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

static void keep_float(const struct nnp_node *n, const char *why, bool quiet, int *count)
{
    (*count)++;
    if (!quiet)
        fprintf(stderr, "quantize: %s (%s) stays float32: %s\n", *n->name ? n->name : "(unnamed)",
                n->op_type, why);
}

/* keep_float(), and n in rec's kept_float list (rec NULL: no list) */
static enum nnp_status keep_listed(struct nnp_pass_record *rec, const struct nnp_node *n,
                                   const char *why, bool quiet, int *count)
{
    keep_float(n, why, quiet, count);
    return nnp_pass_keep(rec, n, why);
}

/* Can n be quantized? Sets t (axis, bias) or says why not. */
static const char *target_check(const struct nnp_node *n, struct target *t)
{
    const struct nnp_tensor *w = n->n_inputs > 1 ? nnp_pass_f32_const(n->inputs[1]) : NULL;
    if (!w)
        return n->n_inputs > 1 && n->inputs[1] && !nnp_value_constant(n->inputs[1])
                   ? "its second operand is computed, not a constant weight"
                   : "its weight is not a float32 constant";
    if (!n->inputs[0] || nnp_value_constant(n->inputs[0]))
        return "its input is a constant";
    if (strcmp(n->op_type, "Conv") == 0) {
        if (w->rank < 3)
            return "its weight is not a convolution kernel";
        t->axis = 0;
    } else if (strcmp(n->op_type, "Gemm") == 0) {
        if (nnp_node_attr_int(n, "transA", 0) != 0)
            return "transA = 1 (the weight is not the second operand)";
        if (w->rank != 2)
            return "its weight is not 2-D";
        t->axis = nnp_node_attr_int(n, "transB", 0) ? 0 : 1;
    } else if (strcmp(n->op_type, "MatMul") == 0) {
        if (w->rank != 2)
            return "its weight is not 2-D (a batch of matrices)";
        t->axis = 1;
    } else {
        return "no quantized form of this operator";
    }
    int64_t channels = w->dims[t->axis];
    const struct nnp_tensor *b = n->n_inputs > 2 ? nnp_pass_f32_const(n->inputs[2]) : NULL;
    t->bias = b && b->rank == 1 && b->dims[0] == channels &&
              (strcmp(n->op_type, "Gemm") != 0 || (nnp_node_attr_float(n, "alpha", 1.0f) == 1.0f &&
                                                   nnp_node_attr_float(n, "beta", 1.0f) == 1.0f));
    return NULL;
}

/* --- new values and nodes --- */

static struct nnp_value *new_const(struct nnp_graph *g, const char *base, const char *suffix,
                                   enum nnp_dtype dt, int rank, const int64_t *dims,
                                   enum nnp_status *st)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s_%s", base, suffix);
    struct nnp_value *v = nnp_graph_new_value(g, prefix);
    nnp_tensor_set_shape(&v->t, dt, rank, dims);
    if ((*st = nnp_tensor_alloc(g, &v->t)) != NNP_OK)
        return NULL;
    v->is_initializer = true;
    v->has_type = true;
    return v;
}

/* op(in[0..n_in)) into `out`, a node named `base`_`what` */
static struct nnp_node *add_node_to(struct nnp_graph *g, const char *op, const char *base,
                                    const char *what, int n_in, struct nnp_value **in,
                                    int n_out, struct nnp_value **out)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", base, what);
    struct nnp_node *node = nnp_graph_add_node(g, op, nnp_graph_strdup(g, name));
    nnp_node_set_io(g, node, n_in, in, n_out, out);
    return node;
}

/* out = op(in[0..n_in)), a new value named `base`_`suffix`; the node is named after the
 * op (`base`_DequantizeLinear), or with `step` after the output too (the several Mul
 * steps of one rewritten node) */
static struct nnp_value *add_value_node(struct nnp_graph *g, const char *op, const char *base,
                                        const char *suffix, bool step, int n_in,
                                        struct nnp_value **in)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", base, suffix);
    struct nnp_value *out = nnp_graph_new_value(g, name);
    add_node_to(g, op, base, step ? suffix : op, n_in, in, 1, &out);
    return out;
}

static struct nnp_value *add_node(struct nnp_graph *g, const char *op, const char *base,
                                  const char *suffix, int n_in, struct nnp_value **in)
{
    return add_value_node(g, op, base, suffix, false, n_in, in);
}

static struct nnp_value *add_step(struct nnp_graph *g, const char *op, const char *base,
                                  const char *suffix, int n_in, struct nnp_value **in)
{
    return add_value_node(g, op, base, suffix, true, n_in, in);
}

static void set_axis(struct nnp_graph *g, struct nnp_value *out, int64_t axis)
{
    struct nnp_node *dq = g->nodes[g->n_nodes - 1];
    NNP_ASSERT(dq->outputs[0] == out);
    nnp_node_set_attr(g, dq, "axis", NNP_ATTR_INT)->i = axis;
}

/* The 8-bit values and scales of weight wv: w_q (wv's shape, or transposed [K, N] for a
 * 2-D weight with `transpose`), scale per channel of `axis` (or one) and a zero point
 * shaped as the scale: int8 symmetric, zeros (none with `no_zp`), or with `u8` uint8
 * over each channel's range widened to hold 0 (always given). */
struct qweight {
    struct nnp_value *q, *scale, *zp;
};

/* scale and zero point of each channel's range [lo, hi] (which holds 0): int8 symmetric
 * (zero point 0) or uint8 */
static void weight_params(const double *lo, const double *hi, int64_t channels, bool u8,
                          float *scale, int32_t *zp)
{
    for (int64_t c = 0; c < channels; c++) {
        double a = fmax(-lo[c], hi[c]), span = hi[c] - lo[c];
        zp[c] = 0;
        if (!u8) {
            scale[c] = a > 0 ? (float)(a / 127.0) : 1.0f;
            continue;
        }
        scale[c] = span > 0 ? (float)(span / 255.0) : 1.0f;
        double z = nearbyint(-lo[c] / (double)scale[c]);
        zp[c] = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    }
}

static enum nnp_status weight_values(struct nnp_graph *g, struct nnp_value *wv, int axis,
                                     bool per_channel, bool transpose, bool no_zp, bool u8,
                                     struct qweight *out)
{
    const struct nnp_tensor *w = nnp_value_constant(wv);
    int64_t channels = per_channel ? w->dims[axis] : 1, inner = 1, numel = nnp_tensor_numel(w);
    for (int i = axis + 1; i < w->rank; i++)
        inner *= w->dims[i];
    if (!per_channel)
        inner = numel;
    const float *x = w->data;
    enum nnp_status st = NNP_OK;
    int64_t qd[NNP_MAX_RANK];
    memcpy(qd, w->dims, sizeof qd);
    if (transpose) {
        qd[0] = w->dims[1];
        qd[1] = w->dims[0];
    }
    int scale_rank = per_channel ? 1 : 0;
    enum nnp_dtype qt = u8 ? NNP_DTYPE_U8 : NNP_DTYPE_I8;
    out->q = new_const(g, wv->name, "quantized", qt, w->rank, qd, &st);
    out->scale = out->q ? new_const(g, wv->name, "scale", NNP_DTYPE_F32, scale_rank, &channels, &st)
                        : NULL;
    out->zp = out->scale && (u8 || !no_zp) ? new_const(g, wv->name, "zero_point", qt,
                                                       scale_rank, &channels, &st)
                                           : NULL;
    if (st != NNP_OK)
        return st;
    float *scale = out->scale->t.data;
    /* element i belongs to channel (i / inner) % channels */
    double *lo = calloc((size_t)channels * 2, sizeof *lo), *hi = lo + channels;
    int32_t *zp = calloc((size_t)channels, sizeof *zp);
    if (!lo || !zp) {
        free(lo);
        free(zp);
        return nnp_errorf(NNP_ERR_NOMEM, "no memory for %" PRId64 " weight scales", channels);
    }
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = i / inner % channels;
        lo[c] = x[i] < lo[c] ? x[i] : lo[c];
        hi[c] = x[i] > hi[c] ? x[i] : hi[c];
    }
    weight_params(lo, hi, channels, u8, scale, zp);
    float qmin = u8 ? 0.0f : -127.0f, qmax = u8 ? 255.0f : 127.0f;
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = i / inner % channels;
        float v = nearbyintf(x[i] / scale[c]) + (float)zp[c];
        v = v > qmax ? qmax : v < qmin ? qmin : v;
        int64_t at = transpose ? i % w->dims[1] * w->dims[0] + i / w->dims[1] : i;
        if (u8)
            ((uint8_t *)out->q->t.data)[at] = (uint8_t)v;
        else
            ((int8_t *)out->q->t.data)[at] = (int8_t)v;
    }
    for (int64_t c = 0; u8 && c < channels; c++)
        ((uint8_t *)out->zp->t.data)[c] = (uint8_t)zp[c];
    free(lo);
    free(zp);
    return NNP_OK;
}

/* The weight of a target, quantized and read through DequantizeLinear: its output.
 * *scales: the float scales. */
static struct nnp_value *quantize_weight(struct nnp_graph *g, struct nnp_value *wv, int axis,
                                         bool per_channel, bool u8, const float **scales,
                                         enum nnp_status *st)
{
    struct qweight w;
    if ((*st = weight_values(g, wv, axis, per_channel, false, false, u8, &w)) != NNP_OK)
        return NULL;
    *scales = w.scale->t.data;
    struct nnp_value *out_v = add_node(g, "DequantizeLinear", wv->name, "dequantized", 3,
                                       (struct nnp_value *[]){w.q, w.scale, w.zp});
    if (per_channel)
        set_axis(g, out_v, axis);
    return out_v;
}

/* int32 bias at scale x_scale * w_scale[c], or NULL (and st OK) when a value would not
 * fit int32; *scale_v (unless NULL) gets those scales as a constant */
static struct nnp_value *bias_int32(struct nnp_graph *g, struct nnp_value *bv, float x_scale,
                                    const float *w_scale, bool per_channel,
                                    struct nnp_value **scale_v, enum nnp_status *st)
{
    const struct nnp_tensor *b = nnp_value_constant(bv);
    int64_t channels = b->dims[0];
    const float *x = b->data;
    for (int64_t c = 0; c < channels; c++) {
        double s = (double)(x_scale * w_scale[per_channel ? c : 0]);
        if (!(s > 0) || fabs(x[c] / s) > 2147483000.0)
            return NULL;
    }
    struct nnp_value *q = new_const(g, bv->name, "quantized", NNP_DTYPE_I32, 1, &channels, st);
    struct nnp_value *sv = q && scale_v ? new_const(g, bv->name, "scale", NNP_DTYPE_F32, 1,
                                                    &channels, st)
                                        : NULL;
    if (!q || (scale_v && !sv))
        return NULL;
    int32_t *out = q->t.data;
    for (int64_t c = 0; c < channels; c++) {
        float scale = x_scale * w_scale[per_channel ? c : 0];
        out[c] = (int32_t)nearbyint((double)x[c] / (double)scale);
        if (sv)
            ((float *)sv->t.data)[c] = scale;
    }
    if (scale_v)
        *scale_v = sv;
    return q;
}

/* the bias as int32 read through DequantizeLinear, or NULL (st OK) when it would not fit */
static struct nnp_value *quantize_bias(struct nnp_graph *g, struct nnp_value *bv, float x_scale,
                                       const float *w_scale, bool per_channel,
                                       enum nnp_status *st)
{
    struct nnp_value *sv = NULL;
    struct nnp_value *q = bias_int32(g, bv, x_scale, w_scale, per_channel, &sv, st);
    if (!q)
        return NULL;
    struct nnp_value *out_v = add_node(g, "DequantizeLinear", bv->name, "dequantized", 2,
                                       (struct nnp_value *[]){q, sv});
    set_axis(g, out_v, 0);
    return out_v;
}

/* a->dyn: DynamicQuantizeLinear of a's value, made once */
static void dynamic_input(struct nnp_graph *g, struct act_range *a)
{
    if (a->dyn[0])
        return;
    static const char *const suffix[3] = {"quantized", "scale", "zero_point"};
    for (int k = 0; k < 3; k++) {
        char name[512];
        snprintf(name, sizeof name, "%s_%s", a->v->name, suffix[k]);
        a->dyn[k] = nnp_graph_new_value(g, name);
    }
    add_node_to(g, "DynamicQuantizeLinear", a->v->name, "DynamicQuantizeLinear", 1, &a->v, 3,
                a->dyn);
}

/* mode=dynamic: node n (MatMul, or Gemm with transA = 0) becomes what ONNX Runtime's
 * dynamic quantization writes,
 *   xq, x_scale, x_zero_point = DynamicQuantizeLinear(x)      (once per activation x)
 *   y = Cast(MatMulInteger(xq, w_q, x_zero_point)) * (x_scale * w_scale)  [+ beta C]
 * with w_q [K, N] (a Gemm's transposed B turned around), w_scale per column or one
 * (times Gemm's alpha). The last node writes n's own output, so names are kept. */
static enum nnp_status dynamic_node(struct nnp_graph *g, const struct target *t,
                                    struct act_range *a, bool per_channel, bool u8)
{
    struct nnp_node *n = t->n;
    bool gemm = strcmp(n->op_type, "Gemm") == 0;
    bool trans = gemm && nnp_node_attr_int(n, "transB", 0) != 0;
    float alpha = gemm ? nnp_node_attr_float(n, "alpha", 1.0f) : 1.0f;
    float beta = gemm ? nnp_node_attr_float(n, "beta", 1.0f) : 1.0f;
    struct nnp_value *c = gemm && n->n_inputs > 2 ? n->inputs[2] : NULL;
    const char *base = *n->name ? n->name : n->outputs[0]->name;
    struct qweight w;
    enum nnp_status st = weight_values(g, n->inputs[1], t->axis, per_channel, trans, true, u8,
                                       &w);
    if (st != NNP_OK)
        return st;
    if (alpha != 1.0f) {
        float *sc = w.scale->t.data;
        for (int64_t k = 0; k < nnp_tensor_numel(&w.scale->t); k++)
            sc[k] *= alpha;
    }
    dynamic_input(g, a);
    struct nnp_value *acc = add_step(g, "MatMulInteger", base, "int32", w.zp ? 4 : 3,
                                     (struct nnp_value *[]){a->dyn[0], w.q, a->dyn[2], w.zp});
    struct nnp_value *accf = add_step(g, "Cast", base, "sum", 1, &acc);
    nnp_node_set_attr(g, g->nodes[g->n_nodes - 1], "to", NNP_ATTR_INT)->i = 1; /* FLOAT */
    struct nnp_value *scale = add_step(g, "Mul", base, "scale", 2,
                                       (struct nnp_value *[]){a->dyn[1], w.scale});
    struct nnp_value *out = n->outputs[0];
    nnp_graph_remove_node(g, n);
    if (!c) {
        add_node_to(g, "Mul", base, "Mul", 2, (struct nnp_value *[]){accf, scale}, 1, &out);
        return NNP_OK;
    }
    struct nnp_value *y = add_step(g, "Mul", base, "product", 2,
                                   (struct nnp_value *[]){accf, scale});
    if (beta != 1.0f) { /* a constant C (dynamic_ok), scaled once here */
        const struct nnp_tensor *ct = nnp_value_constant(c);
        struct nnp_value *bc = new_const(g, c->name, "scaled", NNP_DTYPE_F32, ct->rank, ct->dims,
                                         &st);
        if (!bc)
            return st;
        for (int64_t k = 0; k < nnp_tensor_numel(ct); k++)
            ((float *)bc->t.data)[k] = beta * ((const float *)ct->data)[k];
        c = bc;
    }
    add_node_to(g, "Add", base, "Add", 2, (struct nnp_value *[]){y, c}, 1, &out);
    return NNP_OK;
}

/* mode=dynamic, format=qop: Conv n becomes
 *   xq, x_scale, x_zero_point = DynamicQuantizeLinear(x)      (once per activation x)
 *   y = Cast(ConvInteger(xq, w_q, x_zero_point[, w_zero_point])) * (x_scale * w_scale) [+ B]
 * (n itself turned ConvInteger, its attributes kept), w_scale and B shaped [M, 1, ...] to
 * broadcast over the output's channels. The last node writes n's own output. */
static enum nnp_status dynamic_conv(struct nnp_graph *g, const struct target *t,
                                    struct act_range *a, bool per_channel, bool u8)
{
    struct nnp_node *n = t->n;
    const char *base = *n->name ? n->name : n->outputs[0]->name;
    const struct nnp_tensor *wt = nnp_value_constant(n->inputs[1]);
    struct nnp_value *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *out = n->outputs[0];
    struct qweight w;
    enum nnp_status st = weight_values(g, n->inputs[1], 0, per_channel, false, true, u8, &w);
    if (st != NNP_OK)
        return st;
    int64_t shape[NNP_MAX_RANK] = {wt->dims[0]};
    for (int k = 1; k < wt->rank - 1; k++)
        shape[k] = 1;
    if (per_channel) /* [M] -> [M, 1, ...]: the same values */
        nnp_tensor_set_shape(&w.scale->t, NNP_DTYPE_F32, wt->rank - 1, shape);
    dynamic_input(g, a);
    struct nnp_value *acc = nnp_graph_new_value(g, base);
    struct nnp_value *in[4] = {a->dyn[0], w.q, a->dyn[2], w.zp};
    n->op_type = "ConvInteger";
    nnp_node_set_io(g, n, w.zp ? 4 : 3, in, 1, &acc);
    struct nnp_value *accf = add_step(g, "Cast", base, "sum", 1, &acc);
    nnp_node_set_attr(g, g->nodes[g->n_nodes - 1], "to", NNP_ATTR_INT)->i = 1; /* FLOAT */
    struct nnp_value *scale = add_step(g, "Mul", base, "scale", 2,
                                       (struct nnp_value *[]){a->dyn[1], w.scale});
    if (!b) {
        add_node_to(g, "Mul", base, "Mul", 2, (struct nnp_value *[]){accf, scale}, 1, &out);
        return NNP_OK;
    }
    struct nnp_value *y = add_step(g, "Mul", base, "product", 2,
                                   (struct nnp_value *[]){accf, scale});
    const struct nnp_tensor *bt = nnp_value_constant(b);
    struct nnp_value *bc = new_const(g, b->name, "channels", NNP_DTYPE_F32, wt->rank - 1, shape,
                                     &st);
    if (!bc)
        return st;
    memcpy(bc->t.data, bt->data, (size_t)wt->dims[0] * sizeof(float));
    add_node_to(g, "Add", base, "Add", 2, (struct nnp_value *[]){y, bc}, 1, &out);
    return NNP_OK;
}

/* What dynamic mode takes beyond target_check: MatMul and Gemm, and with format=qop Conv
 * (its B a constant per channel, and with type=uint8 one weight zero point: ONNX Runtime's
 * ConvInteger takes no more); a Gemm's C used as it is or a constant to scale by beta. */
static const char *dynamic_check(const struct nnp_node *n, const struct target *t, bool qop,
                                 bool u8, bool per_channel)
{
    if (strcmp(n->op_type, "Conv") == 0 && !qop)
        return "dynamic mode quantizes Gemm and MatMul (the integer convolution is not fast "
               "yet: use mode=static, or format=qop for ConvInteger)";
    if (strcmp(n->op_type, "Conv") == 0) {
        if (n->n_inputs > 2 && n->inputs[2] && !t->bias)
            return "its B is not a float32 constant per output channel";
        if (u8 && per_channel)
            return "ConvInteger takes one weight zero point (ONNX Runtime): type=uint8 needs "
                   "per_channel=0 here";
        return NULL;
    }
    bool gemm = strcmp(n->op_type, "Gemm") == 0;
    if (gemm && n->n_inputs > 2 && n->inputs[2] && nnp_node_attr_float(n, "beta", 1.0f) != 1.0f &&
        !nnp_pass_f32_const(n->inputs[2]))
        return "a computed C with beta != 1";
    return NULL;
}

/* --- calibration --- */

/* A plan of g for `n` samples of `rank`-D data (dims[1..]) fed to `in`, every value kept
 * (own buffer, no fusion: each one computed and readable after the run). */
static enum nnp_status calib_plan(struct nnp_graph *g, struct nnp_pass_ctx *ctx,
                                  const struct nnp_value *in, int rank, int64_t *dims, int64_t n,
                                  int64_t numel, struct nnp_runtime **rt)
{
    dims[0] = n;
    struct nnp_tensor shape;
    if (!nnp_shape_fit(&in->t, rank, dims, false, &shape)) {
        char a[96];
        return nnp_errorf(NNP_ERR_INVALID, "%s: samples of %" PRId64 " values each do not fit the "
                          "model's input %s %s", ctx->data_path, numel, in->name,
                          nnp_tensor_shape_str(&in->t, a, sizeof a));
    }
    struct nnp_tensor *shapes = calloc((size_t)g->n_inputs, sizeof *shapes);
    if (!shapes)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    for (int i = 0; i < g->n_inputs; i++)
        shapes[i] = g->inputs[i] == in ? shape : (struct nnp_tensor){.rank = -1};
    struct nnp_runtime_opts ro = nnp_runtime_opts_default();
    ro.threads = ctx->threads;
    ro.batch = n;
    ro.keep_all = true;
    ro.no_fuse = true;
    ro.input_shapes = shapes;
    enum nnp_status st = nnp_runtime_new(g, &ro, rt);
    free(shapes);
    return st;
}

/* How activation ranges are taken from the data: calib=, percentile=, activations=. */
struct calib_how {
    int method;        /* CALIB_* */
    double percentile; /* calib=percentile */
    bool symmetric;    /* int8 around 0, else uint8 with a zero point */
};

/* scale and zero point of the range [lo, hi], which holds 0 */
static void qparams(double lo, double hi, bool symmetric, float *scale, int32_t *zp)
{
    *zp = 0;
    if (symmetric) {
        double a = fmax(fabs(lo), fabs(hi));
        *scale = a > 0 ? (float)(a / 127.0) : 1.0f;
        return;
    }
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span)) {
        *scale = 1.0f;
        return;
    }
    *scale = (float)(span / 255.0);
    double z = nearbyint(-lo / (double)*scale);
    *zp = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}

/* A histogram of CALIB_BINS counts: bin b holds the values around lo + (b + 0.5) width. */
struct hist {
    const uint64_t *h;
    double lo, width;
};

/* calib=percentile: the range that leaves (100 - percentile) / 2 % of the values out at
 * each end */
static void percentile_range(const struct hist *hs, double percentile, double *lo, double *hi)
{
    const uint64_t *h = hs->h;
    uint64_t total = 0;
    for (int b = 0; b < CALIB_BINS; b++)
        total += h[b];
    double tail = (double)total * (100.0 - percentile) / 200.0;
    int b_lo = 0, b_hi = CALIB_BINS - 1;
    for (double below = 0; b_lo < CALIB_BINS - 1 && below + (double)h[b_lo] <= tail;)
        below += (double)h[b_lo++];
    for (double above = 0; b_hi > 0 && above + (double)h[b_hi] <= tail;)
        above += (double)h[b_hi--];
    *lo = hs->lo + b_lo * hs->width;
    *hi = hs->lo + (b_hi + 1) * hs->width;
}

/* One candidate range: its grid (value = (q - zp) * scale for q in [qmin, qmax]). */
struct grid {
    float scale;
    int32_t zp, qmin, qmax;
    double lo, hi; /* the values it represents: (qmin - zp) scale, (qmax - zp) scale */
};

static struct grid grid_of(double lo, double hi, bool symmetric)
{
    struct grid q = {.qmin = symmetric ? -128 : 0, .qmax = symmetric ? 127 : 255};
    qparams(lo, hi, symmetric, &q.scale, &q.zp);
    q.lo = (double)(q.qmin - q.zp) * q.scale;
    q.hi = (double)(q.qmax - q.zp) * q.scale;
    return q;
}

/* calib=mse: the expected squared error of the histogram's values on grid q, in units of
 * a count: a value inside rounds to the nearest step, an error uniform over a step
 * (scale^2 / 12); one outside saturates at the nearer end, (x - end)^2. */
static double mse_cost(const struct hist *hs, const struct grid *q)
{
    double inside = 0, clipped = 0;
    for (int b = 0; b < CALIB_BINS; b++) {
        double x = hs->lo + (b + 0.5) * hs->width, n = (double)hs->h[b];
        double d = x < q->lo ? x - q->lo : x > q->hi ? x - q->hi : 0;
        if (d != 0)
            clipped += n * d * d;
        else
            inside += n;
    }
    double s = q->scale;
    return clipped + inside * s * s / 12.0;
}

/* calib=entropy: KL(P || Q) of the histogram clipped to grid q. P: the bins inside, the
 * counts of those outside added to the end bin they saturate to. Q: the bins inside as the
 * grid sees them, each level's count (of the bins whose centres round to it) spread evenly
 * over its nonempty bins; the outliers are not in Q, which is what a clip costs. A bin with
 * P > 0 but Q = 0 (an empty end bin that took outliers) counts as 1e-4 of a value there. */
static double kl_cost(const struct hist *hs, const struct grid *q)
{
    const uint64_t *h = hs->h;
    int first = CALIB_BINS, last = -1;
    double below = 0, above = 0, total = 0, in = 0;
    for (int b = 0; b < CALIB_BINS; b++) {
        double x = hs->lo + (b + 0.5) * hs->width, n = (double)h[b];
        total += n;
        if (x < q->lo)
            below += n;
        else if (x > q->hi)
            above += n;
        else {
            first = first < b ? first : b;
            last = b;
            in += n;
        }
    }
    if (last < 0 || !(in > 0))
        return INFINITY;
    double kl = 0;
    for (int b = first; b <= last;) {
        /* the bins [b, e) of one level */
        double x = hs->lo + (b + 0.5) * hs->width;
        double level = nearbyint(x / (double)q->scale);
        double sum = 0;
        int nonempty = 0, e = b;
        for (; e <= last; e++) {
            double xe = hs->lo + (e + 0.5) * hs->width;
            if (nearbyint(xe / (double)q->scale) != level)
                break;
            sum += (double)h[e];
            nonempty += h[e] > 0;
        }
        for (int k = b; k < e; k++) {
            double p = (double)h[k] + (k == first ? below : 0) + (k == last ? above : 0);
            if (!(p > 0))
                continue;
            double qk = h[k] > 0 ? sum / nonempty : 1e-4;
            kl += p / total * log((p / total) / (qk / in));
        }
        b = e;
    }
    return kl;
}

/* calib=entropy|mse: the range of least cost among candidates that shrink the one seen,
 * [lo f, hi f] (symmetric: [-m f, m f], m = max |x|) for f = k / CALIB_BINS, down to where a
 * step of the grid is narrower than a bin (the histogram cannot see finer). Widest first,
 * so that of equal costs the widest wins. */
static void search_range(const struct hist *hs, const struct calib_how *how, double *lo,
                         double *hi)
{
    double m = fmax(-*lo, *hi), best = INFINITY, lo0 = *lo, hi0 = *hi;
    for (int k = CALIB_BINS; k >= 1; k--) {
        double f = (double)k / CALIB_BINS;
        double a = how->symmetric ? -m * f : lo0 * f, b = how->symmetric ? m * f : hi0 * f;
        struct grid q = grid_of(a, b, how->symmetric);
        if (q.scale < hs->width)
            break;
        double c = how->method == CALIB_ENTROPY ? kl_cost(hs, &q) : mse_cost(hs, &q);
        if (c < best) {
            best = c;
            *lo = a;
            *hi = b;
        }
    }
}

/* r's range from its histogram, by calib=, widened to hold 0 */
static void hist_range(struct act_range *r, const struct calib_how *how)
{
    struct hist hs = {.h = r->hist, .lo = r->lo, .width = (r->hi - r->lo) / CALIB_BINS};
    if (!(hs.width > 0))
        return;
    double lo = r->lo, hi = r->hi;
    if (how->method == CALIB_PERCENTILE)
        percentile_range(&hs, how->percentile, &lo, &hi);
    else
        search_range(&hs, how, &lo, &hi);
    r->lo = lo < 0 ? lo : 0;
    r->hi = hi > 0 ? hi : 0;
}

/* Run the float graph on up to `samples` samples of the data, a batch at a time, and
 * widen each range to what its value holds. The batch is what CALIB_MAX_BYTES of kept
 * activations hold (at most CALIB_BATCH samples), whatever the sample count. */
#define CALIB_MAX_BYTES ((size_t)512 << 20)

static enum nnp_status calibrate(struct nnp_graph *g, struct nnp_pass_ctx *ctx, int64_t samples,
                                 const struct calib_how *how, struct act_range *r, int n_r,
                                 int64_t *used)
{
    struct nnp_value *in = NULL;
    int feeds = 0;
    *used = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->inputs[i]->is_initializer) {
            in = g->inputs[i];
            feeds++;
        }
    if (feeds != 1)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "calibration feeds models of one input; "
                          "this one has %d", feeds);
    struct nnp_data_opts o = nnp_data_opts_default();
    o.scale = ctx->data_scale != 0 ? ctx->data_scale : o.scale;
    o.shift = ctx->data_shift;
    struct nnp_dataset *d;
    enum nnp_status st = nnp_dataset_open(ctx->data_path, &o, &d);
    if (st != NNP_OK)
        return st;
    int64_t dims[NNP_MAX_RANK + 1];
    int rank = nnp_dataset_sample_shape(d, dims + 1) + 1;
    int64_t have = nnp_dataset_count(d), numel = nnp_dataset_sample_numel(d);
    samples = samples < have ? samples : have;
    struct nnp_runtime *rt = NULL;
    if (samples <= 0)
        st = nnp_errorf(NNP_ERR_INVALID, "%s: no samples to calibrate on", ctx->data_path);
    else
        st = calib_plan(g, ctx, in, rank, dims, 1, numel, &rt);
    int64_t per_batch = 1;
    if (st == NNP_OK) {
        size_t one = nnp_runtime_memory(rt).naive_bytes;
        per_batch = one ? (int64_t)(CALIB_MAX_BYTES / one) : CALIB_BATCH;
        per_batch = per_batch < 1 ? 1 : per_batch > CALIB_BATCH ? CALIB_BATCH : per_batch;
    }
    float *batch = st == NNP_OK ? malloc((size_t)(per_batch * numel) * sizeof *batch) : NULL;
    if (st == NNP_OK && !batch)
        st = nnp_errorf(NNP_ERR_NOMEM, "no memory for a calibration batch");
    /* pass 0: the extremes; but for minmax, pass 1: a histogram over them */
    int64_t rt_batch = 1, done = 0;
    struct nnp_rt_value *x = NULL; /* the plan's input, found once per plan */
    int passes = how->method == CALIB_MINMAX ? 1 : 2;
    for (int pass = 0; pass < passes && st == NNP_OK; pass++) {
        if (pass == 1) {
            for (int i = 0; i < n_r && st == NNP_OK; i++)
                if (!(r[i].hist = calloc(CALIB_BINS, sizeof *r[i].hist)))
                    st = nnp_errorf(NNP_ERR_NOMEM, "no memory for a histogram");
            if (st == NNP_OK)
                st = nnp_dataset_rewind(d);
            done = 0;
        }
        while (st == NNP_OK && done < samples) {
            int64_t n = samples - done < per_batch ? samples - done : per_batch, got = 0;
            if (n != rt_batch) { /* a plan per batch size: the full one, then the rest */
                nnp_runtime_free(rt);
                rt = NULL;
                if ((st = calib_plan(g, ctx, in, rank, dims, n, numel, &rt)) != NNP_OK)
                    break;
                rt_batch = n;
                x = NULL;
            }
            if ((st = nnp_dataset_read_f32(d, n, batch, &got)) != NNP_OK)
                break;
            for (int i = 0; !x && i < nnp_runtime_n_inputs(rt); i++)
                if (strcmp(nnp_runtime_input(rt, i)->name, in->name) == 0)
                    x = nnp_runtime_input(rt, i);
            NNP_ASSERT(x && x->nbytes == (size_t)(n * numel) * sizeof *batch);
            memcpy(x->data, batch, x->nbytes);
            if ((st = nnp_runtime_run(rt)) != NNP_OK)
                break;
            for (int i = 0; i < n_r; i++) {
                const struct nnp_rt_value *v = nnp_runtime_value(rt, r[i].v->name);
                if (!v || v->dtype != NNP_DTYPE_F32 || !v->data)
                    continue;
                const float *p = v->data;
                double lo = r[i].lo, hi = r[i].hi;
                if (pass == 1) {
                    double per = hi > lo ? CALIB_BINS / (hi - lo) : 0;
                    for (int64_t k = 0; k < v->numel; k++) {
                        double b = ((double)p[k] - lo) * per;
                        r[i].hist[b < 0 ? 0 : b >= CALIB_BINS ? CALIB_BINS - 1 : (int64_t)b]++;
                    }
                    continue;
                }
                for (int64_t k = 0; k < v->numel; k++) {
                    lo = p[k] < lo ? p[k] : lo;
                    hi = p[k] > hi ? p[k] : hi;
                }
                r[i].lo = lo;
                r[i].hi = hi;
            }
            done += n;
        }
    }
    for (int i = 0; i < n_r && st == NNP_OK && passes == 2; i++)
        hist_range(&r[i], how);
    for (int i = 0; i < n_r; i++) {
        free(r[i].hist);
        r[i].hist = NULL;
    }
    nnp_runtime_free(rt);
    free(batch);
    nnp_dataset_close(d);
    *used = done;
    return st;
}

/* scale and zero point of a calibrated range (which holds 0) */
static void act_params(struct act_range *r, bool symmetric)
{
    qparams(r->lo, r->hi, symmetric, &r->scale, &r->zp);
}

/* --- the pass --- */

/* What the pass decides before it rewrites anything: the options, the nodes to quantize
 * and the calibrated range of each activation they read. A plan made on a graph applies
 * to that graph or to a copy of it (the same nodes in the same order: nnp_onnx_serialize
 * and nnp_onnx_read_buffer of it), so that sensitivity can rewrite many copies of one
 * float model after calibrating once. */
struct qplan {
    bool per_channel, symmetric, dynamic, weight_only, quiet;
    bool qop;        /* format=qop */
    bool u8_weights; /* type=uint8: weights uint8 with zero points */
    int n_t, n_r, kept;
    struct target *t;    /* (n_t) in node order; t[i].n in the graph planned on */
    int *node;           /* (n_t) t[i].n's index in that graph's nodes */
    struct act_range *r; /* (n_r) */
    int64_t used;        /* calibration samples */
};

static void plan_free(struct qplan *p)
{
    free(p->t);
    free(p->node);
    free(p->r);
    memset(p, 0, sizeof *p);
}

/* the index of v's range in p->r, added when new (p->r holds one per node) */
static int range_of(struct qplan *p, struct nnp_value *v)
{
    int k = 0;
    while (k < p->n_r && p->r[k].v != v)
        k++;
    if (k == p->n_r)
        p->r[p->n_r++].v = v;
    return k;
}

/* --- operator form (format=qop) --- */

/* The Relu that alone reads target n's output, which the quantized node can do itself
 * when activations are asymmetric: the Relu's output ranges over [0, max], zero point 0,
 * so the saturation at 0 is the Relu. Not after a Gemm with C (its Add is in float).
 * @return its index in g's nodes (g linked), or -1. */
static int relu_after(const struct nnp_graph *g, const struct nnp_node *n, bool symmetric)
{
    const struct nnp_value *y = n->outputs[0];
    if (symmetric || y->is_output || y->n_consumers != 1 ||
        (strcmp(n->op_type, "Gemm") == 0 && n->n_inputs > 2 && n->inputs[2]))
        return -1;
    const struct nnp_node *relu = y->consumers[0];
    if (strcmp(relu->op_type, "Relu") != 0 || *relu->domain || relu->n_inputs != 1)
        return -1;
    NNP_ASSERT(g->nodes[relu->index] == relu);
    return relu->index;
}

/* a's scale and zero point as constants, made once */
static enum nnp_status act_consts(struct nnp_graph *g, struct act_range *a, bool symmetric)
{
    if (a->sv)
        return NNP_OK;
    enum nnp_status st = NNP_OK;
    enum nnp_dtype qt = symmetric ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
    struct nnp_value *sv = new_const(g, a->v->name, "scale", NNP_DTYPE_F32, 0, NULL, &st);
    struct nnp_value *zv = sv ? new_const(g, a->v->name, "zero_point", qt, 0, NULL, &st) : NULL;
    if (!zv)
        return st;
    *(float *)sv->t.data = a->scale;
    if (symmetric)
        *(int8_t *)zv->t.data = (int8_t)a->zp;
    else
        *(uint8_t *)zv->t.data = (uint8_t)a->zp;
    a->sv = sv;
    a->zv = zv;
    return NNP_OK;
}

/* a's value in 8 bits: its QuantizeLinear, made once, or what a quantized node made */
static struct nnp_value *act_quantized(struct nnp_graph *g, struct act_range *a, bool symmetric,
                                       enum nnp_status *st)
{
    if ((*st = act_consts(g, a, symmetric)) != NNP_OK)
        return NULL;
    if (!a->q)
        a->q = add_node(g, "QuantizeLinear", a->v->name, "quantized", 3,
                        (struct nnp_value *[]){a->v, a->sv, a->zv});
    return a->q;
}

/* format=qop, mode=static: target t (act and out calibrated) becomes, in place (its name
 * kept),
 *   Conv        y_q = QLinearConv(x_q, x_scale, x_zp, w_q, w_scale, w_zp, y_scale, y_zp[, B])
 *               with B int32 at scale x_scale * w_scale (its attributes kept);
 *   MatMul, Gemm without C
 *               y_q = QLinearMatMul(x_q, x_scale, x_zp, w_q, w_scale, w_zp, y_scale, y_zp)
 *               with w_q [K, N] (a transB weight stored turned around);
 *   Gemm with C the same to p_q, on the range of y - C ([lo - max C, hi - min C]: what y
 *               holds less the bias), then y = DequantizeLinear(p_q) + C in float. ONNX
 *               has no QLinearMatMul with a bias (ONNX Runtime's QGemm is its own domain,
 *               which nnpress does not run), and both runtimes run this;
 * then y = DequantizeLinear(y_q) for the readers of y in float (dropped at the end when
 * there are none). x_q is QuantizeLinear(x), or when x is what a quantized node made, its
 * y_q as it is: consecutive quantized nodes pass 8 bits, the range being that one value's.
 * *done false (nothing changed but unused constants): t takes the QDQ form instead, a
 * Conv whose bias would not fit int32, a Gemm with alpha or beta not 1 or a C that is not
 * a constant per column. */
static enum nnp_status qop_node(struct nnp_graph *g, const struct qplan *p,
                                const struct target *t, struct act_range *r, bool *done,
                                int *n_bias)
{
    struct nnp_node *n = t->n;
    bool conv = strcmp(n->op_type, "Conv") == 0;
    bool trans = strcmp(n->op_type, "Gemm") == 0 && nnp_node_attr_int(n, "transB", 0) != 0;
    struct nnp_value *c = t->bias ? n->inputs[2] : NULL;
    struct nnp_value *y = t->relu_node ? t->relu_node->outputs[0] : n->outputs[0];
    struct act_range *a = &r[t->act], *o = &r[t->out];
    *done = false;
    if (n->n_inputs > 2 && n->inputs[2] && !t->bias)
        return NNP_OK; /* a C computed or broadcast, alpha or beta not 1: the QDQ form */
    struct qweight w;
    enum nnp_status st = weight_values(g, n->inputs[1], t->axis, p->per_channel, trans, false,
                                       p->u8_weights, &w);
    if (st != NNP_OK)
        return st;
    struct nnp_value *bq = NULL;
    if (c && conv && !(bq = bias_int32(g, c, a->scale, w.scale->t.data, p->per_channel, NULL,
                                       &st)))
        return st;
    struct nnp_value *xq = act_quantized(g, a, p->symmetric, &st);
    if (!xq || (st = act_consts(g, o, p->symmetric)) != NNP_OK)
        return st;
    struct act_range prod = *o; /* Gemm with C: the range of the product */
    if (c && !conv) {
        const struct nnp_tensor *ct = nnp_value_constant(c);
        const float *cv = ct->data;
        double c_lo = 0, c_hi = 0;
        for (int64_t k = 0; k < nnp_tensor_numel(ct); k++) {
            c_lo = cv[k] < c_lo ? cv[k] : c_lo;
            c_hi = cv[k] > c_hi ? cv[k] : c_hi;
        }
        prod.lo = fmin(o->lo - c_hi, 0);
        prod.hi = fmax(o->hi - c_lo, 0);
        act_params(&prod, p->symmetric);
        char base[512];
        snprintf(base, sizeof base, "%s_product", y->name);
        prod.v = nnp_graph_new_value(g, base);
        prod.sv = NULL;
        if ((st = act_consts(g, &prod, p->symmetric)) != NNP_OK)
            return st;
    }
    struct act_range *out = c && !conv ? &prod : o;
    char name[512];
    snprintf(name, sizeof name, "%s_quantized", c && !conv ? prod.v->name : y->name);
    struct nnp_value *yq = nnp_graph_new_value(g, name);
    struct nnp_value *in[9] = {xq, a->sv, a->zv, w.q, w.scale, w.zp, out->sv, out->zv, bq};
    n->op_type = conv ? "QLinearConv" : "QLinearMatMul";
    if (!conv)
        n->n_attrs = 0; /* Gemm's transB (its weight turned), alpha and beta (1) */
    nnp_node_set_io(g, n, bq ? 9 : 8, in, 1, &yq);
    *n_bias += bq != NULL;
    *done = true;
    if (c && !conv) {
        struct nnp_value *pf = add_node(g, "DequantizeLinear", prod.v->name, "dequantized", 3,
                                        (struct nnp_value *[]){yq, prod.sv, prod.zv});
        add_node_to(g, "Add", y->name, "Add", 2, (struct nnp_value *[]){pf, c}, 1, &y);
        return NNP_OK;
    }
    o->q = yq;
    if (t->relu_node)
        nnp_graph_remove_node(g, t->relu_node);
    add_node_to(g, "DequantizeLinear", y->name, "DequantizeLinear", 3,
                (struct nnp_value *[]){yq, o->sv, o->zv}, 1, &y);
    return NNP_OK;
}

/* format=qop: the DequantizeLinear of a quantized node's output that nothing reads */
static void drop_unread_dq(struct nnp_graph *g)
{
    nnp_graph_link(g);
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        if (strcmp(n->op_type, "DequantizeLinear") == 0 && n->outputs[0]->n_consumers == 0 &&
            !n->outputs[0]->is_output)
            nnp_graph_remove_node(g, n);
    }
}

/* every '+'-separated name in `list` must name a node or an operator type of g */
static enum nnp_status check_names(const struct nnp_graph *g, const char *list, const char *opt)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (int i = 0; i < g->n_nodes && !found; i++)
            found = (strlen(g->nodes[i]->name) == len &&
                     strncmp(g->nodes[i]->name, p, len) == 0) ||
                    (strlen(g->nodes[i]->op_type) == len &&
                     strncmp(g->nodes[i]->op_type, p, len) == 0);
        if (!found && len)
            return nnp_errorf(NNP_ERR_INVALID, "%s: '%.*s' is neither a node "
                              "nor an operator type of the model", opt, (int)len, p);
        p += len + (end != NULL);
    }
    return NNP_OK;
}

/* The checks every int8 mode makes, the targets, and (mode=static) their calibration. The
 * candidates left in float go to rec's kept_float list (rec NULL: none). */
static enum nnp_status plan_make(struct nnp_graph *g, const union nnp_opt_value *opt,
                                 struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec,
                                 struct qplan *p)
{
    memset(p, 0, sizeof *p);
    int mode = (int)opt[OPT_MODE].i;
    p->weight_only = mode == MODE_WEIGHT;
    p->dynamic = mode == MODE_DYNAMIC;
    p->per_channel = opt[OPT_PER_CHANNEL].i;
    p->u8_weights = opt[OPT_TYPE].i == TYPE_UINT8;
    p->qop = opt[OPT_FORMAT].i == FORMAT_QOP;
    p->symmetric = opt[OPT_ACTIVATIONS].i == ACT_SYMMETRIC;
    p->quiet = ctx->quiet;
    const char *ops = opt[OPT_OPS].s, *exclude = opt[OPT_EXCLUDE].s, *only = opt[OPT_ONLY].s;
    if (!*ops)
        ops = p->dynamic ? "Gemm+MatMul" : "Conv+Gemm+MatMul";
    if (p->qop && p->weight_only)
        return nnp_errorf(NNP_ERR_USAGE, "format=qop writes integer operators and mode=weight "
                          "computes in float: use format=qdq, or mode=static or dynamic");
    if (mode == MODE_STATIC && !ctx->data_path)
        return nnp_errorf(NNP_ERR_INVALID, "static mode calibrates on data: give "
                          "--data FILE, or use mode=weight or mode=dynamic");
    if (p->dynamic && nnp_graph_opset(g, "") < 11)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "dynamic mode needs opset 11 "
                          "(DynamicQuantizeLinear), the model imports %" PRId64,
                          nnp_graph_opset(g, ""));
    if (p->per_channel && !p->dynamic && nnp_graph_opset(g, "") < 13)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "per-channel scales need opset 13, the "
                          "model imports %" PRId64 "; use per_channel=0",
                          nnp_graph_opset(g, ""));
    p->t = calloc((size_t)g->n_nodes + 1, sizeof *p->t);
    p->node = calloc((size_t)g->n_nodes + 1, sizeof *p->node);
    p->r = calloc((size_t)g->n_nodes + 1, sizeof *p->r);
    if (!p->t || !p->node || !p->r) {
        plan_free(p);
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    }
    enum nnp_status st = NNP_OK;
    for (int i = 0; i < g->n_nodes && st == NNP_OK; i++) {
        struct nnp_node *n = g->nodes[i];
        if (!in_list(ops, n->op_type))
            continue;
        if (*only && !in_list(only, n->name) && !in_list(only, n->op_type))
            continue; /* not asked for: not a candidate, nothing to say */
        if (in_list(exclude, n->name) || in_list(exclude, n->op_type)) {
            st = keep_listed(rec, n, "excluded", p->quiet, &p->kept);
            continue;
        }
        struct target c = {.n = n, .act = -1, .out = -1, .relu = -1};
        const char *why = target_check(n, &c);
        if (!why && p->dynamic)
            why = dynamic_check(n, &c, p->qop, p->u8_weights, p->per_channel);
        if (why) {
            st = keep_listed(rec, n, why, p->quiet, &p->kept);
            continue;
        }
        if (!p->weight_only)
            c.act = range_of(p, n->inputs[0]);
        if (p->qop && mode == MODE_STATIC) {
            c.relu = relu_after(g, n, p->symmetric);
            c.out = range_of(p, c.relu >= 0 ? g->nodes[c.relu]->outputs[0] : n->outputs[0]);
        }
        p->node[p->n_t] = i;
        p->t[p->n_t++] = c;
    }
    struct calib_how how = {.method = (int)opt[OPT_CALIB].i, .percentile = opt[OPT_PERCENTILE].f,
                            .symmetric = p->symmetric};
    if (st == NNP_OK && p->n_r && mode == MODE_STATIC)
        st = calibrate(g, ctx, opt[OPT_CALIB_SAMPLES].i, &how, p->r, p->n_r, &p->used);
    for (int k = 0; k < p->n_r; k++)
        act_params(&p->r[k], p->symmetric);
    if (st != NNP_OK)
        plan_free(p);
    return st;
}

/* Rewrite g, the graph p was made on or a copy of it, quantizing every target i of p
 * but those with skip[i] (skip NULL: all of them). *n_bias: the biases made int32. */
static enum nnp_status plan_apply(struct nnp_graph *g, const struct qplan *p, const bool *skip,
                                  int *n_bias)
{
    *n_bias = 0;
    /* the plan's targets and activations, found in g before g changes */
    struct target *t = calloc((size_t)p->n_t + 1, sizeof *t);
    struct act_range *r = calloc((size_t)p->n_r + 1, sizeof *r);
    struct nnp_value **wq_of = calloc((size_t)g->n_values + 1, sizeof *wq_of);
    const float **ws_of = calloc((size_t)g->n_values + 1, sizeof *ws_of);
    enum nnp_status st = NNP_OK;
    if (!t || !r || !wq_of || !ws_of)
        st = nnp_errorf(NNP_ERR_NOMEM, "no memory");
    for (int i = 0; i < p->n_t && st == NNP_OK; i++) {
        NNP_ASSERT(p->node[i] < g->n_nodes);
        t[i] = p->t[i];
        t[i].n = g->nodes[p->node[i]];
        NNP_ASSERT(strcmp(t[i].n->op_type, p->t[i].n->op_type) == 0 &&
                   strcmp(t[i].n->name, p->t[i].n->name) == 0);
        t[i].relu_node = t[i].relu >= 0 ? g->nodes[t[i].relu] : NULL;
        NNP_ASSERT(!t[i].relu_node || strcmp(t[i].relu_node->op_type, "Relu") == 0);
    }
    for (int k = 0; k < p->n_r && st == NNP_OK; k++) {
        r[k] = p->r[k];
        r[k].hist = NULL;
        r[k].dq = r[k].q = r[k].sv = r[k].zv = NULL;
        r[k].dyn[0] = r[k].dyn[1] = r[k].dyn[2] = NULL;
        r[k].v = nnp_graph_find(g, p->r[k].v->name);
        NNP_ASSERT(r[k].v);
    }
    /* weights (each once), activations (each once), biases */
    int values_before = g->n_values;
    for (int i = 0; i < p->n_t && st == NNP_OK; i++) {
        if (skip && skip[i])
            continue;
        struct nnp_node *n = t[i].n;
        if (p->dynamic) {
            if (strcmp(n->op_type, "Conv") == 0)
                st = dynamic_conv(g, &t[i], &r[t[i].act], p->per_channel, p->u8_weights);
            else
                st = dynamic_node(g, &t[i], &r[t[i].act], p->per_channel, p->u8_weights);
            continue;
        }
        bool done = false;
        if (t[i].out >= 0 && (st = qop_node(g, p, &t[i], r, &done, n_bias)) != NNP_OK)
            break;
        if (done)
            continue;
        struct nnp_value *wv = n->inputs[1];
        int wi = wv->index;
        if (!wq_of[wi] && wi < values_before)
            wq_of[wi] = quantize_weight(g, wv, t[i].axis, p->per_channel, p->u8_weights,
                                        &ws_of[wi], &st);
        if (st != NNP_OK)
            break;
        n->inputs[1] = wq_of[wi];
        if (t[i].act < 0)
            continue;
        struct act_range *a = &r[t[i].act];
        if (!a->dq) {
            struct nnp_value *q = act_quantized(g, a, p->symmetric, &st);
            if (!q)
                break;
            a->dq = add_node(g, "DequantizeLinear", a->v->name, "dequantized", 3,
                             (struct nnp_value *[]){q, a->sv, a->zv});
        }
        n->inputs[0] = a->dq;
        if (t[i].bias) {
            struct nnp_value *bq = quantize_bias(g, n->inputs[2], a->scale, ws_of[wi],
                                                 p->per_channel, &st);
            if (bq) {
                n->inputs[2] = bq;
                (*n_bias)++;
            }
        }
    }
    free(wq_of);
    free(ws_of);
    free(t);
    free(r);
    if (st == NNP_OK && p->qop)
        drop_unread_dq(g);
    if (st == NNP_OK) {
        nnp_graph_drop_unused(g); /* the float weights and biases */
        nnp_graph_link(g);
        st = nnp_graph_validate(g); /* puts the new nodes in order */
    }
    return st;
}

/* The checks made before anything else: a model quantized already, names that match
 * nothing. Leaves g linked, its Constant weights made initializers. */
static enum nnp_status quantize_prepare(struct nnp_graph *g, const union nnp_opt_value *opt)
{
    nnp_graph_link(g);
    nnp_graph_constants_to_initializers(g);
    for (int i = 0; i < g->n_nodes; i++)
        if (quantized_op(g->nodes[i]->op_type))
            return nnp_errorf(NNP_ERR_INVALID, "the model is already quantized "
                              "(node %s is %s)", g->nodes[i]->name, g->nodes[i]->op_type);
    enum nnp_status st = check_names(g, opt[OPT_EXCLUDE].s, "exclude");
    return st == NNP_OK ? check_names(g, opt[OPT_ONLY].s, "only") : st;
}

/* what max_accuracy_drop decided, for the pass's statistics */
struct gate_result {
    int kept;
    double top1_float, top1_quantized;
};

static enum nnp_status keep_for_accuracy(struct nnp_graph *g, const union nnp_opt_value *opt,
                                         struct nnp_pass_ctx *ctx, struct qplan *p, bool *skip,
                                         struct gate_result *gate, struct nnp_pass_record *rec);
static enum nnp_status gate_check(const union nnp_opt_value *opt,
                                  const struct nnp_pass_ctx *ctx);

static enum nnp_status quantize_run(struct nnp_graph *g, const union nnp_opt_value *opt,
                                    struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec)
{
    enum nnp_status st = quantize_prepare(g, opt);
    if (st != NNP_OK)
        return st;
    bool gate = opt[OPT_MAX_DROP].f < 100;
    if (opt[OPT_TYPE].i == TYPE_FP16) {
        if (opt[OPT_FORMAT].i == FORMAT_QOP)
            return nnp_errorf(NNP_ERR_USAGE, "format=qop writes integer operators; type=fp16 "
                              "does not apply");
        if (gate)
            return nnp_errorf(NNP_ERR_USAGE, "max_accuracy_drop chooses int8 nodes to keep in "
                              "float; type=fp16 does not apply");
        if (*opt[OPT_ONLY].s)
            return nnp_errorf(NNP_ERR_USAGE, "only= selects int8 nodes; type=fp16 does not "
                              "apply (use ops= and exclude=)");
        struct nnp_fp16_opts fo = {
            .ops = *opt[OPT_OPS].s ? opt[OPT_OPS].s : "Conv+Gemm+MatMul",
            .exclude = opt[OPT_EXCLUDE].s,
            .compute = opt[OPT_COMPUTE].i == 1,
            .keep_io = opt[OPT_KEEP_IO].i,
            .calib_samples = opt[OPT_CALIB_SAMPLES].i,
        };
        if ((st = nnp_quantize_fp16_check(&fo, *opt[OPT_OPS].s != 0)) != NNP_OK)
            return st;
        return nnp_quantize_fp16(g, &fo, ctx, rec);
    }
    if (opt[OPT_COMPUTE].i == 1 || opt[OPT_KEEP_IO].i == 0)
        return nnp_errorf(NNP_ERR_USAGE, "compute= and keep_io= apply to type=fp16; int8 and "
                          "uint8 layers compute in integers");
    if (gate && (st = gate_check(opt, ctx)) != NNP_OK)
        return st;
    struct qplan p;
    rec->lists_kept = true;
    if ((st = plan_make(g, opt, ctx, rec, &p)) != NNP_OK)
        return st;
    bool *skip = calloc((size_t)p.n_t + 1, sizeof *skip);
    if (!skip)
        st = nnp_errorf(NNP_ERR_NOMEM, "no memory");
    int n_float = 0, n_bias = 0;
    struct gate_result gr = {0};
    if (st == NNP_OK && gate)
        st = keep_for_accuracy(g, opt, ctx, &p, skip, &gr, rec);
    for (int i = 0; i < p.n_t && st == NNP_OK; i++)
        n_float += skip[i];
    if (st == NNP_OK)
        st = plan_apply(g, &p, skip, &n_bias);
    nnp_pass_stat(rec, "nodes_quantized", p.n_t - n_float);
    nnp_pass_stat(rec, "nodes_kept_float", p.kept + n_float);
    nnp_pass_stat(rec, "biases_int32", n_bias);
    nnp_pass_stat(rec, p.dynamic ? "activations_dynamic" : "activations_calibrated", p.n_r);
    nnp_pass_stat(rec, "calibration_samples", (double)p.used);
    if (gate) {
        nnp_pass_stat(rec, "nodes_kept_for_accuracy", gr.kept);
        nnp_pass_stat(rec, "top1_float", gr.top1_float);
        nnp_pass_stat(rec, "top1_quantized", gr.top1_quantized);
    }
    free(skip);
    plan_free(&p);
    return st;
}

/* --- sensitivity, and nodes kept in float for accuracy --- */

/* g as bytes, once, so that each variant starts from a fresh copy of the float model */
struct variants {
    uint8_t *bytes;
    size_t size;
    const char *dir;
    struct nnp_measure *m;
};

/* Measure a copy of the float model with the plan's targets quantized but those of skip;
 * *bytes (when not NULL) gets the copy's ONNX size. */
static enum nnp_status variant_measure(struct variants *v, const struct qplan *p,
                                       const bool *skip, struct nnp_measure_result *r,
                                       size_t *bytes)
{
    struct nnp_graph *c = NULL;
    int n_bias;
    enum nnp_status st = nnp_onnx_read_buffer(v->bytes, v->size, v->dir, "the float model", &c);
    if (st == NNP_OK) {
        nnp_graph_link(c);
        st = plan_apply(c, p, skip, &n_bias);
    }
    if (st == NNP_OK)
        st = nnp_measure_run(v->m, c, r);
    if (st == NNP_OK && bytes) {
        uint8_t *b = NULL;
        if ((st = nnp_onnx_serialize(c, &b, bytes)) == NNP_OK)
            free(b);
    }
    nnp_graph_free(c);
    return st;
}

static int layer_order(const void *a, const void *b)
{
    const struct nnp_sens_layer *x = a, *y = b;
    double dx = x->q.sqnr_db, dy = y->q.sqnr_db;
    if (dx != dy) /* +inf last; NaN (nothing measured) cannot happen: samples > 0 */
        return dx < dy ? -1 : 1;
    if (x->q.correct != y->q.correct)
        return x->q.correct < y->q.correct ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

/* The ranking of nnp_quantize_sensitivity() for plan p made on g; leaves v open. */
static enum nnp_status rank_layers(struct nnp_graph *g, const struct qplan *p,
                                   const struct nnp_measure_src *src, struct variants *v,
                                   struct nnp_sensitivity *out)
{
    memset(out, 0, sizeof *out);
    out->calib_samples = p->used;
    if (p->n_t == 0)
        return nnp_errorf(NNP_ERR_INVALID, "no node to quantize: of the nodes ops, exclude "
                          "and only leave, none has a float32 constant weight");
    enum nnp_status st = nnp_onnx_serialize(g, &v->bytes, &v->size);
    v->dir = g->dir;
    out->bytes_float = v->size;
    if (st == NNP_OK)
        st = nnp_measure_new(g, src, &v->m, &out->fp);
    if (st == NNP_OK)
        st = variant_measure(v, p, NULL, &out->all, &out->bytes_all);
    bool *skip = calloc((size_t)p->n_t, sizeof *skip);
    out->layers = calloc((size_t)p->n_t, sizeof *out->layers);
    if (st == NNP_OK && (!skip || !out->layers))
        st = nnp_errorf(NNP_ERR_NOMEM, "no memory");
    for (int i = 0; i < p->n_t && st == NNP_OK; i++) {
        for (int k = 0; k < p->n_t; k++)
            skip[k] = k != i;
        struct nnp_sens_layer *l = &out->layers[out->n_layers++];
        l->name = p->t[i].n->name;
        l->op_type = p->t[i].n->op_type;
        l->node = p->node[i];
        st = variant_measure(v, p, skip, &l->q, NULL);
    }
    free(skip);
    if (st == NNP_OK)
        qsort(out->layers, (size_t)out->n_layers, sizeof *out->layers, layer_order);
    return st;
}

static void variants_free(struct variants *v)
{
    free(v->bytes);
    nnp_measure_free(v->m);
    memset(v, 0, sizeof *v);
}

enum nnp_status nnp_quantize_sensitivity(struct nnp_graph *g, const union nnp_opt_value *opt,
                                         struct nnp_pass_ctx *ctx,
                                         const struct nnp_measure_src *src,
                                         struct nnp_sensitivity *out)
{
    memset(out, 0, sizeof *out);
    if (opt[OPT_TYPE].i == TYPE_FP16)
        return nnp_errorf(NNP_ERR_USAGE, "sensitivity measures int8 quantization; type=fp16 "
                          "does not apply");
    enum nnp_status st = quantize_prepare(g, opt);
    struct qplan p = {0};
    if (st == NNP_OK)
        st = plan_make(g, opt, ctx, NULL, &p);
    struct variants v = {0};
    if (st == NNP_OK)
        st = rank_layers(g, &p, src, &v, out);
    variants_free(&v);
    plan_free(&p);
    if (st != NNP_OK)
        nnp_sensitivity_free(out);
    return st;
}

void nnp_sensitivity_free(struct nnp_sensitivity *s)
{
    free(s->layers);
    memset(s, 0, sizeof *s);
}

/* max_accuracy_drop measures top-1 on --data with --labels */
static enum nnp_status gate_check(const union nnp_opt_value *opt, const struct nnp_pass_ctx *ctx)
{
    if (!ctx->data_path || !ctx->labels_path)
        return nnp_errorf(NNP_ERR_USAGE, "max_accuracy_drop=%g measures top-1 accuracy on "
                          "samples with their classes: give --data FILE and --labels FILE",
                          opt[OPT_MAX_DROP].f);
    return NNP_OK;
}

/* points of top-1 lost from `fp` right answers to `q` of n */
static double drop_points(int64_t fp, int64_t q, int64_t n)
{
    return 100.0 * (double)(fp - q) / (double)n;
}

/* max_accuracy_drop=X: rank the targets of p by sensitivity (the first calib_samples of
 * --data, with --labels), then keep the most sensitive in float one at a time, in ranked
 * order, until the measured drop of the whole model is at most X points: skip[i] for
 * those kept. A drop is compared in right answers, not in rounded percentages. */
static enum nnp_status keep_for_accuracy(struct nnp_graph *g, const union nnp_opt_value *opt,
                                         struct nnp_pass_ctx *ctx, struct qplan *p, bool *skip,
                                         struct gate_result *gate, struct nnp_pass_record *rec)
{
    double max_drop = opt[OPT_MAX_DROP].f;
    struct nnp_measure_src src = {
        .data_path = ctx->data_path,
        .labels_path = ctx->labels_path,
        .samples = opt[OPT_CALIB_SAMPLES].i,
        .scale = ctx->data_scale,
        .shift = ctx->data_shift,
        .threads = ctx->threads,
    };
    struct nnp_sensitivity s;
    struct variants v = {0};
    enum nnp_status st = rank_layers(g, p, &src, &v, &s);
    if (st != NNP_OK) {
        variants_free(&v);
        nnp_sensitivity_free(&s);
        return st;
    }
    int64_t n = s.fp.samples;
    /* fp - q <= X n / 100, in right answers; the 1e-9 absorbs X's decimal rounding */
    double allowed = max_drop * (double)n / 100.0 + 1e-9;
    struct nnp_measure_result r = s.all;
    size_t bytes = s.bytes_all;
    int k = 0; /* nodes kept in float: the first k of the ranking */
    bool quiet = ctx->quiet;
    while (st == NNP_OK && (double)(s.fp.correct - r.correct) > allowed && k < p->n_t) {
        if (!quiet)
            fprintf(stderr, "quantize: max_accuracy_drop=%g: %d of %d nodes in float32: top-1 "
                    "%.2f%% against %.2f%%, a drop of %.2f points: %s stays float32 too\n",
                    max_drop, k, p->n_t, 100.0 * (double)r.correct / (double)n,
                    100.0 * (double)s.fp.correct / (double)n,
                    drop_points(s.fp.correct, r.correct, n), s.layers[k].name);
        for (int i = 0; i < p->n_t; i++)
            if (p->node[i] == s.layers[k].node)
                skip[i] = true;
        k++;
        if (k == p->n_t) { /* the float model itself */
            r = s.fp;
            bytes = s.bytes_float;
        } else {
            st = variant_measure(&v, p, skip, &r, &bytes);
        }
    }
    for (int i = 0; i < k && st == NNP_OK; i++) {
        char why[160];
        snprintf(why, sizeof why, "max_accuracy_drop=%g (rank %d of %d: SQNR %.1f dB when "
                 "quantized alone)", max_drop, i + 1, p->n_t, s.layers[i].q.sqnr_db);
        int ignored = 0;
        st = keep_listed(rec, g->nodes[s.layers[i].node], why, quiet, &ignored);
    }
    if (st == NNP_OK && !quiet) {
        double fp = 100.0 * (double)s.fp.correct / (double)n;
        if (k == p->n_t)
            fprintf(stderr, "quantize: max_accuracy_drop=%g: no node can be quantized: with "
                    "every node quantized top-1 is %.2f%% against float32's %.2f%% (a drop of %.2f "
                    "points), and with only the least sensitive one (%s) %.2f%% (%.2f) on "
                    "%" PRId64 " samples of %s; the model stays float32 (%zu bytes)\n",
                    max_drop, 100.0 * (double)s.all.correct / (double)n, fp,
                    drop_points(s.fp.correct, s.all.correct, n), s.layers[p->n_t - 1].name,
                    100.0 * (double)s.layers[p->n_t - 1].q.correct / (double)n,
                    drop_points(s.fp.correct, s.layers[p->n_t - 1].q.correct, n), n,
                    ctx->data_path, bytes);
        else
            fprintf(stderr, "quantize: max_accuracy_drop=%g: %d of %d nodes kept in float32: "
                    "top-1 %.2f%% against float32's %.2f%% (a drop of %.2f points) on %" PRId64
                    " samples of %s; %zu bytes, against %zu with every node quantized "
                    "(%+.1f%%) and %zu in float32\n",
                    max_drop, k, p->n_t, 100.0 * (double)r.correct / (double)n, fp,
                    drop_points(s.fp.correct, r.correct, n), n, ctx->data_path, bytes,
                    s.bytes_all, 100.0 * ((double)bytes / (double)s.bytes_all - 1.0),
                    s.bytes_float);
    }
    gate->kept = k;
    gate->top1_float = (double)s.fp.correct / (double)n;
    gate->top1_quantized = (double)r.correct / (double)n;
    variants_free(&v);
    nnp_sensitivity_free(&s);
    return st;
}

const struct nnp_pass nnp_pass_quantize = {
    .name = "quantize",
    .help = "int8 quantization: weights per channel, activations calibrated on --data (QDQ, "
            "mode=static), quantized at run time (mode=dynamic), or weights only; or fp16 "
            "weights",
    .n_opts = sizeof quantize_opts / sizeof *quantize_opts,
    .opts = quantize_opts,
    .run = quantize_run,
};
