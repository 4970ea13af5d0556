/* kernels/metrics.h — the figures `bench` and `eval` report, computed once here
 * so that every command (and later the passes that evaluate) agrees on them.
 *
 *     struct nnp_topk acc = {0};
 *     while (batch of n samples: logits[n][10], labels[n])
 *         if (nnp_topk_add(&acc, logits, n, 10, labels, first) != NNP_OK) return fail();
 *     printf("top-1 %.2f%%\n", 100.0 * (double)acc.top1 / (double)acc.samples);
 *
 *     struct nnp_compare c = {0};
 *     nnp_compare_add(&c, out, ref_out, n, 10);   // this model vs a reference, per batch
 *     double db = nnp_compare_sqnr_db(&c);         // +inf when identical
 *
 *     double ms[runs];  ... time each run ...
 *     struct nnp_latency l;
 *     nnp_latency_compute(&l, ms, runs, batch, threads);  // sorts ms
 *
 * All sums are in double: 10,000 samples x 1,000 classes of float32 would
 * lose the small differences SQNR is about if summed in float.
 */
#ifndef NNP_METRICS_H
#define NNP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/report.h"
#include "kernels/status.h"

/*! nnp_argmax() : index of the largest of x[n], the first one on ties (as NumPy
 *  and ONNX Runtime users expect); a NaN never wins over a number. n >= 1. */
int64_t nnp_argmax(const float *x, int64_t n);

/* Top-1 / top-5 accuracy against integer labels, accumulated batch by batch. */
struct nnp_topk {
    int64_t samples; /* seen so far */
    int64_t top1;    /* label was the argmax */
    int64_t top5;    /* label was among the five highest scores (ties broken by index) */
};

/*! nnp_topk_add() : add n samples of scores[n][classes] with labels[n]. `first`
 *  is the index of the first of them in the data set, for messages.
 *  @return NNP_OK, or NNP_ERR_INVALID when a label is outside 0..classes-1
 *  (message: "label L of sample S is outside 0..C-1"; the caller prefixes the file). */
enum nnp_status nnp_topk_add(struct nnp_topk *t, const float *scores, int64_t n, int64_t classes,
                             const int64_t *labels, int64_t first);

/* One output compared with the same output of a reference model. */
struct nnp_compare {
    int64_t samples; /* seen so far */
    int64_t agree;   /* samples whose argmax is the reference's */
    double max_abs;  /* largest |x - ref| (+inf if one side is NaN and the other not) */
    double max_ref;  /* largest finite |ref|, to make max_abs relative */
    double dot;      /* sum x * ref */
    double ss_x;     /* sum x^2 */
    double ss_ref;   /* sum ref^2: the signal */
    double ss_err;   /* sum (x - ref)^2: the noise */
};

/*! nnp_compare_add() : add n samples of per values each (x[n][per], ref[n][per]). */
void nnp_compare_add(struct nnp_compare *c, const float *x, const float *ref, int64_t n,
                     int64_t per);
/*! @return the cosine similarity of everything added (1 when both are all zero). */
double nnp_compare_cosine(const struct nnp_compare *c);
/*! @return 10 log10(signal / noise) with the reference as signal; +inf when
 *  identical, NaN when nothing was added. */
double nnp_compare_sqnr_db(const struct nnp_compare *c);

/*! nnp_latency_compute() : fill l from the run times ms[n_runs] (n_runs >= 1),
 *  which it sorts. Percentiles interpolate linearly between the closest ranks
 *  (NumPy's default), cv is the sample standard deviation over the mean,
 *  throughput is batch / mean in samples per second. peak_bytes is left as it was. */
void nnp_latency_compute(struct nnp_latency *l, double *ms, int n_runs, int batch, int threads);

#endif
