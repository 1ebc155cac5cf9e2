/* HTTP/1.1 proxying for one worker (http1.h): the request's whole path through the
 * gateway. A connection is in one phase at a time:
 *
 *   (PREFACE) -> HEAD -> (GATE) -> (CONNECT) -> BODY -> WAIT -> HEAD ...   or -> TUNNEL
 *
 * PREFACE (main listener) reads the raw bytes before TLS or HTTP: a PROXY protocol
 * header, accepted or refused as proxy/net/preface.c decides; then TLS starts on what follows.
 * HEAD waits for a complete head (up to the first empty line) in the connection's read
 * buffer, scans the raw bytes (ag_canon_scan_head), parses them with llhttp in one call
 * (so every header slice points into that buffer), checks them (ag_canon_check) and runs
 * the request pipeline (pipeline.h). BODY streams the request body to the upstream, WAIT
 * relays the response; one request is in flight at a time, so pipelined requests are
 * answered in order. The parsers' callbacks only record or forward bytes; every decision
 * is taken after they return. This file never decides authorization (the pipeline does)
 * and never rewrites headers itself (core/http/forward.c does). Head framing and the
 * request and response parsers (llhttp) are http1_parse.c, shared with the fuzz target;
 * local answers (routes, the webhooks listener, OPTIONS *) are http1_local.c, the
 * upstream exchange and tunnel http1_relay.c, all on the connection of http1_conn.h.
 * Longer than 800 lines: the connection's lifecycle, timers and idle release share it. */
#include "http/http1.h"

#include <malloc.h> /* malloc_trim (glibc) */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/canon.h"
#include "http/http1_conn.h"
#include "http/pipeline.h"
#include "http/status.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/slab.h"

#define MAX_POOLED_CONNS 256
#define RBUF_SLACK 4096      /* read buffer beyond limits.header_bytes */
#define IDLE_RELEASE_MS 1000 /* an idle keep-alive connection gives its buffers back */
#define IDLE_TRIM_MIN 64     /* releases in one sweep that are worth a malloc_trim */

static void abandon_request(conn_t *c);
static void on_gate_done(ag_gate_t *g, ag_gate_result r);

/* ---- timers --------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* Lazy deadlines: the uv timer moves only when a deadline comes earlier than the one it
 * is set for; a later one (the common case: every request arms and disarms 4-5 times) is
 * only recorded, and on_timer re-starts the timer for what is left. Saves the timer-heap
 * operations, ~900 instructions a request. */
static void timer_at(conn_t *c, uint64_t due)
{
    uint64_t now = uv_now(c->timer.loop);
    if (due <= now)
        due = now + 1;
    if (!uv_is_active((uv_handle_t *)&c->timer) || due < c->timer_due) {
        c->timer_due = due;
        uv_timer_start(&c->timer, on_timer, due - now, 0);
    }
}

void ag_h1c_arm(conn_t *c, timer_kind_t k, long long ms)
{
    c->tkind = k;
    c->due = uv_now(c->timer.loop) + (uint64_t)(ms > 0 ? ms : 1);
    timer_at(c, c->due);
}

void ag_h1c_disarm(conn_t *c)
{
    c->tkind = T_NONE; /* a timer still running finds nothing to do */
}

/* Send deadline (nginx's send_timeout): runs beside the one above, on the same timer,
 * while writes to the client wait on it. on_wblock starts it when the queue to the client
 * stops being empty; the progress the kernel makes on the queue (ag_stream_wdone: every
 * partial write, TLS ciphertext) is only looked at when the timer fires, so a write costs
 * nothing. A client that takes no byte for timeouts.send is cut (between one and two
 * timeouts.send after its last progress); nothing queued (an idle watch or tunnel) is
 * never cut. */
static void send_arm(ag_stream_t *s, int status)
{
    conn_t *c = s->data;
    (void)status;
    if (c->timer_closed)
        return;
    c->send_done = ag_stream_wdone(s);
    c->send_due = uv_now(c->timer.loop) + (uint64_t)c->w->conf->timeouts.send_ms;
    timer_at(c, c->send_due);
}

/* At a timer expiry: true when the client took nothing for timeouts.send; otherwise the
 * send deadline is moved on (progress) or dropped (nothing queued any more). */
static bool send_expired(conn_t *c, uint64_t now)
{
    if (!c->send_due)
        return false;
    if (c->st.pending == 0 || c->st.closing) {
        c->send_due = 0;
        return false;
    }
    uint64_t done = ag_stream_wdone(&c->st);
    if (done != c->send_done) {
        c->send_done = done;
        c->send_due = now + (uint64_t)c->w->conf->timeouts.send_ms;
    }
    return now >= c->send_due;
}

/* ---- answering ------------------------------------------------------------------ */

