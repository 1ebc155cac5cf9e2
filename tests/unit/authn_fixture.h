/* Shared fixture for the proxy-side authentication tests (test_proxy_authenticate.c,
 * test_proxy_webhook_tokenreview.c): the jose-minted issuers and tokens under
 * tests/fixtures/jwt, an authenticator on a private loop, and a token lookup by name.
 *
 *   authn_fixture_t c;
 *   authn_fixture_load(&c);            // parse issuers.json as an authentication section
 *   c.conf.anonymous = true;           // adjust the config, then
 *   authn_fixture_start(&c);           // create the authenticator, read tokens.json
 *   ... authn_fixture_token(&c, "rs256") ...
 *   authn_fixture_teardown(&c);
 */
#ifndef AG_AUTHN_FIXTURE_H
#define AG_AUTHN_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "authn/authenticate.h"
#include "base/json.h"
#include "files.h"
#include "testlib.h"

typedef struct {
    uv_loop_t loop;
    ag_arena_t cfg_arena, req_arena;
    ag_buf_t text, tokens;
    ag_cfg_t cfg;
    ag_authn_config_t conf;
    ag_authenticator_t *a;
    ag_json_t tokdoc;
} authn_fixture_t;

static void authn_fixture_load(authn_fixture_t *c)
{
    memset(c, 0, sizeof *c);
    uv_loop_init(&c->loop);
    ag_arena_init(&c->cfg_arena, 0, 0);
    ag_arena_init(&c->req_arena, 0, 0);
    c->text = AG_BUF_INIT(1 << 20);
    c->tokens = AG_BUF_INIT(1 << 22);
    CHECK_EQ(ag_buf_read_file(&c->text, "tests/fixtures/jwt/issuers.json"), 0);
    CHECK_EQ(ag_cfg_init(&c->cfg, "issuers.json", ag_buf_str(&c->text), &c->cfg_arena), 0);
    /* the fixture's top level is {"issuers": [...]}: read it as an authentication section */
    CHECK_EQ(ag_authn_config_parse(&c->cfg, ag_json_root(c->cfg.doc), "authentication",
                                   "tests/fixtures/jwt", &c->conf),
             0);
    if (ag_cfg_error(&c->cfg))
        fprintf(stderr, "%s\n", ag_cfg_error(&c->cfg));
}

static void authn_fixture_start(authn_fixture_t *c)
{
    CHECK_EQ(ag_authenticator_create(&c->loop, &c->conf, &c->a, NULL), 0);
    CHECK_EQ(ag_buf_read_file(&c->tokens, "tests/fixtures/jwt/tokens.json"), 0);
    CHECK_EQ(ag_json_parse(&c->tokdoc, ag_buf_str(&c->tokens), NULL, &c->cfg_arena, NULL), 0);
}

static void authn_fixture_teardown(authn_fixture_t *c)
{
    ag_authenticator_release_worker(c->a, 1);
    ag_authenticator_destroy(c->a);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&c->loop), 0);
    ag_authn_config_dispose(&c->conf);
    ag_cfg_dispose(&c->cfg);
    ag_buf_dispose(&c->text);
    ag_buf_dispose(&c->tokens);
    ag_arena_dispose(&c->cfg_arena);
    ag_arena_dispose(&c->req_arena);
}

/* The fixture token <name> (tests/fixtures/jwt/tokens.json); borrowed from the fixture. */
static ag_str_t authn_fixture_token(authn_fixture_t *c, const char *name)
{
    ag_str_t s = AG_STR_NULL;
    ag_json_ref t = ag_json_get(&c->tokdoc, ag_json_root(&c->tokdoc), "tokens");
    ag_json_str(&c->tokdoc, ag_json_get(&c->tokdoc, t, name), &c->cfg_arena, &s);
    CHECK(s.n > 0);
    return s;
}

#endif
