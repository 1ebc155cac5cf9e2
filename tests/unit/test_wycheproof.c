/* Wycheproof vectors (tests/vectors/wycheproof/, README there) through the gateway's own
 * code: each group's JWK is loaded by ag_jwks_parse as a fetched JWKS would be, each
 * signature checked by ag_jwk_verify (core/authn/jwks.c: verify_ecdsa for ES*, mbedTLS's RSA for
 * RS* and PS*), and each whole JWS goes through ag_jwt_parse / ag_jws_parse and
 * ag_jwt_verify_keys, the calls authentication makes. Vector files are read and parsed
 * with core/base/json.c. A missing file fails the test (AG_WYCHEPROOF_DIR, CMakeLists.txt).
 *
 * Rules: every "valid" vector verifies, every "invalid" one is refused. "acceptable" (only
 * RSA PKCS#1 v1.5 without the NULL parameter in DigestInfo): refused, as RFC 8017 §9.2
 * encodes it with the NULL and mbedTLS compares the whole encoding; a change of that
 * choice shows here. JWS: a valid vector may be refused only by policy (an HS* alg, no
 * usable asymmetric key, the JWK's "alg" differing from the token's); those are counted. */
#include <stdio.h>

#include "authn/jwks.h"
#include "authn/jwt.h"
#include "base/arena.h"
#include "base/b64.h"
#include "base/buf.h"
#include "base/json.h"
#include "files.h"
#include "testlib.h"

#ifndef AG_WYCHEPROOF_DIR
#error "AG_WYCHEPROOF_DIR is set by CMakeLists.txt"
#endif

enum { VALID, INVALID, ACCEPTABLE, NRESULTS };
static const char *const result_names[NRESULTS] = {"valid", "invalid", "acceptable"};

typedef struct {
    int n[NRESULTS], accepted[NRESULTS];
} tally_t;

typedef struct {
    ag_buf_t text;
    ag_arena_t arena;
    ag_json_t doc;
} vfile_t;

/* Reads and parses AG_WYCHEPROOF_DIR/<name>; false (and a failed check) when missing. */
static bool vfile_open(vfile_t *f, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AG_WYCHEPROOF_DIR, name);
    f->text = AG_BUF_INIT(16u << 20);
    ag_arena_init(&f->arena, 1u << 16, 512u << 20);
    ag_err err = ag_buf_read_file(&f->text, path);
    if (err) {
        fprintf(stderr, "%s: %s: the Wycheproof vectors are missing\n", path, ag_err_str(err));
        ag_test_failures++;
        return false;
    }
    err = ag_json_parse(&f->doc, ag_buf_str(&f->text), NULL, &f->arena, NULL);
    CHECK_EQ(err, 0);
    return err == 0;
}

static void vfile_close(vfile_t *f)
{
    ag_arena_dispose(&f->arena);
    ag_buf_dispose(&f->text);
}

static int result_of(const ag_json_t *d, ag_json_ref t)
{
    ag_json_ref r = ag_json_get(d, t, "result");
    for (int i = 0; i < NRESULTS; i++)
        if (ag_json_str_eq(d, r, result_names[i]))
            return i;
    return -1;
}

static void mismatch(const char *file, const ag_json_t *d, ag_json_ref t, const char *what)
{
    long long id = -1;
    ag_json_int(d, ag_json_get(d, t, "tcId"), &id);
    ag_str_t c = ag_json_raw(d, ag_json_get(d, t, "comment"));
    fprintf(stderr, "%s tcId %lld (%.*s): %s\n", file, id, (int)c.n, c.p, what);
    ag_test_failures++;
}

