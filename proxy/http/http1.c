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
 * and never rewrites headers itself (core/http/forward.c does). Head framing and the request
 * and response parsers (llhttp) are proxy/http/http1_parse.c, shared with the fuzz target.
 * Longer than 800 lines on purpose: requests and responses share the connection. */
#include "http/http1.h"

#include <malloc.h> /* malloc_trim (glibc) */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "http/canon.h"
#include "http/forward.h"
#include "http/gate.h"
#include "http/headers.h"
#include "http/http1_parse.h"
#include "http/httpreq.h"
#include "http/pipeline.h"
#include "http/status.h"
#include "net/preface.h"
#include "net/stream.h"
#include "net/upstream.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define MAX_POOLED_CONNS 256
#define WRITE_HIGH (256 * 1024) /* stop reading the other side above this much queued */
#define RESP_MAX_HEADERS 256    /* response header lines relayed; more is a 502 */
#define RBUF_SLACK 4096         /* read buffer beyond limits.header_bytes */
#define IDLE_RELEASE_MS 1000    /* an idle keep-alive connection gives its buffers back */
#define IDLE_TRIM_MIN 64        /* releases in one sweep that are worth a malloc_trim */

/* P_LINGER: answered and closing; reads what the client still sends (lingering_close). */
typedef enum {
    P_PREFACE,
    P_HEAD,
    P_GATE,
    P_CONNECT,
    P_BODY,
    P_WAIT,
    P_TUNNEL,
    P_LOCAL,
    P_LINGER,
    P_CLOSED
} phase_t;
typedef enum {
    T_NONE,
    T_HEAD,
    T_IDLE,
    T_CONNECT,
    T_FIRST_BYTE,
    T_BODY,
    T_BODY_SLOW,
    T_LINGER
} timer_kind_t;

typedef struct conn {
    ag_stream_t st;
    uv_timer_t timer;
    int open_handles; /* st + timer; the struct is recycled when both closed */
    ag_link_t link;
    struct conn *next_free;
    ag_worker_t *w;
    phase_t phase;
    timer_kind_t tkind;
    uint64_t due, timer_due; /* loop ms: the armed deadline; what the uv timer is set for */
    uint64_t send_due;       /* timeouts.send, beside the deadline above: 0 or loop ms */
    uint64_t send_done;      /* ag_stream_wdone(&st) when progress was last seen */
    ag_h1_req_t rq;          /* the request parser (http1_parse.h) */
    ag_h1_resp_t resp;       /* the response parser (http1_parse.h) */
    ag_arena_t arena;        /* request lifetime */
    ag_http_req_t req;
    ag_header_t *hdrs; /* arena, limits.header_count entries */
    size_t head_len;
    bool req_done, client_keepalive, is_head, close_after;
    bool timer_closed, gate_pending, free_on_gate, in_drive, redrive;
    bool released;    /* idle: buffers given back (release_idle), hdrs NULL */
    uint64_t idle_at; /* loop ms: when it began waiting for its next request */
    ag_gate_t gate;
    ag_tls_peer_t *peer;  /* the verified client certificate; NULL: none */
    char client_ip[64];   /* the peer, or the client a trusted PROXY header names */
    ag_preface_t preface; /* P_PREFACE: the TCP peer and whether it is trusted */
    bool tls_later;       /* P_PREFACE: TLS starts after the header */
    ag_buf_t out;         /* heads being written (reused) */
    ag_upconn_t *up;
    bool up_reused, head_built, retry_ok;
    int retries;
    /* response */
    ag_header_t *resp_hdrs; /* RESP_MAX_HEADERS entries, allocated at the first response */
    bool resp_head_sent, resp_chunk_out, resp_close_out;
    uint64_t t_start;
    /* request body pace (P_BODY): the deadline is body_t0 + body_grace + body_bytes /
     * body_min_rate; time the gateway itself does not read (upstream backpressure) moves
     * body_t0 on. P_LINGER: linger_end (loop ms) and the bytes discarded so far. */
    uint64_t body_t0, body_paused_at, body_bytes;
    uint64_t linger_end, linger_bytes;
    /* a local route (webhook) being answered */
    const ag_route_t *local;
    ag_buf_t lbody;      /* its request body (reused; capped per route) */
    ag_local_req_t lreq; /* the handler's view (lives until answered) */
    ag_buf_t lresp;      /* its response body */
    bool local_overflow;
    bool webhook_only; /* accepted on the "webhooks" listener (ag_http1_accept_webhook) */
} conn_t;

static void drive(conn_t *c);
static void close_conn(conn_t *c);
static void abandon_request(conn_t *c);
static void start_next(conn_t *c);
static void end_conn(conn_t *c);
static void on_up_read(ag_stream_t *s, int status);
static void on_up_drain(ag_stream_t *s, int status);
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

static void arm(conn_t *c, timer_kind_t k, long long ms)
{
    c->tkind = k;
    c->due = uv_now(c->timer.loop) + (uint64_t)(ms > 0 ? ms : 1);
    timer_at(c, c->due);
}

static void disarm(conn_t *c)
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
static void record(conn_t *c, int code)
{
    ag_metrics_request(code, c->t_start ? uv_hrtime() - c->t_start : 0);
    c->t_start = 0;
    if (c->gate.req && !c->gate.pending) { /* once per gated request (audit) */
        ag_gate_finished(&c->gate, code);
        c->gate.req = NULL;
    }
}

