/* core/authn/jwt: strict compact JWS structure, alg allow-list, crit, claim readers. */
#include "authn/jwt.h"
#include "jwt_fixture.h"
#include "testlib.h"

static ag_arena_t arena;

static ag_authn_result parse(ag_str_t t, ag_jwt_t *jwt)
{
    if (!arena.block_size)
        ag_arena_init(&arena, 0, 1 << 22);
    ag_arena_reset(&arena);
    return ag_jwt_parse(t, 16384, &arena, jwt);
}

static ag_authn_result parse_c(const char *t)
{
    ag_jwt_t jwt;
    return parse(ag_str_cstr(t), &jwt);
}

/* <tok> with its segment <seg> (0..2) replaced by <repl>, into buf. */
static ag_str_t with_segment(ag_str_t tok, int seg, const char *repl, char *buf)
{
    ag_str_t parts[3], rest = tok;
    rest = ag_str_split(rest, '.', &parts[0]);
    parts[2] = ag_str_split(rest, '.', &parts[1]);
    parts[seg] = ag_str_cstr(repl);
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (i)
            buf[n++] = '.';
        memcpy(buf + n, parts[i].p, parts[i].n);
        n += parts[i].n;
    }
    return ag_str_make(buf, n);
}

TEST(jwt_parses_header_payload_and_signature)
{
    ag_jwt_t jwt;
    ag_str_t t = fx_token("es256");
    CHECK_EQ(parse(t, &jwt), AG_AUTHN_OK);
    CHECK_EQ(jwt.alg, AG_JWT_ES256);
    CHECK_SLICE(jwt.kid, "ec256");
    CHECK_EQ(jwt.siglen, 64);
    CHECK(jwt.signing_input.p == t.p && jwt.signing_input.n < t.n);
    CHECK_EQ(t.p[jwt.signing_input.n], '.');
    ag_str_t iss;
    long long exp;
    CHECK_EQ(ag_jwt_claim_str(&jwt, "iss", &arena, &iss), AG_AUTHN_OK);
    CHECK_SLICE(iss, "https://idp.example.com");
    CHECK_EQ(ag_jwt_claim_time(&jwt, "exp", &exp), AG_AUTHN_OK);
    CHECK_EQ(exp, 4102444800LL);
    CHECK_EQ(ag_jwt_claim_time(&jwt, "nope", &exp), AG_AUTHN_MISSING_CLAIM);
    CHECK_EQ(ag_jwt_claim_str(&jwt, "exp", &arena, &iss), AG_AUTHN_BAD_CLAIM);
}

