/* tests/unit/test_runtime.c — the executor (kernels/runtime.c): binding input
 * shapes, errors, constant folding, the memory plan and training buffers.
 *
 * Graphs are built in C with the IR API; they use a few real operators (Relu,
 * Add, Shape, Gather, Concat, Reshape), so those tests need them linked. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "kernels/runtime.h"

/* --- building graphs --- */

static struct nnp_value *input(struct nnp_graph *g, const char *name, enum nnp_dtype t, int rank,
                               const int64_t *dims)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, t, rank, dims);
    v->has_type = true;
    nnp_graph_add_input(g, v);
    return v;
}

static struct nnp_value *i64_init(struct nnp_graph *g, const char *name, int n,
                                  const int64_t *vals)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, NNP_DTYPE_I64, 1, (int64_t[]){n});
    cr_assert_eq(nnp_tensor_alloc(g, &v->t), NNP_OK);
    memcpy(v->t.data, vals, (size_t)n * sizeof *vals);
    v->is_initializer = v->has_type = true;
    return v;
}

static struct nnp_value *f32_init(struct nnp_graph *g, const char *name, int rank,
                                  const int64_t *dims, float fill)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, NNP_DTYPE_F32, rank, dims);
    cr_assert_eq(nnp_tensor_alloc(g, &v->t), NNP_OK);
    for (size_t i = 0; i < v->t.nbytes / 4; i++)
        ((float *)v->t.data)[i] = fill;
    v->is_initializer = v->has_type = true;
    return v;
}

static struct nnp_node *node(struct nnp_graph *g, const char *op, const char *name, int n_in,
                             struct nnp_value **in, int n_out, struct nnp_value **out)
{
    struct nnp_node *n = nnp_graph_add_node(g, op, name);
    nnp_node_set_io(g, n, n_in, in, n_out, out);
    return n;
}

static size_t aligned(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* x [batch, 1000] -> Relu -> ... (n_relu times) -> y */
static struct nnp_graph *relu_chain(int n_relu)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 2, (int64_t[]){-1, 1000});
    x->t.dim_params[0] = nnp_graph_strdup(g, "batch");
    struct nnp_value *prev = x;
    for (int i = 0; i < n_relu; i++) {
        char name[32];
        snprintf(name, sizeof name, i == n_relu - 1 ? "y" : "h%d", i);
        struct nnp_value *next = nnp_graph_value(g, name);
        snprintf(name, sizeof name, "relu%d", i);
        node(g, "Relu", name, 1, &prev, 1, &next);
        prev = next;
    }
    nnp_graph_add_output(g, prev);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    return g;
}

static struct nnp_runtime *plan_ok(const struct nnp_graph *g, const struct nnp_runtime_opts *o)
{
    struct nnp_runtime *rt = NULL;
    enum nnp_status st = nnp_runtime_new(g, o, &rt);
    cr_assert_eq(st, NNP_OK, "plan: %s", nnp_error_message());
    return rt;
}

static void fill_ramp(struct nnp_rt_value *v)
{
    float *p = v->data;
    for (int64_t i = 0; i < v->numel; i++)
        p[i] = (float)(i % 17) - 8.0f;
}

/* --- the operator table --- */

Test(runtime, every_ops_def_row_is_linked)
{
    const char *missing[128];
    int n = nnp_op_table_missing(missing, 128);
    char list[2048] = "";
    for (int i = 0; i < n && i < 128; i++) {
        strncat(list, " ", sizeof list - strlen(list) - 1);
        strncat(list, missing[i], sizeof list - strlen(list) - 1);
    }
    cr_assert_eq(n, 0, "ops.def rows without a definition:%s", list);
}

/* --- inputs --- */

/* A graph with no nodes: y is x. Enough to see how input shapes are bound. */
static struct nnp_graph *pass_through(int rank, const int64_t *dims)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, rank, dims);
    nnp_graph_add_output(g, x);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    return g;
}

Test(runtime, batch_binds_the_first_dim)
{
    struct nnp_graph *g = pass_through(3, (int64_t[]){-1, 3, 5});
    g->inputs[0]->t.dim_params[0] = nnp_graph_strdup(g, "N");
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    cr_assert_eq(o.batch, 1);
    o.batch = 3;
    struct nnp_runtime *rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_n_inputs(rt), 1);
    struct nnp_rt_value *x = nnp_runtime_input(rt, 0);
    cr_assert_str_eq(x->name, "x");
    cr_assert_eq(x->rank, 3);
    cr_assert_eq(x->dims[0], 3);
    cr_assert_eq(x->dims[1], 3);
    cr_assert_eq(x->dims[2], 5);
    cr_assert_eq(x->numel, 45);
    cr_assert_eq(x->nbytes, 180);
    cr_assert(x->is_input && !x->is_const);
    cr_assert_not_null(x->data);
    cr_assert_eq((uintptr_t)x->data % 64, 0);
    cr_assert_eq(nnp_runtime_output(rt, 0), x);
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* a symbolic or unknown dimension after the first is not the batch: the runtime wants the
 * input's shape rather than guess (an image 1x3x1x1 timed as if it were 1x3x224x224) */
Test(runtime, later_unknown_dims_need_a_shape)
{
    struct nnp_graph *g = pass_through(4, (int64_t[]){-1, 3, -1, -1});
    g->inputs[0]->t.dim_params[0] = nnp_graph_strdup(g, "N");
    g->inputs[0]->t.dim_params[2] = nnp_graph_strdup(g, "H");
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.batch = 8;
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "input x [N,3,H,?]: dimension 2 ('H') is symbolic; "
                                          "give the input's shape");
    g->inputs[0]->t.dim_params[2] = NULL;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "input x [N,3,?,?]: dimension 2 is not known; give "
                                          "the input's shape");
    struct nnp_tensor shape = {.dtype = NNP_DTYPE_F32};
    nnp_tensor_set_shape(&shape, NNP_DTYPE_F32, 4, (int64_t[]){2, 3, 7, 9});
    o.input_shapes = &shape;
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_input(rt, 0)->numel, 2 * 3 * 7 * 9);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* x [2,6] reshaped by the input s: s -> Cast(int64) -> Reshape's shape; Shape(x) feeds
 * a second output, and reads only x's shape */
