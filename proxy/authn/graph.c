/* The Graph group resolver on the control loop (graph.h). A request for an oid arrives
 * through the inbox mailbox; it is answered from the cache, joins the lookup already in
 * flight for that oid, or starts one: app token (shared, refreshed before expiry) ->
 * POST {base}/v1.0/users/{oid}/{method} -> GET each @odata.nextLink -> one immutable,
 * refcounted group list that the cache and every waiter share. Answers travel back on the
 * waiter's own mailbox. Everything here except ag_graph_resolve, ag_graph_cancel and
 * on_reply runs on the control thread, so the cache and flights need no lock. */
#include "authn/graph.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "authn/apptoken.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define OID_SIZE (AG_GRAPH_GUID_LEN + 1)
#define NBUCKETS 4096 /* power of two */

/* An immutable group list shared by the cache and the waiters it was handed to. */
typedef struct {
    atomic_int refs;
    int n;
    ag_str_t ids[]; /* followed by the id bytes */
} groups_t;

typedef struct flight flight_t;

typedef struct entry {
    struct entry *next; /* bucket chain */
    char oid[OID_SIZE];
    groups_t *groups;    /* ref; NULL until a lookup succeeded */
    uint64_t fetched_ms; /* when <groups> arrived */
    uint64_t failed_ms;  /* last failed lookup, 0 after a success */
    ag_err fail_err;
    const char *fail_reason;
    flight_t *flight; /* the lookup in progress, or NULL */
} entry_t;

struct ag_graph_wait {
    ag_mailbox_msg_t msg; /* first: the mailbox hands this back */
    ag_graph_t *g;
    ag_mailbox_t *reply;
    ag_graph_cb cb;
    void *arg;
    char oid[OID_SIZE];
    bool cancelled;             /* touched only on the reply loop's thread */
    struct ag_graph_wait *next; /* a flight's waiter list (control thread) */
    /* the answer, filled on the control thread before the post back */
    ag_err err;
    const char *reason;
    groups_t *groups; /* ref */
    bool cached, stale;
};

struct flight {
    ag_graph_t *g;
    entry_t *entry; /* NULL once the resolver stopped */
    ag_graph_wait_t *waiters;
    ag_apptoken_wait_t tw; /* waiting for the app token */
    ag_arena_t arena;      /* page documents and ids */
    ag_str_t *ids;         /* malloc'ed, slices into <arena> */
    int n, cap;
    ag_buf_t url;      /* the next URL to ask */
    bool first;        /* the next request is the POST (else GET a nextLink) */
    bool busy;         /* a page fetch is running */
    bool auth_retried; /* one retry with a fresh app token after a 401 */
    int pages;
    unsigned token_gen; /* app token generation the running request used */
    uint64_t deadline_ms;
};

struct ag_graph {
    uv_loop_t *loop;
    ag_fetch_t *fetch;
    ag_mailbox_t *inbox;
    ag_graph_cfg_t cfg; /* strings in cfg_arena */
    ag_arena_t cfg_arena;
    ag_apptoken_t *tok; /* the app token (shared code with the ARM poller) */
    entry_t *buckets[NBUCKETS];
    size_t nentries, sweep_at;
    int pending; /* fetches running with this resolver as their owner */
    bool stopping;
    uint64_t last_log_ms;
    unsigned suppressed;
    struct {
        ag_metric_id hits, coalesced, lookups, fail_timeout, fail_error, fail_too_many,
            fail_not_found, stale_served, graph_calls, token_fetches, entries;
    } m;
    struct {
        atomic_ullong requests, hits, coalesced, lookups, graph_calls, failures, stale_served,
            too_many_groups, timeouts, entries;
    } st;
};

#define COUNT(g, field) atomic_fetch_add_explicit(&(g)->st.field, 1, memory_order_relaxed)
/* A counter and its metric (control thread: metrics slot 0). */
#define BUMP(g, field)                                                                             \
    do {                                                                                           \
        COUNT(g, field);                                                                           \
        ag_metrics_inc((g)->m.field);                                                              \
    } while (0)

