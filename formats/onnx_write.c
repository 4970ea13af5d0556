/* formats/onnx_write.c — the graph IR into ONNX ModelProto and TensorProto bytes.
 *
 * Each message starts from its `extra` blob (what the reader did not interpret),
 * unpacked into a scratch arena, and the IR's fields are set on top. Tensor data
 * is not copied: raw_data points at the IR's buffers until the one pack at the end.
 */
#include "onnx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "file.h"
#include "onnx_pb.h"

struct writer {
    struct nnp_arena *a;   /* every message built for this write; freed after packing */
    ProtobufCAllocator al; /* protobuf-c allocating from a */
};

static char empty_string[] = "";

/* Cast away const: the message only points at the IR while it is packed. */
static char *cstr(const char *s)
{
    return (char *)s;
}

static void *wnew(struct writer *w, size_t size)
{
    return nnp_arena_alloc(w->a, size ? size : 1);
}

/* A fresh message of type `d`, or the kept fields of `b` to build on.
 * @return the message, or NULL (NNP_ERR_FORMAT, message set) if `b` does not unpack. */
static void *start_message(struct writer *w, const struct nnp_blob *b,
                           const ProtobufCMessageDescriptor *d, const char *what)
{
    void *m;
    if (b->size == 0) {
        m = wnew(w, d->sizeof_message);
        protobuf_c_message_init(d, m);
    } else if (!(m = protobuf_c_message_unpack(d, &w->al, b->size, b->data))) {
        nnp_errorf(NNP_ERR_FORMAT, "%s: its kept ONNX fields are corrupt", what);
    }
    return m;
}

static enum nnp_status tensor_to_proto(struct writer *w, const struct nnp_tensor *t,
                                       const char *name, Onnx__TensorProto *tp, const char *what)
{
    return nnp_pb_tensor_encode(w->a, t, name, tp, what);
}

/* --- values --- */

static enum nnp_status value_to_proto(struct writer *w, const struct nnp_value *v,
                                      Onnx__ValueInfoProto **out)
{
    char what[600];
    snprintf(what, sizeof what, "value %s", v->name);
    Onnx__ValueInfoProto *vi = start_message(w, &v->extra, &onnx__value_info_proto__descriptor,
                                             what);
    if (!vi)
        return NNP_ERR_FORMAT;
    vi->name = cstr(v->name);
    *out = vi;
    if (!v->has_type)
        return NNP_OK;

    const struct nnp_tensor *t = &v->t;
    if (!vi->type) {
        vi->type = wnew(w, sizeof *vi->type);
        onnx__type_proto__init(vi->type);
    }
    Onnx__TypeProto *tp = vi->type;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = wnew(w, sizeof *tp->tensor_type);
        onnx__type_proto__tensor__init(tp->tensor_type);
    }
    Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (t->dtype != NNP_DTYPE_UNDEFINED) { /* else an element type we do not know may be kept */
        tt->has_elem_type = 1;
        tt->elem_type = nnp_dtype_onnx(t->dtype);
    }
    if (t->rank < 0) {
        tt->shape = NULL;
        return NNP_OK;
    }
    if (!tt->shape) {
        tt->shape = wnew(w, sizeof *tt->shape);
        onnx__tensor_shape_proto__init(tt->shape);
    }
    Onnx__TensorShapeProto *sh = tt->shape;
    if (sh->n_dim != (size_t)t->rank) { /* kept dims (denotations) only if the rank matches */
        sh->n_dim = (size_t)t->rank;
        sh->dim = wnew(w, (size_t)t->rank * sizeof *sh->dim);
        for (int i = 0; i < t->rank; i++) {
            sh->dim[i] = wnew(w, sizeof *sh->dim[i]);
            onnx__tensor_shape_proto__dimension__init(sh->dim[i]);
        }
    }
    for (int i = 0; i < t->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        if (t->dim_params[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = cstr(t->dim_params[i]);
        } else if (t->dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = t->dims[i];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET;
        }
    }
    return NNP_OK;
}

