/* Upstream head rewriting (core/http/forward.c): exactly what the API server receives.
 * Threat-model cases 1-5, 7-10 and 43; kubernetes-authz.md §7. */
#include <stdio.h>

#include "headsplit.h"
#include "http/canon.h"
#include "http/forward.h"
#include "http/headers.h"
#include "testlib.h"

static const ag_str_t groups[] = {{"devs", 4}, {"a, b", 4}};
static const ag_identity_t alice = {
    .username = {"alice", 5}, .uid = {"u-1", 3}, .groups = groups, .ngroups = 2};

static ag_forward_opts_t default_opts(const ag_identity_t *id)
{
    return (ag_forward_opts_t){.upstream_host = AG_STR("kas:6443"),
                               .credential = AG_STR("Bearer GW"),
                               .identity = id,
                               .client_ip = AG_STR("10.0.0.9"),
                               .client_tls = true};
}

static ag_err fwd_opts(const char *raw, const ag_forward_opts_t *o, ag_buf_t *out)
{
    hs_head_t h;
    const char *reason;
    if (ag_canon_scan_head(ag_str_cstr(raw)) || hs_split(ag_str_cstr(raw), &h) ||
        ag_canon_check(&h.req, NULL, &reason) != 0)
        return -1;
    return ag_forward_head(&h.req, o, out);
}

static ag_err fwd(const char *raw, const ag_identity_t *id, ag_buf_t *out)
{
    ag_forward_opts_t o = default_opts(id);
    return fwd_opts(raw, &o, out);
}

/* Forwards "GET /api HTTP/1.1" with Host and <headers> as alice; the head is in out. */
static ag_err fwd_headers(const char *headers, ag_buf_t *out)
{
    char raw[2048];
    snprintf(raw, sizeof raw, "GET /api HTTP/1.1\r\nHost: gw\r\n%s\r\n", headers);
    return fwd(raw, &alice, out);
}

/* A parsed "GET / HTTP/1.1" with <n> headers, as the parser leaves it. */
static ag_http_req_t get_req(ag_header_t *hdrs, int n)
{
    return (ag_http_req_t){.method = AG_STR("GET"),
                           .target = AG_STR("/"),
                           .http_major = 1,
                           .http_minor = 1,
                           .headers = hdrs,
                           .nheaders = n,
                           .content_length = -1};
}

/* Case-insensitive: does the head hold a line starting with <prefix>? */
static bool has_line(const ag_buf_t *out, const char *prefix)
{
    ag_str_t rest = ag_buf_str(out), line, p = ag_str_cstr(prefix);
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        if (ag_str_istarts_with(line, p))
            return true;
    }
    return false;
}

static int count_lines(const ag_buf_t *out, const char *prefix)
{
    ag_str_t rest = ag_buf_str(out), line, p = ag_str_cstr(prefix);
    int n = 0;
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        n += ag_str_istarts_with(line, p);
    }
    return n;
}

TEST(forward_writes_expected_head)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET /api?x=1 HTTP/1.1\r\nHost: gw\r\nAccept: a\r\nAuthorization: Bearer c\r\n"
                 "Impersonate-User: root\r\n\r\n",
                 &alice, &out),
             0);
    CHECK_STREQ(out.p, "GET /api?x=1 HTTP/1.1\r\nAccept: a\r\nHost: kas:6443\r\n"
                       "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: https\r\n"
                       "Authorization: Bearer GW\r\nImpersonate-User: alice\r\n"
                       "Impersonate-Group: devs\r\nImpersonate-Group: a, b\r\n"
                       "Impersonate-Uid: u-1\r\n\r\n");
    ag_buf_dispose(&out);
}

/* One head case: <raw> (or "GET /api" with Host and <headers>) forwarded as alice returns 0;
 * the head then holds none of <gone> anywhere, exactly counts[i].n lines starting with
 * counts[i].prefix, a line starting with each of <lines> and none with any of <no_lines>. */
typedef struct {
    const char *prefix;
    int n;
} line_count_t;

typedef struct {
    const char *name;
    const char *raw;
    const char *headers;
    const char *gone[7];
    line_count_t counts[4];
    const char *lines[6];
    const char *no_lines[7];
} head_case_t;

