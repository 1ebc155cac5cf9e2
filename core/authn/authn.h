/* Authentication decisions: from request credentials (bearer token, verified client
 * certificate, nothing) to an identity {username, uid, groups, extra}, derived as the
 * Kubernetes API server's own authenticators do. Pure: keys and issuers come in as
 * snapshots, time as an argument; no I/O, no locks, no logging (the caller logs the
 * result name). Results are outcomes, not errors: each names the check that failed,
 * for logs, audit and metric labels; the client only ever sees 401.
 * Tokens are never copied anywhere but the request arena and never logged. */
#ifndef AG_AUTHN_H
#define AG_AUTHN_H

#include "authn/authn_result.h"
#include "authn/identity.h"
#include "authn/issuer.h"
#include "authn/jwks.h"
#include "base/arena.h"
#include "base/str.h"

/* The outcomes (ag_authn_result) and their metric labels: authn/authn_result.h. */

/* Authorization header values (every occurrence, as received) -> the bearer token
 * (borrowed from values). Exactly one field; scheme "Bearer" compared case-insensitively;
 * exactly one space; a non-empty token of token68 characters (RFC 7235 §2.1) and nothing
 * after it. 0 values: AG_AUTHN_NO_CREDENTIALS; anything else wrong:
 * AG_AUTHN_BAD_AUTHORIZATION_HEADER. */
ag_authn_result ag_authn_bearer(const ag_str_t *values, int nvalues, ag_str_t *token);

/* Key resolver: the current key set of <iss> (borrowed for the duration of the call;
 * the caller holds a ref on its snapshot), or NULL when none is loaded yet. */
typedef const ag_jwks_t *(*ag_keys_fn)(void *ctx, const ag_issuer_t *iss);

/* What a verification learnt, for logs (never the token), cache lifetime and refresh
 * triggers. Filled as far as parsing got, also on failure (issuer set on UNKNOWN_KID,
 * so the caller knows whose keys to refresh). Slices live in the arena, the issuer set
 * or the caller's audience array: copy what must outlive the request. */
typedef struct {
    ag_str_t iss, kid, sub;
    ag_jwt_alg alg;
    long long exp;             /* 0 when the token has none (legacy SA) */
    const ag_issuer_t *issuer; /* NULL until the issuer is known */
    const ag_str_t *audiences; /* audiences satisfied (TokenReview status.audiences) */
    int naudiences;
    ag_str_t claim;            /* the claim a check failed on, if any (static or
                                  issuer-set storage: use before a reload) */
    const ag_str_t *token_aud; /* WRONG_AUDIENCE: the token's own aud values (for */
    int ntoken_aud;            /* the log line; none: the token has no aud) */
} ag_authn_info_t;

/* Verifies <token> (borrowed) against <issuers> at <now> (unix seconds) and fills <id>
 * (strings in <arena> or static, never in the token or the issuer set: a cache deep-copies
 * from there). The issuer is picked by the token's unverified "iss"; the key by "kid" from
 * keys(keys_ctx, issuer) (keys NULL or returning NULL: the issuer's static keys), or,
 * without a kid, by trying up to 8 keys that fit the alg. Checks in order: size, JWS
 * syntax, alg, crit, issuer, key, signature, Entra v2 key issuer, exp/nbf/iat (issuer
 * leeway), audience, tenant, claim mapping, required claims, identity characters. Every
 * identity gets system:authenticated. On failure <id> is zeroed. <info> may be NULL. */
ag_authn_result ag_authn_verify(const ag_issuer_set_t *issuers, ag_keys_fn keys, void *keys_ctx,
                                ag_str_t token, long long now, ag_arena_t *arena, ag_identity_t *id,
                                ag_authn_info_t *info);
/* As ag_authn_verify, but the token must carry one of <audiences> instead of the
 * issuer's configured ones (TokenReview spec.audiences); info->audiences gets the
 * intersection. naudiences == 0 behaves as ag_authn_verify. */
ag_authn_result ag_authn_verify_audiences(const ag_issuer_set_t *issuers, ag_keys_fn keys,
                                          void *keys_ctx, ag_str_t token, const ag_str_t *audiences,
                                          int naudiences, long long now, ag_arena_t *arena,
                                          ag_identity_t *id, ag_authn_info_t *info);

/* The second half of ag_authn_verify for a parsed token (jwt.h) whose signature the
 * caller has ALREADY verified with <is>'s keys: times, audience, mapping, required claims.
 * For fuzzing and tests; never call it on an unverified token. */
struct ag_jwt;
ag_authn_result ag_authn_check_claims(const ag_issuer_t *is, const struct ag_jwt *jwt,
                                      const ag_str_t *audiences, int naudiences, long long now,
                                      ag_arena_t *arena, ag_identity_t *id, ag_authn_info_t *info);

/* Client certificate (already verified by the TLS layer against the client CA) ->
 * identity: CN -> username, each O -> a group, + system:authenticated, flag
 * AG_ID_CLIENT_CERT. <cn>, <orgs> borrowed, copied into <arena>. AG_E_INVAL for an empty
 * CN or control characters in any name. */
ag_err ag_authn_from_cert(ag_str_t cn, const ag_str_t *orgs, int norgs, ag_arena_t *arena,
                          ag_identity_t *id);

/* Anonymous identity: system:anonymous in system:unauthenticated (static strings). */
void ag_authn_anonymous(ag_identity_t *id);

#endif
