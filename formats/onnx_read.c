/* formats/onnx_read.c — ONNX ModelProto and TensorProto bytes into the graph IR.
 *
 * The bytes are first walked once without protobuf-c, to refuse nesting deep
 * enough to exhaust the stack inside protobuf-c's recursive unpacker. Then the
 * message is unpacked into a scratch arena, converted, and every message the
 * IR keeps an `extra` blob for is packed again with the fields we interpreted
 * cleared. The scratch arena goes at the end; the graph never points into it.
 */
#include "onnx.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "onnx_pb.h"

/* Model → graph → node → attribute → graph ... costs three levels per subgraph, and a
 * TypeProto two per sequence/map level: 100 covers ~30 nested subgraphs, far beyond any
 * real model, and keeps protobuf-c's recursion (a few hundred bytes a level) harmless. */
#define MAX_NESTING 100

struct reader {
    struct nnp_graph *g;   /* the graph being filled: the IR's data goes to its arena */
    struct nnp_arena *pb;  /* the unpacked message and scratch, freed when done */
    ProtobufCAllocator al; /* protobuf-c allocating from pb */
    const char *dir;       /* folder external data is resolved against */
};

/* --- wire-level nesting check --- */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -1;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

enum wire_check { WIRE_OK, WIRE_MALFORMED, WIRE_TOO_DEEP };

/* Walk `n` bytes of message type `d`, descending into the fields the schema says are
 * messages. Groups are refused: ONNX has none and protobuf-c cannot skip them either. */
static enum wire_check check_wire(const uint8_t *p, size_t n, const ProtobufCMessageDescriptor *d,
                                  int depth)
{
    if (depth > MAX_NESTING)
        return WIRE_TOO_DEEP;
    const uint8_t *end = p + n;
    while (p < end) {
        uint64_t key, v;
        if (read_varint(&p, end, &key))
            return WIRE_MALFORMED;
        uint64_t number = key >> 3;
        switch (key & 7) {
        case 0:
            if (read_varint(&p, end, &v))
                return WIRE_MALFORMED;
            break;
        case 1:
            if (end - p < 8)
                return WIRE_MALFORMED;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return WIRE_MALFORMED;
            p += 4;
            break;
        case 2: {
            if (read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return WIRE_MALFORMED;
            const ProtobufCFieldDescriptor *f =
                number <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(d, (unsigned)number)
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                enum wire_check c = check_wire(p, (size_t)v, f->descriptor, depth + 1);
                if (c != WIRE_OK)
                    return c;
            }
            p += v;
            break;
        }
        default: return WIRE_MALFORMED;
        }
    }
    return WIRE_OK;
}

static void *unpack(struct reader *r, const ProtobufCMessageDescriptor *d, const uint8_t *data,
                    size_t size, const char *label)
{
    enum wire_check c = check_wire(data, size, d, 0);
    if (c == WIRE_TOO_DEEP) {
        nnp_errorf(NNP_ERR_FORMAT, "%s: protobuf messages nested more than %d levels deep",
                   label, MAX_NESTING);
        return NULL;
    }
    void *m = c == WIRE_OK ? protobuf_c_message_unpack(d, &r->al, size, data) : NULL;
    if (!m)
        nnp_errorf(NNP_ERR_FORMAT, "%s: truncated or malformed protobuf", label);
    return m;
}

/* --- small helpers --- */

/* The message as it is now (interpreted fields cleared), as bytes in the graph's arena. */
static enum nnp_status pack_blob(struct reader *r, const void *msg, struct nnp_blob *b,
                                 const char *what)
{
    const ProtobufCMessage *m = msg;
    b->size = protobuf_c_message_get_packed_size(m);
    b->data = NULL;
    if (b->size == 0)
        return NNP_OK;
    b->data = nnp_arena_alloc_big(r->g->arena, b->size);
    if (!b->data)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, b->size);
    protobuf_c_message_pack(m, b->data);
    return NNP_OK;
}

