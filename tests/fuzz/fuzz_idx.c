/* tests/fuzz/fuzz_idx.c — the IDX header parser on arbitrary bytes. */
#include <stdint.h>

#include "formats/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nnp_idx_header h;
    nnp_idx_header_parse("fuzz", data, size, &h);
    return 0;
}
