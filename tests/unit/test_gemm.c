/* tests/unit/test_gemm.c — the matrix product under Conv, Gemm and MatMul
 * (kernels/simd/gemm.c) against a double-precision reference.
 *
 * Every ISA the CPU runs, every way of reading A (packed panels, rows) and B
 * (rows, packed panels, a pack callback), odd shapes (1, 7, 33, 129, and past
 * the tile and the KC block), blocks that start inside the product, and every
 * term of the epilogue. Outside the block C must keep its poison: a kernel that
 * writes past its tile shows. Within: 1e-5 relative (to max(1, |want|)) per 16
 * terms of each sum, as for the operators (test_ops_math.c). The SIMD kernels
 * are also held to the scalar one, and the thread split to one thread, bit for
 * bit. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/simd/gemm.h"
#include "kernels/threads.h"

static uint64_t rng = 0x2545F4914F6CDD1Du;

static float urand(void) /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (float)((rng >> 40) * (1.0 / (1u << 24))) * 2.0f - 1.0f;
}

/* aligned_alloc wants a multiple of the alignment */
static void *alloc64(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    cr_assert_not_null(p);
    return p;
}

static float *randv(size_t n)
{
    float *p = alloc64((n + 16) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n + 16; i++)
        p[i] = urand();
    return p;
}

static double tol(double len, double want)
{
    return 1e-5 * fmax(1.0, fabs(want)) * fmax(1.0, len / 16.0);
}

/* what the epilogue's activation does, in double */
static double act_ref(const struct nnp_act *a, double x)
{
    switch (a->kind) {
    case NNP_ACT_RELU: return x > 0 ? x : 0;
    case NNP_ACT_LEAKY_RELU: return x < 0 ? a->alpha * x : x;
    case NNP_ACT_CLIP: return fmin(fmax(x, a->alpha), a->beta);
    case NNP_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case NNP_ACT_TANH: return tanh(x);
    case NNP_ACT_HARD_SWISH: return x * fmin(1, fmax(0, x / 6 + 0.5));
    default: return x;
    }
}

/* B given to pack_b: row-major (k, n) */
struct pack_src {
    const float *b;
    int64_t ldb;
    int calls;
};

/* columns past nc get NaN: the kernels must never read them */
static void pack_rows(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                      float *dst)
{
    struct pack_src *s = (struct pack_src *)g->pack_ctx;
    s->calls++;
    for (int64_t p = 0; p < kc; p++)
        for (int64_t j = 0; j < NNP_GEMM_NR; j++)
            dst[p * NNP_GEMM_NR + j] = j < nc ? s->b[(k0 + p) * s->ldb + j0 + j] : NAN;
}

/* B_OFFSETS: row p of B at its own offset (nnp_gemm.b_rows), rows reversed and spaced
 * with NaN between them, which the kernels must never read */
/* B_MASKED: the same with lanes masked (nnp_gemm.b_mask), rows in runs of MASK_RUN
 * with a mask row of their own per panel, NaN where the mask is clear: taken as 0 */
enum { B_ROWS, B_PACKED, B_CALLBACK, B_OFFSETS, B_MASKED };

enum { MASK_RUN = 3 };

/* the mask bit of element (p, j) in test case mask table `mk` of B (k, .) */
static bool mask_bit(const uint16_t *mk, int64_t k, int64_t p, int64_t j)
{
    int64_t q = j / NNP_GEMM_NR, runs = (k + MASK_RUN - 1) / MASK_RUN;
    return mk[(q * runs + p / MASK_RUN) * 3 + j % NNP_GEMM_NR / 16] >> (j % 16) & 1;
}

struct gcase {
    int64_t m, n, k;
    bool a_packed;
    int b_mode;
    struct nnp_epilogue epi;
    bool bias_m, bias_n, res;
    bool aff_m, aff_n; /* per-row / per-column x * mul + add (a fused BatchNormalization) */
};

/* C for rows [m0,m1) x cols [n0,n1) with `isa`, checked against double; *out (m, n)
 * keeps what the kernel wrote (NaN elsewhere) for bit comparisons. */
