/* Header-name classification (core/http/headers.c): the table forwarding and canonical checks
 * rely on. Threat-model cases 1, 2, 7, 8, 9 and 43. */
#include "http/headers.h"
#include "testlib.h"

static unsigned cls(const char *name)
{
    return ag_header_classify(ag_str_cstr(name));
}

#define CHECK_ALL_HAVE(flag, ...)                                                                  \
    do {                                                                                           \
        const char *list_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof list_ / sizeof list_[0]; i_++) {                           \
            unsigned f_ = cls(list_[i_]);                                                          \
            if (!(f_ & (flag)))                                                                    \
                fprintf(stderr, "case %zu lacks %s\n", i_, #flag);                                 \
            CHECK(f_ &(flag));                                                                     \
        }                                                                                          \
    } while (0)

TEST(headers_classifies_hop_by_hop_headers)
{
    CHECK_ALL_HAVE(AG_HDR_HOP_BY_HOP, "Connection", "Keep-Alive", "Proxy-Connection", "TE",
                   "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
                   "Proxy-Authenticate", "CONNECTION", "keep-alive", "te", "HTTP2-Settings");
}

TEST(headers_classifies_framing_and_host)
{
    CHECK_EQ(cls("Host"), AG_HDR_HOST);
    CHECK_EQ(cls("HOST"), AG_HDR_HOST);
    CHECK_EQ(cls("content-length"), AG_HDR_CONTENT_LENGTH);
    CHECK_EQ(cls("Transfer-Encoding"), AG_HDR_HOP_BY_HOP | AG_HDR_TRANSFER_ENCODING);
    CHECK_EQ(cls("Connection"), AG_HDR_HOP_BY_HOP | AG_HDR_CONNECTION);
    CHECK_EQ(cls("upgrade"), AG_HDR_HOP_BY_HOP | AG_HDR_UPGRADE);
    CHECK_EQ(cls("Expect"), AG_HDR_EXPECT);
    CHECK_EQ(cls("Sec-WebSocket-Protocol"), AG_HDR_WS_PROTOCOL);
}

TEST(headers_classifies_authorization_but_not_proxy_authorization_as_credential)
{
    CHECK_EQ(cls("Authorization"), AG_HDR_STRIP | AG_HDR_AUTHORIZATION);
    CHECK_EQ(cls("aUTHORIZATION"), AG_HDR_STRIP | AG_HDR_AUTHORIZATION);
    CHECK(!(cls("Proxy-Authorization") & AG_HDR_AUTHORIZATION));
    CHECK(cls("Proxy-Authorization") & AG_HDR_STRIP);
}

TEST(headers_classifies_impersonate_headers_in_every_case)
{
    CHECK_ALL_HAVE(AG_HDR_IMPERSONATE | AG_HDR_STRIP, "Impersonate-User", "impersonate-user",
                   "IMPERSONATE-GROUP", "Impersonate-Uid", "Impersonate-Extra-Scopes",
                   "impersonate-extra-example.com%2fscopes", "Impersonate-Anything",
                   "Impersonate-");
    CHECK_EQ(cls("Impersonate-User") & (AG_HDR_IMPERSONATE | AG_HDR_STRIP),
             AG_HDR_IMPERSONATE | AG_HDR_STRIP);
}

TEST(headers_treats_underscore_impersonate_as_strip)
{
    CHECK_EQ(cls("Impersonate_User"), AG_HDR_STRIP | AG_HDR_IMPERSONATE | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("impersonate_group"), AG_HDR_STRIP | AG_HDR_IMPERSONATE | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("IMPERSONATE_EXTRA_foo"), AG_HDR_STRIP | AG_HDR_IMPERSONATE | AG_HDR_UNDERSCORE);
    CHECK(cls("X_Forwarded_For") & AG_HDR_STRIP);
    CHECK(cls("X_Remote_User") & AG_HDR_STRIP);
    CHECK(cls("x_real_ip") & AG_HDR_STRIP);
}

TEST(headers_underscore_framing_names_lose_framing_flags)
{
    /* Content_Length is not Content-Length to llhttp: never frame by it, never forward it */
    CHECK_EQ(cls("Content_Length"), AG_HDR_STRIP | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("Transfer_Encoding"), AG_HDR_STRIP | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("keep_alive"), AG_HDR_STRIP | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("Sec_WebSocket_Protocol"), AG_HDR_STRIP | AG_HDR_UNDERSCORE);
    CHECK_EQ(cls("X_Custom"), 0);
}

