/* The cluster RBAC reflectors (rbacsync.h). Per kind a small state machine on the control
 * loop: LIST (pages staged, committed to the store only when the last page arrived) ->
 * WATCH (events applied one at a time, each complete) -> on the watch's end either WATCH
 * again from the last resourceVersion or LIST again. Every request is a fetch with a
 * timeout; a watch streams through the fetch engine's on_data, framed into lines by
 * core/authz/rbac/kwatch.c. Store changes are timestamped; the coalescing timer asks policy.c for a
 * rebuild, which takes a snapshot of the store (source_take) and reports the published
 * generation (source_done), where the event-to-effect latencies are observed. */
#include "authz/rbacsync.h"

#include <mbedtls/platform_util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/policy.h"
#include "authz/rbac/kwatch.h"
#include "authz/rbac/rbac_set.h"
#include "http/credential.h"
#include "net/fetch.h"
#include "net/upstream_api.h"
#include "runtime/admin.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define LIST_TIMEOUT_MS 60000
#define WATCH_SLACK_MS 30000 /* past the server's timeoutSeconds, the watch is dead */
#define BACKOFF_BASE_MS 100  /* consecutive failures double it ... */
#define BACKOFF_MAX_MS 30000 /* ... up to this; jitter adds up to as much again */
#define MAX_PENDING 65536    /* change timestamps kept for the latency histogram */
#define STATUS_KEEP 2048     /* bytes of a failed answer kept for the log */
#define GROUP_PATH "/apis/rbac.authorization.k8s.io/v1/"
#define NKINDS 4
#define WARN_LINE 512 /* of a refused object's message */

static const struct {
    const char *resource, *kind;
    bool namespaced;
} kinds[NKINDS] = {
    {"clusterroles", "ClusterRole", false},
    {"clusterrolebindings", "ClusterRoleBinding", false},
    {"roles", "Role", true},
    {"rolebindings", "RoleBinding", true},
};

enum { S_IDLE, S_LISTING, S_WATCHING, S_WAITING };
enum { NEXT_REWATCH, NEXT_RELIST };
enum { RL_EXPIRED, RL_GARBAGE, RL_OVERSIZED, RL_FAILED, RL_N }; /* relist reasons */
enum { WR_TIMEOUT, WR_DROPPED, WR_ERROR, WR_N };                /* re-watch reasons */

typedef struct sync sync_t;

typedef struct {
    sync_t *s;
    int kind;
    int state;
    char rv[AG_KWATCH_MAX_RV + 1];      /* last resourceVersion seen (list, event, bookmark) */
    char list_rv[AG_KWATCH_MAX_RV + 1]; /* the first page's, while listing */
    char *cont;                         /* continue token of the next page (malloc) */
    ag_rbac_set_t *set;                 /* the kind's objects in force (parsed once) */
    ag_rbac_set_t *staging;             /* the list being read (NULL between lists) */
    int pages;
    bool synced;                  /* a complete list was committed */
    int next;                     /* NEXT_*: what follows the watch in flight */
    int reason;                   /* RL_* / WR_* for that */
    bool open;                    /* a watch answered 200 and streams */
    long status;                  /* the watch's HTTP status */
    ag_buf_t line, errbody;       /* watch framing; a failed answer's first bytes */
    int failures;                 /* consecutive, for the backoff */
    uint64_t started_ms, down_ms; /* the watch's start; when it last went down */
    uint64_t last_event_ms;       /* any event, bookmarks included */
    int64_t shown;                /* objects gauge value shown */
    uv_timer_t retry;
} refl_t;

struct sync {
    const ag_rbac_cluster_config_t *cc;
    uv_loop_t *loop;
    ag_fetch_t *fetch;
    const ag_credential_t *cred; /* borrowed; NULL: no bearer */
    char *base;                  /* "https://name:port" */
    ag_rbac_set_t *boot;         /* no objects: the bootstrap policy, when configured */
    refl_t refl[NKINDS];
    ag_buf_t why;     /* a put's refusals */
    ag_arena_t arena; /* one event or page at a time */
    uv_timer_t coalesce, tick;
    bool armed, ready, all_synced;
    uint64_t *pending, *inflight; /* change times (ns) not yet in force / in the build */
    size_t npending, ninflight;
    uint64_t generation, start_ms;
    ag_log_limit_t warn;
    bool once;       /* ag_rbacsync_once: list each kind once, no watch, no retry */
    ag_err once_err; /* ... the first failure, which ends it */
    char once_why[256];
    int64_t shown_age, shown_gen, shown_synced;
    ag_metric_id m_objects[NKINDS], m_relists[RL_N], m_rewatch[WR_N], m_age, m_gen, m_synced,
        m_latency, m_refused;
};

