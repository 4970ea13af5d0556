/* passes/quantize_fp16.c — quantize(type=fp16): float16 storage, and float16 compute.
 *
 * compute=fp32 (the default): the weights and biases (inputs 1 and 2) of the nodes of
 * `ops` (Conv, Gemm, MatMul by default), less `exclude`, that are float32 constants are
 * stored as float16, each read through a Cast to float32 (half the bytes; the arithmetic
 * stays float32, the casts of constants are computed once when a runtime plans): rounded
 * to nearest even, and a tensor with a value beyond float16's range (65504) is kept in
 * float32. A constant several nodes read is converted once.
 *
 * compute=fp16: the whole float graph in float16, as onnxconverter-common's converter
 * writes it. In four steps:
 *
 *   1. types: a plan of the float model at batch 1 gives every value's element type
 *      (the IR knows only those the model declares); the weights' largest |x|;
 *   2. the safety scan (with --data): the float model run on calib_samples samples a
 *      batch at a time, every value kept, only a running max|x| per float value
 *      remembered. A node whose float input or output goes beyond F16_LIMIT (or that
 *      squares an input that would) is kept float32, as are excluded nodes and the ones
 *      whose float16 form is unknown; each is named on stderr and in the report's
 *      "kept_float" with the value seen;
 *   3. the rewrite: every float32 value becomes float16 except the graph's inputs and
 *      outputs (keep_io), the outputs of float32 nodes and the weights only they read;
 *      float16 initializers in place, the float-type attributes of float16 nodes
 *      (Cast's `to`, ConstantOfShape's value); then a Cast on every edge whose two ends
 *      now differ (once per value and type), a float16 node writing a kept graph output
 *      through `y`_fp16 and a Cast;
 *   4. the check (with --data): the converted model run on the same samples; an output
 *      holding inf or NaN fails the pass, naming the output and the sample.
 *
 * Integer values (shapes, indices) are not touched; Shape and Size read any type. Every
 * node left in float32 is reported on stderr with the reason (unless --quiet) and
 * counted in the pass's statistics. */
#include "passes/quantize_fp16.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/array.h"
#include "formats/dataset.h"
#include "kernels/runtime.h"

/* n stays float32 for `why`: on stderr (unless quiet), counted, and in rec's kept_float */
static enum nnp_status keep_f32(struct nnp_pass_record *rec, const struct nnp_node *n,
                                const char *why, bool quiet, int *count)
{
    (*count)++;
    if (!quiet)
        fprintf(stderr, "quantize: %s (%s) stays float32: %s\n", *n->name ? n->name : "(unnamed)",
                n->op_type, why);
    return nnp_pass_keep(rec, n, why);
}

/* h: a new float16 tensor in g's arena holding float32 tensor t rounded to nearest
 * even; *underflow counts the nonzero values that became zero. */
static enum nnp_status f16_tensor(struct nnp_graph *g, const struct nnp_tensor *t,
                                  struct nnp_tensor *h, int64_t *underflow)
{
    memset(h, 0, sizeof *h);
    nnp_tensor_set_shape(h, NNP_DTYPE_F16, t->rank, t->dims);
    enum nnp_status st = nnp_tensor_alloc(g, h);
    if (st != NNP_OK)
        return st;
    const float *x = t->data;
    uint16_t *out = h->data;
    for (int64_t k = 0; k < nnp_tensor_numel(t); k++) {
        out[k] = nnp_f32_to_f16(x[k]);
        *underflow += x[k] != 0.0f && (out[k] & 0x7fff) == 0;
    }
    return NNP_OK;
}

/* A new float16 initializer `v`_fp16 holding v's float32 constant. */
static struct nnp_value *f16_const(struct nnp_graph *g, const struct nnp_value *v,
                                   int64_t *underflow, enum nnp_status *st)
{
    struct nnp_tensor h;
    if ((*st = f16_tensor(g, nnp_pass_f32_const(v), &h, underflow)) != NNP_OK)
        return NULL;
    char name[512];
    snprintf(name, sizeof name, "%s_fp16", v->name);
    struct nnp_value *hv = nnp_graph_new_value(g, name);
    hv->t = h;
    hv->is_initializer = true;
    hv->has_type = true;
    return hv;
}

