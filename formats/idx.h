/* formats/idx.h — IDX files, the format of MNIST and Fashion-MNIST, plain or gzip.
 *
 *     struct nnp_array a = {0};
 *     if (nnp_idx_read("t10k-labels-idx1-ubyte.gz", &a) == NNP_OK)   // uint8 [10000]
 *         printf("first label %d\n", ((uint8_t *)a.data)[0]);
 *     nnp_array_free(&a);
 *
 * Byte layout (all integers big-endian):
 *
 *     offset   size      field
 *     0        2         zero
 *     2        1         element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 *                        0x0D float32, 0x0E float64
 *     3        1         rank r (1 ... NNP_MAX_RANK here)
 *     4        4 r       dims, uint32 each: [N] labels, [N, 28, 28] images
 *     4 + 4 r  ...       prod(dims) elements, big-endian, row-major
 *
 * The whole file may be gzip-compressed (".gz"); that is told by the gzip magic
 * bytes 1f 8b, not by the name. Data is returned in host (little-endian) order.
 */
#ifndef NNP_IDX_H
#define NNP_IDX_H

#include <stdint.h>

#include "array.h"
#include "kernels/status.h"

/* What the header of an IDX file says. */
struct nnp_idx_header {
    enum nnp_dtype dtype;
    int rank;                   /* >= 1 */
    int64_t dims[NNP_MAX_RANK]; /* (rank) */
    int64_t numel;              /* product of dims */
    uint64_t data_offset;       /* 4 + 4 * rank, in the uncompressed bytes */
    uint64_t data_nbytes;       /* numel * element size */
    int gzip;                   /* 1 if the file is gzip-compressed */
};

/*! nnp_idx_read() : read a whole IDX or IDX.gz file into `out` (overwritten;
 *  zeroed on failure). @return NNP_OK, NNP_ERR_IO, NNP_ERR_FORMAT (bad magic,
 *  unknown type, truncated, trailing bytes, corrupt gzip), NNP_ERR_UNSUPPORTED
 *  (rank above NNP_MAX_RANK) or NNP_ERR_NOMEM, with a message naming `path`. */
enum nnp_status nnp_idx_read(const char *path, struct nnp_array *out);

/*! nnp_idx_header_parse() : parse the header at the start of `buf` (size bytes of
 *  uncompressed IDX). `name` is for messages. Checks magic, type, rank, and that
 *  the data size fits in int64 and size_t; not the data. */
enum nnp_status nnp_idx_header_parse(const char *name, const void *buf, size_t size,
                                     struct nnp_idx_header *h);

/* Streaming access, for data sets larger than one wants in memory. */
struct nnp_idx_stream;

/*! nnp_idx_open() : open `path`, parse the header and check that the file holds
 *  exactly the data it describes (for gzip this decompresses the file once,
 *  through a fixed buffer, so that a truncated or corrupt file is refused
 *  before any work starts rather than in the middle of it). On success *out is
 *  positioned at the first element; free it with nnp_idx_close(). */
enum nnp_status nnp_idx_open(const char *path, struct nnp_idx_header *h,
                             struct nnp_idx_stream **out);
/*! nnp_idx_stream_read() : the next `nbytes` bytes of data (a whole number of
 *  elements), converted to host byte order. Asking past the end is an error. */
enum nnp_status nnp_idx_stream_read(struct nnp_idx_stream *s, void *dst, size_t nbytes);
/*! nnp_idx_stream_rewind() : back to the first element. */
enum nnp_status nnp_idx_stream_rewind(struct nnp_idx_stream *s);
/*! nnp_idx_close() : close the file and free `s`; accepts NULL. */
void nnp_idx_close(struct nnp_idx_stream *s);

#endif
