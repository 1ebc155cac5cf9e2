/* The gateway's own Entra app token (apptoken.h): one token request at a time, shared by
 * every waiter; the token kept as a ready "Authorization: Bearer" line. */
#include "authn/apptoken.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "files.h"
#include "runtime/log.h"

/* "Authorization: Bearer " + the token */
#define AUTH_LINE_MAX (AG_GRAPH_MAX_TOKEN_BYTES + 64)

struct ag_apptoken {
    uv_loop_t *loop;
    ag_fetch_t *fetch;
    ag_graph_cfg_t cfg; /* credential fields only; strings in cfg_arena */
    ag_arena_t cfg_arena;
    ag_graph_creds_t *creds;
    const char *what;
    ag_metric_id m_fetches;
    ag_buf_t auth; /* "Authorization: Bearer <app token>", empty when none */
    uint64_t refresh_ms;
    unsigned gen;
    bool fetching, stopping;
    ag_apptoken_wait_t *waiters;
    atomic_ullong fetches;
};

static void release(ag_apptoken_t *t)
{
    ag_graph_creds_destroy(t->creds);
    if (t->auth.p)
        mbedtls_platform_zeroize(t->auth.p, t->auth.cap);
    ag_buf_dispose(&t->auth);
    ag_arena_dispose(&t->cfg_arena);
    free(t);
}

/* Answers every waiter; a waiter may queue itself again from its callback. */
static void resume_all(ag_apptoken_t *t, ag_err err, const char *reason, const char *detail)
{
    ag_apptoken_wait_t *w = t->waiters;
    t->waiters = NULL;
    while (w) {
        ag_apptoken_wait_t *next = w->next;
        w->next = NULL;
        w->cb(w, err, reason, detail);
        w = next;
    }
}

static ag_err store(ag_apptoken_t *t, ag_str_t body)
{
    ag_arena_t arena;
    ag_graph_token_t tok;
    ag_arena_init(&arena, 0, 64 * 1024);
    ag_err err = ag_graph_token_parse(body, &arena, &tok);
    if (!err) {
        long long life_ms = tok.expires_in_s * 1000;
        long long margin =
            t->cfg.token_margin_ms < life_ms / 2 ? t->cfg.token_margin_ms : life_ms / 2;
        if (t->auth.p)
            mbedtls_platform_zeroize(t->auth.p, t->auth.cap);
        ag_buf_clear(&t->auth);
        if ((err = ag_buf_append_cstr(&t->auth, "Authorization: Bearer ")) == 0 &&
            (err = ag_buf_append_str(&t->auth, tok.access_token)) == 0) {
            t->refresh_ms = uv_now(t->loop) + (uint64_t)(life_ms - margin);
            t->gen++;
        }
        mbedtls_platform_zeroize((void *)tok.access_token.p, tok.access_token.n);
    }
    ag_arena_dispose(&arena);
    return err;
}

static void on_token(void *arg, const ag_fetch_res_t *res)
{
    ag_apptoken_t *t = arg;
    char detail[64];
    t->fetching = false;
    if (t->stopping) {
        release(t);
        return;
    }
    if (res->err == AG_E_TIMEOUT) {
        resume_all(t, AG_E_TIMEOUT, "token endpoint did not answer in time", res->detail);
        return;
    }
    if (res->err) {
        resume_all(t, AG_E_UPSTREAM, "token request failed", res->detail);
        return;
    }
    snprintf(detail, sizeof(detail), "HTTP %ld", res->status);
    if (res->status != 200) {
        resume_all(t, AG_E_UPSTREAM, "token endpoint refused", detail);
        return;
    }
    if (store(t, res->body) != 0) {
        resume_all(t, AG_E_UPSTREAM, "malformed token endpoint answer", NULL);
        return;
    }
    atomic_fetch_add_explicit(&t->fetches, 1, memory_order_relaxed);
    if (t->m_fetches >= 0)
        ag_metrics_inc(t->m_fetches);
    resume_all(t, 0, "", NULL);
}

/* Mounted secrets and projected tokens rotate: read the credentials again before each
 * token request; when that fails, keep the ones that worked (and say so). */
static void creds_refresh(ag_apptoken_t *t)
{
    ag_graph_creds_t *fresh = NULL;
    ag_err err = ag_graph_creds_load(&t->cfg, &fresh);
    if (err) {
        ag_warn("%s: re-reading the client credentials failed (%s); using those loaded before",
                t->what, ag_err_str(err));
        return;
    }
    ag_graph_creds_destroy(t->creds);
    t->creds = fresh;
}

