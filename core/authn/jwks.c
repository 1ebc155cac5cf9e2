/* JSON Web Key Sets (jwks.h). Keys are turned into mbedTLS contexts at load and warmed
 * (RSA's Montgomery constant, the EC base-point table) so that verification on the hot
 * path only reads them and may run on several threads at once. Owns its keys and the
 * strings in its arena; never does I/O.
 *
 * ECDSA is verified here rather than by mbedtls_ecdsa_verify: mbedTLS caches the comb
 * table of a group's base point only, and rebuilds the public key's table on every
 * verification. Each EC key therefore also gets a private copy of its curve whose "base
 * point" is the key itself, warmed once, so u2*Q costs a table lookup walk like u1*G
 * (about half the work of a verification).
 *
 * RSA: mbedTLS (built with MBEDTLS_THREADING_C) holds a per-context mutex for the whole
 * public operation, which would serialize every worker verifying with one key: a global
 * lock on the hot path. Each RSA key therefore keeps RSA_REPLICAS copies and a thread
 * uses the copy of its slot (threads beyond that share, still correctly). */
#include "authn/jwks.h"
#include "base/mbedtls_pin.h"
#include "base/sha256.h"

#include <stdatomic.h>
#include <stdlib.h>

#ifndef RSA_REPLICAS
#define RSA_REPLICAS 8 /* worker threads that verify with one key without contending */
#endif

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/x509_crt.h>

#include "base/arena.h"
#include "base/b64.h"
#include "base/json.h"

struct ag_jwk {
    ag_jwk_type type;
    ag_jwt_alg alg;  /* the JWK's "alg", or UNKNOWN when it has none */
    ag_str_t kid;    /* set arena */
    ag_str_t issuer; /* set arena */
    int bits;
    mbedtls_pk_context pk;
    bool has_qgrp;
    mbedtls_ecp_group qgrp;       /* EC: the curve with G = the public key (see above) */
    mbedtls_rsa_context *rsa_rep; /* RSA: RSA_REPLICAS warmed copies (heap), or NULL */
};

struct ag_jwks {
    atomic_int refs;
    int n, skipped;
    ag_arena_t arena;
    ag_jwk_t keys[AG_JWKS_MAX_KEYS];
};

static const char *const alg_names[AG_JWT_ALG_COUNT] = {"unknown",
#define AG_JWT_ALG_NAME(name) #name,
                                                        AG_JWT_ALGS(AG_JWT_ALG_NAME)
#undef AG_JWT_ALG_NAME
};

ag_jwt_alg ag_jwt_alg_parse(ag_str_t name)
{
    for (int a = 1; a < AG_JWT_ALG_COUNT; a++)
        if (ag_str_eq_lit(name, alg_names[a]))
            return (ag_jwt_alg)a;
    return AG_JWT_ALG_UNKNOWN;
}

const char *ag_jwt_alg_name(ag_jwt_alg alg)
{
    return (alg > 0 && alg < AG_JWT_ALG_COUNT) ? alg_names[alg] : "unknown";
}

/* ---- set lifetime ----------------------------------------------------------------- */

static ag_jwks_t *set_create(void)
{
    ag_jwks_t *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return NULL;
    atomic_init(&ks->refs, 1);
    ag_arena_init(&ks->arena, 2048, 1u << 20);
    return ks;
}

static void free_qgrp(ag_jwk_t *k)
{
    if (!k->has_qgrp)
        return;
    /* G is ours (heap limbs); the rest of a loaded group points at static tables, which
     * mbedtls_ecp_group_free leaves alone for such groups (h == 1). */
    mbedtls_ecp_point_free(&k->qgrp.G);
    mbedtls_ecp_point_init(&k->qgrp.G);
    mbedtls_ecp_group_free(&k->qgrp);
    k->has_qgrp = false;
}

static void free_replicas(ag_jwk_t *k)
{
    for (int i = 0; k->rsa_rep && i < RSA_REPLICAS; i++)
        mbedtls_rsa_free(&k->rsa_rep[i]);
    free(k->rsa_rep);
    k->rsa_rep = NULL;
}

static void set_destroy(ag_jwks_t *ks)
{
    for (int i = 0; i < ks->n; i++) {
        free_replicas(&ks->keys[i]);
        free_qgrp(&ks->keys[i]);
        mbedtls_pk_free(&ks->keys[i].pk);
    }
    ag_arena_dispose(&ks->arena);
    free(ks);
}

