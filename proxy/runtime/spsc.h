/* A single-producer single-consumer ring of variable-length records, lock-free: the
 * producer owns `tail`, the consumer owns `head`, each on its own cache line, and each
 * side reads the other's index only when its cached copy says the ring looks full (or
 * empty). A record is an 8-byte header plus its payload rounded up to 8 bytes, always
 * contiguous: one that would straddle the end is preceded by a padding record that fills
 * the rest of the ring. Used by the audit log (one ring per worker thread, the writer
 * thread consumes them all). Lifetime: owned by whoever calls ag_spsc_init/dispose; the
 * producer and consumer may be different threads, never two producers or two consumers. */
#ifndef AG_SPSC_H
#define AG_SPSC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
    _Alignas(64) _Atomic uint64_t tail; /* bytes published (producer writes) */
    uint64_t pending;                   /* producer: tail after the reserved record */
    uint64_t head_seen;                 /* producer: head at its last look */
    _Alignas(64) _Atomic uint64_t head; /* bytes released (consumer writes) */
    uint64_t tail_seen;                 /* consumer: tail at its last look */
    _Alignas(64) char *buf;
    size_t cap; /* a power of two */
} ag_spsc_t;

/* The biggest payload a ring of <cap> bytes takes (a quarter of it, so a record always
 * fits once the consumer caught up, padding included). */
#define AG_SPSC_MAX_RECORD(cap) ((cap) / 4 - 8)

/* <cap> is rounded down to a power of two, at least 256. */
ag_err ag_spsc_init(ag_spsc_t *r, size_t cap);
void ag_spsc_dispose(ag_spsc_t *r);

/* Producer: room for a record of <n> payload bytes (8-byte aligned), or NULL when the
 * ring has no room now (or never: n > AG_SPSC_MAX_RECORD). Nothing is visible to the
 * consumer until ag_spsc_commit; a second reserve without a commit replaces the first. */
void *ag_spsc_reserve(ag_spsc_t *r, size_t n);
/* Producer: publishes the reserved record (release order: its bytes are visible first). */
void ag_spsc_commit(ag_spsc_t *r);

/* Consumer: the oldest record's payload and its length, or NULL when the ring is empty. */
const void *ag_spsc_peek(ag_spsc_t *r, size_t *n);
/* Consumer: frees the record ag_spsc_peek returned. */
void ag_spsc_release(ag_spsc_t *r);
/* Any thread: bytes queued (a snapshot). */
size_t ag_spsc_used(ag_spsc_t *r);

#endif
