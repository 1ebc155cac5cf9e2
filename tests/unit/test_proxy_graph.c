/* Tests for proxy/authn/graph.c, the Graph group resolver, against the Graph-compatible fixture
 * (tests/fixtures/graph/server.mjs, started here with posix_spawn on a free loopback
 * port). The resolver runs as in the gateway: on a control thread with the fetch engine,
 * asked from worker threads that get their answers through their own mailboxes. The
 * fixture's counters (GET /_stats) prove what was and was not sent to Graph. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "authn/authn.h"
#include "authn/graph.h"
#include "authn_fixture.h"
#include "base/json.h"
#include "config.h"
#include "files.h"
#include "graph/graph.h"
#include "http/pipeline.h"
#include "net/fetch.h"
#include "review/tokenreview.h"
#include "runtime/mailbox.h"
#include "runtime/metrics.h"
#include "testlib.h"

extern char **environ;

#define OID_A "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define OID_B "4f2504e0-4f89-41d3-9a0c-0305e82c3302"
#define OID_C "5f2504e0-4f89-41d3-9a0c-0305e82c3303"

/* ---- the fixture process ---------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int port, sink;
    char base[64];
} fixture_t;

static int json_port(const ag_json_t *doc, const char *key)
{
    long long v = 0;
    return ag_json_int(doc, ag_json_get(doc, 0, key), &v) == 0 ? (int)v : 0;
}

static bool fixture_start(fixture_t *fx, const char *const *extra)
{
    const char *src = getenv("AG_SOURCE_DIR");
    char script[512], line[256];
    const char *argv[16] = {"node", script};
    int fds[2], n = 2;
    snprintf(script, sizeof(script), "%s/tests/fixtures/graph/server.mjs", src ? src : ".");
    for (; extra && *extra && n < 14; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawnp(&fx->pid, "node", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    size_t got = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    while (rc == 0 && got < sizeof(line) - 1 && poll(&p, 1, 10000) == 1) {
        ssize_t r = read(fds[0], line + got, 1);
        if (r <= 0 || line[got] == '\n')
            break;
        got++;
    }
    close(fds[0]);
    ag_arena_t a;
    ag_json_t doc;
    ag_arena_init(&a, 0, 0);
    if (rc == 0 && ag_json_parse(&doc, ag_str_make(line, got), NULL, &a, NULL) == 0) {
        fx->port = json_port(&doc, "port");
        fx->sink = json_port(&doc, "sink");
    }
    ag_arena_dispose(&a);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);
    return fx->port > 0;
}

static void fixture_stop(fixture_t *fx)
{
    if (fx->pid > 0) {
        kill(fx->pid, SIGTERM);
        waitpid(fx->pid, NULL, 0);
    }
}

/* ---- the control thread: fetch engine + resolver ---------------------------------- */

typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    uv_sem_t ready;
    pthread_t thread;
    ag_fetch_t *fetch;
    ag_graph_t *graph;
    ag_graph_cfg_t cfg;
    ag_err create_err;
    char secret_path[64], token_url[128], scope[128];
} env_t;

static void on_stop(uv_async_t *h)
{
    env_t *env = h->data;
    ag_graph_destroy(env->graph);
    ag_fetch_destroy(env->fetch);
    uv_close((uv_handle_t *)h, NULL);
}

static void *control_main(void *arg)
{
    env_t *env = arg;
    uv_loop_init(&env->loop);
    /* as the gateway starts it (cmd_serve.c): created on the control loop with the fetch
     * engine, then handed to the authenticator (ag_authenticator_attach) */
    env->create_err = ag_fetch_create(&env->loop, NULL, &env->fetch);
    if (!env->create_err)
        env->create_err = ag_graph_create(&env->loop, env->fetch, &env->cfg, &env->graph);
    uv_async_init(&env->loop, &env->stop, on_stop);
    env->stop.data = env;
    uv_sem_post(&env->ready);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    uv_loop_close(&env->loop);
    return NULL;
}

/* Defaults for a test: the fixture's Graph and token endpoint, a client secret. */
static void env_cfg(env_t *env, const fixture_t *fx)
{
    memset(env, 0, sizeof(*env));
    ag_graph_cfg_defaults(&env->cfg);
    snprintf(env->secret_path, sizeof(env->secret_path), "/tmp/ag_pgraph_%d", (int)getpid());
    FILE *f = fopen(env->secret_path, "w");
    if (f) {
        fputs("s3cret\n", f);
        fclose(f);
    }
    snprintf(env->token_url, sizeof(env->token_url), "%s/tenant-1/oauth2/v2.0/token", fx->base);
    snprintf(env->scope, sizeof(env->scope), "%s/.default", fx->base);
    env->cfg.base_url = ag_str_cstr(fx->base);
    env->cfg.token_url = ag_str_cstr(env->token_url);
    env->cfg.scope = ag_str_cstr(env->scope);
    env->cfg.client_id = AG_STR("authgate-test");
    env->cfg.client_secret_file = env->secret_path;
    env->cfg.timeout_ms = 3000;
}

static bool env_start(env_t *env)
{
    uv_sem_init(&env->ready, 0);
    pthread_create(&env->thread, NULL, control_main, env);
    uv_sem_wait(&env->ready);
    uv_sem_destroy(&env->ready);
    return env->create_err == 0;
}

static void env_stop(env_t *env)
{
    uv_async_send(&env->stop);
    pthread_join(env->thread, NULL);
    unlink(env->secret_path);
}

/* ---- a worker: a loop with a mailbox, run until enough answers came ------------------ */

