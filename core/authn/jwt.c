/* Compact JWS parsing and signature checks (jwt.h). The token is split on '.', each
 * segment decoded strictly into the arena, header and payload parsed as strict JSON.
 * Nothing here trusts the header beyond "alg", "kid" and "crit". */
#include "authn/jwt.h"

#include "base/b64.h"

/* Decodes one segment into an arena buffer. */
static ag_authn_result decode_seg(ag_str_t seg, ag_arena_t *arena, unsigned char **out, size_t *n)
{
    size_t cap = ag_b64url_decoded_max(seg.n);
    unsigned char *buf = ag_arena_alloc(arena, cap + 1);
    if (!buf)
        return AG_AUTHN_INTERNAL;
    if (ag_b64url_decode(seg, buf, cap, n) != 0)
        return AG_AUTHN_MALFORMED;
    buf[*n] = '\0';
    *out = buf;
    return AG_AUTHN_OK;
}

/* Decodes a JSON segment; its root must be an object. */
static ag_authn_result decode_json(ag_str_t seg, ag_arena_t *arena, ag_json_t *doc)
{
    unsigned char *buf;
    size_t n;
    ag_authn_result r = decode_seg(seg, arena, &buf, &n);
    if (r != AG_AUTHN_OK)
        return r;
    /* one token per two bytes is the densest valid JSON ("[1,1,...]") */
    ag_json_limits_t lim = {AG_JWT_MAX_DEPTH, (int)(n / 2 + 8)};
    ag_err err = ag_json_parse(doc, ag_str_make((const char *)buf, n), &lim, arena, NULL);
    if (err == AG_E_NOMEM)
        return AG_AUTHN_INTERNAL;
    if (err || ag_json_typeof(doc, ag_json_root(doc)) != AG_JSON_OBJECT)
        return AG_AUTHN_MALFORMED;
    return AG_AUTHN_OK;
}

/* alg, crit and kid from the header. */
static ag_authn_result read_header(ag_jwt_t *jwt, ag_arena_t *arena)
{
    const ag_json_t *h = &jwt->header;
    ag_json_ref root = ag_json_root(h);
    ag_str_t alg;

    if (ag_json_str(h, ag_json_get(h, root, "alg"), arena, &alg) != 0)
        return AG_AUTHN_MALFORMED; /* alg is required and a string (RFC 7515 §4.1.1) */
    jwt->alg = ag_jwt_alg_parse(alg);
    if (jwt->alg == AG_JWT_ALG_UNKNOWN)
        return AG_AUTHN_UNSUPPORTED_ALG; /* none (any case), HS*, anything unlisted */
    /* RFC 7515 §4.1.11: a recipient must reject a crit it does not understand. We
     * implement no extension (not even b64, RFC 7797), so any crit rejects. */
    if (ag_json_get(h, root, "crit") != AG_JSON_NONE)
        return AG_AUTHN_UNKNOWN_CRIT;
    ag_json_ref kid = ag_json_get(h, root, "kid");
    if (kid != AG_JSON_NONE) {
        ag_err err = ag_json_str(h, kid, arena, &jwt->kid);
        if (err)
            return err == AG_E_NOMEM ? AG_AUTHN_INTERNAL : AG_AUTHN_MALFORMED;
        if (jwt->kid.n == 0)
            return AG_AUTHN_MALFORMED;
    }
    /* jku, x5u, jwk, x5c: deliberately ignored; keys come from configuration only. */
    return AG_AUTHN_OK;
}

/* The compact serialization; the payload is parsed as a JSON object when <claims>, else
 * only decoded (and may then be empty). */
static ag_authn_result parse(ag_str_t token, size_t max_bytes, ag_arena_t *arena, ag_jwt_t *jwt,
                             bool claims)
{
    ag_str_t h, p, s, rest;
    ag_authn_result r;

    memset(jwt, 0, sizeof(*jwt));
    if (token.n > max_bytes)
        return AG_AUTHN_TOO_LARGE;
    rest = ag_str_split(token, '.', &h);
    if (!rest.p)
        return AG_AUTHN_MALFORMED;
    rest = ag_str_split(rest, '.', &p);
    if (!rest.p)
        return AG_AUTHN_MALFORMED;
    s = rest;
    if (ag_str_find_char(s, '.') != s.n) /* JWE (5 segments) or junk */
        return AG_AUTHN_MALFORMED;
    if (h.n == 0 || (p.n == 0 && claims))
        return AG_AUTHN_MALFORMED;
    /* the header first, so "alg":"none" (with its empty signature) is named as such */
    if ((r = decode_json(h, arena, &jwt->header)) != AG_AUTHN_OK ||
        (r = read_header(jwt, arena)) != AG_AUTHN_OK)
        return r;
    if (s.n == 0)
        return AG_AUTHN_MALFORMED;
    unsigned char *raw;
    size_t rawn;
    if ((r = claims ? decode_json(p, arena, &jwt->payload) : decode_seg(p, arena, &raw, &rawn)))
        return r;
    if (ag_b64url_decoded_max(s.n) > AG_JWT_MAX_SIG + 2)
        return AG_AUTHN_MALFORMED;
    if ((r = decode_seg(s, arena, &jwt->sig, &jwt->siglen)) != AG_AUTHN_OK)
        return r;
    jwt->signing_input = ag_str_make(token.p, h.n + 1 + p.n);
    return AG_AUTHN_OK;
}

