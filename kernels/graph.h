/* kernels/graph.h — the graph IR every part of nnpress speaks.
 *
 *     struct nnp_graph *g = nnp_graph_new();
 *     struct nnp_value *x = nnp_graph_value(g, "x");      // found or created by name
 *     nnp_tensor_set_shape(&x->t, NNP_DTYPE_F32, 2, (int64_t[]){-1, 784});
 *     x->t.dim_params[0] = nnp_graph_strdup(g, "batch");
 *     nnp_graph_add_input(g, x);
 *     struct nnp_value *y = nnp_graph_value(g, "y");
 *     struct nnp_node *n = nnp_graph_add_node(g, "Relu", "relu0");
 *     nnp_node_set_io(g, n, 1, &x, 1, &y);
 *     nnp_graph_add_output(g, y);
 *     if (nnp_graph_validate(g) != NNP_OK) puts(nnp_error_message());
 *     nnp_graph_free(g);                                  // every node, value, weight
 *
 * Ownership: a graph owns everything reachable from it in one arena; nothing
 * returned by these functions is freed separately. Pointers to nodes and
 * values stay valid until the graph is freed, even after they are removed.
 *
 * What the IR does not interpret is kept, not dropped: each node, attribute,
 * value and the graph and model carry an `extra` blob, the serialized ONNX
 * message with the interpreted fields cleared (doc strings, unknown fields,
 * subgraph bodies, non-tensor types...). formats/onnx.c fills and replays it;
 * nothing else looks inside.
 */
#ifndef NNP_GRAPH_H
#define NNP_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/arena.h"
#include "kernels/dtype.h"
#include "kernels/status.h"

/* ONNX allows any rank; 8 covers every model and node test we know of, and
 * a fixed bound keeps shapes inline. Deeper tensors are refused on read. */
#define NNP_MAX_RANK 8

/* Serialized bytes the IR keeps without interpreting them. */
struct nnp_blob {
    uint8_t *data; /* size bytes, arena-owned; NULL when empty */
    size_t size;
};

/* Quantization parameters of a value (roadmap step 3). n == 0: not quantized. */
struct nnp_quant {
    int64_t n;           /* number of (scale, zero_point) pairs: 1 per-tensor, C per-channel */
    int axis;            /* the channel axis when n > 1 */
    enum nnp_dtype type; /* the quantized element type (int8, uint8, ...) */
    float *scale;        /* (n) */
    int32_t *zero_point; /* (n) */
};

/* How a tensor's data is stored. DENSE is the only form ONNX itself has; the
 * encoded forms exist in memory and in the .nnp container (roadmap step 4). */
enum nnp_storage {
    NNP_STORAGE_DENSE,    /* data: row-major elements */
    NNP_STORAGE_SPARSE,   /* data: packed nonzeros; bitmap: one bit per element */
    NNP_STORAGE_CODEBOOK, /* data: codebook (n_codes values); indices: one per element */
};

/* A tensor: element type, shape, and (for constants) data. */
struct nnp_tensor {
    enum nnp_dtype dtype;
    int rank;                             /* -1: rank unknown */
    int64_t dims[NNP_MAX_RANK];           /* -1: unknown or symbolic */
    const char *dim_params[NNP_MAX_RANK]; /* symbolic name of dims[i] ("batch"), or NULL */
    enum nnp_storage storage;
    void *data;        /* NULL: no data. STRING: struct nnp_string[numel] */
    size_t nbytes;     /* bytes at data */
    uint8_t *bitmap;   /* SPARSE: (numel + 7) / 8 bytes, bit i set = element i nonzero */
    int64_t n_codes;   /* CODEBOOK: entries in the codebook at data */
    uint8_t *indices;  /* CODEBOOK: numel indices, one byte each */
    struct nnp_quant quant;
};

