/* Compact JWS (RFC 7515 §7.1) parsing and signature verification: the first thing a
 * bearer token meets. Strict by design: exactly three segments of canonical unpadded
 * base64url, header and payload strict JSON objects (core/base/json.h: no duplicate keys,
 * bounded depth, no non-finite numbers), alg from the allow-list only, any "crit"
 * rejected. Header members jku, x5u, jwk and x5c are ignored: keys come only from
 * configuration. All memory comes from the caller's arena (lifetime: request). */
#ifndef AG_JWT_H
#define AG_JWT_H

#include "authn/authn_result.h"
#include "authn/jwks.h"
#include "base/arena.h"
#include "base/json.h"

#define AG_JWT_MAX_DEPTH 16 /* JSON nesting in header/payload */
#define AG_JWT_MAX_SIG 1024 /* bytes: RSA 8192 */

typedef struct ag_jwt {
    ag_jwt_alg alg;
    ag_str_t kid;           /* empty when absent */
    ag_str_t signing_input; /* "<header>.<payload>" (borrowed from the token) */
    unsigned char *sig;     /* arena */
    size_t siglen;
    ag_json_t header;  /* arena */
    ag_json_t payload; /* arena; root is an object */
} ag_jwt_t;

/* Parses <token> (borrowed; must outlive <jwt>) of at most <max_bytes>. Returns
 * AG_AUTHN_OK, TOO_LARGE, MALFORMED, UNSUPPORTED_ALG (none in any case, HS*, unknown),
 * UNKNOWN_CRIT, or INTERNAL (arena exhausted). Verifies nothing. */
ag_authn_result ag_jwt_parse(ag_str_t token, size_t max_bytes, ag_arena_t *arena, ag_jwt_t *jwt);

/* The same for any compact JWS: the payload is only decoded (it may be empty or not JSON)
 * and jwt->payload stays empty. The gateway never calls it (a bearer token is a JWT); it
 * lets the Wycheproof JWS vectors, whose payloads are not JSON, reach the same header
 * checks and signature verification as a token does (tests/unit/test_wycheproof.c). */
ag_authn_result ag_jws_parse(ag_str_t token, size_t max_bytes, ag_arena_t *arena, ag_jwt_t *jwt);

/* Verifies the signature of a parsed <jwt> with <key>: AG_AUTHN_OK, ALG_KEY_MISMATCH or
 * BAD_SIGNATURE. */
ag_authn_result ag_jwt_verify(const ag_jwt_t *jwt, const ag_jwk_t *key);
/* The signature against a key set, as authentication checks it: with the key named by
 * the token's kid (ALG_KEY_MISMATCH when that key does not fit alg, UNKNOWN_KID when
 * there is none), or without a kid with each fitting key, at most 8 (threat model #29).
 * *used gets the key that verified. */
ag_authn_result ag_jwt_verify_keys(const ag_jwt_t *jwt, const ag_jwks_t *ks, const ag_jwk_t **used);

/* Claim readers over jwt->payload. Absent claims give AG_AUTHN_MISSING_CLAIM, the wrong
 * type AG_AUTHN_BAD_CLAIM. Strings are unescaped into <arena>. */
ag_authn_result ag_jwt_claim_str(const ag_jwt_t *jwt, const char *name, ag_arena_t *arena,
                                 ag_str_t *out);
/* NumericDate (RFC 7519 §2): an integer in [0, 2^53); fractions, negatives, exponents
 * and bigger values are AG_AUTHN_BAD_CLAIM. */
ag_authn_result ag_jwt_claim_time(const ag_jwt_t *jwt, const char *name, long long *out);

#endif
