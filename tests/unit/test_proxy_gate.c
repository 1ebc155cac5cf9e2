/* The gate phase end to end, in process: a real server (one worker, plain HTTP) in front
 * of a tiny blocking upstream thread, with a two-step test pipeline. Checks that a
 * synchronous DENY answers a Status and forwards nothing, that an asynchronous (PENDING)
 * ALLOW resumes the pipeline at its next step and forwards the identity the steps
 * supplied as Impersonate-* headers, and that a step still pending at shutdown is
 * cancelled and completed safely, the steps after it never running. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "http/gate.h"
#include "http/pipeline.h"
#include "runtime/server.h"
#include "testlib.h"

/* ---- a one-request-per-connection upstream on a thread ---------------------------- */

static int up_fd = -1, up_port;
static char up_seen[8192];
static pthread_t up_thread;

static void *upstream_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(up_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        size_t n = 0;
        while (n < sizeof up_seen - 1) {
            ssize_t r = read(c, up_seen + n, sizeof up_seen - 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
            up_seen[n] = '\0';
            if (strstr(up_seen, "\r\n\r\n"))
                break;
        }
        static const char resp[] =
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        if (write(c, resp, sizeof resp - 1) < 0)
            perror("write");
        close(c);
    }
}

static int listen_any(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- the test gate --------------------------------------------------------------- */

static const ag_str_t groups[] = {{"devs", 4}, {"ops", 3}};
static ag_identity_t alice = {
    .username = {"alice", 5}, .uid = {"u-1", 3}, .groups = groups, .ngroups = 2};
static int pending_done;

static void on_gate_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void on_gate_timer(uv_timer_t *t)
{
    ag_gate_t *g = t->data;
    uv_close((uv_handle_t *)t, on_gate_timer_closed);
    if (!ag_gate_cancelled(g))
        g->identity = &alice;
    __atomic_add_fetch(&pending_done, 1, __ATOMIC_SEQ_CST);
    ag_gate_done(g, AG_GATE_ALLOW); /* called even when cancelled: it releases the conn */
}

static ag_gate_result test_gate(ag_gate_t *g, void *ud)
{
    (void)ud;
    if (ag_str_starts_with(g->req->path, AG_STR("/deny"))) {
        g->status = 403;
        g->message = AG_STR("denied by the test gate");
        return AG_GATE_DENY;
    }
    long delay = ag_str_starts_with(g->req->path, AG_STR("/park")) ? 1500 : 50;
    uv_timer_t *t = malloc(sizeof(*t));
    uv_timer_init(g->loop, t);
    t->data = g;
    uv_timer_start(t, on_gate_timer, (uint64_t)delay, 0);
    return AG_GATE_PENDING;
}

/* The second step: runs only after the first allowed, on the worker loop. */
static int second_calls, second_saw_alice;

static ag_gate_result second_step(ag_gate_t *g, void *ud)
{
    (void)ud;
    __atomic_add_fetch(&second_calls, 1, __ATOMIC_SEQ_CST);
    if (g->identity == &alice)
        __atomic_add_fetch(&second_saw_alice, 1, __ATOMIC_SEQ_CST);
    return AG_GATE_ALLOW;
}

/* ---- client ---------------------------------------------------------------------- */

static int gw_port;

static int request(const char *path, char *out, size_t cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)gw_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: x\r\nImpersonate-User: root\r\n"
                     "Connection: close\r\n\r\n",
                     path);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    ssize_t r;
    while (got < cap - 1 && (r = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fd);
    return (int)got;
}

static ag_server_t *srv;

static void *server_main(void *arg)
{
    (void)arg;
    ag_server_run(srv);
    return NULL;
}

