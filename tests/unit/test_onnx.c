/* tests/unit/test_onnx.c — the ONNX reader and writer, and formats/file.h.
 *
 * Fixtures: tests/data/onnx/ (written by ONNX's own Python package, see
 * make_fixtures.py there), the malformed-model corpus in tests/corpus/ (README
 * lists the message each file must give), the models in testdata/ and ONNX's
 * node tests from Debian's libonnx-testdata. Run from the repository root.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpdir.h"
#include "formats/file.h"
#include "formats/onnx.h"

#define FIX "tests/data/onnx/"
#define LIBONNX "/usr/share/libonnx-testdata/data/"

/* --- helpers --- */

static struct nnp_graph *read_ok(const char *path)
{
    struct nnp_graph *g = NULL;
    enum nnp_status st = nnp_onnx_read(path, &g);
    cr_assert_eq(st, NNP_OK, "%s: %s", path, nnp_error_message());
    cr_assert_not_null(g);
    return g;
}

static struct nnp_value *init(struct nnp_graph *g, const char *name)
{
    struct nnp_value *v = nnp_graph_find(g, name);
    cr_assert_not_null(v, "no value %s", name);
    cr_assert(v->is_initializer, "%s is not an initializer", name);
    cr_assert_not_null(v->t.data, "%s has no data", name);
    return v;
}

/* Read → write → read gives the same IR, and writing that again gives the same bytes.
 * @return 1 on success; on failure the reason is in nnp_error_message(). */
static int round_trip(const char *path)
{
    struct nnp_graph *a = NULL, *b = NULL;
    uint8_t *d1 = NULL, *d2 = NULL;
    size_t n1 = 0, n2 = 0;
    int ok = nnp_onnx_read(path, &a) == NNP_OK && nnp_onnx_serialize(a, &d1, &n1) == NNP_OK &&
             nnp_onnx_read_buffer(d1, n1, a->dir, "written", &b) == NNP_OK &&
             nnp_graph_equal(a, b) && nnp_onnx_serialize(b, &d2, &n2) == NNP_OK;
    if (ok && (n1 != n2 || memcmp(d1, d2, n1) != 0)) {
        nnp_errorf(NNP_ERR_INVALID, "writing twice gave different bytes");
        ok = 0;
    }
    free(d1);
    free(d2);
    nnp_graph_free(a);
    nnp_graph_free(b);
    return ok;
}

/* --- round trips --- */

Test(onnx, round_trip_testdata)
{
    DIR *dir = opendir("testdata");
    cr_assert_not_null(dir, "run from the repository root");
    int n = 0;
    struct dirent *e;
    char path[600];
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".onnx") != 0)
            continue;
        snprintf(path, sizeof path, "testdata/%s", e->d_name);
        cr_expect(round_trip(path), "%s: %s", path, nnp_error_message());
        n++;
    }
    closedir(dir);
    cr_log_info("round trip: %d testdata models", n);
    cr_assert_gt(n, 0, "no models in testdata/");
}

Test(onnx, round_trip_libonnx_testdata)
{
    static const char *const suites[] = {"node", "simple", "pytorch-converted",
                                         "pytorch-operator"};
    int n = 0, ok = 0;
    char path[1024];
    for (size_t s = 0; s < sizeof suites / sizeof *suites; s++) {
        snprintf(path, sizeof path, LIBONNX "%s", suites[s]);
        DIR *dir = opendir(path);
        if (!dir)
            cr_skip_test("%s: not installed (Debian package libonnx-testdata)", path);
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, LIBONNX "%s/%s/model.onnx", suites[s], e->d_name);
            if (access(path, R_OK) != 0)
                continue;
            n++;
            if (round_trip(path))
                ok++;
            else
                cr_expect_fail("%s: %s", path, nnp_error_message());
        }
        closedir(dir);
    }
    cr_log_info("round trip: %d of %d libonnx-testdata models", ok, n);
    cr_assert_gt(n, 1000, "expected the whole node test suite, found %d models", n);
    cr_assert_eq(ok, n);
}

