/* kernels/ops/op_unary.c — elementwise operators of one input: Relu, LeakyRelu,
 * Sigmoid, Tanh, Erf, Gelu, HardSigmoid, HardSwish, Sqrt, Exp, Log, Neg, Abs,
 * Reciprocal, Clip.
 *
 * One table row per operator: its float scalar function, and for the ops ONNX
 * defines on integers (Relu, Neg, Abs, Clip) an integer one. The reference
 * kernel calls the scalar function through the table for every element; the
 * forward kernel is the same function inlined into a loop of its own (one per
 * operator, generated), which the compiler vectorises where the function is
 * simple (Relu, LeakyRelu, Neg, Abs, Clip, HardSigmoid...); Exp, Erf, Sigmoid
 * and Gelu (exact) call the vectorised polynomials of vmath.c instead. float16,
 * bfloat16 and float64 are computed in float32 (within the tolerance their
 * consumers compare with; float64 models are rare in deployment); integer
 * types through int64, wrapping as the type does (Neg of INT_MIN is INT_MIN).
 *
 * NaN goes through every operator as NumPy lets it (Relu(NaN) = NaN,
 * Clip(NaN) = NaN): comparisons are written so that NaN fails them.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/ops/act.h"
#include "kernels/ops/op_tensor.h"
#include "kernels/simd/vmath.h"
#include "kernels/threads.h"

struct un_params {
    float alpha, beta; /* LeakyRelu alpha; HardSigmoid alpha, beta */
    float lo, hi;      /* Clip, float types */
    int64_t ilo, ihi;  /* Clip, integer types */
};

typedef float (*un_f32_fn)(float x, const struct un_params *p);
typedef int64_t (*un_i64_fn)(int64_t x, const struct un_params *p);
typedef void (*un_loop_fn)(int64_t n, float *o, const float *x, const struct un_params *p);

/* --- scalar functions --- */

