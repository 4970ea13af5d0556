/* kernels/ops/op_tensor.c — helpers shared by the tensor operators (see op_tensor.h). */
#include "kernels/ops/op_tensor.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

/* --- broadcasting --- */

void nnp_bcast_init(struct nnp_bcast *b, int out_rank, const int64_t *out_dims, int n_in,
                    const struct nnp_rt_value *const *in)
{
    NNP_ASSERT(n_in >= 1 && n_in <= NNP_BCAST_MAX_IN && out_rank <= NNP_MAX_RANK);
    memset(b, 0, sizeof *b);
    b->n_in = n_in;
    /* full-rank strides first: operand dims right-aligned, 0 where broadcast */
    int64_t st[NNP_BCAST_MAX_IN][NNP_MAX_RANK];
    for (int k = 0; k < n_in; k++) {
        int64_t s = 1;
        for (int i = out_rank - 1; i >= 0; i--) {
            int j = i - (out_rank - in[k]->rank);
            int64_t d = j >= 0 ? in[k]->dims[j] : 1;
            st[k][i] = d == 1 && out_dims[i] != 1 ? 0 : s;
            s *= d;
        }
    }
    int64_t numel = 1;
    for (int i = 0; i < out_rank; i++)
        numel *= out_dims[i];
    b->numel = numel;
    /* drop size-1 dims, then merge a dim into its left neighbour when every
     * operand steps over the pair as over one dim */
    int r = 0;
    for (int i = 0; i < out_rank; i++) {
        if (out_dims[i] == 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n_in && merge; k++)
            merge = b->strides[k][r - 1] == st[k][i] * out_dims[i];
        if (merge) {
            b->dims[r - 1] *= out_dims[i];
            for (int k = 0; k < n_in; k++)
                b->strides[k][r - 1] = st[k][i];
        } else {
            b->dims[r] = out_dims[i];
            for (int k = 0; k < n_in; k++)
                b->strides[k][r] = st[k][i];
            r++;
        }
    }
    if (r == 0) { /* a scalar result: one row of one element */
        b->dims[0] = 1;
        for (int k = 0; k < n_in; k++)
            b->strides[k][0] = 1;
        r = 1;
    }
    b->rank = r;
}

void nnp_bcast_run(const struct nnp_bcast *b, void *out, size_t out_es, const void *const *in,
                   const size_t *in_es, nnp_row_fn fn, const void *ctx)
{
    if (b->numel == 0)
        return;
    int r = b->rank, nk = b->n_in;
    int64_t inner = b->dims[r - 1];
    int64_t step[NNP_BCAST_MAX_IN];
    int64_t off[NNP_BCAST_MAX_IN] = {0};
    int64_t idx[NNP_MAX_RANK] = {0};
    for (int k = 0; k < nk; k++) {
        step[k] = b->strides[k][r - 1] ? 1 : 0;
        NNP_ASSERT(b->strides[k][r - 1] <= 1);
    }
    int64_t rows = b->numel / inner;
    char *o = out;
    for (int64_t row = 0; row < rows; row++) {
        const void *p[NNP_BCAST_MAX_IN];
        for (int k = 0; k < nk; k++)
            p[k] = (const char *)in[k] + off[k] * (int64_t)in_es[k];
        fn(inner, o + row * inner * (int64_t)out_es, p, step, ctx);
        /* next row: odometer over dims 0..r-2 */
        for (int d = r - 2; d >= 0; d--) {
            for (int k = 0; k < nk; k++)
                off[k] += b->strides[k][d];
            if (++idx[d] < b->dims[d])
                break;
            idx[d] = 0;
            for (int k = 0; k < nk; k++)
                off[k] -= b->strides[k][d] * b->dims[d];
        }
    }
}

