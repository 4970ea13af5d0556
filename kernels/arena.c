/* kernels/arena.c — a bump allocator over a list of blocks. */
#include "kernels/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)
#define ARENA_ALIGN 64

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    /* data follows, aligned */
};

struct nnp_arena {
    struct block *head; /* the block small allocations are carved from */
    struct block *big;  /* blocks holding one large allocation each */
    size_t total;       /* bytes of every block */
    size_t limit;       /* nnp_arena_alloc_big() refuses to take total past this; 0 = none */
};

/* Header rounded up so the data starts aligned. */
#define HDR (((sizeof(struct block) + ARENA_ALIGN - 1) / ARENA_ALIGN) * ARENA_ALIGN)

static struct block *block_new(size_t size)
{
    if (size > SIZE_MAX - HDR - ARENA_ALIGN)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, ARENA_ALIGN, HDR + size) != 0)
        return NULL;
    struct block *b = p;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct nnp_arena *nnp_arena_new(void)
{
    struct nnp_arena *a = calloc(1, sizeof *a);
    if (!a) {
        fputs("nnpress: error: out of memory\n", stderr);
        abort();
    }
    return a;
}

void nnp_arena_free(struct nnp_arena *a)
{
    if (!a)
        return;
    for (int pass = 0; pass < 2; pass++) {
        struct block *b = pass ? a->big : a->head;
        while (b) {
            struct block *next = b->next;
            free(b);
            b = next;
        }
    }
    free(a);
}

void nnp_arena_set_limit(struct nnp_arena *a, size_t max_bytes)
{
    a->limit = max_bytes;
}

/* `limited`: the caller sized it by input and handles NULL; bookkeeping is not limited
 * (nnp_arena_alloc aborts on NULL), so a limit never turns into an abort. */
static void *arena_alloc(struct nnp_arena *a, size_t size, bool limited)
{
    if (size == 0)
        size = 1;
    /* small pieces are packed at 16 bytes (enough for any scalar); large ones
     * get their own 64-byte-aligned block */
    size_t align = size > ARENA_BLOCK / 4 ? ARENA_ALIGN : 16;
    size_t need = (size + align - 1) & ~(size_t)(align - 1);
    if (need < size)
        return NULL;
    bool fits_head = a->head && a->head->size - a->head->used >= need;
    size_t grow = need > ARENA_BLOCK / 4 ? need : fits_head ? 0 : ARENA_BLOCK;
    if (limited && a->limit && (grow > a->limit || a->total > a->limit - grow))
        return NULL;
    if (need > ARENA_BLOCK / 4) {
        struct block *b = block_new(need);
        if (!b)
            return NULL;
        b->next = a->big;
        a->big = b;
        a->total += need;
        memset((char *)b + HDR, 0, need);
        return (char *)b + HDR;
    }
    if (!a->head || a->head->size - a->head->used < need) {
        struct block *b = block_new(ARENA_BLOCK);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
        a->total += ARENA_BLOCK;
        memset((char *)b + HDR, 0, ARENA_BLOCK);
    }
    void *p = (char *)a->head + HDR + a->head->used;
    a->head->used += need;
    return p;
}

void *nnp_arena_alloc_big(struct nnp_arena *a, size_t size)
{
    return arena_alloc(a, size, true);
}

void *nnp_arena_alloc(struct nnp_arena *a, size_t size)
{
    void *p = arena_alloc(a, size, false);
    if (!p) {
        fputs("nnpress: error: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *nnp_arena_strndup(struct nnp_arena *a, const char *s, size_t n)
{
    char *d = nnp_arena_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    return d;
}

char *nnp_arena_strdup(struct nnp_arena *a, const char *s)
{
    return s ? nnp_arena_strndup(a, s, strlen(s)) : NULL;
}

void *nnp_arena_memdup(struct nnp_arena *a, const void *p, size_t n)
{
    if (n == 0)
        return NULL;
    void *d = nnp_arena_alloc_big(a, n);
    if (d)
        memcpy(d, p, n);
    return d;
}

size_t nnp_arena_bytes(const struct nnp_arena *a)
{
    return a ? a->total : 0;
}
