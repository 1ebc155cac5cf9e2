/* loadgen: open-loop HTTP/1.1 latency generator (issue 8). Sends requests at a constant
 * arrival rate (request i is due at t0 + i/rate) over a pool of keep-alive connections, one
 * request in flight per connection; a request that finds every connection busy waits in the
 * queue and that wait counts. Latency is measured from the intended send time, so a stalled
 * target cannot hide its stall (no coordinated omission). TLS by mbedTLS, responses parsed by
 * llhttp, latencies in bench/hist.h. Bounded: refuses runs longer than --max-duration and
 * targets other than loopback unless --allow-remote. `--hold N` instead opens N idle TLS
 * connections for memory measurements. One file on purpose: each bench C file is a program;
 * it runs past 800 lines because the TLS glue, the scheduler and the report belong together. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <math.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/str.h"
#include "bench/hist.h"
#include "files.h"

#define LG_MAX_CONNS 60000 /* ports on one loopback address */
#define LG_MAX_TOKENS_BYTES (256u << 20)
#define LG_MAX_HEADERS_BYTES (64u << 10)
#define LG_MAX_OUT_BYTES (1u << 20) /* one request head + body, TLS framed */
#define LG_MAX_RATE 1e6
#define LG_SWEEP_MS 20        /* timeouts, reconnects, end of run */
#define LG_START_PARALLEL 200 /* connects + handshakes in progress at once */
#define NS 1000000000.0

enum { E_CONNECT, E_TLS, E_READ, E_WRITE, E_EOF, E_PARSE, E_TIMEOUT, E_UNSENT, E__COUNT };
static const char *const err_names[E__COUNT] = {"connect", "tls",   "read",    "write",
                                                "eof",     "parse", "timeout", "unsent"};

typedef enum { C_CLOSED, C_CONNECTING, C_HANDSHAKE, C_IDLE, C_BUSY, C_CLOSING } conn_state;
typedef enum { P_CONNECTING, P_RUNNING, P_DRAINING, P_HOLDING, P_DONE } run_phase;

typedef struct {
    const char *url, *method, *tokens_file, *cacert, *json_path, *body, *servername, *cipher;
    const char *cpu_pids;   /* --cpu-pids: processes whose CPU the measured window reports */
    const char *window_ctl; /* --window-ctl: a perf --control FIFO told when the window opens */
    double rate, duration, warmup, max_duration, timeout, hold_time;
    int connections, hold;
    bool insecure, allow_remote, quiet, resume, hold_request, closed;
    ag_buf_t headers; /* extra "Name: value\r\n" lines */
} opts_t;

typedef struct lg lg_t;

typedef struct {
    lg_t *lg;
    int id;
    conn_state state;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    bool writing, failed_connect, ssl_ready, in_ring, held; /* held: --hold-request sent */
    mbedtls_ssl_context ssl;
    ag_buf_t tls_in; /* ciphertext received, not yet consumed by mbedTLS */
    size_t tls_in_off;
    ag_buf_t out, wbuf; /* bytes queued / bytes being written */
    ag_buf_t plain;     /* request head being framed by TLS */
    llhttp_t parser;
    bool done;
    int status;
    uint64_t req, intended_ns, sent_ns, conn_ns;
    char rbuf[16384];
} conn_t;

struct lg {
    opts_t o;
    uv_loop_t *loop;
    bool https;
    char host[256], port[8], authority[280];
    ag_str_t path;
    struct sockaddr_storage addr;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_ssl_session session; /* --tls-resume: the first full handshake's session */
    bool have_session;
    int ciphers[2];    /* --tls-cipher: the one suite offered, 0-terminated */
    char tls_info[96]; /* version and suite of the first handshake */
    llhttp_settings_t settings;
    ag_buf_t tokens_text;
    ag_str_t *tokens;
    size_t ntokens;
    conn_t *conns;
    int nconns, *idle, idle_head, idle_len; /* FIFO ring of idle connection ids */
    int ready, failed, start_next;
    bool announced;
    run_phase phase;
    int timer_fd;
    uv_poll_t tick;
    uv_timer_t sweep;
    uv_signal_t sigint, sigterm;
    uint64_t t0, start_ns, last_done_ns, warmup_ns, end_sched_ns, connect_deadline;
    uint64_t total, warm, next_sched, next_send; /* request indices */
    uint64_t completed, measured_done, ok2xx, errors[E__COUNT], measured_errors;
    uint64_t status[600];
    ag_hist_t lat, svc, lag;
    int exit_code;
    /* --closed: the measured window (loop ns) and the --cpu-pids clock ticks across it */
    bool w_open;
    uint64_t w_t0, w_t1;
    long long cpu0, cpu1, sys0, sys1;
    int ctl_fd; /* --window-ctl: -1 when unused */
};

static void conn_start(conn_t *c);
static void conn_close(conn_t *c, int kind);
static void dispatch(lg_t *lg);
static void finish(lg_t *lg);
static void start_more(lg_t *lg);

static uint64_t now_ns(void)
{
    return uv_hrtime(); /* CLOCK_MONOTONIC, the clock timerfd is armed with */
}

static uint64_t intended(const lg_t *lg, uint64_t i)
{
    return lg->t0 + (uint64_t)((double)i * NS / lg->o.rate);
}

__attribute__((noreturn)) static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "loadgen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

/* ---- output: bytes queued by mbedTLS or by the plain-text path, one write at a time ---- */

static void on_write(uv_write_t *req, int status);