static struct nnp_graph *reshape_by_input(void)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 2, (int64_t[]){2, 6});
    struct nnp_value *sf = input(g, "s", NNP_DTYPE_I32, 1, (int64_t[]){2});
    struct nnp_value *s64 = nnp_graph_value(g, "s64"), *y = nnp_graph_value(g, "y");
    struct nnp_value *xs = nnp_graph_value(g, "xs");
    struct nnp_node *cast = node(g, "Cast", "cast", 1, &sf, 1, &s64);
    nnp_node_set_attr(g, cast, "to", NNP_ATTR_INT)->i = 7; /* int64 */
    node(g, "Reshape", "reshape", 2, (struct nnp_value *[]){x, s64}, 1, &y);
    node(g, "Shape", "shape", 1, &x, 1, &xs);
    nnp_graph_add_output(g, y);
    nnp_graph_add_output(g, xs);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    return g;
}

Test(runtime, const_inputs_follow_shape_slots_back)
{
    struct nnp_graph *g = reshape_by_input();
    bool needed[2];
    cr_assert_eq(nnp_runtime_const_inputs(g, needed), 1);
    cr_assert(!needed[0], "x is only data (Shape reads its shape)");
    cr_assert(needed[1], "s decides Reshape's shape through the Cast");
    nnp_graph_free(g);
}

/* An input that decides a shape is planned from the values given, still fed like the
 * others, and a run that feeds other values is refused until planned again. */
Test(runtime, input_values_plan_shape_inputs)
{
    struct nnp_graph *g = reshape_by_input();
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_UNSUPPORTED, "no values: no plan");
    int32_t shape[2] = {3, 4};
    struct nnp_tensor values[2] = {{.rank = -1}, {.dtype = NNP_DTYPE_I32}};
    nnp_tensor_set_shape(&values[1], NNP_DTYPE_I32, 1, (int64_t[]){2});
    values[1].data = shape;
    values[1].nbytes = sizeof shape;
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.input_values = values;
    rt = plan_ok(g, &o);
    shape[0] = 99; /* the plan took a copy */
    cr_assert_eq(nnp_runtime_n_inputs(rt), 2);
    struct nnp_rt_value *x = nnp_runtime_input(rt, 0), *s = nnp_runtime_input(rt, 1);
    cr_assert_str_eq(s->name, "s");
    cr_assert(s->is_input && s->is_const);
    fill_ramp(x);
    memcpy(s->data, (int32_t[]){3, 4}, 8); /* what it was planned with: fine */
    cr_assert(nnp_runtime_inputs_as_planned(rt));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const struct nnp_rt_value *y = nnp_runtime_output(rt, 0);
    cr_assert_eq(y->rank, 2);
    cr_assert_eq(y->dims[0], 3);
    cr_assert_eq(y->dims[1], 4);
    cr_assert_eq(((const float *)y->data)[11], ((const float *)x->data)[11]);
    memcpy(s->data, (int32_t[]){4, 3}, 8);
    cr_assert(!nnp_runtime_inputs_as_planned(rt));
    cr_assert_eq(nnp_runtime_run(rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "input s: its values decide a shape, and they are not "
                                          "the ones the model was planned with; plan it again");
    nnp_runtime_free(rt);
    /* values of the wrong type are refused with both types named */
    values[1].dtype = NNP_DTYPE_I64;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_INVALID);
    nnp_graph_free(g);
}

Test(runtime, input_shapes_override_the_model)
{
    struct nnp_graph *g = pass_through(3, (int64_t[]){-1, 7, 5});
    struct nnp_tensor shape = {0};
    nnp_tensor_set_shape(&shape, NNP_DTYPE_UNDEFINED, 3, (int64_t[]){2, 7, 5});
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.batch = 9; /* not used: the given shape wins */
    o.input_shapes = &shape;
    struct nnp_runtime *rt = plan_ok(g, &o);
    struct nnp_rt_value *x = nnp_runtime_input(rt, 0);
    cr_assert_eq(x->dims[0], 2);
    cr_assert_eq(x->dtype, NNP_DTYPE_F32);
    nnp_runtime_free(rt);

    /* rank < 0: the model's shape with the batch bound */
    shape.rank = -1;
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_input(rt, 0)->dims[0], 9);
    nnp_runtime_free(rt);

    /* a static dimension that differs is refused, and so is another dtype */
    nnp_tensor_set_shape(&shape, NNP_DTYPE_UNDEFINED, 3, (int64_t[]){2, 7, 6});
    rt = (struct nnp_runtime *)1;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_INVALID);
    cr_assert_null(rt);
    cr_assert_str_eq(nnp_error_message(),
                     "input x: shape [2,7,6] does not fit the model's [?,7,5]");
    nnp_tensor_set_shape(&shape, NNP_DTYPE_I64, 3, (int64_t[]){2, 7, 5});
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "input x: the model takes float32, given int64");
    nnp_graph_free(g);
}

Test(runtime, unknown_rank_needs_a_shape)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = nnp_graph_value(g, "x");
    x->t.dtype = NNP_DTYPE_F32;
    nnp_graph_add_input(g, x);
    nnp_graph_add_output(g, x);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(),
                     "input x: the model does not give its rank; give the input's shape");
    nnp_graph_free(g);
}

