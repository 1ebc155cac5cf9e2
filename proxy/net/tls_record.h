/* The TLS 1.2 record layer of a session once its handshake is done (RFC 5246 §6.2), with
 * OpenSSL libcrypto's EVP AEAD: AES-GCM (RFC 5288) and ChaCha20-Poly1305 (RFC 7905).
 * mbedTLS does the handshake; tls.c hands the keys it exported here and frees mbedTLS's
 * context. This file owns the session's record keys, sequence numbers and EVP contexts and
 * knows nothing of handshakes, certificates or sockets; it decrypts in place and encrypts
 * into a buffer the caller gives. Any failure is final for the session (fail closed).
 * Lifetime: session (one per ag_tls_t, single-threaded). */
#ifndef AG_TLS_RECORD_H
#define AG_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define AG_TLSREC_HEADER 5
#define AG_TLSREC_MAX_PLAIN 16384                  /* 2^14 (RFC 5246 §6.2.1) */
#define AG_TLSREC_MAX_CIPHER (16384 + 2048)        /* 2^14 + 2048 (RFC 5246 §6.2.3) */
#define AG_TLSREC_OVERHEAD (AG_TLSREC_HEADER + 24) /* header, GCM explicit nonce 8, tag 16 */
#define AG_TLSREC_MAX_EMPTY 32 /* consecutive empty application_data records accepted */

enum { AG_TLSREC_ALERT = 21, AG_TLSREC_APPDATA = 23 };

typedef enum { AG_TLSREC_AES_GCM = 1, AG_TLSREC_CHACHA20_POLY1305 = 2 } ag_tlsrec_aead;

typedef struct {
    void *evp;    /* EVP_CIPHER_CTX (owned); NULL before the start or once released */
    uint64_t seq; /* of the next record */
    unsigned char key[32], iv[12];
} ag_tlsrec_dir_t;

typedef struct {
    ag_tlsrec_aead aead; /* 0 before ag_tlsrec_start */
    uint8_t keylen, ivlen;
    unsigned empties; /* consecutive empty application_data records read */
    ag_tlsrec_dir_t rd, wr;
} ag_tlsrec_t;

/* One record opened by ag_tlsrec_open. */
typedef struct {
    size_t len;          /* bytes of the record (header included); 0: incomplete */
    unsigned char *data; /* application data decrypted in place; NULL for an alert */
    size_t n;
    bool closed;   /* the peer's close_notify */
    uint8_t alert; /* on an error: the alert to send the peer (0: none) */
} ag_tlsrec_msg_t;

/* Copies this side's keys from an exported TLS 1.2 key block <kb> (RFC 5246 §6.3:
 * MAC keys (2 * <maclen>), client_write_key, server_write_key, client_IV, server_IV).
 * <server>: the write keys are the server's. AG_E_UNSUPPORTED for a shape not handled. */
ag_err ag_tlsrec_set_keys(ag_tlsrec_t *r, bool server, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen);
/* Makes the record layer live with <aead> and the sequence numbers the next record of
 * each direction carries. AG_E_UNSUPPORTED when the keys do not fit <aead>; AG_E_CRYPTO on
 * an EVP failure. */
ag_err ag_tlsrec_start(ag_tlsrec_t *r, ag_tlsrec_aead aead, uint64_t read_seq, uint64_t write_seq);
/* Frees the EVP contexts (an idle session); the next record rebuilds them from the keys. */
void ag_tlsrec_release(ag_tlsrec_t *r);
/* Frees the EVP contexts and wipes the keys; <r> is then unusable. */
void ag_tlsrec_wipe(ag_tlsrec_t *r);

/* Opens the record at the front of <p,n> (untrusted bytes, decrypted in place). Returns 0
 * with m->len 0 when the record is not complete yet, 0 with the record otherwise, or a
 * negative ag_err (m->alert says which alert to answer): malformed header, record type,
 * version or length, a failed tag, a renegotiation attempt, a fatal alert, too many
 * empty records, a sequence number wrap. */
ag_err ag_tlsrec_open(ag_tlsrec_t *r, unsigned char *p, size_t n, ag_tlsrec_msg_t *m);
/* Seals <p,n> (n <= AG_TLSREC_MAX_PLAIN) as one record of <type> into <out>, which holds
 * n + AG_TLSREC_OVERHEAD bytes; *outn is the record's length. */
ag_err ag_tlsrec_seal(ag_tlsrec_t *r, uint8_t type, const unsigned char *p, size_t n,
                      unsigned char *out, size_t *outn);

#endif
