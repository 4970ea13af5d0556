/* kernels/ops/op_gemm.c — Gemm and MatMul: fp32 matrix products.
 *
 * Kernel choice, made in prepare from the shapes:
 *   rows   M <= GEMV_MAX_M and the weight laid out [N,K] (Gemm transB = 1, the
 *          PyTorch Linear layout; MatMul by a vector): one bandwidth-bound
 *          matrix-vector pass per row of A (kernels/simd/gemv.h)
 *   cols   M <= GEMV_MAX_M and the weight laid out [K,N] (Gemm transB = 0,
 *          MatMul): y += x[k] * B[k,:], again streaming the weight once
 *   gemm   everything else: the matrix product of kernels/simd/gemm.c, A read as rows
 *          (or packed when transposed), B packed once at plan time when it is a
 *          constant (the weights), else read as rows; C, alpha, a fused Add and
 *          a fused activation in its epilogue
 *   sgemm  Gemm whose C is computed at run time and must be scaled, or is a
 *          scalar: OpenBLAS cblas_sgemm (C copied in first), then the rest
 * MatMulInteger and QLinearMatMul (at the end) take MatMul's shapes and sum in int32;
 * QLinearMatMul by constant int8 weights runs on the integer GEMM (kernels/simd/qgemm.c).
 * The matrix-vector kernels and sgemm apply a fused Add and activation in one
 * pass over the output after the product (nnp_gemm_finish_row, the same bits).
 * With 2..GEMV_MAX_M rows the weight is walked in blocks that stay in L2
 * across the rows, so it comes from memory once. Measured on the project's
 * machine (4096x4096, one thread): sgemm takes about the same 7 ms for any M
 * up to 8, the matrix-vector pass 1.5 ms per row from L2-blocked weights, so
 * the crossover lies between 4 and 8 rows; 4 keeps a margin for small
 * matrices where sgemm's fixed cost matters less.
 */
#include <cblas.h>
#include <immintrin.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kernels/simd/gemm.h"
#include "kernels/simd/gemv.h"
#include "kernels/simd/qgemm.h"
#include "kernels/ops/op.h"
#include "kernels/ops/quant.h"
#include "kernels/threads.h"

#define GEMV_MAX_M 4
/* bytes of weight walked per block when several rows share it: fits L2 */
#define GEMV_BLOCK_BYTES (128 * 1024)

enum mm_kernel {
    MM_SGEMM, /* cblas_sgemm */
    MM_ROWS,  /* nnp_gemv_rows on a weight [N,K] */
    MM_COLS,  /* nnp_gemv_cols on a weight [K,N] */
    MM_GEMM,  /* the matrix product of gemm.c */
};

/* How the matrix product of gemm.c reads the operands of a Gemm or a MatMul. */
struct mm_operands {
    const float *bp;    /* B packed at plan time (a constant B), or NULL */
    bool pack_a;        /* A given transposed: packed into scratch every run */
    bool pack_b;        /* B computed at run time and transposed: likewise */
    size_t a_floats;    /* scratch for them: A's panels first, then B's */
    size_t b_floats;
};

/* The fused Add and activation after a kernel that has no epilogue of its own: one
 * pass over y (len floats). */
static void fused_tail(const struct nnp_exec_node *n, float *y, int64_t len)
{
    const struct nnp_rt_value *res = n->fusion.residual;
    if (res || n->fusion.act.kind != NNP_ACT_NONE)
        nnp_gemm_finish_row(&n->fusion.act, y, res ? res->data : NULL, y, len);
}

/* B (k, n), element (p, j) at b[p*rs + j*cs], packed into the plan's arena. */
static enum nnp_status pack_weights(struct nnp_exec_node *n, struct nnp_arena *arena,
                                    const float *b, int64_t rs, int64_t cs, int64_t k,
                                    int64_t nn, const float **out)
{
    size_t floats = nnp_gemm_b_floats(k, nn);
    NNP_OP_CHECK(n, floats <= SIZE_MAX / sizeof(float) - 16, "the weights are too large to pack");
    uint8_t *raw = nnp_arena_alloc_big(arena, floats * sizeof(float) + 64);
    if (!raw)
        return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory for %zu bytes of packed weights",
                          n->node->name, floats * sizeof(float));
    float *bp = (float *)(raw + (64 - (uintptr_t)raw % 64) % 64);
    nnp_gemm_pack_b(b, rs, cs, k, nn, bp);
    n->packed_bytes += floats * sizeof(float);
    *out = bp;
    return NNP_OK;
}

/* Scratch for operands packed every run, 64-byte aligned pieces. */
static size_t operand_bytes(const struct mm_operands *o)
{
    return ((o->a_floats * sizeof(float) + 63) & ~(size_t)63) + o->b_floats * sizeof(float);
}

static enum nnp_status need_f32(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                const char *what)
{
    if (v->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "%s is %s, only float32 is supported", what,
                                  nnp_dtype_name(v->dtype));
    return NNP_OK;
}

static int64_t max1(int64_t v)
{
    return v > 1 ? v : 1;
}

/* y (m, n), rows ldy apart, = a (m, k) . w^T, w (n, k): the rows kernel, blocked over n
 * when m > 1 so that each block of w is read from memory once and from cache for the
 * other rows. */
static void gemv_rows_m(enum nnp_isa isa, const float *a, int64_t lda, const float *w, float *y,
                        int64_t ldy, int64_t m, int64_t n, int64_t k)
{
    if (m == 1) {
        nnp_gemv_rows(isa, w, a, y, n, k);
        return;
    }
    int64_t nb = k ? GEMV_BLOCK_BYTES / (k * (int64_t)sizeof(float)) : n;
    if (nb < 4)
        nb = 4;
    for (int64_t j0 = 0; j0 < n; j0 += nb) {
        int64_t c = n - j0 < nb ? n - j0 : nb;
        for (int64_t i = 0; i < m; i++)
            nnp_gemv_rows(isa, w + j0 * k, a + i * lda, y + i * ldy + j0, c, k);
    }
}

/* y (m, n), rows ldy apart, = a (m, k) . b, b (k, n) with rows ldb apart: the cols
 * kernel, blocked over k likewise. The block is sized by b's full width ldb, not by n:
 * where the k blocks start decides how the kernel groups its rows of b in fours, and
 * so the order of the sums, which must not depend on how the columns were split. */
static void gemv_cols_m(enum nnp_isa isa, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float *y, int64_t ldy, int64_t m, int64_t n, int64_t k)
{
    for (int64_t i = 0; i < m; i++)
        memset(y + i * ldy, 0, (size_t)n * sizeof *y);
    int64_t kb = m == 1 || !ldb ? k : GEMV_BLOCK_BYTES / (ldb * (int64_t)sizeof(float));
    if (kb < 4)
        kb = 4;
    for (int64_t i0 = 0; i0 < k; i0 += kb) {
        int64_t c = k - i0 < kb ? k - i0 : kb;
        for (int64_t i = 0; i < m; i++)
            nnp_gemv_cols_ld(isa, b + i0 * ldb, ldb, a + i * lda + i0, y + i * ldy, c, n);
    }
}

