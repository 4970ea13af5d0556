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

bool nnp_shape_fit(const struct nnp_tensor *model, int rank, const int64_t *dims, bool whole,
                   struct nnp_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->dtype = model->dtype;
    int m = model->rank;
    const int64_t *md = model->dims;
    bool fits = m < 0; /* a model that does not say takes anything */
    if (m == rank) {
        fits = true;
        for (int i = 0; i < m; i++)
            fits = fits && (md[i] < 0 || md[i] == dims[i]);
    }
    if (fits) {
        out->rank = rank;
        memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
        return true;
    }
    /* same number of samples, same number of values in each */
    bool rest_static = m >= 1;
    for (int i = 1; i < m; i++)
        rest_static = rest_static && md[i] >= 0;
    if (rank >= 1 && rest_static && (md[0] < 0 || md[0] == dims[0]) &&
        nnp_shape_numel(m - 1, md + 1) == nnp_shape_numel(rank - 1, dims + 1)) {
        out->rank = m;
        out->dims[0] = dims[0];
        memcpy(out->dims + 1, md + 1, (size_t)(m - 1) * sizeof *md);
        return true;
    }
    /* the whole tensor in the model's static shape */
    bool all_static = m >= 0;
    for (int i = 0; i < m; i++)
        all_static = all_static && md[i] >= 0;
    if (whole && all_static && nnp_shape_numel(m, md) == nnp_shape_numel(rank, dims)) {
        out->rank = m;
        memcpy(out->dims, md, (size_t)m * sizeof *md);
        return true;
    }
    return false;
}
