/* Local routes: requests the gateway answers itself instead of forwarding — the
 * webhooks a real API server calls (TokenReview, SubjectAccessReview). A route is an
 * exact method + path registered at start-up; the HTTP front end (http1.c) reads the
 * whole body (up to the route's cap, else 413), then calls the handler on the worker
 * loop. The handler answers exactly once with ag_localroute_respond, now or later on
 * the same loop; a request whose client went away is flagged cancelled and must still
 * be answered (the answer is then dropped). Lifetime: the registry is process state
 * (register before workers start); an ag_localroute_req_t lives until it is answered. */
#ifndef AG_LOCALROUTE_H
#define AG_LOCALROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "arena.h"
#include "err.h"
#include "httpreq.h"
#include "str.h"
#include "tls.h"

#define AG_LOCALROUTE_MAX 8

typedef struct ag_localroute_req ag_localroute_req_t;
typedef void (*ag_localroute_fn)(ag_localroute_req_t *r, void *ud);
/* Implemented by the front end that owns the connection (http1.c). */
typedef void (*ag_localroute_respond_fn)(ag_localroute_req_t *r, int status, const char *content_type,
                                         ag_str_t body);

struct ag_localroute_req {
    /* inputs (borrowed until answered) */
    const ag_http_req_t *req;
    ag_str_t body;
    const ag_tls_peer_t *peer;   /* verified client certificate of the caller, if any */
    ag_arena_t *arena;           /* request arena */
    uv_loop_t *loop;             /* the worker loop */
    int worker;
    bool cancelled;              /* set by the front end */
    /* private to the front end */
    ag_localroute_respond_fn respond;
    void *conn;
};

typedef struct {
    const char *method, *path; /* exact, borrowed (literals) */
    size_t max_body;
    ag_localroute_fn fn;
    void *ud;
} ag_localroute_t;

/* Start-up only. AG_E_TOO_BIG when the table is full. */
ag_err ag_localroute_add(const char *method, const char *path, size_t max_body,
                         ag_localroute_fn fn, void *ud);
/* The route for <method> <path>, or NULL (any thread; the table is read-only by then). */
const ag_localroute_t *ag_localroute_find(ag_str_t method, ag_str_t path);
/* Answers <r> (exactly once). <body> is copied before this returns. */
static inline void ag_localroute_respond(ag_localroute_req_t *r, int status, const char *content_type,
                                         ag_str_t body)
{
    r->respond(r, status, content_type, body);
}

#endif
