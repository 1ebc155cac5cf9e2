/* The gate: the one phase between "request head parsed and canonical" and "forward
 * upstream" where authentication and authorization decide (issue 7 plugs in here). A gate
 * returns ALLOW (with the identity to impersonate, or NULL for a plain proxy), DENY (with
 * the status and message for the Kubernetes Status body), or PENDING and later calls
 * ag_gate_done exactly once, on the worker loop that called it (hand work to the control
 * loop and come back with uv_async). A parked request is cancelled if its client goes away
 * or the worker stops: the gate must check ag_gate_cancelled before using anything but
 * <g> itself, and still call ag_gate_done, which then just releases the connection.
 * Lifetime: <g> and everything in it live until ag_gate_done returns (request). */
#ifndef AG_GATE_H
#define AG_GATE_H

#include <stdbool.h>
#include <uv.h>

#include "arena.h"
#include "httpreq.h"
#include "identity.h"
#include "status.h"
#include "tls.h"

typedef enum { AG_GATE_ALLOW = 0, AG_GATE_DENY = 1, AG_GATE_PENDING = 2 } ag_gate_result;

typedef struct ag_gate {
    /* inputs (borrowed, valid until ag_gate_done) */
    ag_http_req_t *req;           /* canonical; headers include the client's Authorization */
    const ag_tls_peer_t *peer;    /* verified client certificate (peer->verified) */
    ag_str_t client_ip;
    ag_str_t proxy_ip;            /* the load balancer whose PROXY header named client_ip
                                     (empty: client_ip is the TCP peer) */
    uv_loop_t *loop;              /* the worker loop the request belongs to */
    int worker;                   /* worker id (metrics slot) */
    ag_arena_t *arena;            /* request arena: identity strings may live here */
    /* outputs */
    const ag_identity_t *identity; /* ALLOW: NULL forwards without Impersonate-* */
    int status;                   /* DENY: 401, 403, 429, 500, 503 ... */
    ag_str_t message;             /* DENY: Status.message (arena or static) */
    ag_status_details_t details;  /* DENY: Status.details (empty kind: none) */
    void *audit;                  /* set by the gate steps (request arena): what the audit
                                     log records when the request finishes */
    char audit_id[37];            /* ag_gate_audit_id: "" until first asked */
    /* Who continues the request when a PENDING gate completes (ag_gate_done): NULL for
     * the HTTP/1.1 front end (http1.c resumes its connection); a driver of its own, such
     * as a unit test running the gate steps without a connection, sets it. */
    void (*resume)(struct ag_gate *g, ag_gate_result r);
    /* private to http1.c */
    bool cancelled, pending;
    void *conn;
} ag_gate_t;

typedef ag_gate_result (*ag_gate_fn)(ag_gate_t *g, void *ud);

/* Installs the process-wide gate (start-up only; NULL restores the default, which refuses
 * every request with 401: nothing forwards unless a gate says so). */
void ag_gate_install(ag_gate_fn fn, void *ud);
/* The gate of "insecure_passthrough": allows everything with identity NULL (forwarded with
 * the gateway's own credential, no impersonation). */
ag_gate_result ag_gate_passthrough(ag_gate_t *g, void *ud);
/* The request's audit ID (a v4-shaped UUID, unique per process run), made on first use:
 * the audit event's auditID and every per-request log line carry the same one. */
const char *ag_gate_audit_id(ag_gate_t *g);
/* Runs the installed gate (http1.c). */
ag_gate_result ag_gate_run(ag_gate_t *g);
/* Completes a PENDING gate with ALLOW or DENY (outputs already filled in <g>). */
void ag_gate_done(ag_gate_t *g, ag_gate_result r);
static inline bool ag_gate_cancelled(const ag_gate_t *g)
{
    return g->cancelled;
}

/* The end of a gated request: <code> is the status the client got. Installed at
 * start-up (audit); http1.c calls ag_gate_finished once per request that ran the gate
 * (complete), and ag_gate_response_started when a forwarded response head went out
 * (long-running requests such as watches may never complete). */
typedef void (*ag_gate_finish_fn)(ag_gate_t *g, int code, bool complete);
void ag_gate_install_finish(ag_gate_finish_fn fn);
void ag_gate_finished(ag_gate_t *g, int code);
void ag_gate_response_started(ag_gate_t *g, int code);

/* Implemented by http1.c: resumes the request parked on <g>. */
void ag_http1_gate_resume(ag_gate_t *g, ag_gate_result r);

#endif
