/* tests/unit/test_ops_math.c — the matrix, convolution, pooling, normalization
 * and reduction operators (kernels/ops/op_gemm.c, op_conv.c, op_pool.c, op_norm.c,
 * op_reduce.c), the quantized ones (op_quant.c and the integer products) and the matrix-vector kernels under them (kernels/simd/gemv.c).
 *
 * Each fast kernel is run against the operator's naive reference kernel on odd
 * shapes (1, 7, 33, 129) with every attribute varied; every ISA version of the
 * matrix-vector kernels against the scalar one. Nodes and values are built by
 * hand — no executor: prepare, then forward and reference on the same state,
 * with outputs and scratch poisoned (NaN) beforehand so that an element a
 * kernel forgets to write shows. Floats may differ by 1e-5 relative (to
 * max(1, |want|)) per 16 terms of the dot product each output sums.
 * ONNX's node tests check the semantics (tests/conformance.c); these check the
 * fast paths where the node tests' shapes are too small to reach them. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels/simd/gemv.h"
#include "kernels/ops/op.h"
#include "kernels/ops/act.h"
#include "kernels/ops/quant.h"
#include "kernels/simd/qrow.h"
#include "kernels/threads.h"

/* --- random data, reproducible --- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static float urand(void) /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (float)((rng >> 40) * (1.0 / (1u << 24))) * 2.0f - 1.0f;
}

static int irand(int n) /* uniform in [0, n) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (int)((rng >> 33) % (uint64_t)n);
}

/* The bound: 1e-5 relative to max(1, |want|), per 16 terms summed. */
static double tol(double len, double want)
{
    return 1e-5 * fmax(1.0, fabs(want)) * fmax(1.0, len / 16.0);
}

/* --- one node built by hand --- */

#define T_MAX_IN 9
#define T_MAX_OUT 3

struct t_node {
    struct nnp_graph *g; /* owns the IR node and its attributes */
    struct nnp_node *node;
    struct nnp_arena *arena; /* what prepare allocates */
    struct nnp_rt_value in[T_MAX_IN], out[T_MAX_OUT];
    struct nnp_rt_value *pin[T_MAX_IN], *pout[T_MAX_OUT];
    void *got[T_MAX_OUT]; /* forward's outputs, kept while reference runs */
    int n_in, n_out;
    struct nnp_exec_node e;
    struct nnp_pool *pool; /* threads for forward (NULL: one); prepare sizes scratch by it */
    char what[256];        /* the case, for failure messages */
};

static void tn_init(struct t_node *t, const char *op_type, int n_out)
{
    memset(t, 0, sizeof *t);
    t->g = nnp_graph_new();
    t->node = nnp_graph_add_node(t->g, op_type, "n0");
    t->arena = nnp_arena_new();
    t->n_out = n_out;
    for (int i = 0; i < n_out; i++) {
        t->out[i].name = i == 0 ? "Y" : i == 1 ? "Y1" : "Y2";
        t->pout[i] = &t->out[i];
    }
    snprintf(t->what, sizeof t->what, "%s", op_type);
}

static void tn_free(struct t_node *t)
{
    for (int i = 0; i < T_MAX_IN; i++)
        free(t->in[i].data);
    for (int i = 0; i < T_MAX_OUT; i++) {
        free(t->out[i].data);
        free(t->got[i]);
    }
    free(t->e.scratch);
    nnp_arena_free(t->arena);
    nnp_graph_free(t->g);
}

static void tn_what(struct t_node *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tn_what(struct t_node *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->what, sizeof t->what, fmt, ap);
    va_end(ap);
}

static void attr_int(struct t_node *t, const char *name, int64_t v)
{
    nnp_node_set_attr(t->g, t->node, name, NNP_ATTR_INT)->i = v;
}

static void attr_float(struct t_node *t, const char *name, float v)
{
    nnp_node_set_attr(t->g, t->node, name, NNP_ATTR_FLOAT)->f = v;
}

static void attr_ints(struct t_node *t, const char *name, int n, const int64_t *v)
{
    struct nnp_attr *a = nnp_node_set_attr(t->g, t->node, name, NNP_ATTR_INTS);
    a->n = n;
    a->ints = nnp_arena_memdup(t->g->arena, v, (size_t)n * sizeof *v);
}

static void attr_str(struct t_node *t, const char *name, const char *s)
{
    struct nnp_attr *a = nnp_node_set_attr(t->g, t->node, name, NNP_ATTR_STRING);
    a->s.data = nnp_graph_strdup(t->g, s);
    a->s.len = strlen(s);
}

/* Input slot i: a value of the given shape with random data (integers 0..9). */
static struct nnp_rt_value *tn_input(struct t_node *t, int i, enum nnp_dtype dt, int rank,
                                     const int64_t *dims)
{
    struct nnp_rt_value *v = &t->in[i];
    static const char *const names[] = {"X", "W", "B", "in3", "in4", "in5", "in6", "in7", "in8"};
    v->name = names[i];
    cr_assert_eq(nnp_rt_set_shape(v, dt, rank, dims), NNP_OK);
    v->data = malloc(v->nbytes ? v->nbytes : 1);
    for (int64_t k = 0; k < v->numel; k++) {
        switch (dt) {
        case NNP_DTYPE_F32: ((float *)v->data)[k] = urand(); break;
        case NNP_DTYPE_U8: ((uint8_t *)v->data)[k] = (uint8_t)irand(256); break;
        case NNP_DTYPE_I8: ((int8_t *)v->data)[k] = (int8_t)(irand(256) - 128); break;
        case NNP_DTYPE_I32: ((int32_t *)v->data)[k] = irand(19) - 9; break;
        case NNP_DTYPE_I64: ((int64_t *)v->data)[k] = irand(19) - 9; break;
        default: cr_assert_fail("dtype not handled by the test");
        }
    }
    v->is_const = true;
    t->pin[i] = v;
    if (i >= t->n_in)
        t->n_in = i + 1;
    return v;
}

/* Like tn_input, with given float values. */
static struct nnp_rt_value *tn_input_f(struct t_node *t, int i, int rank, const int64_t *dims,
                                       const float *vals)
{
    struct nnp_rt_value *v = tn_input(t, i, NNP_DTYPE_F32, rank, dims);
    memcpy(v->data, vals, v->nbytes);
    return v;
}

static enum nnp_status tn_prepare(struct t_node *t, int64_t opset)
{
    struct nnp_exec_node *e = &t->e;
    e->node = t->node;
    e->op = nnp_op_find(t->node->op_type);
    cr_assert_not_null(e->op, "%s is not in the operator table", t->node->op_type);
    e->n_in = t->n_in;
    e->n_out = t->n_out;
    e->in = t->pin;
    e->out = t->pout;
    e->threads = nnp_pool_threads(t->pool);
    e->pool = t->pool;
    e->opset = opset;
    enum nnp_status st = e->op->prepare(e, t->arena);
    if (st != NNP_OK)
        return st;
    for (int i = 0; i < t->n_out; i++) {
        if (!t->pout[i])
            continue;
        cr_assert_neq(t->out[i].dtype, NNP_DTYPE_UNDEFINED, "%s: output %d has no type", t->what,
                      i);
        t->out[i].data = malloc(t->out[i].nbytes ? t->out[i].nbytes : 1);
        t->got[i] = malloc(t->out[i].nbytes ? t->out[i].nbytes : 1);
    }
    if (e->scratch_bytes)
        e->scratch = malloc(e->scratch_bytes);
    return NNP_OK;
}

/* Poison outputs and scratch, then run forward or reference. */
static void tn_run(struct t_node *t, bool reference)
{
    for (int i = 0; i < t->n_out; i++)
        if (t->pout[i])
            memset(t->out[i].data, 0xff, t->out[i].nbytes); /* NaN, or -1 for integers */
    if (t->e.scratch)
        memset(t->e.scratch, 0xff, t->e.scratch_bytes);
    enum nnp_status st = reference ? t->e.op->reference(&t->e) : t->e.op->forward(&t->e);
    cr_assert_eq(st, NNP_OK, "%s: %s", t->what, nnp_error_message());
}

static void expect_close(const char *what, int out, int64_t i, double got, double want, double len)
{
    bool ok = (isnan(got) && isnan(want)) || got == want || fabs(got - want) <= tol(len, want);
    if (!ok)
        cr_assert_fail("%s: output %d element %lld: got %.9g, want %.9g (len %g)", what, out,
                       (long long)i, got, want, len);
}

/* prepare must succeed; forward against reference on every output */
static void tn_check(struct t_node *t, int64_t opset, double len)
{
    enum nnp_status st = tn_prepare(t, opset);
    cr_assert_eq(st, NNP_OK, "%s: prepare: %s", t->what, nnp_error_message());
    cr_assert_not_null(t->e.op->reference, "%s has no reference kernel", t->e.op->name);
    tn_run(t, false);
    for (int i = 0; i < t->n_out; i++)
        if (t->pout[i])
            memcpy(t->got[i], t->out[i].data, t->out[i].nbytes);
    tn_run(t, true);
    for (int o = 0; o < t->n_out; o++) {
        const struct nnp_rt_value *v = &t->out[o];
        if (!t->pout[o])
            continue;
        for (int64_t i = 0; i < v->numel; i++) {
            switch (v->dtype) {
            case NNP_DTYPE_F32:
                expect_close(t->what, o, i, ((float *)t->got[o])[i], ((float *)v->data)[i], len);
                break;
            case NNP_DTYPE_I64:
                cr_assert_eq(((int64_t *)t->got[o])[i], ((int64_t *)v->data)[i],
                             "%s: output %d element %lld", t->what, o, (long long)i);
                break;
            case NNP_DTYPE_U8:
            case NNP_DTYPE_I8:
                cr_assert_eq(((uint8_t *)t->got[o])[i], ((uint8_t *)v->data)[i],
                             "%s: output %d element %lld", t->what, o, (long long)i);
                break;
            default: cr_assert_fail("unexpected output dtype");
            }
        }
    }
}

/* The threaded paths: prepare for `pool`'s threads, run forward on the pool and on one
 * thread (the same state and scratch), and hold both to the reference. `exact`: the
 * two forward runs must agree bit for bit (the paths threads.h calls bit-identical). */
static void tn_check_threads(struct t_node *t, struct nnp_pool *pool, int64_t opset, double len,
                             bool exact)
{
    t->pool = pool;
    tn_check(t, opset, len); /* forward on the pool against the reference */
    float *pooled = t->got[0];
    const struct nnp_rt_value *v = &t->out[0];
    cr_assert_eq(v->dtype, NNP_DTYPE_F32);
    t->e.pool = NULL;
    tn_run(t, false);
    for (int64_t i = 0; i < v->numel; i++) {
        float one = ((float *)v->data)[i];
        if (exact)
            cr_assert(memcmp(&one, &pooled[i], sizeof one) == 0,
                      "%s: element %lld: %.9g on 2 threads, %.9g on 1", t->what, (long long)i,
                      pooled[i], one);
        else
            expect_close(t->what, 0, i, pooled[i], one, len);
    }
    t->e.pool = pool;
}

/* prepare must fail with `want` and a message containing `part` */
static void tn_expect_error(struct t_node *t, int64_t opset, enum nnp_status want, const char *part)
{
    enum nnp_status st = tn_prepare(t, opset);
    cr_assert_eq(st, want, "%s: prepare gave %d (%s), want %d", t->what, st, nnp_error_message(),
                 want);
    cr_assert_not_null(strstr(nnp_error_message(), part), "%s: message \"%s\" lacks \"%s\"",
                       t->what, nnp_error_message(), part);
}

/* ------------------------------------------------ matrix-vector kernels */

static double dot_ref(const float *w, const float *x, int64_t k, int64_t stride)
{
    double s = 0;
    for (int64_t j = 0; j < k; j++)
        s += (double)w[j * stride] * x[j];
    return s;
}

static float *rand_buf(int64_t n)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = urand();
    return p;
}

Test(gemv, rows_every_isa_against_scalar)
{
    static const int64_t ns[] = {1, 3, 4, 5, 7, 33, 129};
    static const int64_t ks[] = {0, 1, 7, 15, 16, 17, 31, 32, 33, 129, 1000};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
            int64_t n = ns[a], k = ks[b];
            float *w = rand_buf(n * k), *x = rand_buf(k);
            float *want = rand_buf(n), *got = rand_buf(n);
            nnp_gemv_rows(NNP_ISA_SCALAR, w, x, want, n, k);
            for (int64_t i = 0; i < n; i++)
                expect_close("rows scalar vs double", 0, i, want[i], dot_ref(w + i * k, x, k, 1),
                             (double)k);
            for (int isa = NNP_ISA_AVX2; isa < NNP_ISA_COUNT; isa++) {
                if (!nnp_isa_supported(isa))
                    continue;
                nnp_gemv_rows(isa, w, x, got, n, k);
                char what[64];
                snprintf(what, sizeof what, "rows %s n=%lld k=%lld", nnp_isa_name(isa),
                         (long long)n, (long long)k);
                for (int64_t i = 0; i < n; i++)
                    expect_close(what, 0, i, got[i], want[i], (double)k);
            }
            free(w);
            free(x);
            free(want);
            free(got);
        }
}