/* Cast(in, to) into a new value `base`_`suffix`, the node named `base`_`node`. */
static struct nnp_value *add_cast(struct nnp_graph *g, struct nnp_value *in, const char *base,
                                  const char *suffix, const char *node, enum nnp_dtype to)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", base, suffix);
    struct nnp_value *out = nnp_graph_new_value(g, name);
    snprintf(name, sizeof name, "%s_%s", base, node);
    struct nnp_node *n = nnp_graph_add_node(g, "Cast", nnp_graph_strdup(g, name));
    nnp_node_set_io(g, n, 1, &in, 1, &out);
    nnp_node_set_attr(g, n, "to", NNP_ATTR_INT)->i = nnp_dtype_onnx(to);
    return out;
}

/* type=fp16: input `slot` of every node of `ops` that holds a float32 constant becomes a
 * float16 initializer read through Cast(to=FLOAT); each constant once. */
static enum nnp_status weights_fp16(struct nnp_graph *g, const char *ops, const char *exclude,
                                    bool quiet, struct nnp_pass_record *rec)
{
    int n_conv = 0, n_kept = 0, n_nodes = 0;
    int64_t underflow = 0;
    int values_before = g->n_values;
    if (rec)
        rec->lists_kept = true;
    struct nnp_value **cast_of = calloc((size_t)values_before + 1, sizeof *cast_of);
    if (!cast_of)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    enum nnp_status st = NNP_OK;
    for (int i = 0; i < g->n_nodes && st == NNP_OK; i++) {
        struct nnp_node *n = g->nodes[i];
        if (!nnp_pass_in_list(ops, n->op_type))
            continue;
        if (nnp_pass_in_list(exclude, n->name) || nnp_pass_in_list(exclude, n->op_type)) {
            st = keep_f32(rec, n, "excluded", quiet, &n_kept);
            continue;
        }
        bool any = false;
        for (int slot = 1; slot < n->n_inputs && slot <= 2 && st == NNP_OK; slot++) {
            struct nnp_value *v = n->inputs[slot];
            const struct nnp_tensor *t = nnp_pass_f32_const(v);
            if (!t || v->index >= values_before)
                continue;
            if (cast_of[v->index]) {
                n->inputs[slot] = cast_of[v->index];
                any = true;
                continue;
            }
            int64_t numel = nnp_tensor_numel(t);
            const float *x = t->data;
            bool fits = true;
            for (int64_t k = 0; k < numel && fits; k++)
                fits = isfinite(x[k]) && fabsf(x[k]) <= 65504.0f;
            if (!fits) {
                st = keep_f32(rec, n, "a value is beyond float16's range", quiet, &n_kept);
                continue;
            }
            struct nnp_value *h = f16_const(g, v, &underflow, &st);
            if (!h)
                break;
            struct nnp_value *f = add_cast(g, h, v->name, "float", "Cast", NNP_DTYPE_F32);
            cast_of[v->index] = f;
            n->inputs[slot] = f;
            n_conv++;
            any = true;
        }
        n_nodes += any;
    }
    free(cast_of);
    if (st == NNP_OK) {
        nnp_graph_drop_unused(g);
        nnp_graph_link(g);
        st = nnp_graph_validate(g);
    }
    nnp_pass_stat(rec, "nodes_fp16", n_nodes);
    nnp_pass_stat(rec, "nodes_kept_float", n_kept);
    nnp_pass_stat(rec, "tensors_fp16", n_conv);
    nnp_pass_stat(rec, "values_underflowed_to_zero", (double)underflow);
    return st;
}

/* --- compute=fp16: the whole float graph in float16 --- */

/* The safety scan's bound: a value whose |x| exceeds F16_MAX / F16_HEADROOM on the
 * calibration data, or a weight that does, keeps the nodes that write or read it in
 * float32. The headroom (a factor 4, two binades) is for inputs larger than the
 * calibration samples and for the arithmetic of the next node, whose partial sums a
 * float16 kernel may hold in float16 too. Nodes that square their input inside
 * (LayerNormalization's variance, ReduceSumSquare, ReduceL2) are held to the same bound
 * for x * x. */
#define F16_MAX 65504.0
#define F16_HEADROOM 4.0
#define F16_LIMIT (F16_MAX / F16_HEADROOM)

