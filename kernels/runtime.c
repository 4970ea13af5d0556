/* kernels/runtime.c — the executor: plan a graph (values, kernels, constants,
 * memory), then run it node by node.
 *
 * Planning walks the nodes once, in the graph's topological order:
 *
 *   1. every IR value a node touches gets one nnp_rt_value, owned by the plan;
 *      initializers point at the graph's data (no copy), graph inputs take the
 *      shape they were given or the model's with unknown dims bound to `batch`;
 *   2. each node's operator prepares (output shapes, state, scratch); a node
 *      whose inputs are all constant is computed right away and its outputs
 *      become constants too, which is what makes the Shape -> Gather -> Concat
 *      -> Reshape chains exporters emit static. Shape (and Size) only read
 *      shapes, which are all static here, so they are always constant;
 *   3. fusion (unless opts.no_fuse): a Conv, Gemm or MatMul whose result only an
 *      Add (of a value already computed, same shape) and/or an activation read
 *      takes them into its epilogue, a Conv a BatchNormalization with constant
 *      statistics before those too; their nodes do not run, and the values in
 *      between are never stored (`elided`);
 *   4. buffers: a view (Reshape, Flatten, Identity...) shares its input's, and an
 *      elementwise op may write over an input of its size that nothing reads
 *      later (`share`); each buffer gets an offset in one activation arena by
 *      liveness: it is free again after the last reader of any value in it ran.
 *
 * Everything is sized before anything big is allocated, so a plan that does not
 * fit is refused with the number of bytes it needed instead of dying later. The
 * same goes for time when opts.max_work is set: each node's work is estimated
 * after its prepare, and a node folded at plan time, or the plan's run as a
 * whole, that would exceed the budget is refused before it is computed.
 */
#include "kernels/runtime.h"

#include "kernels/ops/quant.h"
#include "kernels/threads.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Buffers start on a cache line: any SIMD load is aligned, and two values
 * never share a line (no false sharing between threads writing neighbours). */
#define RT_ALIGN 64

struct nnp_runtime {
    const struct nnp_graph *g;
    struct nnp_runtime_opts opts;
    struct nnp_arena *arena; /* the plan: values, nodes, states, constants, buffers */

    struct nnp_rt_value **by_index; /* (g->n_values) by IR value index; NULL = untouched */
    bool *param;                    /* (g->n_values) training: a trainable initializer */

    int n_nodes;
    struct nnp_exec_node *nodes; /* (n_nodes) every node, in graph order */
    int n_run;
    struct nnp_exec_node **run; /* (n_run) the nodes left for run time (not folded, not fused) */
    int n_fused;
    struct nnp_exec_node **fused; /* (n_fused) run nodes with others fused in, in order */
    double *seconds; /* (n_run) opts.profile: each run node's time, summed over runs */
    struct qdq_match *qdq; /* (n_nodes) plan_qdq(): the quantized layers found, by anchor */
    unsigned char *qdq_role; /* (n_nodes) QDQ_*: what plan_qdq() made of each node */

    int n_inputs, n_outputs, n_produced;
    struct nnp_rt_value **inputs;   /* (n_inputs) graph inputs that are not constants */
    struct nnp_rt_value **outputs;  /* (n_outputs) graph outputs, in graph order */
    struct nnp_rt_value **produced; /* (n_produced) node outputs, in execution order */

    int n_pinned;
    struct nnp_rt_value **pinned; /* (n_pinned) inputs planned from their values */
    const void **pinned_values;   /* (n_pinned) those values (copies), checked every run */

    uint8_t *activations; /* (mem.arena_bytes) */
    void *scratch;        /* (mem.scratch_bytes), shared by every node */
    size_t grad_bytes;    /* training: bytes of gradient buffers */
    int threads;
    struct nnp_pool *pool; /* threads - 1 workers, or NULL for one thread */
    size_t limit; /* opts.max_bytes or physical memory, the lower: a plan needing more is
                   * refused */
    struct nnp_runtime_memory mem; /* .work_*: estimated steps so far (opts.max_work) */
};

struct nnp_runtime_opts nnp_runtime_opts_default(void)
{
    return (struct nnp_runtime_opts){.threads = 0, .batch = 1};
}

/* --- small helpers --- */

static size_t align_up(size_t n)
{
    if (n == 0)
        n = 1; /* distinct, non-NULL buffers even for empty tensors */
    if (n > SIZE_MAX - (RT_ALIGN - 1))
        return SIZE_MAX;
    return (n + RT_ALIGN - 1) & ~(size_t)(RT_ALIGN - 1);
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return SIZE_MAX;
    if ((unsigned long)pages > SIZE_MAX / (unsigned long)page)
        return SIZE_MAX;
    return (size_t)pages * (size_t)page;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1024 ? (int)n : 1;
}

/* "the 25769803776 bytes of memory this machine has" or "the memory limit of 67108864
 * bytes", for messages about rt->limit. */
static const char *limit_str(const struct nnp_runtime *rt, char *buf, size_t size)
{
    if (rt->opts.max_bytes && rt->opts.max_bytes == rt->limit)
        snprintf(buf, size, "the memory limit of %zu bytes", rt->limit);
    else
        snprintf(buf, size, "the %zu bytes of memory this machine has", rt->limit);
    return buf;
}

/* Zeroed memory from the plan's arena, 64-byte aligned, refused (NNP_ERR_NOMEM naming
 * `what`) when it and what the plan holds already would be more than rt->limit: with
 * overcommit a huge malloc "succeeds" and the process is killed later, when the pages
 * are touched; and many plan-time constants each below the limit add up. */
static enum nnp_status rt_alloc(struct nnp_runtime *rt, size_t size, const char *what, void **out)
{
    *out = NULL;
    size_t held = nnp_arena_bytes(rt->arena);
    char lim[96];
    if (size > rt->limit)
        return nnp_errorf(NNP_ERR_NOMEM, "%s need %zu bytes, more than %s", what, size,
                          limit_str(rt, lim, sizeof lim));
    if (held > rt->limit - size)
        return nnp_errorf(NNP_ERR_NOMEM, "%s need %zu bytes, which with the %zu the plan holds "
                          "already is more than %s", what, size, held,
                          limit_str(rt, lim, sizeof lim));
    /* the arena aligns only large blocks to 64 bytes: ask for a line more and align here */
    uint8_t *p = size <= SIZE_MAX - RT_ALIGN ? nnp_arena_alloc_big(rt->arena, size + RT_ALIGN)
                                             : NULL;
    if (!p)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, size);
    *out = p + (RT_ALIGN - (uintptr_t)p % RT_ALIGN) % RT_ALIGN;
    return NNP_OK;
}

static bool is_default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

/* "node conv1 (Conv)" or "node #3 (Conv)", as nnp_op_error() writes it. */
static char *node_label(const struct nnp_node *n, char *buf, size_t size)
{
    if (n->name && *n->name)
        snprintf(buf, size, "node %s (%s)", n->name, n->op_type);
    else
        snprintf(buf, size, "node #%d (%s)", n->index, n->op_type);
    return buf;
}

/* An operator that failed without naming its node gets the name put in front. */
static enum nnp_status name_node(enum nnp_status st, const struct nnp_node *n)
{
    if (st != NNP_OK && strncmp(nnp_error_message(), "node ", 5) != 0) {
        char label[300];
        nnp_error_prefix(node_label(n, label, sizeof label));
    }
    return st;
}

/* --- values --- */

static struct nnp_rt_value *rt_value(struct nnp_runtime *rt, const struct nnp_value *v)
{
    NNP_ASSERT(v->index >= 0 && v->index < rt->g->n_values && rt->g->values[v->index] == v);
    struct nnp_rt_value *r = rt->by_index[v->index];
    if (!r) {
        r = nnp_arena_alloc(rt->arena, sizeof *r);
        r->name = v->name;
        r->dtype = NNP_DTYPE_UNDEFINED;
        r->first_use = r->last_use = -1;
        rt->by_index[v->index] = r;
    }
    return r;
}

/* Expand an encoded initializer (roadmap step 4) into dense elements at dst. */
static enum nnp_status decode_storage(const struct nnp_value *v, const struct nnp_rt_value *r,
                                      uint8_t *dst)
{
    const struct nnp_tensor *t = &v->t;
    size_t es = nnp_dtype_size(r->dtype);
    const uint8_t *src = t->data;
    if (t->storage == NNP_STORAGE_SPARSE) {
        if (!t->bitmap)
            return nnp_errorf(NNP_ERR_INVALID, "initializer %s: sparse without a bitmap", v->name);
        size_t k = 0; /* packed elements used so far */
        for (int64_t i = 0; i < r->numel; i++) {
            if (!(t->bitmap[i / 8] >> (i % 8) & 1))
                continue;
            if ((k + 1) * es > t->nbytes)
                return nnp_errorf(NNP_ERR_INVALID, "initializer %s: the bitmap has more "
                                  "nonzeros than the %zu bytes of packed values", v->name,
                                  t->nbytes);
            memcpy(dst + (size_t)i * es, src + k * es, es);
            k++;
        }
        return NNP_OK;
    }
    NNP_ASSERT(t->storage == NNP_STORAGE_CODEBOOK);
    if (!t->indices || t->n_codes < 1 || t->n_codes > 256 || (size_t)t->n_codes * es > t->nbytes)
        return nnp_errorf(NNP_ERR_INVALID, "initializer %s: a codebook of %" PRId64
                          " entries does not fit its %zu bytes", v->name, t->n_codes, t->nbytes);
    for (int64_t i = 0; i < r->numel; i++) {
        if (t->indices[i] >= t->n_codes)
            return nnp_errorf(NNP_ERR_INVALID, "initializer %s: element %" PRId64
                              " uses codebook entry %d of %" PRId64, v->name, i, t->indices[i],
                              t->n_codes);
        memcpy(dst + (size_t)i * es, src + (size_t)t->indices[i] * es, es);
    }
    return NNP_OK;
}

/* An initializer: a constant whose data is the graph's own (dense storage) or a
 * dense copy in the plan (encoded storage). */