void ag_jwks_ref(ag_jwks_t *ks)
{
    atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
}

void ag_jwks_unref(ag_jwks_t *ks)
{
    if (ks && atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) == 1)
        set_destroy(ks);
}

int ag_jwks_count(const ag_jwks_t *ks)
{
    return ks ? ks->n : 0;
}

int ag_jwks_skipped(const ag_jwks_t *ks)
{
    return ks ? ks->skipped : 0;
}

const ag_jwk_t *ag_jwks_at(const ag_jwks_t *ks, int i)
{
    return ks && i >= 0 && i < ks->n ? &ks->keys[i] : NULL;
}

/* ---- keys ------------------------------------------------------------------------- */

ag_str_t ag_jwk_kid(const ag_jwk_t *k)
{
    return k->kid;
}

ag_str_t ag_jwk_issuer(const ag_jwk_t *k)
{
    return k->issuer;
}

ag_jwk_type ag_jwk_type_of(const ag_jwk_t *k)
{
    return k->type;
}

bool ag_jwk_fits(const ag_jwk_t *k, ag_jwt_alg alg)
{
    if (k->alg != AG_JWT_ALG_UNKNOWN && k->alg != alg)
        return false;
    switch (alg) {
    case AG_JWT_RS256:
    case AG_JWT_RS384:
    case AG_JWT_RS512:
    case AG_JWT_PS256:
    case AG_JWT_PS384:
    case AG_JWT_PS512:
        return k->type == AG_JWK_RSA;
    case AG_JWT_ES256:
        return k->type == AG_JWK_EC_P256;
    case AG_JWT_ES384:
        return k->type == AG_JWK_EC_P384;
    case AG_JWT_ES512:
        return k->type == AG_JWK_EC_P521;
    default:
        return false;
    }
}

const ag_jwk_t *ag_jwks_find(const ag_jwks_t *ks, ag_str_t kid, ag_str_t alg)
{
    ag_jwt_alg a = alg.n ? ag_jwt_alg_parse(alg) : AG_JWT_ALG_UNKNOWN;
    const ag_jwk_t *only = NULL;
    if (!ks || (alg.n && a == AG_JWT_ALG_UNKNOWN))
        return NULL;
    for (int i = 0; i < ks->n; i++) {
        const ag_jwk_t *k = &ks->keys[i];
        if (a != AG_JWT_ALG_UNKNOWN && !ag_jwk_fits(k, a))
            continue;
        if (kid.n) {
            if (ag_str_eq(k->kid, kid))
                return k;
            continue;
        }
        if (only)
            return NULL; /* several candidates: the token must name its key */
        only = k;
    }
    return only;
}

/* RSA_REPLICAS contexts with the same public key, each warmed on its own: mbedtls_rsa_copy
 * would copy RN, which is only valid for the source's limb count of N (a DER modulus
 * with a leading zero byte keeps one limb more than its copy). */
static ag_err make_replicas(ag_jwk_t *k, const mbedtls_rsa_context *rsa)
{
    unsigned char in[AG_JWKS_MAX_RSA_BITS / 8] = {0}, out[AG_JWKS_MAX_RSA_BITS / 8];
    size_t len = mbedtls_rsa_get_len(rsa);
    if (!(k->rsa_rep = calloc(RSA_REPLICAS, sizeof(*k->rsa_rep))))
        return AG_E_NOMEM;
    for (int i = 0; i < RSA_REPLICAS; i++)
        mbedtls_rsa_init(&k->rsa_rep[i], MBEDTLS_RSA_PKCS_V15, 0);
    in[len - 1] = 2;
    for (int i = 0; i < RSA_REPLICAS; i++) {
        mbedtls_rsa_context *r = &k->rsa_rep[i];
        if (mbedtls_rsa_import(r, &rsa->N, NULL, NULL, NULL, &rsa->E) != 0 ||
            mbedtls_rsa_complete(r) != 0 || mbedtls_rsa_public(r, in, out) != 0)
            return AG_E_CRYPTO;
    }
    return 0;
}

/* This thread's replica slot, assigned round robin on first use. */
static int thread_slot(void)
{
    static atomic_int next;
    static _Thread_local int slot = -1;
    if (slot < 0)
        slot = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % RSA_REPLICAS;
    return slot;
}