static enum nnp_status initializer_to_proto(struct writer *w, const struct nnp_value *v,
                                            Onnx__TensorProto **out)
{
    char what[600];
    snprintf(what, sizeof what, "initializer %s", v->name);
    *out = start_message(w, &v->init_extra, &onnx__tensor_proto__descriptor, what);
    return *out ? tensor_to_proto(w, &v->t, v->name, *out, what) : NNP_ERR_FORMAT;
}

/* --- nodes --- */

static enum nnp_status attr_to_proto(struct writer *w, const struct nnp_attr *a,
                                     Onnx__AttributeProto **out, const char *node)
{
    char what[700];
    snprintf(what, sizeof what, "%s: attribute %s", node, a->name);
    enum nnp_status st;
    Onnx__AttributeProto *ap = start_message(w, &a->extra, &onnx__attribute_proto__descriptor,
                                             what);
    if (!ap)
        return NNP_ERR_FORMAT;
    *out = ap;
    ap->name = cstr(a->name);
    if (a->type != NNP_ATTR_UNDEFINED) { /* else an unknown type may be kept in `extra` */
        ap->has_type = 1;
        ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    }
    size_t n = a->n > 0 ? (size_t)a->n : 0;
    switch (a->type) {
    case NNP_ATTR_FLOAT: ap->has_f = 1, ap->f = a->f; break;
    case NNP_ATTR_INT: ap->has_i = 1, ap->i = a->i; break;
    case NNP_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = a->s.len;
        ap->s.data = (uint8_t *)a->s.data;
        break;
    case NNP_ATTR_FLOATS: ap->n_floats = n, ap->floats = a->floats; break;
    case NNP_ATTR_INTS: ap->n_ints = n, ap->ints = a->ints; break;
    case NNP_ATTR_STRINGS:
        ap->n_strings = n;
        ap->strings = wnew(w, n * sizeof *ap->strings);
        for (size_t i = 0; i < n; i++) {
            ap->strings[i].len = a->strings[i].len;
            ap->strings[i].data = (uint8_t *)a->strings[i].data;
        }
        break;
    case NNP_ATTR_TENSOR:
        if (!a->t)
            return nnp_errorf(NNP_ERR_INVALID, "%s: has type TENSOR but no tensor", what);
        if (!ap->t) {
            ap->t = wnew(w, sizeof *ap->t);
            onnx__tensor_proto__init(ap->t);
        }
        return tensor_to_proto(w, a->t, a->tensor_names ? a->tensor_names[0] : NULL, ap->t,
                               what);
    case NNP_ATTR_TENSORS: {
        /* kept per-tensor fields apply only while the list has the same length */
        Onnx__TensorProto **kept = ap->n_tensors == n ? ap->tensors : NULL;
        ap->n_tensors = n;
        ap->tensors = wnew(w, n * sizeof *ap->tensors);
        for (size_t i = 0; i < n; i++) {
            ap->tensors[i] = kept ? kept[i] : wnew(w, sizeof *ap->tensors[i]);
            if (!kept)
                onnx__tensor_proto__init(ap->tensors[i]);
            st = tensor_to_proto(w, &a->tensors[i], a->tensor_names ? a->tensor_names[i] : NULL,
                                 ap->tensors[i], what);
            if (st != NNP_OK)
                return st;
        }
        break;
    }
    default: break; /* graphs, sparse tensors, type protos: already in `extra` */
    }
    return NNP_OK;
}

