/* tests/unit/test_data.c — .npy, IDX and the streaming data-set reader.
 *
 * Fixtures in tests/data/ were written by NumPy (tests/data/make_data.py), so
 * these tests check our reader and writer against the reference
 * implementation, not against each other. Run from the repository root.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpdir.h"
#include "formats/array.h"
#include "formats/dataset.h"
#include "formats/idx.h"
#include "formats/npy.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define T10K_IMAGES FMNIST "t10k-images-idx3-ubyte.gz"
#define T10K_LABELS FMNIST "t10k-labels-idx1-ubyte.gz"

/* --- helpers --- */

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    cr_assert_eq(fclose(f), 0);
}

/* gunzip `src` into `dst` */
static void gunzip_to(const char *src, const char *dst)
{
    gzFile in = gzopen(src, "rb");
    cr_assert_not_null(in);
    FILE *out = fopen(dst, "wb");
    cr_assert_not_null(out);
    char buf[65536];
    int k;
    while ((k = gzread(in, buf, sizeof buf)) > 0)
        cr_assert_eq(fwrite(buf, 1, (size_t)k, out), (size_t)k);
    cr_assert_eq(k, 0);
    gzclose(in);
    fclose(out);
}

static void gzip_to(const char *dst, const void *data, size_t size)
{
    gzFile out = gzopen(dst, "wb9");
    cr_assert_not_null(out);
    cr_assert_eq(gzwrite(out, data, (unsigned)size), (int)size);
    cr_assert_eq(gzclose(out), Z_OK);
}

static void need_fmnist(void)
{
    if (access(T10K_IMAGES, R_OK) != 0 || access(T10K_LABELS, R_OK) != 0)
        cr_skip_test("Fashion-MNIST not installed (Debian package dataset-fashion-mnist)");
}

/* The message must be exactly "<path>: <rest>". */
static void expect_message(const char *path, const char *rest)
{
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", path, rest);
    cr_assert_str_eq(nnp_error_message(), want);
}

static const enum nnp_dtype all_dtypes[] = {
    NNP_DTYPE_F32, NNP_DTYPE_F16, NNP_DTYPE_F64, NNP_DTYPE_I8,  NNP_DTYPE_U8,  NNP_DTYPE_I16,
    NNP_DTYPE_U16, NNP_DTYPE_I32, NNP_DTYPE_U32, NNP_DTYPE_I64, NNP_DTYPE_U64, NNP_DTYPE_BOOL,
};

/* --- array --- */

Test(array, free_accepts_null_and_zeroed)
{
    nnp_array_free(NULL);
    struct nnp_array a = {0};
    nnp_array_free(&a);
    a.data = malloc(4);
    a.nbytes = 4;
    nnp_array_free(&a);
    cr_assert_null(a.data);
    cr_assert_eq(a.nbytes, 0);
}

Test(array, numel)
{
    struct nnp_array a = {.rank = 0};
    cr_assert_eq(nnp_array_numel(&a), 1);
    a.rank = 3;
    a.dims[0] = 2, a.dims[1] = 0, a.dims[2] = 5;
    cr_assert_eq(nnp_array_numel(&a), 0);
    a.dims[1] = -1;
    cr_assert_eq(nnp_array_numel(&a), -1);
    a.dims[0] = a.dims[1] = a.dims[2] = INT64_C(1) << 32;
    cr_assert_eq(nnp_array_numel(&a), -1);
}

/* --- npy: writing and reading back --- */

Test(npy, round_trip_every_dtype_and_odd_shapes, .init = make_tmp, .fini = remove_tmp)
{
    static const struct {
        int rank;
        int64_t dims[NNP_MAX_RANK];
    } shapes[] = {
        {0, {0}}, {1, {1}}, {1, {7}}, {1, {33}}, {7, {1, 2, 1, 3, 1, 1, 2}},
        {2, {0, 3}}, {2, {3, 11}}, {8, {1, 1, 1, 1, 1, 1, 1, 1}},
    };
    for (size_t t = 0; t < sizeof all_dtypes / sizeof all_dtypes[0]; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            struct nnp_array a = {.dtype = all_dtypes[t], .rank = shapes[s].rank};
            memcpy(a.dims, shapes[s].dims, sizeof a.dims);
            a.nbytes = (size_t)nnp_array_numel(&a) * nnp_dtype_size(a.dtype);
            a.data = malloc(a.nbytes + 1);
            for (size_t i = 0; i < a.nbytes; i++) /* bool must stay 0/1 */
                ((unsigned char *)a.data)[i] =
                    (unsigned char)(a.dtype == NNP_DTYPE_BOOL ? i % 3 == 0 : i * 37 + t);
            const char *path = tmp_path("a.npy");
            cr_assert_eq(nnp_npy_write(path, &a), NNP_OK, "%s", nnp_error_message());
            struct nnp_array b;
            cr_assert_eq(nnp_npy_read(path, &b), NNP_OK, "%s", nnp_error_message());
            cr_assert_eq(b.dtype, a.dtype);
            cr_assert_eq(b.rank, a.rank);
            for (int i = 0; i < a.rank; i++)
                cr_assert_eq(b.dims[i], a.dims[i]);
            cr_assert_eq(b.nbytes, a.nbytes);
            cr_assert_not_null(b.data);
            cr_assert(a.nbytes == 0 || memcmp(a.data, b.data, a.nbytes) == 0,
                      "%s shape #%zu: data differs", nnp_dtype_name(a.dtype), s);
            /* the data starts 64-byte aligned, as NumPy writes it */
            size_t size;
            unsigned char *file = slurp(path, &size);
            cr_assert_eq((size - a.nbytes) % 64, 0);
            free(file);
            nnp_array_free(&a);
            nnp_array_free(&b);
        }
    }
    /* nothing but the output is left behind */
    cr_assert_eq(count_files(tmp_dir), 1);
}

