/* formats/zstd.h — zstd compression, for sizes in the report (and, with roadmap
 * step 4, the chunks of the .nnp container).
 *
 *     uint64_t n;
 *     if (nnp_zstd_size(buf, len, NNP_ZSTD_LEVEL, &n) == NNP_OK) printf("%llu\n", n);
 */
#ifndef NNP_FORMATS_ZSTD_H
#define NNP_FORMATS_ZSTD_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* zstd's own default: the report's "zstd bytes" are what `zstd FILE` would give. */
#define NNP_ZSTD_LEVEL 3

/*! nnp_zstd_size() : compress `data` and report the compressed size only.
 *  @return NNP_OK, or NNP_ERR_NOMEM / NNP_ERR_IO with a message. */
enum nnp_status nnp_zstd_size(const void *data, size_t size, int level, uint64_t *out);

/*! @return the zstd library version, "1.5.4". */
const char *nnp_zstd_version(void);

#endif
