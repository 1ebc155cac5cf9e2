/* HTTP/1.1 front end of a worker: client connections from accept to close. Parses request
 * heads (llhttp, strict) under the configured limits, applies the canonical-request
 * checks, runs the gate, forwards to a pooled upstream connection and relays the response
 * (streamed, with backpressure), tunnels upgrades after a 101. With http1_parse.c (the
 * request parser it drives) the only file that includes llhttp.h. Lifetime of a
 * connection: accept to close; its struct is pooled per worker. */
#ifndef AG_HTTP1_H
#define AG_HTTP1_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "identity.h"
#include "worker.h"

/* Serves <fd>, a connection accepted on the main listener (w->acceptor). A connection
 * that cannot be set up (no memory, over limits.max_connections, draining) is closed at
 * once and counted; the listener is never affected. */
void ag_http1_accept(ag_worker_t *w, int fd);
/* The same for the "webhooks" listener: a webhook-only connection, which is
 * served only routes registered with ag_http1_webhook_route (404 otherwise, never
 * forwarded) and whose caller is the CN of its verified client certificate (403 unless
 * among conf->webhooks.callers, when given); the installed gate is not run. */
void ag_http1_accept_webhook(ag_worker_t *w, int fd);
/* Test hook: the next <conn> accepts fail to get a connection struct and the next
 * <stream> ones fail to set up its stream, as allocation failures would. */
void ag_http1_inject_accept_faults(int conn, int stream);
/* Drain: closes idle keep-alive connections and makes the others close after their
 * current response. */
void ag_http1_drain(ag_worker_t *w);
/* Closes every client connection now. */
void ag_http1_stop(ag_worker_t *w);
/* Frees pooled connection structs (after the loop has closed every handle). */
void ag_http1_free_pool(ag_worker_t *w);

/* Local routes: requests the gateway answers itself (webhooks) instead of forwarding.
 * A route matches an exact method and path (query ignored). The request goes through the
 * gate like any other (authenticated and authorized as the API server would judge it,
 * e.g. `create subjectaccessreviews`); once allowed, its body (at most <max_body>
 * bytes, else 413) is read and <fn> runs on the worker loop with the complete body. It
 * sets <status> and appends a JSON body to <response> synchronously, or sets <defer> and
 * answers later, on the same worker loop, with ag_http1_local_done (a handler that must
 * wait for the control loop: keys, Graph). */
typedef struct {
    ag_str_t body;                 /* complete request body (borrowed for the call) */
    const ag_identity_t *identity; /* the gate's identity (NULL: none) */
    ag_arena_t *arena;             /* request arena */
    int worker;                    /* thread slot (metrics, policy) */
    int status;                    /* out: HTTP status (default 500) */
    ag_buf_t *response;            /* out: JSON body */
    ag_str_t content_type;         /* the request's Content-Type (arena; empty: none) */
    ag_str_t accept;               /* the request's Accept (arena; empty: none) */
    ag_str_t path;                 /* the request path (arena) */
    const char *response_type;     /* out: the body's media type (NULL: application/json) */
    uv_loop_t *loop;               /* the worker loop */
    bool defer;                    /* out: the answer comes later via ag_http1_local_done */
    void *conn;                    /* private to http1.c */
} ag_local_req_t;
typedef void (*ag_local_fn)(ag_local_req_t *r, void *ud);
/* Sends the deferred answer of <r> (the pointer the handler got; status and response
 * filled). If the client went away meanwhile it only releases the connection. */
void ag_http1_local_done(ag_local_req_t *r);
/* Start-up only (before workers run). <method> and <path> are borrowed (literals). */
ag_err ag_http1_route(const char *method, const char *path, size_t max_body, ag_local_fn fn,
                      void *ud);
/* The same for a handler that reads every Content-Type and picks the response encoding
 * itself (ag_local_req_t.content_type, .accept, .response_type): the Kubernetes review
 * kinds, which kubectl sends as protobuf. A '*' segment in <path> matches one non-empty
 * path segment (".../namespaces/ * /localsubjectaccessreviews"). */
ag_err ag_http1_route_typed(const char *method, const char *path, size_t max_body, ag_local_fn fn,
                            void *ud);
/* The same for a webhook (TokenReview, SubjectAccessReview): served on the main listener
 * as above and also on the "webhooks" listener. */
ag_err ag_http1_webhook_route(const char *method, const char *path, size_t max_body,
                              ag_local_fn fn, void *ud);

/* The llhttp version compiled into authgate ("8.1.0"; built from Debian's C sources,
 * so it is also the one running). Static storage. */
const char *ag_http1_llhttp_version(void);

#endif
