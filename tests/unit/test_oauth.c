/* core/login/oauth: what `authgate login` reads from an identity provider and writes to its
 * cache and forms. */
#include "login/oauth.h"
#include "testlib.h"

#define NOW 1800000000LL

static ag_arena_t arena_; /* reachable from a global: not a leak at exit */
static ag_arena_t *arena(void)
{
    static bool ready;
    if (!ready)
        ag_arena_init(&arena_, 4096, 1 << 20);
    ready = true;
    return &arena_;
}

TEST(oauth_device_response_rfc8628_and_azure_v1)
{
    ag_oauth_device_t d;
    CHECK_EQ(ag_oauth_parse_device(AG_STR("{\"device_code\":\"dc\",\"user_code\":\"AB-CD\","
                                          "\"verification_uri\":\"https://idp/device\","
                                          "\"expires_in\":600}"),
                                   arena(), &d),
             0);
    CHECK_EQ(d.interval, 5); /* §3.2: 5 when absent */
    CHECK_EQ(d.expires_in, 600);
    CHECK(ag_str_eq_lit(d.user_code, "AB-CD"));
    /* Azure AD v1: verification_url, numbers as strings */
    CHECK_EQ(ag_oauth_parse_device(AG_STR("{\"device_code\":\"dc\",\"user_code\":\"X\","
                                          "\"verification_url\":\"https://microsoft.com/"
                                          "devicelogin\",\"expires_in\":\"900\",\"interval\":"
                                          "\"7\",\"message\":\"To sign in...\"}"),
                                   arena(), &d),
             0);
    CHECK_EQ(d.interval, 7);
    CHECK(ag_str_eq_lit(d.verification_uri, "https://microsoft.com/devicelogin"));
}

TEST(oauth_device_response_refuses_missing_or_hostile_fields)
{
    static const char *bad[] = {
        "[]",
        "{}",
        "not json",
        "{\"user_code\":\"X\",\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
        "{\"device_code\":\"d\",\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
        "{\"device_code\":\"d\",\"user_code\":\"X\",\"expires_in\":600}",
        "{\"device_code\":\"d\",\"user_code\":\"X\",\"verification_uri\":\"https://i/d\"}",
        "{\"device_code\":\"d\",\"user_code\":\"X\",\"verification_uri\":\"http://evil.example/d\","
        "\"expires_in\":600}",
        "{\"device_code\":\"d\",\"user_code\":\"X\\u001b[2J\",\"verification_uri\":\"https://i/d\","
        "\"expires_in\":600}",
        "{\"device_code\":\"d\",\"user_code\":\"X\",\"verification_uri\":\"https://i/d\","
        "\"expires_in\":-5}",
        "{\"device_code\":\"d\",\"user_code\":\"X\",\"verification_uri\":\"https://i/d\","
        "\"expires_in\":600,\"interval\":1.5}",
        "{\"device_code\":7,\"user_code\":\"X\",\"verification_uri\":\"https://i/d\","
        "\"expires_in\":600}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_oauth_device_t d;
        CHECK(ag_oauth_parse_device(ag_str_cstr(bad[i]), arena(), &d) != 0);
    }
}

TEST(oauth_token_response_is_checked_before_use)
{
    ag_oauth_tokens_t t;
    CHECK_EQ(ag_oauth_parse_tokens(AG_STR("{\"token_type\":\"bearer\",\"access_token\":\"a.b-c_\","
                                          "\"expires_in\":\"3599\",\"refresh_token\":\"r/1\"}"),
                                   NOW, arena(), &t),
             0);
    CHECK_EQ(t.expires_at, NOW + 3599);
    CHECK(ag_str_eq_lit(t.refresh_token, "r/1"));
    static const char *bad[] = {
        "{\"token_type\":\"mac\",\"access_token\":\"a\",\"expires_in\":60}",
        "{\"token_type\":\"Bearer\",\"expires_in\":60}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"a\"}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"a b\",\"expires_in\":60}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":60}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"\",\"expires_in\":60}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"a\",\"expires_in\":0}",
        ("{\"token_type\":\"Bearer\",\"access_token\":\"a\",\"expires_in\":60,\"access_token\":"
         "\"b\"}"), /* one string (parenthesised: clang -Wstring-concatenation) */
        "{\"token_type\":\"Bearer\",\"access_token\":[\"a\"],\"expires_in\":60}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(ag_oauth_parse_tokens(ag_str_cstr(bad[i]), NOW, arena(), &t) != 0);
}

