/* passes/measure.c — a model's first output against the float model's, on a data set
 * (measure.h). */
#include "measure.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/array.h"
#include "formats/dataset.h"
#include "kernels/metrics.h"
#include "kernels/runtime.h"

/* Samples per run: what eval uses; the last batch is padded with zeros. */
#define MEASURE_BATCH 100
/* The float model's outputs are kept whole: refuse more than this, before any work. */
#define MEASURE_MAX_REF_BYTES ((size_t)1 << 30)

struct nnp_measure {
    struct nnp_measure_src src;
    struct nnp_dataset *d;
    int rank;                           /* of one sample */
    int64_t sample[NNP_MAX_RANK];       /* (rank) its shape */
    int64_t per_in;                     /* values per sample */
    int64_t samples, batch;
    int64_t *labels;                    /* (samples), or NULL */
    float *ref;                         /* (samples, per_out) the float model's first output */
    int64_t per_out;
};

/* the one input a caller feeds */
static const struct nnp_value *feed_of(const struct nnp_graph *g, int *feeds)
{
    const struct nnp_value *in = NULL;
    *feeds = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->inputs[i]->is_initializer) {
            in = g->inputs[i];
            (*feeds)++;
        }
    return in;
}

/* Run g over the samples, batch by batch: into m->ref (the first call), or compared with
 * it into *cmp and *top. */
static enum nnp_status run_all(struct nnp_measure *m, const struct nnp_graph *g, bool reference,
                               struct nnp_compare *cmp, struct nnp_topk *top)
{
    int feeds;
    const struct nnp_value *in = feed_of(g, &feeds);
    if (feeds != 1)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "measuring feeds models of one input; this one "
                          "has %d", feeds);
    int64_t dims[NNP_MAX_RANK + 1] = {m->batch};
    memcpy(dims + 1, m->sample, (size_t)m->rank * sizeof *dims);
    struct nnp_tensor *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    if (!shapes)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    for (int i = 0; i < g->n_inputs; i++)
        shapes[i] = (struct nnp_tensor){.rank = -1};
    int k = 0;
    while (g->inputs[k] != in)
        k++;
    if (!nnp_shape_fit(&in->t, m->rank + 1, dims, false, &shapes[k])) {
        char want[96];
        free(shapes);
        return nnp_errorf(NNP_ERR_INVALID, "%s: samples of %" PRId64 " values each do not fit "
                          "the model's input %s %s", m->src.data_path, m->per_in, in->name,
                          nnp_tensor_shape_str(&in->t, want, sizeof want));
    }
    shapes[k].dtype = NNP_DTYPE_F32;
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = m->src.threads;
    o.batch = m->batch;
    o.input_shapes = shapes;
    struct nnp_runtime *rt = NULL;
    enum nnp_status st = nnp_runtime_new(g, &o, &rt);
    free(shapes);
    struct nnp_rt_value *x = NULL;
    for (int i = 0; st == NNP_OK && !x && i < nnp_runtime_n_inputs(rt); i++)
        if (strcmp(nnp_runtime_input(rt, i)->name, in->name) == 0)
            x = nnp_runtime_input(rt, i);
    if (st == NNP_OK && (!x || x->dtype != NNP_DTYPE_F32 || x->numel != m->batch * m->per_in))
        st = nnp_errorf(NNP_ERR_INVALID, "input %s: the runtime did not plan %" PRId64
                        " float32 values", in->name, m->batch * m->per_in);
    if (st == NNP_OK)
        st = nnp_dataset_rewind(m->d);
    for (int64_t start = 0; st == NNP_OK && start < m->samples; start += m->batch) {
        int64_t n = m->samples - start < m->batch ? m->samples - start : m->batch, got = 0;
        if ((st = nnp_dataset_read_f32(m->d, n, x->data, &got)) == NNP_OK && got != n)
            st = nnp_errorf(NNP_ERR_FORMAT, "%s: ended after %" PRId64 " samples",
                            m->src.data_path, start + got);
        if (st != NNP_OK)
            break;
        if (n < m->batch)
            memset((float *)x->data + n * m->per_in, 0,
                   (size_t)((m->batch - n) * m->per_in) * sizeof(float));
        if ((st = nnp_runtime_run(rt)) != NNP_OK)
            break;
        const struct nnp_rt_value *y = nnp_runtime_output(rt, 0);
        if (y->dtype != NNP_DTYPE_F32 || y->rank < 1 || y->dims[0] != m->batch ||
            y->numel % m->batch) {
            st = nnp_errorf(NNP_ERR_UNSUPPORTED, "output %s: measuring needs float32 with the "
                            "batch first", y->name);
            break;
        }
        int64_t per = y->numel / m->batch;
        if (reference && start == 0) {
            m->per_out = per;
            size_t bytes = (size_t)m->samples * (size_t)per * sizeof *m->ref;
            if (bytes / sizeof *m->ref / (size_t)m->samples != (size_t)per ||
                bytes > MEASURE_MAX_REF_BYTES) {
                st = nnp_errorf(NNP_ERR_NOMEM, "output %s: %" PRId64 " samples of %" PRId64
                                " values are more than 1 GiB to keep: measure on fewer samples",
                                y->name, m->samples, per);
                break;
            }
            if (!(m->ref = malloc(bytes))) {
                st = nnp_errorf(NNP_ERR_NOMEM, "no memory for the float model's outputs");
                break;
            }
        }
        if (per != m->per_out) {
            st = nnp_errorf(NNP_ERR_INVALID, "output %s: %" PRId64 " values per sample, the "
                            "float model's has %" PRId64, y->name, per, m->per_out);
            break;
        }
        const float *yv = y->data;
        if (reference)
            memcpy(m->ref + start * per, yv, (size_t)(n * per) * sizeof *yv);
        else
            nnp_compare_add(cmp, yv, m->ref + start * per, n, per);
        if (m->labels && (st = nnp_topk_add(top, yv, n, per, m->labels + start, start)) !=
                             NNP_OK)
            nnp_error_prefix(m->src.labels_path);
    }
    nnp_runtime_free(rt);
    return st;
}

