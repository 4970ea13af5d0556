/* tests/conformance.c — the runtime against ONNX's own node tests.
 *
 *     build/conformance                    every case in the default folders
 *     build/conformance --op Conv -v       cases whose graph has a Conv, one line each
 *     build/conformance DIR...             just these case folders
 *
 * A case is a folder with model.onnx and test_data_set_N/{input_K,output_K}.pb
 * (ONNX TensorProto), from Debian's libonnx-testdata (opsets up to 17). A case
 * is in scope when every node of its graph is a row of kernels/ops/ops.def in the
 * default domain; those are planned with the inputs' shapes, run, and every
 * output compared: same dtype and shape, floats within 1e-5 + 1e-3 * |want|
 * (NaN equals NaN), integers and bools exactly. Each test data set runs twice:
 * fast kernels with the reused arena, then the naive reference kernels with a
 * buffer per value. Every input is given with its values when the plan is made,
 * as `nnpress run` gives the files it reads: those that decide a shape (Reshape's
 * shape, Slice's starts, ...) are then planned as constants by the runtime itself
 * (runtime.h, input_values).
 *
 *     build/conformance --cli build/nnpress
 *
 * runs every test data set through the command line instead, as a user would:
 * `nnpress run model.onnx --input NAME=input_K.pb ... -o DIR`, then compares the
 * .npy files it wrote with output_K.pb, by the same rule.
 *
 * An in-scope case is skipped only for a reason in `skips` below, and every skip
 * is printed with it. Cases with ops outside ops.def are counted, not listed.
 * Exit status: 0 when no in-scope case failed, 1 otherwise, 2 on usage errors.
 */
#include <dirent.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/npy.h"
#include "formats/onnx.h"
#include "kernels/runtime.h"

#define DATA_ROOT "/usr/share/libonnx-testdata/data"
static const char *const default_dirs[] = {"node", "pytorch-converted", "pytorch-operator",
                                           "simple"};

#define MAX_IO 64  /* inputs or outputs of one test data set */
#define MAX_OPS 64 /* distinct op types in one graph */

/* --- the operators in scope: the rows of ops.def --- */

static const char *const scope_ops[] = {
#define X(name, file) #name,
#include "kernels/ops/ops.def"
#undef X
};
#define N_SCOPE (int)(sizeof scope_ops / sizeof *scope_ops)

static int scope_index(const char *op)
{
    for (int i = 0; i < N_SCOPE; i++)
        if (strcmp(scope_ops[i], op) == 0)
            return i;
    return -1;
}

/* --- what a case is made of --- */

struct kase {
    const char *name; /* "node/test_add" */
    const char *dir;  /* its folder */
    struct nnp_graph *g;
    int n_ops;
    int ops[MAX_OPS]; /* distinct scope_ops indices in the graph */
    /* the first test data set, read before the skip rules run */
    int n_in, n_out;
    struct nnp_tensor in[MAX_IO], out[MAX_IO];
    const char *in_names[MAX_IO];
};

/* Does any graph input or output, initializer or test tensor have element type t? */
static bool has_dtype(const struct kase *k, enum nnp_dtype t)
{
    for (int i = 0; i < k->n_in; i++)
        if (k->in[i].dtype == t)
            return true;
    for (int i = 0; i < k->n_out; i++)
        if (k->out[i].dtype == t)
            return true;
    for (int i = 0; i < k->g->n_values; i++) {
        const struct nnp_value *v = k->g->values[i];
        if ((v->is_input || v->is_output || v->is_initializer) && v->t.dtype == t)
            return true;
    }
    /* a Cast or a Constant producing the type inside the graph */
    for (int i = 0; i < k->g->n_nodes; i++) {
        const struct nnp_node *n = k->g->nodes[i];
        if (strcmp(n->op_type, "Cast") == 0 && nnp_node_attr_int(n, "to", 0) == nnp_dtype_onnx(t))
            return true;
        const struct nnp_attr *a = nnp_node_attr(n, "value");
        if (a && a->type == NNP_ATTR_TENSOR && a->t && a->t->dtype == t)
            return true;
    }
    return false;
}

