/* ag_authn_*: every algorithm, every rejection, the OIDC, Azure AD and service-account
 * mappings, over tokens minted by node's jose/crypto (tests/fixtures/jwt/mint.mjs). */
#include <pthread.h>

#include "authn/authn.h"
#include "jwt_fixture.h"
#include "testlib.h"

#define EXPECT(token, result)                                                                      \
    do {                                                                                           \
        ag_identity_t id_;                                                                         \
        CHECK_STREQ(ag_authn_result_name(fx_verify(token, &id_, NULL)), result);                   \
    } while (0)

/* ---- Authorization header ----------------------------------------------------------- */

static ag_authn_result bearer1(const char *v, ag_str_t *tok)
{
    ag_str_t s = ag_str_cstr(v);
    return ag_authn_bearer(&s, 1, tok);
}

TEST(authn_bearer_accepts_one_bearer_field_any_case)
{
    ag_str_t t;
    CHECK_EQ(bearer1("Bearer abc.def-_~+/=", &t), AG_AUTHN_OK);
    CHECK_SLICE(t, "abc.def-_~+/=");
    CHECK_EQ(bearer1("bearer x", &t), AG_AUTHN_OK);
    CHECK_EQ(bearer1("BEARER x", &t), AG_AUTHN_OK);
    CHECK_SLICE(t, "x");
}

TEST(authn_bearer_rejects_malformed_headers)
{
    ag_str_t t;
    const char *bad[] = {
        "Bearer",  "Bearer ",   "Bearer  x", "Bearer x ",  "Bearer x y", "Basic YWxhZGRpbjpvcGVu",
        "Bearerx", " Bearer x", "Bearer\tx", "Bearer x=y", "Bearer =x",  "Bearer x\r\n",
        "Token x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(bearer1(bad[i], &t), AG_AUTHN_BAD_AUTHORIZATION_HEADER);
}

/* Every byte value at every offset of a long token (the scan reads eight bytes a round):
 * exactly A-Z a-z 0-9 - . _ ~ + / pass. */
TEST(authn_bearer_checks_every_byte_of_a_long_token)
{
    char v[7 + 40];
    memcpy(v, "Bearer ", 7);
    for (int c = 1; c < 256; c++) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        for (int at = 0; at < 20; at++) {
            memset(v + 7, 'a', 39);
            v[7 + at] = (char)c;
            v[7 + 39] = '\0';
            ag_str_t t;
            CHECK_EQ(bearer1(v, &t), ok ? AG_AUTHN_OK : AG_AUTHN_BAD_AUTHORIZATION_HEADER);
        }
    }
}

TEST(authn_bearer_rejects_two_fields_and_reports_none)
{
    ag_str_t two[] = {AG_STR("Bearer a"), AG_STR("Bearer a")}, t;
    CHECK_EQ(ag_authn_bearer(two, 2, &t), AG_AUTHN_BAD_AUTHORIZATION_HEADER);
    CHECK_EQ(ag_authn_bearer(NULL, 0, &t), AG_AUTHN_NO_CREDENTIALS);
}

TEST(authn_result_names_are_metric_labels)
{
    CHECK_STREQ(ag_authn_result_name(AG_AUTHN_OK), "ok");
    CHECK_STREQ(ag_authn_result_name(AG_AUTHN_EXPIRED), "expired");
    CHECK_STREQ(ag_authn_result_name(AG_AUTHN_UNKNOWN_KID), "unknown_kid");
    CHECK_STREQ(ag_authn_result_name(AG_AUTHN_INTERNAL), "internal");
    CHECK_STREQ(ag_authn_result_name((ag_authn_result)999), "invalid");
    for (int r = 0; r < AG_AUTHN_RESULT_COUNT; r++) /* labels: lower case, no spaces */
        for (const char *p = ag_authn_result_name((ag_authn_result)r); *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || *p == '_');
}

/* ---- algorithms ----------------------------------------------------------------------- */

TEST(authn_verifies_every_algorithm)
{
    const char *algs[] = {"rs256", "rs384", "rs512", "ps256", "ps384",
                          "ps512", "es256", "es384", "es512"};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        ag_identity_t id;
        ag_authn_info_t info;
        ag_authn_result r = fx_verify(algs[i], &id, &info);
        if (r != AG_AUTHN_OK)
            fprintf(stderr, "%s: %s\n", algs[i], ag_authn_result_name(r));
        CHECK_EQ(r, AG_AUTHN_OK);
        CHECK_SLICE(id.username, "https://idp.example.com#alice");
        CHECK_STREQ(fx_groups(&id), "dev,ops,system:authenticated");
        CHECK_SLICE(info.iss, "https://idp.example.com");
        CHECK_SLICE(info.sub, "alice");
        CHECK_EQ(info.exp, 4102444800LL);
        CHECK(info.issuer == ag_issuer_at(fx.set, 0));
        CHECK_EQ(info.naudiences, 1);
    }
}

