/* formats/report_json.c — report JSON written and read through jansson. */
#include "report_json.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zstd.h"

/* jansson's json_real refuses NaN/inf; the report writes null for them. */
static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *shape_json(const struct nnp_tensor *t)
{
    if (t->rank < 0)
        return json_null();
    json_t *a = json_array();
    for (int i = 0; i < t->rank; i++) {
        if (t->dim_params[i])
            json_array_append_new(a, json_string(t->dim_params[i]));
        else if (t->dims[i] < 0)
            json_array_append_new(a, json_null());
        else
            json_array_append_new(a, json_integer(t->dims[i]));
    }
    return a;
}

static json_t *summary_json(const struct nnp_summary *s, json_t *o)
{
    json_object_set_new(o, "params", json_integer(s->params));
    json_object_set_new(o, "nonzeros", json_integer(s->nonzeros));
    json_object_set_new(o, "sparsity",
                        num(s->params ? 1.0 - (double)s->nonzeros / (double)s->params : 0));
    json_object_set_new(o, "weight_bytes", json_integer((json_int_t)s->weight_bytes));
    json_object_set_new(o, "bits_per_weight", num(s->bits_per_weight));
    json_object_set_new(o, "nodes", json_integer(s->n_nodes));
    json_t *ops = json_object();
    for (int i = 0; i < s->n_ops; i++)
        json_object_set_new(ops, s->ops[i].op, json_integer(s->ops[i].count));
    json_object_set_new(o, "ops", ops);
    json_t *layers = json_array();
    for (int i = 0; i < s->n_layers; i++) {
        const struct nnp_layer *l = &s->layers[i];
        json_t *row = json_object();
        json_object_set_new(row, "node", json_string(l->node));
        json_object_set_new(row, "op", json_string(l->op));
        json_object_set_new(row, "weight", json_string(l->weight));
        json_object_set_new(row, "shape", json_string(l->shape));
        json_object_set_new(row, "dtype", json_string(nnp_dtype_name(l->dtype)));
        json_object_set_new(row, "params", json_integer(l->params));
        json_object_set_new(row, "nonzeros", l->nonzeros < 0 ? json_null() : json_integer(l->nonzeros));
        json_object_set_new(row, "sparsity",
                            l->nonzeros < 0 || !l->params
                                ? json_null()
                                : num(1.0 - (double)l->nonzeros / (double)l->params));
        json_object_set_new(row, "bytes", json_integer((json_int_t)l->bytes));
        json_array_append_new(layers, row);
    }
    json_object_set_new(o, "layers", layers);
    return o;
}

static json_t *latency_json(const struct nnp_latency *l)
{
    if (!l->measured)
        return json_null();
    json_t *lat = json_object();
    json_object_set_new(lat, "batch", json_integer(l->batch));
    json_object_set_new(lat, "threads", json_integer(l->threads));
    json_object_set_new(lat, "runs", json_integer(l->runs));
    json_object_set_new(lat, "min_ms", num(l->min_ms));
    json_object_set_new(lat, "mean_ms", num(l->mean_ms));
    json_object_set_new(lat, "p50_ms", num(l->p50_ms));
    json_object_set_new(lat, "p90_ms", num(l->p90_ms));
    json_object_set_new(lat, "p95_ms", num(l->p95_ms));
    json_object_set_new(lat, "p99_ms", num(l->p99_ms));
    json_object_set_new(lat, "max_ms", num(l->max_ms));
    json_object_set_new(lat, "cv", num(l->cv));
    json_object_set_new(lat, "throughput", num(l->throughput));
    json_object_set_new(lat, "peak_bytes", json_integer((json_int_t)l->peak_bytes));
    return lat;
}

