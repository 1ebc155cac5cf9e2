/* Header-name classification (headers.h). One static table of the names the gateway
 * treats specially, filtered by length first, so classifying a header costs a handful of
 * integer compares and at most one short memcmp. Names are folded to lower case (and
 * '_' to '-') into a stack buffer; nothing is allocated. */
#include "http/headers.h"

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct {
    const char *name; /* lower case, '-' separated */
    unsigned char len;
    unsigned flags;
} hdr_entry;

#define H(lit, fl)                                                                                 \
    {                                                                                              \
        lit, sizeof(lit) - 1, (fl)                                                                 \
    }

/* Exact names. Sources: RFC 9110 §7.6.1 (hop-by-hop), threat-model.md cases 1-9 and 43
 * (identity and spoofable headers), issue 2 "Forwarding hygiene". */
static const hdr_entry exact[] = {
    /* sorted by length: see by_len */
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
    H("http2-settings", AG_HDR_HOP_BY_HOP), /* RFC 7540 §3.2.1: connection-specific */
    H("proxy-connection", AG_HDR_HOP_BY_HOP),
    H("transfer-encoding", AG_HDR_HOP_BY_HOP | AG_HDR_TRANSFER_ENCODING),
    H("x-method-override", AG_HDR_STRIP),
    H("proxy-authenticate", AG_HDR_HOP_BY_HOP),
    H("proxy-authorization", AG_HDR_HOP_BY_HOP | AG_HDR_STRIP),
    H("x-http-method-override", AG_HDR_STRIP),
    H("sec-websocket-protocol", AG_HDR_WS_PROTOCOL),
};

#define FOLD_MAX 22 /* the longest exact name */

/* [first, last) of the exact[] entries of each length: a lookup costs one or two
 * comparisons that mostly stop at the first byte. */
static const unsigned char by_len[FOLD_MAX + 1][2] = {
    [2] = {0, 1},    [4] = {1, 2},    [6] = {2, 3},    [7] = {3, 5},    [9] = {5, 7},
    [10] = {7, 9},   [11] = {9, 10},  [13] = {10, 13}, [14] = {13, 18}, [16] = {18, 19},
    [17] = {19, 21}, [18] = {21, 22}, [19] = {22, 23}, [22] = {23, 25},
};

/* Prefix classes: every header starting with one of these is never forwarded. */
static const hdr_entry prefixes[] = {
    H("impersonate-", AG_HDR_STRIP | AG_HDR_IMPERSONATE), /* KAS impersonation (§7.1) */
    H("x-remote-", AG_HDR_STRIP),    /* request-header authn (kube-rbac-proxy#443) */
    H("x-forwarded-", AG_HDR_STRIP), /* set by us only (threat-model case 7) */
    H("x-authgate-", AG_HDR_STRIP),  /* our own internal names (Envoy CVE-2023-27487) */
};

#undef H

/* Byte classes (AG_HTTP_TCHAR | AG_HTTP_VCHAR | AG_HTTP_FIELD), generated from RFC 9110
 * §5.6.2 (tchar), RFC 5234 (VCHAR 0x21-0x7e) and §5.5 (field-vchar / SP / HTAB /
 * obs-text). One lookup per byte on the hot path. */
const unsigned char ag_http_ctype[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xA0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xB0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xC0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xD0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xE0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xF0 */
};

bool ag_http_is_token(ag_str_t s)
{
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!ag_http_is_tchar((unsigned char)s.p[i]))
            return false;
    return true;
}

/* Only names starting with one of these letters can be special (see the tables). */
static bool may_be_special(char c)
{
    switch (c | 0x20) {
    case 'a':
    case 'c':
    case 'e':
    case 'f':
    case 'h':
    case 'i':
    case 'k':
    case 'p':
    case 's':
    case 't':
    case 'u':
    case 'x':
        return true;
    default:
        return false;
    }
}

/* Compares <p> with lower-case <lit> over <n> bytes, ASCII case-insensitively and with
 * '_' read as '-'. 0: differs; 1: equal; 2: equal thanks to at least one '_'. */