Test(runtime, initializer_input_is_constant_unless_overridden)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 1, (int64_t[]){4});
    struct nnp_value *w = f32_init(g, "w", 1, (int64_t[]){4}, 2.5f);
    nnp_graph_add_input(g, w); /* old exporters list weights as inputs */
    struct nnp_value *y = nnp_graph_value(g, "y");
    node(g, "Add", "add", 2, (struct nnp_value *[]){x, w}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);

    struct nnp_runtime *rt = plan_ok(g, NULL);
    cr_assert_eq(nnp_runtime_n_inputs(rt), 1);
    struct nnp_rt_value *rw = nnp_runtime_value(rt, "w");
    cr_assert(rw->is_const && !rw->is_input);
    cr_assert_eq(rw->data, w->t.data, "initializers are used in place, not copied");
    nnp_runtime_free(rt);

    struct nnp_tensor shapes[2] = {{.rank = -1}, {0}};
    nnp_tensor_set_shape(&shapes[1], NNP_DTYPE_F32, 1, (int64_t[]){4});
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.input_shapes = shapes;
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_n_inputs(rt), 2);
    struct nnp_rt_value *in_w = nnp_runtime_input(rt, 1);
    cr_assert_str_eq(in_w->name, "w");
    cr_assert(in_w->is_input && !in_w->is_const);
    cr_assert_neq(in_w->data, w->t.data);
    cr_assert_eq(((float *)in_w->data)[3], 2.5f, "starts with the initializer's values");
    ((float *)in_w->data)[3] = 1.0f;
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const float *out = nnp_runtime_output(rt, 0)->data;
    cr_assert_float_eq(out[0], -8.0f + 2.5f, 0);
    cr_assert_float_eq(out[3], -5.0f + 1.0f, 0);
    cr_assert_eq(((float *)w->t.data)[3], 2.5f, "the graph's data is untouched");
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* --- errors --- */

Test(runtime, unsupported_operators_are_named)
{
    struct nnp_graph *g = pass_through(1, (int64_t[]){4});
    struct nnp_value *x = g->inputs[0], *y = nnp_graph_value(g, "y");
    struct nnp_node *n = node(g, "MyOp", "foo", 1, &x, 1, &y);
    n->domain = nnp_graph_strdup(g, "com.example");
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_UNSUPPORTED);
    cr_assert_str_eq(nnp_error_message(),
                     "node foo (MyOp): operator com.example::MyOp is not supported by the runtime");
    nnp_graph_free(g);

    g = pass_through(1, (int64_t[]){4});
    x = g->inputs[0], y = nnp_graph_value(g, "y");
    node(g, "NonZero", "n3", 1, &x, 1, &y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_UNSUPPORTED);
    cr_assert_str_eq(nnp_error_message(), "node n3 (NonZero): the runtime has no NonZero operator");
    nnp_graph_free(g);
}

Test(runtime, operator_arity_is_checked)
{
    struct nnp_graph *g = pass_through(1, (int64_t[]){4});
    struct nnp_value *x = g->inputs[0], *y = nnp_graph_value(g, "y");
    node(g, "Relu", "r", 2, (struct nnp_value *[]){x, x}, 1, &y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "node r (Relu): Relu takes 1 input, got 2");
    nnp_graph_free(g);
}

Test(runtime, unsorted_graph_is_refused_not_crashed)
{
    struct nnp_graph *g = pass_through(1, (int64_t[]){4});
    struct nnp_value *x = g->inputs[0], *a = nnp_graph_value(g, "a"),
                     *b = nnp_graph_value(g, "b");
    node(g, "Relu", "second", 1, &a, 1, &b); /* reads a before it is made */
    node(g, "Relu", "first", 1, &x, 1, &a);
    nnp_graph_link(g); /* linked but not validated (not sorted) */
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, NULL, &rt), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(), "node second (Relu): input 'a' is read before any "
                                          "node computes it (is the graph validated?)");
    nnp_graph_free(g);
}

Test(runtime, too_large_a_plan_is_refused_before_allocating)
{
    struct nnp_graph *g = pass_through(2, (int64_t[]){-1, 1 << 20});
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.batch = INT64_C(1) << 30; /* 4 PiB of float32 */
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_NOMEM);
    cr_assert(strstr(nnp_error_message(), "4503599627370496 bytes"), "%s", nnp_error_message());
    nnp_graph_free(g);
}

Test(runtime, max_bytes_limits_the_plan)
{
    /* 4 Relus of [1,1000] float32: 4000 bytes each, two live at a time */
    struct nnp_graph *g = relu_chain(4);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.max_bytes = 4096;
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_NOMEM);
    cr_assert_null(rt);
    cr_assert(strstr(nnp_error_message(), "more than the memory limit of 4096 bytes"), "%s",
              nnp_error_message());
    o.max_bytes = 1 << 20;
    rt = plan_ok(g, &o);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* Constants computed at plan time count too, and are refused before they are made. */
Test(runtime, max_bytes_covers_plan_time_constants)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *w = f32_init(g, "w", 1, (int64_t[]){100000}, 1.0f);
    struct nnp_value *y = nnp_graph_value(g, "y");
    node(g, "Relu", "r", 1, &w, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.max_bytes = 200000; /* y is 400000 bytes */
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_NOMEM);
    cr_assert(strstr(nnp_error_message(), "node r (Relu) need 400000 bytes"), "%s",
              nnp_error_message());
    nnp_graph_free(g);
}