Test(onnx, round_trip_fixtures)
{
    cr_assert(round_trip(FIX "storage.onnx"), "%s", nnp_error_message());
    cr_assert(round_trip(FIX "kept.onnx"), "%s", nnp_error_message());
    cr_assert(round_trip(FIX "external/model.onnx"), "%s", nnp_error_message());
}

/* --- tensor storage forms --- */

#define EXPECT_DATA(g, name, type, ...)                                                     \
    do {                                                                                   \
        static const type want_[] = {__VA_ARGS__};                                         \
        struct nnp_value *v_ = init(g, name);                                              \
        cr_expect_eq(v_->t.nbytes, sizeof want_, "%s: %zu bytes", name, v_->t.nbytes);    \
        cr_expect(v_->t.nbytes == sizeof want_ && !memcmp(v_->t.data, want_, sizeof want_), \
                  "%s: data differs", name);                                               \
    } while (0)

Test(onnx, storage_forms)
{
    struct nnp_graph *g = read_ok(FIX "storage.onnx");
    EXPECT_DATA(g, "f32_raw", float, 0, 1, 2, 3, 4, 5);
    EXPECT_DATA(g, "f32_typed", float, 0, 1, 2, 3, 4, 5);
    EXPECT_DATA(g, "f64_typed", double, 1.5, -2.25);
    EXPECT_DATA(g, "i32_typed", int32_t, -1, 0, 2147483647);
    EXPECT_DATA(g, "i8_typed", int8_t, -128, -1, 0, 127);
    EXPECT_DATA(g, "u8_typed", uint8_t, 0, 128, 255);
    EXPECT_DATA(g, "i16_typed", int16_t, -32768, 32767);
    EXPECT_DATA(g, "u16_typed", uint16_t, 0, 65535);
    EXPECT_DATA(g, "bool_typed", uint8_t, 1, 0, 1);
    EXPECT_DATA(g, "f16_typed", uint16_t, 0x3c00, 0xc000, 0x3800); /* 1, -2, 0.5 */
    EXPECT_DATA(g, "f16_raw", uint16_t, 0x3c00, 0xc000, 0x3800);
    EXPECT_DATA(g, "bf16_typed", uint16_t, 0x3f80, 0xc000);
    EXPECT_DATA(g, "i64_typed", int64_t, INT64_MIN, INT64_MAX);
    EXPECT_DATA(g, "i64_raw", int64_t, -5, 7);
    EXPECT_DATA(g, "u32_typed", uint32_t, 0, 4294967295u);
    EXPECT_DATA(g, "u64_typed", uint64_t, 0, UINT64_MAX);
    EXPECT_DATA(g, "c64_typed", float, 1, 2, 3, 4);
    EXPECT_DATA(g, "c128_typed", double, 5, 6);
    EXPECT_DATA(g, "scalar", float, 42);

    struct nnp_value *v = init(g, "f32_typed");
    cr_expect_eq(v->t.dtype, NNP_DTYPE_F32);
    cr_expect_eq(v->t.rank, 2);
    cr_expect(v->t.dims[0] == 2 && v->t.dims[1] == 3);
    cr_expect_eq(init(g, "f16_typed")->t.dtype, NNP_DTYPE_F16);
    cr_expect_eq(init(g, "bf16_typed")->t.dtype, NNP_DTYPE_BF16);
    cr_expect_eq(init(g, "bool_typed")->t.dtype, NNP_DTYPE_BOOL);
    cr_expect_eq(init(g, "c128_typed")->t.dtype, NNP_DTYPE_C128);
    cr_expect_eq(init(g, "scalar")->t.rank, 0);

    v = init(g, "str_typed");
    cr_expect_eq(v->t.dtype, NNP_DTYPE_STRING);
    const struct nnp_string *s = v->t.data;
    cr_expect_eq(v->t.nbytes, 2 * sizeof *s);
    cr_expect(s[0].len == 2 && strcmp(s[0].data, "ab") == 0);
    cr_expect(s[1].len == 0 && strcmp(s[1].data, "") == 0);

    v = init(g, "empty"); /* dims [0,3]: no elements, still an initializer with data */
    cr_expect_eq(v->t.nbytes, 0);
    cr_expect(v->t.rank == 2 && v->t.dims[0] == 0 && v->t.dims[1] == 3);
    nnp_graph_free(g);
}

