/* Accepting connections on a listening socket that every worker shares. server.c binds
 * one socket per address without SO_REUSEPORT, so no other socket (another process of
 * any user) can join the address and receive a share of the connections; each worker
 * polls its own dup() of it and accepts with accept4() itself rather than through
 * uv_listen, so that every failure is handled here:
 *  - a connection the worker cannot set up is closed at once by the callback (the
 *    listener keeps being polled);
 *  - descriptor or memory exhaustion (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses this
 *    worker's accepting for a back-off (AG_ACCEPT_PAUSE_MIN_MS doubling to
 *    AG_ACCEPT_PAUSE_MAX_MS) instead of spinning on a listener that stays readable:
 *    pending connections wait in the kernel's backlog, the pause is counted
 *    (authgate_accept_errors_total), logged at most every AG_ACCEPT_WARN_EVERY_MS, and
 *    accepting resumes by itself when descriptors are free again.
 * libuv's own answer to EMFILE (uv__emfile_trick: close a spare descriptor, accept and
 * drop every pending connection) rejects clients, and with several threads another one
 * can take the spare descriptor, after which libuv calls back with EMFILE in a loop.
 * Balance (issue 17): the kernel wakes every worker polling the socket and the first one
 * awake takes a whole burst of connections (64 keep-alive clients connecting at once
 * landed 64:0 or 48:16 on two workers), which then stay where they landed. So the acceptors
 * of one listener form a group (ag_acceptor_balance): a worker that accepts a connection
 * while it holds AG_ACCEPT_SLACK or more connections than the least loaded open member
 * hands it to that member's worker (its mailbox: one small allocation and a wake-up per
 * connection handed) instead of serving it; the counts then differ by at most the slack.
 * The socket stays one, shared: no SO_REUSEPORT group another socket could join.
 * Lifetime: a worker's loop; the struct lives in the worker. */
#ifndef AG_ACCEPTOR_H
#define AG_ACCEPTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "runtime/mailbox.h"

#define AG_ACCEPT_PAUSE_MIN_MS 20
#define AG_ACCEPT_PAUSE_MAX_MS 500
#define AG_ACCEPT_WARN_EVERY_MS 5000
#define AG_ACCEPT_BATCH 64 /* accepts per wake-up; a listener still readable wakes again */
#define AG_ACCEPT_SLACK 2  /* connections more than the least loaded worker before handing */

/* Takes <fd> (non-blocking, close-on-exec), a connection just accepted: the callback owns
 * it and closes it whenever it cannot serve it. */
typedef void (*ag_accept_cb)(void *ud, int fd);

/* A worker's load, shared by its acceptors (main and webhook listener) and read by the
 * other workers' acceptors. Allocate it 64-byte aligned (ag_accept_load_create): other
 * workers write <incoming>. Lifetime: process; <inbox> must outlive every worker thread. */
typedef struct ag_accept_load {
    _Alignas(64) atomic_int incoming; /* connections handed to this worker, not taken yet */
    const atomic_int *held;           /* the connections it holds (it alone writes), borrowed */
    ag_mailbox_t *inbox;              /* on the worker's loop, owned */
} ag_accept_load_t;

typedef struct ag_acceptor ag_acceptor_t;

/* The acceptors of one listener, one per worker (borrowed from the workers). */
typedef struct {
    ag_acceptor_t **members;
    int n;
} ag_accept_group_t;

struct ag_acceptor {
    uv_poll_t poll;
    uv_timer_t pause;
    int fd; /* this loop's dup of the listening socket; -1 once closed */
    ag_accept_cb cb;
    void *ud;
    const char *name; /* "HOST:PORT" for the log, borrowed */
    unsigned pause_ms;
    unsigned suppressed; /* pauses not logged since the last warning */
    uint64_t warned_ms;
    atomic_bool open;               /* read by the other members of its group */
    const ag_accept_group_t *group; /* NULL: serves whatever it accepts */
    ag_accept_load_t *load;         /* its worker's, borrowed */
};

/* Starts accepting on a dup() of <listen_fd> (which the caller keeps) on <loop>. */
ag_err ag_acceptor_start(ag_acceptor_t *a, uv_loop_t *loop, int listen_fd, const char *name,
                         ag_accept_cb cb, void *ud);
/* Stops accepting and closes the dup (its handles close on the loop's next turn; <a> must
 * stay valid until then). Idempotent; a no-op on an acceptor never started. */
void ag_acceptor_close(ag_acceptor_t *a);
/* Balances <a> (started) within <group> with its worker's <load> (both borrowed, living
 * as long as the workers): from now on a connection <a> accepts may go to another member,
 * whose callback takes it on its own loop (or closes it if that member closed meanwhile). */
void ag_acceptor_balance(ag_acceptor_t *a, const ag_accept_group_t *group, ag_accept_load_t *load);
/* A worker's load with its mailbox on <loop> (the worker's, not running yet), counting
 * <held>; destroy it after every worker thread has ended (connections still queued for
 * the worker are closed). */
ag_err ag_accept_load_create(uv_loop_t *loop, const atomic_int *held, ag_accept_load_t **out);
void ag_accept_load_destroy(ag_accept_load_t *l);
/* Counts a connection the callback could not set up (closed at once). */
void ag_acceptor_setup_failed(void);
/* Registers the metrics (start-up, before the workers run). */
void ag_acceptor_metrics_init(void);

#endif
