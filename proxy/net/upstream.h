/* Upstream connections: the per-worker keep-alive pool in front of the one configured API
 * server (http or https with CA verification and an optional client certificate). An
 * exchange acquires a connection, owns its stream callbacks while it uses it, and
 * releases it (reusable or not). Idle connections are watched: any byte or EOF from the
 * server while idle closes them, as does the idle timeout. Never parses HTTP. */
#ifndef AG_UPSTREAM_H
#define AG_UPSTREAM_H

#include <stdbool.h>

#include "net/stream.h"
#include "runtime/worker.h"

typedef void (*ag_upstream_cb)(void *owner, ag_upconn_t *u, int status);

struct ag_upconn {
    ag_stream_t st; /* st.data == this */
    ag_link_t link; /* in worker->up_idle or up_busy */
    ag_worker_t *w;
    void *owner; /* the exchange using it; NULL when idle */
    ag_upstream_cb on_connected;
    uint64_t idle_since; /* uv_now when it went idle */
    int requests;        /* served on this connection (for metrics and tests) */
    bool idle, closed;
};

/* Hands out an idle pooled connection (*ready true) or starts a new one (*ready false;
 * <cb> runs once with libuv status 0 when it is ready or <0 on failure, after which the
 * upconn is already closed); *out is set either way. Returns 0, or AG_E_NOMEM /
 * AG_E_UPSTREAM when a connection cannot even be started (cb not called). */
ag_err ag_upstream_acquire(ag_worker_t *w, void *owner, ag_upstream_cb cb, ag_upconn_t **out,
                           bool *ready);
/* Gives <u> back: to the idle pool when <reusable> and the pool has room, else closed.
 * The owner's callbacks are detached either way. */
void ag_upstream_release(ag_upconn_t *u, bool reusable);
/* Closes every idle connection (drain) / every connection (stop). */
void ag_upstream_close_idle(ag_worker_t *w);
void ag_upstream_close_all(ag_worker_t *w);

#endif