TEST(authn_tokens_without_kid_try_each_fitting_key)
{
    EXPECT("no_kid_rs256", "ok");
    EXPECT("no_kid_es512", "ok");
    /* ES384 without kid: the P-384 key is tried (the only fit) and does not verify a
     * signature made with a P-256 key */
    EXPECT("es384_wrong_curve_no_kid", "bad_signature");
}

TEST(authn_key_decides_algorithm)
{
    EXPECT("ps256_jwk_alg", "ok");
    EXPECT("rs256_on_ps_only_key", "alg_key_mismatch"); /* JWK alg PS256 */
    EXPECT("es256_on_rsa_kid", "alg_key_mismatch");     /* EC alg, RSA key */
    EXPECT("es384_on_p256_key", "alg_key_mismatch");    /* wrong curve for alg */
}

TEST(authn_rejects_alg_none_in_any_case)
{
    EXPECT("alg_none", "unsupported_alg");
    EXPECT("alg_none_upper", "unsupported_alg");
    EXPECT("alg_none_mixed", "unsupported_alg");
}

TEST(authn_rejects_hmac_even_keyed_with_the_public_key)
{
    EXPECT("hs256_with_public_key", "unsupported_alg");
}

TEST(authn_rejects_unknown_or_missing_alg)
{
    EXPECT("alg_lowercase", "unsupported_alg");
    EXPECT("alg_missing", "malformed");
}

TEST(authn_rejects_any_crit)
{
    EXPECT("crit_exp", "unknown_crit");
    EXPECT("crit_b64", "unknown_crit");
}

TEST(authn_ignores_keys_embedded_in_the_header)
{
    EXPECT("embedded_jwk", "bad_signature");
    EXPECT("embedded_jwk_no_kid", "bad_signature");
    EXPECT("jku_x5c_ignored", "ok");
}

TEST(authn_rejects_unknown_kid_and_skipped_keys)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("unknown_kid", &id, &info), AG_AUTHN_UNKNOWN_KID);
    CHECK(info.issuer == ag_issuer_at(fx.set, 0)); /* whose keys to refresh */
    CHECK_SLICE(info.kid, "nope");
    EXPECT("weak_key", "unknown_kid"); /* RSA-1024 was skipped at load */
    EXPECT("enc_key", "unknown_kid");  /* use=enc was skipped */
}

TEST(authn_rejects_bad_signatures)
{
    EXPECT("wrong_key", "bad_signature");
    /* flip one bit in the middle of the signature of a valid token, for each family */
    const char *names[] = {"rs256", "ps384", "es256", "es512"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ag_str_t t = fx_token(names[i]);
        char buf[4096];
        memcpy(buf, t.p, t.n);
        size_t at = t.n - 20;
        buf[at] = buf[at] == 'A' ? 'B' : 'A';
        ag_identity_t id;
        CHECK_EQ(fx_verify_at(ag_str_make(buf, t.n), fx.now, &id, NULL), AG_AUTHN_BAD_SIGNATURE);
        CHECK(id.username.n == 0 && id.ngroups == 0); /* nothing half-built escapes */
    }
    /* and a canonical but short signature (63 of 64 bytes) */
    ag_str_t t = fx_token("es256");
    CHECK_EQ(fx_verify_at(ag_str_make(t.p, t.n - 2), fx.now, &(ag_identity_t){0}, NULL),
             AG_AUTHN_BAD_SIGNATURE);
}

TEST(authn_rejects_signed_payload_tampering)
{
    /* swap the payload of one valid token into another's signature */
    ag_str_t a = fx_token("rs256"), b = fx_token("sub_system");
    ag_str_t ah, ap, bh, bp;
    ag_str_t arest = ag_str_split(a, '.', &ah), brest = ag_str_split(b, '.', &bh);
    ag_str_t asig = ag_str_split(arest, '.', &ap);
    (void)ag_str_split(brest, '.', &bp);
    char buf[4096];
    size_t n = 0;
    memcpy(buf, ah.p, ah.n), n += ah.n, buf[n++] = '.';
    memcpy(buf + n, bp.p, bp.n), n += bp.n, buf[n++] = '.';
    memcpy(buf + n, asig.p, asig.n), n += asig.n;
    CHECK_EQ(fx_verify_at(ag_str_make(buf, n), fx.now, &(ag_identity_t){0}, NULL),
             AG_AUTHN_BAD_SIGNATURE);
}