static enum nnp_status node_to_proto(struct writer *w, const struct nnp_node *n,
                                     Onnx__NodeProto **out)
{
    char label[600];
    if (n->name && *n->name)
        snprintf(label, sizeof label, "node %s", n->name);
    else
        snprintf(label, sizeof label, "node #%d (%s)", n->index, n->op_type);
    enum nnp_status st;
    Onnx__NodeProto *np = start_message(w, &n->extra, &onnx__node_proto__descriptor, label);
    if (!np)
        return NNP_ERR_FORMAT;
    *out = np;
    if (n->name && *n->name)
        np->name = cstr(n->name);
    np->op_type = cstr(n->op_type);
    if (n->domain && *n->domain)
        np->domain = cstr(n->domain);
    np->n_input = (size_t)n->n_inputs;
    np->input = wnew(w, (size_t)n->n_inputs * sizeof *np->input);
    for (int i = 0; i < n->n_inputs; i++) /* "" marks an omitted optional input */
        np->input[i] = n->inputs[i] ? cstr(n->inputs[i]->name) : empty_string;
    np->n_output = (size_t)n->n_outputs;
    np->output = wnew(w, (size_t)n->n_outputs * sizeof *np->output);
    for (int i = 0; i < n->n_outputs; i++)
        np->output[i] = n->outputs[i] ? cstr(n->outputs[i]->name) : empty_string;
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = wnew(w, (size_t)n->n_attrs * sizeof *np->attribute);
    for (int i = 0; i < n->n_attrs; i++) {
        st = attr_to_proto(w, &n->attrs[i], &np->attribute[i], label);
        if (st != NNP_OK)
            return st;
    }
    return NNP_OK;
}

/* --- graph and model --- */

static enum nnp_status graph_to_proto(struct writer *w, const struct nnp_graph *g,
                                      Onnx__GraphProto *gp)
{
    enum nnp_status st;
    if (g->name && *g->name)
        gp->name = cstr(g->name);

    size_t n_nodes = 0, n_inits = 0, n_infos = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n_nodes += !g->nodes[i]->removed;
    for (int i = 0; i < g->n_values; i++) {
        n_inits += g->values[i]->is_initializer;
        n_infos += g->values[i]->has_value_info;
    }
    gp->n_node = n_nodes;
    gp->node = wnew(w, n_nodes * sizeof *gp->node);
    gp->n_initializer = n_inits;
    gp->initializer = wnew(w, n_inits * sizeof *gp->initializer);
    gp->n_value_info = n_infos;
    gp->value_info = wnew(w, n_infos * sizeof *gp->value_info);
    gp->n_input = (size_t)g->n_inputs;
    gp->input = wnew(w, (size_t)g->n_inputs * sizeof *gp->input);
    gp->n_output = (size_t)g->n_outputs;
    gp->output = wnew(w, (size_t)g->n_outputs * sizeof *gp->output);

    size_t k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i]->removed && (st = node_to_proto(w, g->nodes[i], &gp->node[k++])))
            return st;
    size_t ki = 0, kv = 0;
    for (int i = 0; i < g->n_values; i++) {
        const struct nnp_value *v = g->values[i];
        if (v->is_initializer && (st = initializer_to_proto(w, v, &gp->initializer[ki++])))
            return st;
        if (v->has_value_info && (st = value_to_proto(w, v, &gp->value_info[kv++])))
            return st;
    }
    for (int i = 0; i < g->n_inputs; i++)
        if ((st = value_to_proto(w, g->inputs[i], &gp->input[i])))
            return st;
    for (int i = 0; i < g->n_outputs; i++)
        if ((st = value_to_proto(w, g->outputs[i], &gp->output[i])))
            return st;
    return NNP_OK;
}

