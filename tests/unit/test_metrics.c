/* tests/unit/test_metrics.c — accuracy, agreement and latency figures (kernels/metrics.c),
 * checked against values worked out by hand (and NumPy's percentile for the latencies). */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "formats/report_json.h"
#include "kernels/metrics.h"

Test(metrics, argmax_first_of_ties_and_nan)
{
    cr_assert_eq(nnp_argmax((float[]){1, 3, 3, 2}, 4), 1);
    cr_assert_eq(nnp_argmax((float[]){5}, 1), 0);
    cr_assert_eq(nnp_argmax((float[]){NAN, -1, -2}, 3), 1, "a NaN does not win over a number");
    cr_assert_eq(nnp_argmax((float[]){-1, NAN, 4}, 3), 2);
    cr_assert_eq(nnp_argmax((float[]){-INFINITY, -INFINITY}, 2), 0);
}

Test(metrics, topk)
{
    /* 7 classes, 3 samples */
    const float scores[] = {
        0.1f, 0.9f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, /* label 1: top-1 */
        7,    6,    5,    4,    3,    2,    1,    /* label 4: rank 4, in top-5 */
        7,    6,    5,    4,    3,    2,    1,    /* label 5: rank 5, not in top-5 */
    };
    struct nnp_topk t = {0};
    cr_assert_eq(nnp_topk_add(&t, scores, 3, 7, (int64_t[]){1, 4, 5}, 0), NNP_OK);
    cr_assert_eq(t.samples, 3);
    cr_assert_eq(t.top1, 1);
    cr_assert_eq(t.top5, 2);
}

Test(metrics, topk_ties_break_by_index)
{
    /* all equal: class 0 is the argmax, classes 0..4 the top five */
    const float s[6] = {1, 1, 1, 1, 1, 1};
    struct nnp_topk t = {0};
    for (int64_t label = 0; label < 6; label++)
        cr_assert_eq(nnp_topk_add(&t, s, 1, 6, &label, label), NNP_OK);
    cr_assert_eq(t.top1, 1);
    cr_assert_eq(t.top5, 5);
}

Test(metrics, topk_label_out_of_range)
{
    struct nnp_topk t = {0};
    float s[3] = {0, 1, 2};
    cr_assert_eq(nnp_topk_add(&t, s, 1, 3, (int64_t[]){3}, 41), NNP_ERR_INVALID);
    cr_assert_str_eq(nnp_error_message(),
                     "label 3 of sample 41 is outside 0..2 (the model has 3 classes)");
    cr_assert_eq(nnp_topk_add(&t, s, 1, 3, (int64_t[]){-1}, 0), NNP_ERR_INVALID);
}

Test(metrics, compare_identical)
{
    const float a[] = {1, -2, 3, 0.5f, 0, 0};
    struct nnp_compare c = {0};
    nnp_compare_add(&c, a, a, 2, 3);
    cr_assert_eq(c.samples, 2);
    cr_assert_eq(c.agree, 2);
    cr_assert_eq(c.max_abs, 0);
    cr_assert_eq(c.max_ref, 3);
    cr_assert_float_eq(nnp_compare_cosine(&c), 1.0, 1e-12);
    cr_assert(isinf(nnp_compare_sqnr_db(&c)) && nnp_compare_sqnr_db(&c) > 0);
}

Test(metrics, compare_figures)
{
    /* ref = (3, 4), x = (3, 5): noise 1, signal 25 -> 10 log10(25) dB;
     * cosine = (9 + 20) / (5 * sqrt(34)) */
    struct nnp_compare c = {0};
    nnp_compare_add(&c, (float[]){3, 5}, (float[]){3, 4}, 1, 2);
    cr_assert_eq(c.agree, 1);
    cr_assert_float_eq(c.max_abs, 1.0, 1e-12);
    cr_assert_float_eq(nnp_compare_sqnr_db(&c), 10 * log10(25.0), 1e-9);
    cr_assert_float_eq(nnp_compare_cosine(&c), 29 / (5 * sqrt(34.0)), 1e-12);
    /* a second batch whose argmax differs */
    nnp_compare_add(&c, (float[]){1, 0}, (float[]){0, 1}, 1, 2);
    cr_assert_eq(c.samples, 2);
    cr_assert_eq(c.agree, 1);
}