typedef struct {
    ag_err err;
    int n;
    bool cached, stale, done;
    char reason[128];
    char ids[16][AG_GRAPH_GUID_LEN + 1];
} answer_t;

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick;
    ag_mailbox_t *mb;
    int answered;
} worker_t;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void worker_init(worker_t *w)
{
    memset(w, 0, sizeof(*w));
    uv_loop_init(&w->loop);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_start(&w->tick, on_tick, 5, 5); /* keeps the loop turning */
    ag_mailbox_create(&w->loop, &w->mb);
}

/* Runs <w>'s loop until <n> answers arrived or <ms> passed; returns the time taken. */
static double worker_wait(worker_t *w, int n, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double el = 0;
    while (w->answered < n && el < ms) {
        uv_run(&w->loop, UV_RUN_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        el = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    return el;
}

static void worker_dispose(worker_t *w)
{
    ag_mailbox_destroy(w->mb);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
}

typedef struct {
    worker_t *w;
    answer_t *a;
} ask_t;

static void on_answer(void *arg, const ag_graph_result_t *res)
{
    ask_t *k = arg;
    k->a->err = res->err;
    k->a->n = res->ngroups;
    k->a->cached = res->cached;
    k->a->stale = res->stale;
    k->a->done = true;
    snprintf(k->a->reason, sizeof(k->a->reason), "%s", res->reason);
    for (int i = 0; i < res->ngroups && i < 16; i++)
        snprintf(k->a->ids[i], sizeof(k->a->ids[i]), "%.*s", AG_STR_FMT(res->groups[i]));
    k->w->answered++;
    free(k);
}

static ag_err ask(env_t *env, worker_t *w, const char *oid, answer_t *a, ag_graph_wait_t **wait)
{
    ask_t *k = malloc(sizeof(*k));
    *k = (ask_t){w, a};
    memset(a, 0, sizeof(*a));
    ag_err err = ag_graph_resolve(env->graph, ag_str_cstr(oid), w->mb, on_answer, k, wait);
    if (err)
        free(k);
    return err;
}

/* One request, waited for. */
static answer_t ask1(env_t *env, worker_t *w, const char *oid)
{
    answer_t a;
    int before = w->answered;
    CHECK_EQ(ask(env, w, oid, &a, NULL), 0);
    worker_wait(w, before + 1, 10000);
    CHECK(a.done);
    return a;
}

/* ---- talking to the fixture's control and stats endpoints --------------------------- */

typedef struct {
    worker_t *w;
    ag_buf_t body;
    long status;
} http_t;

static void on_http(void *arg, const ag_fetch_res_t *res)
{
    http_t *h = arg;
    h->status = res->err ? -1 : res->status;
    ag_buf_append_str(&h->body, res->body);
    h->w->answered++;
}

static long fixture_http(env_t *env, worker_t *w, const fixture_t *fx, const char *path,
                         const char *body, ag_buf_t *out)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    http_t h = {w, AG_BUF_INIT(1 << 20), 0};
    ag_fetch_req_t req = {
        .url = url, .method = body ? "POST" : "GET", .body = ag_str_cstr(body ? body : "")};
    int before = w->answered;
    CHECK_EQ(ag_fetch_submit(env->fetch, &req, w->mb, on_http, &h), 0);
    worker_wait(w, before + 1, 10000);
    if (out)
        ag_buf_append_str(out, ag_buf_str(&h.body));
    ag_buf_dispose(&h.body);
    return h.status;
}

static void fixture_control(env_t *env, worker_t *w, const fixture_t *fx, const char *json)
{
    CHECK_EQ(fixture_http(env, w, fx, "/_control", json, NULL), 200);
}

/* A counter from GET /_stats: a top-level number, or lookups[<oid>] when oid != NULL. */
static long long fixture_stat(env_t *env, worker_t *w, const fixture_t *fx, const char *key,
                              const char *oid)
{
    ag_buf_t body = AG_BUF_INIT(1 << 20);
    ag_arena_t a;
    ag_json_t doc;
    long long v = -1;
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(fixture_http(env, w, fx, "/_stats", NULL, &body), 200);
    if (ag_json_parse(&doc, ag_buf_str(&body), NULL, &a, NULL) == 0) {
        ag_json_ref r = ag_json_get(&doc, 0, key);
        if (oid)
            r = ag_json_get(&doc, r, oid);
        if (r == AG_JSON_NONE)
            v = 0;
        else
            ag_json_int(&doc, r, &v);
    }
    ag_arena_dispose(&a);
    ag_buf_dispose(&body);
    return v;
}

/* Everything a case needs, started and stopped in one place. */
typedef struct {
    fixture_t fx;
    env_t env;
    worker_t w;
    bool ok;
} rig_t;

static bool rig_fixture(rig_t *r, const char *const *fixture_args)
{
    memset(r, 0, sizeof(*r));
    r->ok = fixture_start(&r->fx, fixture_args);
    CHECK(r->ok);
    env_cfg(&r->env, &r->fx);
    return r->ok;
}

static bool rig_start(rig_t *r)
{
    if (r->ok)
        r->ok = env_start(&r->env);
    CHECK(r->ok);
    worker_init(&r->w);
    return r->ok;
}

static void rig_stop(rig_t *r)
{
    if (r->ok)
        env_stop(&r->env);
    worker_dispose(&r->w);
    fixture_stop(&r->fx);
}

#define STAT(r, key) fixture_stat(&(r)->env, &(r)->w, &(r)->fx, key, NULL)
#define LOOKUPS(r, oid) fixture_stat(&(r)->env, &(r)->w, &(r)->fx, "lookups", oid)
#define CONTROL(r, json) fixture_control(&(r)->env, &(r)->w, &(r)->fx, json)

/* Current value of one exported series ("name{labels}"), -1 when absent. Tests compare
 * before and after, since one program may run several cases. */
static long long metric(const char *series)
{
    ag_buf_t m = AG_BUF_INIT(1 << 20);
    long long v = -1;
    CHECK_EQ(ag_metrics_render(&m), 0);
    size_t n = strlen(series);
    for (const char *p = m.p; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        unsigned long long u;
        if (len > n + 1 && memcmp(p, series, n) == 0 && p[n] == ' ' &&
            ag_str_to_u64(ag_str_make(p + n + 1, len - n - 1), &u))
            v = (long long)u;
        p = eol ? eol + 1 : NULL;
    }
    ag_buf_dispose(&m);
    return v;
}

/* ---- cases -------------------------------------------------------------------------- */

#define NTHREADS 4
#define PER_THREAD 25

typedef struct {
    env_t *env;
    answer_t ans[PER_THREAD];
    int answered;
} burst_t;

static void *burst_main(void *arg)
{
    burst_t *b = arg;
    worker_t w;
    worker_init(&w);
    for (int i = 0; i < PER_THREAD; i++)
        ask(b->env, &w, OID_A, &b->ans[i], NULL);
    worker_wait(&w, PER_THREAD, 10000);
    b->answered = w.answered;
    worker_dispose(&w);
    return NULL;
}

TEST(graph_concurrent_requests_for_one_oid_share_one_lookup)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CONTROL(&r, "{\"delayMs\":300}");
    burst_t b[NTHREADS];
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        b[t] = (burst_t){.env = &r.env};
        pthread_create(&th[t], NULL, burst_main, &b[t]);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTHREADS; t++) {
        CHECK_EQ(b[t].answered, PER_THREAD);
        for (int i = 0; i < PER_THREAD; i++) {
            CHECK_EQ(b[t].ans[i].err, 0);
            CHECK_EQ(b[t].ans[i].n, 3);
            CHECK_STREQ(b[t].ans[i].ids[2], "00000002-1111-4222-8333-0305e82c3301");
        }
    }
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
    CHECK_EQ(STAT(&r, "tokens"), 1);
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.lookups, 1);
    CHECK_EQ(st.requests, NTHREADS * PER_THREAD);
    CHECK_EQ(st.coalesced + st.hits, NTHREADS * PER_THREAD - 1);