TEST(gate_deny_allow_async_and_cancel)
{
    char text[512], resp[4096];
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_config_t *conf = NULL;
    pthread_t th;
    signal(SIGPIPE, SIG_IGN);
    up_fd = listen_any(&up_port);
    CHECK(up_fd >= 0);
    pthread_create(&up_thread, NULL, upstream_main, NULL);
    snprintf(text, sizeof text,
             "{\"listen\":{\"address\":\"127.0.0.1:0\"},\"workers\":1,"
             "\"upstream\":{\"url\":\"http://127.0.0.1:%d\"},\"timeouts\":{\"drain\":\"200ms\"}}",
             up_port);
    CHECK_EQ(ag_config_parse("gate.json", ag_str_cstr(text), &conf, &err), 0);
    ag_pipeline_t pipeline = {0};
    CHECK_EQ(ag_pipeline_add(&pipeline, "test", test_gate, NULL), 0);
    CHECK_EQ(ag_pipeline_add(&pipeline, "second", second_step, NULL), 0);
    CHECK_EQ(ag_server_create(conf, NULL, &srv, &err), 0);
    if (!srv)
        return;
    ag_server_set_pipeline(srv, &pipeline);
    const char *addr = ag_server_listen_address(srv);
    gw_port = atoi(strrchr(addr, ':') + 1);
    pthread_create(&th, NULL, server_main, NULL);

    CHECK(request("/deny/me", resp, sizeof resp) > 0);
    CHECK(strncmp(resp, "HTTP/1.1 403", 12) == 0);
    CHECK(strstr(resp, "\"message\":\"denied by the test gate\"") != NULL);
    CHECK(up_seen[0] == '\0');                                     /* nothing forwarded */
    CHECK_EQ(__atomic_load_n(&second_calls, __ATOMIC_SEQ_CST), 0); /* a DENY ends the pipeline */

    CHECK(request("/api/v1/pods", resp, sizeof resp) > 0);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(up_seen, "GET /api/v1/pods HTTP/1.1\r\n") == up_seen);
    CHECK(strstr(up_seen, "Impersonate-User: alice\r\n") != NULL);
    CHECK(strstr(up_seen, "Impersonate-Group: devs\r\n") != NULL);
    CHECK(strstr(up_seen, "Impersonate-Group: ops\r\n") != NULL);
    CHECK(strstr(up_seen, "Impersonate-Uid: u-1\r\n") != NULL);
    CHECK(strstr(up_seen, "root") == NULL); /* the client's Impersonate-User is gone */
    /* the parked first step resumed the pipeline at the second one */
    CHECK_EQ(__atomic_load_n(&second_calls, __ATOMIC_SEQ_CST), 1);
    CHECK_EQ(__atomic_load_n(&second_saw_alice, __ATOMIC_SEQ_CST), 1);

    /* A request parked in the gate when the server stops: the drain timeout closes the
     * connection, the gate completes later and finds itself cancelled. */
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)gw_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(fd, "GET /park HTTP/1.1\r\nHost: x\r\n\r\n", 31) == 31);
    usleep(100 * 1000);
    int before = __atomic_load_n(&pending_done, __ATOMIC_SEQ_CST);
    kill(getpid(), SIGTERM); /* the control loop drains, then stops the worker */
    pthread_join(th, NULL);  /* returns once the worker loop has no handles left */
    CHECK_EQ(__atomic_load_n(&pending_done, __ATOMIC_SEQ_CST), before + 1);
    CHECK_EQ(__atomic_load_n(&second_calls, __ATOMIC_SEQ_CST), 1); /* cancelled: not run */
    close(fd);
    ag_server_destroy(srv);
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    shutdown(up_fd, SHUT_RDWR);
    close(up_fd);
    pthread_join(up_thread, NULL);
}

/* ---- the audit ID -------------------------------------------------------------------- */

enum { IDS_PER_THREAD = 6000 }; /* more than one block of numbers per thread */

static void *make_ids(void *arg)
{
    char(*ids)[37] = arg;
    for (int i = 0; i < IDS_PER_THREAD; i++) {
        ag_gate_t g = {0};
        memcpy(ids[i], ag_gate_audit_id(&g), 37);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

static bool v4_shaped(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || !s[i])
            return false;
    }
    return s[36] == '\0' && s[14] == '4' && strchr("89ab", s[19]);
}

/* IDs taken on two threads (each from its own block of numbers) are v4-shaped and all
 * distinct; a request keeps the ID it was given first. */
TEST(gate_tsan_audit_ids_are_v4_shaped_and_unique_across_threads)
{
    static char ids[2][IDS_PER_THREAD][37];
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, make_ids, ids[1]), 0);
    make_ids(ids[0]);
    pthread_join(th, NULL);
    int bad = 0, dup = 0;
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < IDS_PER_THREAD; i++)
            bad += !v4_shaped(ids[t][i]);
    char(*all)[37] = &ids[0][0]; /* both threads' IDs, one array */
    qsort(all, 2 * IDS_PER_THREAD, 37, cmp_id);
    for (int i = 1; i < 2 * IDS_PER_THREAD; i++)
        dup += memcmp(all[i - 1], all[i], 37) == 0;
    CHECK_EQ(bad, 0);
    CHECK_EQ(dup, 0);
    ag_gate_t g = {0};
    const char *first = ag_gate_audit_id(&g);
    CHECK(first == g.audit_id && ag_gate_audit_id(&g) == first && v4_shaped(first));
}
