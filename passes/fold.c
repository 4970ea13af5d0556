/* passes/fold.c — simplifications that change no output:
 *
 *   - Constant nodes holding a tensor become initializers of the same name (as
 *     ONNX Runtime does on load), first, so that every later step and pass
 *     meets weights in one form;
 *   - BatchNormalization (inference) after a Conv or Gemm is folded into its
 *     weights: with s = gamma / sqrt(var + eps),
 *         W'[c,...] = W[c,...] * s[c]        b'[c] = (b[c] - mean[c]) * s[c] + beta[c]
 *   - Identity, and Dropout in inference mode, are removed;
 *   - nodes whose outputs nobody uses are removed, then initializers nobody reads.
 *
 * Folding is done in double precision and rounded once to float32, so the
 * result differs from the unfolded graph by float rounding only. */
#include "pass.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { OPT_CONSTANTS, OPT_BATCHNORM, OPT_IDENTITY, OPT_DROPOUT, OPT_DEAD };

static const struct nnp_pass_opt fold_opts[] = {
    [OPT_CONSTANTS] = {"constants", NNP_OPT_BOOL, "1", 0, 1, NULL,
                       "turn Constant nodes that hold a tensor into initializers"},
    [OPT_BATCHNORM] = {"batchnorm", NNP_OPT_BOOL, "1", 0, 1, NULL,
                       "fold BatchNormalization into the Conv or Gemm before it"},
    [OPT_IDENTITY] = {"identity", NNP_OPT_BOOL, "1", 0, 1, NULL, "remove Identity nodes"},
    [OPT_DROPOUT] = {"dropout", NNP_OPT_BOOL, "1", 0, 1, NULL,
                     "remove Dropout nodes that are in inference mode"},
    [OPT_DEAD] = {"dead", NNP_OPT_BOOL, "1", 0, 1, NULL,
                  "remove nodes and initializers whose results nobody uses"},
};

static bool is_default_domain(const struct nnp_node *n)
{
    return !*n->domain || strcmp(n->domain, "ai.onnx") == 0;
}

/* The constant input `slot` of `user` as an initializer we may rewrite in place: the
 * value itself when it is an initializer with one reader only. Otherwise (other
 * readers, or data that lives on a Constant node because constants=0) a copy with a
 * fresh name, so other readers keep the original numbers. */
static struct nnp_value *own_copy(struct nnp_graph *g, struct nnp_value *v, struct nnp_node *user,
                                  int slot)
{
    if (v->is_initializer && v->n_consumers == 1 && !v->is_output)
        return v;
    const struct nnp_tensor *t = nnp_value_constant(v);
    NNP_ASSERT(t); /* callers checked with nnp_pass_f32_const() */
    struct nnp_value *c = nnp_graph_new_value(g, v->name);
    c->t = *t;
    c->t.data = nnp_arena_memdup(g->arena, t->data, t->nbytes);
    c->is_initializer = true;
    c->has_type = true;
    user->inputs[slot] = c;
    return c;
}

/* Does a BatchNormalization node run in inference mode with plain per-channel
 * parameters of `channels` float32 values? */
static bool bn_foldable(const struct nnp_node *bn, int64_t channels)
{
    if (bn->n_inputs < 5 || nnp_node_attr_int(bn, "training_mode", 0) != 0)
        return false;
    for (int j = 1; j < bn->n_outputs; j++)
        if (bn->outputs[j] && (bn->outputs[j]->n_consumers || bn->outputs[j]->is_output))
            return false; /* running mean/var outputs are used: training graph */
    for (int j = 1; j < 5; j++) {
        const struct nnp_tensor *p = nnp_pass_f32_const(bn->inputs[j]);
        if (!p || nnp_tensor_numel(p) != channels)
            return false;
    }
    return true;
}

/* s[c] and t[c] such that BN(y) = y * s + t, in double precision. */
static void bn_affine(const struct nnp_node *bn, int64_t channels, double *s, double *t)
{
    const float *gamma = nnp_pass_f32_const(bn->inputs[1])->data, *beta = nnp_pass_f32_const(bn->inputs[2])->data;
    const float *mean = nnp_pass_f32_const(bn->inputs[3])->data, *var = nnp_pass_f32_const(bn->inputs[4])->data;
    double eps = nnp_node_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t c = 0; c < channels; c++) {
        s[c] = gamma[c] / sqrt((double)var[c] + eps);
        t[c] = beta[c] - mean[c] * s[c];
    }
}

