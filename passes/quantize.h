/* passes/quantize.h — per-node sensitivity of int8 quantization (passes/quantize.c),
 * what `nnpress sensitivity` prints and quantize(max_accuracy_drop=X) decides on.
 *
 *     const union nnp_opt_value *opt = nnp_pipeline_options(p, 0);  // a quantize step
 *     struct nnp_measure_src src = {.data_path = ..., .labels_path = ..., .samples = 1000};
 *     struct nnp_sensitivity s;
 *     if (nnp_quantize_sensitivity(g, opt, &ctx, &src, &s) != NNP_OK)
 *         return fail();
 *     for (int i = 0; i < s.n_layers; i++)          // most sensitive first
 *         printf("%s %.1f dB\n", s.layers[i].name, s.layers[i].sqnr_db);
 *     nnp_sensitivity_free(&s);
 *
 * For every node the pass would quantize with these options, a copy of the model with
 * only that node quantized (everything else float32) is run on the samples of `src`, and
 * its first output compared with the float model's: SQNR, and top-1 accuracy with
 * labels. Activations are calibrated once, on ctx->data_path, as the pass would.
 */
#ifndef NNP_PASSES_QUANTIZE_H
#define NNP_PASSES_QUANTIZE_H

#include <stddef.h>

#include "passes/measure.h"
#include "passes/pass.h"

struct nnp_sens_layer {
    const char *name;    /* the node's name (owned by the graph measured) */
    const char *op_type; /* "Conv" */
    int node;            /* its index in the graph's nodes */
    struct nnp_measure_result q; /* with only this node quantized */
};

struct nnp_sensitivity {
    struct nnp_measure_result fp;  /* the float model */
    struct nnp_measure_result all; /* every node quantized */
    int n_layers;
    struct nnp_sens_layer *layers; /* (n_layers) ranked: lowest SQNR first; on equal SQNR,
                                      fewer right answers first, then the graph's order */
    int64_t calib_samples;         /* samples calibrated on (0 unless mode=static) */
    size_t bytes_float, bytes_all; /* the ONNX bytes of the float model, and all quantized */
};

/*! nnp_quantize_sensitivity() : rank the nodes the quantize pass would quantize with the
 *  options `opt` (a quantize step's: nnp_pipeline_options()) by how much quantizing each
 *  one alone changes the output. g is linked and its Constant weights made initializers,
 *  nothing else; it must outlive *out. Messages for the nodes left in float are printed
 *  unless ctx->quiet, as by the pass. @return NNP_OK, or an error (type=fp16, no
 *  candidate, data that does not fit...). */
enum nnp_status nnp_quantize_sensitivity(struct nnp_graph *g, const union nnp_opt_value *opt,
                                         struct nnp_pass_ctx *ctx,
                                         const struct nnp_measure_src *src,
                                         struct nnp_sensitivity *out);

/*! Frees what nnp_quantize_sensitivity() allocated; accepts a zeroed struct. */
void nnp_sensitivity_free(struct nnp_sensitivity *s);

#endif
