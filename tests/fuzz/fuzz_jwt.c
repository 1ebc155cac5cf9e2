/* libFuzzer target for bearer tokens: the strict JWS parser, the whole verification
 * path (issuer pick, key lookup, signature) and, because a fuzzer cannot forge
 * signatures, the claim checks and mappings of every issuer type run directly on any
 * token that parses (ag_authn_check_claims). Issuers and keys are embedded. */
#include <stdint.h>
#include <stdlib.h>

#include "authn/authn.h"
#include "authn/jwt.h"
#include "files.h"

/* generated from tests/fixtures/jwt (public keys only); every issuer trusts the same keys */
/* clang-format off */
#define JWKS \
    "{\"keys\":[{\"kty\":\"RSA\"," \
    "\"n\":\"u9W6kSS5lctOhqB_WZ5WObKs9OKtkWhJl_4Ftj2kBk8-KzhUB8UJWO2XY34zKmWniQPZiNg2eaBHp5CH" \
    "sQTOtEXGJ-YEHYJSfaLcLJUiu5kOkmHm82x0jpDNkshV-0_emtjOEKPOOTSBU6wz8qxBnKSOXpcZ9J5d_7G-mC6V" \
    "iJm0QxjGC_jPf5b79x6ik6g4Hc9JTdRQ7Dbd9pcP6NPOdEzsPmC5fBhtt8DFZ2beF_u2yiMzTyEI5LUU9koGBZpn" \
    "NcazkcQLmeIuGVweZYIXLJeoGpwew69TDI5RLdsCfxOp4Uv86kgXj4btZazLLAoHjtIXGD71UbZ0-JkSycxvyQ\"" \
    ",\"e\":\"AQAB\",\"kid\":\"rsa1\"},{\"kty\":\"EC\"," \
    "\"x\":\"3t3eT6B0Tq-HuPgibPd0eh2JFEi6sab7WKJMvoaC5lA\"," \
    "\"y\":\"St2Ca6P-r7ByU4UC-ZodS1SH_f98iJZtzfIHVKVEJkw\",\"crv\":\"P-256\"," \
    "\"kid\":\"ec256\",\"use\":\"sig\",\"alg\":\"ES256\"},{\"kty\":\"EC\"," \
    "\"x\":\"m4A-WWdpeHLIIsuxz3_pD5fs86Uu4QNPluKVAZuawXzVsYy0VfqRy0H_y5g1jBJi\"," \
    "\"y\":\"jAWPaMjaXdo-dnqU3ZRbqgdNHNHrDOx3pjWAFjJmF8uhmCyrQcd2dhpczGwTMgXo\"," \
    "\"crv\":\"P-384\",\"kid\":\"ec384\"}]}"

static const char config[] =
    "{\"issuers\":[{\"issuer\":\"https://idp.example.com\",\"audiences\":[\"authgate\"],"
    "\"keys\":{\"jwks\":"
    JWKS
    "},\"claims\":{\"groups\":\"groups\",\"uid\":\"uid\","
    "\"extra\":{\"example.com/scopes\":\"scp\"}},"
    "\"required_claims\":{\"hd\":\"example.com\"}},{\"issuer\":\"https://idp2.example.com\","
    "\"audiences\":[\"authgate\"],\"keys\":{\"jwks\":"
    JWKS
    "},\"claims\":{\"username\":\"email\",\"username_prefix\":\"-\",\"groups\":\"roles\","
    "\"groups_prefix\":\"oidc:\"}},{\"type\":\"azure_ad\","
    "\"tenant_id\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",\"keys\":{\"jwks\":"
    JWKS
    "}},{\"type\":\"kubernetes_serviceaccount\",\"issuer\":\"kubernetes/serviceaccount\","
    "\"keys\":{\"jwks\":"
    JWKS
    "}},{\"type\":\"kubernetes_serviceaccount\","
    "\"issuer\":\"https://kubernetes.default.svc\","
    "\"audiences\":[\"https://kubernetes.default.svc\"],\"keys\":{\"jwks\":"
    JWKS
    "}}]}";
/* clang-format on */

static ag_issuer_set_t *issuers;

static void setup(void)
{
    static ag_arena_t a;
    static ag_cfg_t cfg;
    ag_arena_init(&a, 0, 0);
    if (ag_cfg_init(&cfg, "fuzz.json", ag_str_make(config, sizeof config - 1), &a) ||
        ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", NULL, &issuers))
        abort();
}

/* An accepted identity is always well formed; a rejected one is empty. */
static void check(ag_authn_result r, const ag_identity_t *id)
{
    if ((unsigned)r >= AG_AUTHN_RESULT_COUNT)
        abort();
    if (r != AG_AUTHN_OK) {
        if (id->username.n || id->ngroups)
            abort();
        return;
    }
    if (id->username.n == 0 || id->ngroups < 1 ||
        !ag_str_eq_lit(id->groups[id->ngroups - 1], "system:authenticated"))
        abort();
    for (size_t k = 0; k < id->username.n; k++)
        if ((unsigned char)id->username.p[k] < 0x20)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ag_arena_t arena;
    ag_identity_t id;
    ag_authn_info_t info;
    ag_jwt_t jwt;
    ag_str_t tok = ag_str_make((const char *)data, size), bearer;

    if (!issuers) {
        setup();
        ag_arena_init(&arena, 1 << 16, 1 << 24);
    }
    ag_arena_reset(&arena);
    (void)ag_authn_bearer(&tok, 1, &bearer);
    check(ag_authn_verify(issuers, NULL, NULL, tok, 1780000000, &arena, &id, &info), &id);
    if (ag_jwt_parse(tok, 65536, &arena, &jwt) != AG_AUTHN_OK)
        return 0;
    for (int i = 0; i < ag_issuer_count(issuers); i++) {
        ag_arena_reset(&arena);
        (void)ag_jwt_parse(tok, 65536, &arena, &jwt);
        check(ag_authn_check_claims(ag_issuer_at(issuers, i), &jwt, NULL, 0, 1780000000, &arena,
                                    &id, &info),
              &id);
    }
    return 0;
}
