/* TLS sessions over memory buffers (tls.h). mbedTLS reads ciphertext from the session's
 * input queue (filled by ag_tls_feed) and writes ciphertext through the emit callback;
 * nothing here blocks or touches a socket. Policy: TLS 1.2 only (mbedTLS 2.28 has no
 * 1.3 server), ECDHE with AES-GCM or ChaCha20-Poly1305, P-256 first, ALPN http/1.1, no
 * renegotiation (mbedTLS default: off), session tickets with a shared rotating key.
 * Once the handshake is done, a session whose state allows it hands its records to
 * tls_record.c (libcrypto's AEAD) and frees its mbedTLS context: tls_switch.c. */
#include "net/tls.h"

#include <malloc.h> /* mallopt (glibc) */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "config.h"
#include "net/tls_local.h"
#include "net/tls_record.h"
#include "runtime/slab.h"

#define TLS_IN_MAX (64 * 1024) /* unprocessed ciphertext held per session */

struct ag_tls_shared {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* used only under the ticket context's mutex */
    mbedtls_ssl_ticket_context ticket;
};

/* Forward secrecy only; AEAD only (RFC 7525 §4.2). */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};
static const char *alpn[] = {"http/1.1", NULL};

void ag_tls_strerror(int mbed_err, char *buf, size_t len)
{
    mbedtls_strerror(mbed_err, buf, len);
}

static ag_err fail(char *errmsg, size_t errlen, const char *what, const char *name, int rc)
{
    char why[160];
    mbedtls_strerror(rc, why, sizeof why);
    if (errmsg)
        snprintf(errmsg, errlen, "%s %s: %s", what, name ? name : "", why);
    return AG_E_CRYPTO;
}

static int seed(mbedtls_entropy_context *e, mbedtls_ctr_drbg_context *d)
{
    static const char pers[] = "authgate-tls";
    mbedtls_entropy_init(e);
    mbedtls_ctr_drbg_init(d);
    return mbedtls_ctr_drbg_seed(d, mbedtls_entropy_func, e, (const unsigned char *)pers,
                                 sizeof pers - 1);
}

ag_err ag_tls_shared_create(int lifetime_s, ag_tls_shared_t **out)
{
    ag_tls_shared_t *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return AG_E_NOMEM;
    mbedtls_ssl_ticket_init(&sh->ticket);
    if (seed(&sh->entropy, &sh->drbg) != 0 ||
        mbedtls_ssl_ticket_setup(&sh->ticket, mbedtls_ctr_drbg_random, &sh->drbg,
                                 MBEDTLS_CIPHER_AES_256_GCM, (uint32_t)lifetime_s) != 0) {
        ag_tls_shared_destroy(sh);
        return AG_E_CRYPTO;
    }
    *out = sh;
    return 0;
}

void ag_tls_shared_destroy(ag_tls_shared_t *sh)
{
    if (!sh)
        return;
    mbedtls_ssl_ticket_free(&sh->ticket);
    mbedtls_ctr_drbg_free(&sh->drbg);
    mbedtls_entropy_free(&sh->entropy);
    free(sh);
}

static ag_tls_ctx_t *ctx_new(bool server, char *errmsg, size_t errlen)
{
    ag_tls_ctx_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    c->server = server;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->chain);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_pk_init(&c->key);
    mbedtls_ssl_session_init(&c->resume);
    int rc = seed(&c->entropy, &c->drbg);
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&c->conf,
                                         server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        fail(errmsg, errlen, "TLS setup", "", rc);
        ag_tls_ctx_destroy(c);
        return NULL;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&c->conf, ciphersuites);
    mbedtls_ssl_conf_curves(&c->conf, curves);
    mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn);
    return c;
}

/* tls.record_layer: with libcrypto's (the default) mbedTLS exports each handshake's keys. */
static void set_record_layer(ag_tls_ctx_t *c, const ag_tls_opts_t *o)
{
    c->record_mbedtls = o->record_layer == AG_TLS_RECORD_MBEDTLS;
    if (!c->record_mbedtls)
        mbedtls_ssl_conf_export_keys_ext_cb(&c->conf, ag_tls_on_export_keys, c);
}

