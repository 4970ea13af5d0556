/* tests/unit/test_constants.c — weights wherever the model stores them: the lookup
 * (nnp_value_data, nnp_value_constant), the conversion of Constant nodes into
 * initializers, and the report counting both forms alike. Graphs built in C. */
#include <criterion/criterion.h>

#include <string.h>

#include "kernels/graph.h"
#include "kernels/report.h"

/* A float32 tensor [rank,dims] in g's arena holding 1, 2, 3, ... */
static struct nnp_tensor *f32_tensor(struct nnp_graph *g, int rank, const int64_t *dims)
{
    struct nnp_tensor *t = nnp_arena_alloc(g->arena, sizeof *t);
    nnp_tensor_set_shape(t, NNP_DTYPE_F32, rank, dims);
    cr_assert_eq(nnp_tensor_alloc(g, t), NNP_OK);
    for (size_t i = 0; i < t->nbytes / 4; i++)
        ((float *)t->data)[i] = (float)(i + 1);
    return t;
}

/* A Constant node writing `name`, its value in attribute `attr` ("value": a tensor). */
static struct nnp_node *constant(struct nnp_graph *g, const char *name, const char *attr,
                                 enum nnp_attr_type type, struct nnp_tensor *t)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    struct nnp_node *n = nnp_graph_add_node(g, "Constant", name);
    nnp_node_set_io(g, n, 0, NULL, 1, &v);
    struct nnp_attr *a = nnp_node_set_attr(g, n, attr, type);
    a->t = t;
    return n;
}

static struct nnp_value *initializer(struct nnp_graph *g, const char *name, struct nnp_tensor *t)
{
    struct nnp_value *v = nnp_graph_value(g, name);
    v->t = *t;
    v->is_initializer = v->has_type = true;
    return v;
}

/* y = x + w + c + s, with w an initializer, c a Constant node's value, s a Constant's
 * sparse_value (which the IR keeps as a blob) and x the graph input. */
struct graph4 {
    struct nnp_graph *g;
    struct nnp_value *x, *w, *c, *s, *y;
    struct nnp_node *c_node, *s_node;
};

static struct graph4 build(void)
{
    struct graph4 r;
    r.g = nnp_graph_new();
    int64_t dims[2] = {2, 3};
    r.x = nnp_graph_value(r.g, "x");
    nnp_tensor_set_shape(&r.x->t, NNP_DTYPE_F32, 2, dims);
    nnp_graph_add_input(r.g, r.x);
    r.w = initializer(r.g, "w", f32_tensor(r.g, 2, dims));
    r.c_node = constant(r.g, "c", "value", NNP_ATTR_TENSOR, f32_tensor(r.g, 2, dims));
    r.c = r.c_node->outputs[0];
    r.s_node = constant(r.g, "s", "sparse_value", NNP_ATTR_SPARSE_TENSOR, NULL);
    r.s = r.s_node->outputs[0];
    struct nnp_value *h1 = nnp_graph_value(r.g, "h1"), *h2 = nnp_graph_value(r.g, "h2");
    r.y = nnp_graph_value(r.g, "y");
    nnp_node_set_io(r.g, nnp_graph_add_node(r.g, "Add", "add1"), 2,
                    (struct nnp_value *[]){r.x, r.w}, 1, &h1);
    nnp_node_set_io(r.g, nnp_graph_add_node(r.g, "Add", "add2"), 2,
                    (struct nnp_value *[]){h1, r.c}, 1, &h2);
    nnp_node_set_io(r.g, nnp_graph_add_node(r.g, "Add", "add3"), 2,
                    (struct nnp_value *[]){h2, r.s}, 1, &r.y);
    nnp_graph_add_output(r.g, r.y);
    cr_assert_eq(nnp_graph_validate(r.g), NNP_OK, "%s", nnp_error_message());
    return r;
}

Test(constants, lookup_sees_initializers_and_constant_nodes)
{
    struct graph4 r = build();
    cr_assert_eq(nnp_value_data(r.w), &r.w->t);
    cr_assert_eq(nnp_value_constant(r.w), &r.w->t);
    cr_assert_eq(nnp_value_data(r.c), r.c_node->attrs[0].t, "the Constant's own tensor");
    cr_assert_eq(nnp_value_constant(r.c), r.c_node->attrs[0].t);
    cr_assert_null(nnp_value_data(r.s), "sparse_value is a blob, not a tensor");
    cr_assert_null(nnp_value_data(r.x), "a graph input");
    cr_assert_null(nnp_value_data(r.y), "an Add's output");
    nnp_graph_free(r.g);
}

