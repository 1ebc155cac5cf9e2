/* Tests for proxy/net/fetch.c: real HTTP over loopback against a small libuv server that
 * this program runs on its own thread (no external tools), covering success, Cache-
 * Control, the size cap (with and without Content-Length), timeouts, POST bodies and
 * headers, refusal of bad requests, cancellation, and the cross-thread submit path. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "net/fetch.h"
#include "testhttp.h"
#include "testlib.h"

static int srv_port;
static char big[65536];

static void handle(const th_request_t *rq, th_reply_t *out)
{
    if (strcmp(rq->path, "/jwks") == 0) {
        th_reply(out, 200, "Cache-Control: public, max-age=120\r\n", "{\"keys\":[]}");
    } else if (strcmp(rq->path, "/throttled") == 0) {
        th_reply(out, 429, "Retry-After: 7\r\nETag: \"v1\"\r\n", "{}");
    } else if (strcmp(rq->path, "/nostore") == 0) {
        th_reply(out, 200, "Cache-Control: no-store\r\n", "{}");
    } else if (strcmp(rq->path, "/big") == 0 || strcmp(rq->path, "/bigchunked") == 0) {
        memset(big, 'x', sizeof big);
        th_reply(out, 200, NULL, NULL);
        out->body = big;
        out->body_n = sizeof big;
        out->no_length = strcmp(rq->path, "/bigchunked") == 0; /* cap enforced while reading */
    } else if (strcmp(rq->path, "/slow") == 0) {
        out->status = 0; /* never answers */
    } else if (strcmp(rq->method, "POST") == 0 && strcmp(rq->path, "/echo") == 0) {
        static char echo[66000];
        const char *xt = strcasestr(rq->head, "\r\nx-test:");
        const char *ex = strcasestr(rq->head, "\r\nexpect:");
        snprintf(echo, sizeof echo, "x-test=%.*s expect=%s body=%.*s",
                 xt ? (int)strcspn(xt + 9, "\r") : 0, xt ? xt + 9 : "", ex ? "yes" : "no",
                 (int)rq->body_n, rq->body);
        th_reply(out, 201, NULL, echo);
    } else {
        th_reply(out, 500, NULL, "oops");
    }
}

static void srv_start(void)
{
    srv_port = th_start(handle);
}

static const char *url(const char *path)
{
    static char u[8][128];
    static int i;
    char *p = u[i++ % 8];
    snprintf(p, 128, "http://127.0.0.1:%d%s", srv_port, path);
    return p;
}

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct {
    int calls;
    ag_err err;
    long status;
    long long max_age, retry_after;
    char etag[64];
    char body[256];
    size_t body_n;
    pthread_t thread;
} result_t;

static void on_done(void *arg, const ag_fetch_res_t *res)
{
    result_t *r = arg;
    r->calls++;
    r->err = res->err;
    r->status = res->status;
    r->max_age = res->max_age_s;
    r->retry_after = res->retry_after_s;
    snprintf(r->etag, sizeof r->etag, "%s", res->etag ? res->etag : "(null)");
    r->body_n = res->body.n;
    snprintf(r->body, sizeof r->body, "%.*s", AG_STR_FMT(res->body));
    r->thread = pthread_self();
}

/* Runs one request on a fresh engine on a fresh loop until its callback fires. */
static void fetch_one(const ag_fetch_req_t *req, result_t *r)
{
    uv_loop_t loop;
    ag_fetch_t *f = NULL;
    uv_loop_init(&loop);
    CHECK_EQ(ag_fetch_create(&loop, NULL, &f), 0);
    memset(r, 0, sizeof *r);
    CHECK_EQ(ag_fetch_start(f, req, on_done, r), 0);
    for (int i = 0; i < 1000 && r->calls == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    ag_fetch_destroy(f);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(r->calls, 1);
}

/* ---- cases ------------------------------------------------------------------------- */

TEST(fetch_get_returns_body_status_and_max_age)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/jwks")}, &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.status, 200);
    CHECK_STREQ(r.body, "{\"keys\":[]}");
    CHECK_EQ(r.max_age, 120);
}

/* The ARM poller honours Retry-After and sends If-None-Match with the last ETag. */
TEST(fetch_reports_retry_after_and_etag)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/throttled")}, &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.status, 429);
    CHECK_EQ(r.retry_after, 7);
    CHECK_STREQ(r.etag, "\"v1\"");
    fetch_one(&(ag_fetch_req_t){.url = url("/jwks")}, &r);
    CHECK_EQ(r.retry_after, -1);
    CHECK_STREQ(r.etag, "");
    fetch_one(&(ag_fetch_req_t){.url = "http://127.0.0.1:1/refused"}, &r);
    CHECK(r.err != 0);
    CHECK_EQ(r.retry_after, -1);
    CHECK_STREQ(r.etag, "");
}

