/* The demo's token issuer (`authgate demo` only): a P-256 key generated at start, its
 * public JWKS for the gateway's "authentication" section, and ES256 bearer tokens minted
 * for the demo users. The gateway verifies these like any issuer's tokens; nothing here
 * is on the request path, and no other command mints tokens (tests use independent
 * minters, tests/e2e/mint.mjs). Lifetime: process (created and destroyed by ag_cmd_demo).
 * The private key never leaves this object and is never written anywhere. */
#ifndef AG_DEMO_ISSUER_H
#define AG_DEMO_ISSUER_H

#include "base/buf.h"
#include "base/err.h"

#define AG_DEMO_ISSUER_KID "authgate-demo-1"

typedef struct ag_demo_issuer ag_demo_issuer_t;

/* Generates a fresh P-256 key. *out is owned by the caller (ag_demo_issuer_destroy). */
ag_err ag_demo_issuer_create(ag_demo_issuer_t **out);
void ag_demo_issuer_destroy(ag_demo_issuer_t *is);

/* Appends the public JWKS {"keys":[{kty EC, crv P-256, kid, alg ES256, use sig, x, y}]}. */
ag_err ag_demo_issuer_jwks(const ag_demo_issuer_t *is, ag_buf_t *out);

/* Appends a compact JWS (ES256, kid) with iss, aud, sub, groups (NULL-terminated, may be
 * NULL), iat = nbf = <now>, exp = <now> + <ttl_s>. All strings are borrowed. */
ag_err ag_demo_issuer_token(ag_demo_issuer_t *is, const char *iss, const char *aud, const char *sub,
                            const char *const *groups, long long now, long long ttl_s,
                            ag_buf_t *out);

#endif
