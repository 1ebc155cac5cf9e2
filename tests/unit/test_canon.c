/* Canonical-request rules (core/http/canon.c): every rejection in DESIGN.md "Canonical
 * requests", issue 2 and threat-model.md cases 2, 9, 18 and 42 has its own case. */
#include "headsplit.h"
#include "http/canon.h"
#include "http/headers.h"
#include "testlib.h"

static const ag_str_t self_names[] = {{"gw.example", 10}, {"gw.example:8443", 15}};
static const ag_canon_opts_t opts = {self_names, 2};

/* Scans, splits and checks <raw>; returns the canon result, or -400 when the raw scan
 * refused it. <h> keeps the parsed request for further checks. */
static int run(const char *raw, hs_head_t *h, const char **reason)
{
    ag_str_t head = ag_str_cstr(raw);
    const char *why = ag_canon_scan_head(head);
    if (why) {
        *reason = why;
        return -400;
    }
    if (hs_split(head, h) != 0) {
        *reason = "split failed";
        return -1;
    }
    return ag_canon_check(&h->req, &opts, reason);
}

static int check_raw(const char *raw)
{
    static hs_head_t h;
    const char *reason = NULL;
    int rc = run(raw, &h, &reason);
    if (rc != 0 && reason == NULL) {
        fprintf(stderr, "no reason for %d\n", rc);
        return -2;
    }
    return rc;
}

static int check_target(const char *target)
{
    char raw[512];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: gw.example\r\n\r\n", target);
    return check_raw(raw);
}

static int check_headers(const char *headers)
{
    char raw[1024];
    snprintf(raw, sizeof raw, "POST /api/v1/namespaces HTTP/1.1\r\nHost: gw.example\r\n%s\r\n",
             headers);
    return check_raw(raw);
}

/* Checks that <check> answers <want> for every string of <list>. */
static void check_each(int (*check)(const char *), int want, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check(list[i]);
        if (rc != want)
            fprintf(stderr, "%s -> %d, want %d\n", list[i], rc, want);
        CHECK_EQ(rc, want);
    }
}

#define CHECK_EACH(check, want, ...)                                                               \
    do {                                                                                           \
        const char *const list_[] = {__VA_ARGS__};                                                 \
        check_each(check, want, list_, AG_NELEMS(list_));                                          \
    } while (0)
#define CHECK_TARGETS(want, ...) CHECK_EACH(check_target, want, __VA_ARGS__)
#define CHECK_HEADERS(want, ...) CHECK_EACH(check_headers, want, __VA_ARGS__)

static const char *scan_n(const char *raw, size_t n)
{
    return ag_canon_scan_head(ag_str_make(raw, n));
}

/* ---- raw head scan ------------------------------------------------------------------ */

/* One raw head and whether ag_canon_scan_head refuses it; the length comes from the literal,
 * so embedded NULs count. */
typedef struct {
    const char *raw;
    size_t n;
    bool refused;
} scan_case_t;

/* clang-format off */
#define SCAN_OK(lit) {lit, sizeof(lit) - 1, false}
#define SCAN_NO(lit) {lit, sizeof(lit) - 1, true}
/* clang-format on */

