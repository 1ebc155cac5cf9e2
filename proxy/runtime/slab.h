/* Fixed-size objects packed in 64 KiB blocks, for what a connection keeps for its whole
 * life (the connection struct, its TLS session). Allocated from malloc, such objects end up
 * between the short-lived allocations of the handshake (mbedTLS's context and handshake
 * state, the peer's certificate chain, libcrypto's record contexts); once those are freed,
 * every idle connection leaves a hole of ~3 KiB beside its ~2.3 KiB of live state and the
 * pages stay resident (bench/RESULTS.md, idle memory, session 4). A slab keeps the
 * long-lived objects dense. Thread-safe (one mutex per slab, taken once per allocation and
 * free: per connection, not per request); a block whose objects are all freed goes back to
 * malloc (one empty block is kept). */
#ifndef AG_SLAB_H
#define AG_SLAB_H

#include <pthread.h>
#include <stddef.h>

typedef struct ag_slab_block ag_slab_block_t;

typedef struct {
    pthread_mutex_t mu;
    size_t size;              /* bytes per slot: the object plus its block pointer */
    unsigned per_block;       /* slots per block */
    ag_slab_block_t *partial; /* blocks with a free slot (doubly linked) */
    ag_slab_block_t *spare;   /* one empty block kept for the next allocation */
    size_t live, blocks;      /* objects allocated, blocks held (spare included) */
} ag_slab_t;

#define AG_SLAB_BLOCK (64 * 1024)

/* A static slab for objects of <objsize> bytes. */
#define AG_SLAB_INIT(objsize)                                                                      \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, (objsize), 0, NULL, NULL, 0, 0                                  \
    }

/* Zeroed memory for one object, or NULL. */
void *ag_slab_calloc(ag_slab_t *s);
/* Frees an object of <s>'s (NULL: nothing). */
void ag_slab_free(ag_slab_t *s, void *p);
/* Objects allocated and blocks held (tests, metrics). */
void ag_slab_stats(ag_slab_t *s, size_t *live, size_t *blocks);

#endif