int64_t nnp_bcast_offset(int out_rank, const int64_t *out_dims, int in_rank,
                         const int64_t *in_dims, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = out_rank - 1; d >= 0; d--) {
        int64_t c = i % out_dims[d];
        i /= out_dims[d];
        int j = d - (out_rank - in_rank);
        if (j < 0)
            continue;
        if (in_dims[j] != 1)
            off += c * stride;
        stride *= in_dims[j];
    }
    return off;
}

enum nnp_status nnp_bcast_shape(const struct nnp_exec_node *n, int count,
                                const struct nnp_rt_value *const *v, int *rank, int64_t *dims)
{
    struct nnp_rt_value acc;
    memset(&acc, 0, sizeof acc);
    acc.rank = v[0]->rank;
    memcpy(acc.dims, v[0]->dims, sizeof acc.dims);
    for (int k = 1; k < count; k++) {
        int r;
        int64_t d[NNP_MAX_RANK];
        enum nnp_status st = nnp_rt_broadcast(n, &acc, v[k], &r, d);
        if (st != NNP_OK)
            return st;
        acc.rank = r;
        memcpy(acc.dims, d, sizeof d);
    }
    *rank = acc.rank;
    memcpy(dims, acc.dims, sizeof acc.dims);
    return NNP_OK;
}

/* --- elements --- */

size_t nnp_elem_size(enum nnp_dtype t)
{
    return t == NNP_DTYPE_STRING ? 0 : nnp_dtype_size(t);
}

void nnp_elem_copy(void *dst, const void *src, size_t es)
{
    switch (es) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

void nnp_elem_fill(void *dst, const void *val, size_t es, int64_t n)
{
    char *d = dst;
    switch (es) {
    case 1: memset(d, *(const unsigned char *)val, (size_t)n); break;
    case 2: {
        uint16_t v;
        memcpy(&v, val, 2);
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 2 * i, &v, 2);
        break;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, val, 4);
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 4 * i, &v, 4);
        break;
    }
    case 8: {
        uint64_t v;
        memcpy(&v, val, 8);
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 8 * i, &v, 8);
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + (size_t)i * es, val, es);
    }
}

int nnp_dtype_is_int(enum nnp_dtype t)
{
    switch (t) {
    case NNP_DTYPE_I8: case NNP_DTYPE_U8: case NNP_DTYPE_I16: case NNP_DTYPE_U16:
    case NNP_DTYPE_I32: case NNP_DTYPE_U32: case NNP_DTYPE_I64: case NNP_DTYPE_U64: return 1;
    default: return 0;
    }
}

double nnp_elem_get_f64(enum nnp_dtype t, const void *data, int64_t i)
{
    switch (t) {
    case NNP_DTYPE_F32: return ((const float *)data)[i];
    case NNP_DTYPE_F64: return ((const double *)data)[i];
    case NNP_DTYPE_F16: return nnp_f16_to_f32(((const uint16_t *)data)[i]);
    case NNP_DTYPE_BF16: return nnp_bf16_to_f32(((const uint16_t *)data)[i]);
    case NNP_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    default: return (double)nnp_elem_get_i64(t, data, i);
    }
}

int64_t nnp_elem_get_i64(enum nnp_dtype t, const void *data, int64_t i)
{
    switch (t) {
    case NNP_DTYPE_I8: return ((const int8_t *)data)[i];
    case NNP_DTYPE_U8: return ((const uint8_t *)data)[i];
    case NNP_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
    case NNP_DTYPE_I16: return ((const int16_t *)data)[i];
    case NNP_DTYPE_U16: return ((const uint16_t *)data)[i];
    case NNP_DTYPE_I32: return ((const int32_t *)data)[i];
    case NNP_DTYPE_U32: return ((const uint32_t *)data)[i];
    case NNP_DTYPE_I64: return ((const int64_t *)data)[i];
    case NNP_DTYPE_U64: return (int64_t)((const uint64_t *)data)[i];
    default: NNP_ASSERT(!"nnp_elem_get_i64 on a non-integer dtype"); return 0;
    }
}