/* A client offering only <id>, which must be one of the policy's suites. */
static bool offer_one_suite(ag_tls_ctx_t *c, int id)
{
    for (const int *s = ciphersuites; *s; s++) {
        if (*s == id) {
            c->one_suite[0] = id;
            mbedtls_ssl_conf_ciphersuites(&c->conf, c->one_suite);
            return true;
        }
    }
    return false;
}

/* PEM from memory needs the terminating NUL counted in the length. */
static int load_chain(mbedtls_x509_crt *crt, const char *file, const char *pem)
{
    if (pem)
        return mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
    return mbedtls_x509_crt_parse_file(crt, file);
}

/* An EC key parses as MBEDTLS_PK_ECKEY, whose sign path copies the key into a temporary
 * ECDSA context for every signature, so the comb table of the generator
 * (MBEDTLS_ECP_FIXED_POINT_OPTIM) was rebuilt on every full handshake. The same key
 * typed MBEDTLS_PK_ECDSA signs with its own group, which keeps the table from the first
 * signature on. The table is written by the worker that owns this context only. */
static int as_ecdsa_key(mbedtls_pk_context *key)
{
    mbedtls_pk_context k;
    int rc;
    if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY)
        return 0;
    mbedtls_pk_init(&k);
    if ((rc = mbedtls_pk_setup(&k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA))) == 0 &&
        (rc = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(k), mbedtls_pk_ec(*key))) == 0) {
        mbedtls_pk_free(key);
        *key = k; /* {info, ctx}: ownership of the context moves with the struct */
        return 0;
    }
    mbedtls_pk_free(&k);
    return rc;
}

/* True when the file at <path> holds a PEM certificate and no private key (a certificate
 * named where the key belongs: the mbedTLS error alone does not say so). */
static bool is_cert_not_key(const char *path)
{
    char head[8192];
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return false;
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    return strstr(head, "-----BEGIN CERTIFICATE-----") && !strstr(head, "PRIVATE KEY-----");
}

/* The private key for the chain already loaded: parsed, checked against the leaf
 * certificate's public key (a mismatched pair would fail every handshake), installed. */
static int load_key(ag_tls_ctx_t *c, const ag_tls_opts_t *o, char *errmsg, size_t errlen)
{
    const char *name = o->key_file ? o->key_file : "(memory)";
    int rc = o->key_pem ? mbedtls_pk_parse_key(&c->key, (const unsigned char *)o->key_pem,
                                               strlen(o->key_pem) + 1, NULL, 0)
                        : mbedtls_pk_parse_keyfile(&c->key, o->key_file, NULL);
    if (rc != 0 && !o->key_pem && is_cert_not_key(o->key_file)) {
        if (errmsg)
            snprintf(errmsg, errlen,
                     "loading key %s: the file holds a certificate, not a "
                     "private key (is the key given as the certificate, or the other way "
                     "round?)",
                     name);
        return rc;
    }
    if (rc == 0 && mbedtls_pk_check_pair(&c->chain.pk, &c->key) != 0) {
        if (errmsg)
            snprintf(errmsg, errlen,
                     "loading key %s: the private key does not match the "
                     "certificate %s",
                     name, o->cert_file ? o->cert_file : "(memory)");
        return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    }
    if (rc == 0)
        rc = as_ecdsa_key(&c->key);
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->chain, &c->key);
    if (rc != 0)
        fail(errmsg, errlen, "loading key", name, rc);
    return rc;
}