static const head_case_t head_cases[] = {
    {.name = "strips client authorization",
     .headers = "authorization: Bearer client-token\r\n",
     .gone = {"client-token"},
     .counts = {{"Authorization:", 1}},
     .lines = {"Authorization: Bearer GW"}},
    {.name = "strips proxy authorization",
     .headers = "Proxy-Authorization: Basic c2VjcmV0\r\n",
     .gone = {"c2VjcmV0"}},
    {.name = "strips every impersonate header in any case",
     .headers = "Impersonate-User: root\r\nIMPERSONATE-GROUP: system:masters\r\n"
                "impersonate-uid: evil-uid\r\nImpersonate-Extra-Scopes: all\r\n"
                "iMPERSONATE-eXTRA-x%2Fy: z\r\n",
     .gone = {"root", "system:masters", "evil-uid", "Scopes"},
     .counts = {{"Impersonate-User: alice\r", 1}, {"Impersonate-", 4}}},
    {.name = "strips x-remote headers",
     .headers = "X-Remote-User: root\r\nX-Remote-Group: system:masters\r\n"
                "X-Remote-Extra-Scopes: all\r\nx_remote_user: root2\r\n",
     .gone = {"X-Remote", "x_remote", "root"}},
    {.name = "replaces client forwarding headers with its own",
     .headers = "X-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n"
                "X-Real-IP: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n"
                "X-Forwarded-Host: evil\r\nTrue-Client-IP: 1.2.3.4\r\n",
     .gone = {"1.2.3.4", "evil"},
     .counts = {{"X-Forwarded-For: 10.0.0.9\r", 1},
                {"X-Forwarded-Proto: https\r", 1},
                {"X-Forwarded-", 2}}},
    {.name = "strips url rewrite and method override headers",
     .headers = "X-Original-URL: /api/v1/secrets\r\nX-Rewrite-URL: /x\r\n"
                "X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: PUT\r\n"
                "X-Method-Override: PATCH\r\nX-Original-URI: /y\r\n",
     .gone = {"secrets", "DELETE", "PUT", "PATCH", "/y", "/x"}},
    {.name = "strips internal authgate headers",
     .headers = "X-Authgate-User: root\r\nX-Authgate-Original-Path: /healthz\r\n",
     .gone = {"X-Authgate"}},
    {.name = "drops hop-by-hop headers",
     .headers = "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
                "Trailer: X-Checksum\r\nProxy-Connection: keep-alive\r\n"
                "Upgrade: websocket\r\nAccept: yes\r\n",
     .lines = {"Accept: yes"},
     .no_lines = {"Connection:", "Keep-Alive:", "TE:", "Trailer:", "Proxy-Connection:",
                  "Upgrade:"}},
    {.name = "drops headers named in connection",
     .headers = "Connection: X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n",
     .lines = {"X-Kept: 3"},
     .no_lines = {"X-Secret", "X-Other"}},
    /* threat-model case 3 (dadrus/heimdall#653) */
    {.name = "connection cannot remove gateway headers",
     .headers = "Connection: Impersonate-User, Impersonate-Group, Authorization, Host, "
                "X-Forwarded-For, Impersonate-Uid, Content-Length\r\n",
     .counts = {{"Impersonate-Group: ", 2}},
     .lines = {"Impersonate-User: alice", "Impersonate-Uid: u-1", "Authorization: Bearer GW",
               "Host: kas:6443", "X-Forwarded-For: 10.0.0.9"}},
    {.name = "writes upgrade headers for websocket",
     .raw = "GET /api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\nHost: gw\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k==\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
     .counts = {{"Connection: Upgrade\r", 1}, {"Upgrade: websocket\r", 1}},
     .lines = {"Sec-WebSocket-Key: k==", "Sec-WebSocket-Version: 13",
               "Sec-WebSocket-Protocol: v5.channel.k8s.io\r"}},
    {.name = "never forwards h2c",
     .headers = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAAQAAP__\r\n",
     .gone = {"h2c"},
     .no_lines = {"Upgrade", "Connection", "HTTP2-Settings"}},
    /* threat-model case 9: the subprotocol token is the client's credential */
    {.name = "strips websocket bearer subprotocol",
     .raw = "GET /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nHost: gw\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: "
            "base64url.bearer.authorization.k8s.io.c2VjcmV0, v5.channel.k8s.io, "
            "v4.channel.k8s.io\r\n\r\n",
     .gone = {"c2VjcmV0"},
     .lines = {"Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r"}},
    {.name = "drops websocket protocol header holding only a token",
     .headers = "Sec-WebSocket-Protocol: Base64url.Bearer.Authorization.k8s.io.abc\r\n"
                "X-After: 1\r\n",
     .gone = {"abc"},
     .lines = {"X-After: 1"},
     .no_lines = {"Sec-WebSocket-Protocol"}},
    /* KAS reads a token only from an element that starts with the prefix */
    {.name = "keeps subprotocols that only contain the token prefix",
     .headers = "Sec-WebSocket-Protocol: x.base64url.bearer.authorization.k8s.io.a\r\n",
     .lines = {"Sec-WebSocket-Protocol: x.base64url.bearer.authorization.k8s.io.a\r"}},
    {.name = "writes chunked framing",
     .raw = "POST /api HTTP/1.1\r\nHost: gw\r\ntransfer-encoding: Chunked\r\n\r\n",
     .counts = {{"Transfer-Encoding: chunked\r", 1}, {"Transfer-Encoding", 1}},
     .no_lines = {"Content-Length"}},
    {.name = "writes content-length as received",
     .raw = "PUT /api HTTP/1.1\r\nHost: gw\r\ncontent-length: 0012\r\n\r\n",
     .counts = {{"Content-Length: 12\r", 1}, {"Content-Length", 1}}},
    {.name = "writes no framing for a request without a body",
     .raw = "GET /api HTTP/1.1\r\nHost: gw\r\n\r\n",
     .no_lines = {"Content-Length", "Transfer-Encoding"}},
    {.name = "drops underscore framing headers",
     .headers = "Transfer_Encoding: chunked\r\nContent_Length: 10\r\n",
     .gone = {"_"},
     .no_lines = {"Content-Length", "Transfer-Encoding"}},
    {.name = "keeps expect 100-continue",
     .raw = "PUT /api HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
     .lines = {"Expect: 100-continue\r"}},
    {.name = "drops expect from http/1.0 clients",
     .raw = "PUT /api HTTP/1.0\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
     .no_lines = {"Expect"}},
};