Test(gemv, cols_every_isa_against_scalar)
{
    /* 4100 columns cross the kernel's 4096-column block */
    static const int64_t ks[] = {0, 1, 3, 4, 5, 7, 33, 129};
    static const int64_t ns[] = {1, 7, 15, 16, 17, 33, 129, 4100};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
            int64_t k = ks[a], n = ns[b];
            float *m = rand_buf(k * n), *x = rand_buf(k);
            float *want = calloc((size_t)n, sizeof *want), *got = malloc((size_t)n * sizeof *got);
            nnp_gemv_cols(NNP_ISA_SCALAR, m, x, want, k, n);
            for (int64_t j = 0; j < n; j++)
                expect_close("cols scalar vs double", 0, j, want[j], dot_ref(m + j, x, k, n),
                             (double)k);
            for (int isa = NNP_ISA_AVX2; isa < NNP_ISA_COUNT; isa++) {
                if (!nnp_isa_supported(isa))
                    continue;
                /* accumulates: start from 1 and expect want + 1 */
                for (int64_t j = 0; j < n; j++)
                    got[j] = 1.0f;
                nnp_gemv_cols(isa, m, x, got, k, n);
                char what[64];
                snprintf(what, sizeof what, "cols %s k=%lld n=%lld", nnp_isa_name(isa),
                         (long long)k, (long long)n);
                for (int64_t j = 0; j < n; j++)
                    expect_close(what, 0, j, got[j] - 1.0, want[j], (double)k + 1);
            }
            free(m);
            free(x);
            free(want);
            free(got);
        }
}

Test(gemv, row_helpers_every_isa)
{
    /* nnp_axpy, nnp_vset, nnp_vadds, nnp_vmax on every length up to 40: masks and tails */
    for (int64_t n = 0; n <= 40; n++) {
        float *x = rand_buf(n + 1), *y0 = rand_buf(n + 1), *y = malloc((size_t)(n + 1) * 4);
        for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
            if (!nnp_isa_supported(isa))
                continue;
            memcpy(y, y0, (size_t)(n + 1) * 4);
            nnp_axpy(isa, n, 0.75f, x, y);
            for (int64_t i = 0; i < n; i++)
                expect_close(nnp_isa_name(isa), 0, i, y[i], y0[i] + 0.75 * x[i], 2);
            cr_assert_eq(y[n], y0[n], "axpy %s wrote past n=%lld", nnp_isa_name(isa), (long long)n);
            memcpy(y, y0, (size_t)(n + 1) * 4);
            nnp_vset(isa, n, -3.5f, y);
            for (int64_t i = 0; i < n; i++)
                cr_assert_eq(y[i], -3.5f);
            cr_assert_eq(y[n], y0[n], "vset %s wrote past n", nnp_isa_name(isa));
            memcpy(y, y0, (size_t)(n + 1) * 4);
            nnp_vadds(isa, n, x, 0.25f, y);
            for (int64_t i = 0; i < n; i++)
                cr_assert_eq(y[i], x[i] + 0.25f);
            cr_assert_eq(y[n], y0[n], "vadds %s wrote past n", nnp_isa_name(isa));
            memcpy(y, y0, (size_t)(n + 1) * 4);
            if (n > 2) { /* NaN in x never wins; NaN in y stays */
                x[1] = NAN;
                y[2] = NAN;
            }
            nnp_vmax(isa, n, x, y);
            for (int64_t i = 0; i < n; i++) {
                float want = i == 1 && n > 2 ? y0[1] : i == 2 && n > 2 ? NAN : fmaxf(x[i], y0[i]);
                cr_assert(want == y[i] || (isnan(want) && isnan(y[i])), "vmax %s [%lld]",
                          nnp_isa_name(isa), (long long)i);
            }
            cr_assert_eq(y[n], y0[n], "vmax %s wrote past n", nnp_isa_name(isa));
            if (n > 2)
                x[1] = 0.5f;
        }
        free(x);
        free(y0);
        free(y);
    }
}

Test(gemv, best_isa_is_supported)
{
    cr_assert(nnp_isa_supported(nnp_isa_best()));
    cr_assert(nnp_isa_supported(NNP_ISA_SCALAR));
}

/* ------------------------------------------------------------------ Gemm */

Test(gemm, fast_against_reference)
{
    static const int64_t ms[] = {1, 2, 4, 5, 7, 33};
    static const int64_t kn[] = {1, 7, 33, 129};
    static const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {1.0f, 0.0f}};
    int variant = 0;
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
        for (size_t ki = 0; ki < 4; ki++)
            for (size_t ni = 0; ni < 4; ni++)
                for (int ta = 0; ta < 2; ta++)
                    for (int tb = 0; tb < 2; tb++) {
                        int64_t m = ms[mi], k = kn[ki], n = kn[ni];
                        int cv = variant % 6, av = variant % 3;
                        bool dynamic = variant % 4 == 3; /* B and C computed at run time */
                        variant++;
                        struct t_node t;
                        tn_init(&t, "Gemm", 1);
                        tn_input(&t, 0, NNP_DTYPE_F32, 2,
                                 ta ? (int64_t[]){k, m} : (int64_t[]){m, k});
                        tn_input(&t, 1, NNP_DTYPE_F32, 2,
                                 tb ? (int64_t[]){n, k} : (int64_t[]){k, n});
                        /* C: none, scalar, [N], [M,1], [M,N], [1,N] */
                        switch (cv) {
                        case 1: tn_input(&t, 2, NNP_DTYPE_F32, 0, NULL); break;
                        case 2: tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){n}); break;
                        case 3: tn_input(&t, 2, NNP_DTYPE_F32, 2, (int64_t[]){m, 1}); break;
                        case 4: tn_input(&t, 2, NNP_DTYPE_F32, 2, (int64_t[]){m, n}); break;
                        case 5: tn_input(&t, 2, NNP_DTYPE_F32, 2, (int64_t[]){1, n}); break;
                        default: break;
                        }
                        if (dynamic)
                            for (int q = 1; q < t.n_in; q++)
                                t.in[q].is_const = false;
                        if (ta)
                            attr_int(&t, "transA", 1);
                        if (tb)
                            attr_int(&t, "transB", 1);
                        if (av) {
                            attr_float(&t, "alpha", ab[av][0]);
                            attr_float(&t, "beta", ab[av][1]);
                        }
                        tn_what(&t, "Gemm M=%lld K=%lld N=%lld transA=%d transB=%d C#%d ab#%d%s",
                                (long long)m, (long long)k, (long long)n, ta, tb, cv, av,
                                dynamic ? " B, C at run time" : "");
                        tn_check(&t, 17, (double)k + 1);
                        cr_assert_eq(t.out[0].rank, 2);
                        cr_assert(t.out[0].dims[0] == m && t.out[0].dims[1] == n, "%s", t.what);
                        tn_free(&t);
                    }
}

Test(gemm, batch1_linear_layer_large)
{
    /* the batch-1 MLP case at a size where the matrix-vector kernel's blocks matter */
    for (int64_t m = 1; m <= 3; m++) {
        struct t_node t;
        tn_init(&t, "Gemm", 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){m, 1031});
        tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){517, 1031});
        tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){517});
        attr_int(&t, "transB", 1);
        tn_what(&t, "Gemm linear M=%lld", (long long)m);
        tn_check(&t, 17, 1032);
        tn_free(&t);
    }
}

/* Threads: the column split of every kernel, on shapes large enough to be split
 * (mm_run's thresholds) and odd enough to leave partial blocks. */
Test(gemm, threaded_against_reference_and_one_thread)
{
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    static const int64_t ms[] = {1, 4, 7, 33, 129};
    static const int64_t ns[] = {33, 129, 1000};
    static const int64_t ks[] = {129, 1031};
    int variant = 0;
    for (size_t mi = 0; mi < 5; mi++)
        for (size_t ni = 0; ni < 3; ni++)
            for (size_t ki = 0; ki < 2; ki++)
                for (int tb = 0; tb < 2; tb++) {
                    int64_t m = ms[mi], n = ns[ni], k = ks[ki];
                    struct t_node t;
                    tn_init(&t, "Gemm", 1);
                    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){m, k});
                    tn_input(&t, 1, NNP_DTYPE_F32, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n});
                    if (variant % 3 == 1)
                        tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){n});
                    else if (variant % 3 == 2)
                        tn_input(&t, 2, NNP_DTYPE_F32, 2, (int64_t[]){m, n});
                    if (variant % 2) {
                        attr_float(&t, "alpha", 0.5f);
                        attr_float(&t, "beta", -2.0f);
                    }
                    if (tb)
                        attr_int(&t, "transB", 1);
                    tn_what(&t, "Gemm threads=2 M=%lld K=%lld N=%lld transB=%d C#%d", (long long)m,
                            (long long)k, (long long)n, tb, variant % 3);
                    variant++;
                    /* the matrix-vector kernels (M <= 4) split bit-identically */
                    tn_check_threads(&t, pool, 17, (double)k + 1, m <= 4);
                    tn_free(&t);
                }
    nnp_pool_free(pool);
}

Test(matmul, threaded_against_reference_and_one_thread)
{
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    /* {A dims, B dims}: shared B (rows folded), batched products, a vector */
    static const int64_t shapes[][2][3] = {
        {{7, 33, 129}, {1, 129, 129}}, {{33, 7, 129}, {33, 129, 33}},
        {{1, 1, 1031}, {1, 1031, 129}}, {{3, 129, 129}, {3, 129, 7}},
        {{1, 129, 1031}, {1, 1031, 1}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        struct t_node t;
        tn_init(&t, "MatMul", 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 3, shapes[i][0]);
        if (shapes[i][1][0] == 1)
            tn_input(&t, 1, NNP_DTYPE_F32, 2, shapes[i][1] + 1);
        else
            tn_input(&t, 1, NNP_DTYPE_F32, 3, shapes[i][1]);
        tn_what(&t, "MatMul threads=2 #%zu", i);
        /* whole products per thread are bit-identical; a split sgemm need not be */
        tn_check_threads(&t, pool, 17, (double)shapes[i][0][2] + 1, i == 1 || i == 3 || i == 4);
        tn_free(&t);
    }
    nnp_pool_free(pool);
}

Test(gemm, errors_name_what_was_found)
{
    struct t_node t;
    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){4, 5});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "A is 3-D, Gemm needs 2-D");
    tn_free(&t);

    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){4, 5});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "inner dimensions differ");
    tn_free(&t);

    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){3, 5});
    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){4});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "does not broadcast");
    tn_free(&t);

    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){3, 5});
    tn_expect_error(&t, 9, NNP_ERR_INVALID, "C is required before opset 11");
    tn_free(&t);

    /* opset 6: without `broadcast`, C must be the whole [M,N] */
    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){3, 5});
    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){5});
    tn_expect_error(&t, 6, NNP_ERR_INVALID, "without the broadcast attribute");
    tn_free(&t);

    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){3, 5});
    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){5});
    attr_int(&t, "broadcast", 1);
    tn_what(&t, "Gemm opset 6 broadcast=1");
    tn_check(&t, 6, 4);
    tn_free(&t);

    tn_init(&t, "Gemm", 1);
    tn_input(&t, 0, NNP_DTYPE_I32, 2, (int64_t[]){2, 3});
    tn_input(&t, 1, NNP_DTYPE_I32, 2, (int64_t[]){3, 5});
    tn_expect_error(&t, 17, NNP_ERR_UNSUPPORTED, "int32");
    tn_free(&t);
}

/* ---------------------------------------------------------------- MatMul */

struct mm_case {
    int ra;
    int64_t a[4];
    int rb;
    int64_t b[4];
    int ry;
    int64_t y[4];
};

Test(matmul, fast_against_reference)
{
    static const int64_t ks[] = {1, 7, 33, 129};
    for (size_t ki = 0; ki < 4; ki++) {
        int64_t k = ks[ki];
        const struct mm_case cases[] = {
            {1, {k}, 1, {k}, 0, {0}},                         /* dot */
            {1, {k}, 2, {k, 33}, 1, {33}},                    /* vector . matrix */
            {2, {7, k}, 1, {k}, 1, {7}},                      /* matrix . vector */
            {2, {1, k}, 2, {k, 129}, 2, {1, 129}},            /* one row: gemv */
            {2, {4, k}, 2, {k, 7}, 2, {4, 7}},                /* few rows: gemv */
            {2, {33, k}, 2, {k, 7}, 2, {33, 7}},              /* sgemm */
            {4, {2, 3, 1, k}, 2, {k, 7}, 4, {2, 3, 1, 7}},    /* batches fold into rows */
            {3, {2, 7, k}, 2, {k, 33}, 3, {2, 7, 33}},        /* batches fold into rows */
            {4, {2, 1, 7, k}, 3, {3, k, 5}, 4, {2, 3, 7, 5}}, /* broadcast batches */
            {2, {7, k}, 3, {2, k, 5}, 3, {2, 7, 5}},          /* A shared */
            {1, {k}, 3, {2, k, 5}, 2, {2, 5}},                /* vector . batch */
            {3, {3, 7, k}, 1, {k}, 2, {3, 7}},                /* batch . vector */
            {3, {2, 7, k}, 3, {2, k, 1}, 3, {2, 7, 1}},       /* column per batch */
            {3, {2, 1, k}, 3, {2, k, 33}, 3, {2, 1, 33}},     /* one row per batch */
        };
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const struct mm_case *mc = &cases[c];
            struct t_node t;
            tn_init(&t, "MatMul", 1);
            tn_input(&t, 0, NNP_DTYPE_F32, mc->ra, mc->a);
            tn_input(&t, 1, NNP_DTYPE_F32, mc->rb, mc->b)->is_const = ki % 2 == 0;
            tn_what(&t, "MatMul K=%lld case %zu%s", (long long)k, c,
                    ki % 2 ? " B at run time" : "");
            tn_check(&t, 13, (double)k);
            cr_assert_eq(t.out[0].rank, mc->ry, "%s: rank %d", t.what, t.out[0].rank);
            for (int i = 0; i < mc->ry; i++)
                cr_assert_eq(t.out[0].dims[i], mc->y[i], "%s: dim %d", t.what, i);
            tn_free(&t);
        }
    }
}