static sync_t S_; /* one per process: the configuration has one cluster */

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static const char *resource(const refl_t *r)
{
    return kinds[r->kind].resource;
}

static void start_list(refl_t *r);
static void start_watch(refl_t *r);

/* ---- changes, coalescing and the rebuild ------------------------------------------------ */

static void on_coalesce(uv_timer_t *t)
{
    sync_t *s = t->data;
    s->armed = false;
    ag_policy_reload(); /* one already running is followed by one more */
}

/* A change reached the store: remember when, and rebuild within the coalescing delay. */
static void changed(sync_t *s)
{
    if (s->npending < MAX_PENDING)
        s->pending[s->npending++] = uv_hrtime();
    if (!s->all_synced || s->armed)
        return;
    s->armed = true;
    uv_timer_start(&s->coalesce, on_coalesce, (uint64_t)s->cc->coalesce_ms, 0);
}

static void show_objects(sync_t *s)
{
    for (int k = 0; k < NKINDS; k++) {
        refl_t *r = &s->refl[k];
        int64_t n = (int64_t)ag_rbac_set_count(r->set);
        ag_metrics_add(s->m_objects[k], n - r->shown);
        r->shown = n;
    }
}

static void set_gauge(ag_metric_id m, int64_t *shown, int64_t v)
{
    ag_metrics_add(m, v - *shown);
    *shown = v;
}

/* The bootstrap layer and the four kinds' objects. */
static ag_err source_take_view(sync_t *s, ag_rbac_view_t **out)
{
    ag_rbac_set_t *layers[1 + NKINDS] = {s->boot};
    for (int k = 0; k < NKINDS; k++)
        layers[1 + k] = s->refl[k].set;
    return ag_rbac_set_view_layers(layers, 1 + NKINDS, out);
}

static ag_rbac_view_t *source_take(void *ud)
{
    sync_t *s = ud;
    ag_rbac_view_t *view = NULL;
    if (!s->all_synced || source_take_view(s, &view) != 0)
        return NULL; /* files only until every kind was listed (fewer grants, never more) */
    size_t n = s->npending;
    if (s->ninflight + n > MAX_PENDING)
        n = MAX_PENDING - s->ninflight;
    memcpy(s->inflight + s->ninflight, s->pending, n * sizeof *s->pending);
    s->ninflight += n;
    s->npending = 0;
    return view;
}

static void source_done(void *ud, ag_rbac_view_t *view, uint64_t generation)
{
    sync_t *s = ud;
    uint64_t now = uv_hrtime();
    if (view && generation) {
        for (size_t i = 0; i < s->ninflight; i++)
            ag_metrics_observe(s->m_latency, now - s->inflight[i]);
        if (!s->ready)
            ag_info("rbac sync: the cluster's RBAC is in force (policy generation %llu, "
                    "%zu objects)",
                    (unsigned long long)generation, ag_rbac_view_count(view));
        s->ready = true;
        s->generation = generation;
        set_gauge(s->m_gen, &s->shown_gen, (int64_t)generation);
        set_gauge(s->m_synced, &s->shown_synced, 1);
    }
    if (view)
        s->ninflight = 0; /* a failed build (a broken policy file): the next one retries */
    ag_rbac_view_destroy(view);
}

/* ---- requests ------------------------------------------------------------------------------ */

/* The Authorization line of the gateway's credential (NULL source: none). */
static ag_err auth_header(const sync_t *s, ag_buf_t *out)
{
    ag_str_t bearer = ag_credential_enter(s->cred);
    ag_err err = bearer.n ? ag_buf_printf(out, "Authorization: %.*s", AG_STR_FMT(bearer)) : 0;
    ag_credential_leave(s->cred);
    return err;
}

static ag_err url_escape(ag_buf_t *out, const char *v)
{
    ag_err err = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p && !err; p++)
        err = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_' || *p == '.' || *p == '~'
                  ? ag_buf_append(out, p, 1)
                  : ag_buf_printf(out, "%%%02X", *p);
    return err;
}