/* Counts one answer; errors found before the head was complete count with latency 0. */
void ag_h1c_record(conn_t *c, int code)
{
    uint64_t now = c->t_start ? uv_hrtime() : 0;
    ag_metrics_request(code, c->t_start ? now - c->t_start : 0);
    c->t_start = 0;
    if (c->gate.req && !c->gate.pending) { /* once per gated request (audit) */
        c->gate.finished_at = now;         /* the audit's stage time: no second clock reading */
        ag_gate_finished(&c->gate, code);
        c->gate.req = NULL;
    }
}

void ag_h1c_release_up(conn_t *c, bool reusable)
{
    if (!c->up)
        return;
    ag_upconn_t *u = c->up;
    c->up = NULL;
    u->st.on_read = NULL;
    ag_upstream_release(u, reusable);
}

/* The gateway's own error answers: 5xx at WARN, at most one line a second per worker (an
 * upstream outage answers every request with one), the rest at DEBUG. */
static void log_answer(conn_t *c, int code, const char *msg)
{
    static _Thread_local ag_log_limit_t limit;
    unsigned held;
    const char *id = c->gate.req ? ag_gate_audit_id(&c->gate) : NULL; /* gated: audited */
    if (code < 500)
        ag_log_req(AG_LOG_DEBUG, c->client_ip, id, "answered %d (%s) on worker %d", code, msg,
                   c->w->id);
    else if (AG_LOG_ENABLED(AG_LOG_WARN) && ag_log_limit(&limit, uv_now(c->timer.loop), &held))
        ag_log_fields(AG_LOG_WARN, c->client_ip, id,
                      "answered %d (%s) on worker %d (%u more 5xx answers since the last such "
                      "line)",
                      code, msg, c->w->id, held);
}

/* The gateway's own answer (an error or OPTIONS *). With <close> the connection ends
 * after it; otherwise the next request is read. After a response head went out there is
 * nothing to answer with: the connection is cut so the client sees a truncated message. */
static void respond_details(conn_t *c, int code, const char *msg,
                            const ag_status_details_t *details, bool close);

void ag_h1c_respond(conn_t *c, int code, const char *msg, bool close)
{
    respond_details(c, code, msg, NULL, close);
}

/* A complete response with a body of media <type> (NULL: JSON), the gateway's own answers. */
ag_err ag_h1c_body_response(ag_buf_t *out, int code, const char *type, ag_str_t body, bool close)
{
    ag_err err = ag_buf_printf(out,
                               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                               "Cache-Control: no-cache, private\r\nContent-Length: %zu\r\n%s\r\n",
                               code, ag_http_reason_phrase(code), type ? type : "application/json",
                               body.n, close ? "Connection: close\r\n" : "");
    return err ? err : ag_buf_append(out, body.p, body.n);
}

static ag_err json_response(ag_buf_t *out, int code, ag_str_t body, bool close)
{
    return ag_h1c_body_response(out, code, NULL, body, close);
}

/* A Status response with optional details (the gate's 403s name the resource). */
static ag_err status_response(ag_buf_t *out, int code, const char *msg,
                              const ag_status_details_t *details, bool close)
{
    if (!details)
        return ag_status_response(out, code, ag_str_cstr(msg), close);
    ag_buf_t body = AG_BUF_INIT(out->max);
    ag_err err = ag_status_write_details(&body, code, ag_str_cstr(msg), details);
    if (!err)
        err = json_response(out, code, ag_buf_str(&body), close);
    ag_buf_dispose(&body);
    return err;
}

/* Sends the gateway's own answer built in c->out, then closes or reads the next request. */
void ag_h1c_send_own(conn_t *c, int code, bool close)
{
    ag_h1c_record(c, code);
    ag_stream_write1(&c->st, c->out.p, c->out.n);
    if (close) {
        ag_h1c_end(c);
        return;
    }
    ag_h1c_next(c);
}

static void respond_details(conn_t *c, int code, const char *msg,
                            const ag_status_details_t *details, bool close)
{
    if (c->phase >= P_LINGER)
        return;
    ag_h1c_disarm(c);
    ag_h1c_release_up(c, false);
    if (c->resp_head_sent) {
        ag_h1c_record(c, code);
        ag_h1c_close(c);
        return;
    }
    close = close || c->close_after || c->w->draining || !c->client_keepalive;
    ag_buf_clear(&c->out);
    if (status_response(&c->out, code, msg, details, close) != 0) {
        ag_h1c_close(c);
        return;
    }
    log_answer(c, code, msg);
    if (c->gate.req) { /* the audit event's responseStatus: the gateway's own Status */
        c->gate.status = code;
        c->gate.message = ag_str_cstr(msg);
    }
    ag_h1c_send_own(c, code, close);
}