static const scan_case_t scan_cases[] = {
    /* clean heads */
    SCAN_OK("GET /api HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Empty:\r\n\r\n"),
    SCAN_OK("GET /api HTTP/1.0\r\n\r\n"),
    /* bare LF */
    SCAN_NO("GET /api HTTP/1.1\nHost: a\r\n\r\n"),
    SCAN_NO("GET /api HTTP/1.1\r\nHost: a\n\r\n"),
    SCAN_NO("GET /api HTTP/1.1\r\nHost: a\r\n\n"),
    SCAN_NO("GET /api HTTP/1.1\r\nX: a\nImpersonate-User: root\r\n\r\n"),
    /* bare CR */
    SCAN_NO("GET /api HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"),
    SCAN_NO("GET /api HTTP/1.1\r\nX: a\rImpersonate-User: root\r\n\r\n"),
    SCAN_NO("GET /api\r HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET /api HTTP/1.1\r\nHost: a\r\n\r\r"),
    /* obs-fold */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\n b\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\n\tImpersonate-User: x\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
    /* whitespace before the colon */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nImpersonate-User : root\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
    /* NUL anywhere */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"),
    SCAN_NO("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: a\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX: a\0"),
    /* control or non-ASCII bytes in the target */
    SCAN_NO("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
    /* control bytes in header values; HTAB and obs-text are fine */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"),
    SCAN_OK("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n"),
    SCAN_OK("GET / HTTP/1.1\r\nHost: a\r\nX-Group: \xe1\x9b\x84 caf\xc3\xa9\r\n\r\n"),
    /* no blank line */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a"),
    SCAN_NO(""),
    SCAN_NO("\r\n"),
    /* malformed request line */
    SCAN_NO("GET  / HTTP/1.1\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1 \r\n\r\n"),
    SCAN_NO("GET / HTTP/11\r\n\r\n"),
    SCAN_NO("GET / http/1.1\r\n\r\n"),
    SCAN_NO("GET /\r\n\r\n"),
    SCAN_NO(" GET / HTTP/1.1\r\n\r\n"),
    SCAN_NO("G(T / HTTP/1.1\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1.1\r\n\r\n"),
    SCAN_NO("GET /  HTTP/1.1\r\n\r\n"),
    /* invalid header names */
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nBad\"Name: x\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
    SCAN_NO("GET / HTTP/1.1\r\nHost: a\r\nX(y): x\r\n\r\n"),
    /* leading empty lines are skipped only as CRLF */
    SCAN_OK("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    SCAN_NO("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    /* the scan stops at the blank line: the body may hold anything */
    SCAN_OK("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n\0\n\r"),
};

TEST(canon_scan_cases)
{
    for (size_t i = 0; i < AG_NELEMS(scan_cases); i++) {
        const scan_case_t *c = &scan_cases[i];
        bool refused = scan_n(c->raw, c->n) != NULL;
        if (refused != c->refused)
            fprintf(stderr, "scan case %zu (%.40s): refused %d\n", i, c->raw, refused);
        CHECK(refused == c->refused);
    }
}

/* ---- request line ------------------------------------------------------------------ */

TEST(canon_accepts_plain_get)
{
    hs_head_t h;
    const char *reason = "x";
    const char *raw = "GET /api/v1/namespaces/default/pods?watch=true HTTP/1.1\r\n"
                      "Host: gw.example\r\nAccept: */*\r\n\r\n";
    CHECK_EQ(run(raw, &h, &reason), 0);
    CHECK(reason == NULL);
    CHECK_SLICE(h.req.path, "/api/v1/namespaces/default/pods");
    CHECK_SLICE(h.req.query, "watch=true");
    CHECK_SLICE(h.req.target, "/api/v1/namespaces/default/pods?watch=true");
    CHECK(h.req.target.p == raw + 4); /* judged and forwarded: the same bytes */
    CHECK_EQ(h.req.content_length, -1);
    CHECK(!h.req.chunked);
    CHECK(!h.req.upgrade);
    CHECK(!h.req.websocket);
}

TEST(canon_splits_empty_query)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET /api? HTTP/1.1\r\nHost: gw.example\r\n\r\n", &h, &reason), 0);
    CHECK_SLICE(h.req.path, "/api");
    CHECK_SLICE(h.req.query, "");
    CHECK_EQ(run("GET /api HTTP/1.1\r\nHost: gw.example\r\n\r\n", &h, &reason), 0);
    CHECK_EQ(h.req.query.n, 0);
}

/* Whole requests and the status ag_canon_check answers (0: forwardable). */
typedef struct {
    const char *raw;
    int want;
} raw_case_t;

static const raw_case_t raw_cases[] = {
    {"CONNECT gw.example:443 HTTP/1.1\r\nHost: gw.example:443\r\n\r\n", 400},
    {"CONNECT /api HTTP/1.1\r\nHost: gw.example\r\n\r\n", 400},
    {"TRACE / HTTP/1.1\r\nHost: gw.example\r\n\r\n", 405},
    {"TRACK / HTTP/1.1\r\nHost: gw.example\r\n\r\n", 405},
    /* methods are case-sensitive */
    {"get / HTTP/1.1\r\nHost: gw.example\r\n\r\n", 400},
    {"Get / HTTP/1.1\r\nHost: gw.example\r\n\r\n", 400},
    {"PATCH / HTTP/1.1\r\nHost: gw.example\r\n\r\n", 0},
    /* only HTTP/1.0 and 1.1 */
    {"GET / HTTP/2.0\r\nHost: gw.example\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: gw.example\r\n\r\n", 505},
    {"GET / HTTP/1.2\r\nHost: gw.example\r\n\r\n", 505},
    {"GET / HTTP/1.0\r\nHost: gw.example\r\n\r\n", 0},
    /* OPTIONS * is answered locally, but framing is checked first: a smuggling attempt is a
     * 400, not a local 200 */
    {"OPTIONS * HTTP/1.1\r\nHost: gw.example\r\n\r\n", AG_CANON_OPTIONS_STAR},
    {"OPTIONS * HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 1\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     400},
    /* the asterisk target is for OPTIONS only */
    {"GET * HTTP/1.1\r\nHost: gw.example\r\n\r\n", 400},
    {"OPTIONS *x HTTP/1.1\r\nHost: gw.example\r\n\r\n", 400},
    /* Host: exactly one, valid */
    {"GET / HTTP/1.1\r\nAccept: x\r\n\r\n", 400},
    {"GET / HTTP/1.0\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: gw.example\r\nHost: gw.example\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: gw.example\r\nhost: evil\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: user@gw\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: [::1]:6443\r\n\r\n", 0},
    /* no Transfer-Encoding on HTTP/1.0 */
    {"POST / HTTP/1.0\r\nHost: gw.example\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
};

TEST(canon_request_cases)
{
    for (size_t i = 0; i < AG_NELEMS(raw_cases); i++) {
        int rc = check_raw(raw_cases[i].raw);
        if (rc != raw_cases[i].want)
            fprintf(stderr, "request case %zu (%.40s) -> %d\n", i, raw_cases[i].raw, rc);
        CHECK_EQ(rc, raw_cases[i].want);
    }
}

/* ---- path confusion (threat-model case 18) ----------------------------------------- */

TEST(canon_rejects_encoded_slash)
{
    CHECK_TARGETS(400, "/api/v1/namespaces/a%2Fb/pods", "/api/v1/namespaces/a%2fb/pods", "/api%2F",
                  "/%2f..%2fetc");
}

TEST(canon_rejects_encoded_backslash)
{
    CHECK_TARGETS(400, "/api/v1/namespaces/a%5Cb", "/api%5c");
}

TEST(canon_rejects_encoded_nul)
{
    CHECK_TARGETS(400, "/api/v1/pods%00", "/api?x=%00", "/api?labelSelector=a%00b");
}

TEST(canon_rejects_raw_backslash)
{
    CHECK_TARGETS(400, "/api\\v1", "/api/v1/namespaces/..\\kube-system", "/\\");
}

TEST(canon_rejects_dot_segments)
{
    CHECK_TARGETS(400, "/api/v1/namespaces/default/../kube-system/secrets", "/api/./v1", "/..",
                  "/.", "/api/v1/..", "/api/v1/.", "/api/../api?x=1");
}

TEST(canon_rejects_percent_encoded_dot_segments_any_case)
{
    CHECK_TARGETS(400, "/api/%2e%2e/secrets", "/api/%2E%2E/secrets", "/api/.%2e/x", "/api/%2e./x",
                  "/api/%2E/x", "/api/v1/namespaces/a%2eb");
}

TEST(canon_rejects_percent_encoded_unreserved_characters)
{
    CHECK_TARGETS(400, "/api/v1/namespaces/%6bube-system/secrets", "/api/v1/pod%73", "/api/%7E",
                  "/api/%2D", "/api/%5F", "/api/%30");
}

TEST(canon_keeps_reserved_and_non_ascii_percent_encoding)
{
    CHECK_TARGETS(0, "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aadmin",
                  "/api/v1/namespaces/default/configmaps/a%20b", "/x/caf%C3%A9",
                  "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-admin");
}

TEST(canon_rejects_double_percent_encoding)
{
    CHECK_TARGETS(400, "/api/%252e%252e/secrets", "/api/%252F", "/api/%25", "/api/a%2541");
    CHECK_TARGETS(0, "/api?x=%252e");
}

TEST(canon_rejects_malformed_percent_encoding)
{
    CHECK_TARGETS(400, "/api/%zz", "/api/%2", "/api/%", "/api/%g0", "/api?x=%", "/api?x=%4");
}

TEST(canon_rejects_empty_path_segments)
{
    CHECK_TARGETS(400, "//api", "/api//v1", "/api/v1//", "//", "/api/v1/namespaces//pods");
}

TEST(canon_allows_trailing_slash)
{
    CHECK_TARGETS(0, "/", "/api/", "/api/v1/namespaces/default/pods/", "/?x=1");
}

TEST(canon_rejects_fragment)
{
    CHECK_TARGETS(400, "/api#frag", "/api?x=1#y", "/#", "/api/v1/namespaces/default/pods#/..");
}

TEST(canon_rejects_semicolon_in_path)
{
    CHECK_TARGETS(400, "/api/v1/namespaces/default/secrets;/x", "/api;jsessionid=1");
    CHECK_TARGETS(0, "/api?a=1;b=2");
}

TEST(canon_allows_encoded_slash_in_query)
{
    /* kubectl sends label selectors encoded: app.kubernetes.io/name=x */
    CHECK_TARGETS(0, "/api/v1/pods?labelSelector=app.kubernetes.io%2Fname%3Dx",
                  "/api/v1/pods?fieldSelector=a%5Cb&watch=1&watch=0", "/api?x=%2e%2e");
}

TEST(canon_rejects_relative_target)
{
    CHECK_TARGETS(400, "api/v1", "?x=1", "gw.example:443", "./api");
}

/* ---- absolute form --------------------------------------------------------------- */

TEST(canon_reduces_absolute_form_for_self)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET http://gw.example/api/v1/pods?watch=1 HTTP/1.1\r\nHost: gw.example\r\n\r\n",
                 &h, &reason),
             0);
    CHECK_SLICE(h.req.target, "/api/v1/pods?watch=1");
    CHECK_SLICE(h.req.path, "/api/v1/pods");
    CHECK_SLICE(h.req.query, "watch=1");
    CHECK_EQ(
        run("GET HTTPS://GW.Example:8443/apis HTTP/1.1\r\nHost: gw.example\r\n\r\n", &h, &reason),
        0);
    CHECK_SLICE(h.req.target, "/apis");
    CHECK_EQ(run("GET http://gw.example HTTP/1.1\r\nHost: gw.example\r\n\r\n", &h, &reason), 0);
    CHECK_SLICE(h.req.target, "/");
    CHECK_SLICE(h.req.path, "/");
}

