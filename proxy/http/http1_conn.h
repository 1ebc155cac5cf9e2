/* The HTTP/1.1 connection, private to the front end: the struct and phases every part of
 * it shares, and the functions they call in one another. Three files, one connection:
 *
 *   http1.c        accept, the read loop (ag_h1c_drive), head, pipeline, timers, the
 *                  gateway's own answers, lingering close, teardown
 *   http1_local.c  local routes (routes.h) and the "webhooks" listener's requests,
 *                  OPTIONS *: answered here, never forwarded
 *   http1_relay.c  the upstream exchange: connect, request head and body out, response
 *                  head and body back (backpressure both ways), tunnel after a 101
 *
 * Return values: the ag_h1c_* functions return void (they answer, advance or close the
 * connection themselves) except ag_h1c_body_response (ag_err) and ag_h1c_routes; the
 * parsers they drive (http1_parse.h) return an HTTP status (0: none), libuv callbacks get
 * libuv status codes. No file but these three includes this header. */
#ifndef AG_HTTP1_CONN_H
#define AG_HTTP1_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/arena.h"
#include "base/buf.h"
#include "http/gate.h"
#include "http/http1_parse.h"
#include "http/httpreq.h"
#include "http/routes.h"
#include "net/preface.h"
#include "net/stream.h"
#include "net/tls.h"
#include "net/upstream.h"
#include "runtime/worker.h"

#define AG_H1C_WRITE_HIGH (256 * 1024) /* stop reading the other side above this much queued */
#define AG_H1C_RESP_MAX_HEADERS 256    /* response header lines relayed; more is a 502 */

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
    ag_header_t *resp_hdrs; /* AG_H1C_RESP_MAX_HEADERS entries, allocated at the first response */
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

/* ---- http1.c ---- */

/* Deadlines (one timer per connection): arm the kind <k> for <ms>; disarm clears it. */
void ag_h1c_arm(conn_t *c, timer_kind_t k, long long ms);
void ag_h1c_disarm(conn_t *c);
/* Counts one answer with <code> (metrics; the audit event of a gated request). */
void ag_h1c_record(conn_t *c, int code);
/* Gives the upstream connection back (to the pool when <reusable>). */
void ag_h1c_release_up(conn_t *c, bool reusable);
/* The gateway's own Status answer; with <close> the connection ends after it. */
void ag_h1c_respond(conn_t *c, int code, const char *msg, bool close);
/* A complete response with a body of media <type> (NULL: JSON) into <out>. */
ag_err ag_h1c_body_response(ag_buf_t *out, int code, const char *type, ag_str_t body, bool close);
/* Sends c->out (the gateway's own answer), then closes or reads the next request. */
void ag_h1c_send_own(conn_t *c, int code, bool close);
/* Closes now / ends after the answer (lingering close) / reads the next request. */
void ag_h1c_close(conn_t *c);
void ag_h1c_end(conn_t *c);
void ag_h1c_next(conn_t *c);
/* Runs the connection until it waits for I/O (re-entrant calls only flag a round). */
void ag_h1c_drive(conn_t *c);

/* ---- http1_relay.c ---- */

/* The request parser's body sink: to the upstream, or a local route's buffer. */
void ag_h1c_on_req_body(void *ud, const char *at, size_t n);
/* Forwards the allowed request: a pooled or new upstream connection, then the head. */
void ag_h1c_forward(conn_t *c);
/* P_BODY: feeds buffered body bytes to the request parser (out to the upstream). */
void ag_h1c_read_body(conn_t *c);
/* P_TUNNEL: the client's bytes go to the upstream as they are. */
void ag_h1c_tunnel_read(conn_t *c);

/* ---- http1_local.c ---- */

/* The routes of the pipeline this connection's worker runs (NULL: none). */
const ag_routes_t *ag_h1c_routes(const conn_t *c);
/* OPTIONS * (a canonical one, without a body): 200 with Allow, locally. */
void ag_h1c_options_star(conn_t *c);
/* An allowed request that <rt> answers: its body is read (P_LOCAL), then the handler
 * runs; ag_h1c_local_read feeds the body, ag_h1c_local_answer sends the handler's
 * answer (also when a PENDING handler completed). */
void ag_h1c_local_start(conn_t *c, const ag_route_t *rt);
void ag_h1c_local_read(conn_t *c);
void ag_h1c_local_answer(conn_t *c);
/* A canonical head on a webhook-only connection: no pipeline, no upstream. */
void ag_h1c_webhook_head(conn_t *c);

#endif
