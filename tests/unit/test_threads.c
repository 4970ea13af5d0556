/* tests/unit/test_threads.c — the runtime's thread pool under back-to-back jobs,
 * the pattern of a network of small kernels. A worker that wakes late for a job
 * that already ended must neither run stale work nor trip the next job. */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <time.h>

#include "kernels/threads.h"

static void count_items(void *ctx, int64_t begin, int64_t end, int tid)
{
    (void)tid;
    atomic_fetch_add((atomic_llong *)ctx, end - begin);
}

Test(threads, back_to_back_small_jobs)
{
    struct nnp_pool *p = nnp_pool_new(2);
    cr_assert_not_null(p);
    atomic_llong total = 0;
    long long want = 0;
    for (int i = 0; i < 200000; i++) {
        int64_t n = 2 + i % 3;
        nnp_parallel_for(p, n, count_items, &total);
        want += n;
        if (i % 5000 == 0) { /* let the workers fall asleep now and then */
            struct timespec ts = {0, 300000};
            nanosleep(&ts, NULL);
        }
    }
    cr_assert_eq(atomic_load(&total), want);
    nnp_pool_free(p);
}