static json_t *accuracy_json(const struct nnp_accuracy *a)
{
    if (!a->measured)
        return json_null();
    json_t *acc = json_object();
    json_object_set_new(acc, "samples", json_integer(a->samples));
    json_object_set_new(acc, "top1", num(a->top1));
    json_object_set_new(acc, "top5", a->top5 < 0 ? json_null() : num(a->top5));
    json_object_set_new(acc, "agreement", num(a->agreement));
    json_object_set_new(acc, "max_abs_error", num(a->max_abs_error));
    json_object_set_new(acc, "cosine", num(a->cosine));
    json_object_set_new(acc, "sqnr_db", num(a->sqnr_db));
    return acc;
}

static json_t *model_json(const struct nnp_model_report *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", m->path ? json_string(m->path) : json_null());
    json_t *sizes = json_object();
    json_object_set_new(sizes, "onnx_bytes", json_integer((json_int_t)m->sizes.onnx_bytes));
    json_object_set_new(sizes, "zstd_bytes", json_integer((json_int_t)m->sizes.zstd_bytes));
    json_object_set_new(sizes, "container_bytes",
                        m->sizes.container_bytes ? json_integer((json_int_t)m->sizes.container_bytes)
                                                 : json_null());
    json_object_set_new(o, "sizes", sizes);
    summary_json(&m->summary, o);
    json_object_set_new(o, "latency", latency_json(&m->latency));
    json_object_set_new(o, "accuracy", accuracy_json(&m->accuracy));
    return o;
}

static json_t *versions_json(void)
{
    json_t *v = json_object();
    json_object_set_new(v, "nnpress", json_string(NNP_VERSION));
    json_object_set_new(v, "zstd", json_string(nnp_zstd_version()));
    json_object_set_new(v, "jansson", json_string(JANSSON_VERSION));
    return v;
}

static char *dump(json_t *root)
{
    /* JSON_SORT_KEYS is not used: insertion order is fixed, and reads like the table */
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *out = malloc(n + 2); /* a file ends with a newline */
    if (out) {
        memcpy(out, text, n);
        out[n] = '\n';
        out[n + 1] = '\0';
    }
    free(text);
    return out;
}

char *nnp_report_json(const struct nnp_report *r)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "command", json_string(r->command));
    json_object_set_new(root, "pipeline", json_string(r->pipeline ? r->pipeline : ""));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(root, "threads", json_integer(r->threads));
    json_object_set_new(root, "before", model_json(&r->before));
    json_object_set_new(root, "after", model_json(&r->after));
    json_t *ratios = json_object();
    double b = (double)r->before.sizes.onnx_bytes, a = (double)r->after.sizes.onnx_bytes;
    json_object_set_new(ratios, "onnx_bytes", num(b > 0 ? a / b : NAN));
    b = (double)r->before.summary.params, a = (double)r->after.summary.params;
    json_object_set_new(ratios, "params", num(b > 0 ? a / b : NAN));
    b = (double)r->before.summary.weight_bytes, a = (double)r->after.summary.weight_bytes;
    json_object_set_new(ratios, "weight_bytes", num(b > 0 ? a / b : NAN));
    json_object_set_new(root, "ratios", ratios);
    json_t *passes = json_array();
    for (int i = 0; i < r->n_passes; i++) {
        const struct nnp_pass_record *p = &r->passes[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "options", json_string(p->options));
        json_object_set_new(o, "seconds", num(p->seconds));
        json_t *st = json_object();
        for (int k = 0; k < p->n_stats; k++)
            json_object_set_new(st, p->stats[k].key, num(p->stats[k].value));
        json_object_set_new(o, "stats", st);
        if (p->n_kept > 0) {
            json_t *kept = json_array();
            for (int k = 0; k < p->n_kept; k++)
                json_array_append_new(kept, json_pack("{s:s,s:s,s:s}", "node", p->kept[k].node,
                                                      "op", p->kept[k].op, "reason",
                                                      p->kept[k].reason));
            json_object_set_new(o, "kept_float", kept);
        }
        json_array_append_new(passes, o);
    }
    json_object_set_new(root, "passes", passes);
    json_object_set_new(root, "versions", versions_json());
    return dump(root);
}