/* ---- structure -------------------------------------------------------------------------- */

TEST(authn_rejects_duplicate_claims_and_header_members)
{
    EXPECT("dup_iss", "malformed");
    EXPECT("dup_alg", "malformed");
    EXPECT("dup_escaped_key", "malformed");
}

TEST(authn_rejects_non_object_or_invalid_json)
{
    EXPECT("payload_array", "malformed");
    EXPECT("payload_trailing", "malformed");
    EXPECT("deep_payload", "malformed");
    EXPECT("payload_bad_utf8", "malformed");
}

TEST(authn_rejects_oversized_tokens_before_parsing)
{
    static char big[16385 + 10];
    memset(big, 'a', sizeof big);
    big[100] = '.';
    big[200] = '.';
    CHECK_EQ(fx_verify_at(ag_str_make(big, 16385), fx.now, &(ag_identity_t){0}, NULL),
             AG_AUTHN_TOO_LARGE);
}

/* ---- time ------------------------------------------------------------------------------- */

TEST(authn_checks_exp_with_leeway)
{
    EXPECT("expired", "expired");
    EXPECT("expired_within_leeway", "ok");      /* 30 s late, 60 s leeway */
    EXPECT("b_expired_past_leeway", "expired"); /* issuer B: 30 s leeway, 45 s late */
    /* exactly at exp + leeway the token is dead (RFC 7519 §4.1.4) */
    ag_identity_t id;
    CHECK_EQ(fx_verify_at(fx_token("rs256"), 4102444800LL + 59, &id, NULL), AG_AUTHN_OK);
    CHECK_EQ(fx_verify_at(fx_token("rs256"), 4102444800LL + 60, &id, NULL), AG_AUTHN_EXPIRED);
}

TEST(authn_checks_nbf_and_iat_with_leeway)
{
    EXPECT("not_yet_valid", "not_yet_valid");
    EXPECT("nbf_within_leeway", "ok");
    EXPECT("issued_in_future", "issued_in_future");
}

TEST(authn_requires_exp)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("no_exp", &id, &info), AG_AUTHN_MISSING_CLAIM);
    CHECK_SLICE(info.claim, "exp");
}

TEST(authn_numeric_dates_are_integers_below_2_pow_53)
{
    EXPECT("exp_fraction", "bad_claim");
    EXPECT("exp_exponent", "bad_claim");
    EXPECT("exp_negative", "bad_claim");
    EXPECT("exp_2_53", "bad_claim");
    EXPECT("exp_string", "bad_claim");
    EXPECT("exp_huge", "bad_claim"); /* 1e999: not an integer */
    EXPECT("exp_max_ok", "ok");
}

/* ---- issuer and audience ---------------------------------------------------------------- */

TEST(authn_issuer_must_match_exactly)
{
    EXPECT("unknown_iss", "unknown_issuer");
    EXPECT("iss_trailing_slash", "unknown_issuer");
    EXPECT("iss_case", "unknown_issuer");
    EXPECT("no_iss", "missing_claim");
}

TEST(authn_issuers_are_isolated)
{
    /* kid rsa1 exists for both issuers; a token naming issuer B but signed with A's key */
    EXPECT("b_signed_by_a", "bad_signature");
}

TEST(authn_audience_must_contain_a_configured_one)
{
    EXPECT("wrong_aud", "wrong_audience");
    EXPECT("aud_empty_array", "wrong_audience");
    EXPECT("no_aud", "wrong_audience");
    EXPECT("aud_number", "bad_claim");
    EXPECT("aud_array", "ok");
}

TEST(authn_requested_audiences_replace_configured_ones)
{
    ag_identity_t id;
    ag_authn_info_t info;
    ag_str_t want[] = {AG_STR("nope"), AG_STR("x")};
    fx_load();
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify_audiences(fx.set, NULL, NULL, fx_token("aud_array"), want, 2, fx.now,
                                       &fx.req, &id, &info),
             AG_AUTHN_OK);
    CHECK_EQ(info.naudiences, 1);
    CHECK_SLICE(info.audiences[0], "x");
    CHECK_EQ(ag_authn_verify_audiences(fx.set, NULL, NULL, fx_token("rs256"), want, 2, fx.now,
                                       &fx.req, &id, &info),
             AG_AUTHN_WRONG_AUDIENCE);
}

/* ---- key resolver ----------------------------------------------------------------------- */

static int resolver_calls;
static const ag_jwks_t *resolver_keys;
static const ag_jwks_t *resolve(void *ctx, const ag_issuer_t *iss)
{
    resolver_calls++;
    CHECK(ctx == &resolver_calls);
    CHECK_SLICE(ag_issuer_url(iss), "https://idp.example.com");
    return resolver_keys;
}