TEST(canon_checks_reduced_absolute_path)
{
    CHECK_TARGETS(400, "http://gw.example/api/../secrets", "http://gw.example//api",
                  "http://gw.example/a%2fb", "http://gw.example?x=1");
}

TEST(canon_rejects_absolute_form_for_other_host)
{
    CHECK_TARGETS(400, "http://evil.example/api", "http://gw.example.evil/api",
                  "http://gw.example:9999/api", "http://evil@gw.example/api",
                  "http://gw.example@evil/api", "ftp://gw.example/api", "http:///api",
                  "http:/gw.example/api");
}

TEST(canon_rejects_absolute_form_without_self_names)
{
    hs_head_t h;
    const char *reason;
    const char *raw = "GET http://gw.example/api HTTP/1.1\r\nHost: gw.example\r\n\r\n";
    CHECK(ag_canon_scan_head(ag_str_cstr(raw)) == NULL);
    CHECK_EQ(hs_split(ag_str_cstr(raw), &h), 0);
    CHECK_EQ(ag_canon_check(&h.req, NULL, &reason), 400);
}

/* ---- Host ------------------------------------------------------------------------- */

/* ---- framing: CL/TE smuggling (threat-model case 42) ------------------------------- */

TEST(canon_accepts_content_length_and_chunked_spellings)
{
    CHECK_HEADERS(0, "Content-Length: 0\r\n", "Content-Length: 007\r\n");
    CHECK_HEADERS(0, "Transfer-Encoding: Chunked\r\n", "transfer-encoding:chunked\r\n");
}

