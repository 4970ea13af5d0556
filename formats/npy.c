/* formats/npy.c — NumPy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * The header is a Python dict literal. NumPy reads it with ast.literal_eval;
 * we accept the subset NumPy writes (and older NumPy wrote: 'L' suffixes on
 * ints in 1.0/2.0 files) with a strict little parser, so that a hostile header
 * can cost us neither memory nor a crash: every length is checked against the
 * file size before anything is allocated from it.
 */
#include "npy.h"

#include "file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nnpress reads .npy data in place and assumes a little-endian host"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* NumPy aligns the data to 64 bytes (numpy.lib.format.ARRAY_ALIGN) so that the
 * file can be memory-mapped for any dtype. */
#define NPY_ALIGN 64
/* np.save leaves room after the dict for the first dim to grow to this many
 * digits, so that appending to a file can rewrite the header in place
 * (numpy.lib.format.GROWTH_AXIS_MAX_DIGITS). We copy it to write the same bytes. */
#define NPY_GROWTH_DIGITS 21
/* NumPy itself refuses headers above 10000 bytes unless told to trust the file;
 * ours never exceed a few hundred. 1 MiB bounds what a hostile length can make
 * us read while leaving room for anything a real writer produces. */
#define NPY_MAX_HEADER (1u << 20)

static const struct {
    const char *code; /* descr without the byte-order character */
    enum nnp_dtype dtype;
} descr_table[] = {
    {"f4", NNP_DTYPE_F32}, {"f2", NNP_DTYPE_F16}, {"f8", NNP_DTYPE_F64},
    {"i1", NNP_DTYPE_I8},  {"u1", NNP_DTYPE_U8},  {"b1", NNP_DTYPE_BOOL},
    {"i2", NNP_DTYPE_I16}, {"u2", NNP_DTYPE_U16}, {"i4", NNP_DTYPE_I32},
    {"u4", NNP_DTYPE_U32}, {"i8", NNP_DTYPE_I64}, {"u8", NNP_DTYPE_U64},
};
#define N_DESCR (sizeof descr_table / sizeof descr_table[0])

const char *nnp_npy_descr(enum nnp_dtype t)
{
    /* the byte-order character NumPy writes: '|' where order is meaningless */
    static const char *const descr[NNP_DTYPE_COUNT] = {
        [NNP_DTYPE_F32] = "<f4", [NNP_DTYPE_F16] = "<f2", [NNP_DTYPE_F64] = "<f8",
        [NNP_DTYPE_I8] = "|i1",  [NNP_DTYPE_U8] = "|u1",  [NNP_DTYPE_BOOL] = "|b1",
        [NNP_DTYPE_I16] = "<i2", [NNP_DTYPE_U16] = "<u2", [NNP_DTYPE_I32] = "<i4",
        [NNP_DTYPE_U32] = "<u4", [NNP_DTYPE_I64] = "<i8", [NNP_DTYPE_U64] = "<u8",
    };
    return (unsigned)t < NNP_DTYPE_COUNT ? descr[t] : NULL;
}

/* --- header parsing --- */

/* A cursor over the header dict. Offsets in messages count from the file start,
 * so that `xxd` on the file finds the spot. */
struct cursor {
    const char *name;  /* file name, for messages */
    const char *start; /* the file's first byte */
    const char *p;     /* next unread byte */
    const char *end;   /* one past the header */
    int version;
};

