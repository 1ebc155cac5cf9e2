/* proxy/authn/sa_lookup: the TokenReview body sent for a service-account token, how the API
 * server's answer is judged (only an authenticated review naming the same user confirms;
 * anything unintelligible fails closed), and the issuer keys "lookup" / "lookup_ttl". */
#include "authn/issuer.h"
#include "authn/sa_lookup.h"
#include "files.h"
#include "testlib.h"

#define FIXDIR "tests/fixtures/jwt"
#define USER "system:serviceaccount:ns-a:builder"

static ag_sa_lookup_verdict eval(long status, const char *body, const char **reason)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_sa_lookup_verdict v = ag_sa_lookup_eval(status, ag_str_cstr(body), AG_STR(USER), &a, reason);
    ag_arena_dispose(&a);
    return v;
}

TEST(sa_lookup_body_is_a_tokenreview_with_escaped_token_and_audiences)
{
    ag_buf_t b = AG_BUF_INIT(4096);
    ag_str_t auds[] = {AG_STR("https://k"), AG_STR("a\"b")};
    CHECK_EQ(ag_sa_lookup_body(AG_STR("x.y.z"), auds, 2, &b), 0);
    CHECK_SLICE(ag_buf_str(&b), "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
                                "\"TokenReview\",\"spec\":{\"token\":\"x.y.z\",\"audiences\":"
                                "[\"https://k\",\"a\\\"b\"]}}");
    ag_buf_clear(&b);
    CHECK_EQ(ag_sa_lookup_body(AG_STR("t"), NULL, 0, &b), 0);
    CHECK_SLICE(ag_buf_str(&b), "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
                                "\"TokenReview\",\"spec\":{\"token\":\"t\"}}");
    ag_buf_dispose(&b);
}

TEST(sa_lookup_confirms_only_an_authenticated_review_of_the_same_user)
{
    const char *reason = NULL;
    CHECK_EQ(eval(201,
                  "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,"
                  "\"user\":{\"username\":\"" USER "\"}}}",
                  &reason),
             AG_SA_LOOKUP_CONFIRMED);
    CHECK_STREQ(reason, "");
    CHECK_EQ(eval(200,
                  "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,"
                  "\"user\":{\"username\":\"system:serviceaccount:ns-a:other\"}}}",
                  &reason),
             AG_SA_LOOKUP_REVOKED);
    CHECK_EQ(eval(200, "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true}}", &reason),
             AG_SA_LOOKUP_REVOKED);
}

TEST(sa_lookup_unauthenticated_or_absent_is_revoked)
{
    const char *reason = NULL;
    CHECK_EQ(eval(201, "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false}}", &reason),
             AG_SA_LOOKUP_REVOKED);
    /* every status field is omitempty: no "authenticated" means false */
    CHECK_EQ(
        eval(201, "{\"kind\":\"TokenReview\",\"status\":{\"error\":\"pod not found\"}}", &reason),
        AG_SA_LOOKUP_REVOKED);
    CHECK_EQ(eval(201, "{\"kind\":\"TokenReview\",\"status\":{}}", &reason), AG_SA_LOOKUP_REVOKED);
}

TEST(sa_lookup_fails_closed_on_anything_else)
{
    const char *reason = NULL;
    const char *ok = "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,"
                     "\"user\":{\"username\":\"" USER "\"}}}";
    CHECK_EQ(eval(403, ok, &reason), AG_SA_LOOKUP_FAILED); /* the gateway may not review */
    CHECK_EQ(eval(500, ok, &reason), AG_SA_LOOKUP_FAILED);
    CHECK_EQ(eval(200, "", &reason), AG_SA_LOOKUP_FAILED);
    CHECK_EQ(eval(200, "{\"kind\":\"TokenReview\"", &reason), AG_SA_LOOKUP_FAILED);
    CHECK_EQ(eval(200, "[true]", &reason), AG_SA_LOOKUP_FAILED);
    CHECK_EQ(eval(200, "{\"kind\":\"Status\",\"status\":{\"authenticated\":true}}", &reason),
             AG_SA_LOOKUP_FAILED);
    CHECK_EQ(eval(200, "{\"kind\":\"TokenReview\"}", &reason), AG_SA_LOOKUP_FAILED);
    CHECK_EQ(
        eval(200, "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":\"true\"}}", &reason),
        AG_SA_LOOKUP_FAILED);
    CHECK(reason && reason[0]);
}

static ag_err load(ag_arena_t *arena, ag_cfg_t *cfg, ag_issuer_set_t **set, const char *json)
{
    static char text[2048];
    snprintf(text, sizeof text, "{\"issuers\": [%s]}", json);
    ag_arena_init(arena, 0, 0);
    *set = NULL;
    ag_err err = ag_cfg_init(cfg, "gw.json", ag_str_cstr(text), arena);
    if (!err)
        err = ag_issuers_parse(cfg, ag_json_get(cfg->doc, 0, "issuers"), "issuers", FIXDIR, set);
    return err;
}

static void unload(ag_arena_t *arena, ag_cfg_t *cfg, ag_issuer_set_t *set)
{
    ag_issuer_set_free(set);
    ag_cfg_dispose(cfg);
    ag_arena_dispose(arena);
}

#define SA                                                                                         \
    "\"type\":\"kubernetes_serviceaccount\",\"issuer\":\"https://k\",\"audiences\":[\"k\"],"       \
    "\"keys\":{\"pem_file\":\"sa.pem\"}"

TEST(sa_lookup_is_on_by_default_for_service_account_issuers_only)
{
    ag_arena_t a;
    ag_cfg_t cfg;
    ag_issuer_set_t *set;
    CHECK_EQ(load(&a, &cfg, &set,
                  "{" SA "}, {\"issuer\":\"https://o\",\"audiences\":[\"x\"],"
                  "\"keys\":{\"discovery\":true}}"),
             0);
    CHECK(ag_issuer_at(set, 0)->lookup);
    CHECK_EQ(ag_issuer_at(set, 0)->lookup_ttl_ms, 10000);
    CHECK(!ag_issuer_at(set, 1)->lookup);
    unload(&a, &cfg, set);

    CHECK_EQ(load(&a, &cfg, &set, "{" SA ",\"lookup\":false,\"lookup_ttl\":\"3s\"}"), 0);
    CHECK(!ag_issuer_at(set, 0)->lookup);
    CHECK_EQ(ag_issuer_at(set, 0)->lookup_ttl_ms, 3000);
    unload(&a, &cfg, set);
}

TEST(sa_lookup_keys_are_rejected_elsewhere_and_bounded)
{
    ag_arena_t a;
    ag_cfg_t cfg;
    ag_issuer_set_t *set;
    CHECK_EQ(load(&a, &cfg, &set,
                  "{\"issuer\":\"https://o\",\"audiences\":[\"x\"],\"keys\":{\"discovery\":true},"
                  "\"lookup\":true}"),
             AG_E_CONFIG);
    CHECK(strstr(ag_cfg_error(&cfg), "unknown key \"lookup\"") != NULL);
    unload(&a, &cfg, set);
    CHECK_EQ(load(&a, &cfg, &set, "{" SA ",\"lookup_ttl\":\"0s\"}"), AG_E_CONFIG);
    unload(&a, &cfg, set);
    CHECK_EQ(load(&a, &cfg, &set, "{" SA ",\"lookup\":\"yes\"}"), AG_E_CONFIG);
    unload(&a, &cfg, set);
}
