/* The outcomes of an authentication decision (authn.h) and of the token parsing under it
 * (jwt.h): each names the check that failed, for logs, audit and metric labels; the
 * client only ever sees 401. Its own header so the token parser and the decisions share
 * the vocabulary without including each other. */
#ifndef AG_AUTHN_RESULT_H
#define AG_AUTHN_RESULT_H

/* X(ENUM, "metric label") */
#define AG_AUTHN_RESULTS(X)                                                                        \
    X(OK, "ok")                                                                                    \
    X(NO_CREDENTIALS, "no_credentials")                     /* no Authorization header */          \
    X(BAD_AUTHORIZATION_HEADER, "bad_authorization_header") /* not "Bearer <tok>" */               \
    X(MALFORMED, "malformed")                               /* not a strict compact JWS */         \
    X(TOO_LARGE, "too_large")                               /* token over the size limit */        \
    X(UNSUPPORTED_ALG, "unsupported_alg")                   /* none, HS*, unknown alg */           \
    X(ALG_KEY_MISMATCH, "alg_key_mismatch")                 /* kid's key does not fit alg */       \
    X(UNKNOWN_ISSUER, "unknown_issuer")                                                            \
    X(NO_KEYS, "no_keys") /* issuer has no keys loaded */                                          \
    X(UNKNOWN_KID, "unknown_kid")                                                                  \
    X(BAD_SIGNATURE, "bad_signature")                                                              \
    X(KEY_ISSUER_MISMATCH, "key_issuer_mismatch") /* Entra v2 key for another issuer */            \
    X(EXPIRED, "expired")                                                                          \
    X(NOT_YET_VALID, "not_yet_valid")                                                              \
    X(ISSUED_IN_FUTURE, "issued_in_future")                                                        \
    X(WRONG_AUDIENCE, "wrong_audience")                                                            \
    X(WRONG_TENANT, "wrong_tenant")                                                                \
    X(MISSING_CLAIM, "missing_claim")                                                              \
    X(REQUIRED_CLAIM_MISMATCH, "required_claim_mismatch")                                          \
    X(BAD_CLAIM, "bad_claim") /* wrong type, control chars, bad SA name */                         \
    X(EMAIL_NOT_VERIFIED, "email_not_verified")                                                    \
    X(RESERVED_PREFIX, "reserved_prefix") /* system: username/group from an IdP */                 \
    X(TOO_MANY_GROUPS, "too_many_groups")                                                          \
    X(UNKNOWN_CRIT, "unknown_crit")   /* RFC 7515 §4.1.11 */                                      \
    X(INTERNAL, "internal")           /* out of memory etc.: fail closed */                        \
    X(REVOKED, "revoked")             /* API server's TokenReview: pod/secret/SA gone (#39) */     \
    X(LOOKUP_FAILED, "lookup_failed") /* that TokenReview failed: 503, fail closed */

typedef enum {
#define AG_AUTHN_ENUM(name, label) AG_AUTHN_##name,
    AG_AUTHN_RESULTS(AG_AUTHN_ENUM)
#undef AG_AUTHN_ENUM
        AG_AUTHN_RESULT_COUNT
} ag_authn_result;

/* Metric label ("expired", "unknown_kid", ...); "invalid" for out-of-range values. */
const char *ag_authn_result_name(ag_authn_result r);

#endif