/* Reading a file NumPy wrote and writing it again gives NumPy's bytes. */
Test(npy, writes_the_bytes_numpy_writes, .init = make_tmp, .fini = remove_tmp)
{
    static const char *const files[] = {
        "f32_2x3_v1.npy", "f16_7.npy",  "bool_33.npy",    "i8_rank7.npy",   "u8_scalar.npy",
        "i32_1.npy",      "f64_3.npy",  "i64_labels.npy", "u8_0x3.npy",     "u8_images.npy",
        "i16_4x2x3.npy",  "f32_be.npy" /* refused: skipped below */,
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "tests/data/%s", files[i]);
        struct nnp_array a;
        enum nnp_status st = nnp_npy_read(src, &a);
        if (strcmp(files[i], "f32_be.npy") == 0) {
            cr_assert_eq(st, NNP_ERR_UNSUPPORTED);
            continue;
        }
        cr_assert_eq(st, NNP_OK, "%s", nnp_error_message());
        const char *dst = tmp_path("out.npy");
        cr_assert_eq(nnp_npy_write(dst, &a), NNP_OK, "%s", nnp_error_message());
        size_t n1, n2;
        unsigned char *b1 = slurp(src, &n1), *b2 = slurp(dst, &n2);
        cr_assert_eq(n1, n2, "%s: %zu bytes vs NumPy's %zu", files[i], n2, n1);
        cr_assert(memcmp(b1, b2, n1) == 0, "%s: bytes differ from NumPy's", files[i]);
        free(b1);
        free(b2);
        nnp_array_free(&a);
    }
}

