/* Tests for proxy/authn/keys.c against a loopback IdP (testhttp.h): discovery, publication,
 * Cache-Control clamping, unknown-kid refreshes (coalesced, rate limited, bounded
 * wait), last-good keys surviving failed and unparsable fetches, readiness, and local
 * issuers. Keys come from tests/fixtures/jwt/jwks-a.json (minted by node jose). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "authn/keys.h"
#include "base/buf.h"
#include "base/cfg.h"
#include "base/json.h"
#include "files.h"
#include "testhttp.h"
#include "testlib.h"

/* ---- the IdP: state under th_lock ------------------------------------------------------ */

static struct {
    char jwks[8192];
    int jwks_status; /* 0: hang */
    char cache_control[64];
    bool wrong_issuer;
    int n_disc, n_jwks;
} idp;
static int port;

static void handle(const th_request_t *rq, th_reply_t *out)
{
    static char doc[512];
    size_t n = strlen(rq->path);
    const char *wk = "/.well-known/openid-configuration";
    if (n >= strlen(wk) && strcmp(rq->path + n - strlen(wk), wk) == 0) {
        idp.n_disc++;
        int pre = (int)(n - strlen(wk));
        snprintf(doc, sizeof doc,
                 "{\"issuer\":\"http://127.0.0.1:%d%.*s%s\",\"jwks_uri\":"
                 "\"http://127.0.0.1:%d%.*s/jwks\",\"response_types_supported\":[\"code\"]}",
                 port, pre, rq->path, idp.wrong_issuer ? "/evil" : "", port, pre, rq->path);
        th_reply(out, 200, NULL, doc);
    } else if (n >= 5 && strcmp(rq->path + n - 5, "/jwks") == 0) {
        idp.n_jwks++;
        static char hdr[128];
        snprintf(hdr, sizeof hdr, "%s%s%s", idp.cache_control[0] ? "Cache-Control: " : "",
                 idp.cache_control, idp.cache_control[0] ? "\r\n" : "");
        th_reply(out, idp.jwks_status, hdr, idp.jwks);
    } else {
        th_reply(out, 404, NULL, "not found");
    }
}

/* {"keys":[<the fixture keys named in kids, comma separated>]} */
static void serve_keys(const char *kids, int status, const char *cache_control)
{
    static ag_buf_t file = AG_BUF_INIT(1 << 20);
    ag_arena_t a;
    ag_json_t doc;
    ag_buf_t out = AG_BUF_INIT(sizeof idp.jwks - 1);
    if (!file.n)
        CHECK_EQ(ag_buf_read_file(&file, "tests/fixtures/jwt/jwks-a.json"), 0);
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_json_parse(&doc, ag_buf_str(&file), NULL, &a, NULL), 0);
    ag_buf_append_cstr(&out, "{\"keys\":[");
    int k = 0;
    ag_json_ref arr = ag_json_get(&doc, ag_json_root(&doc), "keys");
    for (ag_json_ref e = ag_json_first(&doc, arr); e != AG_JSON_NONE; e = ag_json_next(&doc, e)) {
        ag_str_t kid;
        char want[32];
        ag_json_str(&doc, ag_json_get(&doc, e, "kid"), &a, &kid);
        snprintf(want, sizeof want, ",%.*s,", AG_STR_FMT(kid));
        char list[128];
        snprintf(list, sizeof list, ",%s,", kids ? kids : "");
        if (strstr(list, want)) {
            if (k++)
                ag_buf_append_cstr(&out, ",");
            ag_buf_append_str(&out, ag_json_raw(&doc, e));
        }
    }
    ag_buf_append_cstr(&out, "]}");
    th_lock();
    snprintf(idp.jwks, sizeof idp.jwks, "%s", kids ? out.p : "this is not json");
    idp.jwks_status = status;
    snprintf(idp.cache_control, sizeof idp.cache_control, "%s", cache_control ? cache_control : "");
    th_unlock();
    ag_buf_dispose(&out);
    ag_arena_dispose(&a);
}

static int counter(int *c)
{
    th_lock();
    int v = *c;
    th_unlock();
    return v;
}

