/* kernels/graph.c — building, editing, linking and validating the graph IR. */
#include "kernels/graph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- growable arrays in the arena: doubling wastes at most half of what was ever held --- */

static void *grow(struct nnp_arena *a, void *old, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return old;
    int new_cap = *cap ? *cap * 2 : 8;
    void *p = nnp_arena_alloc(a, (size_t)new_cap * elem);
    if (old && n)
        memcpy(p, old, (size_t)n * elem);
    *cap = new_cap;
    return p;
}

/* FNV-1a: short names, no adversarial pressure worth a keyed hash. */
static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void hash_insert(struct nnp_graph *g, int idx)
{
    uint32_t mask = (uint32_t)g->cap_hash - 1;
    uint32_t h = hash_name(g->values[idx]->name) & mask;
    while (g->hash[h] >= 0)
        h = (h + 1) & mask;
    g->hash[h] = idx;
}

static void hash_rebuild(struct nnp_graph *g, int cap)
{
    g->cap_hash = cap;
    g->hash = nnp_arena_alloc(g->arena, (size_t)cap * sizeof *g->hash);
    for (int i = 0; i < cap; i++)
        g->hash[i] = -1;
    for (int i = 0; i < g->n_values; i++)
        hash_insert(g, i);
}

struct nnp_graph *nnp_graph_new(void)
{
    struct nnp_arena *a = nnp_arena_new();
    struct nnp_graph *g = nnp_arena_alloc(a, sizeof *g);
    g->arena = a;
    g->ir_version = 8;
    g->n_opsets = 1;
    g->opsets = nnp_arena_alloc(a, sizeof *g->opsets);
    g->opsets[0].domain = "";
    g->opsets[0].version = 17;
    g->producer_name = "";
    g->producer_version = "";
    g->model_domain = "";
    g->name = "";
    g->dir = ".";
    hash_rebuild(g, 64);
    return g;
}

void nnp_graph_free(struct nnp_graph *g)
{
    if (g)
        nnp_arena_free(g->arena); /* g itself lives in its arena */
}

char *nnp_graph_strdup(struct nnp_graph *g, const char *s)
{
    return nnp_arena_strdup(g->arena, s);
}

struct nnp_value *nnp_graph_find(const struct nnp_graph *g, const char *name)
{
    uint32_t mask = (uint32_t)g->cap_hash - 1;
    for (uint32_t h = hash_name(name) & mask; g->hash[h] >= 0; h = (h + 1) & mask)
        if (strcmp(g->values[g->hash[h]]->name, name) == 0)
            return g->values[g->hash[h]];
    return NULL;
}

struct nnp_value *nnp_graph_value(struct nnp_graph *g, const char *name)
{
    struct nnp_value *v = nnp_graph_find(g, name);
    if (v)
        return v;
    v = nnp_arena_alloc(g->arena, sizeof *v);
    v->name = nnp_arena_strdup(g->arena, name);
    v->t.rank = -1;
    v->index = g->n_values;
    g->values = grow(g->arena, g->values, g->n_values, &g->cap_values, sizeof *g->values);
    g->values[g->n_values++] = v;
    if (2 * g->n_values > g->cap_hash) /* keep the load under 1/2 */
        hash_rebuild(g, g->cap_hash * 2);
    else
        hash_insert(g, v->index);
    return v;
}

struct nnp_value *nnp_graph_new_value(struct nnp_graph *g, const char *prefix)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", prefix);
    for (int i = 1; nnp_graph_find(g, buf); i++)
        snprintf(buf, sizeof buf, "%s_%d", prefix, i);
    return nnp_graph_value(g, buf);
}

void nnp_graph_add_input(struct nnp_graph *g, struct nnp_value *v)
{
    g->inputs = grow(g->arena, g->inputs, g->n_inputs, &g->cap_inputs, sizeof *g->inputs);
    g->inputs[g->n_inputs++] = v;
    v->is_input = true;
}

void nnp_graph_add_output(struct nnp_graph *g, struct nnp_value *v)
{
    g->outputs = grow(g->arena, g->outputs, g->n_outputs, &g->cap_outputs, sizeof *g->outputs);
    g->outputs[g->n_outputs++] = v;
    v->is_output = true;
}

struct nnp_node *nnp_graph_add_node(struct nnp_graph *g, const char *op_type, const char *name)
{
    struct nnp_node *n = nnp_arena_alloc(g->arena, sizeof *n);
    n->op_type = nnp_arena_strdup(g->arena, op_type);
    n->name = nnp_arena_strdup(g->arena, name ? name : "");
    n->domain = "";
    n->index = g->n_nodes;
    g->nodes = grow(g->arena, g->nodes, g->n_nodes, &g->cap_nodes, sizeof *g->nodes);
    g->nodes[g->n_nodes++] = n;
    return n;
}