out:
    rig_stop(&r);
}

TEST(graph_cache_answers_repeat_requests_until_ttl)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.cache_ttl_ms = 1000;
    if (!rig_start(&r))
        goto out;
    long long hits0 = metric("authgate_graph_requests_total{result=\"cache_hit\"}");
    long long lookups0 = metric("authgate_graph_requests_total{result=\"lookup\"}");
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK(!a.cached);
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK(a.cached);
    CHECK_EQ(a.n, 3);
    a = ask1(&r.env, &r.w, "3F2504E0-4F89-41D3-9A0C-0305E82C3301"); /* same principal */
    CHECK(a.cached);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
    usleep(1100 * 1000); /* past cache_ttl: the next request asks Graph again */
    CONTROL(&r, "{\"groups\":{\"" OID_A "\":4}}");
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK(!a.cached);
    CHECK_EQ(a.n, 4);
    CHECK_EQ(LOOKUPS(&r, OID_A), 2);
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.hits, 2);
    CHECK_EQ(metric("authgate_graph_requests_total{result=\"cache_hit\"}") - hits0, 2);
    CHECK_EQ(metric("authgate_graph_requests_total{result=\"lookup\"}") - lookups0, 2);
    CHECK_EQ(metric("authgate_graph_cache_entries"), 1);
out:
    rig_stop(&r);
}

TEST(graph_follows_next_link_pages_on_the_configured_origin)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CONTROL(&r, "{\"pageSize\":2,\"groups\":{\"" OID_A "\":7}}");
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK_EQ(a.n, 7);
    for (int i = 0; i < 7; i++) {
        char want[64];
        snprintf(want, sizeof(want), "%08x-1111-4222-8333-0305e82c3301", i);
        CHECK_STREQ(a.ids[i], want);
    }
    CHECK_EQ(STAT(&r, "pages"), 4);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
out:
    rig_stop(&r);
}

TEST(graph_never_follows_next_link_to_another_origin)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    char knob[256];
    snprintf(knob, sizeof(knob), "{\"pageSize\":2,\"nextLinkBase\":\"http://127.0.0.1:%d\"}",
             r.fx.sink);
    CONTROL(&r, knob);
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_STREQ(a.reason, "malformed Graph answer");
    CHECK_EQ(STAT(&r, "pages"), 1);
    CHECK_EQ(STAT(&r, "sinkConnections"), 0);
out:
    rig_stop(&r);
}

TEST(graph_timeout_fails_the_waiters_with_timeout)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.timeout_ms = 300;
    if (!rig_start(&r))
        goto out;
    CONTROL(&r, "{\"delayMs\":3000}");
    answer_t a[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(ask(&r.env, &r.w, OID_A, &a[i], NULL), 0);
    double ms = worker_wait(&r.w, r.w.answered + 3, 10000);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(a[i].err, AG_E_TIMEOUT);
        CHECK_STREQ(a[i].reason, "Graph did not answer in time");
    }
    CHECK(ms < 1500); /* the timeout, not the fixture's 3 s */
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.timeouts, 1);
    CHECK_EQ(st.lookups, 1);
