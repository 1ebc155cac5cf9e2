/* The TokenReview webhook: POST /apis/authentication.k8s.io/v1/tokenreviews (and
 * v1beta1), the target of a real API server's --authentication-token-webhook-config-file.
 * A local route (routes.h) after the request pipeline: the caller passes it first (as
 * the API server requires `create tokenreviews`, e.g. via system:auth-delegator); the token
 * in the body is then verified by the authenticator (authenticate.h) with the same issuers, keys,
 * token cache and Graph path as the front door. core/review/tokenreview.c reads and writes the
 * JSON. A verification that must wait (unknown kid, Graph) answers later (PENDING, then
 * ag_gate_done, as any local route: routes.h).
 * Lifetime: process. */
#ifndef AG_WEBHOOK_TOKENREVIEW_H
#define AG_WEBHOOK_TOKENREVIEW_H

#include "authn/authenticate.h"
#include "http/routes.h"

#define AG_TOKENREVIEW_PATH_V1 "/apis/authentication.k8s.io/v1/tokenreviews"
#define AG_TOKENREVIEW_PATH_V1BETA1 "/apis/authentication.k8s.io/v1beta1/tokenreviews"

/* The routes' settings (in the route table's storage). */
typedef struct ag_tokenreview_route ag_tokenreview_route_t;

/* Registers both routes in <t> (start-up, before workers run) for authenticator <a>.
 * <callers>: usernames allowed to call besides what authorization grants (NULL/0:
 * whoever the pipeline lets through, except system:anonymous when no <authorized>
 * decision (no authorization section) granted it `create tokenreviews`); borrowed.
 * *out (may be NULL) gets the handlers' ud. */
ag_err ag_webhook_tokenreview_register(ag_routes_t *t, ag_authenticator_t *a,
                                       const ag_str_t *callers, int ncallers, bool authorized,
                                       ag_tokenreview_route_t **out);

/* The route handlers (ud: the registered settings), exposed for tests: ALLOW when
 * answered in <r>, PENDING when the answer comes through ag_gate_done(r->gate). */
ag_gate_result ag_webhook_tokenreview_v1(ag_local_req_t *r, void *ud);
ag_gate_result ag_webhook_tokenreview_v1beta1(ag_local_req_t *r, void *ud);

#endif
