/* OAuth 2.0 client-side messages for `authgate login` (proxy/login/login*.c): the shapes an
 * identity provider answers with (OIDC discovery, RFC 8628 device authorization, RFC 6749
 * token and error responses) read strictly through json.h, the form bodies we send, the
 * endpoint URL rule, and the token cache entry. Bytes in, structs out: no I/O here.
 *
 * Everything parsed is untrusted (a hostile or broken IdP): a response that does not
 * have the right shape is AG_E_PARSE, and a token that could not travel in an HTTP
 * header or a JSON string unchanged is refused rather than repaired.
 * Strings in the parsed structs live in the caller's arena (lifetime: arena). */
#ifndef AG_OAUTH_H
#define AG_OAUTH_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_OAUTH_MAX_BODY (256u * 1024) /* a token response is a few KiB; larger is hostile */
#define AG_OAUTH_MAX_TOKEN 16384        /* one token; Azure AD tokens are ~2-4 KiB */

/* OIDC discovery (OpenID Connect Discovery 1.0 §3), only what login needs. */
typedef struct {
    ag_str_t issuer, token_endpoint, device_authorization_endpoint; /* last one may be empty */
} ag_oauth_discovery_t;

/* RFC 8628 §3.2 device authorization response. Azure AD v1 says verification_url and
 * sends numbers as strings; both are accepted. */
typedef struct {
    ag_str_t device_code, user_code, verification_uri, verification_uri_complete, message;
    long long expires_in; /* seconds, > 0 */
    long long interval;   /* seconds; 5 when absent (§3.2) */
} ag_oauth_device_t;

/* A token set: a successful token response, or a cache entry. */
typedef struct {
    ag_str_t access_token, refresh_token, id_token; /* refresh and id may be empty */
    long long obtained_at, expires_at;              /* unix seconds; expires_at > 0 */
} ag_oauth_tokens_t;

/* RFC 6749 §5.2 error response. */
typedef struct {
    ag_str_t error, description; /* error is never empty on success */
} ag_oauth_error_t;

/* Reads a discovery document and checks that its "issuer" is <issuer> exactly
 * (OIDC Discovery §4.3) and that its endpoints obey ag_oauth_url_allowed. */
ag_err ag_oauth_parse_discovery(ag_str_t body, ag_str_t issuer, ag_arena_t *arena,
                                ag_oauth_discovery_t *out);
ag_err ag_oauth_parse_device(ag_str_t body, ag_arena_t *arena, ag_oauth_device_t *out);
/* A successful token response (§5.1) received at <now>: token_type Bearer, an
 * access_token, expires_in > 0 (number or numeric string). */
ag_err ag_oauth_parse_tokens(ag_str_t body, long long now, ag_arena_t *arena,
                             ag_oauth_tokens_t *out);
ag_err ag_oauth_parse_error(ag_str_t body, ag_arena_t *arena, ag_oauth_error_t *out);

/* The cache entry: a JSON object {access_token, refresh_token, id_token, obtained_at,
 * expires_at}. Writing appends to <out>; parsing applies the same checks as responses. */
ag_err ag_oauth_tokens_write(ag_buf_t *out, const ag_oauth_tokens_t *t);
ag_err ag_oauth_tokens_parse(ag_str_t body, ag_arena_t *arena, ag_oauth_tokens_t *out);

/* Seconds before expires_at from which a cached access token is no longer handed out:
 * 60 s, or a quarter of the token's lifetime when that is shorter (so a token valid for
 * less than 4 minutes is still reused for three quarters of its life). */
long long ag_oauth_expiry_skew(const ag_oauth_tokens_t *t);
/* True when the access token can be handed out at <now>. */
bool ag_oauth_tokens_fresh(const ag_oauth_tokens_t *t, long long now);

/* Appends "name=value" to an application/x-www-form-urlencoded body (with '&' when
 * <form> is not empty); every byte outside unreserved characters is %XX. */
ag_err ag_oauth_form_add(ag_buf_t *form, const char *name, ag_str_t value);

/* An endpoint URL we may send credentials to: https://, or http:// to a loopback host
 * (127.0.0.0/8, [::1], localhost) only, with no userinfo, no fragment and no control
 * characters or spaces. */
bool ag_oauth_url_allowed(ag_str_t url);

/* RFC 3339 UTC ("2026-12-07T17:50:01Z") of unix time <t> into <out> (>= 21 bytes). */
void ag_oauth_rfc3339(long long t, char out[32]);

#endif
