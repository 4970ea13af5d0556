/* kernels/blas.c — the few OpenBLAS controls the runtime needs, in one place so
 * that only this file includes <cblas.h> for them.
 *
 * The kernel OpenBLAS runs is chosen when the library loads: from the
 * OPENBLAS_CORETYPE environment variable if set, else by probing the CPU.
 * Debian's 0.3.21 does not know recent CPUs and may guess a slower kernel
 * (PERF-NOTES.md), so cmd/ sets the variable before the library loads and
 * reports show the choice made (nnp_blas_corename). */
#include "kernels/runtime.h"

#include <cblas.h>

const char *nnp_blas_corename(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

void nnp_blas_threads(int n)
{
    /* openblas_set_num_threads() wakes or parks its thread pool; calling it with an
     * unchanged count on every plan would be wasted work (and is not free). */
    static int current = -1; /* the pool is process-wide, and so is this */
    if (n < 1)
        n = 1;
    if (n == current)
        return;
    openblas_set_num_threads(n);
    current = n;
}
