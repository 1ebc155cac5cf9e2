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

TEST(forward_strips_client_authorization)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("authorization: Bearer client-token\r\n", &out), 0);
    CHECK(strstr(out.p, "client-token") == NULL);
    CHECK_EQ(count_lines(&out, "Authorization:"), 1);
    CHECK(has_line(&out, "Authorization: Bearer GW"));
    ag_buf_dispose(&out);
}

TEST(forward_strips_proxy_authorization)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Proxy-Authorization: Basic c2VjcmV0\r\n", &out), 0);
    CHECK(strstr(out.p, "c2VjcmV0") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_strips_every_impersonate_header_any_case)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Impersonate-User: root\r\nIMPERSONATE-GROUP: system:masters\r\n"
                         "impersonate-uid: evil-uid\r\nImpersonate-Extra-Scopes: all\r\n"
                         "iMPERSONATE-eXTRA-x%2Fy: z\r\n",
                         &out),
             0);
    CHECK(strstr(out.p, "root") == NULL);
    CHECK(strstr(out.p, "system:masters") == NULL);
    CHECK(strstr(out.p, "evil-uid") == NULL);
    CHECK(strstr(out.p, "Scopes") == NULL);
    CHECK_EQ(count_lines(&out, "Impersonate-User: alice\r"), 1);
    CHECK_EQ(count_lines(&out, "Impersonate-"), 4);
    ag_buf_dispose(&out);
}

TEST(forward_strips_underscore_impersonate_header)
{
    /* canon refuses these with 400; forward strips them even when canon was skipped */
    ag_header_t hdrs[] = {{AG_STR("Host"), AG_STR("gw"), 0},
                          {AG_STR("Impersonate_User"), AG_STR("root"), 0},
                          {AG_STR("impersonate_group"), AG_STR("system:masters"), 0},
                          {AG_STR("Impersonate_Extra_x"), AG_STR("y"), 0},
                          {AG_STR("Impersonate-Extra_x"), AG_STR("z"), 0}};
    ag_http_req_t req = {.method = AG_STR("GET"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 5,
                         .content_length = -1};
    ag_forward_opts_t o = default_opts(&alice);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_forward_head(&req, &o, &out), 0);
    CHECK(strstr(out.p, "root") == NULL);
    CHECK(strstr(out.p, "masters") == NULL);
    CHECK(strstr(out.p, "Impersonate_") == NULL);
    CHECK(strstr(out.p, "Extra_x") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_strips_x_remote_headers)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("X-Remote-User: root\r\nX-Remote-Group: system:masters\r\n"
                         "X-Remote-Extra-Scopes: all\r\nx_remote_user: root2\r\n",
                         &out),
             0);
    CHECK(strstr(out.p, "X-Remote") == NULL);
    CHECK(strstr(out.p, "x_remote") == NULL);
    CHECK(strstr(out.p, "root") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_replaces_client_forwarding_headers_with_its_own)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("X-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n"
                         "X-Real-IP: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n"
                         "X-Forwarded-Host: evil\r\nTrue-Client-IP: 1.2.3.4\r\n",
                         &out),
             0);
    CHECK(strstr(out.p, "1.2.3.4") == NULL);
    CHECK(strstr(out.p, "evil") == NULL);
    CHECK_EQ(count_lines(&out, "X-Forwarded-For: 10.0.0.9\r"), 1);
    CHECK_EQ(count_lines(&out, "X-Forwarded-Proto: https\r"), 1);
    CHECK_EQ(count_lines(&out, "X-Forwarded-"), 2);
    ag_buf_dispose(&out);
}

TEST(forward_strips_url_rewrite_and_method_override_headers)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("X-Original-URL: /api/v1/secrets\r\nX-Rewrite-URL: /x\r\n"
                         "X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: PUT\r\n"
                         "X-Method-Override: PATCH\r\nX-Original-URI: /y\r\n",
                         &out),
             0);
    CHECK(strstr(out.p, "secrets") == NULL);
    CHECK(strstr(out.p, "DELETE") == NULL);
    CHECK(strstr(out.p, "PUT") == NULL);
    CHECK(strstr(out.p, "PATCH") == NULL);
    CHECK(strstr(out.p, "/y") == NULL);
    CHECK(strstr(out.p, "/x") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_strips_internal_authgate_headers)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("X-Authgate-User: root\r\nX-Authgate-Original-Path: /healthz\r\n", &out),
             0);
    CHECK(strstr(out.p, "X-Authgate") == NULL);
    ag_buf_dispose(&out);
}

