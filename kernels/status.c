/* kernels/status.c — the one error message per thread. */
#include "kernels/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 KiB holds a path, a node name and a sentence; longer messages are cut, never overrun. */
static _Thread_local char error_message[1024];

enum nnp_status nnp_errorf(enum nnp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return st;
}

const char *nnp_error_message(void)
{
    return error_message;
}

void nnp_error_prefix(const char *prefix)
{
    char old[sizeof error_message];
    memcpy(old, error_message, sizeof old);
    size_t k = strlen(prefix);
    if (k > sizeof error_message - 3)
        k = sizeof error_message - 3;
    memcpy(error_message, prefix, k);
    memcpy(error_message + k, ": ", 2);
    /* the old message is cut to what still fits */
    size_t rest = sizeof error_message - k - 3;
    size_t n = strnlen(old, rest);
    memcpy(error_message + k + 2, old, n);
    error_message[k + 2 + n] = '\0';
}

int nnp_exit_code(enum nnp_status st)
{
    switch (st) {
    case NNP_OK: return 0;
    case NNP_ERR_USAGE: return 2;
    case NNP_ERR_GATE: return 3;
    default: return 1;
    }
}

void nnp_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "nnpress: internal error: %s:%d: assertion '%s' failed\n", file, line, cond);
    abort();
}