/* ---- connection lifecycle ------------------------------------------------------- */

/* Connection structs live as long as their connection: packed in a slab (runtime/slab.h)
 * so the holes the handshake leaves do not keep an idle connection's pages resident. */
static ag_slab_t conn_slab = AG_SLAB_INIT(sizeof(conn_t));

static void conn_free(conn_t *c)
{
    ag_arena_dispose(&c->arena);
    ag_buf_dispose(&c->out);
    ag_buf_dispose(&c->lbody);
    ag_stream_dispose(&c->st);
    free(c->resp_hdrs);
    free(c->peer);
    ag_slab_free(&conn_slab, c);
}

static void recycle(conn_t *c)
{
    ag_worker_t *w = c->w;
    if (c->gate_pending) { /* the gate still holds &c->gate: free when it is done */
        c->free_on_gate = true;
        return;
    }
    free(c->peer);
    c->peer = NULL;
    if (w->nfree < MAX_POOLED_CONNS) {
        c->next_free = w->free_conns;
        w->free_conns = c;
        w->nfree++;
        return;
    }
    conn_free(c);
}

static void on_handle_closed(conn_t *c)
{
    if (--c->open_handles > 0)
        return;
    if (c->released)
        ag_metrics_gauge_add(AG_M_CONNS_RELEASED, -1);
    c->released = false;
    ag_link_remove(&c->link);
    c->w->nconns--;
    ag_metrics_gauge_add(AG_M_CONNS_OPEN, -1);
    recycle(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_handle_closed(h->data);
}

/* The connection leaves P_LINGER (for P_CLOSED). */
static void leave_linger(conn_t *c)
{
    if (c->phase == P_LINGER)
        ag_metrics_gauge_add(AG_M_CONNS_LINGERING, -1);
}

static void on_stream_closed(ag_stream_t *s, int status)
{
    conn_t *c = s->data;
    (void)status;
    if (!c->timer_closed) { /* closed after a flush: the timer goes with it */
        leave_linger(c);
        abandon_request(c);
        c->timer_closed = true;
        c->phase = P_CLOSED;
        c->gate.cancelled = true;
        ag_h1c_release_up(c, false);
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
    on_handle_closed(c);
}

/* A request the gate let through whose client left before the answer was complete:
 * still one audit event, with the status only if a response head went out. */
static void abandon_request(conn_t *c)
{
    if (c->gate.req && !c->gate.pending && c->phase >= P_CONNECT && c->phase < P_LINGER) {
        ag_gate_finished(&c->gate, c->resp_head_sent && c->gate.audit ? c->resp.status : 0);
        c->gate.req = NULL;
    }
}

void ag_h1c_close(conn_t *c)
{
    if (c->timer_closed)
        return;
    leave_linger(c);
    abandon_request(c);
    c->phase = P_CLOSED;
    c->gate.cancelled = true;
    ag_h1c_release_up(c, false);
    c->timer_closed = true;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    ag_stream_close(&c->st);
}

static void reset_request(conn_t *c)
{
    ag_arena_reset(&c->arena);
    memset(&c->req, 0, sizeof c->req);
    c->req.content_length = -1;
    c->hdrs =
        ag_arena_alloc(&c->arena, sizeof(ag_header_t) * (size_t)c->w->conf->limits.header_count);
    c->req.headers = c->hdrs;
    c->head_len = 0;
    c->req_done = c->is_head = false;
    c->client_keepalive = true;
    c->resp.status = c->resp.nhdrs = 0; /* no response yet (resp_start when forwarding) */
    c->resp.complete = false;
    c->resp_head_sent = c->resp_chunk_out = c->resp_close_out = false;
    c->up_reused = c->head_built = c->retry_ok = false;
    c->retries = 0;
    c->local = NULL;
    c->local_overflow = false;
    memset(&c->gate, 0, sizeof c->gate);
    c->gate.resume = on_gate_done; /* the one way back after any wait (gate.h) */
    c->gate.owner = c;
    ag_h1_req_init(&c->rq, &c->req, c->hdrs, c->w->conf->limits.header_count,
                   (size_t)c->w->conf->limits.url_bytes, ag_h1c_on_req_body, c);
}

/* Ready for the next request on a kept-alive connection. */
void ag_h1c_next(conn_t *c)
{
    reset_request(c);
    c->phase = P_HEAD;
    if (c->w->draining && c->st.rn == c->st.roff) {
        c->phase = P_CLOSED;
        ag_stream_close_after_flush(&c->st);
        return;
    }
    ag_h1c_arm(c, c->st.rn > c->st.roff ? T_HEAD : T_IDLE,
               c->st.rn > c->st.roff ? c->w->conf->timeouts.header_read_ms
                                     : c->w->conf->timeouts.idle_ms);
    c->idle_at = uv_now(c->timer.loop);
    ag_stream_read_start(&c->st);
    ag_h1c_drive(c);
}

/* ---- idle keep-alive connections give their buffers back ------------------------- */

/* A keep-alive connection waiting for its next request with nothing buffered and nothing
 * in flight holds, after IDLE_RELEASE_MS, no buffer of its own: the request arena (header
 * array), the head and response-header buffers, the stream's read and cork buffers and
 * the TLS input queue are freed, and set up again when the next request's first bytes
 * arrive (reacquire). What stays is the struct (slab) and the TLS session's keys (on
 * libcrypto's record layer; on mbedTLS's, its two record buffers stay as well). One
 * worker-wide sweep a second does it, not a timer per connection, so a busy connection
 * (never idle that long) frees and allocates nothing per request. */
static bool idle_releasable(const conn_t *c, uint64_t now)
{
    return !c->released && c->phase == P_HEAD && c->tkind == T_IDLE && !c->timer_closed &&
           !c->gate_pending && !c->up && c->st.rn == c->st.roff &&
           now - c->idle_at >= IDLE_RELEASE_MS;
}

static void release_idle(conn_t *c)
{
    ag_arena_dispose(&c->arena);
    c->hdrs = c->req.headers = NULL;
    ag_buf_dispose(&c->out);
    ag_buf_dispose(&c->lbody);
    free(c->resp_hdrs);
    c->resp_hdrs = NULL;
    ag_stream_release(&c->st);
    c->released = true;
    ag_metrics_gauge_add(AG_M_CONNS_RELEASED, 1);
}

static void reacquire(conn_t *c)
{
    c->released = false;
    ag_metrics_gauge_add(AG_M_CONNS_RELEASED, -1);
    reset_request(c); /* the header array again; the request state was already reset */
}

static void on_conn_sweep(uv_timer_t *t)
{
    ag_worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop);
    if (ag_link_empty(&w->conns)) {
        uv_timer_stop(t); /* started again by the next accept */
        return;
    }
    int n = 0;
    for (ag_link_t *l = w->conns.next; l != &w->conns; l = l->next) {
        conn_t *c = (conn_t *)((char *)l - offsetof(conn_t, link));
        if (idle_releasable(c, now)) {
            release_idle(c);
            n++;
        }
    }
    /* free() keeps the pages of chunks amid live ones: after a large release, hand whole
     * free pages back to the kernel. */
    if (n >= IDLE_TRIM_MIN)
        malloc_trim(0);
}

/* The gateway's answer was the last on this connection. When the client may still be
 * sending (its request was not read to its end, or more bytes wait), closing now would
 * make the kernel answer those bytes with a reset, which can destroy the answer before
 * the client reads it (RFC 9112 §9.6). So, as nginx's lingering_close: shut down the
 * writing side once the answer is out (TLS: close_notify first), then read and drop what
 * comes for at most timeouts.linger, timeouts.linger_idle between reads and
 * limits.linger_bytes in all, and close. The connection still counts against
 * limits.max_connections meanwhile. */
void ag_h1c_end(conn_t *c)
{
    const ag_config_t *conf = c->w->conf;
    bool unread = !(c->rq.complete || c->req_done) || c->st.rn > c->st.roff;
    ag_h1c_disarm(c);
    if (!unread || conf->timeouts.linger_ms == 0 || c->st.eof || c->st.werr) {
        c->phase = P_CLOSED;
        ag_stream_close_after_flush(&c->st);
        return;
    }
    c->phase = P_LINGER;
    c->linger_end = uv_now(c->timer.loop) + (uint64_t)conf->timeouts.linger_ms;
    c->linger_bytes = 0;
    ag_metrics_gauge_add(AG_M_CONNS_LINGERING, 1);
    ag_stream_shutdown(&c->st);
    ag_stream_read_start(&c->st);
    ag_h1c_drive(c); /* drops what is buffered, arms the deadline */
}

/* P_LINGER: whatever the client sends is dropped; the deadline never moves past
 * linger_end. */
static void linger_read(conn_t *c)
{
    ag_stream_t *s = &c->st;
    uint64_t now = uv_now(c->timer.loop);
    c->linger_bytes += s->rn - s->roff;
    s->roff = s->rn;
    if (c->linger_bytes > (uint64_t)c->w->conf->limits.linger_bytes || now >= c->linger_end) {
        ag_h1c_close(c);
        return;
    }
    uint64_t idle = (uint64_t)c->w->conf->timeouts.linger_idle_ms, left = c->linger_end - now;
    ag_h1c_arm(c, T_LINGER, (long long)(idle < left ? idle : left));
}

/* A request body slower than timeouts.body_min_rate after timeouts.body_grace. Logged at
 * most once a second per worker: a slow-POST attack opens many. */
static void slow_body(conn_t *c)
{
    static _Thread_local uint64_t logged_at;
    static _Thread_local unsigned quiet;
    const ag_config_timeouts_t *t = &c->w->conf->timeouts;
    uint64_t now = uv_now(c->timer.loop);
    ag_metrics_inc(AG_M_TIMEOUTS_BODY);
    if (logged_at && now - logged_at < 1000) {
        quiet++;
    } else {
        ag_warn("request body from %s too slow: %llu bytes in %llu ms (timeouts.body_grace "
                "%lld ms, body_min_rate %lld B/s): answered 408 and closed (worker %d; %u more "
                "since the last such line)",
                c->client_ip, (unsigned long long)c->body_bytes,
                (unsigned long long)(now - c->body_t0), t->body_grace_ms, t->body_min_rate,
                c->w->id, quiet);
        logged_at = now;
        quiet = 0;
    }
    ag_h1c_respond(c, 408, "timed out reading the request body", true);
}

/* The client read nothing of what is queued for it for timeouts.send: the connection and
 * its upstream connection (never pooled) are closed. Logged at most once a second per
 * worker: a slow-read attack opens many. */
static void send_timeout(conn_t *c)
{
    static _Thread_local ag_log_limit_t limit;
    unsigned held;
    ag_metrics_inc(AG_M_TIMEOUTS_SEND);
    if (ag_log_limit(&limit, uv_now(c->timer.loop), &held))
        ag_warn("client %s took nothing of %zu queued bytes for %lld ms (timeouts.send): "
                "closed with its upstream connection (worker %d; %u more since the last such "
                "line)",
                c->client_ip, ag_stream_queued(&c->st), c->w->conf->timeouts.send_ms, c->w->id,
                held);
    ag_h1c_close(c);
}

static void fire(conn_t *c, timer_kind_t k);

static void on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    uint64_t now = uv_now(t->loop);
    if (send_expired(c, now)) {
        send_timeout(c);
        return;
    }
    if (c->tkind != T_NONE && now >= c->due) {
        timer_kind_t k = c->tkind;
        c->tkind = T_NONE;
        fire(c, k);
    }
    if (c->timer_closed)
        return;
    if (c->tkind != T_NONE) /* re-armed later meanwhile, or by fire() */
        timer_at(c, c->due);
    if (c->send_due)
        timer_at(c, c->send_due);
}

