/* kernels/threads.h — the runtime's own thread pool: kernels split their work
 * across it; OpenBLAS stays at one thread.
 *
 *     struct nnp_pool *pool = nnp_pool_new(2);      // the caller + 1 worker
 *     nnp_parallel_for(pool, n_blocks, conv_block, &ctx);
 *     // conv_block(ctx, i, i + 1, tid) ran once for each i < n_blocks, on some thread
 *     nnp_pool_free(pool);
 *
 * Why a pool of our own and OpenBLAS pinned to one thread: a threaded OpenBLAS
 * call inside a parallel region, or OpenBLAS's threads spinning on the same two
 * cores as ours, cost 6x in one measurement (PERF-NOTES.md). Each worker calls
 * single-threaded cblas_sgemm on its own slice instead; OpenBLAS 0.3.21's
 * pthread build is safe for concurrent single-threaded calls (tested in
 * tests/unit/test_ops_math.c, also under ASan).
 *
 * Items are handed out one at a time to whichever thread is free (the caller is
 * thread 0 and works too): on a shared machine a thread the scheduler delays
 * leaves its share to the other instead of holding the job up. The caller takes
 * them from the first, the workers from the last: with two threads each keeps to
 * its end of every job, so that what one layer wrote on a core the next layer
 * mostly reads on the same core. A kernel whose
 * items each compute the same arithmetic whatever thread runs them (each its own
 * output, `tid` choosing only a scratch slice) gives results identical to one
 * thread. Workers spin briefly after a job (kernels follow each other within
 * microseconds), then sleep on a condition variable.
 */
#ifndef NNP_THREADS_H
#define NNP_THREADS_H

#include <stdint.h>

struct nnp_pool;

/* Items [begin, end) (one at a time: end = begin + 1, or all of them when run on the
 * caller alone), run on thread `tid` (0 = the caller, < nnp_pool_threads()). */
typedef void (*nnp_task_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/*! nnp_pool_new() : a pool of `threads` threads, the caller counted (threads - 1 workers
 *  are started). @return the pool, or NULL when threads <= 1 or no thread could be made
 *  (a NULL pool runs everything on the caller). Free with nnp_pool_free(). */
struct nnp_pool *nnp_pool_new(int threads);
/*! Stops the workers and frees the pool; accepts NULL. */
void nnp_pool_free(struct nnp_pool *pool);
/*! @return the pool's thread count, 1 for NULL. */
int nnp_pool_threads(const struct nnp_pool *pool);

/*! nnp_parallel_for() : run fn on every item of [0, n), spread over the pool's threads,
 *  returning when all are done. Runs fn(ctx, 0, n, 0) on the caller when pool is NULL,
 *  n < 2, or when called from inside a job. Not for two callers at once. */
void nnp_parallel_for(struct nnp_pool *pool, int64_t n, nnp_task_fn fn, void *ctx);

#endif