Test(npy, values_numpy_wrote)
{
    struct nnp_array a;
    cr_assert_eq(nnp_npy_read("tests/data/f32_2x3_v1.npy", &a), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_eq(a.dtype, NNP_DTYPE_F32);
    cr_assert_eq(a.rank, 2);
    cr_assert_eq(a.dims[0], 2);
    cr_assert_eq(a.dims[1], 3);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(((float *)a.data)[i], (float)i * 0.5f - 1.0f);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/f16_7.npy", &a), NNP_OK);
    cr_assert_eq(a.dtype, NNP_DTYPE_F16);
    const uint16_t *h = a.data;
    cr_assert_eq(nnp_f16_to_f32(h[2]), -2.5f);
    cr_assert_eq(nnp_f16_to_f32(h[5]), 65504.0f);
    cr_assert_eq(h[6], 0x8000); /* -0 */
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/bool_33.npy", &a), NNP_OK);
    cr_assert_eq(a.dtype, NNP_DTYPE_BOOL);
    cr_assert_eq(a.dims[0], 33);
    for (int i = 0; i < 33; i++)
        cr_assert_eq(((uint8_t *)a.data)[i], i % 3 == 0);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/i8_rank7.npy", &a), NNP_OK);
    cr_assert_eq(a.rank, 7);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(((int8_t *)a.data)[i], i - 6);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/u8_scalar.npy", &a), NNP_OK);
    cr_assert_eq(a.rank, 0);
    cr_assert_eq(a.nbytes, 1);
    cr_assert_eq(*(uint8_t *)a.data, 200);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/i32_1.npy", &a), NNP_OK);
    cr_assert_eq(*(int32_t *)a.data, -123456789);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/i64_labels.npy", &a), NNP_OK);
    cr_assert_eq(a.dtype, NNP_DTYPE_I64);
    cr_assert_eq(((int64_t *)a.data)[5], 9);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/f64_3.npy", &a), NNP_OK);
    cr_assert_eq(a.dtype, NNP_DTYPE_F64);
    cr_assert_eq(((double *)a.data)[1], -1e300);
    nnp_array_free(&a);

    cr_assert_eq(nnp_npy_read("tests/data/u8_0x3.npy", &a), NNP_OK);
    cr_assert_eq(a.rank, 2);
    cr_assert_eq(a.dims[0], 0);
    cr_assert_eq(a.dims[1], 3);
    cr_assert_eq(a.nbytes, 0);
    nnp_array_free(&a);
}

Test(npy, version_2_and_3_headers)
{
    struct nnp_array v1, v;
    cr_assert_eq(nnp_npy_read("tests/data/f32_2x3_v1.npy", &v1), NNP_OK);
    const char *other[] = {"tests/data/f32_2x3_v2.npy", "tests/data/f32_2x3_v3.npy"};
    for (int i = 0; i < 2; i++) {
        struct nnp_npy_header h;
        FILE *f;
        cr_assert_eq(nnp_npy_open(other[i], &h, &f), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(h.version, 2 + i);
        cr_assert_eq(h.data_offset % 64, 0);
        fclose(f);
        cr_assert_eq(nnp_npy_read(other[i], &v), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(v.rank, 2);
        cr_assert_eq(v.dims[0], 2);
        cr_assert_eq(v.dims[1], 3);
        cr_assert_eq(v.nbytes, v1.nbytes);
        cr_assert(memcmp(v.data, v1.data, v.nbytes) == 0);
        nnp_array_free(&v);
    }
    nnp_array_free(&v1);
}

Test(npy, old_and_odd_headers_numpy_accepts)
{
    struct nnp_array a;
    /* fortran_order True on 1-D data: the same bytes as C order */
    cr_assert_eq(nnp_npy_read("tests/data/f32_fortran_1d.npy", &a), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_eq(((float *)a.data)[2], 3.0f);
    nnp_array_free(&a);
    /* Python 2's (2L, 1L) */
    cr_assert_eq(nnp_npy_read("tests/data/f32_py2_long.npy", &a), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_eq(a.dims[0], 2);
    cr_assert_eq(a.dims[1], 1);
    nnp_array_free(&a);
}

Test(npy, refusals_numpy_wrote)
{
    struct nnp_array a;
    cr_assert_eq(nnp_npy_read("tests/data/f32_be.npy", &a), NNP_ERR_UNSUPPORTED);
    expect_message("tests/data/f32_be.npy",
                   "big-endian data ('>f4') is not supported; save with dtype '<f4'");
    cr_assert_null(a.data);
    cr_assert_eq(nnp_npy_read("tests/data/f32_fortran.npy", &a), NNP_ERR_UNSUPPORTED);
    expect_message("tests/data/f32_fortran.npy", "Fortran-order arrays are not supported; save "
                                                 "np.ascontiguousarray(a) instead");
    cr_assert_eq(nnp_npy_read("tests/data/no-such-file.npy", &a), NNP_ERR_IO);
}

/* Parse a header given as the dict text, padded as NumPy pads it. */
static enum nnp_status parse_dict_text(const char *dict, struct nnp_npy_header *h)
{
    unsigned char buf[512];
    size_t n = strlen(dict);
    size_t pad = 64 - (10 + n + 1) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((n + pad + 1) & 0xff);
    buf[9] = (unsigned char)((n + pad + 1) >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + n + pad] = '\n';
    return nnp_npy_header_parse("h.npy", buf, 10 + n + pad + 1, h);
}

Test(npy, header_parser_is_strict)
{
    struct nnp_npy_header h;
    static const struct {
        const char *dict;
        enum nnp_status st;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", NNP_OK},
        {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}", NNP_OK},
        {"{'shape': (), 'descr': '|u1', 'fortran_order': False}", NNP_OK},
        {"{'descr': '=i8', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8)}", NNP_OK},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (+3,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }", NNP_OK},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (3,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,), }", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False}", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()", NNP_ERR_FORMAT},
        {"{'descr': '<f4 , 'fortran_order': False, 'shape': ()}", NNP_ERR_FORMAT},
        {"{'descr': '<\\f4', 'fortran_order': False, 'shape': ()}", NNP_ERR_FORMAT},
        {"('descr', '<f4')", NNP_ERR_FORMAT},
        {"", NNP_ERR_FORMAT},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': ()}", NNP_ERR_UNSUPPORTED},
        {"{'descr': '|O', 'fortran_order': False, 'shape': ()}", NNP_ERR_UNSUPPORTED},
        {"{'descr': '<U10', 'fortran_order': False, 'shape': ()}", NNP_ERR_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}", NNP_ERR_UNSUPPORTED},
        {"{'descr': '>i8', 'fortran_order': False, 'shape': ()}", NNP_ERR_UNSUPPORTED},
        {"{'descr': '>i1', 'fortran_order': False, 'shape': ()}", NNP_OK},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", NNP_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3, 1)}", NNP_OK},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}",
         NNP_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,)}",
         NNP_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807,)}",
         NNP_ERR_FORMAT}, /* x 4 bytes overflows */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (9223372036854775807,)}", NNP_OK},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
         NNP_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum nnp_status st = parse_dict_text(cases[i].dict, &h);
        cr_assert_eq(st, cases[i].st, "case %zu: %s -> %d (%s)", i, cases[i].dict, st,
                     nnp_error_message());
        if (st != NNP_OK)
            cr_assert(strncmp(nnp_error_message(), "h.npy: ", 7) == 0, "%s",
                      nnp_error_message());
    }
    cr_assert_eq(parse_dict_text("{'descr': '<i2', 'fortran_order': False, 'shape': (5, 6)}", &h),
                 NNP_OK);
    cr_assert_eq(h.dtype, NNP_DTYPE_I16);
    cr_assert_eq(h.numel, 30);
    cr_assert_eq(h.data_nbytes, 60);
    cr_assert_eq(h.data_offset, 128); /* 10 + 58 + 1 rounded up to 64 */

    /* prefix checks */
    cr_assert_eq(nnp_npy_header_parse("h.npy", "\x93NUMPY\x04\x00\x10\x00", 10, &h),
                 NNP_ERR_UNSUPPORTED);
    cr_assert_eq(nnp_npy_header_parse("h.npy", "\x93NUM", 4, &h), NNP_ERR_FORMAT);
    cr_assert_eq(nnp_npy_header_parse("h.npy", "PK\x03\x04", 4, &h), NNP_ERR_FORMAT);
    cr_assert_eq(nnp_npy_header_parse("h.npy", "", 0, &h), NNP_ERR_FORMAT);
    cr_assert_eq(nnp_npy_header_parse("h.npy", "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12, &h),
                 NNP_ERR_FORMAT);
    expect_message("h.npy", ".npy header length 4294967295 is implausible (at most 1048576 bytes)");
}

