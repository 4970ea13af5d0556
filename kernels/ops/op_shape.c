/* kernels/ops/op_shape.c — shapes and plain copies: Identity, Dropout (inference),
 * Cast, Shape, Flatten, Reshape, Squeeze, Unsqueeze, Constant,
 * ConstantOfShape, Expand.
 *
 * This runtime plans static shapes, so an input that decides an output's
 * shape (Reshape's shape, Unsqueeze's axes, Expand's shape, ConstantOfShape's
 * input) must be constant when prepare runs: an initializer, or computed at
 * plan time by the executor's constant folding, which runs forward on every
 * node whose inputs are all constant. Prepare reads such inputs' data and
 * refuses, as unsupported, one that is only known at run time.
 *
 * Shape and Constant need no run at all: prepare writes their output into the
 * plan's arena and marks it constant (`out->is_const`, `out->data` set), which
 * the executor takes as folded. Their forward writes the same bytes again, so
 * an executor that runs them anyway gets the same answer.
 *
 * Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout copy their input
 * (memcpy): the memory planner gives every value its own buffer and nothing
 * aliases. Every fixed-size dtype moves by bytes; strings are refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ops/op_tensor.h"

/* Views (NNP_OP_VIEW): the planner usually gives Y the buffer of X, and then there is
 * nothing to do; a copy when it could not (X a constant, --dump-all). */
static enum nnp_status copy_forward(struct nnp_exec_node *n)
{
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (x->nbytes && y->data != x->data)
        memcpy(y->data, x->data, x->nbytes);
    return NNP_OK;
}

/* Copy-through ops: check X and give Y its shape. */
static enum nnp_status copy_prepare(struct nnp_exec_node *n, int rank, const int64_t *dims)
{
    const struct nnp_rt_value *x = n->in[0];
    char a[160], b[160];
    int64_t numel = 1;
    for (int i = 0; i < rank; i++)
        numel *= dims[i];
    enum nnp_status st = nnp_rt_set_shape(n->out[0], x->dtype, rank, dims);
    if (st != NNP_OK)
        return st;
    if (numel != x->numel)
        return nnp_op_error(n, "cannot reshape %s (%" PRId64 " elements) to %s (%" PRId64 ")",
                            nnp_rt_shape_str(x, a, sizeof a), x->numel,
                            nnp_rt_shape_str(n->out[0], b, sizeof b), numel);
    return NNP_OK;
}

static enum nnp_status need_x(struct nnp_exec_node *n)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    return st != NNP_OK ? st : nnp_opx_fixed_size(n, n->in[0], "the input");
}

/* --- Identity --- */

static enum nnp_status identity_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    return st != NNP_OK ? st : nnp_rt_same_shape(n->out[0], n->in[0]);
}

const struct nnp_op nnp_op_Identity = {
    .name = "Identity",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = identity_prepare,
    .forward = copy_forward,
    .reference = NULL,
    .backward = NULL,
    .flags = NNP_OP_VIEW,
};

/* --- Dropout: inference only --- */

static enum nnp_status dropout_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    if (n->opset >= 12) {
        if (nnp_opx_has(n, 1)) {
            const struct nnp_rt_value *r = n->in[1];
            NNP_OP_CHECK(n, nnp_dtype_is_float(r->dtype) && r->numel == 1,
                         "Dropout ratio must be a float scalar, found %s with %" PRId64
                         " elements",
                         nnp_dtype_name(r->dtype), r->numel);
        }
        if (nnp_opx_has(n, 2)) {
            const struct nnp_rt_value *t = n->in[2];
            NNP_OP_CHECK(n, t->dtype == NNP_DTYPE_BOOL && t->numel == 1,
                         "Dropout training_mode must be a bool scalar, found %s with %" PRId64
                         " elements",
                         nnp_dtype_name(t->dtype), t->numel);
            if (t->is_const && t->data && *(const uint8_t *)t->data)
                return nnp_op_unsupported(n, "Dropout in training mode is not supported "
                                             "(training_mode is true)");
        }
    } else {
        NNP_OP_CHECK(n, n->n_in == 1, "Dropout before opset 12 takes one input, found %d",
                     n->n_in);
    }
    st = nnp_rt_same_shape(n->out[0], x);
    if (st == NNP_OK && n->n_out > 1 && n->out[1]) /* the mask: bool from opset 10, T before */
        st = nnp_rt_set_shape(n->out[1], n->opset >= 10 ? NNP_DTYPE_BOOL : x->dtype, x->rank,
                              x->dims);
    return st;
}

