/* TCP (+TLS) byte streams over libuv (stream.h). The only place that moves bytes between
 * sockets, the TLS layer and the plaintext buffers. Callbacks into the consumer happen
 * from pump() only (plus on_ready/on_close/on_drain), and pump() is not re-entered: a
 * nested request to pump is folded into the running one. */
#include "net/stream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#define TLS_IN_HIGH (48 * 1024) /* stop reading ciphertext above this much unprocessed */

typedef struct {
    uv_write_t req;
    ag_stream_t *s;
    size_t n;
    char data[];
} wreq_t;

static void update_reading(ag_stream_t *s);
static void flush_cork(ag_stream_t *s);
static void pump(ag_stream_t *s);

int ag_stream_init(ag_stream_t *s, uv_loop_t *loop, size_t rcap, char *scratch, size_t scratch_len)
{
    char *rbuf = s->rbuf && s->rcap == rcap ? s->rbuf : NULL; /* pooled: keep it */
    size_t rsize = rbuf ? s->rsize : 0;                       /* else: at the first read */
    if (!rbuf)
        free(s->rbuf);
    char *cork = s->cork;
    memset(s, 0, sizeof(*s));
    s->cork = cork;
    s->rbuf = rbuf;
    s->rcap = rcap;
    s->rsize = rsize;
    s->scratch = scratch;
    s->scratch_len = scratch_len;
    int rc = uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    return rc;
}

/* Room at the tail of rbuf: consumed bytes are compacted away first, then the buffer
 * grows (doubling, up to rcap). Both move bytes, which is why consumers keep offsets
 * relative to roff, never pointers, across reads. */
static size_t make_room(ag_stream_t *s)
{
    if (!s->rbuf) { /* none yet, or released while idle (ag_stream_release) */
        size_t first = s->rcap < AG_STREAM_RBUF_MIN ? s->rcap : AG_STREAM_RBUF_MIN;
        s->rbuf = malloc(first);
        s->rsize = s->rbuf ? first : 0;
        s->roff = s->rn = 0;
        return s->rsize;
    }
    if (s->rn == s->rsize && s->roff > 0) {
        memmove(s->rbuf, s->rbuf + s->roff, s->rn - s->roff);
        s->rn -= s->roff;
        s->roff = 0;
    }
    if (s->rn == s->rsize && s->rsize < s->rcap) {
        size_t n = s->rsize * 2 < s->rcap ? s->rsize * 2 : s->rcap;
        char *p = realloc(s->rbuf, n);
        if (p) {
            s->rbuf = p;
            s->rsize = n;
        }
    }
    return s->rsize - s->rn;
}

void ag_stream_release(ag_stream_t *s)
{
    if (s->rn == s->roff) {
        free(s->rbuf);
        s->rbuf = NULL;
        s->roff = s->rn = s->rsize = 0;
    }
    if (s->cork_n == 0 && s->corked == 0) {
        free(s->cork);
        s->cork = NULL;
    }
    if (s->tls)
        ag_tls_release(s->tls);
}

bool ag_stream_released(const ag_stream_t *s)
{
    return !s->rbuf && !s->cork && (!s->tls || ag_tls_released(s->tls));
}

void ag_stream_dispose(ag_stream_t *s)
{
    free(s->rbuf);
    free(s->cork);
    s->rbuf = s->cork = NULL;
    s->rcap = s->rsize = 0;
}

static void on_closed(uv_handle_t *h)
{
    ag_stream_t *s = h->data;
    ag_tls_destroy(s->tls);
    s->tls = NULL;
    if (s->on_close)
        s->on_close(s, 0);
}

