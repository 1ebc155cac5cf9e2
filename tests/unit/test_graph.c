/* Unit tests for core/graph/graph.c: Graph URLs and bodies, strict page and token parsing, the
 * nextLink origin check, the group cap, client-credentials bodies and the signed client
 * assertion, and the "graph" config section. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "base/b64.h"
#include "base/json.h"
#include "files.h"
#include "graph/graph.h"
#include "testlib.h"

#define OID "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
#define G1 "11111111-2222-3333-4444-555555555555"
#define G2 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define BASE "http://127.0.0.1:8123"

static ag_graph_cfg_t cfg_with(ag_graph_method m)
{
    ag_graph_cfg_t c;
    ag_graph_cfg_defaults(&c);
    c.base_url = AG_STR(BASE);
    c.method = m;
    return c;
}

TEST(graph_member_url_uses_configured_base_and_lowercased_oid)
{
    ag_buf_t b = AG_BUF_INIT(1024);
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    CHECK_EQ(ag_graph_member_url(&b, &c, AG_STR(OID)), 0);
    CHECK_STREQ(b.p, BASE "/v1.0/users/3f2504e0-4f89-41d3-9a0c-0305e82c3301/getMemberObjects");
    ag_buf_clear(&b);
    c.method = AG_GRAPH_GET_MEMBER_GROUPS;
    CHECK_EQ(ag_graph_member_url(&b, &c, AG_STR(OID)), 0);
    CHECK_STREQ(b.p, BASE "/v1.0/users/3f2504e0-4f89-41d3-9a0c-0305e82c3301/getMemberGroups");
    ag_buf_dispose(&b);
}

TEST(graph_member_url_rejects_oid_that_is_not_a_guid)
{
    static const char *const bad[] = {
        "",
        "..",
        "user@contoso.com",
        "3f2504e0-4f89-41d3-9a0c-0305e82c330",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301/../../x",
        "3f2504e0-4f89-41d3-9a0c/0305e82c3301",
        "3f2504e0-4f89-41d3-9a0c-0305e82c330?",
        "3f2504e0x4f89-41d3-9a0c-0305e82c3301",
        "3f2504e0-4f89-41d3-9a0c-0305e82c33g1",
    };
    ag_buf_t b = AG_BUF_INIT(1024);
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(ag_graph_member_url(&b, &c, ag_str_cstr(bad[i])), AG_E_INVAL);
        CHECK_EQ(b.n, 0);
    }
    ag_buf_dispose(&b);
}

TEST(graph_member_body_carries_security_enabled_only)
{
    ag_buf_t b = AG_BUF_INIT(64);
    CHECK_EQ(ag_graph_member_body(&b, true), 0);
    CHECK_STREQ(b.p, "{\"securityEnabledOnly\":true}");
    ag_buf_clear(&b);
    CHECK_EQ(ag_graph_member_body(&b, false), 0);
    CHECK_STREQ(b.p, "{\"securityEnabledOnly\":false}");
    ag_buf_dispose(&b);
}

TEST(graph_same_origin_requires_scheme_host_and_port_to_match)
{
    ag_str_t base = AG_STR("https://graph.microsoft.com");
    CHECK(ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com/v1.0/x?$skiptoken=a")));
    CHECK(ag_graph_same_origin(base, AG_STR("HTTPS://Graph.Microsoft.com:443/v1.0/x")));
    CHECK(ag_graph_same_origin(AG_STR(BASE), AG_STR(BASE "/page2")));
    CHECK(ag_graph_same_origin(AG_STR("http://[::1]:99"), AG_STR("http://[::1]:99/p")));
    CHECK(!ag_graph_same_origin(base, AG_STR("http://graph.microsoft.com/v1.0/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com:8443/v1.0/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.windows.net/t/users/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com.evil.example/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com@127.0.0.1/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://evil@graph.microsoft.com/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com/x#frag")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com/x y")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com\\@evil/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("/v1.0/relative")));
    CHECK(!ag_graph_same_origin(base, AG_STR("file:///etc/passwd")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com:0/x")));
    CHECK(!ag_graph_same_origin(base, AG_STR("https://graph.microsoft.com:99999/x")));
    CHECK(!ag_graph_same_origin(AG_STR(BASE), AG_STR("http://127.0.0.1:8124/x")));
    CHECK(!ag_graph_same_origin(AG_STR(BASE), AG_STR("http://127.0.0.1/x")));
}

TEST(graph_page_parse_reads_ids_and_next_link)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_graph_page_t pg;
    const char *body = "{\"@odata.context\":\"" BASE "/v1.0/$metadata#Collection(Edm.String)\","
                       "\"value\":[\"" G1 "\",\"AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE\"],"
                       "\"@odata.nextLink\":\"" BASE "/v1.0/next?skip=2\"}";
    CHECK_EQ(ag_graph_page_parse(ag_str_cstr(body), AG_STR(BASE), 10, &a, &pg), 0);
    CHECK_EQ(pg.nids, 2);
    CHECK_SLICE(pg.ids[0], G1);
    CHECK_SLICE(pg.ids[1], G2); /* normalized to lower case */
    CHECK_SLICE(pg.next, BASE "/v1.0/next?skip=2");
    CHECK_EQ(ag_graph_page_parse(AG_STR("{\"value\":[],\"@odata.nextLink\":null}"), AG_STR(BASE),
                                 10, &a, &pg),
             0);
    CHECK_EQ(pg.nids, 0);
    CHECK(pg.next.p == NULL);
    ag_arena_dispose(&a);
}

