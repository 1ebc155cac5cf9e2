/* Slab of fixed-size objects (slab.h). Each slot is a 16-byte head (its block; when free,
 * the next free slot) followed by the object (16-byte aligned); a block's free slots form a
 * list, and slots never used are handed out in order (<fresh>). Under AddressSanitizer a
 * freed object is poisoned until handed out again, so a use after free is still caught. */
#include "runtime/slab.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h> /* no-op macros without ASan */

#define SLOT_HEAD 16 /* block pointer, next free slot: the object stays 16-byte aligned */
#define NEXT_AT sizeof(void *)

struct ag_slab_block {
    ag_slab_block_t *prev, *next; /* in the slab's partial list */
    void *free;                   /* freed slots (each head holds the next) */
    unsigned used, fresh;         /* slots in use; slots handed out at least once */
    _Alignas(16) unsigned char slots[];
};

static void slab_setup(ag_slab_t *s)
{
    if (s->per_block)
        return;
    size_t obj = (s->size + 15) & ~(size_t)15;
    s->size = SLOT_HEAD + obj;
    s->per_block = (unsigned)((AG_SLAB_BLOCK - sizeof(ag_slab_block_t)) / s->size);
}

static void unlink_partial(ag_slab_t *s, ag_slab_block_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        s->partial = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

static void link_partial(ag_slab_t *s, ag_slab_block_t *b)
{
    b->prev = NULL;
    b->next = s->partial;
    if (s->partial)
        s->partial->prev = b;
    s->partial = b;
}

static ag_slab_block_t *block_with_room(ag_slab_t *s)
{
    if (s->partial)
        return s->partial;
    ag_slab_block_t *b = s->spare;
    s->spare = NULL;
    if (!b) {
        if (!(b = malloc(AG_SLAB_BLOCK)))
            return NULL;
        memset(b, 0, sizeof *b);
        s->blocks++;
    }
    link_partial(s, b);
    return b;
}

static unsigned char *take_slot(ag_slab_t *s, ag_slab_block_t *b)
{
    unsigned char *slot = b->free;
    if (slot)
        memcpy(&b->free, slot + NEXT_AT, sizeof b->free);
    else
        slot = b->slots + (size_t)b->fresh++ * s->size;
    if (++b->used == s->per_block)
        unlink_partial(s, b);
    memcpy(slot, &b, sizeof b);
    return slot;
}

void *ag_slab_calloc(ag_slab_t *s)
{
    unsigned char *slot = NULL;
    pthread_mutex_lock(&s->mu);
    slab_setup(s);
    ag_slab_block_t *b = block_with_room(s);
    if (b) {
        slot = take_slot(s, b);
        s->live++;
    }
    pthread_mutex_unlock(&s->mu);
    if (!slot)
        return NULL;
    ASAN_UNPOISON_MEMORY_REGION(slot + SLOT_HEAD, s->size - SLOT_HEAD);
    memset(slot + SLOT_HEAD, 0, s->size - SLOT_HEAD);
    return slot + SLOT_HEAD;
}

/* The block <b> has no object left: keep it as the spare, or give it back. */
static void retire_block(ag_slab_t *s, ag_slab_block_t *b)
{
    unlink_partial(s, b);
    b->free = NULL;
    b->fresh = 0;
    if (!s->spare) {
        s->spare = b;
        return;
    }
    free(b);
    s->blocks--;
}

void ag_slab_free(ag_slab_t *s, void *p)
{
    if (!p)
        return;
    unsigned char *slot = (unsigned char *)p - SLOT_HEAD;
    ag_slab_block_t *b;
    memcpy(&b, slot, sizeof b);
    pthread_mutex_lock(&s->mu);
    bool was_full = b->used == s->per_block;
    ASAN_POISON_MEMORY_REGION(p, s->size - SLOT_HEAD);
    memcpy(slot + NEXT_AT, &b->free, sizeof b->free);
    b->free = slot;
    b->used--;
    s->live--;
    if (was_full)
        link_partial(s, b);
    if (b->used == 0)
        retire_block(s, b);
    pthread_mutex_unlock(&s->mu);
}

void ag_slab_stats(ag_slab_t *s, size_t *live, size_t *blocks)
{
    pthread_mutex_lock(&s->mu);
    *live = s->live;
    *blocks = s->blocks;
    pthread_mutex_unlock(&s->mu);
}
