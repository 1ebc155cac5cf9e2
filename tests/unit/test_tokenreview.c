/* Tests for core/review/tokenreview.c: TokenReview requests as kube-apiserver's webhook
 * authenticator sends them, and responses checked by re-parsing them as JSON. */
#include "base/json.h"
#include "review/tokenreview.h"
#include "testlib.h"

static ag_arena_t arena;

static ag_err parse(const char *body, ag_tokenreview_req_t *req, const char **why)
{
    ag_arena_reset(&arena);
    if (!arena.block_size)
        ag_arena_init(&arena, 0, 0);
    return ag_tokenreview_parse(ag_str_cstr(body), &arena, req, why);
}

TEST(tokenreview_parses_v1_request_as_the_api_server_sends_it)
{
    ag_tokenreview_req_t r;
    const char *why = NULL;
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"token\":\"abc.def.ghi\","
                   "\"audiences\":[\"https://kubernetes.default.svc\",\"api\"]},\"status\":{}}",
                   &r, &why),
             0);
    CHECK_EQ(r.version, AG_TOKENREVIEW_V1);
    CHECK_SLICE(r.token, "abc.def.ghi");
    CHECK_EQ(r.naudiences, 2);
    CHECK_SLICE(r.audiences[0], "https://kubernetes.default.svc");
    CHECK_SLICE(r.audiences[1], "api");
}

TEST(tokenreview_parses_v1beta1_without_audiences)
{
    ag_tokenreview_req_t r;
    const char *why = NULL;
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1beta1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":\"t\\u002e1\",\"audiences\":null}}",
                   &r, &why),
             0);
    CHECK_EQ(r.version, AG_TOKENREVIEW_V1BETA1);
    CHECK_SLICE(r.token, "t.1");
    CHECK_EQ(r.naudiences, 0);
}

TEST(tokenreview_requires_a_token)
{
    ag_tokenreview_req_t r;
    const char *why = NULL;
    const char *bodies[] = {
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{}}",
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\"}",
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
        "\"spec\":{\"token\":\"\"}}",
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
        "\"spec\":{\"token\":null}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        why = NULL;
        CHECK_EQ(parse(bodies[i], &r, &why), AG_E_PARSE);
        CHECK_STREQ(why, "token is required");
    }
}

TEST(tokenreview_rejects_wrong_kind_version_and_types)
{
    ag_tokenreview_req_t r;
    const char *why;
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
                   "\"spec\":{\"token\":\"t\"}}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v2\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":\"t\"}}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_EQ(parse("{\"kind\":\"TokenReview\",\"spec\":{\"token\":\"t\"}}", &r, &why), AG_E_PARSE);
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":42}}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_STREQ(why, "spec.token must be a string");
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":\"t\",\"audiences\":\"api\"}}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":\"t\",\"audiences\":[1]}}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":[]}",
                   &r, &why),
             AG_E_PARSE);
    CHECK_EQ(parse("[]", &r, &why), AG_E_PARSE);
    CHECK_EQ(parse("not json", &r, &why), AG_E_PARSE);
    /* two tokens: which one would be verified? Duplicate keys are refused. */
    CHECK_EQ(parse("{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                   "\"spec\":{\"token\":\"a\",\"token\":\"b\"}}",
                   &r, &why),
             AG_E_PARSE);
}

TEST(tokenreview_bounds_body_and_audiences)
{
    ag_tokenreview_req_t r;
    const char *why;
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    ag_buf_append_cstr(&b, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                           "\"spec\":{\"token\":\"t\",\"audiences\":[");
    for (int i = 0; i < AG_TOKENREVIEW_MAX_AUDIENCES + 1; i++)
        ag_buf_printf(&b, "%s\"a%d\"", i ? "," : "", i);
    ag_buf_append_cstr(&b, "]}}");
    CHECK_EQ(parse(b.p, &r, &why), AG_E_TOO_BIG);
    ag_buf_clear(&b);
    ag_buf_append_cstr(&b, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
                           "\"spec\":{\"token\":\"");
    for (int i = 0; i < AG_TOKENREVIEW_MAX_BODY; i++)
        ag_buf_append_cstr(&b, "x");
    ag_buf_append_cstr(&b, "\"}}");
    CHECK_EQ(parse(b.p, &r, &why), AG_E_TOO_BIG);
    ag_buf_dispose(&b);
}

/* Parses <json> and returns the string at root.status.<a>[.<b>], or "" */
static ag_json_t doc;
static ag_json_ref root_status(const char *json)
{
    ag_arena_reset(&arena);
    if (ag_json_parse(&doc, ag_str_cstr(json), NULL, &arena, NULL) != 0)
        return AG_JSON_NONE;
    return ag_json_get(&doc, ag_json_root(&doc), "status");
}

