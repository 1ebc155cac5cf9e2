/* Tests for proxy/review/webhook_tokenreview.c through the authenticator: TokenReview bodies
 * as an API server sends them, tokens minted by node jose (tests/fixtures/jwt), issuers
 * with local keys (no network). Answers are re-parsed as JSON. */
#include <string.h>
#include <uv.h>

#include "authn_fixture.h"
#include "review/webhook_tokenreview.h"

typedef authn_fixture_t ctx_t;

static struct {
    int calls, status, deferred;
    char body[8192];
} answer;

static void record_answer(ag_local_req_t *r)
{
    answer.calls++;
    answer.status = r->status;
    snprintf(answer.body, sizeof answer.body, "%.*s", AG_STR_FMT(ag_buf_str(r->response)));
}

/* The request's gate: a PENDING handler completes through ag_gate_done, which hands the
 * answer to g->resume (http1.c's on_gate_done in the gateway). */
static ag_local_req_t lreq;
static ag_gate_t lgate;

static void on_deferred_done(ag_gate_t *g, ag_gate_result res)
{
    (void)g;
    CHECK_EQ(res, AG_GATE_ALLOW);
    answer.deferred++;
    record_answer(&lreq);
}

static void setup(ctx_t *c)
{
    authn_fixture_load(c);
    authn_fixture_start(c);
}

static void teardown(ctx_t *c)
{
    authn_fixture_teardown(c);
}

static const char *token(ctx_t *c, const char *name)
{
    ag_str_t s = authn_fixture_token(c, name);
    return s.p ? ag_arena_cstr(&c->cfg_arena, s) : "";
}

/* POSTs <body> to <path> and runs the loop until answered. */
static void review(ctx_t *c, const char *path, const char *body)
{
    static ag_buf_t resp = AG_BUF_INIT(1 << 20);
    static ag_routes_t routes;
    ag_tokenreview_route_t *rt = NULL;
    ag_local_req_t *r = &lreq;
    static const ag_identity_t caller = {.username = AG_STR("kube-apiserver")}; /* the gate's */
    ag_arena_reset(&c->req_arena);
    ag_buf_clear(&resp);
    ag_routes_init(&routes);
    CHECK_EQ(ag_webhook_tokenreview_register(&routes, c->a, NULL, 0, false, &rt), 0);
    lgate = (ag_gate_t){.resume = on_deferred_done};
    *r = (ag_local_req_t){.body = ag_str_cstr(body),
                          .gate = &lgate,
                          .arena = &c->req_arena,
                          .worker = 1,
                          .status = 500,
                          .response = &resp,
                          .loop = &c->loop,
                          .identity = &caller};
    answer.calls = 0;
    ag_gate_result res = strcmp(path, AG_TOKENREVIEW_PATH_V1) == 0
                             ? ag_webhook_tokenreview_v1(r, rt)
                             : ag_webhook_tokenreview_v1beta1(r, rt);
    if (res == AG_GATE_ALLOW)
        record_answer(r);
    else
        CHECK_EQ(res, AG_GATE_PENDING);
    for (int i = 0; i < 100 && answer.calls == 0; i++)
        uv_run(&c->loop, UV_RUN_NOWAIT);
    CHECK_EQ(answer.calls, 1);
    ag_routes_dispose(&routes);
}

static const char *body_for(ag_arena_t *a, const char *version, const char *tok, const char *auds)
{
    ag_buf_t b = AG_BUF_INIT(1 << 16);
    ag_buf_printf(&b,
                  "{\"apiVersion\":\"authentication.k8s.io/%s\",\"kind\":\"TokenReview\","
                  "\"spec\":{\"token\":\"%s\"%s%s}}",
                  version, tok, auds ? ",\"audiences\":" : "", auds ? auds : "");
    const char *s = ag_arena_cstr(a, ag_buf_str(&b));
    ag_buf_dispose(&b);
    return s;
}

static ag_json_t doc;
static ag_json_ref status_of(ctx_t *c)
{
    CHECK_EQ(ag_json_parse(&doc, ag_str_cstr(answer.body), NULL, &c->req_arena, NULL), 0);
    return ag_json_get(&doc, ag_json_root(&doc), "status");
}

static ag_err register_once(ctx_t *c)
{
    (void)c; /* the handlers take the authenticator as their argument */
    return 0;
}

