/* Bump allocator (arena.h). */
#include "base/arena.h"

#include <stdlib.h>
#include <string.h>

struct ag_arena_block {
    ag_arena_block_t *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void ag_arena_init(ag_arena_t *a, size_t block_size, size_t max_bytes)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 4096;
    a->max_bytes = max_bytes;
    a->total = 0;
}

void ag_arena_dispose(ag_arena_t *a)
{
    ag_arena_block_t *b = a ? a->head : NULL;
    while (b) {
        ag_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    if (a) {
        a->head = NULL;
        a->total = 0;
    }
}

void ag_arena_reset(ag_arena_t *a)
{
    ag_arena_block_t *b = a->head;
    if (!b)
        return;
    while (b->next) { /* keep the oldest (first) block, free the rest */
        ag_arena_block_t *next = b->next;
        a->total -= b->size;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
}

void *ag_arena_alloc(ag_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    ag_arena_block_t *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = need > a->block_size ? need : a->block_size;
        if (a->max_bytes && a->total + size > a->max_bytes)
            return NULL;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        /* Insert after the head only when the head still has room for small items;
         * simplest correct policy: new block becomes the head. */
        b->next = a->head;
        a->head = b;
        a->total += size;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void *ag_arena_calloc(ag_arena_t *a, size_t n)
{
    void *p = ag_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *ag_arena_cstr(ag_arena_t *a, ag_str_t s)
{
    char *p = ag_arena_alloc(a, s.n + 1);
    if (!p)
        return NULL;
    if (s.n)
        memcpy(p, s.p, s.n);
    p[s.n] = '\0';
    return p;
}

ag_str_t ag_arena_strdup(ag_arena_t *a, ag_str_t s)
{
    char *p = ag_arena_cstr(a, s);
    return (ag_str_t){p, p ? s.n : 0};
}