/* Make `n` produce what `bn` produced, then drop bn. */
static void take_over_output(struct nnp_graph *g, struct nnp_node *n, struct nnp_node *bn)
{
    n->outputs[0] = bn->outputs[0];
    nnp_graph_remove_node(g, bn);
}

/* Bias input of n at `slot`: the existing one (made private), or a new zero one. */
static enum nnp_status bias_for(struct nnp_graph *g, struct nnp_node *n, int slot,
                                int64_t channels, struct nnp_value **out)
{
    if (n->n_inputs > slot && n->inputs[slot]) {
        *out = own_copy(g, n->inputs[slot], n, slot);
        return NNP_OK;
    }
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s_bias", *n->name ? n->name : n->op_type);
    struct nnp_value *b = nnp_graph_new_value(g, prefix);
    nnp_tensor_set_shape(&b->t, NNP_DTYPE_F32, 1, &channels);
    enum nnp_status st = nnp_tensor_alloc(g, &b->t);
    if (st != NNP_OK)
        return st;
    b->is_initializer = true;
    b->has_type = true;
    if (n->n_inputs <= slot) {
        struct nnp_value **in = nnp_arena_alloc(g->arena, (size_t)(slot + 1) * sizeof *in);
        memcpy(in, n->inputs, (size_t)n->n_inputs * sizeof *in);
        n->inputs = in;
        n->n_inputs = slot + 1;
    }
    n->inputs[slot] = b;
    *out = b;
    return NNP_OK;
}

/* What both folds start with: s and t of BN(y) = y * s + t, and n's weight
 * (input 1) and bias (input 2, created as zeros when absent), both safe to rewrite. */
struct bn_fold {
    double *s, *t; /* (channels) */
    float *w;      /* n's weight */
    float *b;      /* (channels) n's bias */
};

static enum nnp_status bn_fold_begin(struct nnp_graph *g, struct nnp_node *n,
                                     const struct nnp_node *bn, int64_t channels,
                                     struct bn_fold *f)
{
    f->s = nnp_arena_alloc_big(g->arena, (size_t)channels * 2 * sizeof *f->s);
    if (!f->s)
        return nnp_errorf(NNP_ERR_NOMEM, "out of memory folding %s", bn->name);
    f->t = f->s + channels;
    bn_affine(bn, channels, f->s, f->t);
    f->w = own_copy(g, n->inputs[1], n, 1)->t.data;
    struct nnp_value *b;
    enum nnp_status st = bias_for(g, n, 2, channels, &b);
    f->b = st == NNP_OK ? b->t.data : NULL;
    return st;
}

static enum nnp_status fold_into_conv(struct nnp_graph *g, struct nnp_node *conv,
                                      struct nnp_node *bn, bool *done)
{
    const struct nnp_tensor *w = nnp_pass_f32_const(conv->inputs[1]);
    const struct nnp_value *b_in = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
    if (!w || w->rank < 3 || (b_in && !nnp_pass_f32_const(b_in)))
        return NNP_OK;
    int64_t channels = w->dims[0];
    if (!bn_foldable(bn, channels))
        return NNP_OK;
    if (b_in && nnp_tensor_numel(nnp_pass_f32_const(b_in)) != channels)
        return NNP_OK;
    int64_t per = nnp_tensor_numel(w) / channels;
    struct bn_fold f;
    enum nnp_status st = bn_fold_begin(g, conv, bn, channels, &f);
    if (st != NNP_OK)
        return st;
    for (int64_t c = 0; c < channels; c++) {
        for (int64_t k = 0; k < per; k++)
            f.w[c * per + k] = (float)(f.w[c * per + k] * f.s[c]);
        f.b[c] = (float)(f.b[c] * f.s[c] + f.t[c]);
    }
    take_over_output(g, conv, bn);
    *done = true;
    return NNP_OK;
}

