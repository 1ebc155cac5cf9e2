/* Snapshot publication: the ONE way an immutable object built on the control thread
 * (policy, issuer keys, the upstream credential, serving certificates, the authentication
 * section) reaches the worker threads, and the one way it is freed.
 *
 * Rules (docs/ARCHITECTURE.md "Snapshots" says the same in prose):
 *  1. A snapshot is immutable once published. It embeds an ag_snap_t (first member, so a
 *     cast gets the container) whose <free> the creator sets.
 *  2. One writer thread per domain (the control thread in the gateway) calls publish,
 *     sweep, current and destroy. Publishing is an atomic pointer swap; the replaced
 *     snapshot is retired, and freed by the writer (in publish, sweep, the retry timer of
 *     ag_snap_attach, or destroy) once no reader slot holds it. Readers never free.
 *  3. A reader thread has one slot per domain (cache-line sized, written only by that
 *     thread): ag_snap_enter stores the current pointer there and checks it is still
 *     current; ag_snap_leave clears it. In between the snapshot cannot be freed. Nothing
 *     shared is written per read: no reference count, no reader count.
 *  4. Hold it only synchronously: enter and leave in the same callback on the same
 *     thread, never across a return to the event loop (an idle worker must not pin an old
 *     snapshot). What must outlive that is copied (into the request arena) or, for an
 *     object with its own lifetime (a TLS context used by a connection), referenced
 *     through that object's own count while entered.
 *  5. Entering a domain the thread is already in returns the same snapshot (a nesting
 *     depth): one callback sees one consistent snapshot per domain.
 *  6. Every reader thread registers (ag_snap_thread_register) when it starts; a thread
 *     that did not is registered on its first enter. Slots are never shared: running
 *     out of them aborts the process with a message.
 * Lifetimes: a domain is process (or owned by the object that publishes into it); a
 * snapshot is snapshot. */
#ifndef AG_SNAPSHOT_H
#define AG_SNAPSHOT_H

#include <stdint.h>
#include <uv.h>

#include "base/err.h"

/* Reader threads at once: the control thread, up to 64 workers (AG_CONFIG_MAX_WORKERS),
 * and a few test or helper threads. server.c checks workers + 1 fit. */
#define AG_SNAP_THREADS 72

typedef struct ag_snap ag_snap_t;
struct ag_snap {
    void (*free)(ag_snap_t *s); /* set by the creator; runs on the writer thread */
    uint64_t generation;        /* set by publish: 1 for the first one, +1 per publish */
    ag_snap_t *retired_next;    /* private */
};

typedef struct ag_snap_domain ag_snap_domain_t;

/* <name> (borrowed, static) appears in the abort message of rule 6. */
ag_err ag_snap_domain_create(const char *name, ag_snap_domain_t **out);
/* Writer, once no reader can enter any more (workers joined): frees the current and
 * every retired snapshot, then the domain. NULL ignored. */
void ag_snap_domain_destroy(ag_snap_domain_t *d);

/* Gives the calling thread a slot index of its own in every domain (*index may be NULL).
 * Idempotent. AG_E_TOO_BIG when all AG_SNAP_THREADS are taken. The index is released by
 * unregister or when the thread exits; a thread unregisters only outside every domain. */
ag_err ag_snap_thread_register(int *index);
void ag_snap_thread_unregister(void);

/* Reader: the current snapshot (NULL when none is published), safe to read until
 * ag_snap_leave on this thread (rules 3-5). Every enter needs one leave. */
ag_snap_t *ag_snap_enter(ag_snap_domain_t *d);
void ag_snap_leave(ag_snap_domain_t *d);
/* Any thread: the generation of the current snapshot (0: none yet); a plain load, for
 * "has it changed since I last looked" without entering. */
uint64_t ag_snap_generation(const ag_snap_domain_t *d);

/* Writer: the current snapshot without entering (only the writer may publish, so it
 * cannot be freed under the writer). */
ag_snap_t *ag_snap_current(ag_snap_domain_t *d);
/* Writer: makes <s> current (sets s->generation; <s> may be NULL) and retires the
 * previous one, which is freed now if no slot holds it, else by a later sweep. */
void ag_snap_publish(ag_snap_domain_t *d, ag_snap_t *s);
/* Writer: frees the retired snapshots no slot holds; returns how many are left. */
int ag_snap_sweep(ag_snap_domain_t *d);
/* Writer: retired snapshots still held after a publish are swept again every 10 ms on
 * <loop> until none is left (a reader holds one for microseconds). Without it they wait
 * for the next publish, sweep or destroy. The timer is closed with the loop's handles. */
void ag_snap_attach(uv_loop_t *loop);

#endif