Test(runtime, max_work_refuses_before_computing)
{
    /* x [1,64] . w [64,64] at run time: 4096 multiply-adds, but 4224 elements read and
     * written, which is the larger estimate */
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 2, (int64_t[]){1, 64});
    struct nnp_value *w = f32_init(g, "w", 2, (int64_t[]){64, 64}, 0.5f);
    struct nnp_value *y = nnp_graph_value(g, "y");
    node(g, "MatMul", "mm", 2, (struct nnp_value *[]){x, w}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.max_work = 4223;
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_UNSUPPORTED);
    cr_assert(strstr(nnp_error_message(), "a run takes about 4224 steps"), "%s",
              nnp_error_message());
    o.max_work = 4224;
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_memory(rt).work_run, 4224);
    cr_assert_eq(nnp_runtime_memory(rt).work_folded, 0);
    nnp_runtime_free(rt);
    nnp_graph_free(g);

    /* the same product of two constants is computed at plan time: refused there */
    g = nnp_graph_new();
    x = f32_init(g, "x", 2, (int64_t[]){1, 64}, 1.0f);
    w = f32_init(g, "w", 2, (int64_t[]){64, 64}, 0.5f);
    y = nnp_graph_value(g, "y");
    node(g, "MatMul", "mm", 2, (struct nnp_value *[]){x, w}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    o.max_work = 1000;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_ERR_UNSUPPORTED);
    cr_assert(strstr(nnp_error_message(), "node mm (MatMul): computing it at plan time takes "
                                          "about 4224 steps"),
              "%s", nnp_error_message());
    o.max_work = 0; /* no limit */
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_runtime_memory(rt).work_folded, 4224);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* --- the memory plan --- */

