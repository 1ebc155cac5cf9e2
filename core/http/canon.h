/* Canonical requests: the authorizer must judge exactly the request the upstream will
 * serve. This module rejects (with the status to answer) every request head that two
 * HTTP parsers, or the gateway and the API server, could read differently: request
 * smuggling (CL/TE), header spoofing shapes (obs-fold, bare CR/LF, whitespace before ':')
 * and path confusion (dot segments, encoded slashes, empty segments, fragments,
 * absolute-form for another host). Pure: it reads slices and writes only the derived
 * fields of the request; it never allocates and never decides authorization. */
#ifndef AG_CANON_H
#define AG_CANON_H

#include "base/str.h"
#include "http/httpreq.h"

/* ag_canon_check's answer for "OPTIONS *": not an error, not forwarded; the caller
 * answers it locally (200 with "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
 * and Content-Length: 0). It is not a valid HTTP status, so a caller that treats any
 * non-zero result as "do not forward" stays safe. */
#define AG_CANON_OPTIONS_STAR 1

/* Connection options one request may nominate; more is a 400 (amplification cap). */
#define AG_CANON_MAX_CONN_TOKENS 16

/* Scans the raw request head bytes (request line through the blank line, inclusive;
 * scanning stops at the first empty line, anything after it is not looked at) for what
 * llhttp might accept but two parsers could read differently: bare LF, bare CR, obs-fold
 * (a line starting with SP/HTAB), whitespace before ':', a header name that is not a
 * token, control bytes in header values, control/space/non-ASCII bytes in the
 * request-target, a malformed request line, NUL anywhere, a head with no blank line.
 * Returns NULL when clean, else a static reason (answer 400). */
const char *ag_canon_scan_head(ag_str_t head);

typedef struct {
    /* host[:port] names this gateway answers to, compared ASCII case-insensitively and
     * exactly (list "gw.example:443" and "gw.example" separately if both are used), for
     * absolute-form reduction. Borrowed. */
    const ag_str_t *self_authorities;
    int nself;
} ag_canon_opts_t;

/* Validates and normalizes <req> in place (all fields borrowed; derived slices point into
 * the same bytes, or to a static "/"). Returns:
 *   0                      forwardable; path/query/upgrade/websocket/chunked/
 *                          content_length/expect_continue and every header's flags set.
 *   AG_CANON_OPTIONS_STAR  "OPTIONS *" with valid framing: answer locally (see above).
 *   400                    anything ambiguous (the list in DESIGN.md "Canonical requests"),
 *                          also CONNECT (authority-form; the gateway is not a tunnel), a
 *                          second Authorization header, and "Impersonate_*" spellings
 *                          (an intermediary could fold them into Impersonate-*; other
 *                          '_' spellings of special names are only stripped).
 *   405                    TRACE / TRACK (cross-site tracing; never forwarded).
 *   417                    Expect other than 100-continue.
 *   505                    HTTP version other than 1.0 / 1.1.
 * and sets *reason to a static message for the log and the Status body. <opts> may be
 * NULL (no self authorities: every absolute-form target is refused).
 * Upgrade: h2c is never honoured: such a request is treated as a plain request (upgrade
 * false, the Upgrade header is hop-by-hop and dropped), as a server that does not speak
 * h2c does (RFC 9113 §3.1 removed h2c upgrade; h2c smuggling).
 * A target's path keeps percent-encodings of reserved and non-ASCII bytes (e.g. %3A, %20,
 * %C3%A9); whoever derives request attributes must percent-decode each '/'-separated
 * segment as Go's url.Path does. Encodings of unreserved bytes (ALPHA DIGIT - . _ ~,
 * which a decoder folds silently), of '/', '\', '%' (double encoding) and NUL are
 * refused, so splitting before or after decoding gives the same segments and decoding
 * once or twice gives the same names. */
int ag_canon_check(ag_http_req_t *req, const ag_canon_opts_t *opts, const char **reason);

#endif
