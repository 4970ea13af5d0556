/* passes/pipeline.c — the pass registry, pipeline parsing and running.
 *
 * Grammar:   pipeline := "" | "none" | step ("," step)*
 *            step     := NAME [ "(" [ opt ("," opt)* ] ")" ]
 *            opt      := NAME "=" VALUE
 * Blanks around tokens are ignored. Errors quote the pipeline and give the
 * 1-based column of the offending text, so a long pipeline in a Makefile is
 * easy to fix. */
#include "pass.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define X(name) extern const struct nnp_pass nnp_pass_##name;
#include "passes.def"
#undef X

static const struct nnp_pass *const registry[] = {
#define X(name) &nnp_pass_##name,
#include "passes.def"
#undef X
    NULL,
};

const struct nnp_pass *const *nnp_pass_registry(void)
{
    return registry;
}

const struct nnp_pass *nnp_pass_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const struct nnp_tensor *nnp_pass_f32_const(const struct nnp_value *v)
{
    const struct nnp_tensor *t = v ? nnp_value_constant(v) : NULL;
    if (t && t->dtype == NNP_DTYPE_F32 && t->data && t->storage == NNP_STORAGE_DENSE)
        return t;
    return NULL;
}

bool nnp_pass_in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, '+');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n + (end != NULL);
    }
    return false;
}

void nnp_pass_stat(struct nnp_pass_record *rec, const char *key, double value)
{
    NNP_ASSERT(rec->n_stats < NNP_REPORT_MAX_STATS);
    rec->stats[rec->n_stats].key = key;
    rec->stats[rec->n_stats].value = value;
    rec->n_stats++;
}

static char *copy_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

enum nnp_status nnp_pass_keep(struct nnp_pass_record *rec, const struct nnp_node *n,
                              const char *reason)
{
    if (!rec)
        return NNP_OK;
    struct nnp_kept_node *k = realloc(rec->kept, (size_t)(rec->n_kept + 1) * sizeof *k);
    if (!k)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    rec->kept = k;
    k += rec->n_kept;
    k->node = copy_str(n->name);
    k->op = copy_str(n->op_type);
    k->reason = copy_str(reason);
    if (!k->node || !k->op || !k->reason) {
        free(k->node);
        free(k->op);
        free(k->reason);
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    }
    rec->n_kept++;
    return NNP_OK;
}

static void records_free(struct nnp_pass_record *records, int n)
{
    for (int s = 0; records && s < n; s++) {
        for (int k = 0; k < records[s].n_kept; k++) {
            free(records[s].kept[k].node);
            free(records[s].kept[k].op);
            free(records[s].kept[k].reason);
        }
        free(records[s].kept);
    }
    free(records);
}

void nnp_pass_opt_describe(const struct nnp_pass_opt *o, char *buf, size_t size)
{
    switch (o->type) {
    case NNP_OPT_BOOL: snprintf(buf, size, "%s (0 or 1)", o->def); break;
    case NNP_OPT_INT: snprintf(buf, size, "%s (%.0f..%.0f)", o->def, o->min, o->max); break;
    case NNP_OPT_FLOAT: snprintf(buf, size, "%s (%g..%g)", o->def, o->min, o->max); break;
    case NNP_OPT_CHOICE: snprintf(buf, size, "%s (%s)", o->def, o->choices); break;
    case NNP_OPT_STRING: snprintf(buf, size, "\"%s\"", o->def); break;
    }
}

struct step {
    const struct nnp_pass *pass;
    union nnp_opt_value opt[NNP_PASS_MAX_OPTS];
    char *text[NNP_PASS_MAX_OPTS]; /* value as written (or the default), for the report */
};

struct nnp_pipeline {
    int n_steps;
    struct step *steps;
    struct nnp_pass_record *records;
};