/* ---- group lists ------------------------------------------------------------------ */

static groups_t *groups_create(const ag_str_t *ids, int n)
{
    size_t bytes = sizeof(groups_t) + sizeof(ag_str_t) * (size_t)n;
    for (int i = 0; i < n; i++)
        bytes += ids[i].n;
    groups_t *gr = malloc(bytes);
    if (!gr)
        return NULL;
    atomic_init(&gr->refs, 1);
    gr->n = n;
    char *w = (char *)&gr->ids[n];
    for (int i = 0; i < n; i++) {
        memcpy(w, ids[i].p, ids[i].n);
        gr->ids[i] = ag_str_make(w, ids[i].n);
        w += ids[i].n;
    }
    return gr;
}

static groups_t *groups_ref(groups_t *gr)
{
    if (gr)
        atomic_fetch_add_explicit(&gr->refs, 1, memory_order_relaxed);
    return gr;
}

static void groups_unref(groups_t *gr)
{
    if (gr && atomic_fetch_sub_explicit(&gr->refs, 1, memory_order_acq_rel) == 1)
        free(gr);
}

/* ---- answers ---------------------------------------------------------------------- */

/* Reply loop: the only place a waiter's callback runs. */
static void on_reply(ag_mailbox_msg_t *msg)
{
    ag_graph_wait_t *w = (ag_graph_wait_t *)msg;
    if (!w->cancelled) {
        ag_graph_result_t res = {
            .err = w->err,
            .reason = w->reason ? w->reason : "",
            .groups = w->groups ? w->groups->ids : NULL,
            .ngroups = w->groups ? w->groups->n : 0,
            .cached = w->cached,
            .stale = w->stale,
        };
        w->cb(w->arg, &res);
    }
    groups_unref(w->groups);
    free(w);
}

static void answer(ag_graph_wait_t *w, ag_err err, const char *reason, groups_t *gr, bool cached,
                   bool stale)
{
    w->err = err;
    w->reason = reason;
    w->groups = groups_ref(gr);
    w->cached = cached;
    w->stale = stale;
    w->msg.fn = on_reply;
    ag_mailbox_post(w->reply, &w->msg);
}

/* Transient trouble may be bridged with stale groups; a verdict from Graph (no such user,
 * too many groups) may not. */
static bool stale_allowed(ag_err err)
{
    return err == AG_E_TIMEOUT || err == AG_E_UPSTREAM || err == AG_E_NOMEM;
}

static void answer_failure(ag_graph_t *g, entry_t *e, ag_graph_wait_t *w)
{
    uint64_t now = uv_now(g->loop);
    if (stale_allowed(e->fail_err) && e->groups &&
        now - e->fetched_ms < (uint64_t)(g->cfg.cache_ttl_ms + g->cfg.stale_ttl_ms)) {
        BUMP(g, stale_served);
        answer(w, 0, e->fail_reason, e->groups, true, true);
        return;
    }
    answer(w, e->fail_err, e->fail_reason, NULL, false, false);
}

/* Repeated Graph failures are logged at most once a second (STYLE: logs). */
static void log_failure(ag_graph_t *g, const char *oid, const char *reason, const char *detail)
{
    uint64_t now = uv_now(g->loop);
    if (g->last_log_ms && now - g->last_log_ms < 1000) {
        g->suppressed++;
        return;
    }
    if (g->suppressed)
        ag_warn("graph: %u more group lookups failed in the last second", g->suppressed);
    ag_warn("graph: group lookup for oid %s failed: %s%s%s", oid, reason,
            detail && *detail ? ": " : "", detail ? detail : "");
    g->last_log_ms = now;
    g->suppressed = 0;
}

/* ---- cache ------------------------------------------------------------------------ */

