/* formats/idx.c — IDX files (MNIST family), plain or gzip, through zlib.
 *
 * zlib's gz* functions read plain files too ("transparent" mode), so one code
 * path serves both; whether the file is compressed only changes how we check
 * its length: plain files by their size, gzip files by decompressing them once.
 */
#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* zlib's own buffer; 128 KiB halves the read calls on the 26 MB training images
 * compared with the 8 KiB default, and is still small. */
#define IDX_GZ_BUFFER (128u * 1024)
/* The buffer the gzip length check decompresses through. */
#define IDX_SCAN_CHUNK (64u * 1024)

struct nnp_idx_stream {
    gzFile gz;
    char *path;             /* for messages */
    struct nnp_idx_header h;
    uint64_t pos;           /* data bytes consumed */
};

static enum nnp_dtype idx_type(unsigned code)
{
    switch (code) {
    case 0x08: return NNP_DTYPE_U8;
    case 0x09: return NNP_DTYPE_I8;
    case 0x0B: return NNP_DTYPE_I16;
    case 0x0C: return NNP_DTYPE_I32;
    case 0x0D: return NNP_DTYPE_F32;
    case 0x0E: return NNP_DTYPE_F64;
    default: return NNP_DTYPE_UNDEFINED;
    }
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

enum nnp_status nnp_idx_header_parse(const char *name, const void *buf, size_t size,
                                     struct nnp_idx_header *h)
{
    const unsigned char *b = buf;
    memset(h, 0, sizeof *h);
    if (size >= 2 && (b[0] != 0 || b[1] != 0)) {
        unsigned magic = 0;
        for (size_t i = 0; i < 4 && i < size; i++)
            magic |= (unsigned)b[i] << (24 - 8 * i);
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: not an IDX file (magic 0x%08x; IDX files start 00 00 <type> <rank>)",
                          name, magic);
    }
    if (size < 4)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: truncated IDX header: file ends after %zu bytes",
                          name, size);
    h->dtype = idx_type(b[2]);
    if (h->dtype == NNP_DTYPE_UNDEFINED)
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: unknown IDX element type 0x%02x (known: 0x08 uint8, 0x09 int8, "
                          "0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)",
                          name, b[2]);
    h->rank = b[3];
    if (h->rank == 0)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: IDX header has rank 0", name);
    if (h->rank > NNP_MAX_RANK)
        return nnp_errorf(NNP_ERR_UNSUPPORTED,
                          "%s: IDX data of rank %d is not supported (at most %d dimensions)", name,
                          h->rank, NNP_MAX_RANK);
    h->data_offset = 4 + 4 * (uint64_t)h->rank;
    if (size < h->data_offset)
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: truncated IDX header: %d dims need %" PRIu64
                          " bytes, file ends after %zu",
                          name, h->rank, h->data_offset, size);
    for (int i = 0; i < h->rank; i++)
        h->dims[i] = be32(b + 4 + 4 * i);
    int64_t numel = nnp_shape_numel(h->rank, h->dims);
    size_t es = nnp_dtype_size(h->dtype);
    if (numel < 0 || (uint64_t)numel > (uint64_t)INT64_MAX / es ||
        (uint64_t)numel * es > SIZE_MAX)
        return nnp_errorf(NNP_ERR_FORMAT, "%s: IDX dims are too large: their product overflows",
                          name);
    h->numel = numel;
    h->data_nbytes = (uint64_t)numel * es;
    return NNP_OK;
}

/* "10000 images of 28x28", "10000 labels", "5 samples of 3x4 float32" */
static const char *describe(const struct nnp_idx_header *h, char *buf, size_t size)
{
    size_t n;
    if (h->rank == 1)
        n = (size_t)snprintf(buf, size, "%" PRId64 " %s", h->dims[0],
                             h->dtype == NNP_DTYPE_U8 ? "labels" : "values");
    else
        n = (size_t)snprintf(buf, size, "%" PRId64 " %s of ", h->dims[0],
                             h->rank == 3 ? "images" : "samples");
    for (int i = 1; i < h->rank && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, i > 1 ? "x" : "", h->dims[i]);
    if (h->dtype != NNP_DTYPE_U8 && n < size)
        snprintf(buf + n, size - n, " %s", nnp_dtype_name(h->dtype));
    return buf;
}