void nnp_node_set_io(struct nnp_graph *g, struct nnp_node *n, int n_in, struct nnp_value **in,
                     int n_out, struct nnp_value **out)
{
    n->n_inputs = n_in;
    n->inputs = n_in ? nnp_arena_alloc(g->arena, (size_t)n_in * sizeof *in) : NULL;
    if (n_in)
        memcpy(n->inputs, in, (size_t)n_in * sizeof *in);
    n->n_outputs = n_out;
    n->outputs = n_out ? nnp_arena_alloc(g->arena, (size_t)n_out * sizeof *out) : NULL;
    if (n_out)
        memcpy(n->outputs, out, (size_t)n_out * sizeof *out);
}

void nnp_graph_remove_node(struct nnp_graph *g, struct nnp_node *n)
{
    (void)g;
    n->removed = true;
}

void nnp_graph_replace_uses(struct nnp_graph *g, struct nnp_value *from, struct nnp_value *to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] == from)
                n->inputs[j] = to;
        for (int j = 0; j < n->n_implicit; j++)
            if (n->implicit[j] == from)
                n->implicit[j] = to;
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from) {
            g->outputs[i] = to;
            from->is_output = false;
            to->is_output = true;
        }
}

void nnp_graph_link(struct nnp_graph *g)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->removed)
            g->nodes[k++] = g->nodes[i];
    g->n_nodes = k;

    for (int i = 0; i < g->n_values; i++) {
        g->values[i]->producer = NULL;
        g->values[i]->n_consumers = 0;
    }
    /* two sweeps: count, then fill, so consumers is one exact allocation */
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        n->index = i;
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j])
                n->inputs[j]->n_consumers++;
        for (int j = 0; j < n->n_implicit; j++)
            n->implicit[j]->n_consumers++;
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] && !n->outputs[j]->producer)
                n->outputs[j]->producer = n;
    }
    for (int i = 0; i < g->n_values; i++) {
        struct nnp_value *v = g->values[i];
        v->consumers = v->n_consumers
                           ? nnp_arena_alloc(g->arena, (size_t)v->n_consumers * sizeof *v->consumers)
                           : NULL;
        v->n_consumers = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j])
                n->inputs[j]->consumers[n->inputs[j]->n_consumers++] = n;
        for (int j = 0; j < n->n_implicit; j++)
            n->implicit[j]->consumers[n->implicit[j]->n_consumers++] = n;
    }
}

int nnp_graph_drop_unused(struct nnp_graph *g)
{
    nnp_graph_link(g);
    int k = 0, dropped = 0;
    for (int i = 0; i < g->n_values; i++) {
        struct nnp_value *v = g->values[i];
        bool used = v->is_input || v->is_output || v->producer || v->n_consumers > 0;
        if (used) {
            v->index = k;
            g->values[k++] = v;
        } else {
            dropped++;
        }
    }
    g->n_values = k;
    hash_rebuild(g, g->cap_hash);
    return dropped;
}

/* --- constants --- */

/* The tensor a Constant node gives its output, or NULL when the IR holds none: a
 * node outside ai.onnx, a value the reader kept as a blob (sparse_value) or as
 * numbers rather than a tensor (value_float(s), value_int(s), value_string(s)), or
 * not exactly one value attribute (the runtime refuses that node with a message;
 * here it is simply not a constant). */
static const struct nnp_tensor *constant_node_tensor(const struct nnp_node *n)
{
    if (n->removed || strcmp(n->op_type, "Constant") != 0 ||
        (*n->domain && strcmp(n->domain, "ai.onnx") != 0) || n->n_inputs != 0 ||
        n->n_outputs != 1)
        return NULL;
    const struct nnp_attr *value = NULL;
    int n_values = 0; /* value, value_*, sparse_value: ONNX allows exactly one */
    for (int i = 0; i < n->n_attrs; i++) {
        const char *name = n->attrs[i].name;
        if (strncmp(name, "value", 5) == 0 || strcmp(name, "sparse_value") == 0) {
            n_values++;
            value = &n->attrs[i];
        }
    }
    if (n_values != 1 || strcmp(value->name, "value") != 0 || value->type != NNP_ATTR_TENSOR)
        return NULL;
    const struct nnp_tensor *t = value->t;
    if (!t || t->dtype == NNP_DTYPE_UNDEFINED || t->storage != NNP_STORAGE_DENSE ||
        nnp_tensor_numel(t) < 0 || (!t->data && t->nbytes))
        return NULL;
    return t;
}

