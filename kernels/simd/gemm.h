/* kernels/simd/gemm.h — the fp32 matrix product under Conv, Gemm and MatMul, with its
 * epilogue (bias, residual, activation) applied while each output tile is hot.
 *
 *     // plan time: the constant operand in the layout the kernel reads
 *     float *wp = ...alloc(nnp_gemm_a_floats(m, k) * sizeof(float));
 *     nnp_gemm_pack_a(w, k, 1, m, k, wp);            // weights W (m, k), row-major
 *     // run time: C (m, n) = relu(W . X + bias), X (k, n) row-major
 *     struct nnp_gemm g = {.m = m, .n = n, .k = k, .a = wp, .a_packed = true,
 *                          .b = x, .ldb = n, .c = y, .ldc = n,
 *                          .epi = {.scale = 1, .bias_m = bias, .act = {NNP_ACT_RELU}}};
 *     nnp_gemm_block(&g, 0, m, 0, n, scratch);      // scratch: nnp_gemm_scratch_bytes()
 *
 * The shape of the computation (what the code below is built around):
 *
 *   C is computed in tiles of MR rows x NR columns. A micro-kernel keeps the
 *   whole tile in registers (AVX-512: 8 x 48 floats in 24 zmm) while it walks
 *   k: per step it loads one row of B's panel (NR floats, 3 vectors) and
 *   broadcasts MR elements of A, 24 FMAs for 11 loads.
 *
 *   A (m, k) is read as panels of MR rows interleaved by k ("packed": what
 *   nnp_gemm_pack_a() writes, done once at plan time for weights) or straight
 *   from row-major rows ("rows": activations, broadcast one element at a time,
 *   nothing to pack).
 *   B (k, n) is read as row-major rows of NR columns: straight from memory
 *   (ldb apart), from panels made once at plan time (nnp_gemm_pack_b()), or
 *   from a panel the caller's pack_b fills, KC rows at a time, into L1-sized
 *   scratch: that is how convolution makes its column matrix, a panel at a
 *   time, without ever writing the whole im2col matrix (op_conv.c).
 *
 *   C is written where c and ldc say, or, when the product's columns are not
 *   the output's (a convolution computed over a padded width), into a panel of
 *   the block's rows x NR columns in scratch that the caller's store_c takes,
 *   with the rest of the epilogue (nnp_gemm_finish_row()), once the panel is
 *   complete: still in L1.
 *
 *   Loop order, for a block [m0, m1) x [n0, n1): for each panel of NR columns,
 *   for each KC rows of k, (pack B,) for each MR rows: the micro-kernel. The
 *   B panel stays in L1 across the rows; the first KC block starts from 0, the
 *   others add onto C, and the last applies the epilogue. Every element is
 *   summed in the same order whatever the block, so splitting a product over
 *   threads does not change a bit.
 *
 * Which ISA: AVX-512F (8 x 48 tile), AVX2 + FMA (4 x 24 tiles, four per 8 x 48),
 * or portable C, chosen at run time (nnp_isa_best()); the scalar version is
 * the one the others are tested against (tests/unit/test_gemm.c).
 */
#ifndef NNP_GEMM_H
#define NNP_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ops/act.h"
#include "kernels/simd/gemv.h"

#define NNP_GEMM_MR 8   /* rows of a tile, and of an A panel */
#define NNP_GEMM_NR 48  /* columns of a tile, and of a B panel */
#ifndef NNP_GEMM_KC
#define NNP_GEMM_KC 128 /* rows of B packed at once: 128 x 48 floats = 24 KiB, half an L1 */
#endif

/* The rows of k in the block that starts at row k0: KC, or all that is left when that is
 * at most a quarter more (the last block then takes up to 160 rows, 30 KiB of B), so
 * that no product ends on a short block: K = 144 (16 channels, 3x3) in one block, not
 * 128 then 16, whose tiles cost their stores and reloads for 16 steps. */
static inline int64_t nnp_gemm_kc(int64_t k, int64_t k0)
{
    return k - k0 <= NNP_GEMM_KC + NNP_GEMM_KC / 4 ? k - k0 : NNP_GEMM_KC;
}