static void release_up(conn_t *c, bool reusable)
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

static void respond(conn_t *c, int code, const char *msg, bool close)
{
    respond_details(c, code, msg, NULL, close);
}

/* A complete response with a body of media <type> (NULL: JSON), the gateway's own answers. */
static ag_err body_response(ag_buf_t *out, int code, const char *type, ag_str_t body, bool close)
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
    return body_response(out, code, NULL, body, close);
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
static void send_own(conn_t *c, int code, bool close)
{
    record(c, code);
    ag_stream_write1(&c->st, c->out.p, c->out.n);
    if (close) {
        end_conn(c);
        return;
    }
    start_next(c);
}

static void respond_details(conn_t *c, int code, const char *msg,
                            const ag_status_details_t *details, bool close)
{
    if (c->phase >= P_LINGER)
        return;
    disarm(c);
    release_up(c, false);
    if (c->resp_head_sent) {
        record(c, code);
        close_conn(c);
        return;
    }
    close = close || c->close_after || c->w->draining || !c->client_keepalive;
    ag_buf_clear(&c->out);
    if (status_response(&c->out, code, msg, details, close) != 0) {
        close_conn(c);
        return;
    }
    log_answer(c, code, msg);
    if (c->gate.req) { /* the audit event's responseStatus: the gateway's own Status */
        c->gate.status = code;
        c->gate.message = ag_str_cstr(msg);
    }
    send_own(c, code, close);
}

static void respond_options_star(conn_t *c)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, "
                               "OPTIONS\r\nContent-Length: 0\r\n\r\n";
    record(c, 200);
    ag_stream_write1(&c->st, resp, sizeof resp - 1);
    if (!c->client_keepalive || c->w->draining) {
        end_conn(c);
        return;
    }
    start_next(c);
}

/* Body bytes, as one chunk when the outgoing message is chunked. */
static void write_body(ag_stream_t *s, const char *at, size_t n, bool chunked)
{
    if (!chunked) {
        ag_stream_write1(s, at, n);
        return;
    }
    char size[24];
    int k = snprintf(size, sizeof size, "%zx\r\n", n);
    uv_buf_t b[3] = {uv_buf_init(size, (unsigned)k), uv_buf_init((char *)at, (unsigned)n),
                     uv_buf_init("\r\n", 2)};
    ag_stream_write(s, b, 3);
}

/* Body bytes go straight to the upstream, re-framed as the head said (core/http/forward.c
 * writes "Transfer-Encoding: chunked" for chunked requests, Content-Length otherwise). */
static void on_req_body(void *ud, const char *at, size_t n)
{
    conn_t *c = ud;
    if (c->local) {
        if (!c->local_overflow && ag_buf_append(&c->lbody, at, n) != 0)
            c->local_overflow = true; /* answered 413 once the parser returns */
        return;
    }
    if (!c->up || n == 0)
        return;
    write_body(&c->up->st, at, n, c->req.chunked);
}

/* Response body bytes, relayed as they arrive (re-chunked when the client gets chunks). */
static void on_resp_body(void *ud, const char *at, size_t n)
{
    conn_t *c = ud;
    if (c->phase != P_CLOSED)
        write_body(&c->st, at, n, c->resp_chunk_out);
}

/* A fresh response parser for the request on <c>. */
static void resp_start(conn_t *c)
{
    if (!c->resp_hdrs) /* kept while the connection is busy; failing, any header is a 502 */
        c->resp_hdrs = malloc(sizeof(ag_header_t) * RESP_MAX_HEADERS);
    ag_h1_resp_init(&c->resp, c->resp_hdrs, c->resp_hdrs ? RESP_MAX_HEADERS : 0, c->is_head,
                    on_resp_body, c);
}

/* ---- connection lifecycle ------------------------------------------------------- */