/* Builds k->qgrp and computes, once, the comb tables of both base points (G in the
 * key's group, Q in qgrp): mbedTLS stores a base point's table in its group on first use. */
static ag_err warm_ec(ag_jwk_t *k, mbedtls_ecp_keypair *ec)
{
    mbedtls_ecp_point r;
    mbedtls_mpi two;
    ag_err err = AG_E_CRYPTO;

    mbedtls_ecp_group_init(&k->qgrp);
    mbedtls_ecp_point_init(&r);
    mbedtls_mpi_init(&two);
    if (mbedtls_ecp_group_load(&k->qgrp, ec->grp.id) != 0)
        goto out;
    k->has_qgrp = true;
    mbedtls_ecp_point_init(&k->qgrp.G); /* drop the static G without freeing it */
    if (mbedtls_ecp_copy(&k->qgrp.G, &ec->Q) == 0 && mbedtls_mpi_lset(&two, 2) == 0 &&
        mbedtls_ecp_mul(&k->qgrp, &r, &two, &k->qgrp.G, NULL, NULL) == 0 &&
        mbedtls_ecp_mul(&ec->grp, &r, &two, &ec->grp.G, NULL, NULL) == 0 && k->qgrp.T != NULL &&
        ec->grp.T != NULL)
        err = 0;
out:
    mbedtls_ecp_point_free(&r);
    mbedtls_mpi_free(&two);
    return err;
}

/* Fills in type and size from the pk context, enforces the size policy, and warms the
 * lazily computed parts of the context (see the file comment). */
static ag_err finish_key(ag_jwk_t *k)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(&k->pk);
    k->bits = (int)mbedtls_pk_get_bitlen(&k->pk);
    if (t == MBEDTLS_PK_RSA) {
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
        unsigned char in[AG_JWKS_MAX_RSA_BITS / 8] = {0}, out[AG_JWKS_MAX_RSA_BITS / 8];
        size_t len = mbedtls_rsa_get_len(rsa);
        k->type = AG_JWK_RSA;
        if (k->bits < AG_JWKS_MIN_RSA_BITS || k->bits > AG_JWKS_MAX_RSA_BITS)
            return AG_E_UNSUPPORTED;
        if (mbedtls_rsa_check_pubkey(rsa) != 0)
            return AG_E_PARSE;
        in[len - 1] = 2; /* any value below N: computes and caches RN */
        if (mbedtls_rsa_public(rsa, in, out) != 0)
            return AG_E_CRYPTO;
        return make_replicas(k, rsa);
    }
    if (t != MBEDTLS_PK_ECKEY && t != MBEDTLS_PK_ECDSA)
        return AG_E_UNSUPPORTED;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    switch (ec->grp.id) {
    case MBEDTLS_ECP_DP_SECP256R1:
        k->type = AG_JWK_EC_P256;
        break;
    case MBEDTLS_ECP_DP_SECP384R1:
        k->type = AG_JWK_EC_P384;
        break;
    case MBEDTLS_ECP_DP_SECP521R1:
        k->type = AG_JWK_EC_P521;
        break;
    default:
        return AG_E_UNSUPPORTED;
    }
    if (mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0)
        return AG_E_PARSE;
    return warm_ec(k, ec);
}

/* ---- JWKS documents ------------------------------------------------------------- */

/* Decodes base64url member <name> of <key> into <buf>. */
static ag_err member_bytes(const ag_json_t *doc, ag_json_ref key, const char *name,
                           unsigned char *buf, size_t cap, size_t *n)
{
    ag_json_ref v = ag_json_get(doc, key, name);
    if (ag_json_typeof(doc, v) != AG_JSON_STRING)
        return AG_E_PARSE;
    ag_str_t raw = ag_json_raw(doc, v);
    if (ag_b64url_decode(raw, buf, cap, n) != 0 || *n == 0)
        return AG_E_PARSE;
    return 0;
}

