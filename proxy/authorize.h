/* The authorization step of the gate (issue 7), called by the authentication step once
 * the request has an identity: client impersonation (Impersonate-* headers, reference
 * §7) checked with the `impersonate` verb for the authenticated requester, then the
 * request's attributes (core/reqinfo.h) judged for the effective identity by the chain
 * of the current policy snapshot (proxy/policy.h), with the extra `create` check for
 * exec/attach/portforward/nodes proxy arriving as GET. Deny: 403 with the API server's
 * Forbidden message and Status details; allow: g->identity is what forwarding
 * impersonates. Every decision lands in the audit entry and the decision metrics.
 * Synchronous: never parks a request. Lifetime: process (set up once at start-up). */
#ifndef AG_AUTHORIZE_H
#define AG_AUTHORIZE_H

#include <uv.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "gate.h"

/* The gate step (ud unused). Expects g->identity from authentication (NULL: the
 * request is judged as system:anonymous). */
ag_gate_result ag_authorize_gate(ag_gate_t *g, void *ud);

/* `authgate serve` wiring, after ag_authenticate_setup: with an "authorization" (or
 * "azure") section loads the policy (proxy/policy.h) and chains this step after
 * authentication (or installs it as the gate when there is no authentication); with
 * only an "audit" section installs a step that allows everything but still audits.
 * Returns 0 doing nothing when neither is configured. */
ag_err ag_authorize_setup(const ag_config_t *conf, uv_loop_t *control, ag_buf_t *errmsg);

#endif