/* --- what the IR keeps without interpreting it --- */

static int has_bytes(const uint8_t *hay, size_t n, const void *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

Test(onnx, kept_fields)
{
    struct nnp_graph *g = read_ok(FIX "kept.onnx");
    cr_expect_str_eq(g->producer_name, "make_fixtures");
    cr_expect_str_eq(g->producer_version, "1");
    cr_expect_eq(g->model_version, 3);
    cr_expect_str_eq(g->name, "kept");
    cr_expect_eq(g->n_opsets, 2);
    cr_expect_str_eq(g->opsets[1].domain, "custom");
    cr_expect_eq(nnp_graph_opset(g, ""), 17);
    cr_expect_eq(g->n_props, 2);
    cr_expect_str_eq(g->props[0].key, "author");
    cr_expect_gt(g->model_extra.size, 0); /* doc string, the function, an unknown field */
    cr_expect_gt(g->graph_extra.size, 0); /* doc string */

    struct nnp_value *x = nnp_graph_find(g, "x");
    cr_assert_not_null(x);
    cr_expect(x->is_input && x->has_type && x->t.dtype == NNP_DTYPE_F32 && x->t.rank == 2);
    cr_expect(x->t.dims[0] == -1 && x->t.dims[1] == 4);
    cr_expect_str_eq(x->t.dim_params[0], "batch");
    cr_expect_gt(x->extra.size, 0); /* doc string and the dim's denotation */

    struct nnp_value *s = nnp_graph_find(g, "s"); /* sequence: not a tensor type */
    cr_assert_not_null(s);
    cr_expect(s->is_input && !s->has_type);
    cr_expect_gt(s->extra.size, 0);

    struct nnp_value *yif = nnp_graph_find(g, "y_if"); /* value_info, one unknown dim */
    cr_assert_not_null(yif);
    cr_expect(yif->has_value_info && yif->has_type && yif->t.rank == 2);
    cr_expect(yif->t.dims[1] == -1 && yif->t.dim_params[1] == NULL);
    cr_expect_eq(yif->extra.size, 0, "an ordinary value_info leaves nothing to keep");

    struct nnp_value *w = init(g, "w");
    cr_expect_gt(w->init_extra.size, 0); /* doc string */

    /* the If reads x and w from the outer graph inside its branches */
    struct nnp_node *branch = NULL, *cnst = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        if (strcmp(g->nodes[i]->name, "branch") == 0)
            branch = g->nodes[i];
        if (strcmp(g->nodes[i]->name, "const") == 0)
            cnst = g->nodes[i];
    }
    cr_assert(branch && cnst);
    cr_expect_gt(branch->extra.size, 0); /* doc string */
    cr_assert_eq(branch->n_implicit, 2);
    cr_expect(branch->implicit[0] == x && branch->implicit[1] == w);
    cr_assert_eq(branch->n_attrs, 2);
    cr_expect_eq(branch->attrs[0].type, NNP_ATTR_GRAPH);
    cr_expect_gt(branch->attrs[0].extra.size, 0); /* the subgraph itself */
    cr_expect(x->n_consumers >= 2, "implicit uses count as consumers");

    const struct nnp_attr *a = nnp_node_attr(cnst, "value");
    cr_assert(a && a->type == NNP_ATTR_TENSOR && a->t);
    cr_expect_str_eq(a->tensor_names[0], "cval");
    cr_expect(a->t->nbytes == 8 && ((float *)a->t->data)[1] == 2.0f);
    cr_expect_eq(a->extra.size, 0);

    /* written back: the same bytes as ONNX's Python package wrote, unknown field included */
    uint8_t *file, *out;
    size_t n_file, n_out;
    cr_assert_eq(nnp_file_read_all(FIX "kept.onnx", &file, &n_file), NNP_OK);
    cr_assert_eq(nnp_onnx_serialize(g, &out, &n_out), NNP_OK);
    cr_expect(n_out >= 3 && memcmp(out + n_out - 3, "\xc0\x3e\x07", 3) == 0);
    cr_expect(has_bytes(out, n_out, "model doc", 9) && has_bytes(out, n_out, "pick one", 8) &&
              has_bytes(out, n_out, "DATA_BATCH", 10) && has_bytes(out, n_out, "Twice", 5));
    cr_expect(n_out == n_file && memcmp(out, file, n_file) == 0, "kept.onnx: bytes differ");
    free(file);
    free(out);
    nnp_graph_free(g);
}