/* What compute=fp16 decides, by value and node index. */
struct f16_plan {
    enum nnp_dtype *type; /* (n_values) each value's element type in the float model */
    double *absmax;       /* (n_values) the largest |x| seen (weights, --data), -1: none */
    enum nnp_dtype *to;   /* (n_values) its type once converted */
    char **why;           /* (n_nodes) NULL: the node computes in float16; else why not */
    int64_t samples;      /* calibration samples scanned */
    struct nnp_value **cast[2]; /* (n_values) Cast of a value to float16 [0], float32 [1] */
};

static void f16_plan_free(struct f16_plan *p, int n_nodes)
{
    for (int i = 0; p->why && i < n_nodes; i++)
        free(p->why[i]);
    free(p->type);
    free(p->absmax);
    free(p->to);
    free(p->why);
    free(p->cast[0]);
    free(p->cast[1]);
}

/* Inputs that stay float32 whatever the other inputs are (tensor(float) in the
 * operator's schema, not T). */
static bool fixed_f32_input(const struct nnp_node *n, int slot)
{
    return (strcmp(n->op_type, "Resize") == 0 && slot == 2) ||
           (strcmp(n->op_type, "Upsample") == 0 && slot == 1);
}

/* --- running the model on --data --- */

/* The one data input of g, and the data opened for it. */
struct feed {
    struct nnp_dataset *d;
    struct nnp_value *in;
    int rank;
    int64_t dims[NNP_MAX_RANK + 1]; /* [batch, one sample's dims] */
    int64_t numel;                  /* of one sample */
    float *batch;                   /* (per_batch * numel) */
    int64_t per_batch;
};

static enum nnp_status feed_open(const struct nnp_graph *g, const struct nnp_pass_ctx *ctx,
                                 struct feed *f)
{
    memset(f, 0, sizeof *f);
    int feeds = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->inputs[i]->is_initializer) {
            f->in = g->inputs[i];
            feeds++;
        }
    if (feeds != 1)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "the safety scan feeds models of one input; "
                          "this one has %d", feeds);
    struct nnp_data_opts o = nnp_data_opts_default();
    o.scale = ctx->data_scale != 0 ? ctx->data_scale : o.scale;
    o.shift = ctx->data_shift;
    enum nnp_status st = nnp_dataset_open(ctx->data_path, &o, &f->d);
    if (st != NNP_OK)
        return st;
    f->rank = nnp_dataset_sample_shape(f->d, f->dims + 1) + 1;
    f->numel = nnp_dataset_sample_numel(f->d);
    return NNP_OK;
}

static void feed_close(struct feed *f)
{
    nnp_dataset_close(f->d);
    free(f->batch);
}

/* A plan of g for n samples; keep_all: every value readable after the run. */
static enum nnp_status feed_plan(const struct nnp_graph *g, const struct nnp_pass_ctx *ctx,
                                 struct feed *f, int64_t n, bool keep_all,
                                 struct nnp_runtime **rt)
{
    f->dims[0] = n;
    struct nnp_tensor shape;
    if (!nnp_shape_fit(&f->in->t, f->rank, f->dims, false, &shape)) {
        char a[96];
        return nnp_errorf(NNP_ERR_INVALID, "%s: samples of %" PRId64 " values each do not fit "
                          "the model's input %s %s", ctx->data_path, f->numel, f->in->name,
                          nnp_tensor_shape_str(&f->in->t, a, sizeof a));
    }
    struct nnp_tensor *shapes = calloc((size_t)g->n_inputs, sizeof *shapes);
    if (!shapes)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    for (int i = 0; i < g->n_inputs; i++)
        shapes[i] = g->inputs[i] == f->in ? shape : (struct nnp_tensor){.rank = -1};
    struct nnp_runtime_opts ro = nnp_runtime_opts_default();
    ro.threads = ctx->threads;
    ro.batch = n;
    ro.keep_all = keep_all;
    ro.no_fuse = keep_all;
    ro.input_shapes = shapes;
    enum nnp_status st = nnp_runtime_new(g, &ro, rt);
    free(shapes);
    return st;
}

/* Called after each batch of over_data(): `first` is the batch's first sample. */
typedef enum nnp_status (*visit_fn)(struct nnp_runtime *rt, int64_t first, void *arg);

#define SCAN_BATCH 100
#define SCAN_MAX_BYTES ((size_t)512 << 20)

/* Run g on up to `samples` samples of --data, a batch at a time (as many as
 * SCAN_MAX_BYTES of its values hold with keep_all, at most SCAN_BATCH), visit() after
 * each. A float16 input is fed the samples rounded to float16. *used: samples run. */