Test(runtime, chain_reuses_buffers)
{
    struct nnp_graph *g = relu_chain(6);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.batch = 4;
    struct nnp_runtime *rt = plan_ok(g, &o);
    struct nnp_runtime_memory m = nnp_runtime_memory(rt);
    size_t one = aligned(4 * 1000 * sizeof(float));
    cr_assert_eq(m.naive_bytes, 7 * one);
    /* x lives throughout (the caller owns what is in it and is never written over);
     * the first Relu writes a buffer of its own, the others run in place in it */
    cr_assert_eq(m.arena_bytes, 2 * one, "peak %zu", m.arena_bytes);
    cr_assert_lt(m.arena_bytes, m.naive_bytes);
    cr_assert_eq(m.const_bytes, 0);
    cr_assert_null(nnp_runtime_value(rt, "h2"), "intermediates are not kept");

    struct nnp_rt_value *x = nnp_runtime_input(rt, 0);
    fill_ramp(x);
    for (int rep = 0; rep < 2; rep++) {
        cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
        const float *y = nnp_runtime_output(rt, 0)->data, *xin = x->data;
        for (int64_t i = 0; i < x->numel; i++)
            cr_assert_eq(y[i], xin[i] > 0 ? xin[i] : 0.0f);
    }
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* A value read late keeps its buffer until then: x -> a -> b -> c, out = c + a. */
Test(runtime, late_reader_keeps_its_value)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 1, (int64_t[]){1000});
    struct nnp_value *a = nnp_graph_value(g, "a"), *b = nnp_graph_value(g, "b"),
                     *c = nnp_graph_value(g, "c"), *y = nnp_graph_value(g, "y");
    node(g, "Neg", "n1", 1, &x, 1, &a);
    node(g, "Neg", "n2", 1, &a, 1, &b);
    node(g, "Neg", "n3", 1, &b, 1, &c);
    node(g, "Add", "add", 2, (struct nnp_value *[]){c, a}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime *rt = plan_ok(g, NULL);
    size_t one = aligned(4000);
    struct nnp_runtime_memory m = nnp_runtime_memory(rt);
    cr_assert_eq(m.naive_bytes, 5 * one);
    cr_assert_eq(m.arena_bytes, 3 * one); /* x, a (read late), b -> c -> y in place */
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const float *xin = nnp_runtime_input(rt, 0)->data, *out = nnp_runtime_output(rt, 0)->data;
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(out[i], -2.0f * xin[i]);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

Test(runtime, keep_all_gives_every_value_its_own_buffer)
{
    struct nnp_graph *g = relu_chain(4);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.keep_all = true;
    struct nnp_runtime *rt = plan_ok(g, &o);
    struct nnp_runtime_memory m = nnp_runtime_memory(rt);
    cr_assert_eq(m.arena_bytes, m.naive_bytes);
    cr_assert_eq(m.naive_bytes, 5 * aligned(4000));
    cr_assert_eq(nnp_runtime_n_values(rt), 4);
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    for (int i = 0; i < nnp_runtime_n_values(rt); i++) {
        struct nnp_rt_value *v = nnp_runtime_value_at(rt, i);
        cr_assert_eq(nnp_runtime_value(rt, v->name), v);
        for (int j = 0; j < i; j++) /* no two buffers overlap */
            cr_assert(nnp_runtime_value_at(rt, j)->data != v->data);
        const float *p = v->data;
        for (int64_t k = 0; k < v->numel; k++)
            cr_assert_eq(p[k], fmaxf((float)(k % 17) - 8.0f, 0.0f));
    }
    cr_assert_str_eq(nnp_runtime_value_at(rt, 0)->name, "h0");
    cr_assert_str_eq(nnp_runtime_value_at(rt, 3)->name, "y");
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

Test(runtime, reference_kernels_agree)
{
    struct nnp_graph *g = relu_chain(2);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.use_reference = true;
    struct nnp_runtime *rt = plan_ok(g, &o);
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const float *y = nnp_runtime_output(rt, 0)->data;
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(y[i], fmaxf((float)(i % 17) - 8.0f, 0.0f));
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* --- constant folding --- */

/* What PyTorch exports for x.view(x.size(0), -1):
 *   x [batch,3,4] -> Shape -> Gather([0]) -> Concat(, [12]) -> Reshape(x, .) -> y */
Test(runtime, shape_chains_fold_to_constants)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 3, (int64_t[]){-1, 3, 4});
    struct nnp_value *s = nnp_graph_value(g, "s"), *b = nnp_graph_value(g, "b"),
                     *shp = nnp_graph_value(g, "shp"), *y = nnp_graph_value(g, "y");
    struct nnp_value *idx = i64_init(g, "idx", 1, (int64_t[]){0});
    struct nnp_value *rest = i64_init(g, "rest", 1, (int64_t[]){12});
    node(g, "Shape", "shape", 1, &x, 1, &s);
    node(g, "Gather", "gather", 2, (struct nnp_value *[]){s, idx}, 1, &b);
    struct nnp_node *cat = node(g, "Concat", "concat", 2, (struct nnp_value *[]){b, rest}, 1,
                                &shp);
    nnp_node_set_attr(g, cat, "axis", NNP_ATTR_INT)->i = 0;
    node(g, "Reshape", "reshape", 2, (struct nnp_value *[]){x, shp}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.batch = 2;
    struct nnp_runtime *rt = plan_ok(g, &o);
    const char *folded[] = {"s", "b", "shp"};
    for (int i = 0; i < 3; i++) {
        struct nnp_rt_value *v = nnp_runtime_value(rt, folded[i]);
        cr_assert_not_null(v, "%s", folded[i]);
        cr_assert(v->is_const, "%s is computed at plan time", folded[i]);
    }
    struct nnp_rt_value *vs = nnp_runtime_value(rt, "shp");
    cr_assert_eq(vs->numel, 2);
    cr_assert_eq(nnp_rt_get_int(vs, 0), 2);
    cr_assert_eq(nnp_rt_get_int(vs, 1), 12);
    struct nnp_rt_value *out = nnp_runtime_output(rt, 0);
    cr_assert_eq(out->rank, 2);
    cr_assert_eq(out->dims[0], 2);
    cr_assert_eq(out->dims[1], 12);
    /* only x and y are left for run time */
    struct nnp_runtime_memory m = nnp_runtime_memory(rt);
    cr_assert_eq(m.naive_bytes, 2 * aligned(2 * 12 * sizeof(float)));
    cr_assert_geq(m.const_bytes, 3 * sizeof(int64_t) + 2 * sizeof(int64_t) * 2);
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(memcmp(out->data, nnp_runtime_input(rt, 0)->data, out->nbytes), 0);
    nnp_runtime_free(rt);

    /* the same graph at another batch size folds to another shape */
    o.batch = 5;
    rt = plan_ok(g, &o);
    cr_assert_eq(nnp_rt_get_int(nnp_runtime_value(rt, "shp"), 0), 5);
    cr_assert_eq(nnp_runtime_output(rt, 0)->dims[0], 5);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

Test(runtime, constant_subgraph_output_is_a_constant)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *w = f32_init(g, "w", 1, (int64_t[]){3}, -1.5f), *y = nnp_graph_value(g, "y");
    node(g, "Relu", "r", 1, &w, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime *rt = plan_ok(g, NULL);
    struct nnp_rt_value *out = nnp_runtime_output(rt, 0);
    cr_assert(out->is_const);
    cr_assert_eq(((float *)out->data)[2], 0.0f);
    cr_assert_eq(nnp_runtime_memory(rt).naive_bytes, 0);
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK);
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* --- training --- */

Test(runtime, training_allocates_zeroed_gradients)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 2, (int64_t[]){-1, 8});
    struct nnp_value *w = f32_init(g, "w", 1, (int64_t[]){8}, 0.5f);
    struct nnp_value *h = nnp_graph_value(g, "h"), *y = nnp_graph_value(g, "y");
    node(g, "Add", "add", 2, (struct nnp_value *[]){x, w}, 1, &h);
    node(g, "Relu", "relu", 1, &h, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK);
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.training = true;
    o.batch = 3;
    struct nnp_runtime *rt = plan_ok(g, &o);
    struct nnp_runtime_memory m = nnp_runtime_memory(rt);
    cr_assert_eq(m.arena_bytes, m.naive_bytes, "training keeps every activation");
    const char *with_grad[] = {"x", "w", "h", "y"};
    for (int i = 0; i < 4; i++) {
        struct nnp_rt_value *v = nnp_runtime_value(rt, with_grad[i]);
        cr_assert_not_null(v, "%s", with_grad[i]);
        cr_assert_not_null(v->grad, "%s has a gradient", with_grad[i]);
        cr_assert_eq(v->grad->rank, v->rank);
        cr_assert_eq(v->grad->nbytes, v->nbytes);
        cr_assert_neq(v->grad->data, v->data);
        for (int64_t k = 0; k < v->numel; k++)
            cr_assert_eq(((float *)v->grad->data)[k], 0.0f);
    }
    cr_assert_str_eq(nnp_runtime_value(rt, "w")->grad->name, "w.grad");
    fill_ramp(nnp_runtime_input(rt, 0));
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(((float *)nnp_runtime_value(rt, "h")->data)[0], -7.5f, "activation kept");
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

Test(runtime, free_accepts_null)
{
    nnp_runtime_free(NULL);
}

/* --- the memory plan on random graphs --- */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
    return *s;
}

/* Random DAGs of Neg, Relu and Add over values of different sizes (Add broadcasts a
 * [n] row onto an [m,n] value): the reused plan must give exactly the outputs of the
 * plan where every value has its own buffer, and no two values live at the same time
 * may share a byte of the arena. */
Test(runtime, random_graphs_never_alias)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 40; round++) {
        struct nnp_graph *g = nnp_graph_new();
        struct nnp_value *vals[64];
        int n_vals = 0;
        vals[n_vals++] = input(g, "x0", NNP_DTYPE_F32, 2, (int64_t[]){3, 16});
        vals[n_vals++] = input(g, "x1", NNP_DTYPE_F32, 1, (int64_t[]){16});
        int n_nodes = 5 + (int)(rng_next(&seed) % 40); /* at least 2, so outputs differ */
        for (int i = 0; i < n_nodes && n_vals < 64; i++) {
            char name[32];
            snprintf(name, sizeof name, "v%d", i);
            struct nnp_value *out = nnp_graph_value(g, name);
            /* prefer recent values, so that chains form and die */
            struct nnp_value *a = vals[n_vals - 1 - (int)(rng_next(&seed) % (unsigned)
                                                           (n_vals < 4 ? n_vals : 4))];
            struct nnp_value *b = vals[rng_next(&seed) % (unsigned)n_vals];
            snprintf(name, sizeof name, "n%d", i);
            switch (rng_next(&seed) % 3) {
            case 0: node(g, "Neg", name, 1, &a, 1, &out); break;
            case 1: node(g, "Relu", name, 1, &a, 1, &out); break;
            default: node(g, "Add", name, 2, (struct nnp_value *[]){a, b}, 1, &out); break;
            }
            vals[n_vals++] = out;
        }
        nnp_graph_add_output(g, vals[n_vals - 1]);
        nnp_graph_add_output(g, vals[2 + (int)(rng_next(&seed) % (unsigned)(n_vals - 3))]);
        cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());

        struct nnp_runtime_opts o = nnp_runtime_opts_default();
        struct nnp_runtime *reuse = plan_ok(g, &o);
        o.keep_all = true;
        struct nnp_runtime *own = plan_ok(g, &o);
        cr_assert_leq(nnp_runtime_memory(reuse).arena_bytes, nnp_runtime_memory(own).arena_bytes);

        /* live ranges that meet never share bytes, but for values the plan put in one
         * buffer on purpose (an op in place over an input it is the last to read) */
        int n = nnp_runtime_n_values(reuse);
        for (int i = 0; i < n; i++) {
            struct nnp_rt_value *p = nnp_runtime_value_at(reuse, i);
            for (int j = 0; j < i; j++) {
                struct nnp_rt_value *q = nnp_runtime_value_at(reuse, j);
                if (p->last_use < q->first_use || q->last_use < p->first_use)
                    continue;
                struct nnp_rt_value *bp = p->share ? p->share : p, *bq = q->share ? q->share : q;
                if (bp == bq)
                    continue;
                const char *pa = p->data, *qa = q->data;
                cr_assert(pa + p->nbytes <= qa || qa + q->nbytes <= pa,
                          "round %d: %s [%d,%d] and %s [%d,%d] overlap", round, p->name,
                          p->first_use, p->last_use, q->name, q->first_use, q->last_use);
            }
            for (int k = 0; k < nnp_runtime_n_inputs(reuse); k++) {
                const char *pa = p->data, *qa = nnp_runtime_input(reuse, k)->data;
                cr_assert(pa + p->nbytes <= qa || qa + nnp_runtime_input(reuse, k)->nbytes <= pa);
            }
        }
        for (int k = 0; k < 2; k++) {
            fill_ramp(nnp_runtime_input(reuse, k));
            fill_ramp(nnp_runtime_input(own, k));
        }
        cr_assert_eq(nnp_runtime_run(reuse), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(nnp_runtime_run(own), NNP_OK, "%s", nnp_error_message());
        for (int k = 0; k < nnp_runtime_n_outputs(reuse); k++) {
            struct nnp_rt_value *a = nnp_runtime_output(reuse, k), *b = nnp_runtime_output(own, k);
            cr_assert_eq(a->nbytes, b->nbytes);
            cr_assert_eq(memcmp(a->data, b->data, a->nbytes), 0, "round %d output %d", round, k);
        }
        nnp_runtime_free(reuse);
        nnp_runtime_free(own);
        nnp_graph_free(g);
    }
}