static entry_t **bucket(ag_graph_t *g, const char *oid)
{
    return &g->buckets[ag_str_hash(ag_str_make(oid, AG_GRAPH_GUID_LEN)) & (NBUCKETS - 1)];
}

static bool entry_expired(ag_graph_t *g, const entry_t *e, uint64_t now)
{
    if (e->flight)
        return false;
    if (e->failed_ms && now - e->failed_ms < AG_GRAPH_FAIL_HOLD_MS)
        return false;
    return !e->groups ||
           now - e->fetched_ms >= (uint64_t)(g->cfg.cache_ttl_ms + g->cfg.stale_ttl_ms);
}

static void entry_free(ag_graph_t *g, entry_t *e)
{
    groups_unref(e->groups);
    free(e);
    g->nentries--;
    ag_metrics_add(g->m.entries, -1);
    atomic_store_explicit(&g->st.entries, g->nentries, memory_order_relaxed);
}

/* Drops expired entries; when <force>, also live ones without a lookup in flight,
 * walking from a rotating bucket, until the table is below its cap. */
static void sweep(ag_graph_t *g, bool force)
{
    uint64_t now = uv_now(g->loop);
    for (size_t k = 0; k < NBUCKETS && g->nentries >= AG_GRAPH_CACHE_MAX; k++) {
        size_t b = (g->sweep_at + k) & (NBUCKETS - 1);
        for (entry_t **pp = &g->buckets[b]; *pp;) {
            entry_t *e = *pp;
            if (entry_expired(g, e, now) || (force && !e->flight)) {
                *pp = e->next;
                entry_free(g, e);
            } else {
                pp = &e->next;
            }
        }
    }
    g->sweep_at = (g->sweep_at + 1) & (NBUCKETS - 1);
}

static entry_t *entry_get(ag_graph_t *g, const char *oid)
{
    entry_t **head = bucket(g, oid);
    for (entry_t *e = *head; e; e = e->next)
        if (memcmp(e->oid, oid, AG_GRAPH_GUID_LEN) == 0)
            return e;
    if (g->nentries >= AG_GRAPH_CACHE_MAX)
        sweep(g, false);
    if (g->nentries >= AG_GRAPH_CACHE_MAX)
        sweep(g, true);
    entry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    memcpy(e->oid, oid, OID_SIZE);
    e->next = *head;
    *head = e;
    g->nentries++;
    ag_metrics_add(g->m.entries, 1);
    atomic_store_explicit(&g->st.entries, g->nentries, memory_order_relaxed);
    return e;
}

/* ---- lookups ---------------------------------------------------------------------- */

static void flight_next(flight_t *f);

static void flight_free(flight_t *f)
{
    ag_arena_dispose(&f->arena);
    ag_buf_dispose(&f->url);
    free(f->ids);
    free(f);
}

static void maybe_release(ag_graph_t *g)
{
    if (!g->stopping || g->pending > 0)
        return;
    ag_apptoken_destroy(g->tok);
    ag_arena_dispose(&g->cfg_arena);
    free(g);
}

/* Ends a lookup: caches and hands out the groups, or answers every waiter with the
 * failure (or stale groups where allowed). Frees <f>. */
static void flight_finish(flight_t *f, ag_err err, const char *reason, const char *detail)
{
    ag_graph_t *g = f->g;
    entry_t *e = f->entry;
    groups_t *gr = NULL;
    if (!err && !(gr = groups_create(f->ids, f->n)))
        err = AG_E_NOMEM, reason = "out of memory";
    if (!err) {
        groups_unref(e->groups);
        e->groups = gr;
        e->fetched_ms = uv_now(g->loop);
        e->failed_ms = 0;
    } else {
        COUNT(g, failures);
        if (err == AG_E_TIMEOUT)
            COUNT(g, timeouts);
        if (err == AG_E_TOO_BIG)
            COUNT(g, too_many_groups);
        ag_metrics_inc(err == AG_E_TIMEOUT     ? g->m.fail_timeout
                       : err == AG_E_TOO_BIG   ? g->m.fail_too_many
                       : err == AG_E_NOT_FOUND ? g->m.fail_not_found
                                               : g->m.fail_error);
        e->failed_ms = uv_now(g->loop);
        e->fail_err = err;
        e->fail_reason = reason;
        log_failure(g, e->oid, reason, detail);
    }
    for (ag_graph_wait_t *w = f->waiters, *next; w; w = next) {
        next = w->next;
        if (err)
            answer_failure(g, e, w);
        else
            answer(w, 0, "", gr, false, false);
    }
    e->flight = NULL;
    flight_free(f);
}

