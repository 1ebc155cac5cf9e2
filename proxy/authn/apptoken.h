/* The gateway's own Entra app token, for Microsoft Graph (graph.c) and Azure Resource
 * Manager (armsync.c): client credentials with a secret, a certificate-signed assertion
 * or a federated token (workload identity), POSTed to the configured token endpoint on
 * the control loop. The credentials are read again before every token request (mounted
 * secrets and projected service-account tokens rotate); when that fails the ones that
 * worked are kept, and said so.
 *
 * Owns: the current token (cached until token_refresh_margin before it expires, at most
 * half its life), single flight (every caller waiting for a token shares one request), a
 * generation number so a caller can drop exactly the token an API refused.
 * Never: logs a token, a secret or an assertion; keeps them in memory it does not zero.
 *
 * Lifetime: process. Control loop thread only. */
#ifndef AG_PROXY_APPTOKEN_H
#define AG_PROXY_APPTOKEN_H

#include <uv.h>

#include "base/err.h"
#include "graph/graph.h"
#include "net/fetch.h"
#include "runtime/metrics.h"

typedef struct ag_apptoken ag_apptoken_t;

/* A caller waiting for a token: intrusive, owned by the caller, which must keep it alive
 * until <cb> ran (or until it is cancelled by ag_apptoken_cancel). */
typedef struct ag_apptoken_wait {
    struct ag_apptoken_wait *next;
    /* err 0: a token is ready (ag_apptoken_header answers it); else AG_E_TIMEOUT or
     * AG_E_UPSTREAM with a static reason and a detail for the log line. */
    void (*cb)(struct ag_apptoken_wait *w, ag_err err, const char *reason, const char *detail);
} ag_apptoken_wait_t;

/* <cfg>'s credential fields (token_url, scope, client_id, the credential files,
 * timeout_ms, token_margin_ms) are copied; the credentials are loaded now (AG_E_IO,
 * AG_E_CRYPTO, AG_E_CONFIG). <what> names the user in log lines ("graph", "arm").
 * <m_fetches> counts tokens obtained (may be <0: none). */
ag_err ag_apptoken_create(uv_loop_t *loop, ag_fetch_t *fetch, const ag_graph_cfg_t *cfg,
                          const char *what, ag_metric_id m_fetches, ag_apptoken_t **out);
/* Drops waiters without calling them; memory goes once a running token request ends.
 * NULL ignored. */
void ag_apptoken_destroy(ag_apptoken_t *t);

/* "Authorization: Bearer <token>" when a token is usable now (and its generation in
 * *gen), else NULL: call ag_apptoken_wait. */
const char *ag_apptoken_header(ag_apptoken_t *t, unsigned *gen);
/* Queues <w>; starts a token request unless one is running. <w->cb> runs later. */
void ag_apptoken_wait(ag_apptoken_t *t, ag_apptoken_wait_t *w);
/* Removes <w> from the queue if it is there (its callback will not run). */
void ag_apptoken_cancel(ag_apptoken_t *t, ag_apptoken_wait_t *w);
/* The API refused token generation <gen>: fetch a new one next time (a later token is
 * kept). */
void ag_apptoken_invalidate(ag_apptoken_t *t, unsigned gen);
/* Tokens obtained so far. */
unsigned long long ag_apptoken_fetches(const ag_apptoken_t *t);

#endif