TEST(headers_strips_spoofable_client_identity_headers)
{
    CHECK_ALL_HAVE(AG_HDR_STRIP, "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
                   "X-Forwarded-Host", "x-forwarded-prefix", "X-Real-IP", "X-Client-IP",
                   "True-Client-IP", "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Scopes",
                   "x-remote-uid");
}

TEST(headers_strips_url_rewrite_and_method_override_headers)
{
    CHECK_ALL_HAVE(AG_HDR_STRIP, "X-Original-URL", "X-Original-URI", "X-Rewrite-URL",
                   "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override");
}

TEST(headers_strips_internal_authgate_headers)
{
    CHECK_ALL_HAVE(AG_HDR_STRIP, "X-Authgate-User", "x-authgate-original-path", "X_Authgate_X");
}

TEST(headers_unknown_names_have_no_flags)
{
    const char *plain[] = {
        "Accept", "User-Agent",      "Content-Type",    "X-Forwarded", "Impersonate",
        "Hosts",  "Authorizations",  "X-Remote",        "Cookie",      "TEE",
        "T",      "Content-Lengths", "Impersonat-User", "Xhost"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        unsigned f = cls(plain[i]);
        if (f != 0)
            fprintf(stderr, "case %zu -> %u\n", i, f);
        CHECK_EQ(f, 0);
    }
    CHECK_EQ(ag_header_classify(AG_STR_NULL), 0);
}

TEST(headers_long_names_are_classified_by_prefix)
{
    char name[300];
    memset(name, 'k', sizeof name);
    memcpy(name, "Impersonate-Extra-", 18);
    CHECK(ag_header_classify(ag_str_make(name, sizeof name)) & AG_HDR_IMPERSONATE);
    memcpy(name, "X-Forwarded-", 12);
    CHECK(ag_header_classify(ag_str_make(name, sizeof name)) & AG_HDR_STRIP);
    memcpy(name, "Content-Length", 14);
    CHECK_EQ(ag_header_classify(ag_str_make(name, sizeof name)), 0);
}

TEST(headers_token_rules_follow_rfc9110)
{
    CHECK(ag_http_is_token(AG_STR("X-Foo_1.2~!#$%&'*+^`|")));
    CHECK(!ag_http_is_token(AG_STR("")));
    CHECK(!ag_http_is_token(AG_STR("a b")));
    CHECK(!ag_http_is_token(AG_STR("a:b")));
    CHECK(!ag_http_is_token(AG_STR("a\"b")));
    CHECK(!ag_http_is_token(AG_STR("caf\xc3\xa9")));
    CHECK(!ag_http_is_token(ag_str_make("a\0", 2)));
}

TEST(headers_value_cleanliness_rejects_controls_but_allows_tab_and_obs_text)
{
    CHECK(ag_http_value_is_clean(AG_STR("a\tb \xc3\xa9")));
    CHECK(!ag_http_value_is_clean(AG_STR("a\r\nb")));
    CHECK(!ag_http_value_is_clean(AG_STR("a\nb")));
    CHECK(!ag_http_value_is_clean(ag_str_make("a\0b", 3)));
    CHECK(!ag_http_value_is_clean(AG_STR("\x7f")));
}

static bool collect(ag_str_t e, void *ctx)
{
    char *acc = ctx;
    strncat(acc, e.p, e.n); /* test-only: bounded by the inputs below */
    strncat(acc, "|", 2);
    return true;
}

TEST(headers_list_each_trims_and_skips_empty_elements)
{
    char acc[64] = "";
    CHECK(ag_http_list_each(AG_STR(" a ,, b\t,c,"), collect, acc));
    CHECK_STREQ(acc, "a|b|c|");
    CHECK(ag_http_list_has(AG_STR("keep-alive, Upgrade"), AG_STR("upgrade")));
    CHECK(!ag_http_list_has(AG_STR("keep-alive, Upgrades"), AG_STR("upgrade")));
    CHECK(!ag_http_list_has(AG_STR(""), AG_STR("upgrade")));
}

