/* kernels/ops/op_binary.c — elementwise operators with NumPy broadcasting:
 * Add, Sub, Mul, Div, Pow, Equal, Less, Greater, Max, Min (variadic), Where.
 *
 * Every operator is one row kernel (nnp_row_fn) per dtype, run by the shared
 * broadcast iterator of op_tensor.h. A row kernel sees each operand either
 * walking (step 1) or fixed (step 0), so the three loops it has — vector op
 * vector, vector op scalar, scalar op vector — are plain loops the compiler
 * vectorises: same-shape operands are one call over everything, a bias row
 * one call per row, a per-channel column one call per channel.
 *
 * Integer semantics: Add/Sub/Mul wrap (computed unsigned, never undefined
 * behaviour); Div truncates toward zero as C and ONNX do, and a division by
 * zero gives 0 instead of a trap (ONNX leaves it undefined). Max/Min propagate
 * NaN as NumPy does. float16/bfloat16 go through double, rounded once.
 *
 * The reference kernel computes every output element on its own from the
 * unmerged shapes (nnp_bcast_offset), calling the same row kernel with n = 1;
 * the unit tests check the merged fast paths against it.
 */
#include <math.h>
#include <string.h>

#include "kernels/ops/op_tensor.h"

enum bin_kind { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_EQ, B_LT, B_GT, B_POW, B_WHERE };

struct bin_state {
    enum bin_kind kind;
    nnp_row_fn fn;
    enum nnp_dtype ta, tb, tout; /* operand dtypes (Pow and the generic path read them) */
    int n_plans;
    struct nnp_bcast *plans; /* (n_plans): one for binary ops and Where; variadic Max/Min
                                has (in0, in1) -> out then (out, in_k) -> out */
    size_t es[NNP_BCAST_MAX_IN], es_out;
    bool legacy;                   /* opset < 7 broadcast=1 with axis: B placed at axis */
    struct nnp_rt_value legacy_b; /* B's shape padded to A's rank (data not used) */
};

/* --- row kernels for the native types, generated --- */

/* ctype, unsigned type the arithmetic wraps in, kind: F float, S signed, U unsigned */
#define NATIVE_TYPES(X)                                                                            \
    X(F32, float, float, F)                                                                        \
    X(F64, double, double, F)                                                                      \
    X(I8, int8_t, uint32_t, S)                                                                     \
    X(U8, uint8_t, uint32_t, U)                                                                    \
    X(I16, int16_t, uint32_t, S)                                                                   \
    X(U16, uint16_t, uint32_t, U)                                                                  \
    X(I32, int32_t, uint32_t, S)                                                                   \
    X(U32, uint32_t, uint32_t, U)                                                                  \
    X(I64, int64_t, uint64_t, S)                                                                   \
    X(U64, uint64_t, uint64_t, U)

/* expressions over x and y */
#define E_ADD_F(T, U) (x + y)
#define E_ADD_S(T, U) ((T)((U)x + (U)y))
#define E_ADD_U E_ADD_S
#define E_SUB_F(T, U) (x - y)
#define E_SUB_S(T, U) ((T)((U)x - (U)y))
#define E_SUB_U E_SUB_S
#define E_MUL_F(T, U) (x * y)
#define E_MUL_S(T, U) ((T)((U)x * (U)y))
#define E_MUL_U E_MUL_S
#define E_DIV_F(T, U) (x / y)
#define E_DIV_S(T, U) (y == 0 ? (T)0 : y == -1 ? (T)(0 - (U)x) : (T)(x / y))
#define E_DIV_U(T, U) (y == 0 ? (T)0 : (T)(x / y))
#define E_MAX_F(T, U) ((x > y || x != x) ? x : y)
#define E_MAX_S(T, U) (x > y ? x : y)
#define E_MAX_U E_MAX_S
#define E_MIN_F(T, U) ((x < y || x != x) ? x : y)
#define E_MIN_S(T, U) (x < y ? x : y)
#define E_MIN_U E_MIN_S
#define E_EQ_F(T, U) ((uint8_t)(x == y))
#define E_EQ_S E_EQ_F
#define E_EQ_U E_EQ_F
#define E_LT_F(T, U) ((uint8_t)(x < y))
#define E_LT_S E_LT_F
#define E_LT_U E_LT_F
#define E_GT_F(T, U) ((uint8_t)(x > y))
#define E_GT_S E_GT_F
#define E_GT_U E_GT_F