void ag_stream_close(ag_stream_t *s)
{
    if (s->closing)
        return;
    s->closing = true;
    s->want_read = false;
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

void ag_stream_close_after_flush(ag_stream_t *s)
{
    if (s->closing || s->close_after_flush)
        return;
    flush_cork(s); /* what was gathered goes out before the close */
    s->close_after_flush = true;
    if (s->tls && s->ready && !s->werr)
        ag_tls_close_notify(s->tls);
    if (s->pending == 0 || s->werr)
        ag_stream_close(s);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req; /* a failure (or UV_ECANCELED from a close) leaves nothing to do: the
                * consumer's own deadline ends the connection */
    (void)status;
}

void ag_stream_shutdown(ag_stream_t *s)
{
    if (s->closing || s->close_after_flush || s->shut)
        return;
    flush_cork(s);
    s->shut = true;
    if (s->tls && s->ready && !s->werr)
        ag_tls_close_notify(s->tls);
    /* libuv runs the shutdown after the write requests already queued */
    if (!s->werr && uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown) < 0)
        s->werr = UV_EPIPE;
}

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    ag_stream_t *s = w->s;
    s->pending--;
    s->queued -= w->n;
    free(w);
    if (s->closing)
        return;
    if (status < 0) {
        if (!s->werr)
            s->werr = status;
        if (s->on_read)
            s->on_read(s, status);
        return;
    }
    if (s->pending == 0) {
        if (s->close_after_flush) {
            ag_stream_close(s);
            return;
        }
        if (s->on_drain)
            s->on_drain(s, 0);
    }
}

uint64_t ag_stream_wdone(const ag_stream_t *s)
{
    uint64_t done = s->wtotal - uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp);
#ifdef SIOCOUTQ
    uv_os_fd_t fd;
    int outq;
    if (uv_fileno((const uv_handle_t *)&s->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 &&
        outq >= 0 && (uint64_t)outq <= done)
        done -= (uint64_t)outq;
#endif
    return done;
}

/* Ciphertext (or plaintext without TLS) to the socket: the kernel first, the rest copied. */
static void raw_write(ag_stream_t *s, const char *p, size_t n)
{
    if (s->werr || s->closing || n == 0)
        return;
    s->wtotal += n;
    s->writes++;
    if (s->pending == 0) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int r = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
        if (r >= 0 && (size_t)r == n)
            return;
        if (r < 0 && r != UV_EAGAIN) {
            s->werr = r;
            return;
        }
        if (r > 0)
            p += r, n -= (size_t)r;
    }
    wreq_t *w = malloc(sizeof(*w) + n);
    if (!w) {
        s->werr = UV_ENOMEM;
        return;
    }
    w->s = s;
    w->n = n;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_write);
    if (r < 0) {
        free(w);
        s->werr = r;
        return;
    }
    s->pending++;
    s->queued += n;
    if (s->pending == 1 && s->on_wblock)
        s->on_wblock(s, 0);
}

/* A handshake step's records leave in one write: mbedTLS emits every handshake message as
 * a record of its own (a server's first flight is 4-5 of them, its second 3), which would be
 * as many syscalls and TCP segments, and as many wake-ups of the peer. The scratch is free
 * meanwhile: what was read into it has been fed to the session before the step runs. */
static void gather_flush(ag_stream_t *s)
{
    size_t n = s->gathered;
    s->gathered = 0;
    raw_write(s, s->scratch, n);
}

static void on_emit(void *ud, const char *p, size_t n)
{
    ag_stream_t *s = ud;
    if (!s->gathering) {
        raw_write(s, p, n);
        return;
    }
    if (s->gathered + n > s->scratch_len)
        gather_flush(s);
    if (n > s->scratch_len) {
        raw_write(s, p, n);
        return;
    }
    memcpy(s->scratch + s->gathered, p, n);
    s->gathered += n;
}

/* One step of the handshake (ag_tls_handshake), its records gathered into one write. */
static int handshake_step(ag_stream_t *s)
{
    s->gathering = true;
    int r = ag_tls_handshake(s->tls);
    s->gathering = false;
    gather_flush(s);
    return r;
}

#define CORK_MAX (16 * 1024) /* one TLS record's worth: flush beyond it */

static void write_now(ag_stream_t *s, const char *p, size_t n)
{
    if (s->tls) {
        if (ag_tls_write(s->tls, p, n) != 0 && !s->werr)
            s->werr = UV_EPROTO;
    } else {
        raw_write(s, p, n);
    }
}

static void flush_cork(ag_stream_t *s)
{
    if (s->cork_n) {
        size_t n = s->cork_n;
        s->cork_n = 0;
        write_now(s, s->cork, n);
    }
}

void ag_stream_cork(ag_stream_t *s)
{
    s->corked++;
}

void ag_stream_uncork(ag_stream_t *s)
{
    if (s->corked > 0 && --s->corked == 0)
        flush_cork(s);
}