const struct nnp_tensor *nnp_value_data(const struct nnp_value *v)
{
    if (v->is_initializer)
        return &v->t;
    return v->producer ? constant_node_tensor(v->producer) : NULL;
}

const struct nnp_tensor *nnp_value_constant(const struct nnp_value *v)
{
    return v->is_input ? NULL : nnp_value_data(v);
}

int nnp_graph_constants_to_initializers(struct nnp_graph *g)
{
    nnp_graph_link(g);
    int converted = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        const struct nnp_tensor *t = constant_node_tensor(n);
        struct nnp_value *v = t ? n->outputs[0] : NULL;
        if (!v)
            continue;
        /* The struct is copied, the data is shared: the node is removed, so its
         * attribute is never read again. The static shape replaces whatever
         * value_info said; the node's doc string and the tensor's own name go with
         * the node. */
        v->t = *t;
        v->is_initializer = true;
        v->has_type = true;
        nnp_graph_remove_node(g, n);
        converted++;
    }
    nnp_graph_link(g);
    return converted;
}

/* --- attributes --- */

const struct nnp_attr *nnp_node_attr(const struct nnp_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t nnp_node_attr_int(const struct nnp_node *n, const char *name, int64_t def)
{
    const struct nnp_attr *a = nnp_node_attr(n, name);
    return a && a->type == NNP_ATTR_INT ? a->i : def;
}

float nnp_node_attr_float(const struct nnp_node *n, const char *name, float def)
{
    const struct nnp_attr *a = nnp_node_attr(n, name);
    return a && a->type == NNP_ATTR_FLOAT ? a->f : def;
}

const char *nnp_node_attr_string(const struct nnp_node *n, const char *name, const char *def)
{
    const struct nnp_attr *a = nnp_node_attr(n, name);
    return a && a->type == NNP_ATTR_STRING ? a->s.data : def;
}

struct nnp_attr *nnp_node_set_attr(struct nnp_graph *g, struct nnp_node *n, const char *name,
                                   enum nnp_attr_type type)
{
    struct nnp_attr *a = (struct nnp_attr *)nnp_node_attr(n, name);
    if (!a) {
        struct nnp_attr *attrs = nnp_arena_alloc(g->arena, (size_t)(n->n_attrs + 1) * sizeof *attrs);
        if (n->n_attrs)
            memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof *attrs);
        n->attrs = attrs;
        a = &attrs[n->n_attrs++];
    }
    memset(a, 0, sizeof *a);
    a->name = nnp_arena_strdup(g->arena, name);
    a->type = type;
    return a;
}

int64_t nnp_graph_opset(const struct nnp_graph *g, const char *domain)
{
    for (int i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain;
        bool is_default = !*domain || strcmp(domain, "ai.onnx") == 0;
        if (strcmp(d, domain) == 0 || (is_default && (!*d || strcmp(d, "ai.onnx") == 0)))
            return g->opsets[i].version;
    }
    return 0;
}

/* --- validation --- */

static const struct {
    const char *op, *attr;
    enum nnp_attr_type type;
} attr_types[] = {
#define X(op, attr, type) {op, attr, NNP_ATTR_##type},
#include "kernels/ops/op_attrs.def"
#undef X
};

