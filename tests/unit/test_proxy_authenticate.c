/* Tests for the gate's authentication step (proxy/authn/authenticate.c) on its synchronous
 * paths: client certificate first, bearer tokens (jose-minted fixtures, issuers with
 * local keys) through the token cache, anonymous on and off, malformed Authorization
 * headers, and chaining to the next gate step. Parked paths: the Graph overage step in
 * test_proxy_graph.c (graph_gate_step_*), unknown kids in the t_oidc_* integration tests. */
#include <string.h>
#include <uv.h>

#include "authn_fixture.h"
#include "http/pipeline.h"

typedef authn_fixture_t ctx_t;

static void setup(ctx_t *c, bool anonymous, long long negative_ttl_ms)
{
    authn_fixture_load(c);
    c->conf.anonymous = anonymous;
    c->conf.cache_negative_ttl_ms = negative_ttl_ms;
    authn_fixture_start(c);
}

static void teardown(ctx_t *c)
{
    authn_fixture_teardown(c);
}

static ag_str_t token(ctx_t *c, const char *name)
{
    return authn_fixture_token(c, name);
}

/* One request through the step with the given Authorization values and peer. */
static ag_gate_t gate;
static ag_http_req_t req;
static ag_header_t hdrs[4];
static ag_tls_peer_t peer;

static void prepare(ctx_t *c, const char *const *auth, int nauth, bool cert)
{
    char *value;
    ag_arena_reset(&c->req_arena);
    memset(&req, 0, sizeof req);
    memset(&peer, 0, sizeof peer);
    for (int i = 0; i < nauth; i++) {
        value = ag_arena_cstr(&c->req_arena, ag_str_cstr(auth[i]));
        hdrs[i] = (ag_header_t){AG_STR("Authorization"), ag_str_cstr(value), 0};
    }
    req = (ag_http_req_t){.method = AG_STR("GET"),
                          .path = AG_STR("/api/v1/pods"),
                          .headers = hdrs,
                          .nheaders = nauth};
    if (cert) {
        peer.verified = true;
        snprintf(peer.cn, sizeof peer.cn, "kube-apiserver");
        snprintf(peer.orgs[0], sizeof peer.orgs[0], "system:masters-not-really");
        peer.norgs = 1;
    }
    gate = (ag_gate_t){
        .req = &req, .peer = &peer, .loop = &c->loop, .worker = 1, .arena = &c->req_arena};
}

static ag_gate_result run(ctx_t *c, const char *const *auth, int nauth, bool cert)
{
    prepare(c, auth, nauth, cert);
    return ag_authenticator_gate(&gate, c->a);
}

static const char *bearer(ctx_t *c, const char *name)
{
    ag_str_t t = token(c, name);
    ag_buf_t b = AG_BUF_INIT(1 << 16);
    ag_buf_printf(&b, "Bearer %.*s", AG_STR_FMT(t));
    const char *s = ag_arena_cstr(&c->cfg_arena, ag_buf_str(&b));
    ag_buf_dispose(&b);
    return s;
}

static bool has_group(const ag_identity_t *id, const char *g)
{
    for (int i = 0; id && i < id->ngroups; i++)
        if (ag_str_eq_lit(id->groups[i], g))
            return true;
    return false;
}

TEST(authenticate_bearer_token_verified_then_cached)
{
    ctx_t c;
    setup(&c, false, 0);
    const char *h[] = {bearer(&c, "rs256")};
    CHECK_EQ(run(&c, h, 1, false), AG_GATE_ALLOW);
    CHECK(gate.identity != NULL);
    CHECK_SLICE(gate.identity->username, "https://idp.example.com#alice");
    CHECK(has_group(gate.identity, "dev") && has_group(gate.identity, "system:authenticated"));
    ag_tokencache_stats_t st;
    ag_tokencache_stats(ag_authenticator_cache(c.a), &st);
    CHECK_EQ(st.misses, 1);
    CHECK_EQ(run(&c, h, 1, false), AG_GATE_ALLOW); /* the same token again: a hit */
    CHECK_SLICE(gate.identity->username, "https://idp.example.com#alice");
    ag_tokencache_stats(ag_authenticator_cache(c.a), &st);
    CHECK_EQ(st.hits, 1);
    CHECK_EQ(st.misses, 1);
    teardown(&c);
}

