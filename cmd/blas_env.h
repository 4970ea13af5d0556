/* cmd/blas_env.h — make OpenBLAS pick the right kernel for this CPU.
 *
 *     int main(int argc, char **argv) {
 *         cli_blas_env(argv);       // may re-exec the program once; returns otherwise
 *         ...
 *
 * OpenBLAS chooses its kernel when the library loads, before main(): from
 * OPENBLAS_CORETYPE if set, else by probing the CPU, which Debian's 0.3.21
 * gets wrong on CPUs newer than it (a Zen 5 came back "Haswell", at half the
 * speed; see PERF-NOTES.md). Setting the variable in main() is too late for the
 * library already loaded, so the program runs itself again with it set.
 */
#ifndef NNP_CMD_BLAS_ENV_H
#define NNP_CMD_BLAS_ENV_H

/*! @return the OPENBLAS_CORETYPE this CPU should get ("SkylakeX" with AVX-512F,
 *  "Haswell" with AVX2), or NULL to leave the choice to OpenBLAS. */
const char *cli_blas_coretype(void);

/*! When OPENBLAS_CORETYPE is unset and cli_blas_coretype() has an answer: set it
 *  and re-execute /proc/self/exe with the same argv. The variable being set is
 *  what stops a second re-exec. Returns when nothing was done or exec failed
 *  (the run goes on with OpenBLAS's own guess). */
void cli_blas_env(char **argv);

#endif
