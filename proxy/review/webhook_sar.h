/* The SubjectAccessReview webhook on the main listener: POST
 * /apis/authorization.k8s.io/v1/subjectaccessreviews (and v1beta1), request and response
 * exactly as the API defines them (core/review/sar.h), decided by the chain of the current
 * policy snapshot (proxy/authz/policy.h); an Azure AD identity is recognised by spec.extra.oid
 * (core/authz/authz_chain.h). The caller is authenticated and authorized by the gate first, as
 * kube-apiserver does for a SAR create (`create subjectaccessreviews.authorization.k8s.io`,
 * granted by the bootstrap ClusterRole system:auth-delegator). Also POST
 * .../selfsubjectaccessreviews (`kubectl auth can-i`): the same judgement for the caller's
 * own identity (allowed to every authenticated user by system:basic-user). JSON bodies
 * only; other encodings are forwarded (http1.c). Lifetime: process. */
#ifndef AG_WEBHOOK_SAR_H
#define AG_WEBHOOK_SAR_H

#include "base/err.h"
#include "http/routes.h"

/* Registers the routes in <t> (start-up, with a policy set up), the self reviews
 * (self_reviews.h) with them. */
ag_err ag_webhook_sar_register(ag_routes_t *t);

#endif
