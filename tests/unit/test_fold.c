/* tests/unit/test_fold.c — the fold pass on graphs built in C, each checked by
 * running the graph before and after folding in the runtime: the outputs must
 * agree to float rounding, and the folded graph must have lost what fold removes. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/runtime.h"
#include "passes/pass.h"

/* Data for float32 tensor t (shape set): values in [-1, 1) from `seed`. */
static void fill(struct nnp_graph *g, struct nnp_tensor *t, unsigned seed)
{
    cr_assert_eq(nnp_tensor_alloc(g, t), NNP_OK);
    float *p = t->data;
    for (size_t i = 0; i < t->nbytes / 4; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
    }
}

static struct nnp_value *f32_value(struct nnp_graph *g, const char *name, int rank,
                                   const int64_t *dims, unsigned seed)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, NNP_DTYPE_F32, rank, dims);
    v->has_type = true;
    if (seed) { /* an initializer */
        fill(g, &v->t, seed);
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

/* Run `pipeline` (one fold step) on g; *rec gets its record. */
static void fold(struct nnp_graph *g, const char *pipeline, struct nnp_pass_record *rec)
{
    struct nnp_pipeline *p;
    cr_assert_eq(nnp_pipeline_parse(pipeline, &p), NNP_OK, "%s", nnp_error_message());
    struct nnp_pass_ctx ctx = {.threads = 1};
    cr_assert_eq(nnp_pipeline_run(p, g, &ctx), NNP_OK, "%s", nnp_error_message());
    *rec = ctx.records[0];
    nnp_pipeline_free(p);
}

/* The counter called `key` in a pass record (the test fails if there is none). */
static double stat(const struct nnp_pass_record *rec, const char *key)
{
    for (int k = 0; k < rec->n_stats; k++)
        if (strcmp(rec->stats[k].key, key) == 0)
            return rec->stats[k].value;
    cr_assert_fail("no counter %s", key);
    return -1;
}

/* The output of a new Constant node called `name` whose value is a float32 tensor
 * like f32_value()'s initializers; the tensor lives on the node, as paddle2onnx
 * writes weights. */
static struct nnp_value *constant(struct nnp_graph *g, const char *name, int rank,
                                  const int64_t *dims, unsigned seed)
{
    struct nnp_tensor *t = nnp_arena_alloc(g->arena, sizeof *t);
    nnp_tensor_set_shape(t, NNP_DTYPE_F32, rank, dims);
    fill(g, t, seed);
    struct nnp_value *v = nnp_graph_value(g, name);
    struct nnp_node *n = add(g, "Constant", name, 0, NULL, 1, &v);
    nnp_node_set_attr(g, n, "value", NNP_ATTR_TENSOR)->t = t;
    return v;
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
    struct nnp_pass_record rec;
    run(g, before, 20);
    fold(g, "fold", &rec);
    run(g, after, 20);
    assert_close(before, after, 20);
    cr_assert_eq(count_op(g, "BatchNormalization"), 0);
    cr_assert_eq(stat(&rec, "batchnorm_folded"), 1);
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
    struct nnp_pass_record rec;
    run(g, before, 27);
    fold(g, "fold", &rec);
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
    struct nnp_pass_record rec;
    run(g, before, 6);
    fold(g, "fold", &rec);
    run(g, after, 6);
    assert_close(before, after, 6);
    cr_assert_eq(g->n_nodes, 1, "only Relu is left");
    cr_assert_eq(g->nodes[0]->outputs[0], y, "and it writes the graph output");
    cr_assert_null(nnp_graph_find(g, "unused_w"), "unused initializer dropped");
    cr_assert_eq(stat(&rec, "identity_removed"), 1);
    cr_assert_eq(stat(&rec, "dropout_removed"), 1);
    cr_assert_eq(stat(&rec, "dead_nodes_removed"), 1);
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
    struct nnp_value *k = constant(g, "k", 2, (int64_t[]){2, 3}, 3), *z = nnp_graph_value(g, "z");
    add(g, "Add", "add", 2, (struct nnp_value *[]){x, k}, 1, &z);
    nnp_graph_add_output(g, z);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_pass_record rec;
    fold(g, "fold(constants=0,batchnorm=0,identity=0,dropout=0,dead=0)", &rec);
    cr_assert_eq(g->n_nodes, 3);
    cr_assert_eq(count_op(g, "Constant"), 1);
    cr_assert_eq(stat(&rec, "constants_converted"), 0);
    nnp_graph_free(g);
}

/* --- weights in Constant nodes --- */

/* One Constant read by two nodes becomes one initializer that both read. */
Test(fold, constant_shared_by_two_readers)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){2, 3}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *k = constant(g, "k", 2, (int64_t[]){2, 3}, 11);
    struct nnp_value *a = nnp_graph_value(g, "a"), *m = nnp_graph_value(g, "m");
    struct nnp_value *y = nnp_graph_value(g, "y");
    struct nnp_node *add1 = add(g, "Add", "add", 2, (struct nnp_value *[]){x, k}, 1, &a);
    struct nnp_node *mul = add(g, "Mul", "mul", 2, (struct nnp_value *[]){a, k}, 1, &m);
    add(g, "Relu", "relu", 1, &m, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    float before[6], after[6];
    struct nnp_pass_record rec;
    run(g, before, 6);
    fold(g, "fold", &rec);
    run(g, after, 6);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "the same numbers, bit for bit");
    cr_assert_eq(count_op(g, "Constant"), 0);
    cr_assert_eq(stat(&rec, "constants_converted"), 1);
    cr_assert(k->is_initializer);
    cr_assert_eq(add1->inputs[1], k);
    cr_assert_eq(mul->inputs[1], k, "both readers keep the one value");
    cr_assert_eq(k->n_consumers, 2);
    cr_assert_eq(stat(&rec, "initializers_removed"), 0);
    nnp_graph_free(g);
}