static void flush(conn_t *c)
{
    if (c->writing || c->out.n == 0 || c->state == C_CLOSING || c->state == C_CLOSED)
        return;
    ag_buf_t t = c->wbuf; /* swap: wbuf is handed to the kernel, out keeps collecting */
    c->wbuf = c->out;
    c->out = t;
    ag_buf_clear(&c->out);
    uv_buf_t b = uv_buf_init(c->wbuf.p, (unsigned)c->wbuf.n);
    c->writing = true;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        c->writing = false;
        conn_close(c, E_WRITE);
    }
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    ag_buf_clear(&c->wbuf);
    if (status == UV_ECANCELED)
        return;
    if (status < 0) {
        conn_close(c, E_WRITE);
        return;
    }
    flush(c);
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    conn_t *c = ctx;
    if (ag_buf_append(&c->out, p, n) != 0)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    conn_t *c = ctx;
    size_t have = c->tls_in.n - c->tls_in_off;
    if (have == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n > have)
        n = have;
    memcpy(p, c->tls_in.p + c->tls_in_off, n);
    c->tls_in_off += n;
    if (c->tls_in_off == c->tls_in.n) {
        ag_buf_clear(&c->tls_in);
        c->tls_in_off = 0;
    }
    return (int)n;
}

/* ---- the pool: idle connections in a FIFO so load spreads over all of them ---- */

static void idle_push(lg_t *lg, conn_t *c)
{
    c->state = C_IDLE;
    if (c->in_ring) /* a stale entry from before a reconnect still stands for it */
        return;
    c->in_ring = true;
    lg->idle[(lg->idle_head + lg->idle_len) % lg->nconns] = c->id;
    lg->idle_len++;
}

static conn_t *idle_pop(lg_t *lg)
{
    while (lg->idle_len > 0) {
        conn_t *c = &lg->conns[lg->idle[lg->idle_head]];
        lg->idle_head = (lg->idle_head + 1) % lg->nconns;
        lg->idle_len--;
        c->in_ring = false;
        if (c->state == C_IDLE) /* entries of connections closed meanwhile are skipped */
            return c;
    }
    return NULL;
}

static void send_request(lg_t *lg, conn_t *c, uint64_t i);

/* --hold-request: a held connection counts as ready once its one request was answered
 * with a 2xx (a kept-alive connection that served a request, as clients leave them). */
static bool hold_request_first(conn_t *c)
{
    lg_t *lg = c->lg;
    if (lg->phase != P_HOLDING || !lg->o.hold_request || c->held)
        return false;
    c->held = true;
    send_request(lg, c, (uint64_t)c->id);
    return true;
}

static void hold_answered(conn_t *c)
{
    lg_t *lg = c->lg;
    if (c->status >= 200 && c->status < 300) {
        c->failed_connect = false;
        lg->ready++;
    } else {
        lg->failed++;
        c->failed_connect = true; /* not retried: the count stands */
    }
    c->state = C_IDLE;
    start_more(lg);
}

static void conn_ready(conn_t *c)
{
    lg_t *lg = c->lg;
    if (hold_request_first(c))
        return;
    c->failed_connect = false;
    if (lg->phase == P_CONNECTING || lg->phase == P_HOLDING)
        lg->ready++;
    idle_push(lg, c);
    if (lg->phase == P_HOLDING || lg->phase == P_CONNECTING)
        start_more(lg);
    if (lg->phase == P_RUNNING || lg->phase == P_DRAINING)
        dispatch(lg);
}

static ag_err build_request(lg_t *lg, conn_t *c, ag_buf_t *b)
{
    ag_err err = 0;
    ag_buf_clear(b);
    err = ag_buf_printf(b, "%s %.*s HTTP/1.1\r\nHost: %s\r\n", lg->o.method, AG_STR_FMT(lg->path),
                        lg->authority);
    if (!err)
        err = ag_buf_append(b, lg->o.headers.p ? lg->o.headers.p : "", lg->o.headers.n);
    if (!err && lg->ntokens) {
        ag_str_t tok = lg->tokens[c->req % lg->ntokens]; /* round robin: many users */
        err = ag_buf_printf(b, "Authorization: Bearer %.*s\r\n", AG_STR_FMT(tok));
    }
    if (!err && lg->o.body)
        err = ag_buf_printf(b, "Content-Length: %zu\r\n\r\n%s", strlen(lg->o.body), lg->o.body);
    else if (!err)
        err = ag_buf_append_cstr(b, "\r\n");
    return err;
}

static void send_request(lg_t *lg, conn_t *c, uint64_t i)
{
    c->state = C_BUSY;
    c->req = i;
    c->intended_ns = lg->o.closed ? now_ns() : intended(lg, i);
    c->done = false;
    c->status = 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &lg->settings);
    c->parser.data = c;
    ag_buf_t *b = &c->plain;
    if (build_request(lg, c, b) != 0) {
        conn_close(c, E_WRITE);
        return;
    }
    if (!lg->https && ag_buf_append(&c->out, b->p, b->n) != 0) {
        conn_close(c, E_WRITE);
        return;
    } else if (lg->https) {
        size_t off = 0;
        while (off < b->n) {
            int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)b->p + off, b->n - off);
            if (r <= 0) {
                conn_close(c, E_TLS);
                return;
            }
            off += (size_t)r;
        }
    }
    c->sent_ns = now_ns();
    flush(c);
}

/* Sends every due request that has a connection to go on; the rest keep waiting. */
static void dispatch(lg_t *lg)
{
    while (lg->o.closed && lg->phase == P_RUNNING) { /* every free connection sends at once */
        conn_t *c = idle_pop(lg);
        if (!c)
            return;
        send_request(lg, c, lg->next_send++);
    }
    while (!lg->o.closed && lg->next_send < lg->next_sched) {
        conn_t *c = idle_pop(lg);
        if (!c)
            return;
        send_request(lg, c, lg->next_send++);
    }
}

static bool is_measured(const lg_t *lg, uint64_t i)
{
    return lg->o.closed ? lg->w_open : i >= lg->warm;
}

