/* kernels/report.c — the model summary: parameters, nonzeros, bytes, layers, ops. */
#include "kernels/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_ops(const void *pa, const void *pb)
{
    const struct nnp_op_count *a = pa, *b = pb;
    if (a->count != b->count)
        return b->count - a->count;
    return strcmp(a->op, b->op);
}

void nnp_summary_init(struct nnp_summary *s, const struct nnp_graph *g)
{
    memset(s, 0, sizeof *s);
    s->n_nodes = g->n_nodes;

    /* Totals over stored constants, initializers and Constant node values alike, each
     * once (a value has one definition), whether or not a node reads it. Initializers
     * that are also graph inputs count too: their data is in the file all the same. */
    for (int i = 0; i < g->n_values; i++) {
        const struct nnp_tensor *t = nnp_value_data(g->values[i]);
        int64_t n = t ? nnp_tensor_numel(t) : -1;
        if (n < 0)
            continue;
        int64_t z = nnp_tensor_count_zeros(t);
        s->params += n;
        s->nonzeros += z >= 0 ? n - z : n;
        s->weight_bytes += t->nbytes;
    }
    s->bits_per_weight = s->params ? 8.0 * (double)s->weight_bytes / (double)s->params : 0;

    /* Layers: a constant is charged to the first node that reads it. */
    bool *seen = calloc((size_t)g->n_values + 1, sizeof *seen);
    s->layers = calloc((size_t)g->n_nodes + 1, sizeof *s->layers);
    s->ops = calloc((size_t)g->n_nodes + 1, sizeof *s->ops);
    NNP_ASSERT(seen && s->layers && s->ops);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct nnp_node *n = g->nodes[i];
        struct nnp_layer *l = &s->layers[s->n_layers];
        uint64_t biggest = 0;
        for (int j = 0; j < n->n_inputs; j++) {
            const struct nnp_value *v = n->inputs[j];
            const struct nnp_tensor *t = v ? nnp_value_data(v) : NULL;
            if (!t || seen[v->index])
                continue;
            seen[v->index] = true;
            int64_t numel = nnp_tensor_numel(t);
            if (numel < 0)
                continue;
            int64_t z = nnp_tensor_count_zeros(t);
            l->params += numel;
            l->nonzeros = (l->nonzeros < 0 || z < 0) ? -1 : l->nonzeros + numel - z;
            l->bytes += t->nbytes;
            if (!l->weight || t->nbytes > biggest) {
                biggest = t->nbytes;
                l->weight = v->name;
                l->dtype = t->dtype;
                nnp_tensor_shape_str(t, l->shape, sizeof l->shape);
            }
        }
        if (l->weight) {
            l->node = n->name && *n->name ? n->name : NULL;
            l->op = n->op_type;
            if (!l->node) {
                char buf[32];
                snprintf(buf, sizeof buf, "#%d", i);
                l->node = nnp_arena_strdup(g->arena, buf);
            }
            s->n_layers++;
        } else {
            memset(l, 0, sizeof *l);
        }

        const char *op = n->op_type;
        if (*n->domain && strcmp(n->domain, "ai.onnx") != 0) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s:%s", n->domain, n->op_type);
            op = nnp_arena_strdup(g->arena, buf);
        }
        int k = 0;
        while (k < s->n_ops && strcmp(s->ops[k].op, op) != 0)
            k++;
        if (k == s->n_ops) {
            s->ops[k].op = op;
            s->n_ops++;
        }
        s->ops[k].count++;
    }
    free(seen);
    qsort(s->ops, (size_t)s->n_ops, sizeof *s->ops, cmp_ops);
}

void nnp_summary_free(struct nnp_summary *s)
{
    if (!s)
        return;
    free(s->layers);
    free(s->ops);
    memset(s, 0, sizeof *s);
}