TEST(canon_rejects_duplicate_content_length)
{
    CHECK_HEADERS(400, "Content-Length: 5\r\nContent-Length: 5\r\n",
                  "Content-Length: 5\r\ncontent-length: 5\r\n");
}

TEST(canon_rejects_conflicting_content_length)
{
    CHECK_HEADERS(400, "Content-Length: 5\r\nContent-Length: 6\r\n", "Content-Length: 5, 6\r\n",
                  "Content-Length: 5,5\r\n");
}

TEST(canon_rejects_malformed_content_length)
{
    CHECK_HEADERS(400, "Content-Length: +5\r\n", "Content-Length: -1\r\n",
                  "Content-Length: 0x5\r\n", "Content-Length: 5 5\r\n", "Content-Length:\r\n",
                  "Content-Length: 99999999999999999999999\r\n",
                  "Content-Length: 1000000000000000000\r\n", "Content-Length: 1e3\r\n");
}

TEST(canon_rejects_transfer_encoding_other_than_chunked)
{
    CHECK_HEADERS(400, "Transfer-Encoding: chunked, identity\r\n",
                  "Transfer-Encoding: identity\r\n", "Transfer-Encoding: gzip, chunked\r\n",
                  "Transfer-Encoding: chunked, chunked\r\n", "Transfer-Encoding: xchunked\r\n",
                  "Transfer-Encoding: chunked;q=1\r\n", "Transfer-Encoding: \r\n",
                  "Transfer-Encoding: ,chunked\r\n");
}