static int fold_eq(const char *p, const char *lit, size_t n)
{
    int res = 1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        else if (c == '_')
            c = '-', res = 2;
        if (c != lit[i])
            return 0;
    }
    return res;
}

unsigned ag_header_classify(ag_str_t name)
{
    size_t n = name.n;
    unsigned flags = 0;
    int m = 0;

    if (n < 2 || !may_be_special(name.p[0]))
        return 0;
    char c0 = (char)(name.p[0] | 0x20);
    for (size_t i = 0; (c0 == 'i' || c0 == 'x') && i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (n >= prefixes[i].len && (m = fold_eq(name.p, prefixes[i].name, prefixes[i].len))) {
            flags = prefixes[i].flags;
            break;
        }
    }
    for (size_t i = n <= FOLD_MAX ? by_len[n][0] : 0; !flags && n <= FOLD_MAX && i < by_len[n][1];
         i++) {
        if ((m = fold_eq(name.p, exact[i].name, n)) != 0)
            flags = exact[i].flags;
    }
    if (flags && m == 2) {
        /* "Impersonate_User", "Content_Length": never ours to interpret, never forwarded
         * (threat-model case 2). Keep the identity bit so authn can refuse them. */
        flags = AG_HDR_STRIP | AG_HDR_UNDERSCORE | (flags & AG_HDR_IMPERSONATE);
    }
    return flags;
}

/* Sixteen bytes at a time (SSE2, baseline on x86-64) while none is < 0x20 or 0x7f: a
 * ~1 KB bearer token is scanned twice per request (the raw head scan, then canon). */
static size_t field_span16(const char *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i max_ctl = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, max_ctl), x); /* unsigned x <= 0x1f */
        if (_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(x, del))))
            break;
    }
#else
    (void)p, (void)n;
#endif
    return i;
}

size_t ag_http_field_span(const char *p, size_t n)
{
    size_t i = field_span16(p, n);
    /* Eight bytes at a time while none is < 0x20 or 0x7f (HTAB too: then bytewise). */
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        y = x ^ 0x7f7f7f7f7f7f7f7fULL;
        if (((x - 0x2020202020202020ULL) & ~x & 0x8080808080808080ULL) |
            ((y - 0x0101010101010101ULL) & ~y & 0x8080808080808080ULL))
            break;
    }
    for (; i < n; i++)
        if (!(ag_http_ctype[(unsigned char)p[i]] & AG_HTTP_FIELD))
            return i;
    return n;
}

bool ag_http_value_is_clean(ag_str_t v)
{
    return ag_http_field_span(v.p, v.n) == v.n;
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

typedef struct {
    ag_str_t token;
    int tokens, others;
} ws_scan;

static bool ws_scan_cb(ag_str_t elem, void *ctx)
{
    ws_scan *w = ctx;
    /* Case-sensitive as in KAS; forward.c strips case-insensitively, so a near miss is
     * neither honoured here nor forwarded there. */
    if (!ag_str_starts_with(elem, AG_STR(AG_WS_BEARER_PREFIX))) {
        w->others++;
        return true;
    }
    w->tokens++;
    w->token = ag_str_sub(elem, sizeof AG_WS_BEARER_PREFIX - 1, elem.n);
    return true;
}

static bool is_b64url(ag_str_t s)
{
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return s.n % 4 != 1; /* no padding; a lone trailing sextet is never valid */
}

ag_err ag_ws_bearer_token(const ag_header_t *headers, int nheaders, ag_str_t *encoded)
{
    ws_scan w = {AG_STR_NULL, 0, 0};

    *encoded = AG_STR_NULL;
    for (int i = 0; i < nheaders; i++)
        if (ag_header_classify(headers[i].name) & AG_HDR_WS_PROTOCOL)
            ag_http_list_each(headers[i].value, ws_scan_cb, &w);
    if (w.tokens == 0)
        return 0;
    if (w.tokens > 1 || w.others == 0 || w.token.n == 0 || !is_b64url(w.token))
        return AG_E_PARSE;
    *encoded = w.token;
    return 0;
}
