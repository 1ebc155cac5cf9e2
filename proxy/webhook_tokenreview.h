/* The TokenReview webhook: POST /apis/authentication.k8s.io/v1/tokenreviews (and
 * v1beta1), the target of a real API server's --authentication-token-webhook-config-file.
 * Glue only: core/tokenreview.c reads and writes the JSON, the authenticator
 * (authenticate.h) verifies with the same issuers, keys, token cache and Graph path as
 * the front door. Lifetime: process. */
#ifndef AG_WEBHOOK_TOKENREVIEW_H
#define AG_WEBHOOK_TOKENREVIEW_H

#include "authenticate.h"
#include "localroute.h"

#define AG_TOKENREVIEW_PATH_V1 "/apis/authentication.k8s.io/v1/tokenreviews"
#define AG_TOKENREVIEW_PATH_V1BETA1 "/apis/authentication.k8s.io/v1beta1/tokenreviews"

/* Registers both routes (start-up, before workers run). <callers>: CNs of verified client
 * certificates allowed to call (NULL/0: any caller the listener admits); borrowed. */
ag_err ag_webhook_tokenreview_register(ag_authenticator_t *a, const ag_str_t *callers,
                                       int ncallers);
/* The route handler (ud: the registration); exposed for tests. */
void ag_webhook_tokenreview(ag_localroute_req_t *r, void *ud);

#endif