enum nnp_attr_type { /* the codes of ONNX AttributeProto.AttributeType */
    NNP_ATTR_UNDEFINED = 0,
    NNP_ATTR_FLOAT = 1,
    NNP_ATTR_INT = 2,
    NNP_ATTR_STRING = 3,
    NNP_ATTR_TENSOR = 4,
    NNP_ATTR_GRAPH = 5,
    NNP_ATTR_FLOATS = 6,
    NNP_ATTR_INTS = 7,
    NNP_ATTR_STRINGS = 8,
    NNP_ATTR_TENSORS = 9,
    NNP_ATTR_GRAPHS = 10,
    NNP_ATTR_SPARSE_TENSOR = 11,
    NNP_ATTR_SPARSE_TENSORS = 12,
    NNP_ATTR_TYPE_PROTO = 13,
    NNP_ATTR_TYPE_PROTOS = 14,
};

/* One node attribute. Only the member matching `type` is meaningful. GRAPH(S),
 * SPARSE_TENSOR(S) and TYPE_PROTO(S) are not interpreted: their value lives in
 * `extra` and is written back as it was read. */
struct nnp_attr {
    const char *name;
    enum nnp_attr_type type;
    float f;                    /* FLOAT */
    int64_t i;                  /* INT */
    struct nnp_string s;        /* STRING */
    struct nnp_tensor *t;       /* TENSOR */
    int64_t n;                  /* element count of the list types below */
    float *floats;              /* FLOATS (n) */
    int64_t *ints;              /* INTS (n) */
    struct nnp_string *strings; /* STRINGS (n) */
    struct nnp_tensor *tensors; /* TENSORS (n) */
    const char **tensor_names;  /* TENSOR: [0]; TENSORS: (n); the TensorProto names, may be NULL */
    struct nnp_blob extra;      /* the AttributeProto minus name/type and the members above */
};

struct nnp_node;

/* A named tensor flowing through the graph: input, initializer, or a node output. */
struct nnp_value {
    const char *name;
    struct nnp_tensor t;     /* type and shape as known; data for initializers (a Constant
                                node's output has its data on the node: nnp_value_data()) */
    bool is_input;           /* listed in graph.input */
    bool is_output;          /* listed in graph.output */
    bool is_initializer;     /* t.data holds its constant value */
    bool has_value_info;     /* listed in graph.value_info */
    bool has_type;           /* t.dtype/rank came from the model (not inferred) */
    struct nnp_node *producer;    /* set by nnp_graph_link(); NULL for inputs, initializers */
    int n_consumers;              /* set by nnp_graph_link() */
    struct nnp_node **consumers;  /* (n_consumers), a node once per input slot */
    struct nnp_blob extra;        /* ValueInfoProto minus name and tensor type */
    struct nnp_blob init_extra;   /* TensorProto minus name/dims/type/data, for initializers */
    int index;                    /* position in graph->values */
};

struct nnp_node {
    const char *name;    /* may be "" */
    const char *op_type; /* "Conv" */
    const char *domain;  /* "" for the default ai.onnx domain */
    int n_inputs;
    struct nnp_value **inputs; /* (n_inputs); NULL = omitted optional input */
    int n_outputs;
    struct nnp_value **outputs; /* (n_outputs); NULL = omitted optional output */
    int n_attrs;
    struct nnp_attr *attrs; /* (n_attrs), in file order */
    /* Outer-scope values read by subgraph attributes (If/Loop/Scan bodies):
     * the IR does not look inside subgraphs, but liveness and validation must
     * know that these values are used. */
    int n_implicit;
    struct nnp_value **implicit; /* (n_implicit) */
    struct nnp_blob extra;       /* NodeProto minus the interpreted fields */
    int index;                   /* position in graph->nodes; set by nnp_graph_link() */
    bool removed;                /* set by nnp_graph_remove_node() until compaction */
};

struct nnp_opset {
    const char *domain; /* "" = ai.onnx */
    int64_t version;
};

struct nnp_prop {
    const char *key;
    const char *value;
};

struct nnp_graph {
    struct nnp_arena *arena;

    int n_nodes, cap_nodes;
    struct nnp_node **nodes; /* in topological order once validated */
    int n_values, cap_values;
    struct nnp_value **values; /* every named value, in creation order */
    int n_inputs, cap_inputs;
    struct nnp_value **inputs; /* graph.input order */
    int n_outputs, cap_outputs;
    struct nnp_value **outputs; /* graph.output order */

