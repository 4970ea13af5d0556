/* passes/quantize_fp16.h — quantize(type=fp16), internal to the quantize pass: its
 * option table and dispatch are in passes/quantize.c, the rewrite in
 * passes/quantize_fp16.c.
 *
 *     struct nnp_fp16_opts o = {.ops = "Conv+Gemm+MatMul", .exclude = ""};
 *     enum nnp_status st = nnp_quantize_fp16(g, &o, ctx, rec);
 */
#ifndef NNP_PASSES_QUANTIZE_FP16_H
#define NNP_PASSES_QUANTIZE_FP16_H

#include "passes/pass.h"

struct nnp_fp16_opts {
    const char *ops;     /* '+'-separated operator types whose weights become float16 */
    const char *exclude; /* '+'-separated node names or operator types left float32 */
    bool compute;          /* compute=fp16: the whole float graph in float16 */
    bool keep_io;          /* compute=fp16: graph inputs and outputs stay float32 */
    int64_t calib_samples; /* compute=fp16: samples of ctx->data_path scanned */
};

/*! nnp_quantize_fp16_check() : the option combinations type=fp16 refuses (keep_io=0
 *  without compute=fp16; ops= with it, which converts every float node), as usage
 *  errors. `ops_given`: ops= was not left empty. @return NNP_OK or NNP_ERR_USAGE. */
enum nnp_status nnp_quantize_fp16_check(const struct nnp_fp16_opts *o, bool ops_given);

/*! nnp_quantize_fp16() : rewrite g (linked, Constant weights made initializers) as
 *  type=fp16 asks, its statistics in rec. @return NNP_OK or an error with a message. */
enum nnp_status nnp_quantize_fp16(struct nnp_graph *g, const struct nnp_fp16_opts *o,
                                  struct nnp_pass_ctx *ctx, struct nnp_pass_record *rec);

#endif