Test(onnx, old_style_initializer_inputs)
{
    /* pytorch-converted models list every initializer among the graph inputs too */
    const char *path = LIBONNX "pytorch-converted/test_Conv2d/model.onnx";
    if (access(path, R_OK) != 0)
        cr_skip_test("%s: not installed", path);
    struct nnp_graph *g = read_ok(path);
    int both = 0;
    for (int i = 0; i < g->n_values; i++)
        both += g->values[i]->is_initializer && g->values[i]->is_input;
    cr_expect_gt(both, 0);
    nnp_graph_free(g);
}

/* --- external data --- */

Test(onnx, external_data)
{
    struct nnp_graph *g = read_ok(FIX "external/model.onnx");
    cr_expect_str_eq(g->dir, FIX "external");
    EXPECT_DATA(g, "w", float, 0, 1, 2, 3, 4, 5);
    EXPECT_DATA(g, "v", int64_t, -1, 1);
    EXPECT_DATA(g, "b", float, 0.5f, 0.25f, 0.125f);
    cr_expect_eq(init(g, "w")->init_extra.size, 0, "the location is not kept");

    /* written inline: the output needs no weight file */
    uint8_t *data;
    size_t size;
    cr_assert_eq(nnp_onnx_serialize(g, &data, &size), NNP_OK);
    cr_expect(!has_bytes(data, size, "weights.bin", 11));
    struct nnp_graph *h = NULL;
    cr_assert_eq(nnp_onnx_read_buffer(data, size, "/nonexistent", "inline", &h), NNP_OK, "%s",
                 nnp_error_message());
    cr_expect(nnp_graph_equal(g, h), "%s", nnp_error_message());
    free(data);
    nnp_graph_free(h);
    nnp_graph_free(g);
}

static void expect_read_error(const char *path, enum nnp_status want, const char *msg_part)
{
    struct nnp_graph *g = (struct nnp_graph *)1;
    enum nnp_status st = nnp_onnx_read(path, &g);
    cr_expect_eq(st, want, "%s: status %d (%s)", path, st, nnp_error_message());
    cr_expect_null(g);
    cr_expect(strstr(nnp_error_message(), msg_part), "%s: message '%s' lacks '%s'", path,
              nnp_error_message(), msg_part);
    cr_expect(strncmp(nnp_error_message(), path, strlen(path)) == 0,
              "message does not start with the path: %s", nnp_error_message());
}

Test(onnx, external_data_refused)
{
    expect_read_error("tests/corpus/external-dotdot.onnx", NNP_ERR_FORMAT,
                      "'../../etc/passwd' leaves the model's folder");
    expect_read_error("tests/corpus/external-absolute.onnx", NNP_ERR_FORMAT,
                      "'/etc/passwd' is an absolute path");
    expect_read_error("tests/corpus/external-missing.onnx", NNP_ERR_IO, "no-such-weights.bin");
    expect_read_error("tests/corpus/external-past-end.onnx", NNP_ERR_FORMAT, "0 bytes long");
}

/* --- hostile and malformed input --- */