static void check_head_case(const head_case_t *c)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    int before = ag_test_failures;
    CHECK_EQ(c->raw ? fwd(c->raw, &alice, &out) : fwd_headers(c->headers, &out), 0);
    const char *head = out.p ? out.p : "";
    for (size_t i = 0; i < AG_NELEMS(c->gone) && c->gone[i]; i++)
        CHECK(strstr(head, c->gone[i]) == NULL);
    for (size_t i = 0; i < AG_NELEMS(c->counts) && c->counts[i].prefix; i++)
        CHECK_EQ(count_lines(&out, c->counts[i].prefix), c->counts[i].n);
    for (size_t i = 0; i < AG_NELEMS(c->lines) && c->lines[i]; i++)
        CHECK(has_line(&out, c->lines[i]));
    for (size_t i = 0; i < AG_NELEMS(c->no_lines) && c->no_lines[i]; i++)
        CHECK(!has_line(&out, c->no_lines[i]));
    if (ag_test_failures != before)
        fprintf(stderr, "  in head case \"%s\"\n", c->name);
    ag_buf_dispose(&out);
}

TEST(forward_head_cases)
{
    for (size_t i = 0; i < AG_NELEMS(head_cases); i++)
        check_head_case(&head_cases[i]);
}

TEST(forward_strips_underscore_impersonate_header)
{
    /* canon refuses these with 400; forward strips them even when canon was skipped */
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR("gw"), 0},
                          {AG_STR("Impersonate_User"), AG_STR("root"), 0},
                          {AG_STR("impersonate_group"), AG_STR("system:masters"), 0},
                          {AG_STR("Impersonate_Extra_x"), AG_STR("y"), 0},
                          {AG_STR("Impersonate-Extra_x"), AG_STR("z"), 0}};
    ag_http_req_t req = get_req(hdrs, 5);
    ag_forward_opts_t o = default_opts(&alice);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_forward_head(&req, &o, &out), 0);
    CHECK(strstr(out.p, "root") == NULL);
    CHECK(strstr(out.p, "masters") == NULL);
    CHECK(strstr(out.p, "Impersonate_") == NULL);
    CHECK(strstr(out.p, "Extra_x") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_writes_one_group_line_per_group)
{
    /* threat-model case 4: commas, spaces, non-ASCII stay byte-exact, never joined */
    static const ag_str_t g[] = {
        {"a,b", 3}, {"with space", 10}, {"\xe1\x9b\x84", 3}, {"system:authenticated", 20}};
    ag_identity_t id = {.username = AG_STR("bob"), .groups = g, .ngroups = 4};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", &id, &out), 0);
    CHECK(strstr(out.p, "Impersonate-Group: a,b\r\nImpersonate-Group: with space\r\n"
                        "Impersonate-Group: \xe1\x9b\x84\r\n"
                        "Impersonate-Group: system:authenticated\r\n") != NULL);
    CHECK(!has_line(&out, "Impersonate-Uid"));
    ag_buf_dispose(&out);
}