static enum nnp_status plan_initializer(struct nnp_runtime *rt, const struct nnp_value *v,
                                        struct nnp_rt_value *r)
{
    const struct nnp_tensor *t = &v->t;
    if (t->rank < 0 || nnp_tensor_numel(t) < 0)
        return nnp_errorf(NNP_ERR_INVALID, "initializer %s: its shape is not static", v->name);
    if (t->dtype == NNP_DTYPE_UNDEFINED)
        return nnp_errorf(NNP_ERR_INVALID, "initializer %s: no element type", v->name);
    enum nnp_status st = nnp_rt_set_shape(r, t->dtype, t->rank, t->dims);
    if (st != NNP_OK)
        return st;
    r->is_const = true;
    if (r->nbytes == 0) {
        r->data = (void *)(t->data ? t->data : "");
        return NNP_OK;
    }
    if (!t->data)
        return nnp_errorf(NNP_ERR_INVALID, "initializer %s: no data", v->name);
    rt->mem.const_bytes = add_sat(rt->mem.const_bytes, r->nbytes);
    if (t->storage == NNP_STORAGE_DENSE) {
        if (t->nbytes < r->nbytes)
            return nnp_errorf(NNP_ERR_INVALID, "initializer %s: %zu bytes of data, its shape "
                              "needs %zu", v->name, t->nbytes, r->nbytes);
        r->data = t->data;
        return NNP_OK;
    }
    if (r->dtype == NNP_DTYPE_STRING)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "initializer %s: encoded string data", v->name);
    st = rt_alloc(rt, r->nbytes, v->name, &r->data);
    if (st != NNP_OK)
        return st;
    return decode_storage(v, r, r->data);
}

/* A graph input computed from outside: the shape it was given, or the model's with
 * an unknown or symbolic first dimension bound to opts.batch. */
static enum nnp_status plan_input(struct nnp_runtime *rt, const struct nnp_value *v,
                                  const struct nnp_tensor *given, struct nnp_rt_value *r)
{
    const struct nnp_tensor *m = &v->t;
    char sg[160], sm[160];
    enum nnp_dtype dtype = m->dtype;
    if (given && given->dtype != NNP_DTYPE_UNDEFINED) {
        if (dtype != NNP_DTYPE_UNDEFINED && given->dtype != dtype)
            return nnp_errorf(NNP_ERR_INVALID, "input %s: the model takes %s, given %s", v->name,
                              nnp_dtype_name(dtype), nnp_dtype_name(given->dtype));
        dtype = given->dtype;
    }
    if (dtype == NNP_DTYPE_UNDEFINED)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "input %s: not a tensor of a known element type "
                          "(sequence, map and optional inputs are not run)", v->name);
    int64_t dims[NNP_MAX_RANK];
    int rank;
    if (given) {
        if (m->rank >= 0) {
            bool fits = given->rank == m->rank;
            for (int i = 0; fits && i < m->rank; i++)
                fits = m->dim_params[i] || m->dims[i] < 0 || m->dims[i] == given->dims[i];
            if (!fits)
                return nnp_errorf(NNP_ERR_INVALID, "input %s: shape %s does not fit the model's "
                                  "%s", v->name, nnp_tensor_shape_str(given, sg, sizeof sg),
                                  nnp_tensor_shape_str(m, sm, sizeof sm));
        }
        rank = given->rank;
        for (int i = 0; i < rank; i++) {
            if (given->dims[i] < 0)
                return nnp_errorf(NNP_ERR_INVALID, "input %s: given shape %s is not static",
                                  v->name, nnp_tensor_shape_str(given, sg, sizeof sg));
            dims[i] = given->dims[i];
        }
    } else {
        if (m->rank < 0)
            return nnp_errorf(NNP_ERR_INVALID, "input %s: the model does not give its rank; "
                              "give the input's shape", v->name);
        if (rt->opts.batch < 0)
            return nnp_errorf(NNP_ERR_INVALID, "input %s: batch %" PRId64 " is negative",
                              v->name, rt->opts.batch);
        rank = m->rank;
        for (int i = 0; i < rank; i++) {
            dims[i] = m->dim_params[i] || m->dims[i] < 0 ? rt->opts.batch : m->dims[i];
            /* only the first dimension is the batch: binding an image's height to it
             * would time or run something else than what the user has in mind */
            if (i > 0 && dims[i] != m->dims[i]) {
                if (m->dim_params[i])
                    return nnp_errorf(NNP_ERR_INVALID, "input %s %s: dimension %d ('%s') is "
                                      "symbolic; give the input's shape", v->name,
                                      nnp_tensor_shape_str(m, sm, sizeof sm), i,
                                      m->dim_params[i]);
                return nnp_errorf(NNP_ERR_INVALID, "input %s %s: dimension %d is not known; "
                                  "give the input's shape", v->name,
                                  nnp_tensor_shape_str(m, sm, sizeof sm), i);
            }
        }
    }
    enum nnp_status st = nnp_rt_set_shape(r, dtype, rank, dims);
    if (st != NNP_OK) {
        struct nnp_tensor want = {.dtype = dtype};
        nnp_tensor_set_shape(&want, dtype, rank, dims);
        return nnp_errorf(st, "input %s: shape %s is too large", v->name,
                          nnp_tensor_shape_str(&want, sg, sizeof sg));
    }
    r->is_input = true;
    r->first_use = -1; /* written before the run, read by any node: live throughout */
    return NNP_OK;
}

/* An input whose values decide a shape, planned from the values the caller gave: a
 * constant in the plan's memory (folded into whatever reads it), still listed among the
 * inputs, and a copy kept to refuse a run that feeds something else. */
static enum nnp_status pin_input(struct nnp_runtime *rt, struct nnp_rt_value *r,
                                 const struct nnp_tensor *values)
{
    char have[160], want[160];
    if (values->dtype != r->dtype || values->nbytes != r->nbytes || values->rank != r->rank)
        return nnp_errorf(NNP_ERR_INVALID, "input %s: the values given are %s %s, the plan "
                          "takes %s %s", r->name, nnp_dtype_name(values->dtype),
                          nnp_tensor_shape_str(values, have, sizeof have),
                          nnp_dtype_name(r->dtype), nnp_rt_shape_str(r, want, sizeof want));
    void *data, *copy;
    enum nnp_status st = rt_alloc(rt, r->nbytes, r->name, &data);
    if (st == NNP_OK)
        st = rt_alloc(rt, r->nbytes, r->name, &copy);
    if (st != NNP_OK)
        return st;
    if (r->nbytes) {
        memcpy(data, values->data, r->nbytes);
        memcpy(copy, values->data, r->nbytes);
    }
    r->data = data;
    r->is_const = true;
    rt->mem.const_bytes = add_sat(rt->mem.const_bytes, r->nbytes);
    rt->pinned[rt->n_pinned] = r;
    rt->pinned_values[rt->n_pinned++] = copy;
    return NNP_OK;
}

/* The value `v` as it is known so far: *out is NULL when nothing defined it yet.
 * Initializers are planned on first use, so unused ones cost nothing. */
static enum nnp_status defined_value(struct nnp_runtime *rt, const struct nnp_value *v,
                                     struct nnp_rt_value **out)
{
    struct nnp_rt_value *r = rt_value(rt, v);
    *out = NULL;
    if (r->dtype == NNP_DTYPE_UNDEFINED && !r->is_input && v->is_initializer) {
        enum nnp_status st = plan_initializer(rt, v, r);
        if (st != NNP_OK)
            return st;
        /* training: float32 weights are the parameters being learnt */
        rt->param[v->index] = rt->opts.training && r->dtype == NNP_DTYPE_F32;
    }
    if (r->dtype != NNP_DTYPE_UNDEFINED)
        *out = r;
    return NNP_OK;
}

/* --- nodes --- */

/* Nodes that must run every time even when their inputs are known. */
static bool is_random(const struct nnp_runtime *rt, const struct nnp_exec_node *n)
{
    static const char *const random_ops[] = {"RandomNormal", "RandomUniform",
                                             "RandomNormalLike", "RandomUniformLike",
                                             "Multinomial", "Bernoulli"};
    const char *op = n->node->op_type;
    for (size_t i = 0; i < sizeof random_ops / sizeof *random_ops; i++)
        if (strcmp(op, random_ops[i]) == 0)
            return true;
    if (strcmp(op, "Dropout") == 0) {
        /* opset >= 12: training_mode is input 2; older opsets have no training mode here */
        if (rt->opts.training)
            return true;
        if (n->n_in > 2 && n->in[2]) {
            const struct nnp_rt_value *tm = n->in[2];
            if (!tm->is_const || !tm->data || tm->numel != 1)
                return true;
            return *(const uint8_t *)tm->data != 0;
        }
    }
    return false;
}

/* Ops whose outputs depend only on their inputs' shapes, which are all static
 * here: computed at plan time whatever the inputs are. Their forward reads dims
 * only (input data may not exist yet). */
static bool is_shape_only(const struct nnp_exec_node *n)
{
    return strcmp(n->node->op_type, "Shape") == 0 || strcmp(n->node->op_type, "Size") == 0;
}

static enum nnp_status check_arity(const struct nnp_exec_node *n)
{
    const struct nnp_op *op = n->op;
    if (n->n_in < op->min_in || n->n_in > op->max_in) {
        if (op->min_in == op->max_in)
            return nnp_op_error(n, "%s takes %d input%s, got %d", op->name, op->min_in,
                                op->min_in == 1 ? "" : "s", n->n_in);
        return nnp_op_error(n, "%s takes %d to %d inputs, got %d", op->name, op->min_in,
                            op->max_in, n->n_in);
    }
    if (n->n_out < op->min_out || n->n_out > op->max_out) {
        if (op->min_out == op->max_out)
            return nnp_op_error(n, "%s has %d output%s, got %d", op->name, op->min_out,
                                op->min_out == 1 ? "" : "s", n->n_out);
        return nnp_op_error(n, "%s has %d to %d outputs, got %d", op->name, op->min_out,
                            op->max_out, n->n_out);
    }
    for (int i = 0; i < op->min_in; i++)
        if (!n->in[i])
            return nnp_op_error(n, "input %d of %s is required", i, op->name);
    for (int i = 0; i < op->min_out; i++)
        if (!n->out[i])
            return nnp_op_error(n, "output %d of %s is required", i, op->name);
    return NNP_OK;
}

