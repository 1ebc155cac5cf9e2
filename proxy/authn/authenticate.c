/* The authentication step (authenticate.h). A bearer token becomes a job in the request
 * arena that moves through explicit steps, each either finishing or parking on exactly
 * one thing and resuming through one on_<event> callback on the worker loop:
 *
 *   lookup (token cache) --hit--> groups --> finish
 *          |--wait: on_cache_wake --> lookup again (or the owner's failure)
 *          '--miss--> verify --ok--> groups (Graph overage: on_graph) --> finish
 *                        |--unknown kid: on_keys --> verify once more
 *                        '--ok, SA issuer with lookup: TokenReview upstream (on_confirm)
 *                             --> cache (TTL <= lookup_ttl) --> groups  (threat #39)
 *
 * The same job serves the gate and the TokenReview webhook; only finish differs. */
#include "authn/authenticate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authn/graph.h"
#include "authn/sa_lookup.h"
#include "config.h"
#include "runtime/admin.h"
#include "runtime/hooks.h"
#include "runtime/log.h"
#include "runtime/mailbox.h"
#include "runtime/metrics.h"
#include "runtime/snapshot.h"

#define MAX_AUTH_HEADERS 4 /* more than one is already a 401; keep a few to say so */

/* The authentication section in force and its key manager, published as one snapshot
 * (snapshot.h): a SIGHUP reload (ag_authenticator_reload) builds the next one. */
typedef struct {
    ag_snap_t snap;
    const ag_authn_config_t *conf; /* the section (in <owned>, or the start-up config's) */
    ag_config_t *owned;            /* the reloaded file it came from; NULL at start-up */
    ag_keys_t *keys;               /* owned */
} section_t;

struct ag_authenticator {
    ag_snap_domain_t *dom; /* section_t; its generation is part of every token-cache key */
    uv_loop_t *loop;
    const char *file; /* ag_authenticator_follow: the config file re-read on SIGHUP */
    ag_fetch_t *fetch;
    ag_tokencache_t *cache;
    ag_sa_lookup_t *lookup; /* owned; NULL: no issuer asks for service-account lookups */
    ag_graph_t *graph;      /* borrowed; NULL: no "graph" section (overage is refused) */
    ag_mailbox_t *mailboxes[AG_METRICS_SLOTS]; /* per worker, created on its own thread */
};

typedef struct job job_t;
struct job {
    ag_authenticator_t *a;
    ag_mailbox_t *mb;
    ag_arena_t *arena;
    ag_str_t token;
    const ag_str_t *auds;
    int naud;
    bool use_cache, owner, refreshed, parked, done;
    bool resolving; /* the gate's groups step (ag_authenticator_groups_gate) */
    ag_tokencache_key_t key;
    ag_tokencache_waiter_t tw;
    ag_keys_waiter_t kw;
    ag_identity_t id;
    ag_authn_info_t info;    /* info.issuer: only while the section is entered (step_verify) */
    long long lookup_ttl_ms; /* the issuer's, kept for on_confirm */
    uint64_t kid_gen;        /* the section whose key manager an unknown kid asked */
    /* the gate's view */
    ag_gate_t *g;
    ag_gate_result sync_result;
    /* the webhook's view */
    ag_review_cb review;
    void *review_arg;
};

static ag_metric_id m_result[AG_AUTHN_RESULT_COUNT];
static ag_metric_id m_cache_hit = -1, m_cache_miss = -1, m_cache_negative = -1, m_cache_wait = -1;