/* --- fusion --- */

static struct nnp_value *f32_vals(struct nnp_graph *g, const char *name, int rank,
                                  const int64_t *dims, uint32_t seed, float lo, float hi)
{
    struct nnp_value *v = f32_init(g, name, rank, dims, 0.0f);
    float *p = v->t.data;
    for (size_t i = 0; i < v->t.nbytes / 4; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(seed >> 8) / 16777216.0f;
    }
    return v;
}

/* x -> Conv (3x3 pads 1, or 1x1) -> BatchNormalization -> Add r -> Relu -> y */
static struct nnp_graph *conv_bn_graph(int64_t c, int64_t m, int64_t group, int64_t hw,
                                       int64_t k, int64_t stride)
{
    struct nnp_graph *g = nnp_graph_new();
    int64_t oh = (hw + 2 * (k / 2) - k) / stride + 1;
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F32, 4, (int64_t[]){2, c, hw, hw});
    struct nnp_value *r = input(g, "r", NNP_DTYPE_F32, 4, (int64_t[]){2, m, oh, oh});
    struct nnp_value *w = f32_vals(g, "w", 4, (int64_t[]){m, c / group, k, k}, 1, -0.5f, 0.5f);
    struct nnp_value *b = f32_vals(g, "b", 1, (int64_t[]){m}, 2, -1, 1);
    struct nnp_value *bn[5] = {NULL, f32_vals(g, "gamma", 1, (int64_t[]){m}, 3, 0.5f, 2),
                               f32_vals(g, "beta", 1, (int64_t[]){m}, 4, -1, 1),
                               f32_vals(g, "mean", 1, (int64_t[]){m}, 5, -1, 1),
                               f32_vals(g, "var", 1, (int64_t[]){m}, 6, 0.1f, 3)};
    struct nnp_value *cv = nnp_graph_value(g, "c"), *nv = nnp_graph_value(g, "n");
    struct nnp_value *av = nnp_graph_value(g, "a"), *y = nnp_graph_value(g, "y");
    struct nnp_node *conv = node(g, "Conv", "conv", 3, (struct nnp_value *[]){x, w, b}, 1, &cv);
    struct nnp_attr *a = nnp_node_set_attr(g, conv, "pads", NNP_ATTR_INTS);
    a->n = 4;
    a->ints = nnp_arena_alloc(g->arena, 4 * sizeof *a->ints);
    for (int i = 0; i < 4; i++)
        a->ints[i] = k / 2;
    a = nnp_node_set_attr(g, conv, "strides", NNP_ATTR_INTS);
    a->n = 2;
    a->ints = nnp_arena_alloc(g->arena, 2 * sizeof *a->ints);
    a->ints[0] = a->ints[1] = stride;
    nnp_node_set_attr(g, conv, "group", NNP_ATTR_INT)->i = group;
    bn[0] = cv;
    node(g, "BatchNormalization", "bn", 5, bn, 1, &nv);
    node(g, "Add", "add", 2, (struct nnp_value *[]){nv, r}, 1, &av);
    node(g, "Relu", "relu", 1, &av, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    return g;
}