/* Every prefix of a valid file and every one-byte change to its header is
 * either read or refused with a message: never a crash (run under ASan). */
Test(npy, hostile_bytes_never_crash, .init = make_tmp, .fini = remove_tmp)
{
    size_t n;
    unsigned char *good = slurp("tests/data/i8_rank7.npy", &n);
    const char *path = tmp_path("h.npy");
    struct nnp_array a;
    for (size_t cut = 0; cut < n; cut++) {
        spit(path, good, cut);
        cr_assert_neq(nnp_npy_read(path, &a), NNP_OK, "prefix of %zu bytes was accepted", cut);
        cr_assert_null(a.data);
        cr_assert(strncmp(nnp_error_message(), path, strlen(path)) == 0);
    }
    static const unsigned char values[] = {0, ' ', '\'', '(', ')', ',', '-', '9', '}', 0x80, 0xff};
    unsigned char *bad = malloc(n);
    for (size_t pos = 0; pos < n - 12; pos++) { /* the header and the first data bytes */
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(bad, good, n);
            bad[pos] = values[v];
            spit(path, bad, n);
            enum nnp_status st = nnp_npy_read(path, &a);
            if (st == NNP_OK)
                cr_assert(nnp_array_numel(&a) >= 0 &&
                          a.nbytes == (size_t)nnp_array_numel(&a) * nnp_dtype_size(a.dtype));
            else
                cr_assert_null(a.data);
            nnp_array_free(&a);
        }
    }
    free(bad);
    free(good);
}

Test(npy, truncated_data, .init = make_tmp, .fini = remove_tmp)
{
    size_t n;
    unsigned char *good = slurp("tests/data/u8_images.npy", &n);
    const char *path = tmp_path("t.npy");
    spit(path, good, n - 1);
    struct nnp_array a;
    cr_assert_eq(nnp_npy_read(path, &a), NNP_ERR_FORMAT);
    expect_message(path,
                   "truncated: header says (20, 3, 5) uint8, 300 bytes of data; file ends after "
                   "299 bytes of data");
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, good, n);
    longer[n] = 0;
    spit(path, longer, n + 1);
    cr_assert_eq(nnp_npy_read(path, &a), NNP_ERR_FORMAT);
    expect_message(path, "1 unexpected bytes after the data of the uint8 (20, 3, 5) array");
    free(longer);
    free(good);
}

Test(npy, write_failures_leave_nothing, .init = make_tmp, .fini = remove_tmp)
{
    float x[3] = {1, 2, 3};
    struct nnp_array a = {.dtype = NNP_DTYPE_F32, .rank = 1, .dims = {3}, .data = x,
                          .nbytes = sizeof x};
    cr_assert_eq(nnp_npy_write(tmp_path("missing/x.npy"), &a), NNP_ERR_IO);
    /* a folder in the way of the rename */
    char sub[512];
    snprintf(sub, sizeof sub, "%s", tmp_path("dir.npy"));
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert_eq(nnp_npy_write(sub, &a), NNP_ERR_IO);
    cr_assert_eq(count_files(tmp_dir), 1); /* only dir.npy: no temporary file left */
    rmdir(sub);
    /* arrays with no .npy form */
    a.nbytes = 8;
    cr_assert_eq(nnp_npy_write(tmp_path("x.npy"), &a), NNP_ERR_INVALID);
    a.nbytes = sizeof x;
    a.dtype = NNP_DTYPE_STRING;
    cr_assert_eq(nnp_npy_write(tmp_path("x.npy"), &a), NNP_ERR_UNSUPPORTED);
    cr_assert_eq(count_files(tmp_dir), 0);
}

/* --- IDX --- */

