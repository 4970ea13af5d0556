/* kernels/graph_equal.c — is this the same IR? Used by round-trip tests and by
 * `nnpress compress` to tell whether a pipeline changed anything. */
#include "kernels/graph.h"

#include <stdio.h>
#include <string.h>

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int blob_eq(const struct nnp_blob *a, const struct nnp_blob *b)
{
    return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static int tensor_eq(const struct nnp_tensor *a, const struct nnp_tensor *b, const char *what)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return nnp_errorf(NNP_ERR_INVALID, "%s: dtype or rank differs", what), 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i] || !str_eq(a->dim_params[i], b->dim_params[i]))
            return nnp_errorf(NNP_ERR_INVALID, "%s: dimension %d differs", what, i), 0;
    if (a->storage != b->storage || a->nbytes != b->nbytes || !a->data != !b->data)
        return nnp_errorf(NNP_ERR_INVALID, "%s: data size differs", what), 0;
    if (a->dtype == NNP_DTYPE_STRING && a->data) {
        const struct nnp_string *sa = a->data, *sb = b->data;
        for (size_t i = 0; i < a->nbytes / sizeof *sa; i++)
            if (sa[i].len != sb[i].len || memcmp(sa[i].data, sb[i].data, sa[i].len))
                return nnp_errorf(NNP_ERR_INVALID, "%s: string %zu differs", what, i), 0;
    } else if (a->data && memcmp(a->data, b->data, a->nbytes) != 0) {
        return nnp_errorf(NNP_ERR_INVALID, "%s: data differs", what), 0;
    }
    if (a->quant.n != b->quant.n)
        return nnp_errorf(NNP_ERR_INVALID, "%s: quantization differs", what), 0;
    return 1;
}

static int attr_eq(const struct nnp_attr *a, const struct nnp_attr *b, const char *node)
{
    char what[600];
    snprintf(what, sizeof what, "node %s: attribute %s", node, a->name);
    if (!str_eq(a->name, b->name) || a->type != b->type || a->n != b->n)
        return nnp_errorf(NNP_ERR_INVALID, "%s: name, type or length differs", what), 0;
    int same = 1;
    switch (a->type) {
    case NNP_ATTR_FLOAT: same = memcmp(&a->f, &b->f, sizeof a->f) == 0; break;
    case NNP_ATTR_INT: same = a->i == b->i; break;
    case NNP_ATTR_STRING:
        same = a->s.len == b->s.len && memcmp(a->s.data, b->s.data, a->s.len) == 0;
        break;
    case NNP_ATTR_FLOATS: same = a->n == 0 || !memcmp(a->floats, b->floats, (size_t)a->n * 4); break;
    case NNP_ATTR_INTS: same = a->n == 0 || !memcmp(a->ints, b->ints, (size_t)a->n * 8); break;
    case NNP_ATTR_STRINGS:
        for (int64_t i = 0; i < a->n && same; i++)
            same = a->strings[i].len == b->strings[i].len &&
                   memcmp(a->strings[i].data, b->strings[i].data, a->strings[i].len) == 0;
        break;
    case NNP_ATTR_TENSOR: return tensor_eq(a->t, b->t, what) && blob_eq(&a->extra, &b->extra);
    case NNP_ATTR_TENSORS:
        for (int64_t i = 0; i < a->n; i++)
            if (!tensor_eq(&a->tensors[i], &b->tensors[i], what))
                return 0;
        break;
    default: break;
    }
    if (!same)
        return nnp_errorf(NNP_ERR_INVALID, "%s: value differs", what), 0;
    if (!blob_eq(&a->extra, &b->extra))
        return nnp_errorf(NNP_ERR_INVALID, "%s: kept fields differ", what), 0;
    return 1;
}

