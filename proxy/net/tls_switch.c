/* The hand-over of a session's TLS 1.2 records from mbedTLS to libcrypto's AEAD
 * (tls_record.c) once its handshake is done, and the switched session's reads, writes and
 * close_notify over the session's input queue and emit callback (tls_local.h). The keys
 * come from mbedTLS's key export; the switch is taken only when mbedTLS's state proves it
 * safe, else mbedTLS keeps the records. Never blocks; single-threaded per session. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ssl.h>
#include <mbedtls/version.h>

#include "config.h"
#include "net/tls_local.h"

/* Wipes the exported record keys and EVP state. */
void ag_tls_drop_keys(ag_tls_t *t)
{
    ag_tlsrec_wipe(&t->rec);
    t->have_keys = false;
}

/* mbedTLS's key export (MBEDTLS_SSL_EXPORT_KEYS): called in mbedtls_ssl_handshake with the
 * new key block; the callback has no ssl pointer, so the context's <current> says whose
 * (contexts are per worker, single-threaded). Without a copy the session simply stays on
 * mbedTLS's record layer. */
int ag_tls_on_export_keys(void *ud, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen, const unsigned char crand[32],
                          const unsigned char srand[32], mbedtls_tls_prf_types prf)
{
    ag_tls_ctx_t *c = ud;
    ag_tls_t *t = c->current;
    (void)ms, (void)crand, (void)srand, (void)prf;
    if (!t)
        return 0;
    ag_tls_drop_keys(t);
    t->have_keys = ag_tlsrec_set_keys(&t->rec, c->server, kb, maclen, keylen, ivlen) == 0;
    return 0;
}

