/* Snapshot publication (snapshot.h). A domain is the published pointer, its generation,
 * and one cache line per reader thread holding the snapshot that thread is reading
 * (a hazard pointer). The writer's side (retired list, pending list, sweep timer) is
 * touched by the writer thread only.
 *
 * Why it is safe: a reader stores its slot, then loads the published pointer again (both
 * sequentially consistent); the writer swaps the pointer, then loads every slot
 * (sequentially consistent too). In the single total order either the reader's second
 * load sees the swap (it retries with the new pointer), or the writer's scan sees the
 * slot (the old snapshot stays retired). A reader's reads of a snapshot happen before its
 * release store that clears the slot, which the writer's scan reads before freeing. */
#include "runtime/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64
#define SWEEP_RETRY_MS 10

typedef struct {
    _Alignas(CACHE_LINE) _Atomic(ag_snap_t *) held;
    int depth; /* nesting; the owning thread only */
} slot_t;

struct ag_snap_domain {
    /* read by every reader, written by publish only */
    _Alignas(CACHE_LINE) _Atomic(ag_snap_t *) cur;
    atomic_uint_fast64_t generation;
    const char *name;
    /* writer only */
    _Alignas(CACHE_LINE) ag_snap_t *retired;
    ag_snap_domain_t *pending_next; /* on the pending list while something is retired */
    bool pending;
    slot_t slots[AG_SNAP_THREADS];
};

/* ---- reader threads ---------------------------------------------------------------------- */

static atomic_bool claimed[AG_SNAP_THREADS];
static _Thread_local int my_index = -1;
static pthread_key_t index_key; /* its destructor releases the index of an exiting thread */
static pthread_once_t index_key_once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *v)
{
    atomic_store(&claimed[(int)(intptr_t)v - 1], false);
}

static void make_index_key(void)
{
    if (pthread_key_create(&index_key, on_thread_exit) != 0)
        abort(); /* only EAGAIN/ENOMEM at start-up */
}

ag_err ag_snap_thread_register(int *index)
{
    pthread_once(&index_key_once, make_index_key);
    for (int i = 0; i < AG_SNAP_THREADS && my_index < 0; i++) {
        bool unused = false;
        if (atomic_compare_exchange_strong(&claimed[i], &unused, true)) {
            my_index = i;
            pthread_setspecific(index_key, (void *)(intptr_t)(i + 1));
        }
    }
    if (index)
        *index = my_index;
    return my_index < 0 ? AG_E_TOO_BIG : 0;
}

void ag_snap_thread_unregister(void)
{
    if (my_index < 0)
        return;
    pthread_setspecific(index_key, NULL);
    atomic_store(&claimed[my_index], false);
    my_index = -1;
}

/* Two threads on one slot could clear each other's hazard (a use after free), so running
 * out of slots is fatal, never a fallback to a shared one (rule 6). */
static slot_t *my_slot(ag_snap_domain_t *d)
{
    if (my_index < 0 && ag_snap_thread_register(NULL) != 0) {
        fprintf(stderr,
                "authgate: snapshot %s: all %d reader slots are taken (AG_SNAP_THREADS); "
                "a reader thread cannot be given its own slot\n",
                d->name, AG_SNAP_THREADS);
        abort();
    }
    return &d->slots[my_index];
}

/* ---- readers ------------------------------------------------------------------------------ */

ag_snap_t *ag_snap_enter(ag_snap_domain_t *d)
{
    slot_t *s = my_slot(d);
    if (s->depth++ > 0)
        return atomic_load_explicit(&s->held, memory_order_relaxed); /* rule 5 */
    ag_snap_t *p = atomic_load_explicit(&d->cur, memory_order_acquire);
    for (;;) {
        atomic_store(&s->held, p);
        ag_snap_t *again = atomic_load(&d->cur);
        if (again == p) /* still published: the writer's scan will see the slot */
            return p;
        p = again;
    }
}

void ag_snap_leave(ag_snap_domain_t *d)
{
    slot_t *s = &d->slots[my_index];
    if (--s->depth == 0)
        atomic_store_explicit(&s->held, NULL, memory_order_release);
}

uint64_t ag_snap_generation(const ag_snap_domain_t *d)
{
    return atomic_load_explicit(&((ag_snap_domain_t *)d)->generation, memory_order_acquire);
}