Test(metrics, compare_nan_and_empty)
{
    struct nnp_compare c = {0};
    cr_assert(isnan(nnp_compare_sqnr_db(&c)), "nothing added: no figure");
    nnp_compare_add(&c, (float[]){NAN, 1}, (float[]){NAN, 1}, 1, 2);
    cr_assert_eq(c.max_abs, 0, "NaN on both sides is no difference");
    nnp_compare_add(&c, (float[]){NAN, 1}, (float[]){0, 1}, 1, 2);
    cr_assert(isinf(c.max_abs), "NaN on one side is an infinite difference");
}

Test(metrics, latency_percentiles_like_numpy)
{
    /* numpy.percentile([5, 1, 4, 2, 3, 10, 6, 8, 7, 9], [50, 90, 95, 99])
     *   = [5.5, 9.1, 9.55, 9.91] */
    double ms[] = {5, 1, 4, 2, 3, 10, 6, 8, 7, 9};
    struct nnp_latency l = {.peak_bytes = 123};
    nnp_latency_compute(&l, ms, 10, 4, 2);
    cr_assert_eq(l.measured, 1);
    cr_assert_eq(l.runs, 10);
    cr_assert_eq(l.batch, 4);
    cr_assert_eq(l.threads, 2);
    cr_assert_eq(l.peak_bytes, 123, "left as it was");
    cr_assert_float_eq(l.min_ms, 1, 1e-12);
    cr_assert_float_eq(l.max_ms, 10, 1e-12);
    cr_assert_float_eq(l.mean_ms, 5.5, 1e-12);
    cr_assert_float_eq(l.p50_ms, 5.5, 1e-12);
    cr_assert_float_eq(l.p90_ms, 9.1, 1e-12);
    cr_assert_float_eq(l.p95_ms, 9.55, 1e-12);
    cr_assert_float_eq(l.p99_ms, 9.91, 1e-12);
    /* sample standard deviation of 1..10 is sqrt(55/6) */
    cr_assert_float_eq(l.cv, sqrt(55.0 / 6.0) / 5.5, 1e-12);
    cr_assert_float_eq(l.throughput, 1000.0 * 4 / 5.5, 1e-9);
}

Test(metrics, latency_one_run)
{
    double ms[] = {2.0};
    struct nnp_latency l = {0};
    nnp_latency_compute(&l, ms, 1, 1, 1);
    cr_assert_float_eq(l.p99_ms, 2.0, 1e-12);
    cr_assert_eq(l.cv, 0);
}

Test(metrics, bench_and_eval_json)
{
    struct nnp_bench_stats b = {.path = "m.onnx", .blas = "SkylakeX", .peak_bytes = 10};
    double ms[] = {1, 2, 3};
    nnp_latency_compute(&b.latency, ms, 3, 1, 1);
    char *text = nnp_bench_json(&b);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "\"p50_ms\": 2.0"));
    cr_assert_not_null(strstr(text, "\"blas\": \"SkylakeX\""));
    free(text);

    struct nnp_output_compare o = {.name = "y", .samples = 4, .agree = 3, .sqnr_db = INFINITY};
    struct nnp_eval_stats e = {
        .path = "m.onnx",
        .data = "x.npy",
        .top1_correct = -1,
        .top5_correct = -1,
        .accuracy = {.measured = 1, .samples = 4, .top1 = NAN, .top5 = -1},
        .n_outputs = 1,
        .outputs = &o,
    };
    text = nnp_eval_json(&e);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "\"labels\": null"));
    cr_assert_not_null(strstr(text, "\"top1\": null"));
    cr_assert_not_null(strstr(text, "\"agreement\": 0.75"));
    cr_assert_not_null(strstr(text, "\"sqnr_db\": null"), "+inf is written as null");
    free(text);
}