static bool uses_string(const struct kase *k) { return has_dtype(k, NNP_DTYPE_STRING); }

/* sequence, map and optional values have no tensor type in the IR */
static bool uses_non_tensor(const struct kase *k)
{
    for (int i = 0; i < k->g->n_inputs; i++)
        if (k->g->inputs[i]->t.dtype == NNP_DTYPE_UNDEFINED)
            return true;
    for (int i = 0; i < k->g->n_outputs; i++)
        if (k->g->outputs[i]->t.dtype == NNP_DTYPE_UNDEFINED)
            return true;
    return false;
}

static bool bn_training(const struct kase *k)
{
    for (int i = 0; i < k->g->n_nodes; i++) {
        const struct nnp_node *n = k->g->nodes[i];
        if (strcmp(n->op_type, "BatchNormalization") == 0 &&
            (nnp_node_attr_int(n, "training_mode", 0) != 0 || n->n_outputs > 1))
            return true;
    }
    return false;
}

static bool resize_cubic(const struct kase *k)
{
    for (int i = 0; i < k->g->n_nodes; i++) {
        const struct nnp_node *n = k->g->nodes[i];
        if (strcmp(n->op_type, "Resize") == 0 &&
            strcmp(nnp_node_attr_string(n, "mode", "nearest"), "cubic") == 0)
            return true;
    }
    return false;
}

/* --- the skip table: the only reasons an in-scope case is not run --- */

struct skip {
    const char *glob;                   /* the case name ("node/test_x*"), or NULL: any */
    bool (*when)(const struct kase *k); /* NULL: always (for the cases `glob` names) */
    const char *reason;
};

static const struct skip skips[] = {
    {NULL, uses_non_tensor, "sequence, map or optional values: the runtime runs tensors only"},
    {NULL, uses_string, "string tensors: refused by design, no runtime operator computes on "
                        "strings"},
    {NULL, bn_training, "BatchNormalization in training mode (batch statistics, running-mean "
                        "outputs): refused by design, the runtime infers (training is roadmap "
                        "step 5)"},
    {NULL, resize_cubic, "Resize mode cubic: refused by design (kernels/ops/op_resize.c "
                         "interpolates nearest and linear)"},
    {"node/test_training_dropout*", NULL,
     "Dropout with training_mode=true: refused by design, the runtime infers (training is "
     "roadmap step 5); the random mask could not match NumPy's generator anyway"},
    {"node/test_castlike_*BFLOAT16*_expanded", NULL,
     "the test data's `like` input is [1] where the model declares [3,4]: the runtime refuses "
     "inputs that contradict the model, as ONNX Runtime does"},
    {"node/test_cast_FLOAT_to_BFLOAT16", NULL,
     "this test data expects float32 truncated toward zero to bfloat16; Cast rounds to "
     "nearest even (kernels/ops/op_shape.c), as every other float conversion does"},
};

static const char *skip_reason(const struct kase *k)
{
    for (size_t i = 0; i < sizeof skips / sizeof *skips; i++) {
        const struct skip *s = &skips[i];
        if (s->glob && fnmatch(s->glob, k->name, 0) != 0)
            continue;
        if (s->when && !s->when(k))
            continue;
        return s->reason;
    }
    return NULL;
}

/* --- results --- */

struct op_count {
    int passed, failed, skipped;
};

struct line {
    char *text;
    struct line *next;
};

struct results {
    struct op_count per_op[N_SCOPE];
    int passed, failed, skipped, out_of_scope, unreadable;
    int missing[256]; /* out of scope: how many cases each missing op kept out */
    const char *missing_names[256];
    int n_missing;
    struct line *skip_lines, **skip_tail;
    struct line *fail_lines, **fail_tail;
    bool verbose;
    bool no_skip; /* run the cases the skip table names too (debugging) */
    const char *only_op;
    const char *cli; /* the nnpress binary: run each set through `nnpress run` */
    char tmp[64];    /* --cli: the folder it writes into */
};

