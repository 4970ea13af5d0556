/* cmd/inspect.c — `nnpress inspect FILE [--json]`: a model, or a data file
 * (.npy, IDX, IDX.gz, TensorProto .pb) as the data readers see it. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/model_io.h"
#include "formats/dataset.h"
#include "formats/report_json.h"

static const struct cli_opt opts[] = {
    {"json", 0, NULL, "print the summary as JSON (schema in nnpress-report(5))", false},
    {"scale", 0, "X", "data files: integer values become x*X+SHIFT (default 1/255)", false},
    {"shift", 0, "SHIFT", "data files: added after scaling (default 0)", false},
    {0},
};

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* A model is a .onnx file; otherwise data files are told apart by their first
 * bytes, as the readers do, or by a data file's usual name when the bytes are
 * damaged (so that a broken .npy gets the .npy reader's error, not ONNX's). */
static bool is_data_file(const char *path)
{
    if (ends_with(path, ".onnx"))
        return false;
    if (ends_with(path, ".pb") || ends_with(path, ".npy") || ends_with(path, ".gz") ||
        ends_with(path, "-ubyte") || strstr(path, ".idx"))
        return true;
    unsigned char head[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
        return true;
    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return true;
    return got >= 4 && head[0] == 0 && head[1] == 0 && head[2] >= 0x08 && head[2] <= 0x0e;
}

/* One pass over the data: count, range and mean of the values as float32. */
static int inspect_data(struct cli_args *a, const char *path)
{
    double scale, shift;
    int rc = cli_float(a, "scale", 1.0 / 255.0, -FLT_MAX, FLT_MAX, &scale);
    if (!rc)
        rc = cli_float(a, "shift", 0.0, -FLT_MAX, FLT_MAX, &shift);
    if (rc)
        return rc;
    struct nnp_data_opts o = {.scale = (float)scale, .shift = (float)shift};
    struct nnp_dataset *d;
    enum nnp_status st = nnp_dataset_open(path, &o, &d);
    if (st != NNP_OK)
        return cli_fail(st);
    int64_t dims[NNP_MAX_RANK];
    int rank = nnp_dataset_sample_shape(d, dims);
    int64_t per = nnp_dataset_sample_numel(d), count = nnp_dataset_count(d);
    enum { BATCH = 256 };
    float *buf = malloc((size_t)(per > 0 ? per : 1) * BATCH * sizeof *buf);
    if (!buf) {
        nnp_dataset_close(d);
        return cli_fail(nnp_errorf(NNP_ERR_NOMEM, "%s: samples too large to read", path));
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t n_values = 0, got;
    while ((st = nnp_dataset_read_f32(d, BATCH, buf, &got)) == NNP_OK && got > 0)
        for (int64_t i = 0; i < got * per; i++) {
            lo = buf[i] < lo ? buf[i] : lo;
            hi = buf[i] > hi ? buf[i] : hi;
            sum += buf[i];
            n_values++;
        }
    free(buf);
    enum nnp_dtype dtype = nnp_dataset_dtype(d);
    const char *format = nnp_dataset_format(d);
    nnp_dataset_close(d);
    if (st != NNP_OK)
        return cli_fail(st);
    struct nnp_data_stats ds = {
        .path = path, .format = format, .samples = count, .rank = rank, .dtype = dtype,
        .scale = scale, .shift = shift, .min = n_values ? lo : 0, .max = n_values ? hi : 0,
        .mean = n_values ? sum / (double)n_values : 0,
    };
    memcpy(ds.dims, dims, sizeof ds.dims);
    if (cli_flag(a, "json")) {
        return cli_print_json(nnp_data_json(&ds));
    } else if (!a->quiet) {
        char shape[256];
        size_t k = (size_t)snprintf(shape, sizeof shape, "[");
        for (int i = 0; i < rank && k < sizeof shape; i++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRId64, i ? "," : "", dims[i]);
        if (k < sizeof shape)
            snprintf(shape + k, sizeof shape - k, "]");
        printf("%-10s %s (%s)\n", "data", path, format);
        printf("%-10s %" PRId64 " of %s %s\n", "samples", count, nnp_dtype_name(dtype), shape);
        if (!nnp_dtype_is_float(dtype))
            printf("%-10s as float32 x*%g%+g: ", "values", scale, shift);
        else
            printf("%-10s ", "values");
        printf("min %g, max %g, mean %g\n", ds.min, ds.max, ds.mean);
    }
    return 0;
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    if (is_data_file(a->pos[0]))
        return inspect_data(a, a->pos[0]);
    if (cli_value(a, "scale") || cli_value(a, "shift"))
        return cli_usage(a, "--scale and --shift apply to data files, not models");
    struct loaded m;
    int rc = model_load(a->pos[0], &m);
    if (rc)
        return rc;
    if (cli_flag(a, "json")) {
        rc = cli_print_json(nnp_inspect_json(m.g, &m.rep));
    } else if (!a->quiet) {
        show_model(m.g, &m.rep);
        show_layers(&m.rep.summary);
    }
    model_unload(&m);
    return rc;
}

const struct cli_cmd cmd_inspect = {
    .name = "inspect",
    .usage = "FILE",
    .summary = "Show a model (versions, inputs and outputs, op histogram, per-layer weights) "
               "or a data file.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