static void check_key(const char *key, const char *want)
{
    ag_buf_t out = AG_BUF_INIT(1024);
    CHECK_EQ(ag_forward_encode_extra_key(&out, ag_str_cstr(key)), 0);
    if (!out.p || strcmp(out.p, want) != 0)
        fprintf(stderr, "key %s -> %s, want %s\n", key, out.p ? out.p : "", want);
    CHECK_STREQ(out.p ? out.p : "", want);
    ag_buf_dispose(&out);
}

TEST(forward_percent_encodes_extra_keys)
{
    /* kubernetes-authz.md §7.1; client-go headerKeyEscape; kubevirt#12460 */
    check_key("example.com/scopes", "example.com%2Fscopes");
    check_key("iam.gke.io/user-assertion", "iam.gke.io%2Fuser-assertion");
    check_key("\xe1\x9b\x84", "%E1%9B%84");
    check_key("a%b", "a%25b");
    check_key("a?b#c", "a%3Fb#c"); /* '#' is a token character */
    check_key("sp ace", "sp%20ace");
    check_key("colon:x", "colon%3Ax");
    check_key("token!#$&'*+-.^_`|~ok", "token!#$&'*+-.^_`|~ok");
    check_key("cr\rlf\n", "cr%0Dlf%0A");
}

TEST(forward_lowercases_extra_keys)
{
    /* KAS lower-cases the key before decoding; send what it will read */
    check_key("Example.COM/Scopes", "example.com%2Fscopes");
}

TEST(forward_writes_extra_headers_one_per_value)
{
    static const ag_str_t v1[] = {{"read", 4}, {"write all", 9}};
    static const ag_str_t v2[] = {{"x", 1}};
    static const ag_extra_t ex[] = {{{"example.com/scopes", 18}, v1, 2}, {{"oid", 3}, v2, 1}};
    ag_identity_t id = {.username = AG_STR("bob"), .extra = ex, .nextra = 2};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", &id, &out), 0);
    CHECK(strstr(out.p, "Impersonate-Extra-example.com%2Fscopes: read\r\n"
                        "Impersonate-Extra-example.com%2Fscopes: write all\r\n"
                        "Impersonate-Extra-oid: x\r\n") != NULL);
    ag_buf_dispose(&out);
}

static ag_err fwd_identity(const ag_identity_t *id, ag_buf_t *out)
{
    return fwd("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", id, out);
}

static const ag_str_t crlf_group[] = {AG_STR("a\r\nImpersonate-Group: system:masters")};
static const ag_str_t nul_group[] = {{"a\0b", 3}};
static const ag_str_t lf_val[] = {{"a\nb", 3}};
static const ag_extra_t lf_extra[] = {{{"k", 1}, lf_val, 1}};
static const ag_str_t space_group[] = {{" system:masters", 15}};
static const ag_str_t empty_group[] = {{"", 0}};
static const ag_str_t x_val[] = {{"x", 1}};
static const ag_extra_t empty_key[] = {{{"", 0}, x_val, 1}};

