/* formats/file.h — whole-file reads and all-or-nothing writes.
 *
 *     uint8_t *buf; size_t n;
 *     if (nnp_file_read_all("model.onnx", &buf, &n) != NNP_OK) return st;  // message set
 *     ...
 *     free(buf);
 *     if (nnp_file_same(in, out)) ...                     // refuse to overwrite the input
 *     st = nnp_file_write_atomic("out.onnx", data, size); // out.onnx complete, or untouched
 *
 * Every error message starts with the path, as cmd/ prints it after "nnpress: error: ".
 */
#ifndef NNP_FILE_H
#define NNP_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/*! nnp_file_read_all() : read the whole of `path` into memory.
 *  Works for regular files and for pipes (read until end of file).
 *  @return NNP_OK with *data (malloc'd, caller frees; never NULL, even for an
 *  empty file) and *size set; NNP_ERR_IO for a missing, unreadable or
 *  directory path; NNP_ERR_NOMEM if the file does not fit in memory. On error
 *  *data is NULL. */
enum nnp_status nnp_file_read_all(const char *path, uint8_t **data, size_t *size);

/*! nnp_file_write_atomic() : replace `path` by `size` bytes at `data`.
 *  The bytes go to a temporary file in the same folder (`<path>.tmpXXXXXX`),
 *  which is then renamed over `path`, so a reader sees the old file or the
 *  complete new one, never a partial one. The new file gets the usual
 *  permissions (0666 minus the umask). On any failure the temporary file is
 *  removed and `path` is left as it was.
 *  @return NNP_OK or NNP_ERR_IO (message names `path` and the reason). */
enum nnp_status nnp_file_write_atomic(const char *path, const void *data, size_t size);

/*! nnp_file_same() : do `a` and `b` name the same file (same device and inode,
 *  so hard links and `./x` vs `x` count as the same)?
 *  @return 1 if both exist and are the same file, 0 otherwise. */
int nnp_file_same(const char *a, const char *b);

#endif
