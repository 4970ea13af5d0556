/* kernels/threads.h — the runtime's own thread pool: kernels split their work
 * across it; OpenBLAS stays at one thread.
 *
 *     struct nnp_pool *pool = nnp_pool_new(2);      // the caller + 1 worker
 *     nnp_parallel_for(pool, n_images, conv_images, &ctx);
 *     // conv_images(ctx, begin, end, tid) ran once per thread on [begin, end)
 *     nnp_pool_free(pool);
 *
 * Why a pool of our own and OpenBLAS pinned to one thread: a threaded OpenBLAS
 * call inside a parallel region, or OpenBLAS's threads spinning on the same two
 * cores as ours, cost 6x in one measurement (PERF-NOTES.md). Each worker calls
 * single-threaded cblas_sgemm on its own slice instead; OpenBLAS 0.3.21's
 * pthread build is safe for concurrent single-threaded calls (tested in
 * tests/unit/test_ops_math.c, also under ASan).
 *
 * The split is static: [0, n) in contiguous chunks, chunk t to thread t (the
 * caller is thread 0). So which thread computes an element never changes the
 * arithmetic, only where it runs. Workers spin briefly after a job (kernels
 * follow each other within microseconds), then sleep on a condition variable.
 */
#ifndef NNP_THREADS_H
#define NNP_THREADS_H

#include <stdint.h>

struct nnp_pool;

/* One thread's share: the items [begin, end), run on thread `tid` (0 = the caller). */
typedef void (*nnp_task_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/*! nnp_pool_new() : a pool of `threads` threads, the caller counted (threads - 1 workers
 *  are started). @return the pool, or NULL when threads <= 1 or no thread could be made
 *  (a NULL pool runs everything on the caller). Free with nnp_pool_free(). */
struct nnp_pool *nnp_pool_new(int threads);
/*! Stops the workers and frees the pool; accepts NULL. */
void nnp_pool_free(struct nnp_pool *pool);
/*! @return the pool's thread count, 1 for NULL. */
int nnp_pool_threads(const struct nnp_pool *pool);

/*! nnp_parallel_for() : split [0, n) into min(n, threads) contiguous chunks and run
 *  fn on each, one per thread, returning when all are done. Runs fn(ctx, 0, n, 0)
 *  on the caller when pool is NULL, n < 2, or when called from inside a job. */
void nnp_parallel_for(struct nnp_pool *pool, int64_t n, nnp_task_fn fn, void *ctx);

#endif