static void fire(conn_t *c, timer_kind_t k)
{
    switch (k) {
    case T_IDLE:
        ag_h1c_close(c);
        break;
    case T_HEAD:
        if (c->phase == P_PREFACE && ag_preface_abort(&c->preface, true)) {
            ag_h1c_respond(c, 408, "timed out reading the PROXY protocol header", true);
        } else if (c->phase == P_LOCAL) { /* a local route's body has as long as a head */
            ag_metrics_inc(AG_M_TIMEOUTS_BODY);
            ag_h1c_respond(c, 408, "timed out reading the request body", true);
        } else if (c->st.rn > c->st.roff) {
            ag_metrics_inc(AG_M_TIMEOUTS_HEAD);
            ag_h1c_respond(c, 408, "timed out reading the request head", true);
        } else {
            ag_h1c_close(c);
        }
        break;
    case T_CONNECT:
        ag_metrics_upstream_error("timeout");
        ag_h1c_respond(c, 504, "timed out connecting to the upstream API server", true);
        break;
    case T_BODY:
        ag_metrics_inc(AG_M_TIMEOUTS_BODY);
        ag_h1c_respond(c, 408, "timed out reading the request body", true);
        break;
    case T_BODY_SLOW:
        slow_body(c);
        break;
    case T_LINGER:
        ag_h1c_close(c);
        break;
    case T_FIRST_BYTE:
        ag_metrics_upstream_error("timeout");
        ag_h1c_respond(c, 504, "timed out waiting for the upstream API server", true);
        break;
    case T_NONE:
        break;
    }
}

