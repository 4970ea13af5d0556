/* cmd/infer.c — helpers shared by run, bench and eval. */
#include "cmd/infer.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Largest dimension --shape and --dim take: far beyond any real input, and an int
 * wherever a kernel or a report keeps one (the runtime refuses what does not fit). */
#define MAX_DIM INT64_C(2147483647)

/* "1x3x640x640" (or "1,3,640,640"; "" is a scalar) into dims. @return the rank, -1 if bad. */
static int parse_dims(const char *s, int64_t *dims)
{
    int rank = 0;
    if (!*s)
        return 0;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 1 || v > MAX_DIM || rank == NNP_MAX_RANK || *s == '+' ||
            *s == '-')
            return -1;
        dims[rank++] = v;
        if (!*end)
            return rank;
        if (*end != 'x' && *end != ',')
            return -1;
        s = end + 1;
    }
}

/* The feed called name[0..len), or NULL. */
static int feed_index(const struct nnp_graph *g, const char *name, size_t len)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct nnp_value *v = g->inputs[i];
        if (!v->is_initializer && strlen(v->name) == len && strncmp(v->name, name, len) == 0)
            return i;
    }
    return -1;
}

/* "batch, H, W": the symbolic dimension names of every feed, for messages. */
static char *dim_names(const struct nnp_graph *g, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int f = 0; f < infer_n_feeds(g); f++) {
        const struct nnp_tensor *t = &infer_feed(g, f)->t;
        for (int d = 0; d < t->rank; d++) {
            const char *p = t->dim_params[d];
            if (!p || strstr(buf, p)) /* listed once (a name inside another: harmless) */
                continue;
            if (k < size)
                k += (size_t)snprintf(buf + k, size - k, "%s%s", k ? ", " : "", p);
        }
    }
    if (!buf[0])
        snprintf(buf, size, "none");
    return buf;
}