TEST(graph_page_parse_refuses_next_link_off_the_configured_origin)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_graph_page_t pg;
    static const char *const links[] = {
        "http://127.0.0.1:9/steal",        "https://127.0.0.1:8123/x", "http://localhost:8123/x",
        "http://169.254.169.254/metadata", "/v1.0/relative",
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        ag_buf_t b = AG_BUF_INIT(1024);
        ag_buf_printf(&b, "{\"value\":[\"%s\"],\"@odata.nextLink\":\"%s\"}", G1, links[i]);
        CHECK_EQ(ag_graph_page_parse(ag_buf_str(&b), AG_STR(BASE), 10, &a, &pg), AG_E_PARSE);
        ag_buf_dispose(&b);
    }
    CHECK_EQ(ag_graph_page_parse(AG_STR("{\"value\":[],\"@odata.nextLink\":7}"), AG_STR(BASE), 10,
                                 &a, &pg),
             AG_E_PARSE);
    ag_arena_dispose(&a);
}

TEST(graph_page_parse_rejects_garbage)
{
    static const char *const bad[] = {
        "",
        "<html>503 Service Unavailable</html>",
        "[]",
        "{}",
        "{\"value\":{}}",
        "{\"value\":\"" G1 "\"}",
        "{\"value\":[1]}",
        "{\"value\":[null]}",
        "{\"value\":[\"not-a-guid\"]}",
        "{\"value\":[\"" G1 "\\r\\nX-Evil: 1\"]}",
        "{\"value\":[\"" G1 "\"]} trailing",
        "{\"value\":[],\"value\":[\"" G1 "\"]}",
        "{\"value\":[\"" G1 "\",]}",
        "{\"error\":{\"code\":\"Authorization_RequestDenied\"}}",
    };
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ag_graph_page_t pg;
        ag_err err = ag_graph_page_parse(ag_str_cstr(bad[i]), AG_STR(BASE), 10, &a, &pg);
        if (err != AG_E_PARSE)
            fprintf(stderr, "case %zu: %s\n", i, bad[i]);
        CHECK_EQ(err, AG_E_PARSE);
    }
    ag_arena_dispose(&a);
}

TEST(graph_page_parse_fails_closed_above_the_group_cap)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_graph_page_t pg;
    ag_str_t body = AG_STR("{\"value\":[\"" G1 "\",\"" G2 "\"]}");
    CHECK_EQ(ag_graph_page_parse(body, AG_STR(BASE), 2, &a, &pg), 0);
    CHECK_EQ(ag_graph_page_parse(body, AG_STR(BASE), 1, &a, &pg), AG_E_TOO_BIG);
    CHECK_EQ(ag_graph_page_parse(body, AG_STR(BASE), 0, &a, &pg), AG_E_TOO_BIG);
    CHECK_EQ(ag_graph_page_parse(body, AG_STR(BASE), -3, &a, &pg), AG_E_TOO_BIG);
    ag_arena_dispose(&a);
}

