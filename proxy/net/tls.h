/* TLS over memory buffers (mbedTLS 2.28 for the handshake; after it, by default, records
 * through libcrypto's AEAD in tls_record.c). Turns ciphertext into plaintext and back and
 * knows nothing of sockets or HTTP: stream.c feeds it bytes read from libuv and writes
 * out what it produces. Contexts (ag_tls_ctx_t) are per worker (RNG, config, keys: no
 * locks on the hot path); only the session-ticket key is shared, behind mbedTLS's own
 * mutex, so a ticket issued by one worker resumes on another. Lifetimes: ctx process,
 * session per connection. */
#ifndef AG_TLS_H
#define AG_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/str.h"
#include "runtime/snapshot.h"

typedef struct ag_tls_ctx ag_tls_ctx_t;
typedef struct ag_tls_shared ag_tls_shared_t;
typedef struct ag_tls ag_tls_t;

#define AG_TLS_MAX_ORGS 16 /* O= values kept from a client certificate (groups) */

/* What a verified client certificate said; strings are NUL-terminated copies owned by
 * the session. Empty (ncn == 0 / norgs == 0) when no verified certificate. */
typedef struct {
    bool verified;
    char cn[256];
    char orgs[AG_TLS_MAX_ORGS][128];
    int norgs;
} ag_tls_peer_t;

typedef struct {
    /* Server: PEM chain and key (NUL-terminated buffers or files). */
    const char *cert_file, *key_file;
    const char *cert_pem, *key_pem; /* alternative to files (demo) */
    const char *ca_file;            /* server: client CA; client: upstream CA (NULL: system) */
    int client_auth;                /* server: AG_CLIENT_AUTH_* (config.h) */
    const char *server_name;        /* client: SNI and name to verify */
    bool verify_none;               /* client: skip verification (demo's loopback only) */
    int record_layer; /* AG_TLS_RECORD_* (config.h): who protects records after the handshake */
    int ciphersuite;  /* client: offer only this suite of the policy's (IANA id; tests, bench) */
} ag_tls_opts_t;

/* Shared ticket key (process lifetime). <lifetime_s> 0 disables tickets. */
ag_err ag_tls_shared_create(int lifetime_s, ag_tls_shared_t **out);
void ag_tls_shared_destroy(ag_tls_shared_t *sh);

/* Per-worker server or client context. <shared> may be NULL (no tickets). Errors are
 * described in <errmsg> (file names and mbedTLS's reason). */
ag_err ag_tls_ctx_create_server(const ag_tls_opts_t *opts, ag_tls_shared_t *shared,
                                ag_tls_ctx_t **out, char *errmsg, size_t errlen);
ag_err ag_tls_ctx_create_client(const ag_tls_opts_t *opts, ag_tls_ctx_t **out, char *errmsg,
                                size_t errlen);
/* Drops the owner's reference: the context is freed when the last session created on it
 * (ag_tls_create takes a reference, ag_tls_destroy drops it) has ended too. */
void ag_tls_ctx_destroy(ag_tls_ctx_t *ctx);

/* The serial number of a server context's certificate ("01:AB:..."), for logs. */
void ag_tls_ctx_serial(const ag_tls_ctx_t *c, char *buf, size_t len);

/* Certificate reload. A listener's context is owned by one worker (<cur>). The control
 * thread publishes a reloaded certificate as ONE snapshot (snapshot.h) holding a new
 * context per worker; each worker follows the domain before its next accept. */
typedef struct {
    ag_snap_domain_t *dom; /* NULL: this listener's certificate is not reloaded */
    int index;             /* this worker's context in each published set */
    uint64_t seen;         /* the generation adopted last (owning worker only) */
} ag_tls_follow_t;
/* Control thread: publishes <ctx>[0..n) (takes over their owner references) in <dom>.
 * The set is freed once every worker has moved on from it; a context lives on for the
 * sessions made with it. AG_E_NOMEM: nothing published, the contexts are destroyed. */
ag_err ag_tls_ctx_publish(ag_snap_domain_t *dom, ag_tls_ctx_t **ctx, int n);
/* The owning worker: adopts its context of a newer published set (its own reference;
 * the reference to the old context is dropped, which lives on for the connections made
 * with it). Nothing shared is written unless the generation changed. Returns *cur. */