static ag_tlsrec_aead suite_aead(int id)
{
    switch (id) {
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
    case MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
    case MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
        return AG_TLSREC_AES_GCM;
    case MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
    case MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
        return AG_TLSREC_CHACHA20_POLY1305;
    default:
        return 0;
    }
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* True when mbedTLS's record state right after the handshake is what TLS 1.2 says it is:
 * nothing read ahead (in_left) or half-parsed (the last record held the Finished and
 * nothing after it: mbedTLS consumes a handled message only at its next read), no
 * decrypted data waiting (in_offt), nothing left to send (out_left), and only the Finished
 * sent and received under the new keys (both sequence numbers 1). These are fields of the
 * ssl_context that mbedTLS 2.28 exposes in ssl.h and 3.x made private: the check (and
 * with it the switch) is compiled for 2.28.x only and taken only when the library that
 * runs is 2.28 as well; anything else keeps mbedTLS's record layer. */
static bool quiet_after_handshake(const mbedtls_ssl_context *s)
{
#if MBEDTLS_VERSION_NUMBER >= 0x021C0000 && MBEDTLS_VERSION_NUMBER < 0x021D0000
    bool finished_only = s->in_msglen == 0 || (s->in_msgtype == MBEDTLS_SSL_MSG_HANDSHAKE &&
                                               s->in_hslen == s->in_msglen);
    return (mbedtls_version_get_number() >> 16) == 0x021C && s->in_ctr && s->in_left == 0 &&
           finished_only && !s->in_offt && s->out_left == 0 && get_u64(s->in_ctr) == 1 &&
           get_u64(s->cur_out_ctr) == 1;
#else
    (void)s;
    (void)get_u64;
    return false;
#endif
}

/* What ag_tls_alpn and ag_tls_peer answer once the mbedTLS context is gone. */
static ag_err keep_session_facts(ag_tls_t *t)
{
    ag_tls_peer_t peer;
    t->alpn = mbedtls_ssl_get_alpn_protocol(t->ssl); /* an entry of alpn[] above */
    if (!t->ctx->server)
        return 0;
    ag_tls_peer(t, &peer);
    if (!peer.verified)
        return 0;
    if (!(t->peer = malloc(sizeof peer)))
        return AG_E_NOMEM;
    *t->peer = peer;
    return 0;
}

/* Hands the records to libcrypto when that is provably safe (fail safe: otherwise mbedTLS
 * keeps them), then frees the mbedTLS context: an idle connection keeps no mbedTLS
 * record buffers (2 x 16.7 KiB). */
void ag_tls_switch_records(ag_tls_t *t)
{
    ag_tlsrec_aead aead =
        suite_aead(mbedtls_ssl_get_ciphersuite_id(mbedtls_ssl_get_ciphersuite(t->ssl)));
    if (!t->have_keys || !aead || !quiet_after_handshake(t->ssl) ||
        ag_tlsrec_start(&t->rec, aead, 1, 1) != 0 || keep_session_facts(t) != 0) {
        ag_tls_drop_keys(t);
        return;
    }
    ag_tls_free_ssl(t);
}

/* Seals <p,n> (at most one record's worth) and emits it. The scratch is per thread: a
 * session is used by one worker at a time and the record leaves through emit (copied). */
static ag_err emit_record(ag_tls_t *t, uint8_t type, const void *p, size_t n)
{
    static _Thread_local unsigned char out[AG_TLSREC_MAX_PLAIN + AG_TLSREC_OVERHEAD];
    size_t outn;
    if (t->failed || ag_tlsrec_seal(&t->rec, type, p, n, out, &outn) != 0)
        return AG_E_CRYPTO;
    t->emit(t->ud, (const char *)out, outn);
    return 0;
}

/* Ends a switched session for good: answers <alert> (0: none), wipes the keys. */
static void fail_session(ag_tls_t *t, uint8_t alert)
{
    if (alert && !t->failed) {
        const unsigned char a[2] = {2, alert}; /* fatal */
        (void)emit_record(t, AG_TLSREC_ALERT, a, sizeof a);
    }
    t->failed = true;
    t->pt_n = t->pt_skip = 0;
    ag_tls_drop_keys(t);
}

/* Opens the next record of the input queue: 1 when one was (its plaintext, maybe none,
 * is pending), 0 when it is not complete yet, -1 when the stream closed or failed. */
static int next_record(ag_tls_t *t)
{
    ag_tlsrec_msg_t m;
    if (t->failed || t->closed)
        return -1;
    if (t->in_off == t->in_n)
        return 0;
    unsigned char *p = (unsigned char *)t->in + t->in_off;
    ag_err err = ag_tlsrec_open(&t->rec, p, t->in_n - t->in_off, &m);
    if (err) {
        fail_session(t, m.alert);
        return -1;
    }
    if (m.len == 0)
        return 0;
    if (m.closed) {
        t->closed = true;
        t->in_off += m.len;
        return -1;
    }
    size_t at = (size_t)(m.data - p);
    t->in_off += at;
    t->pt_n = m.n;
    t->pt_skip = m.len - at - m.n;
    return 1;
}

long ag_tls_records_read(ag_tls_t *t, char *dst, size_t cap, bool *closed)
{
    size_t got = 0;
    while (got < cap) {
        if (t->pt_n == 0 && next_record(t) <= 0)
            break;
        size_t k = t->pt_n < cap - got ? t->pt_n : cap - got;
        memcpy(dst + got, t->in + t->in_off, k);
        got += k;
        t->in_off += k;
        t->pt_n -= k;
        if (t->pt_n == 0) {
            t->in_off += t->pt_skip;
            t->pt_skip = 0;
        }
    }
    if (got > 0)
        return (long)got;
    if (!t->failed && !t->closed)
        return 0;
    *closed = true;
    return t->failed ? AG_E_CRYPTO : 0;
}

ag_err ag_tls_records_write(ag_tls_t *t, const char *p, size_t n)
{
    while (n > 0) {
        size_t k = n < AG_TLSREC_MAX_PLAIN ? n : AG_TLSREC_MAX_PLAIN;
        if (emit_record(t, AG_TLSREC_APPDATA, p, k) != 0) {
            fail_session(t, 0);
            return AG_E_CRYPTO;
        }
        p += k;
        n -= k;
    }
    return 0;
}

void ag_tls_records_close(ag_tls_t *t)
{
    static const unsigned char close_notify[2] = {1, 0}; /* warning, close_notify */
    if (!t->failed && emit_record(t, AG_TLSREC_ALERT, close_notify, 2) != 0)
        fail_session(t, 0);
}
