/* proxy/net/stream.c over real loopback TCP on one libuv loop: the read buffer grows only up to
 * its limit and reading stops there (a peer cannot make the gateway buffer more), consumed
 * bytes make room again, queued bytes are accounted and drain, corked writes arrive intact
 * and in order, an idle stream gives its buffers back and takes them again at the next read
 * (ag_stream_release), a TLS handshake's flights leave in one write each. The TLS layer
 * itself is test_proxy_tls.c's; t_idle_release covers the whole path over TLS. */
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/acceptor.h"
#include "net/stream.h"
#include "testlib.h"

typedef struct {
    uv_loop_t loop;
    int listen_fd;
    ag_acceptor_t listener;
    ag_stream_t server, client;
    ag_tls_ctx_t *server_tls, *client_tls; /* NULL: plain TCP */
    char scratch[17 * 1024];
    int ready, drained, closed;
    size_t got;
} rig_t;

static void on_ready(ag_stream_t *s, int status)
{
    rig_t *r = s->data;
    CHECK_EQ(status, 0);
    r->ready++;
}

static void on_read(ag_stream_t *s, int status)
{
    rig_t *r = s->data;
    if (status > 0)
        r->got = s->rn - s->roff;
}

static void on_drain(ag_stream_t *s, int status)
{
    rig_t *r = s->data;
    (void)status;
    r->drained++;
}

static void on_close(ag_stream_t *s, int status)
{
    rig_t *r = s->data;
    (void)status;
    r->closed++;
}

static void on_connection(void *ud, int fd)
{
    rig_t *r = ud;
    CHECK_EQ(ag_stream_accept(&r->server, fd, r->server_tls), 0);
}

/* Two streams connected over loopback, TLS between them when <stls> and <ctls> are given;
 * returns once both are ready (the handshake done). */
static void setup_with(rig_t *r, size_t server_rcap, ag_tls_ctx_t *stls, ag_tls_ctx_t *ctls)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    socklen_t len = sizeof got;
    memset(r, 0, sizeof(*r));
    r->server_tls = stls;
    r->client_tls = ctls;
    uv_loop_init(&r->loop);
    uv_ip4_addr("127.0.0.1", 0, &a);
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK_EQ(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(r->listen_fd, 8), 0);
    CHECK_EQ(ag_acceptor_start(&r->listener, &r->loop, r->listen_fd, "test", on_connection, r), 0);
    getsockname(r->listen_fd, (struct sockaddr *)&got, &len);
    ag_stream_t *ends[2] = {&r->server, &r->client};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(ag_stream_init(ends[i], &r->loop, i == 0 ? server_rcap : 64 * 1024, r->scratch,
                                sizeof r->scratch),
                 0);
        ends[i]->data = r;
        ends[i]->on_ready = on_ready;
        ends[i]->on_read = on_read;
        ends[i]->on_drain = on_drain;
        ends[i]->on_close = on_close;
    }
    CHECK_EQ(ag_stream_connect(&r->client, (struct sockaddr *)&got, ctls, "localhost"), 0);
    for (int i = 0; i < 1000 && r->ready < 2; i++)
        uv_run(&r->loop, UV_RUN_ONCE);
    CHECK_EQ(r->ready, 2);
}

static void setup(rig_t *r, size_t server_rcap)
{
    setup_with(r, server_rcap, NULL, NULL);
}

static void teardown(rig_t *r)
{
    ag_stream_close(&r->server);
    ag_stream_close(&r->client);
    ag_acceptor_close(&r->listener);
    close(r->listen_fd);
    while (r->closed < 2)
        uv_run(&r->loop, UV_RUN_ONCE);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    ag_stream_dispose(&r->server);
    ag_stream_dispose(&r->client);
    CHECK_EQ(uv_loop_close(&r->loop), 0);
}

static void spin(rig_t *r, int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(&r->loop, UV_RUN_NOWAIT);
}