Test(matmul, errors)
{
    struct t_node t;
    tn_init(&t, "MatMul", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){5, 6});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "A has K=4, B has K=5");
    tn_free(&t);

    tn_init(&t, "MatMul", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 3, (int64_t[]){3, 4, 6});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "do not broadcast");
    tn_free(&t);
}

/* ------------------------------------------------------------------ Conv */

struct conv_case {
    int n_sp;
    int64_t batch, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    const char *auto_pad; /* NULL: explicit pads */
    bool bias;
};

static void conv_run_on(const struct conv_case *cc, int idx, struct nnp_pool *pool, bool exact);

/* a Conv case's X (N, C, spatial) and W (M, C/group, kernel) shapes and its pads
 * (begins, then ends); @return the rank */
static int conv_case_shapes(const struct conv_case *cc, int64_t *xd, int64_t *wd, int64_t *pads)
{
    xd[0] = cc->batch;
    xd[1] = cc->c;
    wd[0] = cc->m;
    wd[1] = cc->c / cc->group;
    for (int i = 0; i < cc->n_sp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
        pads[i] = cc->pb[i];
        pads[cc->n_sp + i] = cc->pe[i];
    }
    return cc->n_sp + 2;
}

static void conv_run(const struct conv_case *cc, int idx)
{
    conv_run_on(cc, idx, NULL, false);
}

/* on `pool` (NULL: one thread); exact: bit-identical to one thread */
static void conv_run_on(const struct conv_case *cc, int idx, struct nnp_pool *pool, bool exact)
{
    struct t_node t;
    tn_init(&t, "Conv", 1);
    int64_t xd[5], wd[5], pads[6], kprod = 1;
    int rank = conv_case_shapes(cc, xd, wd, pads);
    for (int i = 0; i < cc->n_sp; i++)
        kprod *= cc->k[i];
    tn_input(&t, 0, NNP_DTYPE_F32, rank, xd);
    /* weights known at plan time are packed then; every third case computes them at run
     * time (read as rows of W instead) */
    tn_input(&t, 1, NNP_DTYPE_F32, rank, wd)->is_const = idx % 3 != 2;
    if (cc->bias)
        tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){cc->m});
    if (cc->group != 1)
        attr_int(&t, "group", cc->group);
    attr_ints(&t, "strides", cc->n_sp, cc->s);
    attr_ints(&t, "dilations", cc->n_sp, cc->d);
    if (cc->auto_pad)
        attr_str(&t, "auto_pad", cc->auto_pad);
    else
        attr_ints(&t, "pads", 2 * cc->n_sp, pads);
    if (idx % 2)
        attr_ints(&t, "kernel_shape", cc->n_sp, cc->k); /* optional: must agree with W */
    tn_what(&t,
            "Conv#%d %dD N=%lld C=%lld M=%lld g=%lld in=%lldx%lld k=%lldx%lld s=%lldx%lld "
            "d=%lldx%lld pads=%lld,%lld/%lld,%lld %s%s",
            idx, cc->n_sp, (long long)cc->batch, (long long)cc->c, (long long)cc->m,
            (long long)cc->group, (long long)cc->in[0], (long long)cc->in[1], (long long)cc->k[0],
            (long long)cc->k[1], (long long)cc->s[0], (long long)cc->s[1], (long long)cc->d[0],
            (long long)cc->d[1], (long long)cc->pb[0], (long long)cc->pb[1], (long long)cc->pe[0],
            (long long)cc->pe[1], cc->auto_pad ? cc->auto_pad : "", cc->bias ? " bias" : "");
    if (pool)
        tn_check_threads(&t, pool, 17, (double)(cc->c / cc->group * kprod + 1), exact);
    else
        tn_check(&t, 17, (double)(cc->c / cc->group * kprod + 1));
    tn_free(&t);
}

/* Channel layouts: plain, grouped, depthwise, depthwise with multiplier 2, one channel */
static const int64_t conv_chan[][3] = {{3, 4, 1}, {4, 6, 2}, {4, 4, 4}, {3, 6, 3}, {1, 3, 1}};

Test(conv, fast_against_reference_2d)
{
    static const int64_t sizes[] = {1, 7, 33};
    static const int64_t kernels[] = {1, 2, 3, 5};
    int idx = 0, run = 0;
    rng = 1;
    while (run < 260) {
        struct conv_case cc = {.n_sp = 2, .batch = 1 + irand(2)};
        const int64_t *ch = conv_chan[irand(5)];
        cc.c = ch[0];
        cc.m = ch[1];
        cc.group = ch[2];
        for (int i = 0; i < 2; i++) {
            cc.in[i] = sizes[irand(3)];
            cc.k[i] = kernels[irand(4)];
            cc.s[i] = 1 + irand(3);
            cc.d[i] = 1 + irand(2);
            cc.pb[i] = irand((int)cc.k[i] + 1);
            cc.pe[i] = irand((int)cc.k[i] + 1);
        }
        int ap = irand(8);
        cc.auto_pad = ap == 0 ? "SAME_UPPER" : ap == 1 ? "SAME_LOWER" : ap == 2 ? "VALID" : NULL;
        cc.bias = irand(2);
        /* keep the windows that fit the (padded) input */
        bool fits = true;
        for (int i = 0; i < 2; i++) {
            int64_t ek = (cc.k[i] - 1) * cc.d[i] + 1;
            int64_t padded = cc.in[i] + (cc.auto_pad ? 0 : cc.pb[i] + cc.pe[i]);
            if (cc.auto_pad && strcmp(cc.auto_pad, "VALID") != 0)
                padded = ek; /* SAME always fits */
            fits &= padded >= ek;
        }
        idx++;
        if (!fits)
            continue;
        conv_run(&cc, idx);
        run++;
    }
}

Test(conv, named_fast_paths)
{
    /* clang-format off */
    const struct conv_case cases[] = {
        /* pointwise 1x1, stride 1: no im2col */
        {2, 2, 8, 16, 1, {7, 33}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 1, 8, 16, 4, {7, 7}, {1, 1}, {1, 1}, {2, 2}, {0, 0}, {0, 0}, NULL, false},
        /* 1x1 with stride 2 goes through im2col */
        {2, 1, 8, 16, 1, {7, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        /* depthwise 3x3, the MobileNet layer shapes */
        {2, 2, 16, 16, 16, {33, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 16, 16, 16, {33, 33}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 8, 16, 8, {7, 129}, {3, 5}, {1, 2}, {2, 1}, {2, 0}, {1, 2}, NULL, false},
        /* LeNet */
        {2, 2, 1, 6, 1, {28, 28}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, NULL, true},
        {2, 2, 6, 16, 1, {14, 14}, {5, 5}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        /* stride 1 with many output channels on a narrow image: im2col, not shift */
        {2, 1, 8, 64, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 4, 48, 2, {3, 9}, {3, 3}, {1, 1}, {1, 2}, {0, 2}, {1, 2}, NULL, false},
        /* small output planes with many channels: the product transposed (COL_T),
         * strided, grouped, 1x1, and a batch of two */
        {2, 1, 32, 64, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 16, 96, 1, {13, 13}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 0}, NULL, true},
        {2, 1, 16, 160, 2, {5, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, false},
        {2, 2, 8, 72, 1, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {0, 1}, {1, 0}, NULL, true},
        /* weights beyond what gemm.c keeps in L2 (512 KiB): the loop over k goes
         * outside a group of panels, here with the padded-width store (shift) too */
        {2, 1, 128, 128, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 128, 160, 1, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 0}, NULL, true},
        /* kernels wider than the gather's table of kernel columns (16), strided */
        {2, 1, 2, 4, 1, {3, 40}, {1, 17}, {1, 2}, {1, 1}, {0, 3}, {0, 5}, NULL, true},
        {2, 1, 2, 4, 1, {5, 40}, {2, 19}, {2, 1}, {1, 2}, {1, 0}, {0, 1}, NULL, false},
        /* a kernel larger than the input, saved by padding */
        {2, 1, 2, 3, 1, {1, 1}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        /* 1-D: run as 2-D of height 1 */
        {1, 2, 3, 4, 1, {129}, {5}, {2}, {3}, {4}, {1}, NULL, true},
        {1, 1, 4, 4, 4, {33}, {3}, {1}, {1}, {0}, {0}, "SAME_LOWER", true},
        {1, 1, 4, 8, 1, {33}, {1}, {1}, {1}, {0}, {0}, NULL, false},
        /* "same" pads, weights known: the input read in place, the pads masked lanes
         * (COL_MASK); strided, its unpadded phase planes (COL_SHIFT masked): odd
         * channels, dilation, groups, one channel, a 1x1 at stride 2, the resnet stem */
        {2, 2, 7, 33, 1, {9, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 33, 129, 1, {5, 17}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, NULL, true},
        {2, 1, 6, 129, 3, {7, 7}, {3, 5}, {1, 1}, {1, 1}, {1, 2}, {1, 2}, NULL, false},
        {2, 2, 1, 7, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 129, 7, 1, {14, 15}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 1, 7, 33, 1, {15, 15}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, NULL, true},
        {2, 1, 4, 1, 1, {9, 31}, {3, 3}, {2, 3}, {2, 1}, {2, 1}, {2, 1}, NULL, true},
        {2, 1, 33, 64, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        /* 3-D: general im2col */
        {3, 1, 2, 3, 1, {7, 5, 6}, {3, 2, 3}, {2, 1, 1},
         {1, 2, 1}, {1, 0, 2}, {0, 1, 1}, NULL, true},
        {3, 2, 4, 4, 2, {5, 5, 5}, {3, 3, 3}, {1, 1, 1},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "SAME_UPPER", false},
        {3, 1, 4, 4, 4, {5, 6, 7}, {2, 2, 2}, {2, 2, 2},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "VALID", true},
        {3, 1, 3, 5, 1, {4, 4, 4}, {1, 1, 1}, {1, 1, 1},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, NULL, true},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_run(&cases[i], (int)i);
}

/* Threads: blocks of images (bit-identical to one thread), (image, group) units,
 * and batch 1 with the output channels split; batches 1, 7, 33 and 129 leave
 * partial blocks. */
Test(conv, threaded_against_reference_and_one_thread)
{
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    /* clang-format off */
    const struct conv_case cases[] = {
        /* shift (stride 1, few channels), im2col (stride 2; many channels, narrow) */
        {2, 7, 6, 16, 1, {14, 14}, {5, 5}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 33, 1, 6, 1, {28, 28}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, NULL, true},
        {2, 7, 16, 32, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 129, 4, 64, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, false},
        {2, 7, 4, 6, 2, {9, 33}, {3, 3}, {1, 1}, {1, 2}, {0, 2}, {1, 2}, NULL, true},
        /* pointwise, depthwise, 3-D: (image, group) units */
        {2, 7, 16, 33, 1, {7, 33}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        /* pointwise on a small plane, transposed, read from the input itself (no pads) */
        {2, 7, 32, 96, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 7, 16, 16, 16, {33, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {3, 7, 4, 8, 2, {5, 5, 5}, {3, 3, 3}, {1, 1, 1},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, "SAME_UPPER", false},
    };
    /* batch 1, one group, large enough to split the output channels; each thread makes
     * its own phase planes from a small input, the threads split those of a large one */
    const struct conv_case split[] = {
        {2, 1, 16, 64, 1, {33, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 128, 16, 1, {33, 33}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 16, 129, 1, {33, 33}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 64, 129, 1, {33, 33}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_run_on(&cases[i], (int)i, pool, true);
    for (size_t i = 0; i < sizeof split / sizeof *split; i++)
        conv_run_on(&split[i], (int)i, pool, false);
    nnp_pool_free(pool);
}

/* MaxPool's separable path in blocks of planes over two threads: bit-identical */
Test(maxpool, threaded_against_reference_and_one_thread)
{
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    static const int64_t dims[][4] = {{7, 33, 33, 33}, {1, 129, 33, 7}, {33, 7, 28, 28}};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        struct t_node t;
        tn_init(&t, "MaxPool", 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 4, dims[i]);
        attr_ints(&t, "kernel_shape", 2, (int64_t[]){3, 2});
        attr_ints(&t, "strides", 2, (int64_t[]){2, 1});
        attr_ints(&t, "pads", 4, (int64_t[]){1, 0, 1, 1});
        tn_what(&t, "MaxPool threads=2 #%zu", i);
        tn_check_threads(&t, pool, 12, 1, true);
        tn_free(&t);
    }
    nnp_pool_free(pool);
}

/* OpenBLAS 0.3.21 (Debian's pthread build) called from two of our threads at once,
 * each a single-threaded sgemm: the results must be those of the same calls made one
 * after another (run under ASan too, by the SAN build). */
struct sgemm_ctx {
    const float *a, *b;
    float *c; /* (items, n, n) */
    int n;
};

static void sgemm_item(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct sgemm_ctx *x = ctx;
    (void)tid;
    for (int64_t i = begin; i < end; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, i % 2 ? CblasTrans : CblasNoTrans, x->n, x->n,
                    x->n, 1.0f, x->a, x->n, x->b, x->n, 0.0f, x->c + i * x->n * x->n, x->n);
}

Test(threads, openblas_concurrent_calls_match_serial)
{
    enum { N = 129, ITEMS = 16 };
    openblas_set_num_threads(1);
    float *a = rand_buf(N * N), *b = rand_buf(N * N);
    float *serial = malloc(sizeof(float) * ITEMS * N * N);
    float *par = malloc(sizeof(float) * ITEMS * N * N);
    struct sgemm_ctx s = {a, b, serial, N};
    sgemm_item(&s, 0, ITEMS, 0);
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    s.c = par;
    for (int rep = 0; rep < 20; rep++) {
        memset(par, 0xff, sizeof(float) * ITEMS * N * N);
        nnp_parallel_for(pool, ITEMS, sgemm_item, &s);
        cr_assert(memcmp(par, serial, sizeof(float) * ITEMS * N * N) == 0, "repetition %d", rep);
    }
    nnp_pool_free(pool);
    free(a);
    free(b);
    free(serial);
    free(par);
}

struct count_ctx {
    int *hits;           /* (n) */
    struct nnp_pool *pool; /* for the nested call */
    int tid_max;           /* items that saw something wrong */
    int64_t n;             /* items */
};

struct inner_ctx {
    int hits[3];
    bool nested; /* called from inside a job: must run on its caller alone, all at once */
};

static void count_inner(void *ctx, int64_t begin, int64_t end, int tid)
{
    struct inner_ctx *c = ctx;
    bool serial = tid == 0 && begin == 0 && end == 3;
    for (int64_t i = begin; i < end; i++)
        c->hits[i] += !c->nested || serial ? 1 : 100;
}

static void count_item(void *ctx, int64_t begin, int64_t end, int tid)
{
    struct count_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++)
        __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
    /* inside a job unless the outer call ran everything on the caller (no pool, n < 2) */
    struct inner_ctx in = {{0}, c->pool && (begin > 0 || end - begin < c->n)};
    nnp_parallel_for(c->pool, 3, count_inner, &in);
    /* no criterion assertion here: it cannot fail from a worker thread */
    bool bad = tid >= 2 || in.hits[0] != 1 || in.hits[1] != 1 || in.hits[2] != 1;
    __atomic_fetch_add(&c->tid_max, bad ? 1 : 0, __ATOMIC_RELAXED);
}

Test(threads, every_item_once)
{
    static const int64_t ns[] = {0, 1, 2, 7, 33, 129, 1000};
    struct nnp_pool *pool = nnp_pool_new(2);
    cr_assert_not_null(pool);
    cr_assert_eq(nnp_pool_threads(pool), 2);
    cr_assert_eq(nnp_pool_threads(NULL), 1);
    cr_assert_null(nnp_pool_new(1));
    for (int rep = 0; rep < 50; rep++)
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            int *hits = calloc((size_t)ns[k] + 1, sizeof *hits);
            struct count_ctx c = {hits, rep % 2 ? pool : NULL, 0, ns[k]};
            nnp_parallel_for(c.pool, ns[k], count_item, &c);
            for (int64_t i = 0; i < ns[k]; i++)
                cr_assert_eq(hits[i], 1, "n=%lld item %lld ran %d times", (long long)ns[k],
                             (long long)i, hits[i]);
            cr_assert_eq(c.tid_max, 0, "a tid out of range, or a nested call not run serially");
            free(hits);
        }
    nnp_pool_free(pool);
    nnp_pool_free(NULL);
}

Test(conv, output_shapes)
{
    /* 7x7 input, 3x3 kernel, stride 2: NOTSET with pads 1 -> 4; VALID -> 3; SAME -> 4 */
    static const char *const modes[] = {NULL, "VALID", "SAME_UPPER", "SAME_LOWER"};
    static const int64_t want[] = {4, 3, 4, 4};
    for (int i = 0; i < 4; i++) {
        struct t_node t;
        tn_init(&t, "Conv", 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 7, 7});
        tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 3});
        attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
        if (modes[i])
            attr_str(&t, "auto_pad", modes[i]);
        else
            attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
        cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(t.out[0].dims[2], want[i], "mode %s", modes[i] ? modes[i] : "NOTSET");
        cr_assert_eq(t.out[0].dims[3], want[i]);
        tn_free(&t);
    }
}

Test(conv, errors_name_what_was_found)
{
    struct t_node t;
    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 3, (int64_t[]){4, 3, 3});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "weight is 3-D, Conv needs 4-D");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    attr_ints(&t, "pads", 3, (int64_t[]){1, 1, 1});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "pads has 3 values, expected 4");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    attr_ints(&t, "strides", 2, (int64_t[]){1, 0});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "strides[1] is 0");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    attr_ints(&t, "kernel_shape", 2, (int64_t[]){3, 5});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "kernel_shape[1] is 5 but the weight has 3");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 4, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    attr_int(&t, "group", 2);
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "weight has 3 input channels per group, expected 2");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){3});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "bias has shape [3], expected [4]");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 2, 2});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "smaller than the kernel extent");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 3, 8, 8});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 3, 3, 3});
    attr_str(&t, "auto_pad", "SAME");
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "auto_pad is \"SAME\"");
    tn_free(&t);
}

