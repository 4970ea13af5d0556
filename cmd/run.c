/* cmd/run.c — `nnpress run MODEL --input NAME=FILE ... [-o DIR] [--dump-all]`:
 * run a model on data files and write every output (with --dump-all every
 * value) as DIR/<name>.npy, to compare with another runtime.
 *
 * Each input file is read whole (.npy, IDX, IDX.gz, TensorProto .pb) and
 * becomes the tensor in its own shape, or in the model's shape per sample
 * when only the count of values per sample agrees (cmd/infer.c). With
 * --batch N the files are cut into pieces of N samples along their first
 * dimension, run one after the other, and the outputs joined again along
 * theirs: the same answer up to float rounding, in bounded activation memory.
 *
 * The files are read before the model is planned, so an input whose values decide a
 * shape (Reshape's shape, Slice's starts: kernels/runtime.h, input_values) is planned
 * with the values its file holds, and planned again when a batch holds others.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/infer.h"
#include "cmd/model_io.h"
#include "formats/idx.h"
#include "formats/npy.h"
#include "formats/onnx.h"

static const struct cli_opt opts[] = {
    {"input", 'i', "NAME=FILE",
     "feed input NAME from FILE (.npy, IDX, IDX.gz, .pb); "
     "just FILE for a model with one input",
     true},
    {"output", 'o', "DIR", "write each output as DIR/NAME.npy (default: .)", false},
    {"dump-all", 0, NULL, "write every intermediate value too, for bisecting a difference", false},
    {"no-fuse", 0, NULL, "run every node on its own (nothing fused into an epilogue)",
     false},
    {"batch", 'b', "N", "run N samples at a time and join the outputs (default: all at once)",
     false},
    {"threads", 't', "N", "threads to use (default: all cores)", false},
    {"scale", 0, "X", "integer data becomes x*X+SHIFT as float32 (default 1/255)", false},
    {"shift", 0, "SHIFT", "added after scaling (default 0)", false},
    {0},
};

/* One model input and the file that feeds it. */
struct feed {
    struct nnp_value *in; /* the model input */
    const char *path;     /* the data file */
    struct nnp_array arr; /* its contents, as stored */
    enum nnp_dtype to;    /* the element type the model takes */
};

/* One value to write, joined over the batches. */
struct result {
    char *name;         /* the value's name (malloc'd) */
    char *file;         /* DIR/<safe name>.npy (malloc'd) */
    bool is_output;     /* a graph output, not an intermediate */
    bool is_const;      /* the same in every batch: kept from the first */
    struct nnp_array a; /* dims[0] grows batch by batch; a.nbytes used of cap */
    size_t cap;
};

/* --- reading input files --- */

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* A TensorProto file, copied out of the graph arena it is read into. */
static enum nnp_status read_pb(const char *path, struct nnp_array *out)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_tensor t;
    enum nnp_status st = nnp_onnx_tensor_read(path, g, &t, NULL);
    if (st == NNP_OK && (t.storage != NNP_STORAGE_DENSE || t.rank < 0 ||
                         nnp_dtype_size(t.dtype) == 0 || (t.nbytes && !t.data)))
        st = nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: only dense numeric tensors can be inputs", path);
    if (st == NNP_OK) {
        out->dtype = t.dtype;
        out->rank = t.rank;
        memcpy(out->dims, t.dims, sizeof out->dims);
        out->nbytes = t.nbytes;
        out->data = malloc(t.nbytes ? t.nbytes : 1);
        if (!out->data)
            st = nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", path);
        else
            memcpy(out->data, t.data, t.nbytes);
    }
    nnp_graph_free(g);
    return st;
}

/* The whole of a data file, told apart by its first bytes as formats/dataset.c
 * does (a .npy or IDX whose magic is damaged goes to its own reader by name). */