ag_err ag_tls_ctx_create_server(const ag_tls_opts_t *o, ag_tls_shared_t *shared, ag_tls_ctx_t **out,
                                char *errmsg, size_t errlen)
{
    ag_tls_ctx_t *c = ctx_new(true, errmsg, errlen);
    int rc;
    if (!c)
        return AG_E_CRYPTO;
    set_record_layer(c, o);
    if ((rc = load_chain(&c->chain, o->cert_file, o->cert_pem)) != 0) {
        fail(errmsg, errlen, "loading certificate", o->cert_file ? o->cert_file : "(memory)", rc);
        goto bad;
    }
    if (load_key(c, o, errmsg, errlen) != 0)
        goto bad;
    if (o->ca_file && o->client_auth != AG_CLIENT_AUTH_NONE) {
        if ((rc = mbedtls_x509_crt_parse_file(&c->ca, o->ca_file)) != 0) {
            fail(errmsg, errlen, "loading client CA", o->ca_file, rc);
            goto bad;
        }
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
        mbedtls_ssl_conf_authmode(&c->conf, o->client_auth == AG_CLIENT_AUTH_REQUIRE
                                                ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                : MBEDTLS_SSL_VERIFY_OPTIONAL);
    } else {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (shared)
        mbedtls_ssl_conf_session_tickets_cb(&c->conf, mbedtls_ssl_ticket_write,
                                            mbedtls_ssl_ticket_parse, &shared->ticket);
    *out = c;
    return 0;
bad:
    ag_tls_ctx_destroy(c);
    return AG_E_CRYPTO;
}

ag_err ag_tls_ctx_create_client(const ag_tls_opts_t *o, ag_tls_ctx_t **out, char *errmsg,
                                size_t errlen)
{
    ag_tls_ctx_t *c = ctx_new(false, errmsg, errlen);
    int rc;
    if (!c)
        return AG_E_CRYPTO;
    set_record_layer(c, o);
    if (o->ciphersuite && !offer_one_suite(c, o->ciphersuite)) {
        if (errmsg)
            snprintf(errmsg, errlen, "ciphersuite 0x%04x is not one of the policy's",
                     (unsigned)o->ciphersuite);
        goto bad;
    }
    const char *ca = o->ca_file ? o->ca_file : "/etc/ssl/certs/ca-certificates.crt";
    if (o->verify_none) {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        /* parse_file returns >0 when some certificates of a bundle were skipped */
        if ((rc = mbedtls_x509_crt_parse_file(&c->ca, ca)) < 0) {
            fail(errmsg, errlen, "loading upstream CA", ca, rc);
            goto bad;
        }
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
    if (o->cert_file) {
        if ((rc = mbedtls_x509_crt_parse_file(&c->chain, o->cert_file)) != 0 ||
            (rc = mbedtls_pk_parse_keyfile(&c->key, o->key_file, NULL)) != 0 ||
            (rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->chain, &c->key)) != 0) {
            fail(errmsg, errlen, "loading upstream client certificate", o->cert_file, rc);
            goto bad;
        }
    }
    *out = c;
    return 0;
bad:
    ag_tls_ctx_destroy(c);
    return AG_E_CRYPTO;
}

void ag_tls_ctx_destroy(ag_tls_ctx_t *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return; /* a session still uses it: the last one to end frees it */
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->chain);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_pk_free(&c->key);
    mbedtls_ssl_session_free(&c->resume);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    free(c);
}

static int on_send(void *ud, const unsigned char *p, size_t n)
{
    ag_tls_t *t = ud;
    t->emit(t->ud, (const char *)p, n);
    return (int)n;
}

static int on_recv(void *ud, unsigned char *p, size_t n)
{
    ag_tls_t *t = ud;
    size_t avail = t->in_n - t->in_off;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n > avail)
        n = avail;
    memcpy(p, t->in + t->in_off, n);
    t->in_off += n;
    if (t->in_off == t->in_n)
        t->in_off = t->in_n = 0;
    return (int)n;
}

/* Sessions live as long as their connection: packed in a slab (runtime/slab.h), not amid
 * the handshake's freed allocations. */
static ag_slab_t session_slab = AG_SLAB_INIT(sizeof(ag_tls_t));