static int is_empty(const void *msg)
{
    return protobuf_c_message_get_packed_size(msg) == 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static char *gdup(struct reader *r, const char *s)
{
    return nnp_graph_strdup(r->g, str_or_empty(s));
}

/* Clear an optional string the IR has taken. A present but empty one ("" written out, as
 * ONNX's own tools do for the default domain) is left for `extra`, so that it is written
 * back the same way; the IR cannot tell "" from absent. */
static void take_string(char **field)
{
    if (*field && **field)
        *field = NULL;
}

/* --- tensors --- */

static enum nnp_status tensor_from_proto(struct reader *r, Onnx__TensorProto *tp,
                                         struct nnp_tensor *t, const char *what)
{
    return nnp_pb_tensor_decode(r->g, r->pb, r->dir, tp, t, what);
}

/* --- value types --- */

/* Fill v->t from a tensor TypeProto and clear what was used. Non-tensor types (sequence,
 * map, optional, sparse) and unknown element types are left in place for `extra`. */
static enum nnp_status type_from_proto(struct reader *r, Onnx__ValueInfoProto *vi,
                                       struct nnp_value *v, const char *what)
{
    /* The rule throughout: clear whatever the writer will set. It writes a tensor type for
     * every value with has_type, and an initializer has one: that of its data. */
    Onnx__TypeProto *tp = vi->type;
    if (!tp)
        return NNP_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        if (v->is_initializer) { /* a sequence, map... type for a tensor: inconsistent */
            tp->value_case = ONNX__TYPE_PROTO__VALUE__NOT_SET;
            tp->tensor_type = NULL;
            if (is_empty(tp))
                vi->type = NULL;
        }
        return NNP_OK;
    }
    Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    enum nnp_dtype dt = tt->has_elem_type ? nnp_dtype_from_onnx(tt->elem_type)
                                          : NNP_DTYPE_UNDEFINED;
    if (dt != NNP_DTYPE_UNDEFINED || v->is_initializer)
        tt->has_elem_type = 0, tt->elem_type = 0;
    Onnx__TensorShapeProto *sh = tt->shape;
    if (sh && sh->n_dim > NNP_MAX_RANK)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: has %zu dimensions; nnpress supports up to "
                          "%d", what, sh->n_dim, NNP_MAX_RANK);
    int rank = sh ? (int)sh->n_dim : -1;
    int64_t dims[NNP_MAX_RANK] = {0};
    const char *params[NNP_MAX_RANK] = {0};
    int keep_dims = 0;
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            dims[i] = d->dim_value >= 0 ? d->dim_value : -1;
        else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 d->dim_param && *d->dim_param)
            params[i] = gdup(r, d->dim_param);
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET;
        d->dim_value = 0;
        keep_dims |= !is_empty(d); /* a denotation or unknown field */
    }
    /* an initializer's own dims and type are the ones that match its data */
    if (!v->is_initializer) {
        nnp_tensor_set_shape(&v->t, dt, rank, dims);
        for (int i = 0; i < rank; i++)
            v->t.dim_params[i] = params[i];
    }
    v->has_type = true;

    /* prune what became empty, bottom up, so an ordinary type leaves nothing behind; dims
     * kept for their denotations only line up with the shape written if the rank does */
    if (sh && (!keep_dims || rank != v->t.rank))
        sh->n_dim = 0, sh->dim = NULL;
    if (sh && is_empty(sh))
        tt->shape = NULL;
    if (is_empty(tt)) {
        tp->value_case = ONNX__TYPE_PROTO__VALUE__NOT_SET;
        tp->tensor_type = NULL;
    }
    if (is_empty(tp))
        vi->type = NULL;
    return NNP_OK;
}

/* --- attributes --- */

/* IR version 1 had no attribute type field: the type is which value field is present. */
static enum nnp_attr_type infer_attr_type(const Onnx__AttributeProto *ap)
{
    if (ap->has_f) return NNP_ATTR_FLOAT;
    if (ap->has_i) return NNP_ATTR_INT;
    if (ap->has_s) return NNP_ATTR_STRING;
    if (ap->t) return NNP_ATTR_TENSOR;
    if (ap->g) return NNP_ATTR_GRAPH;
    if (ap->sparse_tensor) return NNP_ATTR_SPARSE_TENSOR;
    if (ap->tp) return NNP_ATTR_TYPE_PROTO;
    if (ap->n_floats) return NNP_ATTR_FLOATS;
    if (ap->n_ints) return NNP_ATTR_INTS;
    if (ap->n_strings) return NNP_ATTR_STRINGS;
    if (ap->n_tensors) return NNP_ATTR_TENSORS;
    if (ap->n_graphs) return NNP_ATTR_GRAPHS;
    if (ap->n_sparse_tensors) return NNP_ATTR_SPARSE_TENSORS;
    if (ap->n_type_protos) return NNP_ATTR_TYPE_PROTOS;
    return NNP_ATTR_UNDEFINED;
}

