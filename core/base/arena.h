/* Bump allocator for request- and load-lifetime memory. Everything allocated from an
 * arena is freed at once by ag_arena_reset/dispose; there is no per-object free.
 * Blocks are malloc'ed on demand and the first block is kept across resets, so a
 * keep-alive connection's requests allocate nothing after warm-up. Not thread-safe:
 * one owner at a time. */
#ifndef AG_ARENA_H
#define AG_ARENA_H

#include <stddef.h>

#include "base/str.h"

typedef struct ag_arena_block ag_arena_block_t;

typedef struct {
    ag_arena_block_t *head; /* current block (owned) */
    size_t block_size;      /* size of new blocks */
    size_t max_bytes;       /* hard cap on total bytes; 0 = unbounded */
    size_t total;           /* bytes currently held in blocks */
} ag_arena_t;

/* Caller owns <a>. <block_size> 0 picks 4 KiB; <max_bytes> 0 means no cap. */
void ag_arena_init(ag_arena_t *a, size_t block_size, size_t max_bytes);
void ag_arena_dispose(ag_arena_t *a);
/* Frees everything but the first block. */
void ag_arena_reset(ag_arena_t *a);
/* 16-byte-aligned memory, or NULL when out of memory or over max_bytes. */
void *ag_arena_alloc(ag_arena_t *a, size_t n);
void *ag_arena_calloc(ag_arena_t *a, size_t n);
/* NUL-terminated copy of <s> (the slice returned excludes the NUL). p == NULL on OOM. */
ag_str_t ag_arena_strdup(ag_arena_t *a, ag_str_t s);
char *ag_arena_cstr(ag_arena_t *a, ag_str_t s);

#endif