Test(constants, initializer_that_is_an_input_is_data_but_not_constant)
{
    struct graph4 r = build();
    nnp_graph_add_input(r.g, r.w); /* old-style: a default the caller may override */
    cr_assert_eq(nnp_value_data(r.w), &r.w->t);
    cr_assert_null(nnp_value_constant(r.w));
    nnp_graph_free(r.g);
}

/* A Constant is a tensor only when it has exactly one value attribute and that one
 * is `value`, in the default domain, and still in the graph. */
Test(constants, what_is_not_a_constant_node)
{
    struct graph4 r = build();
    int64_t three = 3;
    struct nnp_attr *f = nnp_node_set_attr(r.g, r.c_node, "value_floats", NNP_ATTR_FLOATS);
    f->n = 1;
    f->floats = nnp_arena_alloc(r.g->arena, sizeof *f->floats);
    cr_assert_null(nnp_value_data(r.c), "two value attributes");
    r.c_node->n_attrs = 1; /* drop value_floats again */
    cr_assert_not_null(nnp_value_data(r.c));

    r.c_node->domain = "com.example";
    cr_assert_null(nnp_value_data(r.c), "another domain's Constant");
    r.c_node->domain = "ai.onnx";
    cr_assert_not_null(nnp_value_data(r.c));

    r.c_node->attrs[0].t = NULL;
    cr_assert_null(nnp_value_data(r.c), "a value attribute without a tensor");
    r.c_node->attrs[0].t = f32_tensor(r.g, 1, &three);

    nnp_graph_remove_node(r.g, r.c_node);
    cr_assert_null(nnp_value_data(r.c), "a removed node, even before linking");
    nnp_graph_free(r.g);

    /* value_float(s)/value_int(s) are numbers, not tensors in the IR: not seen */
    r = build();
    r.c_node->attrs[0] = (struct nnp_attr){.name = "value_float", .type = NNP_ATTR_FLOAT, .f = 2};
    cr_assert_null(nnp_value_data(r.c));
    nnp_graph_free(r.g);
}

Test(constants, conversion_moves_the_tensor_and_leaves_the_rest)
{
    struct graph4 r = build();
    const struct nnp_tensor *t = nnp_value_data(r.c);
    void *data = t->data;
    cr_assert_eq(nnp_graph_constants_to_initializers(r.g), 1);
    cr_assert(r.c->is_initializer && r.c->has_type);
    cr_assert_eq(r.c->t.data, data, "moved, not copied");
    cr_assert_eq(r.c->t.rank, 2);
    cr_assert_eq(r.c->t.dims[1], 3);
    cr_assert_null(r.c->producer);
    cr_assert_eq(nnp_value_data(r.c), &r.c->t);
    cr_assert_eq(r.g->n_nodes, 4, "the sparse_value Constant and three Adds are left");
    cr_assert_eq(r.s->producer, r.s_node);
    cr_assert_str_eq(r.s_node->attrs[0].name, "sparse_value");
    cr_assert_eq(nnp_graph_validate(r.g), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_graph_constants_to_initializers(r.g), 0, "nothing left to convert");
    nnp_graph_free(r.g);
}

/* The same graph counts the same whether c is a Constant node or an initializer, and
 * c's elements are charged to add2, the node that reads it. */
Test(constants, report_counts_both_forms_alike)
{
    struct graph4 r = build();
    struct nnp_summary before, after;
    nnp_summary_init(&before, r.g);
    cr_assert_eq(before.params, 12, "w and c, 6 each; the sparse blob is not counted");
    cr_assert_eq(before.weight_bytes, 48);
    cr_assert_eq(before.nonzeros, 12);
    cr_assert_eq(before.n_layers, 2);
    cr_assert_str_eq(before.layers[1].node, "add2");
    cr_assert_str_eq(before.layers[1].weight, "c");
    cr_assert_str_eq(before.layers[1].shape, "[2,3]");
    cr_assert_eq(before.layers[1].params, 6);

    nnp_graph_constants_to_initializers(r.g);
    nnp_summary_init(&after, r.g);
    cr_assert_eq(after.params, before.params);
    cr_assert_eq(after.weight_bytes, before.weight_bytes);
    cr_assert_eq(after.n_layers, before.n_layers);
    cr_assert_str_eq(after.layers[1].weight, "c");
    cr_assert_eq(after.layers[1].bytes, before.layers[1].bytes);
    nnp_summary_free(&before);
    nnp_summary_free(&after);
    nnp_graph_free(r.g);
}