static enum nnp_status over_data(const struct nnp_graph *g, const struct nnp_pass_ctx *ctx,
                                 int64_t samples, bool keep_all, visit_fn visit, void *arg,
                                 int64_t *used)
{
    struct feed f;
    *used = 0;
    enum nnp_status st = feed_open(g, ctx, &f);
    struct nnp_runtime *rt = NULL;
    if (st == NNP_OK) {
        int64_t have = nnp_dataset_count(f.d);
        samples = samples < have ? samples : have;
        if (samples <= 0)
            st = nnp_errorf(NNP_ERR_INVALID, "%s: no samples to scan", ctx->data_path);
    }
    if (st == NNP_OK)
        st = feed_plan(g, ctx, &f, 1, keep_all, &rt);
    int64_t rt_batch = 1, done = 0;
    if (st == NNP_OK) {
        size_t one = nnp_runtime_memory(rt).naive_bytes;
        f.per_batch = one ? (int64_t)(SCAN_MAX_BYTES / one) : SCAN_BATCH;
        f.per_batch = f.per_batch < 1 ? 1 : f.per_batch > SCAN_BATCH ? SCAN_BATCH : f.per_batch;
        if (!(f.batch = malloc((size_t)(f.per_batch * f.numel) * sizeof *f.batch)))
            st = nnp_errorf(NNP_ERR_NOMEM, "no memory for a batch of samples");
    }
    while (st == NNP_OK && done < samples) {
        int64_t n = samples - done < f.per_batch ? samples - done : f.per_batch, got = 0;
        if (n != rt_batch) {
            nnp_runtime_free(rt);
            rt = NULL;
            if ((st = feed_plan(g, ctx, &f, n, keep_all, &rt)) != NNP_OK)
                break;
            rt_batch = n;
        }
        if ((st = nnp_dataset_read_f32(f.d, n, f.batch, &got)) != NNP_OK)
            break;
        struct nnp_rt_value *x = NULL;
        for (int i = 0; !x && i < nnp_runtime_n_inputs(rt); i++)
            if (strcmp(nnp_runtime_input(rt, i)->name, f.in->name) == 0)
                x = nnp_runtime_input(rt, i);
        NNP_ASSERT(x && x->numel == n * f.numel);
        if (x->dtype == NNP_DTYPE_F16)
            for (int64_t k = 0; k < x->numel; k++)
                ((uint16_t *)x->data)[k] = nnp_f32_to_f16(f.batch[k]);
        else
            memcpy(x->data, f.batch, x->nbytes);
        if ((st = nnp_runtime_run(rt)) == NNP_OK)
            st = visit(rt, done, arg);
        done += n;
    }
    nnp_runtime_free(rt);
    feed_close(&f);
    *used = done;
    return st;
}

/* the largest |x| of a float32 value (NaN: inf) */
static double value_absmax(const struct nnp_rt_value *v)
{
    double m = 0;
    for (int64_t k = 0; k < v->numel; k++) {
        double a = fabs((double)((const float *)v->data)[k]);
        a = isnan(a) ? INFINITY : a;
        m = a > m ? a : m;
    }
    return m;
}

struct scan_arg {
    const struct nnp_graph *g;
    struct f16_plan *p;
};

static enum nnp_status scan_visit(struct nnp_runtime *rt, int64_t first, void *arg)
{
    (void)first;
    struct scan_arg *a = arg;
    for (int i = 0; i < a->g->n_values; i++) {
        const struct nnp_value *v = a->g->values[i];
        const struct nnp_rt_value *r = a->p->type[i] == NNP_DTYPE_F32
                                           ? nnp_runtime_value(rt, v->name)
                                           : NULL;
        if (r && r->data && r->dtype == NNP_DTYPE_F32) {
            double m = value_absmax(r);
            a->p->absmax[i] = m > a->p->absmax[i] ? m : a->p->absmax[i];
        }
    }
    return NNP_OK;
}

/* The element type of every value, from a plan of the float model at batch 1 (the IR
 * knows only those the model declares), and the largest |x| of each float32 weight. */