/* --- splitting a product over threads ---
 *
 * y (m, n) = op(a) . op(b) is split into column blocks of y: block [j0, j1) reads
 * rows j0..j1 of a weight [N,K] (contiguous) or columns of a weight [K,N], so the
 * threads share the weight instead of each reading all of it, which is what a
 * weight-bound layer (batch 1: 2 flops per weight) needs. The matrix-vector
 * kernels sum each y element in the same order whatever the block, so their split
 * is bit-identical to one thread; the sgemm split hands OpenBLAS narrower
 * products, which it may sum in another order (float reassociation). */

/* products below this many multiply-adds stay on one thread: waking the other costs a
 * few microseconds */
#define MM_PAR_MIN_MACS (1 << 18)
/* matrix-vector products below this many weights likewise (bandwidth-bound) */
#define MV_PAR_MIN_WEIGHTS (1 << 16)

struct mm_job {
    enum mm_kernel kernel;
    enum nnp_isa isa;
    bool trans_a, trans_b;
    float alpha;
    const float *a, *b;
    float *y;
    int64_t m, n, k;
    int64_t chunk; /* columns of y per item */
    /* Gemm's C, added by each block to its own columns (NULL: none) */
    const float *c;
    float c_beta;
    int64_t c_stride_m, c_stride_n;
};

static void mm_block(const struct mm_job *j, int64_t j0, int64_t j1)
{
    int64_t nn = j1 - j0, m = j->m, n = j->n, k = j->k;
    float *y = j->y + j0; /* (m, nn), rows n apart */
    switch (j->kernel) {
    case MM_ROWS: gemv_rows_m(j->isa, j->a, k, j->b + j0 * k, y, n, m, nn, k); break;
    case MM_COLS: gemv_cols_m(j->isa, j->a, k, j->b + j0, n, y, n, m, nn, k); break;
    case MM_SGEMM: {
        float beta = 0.0f;
        if (j->c) { /* C first, so that sgemm adds the product onto it in one pass */
            for (int64_t i = 0; i < m; i++)
                for (int64_t q = j0; q < j1; q++)
                    j->y[i * n + q] = j->c_beta * j->c[i * j->c_stride_m + q * j->c_stride_n];
            beta = 1.0f;
        }
        if (k == 0) {
            if (!j->c)
                for (int64_t i = 0; i < m; i++)
                    memset(y + i * n, 0, (size_t)nn * sizeof *y);
            return;
        }
        const float *b = j->b + (j->trans_b ? j0 * k : j0);
        cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans,
                    j->trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)nn, (int)k, j->alpha,
                    j->a, (int)max1(j->trans_a ? m : k), b, (int)max1(j->trans_b ? k : n), beta, y,
                    (int)max1(n));
        return;
    }
    case MM_GEMM: NNP_ASSERT(0); /* runs through gemm.c, not here */
    }
    /* the matrix-vector kernels: alpha and C afterwards */
    for (int64_t i = 0; i < m; i++) {
        float *yi = j->y + i * n;
        if (j->alpha != 1.0f)
            for (int64_t q = j0; q < j1; q++)
                yi[q] *= j->alpha;
        if (j->c) {
            const float *ci = j->c + i * j->c_stride_m;
            for (int64_t q = j0; q < j1; q++)
                yi[q] += j->c_beta * ci[q * j->c_stride_n];
        }
    }
}

static void mm_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct mm_job *j = ctx;
    (void)tid;
    int64_t j1 = end * j->chunk;
    mm_block(j, begin * j->chunk, j1 < j->n ? j1 : j->n);
}

/* run the product, split over the pool's threads when it is large enough */
static void mm_run(struct mm_job *j, struct nnp_pool *pool)
{
    int threads = nnp_pool_threads(pool);
    bool mv = j->kernel != MM_SGEMM;
    int64_t work = mv ? j->n * j->k : j->m * j->n * j->k;
    if (threads < 2 || work < (mv ? MV_PAR_MIN_WEIGHTS : MM_PAR_MIN_MACS) || j->n < 32) {
        j->chunk = j->n > 0 ? j->n : 1;
        mm_block(j, 0, j->n);
        return;
    }
    /* blocks of 16 columns aligned (a cache line of y, four of the rows kernel's
     * four-row groups): one per thread for sgemm, whose efficiency grows with the
     * width; four per thread for the matrix-vector kernels, so that a thread the
     * scheduler delays leaves less for the other to wait on */
    int64_t parts = mv ? 4 * (int64_t)threads : threads;
    int64_t per = (j->n + parts - 1) / parts;
    j->chunk = (per + 15) & ~(int64_t)15;
    nnp_parallel_for(pool, (j->n + j->chunk - 1) / j->chunk, mm_task, j);
}

/* cblas takes int sizes */
static enum nnp_status fits_int(const struct nnp_exec_node *n, int64_t m, int64_t nn, int64_t k)
{
    if (m > INT32_MAX || nn > INT32_MAX || k > INT32_MAX)
        return nnp_op_unsupported(n,
                                  "matrix sizes M=%" PRId64 " N=%" PRId64 " K=%" PRId64
                                  " exceed the BLAS limit of 2^31-1",
                                  m, nn, k);
    return NNP_OK;
}

/* ------------------------------------------------------------------ Gemm */

/* What Gemm's beta * C is to the matrix product's epilogue (MM_GEMM). */
enum gemm_c {
    GC_NONE,
    GC_ROW,  /* the same row for every i: bias_n (n) */
    GC_COL,  /* the same column for every j: bias_m (m) */
    GC_FULL, /* (m, n): res */
};

struct gemm_state {
    float alpha, beta;
    bool trans_a, trans_b;
    int64_t m, n, k;
    bool has_c;                     /* C given and beta != 0 */
    int64_t c_stride_m, c_stride_n; /* C element (i, j) at i*c_stride_m + j*c_stride_n */
    enum gemm_c c_kind;             /* MM_GEMM */
    const float *cb;                /* MM_GEMM, a constant C: beta * C as c_kind says, or NULL
                                       (then C itself, beta = 1) */
    struct mm_operands ops;         /* MM_GEMM */
    enum mm_kernel kernel;
    enum nnp_isa isa;
};

/* Gemm on the matrix product: how it reads A, B and C (see gemm_state), or false when
 * it cannot (a C computed at run time that must be scaled, or that is a scalar). */
