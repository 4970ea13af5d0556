/* cmd/model_io.c — loading, saving and printing models for the subcommands. */
#include "cmd/model_io.h"

#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "formats/file.h"
#include "formats/onnx.h"
#include "formats/zstd.h"

static int sizes_of(const uint8_t *bytes, size_t size, struct nnp_sizes *s)
{
    s->onnx_bytes = size;
    enum nnp_status st = nnp_zstd_size(bytes, size, NNP_ZSTD_LEVEL, &s->zstd_bytes);
    return st == NNP_OK ? 0 : cli_fail(st);
}

int model_load(const char *path, struct loaded *m)
{
    memset(m, 0, sizeof *m);
    uint8_t *bytes = NULL;
    size_t size = 0;
    enum nnp_status st = nnp_file_read_all(path, &bytes, &size);
    if (st != NNP_OK)
        return cli_fail(st);
    char *copy = strdup(path);
    NNP_ASSERT(copy);
    st = nnp_onnx_read_buffer(bytes, size, dirname(copy), path, &m->g);
    free(copy);
    if (st != NNP_OK) {
        free(bytes);
        return cli_fail(st);
    }
    int rc = sizes_of(bytes, size, &m->rep.sizes);
    free(bytes);
    if (rc)
        return rc;
    m->rep.path = path;
    nnp_summary_init(&m->rep.summary, m->g);
    return 0;
}

void model_unload(struct loaded *m)
{
    nnp_summary_free(&m->rep.summary);
    nnp_graph_free(m->g);
    memset(m, 0, sizeof *m);
}

int model_serialize(struct nnp_graph *g, const char *path, struct nnp_model_report *rep,
                    uint8_t **bytes, size_t *size)
{
    enum nnp_status st = nnp_onnx_serialize(g, bytes, size);
    if (st != NNP_OK)
        return cli_fail(st);
    rep->path = path;
    nnp_summary_init(&rep->summary, g);
    return sizes_of(*bytes, *size, &rep->sizes);
}

int check_not_input(const char *input, const char *output, int force)
{
    if (!force && (strcmp(input, output) == 0 || nnp_file_same(input, output))) {
        fprintf(stderr, "nnpress: error: %s: is the input model; use --force to overwrite it\n",
                output);
        return 2;
    }
    return 0;
}

static void io_line(const char *label, struct nnp_value *const *vals, int n)
{
    char shape[256];
    for (int i = 0; i < n; i++)
        printf("%-10s %s %s %s\n", i ? "" : label, vals[i]->name, nnp_dtype_name(vals[i]->t.dtype),
               nnp_tensor_shape_str(&vals[i]->t, shape, sizeof shape));
    if (n == 0)
        printf("%-10s (none)\n", label);
}

void show_model(const struct nnp_graph *g, const struct nnp_model_report *m)
{
    printf("%-10s %s\n", "model", m->path);
    printf("%-10s %" PRIu64 " bytes, %" PRIu64 " with zstd\n", "size", m->sizes.onnx_bytes,
           m->sizes.zstd_bytes);
    printf("%-10s %s %s\n", "producer", *g->producer_name ? g->producer_name : "(unknown)",
           g->producer_version);
    printf("%-10s ir %" PRId64 ", opset", "versions", g->ir_version);
    for (int i = 0; i < g->n_opsets; i++)
        printf("%s %s %" PRId64, i ? "," : "", *g->opsets[i].domain ? g->opsets[i].domain : "ai.onnx",
               g->opsets[i].version);
    printf("\n");
    io_line("inputs", g->inputs, g->n_inputs);
    io_line("outputs", g->outputs, g->n_outputs);
    printf("%-10s %d nodes:", "ops", m->summary.n_nodes);
    for (int i = 0; i < m->summary.n_ops; i++)
        printf(" %s %d%s", m->summary.ops[i].op, m->summary.ops[i].count,
               i + 1 < m->summary.n_ops ? "," : "");
    printf("\n");
}

