/* cmd/model_io.h — load a model with its sizes, save one safely, print tables.
 *
 *     struct loaded m;
 *     if ((rc = model_load(path, &m)) != 0) return rc;   // error already printed
 *     show_model(&m);
 *     model_unload(&m);
 */
#ifndef NNP_CMD_MODEL_IO_H
#define NNP_CMD_MODEL_IO_H

#include "kernels/graph.h"
#include "kernels/report.h"

struct loaded {
    struct nnp_graph *g;
    struct nnp_model_report rep; /* path, sizes (of the file as read), summary */
};

/*! Read and validate a model, measure its sizes. @return 0 or an exit code (printed). */
int model_load(const char *path, struct loaded *m);
void model_unload(struct loaded *m);

/*! Serialize g, fill rep->sizes and rep->summary for what will be written.
 *  *bytes is malloc'd. @return 0 or an exit code (printed). */
int model_serialize(struct nnp_graph *g, const char *path, struct nnp_model_report *rep,
                    uint8_t **bytes, size_t *size);

/*! Refuse to overwrite `input` with `output` unless force. @return 0 or 2 (printed). */
int check_not_input(const char *input, const char *output, int force);

/* Tables on stdout. */
void show_model(const struct nnp_graph *g, const struct nnp_model_report *m);
void show_layers(const struct nnp_summary *s);
void show_compare(const struct nnp_report *r);

#endif
