/* kernels/arena.h — one owner for many allocations, freed at once.
 *
 *     struct nnp_arena *a = nnp_arena_new();
 *     char *name = nnp_arena_strdup(a, "conv1");
 *     float *w = nnp_arena_alloc_big(a, n * sizeof *w);  // NULL if refused
 *     nnp_arena_free(a);                                  // frees both
 *
 * Small allocations (names, nodes, attribute lists) come from 64 KiB blocks;
 * an allocation larger than a quarter block gets a block of its own, so that
 * weights do not waste the tail of a shared block. All memory is zeroed; large
 * allocations are aligned to 64 bytes (any SIMD load), small ones to 16.
 */
#ifndef NNP_ARENA_H
#define NNP_ARENA_H

#include <stddef.h>

struct nnp_arena;

/*! @return a new empty arena; aborts if even that cannot be had. */
struct nnp_arena *nnp_arena_new(void);
/*! Frees every allocation made from `a`; accepts NULL. */
void nnp_arena_free(struct nnp_arena *a);

/*! nnp_arena_alloc() : zeroed memory for bookkeeping (names, nodes, small arrays).
 *  Running out of memory for these is not recoverable in a meaningful way, so it
 *  aborts with a message instead of returning NULL. Use _big for anything sized by input. */
void *nnp_arena_alloc(struct nnp_arena *a, size_t size);
/*! nnp_arena_alloc_big() : zeroed memory sized by input data (weights, tensors).
 *  @return NULL when the system refuses; the caller reports NNP_ERR_NOMEM. */
void *nnp_arena_alloc_big(struct nnp_arena *a, size_t size);
/*! nnp_arena_set_limit() : from now on nnp_arena_alloc_big() (and memdup) returns NULL
 *  rather than take the arena's bytes (nnp_arena_bytes) past `max_bytes`; 0 = no limit.
 *  A runtime plan sets its memory limit here, so that whatever a kernel's prepare sizes
 *  by hostile dims is refused before it is allocated. */
void nnp_arena_set_limit(struct nnp_arena *a, size_t max_bytes);
/*! @return a NUL-terminated copy of `s` (NULL gives NULL). */
char *nnp_arena_strdup(struct nnp_arena *a, const char *s);
/*! @return a NUL-terminated copy of the first `n` bytes of `s`. */
char *nnp_arena_strndup(struct nnp_arena *a, const char *s, size_t n);
/*! @return a copy of `n` bytes (NULL if n is 0 or the big allocation is refused). */
void *nnp_arena_memdup(struct nnp_arena *a, const void *p, size_t n);
/*! @return bytes held by the arena (blocks, not just what was asked). */
size_t nnp_arena_bytes(const struct nnp_arena *a);

#endif