TEST(forward_drops_hop_by_hop_headers)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
                         "Trailer: X-Checksum\r\nProxy-Connection: keep-alive\r\n"
                         "Upgrade: websocket\r\nAccept: yes\r\n",
                         &out),
             0);
    CHECK(!has_line(&out, "Connection:"));
    CHECK(!has_line(&out, "Keep-Alive:"));
    CHECK(!has_line(&out, "TE:"));
    CHECK(!has_line(&out, "Trailer:"));
    CHECK(!has_line(&out, "Proxy-Connection:"));
    CHECK(!has_line(&out, "Upgrade:"));
    CHECK(has_line(&out, "Accept: yes"));
    ag_buf_dispose(&out);
}

TEST(forward_drops_headers_named_in_connection)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Connection: X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\n"
                         "X-Kept: 3\r\n",
                         &out),
             0);
    CHECK(!has_line(&out, "X-Secret"));
    CHECK(!has_line(&out, "X-Other"));
    CHECK(has_line(&out, "X-Kept: 3"));
    ag_buf_dispose(&out);
}

TEST(forward_connection_cannot_remove_gateway_headers)
{
    /* threat-model case 3 (dadrus/heimdall#653) */
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Connection: Impersonate-User, Impersonate-Group, Authorization, Host, "
                         "X-Forwarded-For, Impersonate-Uid, Content-Length\r\n",
                         &out),
             0);
    CHECK(has_line(&out, "Impersonate-User: alice"));
    CHECK_EQ(count_lines(&out, "Impersonate-Group: "), 2);
    CHECK(has_line(&out, "Impersonate-Uid: u-1"));
    CHECK(has_line(&out, "Authorization: Bearer GW"));
    CHECK(has_line(&out, "Host: kas:6443"));
    CHECK(has_line(&out, "X-Forwarded-For: 10.0.0.9"));
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

TEST(forward_rejects_identity_values_with_crlf_or_nul)
{
    /* Envoy CVE-2019-9900: an identity value must never start a new header line */
    static const ag_str_t bad_group[] = {AG_STR("a\r\nImpersonate-Group: system:masters")};
    static const ag_str_t nul_group[] = {{"a\0b", 3}};
    static const ag_str_t lf_val[] = {{"a\nb", 3}};
    static const ag_extra_t bad_extra[] = {{{"k", 1}, lf_val, 1}};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_identity_t id = {.username = AG_STR("alice\r\nImpersonate-Group: system:masters")};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .groups = bad_group, .ngroups = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .groups = nul_group, .ngroups = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .uid = AG_STR("u\r1")};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .extra = bad_extra, .nextra = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("b\tob")};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    CHECK_EQ(out.n, 0);
    ag_buf_dispose(&out);
}

TEST(forward_rejects_identity_values_a_parser_would_trim)
{
    static const ag_str_t g[] = {{" system:masters", 15}};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_identity_t id = {.username = AG_STR("alice ")};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .groups = g, .ngroups = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    ag_buf_dispose(&out);
}

TEST(forward_rejects_empty_username_group_or_extra_key)
{
    /* an empty Impersonate-User would let the request run as the gateway itself */
    static const ag_str_t empty_group[] = {{"", 0}};
    static const ag_str_t v[] = {{"x", 1}};
    static const ag_extra_t empty_key[] = {{{"", 0}, v, 1}};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_identity_t id = {.username = AG_STR("")};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .groups = empty_group, .ngroups = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
    id = (ag_identity_t){.username = AG_STR("bob"), .extra = empty_key, .nextra = 1};
    CHECK_EQ(fwd_identity(&id, &out), AG_E_INVAL);
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

TEST(forward_writes_upgrade_headers_for_websocket)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET /api/v1/namespaces/d/pods/p/exec?command=sh HTTP/1.1\r\nHost: gw\r\n"
                 "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k==\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
                 &alice, &out),
             0);
    CHECK_EQ(count_lines(&out, "Connection: Upgrade\r"), 1);
    CHECK_EQ(count_lines(&out, "Upgrade: websocket\r"), 1);
    CHECK(has_line(&out, "Sec-WebSocket-Key: k=="));
    CHECK(has_line(&out, "Sec-WebSocket-Version: 13"));
    CHECK(has_line(&out, "Sec-WebSocket-Protocol: v5.channel.k8s.io\r"));
    ag_buf_dispose(&out);
}