static void add_line(struct line ***tail, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_line(struct line ***tail, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    struct line *l = calloc(1, sizeof *l);
    if (!l || !(l->text = strdup(buf))) {
        fputs("conformance: out of memory\n", stderr);
        exit(1);
    }
    **tail = l;
    *tail = &l->next;
}

static void free_lines(struct line *l)
{
    while (l) {
        struct line *next = l->next;
        free(l->text);
        free(l);
        l = next;
    }
}

static void count_missing(struct results *r, const char *op)
{
    for (int i = 0; i < r->n_missing; i++)
        if (strcmp(r->missing_names[i], op) == 0) {
            r->missing[i]++;
            return;
        }
    if (r->n_missing < 256) {
        r->missing_names[r->n_missing] = strdup(op);
        r->missing[r->n_missing++] = 1;
    }
}

/* --- comparing --- */

static double elem_f64(enum nnp_dtype t, const void *data, int64_t i)
{
    switch (t) {
    case NNP_DTYPE_F32: return ((const float *)data)[i];
    case NNP_DTYPE_F64: return ((const double *)data)[i];
    case NNP_DTYPE_F16: return nnp_f16_to_f32(((const uint16_t *)data)[i]);
    case NNP_DTYPE_BF16: return nnp_bf16_to_f32(((const uint16_t *)data)[i]);
    case NNP_DTYPE_U8: return ((const uint8_t *)data)[i];
    case NNP_DTYPE_I8: return ((const int8_t *)data)[i];
    case NNP_DTYPE_U16: return ((const uint16_t *)data)[i];
    case NNP_DTYPE_I16: return ((const int16_t *)data)[i];
    case NNP_DTYPE_I32: return ((const int32_t *)data)[i];
    case NNP_DTYPE_U32: return ((const uint32_t *)data)[i];
    case NNP_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case NNP_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    case NNP_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    default: return NAN;
    }
}

static bool close_enough(double got, double want)
{
    if (isnan(got) || isnan(want))
        return isnan(got) && isnan(want);
    if (got == want) /* infinities included */
        return true;
    return fabs(got - want) <= 1e-5 + 1e-3 * fabs(want);
}

/* The index of element i as "[a,b,c]". */
static char *index_str(const struct nnp_rt_value *v, int64_t i, char *buf, size_t size)
{
    int64_t idx[NNP_MAX_RANK];
    for (int d = v->rank - 1; d >= 0; d--) {
        idx[d] = v->dims[d] ? i % v->dims[d] : 0;
        i = v->dims[d] ? i / v->dims[d] : 0;
    }
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < v->rank && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, d ? "," : "", idx[d]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

/* NULL when `got` matches `want`, else what differs first (in buf). */
static const char *compare(const struct nnp_rt_value *got, const struct nnp_tensor *want,
                           char *buf, size_t size)
{
    char sg[160], sw[160];
    if (got->dtype != want->dtype) {
        snprintf(buf, size, "dtype %s, want %s", nnp_dtype_name(got->dtype),
                 nnp_dtype_name(want->dtype));
        return buf;
    }
    bool same = got->rank == want->rank;
    for (int d = 0; same && d < got->rank; d++)
        same = got->dims[d] == want->dims[d];
    if (!same) {
        snprintf(buf, size, "shape %s, want %s", nnp_rt_shape_str(got, sg, sizeof sg),
                 nnp_tensor_shape_str(want, sw, sizeof sw));
        return buf;
    }
    if (got->numel == 0)
        return NULL;
    if (want->dtype == NNP_DTYPE_STRING || nnp_dtype_size(want->dtype) == 0 ||
        want->nbytes < got->nbytes || !got->data || !want->data) {
        snprintf(buf, size, "cannot compare %s data", nnp_dtype_name(want->dtype));
        return buf;
    }
    bool is_float = nnp_dtype_is_float(want->dtype);
    size_t es = nnp_dtype_size(want->dtype);
    int64_t n_bad = 0, first = -1;
    for (int64_t i = 0; i < got->numel; i++) {
        bool ok = is_float ? close_enough(elem_f64(got->dtype, got->data, i),
                                          elem_f64(want->dtype, want->data, i))
                           : memcmp((const char *)got->data + (size_t)i * es,
                                    (const char *)want->data + (size_t)i * es, es) == 0;
        if (!ok && n_bad++ == 0)
            first = i;
    }
    if (!n_bad)
        return NULL;
    double gv = elem_f64(got->dtype, got->data, first);
    double wv = elem_f64(want->dtype, want->data, first);
    if (is_float)
        snprintf(buf, size, "element %s: got %.9g, want %.9g (%" PRId64 " of %" PRId64 " differ)",
                 index_str(got, first, sg, sizeof sg), gv, wv, n_bad, got->numel);
    else if (want->dtype == NNP_DTYPE_U64)
        snprintf(buf, size, "element %s: got %" PRIu64 ", want %" PRIu64 " (%" PRId64 " of %"
                 PRId64 " differ)", index_str(got, first, sg, sizeof sg),
                 ((const uint64_t *)got->data)[first], ((const uint64_t *)want->data)[first],
                 n_bad, got->numel);
    else
        snprintf(buf, size, "element %s: got %.0f, want %.0f (%" PRId64 " of %" PRId64
                 " differ)", index_str(got, first, sg, sizeof sg), gv, wv, n_bad, got->numel);
    return buf;
}

/* --- reading a case --- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read test data set `set` of the case: input_K.pb and output_K.pb for K = 0, 1, ...
 * @return 1 read, 0 no such set, -1 error (message set). */
static int read_set(struct kase *k, int set)
{
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/test_data_set_%d", k->dir, set);
    if (!is_dir(dir))
        return 0;
    k->n_in = k->n_out = 0;
    for (int which = 0; which < 2; which++) {
        for (int i = 0; i < MAX_IO; i++) {
            snprintf(path, sizeof path, "%s/%s_%d.pb", dir, which ? "output" : "input", i);
            if (!is_file(path))
                break;
            struct nnp_tensor *t = which ? &k->out[i] : &k->in[i];
            const char *name = NULL;
            if (nnp_onnx_tensor_read(path, k->g, t, &name) != NNP_OK)
                return -1;
            /* ONNX's test data stores bfloat16 tensors as uint16 holding the same bits */
            const struct nnp_value *gv = NULL;
            if (which && i < k->g->n_outputs)
                gv = k->g->outputs[i];
            else if (!which && name && *name)
                gv = nnp_graph_find(k->g, name);
            if (gv && gv->t.dtype == NNP_DTYPE_BF16 && t->dtype == NNP_DTYPE_U16)
                t->dtype = NNP_DTYPE_BF16;
            if (which) {
                k->n_out++;
            } else {
                k->in_names[i] = name;
                k->n_in++;
            }
        }
    }
    return 1;
}

/* The graph input test input i feeds: by name when the .pb has one that matches, else
 * the i-th graph input that is not an initializer. @return its index in g->inputs, -1. */
static int input_slot(const struct kase *k, int i)
{
    const struct nnp_graph *g = k->g;
    if (k->in_names[i] && *k->in_names[i])
        for (int j = 0; j < g->n_inputs; j++)
            if (strcmp(g->inputs[j]->name, k->in_names[i]) == 0)
                return j;
    for (int j = 0, m = 0; j < g->n_inputs; j++) {
        if (g->inputs[j]->is_initializer)
            continue;
        if (m++ == i)
            return j;
    }
    return -1;
}

/* Plan and run one test data set, with the fast kernels and a reused arena or (reference)
 * with the naive reference kernels and a buffer per value. NULL on success, else why it
 * failed (in buf). */
static const char *run_set(struct kase *k, bool reference, char *buf, size_t size)
{
    struct nnp_graph *g = k->g;
    /* shapes and values: what `nnpress run` gives the runtime for the files it read */
    struct nnp_tensor *shapes = calloc((size_t)g->n_inputs + 1, sizeof *shapes);
    struct nnp_tensor *values = calloc((size_t)g->n_inputs + 1, sizeof *values);
    if (!shapes || !values) {
        free(shapes);
        free(values);
        snprintf(buf, size, "out of memory");
        return buf;
    }
    for (int j = 0; j < g->n_inputs; j++)
        shapes[j].rank = values[j].rank = -1;
    int slot[MAX_IO];
    for (int i = 0; i < k->n_in; i++) {
        slot[i] = input_slot(k, i);
        if (slot[i] < 0) {
            snprintf(buf, size, "input_%d.pb (%s) matches no graph input", i,
                     k->in_names[i] ? k->in_names[i] : "");
            free(shapes);
            free(values);
            return buf;
        }
        shapes[slot[i]] = values[slot[i]] = k->in[i];
    }
    struct nnp_runtime_opts o = nnp_runtime_opts_default();
    o.threads = 1;
    o.input_shapes = shapes;
    o.input_values = values;
    o.use_reference = o.keep_all = reference;
    struct nnp_runtime *rt = NULL;
    enum nnp_status st = nnp_runtime_new(g, &o, &rt);
    free(shapes);
    free(values);
    if (st != NNP_OK) {
        snprintf(buf, size, "plan: %s", nnp_error_message());
        return buf;
    }
    const char *why = NULL;
    for (int i = 0; i < k->n_in && !why; i++) {
        struct nnp_rt_value *v = NULL;
        for (int j = 0; j < nnp_runtime_n_inputs(rt); j++)
            if (strcmp(nnp_runtime_input(rt, j)->name, g->inputs[slot[i]]->name) == 0)
                v = nnp_runtime_input(rt, j);
        if (!v || v->nbytes != k->in[i].nbytes || (v->nbytes && !k->in[i].data)) {
            snprintf(buf, size, "input_%d.pb does not fit input %s", i, g->inputs[slot[i]]->name);
            why = buf;
        } else if (v->nbytes) {
            memcpy(v->data, k->in[i].data, v->nbytes);
        }
    }
    if (!why && (st = nnp_runtime_run(rt)) != NNP_OK) {
        snprintf(buf, size, "run: %s", nnp_error_message());
        why = buf;
    }
    if (!why && k->n_out != nnp_runtime_n_outputs(rt)) {
        snprintf(buf, size, "%d outputs, the test has %d", nnp_runtime_n_outputs(rt), k->n_out);
        why = buf;
    }
    for (int i = 0; i < k->n_out && !why; i++) {
        char what[1024];
        const struct nnp_rt_value *v = nnp_runtime_output(rt, i);
        if (compare(v, &k->out[i], what, sizeof what)) {
            snprintf(buf, size, "output %d (%s): %s", i, v->name, what);
            why = buf;
        }
    }
    nnp_runtime_free(rt);
    return why;
}

/* The file `nnpress run` writes a value to: its name with every character but letters,
 * digits, '-', '_' and a '.' that does not start it made '_' (cmd/run.c, file_for). */
static void npy_name(const char *dir, const char *name, char *buf, size_t size)
{
    char safe[200];
    size_t k = 0;
    for (const char *p = name; *p && k < sizeof safe - 1; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || (c == '.' && k > 0);
        safe[k++] = ok ? c : '_';
    }
    safe[k] = '\0';
    snprintf(buf, size, "%s/%s.npy", dir, k ? safe : "value");
}

/* Test data set `set` through the command line: `nnpress run` with every input as its
 * .pb file, then each output's .npy against output_K.pb. NULL on success, else why. */
static const char *run_set_cli(const struct results *r, struct kase *k, int set, char *buf,
                               size_t size)
{
    char cmd[16384], path[1400];
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "'%s' run '%s/model.onnx' -q --threads 1 -o '%s'",
                                r->cli, k->dir, r->tmp);
    for (int i = 0; i < k->n_in && n < sizeof cmd; i++) {
        int s = input_slot(k, i);
        if (s < 0) {
            snprintf(buf, size, "input_%d.pb (%s) matches no graph input", i,
                     k->in_names[i] ? k->in_names[i] : "");
            return buf;
        }
        n += (size_t)snprintf(cmd + n, sizeof cmd - n,
                              " --input '%s=%s/test_data_set_%d/input_%d.pb'",
                              k->g->inputs[s]->name, k->dir, set, i);
    }
    if (n + 32 >= sizeof cmd) {
        snprintf(buf, size, "the command line is too long");
        return buf;
    }
    snprintf(cmd + n, sizeof cmd - n, " 2>'%s/stderr'", r->tmp);
    int status = system(cmd);
    if (status != 0) {
        snprintf(path, sizeof path, "%s/stderr", r->tmp);
        char err[1024] = "";
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(err, sizeof err, f))
                err[0] = '\0';
            fclose(f);
        }
        err[strcspn(err, "\n")] = '\0';
        snprintf(buf, size, "nnpress run: exit %d: %s",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, err);
        return buf;
    }
    const char *why = NULL;
    for (int i = 0; i < k->n_out && !why; i++) {
        const char *name = k->g->outputs[i]->name;
        npy_name(r->tmp, name, path, sizeof path);
        struct nnp_array a;
        if (nnp_npy_read(path, &a) != NNP_OK) {
            snprintf(buf, size, "output %d (%s): %s", i, name, nnp_error_message());
            why = buf;
            break;
        }
        /* the .npy as the runtime value it was written from */
        struct nnp_rt_value got = {.name = name, .dtype = a.dtype, .rank = a.rank,
                                   .data = a.data, .nbytes = a.nbytes};
        memcpy(got.dims, a.dims, sizeof got.dims);
        got.numel = nnp_array_numel(&a);
        /* .npy has no bfloat16: run writes it as the uint16 holding the same bits */
        if (got.dtype == NNP_DTYPE_U16 && k->out[i].dtype == NNP_DTYPE_BF16)
            got.dtype = NNP_DTYPE_BF16;
        char what[1024];
        if (compare(&got, &k->out[i], what, sizeof what)) {
            snprintf(buf, size, "output %d (%s): %s", i, name, what);
            why = buf;
        }
        nnp_array_free(&a);
        unlink(path);
    }
    return why;
}

