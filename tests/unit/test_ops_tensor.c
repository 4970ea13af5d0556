/* tests/unit/test_ops_tensor.c — the tensor operators (op_unary.c, op_binary.c,
 * op_shape.c, op_slice.c, op_resize.c) driven one node at a time, without the
 * executor: each test builds the nnp_exec_node and nnp_rt_values by hand,
 * calls prepare, gives the outputs buffers, and runs forward (and reference).
 *
 * Fast kernels are checked against their reference kernels on odd shapes
 * (1, 7, 33, 129) so that every broadcast, merge and blocking path is taken;
 * the rest checks ONNX semantics the node tests do not reach (clamping, wrap,
 * float16 specials, errors). The vectorised exp and erf of vmath.c are swept
 * against double libm, and Softmax / LayerNormalization's fast rows are held to
 * their reference kernels here too.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops/op.h"
#include "kernels/ops/op_tensor.h"
#include "kernels/simd/vmath.h"

/* --- one node, by hand --- */

#define MAX_IO 6

struct fx {
    struct nnp_graph *g; /* holds the IR node and its attributes */
    struct nnp_arena *a; /* the "plan" arena prepare allocates from */
    struct nnp_node *node;
    const struct nnp_op *op;
    struct nnp_exec_node n;
    struct nnp_rt_value in[MAX_IO], out[MAX_IO];
    struct nnp_rt_value *pin[MAX_IO], *pout[MAX_IO];
};

static void fx_init(struct fx *f, const char *op, int n_in, int n_out, int64_t opset)
{
    memset(f, 0, sizeof *f);
    f->g = nnp_graph_new();
    f->a = nnp_arena_new();
    f->node = nnp_graph_add_node(f->g, op, "t0");
    f->op = nnp_op_find(op);
    cr_assert_not_null(f->op, "operator %s is not linked", op);
    f->n.node = f->node;
    f->n.op = f->op;
    f->n.n_in = n_in;
    f->n.n_out = n_out;
    f->n.in = f->pin;
    f->n.out = f->pout;
    f->n.opset = opset;
    f->n.threads = 1;
    for (int k = 0; k < n_out; k++) {
        f->out[k].name = "y";
        f->pout[k] = &f->out[k];
    }
}

static void fx_free(struct fx *f)
{
    nnp_graph_free(f->g);
    nnp_arena_free(f->a);
}

/* Input k: a copy of `data` (may be NULL: zeros) in the test arena. */
static struct nnp_rt_value *fx_in(struct fx *f, int k, enum nnp_dtype t, int rank,
                                  const int64_t *dims, const void *data, bool is_const)
{
    struct nnp_rt_value *v = &f->in[k];
    v->name = "x";
    cr_assert_eq(nnp_rt_set_shape(v, t, rank, dims), NNP_OK);
    v->data = nnp_arena_alloc(f->a, v->nbytes + 8);
    if (data && v->nbytes)
        memcpy(v->data, data, v->nbytes);
    v->is_const = is_const;
    f->pin[k] = v;
    return v;
}

static struct nnp_rt_value *fx_i64(struct fx *f, int k, int cnt, const int64_t *vals)
{
    int64_t d = cnt;
    return fx_in(f, k, NNP_DTYPE_I64, 1, &d, vals, true);
}

static void fx_attr_int(struct fx *f, const char *name, int64_t v)
{
    nnp_node_set_attr(f->g, f->node, name, NNP_ATTR_INT)->i = v;
}

static void fx_attr_float(struct fx *f, const char *name, float v)
{
    nnp_node_set_attr(f->g, f->node, name, NNP_ATTR_FLOAT)->f = v;
}

static void fx_attr_string(struct fx *f, const char *name, const char *s)
{
    struct nnp_attr *a = nnp_node_set_attr(f->g, f->node, name, NNP_ATTR_STRING);
    a->s.data = nnp_graph_strdup(f->g, s);
    a->s.len = strlen(s);
}

static void fx_attr_ints(struct fx *f, const char *name, int cnt, const int64_t *v)
{
    struct nnp_attr *a = nnp_node_set_attr(f->g, f->node, name, NNP_ATTR_INTS);
    a->n = cnt;
    a->ints = nnp_arena_alloc(f->g->arena, (size_t)(cnt ? cnt : 1) * sizeof *v);
    memcpy(a->ints, v, (size_t)cnt * sizeof *v);
}

/* prepare, then buffers for outputs prepare did not fill itself */
static enum nnp_status fx_prepare(struct fx *f)
{
    enum nnp_status st = f->op->prepare(&f->n, f->a);
    if (st != NNP_OK)
        return st;
    if (f->n.scratch_bytes)
        f->n.scratch = nnp_arena_alloc(f->a, f->n.scratch_bytes);
    for (int k = 0; k < f->n.n_out; k++) {
        struct nnp_rt_value *o = f->pout[k];
        if (o && !o->is_const) {
            o->data = nnp_arena_alloc(f->a, o->nbytes + 8);
            memset(o->data, 0xA5, o->nbytes); /* stale bytes: every element must be written */
        }
    }
    return NNP_OK;
}

static void fx_ok(struct fx *f)
{
    enum nnp_status st = fx_prepare(f);
    cr_assert_eq(st, NNP_OK, "prepare: %s", nnp_error_message());
    st = f->op->forward(&f->n);
    cr_assert_eq(st, NNP_OK, "forward: %s", nnp_error_message());
}

static void assert_dims(const struct nnp_rt_value *v, int rank, const int64_t *dims)
{
    char b[128];
    cr_assert_eq(v->rank, rank, "rank %d, want %d (%s)", v->rank, rank,
                 nnp_rt_shape_str(v, b, sizeof b));
    for (int i = 0; i < rank; i++)
        cr_assert_eq(v->dims[i], dims[i], "dim %d is %lld, want %lld (%s)", i,
                     (long long)v->dims[i], (long long)dims[i], nnp_rt_shape_str(v, b, sizeof b));
}

/* Run forward, keep its output 0, run reference, and require identical bytes. */
static void fx_fast_vs_ref(struct fx *f, const char *what)
{
    fx_ok(f);
    cr_assert_not_null(f->op->reference, "%s has no reference kernel", f->op->name);
    struct nnp_rt_value *y = f->pout[0];
    void *fast = malloc(y->nbytes + 1);
    memcpy(fast, y->data, y->nbytes);
    memset(y->data, 0x5A, y->nbytes);
    cr_assert_eq(f->op->reference(&f->n), NNP_OK, "reference: %s", nnp_error_message());
    size_t es = nnp_dtype_size(y->dtype);
    for (int64_t i = 0; i < y->numel; i++)
        if (memcmp((char *)fast + i * es, (char *)y->data + i * es, es) != 0) {
            if (y->dtype == NNP_DTYPE_F32) {
                float a = ((float *)fast)[i], b = ((float *)y->data)[i];
                cr_assert(fabsf(a - b) <= 1e-6f * (1 + fabsf(b)) || (isnan(a) && isnan(b)),
                          "%s: element %lld: fast %g, reference %g", what, (long long)i, a, b);
            } else {
                cr_assert_fail("%s: element %lld differs (%s)", what, (long long)i,
                               nnp_dtype_name(y->dtype));
            }
        }
    free(fast);
}

