/* Differential libFuzzer target: the gateway's ECDSA verification (ag_jwk_verify, i.e.
 * core/authn/jwks.c verify_ecdsa on its cached tables) against mbedtls_ecdsa_verify on the same
 * curve, public key, hash and (r, s). They must agree on every input; a verification that
 * only one of them accepts aborts.
 *
 * Input: byte 0 picks the curve (P-256/384/521) and one of KEYS keys per curve, byte 1
 * the signature's origin and mutation, then the message; with a "signed" origin the
 * signature is a real one over the message (RFC 6979, so both must accept it before the
 * mutation), else it is taken raw from the input's tail. Keys are made once from fixed
 * scalars and loaded as a JWKS, as the gateway loads them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>

#include "authn/jwks.h"
#include "base/b64.h"
#include "base/buf.h"

#define KEYS 3

typedef struct {
    mbedtls_ecp_group_id gid;
    const char *crv;
    ag_jwt_alg alg;
    mbedtls_md_type_t md;
    size_t clen, hlen;
} curve_t;

static const curve_t curves[3] = {
    {MBEDTLS_ECP_DP_SECP256R1, "P-256", AG_JWT_ES256, MBEDTLS_MD_SHA256, 32, 32},
    {MBEDTLS_ECP_DP_SECP384R1, "P-384", AG_JWT_ES384, MBEDTLS_MD_SHA384, 48, 48},
    {MBEDTLS_ECP_DP_SECP521R1, "P-521", AG_JWT_ES512, MBEDTLS_MD_SHA512, 66, 64},
};

static mbedtls_ecdsa_context priv[3][KEYS];
static ag_jwks_t *sets[3][KEYS];

static int counter_rng(void *ctx, unsigned char *out, size_t n)
{
    uint64_t *state = ctx;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (unsigned char)(*state >> 56);
    }
    return 0;
}

static void append_coord(ag_buf_t *b, const char *name, const mbedtls_mpi *v, size_t clen)
{
    unsigned char raw[66];
    char enc[96];
    if (mbedtls_mpi_write_binary(v, raw, clen) != 0)
        abort();
    size_t n = ag_b64url_encode(raw, clen, enc);
    ag_buf_printf(b, ",\"%s\":\"%.*s\"", name, (int)n, enc);
}

/* Key <k> of curve <c>: d = 2^64 * (k + 1) + 12345 + c, loaded through ag_jwks_parse. */
static void make_key(int c, int k)
{
    mbedtls_ecdsa_context *e = &priv[c][k];
    ag_buf_t doc = AG_BUF_INIT(4096);
    mbedtls_ecdsa_init(e);
    if (mbedtls_ecp_group_load(&e->grp, curves[c].gid) != 0 ||
        mbedtls_mpi_lset(&e->d, k + 1) != 0 || mbedtls_mpi_shift_l(&e->d, 64) != 0 ||
        mbedtls_mpi_add_int(&e->d, &e->d, 12345 + c) != 0 ||
        mbedtls_ecp_mul(&e->grp, &e->Q, &e->d, &e->grp.G, NULL, NULL) != 0)
        abort();
    ag_buf_printf(&doc, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"%s\"", curves[c].crv);
    append_coord(&doc, "x", &e->Q.X, curves[c].clen);
    append_coord(&doc, "y", &e->Q.Y, curves[c].clen);
    ag_buf_append_cstr(&doc, "}]}");
    if (ag_jwks_parse(ag_buf_str(&doc), &sets[c][k]) != 0)
        abort();
    ag_buf_dispose(&doc);
}

static void hash_msg(const curve_t *cv, const unsigned char *m, size_t n, unsigned char *out)
{
    int rc = cv->md == MBEDTLS_MD_SHA256
                 ? mbedtls_sha256_ret(m, n, out, 0)
                 : mbedtls_sha512_ret(m, n, out, cv->md == MBEDTLS_MD_SHA384);
    if (rc != 0)
        abort();
}