/* Identities forward refuses (AG_E_INVAL) before it writes a byte. */
static const ag_identity_t bad_ids[] = {
    /* Envoy CVE-2019-9900: an identity value must never start a new header line */
    {.username = AG_STR("alice\r\nImpersonate-Group: system:masters")},
    {.username = AG_STR("bob"), .groups = crlf_group, .ngroups = 1},
    {.username = AG_STR("bob"), .groups = nul_group, .ngroups = 1},
    {.username = AG_STR("bob"), .uid = AG_STR("u\r1")},
    {.username = AG_STR("bob"), .extra = lf_extra, .nextra = 1},
    {.username = AG_STR("b\tob")},
    /* values a parser would trim */
    {.username = AG_STR("alice ")},
    {.username = AG_STR("bob"), .groups = space_group, .ngroups = 1},
    /* an empty Impersonate-User would let the request run as the gateway itself */
    {.username = AG_STR("")},
    {.username = AG_STR("bob"), .groups = empty_group, .ngroups = 1},
    {.username = AG_STR("bob"), .extra = empty_key, .nextra = 1},
};

TEST(forward_rejects_crlf_nul_trimmable_or_empty_identity_values)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    for (size_t i = 0; i < AG_NELEMS(bad_ids); i++) {
        ag_err err = fwd_identity(&bad_ids[i], &out);
        if (err != AG_E_INVAL)
            fprintf(stderr, "  bad identity #%zu accepted\n", i);
        CHECK_EQ(err, AG_E_INVAL);
    }
    CHECK_EQ(out.n, 0);
    ag_buf_dispose(&out);
}

TEST(forward_without_identity_sends_no_impersonation)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET / HTTP/1.1\r\nHost: gw\r\nImpersonate-User: root\r\n\r\n", NULL, &out), 0);
    CHECK(!has_line(&out, "Impersonate-"));
    CHECK(has_line(&out, "Authorization: Bearer GW"));
    ag_buf_dispose(&out);
}

TEST(forward_without_credential_sends_no_authorization)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_forward_opts_t o = default_opts(&alice);
    o.credential = AG_STR_NULL; /* client-certificate upstream credential */
    CHECK_EQ(
        fwd_opts("GET / HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer client\r\n\r\n", &o, &out),
        0);
    CHECK(!has_line(&out, "Authorization"));
    CHECK(strstr(out.p, "client") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_replaces_host_and_sets_plain_http_proto)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_forward_opts_t o = default_opts(&alice);
    o.client_tls = false;
    o.client_ip = AG_STR_NULL;
    CHECK_EQ(fwd_opts("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", &o, &out), 0);
    CHECK(strstr(out.p, "evil") == NULL);
    CHECK_EQ(count_lines(&out, "Host: kas:6443\r"), 1);
    CHECK(has_line(&out, "X-Forwarded-Proto: http\r"));
    CHECK(!has_line(&out, "X-Forwarded-For"));
    ag_buf_dispose(&out);
}

TEST(forward_forwards_target_byte_for_byte)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET /apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aadmin?x=%2F&y "
                 "HTTP/1.0\r\nHost: gw\r\n\r\n",
                 &alice, &out),
             0);
    CHECK(ag_str_starts_with(ag_buf_str(&out),
                             AG_STR("GET /apis/rbac.authorization.k8s.io/v1/clusterroles/"
                                    "system%3Aadmin?x=%2F&y HTTP/1.1\r\n")));
    ag_buf_dispose(&out);
}

TEST(forward_output_passes_the_canonical_scan)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("X-A: 1\r\nX-B:\r\nX-C: a\tb\r\n", &out), 0);
    CHECK(ag_canon_scan_head(ag_buf_str(&out)) == NULL);
    CHECK(has_line(&out, "X-B: \r"));
    ag_buf_dispose(&out);
}

TEST(forward_fails_closed_on_injection_in_a_parsed_request)
{
    /* a caller that skipped ag_canon_check still cannot smuggle a header line through */
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR("gw"), 0},
                          {AG_STR("X-A"), AG_STR("1\r\nImpersonate-User: root"), 0}};
    ag_http_req_t req = get_req(hdrs, 2);
    ag_forward_opts_t o = default_opts(&alice);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_buf_append_cstr(&out, "previous"), 0);
    CHECK_EQ(ag_forward_head(&req, &o, &out), AG_E_INVAL);
    CHECK_STREQ(out.p, "previous"); /* nothing usable added */
    hdrs[1].value = AG_STR("ok");
    hdrs[1].name = AG_STR("Authorization"); /* flags 0: classified again anyway */
    ag_buf_clear(&out);
    CHECK_EQ(ag_forward_head(&req, &o, &out), 0);
    CHECK_EQ(count_lines(&out, "Authorization"), 1);
    CHECK(strstr(out.p, ": ok") == NULL);
    hdrs[1].name = AG_STR("X-A:B");
    ag_buf_clear(&out);
    CHECK_EQ(ag_forward_head(&req, &o, &out), AG_E_INVAL);
    ag_buf_dispose(&out);
}

