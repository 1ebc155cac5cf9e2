/* Accept failures (issue 11, defect 6), in process: a real server (two workers, plain
 * HTTP) with allocation failures injected at accept (ag_http1_inject_accept_faults). A
 * connection whose set-up fails is closed at once (the client reads EOF, it does not hang)
 * and counted; the listener stays alive, so the next connections are served. The stream
 * fault comes first, on a connection struct just allocated: the old code dereferenced its
 * NULL worker pointer there, and never accepted the pending connection, so libuv stopped
 * polling the listener and every later client hung. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config.h"
#include "http/http1.h"
#include "runtime/metrics.h"
#include "runtime/server.h"
#include "testlib.h"

static int gw_port;
static ag_server_t *srv;

static void *server_main(void *arg)
{
    (void)arg;
    ag_server_run(srv);
    return NULL;
}

/* Sends one request and reads until EOF (3 s at most): what came back, "" when the
 * gateway closed without answering, NULL when it neither answered nor closed. */
static const char *exchange(char *out, size_t cap)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)gw_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 3};
    static const char req[] = "GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t got = 0;
    ssize_t r = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    if (write(fd, req, sizeof req - 1) < 0) { /* EPIPE/ECONNRESET: closed already */
        close(fd);
        return "";
    }
    while (got < cap - 1 && (r = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fd);
    bool closed = r == 0 || (r < 0 && errno == ECONNRESET);
    return closed ? out : NULL;
}

static bool answered(const char *resp)
{
    return resp && strncmp(resp, "HTTP/1.1 ", 9) == 0;
}

TEST(accept_failure_closes_the_connection_and_keeps_listening)
{
    char text[512], resp[4096];
    ag_buf_t err = AG_BUF_INIT(4096), metrics = AG_BUF_INIT(65536);
    ag_config_t *conf = NULL;
    pthread_t th;
    signal(SIGPIPE, SIG_IGN);
    /* upstream: a port nothing listens on (every request answered 503 by the gateway) */
    snprintf(text, sizeof text,
             "{\"listen\":{\"address\":\"127.0.0.1:0\"},\"workers\":2,"
             "\"upstream\":{\"url\":\"http://127.0.0.1:9\"},\"timeouts\":{\"drain\":\"200ms\"}}");
    CHECK_EQ(ag_config_parse("accept.json", ag_str_cstr(text), &conf, &err), 0);
    CHECK_EQ(ag_server_create(conf, NULL, &srv, &err), 0);
    if (!srv)
        return;
    gw_port = atoi(strrchr(ag_server_listen_address(srv), ':') + 1);
    pthread_create(&th, NULL, server_main, NULL);

    for (int round = 0; round < 3; round++) {
        ag_http1_inject_accept_faults(0, 1); /* its stream (first round: a fresh struct) */
        const char *r = exchange(resp, sizeof resp);
        CHECK(r != NULL && r[0] == '\0'); /* closed at once, no answer, no hang */
        CHECK(answered(exchange(resp, sizeof resp)));
        ag_http1_inject_accept_faults(2, 0); /* the connection struct, twice in a row */
        r = exchange(resp, sizeof resp);
        CHECK(r != NULL && r[0] == '\0');
        r = exchange(resp, sizeof resp);
        CHECK(r != NULL && r[0] == '\0');
        CHECK(answered(exchange(resp, sizeof resp)));
    }
    CHECK_EQ(ag_metrics_render(&metrics), 0);
    CHECK(strstr(metrics.p, "authgate_accept_errors_total{reason=\"setup\"} 9\n") != NULL);

    kill(getpid(), SIGTERM);
    pthread_join(th, NULL);
    ag_server_destroy(srv);
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    ag_buf_dispose(&metrics);
}
