/* tlsfloor: what mbedTLS 2.28 itself costs per TLS connection on this machine (issue 17),
 * the floor beside which bench/run.sh reports a server's memory per idle connection and
 * bench/RESULTS.md its per-request CPU. In one process, over memory (no sockets):
 *   - memory: N server sessions (TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256, P-256) each after
 *     its handshake and one request/response exchange (1 KiB in, 600 bytes out, the size
 *     of the benchmark's exchange); the heap bytes mbedTLS keeps per server session
 *     (mallinfo2 deltas taken around the server's calls only) and the RSS growth per
 *     session after malloc_trim (server calls on their own thread, clients freed at the end). The
 *     RSS figure is the floor a server's RSS per idle connection compares with: pages of
 *     the record buffers that were never touched are not resident, so it is below the
 *     heap figure;
 *   - record crypto: CPU per record for mbedtls_ssl_write (encrypt) and mbedtls_ssl_read
 *     (decrypt) of typical sizes on an established session, and mbedtls_gcm_crypt_and_tag
 *     alone (thread CPU time, median of 7 rounds);
 *   - the same through authgate's sessions (proxy/net/tls.c) on libcrypto's record layer
 *     (tls_record.c, the default after the handshake): ag_tls_write, and ag_tls_feed +
 *     ag_tls_read, and the heap an idle such server session keeps after ag_tls_release
 *     (no mbedTLS context or record buffers left).
 *   tlsfloor [--sessions N] [--json FILE]
 * No file is read or written but --json; nothing listens. */
#include <malloc.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_internal.h> /* MBEDTLS_SSL_IN_BUFFER_LEN: the record buffer size */
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "net/tls.h"

#define PIPE_CAP (64 * 1024)
#define ROUNDS 7

typedef struct {
    unsigned char b[PIPE_CAP];
    size_t n, off;
} pipe_t;

typedef struct {
    mbedtls_ssl_context ssl;
    pipe_t *in; /* bytes the peer sent, not yet read */
    pipe_t *out;
} end_t;

static pipe_t pipes[2]; /* client -> server, server -> client: one pair talks at a time */

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_ssl_config srv_conf, cli_conf;
static mbedtls_x509_crt crt;
static mbedtls_pk_context key;
static const int suite[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0};
static size_t heap_acc; /* heap bytes retained by server-side calls */

static void die(const char *what, int rc)
{
    fprintf(stderr, "tlsfloor: %s failed (%d)\n", what, rc);
    exit(1);
}

static int send_cb(void *ud, const unsigned char *p, size_t n)
{
    pipe_t *o = ((end_t *)ud)->out;
    if (o->n + n > PIPE_CAP)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    memcpy(o->b + o->n, p, n);
    o->n += n;
    return (int)n;
}

static int recv_cb(void *ud, unsigned char *p, size_t n)
{
    pipe_t *i = ((end_t *)ud)->in;
    size_t avail = i->n - i->off;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    n = n < avail ? n : avail;
    memcpy(p, i->b + i->off, n);
    i->off += n;
    if (i->off == i->n)
        i->off = i->n = 0;
    return (int)n;
}