void nnp_elem_set_i64(enum nnp_dtype t, void *data, int64_t i, int64_t x)
{
    switch (t) {
    case NNP_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)(uint8_t)x; break;
    case NNP_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)x; break;
    case NNP_DTYPE_BOOL: ((uint8_t *)data)[i] = x != 0; break;
    case NNP_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)(uint16_t)x; break;
    case NNP_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)x; break;
    case NNP_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)(uint32_t)x; break;
    case NNP_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)x; break;
    case NNP_DTYPE_I64: ((int64_t *)data)[i] = x; break;
    case NNP_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)x; break;
    default: NNP_ASSERT(!"nnp_elem_set_i64 on a non-integer dtype");
    }
}

/* Round x to float so that a second rounding (to half or bfloat16) gives the
 * correctly rounded result: truncate, and set the last bit when inexact
 * ("round to odd"). float has at least 2 more bits than either target. */
static float f64_to_f32_odd(double x)
{
    if (isnan(x))
        return (float)x;
    if (fabs(x) > FLT_MAX)
        return x > 0 ? FLT_MAX : -FLT_MAX; /* odd already: rounds on to inf */
    float f = (float)x;
    if ((double)f != x) {
        if (fabs((double)f) > fabs(x))
            f = nextafterf(f, 0.0f);
        uint32_t u;
        memcpy(&u, &f, 4);
        u |= 1;
        memcpy(&f, &u, 4);
    }
    return f;
}

uint16_t nnp_f64_to_f16(double x)
{
    return nnp_f32_to_f16(f64_to_f32_odd(x));
}

uint16_t nnp_f64_to_bf16(double x)
{
    return nnp_f32_to_bf16(f64_to_f32_odd(x));
}

/* double -> int64, truncating; saturating outside int64, NaN -> 0 */
static int64_t f64_to_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

void nnp_elem_set_f64(enum nnp_dtype t, void *data, int64_t i, double x)
{
    switch (t) {
    case NNP_DTYPE_F32:
        ((float *)data)[i] = fabs(x) > FLT_MAX && !isinf(x) ? (x > 0 ? INFINITY : -INFINITY)
                                                             : (float)x;
        break;
    case NNP_DTYPE_F64: ((double *)data)[i] = x; break;
    case NNP_DTYPE_F16: ((uint16_t *)data)[i] = nnp_f64_to_f16(x); break;
    case NNP_DTYPE_BF16: ((uint16_t *)data)[i] = nnp_f64_to_bf16(x); break;
    case NNP_DTYPE_BOOL: ((uint8_t *)data)[i] = x != 0; break;
    case NNP_DTYPE_U64:
        if (x >= 18446744073709551616.0)
            ((uint64_t *)data)[i] = UINT64_MAX;
        else if (x >= 9223372036854775808.0)
            ((uint64_t *)data)[i] = (uint64_t)x;
        else
            ((uint64_t *)data)[i] = (uint64_t)f64_to_i64(x);
        break;
    default: nnp_elem_set_i64(t, data, i, f64_to_i64(x)); break;
    }
}

/* --- attributes and inputs --- */

static const char *attr_type_name(enum nnp_attr_type t)
{
    switch (t) {
    case NNP_ATTR_FLOAT: return "a float";
    case NNP_ATTR_INT: return "an int";
    case NNP_ATTR_STRING: return "a string";
    case NNP_ATTR_TENSOR: return "a tensor";
    case NNP_ATTR_FLOATS: return "a list of floats";
    case NNP_ATTR_INTS: return "a list of ints";
    case NNP_ATTR_STRINGS: return "a list of strings";
    default: return "another type";
    }
}

static enum nnp_status attr_get(const struct nnp_exec_node *n, const char *name,
                                enum nnp_attr_type type, const struct nnp_attr **out)
{
    const struct nnp_attr *a = nnp_node_attr(n->node, name);
    *out = NULL;
    if (!a)
        return NNP_OK;
    if (a->type != type)
        return nnp_op_error(n, "attribute %s must be %s, found %s", name, attr_type_name(type),
                            attr_type_name(a->type));
    *out = a;
    return NNP_OK;
}

