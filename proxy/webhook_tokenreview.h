/* The TokenReview webhook: POST /apis/authentication.k8s.io/v1/tokenreviews (and
 * v1beta1), the target of a real API server's --authentication-token-webhook-config-file.
 * A local route of the front end (http1.h): the caller passes the gate first (as the API
 * server requires `create tokenreviews`, e.g. via system:auth-delegator); the token in the
 * body is then verified by the authenticator (authenticate.h) with the same issuers, keys,
 * token cache and Graph path as the front door. core/tokenreview.c reads and writes the
 * JSON. A verification that must wait (unknown kid, Graph) defers the answer.
 * Lifetime: process. */
#ifndef AG_WEBHOOK_TOKENREVIEW_H
#define AG_WEBHOOK_TOKENREVIEW_H

#include "authenticate.h"
#include "http1.h"

#define AG_TOKENREVIEW_PATH_V1 "/apis/authentication.k8s.io/v1/tokenreviews"
#define AG_TOKENREVIEW_PATH_V1BETA1 "/apis/authentication.k8s.io/v1beta1/tokenreviews"

/* Registers both routes (start-up, before workers run). <callers>: usernames allowed to
 * call besides what authorization grants (NULL/0: whoever the gate lets through, except
 * system:anonymous when no <authorized> decision (no authorization section) granted it
 * `create tokenreviews`); borrowed. */
ag_err ag_webhook_tokenreview_register(ag_authenticator_t *a, const ag_str_t *callers, int ncallers,
                                       bool authorized);

/* The route handlers (ud: the authenticator), and how a deferred answer is delivered
 * (default ag_http1_local_done): exposed for tests. */
void ag_webhook_tokenreview_v1(ag_local_req_t *r, void *ud);
void ag_webhook_tokenreview_v1beta1(ag_local_req_t *r, void *ud);
void ag_webhook_tokenreview_set_done(void (*done)(ag_local_req_t *r));

#endif