out:
    rig_stop(&r);
}

TEST(graph_errors_and_garbage_fail_closed_and_are_not_cached)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CONTROL(&r, "{\"failStatus\":503}");
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_EQ(a.n, 0);
    CONTROL(&r, "{\"failStatus\":0,\"garbage\":true}");
    a = ask1(&r.env, &r.w, OID_B);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_STREQ(a.reason, "malformed Graph answer");
    CONTROL(&r, "{\"garbage\":false,\"missing\":[\"" OID_C "\"]}");
    a = ask1(&r.env, &r.w, OID_C);
    CHECK_EQ(a.err, AG_E_NOT_FOUND);
    /* within the hold-down the failure is repeated without another Graph call ... */
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
    /* ... and after it Graph is asked again: the failure was never cached as a result */
    usleep((AG_GRAPH_FAIL_HOLD_MS + 100) * 1000);
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK_EQ(a.n, 3);
    CHECK_EQ(LOOKUPS(&r, OID_A), 2);
out:
    rig_stop(&r);
}

TEST(graph_group_cap_fails_closed)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.max_groups = 5;
    if (!rig_start(&r))
        goto out;
    CONTROL(&r, "{\"groups\":{\"" OID_A "\":5,\"" OID_B "\":6,\"" OID_C "\":6}}");
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK_EQ(a.n, 5);
    a = ask1(&r.env, &r.w, OID_B);
    CHECK_EQ(a.err, AG_E_TOO_BIG);
    CHECK_EQ(a.n, 0);
    CONTROL(&r, "{\"pageSize\":2}"); /* over the cap only on the third page */
    a = ask1(&r.env, &r.w, OID_C);
    CHECK_EQ(a.err, AG_E_TOO_BIG);
    CHECK_EQ(a.n, 0);
    /* Graph's own limit (11,000) is the same verdict */
    CONTROL(&r, "{\"failStatus\":400,\"failCode\":\"Directory_ResultSizeLimitExceeded\"}");
    a = ask1(&r.env, &r.w, "6f2504e0-4f89-41d3-9a0c-0305e82c3304");
    CHECK_EQ(a.err, AG_E_TOO_BIG);
    CHECK_STREQ(a.reason, "more groups than Graph returns");
    CONTROL(&r, "{\"failStatus\":403,\"failCode\":\"Authorization_RequestDenied\"}");
    a = ask1(&r.env, &r.w, "7f2504e0-4f89-41d3-9a0c-0305e82c3305");
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.too_many_groups, 3);
out:
    rig_stop(&r);
}

TEST(graph_serves_stale_groups_while_graph_is_down_within_the_bound)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.cache_ttl_ms = 1000;
    r.env.cfg.stale_ttl_ms = 60000;
    if (!rig_start(&r))
        goto out;
    long long stale0 = metric("authgate_graph_stale_served_total");
    long long err0 = metric("authgate_graph_lookup_failures_total{reason=\"error\"}");
    long long nf0 = metric("authgate_graph_lookup_failures_total{reason=\"not_found\"}");
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    a = ask1(&r.env, &r.w, OID_B);
    CHECK_EQ(a.err, 0);
    usleep(1100 * 1000);
    CONTROL(&r, "{\"failStatus\":500}");
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK(a.stale);
    CHECK_EQ(a.n, 3);
    CHECK_STREQ(a.ids[0], "00000000-1111-4222-8333-0305e82c3301");
    CONTROL(&r, "{\"failStatus\":0,\"missing\":[\"" OID_B "\"]}");
    a = ask1(&r.env, &r.w, OID_B); /* Graph's verdict, not an outage: no stale groups */
    CHECK_EQ(a.err, AG_E_NOT_FOUND);
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.stale_served, 1);
    CHECK_EQ(metric("authgate_graph_stale_served_total") - stale0, 1);
    CHECK_EQ(metric("authgate_graph_lookup_failures_total{reason=\"error\"}") - err0, 1);
    CHECK_EQ(metric("authgate_graph_lookup_failures_total{reason=\"not_found\"}") - nf0, 1);
out:
    rig_stop(&r);
}

TEST(graph_stale_groups_expire_at_the_bound)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.cache_ttl_ms = 1000;
    r.env.cfg.stale_ttl_ms = 0;
    if (!rig_start(&r))
        goto out;
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    usleep(1100 * 1000);
    CONTROL(&r, "{\"failStatus\":500}");
    a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK(!a.stale);
    CHECK_EQ(a.n, 0);
out:
    rig_stop(&r);
}

TEST(graph_app_token_is_reused_then_refreshed_before_expiry)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.token_margin_ms = 60000; /* more than half the lifetime: half is used */
    if (!rig_start(&r))
        goto out;
    CONTROL(&r, "{\"tokenExpiresIn\":2,\"tokenExpiresAsString\":true}");
    CHECK_EQ(ask1(&r.env, &r.w, OID_A).err, 0);
    CHECK_EQ(ask1(&r.env, &r.w, OID_B).err, 0);
    CHECK_EQ(STAT(&r, "tokens"), 1);
    usleep(1200 * 1000); /* past lifetime - margin (1 s), before expiry (2 s) */
    CHECK_EQ(ask1(&r.env, &r.w, OID_C).err, 0);
    CHECK_EQ(STAT(&r, "tokens"), 2);
    CHECK_EQ(STAT(&r, "badAuth"), 0);
    ag_graph_stats_t st;
    ag_graph_stats(r.env.graph, &st);
    CHECK_EQ(st.token_fetches, 2);