static enum nnp_status learn_types(const struct nnp_graph *g, const struct nnp_pass_ctx *ctx,
                                   struct f16_plan *p)
{
    struct nnp_runtime_opts ro = nnp_runtime_opts_default();
    ro.threads = ctx->threads;
    ro.keep_all = true;
    ro.no_fuse = true;
    struct nnp_runtime *rt = NULL;
    enum nnp_status st;
    if (ctx->data_path) { /* the input's shape from the data, as the scan will feed it */
        struct feed f;
        if ((st = feed_open(g, ctx, &f)) == NNP_OK)
            st = feed_plan(g, ctx, &f, 1, true, &rt);
        feed_close(&f);
    } else {
        st = nnp_runtime_new(g, &ro, &rt);
    }
    if (st != NNP_OK)
        return st;
    for (int i = 0; i < g->n_values; i++) {
        const struct nnp_value *v = g->values[i];
        const struct nnp_rt_value *r = nnp_runtime_value(rt, v->name);
        p->type[i] = r ? r->dtype : v->t.dtype;
        p->absmax[i] = -1;
        const struct nnp_tensor *w = nnp_pass_f32_const(v);
        if (w) {
            struct nnp_rt_value rv = {.dtype = NNP_DTYPE_F32, .numel = nnp_tensor_numel(w),
                                      .data = w->data};
            p->absmax[i] = value_absmax(&rv);
        }
    }
    nnp_runtime_free(rt);
    return NNP_OK;
}

/* --- which nodes stay float32 --- */

static bool float_node(const struct f16_plan *p, const struct nnp_node *n)
{
    for (int j = 0; j < n->n_inputs; j++)
        if (n->inputs[j] && p->type[n->inputs[j]->index] == NNP_DTYPE_F32)
            return true;
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] && p->type[n->outputs[j]->index] == NNP_DTYPE_F32)
            return true;
    return false;
}

static bool squares_input(const char *op)
{
    return strcmp(op, "LayerNormalization") == 0 || strcmp(op, "ReduceSumSquare") == 0 ||
           strcmp(op, "ReduceL2") == 0;
}

/* Why node n must stay float32, into buf, or NULL: excluded, not of ai.onnx, or a
 * value it reads or writes beyond the scan's bound. */
static const char *block_reason(const struct f16_plan *p, const struct nnp_node *n,
                                const char *exclude, char *buf, size_t size)
{
    if (nnp_pass_in_list(exclude, n->name) || nnp_pass_in_list(exclude, n->op_type))
        return "excluded";
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return "an operator outside ai.onnx: its float16 form is not known";
    if (strcmp(n->op_type, "Constant") == 0)
        return "a Constant given as value_float(s)";
    for (int j = 0; j < n->n_outputs; j++) {
        const struct nnp_value *v = n->outputs[j];
        if (v && p->type[v->index] == NNP_DTYPE_F32 && p->absmax[v->index] > F16_LIMIT) {
            snprintf(buf, size, "output %s reaches |x| = %.6g on the calibration data, beyond "
                     "%g (float16's 65504 with a headroom of %g)", v->name,
                     p->absmax[v->index], F16_LIMIT, F16_HEADROOM);
            return buf;
        }
    }
    for (int j = 0; j < n->n_inputs; j++) {
        const struct nnp_value *v = n->inputs[j];
        if (!v || p->type[v->index] != NNP_DTYPE_F32 || p->absmax[v->index] < 0)
            continue;
        double m = p->absmax[v->index];
        const char *what = nnp_pass_f32_const(v) ? "weight" : "input";
        if (m > F16_LIMIT) {
            snprintf(buf, size, "%s %s reaches |x| = %.6g%s, beyond %g (float16's 65504 with "
                     "a headroom of %g)", what, v->name, m,
                     nnp_pass_f32_const(v) ? "" : " on the calibration data", F16_LIMIT,
                     F16_HEADROOM);
            return buf;
        }
        if (j == 0 && squares_input(n->op_type) && m * m > F16_LIMIT) {
            snprintf(buf, size, "it squares input %s, whose |x| reaches %.6g: x * x = %.6g is "
                     "beyond %g", v->name, m, m * m, F16_LIMIT);
            return buf;
        }
    }
    return NULL;
}

/* --- the rewrite --- */

/* Shape and Size read any type. */
static bool type_agnostic(const struct nnp_node *n)
{
    return strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0;
}

/* The type node n wants in input slot j for a float32 value, once converted. */
static enum nnp_dtype slot_type(const struct f16_plan *p, const struct nnp_node *n, int j)
{
    return p->why[n->index] || fixed_f32_input(n, j) ? NNP_DTYPE_F32 : NNP_DTYPE_F16;
}

