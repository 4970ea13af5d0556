/* tests/fuzz/fuzz_onnx.c — the ONNX reader on arbitrary bytes. Besides not
 * crashing: whatever it accepts must survive write -> read as the same IR. */
#include <stdint.h>
#include <stdlib.h>

#include "formats/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nnp_graph *g = NULL;
    /* a folder that does not exist: external data references fail cleanly */
    if (nnp_onnx_read_buffer(data, size, "/nonexistent-nnpress-fuzz", "fuzz", &g) != NNP_OK)
        return 0;
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (nnp_onnx_serialize(g, &bytes, &n) == NNP_OK) {
        struct nnp_graph *g2 = NULL;
        enum nnp_status st = nnp_onnx_read_buffer(bytes, n, "/nonexistent-nnpress-fuzz", "fuzz", &g2);
        NNP_ASSERT(st == NNP_OK);
        NNP_ASSERT(nnp_graph_equal(g, g2));
        nnp_graph_free(g2);
    }
    free(bytes);
    nnp_graph_free(g);
    return 0;
}
