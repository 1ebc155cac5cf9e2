/* JSON Web Key Sets: the verification keys of one issuer, parsed once into ready
 * mbedTLS public-key contexts so a token verification does no key parsing.
 *
 * A key set is an immutable snapshot (lifetime: snapshot) with an atomic refcount:
 * the control loop builds a new set on every JWKS fetch, publishes it by pointer swap,
 * and readers keep theirs until they unref. Only asymmetric signing keys are kept:
 * RSA (>= 2048 bits) and EC P-256/P-384/P-521; symmetric, OKP, encryption keys and
 * keys of unknown type are skipped. Never does I/O: the bytes come from the caller. */
#ifndef AG_JWKS_H
#define AG_JWKS_H

#include <stdbool.h>

#include "base/err.h"
#include "base/str.h"

/* JWS algorithms authgate verifies (RFC 7518 §3). "none" and HMAC are never among
 * them: every issuer is asymmetric (alg confusion, CVE-2015-9235 and kin). */
#define AG_JWT_ALGS(X)                                                                             \
    X(RS256) X(RS384) X(RS512) X(PS256) X(PS384) X(PS512) X(ES256) X(ES384) X(ES512)

typedef enum {
    AG_JWT_ALG_UNKNOWN = 0,
#define AG_JWT_ALG_ENUM(name) AG_JWT_##name,
    AG_JWT_ALGS(AG_JWT_ALG_ENUM)
#undef AG_JWT_ALG_ENUM
        AG_JWT_ALG_COUNT
} ag_jwt_alg;

/* "RS256" -> AG_JWT_RS256, exact (case-sensitive, RFC 7515 §4.1.1); UNKNOWN otherwise. */
ag_jwt_alg ag_jwt_alg_parse(ag_str_t name);
const char *ag_jwt_alg_name(ag_jwt_alg alg); /* "RS256"; "unknown" */

#define AG_JWKS_MAX_KEYS 64       /* keys kept per set: bounds lookups and memory */
#define AG_JWKS_MIN_RSA_BITS 2048 /* NIST SP 800-131A; weaker keys are skipped */
#define AG_JWKS_MAX_RSA_BITS 8192 /* bounds the cost of one verification */

typedef enum {
    AG_JWK_RSA = 1,
    AG_JWK_EC_P256,
    AG_JWK_EC_P384,
    AG_JWK_EC_P521,
} ag_jwk_type;

typedef struct ag_jwk ag_jwk_t;
typedef struct ag_jwks ag_jwks_t;

/* Parses a JWKS document {"keys":[...]} (<json> borrowed, copied as needed). Keys of
 * unknown kty, "use":"enc", key_ops without "verify", and RSA keys under 2048 bits are
 * skipped; a malformed key of a known type, a malformed document, or a document left
 * with no usable key fails the whole parse (AG_E_PARSE / AG_E_NOT_FOUND), so a bad
 * fetch never replaces good keys: the caller keeps its old set. *out is ref'ed (1). */
ag_err ag_jwks_parse(ag_str_t json, ag_jwks_t **out);
/* One or more PEM blocks: "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" (service
 * account key files, --service-account-key-file). Each key's kid is computed as the API
 * server does: base64url(SHA-256(DER SubjectPublicKeyInfo)). A weak or unsupported key
 * fails the load (AG_E_UNSUPPORTED): a config file is fixed by its owner. */
ag_err ag_jwks_from_pem(ag_str_t pem, ag_jwks_t **out);

/* Key with <kid> that fits <alg> (see ag_jwk_fits); with an empty <kid>, the only key
 * that fits <alg> (NULL when none or several). An empty <alg> matches any algorithm.
 * Borrowed from <ks>. */
const ag_jwk_t *ag_jwks_find(const ag_jwks_t *ks, ag_str_t kid, ag_str_t alg);
int ag_jwks_count(const ag_jwks_t *ks);
const ag_jwk_t *ag_jwks_at(const ag_jwks_t *ks, int i);
/* Keys that were skipped while parsing (unknown kty, enc, weak): for a log line. */
int ag_jwks_skipped(const ag_jwks_t *ks);
void ag_jwks_ref(ag_jwks_t *ks);
void ag_jwks_unref(ag_jwks_t *ks); /* accepts NULL */

/* The key decides the algorithm: RSA keys fit the RS and PS algorithms, EC keys only the ES one of
 * their curve (ES256/P-256, ES384/P-384, ES512/P-521), and a JWK "alg" member must equal <alg>. */
bool ag_jwk_fits(const ag_jwk_t *k, ag_jwt_alg alg);
ag_str_t ag_jwk_kid(const ag_jwk_t *k);
ag_jwk_type ag_jwk_type_of(const ag_jwk_t *k);
/* The "issuer" member Entra ID v2 publishes per key (empty when absent). */
ag_str_t ag_jwk_issuer(const ag_jwk_t *k);
/* Verifies <sig> over <msg> with key <k> and <alg> (which must fit). RSA-PSS uses
 * MGF1 with the same hash and salt length = hash length (RFC 7518 §3.5); ECDSA takes
 * the JWS raw r||s form (RFC 7518 §3.4) of exactly twice the coordinate size.
 * Returns 0, AG_E_CRYPTO on a bad signature, AG_E_INVAL on a misfit. Safe to call from
 * several threads on one shared key (contexts are warmed at load; see jwks.c). */
ag_err ag_jwk_verify(const ag_jwk_t *k, ag_jwt_alg alg, ag_str_t msg, const unsigned char *sig,
                     size_t siglen);

#endif