static void complete(conn_t *c)
{
    lg_t *lg = c->lg;
    uint64_t t = now_ns();
    if (lg->phase == P_HOLDING) {
        hold_answered(c);
        return;
    }
    lg->completed++;
    if (is_measured(lg, c->req)) {
        lg->measured_done++;
        lg->last_done_ns = t;
        ag_hist_record(&lg->lat, t - c->intended_ns);
        ag_hist_record(&lg->svc, t - c->sent_ns);
        ag_hist_record(&lg->lag, c->sent_ns - c->intended_ns);
        if (c->status >= 200 && c->status < 300)
            lg->ok2xx++;
        else if (c->status > 0 && c->status < 600)
            lg->status[c->status]++;
    }
    bool keep = llhttp_should_keep_alive(&c->parser);
    if (!keep) {
        c->state = C_IDLE; /* the response is accounted: closing is not an error */
        conn_close(c, -1);
        return;
    }
    idle_push(lg, c);
    dispatch(lg);
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    c->status = p->status_code;
    return strcmp(c->lg->o.method, "HEAD") == 0 ? 1 : 0; /* 1: a HEAD response has no body */
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *c = p->data;
    c->done = true;
    return HPE_PAUSED; /* one response per request: stop at its end */
}

static void feed(conn_t *c, const char *p, size_t n)
{
    if (c->state != C_BUSY) { /* bytes nobody asked for */
        conn_close(c, E_PARSE);
        return;
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    if (c->done) {
        complete(c);
        return;
    }
    if (e != HPE_OK)
        conn_close(c, E_PARSE);
}

/* ---- TLS ---- */

static void handshake(conn_t *c)
{
    int r = mbedtls_ssl_handshake(&c->ssl);
    flush(c);
    if (r == 0) {
        if (!c->lg->tls_info[0])
            snprintf(c->lg->tls_info, sizeof c->lg->tls_info, "%s %s",
                     mbedtls_ssl_get_version(&c->ssl), mbedtls_ssl_get_ciphersuite(&c->ssl));
        if (c->lg->o.resume && !c->lg->have_session &&
            mbedtls_ssl_get_session(&c->ssl, &c->lg->session) == 0)
            c->lg->have_session = true;
        conn_ready(c);
        return;
    }
    if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
        char msg[160];
        mbedtls_strerror(r, msg, sizeof msg);
        if (c->lg->errors[E_TLS] == 0)
            fprintf(stderr, "loadgen: TLS handshake failed: %s\n", msg);
        conn_close(c, E_TLS);
    }
}

static void tls_read(conn_t *c)
{
    unsigned char plain[16384];
    while (c->state == C_BUSY || c->state == C_IDLE) {
        int r = mbedtls_ssl_read(&c->ssl, plain, sizeof plain);
        if (r > 0) {
            feed(c, (const char *)plain, (size_t)r);
            continue;
        }
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            conn_close(c, c->state == C_BUSY ? E_EOF : -1);
        else
            conn_close(c, E_TLS);
        break;
    }
    flush(c);
}

/* ---- connection life cycle ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_eof(conn_t *c)
{
    if (c->state == C_BUSY && !c->lg->https) {
        llhttp_finish(&c->parser); /* a body delimited by the close ends here */
        if (c->done) {
            complete(c);
            if (c->state == C_IDLE)
                conn_close(c, -1);
            return;
        }
    }
    conn_close(c, c->state == C_BUSY ? E_EOF : -1);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (n == UV_EOF) {
        on_eof(c);
        return;
    }
    if (n < 0) {
        conn_close(c, c->state == C_BUSY || c->state == C_HANDSHAKE ? E_READ : -1);
        return;
    }
    if (n == 0)
        return;
    if (!c->lg->https) {
        feed(c, buf->base, (size_t)n);
        return;
    }
    if (ag_buf_append(&c->tls_in, buf->base, (size_t)n) != 0) {
        conn_close(c, E_READ);
        return;
    }
    if (c->state == C_HANDSHAKE)
        handshake(c);
    if (c->state == C_BUSY || c->state == C_IDLE)
        tls_read(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    lg_t *lg = c->lg;
    if (status == UV_ECANCELED)
        return;
    if (status < 0) {
        if (lg->errors[E_CONNECT] == 0)
            fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(status));
        conn_close(c, E_CONNECT);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c, E_READ);
        return;
    }
    if (!lg->https) {
        conn_ready(c);
        return;
    }
    c->state = C_HANDSHAKE;
    handshake(c);
}

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    lg_t *lg = c->lg;
    if (c->ssl_ready) {
        mbedtls_ssl_free(&c->ssl);
        c->ssl_ready = false;
    }
    c->state = C_CLOSED;
    ag_buf_clear(&c->out);
    ag_buf_clear(&c->tls_in);
    c->tls_in_off = 0;
    /* reconnect at once after an orderly close; after a failure the sweep retries */
    if ((lg->phase == P_RUNNING || lg->phase == P_DRAINING) && !c->failed_connect)
        conn_start(c);
}

/* Closes <c>; <kind> is the error to count (E_*), or -1 for an orderly close. A request in
 * flight on it is lost and counted as that error. */
static void conn_close(conn_t *c, int kind)
{
    lg_t *lg = c->lg;
    if (c->state == C_CLOSING || c->state == C_CLOSED)
        return;
    if (kind >= 0) {
        lg->errors[kind]++;
        if (c->state == C_BUSY && is_measured(lg, c->req))
            lg->measured_errors++;
    }
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE ||
        (lg->phase == P_HOLDING && c->state == C_BUSY)) {
        /* a failed start-up connection (or --hold-request) counts once; later the sweep
         * retries it */
        if (!c->failed_connect && (lg->phase == P_CONNECTING || lg->phase == P_HOLDING))
            lg->failed++;
        c->failed_connect = true;
    }
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void conn_start(conn_t *c)
{
    lg_t *lg = c->lg;
    c->state = C_CONNECTING;
    c->writing = false;
    c->conn_ns = now_ns();
    if (lg->https) {
        mbedtls_ssl_init(&c->ssl);
        c->ssl_ready = true;
        if (mbedtls_ssl_setup(&c->ssl, &lg->conf) != 0 ||
            mbedtls_ssl_set_hostname(&c->ssl, lg->o.servername ? lg->o.servername : lg->host))
            die("mbedtls_ssl_setup failed", NULL);
        if (lg->have_session && mbedtls_ssl_set_session(&c->ssl, &lg->session) != 0)
            die("mbedtls_ssl_set_session failed", NULL);
        mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    }
    uv_tcp_init(lg->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->wreq.data = c;
    int r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&lg->addr, on_connect);
    if (r != 0) {
        if (lg->errors[E_CONNECT] == 0)
            fprintf(stderr, "loadgen: connect: %s\n", uv_strerror(r));
        conn_close(c, E_CONNECT);
    }
}