static enum nnp_status run_node(const struct nnp_runtime *rt, struct nnp_exec_node *n)
{
    /* Outputs without elements: nothing to compute. Kernels loop over products of dims
     * (rows, planes, images); with a 0 among the others the loops would still turn, as
     * many times as hostile dims like [2^40,16,0] say. */
    bool empty = true;
    for (int j = 0; j < n->n_out && empty; j++)
        empty = !n->out[j] || n->out[j]->numel == 0;
    if (empty)
        return NNP_OK;
    if (rt->opts.use_reference && n->op->reference)
        return n->op->reference(n);
    return n->op->forward(n);
}

static uint64_t add_sat64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A node's work for opts.max_work: what its prepare estimated, and at least one step
 * per element it reads or writes. Shape and Size read dims only. */
static uint64_t node_work(const struct nnp_exec_node *n)
{
    uint64_t w = 0;
    for (int j = 0; j < n->n_in && !is_shape_only(n); j++)
        if (n->in[j])
            w = add_sat64(w, (uint64_t)n->in[j]->numel);
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j])
            w = add_sat64(w, (uint64_t)n->out[j]->numel);
    return n->work > w ? n->work : w;
}

/* Compute a node whose outputs are known at plan time; they become constants. */
static enum nnp_status fold_node(struct nnp_runtime *rt, struct nnp_exec_node *n)
{
    char label[300];
    node_label(n->node, label, sizeof label);
    uint64_t max = rt->opts.max_work, done = rt->mem.work_folded;
    if (max && (n->work > max || done > max - n->work))
        return nnp_op_unsupported(n, "computing it at plan time takes about %" PRIu64 " steps, "
                                  "which with the %" PRIu64 " before it is more than the work "
                                  "limit of %" PRIu64, n->work, done, max);
    rt->mem.work_folded = done + n->work;
    for (int j = 0; j < n->n_out; j++) {
        struct nnp_rt_value *o = n->out[j];
        if (!o)
            continue;
        enum nnp_status st = rt_alloc(rt, o->nbytes, label, &o->data);
        if (st != NNP_OK)
            return st;
        rt->mem.const_bytes = add_sat(rt->mem.const_bytes, o->nbytes);
    }
    void *scratch = NULL;
    if (n->scratch_bytes) {
        /* freed right after, but held meanwhile on top of the plan's arena */
        size_t held = nnp_arena_bytes(rt->arena);
        if (n->scratch_bytes > rt->limit || held > rt->limit - n->scratch_bytes ||
            posix_memalign(&scratch, RT_ALIGN, n->scratch_bytes) != 0)
            return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes of scratch", label,
                              n->scratch_bytes);
    }
    n->scratch = scratch;
    enum nnp_status st = name_node(run_node(rt, n), n->node);
    n->scratch = NULL;
    free(scratch);
    if (st != NNP_OK)
        return st;
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j])
            n->out[j]->is_const = true;
    return NNP_OK;
}

/* --- float16 ---
 *
 * A model in float16 (quantize(type=fp16,compute=fp16), or exported so) runs on the
 * float32 kernels: a node that reads a float16 value, unless its operator only moves
 * elements (f16_native), is planned as its operator on float32 stand-ins, widened from
 * the float16 inputs before each run, its float32 outputs rounded to float16 (nearest
 * even) after it, which is what ONNX Runtime's CPU provider does for the operators it
 * has no float16 kernel for. Constant inputs (weights) are widened once, here, so that
 * the operator's prepare sees them as it would in float32 (Conv packs them). The
 * stand-ins live in the node's scratch, after its operator's own. Other outputs
 * (Equal's bool, MaxPool's indices) are copied as they are. Fusion (plan_fusion) gives
 * such a node an activation only, and only one that commutes with the rounding. */
struct f16_state {
    struct nnp_exec_node inner; /* the operator on the stand-ins */
    size_t *offset;             /* (n_in + n_out) a stand-in's place in the scratch, or
                                   SIZE_MAX: none (input j read as it is) */
};

/* Operators that move float16 elements as they are (by size), or convert them. */
static bool f16_native(const char *op)
{
    static const char *const ops[] = {"Identity", "Cast", "Shape", "Size", "Flatten",
                                      "Reshape", "Squeeze", "Unsqueeze", "Constant",
                                      "ConstantOfShape", "Expand", "Transpose", "Concat",
                                      "Split", "Slice", "Gather", "Pad", "Where"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

static bool f16_wanted(const struct nnp_exec_node *n)
{
    if (f16_native(n->op->name))
        return false;
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] && n->in[j]->dtype == NNP_DTYPE_F16)
            return true;
    return false;
}

/* out (the node's own) from the stand-in s: float16 of float32, else the same bytes */
static void f16_store(struct nnp_rt_value *out, const struct nnp_rt_value *s)
{
    if (s->dtype == NNP_DTYPE_F32 && out->dtype == NNP_DTYPE_F16)
        nnp_f32_to_f16_n(out->data, s->data, s->numel);
    else if (s->nbytes)
        memcpy(out->data, s->data, s->nbytes);
}

static enum nnp_status f16_forward(struct nnp_exec_node *n)
{
    struct f16_state *s = n->state;
    struct nnp_exec_node *in = &s->inner;
    uint8_t *scratch = n->scratch;
    for (int j = 0; j < n->n_in; j++) {
        if (s->offset[j] == SIZE_MAX)
            continue;
        in->in[j]->data = scratch + s->offset[j];
        nnp_f16_to_f32_n(in->in[j]->data, n->in[j]->data, n->in[j]->numel);
    }
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j])
            in->out[j]->data = scratch + s->offset[n->n_in + j];
    in->scratch = in->scratch_bytes ? scratch : NULL;
    enum nnp_status st = in->op->forward(in);
    for (int j = 0; j < n->n_out && st == NNP_OK; j++)
        if (n->out[j])
            f16_store(n->out[j], in->out[j]);
    return st;
}

static const struct nnp_op f16_op = {.name = "float16 on float32",
                                     .forward = f16_forward};

/* The operator node a float16 node runs (f16_prepare), or n itself. */
static const struct nnp_exec_node *f16_inner(const struct nnp_exec_node *n)
{
    return n->op == &f16_op ? &((const struct f16_state *)n->state)->inner : n;
}

/* An activation that gives the same float16 bits before or after the rounding (so that
 * a float16 node may take it into its float32 epilogue): Relu, and Clip between two
 * float16 values (rounding to nearest is monotonic and keeps those). */
static bool f16_exact_act(const struct nnp_act *a)
{
    return a->kind == NNP_ACT_RELU ||
           (a->kind == NNP_ACT_CLIP && nnp_f16_to_f32(nnp_f32_to_f16(a->alpha)) == a->alpha &&
            nnp_f16_to_f32(nnp_f32_to_f16(a->beta)) == a->beta);
}

/* A stand-in for value v (its name, no shape yet), in the plan's arena. */
static struct nnp_rt_value *f16_stand_in(struct nnp_runtime *rt, const struct nnp_rt_value *v)
{
    struct nnp_rt_value *r = nnp_arena_alloc(rt->arena, sizeof *r);
    r->name = v->name;
    r->dtype = NNP_DTYPE_UNDEFINED;
    r->first_use = r->last_use = -1;
    return r;
}

/* Prepare node n (its inputs and outputs bound) as n->op on float32 stand-ins, and make
 * it run that way (n->op becomes f16_op). */
static enum nnp_status f16_prepare(struct nnp_runtime *rt, struct nnp_exec_node *n)
{
    struct f16_state *s = nnp_arena_alloc(rt->arena, sizeof *s);
    struct nnp_exec_node *in = &s->inner;
    *in = *n;
    in->in = nnp_arena_alloc(rt->arena, (size_t)(n->n_in + 1) * sizeof *in->in);
    in->out = nnp_arena_alloc(rt->arena, (size_t)(n->n_out + 1) * sizeof *in->out);
    s->offset = nnp_arena_alloc(rt->arena, (size_t)(n->n_in + n->n_out + 1) * sizeof *s->offset);
    enum nnp_status st = NNP_OK;
    for (int j = 0; j < n->n_in && st == NNP_OK; j++) {
        struct nnp_rt_value *x = n->in[j];
        s->offset[j] = SIZE_MAX;
        in->in[j] = x;
        if (!x || x->dtype != NNP_DTYPE_F16)
            continue;
        struct nnp_rt_value *w = f16_stand_in(rt, x);
        if ((st = nnp_rt_set_shape(w, NNP_DTYPE_F32, x->rank, x->dims)) != NNP_OK)
            break;
        in->in[j] = w;
        if (!x->is_const) {
            s->offset[j] = 0; /* placed below, once the operator's scratch is known */
            continue;
        }
        /* a constant: widened once (with the plan's constants) */
        w->is_const = true;
        if ((st = rt_alloc(rt, w->nbytes, x->name, &w->data)) == NNP_OK) {
            rt->mem.const_bytes = add_sat(rt->mem.const_bytes, w->nbytes);
            nnp_f16_to_f32_n(w->data, x->data, x->numel);
        }
    }
    for (int j = 0; j < n->n_out && st == NNP_OK; j++)
        in->out[j] = n->out[j] ? f16_stand_in(rt, n->out[j]) : NULL;
    if (st != NNP_OK || (st = n->op->prepare(in, rt->arena)) != NNP_OK)
        return st;
    size_t off = align_up(in->scratch_bytes); /* the operator's scratch first */
    for (int j = 0; j < n->n_in; j++)
        if (s->offset[j] == 0) {
            s->offset[j] = off;
            off = add_sat(off, align_up(in->in[j]->nbytes));
        }
    bool all_const = n->n_out > 0;
    for (int j = 0; j < n->n_out && st == NNP_OK; j++) {
        struct nnp_rt_value *o = in->out[j];
        if (!o)
            continue;
        s->offset[n->n_in + j] = off;
        off = add_sat(off, align_up(o->nbytes));
        enum nnp_dtype t = o->dtype == NNP_DTYPE_F32 ? NNP_DTYPE_F16 : o->dtype;
        st = nnp_rt_set_shape(n->out[j], t, o->rank, o->dims);
        all_const &= o->is_const && (o->data || o->nbytes == 0);
    }
    for (int j = 0; j < n->n_out && st == NNP_OK && all_const; j++) {
        /* the operator computed its outputs in prepare: so are the node's */
        if (!n->out[j])
            continue;
        if ((st = rt_alloc(rt, n->out[j]->nbytes, n->out[j]->name, &n->out[j]->data)) != NNP_OK)
            break;
        if (in->out[j]->nbytes)
            f16_store(n->out[j], in->out[j]);
        n->out[j]->is_const = true;
    }
    n->state = s;
    n->op = &f16_op;
    n->scratch_bytes = off;
    n->packed_bytes = in->packed_bytes;
    n->work = in->work;
    n->flops = in->flops;
    return st;
}