/* ---- after the pipeline ------------------------------------------------------ */

static void after_gate(conn_t *c, ag_gate_result r)
{
    if (r == AG_GATE_DENY) {
        bool has_body = c->req.chunked || c->req.content_length > 0 || c->req.upgrade;
        c->st.roff += c->head_len; /* consumed: a kept-alive connection reads the next head */
        respond_details(c, c->gate.status,
                        c->gate.message.p ? c->gate.message.p
                                          : ag_http_reason_phrase(c->gate.status),
                        c->gate.details.kind.n ? &c->gate.details : NULL, has_body);
        return;
    }
    const ag_route_t *rt = ag_routes_find(ag_h1c_routes(c), &c->req);
    const ag_config_webhooks_t *wh = &c->w->conf->webhooks;
    if (rt && (rt->flags & AG_ROUTE_WEBHOOK) && wh->address && !wh->serve_on_main)
        rt = NULL; /* served on the webhooks listener only: here a request like any other */
    if (rt) {
        ag_h1c_local_start(c, rt);
        return;
    }
    ag_h1c_forward(c);
}

/* ---- the head -------------------------------------------------------------------- */

/* g->resume: the end of a wait, the one way a request waits in either phase: the
 * pipeline's final result for a request parked in it (P_GATE), or a local route's
 * answer (P_LOCAL). */
