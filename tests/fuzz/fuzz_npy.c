/* tests/fuzz/fuzz_npy.c — the .npy header parser on arbitrary bytes. */
#include <stdint.h>

#include "formats/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nnp_npy_header h;
    nnp_npy_header_parse("fuzz", data, size, &h);
    return 0;
}