/* Hex string member <name> of <obj> into arena bytes. */
static bool hex_member(const ag_json_t *d, ag_json_ref obj, const char *name, ag_arena_t *a,
                       unsigned char **out, size_t *n)
{
    ag_str_t h = ag_json_raw(d, ag_json_get(d, obj, name));
    unsigned char *b = ag_arena_alloc(a, h.n / 2 + 1);
    if (!b || h.n % 2)
        return false;
    for (size_t i = 0; i < h.n / 2; i++) {
        int hi = ag_hex_digit(h.p[2 * i]), lo = ag_hex_digit(h.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *out = b;
    *n = h.n / 2;
    return true;
}

/* The JWK as the gateway loads keys: a JWKS document holding it. NULL when refused. */
static ag_jwks_t *load_jwk(const ag_json_t *d, ag_json_ref jwk)
{
    ag_jwks_t *ks = NULL;
    if (jwk == AG_JSON_NONE)
        return NULL;
    ag_str_t raw = ag_json_raw(d, jwk);
    ag_buf_t doc = AG_BUF_INIT(1u << 20);
    if (ag_buf_printf(&doc, "{\"keys\":[%.*s]}", (int)raw.n, raw.p) == 0)
        ag_jwks_parse(ag_buf_str(&doc), &ks);
    ag_buf_dispose(&doc);
    return ks;
}

/* A signature group's key: its JWK, or (some ECDSA groups have none) its PEM as a key
 * file is loaded (ag_jwks_from_pem, service-account keys). */
static ag_jwks_t *group_key(const ag_json_t *d, ag_json_ref g)
{
    ag_json_ref jwk = ag_json_get(d, g, "publicKeyJwk");
    if (jwk == AG_JSON_NONE)
        jwk = ag_json_get(d, g, "keyJwk");
    if (jwk != AG_JSON_NONE)
        return load_jwk(d, jwk);
    ag_jwks_t *ks = NULL;
    ag_arena_t a;
    ag_str_t pem;
    ag_arena_init(&a, 4096, 1u << 20);
    if (ag_json_str(d, ag_json_get(d, g, "publicKeyPem"), &a, &pem) == 0)
        ag_jwks_from_pem(pem, &ks);
    ag_arena_dispose(&a);
    return ks;
}

/* JWS alg of a group: ES/RS/PS by the group type, the bits of its "sha". PSS groups must
 * use what RFC 7518 §3.5 fixes: MGF1 with the same hash, salt as long as the hash. */
static ag_jwt_alg group_alg(const ag_json_t *d, ag_json_ref g)
{
    ag_json_ref type = ag_json_get(d, g, "type"), sha = ag_json_get(d, g, "sha");
    const char *fam = ag_json_str_eq(d, type, "EcdsaP1363Verify")    ? "ES"
                      : ag_json_str_eq(d, type, "RsassaPkcs1Verify") ? "RS"
                      : ag_json_str_eq(d, type, "RsassaPssVerify")   ? "PS"
                                                                     : NULL;
    ag_str_t bits = ag_json_raw(d, sha);
    if (!fam || bits.n != 7 || memcmp(bits.p, "SHA-", 4) != 0)
        return AG_JWT_ALG_UNKNOWN;
    char name[8];
    snprintf(name, sizeof name, "%s%.3s", fam, bits.p + 4);
    if (fam[0] == 'P') {
        long long slen = -1;
        ag_json_int(d, ag_json_get(d, g, "sLen"), &slen);
        if (!ag_str_eq(ag_json_raw(d, ag_json_get(d, g, "mgfSha")), bits) ||
            slen * 8 != atoi(name + 2))
            return AG_JWT_ALG_UNKNOWN;
    }
    return ag_jwt_alg_parse(ag_str_cstr(name));
}

static void run_sig_group(const char *file, const ag_json_t *d, ag_json_ref g, ag_arena_t *a,
                          tally_t *t)
{
    ag_jwt_alg alg = group_alg(d, g);
    ag_jwks_t *ks = group_key(d, g);
    const ag_jwk_t *k = ag_jwks_at(ks, 0);
    CHECK(alg != AG_JWT_ALG_UNKNOWN);
    CHECK(k != NULL); /* every group's key is a valid public key of a size we take */
    for (ag_json_ref c = ag_json_first(d, ag_json_get(d, g, "tests")); c != AG_JSON_NONE;
         c = ag_json_next(d, c)) {
        int res = result_of(d, c);
        unsigned char *msg, *sig;
        size_t mn, sn;
        if (res < 0 || !hex_member(d, c, "msg", a, &msg, &mn) ||
            !hex_member(d, c, "sig", a, &sig, &sn)) {
            mismatch(file, d, c, "unreadable vector");
            continue;
        }
        bool ok = k && alg != AG_JWT_ALG_UNKNOWN &&
                  ag_jwk_verify(k, alg, ag_str_make((const char *)msg, mn), sig, sn) == 0;
        t->n[res]++;
        t->accepted[res] += ok;
        if (ok != (res == VALID))
            mismatch(file, d, c, ok ? "accepted, must be refused" : "refused, must verify");
    }
    ag_jwks_unref(ks);
}

/* Every vector of one signature file; prints the counts. */
static void run_sig_file(const char *file)
{
    vfile_t f;
    tally_t t = {{0}, {0}};
    long long total = -1;
    if (vfile_open(&f, file)) {
        ag_json_ref root = ag_json_root(&f.doc);
        for (ag_json_ref g = ag_json_first(&f.doc, ag_json_get(&f.doc, root, "testGroups"));
             g != AG_JSON_NONE; g = ag_json_next(&f.doc, g))
            run_sig_group(file, &f.doc, g, &f.arena, &t);
        CHECK_EQ(ag_json_int(&f.doc, ag_json_get(&f.doc, root, "numberOfTests"), &total), 0);
        CHECK_EQ(t.n[VALID] + t.n[INVALID] + t.n[ACCEPTABLE], total);
        CHECK(t.n[VALID] > 0 && t.n[INVALID] > 0);
    }
    printf("%s: %lld vectors: valid %d (%d verified), invalid %d (%d refused), acceptable %d "
           "(%d refused)\n",
           file, total, t.n[VALID], t.accepted[VALID], t.n[INVALID],
           t.n[INVALID] - t.accepted[INVALID], t.n[ACCEPTABLE],
           t.n[ACCEPTABLE] - t.accepted[ACCEPTABLE]);
    vfile_close(&f);
}

TEST(wycheproof_ecdsa_p256_sha256)
{
    run_sig_file("ecdsa_secp256r1_sha256_p1363_test.json");
}

TEST(wycheproof_ecdsa_p384_sha384)
{
    run_sig_file("ecdsa_secp384r1_sha384_p1363_test.json");
}

TEST(wycheproof_ecdsa_p521_sha512)
{
    run_sig_file("ecdsa_secp521r1_sha512_p1363_test.json");
}

TEST(wycheproof_rsa_pkcs1)
{
    run_sig_file("rsa_signature_2048_sha256_test.json");
    run_sig_file("rsa_signature_2048_sha384_test.json");
    run_sig_file("rsa_signature_2048_sha512_test.json");
    run_sig_file("rsa_signature_3072_sha256_test.json");
    run_sig_file("rsa_signature_4096_sha512_test.json");
}

TEST(wycheproof_rsa_pss)
{
    run_sig_file("rsa_pss_2048_sha256_mgf1_32_test.json");
    run_sig_file("rsa_pss_3072_sha256_mgf1_32_test.json");
    run_sig_file("rsa_pss_4096_sha512_mgf1_64_test.json");
}

/* ---- whole JWS ------------------------------------------------------------------------- */

enum { POL_HMAC, POL_NO_KEY, POL_KEY_ALG, POL_BASE64, NPOLICY };

typedef struct {
    tally_t t;
    int gateway;         /* accepted by ag_jwt_parse + ag_jwt_verify_keys (JSON payloads) */
    int policy[NPOLICY]; /* valid vectors refused by policy, by reason */
} jws_tally_t;

/* ag_jws_parse (or ag_jwt_parse when <claims>) and the key-set check, as authn does. */
static ag_authn_result jws_check(ag_str_t tok, const ag_jwks_t *ks, bool claims, ag_jwt_t *jwt)
{
    ag_arena_t a;
    const ag_jwk_t *used = NULL;
    ag_arena_init(&a, 4096, 1u << 20);
    ag_authn_result r =
        claims ? ag_jwt_parse(tok, 1u << 16, &a, jwt) : ag_jws_parse(tok, 1u << 16, &a, jwt);
    if (r == AG_AUTHN_OK)
        r = ks ? ag_jwt_verify_keys(jwt, ks, &used) : AG_AUTHN_NO_KEYS;
    ag_arena_dispose(&a);
    return r;
}

/* Whether the three segments of <tok> are canonical base64url (b64.h). */
static bool canonical_segments(ag_str_t tok)
{
    unsigned char buf[4096];
    size_t n;
    for (int i = 0; i < 3; i++) {
        ag_str_t seg;
        tok = ag_str_split(tok, '.', &seg);
        if (!tok.p && i < 2)
            return false;
        if (!tok.p)
            seg = seg.p ? seg : tok;
        if (ag_b64url_decode(seg, buf, sizeof buf, &n) != 0)
            return false;
    }
    return true;
}

/* Which policy refused a valid JWS, or -1 when the refusal is not one. */
static int policy_reason(ag_authn_result r, const ag_jwt_t *jwt, ag_str_t tok, const ag_json_t *d,
                         ag_json_ref jwk)
{
    if (r == AG_AUTHN_MALFORMED && !canonical_segments(tok))
        return POL_BASE64; /* one byte string, one encoding: no inserted characters */
    if (r == AG_AUTHN_UNSUPPORTED_ALG)
        return POL_HMAC; /* the header named no asymmetric alg we verify */
    if (r == AG_AUTHN_NO_KEYS)
        return POL_NO_KEY; /* no JWK, a symmetric one, "use":"enc", an unknown "alg" */
    ag_json_ref alg = ag_json_get(d, jwk, "alg");
    if (r == AG_AUTHN_ALG_KEY_MISMATCH && alg != AG_JSON_NONE &&
        !ag_json_str_eq(d, alg, ag_jwt_alg_name(jwt->alg)))
        return POL_KEY_ALG; /* the JWK is for another alg (RFC 7517 §4.4) */
    return -1;
}

static void run_jws_group(const ag_json_t *d, ag_json_ref g, jws_tally_t *jt)
{
    static const char file[] = "json_web_signature_test.json";
    ag_json_ref jwk = ag_json_get(d, g, "public");
    ag_jwks_t *ks = load_jwk(d, jwk);
    for (ag_json_ref c = ag_json_first(d, ag_json_get(d, g, "tests")); c != AG_JSON_NONE;
         c = ag_json_next(d, c)) {
        int res = result_of(d, c);
        ag_str_t tok = ag_json_raw(d, ag_json_get(d, c, "jws"));
        ag_jwt_t jwt;
        bool gw = jws_check(tok, ks, true, &jwt) == AG_AUTHN_OK;
        ag_authn_result r = jws_check(tok, ks, false, &jwt);
        if (res < 0) {
            mismatch(file, d, c, "unreadable vector");
            continue;
        }
        jt->t.n[res]++;
        jt->t.accepted[res] += r == AG_AUTHN_OK;
        jt->gateway += gw;
        if (gw && r != AG_AUTHN_OK)
            mismatch(file, d, c, "the token path accepts what the signature path refuses");
        if (res != VALID && (r == AG_AUTHN_OK || gw))
            mismatch(file, d, c, "accepted, must be refused");
        if (res != VALID || r == AG_AUTHN_OK)
            continue;
        int why = policy_reason(r, &jwt, tok, d, jwk);
        if (why < 0)
            mismatch(file, d, c, ag_authn_result_name(r));
        else
            jt->policy[why]++;
    }
    ag_jwks_unref(ks);
}

TEST(wycheproof_json_web_signature)
{
    vfile_t f;
    jws_tally_t jt = {{{0}, {0}}, 0, {0}};
    long long total = -1;
    if (vfile_open(&f, "json_web_signature_test.json")) {
        ag_json_ref root = ag_json_root(&f.doc);
        for (ag_json_ref g = ag_json_first(&f.doc, ag_json_get(&f.doc, root, "testGroups"));
             g != AG_JSON_NONE; g = ag_json_next(&f.doc, g))
            run_jws_group(&f.doc, g, &jt);
        CHECK_EQ(ag_json_int(&f.doc, ag_json_get(&f.doc, root, "numberOfTests"), &total), 0);
        CHECK_EQ(jt.t.n[VALID] + jt.t.n[INVALID] + jt.t.n[ACCEPTABLE], total);
        CHECK(jt.t.accepted[VALID] > 0);
    }
    printf("json_web_signature_test.json: %lld vectors: valid %d (%d verified; refused by "
           "policy: %d HS*, %d without a usable key, %d JWK alg differs, %d non-canonical "
           "base64url), invalid %d (%d refused), acceptable %d; as tokens (JSON payload "
           "required) %d accepted\n",
           total, jt.t.n[VALID], jt.t.accepted[VALID], jt.policy[POL_HMAC], jt.policy[POL_NO_KEY],
           jt.policy[POL_KEY_ALG], jt.policy[POL_BASE64], jt.t.n[INVALID],
           jt.t.n[INVALID] - jt.t.accepted[INVALID], jt.t.n[ACCEPTABLE], jt.gateway);
    vfile_close(&f);
}
