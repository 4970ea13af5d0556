/* formats/dataset.c — samples streamed out of .npy, IDX, IDX.gz and TensorProto files.
 *
 * Every format is reduced to "raw little-endian elements after some header":
 * read_raw() fetches the next bytes of that, and the two public readers
 * convert them in pieces of one fixed buffer, so memory stays flat however
 * large the file is.
 */
#include "dataset.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "npy.h"
#include "onnx.h"

/* Large enough that per-call overhead (fread, gzread) vanishes against the copy,
 * small enough to stay in L2 while it is converted. */
#define DATASET_CHUNK (64u * 1024)

enum source { SRC_NPY, SRC_IDX, SRC_PB };

struct nnp_dataset {
    char *path;                 /* for messages */
    enum source src;
    bool gzip;                  /* SRC_IDX: the file is gzip-compressed */
    enum nnp_dtype dtype;       /* of the stored elements */
    int rank;                   /* of the file, >= 1 */
    int64_t dims[NNP_MAX_RANK]; /* (rank) of the file; dims[0] = number of samples */
    int64_t sample_numel;       /* product of dims[1..] */
    int64_t pos;                /* samples consumed */
    bool broken;                /* a read failed mid-way; only a rewind makes it usable */
    struct nnp_data_opts opts;

    FILE *npy;                    /* SRC_NPY */
    uint64_t npy_data_offset;     /* SRC_NPY */
    struct nnp_idx_stream *idx;   /* SRC_IDX */
    struct nnp_graph *pb_graph;   /* SRC_PB: owns the tensor data */
    const unsigned char *pb_data; /* SRC_PB: all elements */
    size_t pb_off;                /* SRC_PB: bytes consumed */

    unsigned char buf[DATASET_CHUNK]; /* raw elements on their way to the caller */
};

struct nnp_data_opts nnp_data_opts_default(void)
{
    return (struct nnp_data_opts){.scale = 1.0f / 255.0f, .shift = 0.0f};
}

/* Element types we can turn into floats and labels. */
static bool dtype_ok(enum nnp_dtype t)
{
    switch (t) {
    case NNP_DTYPE_F32: case NNP_DTYPE_F16: case NNP_DTYPE_BF16: case NNP_DTYPE_F64:
    case NNP_DTYPE_U8: case NNP_DTYPE_I8: case NNP_DTYPE_U16: case NNP_DTYPE_I16:
    case NNP_DTYPE_U32: case NNP_DTYPE_I32: case NNP_DTYPE_U64: case NNP_DTYPE_I64:
    case NNP_DTYPE_BOOL:
        return true;
    default:
        return false;
    }
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum nnp_status open_pb(struct nnp_dataset *d)
{
    d->pb_graph = nnp_graph_new();
    struct nnp_tensor t;
    enum nnp_status st = nnp_onnx_tensor_read(d->path, d->pb_graph, &t, NULL);
    if (st != NNP_OK)
        return st;
    if (t.storage != NNP_STORAGE_DENSE)
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: only dense tensors can be read as data",
                          d->path);
    if (!dtype_ok(t.dtype))
        return nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: %s tensors cannot be read as data", d->path,
                          nnp_dtype_name(t.dtype));
    if (t.rank < 0 || t.rank > NNP_MAX_RANK)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: the tensor has no static shape", d->path);
    int64_t numel = nnp_shape_numel(t.rank, t.dims);
    if (numel < 0 || (uint64_t)numel * nnp_dtype_size(t.dtype) != t.nbytes ||
        (t.nbytes && !t.data))
        return nnp_errorf(NNP_ERR_FORMAT, "%s: the tensor's data does not match its shape",
                          d->path);
    d->dtype = t.dtype;
    d->rank = t.rank;
    memcpy(d->dims, t.dims, sizeof d->dims);
    d->pb_data = t.data;
    return NNP_OK;
}

