/* core/jwks: JWKS and PEM key sets, key selection, the key-decides-alg rule. */
#include "jwks.h"
#include "testlib.h"
#include "jwt_fixture.h"

static ag_err parse_file(const char *name, ag_jwks_t **ks)
{
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    ag_err err = ag_buf_read_file(&b, name);
    if (!err)
        err = strstr(name, ".pem") ? ag_jwks_from_pem(ag_buf_str(&b), ks) : ag_jwks_parse(ag_buf_str(&b), ks);
    ag_buf_dispose(&b);
    return err;
}

static ag_err parse_c(const char *json)
{
    ag_jwks_t *ks = NULL;
    ag_err err = ag_jwks_parse(ag_str_cstr(json), &ks);
    ag_jwks_unref(ks);
    return err;
}

TEST(jwks_keeps_signing_keys_and_skips_the_rest)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/jwks-a.json", &ks), 0);
    CHECK_EQ(ag_jwks_count(ks), 5);   /* rsa1 rsa-ps ec256 ec384 ec521 */
    CHECK_EQ(ag_jwks_skipped(ks), 4); /* RSA-1024, use=enc, oct, OKP */
    CHECK_EQ(ag_jwk_type_of(ag_jwks_find(ks, AG_STR("ec521"), AG_STR_NULL)), AG_JWK_EC_P521);
    CHECK(ag_jwks_find(ks, AG_STR("weak"), AG_STR_NULL) == NULL);
    CHECK(ag_jwks_find(ks, AG_STR("enc"), AG_STR_NULL) == NULL);
    CHECK(ag_jwks_find(ks, AG_STR("hmac"), AG_STR_NULL) == NULL);
    ag_jwks_unref(ks);
}

TEST(jwks_key_decides_the_algorithm)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/jwks-a.json", &ks), 0);
    const ag_jwk_t *rsa = ag_jwks_find(ks, AG_STR("rsa1"), AG_STR_NULL);
    const ag_jwk_t *ps = ag_jwks_find(ks, AG_STR("rsa-ps"), AG_STR_NULL);
    const ag_jwk_t *p256 = ag_jwks_find(ks, AG_STR("ec256"), AG_STR_NULL);
    const ag_jwk_t *p384 = ag_jwks_find(ks, AG_STR("ec384"), AG_STR_NULL);
    CHECK(rsa && ps && p256 && p384);
    CHECK(ag_jwk_fits(rsa, AG_JWT_RS256) && ag_jwk_fits(rsa, AG_JWT_PS512));
    CHECK(!ag_jwk_fits(rsa, AG_JWT_ES256));
    CHECK(ag_jwk_fits(ps, AG_JWT_PS256) && !ag_jwk_fits(ps, AG_JWT_RS256) && !ag_jwk_fits(ps, AG_JWT_PS384));
    CHECK(ag_jwk_fits(p256, AG_JWT_ES256) && !ag_jwk_fits(p256, AG_JWT_ES384));
    CHECK(ag_jwk_fits(p384, AG_JWT_ES384) && !ag_jwk_fits(p384, AG_JWT_ES256) && !ag_jwk_fits(p384, AG_JWT_RS256));
    CHECK(!ag_jwk_fits(rsa, AG_JWT_ALG_UNKNOWN));
    CHECK(ag_jwks_find(ks, AG_STR("ec256"), AG_STR("ES384")) == NULL);
    CHECK(ag_jwks_find(ks, AG_STR("ec256"), AG_STR("HS256")) == NULL);
    /* no kid: the only key that fits */
    CHECK(ag_jwks_find(ks, AG_STR_NULL, AG_STR("ES384")) == p384);
    CHECK(ag_jwks_find(ks, AG_STR_NULL, AG_STR("RS256")) == rsa); /* rsa-ps is PS256 only */
    CHECK(ag_jwks_find(ks, AG_STR_NULL, AG_STR("PS256")) == NULL); /* two fit: ambiguous */
    ag_jwks_unref(ks);
}