int infer_input_shapes(const struct cli_args *a, const struct nnp_graph *g, int64_t batch,
                       bool batch_given, struct nnp_tensor *shapes)
{
    char names[512], want[256];
    for (int i = 0; i < g->n_inputs; i++)
        shapes[i] = (struct nnp_tensor){.rank = -1};
    /* --dim NAME=N: checked first, so that a typo is named even when --shape covers it */
    int n_dims = cli_count(a, "dim");
    for (int k = 0; k < n_dims; k++) {
        const char *spec = cli_nth(a, "dim", k), *eq = strchr(spec, '=');
        int64_t v[1];
        if (!eq || eq == spec || parse_dims(eq + 1, v) != 1)
            return cli_usage(a, "--dim %s: expected NAME=VALUE with VALUE from 1 to %" PRId64, spec,
                             MAX_DIM);
        bool known = false;
        for (int f = 0; f < infer_n_feeds(g) && !known; f++) {
            const struct nnp_tensor *t = &infer_feed(g, f)->t;
            for (int d = 0; d < t->rank && !known; d++)
                known = t->dim_params[d] && strlen(t->dim_params[d]) == (size_t)(eq - spec) &&
                        strncmp(t->dim_params[d], spec, (size_t)(eq - spec)) == 0;
        }
        if (!known)
            return cli_usage(a,
                             "--dim %s: no input has a dimension called '%.*s' (symbolic "
                             "dimensions: %s)",
                             spec, (int)(eq - spec), spec, dim_names(g, names, sizeof names));
    }
    /* --shape NAME=DIMS */
    int n_shapes = cli_count(a, "shape");
    for (int k = 0; k < n_shapes; k++) {
        const char *spec = cli_nth(a, "shape", k), *eq = strchr(spec, '=');
        int i = eq ? feed_index(g, spec, (size_t)(eq - spec)) : -1;
        const char *dims = eq ? eq + 1 : spec;
        if (!eq && infer_n_feeds(g) == 1)
            i = feed_index(g, infer_feed(g, 0)->name, strlen(infer_feed(g, 0)->name));
        if (i < 0 && eq)
            return cli_usage(a, "--shape %s: the model has no input called '%.*s' (inputs: %s)",
                             spec, (int)(eq - spec), spec,
                             infer_feed_names(g, names, sizeof names));
        if (i < 0)
            return cli_usage(a, "--shape %s: say which input, as NAME=DIMS (inputs: %s)", spec,
                             infer_feed_names(g, names, sizeof names));
        const struct nnp_value *in = g->inputs[i];
        if (shapes[i].rank >= 0)
            return cli_usage(a, "--shape: input '%s' given twice", in->name);
        struct nnp_tensor *t = &shapes[i];
        t->dtype = in->t.dtype;
        t->rank = parse_dims(dims, t->dims);
        if (t->rank < 0)
            return cli_usage(a,
                             "--shape %s: expected dimensions from 1 to %" PRId64 " joined by "
                             "'x', such as 1x3x224x224",
                             spec, MAX_DIM);
        const struct nnp_tensor *m = &in->t;
        if (m->rank >= 0 && m->rank != t->rank)
            return cli_usage(a, "--shape %s: input '%s' is %s, %d-D, not %d-D", spec, in->name,
                             nnp_tensor_shape_str(m, want, sizeof want), m->rank, t->rank);
        for (int d = 0; d < m->rank; d++)
            if (m->dims[d] >= 0 && !m->dim_params[d] && m->dims[d] != t->dims[d])
                return cli_usage(
                    a, "--shape %s: dimension %d of input '%s' %s is %" PRId64 " in the model",
                    spec, d, in->name, nnp_tensor_shape_str(m, want, sizeof want), m->dims[d]);
    }
    /* the rest: the model's shape, symbolic dimensions bound by --dim, the first by batch */
    for (int f = 0; f < infer_n_feeds(g); f++) {
        const struct nnp_value *in = infer_feed(g, f);
        int i = feed_index(g, in->name, strlen(in->name));
        if (shapes[i].rank >= 0)
            continue;
        const struct nnp_tensor *m = &in->t;
        if (m->rank < 0)
            return cli_usage(a,
                             "input '%s': the model does not give its rank; give its shape "
                             "with --shape %s=DIMS",
                             in->name, in->name);
        struct nnp_tensor *t = &shapes[i];
        t->dtype = m->dtype;
        t->rank = m->rank;
        for (int d = 0; d < m->rank; d++) {
            t->dims[d] = m->dim_params[d] ? -1 : m->dims[d];
            for (int k = n_dims - 1; k >= 0 && m->dim_params[d] && t->dims[d] < 0; k--) {
                const char *spec = cli_nth(a, "dim", k), *eq = strchr(spec, '=');
                if (strlen(m->dim_params[d]) == (size_t)(eq - spec) &&
                    strncmp(m->dim_params[d], spec, (size_t)(eq - spec)) == 0)
                    parse_dims(eq + 1, &t->dims[d]);
            }
            if (t->dims[d] >= 0)
                continue;
            if (d == 0) {
                t->dims[0] = batch;
                continue;
            }
            if (m->dim_params[d])
                return cli_usage(a,
                                 "input '%s' %s: dimension %d ('%s') is symbolic; give it "
                                 "with --dim %s=VALUE or the whole shape with --shape %s=DIMS",
                                 in->name, nnp_tensor_shape_str(m, want, sizeof want), d,
                                 m->dim_params[d], m->dim_params[d], in->name);
            return cli_usage(a,
                             "input '%s' %s: dimension %d is not known; give the shape with "
                             "--shape %s=DIMS",
                             in->name, nnp_tensor_shape_str(m, want, sizeof want), d, in->name);
        }
        if (batch_given && m->rank >= 1 && !m->dim_params[0] && m->dims[0] >= 0 &&
            m->dims[0] != batch)
            return cli_usage(a,
                             "--batch %" PRId64 ": input '%s' %s has a fixed first dimension "
                             "of %" PRId64 "; use --shape for other shapes",
                             batch, in->name, nnp_tensor_shape_str(m, want, sizeof want),
                             m->dims[0]);
    }
    return 0;
}

/* a node as reports name it: its name, or its op type and index when it has none */
static const char *node_name(const struct nnp_node *n, char *buf, size_t size)
{
    if (n->name && *n->name)
        return n->name;
    snprintf(buf, size, "%s#%d", n->op_type, n->index);
    return buf;
}

char *infer_fused_item(const struct nnp_runtime *rt, int i, char *buf, size_t size)
{
    struct nnp_runtime_fused f = nnp_runtime_fused_at(rt, i);
    char name[64];
    size_t k = (size_t)snprintf(buf, size, "%s", node_name(f.node, name, sizeof name));
    for (int j = 0; j < f.n_fused && k < size; j++)
        k += (size_t)snprintf(buf + k, size - k, "+%s", node_name(f.fused[j], name, sizeof name));
    return buf;
}

char *infer_fused_list(const struct nnp_runtime *rt, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < nnp_runtime_n_fused(rt) && k < size; i++) {
        char item[512];
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "",
                              infer_fused_item(rt, i, item, sizeof item));
    }
    if (k >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

char *infer_planned_inputs(struct nnp_runtime *rt, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < nnp_runtime_n_inputs(rt) && k < size; i++) {
        char shape[256];
        const struct nnp_rt_value *v = nnp_runtime_input(rt, i);
        k += (size_t)snprintf(buf + k, size - k, "%s%s %s", i ? ", " : "", v->name,
                              nnp_rt_shape_str(v, shape, sizeof shape));
    }
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