static enum nnp_status attr_from_proto(struct reader *r, Onnx__AttributeProto *ap,
                                       struct nnp_attr *a, const char *node, size_t index)
{
    struct nnp_graph *g = r->g;
    char what[700];
    if (!ap->name || !*ap->name)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: attribute #%zu has no name", node, index);
    snprintf(what, sizeof what, "%s: attribute %s", node, ap->name);
    a->name = gdup(r, ap->name);
    int code = ap->has_type ? (int)ap->type : 0;
    if (code < 0 || code > NNP_ATTR_TYPE_PROTOS) {
        a->type = NNP_ATTR_UNDEFINED; /* a type from the future: kept in `extra` */
    } else {
        /* no type (IR version 1): the type is the value field that is present */
        a->type = code ? (enum nnp_attr_type)code : infer_attr_type(ap);
        ap->has_type = 0, ap->type = 0;
    }

    switch (a->type) {
    case NNP_ATTR_FLOAT:
        a->f = ap->f;
        ap->has_f = 0, ap->f = 0;
        break;
    case NNP_ATTR_INT:
        a->i = ap->i;
        ap->has_i = 0, ap->i = 0;
        break;
    case NNP_ATTR_STRING:
        a->s.len = ap->s.len;
        a->s.data = nnp_arena_strndup(g->arena, (const char *)ap->s.data, ap->s.len);
        ap->has_s = 0, ap->s.len = 0, ap->s.data = NULL;
        break;
    case NNP_ATTR_FLOATS:
    case NNP_ATTR_INTS: {
        int fl = a->type == NNP_ATTR_FLOATS;
        size_t n = fl ? ap->n_floats : ap->n_ints, es = fl ? sizeof(float) : sizeof(int64_t);
        void *p = n ? nnp_arena_memdup(g->arena, fl ? (void *)ap->floats : (void *)ap->ints,
                                       n * es)
                    : NULL;
        if (n && !p)
            return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu values", what, n);
        a->n = (int64_t)n;
        if (fl)
            a->floats = p, ap->n_floats = 0, ap->floats = NULL;
        else
            a->ints = p, ap->n_ints = 0, ap->ints = NULL;
        break;
    }
    case NNP_ATTR_STRINGS:
        a->n = (int64_t)ap->n_strings;
        a->strings = nnp_arena_alloc(g->arena, ap->n_strings * sizeof *a->strings);
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->strings[i].len = ap->strings[i].len;
            a->strings[i].data = nnp_arena_strndup(g->arena, (const char *)ap->strings[i].data,
                                                   ap->strings[i].len);
        }
        ap->n_strings = 0, ap->strings = NULL;
        break;
    case NNP_ATTR_TENSOR: {
        if (!ap->t)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: has type TENSOR but no tensor", what);
        a->t = nnp_arena_alloc(g->arena, sizeof *a->t);
        a->tensor_names = nnp_arena_alloc(g->arena, sizeof *a->tensor_names);
        a->tensor_names[0] = ap->t->name ? gdup(r, ap->t->name) : NULL;
        enum nnp_status st = tensor_from_proto(r, ap->t, a->t, what);
        if (st != NNP_OK)
            return st;
        if (is_empty(ap->t)) /* else its doc_string etc. stay in `extra` */
            ap->t = NULL;
        break;
    }
    case NNP_ATTR_TENSORS: {
        size_t n = ap->n_tensors;
        a->n = (int64_t)n;
        a->tensors = nnp_arena_alloc(g->arena, n * sizeof *a->tensors);
        a->tensor_names = nnp_arena_alloc(g->arena, n * sizeof *a->tensor_names);
        int keep = 0;
        for (size_t i = 0; i < n; i++) {
            char w[760];
            snprintf(w, sizeof w, "%s[%zu]", what, i);
            a->tensor_names[i] = ap->tensors[i]->name ? gdup(r, ap->tensors[i]->name) : NULL;
            enum nnp_status st = tensor_from_proto(r, ap->tensors[i], &a->tensors[i], w);
            if (st != NNP_OK)
                return st;
            keep |= !is_empty(ap->tensors[i]);
        }
        if (!keep) /* kept only when some tensor has more than the IR holds */
            ap->n_tensors = 0, ap->tensors = NULL;
        break;
    }
    default: break; /* graphs, sparse tensors, type protos: all in `extra` */
    }
    ap->name = NULL;
    return pack_blob(r, ap, &a->extra, what);
}

