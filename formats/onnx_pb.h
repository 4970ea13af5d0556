/* formats/onnx_pb.h — what onnx_read.c, onnx_write.c and onnx_tensor.c share; private
 * to formats/ (nothing else may see a protobuf struct).
 *
 * Both directions hand protobuf-c an allocator that carves from an nnp_arena and
 * never frees: an unpacked message, the blobs replayed into it and everything
 * the converter hangs onto it then go away with one nnp_arena_free(), and the
 * converter may repoint any field without caring who allocated what.
 */
#ifndef NNP_ONNX_PB_H
#define NNP_ONNX_PB_H

#include "onnx.pb-c.h"

#include "kernels/arena.h"
#include "kernels/graph.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* raw_data is little-endian and so is the IR's dense data; a big-endian host would need a
 * byte swap wherever the two meet (onnx_tensor.c). */
#error "formats/onnx: big-endian hosts are not supported"
#endif

static inline void *nnp_pb_arena_alloc(void *arena, size_t size)
{
    return nnp_arena_alloc_big(arena, size); /* NULL makes protobuf-c fail cleanly */
}

static inline void nnp_pb_arena_free(void *arena, void *p)
{
    (void)arena, (void)p; /* freed with the arena */
}

static inline ProtobufCAllocator nnp_pb_allocator(struct nnp_arena *a)
{
    ProtobufCAllocator al = {nnp_pb_arena_alloc, nnp_pb_arena_free, a};
    return al;
}

/*! nnp_pb_tensor_decode() : decode `tp` into dense `t` (data in g's arena; external data
 *  read from `dir`, `scratch` for temporaries), then clear the fields it decoded (name,
 *  dims, type, data, external data description), so that what is left of `tp` is what
 *  the IR does not interpret. `what` names the tensor in messages ("initializer w").
 *  @return NNP_OK or an error (message set, starting with `what`). */
enum nnp_status nnp_pb_tensor_decode(struct nnp_graph *g, struct nnp_arena *scratch,
                                     const char *dir, Onnx__TensorProto *tp,
                                     struct nnp_tensor *t, const char *what);

/*! nnp_pb_tensor_encode() : set name (unless NULL), dims, type and data of `tp` from
 *  dense `t`: raw_data pointing at t's data (no copy), string_data for strings. Arrays
 *  come from `a`. @return NNP_OK, or an error for a tensor without a static shape, data,
 *  or a dense storage. */
enum nnp_status nnp_pb_tensor_encode(struct nnp_arena *a, const struct nnp_tensor *t,
                                     const char *name, Onnx__TensorProto *tp, const char *what);

#endif
