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

/* Checks every target in <list> answers <want>. */
#define CHECK_TARGETS(want, ...)                                                                   \
    do {                                                                                           \
        const char *list_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof list_ / sizeof list_[0]; i_++) {                           \
            int rc_ = check_target(list_[i_]);                                                     \
            if (rc_ != (want))                                                                     \
                fprintf(stderr, "target %s -> %d\n", list_[i_], rc_);                              \
            CHECK_EQ(rc_, want);                                                                   \
        }                                                                                          \
    } while (0)

static int check_headers(const char *headers)
{
    char raw[1024];
    snprintf(raw, sizeof raw, "POST /api/v1/namespaces HTTP/1.1\r\nHost: gw.example\r\n%s\r\n",
             headers);
    return check_raw(raw);
}

#define CHECK_HEADERS(want, ...)                                                                   \
    do {                                                                                           \
        const char *list_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof list_ / sizeof list_[0]; i_++) {                           \
            int rc_ = check_headers(list_[i_]);                                                    \
            if (rc_ != (want))                                                                     \
                fprintf(stderr, "headers %s -> %d\n", list_[i_], rc_);                             \
            CHECK_EQ(rc_, want);                                                                   \
        }                                                                                          \
    } while (0)

static const char *scan(const char *raw)
{
    return ag_canon_scan_head(ag_str_cstr(raw));
}

static const char *scan_n(const char *raw, size_t n)
{
    return ag_canon_scan_head(ag_str_make(raw, n));
}

/* ---- raw head scan ------------------------------------------------------------------ */

TEST(canon_scan_accepts_clean_head)
{
    CHECK(scan("GET /api HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Empty:\r\n\r\n") == NULL);
    CHECK(scan("GET /api HTTP/1.0\r\n\r\n") == NULL);
}

TEST(canon_scan_rejects_bare_lf)
{
    CHECK(scan("GET /api HTTP/1.1\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /api HTTP/1.1\r\nHost: a\n\r\n") != NULL);
    CHECK(scan("GET /api HTTP/1.1\r\nHost: a\r\n\n") != NULL);
    CHECK(scan("GET /api HTTP/1.1\r\nX: a\nImpersonate-User: root\r\n\r\n") != NULL);
}

TEST(canon_scan_rejects_bare_cr)
{
    CHECK(scan("GET /api HTTP/1.1\r\nHost: a\rX: b\r\n\r\n") != NULL);
    CHECK(scan("GET /api HTTP/1.1\r\nX: a\rImpersonate-User: root\r\n\r\n") != NULL);
    CHECK(scan("GET /api\r HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /api HTTP/1.1\r\nHost: a\r\n\r\r") != NULL);
}

TEST(canon_scan_rejects_obs_fold)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\n b\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\n\tImpersonate-User: x\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\n Host: a\r\n\r\n") != NULL);
}

TEST(canon_scan_rejects_whitespace_before_colon)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nImpersonate-User : root\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost : a\r\n\r\n") != NULL);
}