/* Parse one option value; on error the message says what was expected. */
static enum nnp_status parse_value(const struct nnp_pass_opt *o, const char *s,
                                   union nnp_opt_value *v, char *why, size_t why_size)
{
    char *end;
    switch (o->type) {
    case NNP_OPT_BOOL:
        if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes"))
            v->i = 1;
        else if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no"))
            v->i = 0;
        else
            return snprintf(why, why_size, "expected 0 or 1"), NNP_ERR_USAGE;
        return NNP_OK;
    case NNP_OPT_INT:
        errno = 0;
        v->i = strtoll(s, &end, 10);
        if (!*s || *end || errno)
            return snprintf(why, why_size, "expected an integer"), NNP_ERR_USAGE;
        if ((double)v->i < o->min || (double)v->i > o->max)
            return snprintf(why, why_size, "out of range %.0f..%.0f", o->min, o->max),
                   NNP_ERR_USAGE;
        return NNP_OK;
    case NNP_OPT_FLOAT:
        errno = 0;
        v->f = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(v->f))
            return snprintf(why, why_size, "expected a number"), NNP_ERR_USAGE;
        if (v->f < o->min || v->f > o->max)
            return snprintf(why, why_size, "out of range %g..%g", o->min, o->max), NNP_ERR_USAGE;
        return NNP_OK;
    case NNP_OPT_CHOICE: {
        size_t n = strlen(s);
        int idx = 0;
        for (const char *c = o->choices; *c; idx++) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && strncmp(c, s, n) == 0) {
                v->i = idx;
                return NNP_OK;
            }
            c += len + (bar != NULL);
        }
        return snprintf(why, why_size, "expected one of %s", o->choices), NNP_ERR_USAGE;
    }
    case NNP_OPT_STRING: v->s = s; return NNP_OK;
    }
    return NNP_ERR_USAGE;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    NNP_ASSERT(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static enum nnp_status set_option(struct step *st, int k, const char *value, char *why,
                                  size_t why_size)
{
    char *copy = dupn(value, strlen(value));
    enum nnp_status rc = parse_value(&st->pass->opts[k], copy, &st->opt[k], why, why_size);
    if (rc != NNP_OK) {
        free(copy);
        return rc;
    }
    free(st->text[k]);
    st->text[k] = copy;
    return NNP_OK;
}

static int find_opt(const struct nnp_pass *p, const char *name, size_t len)
{
    for (int k = 0; k < p->n_opts; k++)
        if (strlen(p->opts[k].name) == len && strncmp(p->opts[k].name, name, len) == 0)
            return k;
    return -1;
}

static void known_passes(char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; registry[i] && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", registry[i]->name);
}

static void known_opts(const struct nnp_pass *p, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    if (p->n_opts == 0)
        snprintf(buf, size, "none");
    for (int i = 0; i < p->n_opts && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", p->opts[i].name);
}

static void skip_blanks(const char *t, size_t *i)
{
    while (t[*i] == ' ' || t[*i] == '\t' || t[*i] == '\n')
        (*i)++;
}

#define PERR(col, ...) pipeline_error(text, col, __VA_ARGS__)

static enum nnp_status pipeline_error(const char *text, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum nnp_status pipeline_error(const char *text, size_t col, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return nnp_errorf(NNP_ERR_USAGE, "--passes '%s': column %zu: %s", text, col + 1, what);
}

static void init_defaults(struct step *st)
{
    char why[128];
    for (int k = 0; k < st->pass->n_opts; k++) {
        enum nnp_status rc = set_option(st, k, st->pass->opts[k].def, why, sizeof why);
        NNP_ASSERT(rc == NNP_OK); /* a default that does not parse is a bug in the table */
    }
}

enum nnp_status nnp_pipeline_parse(const char *text, struct nnp_pipeline **out)
{
    *out = NULL;
    struct nnp_pipeline *p = calloc(1, sizeof *p);
    NNP_ASSERT(p);
    size_t i = 0, n = strlen(text);
    skip_blanks(text, &i);
    if (i == n || strcmp(text + i, "none") == 0) {
        *out = p;
        return NNP_OK;
    }
    char why[256], list[512];
    enum nnp_status rc = NNP_OK;
    for (;;) {
        skip_blanks(text, &i);
        size_t start = i;
        while (isalnum((unsigned char)text[i]) || text[i] == '_' || text[i] == '-')
            i++;
        if (i == start) {
            rc = PERR(i, "expected a pass name%s", text[i] ? "" : " after ','");
            break;
        }
        char *name = dupn(text + start, i - start);
        const struct nnp_pass *pass = nnp_pass_find(name);
        if (!pass) {
            known_passes(list, sizeof list);
            rc = PERR(start, "unknown pass '%s' (known: %s)", name, list);
            free(name);
            break;
        }
        free(name);
        p->steps = realloc(p->steps, (size_t)(p->n_steps + 1) * sizeof *p->steps);
        NNP_ASSERT(p->steps);
        struct step *st = &p->steps[p->n_steps++];
        memset(st, 0, sizeof *st);
        st->pass = pass;
        init_defaults(st);
        skip_blanks(text, &i);
        if (text[i] == '(') {
            i++;
            bool seen[NNP_PASS_MAX_OPTS] = {0};
            skip_blanks(text, &i);
            while (rc == NNP_OK && text[i] != ')') {
                size_t ks = i;
                while (isalnum((unsigned char)text[i]) || text[i] == '_')
                    i++;
                if (i == ks) {
                    rc = PERR(i, "expected an option name of %s", pass->name);
                    break;
                }
                int k = find_opt(pass, text + ks, i - ks);
                if (k < 0) {
                    known_opts(pass, list, sizeof list);
                    rc = PERR(ks, "pass %s has no option '%.*s' (options: %s)", pass->name,
                              (int)(i - ks), text + ks, list);
                    break;
                }
                if (seen[k]) {
                    rc = PERR(ks, "option '%s' given twice", pass->opts[k].name);
                    break;
                }
                seen[k] = true;
                skip_blanks(text, &i);
                if (text[i] != '=') {
                    rc = PERR(i, "expected '=' after '%s'", pass->opts[k].name);
                    break;
                }
                i++;
                skip_blanks(text, &i);
                size_t vs = i;
                while (text[i] && text[i] != ',' && text[i] != ')' && text[i] != ' ')
                    i++;
                char *val = dupn(text + vs, i - vs);
                if (set_option(st, k, val, why, sizeof why) != NNP_OK)
                    rc = PERR(vs, "%s(%s=%s): %s", pass->name, pass->opts[k].name, val, why);
                free(val);
                skip_blanks(text, &i);
                if (rc == NNP_OK && text[i] == ',') {
                    i++;
                    skip_blanks(text, &i);
                } else if (rc == NNP_OK && text[i] != ')') {
                    rc = PERR(i, text[i] ? "expected ',' or ')'" : "missing ')'");
                }
            }
            if (rc != NNP_OK)
                break;
            i++; /* ')' */
            skip_blanks(text, &i);
        }
        if (text[i] == '\0')
            break;
        if (text[i] != ',') {
            rc = PERR(i, "expected ',' between passes");
            break;
        }
        i++;
    }
    if (rc != NNP_OK) {
        nnp_pipeline_free(p);
        return rc;
    }
    *out = p;
    return NNP_OK;
}

enum nnp_status nnp_pipeline_set(struct nnp_pipeline *p, int step, const char *name,
                                 const char *value)
{
    NNP_ASSERT(step >= 0 && step < p->n_steps);
    struct step *st = &p->steps[step];
    int k = find_opt(st->pass, name, strlen(name));
    if (k < 0)
        return nnp_errorf(NNP_ERR_USAGE, "%s has no option '%s'", st->pass->name, name);
    char why[256];
    if (set_option(st, k, value, why, sizeof why) != NNP_OK)
        return nnp_errorf(NNP_ERR_USAGE, "--%s %s: %s", name, value, why);
    return NNP_OK;
}

const union nnp_opt_value *nnp_pipeline_options(const struct nnp_pipeline *p, int step)
{
    NNP_ASSERT(step >= 0 && step < p->n_steps);
    return p->steps[step].opt;
}

int nnp_pipeline_length(const struct nnp_pipeline *p)
{
    return p->n_steps;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum nnp_status nnp_pipeline_run(struct nnp_pipeline *p, struct nnp_graph *g,
                                 struct nnp_pass_ctx *ctx)
{
    records_free(p->records, p->n_steps);
    p->records = calloc((size_t)p->n_steps + 1, sizeof *p->records);
    NNP_ASSERT(p->records);
    ctx->records = p->records;
    ctx->n_records = 0;
    for (int s = 0; s < p->n_steps; s++) {
        struct step *st = &p->steps[s];
        struct nnp_pass_record *rec = &p->records[s];
        rec->name = st->pass->name;
        size_t k = 0;
        for (int o = 0; o < st->pass->n_opts && k < sizeof rec->options; o++)
            k += (size_t)snprintf(rec->options + k, sizeof rec->options - k, "%s%s=%s",
                                  o ? "," : "", st->pass->opts[o].name, st->text[o]);
        double t0 = now_seconds();
        enum nnp_status rc = st->pass->run(g, st->opt, ctx, rec);
        rec->seconds = now_seconds() - t0;
        ctx->n_records = s + 1;
        if (rc != NNP_OK) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "pass %s", st->pass->name);
            nnp_error_prefix(prefix);
            return rc;
        }
        /* every pass leaves a valid graph: catch a pass bug here, not in ONNX Runtime */
        rc = nnp_graph_validate(g);
        if (rc != NNP_OK) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "after pass %s", st->pass->name);
            nnp_error_prefix(prefix);
            return rc;
        }
    }
    return NNP_OK;
}

void nnp_pipeline_free(struct nnp_pipeline *p)
{
    if (!p)
        return;
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; k < NNP_PASS_MAX_OPTS; k++)
            free(p->steps[s].text[k]);
    records_free(p->records, p->n_steps);
    free(p->steps);
    free(p);
}
