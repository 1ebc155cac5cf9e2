/* Upstream keep-alive pool (upstream.h). Per worker, no locks. A connection is in exactly
 * one list: up_idle (owner NULL, watched for EOF/stray bytes, swept after
 * timeouts.upstream_idle) or up_busy (owned by one exchange, which set the stream
 * callbacks). Freed in the stream's close callback only. */
#include "net/upstream.h"

#include <stdlib.h>

#include "runtime/log.h"
#include "runtime/metrics.h"

#define UP_RBUF (64 * 1024) /* response head limit plus room to stream bodies */

static void on_up_closed(ag_stream_t *s, int status)
{
    ag_upconn_t *u = s->data;
    (void)status;
    ag_stream_dispose(&u->st);
    free(u);
}

static void close_up(ag_upconn_t *u)
{
    if (u->closed)
        return;
    u->closed = true;
    if (u->idle)
        u->w->nidle--;
    ag_link_remove(&u->link);
    ag_metrics_gauge_add(AG_M_UPSTREAM_OPEN, -1);
    ag_stream_close(&u->st);
}

/* Anything from the server on an idle connection (EOF, an error, stray bytes) ends it. */
static void on_idle_read(ag_stream_t *s, int status)
{
    (void)status;
    close_up(s->data);
}

static void on_sweep(uv_timer_t *t)
{
    ag_worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop), max = (uint64_t)w->conf->timeouts.upstream_idle_ms;
    for (ag_link_t *l = w->up_idle.next, *next; l != &w->up_idle; l = next) {
        next = l->next;
        ag_upconn_t *u = (ag_upconn_t *)((char *)l - offsetof(ag_upconn_t, link));
        if (now - u->idle_since >= max)
            close_up(u);
    }
    if (w->nidle == 0)
        uv_timer_stop(t);
}

/* At most one line a second per worker: while the upstream is down every request fails
 * to connect. */
static void log_connect_error(ag_upconn_t *u, int status)
{
    static _Thread_local ag_log_limit_t limit;
    unsigned held;
    if (ag_log_limit(&limit, uv_now(u->st.tcp.loop), &held))
        ag_warn("upstream %s: %s while connecting (worker %d; %u more connect failures since "
                "the last such line)",
                u->w->conf->upstream.url, uv_strerror(status), u->w->id, held);
}

static void on_ready(ag_stream_t *s, int status)
{
    ag_upconn_t *u = s->data;
    ag_upstream_cb cb = u->on_connected;
    u->on_connected = NULL;
    if (status < 0) {
        ag_metrics_upstream_error(status == UV_EPROTO ? "tls" : "connect");
        log_connect_error(u, status);
        void *owner = u->owner;
        close_up(u);
        if (cb)
            cb(owner, NULL, status);
        return;
    }
    if (cb)
        cb(u->owner, u, 0);
}

ag_err ag_upstream_acquire(ag_worker_t *w, void *owner, ag_upstream_cb cb, ag_upconn_t **out,
                           bool *ready)
{
    while (!ag_link_empty(&w->up_idle)) {
        ag_link_t *l = w->up_idle.next; /* most recently released first: warm */
        ag_upconn_t *u = (ag_upconn_t *)((char *)l - offsetof(ag_upconn_t, link));
        ag_link_remove(l);
        ag_link_push(&w->up_busy, l);
        w->nidle--;
        u->idle = false;
        u->owner = owner;
        u->st.on_read = NULL; /* the owner sets its own before the loop turns; reading
                               * stays on (no epoll_ctl churn per request) */
        *out = u;
        *ready = true;
        return 0;
    }
    ag_upconn_t *u = calloc(1, sizeof(*u));
    if (!u)
        return AG_E_NOMEM;
    int rc = ag_stream_init(&u->st, &w->loop, UP_RBUF, w->scratch, AG_WORKER_SCRATCH);
    if (rc < 0) {
        ag_stream_dispose(&u->st);
        free(u);
        return AG_E_UPSTREAM; /* the connection handle could not be set up */
    }
    u->st.data = u;
    u->st.on_close = on_up_closed;
    u->st.on_ready = on_ready;
    u->w = w;
    u->owner = owner;
    u->on_connected = cb;
    ag_link_init(&u->link);
    ag_link_push(&w->up_busy, &u->link);
    ag_metrics_gauge_add(AG_M_UPSTREAM_OPEN, 1);
    const ag_config_upstream_t *cu = &w->conf->upstream;
    rc = ag_stream_connect(&u->st, (const struct sockaddr *)&w->up_addr, w->tls_client,
                           cu->https ? (cu->server_name ? cu->server_name : cu->host) : NULL);
    ag_metrics_inc(AG_M_UPSTREAM_CONNECTS);
    if (rc < 0) {
        ag_metrics_upstream_error("connect");
        u->on_connected = NULL;
        close_up(u);
        return AG_E_UPSTREAM;
    }
    *out = u;
    *ready = false;
    return 0;
}

void ag_upstream_release(ag_upconn_t *u, bool reusable)
{
    ag_worker_t *w = u->w;
    u->owner = NULL;
    u->on_connected = NULL;
    u->st.on_drain = NULL;
    if (u->closed)
        return;
    if (!reusable || w->draining || w->nidle >= w->conf->upstream.pool_size || u->st.werr ||
        u->st.eof || u->st.rn > u->st.roff || u->st.queued > 0) {
        close_up(u);
        return;
    }
    u->requests++;
    ag_link_remove(&u->link);
    ag_link_push(&w->up_idle, &u->link);
    w->nidle++;
    u->idle = true;
    u->idle_since = uv_now(&w->loop);
    u->st.roff = u->st.rn = 0;
    u->st.on_read = on_idle_read;
    ag_stream_read_start(&u->st);
    if (!uv_is_active((uv_handle_t *)&w->up_sweep)) {
        uint64_t every = (uint64_t)w->conf->timeouts.upstream_idle_ms / 2 + 1;
        uv_timer_start(&w->up_sweep, on_sweep, every, every);
    }
}

static void close_list(ag_link_t *head)
{
    while (!ag_link_empty(head)) {
        ag_link_t *l = head->next;
        ag_upconn_t *u = (ag_upconn_t *)((char *)l - offsetof(ag_upconn_t, link));
        close_up(u); /* removes it from the list */
    }
}

void ag_upstream_close_idle(ag_worker_t *w)
{
    close_list(&w->up_idle);
}

void ag_upstream_close_all(ag_worker_t *w)
{
    close_list(&w->up_idle);
    close_list(&w->up_busy);
}
