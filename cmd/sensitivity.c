/* cmd/sensitivity.c — `nnpress sensitivity MODEL --data FILE [--labels FILE]`: how much
 * quantizing each node alone costs, most sensitive first (passes/quantize.h measures it). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/commands.h"
#include "cmd/infer.h"
#include "cmd/model_io.h"
#include "formats/report_json.h"
#include "passes/pass.h"
#include "passes/quantize.h"

/* The quantize pass's options this command takes, as `nnpress quantize` does (calib_samples
 * is --samples, max_accuracy_drop does not apply). */
#define QUANTIZE_OPT(name, what) {name, 0, "VALUE", what " (as for nnpress quantize)", false}

static const struct cli_opt opts[] = {
    {"data", 'd', "FILE", "calibration data, and the samples measured on unless --eval-data "
     "(.npy, IDX, IDX.gz, .pb; integers scaled by 1/255)", false},
    {"labels", 'l', "FILE", "the class of each --data sample: top-1 accuracy and its drop",
     false},
    {"eval-data", 0, "FILE", "measure on the first --samples of FILE instead of --data", false},
    {"eval-labels", 0, "FILE", "the class of each --eval-data sample", false},
    {"samples", 'n', "N", "samples calibrated on and measured on (default 1000)", false},
    {"threads", 't', "N", "threads to use (default: all cores)", false},
    {"json", 0, NULL, "print the figures as one JSON object instead of the table", false},
    QUANTIZE_OPT("type", "int8 or uint8 here"),
    QUANTIZE_OPT("mode", "static, weight or dynamic"),
    QUANTIZE_OPT("format", "qdq or qop"),
    QUANTIZE_OPT("per_channel", "a weight scale per output channel (1) or per tensor (0)"),
    QUANTIZE_OPT("activations", "asymmetric or symmetric"),
    QUANTIZE_OPT("calib", "minmax, percentile, entropy or mse"),
    QUANTIZE_OPT("percentile", "calib=percentile: the share of values inside the range"),
    QUANTIZE_OPT("ops", "the operator types to quantize, '+'-separated"),
    QUANTIZE_OPT("exclude", "node names or operator types kept in float, '+'-separated"),
    QUANTIZE_OPT("only", "measure only these node names or operator types, '+'-separated"),
    {0},
};

