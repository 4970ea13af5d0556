/* formats/zstd.c — zstd through libzstd. */
#include "zstd.h"

#include <stdlib.h>
#include <zstd.h>

enum nnp_status nnp_zstd_size(const void *data, size_t size, int level, uint64_t *out)
{
    size_t cap = ZSTD_compressBound(size);
    void *buf = malloc(cap ? cap : 1);
    if (!buf)
        return nnp_errorf(NNP_ERR_NOMEM, "cannot allocate %zu bytes for zstd", cap);
    size_t n = ZSTD_compress(buf, cap, data, size, level);
    free(buf);
    if (ZSTD_isError(n))
        return nnp_errorf(NNP_ERR_IO, "zstd: %s", ZSTD_getErrorName(n));
    *out = n;
    return NNP_OK;
}

const char *nnp_zstd_version(void)
{
    return ZSTD_versionString();
}
