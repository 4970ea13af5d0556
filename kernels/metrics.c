/* kernels/metrics.c — accuracy, agreement and latency figures. */
#include "kernels/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

int64_t nnp_argmax(const float *x, int64_t n)
{
    NNP_ASSERT(n >= 1);
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        /* "not <=" rather than ">": a NaN in front is replaced by the first number */
        if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i])))
            best = i;
    return best;
}

/* The rank of class `label` among scores[classes]: how many classes come before
 * it in a stable descending sort (higher score, or equal score and lower index). */
static int64_t rank_of(const float *scores, int64_t classes, int64_t label)
{
    float s = scores[label];
    int64_t r = 0;
    if (isnan(s))
        return classes; /* a NaN score ranks last */
    for (int64_t j = 0; j < classes; j++)
        if (scores[j] > s || (scores[j] == s && j < label))
            r++;
    return r;
}

enum nnp_status nnp_topk_add(struct nnp_topk *t, const float *scores, int64_t n, int64_t classes,
                             const int64_t *labels, int64_t first)
{
    NNP_ASSERT(classes >= 1);
    for (int64_t i = 0; i < n; i++) {
        int64_t label = labels[i];
        if (label < 0 || label >= classes)
            return nnp_errorf(NNP_ERR_INVALID,
                              "label %" PRId64 " of sample %" PRId64 " is outside 0..%" PRId64
                              " (the model has %" PRId64 " classes)",
                              label, first + i, classes - 1, classes);
        const float *row = scores + i * classes;
        int64_t r = rank_of(row, classes, label);
        t->top1 += r == 0; /* rank 0 is the argmax: both take the first of equal scores */
        t->top5 += r < 5;
        t->samples++;
    }
    return NNP_OK;
}

void nnp_compare_add(struct nnp_compare *c, const float *x, const float *ref, int64_t n,
                     int64_t per)
{
    NNP_ASSERT(per >= 1);
    for (int64_t i = 0; i < n; i++) {
        const float *a = x + i * per, *b = ref + i * per;
        c->agree += nnp_argmax(a, per) == nnp_argmax(b, per);
        for (int64_t k = 0; k < per; k++) {
            double u = a[k], v = b[k];
            bool same = u == v || (isnan(u) && isnan(v));
            double d = same ? 0.0 : fabs(u - v);
            if (isnan(d) || d > c->max_abs)
                c->max_abs = isnan(d) ? INFINITY : d;
            if (isfinite(v) && fabs(v) > c->max_ref)
                c->max_ref = fabs(v);
            c->dot += u * v;
            c->ss_x += u * u;
            c->ss_ref += v * v;
            c->ss_err += same ? 0.0 : (u - v) * (u - v);
        }
    }
    c->samples += n;
}

double nnp_compare_cosine(const struct nnp_compare *c)
{
    if (c->ss_x == 0 && c->ss_ref == 0)
        return 1.0;
    if (c->ss_x == 0 || c->ss_ref == 0)
        return 0.0;
    return c->dot / (sqrt(c->ss_x) * sqrt(c->ss_ref));
}

double nnp_compare_sqnr_db(const struct nnp_compare *c)
{
    if (c->samples == 0)
        return NAN;
    if (c->ss_err == 0)
        return INFINITY;
    return 10.0 * log10(c->ss_ref / c->ss_err);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* NumPy's default percentile: linear between the ranks around q * (n - 1). */
static double percentile(const double *sorted, int n, double q)
{
    double pos = q * (double)(n - 1);
    int lo = (int)floor(pos);
    int hi = lo + 1 < n ? lo + 1 : lo;
    double w = pos - (double)lo;
    return sorted[lo] + w * (sorted[hi] - sorted[lo]);
}

void nnp_latency_compute(struct nnp_latency *l, double *ms, int n_runs, int batch, int threads)
{
    NNP_ASSERT(n_runs >= 1);
    qsort(ms, (size_t)n_runs, sizeof *ms, cmp_double);
    double sum = 0;
    for (int i = 0; i < n_runs; i++)
        sum += ms[i];
    double mean = sum / n_runs, var = 0;
    for (int i = 0; i < n_runs; i++)
        var += (ms[i] - mean) * (ms[i] - mean);
    var = n_runs > 1 ? var / (n_runs - 1) : 0;
    l->measured = 1;
    l->batch = batch;
    l->threads = threads;
    l->runs = n_runs;
    l->min_ms = ms[0];
    l->max_ms = ms[n_runs - 1];
    l->mean_ms = mean;
    l->p50_ms = percentile(ms, n_runs, 0.50);
    l->p90_ms = percentile(ms, n_runs, 0.90);
    l->p95_ms = percentile(ms, n_runs, 0.95);
    l->p99_ms = percentile(ms, n_runs, 0.99);
    l->cv = mean > 0 ? sqrt(var) / mean : 0;
    l->throughput = mean > 0 ? 1000.0 * batch / mean : 0;
}