TEST(canon_rejects_duplicate_transfer_encoding)
{
    CHECK_HEADERS(400, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                  "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n");
}

TEST(canon_rejects_content_length_with_transfer_encoding)
{
    CHECK_HEADERS(400, "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                  "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n");
}

TEST(canon_ignores_underscore_framing_headers)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("POST /api HTTP/1.1\r\nHost: gw.example\r\nTransfer_Encoding: chunked\r\n"
                 "Content_Length: 5\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(!h.req.chunked);
    CHECK_EQ(h.req.content_length, -1);
    CHECK(h.req.headers[1].flags & AG_HDR_STRIP);
    CHECK(h.req.headers[2].flags & AG_HDR_STRIP);
}

/* ---- Upgrade / Connection ------------------------------------------------------------ */

/* A forwardable request and what ag_canon_check records about it; an unset field (0) is not
 * looked at. */
enum { YES = 1, NO };
typedef struct {
    const char *raw;
    int upgrade, websocket, chunked, expect; /* YES, NO or 0 */
    const char *upgrade_proto;
    long long content_length; /* 0: not looked at */
} parsed_case_t;

static const parsed_case_t parsed_cases[] = {
    {.raw = "POST /api HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 42\r\n\r\n",
     .content_length = 42,
     .chunked = NO},
    {.raw = "POST /api HTTP/1.1\r\nHost: gw.example\r\nTransfer-Encoding: chunked\r\n\r\n",
     .chunked = YES,
     .content_length = -1},
    {.raw = "GET /api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\nHost: gw.example\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\n"
            "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
     .upgrade = YES,
     .websocket = YES,
     .upgrade_proto = "websocket"},
    {.raw = "POST /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nHost: gw.example\r\n"
            "Connection: keep-alive, upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n",
     .upgrade = YES,
     .websocket = NO,
     .upgrade_proto = "SPDY/3.1"},
    /* Upgrade needs the Connection token, and the reverse */
    {.raw = "GET / HTTP/1.1\r\nHost: gw.example\r\nUpgrade: websocket\r\n\r\n", .upgrade = NO},
    {.raw = "GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: upgrade\r\n\r\n", .upgrade = NO},
    /* h2c is never honoured */
    {.raw = "GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
     .upgrade = NO},
    {.raw = "GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket, H2C\r\n\r\n",
     .upgrade = NO,
     .websocket = NO},
    /* HTTP/1.0 has no upgrade and no Expect */
    {.raw =
         "GET / HTTP/1.0\r\nHost: gw.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
     .upgrade = NO},
    {.raw = "PUT /api HTTP/1.0\r\nHost: gw.example\r\nExpect: 100-continue\r\n"
            "Content-Length: 3\r\n\r\n",
     .expect = NO},
    {.raw = "PUT /api HTTP/1.0\r\nHost: gw.example\r\nExpect: whatever\r\n\r\n"},
    {.raw = "PUT /api HTTP/1.1\r\nHost: gw.example\r\nExpect: 100-Continue\r\n"
            "Content-Length: 3\r\n\r\n",
     .expect = YES},
};

static void check_flag(int want, bool got)
{
    if (want)
        CHECK(got == (want == YES));
}

static void check_parsed_case(const parsed_case_t *c)
{
    hs_head_t h;
    const char *reason;
    int before = ag_test_failures;
    CHECK_EQ(run(c->raw, &h, &reason), 0);
    check_flag(c->upgrade, h.req.upgrade);
    check_flag(c->websocket, h.req.websocket);
    check_flag(c->chunked, h.req.chunked);
    check_flag(c->expect, h.req.expect_continue);
    if (c->upgrade_proto)
        CHECK_SLICE(h.req.upgrade_proto, c->upgrade_proto);
    if (c->content_length)
        CHECK_EQ(h.req.content_length, c->content_length);
    if (ag_test_failures != before)
        fprintf(stderr, "  in parsed case %.60s\n", c->raw);
}

TEST(canon_parsed_request_cases)
{
    for (size_t i = 0; i < AG_NELEMS(parsed_cases); i++)
        check_parsed_case(&parsed_cases[i]);
}

TEST(canon_rejects_duplicate_upgrade)
{
    CHECK_HEADERS(400, "Connection: upgrade\r\nUpgrade: websocket\r\nUpgrade: SPDY/3.1\r\n",
                  "Upgrade: websocket\r\nUpgrade: websocket\r\n");
}

TEST(canon_rejects_invalid_upgrade_value)
{
    CHECK_HEADERS(400, "Connection: upgrade\r\nUpgrade: web socket\r\n",
                  "Connection: upgrade\r\nUpgrade: SPDY/\r\n",
                  "Connection: upgrade\r\nUpgrade:\r\n",
                  "Connection: upgrade\r\nUpgrade: a/b/c\r\n");
}

TEST(canon_rejects_invalid_connection_options)
{
    CHECK_HEADERS(400, "Connection: a b\r\n", "Connection: x/y\r\n", "Connection: \"q\"\r\n");
    CHECK_HEADERS(0, "Connection: close\r\n", "Connection: , keep-alive ,\r\n");
}

TEST(canon_rejects_too_many_connection_options)
{
    CHECK_HEADERS(400,
                  "Connection: a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, "
                  "a15, a16, a17\r\n",
                  "Connection: a1, a2, a3, a4, a5, a6, a7, a8, a9\r\n"
                  "Connection: b1, b2, b3, b4, b5, b6, b7, b8, b9\r\n");
    CHECK_HEADERS(0, "Connection: a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, "
                     "a15, a16\r\n");
}

/* ---- other headers -------------------------------------------------------------------- */

TEST(canon_rejects_duplicate_authorization)
{
    CHECK_HEADERS(400, "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n",
                  "Authorization: Bearer a\r\nauthorization: Bearer a\r\n");
    CHECK_HEADERS(0, "Authorization: Bearer a\r\nProxy-Authorization: Basic b\r\n");
}

TEST(canon_rejects_other_expectations_with_417)
{
    CHECK_HEADERS(417, "Expect: 200-ok\r\n", "Expect: 100-continue, x\r\n",
                  "Expect: 100-continue\r\nExpect: 100-continue\r\n");
}

TEST(canon_sets_header_flags)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET / HTTP/1.1\r\nHost: gw.example\r\nImpersonate-User: x\r\nAccept: y\r\n"
                 "Authorization: Bearer t\r\nKeep-Alive: 5\r\n\r\n",
                 &h, &reason),
             0);
    CHECK_EQ(h.req.headers[0].flags, AG_HDR_HOST);
    CHECK(h.req.headers[1].flags & AG_HDR_IMPERSONATE);
    CHECK_EQ(h.req.headers[2].flags, 0);
    CHECK(h.req.headers[3].flags & AG_HDR_AUTHORIZATION);
    CHECK(h.req.headers[4].flags & AG_HDR_HOP_BY_HOP);
}