TEST(canon_scan_rejects_nul_anywhere)
{
    static const char v[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    static const char t[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char nm[] = "GET / HTTP/1.1\r\nHost: a\r\nX\0Y: a\r\n\r\n";
    static const char end[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0";
    CHECK(scan_n(v, sizeof v - 1) != NULL);
    CHECK(scan_n(t, sizeof t - 1) != NULL);
    CHECK(scan_n(nm, sizeof nm - 1) != NULL);
    CHECK(scan_n(end, sizeof end - 1) != NULL);
}

TEST(canon_scan_rejects_control_or_non_ascii_in_target)
{
    CHECK(scan("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
    CHECK(scan("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
}

TEST(canon_scan_rejects_control_bytes_in_header_values)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n") == NULL);
}

TEST(canon_scan_allows_obs_text_in_header_values)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX-Group: \xe1\x9b\x84 caf\xc3\xa9\r\n\r\n") == NULL);
}

TEST(canon_scan_rejects_head_without_blank_line)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a") != NULL);
    CHECK(scan("") != NULL);
    CHECK(scan("\r\n") != NULL);
}

TEST(canon_scan_rejects_malformed_request_line)
{
    const char *bad[] = {"GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n",
                         "GET / HTTP/11\r\n\r\n",   "GET / http/1.1\r\n\r\n",
                         "GET /\r\n\r\n",           " GET / HTTP/1.1\r\n\r\n",
                         "G(T / HTTP/1.1\r\n\r\n",  "GET / HTTP/1.1.1\r\n\r\n",
                         "GET /  HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = scan(bad[i]);
        if (why == NULL)
            fprintf(stderr, "accepted: case %zu\n", i);
        CHECK(why != NULL);
    }
}

TEST(canon_scan_rejects_invalid_header_names)
{
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nBad\"Name: x\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") != NULL);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nX(y): x\r\n\r\n") != NULL);
}

TEST(canon_scan_skips_leading_empty_lines_only_as_crlf)
{
    CHECK(scan("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == NULL);
    CHECK(scan("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") != NULL);
}

TEST(canon_scan_stops_at_the_blank_line)
{
    static const char raw[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n\0\n\r";
    CHECK(scan_n(raw, sizeof raw - 1) == NULL);
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

TEST(canon_rejects_connect)
{
    CHECK_EQ(check_raw("CONNECT gw.example:443 HTTP/1.1\r\nHost: gw.example:443\r\n\r\n"), 400);
    CHECK_EQ(check_raw("CONNECT /api HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 400);
}

TEST(canon_rejects_trace_with_405)
{
    CHECK_EQ(check_raw("TRACE / HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 405);
    CHECK_EQ(check_raw("TRACK / HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 405);
}

TEST(canon_rejects_lowercase_method)
{
    CHECK_EQ(check_raw("get / HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 400);
    CHECK_EQ(check_raw("Get / HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 400);
    CHECK_EQ(check_raw("PATCH / HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 0);
}

TEST(canon_rejects_unsupported_http_version)
{
    CHECK_EQ(check_raw("GET / HTTP/2.0\r\nHost: gw.example\r\n\r\n"), 505);
    CHECK_EQ(check_raw("GET / HTTP/0.9\r\nHost: gw.example\r\n\r\n"), 505);
    CHECK_EQ(check_raw("GET / HTTP/1.2\r\nHost: gw.example\r\n\r\n"), 505);
    CHECK_EQ(check_raw("GET / HTTP/1.0\r\nHost: gw.example\r\n\r\n"), 0);
}

TEST(canon_answers_options_star_locally)
{
    CHECK_EQ(check_raw("OPTIONS * HTTP/1.1\r\nHost: gw.example\r\n\r\n"), AG_CANON_OPTIONS_STAR);
    /* framing is still checked first: a smuggling attempt is a 400, not a local 200 */
    CHECK_EQ(check_raw("OPTIONS * HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 1\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"),
             400);
}

TEST(canon_rejects_asterisk_target_for_other_methods)
{
    CHECK_EQ(check_raw("GET * HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 400);
    CHECK_EQ(check_raw("OPTIONS *x HTTP/1.1\r\nHost: gw.example\r\n\r\n"), 400);
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

TEST(canon_rejects_missing_host)
{
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nAccept: x\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.0\r\n\r\n"), 400);
}

TEST(canon_rejects_duplicate_host)
{
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: gw.example\r\nHost: gw.example\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: gw.example\r\nhost: evil\r\n\r\n"), 400);
}

TEST(canon_rejects_invalid_host)
{
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost:\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: user@gw\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
    CHECK_EQ(check_raw("GET / HTTP/1.1\r\nHost: [::1]:6443\r\n\r\n"), 0);
}

/* ---- framing: CL/TE smuggling (threat-model case 42) ------------------------------- */

TEST(canon_reads_content_length)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(
        run("POST /api HTTP/1.1\r\nHost: gw.example\r\nContent-Length: 42\r\n\r\n", &h, &reason),
        0);
    CHECK_EQ(h.req.content_length, 42);
    CHECK(!h.req.chunked);
    CHECK_HEADERS(0, "Content-Length: 0\r\n", "Content-Length: 007\r\n");
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

TEST(canon_accepts_single_final_chunked)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("POST /api HTTP/1.1\r\nHost: gw.example\r\nTransfer-Encoding: chunked\r\n\r\n", &h,
                 &reason),
             0);
    CHECK(h.req.chunked);
    CHECK_EQ(h.req.content_length, -1);
    CHECK_HEADERS(0, "Transfer-Encoding: Chunked\r\n", "transfer-encoding:chunked\r\n");
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

TEST(canon_rejects_transfer_encoding_on_http10)
{
    CHECK_EQ(check_raw("POST / HTTP/1.0\r\nHost: gw.example\r\nTransfer-Encoding: chunked\r\n\r\n"),
             400);
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

TEST(canon_detects_websocket_upgrade)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET /api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\nHost: gw.example\r\n"
                 "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                 "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(h.req.upgrade);
    CHECK(h.req.websocket);
    CHECK_SLICE(h.req.upgrade_proto, "websocket");
}

TEST(canon_detects_spdy_upgrade)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("POST /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nHost: gw.example\r\n"
                 "Connection: keep-alive, upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(h.req.upgrade);
    CHECK(!h.req.websocket);
    CHECK_SLICE(h.req.upgrade_proto, "SPDY/3.1");
}

TEST(canon_ignores_upgrade_without_connection_token)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET / HTTP/1.1\r\nHost: gw.example\r\nUpgrade: websocket\r\n\r\n", &h, &reason),
             0);
    CHECK(!h.req.upgrade);
    CHECK_EQ(run("GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: upgrade\r\n\r\n", &h, &reason),
             0);
    CHECK(!h.req.upgrade);
}

TEST(canon_never_honours_h2c_upgrade)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(!h.req.upgrade);
    CHECK_EQ(run("GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: Upgrade\r\n"
                 "Upgrade: websocket, H2C\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(!h.req.upgrade);
    CHECK(!h.req.websocket);
}

TEST(canon_ignores_upgrade_on_http10)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("GET / HTTP/1.0\r\nHost: gw.example\r\nConnection: Upgrade\r\n"
                 "Upgrade: websocket\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(!h.req.upgrade);
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

TEST(canon_accepts_expect_100_continue)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("PUT /api HTTP/1.1\r\nHost: gw.example\r\nExpect: 100-Continue\r\n"
                 "Content-Length: 3\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(h.req.expect_continue);
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

/* The parsed struct may come from any parser: checks hold without the raw scan. */
TEST(canon_rejects_bad_header_bytes_in_parsed_request)
{
    ag_header_t hdrs[2] = {{AG_STR("Host"), AG_STR("gw.example"), 0},
                           {AG_STR("X"), AG_STR("a"), 0}};
    ag_http_req_t req = {.method = AG_STR("GET"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 2};
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
    ag_http_req_t req = {.method = AG_STR("POST"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 2};
    const char *reason;
    CHECK_EQ(ag_canon_check(&req, NULL, &reason), 0);
    CHECK(req.chunked);
    CHECK_SLICE(hdrs[0].value, "gw.example");
}

TEST(canon_ignores_expect_in_http10)
{
    hs_head_t h;
    const char *reason;
    CHECK_EQ(run("PUT /api HTTP/1.0\r\nHost: gw.example\r\nExpect: 100-continue\r\n"
                 "Content-Length: 3\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(!h.req.expect_continue);
    CHECK_EQ(run("PUT /api HTTP/1.0\r\nHost: gw.example\r\nExpect: whatever\r\n\r\n", &h, &reason),
             0);
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
