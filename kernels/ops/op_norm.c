/* kernels/ops/op_norm.c — BatchNormalization (inference), LayerNormalization,
 * Softmax and LogSoftmax; float32.
 *
 * BatchNormalization folds its four per-channel inputs into one scale and one
 * shift per channel, y = x * a + b, computed each run (the inputs need not be
 * constants). Batch statistics (training_mode = 1, or the extra outputs older
 * opsets produced in training) are refused: this runtime only infers.
 *
 * LayerNormalization's reference keeps mean and variance in double: a row can
 * be long, and float sums over thousands of values drift. The fast kernel
 * (vmath.c) sums the mean in 16 double lanes and the variance in 16 float
 * lanes (each partial sum n/16 terms long); the unit tests hold it to the
 * reference.
 *
 * Softmax / LogSoftmax subtract the row maximum before exp, so no input
 * overflows. Before opset 13 the input is seen as 2-D [prod(dims[:axis]),
 * prod(dims[axis:])] and axis defaults to 1; from 13 on the reduction runs
 * along `axis` alone (default -1) and the other axes are independent.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kernels/ops/op.h"
#include "kernels/simd/vmath.h"
#include "kernels/threads.h"

static enum nnp_status need_f32(const struct nnp_exec_node *n, const struct nnp_rt_value *v,
                                const char *what)
{
    if (v->dtype != NNP_DTYPE_F32)
        return nnp_op_unsupported(n, "%s is %s, only float32 is supported", what,
                                  nnp_dtype_name(v->dtype));
    return NNP_OK;
}

static int64_t prod(const int64_t *d, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= d[i];
    return p;
}

/* ---------------------------------------------------- BatchNormalization */

struct bn_state {
    float epsilon;
    int64_t batch;    /* N */
    int64_t channels; /* C, or C * plane when spatial = 0 */
    int64_t plane;    /* elements per channel per image; 1 when spatial = 0 */
};

static enum nnp_status bn_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *x = n->in[0];
    static const char *const names[] = {"input X", "scale", "B", "input_mean", "input_var"};
    enum nnp_status st;
    for (int i = 0; i < 5; i++)
        if ((st = need_f32(n, n->in[i], names[i])))
            return st;
    if (nnp_node_attr_int(n->node, "training_mode", 0) != 0)
        return nnp_op_unsupported(n, "training_mode=1 (normalizing with batch statistics) is not "
                                     "supported; export the model in inference mode");
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i])
            return nnp_op_unsupported(n,
                                      "output %d (running or saved statistics) exists only in "
                                      "training, which is not supported",
                                      i);
    if (n->opset > 0 && n->opset < 7 && nnp_node_attr_int(n->node, "is_test", 0) == 0)
        return nnp_op_unsupported(n,
                                  "is_test=0 (training) is not supported; opset %" PRId64
                                  " BatchNormalization needs is_test=1 here",
                                  n->opset);
    NNP_OP_CHECK(n, x->rank >= 2,
                 "input is %d-D, BatchNormalization needs at least 2-D (N, C, ...)", x->rank);

    struct bn_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->epsilon = nnp_node_attr_float(n->node, "epsilon", 1e-5f);
    NNP_OP_CHECK(n, s->epsilon >= 0 && isfinite(s->epsilon), "epsilon is %g, expected >= 0",
                 (double)s->epsilon);
    /* before opset 9, spatial = 0 meant one set of statistics per activation:
     * the parameters then have the shape of one image, X.shape[1:] */
    bool spatial = !(n->opset > 0 && n->opset < 9 && nnp_node_attr_int(n->node, "spatial", 1) == 0);
    s->batch = x->dims[0];
    s->plane = prod(x->dims, 2, x->rank);
    s->channels = x->dims[1];
    if (!spatial) {
        s->channels *= s->plane;
        s->plane = 1;
    }
    for (int i = 1; i < 5; i++) {
        const struct nnp_rt_value *p = n->in[i];
        char buf[128];
        if (spatial)
            NNP_OP_CHECK(n, p->rank == 1 && p->dims[0] == x->dims[1],
                         "%s has shape %s, expected [%" PRId64 "] (the channels of X)", names[i],
                         nnp_rt_shape_str(p, buf, sizeof buf), x->dims[1]);
        else
            NNP_OP_CHECK(n, p->numel == s->channels,
                         "%s has %" PRId64 " elements, expected %" PRId64
                         " (spatial=0: X.shape[1:])",
                         names[i], p->numel, s->channels);
    }
    n->state = s;
    return nnp_rt_same_shape(n->out[0], x);
}