/* A BatchNormalization with constant statistics goes into the Conv's epilogue with the
 * Add and the Relu after it, on every convolution path (phase planes, im2col, the
 * transposed product, 1x1, grouped, depthwise on small and large planes), one thread
 * and two: the same bits as every node on its own. */
Test(runtime, conv_batchnorm_fused_is_bit_identical)
{
    const int64_t cases[][6] = {{8, 16, 1, 15, 3, 1},  {8, 16, 1, 15, 3, 2}, {32, 64, 1, 7, 3, 1},
                                {16, 33, 1, 9, 1, 1},  {4, 6, 2, 11, 3, 1},  {16, 16, 16, 9, 3, 1},
                                {16, 16, 16, 40, 3, 2}, {7, 129, 1, 5, 3, 1}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++)
        for (int threads = 1; threads <= 2; threads++) {
            const int64_t *cc = cases[ci];
            struct nnp_graph *g = conv_bn_graph(cc[0], cc[1], cc[2], cc[3], cc[4], cc[5]);
            struct nnp_runtime_opts o = nnp_runtime_opts_default();
            o.threads = threads;
            struct nnp_runtime *rt[2];
            for (int f = 0; f < 2; f++) {
                o.no_fuse = f == 1;
                rt[f] = plan_ok(g, &o);
                for (int i = 0; i < 2; i++) {
                    struct nnp_rt_value *v = nnp_runtime_input(rt[f], i);
                    float *p = v->data;
                    for (int64_t e = 0; e < v->numel; e++)
                        p[e] = (float)((e * 7 + i * 3) % 23) / 5.0f - 2.0f;
                }
                cr_assert_eq(nnp_runtime_run(rt[f]), NNP_OK, "%s", nnp_error_message());
            }
            cr_assert_eq(nnp_runtime_n_fused(rt[0]), 1, "case %zu", ci);
            struct nnp_runtime_fused fu = nnp_runtime_fused_at(rt[0], 0);
            cr_assert_eq(fu.n_fused, 3, "case %zu: BatchNormalization, Add and Relu fused", ci);
            cr_assert_eq(nnp_runtime_n_fused(rt[1]), 0);
            const struct nnp_rt_value *y0 = nnp_runtime_output(rt[0], 0),
                                      *y1 = nnp_runtime_output(rt[1], 0);
            cr_assert_eq(y0->numel, y1->numel);
            int64_t nz = 0;
            for (int64_t e = 0; e < y0->numel; e++)
                nz += ((const float *)y0->data)[e] != 0.0f;
            cr_assert(nz > y0->numel / 10, "case %zu: the Relu leaves something", ci);
            cr_assert(memcmp(y0->data, y1->data, y0->nbytes) == 0,
                      "case %zu, %d threads: fused and unfused differ", ci, threads);
            nnp_runtime_free(rt[0]);
            nnp_runtime_free(rt[1]);
            nnp_graph_free(g);
        }
}

/* --- float16 graphs: float operators run on float32 stand-ins --- */

static struct nnp_value *f16_init(struct nnp_graph *g, const char *name, int rank,
                                  const int64_t *dims, const float *vals)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    nnp_tensor_set_shape(&v->t, NNP_DTYPE_F16, rank, dims);
    cr_assert_eq(nnp_tensor_alloc(g, &v->t), NNP_OK);
    for (size_t i = 0; i < v->t.nbytes / 2; i++)
        ((uint16_t *)v->t.data)[i] = nnp_f32_to_f16(vals[i]);
    v->is_initializer = v->has_type = true;
    return v;
}

/* x [3,7] float16 -> MatMul by w [7,5] -> Add b [5] -> Relu -> Transpose -> y [5,3], and
 * Greater(y, 0) -> pos (bool): each float node's result is its float32 result on the
 * widened inputs, rounded to float16 (to one float16 step: the float32 sums may be taken
 * in another order than here) */