/* --- quantized layers ---
 *
 * A QDQ model (passes/quantize.c, ONNX Runtime's quantizer) writes a quantized layer as
 *   xq -> DequantizeLinear -> Conv|MatMul|Gemm [-> Relu] -> QuantizeLinear -> yq
 * with its weight (and bias) constant through DequantizeLinear of int8 (int32). Run as
 * written, that is dequantize, float, quantize again. The planner runs it instead as one
 * QLinearConv or QLinearMatMul (the Gemm's bias its input 8) of xq, the integer weights
 * and the parameters, into yq, a Relu as the clamp at y's zero point: the integer GEMM,
 * the activations staying 8-bit between quantized layers. The weight and bias
 * dequantizations are never computed, and that of xq goes when nothing else reads it.
 * The float form stays where the integer kernel does not apply (anything not constant,
 * weight zero points not 0, a bias whose scale is not x_scale * w_scale, shapes the
 * integer paths do not take): the nodes found are then planned as written. Off with
 * opts.no_fuse. */
enum { QDQ_NONE, QDQ_ANCHOR, QDQ_ABSORBED };

struct qdq_match {
    const struct nnp_node *dqx, *dqw, *dqb, *act, *q; /* act: a Relu or Clip before q */
};

static const struct nnp_node *producer_op(const struct nnp_value *v, const char *op)
{
    const struct nnp_node *p = v ? v->producer : NULL;
    return p && is_default_domain(p->domain) && strcmp(p->op_type, op) == 0 ? p : NULL;
}

/* the only reader of v, when v is not a graph output */
static const struct nnp_node *only_reader(const struct nnp_value *v)
{
    return v && !v->is_output && v->n_consumers == 1 ? v->consumers[0] : NULL;
}

static bool all_initializers(const struct nnp_node *n, int from)
{
    for (int j = from; j < n->n_inputs; j++)
        if (n->inputs[j] && !n->inputs[j]->is_initializer)
            return false;
    return true;
}

/* The shape of a quantized layer around node n, from the graph alone. */
static bool qdq_shape(const struct nnp_node *n, struct qdq_match *m)
{
    memset(m, 0, sizeof *m);
    bool conv = strcmp(n->op_type, "Conv") == 0, gemm = strcmp(n->op_type, "Gemm") == 0;
    if (!is_default_domain(n->domain) || n->n_outputs != 1 ||
        (!conv && !gemm && strcmp(n->op_type, "MatMul") != 0) || n->n_inputs < 2)
        return false;
    if (gemm && (nnp_node_attr_int(n, "transA", 0) != 0 ||
                 nnp_node_attr_float(n, "alpha", 1.0f) != 1.0f ||
                 nnp_node_attr_float(n, "beta", 1.0f) != 1.0f))
        return false;
    m->dqx = producer_op(n->inputs[0], "DequantizeLinear");
    m->dqw = producer_op(n->inputs[1], "DequantizeLinear");
    if (!m->dqx || !m->dqw || only_reader(n->inputs[1]) != n || !all_initializers(m->dqw, 0) ||
        !all_initializers(m->dqx, 1))
        return false;
    if (n->n_inputs > 2 && n->inputs[2]) {
        m->dqb = producer_op(n->inputs[2], "DequantizeLinear");
        if (!m->dqb || only_reader(n->inputs[2]) != n || !all_initializers(m->dqb, 0))
            return false;
    }
    /* int8 out when a QuantizeLinear (after a Relu or Clip) is all that reads the result */
    const struct nnp_node *c = only_reader(n->outputs[0]), *act = NULL;
    if (c && is_default_domain(c->domain) &&
        (strcmp(c->op_type, "Relu") == 0 ||
         (strcmp(c->op_type, "Clip") == 0 && all_initializers(c, 1)))) {
        act = c;
        c = only_reader(c->outputs[0]);
    }
    if (c && is_default_domain(c->domain) && strcmp(c->op_type, "QuantizeLinear") == 0 &&
        c->n_outputs >= 1 && all_initializers(c, 1) && c->n_inputs >= 2 &&
        c->inputs[0] == (act ? act : n)->outputs[0]) {
        m->act = act;
        m->q = c;
    }
    return true;
}

static void qdq_mark(struct nnp_runtime *rt, const struct qdq_match *m, int role)
{
    const struct nnp_node *absorbed[] = {m->dqw, m->dqb, m->act, m->q};
    for (int k = 0; k < 4; k++)
        if (absorbed[k])
            rt->qdq_role[absorbed[k]->index] = (unsigned char)role;
}

/* Find every quantized layer: its nodes are planned with its anchor (plan_node). */
static void plan_qdq(struct nnp_runtime *rt)
{
    const struct nnp_graph *g = rt->g;
    rt->qdq = nnp_arena_alloc(rt->arena, (size_t)(g->n_nodes + 1) * sizeof *rt->qdq);
    rt->qdq_role = nnp_arena_alloc(rt->arena, (size_t)g->n_nodes + 1);
    for (int i = 0; i < g->n_nodes; i++) {
        struct qdq_match m;
        if (rt->qdq_role[i] == QDQ_NONE && qdq_shape(g->nodes[i], &m)) {
            rt->qdq_role[i] = QDQ_ANCHOR;
            rt->qdq[i] = m;
            qdq_mark(rt, &m, QDQ_ABSORBED);
        }
    }
}

/* an 8-bit value (xq), its scale and zero point scalars as a QLinear operator wants */
static bool q_scalar(const struct nnp_rt_value *v, enum nnp_dtype t)
{
    return !v || (v->is_const && v->data && v->numel == 1 && v->dtype == t);
}

static float f32_at(const struct nnp_rt_value *v, int64_t i)
{
    return ((const float *)v->data)[v->numel == 1 ? 0 : i];
}

/* The inputs of the integer operator for anchor n (slots as QLinearConv's), or false
 * when the values say the integer form does not apply. */
static enum nnp_status qdq_inputs(struct nnp_runtime *rt, const struct nnp_node *n,
                                  const struct qdq_match *m, struct nnp_rt_value **in,
                                  bool *ok)
{
    *ok = false;
    const struct nnp_value *iv[9] = {
        m->dqx->inputs[0], m->dqx->inputs[1], m->dqx->n_inputs > 2 ? m->dqx->inputs[2] : NULL,
        m->dqw->inputs[0], m->dqw->inputs[1], m->dqw->n_inputs > 2 ? m->dqw->inputs[2] : NULL,
        m->q ? m->q->inputs[1] : NULL, m->q && m->q->n_inputs > 2 ? m->q->inputs[2] : NULL,
        m->dqb ? m->dqb->inputs[0] : NULL};
    for (int j = 0; j < 9; j++) {
        in[j] = NULL;
        if (!iv[j])
            continue;
        enum nnp_status st = defined_value(rt, iv[j], &in[j]);
        if (st != NNP_OK)
            return st;
        if (!in[j])
            return NNP_OK;
    }
    const struct nnp_rt_value *x = in[0], *w = in[3], *ws = in[4], *b = in[8];
    if (!x || !nnp_q_8bit(x->dtype) || !in[1] || !q_scalar(in[1], NNP_DTYPE_F32) ||
        !q_scalar(in[2], x->dtype) || !w->is_const || !w->data || w->dtype != NNP_DTYPE_I8 ||
        !ws || !ws->is_const || ws->dtype != NNP_DTYPE_F32 || (m->q && !in[6]) ||
        !q_scalar(in[6], NNP_DTYPE_F32) ||
        (in[7] && (!nnp_q_8bit(in[7]->dtype) || !q_scalar(in[7], in[7]->dtype))))
        return NNP_OK;
    if (in[5] && (!in[5]->is_const || in[5]->dtype != NNP_DTYPE_I8 || in[5]->numel != ws->numel))
        return NNP_OK;
    /* the weight's scales along its output channels: Conv's axis 0, MatMul's 1, Gemm's
     * 0 with transB, else 1 */
    bool conv = strcmp(n->op_type, "Conv") == 0;
    bool trans_b = strcmp(n->op_type, "Gemm") == 0 && nnp_node_attr_int(n, "transB", 0);
    int axis = conv || trans_b ? 0 : 1;
    if (ws->numel != 1) {
        int64_t a = nnp_node_attr_int(m->dqw, "axis", 1);
        if (a < 0)
            a += w->rank;
        if (a != axis || w->rank < 2 || ws->numel != w->dims[axis])
            return NNP_OK;
    }
    if (!conv && w->rank != 2)
        return NNP_OK;
    if (b) { /* int32 at scale x_scale * w_scale, zero point 0 */
        struct nnp_rt_value *bs, *bz = NULL;
        enum nnp_status st = defined_value(rt, m->dqb->inputs[1], &bs);
        if (st == NNP_OK && m->dqb->n_inputs > 2 && m->dqb->inputs[2])
            st = defined_value(rt, m->dqb->inputs[2], &bz);
        if (st != NNP_OK)
            return st;
        if (!b->is_const || b->dtype != NNP_DTYPE_I32 || b->rank != 1 || !bs ||
            !bs->is_const || bs->dtype != NNP_DTYPE_F32 || (bs->numel != 1 && bs->numel != b->numel))
            return NNP_OK;
        for (int64_t k = 0; bz && k < bz->numel; k++)
            if (nnp_q_get(bz->dtype, bz->data, k) != 0)
                return NNP_OK;
        float sx = f32_at(in[1], 0);
        for (int64_t c = 0; c < b->numel; c++) {
            float want = sx * f32_at(ws, ws->numel == 1 ? 0 : c), got = f32_at(bs, c);
            if (!(fabsf(got - want) <= 1e-6f * fabsf(want)))
                return NNP_OK;
        }
    }
    *ok = true;
    return NNP_OK;
}

static enum nnp_status plan_node(struct nnp_runtime *rt, int i, bool *folded);

/* The Relu or Clip (bounds constant: attributes before opset 11, initializers from it)
 * between a quantized layer and its QuantizeLinear. */
