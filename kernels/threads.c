/* kernels/threads.c — the runtime's thread pool (see threads.h).
 *
 * One job at a time: the caller publishes (fn, ctx, n), bumps `gen` and wakes
 * the workers; every thread takes items from `left` until none are left (the
 * caller from its front, the workers from its back), and
 * the caller returns once `done_items` reaches n (the thread finishing the last
 * item wakes it). Workers that arrive after the last item was taken leave
 * without touching the job. A worker that finished spins on `gen` for WORKER_SPIN_NS
 * before it sleeps: a network's kernels follow each other within a few
 * microseconds, and a condition-variable wake-up costs about as much as a
 * small kernel. The spin is bounded so that an idle runtime costs nothing.
 */
#include "kernels/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/status.h"

/* How long a worker polls for the next job before it sleeps, and the caller for
 * the workers to finish before it sleeps. Both far below a scheduler tick. */
#define WORKER_SPIN_NS 100000
#define CALLER_SPIN_NS 1000000

struct pool_worker {
    struct nnp_pool *pool;
    int tid; /* 1..threads-1 */
};

struct nnp_pool {
    int threads;                 /* the caller counted */
    int n_started;               /* workers running */
    pthread_t *tids;             /* (threads - 1) */
    struct pool_worker *workers; /* (threads - 1) */
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* workers: gen moved or stop */
    pthread_cond_t done;      /* caller: every item finished */
    atomic_uint_fast64_t gen; /* jobs published so far */
    atomic_bool active;       /* the job of `gen` is still taking items */
    atomic_int refs;          /* workers inside the current job (reading fn, ctx, n) */
    atomic_uint_fast64_t left; /* items not yet handed out: [left >> 32, left & 0xffffffff) */
    atomic_int_fast64_t done_items;
    bool stop; /* under mu */
    /* the current job, written while no worker is inside one (refs == 0, !active) */
    nnp_task_fn fn;
    void *ctx;
    int64_t n;
};

/* Set on workers, and on the caller while it runs items: a nested parallel_for runs
 * serially instead of waiting for threads that are busy with the outer job. */
static _Thread_local bool in_job;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* the next item for thread tid, or -1: the caller takes them from the front, the
 * workers from the back, so that each thread keeps to one end of the job, layer after
 * layer (the columns or channels it wrote are the ones it reads next, from its own
 * cache), and the two ends meet wherever the threads' speeds put them */
static int64_t take_item(struct nnp_pool *p, int tid)
{
    uint_fast64_t r = atomic_load(&p->left);
    for (;;) {
        uint_fast64_t lo = r >> 32, hi = r & 0xffffffffu;
        if (lo >= hi)
            return -1;
        uint_fast64_t next = tid == 0 ? (lo + 1) << 32 | hi : lo << 32 | (hi - 1);
        if (atomic_compare_exchange_weak(&p->left, &r, next))
            return tid == 0 ? (int64_t)lo : (int64_t)hi - 1;
    }
}

/* take items one at a time until none are left: a thread the scheduler delays (the
 * machine is shared) leaves its items to the others instead of holding everyone up */
static void run_items(struct nnp_pool *p, int tid)
{
    for (;;) {
        int64_t i = take_item(p, tid);
        if (i < 0)
            return;
        p->fn(p->ctx, i, i + 1, tid);
        if (atomic_fetch_add(&p->done_items, 1) + 1 == p->n && tid != 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker_main(void *arg)
{
    struct pool_worker *w = arg;
    struct nnp_pool *p = w->pool;
    uint_fast64_t seen = 0;
    in_job = true;
    for (;;) {
        /* wait for a new generation: spin a little, then sleep */
        int64_t t0 = now_ns();
        for (int i = 0; atomic_load(&p->gen) == seen; i++) {
            cpu_relax();
            if ((i & 63) == 63 && now_ns() - t0 > WORKER_SPIN_NS)
                break;
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->gen) == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        seen = atomic_load(&p->gen);
        /* join the job unless it is over already (the caller may have finished every
         * item while this thread was waking): then the job's fields may be rewritten
         * at any time, and only a thread counted in refs may read them */
        atomic_fetch_add(&p->refs, 1);
        if (atomic_load(&p->gen) == seen && atomic_load(&p->active))
            run_items(p, w->tid);
        atomic_fetch_sub(&p->refs, 1);
    }
}

struct nnp_pool *nnp_pool_new(int threads)
{
    if (threads <= 1)
        return NULL;
    struct nnp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads;
    p->tids = calloc((size_t)threads, sizeof *p->tids);
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    if (!p->tids || !p->workers || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->tids);
        free(p->workers);
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->active, false);
    atomic_init(&p->refs, 0);
    atomic_init(&p->left, 0);
    atomic_init(&p->done_items, 0);
    for (int t = 1; t < threads; t++) {
        p->workers[t - 1] = (struct pool_worker){p, t};
        if (pthread_create(&p->tids[t - 1], NULL, worker_main, &p->workers[t - 1]) != 0)
            break;
        p->n_started++;
    }
    if (p->n_started == 0) {
        nnp_pool_free(p);
        return NULL;
    }
    p->threads = p->n_started + 1; /* fewer if the system refused some */
    return p;
}

void nnp_pool_free(struct nnp_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->n_started; t++)
        pthread_join(p->tids[t], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p->workers);
    free(p);
}

int nnp_pool_threads(const struct nnp_pool *p)
{
    return p ? p->threads : 1;
}

void nnp_parallel_for(struct nnp_pool *p, int64_t n, nnp_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!p || n < 2 || in_job || n > (int64_t)UINT32_MAX) { /* (left holds 32-bit ends) */
        fn(ctx, 0, n, 0);
        return;
    }
    NNP_ASSERT(!atomic_load(&p->active)); /* one job at a time */
    /* A worker that woke for the previous job after it ended may hold a reference for a
     * moment: it finds the job inactive and lets go without reading the fields, which
     * are rewritten below only once no worker is inside. */
    while (atomic_load(&p->refs) != 0)
        cpu_relax();
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->left, (uint_fast64_t)n); /* [0, n) */
    atomic_store(&p->done_items, 0);
    atomic_store(&p->active, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    in_job = true;
    run_items(p, 0);
    in_job = false;

    /* wait for the items the workers took, not for workers that took none: a worker the
     * scheduler has not run yet must not hold the caller up */
    int64_t t0 = now_ns();
    for (int i = 0; atomic_load(&p->done_items) != n; i++) {
        cpu_relax();
        if ((i & 63) == 63 && now_ns() - t0 > CALLER_SPIN_NS)
            break;
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->done_items) != n)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    /* retire the job; a worker between joining and checking `active` leaves at once */
    atomic_store(&p->active, false);
    while (atomic_load(&p->refs) != 0)
        cpu_relax();
}