TEST(jwks_rejects_malformed_documents)
{
    CHECK_EQ(parse_c(""), AG_E_PARSE);
    CHECK_EQ(parse_c("{}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":{}}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[1]}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[],\"keys\":[]}"), AG_E_DUPLICATE);
    CHECK_EQ(parse_c("<html>oops</html>"), AG_E_PARSE);
}

TEST(jwks_never_yields_an_empty_set)
{
    CHECK_EQ(parse_c("{\"keys\":[]}"), AG_E_NOT_FOUND);
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}"), AG_E_NOT_FOUND);
}

TEST(jwks_rejects_malformed_keys_of_known_types)
{
    /* bad base64url modulus, missing e, EC point not on the curve, short coordinate */
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"A=\",\"e\":\"AQAB\"}]}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AAAA\"}]}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                     "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                     "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}"),
             AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}"), AG_E_PARSE);
    CHECK_EQ(parse_c("{\"keys\":[{\"kty\":5}]}"), AG_E_PARSE);
}

TEST(jwks_rejects_jwk_alg_contradicting_key_type)
{
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_buf_read_file(&b, FIXDIR "/jwks-azure.json"), 0);
    /* turn the Azure RSA key's use into an alg that belongs to EC */
    char *use = strstr(b.p, "\"use\": \"sig\"");
    CHECK(use != NULL);
    if (use) {
        memcpy(use, "\"alg\":\"ES256\"", 13);
        ag_jwks_t *ks = NULL;
        CHECK_EQ(ag_jwks_parse(ag_buf_str(&b), &ks), AG_E_PARSE);
    }
    ag_buf_dispose(&b);
}

TEST(jwks_keeps_the_azure_per_key_issuer)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/jwks-azure.json", &ks), 0);
    CHECK_SLICE(ag_jwk_issuer(ag_jwks_at(ks, 0)),
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
    CHECK_SLICE(ag_jwk_kid(ag_jwks_at(ks, 0)), "az1");
    ag_jwks_unref(ks);
}

TEST(jwks_pem_keys_get_the_api_server_kid)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/sa.pem", &ks), 0);
    CHECK_EQ(ag_jwks_count(ks), 2); /* an SPKI public key and a certificate */
    ag_str_t kid = fx_str("sa_kid"), eckid = fx_str("sa_ec_kid");
    CHECK(ag_jwks_find(ks, kid, AG_STR("RS256")) != NULL);
    CHECK(ag_jwks_find(ks, eckid, AG_STR("ES256")) != NULL);
    CHECK_EQ(ag_jwk_type_of(ag_jwks_at(ks, 1)), AG_JWK_EC_P256);
    ag_jwks_unref(ks);
    /* a private key file yields its public key with the same kid */
    CHECK_EQ(parse_file(FIXDIR "/sa-key.pem", &ks), 0);
    CHECK_EQ(ag_jwk_kid(ag_jwks_at(ks, 0)).n, kid.n);
    CHECK(ag_str_eq(ag_jwk_kid(ag_jwks_at(ks, 0)), kid));
    ag_jwks_unref(ks);
}

TEST(jwks_pem_rejects_weak_and_garbage)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/weak.pem", &ks), AG_E_UNSUPPORTED);
    CHECK_EQ(ag_jwks_from_pem(AG_STR("no pem here"), &ks), AG_E_NOT_FOUND);
    CHECK_EQ(ag_jwks_from_pem(AG_STR("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), &ks), AG_E_PARSE);
    CHECK_EQ(ag_jwks_from_pem(AG_STR("-----BEGIN PUBLIC KEY-----\nAAAA\n"), &ks), AG_E_PARSE);
}

TEST(jwks_refcount_keeps_the_set_alive)
{
    ag_jwks_t *ks = NULL;
    CHECK_EQ(parse_file(FIXDIR "/jwks-b.json", &ks), 0);
    ag_jwks_ref(ks);
    ag_jwks_unref(ks);
    CHECK_EQ(ag_jwks_count(ks), 1); /* still alive (ASan would flag a use after free) */
    ag_jwks_unref(ks);
    ag_jwks_unref(NULL);
}