static uint32_t rng_state = 12345;
static float frand(void) /* in [-2, 2) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
}

static void fill_f32(struct nnp_rt_value *v)
{
    for (int64_t i = 0; i < v->numel; i++)
        ((float *)v->data)[i] = frand();
}

static const int64_t odd[] = {1, 7, 33, 129};

/* --- broadcasting --- */

static void bcast_case(int ra, const int64_t *da, int rb, const int64_t *db, int ry,
                       const int64_t *dy)
{
    struct fx f;
    fx_init(&f, "Add", 2, 1, 17);
    fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, ra, da, NULL, false));
    fill_f32(fx_in(&f, 1, NNP_DTYPE_F32, rb, db, NULL, false));
    fx_fast_vs_ref(&f, "Add");
    assert_dims(&f.out[0], ry, dy);
    fx_free(&f);
}

Test(broadcast, shapes)
{
    bcast_case(0, NULL, 2, (int64_t[]){2, 3}, 2, (int64_t[]){2, 3});             /* scalar */
    bcast_case(2, (int64_t[]){4, 5}, 1, (int64_t[]){5}, 2, (int64_t[]){4, 5});    /* row */
    bcast_case(2, (int64_t[]){4, 5}, 2, (int64_t[]){4, 1}, 2, (int64_t[]){4, 5}); /* column */
    bcast_case(3, (int64_t[]){2, 1, 3}, 2, (int64_t[]){4, 1}, 3,
               (int64_t[]){2, 4, 3}); /* rank mismatch, both sides broadcast */
    bcast_case(1, (int64_t[]){1}, 0, NULL, 1, (int64_t[]){1});
    bcast_case(2, (int64_t[]){0, 3}, 1, (int64_t[]){3}, 2, (int64_t[]){0, 3}); /* empty */
}

Test(broadcast, incompatible_is_an_error)
{
    struct fx f;
    fx_init(&f, "Mul", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3}, NULL, false);
    fx_in(&f, 1, NNP_DTYPE_F32, 1, (int64_t[]){4}, NULL, false);
    cr_assert_eq(fx_prepare(&f), NNP_ERR_INVALID);
    cr_assert(strstr(nnp_error_message(), "node t0") != NULL, "%s", nnp_error_message());
    cr_assert(strstr(nnp_error_message(), "[2,3] and [4] do not broadcast") != NULL, "%s",
              nnp_error_message());
    fx_free(&f);
}

Test(broadcast, column_against_naive_loop)
{
    for (int s = 0; s < 4; s++) {
        int64_t m = odd[s];
        struct fx f;
        fx_init(&f, "Sub", 2, 1, 17);
        struct nnp_rt_value *a = fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){m, 3}, NULL, false);
        struct nnp_rt_value *b = fx_in(&f, 1, NNP_DTYPE_F32, 2, (int64_t[]){m, 1}, NULL, false);
        fill_f32(a);
        fill_f32(b);
        fx_ok(&f);
        const float *pa = a->data, *pb = b->data, *py = f.out[0].data;
        for (int64_t i = 0; i < m; i++)
            for (int j = 0; j < 3; j++)
                cr_assert_eq(py[i * 3 + j], pa[i * 3 + j] - pb[i]);
        fx_free(&f);
    }
}

/* every binary op, every broadcast pattern, odd sizes: fast == reference */
Test(broadcast, fast_paths_match_reference)
{
    static const char *const ops[] = {"Add", "Sub", "Mul", "Div", "Pow",
                                      "Max", "Min", "Less", "Greater", "Equal"};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        for (int s = 0; s < 4; s++) {
            int64_t m = odd[s];
            struct {
                int ra, rb;
                int64_t da[3], db[3];
            } cases[] = {
                {2, 2, {m, 7}, {m, 7}},       /* same shape */
                {2, 0, {m, 7}, {0}},          /* scalar */
                {2, 1, {3, m}, {m}},          /* row */
                {2, 2, {m, 3}, {m, 1}},       /* column */
                {3, 3, {2, m, 3}, {2, 1, 3}}, /* middle */
                {2, 2, {m, 1}, {1, m}},       /* outer product */
                {1, 3, {m}, {2, 1, m}},       /* rank mismatch on the left */
            };
            for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                struct fx f;
                fx_init(&f, ops[o], 2, 1, 17);
                struct nnp_rt_value *a =
                    fx_in(&f, 0, NNP_DTYPE_F32, cases[c].ra, cases[c].da, NULL, false);
                struct nnp_rt_value *b =
                    fx_in(&f, 1, NNP_DTYPE_F32, cases[c].rb, cases[c].db, NULL, false);
                fill_f32(a);
                fill_f32(b);
                if (strcmp(ops[o], "Pow") == 0) /* positive bases */
                    for (int64_t i = 0; i < a->numel; i++)
                        ((float *)a->data)[i] = fabsf(((float *)a->data)[i]) + 0.1f;
                if (strcmp(ops[o], "Equal") == 0) /* some equal pairs */
                    for (int64_t i = 0; i < b->numel; i += 2)
                        ((float *)b->data)[i] = ((float *)a->data)[0];
                fx_fast_vs_ref(&f, ops[o]);
                fx_free(&f);
            }
        }
}

Test(broadcast, int64_and_variadic_and_where)
{
    for (int s = 0; s < 4; s++) {
        int64_t m = odd[s];
        /* int64 shape arithmetic, with divisions that truncate */
        struct fx f;
        fx_init(&f, "Div", 2, 1, 17);
        struct nnp_rt_value *a = fx_in(&f, 0, NNP_DTYPE_I64, 2, (int64_t[]){m, 5}, NULL, false);
        struct nnp_rt_value *b = fx_in(&f, 1, NNP_DTYPE_I64, 1, (int64_t[]){5}, NULL, false);
        for (int64_t i = 0; i < a->numel; i++)
            ((int64_t *)a->data)[i] = (int64_t)(frand() * 1000);
        int64_t den[5] = {3, -3, 7, 0, -1};
        memcpy(b->data, den, sizeof den);
        fx_fast_vs_ref(&f, "Div int64");
        const int64_t *pa = a->data, *py = f.out[0].data;
        cr_assert_eq(py[0], pa[0] / 3);
        cr_assert_eq(py[3], 0, "integer division by zero gives 0, not a trap");
        cr_assert_eq(py[4], -pa[4]);
        fx_free(&f);

        /* Max of three with different shapes */
        fx_init(&f, "Max", 3, 1, 17);
        fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){m}, NULL, false));
        fill_f32(fx_in(&f, 1, NNP_DTYPE_F32, 2, (int64_t[]){3, 1}, NULL, false));
        fill_f32(fx_in(&f, 2, NNP_DTYPE_F32, 3, (int64_t[]){2, 1, m}, NULL, false));
        fx_fast_vs_ref(&f, "Max");
        assert_dims(&f.out[0], 3, (int64_t[]){2, 3, m});
        fx_free(&f);

        /* Where on int64 and on float16 (2-byte elements) */
        enum nnp_dtype types[2] = {NNP_DTYPE_I64, NNP_DTYPE_F16};
        for (int t = 0; t < 2; t++) {
            fx_init(&f, "Where", 3, 1, 17);
            struct nnp_rt_value *c =
                fx_in(&f, 0, NNP_DTYPE_BOOL, 2, (int64_t[]){m, 1}, NULL, false);
            for (int64_t i = 0; i < c->numel; i++)
                ((uint8_t *)c->data)[i] = frand() > 0;
            struct nnp_rt_value *x = fx_in(&f, 1, types[t], 1, (int64_t[]){7}, NULL, false);
            struct nnp_rt_value *y = fx_in(&f, 2, types[t], 2, (int64_t[]){m, 7}, NULL, false);
            for (size_t i = 0; i < x->nbytes; i++)
                ((uint8_t *)x->data)[i] = (uint8_t)(i * 7 + 1);
            for (size_t i = 0; i < y->nbytes; i++)
                ((uint8_t *)y->data)[i] = (uint8_t)(i * 13 + 5);
            fx_fast_vs_ref(&f, "Where");
            fx_free(&f);
        }
    }
}