/* Shapes only (no data): prepare must refuse sizes that overflow, with no UB on the way
 * (the SAN build checks that). */
static void shape_only(struct t_node *t, int i, int rank, const int64_t *dims)
{
    struct nnp_rt_value *v = &t->in[i];
    v->name = i ? "W" : "X";
    cr_assert_eq(nnp_rt_set_shape(v, NNP_DTYPE_F32, rank, dims), NNP_OK);
    t->pin[i] = v;
    if (i >= t->n_in)
        t->n_in = i + 1;
}

/* No input channels: the output is the bias, whichever path the window would take
 * (fuzz-run: the strided im2col path offset a NULL scratch) */
Test(conv, no_input_channels_give_the_bias)
{
    for (int stride = 1; stride <= 2; stride++) {
        struct t_node t;
        tn_init(&t, "Conv", 1);
        tn_what(&t, "Conv C=0 stride %d", stride);
        tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){2, 0, 5, 5});
        tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){4, 0, 3, 3});
        tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){4});
        attr_ints(&t, "strides", 2, (int64_t[]){stride, stride});
        tn_check(&t, 17, 1);
        const float *y = t.out[0].data, *b = t.in[2].data;
        int64_t plane = t.out[0].dims[2] * t.out[0].dims[3];
        for (int64_t i = 0; i < t.out[0].numel; i++)
            cr_assert_eq(y[i], b[i / plane % 4], "%s: element %lld", t.what, (long long)i);
        tn_free(&t);
    }
}

Test(conv, hostile_sizes_refused)
{
    const int64_t big = (int64_t)1 << 30;
    struct t_node t;
    tn_init(&t, "Conv", 1);
    shape_only(&t, 0, 5, (int64_t[]){1, 1, 1, 1, 1});
    tn_input(&t, 1, NNP_DTYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1});
    attr_ints(&t, "pads", 6, (int64_t[]){big, big, big, big, big, big});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "overflows");
    tn_free(&t);

    tn_init(&t, "Conv", 1);
    shape_only(&t, 0, 4, (int64_t[]){1, 1, 4, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 1, 1});
    attr_ints(&t, "pads", 4, (int64_t[]){0, 0, big + 1, 0});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "pads[2] is 1073741825");
    tn_free(&t);

    tn_init(&t, "ConvTranspose", 1);
    shape_only(&t, 0, 3, (int64_t[]){1, 1, (int64_t)1 << 40});
    tn_input(&t, 1, NNP_DTYPE_F32, 3, (int64_t[]){1, 1, 3});
    attr_ints(&t, "strides", 1, (int64_t[]){big});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "overflows");
    tn_free(&t);

    tn_init(&t, "MaxPool", 1);
    shape_only(&t, 0, 5, (int64_t[]){1, 1, 1, 1, 1});
    attr_ints(&t, "kernel_shape", 3, (int64_t[]){big, big, big});
    attr_ints(&t, "pads", 6, (int64_t[]){big - 1, big - 1, big - 1, big - 1, big - 1, big - 1});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "overflows");
    tn_free(&t);

    tn_init(&t, "MatMul", 1);
    shape_only(&t, 0, 4, (int64_t[]){(int64_t)1 << 40, 1, 1, 1});
    shape_only(&t, 1, 4, (int64_t[]){1, (int64_t)1 << 40, 1, 1});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "batch is too large");
    tn_free(&t);
}

/* --------------------------------------------------------- ConvTranspose */

struct convt_case {
    int n_sp;
    int64_t batch, c, m, group; /* m: output channels in all */
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3];
    int64_t out_shape[3]; /* used when [0] > 0 */
    const char *auto_pad;
    bool bias;
};

static void convt_run(const struct convt_case *cc, int idx)
{
    struct t_node t;
    tn_init(&t, "ConvTranspose", 1);
    int rank = cc->n_sp + 2;
    int64_t xd[5] = {cc->batch, cc->c}, wd[5] = {cc->c, cc->m / cc->group};
    int64_t pads[6], kprod = 1;
    for (int i = 0; i < cc->n_sp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
        pads[i] = cc->pb[i];
        pads[cc->n_sp + i] = cc->pe[i];
        kprod *= cc->k[i];
    }
    tn_input(&t, 0, NNP_DTYPE_F32, rank, xd);
    tn_input(&t, 1, NNP_DTYPE_F32, rank, wd);
    if (cc->bias)
        tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){cc->m});
    if (cc->group != 1)
        attr_int(&t, "group", cc->group);
    attr_ints(&t, "strides", cc->n_sp, cc->s);
    attr_ints(&t, "dilations", cc->n_sp, cc->d);
    attr_ints(&t, "output_padding", cc->n_sp, cc->op);
    if (cc->out_shape[0] > 0)
        attr_ints(&t, "output_shape", cc->n_sp, cc->out_shape);
    if (cc->auto_pad)
        attr_str(&t, "auto_pad", cc->auto_pad);
    else if (cc->out_shape[0] <= 0)
        attr_ints(&t, "pads", 2 * cc->n_sp, pads);
    tn_what(&t,
            "ConvTranspose#%d %dD N=%lld C=%lld M=%lld g=%lld in=%lldx%lld k=%lldx%lld "
            "s=%lldx%lld d=%lldx%lld pads=%lld,%lld/%lld,%lld op=%lld,%lld out=%lld,%lld %s",
            idx, cc->n_sp, (long long)cc->batch, (long long)cc->c, (long long)cc->m,
            (long long)cc->group, (long long)cc->in[0], (long long)cc->in[1], (long long)cc->k[0],
            (long long)cc->k[1], (long long)cc->s[0], (long long)cc->s[1], (long long)cc->d[0],
            (long long)cc->d[1], (long long)cc->pb[0], (long long)cc->pb[1], (long long)cc->pe[0],
            (long long)cc->pe[1], (long long)cc->op[0], (long long)cc->op[1],
            (long long)cc->out_shape[0], (long long)cc->out_shape[1],
            cc->auto_pad ? cc->auto_pad : "");
    tn_check(&t, 17, (double)(cc->c / cc->group * kprod + 1));
    tn_free(&t);
}

Test(convt, fast_against_reference)
{
    static const int64_t sizes[] = {1, 7, 33};
    static const int64_t kernels[] = {1, 2, 3, 5};
    static const int64_t chan[][3] = {{3, 4, 1}, {4, 6, 2}, {4, 4, 4}, {1, 3, 1}};
    rng = 2;
    for (int idx = 0; idx < 200; idx++) {
        struct convt_case cc = {.n_sp = 1 + irand(2), .batch = 1 + irand(2)};
        const int64_t *ch = chan[irand(4)];
        cc.c = ch[0];
        cc.m = ch[1];
        cc.group = ch[2];
        int mode = irand(6); /* 0..2 pads, 3 output_shape, 4 SAME_UPPER, 5 SAME_LOWER */
        for (int i = 0; i < cc.n_sp; i++) {
            cc.in[i] = sizes[irand(3)];
            cc.k[i] = kernels[irand(4)];
            cc.s[i] = 1 + irand(3);
            cc.d[i] = 1 + irand(2);
            cc.op[i] = irand((int)(cc.s[i] > cc.d[i] ? cc.s[i] : cc.d[i]));
            int64_t natural = cc.s[i] * (cc.in[i] - 1) + cc.op[i] + (cc.k[i] - 1) * cc.d[i] + 1;
            /* pads never larger than the natural output */
            cc.pb[i] = irand((int)(cc.k[i] < natural / 2 + 1 ? cc.k[i] : natural / 2 + 1));
            cc.pe[i] = irand((int)(cc.k[i] < natural / 2 + 1 ? cc.k[i] : natural / 2 + 1));
            cc.out_shape[i] = mode == 3 ? natural - irand(3) : 0;
            if (cc.out_shape[i] < 1 && mode == 3)
                cc.out_shape[i] = 1;
        }
        cc.auto_pad = mode == 4 ? "SAME_UPPER" : mode == 5 ? "SAME_LOWER" : NULL;
        cc.bias = irand(2);
        convt_run(&cc, idx);
    }
}

