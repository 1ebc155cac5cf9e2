/* core/authn/issuer: the "issuers" config section: strict errors with FILE:LINE:COL, key
 * sources, defaults, the Azure AD preset and the service-account types. */
#include "authn/issuer.h"
#include "files.h"
#include "testlib.h"

#define FIXDIR "tests/fixtures/jwt"

typedef struct {
    ag_arena_t arena;
    ag_cfg_t cfg;
    ag_issuer_set_t *set;
} env_t;

static ag_err load(env_t *e, const char *issuers_json)
{
    static char text[8192];
    snprintf(text, sizeof text, "{\"issuers\": %s}", issuers_json);
    ag_arena_init(&e->arena, 0, 0);
    e->set = NULL;
    ag_err err = ag_cfg_init(&e->cfg, "gw.json", ag_str_cstr(text), &e->arena);
    if (!err)
        err = ag_issuers_parse(&e->cfg, ag_json_get(e->cfg.doc, 0, "issuers"), "issuers", FIXDIR,
                               &e->set);
    return err;
}

static void done(env_t *e)
{
    ag_issuer_set_free(e->set);
    ag_cfg_dispose(&e->cfg);
    ag_arena_dispose(&e->arena);
}

static void expect_error(const char *json, const char *msg)
{
    env_t e;
    CHECK_EQ(load(&e, json), AG_E_CONFIG);
    CHECK(e.set == NULL);
    const char *got = ag_cfg_error(&e.cfg);
    if (!got || !strstr(got, msg)) {
        fprintf(stderr, "  error \"%s\"\n  does not contain \"%s\"\n", got ? got : "(none)", msg);
        CHECK(0);
    }
    done(&e);
}

TEST(issuer_parses_oidc_with_defaults)
{
    env_t e;
    CHECK_EQ(load(&e, "[{\"issuer\":\"https://idp.example.com/\",\"audiences\":[\"a\",\"b\"],"
                      "\"keys\":{\"discovery\":true}}]"),
             0);
    CHECK_EQ(ag_issuer_count(e.set), 1);
    const ag_issuer_t *is = ag_issuer_at(e.set, 0);
    CHECK_SLICE(ag_issuer_url(is), "https://idp.example.com/");
    CHECK(ag_issuer_uses_discovery(is) && ag_issuer_keys_remote(is));
    CHECK_SLICE(ag_issuer_discovery_url(is),
                "https://idp.example.com/.well-known/openid-configuration");
    CHECK_EQ(ag_issuer_jwks_uri(is).n, 0);
    CHECK(ag_issuer_static_keys(is) == NULL);
    CHECK_EQ(ag_issuer_type_of(is), AG_ISSUER_OIDC);
    CHECK_EQ(is->naudiences, 2);
    CHECK_SLICE(is->username_claim, "sub");
    CHECK_SLICE(is->username_prefix, "https://idp.example.com/#"); /* as --oidc-username-prefix */
    CHECK_EQ(is->groups_claim.n, 0);
    CHECK_EQ(is->leeway_s, 60);
    CHECK_EQ(is->max_token_bytes, 16384);
    CHECK_EQ(ag_issuer_set_max_token(e.set), 16384);
    CHECK(ag_issuer_find(e.set, AG_STR("https://idp.example.com/")) == is);
    CHECK(ag_issuer_find(e.set, AG_STR("https://idp.example.com")) == NULL);
    done(&e);
}

TEST(issuer_username_prefix_rules)
{
    env_t e;
    CHECK_EQ(
        load(&e,
             "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"jwks_uri\":\"https://a/"
             "k\"},"
             "\"claims\":{\"username\":\"email\"}},"
             "{\"issuer\":\"https://b\",\"audiences\":[\"x\"],\"keys\":{\"jwks_uri\":\"https://b/"
             "k\"},"
             "\"claims\":{\"username_prefix\":\"-\",\"groups\":\"g\",\"groups_prefix\":\"b:\"}},"
             "{\"issuer\":\"https://c\",\"audiences\":[\"x\"],\"keys\":{\"jwks_uri\":\"https://c/"
             "k\"},"
             "\"claims\":{\"username_prefix\":\"c:\"},\"clock_leeway\":\"5s\",\"max_token_bytes\":"
             "32768}]"),
        0);
    CHECK_EQ(ag_issuer_at(e.set, 0)->username_prefix.n, 0);
    CHECK_EQ(ag_issuer_at(e.set, 1)->username_prefix.n, 0);
    CHECK_SLICE(ag_issuer_at(e.set, 1)->groups_prefix, "b:");
    CHECK_SLICE(ag_issuer_at(e.set, 2)->username_prefix, "c:");
    CHECK_SLICE(ag_issuer_jwks_uri(ag_issuer_at(e.set, 2)), "https://c/k");
    CHECK(!ag_issuer_uses_discovery(ag_issuer_at(e.set, 2)));
    CHECK_EQ(ag_issuer_at(e.set, 2)->leeway_s, 5);
    CHECK_EQ(ag_issuer_set_max_token(e.set), 32768);
    done(&e);
}