/* Does node n read v in a slot that wants float16? */
static bool reads_f16(const struct f16_plan *p, const struct nnp_node *n, const struct nnp_value *v)
{
    for (int j = 0; j < n->n_inputs && !type_agnostic(n); j++)
        if (n->inputs[j] == v && slot_type(p, n, j) == NNP_DTYPE_F16)
            return true;
    return false;
}

/* The type each float32 value takes: float16, but float32 for the graph's inputs and
 * outputs (keep_io), what a float32 node writes, and a weight only float32 nodes read. */
static void choose_types(const struct nnp_graph *g, struct f16_plan *p, bool keep_io)
{
    for (int i = 0; i < g->n_values; i++) {
        const struct nnp_value *v = g->values[i];
        p->to[i] = p->type[i];
        if (p->type[i] != NNP_DTYPE_F32)
            continue;
        bool f16 = !(keep_io && (v->is_input || v->is_output));
        if (v->producer && p->why[v->producer->index])
            f16 = false;
        if (v->is_initializer && !nnp_pass_f32_const(v))
            f16 = false; /* an input's default, or encoded storage: read through a Cast */
        if (v->is_initializer && v->n_consumers > 0) {
            bool any = false;
            for (int k = 0; k < v->n_consumers; k++)
                any |= reads_f16(p, v->consumers[k], v);
            f16 &= any;
        }
        p->to[i] = f16 ? NNP_DTYPE_F16 : NNP_DTYPE_F32;
    }
}

/* Cast(v) to `to` (float16 or float32), once per value and type. */
static struct nnp_value *cast_of(struct nnp_graph *g, struct f16_plan *p, struct nnp_value *v,
                                 enum nnp_dtype to)
{
    int k = to == NNP_DTYPE_F16 ? 0 : 1;
    if (!p->cast[k][v->index]) {
        int idx = v->index;
        struct nnp_value *c = add_cast(g, v, v->name, k == 0 ? "fp16" : "fp32",
                                       k == 0 ? "Cast_fp16" : "Cast_fp32", to);
        c->t = (struct nnp_tensor){.dtype = to, .rank = v->t.rank};
        memcpy(c->t.dims, v->t.dims, sizeof c->t.dims);
        memcpy(c->t.dim_params, v->t.dim_params, sizeof c->t.dim_params);
        p->cast[k][idx] = c;
    }
    return p->cast[k][v->index];
}

/* A float32 initializer made float16 in place (same name). */
static enum nnp_status init_to_f16(struct nnp_graph *g, struct nnp_value *v, int64_t *underflow)
{
    struct nnp_tensor h;
    enum nnp_status st = f16_tensor(g, &v->t, &h, underflow);
    if (st != NNP_OK)
        return st;
    v->t.dtype = NNP_DTYPE_F16;
    v->t.data = h.data;
    v->t.nbytes = h.nbytes;
    return NNP_OK;
}

/* The float-type attributes of a node computing in float16: Cast's `to`, a `dtype`
 * (EyeLike, Random*), ConstantOfShape's value. */
static enum nnp_status attrs_to_f16(struct nnp_graph *g, struct nnp_node *n)
{
    int code = nnp_dtype_onnx(NNP_DTYPE_F32), half = nnp_dtype_onnx(NNP_DTYPE_F16);
    for (int a = 0; a < n->n_attrs; a++) {
        struct nnp_attr *at = &n->attrs[a];
        bool typed = (strcmp(at->name, "to") == 0 && strcmp(n->op_type, "Cast") == 0) ||
                     strcmp(at->name, "dtype") == 0;
        if (typed && at->type == NNP_ATTR_INT && at->i == code)
            at->i = half;
        if (at->type == NNP_ATTR_TENSOR && strcmp(n->op_type, "ConstantOfShape") == 0 && at->t &&
            at->t->dtype == NNP_DTYPE_F32 && at->t->data && at->t->storage == NNP_STORAGE_DENSE) {
            struct nnp_tensor h;
            int64_t ignored = 0;
            enum nnp_status st = f16_tensor(g, at->t, &h, &ignored);
            if (st != NNP_OK)
                return st;
            at->t->dtype = NNP_DTYPE_F16;
            at->t->data = h.data;
            at->t->nbytes = h.nbytes;
        }
    }
    return NNP_OK;
}