ag_err ag_tls_create(ag_tls_ctx_t *ctx, ag_tls_emit_fn emit, void *ud, ag_tls_t **out)
{
    ag_tls_t *t = ag_slab_calloc(&session_slab);
    if (!t)
        return AG_E_NOMEM;
    t->ctx = ctx;
    atomic_fetch_add(&ctx->refs, 1); /* released by ag_tls_destroy */
    t->emit = emit;
    t->ud = ud;
    if (!(t->ssl = malloc(sizeof *t->ssl))) {
        ag_tls_destroy(t);
        return AG_E_NOMEM;
    }
    mbedtls_ssl_init(t->ssl);
    if (mbedtls_ssl_setup(t->ssl, &ctx->conf) != 0) {
        ag_tls_destroy(t);
        return AG_E_NOMEM;
    }
    mbedtls_ssl_set_bio(t->ssl, t, on_send, on_recv, NULL);
    if (!ctx->server && ctx->have_resume)
        mbedtls_ssl_set_session(t->ssl, &ctx->resume); /* a failure is a full handshake */
    *out = t;
    return 0;
}

ag_err ag_tls_set_hostname(ag_tls_t *t, const char *name)
{
    if (!t->ssl)
        return AG_E_INVAL; /* only before the handshake */
    return mbedtls_ssl_set_hostname(t->ssl, name) == 0 ? 0 : AG_E_NOMEM;
}

void ag_tls_free_ssl(ag_tls_t *t)
{
    if (t->ssl)
        mbedtls_ssl_free(t->ssl); /* zeroizes its keys and buffers */
    free(t->ssl);
    t->ssl = NULL;
}

void ag_tls_destroy(ag_tls_t *t)
{
    if (!t)
        return;
    ag_tls_free_ssl(t);
    ag_tls_drop_keys(t);
    free(t->peer);
    ag_tls_ctx_destroy(t->ctx);
    free(t->in);
    ag_slab_free(&session_slab, t);
}

ag_err ag_tls_feed(ag_tls_t *t, const char *p, size_t n)
{
    if (t->in_off > 0 && t->in_off == t->in_n)
        t->in_off = t->in_n = 0;
    if (t->in_n + n > t->in_cap) {
        if (t->in_off > 0) { /* compact before growing */
            memmove(t->in, t->in + t->in_off, t->in_n - t->in_off);
            t->in_n -= t->in_off;
            t->in_off = 0;
        }
        if (t->in_n + n > TLS_IN_MAX)
            return AG_E_TOO_BIG;
        if (t->in_n + n > t->in_cap) {
            size_t cap = t->in_cap ? t->in_cap : 16 * 1024;
            while (cap < t->in_n + n)
                cap *= 2;
            char *q = realloc(t->in, cap);
            if (!q)
                return AG_E_NOMEM;
            t->in = q;
            t->in_cap = cap;
        }
    }
    memcpy(t->in + t->in_n, p, n);
    t->in_n += n;
    return 0;
}

void ag_tls_release(ag_tls_t *t)
{
    if (t->in_off == t->in_n) {
        free(t->in);
        t->in = NULL;
        t->in_off = t->in_n = t->in_cap = 0;
        if (!t->ssl && t->have_keys)
            ag_tlsrec_release(&t->rec); /* ~1 KiB of EVP state each way, rebuilt on use */
    }
}

bool ag_tls_released(const ag_tls_t *t)
{
    return !t->in && (t->ssl || (!t->rec.rd.evp && !t->rec.wr.evp));
}

void ag_tls_malloc_tune(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, AG_MMAP_THRESHOLD); /* a failure leaves glibc's default */
#endif
}

size_t ag_tls_pending_in(const ag_tls_t *t)
{
    return t->in_n - t->in_off;
}