TEST(graph_page_parse_rejects_oversized_body)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_buf_t b = AG_BUF_INIT(AG_GRAPH_MAX_RESPONSE_BYTES + 64);
    ag_buf_append_cstr(&b, "{\"value\":[],\"pad\":\"");
    while (b.n < AG_GRAPH_MAX_RESPONSE_BYTES)
        ag_buf_append_cstr(&b, "xxxxxxxxxxxxxxxx");
    ag_buf_append_cstr(&b, "\"}");
    ag_graph_page_t pg;
    CHECK_EQ(ag_graph_page_parse(ag_buf_str(&b), AG_STR(BASE), 10, &a, &pg), AG_E_TOO_BIG);
    ag_buf_dispose(&b);
    ag_arena_dispose(&a);
}

TEST(graph_token_parse_reads_token_and_lifetime)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_graph_token_t t;
    CHECK_EQ(ag_graph_token_parse(AG_STR("{\"token_type\":\"Bearer\",\"expires_in\":3599,"
                                         "\"ext_expires_in\":3599,\"access_token\":\"eyJ.a.b\"}"),
                                  &a, &t),
             0);
    CHECK_SLICE(t.access_token, "eyJ.a.b");
    CHECK_EQ(t.expires_in_s, 3599);
    CHECK_EQ(ag_graph_token_parse(AG_STR("{\"token_type\":\"bearer\",\"expires_in\":\"60\","
                                         "\"access_token\":\"x\"}"),
                                  &a, &t),
             0);
    CHECK_EQ(t.expires_in_s, 60);
    ag_arena_dispose(&a);
}

TEST(graph_token_parse_rejects_bad_answers)
{
    static const char *const bad[] = {
        "{\"expires_in\":3599}",
        "{\"access_token\":\"x\"}",
        "{\"access_token\":\"\",\"expires_in\":5}",
        "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":5}",
        "{\"access_token\":\"a b\",\"expires_in\":5}",
        "{\"access_token\":\"x\",\"expires_in\":0}",
        "{\"access_token\":\"x\",\"expires_in\":-5}",
        "{\"access_token\":\"x\",\"expires_in\":1.5}",
        "{\"access_token\":\"x\",\"expires_in\":\"5s\"}",
        "{\"access_token\":\"x\",\"expires_in\":99999999}",
        "{\"access_token\":\"x\",\"expires_in\":5,\"token_type\":\"mac\"}",
        "{\"access_token\":7,\"expires_in\":5}",
        "{\"error\":\"invalid_client\"}",
        "not json",
    };
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ag_graph_token_t t;
        ag_err err = ag_graph_token_parse(ag_str_cstr(bad[i]), &a, &t);
        if (err != AG_E_PARSE)
            fprintf(stderr, "case %zu: %s\n", i, bad[i]);
        CHECK_EQ(err, AG_E_PARSE);
    }
    ag_arena_dispose(&a);
}