Test(idx, fashion_mnist_test_set)
{
    need_fmnist();
    struct nnp_array lab, img;
    cr_assert_eq(nnp_idx_read(T10K_LABELS, &lab), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(lab.dtype, NNP_DTYPE_U8);
    cr_assert_eq(lab.rank, 1);
    cr_assert_eq(lab.dims[0], 10000);
    const uint8_t *l = lab.data;
    cr_assert_eq(l[0], 9); /* ankle boot */
    cr_assert_eq(l[1], 2);
    long sum = 0;
    for (int i = 0; i < 10000; i++)
        sum += l[i];
    cr_assert_eq(sum, 45000); /* 1000 of each class 0..9 */

    cr_assert_eq(nnp_idx_read(T10K_IMAGES, &img), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(img.dtype, NNP_DTYPE_U8);
    cr_assert_eq(img.rank, 3);
    cr_assert_eq(img.dims[0], 10000);
    cr_assert_eq(img.dims[1], 28);
    cr_assert_eq(img.dims[2], 28);
    cr_assert_eq(img.nbytes, 7840000);
    const uint8_t *p = img.data;
    long s = 0;
    for (int i = 0; i < 784; i++)
        s += p[i];
    cr_assert_eq(s, 33456);
    cr_assert_eq(crc32(0, p, 784), 0x52830860u);
    cr_assert_eq(crc32(0, p, 7840000), 0x12728439u);
    nnp_array_free(&lab);
    nnp_array_free(&img);
}

Test(idx, plain_and_gzip_agree, .init = make_tmp, .fini = remove_tmp)
{
    need_fmnist();
    char plain[512];
    snprintf(plain, sizeof plain, "%s", tmp_path("t10k-labels-idx1-ubyte"));
    gunzip_to(T10K_LABELS, plain);
    struct nnp_array a, b;
    cr_assert_eq(nnp_idx_read(plain, &a), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_idx_read(T10K_LABELS, &b), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(a.nbytes, b.nbytes);
    cr_assert(memcmp(a.data, b.data, a.nbytes) == 0);
    nnp_array_free(&a);
    nnp_array_free(&b);

    /* the gzip magic decides, not the name */
    char misnamed[512];
    snprintf(misnamed, sizeof misnamed, "%s", tmp_path("labels.idx"));
    size_t n;
    unsigned char *gz = slurp(T10K_LABELS, &n);
    spit(misnamed, gz, n);
    free(gz);
    struct nnp_idx_header h;
    struct nnp_idx_stream *s;
    cr_assert_eq(nnp_idx_open(misnamed, &h, &s), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(h.gzip, 1);
    nnp_idx_close(s);
    cr_assert_eq(nnp_idx_open(plain, &h, &s), NNP_OK);
    cr_assert_eq(h.gzip, 0);
    nnp_idx_close(s);
    nnp_idx_close(NULL);
}

Test(idx, element_types_are_big_endian)
{
    struct nnp_array want, a;
    cr_assert_eq(nnp_npy_read("tests/data/i16_4x2x3.npy", &want), NNP_OK);
    const char *files[] = {"tests/data/i16_4x2x3.idx", "tests/data/i16_4x2x3.idx.gz"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(nnp_idx_read(files[i], &a), NNP_OK, "%s", nnp_error_message());
        cr_assert_eq(a.dtype, NNP_DTYPE_I16);
        cr_assert_eq(a.rank, 3);
        cr_assert_eq(a.dims[2], 3);
        cr_assert_eq(a.nbytes, want.nbytes);
        cr_assert(memcmp(a.data, want.data, a.nbytes) == 0);
        nnp_array_free(&a);
    }
    nnp_array_free(&want);
    cr_assert_eq(nnp_idx_read("tests/data/f32_3x2.idx", &a), NNP_OK);
    cr_assert_eq(a.dtype, NNP_DTYPE_F32);
    cr_assert_eq(((float *)a.data)[0], 1.5f);
    cr_assert_eq(((float *)a.data)[1], -2.0f);
    cr_assert_eq(((float *)a.data)[3], 1e-3f);
    nnp_array_free(&a);
}

Test(idx, truncated_copies, .init = make_tmp, .fini = remove_tmp)
{
    need_fmnist();
    /* the first 16 + 123 bytes of the real test images, plain and gzip */
    gzFile in = gzopen(T10K_IMAGES, "rb");
    unsigned char head[16 + 123];
    cr_assert_eq(gzread(in, head, sizeof head), (int)sizeof head);
    gzclose(in);
    const char *plain = "t10k-images-idx3-ubyte";
    const char *gz = "t10k-images-idx3-ubyte.gz";
    char plain_path[512], gz_path[512];
    snprintf(plain_path, sizeof plain_path, "%s", tmp_path(plain));
    snprintf(gz_path, sizeof gz_path, "%s", tmp_path(gz));
    spit(plain_path, head, sizeof head);
    gzip_to(gz_path, head, sizeof head);
    struct nnp_array a;
    const char *paths[] = {plain_path, gz_path};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(nnp_idx_read(paths[i], &a), NNP_ERR_FORMAT);
        expect_message(paths[i],
                       "truncated: header says 10000 images of 28x28, file ends after 123 bytes "
                       "of data");
        cr_assert_null(a.data);
    }

    /* a gzip stream cut in the middle */
    size_t n;
    unsigned char *whole = slurp(T10K_IMAGES, &n);
    spit(gz_path, whole, 5000);
    free(whole);
    cr_assert_eq(nnp_idx_read(gz_path, &a), NNP_ERR_FORMAT);
    cr_assert(strstr(nnp_error_message(), "truncated: header says 10000 images of 28x28") &&
                  strstr(nnp_error_message(), "(the gzip stream is cut short)"),
              "%s", nnp_error_message());

    /* corrupt compressed bytes */
    whole = slurp(T10K_LABELS, &n);
    for (size_t i = 100; i < 200; i++)
        whole[i] ^= 0x5a;
    spit(gz_path, whole, n);
    free(whole);
    cr_assert_eq(nnp_idx_read(gz_path, &a), NNP_ERR_FORMAT);
    cr_assert(strstr(nnp_error_message(), "corrupt gzip data") != NULL, "%s",
              nnp_error_message());
}

Test(idx, header_checks)
{
    struct nnp_idx_header h;
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00\x08\x01\x00\x00\x00\x05", 8, &h), NNP_OK);
    cr_assert_eq(h.dims[0], 5);
    cr_assert_eq(h.data_offset, 8);
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00\x0A\x01\x00\x00\x00\x05", 8, &h),
                 NNP_ERR_FORMAT);
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00\x08\x00", 4, &h), NNP_ERR_FORMAT);
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00\x08\x09", 4, &h), NNP_ERR_UNSUPPORTED);
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00\x08\x02\x00\x00\x00\x05", 8, &h),
                 NNP_ERR_FORMAT); /* rank 2, one dim */
    cr_assert_eq(nnp_idx_header_parse("x", "\x00\x00", 2, &h), NNP_ERR_FORMAT);
    cr_assert_eq(nnp_idx_header_parse("x", "\x1f\x8b", 2, &h), NNP_ERR_FORMAT);
    /* 8 dims of 2^32-1 elements of 8 bytes: the product overflows */
    unsigned char big[4 + 32] = {0, 0, 0x0E, 8};
    memset(big + 4, 0xff, 32);
    cr_assert_eq(nnp_idx_header_parse("x", big, sizeof big, &h), NNP_ERR_FORMAT);
    expect_message("x", "IDX dims are too large: their product overflows");
}

Test(idx, hostile_bytes_never_crash, .init = make_tmp, .fini = remove_tmp)
{
    size_t n;
    unsigned char *good = slurp("tests/data/i16_4x2x3.idx", &n);
    const char *path = tmp_path("h.idx");
    struct nnp_array a;
    for (size_t cut = 0; cut < n; cut++) {
        spit(path, good, cut);
        cr_assert_neq(nnp_idx_read(path, &a), NNP_OK, "prefix of %zu bytes was accepted", cut);
    }
    static const unsigned char values[] = {0, 1, 7, 8, 0x0b, 0x0e, 0x20, 0x80, 0xff};
    unsigned char *bad = malloc(n);
    for (size_t pos = 0; pos < 20; pos++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(bad, good, n);
            bad[pos] = values[v];
            spit(path, bad, n);
            if (nnp_idx_read(path, &a) == NNP_OK)
                cr_assert_eq(a.nbytes, (size_t)nnp_array_numel(&a) * nnp_dtype_size(a.dtype));
            nnp_array_free(&a);
            gzip_to(path, bad, n);
            nnp_idx_read(path, &a);
            nnp_array_free(&a);
        }
    }
    free(bad);
    free(good);
}

