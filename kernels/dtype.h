/* kernels/dtype.h — element types (see dtypes.def).
 *
 *     size_t n = nnp_dtype_size(NNP_DTYPE_F16);          // 2
 *     enum nnp_dtype t = nnp_dtype_from_onnx(10);          // NNP_DTYPE_F16
 *     printf("%s\n", nnp_dtype_name(t));                  // "float16"
 */
#ifndef NNP_DTYPE_H
#define NNP_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum nnp_dtype {
#define X(e, code, size, name) NNP_DTYPE_##e,
#include "kernels/dtypes.def"
#undef X
    NNP_DTYPE_COUNT
};

/* A string element: bytes, not NUL-terminated in ONNX (we add one for convenience). */
struct nnp_string {
    size_t len;
    char *data; /* len bytes + NUL, owned by the graph's arena */
};

/*! @return bytes per element; 0 for STRING (elements are struct nnp_string) and UNDEFINED. */
size_t nnp_dtype_size(enum nnp_dtype t);
/*! @return the dtype's short name ("float32"). */
const char *nnp_dtype_name(enum nnp_dtype t);
/*! @return ONNX TensorProto.DataType code. */
int nnp_dtype_onnx(enum nnp_dtype t);
/*! @return the dtype for an ONNX code, NNP_DTYPE_UNDEFINED for codes we do not know. */
enum nnp_dtype nnp_dtype_from_onnx(int code);
/*! @return the dtype named `name` ("float32", "int8", ...), NNP_DTYPE_UNDEFINED if none. */
enum nnp_dtype nnp_dtype_from_name(const char *name);
/*! @return 1 for float32/float16/bfloat16/float64. */
int nnp_dtype_is_float(enum nnp_dtype t);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float nnp_f16_to_f32(uint16_t h);
uint16_t nnp_f32_to_f16(float f);
/*! The same for n elements (F16C where the CPU has it, the same bits). */
void nnp_f16_to_f32_n(float *dst, const uint16_t *src, int64_t n);
void nnp_f32_to_f16_n(uint16_t *dst, const float *src, int64_t n);
float nnp_bf16_to_f32(uint16_t h);
uint16_t nnp_f32_to_bf16(float f);

#endif