static ag_err flight_append(flight_t *f, const ag_graph_page_t *page)
{
    if (f->n + page->nids > f->cap) {
        int cap = f->cap ? f->cap : 64;
        while (cap < f->n + page->nids)
            cap *= 2;
        ag_str_t *ids = realloc(f->ids, sizeof(ag_str_t) * (size_t)cap);
        if (!ids)
            return AG_E_NOMEM;
        f->ids = ids;
        f->cap = cap;
    }
    memcpy(f->ids + f->n, page->ids, sizeof(ag_str_t) * (size_t)page->nids);
    f->n += page->nids;
    return 0;
}

/* A 200 page: collect its ids and follow its nextLink, or finish. */
static void flight_page(flight_t *f, ag_str_t body)
{
    ag_graph_t *g = f->g;
    ag_graph_page_t page;
    ag_err err =
        ag_graph_page_parse(body, g->cfg.base_url, g->cfg.max_groups - f->n, &f->arena, &page);
    if (err == AG_E_TOO_BIG) {
        flight_finish(f, err, "more groups than graph.max_groups allows", NULL);
        return;
    }
    if (err) {
        flight_finish(f, AG_E_UPSTREAM, "malformed Graph answer", ag_err_str(err));
        return;
    }
    if ((err = flight_append(f, &page)) != 0) {
        flight_finish(f, err, "out of memory", NULL);
        return;
    }
    if (!page.next.p) {
        flight_finish(f, 0, "", NULL);
        return;
    }
    if (++f->pages >= AG_GRAPH_MAX_PAGES) {
        flight_finish(f, AG_E_UPSTREAM, "too many Graph pages", NULL);
        return;
    }
    ag_buf_clear(&f->url);
    if (ag_buf_append_str(&f->url, page.next) != 0) { /* over the URL buffer's cap */
        flight_finish(f, AG_E_UPSTREAM, "Graph nextLink too long", NULL);
        return;
    }
    f->first = false;
    flight_next(f);
}

/* "HTTP 403 Authorization_RequestDenied": the status and Graph's error code, for the log
 * line that tells an operator what to fix; *size_limit when Graph refused the size. */
static void graph_error_detail(const ag_fetch_res_t *res, char *out, size_t n, bool *size_limit)
{
    ag_arena_t arena;
    ag_str_t code = AG_STR_NULL;
    ag_arena_init(&arena, 0, 1 << 20);
    if (res->status != 200 && ag_graph_error_code(res->body, &arena, &code) == 0)
        *size_limit = ag_graph_error_is_size_limit(code);
    snprintf(out, n, "HTTP %ld%s%.*s", res->status, code.n ? " " : "", AG_STR_FMT(code));
    ag_arena_dispose(&arena);
}

