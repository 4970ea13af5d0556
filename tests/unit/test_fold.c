/* tests/unit/test_fold.c — the fold pass on graphs built in C, each checked by
 * running the graph before and after folding in the runtime: the outputs must
 * agree to float rounding, and the folded graph must have lost what fold removes. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/runtime.h"
#include "passes/pass.h"

static struct nnp_value *f32_value(struct nnp_graph *g, const char *name, int rank,
                                   const int64_t *dims, unsigned seed)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, NNP_DTYPE_F32, rank, dims);
    v->has_type = true;
    if (seed) { /* an initializer with values in [-1, 1) */
        cr_assert_eq(nnp_tensor_alloc(g, &v->t), NNP_OK);
        float *p = v->t.data;
        for (size_t i = 0; i < v->t.nbytes / 4; i++) {
            seed = seed * 1664525u + 1013904223u;
            p[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
        }
        v->is_initializer = true;
    }
    return v;
}

static struct nnp_node *add(struct nnp_graph *g, const char *op, const char *name, int n_in,
                            struct nnp_value **in, int n_out, struct nnp_value **out)
{
    struct nnp_node *n = nnp_graph_add_node(g, op, name);
    nnp_node_set_io(g, n, n_in, in, n_out, out);
    return n;
}

/* Variances must be positive: shift a random tensor into [0.5, 2.5). */
static struct nnp_value *variance(struct nnp_graph *g, const char *name, int64_t c, unsigned seed)
{
    struct nnp_value *v = f32_value(g, name, 1, &c, seed);
    for (int64_t i = 0; i < c; i++)
        ((float *)v->t.data)[i] += 1.5f;
    return v;
}

static struct nnp_node *batchnorm(struct nnp_graph *g, const char *name, struct nnp_value *x,
                                  struct nnp_value *y, int64_t c)
{
    char buf[5][64];
    const char *what[5] = {"scale", "bias", "mean", "var"};
    struct nnp_value *in[5] = {x};
    for (int i = 0; i < 4; i++) {
        snprintf(buf[i], sizeof buf[i], "%s.%s", name, what[i]);
        in[i + 1] = i == 3 ? variance(g, buf[i], c, 40u + i) : f32_value(g, buf[i], 1, &c, 30u + i);
    }
    struct nnp_node *n = add(g, "BatchNormalization", name, 5, in, 1, &y);
    nnp_node_set_attr(g, n, "epsilon", NNP_ATTR_FLOAT)->f = 1e-3f;
    return n;
}

/* Run g on a fixed input and copy its first output into out (numel floats). */
static void run(const struct nnp_graph *g, float *out, int64_t numel)
{
    struct nnp_runtime *rt;
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_OK, "%s", nnp_error_message());
    struct nnp_rt_value *x = nnp_runtime_input(rt, 0);
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    struct nnp_rt_value *y = nnp_runtime_output(rt, 0);
    cr_assert_eq(y->numel, numel);
    memcpy(out, y->data, (size_t)numel * sizeof *out);
    nnp_runtime_free(rt);
}

static void fold(struct nnp_graph *g, const char *pipeline, double *stats)
{
    struct nnp_pipeline *p;
    cr_assert_eq(nnp_pipeline_parse(pipeline, &p), NNP_OK, "%s", nnp_error_message());
    struct nnp_pass_ctx ctx = {.threads = 1};
    cr_assert_eq(nnp_pipeline_run(p, g, &ctx), NNP_OK, "%s", nnp_error_message());
    for (int k = 0; k < ctx.records[0].n_stats; k++)
        stats[k] = ctx.records[0].stats[k].value;
    nnp_pipeline_free(p);
}

static int count_op(const struct nnp_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i]->op_type, op) == 0;
    return n;
}

static void assert_close(const float *a, const float *b, int64_t n)
{
    float peak = 0;
    for (int64_t i = 0; i < n; i++)
        peak = fabsf(a[i]) > peak ? fabsf(a[i]) : peak;
    for (int64_t i = 0; i < n; i++)
        cr_assert_leq(fabsf(a[i] - b[i]), 1e-5f * peak + 1e-6f, "element %lld: %g vs %g",
                      (long long)i, a[i], b[i]);
}

