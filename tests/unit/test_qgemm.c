/* tests/unit/test_qgemm.c — the int8 matrix product (kernels/simd/qgemm.c) against
 * sums taken here from the unpacked operands, to the bit, on every ISA the CPU runs.
 *
 * Odd shapes (k not a multiple of 4, m and n not of the tile), both signedness
 * orders, per-row and per-column parameters, int8 and uint8 outputs with a Relu's
 * clamp, large sums (all bytes at their extremes) and blocks that start inside the
 * product. Outside the block C keeps its poison. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/simd/qgemm.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t urand32(void)
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng >> 32);
}

struct qcase {
    int64_t m, n, k;
    bool a_signed, per_col, out_i8, relu, extreme;
    bool float_out; /* C as float: the dequantized sums */
    bool rows_a;    /* the scalar code reading A in rows (AMX's layout) */
};

/* the epilogue as qgemm.h states it */
static uint8_t want_of(const struct nnp_qgemm *g, int64_t ch, int64_t acc)
{
    int32_t v = (int32_t)(uint32_t)((uint64_t)acc + (uint64_t)(int64_t)g->off[ch]);
    float f = (float)v * g->mul[ch];
    float lo = (float)(g->lo - g->zp), hi = (float)(g->hi - g->zp);
    f = f < lo ? lo : f > hi ? hi : f;
    return (uint8_t)((int32_t)nearbyintf(f) + g->zp);
}