TEST(authn_uses_the_key_resolver_snapshot)
{
    ag_identity_t id;
    fx_load();
    /* the resolver's snapshot (issuer B's keys) wins over the static keys */
    resolver_keys = ag_issuer_static_keys(ag_issuer_at(fx.set, 1));
    resolver_calls = 0;
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify(fx.set, resolve, &resolver_calls, fx_token("rs256"), fx.now, &fx.req,
                             &id, NULL),
             AG_AUTHN_BAD_SIGNATURE);
    CHECK_EQ(resolver_calls, 1);
    /* NULL from the resolver falls back to the configured keys */
    resolver_keys = NULL;
    CHECK_EQ(ag_authn_verify(fx.set, resolve, &resolver_calls, fx_token("rs256"), fx.now, &fx.req,
                             &id, NULL),
             AG_AUTHN_OK);
}

TEST(authn_without_issuers_no_token_is_ours)
{
    ag_identity_t id;
    fx_load();
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify(NULL, NULL, NULL, fx_token("rs256"), fx.now, &fx.req, &id, NULL),
             AG_AUTHN_UNKNOWN_ISSUER);
}

TEST(authn_reports_no_keys_for_remote_issuer_before_first_fetch)
{
    ag_arena_t a;
    ag_cfg_t cfg;
    ag_issuer_set_t *set = NULL;
    ag_identity_t id;
    ag_arena_init(&a, 0, 0);
    const char *text =
        "{\"issuers\":[{\"issuer\":\"https://idp.example.com\",\"audiences\":[\"authgate\"],"
        "\"keys\":{\"discovery\":true}}]}";
    CHECK_EQ(ag_cfg_init(&cfg, "t.json", ag_str_cstr(text), &a), 0);
    CHECK_EQ(ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", NULL, &set), 0);
    fx_load();
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify(set, NULL, NULL, fx_token("rs256"), fx.now, &fx.req, &id, NULL),
             AG_AUTHN_NO_KEYS);
    ag_issuer_set_free(set);
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&a);
}

/* ---- OIDC mapping ------------------------------------------------------------------------ */

TEST(authn_default_username_prefix_is_issuer_hash)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("sub_system", &id, NULL), AG_AUTHN_OK); /* prefix makes it harmless */
    CHECK_SLICE(id.username, "https://idp.example.com#system:admin");
}

TEST(authn_rejects_system_groups_from_an_idp)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("group_system", &id, &info), AG_AUTHN_RESERVED_PREFIX);
    CHECK_SLICE(info.claim, "groups");
    EXPECT("b_system_email", "reserved_prefix"); /* no username prefix on issuer B */
}

TEST(authn_groups_claim_string_or_array_only)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("groups_string", &id, NULL), AG_AUTHN_OK);
    CHECK_STREQ(fx_groups(&id), "dev,system:authenticated");
    EXPECT("groups_number", "bad_claim");
    EXPECT("groups_mixed", "bad_claim");
    EXPECT("groups_too_many", "too_many_groups");
}

TEST(authn_rejects_control_characters_in_identities)
{
    EXPECT("sub_newline", "bad_claim");
    EXPECT("group_nul", "bad_claim");
    EXPECT("sub_empty", "bad_claim");
    EXPECT("sub_number", "bad_claim");
}

TEST(authn_unescapes_claims)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("sub_escaped", &id, NULL), AG_AUTHN_OK);
    CHECK_SLICE(id.username, "https://idp.example.com#alice\xc3\xa9");
}

TEST(authn_maps_email_uid_prefixed_groups_and_extra)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("b_ok", &id, NULL), AG_AUTHN_OK);
    CHECK_SLICE(id.username, "bob@example.com");
    CHECK_SLICE(id.uid, "u-1");
    CHECK_STREQ(fx_groups(&id), "oidc:admins,oidc:system:masters,system:authenticated");
    CHECK_STREQ(fx_extra(&id, "example.com/scopes"), "read,write");
    CHECK_EQ(id.flags, 0);
    CHECK_EQ(fx_verify("b_extra_string", &id, NULL), AG_AUTHN_OK);
    CHECK_STREQ(fx_extra(&id, "example.com/scopes"), "read");
}

TEST(authn_email_username_requires_verified_email_when_present)
{
    EXPECT("b_email_unverified", "email_not_verified");
    EXPECT("b_email_verified_string", "email_not_verified");
    EXPECT("b_no_email_verified", "ok");
}

TEST(authn_required_claims_must_match)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("b_wrong_hd", &id, &info), AG_AUTHN_REQUIRED_CLAIM_MISMATCH);
    CHECK_SLICE(info.claim, "hd");
    EXPECT("b_no_hd", "required_claim_mismatch");
}