/* ---- the writer --------------------------------------------------------------------------- */

static ag_snap_domain_t *pending; /* domains with retired snapshots still held */
static uint64_t pending_changes;  /* +1 whenever a domain leaves the list */
static uv_timer_t sweep_timer;
static bool attached;

static bool held_by_reader(ag_snap_domain_t *d, const ag_snap_t *r)
{
#ifdef AG_SNAP_MUTANT_IGNORE_SLOTS /* tests/unit: the broken retire the TSan test must catch */
    (void)d, (void)r;
    return false;
#else
    for (int i = 0; i < AG_SNAP_THREADS; i++)
        if (atomic_load(&d->slots[i].held) == r)
            return true;
    return false;
#endif
}

static void unlist(ag_snap_domain_t *d)
{
    for (ag_snap_domain_t **pp = &pending; *pp; pp = &(*pp)->pending_next)
        if (*pp == d) {
            *pp = d->pending_next;
            break;
        }
    d->pending = false;
    pending_changes++;
}

int ag_snap_sweep(ag_snap_domain_t *d)
{
    int left = 0;
    for (ag_snap_t **pp = &d->retired; *pp;) {
        ag_snap_t *r = *pp;
        if (held_by_reader(d, r)) {
            pp = &r->retired_next;
            left++;
            continue;
        }
        *pp = r->retired_next;
        r->free(r);
    }
    if (!left && d->pending)
        unlist(d);
    return left;
}

static void on_sweep(uv_timer_t *t)
{
    /* A free may destroy another pending domain (a retired authentication section takes its
     * key domains along), which unlists it: then start over from the head. */
    for (ag_snap_domain_t *d = pending; d;) {
        uint64_t seen = pending_changes;
        ag_snap_sweep(d);
        d = pending_changes == seen ? d->pending_next : pending;
    }
    if (!pending)
        uv_timer_stop(t);
}

static void retry_later(ag_snap_domain_t *d)
{
    if (!d->pending) {
        d->pending = true;
        d->pending_next = pending;
        pending = d;
    }
    if (attached && !uv_is_closing((uv_handle_t *)&sweep_timer) &&
        !uv_is_active((uv_handle_t *)&sweep_timer))
        uv_timer_start(&sweep_timer, on_sweep, SWEEP_RETRY_MS, SWEEP_RETRY_MS);
}

void ag_snap_attach(uv_loop_t *loop)
{
    if (attached || uv_timer_init(loop, &sweep_timer) != 0)
        return;
    uv_unref((uv_handle_t *)&sweep_timer);
    attached = true;
}

ag_snap_t *ag_snap_current(ag_snap_domain_t *d)
{
    return atomic_load_explicit(&d->cur, memory_order_relaxed);
}

void ag_snap_publish(ag_snap_domain_t *d, ag_snap_t *s)
{
    uint64_t gen = atomic_load_explicit(&d->generation, memory_order_relaxed) + 1;
    if (s) {
        s->generation = gen;
        s->retired_next = NULL;
    }
    ag_snap_t *old = atomic_exchange(&d->cur, s);
    atomic_store_explicit(&d->generation, gen, memory_order_release);
    if (old) {
        old->retired_next = d->retired;
        d->retired = old;
    }
    if (ag_snap_sweep(d) > 0)
        retry_later(d);
}

ag_err ag_snap_domain_create(const char *name, ag_snap_domain_t **out)
{
    ag_snap_domain_t *d = aligned_alloc(CACHE_LINE, sizeof *d);
    if (!d)
        return AG_E_NOMEM;
    memset(d, 0, sizeof *d);
    atomic_init(&d->cur, NULL);
    atomic_init(&d->generation, 0);
    for (int i = 0; i < AG_SNAP_THREADS; i++)
        atomic_init(&d->slots[i].held, NULL);
    d->name = name;
    *out = d;
    return 0;
}

void ag_snap_domain_destroy(ag_snap_domain_t *d)
{
    if (!d)
        return;
    if (d->pending)
        unlist(d);
    ag_snap_t *cur = atomic_exchange(&d->cur, NULL);
    if (cur)
        cur->free(cur);
    while (d->retired) {
        ag_snap_t *r = d->retired;
        d->retired = r->retired_next;
        r->free(r);
    }
    free(d);
}
