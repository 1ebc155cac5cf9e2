/* A byte stream over one TCP connection, optionally TLS: the transport both sides of the
 * proxy use (client connections and upstream connections). Owns the uv_tcp_t, the TLS
 * session and the plaintext read buffer; knows nothing of HTTP. Plaintext arrives in
 * rbuf[roff..rn] and the consumer advances roff as it consumes; the stream compacts the
 * buffer only while reading, so a consumer that keeps offsets relative to roff is safe.
 * Writes never block and never fail silently: what the kernel does not take at once is
 * copied into a write request (the consumer applies backpressure through
 * ag_stream_queued). Lifetime: the consumer embeds or allocates the struct and must keep
 * it until on_close runs (libuv frees nothing before its close callback). */
#ifndef AG_STREAM_H
#define AG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/tls.h"

typedef struct ag_stream ag_stream_t;

#define AG_STREAM_RBUF_MIN (16 * 1024)
typedef void (*ag_stream_cb)(ag_stream_t *s, int status);

struct ag_stream {
    uv_tcp_t tcp;          /* tcp.data == this */
    ag_tls_t *tls;         /* NULL: plain TCP */
    char *rbuf;            /* plaintext input (owned, rsize bytes; NULL until the first
                            * read and after ag_stream_release) */
    size_t roff, rn, rcap; /* rcap: the most rbuf may grow to */
    size_t rsize;          /* starts small; grows (moving the bytes) only while reading */
    char *scratch;         /* per-loop buffer (borrowed): ciphertext reads, and the records
                            * of a TLS handshake step gathered for one write */
    size_t scratch_len;
    size_t gathered;        /* in a handshake step: bytes gathered in scratch */
    bool gathering;         /* in a handshake step: emitted records go to scratch */
    uint32_t writes;        /* write syscalls and write requests issued (tests count them) */
    void *data;             /* consumer's */
    ag_stream_cb on_ready;  /* TCP connected and TLS handshake done (0) or failed (<0) */
    ag_stream_cb on_read;   /* >0: new plaintext; <0: UV_EOF or an error */
    ag_stream_cb on_drain;  /* every write completed and the queue is empty */
    ag_stream_cb on_close;  /* handle closed: the struct may be reused or freed */
    ag_stream_cb on_wblock; /* writes now wait on the peer (none did): from inside a write */
    size_t queued;          /* plaintext-side bytes handed to libuv, not yet written */
    unsigned pending;       /* outstanding write requests */
    uint64_t wtotal;        /* bytes ever written to the socket or queued (TLS: ciphertext) */
    int werr;               /* first write error */
    bool want_read, uv_reading, ready, closing, eof, close_after_flush;
    bool in_pump, repump, connecting, shut;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int corked; /* >0: writes gather in cork (one record, one syscall) */
    char *cork;
    size_t cork_n, cork_cap;
};

/* Prepares <s> on <loop> with a plaintext buffer that grows up to <rcap> bytes, allocated
 * (AG_STREAM_RBUF_MIN first) when the first bytes are read. */
int ag_stream_init(ag_stream_t *s, uv_loop_t *loop, size_t rcap, char *scratch, size_t scratch_len);
/* Frees the read buffer; only after on_close (or when the handle was never opened). */
void ag_stream_dispose(ag_stream_t *s);
/* An idle stream gives back its buffers: the read buffer when it holds no unconsumed
 * plaintext, the cork buffer when nothing is gathered, the TLS session's ciphertext queue
 * when empty (ag_tls_release). Each is allocated again at its next use (the read buffer at
 * the next read). Leaves what mbedTLS holds (its two record buffers). */
void ag_stream_release(ag_stream_t *s);
/* True when the stream holds none of the buffers above. */
bool ag_stream_released(const ag_stream_t *s);
/* Takes over <fd>, a connection just accepted (acceptor.h), closing it on failure; <tls>
 * (may be NULL) starts a server session. on_ready follows (synchronously for plain TCP). */
int ag_stream_accept(ag_stream_t *s, int fd, ag_tls_ctx_t *tls);
/* Starts a server TLS session on a stream accepted without one (<tls> NULL), after the
 * consumer read what came before the ClientHello (a PROXY protocol header): the
 * unconsumed bytes rbuf[roff..rn] become the session's first ciphertext, and on_ready
 * follows once the handshake is done (or failed). Call at most once. */
int ag_stream_start_tls(ag_stream_t *s, ag_tls_ctx_t *tls);
/* Connects to <addr>; with <tls>, performs a client handshake naming <sni>. */
int ag_stream_connect(ag_stream_t *s, const struct sockaddr *addr, ag_tls_ctx_t *tls,
                      const char *sni);

void ag_stream_read_start(ag_stream_t *s);
void ag_stream_read_stop(ag_stream_t *s);
/* Re-delivers buffered plaintext (call after consuming, when more may be waiting). */
void ag_stream_pump(ag_stream_t *s);

/* Writes <n> plaintext buffers. Returns 0 or the (sticky) write error. */
int ag_stream_write(ag_stream_t *s, const uv_buf_t *bufs, unsigned n);
static inline int ag_stream_write1(ag_stream_t *s, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    return ag_stream_write(s, &b, 1);
}
static inline size_t ag_stream_queued(const ag_stream_t *s)
{
    return s->queued + s->cork_n;
}
/* Of the bytes ever written, how many the peer has taken (TLS: ciphertext): on Linux
 * what its TCP acknowledged (SIOCOUTQ: the kernel's send buffer, up to megabytes, may
 * hold more than a slow reader takes in a while), elsewhere what the kernel took. Grows
 * with every bit of progress, so a consumer sees it without a callback per write. */
uint64_t ag_stream_wdone(const ag_stream_t *s);
/* Gathers the writes between cork and uncork into one TLS record / one syscall (nests). */
void ag_stream_cork(ag_stream_t *s);
void ag_stream_uncork(ag_stream_t *s);

/* Closes at once (pending writes are dropped). Idempotent. */
void ag_stream_close(ag_stream_t *s);
/* Closes after pending writes complete (TLS: after close_notify). */
void ag_stream_close_after_flush(ag_stream_t *s);
/* Ends the writing side once pending writes complete (TLS: close_notify first), then
 * shutdown(SHUT_WR); reading goes on. Nothing may be written afterwards. Idempotent. */
void ag_stream_shutdown(ag_stream_t *s);

/* Peer address as text ("1.2.3.4" / "::1") into <buf>; "" on failure. */
void ag_stream_peer_ip(ag_stream_t *s, char *buf, size_t len);
/* Peer address into <ss>; 0 or a libuv error. */
int ag_stream_peer_addr(ag_stream_t *s, struct sockaddr_storage *ss);

#endif
