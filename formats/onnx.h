/* formats/onnx.h — ONNX models and TensorProto files, to and from the graph IR.
 *
 *     struct nnp_graph *g;
 *     enum nnp_status st = nnp_onnx_read("model.onnx", &g);
 *     if (st != NNP_OK) {                     // "model.onnx: truncated or malformed protobuf"
 *         fprintf(stderr, "nnpress: error: %s\n", nnp_error_message());
 *         return nnp_exit_code(st);
 *     }
 *     ... passes edit g ...
 *     st = nnp_onnx_write(g, "model.small.onnx"); // all or nothing
 *     nnp_graph_free(g);
 *
 * What is read. The ModelProto is parsed with protobuf-c, converted into the IR
 * and freed; nothing outside formats/ sees a protobuf struct. Tensors become
 * dense little-endian data in the graph's arena whatever their storage form was
 * (raw_data, the typed fields, external data); float16/bfloat16 are kept as
 * their uint16 bits, bool as one byte. The expected size of every tensor is
 * computed from its dims, with overflow checks, before anything is allocated,
 * so hostile dims cannot cause a huge allocation. External data is resolved
 * against the model's folder; a location that is absolute or has a `..`
 * component is refused. Everything the IR does not interpret (doc strings,
 * functions, training info, subgraph bodies, non-tensor types, unknown fields,
 * ...) is kept in the `extra` blobs of graph.h and written back unchanged.
 * Subgraph attributes (If/Loop/Scan bodies) are not looked into, except that
 * the outer values they read are listed as the node's implicit inputs. The
 * graph is validated (nnp_graph_validate) before it is returned. Refused with a
 * clear message: element types nnpress does not know (float8, int4) in tensor
 * data, more than NNP_MAX_RANK dimensions, sparse_initializer entries that a
 * node reads, and protobuf nesting deeper than 100 levels (which would exhaust
 * the stack inside protobuf-c).
 *
 * What is written. The IR is converted back into a ModelProto: inputs and
 * outputs in graph order, initializers and value_info in the order of
 * g->values, nodes in g->nodes order. Every tensor is written inline as
 * raw_data (strings as string_data), including those that were read from
 * external data: the written model is one self-contained file, and so limited
 * to the 2 GiB protobuf allows. The output is deterministic: the same IR gives
 * the same bytes. Read → write → read gives an IR equal (nnp_graph_equal) to
 * the first one read. What the IR holds but ONNX has no place for is not
 * written: types of values listed nowhere (inferred shapes), quantization
 * parameters (ONNX carries them as QDQ nodes), implicit inputs (derived).
 *
 * Errors name the file (the `label` of the buffer functions) and then the
 * tensor, node or value: `model.onnx: initializer fc1.weight: raw_data has
 * 100 bytes, dims [300,784] need 940800`.
 */
#ifndef NNP_ONNX_H
#define NNP_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/graph.h"

/*! nnp_onnx_read() : read the ONNX model at `path`.
 *  External data is looked up next to the model (g->dir = the folder of `path`).
 *  @return NNP_OK and *out (free with nnp_graph_free()); or NNP_ERR_IO,
 *  NNP_ERR_FORMAT (malformed or inconsistent bytes), NNP_ERR_INVALID (the graph
 *  fails validation), NNP_ERR_UNSUPPORTED or NNP_ERR_NOMEM, with a message that
 *  starts with `path`; *out is then NULL. */
enum nnp_status nnp_onnx_read(const char *path, struct nnp_graph **out);

/*! nnp_onnx_read_buffer() : read an ONNX model from `size` bytes at `data`.
 *  `dir` is the folder external data is resolved against (NULL: "."), `label`
 *  names the model in error messages (NULL: "model"). The buffer is not kept.
 *  @return as nnp_onnx_read(). */
enum nnp_status nnp_onnx_read_buffer(const void *data, size_t size, const char *dir,
                                     const char *label, struct nnp_graph **out);

/*! nnp_onnx_serialize() : the ONNX bytes of `g`.
 *  @return NNP_OK with *data (malloc'd, caller frees) and *size; or an error
 *  (a tensor that cannot be written, e.g. an initializer without data). */
enum nnp_status nnp_onnx_serialize(const struct nnp_graph *g, uint8_t **data, size_t *size);

/*! nnp_onnx_write() : serialize `g` and write it to `path` atomically (a
 *  temporary file renamed over `path`; nothing is left behind on failure).
 *  @return NNP_OK or the error of nnp_onnx_serialize() / nnp_file_write_atomic(). */
enum nnp_status nnp_onnx_write(const struct nnp_graph *g, const char *path);

/*! nnp_onnx_tensor_read() : read a standalone ONNX TensorProto file (`.pb`, as
 *  in ONNX's node tests: test_data_set_0/input_0.pb) into `t`, which is
 *  overwritten. The data is allocated in g's arena; external data is resolved
 *  against the folder of `path`. `name` may be NULL; otherwise *name is set to
 *  the TensorProto's name (in g's arena; "" if it has none).
 *  @return NNP_OK, or an error whose message starts with `path`. */
enum nnp_status nnp_onnx_tensor_read(const char *path, struct nnp_graph *g, struct nnp_tensor *t,
                                     const char **name);

/*! nnp_onnx_tensor_write() : write dense tensor `t` (data required, static
 *  shape) as a TensorProto file called `name` (NULL: no name), atomically.
 *  @return NNP_OK or an error whose message starts with `path`. */
enum nnp_status nnp_onnx_tensor_write(const char *path, const struct nnp_tensor *t,
                                      const char *name);

#endif