static void conn_free(conn_t *c)
{
    ag_arena_dispose(&c->arena);
    ag_buf_dispose(&c->out);
    ag_buf_dispose(&c->lbody);
    ag_stream_dispose(&c->st);
    free(c->resp_hdrs);
    free(c->peer);
    free(c);
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
        release_up(c, false);
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

static void close_conn(conn_t *c)
{
    if (c->timer_closed)
        return;
    leave_linger(c);
    abandon_request(c);
    c->phase = P_CLOSED;
    c->gate.cancelled = true;
    release_up(c, false);
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
    ag_h1_req_init(&c->rq, &c->req, c->hdrs, c->w->conf->limits.header_count,
                   (size_t)c->w->conf->limits.url_bytes, on_req_body, c);
}

/* Ready for the next request on a kept-alive connection. */
static void start_next(conn_t *c)
{
    reset_request(c);
    c->phase = P_HEAD;
    if (c->w->draining && c->st.rn == c->st.roff) {
        c->phase = P_CLOSED;
        ag_stream_close_after_flush(&c->st);
        return;
    }
    arm(c, c->st.rn > c->st.roff ? T_HEAD : T_IDLE,
        c->st.rn > c->st.roff ? c->w->conf->timeouts.header_read_ms : c->w->conf->timeouts.idle_ms);
    c->idle_at = uv_now(c->timer.loop);
    ag_stream_read_start(&c->st);
    drive(c);
}

/* ---- idle keep-alive connections give their buffers back ------------------------- */

/* A keep-alive connection waiting for its next request with nothing buffered and nothing
 * in flight holds, after IDLE_RELEASE_MS, no buffer of its own: the request arena (header
 * array), the head and response-header buffers, the stream's read and cork buffers and
 * the TLS input queue are freed, and set up again when the next request's first bytes
 * arrive (reacquire). What stays is the struct and mbedTLS's two record buffers. One
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
    /* free() keeps the pages of chunks amid live ones (every connection's mbedTLS buffers
     * stay): after a large release, hand whole free pages back to the kernel. */
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
static void end_conn(conn_t *c)
{
    const ag_config_t *conf = c->w->conf;
    bool unread = !(c->rq.complete || c->req_done) || c->st.rn > c->st.roff;
    disarm(c);
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
    drive(c); /* drops what is buffered, arms the deadline */
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
        close_conn(c);
        return;
    }
    uint64_t idle = (uint64_t)c->w->conf->timeouts.linger_idle_ms, left = c->linger_end - now;
    arm(c, T_LINGER, (long long)(idle < left ? idle : left));
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
    respond(c, 408, "timed out reading the request body", true);
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
    close_conn(c);
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
        close_conn(c);
        break;
    case T_HEAD:
        if (c->phase == P_PREFACE && ag_preface_abort(&c->preface, true)) {
            respond(c, 408, "timed out reading the PROXY protocol header", true);
        } else if (c->phase == P_LOCAL) { /* a local route's body has as long as a head */
            ag_metrics_inc(AG_M_TIMEOUTS_BODY);
            respond(c, 408, "timed out reading the request body", true);
        } else if (c->st.rn > c->st.roff) {
            ag_metrics_inc(AG_M_TIMEOUTS_HEAD);
            respond(c, 408, "timed out reading the request head", true);
        } else {
            close_conn(c);
        }
        break;
    case T_CONNECT:
        ag_metrics_upstream_error("timeout");
        respond(c, 504, "timed out connecting to the upstream API server", true);
        break;
    case T_BODY:
        ag_metrics_inc(AG_M_TIMEOUTS_BODY);
        respond(c, 408, "timed out reading the request body", true);
        break;
    case T_BODY_SLOW:
        slow_body(c);
        break;
    case T_LINGER:
        close_conn(c);
        break;
    case T_FIRST_BYTE:
        ag_metrics_upstream_error("timeout");
        respond(c, 504, "timed out waiting for the upstream API server", true);
        break;
    case T_NONE:
        break;
    }
}

/* ---- forwarding ----------------------------------------------------------------- */

static void check_request_backpressure(conn_t *c)
{
    if (c->up && ag_stream_queued(&c->up->st) > WRITE_HIGH)
        ag_stream_read_stop(&c->st);
}

/* Feeds buffered body bytes to the request parser (BODY phase). */
static void parse_body_corked(conn_t *c);

static bool body_timer_armed(const conn_t *c)
{
    return c->tkind == T_BODY || c->tkind == T_BODY_SLOW;
}

/* A client that stops sending a body it announced holds a connection and an upstream
 * connection: it gets timeouts.idle between reads (slowloris) and, since a byte now and
 * then would reset that, a deadline it cannot push faster than it sends: body_grace plus
 * one second per body_min_rate bytes (slow POST; Apache mod_reqtimeout's body=,MinRate=).
 * Both count only while the gateway itself is reading (backpressure from a slow upstream
 * is not the client's). */
static void body_timer(conn_t *c)
{
    const ag_config_timeouts_t *t = &c->w->conf->timeouts;
    uint64_t now = uv_now(c->timer.loop);
    if (c->phase != P_BODY || c->req_done || !c->st.want_read) {
        if (c->phase == P_BODY && !c->req_done && !c->body_paused_at)
            c->body_paused_at = now;
        if (body_timer_armed(c))
            disarm(c);
        return;
    }
    if (c->body_paused_at) {
        c->body_t0 += now - c->body_paused_at;
        c->body_paused_at = 0;
    }
    uint64_t pace = c->body_t0 + (uint64_t)t->body_grace_ms;
    if (t->body_min_rate > 0)
        pace += c->body_bytes * 1000 / (uint64_t)t->body_min_rate;
    if (pace < now + (uint64_t)t->idle_ms)
        arm(c, T_BODY_SLOW, pace > now ? (long long)(pace - now) : 0);
    else
        arm(c, T_BODY, t->idle_ms);
}

/* Request body bytes (and the chunk framing) leave for the upstream in as few writes as
 * possible. */
static void parse_body(conn_t *c)
{
    ag_upconn_t *u = c->up;
    if (u)
        ag_stream_cork(&u->st);
    parse_body_corked(c);
    if (u)
        ag_stream_uncork(&u->st); /* u's memory lives until its close callback */
    if (u && u == c->up && u->st.werr && c->phase != P_CLOSED) {
        ag_metrics_upstream_error("reset");
        respond(c, 502, "the upstream API server closed the connection", true);
    }
}