Test(onnx, malformed_tensors)
{
    expect_read_error("tests/corpus/raw-data-short.onnx", NNP_ERR_FORMAT,
                      "initializer fc1.weight: raw_data has 100 bytes, dims [300,784] need 940800");
    expect_read_error("tests/corpus/dim-2pow62.onnx", NNP_ERR_FORMAT,
                      "dims [4611686018427387904] of float32 need more bytes");
    expect_read_error("tests/corpus/dims-overflow.onnx", NNP_ERR_FORMAT, "more than 2^63");
    expect_read_error("tests/corpus/dim-negative.onnx", NNP_ERR_FORMAT,
                      "dimension 0 is negative (-3)");
    expect_read_error("tests/corpus/rank-9.onnx", NNP_ERR_UNSUPPORTED, "9 dimensions");
    expect_read_error("tests/corpus/empty.onnx", NNP_ERR_FORMAT,
                      "not an ONNX model: empty file");
    expect_read_error("tests/corpus/no-graph.onnx", NNP_ERR_FORMAT, "no graph");
    expect_read_error("tests/corpus/cycle.onnx", NNP_ERR_INVALID, "cycle");
    expect_read_error("tests/data/onnx", NNP_ERR_IO, "is a directory");
    expect_read_error("tests/data/onnx/no-such.onnx", NNP_ERR_IO, "No such file");
}

/* Every model in the corpus fails with the message tests/corpus/README gives for it. */
Test(onnx, corpus_messages)
{
    FILE *f = fopen("tests/corpus/README", "r");
    cr_assert_not_null(f);
    char line[2048], path[2100], want[4200];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        size_t len = tab ? (size_t)(tab - line) : 0;
        if (line[0] == '#' || !tab || len < 5 || strncmp(tab - 5, ".onnx", 5) != 0)
            continue;
        *tab = '\0';
        snprintf(path, sizeof path, "tests/corpus/%s", line);
        snprintf(want, sizeof want, "%s: %s", path, tab + 1);
        struct nnp_graph *g = NULL;
        enum nnp_status st = nnp_onnx_read(path, &g);
        cr_expect_neq(st, NNP_OK, "%s: read without error", path);
        cr_expect_null(g);
        cr_expect_str_eq(nnp_error_message(), want);
        nnp_graph_free(g);
        n++;
    }
    fclose(f);
    cr_log_info("corpus: %d models", n);
    cr_assert_geq(n, 15);
}

/* The end offsets of the top-level fields of a protobuf message: cutting the file there
 * leaves a valid (shorter) message, cutting it anywhere else must not. */
static int field_ends(const uint8_t *p, size_t n, size_t *ends, int max)
{
    size_t i = 0;
    int k = 0;
    while (i < n && k < max) {
        uint64_t key = 0, v = 0;
        for (int s = 0; i < n; s += 7) {
            key |= (uint64_t)(p[i] & 0x7f) << s;
            if (!(p[i++] & 0x80))
                break;
        }
        int wire = (int)(key & 7);
        if (wire == 0 || wire == 2)
            for (int s = 0; i < n; s += 7) {
                v |= (uint64_t)(p[i] & 0x7f) << s;
                if (!(p[i++] & 0x80))
                    break;
            }
        i += wire == 1 ? 8 : wire == 5 ? 4 : wire == 2 ? (size_t)v : 0;
        ends[k++] = i;
    }
    return k;
}

Test(onnx, truncated_everywhere)
{
    static const char *const models[] = {FIX "kept.onnx", FIX "storage.onnx",
                                         "tests/corpus/truncated-1000.onnx"};
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        uint8_t *data;
        size_t size;
        cr_assert_eq(nnp_file_read_all(models[m], &data, &size), NNP_OK);
        size_t ends[64];
        int n_ends = field_ends(data, size, ends, 64);
        int failed = 0;
        for (size_t cut = 0; cut < size; cut++) {
            struct nnp_graph *g = NULL;
            enum nnp_status st = nnp_onnx_read_buffer(data, cut, NULL, "cut", &g);
            int boundary = 0;
            for (int i = 0; i < n_ends; i++)
                boundary |= ends[i] == cut;
            if (!boundary)
                cr_expect_neq(st, NNP_OK, "%s cut at %zu read fine", models[m], cut);
            cr_expect((st == NNP_OK) == (g != NULL));
            failed += st != NNP_OK;
            nnp_graph_free(g);
        }
        cr_log_info("%s: %d of %zu truncations refused", models[m], failed, size);
        free(data);
    }
}

/* (No .timeout on these tests: Criterion 2.4 leaks its timer, which LeakSanitizer reports.) */