static enum nnp_status truncated(const char *path, const struct nnp_idx_header *h, uint64_t have,
                                 const char *why)
{
    char what[160];
    return nnp_errorf(NNP_ERR_FORMAT,
                      "%s: truncated: header says %s, file ends after %" PRIu64
                      " bytes of data%s",
                      path, describe(h, what, sizeof what), have, why);
}

/* Read up to n bytes. @return bytes read; on a zlib error, sets *st. A gzip stream
 * that stops mid-way is not an error here (*cut is set): the caller reports it
 * as a truncation, in terms of the data it expected. */
static size_t gz_read_some(gzFile gz, const char *path, void *dst, size_t n, int *cut,
                           enum nnp_status *st)
{
    size_t got = 0;
    *st = NNP_OK;
    while (got < n) {
        size_t chunk = n - got < (size_t)INT_MAX ? n - got : (size_t)INT_MAX;
        int k = gzread(gz, (char *)dst + got, (unsigned)chunk);
        if (k < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            if (err == Z_ERRNO)
                *st = nnp_errorf(NNP_ERR_IO, "%s: read error: %s", path, strerror(errno));
            else
                *st = nnp_errorf(NNP_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
            return got;
        }
        if (k == 0) {
            int err;
            gzerror(gz, &err);
            if (err == Z_BUF_ERROR) /* "unexpected end of file" */
                *cut = 1;
            break;
        }
        got += (size_t)k;
    }
    return got;
}

static void swap_bytes(void *data, size_t nbytes, size_t es)
{
    unsigned char *p = data;
    for (size_t i = 0; i + es <= nbytes; i += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* Decompress everything after the header, counting bytes, and compare the
 * count with what the header says. Stops early once there is too much. */
static enum nnp_status check_gzip_length(struct nnp_idx_stream *s)
{
    unsigned char *buf = malloc(IDX_SCAN_CHUNK);
    if (!buf)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", s->path);
    uint64_t have = 0;
    int cut = 0;
    enum nnp_status st = NNP_OK;
    for (;;) {
        size_t k = gz_read_some(s->gz, s->path, buf, IDX_SCAN_CHUNK, &cut, &st);
        have += k;
        if (st != NNP_OK || k < IDX_SCAN_CHUNK || have > s->h.data_nbytes)
            break;
    }
    free(buf);
    if (st != NNP_OK)
        return st;
    if (have < s->h.data_nbytes)
        return truncated(s->path, &s->h, have, cut ? " (the gzip stream is cut short)" : "");
    if (have > s->h.data_nbytes) {
        char what[160];
        return nnp_errorf(NNP_ERR_FORMAT, "%s: more data than the header's %s", s->path,
                          describe(&s->h, what, sizeof what));
    }
    if (cut)
        return nnp_errorf(NNP_ERR_FORMAT,
                          "%s: the gzip stream is cut short (its end and checksum are missing)",
                          s->path);
    return NNP_OK;
}

enum nnp_status nnp_idx_open(const char *path, struct nnp_idx_header *h,
                             struct nnp_idx_stream **out)
{
    enum nnp_status st;
    *out = NULL;
    memset(h, 0, sizeof *h);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return nnp_errorf(NNP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nnp_errorf(NNP_ERR_IO, "%s: not a regular file", path);
    }
    unsigned char magic[2];
    int gzip = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;

    struct nnp_idx_stream *s = calloc(1, sizeof *s);
    char *name = s ? malloc(strlen(path) + 1) : NULL;
    gzFile gz = name ? gzdopen(fd, "rb") : NULL;
    if (!gz) {
        close(fd);
        free(name);
        free(s);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(name, path);
    s->gz = gz;
    s->path = name;
    gzbuffer(gz, IDX_GZ_BUFFER);

    /* the first 4 bytes tell the rank, the rank how long the header is */
    unsigned char head[4 + 4 * NNP_MAX_RANK];
    int cut = 0;
    size_t n = gz_read_some(gz, path, head, 4, &cut, &st);
    if (st != NNP_OK)
        goto fail;
    if (gzip && n >= 4 && memcmp(head, "\x93NUM", 4) == 0) {
        st = nnp_errorf(NNP_ERR_UNSUPPORTED,
                        "%s: a gzip-compressed .npy file; decompress it first (gunzip)", path);
        goto fail;
    }
    if (n == 4 && head[3] >= 1 && head[3] <= NNP_MAX_RANK) {
        n += gz_read_some(gz, path, head + 4, 4 * (size_t)head[3], &cut, &st);
        if (st != NNP_OK)
            goto fail;
    }
    /* reports a bad magic, type or rank, and a header cut short */
    if ((st = nnp_idx_header_parse(path, head, n, &s->h)) != NNP_OK)
        goto fail;
    s->h.gzip = gzip;

    if (gzip) {
        if ((st = check_gzip_length(s)) != NNP_OK)
            goto fail;
        if ((st = nnp_idx_stream_rewind(s)) != NNP_OK)
            goto fail;
    } else {
        uint64_t have = (uint64_t)sb.st_size - s->h.data_offset;
        if (have < s->h.data_nbytes) {
            st = truncated(path, &s->h, have, "");
            goto fail;
        }
        if (have > s->h.data_nbytes) {
            char what[160];
            st = nnp_errorf(NNP_ERR_FORMAT, "%s: %" PRIu64 " bytes after the header's %s", path,
                            have - s->h.data_nbytes, describe(&s->h, what, sizeof what));
            goto fail;
        }
    }
    *h = s->h;
    *out = s;
    return NNP_OK;

fail:
    nnp_idx_close(s);
    return st;
}

enum nnp_status nnp_idx_stream_read(struct nnp_idx_stream *s, void *dst, size_t nbytes)
{
    size_t es = nnp_dtype_size(s->h.dtype);
    NNP_ASSERT(nbytes % es == 0);
    if (nbytes > s->h.data_nbytes - s->pos)
        return nnp_errorf(NNP_ERR_INVALID, "%s: read past the end of the data", s->path);
    int cut = 0;
    enum nnp_status st;
    size_t got = gz_read_some(s->gz, s->path, dst, nbytes, &cut, &st);
    s->pos += got;
    if (st != NNP_OK)
        return st;
    if (got < nbytes) /* the file changed since nnp_idx_open() measured it */
        return truncated(s->path, &s->h, s->pos, cut ? " (the gzip stream is cut short)" : "");
    if (es > 1)
        swap_bytes(dst, nbytes, es);
    return NNP_OK;
}

enum nnp_status nnp_idx_stream_rewind(struct nnp_idx_stream *s)
{
    /* gzseek on a compressed file re-reads from the start: cheap next to a pass
     * over the data, which is what a rewind precedes */
    if (gzrewind(s->gz) != 0 || gzseek(s->gz, (z_off_t)s->h.data_offset, SEEK_SET) < 0) {
        int err;
        const char *msg = gzerror(s->gz, &err);
        return nnp_errorf(NNP_ERR_IO, "%s: cannot rewind: %s", s->path,
                          err == Z_ERRNO ? strerror(errno) : msg);
    }
    s->pos = 0;
    return NNP_OK;
}

void nnp_idx_close(struct nnp_idx_stream *s)
{
    if (!s)
        return;
    if (s->gz)
        gzclose(s->gz);
    free(s->path);
    free(s);
}

enum nnp_status nnp_idx_read(const char *path, struct nnp_array *out)
{
    memset(out, 0, sizeof *out);
    struct nnp_idx_header h;
    struct nnp_idx_stream *s;
    enum nnp_status st = nnp_idx_open(path, &h, &s);
    if (st != NNP_OK)
        return st;
    /* nnp_idx_open counted the data, so this allocation is backed by real bytes */
    size_t nbytes = (size_t)h.data_nbytes;
    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) {
        nnp_idx_close(s);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory for %zu bytes of data", path, nbytes);
    }
    st = nnp_idx_stream_read(s, data, nbytes);
    nnp_idx_close(s);
    if (st != NNP_OK) {
        free(data);
        return st;
    }
    out->dtype = h.dtype;
    out->rank = h.rank;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->data = data;
    out->nbytes = nbytes;
    return NNP_OK;
}