Test(broadcast, integer_wrap_and_nan)
{
    struct fx f;
    fx_init(&f, "Add", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_I32, 1, (int64_t[]){2}, (int32_t[]){INT32_MAX, INT32_MIN}, false);
    fx_in(&f, 1, NNP_DTYPE_I32, 0, NULL, (int32_t[]){1}, false);
    fx_ok(&f);
    cr_assert_eq(((int32_t *)f.out[0].data)[0], INT32_MIN, "Add wraps");
    fx_free(&f);

    fx_init(&f, "Div", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_I32, 1, (int64_t[]){2}, (int32_t[]){INT32_MIN, -7}, false);
    fx_in(&f, 1, NNP_DTYPE_I32, 1, (int64_t[]){2}, (int32_t[]){-1, 2}, false);
    fx_ok(&f);
    cr_assert_eq(((int32_t *)f.out[0].data)[0], INT32_MIN, "INT_MIN / -1 wraps, no trap");
    cr_assert_eq(((int32_t *)f.out[0].data)[1], -3, "truncates toward zero");
    fx_free(&f);

    fx_init(&f, "Max", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){NAN, 1}, false);
    fx_in(&f, 1, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, NAN}, false);
    fx_ok(&f);
    cr_assert(isnan(((float *)f.out[0].data)[0]) && isnan(((float *)f.out[0].data)[1]),
              "Max propagates NaN");
    fx_free(&f);

    /* Pow: float32 base, int64 exponent; int ^ int exactly */
    fx_init(&f, "Pow", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){3}, (float[]){2, -3, 0.5f}, false);
    fx_in(&f, 1, NNP_DTYPE_I64, 1, (int64_t[]){3}, (int64_t[]){10, 3, -2}, false);
    fx_ok(&f);
    cr_assert_eq(f.out[0].dtype, NNP_DTYPE_F32);
    cr_assert_eq(((float *)f.out[0].data)[0], 1024.0f);
    cr_assert_eq(((float *)f.out[0].data)[1], -27.0f);
    cr_assert_eq(((float *)f.out[0].data)[2], 4.0f);
    fx_free(&f);

    fx_init(&f, "Pow", 2, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){3, -2}, false);
    fx_in(&f, 1, NNP_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){39, 63}, false);
    fx_ok(&f);
    cr_assert_eq(((int64_t *)f.out[0].data)[0], 4052555153018976267LL);
    cr_assert_eq(((int64_t *)f.out[0].data)[1], INT64_MIN);
    fx_free(&f);
}

Test(broadcast, legacy_axis_before_opset_7)
{
    struct fx f;
    fx_init(&f, "Add", 2, 1, 6);
    fx_attr_int(&f, "broadcast", 1);
    fx_attr_int(&f, "axis", 1);
    struct nnp_rt_value *a = fx_in(&f, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, NULL, false);
    fx_in(&f, 1, NNP_DTYPE_F32, 1, (int64_t[]){3}, (float[]){10, 20, 30}, false);
    fill_f32(a);
    fx_fast_vs_ref(&f, "Add legacy");
    assert_dims(&f.out[0], 3, (int64_t[]){2, 3, 4});
    const float *pa = a->data, *py = f.out[0].data;
    cr_assert_eq(py[1 * 12 + 2 * 4 + 3], pa[1 * 12 + 2 * 4 + 3] + 30);
    fx_free(&f);
}

/* --- unary --- */

Test(unary, fast_matches_reference)
{
    static const char *const ops[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf",
                                      "Gelu", "HardSigmoid", "HardSwish", "Sqrt", "Exp",
                                      "Log", "Neg", "Abs", "Reciprocal", "Clip"};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        for (int s = 0; s < 4; s++) {
            struct fx f;
            bool clip = strcmp(ops[o], "Clip") == 0;
            fx_init(&f, ops[o], clip ? 3 : 1, 1, 17);
            struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_F32, 1, &odd[s], NULL, false);
            fill_f32(x);
            if (clip) {
                fx_in(&f, 1, NNP_DTYPE_F32, 0, NULL, (float[]){-0.5f}, false);
                fx_in(&f, 2, NNP_DTYPE_F32, 0, NULL, (float[]){0.75f}, false);
            }
            if (strcmp(ops[o], "Gelu") == 0 && s % 2)
                fx_attr_string(&f, "approximate", "tanh");
            fx_fast_vs_ref(&f, ops[o]);
            fx_free(&f);
        }
}

/* --- vmath.c: exp and erf against double libm --- */

/* |got - want| in units of the float ulp at want (subnormal spacing below FLT_MIN) */
static double ulps(float got, double want)
{
    double w = fabs(want), u = 0x1p-149;
    if (w >= FLT_MIN) {
        int e;
        frexp(w, &e);
        u = ldexp(1.0, e - 24);
    }
    return fabs((double)got - want) / u;
}

/* Every 64th float bit pattern (67M inputs, both signs, every exponent): the
 * bound the header promises. exp's results within half an ulp of overflow may
 * round to +inf (libm gives FLT_MAX); results below FLT_MIN are held to one
 * subnormal step. */
static void sweep(int isa)
{
    enum { CHUNK = 1 << 14, STEP = 64 };
    static float x[CHUNK], ye[CHUNK], yf[CHUNK];
    double worst_exp = 0, worst_erf = 0;
    float at_exp = 0, at_erf = 0;
    for (uint64_t base = 0; base < (1ull << 32); base += (uint64_t)CHUNK * STEP) {
        for (int i = 0; i < CHUNK; i++) {
            uint32_t bits = (uint32_t)(base + (uint64_t)i * STEP);
            memcpy(&x[i], &bits, sizeof bits);
        }
        nnp_vexp(CHUNK, ye, x);
        nnp_verf(CHUNK, yf, x);
        for (int i = 0; i < CHUNK; i++) {
            if (isnan(x[i])) {
                cr_assert(isnan(ye[i]) && isnan(yf[i]), "NaN in, not NaN out");
                continue;
            }
            double e = exp((double)x[i]), r = erf((double)x[i]);
            double ue;
            if (e > FLT_MAX)
                ue = (isinf(ye[i]) || e - ye[i] <= ldexp(1.0, 103)) ? 0 : INFINITY;
            else if (e < FLT_MIN)
                ue = fabs(ye[i] - e) <= 0x1p-149 ? 0 : INFINITY;
            else
                ue = ulps(ye[i], e);
            double uf = ulps(yf[i], r);
            if (ue > worst_exp)
                worst_exp = ue, at_exp = x[i];
            if (uf > worst_erf)
                worst_erf = uf, at_erf = x[i];
        }
    }
    cr_log_info("vmath (isa %d): exp max %.3f ulp at %a, erf max %.3f ulp at %a", isa, worst_exp,
                (double)at_exp, worst_erf, (double)at_erf);
    cr_assert(worst_exp <= 2.0, "exp: %.3f ulp at %a", worst_exp, (double)at_exp);
    cr_assert(worst_erf <= 2.0, "erf: %.3f ulp at %a", worst_erf, (double)at_erf);
}