out:
    rig_stop(&r);
}

TEST(graph_token_endpoint_failure_fails_the_lookup)
{
    rig_t r;
    const char *const args[] = {"--secret", "another-secret", NULL};
    if (!rig_fixture(&r, args) || !rig_start(&r))
        goto out;
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_STREQ(a.reason, "token endpoint refused");
    CHECK_EQ(STAT(&r, "badAuth"), 1);
    CHECK_EQ(LOOKUPS(&r, OID_A), 0); /* Graph never called without an app token */
out:
    rig_stop(&r);
}

TEST(graph_authenticates_with_a_certificate_client_assertion)
{
    char cert[64], key[64], cmd[512];
    snprintf(cert, sizeof(cert), "/tmp/ag_pgraph_cert_%d.pem", (int)getpid());
    snprintf(key, sizeof(key), "/tmp/ag_pgraph_key_%d.pem", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -subj /CN=authgate "
             "-days 1 2>/dev/null",
             key, cert);
    CHECK_EQ(system(cmd), 0);
    const char *const args[] = {"--cert", cert, NULL};
    rig_t r;
    if (!rig_fixture(&r, args))
        goto out;
    r.env.cfg.client_secret_file = NULL;
    r.env.cfg.client_certificate_file = cert;
    r.env.cfg.client_key_file = key;
    if (!rig_start(&r))
        goto out;
    answer_t a = ask1(&r.env, &r.w, OID_A);
    CHECK_EQ(a.err, 0);
    CHECK_EQ(a.n, 3);
    CHECK_EQ(STAT(&r, "tokens"), 1);
    CHECK_EQ(STAT(&r, "badAuth"), 0);
out:
    rig_stop(&r);
    unlink(cert), unlink(key);
}

static void on_never(void *arg, const ag_graph_result_t *res)
{
    (void)res;
    *(int *)arg += 1;
}

TEST(graph_cancelled_wait_gets_no_callback_and_lookup_still_fills_cache)
{
    rig_t r;
    int calls = 0;
    ag_graph_wait_t *wait = NULL;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CONTROL(&r, "{\"delayMs\":200}");
    CHECK_EQ(ag_graph_resolve(r.env.graph, AG_STR(OID_A), r.w.mb, on_never, &calls, &wait), 0);
    ag_graph_cancel(wait);
    answer_t a = ask1(&r.env, &r.w, OID_A); /* coalesced with the cancelled one */
    CHECK_EQ(a.err, 0);
    worker_wait(&r.w, 1000, 100);
    CHECK_EQ(calls, 0);
    a = ask1(&r.env, &r.w, OID_A);
    CHECK(a.cached);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
out:
    rig_stop(&r);
}

TEST(graph_resolve_rejects_a_bad_oid_synchronously)
{
    rig_t r;
    int calls = 0;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    static const char *const bad[] = {"", "../../me", "user@contoso.com", OID_A "/../x",
                                      "3f2504e0-4f89-41d3-9a0c-0305e82c330?"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(ag_graph_resolve(r.env.graph, ag_str_cstr(bad[i]), r.w.mb, on_never, &calls, NULL),
                 AG_E_INVAL);
    worker_wait(&r.w, 1000, 100);
    CHECK_EQ(calls, 0);
    CHECK_EQ(STAT(&r, "pages"), 0);
out:
    rig_stop(&r);
}

TEST(graph_destroy_answers_waiting_requests_with_canceled)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CONTROL(&r, "{\"delayMs\":5000}");
    answer_t a;
    CHECK_EQ(ask(&r.env, &r.w, OID_A, &a, NULL), 0);
    usleep(200 * 1000); /* the lookup is running */
    env_stop(&r.env);
    r.ok = false;
    worker_wait(&r.w, r.w.answered + 1, 3000);
    CHECK(a.done);
    CHECK_EQ(a.err, AG_E_CANCELED);
out:
    rig_stop(&r);
}

