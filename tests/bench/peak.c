/* tests/bench/peak.c — the machine's fp32 FMA peak, measured, for `make bench`.
 *
 *   cc -std=c11 -O2 -pthread -o peak tests/bench/peak.c && ./peak [--avx2] [THREADS...]
 *   {"isa": "avx512f", "chains": 16, "gflops": {"1": 223.4, "2": 446.1}}
 *
 * For each thread count given (default 1 and 2), every thread runs the same
 * number of iterations of CHAINS independent FMA chains (acc = acc * a + b,
 * one vector register each), so that the FMA units never wait on a result;
 * GFLOP/s = 2 flops x lanes x chains x iterations x threads / wall time. The
 * best of TRIALS trials is kept: a ceiling is what the machine can do when
 * nobody else is using it, and other work on a shared host only ever lowers it.
 * It takes about a second.
 *
 * AVX-512 (16 lanes, 16 chains of the 32 registers) when the CPU has it, else
 * AVX2 + FMA (8 lanes, 12 chains of the 16 registers, two left for a and b);
 * chosen at run time, so one -O2 build runs anywhere (--avx2 forces the
 * fallback, to try it on a CPU with AVX-512). A CPU with neither is an
 * error (exit 1). The chain counts cover a latency of 4-6 cycles on 2 FMA pipes.
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Many short trials rather than a few long ones: on a shared host a trial of a
 * few milliseconds often fits between two other tasks' time slices, and the
 * barrier that starts one costs microseconds. */
enum { TRIALS = 60, MAX_THREADS = 256 };
static const double TRIAL_S = 0.005;

/* a < 1 and b small: every chain converges to b / (1 - a) = 0.1 and never
 * reaches overflow or denormals, which would slow the FMA units down */
static const float A = 0.999f, B = 1e-4f;

__attribute__((target("avx512f"))) static float fma_avx512(long n)
{
    __m512 a = _mm512_set1_ps(A), b = _mm512_set1_ps(B);
    /* distinct start values, or the compiler merges equal chains into one */
    __m512 c0 = _mm512_set1_ps(1e-2f), c1 = _mm512_set1_ps(2e-2f), c2 = _mm512_set1_ps(3e-2f),
           c3 = _mm512_set1_ps(4e-2f), c4 = _mm512_set1_ps(5e-2f), c5 = _mm512_set1_ps(6e-2f),
           c6 = _mm512_set1_ps(7e-2f), c7 = _mm512_set1_ps(8e-2f), c8 = _mm512_set1_ps(9e-2f),
           c9 = _mm512_set1_ps(10e-2f), c10 = _mm512_set1_ps(11e-2f), c11 = _mm512_set1_ps(12e-2f),
           c12 = _mm512_set1_ps(13e-2f), c13 = _mm512_set1_ps(14e-2f), c14 = _mm512_set1_ps(15e-2f),
           c15 = _mm512_set1_ps(16e-2f);
    for (long i = 0; i < n; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b);
        c1 = _mm512_fmadd_ps(c1, a, b);
        c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b);
        c4 = _mm512_fmadd_ps(c4, a, b);
        c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b);
        c7 = _mm512_fmadd_ps(c7, a, b);
        c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b);
        c10 = _mm512_fmadd_ps(c10, a, b);
        c11 = _mm512_fmadd_ps(c11, a, b);
        c12 = _mm512_fmadd_ps(c12, a, b);
        c13 = _mm512_fmadd_ps(c13, a, b);
        c14 = _mm512_fmadd_ps(c14, a, b);
        c15 = _mm512_fmadd_ps(c15, a, b);
    }
    /* the sum is returned and printed nowhere, but stored: the chains stay live */
    __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                      _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7))),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                      _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long n)
{
    __m256 a = _mm256_set1_ps(A), b = _mm256_set1_ps(B);
    __m256 c0 = _mm256_set1_ps(1e-2f), c1 = _mm256_set1_ps(2e-2f), c2 = _mm256_set1_ps(3e-2f),
           c3 = _mm256_set1_ps(4e-2f), c4 = _mm256_set1_ps(5e-2f), c5 = _mm256_set1_ps(6e-2f),
           c6 = _mm256_set1_ps(7e-2f), c7 = _mm256_set1_ps(8e-2f), c8 = _mm256_set1_ps(9e-2f),
           c9 = _mm256_set1_ps(10e-2f), c10 = _mm256_set1_ps(11e-2f), c11 = _mm256_set1_ps(12e-2f);
    for (long i = 0; i < n; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
    }
    __m256 s =
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)),
                                    _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11))));
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

