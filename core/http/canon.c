/* Canonical-request checks (canon.h). Two passes over a request head: a raw byte scan
 * (ag_canon_scan_head) for the shapes llhttp's strict mode may still let through and a
 * structural check of the parsed fields (ag_canon_check). Every rejection names its
 * reason; each rule carries the case it closes. No allocation, no I/O. */
#include "http/canon.h"

#include <limits.h>
#include <string.h>

#include "http/headers.h"

#define REJECT(code, msg)                                                                          \
    do {                                                                                           \
        *reason = (msg);                                                                           \
        return (code);                                                                             \
    } while (0)

/* ---- raw head scan --------------------------------------------------------------- */

/* The reason for a byte the line grammar does not allow. */
static const char *bad_byte(unsigned char c, const char *otherwise)
{
    if (c == '\0')
        return "NUL byte in request head";
    if (c == '\r') /* RFC 9112 §2.2: a bare CR is ambiguous */
        return "bare CR in request head";
    return otherwise;
}

static const char *scan_request_line(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n && ag_http_is_tchar(p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ')
        return bad_byte(p[i < n ? i : 0], "malformed request line");
    size_t t = ++i;
    for (; i < n && p[i] != ' '; i++)
        if (!(ag_http_ctype[p[i]] & AG_HTTP_VCHAR)) /* RFC 3986: visible ASCII only */
            return bad_byte(p[i], "control, space or non-ASCII byte in request target");
    if (i == t || i == n)
        return "malformed request line";
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 5] < '0' || p[i + 5] > '9' ||
        p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9') {
        for (; i < n; i++)
            if (p[i] == '\0' || p[i] == '\r')
                return bad_byte(p[i], NULL);
        return "malformed request line";
    }
    return NULL;
}

static const char *scan_header_line(const unsigned char *p, size_t n)
{
    size_t i = 0;

    if (p[0] == ' ' || p[0] == '\t') /* RFC 9112 §5.2: obs-fold is a 400 */
        return "obsolete line folding in header";
    while (i < n && ag_http_is_tchar(p[i]))
        i++;
    if (i < n && (p[i] == ' ' || p[i] == '\t')) /* RFC 9112 §5.1: no WS before ':' */
        return "whitespace between header name and colon";
    if (i == 0 || i == n || p[i] != ':')
        return bad_byte(p[i < n ? i : 0], "malformed header line");
    i++;
    i += ag_http_field_span((const char *)p + i, n - i);
    if (i < n) /* Envoy CVE-2019-9900 */
        return bad_byte(p[i], "control byte in header value");
    return NULL;
}

const char *ag_canon_scan_head(ag_str_t head)
{
    const unsigned char *p = (const unsigned char *)head.p;
    size_t i = 0, n = head.n;
    int lineno = 0;

    /* RFC 9112 §2.2: a server may ignore empty lines (CRLF) before the request line. */
    while (n - i >= 2 && p[i] == '\r' && p[i + 1] == '\n')
        i += 2;
    for (;;) {
        const unsigned char *lf = i < n ? memchr(p + i, '\n', n - i) : NULL;
        if (!lf) {
            for (; i < n; i++)
                if (p[i] == '\0' || p[i] == '\r')
                    return bad_byte(p[i], NULL);
            return "request head has no terminating empty line";
        }
        size_t end = (size_t)(lf - p);
        if (end == i || p[end - 1] != '\r') /* RFC 9112 §2.2: bare LF is ambiguous */
            return "bare LF in request head";
        size_t len = end - 1 - i;
        const char *why;
        if (lineno == 0)
            why = len ? scan_request_line(p + i, len) : "empty request line";
        else if (len == 0)
            return NULL; /* the blank line ends the head */
        else
            why = scan_header_line(p + i, len);
        if (why)
            return why;
        i = end + 1;
        lineno++;
    }
}

/* ---- request line ------------------------------------------------------------------ */

