/* formats/array.h — a plain n-dimensional array, the unit .npy and IDX files hold.
 *
 *     struct nnp_array a = {0};
 *     if (nnp_npy_read("x.npy", &a) != NNP_OK)
 *         puts(nnp_error_message());
 *     printf("%lld %s elements\n", (long long)nnp_array_numel(&a), nnp_dtype_name(a.dtype));
 *     nnp_array_free(&a);                          // frees a.data, zeroes a
 *
 * Unlike a graph tensor it owns its data directly (malloc), so data files can
 * be read without a graph. Data is row-major (C order), little-endian.
 */
#ifndef NNP_ARRAY_H
#define NNP_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/dtype.h"
#include "kernels/graph.h" /* NNP_MAX_RANK */

struct nnp_array {
    enum nnp_dtype dtype;
    int rank;                   /* 0: a scalar (one element) */
    int64_t dims[NNP_MAX_RANK]; /* (rank), each >= 0 */
    void *data;                 /* nbytes bytes, malloc'd, owned by the array; may be NULL
                                   only when nbytes is 0 */
    size_t nbytes;              /* numel * nnp_dtype_size(dtype) */
};

/*! nnp_array_free() : free a->data and zero *a; accepts NULL and a zeroed array. */
void nnp_array_free(struct nnp_array *a);

/*! @return the element count (1 for rank 0), or -1 if a dim is negative or the
 *  product overflows int64. */
int64_t nnp_array_numel(const struct nnp_array *a);

/*! nnp_shape_numel() : the same for a bare shape. */
int64_t nnp_shape_numel(int rank, const int64_t *dims);

/*! nnp_shape_fit() : the shape a tensor of shape dims[rank] takes as model input
 *  `model`, into *out (rank and dims only):
 *   - its own shape, when every static dimension of the model's agrees;
 *   - [dims[0], model dims after the first], when those are static and hold as
 *     many values as one sample of the file: IDX [N,28,28] into [batch,1,28,28]
 *     or [batch,784];
 *   - when `whole` (the file is the whole tensor, not a set of samples), the
 *     model's shape if it is static and holds as many values as the file.
 *  @return whether one of these applied. */
bool nnp_shape_fit(const struct nnp_tensor *model, int rank, const int64_t *dims, bool whole,
                   struct nnp_tensor *out);

#endif
