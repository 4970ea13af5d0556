/* kernels/ops/op.c — the operator table and the helpers prepare functions share. */
#include "kernels/ops/op.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Weak references: while an operator's file is being written the table simply
 * lacks it (tests/unit/test_ops.c fails until every row is defined). */
#define X(name, file) extern const struct nnp_op nnp_op_##name __attribute__((weak));
#include "kernels/ops/ops.def"
#undef X

static const struct nnp_op *const op_table[] = {
#define X(name, file) &nnp_op_##name,
#include "kernels/ops/ops.def"
#undef X
};

static const char *const op_names[] = {
#define X(name, file) #name,
#include "kernels/ops/ops.def"
#undef X
};

#define N_OPS (sizeof op_table / sizeof *op_table)

const struct nnp_op *nnp_op_find(const char *op_type)
{
    for (size_t i = 0; i < N_OPS; i++)
        if (op_table[i] && strcmp(op_names[i], op_type) == 0)
            return op_table[i];
    return NULL;
}

const struct nnp_op *const *nnp_op_table(void)
{
    static const struct nnp_op *list[N_OPS + 1];
    size_t k = 0;
    for (size_t i = 0; i < N_OPS; i++)
        if (op_table[i])
            list[k++] = op_table[i];
    list[k] = NULL;
    return list;
}

int nnp_op_table_missing(const char **names, int max)
{
    int k = 0;
    for (size_t i = 0; i < N_OPS; i++)
        if (!op_table[i] && k < max)
            names[k++] = op_names[i];
    return k;
}

static enum nnp_status vnode_error(enum nnp_status st, const struct nnp_exec_node *n,
                                   const char *fmt, va_list ap)
{
    char what[768];
    vsnprintf(what, sizeof what, fmt, ap);
    const char *name = n->node->name && *n->node->name ? n->node->name : NULL;
    if (name)
        return nnp_errorf(st, "node %s (%s): %s", name, n->node->op_type, what);
    return nnp_errorf(st, "node #%d (%s): %s", n->node->index, n->node->op_type, what);
}

enum nnp_status nnp_op_error(const struct nnp_exec_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum nnp_status st = vnode_error(NNP_ERR_INVALID, n, fmt, ap);
    va_end(ap);
    return st;
}

enum nnp_status nnp_op_unsupported(const struct nnp_exec_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum nnp_status st = vnode_error(NNP_ERR_UNSUPPORTED, n, fmt, ap);
    va_end(ap);
    return st;
}

enum nnp_status nnp_rt_set_shape(struct nnp_rt_value *v, enum nnp_dtype dtype, int rank,
                                 const int64_t *dims)
{
    NNP_ASSERT(rank >= 0 && rank <= NNP_MAX_RANK);
    v->dtype = dtype;
    v->rank = rank;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return nnp_errorf(NNP_ERR_INVALID, "value %s: dimension %d is negative (%" PRId64 ")",
                              v->name, i, dims[i]);
        if (dims[i] && n > INT64_MAX / dims[i])
            return nnp_errorf(NNP_ERR_INVALID, "value %s: too many elements", v->name);
        v->dims[i] = dims[i];
        n *= dims[i];
    }
    for (int i = rank; i < NNP_MAX_RANK; i++)
        v->dims[i] = 0;
    size_t es = dtype == NNP_DTYPE_STRING ? sizeof(struct nnp_string) : nnp_dtype_size(dtype);
    if (es && (uint64_t)n > SIZE_MAX / 2 / es)
        return nnp_errorf(NNP_ERR_INVALID, "value %s: too large", v->name);
    v->numel = n;
    v->nbytes = (size_t)n * es;
    return NNP_OK;
}

enum nnp_status nnp_rt_same_shape(struct nnp_rt_value *out, const struct nnp_rt_value *in)
{
    return nnp_rt_set_shape(out, in->dtype, in->rank, in->dims);
}

char *nnp_rt_shape_str(const struct nnp_rt_value *v, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < v->rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, i ? "," : "", v->dims[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

enum nnp_status nnp_rt_broadcast(const struct nnp_exec_node *n, const struct nnp_rt_value *a,
                                 const struct nnp_rt_value *b, int *rank, int64_t *dims)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return nnp_op_error(n, "shapes %s and %s do not broadcast",
                                nnp_rt_shape_str(a, sa, sizeof sa), nnp_rt_shape_str(b, sb, sizeof sb));
        }
        dims[i] = da == 1 ? db : da;
    }
    *rank = r;
    return NNP_OK;
}

int64_t nnp_rt_get_int(const struct nnp_rt_value *v, int64_t i)
{
    NNP_ASSERT(v->data && i >= 0 && i < v->numel);
    switch (v->dtype) {
    case NNP_DTYPE_I64: return ((const int64_t *)v->data)[i];
    case NNP_DTYPE_I32: return ((const int32_t *)v->data)[i];
    default: NNP_ASSERT(!"nnp_rt_get_int on a non-integer tensor"); return 0;
    }
}

uint64_t nnp_work_prod(int count, const int64_t *sizes)
{
    uint64_t w = 1;
    for (int i = 0; i < count; i++) {
        NNP_ASSERT(sizes[i] >= 0);
        if (sizes[i] == 0)
            return 0;
        if (__builtin_mul_overflow(w, (uint64_t)sizes[i], &w))
            w = UINT64_MAX; /* later factors are >= 1: it stays saturated */
    }
    return w;
}

int nnp_attr_ints(const struct nnp_node *node, const char *name, int64_t *out, int max)
{
    const struct nnp_attr *a = nnp_node_attr(node, name);
    if (!a || a->type != NNP_ATTR_INTS)
        return -1;
    int n = a->n < max ? (int)a->n : max;
    for (int i = 0; i < n; i++)
        out[i] = a->ints[i];
    return (int)a->n;
}