TEST(issuer_loads_local_keys_relative_to_config_dir)
{
    env_t e;
    CHECK_EQ(
        load(&e, "[{\"issuer\":\"https://"
                 "a\",\"audiences\":[\"x\"],\"keys\":{\"jwks_file\":\"jwks-a.json\"}},"
                 "{\"type\":\"kubernetes_serviceaccount\",\"issuer\":\"kubernetes/serviceaccount\","
                 "\"keys\":{\"pem_file\":\"sa.pem\"}},"
                 "{\"issuer\":\"https://b\",\"audiences\":[\"x\"],\"keys\":{\"jwks\":{\"keys\":["
                 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\","
                 "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                 "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}}}]"),
        0);
    CHECK_EQ(ag_jwks_count(ag_issuer_static_keys(ag_issuer_at(e.set, 0))), 5);
    CHECK(!ag_issuer_keys_remote(ag_issuer_at(e.set, 0)));
    const ag_issuer_t *sa = ag_issuer_at(e.set, 1);
    CHECK(sa->legacy_sa);
    CHECK_EQ(ag_issuer_type_of(sa), AG_ISSUER_KUBERNETES_SA);
    CHECK_EQ(ag_jwks_count(ag_issuer_static_keys(sa)), 2);
    CHECK(ag_jwks_find(ag_issuer_static_keys(ag_issuer_at(e.set, 2)), AG_STR("k"),
                       AG_STR("ES256")) != NULL);
    done(&e);
}

TEST(issuer_azure_preset_expands_to_v1_and_v2)
{
    env_t e;
    CHECK_EQ(
        load(&e,
             "[{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\"}]"),
        0);
    CHECK_EQ(ag_issuer_count(e.set), 2);
    const ag_issuer_t *v1 = ag_issuer_at(e.set, 0), *v2 = ag_issuer_at(e.set, 1);
    CHECK_SLICE(ag_issuer_url(v1), "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/");
    CHECK_SLICE(ag_issuer_url(v2),
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
    CHECK_SLICE(ag_issuer_discovery_url(v1),
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/"
                ".well-known/openid-configuration");
    CHECK_SLICE(ag_issuer_discovery_url(v2),
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/"
                ".well-known/openid-configuration");
    CHECK_EQ(ag_issuer_type_of(v1), AG_ISSUER_AZURE_AD);
    CHECK_EQ(v1->naudiences, 1);
    CHECK_SLICE(v1->audiences[0], AG_AZURE_AKS_SERVER_APP); /* default: the AKS server app */
    CHECK_SLICE(v2->tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    done(&e);
}

TEST(issuer_azure_preset_shares_local_keys)
{
    env_t e;
    CHECK_EQ(load(&e,
                  "[{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\","
                  "\"audiences\":[\"api://x\"],\"keys\":{\"jwks_file\":\"jwks-azure.json\"}}]"),
             0);
    CHECK(ag_issuer_static_keys(ag_issuer_at(e.set, 0)) ==
          ag_issuer_static_keys(ag_issuer_at(e.set, 1)));
    CHECK(!ag_issuer_uses_discovery(ag_issuer_at(e.set, 1)));
    done(&e); /* freed once per reference: ASan checks the refcount */
}

TEST(issuer_config_errors_name_file_line_col_and_path)
{
    expect_error("[{\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}}]",
                 "gw.json:1:14: issuers[0].issuer: required field is missing");
    expect_error("[{\"issuer\":\"https://a\",\"keys\":{\"discovery\":true}}]",
                 "issuers[0].audiences: required field is missing");
    expect_error("[{\"issuer\":\"https://"
                 "a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},\"color\":1}]",
                 "issuers[0]: unknown key \"color\"");
    expect_error("[{\"issuer\":\"https://"
                 "a\",\"audiences\":[\"x\"],\"type\":\"saml\",\"keys\":{\"discovery\":true}}]",
                 "issuers[0].type");
    expect_error("{}", "issuers: must be an array of issuers");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[],\"keys\":{\"discovery\":true}}]",
                 "issuers[0].audiences: must not be empty");
}

TEST(issuer_prefixes_cannot_be_system)
{
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"username_prefix\":\"system:\"}}]",
                 "issuers[0].claims: prefixes must not start with \"system:\"");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"groups\":\"g\",\"groups_prefix\":\"system:masters\"}}]",
                 "prefixes must not start with");
}