/* --- subgraphs: which outer values do they read? --- */

/* A set of names with insertion order, in the scratch arena. */
struct name_set {
    const char **slots; /* open addressing, cap_slots a power of two */
    size_t cap_slots;
    const char **items; /* in insertion order */
    size_t n, cap_items;
};

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int set_has(const struct name_set *s, const char *name)
{
    if (!s->cap_slots)
        return 0;
    size_t mask = s->cap_slots - 1;
    for (size_t h = hash_str(name) & mask; s->slots[h]; h = (h + 1) & mask)
        if (strcmp(s->slots[h], name) == 0)
            return 1;
    return 0;
}

static void set_add(struct reader *r, struct name_set *s, const char *name)
{
    if (!name || !*name || set_has(s, name))
        return;
    if (2 * (s->n + 1) > s->cap_slots) { /* keep the load under 1/2 */
        size_t cap = s->cap_slots ? s->cap_slots * 2 : 64;
        s->slots = nnp_arena_alloc(r->pb, cap * sizeof *s->slots);
        s->cap_slots = cap;
        for (size_t i = 0; i < s->n; i++) {
            size_t h = hash_str(s->items[i]) & (cap - 1);
            while (s->slots[h])
                h = (h + 1) & (cap - 1);
            s->slots[h] = s->items[i];
        }
    }
    if (s->n == s->cap_items) {
        size_t cap = s->cap_items ? s->cap_items * 2 : 16;
        const char **items = nnp_arena_alloc(r->pb, cap * sizeof *items);
        if (s->n)
            memcpy(items, s->items, s->n * sizeof *items);
        s->items = items;
        s->cap_items = cap;
    }
    size_t h = hash_str(name) & (s->cap_slots - 1);
    while (s->slots[h])
        h = (h + 1) & (s->cap_slots - 1);
    s->slots[h] = name;
    s->items[s->n++] = name;
}

static void subgraph_reads(struct reader *r, const Onnx__GraphProto *sg, struct name_set *out);

static void attr_graph_reads(struct reader *r, const Onnx__AttributeProto *ap,
                             struct name_set *out)
{
    if (ap->g)
        subgraph_reads(r, ap->g, out);
    for (size_t i = 0; i < ap->n_graphs; i++)
        subgraph_reads(r, ap->graphs[i], out);
}

/* Add to `out` the names that the nodes of `sg` (and of its own subgraphs) read but that
 * `sg` does not define: its free variables, bound by an enclosing scope. Recursion depth
 * is bounded by the nesting check done before unpacking. */
static void subgraph_reads(struct reader *r, const Onnx__GraphProto *sg, struct name_set *out)
{
    struct name_set defined = {0}, reads = {0};
    for (size_t i = 0; i < sg->n_input; i++)
        set_add(r, &defined, sg->input[i]->name);
    for (size_t i = 0; i < sg->n_initializer; i++)
        set_add(r, &defined, sg->initializer[i]->name);
    for (size_t i = 0; i < sg->n_sparse_initializer; i++)
        if (sg->sparse_initializer[i]->values)
            set_add(r, &defined, sg->sparse_initializer[i]->values->name);
    for (size_t i = 0; i < sg->n_node; i++)
        for (size_t j = 0; j < sg->node[i]->n_output; j++)
            set_add(r, &defined, sg->node[i]->output[j]);
    for (size_t i = 0; i < sg->n_node; i++) {
        const Onnx__NodeProto *np = sg->node[i];
        for (size_t j = 0; j < np->n_input; j++)
            set_add(r, &reads, np->input[j]);
        for (size_t j = 0; j < np->n_attribute; j++)
            attr_graph_reads(r, np->attribute[j], &reads);
    }
    for (size_t i = 0; i < reads.n; i++)
        if (!set_has(&defined, reads.items[i]))
            set_add(r, out, reads.items[i]);
}

/* --- nodes --- */