static void run_case(enum nnp_isa isa, const struct gcase *gc, int64_t m0, int64_t m1, int64_t n0,
                     int64_t n1, float *out)
{
    int64_t m = gc->m, n = gc->n, k = gc->k;
    float *a = randv((size_t)(m * k)), *b = randv((size_t)(k * n));
    float *bm = randv((size_t)m), *bn = randv((size_t)n), *res = randv((size_t)(m * n));
    float *mm = randv((size_t)m), *am = randv((size_t)m), *mn = randv((size_t)n),
          *an = randv((size_t)n);
    float *ap = randv(nnp_gemm_a_floats(m, k)), *bp = randv(nnp_gemm_b_floats(k, n));
    nnp_gemm_pack_a(a, k, 1, m, k, ap);
    nnp_gemm_pack_b(b, n, 1, k, n, bp);
    void *scratch = alloc64(nnp_gemm_scratch_bytes(0));
    int64_t gap = 5, *off = alloc64((size_t)(k + 1) * sizeof *off);
    float *bo = alloc64((size_t)(k * (n + gap) + 1) * sizeof *bo);
    for (int64_t i = 0; i < k * (n + gap) + 1; i++)
        bo[i] = NAN;
    bool masked = gc->b_mode == B_MASKED;
    int64_t panels = (n + NNP_GEMM_NR - 1) / NNP_GEMM_NR;
    int64_t n_masks = panels * ((k + MASK_RUN - 1) / MASK_RUN) * 3;
    uint16_t *mk = alloc64((size_t)(n_masks + 1) * sizeof *mk);
    for (int64_t i = 0; i < n_masks; i++) /* about 3 lanes in 4 */
        mk[i] = (uint16_t)((uint32_t)((urand() + 1) * 32768) | (uint32_t)((urand() + 1) * 32768));
    for (int64_t i = 0; i < n_masks; i++) /* no lane past n (gemm.h) */
        for (int l = 0; l < 16; l++)
            if (i / 3 / ((k + MASK_RUN - 1) / MASK_RUN) * NNP_GEMM_NR + i % 3 * 16 + l >= n)
                mk[i] &= (uint16_t)~(1u << l);
    for (int64_t p = 0; p < k; p++) {
        off[p] = (k - 1 - p) * (n + gap) + p % 3;
        memcpy(bo + off[p], b + p * n, (size_t)n * sizeof *bo);
        if (masked)
            for (int64_t j = 0; j < n; j++)
                if (!mask_bit(mk, k, p, j)) {
                    bo[off[p] + j] = NAN;
                    b[p * n + j] = 0.0f; /* what the reference below sums */
                }
    }
    for (int64_t i = 0; i < m * n; i++)
        out[i] = NAN;
    struct pack_src src = {b, n, 0};
    struct nnp_gemm g = {.m = m, .n = n, .k = k, .a = gc->a_packed ? ap : a, .lda = k,
                         .a_packed = gc->a_packed,
                         .b = gc->b_mode == B_PACKED                  ? bp
                              : gc->b_mode == B_OFFSETS || masked ? bo
                                                                  : b,
                         .b_rows = gc->b_mode == B_OFFSETS || masked ? off : NULL,
                         .b_mask = masked ? mk : NULL, .b_run = MASK_RUN,
                         .ldb = n, .b_packed = gc->b_mode == B_PACKED,
                         .pack_b = gc->b_mode == B_CALLBACK ? pack_rows : NULL,
                         .pack_ctx = &src, .c = out, .ldc = n, .epi = gc->epi};
    g.epi.bias_m = gc->bias_m ? bm : NULL;
    g.epi.bias_n = gc->bias_n ? bn : NULL;
    g.epi.res = gc->res ? res : NULL;
    g.epi.ldr = n;
    g.epi.mul_m = gc->aff_m ? mm : NULL;
    g.epi.add_m = gc->aff_m ? am : NULL;
    g.epi.mul_n = gc->aff_n ? mn : NULL;
    g.epi.add_n = gc->aff_n ? an : NULL;
    nnp_gemm_block_isa(isa, &g, m0, m1, n0, n1, scratch);
    char what[200];
    snprintf(what, sizeof what, "%s m=%ld n=%ld k=%ld a_packed=%d b_mode=%d act=%d block "
             "[%ld,%ld)x[%ld,%ld)", nnp_isa_name(isa), (long)m, (long)n, (long)k, gc->a_packed,
             gc->b_mode, gc->epi.act.kind, (long)m0, (long)m1, (long)n0, (long)n1);
    double scale = gc->epi.scale != 0 ? gc->epi.scale : 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float got = out[i * n + j];
            if (i < m0 || i >= m1 || j < n0 || j >= n1) {
                cr_assert(isnan(got), "%s: C[%ld,%ld] outside the block was written", what,
                          (long)i, (long)j);
                continue;
            }
            double want = 0;
            for (int64_t p = 0; p < k; p++)
                want += (double)a[i * k + p] * b[p * n + j];
            want *= scale;
            if (gc->bias_m)
                want += bm[i];
            if (gc->bias_n)
                want += bn[j];
            if (gc->aff_m)
                want = want * mm[i] + am[i];
            if (gc->aff_n)
                want = want * mn[j] + an[j];
            if (gc->res)
                want += res[i * n + j];
            want = act_ref(&gc->epi.act, want);
            cr_assert(fabs(got - want) <= tol((double)k + 3, want), "%s: C[%ld,%ld] = %.9g, want "
                      "%.9g", what, (long)i, (long)j, got, want);
        }
    free(a), free(b), free(bm), free(bn), free(res), free(ap), free(bp), free(scratch);
    free(off), free(bo), free(mm), free(am), free(mn), free(an), free(mk);
}

