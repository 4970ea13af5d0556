/* kernels/ops/op_tensor.h — helpers shared by the tensor operators (op_unary.c,
 * op_binary.c, op_shape.c, op_slice.c, op_resize.c): a broadcast iterator,
 * element conversions, and checked readers for attributes and the constant
 * inputs that decide a shape.
 *
 *     struct nnp_bcast b;                            // Add: out[2,3,4] = a[2,1,4] + c[4]
 *     const struct nnp_rt_value *ins[2] = {a, c};
 *     nnp_bcast_init(&b, out->rank, out->dims, 2, ins);
 *     nnp_bcast_run(&b, out->data, 4, (const void *[]){a->data, c->data},
 *                   (size_t[]){4, 4}, add_f32_row, NULL);
 *
 * The iterator drops size-1 dimensions and merges neighbours that every operand
 * walks contiguously, so same-shape operands become one call over numel
 * elements and a row broadcast becomes one call per row. The innermost
 * dimension is always walked with step 1 (the operand has it) or 0 (it is
 * broadcast), which is what the row kernels specialise on.
 */
#ifndef NNP_OP_TENSOR_H
#define NNP_OP_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ops/op.h"

#define NNP_BCAST_MAX_IN 3

/* Elements per block in the elementwise loops: they load a whole block, then
 * compute and store it, in fixed-count loops GCC vectorises even at -O2 (its
 * "very cheap" cost model skips loops that need an epilogue or alias checks).
 * 16 floats are four SSE2 or two AVX registers. */
#define NNP_VB 16

/* A broadcast of up to three operands to one output shape, dims merged. */
struct nnp_bcast {
    int rank;                                      /* merged rank, >= 1 */
    int n_in;                                      /* operands */
    int64_t numel;                                 /* output elements */
    int64_t dims[NNP_MAX_RANK];                    /* (rank) merged output dims */
    int64_t strides[NNP_BCAST_MAX_IN][NNP_MAX_RANK]; /* element strides, 0 = broadcast */
};

/* A row kernel: n output elements at out; operand k starts at in[k] and
 * advances by step[k] (0 or 1) elements per output element. */
typedef void (*nnp_row_fn)(int64_t n, void *out, const void *const *in, const int64_t *step,
                           const void *ctx);

/*! Plan the broadcast of in[0..n_in) (shapes already checked) to out_dims. */
void nnp_bcast_init(struct nnp_bcast *b, int out_rank, const int64_t *out_dims, int n_in,
                    const struct nnp_rt_value *const *in);
/*! Call fn once per merged row. out_es and in_es are element sizes in bytes. */
void nnp_bcast_run(const struct nnp_bcast *b, void *out, size_t out_es, const void *const *in,
                   const size_t *in_es, nnp_row_fn fn, const void *ctx);
/*! The naive way, for reference kernels: the element offset in `in` (shape
 *  in_rank/in_dims, broadcast to out_dims) of output element `i`. */
int64_t nnp_bcast_offset(int out_rank, const int64_t *out_dims, int in_rank,
                         const int64_t *in_dims, int64_t i);
/*! The broadcast shape of `count` values into rank/dims, or an error naming the node. */
enum nnp_status nnp_bcast_shape(const struct nnp_exec_node *n, int count,
                                const struct nnp_rt_value *const *v, int *rank, int64_t *dims);

/* --- elements --- */

/*! @return bytes per element of a value's dtype (0 for strings and undefined). */
size_t nnp_elem_size(enum nnp_dtype t);
/*! Copy one element of `es` bytes (constant sizes compile to a move). */
void nnp_elem_copy(void *dst, const void *src, size_t es);
/*! Fill n elements of es bytes at dst with the element at val. */
void nnp_elem_fill(void *dst, const void *val, size_t es, int64_t n);
/*! Element i of a numeric or bool tensor's data, as double. */
double nnp_elem_get_f64(enum nnp_dtype t, const void *data, int64_t i);
/*! Store x, rounded or truncated the way a C cast (and NumPy's astype) does, into
 *  element i. Integers saturate instead of overflowing; NaN becomes 0. */
void nnp_elem_set_f64(enum nnp_dtype t, void *data, int64_t i, double x);
/*! Element i of an integer or bool tensor as int64 (uint64 wraps). */
int64_t nnp_elem_get_i64(enum nnp_dtype t, const void *data, int64_t i);
/*! Store x into element i of an integer or bool tensor, wrapping as C does. */
void nnp_elem_set_i64(enum nnp_dtype t, void *data, int64_t i, int64_t x);
/*! @return 1 for int8..uint64 (not bool). */
int nnp_dtype_is_int(enum nnp_dtype t);
/*! double -> float16 bits, rounded once (not via float's rounding first). */
uint16_t nnp_f64_to_f16(double x);
/*! double -> bfloat16 bits, rounded once. */
uint16_t nnp_f64_to_bf16(double x);

/* --- attributes and inputs (prepare only) --- */

/*! Attribute `name` as an int: *out = def when absent; an error if of another type. */
enum nnp_status nnp_opx_attr_int(const struct nnp_exec_node *n, const char *name, int64_t def,
                                 int64_t *out);
enum nnp_status nnp_opx_attr_float(const struct nnp_exec_node *n, const char *name, float def,
                                   float *out);
/*! *out = the string, or def when absent. */
enum nnp_status nnp_opx_attr_string(const struct nnp_exec_node *n, const char *name,
                                    const char *def, const char **out);
/*! Attribute `name` as ints into out[max]; *count = -1 when absent. */
enum nnp_status nnp_opx_attr_ints(const struct nnp_exec_node *n, const char *name, int64_t *out,
                                  int max, int *count);
/*! Read input k, a 1-D (or scalar) int32/int64 tensor that decides a shape, into
 *  out[max]. It must be constant: refused as unsupported otherwise (this runtime
 *  plans static shapes). `what` names it in messages ("Reshape's shape"). */
enum nnp_status nnp_opx_const_ints(const struct nnp_exec_node *n, int k, const char *what,
                                   int64_t *out, int max, int *count);
/*! Normalise `axis` in [-rank, rank) to [0, rank); an error naming `what` otherwise. */
enum nnp_status nnp_opx_axis(const struct nnp_exec_node *n, const char *what, int64_t axis,
                             int rank, int *out);
/*! Input k must be present: an error naming it otherwise. */
enum nnp_status nnp_opx_need(const struct nnp_exec_node *n, int k, const char *what);
/*! @return 1 when optional input k is given and not an empty name. */
int nnp_opx_has(const struct nnp_exec_node *n, int k);
/*! Refuse strings and undefined element types for data movement. */
enum nnp_status nnp_opx_fixed_size(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                   const char *what);

#endif