TEST(jwt_rejects_wrong_segment_counts)
{
    CHECK_EQ(parse_c(""), AG_AUTHN_MALFORMED);
    CHECK_EQ(parse_c("abc"), AG_AUTHN_MALFORMED);
    CHECK_EQ(parse_c("abc.def"), AG_AUTHN_MALFORMED);
    CHECK_EQ(parse_c(".."), AG_AUTHN_MALFORMED);
    char buf[4096];
    ag_str_t t = fx_token("rs256");
    memcpy(buf, t.p, t.n);
    memcpy(buf + t.n, ".AAAA", 5); /* four segments */
    CHECK_EQ(parse(ag_str_make(buf, t.n + 5), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    memcpy(buf + t.n, ".AAAA.AAAA", 10); /* JWE-like five segments */
    CHECK_EQ(parse(ag_str_make(buf, t.n + 10), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    CHECK_EQ(parse(with_segment(t, 1, "", buf), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    CHECK_EQ(parse(with_segment(t, 2, "", buf), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
}

TEST(jwt_rejects_non_canonical_base64url)
{
    char buf[4096], seg[4096];
    ag_str_t t = fx_token("rs256"), h, rest = ag_str_split(t, '.', &h);
    (void)rest;
    /* padding on the header */
    memcpy(seg, h.p, h.n);
    size_t n = h.n;
    while (n % 4)
        seg[n++] = '=';
    seg[n] = '\0';
    if (n != h.n)
        CHECK_EQ(parse(with_segment(t, 0, seg, buf), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    /* '+' and '/' instead of '-' and '_' in the signature */
    memcpy(buf, t.p, t.n);
    buf[t.n - 10] = '+';
    CHECK_EQ(parse(ag_str_make(buf, t.n), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    buf[t.n - 10] = '/';
    CHECK_EQ(parse(ag_str_make(buf, t.n), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    /* RS256 2048-bit: 256 bytes = 342 chars, the last carrying 4 unused bits; set one */
    memcpy(buf, t.p, t.n);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, buf[t.n - 1]) - alpha);
    buf[t.n - 1] = alpha[v | 1];
    CHECK_EQ(v & 15, 0); /* the minting side is canonical too */
    CHECK_EQ(parse(ag_str_make(buf, t.n), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
}

TEST(jwt_rejects_header_that_is_not_an_object)
{
    char buf[4096];
    ag_str_t t = fx_token("rs256");
    CHECK_EQ(parse(with_segment(t, 0, "WzFd", buf), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED); /* [1] */
    CHECK_EQ(parse(with_segment(t, 0, "bnVsbA", buf), &(ag_jwt_t){0}),
             AG_AUTHN_MALFORMED); /* null */
    /* {"alg":5} */
    CHECK_EQ(parse(with_segment(t, 0, "eyJhbGciOjV9", buf), &(ag_jwt_t){0}), AG_AUTHN_MALFORMED);
    /* {"alg":"RS256","kid":7} */
    CHECK_EQ(parse(with_segment(t, 0, "eyJhbGciOiJSUzI1NiIsImtpZCI6N30", buf), &(ag_jwt_t){0}),
             AG_AUTHN_MALFORMED);
    /* {"alg":"RS256","kid":""} */
    CHECK_EQ(parse(with_segment(t, 0, "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9", buf), &(ag_jwt_t){0}),
             AG_AUTHN_MALFORMED);
}

TEST(jwt_alg_allow_list)
{
    char buf[4096];
    ag_str_t t = fx_token("rs256");
    /* {"alg":"HS256"}, {"alg":"none"}, {"alg":"ES256K"}, {"alg":"EdDSA"} */
    const char *hdr[] = {"eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJub25lIn0", "eyJhbGciOiJFUzI1NksifQ",
                         "eyJhbGciOiJFZERTQSJ9"};
    for (int i = 0; i < 4; i++)
        CHECK_EQ(parse(with_segment(t, 0, hdr[i], buf), &(ag_jwt_t){0}), AG_AUTHN_UNSUPPORTED_ALG);
    CHECK_EQ(ag_jwt_alg_parse(AG_STR("PS512")), AG_JWT_PS512);
    CHECK_EQ(ag_jwt_alg_parse(AG_STR("ps512")), AG_JWT_ALG_UNKNOWN);
    CHECK_STREQ(ag_jwt_alg_name(AG_JWT_ES384), "ES384");
}

TEST(jwt_rejects_crit_even_empty)
{
    char buf[4096];
    /* {"alg":"RS256","crit":[]} */
    CHECK_EQ(parse(with_segment(fx_token("rs256"), 0, "eyJhbGciOiJSUzI1NiIsImNyaXQiOltdfQ", buf),
                   &(ag_jwt_t){0}),
             AG_AUTHN_UNKNOWN_CRIT);
}

TEST(jwt_enforces_size_limit)
{
    ag_jwt_t jwt;
    ag_str_t t = fx_token("rs256");
    ag_arena_reset(&arena);
    CHECK_EQ(ag_jwt_parse(t, t.n - 1, &arena, &jwt), AG_AUTHN_TOO_LARGE);
    CHECK_EQ(ag_jwt_parse(t, t.n, &arena, &jwt), AG_AUTHN_OK);
}

TEST(jwt_verify_checks_key_fit_and_signature)
{
    ag_jwt_t jwt;
    fx_load();
    const ag_jwks_t *ks = ag_issuer_static_keys(ag_issuer_at(fx.set, 0));
    CHECK_EQ(parse(fx_token("ps384"), &jwt), AG_AUTHN_OK);
    CHECK_EQ(ag_jwt_verify(&jwt, ag_jwks_find(ks, AG_STR("rsa1"), AG_STR_NULL)), AG_AUTHN_OK);
    CHECK_EQ(ag_jwt_verify(&jwt, ag_jwks_find(ks, AG_STR("rsa-ps"), AG_STR_NULL)),
             AG_AUTHN_ALG_KEY_MISMATCH);
    CHECK_EQ(ag_jwt_verify(&jwt, ag_jwks_find(ks, AG_STR("ec384"), AG_STR_NULL)),
             AG_AUTHN_ALG_KEY_MISMATCH);
    /* PS with the wrong salt length would fail: jose uses salt = hash length, as we do */
    CHECK_EQ(parse(fx_token("ps512"), &jwt), AG_AUTHN_OK);
    CHECK_EQ(ag_jwt_verify(&jwt, ag_jwks_find(ks, AG_STR("rsa1"), AG_STR_NULL)), AG_AUTHN_OK);
}