static void parse_body_corked(conn_t *c)
{
    ag_stream_t *s = &c->st;
    size_t used;
    const char *reason;
    if (ag_h1_req_body(&c->rq, s->rbuf + s->roff, s->rn - s->roff, &used, &reason) != 0) {
        ag_log(AG_LOG_DEBUG, "bad request body from %s: %s", c->client_ip, reason);
        c->close_after = true;
        respond(c, 400, "malformed request body", true);
        return;
    }
    s->roff += used;
    c->body_bytes += used; /* framing included: bytes the client sent */
    if (c->phase >= P_LINGER)
        return;
    if (c->rq.complete && !c->req_done) {
        c->req_done = true;
        if (c->req.chunked && c->up)
            ag_stream_write1(&c->up->st, "0\r\n\r\n", 5);
        c->phase = P_WAIT;
        if (!c->resp_head_sent && c->resp.status == 0)
            arm(c, T_FIRST_BYTE, c->w->conf->timeouts.upstream_first_byte_ms);
    }
    check_request_backpressure(c);
    body_timer(c);
}

static void send_request(conn_t *c)
{
    ag_worker_t *w = c->w;
    ag_upconn_t *u = c->up;
    ag_forward_opts_t fo = {
        .upstream_host = w->conf->upstream.authority,
        .credential = AG_STR_NULL, /* entered around ag_forward_head below */
        .identity = c->gate.identity,
        .client_ip = ag_str_cstr(c->client_ip),
        .client_tls = w->tls_server != NULL,
    };
    disarm(c);
    if (c->head_built) { /* a retry on a fresh connection: the same bytes again */
        u->st.on_read = on_up_read;
        u->st.on_drain = on_up_drain;
        resp_start(c);
        ag_stream_write1(&u->st, c->out.p, c->out.n);
        ag_stream_read_start(&u->st);
        c->phase = P_WAIT;
        arm(c, T_FIRST_BYTE, w->conf->timeouts.upstream_first_byte_ms);
        return;
    }
    ag_buf_clear(&c->out);
    fo.credential = ag_credential_enter(w->credential);
    ag_err err = ag_forward_head(&c->req, &fo, &c->out); /* copies the credential */
    ag_credential_leave(w->credential);
    if (err) {
        ag_log(AG_LOG_ERROR, "cannot forward request from %s: %s (worker %d)", c->client_ip,
               ag_err_str(err), w->id);
        respond(c, 500, "internal error while forwarding the request", true);
        return;
    }
    c->head_built = true;
    c->retry_ok = !c->req.upgrade && !c->req.chunked && c->req.content_length <= 0 &&
                  (ag_str_eq_lit(c->req.method, "GET") || ag_str_eq_lit(c->req.method, "HEAD") ||
                   ag_str_eq_lit(c->req.method, "OPTIONS"));
    u->st.on_read = on_up_read;
    u->st.on_drain = on_up_drain;
    ag_stream_cork(&u->st); /* head and the body bytes already here: one write */
    resp_start(c);
    ag_stream_write1(&u->st, c->out.p, c->out.n);
    c->st.roff += c->head_len; /* the head is consumed; its slices are not used again */
    c->req.headers = NULL;
    c->req.nheaders = 0;
    c->phase = P_BODY;
    c->body_t0 = uv_now(c->timer.loop);
    c->body_paused_at = c->body_bytes = 0;
    ag_stream_read_start(&u->st);
    if (c->req.upgrade) {
        /* Nothing after an upgrade request's head is HTTP: it waits for the 101. */
        c->req_done = true;
        c->phase = P_WAIT;
        arm(c, T_FIRST_BYTE, w->conf->timeouts.upstream_first_byte_ms);
        ag_stream_uncork(&u->st);
        ag_stream_read_start(&c->st);
        return;
    }
    parse_body(c);
    ag_stream_uncork(&u->st);
    if (c->phase == P_BODY || c->phase == P_WAIT)
        ag_stream_read_start(&c->st);
    check_request_backpressure(c);
    body_timer(c); /* reading may only have resumed just now */
}

static void on_up_connected(void *owner, ag_upconn_t *u, int status)
{
    conn_t *c = owner;
    if (c->phase != P_CONNECT) /* cancelled: release_up already gave it back */
        return;
    if (status < 0 || !u) {
        c->up = NULL;
        /* kube-apiserver's proxy answers an unreachable backend 503 ServiceUnavailable */
        respond(c, 503,
                status == UV_EPROTO ? "TLS handshake with the upstream API server failed"
                                    : "cannot connect to the upstream API server",
                true);
        return;
    }
    send_request(c);
}

static void start_forward(conn_t *c)
{
    ag_upconn_t *u = NULL;
    c->up_reused = false;
    int rc = ag_upstream_acquire(c->w, c, on_up_connected, &u);
    if (rc < 0) {
        respond(c, 503, "cannot connect to the upstream API server", true);
        return;
    }
    c->up = u;
    if (rc == 0) {
        c->up_reused = true;
        ag_metrics_inc(AG_M_UPSTREAM_REUSED);
        send_request(c);
        return;
    }
    c->phase = P_CONNECT;
    ag_stream_read_stop(&c->st);
    arm(c, T_CONNECT, c->w->conf->timeouts.upstream_connect_ms);
}

/* ---- local routes ----------------------------------------------------------------- */

/* The routes of the pipeline this connection's worker runs (NULL: none). */
static const ag_routes_t *routes_of(const conn_t *c)
{
    return c->w->pipeline ? &c->w->pipeline->routes : NULL;
}