static const char *attr_type_name(enum nnp_attr_type t)
{
    static const char *names[] = {"undefined", "float",   "int",        "string",  "tensor",
                                  "graph",     "floats",  "ints",       "strings", "tensors",
                                  "graphs",    "sparse_tensor", "sparse_tensors", "type_proto",
                                  "type_protos"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

/* How a node is named in messages: its name, or its op and position when it has none. */
static const char *node_label(const struct nnp_node *n, char *buf, size_t size)
{
    if (n->name && *n->name)
        snprintf(buf, size, "node %s", n->name);
    else
        snprintf(buf, size, "node #%d (%s)", n->index, n->op_type);
    return buf;
}

static enum nnp_status check_attrs(const struct nnp_node *n)
{
    char label[300];
    if (*n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return NNP_OK;
    for (int i = 0; i < n->n_attrs; i++) {
        const struct nnp_attr *a = &n->attrs[i];
        for (size_t k = 0; k < sizeof attr_types / sizeof *attr_types; k++) {
            if (strcmp(attr_types[k].op, n->op_type) || strcmp(attr_types[k].attr, a->name))
                continue;
            if (attr_types[k].type != a->type)
                return nnp_errorf(NNP_ERR_INVALID, "%s: attribute '%s' of %s is %s, expected %s",
                                  node_label(n, label, sizeof label), a->name, n->op_type,
                                  attr_type_name(a->type), attr_type_name(attr_types[k].type));
        }
        for (int j = 0; j < i; j++)
            if (strcmp(n->attrs[j].name, a->name) == 0)
                return nnp_errorf(NNP_ERR_INVALID, "%s: attribute '%s' given twice",
                                  node_label(n, label, sizeof label), a->name);
    }
    return NNP_OK;
}

/* A binary min-heap of node indices, for the topological sort. */
static void heap_push(int *h, int *n, int x)
{
    int i = (*n)++;
    for (; i > 0 && h[(i - 1) / 2] > x; i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = x;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], x = h[--*n], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
    return top;
}

enum nnp_status nnp_graph_validate(struct nnp_graph *g)
{
    char label[300];
    nnp_graph_link(g);

    /* every value has at most one definition */
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        for (int j = 0; j < n->n_outputs; j++) {
            struct nnp_value *v = n->outputs[j];
            if (!v)
                continue;
            if (v->producer != n)
                return nnp_errorf(NNP_ERR_INVALID, "%s: output '%s' is also produced by %s",
                                  node_label(n, label, sizeof label), v->name,
                                  v->producer->name && *v->producer->name ? v->producer->name
                                                                          : v->producer->op_type);
            for (int k = 0; k < j; k++)
                if (n->outputs[k] == v)
                    return nnp_errorf(NNP_ERR_INVALID, "%s: output '%s' is listed twice",
                                      node_label(n, label, sizeof label), v->name);
            if (v->is_initializer || v->is_input)
                return nnp_errorf(NNP_ERR_INVALID, "%s: output '%s' is also a graph %s",
                                  node_label(n, label, sizeof label), v->name,
                                  v->is_input ? "input" : "initializer");
        }
        enum nnp_status st = check_attrs(n);
        if (st != NNP_OK)
            return st;
    }
    for (int i = 0; i < g->n_outputs; i++)
        for (int k = 0; k < i; k++)
            if (g->outputs[k] == g->outputs[i])
                return nnp_errorf(NNP_ERR_INVALID, "graph output '%s' is listed twice",
                                  g->outputs[i]->name);

    /* every input is defined, by a producer, a graph input or an initializer */
    for (int i = 0; i < g->n_nodes; i++) {
        struct nnp_node *n = g->nodes[i];
        for (int j = 0; j < n->n_inputs + n->n_implicit; j++) {
            struct nnp_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
            if (v && !v->producer && !v->is_input && !v->is_initializer)
                return nnp_errorf(NNP_ERR_INVALID, "%s: input '%s' is not defined by any node, "
                                  "graph input or initializer",
                                  node_label(n, label, sizeof label), v->name);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        struct nnp_value *v = g->outputs[i];
        if (!v->producer && !v->is_input && !v->is_initializer)
            return nnp_errorf(NNP_ERR_INVALID, "graph output '%s' is not defined by any node",
                              v->name);
    }

    /* topological order (Kahn): ready nodes in their original order, so a graph that is
     * already sorted keeps its order exactly */
    int n = g->n_nodes;
    if (n == 0)
        return NNP_OK;
    int *pending = calloc((size_t)n, sizeof *pending);
    int *ready = malloc((size_t)n * sizeof *ready); /* a min-heap */
    struct nnp_node **order = malloc((size_t)n * sizeof *order);
    if (!pending || !ready || !order) {
        free(pending), free(ready), free(order);
        return nnp_errorf(NNP_ERR_NOMEM, "out of memory sorting %d nodes", n);
    }
    for (int i = 0; i < n; i++) {
        struct nnp_node *nd = g->nodes[i];
        for (int j = 0; j < nd->n_inputs + nd->n_implicit; j++) {
            struct nnp_value *v = j < nd->n_inputs ? nd->inputs[j] : nd->implicit[j - nd->n_inputs];
            if (v && v->producer)
                pending[i]++;
        }
    }
    /* ready nodes leave a min-heap of original indices, so a graph that is already sorted
     * keeps its order exactly (a FIFO queue would reorder it breadth-first) */
    int n_heap = 0, done = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0)
            heap_push(ready, &n_heap, i);
    while (n_heap > 0) {
        struct nnp_node *nd = g->nodes[heap_pop(ready, &n_heap)];
        order[done++] = nd;
        for (int j = 0; j < nd->n_outputs; j++) {
            struct nnp_value *v = nd->outputs[j];
            if (!v)
                continue;
            for (int c = 0; c < v->n_consumers; c++)
                if (--pending[v->consumers[c]->index] == 0)
                    heap_push(ready, &n_heap, v->consumers[c]->index);
        }
    }
    enum nnp_status st = NNP_OK;
    if (done < n) {
        for (int i = 0; i < n; i++)
            if (pending[i] > 0) {
                st = nnp_errorf(NNP_ERR_INVALID, "%s: the graph has a cycle through this node",
                                node_label(g->nodes[i], label, sizeof label));
                break;
            }
    } else {
        memcpy(g->nodes, order, (size_t)n * sizeof *order);
        for (int i = 0; i < n; i++)
            g->nodes[i]->index = i;
    }
    free(pending), free(ready), free(order);
    return st;
}

/* --- tensors --- */

void nnp_tensor_set_shape(struct nnp_tensor *t, enum nnp_dtype dtype, int rank,
                          const int64_t *dims)
{
    NNP_ASSERT(rank >= -1 && rank <= NNP_MAX_RANK);
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < NNP_MAX_RANK; i++) {
        t->dims[i] = i < rank ? dims[i] : 0;
        t->dim_params[i] = NULL;
    }
}

int64_t nnp_tensor_numel(const struct nnp_tensor *t)
{
    if (t->rank < 0)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return -1;
        if (t->dims[i] && n > INT64_MAX / t->dims[i])
            return -1;
        n *= t->dims[i];
    }
    return n;
}