/* channel c's y = x * a + sh: what bn_task and a Conv that fused the node apply */
static void bn_channel(const struct nnp_exec_node *n, int64_t c, float *a, float *sh)
{
    const struct bn_state *s = n->state;
    const float *scale = n->in[1]->data, *bias = n->in[2]->data; /* (channels) */
    const float *mean = n->in[3]->data, *var = n->in[4]->data;   /* (channels) */
    *a = scale[c] / sqrtf(var[c] + s->epsilon);
    *sh = bias[c] - mean[c] * *a;
}

bool nnp_bn_affine(const struct nnp_exec_node *bn, struct nnp_arena *arena, const float **mul,
                   const float **add)
{
    if (!bn->op || strcmp(bn->op->name, "BatchNormalization") != 0 || !bn->state)
        return false;
    const struct bn_state *s = bn->state;
    if (bn->in[0]->rank < 2 || s->channels != bn->in[0]->dims[1])
        return false; /* spatial = 0: statistics per activation, not per channel */
    for (int i = 1; i < 5; i++)
        if (!bn->in[i]->is_const || !bn->in[i]->data)
            return false;
    float *m = nnp_arena_alloc_big(arena, (size_t)s->channels * sizeof *m);
    float *b = nnp_arena_alloc_big(arena, (size_t)s->channels * sizeof *b);
    if (!m || !b)
        return false; /* then it runs on its own */
    for (int64_t c = 0; c < s->channels; c++)
        bn_channel(bn, c, &m[c], &b[c]);
    *mul = m;
    *add = b;
    return true;
}

/* planes [begin, end) of (N, channels): y = x * a + sh, a and sh per channel */
static void bn_task(void *ctx, int64_t begin, int64_t end, int tid)
{
    const struct nnp_exec_node *n = ctx;
    const struct bn_state *s = n->state;
    const float *x = n->in[0]->data; /* (N, channels, plane) */
    float *y = n->out[0]->data;
    (void)tid;
    for (int64_t u = begin; u < end; u++) {
        float a, sh;
        bn_channel(n, u % s->channels, &a, &sh);
        const float *xc = x + u * s->plane;
        float *yc = y + u * s->plane;
        for (int64_t i = 0; i < s->plane; i++)
            yc[i] = xc[i] * a + sh;
    }
}

/* Tensors of this many elements and more are split over the pool by planes. */
#define BN_PAR_MIN (1 << 16)

static enum nnp_status bn_forward(struct nnp_exec_node *n)
{
    const struct bn_state *s = n->state;
    int64_t planes = s->batch * s->channels;
    bool par = (double)planes * (double)s->plane >= BN_PAR_MIN && planes >= 2;
    nnp_parallel_for(par ? n->pool : NULL, planes, bn_task, n);
    return NNP_OK;
}

const struct nnp_op nnp_op_BatchNormalization = {
    .name = "BatchNormalization",
    .min_in = 5,
    .max_in = 5,
    .min_out = 1,
    .max_out = 5,
    .prepare = bn_prepare,
    .forward = bn_forward,
    .reference = NULL,
    .backward = NULL,
};

/* ---------------------------------------------------- LayerNormalization */

struct ln_state {
    float epsilon;
    int64_t outer;                   /* rows: prod(X.shape[:axis]) */
    int64_t inner;                   /* normalized elements per row: prod(X.shape[axis:]) */
    int norm_rank;                   /* rank - axis */
    int64_t norm_dims[NNP_MAX_RANK]; /* X.shape[axis:] */
    bool scale_full, bias_full;      /* Scale / B have all `inner` elements (no broadcast) */
};

/* Scale and B broadcast to X.shape[axis:] (unidirectionally, NumPy rules). */
static enum nnp_status ln_check_param(const struct nnp_exec_node *n, const struct ln_state *s,
                                      const struct nnp_rt_value *p, const char *what)
{
    char buf[128];
    bool ok = p->rank <= s->norm_rank;
    for (int i = 0; ok && i < p->rank; i++) {
        int64_t d = p->dims[p->rank - 1 - i], want = s->norm_dims[s->norm_rank - 1 - i];
        ok = d == 1 || d == want;
    }
    NNP_OP_CHECK(n, ok,
                 "%s has shape %s, which does not broadcast to the normalized shape (the "
                 "last %d axes of X)",
                 what, nnp_rt_shape_str(p, buf, sizeof buf), s->norm_rank);
    return NNP_OK;
}

