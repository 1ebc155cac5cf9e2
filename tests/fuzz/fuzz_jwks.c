/* libFuzzer target for key material from the network and from files: JWKS documents
 * (ag_jwks_parse) and PEM bundles (ag_jwks_from_pem). A parsed set must be non-empty
 * and every key must answer lookups and a verification without crashing. */
#include <stdint.h>
#include <stdlib.h>

#include "authn/jwks.h"

static void exercise(ag_jwks_t *ks)
{
    static const unsigned char sig[132] = {1};
    if (ag_jwks_count(ks) < 1)
        abort(); /* an empty set must never replace good keys */
    for (int i = 0; i < ag_jwks_count(ks); i++) {
        const ag_jwk_t *k = ag_jwks_at(ks, i);
        (void)ag_jwks_find(ks, ag_jwk_kid(k), AG_STR_NULL);
        for (int a = 1; a < AG_JWT_ALG_COUNT; a++)
            if (ag_jwk_fits(k, (ag_jwt_alg)a) &&
                ag_jwk_verify(k, (ag_jwt_alg)a, AG_STR("x.y"), sig, sizeof sig) == 0)
                abort(); /* a constant signature never verifies */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_jwks_t *ks = NULL;
    ag_str_t in = ag_str_make((const char *)data, size);
    if (ag_jwks_parse(in, &ks) == 0) {
        exercise(ks);
        ag_jwks_unref(ks);
    }
    ks = NULL;
    if (ag_jwks_from_pem(in, &ks) == 0) {
        exercise(ks);
        ag_jwks_unref(ks);
    }
    return 0;
}