TEST(forward_rejects_unforwardable_method_or_target)
{
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR("gw"), 0}};
    ag_http_req_t req = get_req(hdrs, 1);
    req.method = AG_STR("GET /x");
    ag_forward_opts_t o = default_opts(&alice);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_forward_head(&req, &o, &out), AG_E_INVAL);
    req.method = AG_STR("GET");
    req.target = AG_STR("/a HTTP/1.1\r\nImpersonate-User: root\r\n\r\nGET /");
    CHECK_EQ(ag_forward_head(&req, &o, &out), AG_E_INVAL);
    req.target = AG_STR("");
    CHECK_EQ(ag_forward_head(&req, &o, &out), AG_E_INVAL);
    CHECK_EQ(out.n, 0);
    ag_buf_dispose(&out);
}

TEST(forward_rejects_gateway_values_with_crlf)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_forward_opts_t o = default_opts(&alice);
    o.credential = AG_STR("Bearer x\r\nImpersonate-User: root");
    CHECK_EQ(fwd_opts("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", &o, &out), AG_E_INVAL);
    o = default_opts(&alice);
    o.upstream_host = AG_STR_NULL;
    CHECK_EQ(fwd_opts("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", &o, &out), AG_E_INVAL);
    ag_buf_dispose(&out);
}

TEST(forward_reports_a_full_buffer)
{
    ag_buf_t out = AG_BUF_INIT(40);
    CHECK_EQ(fwd("GET / HTTP/1.1\r\nHost: gw\r\n\r\n", &alice, &out), AG_E_TOO_BIG);
    CHECK_EQ(out.n, 0);
    ag_buf_dispose(&out);
}

TEST(forward_reuses_the_output_buffer_without_growth)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Accept: x\r\n", &out), 0);
    char *p = out.p;
    size_t cap = out.cap;
    for (int i = 0; i < 100; i++) {
        ag_buf_clear(&out);
        CHECK_EQ(fwd_headers("Accept: x\r\n", &out), 0);
    }
    CHECK(out.p == p);
    CHECK_EQ(out.cap, cap);
    ag_buf_dispose(&out);
}

TEST(forward_trims_optional_whitespace_of_client_values)
{
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR("gw"), 0}, {AG_STR("X-A"), AG_STR(" v \t"), 0}};
    ag_http_req_t req = get_req(hdrs, 2);
    ag_forward_opts_t o = default_opts(NULL);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_forward_head(&req, &o, &out), 0);
    CHECK(has_line(&out, "X-A: v\r"));
    ag_buf_dispose(&out);
}

TEST(forward_rejoins_websocket_protocols_without_overflow)
{
    /* "a,b,c" comes back as "a, b, c": longer than received (found by fuzz_head) */
    char hdr[1024] = "Sec-WebSocket-Protocol: ";
    for (int i = 0; i < 200; i++)
        strncat(hdr, "p,", 3);
    strncat(hdr, "\r\n", 3);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers(hdr, &out), 0);
    CHECK(strstr(out.p, "p, p, p") != NULL);
    ag_buf_dispose(&out);
}

TEST(forward_accepts_empty_extra_values_and_omits_an_empty_uid)
{
    static const ag_str_t v[] = {{NULL, 0}};
    static const ag_extra_t ex[] = {{{"k", 1}, v, 1}};
    ag_identity_t id = {.username = AG_STR("bob"), .uid = AG_STR_NULL, .extra = ex, .nextra = 1};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_identity(&id, &out), 0);
    CHECK(has_line(&out, "Impersonate-Extra-k: \r"));
    CHECK(!has_line(&out, "Impersonate-Uid"));
    ag_buf_dispose(&out);
}