static void run_case(enum nnp_qisa isa, const struct qcase *qc, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1)
{
    int64_t m = qc->m, n = qc->n, k = qc->k;
    uint8_t *a = malloc((size_t)(m * k)), *b = malloc((size_t)(k * n));
    for (int64_t t = 0; t < m * k; t++)
        a[t] = qc->extreme ? (qc->a_signed ? 0x80 : 0xFF) : (uint8_t)urand32();
    for (int64_t t = 0; t < k * n; t++)
        b[t] = qc->extreme ? (qc->a_signed ? 0xFF : 0x80) : (uint8_t)urand32();
    /* AMX reads A in rows (and the scalar code does too, tested with rows_a) */
    bool rows = isa == NNP_QISA_AMX || (isa == NNP_QISA_SCALAR && qc->rows_a);
    size_t abytes = rows ? nnp_qgemm_a_rows_bytes(m, k) : nnp_qgemm_a_bytes(m, k);
    uint8_t *ap = aligned_alloc(64, (abytes + 63) / 64 * 64);
    uint8_t *bp = aligned_alloc(64, (nnp_qgemm_b_bytes(k, n) + 63) / 64 * 64);
    if (rows)
        nnp_qgemm_pack_a_rows(a, k, m, k, 0, ap);
    else
        nnp_qgemm_pack_a(a, k, 1, m, k, 0, ap);
    nnp_qgemm_pack_b(b, n, 1, k, n, 0, bp);
    int64_t nch = qc->per_col ? n : m;
    int32_t *off = malloc((size_t)nch * sizeof *off);
    float *mul = malloc((size_t)nch * sizeof *mul);
    for (int64_t c = 0; c < nch; c++) {
        off[c] = (int32_t)(urand32() % 20001) - 10000;
        mul[c] = (float)(urand32() % 1000 + 1) / (qc->extreme ? 1e7f : 3e4f * (float)k);
    }
    struct nnp_qgemm g = {.m = m, .n = n, .k = k, .a = ap, .b = bp, .a_signed = qc->a_signed,
                          .lda = rows ? nnp_qgemm_a_rows_lda(k) : 0, .off = off, .mul = mul, .per_col = qc->per_col, .ldc = n + 3};
    g.zp = qc->out_i8 ? -5 : 131;
    g.lo = qc->relu ? g.zp : qc->out_i8 ? -128 : 0;
    g.hi = qc->out_i8 ? 127 : 255;
    uint8_t *c = malloc((size_t)(m * g.ldc));
    memset(c, 0xA5, (size_t)(m * g.ldc));
    g.c = c;
    float *cf = malloc((size_t)(m * g.ldc) * sizeof *cf);
    memset(cf, 0xA5, (size_t)(m * g.ldc) * sizeof *cf);
    if (qc->float_out)
        g.cf = cf;
    float *am = malloc((size_t)nch * sizeof *am), *aa = malloc((size_t)nch * sizeof *aa);
    for (int64_t t = 0; t < nch; t++) {
        am[t] = (float)(urand32() % 2000) / 1000.0f - 1.0f;
        aa[t] = (float)(urand32() % 2000) / 4000.0f - 0.25f;
    }
    if (qc->float_out && qc->a_signed) { /* a fused BatchNormalization */
        g.cf_mul = am;
        g.cf_add = aa;
    }
    if (qc->float_out && qc->relu) { /* a fused Relu (out_i8: a Clip) */
        g.cf_clamp = true;
        g.cf_lo = qc->out_i8 ? -0.5f : 0.0f;
        g.cf_hi = qc->out_i8 ? 0.7f : INFINITY;
    }
    nnp_qgemm_block(isa, &g, m0, m1, n0, n1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < g.ldc; j++) {
            uint8_t got = c[i * g.ldc + j];
            uint32_t gotf;
            memcpy(&gotf, cf + i * g.ldc + j, 4);
            if (i < m0 || i >= m1 || j < n0 || j >= n1 || qc->float_out)
                cr_assert_eq(got, 0xA5, "%s: wrote outside the block at (%ld, %ld)",
                             nnp_qisa_name(isa), (long)i, (long)j);
            if (i < m0 || i >= m1 || j < n0 || j >= n1 || !qc->float_out)
                cr_assert_eq(gotf, 0xA5A5A5A5u, "%s: float C written at (%ld, %ld)",
                             nnp_qisa_name(isa), (long)i, (long)j);
            if (i < m0 || i >= m1 || j < n0 || j >= n1)
                continue;
            int64_t acc = 0;
            for (int64_t p = 0; p < k; p++) {
                int32_t av = qc->a_signed ? (int8_t)a[i * k + p] : a[i * k + p];
                int32_t bv = qc->a_signed ? b[p * n + j] : (int8_t)b[p * n + j];
                acc += av * bv;
            }
            int64_t ch = qc->per_col ? j : i;
            if (qc->float_out) {
                int32_t v = (int32_t)(uint32_t)((uint64_t)acc + (uint64_t)(int64_t)g.off[ch]);
                float wf = (float)v * g.mul[ch];
                if (g.cf_mul)
                    wf = wf * g.cf_mul[ch] + g.cf_add[ch];
                if (g.cf_clamp) {
                    wf = g.cf_lo > wf ? g.cf_lo : wf;
                    wf = g.cf_hi < wf ? g.cf_hi : wf;
                }
                cr_assert(memcmp(&wf, cf + i * g.ldc + j, 4) == 0,
                          "%s: float (%ld, %ld) = %g, expected %g", nnp_qisa_name(isa), (long)i,
                          (long)j, (double)cf[i * g.ldc + j], (double)wf);
                continue;
            }
            uint8_t want = want_of(&g, ch, acc);
            cr_assert_eq(got, want,
                         "%s: m %ld n %ld k %ld a_signed %d per_col %d: (%ld, %ld) = %d, "
                         "expected %d", nnp_qisa_name(isa), (long)m, (long)n, (long)k,
                         qc->a_signed, qc->per_col, (long)i, (long)j, got, want);
        }
    free(a), free(b), free(ap), free(bp), free(off), free(mul), free(c), free(cf), free(am),
        free(aa);
}