int ag_tls_handshake(ag_tls_t *t)
{
    if (t->done)
        return AG_TLS_DONE;
    t->ctx->current = t;
    int rc = mbedtls_ssl_handshake(t->ssl);
    t->ctx->current = NULL;
    if (rc == 0) {
        t->done = true;
        if (!t->ctx->server) { /* keep this session for the next connection */
            mbedtls_ssl_session_free(&t->ctx->resume);
            mbedtls_ssl_session_init(&t->ctx->resume);
            t->ctx->have_resume = mbedtls_ssl_get_session(t->ssl, &t->ctx->resume) == 0;
        }
        if (t->have_keys)
            ag_tls_switch_records(t);
        return AG_TLS_DONE;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return AG_TLS_WANT;
    return AG_E_CRYPTO;
}

bool ag_tls_handshake_done(const ag_tls_t *t)
{
    return t->done;
}

int ag_tls_record_layer(const ag_tls_t *t)
{
    return t->ssl ? AG_TLS_RECORD_MBEDTLS : AG_TLS_RECORD_LIBCRYPTO;
}

long ag_tls_read(ag_tls_t *t, char *dst, size_t cap, bool *closed)
{
    if (!t->ssl)
        return ag_tls_records_read(t, dst, cap, closed);
    int rc = mbedtls_ssl_read(t->ssl, (unsigned char *)dst, cap);
    if (rc > 0)
        return rc;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    *closed = true; /* close_notify (rc 0 or PEER_CLOSE_NOTIFY) or a fatal error */
    return rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : AG_E_CRYPTO;
}

bool ag_tls_has_plaintext(const ag_tls_t *t)
{
    if (!t->ssl)
        return t->pt_n > 0;
    return mbedtls_ssl_get_bytes_avail(t->ssl) > 0;
}

ag_err ag_tls_write(ag_tls_t *t, const char *p, size_t n)
{
    if (!t->ssl)
        return ag_tls_records_write(t, p, n);
    while (n > 0) {
        int rc = mbedtls_ssl_write(t->ssl, (const unsigned char *)p, n);
        if (rc <= 0)
            return AG_E_CRYPTO; /* the emit sink never blocks, so WANT_* cannot happen */
        p += rc;
        n -= (size_t)rc;
    }
    return 0;
}

void ag_tls_close_notify(ag_tls_t *t)
{
    if (!t->ssl)
        ag_tls_records_close(t);
    else if (t->done)
        mbedtls_ssl_close_notify(t->ssl);
}

const char *ag_tls_alpn(const ag_tls_t *t)
{
    return t->ssl ? mbedtls_ssl_get_alpn_protocol(t->ssl) : t->alpn;
}

static void name_value(const mbedtls_x509_name *n, char *dst, size_t cap)
{
    size_t len = n->val.len < cap - 1 ? n->val.len : cap - 1;
    memcpy(dst, n->val.p, len);
    dst[len] = '\0';
}

void ag_tls_peer(const ag_tls_t *t, ag_tls_peer_t *peer)
{
    memset(peer, 0, sizeof(*peer));
    if (!t->ssl) { /* switched: what keep_session_facts kept */
        if (t->peer)
            *peer = *t->peer;
        return;
    }
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(t->ssl);
    /* Only a certificate that chained to the configured CA counts. */
    if (!crt || !t->done || mbedtls_ssl_get_verify_result(t->ssl) != 0)
        return;
    peer->verified = true;
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
            name_value(n, peer->cn, sizeof peer->cn);
        else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0 &&
                 peer->norgs < AG_TLS_MAX_ORGS)
            name_value(n, peer->orgs[peer->norgs++], sizeof peer->orgs[0]);
    }
}