int ag_stream_write(ag_stream_t *s, const uv_buf_t *bufs, unsigned n)
{
    if (s->corked && !s->closing) {
        for (unsigned i = 0; i < n && !s->werr; i++) {
            if (s->cork_n + bufs[i].len > CORK_MAX)
                flush_cork(s);
            if (bufs[i].len > CORK_MAX) {
                write_now(s, bufs[i].base, bufs[i].len);
                continue;
            }
            if (!s->cork && !(s->cork = malloc(CORK_MAX))) {
                s->werr = UV_ENOMEM;
                break;
            }
            memcpy(s->cork + s->cork_n, bufs[i].base, bufs[i].len);
            s->cork_n += bufs[i].len;
        }
        return s->werr;
    }
    for (unsigned i = 0; i < n && !s->werr; i++) {
        if (s->tls) {
            if (ag_tls_write(s->tls, bufs[i].base, bufs[i].len) != 0 && !s->werr)
                s->werr = UV_EPROTO;
        } else {
            raw_write(s, bufs[i].base, bufs[i].len);
        }
    }
    return s->werr;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    ag_stream_t *s = h->data;
    (void)hint;
    if (s->tls) {
        *buf = uv_buf_init(s->scratch, (unsigned)s->scratch_len);
        return;
    }
    size_t room = make_room(s);
    *buf = room ? uv_buf_init(s->rbuf + s->rn, (unsigned)room) : uv_buf_init(NULL, 0);
}

static void fail_now(ag_stream_t *s, int status)
{
    s->eof = true;
    update_reading(s);
    if (!s->ready && s->on_ready) {
        s->on_ready(s, status);
        return;
    }
    if (s->on_read)
        s->on_read(s, status);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    ag_stream_t *s = h->data;
    if (s->closing)
        return;
    if (nread == UV_ENOBUFS && !s->tls && !s->rbuf) {
        fail_now(s, UV_ENOMEM); /* the read buffer could not be allocated */
        return;
    }
    if (nread == UV_ENOBUFS || nread == 0) {
        update_reading(s);
        return;
    }
    if (nread < 0) {
        if (s->tls && ag_tls_pending_in(s->tls) > 0)
            pump(s); /* deliver what is decryptable first */
        if (!s->closing && !s->eof)
            fail_now(s, (int)nread);
        return;
    }
    if (s->tls) {
        if (ag_tls_feed(s->tls, buf->base, (size_t)nread) != 0) {
            fail_now(s, UV_ENOBUFS);
            return;
        }
    } else {
        s->rn += (size_t)nread;
    }
    pump(s);
}

static void tls_pump(ag_stream_t *s, size_t *got, bool *closed, int *err)
{
    if (!s->ready) {
        int r = handshake_step(s);
        if (r < 0) {
            *err = UV_EPROTO;
            return;
        }
        if (r != AG_TLS_DONE)
            return;
        s->ready = true;
        if (s->on_ready)
            s->on_ready(s, 0);
        if (s->closing)
            return;
    }
    for (;;) {
        if (!s->want_read)
            return;
        size_t room = make_room(s);
        if (room == 0) {
            if (!s->rbuf)
                *err = UV_ENOMEM;
            return;
        }
        long r = ag_tls_read(s->tls, s->rbuf + s->rn, room, closed);
        if (r < 0)
            *err = UV_EPROTO;
        if (r <= 0)
            return;
        s->rn += (size_t)r;
        *got += (size_t)r;
    }
}

static void pump(ag_stream_t *s)
{
    if (s->in_pump) {
        s->repump = true;
        return;
    }
    s->in_pump = true;
    do {
        s->repump = false;
        size_t got = 0;
        bool closed = false;
        int err = 0;
        if (s->tls)
            tls_pump(s, &got, &closed, &err);
        else
            got = s->rn - s->roff;
        if (s->closing)
            break;
        if (err) {
            fail_now(s, err);
            break;
        }
        if (got > 0 && s->want_read && s->on_read)
            s->on_read(s, (int)(got > 0x7fffffff ? 0x7fffffff : got));
        if (s->closing)
            break;
        if (closed && !s->eof) {
            fail_now(s, UV_EOF);
            break;
        }
        update_reading(s);
    } while (s->repump && !s->closing);
    s->in_pump = false;
}

