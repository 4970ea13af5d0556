/* cmd/eval.c — `nnpress eval MODEL --data FILE [--labels FILE] [--reference MODEL]`:
 * accuracy on a data set, and agreement with a reference model.
 *
 * The data is streamed batch by batch straight into the runtime's input
 * buffer (nnp_dataset_read_f32), so memory does not grow with the data set;
 * the reference model, when given, runs on the same batch. Figures are
 * accumulated by kernels/metrics.c.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/infer.h"
#include "cmd/model_io.h"
#include "formats/array.h"
#include "formats/dataset.h"
#include "formats/report_json.h"
#include "kernels/metrics.h"

static const struct cli_opt opts[] = {
    {"data", 'd', "FILE", "the samples (.npy, IDX, IDX.gz, .pb; first dimension counts them)",
     false},
    {"labels", 'l', "FILE", "the class of each sample, for top-1 and top-5 accuracy", false},
    {"reference", 'r', "MODEL", "compare every output with MODEL's on the same samples", false},
    {"batch", 'b', "N", "samples per run (default 100)", false},
    {"threads", 't', "N", "threads to use (default: all cores)", false},
    {"no-fuse", 0, NULL, "run every node on its own (nothing fused into an epilogue)",
     false},
    {"scale", 0, "X", "integer data becomes x*X+SHIFT as float32 (default 1/255)", false},
    {"shift", 0, "SHIFT", "added after scaling (default 0)", false},
    {"json", 0, NULL, "print the figures as one JSON object", false},
    {0},
};

/* A model under evaluation: the one measured, or the reference. */
struct side {
    const char *path;
    struct loaded m;
    struct nnp_value *in;      /* its one input */
    struct nnp_tensor *shapes; /* (m.g->n_inputs) for the plan; only the input's is set */
    struct nnp_runtime *rt;
};

/* Load a model and check its one input takes float32. @return 0 or an exit code. */
static int side_open(struct side *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    int rc = model_load(path, &s->m);
    if (rc)
        return rc;
    s->shapes = calloc((size_t)s->m.g->n_inputs + 1, sizeof *s->shapes);
    NNP_ASSERT(s->shapes);
    char names[512];
    if (infer_n_feeds(s->m.g) != 1) {
        fprintf(stderr, "nnpress: error: %s: eval feeds one input, the model has %d (%s)\n", path,
                infer_n_feeds(s->m.g), infer_feed_names(s->m.g, names, sizeof names));
        return 1;
    }
    s->in = infer_feed(s->m.g, 0);
    enum nnp_dtype t = s->in->t.dtype;
    if (t != NNP_DTYPE_F32 && t != NNP_DTYPE_UNDEFINED) {
        fprintf(stderr, "nnpress: error: %s: input '%s' takes %s; eval feeds float32\n", path,
                s->in->name, nnp_dtype_name(t));
        return 1;
    }
    return 0;
}

/* @return the batch size the model's input fixes (its first dimension when
 * static), or 0 when the batch is free. */
static int64_t side_fixed_batch(const struct side *s)
{
    const struct nnp_tensor *t = &s->in->t;
    return t->rank >= 1 && t->dims[0] > 0 && !t->dim_params[0] ? t->dims[0] : 0;
}

/* Plan for batches of n samples of shape sample[rank]. @return 0 or an exit code. */
static int side_plan(struct side *s, const char *data, int rank, const int64_t *sample, int64_t n,
                     int threads, bool no_fuse)
{
    int64_t dims[NNP_MAX_RANK] = {n};
    memcpy(dims + 1, sample, (size_t)rank * sizeof *sample);
    for (int i = 0; i < s->m.g->n_inputs; i++) {
        s->shapes[i] = (struct nnp_tensor){.rank = -1};
        if (s->m.g->inputs[i] != s->in)
            continue;
        if (!nnp_shape_fit(&s->in->t, rank + 1, dims, false, &s->shapes[i])) {
            char want[320], have[256];
            fprintf(stderr, "nnpress: error: %s: input '%s' of %s takes %s, a sample is %s\n", data,
                    s->in->name, s->path, infer_expects(&s->in->t, want, sizeof want),
                    infer_shape_str(rank, sample, have, sizeof have));
            return 1;
        }
        s->shapes[i].dtype = NNP_DTYPE_F32;
    }
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = threads;
    o.no_fuse = no_fuse;
    o.batch = n;
    o.input_shapes = s->shapes;
    int rc = infer_plan(s->path, s->m.g, &o, &s->rt);
    if (rc)
        return rc;
    struct nnp_rt_value *x = infer_rt_input(s->rt, s->in->name);
    int64_t want = n * nnp_shape_numel(rank, sample);
    if (!x || x->dtype != NNP_DTYPE_F32 || x->numel != want)
        return cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                   "%s: input '%s': the runtime did not plan "
                                   "%" PRId64 " float32 values",
                                   s->path, s->in->name, want));
    return 0;
}