ag_err ag_tls_selfsigned(const char *cn, char **cert_pem, char **key_pem)
{
    /* subjectAltName: IP 127.0.0.1, IP ::1, DNS localhost (RFC 5280 §4.2.1.6) */
    static const unsigned char san[] = {0x30, 0x23, 0x87, 0x04, 127, 0,   0,    1,    0x87, 0x10,
                                        0,    0,    0,    0,    0,   0,   0,    0,    0,    0,
                                        0,    0,    0,    0,    0,   1,   0x82, 0x09, 'l',  'o',
                                        'c',  'a',  'l',  'h',  'o', 's', 't'};
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    char subject[300];
    unsigned char *cbuf = calloc(1, 4096), *kbuf = calloc(1, 2048);
    ag_err err = AG_E_CRYPTO;

    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    snprintf(subject, sizeof subject, "CN=%s,O=authgate demo", cn);
    if (!cbuf || !kbuf) {
        err = AG_E_NOMEM;
        goto out;
    }
    if (seed(&entropy, &drbg) != 0 ||
        mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random,
                            &drbg) != 0)
        goto out_rng;
    unsigned char sn[16];
    mbedtls_ctr_drbg_random(&drbg, sn, sizeof sn);
    sn[0] &= 0x7f;
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    if (mbedtls_mpi_read_binary(&serial, sn, sizeof sn) != 0 ||
        mbedtls_x509write_crt_set_serial(&crt, &serial) != 0 ||
        mbedtls_x509write_crt_set_subject_name(&crt, subject) != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&crt, subject) != 0 ||
        mbedtls_x509write_crt_set_validity(&crt, "20240101000000", "20991231235959") != 0 ||
        mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0) != 0 ||
        mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san,
                                            sizeof san) != 0 ||
        mbedtls_x509write_crt_pem(&crt, cbuf, 4096, mbedtls_ctr_drbg_random, &drbg) != 0 ||
        mbedtls_pk_write_key_pem(&key, kbuf, 2048) != 0)
        goto out_rng;
    *cert_pem = (char *)cbuf;
    *key_pem = (char *)kbuf;
    cbuf = kbuf = NULL;
    err = 0;
out_rng:
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
out:
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&key);
    free(cbuf);
    free(kbuf);
    return err;
}

const char *ag_tls_mbedtls_version(bool running)
{
    static char v[18]; /* mbedtls_version_get_string writes at most 18 bytes */
    if (!running)
        return MBEDTLS_VERSION_STRING;
    if (!v[0])
        mbedtls_version_get_string(v);
    return v;
}

void ag_tls_ctx_serial(const ag_tls_ctx_t *c, char *buf, size_t len)
{
    if (mbedtls_x509_serial_gets(buf, len, &c->chain.serial) < 0)
        snprintf(buf, len, "?");
}

/* A published certificate: one server context per worker (owner references). */
typedef struct {
    ag_snap_t snap;
    int n;
    ag_tls_ctx_t *ctx[];
} ctx_set_t;

static void ctx_set_free(ag_snap_t *s)
{
    ctx_set_t *set = (ctx_set_t *)s;
    for (int i = 0; i < set->n; i++)
        ag_tls_ctx_destroy(set->ctx[i]); /* a worker that adopted one holds its own ref */
    free(set);
}

ag_err ag_tls_ctx_publish(ag_snap_domain_t *dom, ag_tls_ctx_t **ctx, int n)
{
    ctx_set_t *set = malloc(sizeof *set + (size_t)n * sizeof set->ctx[0]);
    if (!set) {
        for (int i = 0; i < n; i++)
            ag_tls_ctx_destroy(ctx[i]);
        return AG_E_NOMEM;
    }
    set->snap = (ag_snap_t){.free = ctx_set_free};
    set->n = n;
    memcpy(set->ctx, ctx, (size_t)n * sizeof ctx[0]);
    ag_snap_publish(dom, &set->snap);
    return 0;
}

ag_tls_ctx_t *ag_tls_ctx_take(ag_tls_ctx_t **cur, ag_tls_follow_t *f)
{
    if (!f->dom || ag_snap_generation(f->dom) == f->seen)
        return *cur; /* the common case: one load of a line written only on reload */
    ctx_set_t *set = (ctx_set_t *)ag_snap_enter(f->dom);
    if (set && set->snap.generation != f->seen && f->index < set->n) {
        ag_tls_ctx_t *c = set->ctx[f->index];
        atomic_fetch_add(&c->refs, 1);
        ag_tls_ctx_destroy(*cur); /* sessions on it keep it until they end */
        *cur = c;
        f->seen = set->snap.generation;
    }
    ag_snap_leave(f->dom);
    return *cur;
}
