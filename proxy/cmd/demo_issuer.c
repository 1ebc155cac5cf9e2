/* The demo issuer (demo_issuer.h): mbedTLS ECDSA P-256 key generation and ES256 signing
 * (RFC 7518 §3.4: the signature is R || S, 32 bytes each, big-endian), JSON written with
 * core/base/buf.h and escaped with ag_json_write_str. Demo only: see the header. */
#include "cmd/demo_issuer.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/json.h"

#define P256_BYTES 32

struct ag_demo_issuer {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ecdsa_context key;
};

ag_err ag_demo_issuer_create(ag_demo_issuer_t **out)
{
    static const unsigned char pers[] = "authgate demo issuer";
    ag_demo_issuer_t *is = calloc(1, sizeof(*is));
    if (!is)
        return AG_E_NOMEM;
    mbedtls_entropy_init(&is->entropy);
    mbedtls_ctr_drbg_init(&is->drbg);
    mbedtls_ecdsa_init(&is->key);
    if (mbedtls_ctr_drbg_seed(&is->drbg, mbedtls_entropy_func, &is->entropy, pers,
                              sizeof pers - 1) != 0 ||
        mbedtls_ecdsa_genkey(&is->key, MBEDTLS_ECP_DP_SECP256R1, mbedtls_ctr_drbg_random,
                             &is->drbg) != 0) {
        ag_demo_issuer_destroy(is);
        return AG_E_CRYPTO;
    }
    *out = is;
    return 0;
}

void ag_demo_issuer_destroy(ag_demo_issuer_t *is)
{
    if (!is)
        return;
    mbedtls_ecdsa_free(&is->key);
    mbedtls_ctr_drbg_free(&is->drbg);
    mbedtls_entropy_free(&is->entropy);
    free(is);
}

/* Appends base64url(<n> bytes). */
static ag_err append_b64(ag_buf_t *b, const unsigned char *p, size_t n)
{
    ag_err err = ag_buf_reserve(b, ag_b64url_encoded_len(n)); /* + the NUL, reserved */
    if (err)
        return err;
    b->n += ag_b64url_encode(p, n, b->p + b->n);
    b->p[b->n] = '\0';
    return 0;
}

/* Appends base64url of <x> as a fixed-width 32-byte big-endian number. */
static ag_err append_b64_mpi(ag_buf_t *b, const mbedtls_mpi *x)
{
    unsigned char raw[P256_BYTES];
    if (mbedtls_mpi_write_binary(x, raw, sizeof raw) != 0)
        return AG_E_CRYPTO;
    return append_b64(b, raw, sizeof raw);
}

ag_err ag_demo_issuer_jwks(const ag_demo_issuer_t *is, ag_buf_t *out)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(
             out, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"" AG_DEMO_ISSUER_KID
                  "\",\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"")) ||
        (err = append_b64_mpi(out, &is->key.Q.X)) ||
        (err = ag_buf_append_cstr(out, "\",\"y\":\"")) || (err = append_b64_mpi(out, &is->key.Q.Y)))
        return err;
    return ag_buf_append_cstr(out, "\"}]}");
}

/* The claims object of a demo token. */
static ag_err claims_json(ag_buf_t *c, const char *iss, const char *aud, const char *sub,
                          const char *const *groups, long long now, long long ttl_s)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(c, "{\"iss\":")) ||
        (err = ag_json_write_str(c, ag_str_cstr(iss))) ||
        (err = ag_buf_append_cstr(c, ",\"aud\":")) ||
        (err = ag_json_write_str(c, ag_str_cstr(aud))) ||
        (err = ag_buf_append_cstr(c, ",\"sub\":")) ||
        (err = ag_json_write_str(c, ag_str_cstr(sub))) ||
        (err = ag_buf_printf(c, ",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld", now, now, now + ttl_s)))
        return err;
    if (groups) {
        if ((err = ag_buf_append_cstr(c, ",\"groups\":[")))
            return err;
        for (int i = 0; groups[i]; i++)
            if ((i && (err = ag_buf_append_cstr(c, ","))) ||
                (err = ag_json_write_str(c, ag_str_cstr(groups[i]))))
                return err;
        if ((err = ag_buf_append_cstr(c, "]")))
            return err;
    }
    return ag_buf_append_cstr(c, "}");
}

ag_err ag_demo_issuer_token(ag_demo_issuer_t *is, const char *iss, const char *aud, const char *sub,
                            const char *const *groups, long long now, long long ttl_s,
                            ag_buf_t *out)
{
    static const char header[] =
        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" AG_DEMO_ISSUER_KID "\"}";
    ag_buf_t claims = AG_BUF_INIT(16384), jws = AG_BUF_INIT(32768);
    unsigned char hash[32], sig[2 * P256_BYTES];
    mbedtls_mpi r, s;
    ag_err err;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if ((err = claims_json(&claims, iss, aud, sub, groups, now, ttl_s)) ||
        (err = append_b64(&jws, (const unsigned char *)header, sizeof header - 1)) ||
        (err = ag_buf_append_cstr(&jws, ".")) ||
        (err = append_b64(&jws, (const unsigned char *)claims.p, claims.n)))
        goto out;
    err = AG_E_CRYPTO;
    if (mbedtls_sha256_ret((const unsigned char *)jws.p, jws.n, hash, 0) != 0 ||
        mbedtls_ecdsa_sign(&is->key.grp, &r, &s, &is->key.d, hash, sizeof hash,
                           mbedtls_ctr_drbg_random, &is->drbg) != 0 ||
        mbedtls_mpi_write_binary(&r, sig, P256_BYTES) != 0 ||
        mbedtls_mpi_write_binary(&s, sig + P256_BYTES, P256_BYTES) != 0)
        goto out;
    if ((err = ag_buf_append_cstr(&jws, ".")) || (err = append_b64(&jws, sig, sizeof sig)))
        goto out;
    err = ag_buf_append(out, jws.p, jws.n);
out:
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    ag_buf_dispose(&claims);
    ag_buf_dispose(&jws);
    return err;
}