TEST(graph_form_escape_encodes_all_but_unreserved)
{
    ag_buf_t b = AG_BUF_INIT(256);
    CHECK_EQ(ag_graph_form_escape(&b, AG_STR("aZ09-._~ +&=/%\xc3\xa9")), 0);
    CHECK_STREQ(b.p, "aZ09-._~%20%2B%26%3D%2F%25%C3%A9");
    ag_buf_dispose(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(graph_token_body_with_client_secret)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ag_graph_secret_%d", (int)getpid());
    write_file(path, "s3cr&t=+/\n");
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    c.client_id = AG_STR("app-1");
    c.scope = AG_STR(BASE "/.default");
    c.client_secret_file = path;
    ag_graph_creds_t *cr = NULL;
    ag_buf_t b = AG_BUF_INIT(4096);
    CHECK_EQ(ag_graph_creds_load(&c, &cr), 0);
    if (cr) {
        CHECK_EQ(ag_graph_token_body(&b, &c, cr, 1700000000), 0);
        CHECK_STREQ(b.p, "grant_type=client_credentials&client_id=app-1&scope=http%3A%2F%2F"
                         "127.0.0.1%3A8123%2F.default&client_secret=s3cr%26t%3D%2B%2F");
        ag_buf_clear(&b);
        CHECK_EQ(ag_graph_client_assertion(&b, cr, c.client_id, AG_STR("x"), 1), AG_E_INVAL);
    }
    ag_graph_creds_destroy(cr);
    write_file(path, "\n");
    CHECK_EQ(ag_graph_creds_load(&c, &cr), AG_E_CONFIG); /* empty secret */
    unlink(path);
    CHECK(ag_graph_creds_load(&c, &cr) != 0); /* missing file */
    ag_buf_dispose(&b);
}

/* Workload identity: the projected token is the client assertion, as is, and it is read
 * from the file each time the credentials load (the kubelet rotates it). */
TEST(graph_token_body_with_federated_token_file)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ag_graph_fed_%d", (int)getpid());
    write_file(path, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln\n");
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    c.client_id = AG_STR("app-1");
    c.scope = AG_STR(BASE "/.default");
    c.federated_token_file = path;
    ag_graph_creds_t *cr = NULL;
    ag_buf_t b = AG_BUF_INIT(32768);
    CHECK_EQ(ag_graph_creds_load(&c, &cr), 0);
    if (cr) {
        CHECK_EQ(ag_graph_token_body(&b, &c, cr, 1700000000), 0);
        CHECK_STREQ(b.p, "grant_type=client_credentials&client_id=app-1&scope=http%3A%2F%2F"
                         "127.0.0.1%3A8123%2F.default&client_assertion_type=urn%3Aietf%3A"
                         "params%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
                         "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln");
        CHECK(strstr(b.p, "client_secret") == NULL);
    }
    ag_graph_creds_destroy(cr);
    cr = NULL;
    write_file(path, "rotated.token.value");
    CHECK_EQ(ag_graph_creds_load(&c, &cr), 0);
    ag_buf_clear(&b);
    if (cr && ag_graph_token_body(&b, &c, cr, 1700000000) == 0)
        CHECK(strstr(b.p, "&client_assertion=rotated.token.value") != NULL);
    ag_graph_creds_destroy(cr);
    cr = NULL;
    char big[20000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    write_file(path, big);
    CHECK_EQ(ag_graph_creds_load(&c, &cr), AG_E_TOO_BIG); /* not a service-account token */
    unlink(path);
    CHECK(ag_graph_creds_load(&c, &cr) != 0); /* missing file */
    ag_buf_dispose(&b);
}

/* ---- certificate credentials: a throwaway RSA key and self-signed cert ------------- */

typedef struct {
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    unsigned char der[4096];
    size_t derlen;
} testcert_t;

static int make_cert(testcert_t *t, const char *cert_path, const char *key_path)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char pem[8192];
    int rc;
    mbedtls_entropy_init(&t->ent);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_pk_init(&t->key);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->ent, NULL, 0)) ||
        (rc = mbedtls_pk_setup(&t->key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))) ||
        (rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(t->key), mbedtls_ctr_drbg_random, &t->drbg, 2048,
                                  65537)) ||
        (rc = mbedtls_mpi_lset(&serial, 7)))
        goto out;
    mbedtls_x509write_crt_set_subject_key(&w, &t->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &t->key);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    if ((rc = mbedtls_x509write_crt_set_subject_name(&w, "CN=authgate-test")) ||
        (rc = mbedtls_x509write_crt_set_issuer_name(&w, "CN=authgate-test")) ||
        (rc = mbedtls_x509write_crt_set_serial(&w, &serial)) ||
        (rc = mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20400101000000")))
        goto out;
    rc = mbedtls_x509write_crt_der(&w, t->der, sizeof(t->der), mbedtls_ctr_drbg_random, &t->drbg);
    if (rc < 0)
        goto out;
    t->derlen = (size_t)rc; /* written at the END of the buffer */
    memmove(t->der, t->der + sizeof(t->der) - t->derlen, t->derlen);
    if ((rc = mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &t->drbg)))
        goto out;
    write_file(cert_path, (const char *)pem);
    if ((rc = mbedtls_pk_write_key_pem(&t->key, pem, sizeof(pem))))
        goto out;
    write_file(key_path, (const char *)pem);
out:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return rc;
}