static ag_err rsa_from_jwk(const ag_json_t *doc, ag_json_ref key, ag_jwk_t *k)
{
    unsigned char n[AG_JWKS_MAX_RSA_BITS / 8 + 1], e[16];
    size_t nl, el;
    if (member_bytes(doc, key, "n", n, sizeof n, &nl) ||
        member_bytes(doc, key, "e", e, sizeof e, &el))
        return AG_E_PARSE;
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0)
        return AG_E_NOMEM;
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(k->pk);
    if (mbedtls_rsa_import_raw(rsa, n, nl, NULL, 0, NULL, 0, NULL, 0, e, el) != 0 ||
        mbedtls_rsa_complete(rsa) != 0)
        return AG_E_PARSE;
    return 0;
}

static ag_err ec_from_jwk(const ag_json_t *doc, ag_json_ref key, ag_jwk_t *k)
{
    ag_json_ref crv = ag_json_get(doc, key, "crv");
    mbedtls_ecp_group_id gid;
    size_t clen;
    if (ag_json_str_eq(doc, crv, "P-256"))
        gid = MBEDTLS_ECP_DP_SECP256R1, clen = 32;
    else if (ag_json_str_eq(doc, crv, "P-384"))
        gid = MBEDTLS_ECP_DP_SECP384R1, clen = 48;
    else if (ag_json_str_eq(doc, crv, "P-521"))
        gid = MBEDTLS_ECP_DP_SECP521R1, clen = 66;
    else
        return AG_E_UNSUPPORTED; /* secp256k1 and friends: skipped */
    unsigned char x[66], y[66];
    size_t xl, yl;
    if (member_bytes(doc, key, "x", x, sizeof x, &xl) ||
        member_bytes(doc, key, "y", y, sizeof y, &yl))
        return AG_E_PARSE;
    if (xl != clen || yl != clen) /* full-length coordinates, RFC 7518 §6.2.1.2 */
        return AG_E_PARSE;
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return AG_E_NOMEM;
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    if (mbedtls_ecp_group_load(&ec->grp, gid) != 0 ||
        mbedtls_mpi_read_binary(&ec->Q.X, x, xl) != 0 ||
        mbedtls_mpi_read_binary(&ec->Q.Y, y, yl) != 0 || mbedtls_mpi_lset(&ec->Q.Z, 1) != 0)
        return AG_E_PARSE;
    return 0;
}

/* Optional string member: absent is fine, any other type is a malformed key. */
static ag_err opt_str(ag_jwks_t *ks, const ag_json_t *doc, ag_json_ref key, const char *name,
                      ag_str_t *out)
{
    ag_json_ref v = ag_json_get(doc, key, name);
    *out = AG_STR_NULL;
    if (v == AG_JSON_NONE)
        return 0;
    ag_str_t s;
    if (ag_json_str(doc, v, &ks->arena, &s) != 0)
        return AG_E_PARSE;
    *out = ag_arena_strdup(&ks->arena, s);
    return out->p ? 0 : AG_E_NOMEM;
}

/* Whether key_ops (if present) allows "verify". */
static bool ops_allow_verify(const ag_json_t *doc, ag_json_ref key, ag_err *err)
{
    ag_json_ref ops = ag_json_get(doc, key, "key_ops");
    if (ops == AG_JSON_NONE)
        return true;
    if (ag_json_typeof(doc, ops) != AG_JSON_ARRAY) {
        *err = AG_E_PARSE;
        return false;
    }
    for (ag_json_ref o = ag_json_first(doc, ops); o != AG_JSON_NONE; o = ag_json_next(doc, o))
        if (ag_json_str_eq(doc, o, "verify"))
            return true;
    return false;
}