static void result_of(const struct nnp_measure *m, const struct nnp_compare *c,
                      const struct nnp_topk *top, struct nnp_measure_result *r)
{
    r->samples = m->samples;
    r->correct = m->labels ? top->top1 : -1;
    r->sqnr_db = c ? nnp_compare_sqnr_db(c) : INFINITY;
}

enum nnp_status nnp_measure_new(const struct nnp_graph *ref, const struct nnp_measure_src *src,
                                struct nnp_measure **out, struct nnp_measure_result *ref_result)
{
    *out = NULL;
    struct nnp_measure *m = calloc(1, sizeof *m);
    if (!m)
        return nnp_errorf(NNP_ERR_NOMEM, "no memory");
    m->src = *src;
    struct nnp_data_opts o = nnp_data_opts_default();
    o.scale = src->scale != 0 ? src->scale : o.scale;
    o.shift = src->shift;
    enum nnp_status st = nnp_dataset_open(src->data_path, &o, &m->d);
    if (st == NNP_OK) {
        m->rank = nnp_dataset_sample_shape(m->d, m->sample);
        m->per_in = nnp_dataset_sample_numel(m->d);
        int64_t have = nnp_dataset_count(m->d);
        m->samples = src->samples < have ? src->samples : have;
        if (m->samples <= 0)
            st = nnp_errorf(NNP_ERR_INVALID, "%s: holds no samples", src->data_path);
        /* a model whose input fixes the batch gets it */
        int feeds;
        const struct nnp_value *in = feed_of(ref, &feeds);
        int64_t fixed = in && in->t.rank >= 1 && in->t.dims[0] > 0 && !in->t.dim_params[0]
                            ? in->t.dims[0] : 0;
        m->batch = fixed ? fixed : m->samples < MEASURE_BATCH ? m->samples : MEASURE_BATCH;
    }
    if (st == NNP_OK && src->labels_path) {
        struct nnp_dataset *l = NULL;
        int64_t got = 0;
        if (!(m->labels = malloc((size_t)m->samples * sizeof *m->labels)))
            st = nnp_errorf(NNP_ERR_NOMEM, "no memory for %" PRId64 " labels", m->samples);
        if (st == NNP_OK)
            st = nnp_dataset_open(src->labels_path, NULL, &l);
        if (st == NNP_OK && nnp_dataset_count(l) != nnp_dataset_count(m->d))
            st = nnp_errorf(NNP_ERR_INVALID, "%s: holds %" PRId64 " labels for the %" PRId64
                            " samples of %s", src->labels_path, nnp_dataset_count(l),
                            nnp_dataset_count(m->d), src->data_path);
        if (st == NNP_OK && (st = nnp_dataset_read_labels(l, m->samples, m->labels, &got)) ==
                                NNP_OK && got != m->samples)
            st = nnp_errorf(NNP_ERR_FORMAT, "%s: ended after %" PRId64 " labels",
                            src->labels_path, got);
        nnp_dataset_close(l);
    }
    struct nnp_topk top = {0};
    if (st == NNP_OK)
        st = run_all(m, ref, true, NULL, &top);
    if (st != NNP_OK) {
        nnp_measure_free(m);
        return st;
    }
    result_of(m, NULL, &top, ref_result);
    *out = m;
    return NNP_OK;
}

enum nnp_status nnp_measure_run(struct nnp_measure *m, const struct nnp_graph *g,
                                struct nnp_measure_result *r)
{
    struct nnp_compare c = {0};
    struct nnp_topk top = {0};
    enum nnp_status st = run_all(m, g, false, &c, &top);
    if (st == NNP_OK)
        result_of(m, &c, &top, r);
    return st;
}

void nnp_measure_free(struct nnp_measure *m)
{
    if (!m)
        return;
    nnp_dataset_close(m->d);
    free(m->labels);
    free(m->ref);
    free(m);
}