Test(convt, named_cases)
{
    /* clang-format off */
    const struct convt_case cases[] = {
        /* 1x1 stride 1: the sgemm writes Y directly */
        {2, 2, 8, 6, 1, {7, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0, 0}, {0}, NULL, true},
        /* the usual upsampler */
        {2, 1, 16, 8, 1, {7, 7}, {4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0}, NULL, true},
        {2, 1, 4, 4, 4, {7, 33}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, NULL, false},
        /* output_shape larger than the natural size: the extra edge gets the bias */
        {2, 1, 2, 2, 1, {3, 3}, {3, 3}, {2, 2},
         {1, 1}, {0, 0}, {0, 0}, {0, 0}, {9, 10}, NULL, true},
        /* 3-D */
        {3, 1, 2, 3, 1, {3, 4, 5}, {3, 2, 3}, {2, 1, 2},
         {1, 2, 1}, {1, 0, 1}, {0, 1, 1}, {1, 0, 1}, {0}, NULL, true},
        {3, 2, 4, 4, 2, {3, 3, 3}, {2, 2, 2}, {2, 2, 2},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0}, "SAME_UPPER", false},
        {3, 1, 2, 2, 1, {2, 2, 2}, {1, 1, 1}, {1, 1, 1},
         {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0}, NULL, true},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        convt_run(&cases[i], (int)i);
}

Test(convt, output_shapes)
{
    /* 3x3 input, 3x3 kernel, stride 2: natural output 7; pads 1,1 -> 5; output_padding 1 -> 8;
     * SAME_* -> 6; output_shape wins */
    struct t_node t;
    tn_init(&t, "ConvTranspose", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 3});
    attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
    attr_ints(&t, "pads", 4, (int64_t[]){1, 0, 1, 0});
    attr_ints(&t, "output_padding", 2, (int64_t[]){0, 1});
    cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(t.out[0].dims[1], 2);
    cr_assert_eq(t.out[0].dims[2], 5);
    cr_assert_eq(t.out[0].dims[3], 8);
    tn_free(&t);

    tn_init(&t, "ConvTranspose", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 3});
    attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
    attr_str(&t, "auto_pad", "SAME_LOWER");
    cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(t.out[0].dims[2], 6);
    cr_assert_eq(t.out[0].dims[3], 6);
    tn_free(&t);

    tn_init(&t, "ConvTranspose", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 3, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 3});
    attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
    attr_ints(&t, "output_shape", 4, (int64_t[]){1, 2, 5, 6}); /* the whole shape, as some write */
    cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(t.out[0].dims[2], 5);
    cr_assert_eq(t.out[0].dims[3], 6);
    tn_free(&t);

    tn_init(&t, "ConvTranspose", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){3, 2, 3, 3});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "weight has 3 input channels, the input has 2");
    tn_free(&t);

    tn_init(&t, "ConvTranspose", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 4, (int64_t[]){2, 2, 3, 3});
    attr_ints(&t, "output_padding", 1, (int64_t[]){1});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "output_padding has 1 values, expected 2");
    tn_free(&t);
}

/* ----------------------------------------------------------------- pools */

static void pool_run(const char *op, enum nnp_dtype dt, int n_sp, const int64_t *in,
                     const int64_t *k, const int64_t *s, const int64_t *d, const int64_t *pads,
                     int ceil_mode, int flag, bool indices, int idx)
{
    struct t_node t;
    bool max = strcmp(op, "MaxPool") == 0;
    tn_init(&t, op, indices ? 2 : 1);
    int64_t xd[5] = {2, 3};
    int64_t kprod = 1;
    for (int i = 0; i < n_sp; i++) {
        xd[2 + i] = in[i];
        kprod *= k[i];
    }
    tn_input(&t, 0, dt, n_sp + 2, xd);
    attr_ints(&t, "kernel_shape", n_sp, k);
    attr_ints(&t, "strides", n_sp, s);
    attr_ints(&t, "pads", 2 * n_sp, pads);
    if (max)
        attr_ints(&t, "dilations", n_sp, d);
    attr_int(&t, "ceil_mode", ceil_mode);
    attr_int(&t, max ? "storage_order" : "count_include_pad", flag);
    tn_what(&t, "%s#%d %dD %s in=%lldx%lld k=%lldx%lld s=%lldx%lld d=%lldx%lld ceil=%d flag=%d", op,
            idx, n_sp, nnp_dtype_name(dt), (long long)in[0], (long long)in[1], (long long)k[0],
            (long long)k[1], (long long)s[0], (long long)s[1], (long long)d[0], (long long)d[1],
            ceil_mode, flag);
    tn_check(&t, 17, (double)kprod);
    tn_free(&t);
}

Test(pool, fast_against_reference)
{
    /* 129: rows of 16 and more interior columns at strides 2 and 3 (the vector pass) */
    static const int64_t sizes[] = {1, 7, 33, 129};
    rng = 3;
    int run = 0;
    while (run < 300) {
        int n_sp = 1 + irand(2);
        int64_t in[2], k[2], s[2], d[2] = {1, 1}, pads[4] = {0};
        bool max = irand(2);
        bool fits = true;
        for (int i = 0; i < n_sp; i++) {
            in[i] = sizes[irand(4)];
            k[i] = 1 + irand(4);
            s[i] = 1 + irand(3);
            if (max)
                d[i] = 1 + irand(2);
            int64_t ek = (k[i] - 1) * d[i] + 1;
            pads[i] = irand((int)ek);
            pads[n_sp + i] = irand((int)ek);
            fits &= in[i] + pads[i] + pads[n_sp + i] >= ek;
        }
        if (!fits)
            continue;
        enum nnp_dtype dt = NNP_DTYPE_F32;
        if (max && irand(4) == 0)
            dt = irand(2) ? NNP_DTYPE_U8 : NNP_DTYPE_I8;
        pool_run(max ? "MaxPool" : "AveragePool", dt, n_sp, in, k, s, d, pads, irand(2), irand(2),
                 max && irand(2), run);
        run++;
    }
}

Test(pool, indices_storage_order)
{
    /* one 2x3 plane, max 9 at row 1, column 1: row-major 1*3 + 1, column-major 1 + 1*2 */
    for (int order = 0; order < 2; order++) {
        struct t_node t;
        tn_init(&t, "MaxPool", 2);
        tn_input_f(&t, 0, 4, (int64_t[]){1, 1, 2, 3}, (float[]){0, 1, 2, 3, 9, 5});
        attr_ints(&t, "kernel_shape", 2, (int64_t[]){2, 3});
        attr_int(&t, "storage_order", order);
        cr_assert_eq(tn_prepare(&t, 12), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false);
        cr_assert_eq(((float *)t.out[0].data)[0], 9.0f);
        cr_assert_eq(((int64_t *)t.out[1].data)[0], order ? 1 + 1 * 2 : 1 * 3 + 1);
        tn_free(&t);
    }
}

Test(pool, average_count_include_pad)
{
    /* 1x1x2x2 of ones, 3x3 window, pads 1: 4 ones in a 9-tap window */
    for (int inc = 0; inc < 2; inc++) {
        struct t_node t;
        tn_init(&t, "AveragePool", 1);
        tn_input_f(&t, 0, 4, (int64_t[]){1, 1, 2, 2}, (float[]){1, 1, 1, 1});
        attr_ints(&t, "kernel_shape", 2, (int64_t[]){3, 3});
        attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
        attr_int(&t, "count_include_pad", inc);
        cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false);
        cr_assert_float_eq(((float *)t.out[0].data)[0], inc ? 4.0f / 9.0f : 1.0f, 1e-6);
        tn_free(&t);
    }
}

Test(pool, global_average)
{
    struct t_node t;
    tn_init(&t, "GlobalAveragePool", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 5, (int64_t[]){2, 3, 4, 5, 7});
    cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
    tn_run(&t, false);
    cr_assert_eq(t.out[0].rank, 5);
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 140; i++)
            s += ((float *)t.in[0].data)[p * 140 + i];
        expect_close("GlobalAveragePool", 0, p, ((float *)t.out[0].data)[p], s / 140, 140);
    }
    tn_free(&t);
}

Test(pool, errors)
{
    struct t_node t;
    tn_init(&t, "MaxPool", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 5, 5});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "kernel_shape is required");
    tn_free(&t);

    tn_init(&t, "MaxPool", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 1, 5, 5});
    attr_ints(&t, "kernel_shape", 2, (int64_t[]){2, 2});
    attr_ints(&t, "pads", 4, (int64_t[]){2, 0, 0, 0});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "must be smaller than the kernel");
    tn_free(&t);

    tn_init(&t, "AveragePool", 1);
    tn_input(&t, 0, NNP_DTYPE_U8, 4, (int64_t[]){1, 1, 5, 5});
    attr_ints(&t, "kernel_shape", 2, (int64_t[]){2, 2});
    tn_expect_error(&t, 17, NNP_ERR_UNSUPPORTED, "uint8");
    tn_free(&t);
}

/* ---------------------------------------------------------- normalization */

/* BatchNormalization: X (xd) and four parameters of pn values (or X.shape[1:]) */
static void bn_setup(struct t_node *t, int spatial, const int64_t *xd, int rank, int64_t pn)
{
    tn_init(t, "BatchNormalization", 1);
    tn_input(t, 0, NNP_DTYPE_F32, rank, xd);
    for (int i = 1; i < 5; i++) {
        struct nnp_rt_value *p = tn_input(t, i, NNP_DTYPE_F32, spatial ? 1 : rank - 1,
                                          spatial ? (int64_t[]){pn} : xd + 1);
        if (i == 4) /* a variance */
            for (int64_t j = 0; j < p->numel; j++)
                ((float *)p->data)[j] = 0.5f + (float)j;
    }
}

Test(norm, batchnorm_refuses_training)
{
    struct t_node t;
    bn_setup(&t, 1, (int64_t[]){2, 3, 4, 4}, 4, 3);
    attr_int(&t, "training_mode", 1);
    tn_expect_error(&t, 15, NNP_ERR_UNSUPPORTED, "training_mode=1");
    tn_free(&t);

    bn_setup(&t, 1, (int64_t[]){2, 3, 4, 4}, 4, 3);
    t.n_out = 3; /* the running statistics of opset 14 training */
    t.out[1].name = "running_mean";
    t.pout[1] = &t.out[1];
    tn_expect_error(&t, 14, NNP_ERR_UNSUPPORTED, "exists only in training");
    tn_free(&t);

    bn_setup(&t, 1, (int64_t[]){2, 3, 4, 4}, 4, 4);
    tn_expect_error(&t, 15, NNP_ERR_INVALID, "scale has shape [4], expected [3]");
    tn_free(&t);
}

static void bn_eval(int64_t opset, int spatial, const int64_t *xd, int rank, int64_t pn)
{
    struct t_node t;
    bn_setup(&t, spatial, xd, rank, pn);
    if (!spatial)
        attr_int(&t, "spatial", 0);
    attr_float(&t, "epsilon", 0.01f);
    cr_assert_eq(tn_prepare(&t, opset), NNP_OK, "%s", nnp_error_message());
    tn_run(&t, false);
    const float *x = t.in[0].data, *sc = t.in[1].data, *b = t.in[2].data;
    const float *mean = t.in[3].data, *var = t.in[4].data;
    int64_t per = spatial ? t.in[0].numel / xd[0] / pn : 1;
    int64_t chans = spatial ? pn : t.in[0].numel / xd[0];
    for (int64_t i = 0; i < t.in[0].numel; i++) {
        int64_t c = (i / per) % chans;
        double want = (x[i] - mean[c]) / sqrt(var[c] + 0.01) * sc[c] + b[c];
        expect_close("BatchNormalization", 0, i, ((float *)t.out[0].data)[i], want, 4);
    }
    tn_free(&t);
}

Test(norm, batchnorm_spatial_and_per_activation)
{
    bn_eval(15, 1, (int64_t[]){2, 3, 5, 7}, 4, 3);
    bn_eval(9, 1, (int64_t[]){4, 5}, 2, 5);
    /* opset 7: spatial = 0 means statistics per activation, shaped like X.shape[1:] */
    bn_eval(7, 0, (int64_t[]){2, 3, 4}, 3, 12);
}

Test(norm, layernorm_broadcast_scale_and_outputs)
{
    /* X [2,3,4], axis 1, Scale [1,4] (broadcast over the 3), B [3,1]: against a direct loop */
    struct t_node t;
    tn_init(&t, "LayerNormalization", 3);
    tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){1, 4});
    tn_input(&t, 2, NNP_DTYPE_F32, 2, (int64_t[]){3, 1});
    attr_int(&t, "axis", -2);
    attr_float(&t, "epsilon", 1e-3f);
    cr_assert_eq(tn_prepare(&t, 17), NNP_OK, "%s", nnp_error_message());
    tn_run(&t, false);
    cr_assert_eq(t.out[1].rank, 3);
    cr_assert(t.out[1].dims[0] == 2 && t.out[1].dims[1] == 1 && t.out[1].dims[2] == 1);
    const float *x = t.in[0].data, *sc = t.in[1].data, *b = t.in[2].data;
    for (int r = 0; r < 2; r++) {
        double mean = 0, var = 0;
        for (int j = 0; j < 12; j++)
            mean += x[r * 12 + j] / 12.0;
        for (int j = 0; j < 12; j++)
            var += (x[r * 12 + j] - mean) * (x[r * 12 + j] - mean) / 12.0;
        double istd = 1.0 / sqrt(var + 1e-3);
        expect_close("mean", 1, r, ((float *)t.out[1].data)[r], mean, 12);
        expect_close("invstd", 2, r, ((float *)t.out[2].data)[r], istd, 12);
        for (int j = 0; j < 12; j++) {
            double want = (x[r * 12 + j] - mean) * istd * sc[j % 4] + b[j / 4];
            expect_close("LayerNormalization", 0, r * 12 + j, ((float *)t.out[0].data)[r * 12 + j],
                         want, 12);
        }
    }
    tn_free(&t);

    tn_init(&t, "LayerNormalization", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){2, 4});
    tn_input(&t, 1, NNP_DTYPE_F32, 1, (int64_t[]){3});
    tn_expect_error(&t, 17, NNP_ERR_INVALID, "Scale has shape [3], which does not broadcast");
    tn_free(&t);
}