static enum nnp_status malformed(const struct cursor *c, const char *what)
{
    return nnp_errorf(NNP_ERR_FORMAT, "%s: malformed .npy header: %s at byte %td", c->name,
                      what, c->p - c->start);
}

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool eat(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (no descr or key needs one), at most cap-1 bytes. */
static enum nnp_status parse_string(struct cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return malformed(c, "expected a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch > 0x7e || ch == '\\')
            return malformed(c, "unexpected character in a string");
        if (n + 1 >= cap)
            return malformed(c, "string too long");
        out[n++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->end)
        return malformed(c, "unterminated string");
    c->p++;
    out[n] = '\0';
    return NNP_OK;
}

static bool eat_word(struct cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    /* "Falsey" is not False */
    if ((size_t)(c->end - c->p) > n) {
        char next = c->p[n];
        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
            (next >= '0' && next <= '9') || next == '_')
            return false;
    }
    c->p += n;
    return true;
}

static enum nnp_status parse_bool(struct cursor *c, bool *out)
{
    skip_ws(c);
    if (eat_word(c, "True"))
        *out = true;
    else if (eat_word(c, "False"))
        *out = false;
    else
        return malformed(c, "expected True or False");
    return NNP_OK;
}

static enum nnp_status parse_dim(struct cursor *c, int64_t *out)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '-')
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: malformed .npy header: negative dimension at byte %td", c->name,
                          c->p - c->start);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return malformed(c, "expected a dimension");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p - '0';
        if (v > (INT64_MAX - d) / 10)
            return nnp_errorf(NNP_ERR_FORMAT,
                              "%s: malformed .npy header: dimension overflows int64 at byte %td",
                              c->name, c->p - c->start);
        v = v * 10 + d;
        c->p++;
    }
    /* Python 2 wrote longs as 3L; NumPy filters them out of 1.0 and 2.0 headers */
    if (c->version <= 2 && c->p < c->end && *c->p == 'L')
        c->p++;
    *out = v;
    return NNP_OK;
}

/* "()", "(5,)", "(2, 3)", "(2, 3,)". "(5)" is the int 5 in Python, not a tuple. */
static enum nnp_status parse_shape(struct cursor *c, int *rank, int64_t *dims)
{
    if (!eat(c, '('))
        return malformed(c, "expected a shape tuple");
    int n = 0;
    bool trailing_comma = false;
    for (;;) {
        if (eat(c, ')'))
            break;
        if (n == NNP_MAX_RANK)
            return nnp_errorf(NNP_ERR_UNSUPPORTED,
                              "%s: arrays of more than %d dimensions are not supported",
                              c->name, NNP_MAX_RANK);
        enum nnp_status st = parse_dim(c, &dims[n]);
        if (st != NNP_OK)
            return st;
        n++;
        trailing_comma = eat(c, ',');
        if (!trailing_comma) {
            if (!eat(c, ')'))
                return malformed(c, "expected ',' or ')' in the shape");
            break;
        }
    }
    if (n == 1 && !trailing_comma)
        return malformed(c, "shape (n) is not a tuple, (n,) is");
    *rank = n;
    return NNP_OK;
}

/* Map a descr string to a dtype, or explain why not. */
static enum nnp_status parse_descr(const char *name, const char *descr, enum nnp_dtype *out)
{
    char order = descr[0];
    const char *code = descr;
    if (order == '<' || order == '>' || order == '|' || order == '=')
        code++;
    else
        order = '=';
    for (size_t i = 0; i < N_DESCR; i++) {
        if (strcmp(code, descr_table[i].code) != 0)
            continue;
        enum nnp_dtype t = descr_table[i].dtype;
        if (order == '>' && nnp_dtype_size(t) > 1)
            return nnp_errorf(NNP_ERR_UNSUPPORTED,
                              "%s: big-endian data ('%s') is not supported; save with dtype '<%s'",
                              name, descr, code);
        *out = t;
        return NNP_OK;
    }
    return nnp_errorf(NNP_ERR_UNSUPPORTED,
                      "%s: dtype '%s' is not supported; use float32, float16, float64, int8, "
                      "uint8, int16, uint16, int32, uint32, int64, uint64 or bool",
                      name, descr);
}