static enum nnp_status dropout_forward(struct nnp_exec_node *n)
{
    if (n->n_in > 2 && n->in[2] && n->in[2]->data && *(const uint8_t *)n->in[2]->data)
        return nnp_op_unsupported(n, "Dropout in training mode is not supported "
                                     "(training_mode is true)");
    copy_forward(n);
    struct nnp_rt_value *m = n->n_out > 1 ? n->out[1] : NULL;
    if (m && m->numel) { /* nothing dropped: the mask is all true (all ones before opset 10) */
        if (m->dtype == NNP_DTYPE_BOOL)
            memset(m->data, 1, (size_t)m->numel);
        else
            for (int64_t i = 0; i < m->numel; i++)
                nnp_elem_set_f64(m->dtype, m->data, i, 1.0);
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_Dropout = {
    .name = "Dropout",
    .min_in = 1,
    .max_in = 3,
    .min_out = 1,
    .max_out = 2,
    .prepare = dropout_prepare,
    .forward = dropout_forward,
    .reference = NULL,
    .backward = NULL,
    .flags = NNP_OP_VIEW,
};

/* --- Cast --- */

static int castable(enum nnp_dtype t)
{
    return nnp_dtype_is_float(t) || nnp_dtype_is_int(t) || t == NNP_DTYPE_BOOL;
}

/* Cast before opset 6 named the type with a string. */
static enum nnp_dtype cast_type_from_string(const char *s)
{
    static const struct {
        const char *name;
        enum nnp_dtype t;
    } names[] = {
        {"FLOAT", NNP_DTYPE_F32},   {"UINT8", NNP_DTYPE_U8},     {"INT8", NNP_DTYPE_I8},
        {"UINT16", NNP_DTYPE_U16},  {"INT16", NNP_DTYPE_I16},    {"INT32", NNP_DTYPE_I32},
        {"INT64", NNP_DTYPE_I64},   {"BOOL", NNP_DTYPE_BOOL},    {"FLOAT16", NNP_DTYPE_F16},
        {"DOUBLE", NNP_DTYPE_F64},  {"UINT32", NNP_DTYPE_U32},   {"UINT64", NNP_DTYPE_U64},
        {"STRING", NNP_DTYPE_STRING}, {"BFLOAT16", NNP_DTYPE_BF16},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i].name, s) == 0)
            return names[i].t;
    return NNP_DTYPE_UNDEFINED;
}

static enum nnp_status cast_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = nnp_opx_need(n, 0, "input");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    const struct nnp_attr *to = nnp_node_attr(n->node, "to");
    enum nnp_dtype t = NNP_DTYPE_UNDEFINED;
    if (!to)
        return nnp_op_error(n, "Cast needs the attribute \"to\"");
    if (to->type == NNP_ATTR_INT)
        t = nnp_dtype_from_onnx((int)to->i);
    else if (to->type == NNP_ATTR_STRING && to->s.data)
        t = cast_type_from_string(to->s.data);
    if (t == NNP_DTYPE_UNDEFINED)
        return nnp_op_unsupported(n, "Cast to an unknown element type (attribute \"to\")");
    if (x->dtype == NNP_DTYPE_STRING || t == NNP_DTYPE_STRING)
        return nnp_op_unsupported(n, "Cast from %s to %s: strings are not supported",
                                  nnp_dtype_name(x->dtype), nnp_dtype_name(t));
    if (!castable(x->dtype) || !castable(t))
        return nnp_op_unsupported(n, "Cast from %s to %s is not supported",
                                  nnp_dtype_name(x->dtype), nnp_dtype_name(t));
    return nnp_rt_set_shape(n->out[0], t, x->rank, x->dims);
}

static int int_like(enum nnp_dtype t)
{
    return nnp_dtype_is_int(t) || t == NNP_DTYPE_BOOL;
}