static void side_close(struct side *s)
{
    nnp_runtime_free(s->rt);
    free(s->shapes);
    if (s->m.g)
        model_unload(&s->m);
    memset(s, 0, sizeof *s);
}

/* Output i of a run over n samples, checked to be float32 with the batch first.
 * *per is the number of values per sample. @return it, or NULL (printed). */
static const struct nnp_rt_value *output_of(struct side *s, int i, int64_t n, int64_t *per)
{
    const struct nnp_rt_value *y = nnp_runtime_output(s->rt, i);
    char shape[256];
    if (y->dtype != NNP_DTYPE_F32) {
        cli_fail(nnp_errorf(NNP_ERR_UNSUPPORTED,
                            "%s: output '%s' is %s; eval measures float32 "
                            "outputs",
                            s->path, y->name, nnp_dtype_name(y->dtype)));
        return NULL;
    }
    if (y->rank < 1 || y->dims[0] != n || y->numel < n || (n && y->numel % n)) {
        cli_fail(nnp_errorf(NNP_ERR_INVALID,
                            "%s: output '%s' is %s for a batch of %" PRId64
                            "; eval needs the batch as its first dimension",
                            s->path, y->name, nnp_rt_shape_str(y, shape, sizeof shape), n));
        return NULL;
    }
    *per = n ? y->numel / n : 0;
    return y;
}