Test(runtime, float16_nodes_run_on_float32_kernels)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F16, 2, (int64_t[]){3, 7});
    float wv[35], bv[5], xv[21];
    for (int i = 0; i < 35; i++)
        wv[i] = (float)((i * 37) % 17 - 8) / 7.0f;
    for (int i = 0; i < 5; i++)
        bv[i] = (float)i / 3.0f - 0.5f;
    for (int i = 0; i < 21; i++)
        xv[i] = (float)((i * 11) % 13 - 6) / 5.0f;
    struct nnp_value *w = f16_init(g, "w", 2, (int64_t[]){7, 5}, wv);
    struct nnp_value *b = f16_init(g, "b", 1, (int64_t[]){5}, bv);
    struct nnp_value *zero = f16_init(g, "zero", 0, NULL, (float[]){0});
    struct nnp_value *mm = nnp_graph_value(g, "mm"), *s = nnp_graph_value(g, "s");
    struct nnp_value *r = nnp_graph_value(g, "r"), *y = nnp_graph_value(g, "y");
    struct nnp_value *pos = nnp_graph_value(g, "pos");
    node(g, "MatMul", "mm", 2, (struct nnp_value *[]){x, w}, 1, &mm);
    node(g, "Add", "add", 2, (struct nnp_value *[]){mm, b}, 1, &s);
    node(g, "Relu", "relu", 1, &s, 1, &r);
    node(g, "Transpose", "t", 1, &r, 1, &y);
    node(g, "Greater", "gt", 2, (struct nnp_value *[]){y, zero}, 1, &pos);
    nnp_graph_add_output(g, y);
    nnp_graph_add_output(g, pos);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_OK, "%s", nnp_error_message());
    struct nnp_rt_value *in = nnp_runtime_input(rt, 0);
    cr_assert_eq(in->dtype, NNP_DTYPE_F16);
    for (int i = 0; i < 21; i++)
        ((uint16_t *)in->data)[i] = nnp_f32_to_f16(xv[i]);
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const struct nnp_rt_value *yo = nnp_runtime_output(rt, 0), *po = nnp_runtime_output(rt, 1);
    cr_assert_eq(yo->dtype, NNP_DTYPE_F16);
    cr_assert_eq(po->dtype, NNP_DTYPE_BOOL);
    cr_assert(yo->rank == 2 && yo->dims[0] == 5 && yo->dims[1] == 3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            float sum = 0;
            for (int k = 0; k < 7; k++)
                sum += nnp_f16_to_f32(nnp_f32_to_f16(xv[i * 7 + k])) *
                       nnp_f16_to_f32(nnp_f32_to_f16(wv[k * 5 + j]));
            float h = nnp_f16_to_f32(nnp_f32_to_f16(sum));
            h = nnp_f16_to_f32(nnp_f32_to_f16(h + nnp_f16_to_f32(nnp_f32_to_f16(bv[j]))));
            h = h > 0 ? h : 0;
            float got = nnp_f16_to_f32(((const uint16_t *)yo->data)[j * 3 + i]);
            cr_assert(fabsf(got - h) <= fabsf(h) / 1024 + 1e-7f, "y[%d][%d] = %g, want %g", j, i,
                      (double)got, (double)h);
            cr_assert_eq(((const uint8_t *)po->data)[j * 3 + i], got > 0);
        }
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* a float16 node whose inputs are all constants is computed at plan time, as in float32 */
Test(runtime, float16_constant_nodes_fold)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *a = f16_init(g, "a", 1, (int64_t[]){4}, (float[]){1, -2, 3.5f, 65504});
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F16, 1, (int64_t[]){4});
    struct nnp_value *n = nnp_graph_value(g, "n"), *y = nnp_graph_value(g, "y");
    node(g, "Neg", "neg", 1, &a, 1, &n);
    node(g, "Mul", "mul", 2, (struct nnp_value *[]){n, x}, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    struct nnp_runtime *rt;
    cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_runtime_n_run(rt), 1); /* Neg folded */
    struct nnp_rt_value *in = nnp_runtime_input(rt, 0);
    for (int i = 0; i < 4; i++)
        ((uint16_t *)in->data)[i] = nnp_f32_to_f16(2.0f);
    cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
    const uint16_t *yv = nnp_runtime_output(rt, 0)->data;
    cr_assert_float_eq(nnp_f16_to_f32(yv[0]), -2.0f, 0);
    cr_assert_float_eq(nnp_f16_to_f32(yv[2]), -7.0f, 0);
    cr_assert(isinf(nnp_f16_to_f32(yv[3])) && nnp_f16_to_f32(yv[3]) < 0); /* -131008: beyond */
    nnp_runtime_free(rt);
    nnp_graph_free(g);
}

/* x float16 -> MatMul -> Relu: the Relu goes into the MatMul's float32 epilogue (it gives
 * the same bits before or after the rounding), and the result is that of the nodes run
 * one by one */
Test(runtime, float16_relu_fuses_bit_identical)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *x = input(g, "x", NNP_DTYPE_F16, 2, (int64_t[]){4, 9});
    float wv[54];
    for (int i = 0; i < 54; i++)
        wv[i] = (float)((i * 29) % 23 - 11) / 9.0f;
    struct nnp_value *w = f16_init(g, "w", 2, (int64_t[]){9, 6}, wv);
    struct nnp_value *mm = nnp_graph_value(g, "mm"), *y = nnp_graph_value(g, "y");
    node(g, "MatMul", "mm", 2, (struct nnp_value *[]){x, w}, 1, &mm);
    node(g, "Relu", "relu", 1, &mm, 1, &y);
    nnp_graph_add_output(g, y);
    cr_assert_eq(nnp_graph_validate(g), NNP_OK, "%s", nnp_error_message());
    uint16_t out[2][24];
    for (int fuse = 0; fuse < 2; fuse++) {
        struct nnp_runtime_opts o = nnp_runtime_opts_default();
        o.threads = 1;
        o.no_fuse = !fuse;
        struct nnp_runtime *rt;
        cr_assert_eq(nnp_runtime_new(g, &o, &rt), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(nnp_runtime_n_run(rt), fuse ? 1 : 2);
        uint16_t *in = nnp_runtime_input(rt, 0)->data;
        for (int i = 0; i < 36; i++)
            in[i] = nnp_f32_to_f16((float)((i * 13) % 17 - 8) / 4.0f);
        cr_assert_eq(nnp_runtime_run(rt), NNP_OK, "%s", nnp_error_message());
        memcpy(out[fuse], nnp_runtime_output(rt, 0)->data, sizeof out[fuse]);
        nnp_runtime_free(rt);
    }
    cr_assert_arr_eq(out[0], out[1], sizeof out[0]);
    int zeros = 0;
    for (int i = 0; i < 24; i++)
        zeros += out[1][i] == 0;
    cr_assert(zeros > 0 && zeros < 24); /* the Relu did something */
    nnp_graph_free(g);
}
