/* cmd/bench.c — `nnpress bench MODEL [--batch N] [--shape NAME=DIMS] [--dim NAME=N]
 * [--threads T] [--json]`: latency, throughput and memory of the reference runtime on
 * random inputs.
 *
 * The input shapes are the model's with the first dimension bound to --batch, or what
 * --shape and --dim say (cmd/infer.c); a symbolic dimension nothing binds is a usage
 * error, never silently the batch size. Throughput counts the first dimension of the
 * first input as the samples of one run.
 *
 * The inputs are filled once (seeded), the model runs for --warmup seconds,
 * then for --duration seconds (and at least MIN_RUNS times), each run timed on
 * the monotonic clock. Only nnp_runtime_run() is inside the timed region: the
 * plan, like a session in ONNX Runtime, is made once before.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/infer.h"
#include "cmd/model_io.h"
#include "formats/report_json.h"
#include "kernels/metrics.h"
#include "kernels/simd/qgemm.h"

/* Fewer runs than this make p90 and the spread meaningless, however slow the model. */
#define MIN_RUNS 10
/* Above this coefficient of variation the median is not worth comparing. */
#define MAX_CV 0.1

static const struct cli_opt opts[] = {
    {"batch", 'b', "N", "bind the first dimension of every input to N (default 1)", false},
    INFER_SHAPE_OPTS,
    {"threads", 't', "N", "threads to use (default: all cores)", false},
    {"warmup", 0, "S", "run for S seconds before timing (default 0.2)", false},
    {"duration", 0, "S", "time runs for S seconds, at least 10 runs (default 1)", false},
    {"seed", 0, "N", "seed of the random inputs (default 0)", false},
    {"no-fuse", 0, NULL, "run every node on its own (nothing fused into an epilogue)",
     false},
    {"profile", 0, NULL, "time every node: where a run's time goes, by operator and by node", false},
    {"json", 0, NULL, "print the figures as one JSON object", false},
    {0},
};

/* splitmix64: tiny, seedable, and good enough for test inputs. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Float inputs uniform in [0, 1) — the range of scaled pixels; everything else
 * zero, a valid index for any Gather. */
