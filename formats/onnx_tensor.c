/* formats/onnx_tensor.c — ONNX TensorProto to and from the IR's dense tensors.
 *
 * Reading accepts every storage form ONNX has: raw_data (little-endian), the
 * typed fields (float_data; int32_data holding int8/uint8/int16/uint16/bool/
 * float16/bfloat16 one element per int32; int64_data; double_data; uint64_data
 * holding uint32/uint64; string_data) and external data in a file next to the
 * model. Writing always uses raw_data (string_data for strings). The byte count
 * a tensor's dims call for is computed with overflow checks and compared with
 * what the message holds before anything is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_pb.h"

struct decode {
    struct nnp_graph *g;       /* tensor data goes to its arena */
    struct nnp_arena *scratch; /* temporary strings */
    const char *dir;           /* folder external data is resolved against */
};

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static void *alloc(struct nnp_arena *a, size_t size)
{
    return nnp_arena_alloc(a, size ? size : 1);
}

/* --- reading --- */

/* The TensorProto field that holds a dtype's elements when raw_data is not used. */
enum data_field { F_NONE, F_FLOAT, F_INT32, F_STRING, F_INT64, F_DOUBLE, F_UINT64, F_COUNT };

static const char *const field_names[F_COUNT] = {
    "no data", "float_data", "int32_data", "string_data", "int64_data", "double_data",
    "uint64_data",
};

static enum data_field field_of(enum nnp_dtype t)
{
    switch (t) {
    case NNP_DTYPE_F32:
    case NNP_DTYPE_C64: return F_FLOAT;
    case NNP_DTYPE_I32:
    case NNP_DTYPE_I16:
    case NNP_DTYPE_I8:
    case NNP_DTYPE_U16:
    case NNP_DTYPE_U8:
    case NNP_DTYPE_BOOL:
    case NNP_DTYPE_F16:
    case NNP_DTYPE_BF16: return F_INT32; /* one element per int32, as the ONNX spec says */
    case NNP_DTYPE_STRING: return F_STRING;
    case NNP_DTYPE_I64: return F_INT64;
    case NNP_DTYPE_F64:
    case NNP_DTYPE_C128: return F_DOUBLE;
    case NNP_DTYPE_U32:
    case NNP_DTYPE_U64: return F_UINT64;
    default: return F_NONE;
    }
}

static size_t field_count(const Onnx__TensorProto *tp, enum data_field f)
{
    switch (f) {
    case F_FLOAT: return tp->n_float_data;
    case F_INT32: return tp->n_int32_data;
    case F_STRING: return tp->n_string_data;
    case F_INT64: return tp->n_int64_data;
    case F_DOUBLE: return tp->n_double_data;
    case F_UINT64: return tp->n_uint64_data;
    default: return 0;
    }
}