/* softmax of x (rows of len) written into want */
static void softmax_want(const float *x, double *want, int64_t outer, int64_t len, int64_t inner,
                         bool is_log)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double mx = -INFINITY, s = 0;
            for (int64_t l = 0; l < len; l++)
                mx = fmax(mx, x[(o * len + l) * inner + i]);
            for (int64_t l = 0; l < len; l++)
                s += exp(x[(o * len + l) * inner + i] - mx);
            for (int64_t l = 0; l < len; l++) {
                double v = x[(o * len + l) * inner + i] - mx;
                want[(o * len + l) * inner + i] = is_log ? v - log(s) : exp(v) / s;
            }
        }
}

/* Empty inputs get no scratch, and the kernels must not offset the NULL (fuzz-run) */
Test(norm, empty_inputs)
{
    struct t_node t;
    tn_init(&t, "LayerNormalization", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 0});
    tn_input(&t, 1, NNP_DTYPE_F32, 1, (int64_t[]){1}); /* Scale broadcast over nothing */
    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){1});
    attr_int(&t, "axis", 1);
    tn_check(&t, 17, 1);
    tn_free(&t);

    for (int axis = 0; axis < 3; axis++) {
        tn_init(&t, "Softmax", 1);
        tn_what(&t, "Softmax [3,0,4] axis %d", axis);
        tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){3, 0, 4});
        attr_int(&t, "axis", axis);
        tn_check(&t, 13, 1);
        tn_free(&t);
    }
}

Test(norm, softmax_axis_semantics_by_opset)
{
    /* [2,3,5] with axis 1: opset 11 normalizes the 15 elements of each row of the 2-D
     * view; opset 13 each column of 3 */
    for (int lg = 0; lg < 2; lg++)
        for (int v = 0; v < 3; v++) {
            int64_t opset = v == 0 ? 11 : 13;
            struct t_node t;
            tn_init(&t, lg ? "LogSoftmax" : "Softmax", 1);
            tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){2, 3, 5});
            for (int i = 0; i < 30; i++)
                ((float *)t.in[0].data)[i] *= 40.0f; /* large: exp would overflow unshifted */
            if (v < 2)
                attr_int(&t, "axis", 1);
            cr_assert_eq(tn_prepare(&t, opset), NNP_OK, "%s", nnp_error_message());
            tn_run(&t, false);
            double want[30];
            if (v == 0)
                softmax_want(t.in[0].data, want, 2, 15, 1, lg);
            else if (v == 1)
                softmax_want(t.in[0].data, want, 2, 3, 5, lg);
            else /* opset 13, default axis -1 */
                softmax_want(t.in[0].data, want, 6, 5, 1, lg);
            for (int i = 0; i < 30; i++)
                expect_close(lg ? "LogSoftmax" : "Softmax", 0, i, ((float *)t.out[0].data)[i],
                             want[i], 16);
            tn_free(&t);
        }
}

/* ------------------------------------------------------------- reductions */

/* reduce x (dims) over the axes in mask, as double */
static void reduce_want(const char *op, const struct nnp_rt_value *x, unsigned mask, double *want,
                        int64_t n_out)
{
    double *cnt = calloc((size_t)n_out, sizeof *cnt);
    bool max = strcmp(op, "ReduceMax") == 0;
    for (int64_t i = 0; i < n_out; i++)
        want[i] = max ? -INFINITY : 0;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t t = i, o = 0, step = 1;
        for (int a = x->rank - 1; a >= 0; a--) {
            int64_t idx = t % x->dims[a];
            t /= x->dims[a];
            if (!(mask >> a & 1)) {
                o += idx * step;
                step *= x->dims[a];
            }
        }
        double v = x->dtype == NNP_DTYPE_F32   ? ((float *)x->data)[i]
                   : x->dtype == NNP_DTYPE_I32 ? ((int32_t *)x->data)[i]
                                               : (double)((int64_t *)x->data)[i];
        want[o] = max ? fmax(want[o], v) : want[o] + v;
        cnt[o]++;
    }
    if (strcmp(op, "ReduceMean") == 0)
        for (int64_t i = 0; i < n_out; i++)
            want[i] = x->dtype == NNP_DTYPE_F32 ? want[i] / cnt[i] : trunc(want[i] / cnt[i]);
    free(cnt);
}

Test(reduce, every_axis_set_and_dtype)
{
    static const char *const ops[] = {"ReduceSum", "ReduceMean", "ReduceMax"};
    static const enum nnp_dtype dts[] = {NNP_DTYPE_F32, NNP_DTYPE_I32, NNP_DTYPE_I64};
    const int64_t dims[4] = {3, 1, 4, 5};
    for (int o = 0; o < 3; o++)
        for (int d = 0; d < 3; d++)
            for (unsigned mask = 0; mask < 16; mask++)
                for (int keep = 0; keep < 2; keep++) {
                    struct t_node t;
                    tn_init(&t, ops[o], 1);
                    tn_input(&t, 0, dts[d], 4, dims);
                    int64_t axes[4];
                    int na = 0;
                    for (int a = 0; a < 4; a++)
                        if (mask >> a & 1)
                            axes[na++] = a % 2 ? a - 4 : a; /* some negative */
                    bool sum13 = o == 0;
                    if (sum13 && na) {
                        struct nnp_rt_value *ax =
                            tn_input(&t, 1, NNP_DTYPE_I64, 1, (int64_t[]){na});
                        memcpy(ax->data, axes, (size_t)na * sizeof *axes);
                    } else if (na) {
                        attr_ints(&t, "axes", na, axes);
                    }
                    attr_int(&t, "keepdims", keep);
                    tn_what(&t, "%s %s mask=%x keepdims=%d", ops[o], nnp_dtype_name(dts[d]), mask,
                            keep);
                    cr_assert_eq(tn_prepare(&t, 13), NNP_OK, "%s: %s", t.what, nnp_error_message());
                    tn_run(&t, false);
                    unsigned m = mask ? mask : 15u; /* no axes: all */
                    int want_rank = 0;
                    for (int a = 0; a < 4; a++)
                        want_rank += keep || !(m >> a & 1);
                    cr_assert_eq(t.out[0].rank, want_rank, "%s", t.what);
                    double want[60];
                    reduce_want(ops[o], &t.in[0], m, want, t.out[0].numel);
                    for (int64_t i = 0; i < t.out[0].numel; i++) {
                        double got = dts[d] == NNP_DTYPE_F32 ? ((float *)t.out[0].data)[i]
                                     : dts[d] == NNP_DTYPE_I32
                                         ? ((int32_t *)t.out[0].data)[i]
                                         : (double)((int64_t *)t.out[0].data)[i];
                        expect_close(t.what, 0, i, got, want[i], 60);
                    }
                    tn_free(&t);
                }
}

/* An empty input: the reduction of nothing in every output element, and no walk over
 * the rows the other dims would count (fuzz-run: [2^40,16,5,0,...] ran for minutes) */
Test(reduce, empty_input)
{
    static const char *const ops[] = {"ReduceSum", "ReduceMax", "ReduceMean"};
    for (int o = 0; o < 3; o++) {
        struct t_node t;
        tn_init(&t, ops[o], 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){3, 0, 2});
        attr_ints(&t, "axes", 1, (int64_t[]){1});
        cr_assert_eq(tn_prepare(&t, 13), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false);
        cr_assert_eq(t.out[0].numel, 6);
        for (int64_t i = 0; i < 6; i++) {
            float y = ((float *)t.out[0].data)[i];
            if (o == 0)
                cr_assert_eq(y, 0.0f, "%s", ops[o]);
            else if (o == 1)
                cr_assert(isinf(y) && y < 0, "%s: %g", ops[o], (double)y);
            else
                cr_assert(isnan(y), "%s: %g", ops[o], (double)y);
        }
        tn_free(&t);

        tn_init(&t, ops[o], 1);
        tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){(int64_t)1 << 40, 16, 0});
        attr_ints(&t, "axes", 1, (int64_t[]){0});
        cr_assert_eq(tn_prepare(&t, 13), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false); /* 2^44 empty rows, were it to walk them */
        cr_assert_eq(t.out[0].numel, 0);
        tn_free(&t);
    }
}

Test(reduce, noop_with_empty_axes_and_errors)
{
    struct t_node t;
    tn_init(&t, "ReduceSum", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 4});
    tn_input(&t, 1, NNP_DTYPE_I64, 1, (int64_t[]){0});
    attr_int(&t, "noop_with_empty_axes", 1);
    cr_assert_eq(tn_prepare(&t, 13), NNP_OK, "%s", nnp_error_message());
    tn_run(&t, false);
    cr_assert_eq(t.out[0].rank, 2);
    cr_assert_eq(memcmp(t.out[0].data, t.in[0].data, 48), 0);
    tn_free(&t);

    tn_init(&t, "ReduceMean", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 4});
    attr_ints(&t, "axes", 2, (int64_t[]){1, -1});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "axis 1 appears twice");
    tn_free(&t);

    tn_init(&t, "ReduceMax", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 4});
    attr_ints(&t, "axes", 1, (int64_t[]){2});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "axes[0] is 2, expected -2..1");
    tn_free(&t);

    tn_init(&t, "ReduceSum", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){3, 4});
    tn_input(&t, 1, NNP_DTYPE_I64, 1, (int64_t[]){1});
    t.in[1].is_const = false;
    tn_expect_error(&t, 13, NNP_ERR_UNSUPPORTED, "must be a constant");
    tn_free(&t);

    tn_init(&t, "ReduceSum", 1);
    tn_input(&t, 0, NNP_DTYPE_U8, 2, (int64_t[]){3, 4});
    tn_expect_error(&t, 13, NNP_ERR_UNSUPPORTED, "uint8");
    tn_free(&t);
}

/* --- fused epilogues (runtime.c's planner sets n->fusion) --- */

/* Forward with fusion.act and fusion.residual set against forward without, followed by
 * what the unfused Add and activation nodes compute: the same bits, on every kernel
 * path (pointwise, shift, strided gather, N-D, depthwise; matrix-vector, product,
 * sgemm; batched MatMul). */
static void fused_check(struct t_node *t, const struct nnp_act *act, bool with_res)
{
    enum nnp_status st = tn_prepare(t, 17);
    cr_assert_eq(st, NNP_OK, "%s: prepare: %s", t->what, nnp_error_message());
    struct nnp_rt_value *y = &t->out[0];
    size_t bytes = y->nbytes ? y->nbytes : 1;
    float *res = malloc(bytes), *want = malloc(bytes);
    for (int64_t i = 0; i < y->numel; i++)
        res[i] = urand();
    struct nnp_rt_value rv = *y;
    rv.name = "R";
    rv.data = res;
    tn_run(t, false); /* unfused */
    for (int64_t i = 0; i < y->numel; i++)
        want[i] = with_res ? ((float *)y->data)[i] + res[i] : ((float *)y->data)[i];
    nnp_act_apply(act, y->numel, want);
    t->e.fusion.act = *act;
    t->e.fusion.residual = with_res ? &rv : NULL;
    tn_run(t, false);
    for (int64_t i = 0; i < y->numel; i++) {
        float got = ((float *)y->data)[i];
        cr_assert(memcmp(&got, &want[i], sizeof got) == 0 || (isnan(got) && isnan(want[i])),
                  "%s, act %s%s: element %lld fused %.9g, unfused %.9g", t->what,
                  nnp_act_name(act->kind), with_res ? " + residual" : "", (long long)i, got,
                  want[i]);
    }
    t->e.fusion = (struct nnp_fusion){0};
    free(res);
    free(want);
}

Test(fusion, epilogues_match_the_unfused_nodes)
{
    const struct nnp_act acts[] = {{NNP_ACT_NONE, 0, 0},         {NNP_ACT_RELU, 0, 0},
                                   {NNP_ACT_CLIP, 0, 6},         {NNP_ACT_LEAKY_RELU, 0.1f, 0},
                                   {NNP_ACT_SIGMOID, 0, 0},      {NNP_ACT_HARD_SWISH, 0, 0},
                                   {NNP_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {NNP_ACT_TANH, 0, 0},
                                   {NNP_ACT_GELU, 0, 0}};
    /* clang-format off */
    const struct conv_case convs[] = {
        {2, 2, 8, 16, 1, {7, 33}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},   /* 1x1 */
        {2, 1, 4, 8, 1, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},    /* shift */
        {2, 1, 4, 64, 1, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 1}, NULL, false},   /* gather */
        {2, 1, 8, 8, 8, {9, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},     /* depthwise */
        {2, 2, 8, 64, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},    /* transposed */
        {3, 1, 2, 3, 1, {4, 5, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {0, 1, 0}, {1, 0, 1}, NULL, true},
    };
    /* clang-format on */
    for (size_t c = 0; c < sizeof convs / sizeof *convs; c++)
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
            for (int r = 0; r < 2; r++) {
                const struct conv_case *cc = &convs[c];
                struct t_node t;
                tn_init(&t, "Conv", 1);
                int64_t xd[5], wd[5], pads[6];
                int rank = conv_case_shapes(cc, xd, wd, pads);
                tn_input(&t, 0, NNP_DTYPE_F32, rank, xd);
                tn_input(&t, 1, NNP_DTYPE_F32, rank, wd);
                if (cc->bias)
                    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){cc->m});
                if (cc->group != 1)
                    attr_int(&t, "group", cc->group);
                attr_ints(&t, "strides", cc->n_sp, cc->s);
                attr_ints(&t, "pads", 2 * cc->n_sp, pads);
                tn_what(&t, "Conv case %zu", c);
                fused_check(&t, &acts[a], r);
                tn_free(&t);
            }
    /* Gemm: matrix-vector (M = 2), the product (M = 9), sgemm (C computed, beta 0.5);
     * MatMul: rows folded, batched */
    for (int v = 0; v < 5; v++)
        for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
            for (int r = 0; r < 2; r++) {
                struct t_node t;
                tn_init(&t, v < 3 ? "Gemm" : "MatMul", 1);
                if (v < 3) {
                    int64_t m = v == 0 ? 2 : 9;
                    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){m, 33});
                    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){17, 33});
                    tn_input(&t, 2, NNP_DTYPE_F32, 1, (int64_t[]){17})->is_const = v != 2;
                    attr_int(&t, "transB", 1);
                    if (v == 2)
                        attr_float(&t, "beta", 0.5f);
                } else if (v == 3) {
                    tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){3, 7, 33});
                    tn_input(&t, 1, NNP_DTYPE_F32, 2, (int64_t[]){33, 50});
                } else {
                    tn_input(&t, 0, NNP_DTYPE_F32, 3, (int64_t[]){3, 7, 33});
                    tn_input(&t, 1, NNP_DTYPE_F32, 3, (int64_t[]){3, 33, 50})->is_const = false;
                }
                tn_what(&t, "%s variant %d", v < 3 ? "Gemm" : "MatMul", v);
                fused_check(&t, &acts[a], r);
                tn_free(&t);
            }
}