ag_tls_ctx_t *ag_tls_ctx_take(ag_tls_ctx_t **cur, ag_tls_follow_t *f);

/* One session. Ciphertext produced is appended through <emit>(<ud>, bytes, n). */
typedef void (*ag_tls_emit_fn)(void *ud, const char *p, size_t n);
ag_err ag_tls_create(ag_tls_ctx_t *ctx, ag_tls_emit_fn emit, void *ud, ag_tls_t **out);
void ag_tls_destroy(ag_tls_t *t);
/* Client sessions: SNI and the name the server certificate must carry. */
ag_err ag_tls_set_hostname(ag_tls_t *t, const char *name);

enum { AG_TLS_WANT = 0, AG_TLS_DONE = 1, AG_TLS_CLOSED = 2 };

/* Feeds ciphertext <p,n> (borrowed; everything is consumed into the session's input
 * queue). Returns 0 or AG_E_TOO_BIG when the queue is over its bound. */
ag_err ag_tls_feed(ag_tls_t *t, const char *p, size_t n);
/* Frees the input queue when it is empty (an idle connection), and on libcrypto's record
 * layer the EVP contexts too (rebuilt from the kept keys at the next record); the next
 * ag_tls_feed allocates the queue again. ag_tls_released: true when no queue is allocated
 * and, on libcrypto's record layer, no EVP context either. */
void ag_tls_release(ag_tls_t *t);
bool ag_tls_released(const ag_tls_t *t);
/* Bytes of fed ciphertext not yet processed (a reader stops reading above a bound). */
size_t ag_tls_pending_in(const ag_tls_t *t);
/* Drives the handshake: AG_TLS_WANT (needs input), AG_TLS_DONE, or AG_E_CRYPTO. */
int ag_tls_handshake(ag_tls_t *t);
bool ag_tls_handshake_done(const ag_tls_t *t);
/* Who protects this session's records: AG_TLS_RECORD_MBEDTLS (before and during the
 * handshake, with record_layer "mbedtls", or when the switch was not safe) or
 * AG_TLS_RECORD_LIBCRYPTO (after the handshake: keys exported by mbedTLS, records sealed and
 * opened by tls_record.c with libcrypto's EVP AEAD, the mbedTLS context freed). */
int ag_tls_record_layer(const ag_tls_t *t);
/* Reads plaintext into <dst>: returns bytes read (>0), 0 when more ciphertext is needed
 * or the peer closed (then *closed is set), or a negative ag_err on a fatal alert. */
long ag_tls_read(ag_tls_t *t, char *dst, size_t cap, bool *closed);
/* True when plaintext is decrypted and waiting in the session. */
bool ag_tls_has_plaintext(const ag_tls_t *t);
/* Encrypts <p,n> (emitted through emit). */
ag_err ag_tls_write(ag_tls_t *t, const char *p, size_t n);
/* Sends close_notify. */
void ag_tls_close_notify(ag_tls_t *t);

const char *ag_tls_alpn(const ag_tls_t *t);
/* Fills <peer> from the verified client certificate (server sessions). */
void ag_tls_peer(const ag_tls_t *t, ag_tls_peer_t *peer);
/* Last mbedTLS error text for logs. */
void ag_tls_strerror(int mbed_err, char *buf, size_t len);

/* Allocations of AG_MMAP_THRESHOLD bytes and more get mappings of their own (glibc's
 * M_MMAP_THRESHOLD, set once by the server at start): mbedTLS's two 16.3 KiB record
 * buffers per connection then take only the pages a connection touched, and the buffers an
 * idle connection gives back (http1.c) return to the kernel at once instead of leaving
 * holes amid live memory. Allocations that big are per connection, not per request. */
#define AG_MMAP_THRESHOLD (8 * 1024)
void ag_tls_malloc_tune(void);

/* Demo: a fresh self-signed P-256 certificate for <cn> with SAN IP/DNS entries, as PEM
 * (NUL-terminated, malloc'ed, caller frees). */
ag_err ag_tls_selfsigned(const char *cn, char **cert_pem, char **key_pem);

/* The mbedTLS version authgate was compiled against (<running> false) or the library
 * loaded at run time ("2.28.3"). Static storage; first call at start-up. */
const char *ag_tls_mbedtls_version(bool running);

#endif
