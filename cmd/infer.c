/* cmd/infer.c — helpers shared by run, bench and eval. */
#include "cmd/infer.h"

#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/array.h"

int infer_threads(const struct cli_args *a, int *threads)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t t;
    int rc = cli_int(a, "threads", cores > 0 ? cores : 1, 1, 1024, &t);
    *threads = (int)t;
    return rc;
}

int infer_scale(const struct cli_args *a, float *scale, float *shift)
{
    double x, y;
    int rc = cli_float(a, "scale", 1.0 / 255.0, -FLT_MAX, FLT_MAX, &x);
    if (!rc)
        rc = cli_float(a, "shift", 0.0, -FLT_MAX, FLT_MAX, &y);
    if (!rc) {
        *scale = (float)x;
        *shift = (float)y;
    }
    return rc;
}

int infer_n_feeds(const struct nnp_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_inputs; i++)
        n += !g->inputs[i]->is_initializer;
    return n;
}

struct nnp_value *infer_feed(const struct nnp_graph *g, int i)
{
    for (int k = 0; k < g->n_inputs; k++)
        if (!g->inputs[k]->is_initializer && i-- == 0)
            return g->inputs[k];
    NNP_ASSERT(0);
    return NULL;
}

char *infer_feed_names(const struct nnp_graph *g, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < infer_n_feeds(g) && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", infer_feed(g, i)->name);
    if (k == 0)
        snprintf(buf, size, "none");
    return buf;
}

bool infer_fit(const struct nnp_tensor *model, int rank, const int64_t *dims, bool whole,
               struct nnp_tensor *out)
{
    memset(out, 0, sizeof *out);
    out->dtype = model->dtype;
    int m = model->rank;
    const int64_t *md = model->dims;
    bool fits = m < 0; /* a model that does not say takes anything */
    if (m == rank) {
        fits = true;
        for (int i = 0; i < m; i++)
            fits = fits && (md[i] < 0 || md[i] == dims[i]);
    }
    if (fits) {
        out->rank = rank;
        memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
        return true;
    }
    /* same number of samples, same number of values in each */
    bool rest_static = m >= 1;
    for (int i = 1; i < m; i++)
        rest_static = rest_static && md[i] >= 0;
    if (rank >= 1 && rest_static && (md[0] < 0 || md[0] == dims[0]) &&
        nnp_shape_numel(m - 1, md + 1) == nnp_shape_numel(rank - 1, dims + 1)) {
        out->rank = m;
        out->dims[0] = dims[0];
        memcpy(out->dims + 1, md + 1, (size_t)(m - 1) * sizeof *md);
        return true;
    }
    /* the whole tensor in the model's static shape */
    bool all_static = m >= 0;
    for (int i = 0; i < m; i++)
        all_static = all_static && md[i] >= 0;
    if (whole && all_static && nnp_shape_numel(m, md) == nnp_shape_numel(rank, dims)) {
        out->rank = m;
        memcpy(out->dims, md, (size_t)m * sizeof *md);
        return true;
    }
    return false;
}

char *infer_shape_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    struct nnp_tensor t = {.rank = rank};
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    return nnp_tensor_shape_str(&t, buf, size);
}

char *infer_expects(const struct nnp_tensor *t, char *buf, size_t size)
{
    char shape[256];
    int n = snprintf(buf, size, "%s %s", nnp_dtype_name(t->dtype),
                     t->rank < 0 ? "(any shape)" : nnp_tensor_shape_str(t, shape, sizeof shape));
    bool rest_static = t->rank >= 2;
    for (int i = 1; i < t->rank; i++)
        rest_static = rest_static && t->dims[i] >= 0;
    if (rest_static && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " (%" PRId64 " values per sample)",
                 nnp_shape_numel(t->rank - 1, t->dims + 1));
    return buf;
}

int infer_plan(const char *path, const struct nnp_graph *g, const struct nnp_runtime_opts *o,
               struct nnp_runtime **rt)
{
    enum nnp_status st = nnp_runtime_new(g, o, rt);
    if (st == NNP_OK)
        return 0;
    *rt = NULL;
    nnp_error_prefix(path);
    return cli_fail(st);
}

int infer_run(const char *path, struct nnp_runtime *rt)
{
    enum nnp_status st = nnp_runtime_run(rt);
    if (st == NNP_OK)
        return 0;
    nnp_error_prefix(path);
    return cli_fail(st);
}

struct nnp_rt_value *infer_rt_input(struct nnp_runtime *rt, const char *name)
{
    for (int i = 0; i < nnp_runtime_n_inputs(rt); i++) {
        struct nnp_rt_value *v = nnp_runtime_input(rt, i);
        if (v && v->name && strcmp(v->name, name) == 0)
            return v;
    }
    return NULL;
}

void progress_start(struct progress *p, const struct cli_args *a, const char *what)
{
    p->on = !a->quiet && isatty(STDERR_FILENO);
    p->what = what;
    p->last = 0;
}

void progress_show(struct progress *p, int64_t done, int64_t total)
{
    if (!p->on)
        return;
    double now = cli_now();
    /* a terminal redrawn more than a few times a second only costs time */
    if (now - p->last < 0.2 && done < total)
        return;
    p->last = now;
    fprintf(stderr, "\r%s: %" PRId64 "/%" PRId64 " samples (%.0f%%)", p->what, done, total,
            total ? 100.0 * (double)done / (double)total : 100.0);
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (p->on && p->last > 0)
        fputs("\r\033[K", stderr);
    p->last = 0;
}
