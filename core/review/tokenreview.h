/* TokenReview (authentication.k8s.io v1 and v1beta1): the webhook a real API server
 * calls with --authentication-token-webhook-config-file. Pure: request bytes in, a
 * token and audiences out; a review status in, response bytes out. The HTTP glue is
 * proxy/review/webhook_tokenreview.c; verification is core/authn/authn.h.
 *
 * Field rules (kubernetes-authz.md §8): spec.token is required (an empty one is a 400
 * "token is required"); spec.audiences is optional; every status field is omitempty.
 * The token is never written back: the response echoes spec.audiences only (the API
 * server reads nothing but status). Never logs, never allocates outside the arena. */
#ifndef AG_TOKENREVIEW_H
#define AG_TOKENREVIEW_H

#include <stdbool.h>

#include "authn/identity.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_TOKENREVIEW_MAX_BODY (128 * 1024) /* a token (<=64 KiB) plus audiences */
#define AG_TOKENREVIEW_MAX_AUDIENCES 32

typedef enum {
    AG_TOKENREVIEW_V1 = 0,
    AG_TOKENREVIEW_V1BETA1 = 1,
} ag_tokenreview_version;

typedef struct {
    ag_tokenreview_version version; /* from apiVersion */
    ag_str_t token;                 /* spec.token (arena or borrowed from the body) */
    const ag_str_t *audiences;      /* spec.audiences (arena) */
    int naudiences;
} ag_tokenreview_req_t;

typedef struct {
    bool authenticated;
    const ag_identity_t *user; /* written when authenticated (borrowed) */
    const ag_str_t *audiences; /* status.audiences, omitted when none (borrowed) */
    int naudiences;
    ag_str_t error; /* status.error, omitted when empty (borrowed) */
} ag_tokenreview_status_t;

/* "authentication.k8s.io/v1" -> V1, ".../v1beta1" -> V1BETA1; -1 otherwise. */
int ag_tokenreview_version_parse(ag_str_t api_version);
const char *ag_tokenreview_api_version(ag_tokenreview_version v);

/* Parses a TokenReview request body (<body> borrowed; strings may point into it or
 * into <arena>). Returns AG_E_PARSE (not JSON, wrong kind/apiVersion, wrong types,
 * missing or empty spec.token) or AG_E_TOO_BIG (body or audience count over the
 * limits); *why gets a static message in the API server's words for a 400. */
ag_err ag_tokenreview_parse(ag_str_t body, ag_arena_t *arena, ag_tokenreview_req_t *out,
                            const char **why);

/* Appends a user.Info as JSON ({"username":..,"uid":..,"groups":[..],"extra":{..}}; empty
 * uid, groups and extra left out, as Go's omitempty does). */
ag_err ag_user_info_write(ag_buf_t *out, const ag_identity_t *u);
/* Appends the SelfSubjectReview answer (`kubectl auth whoami`, authentication.k8s.io
 * <api_version>) for the effective identity <u>. */
ag_err ag_selfsubjectreview_write(ag_buf_t *out, ag_str_t api_version, const ag_identity_t *u);

/* Appends the response object for <req> with <status> to <out>. */
ag_err ag_tokenreview_write(ag_buf_t *out, const ag_tokenreview_req_t *req,
                            const ag_tokenreview_status_t *status);

#endif
