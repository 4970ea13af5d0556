/* cmd/passes.c — `nnpress passes`: every pass with its options and defaults. */
#include <stdio.h>

#include "cmd/cli.h"
#include "passes/pass.h"

static const char *type_name(enum nnp_opt_type t)
{
    switch (t) {
    case NNP_OPT_BOOL: return "bool";
    case NNP_OPT_INT: return "int";
    case NNP_OPT_FLOAT: return "float";
    case NNP_OPT_CHOICE: return "choice";
    case NNP_OPT_STRING: return "string";
    }
    return "?";
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    if (a->quiet)
        return 0;
    const struct nnp_pass *const *reg = nnp_pass_registry();
    for (int i = 0; reg[i]; i++) {
        printf("%s%s\n    %s\n", i ? "\n" : "", reg[i]->name, reg[i]->help);
        for (int k = 0; k < reg[i]->n_opts; k++) {
            const struct nnp_pass_opt *o = &reg[i]->opts[k];
            char def[128];
            nnp_pass_opt_describe(o, def, sizeof def);
            printf("    %-14s %-6s default %-22s %s\n", o->name, type_name(o->type), def, o->help);
        }
    }
    return 0;
}

const struct cli_cmd cmd_passes = {
    .name = "passes",
    .usage = "",
    .summary = "List every pass of --passes with its options, types, defaults and ranges.",
    .opts = (const struct cli_opt[]){{0}},
    .min_pos = 0,
    .max_pos = 0,
    .run = run,
};