/* What is applied to C on the way out, in this order:
 *   x = scale * (A . B) + bias_m[i] + bias_n[j]
 *   x = x * mul_m[i] + add_m[i]        (then the same with mul_n[j], add_n[j])
 *   c = act(x + res[i * ldr + j])
 * Each term is optional, each step rounded as the unfused nodes round it (Conv's
 * bias, a BatchNormalization's x * a + b, the Add, the activation), so fusing
 * does not change a bit. */
struct nnp_epilogue {
    float scale;          /* Gemm's alpha; 1 for none (0 is taken as 1) */
    const float *bias_m;  /* (m) per row: Conv's bias per output channel; NULL: none */
    const float *bias_n;  /* (n) per column: Gemm's C broadcast along rows; NULL: none */
    const float *mul_m, *add_m; /* (m) each, per row: a fused BatchNormalization; NULL: none */
    const float *mul_n, *add_n; /* (n) each, per column (a transposed product's channels) */
    const float *res;     /* (m, n) rows ldr apart: a residual Add, Gemm's C; NULL: none */
    int64_t ldr;
    struct nnp_act act;
};

struct nnp_gemm;
/* Fills dst (kc, NNP_GEMM_NR) with rows k0 .. k0+kc-1 and columns j0 .. j0+nc-1 of the
 * B of product g (nc <= NR; columns nc .. NR-1 are never read). */
typedef void (*nnp_gemm_pack_fn)(const struct nnp_gemm *g, int64_t k0, int64_t kc, int64_t j0,
                                 int64_t nc, float *dst);

/* Takes rows [m0, m1) x columns [j0, j0+nc) of C from `panel` (row i - m0 at
 * panel + (i - m0) * NNP_GEMM_NR), scale, biases and affines applied, res and act not:
 * store_c applies those (nnp_gemm_finish_row()) where the columns belong. */
typedef void (*nnp_gemm_store_fn)(const struct nnp_gemm *g, int64_t m0, int64_t m1, int64_t j0,
                                  int64_t nc, const float *panel);

/* One product C (m, n) = A (m, k) . B (k, n), then the epilogue. */
struct nnp_gemm {
    int64_t m, n, k;
    const float *a;   /* packed panels (a_packed), or rows lda apart */
    int64_t lda;
    bool a_packed;
    const float *b;   /* panels (b_packed), or rows ldb apart; unused with pack_b */
    int64_t ldb;
    bool b_packed;
    const int64_t *b_rows; /* or row p of B at b + b_rows[p], its columns consecutive
                              (with a_packed only): B read in place, no panel packed */
    const uint16_t *b_mask; /* with b_rows, or NULL: the lanes of B that exist, the others
                               read as 0 (a convolution's pads, read in the unpadded input).
                               B's rows come in runs of b_run rows that share their masks
                               (a kernel tap over every input channel): element (p, j) of
                               panel q = j / NR exists when bit j % 16 of
                               b_mask[(q * b_runs + p / b_run) * 3 + j % NR / 16] is set,
                               b_runs = k / b_run rounded up; no bit for j >= n (AVX-512 and
                               scalar kernels only) */
    int64_t b_run;
    nnp_gemm_pack_fn pack_b; /* B made panel by panel (NULL: read b) */
    const void *pack_ctx;    /* for pack_b: what all products share (a layer's geometry) */
    const float *pack_src;   /* for pack_b: this product's own data (an image) */
    float *c; /* rows ldc apart */
    int64_t ldc;
    nnp_gemm_store_fn store_c; /* C goes to store_c a panel at a time (NULL: to c) */
    struct nnp_epilogue epi;
};

/*! @return floats of nnp_gemm_pack_a()'s output for A (m, k). */
size_t nnp_gemm_a_floats(int64_t m, int64_t k);
/*! @return floats of nnp_gemm_pack_b()'s output for B (k, n). */
size_t nnp_gemm_b_floats(int64_t k, int64_t n);
/*! nnp_gemm_pack_a() : A (m, k), element (i, p) at a[i*rs + p*cs], into panels of MR
 *  rows, KC columns at a time: the slice of columns k0 .. k0+kc-1 (kc = nnp_gemm_kc(k, k0))
 *  holds every panel in turn, element (i, p) at
 *  dst[k0*mp + (i/MR)*kc*MR + (p-k0)*MR + i%MR] with mp = m rounded up to MR, rows past
 *  m zero. A block's slice of A is then one contiguous run of memory, read in order. */
