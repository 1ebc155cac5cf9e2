/* proxy/net/tls.c over memory only: a client and a server session exchange bytes through
 * buffers (no sockets), so the handshake policy, ALPN and client-certificate identity
 * are tested deterministically. */
#include <stdlib.h>
#include <unistd.h>

#include <mbedtls/ssl_ciphersuites.h>

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
    ag_tls_shared_t *tickets;
    ag_tls_ctx_t *server, *client;
    ag_tls_t *s, *c;
    pipe_t to_client, to_server;
} fixture_t;

/* How a fixture's two sides are made: defaults are zero. */
typedef struct {
    int client_auth;
    bool client_cert;
    bool rsa;     /* server certificate: tests/fixtures/tls/rsa.crt (else a fresh P-256) */
    bool tickets; /* server issues session tickets (the client resumes with them) */
    int server_layer, client_layer; /* AG_TLS_RECORD_* */
    int suite;                      /* the one suite the client offers (0: all) */
} kind_t;

#define RSA_CERT "tests/fixtures/tls/rsa.crt"
#define RSA_KEY "tests/fixtures/tls/rsa.key"

static bool sessions(fixture_t *f)
{
    return ag_tls_create(f->server, emit, &f->to_client, &f->s) == 0 &&
           ag_tls_create(f->client, emit, &f->to_server, &f->c) == 0 &&
           ag_tls_set_hostname(f->c, "localhost") == 0;
}