static void free_cert(testcert_t *t)
{
    mbedtls_pk_free(&t->key);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->ent);
}

static size_t b64url_decode(ag_str_t s, unsigned char *out, size_t max)
{
    size_t n = 0;
    return ag_b64url_decode(s, out, max, &n) == 0 ? n : 0;
}

static void check_assertion(ag_str_t jwt, testcert_t *t)
{
    ag_str_t hdr, claims, sig, rest = ag_str_split(jwt, '.', &hdr);
    sig = ag_str_split(rest, '.', &claims);
    unsigned char raw[4096], hash[32], sha1[20];
    char text[4096];
    ag_arena_t a;
    ag_json_t doc;
    ag_arena_init(&a, 0, 0);
    /* signature: RS256 over "header.claims" with the certificate's key */
    CHECK_EQ(mbedtls_sha256_ret((const unsigned char *)jwt.p, hdr.n + 1 + claims.n, hash, 0), 0);
    size_t siglen = b64url_decode(sig, raw, sizeof(raw));
    CHECK_EQ(siglen, 256);
    CHECK_EQ(mbedtls_pk_verify(&t->key, MBEDTLS_MD_SHA256, hash, 32, raw, siglen), 0);
    /* header: alg RS256 and x5t = b64url(SHA-1(DER)) */
    size_t n = b64url_decode(hdr, (unsigned char *)text, sizeof(text) - 1);
    CHECK_EQ(ag_json_parse(&doc, ag_str_make(text, n), NULL, &a, NULL), 0);
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, 0, "alg"), "RS256"));
    mbedtls_sha1_ret(t->der, t->derlen, sha1);
    ag_str_t x5t;
    CHECK_EQ(ag_json_str(&doc, ag_json_get(&doc, 0, "x5t"), &a, &x5t), 0);
    CHECK_EQ(b64url_decode(x5t, raw, sizeof(raw)), 20);
    CHECK(memcmp(raw, sha1, 20) == 0);
    /* claims */
    n = b64url_decode(claims, (unsigned char *)text, sizeof(text) - 1);
    CHECK_EQ(ag_json_parse(&doc, ag_str_make(text, n), NULL, &a, NULL), 0);
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, 0, "aud"), "http://127.0.0.1:1/tok"));
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, 0, "iss"), "app-2"));
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, 0, "sub"), "app-2"));
    long long exp = 0, nbf = 0;
    CHECK_EQ(ag_json_int(&doc, ag_json_get(&doc, 0, "exp"), &exp), 0);
    CHECK_EQ(ag_json_int(&doc, ag_json_get(&doc, 0, "nbf"), &nbf), 0);
    CHECK_EQ(nbf, 1700000000);
    CHECK_EQ(exp, 1700000600);
    CHECK_EQ(ag_json_typeof(&doc, ag_json_get(&doc, 0, "jti")), AG_JSON_STRING);
    ag_arena_dispose(&a);
}