static enum nnp_status gemm_plan_product(struct nnp_exec_node *n, struct nnp_arena *arena,
                                         struct gemm_state *s, bool *ok)
{
    const struct nnp_rt_value *a = n->in[0], *b = n->in[1];
    const struct nnp_rt_value *c = s->has_c ? n->in[2] : NULL;
    *ok = false;
    if (c) {
        bool row = s->c_stride_m == 0, col = s->c_stride_n == 0;
        s->c_kind = row && col ? GC_ROW : row ? GC_ROW : col ? GC_COL : GC_FULL;
        bool scalar = row && col;
        if (c->is_const && c->data) { /* beta * C once, in the layout the epilogue reads */
            int64_t len = s->c_kind == GC_ROW ? s->n : s->c_kind == GC_COL ? s->m : s->m * s->n;
            float *cb = nnp_arena_alloc_big(arena, (size_t)(len > 0 ? len : 1) * sizeof *cb);
            if (!cb)
                return nnp_errorf(NNP_ERR_NOMEM, "node %s: no memory for C", n->node->name);
            const float *cd = c->data;
            for (int64_t i = 0; i < len; i++) {
                int64_t r = s->c_kind == GC_FULL ? i / s->n : s->c_kind == GC_COL ? i : 0;
                int64_t q = s->c_kind == GC_FULL ? i % s->n : s->c_kind == GC_ROW ? i : 0;
                cb[i] = s->beta * cd[r * s->c_stride_m + q * s->c_stride_n];
            }
            s->cb = cb;
            n->packed_bytes += (size_t)len * sizeof *cb;
        } else if (s->beta != 1.0f || scalar) {
            return NNP_OK; /* MM_SGEMM */
        }
    }
    if (b->is_const && b->data) {
        enum nnp_status st = pack_weights(n, arena, b->data, s->trans_b ? 1 : s->n,
                                          s->trans_b ? s->k : 1, s->k, s->n, &s->ops.bp);
        if (st != NNP_OK)
            return st;
    } else if (s->trans_b) {
        s->ops.pack_b = true;
        s->ops.b_floats = nnp_gemm_b_floats(s->k, s->n);
    }
    if (s->trans_a) {
        s->ops.pack_a = true;
        s->ops.a_floats = nnp_gemm_a_floats(s->m, s->k);
    }
    (void)a;
    n->scratch_bytes = operand_bytes(&s->ops);
    *ok = true;
    return NNP_OK;
}

static enum nnp_status gemm_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *a = n->in[0], *b = n->in[1];
    const struct nnp_rt_value *c = n->n_in > 2 ? n->in[2] : NULL;
    enum nnp_status st;
    if ((st = need_f32(n, a, "A")) || (st = need_f32(n, b, "B")) ||
        (c && (st = need_f32(n, c, "C"))))
        return st;
    NNP_OP_CHECK(n, a->rank == 2, "A is %d-D, Gemm needs 2-D", a->rank);
    NNP_OP_CHECK(n, b->rank == 2, "B is %d-D, Gemm needs 2-D", b->rank);

    struct gemm_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->alpha = nnp_node_attr_float(n->node, "alpha", 1.0f);
    s->beta = nnp_node_attr_float(n->node, "beta", 1.0f);
    s->trans_a = nnp_node_attr_int(n->node, "transA", 0) != 0;
    s->trans_b = nnp_node_attr_int(n->node, "transB", 0) != 0;
    s->m = a->dims[s->trans_a ? 1 : 0];
    s->k = a->dims[s->trans_a ? 0 : 1];
    int64_t kb = b->dims[s->trans_b ? 1 : 0];
    s->n = b->dims[s->trans_b ? 0 : 1];
    NNP_OP_CHECK(n, kb == s->k,
                 "inner dimensions differ: A%s gives K=%" PRId64 ", B%s gives K=%" PRId64,
                 s->trans_a ? "^T" : "", s->k, s->trans_b ? "^T" : "", kb);

    /* C: optional from opset 11; before opset 7 it had to match Y exactly
     * unless the `broadcast` attribute was set */
    NNP_OP_CHECK(n, c || n->opset >= 11 || n->opset == 0, "input C is required before opset 11");
    if (c) {
        int64_t cm = 1, cn = 1;
        NNP_OP_CHECK(n, c->rank <= 2, "C is %d-D, Gemm needs at most 2-D", c->rank);
        if (c->rank == 2) {
            cm = c->dims[0];
            cn = c->dims[1];
        } else if (c->rank == 1) {
            cn = c->dims[0];
        }
        bool exact = n->opset > 0 && n->opset < 7 && !nnp_node_attr_int(n->node, "broadcast", 0);
        if (exact)
            NNP_OP_CHECK(n, c->rank == 2 && cm == s->m && cn == s->n,
                         "C must be [%" PRId64 ",%" PRId64 "] without the broadcast attribute "
                         "(opset %" PRId64 ")",
                         s->m, s->n, n->opset);
        NNP_OP_CHECK(n, (cm == 1 || cm == s->m) && (cn == 1 || cn == s->n),
                     "C [%" PRId64 ",%" PRId64 "] does not broadcast to Y [%" PRId64 ",%" PRId64
                     "]",
                     cm, cn, s->m, s->n);
        s->has_c = s->beta != 0.0f;
        s->c_stride_n = cn == 1 ? 0 : 1;
        s->c_stride_m = cm == 1 ? 0 : cn;
    }

    if ((st = fits_int(n, s->m, s->n, s->k)))
        return st;
    /* one row of A is contiguous when A is not transposed, or has a single row */
    bool rows_contig = !s->trans_a || s->m == 1;
    s->isa = nnp_isa_best();
    s->kernel = MM_SGEMM;
    if (s->m <= GEMV_MAX_M && rows_contig && s->k > 0) {
        s->kernel = s->trans_b ? MM_ROWS : MM_COLS;
    } else {
        bool product;
        if ((st = gemm_plan_product(n, arena, s, &product)) != NNP_OK)
            return st;
        if (product)
            s->kernel = MM_GEMM;
    }
    n->state = s;
    n->flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    n->work = nnp_work_prod(3, (int64_t[]){s->m, s->n, s->k});
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, 2, (int64_t[]){s->m, s->n});
}

/* MM_GEMM: the one product of a Gemm */
struct gemm_run {
    const struct gemm_state *s;
    struct nnp_gemm g;
};

static void gemm_unit(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    (void)tid;
    (void)u;
    *g = ((const struct gemm_run *)ctx)->g;
}

static void gemm_product(struct nnp_exec_node *n)
{
    const struct gemm_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out[0]->data;
    float *ap = n->scratch, *bpk = NULL; /* operands packed this run */
    if (s->ops.pack_a)
        nnp_gemm_pack_a(a, 1, s->m, s->m, s->k, ap); /* A^T: element (i, p) at a[p*m + i] */
    if (s->ops.pack_b) {
        bpk = (float *)((uint8_t *)n->scratch + operand_bytes(&s->ops) -
                        s->ops.b_floats * sizeof(float));
        nnp_gemm_pack_b(b, 1, s->k, s->k, s->n, bpk); /* B^T: (p, j) at b[j*k + p] */
    }
    const float *c = s->cb ? s->cb : s->has_c ? n->in[2]->data : NULL;
    const struct nnp_rt_value *res = n->fusion.residual;
    bool c_full = c && s->c_kind == GC_FULL;
    struct gemm_run r = {s,
                         {.m = s->m,
                          .n = s->n,
                          .k = s->k,
                          .a = s->ops.pack_a ? ap : a,
                          .lda = s->k,
                          .a_packed = s->ops.pack_a,
                          .b = s->ops.bp ? s->ops.bp : bpk ? bpk : b,
                          .ldb = s->n,
                          .b_packed = s->ops.bp || bpk,
                          .c = y,
                          .ldc = s->n,
                          .epi = {.scale = s->alpha,
                                  .bias_m = c && s->c_kind == GC_COL ? c : NULL,
                                  .bias_n = c && s->c_kind == GC_ROW ? c : NULL,
                                  .res = c_full ? c : res ? res->data : NULL,
                                  .ldr = s->n,
                                  .act = c_full && res ? (struct nnp_act){NNP_ACT_NONE, 0, 0}
                                                       : n->fusion.act}}};
    nnp_gemm_units(n->pool, 1, s->m, s->n, s->k, gemm_unit, &r, NULL, 0);
    if (c_full && res) /* both an (m, n) C and a fused Add: the Add after */
        fused_tail(n, y, s->m * s->n);
}