TEST(headers_field_span_finds_the_first_control_byte_at_any_offset)
{
    char buf[72]; /* past four 16-byte blocks, an 8-byte word and a tail */
    for (size_t len = 0; len <= sizeof buf; len++) {
        memset(buf, 'a', sizeof buf);
        CHECK_EQ(ag_http_field_span(buf, len), len);
        for (size_t bad = 0; bad < len; bad++) {
            static const char ctl[] = {'\0', '\r', '\n', 0x01, 0x1f, 0x7f};
            for (size_t k = 0; k < sizeof ctl; k++) {
                memset(buf, 'a', sizeof buf);
                buf[bad] = ctl[k];
                if (bad > 0)
                    buf[bad - 1] = (char)0xff; /* obs-text next to it is fine */
                CHECK_EQ(ag_http_field_span(buf, len), bad);
            }
            memset(buf, 'a', sizeof buf);
            buf[bad] = '\t';
            CHECK_EQ(ag_http_field_span(buf, len), len);
        }
    }
}

TEST(headers_field_span_agrees_with_the_byte_table_for_every_byte_value)
{
    char buf[64];
    for (int c = 0; c < 256; c++) {
        bool ok = (ag_http_ctype[c] & AG_HTTP_FIELD) != 0;
        for (size_t at = 0; at < sizeof buf; at += 7) {
            memset(buf, 0x80, sizeof buf); /* obs-text around it */
            buf[at] = (char)c;
            CHECK_EQ(ag_http_field_span(buf, sizeof buf), ok ? sizeof buf : at);
        }
    }
}

static ag_err ws_token(const char *v1, const char *v2, ag_str_t *tok)
{
    ag_header_t h[3] = {{AG_STR("Host"), AG_STR("gw"), 0},
                        {AG_STR("Sec-WebSocket-Protocol"), ag_str_cstr(v1), 0},
                        {AG_STR("sec-websocket-protocol"), ag_str_cstr(v2 ? v2 : ""), 0}};
    return ag_ws_bearer_token(h, v2 ? 3 : 2, tok);
}

TEST(headers_reads_websocket_bearer_token_like_the_api_server)
{
    ag_str_t tok;
    CHECK_EQ(
        ws_token("base64url.bearer.authorization.k8s.io.dG9rZW4, v5.channel.k8s.io", NULL, &tok),
        0);
    CHECK_SLICE(tok, "dG9rZW4");
    /* several headers are one list */
    CHECK_EQ(ws_token("v4.channel.k8s.io", "base64url.bearer.authorization.k8s.io.YWJj", &tok), 0);
    CHECK_SLICE(tok, "YWJj");
    CHECK_EQ(ws_token("v5.channel.k8s.io", NULL, &tok), 0);
    CHECK_EQ(tok.n, 0);
}

TEST(headers_refuses_ambiguous_websocket_bearer_tokens)
{
    ag_str_t tok;
    /* threat-model case 9: one token, only with another subprotocol, base64url unpadded */
    CHECK_EQ(ws_token("base64url.bearer.authorization.k8s.io.YQ, base64url.bearer."
                      "authorization.k8s.io.Yg, v5.channel.k8s.io",
                      NULL, &tok),
             AG_E_PARSE);
    CHECK_EQ(ws_token("base64url.bearer.authorization.k8s.io.YWJj",
                      "v5.channel.k8s.io, "
                      "base64url.bearer.authorization.k8s.io.ZGVm",
                      &tok),
             AG_E_PARSE);
    CHECK_EQ(ws_token("base64url.bearer.authorization.k8s.io.YWJj", NULL, &tok), AG_E_PARSE);
    CHECK_EQ(
        ws_token("base64url.bearer.authorization.k8s.io.YWJj==, v5.channel.k8s.io", NULL, &tok),
        AG_E_PARSE);
    CHECK_EQ(ws_token("base64url.bearer.authorization.k8s.io.a+b/, v5.channel.k8s.io", NULL, &tok),
             AG_E_PARSE);
    CHECK_EQ(ws_token("base64url.bearer.authorization.k8s.io., v5.channel.k8s.io", NULL, &tok),
             AG_E_PARSE);
    CHECK_EQ(tok.n, 0);
}