static void setup_conf(void)
{
    char *cert_pem = NULL, *key_pem = NULL;
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_entropy_init(&entropy);
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
    if (rc || ag_tls_selfsigned("localhost", &cert_pem, &key_pem) != 0)
        die("seed/certificate", rc);
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
    if ((rc = mbedtls_x509_crt_parse(&crt, (unsigned char *)cert_pem, strlen(cert_pem) + 1)) ||
        (rc = mbedtls_pk_parse_key(&key, (unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0)))
        die("parse", rc);
    free(cert_pem);
    free(key_pem);
    mbedtls_ssl_config *confs[2] = {&srv_conf, &cli_conf};
    for (int i = 0; i < 2; i++) {
        mbedtls_ssl_config_init(confs[i]);
        if ((rc = mbedtls_ssl_config_defaults(
                 confs[i], i ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)))
            die("config", rc);
        mbedtls_ssl_conf_rng(confs[i], mbedtls_ctr_drbg_random, &drbg);
        mbedtls_ssl_conf_ciphersuites(confs[i], suite);
        mbedtls_ssl_conf_min_version(confs[i], 3, 3);
        mbedtls_ssl_conf_max_version(confs[i], 3, 3);
    }
    mbedtls_ssl_conf_authmode(&cli_conf, MBEDTLS_SSL_VERIFY_NONE);
    if ((rc = mbedtls_ssl_conf_own_cert(&srv_conf, &crt, &key)))
        die("own cert", rc);
}

static size_t heap_now(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd; /* heap chunks and mmapped ones */
}

/* The server end's calls run on their own thread while memory is measured (a fresh malloc
 * arena, as a server's worker thread has, with no client allocation in it); inline
 * otherwise. One call at a time: the main thread waits for each. */
enum { OP_SETUP, OP_HANDSHAKE, OP_WRITE, OP_READ, OP_FREE };
typedef struct {
    int op;
    end_t *e;
    const unsigned char *p;
    size_t n;
    int rc;
} srv_op_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static srv_op_t *pending;
static bool threaded, quit;

static void srv_do(srv_op_t *o)
{
    static unsigned char buf[16384];
    size_t h0 = heap_now(), got = 0;
    switch (o->op) {
    case OP_SETUP:
        mbedtls_ssl_init(&o->e->ssl);
        o->rc = mbedtls_ssl_setup(&o->e->ssl, &srv_conf);
        break;
    case OP_HANDSHAKE:
        o->rc = mbedtls_ssl_handshake(&o->e->ssl);
        break;
    case OP_WRITE:
        o->rc = mbedtls_ssl_write(&o->e->ssl, o->p, o->n) == (int)o->n ? 0 : -1;
        break;
    case OP_READ:
        for (o->rc = 0; got < o->n && o->rc >= 0;) {
            int r = mbedtls_ssl_read(&o->e->ssl, buf, sizeof buf);
            o->rc = r > 0 ? 0 : -1;
            got += r > 0 ? (size_t)r : 0;
        }
        break;
    default:
        mbedtls_ssl_free(&o->e->ssl);
    }
    heap_acc += heap_now() - h0; /* only this end runs meanwhile */
}

static void *srv_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!quit) {
        if (!pending) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        srv_do(pending);
        pending = NULL;
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int srv_run(int op, end_t *e, const unsigned char *p, size_t n)
{
    srv_op_t o = {op, e, p, n, 0};
    if (!threaded) {
        srv_do(&o);
        return o.rc;
    }
    pthread_mutex_lock(&mu);
    pending = &o;
    pthread_cond_broadcast(&cv);
    while (pending)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return o.rc;
}

static void pair_init(end_t *s, end_t *c)
{
    memset(c, 0, sizeof *c);
    memset(pipes, 0, sizeof pipes);
    c->out = s->in = &pipes[0];
    s->out = c->in = &pipes[1];
    int rc = srv_run(OP_SETUP, s, NULL, 0);
    mbedtls_ssl_init(&c->ssl);
    if (rc || (rc = mbedtls_ssl_setup(&c->ssl, &cli_conf)))
        die("ssl_setup", rc);
    mbedtls_ssl_set_bio(&s->ssl, s, send_cb, recv_cb, NULL);
    mbedtls_ssl_set_bio(&c->ssl, c, send_cb, recv_cb, NULL);
    for (int i = 0; i < 40; i++) {
        int rs = srv_run(OP_HANDSHAKE, s, NULL, 0), rcl = mbedtls_ssl_handshake(&c->ssl);
        if (rs == 0 && rcl == 0)
            return;
        if ((rs && rs != MBEDTLS_ERR_SSL_WANT_READ) || (rcl && rcl != MBEDTLS_ERR_SSL_WANT_READ))
            die("handshake", rs ? rs : rcl);
    }
    die("handshake rounds", 0);
}

/* The client sends <req>, the server reads it and answers <resp>, the client reads that. */
static void exchange(end_t *s, end_t *c, size_t req, size_t resp)
{
    static unsigned char p[16384], buf[16384];
    if (mbedtls_ssl_write(&c->ssl, p, req) != (int)req || srv_run(OP_READ, s, NULL, req) != 0 ||
        srv_run(OP_WRITE, s, p, resp) != 0)
        die("exchange", 0);
    for (size_t got = 0; got < resp;) {
        int r = mbedtls_ssl_read(&c->ssl, buf, sizeof buf);
        if (r <= 0)
            die("read", r);
        got += (size_t)r;
    }
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* N server sessions after a handshake and one 1 KiB request / 600-byte response. The
 * clients live until all pairs are made (so no server allocation reuses a client's freed,
 * already touched memory: sessions arriving at a server take fresh memory), then they are
 * freed and malloc_trim hands their pages back, as authgate's idle sweep does. */
static void memory_floor(int n, double *heap_b, double *rss_b)
{
    pthread_t th;
    if (pthread_create(&th, NULL, srv_thread, NULL) != 0)
        die("pthread_create", 0);
    threaded = true;
    end_t *srv = calloc((size_t)n, sizeof *srv), *cli = calloc((size_t)n + 1, sizeof *cli);
    end_t *warm = calloc(1, sizeof *warm);
    if (!srv || !cli || !warm)
        die("calloc", 0);
    pair_init(warm, &cli[n]); /* first-use allocations (ECP tables, DRBG) out of the count */
    exchange(warm, &cli[n], 1024, 600);
    mbedtls_ssl_free(&cli[n].ssl);
    memset(srv, 0, (size_t)n * sizeof *srv); /* the array's own pages are resident before */
    heap_acc = 0;
    long r0 = rss_kib();
    for (int i = 0; i < n; i++) {
        pair_init(&srv[i], &cli[i]);
        exchange(&srv[i], &cli[i], 1024, 600);
    }
    for (int i = 0; i < n; i++)
        mbedtls_ssl_free(&cli[i].ssl);
    malloc_trim(0);
    long r1 = rss_kib();
    *heap_b = (double)(heap_acc + (size_t)n * sizeof(mbedtls_ssl_context)) / n;
    *rss_b = (double)(r1 - r0) * 1024.0 / n + sizeof(mbedtls_ssl_context);
    for (int i = 0; i < n; i++)
        srv_run(OP_FREE, &srv[i], NULL, 0);
    srv_run(OP_FREE, warm, NULL, 0);
    pthread_mutex_lock(&mu);
    quit = true;
    threaded = false;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(th, NULL);
    free(srv);
    free(cli);
    free(warm);
}

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    size_t size;
    double enc_ns, dec_ns, gcm_ns;
    double lc_enc_ns, lc_dec_ns; /* authgate's sessions on libcrypto's record layer */
} rec_t;

/* One record each way through a pair of sessions: <write> encrypts <size> bytes, <read>
 * decrypts them on the other side. */
typedef struct {
    void (*write)(void *pair, size_t size);
    void (*read)(void *pair, size_t size);
    void *pair;
} rec_io_t;

/* Median over ROUNDS of the CPU time per record: *enc_ns the writer's, *dec_ns the
 * reader's. */
static void time_records(const rec_io_t *io, size_t size, int iters, double *enc_ns, double *dec_ns)
{
    double enc[ROUNDS], dec[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        enc[k] = dec[k] = 0;
        for (int i = 0; i < iters; i++) {
            double t0 = cpu_ns();
            io->write(io->pair, size);
            double t1 = cpu_ns();
            io->read(io->pair, size);
            enc[k] += t1 - t0;
            dec[k] += cpu_ns() - t1;
        }
        enc[k] /= iters;
        dec[k] /= iters;
    }
    qsort(enc, ROUNDS, sizeof(double), cmp_d);
    qsort(dec, ROUNDS, sizeof(double), cmp_d);
    *enc_ns = enc[ROUNDS / 2];
    *dec_ns = dec[ROUNDS / 2];
}

typedef struct {
    end_t *s, *c;
} mbed_pair_t;

static void mbed_write(void *pair, size_t size)
{
    static unsigned char p[16384];
    mbed_pair_t *m = pair;
    if (mbedtls_ssl_write(&m->c->ssl, p, size) != (int)size)
        die("write", 0);
}

static void mbed_read(void *pair, size_t size)
{
    static unsigned char buf[16384];
    mbed_pair_t *m = pair;
    for (size_t got = 0; got < size;) {
        int n = mbedtls_ssl_read(&m->s->ssl, buf, sizeof buf);
        if (n <= 0)
            die("read", n);
        got += (size_t)n;
    }
}

/* mbedTLS's own record layer: the client encrypts, the server decrypts. */
static void record_cost(end_t *s, end_t *c, rec_t *r, int iters)
{
    mbed_pair_t m = {s, c};
    rec_io_t io = {mbed_write, mbed_read, &m};
    time_records(&io, r->size, iters, &r->enc_ns, &r->dec_ns);
}

static void gcm_cost(rec_t *r, int iters)
{
    static unsigned char p[16384], out[16384], iv[12], tag[16], aad[13], k16[16];
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    if (mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, k16, 128))
        die("gcm_setkey", 0);
    double v[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = cpu_ns();
        for (int i = 0; i < iters; i++) {
            iv[0] = (unsigned char)i;
            mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, r->size, iv, sizeof iv, aad,
                                      sizeof aad, p, out, sizeof tag, tag);
        }
        v[k] = (cpu_ns() - t0) / iters;
    }
    qsort(v, ROUNDS, sizeof(double), cmp_d);
    r->gcm_ns = v[ROUNDS / 2];
    mbedtls_gcm_free(&g);
}

