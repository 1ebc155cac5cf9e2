/* Service-account token confirmation (threat-model #39): a bound or legacy service-account
 * JWT that verified offline is still refused by the API server when its pod, secret or
 * service account is gone or was recreated with a new UID. The authentication step asks
 * the upstream API server itself, once per new token, with a TokenReview
 * (authentication.k8s.io/v1) sent over the fetch engine on the control loop, with the
 * upstream's own CA, client certificate and the gateway's bearer credential.
 *
 * Owns: its fetch engine (upstream TLS material). Never: sends the client's token anywhere
 * but the TokenReview body to the configured upstream; logs a token; allows on a failed,
 * timed-out or unintelligible review (fail closed: the caller answers 503).
 * Lifetime: process; create and destroy on the control loop thread. */
#ifndef AG_SA_LOOKUP_H
#define AG_SA_LOOKUP_H

#include <uv.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "config.h"
#include "http/credential.h"
#include "runtime/mailbox.h"

/* A TokenReview answer is a few hundred bytes (user, groups, extra); cap the read. */
#define AG_SA_LOOKUP_MAX_BYTES (64u * 1024)
#define AG_SA_LOOKUP_PATH "/apis/authentication.k8s.io/v1/tokenreviews"

typedef struct ag_sa_lookup ag_sa_lookup_t;

typedef enum {
    AG_SA_LOOKUP_CONFIRMED = 0, /* authenticated:true as the same username */
    AG_SA_LOOKUP_REVOKED,       /* authenticated:false (or another user): 401 */
    AG_SA_LOOKUP_FAILED,        /* no usable answer (transport, status, body): 503 */
} ag_sa_lookup_verdict;

/* Runs on the reply mailbox's loop exactly once per accepted check. <reason> is static
 * text for the log ("" when confirmed). */
typedef void (*ag_sa_lookup_cb)(void *arg, ag_sa_lookup_verdict v, const char *reason);

/* Creates the checker on <control> (its thread) for the upstream <up> (url, CA, client
 * certificate, server_name; borrowed for the call, strings copied by the engine), with
 * the gateway's credential source <cred> (borrowed, must outlive the checker; NULL: none)
 * and a per-review <timeout_ms> (0: the fetch default). */
ag_err ag_sa_lookup_create(uv_loop_t *control, const ag_config_upstream_t *up,
                           const ag_credential_t *cred, long timeout_ms, ag_sa_lookup_t **out);
/* Control thread, after the workers stopped and before the loop closes. NULL ignored. */
void ag_sa_lookup_destroy(ag_sa_lookup_t *l);

/* Any worker thread: asks the API server whether <token> is valid for <audiences> (none:
 * the API server's own) and names <username>. <token>, <audiences> and <username> are
 * borrowed for the call; the parked state lives in <arena>, which must live until <cb> has
 * run. Returns AG_E_NOMEM / AG_E_INVAL synchronously (never calling <cb>); otherwise <cb>
 * runs later on <reply>'s loop. */
ag_err ag_sa_lookup_check(ag_sa_lookup_t *l, ag_str_t token, const ag_str_t *audiences,
                          int naudiences, ag_str_t username, ag_arena_t *arena, ag_mailbox_t *reply,
                          ag_sa_lookup_cb cb, void *arg);

/* The TokenReview request body for <token> and <audiences> appended to <out>. */
ag_err ag_sa_lookup_body(ag_str_t token, const ag_str_t *audiences, int naudiences, ag_buf_t *out);
/* Judges an HTTP answer (<status>, <body> borrowed) for <username>; scratch in <arena>.
 * Only a 2xx TokenReview with status.authenticated true and status.user.username equal to
 * <username> confirms; authenticated false or absent, or another username, is REVOKED;
 * anything else (non-2xx, not JSON, wrong kind) FAILED. *reason: static log text. */
ag_sa_lookup_verdict ag_sa_lookup_eval(long status, ag_str_t body, ag_str_t username,
                                       ag_arena_t *arena, const char **reason);

#endif