/* every build this CPU can run: the baseline is what a machine without AVX2 gets */
Test(vmath, exp_erf_dense_sweep, .timeout = 300)
{
    for (int isa = NNP_VMATH_BASE; isa <= NNP_VMATH_AVX512; isa++)
        if (nnp_vmath_limit_isa(isa) == isa)
            sweep(isa);
    nnp_vmath_limit_isa(NNP_VMATH_AVX512);
}

Test(vmath, specials_and_tails)
{
    cr_assert_eq(nnp_expf_v(INFINITY), INFINITY);
    cr_assert_eq(nnp_expf_v(-INFINITY), 0.0f);
    cr_assert_eq(nnp_expf_v(89.0f), INFINITY);
    cr_assert_eq(nnp_expf_v(-110.0f), 0.0f);
    cr_assert_eq(nnp_expf_v(0.0f), 1.0f);
    cr_assert_eq(nnp_erff_v(INFINITY), 1.0f);
    cr_assert_eq(nnp_erff_v(-INFINITY), -1.0f);
    cr_assert_eq(nnp_erff_v(0.0f), 0.0f);
    cr_assert(signbit(nnp_erff_v(-0.0f)), "erf(-0) is -0");
    cr_assert(isnan(nnp_expf_v(NAN)) && isnan(nnp_erff_v(NAN)));
    /* a row's tail goes through a padded block: same value wherever an element sits */
    for (int s = 0; s < 4; s++) {
        int64_t n = odd[s];
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        for (int64_t i = 0; i < n; i++)
            x[i] = frand() * 20.0f;
        nnp_verf(n, y, x);
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(y[i], nnp_erff_v(x[i]), "erf n=%lld i=%lld", (long long)n, (long long)i);
        nnp_vexp(n, y, x);
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(y[i], nnp_expf_v(x[i]), "exp n=%lld i=%lld", (long long)n, (long long)i);
        /* one row of n, against the formula with the same exp */
        nnp_vsoftmax_rows(1, n, y, x);
        float mx = -INFINITY;
        double sum = 0;
        for (int64_t i = 0; i < n; i++)
            mx = x[i] > mx ? x[i] : mx;
        for (int64_t i = 0; i < n; i++)
            sum += nnp_expf_v(x[i] - mx);
        for (int64_t i = 0; i < n; i++) {
            double want = nnp_expf_v(x[i] - mx) / sum;
            cr_assert(fabs(y[i] - want) <= 1e-6 * want + 1e-30,
                      "softmax n=%lld i=%lld: %g, want %g", (long long)n, (long long)i,
                      (double)y[i], want);
        }
        free(x);
        free(y);
    }
}

/* Softmax / LogSoftmax along each axis and LayerNormalization rows of odd lengths */
Test(norm, fast_matches_reference)
{
    for (int s = 0; s < 4; s++)
        for (int axis = 0; axis < 2; axis++)
            for (int lg = 0; lg < 2; lg++) {
                struct fx f;
                fx_init(&f, lg ? "LogSoftmax" : "Softmax", 1, 1, 13);
                fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, odd[s]}, NULL, false));
                fx_attr_int(&f, "axis", axis);
                fx_fast_vs_ref(&f, lg ? "LogSoftmax" : "Softmax");
                fx_free(&f);
            }
    for (int s = 0; s < 4; s++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            struct fx f;
            fx_init(&f, "LayerNormalization", 2 + with_bias, 3, 17);
            int64_t dims[2] = {5, odd[s]};
            struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_F32, 2, dims, NULL, false);
            fill_f32(x);
            for (int64_t i = 0; i < x->numel; i++) /* an offset the mean must remove */
                ((float *)x->data)[i] += 10.0f;
            fill_f32(fx_in(&f, 1, NNP_DTYPE_F32, 1, &odd[s], NULL, false));
            if (with_bias)
                fill_f32(fx_in(&f, 2, NNP_DTYPE_F32, 1, &odd[s], NULL, false));
            f.out[1].name = "mean";
            f.out[2].name = "istd";
            fx_fast_vs_ref(&f, "LayerNormalization");
            fx_free(&f);
        }
}

Test(unary, values)
{
    struct fx f;
    fx_init(&f, "Relu", 1, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){3}, (float[]){-1, 2, NAN}, false);
    fx_ok(&f);
    const float *y = f.out[0].data;
    cr_assert(y[0] == 0 && y[1] == 2 && isnan(y[2]));
    fx_free(&f);

    fx_init(&f, "Clip", 3, 1, 17); /* min > max: everything becomes max */
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){-5, 5}, false);
    fx_in(&f, 1, NNP_DTYPE_F32, 0, NULL, (float[]){2}, false);
    fx_in(&f, 2, NNP_DTYPE_F32, 0, NULL, (float[]){1}, false);
    fx_ok(&f);
    cr_assert(((float *)f.out[0].data)[0] == 1 && ((float *)f.out[0].data)[1] == 1);
    fx_free(&f);

    fx_init(&f, "Clip", 1, 1, 6); /* attributes before opset 11 */
    fx_attr_float(&f, "min", -1);
    fx_attr_float(&f, "max", 1);
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){3}, (float[]){-5, 0.5f, 5}, false);
    fx_ok(&f);
    y = f.out[0].data;
    cr_assert(y[0] == -1 && y[1] == 0.5f && y[2] == 1);
    fx_free(&f);

    fx_init(&f, "Neg", 1, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_I32, 1, (int64_t[]){2}, (int32_t[]){INT32_MIN, 5}, false);
    fx_ok(&f);
    cr_assert(((int32_t *)f.out[0].data)[0] == INT32_MIN && ((int32_t *)f.out[0].data)[1] == -5);
    fx_free(&f);

    fx_init(&f, "Abs", 1, 1, 17);
    fx_in(&f, 0, NNP_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){-7, 7}, false);
    fx_ok(&f);
    cr_assert(((int64_t *)f.out[0].data)[0] == 7 && ((int64_t *)f.out[0].data)[1] == 7);
    fx_free(&f);

    fx_init(&f, "Sigmoid", 1, 1, 17); /* integers are refused with a message */
    fx_in(&f, 0, NNP_DTYPE_I32, 1, (int64_t[]){2}, NULL, false);
    cr_assert_eq(fx_prepare(&f), NNP_ERR_UNSUPPORTED);
    cr_assert(strstr(nnp_error_message(), "Sigmoid does not support int32") != NULL, "%s",
              nnp_error_message());
    fx_free(&f);
}