/* ---- authgate's sessions (tls.h) on libcrypto's record layer ------------------------- */

typedef struct {
    char b[PIPE_CAP];
    size_t n;
} sink_t;

static sink_t to_srv, to_cli; /* one pair talks at a time */
static ag_tls_ctx_t *ag_srv, *ag_cli;

static void sink_emit(void *ud, const char *p, size_t n)
{
    sink_t *k = ud;
    if (k->n + n > PIPE_CAP)
        die("sink full", 0);
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static void ag_setup(void)
{
    char *cert = NULL, *key_pem = NULL, why[256] = "";
    if (ag_tls_selfsigned("localhost", &cert, &key_pem) != 0)
        die("selfsigned", 0);
    ag_tls_opts_t so = {.cert_pem = cert, .key_pem = key_pem};
    ag_tls_opts_t co = {.verify_none = true,
                        .ciphersuite = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256};
    if (ag_tls_ctx_create_server(&so, NULL, &ag_srv, why, sizeof why) != 0 ||
        ag_tls_ctx_create_client(&co, &ag_cli, why, sizeof why) != 0) {
        fprintf(stderr, "tlsfloor: %s\n", why);
        exit(1);
    }
    free(cert);
    free(key_pem);
}

static void ag_deliver(sink_t *from, ag_tls_t *to)
{
    if (from->n && ag_tls_feed(to, from->b, from->n) != 0)
        die("ag_tls_feed", 0);
    from->n = 0;
}

/* A server and a client session after their handshake, both on libcrypto's records. */
static void ag_pair(ag_tls_t **s, ag_tls_t **c)
{
    if (ag_tls_create(ag_srv, sink_emit, &to_cli, s) != 0 ||
        ag_tls_create(ag_cli, sink_emit, &to_srv, c) != 0)
        die("ag_tls_create", 0);
    int rs = AG_TLS_WANT, rc = AG_TLS_WANT;
    for (int i = 0; i < 40 && (rs != AG_TLS_DONE || rc != AG_TLS_DONE); i++) {
        if ((rc = ag_tls_handshake(*c)) < 0)
            die("client handshake", rc);
        ag_deliver(&to_srv, *s);
        if ((rs = ag_tls_handshake(*s)) < 0)
            die("server handshake", rs);
        ag_deliver(&to_cli, *c);
    }
    if (ag_tls_record_layer(*s) != AG_TLS_RECORD_LIBCRYPTO ||
        ag_tls_record_layer(*c) != AG_TLS_RECORD_LIBCRYPTO)
        die("switch to libcrypto's record layer", 0);
}

static void ag_read_n(ag_tls_t *t, size_t n)
{
    static char buf[16384];
    bool closed = false;
    for (size_t got = 0; got < n;) {
        long r = ag_tls_read(t, buf, sizeof buf, &closed);
        if (r <= 0)
            die("ag_tls_read", (int)r);
        got += (size_t)r;
    }
}

typedef struct {
    ag_tls_t *s, *c;
} ag_pair_t;

static void ag_write(void *pair, size_t size)
{
    static char p[16384];
    if (ag_tls_write(((ag_pair_t *)pair)->c, p, size) != 0)
        die("ag_tls_write", 0);
}

static void ag_read(void *pair, size_t size)
{
    ag_tls_t *s = ((ag_pair_t *)pair)->s;
    ag_deliver(&to_srv, s);
    ag_read_n(s, size);
}

/* Client writes a record of r->size (encrypt), the server feeds and reads it (decrypt). */
static void ag_record_cost(ag_tls_t *s, ag_tls_t *c, rec_t *r, int iters)
{
    ag_pair_t m = {s, c};
    rec_io_t io = {ag_write, ag_read, &m};
    time_records(&io, r->size, iters, &r->lc_enc_ns, &r->lc_dec_ns);
}

/* Heap per idle server session on libcrypto's records: <n> pairs after one 1 KiB / 600 B
 * exchange, the clients destroyed, the servers released (ag_tls_release, as an idle
 * keep-alive connection is after 1 s); in-use heap bytes counted, freed ones not. */
static double ag_idle_heap(int n)
{
    static char p[1024];
    ag_tls_t **s = calloc((size_t)n, sizeof *s), **c = calloc((size_t)n, sizeof *c);
    if (!s || !c)
        die("calloc", 0);
    ag_pair(&s[0], &c[0]); /* first-use allocations out of the count */
    ag_tls_destroy(s[0]);
    ag_tls_destroy(c[0]);
    size_t h0 = heap_now();
    for (int i = 0; i < n; i++) {
        ag_pair(&s[i], &c[i]);
        if (ag_tls_write(c[i], p, 1024) != 0)
            die("ag_tls_write", 0);
        ag_deliver(&to_srv, s[i]);
        ag_read_n(s[i], 1024);
        if (ag_tls_write(s[i], p, 600) != 0)
            die("ag_tls_write", 0);
        ag_deliver(&to_cli, c[i]);
        ag_read_n(c[i], 600);
    }
    for (int i = 0; i < n; i++) {
        ag_tls_destroy(c[i]);
        ag_tls_release(s[i]);
    }
    double per = ((double)heap_now() - (double)h0) / n;
    for (int i = 0; i < n; i++)
        ag_tls_destroy(s[i]);
    free(s);
    free(c);
    return per;
}

static void write_json(const char *path, int n, double heap_b, double rss_b, double idle_b,
                       const rec_t *recs, int nrec)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("open --json", 0);
    fprintf(f,
            "{\"mbedtls\": \"%s\", \"sessions\": %d, \"floor_heap_bytes\": %.0f, "
            "\"floor_rss_bytes\": %.0f, \"libcrypto_idle_heap_bytes\": %.0f, \"records\": [",
            ag_tls_mbedtls_version(true), n, heap_b, rss_b, idle_b);
    for (int i = 0; i < nrec; i++)
        fprintf(f,
                "%s{\"bytes\": %zu, \"write_ns\": %.1f, \"read_ns\": %.1f, \"gcm_ns\": %.1f, "
                "\"libcrypto_write_ns\": %.1f, \"libcrypto_read_ns\": %.1f}",
                i ? ", " : "", recs[i].size, recs[i].enc_ns, recs[i].dec_ns, recs[i].gcm_ns,
                recs[i].lc_enc_ns, recs[i].lc_dec_ns);
    fprintf(f, "]}\n");
    fclose(f);
}

