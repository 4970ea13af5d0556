/* kernels/simd/qgemm.h — the int8 matrix product under the quantized Conv, Gemm and
 * MatMul, its int32 sums requantized to 8 bits in the epilogue.
 *
 *     // plan time: the weights W (m, k) int8, packed once
 *     uint8_t *wp = ...alloc(nnp_qgemm_a_bytes(m, k));
 *     nnp_qgemm_pack_a(w, k, 1, m, k, 0, wp);
 *     // run time: X (k, n) uint8 packed (int8 activations: flip 0x80), then
 *     nnp_qgemm_pack_b(x, n, 1, k, n, 0, xp);
 *     struct nnp_qgemm g = {.m = m, .n = n, .k = k, .a = wp, .b = xp, .a_signed = true,
 *                           .off = off, .mul = mul, .zp = 128, .lo = 0, .hi = 255,
 *                           .c = y, .ldc = n};
 *     nnp_qgemm_block(nnp_qisa_best(), &g, 0, m, 0, n);
 *
 * What it computes, for i < m, j < n, with ch = i (or j with per_col):
 *   acc = sum_p A[i][p] * B[j][p]        exactly, in int32 (wrapping as int32 does)
 *   c   = clamp(round_even((float)(acc + off[ch]) * mul[ch]) + zp, lo, hi)
 * One operand is unsigned and the other signed, as the VNNI instruction wants them
 * (vpdpbusd: four u8 x s8 products summed into each int32 lane): a_signed says A is
 * the int8 one. A quantized layer's zero points go into `off` (the caller takes
 * zu * sum_p W[ch][p] off there for activations stored with zero point zu; int8
 * activations are read as uint8 + 128 by packing them with flip = 0x80, their zero
 * point with them) and its three scales into mul = x_scale * w_scale / y_scale:
 * the same float arithmetic as the unfused operator (kernels/ops/quant.h), so that the
 * result is the same to the bit. A Relu that precedes the output's QuantizeLinear is
 * lo = zp (Q(relu(v)) = max(Q(v), zp) for every v).
 *
 * Layout (both operands made by the pack functions, k padded to a multiple of 4 with
 * zeros):
 *   A in panels of MR rows: 4 consecutive k of a row are one int32 lane, broadcast;
 *     byte (i, p) at dst[(i/MR) * k4*MR*4 + (p/4) * MR*4 + (i%MR) * 4 + p%4]
 *   B in panels of NR columns: 4 consecutive k of a column are one lane;
 *     byte (p, j) at dst[(j/NR) * k4*NR*4 + (p/4) * NR*4 + (j%NR) * 4 + p%4]
 * A tile of MR x NR sums stays in registers over k (AVX-512: 8 x 3 zmm, 24 vpdpbusd
 * per step of 4 k for 3 loads of B and 8 broadcasts of A); then the epilogue stores its
 * bytes. AVX-512 takes a large k in blocks of 96 steps over 8 tiles of rows at a time,
 * their sums kept in memory between blocks, so that a block of B stays in L1. Tiles of fewer rows (m = 1, a batch-1 MatMul) run a
 * kernel of that many rows, not 8 with the rest thrown away.
 *
 * AMX (nnp_qgemm_pack_a_rows: A in rows of k padded to 64; B packed, or in place by
 * tiles: b_tile) computes 16 rows x 48 columns as three 16 x 16 tiles of sums, tdpbusd
 * or tdpbsud on 16 rows x 64 k of A and 16 groups of 4 k of B: the same exact sums, the
 * AVX-512 epilogue on them. Its permission is asked of Linux once (arch_prctl).
 *
 * ISAs: AMX, AVX512-VNNI, AVX-VNNI (the same instruction on ymm), AVX2 (vpdpbusd made of
 * exact 16-bit multiplies: vpmaddubsw saturates, vpmaddwd on widened bytes does not)
 * and portable C, chosen at run time; every one gives the scalar one's bits
 * (tests/unit/test_qgemm.c). */
#ifndef NNP_QGEMM_H
#define NNP_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NNP_QGEMM_MR 8
#define NNP_QGEMM_NR 48

enum nnp_qisa {
    NNP_QISA_SCALAR,
    NNP_QISA_AVX2,       /* AVX2 */
    NNP_QISA_AVXVNNI,    /* AVX2 + AVX-VNNI */
    NNP_QISA_AVX512VNNI, /* AVX-512F, BW, VL + AVX512-VNNI */
    NNP_QISA_AMX,        /* AVX512-VNNI + AMX-INT8 (and the OS's permission) */
    NNP_QISA_COUNT
};

/*! @return the best integer ISA this CPU runs (checked once). */
enum nnp_qisa nnp_qisa_best(void);
/*! @return 1 if this CPU runs `isa`. */
int nnp_qisa_supported(enum nnp_qisa isa);
/*! @return "scalar", "avx2", "avxvnni", "avx512vnni" or "amx". */
const char *nnp_qisa_name(enum nnp_qisa isa);