Test(qgemm, every_isa_matches_the_sums_to_the_bit)
{
    static const int64_t ms[] = {1, 2, 3, 5, 8, 9, 17};
    static const int64_t ns[] = {1, 7, 16, 48, 49, 100};
    static const int64_t ks[] = {1, 3, 4, 5, 64, 131};
    int ran = 0;
    for (int isa = 0; isa < NNP_QISA_COUNT; isa++) {
        if (!nnp_qisa_supported((enum nnp_qisa)isa))
            continue;
        ran++;
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
                    int v = (int)(a + b + c);
                    struct qcase qc = {ms[a], ns[b], ks[c], v & 1, (v >> 1) & 1, (v >> 2) & 1,
                                       (v % 3) == 0, false, (v % 5) == 1, (v % 7) < 3};
                    run_case((enum nnp_qisa)isa, &qc, 0, qc.m, 0, qc.n);
                }
    }
    cr_assert_geq(ran, 1);
}

Test(qgemm, blocks_inside_the_product_and_extreme_sums)
{
    for (int isa = 0; isa < NNP_QISA_COUNT; isa++) {
        if (!nnp_qisa_supported((enum nnp_qisa)isa))
            continue;
        struct qcase qc = {21, 101, 37, true, false, false, false, false, false, false};
        run_case((enum nnp_qisa)isa, &qc, 8, 19, 48, 97);
        qc.a_signed = false;
        qc.per_col = true;
        run_case((enum nnp_qisa)isa, &qc, 16, 21, 0, 50);
        /* rows past one block of AMX_CHUNK tiles, k past one block of steps */
        struct qcase big = {70, 100, 600, false, true, false, false, false, false, true};
        run_case((enum nnp_qisa)isa, &big, 0, big.m, 0, big.n);
        run_case((enum nnp_qisa)isa, &big, 8, 69, 48, 99);
        for (int s = 0; s < 2; s++) { /* 4096 x 255 x -128: sums near -2^27 */
            struct qcase ex = {9, 50, 4096, s, s, !s, false, true, s, !s};
            run_case((enum nnp_qisa)isa, &ex, 0, ex.m, 0, ex.n);
        }
    }
}

Test(qgemm, packing_flips_and_pads)
{
    /* int8 read as uint8 + 128: pack with flip 0x80; pads stay 0 */
    uint8_t src[3 * 5], dst[(2 + 16) * 48 * 4];
    for (int t = 0; t < 15; t++)
        src[t] = (uint8_t)(t * 17);
    cr_assert_eq(nnp_qgemm_b_bytes(5, 3), sizeof dst); /* (16 groups of slack for AMX) */
    nnp_qgemm_pack_b(src, 3, 1, 5, 3, 0x80, dst);
    for (int p = 0; p < 8; p++)
        for (int j = 0; j < 48; j++) {
            uint8_t want = p < 5 && j < 3 ? (uint8_t)(src[p * 3 + j] ^ 0x80) : 0;
            cr_assert_eq(dst[(p / 4) * 192 + j * 4 + p % 4], want, "(%d, %d)", p, j);
        }
}

/* B read in place (b_koff): the 4 k of group s for column j at b + (koff[s] + j) * 4 */
Test(qgemm, b_read_in_place_through_offsets)
{
    for (int isa = 0; isa < NNP_QISA_COUNT; isa++) {
        if (!nnp_qisa_supported((enum nnp_qisa)isa))
            continue;
        for (int as = 0; as < 2; as++) {
            int64_t m = 13, n = 70, k = 35, k4 = 9, lanes = 400;
            uint8_t *a = malloc((size_t)(m * k)), *blk = malloc((size_t)(lanes * 4));
            for (int64_t t = 0; t < m * k; t++)
                a[t] = (uint8_t)urand32();
            for (int64_t t = 0; t < lanes * 4; t++)
                blk[t] = (uint8_t)urand32();
            int32_t koff[9];
            for (int s = 0; s < 9; s++) /* up to lanes - 96: a tile reads 48 past j0 */
                koff[s] = (int32_t)(urand32() % (uint32_t)(lanes - 96 - 48));
            uint8_t *ap = aligned_alloc(64, (nnp_qgemm_a_bytes(m, k) + 63) / 64 * 64);
            nnp_qgemm_pack_a(a, k, 1, m, k, 0, ap);
            int32_t off[13];
            float mul[13];
            for (int i = 0; i < 13; i++) {
                off[i] = (int32_t)(urand32() % 2001) - 1000;
                mul[i] = 1.0f / 3000.0f;
            }
            uint8_t c[13 * 70];
            struct nnp_qgemm g = {.m = m, .n = n, .k = k, .a = ap, .b = blk, .b_koff = koff,
                                  .a_signed = as, .off = off, .mul = mul, .zp = 3, .lo = 0,
                                  .hi = 255, .c = c, .ldc = n};
            nnp_qgemm_block((enum nnp_qisa)isa, &g, 0, m, 0, n);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t acc = 0;
                    for (int64_t p = 0; p < k; p++) {
                        uint8_t bb = blk[(koff[p / 4] + j) * 4 + p % 4];
                        int32_t av = as ? (int8_t)a[i * k + p] : a[i * k + p];
                        int32_t bv = as ? bb : (int8_t)bb;
                        acc += av * bv;
                    }
                    cr_assert_eq(c[i * n + j], want_of(&g, i, acc), "%s a_signed %d (%ld, %ld)",
                                 nnp_qisa_name((enum nnp_qisa)isa), as, (long)i, (long)j);
                }
            (void)k4;
            free(a), free(blk), free(ap);
        }
    }
}