/* ---- the clock: a timerfd armed at the next intended send time (ns precision) ---- */

static void arm(lg_t *lg, uint64_t at_ns)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(at_ns / 1000000000ULL);
    its.it_value.tv_nsec = (long)(at_ns % 1000000000ULL);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm */
    if (timerfd_settime(lg->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime failed", strerror(errno));
}

static void on_tick(uv_poll_t *p, int status, int events)
{
    lg_t *lg = p->data;
    uint64_t expirations;
    (void)status, (void)events;
    if (read(lg->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        die("timerfd read failed", strerror(errno));
    uint64_t t = now_ns();
    while (lg->next_sched < lg->total && intended(lg, lg->next_sched) <= t)
        lg->next_sched++;
    dispatch(lg);
    if (lg->next_sched < lg->total) {
        arm(lg, intended(lg, lg->next_sched));
    } else if (lg->phase == P_RUNNING) {
        lg->phase = P_DRAINING;
        uv_poll_stop(&lg->tick);
    }
}

static void start_run(lg_t *lg)
{
    lg->phase = P_RUNNING;
    if (lg->o.closed) {
        lg->t0 = lg->start_ns = now_ns();
        dispatch(lg);
        return;
    }
    lg->t0 = now_ns() + 1000000; /* first request 1 ms from now */
    lg->start_ns = lg->t0;
    lg->end_sched_ns = intended(lg, lg->total);
    arm(lg, lg->t0);
    uv_poll_start(&lg->tick, UV_READABLE, on_tick);
}

static int busy_count(const lg_t *lg)
{
    int n = 0;
    for (int i = 0; i < lg->nconns; i++)
        n += lg->conns[i].state == C_BUSY;
    return n;
}

/* utime+stime clock ticks of the --cpu-pids processes (and all their threads); *sys: the
 * stime part (the kernel's, syscalls and scheduling included). */
static long long cpu_ticks(const char *pids, long long *sys)
{
    long long total = 0;
    *sys = 0;
    for (const char *p = pids; p && *p;) {
        char path[64], st[1024];
        long pid = strtol(p, (char **)&p, 10);
        p += *p == ',';
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(st, 1, sizeof st - 1, f) : 0;
        if (f)
            fclose(f);
        st[n] = '\0';
        const char *q = strrchr(st, ')'); /* fields after "(comm) ": utime is the 12th */
        unsigned long long ut = 0, stime = 0;
        if (q && sscanf(q + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut,
                        &stime) == 2)
            total += (long long)(ut + stime), *sys += (long long)stime;
    }
    return total;
}

/* --window-ctl: tells a `perf stat --control fifo:PATH -D -1` that counts the target's
 * events (syscalls, context switches) when the window opens and closes, so they can be
 * divided by the requests counted in the same window. */
static void window_ctl(lg_t *lg, const char *cmd)
{
    if (lg->ctl_fd >= 0 && write(lg->ctl_fd, cmd, strlen(cmd)) < 0)
        fprintf(stderr, "loadgen: --window-ctl: %s\n", strerror(errno));
}

/* --closed: opens the measured window after the warm-up, closes it after the duration. */
static void closed_window(lg_t *lg, uint64_t now)
{
    if (!lg->w_open && !lg->w_t1 && now >= lg->t0 + (uint64_t)(lg->o.warmup * NS)) {
        lg->w_open = true;
        lg->w_t0 = now;
        lg->cpu0 = cpu_ticks(lg->o.cpu_pids, &lg->sys0);
        window_ctl(lg, "enable\n");
    } else if (lg->w_open && now >= lg->w_t0 + (uint64_t)(lg->o.duration * NS)) {
        lg->w_open = false;
        lg->w_t1 = now;
        lg->cpu1 = cpu_ticks(lg->o.cpu_pids, &lg->sys1);
        window_ctl(lg, "disable\n");
        finish(lg);
    }
}

/* Every LG_SWEEP_MS: request timeouts, reconnects after failures, phase changes. */
static void on_sweep(uv_timer_t *t)
{
    lg_t *lg = t->data;
    uint64_t now = now_ns(), tmo = (uint64_t)(lg->o.timeout * NS);
    if (lg->o.closed && lg->phase == P_RUNNING) {
        closed_window(lg, now);
        if (lg->phase == P_DONE)
            return;
    }
    if (lg->phase == P_CONNECTING)
        start_more(lg);
    if (lg->phase == P_CONNECTING && lg->ready + lg->failed >= lg->nconns) {
        if (lg->ready == 0) {
            fprintf(stderr, "loadgen: no connection could be opened to %s\n", lg->o.url);
            lg->exit_code = 1;
            finish(lg);
            return;
        }
        start_run(lg);
    }
    for (int i = 0; i < lg->nconns; i++) {
        conn_t *c = &lg->conns[i];
        /* sent_ns > now: sent after <now> was read (--closed starts sending from here) */
        if (c->state == C_BUSY && now > c->sent_ns && now - c->sent_ns > tmo)
            conn_close(c, E_TIMEOUT);
        else if ((c->state == C_CONNECTING || c->state == C_HANDSHAKE) && now - c->conn_ns > tmo)
            conn_close(c, c->state == C_CONNECTING ? E_CONNECT : E_TLS);
        else if (c->state == C_CLOSED && (lg->phase == P_RUNNING || lg->phase == P_DRAINING))
            conn_start(c);
    }
    if (lg->phase == P_DRAINING) {
        bool idle = lg->next_send == lg->total && busy_count(lg) == 0;
        if (idle || now > lg->end_sched_ns + tmo) {
            uint64_t unsent = lg->total - lg->next_send;
            lg->errors[E_UNSENT] += unsent;
            lg->measured_errors += unsent; /* the tail of the schedule is measured */
            finish(lg);
        }
    }
}

static void on_close_any(uv_handle_t *h)
{
    (void)h;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP ? on_closed : on_close_any);
}

static void finish(lg_t *lg)
{
    for (int i = 0; i < lg->nconns; i++) {
        conn_t *c = &lg->conns[i];
        if (c->state == C_BUSY && !lg->o.closed) { /* closed: in flight when the window shut */
            lg->errors[E_TIMEOUT]++;
            if (is_measured(lg, c->req))
                lg->measured_errors++;
        }
    }
    lg->phase = P_DONE;
    uv_walk(lg->loop, close_walk, NULL);
}

/* ---- start-up and --hold mode (N idle TLS connections, for memory per connection) ---- */

/* Opens the pool's connections, at most LG_START_PARALLEL in progress at once; with TLS
 * resumption only one until the first full handshake has given a session to resume. */
static void start_more(lg_t *lg)
{
    int limit = lg->https && lg->o.resume && !lg->have_session ? 1 : LG_START_PARALLEL;
    while (lg->start_next < lg->nconns && lg->start_next - lg->ready - lg->failed < limit)
        conn_start(&lg->conns[lg->start_next++]);
}

static void on_hold_timer(uv_timer_t *t)
{
    lg_t *lg = t->data;
    on_sweep(t); /* connect and handshake timeouts */
    if (!lg->announced) {
        start_more(lg);
        if (lg->ready + lg->failed < lg->nconns)
            return;
        printf("READY %d FAILED %d\n", lg->ready, lg->failed);
        fflush(stdout);
        lg->announced = true;
        lg->start_ns = now_ns();
    }
    if (now_ns() - lg->start_ns > (uint64_t)(lg->o.hold_time * NS))
        finish(lg);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    finish(s->data);
}

/* ---- set-up: options, target, tokens, TLS ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen [options] URL          (URL: http[s]://HOST:PORT/PATH)\n"
            "  --rate N           requests per second, constant arrival rate (default 1000)\n"
            "  --duration S       measured seconds (default 10)\n"
            "  --warmup S         seconds sent before measuring (default 2)\n"
            "  --connections N    keep-alive connections, one request in flight each (64)\n"
            "  --method M         request method (GET)\n"
            "  -H 'Name: value'   extra request header (repeatable)\n"
            "  --body TEXT        request body (adds Content-Length)\n"
            "  --tokens FILE      bearer tokens, one per line, used round robin\n"
            "  --timeout S        per-request timeout (default 10)\n"
            "  --insecure         do not verify the server certificate\n"
            "  --cacert FILE      verify the server certificate against FILE\n"
            "  --servername NAME  TLS server name (SNI and verification; default: URL host)\n"
            "  --tls-cipher NAME  offer only this suite (mbedTLS name, e.g.\n"
            "                     TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256)\n"
            "  --no-tls-resume    full TLS handshake on every connection (default: resume\n"
            "                     the first session; mbedTLS's full client handshake costs\n"
            "                     milliseconds of our CPU and would stall the schedule)\n"
            "  --json FILE        also write the results as JSON\n"
            "  --closed           closed loop instead: every connection sends its next request\n"
            "                     as soon as it has the answer (--rate unused); req/s over the\n"
            "                     --duration window after --warmup\n"
            "  --cpu-pids P,P..   --closed: CPU ticks (utime+stime) of these processes across\n"
            "                     the window, in the JSON (\"closed\": cpu_ticks, of which\n"
            "                     cpu_sys_ticks the kernel's, clk_tck)\n"
            "  --window-ctl FIFO  --closed: writes enable / disable to FIFO when the window\n"
            "                     opens / closes (a `perf stat -D -1 --control fifo:FIFO`)\n"
            "  --max-duration S   refuse runs longer than S seconds (default 120)\n"
            "  --allow-remote     allow targets that are not loopback addresses\n"
            "  --hold N           open N idle connections, print READY, keep them open\n"
            "  --hold-time S      how long --hold keeps them (default 30)\n"
            "  --hold-request     --hold: each connection first sends one request (with the\n"
            "                     --tokens, -H options) and is ready once it got a 2xx\n"
            "  --quiet            no percentile table on stdout\n");
    exit(2);
}

static double num_arg(const char *name, const char *v, double lo, double hi)
{
    char *end = NULL;
    errno = 0;
    double d = v ? strtod(v, &end) : NAN;
    if (!v || errno || end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "loadgen: %s wants a number in [%g, %g]\n", name, lo, hi);
        exit(2);
    }
    return d;
}

static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return false;
    for (const char *p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

static void parse_args(lg_t *lg, int argc, char **argv)
{
    opts_t *o = &lg->o;
    *o = (opts_t){.method = "GET",
                  .rate = 1000,
                  .duration = 10,
                  .warmup = 2,
                  .max_duration = 120,
                  .timeout = 10,
                  .hold_time = 30,
                  .connections = 64,
                  .resume = true};
    ag_buf_init(&o->headers, LG_MAX_HEADERS_BYTES);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--rate"))
            o->rate = num_arg(a, v, 0.001, LG_MAX_RATE);
        else if (!strcmp(a, "--duration"))
            o->duration = num_arg(a, v, 0.001, 86400);
        else if (!strcmp(a, "--warmup"))
            o->warmup = num_arg(a, v, 0, 86400);
        else if (!strcmp(a, "--max-duration"))
            o->max_duration = num_arg(a, v, 1, 3600); /* a hard ceiling even when raised */
        else if (!strcmp(a, "--timeout"))
            o->timeout = num_arg(a, v, 0.001, 600);
        else if (!strcmp(a, "--hold-time"))
            o->hold_time = num_arg(a, v, 0, 3600);
        else if (!strcmp(a, "--connections"))
            o->connections = (int)num_arg(a, v, 1, LG_MAX_CONNS);
        else if (!strcmp(a, "--hold"))
            o->hold = (int)num_arg(a, v, 1, LG_MAX_CONNS);
        else if (!strcmp(a, "--method"))
            o->method = v;
        else if (!strcmp(a, "--body"))
            o->body = v;
        else if (!strcmp(a, "--tokens"))
            o->tokens_file = v;
        else if (!strcmp(a, "--tls-cipher"))
            o->cipher = v;
        else if (!strcmp(a, "--servername"))
            o->servername = v;
        else if (!strcmp(a, "--cacert"))
            o->cacert = v;
        else if (!strcmp(a, "--json"))
            o->json_path = v;
        else if (!strcmp(a, "--cpu-pids"))
            o->cpu_pids = v;
        else if (!strcmp(a, "--window-ctl"))
            o->window_ctl = v;
        else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
            if (!v || !header_ok(v) || ag_buf_printf(&o->headers, "%s\r\n", v) != 0)
                die("bad header (want 'Name: value')", v);
        } else {
            takes = false;
            if (!strcmp(a, "--insecure"))
                o->insecure = true;
            else if (!strcmp(a, "--allow-remote"))
                o->allow_remote = true;
            else if (!strcmp(a, "--closed"))
                o->closed = true;
            else if (!strcmp(a, "--hold-request"))
                o->hold_request = true;
            else if (!strcmp(a, "--no-tls-resume"))
                o->resume = false;
            else if (!strcmp(a, "--quiet"))
                o->quiet = true;
            else if (a[0] == '-' || o->url)
                usage();
            else
                o->url = a;
        }
        if (takes && !v)
            usage();
        i += takes;
    }
    if (!o->url || !o->method || !o->method[0] || strpbrk(o->method, " \r\n"))
        usage();
    if (!o->hold && o->warmup + o->duration > o->max_duration)
        die("warm-up + duration exceed --max-duration (raise it deliberately)", NULL);
    if (o->hold && o->hold_time > o->max_duration)
        die("--hold-time exceeds --max-duration", NULL);
}

