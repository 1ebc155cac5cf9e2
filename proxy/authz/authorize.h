/* The authorization step of the request pipeline (issue 7), after the steps that give
 * the request an identity: client impersonation (Impersonate-* headers, reference
 * §7) checked with the `impersonate` verb for the authenticated requester, then the
 * request's attributes (core/authz/reqinfo.h) judged for the effective identity by the chain
 * of the current policy snapshot (proxy/authz/policy.h), with the extra `create` check for
 * exec/attach/portforward/nodes proxy arriving as GET. Deny: 403 with the API server's
 * Forbidden message and Status details; allow: g->identity is what forwarding
 * impersonates. Every decision lands in the audit entry and the decision metrics.
 * Synchronous: never parks a request. Lifetime: process (set up once at start-up). */
#ifndef AG_AUTHORIZE_H
#define AG_AUTHORIZE_H

#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "config.h"
#include "http/gate.h"

typedef struct ag_authorizer ag_authorizer_t;

/* The pipeline step (ud: the authorizer). Expects g->identity from authentication (NULL:
 * the request is judged as system:anonymous). */
ag_gate_result ag_authorize_gate(ag_gate_t *g, void *ud);

/* `authgate serve` wiring (start-up): the step's settings (whether a policy decides, the
 * impersonation mode) and metrics from <conf>. The policy (ag_policy_setup), the audit
 * log and the review routes are set up by `serve` beside it. AG_E_NOMEM. */
ag_err ag_authorizer_create(const ag_config_t *conf, ag_authorizer_t **out);
void ag_authorizer_destroy(ag_authorizer_t *az); /* NULL ignored */

#endif