static void on_page(void *arg, const ag_fetch_res_t *res)
{
    flight_t *f = arg;
    ag_graph_t *g = f->g;
    char detail[192];
    bool size_limit = false;
    g->pending--;
    f->busy = false;
    if (g->stopping) { /* waiters were answered by ag_graph_destroy */
        flight_free(f);
        maybe_release(g);
        return;
    }
    if (res->err == AG_E_TIMEOUT) {
        flight_finish(f, AG_E_TIMEOUT, "Graph did not answer in time", res->detail);
        return;
    }
    if (res->err) {
        flight_finish(f, AG_E_UPSTREAM, "Graph request failed", res->detail);
        return;
    }
    if (res->status == 401 && !f->auth_retried) {
        /* The app token was refused (revoked, clock skew): get a new one, once. */
        f->auth_retried = true;
        ag_apptoken_invalidate(g->tok, f->token_gen);
        flight_next(f);
        return;
    }
    graph_error_detail(res, detail, sizeof(detail), &size_limit);
    if (size_limit) { /* a verdict, not an outage: fail closed like the cap */
        flight_finish(f, AG_E_TOO_BIG, "more groups than Graph returns", detail);
        return;
    }
    if (res->status == 404) {
        flight_finish(f, AG_E_NOT_FOUND, "Graph has no such user", detail);
        return;
    }
    if (res->status != 200) {
        flight_finish(f, AG_E_UPSTREAM, "Graph answered an error status", detail);
        return;
    }
    flight_page(f, res->body);
}

static void page_start(flight_t *f, const char *auth)
{
    ag_graph_t *g = f->g;
    ag_buf_t body = AG_BUF_INIT(64);
    uint64_t now = uv_now(g->loop);
    if (now >= f->deadline_ms) {
        ag_buf_dispose(&body);
        flight_finish(f, AG_E_TIMEOUT, "Graph did not answer in time", "deadline");
        return;
    }
    const char *post_headers[] = {auth, "Content-Type: application/json",
                                  "Accept: application/json", NULL};
    const char *get_headers[] = {auth, "Accept: application/json", NULL};
    ag_fetch_req_t req = {
        .url = f->url.p,
        .method = f->first ? "POST" : "GET", /* nextLinks are OData GETs */
        .headers = f->first ? post_headers : get_headers,
        .timeout_ms = (long)(f->deadline_ms - now),
        .max_bytes = AG_GRAPH_MAX_RESPONSE_BYTES,
    };
    ag_err err = f->first ? ag_graph_member_body(&body, g->cfg.security_enabled_only) : 0;
    req.body = ag_buf_str(&body);
    if (!err)
        err = ag_fetch_start(g->fetch, &req, on_page, f);
    ag_buf_dispose(&body);
    if (err) {
        flight_finish(f, AG_E_UPSTREAM, "could not start the Graph request", ag_err_str(err));
        return;
    }
    f->busy = true;
    g->pending++;
    BUMP(g, graph_calls);
}

/* The app token arrived (or could not be had): go on with the page request. */
static void on_app_token(ag_apptoken_wait_t *w, ag_err err, const char *reason, const char *detail)
{
    flight_t *f = (flight_t *)((char *)w - offsetof(flight_t, tw));
    if (err) {
        flight_finish(f, err, reason, detail);
        return;
    }
    flight_next(f);
}

/* Next step of a lookup: its page request, after an app token if none is usable. */
static void flight_next(flight_t *f)
{
    ag_graph_t *g = f->g;
    const char *auth = ag_apptoken_header(g->tok, &f->token_gen);
    if (auth) {
        page_start(f, auth);
        return;
    }
    f->tw.cb = on_app_token;
    ag_apptoken_wait(g->tok, &f->tw);
}

static void flight_start(ag_graph_t *g, entry_t *e, ag_graph_wait_t *w)
{
    flight_t *f = calloc(1, sizeof(*f));
    if (!f) {
        answer(w, AG_E_NOMEM, "out of memory", NULL, false, false);
        return;
    }
    f->g = g;
    f->entry = e;
    f->waiters = w;
    f->first = true;
    f->url = AG_BUF_INIT(8192);
    ag_arena_init(&f->arena, 0, 4 * AG_GRAPH_MAX_RESPONSE_BYTES);
    f->deadline_ms = uv_now(g->loop) + (uint64_t)g->cfg.timeout_ms;
    e->flight = f;
    BUMP(g, lookups);
    if (ag_graph_member_url(&f->url, &g->cfg, ag_str_make(e->oid, AG_GRAPH_GUID_LEN)) != 0) {
        flight_finish(f, AG_E_NOMEM, "out of memory", NULL);
        return;
    }
    flight_next(f);
}