struct nnp_qgemm {
    int64_t m, n, k;
    const uint8_t *a, *b; /* packed (nnp_qgemm_pack_a, nnp_qgemm_pack_b) */
    int64_t lda;          /* or, when > 0, A in rows lda bytes apart (nnp_qgemm_pack_a_rows:
                             AMX's layout; with b_koff, or another ISA, it runs the
                             scalar code) */
    const int32_t *b_koff; /* or B read in place, where the 4 k of group s (k / 4) for
                              column j are the 4 bytes at b + (b_koff[s] + j) * 4: an
                              activation blocked by 4 channels, each tap one offset into
                              it (op_conv.c). Columns are computed 48 at a time: b must
                              be readable up to b_koff[s] + j0 + 48 for every tile */
    const int32_t *b_tile; /* or (AMX, A in rows) B read in place by tiles of 16 groups:
                              group 16 t + r (r < 16) for column j at
                              b + (b_tile[t] + r * b_tile_stride + j) * 4 */
    int64_t b_tile_stride;
    bool a_signed;        /* A int8 and B uint8; else A uint8 and B int8 */
    const int32_t *off;   /* (m), or (n) with per_col: added to each sum */
    const float *mul;     /* (m), or (n) with per_col */
    bool per_col;
    int32_t zp, lo, hi; /* the output's zero point and range ([-128, 127]: int8) */
    uint8_t *c;         /* uint8 or int8 bytes, rows ldc apart */
    int64_t ldc;
    float *cf; /* or, when set, C as float: (float)(acc + off[ch]) * mul[ch], rows ldc
                  apart (mul = x_scale * w_scale: the layer's dequantized output), then
                  clamped to [cf_lo, cf_hi] when cf_clamp (a fused Relu, lo 0 and hi
                  +inf, or Clip, with their own comparisons: NaN and -0 pass) */
    bool cf_clamp;
    float cf_lo, cf_hi;
    const float *cf_mul, *cf_add; /* float C, when set: x * cf_mul[ch] + cf_add[ch] before
                                     the clamp (a fused BatchNormalization), rounded as
                                     its own operator rounds: a product, then a sum */
};

/*! @return bytes of nnp_qgemm_pack_a()'s output for A (m, k). */
size_t nnp_qgemm_a_bytes(int64_t m, int64_t k);
/*! @return bytes of nnp_qgemm_pack_b()'s output for B (k, n). */
size_t nnp_qgemm_b_bytes(int64_t k, int64_t n);
/*! nnp_qgemm_pack_a() : A (m, k), byte (i, p) at a[i*rs + p*cs], XORed with flip, into
 *  panels (the layout above); padding zero. */
void nnp_qgemm_pack_a(const uint8_t *a, int64_t rs, int64_t cs, int64_t m, int64_t k,
                      uint8_t flip, uint8_t *dst);
/*! @return the row stride (lda) of nnp_qgemm_pack_a_rows()'s output: k padded to 64. */
int64_t nnp_qgemm_a_rows_lda(int64_t k);
/*! @return bytes of nnp_qgemm_pack_a_rows()'s output: m + 16 rows of lda. */
size_t nnp_qgemm_a_rows_bytes(int64_t m, int64_t k);
/*! nnp_qgemm_pack_a_rows() : A (m, k), row i at a + i*rs, XORed with flip, into rows of
 *  lda bytes, k padded with zeros and 16 zero rows after the last (AMX reads 16 rows
 *  and 64 k at a time). */
void nnp_qgemm_pack_a_rows(const uint8_t *a, int64_t rs, int64_t m, int64_t k, uint8_t flip,
                           uint8_t *dst);
/*! nnp_qgemm_pack_b() : B (k, n), byte (p, j) at b[p*rs + j*cs], XORed with flip, into
 *  panels; padding zero. */
void nnp_qgemm_pack_b(const uint8_t *b, int64_t rs, int64_t cs, int64_t k, int64_t n,
                      uint8_t flip, uint8_t *dst);
/*! nnp_qgemm_interleave4() : dst[4*t + c] = rows[c*rs + t] ^ flip for t < n, c < 4: four
 *  rows (channels) into the lanes b_koff reads. Each row is read 16 bytes at a time:
 *  with n < 16, 16 bytes of it must be readable. */
void nnp_qgemm_interleave4(const uint8_t *rows, int64_t rs, int64_t n, uint8_t flip,
                           uint8_t *dst);

/*! nnp_qgemm_block() : rows [m0, m1) x columns [n0, n1) of C (m0 a multiple of MR, n0
 *  of NR), on the calling thread. */
void nnp_qgemm_block(enum nnp_qisa isa, const struct nnp_qgemm *g, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1);

#endif
