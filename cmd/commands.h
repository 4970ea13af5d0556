/* cmd/commands.h — the subcommand table entries (cmd/commands.def). */
#ifndef NNP_CMD_COMMANDS_H
#define NNP_CMD_COMMANDS_H

#include "cmd/cli.h"

#define X(name) extern const struct cli_cmd cmd_##name;
#include "cmd/commands.def"
#undef X

/*! `nnpress PASS MODEL -o OUT [--OPTION VALUE ...]`: one pass as a command (cmd/compress.c). */
int cmd_pass_main(const struct nnp_pass *pass, int argc, char **argv);

#endif