TEST(graph_client_assertion_is_rs256_signed_with_x5t)
{
    char cert[64], key[64];
    snprintf(cert, sizeof(cert), "/tmp/ag_graph_cert_%d.pem", (int)getpid());
    snprintf(key, sizeof(key), "/tmp/ag_graph_key_%d.pem", (int)getpid());
    testcert_t t;
    CHECK_EQ(make_cert(&t, cert, key), 0);
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    c.client_id = AG_STR("app-2");
    c.scope = AG_STR("s");
    c.token_url = AG_STR("http://127.0.0.1:1/tok");
    c.client_certificate_file = cert;
    c.client_key_file = key;
    ag_graph_creds_t *cr = NULL;
    ag_buf_t b = AG_BUF_INIT(16384);
    CHECK_EQ(ag_graph_creds_load(&c, &cr), 0);
    if (cr) {
        CHECK_EQ(ag_graph_token_body(&b, &c, cr, 1700000000), 0);
        ag_str_t prefix = AG_STR("grant_type=client_credentials&client_id=app-2&scope=s"
                                 "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                 "client-assertion-type%3Ajwt-bearer&client_assertion=");
        CHECK(ag_str_starts_with(ag_buf_str(&b), prefix));
        check_assertion(ag_str_sub(ag_buf_str(&b), prefix.n, b.n), &t);
        CHECK(strstr(b.p, "client_secret") == NULL);
    }
    ag_graph_creds_destroy(cr);
    /* a key that is not the certificate's is refused at load */
    testcert_t other;
    char key2[64];
    snprintf(key2, sizeof(key2), "/tmp/ag_graph_key2_%d.pem", (int)getpid());
    CHECK_EQ(make_cert(&other, "/dev/null", key2), 0);
    c.client_key_file = key2;
    cr = NULL;
    CHECK_EQ(ag_graph_creds_load(&c, &cr), AG_E_CRYPTO);
    CHECK(cr == NULL);
    free_cert(&other);
    free_cert(&t);
    unlink(cert), unlink(key), unlink(key2);
    ag_buf_dispose(&b);
}

/* `authgate login --client-certificate FILE`: one PEM file with the certificate and its key
 * (as `authgate login` reads it), and a new jti in every assertion. */
TEST(graph_client_assertion_from_one_pem_with_certificate_and_key)
{
    char cert[64], key[64], both[64];
    snprintf(cert, sizeof(cert), "/tmp/ag_graph_c1_%d.pem", (int)getpid());
    snprintf(key, sizeof(key), "/tmp/ag_graph_k1_%d.pem", (int)getpid());
    snprintf(both, sizeof(both), "/tmp/ag_graph_both_%d.pem", (int)getpid());
    testcert_t t;
    ag_buf_t pem = AG_BUF_INIT(32768), a1 = AG_BUF_INIT(16384), a2 = AG_BUF_INIT(16384);
    CHECK_EQ(make_cert(&t, cert, key), 0);
    CHECK_EQ(ag_buf_read_file(&pem, cert), 0);
    CHECK_EQ(ag_buf_read_file(&a1, key), 0);
    CHECK_EQ(ag_buf_append_str(&pem, ag_buf_str(&a1)), 0);
    write_file(both, pem.p);
    ag_buf_clear(&a1);
    ag_graph_cfg_t c = cfg_with(AG_GRAPH_GET_MEMBER_OBJECTS);
    c.client_certificate_file = c.client_key_file = both;
    ag_graph_creds_t *cr = NULL;
    CHECK_EQ(ag_graph_creds_load(&c, &cr), 0);
    if (cr) {
        CHECK_EQ(ag_graph_client_assertion(&a1, cr, AG_STR("app-2"),
                                           AG_STR("http://127.0.0.1:1/tok"), 1700000000),
                 0);
        check_assertion(ag_buf_str(&a1), &t);
        CHECK_EQ(ag_graph_client_assertion(&a2, cr, AG_STR("app-2"),
                                           AG_STR("http://127.0.0.1:1/tok"), 1700000000),
                 0);
        CHECK(!ag_str_eq(ag_buf_str(&a1), ag_buf_str(&a2))); /* a new jti each time */
    }
    ag_graph_creds_destroy(cr);
    free_cert(&t);
    unlink(cert), unlink(key), unlink(both);
    ag_buf_dispose(&pem), ag_buf_dispose(&a1), ag_buf_dispose(&a2);
}

/* ---- config ----------------------------------------------------------------------- */

static ag_err load_cfg(const char *text, ag_graph_cfg_t *c, char *msg, size_t msgsz)
{
    ag_cfg_t cfg;
    static ag_arena_t keep; /* config strings outlive the call (the test reads them) */
    static int inited;
    if (!inited)
        ag_arena_init(&keep, 0, 0), inited = 1;
    ag_graph_cfg_defaults(c);
    ag_err err = ag_cfg_init(&cfg, "gw.json", ag_str_cstr(text), &keep);
    if (!err)
        err = ag_graph_cfg_parse(&cfg, ag_json_root(cfg.doc), "graph", c);
    snprintf(msg, msgsz, "%s", ag_cfg_error(&cfg) ? ag_cfg_error(&cfg) : "");
    ag_cfg_dispose(&cfg);
    return err;
}

TEST(graph_cfg_defaults_and_derived_urls)
{
    ag_graph_cfg_t c;
    char msg[512];
    CHECK_EQ(load_cfg("{\"tenant\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\","
                      "\"client_id\":\"app\",\"client_secret_file\":\"/run/s\"}",
                      &c, msg, sizeof(msg)),
             0);
    CHECK_SLICE(c.base_url, "https://graph.microsoft.com");
    CHECK_SLICE(c.token_url, "https://login.microsoftonline.com/"
                             "72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
    CHECK_SLICE(c.scope, "https://graph.microsoft.com/.default");
    CHECK_EQ(c.method, AG_GRAPH_GET_MEMBER_OBJECTS);
    CHECK(c.security_enabled_only);
    CHECK_EQ(c.max_groups, 1000);
    CHECK_EQ(
        load_cfg("{\"base_url\":\"http://127.0.0.1:9/\",\"token_url\":\"http://127.0.0.1:9/t\","
                 "\"client_id\":\"app\",\"client_certificate_file\":\"c\","
                 "\"client_key_file\":\"k\",\"method\":\"getMemberGroups\","
                 "\"security_enabled_only\":false,\"cache_ttl\":\"2s\",\"stale_ttl\":\"1m\","
                 "\"timeout\":\"300ms\",\"token_refresh_margin\":\"1s\",\"max_groups\":5}",
                 &c, msg, sizeof(msg)),
        0);
    CHECK_SLICE(c.base_url, "http://127.0.0.1:9");
    CHECK_SLICE(c.scope, "http://127.0.0.1:9/.default");
    CHECK_EQ(c.method, AG_GRAPH_GET_MEMBER_GROUPS);
    CHECK(!c.security_enabled_only);
    CHECK_EQ(c.cache_ttl_ms, 2000);
    CHECK_EQ(c.stale_ttl_ms, 60000);
    CHECK_EQ(c.timeout_ms, 300);
    CHECK_EQ(c.token_margin_ms, 1000);
    CHECK_EQ(c.max_groups, 5);
}

/* "workload_identity": true takes client id, tenant, authority and token file from the
 * variables the AKS webhook injects; what the section sets wins. */
TEST(graph_cfg_workload_identity_reads_the_injected_environment)
{
    ag_graph_cfg_t c;
    char msg[512];
    setenv("AZURE_CLIENT_ID", "wi-client", 1);
    setenv("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47", 1);
    setenv("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9/", 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
    CHECK_EQ(load_cfg("{\"workload_identity\":true}", &c, msg, sizeof(msg)), 0);
    CHECK_SLICE(c.client_id, "wi-client");
    CHECK_SLICE(c.token_url, "http://127.0.0.1:9/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/"
                             "v2.0/token");
    CHECK_STREQ(c.federated_token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
    CHECK(c.client_secret_file == NULL);
    CHECK_EQ(load_cfg("{\"workload_identity\":true,\"client_id\":\"mine\",\"tenant\":\"t2\","
                      "\"federated_token_file\":\"/tok\"}",
                      &c, msg, sizeof(msg)),
             0);
    CHECK_SLICE(c.client_id, "mine");
    CHECK_SLICE(c.token_url, "http://127.0.0.1:9/t2/oauth2/v2.0/token");
    CHECK_STREQ(c.federated_token_file, "/tok");
    /* Without the flag the environment is not read. */
    CHECK_EQ(load_cfg("{\"tenant\":\"t\"}", &c, msg, sizeof(msg)), AG_E_CONFIG);
    setenv("AZURE_AUTHORITY_HOST", "http://login.example/", 1);
    CHECK_EQ(load_cfg("{\"workload_identity\":true}", &c, msg, sizeof(msg)), AG_E_CONFIG);
    CHECK_STREQ(msg, "gw.json:1:1: graph: AZURE_AUTHORITY_HOST must be an https URL (http for "
                     "loopback only)");
    unsetenv("AZURE_AUTHORITY_HOST");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    CHECK_EQ(load_cfg("{\"workload_identity\":true}", &c, msg, sizeof(msg)), AG_E_CONFIG);
    CHECK(strstr(msg, "AZURE_FEDERATED_TOKEN_FILE") != NULL);
    CHECK_EQ(load_cfg("{\"workload_identity\":true,\"federated_token_file\":\"/t\"}", &c, msg,
                      sizeof(msg)),
             0);
    CHECK_SLICE(c.token_url, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-"
                             "2d7cd011db47/oauth2/v2.0/token");
    CHECK_EQ(load_cfg("{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\","
                      "\"federated_token_file\":\"/t\"}",
                      &c, msg, sizeof(msg)),
             AG_E_CONFIG); /* two credentials */
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_TENANT_ID");
}

TEST(graph_cfg_rejects_bad_sections)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"{\"client_id\":\"a\",\"client_secret_file\":\"s\"}",
         "gw.json:1:1: graph: needs \"tenant\" or \"token_url\""},
        {"{\"tenant\":\"t/../x\",\"client_id\":\"a\",\"client_secret_file\":\"s\"}",
         "gw.json:1:11: graph.tenant: must be a tenant id or domain"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\"}",
         "gw.json:1:1: graph: needs exactly one of \"client_secret_file\", "
         "\"client_certificate_file\" + \"client_key_file\" or \"federated_token_file\" "
         "(\"workload_identity\": true reads AZURE_FEDERATED_TOKEN_FILE)"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\","
         "\"client_key_file\":\"k\"}",
         "gw.json:1:1: graph: needs exactly one of \"client_secret_file\", "
         "\"client_certificate_file\" + \"client_key_file\" or \"federated_token_file\" "
         "(\"workload_identity\": true reads AZURE_FEDERATED_TOKEN_FILE)"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_key_file\":\"k\"}",
         "gw.json:1:1: graph: \"client_certificate_file\" and \"client_key_file\" go together"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\","
         "\"base_url\":\"ftp://x\"}",
         "gw.json:1:67: graph.base_url: must be an absolute http or https URL without query "
         "or fragment"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\","
         "\"base_url\":\"http://graph.microsoft.com\"}",
         "gw.json:1:67: graph.base_url: must use https (http is allowed for loopback addresses "
         "only)"},
        {"{\"token_url\":\"http://login.example/"
         "t\",\"client_id\":\"a\",\"client_secret_file\":\"s\"}",
         "gw.json:1:14: graph.token_url: must use https (http is allowed for loopback addresses "
         "only)"},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\",\"method\":\"get\"}",
         NULL},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\",\"max_groups\":0}",
         NULL},
        {"{\"tenant\":\"t\",\"client_id\":\"a\",\"client_secret_file\":\"s\",\"claim_sources\":1}",
         NULL},
        {"{\"tenant\":\"t\",\"client_secret_file\":\"s\"}", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ag_graph_cfg_t c;
        char msg[512];
        CHECK_EQ(load_cfg(cases[i].text, &c, msg, sizeof(msg)), AG_E_CONFIG);
        if (cases[i].msg)
            CHECK_STREQ(msg, cases[i].msg);
        else
            CHECK(strncmp(msg, "gw.json:1:", 10) == 0);
    }
}