ag_authn_result ag_jwt_parse(ag_str_t token, size_t max_bytes, ag_arena_t *arena, ag_jwt_t *jwt)
{
    return parse(token, max_bytes, arena, jwt, true);
}

ag_authn_result ag_jws_parse(ag_str_t token, size_t max_bytes, ag_arena_t *arena, ag_jwt_t *jwt)
{
    return parse(token, max_bytes, arena, jwt, false);
}

ag_authn_result ag_jwt_verify(const ag_jwt_t *jwt, const ag_jwk_t *key)
{
    if (!ag_jwk_fits(key, jwt->alg))
        return AG_AUTHN_ALG_KEY_MISMATCH;
    if (ag_jwk_verify(key, jwt->alg, jwt->signing_input, jwt->sig, jwt->siglen) != 0)
        return AG_AUTHN_BAD_SIGNATURE;
    return AG_AUTHN_OK;
}

#define MAX_KIDLESS_TRIES 8 /* keys tried for a token without kid */

ag_authn_result ag_jwt_verify_keys(const ag_jwt_t *jwt, const ag_jwks_t *ks, const ag_jwk_t **used)
{
    static const ag_str_t any = {"", 0};
    if (jwt->kid.n) {
        const ag_jwk_t *k = ag_jwks_find(ks, jwt->kid, ag_str_cstr(ag_jwt_alg_name(jwt->alg)));
        if (!k) /* the kid exists but for another key type or alg: the key decides */
            return ag_jwks_find(ks, jwt->kid, any) ? AG_AUTHN_ALG_KEY_MISMATCH
                                                   : AG_AUTHN_UNKNOWN_KID;
        *used = k;
        return ag_jwt_verify(jwt, k);
    }
    /* No kid (legacy SA tokens, single-key IdPs): the API server tries every key. We
     * stop after MAX_KIDLESS_TRIES so one forged token costs a bounded number of
     * signature checks (threat model #29). */
    int tries = 0;
    for (int i = 0; i < ag_jwks_count(ks) && tries < MAX_KIDLESS_TRIES; i++) {
        const ag_jwk_t *k = ag_jwks_at(ks, i);
        if (!ag_jwk_fits(k, jwt->alg))
            continue;
        tries++;
        if (ag_jwt_verify(jwt, k) == AG_AUTHN_OK) {
            *used = k;
            return AG_AUTHN_OK;
        }
    }
    return tries ? AG_AUTHN_BAD_SIGNATURE : AG_AUTHN_ALG_KEY_MISMATCH;
}

ag_authn_result ag_jwt_claim_str(const ag_jwt_t *jwt, const char *name, ag_arena_t *arena,
                                 ag_str_t *out)
{
    ag_json_ref v = ag_json_get(&jwt->payload, ag_json_root(&jwt->payload), name);
    if (v == AG_JSON_NONE)
        return AG_AUTHN_MISSING_CLAIM;
    ag_err err = ag_json_str(&jwt->payload, v, arena, out);
    if (err)
        return err == AG_E_NOMEM ? AG_AUTHN_INTERNAL : AG_AUTHN_BAD_CLAIM;
    return AG_AUTHN_OK;
}

ag_authn_result ag_jwt_claim_time(const ag_jwt_t *jwt, const char *name, long long *out)
{
    ag_json_ref v = ag_json_get(&jwt->payload, ag_json_root(&jwt->payload), name);
    long long t;
    if (v == AG_JSON_NONE)
        return AG_AUTHN_MISSING_CLAIM;
    /* Integers in [0, 2^53): exact in every JSON implementation (RFC 7493 §2.2), so the
     * IdP and we agree on the instant; fractions and exponents are refused. */
    if (ag_json_int(&jwt->payload, v, &t) != 0 || t < 0 || t >= (1LL << 53))
        return AG_AUTHN_BAD_CLAIM;
    *out = t;
    return AG_AUTHN_OK;
}
