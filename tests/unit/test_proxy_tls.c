/* proxy/net/tls.c over memory only: a client and a server session exchange bytes through
 * buffers (no sockets), so the handshake policy, ALPN and client-certificate identity
 * are tested deterministically. */
#include <stdlib.h>
#include <unistd.h>

#include "base/buf.h"
#include "config.h"
#include "net/tls.h"
#include "testlib.h"

typedef struct {
    ag_buf_t wire; /* ciphertext waiting for the other side */
} pipe_t;

static void emit(void *ud, const char *p, size_t n)
{
    ag_buf_append(&((pipe_t *)ud)->wire, p, n);
}

static void deliver(pipe_t *from, ag_tls_t *to)
{
    if (from->wire.n)
        CHECK_EQ(ag_tls_feed(to, from->wire.p, from->wire.n), 0);
    ag_buf_clear(&from->wire);
}

typedef struct {
    char path[64];
    char *cert, *key;
    ag_tls_ctx_t *server, *client;
    ag_tls_t *s, *c;
    pipe_t to_client, to_server;
} fixture_t;

static bool setup(fixture_t *f, int client_auth, bool client_cert)
{
    memset(f, 0, sizeof(*f));
    f->to_client.wire = AG_BUF_INIT(1 << 20);
    f->to_server.wire = AG_BUF_INIT(1 << 20);
    if (ag_tls_selfsigned("localhost", &f->cert, &f->key) != 0)
        return false;
    snprintf(f->path, sizeof f->path, "/tmp/ag-tls-test-%d", (int)getpid());
    FILE *fp = fopen(f->path, "w");
    char keypath[80];
    snprintf(keypath, sizeof keypath, "%s.key", f->path);
    FILE *kp = fopen(keypath, "w");
    if (!fp || !kp)
        return false;
    fputs(f->cert, fp);
    fputs(f->key, kp);
    fclose(fp);
    fclose(kp);
    char why[256];
    ag_tls_opts_t so = {
        .cert_pem = f->cert, .key_pem = f->key, .ca_file = f->path, .client_auth = client_auth};
    ag_tls_opts_t co = {.ca_file = f->path,
                        .cert_file = client_cert ? f->path : NULL,
                        .key_file = client_cert ? keypath : NULL};
    if (ag_tls_ctx_create_server(&so, NULL, &f->server, why, sizeof why) != 0 ||
        ag_tls_ctx_create_client(&co, &f->client, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return false;
    }
    unlink(keypath);
    return ag_tls_create(f->server, emit, &f->to_client, &f->s) == 0 &&
           ag_tls_create(f->client, emit, &f->to_server, &f->c) == 0 &&
           ag_tls_set_hostname(f->c, "localhost") == 0;
}

static int handshake(fixture_t *f)
{
    int rs = AG_TLS_WANT, rc = AG_TLS_WANT;
    for (int i = 0; i < 20 && (rs != AG_TLS_DONE || rc != AG_TLS_DONE); i++) {
        rc = ag_tls_handshake(f->c);
        deliver(&f->to_server, f->s);
        rs = ag_tls_handshake(f->s);
        deliver(&f->to_client, f->c);
        if (rc < 0 || rs < 0)
            return rc < 0 ? rc : rs;
    }
    return rs == AG_TLS_DONE && rc == AG_TLS_DONE ? 0 : -1;
}

static void teardown(fixture_t *f)
{
    ag_tls_destroy(f->s);
    ag_tls_destroy(f->c);
    ag_tls_ctx_destroy(f->server);
    ag_tls_ctx_destroy(f->client);
    unlink(f->path);
    free(f->cert);
    free(f->key);
    ag_buf_dispose(&f->to_client.wire);
    ag_buf_dispose(&f->to_server.wire);
}

TEST(tls_handshake_alpn_and_data_in_memory)
{
    fixture_t f;
    CHECK(setup(&f, AG_CLIENT_AUTH_NONE, false));
    CHECK_EQ(handshake(&f), 0);
    CHECK(ag_tls_handshake_done(f.s));
    CHECK(ag_tls_alpn(f.s) && strcmp(ag_tls_alpn(f.s), "http/1.1") == 0);
    CHECK_EQ(ag_tls_write(f.c, "GET / HTTP/1.1\r\n\r\n", 18), 0);
    deliver(&f.to_server, f.s);
    char buf[64];
    bool closed = false;
    long n = ag_tls_read(f.s, buf, sizeof buf, &closed);
    CHECK_EQ(n, 18);
    CHECK(memcmp(buf, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
    ag_tls_peer_t peer;
    ag_tls_peer(f.s, &peer);
    CHECK(!peer.verified); /* no client certificate asked for */
    ag_tls_close_notify(f.c);
    deliver(&f.to_server, f.s);
    CHECK_EQ(ag_tls_read(f.s, buf, sizeof buf, &closed), 0);
    CHECK(closed);
    teardown(&f);
}

TEST(tls_verified_client_cert_exposes_cn_and_orgs)
{
    fixture_t f;
    CHECK(setup(&f, AG_CLIENT_AUTH_REQUIRE, true));
    CHECK_EQ(handshake(&f), 0);
    ag_tls_peer_t peer;
    ag_tls_peer(f.s, &peer);
    CHECK(peer.verified);
    CHECK_STREQ(peer.cn, "localhost");
    CHECK_EQ(peer.norgs, 1);
    CHECK_STREQ(peer.orgs[0], "authgate demo");
    teardown(&f);
}

TEST(tls_require_client_cert_fails_without_one)
{
    fixture_t f;
    CHECK(setup(&f, AG_CLIENT_AUTH_REQUIRE, false));
    CHECK(handshake(&f) != 0);
    ag_tls_peer_t peer;
    ag_tls_peer(f.s, &peer);
    CHECK(!peer.verified);
    teardown(&f);
}

TEST(tls_optional_client_cert_without_one_is_unverified)
{
    fixture_t f;
    CHECK(setup(&f, AG_CLIENT_AUTH_OPTIONAL, false));
    CHECK_EQ(handshake(&f), 0);
    ag_tls_peer_t peer;
    ag_tls_peer(f.s, &peer);
    CHECK(!peer.verified);
    CHECK_STREQ(peer.cn, "");
    teardown(&f);
}

TEST(tls_feed_is_bounded)
{
    fixture_t f;
    CHECK(setup(&f, AG_CLIENT_AUTH_NONE, false));
    static char junk[32 * 1024];
    CHECK_EQ(ag_tls_feed(f.s, junk, sizeof junk), 0);
    CHECK_EQ(ag_tls_feed(f.s, junk, sizeof junk), 0);
    CHECK_EQ(ag_tls_feed(f.s, junk, sizeof junk), AG_E_TOO_BIG);
    teardown(&f);
}

/* Certificate reload (tls.h ag_tls_ctx_publish/take): the worker adopts its context of a
 * newly published set while a session made with the old one is open; the old context
 * lives on until that session ends (under ASan a missing reference is a use-after-free
 * here), and a set replaced before the worker took it is freed (a leak otherwise). */
TEST(tls_ctx_reload_keeps_established_sessions)
{
    fixture_t f;
    char *cert = NULL, *key = NULL, why[256];
    ag_tls_ctx_t *fresh = NULL, *unused = NULL;
    ag_snap_domain_t *dom = NULL;
    CHECK_EQ(ag_snap_domain_create("test certificate", &dom), 0);
    ag_tls_follow_t next = {.dom = dom, .index = 0};
    CHECK(setup(&f, AG_CLIENT_AUTH_NONE, false));
    CHECK_EQ(handshake(&f), 0);
    CHECK_EQ(ag_tls_selfsigned("localhost", &cert, &key), 0);
    ag_tls_opts_t so = {.cert_pem = cert, .key_pem = key};
    CHECK_EQ(ag_tls_ctx_create_server(&so, NULL, &unused, why, sizeof why), 0);
    CHECK_EQ(ag_tls_ctx_create_server(&so, NULL, &fresh, why, sizeof why), 0);
    ag_tls_ctx_t *cur = f.server;
    CHECK(ag_tls_ctx_take(&cur, &next) == f.server); /* nothing published */
    CHECK_EQ(ag_tls_ctx_publish(dom, &unused, 1), 0);
    CHECK_EQ(ag_tls_ctx_publish(dom, &fresh, 1), 0); /* frees <unused>, never taken */
    CHECK(ag_tls_ctx_take(&cur, &next) == fresh);    /* drops the owner's ref to f.server */
    CHECK(ag_tls_ctx_take(&cur, &next) == fresh);    /* adopted once */
    CHECK_EQ(next.seen, 2);
    f.server = cur;
    CHECK_EQ(ag_tls_write(f.c, "ping", 4), 0); /* the old session still works */
    deliver(&f.to_server, f.s);
    char buf[16];
    bool closed = false;
    CHECK_EQ(ag_tls_read(f.s, buf, sizeof buf, &closed), 4);
    CHECK_EQ(ag_tls_write(f.s, "pong", 4), 0);
    deliver(&f.to_client, f.c);
    CHECK_EQ(ag_tls_read(f.c, buf, sizeof buf, &closed), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    teardown(&f); /* the session's end frees the old context; ours of the fresh one too */
    ag_snap_domain_destroy(dom); /* the set's reference: the fresh context goes */
    free(cert);
    free(key);
}