/* ---- Azure AD ------------------------------------------------------------------------------ */

TEST(authn_azure_v1_token_maps_upn_oid_groups)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("azure_v1", &id, &info), AG_AUTHN_OK);
    CHECK_SLICE(info.iss, "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/");
    CHECK_SLICE(id.username, "jane@contoso.com");
    CHECK_SLICE(id.oid, "a1b2c3d4-0000-1111-2222-333344445555");
    CHECK_SLICE(id.tid, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    CHECK_STREQ(fx_extra(&id, "oid"), "a1b2c3d4-0000-1111-2222-333344445555");
    CHECK_STREQ(fx_groups(&id), "11111111-2222-3333-4444-555555555555,"
                                "66666666-7777-8888-9999-000000000000,system:authenticated");
    CHECK_EQ(id.flags, AG_ID_AZURE_AD);
}

TEST(authn_azure_v2_token_falls_back_to_oid)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("azure_v2", &id, &info), AG_AUTHN_OK);
    CHECK_SLICE(info.iss,
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
    CHECK_SLICE(id.username, "a1b2c3d4-0000-1111-2222-333344445555");
    CHECK(id.flags & AG_ID_AZURE_AD);
    CHECK_EQ(fx_verify("azure_sp_no_upn", &id, NULL), AG_AUTHN_OK);
    CHECK_SLICE(id.username, "a1b2c3d4-0000-1111-2222-333344445555");
    CHECK_STREQ(fx_groups(&id), "system:authenticated");
    CHECK_EQ(id.flags, AG_ID_AZURE_AD); /* no groups, no overage marker: no Graph call */
}

TEST(authn_azure_checks_tenant_audience_and_oid)
{
    EXPECT("azure_wrong_tenant", "wrong_tenant");
    EXPECT("azure_no_tid", "missing_claim");
    EXPECT("azure_no_oid", "missing_claim");
    EXPECT("azure_wrong_aud", "wrong_audience");
    EXPECT("azure_v2_iss_other_tenant", "unknown_issuer");
    EXPECT("azure_groups_string", "bad_claim");
}

TEST(authn_azure_group_overage_is_flagged_not_fetched)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("azure_overage", &id, NULL), AG_AUTHN_OK);
    CHECK_EQ(id.flags, AG_ID_AZURE_AD | AG_ID_GROUP_OVERAGE);
    CHECK_STREQ(fx_groups(&id), "system:authenticated");
    CHECK_EQ(fx_verify("azure_hasgroups", &id, NULL), AG_AUTHN_OK);
    CHECK(id.flags & AG_ID_GROUP_OVERAGE);
    /* groups present win over an overage marker */
    CHECK_EQ(fx_verify("azure_groups_and_overage", &id, NULL), AG_AUTHN_OK);
    CHECK_EQ(id.flags, AG_ID_AZURE_AD);
    CHECK_EQ(id.ngroups, 3);
}

/* ---- service accounts ------------------------------------------------------------------------ */

TEST(authn_legacy_service_account_token)
{
    ag_identity_t id;
    ag_authn_info_t info;
    CHECK_EQ(fx_verify("sa_legacy", &id, &info), AG_AUTHN_OK);
    CHECK_SLICE(id.username, "system:serviceaccount:ns-a:builder");
    CHECK_SLICE(id.uid, "sa-uid-1");
    CHECK_STREQ(fx_groups(&id),
                "system:serviceaccounts,system:serviceaccounts:ns-a,system:authenticated");
    CHECK_EQ(id.flags, AG_ID_SERVICE_ACCOUNT);
    CHECK_EQ(info.exp, 0);
    CHECK_EQ(id.nextra, 0);
}

TEST(authn_legacy_service_account_without_aud_counts_for_the_server_audiences)
{
    ag_identity_t id;
    ag_authn_info_t info;
    ag_str_t api = AG_STR("api"), vault = AG_STR("vault");
    CHECK_EQ(fx_verify("sa_legacy", &id, &info), AG_AUTHN_OK);
    CHECK_EQ(info.naudiences, 2); /* the configured (implicit) audiences */
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify_audiences(fx.set, NULL, NULL, fx_token("sa_legacy"), &api, 1, fx.now,
                                       &fx.req, &id, &info),
             AG_AUTHN_OK);
    CHECK_EQ(info.naudiences, 1);
    CHECK_SLICE(info.audiences[0], "api");
    /* a TokenReview for another audience must not accept a token that names none */
    CHECK_EQ(ag_authn_verify_audiences(fx.set, NULL, NULL, fx_token("sa_legacy"), &vault, 1, fx.now,
                                       &fx.req, &id, &info),
             AG_AUTHN_WRONG_AUDIENCE);
}