static enum nnp_status gemm_forward(struct nnp_exec_node *n)
{
    const struct gemm_state *s = n->state;
    if (s->m == 0 || s->n == 0)
        return NNP_OK;
    if (s->kernel == MM_GEMM) {
        gemm_product(n);
        return NNP_OK;
    }
    struct mm_job j = {
        .kernel = s->kernel,
        .isa = s->isa,
        .trans_a = s->trans_a,
        .trans_b = s->trans_b,
        .alpha = s->alpha,
        .a = n->in[0]->data,
        .b = n->in[1]->data,
        .y = n->out[0]->data, /* (m, n) */
        .m = s->m,
        .n = s->n,
        .k = s->k,
        .c = s->has_c ? n->in[2]->data : NULL,
        .c_beta = s->beta,
        .c_stride_m = s->c_stride_m,
        .c_stride_n = s->c_stride_n,
    };
    mm_run(&j, n->pool);
    fused_tail(n, n->out[0]->data, s->m * s->n);
    return NNP_OK;
}

static enum nnp_status gemm_reference(struct nnp_exec_node *n)
{
    const struct gemm_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    const float *c = s->has_c ? n->in[2]->data : NULL;
    float *y = n->out[0]->data;
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t j = 0; j < s->n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < s->k; p++) {
                float av = s->trans_a ? a[p * s->m + i] : a[i * s->k + p];
                float bv = s->trans_b ? b[j * s->k + p] : b[p * s->n + j];
                acc += (double)av * bv;
            }
            acc *= s->alpha;
            if (c)
                acc += (double)s->beta * c[i * s->c_stride_m + j * s->c_stride_n];
            y[i * s->n + j] = (float)acc;
        }
    return NNP_OK;
}

const struct nnp_op nnp_op_Gemm = {
    .name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .prepare = gemm_prepare,
    .forward = gemm_forward,
    .reference = gemm_reference,
    .backward = NULL,
    .flags = NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD,
};

/* ---------------------------------------------------------------- MatMul */

struct matmul_state {
    int64_t m, n, k;
    int batch_rank;                   /* broadcast batch axes of the output */
    int64_t batch_dims[NNP_MAX_RANK]; /* (batch_rank) */
    int64_t a_stride[NNP_MAX_RANK];   /* per batch axis, elements; 0 = broadcast */
    int64_t b_stride[NNP_MAX_RANK];
    int64_t n_batch;       /* product of batch_dims */
    bool b_shared;         /* B has no batch: A's batches fold into rows */
    enum mm_kernel kernel; /* for one product of rows x k by k x n */
    const float *bp;       /* MM_GEMM: a constant, shared B packed at plan time, or NULL */
    enum nnp_isa isa;
};

/* NumPy matmul shapes of A and B: s's m, n, k, its batch axes, strides and n_batch,
 * b_shared, and the output's dims (od, orank). Shared with MatMulInteger and
 * QLinearMatMul. */
static enum nnp_status matmul_shapes(struct nnp_exec_node *n, const struct nnp_rt_value *a,
                                     const struct nnp_rt_value *b, struct matmul_state *s,
                                     int64_t *od, int *orank)
{
    NNP_OP_CHECK(n, a->rank >= 1 && b->rank >= 1,
                 "%s needs inputs of rank >= 1, got %d-D and %d-D", n->node->op_type, a->rank,
                 b->rank);
    /* NumPy matmul: a 1-D A is a row [1,K], a 1-D B a column [K,1]; the added
     * axis is dropped from the output again */
    int64_t ad[NNP_MAX_RANK + 1], bd[NNP_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    if (ar == 1) {
        ad[0] = 1;
        ad[1] = a->dims[0];
        ar = 2;
    } else {
        memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
    }
    if (br == 1) {
        bd[0] = b->dims[0];
        bd[1] = 1;
        br = 2;
    } else {
        memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
    }
    s->m = ad[ar - 2];
    s->k = ad[ar - 1];
    s->n = bd[br - 1];
    NNP_OP_CHECK(n, bd[br - 2] == s->k,
                 "inner dimensions differ: A has K=%" PRId64 ", B has K=%" PRId64, s->k,
                 bd[br - 2]);

    int abr = ar - 2, bbr = br - 2;
    s->batch_rank = abr > bbr ? abr : bbr;
    NNP_OP_CHECK(n, s->batch_rank + 2 <= NNP_MAX_RANK, "output would have more than %d axes",
                 NNP_MAX_RANK);
    int64_t as = s->m * s->k, bs = s->k * s->n;
    s->n_batch = 1;
    s->b_shared = true;
    for (int i = s->batch_rank - 1; i >= 0; i--) {
        int ia = i - (s->batch_rank - abr), ib = i - (s->batch_rank - bbr);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        NNP_OP_CHECK(n, da == db || da == 1 || db == 1,
                     "batch axis %d: A has %" PRId64 ", B has %" PRId64 ", which do not broadcast",
                     i, da, db);
        s->batch_dims[i] = da == 1 ? db : da;
        s->a_stride[i] = da == 1 ? 0 : as;
        s->b_stride[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        NNP_OP_CHECK(n, !__builtin_mul_overflow(s->n_batch, s->batch_dims[i], &s->n_batch),
                     "the broadcast batch is too large");
        if (db != 1)
            s->b_shared = false;
    }
    *orank = 0;
    for (int i = 0; i < s->batch_rank; i++)
        od[(*orank)++] = s->batch_dims[i];
    if (a->rank > 1)
        od[(*orank)++] = s->m;
    if (b->rank > 1)
        od[(*orank)++] = s->n;
    return NNP_OK;
}

static enum nnp_status matmul_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *a = n->in[0], *b = n->in[1];
    enum nnp_status st;
    if ((st = need_f32(n, a, "A")) || (st = need_f32(n, b, "B")))
        return st;
    struct matmul_state *s = nnp_arena_alloc(arena, sizeof *s);
    int64_t od[NNP_MAX_RANK];
    int orank = 0;
    if ((st = matmul_shapes(n, a, b, s, od, &orank)))
        return st;

    /* rows of one product: with B shared, A's batches are just more rows */
    int64_t rows = s->b_shared ? s->n_batch * s->m : s->m;
    if ((st = fits_int(n, rows, s->n, s->k)))
        return st;
    s->isa = nnp_isa_best();
    s->kernel = MM_GEMM;
    if (s->k > 0 && s->n == 1)
        s->kernel =
            MM_ROWS; /* y = A . b: A itself is the [rows,K] weight of a matrix-vector product */
    else if (s->k > 0 && rows <= GEMV_MAX_M)
        s->kernel = MM_COLS;
    if (s->kernel == MM_GEMM && s->b_shared && b->is_const && b->data && s->k > 0 && s->n > 0 &&
        (st = pack_weights(n, arena, b->data, s->n, 1, s->k, s->n, &s->bp)) != NNP_OK)
        return st;
    n->state = s;
    n->flops = 2.0 * (double)s->n_batch * (double)s->m * (double)s->n * (double)s->k;
    n->work = nnp_work_prod(4, (int64_t[]){s->n_batch, s->m, s->n, s->k});
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, orank, od);
}

