/* kernels/status.h — how every nnpress library function reports failure.
 *
 *     enum nnp_status st = nnp_onnx_read(path, &g);
 *     if (st != NNP_OK) fprintf(stderr, "nnpress: error: %s\n", nnp_error_message());
 *
 * A function that fails records one message (file, node, what was expected,
 * what was found) with nnp_errorf() and returns the status; callers pass the
 * status up unchanged. Only cmd/ prints the message or exits. Programmer bugs
 * are not statuses: they hit NNP_ASSERT, which stays on in release builds.
 */
#ifndef NNP_STATUS_H
#define NNP_STATUS_H

enum nnp_status {
    NNP_OK = 0,
    NNP_ERR_IO,          /* a file could not be opened, read or written */
    NNP_ERR_FORMAT,      /* malformed input: truncated, hostile or inconsistent bytes */
    NNP_ERR_INVALID,     /* well-formed but invalid: undefined input, cycle, bad attribute */
    NNP_ERR_UNSUPPORTED, /* valid, but nnpress cannot do it (yet) */
    NNP_ERR_NOMEM,       /* a large allocation was refused */
    NNP_ERR_USAGE,       /* bad option, pipeline or argument: exit code 2 */
    NNP_ERR_GATE,        /* a quality gate failed: exit code 3 */
};

/*! nnp_errorf() : record `fmt` as the current error message.
 *  @return st, so that `return nnp_errorf(NNP_ERR_FORMAT, "%s: ...", path);` reads naturally. */
enum nnp_status nnp_errorf(enum nnp_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*! nnp_error_message() : the last message recorded on this thread ("" if none). */
const char *nnp_error_message(void);

/*! nnp_error_prefix() : put `prefix: ` in front of the current message; used by a
 *  caller that knows context the callee did not (the file, the node). */
void nnp_error_prefix(const char *prefix);

/*! nnp_exit_code() : the process exit code DESIGN.md assigns to a status. */
int nnp_exit_code(enum nnp_status st);

/* Always-on assertion for programmer errors, never for user input. */
#define NNP_ASSERT(cond)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            nnp_assert_fail(#cond, __FILE__, __LINE__);                                    \
    } while (0)

_Noreturn void nnp_assert_fail(const char *cond, const char *file, int line);

#endif
