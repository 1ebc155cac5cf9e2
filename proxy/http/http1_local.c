/* Local answers of the HTTP/1.1 front end (http1_conn.h): requests the gateway answers
 * itself, never forwarded. A local route (routes.h) of an allowed request: its body is
 * read under the route's cap (413) within timeouts.header_read, then the handler answers
 * now or later (PENDING, through the gate's resume, http1.c's on_gate_done). The
 * "webhooks" listener's requests: the caller is its client certificate as the pipeline's
 * webhook_caller decides (review/webhook_callers.h), only webhook routes, 404 otherwise.
 * And OPTIONS *. */
#include <string.h>

#include "http/http1_conn.h"
#include "http/pipeline.h"
#include "http/status.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

void ag_h1c_options_star(conn_t *c)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, "
                               "OPTIONS\r\nContent-Length: 0\r\n\r\n";
    ag_h1c_record(c, 200);
    ag_stream_write1(&c->st, resp, sizeof resp - 1);
    if (!c->client_keepalive || c->w->draining) {
        ag_h1c_end(c);
        return;
    }
    ag_h1c_next(c);
}

/* The routes of the pipeline this connection's worker runs (NULL: none). */
const ag_routes_t *ag_h1c_routes(const conn_t *c)
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
void ag_h1c_local_answer(conn_t *c)
{
    ag_local_req_t *r = &c->lreq;
    if (!c->lresp.n) {
        ag_buf_dispose(&c->lresp);
        ag_h1c_respond(c, r->status >= 400 ? r->status : 500, "internal error", false);
        return;
    }
    bool close = c->close_after || c->w->draining || !c->client_keepalive;
    ag_h1c_disarm(c);
    ag_buf_clear(&c->out);
    if (ag_h1c_body_response(&c->out, r->status, r->response_type, ag_buf_str(&c->lresp), close) !=
        0) {
        ag_buf_dispose(&c->lresp);
        ag_h1c_respond(c, 500, "internal error", true);
        return;
    }
    ag_buf_dispose(&c->lresp);
    ag_h1c_send_own(c, r->status, close);
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
    if (c->local->fn(&c->lreq, c->local->ud) == AG_GATE_PENDING) {
        ag_h1c_disarm(c);
        c->gate_pending = true; /* held like a parked step: a close defers the free */
        return;
    }
    ag_h1c_local_answer(c);
}

/* P_LOCAL: feeds body bytes to the parser (on_req_body collects them). */
void ag_h1c_local_read(conn_t *c)
{
    ag_stream_t *s = &c->st;
    size_t used;
    const char *reason;
    if (ag_h1_req_body(&c->rq, s->rbuf + s->roff, s->rn - s->roff, &used, &reason) != 0) {
        ag_h1c_respond(c, 400, "malformed request body", true);
        return;
    }
    s->roff += used;
    if (c->local_overflow) {
        ag_h1c_respond(c, 413, "request body too large", true);
        return;
    }
    if (c->rq.complete) {
        ag_stream_read_stop(s); /* pipelined bytes wait for start_next */
        answer_local(c);
    }
}

void ag_h1c_local_start(conn_t *c, const ag_route_t *rt)
{
    if (c->req.upgrade) {
        ag_h1c_respond(c, 400, "upgrade is not supported here", true);
        return;
    }
    if (c->req.content_length > 0 && (size_t)c->req.content_length > rt->max_body) {
        ag_h1c_respond(c, 413, "request body too large", true);
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
    ag_h1c_arm(c, T_HEAD, c->w->conf->timeouts.header_read_ms); /* the body has as long as a head */
    ag_stream_read_start(&c->st);
    ag_h1c_drive(c);
}

/* The caller of a webhook-only connection, decided by the pipeline's webhook_caller
 * (review/webhook_callers.h). Returns 0 with *id set, or the status to answer. */
static int webhook_caller(conn_t *c, ag_identity_t *id)
{
    const ag_pipeline_t *p = c->w->pipeline;
    if (!p || !p->webhook_caller)
        return 500;
    int code = p->webhook_caller(p->webhook_caller_ud, c->peer, &c->arena, id);
    if (code == 403)
        ag_warn("webhooks listener: refused %s: certificate CN \"%s\" is not among "
                "webhooks.callers (worker %d)",
                c->client_ip, c->peer->cn, c->w->id);
    return code;
}

/* A canonical head on a webhook-only connection: no gate, no upstream; a webhook route
 * for a caller known by its certificate, else a Status answer. */
void ag_h1c_webhook_head(conn_t *c)
{
    bool has_body = c->req.chunked || c->req.content_length > 0 || c->req.upgrade;
    ag_identity_t *id = ag_arena_calloc(&c->arena, sizeof *id);
    const ag_route_t *rt = NULL;
    int code = id ? webhook_caller(c, id) : 500;
    ag_h1c_disarm(c);
    c->phase = P_GATE;
    if (code == 0) {
        rt = ag_routes_find(ag_h1c_routes(c), &c->req);
        code = rt && (rt->flags & AG_ROUTE_WEBHOOK) ? 0 : 404;
    }
    if (code != 0) {
        c->st.roff += c->head_len; /* consumed: a kept-alive connection reads the next head */
        ag_h1c_respond(c, code,
                       code == 404 ? "the server could not find the requested resource"
                       : code == 403
                           ? "forbidden: this client certificate may not call the webhooks"
                       : code == 401 ? "Unauthorized"
                                     : "internal error",
                       has_body);
        return;
    }
    c->gate.identity = id;
    ag_h1c_local_start(c, rt);
}