static enum nnp_status read_file(const char *path, struct nnp_array *out)
{
    unsigned char m[6] = {0};
    size_t got = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        got = fread(m, 1, sizeof m, f);
        fclose(f);
    }
    bool npy = got >= 6 && memcmp(m, "\x93NUMPY", 6) == 0;
    bool idx = got >= 2 && ((m[0] == 0x1f && m[1] == 0x8b) || (m[0] == 0 && m[1] == 0));
    if (!npy && !idx && ends_with(path, ".pb"))
        return read_pb(path, out);
    if (!npy && !idx)
        npy = ends_with(path, ".npy");
    if (!npy && !idx)
        idx = ends_with(path, ".idx") || ends_with(path, "-ubyte") || ends_with(path, ".gz");
    if (npy)
        return nnp_npy_read(path, out);
    if (idx)
        return nnp_idx_read(path, out);
    if (!f)
        return nnp_errorf(NNP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return nnp_errorf(NNP_ERR_FORMAT,
                      "%s: unrecognized data format; expected .npy, IDX (MNIST-style, optionally "
                      ".gz) or an ONNX TensorProto .pb",
                      path);
}

/* What a file's elements can become: themselves, or float32 (integers scaled,
 * as the data readers do), or float16 by way of float32 (a model made with
 * quantize(type=fp16,compute=fp16,keep_io=0)). */
static bool convertible(enum nnp_dtype from, enum nnp_dtype to)
{
    if (from == to)
        return nnp_dtype_size(from) > 0;
    if (to == NNP_DTYPE_F16)
        return from == NNP_DTYPE_F32 || convertible(from, NNP_DTYPE_F32);
    /* NumPy has no bfloat16: .npy files (and ONNX's own test data) keep it as the uint16
     * holding the same bits */
    if (from == NNP_DTYPE_U16 && to == NNP_DTYPE_BF16)
        return true;
    if (to != NNP_DTYPE_F32)
        return false;
    switch (from) {
    case NNP_DTYPE_F16:
    case NNP_DTYPE_BF16:
    case NNP_DTYPE_F64:
    case NNP_DTYPE_BOOL:
    case NNP_DTYPE_U8:
    case NNP_DTYPE_I8:
    case NNP_DTYPE_U16:
    case NNP_DTYPE_I16:
    case NNP_DTYPE_U32:
    case NNP_DTYPE_I32:
    case NNP_DTYPE_U64:
    case NNP_DTYPE_I64: return true;
    default: return false;
    }
}

/* n elements at src (type `from`) into dst (type `to`), as formats/dataset.c
 * converts: floats widened or narrowed, integers and bools x * scale + shift. */
static void convert(enum nnp_dtype from, const void *src, int64_t n, enum nnp_dtype to, void *dst,
                    float scale, float shift)
{
    if (from == to || (from == NNP_DTYPE_U16 && to == NNP_DTYPE_BF16)) {
        memcpy(dst, src, (size_t)n * nnp_dtype_size(from));
        return;
    }
    if (to == NNP_DTYPE_F16) { /* by way of float32, a block at a time */
        float wide[1024];
        size_t es = nnp_dtype_size(from);
        for (int64_t i = 0; i < n; i += 1024) {
            int64_t k = n - i < 1024 ? n - i : 1024;
            convert(from, (const unsigned char *)src + (size_t)i * es, k, NNP_DTYPE_F32, wide,
                    scale, shift);
            for (int64_t j = 0; j < k; j++)
                ((uint16_t *)dst)[i + j] = nnp_f32_to_f16(wide[j]);
        }
        return;
    }
    NNP_ASSERT(to == NNP_DTYPE_F32);
    float *out = dst;
    const unsigned char *p = src;
#define CASE(T, ctype, expr)                                                                       \
    case T:                                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                          \
            ctype v;                                                                               \
            memcpy(&v, p + (size_t)i * sizeof v, sizeof v);                                        \
            out[i] = (expr);                                                                       \
        }                                                                                          \
        break;
    switch (from) {
        CASE(NNP_DTYPE_F16, uint16_t, nnp_f16_to_f32(v))
        CASE(NNP_DTYPE_BF16, uint16_t, nnp_bf16_to_f32(v))
        CASE(NNP_DTYPE_F64, double, (float)v)
        CASE(NNP_DTYPE_BOOL, uint8_t, (float)(v != 0) * scale + shift)
        CASE(NNP_DTYPE_U8, uint8_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_I8, int8_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_U16, uint16_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_I16, int16_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_U32, uint32_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_I32, int32_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_U64, uint64_t, (float)v * scale + shift)
        CASE(NNP_DTYPE_I64, int64_t, (float)v * scale + shift)
    default: NNP_ASSERT(0); /* refused by convertible() */
    }