TEST(fetch_parses_retry_after)
{
    CHECK_EQ(ag_fetch_parse_retry_after("120", 0), 120);
    CHECK_EQ(ag_fetch_parse_retry_after(" 0 ", 0), 0);
    CHECK_EQ(ag_fetch_parse_retry_after("99999999999999", 0), 2147483648LL);
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. */
    CHECK_EQ(ag_fetch_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7);
    CHECK_EQ(ag_fetch_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
    CHECK_EQ(ag_fetch_parse_retry_after("soon", 0), -1);
    CHECK_EQ(ag_fetch_parse_retry_after("-5", 0), -1);
    CHECK_EQ(ag_fetch_parse_retry_after("", 0), -1);
}

TEST(fetch_no_store_means_max_age_zero)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/nostore")}, &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.max_age, 0);
}

TEST(fetch_http_error_status_is_a_response_not_an_error)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/nothing-here")}, &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.status, 500);
    CHECK_STREQ(r.body, "oops");
    CHECK_EQ(r.max_age, -1);
}

TEST(fetch_caps_body_with_content_length)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/big"), .max_bytes = 1024}, &r);
    CHECK_EQ(r.err, AG_E_TOO_BIG);
    CHECK_EQ(r.body_n, 0);
}

TEST(fetch_caps_body_without_content_length)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/bigchunked"), .max_bytes = 1000}, &r);
    CHECK_EQ(r.err, AG_E_TOO_BIG);
    CHECK(r.body_n <= 1000);
}

TEST(fetch_body_at_exactly_the_cap_is_accepted)
{
    srv_start();
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = url("/big"), .max_bytes = 65536}, &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.body_n, 65536);
}

TEST(fetch_times_out)
{
    srv_start();
    result_t r;
    uint64_t t0 = uv_hrtime();
    fetch_one(&(ag_fetch_req_t){.url = url("/slow"), .timeout_ms = 200}, &r);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    CHECK_EQ(r.err, AG_E_TIMEOUT);
    CHECK(ms >= 190 && ms < 3000);
}

TEST(fetch_connection_refused_is_io_error)
{
    /* Bind and close a port so nothing listens there. */
    uv_loop_t loop;
    uv_tcp_t t;
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &t);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, (struct sockaddr *)&a, 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
    int port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", port);
    result_t r;
    fetch_one(&(ag_fetch_req_t){.url = u, .timeout_ms = 2000}, &r);
    CHECK_EQ(r.err, AG_E_IO);
    CHECK_EQ(r.status, 0);
}