static json_t *io_json(struct nnp_value *const *vals, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(vals[i]->name));
        json_object_set_new(o, "dtype", json_string(nnp_dtype_name(vals[i]->t.dtype)));
        json_object_set_new(o, "shape", shape_json(&vals[i]->t));
        json_array_append_new(a, o);
    }
    return a;
}

char *nnp_inspect_json(const struct nnp_graph *g, const struct nnp_model_report *m)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "path", m->path ? json_string(m->path) : json_null());
    json_object_set_new(root, "producer", json_string(g->producer_name ? g->producer_name : ""));
    json_object_set_new(root, "producer_version",
                        json_string(g->producer_version ? g->producer_version : ""));
    json_object_set_new(root, "ir_version", json_integer(g->ir_version));
    json_t *opsets = json_array();
    for (int i = 0; i < g->n_opsets; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "domain", json_string(g->opsets[i].domain));
        json_object_set_new(o, "version", json_integer(g->opsets[i].version));
        json_array_append_new(opsets, o);
    }
    json_object_set_new(root, "opsets", opsets);
    json_object_set_new(root, "inputs", io_json(g->inputs, g->n_inputs));
    json_object_set_new(root, "outputs", io_json(g->outputs, g->n_outputs));
    json_t *model = model_json(m);
    json_object_del(model, "path");
    json_object_update(root, model);
    json_decref(model);
    return dump(root);
}

char *nnp_data_json(const struct nnp_data_stats *s)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "path", json_string(s->path));
    json_object_set_new(root, "format", json_string(s->format));
    json_object_set_new(root, "samples", json_integer(s->samples));
    json_t *shape = json_array();
    for (int i = 0; i < s->rank; i++)
        json_array_append_new(shape, json_integer(s->dims[i]));
    json_object_set_new(root, "sample_shape", shape);
    json_object_set_new(root, "dtype", json_string(nnp_dtype_name(s->dtype)));
    if (!nnp_dtype_is_float(s->dtype)) {
        json_object_set_new(root, "scale", num(s->scale));
        json_object_set_new(root, "shift", num(s->shift));
    }
    json_object_set_new(root, "min", num(s->min));
    json_object_set_new(root, "max", num(s->max));
    json_object_set_new(root, "mean", num(s->mean));
    return dump(root);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *nnp_bench_json(const struct nnp_bench_stats *b)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "command", json_string("bench"));
    json_object_set_new(root, "path", str_or_null(b->path));
    json_object_set_new(root, "blas", str_or_null(b->blas));
    json_object_set_new(root, "seed", json_integer((json_int_t)b->seed));
    json_object_set_new(root, "warmup_s", num(b->warmup_s));
    json_object_set_new(root, "duration_s", num(b->duration_s));
    json_object_set_new(root, "timed_s", num(b->timed_s));
    json_t *ins = json_array();
    for (int i = 0; i < b->n_inputs; i++) {
        const struct nnp_input_shape *in = &b->inputs[i];
        json_t *o = json_object(), *dims = json_array();
        for (int d = 0; d < in->rank; d++)
            json_array_append_new(dims, json_integer((json_int_t)in->dims[d]));
        json_object_set_new(o, "name", str_or_null(in->name));
        json_object_set_new(o, "dtype", json_string(nnp_dtype_name(in->dtype)));
        json_object_set_new(o, "shape", dims);
        json_array_append_new(ins, o);
    }
    json_object_set_new(root, "inputs", ins);
    json_object_set_new(root, "flops", num(b->flops));
    json_t *fused = json_array();
    for (int i = 0; i < b->n_fused; i++)
        json_array_append_new(fused, json_string(b->fused[i]));
    json_object_set_new(root, "fused", fused);
    json_object_set_new(root, "gflops_per_s",
                        b->latency.p50_ms > 0 ? num(b->flops / (b->latency.p50_ms * 1e6))
                                              : json_null());
    json_object_set_new(root, "latency", latency_json(&b->latency));
    json_t *mem = json_object();
    json_object_set_new(mem, "peak_bytes", json_integer((json_int_t)b->peak_bytes));
    json_object_set_new(mem, "naive_peak_bytes", json_integer((json_int_t)b->naive_peak_bytes));
    json_object_set_new(mem, "arena_bytes", json_integer((json_int_t)b->arena_bytes));
    json_object_set_new(mem, "naive_bytes", json_integer((json_int_t)b->naive_bytes));
    json_object_set_new(mem, "scratch_bytes", json_integer((json_int_t)b->scratch_bytes));
    json_object_set_new(mem, "const_bytes", json_integer((json_int_t)b->const_bytes));
    json_object_set_new(root, "memory", mem);
    json_object_set_new(root, "versions", versions_json());
    return dump(root);
}

