/* formats/file.c — whole-file reads and atomic writes (POSIX). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum nnp_status nnp_file_read_all(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return nnp_errorf(NNP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return nnp_errorf(NNP_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return nnp_errorf(NNP_ERR_IO, "%s: is a directory, not a file", path);
    }
    /* the size from fstat is only a hint: a pipe says 0, a growing file says too little */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size >= SIZE_MAX) {
        close(fd);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: too large to read into memory", path);
    }
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return nnp_errorf(NNP_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, cap);
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            size_t new_cap = cap < SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
            uint8_t *p = new_cap > cap ? realloc(buf, new_cap) : NULL;
            if (!p) {
                free(buf);
                close(fd);
                return nnp_errorf(NNP_ERR_NOMEM, "%s: too large to read into memory", path);
            }
            buf = p;
            cap = new_cap;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return nnp_errorf(NNP_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    *data = buf;
    *size = n;
    return NNP_OK;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        /* large single writes are split: some systems refuse counts above 2 GiB */
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

enum nnp_status nnp_file_write_atomic(const char *path, const void *data, size_t size)
{
    static const char suffix[] = ".tmpXXXXXX";
    size_t len = strlen(path);
    char *tmp = malloc(len + sizeof suffix);
    if (!tmp)
        return nnp_errorf(NNP_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, suffix, sizeof suffix);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return nnp_errorf(NNP_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                          strerror(e));
    }
    /* mkstemp gives 0600; an output file should get what creat() would give it. Reading the
     * umask means setting it; the CLI is single-threaded when it writes outputs. */
    mode_t mask = umask(0);
    umask(mask);
    const char *what = NULL;
    int e = 0;
    if (fchmod(fd, 0666 & ~mask) != 0)
        what = "cannot set permissions of", e = errno;
    else if (write_full(fd, data, size) != 0)
        what = "cannot write", e = errno;
    if (close(fd) != 0 && !what)
        what = "cannot write", e = errno;
    if (!what && rename(tmp, path) != 0)
        what = "cannot replace", e = errno;
    if (what) {
        unlink(tmp);
        free(tmp);
        return nnp_errorf(NNP_ERR_IO, "%s: %s the file: %s", path, what,
                          e ? strerror(e) : "short write");
    }
    free(tmp);
    return NNP_OK;
}

int nnp_file_same(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