static void print_percent(const char *label, int64_t k, int64_t n)
{
    printf("%-6s %.2f%% (%" PRId64 "/%" PRId64 ")\n", label, 100.0 * (double)k / (double)n, k, n);
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    const char *model = a->pos[0], *data = cli_value(a, "data"), *labels = cli_value(a, "labels"),
               *reference = cli_value(a, "reference");
    int threads;
    int64_t batch;
    float scale, shift;
    int rc = infer_threads(a, &threads);
    if (!rc)
        rc = cli_int(a, "batch", 100, 1, 1 << 20, &batch);
    if (!rc)
        rc = infer_scale(a, &scale, &shift);
    if (!rc && !data)
        rc = cli_usage(a, "missing --data FILE");
    if (!rc && !labels && !reference)
        rc = cli_usage(a, "nothing to measure: give --labels, --reference, or both");
    if (rc)
        return rc;

    struct side s = {0}, r = {0};
    struct nnp_dataset *d = NULL, *l = NULL;
    int64_t *lab = NULL;
    struct nnp_compare *cmp = NULL;
    struct nnp_output_compare *rows = NULL;
    struct nnp_topk top = {0};
    int64_t count = 0, classes = 0;
    int n_out = 0;

    struct nnp_data_opts dopts = {.scale = scale, .shift = shift};
    enum nnp_status st = nnp_dataset_open(data, &dopts, &d);
    if (st != NNP_OK) {
        rc = cli_fail(st);
        goto done;
    }
    int64_t sample[NNP_MAX_RANK];
    int rank = nnp_dataset_sample_shape(d, sample);
    count = nnp_dataset_count(d);
    if (count == 0) {
        rc = cli_fail(nnp_errorf(NNP_ERR_INVALID, "%s: holds no samples", data));
        goto done;
    }
    if (labels) {
        int64_t none;
        if ((st = nnp_dataset_open(labels, NULL, &l)) == NNP_OK)
            st = nnp_dataset_read_labels(l, 0, NULL, &none); /* refuses a non-label file */
        if (st == NNP_OK && nnp_dataset_count(l) != count)
            st = nnp_errorf(NNP_ERR_INVALID,
                            "%s: holds %" PRId64 " labels for the %" PRId64 " samples of %s",
                            labels, nnp_dataset_count(l), count, data);
        if (st != NNP_OK) {
            rc = cli_fail(st);
            goto done;
        }
    }
    if ((rc = side_open(&s, model)) != 0 || (reference && (rc = side_open(&r, reference)) != 0))
        goto done;
    /* One plan for every batch: a model whose input fixes the batch gets it, and
     * the last batch, when short, is padded with zeros and its padding ignored. */
    int64_t fixed = side_fixed_batch(&s), fixed_ref = reference ? side_fixed_batch(&r) : 0;
    if (fixed && fixed_ref && fixed != fixed_ref) {
        rc =
            cli_fail(nnp_errorf(NNP_ERR_INVALID, "%s: takes batches of %" PRId64 ", %s of %" PRId64,
                                reference, fixed_ref, model, fixed));
        goto done;
    }
    fixed = fixed ? fixed : fixed_ref;
    if (fixed && cli_value(a, "batch") && batch != fixed) {
        rc = cli_usage(a, "--batch %" PRId64 ": %s takes batches of exactly %" PRId64, batch,
                       fixed == fixed_ref ? reference : model, fixed);
        goto done;
    }
    batch = fixed ? fixed : (batch < count ? batch : count);
    if (l) {
        lab = malloc((size_t)batch * sizeof *lab);
        NNP_ASSERT(lab);
    }
    bool no_fuse = cli_flag(a, "no-fuse");
    if ((rc = side_plan(&s, data, rank, sample, batch, threads, no_fuse)) != 0 ||
        (reference && (rc = side_plan(&r, data, rank, sample, batch, threads, no_fuse)) != 0))
        goto done;

    struct progress prog;
    progress_start(&prog, a, "eval");
    int64_t per_in = nnp_shape_numel(rank, sample);
    struct nnp_rt_value *x = infer_rt_input(s.rt, s.in->name);
    for (int64_t start = 0; start < count; start += batch) {
        int64_t n = count - start < batch ? count - start : batch, got;
        if ((st = nnp_dataset_read_f32(d, n, x->data, &got)) == NNP_OK && got != n)
            st = nnp_errorf(NNP_ERR_FORMAT, "%s: ended after %" PRId64 " samples", data,
                            start + got);
        if (st == NNP_OK && l && (st = nnp_dataset_read_labels(l, n, lab, &got)) == NNP_OK &&
            got != n)
            st = nnp_errorf(NNP_ERR_FORMAT, "%s: ended after %" PRId64 " labels", labels,
                            start + got);
        if (st != NNP_OK) {
            rc = cli_fail(st);
            break;
        }
        if (n < batch) /* padding, so that the plan for full batches serves */
            memset((float *)x->data + n * per_in, 0,
                   (size_t)((batch - n) * per_in) * sizeof(float));
        if ((rc = infer_run(model, s.rt)) != 0)
            break;
        int64_t per;
        const struct nnp_rt_value *y = output_of(&s, 0, batch, &per);
        if (!y) {
            rc = 1;
            break;
        }
        if (start == 0)
            classes = per;
        if (l && (st = nnp_topk_add(&top, y->data, n, per, lab, start)) != NNP_OK) {
            nnp_error_prefix(labels);
            rc = cli_fail(st);
            break;
        }
        if (reference) {
            memcpy(infer_rt_input(r.rt, r.in->name)->data, x->data,
                   (size_t)(batch * per_in) * sizeof(float));
            if ((rc = infer_run(reference, r.rt)) != 0)
                break;
            if (start == 0) {
                n_out = nnp_runtime_n_outputs(s.rt);
                if (nnp_runtime_n_outputs(r.rt) != n_out) {
                    rc = cli_fail(nnp_errorf(NNP_ERR_INVALID, "%s: has %d outputs, %s has %d",
                                             reference, nnp_runtime_n_outputs(r.rt), model, n_out));
                    break;
                }
                cmp = calloc((size_t)n_out, sizeof *cmp);
                NNP_ASSERT(cmp);
            }
            for (int i = 0; i < n_out && !rc; i++) {
                int64_t pa, pb;
                const struct nnp_rt_value *ya = output_of(&s, i, batch, &pa);
                const struct nnp_rt_value *yb = ya ? output_of(&r, i, batch, &pb) : NULL;
                if (!yb) {
                    rc = 1;
                } else if (pa != pb) {
                    char sa[256], sb[256];
                    rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                             "%s: output %d '%s' is %s, %s's "
                                             "'%s' is %s",
                                             reference, i, yb->name,
                                             nnp_rt_shape_str(yb, sb, sizeof sb), model, ya->name,
                                             nnp_rt_shape_str(ya, sa, sizeof sa)));
                } else {
                    nnp_compare_add(&cmp[i], ya->data, yb->data, n, pa);
                }
            }
            if (rc)
                break;
        }
        progress_show(&prog, start + n, count);
    }
    progress_end(&prog);
    if (rc)
        goto done;

    struct nnp_eval_stats e = {
        .path = model,
        .data = data,
        .labels = labels,
        .reference = reference,
        .batch = (int)batch,
        .threads = threads,
        .top1_correct = l ? top.top1 : -1,
        .top5_correct = l && classes > 5 ? top.top5 : -1,
        .accuracy =
            {
                .measured = 1,
                .samples = count,
                .top1 = l ? (double)top.top1 / (double)count : NAN,
                .top5 = l && classes > 5 ? (double)top.top5 / (double)count : -1,
                .agreement = NAN,
                .max_abs_error = NAN,
                .cosine = NAN,
                .sqnr_db = NAN,
            },
        .n_outputs = n_out,
    };
    rows = calloc((size_t)n_out + 1, sizeof *rows);
    NNP_ASSERT(rows);
    for (int i = 0; i < n_out; i++) {
        rows[i] = (struct nnp_output_compare){
            .name = nnp_runtime_output(s.rt, i)->name,
            .samples = cmp[i].samples,
            .agree = cmp[i].agree,
            .max_abs_error = cmp[i].max_abs,
            .max_rel_error = cmp[i].max_ref > 0 ? cmp[i].max_abs / cmp[i].max_ref
                                                : (cmp[i].max_abs > 0 ? INFINITY : 0),
            .cosine = nnp_compare_cosine(&cmp[i]),
            .sqnr_db = nnp_compare_sqnr_db(&cmp[i]),
        };
    }
    e.outputs = rows;
    if (n_out) {
        e.accuracy.agreement = (double)rows[0].agree / (double)rows[0].samples;
        e.accuracy.max_abs_error = rows[0].max_abs_error;
        e.accuracy.cosine = rows[0].cosine;
        e.accuracy.sqnr_db = rows[0].sqnr_db;
    }
    if (cli_flag(a, "json")) {
        rc = cli_print_json(nnp_eval_json(&e));
    } else if (!a->quiet) {
        printf("%-6s %s\n", "model", model);
        printf("%-6s %s (%" PRId64 " samples)\n", "data", data, count);
        if (l) {
            print_percent("top-1", top.top1, count);
            if (classes > 5)
                print_percent("top-5", top.top5, count);
        }
        if (reference)
            printf("%-6s %s\n", "versus", reference);
        for (int i = 0; i < n_out; i++) {
            const struct nnp_output_compare *c = &rows[i];
            printf("  %s: argmax agreement %.2f%% (%" PRId64 "/%" PRId64 "), max abs error %.3g "
                   "(%.3g of the largest |output|), cosine %.8f, SQNR %.1f dB\n",
                   c->name, 100.0 * (double)c->agree / (double)c->samples, c->agree, c->samples,
                   c->max_abs_error, c->max_rel_error, c->cosine, c->sqnr_db);
        }
    }
done:
    free(rows);
    free(cmp);
    free(lab);
    side_close(&r);
    side_close(&s);
    nnp_dataset_close(l);
    nnp_dataset_close(d);
    return rc;
}

const struct cli_cmd cmd_eval = {
    .name = "eval",
    .usage = "MODEL --data FILE",
    .summary = "Measure MODEL's accuracy on a data set and its agreement with a reference "
               "model.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