static void start(ag_apptoken_t *t)
{
    ag_buf_t body = AG_BUF_INIT(48 * 1024);
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    creds_refresh(t);
    ag_err err = ag_graph_token_body(&body, &t->cfg, t->creds, (long long)time(NULL));
    ag_fetch_req_t req = {
        .url = t->cfg.token_url.p,
        .method = "POST",
        .body = ag_buf_str(&body),
        .headers = headers,
        .timeout_ms = (long)t->cfg.timeout_ms,
        .max_bytes = 64 * 1024,
    };
    if (!err)
        err = ag_fetch_start(t->fetch, &req, on_token, t);
    if (body.p)
        mbedtls_platform_zeroize(body.p, body.cap); /* holds the secret or assertion */
    ag_buf_dispose(&body);
    if (err) {
        resume_all(t, AG_E_UPSTREAM, "could not start the token request", ag_err_str(err));
        return;
    }
    t->fetching = true;
}

const char *ag_apptoken_header(ag_apptoken_t *t, unsigned *gen)
{
    if (!t->auth.n || uv_now(t->loop) >= t->refresh_ms)
        return NULL;
    if (gen)
        *gen = t->gen;
    return t->auth.p;
}

void ag_apptoken_wait(ag_apptoken_t *t, ag_apptoken_wait_t *w)
{
    w->next = t->waiters;
    t->waiters = w;
    if (!t->fetching)
        start(t);
}

void ag_apptoken_cancel(ag_apptoken_t *t, ag_apptoken_wait_t *w)
{
    for (ag_apptoken_wait_t **pp = &t->waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            w->next = NULL;
            return;
        }
}

void ag_apptoken_invalidate(ag_apptoken_t *t, unsigned gen)
{
    if (gen == t->gen)
        t->refresh_ms = 0;
}

unsigned long long ag_apptoken_fetches(const ag_apptoken_t *t)
{
    return atomic_load_explicit(&t->fetches, memory_order_relaxed);
}

static const char *copy_path(ag_apptoken_t *t, const char *path)
{
    return path ? ag_arena_cstr(&t->cfg_arena, ag_str_cstr(path)) : NULL;
}

static ag_err copy_cfg(ag_apptoken_t *t, const ag_graph_cfg_t *cfg)
{
    t->cfg = *cfg;
    t->cfg.base_url = AG_STR_NULL;
    t->cfg.token_url = ag_arena_strdup(&t->cfg_arena, cfg->token_url);
    t->cfg.scope = ag_arena_strdup(&t->cfg_arena, cfg->scope);
    t->cfg.client_id = ag_arena_strdup(&t->cfg_arena, cfg->client_id);
    /* Kept to re-read the credentials before each token request. */
    t->cfg.client_secret_file = copy_path(t, cfg->client_secret_file);
    t->cfg.client_certificate_file = copy_path(t, cfg->client_certificate_file);
    t->cfg.client_key_file = copy_path(t, cfg->client_key_file);
    t->cfg.federated_token_file = copy_path(t, cfg->federated_token_file);
    if (!t->cfg.token_url.p || !t->cfg.scope.p || !t->cfg.client_id.p ||
        (cfg->client_secret_file && !t->cfg.client_secret_file) ||
        (cfg->client_certificate_file && !t->cfg.client_certificate_file) ||
        (cfg->client_key_file && !t->cfg.client_key_file) ||
        (cfg->federated_token_file && !t->cfg.federated_token_file))
        return AG_E_NOMEM;
    return 0;
}

ag_err ag_apptoken_create(uv_loop_t *loop, ag_fetch_t *fetch, const ag_graph_cfg_t *cfg,
                          const char *what, ag_metric_id m_fetches, ag_apptoken_t **out)
{
    ag_apptoken_t *t = calloc(1, sizeof(*t));
    ag_err err;
    if (!t)
        return AG_E_NOMEM;
    t->loop = loop;
    t->fetch = fetch;
    t->what = what;
    t->m_fetches = m_fetches;
    t->auth = AG_BUF_INIT(AUTH_LINE_MAX);
    atomic_init(&t->fetches, 0);
    ag_arena_init(&t->cfg_arena, 0, 0);
    if ((err = copy_cfg(t, cfg)) != 0 || (err = ag_graph_creds_load(cfg, &t->creds)) != 0) {
        release(t);
        return err;
    }
    *out = t;
    return 0;
}

void ag_apptoken_destroy(ag_apptoken_t *t)
{
    if (!t)
        return;
    t->waiters = NULL;
    t->stopping = true;
    if (!t->fetching)
        release(t);
}