#undef CASE
}

/* --- matching --input to the model --- */

static struct nnp_value *find_feed(const struct nnp_graph *g, const char *name, size_t len)
{
    for (int i = 0; i < infer_n_feeds(g); i++) {
        struct nnp_value *v = infer_feed(g, i);
        if (strlen(v->name) == len && strncmp(v->name, name, len) == 0)
            return v;
    }
    return NULL;
}

/* Assign every --input to a model input. @return 0, 1 or 2 (printed). */
static int match_inputs(struct cli_args *a, const char *model, const struct nnp_graph *g,
                        struct feed *feeds, int n_specs)
{
    int n_feeds = infer_n_feeds(g);
    char names[512];
    for (int k = 0; k < n_specs; k++) {
        const char *spec = cli_nth(a, "input", k);
        const char *eq = strchr(spec, '=');
        struct nnp_value *in = eq ? find_feed(g, spec, (size_t)(eq - spec)) : NULL;
        const char *file = in ? eq + 1 : spec;
        if (!in && n_feeds == 1 && n_specs == 1 && (!eq || access(spec, F_OK) == 0))
            in = infer_feed(g, 0); /* "--input FILE" for a model with one input */
        if (!in && eq) {
            fprintf(stderr, "nnpress: error: %s: no input called '%.*s' (inputs: %s)\n", model,
                    (int)(eq - spec), spec, infer_feed_names(g, names, sizeof names));
            return 1;
        }
        if (!in)
            return cli_usage(a, "--input %s: say which input, as NAME=FILE (inputs: %s)", spec,
                             infer_feed_names(g, names, sizeof names));
        for (int j = 0; j < k; j++)
            if (feeds[j].in == in)
                return cli_usage(a, "input '%s' given twice", in->name);
        feeds[k].in = in;
        feeds[k].path = file;
    }
    for (int i = 0; i < n_feeds; i++) {
        struct nnp_value *in = infer_feed(g, i);
        bool given = false;
        for (int k = 0; k < n_specs; k++)
            given = given || feeds[k].in == in;
        if (!given) {
            fprintf(stderr, "nnpress: error: %s: input '%s' is not given; add --input %s=FILE\n",
                    model, in->name, in->name);
            return 1;
        }
    }
    return 0;
}

/* Read every file and check its element type. @return 0 or 1 (printed). */
static int load_feeds(struct feed *feeds, int n)
{
    for (int k = 0; k < n; k++) {
        struct feed *f = &feeds[k];
        enum nnp_status st = read_file(f->path, &f->arr);
        if (st != NNP_OK)
            return cli_fail(st);
        f->to = f->in->t.dtype == NNP_DTYPE_UNDEFINED ? f->arr.dtype : f->in->t.dtype;
        if (!convertible(f->arr.dtype, f->to)) {
            fprintf(stderr, "nnpress: error: %s: input '%s' takes %s, the file holds %s\n", f->path,
                    f->in->name, nnp_dtype_name(f->to), nnp_dtype_name(f->arr.dtype));
            return 1;
        }
    }
    return 0;
}

/* The shape each feed takes for a run of n samples (whole: the files as they
 * are) into shapes[], one per graph input. @return 0 or 1 (printed). */