static const int64_t sizes_m[] = {1, 7, 8, 9, 33, 129};
static const int64_t sizes_n[] = {1, 15, 16, 17, 47, 48, 49, 97, 129};
static const int64_t sizes_k[] = {0, 1, 7, 33, 128, 129, 160, 161, 300};

Test(gemm_kernel, every_isa_mode_and_odd_shape)
{
    struct nnp_act acts[] = {{NNP_ACT_NONE, 0, 0},        {NNP_ACT_RELU, 0, 0},
                             {NNP_ACT_LEAKY_RELU, 0.1f, 0}, {NNP_ACT_CLIP, -0.5f, 0.7f},
                             {NNP_ACT_SIGMOID, 0, 0},     {NNP_ACT_TANH, 0, 0},
                             {NNP_ACT_HARD_SWISH, 0, 0}};
    int n_cases = 0;
    for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa))
            continue;
        for (size_t im = 0; im < sizeof sizes_m / sizeof *sizes_m; im++)
            for (size_t in = 0; in < sizeof sizes_n / sizeof *sizes_n; in++)
                for (size_t ik = 0; ik < sizeof sizes_k / sizeof *sizes_k; ik++) {
                    int sel = (int)(im * 31 + in * 7 + ik * 3 + (size_t)isa);
                    struct gcase gc = {.m = sizes_m[im], .n = sizes_n[in], .k = sizes_k[ik],
                                       .a_packed = sel % 2, .b_mode = sel / 2 % 4};
                    if (gc.b_mode == B_OFFSETS) /* b_rows comes with packed A */
                        gc.a_packed = true;
                    /* masked rows: one case in three of those, where the ISA has them */
                    if (gc.b_mode == B_OFFSETS && sel % 3 != 1 && isa != NNP_ISA_AVX2)
                        gc.b_mode = B_MASKED;
                    gc.epi.scale = sel % 5 == 0 ? 0.5f : 1.0f;
                    gc.epi.act = acts[sel % 7];
                    gc.bias_m = sel % 3 == 0;
                    gc.bias_n = sel % 4 == 1;
                    gc.res = sel % 3 == 1;
                    gc.aff_m = sel % 5 == 2;
                    gc.aff_n = sel % 5 == 3;
                    float *out = malloc((size_t)(gc.m * gc.n) * sizeof *out);
                    run_case((enum nnp_isa)isa, &gc, 0, gc.m, 0, gc.n, out);
                    /* a block inside: rows from the second tile, columns from the second
                     * panel, when there are that many */
                    if (gc.m > NNP_GEMM_MR && gc.n > NNP_GEMM_NR)
                        run_case((enum nnp_isa)isa, &gc, NNP_GEMM_MR, gc.m - 1, NNP_GEMM_NR,
                                 gc.n, out);
                    free(out);
                    n_cases++;
                }
    }
    cr_assert_gt(n_cases, 300);
}