TEST(graph_section_is_read_by_the_gateway_config)
{
    ag_config_t *conf = NULL;
    ag_buf_t msg = AG_BUF_INIT(4096);
    const char *text = "{\"listen\":{\"address\":\"127.0.0.1:0\"},"
                       "\"upstream\":{\"url\":\"http://127.0.0.1:1\"},"
                       "\"graph\":{\"tenant\":\"contoso.onmicrosoft.com\",\"client_id\":\"app\","
                       "\"client_secret_file\":\"/run/secret\",\"max_groups\":300}}";
    CHECK_EQ(ag_config_parse("gw.json", ag_str_cstr(text), &conf, &msg), 0);
    if (conf) {
        CHECK(conf->graph_enabled);
        CHECK_EQ(conf->graph.max_groups, 300);
        CHECK_SLICE(conf->graph.token_url,
                    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        ag_config_destroy(conf);
    }
    conf = NULL;
    ag_buf_clear(&msg);
    const char *bad = "{\"listen\":{\"address\":\"127.0.0.1:0\"},"
                      "\"upstream\":{\"url\":\"http://127.0.0.1:1\"},"
                      "\"graph\":{\"client_id\":\"app\",\"client_secret_file\":\"s\","
                      "\"tenant\":\"t\",\"claim_sources\":true}}";
    CHECK_EQ(ag_config_parse("gw.json", ag_str_cstr(bad), &conf, &msg), AG_E_CONFIG);
    CHECK(strstr(msg.p ? msg.p : "", "graph: unknown key \"claim_sources\"") != NULL);
    ag_config_destroy(conf);
    ag_buf_dispose(&msg);
}

TEST(graph_apply_adds_resolved_groups_to_the_identity)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_str_t mapped[] = {AG_STR("system:authenticated")};
    ag_identity_t id = {.username = AG_STR("alice"),
                        .groups = mapped,
                        .ngroups = 1,
                        .flags = AG_ID_AZURE_AD | AG_ID_GROUP_OVERAGE};
    ag_str_t got[] = {AG_STR("00000000-1111-4222-8333-0305e82c3301"),
                      AG_STR("00000001-1111-4222-8333-0305e82c3301")};
    ag_graph_result_t ok = {.err = 0, .groups = got, .ngroups = 2};
    CHECK_EQ(ag_graph_apply(&ok, &a, &id), 0);
    CHECK_EQ(id.ngroups, 3);
    CHECK_SLICE(id.groups[0], "system:authenticated");
    CHECK_SLICE(id.groups[2], "00000001-1111-4222-8333-0305e82c3301");
    CHECK(id.groups[1].p != got[0].p); /* a copy: the result is gone after the callback */
    CHECK_EQ(id.flags, AG_ID_AZURE_AD);
    ag_graph_result_t bad = {.err = AG_E_TIMEOUT, .reason = "Graph did not answer in time"};
    CHECK_EQ(ag_graph_apply(&bad, &a, &id), AG_E_INVAL);
    CHECK_EQ(id.ngroups, 3);
    CHECK_EQ(ag_graph_http_status(AG_E_TIMEOUT), 503);
    CHECK_EQ(ag_graph_http_status(AG_E_UPSTREAM), 503);
    CHECK_EQ(ag_graph_http_status(AG_E_NOT_FOUND), 403);
    CHECK_EQ(ag_graph_http_status(AG_E_TOO_BIG), 403);
    ag_arena_dispose(&a);
}

/* ---- composed with authentication: an overage token, resolved by oid --------------- */

#define TID "72f988bf-86f1-41af-91ab-2d7cd011db47"

typedef struct {
    worker_t *w;
    ag_arena_t *arena;
    ag_identity_t *id;
    ag_err err, apply;
} apply_t;

static void on_apply(void *arg, const ag_graph_result_t *res)
{
    apply_t *k = arg;
    k->err = res->err;
    k->apply = ag_graph_apply(res, k->arena, k->id);
    k->w->answered++;
}

/* Mints an Azure AD v1 token for OID_A whose overage marker <marker> names the fixture's
 * sink as its _claim_sources endpoint, verifies it with core/authn/authn, resolves the groups
 * by oid and writes the TokenReview answer. The sink must see no connection at all. */
static void overage_case(const char *marker)
{
    char jwks[64], issuers[512], claims[1024];
    snprintf(jwks, sizeof(jwks), "/tmp/ag_pgraph_jwks_%d.json", (int)getpid());
    const char *const args[] = {"--jwks", jwks, NULL};
    ag_arena_t a;
    ag_cfg_t cfg = {0};
    ag_issuer_set_t *set = NULL;
    ag_buf_t tok = AG_BUF_INIT(16384), review = AG_BUF_INIT(1 << 16);
    ag_identity_t id = {0};
    rig_t r;
    ag_arena_init(&a, 0, 0);
    if (!rig_fixture(&r, args) || !rig_start(&r))
        goto out;
    snprintf(issuers, sizeof(issuers),
             "[{\"type\":\"azure_ad\",\"tenant_id\":\"" TID "\",\"audiences\":[\"%s\"],"
             "\"keys\":{\"jwks_file\":\"%s\"}}]",
             AG_AZURE_AKS_SERVER_APP, jwks);
    CHECK_EQ(ag_cfg_init(&cfg, "issuers.json", ag_str_cstr(issuers), &a), 0);
    CHECK_EQ(ag_issuers_parse(&cfg, ag_json_root(cfg.doc), "issuers", "/", &set), 0);
    long long now = (long long)time(NULL);
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"https://sts.windows.net/" TID "/\",\"aud\":\"%s\",\"tid\":\"" TID "\","
             "\"oid\":\"" OID_A "\",\"upn\":\"alice@contoso.com\",\"ver\":\"1.0\","
             "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,%s,"
             "\"_claim_sources\":{\"src1\":{\"endpoint\":"
             "\"http://127.0.0.1:%d/" TID "/users/" OID_A "/getMemberObjects\"}}}",
             AG_AZURE_AKS_SERVER_APP, now - 10, now - 10, now + 3600, marker, r.fx.sink);
    CHECK_EQ(fixture_http(&r.env, &r.w, &r.fx, "/_mint", claims, &tok), 200);
    CHECK_EQ(ag_authn_verify(set, NULL, NULL, ag_buf_str(&tok), now, &a, &id, NULL), AG_AUTHN_OK);
    CHECK(id.flags & AG_ID_GROUP_OVERAGE);
    CHECK_SLICE(id.oid, OID_A);
    apply_t k = {&r.w, &a, &id, -1, -1};
    int before = r.w.answered;
    CHECK_EQ(ag_graph_resolve(r.env.graph, id.oid, r.w.mb, on_apply, &k, NULL), 0);
    worker_wait(&r.w, before + 1, 10000);
    CHECK_EQ(k.err, 0);
    CHECK_EQ(k.apply, 0);
    CHECK_EQ(id.ngroups, 4); /* system:authenticated + the three from Graph */
    CHECK(!(id.flags & AG_ID_GROUP_OVERAGE));
    ag_tokenreview_req_t req = {.version = AG_TOKENREVIEW_V1, .token = ag_buf_str(&tok)};
    ag_tokenreview_status_t st = {.authenticated = true, .user = &id};
    CHECK_EQ(ag_tokenreview_write(&review, &req, &st), 0);
    CHECK(strstr(review.p ? review.p : "", "\"00000002-1111-4222-8333-0305e82c3301\"") != NULL);
    CHECK(strstr(review.p ? review.p : "", "\"system:authenticated\"") != NULL);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
    CHECK_EQ(STAT(&r, "sinkConnections"), 0);
