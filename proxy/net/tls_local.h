/* What tls.c and tls_switch.c share: the context and session structs and the hand-over of
 * a session's records from mbedTLS to libcrypto (tls_switch.c). Private to proxy/net/tls*.c;
 * everyone else uses tls.h. */
#ifndef AG_TLS_LOCAL_H
#define AG_TLS_LOCAL_H

#include <stdatomic.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "net/tls.h"
#include "net/tls_record.h"

struct ag_tls_ctx {
    atomic_int refs; /* the owner's reference plus one per session (ag_tls_create) */
    bool server;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* per worker: no lock */
    mbedtls_ssl_config conf;
    mbedtls_x509_crt chain, ca;
    mbedtls_pk_context key;
    /* client: the last session with the upstream, offered on the next connection (ticket
     * or session id) so a pool refill skips the full handshake; per worker, no lock */
    mbedtls_ssl_session resume;
    bool have_resume;
    bool record_mbedtls; /* keep mbedTLS's record layer (config tls.record_layer) */
    int one_suite[2];    /* client: the one suite offered (ag_tls_opts_t.ciphersuite) */
    ag_tls_t *current;   /* the session in mbedtls_ssl_handshake (on_export_keys) */
};

struct ag_tls {
    ag_tls_ctx_t *ctx;
    mbedtls_ssl_context *ssl; /* NULL once the records moved to <rec> */
    ag_tls_emit_fn emit;
    void *ud;
    char *in;
    size_t in_off, in_n, in_cap;
    bool done;
    /* libcrypto's record layer (tls_record.h): keys exported during the handshake, live
     * once <ssl> is freed; then the plaintext of the record being read is the <pt_n>
     * bytes at in + in_off, followed by <pt_skip> bytes (its tag) to pass over. */
    bool have_keys, failed, closed;
    ag_tlsrec_t rec;
    size_t pt_n, pt_skip;
    const char *alpn;    /* switched sessions: the protocol chosen (static storage) */
    ag_tls_peer_t *peer; /* switched server sessions: the verified client certificate */
};

/* tls.c: frees the session's mbedTLS context (NULL after). */
void ag_tls_free_ssl(ag_tls_t *t);

/* tls_switch.c. The key-export callback (mbedtls_ssl_conf_export_keys_ext_cb; <ud> is the
 * context); wiping the exported keys; the switch after a completed handshake (a no-op
 * unless provably safe); reads, writes and close_notify of a switched session. */
int ag_tls_on_export_keys(void *ud, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen, const unsigned char crand[32],
                          const unsigned char srand[32], mbedtls_tls_prf_types prf);
void ag_tls_drop_keys(ag_tls_t *t);
void ag_tls_switch_records(ag_tls_t *t);
long ag_tls_records_read(ag_tls_t *t, char *dst, size_t cap, bool *closed);
ag_err ag_tls_records_write(ag_tls_t *t, const char *p, size_t n);
void ag_tls_records_close(ag_tls_t *t);

#endif
