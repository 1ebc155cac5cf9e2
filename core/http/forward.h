/* The upstream request head: what the API server sees of a request the gateway allowed.
 * Client headers pass through minus everything hop-by-hop, nominated in Connection or
 * identity-bearing/spoofable; then the gateway appends Host, X-Forwarded-For/-Proto, its
 * own credential and the Impersonate-* headers of the authenticated identity (after the
 * filtering, so a client's "Connection: Impersonate-User" cannot remove them:
 * threat-model case 3). A final pass re-reads the bytes written and fails closed if any
 * client credential or impersonation header survived (threat-model case 10).
 * Pure: writes into a caller-owned, reused buffer; no per-header allocation. */
#ifndef AG_FORWARD_H
#define AG_FORWARD_H

#include <stdbool.h>

#include "authn/identity.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"
#include "http/httpreq.h"

typedef struct {
    ag_str_t upstream_host;        /* value for the Host header sent upstream */
    ag_str_t credential;           /* full header value for upstream Authorization, e.g.
                                    * "Bearer xyz"; empty = none (client-cert creds) */
    const ag_identity_t *identity; /* NULL = forward with no Impersonate-* (plain proxy) */
    ag_str_t client_ip;            /* for X-Forwarded-For; empty = header omitted */
    bool client_tls;               /* X-Forwarded-Proto https/http */
} ag_forward_opts_t;

/* Appends the upstream request head for <req> (which ag_canon_check accepted) to <out>:
 * "<METHOD> <target> HTTP/1.1\r\n", the client's headers minus every hop-by-hop header,
 * every header named in Connection, every AG_HDR_STRIP header, Host, Content-Length,
 * Transfer-Encoding and Upgrade, and Expect unless req->expect_continue; Sec-WebSocket-Protocol
 * without any "base64url.bearer.authorization.k8s.io." element (threat-model case 9); then Host,
 * X-Forwarded-For, X-Forwarded-Proto, Authorization (credential), Impersonate-User, one
 * Impersonate-Group per group, Impersonate-Uid (when non-empty), Impersonate-Extra-<key>
 * per value (key lower-cased and percent-encoded as client-go does,
 * kubernetes-authz.md §7.1), "Connection: Upgrade" + "Upgrade: <proto>" for upgrades,
 * "Transfer-Encoding: chunked" or "Content-Length: N" for bodies; then the blank line.
 * Everything is borrowed; <out> is owned by the caller and only appended to.
 * Returns AG_E_INVAL (nothing usable in <out>: answer 500, forward nothing) when an
 * identity value holds CR/LF/NUL or another control byte, or leading/trailing blanks a
 * parser would trim, when the username or a group or an extra key is empty, when method
 * or target are not forwardable bytes, or when the final pass finds a client
 * Authorization or Impersonate-* header; AG_E_TOO_BIG when <out> hits its cap. */
ag_err ag_forward_head(const ag_http_req_t *req, const ag_forward_opts_t *o, ag_buf_t *out);

/* Appends the client-go encoding of extra key <key> (each byte that is not an RFC 7230
 * token character, and '%', as %XX upper-case hex; ASCII letters lower-cased because the
 * API server lower-cases keys before decoding). */
ag_err ag_forward_encode_extra_key(ag_buf_t *out, ag_str_t key);

#endif