static int plan_shapes(const struct nnp_graph *g, const struct feed *feeds, int n_feeds, bool whole,
                       int64_t n, struct nnp_tensor *shapes)
{
    for (int i = 0; i < g->n_inputs; i++)
        shapes[i] = (struct nnp_tensor){.rank = -1};
    for (int k = 0; k < n_feeds; k++) {
        const struct feed *f = &feeds[k];
        int64_t dims[NNP_MAX_RANK];
        memcpy(dims, f->arr.dims, sizeof dims);
        if (!whole)
            dims[0] = n;
        int i = 0;
        while (g->inputs[i] != f->in)
            i++;
        if (nnp_shape_fit(&f->in->t, f->arr.rank, dims, whole, &shapes[i])) {
            shapes[i].dtype = f->to;
            continue;
        }
        char want[320], have[256];
        infer_expects(&f->in->t, want, sizeof want);
        infer_shape_str(f->arr.rank, f->arr.dims, have, sizeof have);
        /* a model with a fixed batch (often 1) takes a file of many samples in pieces */
        const struct nnp_tensor *t = &f->in->t;
        int64_t hint = 0;
        if (whole && t->rank >= 1 && t->dims[0] > 0 && f->arr.rank >= 1) {
            struct nnp_tensor fitted;
            dims[0] = t->dims[0];
            if (nnp_shape_fit(t, f->arr.rank, dims, false, &fitted))
                hint = t->dims[0];
        }
        if (hint)
            fprintf(stderr,
                    "nnpress: error: %s: input '%s' takes %s, the file holds %s; run it in "
                    "pieces with --batch %" PRId64 "\n",
                    f->path, f->in->name, want, have, hint);
        else
            fprintf(stderr, "nnpress: error: %s: input '%s' takes %s, the file holds %s\n", f->path,
                    f->in->name, want, have);
        return 1;
    }
    return 0;
}

/* --- results --- */

/* A file name for a value name: letters, digits, '.', '-' and '_' kept, the
 * rest '_', never hidden, never clashing with an earlier result's. */
static char *file_for(const char *dir, const char *name, const struct result *done, int n_done)
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
    if (k == 0)
        snprintf(safe, sizeof safe, "value");
    size_t size = strlen(dir) + sizeof safe + 32;
    char *file = malloc(size);
    NNP_ASSERT(file);
    for (int attempt = 1;; attempt++) {
        if (attempt == 1)
            snprintf(file, size, "%s/%s.npy", dir, safe);
        else
            snprintf(file, size, "%s/%s_%d.npy", dir, safe, attempt);
        bool clash = false;
        for (int i = 0; i < n_done && !clash; i++)
            clash = strcmp(done[i].file, file) == 0;
        if (!clash)
            return file;
    }
}

/* The values a run writes: its outputs, or (dump_all) every value the nodes
 * produced in execution order, then any output that no node produced. */
static int collect(struct nnp_runtime *rt, bool dump_all, struct nnp_rt_value ***out)
{
    int n_out = nnp_runtime_n_outputs(rt), n_val = dump_all ? nnp_runtime_n_values(rt) : 0;
    struct nnp_rt_value **list = malloc((size_t)(n_out + n_val + 1) * sizeof *list);
    NNP_ASSERT(list);
    int n = 0;
    for (int i = 0; i < n_val; i++)
        if (!nnp_runtime_value_at(rt, i)->elided) /* computed inside a fused node */
            list[n++] = nnp_runtime_value_at(rt, i);
    for (int i = 0; i < n_out; i++) {
        struct nnp_rt_value *v = nnp_runtime_output(rt, i);
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = list[j] == v || strcmp(list[j]->name, v->name) == 0;
        if (!seen)
            list[n++] = v;
    }
    *out = list;
    return n;
}