TEST(authn_legacy_service_account_rejections)
{
    EXPECT("sa_legacy_sub_mismatch", "bad_claim");
    EXPECT("sa_legacy_no_uid", "missing_claim");
    EXPECT("sa_legacy_expired", "expired");
    EXPECT("sa_legacy_other_key", "bad_signature");
}

TEST(authn_bound_service_account_token)
{
    ag_identity_t id;
    CHECK_EQ(fx_verify("sa_bound", &id, NULL), AG_AUTHN_OK);
    CHECK_SLICE(id.username, "system:serviceaccount:ns-a:builder");
    CHECK_SLICE(id.uid, "sa-uid-1");
    CHECK_STREQ(fx_groups(&id),
                "system:serviceaccounts,system:serviceaccounts:ns-a,system:authenticated");
    CHECK_STREQ(fx_extra(&id, "authentication.kubernetes.io/pod-name"), "web-0");
    CHECK_STREQ(fx_extra(&id, "authentication.kubernetes.io/pod-uid"), "pod-uid-1");
    CHECK_STREQ(fx_extra(&id, "authentication.kubernetes.io/node-name"), "node-1");
    CHECK_STREQ(fx_extra(&id, "authentication.kubernetes.io/node-uid"), "node-uid-1");
    CHECK_STREQ(fx_extra(&id, "authentication.kubernetes.io/credential-id"), "JTI=a1b2c3");
    CHECK_EQ(id.nextra, 5);
    /* EC key from a certificate in the same PEM file, no pod, no jti */
    CHECK_EQ(fx_verify("sa_bound_es256_cert_key", &id, NULL), AG_AUTHN_OK);
    CHECK_EQ(id.nextra, 0);
}

TEST(authn_bound_service_account_rejections)
{
    EXPECT("sa_bound_wrong_aud", "wrong_audience");
    EXPECT("sa_bound_pod_and_secret", "bad_claim");
    EXPECT("sa_bound_bad_namespace", "bad_claim");
    EXPECT("sa_bound_sub_mismatch", "bad_claim");
    EXPECT("sa_bound_no_k8s_claim", "missing_claim");
    EXPECT("sa_bound_no_exp", "missing_claim");
}

/* ---- certificates and anonymous ----------------------------------------------------------------
 */

TEST(authn_client_certificate_identity)
{
    ag_arena_t a;
    ag_identity_t id;
    ag_str_t orgs[] = {AG_STR("system:masters"), AG_STR("team a")};
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_authn_from_cert(AG_STR("admin"), orgs, 2, &a, &id), 0);
    CHECK_SLICE(id.username, "admin");
    CHECK_STREQ(fx_groups(&id), "system:masters,team a,system:authenticated");
    CHECK_EQ(id.flags, AG_ID_CLIENT_CERT);
    CHECK_EQ(ag_authn_from_cert(AG_STR(""), NULL, 0, &a, &id), AG_E_INVAL);
    CHECK_EQ(ag_authn_from_cert(AG_STR("a\nb"), NULL, 0, &a, &id), AG_E_INVAL);
    ag_str_t bad[] = {AG_STR("x\r")};
    CHECK_EQ(ag_authn_from_cert(AG_STR("a"), bad, 1, &a, &id), AG_E_INVAL);
    ag_arena_dispose(&a);
}

TEST(authn_anonymous_identity)
{
    ag_identity_t id;
    ag_authn_anonymous(&id);
    CHECK_SLICE(id.username, "system:anonymous");
    CHECK_STREQ(fx_groups(&id), "system:unauthenticated");
    CHECK_EQ(id.flags, AG_ID_ANONYMOUS);
}

/* ---- concurrency ----------------------------------------------------------------------- */

/* Workers share one key-set snapshot: verification must only read the warmed mbedTLS
 * contexts (run under -fsanitize=thread to check for races). */
static void *verify_many(void *arg)
{
    static const char *const names[] = {"rs256", "ps256",    "es256",   "es384",
                                        "es512", "azure_v1", "sa_bound"};
    long ok = 0;
    ag_arena_t a;
    ag_arena_init(&a, 1 << 14, 1 << 22);
    for (int i = 0; i < 60; i++) {
        ag_identity_t id;
        ag_arena_reset(&a);
        ag_str_t t = fx_token(names[(i + (int)(long)arg) % 7]);
        ok += ag_authn_verify(fx.set, NULL, NULL, t, fx.now, &a, &id, NULL) == AG_AUTHN_OK;
    }
    ag_arena_dispose(&a);
    return (void *)ok;
}