/* ---- a manager on a fresh control loop -------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick;
    ag_fetch_t *fetch;
    ag_arena_t arena;
    ag_cfg_t cfg;
    ag_buf_t text;
    ag_issuer_set_t *issuers;
    ag_keys_t *keys;
    ag_mailbox_t *reply;
} ctx_t;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void setup(ctx_t *c, const char *issuers_json, const ag_keys_opts_t *o)
{
    memset(c, 0, sizeof *c);
    port = th_start(handle);
    th_lock();
    idp.n_disc = idp.n_jwks = 0;
    idp.wrong_issuer = false;
    th_unlock();
    uv_loop_init(&c->loop);
    uv_timer_init(&c->loop, &c->tick);
    uv_timer_start(&c->tick, on_tick, 5, 5);
    ag_arena_init(&c->arena, 0, 0);
    c->text = AG_BUF_INIT(1 << 16);
    /* "P" in the JSON stands for the IdP's port */
    for (const char *p = issuers_json; *p; p++)
        if (*p == 'P')
            ag_buf_printf(&c->text, "%d", port);
        else
            ag_buf_append(&c->text, p, 1);
    CHECK_EQ(ag_cfg_init(&c->cfg, "test", ag_buf_str(&c->text), &c->arena), 0);
    CHECK_EQ(ag_issuers_parse(&c->cfg, ag_json_root(c->cfg.doc), "issuers", NULL, &c->issuers), 0);
    if (ag_cfg_error(&c->cfg))
        fprintf(stderr, "%s\n", ag_cfg_error(&c->cfg));
    CHECK_EQ(ag_fetch_create(&c->loop, NULL, &c->fetch), 0);
    CHECK_EQ(ag_keys_create(&c->loop, c->fetch, c->issuers, o, &c->keys), 0);
    CHECK_EQ(ag_mailbox_create(&c->loop, &c->reply), 0);
}

static void teardown(ctx_t *c)
{
    ag_keys_destroy(c->keys);
    ag_fetch_destroy(c->fetch);
    ag_mailbox_destroy(c->reply);
    uv_close((uv_handle_t *)&c->tick, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&c->loop), 0);
    ag_issuer_set_free(c->issuers);
    ag_cfg_dispose(&c->cfg);
    ag_buf_dispose(&c->text);
    ag_arena_dispose(&c->arena);
}