/* Parse a non-negative decimal integer that fits in int64 ("offset"/"length" values). */
static int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (uint64_t)(INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* A location stays inside the model's folder: relative, and no ".." component. Symbolic
 * links inside the folder are followed; whoever can plant one can also edit the model. */
static const char *location_problem(const char *loc)
{
    if (!*loc)
        return "is empty";
    if (loc[0] == '/')
        return "is an absolute path; external data is read only from the model's folder";
    for (const char *p = loc; *p;) {
        size_t k = strcspn(p, "/");
        if (k == 2 && p[0] == '.' && p[1] == '.')
            return "leaves the model's folder ('..'); external data is read only from there";
        p += k;
        while (*p == '/')
            p++;
    }
    return NULL;
}

/* Read `nbytes` of external data for `tp` into a new buffer in the graph's arena. The file
 * size is checked before allocating, so the dims cannot ask for more than the file holds. */
static enum nnp_status read_external(const struct decode *r, const Onnx__TensorProto *tp,
                                     size_t nbytes, const char *shape, void **out,
                                     const char *what)
{
    const char *loc = NULL;
    uint64_t offset = 0, length = 0;
    int has_length = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = str_or_empty(tp->external_data[i]->key);
        const char *v = tp->external_data[i]->value;
        if (strcmp(k, "location") == 0) {
            loc = str_or_empty(v);
        } else if (strcmp(k, "offset") == 0) {
            if (parse_size(v, &offset))
                return nnp_errorf(NNP_ERR_FORMAT, "%s: external data offset '%s' is not a "
                                  "byte count", what, str_or_empty(v));
        } else if (strcmp(k, "length") == 0) {
            if (parse_size(v, &length))
                return nnp_errorf(NNP_ERR_FORMAT, "%s: external data length '%s' is not a "
                                  "byte count", what, str_or_empty(v));
            has_length = 1;
        } /* "checksum" and unknown keys: not needed to read the bytes */
    }
    if (!loc)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: external data without a location", what);
    const char *problem = location_problem(loc);
    if (problem)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: external data location '%s' %s", what, loc,
                          problem);
    if (has_length && length != nbytes)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: external data length is %" PRIu64
                          " bytes, dims %s need %zu", what, length, shape, nbytes);

    size_t plen = strlen(r->dir) + 1 + strlen(loc) + 1;
    char *path = nnp_arena_alloc(r->scratch, plen);
    snprintf(path, plen, "%s/%s", r->dir, loc);
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not hang the reader */
    if (fd < 0)
        return nnp_errorf(NNP_ERR_IO, "%s: external data %s: %s", what, path, strerror(errno));
    struct stat st;
    enum nnp_status s = NNP_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        s = nnp_errorf(NNP_ERR_IO, "%s: external data %s is not a regular file", what, path);
    else if (offset > (uint64_t)st.st_size || (uint64_t)st.st_size - offset < nbytes)
        s = nnp_errorf(NNP_ERR_FORMAT, "%s: external data %s is %jd bytes long; dims %s need "
                       "%zu bytes at offset %" PRIu64, what, path, (intmax_t)st.st_size, shape,
                       nbytes, offset);
    else if (!has_length && (uint64_t)st.st_size - offset != nbytes)
        s = nnp_errorf(NNP_ERR_FORMAT, "%s: external data %s has %" PRIu64 " bytes after "
                       "offset %" PRIu64 " and no length, dims %s need %zu", what, path,
                       (uint64_t)st.st_size - offset, offset, shape, nbytes);
    uint8_t *buf = NULL;
    if (s == NNP_OK) {
        buf = nnp_arena_alloc_big(r->g->arena, nbytes ? nbytes : 1);
        if (!buf)
            s = nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, nbytes);
    }
    for (size_t done = 0; s == NNP_OK && done < nbytes;) {
        ssize_t k = pread(fd, buf + done, nbytes - done, (off_t)(offset + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            s = nnp_errorf(NNP_ERR_IO, "%s: reading external data %s: %s", what, path,
                           k < 0 ? strerror(errno) : "file shrank while reading");
        else
            done += (size_t)k;
    }
    close(fd);
    *out = buf;
    return s;
}

enum nnp_status nnp_pb_tensor_decode(struct nnp_graph *g, struct nnp_arena *scratch,
                                     const char *dir, Onnx__TensorProto *tp,
                                     struct nnp_tensor *t, const char *what)
{
    const struct decode ctx = {g, scratch, dir}, *r = &ctx;
    memset(t, 0, sizeof *t);
    t->rank = -1;
    if (!tp->has_data_type || tp->data_type == 0)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: has no data type", what);
    enum nnp_dtype dt = nnp_dtype_from_onnx(tp->data_type);
    if (dt == NNP_DTYPE_UNDEFINED)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: data type %d is not supported", what,
                          (int)tp->data_type);
    if (tp->n_dims > NNP_MAX_RANK)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: has %zu dimensions; nnpress supports up to "
                          "%d", what, tp->n_dims, NNP_MAX_RANK);
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] < 0)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: dimension %zu is negative (%" PRId64 ")",
                              what, i, tp->dims[i]);
    nnp_tensor_set_shape(t, dt, (int)tp->n_dims, tp->dims);
    char shape[NNP_MAX_RANK * 21 + 3];
    nnp_tensor_shape_str(t, shape, sizeof shape);

    /* the byte count, checked for overflow, before anything is allocated */
    int64_t numel = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] && numel > INT64_MAX / t->dims[i])
            return nnp_errorf(NNP_ERR_FORMAT, "%s: dims %s hold more than 2^63 elements", what,
                              shape);
        numel *= t->dims[i];
    }
    size_t esize = dt == NNP_DTYPE_STRING ? sizeof(struct nnp_string) : nnp_dtype_size(dt);
    if ((uint64_t)numel > (uint64_t)INT64_MAX / esize || (uint64_t)numel > SIZE_MAX / esize)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: dims %s of %s need more bytes than can be "
                          "addressed", what, shape, nnp_dtype_name(dt));
    size_t nbytes = (size_t)numel * esize;

    enum data_field want = field_of(dt);
    size_t n_typed = field_count(tp, want);
    for (int f = F_FLOAT; f < F_COUNT; f++)
        if (f != (int)want && field_count(tp, (enum data_field)f))
            return nnp_errorf(NNP_ERR_FORMAT, "%s: has %s, but %s data belongs in %s or "
                              "raw_data", what, field_names[f], nnp_dtype_name(dt),
                              field_names[want]);
    if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT &&
        tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: unknown data_location %d", what,
                          (int)tp->data_location);
    int external = tp->has_data_location &&
                   tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;

    enum nnp_status st = NNP_OK;
    if (external) {
        if (tp->has_raw_data || n_typed)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: has both external and inline data", what);
        if (dt == NNP_DTYPE_STRING)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: string tensors cannot have external data",
                              what);
        st = read_external(r, tp, nbytes, shape, &t->data, what);
        if (st != NNP_OK)
            return st;
    } else if (tp->has_raw_data) {
        if (n_typed)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: has both raw_data and %s", what,
                              field_names[want]);
        if (dt == NNP_DTYPE_STRING)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: string tensors cannot use raw_data", what);
        if (tp->raw_data.len != nbytes)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: raw_data has %zu bytes, dims %s need %zu",
                              what, tp->raw_data.len, shape, nbytes);
        t->data = nnp_arena_alloc_big(r->g->arena, nbytes ? nbytes : 1);
        if (!t->data)
            return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, nbytes);
        if (nbytes)
            memcpy(t->data, tp->raw_data.data, nbytes);
    } else {
        /* complex numbers take two floats/doubles per element */
        uint64_t need = (uint64_t)numel * (dt == NNP_DTYPE_C64 || dt == NNP_DTYPE_C128 ? 2 : 1);
        if (n_typed == 0 && need > 0)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: has no data, dims %s need %" PRIu64
                              " values", what, shape, need);
        if (n_typed != need)
            return nnp_errorf(NNP_ERR_FORMAT, "%s: %s has %zu values, dims %s need %" PRIu64,
                              what, field_names[want], n_typed, shape, need);
        t->data = nnp_arena_alloc_big(r->g->arena, nbytes ? nbytes : 1);
        if (!t->data)
            return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, nbytes);
        size_t n = (size_t)need;
        switch (n ? want : F_NONE) { /* an empty field may be a NULL array */
        case F_FLOAT: memcpy(t->data, tp->float_data, n * sizeof(float)); break;
        case F_DOUBLE: memcpy(t->data, tp->double_data, n * sizeof(double)); break;
        case F_INT64: memcpy(t->data, tp->int64_data, n * sizeof(int64_t)); break;
        case F_UINT64:
            if (dt == NNP_DTYPE_U64)
                memcpy(t->data, tp->uint64_data, n * sizeof(uint64_t));
            else
                for (size_t i = 0; i < n; i++)
                    ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
            break;
        case F_INT32:
            for (size_t i = 0; i < n; i++) {
                uint32_t v = (uint32_t)tp->int32_data[i]; /* low bits, well defined */
                switch (esize) {
                case 4: ((uint32_t *)t->data)[i] = v; break;
                case 2: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
                default: ((uint8_t *)t->data)[i] = dt == NNP_DTYPE_BOOL ? v != 0 : (uint8_t)v;
                }
            }
            break;
        case F_STRING: {
            struct nnp_string *s = t->data;
            for (size_t i = 0; i < n; i++) {
                s[i].len = tp->string_data[i].len;
                s[i].data = nnp_arena_strndup(r->g->arena, (const char *)tp->string_data[i].data,
                                              s[i].len);
            }
            break;
        }
        default: NNP_ASSERT(n == 0);
        }
    }
    t->nbytes = nbytes;
    t->storage = NNP_STORAGE_DENSE;

    /* what remains is the TensorProto minus what the IR holds (doc_string, segment,
     * unknown fields); external data is read into memory, so its description goes too */
    tp->name = NULL;
    tp->n_dims = 0;
    tp->has_data_type = 0;
    tp->data_type = 0;
    tp->n_float_data = tp->n_int32_data = tp->n_string_data = 0;
    tp->n_int64_data = tp->n_double_data = tp->n_uint64_data = 0;
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    tp->n_external_data = 0;
    tp->has_data_location = 0;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
    return NNP_OK;
}