TEST(authn_verify_is_safe_on_shared_keys_across_threads)
{
    pthread_t th[4];
    fx_load();
    for (long i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, verify_many, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *ok = NULL;
        pthread_join(th[i], &ok);
        CHECK_EQ((long)ok, 60);
    }
}

/* Text of the first JWK object in fixture file <name> (objects there are flat). */
static ag_str_t first_jwk(const char *name, ag_buf_t *b)
{
    CHECK_EQ(ag_buf_read_file(b, name), 0);
    const char *open = strchr(b->p, '[');
    open = open ? strchr(open, '{') : NULL;
    const char *close = open ? strchr(open, '}') : NULL;
    return close ? ag_str_make(open, (size_t)(close - open + 1)) : AG_STR("{}");
}

TEST(authn_kidless_tokens_try_a_bounded_number_of_keys)
{
    ag_buf_t a = AG_BUF_INIT(1 << 20), b = AG_BUF_INIT(1 << 20), cfgtext = AG_BUF_INIT(1 << 20);
    ag_str_t rsa1 = first_jwk(FIXDIR "/jwks-a.json", &a),
             other = first_jwk(FIXDIR "/jwks-b.json", &b);
    ag_arena_t ar;
    ag_cfg_t cfg;
    ag_issuer_set_t *set = NULL;
    ag_identity_t id;
    fx_load();
    for (int decoys = 7; decoys <= 8; decoys++) {
        ag_buf_clear(&cfgtext);
        ag_buf_printf(
            &cfgtext,
            "{\"issuers\":[{\"issuer\":\"https://idp.example.com\",\"audiences\":[\"authgate\"],"
            "\"keys\":{\"jwks\":{\"keys\":[");
        for (int i = 0; i < decoys; i++) /* other keys first, the signing key last */
            ag_buf_printf(&cfgtext, "%.*s,", AG_STR_FMT(other));
        ag_buf_printf(&cfgtext, "%.*s]}}}]}", AG_STR_FMT(rsa1));
        ag_arena_init(&ar, 0, 0);
        CHECK_EQ(ag_cfg_init(&cfg, "t.json", ag_buf_str(&cfgtext), &ar), 0);
        CHECK_EQ(ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", NULL, &set),
                 0);
        ag_arena_reset(&fx.req);
        ag_authn_result r =
            ag_authn_verify(set, NULL, NULL, fx_token("no_kid_rs256"), fx.now, &fx.req, &id, NULL);
        /* 7 decoys: the 8th try is the right key; 8 decoys: never reached */
        CHECK_EQ(r, decoys == 7 ? AG_AUTHN_OK : AG_AUTHN_BAD_SIGNATURE);
        ag_issuer_set_free(set);
        ag_cfg_dispose(&cfg);
        ag_arena_dispose(&ar);
    }
    ag_buf_dispose(&a);
    ag_buf_dispose(&b);
    ag_buf_dispose(&cfgtext);
}

/* Issuer set with the Azure preset whose keys are jwks-azure.json with the per-key issuer
 * replaced by <key_issuer>. */
static ag_authn_result azure_with_key_issuer(const char *key_issuer, const char *token)
{
    ag_buf_t jwks = AG_BUF_INIT(1 << 20), cfgtext = AG_BUF_INIT(1 << 20);
    ag_arena_t ar;
    ag_cfg_t cfg;
    ag_issuer_set_t *set = NULL;
    ag_identity_t id;
    ag_authn_result r = AG_AUTHN_INTERNAL;
    fx_load();
    CHECK_EQ(ag_buf_read_file(&jwks, FIXDIR "/jwks-azure.json"), 0);
    char *at = strstr(jwks.p, "\"issuer\": \"");
    char *end = at ? strchr(at + 11, '"') : NULL;
    if (!end)
        return r;
    ag_buf_printf(&cfgtext,
                  "{\"issuers\":[{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-"
                  "2d7cd011db47\","
                  "\"keys\":{\"jwks\":%.*s%s%s}}]}",
                  (int)(at + 11 - jwks.p), jwks.p, key_issuer, end);
    ag_arena_init(&ar, 0, 0);
    if (ag_cfg_init(&cfg, "t.json", ag_buf_str(&cfgtext), &ar) == 0 &&
        ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", NULL, &set) == 0) {
        ag_arena_reset(&fx.req);
        r = ag_authn_verify(set, NULL, NULL, fx_token(token), fx.now, &fx.req, &id, NULL);
    } else {
        fprintf(stderr, "%s\n", ag_cfg_error(&cfg));
    }
    ag_issuer_set_free(set);
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&ar);
    ag_buf_dispose(&jwks);
    ag_buf_dispose(&cfgtext);
    return r;
}