/* Record crypto on one established pair, printed as a Markdown table. */
static void record_table(rec_t *recs, int nrec)
{
    static const size_t sizes[] = {64, 256, 700, 1200, 4096, 16384};
    end_t *s = calloc(1, sizeof *s), *c = calloc(1, sizeof *c);
    ag_tls_t *as, *ac;
    if (!s || !c)
        die("calloc", 0);
    pair_init(s, c);
    ag_pair(&as, &ac);
    printf("\n| record bytes | ssl_write (encrypt) ns | ssl_read (decrypt) ns | gcm alone ns | "
           "MB/s (read) | libcrypto layer write ns | libcrypto layer read ns | MB/s (read) "
           "|\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nrec; i++) {
        recs[i] = (rec_t){.size = sizes[i]};
        int iters = sizes[i] > 4096 ? 200 : 2000;
        record_cost(s, c, &recs[i], iters);
        gcm_cost(&recs[i], iters);
        ag_record_cost(as, ac, &recs[i], iters);
        printf("| %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", sizes[i],
               recs[i].enc_ns, recs[i].dec_ns, recs[i].gcm_ns, sizes[i] / recs[i].dec_ns * 1e3,
               recs[i].lc_enc_ns, recs[i].lc_dec_ns, sizes[i] / recs[i].lc_dec_ns * 1e3);
    }
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_free(&c->ssl);
    ag_tls_destroy(as);
    ag_tls_destroy(ac);
    free(s);
    free(c);
}

