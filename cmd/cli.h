/* cmd/cli.h — what every nnpress subcommand shares: its option table, parsing,
 * --help, errors and exit codes. The only code that prints or exits.
 *
 *     static const struct cli_opt opts[] = {
 *         {"json", 0, NULL, "print JSON instead of tables"},
 *         {"output", 'o', "FILE", "write the model to FILE"},
 *         {0},
 *     };
 *     const struct cli_cmd cmd_inspect = {"inspect", "MODEL", "Show ...", opts, 1, 1, run};
 *
 *     static int run(const struct cli_cmd *cmd, struct cli_args *a) {
 *         if (cli_flag(a, "json")) ...
 *         return cli_fail(st);                 // prints "nnpress: error: ..." once
 *     }
 */
#ifndef NNP_CMD_CLI_H
#define NNP_CMD_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/status.h"

struct nnp_pass;

#define CLI_MAX_OPTS 48

struct cli_opt {
    const char *name;  /* long name, without "--" */
    char short_name;   /* 0 if none */
    const char *arg;   /* metavariable ("FILE") if it takes a value, NULL for a flag */
    const char *help;  /* one line */
    bool repeat;       /* may be given more than once (--input A=x --input B=y) */
};

struct cli_args;

struct cli_cmd {
    const char *name;
    const char *usage;   /* after "nnpress NAME [options] " */
    const char *summary; /* one sentence */
    const struct cli_opt *opts; /* terminated by {0}; --help and --quiet are added */
    int min_pos, max_pos;       /* positional argument counts */
    int (*run)(const struct cli_cmd *cmd, struct cli_args *a);
    const struct nnp_pass *pass; /* set for the pass subcommands */
};

struct cli_args {
    const struct cli_cmd *cmd;
    int n_pos;
    char **pos;
    const struct cli_opt *opts[CLI_MAX_OPTS]; /* the command's own, then the common ones */
    int n_opts;
    int count[CLI_MAX_OPTS];
    const char **values[CLI_MAX_OPTS]; /* (count[i]) values of option i, in order */
    bool quiet;
};

/*! Parse argv (after the command name). Prints usage errors; @return 0 ok, 2 usage error,
 *  -1 when --help was printed (exit 0). */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a);
void cli_args_free(struct cli_args *a);
void cli_print_help(const struct cli_cmd *cmd);

/*! @return the last value of option `name`, or NULL. */
const char *cli_value(const struct cli_args *a, const char *name);
/*! @return whether flag `name` was given. */
bool cli_flag(const struct cli_args *a, const char *name);
/*! @return how many times `name` was given; cli_nth gives them. */
int cli_count(const struct cli_args *a, const char *name);
const char *cli_nth(const struct cli_args *a, const char *name, int i);

/*! Parse numbers from option values; on error print a usage error. @return 0 or 2. */
int cli_int(const struct cli_args *a, const char *name, int64_t def, int64_t min, int64_t max,
            int64_t *out);
int cli_float(const struct cli_args *a, const char *name, double def, double min, double max,
              double *out);

/*! Print a JSON document made by formats/report_json.c on stdout and free it; NULL (the
 *  writer ran out of memory) is reported as an error. @return 0 or the exit code. */
int cli_print_json(char *text);
/*! Print "nnpress: error: <message>" once and @return the exit code for st. */
int cli_fail(enum nnp_status st);
/*! Print a usage error ("nnpress: error: <cmd>: ...") and @return 2. */
int cli_usage(const struct cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*! @return seconds on the monotonic clock. */
double cli_now(void);

#endif
