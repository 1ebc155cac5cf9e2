/* The review kinds kubectl asks about the caller itself, answered by the gateway for the
 * effective identity the gate judged (after authentication, Graph overage and
 * impersonation), never forwarded: SelfSubjectReview (`kubectl auth whoami`),
 * SelfSubjectRulesReview (`kubectl auth can-i --list`) and LocalSubjectAccessReview, in
 * v1 and v1beta1, JSON or protobuf (review_route.h). SelfSubjectAccessReview lives with
 * the SAR webhook (webhook_sar.c). Lifetime: process. */
#ifndef AG_SELF_REVIEWS_H
#define AG_SELF_REVIEWS_H

#include "authn/identity.h"
#include "base/err.h"
#include "http/routes.h"

/* Registers the routes (start-up, with a policy set up). */
ag_err ag_self_reviews_register(ag_routes_t *t);

/* The identity a review is about: the gate's, or system:anonymous when there is none. */
const ag_identity_t *ag_self_reviews_subject(const ag_identity_t *gate_identity);

#endif