int nnp_graph_equal(const struct nnp_graph *a, const struct nnp_graph *b)
{
    if (a->ir_version != b->ir_version || a->model_version != b->model_version ||
        !str_eq(a->producer_name, b->producer_name) ||
        !str_eq(a->producer_version, b->producer_version) ||
        !str_eq(a->model_domain, b->model_domain) || !str_eq(a->name, b->name))
        return nnp_errorf(NNP_ERR_INVALID, "model header differs"), 0;
    if (a->n_opsets != b->n_opsets)
        return nnp_errorf(NNP_ERR_INVALID, "opset imports differ"), 0;
    for (int i = 0; i < a->n_opsets; i++)
        if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) ||
            a->opsets[i].version != b->opsets[i].version)
            return nnp_errorf(NNP_ERR_INVALID, "opset import %d differs", i), 0;
    if (a->n_props != b->n_props)
        return nnp_errorf(NNP_ERR_INVALID, "metadata differs"), 0;
    for (int i = 0; i < a->n_props; i++)
        if (!str_eq(a->props[i].key, b->props[i].key) ||
            !str_eq(a->props[i].value, b->props[i].value))
            return nnp_errorf(NNP_ERR_INVALID, "metadata '%s' differs", a->props[i].key), 0;
    if (!blob_eq(&a->model_extra, &b->model_extra) || !blob_eq(&a->graph_extra, &b->graph_extra))
        return nnp_errorf(NNP_ERR_INVALID, "kept model or graph fields differ"), 0;

    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs)
        return nnp_errorf(NNP_ERR_INVALID, "graph inputs or outputs differ"), 0;
    for (int i = 0; i < a->n_inputs; i++)
        if (!str_eq(a->inputs[i]->name, b->inputs[i]->name))
            return nnp_errorf(NNP_ERR_INVALID, "graph input %d differs", i), 0;
    for (int i = 0; i < a->n_outputs; i++)
        if (!str_eq(a->outputs[i]->name, b->outputs[i]->name))
            return nnp_errorf(NNP_ERR_INVALID, "graph output %d differs", i), 0;

    /* values compared by name, so creation order does not matter */
    if (a->n_values != b->n_values)
        return nnp_errorf(NNP_ERR_INVALID, "value count differs (%d vs %d)", a->n_values,
                          b->n_values), 0;
    for (int i = 0; i < a->n_values; i++) {
        const struct nnp_value *va = a->values[i];
        const struct nnp_value *vb = nnp_graph_find(b, va->name);
        char what[600];
        snprintf(what, sizeof what, "value %s", va->name);
        if (!vb)
            return nnp_errorf(NNP_ERR_INVALID, "%s: missing", what), 0;
        if (va->is_input != vb->is_input || va->is_output != vb->is_output ||
            va->is_initializer != vb->is_initializer || va->has_value_info != vb->has_value_info ||
            va->has_type != vb->has_type)
            return nnp_errorf(NNP_ERR_INVALID, "%s: role differs", what), 0;
        if (!tensor_eq(&va->t, &vb->t, what))
            return 0;
        if (!blob_eq(&va->extra, &vb->extra) || !blob_eq(&va->init_extra, &vb->init_extra))
            return nnp_errorf(NNP_ERR_INVALID, "%s: kept fields differ", what), 0;
    }

    if (a->n_nodes != b->n_nodes)
        return nnp_errorf(NNP_ERR_INVALID, "node count differs (%d vs %d)", a->n_nodes,
                          b->n_nodes), 0;
    for (int i = 0; i < a->n_nodes; i++) {
        const struct nnp_node *na = a->nodes[i], *nb = b->nodes[i];
        if (!str_eq(na->name, nb->name) || !str_eq(na->op_type, nb->op_type) ||
            !str_eq(na->domain, nb->domain) || na->n_inputs != nb->n_inputs ||
            na->n_outputs != nb->n_outputs || na->n_attrs != nb->n_attrs ||
            na->n_implicit != nb->n_implicit)
            return nnp_errorf(NNP_ERR_INVALID, "node %d (%s) differs", i, na->name), 0;
        for (int j = 0; j < na->n_inputs; j++)
            if (!na->inputs[j] != !nb->inputs[j] ||
                (na->inputs[j] && !str_eq(na->inputs[j]->name, nb->inputs[j]->name)))
                return nnp_errorf(NNP_ERR_INVALID, "node %s: input %d differs", na->name, j), 0;
        for (int j = 0; j < na->n_outputs; j++)
            if (!na->outputs[j] != !nb->outputs[j] ||
                (na->outputs[j] && !str_eq(na->outputs[j]->name, nb->outputs[j]->name)))
                return nnp_errorf(NNP_ERR_INVALID, "node %s: output %d differs", na->name, j), 0;
        for (int j = 0; j < na->n_attrs; j++)
            if (!attr_eq(&na->attrs[j], &nb->attrs[j], na->name))
                return 0;
        if (!blob_eq(&na->extra, &nb->extra))
            return nnp_errorf(NNP_ERR_INVALID, "node %s: kept fields differ", na->name), 0;
    }
    return 1;
}
