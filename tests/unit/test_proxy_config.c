/* config/config.c: the gateway configuration model (defaults, sections, strict errors). */
#include "config.h"
#include "testlib.h"

static ag_config_t *parse_ok(const char *text)
{
    ag_config_t *c = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_err rc = ag_config_parse("gw.json", ag_str_cstr(text), &c, &err);
    if (rc != 0)
        fprintf(stderr, "unexpected error: %s\n", err.p ? err.p : "?");
    CHECK_EQ(rc, 0);
    ag_buf_dispose(&err);
    return c;
}

static void parse_err(const char *text, const char *msg)
{
    ag_config_t *c = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_config_parse("gw.json", ag_str_cstr(text), &c, &err), AG_E_CONFIG);
    CHECK(c == NULL);
    CHECK_STREQ(err.p, msg);
    ag_buf_dispose(&err);
}

TEST(config_minimal_gets_defaults)
{
    ag_config_t *c = parse_ok("{\"listen\":{\"address\":\"127.0.0.1:8080\"},"
                              "\"upstream\":{\"url\":\"http://10.0.0.1:6443\"}}");
    if (!c)
        return;
    CHECK_STREQ(c->listen.address, "127.0.0.1:8080");
    CHECK(!c->tls.enabled);
    CHECK(!c->upstream.https);
    CHECK_STREQ(c->upstream.host, "10.0.0.1");
    CHECK_EQ(c->upstream.port, 6443);
    CHECK_SLICE(c->upstream.authority, "10.0.0.1:6443");
    CHECK_EQ(c->limits.header_bytes, 32768);
    CHECK_EQ(c->limits.header_count, 100);
    CHECK_EQ(c->timeouts.drain_ms, 30000);
    CHECK_EQ(c->timeouts.body_grace_ms, 20000);
    CHECK_EQ(c->timeouts.body_min_rate, 500);
    CHECK_EQ(c->timeouts.linger_ms, 30000);
    CHECK_EQ(c->timeouts.linger_idle_ms, 5000);
    CHECK_EQ(c->timeouts.send_ms, 60000);
    CHECK_EQ(c->limits.linger_bytes, 8 << 20);
    CHECK(c->workers >= 1);
    CHECK(c->admin.address == NULL);
    ag_config_destroy(c);
}

TEST(config_upstream_url_default_ports_and_ipv6)
{
    ag_config_t *c = parse_ok("{\"listen\":{\"address\":\"[::1]:8443\"},"
                              "\"upstream\":{\"url\":\"https://api.example\"}}");
    if (c) {
        CHECK(c->upstream.https);
        CHECK_EQ(c->upstream.port, 443);
        CHECK_SLICE(c->upstream.authority, "api.example");
        ag_config_destroy(c);
    }
    c = parse_ok("{\"listen\":{\"address\":\"127.0.0.1:1\"},"
                 "\"upstream\":{\"url\":\"http://[::1]:6443/\"}}");
    if (c) {
        CHECK_STREQ(c->upstream.host, "::1");
        CHECK_EQ(c->upstream.port, 6443);
        CHECK_SLICE(c->upstream.authority, "[::1]:6443");
        ag_config_destroy(c);
    }
}

TEST(config_sections_override_defaults)
{
    ag_config_t *c = parse_ok(
        "{\"listen\":{\"address\":\"0.0.0.0:8443\",\"backlog\":64},"
        "\"upstream\":{\"url\":\"http://127.0.0.1:1\",\"pool_size\":7},"
        "\"limits\":{\"header_bytes\":2048,\"header_count\":10,\"url_bytes\":512,"
        "\"linger_bytes\":0},"
        "\"timeouts\":{\"header_read\":\"250ms\",\"idle\":3,\"drain\":\"1m\","
        "\"body_grace\":\"2s\",\"body_min_rate\":0,\"linger\":\"0s\",\"linger_idle\":\"1s\","
        "\"send\":\"2s\"},"
        "\"admin\":{\"address\":\"127.0.0.1:9090\"},\"workers\":3,\"log\":{\"level\":\"debug\"}}");
    if (!c)
        return;
    CHECK_EQ(c->listen.backlog, 64);
    CHECK_EQ(c->upstream.pool_size, 7);
    CHECK_EQ(c->limits.header_bytes, 2048);
    CHECK_EQ(c->limits.url_bytes, 512);
    CHECK_EQ(c->timeouts.header_read_ms, 250);
    CHECK_EQ(c->timeouts.idle_ms, 3000);
    CHECK_EQ(c->timeouts.drain_ms, 60000);
    CHECK_EQ(c->timeouts.body_grace_ms, 2000);
    CHECK_EQ(c->timeouts.body_min_rate, 0);
    CHECK_EQ(c->timeouts.linger_ms, 0);
    CHECK_EQ(c->timeouts.linger_idle_ms, 1000);
    CHECK_EQ(c->timeouts.send_ms, 2000);
    CHECK_EQ(c->limits.linger_bytes, 0);
    CHECK_STREQ(c->admin.address, "127.0.0.1:9090");
    CHECK_EQ(c->workers, 3);
    CHECK_EQ(c->log.level, 3);
    ag_config_destroy(c);
}

TEST(config_rejects_unknown_top_level_key_first)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstrem\":{}}",
              "gw.json:1:37: (top level): unknown key \"upstrem\"");
}

TEST(config_rejects_missing_upstream)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"}}",
              "gw.json:1:1: upstream: required field is missing");
}

TEST(config_rejects_url_with_path)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"},"
              "\"upstream\":{\"url\":\"http://a:1/api\"}}",
              "gw.json:1:55: upstream.url: must not have a path, query or fragment");
}

