/* The request pipeline: the ordered list of steps every gated request runs between "head
 * parsed and canonical" and "answered locally or forwarded", like nginx's phase handlers.
 * `authgate serve` (cmd_serve.c) builds it in one place and hands it to the server; the
 * table of steps, their files and contracts is the first section of docs/ARCHITECTURE.md.
 *
 * Each step is an ag_gate_fn with one contract (gate.h): ALLOW goes on to the next step,
 * DENY ends the request with g->status, PENDING parks it; the step then calls
 * ag_gate_done exactly once, and an ALLOW there resumes the pipeline at the next step. The
 * request's driver (http1.c, or a test) learns the end through g->resume. An empty
 * pipeline refuses every request with 401 (nothing forwards unless a step allows it).
 * Lifetime: process; filled before the workers start, read-only afterwards. */
#ifndef AG_PIPELINE_H
#define AG_PIPELINE_H

#include <stdbool.h>

#include "base/err.h"
#include "http/gate.h"
#include "http/routes.h"

#define AG_PIPELINE_MAX_STEPS 8

/* The "webhooks" listener's caller decision (review/webhook_callers.h): 0 with *id set
 * (allocations in <a>), else the status to answer (401, 403, 500). <peer> NULL: no
 * certificate. */
typedef int (*ag_caller_fn)(const void *ud, const ag_tls_peer_t *peer, ag_arena_t *a,
                            ag_identity_t *id);

typedef struct {
    const char *name; /* for logs and the documentation table (static) */
    ag_gate_fn fn;
    void *ud;
} ag_pipeline_step_t;

typedef struct ag_pipeline {
    ag_pipeline_step_t steps[AG_PIPELINE_MAX_STEPS];
    int nsteps;
    /* The end of a gated request (audit; NULL: none): see ag_gate_finished. */
    ag_gate_finish_fn finish;
    /* What an allowed request may be answered by instead of forwarding (routes.h). */
    ag_routes_t routes;
    /* Who may call the webhooks listener (NULL: nobody, 500; fails closed). */
    ag_caller_fn webhook_caller;
    const void *webhook_caller_ud;
} ag_pipeline_t;

/* Appends a step (start-up only). AG_E_TOO_BIG past AG_PIPELINE_MAX_STEPS. */
ag_err ag_pipeline_add(ag_pipeline_t *p, const char *name, ag_gate_fn fn, void *ud);

/* Runs g->pipeline from its first step (the driver sets g->pipeline, g->resume and the
 * inputs). Returns the final ALLOW or DENY, or PENDING when a step parked: the result
 * then arrives through g->resume, on the same loop. */
ag_gate_result ag_pipeline_run(ag_gate_t *g);

#endif