/* ---- intake ----------------------------------------------------------------------- */

static void on_inbox(ag_mailbox_msg_t *msg)
{
    ag_graph_wait_t *w = (ag_graph_wait_t *)msg;
    ag_graph_t *g = w->g;
    COUNT(g, requests);
    if (g->stopping) {
        answer(w, AG_E_CANCELED, "group resolver stopping", NULL, false, false);
        return;
    }
    entry_t *e = entry_get(g, w->oid);
    if (!e) {
        answer(w, AG_E_NOMEM, "out of memory", NULL, false, false);
        return;
    }
    uint64_t now = uv_now(g->loop);
    if (e->groups && now - e->fetched_ms < (uint64_t)g->cfg.cache_ttl_ms) {
        BUMP(g, hits);
        answer(w, 0, "", e->groups, true, false);
        return;
    }
    if (e->flight) { /* single flight: join the lookup already running */
        BUMP(g, coalesced);
        w->next = e->flight->waiters;
        e->flight->waiters = w;
        return;
    }
    if (e->failed_ms && now - e->failed_ms < AG_GRAPH_FAIL_HOLD_MS) {
        answer_failure(g, e, w);
        return;
    }
    flight_start(g, e, w);
}

ag_err ag_graph_resolve(ag_graph_t *g, ag_str_t oid, ag_mailbox_t *reply, ag_graph_cb cb, void *arg,
                        ag_graph_wait_t **wait)
{
    if (!g || !reply || !cb || !ag_graph_guid_valid(oid))
        return AG_E_INVAL;
    ag_graph_wait_t *w = calloc(1, sizeof(*w));
    if (!w)
        return AG_E_NOMEM;
    w->g = g;
    w->reply = reply;
    w->cb = cb;
    w->arg = arg;
    for (size_t i = 0; i < oid.n; i++)
        w->oid[i] = ag_ascii_lower(oid.p[i]); /* one cache key per principal */
    w->msg.fn = on_inbox;
    if (wait)
        *wait = w;
    ag_mailbox_post(g->inbox, &w->msg);
    return 0;
}

void ag_graph_cancel(ag_graph_wait_t *wait)
{
    if (wait)
        wait->cancelled = true;
}

/* ---- life cycle ------------------------------------------------------------------- */

static ag_err copy_cfg(ag_graph_t *g, const ag_graph_cfg_t *cfg)
{
    g->cfg = *cfg;
    g->cfg.base_url = ag_arena_strdup(&g->cfg_arena, cfg->base_url);
    g->cfg.token_url = ag_arena_strdup(&g->cfg_arena, cfg->token_url);
    g->cfg.scope = ag_arena_strdup(&g->cfg_arena, cfg->scope);
    g->cfg.client_id = ag_arena_strdup(&g->cfg_arena, cfg->client_id);
    /* The credentials (and their files) belong to the app token (apptoken.c). */
    g->cfg.client_secret_file = g->cfg.client_certificate_file = NULL;
    g->cfg.client_key_file = g->cfg.federated_token_file = NULL;
    if (!g->cfg.base_url.p || !g->cfg.token_url.p || !g->cfg.scope.p || !g->cfg.client_id.p)
        return AG_E_NOMEM;
    return 0;
}

