/* cmd/blas_env.c — OPENBLAS_CORETYPE before OpenBLAS loads (see blas_env.h). */
#include "cmd/blas_env.h"

#include <stdlib.h>
#include <unistd.h>

const char *cli_blas_coretype(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* the most capable kernel the CPU runs: 0.3.21's SkylakeX kernel is its AVX-512 one,
     * Haswell its AVX2 one; anything older is left to OpenBLAS's own probe */
    if (__builtin_cpu_supports("avx512f"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2"))
        return "Haswell";
#endif
    return NULL;
}

void cli_blas_env(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return; /* set by the user, or by ourselves before the re-exec */
    const char *core = cli_blas_coretype();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
        return;
    /* the runtime has its own thread pool and runs OpenBLAS on one thread: without this
     * OpenBLAS would start (and keep) a thread per core of its own when it loads */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    execv("/proc/self/exe", argv);
    /* no /proc (or exec refused): go on with the kernel the library guessed */
}