/* The loops run in blocks of NNP_VB: all loads of a block first, then the
 * arithmetic and the stores, in fixed-count inner loops. That is what lets GCC
 * vectorise them at -O2 (its cheap cost model refuses loops that need an
 * epilogue or alias checks), and it keeps Max/Min's in-place accumulation
 * (out == a) correct without restrict. */
#define ROW_KERNEL(name, T, TO, EXPR) ROW_KERNEL_A(, name, T, TO, EXPR)
#define ROW_KERNEL_A(attr, name, T, TO, EXPR)                                                      \
    attr static void name(int64_t n, void *o_, const void *const *in, const int64_t *step,         \
                          const void *ctx)                                                         \
    {                                                                                              \
        (void)ctx;                                                                                 \
        TO *o = o_;                                                                                \
        const T *a = in[0], *b = in[1];                                                            \
        int64_t i = 0;                                                                             \
        if (step[0] && step[1]) {                                                                  \
            for (; i + NNP_VB <= n; i += NNP_VB) {                                                 \
                T xa[NNP_VB], ya[NNP_VB];                                                          \
                for (int k = 0; k < NNP_VB; k++)                                                   \
                    xa[k] = a[i + k], ya[k] = b[i + k];                                            \
                for (int k = 0; k < NNP_VB; k++) {                                                 \
                    T x = xa[k], y = ya[k];                                                        \
                    o[i + k] = EXPR;                                                               \
                }                                                                                  \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                T x = a[i], y = b[i];                                                              \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else if (step[0]) {                                                                      \
            const T y = b[0];                                                                      \
            for (; i + NNP_VB <= n; i += NNP_VB) {                                                 \
                T xa[NNP_VB];                                                                      \
                for (int k = 0; k < NNP_VB; k++)                                                   \
                    xa[k] = a[i + k];                                                              \
                for (int k = 0; k < NNP_VB; k++) {                                                 \
                    T x = xa[k];                                                                   \
                    o[i + k] = EXPR;                                                               \
                }                                                                                  \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                T x = a[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else if (step[1]) {                                                                      \
            const T x = a[0];                                                                      \
            for (; i + NNP_VB <= n; i += NNP_VB) {                                                 \
                T ya[NNP_VB];                                                                      \
                for (int k = 0; k < NNP_VB; k++)                                                   \
                    ya[k] = b[i + k];                                                              \
                for (int k = 0; k < NNP_VB; k++) {                                                 \
                    T y = ya[k];                                                                   \
                    o[i + k] = EXPR;                                                               \
                }                                                                                  \
            }                                                                                      \
            for (; i < n; i++) {                                                                   \
                T y = b[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            const T x = a[0], y = b[0];                                                            \
            const TO v = EXPR;                                                                     \
            for (; i < n; i++)                                                                     \
                o[i] = v;                                                                          \
        }                                                                                          \
    }

/* float32 Add/Sub/Mul/Div carry a transformer's residuals, biases and scalings:
 * built also for AVX2 and AVX-512 (GCC picks one at load time through an ifunc),
 * where the baseline build vectorises with SSE2 only. Same arithmetic, so the
 * same results on every ISA. */
#define CLONES_F32 __attribute__((target_clones("avx512f", "avx2", "default")))
#define CLONES_F64
#define CLONES_I8
#define CLONES_U8
#define CLONES_I16
#define CLONES_U16
#define CLONES_I32
#define CLONES_U32
#define CLONES_I64
#define CLONES_U64

#define ARITH_KERNELS(E, T, U, K)                                                                  \
    ROW_KERNEL_A(CLONES_##E, add_##E, T, T, E_ADD_##K(T, U))                                       \
    ROW_KERNEL_A(CLONES_##E, sub_##E, T, T, E_SUB_##K(T, U))                                       \
    ROW_KERNEL_A(CLONES_##E, mul_##E, T, T, E_MUL_##K(T, U))                                       \
    ROW_KERNEL_A(CLONES_##E, div_##E, T, T, E_DIV_##K(T, U))                                       \
    ROW_KERNEL(max_##E, T, T, E_MAX_##K(T, U))                                                     \
    ROW_KERNEL(min_##E, T, T, E_MIN_##K(T, U))                                                     \
    ROW_KERNEL(eq_##E, T, uint8_t, E_EQ_##K(T, U))                                                 \
    ROW_KERNEL(lt_##E, T, uint8_t, E_LT_##K(T, U))                                                 \
    ROW_KERNEL(gt_##E, T, uint8_t, E_GT_##K(T, U))
NATIVE_TYPES(ARITH_KERNELS)
#undef ARITH_KERNELS

#define TABLE_ROW(OP)                                                                              \
    {                                                                                              \
        [NNP_DTYPE_F32] = OP##_F32, [NNP_DTYPE_F64] = OP##_F64, [NNP_DTYPE_I8] = OP##_I8,          \
        [NNP_DTYPE_U8] = OP##_U8, [NNP_DTYPE_I16] = OP##_I16, [NNP_DTYPE_U16] = OP##_U16,          \
        [NNP_DTYPE_I32] = OP##_I32, [NNP_DTYPE_U32] = OP##_U32, [NNP_DTYPE_I64] = OP##_I64,        \
        [NNP_DTYPE_U64] = OP##_U64,                                                                \
    }

/* kinds B_ADD..B_GT in enum order */
static const nnp_row_fn native[B_GT + 1][NNP_DTYPE_COUNT] = {
    TABLE_ROW(add), TABLE_ROW(sub), TABLE_ROW(mul), TABLE_ROW(div), TABLE_ROW(max),
    TABLE_ROW(min), TABLE_ROW(eq),  TABLE_ROW(lt),  TABLE_ROW(gt),
};

/* --- generic path: float16/bfloat16 through double --- */

static double generic_op(enum bin_kind k, double x, double y)
{
    switch (k) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_MAX: return (x > y || x != x) ? x : y;
    case B_MIN: return (x < y || x != x) ? x : y;
    case B_EQ: return x == y;
    case B_LT: return x < y;
    case B_GT: return x > y;
    case B_POW: return pow(x, y);
    case B_WHERE: break;
    }
    NNP_ASSERT(!"generic_op: not an arithmetic kind");
    return 0;
}

static void generic_row(int64_t n, void *o, const void *const *in, const int64_t *step,
                        const void *ctx)
{
    const struct bin_state *s = ctx;
    for (int64_t i = 0; i < n; i++) {
        double x = nnp_elem_get_f64(s->ta, in[0], i * step[0]);
        double y = nnp_elem_get_f64(s->tb, in[1], i * step[1]);
        nnp_elem_set_f64(s->tout, o, i, generic_op(s->kind, x, y));
    }
}

/* --- Pow --- */

static void pow_f32_f32(int64_t n, void *o_, const void *const *in, const int64_t *step,
                        const void *ctx)
{
    (void)ctx;
    float *o = o_;
    const float *a = in[0], *b = in[1];
    if (!step[0] && step[1]) {
        for (int64_t i = 0; i < n; i++)
            o[i] = powf(a[0], b[i]);
        return;
    }
    if (step[0] && !step[1]) { /* x^2 and x^0.5 are what models use, spare the libm call */
        float y = b[0];
        if (y == 2.0f) {
            for (int64_t i = 0; i < n; i++)
                o[i] = a[i] * a[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                o[i] = powf(a[i], y);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++)
        o[i] = powf(a[i * step[0]], b[i * step[1]]);
}

/* integer ^ integer, exactly, wrapping like the integer type does */
static int64_t ipow(int64_t x, int64_t e)
{
    if (e < 0) /* 1/x^|e| truncated */
        return x == 1 ? 1 : x == -1 ? ((-e) & 1 ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static void pow_int_int(int64_t n, void *o, const void *const *in, const int64_t *step,
                        const void *ctx)
{
    const struct bin_state *s = ctx;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = nnp_elem_get_i64(s->ta, in[0], i * step[0]);
        int64_t y = nnp_elem_get_i64(s->tb, in[1], i * step[1]);
        nnp_elem_set_i64(s->tout, o, i, ipow(x, y));
    }
}

/* --- Where --- */

static void where_row(int64_t n, void *o_, const void *const *in, const int64_t *step,
                      const void *ctx)
{
    const struct bin_state *s = ctx;
    const uint8_t *c = in[0];
    const char *x = in[1], *y = in[2];
    char *o = o_;
    size_t es = s->es_out;
    if (es == 4 && step[0] && step[1] && step[2]) {
        const float *xf = in[1], *yf = in[2];
        float *of = o_;
        for (int64_t i = 0; i < n; i++)
            of[i] = c[i] ? xf[i] : yf[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const char *src = c[i * step[0]] ? x + (size_t)(i * step[1]) * es
                                         : y + (size_t)(i * step[2]) * es;
        nnp_elem_copy(o + (size_t)i * es, src, es);
    }
}

/* --- prepare --- */

static const char *const kind_names[] = {"Add", "Sub", "Mul", "Div", "Max", "Min",
                                         "Equal", "Less", "Greater", "Pow", "Where"};

static int is_numeric(enum nnp_dtype t)
{
    return nnp_dtype_is_int(t) || t == NNP_DTYPE_F32 || t == NNP_DTYPE_F64 ||
           t == NNP_DTYPE_F16 || t == NNP_DTYPE_BF16;
}

/* Before opset 7, Add/Sub/Mul/Div/Pow/Equal/Less/Greater broadcast only when
 * broadcast=1, and then B's dims may sit at `axis` of A's rather than at the end. */
static enum nnp_status legacy_broadcast(const struct nnp_exec_node *n, struct bin_state *s)
{
    if (n->opset >= 7 || s->kind == B_WHERE || s->kind == B_MAX || s->kind == B_MIN ||
        n->n_in != 2)
        return NNP_OK;
    int64_t bc, axis;
    enum nnp_status st = nnp_opx_attr_int(n, "broadcast", 0, &bc);
    if (st == NNP_OK)
        st = nnp_opx_attr_int(n, "axis", INT64_MIN, &axis);
    if (st != NNP_OK || !bc || axis == INT64_MIN)
        return st; /* without an axis, suffix alignment is NumPy's */
    const struct nnp_rt_value *a = n->in[0], *b = n->in[1];
    int ax;
    st = nnp_opx_axis(n, "axis", axis, a->rank, &ax);
    if (st != NNP_OK)
        return st;
    NNP_OP_CHECK(n, ax + b->rank <= a->rank, "B (rank %d) does not fit in A (rank %d) at axis %d",
                 b->rank, a->rank, ax);
    s->legacy = true;
    s->legacy_b = *b;
    s->legacy_b.rank = a->rank;
    for (int i = 0; i < a->rank; i++)
        s->legacy_b.dims[i] = i >= ax && i < ax + b->rank ? b->dims[i - ax] : 1;
    return NNP_OK;
}

static enum nnp_status bin_prepare(struct nnp_exec_node *n, struct nnp_arena *arena,
                                   enum bin_kind kind)
{
    const char *op = kind_names[kind];
    int n_in = n->n_in;
    for (int k = 0; k < n_in; k++)
        if (!n->in[k])
            return nnp_op_error(n, "%s input %d is missing", op, k);
    struct bin_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->kind = kind;
    const struct nnp_rt_value *a = n->in[0];
    const struct nnp_rt_value *b = n_in > 1 ? n->in[1] : NULL;
    enum nnp_dtype out_t = a->dtype;

    if (kind == B_WHERE) {
        const struct nnp_rt_value *x = n->in[1], *y = n->in[2];
        NNP_OP_CHECK(n, a->dtype == NNP_DTYPE_BOOL, "Where condition must be bool, found %s",
                     nnp_dtype_name(a->dtype));
        NNP_OP_CHECK(n, x->dtype == y->dtype, "Where X and Y must have one dtype, found %s and %s",
                     nnp_dtype_name(x->dtype), nnp_dtype_name(y->dtype));
        enum nnp_status st = nnp_opx_fixed_size(n, x, "Where X");
        if (st != NNP_OK)
            return st;
        out_t = x->dtype;
        s->fn = where_row;
    } else if (kind == B_POW) {
        NNP_OP_CHECK(n, is_numeric(a->dtype) && is_numeric(b->dtype),
                     "Pow needs numeric inputs, found %s ^ %s", nnp_dtype_name(a->dtype),
                     nnp_dtype_name(b->dtype));
        if (a->dtype == NNP_DTYPE_F32 && b->dtype == NNP_DTYPE_F32)
            s->fn = pow_f32_f32;
        else if (nnp_dtype_is_int(a->dtype) && nnp_dtype_is_int(b->dtype))
            s->fn = pow_int_int;
        else
            s->fn = generic_row;
    } else {
        for (int k = 1; k < n_in; k++)
            NNP_OP_CHECK(n, n->in[k]->dtype == a->dtype,
                         "%s inputs must have one dtype, found %s and %s", op,
                         nnp_dtype_name(a->dtype), nnp_dtype_name(n->in[k]->dtype));
        enum nnp_dtype t = a->dtype;
        if (t == NNP_DTYPE_BOOL && kind == B_EQ)
            t = NNP_DTYPE_U8; /* bools are bytes of 0 and 1 */
        if (!is_numeric(t))
            return nnp_op_unsupported(n, "%s does not support %s tensors", op,
                                      nnp_dtype_name(a->dtype));
        s->fn = native[kind][t] ? native[kind][t] : generic_row;
        if (kind == B_EQ || kind == B_LT || kind == B_GT)
            out_t = NNP_DTYPE_BOOL;
    }
    s->ta = a->dtype;
    s->tb = b ? b->dtype : a->dtype;
    s->tout = out_t;

    /* the operands as broadcasting sees them */
    const struct nnp_rt_value *ops[NNP_BCAST_MAX_IN] = {a, b, n_in > 2 ? n->in[2] : NULL};
    enum nnp_status st = legacy_broadcast(n, s);
    if (st != NNP_OK)
        return st;
    if (s->legacy)
        ops[1] = &s->legacy_b;
    int rank;
    int64_t dims[NNP_MAX_RANK];
    if (n_in <= NNP_BCAST_MAX_IN)
        st = nnp_bcast_shape(n, n_in, ops, &rank, dims);
    else
        st = nnp_bcast_shape(n, n_in, (const struct nnp_rt_value *const *)n->in, &rank, dims);
    if (st != NNP_OK)
        return st;
    st = nnp_rt_set_shape(n->out[0], out_t, rank, dims);
    if (st != NNP_OK)
        return st;

    s->es_out = nnp_elem_size(out_t);
    for (int k = 0; k < n_in && k < NNP_BCAST_MAX_IN; k++)
        s->es[k] = nnp_elem_size(n->in[k]->dtype);
    if (kind == B_WHERE) {
        s->n_plans = 1;
        s->plans = nnp_arena_alloc(arena, sizeof *s->plans);
        nnp_bcast_init(&s->plans[0], rank, dims, 3, ops);
    } else if (n_in >= 2) {
        s->n_plans = n_in - 1;
        s->plans = nnp_arena_alloc(arena, (size_t)s->n_plans * sizeof *s->plans);
        nnp_bcast_init(&s->plans[0], rank, dims, 2, ops);
        for (int k = 2; k < n_in; k++) {
            const struct nnp_rt_value *pair[2] = {n->out[0], n->in[k]};
            nnp_bcast_init(&s->plans[k - 1], rank, dims, 2, pair);
        }
    }
    n->state = s;
    return NNP_OK;
}

/* --- forward and reference --- */

static enum nnp_status bin_forward(struct nnp_exec_node *n)
{
    const struct bin_state *s = n->state;
    struct nnp_rt_value *out = n->out[0];
    if (out->numel == 0)
        return NNP_OK;
    if (s->kind == B_WHERE) {
        const void *in[3] = {n->in[0]->data, n->in[1]->data, n->in[2]->data};
        nnp_bcast_run(&s->plans[0], out->data, s->es_out, in, s->es, s->fn, s);
        return NNP_OK;
    }
    if (n->n_in == 1) { /* Max/Min of one input (maybe in place: then nothing to do) */
        if (out->data != n->in[0]->data)
            memcpy(out->data, n->in[0]->data, out->nbytes);
        return NNP_OK;
    }
    const void *in[2] = {n->in[0]->data, n->in[1]->data};
    nnp_bcast_run(&s->plans[0], out->data, s->es_out, in, s->es, s->fn, s);
    for (int k = 2; k < n->n_in; k++) {
        const void *acc[2] = {out->data, n->in[k]->data};
        size_t es[2] = {s->es_out, s->es[0]};
        nnp_bcast_run(&s->plans[k - 1], out->data, s->es_out, acc, es, s->fn, s);
    }
    return NNP_OK;
}

/* One output element at a time from the unmerged shapes. */
static void ref_pass(const struct bin_state *s, struct nnp_rt_value *out, int count,
                     const struct nnp_rt_value *const *v, const size_t *es)
{
    static const int64_t ones[NNP_BCAST_MAX_IN] = {1, 1, 1};
    for (int64_t i = 0; i < out->numel; i++) {
        const void *p[NNP_BCAST_MAX_IN];
        for (int k = 0; k < count; k++)
            p[k] = (const char *)v[k]->data +
                   nnp_bcast_offset(out->rank, out->dims, v[k]->rank, v[k]->dims, i) *
                       (int64_t)es[k];
        s->fn(1, (char *)out->data + i * (int64_t)s->es_out, p, ones, s);
    }
}

static enum nnp_status bin_reference(struct nnp_exec_node *n)
{
    const struct bin_state *s = n->state;
    struct nnp_rt_value *out = n->out[0];
    if (out->numel == 0)
        return NNP_OK;
    if (s->kind == B_WHERE) {
        ref_pass(s, out, 3, (const struct nnp_rt_value *const *)n->in, s->es);
        return NNP_OK;
    }
    if (n->n_in == 1) {
        memcpy(out->data, n->in[0]->data, out->nbytes);
        return NNP_OK;
    }
    struct nnp_rt_value bb;
    const struct nnp_rt_value *ab[2] = {n->in[0], n->in[1]};
    if (s->legacy) {
        bb = s->legacy_b;
        bb.data = n->in[1]->data;
        ab[1] = &bb;
    }
    ref_pass(s, out, 2, ab, s->es);
    for (int k = 2; k < n->n_in; k++) {
        const struct nnp_rt_value *pair[2] = {out, n->in[k]};
        size_t es[2] = {s->es_out, s->es[0]};
        ref_pass(s, out, 2, pair, es);
    }
    return NNP_OK;
}

#define BIN_OP(Name, kind, in_lo, in_hi)                                                         \
    static enum nnp_status Name##_prepare(struct nnp_exec_node *n, struct nnp_arena *a)         \
    {                                                                                              \
        return bin_prepare(n, a, kind);                                                            \
    }                                                                                              \
    const struct nnp_op nnp_op_##Name = {.name = #Name,                                          \
                                         .min_in = in_lo,                                          \
                                         .max_in = in_hi,                                          \
                                         .min_out = 1,                                             \
                                         .max_out = 1,                                             \
                                         .prepare = Name##_prepare,                                \
                                         .forward = bin_forward,                                   \
                                         .reference = bin_reference,                               \
                                         .flags = NNP_OP_IN_PLACE};

BIN_OP(Add, B_ADD, 2, 2)
BIN_OP(Sub, B_SUB, 2, 2)
BIN_OP(Mul, B_MUL, 2, 2)
BIN_OP(Div, B_DIV, 2, 2)
BIN_OP(Pow, B_POW, 2, 2)
BIN_OP(Equal, B_EQ, 2, 2)
BIN_OP(Less, B_LT, 2, 2)
BIN_OP(Greater, B_GT, 2, 2)
BIN_OP(Max, B_MAX, 1, 2147483647)
BIN_OP(Min, B_MIN, 1, 2147483647)
BIN_OP(Where, B_WHERE, 3, 3)