/* Adds one JWK to <ks>: 0 when added or skipped (ks->skipped counts), else an error. */
static ag_err add_jwk(ag_jwks_t *ks, const ag_json_t *doc, ag_json_ref key)
{
    ag_str_t kty, use, alg;
    ag_err err = 0;
    if (ag_json_typeof(doc, key) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if ((err = opt_str(ks, doc, key, "kty", &kty)) || (err = opt_str(ks, doc, key, "use", &use)) ||
        (err = opt_str(ks, doc, key, "alg", &alg)))
        return err;
    bool rsa = ag_str_eq_lit(kty, "RSA"), ec = ag_str_eq_lit(kty, "EC");
    bool verify = ops_allow_verify(doc, key, &err);
    if (err)
        return err;
    if ((!rsa && !ec) || (use.p && !ag_str_eq_lit(use, "sig")) || !verify) {
        ks->skipped++;
        return 0;
    }
    if (ks->n == AG_JWKS_MAX_KEYS)
        return AG_E_TOO_BIG;
    ag_jwk_t *k = &ks->keys[ks->n];
    memset(k, 0, sizeof(*k));
    mbedtls_pk_init(&k->pk);
    ks->n++; /* counted now so that set_destroy frees the context on any failure */
    if (alg.p) {
        k->alg = ag_jwt_alg_parse(alg);
        if (k->alg == AG_JWT_ALG_UNKNOWN) { /* e.g. RSA-OAEP on a key without "use" */
            mbedtls_pk_free(&k->pk);
            ks->n--;
            ks->skipped++;
            return 0;
        }
    }
    if ((err = opt_str(ks, doc, key, "kid", &k->kid)) ||
        (err = opt_str(ks, doc, key, "issuer", &k->issuer)))
        return err;
    err = rsa ? rsa_from_jwk(doc, key, k) : ec_from_jwk(doc, key, k);
    if (!err)
        err = finish_key(k);
    if (err == AG_E_UNSUPPORTED) { /* weak RSA, unknown curve: not an error in a set */
        free_replicas(k);
        free_qgrp(k);
        mbedtls_pk_free(&k->pk);
        ks->n--;
        ks->skipped++;
        return 0;
    }
    if (!err && k->alg != AG_JWT_ALG_UNKNOWN && !ag_jwk_fits(k, k->alg))
        err = AG_E_PARSE; /* "alg" contradicts the key type (e.g. ES256 on an RSA key) */
    return err;
}

ag_err ag_jwks_parse(ag_str_t json, ag_jwks_t **out)
{
    ag_jwks_t *ks = set_create();
    ag_arena_t tmp;
    ag_json_t doc;
    ag_json_limits_t lim = {16, 1 << 16};
    ag_err err;

    ag_arena_init(&tmp, 16384, 64u << 20);
    if (!ks) {
        err = AG_E_NOMEM;
        goto out;
    }
    if ((err = ag_json_parse(&doc, json, &lim, &tmp, NULL)) != 0)
        goto out;
    ag_json_ref keys = ag_json_get(&doc, ag_json_root(&doc), "keys");
    if (ag_json_typeof(&doc, keys) != AG_JSON_ARRAY) {
        err = AG_E_PARSE;
        goto out;
    }
    for (ag_json_ref k = ag_json_first(&doc, keys); k != AG_JSON_NONE; k = ag_json_next(&doc, k))
        if ((err = add_jwk(ks, &doc, k)) != 0)
            goto out;
    if (ks->n == 0) { /* never replace a good set by an empty one */
        err = AG_E_NOT_FOUND;
        goto out;
    }
    *out = ks;
    ks = NULL;
out:
    if (ks)
        set_destroy(ks);
    ag_arena_dispose(&tmp);
    return err;
}

/* ---- PEM ------------------------------------------------------------------------ */

/* Key from one NUL-terminated PEM block <pem> (len includes the NUL) into k->pk. */
static ag_err pk_from_pem(ag_jwk_t *k, const unsigned char *pem, size_t len)
{
    if (strstr((const char *)pem, "-----BEGIN CERTIFICATE-----")) {
        mbedtls_x509_crt crt;
        unsigned char der[AG_JWKS_MAX_RSA_BITS / 4];
        mbedtls_x509_crt_init(&crt);
        int n = mbedtls_x509_crt_parse(&crt, pem, len) == 0
                    ? mbedtls_pk_write_pubkey_der(&crt.pk, der, sizeof der)
                    : -1;
        mbedtls_x509_crt_free(&crt);
        if (n <= 0)
            return AG_E_PARSE;
        return mbedtls_pk_parse_public_key(&k->pk, der + sizeof der - n, (size_t)n) ? AG_E_PARSE
                                                                                    : 0;
    }
    if (strstr((const char *)pem, "PRIVATE KEY-----")) { /* SA signing key files */
        mbedtls_pk_context priv;
        unsigned char der[AG_JWKS_MAX_RSA_BITS / 4];
        mbedtls_pk_init(&priv);
        int n = mbedtls_pk_parse_key(&priv, pem, len, NULL, 0) == 0
                    ? mbedtls_pk_write_pubkey_der(&priv, der, sizeof der)
                    : -1;
        mbedtls_pk_free(&priv);
        if (n <= 0)
            return AG_E_PARSE;
        return mbedtls_pk_parse_public_key(&k->pk, der + sizeof der - n, (size_t)n) ? AG_E_PARSE
                                                                                    : 0;
    }
    return mbedtls_pk_parse_public_key(&k->pk, pem, len) ? AG_E_PARSE : 0;
}

/* kid as the API server computes it (pkg/serviceaccount keyIDFromPublicKey). */
static ag_err kid_from_key(ag_jwks_t *ks, ag_jwk_t *k)
{
    unsigned char der[AG_JWKS_MAX_RSA_BITS / 4], hash[32];
    int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof der);
    if (n <= 0 || mbedtls_sha256_ret(der + sizeof der - n, (size_t)n, hash, 0) != 0)
        return AG_E_CRYPTO;
    char *kid = ag_arena_alloc(&ks->arena, ag_b64url_encoded_len(sizeof hash));
    if (!kid)
        return AG_E_NOMEM;
    k->kid = ag_str_make(kid, ag_b64url_encode(hash, sizeof hash, kid));
    return 0;
}