/* Offsets of batch `bi` into A and B. */
static void matmul_offsets(const struct matmul_state *s, int64_t bi, int64_t *ao, int64_t *bo)
{
    *ao = *bo = 0;
    for (int i = s->batch_rank - 1; i >= 0; i--) {
        int64_t idx = bi % s->batch_dims[i];
        bi /= s->batch_dims[i];
        *ao += idx * s->a_stride[i];
        *bo += idx * s->b_stride[i];
    }
}

/* y (rows, n) = a (rows, k) . b (k, n) with the chosen kernel, on `pool` when given */
static void matmul_one(const struct matmul_state *s, const float *a, const float *b, float *y,
                       int64_t rows, struct nnp_pool *pool)
{
    if (s->kernel == MM_ROWS) { /* n == 1: A is the weight, b the vector */
        nnp_gemv_rows(s->isa, a, b, y, rows, s->k);
        return;
    }
    struct mm_job j = {.kernel = s->kernel, .isa = s->isa, .alpha = 1.0f, .a = a, .b = b,
                       .y = y, .m = rows, .n = s->n, .k = s->k};
    mm_run(&j, pool);
}

struct matmul_job {
    const struct matmul_state *s;
    const float *a, *b;
    float *y;
};

/* batches [begin, end), each on one thread */
static void matmul_batches_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct matmul_job *j = ctx;
    const struct matmul_state *s = j->s;
    (void)tid;
    for (int64_t bi = begin; bi < end; bi++) {
        int64_t ao, bo;
        matmul_offsets(s, bi, &ao, &bo);
        matmul_one(s, j->a + ao, j->b + bo, j->y + bi * s->m * s->n, s->m, NULL);
    }
}

/* MM_GEMM: product u of a MatMul (all of it when B is shared: A's batches are rows) */
struct matmul_run {
    const struct matmul_state *s;
    const float *a, *b, *res;
    const struct nnp_act *act;
    float *y;
};

static void matmul_unit(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    (void)tid;
    const struct matmul_run *r = ctx;
    const struct matmul_state *s = r->s;
    int64_t ao = 0, bo = 0, yo = u * s->m * s->n;
    if (!s->b_shared)
        matmul_offsets(s, u, &ao, &bo);
    *g = (struct nnp_gemm){
        .m = s->b_shared ? s->n_batch * s->m : s->m,
        .n = s->n,
        .k = s->k,
        .a = r->a + ao,
        .lda = s->k,
        .b = s->bp ? s->bp : r->b + bo,
        .ldb = s->n,
        .b_packed = s->bp != NULL,
        .c = r->y + yo,
        .ldc = s->n,
        .epi = {.scale = 1.0f, .res = r->res ? r->res + yo : NULL, .ldr = s->n, .act = *r->act},
    };
}

static enum nnp_status matmul_forward(struct nnp_exec_node *n)
{
    const struct matmul_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out[0]->data; /* (batch..., m, n) */
    if (s->m == 0 || s->n == 0 || s->n_batch == 0)
        return NNP_OK;
    if (s->kernel == MM_GEMM) {
        const struct nnp_rt_value *res = n->fusion.residual;
        struct matmul_run r = {s, a, b, res ? res->data : NULL, &n->fusion.act, y};
        int64_t units = s->b_shared ? 1 : s->n_batch;
        int64_t rows = s->b_shared ? s->n_batch * s->m : s->m;
        nnp_gemm_units(n->pool, units, rows, s->n, s->k, matmul_unit, &r, NULL, 0);
        return NNP_OK;
    }
    if (s->b_shared) {
        /* A's batches may still broadcast (a stride 0 axis) against B's size-1 axes only,
         * so A is contiguous over all output rows */
        matmul_one(s, a, b, y, s->n_batch * s->m, n->pool);
        fused_tail(n, y, s->n_batch * s->m * s->n);
        return NNP_OK;
    }
    /* separate products: whole products per thread (each as on one thread) when there
     * are enough of them and they are worth it, else each product split */
    struct matmul_job j = {s, a, b, y};
    int64_t work = s->n_batch * s->m * s->n * (s->k > 0 ? s->k : 1);
    if (s->n_batch >= nnp_pool_threads(n->pool) && work >= MM_PAR_MIN_MACS) {
        nnp_parallel_for(n->pool, s->n_batch, matmul_batches_task, &j);
        fused_tail(n, y, s->n_batch * s->m * s->n);
        return NNP_OK;
    }
    for (int64_t bi = 0; bi < s->n_batch; bi++) {
        int64_t ao, bo;
        matmul_offsets(s, bi, &ao, &bo);
        matmul_one(s, a + ao, b + bo, y + bi * s->m * s->n, s->m, n->pool);
    }
    fused_tail(n, y, s->n_batch * s->m * s->n);
    return NNP_OK;
}

static enum nnp_status matmul_reference(struct nnp_exec_node *n)
{
    const struct matmul_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out[0]->data;
    for (int64_t bi = 0; bi < s->n_batch; bi++) {
        int64_t ao, bo;
        matmul_offsets(s, bi, &ao, &bo);
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < s->k; p++)
                    acc += (double)a[ao + i * s->k + p] * b[bo + p * s->n + j];
                y[(bi * s->m + i) * s->n + j] = (float)acc;
            }
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_MatMul = {
    .name = "MatMul",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = matmul_prepare,
    .forward = matmul_forward,
    .reference = matmul_reference,
    .backward = NULL,
    .flags = NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD,
};

/* ------------------------------------------ MatMulInteger, QLinearMatMul */

/* MatMul's shapes over uint8 / int8 operands, summed in int32:
 *   MatMulInteger  y (int32) = (A - a_zero_point) . (B - b_zero_point)
 *   QLinearMatMul  y = saturate(round(that * (a_scale * b_scale / y_scale)) + y_zero_point)
 * A's zero point and scale are one value or one per row (M of them), B's one or one per
 * column (N). The sums wrap as int32 arithmetic does (the VNNI kernels' too). */
