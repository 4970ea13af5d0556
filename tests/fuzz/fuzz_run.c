/* tests/fuzz/fuzz_run.c — plan and run whatever the ONNX reader accepts, so that
 * shape inference, constant folding and the kernels meet hostile attributes, ranks
 * and dimensions. Besides not crashing (the sanitizers watch every access):
 *
 *   - the fast kernels and the reference kernels plan the same output shapes;
 *   - a second run of the same plan gives the same bytes (a kernel that reads its
 *     output or scratch before writing it sees the first run's leftovers).
 *
 * Memory and time per input are bounded by the runtime itself (max_bytes,
 * max_work), which refuses such plans with an error before computing anything;
 * libFuzzer's -rss_limit_mb and -timeout (tests/fuzz/fuzz.sh) are only the
 * backstop. Threads 1, batch 1, inputs filled by a fixed pattern: one input always
 * does the same thing.
 *
 * Flipping bytes of a protobuf seldom gives a model that still parses, so under
 * libFuzzer most mutations are made on the IR instead (LLVMFuzzerCustomMutator
 * below): an attribute set to an edge value or added, an input's shape or dtype, an
 * initializer's elements or shape, a node's op type or inputs, the opset; then the
 * model is written out again. The replay driver does not use the mutator. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/onnx.h"
#include "kernels/ops/op_tensor.h"
#include "kernels/runtime.h"

/* The runtime's limits, per plan. Under ASan, UBSan and libFuzzer's coverage at -O1 a
 * step costs 0.05 us in OpenBLAS (not instrumented) but up to 0.5 us in our own loops:
 * the N-D pooling windows, the naive reference kernels. 2^22 steps keep the slowest
 * inputs to a few seconds with the fast plan run twice (an AveragePool over
 * [16,3,32,32,32], 11M steps, took 11 s before); testdata/resnet.onnx (9.5M steps a
 * run) is planned, not run. 128 MiB a plan stays well within the rss limit with both
 * plans alive. */
#define FUZZ_MAX_BYTES ((size_t)128 << 20)
#define FUZZ_MAX_WORK ((uint64_t)1 << 22)

/* Small values of every sign, zeros included: Gather indices, Reshape shapes and
 * divisors read from inputs stay near the edges where checks matter. The pattern repeats
 * every 5 elements: the first 40 are computed, the rest copied, because an input no node
 * reads can still be 100 MB (element by element it took 10 s under ASan). */
static void fill(struct nnp_rt_value *v, int salt)
{
    static const struct nnp_string empty = {0, ""};
    if (v->numel == 0)
        return;
    size_t es = v->nbytes / (size_t)v->numel;
    int64_t head = v->numel < 40 ? v->numel : 40;
    for (int64_t i = 0; i < head; i++) {
        double x = (double)((i * 7 + salt) % 5) - 2.0;
        switch (v->dtype) {
        case NNP_DTYPE_STRING: ((struct nnp_string *)v->data)[i] = empty; break;
        case NNP_DTYPE_C64:
        case NNP_DTYPE_C128: /* zero: no kernel computes with them */
            memset((uint8_t *)v->data + (size_t)i * es, 0, es);
            break;
        default: nnp_elem_set_f64(v->dtype, v->data, i, x); break;
        }
    }
    size_t done = (size_t)head * es;
    while (done < v->nbytes) { /* doubling copies of whole 40-element blocks */
        size_t n = done < v->nbytes - done ? done : v->nbytes - done;
        memcpy((uint8_t *)v->data + done, v->data, n);
        done += n;
    }
}

static void fill_inputs(struct nnp_runtime *rt)
{
    for (int i = 0; i < nnp_runtime_n_inputs(rt); i++)
        fill(nnp_runtime_input(rt, i), i);
}

static struct nnp_runtime *plan(const struct nnp_graph *g, bool reference)
{
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    o.batch = 1;
    o.use_reference = reference;
    o.keep_all = reference; /* the other memory plan: every value its own buffer */
    o.max_bytes = FUZZ_MAX_BYTES;
    o.max_work = FUZZ_MAX_WORK;
    struct nnp_runtime *rt = NULL;
    if (nnp_runtime_new(g, &o, &rt) != NNP_OK)
        return NULL;
    NNP_ASSERT(rt != NULL);
    return rt;
}