static void on_gate_done(ag_gate_t *g, ag_gate_result r)
{
    conn_t *c = g->owner;
    c->gate_pending = false;
    g->pending = false;
    if (g->cancelled || (c->phase != P_GATE && c->phase != P_LOCAL)) {
        ag_buf_dispose(&c->lresp); /* a local answer nobody reads */
        if (c->free_on_gate) {
            c->free_on_gate = false;
            recycle(c);
        }
        return;
    }
    if (c->phase == P_LOCAL)
        ag_h1c_local_answer(c);
    else
        after_gate(c, r);
}

/* A complete head sits at rbuf[roff..roff+head_len]: check it, then gate it. */
static void handle_head(conn_t *c)
{
    ag_stream_t *s = &c->st;
    ag_str_t raw = ag_str_make(s->rbuf + s->roff, c->head_len);
    const char *reason = NULL;
    int bad = ag_h1_req_read_head(&c->rq, raw, &reason);
    if (bad) {
        ag_h1c_respond(c, bad, reason, true);
        return;
    }
    c->client_keepalive = c->rq.keepalive;
    c->gate.received_at = c->t_start = uv_hrtime();
    ag_canon_opts_t co = {c->w->self_authorities, c->w->nself};
    int st = ag_canon_check(&c->req, &co, &reason);
    if (c->webhook_only && (st == 0 || st == AG_CANON_OPTIONS_STAR)) {
        c->is_head = ag_str_eq_lit(c->req.method, "HEAD");
        ag_h1c_webhook_head(c); /* OPTIONS * included: nothing but the webhooks here (404) */
        return;
    }
    if (st == AG_CANON_OPTIONS_STAR && !c->req.chunked && c->req.content_length <= 0) {
        s->roff += c->head_len;
        ag_h1c_options_star(c);
        return;
    }
    if (st != 0) {
        ag_h1c_respond(c, st == AG_CANON_OPTIONS_STAR ? 400 : st, reason ? reason : "bad request",
                       true);
        return;
    }
    c->is_head = ag_str_eq_lit(c->req.method, "HEAD");
    ag_h1c_disarm(c);
    c->phase = P_GATE;
    c->gate.req = &c->req;
    static const ag_tls_peer_t no_peer; /* no verified client certificate */
    c->gate.peer = c->peer ? c->peer : &no_peer;
    c->gate.client_ip = ag_str_cstr(c->client_ip);
    c->gate.proxy_ip = c->preface.proxied ? ag_str_cstr(c->preface.peer) : AG_STR_NULL;
    c->gate.loop = &c->w->loop;
    c->gate.worker = c->w->id;
    c->gate.arena = &c->arena;
    c->gate.pipeline = c->w->pipeline;
    /* Reading goes on through a synchronous gate (no I/O happens in between); a parked
     * gate or a new upstream connection stops it, because a read may move the buffer the
     * head's slices point into. */
    ag_gate_result r = ag_pipeline_run(&c->gate);
    if (r == AG_GATE_PENDING) {
        c->gate_pending = c->gate.pending = true;
        ag_stream_read_stop(s);
        return;
    }
    after_gate(c, r);
}

static void parse_head(conn_t *c)
{
    ag_stream_t *s = &c->st;
    const ag_config_limits_t *lim = &c->w->conf->limits;
    size_t avail = s->rn - s->roff;
    if (avail == 0)
        return;
    if (c->tkind == T_IDLE || c->tkind == T_NONE)
        ag_h1c_arm(c, T_HEAD, c->w->conf->timeouts.header_read_ms);
    const char *reason = NULL;
    size_t end = 0;
    int st = ag_h1_head_frame(s->rbuf + s->roff, avail, (size_t)lim->header_bytes,
                              (size_t)lim->url_bytes, &end, &reason);
    if (st != 0) {
        ag_h1c_respond(c, st, reason, true);
        return;
    }
    if (end == 0)
        return; /* more bytes needed */
    c->head_len = end;
    handle_head(c);
}

/* One step for the current phase. */
/* P_PREFACE: the bytes before TLS or HTTP (preface.h). A header accepted, TLS starts on
 * what follows it (the stream feeds the rest of the read buffer to the handshake), or the
 * head is read from the same buffer. */