static enum nnp_status node_from_proto(struct reader *r, Onnx__NodeProto *np, size_t index,
                                       struct name_set *outer_reads)
{
    struct nnp_graph *g = r->g;
    char label[600];
    if (np->name && *np->name)
        snprintf(label, sizeof label, "node %s", np->name);
    else
        snprintf(label, sizeof label, "node #%zu (%s)", index, str_or_empty(np->op_type));
    if (!np->op_type || !*np->op_type)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: has no op_type", label);
    if (np->n_input > INT_MAX || np->n_output > INT_MAX || np->n_attribute > INT_MAX)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: too many inputs, outputs or attributes", label);

    struct nnp_node *n = nnp_graph_add_node(g, np->op_type, str_or_empty(np->name));
    n->domain = gdup(r, np->domain);
    n->n_inputs = (int)np->n_input;
    n->inputs = nnp_arena_alloc(g->arena, np->n_input * sizeof *n->inputs);
    for (size_t i = 0; i < np->n_input; i++) /* "" = an omitted optional input */
        n->inputs[i] = np->input[i] && *np->input[i] ? nnp_graph_value(g, np->input[i]) : NULL;
    n->n_outputs = (int)np->n_output;
    n->outputs = nnp_arena_alloc(g->arena, np->n_output * sizeof *n->outputs);
    for (size_t i = 0; i < np->n_output; i++)
        n->outputs[i] = np->output[i] && *np->output[i] ? nnp_graph_value(g, np->output[i]) : NULL;

    n->n_attrs = (int)np->n_attribute;
    n->attrs = nnp_arena_alloc(g->arena, np->n_attribute * sizeof *n->attrs);
    for (size_t i = 0; i < np->n_attribute; i++) {
        attr_graph_reads(r, np->attribute[i], outer_reads);
        enum nnp_status st = attr_from_proto(r, np->attribute[i], &n->attrs[i], label, i);
        if (st != NNP_OK)
            return st;
    }
    np->n_input = np->n_output = np->n_attribute = 0;
    np->input = np->output = NULL;
    np->attribute = NULL;
    np->op_type = NULL;
    take_string(&np->name);
    take_string(&np->domain);
    return pack_blob(r, np, &n->extra, label);
}

/* The outer values a node's subgraphs read, as its implicit inputs. Names the main graph
 * does not know are left out: they are the subgraph's problem, not a use of ours. */
static void set_implicit(struct reader *r, struct nnp_node *n, const struct name_set *reads)
{
    int k = 0;
    n->implicit = nnp_arena_alloc(r->g->arena, reads->n * sizeof *n->implicit);
    for (size_t i = 0; i < reads->n; i++) {
        struct nnp_value *v = nnp_graph_find(r->g, reads->items[i]);
        if (v)
            n->implicit[k++] = v;
    }
    n->n_implicit = k;
}

/* --- graph and model --- */

enum list_kind { LIST_INPUT, LIST_OUTPUT, LIST_VALUE_INFO };

static enum nnp_status value_infos(struct reader *r, Onnx__ValueInfoProto **infos, size_t count,
                                   enum list_kind list)
{
    static const char *const kinds[] = {"graph input", "graph output", "value_info"};
    const char *kind = kinds[list];
    struct nnp_graph *g = r->g;
    for (size_t i = 0; i < count; i++) {
        Onnx__ValueInfoProto *vi = infos[i];
        if (!vi->name || !*vi->name)
            return nnp_errorf(NNP_ERR_FORMAT, "%s #%zu has no name", kind, i);
        char what[600];
        snprintf(what, sizeof what, "%s %s", kind, vi->name);
        struct nnp_value *v = nnp_graph_value(g, vi->name);
        /* a value listed twice (an old-style initializer input that is also in value_info,
         * an output repeated in value_info) takes its type and kept fields from the first */
        bool first = !v->is_input && !v->is_output && !v->has_value_info;
        if (list == LIST_INPUT)
            nnp_graph_add_input(g, v);
        else if (list == LIST_OUTPUT)
            nnp_graph_add_output(g, v);
        else
            v->has_value_info = true;
        if (!first)
            continue;
        enum nnp_status st = type_from_proto(r, vi, v, what);
        if (st != NNP_OK)
            return st;
        vi->name = NULL;
        st = pack_blob(r, vi, &v->extra, what);
        if (st != NNP_OK)
            return st;
    }
    return NNP_OK;
}