enum nnp_status nnp_opx_attr_int(const struct nnp_exec_node *n, const char *name, int64_t def,
                                 int64_t *out)
{
    const struct nnp_attr *a;
    enum nnp_status st = attr_get(n, name, NNP_ATTR_INT, &a);
    *out = a ? a->i : def;
    return st;
}

enum nnp_status nnp_opx_attr_float(const struct nnp_exec_node *n, const char *name, float def,
                                   float *out)
{
    const struct nnp_attr *a;
    enum nnp_status st = attr_get(n, name, NNP_ATTR_FLOAT, &a);
    *out = a ? a->f : def;
    return st;
}

enum nnp_status nnp_opx_attr_string(const struct nnp_exec_node *n, const char *name,
                                    const char *def, const char **out)
{
    const struct nnp_attr *a;
    enum nnp_status st = attr_get(n, name, NNP_ATTR_STRING, &a);
    *out = a && a->s.data ? a->s.data : def;
    return st;
}

enum nnp_status nnp_opx_attr_ints(const struct nnp_exec_node *n, const char *name, int64_t *out,
                                  int max, int *count)
{
    const struct nnp_attr *a;
    enum nnp_status st = attr_get(n, name, NNP_ATTR_INTS, &a);
    *count = -1;
    if (st != NNP_OK || !a)
        return st;
    if (a->n > max)
        return nnp_op_error(n, "attribute %s has %" PRId64 " values, at most %d expected", name,
                            a->n, max);
    for (int64_t i = 0; i < a->n; i++)
        out[i] = a->ints[i];
    *count = (int)a->n;
    return NNP_OK;
}

enum nnp_status nnp_opx_const_ints(const struct nnp_exec_node *n, int k, const char *what,
                                   int64_t *out, int max, int *count)
{
    const struct nnp_rt_value *v = n->in[k];
    NNP_ASSERT(v);
    if (v->dtype != NNP_DTYPE_I64 && v->dtype != NNP_DTYPE_I32)
        return nnp_op_error(n, "%s must be int64 (or int32), found %s", what,
                            nnp_dtype_name(v->dtype));
    if (v->rank > 1)
        return nnp_op_error(n, "%s must be 1-D, found %d-D", what, v->rank);
    if (!v->is_const || (!v->data && v->numel > 0))
        return nnp_op_unsupported(n,
                                  "%s (%s) is computed at run time; this runtime needs it to be a "
                                  "constant (static shapes)",
                                  what, v->name ? v->name : "?");
    if (v->numel > max)
        return nnp_op_error(n, "%s has %" PRId64 " values, at most %d expected", what, v->numel,
                            max);
    for (int64_t i = 0; i < v->numel; i++)
        out[i] = nnp_rt_get_int(v, i);
    *count = (int)v->numel;
    return NNP_OK;
}

enum nnp_status nnp_opx_axis(const struct nnp_exec_node *n, const char *what, int64_t axis,
                             int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return nnp_op_error(n, "%s %" PRId64 " is out of range for rank %d (expected [%d, %d))",
                            what, axis, rank, -rank, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return NNP_OK;
}

int nnp_opx_has(const struct nnp_exec_node *n, int k)
{
    return k < n->n_in && n->in[k] != NULL;
}

enum nnp_status nnp_opx_need(const struct nnp_exec_node *n, int k, const char *what)
{
    if (!nnp_opx_has(n, k))
        return nnp_op_error(n, "input %d (%s) is required", k, what);
    return NNP_OK;
}

enum nnp_status nnp_opx_fixed_size(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                   const char *what)
{
    if (v->dtype == NNP_DTYPE_STRING)
        return nnp_op_unsupported(n, "%s is a string tensor; strings are not supported", what);
    if (nnp_dtype_size(v->dtype) == 0)
        return nnp_op_error(n, "%s has no element type", what);
    return NNP_OK;
}
