/* tests/fuzz/fuzz_pipeline.c — the --passes parser on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct nnp_pipeline *p = NULL;
    if (nnp_pipeline_parse(text, &p) == NNP_OK)
        NNP_ASSERT(p != NULL);
    nnp_pipeline_free(p);
    free(text);
    return 0;
}
