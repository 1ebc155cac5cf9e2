/* core/authn/jwks: JWKS and PEM key sets, key selection, the key-decides-alg rule. */
#include "authn/jwks.h"
#include "base/b64.h"
#include "files.h"
#include "jwt_fixture.h"
#include "testlib.h"

static ag_err parse_file(const char *name, ag_jwks_t **ks)
{
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    ag_err err = ag_buf_read_file(&b, name);
    if (!err)
        err = strstr(name, ".pem") ? ag_jwks_from_pem(ag_buf_str(&b), ks)
                                   : ag_jwks_parse(ag_buf_str(&b), ks);
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
    CHECK(ag_jwk_fits(ps, AG_JWT_PS256) && !ag_jwk_fits(ps, AG_JWT_RS256) &&
          !ag_jwk_fits(ps, AG_JWT_PS384));
    CHECK(ag_jwk_fits(p256, AG_JWT_ES256) && !ag_jwk_fits(p256, AG_JWT_ES384));
    CHECK(ag_jwk_fits(p384, AG_JWT_ES384) && !ag_jwk_fits(p384, AG_JWT_ES256) &&
          !ag_jwk_fits(p384, AG_JWT_RS256));
    CHECK(!ag_jwk_fits(rsa, AG_JWT_ALG_UNKNOWN));
    CHECK(ag_jwks_find(ks, AG_STR("ec256"), AG_STR("ES384")) == NULL);
    CHECK(ag_jwks_find(ks, AG_STR("ec256"), AG_STR("HS256")) == NULL);
    /* no kid: the only key that fits */
    CHECK(ag_jwks_find(ks, AG_STR_NULL, AG_STR("ES384")) == p384);
    CHECK(ag_jwks_find(ks, AG_STR_NULL, AG_STR("RS256")) == rsa);  /* rsa-ps is PS256 only */
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
    CHECK_EQ(
        parse_c("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}"),
        AG_E_PARSE);
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
    CHECK_EQ(ag_jwks_from_pem(
                 AG_STR("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), &ks),
             AG_E_PARSE);
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

/* Decodes the signature of fixture token <name> into sig; returns its length. */
static size_t token_sig(const char *name, unsigned char sig[600], ag_str_t *input)
{
    ag_str_t t = fx_token(name);
    size_t dot = t.n;
    while (dot && t.p[dot - 1] != '.')
        dot--;
    size_t n = 0;
    CHECK_EQ(ag_b64url_decode(ag_str_sub(t, dot, t.n), sig, 600, &n), 0);
    *input = ag_str_make(t.p, dot - 1);
    return n;
}

TEST(jwks_ecdsa_verifies_raw_r_s_and_rejects_out_of_range)
{
    ag_jwks_t *ks = NULL;
    unsigned char sig[600], bad[600];
    ag_str_t in;
    CHECK_EQ(parse_file(FIXDIR "/jwks-a.json", &ks), 0);
    const ag_jwk_t *k = ag_jwks_find(ks, AG_STR("ec256"), AG_STR("ES256"));
    size_t n = token_sig("es256", sig, &in);
    CHECK_EQ(n, 64);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, sig, n), 0);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, ag_str_sub(in, 1, in.n), sig, n), AG_E_CRYPTO);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES384, in, sig, n), AG_E_INVAL);
    /* r = 0, s = 0, r = n (P-256 order), r and s swapped, DER instead of raw */
    static const unsigned char order[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                                            0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    memcpy(bad, sig, n), memset(bad, 0, 32);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, bad, n), AG_E_CRYPTO);
    memcpy(bad, sig, n), memset(bad + 32, 0, 32);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, bad, n), AG_E_CRYPTO);
    memcpy(bad, sig, n), memcpy(bad, order, 32);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, bad, n), AG_E_CRYPTO);
    memcpy(bad, sig + 32, 32), memcpy(bad + 32, sig, 32);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, bad, n), AG_E_CRYPTO);
    bad[0] = 0x30;
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_ES256, in, bad, 70), AG_E_CRYPTO);
    /* P-521: 66-byte coordinates */
    n = token_sig("es512", sig, &in);
    CHECK_EQ(n, 132);
    CHECK_EQ(
        ag_jwk_verify(ag_jwks_find(ks, AG_STR("ec521"), AG_STR_NULL), AG_JWT_ES512, in, sig, n), 0);
    ag_jwks_unref(ks);
}

TEST(jwks_rsa_signature_must_have_the_modulus_length)
{
    ag_jwks_t *ks = NULL;
    unsigned char sig[600];
    ag_str_t in;
    CHECK_EQ(parse_file(FIXDIR "/jwks-a.json", &ks), 0);
    const ag_jwk_t *k = ag_jwks_find(ks, AG_STR("rsa1"), AG_STR_NULL);
    size_t n = token_sig("rs256", sig, &in);
    CHECK_EQ(n, 256);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_RS256, in, sig, n), 0);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_RS256, in, sig, n - 1), AG_E_CRYPTO);
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_PS256, in, sig, n), AG_E_CRYPTO); /* padding decides */
    CHECK_EQ(ag_jwk_verify(k, AG_JWT_RS384, in, sig, n), AG_E_CRYPTO);
    ag_jwks_unref(ks);
}