/* Random bytes and randomly damaged models: no crash, no leak, no sanitizer report. */
Test(onnx, damaged_models)
{
    uint8_t *data;
    size_t size;
    cr_assert_eq(nnp_file_read_all(FIX "kept.onnx", &data, &size), NNP_OK);
    uint8_t *buf = malloc(size);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int n_ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, data, size);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            buf[(seed >> 33) % size] ^= (uint8_t)(1u << ((seed >> 20) & 7));
        }
        struct nnp_graph *g = NULL;
        if (nnp_onnx_read_buffer(buf, size, FIX, "damaged", &g) == NNP_OK) {
            n_ok++;
            uint8_t *out;
            size_t n_out;
            cr_expect_eq(nnp_onnx_serialize(g, &out, &n_out), NNP_OK, "%s",
                         nnp_error_message());
            free(out);
        } else {
            cr_expect_str_neq(nnp_error_message(), "");
        }
        nnp_graph_free(g);
    }
    for (int iter = 0; iter < 500; iter++) {
        size_t n = 1 + (size_t)iter * 7 % 300;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            buf[i % size] = (uint8_t)(seed >> 56);
        }
        struct nnp_graph *g = NULL;
        nnp_onnx_read_buffer(buf, n < size ? n : size, NULL, "random", &g);
        nnp_graph_free(g);
    }
    cr_log_info("damaged models: %d of 3000 still read", n_ok);
    free(buf);
    free(data);
}

/* --- writer --- */

Test(onnx, writer_refuses_bad_tensors)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_value *w = nnp_graph_value(g, "w");
    nnp_tensor_set_shape(&w->t, NNP_DTYPE_F32, 1, (int64_t[]){4});
    w->is_initializer = true; /* but no data */
    uint8_t *data = NULL;
    size_t size = 0;
    cr_expect_eq(nnp_onnx_serialize(g, &data, &size), NNP_ERR_INVALID);
    cr_expect(strstr(nnp_error_message(), "initializer w"), "%s", nnp_error_message());
    cr_expect_null(data);
    cr_assert_eq(nnp_tensor_alloc(g, &w->t), NNP_OK);
    cr_expect_eq(nnp_onnx_serialize(g, &data, &size), NNP_OK, "%s", nnp_error_message());
    free(data);
    nnp_graph_free(g);
}

Test(onnx, write_file, .init = make_tmp, .fini = remove_tmp)
{
    struct nnp_graph *g = read_ok(FIX "storage.onnx");
    char path[600];
    snprintf(path, sizeof path, "%s/out.onnx", tmp_dir);
    cr_assert_eq(nnp_onnx_write(g, path), NNP_OK, "%s", nnp_error_message());
    cr_expect_eq(count_files(tmp_dir), 1, "a temporary file was left behind");
    struct nnp_graph *h = read_ok(path);
    cr_expect(nnp_graph_equal(g, h), "%s", nnp_error_message());
    nnp_graph_free(h);

    /* a folder that does not exist: an error naming the path, nothing written */
    snprintf(path, sizeof path, "%s/missing/out.onnx", tmp_dir);
    cr_expect_eq(nnp_onnx_write(g, path), NNP_ERR_IO);
    cr_expect(strstr(nnp_error_message(), path), "%s", nnp_error_message());
    cr_expect_eq(count_files(tmp_dir), 1);
    nnp_graph_free(g);
}

/* --- TensorProto files --- */

Test(onnx, tensor_pb_node_test)
{
    const char *path = LIBONNX "node/test_abs/test_data_set_0/input_0.pb";
    if (access(path, R_OK) != 0)
        cr_skip_test("%s: not installed", path);
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_tensor t;
    const char *name = NULL;
    cr_assert_eq(nnp_onnx_tensor_read(path, g, &t, &name), NNP_OK, "%s", nnp_error_message());
    cr_expect_str_eq(name, "x");
    cr_expect_eq(t.dtype, NNP_DTYPE_F32);
    cr_expect(t.rank == 3 && t.dims[0] == 3 && t.dims[1] == 4 && t.dims[2] == 5);
    cr_expect_eq(t.nbytes, 60 * sizeof(float));
    nnp_graph_free(g);
}