/* --- the streaming reader --- */

Test(dataset, fashion_mnist_in_batches_of_7)
{
    need_fmnist();
    struct nnp_data_opts o = {.scale = 2.0f / 255.0f, .shift = -1.0f};
    struct nnp_dataset *d;
    cr_assert_eq(nnp_dataset_open(T10K_IMAGES, &o, &d), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_dataset_count(d), 10000);
    int64_t dims[NNP_MAX_RANK];
    cr_assert_eq(nnp_dataset_sample_shape(d, dims), 2);
    cr_assert_eq(dims[0], 28);
    cr_assert_eq(dims[1], 28);
    cr_assert_eq(nnp_dataset_sample_numel(d), 784);
    cr_assert_eq(nnp_dataset_dtype(d), NNP_DTYPE_U8);
    cr_assert_str_eq(nnp_dataset_format(d), "idx.gz");

    const size_t total = 10000 * 784;
    float *all = malloc(total * sizeof *all);
    float *batched = malloc(total * sizeof *batched);
    int64_t got;
    cr_assert_eq(nnp_dataset_read_f32(d, 20000, all, &got), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(got, 10000);
    cr_assert_eq(nnp_dataset_read_f32(d, 7, batched, &got), NNP_OK);
    cr_assert_eq(got, 0);

    cr_assert_eq(nnp_dataset_rewind(d), NNP_OK);
    int64_t n = 0, calls = 0;
    for (;;) {
        cr_assert_eq(nnp_dataset_read_f32(d, 7, batched + n * 784, &got), NNP_OK);
        if (got == 0)
            break;
        cr_assert(got == 7 || (got == 10000 % 7 && n + got == 10000));
        n += got;
        calls++;
    }
    cr_assert_eq(n, 10000);
    cr_assert_eq(calls, (10000 + 6) / 7);
    cr_assert(memcmp(all, batched, total * sizeof *all) == 0);

    /* scale and shift applied to the bytes */
    struct nnp_array raw;
    cr_assert_eq(nnp_idx_read(T10K_IMAGES, &raw), NNP_OK);
    const uint8_t *p = raw.data;
    for (size_t i = 0; i < total; i++)
        if (all[i] != (float)p[i] * o.scale + o.shift)
            cr_assert_fail("element %zu: %g for byte %d", i, all[i], p[i]);
    cr_assert_eq(all[0], -1.0f); /* corner pixel is 0 */
    nnp_array_free(&raw);
    free(all);
    free(batched);
    nnp_dataset_close(d);
    nnp_dataset_close(NULL);
}

Test(dataset, fashion_mnist_labels)
{
    need_fmnist();
    struct nnp_dataset *d;
    cr_assert_eq(nnp_dataset_open(T10K_LABELS, NULL, &d), NNP_OK, "%s", nnp_error_message());
    cr_assert_eq(nnp_dataset_count(d), 10000);
    int64_t dims[NNP_MAX_RANK];
    cr_assert_eq(nnp_dataset_sample_shape(d, dims), 0);
    int64_t lab[7], got, counts[10] = {0}, n = 0;
    cr_assert_eq(nnp_dataset_read_labels(d, 7, lab, &got), NNP_OK);
    cr_assert_eq(lab[0], 9);
    cr_assert_eq(lab[1], 2);
    do {
        for (int64_t i = 0; i < got; i++) {
            cr_assert(lab[i] >= 0 && lab[i] < 10);
            counts[lab[i]]++;
        }
        n += got;
        cr_assert_eq(nnp_dataset_read_labels(d, 7, lab, &got), NNP_OK);
    } while (got > 0);
    cr_assert_eq(n, 10000);
    for (int c = 0; c < 10; c++)
        cr_assert_eq(counts[c], 1000);
    nnp_dataset_close(d);

    /* images are not labels */
    cr_assert_eq(nnp_dataset_open(T10K_IMAGES, NULL, &d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 7, lab, &got), NNP_ERR_INVALID);
    expect_message(T10K_IMAGES, "not a label file: each sample is [28,28], labels need one "
                                "value per sample");
    nnp_dataset_close(d);
}

Test(dataset, npy_in_batches)
{
    struct nnp_array raw;
    cr_assert_eq(nnp_npy_read("tests/data/u8_images.npy", &raw), NNP_OK);
    struct nnp_dataset *d;
    cr_assert_eq(nnp_dataset_open("tests/data/u8_images.npy", NULL, &d), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_str_eq(nnp_dataset_format(d), "npy");
    cr_assert_eq(nnp_dataset_count(d), 20);
    int64_t dims[NNP_MAX_RANK];
    cr_assert_eq(nnp_dataset_sample_shape(d, dims), 2);
    cr_assert_eq(dims[0], 3);
    cr_assert_eq(dims[1], 5);
    float out[20 * 15];
    int64_t got, n = 0;
    const int64_t expect[] = {7, 7, 6, 0, 0};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(nnp_dataset_read_f32(d, 7, out + n * 15, &got), NNP_OK);
        cr_assert_eq(got, expect[i]);
        n += got;
    }
    const uint8_t *p = raw.data;
    for (int i = 0; i < 300; i++)
        cr_assert_eq(out[i], (float)p[i] * (1.0f / 255.0f));
    /* rewind gives the same again */
    cr_assert_eq(nnp_dataset_rewind(d), NNP_OK);
    float again[15];
    cr_assert_eq(nnp_dataset_read_f32(d, 1, again, &got), NNP_OK);
    cr_assert_eq(got, 1);
    cr_assert(memcmp(again, out, sizeof again) == 0);
    cr_assert_eq(nnp_dataset_read_f32(d, 0, again, &got), NNP_OK);
    cr_assert_eq(got, 0);
    nnp_dataset_close(d);
    nnp_array_free(&raw);
}

Test(dataset, float_data_passes_through)
{
    struct nnp_data_opts o = {.scale = 100.0f, .shift = 5.0f};
    struct nnp_dataset *d;
    cr_assert_eq(nnp_dataset_open("tests/data/f32_2x3_v2.npy", &o, &d), NNP_OK);
    float out[6];
    int64_t got;
    cr_assert_eq(nnp_dataset_read_f32(d, 2, out, &got), NNP_OK);
    cr_assert_eq(got, 2);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out[i], (float)i * 0.5f - 1.0f);
    nnp_dataset_close(d);

    cr_assert_eq(nnp_dataset_open("tests/data/f16_7.npy", &o, &d), NNP_OK);
    float h[7];
    cr_assert_eq(nnp_dataset_read_f32(d, 7, h, &got), NNP_OK);
    cr_assert_eq(h[2], -2.5f);
    cr_assert_eq(h[5], 65504.0f);
    nnp_dataset_close(d);

    /* int16 IDX through gzip, scale 1: the numbers themselves */
    struct nnp_array want;
    cr_assert_eq(nnp_npy_read("tests/data/i16_4x2x3.npy", &want), NNP_OK);
    o = (struct nnp_data_opts){.scale = 1.0f, .shift = 0.0f};
    cr_assert_eq(nnp_dataset_open("tests/data/i16_4x2x3.idx.gz", &o, &d), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_eq(nnp_dataset_dtype(d), NNP_DTYPE_I16);
    float v[24];
    cr_assert_eq(nnp_dataset_read_f32(d, 4, v, &got), NNP_OK);
    cr_assert_eq(got, 4);
    for (int i = 0; i < 24; i++)
        cr_assert_eq(v[i], (float)((int16_t *)want.data)[i]);
    nnp_dataset_close(d);
    nnp_array_free(&want);

    struct nnp_data_opts def = nnp_data_opts_default();
    cr_assert_eq(def.scale, 1.0f / 255.0f);
    cr_assert_eq(def.shift, 0.0f);
}

Test(dataset, npy_labels)
{
    struct nnp_dataset *d;
    int64_t lab[10], got;
    cr_assert_eq(nnp_dataset_open("tests/data/i64_labels.npy", NULL, &d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 10, lab, &got), NNP_OK);
    cr_assert_eq(got, 10);
    const int64_t want[10] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    cr_assert(memcmp(lab, want, sizeof want) == 0);
    nnp_dataset_close(d);

    cr_assert_eq(nnp_dataset_open("tests/data/f32_labels.npy", NULL, &d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 10, lab, &got), NNP_OK);
    cr_assert_eq(got, 4);
    cr_assert_eq(lab[3], 7);
    nnp_dataset_close(d);

    cr_assert_eq(nnp_dataset_open("tests/data/f32_bad_labels.npy", NULL, &d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 10, lab, &got), NNP_ERR_INVALID);
    expect_message("tests/data/f32_bad_labels.npy", "label 1 is 2.5; labels must be whole numbers");
    /* a failed read must be rewound before the next */
    cr_assert_eq(nnp_dataset_read_labels(d, 1, lab, &got), NNP_ERR_INVALID);
    cr_assert_eq(nnp_dataset_rewind(d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 1, lab, &got), NNP_OK);
    cr_assert_eq(lab[0], 0);
    nnp_dataset_close(d);

    cr_assert_eq(nnp_dataset_open("tests/data/bool_33.npy", NULL, &d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_labels(d, 4, lab, &got), NNP_OK);
    cr_assert_eq(lab[0], 1);
    cr_assert_eq(lab[1], 0);
    nnp_dataset_close(d);
}

Test(dataset, tensor_proto_pb)
{
    struct nnp_dataset *d;
    cr_assert_eq(nnp_dataset_open("tests/data/f32_3x4.pb", NULL, &d), NNP_OK, "%s",
                 nnp_error_message());
    cr_assert_str_eq(nnp_dataset_format(d), "pb");
    cr_assert_eq(nnp_dataset_count(d), 3);
    int64_t dims[NNP_MAX_RANK];
    cr_assert_eq(nnp_dataset_sample_shape(d, dims), 1);
    cr_assert_eq(dims[0], 4);
    float out[12];
    int64_t got;
    cr_assert_eq(nnp_dataset_read_f32(d, 2, out, &got), NNP_OK);
    cr_assert_eq(got, 2);
    cr_assert_eq(nnp_dataset_read_f32(d, 2, out + 8, &got), NNP_OK);
    cr_assert_eq(got, 1);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(out[i], (float)i / 4.0f);
    cr_assert_eq(nnp_dataset_rewind(d), NNP_OK);
    cr_assert_eq(nnp_dataset_read_f32(d, 3, out, &got), NNP_OK);
    cr_assert_eq(got, 3);
    nnp_dataset_close(d);
}

Test(dataset, refusals, .init = make_tmp, .fini = remove_tmp)
{
    struct nnp_dataset *d = (struct nnp_dataset *)1;
    cr_assert_eq(nnp_dataset_open("tests/data/u8_scalar.npy", NULL, &d), NNP_ERR_INVALID);
    cr_assert_null(d);
    cr_assert_eq(nnp_dataset_open("tests/data/no-such-file.npy", NULL, &d), NNP_ERR_IO);
    const char *path = tmp_path("notes.txt");
    spit(path, "hello", 5);
    cr_assert_eq(nnp_dataset_open(path, NULL, &d), NNP_ERR_FORMAT);
    expect_message(path, "unrecognized data format; expected .npy, IDX (MNIST-style, optionally "
                         ".gz) or an ONNX TensorProto .pb");
    cr_assert_null(d);
}

/* Every data- file of the shared corpus is refused, through the format's own
 * reader and through the data-set reader, with the message its README line gives. */
Test(corpus, data_files_give_their_errors)
{
    FILE *f = fopen("tests/corpus/README", "r");
    cr_assert_not_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "data-", 5) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab, "README line without a tab: %s", line);
        *tab = '\0';
        char path[sizeof line + 16];
        snprintf(path, sizeof path, "tests/corpus/%s", line);
        const char *msg = tab + 1;

        struct nnp_array a;
        enum nnp_status st = strstr(line, ".npy") ? nnp_npy_read(path, &a) : nnp_idx_read(path, &a);
        cr_assert_neq(st, NNP_OK, "%s was accepted", path);
        expect_message(path, msg);
        cr_assert_null(a.data);

        struct nnp_dataset *d;
        cr_assert_neq(nnp_dataset_open(path, NULL, &d), NNP_OK, "%s was accepted", path);
        expect_message(path, msg);
        cr_assert_null(d);
        n++;
    }
    fclose(f);
    cr_assert_geq(n, 10);
}