/* One element at a time: integers through int64 (wrapping, as C and NumPy
 * do), anything with a float through double (each value rounded once). */
static enum nnp_status cast_reference(struct nnp_exec_node *n)
{
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (x->numel == 0)
        return NNP_OK;
    if (x->dtype == y->dtype) {
        memcpy(y->data, x->data, x->nbytes);
    } else if (int_like(x->dtype) && int_like(y->dtype)) {
        for (int64_t i = 0; i < x->numel; i++)
            nnp_elem_set_i64(y->dtype, y->data, i, nnp_elem_get_i64(x->dtype, x->data, i));
    } else {
        for (int64_t i = 0; i < x->numel; i++)
            nnp_elem_set_f64(y->dtype, y->data, i, nnp_elem_get_f64(x->dtype, x->data, i));
    }
    return NNP_OK;
}

/* The casts models have (fp16 and bf16 boundaries, shape arithmetic) get loops. */
static enum nnp_status cast_forward(struct nnp_exec_node *n)
{
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    int64_t cnt = x->numel;
    enum nnp_dtype from = x->dtype, to = y->dtype;
    if (from == NNP_DTYPE_F32 && to == NNP_DTYPE_F16) {
        nnp_f32_to_f16_n(y->data, x->data, cnt);
    } else if (from == NNP_DTYPE_F16 && to == NNP_DTYPE_F32) {
        nnp_f16_to_f32_n(y->data, x->data, cnt);
    } else if (from == NNP_DTYPE_F32 && to == NNP_DTYPE_BF16) {
        const float *s = x->data;
        uint16_t *d = y->data;
        for (int64_t i = 0; i < cnt; i++)
            d[i] = nnp_f32_to_bf16(s[i]);
    } else if (from == NNP_DTYPE_BF16 && to == NNP_DTYPE_F32) {
        const uint16_t *s = x->data;
        float *d = y->data;
        for (int64_t i = 0; i < cnt; i++)
            d[i] = nnp_bf16_to_f32(s[i]);
    } else if (from == NNP_DTYPE_I64 && to == NNP_DTYPE_F32) {
        const int64_t *s = x->data;
        float *d = y->data;
        for (int64_t i = 0; i < cnt; i++)
            d[i] = (float)s[i];
    } else if (from == NNP_DTYPE_I32 && to == NNP_DTYPE_F32) {
        const int32_t *s = x->data;
        float *d = y->data;
        for (int64_t i = 0; i < cnt; i++)
            d[i] = (float)s[i];
    } else if (from == NNP_DTYPE_I32 && to == NNP_DTYPE_I64) {
        const int32_t *s = x->data;
        int64_t *d = y->data;
        for (int64_t i = 0; i < cnt; i++)
            d[i] = s[i];
    } else {
        return cast_reference(n);
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_Cast = {
    .name = "Cast",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = cast_prepare,
    .forward = cast_forward,
    .reference = cast_reference,
    .backward = NULL,
};

/* --- Shape --- */

struct shape_state {
    int start; /* first dim reported */
};

static void shape_fill(const struct nnp_exec_node *n, const struct shape_state *s)
{
    struct nnp_rt_value *y = n->out[0];
    int64_t *d = y->data;
    for (int64_t i = 0; i < y->numel; i++)
        d[i] = n->in[0]->dims[s->start + i];
}

static enum nnp_status shape_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t start = 0, end = x->rank;
    if (n->opset >= 15) {
        st = nnp_opx_attr_int(n, "start", 0, &start);
        if (st == NNP_OK)
            st = nnp_opx_attr_int(n, "end", x->rank, &end);
        if (st != NNP_OK)
            return st;
    }
    /* negative counts from the back; then clamped to [0, rank] as the spec says */
    if (start < 0)
        start += x->rank;
    if (end < 0)
        end += x->rank;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    end = end < 0 ? 0 : end > x->rank ? x->rank : end;
    int64_t len = end > start ? end - start : 0;
    struct shape_state *s = nnp_arena_alloc(a, sizeof *s);
    s->start = (int)start;
    n->state = s;
    struct nnp_rt_value *y = n->out[0];
    st = nnp_rt_set_shape(y, NNP_DTYPE_I64, 1, &len);
    if (st != NNP_OK)
        return st;
    /* known now: folded here (see the top of this file) */
    y->data = nnp_arena_alloc(a, (size_t)(len ? len : 1) * sizeof(int64_t));
    y->is_const = true;
    shape_fill(n, s);
    return NNP_OK;
}

static enum nnp_status shape_forward(struct nnp_exec_node *n)
{
    shape_fill(n, n->state);
    return NNP_OK;
}

const struct nnp_op nnp_op_Shape = {
    .name = "Shape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = shape_prepare,
    .forward = shape_forward,
    .reference = NULL,
    .backward = NULL,
};

/* --- Flatten --- */

static enum nnp_status flatten_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t axis;
    st = nnp_opx_attr_int(n, "axis", 1, &axis);
    if (st != NNP_OK)
        return st;
    if (axis < -x->rank || axis > x->rank) /* axis == rank is allowed: [numel, 1] */
        return nnp_op_error(n, "Flatten axis %" PRId64 " is out of range for rank %d "
                               "(expected [%d, %d])",
                            axis, x->rank, -x->rank, x->rank);
    if (axis < 0)
        axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i < axis ? 0 : 1] *= x->dims[i];
    return copy_prepare(n, 2, dims);
}