static enum nnp_status graph_from_proto(struct reader *r, Onnx__GraphProto *gp)
{
    struct nnp_graph *g = r->g;
    enum nnp_status st;
    g->name = gdup(r, gp->name);

    /* initializers first: their values come first in g->values, in file order, which the
     * writer keeps, so read → write → read gives the same order again */
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return nnp_errorf(NNP_ERR_FORMAT, "initializer #%zu has no name", i);
        char what[600];
        snprintf(what, sizeof what, "initializer %s", tp->name);
        struct nnp_value *v = nnp_graph_value(g, tp->name);
        if (v->is_initializer)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: defined twice", what);
        st = tensor_from_proto(r, tp, &v->t, what);
        if (st != NNP_OK)
            return st;
        v->is_initializer = v->has_type = true;
        st = pack_blob(r, tp, &v->init_extra, what);
        if (st != NNP_OK)
            return st;
    }
    if ((st = value_infos(r, gp->input, gp->n_input, LIST_INPUT)) != NNP_OK ||
        (st = value_infos(r, gp->output, gp->n_output, LIST_OUTPUT)) != NNP_OK ||
        (st = value_infos(r, gp->value_info, gp->n_value_info, LIST_VALUE_INFO)) != NNP_OK)
        return st;

    if (gp->n_node > INT_MAX)
        return nnp_errorf(NNP_ERR_FORMAT, "too many nodes");
    struct name_set *reads = nnp_arena_alloc(r->pb, (gp->n_node + 1) * sizeof *reads);
    for (size_t i = 0; i < gp->n_node; i++) {
        st = node_from_proto(r, gp->node[i], i, &reads[i]);
        if (st != NNP_OK)
            return st;
    }
    /* after all nodes, so that outer values defined by later nodes are known too */
    for (size_t i = 0; i < gp->n_node; i++)
        if (reads[i].n)
            set_implicit(r, g->nodes[i], &reads[i]);

    /* sparse initializers stay in `extra`, which is fine while nothing reads them; a use
     * would otherwise show up as an undefined input, a misleading message */
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__TensorProto *values = gp->sparse_initializer[i]->values;
        if (values && values->name && nnp_graph_find(g, values->name))
            return nnp_errorf(NNP_ERR_UNSUPPORTED, "sparse initializer %s: sparse_initializer "
                              "is not supported; store it as a dense initializer",
                              values->name);
    }

    take_string(&gp->name);
    gp->n_node = gp->n_initializer = gp->n_input = gp->n_output = gp->n_value_info = 0;
    gp->node = NULL;
    gp->initializer = NULL;
    gp->input = gp->output = gp->value_info = NULL;
    return pack_blob(r, gp, &g->graph_extra, "graph");
}

static enum nnp_status model_from_proto(struct reader *r, Onnx__ModelProto *m)
{
    struct nnp_graph *g = r->g;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    g->model_version = m->has_model_version ? m->model_version : 0;
    g->producer_name = gdup(r, m->producer_name);
    g->producer_version = gdup(r, m->producer_version);
    g->model_domain = gdup(r, m->domain);
    if (m->n_opset_import > INT_MAX || m->n_metadata_props > INT_MAX)
        return nnp_errorf(NNP_ERR_FORMAT, "too many opset imports or metadata entries");
    g->n_opsets = (int)m->n_opset_import;
    g->opsets = nnp_arena_alloc(g->arena, m->n_opset_import * sizeof *g->opsets);
    for (size_t i = 0; i < m->n_opset_import; i++) {
        g->opsets[i].domain = gdup(r, m->opset_import[i]->domain);
        g->opsets[i].version = m->opset_import[i]->has_version ? m->opset_import[i]->version : 0;
    }
    g->n_props = (int)m->n_metadata_props;
    g->props = nnp_arena_alloc(g->arena, m->n_metadata_props * sizeof *g->props);
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        g->props[i].key = gdup(r, m->metadata_props[i]->key);
        g->props[i].value = gdup(r, m->metadata_props[i]->value);
    }
    enum nnp_status st = graph_from_proto(r, m->graph);
    if (st != NNP_OK)
        return st;
    m->has_ir_version = m->has_model_version = 0;
    m->ir_version = m->model_version = 0;
    take_string(&m->producer_name);
    take_string(&m->producer_version);
    take_string(&m->domain);
    m->n_opset_import = m->n_metadata_props = 0;
    m->opset_import = NULL;
    m->metadata_props = NULL;
    m->graph = NULL;
    return pack_blob(r, m, &g->model_extra, "model");
}

