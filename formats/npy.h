/* formats/npy.h — NumPy .npy files, read and written.
 *
 *     struct nnp_array a = {0};
 *     if (nnp_npy_read("weights.npy", &a) != NNP_OK)
 *         fprintf(stderr, "nnpress: error: %s\n", nnp_error_message());
 *     nnp_npy_write("copy.npy", &a);               // atomic: temp file + rename
 *     nnp_array_free(&a);
 *
 * Byte layout (numpy.lib.format):
 *
 *     offset  size  field
 *     0       6     magic "\x93NUMPY"
 *     6       1     major version: 1, 2 or 3
 *     7       1     minor version: 0
 *     8       2|4   header length L, little-endian: 2 bytes in 1.0, 4 bytes in 2.0 and 3.0
 *     10|12   L     header: a Python dict literal, ASCII (3.0: UTF-8), padded with
 *                   spaces and ended by '\n' so that the data starts 64-byte aligned:
 *                   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *     10+L|12+L     data: prod(shape) elements, row-major when fortran_order is False
 *
 * Supported descr: '<f4' '<f2' '<f8' '|i1' '|u1' '<i2' '<u2' '<i4' '<u4' '<i8'
 * '<u8' '|b1' (and '=' for '<' on this little-endian host). Big-endian data,
 * Fortran-order arrays of rank >= 2 and structured or object dtypes are refused
 * with a message saying how to re-save the file.
 */
#ifndef NNP_NPY_H
#define NNP_NPY_H

#include <stdint.h>
#include <stdio.h>

#include "array.h"
#include "kernels/status.h"

/* What the header of a .npy file says. */
struct nnp_npy_header {
    int version;                /* major version: 1, 2 or 3 */
    enum nnp_dtype dtype;
    int rank;                   /* 0: a scalar */
    int64_t dims[NNP_MAX_RANK]; /* (rank) */
    int64_t numel;              /* product of dims */
    uint64_t data_offset;       /* bytes before the first element */
    uint64_t data_nbytes;       /* numel * element size */
};

/*! nnp_npy_read() : read a whole .npy file into `out` (which it overwrites; on
 *  failure `out` is zeroed). @return NNP_OK, or NNP_ERR_IO / NNP_ERR_FORMAT /
 *  NNP_ERR_UNSUPPORTED / NNP_ERR_NOMEM with a message naming `path`. */
enum nnp_status nnp_npy_read(const char *path, struct nnp_array *out);

/*! nnp_npy_write() : write `a` as a version 1.0 .npy file, byte for byte what
 *  NumPy 1.24's np.save writes for the same array. The file appears complete
 *  or not at all: the bytes go to a temporary file in the same folder, renamed
 *  over `path` at the end. @return NNP_OK, NNP_ERR_IO, or NNP_ERR_INVALID /
 *  NNP_ERR_UNSUPPORTED for an array that has no .npy form. */
enum nnp_status nnp_npy_write(const char *path, const struct nnp_array *a);

/*! nnp_npy_header_parse() : parse the header at the start of `buf` (size bytes:
 *  the file's first bytes, at least up to the end of the header). `name` is
 *  used in messages only. Checks magic, version, header length, the dict,
 *  the dtype and that the data size fits in int64 and size_t; it does not
 *  check the data itself (nnp_npy_open does). */
enum nnp_status nnp_npy_header_parse(const char *name, const void *buf, size_t size,
                                     struct nnp_npy_header *h);

/*! nnp_npy_open() : open `path`, parse its header, check that the file holds
 *  exactly the data the header describes, and return it in *f positioned at
 *  the first data byte (the caller fcloses it). For reading large files in
 *  pieces (formats/dataset.c). */
enum nnp_status nnp_npy_open(const char *path, struct nnp_npy_header *h, FILE **f);

/*! nnp_npy_descr() : the descr string NumPy uses for `t` ("<f4"), NULL if `t`
 *  has no .npy form here. */
const char *nnp_npy_descr(enum nnp_dtype t);

#endif