static enum nnp_status qdq_act(struct nnp_runtime *rt, const struct nnp_node *c,
                               struct nnp_act *act)
{
    if (strcmp(c->op_type, "Relu") == 0) {
        *act = (struct nnp_act){NNP_ACT_RELU, 0, 0};
        return NNP_OK;
    }
    *act = (struct nnp_act){NNP_ACT_CLIP, -INFINITY, INFINITY};
    if (nnp_graph_opset(rt->g, "") < 11) {
        act->alpha = nnp_node_attr_float(c, "min", -INFINITY);
        act->beta = nnp_node_attr_float(c, "max", INFINITY);
        return NNP_OK;
    }
    for (int k = 1; k <= 2 && k < c->n_inputs; k++) {
        struct nnp_rt_value *v;
        if (!c->inputs[k])
            continue;
        enum nnp_status st = defined_value(rt, c->inputs[k], &v);
        if (st != NNP_OK)
            return st;
        if (!v || !v->is_const || v->dtype != NNP_DTYPE_F32 || v->numel != 1 || !v->data)
            return nnp_errorf(NNP_ERR_INVALID, "node %s: Clip's bounds must be float32 scalars",
                              c->name);
        *(k == 1 ? &act->alpha : &act->beta) = *(const float *)v->data;
    }
    return NNP_OK;
}

/* Plan anchor i as its integer operator; *done false (and nothing changed) when it
 * does not apply. */
static enum nnp_status plan_qdq_anchor(struct nnp_runtime *rt, int i, bool *done)
{
    const struct nnp_node *node = rt->g->nodes[i];
    const struct qdq_match *m = &rt->qdq[i];
    struct nnp_exec_node *n = &rt->nodes[i];
    struct nnp_rt_value *in[9];
    bool ok;
    *done = false;
    enum nnp_status st = qdq_inputs(rt, node, m, in, &ok);
    if (st != NNP_OK || !ok)
        return st;
    const struct nnp_value *ov = m->q ? m->q->outputs[0] : node->outputs[0];
    struct nnp_rt_value *out = rt_value(rt, ov);
    if (out->dtype != NNP_DTYPE_UNDEFINED || out->is_const || out->is_input)
        return NNP_OK;
    memset(n, 0, sizeof *n);
    n->node = node;
    n->threads = nnp_pool_threads(rt->pool);
    n->pool = rt->pool;
    n->opset = nnp_graph_opset(rt->g, "");
    n->op = nnp_op_find(strcmp(node->op_type, "Conv") == 0 ? "QLinearConv" : "QLinearMatMul");
    n->n_in = in[8] ? 9 : 8;
    n->in = nnp_arena_alloc(rt->arena, 10 * sizeof *n->in);
    memcpy(n->in, in, (size_t)n->n_in * sizeof *in);
    n->n_out = 1;
    n->out = nnp_arena_alloc(rt->arena, 2 * sizeof *n->out);
    n->out[0] = out;
    if (m->act && (st = qdq_act(rt, m->act, &n->fusion.act)) != NNP_OK)
        return st;
    st = n->op ? n->op->prepare(n, rt->arena) : NNP_ERR_UNSUPPORTED;
    /* the integer GEMM packs its weights; the direct loops, slower than the float
     * layer, do not: then the float form is planned */
    if (st != NNP_OK || n->packed_bytes == 0) {
        memset(n, 0, sizeof *n);
        memset(out, 0, sizeof *out);
        out->name = ov->name;
        out->dtype = NNP_DTYPE_UNDEFINED;
        out->first_use = out->last_use = -1;
        return NNP_OK;
    }
    n->work = node_work(n);
    if (m->act)
        n->fusion.nodes[n->fusion.n_nodes++] = m->act;
    if (m->q) /* (and dqx, once qdq_sweep drops it) */
        n->fusion.nodes[n->fusion.n_nodes++] = m->q;
    *done = true;
    return NNP_OK;
}

/* Node i planned: prepared, folded or appended to the nodes that run. */
static enum nnp_status plan_step(struct nnp_runtime *rt, int i)
{
    bool folded;
    enum nnp_status st = plan_node(rt, i, &folded);
    if (st != NNP_OK)
        return st;
    struct nnp_exec_node *n = &rt->nodes[i];
    for (int j = 0; j < n->n_out; j++) {
        if (!n->out[j])
            continue;
        rt->produced[rt->n_produced++] = n->out[j];
        if (!folded)
            n->out[j]->first_use = i;
    }
    if (folded)
        return NNP_OK;
    rt->run[rt->n_run++] = n;
    rt->mem.work_run = add_sat64(rt->mem.work_run, n->work);
    if (n->scratch_bytes > rt->mem.scratch_bytes)
        rt->mem.scratch_bytes = n->scratch_bytes;
    rt->mem.const_bytes = add_sat(rt->mem.const_bytes, n->packed_bytes);
    rt->mem.flops += n->flops;
    return NNP_OK;
}

/* A quantized layer's anchor (plan_node): its integer operator, or, when that does not
 * apply, the float form after all: the absorbed nodes planned as written, those before
 * the anchor (the weight's and bias's dequantization) now, and the anchor as written
 * (*planned false). */
static enum nnp_status plan_qdq_or_release(struct nnp_runtime *rt, int i, bool *planned)
{
    enum nnp_status st = plan_qdq_anchor(rt, i, planned);
    if (st != NNP_OK || *planned)
        return st;
    struct qdq_match m = rt->qdq[i];
    qdq_mark(rt, &m, QDQ_NONE);
    rt->qdq_role[i] = QDQ_NONE;
    if ((st = plan_step(rt, m.dqw->index)) != NNP_OK)
        return st;
    return m.dqb ? plan_step(rt, m.dqb->index) : NNP_OK;
}

/* The DequantizeLinear of an activation that only quantized layers read is not run:
 * each of them was given xq itself. */
static void qdq_sweep(struct nnp_runtime *rt)
{
    int k = 0;
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *d = rt->run[r];
        bool read = strcmp(d->node->op_type, "DequantizeLinear") != 0 || !d->out[0] ||
                    d->node->outputs[0]->is_output;
        for (int q = r + 1; q < rt->n_run && !read; q++)
            for (int j = 0; j < rt->run[q]->n_in && !read; j++)
                read = rt->run[q]->in[j] == d->out[0];
        if (read) {
            rt->run[k++] = d;
            continue;
        }
        d->out[0]->elided = true;
        rt->mem.work_run -= d->work;
        for (int q = r + 1; q < rt->n_run; q++) { /* the layers that take its work */
            struct nnp_exec_node *p = rt->run[q];
            int ip = (int)(p - rt->nodes);
            if (rt->qdq_role[ip] != QDQ_ANCHOR || rt->qdq[ip].dqx != d->node ||
                p->fusion.n_nodes >= 3)
                continue;
            memmove(p->fusion.nodes + 1, p->fusion.nodes,
                    (size_t)p->fusion.n_nodes * sizeof *p->fusion.nodes);
            p->fusion.nodes[0] = d->node;
            p->fusion.n_nodes++;
        }
    }
    rt->n_run = k;
}

static enum nnp_status plan_node(struct nnp_runtime *rt, int i, bool *folded)
{
    const struct nnp_node *node = rt->g->nodes[i];
    struct nnp_exec_node *n = &rt->nodes[i];
    n->node = node;
    n->threads = nnp_pool_threads(rt->pool);
    n->pool = rt->pool;
    n->opset = nnp_graph_opset(rt->g, "");
    *folded = false;
    enum nnp_status st;

    if (rt->qdq_role && rt->qdq_role[i] == QDQ_ABSORBED) { /* planned with its layer */
        *folded = true;
        return NNP_OK;
    }
    if (rt->qdq_role && rt->qdq_role[i] == QDQ_ANCHOR) {
        bool planned;
        if ((st = plan_qdq_or_release(rt, i, &planned)) != NNP_OK || planned)
            return st;
        n->node = node;
        n->threads = nnp_pool_threads(rt->pool);
        n->pool = rt->pool;
        n->opset = nnp_graph_opset(rt->g, "");
    }

    if (!is_default_domain(node->domain))
        return nnp_op_unsupported(n, "operator %s::%s is not supported by the runtime",
                                  node->domain, node->op_type);
    n->op = nnp_op_find(node->op_type);
    if (!n->op)
        return nnp_op_unsupported(n, "the runtime has no %s operator", node->op_type);

    /* trailing omitted optional inputs and outputs do not count */
    n->n_in = node->n_inputs;
    while (n->n_in > 0 && !node->inputs[n->n_in - 1])
        n->n_in--;
    n->n_out = node->n_outputs;
    while (n->n_out > 0 && !node->outputs[n->n_out - 1])
        n->n_out--;
    n->in = nnp_arena_alloc(rt->arena, (size_t)(n->n_in + 1) * sizeof *n->in);
    n->out = nnp_arena_alloc(rt->arena, (size_t)(n->n_out + 1) * sizeof *n->out);
    for (int j = 0; j < n->n_in; j++) {
        const struct nnp_value *v = node->inputs[j];
        if (!v)
            continue;
        struct nnp_rt_value *r;
        st = defined_value(rt, v, &r);
        if (st != NNP_OK)
            return st;
        if (!r) /* not an input, initializer or earlier output */
            return nnp_op_error(n, "input '%s' is read before any node computes it (is the "
                                "graph validated?)", v->name);
        n->in[j] = r;
    }
    for (int j = 0; j < n->n_out; j++) {
        const struct nnp_value *v = node->outputs[j];
        if (!v)
            continue;
        struct nnp_rt_value *r = rt_value(rt, v);
        if (r->dtype != NNP_DTYPE_UNDEFINED || r->is_const || r->is_input)
            return nnp_op_error(n, "output '%s' is already defined", v->name);
        n->out[j] = r;
    }
    st = check_arity(n);
    if (st != NNP_OK)
        return st;

    st = name_node(f16_wanted(n) ? f16_prepare(rt, n) : n->op->prepare(n, rt->arena), node);
    if (st != NNP_OK)
        return st;
    n->work = node_work(n);
    /* what prepare kept (states, tables, constants it computed) counts against the limit */
    if (nnp_arena_bytes(rt->arena) > rt->limit) {
        char label[300], lim[96];
        return nnp_errorf(NNP_ERR_NOMEM, "%s: the plan holds %zu bytes once it is prepared, "
                          "more than %s", node_label(node, label, sizeof label),
                          nnp_arena_bytes(rt->arena), limit_str(rt, lim, sizeof lim));
    }