TEST(authenticate_bad_tokens_are_401_and_failures_cached_when_enabled)
{
    ctx_t c;
    setup(&c, false, 5000);
    const char *names[] = {"b_expired_past_leeway", "alg_none", "b_signed_by_a", "dup_iss"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *h[] = {bearer(&c, names[i])};
        CHECK_EQ(run(&c, h, 1, false), AG_GATE_DENY);
        CHECK_EQ(gate.status, 401);
        CHECK_SLICE(gate.message, "Unauthorized");
        CHECK(gate.identity == NULL);
    }
    const char *h[] = {bearer(&c, "b_expired_past_leeway")};
    CHECK_EQ(run(&c, h, 1, false), AG_GATE_DENY); /* answered from the negative table */
    ag_tokencache_stats_t st;
    ag_tokencache_stats(ag_authenticator_cache(c.a), &st);
    CHECK_EQ(st.negative_hits, 1);
    teardown(&c);
}

TEST(authenticate_authorization_header_rules)
{
    ctx_t c;
    setup(&c, false, 0);
    const char *tok = bearer(&c, "rs256");
    const char *two[] = {tok, tok};
    CHECK_EQ(run(&c, two, 2, false), AG_GATE_DENY); /* exactly one field */
    const char *basic[] = {"Basic YWxpY2U6c2VjcmV0"};
    CHECK_EQ(run(&c, basic, 1, false), AG_GATE_DENY);
    const char *lower[] = {tok + 0};
    char buf[8192];
    snprintf(buf, sizeof buf, "bearer %s", tok + 7); /* scheme compared case-insensitively */
    lower[0] = buf;
    CHECK_EQ(run(&c, lower, 1, false), AG_GATE_ALLOW);
    CHECK_EQ(run(&c, NULL, 0, false), AG_GATE_DENY); /* no credentials, anonymous off */
    CHECK_EQ(gate.status, 401);
    teardown(&c);
}

TEST(authenticate_client_certificate_first_and_anonymous_when_enabled)
{
    ctx_t c;
    setup(&c, true, 0);
    const char *h[] = {bearer(&c, "rs256")};
    CHECK_EQ(run(&c, h, 1, true), AG_GATE_ALLOW); /* x509 wins over the bearer token */
    CHECK_SLICE(gate.identity->username, "kube-apiserver");
    CHECK(has_group(gate.identity, "system:masters-not-really"));
    CHECK(gate.identity->flags & AG_ID_CLIENT_CERT);
    CHECK_EQ(run(&c, NULL, 0, false), AG_GATE_ALLOW);
    CHECK_SLICE(gate.identity->username, "system:anonymous");
    CHECK(has_group(gate.identity, "system:unauthenticated"));
    const char *bad[] = {"Bearer not.a.jwt"};
    CHECK_EQ(run(&c, bad, 1, false), AG_GATE_DENY); /* a bad token is not anonymous */
    teardown(&c);
}

static int next_calls;
static ag_gate_result next_step(ag_gate_t *g, void *ud)
{
    (void)ud;
    next_calls++;
    if (!g->identity)
        return AG_GATE_DENY;
    g->status = 403;
    g->message = AG_STR("forbidden by the next step");
    return ag_str_eq_lit(g->identity->username, "kube-apiserver") ? AG_GATE_ALLOW : AG_GATE_DENY;
}

/* As `serve` builds it: authentication, then the next step in the same pipeline. */
static ag_gate_result run_pipeline(ctx_t *c, const char *const *auth, int nauth, bool cert)
{
    static ag_pipeline_t p;
    p = (ag_pipeline_t){0};
    CHECK_EQ(ag_pipeline_add(&p, "authenticate", ag_authenticator_gate, c->a), 0);
    CHECK_EQ(ag_pipeline_add(&p, "next", next_step, NULL), 0);
    prepare(c, auth, nauth, cert);
    gate.pipeline = &p;
    return ag_pipeline_run(&gate);
}

TEST(authenticate_chains_to_the_next_step_only_when_authenticated)
{
    ctx_t c;
    setup(&c, false, 0);
    next_calls = 0;
    CHECK_EQ(run_pipeline(&c, NULL, 0, true), AG_GATE_ALLOW);
    CHECK_EQ(next_calls, 1);
    const char *h[] = {bearer(&c, "rs256")};
    CHECK_EQ(run_pipeline(&c, h, 1, false), AG_GATE_DENY);
    CHECK_EQ(gate.status, 403);
    CHECK_EQ(next_calls, 2);
    CHECK_EQ(run_pipeline(&c, NULL, 0, false), AG_GATE_DENY); /* 401 before the next step */
    CHECK_EQ(gate.status, 401);
    CHECK_EQ(next_calls, 2);
    teardown(&c);
}