/* The reference: P1363 r||s of exactly 2*clen bytes, then mbedtls_ecdsa_verify. */
static int reference(const mbedtls_ecdsa_context *e, const curve_t *cv, const unsigned char *hash,
                     const unsigned char *sig, size_t siglen)
{
    mbedtls_mpi r, s;
    int ok = 0;
    if (siglen != 2 * cv->clen)
        return 0;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_mpi_read_binary(&r, sig, cv->clen) == 0 &&
        mbedtls_mpi_read_binary(&s, sig + cv->clen, cv->clen) == 0)
        ok = mbedtls_ecdsa_verify((mbedtls_ecp_group *)&e->grp, hash, cv->hlen, &e->Q, &r, &s) == 0;
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return ok;
}

/* A real signature over <hash> into sig (2*clen bytes), then mutation <mut>. Returns
 * whether the result is still a valid signature by construction (-1: unknown). */
static int sign_and_mutate(mbedtls_ecdsa_context *e, const curve_t *cv, const unsigned char *hash,
                           unsigned mut, unsigned char *sig)
{
    mbedtls_mpi r, s;
    uint64_t seed = mut;
    int valid = -1;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    if (mbedtls_ecdsa_sign_det_ext(&e->grp, &r, &s, &e->d, hash, cv->hlen, cv->md, counter_rng,
                                   &seed) != 0)
        abort();
    switch (mut & 7) {
    case 0:
        valid = 1;
        break;
    case 1:
        mbedtls_mpi_sub_mpi(&s, &e->grp.N, &s), valid = 1;
        break; /* (r, n - s) */
    case 2:
        mbedtls_mpi_add_mpi(&r, &r, &e->grp.N);
        break; /* r + n */
    case 3:
        mbedtls_mpi_add_mpi(&s, &s, &e->grp.N);
        break; /* s + n */
    case 4:
        mbedtls_mpi_lset(&s, 0);
        break;
    case 5:
        mbedtls_mpi_copy(&s, &e->grp.N);
        break;
    case 6:
        mbedtls_mpi_copy(&r, &s);
        break;
    default:
        mbedtls_mpi_sub_int(&r, &r, 1);
        break;
    }
    if (mbedtls_mpi_write_binary(&r, sig, cv->clen) != 0 ||
        mbedtls_mpi_write_binary(&s, sig + cv->clen, cv->clen) != 0)
        memset(sig, 0, 2 * cv->clen); /* does not fit: all zero, refused by both */
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return valid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    unsigned char hash[64], sig[2 * 66 + 8];
    if (!ready) {
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < KEYS; k++)
                make_key(c, k);
        ready = 1;
    }
    if (size < 2)
        return 0;
    int c = data[0] % 3, k = (data[0] / 3) % KEYS;
    const curve_t *cv = &curves[c];
    unsigned mode = data[1];
    const unsigned char *msg = data + 2, *raw = NULL;
    size_t mlen = size - 2, siglen = 2 * cv->clen;
    int valid = -1;
    if (mode & 0x80) { /* raw: the tail is the signature (any length up to 2*clen+8) */
        siglen = mlen < sizeof sig ? mlen : sizeof sig;
        if (mode & 0x40 && mlen >= 2 * cv->clen)
            siglen = 2 * cv->clen; /* mostly the right length, so r and s get examined */
        raw = msg + mlen - siglen;
        mlen -= siglen;
        memcpy(sig, raw, siglen);
    }
    hash_msg(cv, msg, mlen, hash);
    if (!raw)
        valid = sign_and_mutate(&priv[c][k], cv, hash, mode, sig);
    const ag_jwk_t *key = ag_jwks_at(sets[c][k], 0);
    int ours = ag_jwk_verify(key, cv->alg, ag_str_make((const char *)msg, mlen), sig, siglen) == 0;
    int ref = reference(&priv[c][k], cv, hash, sig, siglen);
    if (ours != ref || (valid == 1 && !ours))
        abort();
    return 0;
}