static void update_reading(ag_stream_t *s)
{
    bool want;
    if (s->closing || s->eof || s->connecting)
        want = false;
    else if (s->tls && !s->ready)
        want = true; /* the handshake always needs input */
    else if (s->tls)
        want = s->want_read && ag_tls_pending_in(s->tls) <= TLS_IN_HIGH;
    else
        want = s->want_read && (s->rn < s->rcap || s->roff > 0 || s->rn < s->rsize);
    if (want && !s->uv_reading) {
        if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0)
            s->uv_reading = true;
    } else if (!want && s->uv_reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->uv_reading = false;
    }
}

void ag_stream_read_start(ag_stream_t *s)
{
    if (s->want_read) {
        update_reading(s);
        return;
    }
    s->want_read = true;
    /* Plaintext already buffered (or decrypted) is delivered without waiting for I/O. */
    if ((s->rn > s->roff && !s->tls) ||
        (s->tls && s->ready && (ag_tls_has_plaintext(s->tls) || ag_tls_pending_in(s->tls) > 0)))
        pump(s);
    else
        update_reading(s);
}

void ag_stream_read_stop(ag_stream_t *s)
{
    s->want_read = false;
    update_reading(s);
}

void ag_stream_pump(ag_stream_t *s)
{
    if (s->want_read && !s->closing)
        pump(s);
}

static int start_tls(ag_stream_t *s, ag_tls_ctx_t *tls, const char *sni)
{
    if (ag_tls_create(tls, on_emit, s, &s->tls) != 0)
        return UV_ENOMEM;
    if (sni && ag_tls_set_hostname(s->tls, sni) != 0)
        return UV_ENOMEM;
    pump(s); /* a client sends its hello at once */
    update_reading(s);
    return 0;
}

int ag_stream_start_tls(ag_stream_t *s, ag_tls_ctx_t *tls)
{
    size_t n = s->rn - s->roff;
    if (s->tls || ag_tls_create(tls, on_emit, s, &s->tls) != 0)
        return UV_ENOMEM;
    if (n > 0 && ag_tls_feed(s->tls, s->rbuf + s->roff, n) != 0)
        return UV_ENOBUFS;
    s->roff = s->rn = 0;
    s->ready = false; /* on_ready again, when the handshake is done */
    pump(s);          /* nested in a pump (the consumer's on_read): folded into it */
    update_reading(s);
    return 0;
}

int ag_stream_accept(ag_stream_t *s, int fd, ag_tls_ctx_t *tls)
{
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc < 0) {
        close(fd); /* the handle did not take it */
        return rc;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    if (tls)
        return start_tls(s, tls, NULL);
    s->ready = true;
    if (s->on_ready)
        s->on_ready(s, 0);
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    ag_stream_t *s = req->handle->data;
    ag_tls_ctx_t *tls = req->data;
    s->connecting = false;
    if (s->closing)
        return;
    if (status < 0) {
        fail_now(s, status);
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    if (tls && s->tls) { /* session created in ag_stream_connect: send the hello */
        pump(s);
        if (!s->closing)
            update_reading(s);
        return;
    }
    s->ready = true;
    if (s->on_ready)
        s->on_ready(s, 0);
}

int ag_stream_connect(ag_stream_t *s, const struct sockaddr *addr, ag_tls_ctx_t *tls,
                      const char *sni)
{
    s->connect_req.data = tls;
    s->connecting = true;
    int rc = uv_tcp_connect(&s->connect_req, &s->tcp, addr, on_connect);
    if (rc < 0) {
        s->connecting = false;
        return rc;
    }
    if (tls) { /* the session exists before the socket connects so SNI can be set now */
        if (ag_tls_create(tls, on_emit, s, &s->tls) != 0 ||
            (sni && ag_tls_set_hostname(s->tls, sni) != 0))
            return UV_ENOMEM;
    }
    return 0;
}

int ag_stream_peer_addr(ag_stream_t *s, struct sockaddr_storage *ss)
{
    int n = sizeof *ss;
    return uv_tcp_getpeername(&s->tcp, (struct sockaddr *)ss, &n);
}

void ag_stream_peer_ip(ag_stream_t *s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    buf[0] = '\0';
    if (ag_stream_peer_addr(s, &ss) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, buf, len);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, buf, len);
}