struct qmm_state {
    struct matmul_state mm;
    enum nnp_dtype ta, tb, ty; /* ty: QLinearMatMul's output (its y_zero_point's type) */
    bool qlinear;
    /* the integer GEMM (qgemm.h), for a QLinearMatMul by a constant int8 B (rows, or,
     * for a Gemm the planner runs as one, transB's columns) with zero points 0 and
     * constant scalar parameters: B packed once, A packed per run into scratch (int8
     * flipped to uint8 + 128), the per-column offset and multiplier in the epilogue;
     * input 8, when the planner gives one, is an int32 bias per column */
    bool fast;
    uint8_t *bp;
    int32_t *off; /* (n) bias - (A's zero point as uint8) x sum of the column of B */
    float *mul;   /* (n) a_scale * b_scale / y_scale */
    uint8_t flip;
    enum nnp_qisa qisa;
    bool rows_a; /* A packed in rows for AMX (enough rows to fill its tiles) */
};

/* AMX computes 16 rows at a time: with fewer, the vector kernels' tiles of 1, 2, 4 or 8
 * rows */
#define QMM_AMX_ROWS 16

/* inputs of each operator: A, B and their zero points; the scales (QLinearMatMul) */
enum { QMM_A, QMM_B, QMM_AZ, QMM_BZ, QMM_AS, QMM_BS, QMM_YS, QMM_YZ, QMM_SLOTS };
static const int qmm_slot[2][QMM_SLOTS] = {
    {0, 1, 2, 3, -1, -1, -1, -1}, /* MatMulInteger */
    {0, 3, 2, 5, 1, 4, 6, 7},     /* QLinearMatMul */
};

static const struct nnp_rt_value *qmm_in(const struct nnp_exec_node *n, bool qlinear, int what)
{
    int k = qmm_slot[qlinear][what];
    return k >= 0 && k < n->n_in ? n->in[k] : NULL;
}

/* a zero point or scale of dtype `t`: one value, or `count` (per row / column) */
static enum nnp_status qmm_param(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                 const char *what, enum nnp_dtype t, int64_t count,
                                 const char *per)
{
    if (!v)
        return NNP_OK;
    NNP_OP_CHECK(n, v->dtype == t, "%s is %s, expected %s", what, nnp_dtype_name(v->dtype),
                 nnp_dtype_name(t));
    NNP_OP_CHECK(n, v->numel == 1 || v->numel == count,
                 "%s has %" PRId64 " values: expected 1 or one per %s (%" PRId64 ")", what,
                 v->numel, per, count);
    return NNP_OK;
}

static int32_t qmm_zp(const struct nnp_rt_value *v, int64_t i);
static float qmm_scale(const struct nnp_rt_value *v, int64_t i);

/* The integer GEMM path (qmm_state), when its conditions hold; trans_b: B is stored
 * (n, k), a Gemm's transB. */
static enum nnp_status qmm_fast_prepare(struct nnp_exec_node *n, struct qmm_state *s,
                                        bool trans_b, struct nnp_arena *arena)
{
    const struct nnp_rt_value *b = qmm_in(n, true, QMM_B), *bz = qmm_in(n, true, QMM_BZ);
    const struct nnp_rt_value *bias = n->n_in > 8 ? n->in[8] : NULL;
    const struct matmul_state *mm = &s->mm;
    bool fits = s->tb == NNP_DTYPE_I8 && b->is_const && b->data && mm->b_shared &&
                mm->k >= 1 && mm->k <= (1 << 16) && mm->n >= 1 &&
                (!bias || (bias->is_const && bias->data && bias->dtype == NNP_DTYPE_I32 &&
                           bias->numel == mm->n));
    for (int k = QMM_AZ; k < QMM_SLOTS; k++) {
        const struct nnp_rt_value *v = qmm_in(n, true, k);
        if (v && (!v->is_const || !v->data || (k != QMM_BZ && k != QMM_BS && v->numel != 1)))
            fits = false;
        if (!v && (k == QMM_AS || k == QMM_BS || (k == QMM_YS && s->ty != NNP_DTYPE_F32)))
            fits = false;
    }
    for (int64_t j = 0; fits && bz && j < bz->numel; j++)
        fits = qmm_zp(bz, j) == 0;
    if (!fits) {
        if (trans_b)
            return nnp_op_unsupported(n, "a Gemm run as QLinearMatMul needs constant int8 "
                                      "weights with zero points 0");
        return NNP_OK;
    }
    int64_t k = mm->k, cols = mm->n;
    size_t bbytes = nnp_qgemm_b_bytes(k, cols);
    s->bp = nnp_arena_alloc_big(arena, bbytes);
    s->off = nnp_arena_alloc_big(arena, (size_t)cols * sizeof *s->off);
    s->mul = nnp_arena_alloc_big(arena, (size_t)cols * sizeof *s->mul);
    if (!s->bp || !s->off || !s->mul)
        return nnp_op_error(n, "no memory for the packed weights (%zu bytes)", bbytes);
    const int8_t *bd = b->data;
    int64_t rs = trans_b ? 1 : cols, cs = trans_b ? k : 1;
    nnp_qgemm_pack_b((const uint8_t *)bd, rs, cs, k, cols, 0, s->bp);
    s->flip = s->ta == NNP_DTYPE_I8 ? 0x80 : 0;
    uint32_t zu = (uint32_t)(uint8_t)((uint8_t)qmm_zp(qmm_in(n, true, QMM_AZ), 0) ^ s->flip);
    float as = qmm_scale(qmm_in(n, true, QMM_AS), 0);
    float ys = s->ty == NNP_DTYPE_F32 ? 1.0f : qmm_scale(qmm_in(n, true, QMM_YS), 0);
    for (int64_t j = 0; j < cols; j++) {
        uint32_t sum = 0;
        for (int64_t p = 0; p < k; p++)
            sum += (uint32_t)(int32_t)bd[p * rs + j * cs];
        uint32_t bj = bias ? (uint32_t)((const int32_t *)bias->data)[j] : 0;
        s->off[j] = (int32_t)(bj - zu * sum);
        s->mul[j] = s->ty == NNP_DTYPE_F32 ? as * qmm_scale(qmm_in(n, true, QMM_BS), j)
                                            : as * qmm_scale(qmm_in(n, true, QMM_BS), j) / ys;
    }
    n->packed_bytes = bbytes + (size_t)cols * (sizeof *s->off + sizeof *s->mul);
    int64_t rows = mm->n_batch * mm->m; /* (B shared: A's batches are more rows) */
    s->qisa = nnp_qisa_best();
    s->rows_a = s->qisa == NNP_QISA_AMX && rows >= QMM_AMX_ROWS;
    size_t abytes = s->rows_a ? nnp_qgemm_a_rows_bytes(rows, k) : nnp_qgemm_a_bytes(rows, k);
    if (abytes > n->scratch_bytes) /* (the reference's need is kept) */
        n->scratch_bytes = abytes;
    s->fast = true;
    return NNP_OK;
}