static void count_case(struct results *r, const struct kase *k, int outcome)
{
    for (int i = 0; i < k->n_ops; i++) {
        struct op_count *c = &r->per_op[k->ops[i]];
        if (outcome > 0)
            c->passed++;
        else if (outcome < 0)
            c->failed++;
        else
            c->skipped++;
    }
    if (outcome > 0)
        r->passed++;
    else if (outcome < 0)
        r->failed++;
    else
        r->skipped++;
}

static void run_case(struct results *r, const char *dir, const char *name)
{
    struct kase *k = calloc(1, sizeof *k);
    if (!k) {
        fputs("conformance: out of memory\n", stderr);
        exit(1);
    }
    k->name = name;
    k->dir = dir;
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (nnp_onnx_read(path, &k->g) != NNP_OK) {
        /* not readable means its ops are not known either: out of scope, but said */
        r->unreadable++;
        if (r->verbose)
            printf("unreadable %s: %s\n", name, nnp_error_message());
        free(k);
        return;
    }
    bool in_scope = true, wanted = !r->only_op;
    for (int i = 0; i < k->g->n_nodes; i++) {
        const struct nnp_node *n = k->g->nodes[i];
        int s = *n->domain && strcmp(n->domain, "ai.onnx") ? -1 : scope_index(n->op_type);
        if (r->only_op && strcmp(n->op_type, r->only_op) == 0)
            wanted = true;
        if (s < 0) {
            in_scope = false;
            continue;
        }
        int j = 0;
        while (j < k->n_ops && k->ops[j] != s)
            j++;
        if (j == k->n_ops && k->n_ops < MAX_OPS)
            k->ops[k->n_ops++] = s;
    }
    if (!wanted) {
        nnp_graph_free(k->g);
        free(k);
        return;
    }
    if (!in_scope) {
        r->out_of_scope++;
        const char *seen[MAX_OPS];
        int n_seen = 0;
        for (int i = 0; i < k->g->n_nodes; i++) {
            const struct nnp_node *n = k->g->nodes[i];
            if (!(*n->domain && strcmp(n->domain, "ai.onnx")) && scope_index(n->op_type) >= 0)
                continue;
            int j = 0;
            while (j < n_seen && strcmp(seen[j], n->op_type))
                j++;
            if (j < n_seen || n_seen == MAX_OPS)
                continue;
            seen[n_seen++] = n->op_type;
            count_missing(r, n->op_type);
        }
        if (r->verbose)
            printf("out of scope %s\n", name);
        nnp_graph_free(k->g);
        free(k);
        return;
    }

    char why[2048];
    const char *failure = NULL, *reason = NULL;
    int rs = read_set(k, 0);
    if (rs < 0) {
        snprintf(why, sizeof why, "%s", nnp_error_message());
        reason = uses_non_tensor(k) ? skips[0].reason : NULL;
        failure = reason ? NULL : why;
    } else if (rs == 0) {
        snprintf(why, sizeof why, "no test_data_set_0");
        failure = why;
    } else if (!r->no_skip) {
        reason = skip_reason(k);
    }
    if (!failure && !reason) {
        for (int set = 0; !failure; set++) {
            if (set > 0) {
                int got = read_set(k, set);
                if (got == 0)
                    break;
                if (got < 0) {
                    snprintf(why, sizeof why, "%s", nnp_error_message());
                    failure = why;
                    break;
                }
            }
            bool reference = false;
            if (r->cli) {
                failure = run_set_cli(r, k, set, why, sizeof why);
            } else {
                failure = run_set(k, false, why, sizeof why);
                if (!failure) {
                    reference = true;
                    failure = run_set(k, true, why, sizeof why);
                }
            }
            if (failure && (set > 0 || reference)) {
                char tmp[sizeof why];
                snprintf(tmp, sizeof tmp, "%s%.0d%s%.2000s", set ? "test_data_set_" : "", set,
                         reference ? (set ? ", reference kernels: " : "reference kernels: ")
                                   : ": ", why);
                memcpy(why, tmp, sizeof why);
            }
        }
    }
    if (reason) {
        count_case(r, k, 0);
        add_line(&r->skip_tail, "%s: %s", name, reason);
        if (r->verbose)
            printf("skip %s: %s\n", name, reason);
    } else if (failure) {
        count_case(r, k, -1);
        add_line(&r->fail_tail, "%s: %s", name, failure);
        if (r->verbose)
            printf("FAIL %s: %s\n", name, failure);
    } else {
        count_case(r, k, 1);
        if (r->verbose)
            printf("pass %s\n", name);
    }
    nnp_graph_free(k->g);
    free(k);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_folder(struct results *r, const char *root, const char *sub)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "conformance: %s: cannot list (is libonnx-testdata installed?)\n", dir);
        r->failed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[1300], name[600];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        snprintf(name, sizeof name, "%s/%s", sub, list[i]->d_name);
        char model[1400];
        snprintf(model, sizeof model, "%s/model.onnx", path);
        if (list[i]->d_name[0] != '.' && is_file(model))
            run_case(r, path, name);
        free(list[i]);
    }
    free(list);
}