const struct nnp_op nnp_op_Flatten = {
    .name = "Flatten",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = flatten_prepare,
    .forward = copy_forward,
    .reference = NULL,
    .backward = NULL,
    .flags = NNP_OP_VIEW,
};

/* --- Reshape --- */

static enum nnp_status reshape_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t shape[64]; /* more than NNP_MAX_RANK, to refuse deep shapes as unsupported */
    int cnt;
    if (n->opset < 5) {
        st = nnp_opx_attr_ints(n, "shape", shape, 64, &cnt);
        if (st == NNP_OK && cnt < 0)
            return nnp_op_error(n, "Reshape before opset 5 needs the attribute \"shape\"");
    } else {
        st = nnp_opx_need(n, 1, "shape");
        if (st == NNP_OK)
            st = nnp_opx_const_ints(n, 1, "Reshape's shape", shape, 64, &cnt);
    }
    if (st != NNP_OK)
        return st;
    if (cnt > NNP_MAX_RANK)
        return nnp_op_unsupported(n, "Reshape to rank %d: at most %d dimensions are supported",
                                  cnt, NNP_MAX_RANK);
    int64_t allowzero = 0;
    if (n->opset >= 14 && (st = nnp_opx_attr_int(n, "allowzero", 0, &allowzero)) != NNP_OK)
        return st;
    int infer = -1;
    int64_t known = 1;
    bool has_zero = false;
    for (int i = 0; i < cnt; i++) {
        if (shape[i] == -1) {
            if (infer >= 0)
                return nnp_op_error(n, "Reshape's shape has more than one -1");
            infer = i;
            continue;
        }
        if (shape[i] < -1)
            return nnp_op_error(n, "Reshape's shape has %" PRId64 " at %d (expected >= -1)",
                                shape[i], i);
        if (shape[i] == 0 && !allowzero) { /* 0 copies the input's dim */
            if (i >= x->rank)
                return nnp_op_error(n, "Reshape's shape has 0 at %d but the input has rank %d",
                                    i, x->rank);
            shape[i] = x->dims[i];
        }
        has_zero |= shape[i] == 0;
        if (shape[i] && known > INT64_MAX / shape[i])
            return nnp_op_error(n, "Reshape's shape is too large");
        known *= shape[i];
    }
    if (infer >= 0) {
        if (allowzero && has_zero)
            return nnp_op_error(n, "Reshape with allowzero=1 cannot have both 0 and -1");
        if (known == 0 || x->numel % known != 0) {
            char b[160];
            return nnp_op_error(n, "cannot infer the -1 of Reshape: %" PRId64
                                   " elements of %s do not divide by %" PRId64,
                                x->numel, nnp_rt_shape_str(x, b, sizeof b), known);
        }
        shape[infer] = x->numel / known;
    }
    return copy_prepare(n, cnt, shape);
}