char *nnp_eval_json(const struct nnp_eval_stats *e)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "command", json_string("eval"));
    json_object_set_new(root, "path", str_or_null(e->path));
    json_object_set_new(root, "data", str_or_null(e->data));
    json_object_set_new(root, "labels", str_or_null(e->labels));
    json_object_set_new(root, "reference", str_or_null(e->reference));
    json_object_set_new(root, "batch", json_integer(e->batch));
    json_object_set_new(root, "threads", json_integer(e->threads));
    json_object_set_new(root, "top1_correct",
                        e->top1_correct < 0 ? json_null() : json_integer(e->top1_correct));
    json_object_set_new(root, "top5_correct",
                        e->top5_correct < 0 ? json_null() : json_integer(e->top5_correct));
    json_object_set_new(root, "accuracy", accuracy_json(&e->accuracy));
    json_t *outs = json_array();
    for (int i = 0; i < e->n_outputs; i++) {
        const struct nnp_output_compare *c = &e->outputs[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "samples", json_integer(c->samples));
        json_object_set_new(o, "agree", json_integer(c->agree));
        json_object_set_new(o, "agreement",
                            num(c->samples ? (double)c->agree / (double)c->samples : NAN));
        json_object_set_new(o, "max_abs_error", num(c->max_abs_error));
        json_object_set_new(o, "max_rel_error", num(c->max_rel_error));
        json_object_set_new(o, "cosine", num(c->cosine));
        json_object_set_new(o, "sqnr_db", num(c->sqnr_db));
        json_array_append_new(outs, o);
    }
    json_object_set_new(root, "outputs", outs);
    json_object_set_new(root, "versions", versions_json());
    return dump(root);
}

/* top-1 of `correct` answers of n and its drop from fp's, in points; null without labels */
static void top1_json(json_t *o, int64_t correct, int64_t fp, int64_t n)
{
    bool have = correct >= 0 && n > 0;
    json_object_set_new(o, "top1_correct", have ? json_integer(correct) : json_null());
    json_object_set_new(o, "top1", have ? num((double)correct / (double)n) : json_null());
    json_object_set_new(o, "drop_points",
                        have && fp >= 0 ? num(100.0 * (double)(fp - correct) / (double)n)
                                        : json_null());
}