static enum nnp_status fold_into_gemm(struct nnp_graph *g, struct nnp_node *gemm,
                                      struct nnp_node *bn, bool *done)
{
    const struct nnp_tensor *w = nnp_pass_f32_const(gemm->inputs[1]);
    if (!w || w->rank != 2 || nnp_node_attr_int(gemm, "transA", 0) != 0)
        return NNP_OK;
    bool trans_b = nnp_node_attr_int(gemm, "transB", 0) != 0;
    int64_t channels = trans_b ? w->dims[0] : w->dims[1];
    if (!bn_foldable(bn, channels))
        return NNP_OK;
    const struct nnp_value *c_in = gemm->n_inputs > 2 ? gemm->inputs[2] : NULL;
    const struct nnp_tensor *bias = c_in ? nnp_pass_f32_const(c_in) : NULL;
    /* only a bias broadcast along rows ([N] or [1,N]) stays a bias after folding */
    if (c_in && (!bias || nnp_tensor_numel(bias) != channels || bias->rank > 2 ||
                 (bias->rank == 2 && bias->dims[0] != 1)))
        return NNP_OK;
    double alpha = nnp_node_attr_float(gemm, "alpha", 1.0f);
    double beta = c_in ? nnp_node_attr_float(gemm, "beta", 1.0f) : 1.0;
    int64_t rows = w->dims[0], cols = w->dims[1];
    struct bn_fold f;
    enum nnp_status st = bn_fold_begin(g, gemm, bn, channels, &f);
    if (st != NNP_OK)
        return st;
    /* alpha goes into the weights so that the folded Gemm has alpha = beta = 1 */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t ch = trans_b ? r : c;
            f.w[r * cols + c] = (float)(f.w[r * cols + c] * alpha * f.s[ch]);
        }
    for (int64_t c = 0; c < channels; c++)
        f.b[c] = (float)(f.b[c] * beta * f.s[c] + f.t[c]);
    nnp_node_set_attr(g, gemm, "alpha", NNP_ATTR_FLOAT)->f = 1.0f;
    nnp_node_set_attr(g, gemm, "beta", NNP_ATTR_FLOAT)->f = 1.0f;
    take_over_output(g, gemm, bn);
    *done = true;
    return NNP_OK;
}

static enum nnp_status fold_batchnorms(struct nnp_graph *g, int *count)
{
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *bn = g->nodes[i];
        if (bn->removed || strcmp(bn->op_type, "BatchNormalization") || !is_default_domain(bn))
            continue;
        struct nnp_value *x = bn->inputs[0];
        struct nnp_node *p = x ? x->producer : NULL;
        /* the pre-BN value must have no other reader, or it would change under them */
        if (!p || p->removed || x->n_consumers != 1 || x->is_output || p->n_outputs < 1 ||
            p->outputs[0] != x || !is_default_domain(p) || p->n_inputs < 2)
            continue;
        bool done = false;
        enum nnp_status st = NNP_OK;
        if (!strcmp(p->op_type, "Conv"))
            st = fold_into_conv(g, p, bn, &done);
        else if (!strcmp(p->op_type, "Gemm"))
            st = fold_into_gemm(g, p, bn, &done);
        if (st != NNP_OK)
            return st;
        if (done) {
            (*count)++;
            nnp_graph_link(g);
            i = -1; /* indices changed; start over (graphs are small, BNs few) */
        }
    }
    return NNP_OK;
}

/* Is a Dropout node a no-op: inference mode and its mask unused? */
static bool dropout_is_noop(const struct nnp_node *n)
{
    if (n->n_outputs > 1 && n->outputs[1] && (n->outputs[1]->n_consumers || n->outputs[1]->is_output))
        return false;
    if (n->n_inputs > 2 && n->inputs[2]) { /* training_mode input (opset 12+) */
        const struct nnp_tensor *m = nnp_value_constant(n->inputs[2]);
        if (!m || m->dtype != NNP_DTYPE_BOOL || !m->data || ((const uint8_t *)m->data)[0] != 0)
            return false;
    }
    return true;
}