/* Append the values of one run (of n samples) to the results. @return 0 or 1 (printed). */
static int gather(const char *model, const char *dir, struct nnp_runtime *rt, bool dump_all,
                  bool first, bool whole, int64_t n, struct result **res, int *n_res)
{
    struct nnp_rt_value **vals;
    int n_vals = collect(rt, dump_all, &vals);
    int rc = 0;
    if (first) {
        *res = calloc((size_t)n_vals + 1, sizeof **res);
        NNP_ASSERT(*res);
        *n_res = n_vals;
    } else if (n_vals != *n_res) {
        rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                 "%s: the plan for %" PRId64 " samples has "
                                 "other values than the first; run without --batch",
                                 model, n));
    }
    for (int i = 0; i < n_vals && !rc; i++) {
        const struct nnp_rt_value *v = vals[i];
        struct result *r = &(*res)[i];
        if (first) {
            r->name = strdup(v->name ? v->name : "");
            NNP_ASSERT(r->name);
            r->file = file_for(dir, r->name, *res, i);
            r->is_output = v->is_output;
            r->is_const = v->is_const;
            r->a.dtype = v->dtype;
            r->a.rank = v->rank;
            memcpy(r->a.dims, v->dims, sizeof r->a.dims);
            r->a.dims[0] = v->rank > 0 ? 0 : 1;
        } else if (strcmp(r->name, v->name ? v->name : "") != 0) {
            rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                     "%s: the plan for %" PRId64 " samples has "
                                     "other values than the first; run without --batch",
                                     model, n));
            break;
        } else if (r->is_const) {
            continue; /* known before any run: the same in every batch */
        }
        if (!whole && !v->is_const && (v->rank == 0 || (r->is_output && v->dims[0] != n))) {
            char shape[256];
            rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                     "%s: %s '%s' is %s for a batch of %" PRId64
                                     ": its first dimension is not the batch; run without --batch",
                                     model, r->is_output ? "output" : "value", r->name,
                                     nnp_rt_shape_str(v, shape, sizeof shape), n));
            break;
        }
        bool same = v->dtype == r->a.dtype && v->rank == r->a.rank;
        for (int d = 1; d < v->rank && same; d++)
            same = v->dims[d] == r->a.dims[d];
        if (!same) {
            rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                     "%s: value '%s' changes shape between "
                                     "batches; run without --batch",
                                     model, r->name));
            break;
        }
        if (r->a.nbytes + v->nbytes > r->cap) {
            size_t cap = r->cap ? r->cap : 1;
            while (cap < r->a.nbytes + v->nbytes)
                cap *= 2;
            void *p = realloc(r->a.data, cap);
            if (!p) {
                rc = cli_fail(
                    nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory keeping '%s'", model, r->name));
                break;
            }
            r->a.data = p;
            r->cap = cap;
        }
        if (v->nbytes)
            memcpy((char *)r->a.data + r->a.nbytes, v->data, v->nbytes);
        r->a.nbytes += v->nbytes;
        if (v->rank > 0)
            r->a.dims[0] += v->dims[0];
    }
    free(vals);
    return rc;
}

static void free_results(struct result *res, int n)
{
    for (int i = 0; res && i < n; i++) {
        free(res[i].name);
        free(res[i].file);
        free(res[i].a.data);
    }
    free(res);
}

/* Make DIR if it is not there. *made says whether we did. @return 0 or 1 (printed). */
static int ensure_dir(const char *dir, bool *made)
{
    struct stat s;
    *made = false;
    if (stat(dir, &s) == 0) {
        if (S_ISDIR(s.st_mode))
            return 0;
        fprintf(stderr, "nnpress: error: %s: not a directory\n", dir);
        return 1;
    }
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "nnpress: error: %s: cannot create the directory: %s\n", dir,
                strerror(errno));
        return 1;
    }
    *made = true;
    return 0;
}

/* Write every result, all or nothing: a failure removes what this run wrote. `fused`:
 * the fused nodes whose inner values were not stored (--dump-all says so), or NULL. */
static int write_results(const char *dir, struct result *res, int n, bool quiet,
                         const char *fused)
{
    bool made;
    if (ensure_dir(dir, &made))
        return 1;
    for (int i = 0; i < n; i++) {
        enum nnp_status st = nnp_npy_write(res[i].file, &res[i].a);
        if (st != NNP_OK) {
            int rc = cli_fail(st);
            for (int j = 0; j < i; j++)
                unlink(res[j].file);
            if (made)
                rmdir(dir);
            return rc;
        }
    }
    if (quiet)
        return 0;
    int n_more = 0;
    for (int i = 0; i < n; i++) {
        char shape[256];
        if (!res[i].is_output) {
            n_more++;
            continue;
        }
        printf("%s %s %s\n", res[i].file, nnp_dtype_name(res[i].a.dtype),
               infer_shape_str(res[i].a.rank, res[i].a.dims, shape, sizeof shape));
    }
    if (n_more)
        printf("and %d intermediate values in %s/\n", n_more, dir);
    if (fused && *fused)
        printf("fused (their inner values are not stored; --no-fuse stores them): %s\n", fused);
    return 0;
}