/* B read in place by tiles (AMX, and the scalar code): group 16 t + r of column j at
 * b + (b_tile[t] + r * stride + j) * 4; the groups past k read, times A's zeros */
Test(qgemm, b_read_in_place_by_tiles)
{
    static const enum nnp_qisa isas[] = {NNP_QISA_SCALAR, NNP_QISA_AMX};
    for (size_t v = 0; v < 2; v++) {
        enum nnp_qisa isa = isas[v];
        if (!nnp_qisa_supported(isa))
            continue;
        for (int as = 0; as < 2; as++) {
            int64_t m = 37, n = 70, k = as ? 128 : 100, stride = 150, lanes = 3 * 16 * 150;
            uint8_t *a = malloc((size_t)(m * k)), *blk = malloc((size_t)(lanes * 4));
            for (int64_t t = 0; t < m * k; t++)
                a[t] = (uint8_t)urand32();
            for (int64_t t = 0; t < lanes * 4; t++)
                blk[t] = (uint8_t)urand32();
            int32_t tile[2] = {(int32_t)(urand32() % 100), (int32_t)(16 * 150 + urand32() % 100)};
            uint8_t *ap = aligned_alloc(64, (nnp_qgemm_a_rows_bytes(m, k) + 63) / 64 * 64);
            nnp_qgemm_pack_a_rows(a, k, m, k, 0, ap);
            int32_t off[37];
            float mul[37];
            for (int i = 0; i < 37; i++) {
                off[i] = (int32_t)(urand32() % 2001) - 1000;
                mul[i] = 1.0f / 3000.0f;
            }
            uint8_t c[37 * 70];
            struct nnp_qgemm g = {.m = m, .n = n, .k = k, .a = ap, .lda = nnp_qgemm_a_rows_lda(k),
                                  .b = blk, .b_tile = tile, .b_tile_stride = stride,
                                  .a_signed = as, .off = off, .mul = mul, .zp = 3, .lo = 0,
                                  .hi = 255, .c = c, .ldc = n};
            nnp_qgemm_block(isa, &g, 0, m, 0, n);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t acc = 0;
                    for (int64_t p = 0; p < k; p++) {
                        int64_t s = p / 4;
                        uint8_t bb = blk[(tile[s / 16] + s % 16 * stride + j) * 4 + p % 4];
                        int32_t av = as ? (int8_t)a[i * k + p] : a[i * k + p];
                        int32_t bv = as ? bb : (int8_t)bb;
                        acc += av * bv;
                    }
                    cr_assert_eq(c[i * n + j], want_of(&g, i, acc), "%s a_signed %d (%ld, %ld)",
                                 nnp_qisa_name(isa), as, (long)i, (long)j);
                }
            free(a), free(blk), free(ap);
        }
    }
}