TEST(config_rejects_url_bytes_above_header_bytes)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstream\":{\"url\":\"http://a:1\"},"
              "\"limits\":{\"header_bytes\":2048,\"url_bytes\":4096}}",
              "gw.json:1:78: limits.url_bytes: must not exceed limits.header_bytes (2048)");
}

TEST(config_rejects_tls_options_on_http_upstream)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"},"
              "\"upstream\":{\"url\":\"http://a:1\",\"server_name\":\"x\"}}",
              "gw.json:1:55: upstream.url: ca, cert, key and server_name need an https:// URL");
}

TEST(config_rejects_client_auth_without_ca)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstream\":{\"url\":\"http://a:1\"},"
              "\"tls\":{\"cert\":\"/dev/null\",\"key\":\"/dev/null\",\"client_auth\":\"require\"}}",
              "gw.json:1:127: tls.client_auth: needs tls.client_ca to verify client certificates "
              "against");
}

/* tls.record_layer: libcrypto's by default (also without a tls section: the upstream's
 * sessions follow it), mbedTLS's on request, anything else refused. */
TEST(config_tls_record_layer)
{
    ag_config_t *c = parse_ok("{\"listen\":{\"address\":\"127.0.0.1:1\"},"
                              "\"upstream\":{\"url\":\"http://a:1\"}}");
    CHECK(c && c->tls.record_layer == AG_TLS_RECORD_LIBCRYPTO);
    ag_config_destroy(c);
    c = parse_ok(
        "{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstream\":{\"url\":\"http://a:1\"},"
        "\"tls\":{\"cert\":\"/dev/null\",\"key\":\"/dev/null\",\"record_layer\":\"mbedtls\"}}");
    CHECK(c && c->tls.record_layer == AG_TLS_RECORD_MBEDTLS);
    ag_config_destroy(c);
    parse_err(
        "{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstream\":{\"url\":\"http://a:1\"},"
        "\"tls\":{\"cert\":\"/dev/null\",\"key\":\"/dev/null\",\"record_layer\":\"openssl\"}}",
        "gw.json:1:128: tls.record_layer: must be one of \"libcrypto\", \"mbedtls\"");
}

TEST(config_split_address)
{
    ag_arena_t a;
    const char *host = NULL;
    int port = 0;
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_config_split_address(&a, "127.0.0.1:80", &host, &port), 0);
    CHECK_STREQ(host, "127.0.0.1");
    CHECK_EQ(port, 80);
    CHECK_EQ(ag_config_split_address(&a, "[::1]:0", &host, &port), 0);
    CHECK_STREQ(host, "::1");
    CHECK_EQ(ag_config_split_address(&a, "::1:80", &host, &port), AG_E_INVAL);
    CHECK_EQ(ag_config_split_address(&a, "host", &host, &port), AG_E_INVAL);
    CHECK_EQ(ag_config_split_address(&a, "host:99999", &host, &port), AG_E_INVAL);
    CHECK_EQ(ag_config_split_address(&a, ":80", &host, &port), AG_E_INVAL);
    ag_arena_dispose(&a);
}

TEST(config_proxy_protocol_trusted_networks)
{
    ag_config_t *c = parse_ok("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":"
                              "{\"trusted\":[\"127.0.0.0/8\",\"::1/128\",\"10.1.2.3\"]}},"
                              "\"upstream\":{\"url\":\"http://a:1\"}}");
    if (!c)
        return;
    CHECK_EQ(c->listen.pp_ntrusted, 3);
    CHECK(c->listen.pp_trusted[0].addr.family == AG_IPADDR_V4 && c->listen.pp_trusted[0].bits == 8);
    CHECK(c->listen.pp_trusted[1].addr.family == AG_IPADDR_V6 &&
          c->listen.pp_trusted[1].bits == 128);
    CHECK_EQ(c->listen.pp_trusted[2].bits, 32);
    ag_config_destroy(c);
    c = parse_ok(
        "{\"listen\":{\"address\":\"127.0.0.1:1\"},\"upstream\":{\"url\":\"http://a:1\"}}");
    if (c)
        CHECK(c->listen.pp_ntrusted == 0 && c->listen.pp_trusted == NULL);
    ag_config_destroy(c);
}

TEST(config_proxy_protocol_refuses_bad_networks)
{
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":{\"trusted\":"
              "[\"10.0.0.0/8\",\"10.0.0.1/8\"]}},\"upstream\":{\"url\":\"http://a:1\"}}",
              "gw.json:1:78: listen.proxy_protocol.trusted[1]: has bits set after the prefix "
              "length (write the network address)");
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":{\"trusted\":"
              "[\"lb.example\"]}},\"upstream\":{\"url\":\"http://a:1\"}}",
              "gw.json:1:65: listen.proxy_protocol.trusted[0]: is not an IPv4 or IPv6 address "
              "or network (\"10.0.0.0/8\", \"fd00::/8\")");
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":{\"trusted\":[]}},"
              "\"upstream\":{\"url\":\"http://a:1\"}}",
              "gw.json:1:64: listen.proxy_protocol.trusted: must be an array of 1 to 256 "
              "networks (\"CIDR\")");
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":{}},"
              "\"upstream\":{\"url\":\"http://a:1\"}}",
              "gw.json:1:53: listen.proxy_protocol.trusted: required field is missing");
    parse_err("{\"listen\":{\"address\":\"127.0.0.1:1\",\"proxy_protocol\":{\"trusted\":"
              "[\"::1\"],\"required\":false}},\"upstream\":{\"url\":\"http://a:1\"}}",
              "gw.json:1:72: listen.proxy_protocol: unknown key \"required\"");
}