static ag_err start_get(refl_t *r, const ag_buf_t *url, long timeout_ms, size_t max_bytes,
                        bool (*on_data)(void *, long, ag_str_t), ag_fetch_cb cb)
{
    ag_buf_t auth = AG_BUF_INIT(AG_CREDENTIAL_MAX_BYTES + 64);
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    ag_err err = auth_header(r->s, &auth);
    if (!err && auth.n)
        headers[1] = auth.p;
    ag_fetch_req_t req = {.url = url->p,
                          .headers = headers,
                          .timeout_ms = timeout_ms,
                          .max_bytes = max_bytes,
                          .on_data = on_data};
    if (!err)
        err = ag_fetch_start(r->s->fetch, &req, cb, r);
    if (auth.p)
        mbedtls_platform_zeroize(auth.p, auth.n); /* the gateway's token: curl has its copy */
    ag_buf_dispose(&auth);
    return err;
}

static void warn_limited(sync_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn_limited(sync_t *s, const char *fmt, ...)
{
    unsigned held;
    char line[1024];
    if (!ag_log_limit(&s->warn, now_ms(), &held))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ag_warn("rbac sync: %s%s", line, held ? " (and more held back)" : "");
}

/* ---- retries ------------------------------------------------------------------------------- */

static void on_retry(uv_timer_t *t)
{
    refl_t *r = t->data;
    if (r->next == NEXT_RELIST)
        start_list(r);
    else
        start_watch(r);
}

/* Delay before attempt n (1-based) of a failing kind: base * 2^(n-1), capped, plus up to
 * as much again of jitter (client-go's wait.Backoff with Jitter 1.0), so replicas that
 * lost the API server together do not come back in step. */
static uint64_t backoff_ms(int n)
{
    uint64_t b = BACKOFF_BASE_MS;
    for (int i = 1; i < n && b < BACKOFF_MAX_MS; i++)
        b *= 2;
    if (b > BACKOFF_MAX_MS)
        b = BACKOFF_MAX_MS;
    return b + (uint64_t)((double)b * ((double)rand() / ((double)RAND_MAX + 1)));
}

static void schedule(refl_t *r, int next, uint64_t delay_ms)
{
    r->next = next;
    r->state = S_WAITING;
    if (delay_ms == 0) {
        on_retry(&r->retry);
        return;
    }
    uv_timer_start(&r->retry, on_retry, delay_ms, 0);
}

static void relist(refl_t *r, int reason, const char *why)
{
    sync_t *s = r->s;
    if (s->once) { /* one attempt: the first failure is the answer */
        if (!s->once_err) {
            s->once_err = AG_E_UPSTREAM;
            snprintf(s->once_why, sizeof s->once_why, "%s: %s", resource(r), why);
        }
        return;
    }
    ag_metrics_inc(s->m_relists[reason]);
    r->failures++;
    uint64_t d = r->failures > 1 ? backoff_ms(r->failures - 1) : 0;
    warn_limited(s, "%s: %s; listing again%s (serving the last good state)", resource(r), why,
                 d ? " after a backoff" : "");
    schedule(r, NEXT_RELIST, d);
}

/* ---- list ---------------------------------------------------------------------------------- */

static void drop_staging(refl_t *r)
{
    ag_rbac_set_destroy(r->staging);
    r->staging = NULL;
    r->pages = 0;
    free(r->cont);
    r->cont = NULL;
}

/* Objects the set refused (the API server stored them, our validation did not take them:
 * they grant nothing, an earlier version is gone): a rate-limited WARN naming them. */
static void warn_refused(sync_t *s, const char *what, int refused)
{
    if (!refused)
        return;
    ag_metrics_add(s->m_refused, refused);
    warn_limited(s, "%s: %d object(s) refused, they grant nothing: %.*s", what, refused, WARN_LINE,
                 s->why.n ? s->why.p : "");
}

/* A page item's identity is read (and the page validated whole) before the set parses the
 * page: an item of another kind would escape the kind's relist. */
static ag_err check_item(void *ctx, const ag_kw_object_t *item)
{
    refl_t *r = ctx;
    return !item->kind.n || ag_str_eq_lit(item->kind, kinds[r->kind].kind) ? 0 : AG_E_PARSE;
}

/* The last page arrived: the kind's objects are replaced in one step. */
static void commit_list(refl_t *r)
{
    sync_t *s = r->s;
    ag_rbac_set_destroy(r->set);
    r->set = r->staging;
    r->staging = NULL;
    memcpy(r->rv, r->list_rv, sizeof r->rv);
    if (!s->once)
        ag_info("rbac sync: listed %zu %s at resourceVersion %s in %d page(s)",
                ag_rbac_set_count(r->set), resource(r), r->rv, r->pages);
    r->pages = 0;
    r->synced = true;
    bool all = true;
    for (int k = 0; k < NKINDS; k++)
        all = all && s->refl[k].synced;
    s->all_synced = all;
    show_objects(s);
    if (s->once)
        return;
    changed(s);
    start_watch(r);
}

static void on_page(void *arg, const ag_fetch_res_t *res)
{
    refl_t *r = arg;
    sync_t *s = r->s;
    ag_str_t rv, cont;
    char why[160];
    if (res->err || res->status != 200) {
        bool expired = !res->err && res->status == 410; /* a continue token too old */
        drop_staging(r);
        snprintf(why, sizeof why, "list failed: %s",
                 res->err  ? ag_err_str(res->err)
                 : expired ? "410 Gone (continue expired)"
                           : "HTTP");
        if (!res->err && !expired)
            snprintf(why, sizeof why, "list failed: HTTP %ld", res->status);
        relist(r, expired ? RL_EXPIRED : RL_FAILED, why);
        return;
    }
    ag_arena_reset(&s->arena);
    int refused = 0;
    ag_rbac_opts_t nob = {.bootstrap = false};
    ag_err err = ag_kw_parse_page(res->body, kinds[r->kind].namespaced, &s->arena, &rv, &cont,
                                  check_item, r);
    if (!err && !r->staging)
        err = ag_rbac_set_create(&nob, &r->staging);
    ag_buf_clear(&s->why);
    if (!err)
        err = ag_rbac_set_put(r->staging, res->body, resource(r), &refused, &s->why);
    warn_refused(s, resource(r), refused);
    if (err) {
        drop_staging(r);
        relist(r, RL_GARBAGE, "a list page that is not a valid list");
        return;
    }
    if (r->pages++ == 0)
        snprintf(r->list_rv, sizeof r->list_rv, "%.*s", AG_STR_FMT(rv));
    free(r->cont);
    r->cont = cont.n ? strndup(cont.p, cont.n) : NULL;
    if (cont.n && !r->cont) {
        drop_staging(r);
        relist(r, RL_FAILED, "out of memory");
        return;
    }
    if (r->cont)
        start_list(r); /* the next page */
    else
        commit_list(r);
}

static void start_list(refl_t *r)
{
    sync_t *s = r->s;
    ag_buf_t url = AG_BUF_INIT(64 * 1024);
    ag_err err =
        ag_buf_printf(&url, "%s" GROUP_PATH "%s?limit=%d", s->base, resource(r), s->cc->page_size);
    if (!err && r->cont && !(err = ag_buf_append_cstr(&url, "&continue=")))
        err = url_escape(&url, r->cont);
    if (!r->cont)
        drop_staging(r); /* a fresh list */
    r->state = S_LISTING;
    if (!err)
        err = start_get(r, &url, LIST_TIMEOUT_MS, (size_t)s->cc->max_page_bytes, NULL, on_page);
    ag_buf_dispose(&url);
    if (err) {
        drop_staging(r);
        relist(r, RL_FAILED, ag_err_str(err));
    }
}

/* ---- watch --------------------------------------------------------------------------------- */

/* One object into the kind's set. An object without "kind" (kube-apiserver sets it in
 * watch events; a proxy or an older server might not) goes in as the one item of a typed
 * list, so it is read as the watched kind rather than refused. */
static ag_err put_object(refl_t *r, ag_str_t json, bool kindless, int *refused)
{
    sync_t *s = r->s;
    if (!kindless)
        return ag_rbac_set_put(r->set, json, resource(r), refused, &s->why);
    ag_buf_t doc = AG_BUF_INIT(json.n + 128);
    ag_err err = ag_buf_printf(&doc, "{\"kind\":\"%sList\",\"items\":[%.*s]}", kinds[r->kind].kind,
                               AG_STR_FMT(json));
    if (!err)
        err = ag_rbac_set_put(r->set, ag_buf_str(&doc), resource(r), refused, &s->why);
    ag_buf_dispose(&doc);
    return err;
}

static ag_err apply_event(refl_t *r, const ag_kw_event_t *ev)
{
    sync_t *s = r->s;
    int refused = 0;
    ag_err err;
    r->last_event_ms = now_ms();
    if (ev->type == AG_KW_ERROR) {
        r->next = ev->code == 410 ? NEXT_RELIST : NEXT_REWATCH;
        r->reason = ev->code == 410 ? RL_EXPIRED : WR_ERROR;
        warn_limited(s, "%s: the watch answered an error (%d: %.*s)", resource(r), ev->code,
                     AG_STR_FMT(ev->message));
        return AG_E_CANCELED; /* ends this watch */
    }
    if (ev->type != AG_KW_BOOKMARK && ev->obj.kind.n &&
        !ag_str_eq_lit(ev->obj.kind, kinds[r->kind].kind))
        return AG_E_PARSE; /* another kind on this watch: not a stream we understand */
    if (ev->type == AG_KW_ADDED || ev->type == AG_KW_MODIFIED) {
        ag_buf_clear(&s->why);
        if ((err = put_object(r, ev->obj.json, !ev->obj.kind.n, &refused)) != 0)
            return err;
        warn_refused(s, resource(r), refused);
        changed(s);
    } else if (ev->type == AG_KW_DELETED) {
        if (ag_rbac_set_remove(r->set, ag_str_cstr(kinds[r->kind].kind), ev->obj.ns, ev->obj.name))
            changed(s);
    }
    snprintf(r->rv, sizeof r->rv, "%.*s", AG_STR_FMT(ev->obj.rv));
    r->failures = 0; /* progress */
    return 0;
}

static ag_err on_line(void *ctx, ag_str_t line)
{
    refl_t *r = ctx;
    ag_kw_event_t ev;
    ag_arena_reset(&r->s->arena);
    ag_err err = ag_kw_parse_event(line, kinds[r->kind].namespaced, &r->s->arena, &ev);
    if (!err)
        err = apply_event(r, &ev);
    if (err && err != AG_E_CANCELED) {
        r->next = NEXT_RELIST;
        r->reason = err == AG_E_PARSE || err == AG_E_CONFIG ? RL_GARBAGE : RL_FAILED;
    }
    if (err == 0 && ev.type != AG_KW_BOOKMARK)
        show_objects(r->s);
    return err;
}

static bool on_watch_data(void *arg, long status, ag_str_t data)
{
    refl_t *r = arg;
    r->status = status;
    if (status != 200) {
        size_t room = STATUS_KEEP > r->errbody.n ? STATUS_KEEP - r->errbody.n : 0;
        ag_buf_append(&r->errbody, data.p, data.n < room ? data.n : room);
        return true;
    }
    r->open = true;
    ag_err err = ag_kw_feed(&r->line, data, on_line, r);
    if (err == AG_E_TOO_BIG) {
        r->next = NEXT_RELIST;
        r->reason = RL_OVERSIZED;
    }
    return err == 0;
}

static void watch_ended(refl_t *r, const ag_fetch_res_t *res)
{
    uint64_t lasted = now_ms() - r->started_ms;
    if (!res->err && r->status == 200) { /* the server ended it (timeoutSeconds) */
        ag_metrics_inc(r->s->m_rewatch[WR_TIMEOUT]);
        if (lasted >= 1000) {
            schedule(r, NEXT_REWATCH, 0);
            return;
        }
        r->failures++;
    } else {
        int reason = res->err ? WR_DROPPED : WR_ERROR;
        ag_metrics_inc(r->s->m_rewatch[reason]);
        r->failures++;
        warn_limited(r->s,
                     "%s: watch %s (%s); watching again from resourceVersion %s "
                     "(serving the last good state)",
                     resource(r), res->err ? "dropped" : "refused",
                     res->err       ? res->detail
                     : r->errbody.n ? r->errbody.p
                                    : "HTTP error",
                     r->rv);
    }
    schedule(r, NEXT_REWATCH, backoff_ms(r->failures));
}

static void on_watch_done(void *arg, const ag_fetch_res_t *res)
{
    refl_t *r = arg;
    bool canceled = res->err == AG_E_CANCELED; /* we stopped it: r->next says why */
    r->open = false;
    r->down_ms = now_ms();
    ag_buf_clear(&r->line);
    if (!canceled && !res->err && r->status == 410) {
        r->next = NEXT_RELIST;
        r->reason = RL_EXPIRED;
        canceled = true;
    }
    if (canceled && r->next == NEXT_RELIST) {
        static const char *const why[RL_N] = {
            "the resourceVersion expired (410 Gone)", "a watch event that is not a valid event",
            "a watch event over max_event_bytes", "the watch failed"};
        relist(r, r->reason, why[r->reason]);
    } else if (canceled) { /* an ERROR event other than 410 */
        ag_metrics_inc(r->s->m_rewatch[WR_ERROR]);
        r->failures++;
        schedule(r, NEXT_REWATCH, backoff_ms(r->failures));
    } else {
        watch_ended(r, res);
    }
    ag_buf_clear(&r->errbody);
}

static void start_watch(refl_t *r)
{
    sync_t *s = r->s;
    ag_buf_t url = AG_BUF_INIT(4096);
    /* client-go asks for a random timeout in [t, 2t) so watches do not all end together */
    long long t = s->cc->watch_timeout_ms / 1000;
    t += (long long)((double)t * ((double)rand() / ((double)RAND_MAX + 1)));
    ag_err err = ag_buf_printf(&url,
                               "%s" GROUP_PATH "%s?watch=1&resourceVersion=%s"
                               "&allowWatchBookmarks=true&timeoutSeconds=%lld",
                               s->base, resource(r), r->rv, t);
    r->state = S_WATCHING;
    r->next = NEXT_REWATCH;
    r->status = 0;
    r->started_ms = now_ms();
    ag_buf_clear(&r->line);
    ag_buf_clear(&r->errbody);
    if (!err)
        err =
            start_get(r, &url, (long)(t * 1000 + WATCH_SLACK_MS), 0, on_watch_data, on_watch_done);
    ag_buf_dispose(&url);
    if (err) {
        r->failures++;
        warn_limited(s, "%s: cannot start the watch: %s", resource(r), ag_err_str(err));
        schedule(r, NEXT_REWATCH, backoff_ms(r->failures));
    }
}

/* ---- readiness, gauges ---------------------------------------------------------------------- */

/* Seconds the longest-broken watch has been down (0 when every watch streams). */
static uint64_t down_for_ms(const sync_t *s, int *which)
{
    uint64_t now = now_ms(), worst = 0;
    for (int k = 0; k < NKINDS; k++) {
        const refl_t *r = &s->refl[k];
        if (!r->open && now - r->down_ms > worst) {
            worst = now - r->down_ms;
            *which = k;
        }
    }
    return worst;
}

static void ready_report(void *ud, ag_ready_report_t *rep)
{
    sync_t *s = ud;
    char why[256] = "";
    int k = 0;
    bool ok = s->ready;
    if (!ok) {
        size_t n = (size_t)snprintf(why, sizeof why, "waiting for the first list of");
        for (int i = 0; i < NKINDS; i++)
            if (!s->refl[i].synced && n < sizeof why)
                n += (size_t)snprintf(why + n, sizeof why - n, " %s", kinds[i].resource);
        if (s->all_synced && n < sizeof why)
            snprintf(why + n, sizeof why - n, " the first policy snapshot with them");
    } else if (s->cc->stale_after_ms > 0) {
        uint64_t down = down_for_ms(s, &k);
        if (down > (uint64_t)s->cc->stale_after_ms) {
            ok = false;
            snprintf(why, sizeof why, "the watch of %s has been down for %llu ms (stale_after)",
                     kinds[k].resource, (unsigned long long)down);
        }
    }
    ag_ready_item(rep, "rbac-sync", ok, false, why);
}

static void on_tick(uv_timer_t *t)
{
    sync_t *s = t->data;
    uint64_t last = s->start_ms;
    for (int k = 0; k < NKINDS; k++)
        if (s->refl[k].last_event_ms > last)
            last = s->refl[k].last_event_ms;
    set_gauge(s->m_age, &s->shown_age, (int64_t)((now_ms() - last) / 1000));
    set_gauge(s->m_gen, &s->shown_gen, (int64_t)s->generation);
    set_gauge(s->m_synced, &s->shown_synced, s->ready);
}

static void register_metrics(sync_t *s)
{
    static const char *ho = "Cluster RBAC objects in the gateway's store, by kind.";
    static const char *hr = "Relists of a kind (reason: expired version, garbage or oversized "
                            "event, failed list).";
    static const char *hw = "Watches started again from the last resourceVersion, by reason.";
    static const char *kl[NKINDS] = {"kind=\"ClusterRole\"", "kind=\"ClusterRoleBinding\"",
                                     "kind=\"Role\"", "kind=\"RoleBinding\""};
    static const char *rl[RL_N] = {"reason=\"expired\"", "reason=\"garbage\"",
                                   "reason=\"oversized\"", "reason=\"list_failed\""};
    static const char *wl[WR_N] = {"reason=\"ended\"", "reason=\"dropped\"", "reason=\"error\""};
    static const double bk[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    for (int k = 0; k < NKINDS; k++)
        s->m_objects[k] = ag_metrics_gauge("authgate_rbac_sync_objects", kl[k], ho);
    for (int i = 0; i < RL_N; i++)
        s->m_relists[i] = ag_metrics_counter("authgate_rbac_sync_relists_total", rl[i], hr);
    for (int i = 0; i < WR_N; i++)
        s->m_rewatch[i] = ag_metrics_counter("authgate_rbac_sync_watch_restarts_total", wl[i], hw);
    s->m_age = ag_metrics_gauge("authgate_rbac_sync_last_event_age_seconds", NULL,
                                "Seconds since the last watch event of any kind (bookmarks "
                                "included).");
    s->m_gen = ag_metrics_gauge("authgate_rbac_sync_snapshot_generation", NULL,
                                "Policy generation of the last snapshot built from the cluster's "
                                "RBAC.");
    s->m_synced = ag_metrics_gauge("authgate_rbac_sync_ready", NULL,
                                   "1 once a snapshot from a complete list of all four kinds "
                                   "is in force.");
    s->m_refused = ag_metrics_counter("authgate_rbac_sync_refused_objects_total", NULL,
                                      "Cluster objects refused by the gateway's validation (e.g. "
                                      "a time-bound binding's window that does not parse): "
                                      "they grant nothing, an earlier version of them is gone.");
    s->m_latency = ag_metrics_histogram(
        "authgate_rbac_sync_event_to_effect_seconds", NULL,
        "From a change reaching the gateway (watch event, list) to the policy snapshot with it "
        "being in force.",
        bk, (int)(sizeof bk / sizeof bk[0]));
}

/* ---- setup ---------------------------------------------------------------------------------- */

static ag_err create_fetch(sync_t *s, const ag_config_t *conf)
{
    const ag_config_upstream_t *up = &conf->upstream;
    ag_buf_t base = AG_BUF_INIT(4096), via = AG_BUF_INIT(1024);
    bool renamed = false;
    ag_err err = ag_upstream_api_target(up, &base, &via, &renamed);
    ag_fetch_opts_t fo = {.ca_file = up->https ? up->ca_file : NULL,
                          .cert_file = up->cert_file,
                          .key_file = up->key_file,
                          .connect_to = renamed ? via.p : NULL,
                          .timeout_ms = LIST_TIMEOUT_MS};
    if (!err && !(s->base = strdup(base.p)))
        err = AG_E_NOMEM;
    if (!err)
        err = ag_fetch_create(s->loop, &fo, &s->fetch);
    ag_buf_dispose(&base);
    ag_buf_dispose(&via);
    return err;
}

/* Everything but the control-loop wiring (metrics, readiness, timers, the policy source). */
static ag_err sync_init(sync_t *s, const ag_config_t *conf, uv_loop_t *control,
                        const ag_credential_t *cred)
{
    ag_err err;
    for (int i = 0; i < NKINDS; i++)
        s->m_objects[i] = -1;
    for (int i = 0; i < RL_N; i++)
        s->m_relists[i] = -1;
    for (int i = 0; i < WR_N; i++)
        s->m_rewatch[i] = -1;
    s->m_age = s->m_gen = s->m_synced = s->m_latency = s->m_refused = -1;
    s->cc = &conf->authz.cluster;
    s->loop = control;
    s->cred = cred;
    s->start_ms = now_ms();
    ag_arena_init(&s->arena, 1 << 16, 0);
    s->why = AG_BUF_INIT(64 * 1024);
    ag_rbac_opts_t boot = {.bootstrap = conf->authz.bootstrap}, none = {.bootstrap = false};
    s->pending = malloc(MAX_PENDING * sizeof *s->pending);
    s->inflight = malloc(MAX_PENDING * sizeof *s->inflight);
    err = !s->pending || !s->inflight ? AG_E_NOMEM : ag_rbac_set_create(&boot, &s->boot);
    for (int k = 0; !err && k < NKINDS; k++)
        err = ag_rbac_set_create(&none, &s->refl[k].set);
    if (!err)
        err = create_fetch(s, conf);
    for (int k = 0; !err && k < NKINDS; k++) {
        refl_t *r = &s->refl[k];
        r->s = s;
        r->kind = k;
        r->down_ms = s->start_ms;
        r->line = AG_BUF_INIT((size_t)s->cc->max_event_bytes);
        r->errbody = AG_BUF_INIT(STATUS_KEEP + 1);
        uv_timer_init(control, &r->retry);
        r->retry.data = r;
    }
    return err;
}

ag_err ag_rbacsync_setup(const ag_config_t *conf, uv_loop_t *control, const ag_credential_t *cred,
                         ag_buf_t *errmsg)
{
    sync_t *s = &S_;
    ag_err err;
    if (!conf->authz_enabled || !conf->authz.cluster.enabled)
        return 0;
    memset(s, 0, sizeof *s);
    if ((err = sync_init(s, conf, control, cred)) != 0) {
        ag_buf_printf(errmsg, "authorization.rbac.cluster: cannot start: %s", ag_err_str(err));
        return err;
    }
    register_metrics(s);
    if ((err = ag_ready_register_list(ready_report, s)) != 0)
        return err;
    ag_policy_set_source(&(ag_policy_source_t){source_take, source_done, s});
    uv_timer_init(control, &s->coalesce);
    uv_timer_init(control, &s->tick);
    s->coalesce.data = s->tick.data = s;
    uv_unref((uv_handle_t *)&s->tick);
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    for (int k = 0; k < NKINDS; k++)
        start_list(&s->refl[k]);
    return 0;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void sync_dispose(sync_t *s)
{
    for (int k = 0; k < NKINDS; k++) {
        refl_t *r = &s->refl[k];
        drop_staging(r);
        ag_rbac_set_destroy(r->set);
        ag_buf_dispose(&r->line);
        ag_buf_dispose(&r->errbody);
    }
    ag_rbac_set_destroy(s->boot);
    ag_arena_dispose(&s->arena);
    ag_buf_dispose(&s->why);
    free(s->pending);
    free(s->inflight);
    free(s->base);
}

static void on_deadline(uv_timer_t *t)
{
    (void)t; /* a one-shot timer is inactive once it ran: the loop below sees that */
}

static bool once_over(const sync_t *s)
{
    return s->once_err || s->all_synced;
}

ag_err ag_rbacsync_once(const ag_config_t *conf, long timeout_ms, ag_rbac_view_t **out,
                        ag_buf_t *errmsg)
{
    uv_loop_t loop;
    uv_timer_t deadline;
    ag_credential_t *cred = NULL;
    sync_t *s = calloc(1, sizeof *s);
    ag_err err = s ? 0 : AG_E_NOMEM;
    *out = NULL;
    if (!err && uv_loop_init(&loop) != 0)
        err = AG_E_IO;
    if (err) {
        free(s);
        return err;
    }
    s->once = true;
    if (conf->upstream.token_file)
        err = ag_credential_create(conf->upstream.token_file, &cred, errmsg);
    if (!err)
        err = sync_init(s, conf, &loop, cred);
    uv_timer_init(&loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_ms, 0);
    for (int k = 0; !err && k < NKINDS; k++)
        start_list(&s->refl[k]);
    while (!err && !once_over(s) && uv_is_active((uv_handle_t *)&deadline) &&
           uv_run(&loop, UV_RUN_ONCE))
        ;
    if (!err && !once_over(s))
        snprintf(s->once_why, sizeof s->once_why, "no complete list within %ld ms", timeout_ms);
    if (!err && !s->all_synced)
        err = s->once_err ? s->once_err : AG_E_TIMEOUT;
    if (!err)
        err = source_take_view(s, out);
    if (err && errmsg)
        ag_buf_printf(errmsg, "authorization.rbac.cluster: %s",
                      s->once_why[0] ? s->once_why : ag_err_str(err));
    ag_fetch_destroy(s->fetch); /* answers what is still running: canceled */
    uv_walk(&loop, close_handle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sync_dispose(s);
    free(s);
    ag_credential_destroy(cred);
    return err;
}