static enum nnp_status parse_dict(struct cursor *c, struct nnp_npy_header *h)
{
    enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };
    unsigned seen = 0;
    char descr[40] = "";
    bool fortran = false;
    enum nnp_status st;

    if (!eat(c, '{'))
        return malformed(c, "expected '{'");
    for (;;) {
        if (eat(c, '}'))
            break;
        char key[32];
        const char *key_at = c->p;
        if ((st = parse_string(c, key, sizeof key)) != NNP_OK)
            return st;
        unsigned k = strcmp(key, "descr") == 0           ? K_DESCR
                     : strcmp(key, "fortran_order") == 0 ? K_FORTRAN
                     : strcmp(key, "shape") == 0         ? K_SHAPE
                                                         : 0;
        if (!k) {
            c->p = key_at;
            return malformed(c, "unknown key (expected 'descr', 'fortran_order', 'shape')");
        }
        if (seen & k) {
            c->p = key_at;
            return malformed(c, "repeated key");
        }
        seen |= k;
        if (!eat(c, ':'))
            return malformed(c, "expected ':'");
        if (k == K_DESCR) {
            skip_ws(c);
            if (c->p < c->end && *c->p == '[')
                return nnp_errorf(NNP_ERR_UNSUPPORTED,
                                  "%s: structured dtypes (records) are not supported", c->name);
            st = parse_string(c, descr, sizeof descr);
        } else if (k == K_FORTRAN) {
            st = parse_bool(c, &fortran);
        } else {
            st = parse_shape(c, &h->rank, h->dims);
        }
        if (st != NNP_OK)
            return st;
        if (!eat(c, ',')) {
            if (!eat(c, '}'))
                return malformed(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end)
        return malformed(c, "unexpected text after the dict");
    if (seen != (K_DESCR | K_FORTRAN | K_SHAPE))
        return malformed(c, !(seen & K_DESCR)     ? "missing key 'descr'"
                            : !(seen & K_FORTRAN) ? "missing key 'fortran_order'"
                                                  : "missing key 'shape'");
    if ((st = parse_descr(c->name, descr, &h->dtype)) != NNP_OK)
        return st;
    if (fortran) {
        /* With at most one dim above 1, Fortran and C order are the same bytes. */
        int n_big = 0;
        for (int i = 0; i < h->rank; i++)
            n_big += h->dims[i] > 1;
        if (n_big > 1)
            return nnp_errorf(NNP_ERR_UNSUPPORTED,
                              "%s: Fortran-order arrays are not supported; save "
                              "np.ascontiguousarray(a) instead",
                              c->name);
    }
    return NNP_OK;
}

/* Magic, version and length field: the first 10 (1.0) or 12 (2.0, 3.0) bytes.
 * Sets *total to the bytes before the data. */
static enum nnp_status parse_prefix(const char *name, const unsigned char *b, size_t size,
                                    int *version, uint64_t *total)
{
    size_t n = size < NPY_MAGIC_LEN ? size : NPY_MAGIC_LEN;
    if (memcmp(b, NPY_MAGIC, n) != 0)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
    if (size < NPY_MAGIC_LEN + 2)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: truncated .npy header: file ends after %zu bytes",
                          name, size);
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return nnp_errorf(NNP_ERR_UNSUPPORTED,
                          "%s: .npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)",
                          name, major, minor);
    size_t len_size = major == 1 ? 2 : 4;
    if (size < NPY_MAGIC_LEN + 2 + len_size)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: truncated .npy header: file ends after %zu bytes",
                          name, size);
    uint64_t len = (uint64_t)b[8] | (uint64_t)b[9] << 8;
    if (len_size == 4)
        len |= (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
    if (len > NPY_MAX_HEADER)
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: .npy header length %" PRIu64 " is implausible (at most %u bytes)",
                          name, len, NPY_MAX_HEADER);
    *version = major;
    *total = NPY_MAGIC_LEN + 2 + len_size + len;
    return NNP_OK;
}

/* "(3, 4)" into buf, for messages */
static const char *shape_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, i ? ", " : "", dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, rank == 1 ? ",)" : ")");
    return buf;
}