TEST(issuer_keys_need_exactly_one_source)
{
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{}}]",
                 "exactly one of");
    expect_error(
        "[{\"issuer\":\"https://"
        "a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true,\"jwks_uri\":\"https://a/k\"}}]",
        "exactly one of");
}

TEST(issuer_remote_keys_need_https_except_loopback)
{
    expect_error(
        "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"jwks_uri\":\"http://a/k\"}}]",
        "jwks_uri must be an https URL");
    expect_error("[{\"issuer\":\"http://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}}]",
                 "discovery needs an https issuer URL");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"jwks_uri\":\"http://"
                 "127.0.0.1.evil.com/k\"}}]",
                 "https");
    env_t e;
    CHECK_EQ(load(&e, "[{\"issuer\":\"http://"
                      "127.0.0.1:9999\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}}]"),
             0);
    done(&e);
}

TEST(issuer_key_file_errors_are_config_errors)
{
    expect_error("[{\"issuer\":\"https://"
                 "a\",\"audiences\":[\"x\"],\"keys\":{\"jwks_file\":\"missing.json\"}}]",
                 "cannot read tests/fixtures/jwt/missing.json");
    expect_error(
        "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"pem_file\":\"weak.pem\"}}]",
        "no usable keys in PEM file");
    expect_error(
        "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"jwks\":{\"keys\":[]}}}]",
        "no usable keys in JWKS");
}

TEST(issuer_rejects_duplicates_and_bad_azure_tenants)
{
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}},"
                 "{\"issuer\":\"https://a\",\"audiences\":[\"y\"],\"keys\":{\"discovery\":true}}]",
                 "issuers[1]: issuer https://a is configured twice");
    expect_error("[{\"type\":\"azure_ad\",\"tenant_id\":\"contoso.com/../x\"}]",
                 "tenant_id: must be a GUID");
    expect_error("[{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\","
                 "\"issuer\":\"https://x\"}]",
                 "unknown key \"issuer\"");
    expect_error("[{\"type\":\"kubernetes_serviceaccount\",\"issuer\":\"https://"
                 "k\",\"keys\":{\"pem_file\":\"sa.pem\"}}]",
                 "audiences: required for bound service-account tokens");
}

TEST(issuer_extra_keys_are_lower_case_and_not_reserved)
{
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"extra\":{\"Example.com/x\":\"c\"}}}]",
                 "extra key \"Example.com/x\" must be lower case");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"extra\":{\"authentication.kubernetes.io/pod-name\":\"c\"}}}]",
                 "reserved domain");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"extra\":{\"k8s.io/x\":\"c\"}}}]",
                 "reserved domain");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"claims\":{\"extra\":{\"example.com/x\":5}}}]",
                 "values must be strings");
    env_t e;
    CHECK_EQ(load(&e,
                  "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                  "\"claims\":{\"extra\":{\"notkubernetes.io/"
                  "x\":\"c\"}},\"required_claims\":{\"hd\":\"e.com\"}}]"),
             0);
    CHECK_EQ(ag_issuer_at(e.set, 0)->nextra, 1);
    CHECK_SLICE(ag_issuer_at(e.set, 0)->required[0].value, "e.com");
    done(&e);
}