static enum nnp_status ln_prepare(struct nnp_exec_node *n, struct nnp_arena *arena)
{
    const struct nnp_rt_value *x = n->in[0], *scale = n->in[1];
    const struct nnp_rt_value *bias = n->n_in > 2 ? n->in[2] : NULL;
    enum nnp_status st;
    if ((st = need_f32(n, x, "input X")) || (st = need_f32(n, scale, "Scale")) ||
        (bias && (st = need_f32(n, bias, "B"))))
        return st;
    int64_t stash = nnp_node_attr_int(n->node, "stash_type", 1);
    if (stash != 1)
        return nnp_op_unsupported(n, "stash_type=%" PRId64 " is not supported (1 = float32 is)",
                                  stash);
    int r = x->rank;
    NNP_OP_CHECK(n, r >= 1, "input is a scalar, LayerNormalization needs at least 1-D");
    int64_t axis = nnp_node_attr_int(n->node, "axis", -1);
    NNP_OP_CHECK(n, axis >= -r && axis < r,
                 "axis is %" PRId64 ", expected -%d..%d for a %d-D input", axis, r, r - 1, r);
    if (axis < 0)
        axis += r;
    struct ln_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->epsilon = nnp_node_attr_float(n->node, "epsilon", 1e-5f);
    NNP_OP_CHECK(n, s->epsilon >= 0 && isfinite(s->epsilon), "epsilon is %g, expected >= 0",
                 (double)s->epsilon);
    s->outer = prod(x->dims, 0, (int)axis);
    s->inner = prod(x->dims, (int)axis, r);
    s->norm_rank = r - (int)axis;
    memcpy(s->norm_dims, x->dims + axis, sizeof(int64_t) * (size_t)s->norm_rank);
    if ((st = ln_check_param(n, s, scale, "Scale")) ||
        (bias && (st = ln_check_param(n, s, bias, "B"))))
        return st;
    /* an empty row (a 0 among the normalized dims) needs no expanded copy, and gets no
     * scratch to hold one */
    s->scale_full = scale->numel == s->inner || s->inner == 0;
    s->bias_full = !bias || bias->numel == s->inner || s->inner == 0;
    /* room to expand a broadcast Scale or B to a full row */
    if (!s->scale_full || !s->bias_full) {
        NNP_OP_CHECK(n, (uint64_t)s->inner <= SIZE_MAX / 16, "the normalized shape is too large");
        n->scratch_bytes = 2 * (size_t)s->inner * sizeof(float);
    }
    n->state = s;

    if ((st = nnp_rt_same_shape(n->out[0], x)))
        return st;
    int64_t sd[NNP_MAX_RANK];
    for (int i = 0; i < r; i++)
        sd[i] = i < axis ? x->dims[i] : 1;
    for (int o = 1; o < 3 && o < n->n_out; o++)
        if (n->out[o] && (st = nnp_rt_set_shape(n->out[o], NNP_DTYPE_F32, r, sd)))
            return st;
    return NNP_OK;
}

/* Expand p (broadcast to the normalized shape) into full (inner). */
static void ln_expand(const struct ln_state *s, const struct nnp_rt_value *p, float *full)
{
    const float *src = p->data;
    for (int64_t j = 0; j < s->inner; j++) {
        int64_t t = j, off = 0, step = 1;
        for (int i = 0; i < p->rank; i++) {
            int64_t want = s->norm_dims[s->norm_rank - 1 - i];
            int64_t d = p->dims[p->rank - 1 - i];
            int64_t idx = t % want;
            t /= want;
            off += (d == 1 ? 0 : idx) * step;
            step *= d;
        }
        full[j] = src[off];
    }
}