void show_layers(const struct nnp_summary *s)
{
    int wn = 5, wo = 2, ww = 6, ws = 5;
    for (int i = 0; i < s->n_layers; i++) {
        const struct nnp_layer *l = &s->layers[i];
        wn = (int)strlen(l->node) > wn ? (int)strlen(l->node) : wn;
        wo = (int)strlen(l->op) > wo ? (int)strlen(l->op) : wo;
        ww = (int)strlen(l->weight) > ww ? (int)strlen(l->weight) : ww;
        ws = (int)strlen(l->shape) > ws ? (int)strlen(l->shape) : ws;
    }
    wn = wn > 40 ? 40 : wn;
    ww = ww > 40 ? 40 : ww;
    printf("\n%-*s  %-*s  %-*s  %-*s  %10s  %-8s  %8s  %10s\n", wn, "layer", wo, "op", ww, "weight",
           ws, "shape", "params", "dtype", "sparsity", "bytes");
    for (int i = 0; i < s->n_layers; i++) {
        const struct nnp_layer *l = &s->layers[i];
        char sp[16];
        if (l->nonzeros < 0 || l->params == 0)
            snprintf(sp, sizeof sp, "-");
        else
            snprintf(sp, sizeof sp, "%.1f%%", 100.0 * (1.0 - (double)l->nonzeros / (double)l->params));
        printf("%-*.*s  %-*s  %-*.*s  %-*s  %10" PRId64 "  %-8s  %8s  %10" PRIu64 "\n", wn, wn, l->node,
               wo, l->op, ww, ww, l->weight, ws, l->shape, l->params, nnp_dtype_name(l->dtype), sp,
               l->bytes);
    }
    char sp[16];
    snprintf(sp, sizeof sp, "%.1f%%",
             s->params ? 100.0 * (1.0 - (double)s->nonzeros / (double)s->params) : 0.0);
    printf("%-*s  %-*s  %-*s  %-*s  %10" PRId64 "  %-8s  %8s  %10" PRIu64 "\n", wn, "total", wo, "",
           ww, "", ws, "", s->params, "", sp, s->weight_bytes);
}

static void cmp_row(const char *what, double before, double after, const char *fmt)
{
    char b[32], a[32];
    snprintf(b, sizeof b, fmt, before);
    snprintf(a, sizeof a, fmt, after);
    if (before > 0)
        printf("%-14s %14s %14s %9.3fx\n", what, b, a, after / before);
    else
        printf("%-14s %14s %14s %10s\n", what, b, a, "-");
}

void show_compare(const struct nnp_report *r)
{
    for (int i = 0; i < r->n_passes; i++) {
        const struct nnp_pass_record *p = &r->passes[i];
        printf("pass %s(%s): %.3f s", p->name, p->options, p->seconds);
        for (int k = 0; k < p->n_stats; k++)
            printf("%s %s=%g", k ? "," : "", p->stats[k].key, p->stats[k].value);
        printf("\n");
    }
    const struct nnp_model_report *b = &r->before, *a = &r->after;
    printf("\n%-14s %14s %14s %10s\n", "", "before", "after", "ratio");
    cmp_row("onnx bytes", (double)b->sizes.onnx_bytes, (double)a->sizes.onnx_bytes, "%.0f");
    cmp_row("zstd bytes", (double)b->sizes.zstd_bytes, (double)a->sizes.zstd_bytes, "%.0f");
    cmp_row("params", (double)b->summary.params, (double)a->summary.params, "%.0f");
    cmp_row("nonzeros", (double)b->summary.nonzeros, (double)a->summary.nonzeros, "%.0f");
    cmp_row("weight bytes", (double)b->summary.weight_bytes, (double)a->summary.weight_bytes, "%.0f");
    cmp_row("bits/weight", b->summary.bits_per_weight, a->summary.bits_per_weight, "%.2f");
    cmp_row("nodes", b->summary.n_nodes, a->summary.n_nodes, "%.0f");
}
