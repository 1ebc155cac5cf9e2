/* Shared by test_jwt.c, test_jwks.c and test_authn.c: loads tests/fixtures/jwt (minted
 * by mint.mjs with node's jose and node:crypto, never by authgate) and runs tokens
 * through ag_authn_verify at the fixtures' clock. Tests run from the source dir. */
#ifndef AG_TEST_JWT_FIXTURE_H
#define AG_TEST_JWT_FIXTURE_H

#include "authn/authn.h"
#include "authn/issuer.h"
#include "base/cfg.h"
#include "base/json.h"
#include "files.h"

#include <stdio.h>
#include <stdlib.h>

#define FIXDIR "tests/fixtures/jwt"

static struct {
    int loaded;
    ag_buf_t cfgtext, toktext;
    ag_arena_t arena, req;
    ag_cfg_t cfg;
    ag_json_t tokens;
    ag_json_ref tokmap;
    ag_issuer_set_t *set;
    long long now;
} fx;

static void fx_load(void)
{
    if (fx.loaded)
        return;
    fx.loaded = 1;
    fx.cfgtext = AG_BUF_INIT(1 << 20);
    fx.toktext = AG_BUF_INIT(1 << 22);
    ag_arena_init(&fx.arena, 1 << 16, 0);
    ag_arena_init(&fx.req, 1 << 16, 1 << 24);
    if (ag_buf_read_file(&fx.cfgtext, FIXDIR "/issuers.json") ||
        ag_buf_read_file(&fx.toktext, FIXDIR "/tokens.json")) {
        fprintf(stderr, "cannot read fixtures in " FIXDIR " (run from the source dir)\n");
        exit(2);
    }
    if (ag_cfg_init(&fx.cfg, FIXDIR "/issuers.json", ag_buf_str(&fx.cfgtext), &fx.arena) ||
        ag_issuers_parse(&fx.cfg, ag_json_get(fx.cfg.doc, 0, "issuers"), "issuers", FIXDIR,
                         &fx.set)) {
        fprintf(stderr, "issuers: %s\n", ag_cfg_error(&fx.cfg));
        exit(2);
    }
    if (ag_json_parse(&fx.tokens, ag_buf_str(&fx.toktext), NULL, &fx.arena, NULL) ||
        ag_json_int(&fx.tokens, ag_json_get(&fx.tokens, 0, "now"), &fx.now)) {
        fprintf(stderr, "tokens.json unreadable\n");
        exit(2);
    }
    fx.tokmap = ag_json_get(&fx.tokens, 0, "tokens");
}

static inline ag_str_t fx_str(const char *name)
{
    fx_load();
    return ag_json_raw(&fx.tokens, ag_json_get(&fx.tokens, 0, name));
}

static inline ag_str_t fx_token(const char *name)
{
    fx_load();
    ag_json_ref r = ag_json_get(&fx.tokens, fx.tokmap, name);
    if (r == AG_JSON_NONE) {
        fprintf(stderr, "no fixture token %s\n", name);
        exit(2);
    }
    return ag_json_raw(&fx.tokens, r); /* base64url and dots: no escapes */
}

static inline ag_authn_result fx_verify_at(ag_str_t token, long long now, ag_identity_t *id,
                                           ag_authn_info_t *info)
{
    fx_load();
    ag_arena_reset(&fx.req);
    return ag_authn_verify(fx.set, NULL, NULL, token, now, &fx.req, id, info);
}

static inline ag_authn_result fx_verify(const char *name, ag_identity_t *id, ag_authn_info_t *info)
{
    fx_load();
    return fx_verify_at(fx_token(name), fx.now, id, info);
}

/* The identity's groups as "a,b,c" (static buffer) for compact assertions. */
static inline const char *fx_groups(const ag_identity_t *id)
{
    static char out[4096];
    size_t w = 0;
    out[0] = '\0';
    for (int i = 0; i < id->ngroups && w + id->groups[i].n + 2 < sizeof out; i++) {
        if (i)
            out[w++] = ',';
        memcpy(out + w, id->groups[i].p, id->groups[i].n);
        w += id->groups[i].n;
        out[w] = '\0';
    }
    return out;
}

/* The values of extra[key] joined by ',', or NULL when absent. */
static inline const char *fx_extra(const ag_identity_t *id, const char *key)
{
    static char out[1024];
    for (int i = 0; i < id->nextra; i++) {
        if (!ag_str_eq_lit(id->extra[i].key, key))
            continue;
        size_t w = 0;
        out[0] = '\0';
        for (int j = 0; j < id->extra[i].nvalues && w + id->extra[i].values[j].n + 2 < sizeof out;
             j++) {
            if (j)
                out[w++] = ',';
            memcpy(out + w, id->extra[i].values[j].p, id->extra[i].values[j].n);
            w += id->extra[i].values[j].n;
            out[w] = '\0';
        }
        return out;
    }
    return NULL;
}

#endif
