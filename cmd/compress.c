/* cmd/compress.c — `nnpress compress MODEL -o OUT --passes ...`, and the pass
 * commands (`nnpress fold MODEL -o OUT`), which are compress with one pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/commands.h"
#include "cmd/model_io.h"
#include "formats/file.h"
#include "formats/report_json.h"
#include "passes/pass.h"

/* Options shared by compress and every pass command. */
#define COMPRESS_COMMON_OPTS                                                                       \
    {"output", 'o', "FILE", "write the compressed model to FILE (required)", false},              \
        {"report", 'r', "FILE", "write the report as JSON to FILE", false},                       \
        {"force", 'f', NULL, "allow FILE to be the input model", false},                          \
        {"seed", 0, "N", "seed for every random choice (default 0)", false},                      \
        {"threads", 't', "N", "threads to use (default: all cores)", false},                      \
        {"data", 0, "FILE", "calibration data for the passes that run the model (quantize "       \
         "mode=static): .npy, IDX or .pb; integer values are scaled by 1/255", false},        \
        {"labels", 0, "FILE", "the class of each --data sample, for the passes that measure "    \
         "accuracy (quantize max_accuracy_drop=)", false}

static const struct cli_opt compress_opts[] = {
    {"passes", 'p', "PIPELINE", "passes to run, e.g. 'fold,prune(sparsity=0.9)' (default: fold)",
     false},
    COMPRESS_COMMON_OPTS,
    {0},
};

/* Load, run the pipeline, write model and report. Everything is computed
 * before the first byte is written; the model and report are each written to
 * a temporary file and renamed, and a report that fails removes the model
 * written just before it, so a failed run leaves no output behind. */
static int compress_with(struct cli_args *a, struct nnp_pipeline *p, const char *pipeline_text)
{
    const char *in = a->pos[0], *out = cli_value(a, "output"), *report_path = cli_value(a, "report");
    if (!out)
        return cli_usage(a, "missing -o FILE");
    int64_t seed, threads;
    int rc = cli_int(a, "seed", 0, 0, INT64_MAX, &seed);
    if (!rc)
        rc = cli_int(a, "threads", sysconf(_SC_NPROCESSORS_ONLN), 1, 1024, &threads);
    if (!rc)
        rc = check_not_input(in, out, cli_flag(a, "force"));
    if (!rc && report_path && (strcmp(report_path, out) == 0 || strcmp(report_path, in) == 0))
        rc = cli_usage(a, "--report %s: would overwrite a model", report_path);
    if (rc)
        return rc;

    struct loaded m;
    if ((rc = model_load(in, &m)) != 0)
        return rc;
    struct nnp_pass_ctx ctx = {.seed = (uint64_t)seed,
                               .threads = (int)threads,
                               .quiet = a->quiet,
                               .data_path = cli_value(a, "data"),
                               .labels_path = cli_value(a, "labels"),
                               .data_scale = 1.0f / 255.0f};
    enum nnp_status st = nnp_pipeline_run(p, m.g, &ctx);
    if (st != NNP_OK) {
        nnp_error_prefix(in);
        model_unload(&m);
        return cli_fail(st);
    }
    struct nnp_report r = {
        .command = a->cmd->name,
        .pipeline = pipeline_text,
        .seed = (uint64_t)seed,
        .threads = (int)threads,
        .before = m.rep,
        .n_passes = ctx.n_records,
        .passes = ctx.records,
    };
    uint8_t *bytes = NULL;
    size_t size = 0;
    char *json = NULL;
    rc = model_serialize(m.g, out, &r.after, &bytes, &size);
    if (!rc && report_path && !(json = nnp_report_json(&r)))
        rc = cli_fail(nnp_errorf(NNP_ERR_NOMEM, "out of memory writing the report"));
    if (!rc && (st = nnp_file_write_atomic(out, bytes, size)) != NNP_OK)
        rc = cli_fail(st);
    if (!rc && json && (st = nnp_file_write_atomic(report_path, json, strlen(json))) != NNP_OK) {
        rc = cli_fail(st);
        unlink(out);
    }
    if (!rc && !a->quiet)
        show_compare(&r);
    free(json);
    free(bytes);
    nnp_summary_free(&r.after.summary);
    model_unload(&m);
    return rc;
}

static int run_compress(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    const char *text = cli_value(a, "passes");
    if (!text)
        text = "fold";
    struct nnp_pipeline *p;
    enum nnp_status st = nnp_pipeline_parse(text, &p);
    if (st != NNP_OK)
        return cli_fail(st);
    int rc = compress_with(a, p, text);
    nnp_pipeline_free(p);
    return rc;
}

const struct cli_cmd cmd_compress = {
    .name = "compress",
    .usage = "MODEL -o OUT",
    .summary = "Run a pipeline of passes over MODEL and write the result with a size report.",
    .opts = compress_opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run_compress,
};

/* --- the pass commands --- */

static int run_pass(const struct cli_cmd *cmd, struct cli_args *a)
{
    const struct nnp_pass *pass = cmd->pass;
    struct nnp_pipeline *p;
    enum nnp_status st = nnp_pipeline_parse(pass->name, &p);
    NNP_ASSERT(st == NNP_OK);
    char text[1024];
    size_t k = (size_t)snprintf(text, sizeof text, "%s", pass->name);
    int n_set = 0;
    for (int i = 0; i < pass->n_opts; i++) {
        const char *v = cli_value(a, pass->opts[i].name);
        if (!v)
            continue;
        if ((st = nnp_pipeline_set(p, 0, pass->opts[i].name, v)) != NNP_OK) {
            nnp_pipeline_free(p);
            return cli_usage(a, "%s", nnp_error_message());
        }
        if (k < sizeof text)
            k += (size_t)snprintf(text + k, sizeof text - k, "%s%s=%s", n_set++ ? "," : "(",
                                  pass->opts[i].name, v);
    }
    if (n_set && k < sizeof text)
        snprintf(text + k, sizeof text - k, ")");
    int rc = compress_with(a, p, text);
    nnp_pipeline_free(p);
    return rc;
}

int cmd_pass_main(const struct nnp_pass *pass, int argc, char **argv)
{
    /* the pass's own options, then compress's common ones */
    static const struct cli_opt common[] = {COMPRESS_COMMON_OPTS};
    struct cli_opt opts[NNP_PASS_MAX_OPTS + sizeof common / sizeof *common + 1];
    char helps[NNP_PASS_MAX_OPTS][256];
    int n = 0;
    for (int i = 0; i < pass->n_opts; i++) {
        char def[128];
        nnp_pass_opt_describe(&pass->opts[i], def, sizeof def);
        snprintf(helps[i], sizeof helps[i], "%s; default %s", pass->opts[i].help, def);
        opts[n++] = (struct cli_opt){pass->opts[i].name, 0, "VALUE", helps[i], false};
    }
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        opts[n++] = common[i];
    opts[n] = (struct cli_opt){0};
    char summary[512];
    snprintf(summary, sizeof summary, "Run the %s pass (as 'compress --passes %s'): %s.", pass->name,
             pass->name, pass->help);
    struct cli_cmd cmd = {
        .name = pass->name,
        .usage = "MODEL -o OUT",
        .summary = summary,
        .opts = opts,
        .min_pos = 1,
        .max_pos = 1,
        .run = run_pass,
        .pass = pass,
    };
    struct cli_args a;
    int rc = cli_parse(&cmd, argc, argv, &a);
    if (rc == 0)
        rc = run_pass(&cmd, &a);
    cli_args_free(&a);
    return rc < 0 ? 0 : rc;
}
