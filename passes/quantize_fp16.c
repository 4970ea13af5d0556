/* passes/quantize_fp16.c — quantize(type=fp16): float16 storage of float weights.
 *
 * The weights and biases (inputs 1 and 2) of the nodes of `ops` (Conv, Gemm, MatMul by
 * default), less `exclude`, that are float32 constants are stored as float16, each read
 * through a Cast to float32 (half the bytes; the arithmetic stays float32, the casts of
 * constants are computed once when a runtime plans): rounded to nearest even, and a
 * tensor with a value beyond float16's range (65504) is kept in float32. A constant
 * several nodes read is converted once.
 *
 * Every candidate left in float32 is reported on stderr with the reason (unless
 * --quiet) and counted in the pass's statistics. */
#include "passes/quantize_fp16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void keep_f32(const struct nnp_node *n, const char *why, bool quiet, int *count)
{
    (*count)++;
    if (!quiet)
        fprintf(stderr, "quantize: %s (%s) stays float32: %s\n", *n->name ? n->name : "(unnamed)",
                n->op_type, why);
}

/* A new float16 initializer `v`_fp16 holding v's float32 constant rounded to nearest
 * even; *underflow counts the nonzero values that became zero. */
static struct nnp_value *f16_const(struct nnp_graph *g, const struct nnp_value *v,
                                   int64_t *underflow, enum nnp_status *st)
{
    const struct nnp_tensor *t = nnp_pass_f32_const(v);
    char name[512];
    snprintf(name, sizeof name, "%s_fp16", v->name);
    struct nnp_value *h = nnp_graph_new_value(g, name);
    nnp_tensor_set_shape(&h->t, NNP_DTYPE_F16, t->rank, t->dims);
    if ((*st = nnp_tensor_alloc(g, &h->t)) != NNP_OK)
        return NULL;
    h->is_initializer = true;
    h->has_type = true;
    const float *x = t->data;
    uint16_t *out = h->t.data;
    for (int64_t k = 0; k < nnp_tensor_numel(t); k++) {
        out[k] = nnp_f32_to_f16(x[k]);
        *underflow += x[k] != 0.0f && (out[k] & 0x7fff) == 0;
    }
    return h;
}

/* Cast(in, to) into a new value `base`_`suffix`, the node named after it. */
static struct nnp_value *add_cast(struct nnp_graph *g, struct nnp_value *in, const char *base,
                                  const char *suffix, enum nnp_dtype to)
{
    char name[512];
    snprintf(name, sizeof name, "%s_%s", base, suffix);
    struct nnp_value *out = nnp_graph_new_value(g, name);
    snprintf(name, sizeof name, "%s_Cast", base);
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
    struct nnp_value **cast_of = calloc((size_t)values_before + 1, sizeof *cast_of);
    if (!cast_of)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    enum nnp_status st = NNP_OK;
    for (int i = 0; i < g->n_nodes && st == NNP_OK; i++) {
        struct nnp_node *n = g->nodes[i];
        if (!nnp_pass_in_list(ops, n->op_type))
            continue;
        if (nnp_pass_in_list(exclude, n->name) || nnp_pass_in_list(exclude, n->op_type)) {
            keep_f32(n, "excluded", quiet, &n_kept);
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
                keep_f32(n, "a value is beyond float16's range", quiet, &n_kept);
                continue;
            }
            struct nnp_value *h = f16_const(g, v, &underflow, &st);
            if (!h)
                break;
            struct nnp_value *f = add_cast(g, h, v->name, "float", NNP_DTYPE_F32);
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

enum nnp_status nnp_quantize_fp16(struct nnp_graph *g, const struct nnp_fp16_opts *o,
                                  struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec)
{
    return weights_fp16(g, o->ops, o->exclude, ctx->quiet, rec);
}