/* --- the command --- */

/* Where samples [start, start + n) of a feed are: *offset and *count elements. */
static void feed_slice(const struct feed *f, bool whole, int64_t start, int64_t n, int64_t *offset,
                       int64_t *count)
{
    int64_t numel = nnp_array_numel(&f->arr);
    int64_t per = f->arr.rank ? numel / (f->arr.dims[0] ? f->arr.dims[0] : 1) : 1;
    *count = whole ? numel : n * per;
    *offset = whole ? 0 : start * per;
}

/* The values of the feeds whose values decide a shape (needed[k]), for samples
 * [start, start + n), converted to what the model takes, into values[] (one per graph
 * input, data malloc'd; the others left without data). @return whether they differ
 * from what values[] held before (and so the plan must be made again). */
static bool feed_values(const struct nnp_graph *g, const struct feed *feeds, int n_feeds,
                        const bool *needed, bool whole, int64_t start, int64_t n, float scale,
                        float shift, const struct nnp_tensor *shapes, struct nnp_tensor *values)
{
    bool changed = false;
    for (int k = 0; k < n_feeds; k++) {
        int i = 0;
        while (g->inputs[i] != feeds[k].in)
            i++;
        if (!needed[i])
            continue;
        int64_t offset, count;
        feed_slice(&feeds[k], whole, start, n, &offset, &count);
        size_t bytes = (size_t)count * nnp_dtype_size(feeds[k].to);
        void *data = malloc(bytes ? bytes : 1);
        NNP_ASSERT(data);
        size_t es = nnp_dtype_size(feeds[k].arr.dtype);
        convert(feeds[k].arr.dtype, (const char *)feeds[k].arr.data + (size_t)offset * es, count,
                feeds[k].to, data, scale, shift);
        struct nnp_tensor *v = &values[i];
        changed |= !v->data || v->nbytes != bytes || memcmp(v->data, data, bytes) != 0 ||
                   v->rank != shapes[i].rank ||
                   memcmp(v->dims, shapes[i].dims, sizeof v->dims) != 0;
        free(v->data);
        *v = shapes[i];
        v->dtype = feeds[k].to;
        v->data = data;
        v->nbytes = bytes;
    }
    return changed;
}

/* Fill the runtime's inputs with samples [start, start + n) of every feed. */
static int fill_inputs(const char *model, struct nnp_runtime *rt, const struct feed *feeds,
                       int n_feeds, bool whole, int64_t start, int64_t n, float scale, float shift)
{
    for (int k = 0; k < n_feeds; k++) {
        const struct feed *f = &feeds[k];
        struct nnp_rt_value *x = infer_rt_input(rt, f->in->name);
        int64_t offset, count;
        feed_slice(f, whole, start, n, &offset, &count);
        if (!x || x->dtype != f->to || x->numel != count) {
            char shape[256];
            return cli_fail(nnp_errorf(
                NNP_ERR_INVALID,
                "%s: input '%s': the runtime planned %s %s for %" PRId64 " values of %s", model,
                f->in->name, x ? nnp_dtype_name(x->dtype) : "nothing",
                x ? nnp_rt_shape_str(x, shape, sizeof shape) : "", count, nnp_dtype_name(f->to)));
        }
        size_t es = nnp_dtype_size(f->arr.dtype);
        convert(f->arr.dtype, (const char *)f->arr.data + (size_t)offset * es, count, f->to,
                x->data, scale, shift);
    }
    return 0;
}