static bool setup_kind(fixture_t *f, const kind_t *k)
{
    int client_auth = k->client_auth;
    bool client_cert = k->client_cert;
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
    ag_tls_opts_t so = {.cert_pem = k->rsa ? NULL : f->cert,
                        .key_pem = k->rsa ? NULL : f->key,
                        .cert_file = k->rsa ? RSA_CERT : NULL,
                        .key_file = k->rsa ? RSA_KEY : NULL,
                        .ca_file = f->path,
                        .client_auth = client_auth,
                        .record_layer = k->server_layer};
    ag_tls_opts_t co = {.ca_file = k->rsa ? RSA_CERT : f->path,
                        .cert_file = client_cert ? f->path : NULL,
                        .key_file = client_cert ? keypath : NULL,
                        .record_layer = k->client_layer,
                        .ciphersuite = k->suite};
    if ((k->tickets && ag_tls_shared_create(3600, &f->tickets) != 0) ||
        ag_tls_ctx_create_server(&so, f->tickets, &f->server, why, sizeof why) != 0 ||
        ag_tls_ctx_create_client(&co, &f->client, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return false;
    }
    unlink(keypath);
    return sessions(f);
}

static bool setup(fixture_t *f, int client_auth, bool client_cert)
{
    kind_t k = {.client_auth = client_auth, .client_cert = client_cert};
    return setup_kind(f, &k);
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
    ag_tls_shared_destroy(f->tickets);
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

/* ---- the record layer after the handshake (tls_record.c: libcrypto's AEAD) ------------ */

static const struct {
    int id;
    bool rsa;
} suites[] = {
    {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false},
    {MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
    {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false},
    {MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true},
    {MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false},
    {MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
};

enum { LIB = AG_TLS_RECORD_LIBCRYPTO, MBED = AG_TLS_RECORD_MBEDTLS };
/* {server, client} record layers */
static const int pairs[][2] = {{LIB, MBED}, {MBED, LIB}, {LIB, LIB}, {MBED, MBED}};

static bool setup_pair(fixture_t *f, int suite, int pair)
{
    kind_t k = {.rsa = suites[suite].rsa,
                .suite = suites[suite].id,
                .server_layer = pairs[pair][0],
                .client_layer = pairs[pair][1]};
    return setup_kind(f, &k) && handshake(f) == 0 && ag_tls_record_layer(f->s) == pairs[pair][0] &&
           ag_tls_record_layer(f->c) == pairs[pair][1];
}

/* Delivers what <from> holds to <to> and reads the plaintext: bytes read, or the first
 * read's error. */
static long transfer(pipe_t *from, ag_tls_t *to, char *dst, size_t cap, bool *closed)
{
    size_t got = 0;
    long r = 0;
    deliver(from, to);
    while (got < cap && (r = ag_tls_read(to, dst + got, cap - got, closed)) > 0)
        got += (size_t)r;
    return r < 0 ? r : (long)got;
}

static void fill(char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed + i * 31 + (i >> 8));
}

/* One request of <qn> bytes one way and a response of <rn> bytes the other, compared. */
static bool round_trip(fixture_t *f, size_t qn, size_t rn)
{
    static char out[64 * 1024], in[64 * 1024];
    bool closed = false, ok = true;
    fill(out, qn, 7);
    ok &= ag_tls_write(f->c, out, qn) == 0;
    ok &= transfer(&f->to_server, f->s, in, sizeof in, &closed) == (long)qn && !closed;
    ok &= memcmp(in, out, qn) == 0;
    fill(out, rn, 11);
    ok &= ag_tls_write(f->s, out, rn) == 0;
    ok &= transfer(&f->to_client, f->c, in, sizeof in, &closed) == (long)rn && !closed;
    return ok && memcmp(in, out, rn) == 0;
}

/* Both directions' close_notify end the other side's stream cleanly. */
static bool closes(fixture_t *f)
{
    char buf[16];
    bool cs = false, cc = false;
    ag_tls_close_notify(f->c);
    long rs = transfer(&f->to_server, f->s, buf, sizeof buf, &cs);
    ag_tls_close_notify(f->s);
    long rc = transfer(&f->to_client, f->c, buf, sizeof buf, &cc);
    return rs == 0 && cs && rc == 0 && cc;
}

TEST(tls_records_round_trip_every_suite_and_layer_pair)
{
    for (size_t s = 0; s < AG_NELEMS(suites); s++) {
        for (size_t p = 0; p < AG_NELEMS(pairs); p++) {
            fixture_t f;
            int before = ag_test_failures;
            CHECK(setup_pair(&f, (int)s, (int)p));
            CHECK_STREQ(ag_tls_alpn(f.s), "http/1.1");
            CHECK_STREQ(ag_tls_alpn(f.c), "http/1.1");
            CHECK(round_trip(&f, 1200, 700));
            CHECK(round_trip(&f, 20000, 40000)); /* several records each way */
            CHECK(round_trip(&f, 1, 16384));
            CHECK(closes(&f));
            if (ag_test_failures != before)
                fprintf(stderr, "  suite 0x%04x, server layer %d, client layer %d\n", suites[s].id,
                        pairs[p][0], pairs[p][1]);
            teardown(&f);
        }
    }
}

/* Records split at every byte: a partial record stays queued until it is complete. */
TEST(tls_records_fed_one_byte_at_a_time)
{
    for (size_t p = 0; p < AG_NELEMS(pairs); p++) {
        fixture_t f;
        char out[3000], in[3010 + 1];
        size_t got = 0, first_at = 0;
        bool closed = false;
        CHECK(setup_pair(&f, 0, (int)p));
        fill(out, sizeof out, 3);
        CHECK_EQ(ag_tls_write(f.c, out, sizeof out), 0);
        CHECK_EQ(ag_tls_write(f.c, out, 10), 0);
        CHECK_EQ(f.to_server.wire.n, 3000 + 29 + 10 + 29); /* AES-GCM: 29 bytes a record */
        for (size_t i = 0; i < f.to_server.wire.n; i++) {
            CHECK_EQ(ag_tls_feed(f.s, f.to_server.wire.p + i, 1), 0);
            long r = ag_tls_read(f.s, in + got, sizeof in - got, &closed);
            CHECK(r >= 0 && !closed);
            got += r > 0 ? (size_t)r : 0;
            if (got > 0 && !first_at)
                first_at = i + 1;
        }
        CHECK_EQ(first_at, 3029); /* nothing before the first record's last byte */
        CHECK_EQ(got, 3010);
        CHECK(memcmp(in, out, sizeof out) == 0 && memcmp(in + 3000, out, 10) == 0);
        ag_buf_clear(&f.to_server.wire);
        CHECK(round_trip(&f, 100, 100));
        teardown(&f);
    }
}

/* The receiver on libcrypto's record layer refuses a record whose ciphertext or tag was
 * altered: the read fails, the session stays failed (reads and writes), and the peer is
 * told (bad_record_mac) so it fails too. */
TEST(tls_records_flipped_bit_is_fatal)
{
    for (size_t p = 0; p < 3; p++) { /* pairs with a libcrypto side */
        fixture_t f;
        char buf[256];
        bool closed = false;
        CHECK(setup_pair(&f, 4, (int)p)); /* ChaCha20 here, GCM below */
        bool server_lib = pairs[p][0] == LIB;
        ag_tls_t *tx = server_lib ? f.c : f.s, *rx = server_lib ? f.s : f.c;
        pipe_t *wire = server_lib ? &f.to_server : &f.to_client;
        pipe_t *back = server_lib ? &f.to_client : &f.to_server;
        CHECK_EQ(ag_tls_write(tx, "GET / HTTP/1.1\r\n\r\n", 18), 0);
        wire->wire.p[wire->wire.n - 20] ^= 0x04; /* inside the tag's neighbourhood */
        CHECK(transfer(wire, rx, buf, sizeof buf, &closed) < 0);
        CHECK(closed);
        closed = false;
        CHECK(ag_tls_read(rx, buf, sizeof buf, &closed) < 0);
        CHECK(ag_tls_write(rx, "x", 1) != 0);
        CHECK(back->wire.n > 0); /* the alert */
        closed = false;
        CHECK(transfer(back, tx, buf, sizeof buf, &closed) < 0);
        teardown(&f);
    }
    fixture_t f;
    char buf[64];
    bool closed = false;
    CHECK(setup_pair(&f, 0, 0));
    CHECK_EQ(ag_tls_write(f.c, "hello", 5), 0);
    f.to_server.wire.p[5 + 8] ^= 0x80; /* the first ciphertext byte (after the nonce) */
    CHECK(transfer(&f.to_server, f.s, buf, sizeof buf, &closed) < 0);
    teardown(&f);
}

/* The sequence number is in the additional data: a record delivered twice, or two records
 * swapped, fail their tag. */
TEST(tls_records_replayed_or_reordered_record_is_fatal)
{
    for (size_t p = 0; p < 3; p += 2) { /* server on libcrypto; client on mbedTLS, libcrypto */
        fixture_t f;
        char a[128], b[128], buf[64];
        size_t an, bn;
        bool closed = false;
        CHECK(setup_pair(&f, 2, (int)p));
        CHECK_EQ(ag_tls_write(f.c, "one", 3), 0);
        an = f.to_server.wire.n;
        memcpy(a, f.to_server.wire.p, an);
        ag_buf_clear(&f.to_server.wire);
        CHECK_EQ(ag_tls_write(f.c, "two", 3), 0);
        bn = f.to_server.wire.n;
        memcpy(b, f.to_server.wire.p, bn);
        ag_buf_clear(&f.to_server.wire);
        CHECK_EQ(ag_tls_feed(f.s, a, an), 0);
        CHECK_EQ(ag_tls_read(f.s, buf, sizeof buf, &closed), 3);
        CHECK_EQ(ag_tls_feed(f.s, a, an), 0); /* replayed */
        CHECK(ag_tls_read(f.s, buf, sizeof buf, &closed) < 0);
        teardown(&f);

        CHECK(setup_pair(&f, 2, (int)p));
        CHECK_EQ(ag_tls_write(f.c, "one", 3), 0);
        ag_buf_clear(&f.to_server.wire);
        CHECK_EQ(ag_tls_write(f.c, "two", 3), 0);
        closed = false;
        CHECK(transfer(&f.to_server, f.s, buf, sizeof buf, &closed) < 0); /* "one" dropped */
        teardown(&f);
    }
}

/* After the handshake only application data and alerts may come: a handshake record (a
 * renegotiation attempt), ChangeCipherSpec, heartbeat or unknown type, another version,
 * or a length out of bounds ends the session as soon as the header is seen. */
TEST(tls_records_bad_header_after_switch_is_fatal)
{
    static const unsigned char heads[][5] = {
        {22, 3, 3, 0, 40},        /* handshake: renegotiation */
        {20, 3, 3, 0, 40},        /* change_cipher_spec */
        {24, 3, 3, 0, 40},        /* heartbeat */
        {99, 3, 3, 0, 40},        /* unknown */
        {23, 3, 1, 0, 40},        /* TLS 1.0 */
        {23, 3, 3, 0x48, 0x01},   /* 2^14 + 2048 + 1 */
        {23, 3, 3, 0x40, 24 + 1}, /* GCM: 2^14 + 1 bytes of plaintext */
        {23, 3, 3, 0, 23},        /* GCM: shorter than nonce and tag */
        {21, 3, 3, 0, 0},         /* an empty alert record */
    };
    for (size_t i = 0; i < AG_NELEMS(heads); i++) {
        fixture_t f;
        char buf[64];
        bool closed = false;
        CHECK(setup_pair(&f, 0, 0));
        CHECK_EQ(ag_tls_feed(f.s, (const char *)heads[i], 5), 0);
        long r = ag_tls_read(f.s, buf, sizeof buf, &closed);
        CHECK(r < 0 && closed);
        if (r >= 0)
            fprintf(stderr, "  header %zu was accepted\n", i);
        CHECK(f.to_client.wire.n > 0); /* a fatal alert went out */
        teardown(&f);
    }
}

/* A resumed (abbreviated) handshake exports its keys too and switches; application data
 * the client sends right behind its Finished (the same feed) is left in the input queue
 * by mbedTLS and read on libcrypto's record layer. */
TEST(tls_records_switch_after_resumed_handshake)
{
    fixture_t f;
    kind_t k = {.tickets = true};
    CHECK(setup_kind(&f, &k));
    CHECK_EQ(handshake(&f), 0);
    CHECK(round_trip(&f, 10, 10));
    ag_tls_destroy(f.s);
    ag_tls_destroy(f.c);
    CHECK(sessions(&f));
    CHECK_EQ(ag_tls_handshake(f.c), AG_TLS_WANT);
    deliver(&f.to_server, f.s);
    CHECK_EQ(ag_tls_handshake(f.s), AG_TLS_WANT);
    size_t flight = f.to_client.wire.n; /* ServerHello, CCS, Finished: no certificate */
    CHECK(flight > 0 && flight < 200);
    deliver(&f.to_client, f.c);
    CHECK_EQ(ag_tls_handshake(f.c), AG_TLS_DONE); /* the client finishes first here */
    CHECK_EQ(ag_tls_write(f.c, "early", 5), 0);   /* behind its Finished, in one feed */
    deliver(&f.to_server, f.s);
    CHECK_EQ(ag_tls_handshake(f.s), AG_TLS_DONE);
    char buf[16];
    bool closed = false;
    CHECK_EQ(ag_tls_read(f.s, buf, sizeof buf, &closed), 5); /* read by tls_record.c */
    CHECK(memcmp(buf, "early", 5) == 0);
    CHECK_EQ(ag_tls_record_layer(f.s), LIB);
    CHECK_EQ(ag_tls_record_layer(f.c), LIB);
    CHECK(round_trip(&f, 3000, 20000));
    CHECK(closes(&f));
    teardown(&f);
}

/* An idle session gives its EVP state back (ag_tls_release) and rebuilds it from the
 * kept keys at the next record; the verified client certificate survives the switch. */
TEST(tls_records_release_and_peer_after_switch)
{
    fixture_t f;
    kind_t k = {.client_auth = AG_CLIENT_AUTH_REQUIRE, .client_cert = true};
    CHECK(setup_kind(&f, &k));
    CHECK_EQ(handshake(&f), 0);
    CHECK_EQ(ag_tls_record_layer(f.s), LIB);
    ag_tls_peer_t peer;
    ag_tls_peer(f.s, &peer);
    CHECK(peer.verified);
    CHECK_STREQ(peer.cn, "localhost");
    CHECK_EQ(peer.norgs, 1);
    CHECK(round_trip(&f, 100, 100));
    ag_tls_release(f.s);
    ag_tls_release(f.c);
    CHECK(ag_tls_released(f.s) && ag_tls_released(f.c));
    CHECK(round_trip(&f, 1000, 1000));
    teardown(&f);
}