    /* name -> value index, open addressing; capacity is a power of two */
    int *hash;
    int cap_hash;

    /* model level */
    int64_t ir_version;
    int64_t model_version;
    const char *producer_name;
    const char *producer_version;
    const char *model_domain;
    const char *name; /* graph name */
    int n_opsets;
    struct nnp_opset *opsets;
    int n_props;
    struct nnp_prop *props; /* metadata_props */
    struct nnp_blob model_extra; /* ModelProto minus the fields above and the graph */
    struct nnp_blob graph_extra; /* GraphProto minus name, nodes, initializers, inputs,
                                    outputs and value_info */
    const char *dir; /* folder the model was read from ("." if none); external data is
                        resolved against it */
};

/*! @return a new empty graph (ir_version 8, opset ai.onnx 17). */
struct nnp_graph *nnp_graph_new(void);
/*! Frees the graph and everything it owns; accepts NULL. */
void nnp_graph_free(struct nnp_graph *g);
/*! Copy a string into the graph's arena. */
char *nnp_graph_strdup(struct nnp_graph *g, const char *s);

/*! @return the value called `name`, created (dtype UNDEFINED, rank -1) if new. */
struct nnp_value *nnp_graph_value(struct nnp_graph *g, const char *name);
/*! @return the value called `name`, or NULL. */
struct nnp_value *nnp_graph_find(const struct nnp_graph *g, const char *name);
/*! @return a value with a fresh name starting with `prefix`, never an existing one. */
struct nnp_value *nnp_graph_new_value(struct nnp_graph *g, const char *prefix);

void nnp_graph_add_input(struct nnp_graph *g, struct nnp_value *v);
void nnp_graph_add_output(struct nnp_graph *g, struct nnp_value *v);

/*! @return a new node appended to the node list; set its inputs with nnp_node_set_io(). */
struct nnp_node *nnp_graph_add_node(struct nnp_graph *g, const char *op_type, const char *name);
/*! Set a node's inputs and outputs (arrays copied; NULL entries = omitted). */
void nnp_node_set_io(struct nnp_graph *g, struct nnp_node *n, int n_in, struct nnp_value **in,
                     int n_out, struct nnp_value **out);
/*! Mark `n` removed; nnp_graph_link() drops removed nodes from the list. */
void nnp_graph_remove_node(struct nnp_graph *g, struct nnp_node *n);
/*! Replace every use of `from` (node inputs, graph outputs) by `to`. */
void nnp_graph_replace_uses(struct nnp_graph *g, struct nnp_value *from, struct nnp_value *to);
/*! Forget values that nothing refers to any more (not an input, output, node
 *  input/output, implicit input, nor value_info of a live value). Unused
 *  initializers go with them. @return how many were dropped. */
int nnp_graph_drop_unused(struct nnp_graph *g);

/*! nnp_graph_link() : drop removed nodes, then recompute producers, consumers
 *  and node indices. Call after edits, before reading producer/consumers. */
void nnp_graph_link(struct nnp_graph *g);

/*! nnp_graph_validate() : check the graph and put nodes in topological order.
 *  Errors name the offending node: an input nothing defines, a value produced
 *  twice, a cycle, an attribute of the wrong type for a known op.
 *  @return NNP_OK or NNP_ERR_INVALID. */
enum nnp_status nnp_graph_validate(struct nnp_graph *g);

/*! @return the attribute called `name` on `n`, or NULL. */
const struct nnp_attr *nnp_node_attr(const struct nnp_node *n, const char *name);
/*! Typed attribute getters: the value, or `def` when absent. A present attribute of
 *  another type was already refused by nnp_graph_validate() for known ops. */
int64_t nnp_node_attr_int(const struct nnp_node *n, const char *name, int64_t def);
float nnp_node_attr_float(const struct nnp_node *n, const char *name, float def);
const char *nnp_node_attr_string(const struct nnp_node *n, const char *name, const char *def);
/*! Add (or replace) an attribute; the returned struct is filled in by the caller. */
struct nnp_attr *nnp_node_set_attr(struct nnp_graph *g, struct nnp_node *n, const char *name,
                                   enum nnp_attr_type type);