/* --- Cast --- */

static uint16_t cast_f32_to_f16(float v)
{
    struct fx f;
    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 10);
    fx_in(&f, 0, NNP_DTYPE_F32, 0, NULL, &v, false);
    fx_ok(&f);
    uint16_t h = *(uint16_t *)f.out[0].data;
    fx_free(&f);
    return h;
}

static float cast_f16_to_f32(uint16_t h)
{
    struct fx f;
    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 1);
    fx_in(&f, 0, NNP_DTYPE_F16, 0, NULL, &h, false);
    fx_ok(&f);
    float v = *(float *)f.out[0].data;
    fx_free(&f);
    return v;
}

Test(cast, float16_specials_round_trip)
{
    struct {
        float v;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {65504.0f, 0x7bff}, /* largest half */
        {65520.0f, 0x7c00}, /* halfway to 65536: rounds to even, which is inf */
        {-1e6f, 0xfc00},
        {INFINITY, 0x7c00},
        {-INFINITY, 0xfc00},
        {0x1p-24f, 0x0001},     /* smallest subnormal */
        {0x1p-14f, 0x0400},     /* smallest normal */
        {0x1.ff8p-15f, 0x03ff}, /* largest subnormal */
        {0x1p-25f, 0x0000},     /* tie: to even (0) */
        {0x1.8p-24f, 0x0002},   /* tie: to even (2) */
        {-0x1p-24f, 0x8001},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t h = cast_f32_to_f16(cases[i].v);
        cr_assert_eq(h, cases[i].h, "%a -> 0x%04x, want 0x%04x", (double)cases[i].v, h,
                     cases[i].h);
        float back = cast_f16_to_f32(h);
        if (h != 0x7c00 && h != 0xfc00 && cases[i].v != 0x1p-25f && cases[i].v != 0x1.8p-24f &&
            cases[i].v != 65520.0f && cases[i].v != -1e6f)
            cr_assert_eq(back, cases[i].v, "0x%04x -> %a, want %a", h, (double)back,
                         (double)cases[i].v);
    }
    uint16_t h = cast_f32_to_f16(NAN);
    cr_assert((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0, "NaN -> 0x%04x is not a NaN", h);
    cr_assert(isnan(cast_f16_to_f32(0x7e00)));
    cr_assert(isinf(cast_f16_to_f32(0xfc00)) && cast_f16_to_f32(0xfc00) < 0);
    /* every half survives half -> float -> half */
    for (uint32_t b = 0; b < 0x10000; b++) {
        if ((b & 0x7c00) == 0x7c00 && (b & 0x3ff))
            continue; /* NaN payloads need not survive */
        float v = nnp_f16_to_f32((uint16_t)b);
        cr_assert_eq(nnp_f32_to_f16(v), b, "0x%04x does not round-trip", b);
    }
}

Test(cast, double_to_half_rounds_once)
{
    /* 1 + 2^-11 + 2^-40: just above the tie between 1 and 1 + 2^-10. Via float
     * the 2^-40 would be lost and the tie would round down to 1. */
    struct fx f;
    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 10);
    double v[3] = {1.0 + 0x1p-11 + 0x1p-40, 1.0 + 0x1p-11, 1e300};
    fx_in(&f, 0, NNP_DTYPE_F64, 1, (int64_t[]){3}, v, false);
    fx_ok(&f);
    const uint16_t *h = f.out[0].data;
    cr_assert_eq(h[0], 0x3c01);
    cr_assert_eq(h[1], 0x3c00);
    cr_assert_eq(h[2], 0x7c00);
    fx_free(&f);
}

Test(cast, integers_and_bools)
{
    struct fx f;
    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 6); /* int32 */
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){4}, (float[]){-2.7f, 2.7f, NAN, 1e6f}, false);
    fx_fast_vs_ref(&f, "Cast f32->i32");
    const int32_t *i = f.out[0].data;
    cr_assert(i[0] == -2 && i[1] == 2 && i[2] == 0 && i[3] == 1000000);
    fx_free(&f);

    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 3); /* int8: wraps as C and NumPy do */
    fx_in(&f, 0, NNP_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){300, -129}, false);
    fx_fast_vs_ref(&f, "Cast i64->i8");
    cr_assert(((int8_t *)f.out[0].data)[0] == 44 && ((int8_t *)f.out[0].data)[1] == 127);
    fx_free(&f);

    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 9); /* bool */
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){3}, (float[]){0.0f, -0.5f, NAN}, false);
    fx_ok(&f);
    const uint8_t *b = f.out[0].data;
    cr_assert(b[0] == 0 && b[1] == 1 && b[2] == 1);
    fx_free(&f);

    /* round trips that must be exact */
    enum nnp_dtype types[] = {NNP_DTYPE_F64, NNP_DTYPE_I64, NNP_DTYPE_I32, NNP_DTYPE_F32};
    int64_t src[5] = {0, 1, -1, 123456789, -(1LL << 40)};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        fx_init(&f, "Cast", 1, 1, 17);
        fx_attr_int(&f, "to", nnp_dtype_onnx(types[t]));
        fx_in(&f, 0, NNP_DTYPE_I64, 1, (int64_t[]){5}, src, false);
        fx_ok(&f);
        struct fx g;
        fx_init(&g, "Cast", 1, 1, 17);
        fx_attr_int(&g, "to", 7);
        fx_in(&g, 0, types[t], 1, (int64_t[]){5}, f.out[0].data, false);
        fx_ok(&g);
        const int64_t *back = g.out[0].data;
        for (int k = 0; k < 5; k++) {
            int64_t want = src[k];
            if (types[t] == NNP_DTYPE_I32)
                want = (int32_t)(uint32_t)want;
            if (types[t] == NNP_DTYPE_F32)
                want = (int64_t)(float)want;
            cr_assert_eq(back[k], want, "int64 -> %s -> int64: %lld, want %lld",
                         nnp_dtype_name(types[t]), (long long)back[k], (long long)want);
        }
        fx_free(&g);
        fx_free(&f);
    }

    fx_init(&f, "Cast", 1, 1, 17);
    fx_attr_int(&f, "to", 8); /* string */
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){1}, NULL, false);
    cr_assert_eq(fx_prepare(&f), NNP_ERR_UNSUPPORTED);
    fx_free(&f);
}

/* --- Reshape and friends --- */

static enum nnp_status reshape(const int64_t *in_dims, int in_rank, const int64_t *shape,
                               int cnt, int64_t allowzero, struct nnp_rt_value *out)
{
    struct fx f;
    fx_init(&f, "Reshape", 2, 1, 14);
    if (allowzero >= 0)
        fx_attr_int(&f, "allowzero", allowzero);
    fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, in_rank, in_dims, NULL, false));
    fx_i64(&f, 1, cnt, shape);
    enum nnp_status st = fx_prepare(&f);
    if (st == NNP_OK) {
        cr_assert_eq(f.op->forward(&f.n), NNP_OK);
        cr_assert_eq(memcmp(f.out[0].data, f.in[0].data, f.in[0].nbytes), 0);
        cr_assert_neq(f.out[0].data, f.in[0].data, "Reshape copies, it does not alias");
        *out = f.out[0];
    }
    fx_free(&f);
    return st;
}

