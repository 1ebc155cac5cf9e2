/* Tests for proxy/fetch.c: real HTTP over loopback against a small libuv server that
 * this program runs on its own thread (no external tools), covering success, Cache-
 * Control, the size cap (with and without Content-Length), timeouts, POST bodies and
 * headers, refusal of bad requests, cancellation, and the cross-thread submit path. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fetch.h"
#include "testlib.h"

/* ---- a tiny loopback HTTP server on its own thread ----------------------------------- */

static uv_loop_t srv_loop;
static uv_tcp_t srv_tcp;
static int srv_port;
static pthread_t srv_thread;
static int srv_requests; /* atomic */

typedef struct {
    uv_tcp_t tcp;
    char buf[65536];
    size_t n;
    bool answered;
} srv_conn_t;

typedef struct {
    uv_write_t w;
    char *data;
} srv_write_t;

static void srv_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void srv_on_write(uv_write_t *w, int status)
{
    srv_write_t *sw = (srv_write_t *)w;
    (void)status;
    uv_close((uv_handle_t *)w->handle, srv_on_close);
    free(sw->data);
    free(sw);
}

static void srv_send(srv_conn_t *c, const char *head, const char *body, size_t body_n)
{
    size_t hn = strlen(head);
    srv_write_t *sw = calloc(1, sizeof *sw);
    sw->data = malloc(hn + body_n);
    memcpy(sw->data, head, hn);
    if (body_n)
        memcpy(sw->data + hn, body, body_n);
    uv_buf_t b = uv_buf_init(sw->data, (unsigned)(hn + body_n));
    uv_write(&sw->w, (uv_stream_t *)&c->tcp, &b, 1, srv_on_write);
}

static size_t content_length(const char *head)
{
    const char *p = strcasestr(head, "\r\ncontent-length:");
    return p ? strtoul(p + 17, NULL, 10) : 0;
}

static void srv_answer(srv_conn_t *c, const char *head, const char *body, size_t body_n)
{
    char out[70000];
    int n;
    __atomic_fetch_add(&srv_requests, 1, __ATOMIC_RELAXED);
    if (strncmp(head, "GET /jwks ", 10) == 0) {
        const char *b = "{\"keys\":[]}";
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nCache-Control: public, "
                     "max-age=120\r\nConnection: close\r\n\r\n",
                     strlen(b));
        srv_send(c, out, b, strlen(b));
    } else if (strncmp(head, "GET /nostore ", 13) == 0) {
        srv_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n", "{}", 2);
    } else if (strncmp(head, "GET /big ", 9) == 0) {
        static char big[65536];
        memset(big, 'x', sizeof big);
        srv_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n", big,
                 sizeof big);
    } else if (strncmp(head, "GET /bigchunked ", 16) == 0) {
        static char big[65536];
        memset(big, 'y', sizeof big);
        /* no length: the cap must be enforced while bytes arrive */
        srv_send(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", big, sizeof big);
    } else if (strncmp(head, "GET /slow ", 10) == 0) {
        return; /* never answers */
    } else if (strncmp(head, "POST /echo ", 11) == 0) {
        const char *ct = strcasestr(head, "\r\nx-test:");
        const char *ex = strcasestr(head, "\r\nexpect:");
        char hv[64] = "";
        if (ct)
            snprintf(hv, sizeof hv, "%.*s", (int)strcspn(ct + 9, "\r"), ct + 9);
        char echo[66000];
        int en = snprintf(echo, sizeof echo, "x-test=%s expect=%s body=%.*s", hv, ex ? "yes" : "no",
                          (int)body_n, body);
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 201 Created\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", en);
        srv_send(c, out, echo, (size_t)en);
    } else {
        srv_send(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
                    "Connection: close\r\n\r\n", "oops", 4);
    }
    (void)n;
}

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    srv_conn_t *c = h->data;
    (void)hint;
    *b = uv_buf_init(c->buf + c->n, (unsigned)(sizeof c->buf - c->n - 1));
}

static void srv_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    srv_conn_t *c = s->data;
    (void)b;
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, srv_on_close);
        return;
    }
    c->n += (size_t)nread;
    c->buf[c->n] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end || c->answered)
        return;
    size_t hlen = (size_t)(end - c->buf) + 4, blen = content_length(c->buf);
    if (c->n < hlen + blen)
        return;
    c->answered = true;
    end[2] = '\0';
    srv_answer(c, c->buf, c->buf + hlen, blen);
}

static void srv_on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    srv_conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(&srv_loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, srv_on_close);
}

static void *srv_main(void *arg)
{
    (void)arg;
    uv_run(&srv_loop, UV_RUN_DEFAULT);
    return NULL;
}

static void srv_start(void)
{
    if (srv_port)
        return;
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_loop_init(&srv_loop);
    uv_tcp_init(&srv_loop, &srv_tcp);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&srv_tcp, (struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&srv_tcp, 64, srv_on_conn);
    uv_tcp_getsockname(&srv_tcp, (struct sockaddr *)&got, &len);
    srv_port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    pthread_create(&srv_thread, NULL, srv_main, NULL);
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
    long long max_age;
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
    CHECK_EQ(ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = url("/jwks")}, reply, on_done,
                             &r[0]),
             0);
    CHECK_EQ(ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = url("/big"), .max_bytes = 10},
                             reply, on_done, &r[1]),
             0);
    CHECK_EQ(ag_fetch_submit(ctl_fetch, &(ag_fetch_req_t){.url = "ftp://x/"}, reply, on_done,
                             &r[2]),
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