static void fill_random(struct nnp_rt_value *x, uint64_t *state)
{
    if (x->nbytes)
        memset(x->data, 0, x->nbytes);
    for (int64_t i = 0; i < x->numel; i++) {
        float r = (float)(next_random(state) >> 40) * (1.0f / 16777216.0f);
        switch (x->dtype) {
        case NNP_DTYPE_F32: ((float *)x->data)[i] = r; break;
        case NNP_DTYPE_F64: ((double *)x->data)[i] = r; break;
        case NNP_DTYPE_F16: ((uint16_t *)x->data)[i] = nnp_f32_to_f16(r); break;
        case NNP_DTYPE_BF16: ((uint16_t *)x->data)[i] = nnp_f32_to_bf16(r); break;
        default: return;
        }
    }
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static void print_table(const struct nnp_bench_stats *b)
{
    const struct nnp_latency *l = &b->latency;
    printf("%-10s %s\n", "model", b->path);
    printf("%-10s batch %d, threads %d, BLAS core %s, int8 %s, input%s", "config", l->batch,
           l->threads, b->blas, b->int8, b->n_inputs == 1 ? "" : "s");
    for (int i = 0; i < b->n_inputs; i++) {
        struct nnp_tensor t = {.rank = b->inputs[i].rank};
        memcpy(t.dims, b->inputs[i].dims, sizeof t.dims);
        char shape[256];
        printf("%s %s %s", i ? "," : "", b->inputs[i].name,
               nnp_tensor_shape_str(&t, shape, sizeof shape));
    }
    printf("%s\n", b->n_inputs ? "" : " none");
    printf("%-10s %d in %.2f s after %.2f s warmup\n", "runs", l->runs, b->timed_s, b->warmup_s);
    printf("%-10s p50 %.4f ms, p90 %.4f, p95 %.4f, p99 %.4f\n", "latency", l->p50_ms, l->p90_ms,
           l->p95_ms, l->p99_ms);
    printf("%-10s min %.4f ms, mean %.4f, max %.4f, cv %.3f\n", "", l->min_ms, l->mean_ms,
           l->max_ms, l->cv);
    printf("%-10s %.1f samples/s\n", "throughput", l->throughput);
    if (b->flops > 0 && l->p50_ms > 0)
        printf("%-10s %.3f GFLOP per run in matrix operators, %.1f GFLOP/s at p50\n", "work",
               b->flops * 1e-9, b->flops / (l->p50_ms * 1e6));
    if (b->n_fused)
        printf("%-10s %d nodes run with others fused into their epilogue (--json lists "
               "them)\n", "fused", b->n_fused);
    printf("%-10s peak %.2f MiB (%.2f without buffer reuse): activations %.2f MiB (%.2f), "
           "scratch %.2f, weights %.2f\n",
           "memory", mib(b->peak_bytes), mib(b->naive_peak_bytes), mib(b->arena_bytes),
           mib(b->naive_bytes), mib(b->scratch_bytes), mib(b->const_bytes));
}

/* --profile: the time of each operator type and of the slowest nodes, per run */
#define PROFILE_TOP 12

static const char *prof_name(const struct nnp_node *n, char *buf, size_t size)
{
    if (n->name && *n->name)
        return n->name;
    snprintf(buf, size, "%s#%d", n->op_type, n->index);
    return buf;
}

static int by_seconds(const void *a, const void *b)
{
    double x = ((const struct nnp_runtime_node_time *)a)->seconds;
    double y = ((const struct nnp_runtime_node_time *)b)->seconds;
    return (x < y) - (x > y);
}

static void print_profile(struct nnp_runtime *rt, int runs)
{
    int n = nnp_runtime_n_run(rt);
    struct nnp_runtime_node_time *t = calloc((size_t)n + 1, sizeof *t);
    NNP_ASSERT(t);
    double total = 0;
    for (int i = 0; i < n; i++) {
        t[i] = nnp_runtime_node_time(rt, i);
        total += t[i].seconds;
    }
    /* by operator type (a fused node counts as its own op: "Conv+2") */
    printf("%-10s %-22s %8s %6s %9s\n", "profile", "operator", "ms/run", "share", "GFLOP/s");
    bool *done = calloc((size_t)n + 1, sizeof *done);
    NNP_ASSERT(done);
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        double sec = 0, flops = 0;
        int count = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && strcmp(t[j].node->op_type, t[i].node->op_type) == 0) {
                sec += t[j].seconds;
                flops += t[j].flops;
                done[j] = true;
                count++;
            }
        char op[64];
        snprintf(op, sizeof op, "%s x%d", t[i].node->op_type, count);
        printf("%-10s %-22s %8.3f %5.1f%% ", "", op, 1e3 * sec / runs,
               total > 0 ? 100 * sec / total : 0);
        if (flops > 0 && sec > 0)
            printf("%9.1f", flops * runs / sec * 1e-9);
        printf("\n");
    }
    qsort(t, (size_t)n, sizeof *t, by_seconds);
    printf("%-10s %-40s %8s %6s %9s\n", "slowest", "node", "ms/run", "share", "GFLOP/s");
    for (int i = 0; i < n && i < PROFILE_TOP; i++) {
        char name[64], label[96];
        snprintf(label, sizeof label, "%s%s", prof_name(t[i].node, name, sizeof name),
                 t[i].n_fused ? " (fused)" : "");
        printf("%-10s %-40.40s %8.3f %5.1f%% ", "", label, 1e3 * t[i].seconds / runs,
               total > 0 ? 100 * t[i].seconds / total : 0);
        if (t[i].flops > 0 && t[i].seconds > 0)
            printf("%9.1f", t[i].flops * runs / t[i].seconds * 1e-9);
        printf("\n");
    }
    free(done);
    free(t);
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    const char *model = a->pos[0];
    int threads;
    int64_t batch, seed;
    double warmup, duration;
    int rc = infer_threads(a, &threads);
    if (!rc)
        rc = cli_int(a, "batch", 1, 1, 1 << 20, &batch);
    bool batch_given = cli_value(a, "batch") != NULL;
    if (!rc)
        rc = cli_int(a, "seed", 0, 0, INT64_MAX, &seed);
    if (!rc)
        rc = cli_float(a, "warmup", 0.2, 0, 3600, &warmup);
    if (!rc)
        rc = cli_float(a, "duration", 1.0, 0, 3600, &duration);
    if (rc)
        return rc;

    struct loaded m;
    if ((rc = model_load(model, &m)) != 0)
        return rc;
    struct nnp_runtime *rt = NULL;
    double *ms = NULL;
    struct nnp_tensor *shapes = calloc((size_t)m.g->n_inputs + 1, sizeof *shapes);
    struct nnp_input_shape *ins = NULL;
    char **fused = NULL;
    int n_fused = 0;
    NNP_ASSERT(shapes);
    if ((rc = infer_input_shapes(a, m.g, batch, batch_given, shapes)) != 0)
        goto done;
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = threads;
    o.batch = batch;
    o.input_shapes = shapes;
    o.no_fuse = cli_flag(a, "no-fuse");
    o.profile = cli_flag(a, "profile");
    if ((rc = infer_plan(model, m.g, &o, &rt)) != 0)
        goto done;
    int n_in = nnp_runtime_n_inputs(rt);
    ins = calloc((size_t)n_in + 1, sizeof *ins);
    NNP_ASSERT(ins);
    for (int i = 0; i < n_in; i++) {
        const struct nnp_rt_value *x = nnp_runtime_input(rt, i);
        ins[i] = (struct nnp_input_shape){.name = x->name, .dtype = x->dtype, .rank = x->rank};
        memcpy(ins[i].dims, x->dims, sizeof ins[i].dims);
    }
    /* the samples of one run: the first dimension of the first input */
    int64_t samples = n_in && ins[0].rank > 0 ? ins[0].dims[0] : 1;
    uint64_t state = (uint64_t)seed;
    for (int i = 0; i < nnp_runtime_n_inputs(rt); i++)
        fill_random(nnp_runtime_input(rt, i), &state);

    double start = cli_now(), t0 = start;
    do {
        if ((rc = infer_run(model, rt)) != 0)
            goto done;
    } while (cli_now() - start < warmup);

    nnp_runtime_profile_reset(rt); /* the timed runs only */
    size_t cap = 1024;
    int n = 0;
    ms = malloc(cap * sizeof *ms);
    NNP_ASSERT(ms);
    start = cli_now();
    t0 = start;
    for (;;) {
        enum nnp_status st = nnp_runtime_run(rt);
        double t1 = cli_now();
        if (st != NNP_OK) {
            nnp_error_prefix(model);
            rc = cli_fail(st);
            goto done;
        }
        if ((size_t)n == cap) {
            double *p = realloc(ms, 2 * cap * sizeof *ms);
            NNP_ASSERT(p);
            ms = p;
            cap *= 2;
        }
        ms[n++] = 1000.0 * (t1 - t0);
        t0 = t1;
        if (n >= MIN_RUNS && t1 - start >= duration)
            break;
    }

    struct nnp_runtime_memory mem = nnp_runtime_memory(rt);
    n_fused = nnp_runtime_n_fused(rt);
    fused = calloc((size_t)n_fused + 1, sizeof *fused);
    NNP_ASSERT(fused);
    for (int i = 0; i < n_fused; i++) {
        char item[512];
        fused[i] = strdup(infer_fused_item(rt, i, item, sizeof item));
        NNP_ASSERT(fused[i]);
    }
    struct nnp_bench_stats b = {
        .path = model,
        .blas = nnp_blas_corename(),
        .int8 = nnp_qisa_name(nnp_qisa_best()),
        .seed = (uint64_t)seed,
        .warmup_s = warmup,
        .duration_s = duration,
        .timed_s = t0 - start,
        .arena_bytes = mem.arena_bytes,
        .naive_bytes = mem.naive_bytes,
        .scratch_bytes = mem.scratch_bytes,
        .const_bytes = mem.const_bytes,
        .peak_bytes = mem.arena_bytes + mem.scratch_bytes + mem.const_bytes,
        .naive_peak_bytes = mem.naive_bytes + mem.scratch_bytes + mem.const_bytes,
        .n_inputs = n_in,
        .inputs = ins,
        .flops = mem.flops,
        .n_fused = n_fused,
        .fused = (const char *const *)fused,
    };
    nnp_latency_compute(&b.latency, ms, n, (int)samples, threads);
    b.latency.peak_bytes = b.peak_bytes;
    if (cli_flag(a, "json")) {
        if ((rc = cli_print_json(nnp_bench_json(&b))) != 0)
            goto done;
    } else if (!a->quiet) {
        print_table(&b);
        if (o.profile)
            print_profile(rt, n);
    }
    if (b.latency.cv > MAX_CV && !a->quiet)
        fprintf(stderr,
                "nnpress: warning: %s: too noisy to trust: run times vary by %.0f%% (cv %.2f > "
                "%.1f); is the machine busy? a longer --duration may help\n",
                model, 100 * b.latency.cv, b.latency.cv, MAX_CV);
done:
    for (int i = 0; fused && i < n_fused; i++)
        free(fused[i]);
    free(fused);
    free(ms);
    free(ins);
    free(shapes);
    nnp_runtime_free(rt);
    model_unload(&m);
    return rc;
}

const struct cli_cmd cmd_bench = {
    .name = "bench",
    .usage = "MODEL",
    .summary = "Time MODEL on random inputs: latency percentiles, throughput, peak memory.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