const struct nnp_op nnp_op_Reshape = {
    .name = "Reshape",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = reshape_prepare,
    .forward = copy_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1),
    .flags = NNP_OP_VIEW,
};

/* --- Squeeze, Unsqueeze --- */

/* axes: attribute before opset 13, input 1 from 13. *cnt = -1 when absent. */
static enum nnp_status read_axes(struct nnp_exec_node *n, const char *op, int64_t *axes, int *cnt)
{
    char what[48];
    snprintf(what, sizeof what, "%s's axes", op);
    *cnt = -1;
    if (n->opset < 13)
        return nnp_opx_attr_ints(n, "axes", axes, NNP_MAX_RANK, cnt);
    if (!nnp_opx_has(n, 1))
        return NNP_OK;
    return nnp_opx_const_ints(n, 1, what, axes, NNP_MAX_RANK, cnt);
}

static enum nnp_status squeeze_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t axes[NNP_MAX_RANK];
    int cnt;
    if ((st = read_axes(n, "Squeeze", axes, &cnt)) != NNP_OK)
        return st;
    bool drop[NNP_MAX_RANK] = {false};
    if (cnt <= 0) { /* no axes (or an empty list, as ONNX Runtime reads it): every 1 goes */
        for (int i = 0; i < x->rank; i++)
            drop[i] = x->dims[i] == 1;
    }
    for (int k = 0; k < cnt; k++) {
        int ax;
        if ((st = nnp_opx_axis(n, "Squeeze axis", axes[k], x->rank, &ax)) != NNP_OK)
            return st;
        if (drop[ax])
            return nnp_op_error(n, "Squeeze axis %d is given twice", ax);
        if (x->dims[ax] != 1)
            return nnp_op_error(n, "Squeeze axis %d has size %" PRId64 ", not 1", ax,
                                x->dims[ax]);
        drop[ax] = true;
    }
    int64_t dims[NNP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            dims[r++] = x->dims[i];
    return copy_prepare(n, r, dims);
}

const struct nnp_op nnp_op_Squeeze = {
    .name = "Squeeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = squeeze_prepare,
    .forward = copy_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1),
    .flags = NNP_OP_VIEW,
};

static enum nnp_status unsqueeze_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    (void)a;
    enum nnp_status st = need_x(n);
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t axes[NNP_MAX_RANK];
    int cnt;
    if ((st = read_axes(n, "Unsqueeze", axes, &cnt)) != NNP_OK)
        return st;
    if (cnt < 0)
        return nnp_op_error(n, "Unsqueeze needs axes (%s)",
                            n->opset < 13 ? "the attribute" : "input 1");
    int r = x->rank + cnt;
    if (r > NNP_MAX_RANK)
        return nnp_op_unsupported(n, "Unsqueeze to rank %d: at most %d dimensions are supported",
                                  r, NNP_MAX_RANK);
    bool ins[NNP_MAX_RANK] = {false};
    for (int k = 0; k < cnt; k++) {
        int ax;
        if ((st = nnp_opx_axis(n, "Unsqueeze axis", axes[k], r, &ax)) != NNP_OK)
            return st;
        if (ins[ax])
            return nnp_op_error(n, "Unsqueeze axis %d is given twice", ax);
        ins[ax] = true;
    }
    int64_t dims[NNP_MAX_RANK];
    for (int i = 0, j = 0; i < r; i++)
        dims[i] = ins[i] ? 1 : x->dims[j++];
    return copy_prepare(n, r, dims);
}

const struct nnp_op nnp_op_Unsqueeze = {
    .name = "Unsqueeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = unsqueeze_prepare,
    .forward = copy_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1),
    .flags = NNP_OP_VIEW,
};

/* --- Constant --- */

struct const_state {
    const void *data; /* the value's bytes (plan arena or graph), nbytes of the output */
};