TEST(authn_azure_v2_honours_the_per_key_issuer)
{
    const char *mine =
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    const char *other =
        "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0";
    const char *tmpl = "https://login.microsoftonline.com/{tenantid}/v2.0";
    CHECK_EQ(azure_with_key_issuer(mine, "azure_v2"), AG_AUTHN_OK);
    CHECK_EQ(azure_with_key_issuer(tmpl, "azure_v2"), AG_AUTHN_OK);
    CHECK_EQ(azure_with_key_issuer(other, "azure_v2"), AG_AUTHN_KEY_ISSUER_MISMATCH);
    CHECK_EQ(
        azure_with_key_issuer("https://login.microsoftonline.com/{tenantid}/v2.0x", "azure_v2"),
        AG_AUTHN_KEY_ISSUER_MISMATCH);
    /* v1 tokens: v1 metadata keys carry no issuer; a key's issuer is not consulted */
    CHECK_EQ(azure_with_key_issuer(other, "azure_v1"), AG_AUTHN_OK);
}

TEST(authn_fails_closed_when_the_arena_runs_out)
{
    /* For every fixture token: with growing arena caps, the verdict is "internal" until
     * there is room, then exactly the verdict of an unbounded run: an allocation failure
     * is never reported (or cached) as a rejection, nor ever accepts. */
    fx_load();
    int tokens = 0;
    for (ag_json_ref k = ag_json_first(&fx.tokens, fx.tokmap); k != AG_JSON_NONE;
         k = ag_json_next(&fx.tokens, k)) {
        ag_str_t tok = ag_json_raw(&fx.tokens, ag_json_value(k)), name = ag_json_raw(&fx.tokens, k);
        ag_identity_t id;
        ag_arena_reset(&fx.req);
        ag_authn_result want = ag_authn_verify(fx.set, NULL, NULL, tok, fx.now, &fx.req, &id, NULL),
                        r;
        size_t cap = 256;
        do {
            ag_arena_t a;
            ag_arena_init(&a, 256, cap);
            r = ag_authn_verify(fx.set, NULL, NULL, tok, fx.now, &a, &id, NULL);
            if (r != want && r != AG_AUTHN_INTERNAL)
                fprintf(stderr, "%.*s cap %zu: %s, want %s\n", AG_STR_FMT(name), cap,
                        ag_authn_result_name(r), ag_authn_result_name(want));
            CHECK(r == want || r == AG_AUTHN_INTERNAL);
            if (r == AG_AUTHN_INTERNAL)
                CHECK(id.username.n == 0 && id.ngroups == 0);
            ag_arena_dispose(&a);
            cap += 256;
        } while (r == AG_AUTHN_INTERNAL && cap <= (1u << 20));
        CHECK_EQ(r, want);
        tokens++;
    }
    CHECK(tokens > 100);
}

TEST(authn_issuer_algorithm_allow_list)
{
    ag_buf_t a = AG_BUF_INIT(1 << 20), cfgtext = AG_BUF_INIT(1 << 20);
    ag_arena_t ar;
    ag_cfg_t cfg;
    ag_issuer_set_t *set = NULL;
    ag_identity_t id;
    fx_load();
    CHECK_EQ(ag_buf_read_file(&a, FIXDIR "/jwks-a.json"), 0);
    ag_buf_printf(
        &cfgtext,
        "{\"issuers\":[{\"issuer\":\"https://idp.example.com\",\"audiences\":[\"authgate\"],"
        "\"algorithms\":[\"ES256\"],\"keys\":{\"jwks\":%s}}]}",
        a.p);
    ag_arena_init(&ar, 0, 0);
    CHECK_EQ(ag_cfg_init(&cfg, "t.json", ag_buf_str(&cfgtext), &ar), 0);
    CHECK_EQ(ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", NULL, &set), 0);
    ag_arena_reset(&fx.req);
    CHECK_EQ(ag_authn_verify(set, NULL, NULL, fx_token("es256"), fx.now, &fx.req, &id, NULL),
             AG_AUTHN_OK);
    CHECK_EQ(ag_authn_verify(set, NULL, NULL, fx_token("rs256"), fx.now, &fx.req, &id, NULL),
             AG_AUTHN_UNSUPPORTED_ALG);
    CHECK_EQ(ag_authn_verify(set, NULL, NULL, fx_token("es384"), fx.now, &fx.req, &id, NULL),
             AG_AUTHN_UNSUPPORTED_ALG);
    ag_issuer_set_free(set);
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&ar);
    ag_buf_dispose(&a);
    ag_buf_dispose(&cfgtext);
}