static enum nnp_status ln_reference(struct nnp_exec_node *n)
{
    const struct ln_state *s = n->state;
    const float *x = n->in[0]->data; /* (outer, inner) */
    const float *scale = n->in[1]->data;
    const struct nnp_rt_value *bv = n->n_in > 2 ? n->in[2] : NULL;
    const float *bias = bv ? bv->data : NULL;
    float *y = n->out[0]->data;
    float *mean_out = n->n_out > 1 && n->out[1] ? n->out[1]->data : NULL; /* (outer) */
    float *istd_out = n->n_out > 2 && n->out[2] ? n->out[2]->data : NULL; /* (outer) */
    float *tmp = n->scratch; /* (2, inner) when Scale or B broadcast */
    if (!s->scale_full) {
        ln_expand(s, n->in[1], tmp);
        scale = tmp;
    }
    if (!s->bias_full) {
        ln_expand(s, bv, tmp + s->inner);
        bias = tmp + s->inner;
    }
    for (int64_t r = 0; r < s->outer; r++) {
        const float *xr = x + r * s->inner;
        float *yr = y + r * s->inner;
        double sum = 0;
        for (int64_t j = 0; j < s->inner; j++)
            sum += xr[j];
        double mean = s->inner ? sum / (double)s->inner : 0.0;
        double sq = 0;
        for (int64_t j = 0; j < s->inner; j++) {
            double d = xr[j] - mean;
            sq += d * d;
        }
        double var = s->inner ? sq / (double)s->inner : 0.0;
        float istd = (float)(1.0 / sqrt(var + (double)s->epsilon));
        float m = (float)mean;
        if (bias)
            for (int64_t j = 0; j < s->inner; j++)
                yr[j] = (xr[j] - m) * istd * scale[j] + bias[j];
        else
            for (int64_t j = 0; j < s->inner; j++)
                yr[j] = (xr[j] - m) * istd * scale[j];
        if (mean_out)
            mean_out[r] = m;
        if (istd_out)
            istd_out[r] = istd;
    }
    return NNP_OK;
}

/* The rows in float over 16 lanes (vmath.c); the reference keeps double. */
static enum nnp_status ln_forward(struct nnp_exec_node *n)
{
    const struct ln_state *s = n->state;
    const float *x = n->in[0]->data; /* (outer, inner) */
    const float *scale = n->in[1]->data;
    const struct nnp_rt_value *bv = n->n_in > 2 ? n->in[2] : NULL;
    const float *bias = bv ? bv->data : NULL;
    float *y = n->out[0]->data;
    float *mean_out = n->n_out > 1 && n->out[1] ? n->out[1]->data : NULL; /* (outer) */
    float *istd_out = n->n_out > 2 && n->out[2] ? n->out[2]->data : NULL; /* (outer) */
    float *tmp = n->scratch; /* (2, inner) when Scale or B broadcast */
    if (!s->scale_full) {
        ln_expand(s, n->in[1], tmp);
        scale = tmp;
    }
    if (!s->bias_full) {
        ln_expand(s, bv, tmp + s->inner);
        bias = tmp + s->inner;
    }
    nnp_vlayernorm_rows(s->outer, s->inner, y, x, scale, bias, s->epsilon, mean_out, istd_out);
    return NNP_OK;
}

const struct nnp_op nnp_op_LayerNormalization = {
    .name = "LayerNormalization",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 3,
    .prepare = ln_prepare,
    .forward = ln_forward,
    .reference = ln_reference,
    .backward = NULL,
};

/* -------------------------------------------------- Softmax, LogSoftmax */

struct softmax_state {
    int64_t outer, len, inner; /* x viewed as (outer, len, inner), reduced along len */
    bool log;
};

static enum nnp_status softmax_prepare_kind(struct nnp_exec_node *n, struct nnp_arena *arena,
                                            bool is_log)
{
    const struct nnp_rt_value *x = n->in[0];
    enum nnp_status st = need_f32(n, x, "input");
    if (st)
        return st;
    int r = x->rank;
    NNP_OP_CHECK(n, r >= 1, "input is a scalar, %s needs at least 1-D",
                 is_log ? "LogSoftmax" : "Softmax");
    bool coerce2d = n->opset > 0 && n->opset < 13;
    int64_t axis = nnp_node_attr_int(n->node, "axis", coerce2d ? 1 : -1);
    /* coerced to 2-D, axis = rank is allowed: every row has one element */
    int hi = coerce2d ? r : r - 1;
    NNP_OP_CHECK(n, axis >= -r && axis <= hi,
                 "axis is %" PRId64 ", expected -%d..%d for a %d-D input", axis, r, hi, r);
    if (axis < 0)
        axis += r;
    struct softmax_state *s = nnp_arena_alloc(arena, sizeof *s);
    s->log = is_log;
    s->outer = prod(x->dims, 0, (int)axis);
    if (coerce2d) {
        s->len = prod(x->dims, (int)axis, r);
        s->inner = 1;
    } else {
        s->len = x->dims[axis];
        s->inner = prod(x->dims, (int)axis + 1, r);
    }
    if (x->numel == 0) { /* nothing to compute: no rows, and the path that needs no scratch */
        s->outer = 0;
        s->inner = 1;
    }
    if (s->inner > 1) { /* running max and sum per inner position */
        NNP_OP_CHECK(n, (uint64_t)s->inner <= SIZE_MAX / 16, "input too large");
        n->scratch_bytes = 2 * (size_t)s->inner * sizeof(float);
    }
    n->state = s;
    return nnp_rt_same_shape(n->out[0], x);
}