TEST(forward_never_forwards_h2c)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                         "HTTP2-Settings: AAMAAABkAAQAAP__\r\n",
                         &out),
             0);
    CHECK(strstr(out.p, "h2c") == NULL);
    CHECK(!has_line(&out, "Upgrade"));
    CHECK(!has_line(&out, "Connection"));
    CHECK(!has_line(&out, "HTTP2-Settings"));
    ag_buf_dispose(&out);
}

TEST(forward_strips_websocket_bearer_subprotocol)
{
    /* threat-model case 9: the subprotocol token is the client's credential */
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET /api/v1/namespaces/d/pods/p/exec HTTP/1.1\r\nHost: gw\r\n"
                 "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: "
                 "base64url.bearer.authorization.k8s.io.c2VjcmV0, v5.channel.k8s.io, "
                 "v4.channel.k8s.io\r\n\r\n",
                 &alice, &out),
             0);
    CHECK(strstr(out.p, "c2VjcmV0") == NULL);
    CHECK(has_line(&out, "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r"));
    ag_buf_dispose(&out);
}

TEST(forward_drops_websocket_protocol_header_holding_only_a_token)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Sec-WebSocket-Protocol: Base64url.Bearer.Authorization.k8s.io.abc\r\n"
                         "X-After: 1\r\n",
                         &out),
             0);
    CHECK(!has_line(&out, "Sec-WebSocket-Protocol"));
    CHECK(strstr(out.p, "abc") == NULL);
    CHECK(has_line(&out, "X-After: 1"));
    ag_buf_dispose(&out);
}

TEST(forward_writes_chunked_framing)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        fwd("POST /api HTTP/1.1\r\nHost: gw\r\ntransfer-encoding: Chunked\r\n\r\n", &alice, &out),
        0);
    CHECK_EQ(count_lines(&out, "Transfer-Encoding: chunked\r"), 1);
    CHECK_EQ(count_lines(&out, "Transfer-Encoding"), 1);
    CHECK(!has_line(&out, "Content-Length"));
    ag_buf_dispose(&out);
}

TEST(forward_writes_content_length_as_received)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("PUT /api HTTP/1.1\r\nHost: gw\r\ncontent-length: 0012\r\n\r\n", &alice, &out), 0);
    CHECK_EQ(count_lines(&out, "Content-Length: 12\r"), 1);
    CHECK_EQ(count_lines(&out, "Content-Length"), 1);
    ag_buf_clear(&out);
    CHECK_EQ(fwd("GET /api HTTP/1.1\r\nHost: gw\r\n\r\n", &alice, &out), 0);
    CHECK(!has_line(&out, "Content-Length"));
    CHECK(!has_line(&out, "Transfer-Encoding"));
    ag_buf_dispose(&out);
}

TEST(forward_drops_underscore_framing_headers)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd_headers("Transfer_Encoding: chunked\r\nContent_Length: 10\r\n", &out), 0);
    CHECK(strstr(out.p, "_") == NULL);
    CHECK(!has_line(&out, "Content-Length"));
    CHECK(!has_line(&out, "Transfer-Encoding"));
    ag_buf_dispose(&out);
}

TEST(forward_keeps_expect_100_continue)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("PUT /api HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                 "\r\n",
                 &alice, &out),
             0);
    CHECK(has_line(&out, "Expect: 100-continue\r"));
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
    ag_http_req_t req = {.method = AG_STR("GET"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 2,
                         .content_length = -1};
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
    ag_http_req_t req = {.method = AG_STR("GET /x"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 1,
                         .content_length = -1};
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
    ag_http_req_t req = {.method = AG_STR("GET"),
                         .target = AG_STR("/"),
                         .http_major = 1,
                         .http_minor = 1,
                         .headers = hdrs,
                         .nheaders = 2,
                         .content_length = -1};
    ag_forward_opts_t o = default_opts(NULL);
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_forward_head(&req, &o, &out), 0);
    CHECK(has_line(&out, "X-A: v\r"));
    ag_buf_dispose(&out);
}

TEST(forward_keeps_subprotocols_that_only_contain_the_token_prefix)
{
    /* KAS reads a token only from an element that starts with the prefix */
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        fwd_headers("Sec-WebSocket-Protocol: x.base64url.bearer.authorization.k8s.io.a\r\n", &out),
        0);
    CHECK(has_line(&out, "Sec-WebSocket-Protocol: x.base64url.bearer.authorization.k8s.io.a\r"));
    ag_buf_dispose(&out);
}

TEST(forward_drops_expect_from_http10_clients)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("PUT /api HTTP/1.0\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                 "\r\n",
                 &alice, &out),
             0);
    CHECK(!has_line(&out, "Expect"));
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
