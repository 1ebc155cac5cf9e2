/* TLS 1.2 AEAD record protection with libcrypto's EVP (tls_record.h). Per record only the
 * nonce changes: each direction's EVP context keeps its key from the start (or from its
 * rebuild after a release). Nonces (RFC 5288 §3, RFC 7905 §2): AES-GCM: the 4-byte salt
 * and the record's 8-byte explicit nonce, for which we send our sequence number (unique
 * per key); ChaCha20-Poly1305: the 12-byte IV XOR the left-padded sequence number. The
 * additional data binds the implicit sequence number, so a replayed, dropped or
 * reordered record fails its tag. */
#include "net/tls_record.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TAG_LEN 16
#define EXPLICIT_LEN 8

/* Alert descriptions answered (RFC 5246 §7.2). */
enum { A_UNEXPECTED = 10, A_BAD_MAC = 20, A_OVERFLOW = 22, A_DECODE = 50, A_VERSION = 70 };

static size_t explicit_len(const ag_tlsrec_t *r)
{
    return r->aead == AG_TLSREC_AES_GCM ? EXPLICIT_LEN : 0;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

ag_err ag_tlsrec_set_keys(ag_tlsrec_t *r, bool server, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen)
{
    if (maclen != 0 || (keylen != 16 && keylen != 32) || (ivlen != 4 && ivlen != 12))
        return AG_E_UNSUPPORTED; /* an AEAD suite has no MAC keys */
    const unsigned char *ckey = kb, *skey = kb + keylen;
    const unsigned char *civ = kb + 2 * keylen, *siv = civ + ivlen;
    memcpy(r->wr.key, server ? skey : ckey, keylen);
    memcpy(r->rd.key, server ? ckey : skey, keylen);
    memcpy(r->wr.iv, server ? siv : civ, ivlen);
    memcpy(r->rd.iv, server ? civ : siv, ivlen);
    r->keylen = (uint8_t)keylen;
    r->ivlen = (uint8_t)ivlen;
    return 0;
}

static const EVP_CIPHER *cipher(const ag_tlsrec_t *r)
{
    if (r->aead == AG_TLSREC_CHACHA20_POLY1305)
        return EVP_chacha20_poly1305();
    return r->keylen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
}

/* The direction's EVP context with its key set; built again on first use after a release. */
static EVP_CIPHER_CTX *dir_ctx(const ag_tlsrec_t *r, ag_tlsrec_dir_t *d, int enc)
{
    if (d->evp)
        return d->evp;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return NULL;
    if (EVP_CipherInit_ex(c, cipher(r), NULL, d->key, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    d->evp = c;
    return c;
}

ag_err ag_tlsrec_start(ag_tlsrec_t *r, ag_tlsrec_aead aead, uint64_t read_seq, uint64_t write_seq)
{
    bool fits = aead == AG_TLSREC_AES_GCM ? r->ivlen == 4 && (r->keylen == 16 || r->keylen == 32)
                                          : r->ivlen == 12 && r->keylen == 32;
    if (!fits || (aead != AG_TLSREC_AES_GCM && aead != AG_TLSREC_CHACHA20_POLY1305))
        return AG_E_UNSUPPORTED;
    r->aead = aead;
    r->rd.seq = read_seq;
    r->wr.seq = write_seq;
    if (!dir_ctx(r, &r->rd, 0) || !dir_ctx(r, &r->wr, 1)) {
        ag_tlsrec_release(r);
        r->aead = 0;
        return AG_E_CRYPTO;
    }
    return 0;
}

void ag_tlsrec_release(ag_tlsrec_t *r)
{
    EVP_CIPHER_CTX_free(r->rd.evp); /* frees (and cleanses) the expanded key */
    EVP_CIPHER_CTX_free(r->wr.evp);
    r->rd.evp = r->wr.evp = NULL;
}

void ag_tlsrec_wipe(ag_tlsrec_t *r)
{
    ag_tlsrec_release(r);
    OPENSSL_cleanse(r, sizeof *r);
}

static void make_nonce(const ag_tlsrec_t *r, const ag_tlsrec_dir_t *d, const unsigned char *ex,
                       unsigned char nonce[12])
{
    if (r->aead == AG_TLSREC_AES_GCM) {
        memcpy(nonce, d->iv, 4);
        memcpy(nonce + 4, ex, EXPLICIT_LEN);
        return;
    }
    unsigned char seq[8];
    put_u64(seq, d->seq);
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= seq[i];
}

/* Encrypts (<enc> 1) or decrypts and checks the tag of <n> bytes <in> into <out> (may be
 * <in>) under the direction's next sequence number; <ex>: the GCM explicit nonce. */
static ag_err crypt_record(ag_tlsrec_t *r, ag_tlsrec_dir_t *d, int enc, uint8_t type,
                           const unsigned char *ex, const unsigned char *in, unsigned char *out,
                           size_t n, unsigned char *tag)
{
    unsigned char nonce[12], aad[13];
    int l;
    EVP_CIPHER_CTX *c = dir_ctx(r, d, enc);
    if (!c)
        return AG_E_CRYPTO;
    make_nonce(r, d, ex, nonce);
    put_u64(aad, d->seq); /* seq || type || version || length (RFC 5246 §6.2.3.3) */
    aad[8] = type;
    aad[9] = aad[10] = 3;
    aad[11] = (unsigned char)(n >> 8);
    aad[12] = (unsigned char)n;
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) != 1 ||
        EVP_CipherUpdate(c, NULL, &l, aad, sizeof aad) != 1 ||
        (n > 0 && EVP_CipherUpdate(c, out, &l, in, (int)n) != 1) ||
        (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) != 1) ||
        EVP_CipherFinal_ex(c, out + n, &l) != 1 ||
        (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1))
        return AG_E_CRYPTO;
    return 0;
}