static void register_metrics(ag_graph_t *g)
{
    static const char req[] = "authgate_graph_requests_total";
    static const char req_help[] = "Group resolutions asked for, by how they were answered.";
    static const char fail[] = "authgate_graph_lookup_failures_total";
    static const char fail_help[] = "Graph group lookups that failed, by reason.";
    g->m.hits = ag_metrics_counter(req, "result=\"cache_hit\"", req_help);
    g->m.coalesced = ag_metrics_counter(req, "result=\"coalesced\"", req_help);
    g->m.lookups = ag_metrics_counter(req, "result=\"lookup\"", req_help);
    g->m.fail_timeout = ag_metrics_counter(fail, "reason=\"timeout\"", fail_help);
    g->m.fail_error = ag_metrics_counter(fail, "reason=\"error\"", fail_help);
    g->m.fail_too_many = ag_metrics_counter(fail, "reason=\"too_many_groups\"", fail_help);
    g->m.fail_not_found = ag_metrics_counter(fail, "reason=\"not_found\"", fail_help);
    g->m.stale_served = ag_metrics_counter(
        "authgate_graph_stale_served_total", NULL,
        "Requests answered with cached groups past their TTL because Graph was failing.");
    g->m.graph_calls =
        ag_metrics_counter("authgate_graph_http_requests_total", NULL,
                           "HTTP requests sent to Microsoft Graph (pages included).");
    g->m.token_fetches = ag_metrics_counter("authgate_graph_token_fetches_total", NULL,
                                            "App tokens obtained for Graph.");
    g->m.entries = ag_metrics_gauge("authgate_graph_cache_entries", NULL,
                                    "Principals in the Graph group cache.");
}

ag_err ag_graph_create(uv_loop_t *control, ag_fetch_t *fetch, const ag_graph_cfg_t *cfg,
                       ag_graph_t **out)
{
    ag_graph_t *g = calloc(1, sizeof(*g));
    ag_err err = AG_E_NOMEM;
    if (!g)
        return err;
    g->loop = control;
    g->fetch = fetch;
    register_metrics(g);
    ag_arena_init(&g->cfg_arena, 0, 0);
    if ((err = copy_cfg(g, cfg)) != 0 ||
        (err = ag_apptoken_create(control, fetch, cfg, "graph", g->m.token_fetches, &g->tok)) ||
        (err = ag_mailbox_create(control, &g->inbox)) != 0)
        goto out;
    *out = g;
    g = NULL;
out:
    if (g) {
        g->stopping = true;
        maybe_release(g);
    }
    return err;
}

void ag_graph_destroy(ag_graph_t *g)
{
    if (!g)
        return;
    g->stopping = true;
    ag_apptoken_destroy(g->tok); /* flights waiting for it are not busy: freed below */
    g->tok = NULL;
    for (size_t b = 0; b < NBUCKETS; b++) {
        for (entry_t *e = g->buckets[b], *next; e; e = next) {
            next = e->next;
            flight_t *f = e->flight;
            if (f) {
                for (ag_graph_wait_t *w = f->waiters, *wn; w; w = wn) {
                    wn = w->next;
                    answer(w, AG_E_CANCELED, "group resolver stopping", NULL, false, false);
                }
                f->waiters = NULL;
                f->entry = NULL;
                if (!f->busy) /* else on_page frees it when the fetch completes */
                    flight_free(f);
            }
            entry_free(g, e);
        }
        g->buckets[b] = NULL;
    }
    ag_mailbox_destroy(g->inbox); /* queued requests run now and get AG_E_CANCELED */
    g->inbox = NULL;
    maybe_release(g);
}

void ag_graph_stats(const ag_graph_t *g, ag_graph_stats_t *out)
{
#define LOAD(field) out->field = atomic_load_explicit(&g->st.field, memory_order_relaxed)
    LOAD(requests);
    LOAD(hits);
    LOAD(coalesced);
    LOAD(lookups);
    LOAD(graph_calls);
    out->token_fetches = g->tok ? ag_apptoken_fetches(g->tok) : 0;
    LOAD(failures);
    LOAD(stale_served);
    LOAD(too_many_groups);
    LOAD(timeouts);
    LOAD(entries);
#undef LOAD
}
