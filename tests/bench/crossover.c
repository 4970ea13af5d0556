/* tests/bench/crossover.c — where handing work to the second thread starts to pay.
 *
 *     cc -O2 -I. -Ibuild/gen tests/bench/crossover.c build/libnnpress.a -lopenblas -lm \
 *        -lpthread -o build/bench/crossover && build/bench/crossover
 *
 * Prints the round trip of an empty job through the runtime's pool (kernels/threads.c)
 * and, for matrix products of growing size (the shape of a convolution layer: 64 rows,
 * 576 deep, a growing number of columns), the time on one thread and on two, split
 * as kernels/simd/gemm.c splits them. The smallest product two threads run faster is the
 * bound below which gemm.c keeps work on the caller (GEMM_PAR_MIN_MACS); make bench
 * prints this so that the bound is checked on the machine the figures come from.
 * Times are medians of many runs on the monotonic clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/simd/gemm.h"
#include "kernels/threads.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void nothing(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)ctx, (void)begin, (void)end, (void)tid;
}

struct product {
    struct nnp_gemm g;
};

static void unit(const void *ctx, int64_t u, int tid, struct nnp_gemm *g)
{
    (void)tid;
    (void)u;
    *g = ((const struct product *)ctx)->g;
}

#define RUNS 301

/* median microseconds of `runs` products on `pool` (NULL: one thread), with the split
 * forced on: the pool's own bound is what is being measured */
static double time_product(struct nnp_pool *pool, const struct product *p, uint8_t *scratch,
                           size_t slice)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_us();
        if (pool)
            nnp_gemm_units_split(pool, 1, p->g.m, p->g.n, p->g.k, unit, p, scratch, slice);
        else
            nnp_gemm_block(&p->g, 0, p->g.m, 0, p->g.n, scratch);
        t[r] = now_us() - t0;
    }
    qsort(t, RUNS, sizeof *t, by_value);
    return t[RUNS / 2];
}

int main(void)
{
    struct nnp_pool *pool = nnp_pool_new(2);
    if (!pool) {
        fprintf(stderr, "crossover: no second thread\n");
        return 1;
    }
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_us();
        nnp_parallel_for(pool, 2, nothing, NULL);
        t[r] = now_us() - t0;
    }
    qsort(t, RUNS, sizeof *t, by_value);
    printf("pool: an empty job on two threads takes %.2f us (median)\n", t[RUNS / 2]);

    const int64_t m = 64, k = 576;
    float *a = aligned_alloc(64, nnp_gemm_a_floats(m, k) * sizeof(float));
    float *b = aligned_alloc(64, (size_t)k * 4096 * sizeof(float));
    float *c = aligned_alloc(64, (size_t)m * 4096 * sizeof(float));
    size_t slice = (nnp_gemm_scratch_bytes(0) + 63) / 64 * 64;
    uint8_t *scratch = aligned_alloc(64, 2 * slice);
    if (!a || !b || !c || !scratch)
        return 1;
    for (size_t i = 0; i < nnp_gemm_a_floats(m, k); i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * 4096; i++)
        b[i] = (float)(i % 5) * 0.1f;
    double first = 0;
    for (int64_t n = 2; n <= 4096; n *= 2) {
        struct product p = {{.m = m, .n = n, .k = k, .a = a, .a_packed = true, .b = b, .ldb = n,
                             .c = c, .ldc = n, .epi = {.scale = 1}}};
        double one = time_product(NULL, &p, scratch, slice);
        double two = time_product(pool, &p, scratch, slice);
        double macs = (double)m * (double)n * (double)k;
        printf("product %3ldx%4ldx%ld (%8.0f multiply-adds): 1 thread %8.2f us, 2 threads %8.2f "
               "us%s\n", (long)m, (long)n, (long)k, macs, one, two,
               two < one && !first ? "  <- two threads first faster" : "");
        if (two < one && !first)
            first = macs;
    }
    printf("crossover: %.0f multiply-adds (gemm.c keeps products below %d on one thread)\n",
           first, nnp_gemm_par_min_macs());
    nnp_pool_free(pool);
    free(a), free(b), free(c), free(scratch);
    return 0;
}