/* Rewrite g as p says: values retyped, initializers converted, casts on every edge
 * whose two ends differ. */
static enum nnp_status rewrite(struct nnp_graph *g, struct f16_plan *p, int64_t *underflow,
                               int *n_casts)
{
    int n_values = g->n_values, n_nodes = g->n_nodes;
    enum nnp_status st = NNP_OK;
    for (int i = 0; i < n_values && st == NNP_OK; i++) {
        struct nnp_value *v = g->values[i];
        if (p->type[i] != NNP_DTYPE_F32 || p->to[i] != NNP_DTYPE_F16)
            continue;
        if (v->is_initializer)
            st = init_to_f16(g, v, underflow);
        else if (v->t.dtype == NNP_DTYPE_F32)
            v->t.dtype = NNP_DTYPE_F16;
    }
    int casts_before = g->n_nodes;
    for (int i = 0; i < n_nodes && st == NNP_OK; i++) {
        struct nnp_node *n = g->nodes[i];
        if (!float_node(p, n))
            continue;
        bool half = !p->why[i];
        if (half && (st = attrs_to_f16(g, n)) != NNP_OK)
            break;
        for (int j = 0; j < n->n_inputs && !type_agnostic(n); j++) {
            struct nnp_value *v = n->inputs[j];
            if (!v || v->index >= n_values || p->type[v->index] != NNP_DTYPE_F32)
                continue;
            enum nnp_dtype want = slot_type(p, n, j);
            if (p->to[v->index] != want)
                n->inputs[j] = cast_of(g, p, v, want);
        }
        for (int j = 0; j < n->n_outputs && half; j++) {
            struct nnp_value *v = n->outputs[j];
            if (!v || p->type[v->index] != NNP_DTYPE_F32 || p->to[v->index] == NNP_DTYPE_F16)
                continue;
            /* a graph output kept float32: the node writes `v`_fp16 (which float16
             * readers of v read too), a Cast makes v */
            char name[512];
            snprintf(name, sizeof name, "%s_fp16", v->name);
            struct nnp_value *h = nnp_graph_new_value(g, name);
            h->t = (struct nnp_tensor){.dtype = NNP_DTYPE_F16, .rank = v->t.rank};
            memcpy(h->t.dims, v->t.dims, sizeof h->t.dims);
            memcpy(h->t.dim_params, v->t.dim_params, sizeof h->t.dim_params);
            n->outputs[j] = h;
            p->cast[0][v->index] = h;
            snprintf(name, sizeof name, "%s_Cast_fp32", v->name);
            struct nnp_node *c = nnp_graph_add_node(g, "Cast", nnp_graph_strdup(g, name));
            nnp_node_set_io(g, c, 1, &h, 1, &v);
            nnp_node_set_attr(g, c, "to", NNP_ATTR_INT)->i = nnp_dtype_onnx(NNP_DTYPE_F32);
        }
    }
    *n_casts = g->n_nodes - casts_before;
    if (st == NNP_OK) {
        nnp_graph_drop_unused(g);
        nnp_graph_link(g);
        st = nnp_graph_validate(g);
    }
    return st;
}

/* --- checks on the result --- */

struct finite_arg {
    const char *data;
};

static enum nnp_status finite_visit(struct nnp_runtime *rt, int64_t first, void *arg)
{
    struct finite_arg *a = arg;
    for (int i = 0; i < nnp_runtime_n_outputs(rt); i++) {
        const struct nnp_rt_value *y = nnp_runtime_output(rt, i);
        if ((y->dtype != NNP_DTYPE_F32 && y->dtype != NNP_DTYPE_F16) || !y->data)
            continue;
        int64_t per = y->rank > 0 && y->dims[0] > 0 ? y->numel / y->dims[0] : y->numel;
        for (int64_t k = 0; k < y->numel; k++) {
            float x = y->dtype == NNP_DTYPE_F16 ? nnp_f16_to_f32(((uint16_t *)y->data)[k])
                                                : ((const float *)y->data)[k];
            if (!isfinite(x))
                return nnp_errorf(NNP_ERR_INVALID, "compute=fp16: output %s is %s on sample "
                                  "%" PRId64 " of %s: keep the nodes that overflow in float32 "
                                  "with exclude=", y->name, isnan(x) ? "NaN" : "inf",
                                  first + (per ? k / per : 0), a->data);
        }
    }
    return NNP_OK;
}