/* "<method> / HTTP/1.1" with <n> headers, as some parser handed it over. */
static ag_http_req_t parsed_req(const char *method, ag_header_t *hdrs, int n)
{
    return (ag_http_req_t){.method = ag_str_cstr(method),
                           .target = AG_STR("/"),
                           .http_major = 1,
                           .http_minor = 1,
                           .headers = hdrs,
                           .nheaders = n};
}

/* The parsed struct may come from any parser: checks hold without the raw scan. */
TEST(canon_rejects_bad_header_bytes_in_parsed_request)
{
    ag_header_t hdrs[2] = {{AG_STR("Host"), AG_STR("gw.example"), 0},
                           {AG_STR("X"), AG_STR("a"), 0}};
    ag_http_req_t req = parsed_req("GET", hdrs, 2);
    const char *reason;
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 0);
    hdrs[1].value = AG_STR("a\r\nImpersonate-User: root");
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    hdrs[1].value = AG_STR("a\nb");
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    hdrs[1].value = ag_str_make("a\0b", 3);
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    hdrs[1].value = AG_STR("a");
    hdrs[1].name = AG_STR("Impersonate-User "); /* threat-model case 2: trailing space */
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    hdrs[1].name = AG_STR("");
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    req.target = AG_STR("/a b");
    hdrs[1].name = AG_STR("X");
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    req.target = ag_str_make("/a\0", 3);
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    req.target = AG_STR("");
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 400);
    CHECK(reason != NULL);
}