    bool all_const_out = n->n_out > 0;
    for (int j = 0; j < n->n_out; j++) {
        const struct nnp_rt_value *o = n->out[j];
        if (!o)
            continue;
        if (o->dtype == NNP_DTYPE_UNDEFINED)
            return nnp_op_error(n, "%s's prepare gave output '%s' no type (an operator bug)",
                                n->op->name, o->name);
        all_const_out &= o->is_const && (o->data || o->nbytes == 0);
    }
    if (all_const_out) { /* prepare computed the outputs itself */
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j])
                rt->mem.const_bytes = add_sat(rt->mem.const_bytes, n->out[j]->nbytes);
        rt->mem.work_folded = add_sat64(rt->mem.work_folded, n->work);
        *folded = true;
        return NNP_OK;
    }

    bool foldable = !is_random(rt, n);
    for (int j = 0; foldable && j < n->n_in; j++) {
        const struct nnp_rt_value *r = n->in[j];
        if (!r)
            continue;
        /* training: parameters change between steps, so nothing computed from them is
         * constant */
        bool param = rt->param[node->inputs[j]->index];
        foldable = (r->is_const && !param) || is_shape_only(n);
    }
    if (!foldable)
        return NNP_OK;
    st = fold_node(rt, n);
    *folded = st == NNP_OK;
    return st;
}

/* --- memory plan --- */

struct range {
    size_t off, size;
};

/* Free ranges of the activation arena below `end`, sorted by offset, never adjacent
 * (merged on release). Best fit: the smallest free range that holds the request. */
struct free_list {
    struct range *r; /* (n), room for every value + 1 */
    int n;
    size_t end;  /* bytes in use or free below this offset */
    size_t peak; /* the largest `end` seen */
};

static size_t fl_take(struct free_list *fl, size_t size)
{
    int best = -1;
    for (int i = 0; i < fl->n; i++)
        if (fl->r[i].size >= size && (best < 0 || fl->r[i].size < fl->r[best].size))
            best = i;
    size_t off;
    if (best >= 0) {
        off = fl->r[best].off;
        fl->r[best].off += size;
        fl->r[best].size -= size;
        if (fl->r[best].size == 0) {
            memmove(&fl->r[best], &fl->r[best + 1], (size_t)(fl->n - best - 1) * sizeof *fl->r);
            fl->n--;
        }
        return off;
    }
    /* nothing fits: grow the arena, starting inside a free range that ends at the top */
    if (fl->n > 0 && fl->r[fl->n - 1].off + fl->r[fl->n - 1].size == fl->end) {
        off = fl->r[--fl->n].off;
    } else {
        off = fl->end;
    }
    fl->end = add_sat(off, size);
    if (fl->end > fl->peak)
        fl->peak = fl->end;
    return off;
}

static void fl_give(struct free_list *fl, size_t off, size_t size)
{
    int i = 0;
    while (i < fl->n && fl->r[i].off < off)
        i++;
    memmove(&fl->r[i + 1], &fl->r[i], (size_t)(fl->n - i) * sizeof *fl->r);
    fl->r[i] = (struct range){off, size};
    fl->n++;
    if (i + 1 < fl->n && fl->r[i].off + fl->r[i].size == fl->r[i + 1].off) { /* next */
        fl->r[i].size += fl->r[i + 1].size;
        memmove(&fl->r[i + 1], &fl->r[i + 2], (size_t)(fl->n - i - 2) * sizeof *fl->r);
        fl->n--;
    }
    if (i > 0 && fl->r[i - 1].off + fl->r[i - 1].size == fl->r[i].off) { /* previous */
        fl->r[i - 1].size += fl->r[i].size;
        memmove(&fl->r[i], &fl->r[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->r);
        fl->n--;
        i--;
    }
    if (fl->r[i].off + fl->r[i].size == fl->end) { /* the top range goes back to nothing */
        fl->end = fl->r[i].off;
        fl->n--;
        NNP_ASSERT(i == fl->n);
    }
}

static int by_last_use(const void *a, const void *b)
{
    const struct nnp_rt_value *x = *(struct nnp_rt_value *const *)a;
    const struct nnp_rt_value *y = *(struct nnp_rt_value *const *)b;
    return (x->last_use > y->last_use) - (x->last_use < y->last_use);
}

static int node_index(const struct nnp_runtime *rt, const struct nnp_exec_node *n)
{
    return (int)(n - rt->nodes);
}

/* Does value v own a buffer of the activation arena? */
static bool owns_buffer(const struct nnp_rt_value *v)
{
    return v && !v->is_const && !v->elided && !v->share;
}

/* Offsets for every buffer owner (inputs included): live from the node that writes it
 * (inputs: before the first node) to the last reader of any value sharing it (graph
 * outputs: the end). A buffer is free again once that reader has run; a node's outputs
 * are placed before the buffers its inputs free, so they never overlap them (an
 * operator run in place shares its input's buffer instead). */
static void plan_memory(struct nnp_runtime *rt, struct nnp_rt_value **vals, int n_vals)
{
    if (rt->opts.keep_all || rt->opts.training) { /* training keeps activations for backward */
        size_t off = 0;
        for (int k = 0; k < n_vals; k++) {
            vals[k]->offset = off;
            off = add_sat(off, align_up(vals[k]->nbytes));
        }
        rt->mem.arena_bytes = off;
        return;
    }
    struct free_list fl = {nnp_arena_alloc(rt->arena, (size_t)(n_vals + 1) * sizeof *fl.r), 0,
                           0, 0};
    struct nnp_rt_value **by_end = nnp_arena_alloc(rt->arena, (size_t)(n_vals + 1) *
                                                                  sizeof *by_end);
    memcpy(by_end, vals, (size_t)n_vals * sizeof *vals);
    qsort(by_end, (size_t)n_vals, sizeof *by_end, by_last_use);
    int next_free = 0;
    /* inputs first: they live throughout */
    for (int k = 0; k < n_vals; k++)
        if (vals[k]->first_use < 0)
            vals[k]->offset = fl_take(&fl, align_up(vals[k]->nbytes));
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *n = rt->run[r];
        int i = node_index(rt, n);
        for (int j = 0; j < n->n_out; j++)
            if (owns_buffer(n->out[j]))
                n->out[j]->offset = fl_take(&fl, align_up(n->out[j]->nbytes));
        while (next_free < n_vals && by_end[next_free]->last_use <= i) {
            struct nnp_rt_value *v = by_end[next_free++];
            fl_give(&fl, v->offset, align_up(v->nbytes));
        }
    }
    rt->mem.arena_bytes = fl.peak;
}

/* --- fusion, liveness, shared buffers --- */

static bool same_shape(const struct nnp_rt_value *a, const struct nnp_rt_value *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

/* The Add that reads the result of producer p (at node index ip) and another value
 * already computed before p runs, of the same shape: @return that other value, or
 * NULL when c is not such an Add. */
static const struct nnp_rt_value *residual_of(const struct nnp_exec_node *c,
                                              const struct nnp_rt_value *o, int ip)
{
    if (strcmp(c->node->op_type, "Add") != 0 || !is_default_domain(c->node->domain) ||
        c->n_in != 2 || !c->in[0] || !c->in[1] || c->n_out != 1)
        return NULL;
    const struct nnp_rt_value *r = c->in[0] == o ? c->in[1] : c->in[0];
    if (r == o || o->dtype != NNP_DTYPE_F32 || !same_shape(r, o) || !same_shape(c->out[0], o))
        return NULL;
    /* known before p runs: a constant, an input, or the output of an earlier node */
    if (!r->is_const && !r->is_input && !(r->first_use >= 0 && r->first_use < ip))
        return NULL;
    return r;
}

/* Give each Conv, Gemm and MatMul the Add and the activation that are the only readers
 * of its result (in that order: y = act(conv + residual)), and a Conv the
 * BatchNormalization before them (y = act(conv * a + b + residual), the statistics
 * constant: a and b made here), so that they run in its epilogue. The nodes fused in
 * do not run; the values between are never stored. */
static void plan_fusion(struct nnp_runtime *rt)
{
    rt->fused = nnp_arena_alloc(rt->arena, (size_t)(rt->n_run + 1) * sizeof *rt->fused);
    bool *gone = nnp_arena_alloc(rt->arena, (size_t)rt->n_nodes + 1);
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *p = rt->run[r];
        /* a float16 node takes an activation only: its epilogue's other inputs are float32 */
        bool half = p->op == &f16_op;
        unsigned caps = f16_inner(p)->op->flags &
                        (half ? NNP_OP_FUSE_ACT
                              : NNP_OP_FUSE_ACT | NNP_OP_FUSE_ADD | NNP_OP_FUSE_AFFINE);
        int ip = node_index(rt, p);
        if (!half && p->n_out == 1 && p->out[0] && p->out[0]->dtype != NNP_DTYPE_F32) {
            if (p->fusion.n_nodes) /* a quantized layer into int8 (plan_qdq_anchor) */
                rt->fused[rt->n_fused++] = p;
            continue; /* the epilogues below are float */
        }
        if (!caps || gone[ip] || p->n_out != 1 || !p->out[0])
            continue;
        const struct nnp_value *cur = p->node->outputs[0]; /* the IR value p now writes */
        while (p->fusion.n_nodes < 3 && !cur->is_output && cur->n_consumers == 1) {
            const struct nnp_node *cn = cur->consumers[0];
            struct nnp_exec_node *c = &rt->nodes[cn->index];
            NNP_ASSERT(c->node == cn);
            if (gone[cn->index] || !c->op || c->n_out != 1 || !c->out[0])
                break;
            struct nnp_act act;
            const struct nnp_rt_value *res;
            const float *mul, *add;
            if ((caps & NNP_OP_FUSE_AFFINE) && !p->fusion.mul && !p->fusion.residual &&
                !p->fusion.act.kind &&
                c->in[0] == p->out[0] && is_default_domain(cn->domain) &&
                same_shape(c->out[0], p->out[0]) && nnp_bn_affine(c, rt->arena, &mul, &add)) {
                p->fusion.mul = mul;
                p->fusion.add = add;
            } else if ((caps & NNP_OP_FUSE_ADD) && !p->fusion.residual && !p->fusion.act.kind &&
                (res = residual_of(c, p->out[0], ip))) {
                p->fusion.residual = res;
            } else if ((caps & NNP_OP_FUSE_ACT) && !p->fusion.act.kind &&
                       c->in[0] == p->out[0] && nnp_act_of_node(f16_inner(c), &act) &&
                       (!half || f16_exact_act(&act)) && same_shape(c->out[0], p->out[0])) {
                p->fusion.act = act;
                if (half)
                    ((struct f16_state *)p->state)->inner.fusion.act = act;
            } else {
                break;
            }
            p->out[0]->elided = true;
            p->out[0]->data = NULL;
            p->out[0] = c->out[0];
            p->fusion.nodes[p->fusion.n_nodes++] = cn;
            gone[cn->index] = true;
            cur = cn->outputs[0];
        }
        if (p->fusion.n_nodes)
            rt->fused[rt->n_fused++] = p;
    }
    int k = 0;
    for (int r = 0; r < rt->n_run; r++)
        if (!gone[node_index(rt, rt->run[r])])
            rt->run[k++] = rt->run[r];
    rt->n_run = k;
}