TEST(stream_read_buffer_grows_to_its_limit_then_reading_stops)
{
    static rig_t r;
    static char big[100 * 1024];
    memset(big, 'a', sizeof big);
    setup(&r, 40 * 1024);
    CHECK(!r.server.rbuf && r.server.rsize == 0); /* nothing read: no buffer yet */
    ag_stream_read_start(&r.server);
    CHECK_EQ(ag_stream_write1(&r.client, big, sizeof big), 0);
    for (int i = 0; i < 2000 && r.got < 40 * 1024; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    spin(&r, 50);
    CHECK_EQ(r.server.rn - r.server.roff, 40 * 1024); /* never more than rcap buffered */
    CHECK_EQ(r.server.rsize, 40 * 1024);
    CHECK(!r.server.uv_reading);
    CHECK(ag_stream_queued(&r.client) > 0 || r.drained == 0); /* the rest waits upstream */
    /* consuming makes room: the remaining bytes arrive, bounded again by rcap */
    size_t total = r.server.rn - r.server.roff;
    for (int round = 0; round < 100 && total < sizeof big; round++) {
        r.server.roff = r.server.rn;
        ag_stream_pump(&r.server);
        ag_stream_read_start(&r.server);
        spin(&r, 20);
        total += r.server.rn - r.server.roff;
        CHECK(r.server.rn - r.server.roff <= 40 * 1024);
    }
    CHECK_EQ(total, sizeof big);
    for (int i = 0; i < 1000 && ag_stream_queued(&r.client) > 0; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    CHECK_EQ(ag_stream_queued(&r.client), 0);
    teardown(&r);
}

TEST(stream_corked_writes_arrive_in_order)
{
    static rig_t r;
    setup(&r, 64 * 1024);
    ag_stream_read_start(&r.server);
    ag_stream_cork(&r.client);
    ag_stream_write1(&r.client, "HTTP/1.1 200 OK\r\n", 17);
    ag_stream_write1(&r.client, "\r\n", 2);
    CHECK_EQ(ag_stream_queued(&r.client), 19); /* gathered, not yet written */
    ag_stream_cork(&r.client);                 /* nested */
    ag_stream_write1(&r.client, "body", 4);
    ag_stream_uncork(&r.client);
    CHECK_EQ(ag_stream_queued(&r.client), 23); /* still corked by the outer level */
    ag_stream_uncork(&r.client);
    for (int i = 0; i < 1000 && r.server.rn < 23; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    CHECK_EQ(r.server.rn, 23);
    CHECK(memcmp(r.server.rbuf, "HTTP/1.1 200 OK\r\n\r\nbody", 23) == 0);
    teardown(&r);
}

TEST(stream_close_after_flush_delivers_queued_bytes)
{
    static rig_t r;
    static char big[512 * 1024];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    setup(&r, 64 * 1024);
    ag_stream_write1(&r.client, big, sizeof big); /* more than the socket takes at once */
    ag_stream_close_after_flush(&r.client);
    ag_stream_read_start(&r.server);
    size_t total = 0;
    bool ok = true;
    for (int i = 0; i < 20000 && !r.server.eof; i++) {
        uv_run(&r.loop, UV_RUN_NOWAIT);
        size_t n = r.server.rn - r.server.roff;
        for (size_t k = 0; k < n && total + k < sizeof big; k++)
            ok = ok && r.server.rbuf[r.server.roff + k] == big[total + k];
        total += n;
        r.server.roff = r.server.rn;
        ag_stream_read_start(&r.server); /* consumed outside on_read: say so */
    }
    CHECK(ok);
    CHECK_EQ(total, sizeof big);
    CHECK(r.server.eof);
    ag_stream_close(&r.server);
    while (r.closed < 2)
        uv_run(&r.loop, UV_RUN_ONCE);
    ag_acceptor_close(&r.listener);
    close(r.listen_fd);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    ag_stream_dispose(&r.server);
    ag_stream_dispose(&r.client);
    CHECK_EQ(uv_loop_close(&r.loop), 0);
}

/* A TLS handshake step's records leave in one write per flight: the server's ServerHello,
 * Certificate, ServerKeyExchange and ServerHelloDone in one, its ChangeCipherSpec and
 * Finished in another; the client's ClientHello, then its ClientKeyExchange,
 * ChangeCipherSpec and Finished (a write each before: 6 and 4). Application data follows. */
TEST(stream_tls_handshake_flight_is_one_write)
{
    static rig_t r;
    char *cert = NULL, *key = NULL, why[256] = "";
    ag_tls_ctx_t *stls = NULL, *ctls = NULL;
    CHECK_EQ(ag_tls_selfsigned("localhost", &cert, &key), 0);
    ag_tls_opts_t so = {.cert_pem = cert, .key_pem = key}, co = {.verify_none = true};
    CHECK_EQ(ag_tls_ctx_create_server(&so, NULL, &stls, why, sizeof why), 0);
    CHECK_EQ(ag_tls_ctx_create_client(&co, &ctls, why, sizeof why), 0);
    setup_with(&r, 64 * 1024, stls, ctls);
    CHECK_EQ(r.server.writes, 2);
    CHECK_EQ(r.client.writes, 2);
    ag_stream_read_start(&r.server);
    CHECK_EQ(ag_stream_write1(&r.client, "ping", 4), 0);
    CHECK_EQ(r.client.writes, 3); /* one record, one write */
    for (int i = 0; i < 1000 && r.got < 4; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    CHECK_EQ(r.got, 4);
    CHECK(memcmp(r.server.rbuf + r.server.roff, "ping", 4) == 0);
    teardown(&r);
    ag_tls_ctx_destroy(stls);
    ag_tls_ctx_destroy(ctls);
    free(cert);
    free(key);
}

/* Released with nothing unread: the read and cork buffers are freed; the next bytes are
 * read into a new buffer and delivered whole; released with bytes unread: they stay. */
TEST(stream_release_frees_idle_buffers_and_reading_takes_them_again)
{
    static rig_t r;
    setup(&r, 64 * 1024);
    ag_stream_read_start(&r.server);
    ag_stream_cork(&r.server);
    ag_stream_write1(&r.server, "hello", 5); /* the cork buffer exists while gathering */
    ag_stream_release(&r.server);
    CHECK(r.server.cork != NULL);
    ag_stream_uncork(&r.server);
    CHECK_EQ(ag_stream_write1(&r.client, "GET /1", 6), 0);
    for (int i = 0; i < 200 && r.got < 6; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    CHECK_EQ(r.got, 6);
    ag_stream_release(&r.server); /* six bytes unread: the read buffer stays */
    CHECK(r.server.rbuf != NULL && memcmp(r.server.rbuf + r.server.roff, "GET /1", 6) == 0);
    r.server.roff = r.server.rn; /* consumed */
    ag_stream_release(&r.server);
    CHECK(ag_stream_released(&r.server));
    CHECK(r.server.rbuf == NULL && r.server.cork == NULL && r.server.rsize == 0);
    static char big[30000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    r.got = 0;
    CHECK_EQ(ag_stream_write1(&r.client, big, sizeof big), 0);
    for (int i = 0; i < 2000 && r.got < sizeof big; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    CHECK_EQ(r.got, sizeof big); /* a new buffer, grown past its first 16 KiB */
    CHECK(r.server.rsize >= sizeof big && r.server.rsize <= 64 * 1024);
    CHECK(memcmp(r.server.rbuf + r.server.roff, big, sizeof big) == 0);
    teardown(&r);
}
