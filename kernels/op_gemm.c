/* kernels/op_gemm.c — Gemm and MatMul: fp32 matrix products.
 *
 * Kernel choice, made in prepare from the shapes:
 *   rows   M <= GEMV_MAX_M and the weight laid out [N,K] (Gemm transB = 1, the
 *          PyTorch Linear layout; MatMul by a vector): one bandwidth-bound
 *          matrix-vector pass per row of A (kernels/gemv.h)
 *   cols   M <= GEMV_MAX_M and the weight laid out [K,N] (Gemm transB = 0,
 *          MatMul): y += x[k] * B[k,:], again streaming the weight once
 *   sgemm  everything else: OpenBLAS cblas_sgemm
 * With 2..GEMV_MAX_M rows the weight is walked in blocks that stay in L2
 * across the rows, so it comes from memory once. Measured on the project's
 * machine (4096x4096, one thread): sgemm takes about the same 7 ms for any M
 * up to 8, the matrix-vector pass 1.5 ms per row from L2-blocked weights, so
 * the crossover lies between 4 and 8 rows; 4 keeps a margin for small
 * matrices where sgemm's fixed cost matters less.
 */
#include <cblas.h>
#include <inttypes.h>
#include <string.h>

#include "gemv.h"
#include "op.h"

#define GEMV_MAX_M 4
/* bytes of weight walked per block when several rows share it: fits L2 */
#define GEMV_BLOCK_BYTES (128 * 1024)

enum mm_kernel {
    MM_SGEMM, /* cblas_sgemm */
    MM_ROWS,  /* nnp_gemv_rows on a weight [N,K] */
    MM_COLS,  /* nnp_gemv_cols on a weight [K,N] */
};

static enum nnp_status need_f32(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                const char *what)
{
    if (v->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "%s is %s, only float32 is supported", what,
                                  nnp_dtype_name(v->dtype));
    return NNP_OK;
}

/* y (m, n) = a (m, k) . w^T, w (n, k): the rows kernel, blocked over n when m > 1 so that
 * each block of w is read from memory once and from cache for the other rows. */
static void gemv_rows_m(enum nnp_isa isa, const float *a, int64_t lda, const float *w, float *y,
                        int64_t m, int64_t n, int64_t k)
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
            nnp_gemv_rows(isa, w + j0 * k, a + i * lda, y + i * n + j0, c, k);
    }
}

/* y (m, n) = a (m, k) . b, b (k, n): the cols kernel, blocked over k likewise. */
static void gemv_cols_m(enum nnp_isa isa, const float *a, int64_t lda, const float *b, float *y,
                        int64_t m, int64_t n, int64_t k)
{
    memset(y, 0, (size_t)(m * n) * sizeof *y);
    int64_t kb = m == 1 || !n ? k : GEMV_BLOCK_BYTES / (n * (int64_t)sizeof(float));
    if (kb < 4)
        kb = 4;
    for (int64_t i0 = 0; i0 < k; i0 += kb) {
        int64_t c = k - i0 < kb ? k - i0 : kb;
        for (int64_t i = 0; i < m; i++)
            nnp_gemv_cols(isa, b + i0 * n, a + i * lda + i0, y + i * n, c, n);
    }
}

static int64_t max1(int64_t v)
{
    return v > 1 ? v : 1;
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

struct gemm_state {
    float alpha, beta;
    bool trans_a, trans_b;
    int64_t m, n, k;
    bool has_c;                     /* C given and beta != 0 */
    int64_t c_stride_m, c_stride_n; /* C element (i, j) at i*c_stride_m + j*c_stride_n */
    enum mm_kernel kernel;
    enum nnp_isa isa;
};

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
    if (s->m <= GEMV_MAX_M && rows_contig && s->k > 0)
        s->kernel = s->trans_b ? MM_ROWS : MM_COLS;
    n->state = s;
    return nnp_rt_set_shape(n->out[0], NNP_DTYPE_F32, 2, (int64_t[]){s->m, s->n});
}

/* y = alpha * y + beta * C, C broadcast */
static void gemm_epilogue(const struct gemm_state *s, const float *c, float *y, bool scale)
{
    for (int64_t i = 0; i < s->m; i++) {
        float *yi = y + i * s->n; /* (n) */
        if (scale)
            for (int64_t j = 0; j < s->n; j++)
                yi[j] *= s->alpha;
        if (s->has_c) {
            const float *ci = c + i * s->c_stride_m;
            for (int64_t j = 0; j < s->n; j++)
                yi[j] += s->beta * ci[j * s->c_stride_n];
        }
    }
}