TEST(fetch_post_sends_body_and_headers_without_expect)
{
    srv_start();
    result_t r;
    static char body[4000];
    memset(body, 'b', sizeof body - 1);
    const char *hdrs[] = {"Content-Type: application/json", "X-Test: hello", NULL};
    fetch_one(&(ag_fetch_req_t){.url = url("/echo"),
                                .method = "POST",
                                .body = ag_str_make("{\"securityEnabledOnly\":true}", 28),
                                .headers = hdrs},
              &r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(r.status, 201);
    CHECK_STREQ(r.body, "x-test= hello expect=no body={\"securityEnabledOnly\":true}");
    /* a body large enough that curl would otherwise send Expect: 100-continue */
    fetch_one(&(ag_fetch_req_t){.url = url("/echo"),
                                .method = "POST",
                                .body = ag_str_make(body, sizeof body - 1)},
              &r);
    CHECK_EQ(r.status, 201);
    CHECK(strstr(r.body, "expect=no body=bbbb") != NULL);
}

TEST(fetch_refuses_bad_requests_synchronously)
{
    uv_loop_t loop;
    ag_fetch_t *f = NULL;
    result_t r = {0};
    uv_loop_init(&loop);
    CHECK_EQ(ag_fetch_create(&loop, NULL, &f), 0);
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = "file:///etc/passwd"}, on_done, &r),
             AG_E_INVAL);
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = "gopher://127.0.0.1/"}, on_done, &r),
             AG_E_INVAL);
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = NULL}, on_done, &r), AG_E_INVAL);
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = "http://127.0.0.1/", .method = "PUT"},
                            on_done, &r),
             AG_E_INVAL);
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = "http://127.0.0.1/", .headers = crlf},
                            on_done, &r),
             AG_E_INVAL);
    const char *many[AG_FETCH_MAX_HEADERS + 2];
    for (int i = 0; i < AG_FETCH_MAX_HEADERS + 1; i++)
        many[i] = "X-A: b";
    many[AG_FETCH_MAX_HEADERS + 1] = NULL;
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = "http://127.0.0.1/", .headers = many},
                            on_done, &r),
             AG_E_INVAL);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ(r.calls, 0); /* a synchronous failure never calls back */
    ag_fetch_destroy(f);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(fetch_destroy_cancels_pending_requests)
{
    srv_start();
    uv_loop_t loop;
    ag_fetch_t *f = NULL;
    result_t r = {0};
    uv_loop_init(&loop);
    CHECK_EQ(ag_fetch_create(&loop, NULL, &f), 0);
    CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = url("/slow")}, on_done, &r), 0);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    ag_fetch_destroy(f);
    CHECK_EQ(r.calls, 1);
    CHECK_EQ(r.err, AG_E_CANCELED);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(fetch_many_concurrent_requests_all_complete)
{
    srv_start();
    uv_loop_t loop;
    ag_fetch_t *f = NULL;
    enum { N = 20 };
    result_t r[N];
    memset(r, 0, sizeof r);
    uv_loop_init(&loop);
    CHECK_EQ(ag_fetch_create(&loop, NULL, &f), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(ag_fetch_start(f, &(ag_fetch_req_t){.url = url("/jwks")}, on_done, &r[i]), 0);
    int done = 0;
    for (int k = 0; k < 5000 && done < N; k++) {
        uv_run(&loop, UV_RUN_ONCE);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].calls;
    }
    CHECK_EQ(done, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(r[i].status, 200);
    ag_fetch_stats_t st;
    ag_fetch_stats(f, &st);
    CHECK_EQ(st.started, N);
    CHECK_EQ(st.ok, N);
    ag_fetch_destroy(f);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* Control loop on its own thread; the "worker" is this thread with a reply mailbox. */
static uv_loop_t ctl_loop;
static ag_fetch_t *ctl_fetch;
static uv_async_t ctl_stop;

static void on_ctl_stop(uv_async_t *h)
{
    ag_fetch_destroy(ctl_fetch);
    uv_close((uv_handle_t *)h, NULL);
}

static void *ctl_main(void *arg)
{
    (void)arg;
    uv_run(&ctl_loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

TEST(fetch_submit_from_another_loop_answers_on_that_loop)
{
    srv_start();
    uv_loop_t loop;
    ag_mailbox_t *reply = NULL;
    pthread_t ctl;
    result_t r[3];
    memset(r, 0, sizeof r);
    uv_loop_init(&ctl_loop);
    CHECK_EQ(ag_fetch_create(&ctl_loop, NULL, &ctl_fetch), 0);
    uv_async_init(&ctl_loop, &ctl_stop, on_ctl_stop);
    pthread_create(&ctl, NULL, ctl_main, NULL);

    uv_loop_init(&loop);
    CHECK_EQ(ag_mailbox_create(&loop, &reply), 0);
    CHECK_EQ(
        ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = url("/jwks")}, reply, on_done, &r[0]),
        0);
    CHECK_EQ(ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = url("/big"), .max_bytes = 10},
                             reply, on_done, &r[1]),
             0);
    CHECK_EQ(
        ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = "ftp://x/"}, reply, on_done, &r[2]),
        AG_E_INVAL);
    /* The mailbox does not keep the loop alive; a ticking timer does while we wait. */
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, on_tick, 10, 10);
    uint64_t t0 = uv_hrtime();
    while ((r[0].calls == 0 || r[1].calls == 0) && uv_hrtime() - t0 < 5000000000ULL)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    CHECK_EQ(r[0].calls, 1);
    CHECK_EQ(r[0].status, 200);
    CHECK_STREQ(r[0].body, "{\"keys\":[]}");
    CHECK(pthread_equal(r[0].thread, pthread_self()));
    CHECK_EQ(r[1].calls, 1);
    CHECK_EQ(r[1].err, AG_E_TOO_BIG);
    CHECK_EQ(r[2].calls, 0);

    uv_async_send(&ctl_stop);
    pthread_join(ctl, NULL);
    uv_run(&ctl_loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&ctl_loop), 0);
    ag_mailbox_destroy(reply);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(fetch_parses_cache_control)
{
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=300")), 300);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("public, Max-Age=60 , must-revalidate")), 60);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=\"90\"")), 90);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=60, no-cache")), 0);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("no-store")), 0);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("public")), -1);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=-5")), -1);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=")), -1);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=1e3")), -1);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("max-age=99999999999999999999999")), 2147483648LL);
    CHECK_EQ(ag_fetch_parse_max_age(AG_STR("")), -1);
}