TEST(graph_error_code_is_read_for_logs_and_the_size_limit)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_str_t code;
    CHECK_EQ(
        ag_graph_error_code(AG_STR("{\"error\":{\"code\":\"Directory_ResultSizeLimitExceeded\","
                                   "\"message\":\"too many\"}}"),
                            &a, &code),
        0);
    CHECK(ag_graph_error_is_size_limit(code));
    CHECK(ag_graph_error_is_size_limit(AG_STR("DirectoryResultSizeLimitExceeded")));
    CHECK_EQ(ag_graph_error_code(AG_STR("{\"error\":{\"code\":\"Authorization_RequestDenied\"}}"),
                                 &a, &code),
             0);
    CHECK_SLICE(code, "Authorization_RequestDenied");
    CHECK(!ag_graph_error_is_size_limit(code));
    CHECK_EQ(ag_graph_error_code(AG_STR("{\"error\":{\"code\":\"a\\nb\"}}"), &a, &code),
             AG_E_PARSE);
    CHECK_EQ(ag_graph_error_code(AG_STR("{\"error\":\"x\"}"), &a, &code), AG_E_PARSE);
    CHECK_EQ(ag_graph_error_code(AG_STR("<html/>"), &a, &code), AG_E_PARSE);
    ag_arena_dispose(&a);
}