static void print_report(const struct results *r)
{
    printf("%-20s %7s %7s %7s\n", "op", "passed", "failed", "skipped");
    for (int i = 0; i < N_SCOPE; i++) {
        const struct op_count *c = &r->per_op[i];
        if (r->only_op && !c->passed && !c->failed && !c->skipped)
            continue;
        printf("%-20s %7d %7d %7d\n", scope_ops[i], c->passed, c->failed, c->skipped);
    }
    printf("\ncases run: %d (in scope: %d; out of scope, an op not in ops.def: %d",
           r->passed + r->failed, r->passed + r->failed + r->skipped, r->out_of_scope);
    if (r->unreadable)
        printf("; model not readable: %d", r->unreadable);
    printf(")\n");
    if (r->n_missing) {
        /* the ops that keep most cases out, most first */
        int order[256];
        for (int i = 0; i < r->n_missing; i++)
            order[i] = i;
        for (int i = 1; i < r->n_missing; i++)
            for (int j = i; j > 0 && (r->missing[order[j]] > r->missing[order[j - 1]] ||
                                      (r->missing[order[j]] == r->missing[order[j - 1]] &&
                                       strcmp(r->missing_names[order[j]],
                                              r->missing_names[order[j - 1]]) < 0));
                 j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        printf("ops outside ops.def (cases):");
        for (int i = 0; i < r->n_missing; i++)
            printf(" %s %d%s", r->missing_names[order[i]], r->missing[order[i]],
                   i + 1 < r->n_missing ? "," : "");
        printf("\n");
    }
    printf("\nskipped (%d):\n", r->skipped);
    for (const struct line *l = r->skip_lines; l; l = l->next)
        printf("  %s\n", l->text);
    printf("\nfailed (%d):\n", r->failed);
    for (const struct line *l = r->fail_lines; l; l = l->next)
        printf("  %s\n", l->text);
    printf("\nconformance: %d passed, %d failed, %d skipped\n", r->passed, r->failed, r->skipped);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: conformance [--op NAME] [-v] [--no-skip] [--root DIR] [--cli NNPRESS] "
               "[CASE_DIR...]\n"
               "  --op NAME   only the cases whose graph has a NAME node\n"
               "  --cli NNPRESS  run each test data set with `NNPRESS run`, inputs as files\n"
               "  -v          one line per case as it runs\n"
               "  --no-skip   run the cases the skip table names as well\n"
               "  --root DIR  the test data (default " DATA_ROOT ")\n");
}