enum nnp_status nnp_tensor_alloc(struct nnp_graph *g, struct nnp_tensor *t)
{
    int64_t n = nnp_tensor_numel(t);
    if (n < 0)
        return nnp_errorf(NNP_ERR_INVALID, "tensor shape is not static");
    size_t esize = t->dtype == NNP_DTYPE_STRING ? sizeof(struct nnp_string)
                                                : nnp_dtype_size(t->dtype);
    if (esize == 0 || (uint64_t)n > SIZE_MAX / esize)
        return nnp_errorf(NNP_ERR_INVALID, "tensor of %" PRId64 " %s elements is too large", n,
                          nnp_dtype_name(t->dtype));
    t->nbytes = (size_t)n * esize;
    t->storage = NNP_STORAGE_DENSE;
    t->data = nnp_arena_alloc_big(g->arena, t->nbytes);
    if (!t->data)
        return nnp_errorf(NNP_ERR_NOMEM, "cannot allocate %zu bytes for a tensor", t->nbytes);
    return NNP_OK;
}

char *nnp_tensor_shape_str(const struct nnp_tensor *t, char *buf, size_t size)
{
    if (t->rank < 0) {
        snprintf(buf, size, "?");
        return buf;
    }
    size_t k = 0;
    k += (size_t)snprintf(buf + k, size - k, "[");
    for (int i = 0; i < t->rank && k < size; i++) {
        const char *sep = i ? "," : "";
        if (t->dim_params[i])
            k += (size_t)snprintf(buf + k, size - k, "%s%s", sep, t->dim_params[i]);
        else if (t->dims[i] < 0)
            k += (size_t)snprintf(buf + k, size - k, "%s?", sep);
        else
            k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, sep, t->dims[i]);
    }
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

int64_t nnp_tensor_count_zeros(const struct nnp_tensor *t)
{
    if (!t->data || t->storage != NNP_STORAGE_DENSE)
        return -1;
    size_t es = nnp_dtype_size(t->dtype);
    if (es == 0 || t->dtype == NNP_DTYPE_C64 || t->dtype == NNP_DTYPE_C128)
        return -1;
    int64_t n = (int64_t)(t->nbytes / es), zeros = 0;
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < n; i++, p += es) {
        if (t->dtype == NNP_DTYPE_F32) {
            float f;
            memcpy(&f, p, 4);
            zeros += f == 0.0f;
        } else if (t->dtype == NNP_DTYPE_F64) {
            double d;
            memcpy(&d, p, 8);
            zeros += d == 0.0;
        } else if (t->dtype == NNP_DTYPE_F16 || t->dtype == NNP_DTYPE_BF16) {
            uint16_t h;
            memcpy(&h, p, 2);
            zeros += (h & 0x7fff) == 0; /* +0 and -0 */
        } else {
            size_t b = 0;
            while (b < es && p[b] == 0)
                b++;
            zeros += b == es;
        }
    }
    return zeros;
}