enum nnp_status nnp_dataset_open(const char *path, const struct nnp_data_opts *opts,
                                 struct nnp_dataset **out)
{
    *out = NULL;
    struct nnp_dataset *d = calloc(1, sizeof *d);
    if (!d || !(d->path = malloc(strlen(path) + 1))) {
        free(d);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(d->path, path);
    d->opts = opts ? *opts : nnp_data_opts_default();

    /* the first bytes decide the format */
    unsigned char magic[6] = {0};
    size_t n_magic = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        enum nnp_status st = nnp_errorf(NNP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        nnp_dataset_close(d);
        return st;
    }
    n_magic = fread(magic, 1, sizeof magic, f);
    fclose(f);

    /* Content first. A TensorProto cannot start with 00 (field number 0 is not
     * valid protobuf), so IDX's 00 00 never shadows a .pb. Then the name, for a
     * file whose magic is damaged: its own reader says what is wrong with it. */
    bool npy = n_magic >= 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
    bool idx = (n_magic >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) ||
               (n_magic >= 2 && magic[0] == 0 && magic[1] == 0);
    if (!npy && !idx) {
        npy = has_suffix(path, ".npy");
        idx = has_suffix(path, ".idx") || has_suffix(path, "-ubyte") ||
              has_suffix(path, "-ubyte.gz") || has_suffix(path, ".idx.gz");
    }
    enum nnp_status st;
    if (npy) {
        struct nnp_npy_header h;
        d->src = SRC_NPY;
        if ((st = nnp_npy_open(path, &h, &d->npy)) == NNP_OK) {
            d->dtype = h.dtype;
            d->rank = h.rank;
            memcpy(d->dims, h.dims, sizeof d->dims);
            d->npy_data_offset = h.data_offset;
        }
    } else if (idx) {
        struct nnp_idx_header h;
        d->src = SRC_IDX;
        if ((st = nnp_idx_open(path, &h, &d->idx)) == NNP_OK) {
            d->gzip = h.gzip;
            d->dtype = h.dtype;
            d->rank = h.rank;
            memcpy(d->dims, h.dims, sizeof d->dims);
        }
    } else if (has_suffix(path, ".pb")) {
        d->src = SRC_PB;
        st = open_pb(d);
    } else {
        st = nnp_errorf(NNP_ERR_FORMAT,
                        "%s: unrecognized data format; expected .npy, IDX (MNIST-style, "
                        "optionally .gz) or an ONNX TensorProto .pb",
                        path);
    }
    if (st == NNP_OK && d->rank < 1)
        st = nnp_errorf(NNP_ERR_INVALID,
                        "%s: holds a single scalar; a data set needs a first dimension that "
                        "counts the samples",
                        path);
    if (st == NNP_OK && !dtype_ok(d->dtype))
        st = nnp_errorf(NNP_ERR_UNSUPPORTED, "%s: %s data cannot be read as samples", path,
                        nnp_dtype_name(d->dtype));
    if (st != NNP_OK) {
        nnp_dataset_close(d);
        return st;
    }
    d->sample_numel = nnp_shape_numel(d->rank - 1, d->dims + 1);
    /* every reader checked the total size, so a sample's size cannot overflow */
    NNP_ASSERT(d->sample_numel >= 0);
    *out = d;
    return NNP_OK;
}

int64_t nnp_dataset_count(const struct nnp_dataset *d)
{
    return d->dims[0];
}

int nnp_dataset_sample_shape(const struct nnp_dataset *d, int64_t *dims)
{
    for (int i = 1; i < d->rank; i++)
        dims[i - 1] = d->dims[i];
    return d->rank - 1;
}

int64_t nnp_dataset_sample_numel(const struct nnp_dataset *d)
{
    return d->sample_numel;
}

enum nnp_dtype nnp_dataset_dtype(const struct nnp_dataset *d)
{
    return d->dtype;
}

const char *nnp_dataset_format(const struct nnp_dataset *d)
{
    switch (d->src) {
    case SRC_NPY: return "npy";
    case SRC_IDX: return d->gzip ? "idx.gz" : "idx";
    case SRC_PB: return "pb";
    }
    return "?";
}

/* The next nbytes of raw elements into d->buf. */
static enum nnp_status read_raw(struct nnp_dataset *d, size_t nbytes)
{
    NNP_ASSERT(nbytes <= sizeof d->buf);
    switch (d->src) {
    case SRC_NPY:
        if (fread(d->buf, 1, nbytes, d->npy) != nbytes) {
            /* nnp_npy_open() measured the file: it shrank, or the disk failed */
            bool eof = feof(d->npy);
            return nnp_errorf(eof ? NNP_ERR_FORMAT : NNP_ERR_IO,
                              "%s: %s while reading sample %" PRId64, d->path,
                              eof ? "unexpected end of file" : "read error", d->pos);
        }
        return NNP_OK;
    case SRC_IDX:
        return nnp_idx_stream_read(d->idx, d->buf, nbytes);
    case SRC_PB:
        memcpy(d->buf, d->pb_data + d->pb_off, nbytes);
        d->pb_off += nbytes;
        return NNP_OK;
    }
    NNP_ASSERT(0);
    return NNP_ERR_INVALID;
}

/* Convert k raw elements in buf to floats: integers scaled, floats as they are. */
static void convert_f32(enum nnp_dtype t, const unsigned char *buf, size_t k,
                        struct nnp_data_opts o, float *out)
{
    /* memcpy per element: buf has no alignment guarantee for 8-byte types */
#define INT_CASE(T, ctype)                                                                 \
    case T:                                                                                \
        for (size_t i = 0; i < k; i++) {                                                   \
            ctype v;                                                                       \
            memcpy(&v, buf + i * sizeof v, sizeof v);                                      \
            out[i] = (float)v * o.scale + o.shift;                                         \
        }                                                                                  \
        break;
    switch (t) {
    case NNP_DTYPE_F32:
        memcpy(out, buf, k * sizeof *out);
        break;
    case NNP_DTYPE_F16:
    case NNP_DTYPE_BF16:
        for (size_t i = 0; i < k; i++) {
            uint16_t h;
            memcpy(&h, buf + 2 * i, 2);
            out[i] = t == NNP_DTYPE_F16 ? nnp_f16_to_f32(h) : nnp_bf16_to_f32(h);
        }
        break;
    case NNP_DTYPE_F64:
        for (size_t i = 0; i < k; i++) {
            double v;
            memcpy(&v, buf + 8 * i, 8);
            out[i] = (float)v;
        }
        break;
    case NNP_DTYPE_BOOL: /* any nonzero byte is True, as in NumPy */
        for (size_t i = 0; i < k; i++)
            out[i] = (float)(buf[i] != 0) * o.scale + o.shift;
        break;
    INT_CASE(NNP_DTYPE_U8, uint8_t)
    INT_CASE(NNP_DTYPE_I8, int8_t)
    INT_CASE(NNP_DTYPE_U16, uint16_t)
    INT_CASE(NNP_DTYPE_I16, int16_t)
    INT_CASE(NNP_DTYPE_U32, uint32_t)
    INT_CASE(NNP_DTYPE_I32, int32_t)
    INT_CASE(NNP_DTYPE_U64, uint64_t)
    INT_CASE(NNP_DTYPE_I64, int64_t)
    default:
        NNP_ASSERT(0); /* refused by nnp_dataset_open() */
    }
#undef INT_CASE
}

/* Convert k raw elements to labels; `first` is the index of buf[0] for messages. */
static enum nnp_status convert_labels(const struct nnp_dataset *d, const unsigned char *buf,
                                      size_t k, int64_t first, int64_t *out)
{
    enum nnp_dtype t = d->dtype;
    for (size_t i = 0; i < k; i++) {
        const unsigned char *p = buf + i * nnp_dtype_size(t);
        double f = 0; /* float types: checked below */
        switch (t) {
        case NNP_DTYPE_BOOL: out[i] = *p != 0; continue;
        case NNP_DTYPE_U8: out[i] = *p; continue;
        case NNP_DTYPE_I8: out[i] = (int8_t)*p; continue;
#define INT_CASE(T, ctype)                                                                 \
    case T: {                                                                              \
        ctype v;                                                                           \
        memcpy(&v, p, sizeof v);                                                           \
        out[i] = (int64_t)v;                                                               \
        continue;                                                                          \
    }
        INT_CASE(NNP_DTYPE_U16, uint16_t)
        INT_CASE(NNP_DTYPE_I16, int16_t)
        INT_CASE(NNP_DTYPE_U32, uint32_t)
        INT_CASE(NNP_DTYPE_I32, int32_t)
        INT_CASE(NNP_DTYPE_I64, int64_t)
#undef INT_CASE
        case NNP_DTYPE_U64: {
            uint64_t v;
            memcpy(&v, p, 8);
            if (v > (uint64_t)INT64_MAX)
                return nnp_errorf(NNP_ERR_INVALID, "%s: label %" PRId64 " is %" PRIu64
                                  ", too large for a class index", d->path, first + (int64_t)i, v);
            out[i] = (int64_t)v;
            continue;
        }
        case NNP_DTYPE_F32: {
            float v;
            memcpy(&v, p, 4);
            f = v;
            break;
        }
        case NNP_DTYPE_F64: memcpy(&f, p, 8); break;
        case NNP_DTYPE_F16: {
            uint16_t h;
            memcpy(&h, p, 2);
            f = nnp_f16_to_f32(h);
            break;
        }
        case NNP_DTYPE_BF16: {
            uint16_t h;
            memcpy(&h, p, 2);
            f = nnp_bf16_to_f32(h);
            break;
        }
        default: NNP_ASSERT(0);
        }
        /* 2^53: beyond it doubles skip integers, and no class count comes near */
        if (!(f == floor(f) && fabs(f) <= 9007199254740992.0))
            return nnp_errorf(NNP_ERR_INVALID,
                              "%s: label %" PRId64 " is %g; labels must be whole numbers", d->path,
                              first + (int64_t)i, f);
        out[i] = (int64_t)f;
    }
    return NNP_OK;
}

/* The shared loop: n samples from the current position, through d->buf, converted
 * piece by piece into f32 or labels (exactly one is non-NULL). */
static enum nnp_status read_samples(struct nnp_dataset *d, int64_t n, float *f32, int64_t *labels,
                                    int64_t *got)
{
    NNP_ASSERT(n >= 0);
    *got = 0;
    if (d->broken)
        return nnp_errorf(NNP_ERR_INVALID, "%s: an earlier read failed; rewind first", d->path);
    int64_t left = d->dims[0] - d->pos;
    int64_t want = n < left ? n : left;
    size_t es = nnp_dtype_size(d->dtype);
    size_t per_chunk = sizeof d->buf / es;
    /* want * sample_numel <= the file's numel, which the readers checked */
    uint64_t total = (uint64_t)want * (uint64_t)d->sample_numel;
    uint64_t done = 0;
    while (done < total) {
        size_t k = total - done < per_chunk ? (size_t)(total - done) : per_chunk;
        enum nnp_status st = read_raw(d, k * es);
        if (st == NNP_OK) {
            if (f32)
                convert_f32(d->dtype, d->buf, k, d->opts, f32 + done);
            else
                st = convert_labels(d, d->buf, k, d->pos + (int64_t)done, labels + done);
        }
        if (st != NNP_OK) {
            d->broken = true;
            return st;
        }
        done += k;
    }
    d->pos += want;
    *got = want;
    return NNP_OK;
}

enum nnp_status nnp_dataset_read_f32(struct nnp_dataset *d, int64_t n, float *out, int64_t *got)
{
    return read_samples(d, n, out, NULL, got);
}

enum nnp_status nnp_dataset_read_labels(struct nnp_dataset *d, int64_t n, int64_t *out,
                                        int64_t *got)
{
    if (d->sample_numel != 1) {
        *got = 0;
        char shape[160];
        struct nnp_tensor t = {.rank = d->rank - 1};
        memcpy(t.dims, d->dims + 1, sizeof t.dims - sizeof t.dims[0]);
        return nnp_errorf(NNP_ERR_INVALID,
                          "%s: not a label file: each sample is %s, labels need one value per "
                          "sample",
                          d->path, nnp_tensor_shape_str(&t, shape, sizeof shape));
    }
    return read_samples(d, n, NULL, out, got);
}

enum nnp_status nnp_dataset_rewind(struct nnp_dataset *d)
{
    enum nnp_status st = NNP_OK;
    switch (d->src) {
    case SRC_NPY:
        if (fseek(d->npy, (long)d->npy_data_offset, SEEK_SET) != 0)
            st = nnp_errorf(NNP_ERR_IO, "%s: cannot rewind: %s", d->path, strerror(errno));
        break;
    case SRC_IDX:
        st = nnp_idx_stream_rewind(d->idx);
        break;
    case SRC_PB:
        d->pb_off = 0;
        break;
    }
    if (st == NNP_OK) {
        d->pos = 0;
        d->broken = false;
    }
    return st;
}

void nnp_dataset_close(struct nnp_dataset *d)
{
    if (!d)
        return;
    if (d->npy)
        fclose(d->npy);
    nnp_idx_close(d->idx);
    nnp_graph_free(d->pb_graph);
    free(d->path);
    free(d);
}