out:
    rig_stop(&r);
    ag_issuer_set_free(set);
    ag_cfg_dispose(&cfg);
    ag_buf_dispose(&tok);
    ag_buf_dispose(&review);
    ag_arena_dispose(&a);
    unlink(jwks);
}

TEST(graph_overage_token_resolves_by_oid_and_never_contacts_claim_sources)
{
    overage_case("\"_claim_names\":{\"groups\":\"src1\"}");
}

TEST(graph_hasgroups_token_resolves_by_oid_and_never_contacts_claim_sources)
{
    overage_case("\"hasgroups\":true");
}

TEST(graph_rotated_client_secret_is_read_before_the_next_token_request)
{
    rig_t r;
    if (!rig_fixture(&r, NULL))
        goto out;
    r.env.cfg.token_margin_ms = 60000;
    if (!rig_start(&r))
        goto out;
    CONTROL(&r, "{\"tokenExpiresIn\":2}");
    CHECK_EQ(ask1(&r.env, &r.w, OID_A).err, 0);
    FILE *f = fopen(r.env.secret_path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("rotated-secret\n", f);
        fclose(f);
    }
    CONTROL(&r, "{\"secret\":\"rotated-secret\"}");
    usleep(1200 * 1000); /* the app token is due for refresh */
    CHECK_EQ(ask1(&r.env, &r.w, OID_B).err, 0);
    CHECK_EQ(STAT(&r, "tokens"), 2);
    CHECK_EQ(STAT(&r, "badAuth"), 0);
    unlink(r.env.secret_path); /* unreadable now: the last good secret stays in use */
    usleep(1200 * 1000);
    CHECK_EQ(ask1(&r.env, &r.w, OID_C).err, 0);
    CHECK_EQ(STAT(&r, "tokens"), 3);
    CHECK_EQ(STAT(&r, "badAuth"), 0);
out:
    rig_stop(&r);
}

/* ---- the groups step of the pipeline, as the gateway runs it ---------------------------- */

/* One request through the production steps authenticate -> groups (proxy/authn/authenticate.c,
 * as cmd_serve.c adds them) without a connection: <resume> records how a parked request
 * completes. */
typedef struct {
    ag_gate_t gate; /* first: the resume callback gets &gate */
    ag_pipeline_t pipeline;
    ag_http_req_t req;
    ag_header_t auth;
    worker_t *w;
    int calls;
    ag_gate_result r;
} gate_req_t;

static void on_gate_resume(ag_gate_t *g, ag_gate_result r)
{
    gate_req_t *q = (gate_req_t *)g;
    q->calls++;
    q->r = r;
    q->w->answered++;
}

/* Runs the gate for the fixture token <name> (tests/fixtures/jwt) on the rig's worker
 * loop; returns the synchronous result and waits for a parked one to complete. With
 * <cancel> the client is gone by the time Graph answers. */
static ag_gate_result gate_run(rig_t *r, authn_fixture_t *c, gate_req_t *q, const char *name,
                               bool cancel)
{
    ag_str_t tok = authn_fixture_token(c, name);
    ag_buf_t b = AG_BUF_INIT(1 << 16);
    ag_arena_reset(&c->req_arena);
    ag_buf_printf(&b, "Bearer %.*s", AG_STR_FMT(tok));
    *q = (gate_req_t){.w = &r->w, .r = -1};
    q->auth =
        (ag_header_t){AG_STR("Authorization"), ag_arena_strdup(&c->req_arena, ag_buf_str(&b)), 0};
    ag_buf_dispose(&b);
    q->req = (ag_http_req_t){.method = AG_STR("GET"),
                             .path = AG_STR("/api/v1/pods"),
                             .headers = &q->auth,
                             .nheaders = 1};
    ag_pipeline_add(&q->pipeline, "authenticate", ag_authenticator_gate, c->a);
    ag_pipeline_add(&q->pipeline, "groups", ag_authenticator_groups_gate, c->a);
    q->gate = (ag_gate_t){.req = &q->req,
                          .loop = &r->w.loop,
                          .worker = 1,
                          .arena = &c->req_arena,
                          .pipeline = &q->pipeline,
                          .resume = on_gate_resume};
    int before = r->w.answered;
    ag_gate_result res = ag_pipeline_run(&q->gate);
    if (cancel)
        q->gate.cancelled = true;
    if (res == AG_GATE_PENDING)
        worker_wait(&r->w, before + 1, 10000);
    return res;
}

#define AZ_OID "a1b2c3d4-0000-1111-2222-333344445555" /* the fixture tokens' oid */

