/* cmd/main.c — `nnpress COMMAND [options] ARGS`: find the command and run it. */
#include <stdio.h>
#include <string.h>

#include "cmd/blas_env.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "formats/zstd.h"
#include "passes/pass.h"

static const struct cli_cmd *const commands[] = {
#define X(name) &cmd_##name,
#include "cmd/commands.def"
#undef X
    NULL,
};

static void print_usage(FILE *f)
{
    fprintf(f, "usage: nnpress COMMAND [options] ARGS\n\n"
               "Compress ONNX models: prune, quantize, distill, and measure what it cost.\n\n"
               "commands:\n");
    for (int i = 0; commands[i]; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\npass commands (one pass of 'compress', options as --OPTION VALUE):\n");
    const struct nnp_pass *const *reg = nnp_pass_registry();
    for (int i = 0; reg[i]; i++)
        fprintf(f, "  %-12s %s\n", reg[i]->name, reg[i]->help);
    fprintf(f, "\noptions:\n"
               "  -h, --help       show this help and exit\n"
               "  -V, --version    show the version and exit\n"
               "\n'nnpress COMMAND --help' describes a command; 'man nnpress' the rest.\n");
}

int main(int argc, char **argv)
{
    cli_blas_env(argv); /* may run the program again, with OPENBLAS_CORETYPE set */
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("nnpress %s (zstd %s)\n", NNP_VERSION, nnp_zstd_version());
        return 0;
    }
    for (int i = 0; commands[i]; i++) {
        if (strcmp(commands[i]->name, name) != 0)
            continue;
        struct cli_args a;
        int rc = cli_parse(commands[i], argc - 2, argv + 2, &a);
        if (rc == 0)
            rc = commands[i]->run(commands[i], &a);
        cli_args_free(&a);
        return rc < 0 ? 0 : rc;
    }
    const struct nnp_pass *pass = nnp_pass_find(name);
    if (pass)
        return cmd_pass_main(pass, argc - 2, argv + 2);
    fprintf(stderr, "nnpress: error: unknown command '%s' (see 'nnpress --help')\n", name);
    return 2;
}
