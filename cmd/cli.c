/* cmd/cli.c — option parsing, help and error printing for every subcommand. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cli_opt common_opts[] = {
    {"quiet", 'q', NULL, "print nothing but errors", false},
    {"help", 'h', NULL, "show this help and exit", false},
    {0},
};

static void collect_opts(const struct cli_cmd *cmd, struct cli_args *a)
{
    a->n_opts = 0;
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        a->opts[a->n_opts++] = o;
    for (const struct cli_opt *o = common_opts; o->name; o++)
        a->opts[a->n_opts++] = o;
}

void cli_print_help(const struct cli_cmd *cmd)
{
    struct cli_args a = {0};
    collect_opts(cmd, &a);
    printf("usage: nnpress %s [options] %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage,
           cmd->summary);
    for (int i = 0; i < a.n_opts; i++) {
        const struct cli_opt *o = a.opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        printf("  %-28s %s\n", left, o->help);
    }
}

static int usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "nnpress: error: %s: %s (see 'nnpress %s --help')\n", cmd->name, msg,
            cmd->name);
    return 2;
}

int cli_usage(const struct cli_args *a, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return usage_error(a->cmd, "%s", msg);
}

static int add_value(struct cli_args *a, int k, const char *v)
{
    const char **vals = realloc(a->values[k], (size_t)(a->count[k] + 1) * sizeof *vals);
    if (!vals) {
        fputs("nnpress: error: out of memory\n", stderr);
        exit(1);
    }
    vals[a->count[k]++] = v;
    a->values[k] = vals;
    return 0;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    collect_opts(cmd, a);
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->pos)
        return 2;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == '\0') { /* "-" alone is a positional (stdin) */
            a->pos[a->n_pos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        int k = -1;
        const char *inline_val = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (int j = 0; j < a->n_opts && k < 0; j++)
                if (strlen(a->opts[j]->name) == len && strncmp(a->opts[j]->name, name, len) == 0)
                    k = j;
            if (k < 0)
                return usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
            if (eq)
                inline_val = eq + 1;
        } else {
            for (int j = 0; j < a->n_opts && k < 0; j++)
                if (a->opts[j]->short_name == arg[1])
                    k = j;
            if (k < 0)
                return usage_error(cmd, "unknown option '-%c'", arg[1]);
            if (arg[2])
                inline_val = arg + 2; /* -ofile */
        }
        const struct cli_opt *o = a->opts[k];
        if (a->count[k] && !o->repeat && o->arg)
            return usage_error(cmd, "option '--%s' given twice", o->name);
        if (!o->arg) {
            if (inline_val)
                return usage_error(cmd, "option '--%s' takes no value", o->name);
            add_value(a, k, "1");
        } else if (inline_val) {
            add_value(a, k, inline_val);
        } else {
            if (i + 1 >= argc)
                return usage_error(cmd, "option '--%s' needs a value (%s)", o->name, o->arg);
            add_value(a, k, argv[++i]);
        }
    }
    if (cli_flag(a, "help")) {
        cli_print_help(cmd);
        return -1;
    }
    a->quiet = cli_flag(a, "quiet");
    if (a->n_pos < cmd->min_pos)
        return usage_error(cmd, "missing %s", cmd->usage);
    if (a->n_pos > cmd->max_pos)
        return usage_error(cmd, "unexpected argument '%s'", a->pos[cmd->max_pos]);
    return 0;
}

void cli_args_free(struct cli_args *a)
{
    for (int i = 0; i < CLI_MAX_OPTS; i++)
        free(a->values[i]);
    free(a->pos);
    memset(a, 0, sizeof *a);
}

static int find(const struct cli_args *a, const char *name)
{
    for (int i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i]->name, name) == 0)
            return i;
    return -1; /* asking for an option the command does not have is a bug */
}

const char *cli_value(const struct cli_args *a, const char *name)
{
    int k = find(a, name);
    NNP_ASSERT(k >= 0);
    return a->count[k] ? a->values[k][a->count[k] - 1] : NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    return cli_value(a, name) != NULL;
}

int cli_count(const struct cli_args *a, const char *name)
{
    int k = find(a, name);
    NNP_ASSERT(k >= 0);
    return a->count[k];
}

const char *cli_nth(const struct cli_args *a, const char *name, int i)
{
    int k = find(a, name);
    NNP_ASSERT(k >= 0 && i < a->count[k]);
    return a->values[k][i];
}

int cli_int(const struct cli_args *a, const char *name, int64_t def, int64_t min, int64_t max,
            int64_t *out)
{
    const char *s = cli_value(a, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return cli_usage(a, "--%s '%s': expected an integer", name, s);
    if (v < min || v > max)
        return cli_usage(a, "--%s %s: out of range %lld..%lld", name, s, (long long)min,
                         (long long)max);
    *out = v;
    return 0;
}

int cli_float(const struct cli_args *a, const char *name, double def, double min, double max,
              double *out)
{
    const char *s = cli_value(a, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return cli_usage(a, "--%s '%s': expected a number", name, s);
    if (v < min || v > max)
        return cli_usage(a, "--%s %s: out of range %g..%g", name, s, min, max);
    *out = v;
    return 0;
}

int cli_print_json(char *text)
{
    if (!text)
        return cli_fail(nnp_errorf(NNP_ERR_NOMEM, "out of memory writing JSON"));
    fputs(text, stdout);
    free(text);
    return 0;
}

int cli_fail(enum nnp_status st)
{
    fprintf(stderr, "nnpress: error: %s\n", nnp_error_message());
    return nnp_exit_code(st);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
