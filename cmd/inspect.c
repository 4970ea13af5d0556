/* cmd/inspect.c — `nnpress inspect MODEL [--json]`. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cli.h"
#include "cmd/model_io.h"
#include "formats/report_json.h"

static const struct cli_opt opts[] = {
    {"json", 0, NULL, "print the summary as JSON (schema in nnpress-report(5))", false},
    {0},
};

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    struct loaded m;
    int rc = model_load(a->pos[0], &m);
    if (rc)
        return rc;
    if (cli_flag(a, "json")) {
        char *text = nnp_inspect_json(m.g, &m.rep);
        if (!text) {
            model_unload(&m);
            return cli_fail(nnp_errorf(NNP_ERR_NOMEM, "out of memory writing JSON"));
        }
        fputs(text, stdout);
        free(text);
    } else if (!a->quiet) {
        show_model(m.g, &m.rep);
        show_layers(&m.rep.summary);
    }
    model_unload(&m);
    return 0;
}

const struct cli_cmd cmd_inspect = {
    .name = "inspect",
    .usage = "MODEL",
    .summary = "Show a model: versions, inputs and outputs, op histogram, per-layer weights.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