/* ------------------------------------------------------------- quantized */

/* Ties to even, saturation, NaN and infinities, as quant.h says (ONNX Runtime's float32
 * arithmetic) */
Test(quant, quantize_rounds_ties_to_even_and_saturates)
{
    static const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, NAN, INFINITY,
                              -INFINITY, 126.5f, 3.0f};
    static const int want_u8[] = {3, 5, 5, 3, 1, 255, 0, 0, 255, 0, 129, 6};
    static const int want_i8[] = {3, 5, 5, 3, 1, 127, -128, -128, 127, -128, 127, 6};
    int64_t d = (int64_t)(sizeof x / sizeof *x);
    for (int signed8 = 0; signed8 < 2; signed8++) {
        struct t_node t;
        tn_init(&t, "QuantizeLinear", 1);
        tn_input_f(&t, 0, 1, &d, x);
        tn_input_f(&t, 1, 0, NULL, (float[]){1.0f});
        struct nnp_rt_value *zp = tn_input(&t, 2, signed8 ? NNP_DTYPE_I8 : NNP_DTYPE_U8, 0, NULL);
        nnp_q_put(zp->dtype, zp->data, 0, 3);
        cr_assert_eq(tn_prepare(&t, 13), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false);
        for (int64_t i = 0; i < d; i++)
            cr_assert_eq(nnp_q_get(zp->dtype, t.out[0].data, i),
                         signed8 ? want_i8[i] : want_u8[i], "%s x[%lld] = %g: got %d",
                         signed8 ? "int8" : "uint8", (long long)i, (double)x[i],
                         nnp_q_get(zp->dtype, t.out[0].data, i));
        tn_free(&t);
    }
}

/* Per axis (a negative axis too), then DequantizeLinear of the result, against the
 * formulas written out here */
Test(quant, per_axis_quantize_and_dequantize)
{
    int64_t xd[3] = {2, 3, 5};
    for (int axis = -3; axis < 3; axis++) {
        int ax = axis < 0 ? axis + 3 : axis;
        int64_t count = xd[ax], inner = 1;
        for (int i = ax + 1; i < 3; i++)
            inner *= xd[i];
        struct t_node q;
        tn_init(&q, "QuantizeLinear", 1);
        struct nnp_rt_value *x = tn_input(&q, 0, NNP_DTYPE_F32, 3, xd);
        struct nnp_rt_value *sc = tn_input(&q, 1, NNP_DTYPE_F32, 1, &count);
        struct nnp_rt_value *zp = tn_input(&q, 2, NNP_DTYPE_I8, 1, &count);
        for (int64_t c = 0; c < count; c++)
            ((float *)sc->data)[c] = 0.01f * (float)(c + 1);
        attr_int(&q, "axis", axis);
        cr_assert_eq(tn_prepare(&q, 13), NNP_OK, "%s", nnp_error_message());
        tn_run(&q, false);
        struct t_node dq;
        tn_init(&dq, "DequantizeLinear", 1);
        struct nnp_rt_value *qx = tn_input(&dq, 0, NNP_DTYPE_I8, 3, xd);
        memcpy(qx->data, q.out[0].data, q.out[0].nbytes);
        memcpy(tn_input(&dq, 1, NNP_DTYPE_F32, 1, &count)->data, sc->data, sc->nbytes);
        memcpy(tn_input(&dq, 2, NNP_DTYPE_I8, 1, &count)->data, zp->data, zp->nbytes);
        attr_int(&dq, "axis", axis);
        cr_assert_eq(tn_prepare(&dq, 13), NNP_OK, "%s", nnp_error_message());
        tn_run(&dq, false);
        for (int64_t i = 0; i < x->numel; i++) {
            int64_t c = i / inner % count;
            float s = ((float *)sc->data)[c];
            int z = ((int8_t *)zp->data)[c];
            float v = ((float *)x->data)[i] / s;
            int want = (int)nearbyintf(v) + z;
            want = want < -128 ? -128 : want > 127 ? 127 : want;
            cr_assert_eq(((int8_t *)q.out[0].data)[i], want, "axis %d element %lld", axis,
                         (long long)i);
            float back = (float)(want - z) * s;
            cr_assert(((float *)dq.out[0].data)[i] == back, "axis %d element %lld: %g, want %g",
                      axis, (long long)i, (double)((float *)dq.out[0].data)[i], (double)back);
        }
        tn_free(&q);
        tn_free(&dq);
    }
}

/* The range widened to hold 0: all-zero input (scale 0), all positive, all negative */
Test(quant, dynamic_quantize_edges)
{
    static const float cases[3][4] = {{0, 0, 0, 0}, {0.5f, 1.0f, 2.0f, 4.0f}, {-4, -2, -1, -0.5f}};
    static const int want_zp[3] = {0, 0, 255};
    static const int want_y[3][4] = {{0, 0, 0, 0}, {32, 64, 127, 255}, {0, 128, 191, 223}};
    for (int k = 0; k < 3; k++) {
        struct t_node t;
        tn_init(&t, "DynamicQuantizeLinear", 3);
        tn_input_f(&t, 0, 1, (int64_t[]){4}, cases[k]);
        cr_assert_eq(tn_prepare(&t, 11), NNP_OK, "%s", nnp_error_message());
        tn_run(&t, false);
        float scale = *(float *)t.out[1].data;
        cr_assert(scale == (k == 0 ? 0.0f : 4.0f / 255.0f), "case %d: scale %g", k, (double)scale);
        cr_assert_eq(*(uint8_t *)t.out[2].data, want_zp[k], "case %d: zero point", k);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(((uint8_t *)t.out[0].data)[i], want_y[k][i], "case %d: y[%d] = %d", k, i,
                         ((uint8_t *)t.out[0].data)[i]);
        tn_free(&t);
    }
}

/* MatMulInteger on odd shapes, uint8 and int8 mixed, zero points per tensor, per row
 * and per column, a broadcast batch: against the sum written out here */
Test(quant, matmul_integer_against_direct_sums)
{
    static const int64_t sizes[][3] = {{1, 1, 1}, {7, 33, 5}, {3, 129, 17}, {33, 7, 1}};
    for (int si = 0; si < 4; si++)
        for (int kind = 0; kind < 4; kind++) {
            int64_t m = sizes[si][0], k = sizes[si][1], nn = sizes[si][2];
            enum nnp_dtype ta = kind & 1 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            enum nnp_dtype tb = kind & 2 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            int64_t za = kind < 2 ? 1 : m, zb = kind < 2 ? nn : 1;
            struct t_node t;
            tn_init(&t, "MatMulInteger", 1);
            struct nnp_rt_value *a = tn_input(&t, 0, ta, 3, (int64_t[]){2, m, k});
            struct nnp_rt_value *b = tn_input(&t, 1, tb, 2, (int64_t[]){k, nn});
            struct nnp_rt_value *az = tn_input(&t, 2, ta, 1, &za);
            struct nnp_rt_value *bz = tn_input(&t, 3, tb, 1, &zb);
            tn_what(&t, "MatMulInteger %s x %s, %lldx%lldx%lld", nnp_dtype_name(ta),
                    nnp_dtype_name(tb), (long long)m, (long long)k, (long long)nn);
            cr_assert_eq(tn_prepare(&t, 10), NNP_OK, "%s: %s", t.what, nnp_error_message());
            tn_run(&t, false);
            for (int64_t bi = 0; bi < 2; bi++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < nn; j++) {
                        int32_t want = 0;
                        for (int64_t p = 0; p < k; p++)
                            want += (nnp_q_get(ta, a->data, (bi * m + i) * k + p) -
                                     nnp_q_get(ta, az->data, za == 1 ? 0 : i)) *
                                    (nnp_q_get(tb, b->data, p * nn + j) -
                                     nnp_q_get(tb, bz->data, zb == 1 ? 0 : j));
                        cr_assert_eq(((int32_t *)t.out[0].data)[(bi * m + i) * nn + j], want,
                                     "%s: [%lld,%lld,%lld]", t.what, (long long)bi, (long long)i,
                                     (long long)j);
                    }
            tn_free(&t);
        }
}

/* ConvInteger against the float Conv on the same integers less their zero points (float
 * sums of such small integers are exact), over strides, pads, dilations and groups; then
 * QLinearConv against ConvInteger's sums requantized as quant.h says */