ag_err ag_jwks_from_pem(ag_str_t pem, ag_jwks_t **out)
{
    static const ag_str_t begin = AG_STR("-----BEGIN "), end = AG_STR("-----END ");
    ag_jwks_t *ks = set_create();
    ag_err err = ks ? 0 : AG_E_NOMEM;
    ag_str_t rest = pem;

    while (!err) {
        const char *b = rest.n ? memmem(rest.p, rest.n, begin.p, begin.n) : NULL;
        if (!b)
            break;
        rest = ag_str_make(b, rest.n - (size_t)(b - rest.p));
        const char *e = memmem(rest.p, rest.n, end.p, end.n);
        const char *close =
            e ? memmem(e + end.n, rest.n - (size_t)(e + end.n - rest.p), "-----", 5) : NULL;
        if (!close) {
            err = AG_E_PARSE;
            break;
        }
        size_t blen = (size_t)(close + 5 - rest.p);
        char *block =
            ks->n < AG_JWKS_MAX_KEYS ? ag_arena_cstr(&ks->arena, ag_str_make(rest.p, blen)) : NULL;
        if (!block) {
            err = ks->n < AG_JWKS_MAX_KEYS ? AG_E_NOMEM : AG_E_TOO_BIG;
            break;
        }
        ag_jwk_t *k = &ks->keys[ks->n++];
        mbedtls_pk_init(&k->pk);
        if ((err = pk_from_pem(k, (const unsigned char *)block, blen + 1)) == 0 &&
            (err = finish_key(k)) == 0)
            err = kid_from_key(ks, k);
        rest = ag_str_sub(rest, blen, rest.n);
    }
    if (!err && ks->n == 0)
        err = AG_E_NOT_FOUND;
    if (err) {
        if (ks)
            set_destroy(ks);
        return err;
    }
    *out = ks;
    return 0;
}

/* ---- verification --------------------------------------------------------------- */

static size_t hash_of(ag_jwt_alg alg, ag_str_t msg, unsigned char *out, mbedtls_md_type_t *md)
{
    switch (alg) {
    case AG_JWT_RS256:
    case AG_JWT_PS256:
    case AG_JWT_ES256:
        *md = MBEDTLS_MD_SHA256;
        ag_sha256(msg.p, msg.n, out); /* SHA-NI when the CPU has it (sha256.h) */
        return 32;
    case AG_JWT_RS384:
    case AG_JWT_PS384:
    case AG_JWT_ES384:
        *md = MBEDTLS_MD_SHA384;
        return mbedtls_sha512_ret((const unsigned char *)msg.p, msg.n, out, 1) ? 0 : 48;
    case AG_JWT_RS512:
    case AG_JWT_PS512:
    case AG_JWT_ES512:
        *md = MBEDTLS_MD_SHA512;
        return mbedtls_sha512_ret((const unsigned char *)msg.p, msg.n, out, 0) ? 0 : 64;
    default:
        return 0;
    }
}

/* ECDSA verification (SEC 1 v2 §4.1.4) with both scalar multiplications on cached
 * tables. Only public values are involved, so no blinding is needed. */