TEST(tokenreview_writes_authenticated_user_exactly)
{
    ag_str_t groups[] = {AG_STR("dev\"ops"), AG_STR("system:authenticated")};
    ag_str_t vals[] = {AG_STR("read")};
    ag_extra_t extra[] = {{AG_STR("example.com/scopes"), vals, 1}};
    ag_identity_t u = {.username = AG_STR("jane@example.com"),
                       .uid = AG_STR("42"),
                       .groups = groups,
                       .ngroups = 2,
                       .extra = extra,
                       .nextra = 1};
    ag_str_t auds[] = {AG_STR("https://kubernetes.default.svc")};
    ag_tokenreview_req_t req = {.version = AG_TOKENREVIEW_V1,
                                .token = AG_STR("SECRET-TOKEN"),
                                .audiences = auds,
                                .naudiences = 1};
    ag_tokenreview_status_t st = {
        .authenticated = true, .user = &u, .audiences = auds, .naudiences = 1};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_tokenreview_write(&out, &req, &st), 0);
    CHECK(strstr(out.p, "SECRET-TOKEN") == NULL); /* the token is never echoed */
    ag_json_ref s = root_status(out.p);
    CHECK(s != AG_JSON_NONE);
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, ag_json_root(&doc), "kind"), "TokenReview"));
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, ag_json_root(&doc), "apiVersion"),
                         "authentication.k8s.io/v1"));
    bool b = false;
    CHECK_EQ(ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &b), 0);
    CHECK(b);
    ag_json_ref user = ag_json_get(&doc, s, "user");
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, user, "username"), "jane@example.com"));
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, user, "uid"), "42"));
    ag_json_ref g = ag_json_get(&doc, user, "groups");
    CHECK_EQ(ag_json_count(&doc, g), 2);
    CHECK(ag_json_str_eq(&doc, ag_json_first(&doc, g), "dev\"ops"));
    ag_json_ref ex = ag_json_get(&doc, ag_json_get(&doc, user, "extra"), "example.com/scopes");
    CHECK(ag_json_str_eq(&doc, ag_json_first(&doc, ex), "read"));
    CHECK(ag_json_str_eq(&doc, ag_json_first(&doc, ag_json_get(&doc, s, "audiences")),
                         "https://kubernetes.default.svc"));
    CHECK_EQ(ag_json_get(&doc, s, "error"), AG_JSON_NONE);
    ag_buf_dispose(&out);
}

TEST(tokenreview_writes_failure_and_omits_empty_fields)
{
    ag_tokenreview_req_t req = {.version = AG_TOKENREVIEW_V1BETA1};
    ag_tokenreview_status_t st = {.error = AG_STR("token expired")};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_tokenreview_write(&out, &req, &st), 0);
    CHECK_STREQ(out.p, "{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1beta1\","
                       "\"metadata\":{\"creationTimestamp\":null},\"spec\":{},"
                       "\"status\":{\"authenticated\":false,\"error\":\"token expired\"}}");
    /* minimal user: no uid, groups or extra keys at all */
    ag_identity_t u = {.username = AG_STR("x")};
    ag_tokenreview_status_t ok = {.authenticated = true, .user = &u};
    ag_buf_clear(&out);
    CHECK_EQ(ag_tokenreview_write(&out, &req, &ok), 0);
    CHECK(strstr(out.p, "\"status\":{\"authenticated\":true,\"user\":{\"username\":\"x\"}}}") !=
          NULL);
    ag_buf_dispose(&out);
}

/* kubectl auth whoami's answer: the identity, extra included, empty fields left out. */
TEST(selfsubjectreview_writes_the_identity)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    static const ag_str_t groups[] = {AG_STR("dev"), AG_STR("system:authenticated")};
    static const ag_str_t oid[] = {AG_STR("1c6f")};
    static const ag_extra_t extra[] = {{AG_STR("oid"), oid, 1}};
    ag_identity_t u = {.username = AG_STR("alice@contoso.com"),
                       .uid = AG_STR("u<1>"),
                       .groups = groups,
                       .ngroups = 2,
                       .extra = extra,
                       .nextra = 1};
    CHECK_EQ(ag_selfsubjectreview_write(&out, AG_STR("authentication.k8s.io/v1"), &u), 0);
    CHECK_STREQ(out.p,
                "{\"kind\":\"SelfSubjectReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
                "\"metadata\":{\"creationTimestamp\":null},\"status\":{\"userInfo\":"
                "{\"username\":\"alice@contoso.com\",\"uid\":\"u\\u003c1\\u003e\","
                "\"groups\":[\"dev\",\"system:authenticated\"],\"extra\":{\"oid\":[\"1c6f\"]}}}}");
    ag_buf_clear(&out);
    ag_identity_t anon = {.username = AG_STR("system:anonymous")};
    CHECK_EQ(ag_selfsubjectreview_write(&out, AG_STR("authentication.k8s.io/v1beta1"), &anon), 0);
    CHECK_STREQ(out.p,
                "{\"kind\":\"SelfSubjectReview\",\"apiVersion\":"
                "\"authentication.k8s.io/v1beta1\",\"metadata\":{\"creationTimestamp\":null},"
                "\"status\":{\"userInfo\":{\"username\":\"system:anonymous\"}}}");
    ag_buf_dispose(&out);
}