Test(quant, conv_integer_and_qlinear_against_float_conv)
{
    static const struct conv_case cases[] = {
        {2, 1, 3, 4, 1, {7, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 4, 6, 2, {9, 8}, {3, 2}, {2, 1}, {1, 2}, {0, 1}, {2, 0}, NULL, true},
        {2, 1, 4, 4, 4, {6, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, false},
        {1, 1, 33, 7, 1, {12}, {5}, {1}, {2}, {2}, {2}, NULL, true},
        {2, 1, 1, 3, 1, {5, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, "SAME_UPPER", false},
    };
    for (int ci = 0; ci < (int)(sizeof cases / sizeof *cases); ci++) {
        const struct conv_case *cc = &cases[ci];
        int64_t xd[5], wd[5], pads[6];
        int rank = conv_case_shapes(cc, xd, wd, pads);
        enum nnp_dtype tx = ci % 2 ? NNP_DTYPE_I8 : NNP_DTYPE_U8, tw = NNP_DTYPE_I8;
        struct t_node qi, qc, fc;
        tn_init(&qi, "ConvInteger", 1);
        tn_init(&qc, "QLinearConv", 1);
        tn_init(&fc, "Conv", 1);
        struct t_node *all[3] = {&qi, &qc, &fc};
        for (int k = 0; k < 3; k++) {
            if (cc->group != 1)
                attr_int(all[k], "group", cc->group);
            attr_ints(all[k], "strides", cc->n_sp, cc->s);
            attr_ints(all[k], "dilations", cc->n_sp, cc->d);
            if (cc->auto_pad)
                attr_str(all[k], "auto_pad", cc->auto_pad);
            else
                attr_ints(all[k], "pads", 2 * cc->n_sp, pads);
        }
        struct nnp_rt_value *x = tn_input(&qi, 0, tx, rank, xd), *w = tn_input(&qi, 1, tw, rank, wd);
        struct nnp_rt_value *xz = tn_input(&qi, 2, tx, 0, NULL);
        struct nnp_rt_value *wz = tn_input(&qi, 3, tw, 1, &cc->m);
        /* the same operands for QLinearConv, with scales, y's zero point and a bias */
        memcpy(tn_input(&qc, 0, tx, rank, xd)->data, x->data, x->nbytes);
        tn_input_f(&qc, 1, 0, NULL, (float[]){0.02f});
        memcpy(tn_input(&qc, 2, tx, 0, NULL)->data, xz->data, xz->nbytes);
        memcpy(tn_input(&qc, 3, tw, rank, wd)->data, w->data, w->nbytes);
        struct nnp_rt_value *ws = tn_input(&qc, 4, NNP_DTYPE_F32, 1, &cc->m);
        for (int64_t m = 0; m < cc->m; m++)
            ((float *)ws->data)[m] = 0.01f + 0.003f * (float)m;
        memcpy(tn_input(&qc, 5, tw, 1, &cc->m)->data, wz->data, wz->nbytes);
        tn_input_f(&qc, 6, 0, NULL, (float[]){0.05f});
        struct nnp_rt_value *yz = tn_input(&qc, 7, NNP_DTYPE_U8, 0, NULL);
        struct nnp_rt_value *bias = tn_input(&qc, 8, NNP_DTYPE_I32, 1, &cc->m);
        /* float Conv of x - x_zero_point by w - w_zero_point */
        struct nnp_rt_value *xf = tn_input(&fc, 0, NNP_DTYPE_F32, rank, xd);
        struct nnp_rt_value *wf = tn_input(&fc, 1, NNP_DTYPE_F32, rank, wd);
        int32_t xzv = nnp_q_get(tx, xz->data, 0);
        for (int64_t i = 0; i < x->numel; i++)
            ((float *)xf->data)[i] = (float)(nnp_q_get(tx, x->data, i) - xzv);
        int64_t per_m = w->numel / cc->m;
        for (int64_t i = 0; i < w->numel; i++)
            ((float *)wf->data)[i] =
                (float)(nnp_q_get(tw, w->data, i) - nnp_q_get(tw, wz->data, i / per_m));
        tn_what(&qi, "ConvInteger case %d", ci);
        cr_assert_eq(tn_prepare(&qi, 10), NNP_OK, "%s: %s", qi.what, nnp_error_message());
        cr_assert_eq(tn_prepare(&qc, 10), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(tn_prepare(&fc, 17), NNP_OK, "%s", nnp_error_message());
        tn_run(&qi, false);
        tn_run(&qc, false);
        tn_run(&fc, false);
        int64_t plane = qi.out[0].numel / (cc->batch * cc->m);
        for (int64_t i = 0; i < qi.out[0].numel; i++) {
            int32_t sum = ((int32_t *)qi.out[0].data)[i];
            cr_assert(sum == ((float *)fc.out[0].data)[i], "case %d element %lld: %d, Conv %g",
                      ci, (long long)i, sum, (double)((float *)fc.out[0].data)[i]);
            int64_t m = i / plane % cc->m;
            float mul = 0.02f * ((float *)ws->data)[m] / 0.05f;
            int32_t zy = nnp_q_get(NNP_DTYPE_U8, yz->data, 0);
            int32_t want =
                nnp_q_quantize((float)(sum + ((int32_t *)bias->data)[m]) * mul, zy, 0, 255);
            cr_assert_eq(((uint8_t *)qc.out[0].data)[i], want, "QLinearConv case %d element %lld",
                         ci, (long long)i);
        }
        for (int k = 0; k < 3; k++)
            tn_free(all[k]);
    }
}

/* QLinearConv's integer GEMM path (constant int8 weights, zero points 0) against its
 * direct loops, to the bit: 1x1 read in place, im2col over strides, pads, dilations,
 * groups and depthwise, 1-D, int8 and uint8 in and out, batches, one and two threads
 * (whole units per task, and one unit split by panels and rows) */
Test(quant, qlinear_conv_gemm_path_against_direct_loops)
{
    static const struct conv_case cases[] = {
        {2, 1, 3, 4, 1, {7, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 4, 6, 2, {9, 8}, {3, 2}, {2, 1}, {1, 2}, {0, 1}, {2, 0}, NULL, true},
        {2, 1, 8, 8, 8, {10, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, false},
        {2, 3, 5, 5, 5, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {1, 1, 33, 7, 1, {12}, {5}, {1}, {2}, {2}, {2}, NULL, true},
        {2, 1, 37, 70, 1, {9, 11}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 1, 19, 130, 1, {15, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 3, 9, 1, {16, 16}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}, NULL, false},
        {2, 1, 8, 16, 1, {11, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 8, 12, 1, {9, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, NULL, true},
        {2, 1, 5, 4, 1, {10, 11}, {3, 3}, {3, 3}, {1, 2}, {2, 1}, {0, 2}, NULL, true},
        {2, 1, 12, 6, 2, {8, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, NULL, true},
        {2, 2, 1, 6, 1, {12, 13}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, NULL, true},
        {2, 1, 1, 4, 1, {11, 12}, {3, 4}, {2, 1}, {2, 1}, {1, 0}, {1, 2}, NULL, false},
        {2, 1, 1, 9, 1, {20, 21}, {1, 7}, {1, 1}, {1, 1}, {0, 3}, {0, 3}, NULL, true},
        /* channels enough for AMX (where it runs): 16 groups of 4 a tap, 24 padded to
           32 at stride 2, 13 padded to 16 in a 1x1, two groups of 48 */
        {2, 2, 64, 40, 1, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 96, 20, 1, {7, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 2, 50, 33, 1, {8, 9}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, NULL, false},
        {2, 1, 96, 34, 2, {6, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        /* depthwise in integers (qdw.h): stride 2 over rows of several vectors, a
           5x5 (two quads a row), a channel multiplier of 2, a 1x7 at stride 3 */
        {2, 2, 6, 6, 6, {37, 40}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, NULL, true},
        {2, 1, 4, 4, 4, {19, 35}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, NULL, false},
        {2, 1, 3, 6, 3, {9, 20}, {3, 3}, {1, 1}, {1, 1}, {0, 1}, {2, 1}, NULL, true},
        {2, 1, 2, 2, 2, {5, 30}, {1, 7}, {1, 3}, {1, 1}, {0, 3}, {0, 2}, NULL, true},
    };
    struct nnp_pool *pool = nnp_pool_new(2);
    for (int ci = 0; ci < (int)(sizeof cases / sizeof *cases); ci++)
        for (int variant = 0; variant < 4; variant++) {
            const struct conv_case *cc = &cases[ci];
            int64_t xd[5], wd[5], pads[6];
            int rank = conv_case_shapes(cc, xd, wd, pads);
            enum nnp_dtype tx = variant & 1 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            enum nnp_dtype ty = variant & 2 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            struct t_node t;
            tn_init(&t, "QLinearConv", 1);
            if (cc->group != 1)
                attr_int(&t, "group", cc->group);
            attr_ints(&t, "strides", cc->n_sp, cc->s);
            attr_ints(&t, "dilations", cc->n_sp, cc->d);
            attr_ints(&t, "pads", 2 * cc->n_sp, pads);
            tn_input(&t, 0, tx, rank, xd);
            tn_input_f(&t, 1, 0, NULL, (float[]){0.02f});
            tn_input(&t, 2, tx, 0, NULL);
            tn_input(&t, 3, NNP_DTYPE_I8, rank, wd);
            struct nnp_rt_value *ws = tn_input(&t, 4, NNP_DTYPE_F32, 1, &cc->m);
            for (int64_t m = 0; m < cc->m; m++)
                ((float *)ws->data)[m] = 0.001f + 0.0003f * (float)m;
            struct nnp_rt_value *wz = tn_input(&t, 5, NNP_DTYPE_I8, 1, &cc->m);
            memset(wz->data, 0, wz->nbytes);
            tn_input_f(&t, 6, 0, NULL, (float[]){0.05f});
            tn_input(&t, 7, ty, 0, NULL);
            if (cc->bias)
                tn_input(&t, 8, NNP_DTYPE_I32, 1, &cc->m);
            tn_what(&t, "QLinearConv case %d variant %d", ci, variant);
            if (variant >= 2)
                t.pool = pool;
            tn_check(&t, 10, 1);
            tn_free(&t);
        }
    nnp_pool_free(pool);
}

/* QLinearMatMul's integer GEMM path (constant int8 B, zero points 0) against its
 * direct loops, to the bit: rows 1 to 70 (batched A folded into rows), k and n off
 * the tile, per-column and per-tensor scales, int8 and uint8 in and out, the bias
 * the planner may add (input 8), one and two threads */
Test(quant, qlinear_matmul_gemm_path_against_direct_loops)
{
    static const int64_t shapes[][4] = {
        {0, 1, 37, 100}, {0, 5, 64, 49}, {0, 70, 131, 200}, {2, 3, 5, 17}, {0, 1, 1024, 260},
    };
    struct nnp_pool *pool = nnp_pool_new(2);
    for (int ci = 0; ci < (int)(sizeof shapes / sizeof *shapes); ci++)
        for (int variant = 0; variant < 8; variant++) {
            int64_t batch = shapes[ci][0], m = shapes[ci][1], k = shapes[ci][2];
            int64_t nn = shapes[ci][3];
            enum nnp_dtype ta = variant & 1 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            enum nnp_dtype ty = variant & 2 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
            struct t_node t;
            tn_init(&t, "QLinearMatMul", 1);
            if (batch)
                tn_input(&t, 0, ta, 3, (int64_t[]){batch, m, k});
            else
                tn_input(&t, 0, ta, 2, (int64_t[]){m, k});
            tn_input_f(&t, 1, 0, NULL, (float[]){0.03f});
            tn_input(&t, 2, ta, 0, NULL);
            tn_input(&t, 3, NNP_DTYPE_I8, 2, (int64_t[]){k, nn});
            int64_t nb = variant & 4 ? nn : 1;
            struct nnp_rt_value *bs = tn_input(&t, 4, NNP_DTYPE_F32, 1, &nb);
            for (int64_t j = 0; j < nb; j++)
                ((float *)bs->data)[j] = 0.0005f + 0.00001f * (float)j;
            struct nnp_rt_value *bz = tn_input(&t, 5, NNP_DTYPE_I8, 1, &nb);
            memset(bz->data, 0, bz->nbytes);
            tn_input_f(&t, 6, 0, NULL, (float[]){0.04f});
            tn_input(&t, 7, ty, 0, NULL);
            if (variant & 2)
                tn_input(&t, 8, NNP_DTYPE_I32, 1, &nn);
            tn_what(&t, "QLinearMatMul case %d variant %d", ci, variant);
            t.pool = variant & 1 ? pool : NULL;
            tn_check(&t, 10, 1);
            tn_free(&t);
        }
    nnp_pool_free(pool);
}

Test(quant, errors_name_what_was_found)
{
    struct t_node t;
    tn_init(&t, "ConvInteger", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 4, (int64_t[]){1, 2, 5, 5});
    tn_input(&t, 1, NNP_DTYPE_I8, 4, (int64_t[]){3, 2, 3, 3});
    tn_expect_error(&t, 10, NNP_ERR_UNSUPPORTED, "only uint8 and int8");
    tn_free(&t);

    tn_init(&t, "ConvInteger", 1);
    tn_input(&t, 0, NNP_DTYPE_U8, 4, (int64_t[]){1, 2, 5, 5});
    tn_input(&t, 1, NNP_DTYPE_I8, 4, (int64_t[]){3, 2, 3, 3});
    tn_input(&t, 2, NNP_DTYPE_U8, 0, NULL);
    tn_input(&t, 3, NNP_DTYPE_I8, 1, (int64_t[]){2});
    tn_expect_error(&t, 10, NNP_ERR_INVALID, "one per output channel");
    tn_free(&t);

    tn_init(&t, "MatMulInteger", 1);
    tn_input(&t, 0, NNP_DTYPE_U8, 2, (int64_t[]){4, 3});
    tn_input(&t, 1, NNP_DTYPE_U8, 2, (int64_t[]){3, 2});
    tn_input(&t, 2, NNP_DTYPE_I8, 0, NULL);
    tn_expect_error(&t, 10, NNP_ERR_INVALID, "a_zero_point is int8, expected uint8");
    tn_free(&t);

    tn_init(&t, "QuantizeLinear", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){4, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 1, (int64_t[]){4});
    tn_expect_error(&t, 13, NNP_ERR_INVALID, "scale has 4 values, axis 1 of the input 3");
    tn_free(&t);

    tn_init(&t, "QuantizeLinear", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 2, (int64_t[]){4, 3});
    tn_input(&t, 1, NNP_DTYPE_F32, 0, NULL);
    attr_int(&t, "block_size", 2);
    tn_expect_error(&t, 21, NNP_ERR_UNSUPPORTED, "block_size");
    tn_free(&t);

    tn_init(&t, "DequantizeLinear", 1);
    tn_input(&t, 0, NNP_DTYPE_F32, 1, (int64_t[]){4});
    tn_input(&t, 1, NNP_DTYPE_F32, 0, NULL);
    tn_expect_error(&t, 13, NNP_ERR_UNSUPPORTED, "only uint8, int8 and int32");
    tn_free(&t);
}

/* The rows under QuantizeLinear and DequantizeLinear: every ISA this CPU runs gives the
 * scalar version's bits, on lengths around the vector widths, with ties, NaN,
 * infinities, values past the range and negative zero among the inputs */
Test(quant, rows_every_isa_against_scalar)
{
    static const int64_t lens[] = {1, 7, 8, 15, 16, 17, 33, 129};
    static const float special[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, NAN, INFINITY, -INFINITY,
                                    1e30f, -1e30f, -0.0f, 127.5f, -128.5f, 254.5f};
    float x[160], want_f[160], got_f[160];
    uint8_t q[160], want_q[160], got_q[160];
    for (int isa = NNP_ISA_AVX2; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa))
            continue;
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
            for (int signed8 = 0; signed8 < 2; signed8++) {
                enum nnp_dtype t = signed8 ? NNP_DTYPE_I8 : NNP_DTYPE_U8;
                int64_t n = lens[li];
                int32_t zp = signed8 ? irand(21) - 10 : irand(256);
                float scale = 0.01f + (float)irand(100) * 0.013f;
                for (int64_t i = 0; i < n; i++) {
                    x[i] = irand(4) == 0 ? special[irand(14)] * scale : urand() * 300.0f * scale;
                    q[i] = (uint8_t)irand(256);
                }
                nnp_quantize_row(NNP_ISA_SCALAR, x, n, scale, zp, t, want_q);
                nnp_quantize_row((enum nnp_isa)isa, x, n, scale, zp, t, got_q);
                cr_assert(memcmp(want_q, got_q, (size_t)n) == 0,
                          "quantize %s n=%lld zp=%d scale=%g differs from scalar",
                          nnp_isa_name((enum nnp_isa)isa), (long long)n, zp, (double)scale);
                nnp_dequantize_row(NNP_ISA_SCALAR, q, t, n, scale, zp, want_f);
                nnp_dequantize_row((enum nnp_isa)isa, q, t, n, scale, zp, got_f);
                cr_assert(memcmp(want_f, got_f, (size_t)n * sizeof *got_f) == 0,
                          "dequantize %s n=%lld differs from scalar",
                          nnp_isa_name((enum nnp_isa)isa), (long long)n);
            }
    }
}