static ag_str_t arena_copy(conn_t *c, ag_str_t v)
{
    char *p = ag_arena_cstr(&c->arena, v);
    return p ? ag_str_make(p, v.n) : AG_STR("");
}

/* The value of request header <name> copied into the arena (empty when absent). */
static ag_str_t header_copy(conn_t *c, const char *name)
{
    for (int i = 0; i < c->req.nheaders; i++)
        if (ag_str_ieq(c->req.headers[i].name, ag_str_cstr(name)))
            return arena_copy(c, c->req.headers[i].value);
    return AG_STR("");
}

/* The whole body is here: the handler answers. */
static void finish_local(conn_t *c)
{
    ag_local_req_t *r = &c->lreq;
    if (!c->lresp.n) {
        ag_buf_dispose(&c->lresp);
        respond(c, r->status >= 400 ? r->status : 500, "internal error", false);
        return;
    }
    bool close = c->close_after || c->w->draining || !c->client_keepalive;
    disarm(c);
    ag_buf_clear(&c->out);
    if (body_response(&c->out, r->status, r->response_type, ag_buf_str(&c->lresp), close) != 0) {
        ag_buf_dispose(&c->lresp);
        respond(c, 500, "internal error", true);
        return;
    }
    ag_buf_dispose(&c->lresp);
    send_own(c, r->status, close);
}

static void answer_local(conn_t *c)
{
    c->lresp = AG_BUF_INIT(4u << 20);
    c->lreq.body = ag_buf_str(&c->lbody);
    c->lreq.identity = c->gate.identity;
    c->lreq.arena = &c->arena;
    c->lreq.worker = c->w->id;
    c->lreq.status = 500;
    c->lreq.response = &c->lresp;
    c->lreq.loop = &c->w->loop;
    c->lreq.gate = &c->gate;
    c->gate.resume = on_gate_done;
    c->gate.owner = c;
    if (c->local->fn(&c->lreq, c->local->ud) == AG_GATE_PENDING) {
        disarm(c);
        c->gate_pending = true; /* held like a parked step: a close defers the free */
        return;
    }
    finish_local(c);
}

/* P_LOCAL: feeds body bytes to the parser (on_req_body collects them). */
static void parse_local(conn_t *c)
{
    ag_stream_t *s = &c->st;
    size_t used;
    const char *reason;
    if (ag_h1_req_body(&c->rq, s->rbuf + s->roff, s->rn - s->roff, &used, &reason) != 0) {
        respond(c, 400, "malformed request body", true);
        return;
    }
    s->roff += used;
    if (c->local_overflow) {
        respond(c, 413, "request body too large", true);
        return;
    }
    if (c->rq.complete) {
        ag_stream_read_stop(s); /* pipelined bytes wait for start_next */
        answer_local(c);
    }
}

static void start_local(conn_t *c, const ag_route_t *rt)
{
    if (c->req.upgrade) {
        respond(c, 400, "upgrade is not supported here", true);
        return;
    }
    if (c->req.content_length > 0 && (size_t)c->req.content_length > rt->max_body) {
        respond(c, 413, "request body too large", true);
        return;
    }
    c->local = rt;
    c->local_overflow = false;
    c->lreq = (ag_local_req_t){.content_type = header_copy(c, "content-type"),
                               .accept = header_copy(c, "accept"),
                               .path = arena_copy(c, c->req.path)};
    c->lbody.max = rt->max_body;
    ag_buf_clear(&c->lbody);
    c->st.roff += c->head_len; /* consumed: the head's slices are not used again */
    c->req.headers = NULL;
    c->req.nheaders = 0;
    if (c->req.expect_continue && !c->rq.complete)
        ag_stream_write1(&c->st, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c->phase = P_LOCAL;
    arm(c, T_HEAD, c->w->conf->timeouts.header_read_ms); /* the body has as long as a head */
    ag_stream_read_start(&c->st);
    drive(c);
}

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
    const ag_route_t *rt = ag_routes_find(routes_of(c), &c->req);
    const ag_config_webhooks_t *wh = &c->w->conf->webhooks;
    if (rt && (rt->flags & AG_ROUTE_WEBHOOK) && wh->address && !wh->serve_on_main)
        rt = NULL; /* served on the webhooks listener only: here a request like any other */
    if (rt) {
        start_local(c, rt);
        return;
    }
    start_forward(c);
}

/* ---- the "webhooks" listener ---------------------------------------------------------- */

/* The caller of a webhook-only connection: the verified client certificate's CN as the
 * username, its O values as groups (as the API server's x509 authenticator does), when
 * the CN is among webhooks.callers (if given). Returns 0, or the status to answer. The
 * TLS layer already refused a handshake without a certificate from webhooks.tls.client_ca;
 * the check is repeated here so a configuration slip fails closed. */