static int check_method(ag_str_t m, const char **reason)
{
    if (m.n == 0)
        REJECT(400, "empty method");
    /* KAS derives the verb from the lower-cased method while routing is case-sensitive:
     * accept only the upper-case spelling every real method has. */
    for (size_t i = 0; i < m.n; i++)
        if (!((m.p[i] >= 'A' && m.p[i] <= 'Z') || m.p[i] == '-'))
            REJECT(400, "method is not an upper-case token");
    if (ag_str_eq_lit(m, "CONNECT")) /* the gateway is not a tunnel (authority-form) */
        REJECT(400, "CONNECT is not supported");
    if (ag_str_eq_lit(m, "TRACE") || ag_str_eq_lit(m, "TRACK")) /* cross-site tracing */
        REJECT(405, "TRACE is not allowed");
    return 0;
}

static bool is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Decodes the %XX at s.p[i]; -1 when malformed. */
static int pct_at(ag_str_t s, size_t i)
{
    if (s.n - i < 3)
        return -1;
    int hi = ag_hex_digit(s.p[i + 1]), lo = ag_hex_digit(s.p[i + 2]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

static int check_segment(ag_str_t seg, bool last, const char **reason)
{
    if (seg.n == 0 && !last) /* "//": Go's path.Clean and KAS RequestInfo disagree */
        REJECT(400, "empty path segment");
    if (ag_str_eq_lit(seg, ".") || ag_str_eq_lit(seg, "..")) /* kube-rbac-proxy#443 */
        REJECT(400, "dot segment in path");
    return 0;
}

/* Path rules (threat-model case 18; Envoy CVE-2019-9901, CVE-2021-29492). */
static int check_path(ag_str_t path, const char **reason)
{
    size_t seg_start = 1;

    for (size_t i = 1; i <= path.n; i++) {
        char c = i < path.n ? path.p[i] : '/';
        if (c == '%') {
            int v = pct_at(path, i);
            if (v < 0)
                REJECT(400, "malformed percent-encoding in path");
            if (v == 0)
                REJECT(400, "encoded NUL in path");
            if (v == '/' || v == '\\')
                REJECT(400, "encoded slash or backslash in path");
            if (v == '.')
                REJECT(400, "encoded dot in path");
            if (v == '%') /* "%252e": one decode more and it is a dot (double encoding);
                           * Kubernetes names never hold '%' (ValidatePathSegmentName) */
                REJECT(400, "encoded percent sign in path");
            if (is_unreserved(v)) /* decoders fold %61 to 'a': two spellings, one name */
                REJECT(400, "percent-encoded unreserved character in path");
            i += 2;
        } else if (c == '\\') { /* some stacks read it as '/' */
            REJECT(400, "backslash in path");
        } else if (c == ';') { /* path parameters: Tomcat/Envoy-style readers drop them */
            REJECT(400, "';' in path");
        } else if (c == '/') {
            int rc =
                check_segment(ag_str_make(path.p + seg_start, i - seg_start), i == path.n, reason);
            if (rc)
                return rc;
            seg_start = i + 1;
        }
    }
    return 0;
}

static int check_query(ag_str_t q, const char **reason)
{
    for (size_t i = 0; i < q.n; i++) {
        if (q.p[i] != '%')
            continue;
        int v = pct_at(q, i);
        if (v < 0)
            REJECT(400, "malformed percent-encoding in query");
        if (v == 0)
            REJECT(400, "encoded NUL in query");
        i += 2;
    }
    return 0;
}

static bool authority_is_self(ag_str_t auth, const ag_canon_opts_t *opts)
{
    for (int i = 0; opts && i < opts->nself; i++)
        if (ag_str_ieq(auth, opts->self_authorities[i]))
            return true;
    return false;
}

/* Reduces an absolute-form target for this gateway to origin-form (RFC 9112 §3.2.2). */
static int reduce_absolute(ag_http_req_t *req, const ag_canon_opts_t *opts, const char **reason)
{
    ag_str_t t = req->target, rest;
    if (ag_str_istarts_with(t, AG_STR("http://")))
        rest = ag_str_sub(t, 7, t.n);
    else if (ag_str_istarts_with(t, AG_STR("https://")))
        rest = ag_str_sub(t, 8, t.n);
    else
        REJECT(400, "request target is not in origin form");
    size_t end = 0;
    while (end < rest.n && rest.p[end] != '/' && rest.p[end] != '?')
        end++;
    ag_str_t auth = ag_str_make(rest.p, end);
    if (auth.n == 0 || ag_str_find_char(auth, '@') != auth.n)
        REJECT(400, "invalid authority in absolute-form target");
    if (!authority_is_self(auth, opts)) /* not a forward proxy */
        REJECT(400, "absolute-form target names another host");
    if (end == rest.n)
        req->target = AG_STR("/");
    else if (rest.p[end] == '?')
        REJECT(400, "absolute-form target without a path");
    else
        req->target = ag_str_make(rest.p + end, rest.n - end);
    return 0;
}

static int check_target(ag_http_req_t *req, const ag_canon_opts_t *opts, const char **reason)
{
    ag_str_t t = req->target;
    int rc;

    if (t.n == 0)
        REJECT(400, "empty request target");
    for (size_t i = 0; i < t.n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if (c < 0x21 || c > 0x7e)
            REJECT(400, "control, space or non-ASCII byte in request target");
        if (c == '#') /* RFC 9112 §3.2: fragments are never sent */
            REJECT(400, "fragment in request target");
    }
    if (ag_str_eq_lit(t, "*")) {
        if (!ag_str_eq_lit(req->method, "OPTIONS"))
            REJECT(400, "asterisk-form target with a method other than OPTIONS");
        *reason = "OPTIONS * is answered by the gateway";
        return AG_CANON_OPTIONS_STAR;
    }
    if (t.p[0] != '/' && (rc = reduce_absolute(req, opts, reason)) != 0)
        return rc;
    t = req->target;
    size_t q = ag_str_find_char(t, '?');
    req->path = ag_str_make(t.p, q);
    req->query = q < t.n ? ag_str_make(t.p + q + 1, t.n - q - 1) : ag_str_make(t.p + t.n, 0);
    if ((rc = check_path(req->path, reason)) != 0)
        return rc;
    return check_query(req->query, reason);
}

/* ---- headers ----------------------------------------------------------------------- */

typedef struct {
    int hosts, cls, tes, upgrades, authzs, expects, conn_tokens;
    bool conn_upgrade;
    ag_str_t host, cl, te, upgrade, expect;
} hdr_summary;

static bool conn_token_cb(ag_str_t elem, void *ctx)
{
    hdr_summary *s = ctx;
    if (!ag_http_is_token(elem))
        return false;
    s->conn_tokens++;
    if (ag_str_ieq(elem, AG_STR("upgrade")))
        s->conn_upgrade = true;
    return true;
}

static int summarize_headers(ag_http_req_t *req, hdr_summary *s, const char **reason)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < req->nheaders; i++) {
        ag_header_t *h = &req->headers[i];
        if (!ag_http_is_token(h->name))
            REJECT(400, "invalid header name");
        h->value = ag_http_trim_ows(h->value); /* OWS is not part of the value */
        if (!ag_http_value_is_clean(h->value)) /* Envoy CVE-2019-9900 */
            REJECT(400, "control byte in header value");
        h->flags = ag_header_classify(h->name);
        if ((h->flags & AG_HDR_IMPERSONATE) && ag_str_find_char(h->name, '_') != h->name.n)
            REJECT(400, "underscore spelling of an Impersonate- header"); /* threat case 2 */
        if (h->flags & AG_HDR_HOST)
            s->hosts++, s->host = h->value;
        if (h->flags & AG_HDR_CONTENT_LENGTH)
            s->cls++, s->cl = h->value;
        if (h->flags & AG_HDR_TRANSFER_ENCODING)
            s->tes++, s->te = h->value;
        if (h->flags & AG_HDR_UPGRADE)
            s->upgrades++, s->upgrade = h->value;
        if (h->flags & AG_HDR_AUTHORIZATION)
            s->authzs++;
        if (h->flags & AG_HDR_EXPECT)
            s->expects++, s->expect = h->value;
        if ((h->flags & AG_HDR_CONNECTION) && !ag_http_list_each(h->value, conn_token_cb, s))
            REJECT(400, "invalid Connection header");
    }
    if (s->conn_tokens > AG_CANON_MAX_CONN_TOKENS)
        REJECT(400, "too many Connection options");
    return 0;
}