/* A Constant that is also a graph output: its name is the interface, so the
 * initializer keeps it and stays listed as an output (ONNX Runtime runs that). */
Test(fold, constant_that_is_a_graph_output)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){2, 3}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *k = constant(g, "k", 2, (int64_t[]){2, 3}, 12);
    struct nnp_value *y = nnp_graph_value(g, "y");
    add(g, "Add", "add", 2, (struct nnp_value *[]){x, k}, 1, &y);
    nnp_graph_add_output(g, y);
    nnp_graph_add_output(g, k);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    float before[6], after[6];
    struct nnp_pass_record rec;
    run(g, before, 6);
    fold(g, "fold", &rec);
    run(g, after, 6);
    cr_assert_eq(memcmp(before, after, sizeof before), 0);
    cr_assert_eq(count_op(g, "Constant"), 0);
    cr_assert_eq(stat(&rec, "constants_converted"), 1);
    cr_assert(k->is_initializer && k->is_output);
    cr_assert_eq(g->n_outputs, 2);
    cr_assert_eq(g->outputs[1], k);
    cr_assert_eq(((float *)k->t.data)[5], ((float *)nnp_value_data(k)->data)[5]);

    /* the runtime gives the constant as the second output */
    struct nnp_runtime *rt;
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(memcmp(nnp_runtime_output(rt, 1)->data, k->t.data, 24), 0);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* Conv weights, bias and all four BatchNormalization parameters in Constant nodes,
 * as paddle2onnx writes them: the BN is folded all the same, with the conversion
 * (the default) and without it (constants=0: fold copies what it rewrites, and the
 * Constants left unread go as dead code). */