static int run(const struct cli_cmd *cmd, struct cli_args *a)
{
    (void)cmd;
    const char *model = a->pos[0];
    const char *dir = cli_value(a, "output") ? cli_value(a, "output") : ".";
    int threads;
    int64_t batch;
    float scale, shift;
    int rc = infer_threads(a, &threads);
    if (!rc)
        rc = cli_int(a, "batch", 0, 1, INT32_MAX, &batch);
    if (!rc)
        rc = infer_scale(a, &scale, &shift);
    if (!rc && !*dir)
        rc = cli_usage(a, "-o: an empty directory name");
    if (rc)
        return rc;
    bool dump_all = cli_flag(a, "dump-all");

    struct loaded m;
    if ((rc = model_load(model, &m)) != 0)
        return rc;
    int n_specs = cli_count(a, "input");
    struct feed *feeds = calloc((size_t)n_specs + 1, sizeof *feeds);
    struct nnp_tensor *shapes = calloc((size_t)m.g->n_inputs + 1, sizeof *shapes);
    struct nnp_tensor *values = calloc((size_t)m.g->n_inputs + 1, sizeof *values);
    bool *needed = calloc((size_t)m.g->n_inputs + 1, sizeof *needed);
    NNP_ASSERT(feeds && shapes && values && needed);
    nnp_runtime_const_inputs(m.g, needed);
    struct result *res = NULL;
    int n_res = 0;
    struct nnp_runtime *rt = NULL;
    rc = match_inputs(a, model, m.g, feeds, n_specs);
    if (!rc)
        rc = load_feeds(feeds, n_specs);

    /* the number of samples: every file's first dimension, when cut into batches */
    bool whole = batch == 0;
    int64_t total = 1;
    for (int k = 0; k < n_specs && !rc && !whole; k++) {
        const struct feed *f = &feeds[k];
        if (f->arr.rank == 0)
            rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                     "%s: holds a scalar; --batch cuts files "
                                     "along their first dimension",
                                     f->path));
        else if (k > 0 && f->arr.dims[0] != total)
            rc = cli_fail(nnp_errorf(NNP_ERR_INVALID,
                                     "%s: holds %" PRId64 " samples, %s "
                                     "holds %" PRId64 "; --batch needs the same count in every "
                                     "file",
                                     f->path, f->arr.dims[0], feeds[0].path, total));
        else
            total = f->arr.dims[0];
    }
    if (whole && n_specs > 0 && feeds[0].arr.rank > 0)
        total = feeds[0].arr.dims[0];
    if (!whole && n_specs == 0)
        whole = true; /* nothing to cut */

    int64_t planned = -1; /* the batch size rt was planned for */
    for (int64_t start = 0; !rc && (start < total || start == 0); start += whole ? total : batch) {
        int64_t n = whole ? total : (total - start < batch ? total - start : batch);
        if (n != planned && (rc = plan_shapes(m.g, feeds, n_specs, whole, n, shapes)) != 0)
            break;
        bool changed =
            feed_values(m.g, feeds, n_specs, needed, whole, start, n, scale, shift, shapes, values);
        if (n != planned || changed) {
            nnp_runtime_free(rt);
            rt = NULL;
            struct nnp_runtime_opts o = nnp_runtime_opts_default();
            o.threads = threads;
            o.batch = n > 0 ? n : 1;
            o.keep_all = dump_all;
            o.no_fuse = cli_flag(a, "no-fuse");
            o.input_shapes = shapes;
            o.input_values = values;
            if ((rc = infer_plan(model, m.g, &o, &rt)) != 0)
                break;
            planned = n;
        }
        rc = fill_inputs(model, rt, feeds, n_specs, whole, start, n, scale, shift);
        if (!rc)
            rc = infer_run(model, rt);
        if (!rc)
            rc = gather(model, dir, rt, dump_all, start == 0, whole, n, &res, &n_res);
        if (whole || total == 0)
            break;
    }
    char fused[2048] = "";
    if (!rc && dump_all && rt)
        infer_fused_list(rt, fused, sizeof fused);
    if (!rc)
        rc = write_results(dir, res, n_res, a->quiet, fused);

    nnp_runtime_free(rt);
    free_results(res, n_res);
    for (int k = 0; k < n_specs; k++)
        nnp_array_free(&feeds[k].arr);
    free(feeds);
    for (int i = 0; i < m.g->n_inputs; i++)
        free(values[i].data);
    free(values);
    free(needed);
    free(shapes);
    model_unload(&m);
    return rc;
}

const struct cli_cmd cmd_run = {
    .name = "run",
    .usage = "MODEL --input NAME=FILE ...",
    .summary = "Run MODEL on data files and write every output as a .npy file.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