TEST(tokenreview_webhook_authenticates_a_valid_token)
{
    ctx_t c;
    setup(&c);
    CHECK_EQ(register_once(&c), 0);
    review(&c, AG_TOKENREVIEW_PATH_V1, body_for(&c.cfg_arena, "v1", token(&c, "rs256"), NULL));
    CHECK_EQ(answer.status, 201);
    ag_json_ref s = status_of(&c);
    bool ok = false;
    CHECK_EQ(ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok), 0);
    CHECK(ok);
    ag_json_ref u = ag_json_get(&doc, s, "user");
    CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, u, "username"), "https://idp.example.com#alice"));
    ag_json_ref g = ag_json_get(&doc, u, "groups");
    CHECK(ag_json_str_eq(&doc, ag_json_first(&doc, g), "dev"));
    CHECK(strstr(answer.body, "\"system:authenticated\"") != NULL);
    CHECK(strstr(answer.body, token(&c, "rs256")) == NULL); /* never echoed */
    /* v1beta1 path with a v1beta1 body answers v1beta1 */
    review(&c, AG_TOKENREVIEW_PATH_V1BETA1,
           body_for(&c.cfg_arena, "v1beta1", token(&c, "rs256"), NULL));
    CHECK_EQ(answer.status, 201);
    CHECK(strstr(answer.body, "\"apiVersion\":\"authentication.k8s.io/v1beta1\"") != NULL);
    teardown(&c);
}

TEST(tokenreview_webhook_rejects_bad_tokens_without_saying_why)
{
    ctx_t c;
    setup(&c);
    CHECK_EQ(register_once(&c), 0);
    const char *bad[] = {"b_expired_past_leeway", "alg_none", "b_signed_by_a", "azure_wrong_aud"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        review(&c, AG_TOKENREVIEW_PATH_V1, body_for(&c.cfg_arena, "v1", token(&c, bad[i]), NULL));
        CHECK_EQ(answer.status, 201);
        ag_json_ref s = status_of(&c);
        bool ok = true;
        CHECK_EQ(ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok), 0);
        CHECK(!ok);
        CHECK_EQ(ag_json_get(&doc, s, "user"), AG_JSON_NONE);
        CHECK(ag_json_str_eq(&doc, ag_json_get(&doc, s, "error"), "invalid bearer token"));
    }
    teardown(&c);
}

TEST(tokenreview_webhook_audiences_and_bad_requests)
{
    ctx_t c;
    setup(&c);
    CHECK_EQ(register_once(&c), 0);
    /* requested audiences: the token's "authgate" must be among them; status echoes it */
    review(&c, AG_TOKENREVIEW_PATH_V1,
           body_for(&c.cfg_arena, "v1", token(&c, "rs256"), "[\"other\",\"authgate\"]"));
    ag_json_ref s = status_of(&c);
    bool ok = false;
    ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok);
    CHECK(ok);
    ag_json_ref au = ag_json_get(&doc, s, "audiences");
    CHECK_EQ(ag_json_count(&doc, au), 1);
    CHECK(ag_json_str_eq(&doc, ag_json_first(&doc, au), "authgate"));
    review(
        &c, AG_TOKENREVIEW_PATH_V1,
        body_for(&c.cfg_arena, "v1", token(&c, "rs256"), "[\"https://kubernetes.default.svc\"]"));
    s = status_of(&c);
    ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok);
    CHECK(!ok);
    /* 400 with a Status body: no token, wrong version for the path, not JSON */
    review(&c, AG_TOKENREVIEW_PATH_V1, body_for(&c.cfg_arena, "v1", "", NULL));
    CHECK_EQ(answer.status, 400);
    CHECK(strstr(answer.body, "\"message\":\"token is required\"") != NULL);
    CHECK(strstr(answer.body, "\"kind\":\"Status\"") != NULL);
    review(&c, AG_TOKENREVIEW_PATH_V1, body_for(&c.cfg_arena, "v1beta1", "x.y.z", NULL));
    CHECK_EQ(answer.status, 400);
    review(&c, AG_TOKENREVIEW_PATH_V1BETA1, "{");
    CHECK_EQ(answer.status, 400);
    teardown(&c);
}

TEST(tokenreview_webhook_azure_tokens_and_overage_without_graph)
{
    ctx_t c;
    setup(&c);
    review(&c, AG_TOKENREVIEW_PATH_V1, body_for(&c.cfg_arena, "v1", token(&c, "azure_v1"), NULL));
    ag_json_ref s = status_of(&c);
    bool ok = false;
    ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok);
    CHECK(ok);
    ag_json_ref extra = ag_json_get(&doc, ag_json_get(&doc, s, "user"), "extra");
    CHECK_EQ(ag_json_count(&doc, ag_json_get(&doc, extra, "oid")), 1);
    /* groups left out of the token and no Graph configured: fail closed */
    review(&c, AG_TOKENREVIEW_PATH_V1,
           body_for(&c.cfg_arena, "v1", token(&c, "azure_overage"), NULL));
    s = status_of(&c);
    ag_json_bool(&doc, ag_json_get(&doc, s, "authenticated"), &ok);
    CHECK(!ok);
    teardown(&c);
}