static enum nnp_status softmax_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return softmax_prepare_kind(n, a, false);
}

static enum nnp_status logsoftmax_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    return softmax_prepare_kind(n, a, true);
}

/* one contiguous row */
static void softmax_row(const float *x, float *y, int64_t len, bool is_log)
{
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; j++)
        mx = x[j] > mx ? x[j] : mx;
    double sum = 0;
    if (is_log) {
        for (int64_t j = 0; j < len; j++)
            sum += expf(x[j] - mx);
        float lse = mx + (float)log(sum);
        for (int64_t j = 0; j < len; j++)
            y[j] = x[j] - lse;
    } else {
        for (int64_t j = 0; j < len; j++) {
            y[j] = expf(x[j] - mx);
            sum += y[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < len; j++)
            y[j] *= inv;
    }
}

static enum nnp_status softmax_reference(struct nnp_exec_node *n)
{
    const struct softmax_state *s = n->state;
    const float *x = n->in[0]->data; /* (outer, len, inner) */
    float *y = n->out[0]->data;
    if (s->inner == 1) {
        for (int64_t o = 0; o < s->outer; o++)
            softmax_row(x + o * s->len, y + o * s->len, s->len, s->log);
        return NNP_OK;
    }
    /* strided: walk the len axis in the outer loop so the inner axis stays contiguous */
    float *mx = n->scratch, *sum = mx + s->inner; /* (inner) each */
    for (int64_t o = 0; o < s->outer; o++) {
        const float *xo = x + o * s->len * s->inner;
        float *yo = y + o * s->len * s->inner;
        for (int64_t i = 0; i < s->inner; i++) {
            mx[i] = -INFINITY;
            sum[i] = 0.0f;
        }
        for (int64_t l = 0; l < s->len; l++)
            for (int64_t i = 0; i < s->inner; i++)
                mx[i] = xo[l * s->inner + i] > mx[i] ? xo[l * s->inner + i] : mx[i];
        for (int64_t l = 0; l < s->len; l++)
            for (int64_t i = 0; i < s->inner; i++) {
                float e = expf(xo[l * s->inner + i] - mx[i]);
                sum[i] += e;
                if (!s->log)
                    yo[l * s->inner + i] = e;
            }
        if (s->log) {
            for (int64_t i = 0; i < s->inner; i++)
                mx[i] += logf(sum[i]); /* log-sum-exp */
            for (int64_t l = 0; l < s->len; l++)
                for (int64_t i = 0; i < s->inner; i++)
                    yo[l * s->inner + i] = xo[l * s->inner + i] - mx[i];
        } else {
            for (int64_t i = 0; i < s->inner; i++)
                sum[i] = 1.0f / sum[i];
            for (int64_t l = 0; l < s->len; l++)
                for (int64_t i = 0; i < s->inner; i++)
                    yo[l * s->inner + i] *= sum[i];
        }
    }
    return NNP_OK;
}

/* Contiguous Softmax rows through vmath.c's exp; LogSoftmax and the strided
 * layout are the reference's loops. */
static enum nnp_status softmax_forward(struct nnp_exec_node *n)
{
    const struct softmax_state *s = n->state;
    if (s->inner != 1 || s->log)
        return softmax_reference(n);
    nnp_vsoftmax_rows(s->outer, s->len, n->out[0]->data, n->in[0]->data); /* (outer, len) */
    return NNP_OK;
}

const struct nnp_op nnp_op_Softmax = {
    .name = "Softmax",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = softmax_prepare,
    .forward = softmax_forward,
    .reference = softmax_reference,
    .backward = NULL,
};

const struct nnp_op nnp_op_LogSoftmax = {
    .name = "LogSoftmax",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = logsoftmax_prepare,
    .forward = softmax_forward,
    .reference = softmax_reference,
    .backward = NULL,
};