/* Runs the loop until *flag reaches want, at most <ms>. */
static void run_until(ctx_t *c, const int *flag, int want, int ms)
{
    uint64_t t0 = uv_hrtime();
    while (*flag < want && uv_hrtime() - t0 < (uint64_t)ms * 1000000)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static void run_until_ready(ctx_t *c)
{
    uint64_t t0 = uv_hrtime();
    while (!ag_keys_ready(c->keys) && uv_hrtime() - t0 < 3000000000ULL)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static void run_for(ctx_t *c, int ms)
{
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < (uint64_t)ms * 1000000)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static bool has_kid(ctx_t *c, int issuer, const char *kid)
{
    ag_jwks_t *ks = ag_keys_acquire(c->keys, ag_issuer_at(c->issuers, issuer));
    bool found = ks && ag_jwks_find(ks, ag_str_cstr(kid), AG_STR_NULL) != NULL;
    ag_jwks_unref(ks);
    return found;
}

typedef struct {
    int calls;
    ag_keys_outcome outcome;
    uint64_t at;
} answer_t;

static void on_answer(void *arg, ag_keys_outcome o)
{
    answer_t *a = arg;
    a->calls++;
    a->outcome = o;
    a->at = uv_hrtime();
}

#define DISCOVERY_ISSUER                                                                           \
    "[{\"issuer\":\"http://127.0.0.1:P/t\",\"audiences\":[\"a\"],\"keys\":{\"discovery\":true}}]"

/* ---- cases -------------------------------------------------------------------------------- */

TEST(keys_discovery_then_jwks_publishes_a_snapshot)
{
    ctx_t c;
    serve_keys("rsa1", 200, "public, max-age=5");
    ag_keys_opts_t o = {.refresh_min_ms = 1000, .refresh_max_ms = 10000};
    setup(&c, DISCOVERY_ISSUER, &o);
    CHECK(!ag_keys_ready(c.keys));
    CHECK(ag_keys_acquire(c.keys, ag_issuer_at(c.issuers, 0)) == NULL);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    CHECK(ag_keys_ready(c.keys));
    CHECK(has_kid(&c, 0, "rsa1"));
    CHECK(!has_kid(&c, 0, "ec256"));
    CHECK_EQ(counter(&idp.n_disc), 1);
    CHECK_EQ(counter(&idp.n_jwks), 1);
    ag_keys_status_t st;
    ag_keys_status(c.keys, 0, &st);
    CHECK(st.remote && st.has_keys && !st.stale);
    CHECK_EQ(st.nkeys, 1);
    CHECK(st.next_refresh_ms > 4000 && st.next_refresh_ms <= 5000); /* max-age honoured */
    teardown(&c);
}

TEST(keys_max_age_is_clamped_to_bounds)
{
    ctx_t c;
    ag_keys_status_t st;
    ag_keys_opts_t o = {.refresh_min_ms = 2000, .refresh_max_ms = 30000};
    serve_keys("rsa1", 200, "max-age=604800"); /* a week must not delay a rotation */
    setup(&c, DISCOVERY_ISSUER, &o);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    ag_keys_status(c.keys, 0, &st);
    CHECK(st.next_refresh_ms > 29000 && st.next_refresh_ms <= 30000);
    teardown(&c);

    serve_keys("rsa1", 200, "no-store");
    setup(&c, DISCOVERY_ISSUER, &o);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    ag_keys_status(c.keys, 0, &st);
    CHECK(st.next_refresh_ms > 1000 && st.next_refresh_ms <= 2000);
    teardown(&c);
}

/* A discovery issuer whose IdP serves the keys <kids>, started and ready. */
static void setup_ready(ctx_t *c, const char *kids, const ag_keys_opts_t *o)
{
    serve_keys(kids, 200, NULL);
    setup(c, DISCOVERY_ISSUER, o);
    ag_keys_start(c->keys);
    run_until_ready(c);
}

TEST(keys_scheduled_refresh_picks_up_rotation)
{
    ctx_t c;
    ag_keys_opts_t o = {.refresh_min_ms = 100, .refresh_max_ms = 200};
    setup_ready(&c, "rsa1", &o);
    serve_keys("ec256", 200, NULL); /* rsa1 removed, ec256 added */
    /* Two scheduled refreshes after the first fetch: 300-400 ms when the machine is idle; the
     * bound is generous because a loaded machine delays the loop, not the schedule's logic. */
    uint64_t t0 = uv_hrtime();
    while (counter(&idp.n_jwks) < 3 && uv_hrtime() - t0 < 10000000000ULL)
        run_for(&c, 50);
    CHECK(has_kid(&c, 0, "ec256"));
    CHECK(!has_kid(&c, 0, "rsa1"));
    CHECK_EQ(counter(&idp.n_disc), 1); /* discovery is not repeated while JWKS works */
    CHECK(counter(&idp.n_jwks) >= 3);
    teardown(&c);
}

TEST(keys_unknown_kid_refresh_is_coalesced_and_rate_limited)
{
    ctx_t c;
    ag_keys_waiter_t w[6];
    answer_t a[6];
    memset(a, 0, sizeof a);
    serve_keys("rsa1", 200, NULL);
    ag_keys_opts_t o = {.kid_interval_ms = 60000};
    setup(&c, DISCOVERY_ISSUER, &o);
    const ag_issuer_t *iss = ag_issuer_at(c.issuers, 0);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    serve_keys("rsa1,ec256", 200, NULL); /* the IdP publishes a new key */
    for (int i = 0; i < 5; i++)
        CHECK_EQ(
            ag_keys_refresh_for_kid(c.keys, iss, AG_STR("ec256"), c.reply, on_answer, &a[i], &w[i]),
            0);
    int total = 0;
    for (int n = 0; n < 400 && total < 5; n++) {
        uv_run(&c.loop, UV_RUN_ONCE);
        total = a[0].calls + a[1].calls + a[2].calls + a[3].calls + a[4].calls;
    }
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(a[i].calls, 1);
        CHECK_EQ(a[i].outcome, AG_KEYS_REFRESHED);
    }
    CHECK(has_kid(&c, 0, "ec256"));
    CHECK_EQ(counter(&idp.n_jwks), 2); /* five waiters, one fetch */
    /* a random kid right after: no fetch, answered at once */
    CHECK_EQ(
        ag_keys_refresh_for_kid(c.keys, iss, AG_STR("random"), c.reply, on_answer, &a[5], &w[5]),
        0);
    run_until(&c, &a[5].calls, 1, 1000);
    CHECK_EQ(a[5].outcome, AG_KEYS_UNCHANGED);
    CHECK_EQ(counter(&idp.n_jwks), 2);
    /* a kid that is already published answers REFRESHED without a fetch */
    a[5].calls = 0;
    ag_keys_refresh_for_kid(c.keys, iss, AG_STR("ec256"), c.reply, on_answer, &a[5], &w[5]);
    run_until(&c, &a[5].calls, 1, 1000);
    CHECK_EQ(a[5].outcome, AG_KEYS_REFRESHED);
    CHECK_EQ(counter(&idp.n_jwks), 2);
    ag_keys_status_t st;
    ag_keys_status(c.keys, 0, &st);
    CHECK_EQ(st.kid_refreshes, 1);
    teardown(&c);
}

TEST(keys_bad_fetches_never_replace_good_keys)
{
    ctx_t c;
    ag_keys_waiter_t w;
    answer_t a = {0};
    ag_keys_status_t st;
    ag_keys_opts_t o = {.kid_interval_ms = 1, .retry_min_ms = 60000};
    serve_keys("rsa1", 200, NULL);
    setup(&c, DISCOVERY_ISSUER, &o);
    const ag_issuer_t *iss = ag_issuer_at(c.issuers, 0);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    const char *modes[] = {"garbage", "500", "empty"};
    for (int m = 0; m < 3; m++) {
        if (m == 0)
            serve_keys(NULL, 200, NULL); /* not JSON */
        else if (m == 1)
            serve_keys("rsa1", 500, NULL); /* server error */
        else
            serve_keys("", 200, NULL); /* {"keys":[]}: no usable key */
        run_for(&c, 5);
        a.calls = 0;
        CHECK_EQ(ag_keys_refresh_for_kid(c.keys, iss, AG_STR("new"), c.reply, on_answer, &a, &w),
                 0);
        run_until(&c, &a.calls, 1, 2000);
        CHECK_EQ(a.outcome, AG_KEYS_FAILED);
        CHECK(has_kid(&c, 0, "rsa1")); /* last good keys keep serving */
        ag_keys_status(c.keys, 0, &st);
        CHECK(st.stale);
        if (a.outcome != AG_KEYS_FAILED || !st.stale)
            fprintf(stderr, "mode %s\n", modes[m]);
    }
    CHECK(ag_keys_ready(c.keys)); /* readiness stays once initialised (#31) */
    serve_keys("rsa1,ec384", 200, NULL);
    run_for(&c, 5);
    a.calls = 0;
    ag_keys_refresh_for_kid(c.keys, iss, AG_STR("ec384"), c.reply, on_answer, &a, &w);
    run_until(&c, &a.calls, 1, 2000);
    CHECK_EQ(a.outcome, AG_KEYS_REFRESHED);
    ag_keys_status(c.keys, 0, &st);
    CHECK(!st.stale);
    CHECK(has_kid(&c, 0, "ec384"));
    CHECK(counter(&idp.n_disc) >= 2); /* after a failure the jwks_uri is rediscovered */
    teardown(&c);
}

TEST(keys_waiting_request_is_answered_within_kid_wait)
{
    ctx_t c;
    ag_keys_waiter_t w;
    answer_t a = {0};
    ag_keys_opts_t o = {.kid_wait_ms = 200, .fetch_timeout_ms = 3000};
    serve_keys("rsa1", 200, NULL);
    setup(&c, DISCOVERY_ISSUER, &o);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    serve_keys("rsa1", 0, NULL); /* the IdP hangs */
    uint64_t t0 = uv_hrtime();
    ag_keys_refresh_for_kid(c.keys, ag_issuer_at(c.issuers, 0), AG_STR("k"), c.reply, on_answer, &a,
                            &w);
    run_until(&c, &a.calls, 1, 3000);
    CHECK_EQ(a.calls, 1);
    CHECK_EQ(a.outcome, AG_KEYS_TIMEOUT);
    uint64_t ms = (a.at - t0) / 1000000;
    CHECK(ms >= 190 && ms < 1000);
    CHECK(has_kid(&c, 0, "rsa1"));
    teardown(&c);
}

TEST(keys_discovery_naming_another_issuer_is_refused)
{
    ctx_t c;
    serve_keys("rsa1", 200, NULL);
    setup(&c, DISCOVERY_ISSUER, NULL);
    th_lock();
    idp.wrong_issuer = true;
    th_unlock();
    ag_keys_start(c.keys);
    run_for(&c, 300);
    CHECK(!ag_keys_ready(c.keys));
    CHECK(ag_keys_acquire(c.keys, ag_issuer_at(c.issuers, 0)) == NULL);
    CHECK_EQ(counter(&idp.n_jwks), 0); /* its jwks_uri was never followed */
    ag_keys_status_t st;
    ag_keys_status(c.keys, 0, &st);
    CHECK(st.failures >= 1 && !st.has_keys);
    teardown(&c);
}

TEST(keys_local_and_configured_uri_issuers)
{
    ctx_t c;
    serve_keys("ec521", 200, NULL);
    setup(&c,
          "[{\"issuer\":\"https://local.example\",\"audiences\":[\"a\"],"
          "\"keys\":{\"jwks_file\":\"tests/fixtures/jwt/jwks-b.json\"}},"
          "{\"issuer\":\"https://remote.example\",\"audiences\":[\"a\"],"
          "\"keys\":{\"jwks_uri\":\"http://127.0.0.1:P/x/jwks\"}}]",
          NULL);
    CHECK(!ag_keys_ready(c.keys)); /* the remote one has nothing yet */
    CHECK(has_kid(&c, 0, "rsa1")); /* the local one serves at once */
    ag_keys_waiter_t w;
    CHECK_EQ(ag_keys_refresh_for_kid(c.keys, ag_issuer_at(c.issuers, 0), AG_STR("x"), c.reply,
                                     on_answer, NULL, &w),
             AG_E_INVAL);
    ag_keys_start(c.keys);
    run_until_ready(&c);
    CHECK(has_kid(&c, 1, "ec521"));
    CHECK_EQ(counter(&idp.n_disc), 0);
    /* the ag_keys_fn adapter holds the snapshot until released */
    ag_keys_borrow_t b = {c.keys, NULL};
    const ag_jwks_t *ks = ag_keys_borrow_fn(&b, ag_issuer_at(c.issuers, 1));
    CHECK(ks != NULL && ag_jwks_find(ks, AG_STR("ec521"), AG_STR_NULL) != NULL);
    ag_keys_borrow_release(&b);
    CHECK(b.entered == NULL);
    teardown(&c);
}

/* ---- readers on other threads while the control loop publishes (also under TSan) ------- */

typedef struct {
    ag_keys_t *keys;
    const ag_issuer_t *iss;
    atomic_bool *stop;
    long rsa, ec, torn; /* sets seen holding rsa1 only, ec256 only, anything else */
} reader_t;

static void *read_keys(void *arg)
{
    reader_t *r = arg;
    while (!atomic_load(r->stop)) {
        ag_keys_borrow_t b = {r->keys, NULL}; /* the request path's way in */
        const ag_jwks_t *ks = ag_keys_borrow_fn(&b, r->iss);
        if (!ks) {
            ag_keys_borrow_release(&b);
            continue;
        }
        bool rsa = ag_jwks_find(ks, ag_str_cstr("rsa1"), AG_STR_NULL) != NULL;
        bool ec = ag_jwks_find(ks, ag_str_cstr("ec256"), AG_STR_NULL) != NULL;
        if (ag_jwks_count(ks) == 1 && rsa != ec)
            rsa ? r->rsa++ : r->ec++;
        else
            r->torn++;
        ag_keys_borrow_release(&b); /* the control loop may free it from now on */
    }
    return NULL;
}

TEST(keys_readers_on_threads_see_whole_sets_while_rotation_publishes)
{
    ctx_t c;
    ag_keys_opts_t o = {.refresh_min_ms = 10, .refresh_max_ms = 20};
    setup_ready(&c, "rsa1", &o);
    atomic_bool stop = false;
    enum { READERS = 3 };
    reader_t r[READERS];
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) {
        r[i] = (reader_t){.keys = c.keys, .iss = ag_issuer_at(c.issuers, 0), .stop = &stop};
        CHECK_EQ(pthread_create(&th[i], NULL, read_keys, &r[i]), 0);
    }
    int published = counter(&idp.n_jwks);
    for (int round = 0; round < 20; round++) { /* a new set every 10-20 ms, rotated */
        serve_keys(round % 2 ? "rsa1" : "ec256", 200, NULL);
        run_for(&c, 40);
    }
    atomic_store(&stop, true);
    long rsa = 0, ec = 0, torn = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        rsa += r[i].rsa, ec += r[i].ec, torn += r[i].torn;
    }
    CHECK(counter(&idp.n_jwks) - published >= 10); /* the sets were replaced many times */
    CHECK(rsa > 0 && ec > 0);
    CHECK_EQ(torn, 0);
    teardown(&c);
}