/* --- writing --- */

static const char *storage_name(enum nnp_storage s)
{
    return s == NNP_STORAGE_SPARSE ? "sparse" : s == NNP_STORAGE_CODEBOOK ? "codebook" : "dense";
}

enum nnp_status nnp_pb_tensor_encode(struct nnp_arena *a, const struct nnp_tensor *t,
                                     const char *name, Onnx__TensorProto *tp, const char *what)
{
    char shape[NNP_MAX_RANK * 21 + 3];
    if (t->storage != NNP_STORAGE_DENSE)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: %s storage cannot be written to ONNX yet",
                          what, storage_name(t->storage));
    if (t->dtype == NNP_DTYPE_UNDEFINED || t->rank < 0)
        return nnp_errorf(NNP_ERR_INVALID, "%s: no data type or shape", what);
    int64_t numel = nnp_tensor_numel(t);
    if (numel < 0)
        return nnp_errorf(NNP_ERR_INVALID, "%s: shape %s is not static", what,
                          nnp_tensor_shape_str(t, shape, sizeof shape));
    size_t esize = t->dtype == NNP_DTYPE_STRING ? sizeof(struct nnp_string)
                                                : nnp_dtype_size(t->dtype);
    if ((uint64_t)numel > SIZE_MAX / esize || (size_t)numel * esize != t->nbytes)
        return nnp_errorf(NNP_ERR_INVALID, "%s: holds %zu bytes, shape %s of %s needs %" PRId64
                          " elements", what, t->nbytes,
                          nnp_tensor_shape_str(t, shape, sizeof shape), nnp_dtype_name(t->dtype),
                          numel);
    if (!t->data && t->nbytes)
        return nnp_errorf(NNP_ERR_INVALID, "%s: no data", what);

    if (name)
        tp->name = (char *)name;
    tp->n_dims = (size_t)t->rank;
    tp->dims = alloc(a, (size_t)t->rank * sizeof *tp->dims);
    memcpy(tp->dims, t->dims, (size_t)t->rank * sizeof *tp->dims);
    tp->has_data_type = 1;
    tp->data_type = nnp_dtype_onnx(t->dtype);
    if (t->dtype == NNP_DTYPE_STRING) {
        const struct nnp_string *s = t->data;
        tp->n_string_data = (size_t)numel;
        tp->string_data = alloc(a, (size_t)numel * sizeof *tp->string_data);
        for (size_t i = 0; i < (size_t)numel; i++) {
            tp->string_data[i].len = s[i].len;
            tp->string_data[i].data = (uint8_t *)s[i].data;
        }
    } else {
        tp->has_raw_data = 1; /* present even when empty: the data form stays explicit */
        tp->raw_data.len = t->nbytes;
        tp->raw_data.data = t->nbytes ? t->data : NULL;
    }
    return NNP_OK;
}