static enum nnp_status constant_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    static const char *const refused[] = {"sparse_value", "value_string", "value_strings"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (nnp_node_attr(n->node, refused[i]))
            return nnp_op_unsupported(n, "Constant with attribute %s is not supported",
                                      refused[i]);
    static const char *const given[] = {"value", "value_float", "value_floats", "value_int",
                                        "value_ints"};
    const struct nnp_attr *at = NULL;
    for (size_t i = 0; i < sizeof given / sizeof *given; i++) {
        const struct nnp_attr *t = nnp_node_attr(n->node, given[i]);
        if (t && at)
            return nnp_op_error(n, "Constant has both %s and %s; exactly one value is expected",
                                at->name, t->name);
        at = t ? t : at;
    }
    if (!at)
        return nnp_op_error(n, "Constant has no value attribute");
    struct nnp_rt_value *y = n->out[0];
    const void *src = NULL;
    enum nnp_status st;
    int64_t len;
    switch (at->type) {
    case NNP_ATTR_TENSOR: {
        const struct nnp_tensor *t = at->t;
        if (!t || t->rank < 0)
            return nnp_op_error(n, "Constant value is not a tensor with a shape");
        if (t->dtype == NNP_DTYPE_STRING)
            return nnp_op_unsupported(n, "Constant string tensors are not supported");
        if (t->storage != NNP_STORAGE_DENSE)
            return nnp_op_unsupported(n, "Constant value is not stored densely");
        st = nnp_rt_set_shape(y, t->dtype, t->rank, t->dims);
        if (st != NNP_OK)
            return st;
        if (y->nbytes && (!t->data || t->nbytes != y->nbytes))
            return nnp_op_error(n, "Constant value has %zu bytes of data, its shape needs %zu",
                                t->data ? t->nbytes : 0, y->nbytes);
        src = t->data;
        break;
    }
    case NNP_ATTR_FLOAT:
        st = nnp_rt_set_shape(y, NNP_DTYPE_F32, 0, NULL);
        src = &at->f;
        break;
    case NNP_ATTR_FLOATS:
        len = at->n;
        st = nnp_rt_set_shape(y, NNP_DTYPE_F32, 1, &len);
        src = at->floats;
        break;
    case NNP_ATTR_INT:
        st = nnp_rt_set_shape(y, NNP_DTYPE_I64, 0, NULL);
        src = &at->i;
        break;
    case NNP_ATTR_INTS:
        len = at->n;
        st = nnp_rt_set_shape(y, NNP_DTYPE_I64, 1, &len);
        src = at->ints;
        break;
    default: return nnp_op_error(n, "Constant attribute %s has the wrong type", at->name);
    }
    if (st != NNP_OK)
        return st;
    /* a private copy: constants share nothing with the graph or each other */
    struct const_state *s = nnp_arena_alloc(a, sizeof *s);
    void *data = y->nbytes ? nnp_arena_alloc_big(a, y->nbytes) : nnp_arena_alloc(a, 8);
    if (!data)
        return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory for a Constant of %zu bytes",
                          n->node->name, y->nbytes);
    if (y->nbytes)
        memcpy(data, src, y->nbytes);
    s->data = data;
    n->state = s;
    y->data = data;
    y->is_const = true;
    return NNP_OK;
}

static enum nnp_status constant_forward(struct nnp_exec_node *n)
{
    const struct const_state *s = n->state;
    struct nnp_rt_value *y = n->out[0];
    if (y->nbytes && y->data != s->data)
        memcpy(y->data, s->data, y->nbytes);
    return NNP_OK;
}

const struct nnp_op nnp_op_Constant = {
    .name = "Constant",
    .min_in = 0,
    .max_in = 0,
    .min_out = 1,
    .max_out = 1,
    .prepare = constant_prepare,
    .forward = constant_forward,
    .reference = NULL,
    .backward = NULL,
};

/* --- ConstantOfShape --- */

struct cos_state {
    uint8_t value[16]; /* one element of the output dtype */
};