static enum nnp_status gemm_forward(struct nnp_exec_node *n)
{
    const struct gemm_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    const float *c = s->has_c ? n->in[2]->data : NULL;
    float *y = n->out[0]->data; /* (m, n) */
    if (s->m == 0 || s->n == 0)
        return NNP_OK;
    switch (s->kernel) {
    case MM_ROWS:
        gemv_rows_m(s->isa, a, s->k, b, y, s->m, s->n, s->k);
        gemm_epilogue(s, c, y, s->alpha != 1.0f);
        return NNP_OK;
    case MM_COLS:
        gemv_cols_m(s->isa, a, s->k, b, y, s->m, s->n, s->k);
        gemm_epilogue(s, c, y, s->alpha != 1.0f);
        return NNP_OK;
    case MM_SGEMM: break;
    }
    float beta = 0.0f;
    if (s->has_c) {
        /* C first, so that sgemm adds the product onto it in one pass */
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++)
                y[i * s->n + j] = s->beta * c[i * s->c_stride_m + j * s->c_stride_n];
        beta = 1.0f;
    }
    if (s->k == 0) {
        if (!s->has_c)
            memset(y, 0, (size_t)(s->m * s->n) * sizeof *y);
        return NNP_OK;
    }
    cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                s->trans_b ? CblasTrans : CblasNoTrans, (int)s->m, (int)s->n, (int)s->k, s->alpha,
                a, (int)max1(s->trans_a ? s->m : s->k), b, (int)max1(s->trans_b ? s->k : s->n),
                beta, y, (int)max1(s->n));
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
    enum nnp_isa isa;
};

static enum nnp_status matmul_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *a = n->in[0], *b = n->in[1];
    enum nnp_status st;
    if ((st = need_f32(n, a, "A")) || (st = need_f32(n, b, "B")))
        return st;
    NNP_OP_CHECK(n, a->rank >= 1 && b->rank >= 1,
                 "MatMul needs inputs of rank >= 1, got %d-D and %d-D", a->rank, b->rank);
    struct matmul_state *s = nnp_arena_alloc(arena, sizeof *s);

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

    /* rows of one product: with B shared, A's batches are just more rows */
    int64_t rows = s->b_shared ? s->n_batch * s->m : s->m;
    if ((st = fits_int(n, rows, s->n, s->k)))
        return st;
    s->isa = nnp_isa_best();
    s->kernel = MM_SGEMM;
    if (s->k > 0 && s->n == 1)
        s->kernel =
            MM_ROWS; /* y = A . b: A itself is the [rows,K] weight of a matrix-vector product */
    else if (s->k > 0 && rows <= GEMV_MAX_M)
        s->kernel = MM_COLS;
    n->state = s;

    int64_t od[NNP_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < s->batch_rank; i++)
        od[orank++] = s->batch_dims[i];
    if (a->rank > 1)
        od[orank++] = s->m;
    if (b->rank > 1)
        od[orank++] = s->n;
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

/* y (rows, n) = a (rows, k) . b (k, n) with the chosen kernel. */
static void matmul_one(const struct matmul_state *s, const float *a, const float *b, float *y,
                       int64_t rows)
{
    switch (s->kernel) {
    case MM_ROWS: nnp_gemv_rows(s->isa, a, b, y, rows, s->k); return;
    case MM_COLS: gemv_cols_m(s->isa, a, s->k, b, y, rows, s->n, s->k); return;
    case MM_SGEMM: break;
    }
    if (s->k == 0) {
        memset(y, 0, (size_t)(rows * s->n) * sizeof *y);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)s->n, (int)s->k, 1.0f, a,
                (int)max1(s->k), b, (int)max1(s->n), 0.0f, y, (int)max1(s->n));
}

static enum nnp_status matmul_forward(struct nnp_exec_node *n)
{
    const struct matmul_state *s = n->state;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out[0]->data; /* (batch..., m, n) */
    if (s->m == 0 || s->n == 0 || s->n_batch == 0)
        return NNP_OK;
    if (s->b_shared) {
        /* A's batches may still broadcast (a stride 0 axis) against B's size-1 axes only,
         * so A is contiguous over all output rows */
        matmul_one(s, a, b, y, s->n_batch * s->m);
        return NNP_OK;
    }
    for (int64_t bi = 0; bi < s->n_batch; bi++) {
        int64_t ao, bo;
        matmul_offsets(s, bi, &ao, &bo);
        matmul_one(s, a + ao, b + bo, y + bi * s->m * s->n, s->m);
    }
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
};