static void read_preface(conn_t *c)
{
    ag_stream_t *s = &c->st;
    const char *msg = NULL;
    size_t used = 0;
    switch (ag_preface_take(&c->preface, s->rbuf + s->roff, s->rn - s->roff, &used, c->client_ip,
                            sizeof c->client_ip, &msg)) {
    case AG_PREFACE_WAIT:
        return;
    case AG_PREFACE_REFUSE:
        ag_h1c_respond(c, 400, msg, true); /* plain text: no TLS was started */
        return;
    case AG_PREFACE_PASS:
        break;
    }
    s->roff += used;
    c->phase = P_HEAD;
    if (!c->tls_later) {
        c->redrive = true; /* the head may be in the buffer already */
        return;
    }
    c->tls_later = false;
    /* taken now, not at accept: a context replaced meanwhile may be gone (tls_reload.h) */
    ag_tls_ctx_t *tls = ag_tls_ctx_take(&c->w->tls_server, &c->w->tls_server_next);
    if (ag_stream_start_tls(s, tls) != 0)
        ag_h1c_close(c);
}

static void drive_once(conn_t *c)
{
    switch (c->phase) {
    case P_PREFACE:
        read_preface(c);
        break;
    case P_HEAD:
        parse_head(c);
        break;
    case P_BODY:
        ag_h1c_read_body(c);
        break;
    case P_LOCAL:
        ag_h1c_local_read(c);
        break;
    case P_LINGER:
        linger_read(c);
        break;
    case P_TUNNEL:
        ag_h1c_tunnel_read(c);
        break;
    default:
        /* WAIT: pipelined bytes stay buffered until the response is done. */
        break;
    }
}

/* Runs the connection until it waits for I/O. Answers that complete synchronously (a
 * denied or refused pipelined request) start the next request from inside the previous
 * one; the nested call only flags another round here, so a buffer full of pipelined
 * requests is a loop, never a recursion as deep as the pipeline. */
void ag_h1c_drive(conn_t *c)
{
    if (c->in_drive) {
        c->redrive = true;
        return;
    }
    c->in_drive = true;
    do {
        c->redrive = false;
        drive_once(c);
    } while (c->redrive && c->phase != P_CLOSED);
    c->in_drive = false;
}

/* ---- client stream callbacks ---------------------------------------------------- */

static void on_client_read(ag_stream_t *s, int status)
{
    conn_t *c = s->data;
    if (c->phase == P_CLOSED)
        return;
    if (status < 0) {
        /* The client went away (or broke TLS): whatever is in flight is abandoned. */
        if (c->phase == P_PREFACE)
            ag_preface_abort(&c->preface, false);
        if (c->phase == P_TUNNEL && c->up) {
            ag_stream_close_after_flush(&c->up->st);
            ag_h1c_release_up(c, false);
        }
        ag_h1c_close(c);
        return;
    }
    if (c->released)
        reacquire(c);
    ag_h1c_drive(c);
}

static void on_client_drain(ag_stream_t *s, int status)
{
    conn_t *c = s->data;
    (void)status;
    if (c->up && c->phase != P_CLOSED && c->phase != P_CONNECT)
        ag_stream_read_start(&c->up->st);
}

static void on_client_ready(ag_stream_t *s, int status)
{
    conn_t *c = s->data;
    if (status < 0) {
        ag_metrics_inc(AG_M_TLS_HANDSHAKE_ERRORS);
        ag_log(AG_LOG_DEBUG, "TLS handshake with %s failed", c->client_ip);
        ag_h1c_close(c);
        return;
    }
    if (s->tls)
        ag_metrics_inc(ag_tls_record_layer(s->tls) == AG_TLS_RECORD_LIBCRYPTO
                           ? AG_M_TLS_RECORD_LIBCRYPTO
                           : AG_M_TLS_RECORD_MBEDTLS);
    if (s->tls && !c->peer) {
        ag_tls_peer_t peer; /* kept only when there is one: 2.3 KiB */
        ag_tls_peer(s->tls, &peer);
        if (peer.verified && !(c->peer = malloc(sizeof peer))) {
            ag_h1c_close(c);
            return;
        }
        if (peer.verified)
            *c->peer = peer;
    }
    ag_stream_read_start(s);
}

static conn_t *conn_get(ag_worker_t *w)
{
    conn_t *c = w->free_conns;
    if (c) {
        w->free_conns = c->next_free;
        w->nfree--;
        return c;
    }
    c = ag_slab_calloc(&conn_slab);
    if (!c)
        return NULL;
    ag_arena_init(&c->arena, 8 * 1024, 1u << 20);
    c->out = AG_BUF_INIT(1u << 20);
    return c;
}

