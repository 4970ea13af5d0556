/* formats/dataset.h — streaming reader for the data `eval`, calibration and
 * distillation consume: samples along the first dimension of one file.
 *
 *     struct nnp_data_opts o = nnp_data_opts_default();   // uint8 x -> x / 255
 *     struct nnp_dataset *d;
 *     enum nnp_status st = nnp_dataset_open("t10k-images-idx3-ubyte.gz", &o, &d);
 *     if (st != NNP_OK)
 *         return st;                                       // message set, names the file
 *     int64_t dims[NNP_MAX_RANK];
 *     int rank = nnp_dataset_sample_shape(d, dims);       // 2: [28, 28]
 *     float *batch = malloc(64 * nnp_dataset_sample_numel(d) * sizeof *batch);
 *     int64_t got;
 *     while ((st = nnp_dataset_read_f32(d, 64, batch, &got)) == NNP_OK && got > 0)
 *         ... got samples of [28, 28] floats in batch ...
 *     nnp_dataset_close(d);                                // st: NNP_OK, or why a read failed
 *
 * Formats, told apart by their first bytes, not their names (the name only
 * picks the reader that explains what is wrong with a file of unknown magic):
 *   - .npy      "\x93NUMPY": the header is parsed, the data read with fread
 *   - IDX       00 00 <type> <rank> (MNIST family), plain
 *   - IDX.gz    1f 8b, decompressed as it is read
 *   - ONNX TensorProto `.pb` (by extension; no magic): loaded whole, these
 *     files are small (ONNX node-test inputs)
 *
 * Memory does not grow with the data set: a .npy or IDX file is read through
 * one fixed buffer, however many samples it holds. A file that is shorter or
 * longer than its header says is refused by nnp_dataset_open(), before any
 * work starts (for .gz this costs one decompression pass).
 *
 * Conversion to float32: integer and bool data become `x * scale + shift`
 * (default scale 1/255, shift 0: uint8 pixels to [0, 1]); float data
 * (float32/float16/bfloat16/float64) is passed through unchanged.
 */
#ifndef NNP_DATASET_H
#define NNP_DATASET_H

#include <stdint.h>

#include "kernels/dtype.h"
#include "kernels/graph.h" /* NNP_MAX_RANK */
#include "kernels/status.h"

/* How integer data becomes float32: x * scale + shift. Float data ignores it. */
struct nnp_data_opts {
    float scale;
    float shift;
};

/*! @return the default options: scale 1/255, shift 0. */
struct nnp_data_opts nnp_data_opts_default(void);

struct nnp_dataset; /* opaque */

/*! nnp_dataset_open() : open a data file of any supported format. `opts` may be
 *  NULL (defaults). @return NNP_OK and *out (close with nnp_dataset_close());
 *  or NNP_ERR_IO / NNP_ERR_FORMAT / NNP_ERR_UNSUPPORTED / NNP_ERR_NOMEM with a
 *  message starting with `path`; *out is then NULL. */
enum nnp_status nnp_dataset_open(const char *path, const struct nnp_data_opts *opts,
                                 struct nnp_dataset **out);

/*! @return the number of samples: the file's first dimension. */
int64_t nnp_dataset_count(const struct nnp_dataset *d);
/*! nnp_dataset_sample_shape() : the shape of one sample (the file's dims after
 *  the first) into dims[NNP_MAX_RANK]. @return its rank (0 for a file of scalars). */
int nnp_dataset_sample_shape(const struct nnp_dataset *d, int64_t *dims);
/*! @return the elements in one sample (1 for scalars). */
int64_t nnp_dataset_sample_numel(const struct nnp_dataset *d);
/*! @return the element type stored in the file. */
enum nnp_dtype nnp_dataset_dtype(const struct nnp_dataset *d);
/*! @return "npy", "idx", "idx.gz" or "pb". */
const char *nnp_dataset_format(const struct nnp_dataset *d);

/*! nnp_dataset_read_f32() : the next (up to) n samples as float32 into
 *  out[n * sample_numel]. *got is how many were read: fewer than n only at the
 *  end of the data, 0 once it is exhausted (still NNP_OK).
 *  @return NNP_OK, or NNP_ERR_IO / NNP_ERR_FORMAT if the file changed or failed
 *  under us; the reader must then be rewound before it is used again. */
enum nnp_status nnp_dataset_read_f32(struct nnp_dataset *d, int64_t n, float *out, int64_t *got);

/*! nnp_dataset_read_labels() : the next (up to) n samples as integer labels into
 *  out[n]: one value per sample (a label file: IDX labels, a .npy of ints).
 *  Integers and bools are taken as they are; floats must be whole numbers.
 *  @return as nnp_dataset_read_f32(), or NNP_ERR_INVALID (message set) if the
 *  samples are not single values or a value is not a valid label. */
enum nnp_status nnp_dataset_read_labels(struct nnp_dataset *d, int64_t n, int64_t *out,
                                        int64_t *got);

/*! nnp_dataset_rewind() : back to the first sample. */
enum nnp_status nnp_dataset_rewind(struct nnp_dataset *d);

/*! nnp_dataset_close() : close the file and free `d`; accepts NULL. */
void nnp_dataset_close(struct nnp_dataset *d);

#endif