void nnp_gemm_pack_a(const float *a, int64_t rs, int64_t cs, int64_t m, int64_t k, float *dst);
/*! nnp_gemm_pack_b() : B (k, n), element (p, j) at b[p*rs + j*cs], into panels of NR
 *  columns: dst[(j/NR) * k*NR + p*NR + j%NR], columns past n zero. */
void nnp_gemm_pack_b(const float *b, int64_t rs, int64_t cs, int64_t k, int64_t n, float *dst);

/*! @return the scratch bytes nnp_gemm_block() needs for one thread: a B panel, and for a
 *  product with store_c a C panel of m rows (m: 0 without store_c). */
size_t nnp_gemm_scratch_bytes(int64_t m);

/*! nnp_gemm_finish_row() : dst[t] = act(src[t] + res[t]) for t < n, the rest of the
 *  epilogue (res may be NULL; src may be dst). The same bits as an Add then the
 *  activation's own operator would give. */
void nnp_gemm_finish_row(const struct nnp_act *act, const float *src, const float *res,
                         float *dst, int64_t n);
/*! nnp_gemm_finish_rows() : the same for `rows` rows of n, lds, ldr and ldd floats apart. */
void nnp_gemm_finish_rows(const struct nnp_act *act, int64_t rows, int64_t n, const float *src,
                          int64_t lds, const float *res, int64_t ldr, float *dst, int64_t ldd);

/*! nnp_gemm_block() : rows [m0, m1) and columns [n0, n1) of C, on the calling thread,
 *  with the best ISA. m0 must be a multiple of MR and n0 of NR (any m1, n1).
 *  `scratch`: nnp_gemm_scratch_bytes(), 64-byte aligned; unused unless pack_b or
 *  store_c. */
void nnp_gemm_block(const struct nnp_gemm *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                    void *scratch);
/*! The same with a given ISA (tests hold the fast ones to NNP_ISA_SCALAR). */
void nnp_gemm_block_isa(enum nnp_isa isa, const struct nnp_gemm *g, int64_t m0, int64_t m1,
                        int64_t n0, int64_t n1, void *scratch);

/* Many products at once over a thread pool: n_units of the same shape (images and
 * groups of a convolution, the batch of a MatMul), each split into blocks when there
 * are fewer units than the threads can use. */
/* unit(ctx, u, tid, &g): product u, for thread tid (< the pool's threads), which may
 * prepare something of its own for it once (a convolution's copy of its input) */
typedef void (*nnp_gemm_unit_fn)(const void *ctx, int64_t u, int tid, struct nnp_gemm *g);
struct nnp_pool;
/*! nnp_gemm_units() : for every unit u < n_units, unit(ctx, u, tid, &g) describes the
 *  product and it is computed. Blocks go to the pool's threads, each with its own
 *  slice of `scratch` (threads x slice_bytes, slice_bytes >= nnp_gemm_scratch_bytes(m)).
 *  Work below a measured bound stays on the caller (pool ignored). Results do not
 *  depend on the thread count. */
void nnp_gemm_units(struct nnp_pool *pool, int64_t n_units, int64_t m, int64_t n, int64_t k,
                    nnp_gemm_unit_fn unit, const void *ctx, uint8_t *scratch,
                    size_t slice_bytes);
/*! The same, split over the pool whatever the size (tests/bench/crossover.c measures
 *  where the split starts to pay, against nnp_gemm_par_min_macs()). */
void nnp_gemm_units_split(struct nnp_pool *pool, int64_t n_units, int64_t m, int64_t n,
                          int64_t k, nnp_gemm_unit_fn unit, const void *ctx, uint8_t *scratch,
                          size_t slice_bytes);
/*! @return the multiply-adds below which nnp_gemm_units() stays on the calling thread. */
int nnp_gemm_par_min_macs(void);

#endif