TEST(canon_trims_optional_whitespace_from_parsed_values)
{
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR(" gw.example\t"), 0},
                          {AG_STR("Transfer-Encoding"), AG_STR("chunked "), 0}};
    ag_http_req_t req = parsed_req("POST", hdrs, 2);
    const char *reason;
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 0);
    CHECK(req.chunked);
    CHECK_SLICE(hdrs[0].value, "gw.example");
}

TEST(canon_rejects_underscore_impersonate_headers)
{
    /* threat-model case 2: never in a form an intermediary could fold into the real name */
    CHECK_HEADERS(400, "Impersonate_User: root\r\n", "impersonate_group: system:masters\r\n",
                  "Impersonate-Extra_scopes: x\r\n", "IMPERSONATE_UID: 0\r\n");
    CHECK_HEADERS(0, "X_Forwarded_For: 1.2.3.4\r\n", "Content_Length: 5\r\n", "X_Custom: 1\r\n");
}

/* What kubectl and client-go really send must stay forwardable. */
TEST(canon_accepts_real_kubectl_requests)
{
    const char *reqs[] = {
        "GET /api/v1/namespaces/default/pods?limit=500 HTTP/1.1\r\nHost: gw.example:8443\r\n"
        "User-Agent: kubectl/v1.30.2 (linux/amd64) kubernetes/3968350\r\n"
        "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
        "g=meta.k8s.io,application/json\r\nAuthorization: Bearer eyJhbGciOi.x.y\r\n"
        "Kubectl-Command: kubectl get\r\nKubectl-Session: 4bd0b9a4-7c8b-4a4e-9b0f-7f0a\r\n"
        "Accept-Encoding: gzip\r\n\r\n",
        "GET /api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0&resourceVersion=0"
        "&watch=true HTTP/1.1\r\nHost: gw.example\r\nAccept: application/json\r\n\r\n",
        "GET /api/v1/pods?labelSelector=app.kubernetes.io%2Fname%21%3Dx%2Ctier+in+%28a%2Cb%29 "
        "HTTP/1.1\r\n"
        "Host: gw.example\r\n\r\n",
        "GET /api/v1/namespaces/default/pods/web-0/log?container=app&follow=true&tailLines=10 "
        "HTTP/1.1\r\nHost: gw.example\r\n\r\n",
        "GET /api/v1/namespaces/default/pods/web-0/exec?command=sh&container=app&stdin=true&"
        "stdout=true&tty=true HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, "
        "v4.channel.k8s.io\r\n\r\n",
        "POST /api/v1/namespaces/default/pods/web-0/portforward HTTP/1.1\r\nHost: gw.example\r\n"
        "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n",
        "PATCH "
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl-client-side-apply"
        "&fieldValidation=Strict HTTP/1.1\r\nHost: gw.example\r\n"
        "Content-Type: application/strategic-merge-patch+json\r\nContent-Length: 120\r\n\r\n",
        "PATCH /apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl&force=true "
        "HTTP/1.1\r\nHost: gw.example\r\nContent-Type: application/apply-patch+yaml\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "GET /apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-admin HTTP/1.1\r\n"
        "Host: gw.example\r\n\r\n",
        "GET /openapi/v3/apis/apps/v1?hash=5F1D3C9A HTTP/1.1\r\nHost: gw.example\r\n\r\n",
        "DELETE /api/v1/namespaces/default/pods?labelSelector=app%3Dweb HTTP/1.1\r\n"
        "Host: gw.example\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n",
        "GET /version?timeout=32s HTTP/1.1\r\nHost: gw.example\r\n\r\n",
        "GET /api HTTP/1.1\r\nHost: gw.example\r\nImpersonate-User: jane\r\n"
        "Impersonate-Group: devs\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        int rc = check_raw(reqs[i]);
        if (rc != 0)
            fprintf(stderr, "kubectl request %zu -> %d\n", i, rc);
        CHECK_EQ(rc, 0);
    }
}