Test(reshape, zero_minus_one_allowzero)
{
    struct nnp_rt_value y;
    const int64_t x234[3] = {2, 3, 4};
    cr_assert_eq(reshape(x234, 3, (int64_t[]){0, -1}, 2, -1, &y), NNP_OK);
    assert_dims(&y, 2, (int64_t[]){2, 12});
    cr_assert_eq(reshape(x234, 3, (int64_t[]){-1, 0, 2}, 3, -1, &y), NNP_OK);
    assert_dims(&y, 3, (int64_t[]){4, 3, 2});
    cr_assert_eq(reshape(x234, 3, (int64_t[]){0, 0, 0}, 3, 0, &y), NNP_OK);
    assert_dims(&y, 3, x234);
    cr_assert_eq(reshape(x234, 3, (int64_t[]){24}, 1, -1, &y), NNP_OK);
    cr_assert_eq(reshape(x234, 3, NULL, 0, -1, &y), NNP_ERR_INVALID, "24 elements to a scalar");
    /* allowzero: 0 is a zero-sized dim */
    const int64_t x03[2] = {0, 3};
    cr_assert_eq(reshape(x03, 2, (int64_t[]){3, 0}, 2, 1, &y), NNP_OK);
    assert_dims(&y, 2, (int64_t[]){3, 0});
    cr_assert_eq(reshape(x03, 2, (int64_t[]){3, 0}, 2, 0, &y), NNP_ERR_INVALID,
                 "without allowzero, 0 copies the input's 3: 9 elements for 0");
    cr_assert_eq(reshape(x03, 2, (int64_t[]){0, -1}, 2, 1, &y), NNP_ERR_INVALID);
    cr_assert(strstr(nnp_error_message(), "both 0 and -1") != NULL, "%s", nnp_error_message());
    /* errors */
    cr_assert_eq(reshape(x234, 3, (int64_t[]){-1, -1}, 2, -1, &y), NNP_ERR_INVALID);
    cr_assert_eq(reshape(x234, 3, (int64_t[]){5, -1}, 2, -1, &y), NNP_ERR_INVALID);
    cr_assert(strstr(nnp_error_message(), "cannot infer the -1") != NULL, "%s",
              nnp_error_message());
    cr_assert_eq(reshape(x234, 3, (int64_t[]){2, -2}, 2, -1, &y), NNP_ERR_INVALID);
}

Test(reshape, runtime_shape_is_unsupported)
{
    struct fx f;
    fx_init(&f, "Reshape", 2, 1, 14);
    fx_in(&f, 0, NNP_DTYPE_F32, 1, (int64_t[]){6}, NULL, false);
    fx_in(&f, 1, NNP_DTYPE_I64, 1, (int64_t[]){2}, (int64_t[]){2, 3}, false); /* not constant */
    cr_assert_eq(fx_prepare(&f), NNP_ERR_UNSUPPORTED);
    cr_assert(strstr(nnp_error_message(), "Reshape's shape") != NULL, "%s", nnp_error_message());
    fx_free(&f);
}

Test(shape_ops, squeeze_unsqueeze_flatten_shape)
{
    struct fx f;
    fx_init(&f, "Unsqueeze", 2, 1, 13);
    fx_in(&f, 0, NNP_DTYPE_I64, 2, (int64_t[]){3, 4}, NULL, false);
    fx_i64(&f, 1, 3, (int64_t[]){-1, 0, 2});
    fx_ok(&f);
    assert_dims(&f.out[0], 5, (int64_t[]){1, 3, 1, 4, 1});
    fx_free(&f);

    fx_init(&f, "Unsqueeze", 1, 1, 11); /* attribute before opset 13 */
    fx_attr_ints(&f, "axes", 1, (int64_t[]){1});
    fx_in(&f, 0, NNP_DTYPE_F16, 1, (int64_t[]){3}, NULL, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 2, (int64_t[]){3, 1});
    fx_free(&f);

    fx_init(&f, "Squeeze", 1, 1, 13); /* no axes: every 1 goes */
    fx_in(&f, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 1, 2}, NULL, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 2, (int64_t[]){3, 2});
    fx_free(&f);

    fx_init(&f, "Squeeze", 2, 1, 13);
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){1, 3}, NULL, false);
    fx_i64(&f, 1, 1, (int64_t[]){1});
    cr_assert_eq(fx_prepare(&f), NNP_ERR_INVALID, "axis 1 has size 3");
    fx_free(&f);

    fx_init(&f, "Flatten", 1, 1, 13);
    fx_attr_int(&f, "axis", -1);
    fx_in(&f, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, NULL, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 2, (int64_t[]){6, 4});
    fx_free(&f);

    fx_init(&f, "Shape", 1, 1, 15);
    fx_attr_int(&f, "start", -2);
    fx_attr_int(&f, "end", 100);
    fx_in(&f, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, NULL, false);
    cr_assert_eq(fx_prepare(&f), NNP_OK);
    cr_assert(f.out[0].is_const && f.out[0].data, "Shape is folded in prepare");
    assert_dims(&f.out[0], 1, (int64_t[]){2});
    cr_assert(((int64_t *)f.out[0].data)[0] == 3 && ((int64_t *)f.out[0].data)[1] == 4);
    fx_free(&f);
}

Test(shape_ops, expand_matches_reference)
{
    for (int s = 0; s < 4; s++) {
        int64_t m = odd[s];
        struct fx f;
        fx_init(&f, "Expand", 2, 1, 13);
        struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_I64, 2, (int64_t[]){m, 1}, NULL, false);
        for (int64_t i = 0; i < m; i++)
            ((int64_t *)x->data)[i] = i * 1000003;
        fx_i64(&f, 1, 3, (int64_t[]){2, 1, 5});
        fx_fast_vs_ref(&f, "Expand");
        assert_dims(&f.out[0], 3, (int64_t[]){2, m, 5});
        fx_free(&f);
    }
}

/* --- Transpose --- */