/* first_use: the node that writes a value; last_use: the last that reads it (graph
 * inputs from before the first node, graph outputs to the end). */
static void plan_liveness(struct nnp_runtime *rt)
{
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *n = rt->run[r];
        int i = node_index(rt, n);
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j])
                n->out[j]->first_use = n->out[j]->last_use = i;
    }
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *n = rt->run[r];
        int i = node_index(rt, n);
        for (int j = 0; j <= n->n_in; j++) {
            struct nnp_rt_value *v = j < n->n_in ? n->in[j]
                                                 : (struct nnp_rt_value *)n->fusion.residual;
            if (v && !v->is_const && v->last_use < i)
                v->last_use = i;
        }
    }
    for (int i = 0; i < rt->n_inputs; i++)
        rt->inputs[i]->last_use = rt->n_nodes;
    for (int i = 0; i < rt->n_outputs; i++)
        if (!rt->outputs[i]->is_const)
            rt->outputs[i]->last_use = rt->n_nodes;
}

/* The value owning v's buffer. */
static struct nnp_rt_value *buffer_of(struct nnp_rt_value *v)
{
    return v->share ? v->share : v;
}

/* Views share their input's buffer; an operator that may run in place writes over an
 * input of its output's size whose buffer nothing reads after it (graph inputs never:
 * the caller fills them once for many runs). The owner's last_use grows to cover
 * every value in its buffer. */
static void plan_shares(struct nnp_runtime *rt)
{
    for (int r = 0; r < rt->n_run; r++) {
        struct nnp_exec_node *n = rt->run[r];
        int i = node_index(rt, n);
        struct nnp_rt_value *o = n->n_out >= 1 ? n->out[0] : NULL;
        if (!o || o->is_const || o->elided || n->op->flags == 0)
            continue;
        struct nnp_rt_value *take = NULL;
        if ((n->op->flags & NNP_OP_VIEW) && n->in[0] && !n->in[0]->is_const &&
            n->in[0]->nbytes == o->nbytes) {
            take = buffer_of(n->in[0]);
        } else if ((n->op->flags & NNP_OP_IN_PLACE) && n->n_in <= 2) {
            /* (Max, Min and Sum of more inputs fold them into the output one by one) */
            for (int j = 0; j < n->n_in && !take; j++) {
                struct nnp_rt_value *x = n->in[j];
                if (!x || x->is_const || x->nbytes != o->nbytes ||
                    nnp_dtype_size(x->dtype) != nnp_dtype_size(o->dtype))
                    continue;
                struct nnp_rt_value *b = buffer_of(x);
                bool read_in_other_slot = false;
                for (int q = 0; q < n->n_in; q++)
                    read_in_other_slot |= q != j && n->in[q] && buffer_of(n->in[q]) == b;
                if (!b->is_input && b->last_use == i && !read_in_other_slot)
                    take = b;
            }
        }
        if (!take)
            continue;
        o->share = take;
        if (o->last_use > take->last_use)
            take->last_use = o->last_use;
        if (o->is_output) /* a graph output keeps the buffer to the end */
            take->last_use = rt->n_nodes;
    }
}

/* Training: one zeroed gradient per float32 activation and per float32 initializer
 * (the parameters), same shape, in one allocation. */
static bool has_grad(const struct nnp_runtime *rt, int k)
{
    const struct nnp_rt_value *r = rt->by_index[k];
    return rt->opts.training && r && r->dtype == NNP_DTYPE_F32 && (!r->is_const || rt->param[k]);
}

static size_t grad_bytes_needed(const struct nnp_runtime *rt)
{
    size_t total = 0;
    for (int k = 0; k < rt->g->n_values; k++)
        if (has_grad(rt, k))
            total = add_sat(total, align_up(rt->by_index[k]->nbytes));
    return total;
}

static enum nnp_status plan_grads(struct nnp_runtime *rt)
{
    size_t total = grad_bytes_needed(rt);
    uint8_t *base;
    enum nnp_status st = rt_alloc(rt, total ? total : 1, "training: gradients", (void **)&base);
    if (st != NNP_OK)
        return st;
    rt->grad_bytes = total;
    size_t off = 0;
    for (int k = 0; k < rt->g->n_values; k++) {
        if (!has_grad(rt, k))
            continue;
        struct nnp_rt_value *r = rt->by_index[k];
        struct nnp_rt_value *gv = nnp_arena_alloc(rt->arena, sizeof *gv);
        size_t len = strlen(r->name) + sizeof ".grad";
        char *name = nnp_arena_alloc(rt->arena, len);
        snprintf(name, len, "%s.grad", r->name);
        gv->name = name;
        st = nnp_rt_set_shape(gv, r->dtype, r->rank, r->dims);
        NNP_ASSERT(st == NNP_OK); /* the same shape was accepted once */
        gv->data = base + off;
        gv->first_use = gv->last_use = -1;
        gv->offset = off;
        off += align_up(r->nbytes);
        r->grad = gv;
    }
    return NNP_OK;
}

/* --- the plan --- */

static bool is_shape_op(const struct nnp_node *n)
{
    return is_default_domain(n->domain) &&
           (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0);
}

int nnp_runtime_const_inputs(const struct nnp_graph *g, bool *needed)
{
    struct nnp_arena *a = nnp_arena_new();
    bool *need = nnp_arena_alloc(a, (size_t)g->n_values + 1); /* by value index, zeroed */
    /* backwards through the topological order: a value is needed when a slot that reads
     * it at plan time does, or when it feeds a node whose output is needed (except Shape
     * and Size, which read only the shape, static anyway) */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const struct nnp_node *n = g->nodes[i];
        const struct nnp_op *op = is_default_domain(n->domain) ? nnp_op_find(n->op_type) : NULL;
        bool out_needed = false;
        for (int j = 0; j < n->n_outputs; j++)
            out_needed |= n->outputs[j] && need[n->outputs[j]->index];
        out_needed &= !is_shape_op(n);
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] &&
                (out_needed || (op && j < 32 && (op->const_inputs >> j & 1))))
                need[n->inputs[j]->index] = true;
    }
    int count = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        needed[i] = need[g->inputs[i]->index];
        count += needed[i];
    }
    nnp_arena_free(a);
    return count;
}

static enum nnp_status plan(struct nnp_runtime *rt)
{
    const struct nnp_graph *g = rt->g;
    enum nnp_status st;

    /* graph inputs: computed from outside, unless an initializer nobody overrides; those
     * whose values decide a shape are constants when the caller gave the values */
    const struct nnp_tensor *values = rt->opts.input_values;
    bool *needed = nnp_arena_alloc(rt->arena, (size_t)g->n_inputs + 1);
    if (values)
        nnp_runtime_const_inputs(g, needed);
    rt->inputs = nnp_arena_alloc(rt->arena, (size_t)(g->n_inputs + 1) * sizeof *rt->inputs);
    rt->pinned = nnp_arena_alloc(rt->arena, (size_t)(g->n_inputs + 1) * sizeof *rt->pinned);
    rt->pinned_values = nnp_arena_alloc(rt->arena, (size_t)(g->n_inputs + 1) *
                                                       sizeof *rt->pinned_values);
    for (int i = 0; i < g->n_inputs; i++) {
        const struct nnp_value *v = g->inputs[i];
        const struct nnp_tensor *given = rt->opts.input_shapes && rt->opts.input_shapes[i].rank >= 0
                                             ? &rt->opts.input_shapes[i]
                                             : NULL;
        const struct nnp_tensor *known = values && needed[i] && values[i].rank >= 0 &&
                                                 (values[i].data || values[i].nbytes == 0)
                                             ? &values[i]
                                             : NULL;
        if (!given)
            given = known;
        struct nnp_rt_value *r = rt_value(rt, v);
        if (v->is_initializer && !given)
            continue; /* a constant, planned when a node first reads it */
        if (r->is_input)
            return nnp_errorf(NNP_ERR_INVALID, "input %s: listed twice", v->name);
        st = plan_input(rt, v, given, r);
        if (st == NNP_OK && known)
            st = pin_input(rt, r, known);
        if (st != NNP_OK)
            return st;
        rt->inputs[rt->n_inputs++] = r;
    }

    /* nodes: prepare, fold what is known now */
    rt->n_nodes = g->n_nodes;
    rt->nodes = nnp_arena_alloc(rt->arena, (size_t)(g->n_nodes + 1) * sizeof *rt->nodes);
    rt->run = nnp_arena_alloc(rt->arena, (size_t)(g->n_nodes + 1) * sizeof *rt->run);
    int n_produced = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n_produced += g->nodes[i]->n_outputs;
    rt->produced = nnp_arena_alloc(rt->arena, (size_t)(n_produced + 1) * sizeof *rt->produced);
    bool fuse = !rt->opts.no_fuse && !rt->opts.use_reference && !rt->opts.training;
    if (fuse && !rt->opts.keep_all)
        plan_qdq(rt);
    for (int i = 0; i < g->n_nodes; i++) {
        st = plan_step(rt, i);
        if (st != NNP_OK)
            return st;
    }
    if (rt->qdq)
        qdq_sweep(rt);

