/* Local routes: requests the gateway answers itself (TokenReview, SubjectAccessReview,
 * the review kinds kubectl asks about itself) instead of forwarding. The table is built
 * by `authgate serve` (cmd_serve.c) with the request pipeline it belongs to (pipeline.h)
 * and read by the HTTP/1.1 front end after the pipeline allowed a request. A route
 * matches an exact method and path (query ignored; a '*' segment matches one non-empty
 * segment). No I/O here: matching is a pure function of the parsed request.
 *
 * A handler keeps the pipeline steps' contract (gate.h): it fills r->status and
 * r->response and returns AG_GATE_ALLOW, or returns AG_GATE_PENDING and later, on the same
 * worker loop, fills them and calls ag_gate_done(r->gate, AG_GATE_ALLOW) exactly once (a
 * handler that must wait for the control loop: keys, Graph). If the client went away
 * meanwhile, that call only releases the connection.
 * Lifetime: the table is process lifetime, filled before the workers start. */
#ifndef AG_ROUTES_H
#define AG_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "authn/identity.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "http/gate.h"
#include "http/httpreq.h"

typedef struct {
    ag_str_t body;                 /* complete request body (borrowed for the call) */
    const ag_identity_t *identity; /* the pipeline's identity (NULL: none) */
    ag_arena_t *arena;             /* request arena */
    int worker;                    /* thread slot (metrics, policy) */
    int status;                    /* out: HTTP status (default 500) */
    ag_buf_t *response;            /* out: JSON body */
    ag_str_t content_type;         /* the request's Content-Type (arena; empty: none) */
    ag_str_t accept;               /* the request's Accept (arena; empty: none) */
    ag_str_t path;                 /* the request path (arena) */
    const char *response_type;     /* out: the body's media type (NULL: application/json) */
    uv_loop_t *loop;               /* the worker loop */
    ag_gate_t *gate;               /* the request's: a PENDING handler completes with
                                      ag_gate_done(gate, AG_GATE_ALLOW) */
} ag_local_req_t;
typedef ag_gate_result (*ag_local_fn)(ag_local_req_t *r, void *ud);

enum {
    AG_ROUTE_WEBHOOK = 1, /* also served on the "webhooks" listener */
    AG_ROUTE_TYPED = 2,   /* any Content-Type: the handler negotiates (.content_type,
                             .accept, .response_type); otherwise JSON bodies only */
};

typedef struct {
    const char *method, *path; /* borrowed (literals) */
    size_t max_body;           /* larger bodies are answered 413 */
    ag_local_fn fn;
    void *ud;
    unsigned flags; /* AG_ROUTE_* */
} ag_route_t;

#define AG_MAX_ROUTES 32
typedef struct ag_routes {
    ag_route_t r[AG_MAX_ROUTES];
    int n;
    ag_arena_t arena; /* what the handlers' ud point to (ag_routes_alloc) */
} ag_routes_t;

void ag_routes_init(ag_routes_t *t);
void ag_routes_dispose(ag_routes_t *t);
/* Start-up only. AG_E_TOO_BIG past AG_MAX_ROUTES. */
ag_err ag_routes_add(ag_routes_t *t, const char *method, const char *path, size_t max_body,
                     ag_local_fn fn, void *ud, unsigned flags);
/* Zeroed storage that lives as long as the table (a handler's ud); NULL when out of
 * memory. */
void *ag_routes_alloc(ag_routes_t *t, size_t n);
/* The route for <req> (NULL: none, forward it). A route without AG_ROUTE_TYPED matches
 * only a JSON body (or none): kubectl's protobuf SelfSubjectAccessReview goes upstream. */
const ag_route_t *ag_routes_find(const ag_routes_t *t, const ag_http_req_t *req);

#endif