static enum nnp_status qmm_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    bool ql = strcmp(n->op->name, "QLinearMatMul") == 0;
    /* a Gemm (transA 0, alpha and beta 1) the planner runs as QLinearMatMul */
    bool trans_b = ql && strcmp(n->node->op_type, "Gemm") == 0 &&
                   nnp_node_attr_int(n->node, "transB", 0) != 0;
    const struct nnp_rt_value *a = qmm_in(n, ql, QMM_A), *b = qmm_in(n, ql, QMM_B);
    struct nnp_rt_value bt;
    if (trans_b && b->rank == 2) { /* B's shape as the product reads it */
        bt = *b;
        bt.dims[0] = b->dims[1];
        bt.dims[1] = b->dims[0];
        b = &bt;
    }
    if (!nnp_q_8bit(a->dtype) || !nnp_q_8bit(b->dtype))
        return nnp_op_unsupported(n, "%s of %s by %s: only uint8 and int8 are supported",
                                  n->node->op_type, nnp_dtype_name(a->dtype),
                                  nnp_dtype_name(b->dtype));
    struct qmm_state *s = nnp_arena_alloc(arena, sizeof *s);
    int64_t od[NNP_MAX_RANK];
    int orank = 0;
    enum nnp_status st = matmul_shapes(n, a, b, &s->mm, od, &orank);
    if (st)
        return st;
    s->ta = a->dtype;
    s->tb = b->dtype;
    s->qlinear = ql;
    s->ty = NNP_DTYPE_I32;
    if ((st = qmm_param(n, qmm_in(n, ql, QMM_AZ), "a_zero_point", a->dtype, s->mm.m, "row")) ||
        (st = qmm_param(n, qmm_in(n, ql, QMM_BZ), "b_zero_point", b->dtype, s->mm.n,
                        "column")))
        return st;
    /* the planner's form of a QDQ MatMul or Gemm whose result is not quantized again: no
     * y_scale, the result dequantized (a_scale * b_scale), float32 (runtime.c, plan_qdq) */
    bool planned = ql && strcmp(n->node->op_type, "QLinearMatMul") != 0;
    if (planned && !qmm_in(n, ql, QMM_YS)) {
        s->ty = NNP_DTYPE_F32;
        if ((st = qmm_param(n, qmm_in(n, ql, QMM_AS), "a_scale", NNP_DTYPE_F32, s->mm.m,
                            "row")) ||
            (st = qmm_param(n, qmm_in(n, ql, QMM_BS), "b_scale", NNP_DTYPE_F32, s->mm.n,
                            "column")))
            return st;
    } else if (ql) {
        const struct nnp_rt_value *yz = qmm_in(n, ql, QMM_YZ);
        s->ty = yz ? yz->dtype : NNP_DTYPE_U8;
        if (!nnp_q_8bit(s->ty))
            return nnp_op_unsupported(n, "QLinearMatMul to %s: only uint8 and int8 are "
                                      "supported", nnp_dtype_name(s->ty));
        if ((st = qmm_param(n, qmm_in(n, ql, QMM_AS), "a_scale", NNP_DTYPE_F32, s->mm.m,
                            "row")) ||
            (st = qmm_param(n, qmm_in(n, ql, QMM_BS), "b_scale", NNP_DTYPE_F32, s->mm.n,
                            "column")) ||
            (st = qmm_param(n, qmm_in(n, ql, QMM_YS), "y_scale", NNP_DTYPE_F32, 1, "tensor")) ||
            (st = qmm_param(n, yz, "y_zero_point", s->ty, 1, "tensor")))
            return st;
    }
    int64_t rows = s->mm.m, cols = s->mm.n;
    NNP_OP_CHECK(n, rows <= INT32_MAX && cols <= INT32_MAX && s->mm.k <= INT32_MAX,
                 "the product is too large (sizes above 2^31-1)");
    /* scratch: a row of int32 sums and B's zero point per column */
    n->scratch_bytes = (size_t)cols * (sizeof(uint32_t) + sizeof(int32_t));
    s->mm.isa = nnp_isa_best();
    n->state = s;
    n->flops = 2.0 * (double)s->mm.n_batch * (double)rows * (double)cols * (double)s->mm.k;
    n->work = nnp_work_prod(4, (int64_t[]){s->mm.n_batch, rows, cols, s->mm.k});
    if ((st = nnp_rt_set_shape(n->out[0], s->ty, orank, od)))
        return st;
    return ql ? qmm_fast_prepare(n, s, trans_b, arena) : NNP_OK;
}

/* value i of a per-tensor or per-row / column parameter (absent: 0) */
static int32_t qmm_zp(const struct nnp_rt_value *v, int64_t i)
{
    return v ? nnp_q_get(v->dtype, v->data, v->numel == 1 ? 0 : i) : 0;
}

static float qmm_scale(const struct nnp_rt_value *v, int64_t i)
{
    return ((const float *)v->data)[v->numel == 1 ? 0 : i];
}

/* acc[j] += av * (b[j] - bz[j]) for j < n, uint32 sums (int32 arithmetic, wrapping);
 * the AVX2 version does the same eight columns at a time */
static void qmm_row(bool u8, uint32_t *acc, const void *b, const int32_t *bz, int32_t av,
                    int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        int32_t bv = u8 ? ((const uint8_t *)b)[j] : ((const int8_t *)b)[j];
        acc[j] += (uint32_t)av * (uint32_t)(bv - bz[j]);
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void qmm_row_avx2(bool u8, uint32_t *acc, const void *b,
                                                         const int32_t *bz, int32_t av,
                                                         int64_t n)
{
    __m256i va = _mm256_set1_epi32(av);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m128i raw = _mm_loadl_epi64((const __m128i *)((const uint8_t *)b + j));
        __m256i bv = u8 ? _mm256_cvtepu8_epi32(raw) : _mm256_cvtepi8_epi32(raw);
        bv = _mm256_sub_epi32(bv, _mm256_loadu_si256((const __m256i *)(bz + j)));
        __m256i sum = _mm256_loadu_si256((const __m256i *)(acc + j));
        sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(bv, va));
        _mm256_storeu_si256((__m256i *)(acc + j), sum);
    }
    qmm_row(u8, acc + j, (const uint8_t *)b + j, bz + j, av, n - j);
}
#endif

struct qmm_run {
    const struct nnp_qgemm *g;
    enum nnp_qisa isa;
    const struct nnp_act *act; /* float output: a fused activation and residual Add */
    const float *res;
    int64_t row_blocks;
};

#define QMM_ROWS 64 /* rows of a task: many rows and few columns split by rows too */

/* task t: panel t / row_blocks of 48 columns, rows of block t % row_blocks */
static void qmm_panel_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    const struct qmm_run *r = ctx;
    const struct nnp_qgemm *g = r->g;
    for (int64_t t = begin; t < end; t++) {
        int64_t n = g->n, j0 = t / r->row_blocks * NNP_QGEMM_NR;
        int64_t j1 = j0 + NNP_QGEMM_NR < n ? j0 + NNP_QGEMM_NR : n;
        int64_t i0 = t % r->row_blocks * QMM_ROWS, i1 = i0 + QMM_ROWS < g->m ? i0 + QMM_ROWS : g->m;
        nnp_qgemm_block(r->isa, g, i0, i1, j0, j1);
        if (g->cf && (r->act->kind || r->res))
            nnp_gemm_finish_rows(r->act, i1 - i0, j1 - j0, g->cf + i0 * n + j0, n,
                                 r->res ? r->res + i0 * n + j0 : NULL, n, g->cf + i0 * n + j0, n);
    }
}