int main(int argc, char **argv)
{
    int n = 200;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sessions") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else
            n = -1;
    }
    if (n < 10 || n > 100000) {
        fprintf(stderr, "usage: tlsfloor [--sessions 10..100000] [--json FILE]\n");
        return 2;
    }
    ag_tls_malloc_tune(); /* the allocator as authgate serve sets it */
    setup_conf();
    double heap_b, rss_b;
    memory_floor(n, &heap_b, &rss_b);
    printf("mbedTLS %s, TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256; %d server sessions, each after "
           "a handshake and one request/response\n",
           ag_tls_mbedtls_version(true), n);
    printf("memory floor per session: heap %.0f B (%.1f KiB: ssl context %zu B, record buffers "
           "%d + %d B), RSS %.1f KiB\n",
           heap_b, heap_b / 1024, sizeof(mbedtls_ssl_context), (int)MBEDTLS_SSL_IN_BUFFER_LEN,
           (int)MBEDTLS_SSL_OUT_BUFFER_LEN, rss_b / 1024);
    ag_setup();
    double idle = ag_idle_heap(n);
    printf("libcrypto record layer (authgate's default after the handshake): heap per idle "
           "server session after ag_tls_release %.0f B (%.1f KiB), no mbedTLS context kept\n",
           idle, idle / 1024);
    rec_t recs[6];
    record_table(recs, 6);
    if (json)
        write_json(json, n, heap_b, rss_b, idle, recs, 6);
    return 0;
}