static int webhook_caller(conn_t *c, ag_identity_t *id)
{
    const ag_config_webhooks_t *wh = &c->w->conf->webhooks;
    const ag_tls_peer_t *peer = c->peer;
    if (!peer || !peer->verified || !peer->cn[0])
        return 401;
    ag_str_t cn = ag_str_cstr(peer->cn);
    bool listed = wh->ncallers == 0;
    for (int i = 0; !listed && i < wh->ncallers; i++)
        listed = ag_str_eq(wh->callers[i], cn);
    if (!listed) {
        ag_warn("webhooks listener: refused %s: certificate CN \"%.*s\" is not among "
                "webhooks.callers (worker %d)",
                c->client_ip, AG_STR_FMT(cn), c->w->id);
        return 403;
    }
    ag_str_t *groups = ag_arena_alloc(&c->arena, sizeof(ag_str_t) * (size_t)(peer->norgs + 1));
    if (!groups)
        return 500;
    for (int i = 0; i < peer->norgs; i++)
        groups[i] = ag_str_cstr(peer->orgs[i]);
    groups[peer->norgs] = AG_STR("system:authenticated");
    *id = (ag_identity_t){.username = cn, .groups = groups, .ngroups = peer->norgs + 1};
    return 0;
}

/* A canonical head on a webhook-only connection: no gate, no upstream; a webhook route
 * for a caller known by its certificate, else a Status answer. */