static inline float relu_f(float x, const struct un_params *p)
{
    (void)p;
    return 0.0f > x ? 0.0f : x; /* maxps(0, x): NaN passes */
}
static inline float leakyrelu_f(float x, const struct un_params *p)
{
    float a = p->alpha; /* loaded unconditionally: then this form vectorises; NaN, -0 pass */
    return x * (x < 0.0f ? a : 1.0f);
}
static inline float sigmoid_f(float x, const struct un_params *p)
{
    (void)p;
    return 1.0f / (1.0f + expf(-x));
}
static inline float tanh_f(float x, const struct un_params *p)
{
    (void)p;
    return tanhf(x);
}
static inline float erf_f(float x, const struct un_params *p)
{
    (void)p;
    return erff(x);
}
static inline float gelu_f(float x, const struct un_params *p)
{
    (void)p;
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
static inline float gelu_tanh_f(float x, const struct un_params *p)
{
    (void)p; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
static inline float hard01(float v)
{
    v = 0.0f > v ? 0.0f : v;    /* maxps(0, v) */
    return 1.0f < v ? 1.0f : v; /* minps(1, v) */
}
static inline float hardsigmoid_f(float x, const struct un_params *p)
{
    return hard01(p->alpha * x + p->beta);
}
static inline float hardswish_f(float x, const struct un_params *p)
{
    (void)p;
    float h = hard01(x * (1.0f / 6.0f) + 0.5f);
    return h * x;
}
static inline float sqrt_f(float x, const struct un_params *p)
{
    (void)p;
    return sqrtf(x);
}
static inline float exp_f(float x, const struct un_params *p)
{
    (void)p;
    return expf(x);
}
static inline float log_f(float x, const struct un_params *p)
{
    (void)p;
    return logf(x);
}
static inline float neg_f(float x, const struct un_params *p)
{
    (void)p;
    return -x;
}
static inline float abs_f(float x, const struct un_params *p)
{
    (void)p;
    return fabsf(x);
}
static inline float reciprocal_f(float x, const struct un_params *p)
{
    (void)p;
    return 1.0f / x;
}
static inline float clip_f(float x, const struct un_params *p)
{
    x = x < p->lo ? p->lo : x; /* min > max gives max, as the spec says */
    return x > p->hi ? p->hi : x;
}

static int64_t relu_i(int64_t x, const struct un_params *p)
{
    (void)p;
    return x < 0 ? 0 : x;
}
static int64_t neg_i(int64_t x, const struct un_params *p)
{
    (void)p;
    return (int64_t)(0 - (uint64_t)x);
}
static int64_t abs_i(int64_t x, const struct un_params *p)
{
    (void)p;
    return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
}
static int64_t clip_i(int64_t x, const struct un_params *p)
{
    x = x < p->ilo ? p->ilo : x;
    return x > p->ihi ? p->ihi : x;
}

/* forward loops: the scalar function inlined, in blocks of NNP_VB so that GCC
 * vectorises the simple ones at -O2 (see op_tensor.h) */
#define UN_LOOP(name)                                                                              \
    static void name##_loop(int64_t n, float *o, const float *x, const struct un_params *pp)    \
    {                                                                                              \
        const struct un_params lp = *pp, *p = &lp; /* a local: stores to o cannot change it */    \
        int64_t i = 0;                                                                             \
        for (; i + NNP_VB <= n; i += NNP_VB) {                                                     \
            float v[NNP_VB];                                                                       \
            for (int k = 0; k < NNP_VB; k++)                                                       \
                v[k] = x[i + k];                                                                   \
            for (int k = 0; k < NNP_VB; k++)                                                       \
                o[i + k] = name##_f(v[k], p);                                                      \
        }                                                                                          \
        for (; i < n; i++)                                                                         \
            o[i] = name##_f(x[i], p);                                                              \
    }
UN_LOOP(relu)
UN_LOOP(leakyrelu)
UN_LOOP(tanh)
UN_LOOP(gelu_tanh)
UN_LOOP(hardsigmoid)
UN_LOOP(hardswish)
UN_LOOP(sqrt)
UN_LOOP(log)
UN_LOOP(neg)
UN_LOOP(abs)
UN_LOOP(reciprocal)
UN_LOOP(clip)

/* exp, erf and what is built on them: the vectorised polynomials of vmath.c
 * (<= 2 ulp from libm, checked by the unit tests) instead of a libm call per element */
#define UN_VLOOP(name)                                                                             \
    static void name##_loop(int64_t n, float *o, const float *x, const struct un_params *p)        \
    {                                                                                              \
        (void)p;                                                                                   \
        nnp_v##name(n, o, x);                                                                      \
    }
UN_VLOOP(sigmoid)
UN_VLOOP(erf)
UN_VLOOP(gelu)
UN_VLOOP(exp)

enum un_kind {
    U_RELU, U_LEAKYRELU, U_SIGMOID, U_TANH, U_ERF, U_GELU, U_GELU_TANH, U_HARDSIGMOID,
    U_HARDSWISH, U_SQRT, U_EXP, U_LOG, U_NEG, U_ABS, U_RECIPROCAL, U_CLIP, U_COUNT
};

/* integer support: what ONNX allows */
enum { INT_NONE, INT_SIGNED, INT_ALL };

static const struct un_def {
    const char *name;
    un_f32_fn f32;
    un_loop_fn loop;
    un_i64_fn i64;
    int ints;
} un_defs[U_COUNT] = {
    [U_RELU] = {"Relu", relu_f, relu_loop, relu_i, INT_SIGNED},
    [U_LEAKYRELU] = {"LeakyRelu", leakyrelu_f, leakyrelu_loop, NULL, INT_NONE},
    [U_SIGMOID] = {"Sigmoid", sigmoid_f, sigmoid_loop, NULL, INT_NONE},
    [U_TANH] = {"Tanh", tanh_f, tanh_loop, NULL, INT_NONE},
    [U_ERF] = {"Erf", erf_f, erf_loop, NULL, INT_NONE},
    [U_GELU] = {"Gelu", gelu_f, gelu_loop, NULL, INT_NONE},
    [U_GELU_TANH] = {"Gelu", gelu_tanh_f, gelu_tanh_loop, NULL, INT_NONE},
    [U_HARDSIGMOID] = {"HardSigmoid", hardsigmoid_f, hardsigmoid_loop, NULL, INT_NONE},
    [U_HARDSWISH] = {"HardSwish", hardswish_f, hardswish_loop, NULL, INT_NONE},
    [U_SQRT] = {"Sqrt", sqrt_f, sqrt_loop, NULL, INT_NONE},
    [U_EXP] = {"Exp", exp_f, exp_loop, NULL, INT_NONE},
    [U_LOG] = {"Log", log_f, log_loop, NULL, INT_NONE},
    [U_NEG] = {"Neg", neg_f, neg_loop, neg_i, INT_SIGNED},
    [U_ABS] = {"Abs", abs_f, abs_loop, abs_i, INT_ALL},
    [U_RECIPROCAL] = {"Reciprocal", reciprocal_f, reciprocal_loop, NULL, INT_NONE},
    [U_CLIP] = {"Clip", clip_f, clip_loop, clip_i, INT_ALL},
};

struct un_state {
    enum un_kind kind;
    enum nnp_dtype t;
    struct un_params p; /* Clip bounds from inputs are filled in at run time */
    bool clip_inputs;   /* Clip opset >= 11: min/max come from inputs 1 and 2 */
};

static int is_signed_int(enum nnp_dtype t)
{
    return t == NNP_DTYPE_I8 || t == NNP_DTYPE_I16 || t == NNP_DTYPE_I32 || t == NNP_DTYPE_I64;
}

static int is_unsigned_int(enum nnp_dtype t)
{
    return nnp_dtype_is_int(t) && !is_signed_int(t);
}

static enum nnp_status clip_bound_check(const struct nnp_exec_node *n, int k, const char *what)
{
    if (!nnp_opx_has(n, k))
        return NNP_OK;
    const struct nnp_rt_value *v = n->in[k];
    NNP_OP_CHECK(n, v->dtype == n->in[0]->dtype, "Clip %s must be %s like the input, found %s",
                 what, nnp_dtype_name(n->in[0]->dtype), nnp_dtype_name(v->dtype));
    NNP_OP_CHECK(n, v->numel == 1, "Clip %s must be a scalar, found %lld elements", what,
                 (long long)v->numel);
    return NNP_OK;
}

static enum nnp_status un_prepare(struct nnp_exec_node *n, struct nnp_arena *arena,
                                  enum un_kind kind)
{
    enum nnp_status st = nnp_opx_need(n, 0, "X");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    const struct un_def *d = &un_defs[kind];
    struct un_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->t = x->dtype;
    s->p.lo = -FLT_MAX;
    s->p.hi = FLT_MAX;
    s->p.ilo = INT64_MIN;
    s->p.ihi = INT64_MAX;

    bool is_float = nnp_dtype_is_float(x->dtype);
    bool int_ok = (d->ints == INT_ALL && nnp_dtype_is_int(x->dtype)) ||
                  (d->ints == INT_SIGNED && is_signed_int(x->dtype));
    if (!is_float && !int_ok)
        return nnp_op_unsupported(n, "%s does not support %s tensors (expected %s)", d->name,
                                  nnp_dtype_name(x->dtype),
                                  d->ints == INT_ALL      ? "a float or integer type"
                                  : d->ints == INT_SIGNED ? "a float or signed integer type"
                                                          : "a float type");

    switch (kind) {
    case U_LEAKYRELU: st = nnp_opx_attr_float(n, "alpha", 0.01f, &s->p.alpha); break;
    case U_HARDSIGMOID:
        st = nnp_opx_attr_float(n, "alpha", 0.2f, &s->p.alpha);
        if (st == NNP_OK)
            st = nnp_opx_attr_float(n, "beta", 0.5f, &s->p.beta);
        break;
    case U_GELU: {
        const char *approx;
        st = nnp_opx_attr_string(n, "approximate", "none", &approx);
        if (st != NNP_OK)
            break;
        if (strcmp(approx, "tanh") == 0)
            kind = U_GELU_TANH;
        else if (strcmp(approx, "none") != 0)
            return nnp_op_error(n, "Gelu approximate must be \"none\" or \"tanh\", found \"%s\"",
                                approx);
        break;
    }
    case U_CLIP:
        if (n->opset < 11) {
            NNP_OP_CHECK(n, n->n_in == 1, "Clip before opset 11 takes one input, found %d",
                         n->n_in);
            st = nnp_opx_attr_float(n, "min", -FLT_MAX, &s->p.lo);
            if (st == NNP_OK)
                st = nnp_opx_attr_float(n, "max", FLT_MAX, &s->p.hi);
            if (st == NNP_OK && !is_float)
                return nnp_op_unsupported(n, "Clip before opset 11 supports float types only");
        } else {
            s->clip_inputs = true;
            st = clip_bound_check(n, 1, "min");
            if (st == NNP_OK)
                st = clip_bound_check(n, 2, "max");
        }
        break;
    default: break;
    }
    if (st != NNP_OK)
        return st;
    if (kind == U_ABS && is_unsigned_int(x->dtype))
        kind = U_COUNT; /* |x| of an unsigned type is x: a copy */
    s->kind = kind;
    n->state = s;
    return nnp_rt_same_shape(n->out[0], x);
}

/* Clip's bounds for this run: inputs 1 and 2 when given. */
static struct un_params run_params(const struct nnp_exec_node *n, const struct un_state *s)
{
    struct un_params p = s->p;
    if (!s->clip_inputs)
        return p;
    if (nnp_opx_has(n, 1)) {
        if (nnp_dtype_is_float(s->t))
            p.lo = (float)nnp_elem_get_f64(s->t, n->in[1]->data, 0);
        else
            p.ilo = nnp_elem_get_i64(s->t, n->in[1]->data, 0);
    }
    if (nnp_opx_has(n, 2)) {
        if (nnp_dtype_is_float(s->t))
            p.hi = (float)nnp_elem_get_f64(s->t, n->in[2]->data, 0);
        else
            p.ihi = nnp_elem_get_i64(s->t, n->in[2]->data, 0);
    }
    return p;
}

/* Every non-float32 type, and the reference: one element at a time through the table. */
static void un_generic(const struct nnp_exec_node *n, const struct un_state *s,
                       const struct un_params *p)
{
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    const struct un_def *d = &un_defs[s->kind];
    if (s->t == NNP_DTYPE_F32) {
        const float *xf = x->data;
        float *yf = y->data;
        for (int64_t i = 0; i < x->numel; i++)
            yf[i] = d->f32(xf[i], p);
    } else if (nnp_dtype_is_float(s->t)) {
        for (int64_t i = 0; i < x->numel; i++) {
            float v = (float)nnp_elem_get_f64(s->t, x->data, i);
            nnp_elem_set_f64(s->t, y->data, i, d->f32(v, p));
        }
    } else {
        for (int64_t i = 0; i < x->numel; i++)
            nnp_elem_set_i64(s->t, y->data, i, d->i64(nnp_elem_get_i64(s->t, x->data, i), p));
    }
}

/* float32 tensors of this many elements and more are split over the pool in chunks
 * (each element is computed as on one thread: the same bits). Below, a hand-off costs
 * more than the loop. */
#define UN_PAR_MIN (1 << 16)
#define UN_CHUNK (1 << 14)

struct un_job {
    un_loop_fn loop;
    float *y;
    const float *x;
    const struct un_params *p;
    int64_t n;
};

static void un_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct un_job *j = ctx;
    int64_t i0 = begin * UN_CHUNK, i1 = end * UN_CHUNK < j->n ? end * UN_CHUNK : j->n;
    (void)tid;
    j->loop(i1 - i0, j->y + i0, j->x + i0, j->p);
}

static enum nnp_status un_forward(struct nnp_exec_node *n)
{
    const struct un_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (x->numel == 0)
        return NNP_OK;
    if (s->kind == U_COUNT) { /* |x| of an unsigned x: a copy, or nothing in place */
        if (y->data != x->data)
            memcpy(y->data, x->data, x->nbytes);
        return NNP_OK;
    }
    struct un_params p = run_params(n, s);
    if (s->t == NNP_DTYPE_F32 && x->numel >= UN_PAR_MIN && nnp_pool_threads(n->pool) > 1) {
        struct un_job j = {un_defs[s->kind].loop, y->data, x->data, &p, x->numel};
        nnp_parallel_for(n->pool, (x->numel + UN_CHUNK - 1) / UN_CHUNK, un_task, &j);
    } else if (s->t == NNP_DTYPE_F32)
        un_defs[s->kind].loop(x->numel, y->data, x->data, &p);
    else
        un_generic(n, s, &p);
    return NNP_OK;
}

static enum nnp_status un_reference(struct nnp_exec_node *n)
{
    const struct un_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    if (x->numel == 0)
        return NNP_OK;
    if (s->kind == U_COUNT) {
        if (n->out[0]->data != x->data)
            memcpy(n->out[0]->data, x->data, x->nbytes);
        return NNP_OK;
    }
    struct un_params p = run_params(n, s);
    un_generic(n, s, &p);
    return NNP_OK;
}

/* --- the activations other kernels fuse (act.h): the loops above, so that fused and
 * unfused give the same bits --- */

static const enum un_kind act_kinds[NNP_ACT_COUNT] = {
    [NNP_ACT_NONE] = U_COUNT,
    [NNP_ACT_RELU] = U_RELU,
    [NNP_ACT_LEAKY_RELU] = U_LEAKYRELU,
    [NNP_ACT_CLIP] = U_CLIP,
    [NNP_ACT_HARD_SIGMOID] = U_HARDSIGMOID,
    [NNP_ACT_HARD_SWISH] = U_HARDSWISH,
    [NNP_ACT_SIGMOID] = U_SIGMOID,
    [NNP_ACT_TANH] = U_TANH,
    [NNP_ACT_GELU] = U_GELU,
    [NNP_ACT_GELU_TANH] = U_GELU_TANH,
};

void nnp_act_apply(const struct nnp_act *a, int64_t n, float *y)
{
    NNP_ASSERT(a->kind >= 0 && a->kind < NNP_ACT_COUNT);
    enum un_kind k = act_kinds[a->kind];
    if (k == U_COUNT || n <= 0)
        return;
    struct un_params p = {.alpha = a->alpha, .beta = a->beta, .lo = a->alpha, .hi = a->beta};
    un_defs[k].loop(n, y, y, &p);
}

const char *nnp_act_name(enum nnp_act_kind kind)
{
    NNP_ASSERT(kind >= 0 && kind < NNP_ACT_COUNT);
    return kind == NNP_ACT_NONE ? "none" : un_defs[act_kinds[kind]].name;
}

bool nnp_act_of_node(const struct nnp_exec_node *n, struct nnp_act *out)
{
    const struct un_state *s = n->state;
    if (!n->op || n->op->prepare == NULL || !s || n->op->forward != un_forward ||
        s->t != NNP_DTYPE_F32)
        return false;
    *out = (struct nnp_act){NNP_ACT_NONE, 0, 0};
    for (int k = NNP_ACT_RELU; k < NNP_ACT_COUNT; k++)
        if (act_kinds[k] == s->kind)
            out->kind = (enum nnp_act_kind)k;
    if (out->kind == NNP_ACT_NONE)
        return false;
    struct un_params p = s->p;
    if (s->clip_inputs) { /* bounds from inputs: only constant ones are known now */
        for (int k = 1; k <= 2; k++)
            if (nnp_opx_has(n, k) && (!n->in[k]->is_const || !n->in[k]->data))
                return false;
        p = run_params(n, s);
    }
    out->alpha = out->kind == NNP_ACT_CLIP ? p.lo : p.alpha;
    out->beta = out->kind == NNP_ACT_CLIP ? p.hi : p.beta;
    return true;
}

#define UN_OP(Name, kind, in_hi)                                                                  \
    static enum nnp_status Name##_prepare(struct nnp_exec_node *n, struct nnp_arena *a)         \
    {                                                                                              \
        return un_prepare(n, a, kind);                                                             \
    }                                                                                              \
    const struct nnp_op nnp_op_##Name = {.name = #Name,                                          \
                                         .min_in = 1,                                              \
                                         .max_in = in_hi,                                          \
                                         .min_out = 1,                                             \
                                         .max_out = 1,                                             \
                                         .prepare = Name##_prepare,                                \
                                         .forward = un_forward,                                    \
                                         .reference = un_reference,                                \
                                         .flags = NNP_OP_IN_PLACE};

UN_OP(Relu, U_RELU, 1)
UN_OP(LeakyRelu, U_LEAKYRELU, 1)
UN_OP(Sigmoid, U_SIGMOID, 1)
UN_OP(Tanh, U_TANH, 1)
UN_OP(Erf, U_ERF, 1)
UN_OP(Gelu, U_GELU, 1)
UN_OP(HardSigmoid, U_HARDSIGMOID, 1)
UN_OP(HardSwish, U_HARDSWISH, 1)
UN_OP(Sqrt, U_SQRT, 1)
UN_OP(Exp, U_EXP, 1)
UN_OP(Log, U_LOG, 1)
UN_OP(Neg, U_NEG, 1)
UN_OP(Abs, U_ABS, 1)
UN_OP(Reciprocal, U_RECIPROCAL, 1)
UN_OP(Clip, U_CLIP, 3)
