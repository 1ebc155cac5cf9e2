/* Interned knowledge about HTTP header names: which are hop-by-hop, which carry or spoof
 * client identity (and so are never forwarded), which frame the body. Forwarding and
 * canonical-request checks are table lookups on these flags, never ad-hoc strcasecmp
 * chains. Pure functions over slices; no allocation, no state. */
#ifndef AG_HEADERS_H
#define AG_HEADERS_H

#include <stdbool.h>

#include "base/err.h"
#include "base/str.h"
#include "http/httpreq.h"

enum {
    AG_HDR_HOP_BY_HOP = 1u << 0, /* RFC 9110 §7.6.1 connection-specific */
    AG_HDR_STRIP = 1u << 1,      /* never forwarded: client identity/spoofable */
    AG_HDR_HOST = 1u << 2,
    AG_HDR_CONTENT_LENGTH = 1u << 3,
    AG_HDR_TRANSFER_ENCODING = 1u << 4,
    AG_HDR_CONNECTION = 1u << 5,
    AG_HDR_UPGRADE = 1u << 6,
    AG_HDR_AUTHORIZATION = 1u << 7, /* exactly "Authorization" (not Proxy-) */
    AG_HDR_IMPERSONATE = 1u << 8,   /* Impersonate-* (also Impersonate_* spellings) */
    AG_HDR_EXPECT = 1u << 9,
    AG_HDR_WS_PROTOCOL = 1u << 10, /* Sec-WebSocket-Protocol: may carry a bearer token */
    AG_HDR_UNDERSCORE = 1u << 11,  /* name has '_' and maps onto a special name:
                                    * only STRIP (+IMPERSONATE) is set then */
};

/* STRIP covers: Authorization, Proxy-Authorization, Impersonate-*, X-Remote-*,
 * X-Forwarded-*, X-Authgate-* (our own internal names), Forwarded, X-Real-IP, X-Client-IP,
 * True-Client-IP, X-Original-URL, X-Original-URI, X-Rewrite-URL, X-HTTP-Method-Override,
 * X-HTTP-Method, X-Method-Override. HOP_BY_HOP: Connection, Keep-Alive, Proxy-Connection,
 * TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Authenticate,
 * HTTP2-Settings.
 *
 * Flags of header <name> (borrowed). Case-insensitive. For the identity/spoofable classes
 * '_' counts as '-': "Impersonate_User" and "X_Forwarded_For" are STRIP, because CGI-style
 * intermediaries fold both to the same name. Any name with '_' that folds onto a special
 * name (Content_Length, Transfer_Encoding, ...) gets STRIP|UNDERSCORE and none of the
 * framing flags. Unknown names return 0. O(1): length filter plus a short table. */
unsigned ag_header_classify(ag_str_t name);

/* Impersonation prefix "Impersonate-" spelled as the gateway writes it. */
#define AG_HDR_IMPERSONATE_PREFIX "Impersonate-"

/* The prefix of a Kubernetes WebSocket subprotocol that carries a bearer token
 * (KAS staging/src/k8s.io/apiserver/pkg/authentication/request/websocket). */
#define AG_WS_BEARER_PREFIX "base64url.bearer.authorization.k8s.io."

/* Byte classes for the hot-path scanners. */
enum {
    AG_HTTP_TCHAR = 1, /* RFC 9110 §5.6.2 token character */
    AG_HTTP_VCHAR = 2, /* visible ASCII 0x21-0x7e: the only bytes of a request-target */
    AG_HTTP_FIELD = 4, /* allowed in a field value: HTAB, SP, VCHAR, obs-text (>= 0x80) */
};
extern const unsigned char ag_http_ctype[256];

/* The bearer token a WebSocket client may send as a subprotocol instead of Authorization
 * (browsers cannot set headers), read as the API server reads it (KAS
 * apiserver/pkg/authentication/request/websocket/protocol.go; threat-model case 9):
 * every Sec-WebSocket-Protocol header counts as one list; an element starting with
 * AG_WS_BEARER_PREFIX carries the token. On success *encoded is the token still in
 * base64url without padding (decode with core/base/b64.h; the API server also requires the
 * decoded bytes to be UTF-8), or an empty slice when there is none. AG_E_PARSE when two
 * token elements are present or the token is the only subprotocol (the server must echo
 * another one back), or when the encoded token is empty or not base64url. forward.c
 * strips the element either way. Call it for WebSocket upgrades only. */
ag_err ag_ws_bearer_token(const ag_header_t *headers, int nheaders, ag_str_t *encoded);

/* RFC 9110 tchar. */
static inline bool ag_http_is_tchar(unsigned char c)
{
    return (ag_http_ctype[c] & AG_HTTP_TCHAR) != 0;
}
/* Non-empty and all tchar. */
bool ag_http_is_token(ag_str_t s);

/* Length of the leading run of <p> that may stand in a field value (no control byte but
 * HTAB); n when all of it may. Word-at-a-time. */
size_t ag_http_field_span(const char *p, size_t n);

/* True when <v> holds no control byte but HTAB (so no CR, LF or NUL: Envoy
 * CVE-2019-9900): safe to copy into a header value. */
bool ag_http_value_is_clean(ag_str_t v);

/* <s> without leading and trailing SP/HTAB (RFC 9110 §5.6.3 OWS). */
ag_str_t ag_http_trim_ows(ag_str_t s);

/* Calls <fn> for each non-empty element of a comma-separated header list (RFC 9110 §5.6.1),
 * with OWS trimmed. Stops and returns false when <fn> returns false. */
bool ag_http_list_each(ag_str_t value, bool (*fn)(ag_str_t elem, void *ctx), void *ctx);

/* True when comma-list <value> contains <token> (ASCII case-insensitive). */
bool ag_http_list_has(ag_str_t value, ag_str_t token);

#endif
