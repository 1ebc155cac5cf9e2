/* The gate: one request's state through the request pipeline (pipeline.h), the phase
 * between "request head parsed and canonical" and "answer locally or forward upstream"
 * where authentication and authorization decide, and the one contract every pipeline step
 * and every local route keeps. A step returns ALLOW (the next step runs; after the last
 * one g->identity is what forwarding impersonates, NULL for a plain proxy), DENY (with the
 * status and message for the Kubernetes Status body), or PENDING and later calls
 * ag_gate_done exactly once, on the worker loop that called it (hand work to the control
 * loop and come back through a mailbox). A parked request is cancelled if its client goes
 * away or the worker stops: the step must check ag_gate_cancelled before using anything
 * but <g> itself, and still call ag_gate_done, which then just releases the connection.
 * Lifetime: <g> and everything in it live until g->resume has run (request). */
#ifndef AG_GATE_H
#define AG_GATE_H

#include <stdbool.h>
#include <uv.h>

#include "authn/identity.h"
#include "base/arena.h"
#include "http/httpreq.h"
#include "http/status.h"
#include "net/tls.h"

typedef enum { AG_GATE_ALLOW = 0, AG_GATE_DENY = 1, AG_GATE_PENDING = 2 } ag_gate_result;

typedef struct ag_gate {
    /* inputs (borrowed, valid until ag_gate_done) */
    ag_http_req_t *req;        /* canonical; headers include the client's Authorization */
    const ag_tls_peer_t *peer; /* verified client certificate (peer->verified) */
    ag_str_t client_ip;
    ag_str_t proxy_ip;    /* the load balancer whose PROXY header named client_ip
                             (empty: client_ip is the TCP peer) */
    uv_loop_t *loop;      /* the worker loop the request belongs to */
    int worker;           /* worker id (metrics slot) */
    ag_arena_t *arena;    /* request arena: identity strings may live here */
    uint64_t received_at; /* uv_hrtime when the head was read (0: unknown), for the audit */
    /* outputs */
    const ag_identity_t *identity; /* ALLOW: NULL forwards without Impersonate-* */
    int status;                    /* DENY: 401, 403, 429, 500, 503 ... */
    ag_str_t message;              /* DENY: Status.message (arena or static) */
    ag_status_details_t details;   /* DENY: Status.details (empty kind: none) */
    void *audit;                   /* set by the gate steps (request arena): what the audit
                                      log records when the request finishes */
    uint64_t audit_seq;            /* ag_gate_audit_seq: 0 until first asked */
    char audit_id[37];             /* ag_gate_audit_id: "" until first asked */
    /* set by the driver (http1.c, or a test running steps without a connection) */
    const struct ag_pipeline *pipeline; /* the steps to run (NULL: none, refused 401) */
    /* Continues the request when a parked step or local route completes (ag_gate_done),
     * with the pipeline's final ALLOW or DENY; never called for a synchronous result. */
    void (*resume)(struct ag_gate *g, ag_gate_result r);
    void *owner;          /* the driver's (http1.c: the connection) */
    uint64_t finished_at; /* uv_hrtime of the answer, set before ag_gate_finished when the
                             driver read the clock anyway (0: the finish hook reads it) */
    int step;             /* private to pipeline.c: the step running or parked */
    bool cancelled, pending;
} ag_gate_t;

typedef ag_gate_result (*ag_gate_fn)(ag_gate_t *g, void *ud);

/* The gate of "insecure_passthrough": allows everything with identity NULL (forwarded with
 * the gateway's own credential, no impersonation). */
ag_gate_result ag_gate_passthrough(ag_gate_t *g, void *ud);
/* The request's audit ID (a v4-shaped UUID, unique per process run), made on first use:
 * the audit event's auditID and every per-request log line carry the same one. */
const char *ag_gate_audit_id(ag_gate_t *g);
/* The number the request's audit ID is made of (never 0), taken on first use from the
 * thread's block: what the audit record carries, so that the writer thread, not the
 * worker, spells it out. */
uint64_t ag_gate_audit_seq(ag_gate_t *g);
/* Any thread: the audit ID of <seq> (36 characters and a NUL), as ag_gate_audit_id spells
 * it for the request that got <seq>. */
void ag_gate_audit_id_format(uint64_t seq, char out[37]);
/* Completes a PENDING step or local route with ALLOW or DENY (outputs already filled in
 * <g>): an ALLOW resumes the pipeline at the next step; the final result goes to
 * g->resume. */
void ag_gate_done(ag_gate_t *g, ag_gate_result r);
static inline bool ag_gate_cancelled(const ag_gate_t *g)
{
    return g->cancelled;
}

/* The end of a gated request: <code> is the status the client got. The pipeline's finish
 * hook (audit) gets it: http1.c calls ag_gate_finished once per request that ran the
 * pipeline (complete), and ag_gate_response_started when a forwarded response head went
 * out (long-running requests such as watches may never complete). */
typedef void (*ag_gate_finish_fn)(ag_gate_t *g, int code, bool complete);
void ag_gate_finished(ag_gate_t *g, int code);
void ag_gate_response_started(ag_gate_t *g, int code);

#endif