static void webhook_head(conn_t *c)
{
    bool has_body = c->req.chunked || c->req.content_length > 0 || c->req.upgrade;
    ag_identity_t *id = ag_arena_calloc(&c->arena, sizeof *id);
    const ag_route_t *rt = NULL;
    int code = id ? webhook_caller(c, id) : 500;
    disarm(c);
    c->phase = P_GATE;
    if (code == 0) {
        rt = ag_routes_find(routes_of(c), &c->req);
        code = rt && (rt->flags & AG_ROUTE_WEBHOOK) ? 0 : 404;
    }
    if (code != 0) {
        c->st.roff += c->head_len; /* consumed: a kept-alive connection reads the next head */
        respond(c, code,
                code == 404   ? "the server could not find the requested resource"
                : code == 403 ? "forbidden: this client certificate may not call the webhooks"
                : code == 401 ? "Unauthorized"
                              : "internal error",
                has_body);
        return;
    }
    c->gate.identity = id;
    start_local(c, rt);
}

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
        finish_local(c);
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
        respond(c, bad, reason, true);
        return;
    }
    c->client_keepalive = c->rq.keepalive;
    c->t_start = uv_hrtime();
    ag_canon_opts_t co = {c->w->self_authorities, c->w->nself};
    int st = ag_canon_check(&c->req, &co, &reason);
    if (c->webhook_only && (st == 0 || st == AG_CANON_OPTIONS_STAR)) {
        c->is_head = ag_str_eq_lit(c->req.method, "HEAD");
        webhook_head(c); /* OPTIONS * included: nothing but the webhooks here (404) */
        return;
    }
    if (st == AG_CANON_OPTIONS_STAR && !c->req.chunked && c->req.content_length <= 0) {
        s->roff += c->head_len;
        respond_options_star(c);
        return;
    }
    if (st != 0) {
        respond(c, st == AG_CANON_OPTIONS_STAR ? 400 : st, reason ? reason : "bad request", true);
        return;
    }
    c->is_head = ag_str_eq_lit(c->req.method, "HEAD");
    disarm(c);
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
    c->gate.resume = on_gate_done;
    c->gate.owner = c;
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
        arm(c, T_HEAD, c->w->conf->timeouts.header_read_ms);
    const char *reason = NULL;
    size_t end = 0;
    int st = ag_h1_head_frame(s->rbuf + s->roff, avail, (size_t)lim->header_bytes,
                              (size_t)lim->url_bytes, &end, &reason);
    if (st != 0) {
        respond(c, st, reason, true);
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
        respond(c, 400, msg, true); /* plain text: no TLS was started */
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
        close_conn(c);
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
        parse_body(c);
        break;
    case P_LOCAL:
        parse_local(c);
        break;
    case P_LINGER:
        linger_read(c);
        break;
    case P_TUNNEL:
        if (c->up && c->st.rn > c->st.roff) {
            ag_stream_write1(&c->up->st, c->st.rbuf + c->st.roff, c->st.rn - c->st.roff);
            c->st.roff = c->st.rn;
            check_request_backpressure(c);
        }
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
static void drive(conn_t *c)
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

/* ---- the response --------------------------------------------------------------- */

static bool nominated(const ag_header_t *hs, const unsigned *flags, int n, ag_str_t name)
{
    for (int i = 0; i < n; i++)
        if ((flags[i] & AG_HDR_CONNECTION) && ag_http_list_has(hs[i].value, name))
            return true;
    return false;
}

static char *put(char *at, const char *p, size_t n)
{
    memcpy(at, p, n);
    return at + n;
}

/* Appends the status line and the relayed header lines in one reservation: no printf on
 * the per-response path (two vsnprintf per line were ~2% of the proxy's CPU). Returns
 * false when the head does not fit the buffer's cap (the caller answers 502). */
static bool put_relayed_head(conn_t *c, ag_buf_t *o, const bool *keep)
{
    size_t need = sizeof "HTTP/1.1 000 \r\n" + c->resp.reason.n;
    for (int i = 0; i < c->resp.nhdrs; i++)
        if (keep[i])
            need += c->resp_hdrs[i].name.n + c->resp_hdrs[i].value.n + 4;
    if (ag_buf_reserve(o, need) != 0)
        return false;
    int code = c->resp.status; /* llhttp: 0..999 */
    char *at = put(o->p + o->n, "HTTP/1.1 ", 9);
    *at++ = (char)('0' + code / 100 % 10);
    *at++ = (char)('0' + code / 10 % 10);
    *at++ = (char)('0' + code % 10);
    *at++ = ' ';
    at = put(at, c->resp.reason.p, c->resp.reason.n);
    at = put(at, "\r\n", 2);
    for (int i = 0; i < c->resp.nhdrs; i++) {
        const ag_header_t *h = &c->resp_hdrs[i];
        if (!keep[i])
            continue;
        at = put(at, h->name.p, h->name.n);
        at = put(at, ": ", 2);
        at = put(at, h->value.p, h->value.n);
        at = put(at, "\r\n", 2);
    }
    o->n = (size_t)(at - o->p);
    o->p[o->n] = '\0';
    return true;
}

/* Writes the response head to the client, choosing the body framing it gets. Returns
 * false when it answered 502 instead (the exchange is over). */
static bool send_response_head(conn_t *c)
{
    ag_buf_t *o = &c->out;
    int code = c->resp.status;
    bool has_len = false, upstream_chunked = ag_h1_resp_chunked(&c->resp), any_conn = false;
    bool bodyless = code < 200 || code == 204 || code == 304 || c->is_head;
    bool client11 = c->req.http_major == 1 && c->req.http_minor >= 1;
    if (code < 200 && code != 101 && !client11)
        return true; /* no 1xx to an HTTP/1.0 client (RFC 9110 §15.2): it would take it for
                        the final response and the real one for the next */
    unsigned flags[RESP_MAX_HEADERS];
    bool keep[RESP_MAX_HEADERS];
    ag_buf_clear(o);
    for (int i = 0; i < c->resp.nhdrs; i++) { /* classify each name once */
        flags[i] = ag_header_classify(c->resp_hdrs[i].name);
        any_conn |= (flags[i] & AG_HDR_CONNECTION) != 0;
    }
    for (int i = 0; i < c->resp.nhdrs; i++) {
        const ag_header_t *h = &c->resp_hdrs[i];
        unsigned f = flags[i];
        keep[i] = true;
        if (f & AG_HDR_CONTENT_LENGTH) {
            if (upstream_chunked || has_len || code < 200 || code == 204)
                keep[i] = false; /* TE wins over CL (RFC 9112 §6.3); never two lengths;
                                    none on 1xx and 204 (RFC 9110 §8.6) */
            else
                has_len = true;
        } else if ((f & (AG_HDR_HOP_BY_HOP | AG_HDR_TRANSFER_ENCODING)) ||
                   (any_conn && nominated(c->resp_hdrs, flags, c->resp.nhdrs, h->name))) {
            keep[i] = code == 101 && (f & AG_HDR_UPGRADE);
        }
    }
    if (!put_relayed_head(c, o, keep)) {
        ag_metrics_upstream_error("protocol");
        respond(c, 502, "upstream response head too large", true);
        return false;
    }
    if (code == 101) {
        ag_buf_append_cstr(o, "Connection: Upgrade\r\n\r\n");
    } else {
        if (!bodyless && !has_len) {
            if (client11)
                c->resp_chunk_out = true;
            else
                c->resp_close_out = true; /* HTTP/1.0: the end of the body is the close */
        }
        if (c->resp_chunk_out)
            ag_buf_append_cstr(o, "Transfer-Encoding: chunked\r\n");
        if (code >= 200 && (c->resp_close_out || !c->client_keepalive || c->close_after ||
                            c->w->draining || c->req.upgrade || !c->req_done))
            c->close_after = true;
        if (code >= 200 && c->close_after)
            ag_buf_append_cstr(o, "Connection: close\r\n");
        else if (code >= 200 && !client11)
            ag_buf_append_cstr(o, "Connection: keep-alive\r\n");
        ag_buf_append_cstr(o, "\r\n");
    }
    ag_stream_write1(&c->st, o->p, o->n);
    return true;
}

static void finish_exchange(conn_t *c)
{
    bool reusable = !c->req.upgrade && c->req_done && ag_h1_resp_keepalive(&c->resp) && c->up &&
                    c->up->st.rn == c->up->st.roff;
    if (c->resp_chunk_out)
        ag_stream_write1(&c->st, "0\r\n\r\n", 5);
    record(c, c->resp.status);
    disarm(c);
    release_up(c, reusable);
    if (c->close_after || !c->client_keepalive || c->w->draining) {
        end_conn(c);
        return;
    }
    start_next(c);
}

static void start_tunnel(conn_t *c)
{
    ag_stream_t *us = &c->up->st;
    disarm(c);
    record(c, 101);
    c->phase = P_TUNNEL;
    if (us->rn > us->roff) { /* bytes the upstream sent right after its 101 */
        ag_stream_write1(&c->st, us->rbuf + us->roff, us->rn - us->roff);
        us->roff = us->rn;
    }
    ag_stream_read_start(&c->st);
    drive(c);
}

/* Upstream bytes arrived: parse and relay the response. */
static void relay_response_corked(conn_t *c)
{
    ag_stream_t *us = &c->up->st;
    if (c->phase == P_TUNNEL) {
        if (us->rn > us->roff)
            ag_stream_write1(&c->st, us->rbuf + us->roff, us->rn - us->roff);
        us->roff = us->rn;
        if (ag_stream_queued(&c->st) > WRITE_HIGH)
            ag_stream_read_stop(us);
        return;
    }
    for (;;) {
        size_t avail = us->rn - us->roff;
        const char *p = us->rbuf + us->roff;
        size_t len = avail;
        if (!c->resp_head_sent && c->resp.status == 0) {
            size_t end = ag_h1_head_end(p, avail); /* parse the head in one piece */
            if (end == 0) {
                if (avail >= us->rcap - 1024) {
                    ag_metrics_upstream_error("protocol");
                    respond(c, 502, "upstream response head too large", true);
                }
                return;
            }
            len = end;
        }
        if (len == 0)
            return;
        size_t used = 0;
        const char *reason = NULL;
        if (ag_h1_resp_feed(&c->resp, p, len, &used, &reason) != 0) {
            ag_metrics_upstream_error("protocol");
            ag_log(AG_LOG_WARN, "bad response from upstream: %s", reason);
            respond(c, 502, "malformed response from the upstream API server", true);
            return;
        }
        if (c->resp.status && !c->resp_head_sent) {
            disarm(c);
            if (!send_response_head(c))
                return;
            if (c->resp.status >= 200 && c->gate.req) /* audit: watches may never end */
                ag_gate_response_started(&c->gate, c->resp.status);
            if (c->resp.status >= 200 || c->resp.status == 101)
                c->resp_head_sent = true;
        }
        us->roff += used;
        if (c->resp.status == 101) {
            if (!c->req.upgrade) { /* a 101 nobody asked for: refuse to tunnel */
                ag_metrics_upstream_error("protocol");
                respond(c, 502, "unexpected 101 from the upstream API server", true);
                return;
            }
            start_tunnel(c);
            return;
        }
        if (c->resp.complete) {
            if (c->resp.status < 200) { /* interim (100 Continue): the real one follows */
                resp_start(c);
                continue;
            }
            finish_exchange(c);
            return;
        }
        if (us->roff == us->rn)
            break;
    }
    if (ag_stream_queued(&c->st) > WRITE_HIGH)
        ag_stream_read_stop(us);
}

/* The head and the first body bytes of a response leave as one write (one TLS record,
 * one syscall) when they arrived together. */
static void relay_response(conn_t *c)
{
    ag_stream_t *client = &c->st;
    ag_stream_cork(client);
    relay_response_corked(c);
    ag_stream_uncork(client);
    if (client->werr && c->phase != P_CLOSED) /* the client is gone: stop relaying */
        close_conn(c);
}

static void on_up_read(ag_stream_t *s, int status)
{
    ag_upconn_t *u = s->data;
    conn_t *c = u->owner;
    if (!c || c->up != u)
        return;
    if (status > 0) {
        relay_response(c);
        return;
    }
    /* EOF or error from the upstream. */
    if (c->phase == P_TUNNEL) {
        release_up(c, false);
        c->phase = P_CLOSED;
        ag_stream_close_after_flush(&c->st);
        return;
    }
    if (c->resp_head_sent && status == UV_EOF) {
        if (ag_h1_resp_eof(&c->resp)) { /* a close-delimited body ends */
            c->close_after = true;
            finish_exchange(c);
            return;
        }
    }
    /* A pooled connection the server closed just as it was reused: a safe request that
     * got no byte of answer is sent again on a fresh connection (as a browser or nginx
     * would); anything else is a 502. */
    if (c->up_reused && c->retry_ok && c->retries < 2 && c->resp.status == 0 &&
        c->resp.nhdrs == 0 && u->st.rn == u->st.roff) {
        c->retries++;
        release_up(c, false);
        start_forward(c);
        return;
    }
    ag_metrics_upstream_error(status == UV_EOF || status == UV_ECONNRESET ? "reset" : "protocol");
    respond(c, 502, "the upstream API server closed the connection", true);
}

static void on_up_drain(ag_stream_t *s, int status)
{
    ag_upconn_t *u = s->data;
    conn_t *c = u->owner;
    (void)status;
    if (c && c->up == u && (c->phase == P_BODY || c->phase == P_TUNNEL)) {
        ag_stream_read_start(&c->st);
        body_timer(c);
    }
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
            release_up(c, false);
        }
        close_conn(c);
        return;
    }
    if (c->released)
        reacquire(c);
    drive(c);
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
        close_conn(c);
        return;
    }
    if (s->tls && !c->peer) {
        ag_tls_peer_t peer; /* kept only when there is one: 2.3 KiB */
        ag_tls_peer(s->tls, &peer);
        if (peer.verified && !(c->peer = malloc(sizeof peer))) {
            close_conn(c);
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
    c = calloc(1, sizeof(*c));
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
    arm(c, T_HEAD, w->conf->timeouts.header_read_ms);
    /* owns fd from here, success or not */
    int rc = ag_stream_accept(&c->st, fd, webhook_only ? tls : NULL);
    if (rc < 0 || w->nconns > w->conf->limits.max_connections || w->draining) {
        close_conn(c);
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
            close_conn(c); /* idle keep-alive, or answered already */
        else
            c->close_after = true;
    }
}

void ag_http1_stop(ag_worker_t *w)
{
    for (ag_link_t *l = w->conns.next, *next; l != &w->conns; l = next) {
        next = l->next;
        close_conn((conn_t *)((char *)l - offsetof(conn_t, link)));
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
