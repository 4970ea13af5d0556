/* formats/array.c — the plain array that data files are read into. */
#include "array.h"

#include <stdlib.h>
#include <string.h>

void nnp_array_free(struct nnp_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int64_t nnp_shape_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] != 0 && n > INT64_MAX / dims[i])
            return -1;
        n *= dims[i];
    }
    return n;
}

int64_t nnp_array_numel(const struct nnp_array *a)
{
    if (a->rank < 0 || a->rank > NNP_MAX_RANK)
        return -1;
    return nnp_shape_numel(a->rank, a->dims);
}