static ag_err verify_ecdsa(const ag_jwk_t *k, const unsigned char *hash, size_t hlen,
                           const unsigned char *sig, size_t siglen)
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
    mbedtls_ecp_group *grp = &ec->grp, *qgrp = (mbedtls_ecp_group *)&k->qgrp;
    size_t clen = (grp->nbits + 7) / 8, use = hlen < clen ? hlen : clen;
    mbedtls_mpi r, s, e, w, u1, u2, one;
    mbedtls_ecp_point R, R2;
    ag_err err = AG_E_CRYPTO;

    if (siglen != 2 * clen) /* raw r||s, each exactly the coordinate size (RFC 7518 §3.4) */
        return AG_E_CRYPTO;
    mbedtls_mpi *all[] = {&r, &s, &e, &w, &u1, &u2, &one};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mbedtls_mpi_init(all[i]);
    mbedtls_ecp_point_init(&R);
    mbedtls_ecp_point_init(&R2);
    if (mbedtls_mpi_read_binary(&r, sig, clen) || mbedtls_mpi_read_binary(&s, sig + clen, clen))
        goto out;
    /* 1 <= r, s < n */
    if (mbedtls_mpi_cmp_int(&r, 1) < 0 || mbedtls_mpi_cmp_mpi(&r, &grp->N) >= 0 ||
        mbedtls_mpi_cmp_int(&s, 1) < 0 || mbedtls_mpi_cmp_mpi(&s, &grp->N) >= 0)
        goto out;
    /* e = leftmost nbits of the hash, reduced mod n */
    if (mbedtls_mpi_read_binary(&e, hash, use) ||
        (use * 8 > grp->nbits && mbedtls_mpi_shift_r(&e, use * 8 - grp->nbits)) ||
        mbedtls_mpi_mod_mpi(&e, &e, &grp->N))
        goto out;
    /* w = s^-1, u1 = e*w, u2 = r*w (mod n); R = u1*G + u2*Q */
    if (mbedtls_mpi_inv_mod(&w, &s, &grp->N) || mbedtls_mpi_mul_mpi(&u1, &e, &w) ||
        mbedtls_mpi_mod_mpi(&u1, &u1, &grp->N) || mbedtls_mpi_mul_mpi(&u2, &r, &w) ||
        mbedtls_mpi_mod_mpi(&u2, &u2, &grp->N) || mbedtls_mpi_lset(&one, 1))
        goto out;
    if (mbedtls_ecp_mul(qgrp, &R2, &u2, &qgrp->G, NULL, NULL) ||
        mbedtls_ecp_muladd(grp, &R, &u1, &grp->G, &one, &R2) || mbedtls_ecp_is_zero(&R))
        goto out;
    /* accept when R.x mod n == r */
    if (mbedtls_mpi_mod_mpi(&R.X, &R.X, &grp->N) == 0 && mbedtls_mpi_cmp_mpi(&R.X, &r) == 0)
        err = 0;
out:
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mbedtls_mpi_free(all[i]);
    mbedtls_ecp_point_free(&R);
    mbedtls_ecp_point_free(&R2);
    return err;
}

ag_err ag_jwk_verify(const ag_jwk_t *k, ag_jwt_alg alg, ag_str_t msg, const unsigned char *sig,
                     size_t siglen)
{
    unsigned char hash[64];
    mbedtls_md_type_t md;
    if (!ag_jwk_fits(k, alg))
        return AG_E_INVAL;
    size_t hlen = hash_of(alg, msg, hash, &md);
    if (!hlen)
        return AG_E_CRYPTO;
    if (k->type != AG_JWK_RSA)
        return verify_ecdsa(k, hash, hlen, sig, siglen);
    /* The public operation only reads the (warmed) key, under the replica's mutex. */
    mbedtls_rsa_context *rsa = k->rsa_rep ? &k->rsa_rep[thread_slot()] : mbedtls_pk_rsa(k->pk);
    if (siglen != mbedtls_rsa_get_len(rsa)) /* mbedTLS reads exactly len bytes */
        return AG_E_CRYPTO;
    int rc;
    if (alg == AG_JWT_RS256 || alg == AG_JWT_RS384 || alg == AG_JWT_RS512)
        rc = mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
                                                 (unsigned)hlen, hash, sig);
    else /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash */
        rc = mbedtls_rsa_rsassa_pss_verify_ext(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
                                               (unsigned)hlen, hash, md, (int)hlen, sig);
    return rc == 0 ? 0 : AG_E_CRYPTO;
}