static void register_metrics(void)
{
    static char labels[AG_AUTHN_RESULT_COUNT][48];
    static const char *help = "Authentication outcomes by result (ok or the check that failed).";
    for (int i = 0; i < AG_AUTHN_RESULT_COUNT; i++) {
        snprintf(labels[i], sizeof labels[i], "result=\"%s\"", ag_authn_result_name(i));
        m_result[i] = ag_metrics_counter("authgate_authn_total", labels[i], help);
    }
    static const char *h = "Token cache lookups by result.";
    m_cache_hit = ag_metrics_counter("authgate_token_cache_total", "result=\"hit\"", h);
    m_cache_miss = ag_metrics_counter("authgate_token_cache_total", "result=\"miss\"", h);
    m_cache_negative = ag_metrics_counter("authgate_token_cache_total", "result=\"negative\"", h);
    m_cache_wait = ag_metrics_counter("authgate_token_cache_total", "result=\"wait\"", h);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Transient failures are never cached: the keys may arrive any moment (#26), and a token
 * that is not valid yet may become valid within the negative TTL. */
static bool cacheable(ag_authn_result r)
{
    return r != AG_AUTHN_NO_KEYS && r != AG_AUTHN_UNKNOWN_KID && r != AG_AUTHN_INTERNAL &&
           r != AG_AUTHN_NOT_YET_VALID && r != AG_AUTHN_ISSUED_IN_FUTURE &&
           r != AG_AUTHN_LOOKUP_FAILED;
}

static ag_mailbox_t *worker_mailbox(ag_authenticator_t *a, uv_loop_t *loop, int worker)
{
    if (worker < 0 || worker >= AG_METRICS_SLOTS)
        return NULL;
    if (!a->mailboxes[worker] && ag_mailbox_create(loop, &a->mailboxes[worker]) != 0)
        return NULL; /* only this worker's thread ever touches its slot */
    return a->mailboxes[worker];
}

/* ---- finishing -------------------------------------------------------------------------- */

static bool cancelled(const job_t *j)
{
    return j->g && ag_gate_cancelled(j->g);
}

/* Gives up everything a cancelled job holds; the gate still gets its ag_gate_done. */
static void drop(job_t *j)
{
    if (j->owner)
        ag_tokencache_abandon(j->a->cache, &j->key);
    j->owner = false;
    j->done = true;
    if (j->g) {
        j->g->identity = NULL;
        ag_gate_done(j->g, AG_GATE_DENY);
    }
}

static void gate_finish(job_t *j, ag_authn_result r, int status)
{
    ag_gate_t *g = j->g;
    ag_gate_result gr;
    if (r == AG_AUTHN_OK) {
        g->identity = &j->id;
        gr = AG_GATE_ALLOW;
    } else {
        g->identity = NULL; /* the groups step's failure: no identity goes on */
        g->status = status;
        g->message = status == 401   ? AG_STR("Unauthorized")
                     : status == 403 ? AG_STR("forbidden: too many groups")
                     : r == AG_AUTHN_LOOKUP_FAILED
                         ? AG_STR("token review is unavailable, retry later")
                         : AG_STR("group resolution is unavailable, retry later");
        gr = AG_GATE_DENY;
    }
    if (!j->parked)
        j->sync_result = gr;
    else
        ag_gate_done(g, gr); /* the pipeline goes on with its next step */
}

/* A per-request line about <j>'s request: its client and audit ID (TokenReview webhooks
 * have no gate: neither). */
#define job_log(lvl, j, ...)                                                                       \
    ag_log_req(lvl, (j)->g ? (j)->g->client_ip.p : NULL, (j)->g ? ag_gate_audit_id((j)->g) : NULL, \
               __VA_ARGS__)

/* "a", "b" (at most 8, each cut at 100 bytes) into <b>; "none" for an empty list. */
static void quote_list(ag_buf_t *b, const ag_str_t *v, int n)
{
    if (n == 0)
        ag_buf_append_cstr(b, "none");
    for (int i = 0; i < n && i < 8; i++)
        ag_buf_printf(b, "%s\"%.*s\"", i ? ", " : "", (int)(v[i].n < 100 ? v[i].n : 100), v[i].p);
    if (n > 8)
        ag_buf_printf(b, ", ... (%d in all)", n);
}

/* A wrong audience names what the token carried and what was wanted (the issuer's
 * audiences, or a TokenReview's), the usual misconfiguration being a client that asks
 * its IdP for another audience than the one configured. */
static void log_wrong_audience(job_t *j)
{
    ag_buf_t b = AG_BUF_INIT(1024);
    const ag_issuer_t *is = j->info.issuer;
    ag_buf_append_cstr(&b, "token aud: ");
    quote_list(&b, j->info.token_aud, j->info.ntoken_aud);
    ag_buf_append_cstr(&b, j->naud ? "; the review asks for " : "; the issuer accepts ");
    if (j->naud)
        quote_list(&b, j->auds, j->naud);
    else
        quote_list(&b, is ? is->audiences : NULL, is ? is->naudiences : 0);
    job_log(AG_LOG_INFO, j,
            "authentication failed: wrong_audience (iss=%.*s kid=%.*s sub=%.*s "
            "%s)",
            AG_STR_FMT(j->info.iss), AG_STR_FMT(j->info.kid), AG_STR_FMT(j->info.sub),
            b.p ? b.p : "");
    ag_buf_dispose(&b);
}

static void finish(job_t *j, ag_authn_result r, int status)
{
    j->done = true;
    /* on the gate's path an overage identity is counted once, by the groups step */
    if (!(r == AG_AUTHN_OK && j->g && !j->resolving && (j->id.flags & AG_ID_GROUP_OVERAGE)))
        ag_metrics_inc(m_result[r >= 0 && r < AG_AUTHN_RESULT_COUNT ? r : AG_AUTHN_INTERNAL]);
    if (r == AG_AUTHN_WRONG_AUDIENCE && j->info.iss.n) /* verified now, not a cached result */
        log_wrong_audience(j);
    else if (r != AG_AUTHN_OK && j->resolving) /* the groups step: no token at hand */
        job_log(AG_LOG_INFO, j, "authentication failed: %s (user=%.*s oid=%.*s)",
                ag_authn_result_name(r), AG_STR_FMT(j->id.username), AG_STR_FMT(j->id.oid));
    else if (r != AG_AUTHN_OK && r != AG_AUTHN_NO_CREDENTIALS)
        job_log(AG_LOG_INFO, j, "authentication failed: %s (iss=%.*s kid=%.*s sub=%.*s)",
                ag_authn_result_name(r), AG_STR_FMT(j->info.iss), AG_STR_FMT(j->info.kid),
                AG_STR_FMT(j->info.sub));
    if (j->g)
        gate_finish(j, r, status);
    else
        j->review(j->review_arg, r, r == AG_AUTHN_OK ? &j->id : NULL, j->info.audiences,
                  r == AG_AUTHN_OK ? j->info.naudiences : 0, status);
}

/* ---- steps -------------------------------------------------------------------------------- */

static void step_lookup(job_t *j);
static void step_verify(job_t *j);
static void identified(job_t *j);

/* The API server's answer about a service-account token that verified offline. */
static void on_confirm(void *arg, ag_sa_lookup_verdict v, const char *reason)
{
    job_t *j = arg;
    long long t = now_ms();
    if (cancelled(j)) {
        drop(j);
        return;
    }
    if (v == AG_SA_LOOKUP_CONFIRMED) {
        /* cached no longer than lookup_ttl: a deleted pod's token dies within it */
        long long cap = t / 1000 + j->lookup_ttl_ms / 1000;
        long long exp = j->info.exp > 0 && j->info.exp < cap ? j->info.exp : cap;
        if (j->owner)
            ag_tokencache_complete(j->a->cache, &j->key, t, &j->id, exp, t / 1000);
        j->owner = false;
        identified(j);
        return;
    }
    ag_authn_result r = v == AG_SA_LOOKUP_REVOKED ? AG_AUTHN_REVOKED : AG_AUTHN_LOOKUP_FAILED;
    if (r == AG_AUTHN_LOOKUP_FAILED) /* fail closed, never a silent allow */
        job_log(AG_LOG_ERROR, j, "service-account token of %.*s refused: %s",
                AG_STR_FMT(j->id.username), reason);
    if (j->owner)
        ag_tokencache_fail(j->a->cache, &j->key, t, r, cacheable(r));
    j->owner = false;
    finish(j, r, r == AG_AUTHN_REVOKED ? 401 : 503);
}

/* Threat #39: offline verification cannot see a deleted pod or recreated service account;
 * the upstream API server can. Parks on one TokenReview, resumed by on_confirm. */
static void step_confirm(job_t *j)
{
    const ag_str_t *auds = j->info.audiences;
    int naud = j->info.naudiences;
    j->lookup_ttl_ms = j->info.issuer->lookup_ttl_ms;
    j->parked = true;
    if (j->a->lookup && j->mb &&
        ag_sa_lookup_check(j->a->lookup, j->token, auds, naud, j->id.username, j->arena, j->mb,
                           on_confirm, j) == 0)
        return;
    j->parked = false;
    on_confirm(j, AG_SA_LOOKUP_FAILED,
               j->a->lookup ? "cannot start the TokenReview" : "no upstream to ask");
}

static void on_graph(void *arg, const ag_graph_result_t *res)
{
    job_t *j = arg;
    if (cancelled(j)) {
        drop(j);
        return;
    }
    if (res->err) {
        job_log(AG_LOG_WARN, j, "group resolution for oid %.*s failed: %s", AG_STR_FMT(j->id.oid),
                res->reason);
        finish(j, res->err == AG_E_TOO_BIG ? AG_AUTHN_TOO_MANY_GROUPS : AG_AUTHN_INTERNAL,
               ag_graph_http_status(res->err));
        return;
    }
    if (ag_graph_apply(res, j->arena, &j->id) != 0) {
        finish(j, AG_AUTHN_INTERNAL, 503);
        return;
    }
    finish(j, AG_AUTHN_OK, 200);
}

/* Azure AD group overage: the groups come from Graph, never from the token's sources. */
static void step_groups(job_t *j)
{
    ag_graph_t *gr = j->a->graph;
    if (!(j->id.flags & AG_ID_GROUP_OVERAGE)) {
        finish(j, AG_AUTHN_OK, 200);
        return;
    }
    if (!gr) { /* groups unknown and no way to learn them: fail closed, not group-less */
        job_log(AG_LOG_WARN, j, "group overage for oid %.*s but no \"graph\" section: denied",
                AG_STR_FMT(j->id.oid));
        finish(j, AG_AUTHN_TOO_MANY_GROUPS, 403);
        return;
    }
    j->parked = true;
    if (ag_graph_resolve(gr, j->id.oid, j->mb, on_graph, j, NULL) != 0) {
        j->parked = false;
        finish(j, AG_AUTHN_INTERNAL, 503);
    }
}

/* The token's identity is known. The gate goes on with its own groups step (the next in
 * the pipeline); the TokenReview webhook resolves the groups here. */
static void identified(job_t *j)
{
    if (j->g)
        finish(j, AG_AUTHN_OK, 200);
    else
        step_groups(j);
}

static void on_keys(void *arg, ag_keys_outcome o)
{
    job_t *j = arg;
    if (cancelled(j)) {
        drop(j);
        return;
    }
    if (o == AG_KEYS_REFRESHED) {
        step_verify(j);
        return; /* once: j->refreshed stops a second round */
    }
    if (o == AG_KEYS_FAILED && ag_snap_generation(j->a->dom) != j->kid_gen) {
        j->refreshed = false; /* a reload replaced the manager asked: ask the new one */
        step_verify(j);
        return;
    }
    if (j->owner)
        ag_tokencache_fail(j->a->cache, &j->key, now_ms(),
                           j->info.kid.n ? AG_AUTHN_UNKNOWN_KID : AG_AUTHN_NO_KEYS, false);
    j->owner = false;
    finish(j, j->info.kid.n ? AG_AUTHN_UNKNOWN_KID : AG_AUTHN_NO_KEYS, 401);
}

/* The audiences a success satisfied may be the issuer's own, in the section: copied into
 * the request arena, as the review's answer may be written after a reload freed it. */
static ag_authn_result keep_audiences(job_t *j)
{
    int n = j->info.naudiences;
    ag_str_t *v = n ? ag_arena_alloc(j->arena, sizeof *v * (size_t)n) : NULL;
    if (n && !v)
        return AG_AUTHN_INTERNAL;
    for (int i = 0; i < n; i++)
        if (!(v[i] = ag_arena_strdup(j->arena, j->info.audiences[i])).p && j->info.audiences[i].n)
            return AG_AUTHN_INTERNAL;
    j->info.audiences = v;
    return AG_AUTHN_OK;
}

static void verify_in(job_t *j, const section_t *sec)
{
    ag_authenticator_t *a = j->a;
    ag_keys_borrow_t b = {sec->keys, NULL};
    long long t = now_ms();
    ag_authn_result r =
        ag_authn_verify_audiences(sec->conf->issuers, ag_keys_borrow_fn, &b, j->token, j->auds,
                                  j->naud, t / 1000, j->arena, &j->id, &j->info);
    ag_keys_borrow_release(&b);
    if (r == AG_AUTHN_OK)
        r = keep_audiences(j);
    if (r == AG_AUTHN_OK && j->info.issuer && j->info.issuer->lookup) {
        step_confirm(j);
        return;
    }
    if (r == AG_AUTHN_OK) {
        if (j->owner)
            ag_tokencache_complete(a->cache, &j->key, t, &j->id, j->info.exp, t / 1000);
        j->owner = false;
        identified(j);
        return;
    }
    if ((r == AG_AUTHN_UNKNOWN_KID || r == AG_AUTHN_NO_KEYS) && !j->refreshed && j->info.issuer &&
        ag_issuer_keys_remote(j->info.issuer)) {
        j->refreshed = true;
        j->parked = true;
        j->kid_gen = sec->snap.generation;
        if (ag_keys_refresh_for_kid(sec->keys, j->info.issuer, j->info.kid, j->mb, on_keys, j,
                                    &j->kw) == 0)
            return;
        j->parked = false;
    }
    if (j->owner)
        ag_tokencache_fail(a->cache, &j->key, t, r, cacheable(r));
    j->owner = false;
    finish(j, r, 401);
}

/* Verification runs inside the section in force (one snapshot for the whole call: issuers,
 * keys, and the key manager an unknown kid asks); nothing of it is used after leaving. */
static void step_verify(job_t *j)
{
    const section_t *sec = (const section_t *)ag_snap_enter(j->a->dom);
    ag_authenticator_t *a = j->a; /* <j> may be gone once verify_in finished it */
    verify_in(j, sec);
    ag_snap_leave(a->dom);
}

static void on_cache_wake(ag_tokencache_waiter_t *w)
{
    job_t *j = w->arg;
    if (cancelled(j)) {
        drop(j);
        return;
    }
    if (w->result != AG_TC_RETRY_RESULT) {
        finish(j, (ag_authn_result)w->result, w->result == AG_AUTHN_LOOKUP_FAILED ? 503 : 401);
        return; /* the owner's verdict */
    }
    step_lookup(j);
}

static void step_lookup(job_t *j)
{
    int res = 0;
    if (!j->use_cache) {
        step_verify(j);
        return;
    }
    j->tw = (ag_tokencache_waiter_t){.mailbox = j->mb, .fn = on_cache_wake, .arg = j};
    switch (ag_tokencache_lookup(j->a->cache, &j->key, now_ms(), j->arena, &j->id, &res,
                                 j->mb ? &j->tw : NULL)) {
    case AG_TC_HIT:
        ag_metrics_inc(m_cache_hit);
        identified(j);
        return;
    case AG_TC_NEGATIVE:
        ag_metrics_inc(m_cache_negative);
        finish(j, (ag_authn_result)res, 401);
        return;
    case AG_TC_WAIT:
        ag_metrics_inc(m_cache_wait);
        j->parked = true;
        return;
    case AG_TC_MISS:
        j->owner = true;
        /* fall through */
    case AG_TC_NOCACHE:
        ag_metrics_inc(m_cache_miss);
        step_verify(j);
        return;
    }
}

static job_t *job_new(ag_authenticator_t *a, ag_arena_t *arena, uv_loop_t *loop, int worker,
                      ag_str_t token, const ag_str_t *auds, int naud)
{
    job_t *j = ag_arena_calloc(arena, sizeof *j);
    if (!j)
        return NULL;
    j->a = a;
    j->arena = arena;
    j->mb = worker_mailbox(a, loop, worker);
    j->token = token;
    j->auds = auds;
    j->naud = naud;
    /* With explicit audiences the review needs the satisfied subset, which the cache
     * does not keep: those reviews verify every time (the API server caches them). */
    j->use_cache = a->cache && naud == 0 && token.n > 0;
    if (j->use_cache) /* keyed by the section's generation: a reload starts afresh */
        ag_tokencache_key(a->cache, ag_snap_generation(a->dom), token, NULL, 0, &j->key);
    return j;
}

/* ---- the gate -------------------------------------------------------------------------------- */

static ag_gate_result deny(ag_gate_t *g, ag_authn_result r)
{
    ag_metrics_inc(m_result[r]);
    g->status = 401;
    g->message = AG_STR("Unauthorized");
    return AG_GATE_DENY;
}

static ag_gate_result allow_fixed(ag_gate_t *g, ag_identity_t *id)
{
    ag_metrics_inc(m_result[AG_AUTHN_OK]);
    g->identity = id;
    return AG_GATE_ALLOW;
}

static bool anonymous(ag_authenticator_t *a)
{
    bool yes = ((const section_t *)ag_snap_enter(a->dom))->conf->anonymous;
    ag_snap_leave(a->dom);
    return yes;
}

/* Runs <j> from <first> for the gate: its synchronous result, or PENDING when it parked
 * (from then on its answer goes through ag_gate_done). */
static ag_gate_result run_gate_job(job_t *j, void (*first)(job_t *))
{
    first(j);
    if (j->done && !j->parked)
        return j->sync_result;
    j->parked = true;
    return AG_GATE_PENDING;
}

ag_gate_result ag_authenticator_gate(ag_gate_t *g, void *ud)
{
    ag_authenticator_t *a = ud;
    ag_str_t values[MAX_AUTH_HEADERS];
    int n = 0;

    if (g->peer && g->peer->verified && g->peer->cn[0]) { /* x509 first, as the API server */
        ag_str_t orgs[AG_TLS_MAX_ORGS];
        ag_identity_t *id = ag_arena_calloc(g->arena, sizeof *id);
        for (int i = 0; i < g->peer->norgs && i < AG_TLS_MAX_ORGS; i++)
            orgs[i] = ag_str_cstr(g->peer->orgs[i]);
        if (!id ||
            ag_authn_from_cert(ag_str_cstr(g->peer->cn), orgs, g->peer->norgs, g->arena, id) != 0)
            return deny(g, AG_AUTHN_BAD_CLAIM);
        return allow_fixed(g, id);
    }
    for (int i = 0; i < g->req->nheaders; i++)
        if (ag_str_ieq(g->req->headers[i].name, AG_STR("authorization")) && n++ < MAX_AUTH_HEADERS)
            values[n - 1] = g->req->headers[i].value;
    if (n == 0 && anonymous(a)) {
        ag_identity_t *id = ag_arena_calloc(g->arena, sizeof *id);
        if (!id)
            return deny(g, AG_AUTHN_INTERNAL);
        ag_authn_anonymous(id);
        return allow_fixed(g, id);
    }
    ag_str_t token;
    ag_authn_result r =
        ag_authn_bearer(values, n > MAX_AUTH_HEADERS ? MAX_AUTH_HEADERS : n, &token);
    if (r != AG_AUTHN_OK)
        return deny(g, r);
    job_t *j = job_new(a, g->arena, g->loop, g->worker, token, NULL, 0);
    if (!j)
        return deny(g, AG_AUTHN_INTERNAL);
    j->g = g;
    return run_gate_job(j, step_lookup);
}

ag_gate_result ag_authenticator_groups_gate(ag_gate_t *g, void *ud)
{
    ag_authenticator_t *a = ud;
    if (!g->identity || !(g->identity->flags & AG_ID_GROUP_OVERAGE))
        return AG_GATE_ALLOW;
    job_t *j = job_new(a, g->arena, g->loop, g->worker, AG_STR_NULL, NULL, 0);
    if (!j) {
        ag_metrics_inc(m_result[AG_AUTHN_INTERNAL]);
        g->identity = NULL;
        g->status = 503;
        g->message = AG_STR("group resolution is unavailable, retry later");
        return AG_GATE_DENY;
    }
    j->g = g;
    j->resolving = true;
    j->id = *g->identity; /* the groups are replaced in the job's copy */
    return run_gate_job(j, step_groups);
}

/* ---- TokenReview ------------------------------------------------------------------------------
 */

ag_err ag_authn_review(ag_authenticator_t *a, uv_loop_t *loop, int worker, ag_str_t token,
                       const ag_str_t *audiences, int naudiences, ag_arena_t *arena,
                       ag_review_cb done, void *arg)
{
    job_t *j = job_new(a, arena, loop, worker, token, audiences, naudiences);
    if (!j)
        return AG_E_NOMEM;
    j->review = done;
    j->review_arg = arg;
    step_lookup(j);
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------------
 */

static ag_keys_opts_t keys_opts(const ag_authn_config_t *conf)
{
    return (ag_keys_opts_t){.refresh_min_ms = conf->refresh_min_ms,
                            .refresh_max_ms = conf->refresh_max_ms,
                            .kid_interval_ms = conf->kid_interval_ms,
                            .kid_wait_ms = conf->kid_wait_ms,
                            .fetch_timeout_ms = conf->fetch_timeout_ms,
                            .max_bytes = (size_t)conf->max_bytes};
}

static void section_free(ag_snap_t *snap)
{
    section_t *sec = (section_t *)snap;
    ag_keys_destroy(sec->keys); /* control loop: its handles close, its waiters get FAILED */
    ag_config_destroy(sec->owned);
    free(sec);
}

/* A section with its own key manager (started), taking over the keys and schedules of
 * <prev>'s issuers that it keeps. <owned> (may be NULL) becomes the section's. */
static ag_err section_create(ag_authenticator_t *a, const ag_authn_config_t *conf,
                             ag_config_t *owned, const section_t *prev, section_t **out)
{
    section_t *sec = calloc(1, sizeof *sec);
    ag_keys_opts_t ko = keys_opts(conf);
    ag_err err = AG_E_NOMEM;
    if (!sec || (err = ag_keys_create(a->loop, a->fetch, conf->issuers, &ko, &sec->keys)) != 0) {
        free(sec);
        return err;
    }
    sec->snap.free = section_free;
    sec->conf = conf;
    sec->owned = owned;
    ag_keys_adopt(sec->keys, prev ? prev->keys : NULL);
    ag_keys_start(sec->keys);
    *out = sec;
    return 0;
}

ag_err ag_authenticator_create(uv_loop_t *control, const ag_authn_config_t *conf,
                               ag_authenticator_t **out, ag_buf_t *errmsg)
{
    ag_authenticator_t *a = calloc(1, sizeof *a);
    section_t *sec = NULL;
    ag_err err = AG_E_NOMEM;
    if (!a)
        goto fail;
    a->loop = control;
    register_metrics();
    ag_fetch_opts_t fo = {.ca_file = conf->ca_file,
                          .timeout_ms = conf->fetch_timeout_ms,
                          .max_bytes = (size_t)conf->max_bytes};
    ag_tokencache_opts_t co = {.max_entries = conf->cache_entries,
                               .ttl_ms = conf->cache_ttl_ms,
                               .max_negative = conf->cache_negative_entries,
                               .negative_ttl_ms = conf->cache_negative_ttl_ms,
                               .shards = conf->cache_shards};
    if ((err = ag_snap_domain_create("authentication", &a->dom)) != 0 ||
        (err = ag_fetch_create(control, &fo, &a->fetch)) != 0 ||
        (err = ag_tokencache_create(&co, &a->cache)) != 0 ||
        (err = section_create(a, conf, NULL, NULL, &sec)) != 0)
        goto fail;
    ag_snap_publish(a->dom, &sec->snap);
    *out = a;
    return 0;
fail:
    if (errmsg)
        ag_buf_printf(errmsg, "authentication: cannot start: %s", ag_err_str(err));
    ag_authenticator_destroy(a);
    return err;
}

void ag_authenticator_destroy(ag_authenticator_t *a)
{
    if (!a)
        return;
    ag_snap_domain_destroy(a->dom); /* the sections and their key managers */
    ag_sa_lookup_destroy(a->lookup);
    ag_fetch_destroy(a->fetch);
    ag_tokencache_destroy(a->cache);
    free(a);
}

void ag_authenticator_release_worker(ag_authenticator_t *a, int worker)
{
    if (a && worker >= 0 && worker < AG_METRICS_SLOTS) {
        ag_mailbox_destroy(a->mailboxes[worker]);
        a->mailboxes[worker] = NULL;
    }
}

/* Control thread (the writer): the section in force. */
static const section_t *current(ag_authenticator_t *a)
{
    return (const section_t *)ag_snap_current(a->dom);
}

ag_keys_t *ag_authenticator_keys(ag_authenticator_t *a)
{
    return current(a)->keys;
}

ag_tokencache_t *ag_authenticator_cache(ag_authenticator_t *a)
{
    return a->cache;
}

ag_fetch_t *ag_authenticator_fetch(ag_authenticator_t *a)
{
    return a->fetch;
}

void ag_authenticator_attach(ag_authenticator_t *a, ag_graph_t *graph, ag_sa_lookup_t *lookup)
{
    a->graph = graph;
    ag_sa_lookup_destroy(a->lookup);
    a->lookup = lookup;
}

/* ---- reload (issue 16) -------------------------------------------------------------------- */

static ag_metric_id m_reload_ok = -1, m_reload_error = -1, m_generation = -1;

ag_err ag_authenticator_reload(ag_authenticator_t *a, ag_buf_t *why)
{
    ag_config_t *conf = NULL;
    section_t *sec = NULL;
    ag_err err = a->file ? ag_config_load(a->file, &conf, why) : AG_E_INVAL;
    if (!err && !conf->authn_enabled) {
        ag_buf_printf(why,
                      "%s: no \"authentication\" section; turning authentication off "
                      "takes a restart",
                      a->file);
        err = AG_E_CONFIG;
    }
    if (!err && (err = section_create(a, &conf->authn, conf, current(a), &sec)) != 0)
        ag_buf_printf(why, "authentication: %s", ag_err_str(err));
    if (err) {
        ag_config_destroy(conf);
        return err;
    }
    ag_snap_publish(a->dom, &sec->snap); /* the old section goes once no worker is in it */
    return 0;
}

static void on_sighup(void *ud)
{
    ag_authenticator_t *a = ud;
    ag_buf_t why = AG_BUF_INIT(8192);
    unsigned long long was = ag_snap_generation(a->dom);
    /* logged, then counted: whoever waits for the count finds the line written */
    if (ag_authenticator_reload(a, &why) == 0) {
        ag_info("authentication reloaded from %s (generation %llu): %d issuer(s); verdicts "
                "cached before are not used again",
                a->file, was + 1, ag_issuer_count(current(a)->conf->issuers));
        ag_metrics_add(m_generation, 1);
        ag_metrics_inc(m_reload_ok);
    } else {
        ag_warn("authentication reload failed, keeping generation %llu: %s", was,
                why.p ? why.p : "error");
        ag_metrics_inc(m_reload_error);
    }
    ag_buf_dispose(&why);
}

/* Stop hook: every worker has left its loop and the control loop posts no more, so the
 * workers' reply mailboxes close now (replies still queued run first: their requests are
 * cancelled and give their connections back); server.c's teardown runs each worker loop
 * once more, which frees them. */
static void on_stop(void *ud)
{
    ag_authenticator_t *a = ud;
    for (int i = 0; i < AG_METRICS_SLOTS; i++)
        ag_authenticator_release_worker(a, i);
}

ag_err ag_authenticator_follow(ag_authenticator_t *a, const char *file)
{
    static const char *h = "Reloads of the authentication section by result (an error keeps "
                           "the section in force).";
    a->file = file;
    m_reload_ok = ag_metrics_counter("authgate_authn_reloads_total", "result=\"ok\"", h);
    m_reload_error = ag_metrics_counter("authgate_authn_reloads_total", "result=\"error\"", h);
    m_generation = ag_metrics_gauge("authgate_authn_generation", NULL,
                                    "Generation of the authentication section in force (1 = as "
                                    "started).");
    ag_metrics_add(m_generation, 1);
    ag_err err = ag_reload_register(on_sighup, a);
    return err ? err : ag_stop_register(on_stop, a);
}

/* One readiness check per issuer, named "issuer <URL>". */
void ag_authenticator_report(void *ud, ag_ready_report_t *r)
{
    ag_authenticator_t *a = ud;
    const section_t *sec = current(a); /* readiness is asked on the control thread */
    const ag_issuer_set_t *set = sec->conf->issuers;
    for (int i = 0; i < ag_issuer_count(set); i++) {
        const ag_issuer_t *iss = ag_issuer_at(set, i);
        char name[300], why[256];
        snprintf(name, sizeof name, "issuer %.*s", AG_STR_FMT(ag_issuer_url(iss)));
        bool ok = ag_keys_issuer_ready(sec->keys, i, why, sizeof why);
        ag_ready_item(r, name, ok, iss->optional, why);
    }
}
