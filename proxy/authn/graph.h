/* The Graph group resolver: turns an Azure AD principal's oid into its transitive group
 * ids when the token only said "too many groups" (overage, azure-rbac.md §11). Runs on the
 * control loop with the fetch engine; workers park a request on ag_graph_resolve and get
 * the answer back on their own loop through their mailbox, never blocking.
 *
 * Owns: a per-oid cache (fresh for cache_ttl, then servable for stale_ttl more while Graph
 * fails), single-flight lookups (all concurrent requests for one oid share one), the app
 * token from client credentials (cached until shortly before it expires), paging through
 * @odata.nextLink on the configured origin only, the group cap, counters for metrics.
 * Never: fetches a URL named in a token (`_claim_sources`): URLs come from configuration
 * only; caches a failure as a result (threat-model #26); logs a token or a secret.
 *
 * Lifetime: process. Create and destroy on the control loop thread. */
#ifndef AG_PROXY_GRAPH_H
#define AG_PROXY_GRAPH_H

#include <stdbool.h>
#include <uv.h>

#include "authn/identity.h"
#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "graph/graph.h"
#include "net/fetch.h"
#include "runtime/mailbox.h"

/* Entries kept in the per-oid cache at most; past it, expired entries are swept and a
 * result that still does not fit is served without being cached. */
#define AG_GRAPH_CACHE_MAX 65536
/* After a failed lookup, requests for that oid within this window get the same answer
 * (stale groups or the error) without another Graph call: Graph trouble is met with
 * backoff, not amplification (threat-model #26). */
#define AG_GRAPH_FAIL_HOLD_MS 1000

typedef struct ag_graph ag_graph_t;
typedef struct ag_graph_wait ag_graph_wait_t;

typedef struct {
    ag_err err;             /* 0; AG_E_TIMEOUT, AG_E_UPSTREAM (Graph or token endpoint
                               failed or answered garbage), AG_E_TOO_BIG (more than
                               max_groups, or Graph's Directory_ResultSizeLimitExceeded:
                               fail closed), AG_E_NOT_FOUND (Graph has no such user),
                               AG_E_CANCELED (resolver stopping) */
    const char *reason;     /* static text for the log line ("" on success) */
    const ag_str_t *groups; /* group object ids, lower case; borrowed for the callback */
    int ngroups;
    bool cached; /* answered from the cache without a Graph call */
    bool stale;  /* past cache_ttl, served because Graph is failing */
} ag_graph_result_t;

/* Runs on the reply mailbox's loop, exactly once per accepted ag_graph_resolve unless
 * ag_graph_cancel came first. Copy what you keep: <res> is gone when it returns. The gate
 * answers err != 0 with ag_graph_http_status(err) and logs res->reason. */
typedef void (*ag_graph_cb)(void *arg, const ag_graph_result_t *res);

typedef struct {
    unsigned long long requests;    /* ag_graph_resolve calls seen by the control loop */
    unsigned long long hits;        /* answered fresh from the cache */
    unsigned long long coalesced;   /* joined a lookup already in flight */
    unsigned long long lookups;     /* lookups started (one per principal per miss) */
    unsigned long long graph_calls; /* HTTP requests to Graph (pages included) */
    unsigned long long token_fetches;
    unsigned long long failures;     /* lookups that ended in an error */
    unsigned long long stale_served; /* waiters answered with stale groups */
    unsigned long long too_many_groups;
    unsigned long long timeouts;
    unsigned long long entries; /* cache entries now */
} ag_graph_stats_t;

/* Creates the resolver on <control> (call on its thread, before or while it runs),
 * using <fetch> (an engine on the same loop) for every HTTP request. <cfg> is copied;
 * the credentials it names are loaded now (AG_E_IO / AG_E_CRYPTO / AG_E_CONFIG). */
ag_err ag_graph_create(uv_loop_t *control, ag_fetch_t *fetch, const ag_graph_cfg_t *cfg,
                       ag_graph_t **out);
/* Answers every waiting request with AG_E_CANCELED and releases the resolver once its
 * fetches have completed. Destroy it before the fetch engine (whose teardown completes
 * the fetches still running). Control loop thread; NULL is ignored. */
void ag_graph_destroy(ag_graph_t *g);

/* Any thread whose loop owns <reply> (a worker): asks for the groups of <oid> (a GUID,
 * copied). Returns AG_E_INVAL for a bad oid or argument, AG_E_NOMEM; otherwise <cb> runs
 * later on <reply>'s loop, never inside this call. *wait (may be NULL) gets a handle for
 * ag_graph_cancel, valid until the callback has run. */
ag_err ag_graph_resolve(ag_graph_t *g, ag_str_t oid, ag_mailbox_t *reply, ag_graph_cb cb, void *arg,
                        ag_graph_wait_t **wait);
/* On <reply>'s thread, before the callback ran: the callback will not run (the client
 * went away). The lookup itself goes on for the other waiters and the cache. */
void ag_graph_cancel(ag_graph_wait_t *wait);

/* Counters (any thread; relaxed). The same numbers are exported on /metrics as
 * authgate_graph_requests_total{result="cache_hit|coalesced|lookup"},
 * authgate_graph_lookup_failures_total{reason="timeout|error|too_many_groups|not_found"},
 * authgate_graph_stale_served_total, authgate_graph_http_requests_total,
 * authgate_graph_token_fetches_total and the gauge authgate_graph_cache_entries. */
void ag_graph_stats(const ag_graph_t *g, ag_graph_stats_t *out);

/* In a callback with res->err == 0: appends the resolved groups to <id>'s groups (copies
 * in <arena>, after any the token mapping already added, e.g. system:authenticated) and
 * clears AG_ID_GROUP_OVERAGE. AG_E_NOMEM; AG_E_INVAL when res->err != 0. */
ag_err ag_graph_apply(const ag_graph_result_t *res, ag_arena_t *arena, ag_identity_t *id);
/* The HTTP status a front door answers a failed resolution with: 403 for Graph's verdicts
 * (more groups than allowed or than Graph returns; no such user, e.g. a service principal,
 * whose overage AKS does not support either), 503 for everything else (Graph or the token
 * endpoint failing or timing out: retryable, never a silent 403). */
int ag_graph_http_status(ag_err err);

#endif