Test(onnx, tensor_pb_round_trip, .init = make_tmp, .fini = remove_tmp)
{
    struct nnp_graph *g = nnp_graph_new();
    struct nnp_tensor t, u;
    const char *name;
    cr_assert_eq(nnp_onnx_tensor_read(FIX "tensor.pb", g, &t, &name), NNP_OK, "%s",
                 nnp_error_message());
    cr_expect_str_eq(name, "input");
    static const float want[] = {1, 2, 3, 4, 5, 6};
    cr_assert(t.rank == 2 && t.dims[0] == 2 && t.dims[1] == 3 && t.nbytes == sizeof want);
    cr_expect(memcmp(t.data, want, sizeof want) == 0);

    char path[600];
    snprintf(path, sizeof path, "%s/t.pb", tmp_dir);
    cr_assert_eq(nnp_onnx_tensor_write(path, &t, "copy"), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_onnx_tensor_read(path, g, &u, &name), NNP_OK, "%s", nnp_error_message());
    cr_expect_str_eq(name, "copy");
    cr_expect(u.rank == 2 && u.nbytes == t.nbytes && memcmp(u.data, t.data, t.nbytes) == 0);

    /* a model is not a tensor; an empty file is neither */
    cr_expect_neq(nnp_onnx_tensor_read("tests/corpus/random.onnx", g, &u, NULL), NNP_OK);
    cr_expect_eq(nnp_onnx_tensor_read("tests/corpus/empty.onnx", g, &u, NULL), NNP_ERR_FORMAT);
    cr_expect(strstr(nnp_error_message(), "empty file"));
    cr_expect_eq(u.rank, -1);
    cr_expect_null(u.data);
    nnp_graph_free(g);
}

/* --- file.h --- */

Test(file, read_errors)
{
    uint8_t *data = (uint8_t *)1;
    size_t size = 1;
    cr_expect_eq(nnp_file_read_all("tests/data/onnx/none.onnx", &data, &size), NNP_ERR_IO);
    cr_expect_null(data);
    cr_expect_str_eq(nnp_error_message(),
                     "tests/data/onnx/none.onnx: cannot open: No such file or directory");
    cr_expect_eq(nnp_file_read_all("tests/data", &data, &size), NNP_ERR_IO);
    cr_expect_str_eq(nnp_error_message(), "tests/data: is a directory, not a file");
    cr_assert_eq(nnp_file_read_all("tests/corpus/empty.onnx", &data, &size), NNP_OK);
    cr_expect(data != NULL && size == 0);
    free(data);
}

Test(file, write_atomic, .init = make_tmp, .fini = remove_tmp)
{
    char path[600], link_path[600];
    snprintf(path, sizeof path, "%s/a.bin", tmp_dir);
    snprintf(link_path, sizeof link_path, "%s/b.bin", tmp_dir);
    cr_assert_eq(nnp_file_write_atomic(path, "hello", 5), NNP_OK);
    cr_assert_eq(nnp_file_write_atomic(path, "bye", 3), NNP_OK); /* replaces */
    uint8_t *data;
    size_t size;
    cr_assert_eq(nnp_file_read_all(path, &data, &size), NNP_OK);
    cr_expect(size == 3 && memcmp(data, "bye", 3) == 0);
    free(data);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    cr_expect_eq(st.st_mode & 0777, 0666 & ~mask);

    cr_expect(nnp_file_same(path, path));
    cr_assert_eq(link(path, link_path), 0);
    cr_expect(nnp_file_same(path, link_path));
    cr_expect(!nnp_file_same(path, "tests/corpus/empty.onnx"));
    cr_expect(!nnp_file_same(path, "/nonexistent/x"));

    /* the target is a folder: refused, the folder and its files untouched */
    cr_expect_eq(nnp_file_write_atomic(tmp_dir, "x", 1), NNP_ERR_IO);
    cr_expect(strncmp(nnp_error_message(), tmp_dir, strlen(tmp_dir)) == 0);
    cr_expect_eq(count_files(tmp_dir), 2, "a temporary file was left behind");
}