/* Splits http[s]://HOST[:PORT][/PATH] into the target's parts. */
static void parse_url(lg_t *lg)
{
    ag_str_t u = ag_str_cstr(lg->o.url), rest = AG_STR_NULL, hostport;
    if (ag_str_starts_with(u, AG_STR("https://")))
        lg->https = true, rest = ag_str_sub(u, 8, u.n);
    else if (ag_str_starts_with(u, AG_STR("http://")))
        rest = ag_str_sub(u, 7, u.n);
    else
        die("URL must start with http:// or https://", lg->o.url);
    size_t slash = ag_str_find_char(rest, '/');
    hostport = ag_str_sub(rest, 0, slash);
    lg->path = slash < rest.n ? ag_str_sub(rest, slash, rest.n) : AG_STR("/");
    ag_str_t host = hostport, port = AG_STR_NULL;
    if (hostport.n && hostport.p[0] == '[') {
        size_t close = ag_str_find_char(hostport, ']');
        if (close == hostport.n)
            die("bad IPv6 literal in URL", lg->o.url);
        host = ag_str_sub(hostport, 1, close - 1);
        if (close + 1 < hostport.n && hostport.p[close + 1] == ':')
            port = ag_str_sub(hostport, close + 2, hostport.n);
    } else {
        size_t colon = ag_str_find_char(hostport, ':');
        host = ag_str_sub(hostport, 0, colon);
        if (colon < hostport.n)
            port = ag_str_sub(hostport, colon + 1, hostport.n);
    }
    unsigned long long pn = lg->https ? 443 : 80;
    if ((port.p && (!ag_str_to_u64(port, &pn) || pn == 0 || pn > 65535)) || host.n == 0 ||
        host.n >= sizeof lg->host)
        die("bad host or port in URL", lg->o.url);
    memcpy(lg->host, host.p, host.n);
    lg->host[host.n] = '\0';
    snprintf(lg->port, sizeof lg->port, "%llu", pn);
    snprintf(lg->authority, sizeof lg->authority, "%.*s", AG_STR_FMT(hostport));
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

static void resolve(lg_t *lg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(lg->host, lg->port, &hints, &res);
    if (r != 0 || !res)
        die("cannot resolve host", gai_strerror(r));
    memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    /* a load generator aimed at someone else's server is an attack: loopback only */
    if (!lg->o.allow_remote && !is_loopback((struct sockaddr *)&lg->addr))
        die("target is not a loopback address (pass --allow-remote for your own hosts)", lg->host);
}

/* Reads the tokens file: one token per line, blank lines skipped, CR stripped. */
static void load_tokens(lg_t *lg)
{
    ag_buf_init(&lg->tokens_text, LG_MAX_TOKENS_BYTES);
    if (ag_buf_read_file(&lg->tokens_text, lg->o.tokens_file) != 0)
        die("cannot read tokens file", lg->o.tokens_file);
    ag_str_t rest = ag_buf_str(&lg->tokens_text), line;
    size_t cap = 0;
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        while (line.n && (line.p[line.n - 1] == '\r' || line.p[line.n - 1] == ' '))
            line.n--;
        if (line.n == 0)
            continue;
        for (size_t i = 0; i < line.n; i++)
            if ((unsigned char)line.p[i] <= ' ' || line.p[i] == 0x7f)
                die("token with a control character or space in", lg->o.tokens_file);
        if (lg->ntokens == cap) {
            cap = cap ? cap * 2 : 1024;
            ag_str_t *t = realloc(lg->tokens, cap * sizeof *t);
            if (!t)
                die("out of memory reading tokens", NULL);
            lg->tokens = t;
        }
        lg->tokens[lg->ntokens++] = line;
    }
    if (lg->ntokens == 0)
        die("no tokens in", lg->o.tokens_file);
}