static ag_err discover(const ag_issuer_t *is, const char *doc, ag_arena_t *a, ag_str_t *uri)
{
    return ag_issuer_parse_discovery(is, ag_str_cstr(doc), a, uri);
}

TEST(issuer_discovery_document_must_name_the_same_issuer)
{
    env_t e;
    ag_str_t uri = AG_STR_NULL;
    CHECK_EQ(
        load(&e, "[{\"issuer\":\"https://"
                 "idp.example.com\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}},"
                 "{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\"}]"),
        0);
    const ag_issuer_t *is = ag_issuer_at(e.set, 0);
    CHECK_EQ(
        discover(
            is,
            "{\"issuer\":\"https://idp.example.com\",\"jwks_uri\":\"https://idp.example.com/keys\","
            "\"id_token_signing_alg_values_supported\":[\"RS256\"]}",
            &e.arena, &uri),
        0);
    CHECK_SLICE(uri, "https://idp.example.com/keys");
    CHECK_EQ(discover(is,
                      "{\"issuer\":\"https://idp.example.com/\",\"jwks_uri\":\"https://"
                      "idp.example.com/keys\"}",
                      &e.arena, &uri),
             AG_E_INVAL); /* OIDC Discovery §4.3: exact */
    CHECK_EQ(
        discover(
            is,
            "{\"issuer\":\"https://idp.example.com\",\"jwks_uri\":\"http://idp.example.com/keys\"}",
            &e.arena, &uri),
        AG_E_INVAL);
    CHECK_EQ(discover(is, "{\"issuer\":\"https://idp.example.com\"}", &e.arena, &uri), AG_E_PARSE);
    CHECK_EQ(
        discover(is, "{\"issuer\":\"https://idp.example.com\",\"jwks_uri\":7}", &e.arena, &uri),
        AG_E_PARSE);
    CHECK_EQ(discover(is, "<html>", &e.arena, &uri), AG_E_PARSE);
    CHECK_EQ(
        discover(is,
                 "{\"issuer\":\"https://idp.example.com\",\"issuer\":\"https://idp.example.com\","
                 "\"jwks_uri\":\"https://k\"}",
                 &e.arena, &uri),
        AG_E_PARSE);
    /* Azure AD v1 metadata lives on login.microsoftonline.com but names the sts issuer */
    CHECK_EQ(
        discover(ag_issuer_at(e.set, 1),
                 "{\"issuer\":\"https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/\","
                 "\"jwks_uri\":\"https://login.microsoftonline.com/common/discovery/keys\"}",
                 &e.arena, &uri),
        0);
    CHECK_EQ(
        discover(ag_issuer_at(e.set, 2),
                 "{\"issuer\":\"https://login.microsoftonline.com/{tenantid}/v2.0\","
                 "\"jwks_uri\":\"https://login.microsoftonline.com/common/discovery/v2.0/keys\"}",
                 &e.arena, &uri),
        AG_E_INVAL); /* templated (common) metadata: not ours */
    done(&e);
}

TEST(issuer_algorithms_allow_list)
{
    env_t e;
    CHECK_EQ(load(&e,
                  "[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                  "\"algorithms\":[\"ES256\",\"PS384\"]},"
                  "{\"issuer\":\"https://b\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true}},"
                  "{\"type\":\"azure_ad\",\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\","
                  "\"algorithms\":[\"RS256\"]}]"),
             0);
    CHECK_EQ(ag_issuer_at(e.set, 0)->algorithms, (1u << AG_JWT_ES256) | (1u << AG_JWT_PS384));
    CHECK(ag_issuer_at(e.set, 1)->algorithms & (1u << AG_JWT_ES512)); /* default: all */
    CHECK_EQ(ag_issuer_at(e.set, 2)->algorithms, 1u << AG_JWT_RS256); /* both Entra issuers */
    CHECK_EQ(ag_issuer_at(e.set, 3)->algorithms, 1u << AG_JWT_RS256);
    done(&e);
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"algorithms\":[\"HS256\"]}]",
                 "issuers[0].algorithms: unsupported algorithm \"HS256\"");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"algorithms\":[\"none\"]}]",
                 "unsupported algorithm \"none\"");
    expect_error("[{\"issuer\":\"https://a\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                 "\"algorithms\":[]}]",
                 "algorithms: must not be empty");
}