/* The outputs' bytes after one run (malloc'd, one block), or NULL if the run failed. */
static uint8_t *run_outputs(struct nnp_runtime *rt, size_t *size)
{
    fill_inputs(rt);
    if (nnp_runtime_run(rt) != NNP_OK)
        return NULL;
    size_t total = 0;
    for (int i = 0; i < nnp_runtime_n_outputs(rt); i++)
        total += nnp_runtime_output(rt, i)->nbytes;
    uint8_t *bytes = malloc(total ? total : 1);
    NNP_ASSERT(bytes != NULL);
    size_t off = 0;
    for (int i = 0; i < nnp_runtime_n_outputs(rt); i++) {
        const struct nnp_rt_value *v = nnp_runtime_output(rt, i);
        if (v->dtype == NNP_DTYPE_STRING) { /* pointers may differ: keep the lengths */
            for (int64_t k = 0; k < v->numel; k++) {
                struct nnp_string e = {((const struct nnp_string *)v->data)[k].len, NULL};
                memcpy(bytes + off + (size_t)k * sizeof e, &e, sizeof e);
            }
        } else if (v->nbytes) {
            memcpy(bytes + off, v->data, v->nbytes);
        }
        off += v->nbytes;
    }
    *size = total;
    return bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nnp_graph *g = NULL;
    /* a folder that does not exist: external data references fail cleanly */
    if (nnp_onnx_read_buffer(data, size, "/nonexistent-nnpress-fuzz", "fuzz", &g) != NNP_OK)
        return 0;
    if (nnp_graph_validate(g) != NNP_OK) {
        nnp_graph_free(g);
        return 0;
    }

    struct nnp_runtime *fast = plan(g, false);
    if (fast) {
        size_t n1 = 0, n2 = 0;
        uint8_t *first = run_outputs(fast, &n1);
        if (first) {
            uint8_t *second = run_outputs(fast, &n2);
            NNP_ASSERT(second != NULL); /* the same plan on the same inputs */
            NNP_ASSERT(n1 == n2 && memcmp(first, second, n1) == 0);
            free(second);
        }
        free(first);
    }

    struct nnp_runtime *ref = plan(g, true);
    if (ref) {
        size_t n = 0;
        free(run_outputs(ref, &n));
    }
    if (fast && ref) {
        NNP_ASSERT(nnp_runtime_n_outputs(fast) == nnp_runtime_n_outputs(ref));
        for (int i = 0; i < nnp_runtime_n_outputs(fast); i++) {
            const struct nnp_rt_value *a = nnp_runtime_output(fast, i);
            const struct nnp_rt_value *b = nnp_runtime_output(ref, i);
            NNP_ASSERT(a->dtype == b->dtype && a->rank == b->rank);
            NNP_ASSERT(memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0);
        }
    }
    nnp_runtime_free(ref);
    nnp_runtime_free(fast);
    nnp_graph_free(g);
    return 0;
}

/* --- the structure-aware mutator (libFuzzer only) --- */

