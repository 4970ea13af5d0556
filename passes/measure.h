/* passes/measure.h — how far a rewritten model's answers are from the float model's,
 * on the first samples of a data set: what quantization sensitivity and
 * max_accuracy_drop (passes/quantize.c) decide on.
 *
 *     struct nnp_measure_src src = {.data_path = "images.idx.gz", .labels_path = "labels.idx.gz",
 *                                   .samples = 1000, .scale = 1 / 255.0f, .threads = 2};
 *     struct nnp_measure *m;
 *     struct nnp_measure_result fp, q;
 *     if (nnp_measure_new(float_g, &src, &m, &fp) != NNP_OK) // runs float_g: the reference
 *         return fail();
 *     nnp_measure_run(m, quantized_g, &q);   // q.sqnr_db, q.correct against fp.correct
 *     nnp_measure_free(m);
 *
 * Only the first output counts, as in `nnpress eval`: its SQNR over every value of every
 * sample, 10 log10(sum ref^2 / sum (ref - x)^2), and its top-1 accuracy. The data is read
 * a batch at a time (memory does not grow with it); the float model's first output is
 * kept whole, samples x values per sample.
 */
#ifndef NNP_PASSES_MEASURE_H
#define NNP_PASSES_MEASURE_H

#include <stdint.h>

#include "kernels/graph.h"
#include "kernels/status.h"

/* Where the samples come from. */
struct nnp_measure_src {
    const char *data_path;   /* the samples: .npy, IDX, IDX.gz, .pb */
    const char *labels_path; /* their classes, or NULL (no accuracy) */
    int64_t samples;         /* the first this many (all when the file has fewer) */
    float scale, shift;      /* integer data becomes x * scale + shift */
    int threads;
};

struct nnp_measure_result {
    int64_t samples; /* measured on */
    int64_t correct; /* top-1 right answers; -1 without labels */
    double sqnr_db;  /* the first output against the float model's; +inf when identical */
};

struct nnp_measure;

/*! nnp_measure_new() : open the data (and labels, which must count as many as the data),
 *  run `ref` on it and keep its first output as the reference; *ref_result is its
 *  accuracy (sqnr_db +inf). `ref` is not kept. @return NNP_OK and *out (free with
 *  nnp_measure_free()), or an error naming the file (data that does not fit the model's
 *  one input, labels of another count, no samples). */
enum nnp_status nnp_measure_new(const struct nnp_graph *ref, const struct nnp_measure_src *src,
                                struct nnp_measure **out, struct nnp_measure_result *ref_result);

/*! nnp_measure_run() : run g (the same input and output shapes as the reference) on the
 *  same samples. @return NNP_OK and *r, or the runtime's error. */
enum nnp_status nnp_measure_run(struct nnp_measure *m, const struct nnp_graph *g,
                                struct nnp_measure_result *r);

/*! Frees m; accepts NULL. */
void nnp_measure_free(struct nnp_measure *m);

#endif