int main(int argc, char **argv)
{
    static struct results r;
    r.skip_tail = &r.skip_lines;
    r.fail_tail = &r.fail_lines;
    const char *root = DATA_ROOT;
    int first_case = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            r.verbose = true;
        } else if (strcmp(argv[i], "--no-skip") == 0) {
            r.no_skip = true;
        } else if (strcmp(argv[i], "--op") == 0 && i + 1 < argc) {
            r.only_op = argv[++i];
        } else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            root = argv[++i];
        } else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc) {
            r.cli = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else {
            first_case = i;
            break;
        }
    }
    if (r.only_op && scope_index(r.only_op) < 0) {
        fprintf(stderr, "conformance: %s is not a row of kernels/ops/ops.def\n", r.only_op);
        return 2;
    }
    if (r.cli) {
        const char *tmpdir = getenv("TMPDIR");
        snprintf(r.tmp, sizeof r.tmp, "%s/nnpress-conformance-XXXXXX",
                 tmpdir && *tmpdir && strlen(tmpdir) < 32 ? tmpdir : "/tmp");
        if (!mkdtemp(r.tmp)) {
            fprintf(stderr, "conformance: cannot make a temporary folder\n");
            return 1;
        }
    }
    if (first_case < argc) {
        for (int i = first_case; i < argc; i++) {
            char dir[1024];
            snprintf(dir, sizeof dir, "%s", argv[i]);
            size_t n = strlen(dir);
            while (n > 1 && dir[n - 1] == '/')
                dir[--n] = '\0';
            const char *base = strrchr(dir, '/');
            run_case(&r, dir, base ? base + 1 : dir);
        }
    } else {
        for (size_t i = 0; i < sizeof default_dirs / sizeof *default_dirs; i++)
            run_folder(&r, root, default_dirs[i]);
    }
    print_report(&r);
    if (r.cli) {
        char path[128];
        snprintf(path, sizeof path, "%s/stderr", r.tmp);
        unlink(path);
        rmdir(r.tmp); /* fails, and says so below, if a run left a file behind */
        if (is_dir(r.tmp))
            fprintf(stderr, "conformance: %s is not empty\n", r.tmp);
    }
    free_lines(r.skip_lines);
    free_lines(r.fail_lines);
    for (int i = 0; i < r.n_missing; i++)
        free((void *)r.missing_names[i]);
    return r.failed ? 1 : 0;
}
