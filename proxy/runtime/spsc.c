/* The single-producer single-consumer record ring (spsc.h). Positions count bytes from
 * the start and never wrap (64 bits); the offset in the buffer is position & (cap - 1). */
#include "runtime/spsc.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t len; /* payload bytes (unrounded) */
    uint32_t pad; /* 1: a padding record up to the end of the buffer */
} hdr_t;

#define HDR sizeof(hdr_t)

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

ag_err ag_spsc_init(ag_spsc_t *r, size_t cap)
{
    size_t c = 256;
    while (c * 2 <= cap && c < ((size_t)1 << 40))
        c *= 2;
    memset(r, 0, sizeof *r);
    if (!(r->buf = malloc(c)))
        return AG_E_NOMEM;
    r->cap = c;
    return 0;
}

void ag_spsc_dispose(ag_spsc_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Room for <need> bytes starting at <pos>: checks the cached head first, the shared one
 * only when that says no (the consumer's line is read once per lap, not per record). */
static int has_room(ag_spsc_t *r, uint64_t pos, size_t need)
{
    if (pos + need - r->head_seen <= r->cap)
        return 1;
    r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
    return pos + need - r->head_seen <= r->cap;
}

void *ag_spsc_reserve(ag_spsc_t *r, size_t n)
{
    uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t need = HDR + round8(n), off = (size_t)pos & (r->cap - 1), to_end = r->cap - off;
    if (n > AG_SPSC_MAX_RECORD(r->cap))
        return NULL;
    if (need > to_end) { /* pad to the end, start over at offset 0 */
        if (!has_room(r, pos, to_end + need))
            return NULL;
        *(hdr_t *)(r->buf + off) = (hdr_t){(uint32_t)(to_end - HDR), 1};
        pos += to_end, off = 0;
    } else if (!has_room(r, pos, need)) {
        return NULL;
    }
    *(hdr_t *)(r->buf + off) = (hdr_t){(uint32_t)n, 0};
    r->pending = pos + need;
    return r->buf + off + HDR;
}

void ag_spsc_commit(ag_spsc_t *r)
{
    atomic_store_explicit(&r->tail, r->pending, memory_order_release);
}

const void *ag_spsc_peek(ag_spsc_t *r, size_t *n)
{
    for (;;) {
        uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        if (pos == r->tail_seen &&
            pos == (r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire)))
            return NULL;
        const hdr_t *h = (const hdr_t *)(r->buf + ((size_t)pos & (r->cap - 1)));
        if (!h->pad) {
            *n = h->len;
            return h + 1;
        }
        atomic_store_explicit(&r->head, pos + HDR + h->len, memory_order_release);
    }
}

void ag_spsc_release(ag_spsc_t *r)
{
    uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    const hdr_t *h = (const hdr_t *)(r->buf + ((size_t)pos & (r->cap - 1)));
    atomic_store_explicit(&r->head, pos + HDR + round8(h->len), memory_order_release);
}

size_t ag_spsc_used(ag_spsc_t *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    return (size_t)(atomic_load_explicit(&r->tail, memory_order_acquire) - h);
}