struct isa {
    const char *name;     /* as printed, and as __builtin_cpu_supports spells it */
    int lanes;            /* floats per vector */
    int chains;           /* independent accumulators in the loop */
    float (*run)(long n); /* n iterations of `chains` FMAs */
};

static const struct isa ISA_AVX512 = {"avx512f", 16, 16, fma_avx512};
static const struct isa ISA_AVX2 = {"avx2", 8, 12, fma_avx2};

/* The threads of one thread count: they run the trials together, each trial
 * started by a barrier so that all of them compute at once. */
struct team {
    const struct isa *isa;
    long n;                    /* iterations per thread and trial */
    pthread_barrier_t barrier; /* one wait before each trial */
};

struct worker {
    struct team *team;
    double t0[TRIALS], t1[TRIALS]; /* when each trial started and ended on this thread, s */
    float result; /* what the chains summed to, kept so that they are not removed */
    pthread_t thread;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int k = 0; k < TRIALS; k++) {
        pthread_barrier_wait(&w->team->barrier);
        w->t0[k] = now_s();
        w->result += w->team->isa->run(w->team->n);
        w->t1[k] = now_s();
    }
    return NULL;
}

/* The best GFLOP/s of TRIALS trials on `threads` threads, a trial lasting from
 * the first thread's start to the last one's end; -1 when a thread cannot be
 * started (the caller exits: the ones started wait at the barrier for ever). */
static double best_gflops(const struct isa *isa, int threads, long n)
{
    static struct worker ws[MAX_THREADS];
    struct team team = {.isa = isa, .n = n};
    if (pthread_barrier_init(&team.barrier, NULL, (unsigned)threads) != 0)
        return -1;
    for (int i = 0; i < threads; i++) {
        ws[i] = (struct worker){.team = &team};
        if (pthread_create(&ws[i].thread, NULL, work, &ws[i]) != 0)
            return -1;
    }
    for (int i = 0; i < threads; i++)
        pthread_join(ws[i].thread, NULL);
    pthread_barrier_destroy(&team.barrier);

    double flops = 2.0 * isa->lanes * isa->chains * (double)n * threads;
    double best = 0;
    for (int k = 0; k < TRIALS; k++) {
        double t0 = ws[0].t0[k], t1 = ws[0].t1[k];
        for (int i = 1; i < threads; i++) {
            t0 = ws[i].t0[k] < t0 ? ws[i].t0[k] : t0;
            t1 = ws[i].t1[k] > t1 ? ws[i].t1[k] : t1;
        }
        if (t1 > t0 && flops / (t1 - t0) / 1e9 > best)
            best = flops / (t1 - t0) / 1e9;
    }
    return best;
}

int main(int argc, char **argv)
{
    int counts[MAX_THREADS]; /* the thread counts to measure, in order */
    int n_counts = 0;
    int force_avx2 = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--avx2") == 0) {
            force_avx2 = 1;
            continue;
        }
        char *end;
        long t = strtol(argv[i], &end, 10);
        if (*argv[i] == '\0' || *end != '\0' || t < 1 || t > MAX_THREADS ||
            n_counts == MAX_THREADS) {
            fprintf(stderr, "peak: error: '%s' is not a thread count from 1 to %d\n", argv[i],
                    MAX_THREADS);
            return 2;
        }
        counts[n_counts++] = (int)t;
    }
    if (n_counts == 0) {
        counts[n_counts++] = 1;
        counts[n_counts++] = 2;
    }

    __builtin_cpu_init();
    const struct isa *isa;
    if (__builtin_cpu_supports("avx512f") && !force_avx2)
        isa = &ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isa = &ISA_AVX2;
    else {
        fprintf(stderr, "peak: error: this CPU has neither AVX-512 nor AVX2 with FMA\n");
        return 1;
    }

    /* iterations for a trial of TRIAL_S on one thread: double until a run takes
     * a quarter of that, then scale (a busy host makes trials shorter, not wrong) */
    long n = 1 << 12;
    double t;
    for (;;) {
        double t0 = now_s();
        volatile float sink = isa->run(n);
        (void)sink;
        t = now_s() - t0;
        if (t >= TRIAL_S / 4)
            break;
        n *= 2;
    }
    n = (long)(n * (TRIAL_S / t));

    printf("{\"isa\": \"%s\", \"chains\": %d, \"gflops\": {", isa->name, isa->chains);
    for (int c = 0; c < n_counts; c++) {
        double g = best_gflops(isa, counts[c], n);
        if (g < 0) {
            fflush(stdout);
            fprintf(stderr, "\npeak: error: cannot start %d threads\n", counts[c]);
            return 1;
        }
        printf("%s\"%d\": %.1f", c ? ", " : "", counts[c], g);
    }
    printf("}}\n");
    return 0;
}