char *nnp_sensitivity_json(const struct nnp_sens_stats *s)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_integer(NNP_REPORT_SCHEMA));
    json_object_set_new(root, "command", json_string("sensitivity"));
    json_object_set_new(root, "path", str_or_null(s->path));
    json_object_set_new(root, "quantize", str_or_null(s->quantize));
    json_object_set_new(root, "calibration_data", str_or_null(s->calib_data));
    json_object_set_new(root, "calibration_samples", json_integer(s->calib_samples));
    json_object_set_new(root, "data", str_or_null(s->data));
    json_object_set_new(root, "labels", str_or_null(s->labels));
    json_object_set_new(root, "samples", json_integer(s->samples));
    json_t *fp = json_object();
    top1_json(fp, s->float_correct, -1, s->samples);
    json_object_del(fp, "drop_points");
    json_object_set_new(root, "float", fp);
    json_t *all = json_object();
    json_object_set_new(all, "nodes", json_integer(s->n_rows));
    json_object_set_new(all, "sqnr_db", num(s->all_sqnr_db));
    top1_json(all, s->all_correct, s->float_correct, s->samples);
    json_object_set_new(root, "all_quantized", all);
    json_t *rows = json_array();
    for (int i = 0; i < s->n_rows; i++) {
        const struct nnp_sens_row *r = &s->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(i + 1));
        json_object_set_new(o, "node", str_or_null(r->name));
        json_object_set_new(o, "op_type", str_or_null(r->op_type));
        json_object_set_new(o, "sqnr_db", num(r->sqnr_db));
        top1_json(o, r->correct, s->float_correct, s->samples);
        json_array_append_new(rows, o);
    }
    json_object_set_new(root, "nodes", rows);
    json_object_set_new(root, "versions", versions_json());
    return dump(root);
}

/* --- reading --- */

static enum nnp_status get_num(json_t *o, const char *key, const char *where, double *out,
                               const char *path)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return nnp_errorf(NNP_ERR_FORMAT, "%s: %s.%s is missing or not a number", path, where, key);
    *out = json_number_value(v);
    return NNP_OK;
}

static enum nnp_status read_side(json_t *root, const char *name, struct nnp_report_side *s,
                                 const char *path)
{
    json_t *o = json_object_get(root, name);
    if (!json_is_object(o))
        return nnp_errorf(NNP_ERR_FORMAT, "%s: '%s' is missing or not an object", path, name);
    json_t *sizes = json_object_get(o, "sizes");
    if (!json_is_object(sizes))
        return nnp_errorf(NNP_ERR_FORMAT, "%s: %s.sizes is missing", path, name);
    double x = 0;
    enum nnp_status st;
#define GET(obj, key, dst)                                                                          \
    if ((st = get_num(obj, key, name, &x, path)) != NNP_OK)                                       \
        return st;                                                                                  \
    dst = x;
    GET(sizes, "onnx_bytes", s->onnx_bytes)
    GET(sizes, "zstd_bytes", s->zstd_bytes)
    GET(o, "params", s->params)
    GET(o, "nonzeros", s->nonzeros)
    GET(o, "weight_bytes", s->weight_bytes)
    json_t *lat = json_object_get(o, "latency");
    if (json_is_object(lat)) {
        s->latency.measured = 1;
        GET(lat, "p50_ms", s->latency.p50_ms)
        GET(lat, "p90_ms", s->latency.p90_ms)
        GET(lat, "p99_ms", s->latency.p99_ms)
        GET(lat, "peak_bytes", s->latency.peak_bytes)
    }
    json_t *acc = json_object_get(o, "accuracy");
    if (json_is_object(acc)) {
        s->accuracy.measured = 1;
        GET(acc, "samples", s->accuracy.samples)
        GET(acc, "top1", s->accuracy.top1)
    }
#undef GET
    return NNP_OK;
}

enum nnp_status nnp_report_read(const char *path, struct nnp_report_figures *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return nnp_errorf(err.line < 0 ? NNP_ERR_IO : NNP_ERR_FORMAT, "%s:%d: %s", path, err.line,
                          err.text);
    enum nnp_status st = NNP_OK;
    json_t *schema = json_object_get(root, "schema");
    if (!json_is_integer(schema) || json_integer_value(schema) != NNP_REPORT_SCHEMA)
        st = nnp_errorf(NNP_ERR_FORMAT, "%s: not an nnpress report (schema %d expected)", path,
                        NNP_REPORT_SCHEMA);
    else
        out->schema = NNP_REPORT_SCHEMA;
    if (st == NNP_OK)
        st = read_side(root, "before", &out->before, path);
    if (st == NNP_OK)
        st = read_side(root, "after", &out->after, path);
    json_decref(root);
    return st;
}