static bool has_opt(const struct cli_cmd *cmd, const char *name)
{
    for (const struct cli_opt *o = cmd->opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return true;
    return false;
}

static void print_acc(const char *label, const struct nnp_measure_result *r)
{
    printf("%-10s top-1 %.2f%% (%" PRId64 "/%" PRId64 ")\n", label,
           100.0 * (double)r->correct / (double)r->samples, r->correct, r->samples);
}

static double drop_points(const struct nnp_measure_result *fp, const struct nnp_measure_result *q)
{
    return 100.0 * (double)(fp->correct - q->correct) / (double)fp->samples;
}

static void print_table(const char *model, const char *pipeline, const char *calib,
                        const char *data, const char *labels, const struct nnp_sensitivity *s)
{
    bool acc = labels != NULL;
    printf("%-10s %s\n", "model", model);
    if (s->calib_samples)
        printf("%-10s %s, calibrated on %" PRId64 " samples of %s\n", "quantize", pipeline,
               s->calib_samples, calib);
    else
        printf("%-10s %s\n", "quantize", pipeline);
    printf("%-10s %" PRId64 " samples of %s%s\n", "measured", s->fp.samples, data,
           s->calib_samples && strcmp(calib, data) == 0 ? " (the same)" : "");
    if (acc) {
        printf("%-10s %s\n", "labels", labels);
        print_acc("float", &s->fp);
    }
    printf("%-10s all %d nodes: SQNR %.2f dB", "quantized", s->n_layers, s->all.sqnr_db);
    if (acc)
        printf(", top-1 %.2f%%, drop %.2f points", 100.0 * (double)s->all.correct /
               (double)s->all.samples, drop_points(&s->fp, &s->all));
    printf("\n\n");
    int w = 4;
    for (int i = 0; i < s->n_layers; i++) {
        int len = (int)strlen(s->layers[i].name);
        w = len > w ? len : w;
    }
    printf("%4s  %-*s  %-8s %8s", "rank", w, "node", "op", "SQNR dB");
    if (acc)
        printf(" %8s %9s", "top-1 %", "drop pts");
    printf("\n");
    for (int i = 0; i < s->n_layers; i++) {
        const struct nnp_sens_layer *l = &s->layers[i];
        printf("%4d  %-*s  %-8s %8.2f", i + 1, w, l->name, l->op_type, l->q.sqnr_db);
        if (acc)
            printf(" %8.2f %9.2f", 100.0 * (double)l->q.correct / (double)l->q.samples,
                   drop_points(&s->fp, &l->q));
        printf("\n");
    }
}

static int print_json(const char *model, const char *pipeline, const char *calib,
                      const char *data, const char *labels, const struct nnp_sensitivity *s)
{
    struct nnp_sens_row *rows = calloc((size_t)s->n_layers + 1, sizeof *rows);
    NNP_ASSERT(rows);
    for (int i = 0; i < s->n_layers; i++)
        rows[i] = (struct nnp_sens_row){s->layers[i].name, s->layers[i].op_type,
                                        s->layers[i].q.sqnr_db, s->layers[i].q.correct};
    struct nnp_sens_stats st = {
        .path = model,
        .quantize = pipeline,
        .calib_data = calib,
        .calib_samples = s->calib_samples,
        .data = data,
        .labels = labels,
        .samples = s->fp.samples,
        .float_correct = s->fp.correct,
        .all_sqnr_db = s->all.sqnr_db,
        .all_correct = s->all.correct,
        .n_rows = s->n_layers,
        .rows = rows,
    };
    int rc = cli_print_json(nnp_sensitivity_json(&st));
    free(rows);
    return rc;
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    const char *model = a->pos[0], *data = cli_value(a, "data"), *labels = cli_value(a, "labels"),
               *eval_data = cli_value(a, "eval-data"), *eval_labels = cli_value(a, "eval-labels");
    int threads;
    int64_t samples;
    int rc = infer_threads(a, &threads);
    if (!rc)
        rc = cli_int(a, "samples", 1000, 1, 1000000000, &samples);
    if (!rc && !data)
        rc = cli_usage(a, "missing --data FILE (the samples to calibrate and measure on)");
    if (!rc && eval_labels && !eval_data)
        rc = cli_usage(a, "--eval-labels goes with --eval-data FILE");
    if (!rc && eval_data && labels && !eval_labels)
        rc = cli_usage(a, "--labels are those of --data; with --eval-data give --eval-labels");
    if (rc)
        return rc;

    /* the quantize step, with the options given as `nnpress quantize` takes them */
    const struct nnp_pass *pass = nnp_pass_find("quantize");
    NNP_ASSERT(pass);
    struct nnp_pipeline *p;
    enum nnp_status st = nnp_pipeline_parse(pass->name, &p);
    NNP_ASSERT(st == NNP_OK);
    char text[1024], n_text[32];
    size_t k = (size_t)snprintf(text, sizeof text, "%s", pass->name);
    int n_set = 0;
    for (int i = 0; i < pass->n_opts && !rc; i++) {
        const char *name = pass->opts[i].name, *v = NULL;
        if (strcmp(name, "calib_samples") == 0) {
            snprintf(n_text, sizeof n_text, "%" PRId64, samples);
            v = n_text;
        } else if (has_opt(cmd, name)) {
            v = cli_value(a, name);
        }
        if (!v)
            continue;
        if (nnp_pipeline_set(p, 0, name, v) != NNP_OK)
            rc = cli_usage(a, "%s", nnp_error_message());
        else if (v != n_text && k < sizeof text)
            k += (size_t)snprintf(text + k, sizeof text - k, "%s%s=%s", n_set++ ? "," : "(",
                                  name, v);
    }
    if (n_set && k < sizeof text)
        snprintf(text + k, sizeof text - k, ")");
    struct loaded m = {0};
    if (!rc)
        rc = model_load(model, &m);
    if (rc) {
        nnp_pipeline_free(p);
        return rc;
    }
    struct nnp_pass_ctx ctx = {.threads = threads,
                               .quiet = a->quiet,
                               .data_path = data,
                               .labels_path = labels,
                               .data_scale = 1.0f / 255.0f};
    struct nnp_measure_src src = {
        .data_path = eval_data ? eval_data : data,
        .labels_path = eval_data ? eval_labels : labels,
        .samples = samples,
        .scale = 1.0f / 255.0f,
        .threads = threads,
    };
    struct nnp_sensitivity s;
    st = nnp_quantize_sensitivity(m.g, nnp_pipeline_options(p, 0), &ctx, &src, &s);
    if (st != NNP_OK) {
        nnp_error_prefix(model);
        rc = cli_fail(st);
    } else if (cli_flag(a, "json")) {
        rc = print_json(model, text, data, src.data_path, src.labels_path, &s);
    } else if (!a->quiet) {
        print_table(model, text, data, src.data_path, src.labels_path, &s);
    }
    nnp_sensitivity_free(&s);
    model_unload(&m);
    nnp_pipeline_free(p);
    return rc;
}

const struct cli_cmd cmd_sensitivity = {
    .name = "sensitivity",
    .usage = "MODEL --data FILE",
    .summary = "Quantize each node of MODEL alone and rank the nodes by what it costs: SQNR of "
               "the output and top-1 drop.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