static enum nnp_status cos_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "input");
    if (st != NNP_OK)
        return st;
    int64_t dims[NNP_MAX_RANK];
    int cnt;
    st = nnp_opx_const_ints(n, 0, "ConstantOfShape's input", dims, NNP_MAX_RANK, &cnt);
    if (st != NNP_OK)
        return st;
    struct cos_state *s = nnp_arena_alloc(a, sizeof *s);
    enum nnp_dtype t = NNP_DTYPE_F32; /* default: float32 zeros */
    const struct nnp_attr *v = nnp_node_attr(n->node, "value");
    if (v) {
        const struct nnp_tensor *tv = v->t;
        if (v->type != NNP_ATTR_TENSOR || !tv)
            return nnp_op_error(n, "ConstantOfShape value must be a tensor");
        if (tv->dtype == NNP_DTYPE_STRING)
            return nnp_op_unsupported(n, "ConstantOfShape of strings is not supported");
        int64_t numel = nnp_tensor_numel(tv);
        size_t es = nnp_dtype_size(tv->dtype);
        if (numel != 1 || !tv->data || es == 0 || es > sizeof s->value || tv->nbytes < es)
            return nnp_op_error(n, "ConstantOfShape value must be a one-element tensor");
        t = tv->dtype;
        memcpy(s->value, tv->data, es);
    }
    for (int i = 0; i < cnt; i++)
        if (dims[i] < 0)
            return nnp_op_error(n, "ConstantOfShape's input has a negative dim %" PRId64 " at %d",
                                dims[i], i);
    n->state = s;
    return nnp_rt_set_shape(n->out[0], t, cnt, dims);
}

static enum nnp_status cos_forward(struct nnp_exec_node *n)
{
    const struct cos_state *s = n->state;
    struct nnp_rt_value *y = n->out[0];
    nnp_elem_fill(y->data, s->value, nnp_dtype_size(y->dtype), y->numel);
    return NNP_OK;
}

const struct nnp_op nnp_op_ConstantOfShape = {
    .name = "ConstantOfShape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = cos_prepare,
    .forward = cos_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(0),
};

/* --- Expand --- */

struct expand_state {
    struct nnp_bcast plan;
    size_t es;
};

static void expand_row(int64_t cnt, void *o, const void *const *in, const int64_t *step,
                       const void *ctx)
{
    const struct expand_state *s = ctx;
    if (step[0])
        memcpy(o, in[0], (size_t)cnt * s->es);
    else
        nnp_elem_fill(o, in[0], s->es, cnt);
}

static enum nnp_status expand_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = need_x(n);
    if (st == NNP_OK)
        st = nnp_opx_need(n, 1, "shape");
    if (st != NNP_OK)
        return st;
    struct nnp_rt_value shape;
    memset(&shape, 0, sizeof shape);
    int cnt;
    st = nnp_opx_const_ints(n, 1, "Expand's shape", shape.dims, NNP_MAX_RANK, &cnt);
    if (st != NNP_OK)
        return st;
    shape.rank = cnt;
    for (int i = 0; i < cnt; i++)
        if (shape.dims[i] < 0)
            return nnp_op_error(n, "Expand's shape has a negative dim %" PRId64 " at %d",
                                shape.dims[i], i);
    const struct nnp_rt_value *x = n->in[0];
    int rank;
    int64_t dims[NNP_MAX_RANK];
    if ((st = nnp_rt_broadcast(n, x, &shape, &rank, dims)) != NNP_OK)
        return st;
    if ((st = nnp_rt_set_shape(n->out[0], x->dtype, rank, dims)) != NNP_OK)
        return st;
    struct expand_state *s = nnp_arena_alloc(a, sizeof *s);
    s->es = nnp_dtype_size(x->dtype);
    nnp_bcast_init(&s->plan, rank, dims, 1, &x);
    n->state = s;
    return NNP_OK;
}

static enum nnp_status expand_forward(struct nnp_exec_node *n)
{
    const struct expand_state *s = n->state;
    const void *in[1] = {n->in[0]->data};
    nnp_bcast_run(&s->plan, n->out[0]->data, s->es, in, &s->es, expand_row, s);
    return NNP_OK;
}

static enum nnp_status expand_reference(struct nnp_exec_node *n)
{
    const struct expand_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    for (int64_t i = 0; i < y->numel; i++)
        nnp_elem_copy((char *)y->data + (size_t)i * s->es,
                      (const char *)x->data +
                          (size_t)nnp_bcast_offset(y->rank, y->dims, x->rank, x->dims, i) * s->es,
                      s->es);
    return NNP_OK;
}

const struct nnp_op nnp_op_Expand = {
    .name = "Expand",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = expand_prepare,
    .forward = expand_forward,
    .reference = expand_reference,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1),
};