Test(transpose, fast_paths_match_reference)
{
    static const int64_t perms[][4] = {{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 1, 0, 2},
                                       {0, 1, 2, 3}, {2, 0, 1, 3}, {1, 0, 3, 2}};
    enum nnp_dtype types[] = {NNP_DTYPE_F32, NNP_DTYPE_I64, NNP_DTYPE_F16, NNP_DTYPE_BOOL};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        for (int s = 0; s < 4; s++) {
            int64_t m = odd[s];
            /* 2-D */
            struct fx f;
            fx_init(&f, "Transpose", 1, 1, 13);
            struct nnp_rt_value *x = fx_in(&f, 0, types[t], 2, (int64_t[]){m, 33}, NULL, false);
            for (size_t i = 0; i < x->nbytes; i++)
                ((uint8_t *)x->data)[i] = (uint8_t)(i * 31 + 7);
            fx_fast_vs_ref(&f, "Transpose 2-D");
            assert_dims(&f.out[0], 2, (int64_t[]){33, m});
            fx_free(&f);
            /* 4-D */
            for (size_t p = 0; p < sizeof perms / sizeof *perms; p++) {
                fx_init(&f, "Transpose", 1, 1, 13);
                fx_attr_ints(&f, "perm", 4, perms[p]);
                x = fx_in(&f, 0, types[t], 4, (int64_t[]){2, 3, m, 7}, NULL, false);
                for (size_t i = 0; i < x->nbytes; i++)
                    ((uint8_t *)x->data)[i] = (uint8_t)(i * 17 + 3);
                fx_fast_vs_ref(&f, "Transpose 4-D");
                fx_free(&f);
            }
        }
    /* attention's heads, [B,16,4,d] -> [B,4,16,d]: contiguous runs of d, short ones
     * moved without memcpy calls */
    static const int64_t run[] = {1, 7, 12, 17, 33, 129};
    for (size_t s = 0; s < sizeof run / sizeof *run; s++) {
        struct fx f;
        fx_init(&f, "Transpose", 1, 1, 13);
        fx_attr_ints(&f, "perm", 4, (int64_t[]){0, 2, 1, 3});
        fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, 4, (int64_t[]){3, 16, 4, run[s]}, NULL, false));
        fx_fast_vs_ref(&f, "Transpose heads");
        fx_free(&f);
    }
}

/* --- Slice --- */

static void slice_1d(int64_t d, int64_t start, int64_t end, int64_t step, int cnt,
                     const int64_t *want)
{
    struct fx f;
    fx_init(&f, "Slice", 5, 1, 13);
    struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_I32, 1, &d, NULL, false);
    for (int64_t i = 0; i < d; i++)
        ((int32_t *)x->data)[i] = (int32_t)i;
    fx_i64(&f, 1, 1, &start);
    fx_i64(&f, 2, 1, &end);
    fx_i64(&f, 3, 1, (int64_t[]){0});
    fx_i64(&f, 4, 1, &step);
    fx_fast_vs_ref(&f, "Slice");
    cr_assert_eq(f.out[0].numel, cnt, "slice [%lld:%lld:%lld] of %lld: %lld elements, want %d",
                 (long long)start, (long long)end, (long long)step, (long long)d,
                 (long long)f.out[0].numel, cnt);
    for (int i = 0; i < cnt; i++)
        cr_assert_eq(((int32_t *)f.out[0].data)[i], want[i]);
    fx_free(&f);
}

Test(slice, negative_steps_and_clamping)
{
    slice_1d(10, 20, -100, -3, 4, (int64_t[]){9, 6, 3, 0});
    slice_1d(10, -1, INT64_MIN, -1, 10, (int64_t[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
    slice_1d(10, -100, 100, 4, 3, (int64_t[]){0, 4, 8});
    slice_1d(10, 5, 5, -1, 0, NULL);
    slice_1d(10, 2, 8, -1, 0, NULL);
    slice_1d(10, -3, INT64_MAX, 1, 3, (int64_t[]){7, 8, 9});
    slice_1d(10, 8, 2, -2, 3, (int64_t[]){8, 6, 4});
    slice_1d(10, 10, 0, -1, 9, (int64_t[]){9, 8, 7, 6, 5, 4, 3, 2, 1});
    slice_1d(1, 0, -1, -1, 0, NULL);
}

Test(slice, nd_matches_reference)
{
    for (int s = 0; s < 4; s++) {
        int64_t m = odd[s];
        struct fx f;
        fx_init(&f, "Slice", 5, 1, 13);
        struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_F16, 3, (int64_t[]){4, m, 9}, NULL, false);
        for (size_t i = 0; i < x->nbytes; i++)
            ((uint8_t *)x->data)[i] = (uint8_t)(i * 29 + 1);
        fx_i64(&f, 1, 2, (int64_t[]){-1, 1});
        fx_i64(&f, 2, 2, (int64_t[]){INT64_MIN, 100});
        fx_i64(&f, 3, 2, (int64_t[]){-1, 0}); /* negative axis */
        fx_i64(&f, 4, 2, (int64_t[]){-2, 2});
        fx_fast_vs_ref(&f, "Slice 3-D");
        assert_dims(&f.out[0], 3, (int64_t[]){2, m, 5});
        fx_free(&f);
    }
    struct fx f; /* opset 1: attributes */
    fx_init(&f, "Slice", 1, 1, 9);
    fx_attr_ints(&f, "starts", 1, (int64_t[]){1});
    fx_attr_ints(&f, "ends", 1, (int64_t[]){-1});
    fx_attr_ints(&f, "axes", 1, (int64_t[]){1});
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 5}, NULL, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 2, (int64_t[]){2, 3});
    fx_free(&f);
}

/* --- Gather --- */

Test(gather, negative_index_and_out_of_range)
{
    struct fx f;
    fx_init(&f, "Gather", 2, 1, 13);
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 2}, (float[]){1, 2, 3, 4, 5, 6}, false);
    fx_in(&f, 1, NNP_DTYPE_I32, 2, (int64_t[]){2, 2}, (int32_t[]){-1, 0, 1, -3}, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 3, (int64_t[]){2, 2, 2});
    const float want[8] = {5, 6, 1, 2, 3, 4, 1, 2};
    cr_assert_eq(memcmp(f.out[0].data, want, sizeof want), 0);
    fx_free(&f);

    fx_init(&f, "Gather", 2, 1, 13); /* axis 1, int64 data, scalar index */
    fx_attr_int(&f, "axis", -1);
    fx_in(&f, 0, NNP_DTYPE_I64, 2, (int64_t[]){2, 3}, (int64_t[]){1, 2, 3, 4, 5, 6}, false);
    fx_in(&f, 1, NNP_DTYPE_I64, 0, NULL, (int64_t[]){-2}, false);
    fx_ok(&f);
    assert_dims(&f.out[0], 1, (int64_t[]){2});
    cr_assert(((int64_t *)f.out[0].data)[0] == 2 && ((int64_t *)f.out[0].data)[1] == 5);
    fx_free(&f);

    fx_init(&f, "Gather", 2, 1, 13);
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 2}, NULL, false);
    fx_in(&f, 1, NNP_DTYPE_I64, 1, (int64_t[]){3}, (int64_t[]){0, 3, 1}, false);
    cr_assert_eq(fx_prepare(&f), NNP_OK);
    cr_assert_eq(f.op->forward(&f.n), NNP_ERR_INVALID);
    const char *msg = nnp_error_message();
    cr_assert(strstr(msg, "node t0") && strstr(msg, "index 3") && strstr(msg, "out of range"),
              "%s", msg);
    ((int64_t *)f.in[1].data)[1] = -4;
    cr_assert_eq(f.op->forward(&f.n), NNP_ERR_INVALID);
    fx_free(&f);
}

/* --- Concat, Split, Pad --- */