static bool host_is_valid(ag_str_t h)
{
    if (h.n == 0)
        return false;
    for (size_t i = 0; i < h.n; i++) {
        char c = h.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

/* Body framing (RFC 9112 §6; threat-model case 42: CL/TE smuggling). */
static int check_framing(ag_http_req_t *req, const hdr_summary *s, const char **reason)
{
    req->content_length = -1;
    req->chunked = false;
    if (s->cls > 1)
        REJECT(400, "duplicate Content-Length");
    if (s->tes > 1)
        REJECT(400, "duplicate Transfer-Encoding");
    if (s->cls && s->tes)
        REJECT(400, "both Content-Length and Transfer-Encoding");
    if (s->tes) {
        if (req->http_minor == 0)
            REJECT(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (!ag_str_ieq(s->te, AG_STR("chunked")))
            REJECT(400, "Transfer-Encoding other than chunked");
        req->chunked = true;
    }
    if (s->cls) {
        unsigned long long v;
        if (s->cl.n > 18 || !ag_str_to_u64(s->cl, &v))
            REJECT(400, "invalid Content-Length");
        req->content_length = (long long)v;
    }
    return 0;
}

static bool upgrade_elem_cb(ag_str_t elem, void *ctx)
{
    int *state = ctx; /* 0 ok, 1 h2c seen, 2 invalid */
    ag_str_t name, ver = ag_str_split(elem, '/', &name);
    if (!ag_http_is_token(name) || (ver.p && !ag_http_is_token(ver))) {
        *state = 2;
        return false;
    }
    if (ag_str_ieq(name, AG_STR("h2c")))
        *state = 1;
    return true;
}

static int check_upgrade(ag_http_req_t *req, const hdr_summary *s, const char **reason)
{
    req->upgrade = req->websocket = false;
    req->upgrade_proto = AG_STR_NULL;
    if (s->upgrades > 1)
        REJECT(400, "duplicate Upgrade header");
    if (s->upgrades == 0 || !s->conn_upgrade || req->http_minor == 0)
        return 0; /* no upgrade asked; a lone Upgrade header is hop-by-hop, dropped */
    int state = 0;
    if (s->upgrade.n == 0 || !ag_http_list_each(s->upgrade, upgrade_elem_cb, &state) || state == 2)
        REJECT(400, "invalid Upgrade header");
    if (state == 1)
        return 0; /* h2c: never honoured, never forwarded (see canon.h) */
    req->upgrade = true;
    req->upgrade_proto = s->upgrade;
    req->websocket = ag_http_list_has(s->upgrade, AG_STR("websocket"));
    return 0;
}

int ag_canon_check(ag_http_req_t *req, const ag_canon_opts_t *opts, const char **reason)
{
    hdr_summary s;
    int rc;

    *reason = NULL;
    req->path = req->query = AG_STR_NULL;
    req->expect_continue = false;
    if ((rc = check_method(req->method, reason)) != 0)
        return rc;
    if (req->http_major != 1 || (req->http_minor != 0 && req->http_minor != 1))
        REJECT(505, "HTTP version not supported");
    if ((rc = summarize_headers(req, &s, reason)) != 0)
        return rc;
    if (s.hosts == 0) /* RFC 9112 §3.2: 400 for a missing Host */
        REJECT(400, "missing Host header");
    if (s.hosts > 1 || !host_is_valid(s.host)) /* RFC 9112 §3.2: 400 for several */
        REJECT(400, "duplicate or invalid Host header");
    if (s.authzs > 1) /* threat-model case 9: one deterministic credential */
        REJECT(400, "duplicate Authorization header");
    if ((rc = check_framing(req, &s, reason)) != 0)
        return rc;
    if ((rc = check_upgrade(req, &s, reason)) != 0)
        return rc;
    if (s.expects && req->http_minor >= 1) { /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
        if (s.expects > 1 || !ag_str_ieq(s.expect, AG_STR("100-continue")))
            REJECT(417, "unsupported Expect");
        req->expect_continue = true;
    }
    return check_target(req, opts, reason);
}