static void constant_conv_bn(const char *pipeline)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 4, (int64_t[]){1, 2, 5, 5}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *w = constant(g, "w", 4, (int64_t[]){3, 2, 3, 3}, 21);
    struct nnp_value *b = constant(g, "b", 1, (int64_t[]){3}, 22);
    struct nnp_value *h = nnp_graph_value(g, "h"), *y = nnp_graph_value(g, "y");
    add(g, "Conv", "conv", 3, (struct nnp_value *[]){x, w, b}, 1, &h);
    struct nnp_value *p[5] = {h};
    const char *what[4] = {"bn.scale", "bn.bias", "bn.mean", "bn.var"};
    for (int i = 0; i < 4; i++)
        p[i + 1] = constant(g, what[i], 1, (int64_t[]){3}, 30u + (unsigned)i);
    struct nnp_node *bn = add(g, "BatchNormalization", "bn", 5, p, 1, &y);
    nnp_node_set_attr(g, bn, "epsilon", NNP_ATTR_FLOAT)->f = 1e-3f;
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    for (int c = 0; c < 3; c++) /* variances must be positive; the lookup needs the links */
        ((float *)nnp_value_data(p[4])->data)[c] += 1.5f;

    float before[27], after[27];
    struct nnp_pass_record rec;
    run(g, before, 27);
    fold(g, pipeline, &rec);
    run(g, after, 27);
    assert_close(before, after, 27);
    cr_assert_eq(stat(&rec, "batchnorm_folded"), 1, "%s", pipeline);
    cr_assert_eq(count_op(g, "BatchNormalization"), 0);
    cr_assert_eq(count_op(g, "Constant"), 0, "%s: converted or dead", pipeline);
    cr_assert_eq(g->n_nodes, 1);
    cr_assert(g->nodes[0]->inputs[1]->is_initializer && g->nodes[0]->inputs[2]->is_initializer);
    nnp_graph_free(g);
}

Test(fold, batchnorm_through_constants)
{
    constant_conv_bn("fold");
}

Test(fold, batchnorm_through_constants_without_conversion)
{
    constant_conv_bn("fold(constants=0)");
}

/* A sparse_value Constant is a blob to the IR: fold keeps the node and its
 * attribute as they were (the writer puts the blob back), and converts the rest. */
Test(fold, sparse_value_constant_left_alone)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = f32_value(g, "x", 2, (int64_t[]){2, 3}, 0);
    nnp_graph_add_input(g, x);
    struct nnp_value *k = constant(g, "k", 2, (int64_t[]){2, 3}, 13);
    struct nnp_value *s = nnp_graph_value(g, "s");
    struct nnp_node *sn = add(g, "Constant", "sparse", 0, NULL, 1, &s);
    static uint8_t blob[] = {0x5a, 0x02, 0x08, 0x02}; /* stands for the kept SparseTensorProto */
    struct nnp_attr *a = nnp_node_set_attr(g, sn, "sparse_value", NNP_ATTR_SPARSE_TENSOR);
    a->extra = (struct nnp_blob){blob, sizeof blob};
    struct nnp_value *a1 = nnp_graph_value(g, "a1"), *y = nnp_graph_value(g, "y");
    add(g, "Add", "add1", 2, (struct nnp_value *[]){x, k}, 1, &a1);
    add(g, "Add", "add2", 2, (struct nnp_value *[]){a1, s}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    struct nnp_pass_record rec;
    fold(g, "fold", &rec);
    cr_assert_eq(stat(&rec, "constants_converted"), 1, "k only");
    cr_assert_eq(count_op(g, "Constant"), 1);
    cr_assert_eq(s->producer, sn);
    cr_assert(!s->is_initializer);
    cr_assert_eq(sn->n_attrs, 1);
    cr_assert_eq(sn->attrs[0].type, NNP_ATTR_SPARSE_TENSOR);
    cr_assert_eq(sn->attrs[0].extra.data, blob);
    cr_assert_eq(sn->attrs[0].extra.size, sizeof blob);
    cr_assert(k->is_initializer);
    nnp_graph_free(g);
}