TEST(oauth_refuses_a_body_over_the_cap)
{
    static char big[AG_OAUTH_MAX_BODY + 2];
    ag_oauth_tokens_t t;
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    CHECK_EQ(ag_oauth_parse_tokens(ag_str_cstr(big), NOW, arena(), &t), AG_E_TOO_BIG);
}

TEST(oauth_cache_entry_round_trips)
{
    ag_oauth_tokens_t t = {AG_STR("eyJ.a.b"), AG_STR("rt"), AG_STR(""), NOW, NOW + 300}, back;
    ag_buf_t b = AG_BUF_INIT(4096);
    CHECK_EQ(ag_oauth_tokens_write(&b, &t), 0);
    CHECK_EQ(ag_oauth_tokens_parse(ag_buf_str(&b), arena(), &back), 0);
    CHECK(ag_str_eq(back.access_token, t.access_token) && back.expires_at == NOW + 300);
    ag_buf_dispose(&b);
}

TEST(oauth_expiry_skew_is_60s_or_a_quarter_of_short_lifetimes)
{
    ag_oauth_tokens_t hour = {.obtained_at = NOW, .expires_at = NOW + 3600};
    ag_oauth_tokens_t shortlived = {.obtained_at = NOW, .expires_at = NOW + 8};
    CHECK_EQ(ag_oauth_expiry_skew(&hour), 60);
    CHECK(ag_oauth_tokens_fresh(&hour, NOW + 3539) && !ag_oauth_tokens_fresh(&hour, NOW + 3540));
    CHECK_EQ(ag_oauth_expiry_skew(&shortlived), 2);
    CHECK(ag_oauth_tokens_fresh(&shortlived, NOW + 5) &&
          !ag_oauth_tokens_fresh(&shortlived, NOW + 6));
    CHECK(!ag_oauth_tokens_fresh(&hour, NOW - 1)); /* clock went backwards */
}

TEST(oauth_endpoint_urls_https_or_loopback_http)
{
    CHECK(ag_oauth_url_allowed(AG_STR("https://login.microsoftonline.com/t/oauth2/v2.0/token")));
    CHECK(ag_oauth_url_allowed(AG_STR("http://127.0.0.1:8080/token")));
    CHECK(ag_oauth_url_allowed(AG_STR("http://127.1.2.3/token")));
    CHECK(ag_oauth_url_allowed(AG_STR("http://localhost:1/x")));
    CHECK(ag_oauth_url_allowed(AG_STR("http://[::1]:99/x")));
    CHECK(!ag_oauth_url_allowed(AG_STR("http://idp.example.com/token")));
    CHECK(!ag_oauth_url_allowed(AG_STR("http://127.0.0.1.evil.example/token")));
    CHECK(!ag_oauth_url_allowed(AG_STR("http://localhost.evil.example/token")));
    CHECK(!ag_oauth_url_allowed(AG_STR("http://[::1].evil/x")));
    CHECK(!ag_oauth_url_allowed(AG_STR("https://user:pw@idp/token")));
    CHECK(!ag_oauth_url_allowed(AG_STR("https://idp/a b")));
    CHECK(!ag_oauth_url_allowed(AG_STR("ftp://idp/x")));
    CHECK(!ag_oauth_url_allowed(AG_STR("https:///x")));
}

TEST(oauth_form_encodes_everything_but_unreserved)
{
    ag_buf_t b = AG_BUF_INIT(4096);
    CHECK_EQ(ag_oauth_form_add(&b, "scope", AG_STR("openid offline_access")), 0);
    CHECK_EQ(ag_oauth_form_add(&b, "x", AG_STR("a&b=c+/~")), 0);
    CHECK_STREQ(b.p, "scope=openid%20offline_access&x=a%26b%3Dc%2B%2F~");
    ag_buf_dispose(&b);
}

TEST(oauth_error_response)
{
    ag_oauth_error_t e;
    CHECK_EQ(ag_oauth_parse_error(AG_STR("{\"error\":\"slow_down\"}"), arena(), &e), 0);
    CHECK(ag_str_eq_lit(e.error, "slow_down"));
    CHECK(ag_oauth_parse_error(AG_STR("{\"error\":\"\"}"), arena(), &e) != 0);
    CHECK(ag_oauth_parse_error(AG_STR("<html>"), arena(), &e) != 0);
}
