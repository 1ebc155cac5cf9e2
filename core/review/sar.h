/* SubjectAccessReview (authorization.k8s.io v1, and v1beta1 whose spec says "group"
 * instead of "groups"): the webhook authorizer's wire format (reference §9). Pure: body
 * bytes in, attributes + user out, a decision from a callback, response JSON out. Judges
 * exactly the user and groups given: a review adds no groups. Never touches sockets; the
 * proxy route calls ag_sar_handle. */
#ifndef AG_SAR_H
#define AG_SAR_H

#include <stdbool.h>

#include "authn/identity.h"
#include "authz/authz.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#define AG_SAR_MAX_BODY (1u << 20) /* a review is a few hundred bytes; 1 MiB is generous */

/* The decide step: fills <d> and returns its result. The Azure RBAC helper plugs its
 * chain in here; ag_sar_rbac_decide is the plain Kubernetes RBAC one. */
typedef ag_authz_result (*ag_sar_decide_fn)(void *ctx, const ag_identity_t *user,
                                            const ag_attrs_t *a, ag_authz_decision_t *d);

/* Parsed review (strings in the arena or borrowed from the body). */
typedef struct {
    ag_str_t api_version; /* "authorization.k8s.io/v1" or ".../v1beta1" */
    ag_identity_t user;
    ag_attrs_t attrs;
    ag_str_t spec_raw;      /* the spec object's bytes, echoed in the response */
    const char *eval_error; /* selector problems: reported in status.evaluationError */
} ag_sar_request_t;

/* Parses and validates <body> (borrowed). On a malformed body returns AG_E_PARSE, on a
 * validation failure AG_E_INVAL; <why> (may be NULL) gets the message. */
ag_err ag_sar_parse(ag_str_t body, ag_arena_t *arena, ag_sar_request_t *req, ag_buf_t *why);

/* Handles one review: parses <body>, calls <decide> once (never on a parse error), and
 * writes the response object to <response> with *http_status 201 (as kube-apiserver
 * answers a create), or a Status object with 400 (malformed) / 422 (invalid). Returns 0
 * whenever a response was written, AG_E_NOMEM / AG_E_TOO_BIG otherwise. */
ag_err ag_sar_handle(ag_str_t body, ag_sar_decide_fn decide, void *ctx, ag_arena_t *arena,
                     ag_buf_t *response, int *http_status);

/* Writes the review response for <req> and decision <d> (result in d->result). */
ag_err ag_sar_write_response(const ag_sar_request_t *req, const ag_authz_decision_t *d,
                             ag_buf_t *out);

/* A decide callback over Kubernetes RBAC: <ctx> is a const ag_rbac_t *. */
ag_authz_result ag_sar_rbac_decide(void *ctx, const ag_identity_t *user, const ag_attrs_t *a,
                                   ag_authz_decision_t *d);

#endif