/* libFuzzer's own byte mutations; weak, so that the replay build links without it */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static uint64_t rnd(uint64_t *r)
{
    *r ^= *r << 13; /* xorshift64: the seed libFuzzer passes makes a mutation replayable */
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static int64_t pick(uint64_t *r, int64_t n)
{
    return n > 0 ? (int64_t)(rnd(r) % (uint64_t)n) : 0;
}

/* the edges prepare functions must check: zero, negative, off by one, int32 and
 * int64 limits, and sizes whose products overflow */
static int64_t edge_int(uint64_t *r, int64_t old)
{
    static const int64_t edges[] = {0,
                                    1,
                                    -1,
                                    2,
                                    -2,
                                    3,
                                    4,
                                    7,
                                    8,
                                    9,
                                    16,
                                    64,
                                    1000,
                                    (int64_t)1 << 20,
                                    (int64_t)1 << 30,
                                    INT32_MAX,
                                    (int64_t)INT32_MAX + 1,
                                    INT32_MIN,
                                    (int64_t)1 << 40,
                                    (int64_t)1 << 62,
                                    INT64_MAX,
                                    INT64_MIN,
                                    INT64_MIN + 1};
    if (pick(r, 3) == 0) /* a step away, wrapping at the ends */
        return (int64_t)((uint64_t)old + (uint64_t)(pick(r, 5) - 2));
    return edges[pick(r, sizeof edges / sizeof *edges)];
}

static float edge_float(uint64_t *r)
{
    static const float edges[] = {0.0f,  -0.0f,   1.0f,     -1.0f,  0.5f, 2.0f, 1e-30f,
                                  1e30f, FLT_MAX, -FLT_MAX, 1e-45f, 0.1f, 7.0f};
    switch (pick(r, 8)) {
    case 0: return INFINITY;
    case 1: return -INFINITY;
    case 2: return NAN;
    default: return edges[pick(r, sizeof edges / sizeof *edges)];
    }
}

static const char *const attr_names[] = {"axis",
                                         "axes",
                                         "keepdims",
                                         "perm",
                                         "kernel_shape",
                                         "strides",
                                         "pads",
                                         "dilations",
                                         "group",
                                         "auto_pad",
                                         "ceil_mode",
                                         "count_include_pad",
                                         "storage_order",
                                         "epsilon",
                                         "alpha",
                                         "beta",
                                         "transA",
                                         "transB",
                                         "mode",
                                         "split",
                                         "num_outputs",
                                         "to",
                                         "noop_with_empty_axes",
                                         "output_padding",
                                         "output_shape",
                                         "allowzero",
                                         "coordinate_transformation_mode",
                                         "nearest_mode",
                                         "extrapolation_value",
                                         "min",
                                         "max",
                                         "approximate",
                                         "stash_type",
                                         "momentum",
                                         "training_mode",
                                         "batch_dims",
                                         "start",
                                         "end",
                                         "broadcast",
                                         "consumed_inputs",
                                         "exclude_outside",
                                         "cubic_coeff_a",
                                         "antialias",
                                         "keep_aspect_ratio_policy",
                                         "value_int",
                                         "value_ints",
                                         "value_float",
                                         "value_floats",
                                         "spatial",
                                         "is_test",
                                         "shape"};
static const char *const attr_strings[] = {"",
                                           "nearest",
                                           "linear",
                                           "cubic",
                                           "constant",
                                           "reflect",
                                           "edge",
                                           "wrap",
                                           "NOTSET",
                                           "SAME_UPPER",
                                           "SAME_LOWER",
                                           "VALID",
                                           "half_pixel",
                                           "pytorch_half_pixel",
                                           "align_corners",
                                           "asymmetric",
                                           "tf_crop_and_resize",
                                           "tf_half_pixel_for_nn",
                                           "round_prefer_floor",
                                           "round_prefer_ceil",
                                           "floor",
                                           "ceil",
                                           "tanh",
                                           "none",
                                           "stretch",
                                           "FLOAT",
                                           "INT64"};

static void set_string(struct nnp_graph *g, struct nnp_string *s, uint64_t *r)
{
    const char *v = attr_strings[pick(r, sizeof attr_strings / sizeof *attr_strings)];
    s->data = nnp_graph_strdup(g, v);
    s->len = strlen(v);
}

static void mutate_ints(struct nnp_graph *g, struct nnp_attr *a, uint64_t *r)
{
    int64_t n = a->n;
    switch (pick(r, 4)) {
    case 0: /* one element fewer or more */ n = n > 0 && pick(r, 2) ? n - 1 : n + 1; break;
    case 1: /* another length, up to a rank and a half */ n = pick(r, NNP_MAX_RANK * 2 + 2); break;
    default:
        if (n > 0) {
            a->ints[pick(r, n)] = edge_int(r, a->ints[pick(r, n)]);
            return;
        }
        n = 1;
    }
    int64_t *v = nnp_arena_alloc(g->arena, (size_t)(n + 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = i < a->n ? a->ints[i] : edge_int(r, 1);
    a->ints = v;
    a->n = n;
}

static void mutate_attr(struct nnp_graph *g, struct nnp_attr *a, uint64_t *r)
{
    switch (a->type) {
    case NNP_ATTR_INT: a->i = edge_int(r, a->i); break;
    case NNP_ATTR_FLOAT: a->f = edge_float(r); break;
    case NNP_ATTR_STRING: set_string(g, &a->s, r); break;
    case NNP_ATTR_INTS: mutate_ints(g, a, r); break;
    case NNP_ATTR_FLOATS:
        if (a->n > 0)
            a->floats[pick(r, a->n)] = edge_float(r);
        break;
    default: break;
    }
}

/* a new attribute (or an old one replaced) of a likely name and any simple type */
static void add_attr(struct nnp_graph *g, struct nnp_node *n, uint64_t *r)
{
    static const enum nnp_attr_type types[] = {NNP_ATTR_INT, NNP_ATTR_INTS, NNP_ATTR_FLOAT,
                                               NNP_ATTR_STRING, NNP_ATTR_FLOATS};
    const char *name = attr_names[pick(r, sizeof attr_names / sizeof *attr_names)];
    struct nnp_attr *a = nnp_node_set_attr(g, n, name, types[pick(r, 5)]);
    switch (a->type) {
    case NNP_ATTR_INT: a->i = edge_int(r, 1); break;
    case NNP_ATTR_FLOAT: a->f = edge_float(r); break;
    case NNP_ATTR_STRING: set_string(g, &a->s, r); break;
    case NNP_ATTR_INTS:
        a->n = 0;
        a->ints = NULL;
        mutate_ints(g, a, r);
        break;
    default:
        a->n = 1 + pick(r, 4);
        a->floats = nnp_arena_alloc(g->arena, (size_t)a->n * sizeof *a->floats);
        for (int64_t i = 0; i < a->n; i++)
            a->floats[i] = edge_float(r);
        break;
    }
}

/* a graph input's shape or element type */
static void mutate_input(struct nnp_graph *g, struct nnp_value *v, uint64_t *r)
{
    static const enum nnp_dtype types[] = {NNP_DTYPE_F32, NNP_DTYPE_I64, NNP_DTYPE_I32,
                                           NNP_DTYPE_U8,  NNP_DTYPE_I8,  NNP_DTYPE_BOOL,
                                           NNP_DTYPE_F16, NNP_DTYPE_F64, NNP_DTYPE_STRING};
    struct nnp_tensor *t = &v->t;
    (void)g;
    if (t->rank < 0)
        t->rank = 0;
    switch (pick(r, 4)) {
    case 0: t->dtype = types[pick(r, sizeof types / sizeof *types)]; return;
    case 1: /* another rank: new trailing dims are small */
        t->rank = (int)pick(r, NNP_MAX_RANK + 1);
        for (int i = 0; i < t->rank; i++)
            if (t->dims[i] < 0 && !t->dim_params[i])
                t->dims[i] = 1 + pick(r, 3);
        return;
    default:
        if (t->rank == 0)
            return;
        int i = (int)pick(r, t->rank);
        static const int64_t dims[] = {
            0, 1, 2, 3, 5, 7, 16, 33, -1, 1 << 12, 1 << 20, (int64_t)1 << 31, (int64_t)1 << 40};
        t->dims[i] = dims[pick(r, sizeof dims / sizeof *dims)];
        t->dim_params[i] = NULL; /* -1 alone: unknown, bound to the batch */
        return;
    }
}

/* one element of a small initializer, or its shape with the same element count */
static void mutate_initializer(struct nnp_value *v, uint64_t *r)
{
    struct nnp_tensor *t = &v->t;
    int64_t numel = nnp_tensor_numel(t);
    if (t->storage != NNP_STORAGE_DENSE || !t->data || numel <= 0 || t->rank < 0)
        return;
    if (pick(r, 3) == 0) { /* reshape: drop or add a 1, or split a dim in two */
        int64_t d[NNP_MAX_RANK];
        int rank = 0;
        for (int i = 0; i < t->rank; i++)
            if (t->dims[i] != 1 || pick(r, 2))
                d[rank++] = t->dims[i];
        if (rank < NNP_MAX_RANK && pick(r, 2)) {
            int at = (int)pick(r, rank + 1);
            memmove(d + at + 1, d + at, sizeof *d * (size_t)(rank - at));
            d[at] = 1;
            rank++;
        }
        if (rank > 0 && rank < NNP_MAX_RANK && pick(r, 2)) {
            int at = (int)pick(r, rank);
            if (d[at] % 2 == 0 && d[at] > 0) {
                memmove(d + at + 1, d + at, sizeof *d * (size_t)(rank - at));
                d[at] = 2;
                d[at + 1] /= 2;
                rank++;
            }
        }
        nnp_tensor_set_shape(t, t->dtype, rank, d);
        return;
    }
    int64_t i = pick(r, numel);
    switch (t->dtype) {
    case NNP_DTYPE_I64: ((int64_t *)t->data)[i] = edge_int(r, ((int64_t *)t->data)[i]); break;
    case NNP_DTYPE_I32: ((int32_t *)t->data)[i] = (int32_t)edge_int(r, 0); break;
    case NNP_DTYPE_F32: ((float *)t->data)[i] = edge_float(r); break;
    default:
        if (t->nbytes > 0)
            ((uint8_t *)t->data)[pick(r, (int64_t)t->nbytes)] = (uint8_t)rnd(r);
        break;
    }
}

/* a node becomes another op, loses its last input, or reads another value (or none) in
 * one of its input slots or an added one */
static void mutate_node(struct nnp_graph *g, struct nnp_node *n, uint64_t *r)
{
    int64_t what = pick(r, 4);
    if (what == 0) {
        const struct nnp_op *const *ops = nnp_op_table();
        int count = 0;
        while (ops[count])
            count++;
        n->op_type = nnp_graph_strdup(g, ops[pick(r, count)]->name);
        return;
    }
    if (what == 1 && n->n_inputs > 0) {
        n->n_inputs--;
        return;
    }
    if (g->n_values == 0)
        return;
    /* any value: a later node's output makes a cycle, which the reader refuses */
    struct nnp_value *v = g->values[pick(r, g->n_values)];
    struct nnp_value **in = nnp_arena_alloc(g->arena, (size_t)(n->n_inputs + 1) * sizeof *in);
    if (n->n_inputs)
        memcpy(in, n->inputs, (size_t)n->n_inputs * sizeof *in);
    int j = (int)pick(r, n->n_inputs + 1);
    in[j] = pick(r, 8) ? v : NULL; /* NULL: an omitted optional input */
    nnp_node_set_io(g, n, j == n->n_inputs ? n->n_inputs + 1 : n->n_inputs, in, n->n_outputs,
                    n->outputs);
}

static void mutate_graph(struct nnp_graph *g, uint64_t *r)
{
    switch (pick(r, 12)) {
    case 0:
    case 1:
    case 2:
    case 3: { /* attributes: what hostile models change most */
        if (g->n_nodes == 0)
            return;
        struct nnp_node *n = g->nodes[pick(r, g->n_nodes)];
        if (n->n_attrs > 0 && pick(r, 3))
            mutate_attr(g, &n->attrs[pick(r, n->n_attrs)], r);
        else
            add_attr(g, n, r);
        return;
    }
    case 4:
    case 5:
        if (g->n_inputs > 0)
            mutate_input(g, g->inputs[pick(r, g->n_inputs)], r);
        return;
    case 6:
    case 7:
    case 8: {
        int k = 0;
        struct nnp_value *chosen = NULL;
        for (int i = 0; i < g->n_values; i++) /* reservoir: one initializer, uniformly */
            if (g->values[i]->is_initializer && pick(r, ++k) == 0)
                chosen = g->values[i];
        if (chosen)
            mutate_initializer(chosen, r);
        return;
    }
    case 9:
    case 10:
        if (g->n_nodes > 0)
            mutate_node(g, g->nodes[pick(r, g->n_nodes)], r);
        return;
    default: { /* the opset: behaviour and inputs differ between versions */
        static const int64_t versions[] = {1, 5, 6, 7, 9, 10, 11, 12, 13, 17, 18, 19, 21};
        for (int i = 0; i < g->n_opsets; i++)
            if (!g->opsets[i].domain || !*g->opsets[i].domain)
                g->opsets[i].version = versions[pick(r, sizeof versions / sizeof *versions)];
        return;
    }
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint64_t r = ((uint64_t)seed << 1 | 1) * 0x9E3779B97F4A7C15u;
    struct nnp_graph *g = NULL;
    /* a quarter of the time, and whenever the bytes are not a model: libFuzzer's own */
    if (pick(&r, 4) == 0 ||
        nnp_onnx_read_buffer(data, size, "/nonexistent-nnpress-fuzz", "fuzz", &g) != NNP_OK)
        return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max_size) : size;
    for (int64_t k = 1 + pick(&r, 3); k > 0; k--)
        mutate_graph(g, &r);
    nnp_graph_link(g);
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (nnp_onnx_serialize(g, &bytes, &n) == NNP_OK && n <= max_size) {
        memcpy(data, bytes, n);
        size = n;
    } else if (LLVMFuzzerMutate) {
        size = LLVMFuzzerMutate(data, size, max_size);
    }
    free(bytes);
    nnp_graph_free(g);
    return size;
}