/* X [4,6] -> Gemm(W [5,6], C [5], transB, alpha 0.5, beta 2) -> BN -> Y */
Test(fold, batchnorm_into_gemm_with_alpha_beta_transb)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){4, 6}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *w = f32_value(g, "w", 2, (int64_t[]){5, 6}, 7);
    struct nnp_value *c = f32_value(g, "c", 1, (int64_t[]){5}, 8);
    struct nnp_value *h = nnp_graph_value(g, "h"), *y = nnp_graph_value(g, "y");
    struct nnp_node *gemm = add(g, "Gemm", "fc", 3, (struct nnp_value *[]){x, w, c}, 1, &h);
    nnp_node_set_attr(g, gemm, "transB", NNP_ATTR_INT)->i = 1;
    nnp_node_set_attr(g, gemm, "alpha", NNP_ATTR_FLOAT)->f = 0.5f;
    nnp_node_set_attr(g, gemm, "beta", NNP_ATTR_FLOAT)->f = 2.0f;
    batchnorm(g, "bn", h, y, 5);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    float before[20], after[20];
    double stats[16];
    run(g, before, 20);
    fold(g, "fold", stats);
    run(g, after, 20);
    assert_close(before, after, 20);
    cr_assert_eq(count_op(g, "BatchNormalization"), 0);
    cr_assert_eq(stats[0], 1); /* batchnorm_folded */
    cr_assert_eq(nnp_graph_find(g, "y")->producer, gemm, "the output keeps its name");
    nnp_graph_free(g);
}

/* Two convolutions share one weight; only the first is followed by a BN. The
 * fold must not change what the second one computes. */
Test(fold, shared_weight_is_copied_not_rewritten)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 4, (int64_t[]){1, 2, 5, 5}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *w = f32_value(g, "w", 4, (int64_t[]){3, 2, 3, 3}, 9);
    struct nnp_value *h1 = nnp_graph_value(g, "h1"), *h2 = nnp_graph_value(g, "h2");
    struct nnp_value *b1 = nnp_graph_value(g, "b1"), *y = nnp_graph_value(g, "y");
    add(g, "Conv", "conv1", 2, (struct nnp_value *[]){x, w}, 1, &h1);
    add(g, "Conv", "conv2", 2, (struct nnp_value *[]){x, w}, 1, &h2);
    batchnorm(g, "bn", h1, b1, 3);
    add(g, "Add", "sum", 2, (struct nnp_value *[]){b1, h2}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    float before[27], after[27];
    double stats[16];
    run(g, before, 27);
    fold(g, "fold", stats);
    run(g, after, 27);
    assert_close(before, after, 27);
    cr_assert_eq(count_op(g, "BatchNormalization"), 0);
    cr_assert_neq(g->nodes[0]->inputs[1], g->nodes[1]->inputs[1], "weights now differ");
    nnp_graph_free(g);
}

/* Identity feeding a graph output and an inference Dropout in the middle go; a
 * node nobody reads goes, and so does its weight. */
Test(fold, passthrough_and_dead_code)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){2, 3}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *a = nnp_graph_value(g, "a"), *d = nnp_graph_value(g, "d");
    struct nnp_value *y = nnp_graph_value(g, "y"), *dead = nnp_graph_value(g, "dead");
    struct nnp_value *unused_w = f32_value(g, "unused_w", 2, (int64_t[]){2, 3}, 5);
    add(g, "Relu", "relu", 1, &x, 1, &a);
    add(g, "Dropout", "drop", 1, &a, 1, &d);
    add(g, "Identity", "id", 1, &d, 1, &y);
    add(g, "Mul", "unused", 2, (struct nnp_value *[]){x, unused_w}, 1, &dead);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    float before[6], after[6];
    double stats[16];
    run(g, before, 6);
    fold(g, "fold", stats);
    run(g, after, 6);
    assert_close(before, after, 6);
    cr_assert_eq(g->n_nodes, 1, "only Relu is left");
    cr_assert_eq(g->nodes[0]->outputs[0], y, "and it writes the graph output");
    cr_assert_null(nnp_graph_find(g, "unused_w"), "unused initializer dropped");
    cr_assert_eq(stats[1], 1); /* identity_removed */
    cr_assert_eq(stats[2], 1); /* dropout_removed */
    cr_assert_eq(stats[3], 1); /* dead_nodes_removed */
    nnp_graph_free(g);
}

/* With every option off, fold changes nothing. */
Test(fold, options_turn_steps_off)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){2, 3}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *y = nnp_graph_value(g, "y");
    add(g, "Identity", "id", 1, &x, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    double stats[16];
    fold(g, "fold(batchnorm=0,identity=0,dropout=0,dead=0)", stats);
    cr_assert_eq(g->n_nodes, 1);
    nnp_graph_free(g);
}