/* Blocks whose rows of A exceed what stays in L2 take the loop over k outside a group of
 * panels (gemm.c, A_L2_BYTES): every mode again at such a size, and a block inside. */
Test(gemm_kernel, large_a_groups_panels)
{
    for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa) || isa == NNP_ISA_SCALAR)
            continue;
        for (int mode = 0; mode < 7; mode++) {
            struct gcase gc = {.m = 137, .n = 500, .k = 1100, .a_packed = mode % 2 || mode == 6,
                               .b_mode = mode / 2, .bias_m = true, .res = mode == 3};
            gc.epi.scale = 1.0f;
            gc.epi.act = (struct nnp_act){mode == 4 ? NNP_ACT_SIGMOID : NNP_ACT_RELU, 0, 0};
            float *out = malloc((size_t)(gc.m * gc.n) * sizeof *out);
            run_case((enum nnp_isa)isa, &gc, 0, gc.m, 0, gc.n, out);
            run_case((enum nnp_isa)isa, &gc, 2 * NNP_GEMM_MR, gc.m, NNP_GEMM_NR, gc.n - 7, out);
            free(out);
        }
    }
}

/* every unit is the same product, into its own C */
struct units_ctx {
    struct nnp_gemm g;
    float *c; /* (units, m, n) */
};

static void one_unit(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    (void)tid;
    const struct units_ctx *x = ctx;
    *g = x->g;
    g->c = x->c + u * x->g.m * x->g.n;
}

/* AVX-512 (or the best ISA) split over two threads, in blocks along n and m (n first
 * while B is the larger, m first when A is): not a bit moves, whatever the split; and
 * the SIMD kernels agree with the scalar one within the bound (only FMA rounding
 * differs: same packing, same blocks of k). */
static void split_check(int64_t m, int64_t n, int64_t k)
{
    float *a = randv((size_t)(m * k)), *b = randv((size_t)(k * n)), *bias = randv((size_t)m);
    float *ap = malloc(nnp_gemm_a_floats(m, k) * sizeof *ap);
    nnp_gemm_pack_a(a, k, 1, m, k, ap);
    float *c1 = malloc((size_t)(m * n) * sizeof *c1), *c0 = malloc((size_t)(m * n) * sizeof *c0);
    float *cu = malloc((size_t)(3 * m * n) * sizeof *cu);
    struct nnp_gemm g = {.m = m, .n = n, .k = k, .a = ap, .a_packed = true, .b = b, .ldb = n,
                         .c = c1, .ldc = n,
                         .epi = {.scale = 1, .bias_m = bias, .act = {NNP_ACT_RELU, 0, 0}}};
    size_t slice = nnp_gemm_scratch_bytes(0);
    void *scratch = alloc64(2 * slice);
    nnp_gemm_block(&g, 0, m, 0, n, scratch);
    g.c = c0;
    nnp_gemm_block_isa(NNP_ISA_SCALAR, &g, 0, m, 0, n, scratch);
    for (int64_t i = 0; i < m * n; i++)
        cr_assert(fabs(c1[i] - c0[i]) <= tol((double)k, c0[i]), "element %ld: %.9g vs scalar "
                  "%.9g", (long)i, c1[i], c0[i]);
    struct nnp_pool *pool = nnp_pool_new(2);
    for (int64_t units = 1; units <= 3; units++)
        for (int rep = 0; rep < 10; rep++) {
            memset(cu, 0xff, (size_t)(3 * m * n) * sizeof *cu);
            struct units_ctx cx = {g, cu};
            nnp_gemm_units(pool, units, m, n, k, one_unit, &cx, scratch, slice);
            for (int64_t u = 0; u < units; u++)
                cr_assert(memcmp(cu + u * m * n, c1, (size_t)(m * n) * sizeof *c1) == 0,
                          "%ld units, unit %ld differs from one thread", (long)units, (long)u);
        }
    nnp_pool_free(pool);
    free(a), free(b), free(bias), free(ap), free(c1), free(c0), free(cu), free(scratch);
}

Test(gemm_kernel, thread_split_is_bit_identical)
{
    split_check(72, 200, 300);
    split_check(200, 72, 300);
    split_check(1000, 49, 130);
}