Test(concat_split, round_trip)
{
    for (int s = 0; s < 4; s++) {
        int64_t m = odd[s];
        struct fx f;
        fx_init(&f, "Split", 2, 3, 13);
        fx_attr_int(&f, "axis", -1);
        struct nnp_rt_value *x = fx_in(&f, 0, NNP_DTYPE_I64, 2, (int64_t[]){3, m + 2}, NULL, false);
        for (int64_t i = 0; i < x->numel; i++)
            ((int64_t *)x->data)[i] = i;
        fx_i64(&f, 1, 3, (int64_t[]){1, m, 1});
        fx_ok(&f);
        assert_dims(&f.out[1], 2, (int64_t[]){3, m});
        struct fx c;
        fx_init(&c, "Concat", 3, 1, 13);
        fx_attr_int(&c, "axis", 1);
        for (int k = 0; k < 3; k++)
            fx_in(&c, k, NNP_DTYPE_I64, 2, f.out[k].dims, f.out[k].data, false);
        fx_ok(&c);
        cr_assert_eq(memcmp(c.out[0].data, x->data, x->nbytes), 0);
        fx_free(&c);
        fx_free(&f);
    }
}

Test(pad, modes)
{
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* [2,3] */
    struct {
        const char *mode;
        float want[4 * 7];
    } cases[] = {
        {"constant", {9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9,
                      9, 9, 9}},
        {"edge", {1, 1, 1, 2, 3, 3, 3, 1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 5, 6, 6, 6, 4, 4, 4, 5, 6,
                  6, 6}},
        {"reflect", {6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3,
                     2, 1}},
    };
    for (size_t c = 0; c < 3; c++) {
        struct fx f;
        fx_init(&f, "Pad", 3, 1, 13);
        fx_attr_string(&f, "mode", cases[c].mode);
        fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3}, x, false);
        fx_i64(&f, 1, 4, (int64_t[]){1, 2, 1, 2});
        fx_in(&f, 2, NNP_DTYPE_F32, 0, NULL, (float[]){9}, false);
        fx_ok(&f);
        assert_dims(&f.out[0], 2, (int64_t[]){4, 7});
        for (int i = 0; i < 28; i++)
            cr_assert_eq(((float *)f.out[0].data)[i], cases[c].want[i], "%s: element %d is %g",
                         cases[c].mode, i, (double)((float *)f.out[0].data)[i]);
        fx_free(&f);
    }
    struct fx f; /* negative pads crop; opset 2 attributes */
    fx_init(&f, "Pad", 1, 1, 2);
    fx_attr_ints(&f, "pads", 4, (int64_t[]){0, -1, 0, 1});
    fx_attr_float(&f, "value", -1);
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3}, x, false);
    fx_ok(&f);
    const float want[6] = {2, 3, -1, 5, 6, -1};
    cr_assert_eq(memcmp(f.out[0].data, want, sizeof want), 0);
    fx_free(&f);
}

/* --- Resize --- */

static void resize_case(const char *mode, const char *coord, int rank, const int64_t *dims,
                        const float *scales)
{
    struct fx f;
    fx_init(&f, "Resize", 3, 1, 13);
    fx_attr_string(&f, "mode", mode);
    fx_attr_string(&f, "coordinate_transformation_mode", coord);
    fill_f32(fx_in(&f, 0, NNP_DTYPE_F32, rank, dims, NULL, false));
    int64_t r = rank;
    fx_in(&f, 2, NNP_DTYPE_F32, 1, &r, scales, true);
    fx_fast_vs_ref(&f, mode);
    fx_free(&f);
}

Test(resize, fast_matches_reference)
{
    static const char *const coords[] = {"half_pixel", "asymmetric", "align_corners",
                                         "pytorch_half_pixel"};
    for (int s = 0; s < 4; s++)
        for (int c = 0; c < 4; c++) {
            int64_t m = odd[s];
            resize_case("linear", coords[c], 4, (int64_t[]){1, 2, m, 5},
                        (float[]){1, 1, 1.5f, 2.2f});
            resize_case("linear", coords[c], 3, (int64_t[]){3, m, 4}, (float[]){2, 0.6f, 1.25f});
            resize_case("nearest", coords[c], 4, (int64_t[]){2, 1, m, 3},
                        (float[]){1, 3, 0.7f, 2});
        }
}

/* fuzz-run: these reached a float-to-int64 cast out of range */
Test(resize, non_finite_and_huge_scales_are_refused)
{
    static const float bad[] = {INFINITY, NAN, 1e30f, -1.0f};
    for (int i = 0; i < 4; i++) {
        struct fx f;
        fx_init(&f, "Resize", 3, 1, 13);
        fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 2}, NULL, false);
        fx_in(&f, 2, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, bad[i]}, true);
        cr_assert_eq(fx_prepare(&f), NNP_ERR_INVALID, "scale %g", (double)bad[i]);
        cr_assert(strstr(nnp_error_message(), "Resize scale 1") != NULL, "%s",
                  nnp_error_message());
        fx_free(&f);
    }
    struct fx f;
    fx_init(&f, "Resize", 3, 1, 13);
    fx_attr_string(&f, "coordinate_transformation_mode", "tf_crop_and_resize");
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 2}, NULL, false);
    fx_in(&f, 1, NNP_DTYPE_F32, 1, (int64_t[]){4}, (float[]){0, NAN, 1, 1}, true);
    fx_in(&f, 2, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){1, 2}, true);
    cr_assert_eq(fx_prepare(&f), NNP_ERR_INVALID);
    cr_assert(strstr(nnp_error_message(), "roi value 1 is nan") != NULL, "%s",
              nnp_error_message());
    fx_free(&f);
}

Test(resize, cubic_is_refused)
{
    struct fx f;
    fx_init(&f, "Resize", 3, 1, 13);
    fx_attr_string(&f, "mode", "cubic");
    fx_in(&f, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 2}, NULL, false);
    fx_in(&f, 2, NNP_DTYPE_F32, 1, (int64_t[]){2}, (float[]){2, 2}, true);
    cr_assert_eq(fx_prepare(&f), NNP_ERR_UNSUPPORTED);
    cr_assert(strstr(nnp_error_message(), "cubic") != NULL, "%s", nnp_error_message());
    fx_free(&f);
}

/* the array conversions (F16C where the CPU has it) give the scalar functions' bits:
 * every half widened, and floats of every kind (odd lengths: the scalar tail too) */
Test(dtype, f16_array_conversions_match_scalar)
{
    enum { N = 65536 + 7 };
    uint16_t *h = malloc(N * sizeof *h), *h2 = malloc(N * sizeof *h2);
    float *f = malloc(N * sizeof *f), *f2 = malloc(N * sizeof *f2);
    cr_assert(h && h2 && f && f2);
    for (int i = 0; i < N; i++)
        h[i] = (uint16_t)(i * 40503u); /* a permutation of every half (and 7 more) */
    nnp_f16_to_f32_n(f, h, N);
    for (int i = 0; i < N; i++) {
        float want = nnp_f16_to_f32(h[i]);
        cr_assert(memcmp(&f[i], &want, 4) == 0, "half %#x", h[i]);
    }
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) { /* random bits: NaNs, infs, subnormals, ties */
        x = x * 1664525u + 1013904223u;
        uint32_t bits = i % 3 ? x : (x & 0x8000e000u) | 0x38000000u | (x >> 9 & 0x7ff000u);
        memcpy(&f2[i], &bits, 4);
    }
    nnp_f32_to_f16_n(h2, f2, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(h2[i], nnp_f32_to_f16(f2[i]), "float %a", (double)f2[i]);
    free(h);
    free(h2);
    free(f);
    free(f2);
}