static void setup_tls(lg_t *lg)
{
    static const char pers[] = "authgate-loadgen";
    mbedtls_entropy_init(&lg->entropy);
    mbedtls_ctr_drbg_init(&lg->drbg);
    mbedtls_ssl_config_init(&lg->conf);
    mbedtls_x509_crt_init(&lg->ca);
    mbedtls_ssl_session_init(&lg->session);
    if (mbedtls_ctr_drbg_seed(&lg->drbg, mbedtls_entropy_func, &lg->entropy,
                              (const unsigned char *)pers, sizeof pers - 1) != 0 ||
        mbedtls_ssl_config_defaults(&lg->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        die("mbedTLS set-up failed", NULL);
    mbedtls_ssl_conf_rng(&lg->conf, mbedtls_ctr_drbg_random, &lg->drbg);
    if (lg->o.cipher) {
        lg->ciphers[0] = mbedtls_ssl_get_ciphersuite_id(lg->o.cipher);
        if (lg->ciphers[0] == 0)
            die("unknown TLS cipher suite (mbedTLS names)", lg->o.cipher);
        mbedtls_ssl_conf_ciphersuites(&lg->conf, lg->ciphers);
    }
    if (lg->o.insecure) {
        mbedtls_ssl_conf_authmode(&lg->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        const char *ca = lg->o.cacert ? lg->o.cacert : "/etc/ssl/certs/ca-certificates.crt";
        if (mbedtls_x509_crt_parse_file(&lg->ca, ca) < 0)
            die("cannot load CA certificates (use --cacert FILE or --insecure)", ca);
        mbedtls_ssl_conf_ca_chain(&lg->conf, &lg->ca, NULL);
        mbedtls_ssl_conf_authmode(&lg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
}

/* ---- report ---- */

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static const double pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const pct_keys[] = {"p50", "p90", "p99", "p99_9", "p99_99"};

static double achieved_rate(const lg_t *lg)
{
    if (lg->o.closed)
        return lg->w_t1 > lg->w_t0 ? (double)lg->measured_done * NS / (double)(lg->w_t1 - lg->w_t0)
                                   : 0;
    double window = lg->o.duration;
    uint64_t wstart = intended(lg, lg->warm);
    if (lg->last_done_ns > wstart && (double)(lg->last_done_ns - wstart) / NS > window)
        window = (double)(lg->last_done_ns - wstart) / NS;
    return (double)lg->measured_done / window;
}

static void print_table(const lg_t *lg)
{
    printf("target %s  %s  rate %.1f/s  duration %.1f s (+%.1f s warm-up)  connections %d%s%s\n",
           lg->o.url, lg->o.method, lg->o.rate, lg->o.duration, lg->o.warmup, lg->nconns,
           lg->tls_info[0] ? "  " : "", lg->tls_info);
    /* latency counts from the intended send time; service time from the actual send;
     * send lag is the difference: queueing for a free connection plus our own wake-up */
    const ag_hist_t *h[3] = {&lg->lat, &lg->svc, &lg->lag};
    printf("%-8s %14s %14s %14s\n", "", "latency us", "service us", "send lag us");
    printf("%-8s", "min");
    for (int k = 0; k < 3; k++)
        printf(" %14.1f", us(h[k]->min == UINT64_MAX ? 0 : h[k]->min));
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        printf("\n%-8s", pct_keys[i]);
        for (int k = 0; k < 3; k++)
            printf(" %14.1f", us(ag_hist_percentile(h[k], pcts[i])));
    }
    printf("\n%-8s", "max");
    for (int k = 0; k < 3; k++)
        printf(" %14.1f", us(h[k]->max));
    printf("\n%-8s", "mean");
    for (int k = 0; k < 3; k++)
        printf(" %14.1f", ag_hist_mean(h[k]) / 1000.0);
    printf("\n");
    printf("requests: %llu scheduled, %llu completed, %llu 2xx, %llu failed; achieved %.1f/s\n",
           (unsigned long long)(lg->total - lg->warm), (unsigned long long)lg->measured_done,
           (unsigned long long)lg->ok2xx, (unsigned long long)lg->measured_errors,
           achieved_rate(lg));
    printf("errors:");
    int any = 0;
    for (int k = 0; k < E__COUNT; k++)
        if (lg->errors[k])
            printf(" %s %llu", err_names[k], (unsigned long long)lg->errors[k]), any = 1;
    printf("%s\nnon-2xx:", any ? "" : " none");
    any = 0;
    for (int s = 0; s < 600; s++)
        if (lg->status[s])
            printf(" %d x %llu", s, (unsigned long long)lg->status[s]), any = 1;
    printf("%s\n", any ? "" : " none");
}

static ag_err json_hist(ag_buf_t *b, const char *name, const ag_hist_t *h)
{
    ag_err err =
        ag_buf_printf(b, "\"%s\":{\"min\":%.3f,", name, us(h->min == UINT64_MAX ? 0 : h->min));
    for (size_t i = 0; !err && i < sizeof pcts / sizeof pcts[0]; i++)
        err = ag_buf_printf(b, "\"%s\":%.3f,", pct_keys[i], us(ag_hist_percentile(h, pcts[i])));
    if (!err)
        err = ag_buf_printf(b, "\"max\":%.3f,\"mean\":%.3f,\"count\":%llu}", us(h->max),
                            ag_hist_mean(h) / 1000.0, (unsigned long long)h->total);
    return err;
}

static ag_err json_report(const lg_t *lg, ag_buf_t *b)
{
    ag_err err = ag_buf_append_cstr(b, "{\"target\":");
    if (!err)
        err = ag_json_write_str(b, ag_str_cstr(lg->o.url));
    if (!err)
        err = ag_buf_append_cstr(b, ",\"tls\":");
    if (!err)
        err = ag_json_write_str(b, ag_str_cstr(lg->tls_info));
    if (!err)
        err = ag_buf_printf(b,
                            ",\"method\":\"%s\",\"rate\":%.3f,\"duration_s\":%.3f,"
                            "\"warmup_s\":%.3f,\"connections\":%d,\"tokens\":%zu,"
                            "\"scheduled\":%llu,\"completed\":%llu,\"ok_2xx\":%llu,"
                            "\"failed\":%llu,\"achieved_rate\":%.3f,\"latency_us\":{",
                            lg->o.method, lg->o.rate, lg->o.duration, lg->o.warmup, lg->nconns,
                            lg->ntokens, (unsigned long long)(lg->total - lg->warm),
                            (unsigned long long)lg->measured_done, (unsigned long long)lg->ok2xx,
                            (unsigned long long)lg->measured_errors, achieved_rate(lg));
    /* latency_us: from the intended send time; service_us: from the actual send */
    if (!err)
        err = json_hist(b, "from_intended", &lg->lat);
    if (!err)
        err = ag_buf_append_cstr(b, ",");
    if (!err)
        err = json_hist(b, "service", &lg->svc);
    if (!err)
        err = ag_buf_append_cstr(b, ",");
    if (!err)
        err = json_hist(b, "send_lag", &lg->lag);
    if (!err && lg->o.closed)
        err = ag_buf_printf(b,
                            "},\"closed\":{\"window_s\":%.4f,\"cpu_ticks\":%lld,"
                            "\"cpu_sys_ticks\":%lld,\"clk_tck\":%ld",
                            (double)(lg->w_t1 - lg->w_t0) / NS, lg->cpu1 - lg->cpu0,
                            lg->sys1 - lg->sys0, sysconf(_SC_CLK_TCK));
    if (!err)
        err = ag_buf_append_cstr(b, "},\"errors\":{");
    for (int k = 0; !err && k < E__COUNT; k++)
        err = ag_buf_printf(b, "%s\"%s\":%llu", k ? "," : "", err_names[k],
                            (unsigned long long)lg->errors[k]);
    if (!err)
        err = ag_buf_append_cstr(b, "},\"non_2xx\":{");
    for (int s = 0, first = 1; !err && s < 600; s++)
        if (lg->status[s]) {
            err = ag_buf_printf(b, "%s\"%d\":%llu", first ? "" : ",", s,
                                (unsigned long long)lg->status[s]);
            first = 0;
        }
    if (!err)
        err = ag_buf_append_cstr(b, "}}\n");
    return err;
}

static void write_json(const lg_t *lg)
{
    ag_buf_t b = AG_BUF_INIT(1u << 20);
    FILE *f = NULL;
    if (json_report(lg, &b) != 0)
        die("cannot build the JSON report", NULL);
    if (!(f = fopen(lg->o.json_path, "w")) || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0)
        die("cannot write", lg->o.json_path);
    ag_buf_dispose(&b);
}

/* ---- main ---- */

static void raise_fd_limit(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need + 64)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)need + 64)
        fprintf(stderr, "loadgen: warning: open-file limit %llu is below %d connections\n",
                (unsigned long long)rl.rlim_cur, need);
}

static void init_conns(lg_t *lg, int n)
{
    lg->nconns = n;
    lg->conns = calloc((size_t)n, sizeof *lg->conns);
    lg->idle = calloc((size_t)n, sizeof *lg->idle);
    if (!lg->conns || !lg->idle)
        die("out of memory", NULL);
    for (int i = 0; i < n; i++) {
        conn_t *c = &lg->conns[i];
        c->lg = lg;
        c->id = i;
        ag_buf_init(&c->tls_in, LG_MAX_OUT_BYTES);
        ag_buf_init(&c->out, LG_MAX_OUT_BYTES);
        ag_buf_init(&c->wbuf, LG_MAX_OUT_BYTES);
        ag_buf_init(&c->plain, LG_MAX_OUT_BYTES);
    }
}

int main(int argc, char **argv)
{
    static lg_t lgs; /* large (histograms): static storage, not the stack */
    lg_t *lg = &lgs;
    parse_args(lg, argc, argv);
    parse_url(lg);
    resolve(lg);
    if (lg->o.tokens_file)
        load_tokens(lg);
    if (lg->https)
        setup_tls(lg);
    lg->ctl_fd = -1; /* blocks until the reader (perf) has the FIFO open */
    if (lg->o.window_ctl && (lg->ctl_fd = open(lg->o.window_ctl, O_WRONLY | O_CLOEXEC)) < 0)
        die("--window-ctl: cannot open", strerror(errno));
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* default 50 us slack would blur send times */
    signal(SIGPIPE, SIG_IGN);
    int n = lg->o.hold ? lg->o.hold : lg->o.connections;
    raise_fd_limit(n);
    init_conns(lg, n);
    ag_hist_init(&lg->lat);
    ag_hist_init(&lg->svc);
    ag_hist_init(&lg->lag);
    llhttp_settings_init(&lg->settings);
    lg->settings.on_headers_complete = on_headers_complete;
    lg->settings.on_message_complete = on_message_complete;
    lg->warm = (uint64_t)ceil(lg->o.warmup * lg->o.rate);
    lg->total = lg->warm + (uint64_t)llround(lg->o.duration * lg->o.rate);

    lg->loop = uv_default_loop();
    uv_timer_init(lg->loop, &lg->sweep);
    lg->sweep.data = lg;
    uv_signal_init(lg->loop, &lg->sigint);
    uv_signal_init(lg->loop, &lg->sigterm);
    lg->sigint.data = lg->sigterm.data = lg;
    uv_signal_start(&lg->sigint, on_signal, SIGINT);
    uv_signal_start(&lg->sigterm, on_signal, SIGTERM);
    if (lg->o.hold) {
        lg->phase = P_HOLDING;
        uv_timer_start(&lg->sweep, on_hold_timer, 0, LG_SWEEP_MS);
    } else {
        lg->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (lg->timer_fd < 0 || uv_poll_init(lg->loop, &lg->tick, lg->timer_fd) != 0)
            die("timerfd set-up failed", strerror(errno));
        lg->tick.data = lg;
        lg->phase = P_CONNECTING;
        start_more(lg);
        uv_timer_start(&lg->sweep, on_sweep, LG_SWEEP_MS, LG_SWEEP_MS);
    }
    uv_run(lg->loop, UV_RUN_DEFAULT);
    if (lg->o.hold)
        return lg->ready == n ? 0 : 1;
    if (lg->exit_code)
        return lg->exit_code;
    if (!lg->o.quiet)
        print_table(lg);
    if (lg->o.json_path)
        write_json(lg);
    return lg->measured_errors ? 1 : 0;
}