static enum nnp_status report_kept(const struct nnp_graph *g, const struct f16_plan *p,
                                   bool quiet, struct nnp_pass_record *rec, int *n_kept)
{
    if (rec)
        rec->lists_kept = true;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!p->why[i])
            continue;
        const struct nnp_node *n = g->nodes[i];
        enum nnp_status st = keep_f32(rec, n, p->why[i], quiet, n_kept);
        if (st != NNP_OK)
            return st;
    }
    return NNP_OK;
}

static enum nnp_status compute_fp16(struct nnp_graph *g, const struct nnp_fp16_opts *o,
                                    struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec)
{
    struct f16_plan p = {0};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    p.type = calloc(nv, sizeof *p.type);
    p.absmax = calloc(nv, sizeof *p.absmax);
    p.to = calloc(nv, sizeof *p.to);
    p.why = calloc(nn, sizeof *p.why);
    p.cast[0] = calloc(nv, sizeof *p.cast[0]);
    p.cast[1] = calloc(nv, sizeof *p.cast[1]);
    int n_nodes = g->n_nodes;
    enum nnp_status st = NNP_OK;
    if (!p.type || !p.absmax || !p.to || !p.why || !p.cast[0] || !p.cast[1])
        st = nnp_errorf(NNP_ERR_NOMEM, "no memory");
    if (st == NNP_OK)
        st = learn_types(g, ctx, &p);
    if (st == NNP_OK && ctx->data_path) {
        struct scan_arg a = {g, &p};
        st = over_data(g, ctx, o->calib_samples, true, scan_visit, &a, &p.samples);
    } else if (st == NNP_OK && !ctx->quiet) {
        fprintf(stderr, "quantize: compute=fp16 without --data: no safety scan of the "
                "activations (only the weights are checked against float16's range)\n");
    }
    int n_half = 0, n_kept = 0, n_casts = 0;
    for (int i = 0; i < n_nodes && st == NNP_OK; i++) {
        const struct nnp_node *n = g->nodes[i];
        char buf[400];
        const char *why = float_node(&p, n) ? block_reason(&p, n, o->exclude, buf, sizeof buf)
                                            : NULL;
        if (why && !(p.why[i] = strdup(why)))
            st = nnp_errorf(NNP_ERR_NOMEM, "no memory");
        n_half += float_node(&p, n) && !why;
    }
    if (st == NNP_OK)
        st = report_kept(g, &p, ctx->quiet, rec, &n_kept);
    if (st == NNP_OK)
        choose_types(g, &p, o->keep_io);
    int64_t underflow = 0;
    if (st == NNP_OK)
        st = rewrite(g, &p, &underflow, &n_casts);
    int64_t checked = 0;
    if (st == NNP_OK && ctx->data_path) {
        struct finite_arg a = {ctx->data_path};
        st = over_data(g, ctx, o->calib_samples, false, finite_visit, &a, &checked);
    }
    nnp_pass_stat(rec, "nodes_fp16", n_half);
    nnp_pass_stat(rec, "nodes_kept_float", n_kept);
    nnp_pass_stat(rec, "casts", n_casts);
    nnp_pass_stat(rec, "values_underflowed_to_zero", (double)underflow);
    nnp_pass_stat(rec, "calibration_samples", (double)p.samples);
    f16_plan_free(&p, n_nodes);
    return st;
}

enum nnp_status nnp_quantize_fp16_check(const struct nnp_fp16_opts *o, bool ops_given)
{
    if (!o->compute && !o->keep_io)
        return nnp_errorf(NNP_ERR_USAGE, "keep_io=0 makes the graph's inputs and outputs "
                          "float16, which needs compute=fp16");
    if (o->compute && ops_given)
        return nnp_errorf(NNP_ERR_USAGE, "ops= chooses the nodes whose weights become "
                          "float16; compute=fp16 converts every float node (keep some in "
                          "float32 with exclude=)");
    return NNP_OK;
}

enum nnp_status nnp_quantize_fp16(struct nnp_graph *g, const struct nnp_fp16_opts *o,
                                  struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec)
{
    if (o->compute)
        return compute_fp16(g, o, ctx, rec);
    return weights_fp16(g, o->ops, o->exclude, ctx->quiet, rec);
}