/* The folder of `path`, malloc'd: "." when it has none. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1; /* "/model.onnx" */
    char *d = malloc(slash ? n + 1 : 2);
    if (!d)
        return NULL;
    if (slash)
        memcpy(d, path, n), d[n] = '\0';
    else
        strcpy(d, ".");
    return d;
}

/* The work of nnp_onnx_read_buffer(); `owned`, if not NULL, is the buffer holding `data`
 * and is freed as soon as it has been unpacked, so a large model is not held twice. */
static enum nnp_status read_model(const uint8_t *data, size_t size, uint8_t *owned,
                                  const char *dir, const char *label, struct nnp_graph **out)
{
    *out = NULL;
    if (size == 0) {
        free(owned);
        return nnp_errorf(NNP_ERR_FORMAT, "%s: not an ONNX model: empty file", label);
    }
    struct reader r = {0};
    r.pb = nnp_arena_new();
    r.al = nnp_pb_allocator(r.pb);
    r.dir = dir ? dir : ".";
    Onnx__ModelProto *m = unpack(&r, &onnx__model_proto__descriptor, data, size, label);
    free(owned);
    if (!m) {
        nnp_arena_free(r.pb);
        return NNP_ERR_FORMAT;
    }
    if (!m->graph) {
        nnp_arena_free(r.pb);
        return nnp_errorf(NNP_ERR_FORMAT, "%s: not an ONNX model: no graph", label);
    }
    r.g = nnp_graph_new();
    r.g->dir = nnp_graph_strdup(r.g, r.dir);
    enum nnp_status st = model_from_proto(&r, m);
    nnp_arena_free(r.pb);
    if (st == NNP_OK)
        st = nnp_graph_validate(r.g);
    if (st != NNP_OK) {
        nnp_error_prefix(label);
        nnp_graph_free(r.g);
        return st;
    }
    *out = r.g;
    return NNP_OK;
}

enum nnp_status nnp_onnx_read_buffer(const void *data, size_t size, const char *dir,
                                     const char *label, struct nnp_graph **out)
{
    return read_model(data, size, NULL, dir, label ? label : "model", out);
}

enum nnp_status nnp_onnx_read(const char *path, struct nnp_graph **out)
{
    *out = NULL;
    uint8_t *buf;
    size_t size;
    enum nnp_status st = nnp_file_read_all(path, &buf, &size);
    if (st != NNP_OK)
        return st;
    char *dir = dir_of(path);
    if (!dir) {
        free(buf);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", path);
    }
    st = read_model(buf, size, buf, dir, path, out);
    free(dir);
    return st;
}

enum nnp_status nnp_onnx_tensor_read(const char *path, struct nnp_graph *g, struct nnp_tensor *t,
                                     const char **name)
{
    memset(t, 0, sizeof *t);
    t->rank = -1;
    if (name)
        *name = NULL;
    uint8_t *buf;
    size_t size;
    enum nnp_status st = nnp_file_read_all(path, &buf, &size);
    if (st != NNP_OK)
        return st;
    if (size == 0) {
        free(buf);
        return nnp_errorf(NNP_ERR_FORMAT, "%s: not an ONNX tensor: empty file", path);
    }
    char *dir = dir_of(path);
    struct reader r = {.g = g, .pb = nnp_arena_new(), .dir = dir ? dir : "."};
    r.al = nnp_pb_allocator(r.pb);
    Onnx__TensorProto *tp = unpack(&r, &onnx__tensor_proto__descriptor, buf, size, path);
    free(buf);
    if (!tp) {
        st = NNP_ERR_FORMAT;
    } else {
        char what[600];
        if (tp->name && *tp->name)
            snprintf(what, sizeof what, "%s: tensor %s", path, tp->name);
        else
            snprintf(what, sizeof what, "%s", path);
        const char *tname = nnp_graph_strdup(g, str_or_empty(tp->name));
        st = tensor_from_proto(&r, tp, t, what);
        if (st == NNP_OK && name)
            *name = tname;
    }
    if (st != NNP_OK) {
        memset(t, 0, sizeof *t);
        t->rank = -1;
    }
    nnp_arena_free(r.pb);
    free(dir);
    return st;
}