/* Sets numel and data_nbytes from the shape, refusing sizes that overflow. */
static enum nnp_status check_size(const char *name, struct nnp_npy_header *h)
{
    int64_t numel = nnp_shape_numel(h->rank, h->dims);
    size_t es = nnp_dtype_size(h->dtype);
    if (numel < 0 || (uint64_t)numel > (uint64_t)INT64_MAX / es ||
        (uint64_t)numel * es > SIZE_MAX) {
        char shape[NNP_MAX_RANK * 24 + 8];
        return nnp_errorf(NNP_ERR_FORMAT, "%s: shape %s in the .npy header is too large: its "
                          "size in bytes overflows", name, shape_str(h->rank, h->dims, shape,
                          sizeof shape));
    }
    h->numel = numel;
    h->data_nbytes = (uint64_t)numel * es;
    return NNP_OK;
}

enum nnp_status nnp_npy_header_parse(const char *name, const void *buf, size_t size,
                                     struct nnp_npy_header *h)
{
    const unsigned char *b = buf;
    enum nnp_status st;
    memset(h, 0, sizeof *h);
    int version;
    uint64_t total;
    if ((st = parse_prefix(name, b, size, &version, &total)) != NNP_OK)
        return st;
    if (total > size)
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: truncated .npy header: header length says %" PRIu64
                          " bytes, the file ends after %zu",
                          name, total - (version == 1 ? 10 : 12), size - (version == 1 ? 10 : 12));
    struct cursor c = {
        .name = name,
        .start = (const char *)b,
        .p = (const char *)b + (version == 1 ? 10 : 12),
        .end = (const char *)b + total,
        .version = version,
    };
    if ((st = parse_dict(&c, h)) != NNP_OK)
        return st;
    h->version = version;
    h->data_offset = total;
    return check_size(name, h);
}

enum nnp_status nnp_npy_open(const char *path, struct nnp_npy_header *h, FILE **out)
{
    enum nnp_status st;
    unsigned char *head = NULL;
    *out = NULL;
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nnp_errorf(NNP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = nnp_errorf(NNP_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t file_size = (uint64_t)sb.st_size;

    /* the fixed prefix tells how long the header is; check that against the
     * file size before reading (or allocating) that much */
    unsigned char pre[12];
    size_t n_pre = fread(pre, 1, sizeof pre, f);
    int version;
    uint64_t total;
    if ((st = parse_prefix(path, pre, n_pre, &version, &total)) != NNP_OK)
        goto fail;
    if (total > file_size) {
        unsigned fixed = version == 1 ? 10 : 12;
        st = nnp_errorf(NNP_ERR_FORMAT,
                        "%s: truncated .npy header: header length says %" PRIu64
                        " bytes, the file ends after %" PRIu64,
                        path, total - fixed, file_size - fixed);
        goto fail;
    }
    head = malloc((size_t)total);
    if (!head) {
        st = nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", path,
                        total);
        goto fail;
    }
    /* a 1.0 header of 0 or 1 bytes is shorter than what we read ahead */
    size_t n_have = n_pre < total ? n_pre : (size_t)total;
    memcpy(head, pre, n_have);
    if (fread(head + n_have, 1, (size_t)total - n_have, f) != (size_t)total - n_have) {
        st = nnp_errorf(NNP_ERR_IO, "%s: read error", path);
        goto fail;
    }
    if ((st = nnp_npy_header_parse(path, head, (size_t)total, h)) != NNP_OK)
        goto fail;

    uint64_t have = file_size - h->data_offset;
    if (have != h->data_nbytes) {
        char shape[200];
        shape_str(h->rank, h->dims, shape, sizeof shape);
        if (have < h->data_nbytes)
            st = nnp_errorf(NNP_ERR_FORMAT,
                            "%s: truncated: header says %s %s, %" PRIu64
                            " bytes of data; file ends after %" PRIu64 " bytes of data",
                            path, shape, nnp_dtype_name(h->dtype), h->data_nbytes, have);
        else
            st = nnp_errorf(NNP_ERR_FORMAT,
                            "%s: %" PRIu64 " unexpected bytes after the data of the %s %s array",
                            path, have - h->data_nbytes, nnp_dtype_name(h->dtype), shape);
        goto fail;
    }
    free(head);
    *out = f;
    return NNP_OK;

fail:
    free(head);
    fclose(f);
    memset(h, 0, sizeof *h);
    return st;
}

enum nnp_status nnp_npy_read(const char *path, struct nnp_array *out)
{
    memset(out, 0, sizeof *out);
    struct nnp_npy_header h;
    FILE *f;
    enum nnp_status st = nnp_npy_open(path, &h, &f);
    if (st != NNP_OK)
        return st;
    /* the size was checked against the file's, so this allocation is backed by data */
    size_t nbytes = (size_t)h.data_nbytes;
    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) {
        fclose(f);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory for %zu bytes of data", path, nbytes);
    }
    if (fread(data, 1, nbytes, f) != nbytes) {
        /* the file shrank since we measured it, or the disk failed */
        bool eof = feof(f);
        free(data);
        fclose(f);
        return nnp_errorf(eof ? NNP_ERR_FORMAT : NNP_ERR_IO, "%s: %s while reading the data",
                          path, eof ? "unexpected end of file" : "read error");
    }
    fclose(f);
    out->dtype = h.dtype;
    out->rank = h.rank;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->data = data;
    out->nbytes = nbytes;
    return NNP_OK;
}

