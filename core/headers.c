/* Header-name classification (headers.h). One static table of the names the gateway
 * treats specially, filtered by length first, so classifying a header costs a handful of
 * integer compares and at most one short memcmp. Names are folded to lower case (and
 * '_' to '-') into a stack buffer; nothing is allocated. */
#include "headers.h"

#include <string.h>

typedef struct {
    const char *name; /* lower case, '-' separated */
    unsigned char len;
    unsigned flags;
} hdr_entry;

#define H(lit, fl) {lit, sizeof(lit) - 1, (fl)}

/* Exact names. Sources: RFC 9110 §7.6.1 (hop-by-hop), threat-model.md cases 1-9 and 43
 * (identity and spoofable headers), issue 2 "Forwarding hygiene". */
static const hdr_entry exact[] = {
    H("te", AG_HDR_HOP_BY_HOP),
    H("host", AG_HDR_HOST),
    H("expect", AG_HDR_EXPECT),
    H("trailer", AG_HDR_HOP_BY_HOP),
    H("upgrade", AG_HDR_HOP_BY_HOP | AG_HDR_UPGRADE),
    H("forwarded", AG_HDR_STRIP),
    H("x-real-ip", AG_HDR_STRIP),
    H("connection", AG_HDR_HOP_BY_HOP | AG_HDR_CONNECTION),
    H("keep-alive", AG_HDR_HOP_BY_HOP),
    H("x-client-ip", AG_HDR_STRIP),
    H("x-http-method", AG_HDR_STRIP),
    H("authorization", AG_HDR_STRIP | AG_HDR_AUTHORIZATION),
    H("x-rewrite-url", AG_HDR_STRIP),
    H("content-length", AG_HDR_CONTENT_LENGTH),
    H("true-client-ip", AG_HDR_STRIP),
    H("x-original-url", AG_HDR_STRIP),
    H("x-original-uri", AG_HDR_STRIP),
    H("proxy-connection", AG_HDR_HOP_BY_HOP),
    H("transfer-encoding", AG_HDR_HOP_BY_HOP | AG_HDR_TRANSFER_ENCODING),
    H("x-method-override", AG_HDR_STRIP),
    H("proxy-authenticate", AG_HDR_HOP_BY_HOP),
    H("proxy-authorization", AG_HDR_HOP_BY_HOP | AG_HDR_STRIP),
    H("x-http-method-override", AG_HDR_STRIP),
    H("sec-websocket-protocol", AG_HDR_WS_PROTOCOL),
};

/* Prefix classes: every header starting with one of these is never forwarded. */
static const hdr_entry prefixes[] = {
    H("impersonate-", AG_HDR_STRIP | AG_HDR_IMPERSONATE), /* KAS impersonation (§7.1) */
    H("x-remote-", AG_HDR_STRIP),      /* request-header authn (kube-rbac-proxy#443) */
    H("x-forwarded-", AG_HDR_STRIP),   /* set by us only (threat-model case 7) */
    H("x-authgate-", AG_HDR_STRIP),    /* our own internal names (Envoy CVE-2023-27487) */
};

#undef H

#define FOLD_MAX 32 /* longer than every exact name and prefix above */

bool ag_http_is_tchar(unsigned char c)
{
    /* RFC 9110 §5.6.2: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
     * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool ag_http_is_token(ag_str_t s)
{
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!ag_http_is_tchar((unsigned char)s.p[i]))
            return false;
    return true;
}

unsigned ag_header_classify(ag_str_t name)
{
    char fold[FOLD_MAX];
    size_t n = name.n < FOLD_MAX ? name.n : FOLD_MAX;
    bool underscore = false;
    unsigned flags = 0;

    for (size_t i = 0; i < n; i++) {
        char c = ag_ascii_lower(name.p[i]);
        if (c == '_') {
            c = '-';
            underscore = true;
        }
        fold[i] = c;
    }
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (n >= prefixes[i].len && memcmp(fold, prefixes[i].name, prefixes[i].len) == 0) {
            flags = prefixes[i].flags;
            break;
        }
    }
    if (!flags && name.n <= FOLD_MAX) {
        for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
            if (exact[i].len == n && fold[0] == exact[i].name[0] &&
                memcmp(fold, exact[i].name, n) == 0) {
                flags = exact[i].flags;
                break;
            }
        }
    }
    if (flags && underscore) {
        /* "Impersonate_User", "Content_Length": never ours to interpret, never forwarded
         * (threat-model case 2). Keep the identity bit so authn can refuse them. */
        flags = AG_HDR_STRIP | AG_HDR_UNDERSCORE | (flags & AG_HDR_IMPERSONATE);
    }
    return flags;
}

bool ag_http_value_is_clean(ag_str_t v)
{
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

ag_str_t ag_http_trim_ows(ag_str_t s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

bool ag_http_list_each(ag_str_t value, bool (*fn)(ag_str_t elem, void *ctx), void *ctx)
{
    ag_str_t rest = value, elem;
    while (rest.p) {
        rest = ag_str_split(rest, ',', &elem);
        elem = ag_http_trim_ows(elem);
        if (elem.n && !fn(elem, ctx))
            return false;
    }
    return true;
}

static bool list_has_cb(ag_str_t elem, void *ctx)
{
    return !ag_str_ieq(elem, *(const ag_str_t *)ctx); /* false stops: found */
}

bool ag_http_list_has(ag_str_t value, ag_str_t token)
{
    return !ag_http_list_each(value, list_has_cb, &token);
}