    uint64_t max = rt->opts.max_work;
    if (max && (rt->mem.work_run > max || rt->mem.work_folded > max - rt->mem.work_run))
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "a run takes about %" PRIu64 " steps, which with "
                          "the %" PRIu64 " computed at plan time is more than the work limit "
                          "of %" PRIu64, rt->mem.work_run, rt->mem.work_folded, max);

    /* graph outputs: must exist at the end */
    rt->outputs = nnp_arena_alloc(rt->arena, (size_t)(g->n_outputs + 1) * sizeof *rt->outputs);
    for (int i = 0; i < g->n_outputs; i++) {
        const struct nnp_value *v = g->outputs[i];
        struct nnp_rt_value *r;
        st = defined_value(rt, v, &r);
        if (st != NNP_OK)
            return st;
        if (!r)
            return nnp_errorf(NNP_ERR_INVALID, "output %s: no node computes it", v->name);
        r->is_output = true;
        rt->outputs[rt->n_outputs++] = r;
    }
    if (fuse)
        plan_fusion(rt);
    plan_liveness(rt);
    if (!rt->opts.keep_all && !rt->opts.training)
        plan_shares(rt);

    /* memory: size everything, then allocate. Buffers are planned for the values that
     * own one; the others (views, in place) take the offset of the one they share. */
    struct nnp_rt_value **vals = nnp_arena_alloc(rt->arena, (size_t)(g->n_values + 1) *
                                                                sizeof *vals);
    struct nnp_rt_value **owners = nnp_arena_alloc(rt->arena, (size_t)(g->n_values + 1) *
                                                                  sizeof *owners);
    int n_vals = 0, n_owners = 0;
    for (int i = 0; i < rt->n_inputs; i++)
        if (!rt->inputs[i]->is_const) /* planned from its values: in constant memory */
            vals[n_vals++] = rt->inputs[i];
    for (int i = 0; i < rt->n_produced; i++)
        if (!rt->produced[i]->is_const && !rt->produced[i]->elided)
            vals[n_vals++] = rt->produced[i];
    for (int k = 0; k < n_vals; k++)
        if (!vals[k]->share)
            owners[n_owners++] = vals[k];
    plan_memory(rt, owners, n_owners);
    rt->mem.naive_bytes = 0; /* what one buffer per value would take */
    for (int k = 0; k < n_vals; k++)
        rt->mem.naive_bytes = add_sat(rt->mem.naive_bytes, align_up(vals[k]->nbytes));
    for (int k = 0; k < n_vals; k++)
        if (vals[k]->share)
            vals[k]->offset = vals[k]->share->offset;
    size_t grads = grad_bytes_needed(rt);
    size_t need = add_sat(add_sat(rt->mem.arena_bytes, rt->mem.scratch_bytes),
                          add_sat(rt->mem.const_bytes, grads));
    if (need > rt->limit) {
        char lim[96];
        return nnp_errorf(NNP_ERR_NOMEM, "the plan needs %zu bytes (activations %zu, scratch "
                          "%zu, constants %zu, gradients %zu), more than %s", need,
                          rt->mem.arena_bytes, rt->mem.scratch_bytes, rt->mem.const_bytes, grads,
                          limit_str(rt, lim, sizeof lim));
    }
    st = rt_alloc(rt, rt->mem.arena_bytes ? rt->mem.arena_bytes : 1, "activations",
                  (void **)&rt->activations);
    if (st != NNP_OK)
        return st;
    if (rt->mem.scratch_bytes) {
        st = rt_alloc(rt, rt->mem.scratch_bytes, "scratch", &rt->scratch);
        if (st != NNP_OK)
            return st;
    }
    for (int k = 0; k < n_vals; k++)
        vals[k]->data = rt->activations + vals[k]->offset;
    for (int i = 0; i < rt->n_run; i++)
        rt->run[i]->scratch = rt->run[i]->scratch_bytes ? rt->scratch : NULL;

    /* overridden initializers start with the model's values */
    for (int i = 0; i < g->n_inputs; i++) {
        const struct nnp_value *v = g->inputs[i];
        struct nnp_rt_value *r = rt->by_index[v->index];
        if (r && r->is_input && !r->is_const && v->is_initializer && v->t.data &&
            v->t.storage == NNP_STORAGE_DENSE && v->t.dtype == r->dtype &&
            v->t.nbytes == r->nbytes)
            memcpy(r->data, v->t.data, r->nbytes);
    }
    if (rt->opts.profile)
        rt->seconds = nnp_arena_alloc(rt->arena, (size_t)(rt->n_run + 1) * sizeof *rt->seconds);
    if (rt->opts.training)
        return plan_grads(rt);
    return NNP_OK;
}

enum nnp_status nnp_runtime_new(const struct nnp_graph *g, const struct nnp_runtime_opts *o,
                                struct nnp_runtime **out)
{
    *out = NULL;
    struct nnp_arena *a = nnp_arena_new();
    struct nnp_runtime *rt = nnp_arena_alloc(a, sizeof *rt);
    rt->arena = a;
    rt->g = g;
    rt->opts = o ? *o : nnp_runtime_opts_default();
    rt->limit = physical_memory();
    if (rt->opts.max_bytes && rt->opts.max_bytes < rt->limit)
        rt->limit = rt->opts.max_bytes;
    /* what prepare functions allocate by input sizes (tables, constants) is bounded too */
    nnp_arena_set_limit(a, rt->limit);
    rt->threads = rt->opts.threads > 0 ? rt->opts.threads : online_cpus();
    /* the kernels split work over the runtime's own pool; OpenBLAS runs on one thread in
     * each (never a threaded sgemm inside our parallel region: PERF-NOTES.md) */
    nnp_blas_threads(1);
    rt->pool = nnp_pool_new(rt->threads);
    rt->by_index = nnp_arena_alloc(a, (size_t)(g->n_values + 1) * sizeof *rt->by_index);
    rt->param = nnp_arena_alloc(a, (size_t)(g->n_values + 1) * sizeof *rt->param);
    enum nnp_status st = plan(rt);
    if (st != NNP_OK) {
        nnp_runtime_free(rt);
        return st;
    }
    *out = rt;
    return NNP_OK;
}

void nnp_runtime_free(struct nnp_runtime *rt)
{
    if (!rt)
        return;
    nnp_pool_free(rt->pool);
    nnp_arena_free(rt->arena); /* rt lives in its own arena */
}

bool nnp_runtime_inputs_as_planned(const struct nnp_runtime *rt)
{
    for (int i = 0; i < rt->n_pinned; i++) {
        const struct nnp_rt_value *r = rt->pinned[i];
        if (r->nbytes && memcmp(r->data, rt->pinned_values[i], r->nbytes) != 0) {
            nnp_errorf(NNP_ERR_INVALID, "input %s: its values decide a shape, and they are not "
                       "the ones the model was planned with; plan it again", r->name);
            return false;
        }
    }
    return true;
}

enum nnp_status nnp_runtime_run(struct nnp_runtime *rt)
{
    if (!nnp_runtime_inputs_as_planned(rt))
        return NNP_ERR_INVALID;
    nnp_blas_threads(1); /* another caller may have changed it; free when not */
    for (int i = 0; i < rt->n_run; i++) {
        struct nnp_exec_node *n = rt->run[i];
        struct timespec t0, t1;
        if (rt->seconds)
            clock_gettime(CLOCK_MONOTONIC, &t0);
        enum nnp_status st = run_node(rt, n);
        if (st != NNP_OK)
            return name_node(st, n->node);
        if (rt->seconds) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            rt->seconds[i] += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec -
                                                                               t0.tv_nsec);
        }
    }
    return NNP_OK;
}

int nnp_runtime_n_run(const struct nnp_runtime *rt)
{
    return rt->n_run;
}

struct nnp_runtime_node_time nnp_runtime_node_time(const struct nnp_runtime *rt, int i)
{
    NNP_ASSERT(i >= 0 && i < rt->n_run);
    const struct nnp_exec_node *n = rt->run[i];
    return (struct nnp_runtime_node_time){n->node, n->fusion.n_nodes,
                                          rt->seconds ? rt->seconds[i] : 0.0, n->flops};
}

void nnp_runtime_profile_reset(struct nnp_runtime *rt)
{
    if (rt->seconds)
        memset(rt->seconds, 0, (size_t)rt->n_run * sizeof *rt->seconds);
}

int nnp_runtime_n_inputs(const struct nnp_runtime *rt)
{
    return rt->n_inputs;
}

int nnp_runtime_n_outputs(const struct nnp_runtime *rt)
{
    return rt->n_outputs;
}

struct nnp_rt_value *nnp_runtime_input(struct nnp_runtime *rt, int i)
{
    NNP_ASSERT(i >= 0 && i < rt->n_inputs);
    return rt->inputs[i];
}

struct nnp_rt_value *nnp_runtime_output(struct nnp_runtime *rt, int i)
{
    NNP_ASSERT(i >= 0 && i < rt->n_outputs);
    return rt->outputs[i];
}

struct nnp_rt_value *nnp_runtime_value(struct nnp_runtime *rt, const char *name)
{
    const struct nnp_value *v = nnp_graph_find(rt->g, name);
    if (!v)
        return NULL;
    struct nnp_rt_value *r = rt->by_index[v->index];
    if (!r || r->dtype == NNP_DTYPE_UNDEFINED || r->elided)
        return NULL;
    /* an intermediate's buffer is reused by later values unless every value keeps its own */
    if (!r->is_const && !r->is_input && !r->is_output && !rt->opts.keep_all && !rt->opts.training)
        return NULL;
    return r;
}

int nnp_runtime_n_values(const struct nnp_runtime *rt)
{
    return rt->n_produced;
}

struct nnp_rt_value *nnp_runtime_value_at(struct nnp_runtime *rt, int i)
{
    NNP_ASSERT(i >= 0 && i < rt->n_produced);
    return rt->produced[i];
}

int nnp_runtime_n_fused(const struct nnp_runtime *rt)
{
    return rt->n_fused;
}

struct nnp_runtime_fused nnp_runtime_fused_at(const struct nnp_runtime *rt, int i)
{
    NNP_ASSERT(i >= 0 && i < rt->n_fused);
    const struct nnp_exec_node *n = rt->fused[i];
    return (struct nnp_runtime_fused){n->node, n->fusion.n_nodes, n->fusion.nodes};
}

struct nnp_runtime_memory nnp_runtime_memory(const struct nnp_runtime *rt)
{
    return rt->mem;
}