static atomic_int fault_conn, fault_stream; /* ag_http1_inject_accept_faults */

void ag_http1_inject_accept_faults(int conn, int stream)
{
    atomic_store(&fault_conn, conn);
    atomic_store(&fault_stream, stream);
}

static bool take_fault(atomic_int *f)
{
    int n = atomic_load_explicit(f, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(f, &n, n - 1))
        ;
    return n > 0;
}

/* A connection that could not be set up: closed at once (the client sees the close). */
static void refuse(int fd)
{
    close(fd);
    ag_acceptor_setup_failed();
}

static void accept_on(ag_worker_t *w, int fd, ag_tls_ctx_t *tls, bool webhook_only)
{
    conn_t *c = take_fault(&fault_conn) ? NULL : conn_get(w);
    size_t rcap = (size_t)w->conf->limits.header_bytes + RBUF_SLACK;
    if (!c) {
        refuse(fd);
        return;
    }
    c->w = w; /* before recycle() below, which pools by worker */
    if (take_fault(&fault_stream) ||
        ag_stream_init(&c->st, &w->loop, rcap, w->scratch, AG_WORKER_SCRATCH) != 0) {
        recycle(c); /* its stream handle was not initialized: nothing to close */
        refuse(fd);
        return;
    }
    c->st.data = c;
    c->st.on_ready = on_client_ready;
    c->st.on_read = on_client_read;
    c->st.on_drain = on_client_drain;
    c->st.on_close = on_stream_closed;
    c->st.on_wblock = send_arm;
    c->send_due = 0;
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 2;
    c->timer_closed = false;
    c->gate_pending = c->free_on_gate = c->close_after = c->in_drive = c->redrive = false;
    c->up = NULL;
    c->peer = NULL;
    c->released = false;
    c->webhook_only = webhook_only;
    c->tls_later = !webhook_only && tls; /* main: TLS after the preface */
    ag_link_init(&c->link);
    ag_link_push(&w->conns, &c->link);
    w->nconns++;
    if (!uv_is_active((uv_handle_t *)&w->conn_sweep)) {
        w->conn_sweep.data = w;
        uv_timer_start(&w->conn_sweep, on_conn_sweep, IDLE_RELEASE_MS, IDLE_RELEASE_MS);
    }
    ag_metrics_gauge_add(AG_M_CONNS_OPEN, 1);
    reset_request(c);
    c->phase = webhook_only ? P_HEAD : P_PREFACE;
    /* covers the PROXY header and the TLS handshake too */
    ag_h1c_arm(c, T_HEAD, w->conf->timeouts.header_read_ms);
    /* owns fd from here, success or not */
    int rc = ag_stream_accept(&c->st, fd, webhook_only ? tls : NULL);
    if (rc < 0 || w->nconns > w->conf->limits.max_connections || w->draining) {
        ag_h1c_close(c);
        return;
    }
    struct sockaddr_storage peer;
    bool known = !webhook_only && ag_stream_peer_addr(&c->st, &peer) == 0;
    ag_preface_begin(&c->preface, &w->conf->listen, known ? (struct sockaddr *)&peer : NULL);
    ag_stream_peer_ip(&c->st, c->client_ip, sizeof c->client_ip);
}

void ag_http1_accept(ag_worker_t *w, int fd)
{
    accept_on(w, fd, ag_tls_ctx_take(&w->tls_server, &w->tls_server_next), false);
}

void ag_http1_accept_webhook(ag_worker_t *w, int fd)
{
    /* tls_webhooks is always set with the listener: a webhook connection is never plain */
    accept_on(w, fd, ag_tls_ctx_take(&w->tls_webhooks, &w->tls_webhooks_next), true);
}

void ag_http1_drain(ag_worker_t *w)
{
    for (ag_link_t *l = w->conns.next, *next; l != &w->conns; l = next) {
        next = l->next;
        conn_t *c = (conn_t *)((char *)l - offsetof(conn_t, link));
        if (((c->phase == P_HEAD || c->phase == P_PREFACE) && c->st.rn == c->st.roff) ||
            c->phase == P_LINGER)
            ag_h1c_close(c); /* idle keep-alive, or answered already */
        else
            c->close_after = true;
    }
}

void ag_http1_stop(ag_worker_t *w)
{
    for (ag_link_t *l = w->conns.next, *next; l != &w->conns; l = next) {
        next = l->next;
        ag_h1c_close((conn_t *)((char *)l - offsetof(conn_t, link)));
    }
}

void ag_http1_free_pool(ag_worker_t *w)
{
    while (w->free_conns) {
        conn_t *c = w->free_conns;
        w->free_conns = c->next_free;
        conn_free(c);
    }
    w->nfree = 0;
}