/*! @return the opset version the graph imports for `domain` ("" = ai.onnx), 0 if none. */
int64_t nnp_graph_opset(const struct nnp_graph *g, const char *domain);

/*! @return 1 if the two graphs are the same IR: same nodes, values, shapes, data,
 *  attributes and kept blobs. When they differ, the message says where first. */
int nnp_graph_equal(const struct nnp_graph *a, const struct nnp_graph *b);

/* --- constants: a weight is a weight wherever the model stores it ---
 *
 * Exporters store constant tensors either as initializers or as the `value` of a
 * Constant node (paddle2onnx, older PyTorch and TensorFlow converters). Code that
 * looks for weights asks nnp_value_constant() (or, to count stored bytes,
 * nnp_value_data()) instead of testing v->is_initializer, so that both forms are
 * seen alike. Both read v->producer: nnp_graph_link() (nnp_graph_validate() calls
 * it) must have run since the last edit of the graph.
 *
 *     nnp_graph_link(g);
 *     const struct nnp_tensor *w = nnp_value_constant(conv->inputs[1]);
 *     if (w && w->dtype == NNP_DTYPE_F32 && w->storage == NNP_STORAGE_DENSE) ...
 *
 * Only a Constant's `value` attribute is a tensor in the IR. Constants given as
 * value_float(s)/value_int(s) (scalars and short lists, shape arithmetic rather than
 * weights), value_string(s), or sparse_value (kept as an uninterpreted blob) are
 * not seen by either function and stay Constant nodes.
 */

/*! nnp_value_data() : the tensor data the model stores for `v`: an initializer's own
 *  tensor (&v->t), or the `value` tensor of the Constant node that produces v. Size
 *  figures (kernels/report.c) count exactly these.
 *  @return that tensor (owned by the graph; a pass that rewrites its data must own
 *  it, see nnp_graph_constants_to_initializers()), or NULL when v has no stored data. */
const struct nnp_tensor *nnp_value_data(const struct nnp_value *v);

/*! nnp_value_constant() : the tensor `v` holds on every run, the one call a pass uses
 *  to find a weight. As nnp_value_data(), except that an initializer which is also a
 *  graph input gives NULL: its data is only a default that a caller may replace.
 *  @return the tensor, or NULL when v is not a constant. */
const struct nnp_tensor *nnp_value_constant(const struct nnp_value *v);

/*! nnp_graph_constants_to_initializers() : turn every Constant node that
 *  nnp_value_data() sees into an initializer with the name of the node's output and
 *  the same tensor (the data moves; nothing is copied), and remove the node, as ONNX
 *  Runtime does when it loads a model. Links the graph before and after.
 *  @return how many Constant nodes were converted. */
int nnp_graph_constants_to_initializers(struct nnp_graph *g);

/* --- tensors --- */

/*! Set dtype and a static shape (dims may be -1 for unknown). */
void nnp_tensor_set_shape(struct nnp_tensor *t, enum nnp_dtype dtype, int rank,
                          const int64_t *dims);
/*! @return the element count, or -1 if a dim is unknown or the product overflows int64. */
int64_t nnp_tensor_numel(const struct nnp_tensor *t);
/*! Allocate zeroed dense data in the graph's arena for a tensor with a static shape.
 *  @return NNP_OK, NNP_ERR_NOMEM (message set), or NNP_ERR_INVALID if the shape is not static. */
enum nnp_status nnp_tensor_alloc(struct nnp_graph *g, struct nnp_tensor *t);
/*! Format the shape as "[batch,1,28,28]" into buf. @return buf. */
char *nnp_tensor_shape_str(const struct nnp_tensor *t, char *buf, size_t size);
/*! @return the number of exactly-zero elements of dense numeric data, -1 if none/unknown. */
int64_t nnp_tensor_count_zeros(const struct nnp_tensor *t);

#endif