/* Remove a node that passes its first input through unchanged. */
static bool bypass(struct nnp_graph *g, struct nnp_node *n)
{
    struct nnp_value *in = n->inputs[0], *out = n->outputs[0];
    if (!in || !out)
        return false;
    if (!out->is_output) {
        nnp_graph_replace_uses(g, out, in);
        nnp_graph_remove_node(g, n);
        return true;
    }
    /* The output name is part of the model's interface and must stay. If the
     * input is a private intermediate, let its producer write the output directly. */
    struct nnp_node *p = in->producer;
    if (p && !in->is_output && in->n_consumers == 1) {
        for (int j = 0; j < p->n_outputs; j++)
            if (p->outputs[j] == in)
                p->outputs[j] = out;
        nnp_graph_remove_node(g, n);
        return true;
    }
    return false;
}

static void remove_passthrough(struct nnp_graph *g, bool identity, bool dropout, int *n_identity,
                               int *n_dropout)
{
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        if (n->removed || !is_default_domain(n) || n->n_inputs < 1)
            continue;
        if (identity && !strcmp(n->op_type, "Identity")) {
            if (bypass(g, n)) {
                (*n_identity)++;
                nnp_graph_link(g);
                i = -1;
            }
        } else if (dropout && !strcmp(n->op_type, "Dropout") && dropout_is_noop(n)) {
            if (bypass(g, n)) {
                (*n_dropout)++;
                nnp_graph_link(g);
                i = -1;
            }
        }
    }
}

/* Remove nodes none of whose outputs is read, last to first so chains go at once. */
static int remove_dead(struct nnp_graph *g)
{
    int removed = 0;
    nnp_graph_link(g);
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        struct nnp_node *n = g->nodes[i];
        bool used = n->n_outputs == 0; /* a node with no outputs is kept: we cannot tell why it is there */
        for (int j = 0; j < n->n_outputs && !used; j++)
            used = n->outputs[j] && (n->outputs[j]->n_consumers || n->outputs[j]->is_output);
        if (used)
            continue;
        nnp_graph_remove_node(g, n);
        removed++;
        /* its inputs lose a reader */
        for (int j = 0; j < n->n_inputs + n->n_implicit; j++) {
            struct nnp_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
            if (v)
                v->n_consumers--;
        }
    }
    nnp_graph_link(g);
    return removed;
}

static enum nnp_status fold_run(struct nnp_graph *g, const union nnp_opt_value *opt,
                                struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec)
{
    (void)ctx;
    int n_const = 0, n_bn = 0, n_identity = 0, n_dropout = 0, n_dead = 0, n_init = 0;
    int nodes_before = g->n_nodes;
    nnp_graph_link(g);
    if (opt[OPT_CONSTANTS].i)
        n_const = nnp_graph_constants_to_initializers(g);
    if (opt[OPT_BATCHNORM].i) {
        enum nnp_status st = fold_batchnorms(g, &n_bn);
        if (st != NNP_OK)
            return st;
    }
    remove_passthrough(g, opt[OPT_IDENTITY].i, opt[OPT_DROPOUT].i, &n_identity, &n_dropout);
    if (opt[OPT_DEAD].i) {
        n_dead = remove_dead(g);
        int inits_before = 0, inits_after = 0;
        for (int i = 0; i < g->n_values; i++)
            inits_before += g->values[i]->is_initializer;
        nnp_graph_drop_unused(g);
        for (int i = 0; i < g->n_values; i++)
            inits_after += g->values[i]->is_initializer;
        n_init = inits_before - inits_after;
    }
    nnp_graph_link(g);
    nnp_pass_stat(rec, "constants_converted", n_const);
    nnp_pass_stat(rec, "batchnorm_folded", n_bn);
    nnp_pass_stat(rec, "identity_removed", n_identity);
    nnp_pass_stat(rec, "dropout_removed", n_dropout);
    nnp_pass_stat(rec, "dead_nodes_removed", n_dead);
    nnp_pass_stat(rec, "initializers_removed", n_init);
    nnp_pass_stat(rec, "nodes_before", nodes_before);
    nnp_pass_stat(rec, "nodes_after", g->n_nodes);
    return NNP_OK;
}

const struct nnp_pass nnp_pass_fold = {
    .name = "fold",
    .help = "make Constant nodes initializers; fold BatchNormalization into Conv/Gemm; remove "
            "Identity, inference Dropout, dead code",
    .n_opts = sizeof fold_opts / sizeof *fold_opts,
    .opts = fold_opts,
    .run = fold_run,
};