TEST(graph_gate_step_resolves_overage_or_denies_with_a_reason)
{
    rig_t r;
    authn_fixture_t c;
    gate_req_t q;
    authn_fixture_load(&c);
    if (!rig_fixture(&r, NULL))
        goto out;
    /* one oid in every fixture token: look it up each time, never serve it stale */
    r.env.cfg.cache_ttl_ms = 1;
    r.env.cfg.stale_ttl_ms = 0;
    if (!rig_start(&r))
        goto out;
    authn_fixture_start(&c);
    /* no resolver: the groups are unknowable -> 403 at once */
    ag_authenticator_attach(c.a, NULL, NULL);
    CHECK_EQ(gate_run(&r, &c, &q, "azure_overage", false), AG_GATE_DENY);
    CHECK_EQ(q.gate.status, 403);
    CHECK_SLICE(q.gate.message, "forbidden: too many groups");
    CHECK_EQ(q.calls, 0);
    ag_authenticator_attach(c.a, r.env.graph, NULL);
    /* no overage: allowed at once, no Graph call */
    CHECK_EQ(gate_run(&r, &c, &q, "azure_v1", false), AG_GATE_ALLOW);
    CHECK_EQ(q.calls, 0);
    CHECK(q.gate.identity && !(q.gate.identity->flags & AG_ID_GROUP_OVERAGE));
    CHECK_EQ(LOOKUPS(&r, AZ_OID), 0);
    /* overage: parked, then allowed with Graph's groups after system:authenticated */
    CHECK_EQ(gate_run(&r, &c, &q, "azure_overage", false), AG_GATE_PENDING);
    CHECK_EQ(q.calls, 1);
    CHECK_EQ(q.r, AG_GATE_ALLOW);
    const ag_identity_t *id = q.gate.identity;
    CHECK(id && id->ngroups == 4 && !(id->flags & AG_ID_GROUP_OVERAGE));
    CHECK(id && id->ngroups > 0 && ag_str_eq_lit(id->groups[0], "system:authenticated"));
    CHECK_EQ(LOOKUPS(&r, AZ_OID), 1);
    /* the client went away while parked: released with DENY (ag_gate_done makes it a
     * 403 nobody reads), no identity handed on */
    usleep(5 * 1000); /* past cache_ttl */
    CONTROL(&r, "{\"delayMs\":200}");
    CHECK_EQ(gate_run(&r, &c, &q, "azure_overage", true), AG_GATE_PENDING);
    CHECK_EQ(q.calls, 1);
    CHECK_EQ(q.r, AG_GATE_DENY);
    CHECK(q.gate.identity == NULL);
    CHECK_EQ(LOOKUPS(&r, AZ_OID), 2);
    /* Graph failing: parked, then 503, never a silent 403 */
    usleep(5 * 1000);
    CONTROL(&r, "{\"delayMs\":0,\"failStatus\":503}");
    CHECK_EQ(gate_run(&r, &c, &q, "azure_overage", false), AG_GATE_PENDING);
    CHECK_EQ(q.calls, 1);
    CHECK_EQ(q.r, AG_GATE_DENY);
    CHECK_EQ(q.gate.status, 503);
    CHECK_SLICE(q.gate.message, "group resolution is unavailable, retry later");
    CHECK(q.gate.identity == NULL);
    CHECK_EQ(LOOKUPS(&r, AZ_OID), 3);
out:
    authn_fixture_teardown(&c); /* releases worker 1's mailbox on r.w's loop */
    rig_stop(&r);
}

/* Figures for the report, with a loose bound so a pathological slowdown fails: cached
 * answers cost one hop to the control loop and one back. */
TEST(graph_cached_answers_round_trip_fast)
{
    rig_t r;
    enum { BURST = 10000, SEQ = 1000 };
    static answer_t burst[BURST];
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CHECK_EQ(ask1(&r.env, &r.w, OID_A).err, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int before = r.w.answered;
    for (int i = 0; i < BURST; i++)
        ask(&r.env, &r.w, OID_A, &burst[i], NULL);
    double burst_ms = worker_wait(&r.w, before + BURST, 20000);
    CHECK_EQ(r.w.answered - before, BURST);
    for (int i = 0; i < BURST; i += 997)
        CHECK(burst[i].cached && burst[i].n == 3);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < SEQ; i++)
        CHECK(ask1(&r.env, &r.w, OID_A).cached);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seq_us =
        ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / SEQ;
    fprintf(stderr,
            "graph: %d pipelined cache hits in %.1f ms (%.0f/s); sequential round trip "
            "%.1f us\n",
            BURST, burst_ms, BURST / burst_ms * 1e3, seq_us);
    CHECK(burst_ms < 5000);
    CHECK(seq_us < 5000);
    CHECK_EQ(LOOKUPS(&r, OID_A), 1);
out:
    rig_stop(&r);
}

TEST(graph_refused_app_token_is_replaced_once)
{
    rig_t r;
    if (!rig_fixture(&r, NULL) || !rig_start(&r))
        goto out;
    CHECK_EQ(ask1(&r.env, &r.w, OID_A).err, 0);
    CHECK_EQ(STAT(&r, "tokens"), 1);
    CONTROL(&r, "{\"revoke\":true}"); /* Graph stops accepting the cached token */
    answer_t a = ask1(&r.env, &r.w, OID_B);
    CHECK_EQ(a.err, 0);
    CHECK_EQ(a.n, 3);
    CHECK_EQ(STAT(&r, "tokens"), 2);
    CHECK_EQ(STAT(&r, "badAuth"), 1);
    CONTROL(&r, "{\"rejectTokens\":true}"); /* a fresh token is refused too: give up */
    a = ask1(&r.env, &r.w, OID_C);
    CHECK_EQ(a.err, AG_E_UPSTREAM);
    CHECK_EQ(STAT(&r, "tokens"), 3);
    CHECK_EQ(STAT(&r, "badAuth"), 3);
out:
    rig_stop(&r);
}
