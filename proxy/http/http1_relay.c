/* The upstream relay of the HTTP/1.1 front end (http1_conn.h): an allowed request's
 * exchange with the API server. Acquires a pooled or new upstream connection, writes the
 * head core/forward.c builds and streams the body (re-chunked when chunked), parses the
 * response (http1_parse.h), relays its head minus hop-by-hop and Connection-nominated
 * headers and its body as it arrives (re-chunked when it has no length), with
 * backpressure both ways, and becomes a byte tunnel after a 101 to an upgrade request.
 * Never decides authorization and never rewrites request headers itself. */
#include <stdlib.h>
#include <string.h>

#include "http/forward.h"
#include "http/headers.h"
#include "http/http1_conn.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static void on_up_read(ag_stream_t *s, int status);
static void on_up_drain(ag_stream_t *s, int status);
static void parse_body_corked(conn_t *c);

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
void ag_h1c_on_req_body(void *ud, const char *at, size_t n)
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
        c->resp_hdrs = malloc(sizeof(ag_header_t) * AG_H1C_RESP_MAX_HEADERS);
    ag_h1_resp_init(&c->resp, c->resp_hdrs, c->resp_hdrs ? AG_H1C_RESP_MAX_HEADERS : 0, c->is_head,
                    on_resp_body, c);
}

static void check_request_backpressure(conn_t *c)
{
    if (c->up && ag_stream_queued(&c->up->st) > AG_H1C_WRITE_HIGH)
        ag_stream_read_stop(&c->st);
}

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
            ag_h1c_disarm(c);
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
        ag_h1c_arm(c, T_BODY_SLOW, pace > now ? (long long)(pace - now) : 0);
    else
        ag_h1c_arm(c, T_BODY, t->idle_ms);
}

/* Request body bytes (and the chunk framing) leave for the upstream in as few writes as
 * possible. */
void ag_h1c_read_body(conn_t *c)
{
    ag_upconn_t *u = c->up;
    if (u)
        ag_stream_cork(&u->st);
    parse_body_corked(c);
    if (u)
        ag_stream_uncork(&u->st); /* u's memory lives until its close callback */
    if (u && u == c->up && u->st.werr && c->phase != P_CLOSED) {
        ag_metrics_upstream_error("reset");
        ag_h1c_respond(c, 502, "the upstream API server closed the connection", true);
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
        ag_h1c_respond(c, 400, "malformed request body", true);
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
            ag_h1c_arm(c, T_FIRST_BYTE, c->w->conf->timeouts.upstream_first_byte_ms);
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
    ag_h1c_disarm(c);
    if (c->head_built) { /* a retry on a fresh connection: the same bytes again */
        u->st.on_read = on_up_read;
        u->st.on_drain = on_up_drain;
        resp_start(c);
        ag_stream_write1(&u->st, c->out.p, c->out.n);
        ag_stream_read_start(&u->st);
        c->phase = P_WAIT;
        ag_h1c_arm(c, T_FIRST_BYTE, w->conf->timeouts.upstream_first_byte_ms);
        return;
    }
    ag_buf_clear(&c->out);
    fo.credential = ag_credential_enter(w->credential);
    ag_err err = ag_forward_head(&c->req, &fo, &c->out); /* copies the credential */
    ag_credential_leave(w->credential);
    if (err) {
        ag_log(AG_LOG_ERROR, "cannot forward request from %s: %s (worker %d)", c->client_ip,
               ag_err_str(err), w->id);
        ag_h1c_respond(c, 500, "internal error while forwarding the request", true);
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
        ag_h1c_arm(c, T_FIRST_BYTE, w->conf->timeouts.upstream_first_byte_ms);
        ag_stream_uncork(&u->st);
        ag_stream_read_start(&c->st);
        return;
    }
    ag_h1c_read_body(c);
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
        ag_h1c_respond(c, 503,
                       status == UV_EPROTO ? "TLS handshake with the upstream API server failed"
                                           : "cannot connect to the upstream API server",
                       true);
        return;
    }
    send_request(c);
}

void ag_h1c_forward(conn_t *c)
{
    ag_upconn_t *u = NULL;
    bool ready = false;
    c->up_reused = false;
    if (ag_upstream_acquire(c->w, c, on_up_connected, &u, &ready) != 0) {
        ag_h1c_respond(c, 503, "cannot connect to the upstream API server", true);
        return;
    }
    c->up = u;
    if (ready) {
        c->up_reused = true;
        ag_metrics_inc(AG_M_UPSTREAM_REUSED);
        send_request(c);
        return;
    }
    c->phase = P_CONNECT;
    ag_stream_read_stop(&c->st);
    ag_h1c_arm(c, T_CONNECT, c->w->conf->timeouts.upstream_connect_ms);
}

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
    unsigned flags[AG_H1C_RESP_MAX_HEADERS];
    bool keep[AG_H1C_RESP_MAX_HEADERS];
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
        ag_h1c_respond(c, 502, "upstream response head too large", true);
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
    ag_h1c_record(c, c->resp.status);
    ag_h1c_disarm(c);
    ag_h1c_release_up(c, reusable);
    if (c->close_after || !c->client_keepalive || c->w->draining) {
        ag_h1c_end(c);
        return;
    }
    ag_h1c_next(c);
}

static void start_tunnel(conn_t *c)
{
    ag_stream_t *us = &c->up->st;
    ag_h1c_disarm(c);
    ag_h1c_record(c, 101);
    c->phase = P_TUNNEL;
    if (us->rn > us->roff) { /* bytes the upstream sent right after its 101 */
        ag_stream_write1(&c->st, us->rbuf + us->roff, us->rn - us->roff);
        us->roff = us->rn;
    }
    ag_stream_read_start(&c->st);
    ag_h1c_drive(c);
}

/* Upstream bytes arrived: parse and relay the response. */
static void relay_response_corked(conn_t *c)
{
    ag_stream_t *us = &c->up->st;
    if (c->phase == P_TUNNEL) {
        if (us->rn > us->roff)
            ag_stream_write1(&c->st, us->rbuf + us->roff, us->rn - us->roff);
        us->roff = us->rn;
        if (ag_stream_queued(&c->st) > AG_H1C_WRITE_HIGH)
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
                    ag_h1c_respond(c, 502, "upstream response head too large", true);
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
            ag_h1c_respond(c, 502, "malformed response from the upstream API server", true);
            return;
        }
        if (c->resp.status && !c->resp_head_sent) {
            ag_h1c_disarm(c);
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
                ag_h1c_respond(c, 502, "unexpected 101 from the upstream API server", true);
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
    if (ag_stream_queued(&c->st) > AG_H1C_WRITE_HIGH)
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
        ag_h1c_close(c);
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
        ag_h1c_release_up(c, false);
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
        ag_h1c_release_up(c, false);
        ag_h1c_forward(c);
        return;
    }
    ag_metrics_upstream_error(status == UV_EOF || status == UV_ECONNRESET ? "reset" : "protocol");
    ag_h1c_respond(c, 502, "the upstream API server closed the connection", true);
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

/* P_TUNNEL: the client's bytes go to the upstream as they are. */
void ag_h1c_tunnel_read(conn_t *c)
{
    if (c->up && c->st.rn > c->st.roff) {
        ag_stream_write1(&c->up->st, c->st.rbuf + c->st.roff, c->st.rn - c->st.roff);
        c->st.roff = c->st.rn;
        check_request_backpressure(c);
    }
}