static ag_err refuse(ag_tlsrec_msg_t *m, uint8_t alert, ag_err err)
{
    m->len = 0;
    m->alert = alert;
    return err;
}

/* A decrypted alert: close_notify ends the stream, any other ends the session. */
static ag_err on_alert(const unsigned char *p, size_t n, ag_tlsrec_msg_t *m)
{
    if (n != 2)
        return refuse(m, A_DECODE, AG_E_PARSE);
    if (p[1] != 0)
        return refuse(m, 0, AG_E_CRYPTO); /* the peer's alert: nothing to answer */
    m->closed = true;
    return 0;
}

/* Decrypted application data; a run of empty records is a CPU sink, not data. */
static ag_err on_data(ag_tlsrec_t *r, unsigned char *p, size_t n, ag_tlsrec_msg_t *m)
{
    if (n == 0 && ++r->empties > AG_TLSREC_MAX_EMPTY)
        return refuse(m, A_UNEXPECTED, AG_E_PARSE);
    if (n > 0)
        r->empties = 0;
    m->data = p;
    m->n = n;
    return 0;
}

/* The header's checks, before waiting for the rest of the record: after the handshake only
 * application_data and alerts may come (a handshake record is a renegotiation attempt,
 * refused; RFC 5746 is not needed then), at version 1.2, within the length bounds. */
static ag_err check_header(const ag_tlsrec_t *r, const unsigned char *p, ag_tlsrec_msg_t *m)
{
    size_t len = (size_t)p[3] << 8 | p[4], min = explicit_len(r) + TAG_LEN;
    if (p[0] != AG_TLSREC_ALERT && p[0] != AG_TLSREC_APPDATA)
        return refuse(m, A_UNEXPECTED, AG_E_PARSE);
    if (p[1] != 3 || p[2] != 3)
        return refuse(m, A_VERSION, AG_E_PARSE);
    if (len < min)
        return refuse(m, A_DECODE, AG_E_PARSE);
    if (len > AG_TLSREC_MAX_CIPHER || len - min > AG_TLSREC_MAX_PLAIN)
        return refuse(m, A_OVERFLOW, AG_E_TOO_BIG);
    return 0;
}

ag_err ag_tlsrec_open(ag_tlsrec_t *r, unsigned char *p, size_t n, ag_tlsrec_msg_t *m)
{
    memset(m, 0, sizeof *m);
    if (r->aead == 0)
        return refuse(m, 0, AG_E_INVAL);
    if (n < AG_TLSREC_HEADER)
        return 0;
    ag_err err = check_header(r, p, m);
    size_t len = (size_t)p[3] << 8 | p[4];
    if (err || n < AG_TLSREC_HEADER + len)
        return err;
    if (r->rd.seq == UINT64_MAX)
        return refuse(m, 0, AG_E_CRYPTO); /* the sequence number would wrap (§6.1) */
    size_t pn = len - explicit_len(r) - TAG_LEN;
    unsigned char *ct = p + AG_TLSREC_HEADER + explicit_len(r);
    if (crypt_record(r, &r->rd, 0, p[0], p + AG_TLSREC_HEADER, ct, ct, pn, ct + pn) != 0)
        return refuse(m, A_BAD_MAC, AG_E_CRYPTO);
    r->rd.seq++;
    err = p[0] == AG_TLSREC_ALERT ? on_alert(ct, pn, m) : on_data(r, ct, pn, m);
    if (!err)
        m->len = AG_TLSREC_HEADER + len;
    return err;
}

ag_err ag_tlsrec_seal(ag_tlsrec_t *r, uint8_t type, const unsigned char *p, size_t n,
                      unsigned char *out, size_t *outn)
{
    size_t ex = explicit_len(r), len = ex + n + TAG_LEN;
    if (r->aead == 0 || n > AG_TLSREC_MAX_PLAIN)
        return AG_E_INVAL;
    if (r->wr.seq == UINT64_MAX)
        return AG_E_CRYPTO; /* the sequence number would wrap (§6.1) */
    out[0] = type;
    out[1] = out[2] = 3;
    out[3] = (unsigned char)(len >> 8);
    out[4] = (unsigned char)len;
    if (ex)
        put_u64(out + AG_TLSREC_HEADER, r->wr.seq);
    unsigned char *ct = out + AG_TLSREC_HEADER + ex;
    ag_err err = crypt_record(r, &r->wr, 1, type, out + AG_TLSREC_HEADER, p, ct, n, ct + n);
    if (err)
        return err;
    r->wr.seq++;
    *outn = AG_TLSREC_HEADER + len;
    return 0;
}