static enum nnp_status model_to_proto(struct writer *w, const struct nnp_graph *g,
                                      Onnx__ModelProto **out)
{
    Onnx__ModelProto *m = start_message(w, &g->model_extra, &onnx__model_proto__descriptor,
                                        "model");
    Onnx__GraphProto *gp = m ? start_message(w, &g->graph_extra, &onnx__graph_proto__descriptor,
                                             "graph")
                             : NULL;
    if (!gp)
        return NNP_ERR_FORMAT;
    if (g->ir_version)
        m->has_ir_version = 1, m->ir_version = g->ir_version;
    if (g->model_version)
        m->has_model_version = 1, m->model_version = g->model_version;
    if (g->producer_name && *g->producer_name)
        m->producer_name = cstr(g->producer_name);
    if (g->producer_version && *g->producer_version)
        m->producer_version = cstr(g->producer_version);
    if (g->model_domain && *g->model_domain)
        m->domain = cstr(g->model_domain);
    m->n_opset_import = (size_t)g->n_opsets;
    m->opset_import = wnew(w, (size_t)g->n_opsets * sizeof *m->opset_import);
    for (int i = 0; i < g->n_opsets; i++) {
        Onnx__OperatorSetIdProto *o = wnew(w, sizeof *o);
        onnx__operator_set_id_proto__init(o);
        /* the default domain is written out as "", the way ONNX's own tools write it */
        o->domain = g->opsets[i].domain ? cstr(g->opsets[i].domain) : empty_string;
        o->has_version = 1;
        o->version = g->opsets[i].version;
        m->opset_import[i] = o;
    }
    m->n_metadata_props = (size_t)g->n_props;
    m->metadata_props = wnew(w, (size_t)g->n_props * sizeof *m->metadata_props);
    for (int i = 0; i < g->n_props; i++) {
        Onnx__StringStringEntryProto *e = wnew(w, sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = cstr(g->props[i].key);
        e->value = cstr(g->props[i].value);
        m->metadata_props[i] = e;
    }
    m->graph = gp;
    *out = m;
    return graph_to_proto(w, g, gp);
}

/* Pack `msg` into a malloc'd buffer. */
static enum nnp_status pack_malloc(const void *msg, uint8_t **data, size_t *size)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return nnp_errorf(NNP_ERR_NOMEM, "cannot allocate %zu bytes for the output", n);
    size_t done = protobuf_c_message_pack(msg, buf);
    NNP_ASSERT(done == n);
    *data = buf;
    *size = n;
    return NNP_OK;
}

enum nnp_status nnp_onnx_serialize(const struct nnp_graph *g, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    struct writer w = {.a = nnp_arena_new()};
    w.al = nnp_pb_allocator(w.a);
    Onnx__ModelProto *m;
    enum nnp_status st = model_to_proto(&w, g, &m);
    if (st == NNP_OK) {
        /* protobuf's own parsers refuse messages of 2 GiB and more */
        size_t n = protobuf_c_message_get_packed_size(&m->base);
        if (n > INT32_MAX)
            st = nnp_errorf(NNP_ERR_UNSUPPORTED, "the model would be %zu bytes; ONNX files are "
                            "limited to 2 GiB and writing external data is not supported", n);
        else
            st = pack_malloc(m, data, size);
    }
    nnp_arena_free(w.a);
    return st;
}

enum nnp_status nnp_onnx_write(const struct nnp_graph *g, const char *path)
{
    uint8_t *data;
    size_t size;
    enum nnp_status st = nnp_onnx_serialize(g, &data, &size);
    if (st != NNP_OK) {
        nnp_error_prefix(path);
        return st;
    }
    st = nnp_file_write_atomic(path, data, size);
    free(data);
    return st;
}

enum nnp_status nnp_onnx_tensor_write(const char *path, const struct nnp_tensor *t,
                                      const char *name)
{
    struct writer w = {.a = nnp_arena_new()};
    w.al = nnp_pb_allocator(w.a);
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    uint8_t *data = NULL;
    size_t size = 0;
    enum nnp_status st = tensor_to_proto(&w, t, name, &tp, path);
    if (st == NNP_OK && (st = pack_malloc(&tp, &data, &size)) != NNP_OK)
        nnp_error_prefix(path);
    if (st == NNP_OK)
        st = nnp_file_write_atomic(path, data, size);
    free(data);
    nnp_arena_free(w.a);
    return st;
}