/* --- writing --- */

/* The header np.save writes for (descr, C order, shape): the dict, spare room
 * for the first dim to grow, spaces up to 64-byte alignment, '\n'. */
static size_t format_header(char *buf, size_t size, const char *descr, int rank,
                            const int64_t *dims)
{
    char shape[NNP_MAX_RANK * 24 + 8];
    shape_str(rank, dims, shape, sizeof shape);
    int n = snprintf(buf + 10, size - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    NNP_ASSERT(n > 0 && (size_t)n < size - 10);
    size_t len = (size_t)n;
    if (rank > 0) {
        int digits = snprintf(NULL, 0, "%" PRId64, dims[0]);
        for (int i = digits; i < NPY_GROWTH_DIGITS; i++)
            buf[10 + len++] = ' ';
    }
    /* NumPy pads by ALIGN - (prefix + len + 1) % ALIGN: a full 64 spaces when
     * already aligned. Same formula, same bytes. */
    size_t pad = NPY_ALIGN - (10 + len + 1) % NPY_ALIGN;
    NNP_ASSERT(10 + len + pad + 1 <= size);
    memset(buf + 10 + len, ' ', pad);
    len += pad;
    buf[10 + len++] = '\n';
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)(len & 0xff);
    buf[9] = (char)(len >> 8);
    return 10 + len;
}

enum nnp_status nnp_npy_write(const char *path, const struct nnp_array *a)
{
    const char *descr = nnp_npy_descr(a->dtype);
    if (!descr)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: cannot write %s data as .npy", path,
                          nnp_dtype_name(a->dtype));
    if (a->rank < 0 || a->rank > NNP_MAX_RANK)
        return nnp_errorf(NNP_ERR_INVALID, "%s: cannot write an array of rank %d", path, a->rank);
    int64_t numel = nnp_array_numel(a);
    size_t es = nnp_dtype_size(a->dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es || (size_t)numel * es != a->nbytes ||
        (a->nbytes && !a->data))
        return nnp_errorf(NNP_ERR_INVALID,
                          "%s: array data (%zu bytes) does not match its shape and dtype", path,
                          a->nbytes);
    /* dict (< 100 bytes) + 8 dims of <= 20 digits + growth room + alignment */
    char head[512];
    size_t head_n = format_header(head, sizeof head, descr, a->rank, a->dims);
    /* One buffer for the shared all-or-nothing writer. The copy doubles the
     * memory of a write; .npy outputs of nnpress are small (tensors, not data sets). */
    if (a->nbytes > SIZE_MAX - head_n)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: array too large", path);
    char *buf = malloc(head_n + a->nbytes);
    if (!buf)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory for %zu bytes", path,
                          head_n + a->nbytes);
    memcpy(buf, head, head_n);
    if (a->nbytes)
        memcpy(buf + head_n, a->data, a->nbytes);
    enum nnp_status st = nnp_file_write_atomic(path, buf, head_n + a->nbytes);
    free(buf);
    return st;
}