static enum nnp_status qmm_fast_forward(struct nnp_exec_node *n)
{
    const struct qmm_state *s = n->state;
    const struct matmul_state *mm = &s->mm;
    uint8_t *ap = n->scratch;
    int64_t rows = mm->n_batch * mm->m; /* (B shared: A's batches are more rows) */
    const uint8_t *a = qmm_in(n, true, QMM_A)->data;
    if (s->rows_a)
        nnp_qgemm_pack_a_rows(a, mm->k, rows, mm->k, s->flip, ap);
    else
        nnp_qgemm_pack_a(a, mm->k, 1, rows, mm->k, s->flip, ap);
    struct nnp_qgemm g = {.m = rows, .n = mm->n, .k = mm->k, .a = ap, .b = s->bp,
                          .lda = s->rows_a ? nnp_qgemm_a_rows_lda(mm->k) : 0,
                          .off = s->off, .mul = s->mul, .per_col = true,
                          .zp = qmm_zp(qmm_in(n, true, QMM_YZ), 0), .lo = nnp_q_lo(s->ty),
                          .hi = nnp_q_hi(s->ty), .c = n->out[0]->data, .ldc = mm->n};
    const struct nnp_act none = {NNP_ACT_NONE, 0, 0}, *act = &n->fusion.act;
    if (s->ty == NNP_DTYPE_F32) {
        g.cf = n->out[0]->data;
        if (!n->fusion.residual && (act->kind == NNP_ACT_RELU || act->kind == NNP_ACT_CLIP)) {
            g.cf_clamp = true; /* the activation in the epilogue */
            g.cf_lo = act->kind == NNP_ACT_RELU ? 0.0f : act->alpha;
            g.cf_hi = act->kind == NNP_ACT_RELU ? INFINITY : act->beta;
            act = &none;
        }
    }
    else /* the planner's Relu or Clip before the QuantizeLinear */
        nnp_q_act_bounds(&n->fusion.act, qmm_scale(qmm_in(n, true, QMM_YS), 0), g.zp, &g.lo,
                         &g.hi);
    const struct nnp_rt_value *res = n->fusion.residual;
    struct qmm_run r = {&g, s->qisa, act, res ? res->data : NULL,
                        (rows + QMM_ROWS - 1) / QMM_ROWS};
    int64_t panels = (mm->n + NNP_QGEMM_NR - 1) / NNP_QGEMM_NR;
    double macs = (double)rows * (double)mm->n * (double)mm->k;
    nnp_parallel_for(macs >= 4.0 * nnp_gemm_par_min_macs() ? n->pool : NULL,
                     panels * r.row_blocks, qmm_panel_task, &r);
    return NNP_OK;
}

static enum nnp_status qmm_reference(struct nnp_exec_node *n)
{
    const struct qmm_state *s = n->state;
    const struct matmul_state *mm = &s->mm;
    bool ql = s->qlinear;
    const struct nnp_rt_value *az = qmm_in(n, ql, QMM_AZ), *bz = qmm_in(n, ql, QMM_BZ);
    const void *a = qmm_in(n, ql, QMM_A)->data, *b = qmm_in(n, ql, QMM_B)->data;
    void *y = n->out[0]->data;
    uint32_t *acc = n->scratch;
    int32_t *bzc = (int32_t *)(acc + mm->n);
    for (int64_t j = 0; j < mm->n; j++)
        bzc[j] = qmm_zp(bz, j);
    bool fout = s->ty == NNP_DTYPE_F32;
    float ys = ql && !fout ? qmm_scale(qmm_in(n, ql, QMM_YS), 0) : 0.0f;
    int32_t yz = ql ? qmm_zp(qmm_in(n, ql, QMM_YZ), 0) : 0;
    int32_t lo = nnp_q_lo(s->ty), hi = nnp_q_hi(s->ty);
    if (ql && !fout) /* the planner's Relu or Clip before the QuantizeLinear */
        nnp_q_act_bounds(&n->fusion.act, ys, yz, &lo, &hi);
    void (*row)(bool, uint32_t *, const void *, const int32_t *, int32_t, int64_t) = qmm_row;
#if defined(__x86_64__)
    if (mm->isa != NNP_ISA_SCALAR)
        row = qmm_row_avx2;
#endif
    bool u8 = s->tb == NNP_DTYPE_U8;
    for (int64_t bi = 0; bi < mm->n_batch; bi++) {
        int64_t ao, bo;
        matmul_offsets(mm, bi, &ao, &bo);
        for (int64_t i = 0; i < mm->m; i++) {
            memset(acc, 0, (size_t)mm->n * sizeof *acc);
            int32_t azi = qmm_zp(az, i);
            for (int64_t p = 0; p < mm->k; p++) {
                int32_t av = nnp_q_get(s->ta, a, ao + i * mm->k + p) - azi;
                if (av != 0)
                    row(u8, acc, (const uint8_t *)b + bo + p * mm->n, bzc, av, mm->n);
            }
            int64_t at = (bi * mm->m + i) * mm->n;
            const int32_t *bias = n->n_in > 8 ? n->in[8]->data : NULL; /* (the planner's) */
            for (int64_t j = 0; j < mm->n; j++) {
                int32_t sum = (int32_t)(acc[j] + (bias ? (uint32_t)bias[j] : 0)); /* wraps */
                if (!ql) {
                    ((int32_t *)y)[at + j] = sum;
                    continue;
                }
                float mul = qmm_scale(qmm_in(n, ql, QMM_AS), i) *
                            qmm_scale(qmm_in(n, ql, QMM_BS), j);
                if (fout) {
                    ((float *)y)[at + j] = (float)sum * mul;
                    continue;
                }
                mul = mul / ys;
                nnp_q_put(s->ty, y, at + j, nnp_q_quantize((float)sum * mul, yz, lo, hi));
            }
        }
    }
    if (fout) { /* a fused Add and activation (the planner's) */
        const struct nnp_rt_value *res = n->fusion.residual;
        nnp_gemm_finish_rows(&n->fusion.act, 1, n->out[0]->numel, y, 0,
                             res ? res->data : NULL, 0, y, 0);
    }
    return NNP_OK;
}

static enum nnp_status qmm_forward(struct nnp_exec_node *n)
{
    const struct qmm_state *s = n->state;
    return s->fast ? qmm_fast_forward(n) : qmm_reference(n);
}

const struct nnp_op nnp_op_MatMulInteger = {
    .name = "MatMulInteger",
    .min_in = 2,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .prepare = qmm_prepare,
    .forward = qmm_forward,
};

const struct nnp_op nnp_op_QLinearMatMul = {
    .name = "QLinearMatMul",
    .min_in = 8,
    .max_in = 8,
    .min_out = 1,
    .max_out = 1,
    .prepare = qmm_prepare,
    .forward = qmm_forward,
    .reference = qmm_reference,
    /* only the planner's float-output form takes them (runtime.c: plan_fusion) */
    .flags = NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD,
};
