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
 * Lifetime: a worker's loop; the struct lives in the worker. */
#ifndef AG_ACCEPTOR_H
#define AG_ACCEPTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

#define AG_ACCEPT_PAUSE_MIN_MS 20
#define AG_ACCEPT_PAUSE_MAX_MS 500
#define AG_ACCEPT_WARN_EVERY_MS 5000
#define AG_ACCEPT_BATCH 64 /* accepts per wake-up; a listener still readable wakes again */

/* Takes <fd> (non-blocking, close-on-exec), a connection just accepted: the callback owns
 * it and closes it whenever it cannot serve it. */
typedef void (*ag_accept_cb)(void *ud, int fd);

typedef struct {
    uv_poll_t poll;
    uv_timer_t pause;
    int fd; /* this loop's dup of the listening socket; -1 once closed */
    ag_accept_cb cb;
    void *ud;
    const char *name; /* "HOST:PORT" for the log, borrowed */
    unsigned pause_ms;
    unsigned suppressed; /* pauses not logged since the last warning */
    uint64_t warned_ms;
    bool open;
} ag_acceptor_t;

/* Starts accepting on a dup() of <listen_fd> (which the caller keeps) on <loop>. */
ag_err ag_acceptor_start(ag_acceptor_t *a, uv_loop_t *loop, int listen_fd, const char *name,
                         ag_accept_cb cb, void *ud);
/* Stops accepting and closes the dup (its handles close on the loop's next turn; <a> must
 * stay valid until then). Idempotent; a no-op on an acceptor never started. */
void ag_acceptor_close(ag_acceptor_t *a);
/* Counts a connection the callback could not set up (closed at once). */
void ag_acceptor_setup_failed(void);
/* Registers the metrics (start-up, before the workers run). */
void ag_acceptor_metrics_init(void);

#endif
