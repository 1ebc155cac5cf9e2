/* The ARM role assignment poller (armsync.h). Everything but the snapshot build runs on
 * the loop's thread: one request at a time, kinds in order (definitions, assignments,
 * deny assignments), pages kept as received until the poll completes. */
#include "authz/armsync.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authn/apptoken.h"
#include "authz/azure/azrbac_arm.h"
#include "files.h"
#include "net/fetch.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define WARN_EVERY_MS 10000
#define THROTTLE_DEFAULT_MS 10000

/* The pages of one kind: copies of the bodies as received. */
typedef struct {
    ag_str_t *body; /* each malloc'ed */
    int n, cap, items;
    size_t bytes;
    char etag[256]; /* the first page's ETag, "" when none */
} pages_t;

enum { F_NETWORK, F_TIMEOUT, F_THROTTLED, F_HTTP, F_AUTH, F_TOKEN, F_GARBAGE, F_INVALID, F_N };
static const char *const fail_labels[F_N] = {"reason=\"network\"",      "reason=\"timeout\"",
                                             "reason=\"throttled\"",    "reason=\"http_error\"",
                                             "reason=\"unauthorized\"", "reason=\"token\"",
                                             "reason=\"garbage\"",      "reason=\"invalid\""};
static const char *const kind_labels[AG_ARM_KINDS] = {
    "kind=\"role_definitions\"", "kind=\"role_assignments\"", "kind=\"deny_assignments\""};

struct ag_armsync {
    uv_loop_t *loop;
    const ag_azure_config_t *c;
    ag_fetch_t *fetch;
    ag_apptoken_t *tok;
    ag_apptoken_wait_t tw;
    uv_timer_t timer, age_timer;
    ag_armsync_publish_fn publish;
    void *ud;
    /* the poll in progress */
    int kind, attempt, throttled;
    bool auth_retried, waiting_token;
    unsigned token_gen;
    ag_buf_t url;
    pages_t cur[AG_ARM_KINDS], good[AG_ARM_KINDS];
    bool have_good;
    uint64_t good_hash, hash;
    uint64_t last_ok_ms;
    /* the build */
    uv_work_t work;
    ag_azrbac_t *built;
    ag_err build_err;
    ag_buf_t why;
    uint64_t poll_t0, build_ns; /* for the log line: poll start (ms), build time */
    /* life */
    int pending; /* a fetch or a build in flight, and the two timers' closes */
    bool stopping, once, done;
    ag_err once_err;
    uint64_t last_warn_ms;
    unsigned suppressed;
    struct { /* metric ids only (no_metrics sets them all to -1) */
        ag_metric_id ok, unchanged, fail[F_N], objects[AG_ARM_KINDS], unresolved, age, throttled,
            requests, tokens;
    } m;
    struct { /* the gauges' current values (metrics take deltas) */
        int64_t objects[AG_ARM_KINDS], unresolved, age;
    } g;
};

static void request_start(ag_armsync_t *s);
static void poll_start(ag_armsync_t *s);

/* ---- pages ---------------------------------------------------------------------------- */

static void pages_clear(pages_t *p)
{
    for (int i = 0; i < p->n; i++)
        free((void *)p->body[i].p);
    free(p->body);
    memset(p, 0, sizeof *p);
}

static ag_err pages_add(pages_t *p, ag_str_t body, int items)
{
    if (p->bytes + body.n > AG_ARMSYNC_MAX_KIND_BYTES)
        return AG_E_TOO_BIG;
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 4;
        ag_str_t *nb = realloc(p->body, sizeof *nb * (size_t)cap);
        if (!nb)
            return AG_E_NOMEM;
        p->body = nb;
        p->cap = cap;
    }
    char *copy = malloc(body.n + 1);
    if (!copy)
        return AG_E_NOMEM;
    memcpy(copy, body.p, body.n);
    copy[body.n] = '\0';
    p->body[p->n++] = ag_str_make(copy, body.n);
    p->bytes += body.n;
    p->items += items;
    return 0;
}

/* <dst> becomes a copy of <src> (a 304: the last good pages stand). */
static ag_err pages_copy(pages_t *dst, const pages_t *src)
{
    ag_err err = 0;
    pages_clear(dst);
    for (int i = 0; i < src->n && !err; i++)
        err = pages_add(dst, src->body[i], 0);
    dst->items = src->items;
    memcpy(dst->etag, src->etag, sizeof dst->etag);
    return err;
}

static uint64_t pages_hash(const pages_t *kinds)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int k = 0; k < AG_ARM_KINDS; k++) {
        for (int i = 0; i < kinds[k].n; i++)
            for (size_t j = 0; j < kinds[k].body[i].n; j++)
                h = (h ^ (unsigned char)kinds[k].body[i].p[j]) * 0x100000001b3ull;
        h = (h ^ 0x1ffu) * 0x100000001b3ull; /* kind separator */
    }
    return h;
}

/* ---- metrics and logs ----------------------------------------------------------------- */

static void gauge_set(ag_metric_id m, int64_t *now, int64_t v)
{
    ag_metrics_add(m, v - *now);
    *now = v;
}

static void register_metrics(ag_armsync_t *s)
{
    static const char polls[] = "authgate_arm_polls_total";
    static const char polls_help[] =
        "ARM polls by result (ok: a new set published; unchanged: same pages as the last).";
    static const char fails[] = "authgate_arm_poll_failures_total";
    static const char fails_help[] = "ARM polls that failed (the last good set stays), by reason.";
    static const char obj_help[] = "Objects in the last good ARM poll, by kind.";
    s->m.ok = ag_metrics_counter(polls, "result=\"ok\"", polls_help);
    s->m.unchanged = ag_metrics_counter(polls, "result=\"unchanged\"", polls_help);
    for (int i = 0; i < F_N; i++)
        s->m.fail[i] = ag_metrics_counter(fails, fail_labels[i], fails_help);
    for (int k = 0; k < AG_ARM_KINDS; k++)
        s->m.objects[k] = ag_metrics_gauge("authgate_arm_objects", kind_labels[k], obj_help);
    s->m.unresolved = ag_metrics_gauge(
        "authgate_arm_assignments_unresolved_role", NULL,
        "Role assignments whose role definition ARM did not return: they grant nothing.");
    s->m.age = ag_metrics_gauge("authgate_arm_last_success_age_seconds", NULL,
                                "Seconds since the last complete ARM poll (-1: none yet).");
    s->m.throttled = ag_metrics_counter("authgate_arm_throttled_total", NULL,
                                        "ARM answers 429 (the poller waited Retry-After).");
    s->m.requests = ag_metrics_counter("authgate_arm_http_requests_total", NULL,
                                       "HTTP requests sent to ARM (pages and retries included).");
    s->m.tokens = ag_metrics_counter("authgate_arm_token_fetches_total", NULL,
                                     "App tokens obtained for ARM.");
    gauge_set(s->m.age, &s->g.age, -1);
}

static void no_metrics(ag_armsync_t *s)
{
    ag_metric_id *ids = (ag_metric_id *)&s->m;
    for (size_t i = 0; i < sizeof s->m / sizeof *ids; i++)
        ids[i] = -1;
}

static void on_age(uv_timer_t *t)
{
    ag_armsync_t *s = t->data;
    if (s->have_good)
        gauge_set(s->m.age, &s->g.age, (int64_t)((uv_now(s->loop) - s->last_ok_ms) / 1000));
}

/* A failed poll: at most one WARN per WARN_EVERY_MS, the others counted into the next. */
static void warn_failure(ag_armsync_t *s, const char *why, const char *detail)
{
    uint64_t now = uv_now(s->loop);
    if (s->once)
        return;
    if (s->last_warn_ms && now - s->last_warn_ms < WARN_EVERY_MS) {
        s->suppressed++;
        return;
    }
    char kept[96] = "no Azure role assignments yet: Azure AD identities are denied";
    if (s->have_good)
        snprintf(kept, sizeof kept, "keeping the last good set (%llu s old)",
                 (unsigned long long)((now - s->last_ok_ms) / 1000));
    ag_warn("arm: poll failed (%s%s%s; %u more failures since the last warning); %s", why,
            detail && *detail ? ": " : "", detail ? detail : "", s->suppressed, kept);
    s->last_warn_ms = now;
    s->suppressed = 0;
}

/* ---- the poll ------------------------------------------------------------------------- */

/* Stopping: destroyed, or the server closing every handle of the loop at exit (then the
 * memory stays until the process ends; nothing more is started). */
static bool closing(const ag_armsync_t *s)
{
    return s->stopping || uv_is_closing((const uv_handle_t *)&s->timer);
}

static void maybe_release(ag_armsync_t *s)
{
    if (!s->stopping || s->pending > 0)
        return;
    for (int k = 0; k < AG_ARM_KINDS; k++)
        pages_clear(&s->cur[k]), pages_clear(&s->good[k]);
    ag_buf_dispose(&s->url);
    ag_buf_dispose(&s->why);
    free(s);
}

static void schedule(ag_armsync_t *s, uint64_t ms, uv_timer_cb cb)
{
    if (!closing(s))
        uv_timer_start(&s->timer, cb, ms, 0);
}

static void on_poll_timer(uv_timer_t *t)
{
    poll_start(t->data);
}

static void poll_end(ag_armsync_t *s, ag_err err)
{
    for (int k = 0; k < AG_ARM_KINDS; k++)
        pages_clear(&s->cur[k]);
    if (s->once) {
        s->done = true;
        s->once_err = err;
        return;
    }
    uint64_t next = (uint64_t)s->c->arm.poll_interval_ms;
    if (!s->have_good && next > AG_ARMSYNC_FIRST_RETRY_MS)
        next = AG_ARMSYNC_FIRST_RETRY_MS; /* not ready yet: try again sooner */
    schedule(s, next, on_poll_timer);
}

static void poll_fail(ag_armsync_t *s, int reason, const char *why, const char *detail)
{
    ag_metrics_inc(s->m.fail[reason]);
    warn_failure(s, why, detail);
    if (s->once && s->why.n == 0)
        ag_buf_printf(&s->why, "arm: %s%s%s", why, detail && *detail ? ": " : "",
                      detail ? detail : "");
    poll_end(s, reason == F_TIMEOUT ? AG_E_TIMEOUT : AG_E_UPSTREAM);
}

/* The pages and the configured files of each kind, as loader sources. */
static ag_err build_sources(ag_armsync_t *s, ag_buf_t *files, ag_azrbac_src_t *srcs, int *counts)
{
    const ag_azure_config_t *c = s->c;
    const char *const *names[AG_ARM_KINDS] = {c->definitions, c->assignments, c->deny};
    int nnames[AG_ARM_KINDS] = {c->ndefinitions, c->nassignments, c->ndeny};
    int at = 0, f = 0;
    for (int k = 0; k < AG_ARM_KINDS; k++) {
        counts[k] = s->cur[k].n + nnames[k];
        for (int i = 0; i < s->cur[k].n; i++)
            srcs[at++] = (ag_azrbac_src_t){s->cur[k].body[i], ag_arm_kind_type(k), true};
        for (int i = 0; i < nnames[k]; i++, f++) {
            files[f] = AG_BUF_INIT(AG_AZRBAC_MAX_FILE_BYTES);
            ag_err err = ag_buf_read_file(&files[f], names[k][i]);
            if (err) {
                ag_buf_printf(&s->why, "%s: %s", names[k][i], ag_err_str(err));
                return err;
            }
            srcs[at++] = (ag_azrbac_src_t){ag_buf_str(&files[f]), names[k][i], false};
        }
    }
    return 0;
}

/* Threadpool (or the caller's thread for ag_armsync_once). */
static void on_build(uv_work_t *w)
{
    ag_armsync_t *s = w->data;
    const ag_azure_config_t *c = s->c;
    int nfiles = c->ndefinitions + c->nassignments + c->ndeny, counts[AG_ARM_KINDS];
    int total = nfiles + s->cur[0].n + s->cur[1].n + s->cur[2].n;
    ag_buf_t *files = calloc((size_t)nfiles + 1, sizeof *files);
    ag_azrbac_src_t *srcs = calloc((size_t)total + 1, sizeof *srcs);
    ag_azrbac_opts_t opts = {c->cluster_resource_id};
    uint64_t t0 = uv_hrtime();
    ag_buf_clear(&s->why);
    s->built = NULL;
    s->build_err = files && srcs ? build_sources(s, files, srcs, counts) : AG_E_NOMEM;
    if (!s->build_err) {
        ag_azrbac_srcs_t in = {srcs,      srcs + counts[0], srcs + counts[0] + counts[1],
                               counts[0], counts[1],        counts[2]};
        s->build_err = ag_azrbac_load_srcs(&in, &opts, &s->built, &s->why);
    }
    for (int i = 0; files && i < nfiles; i++)
        ag_buf_dispose(&files[i]);
    free(files);
    free(srcs);
    s->build_ns = uv_hrtime() - t0;
}

static void poll_success(ag_armsync_t *s, ag_metric_id result)
{
    for (int k = 0; k < AG_ARM_KINDS; k++) {
        pages_t tmp = s->good[k];
        s->good[k] = s->cur[k];
        s->cur[k] = tmp;
        gauge_set(s->m.objects[k], &s->g.objects[k], s->good[k].items);
        if (!s->good[k].etag[0]) /* no 304 can come: the pages are not needed again */
            pages_clear(&s->good[k]);
    }
    s->good_hash = s->hash;
    s->have_good = true;
    s->last_ok_ms = uv_now(s->loop);
    s->last_warn_ms = 0; /* the next failure is news */
    gauge_set(s->m.age, &s->g.age, 0);
    ag_metrics_inc(result);
    poll_end(s, 0);
}

static void on_built(uv_work_t *w, int status)
{
    ag_armsync_t *s = w->data;
    s->pending--;
    if (closing(s) || status != 0 || s->build_err) {
        ag_azrbac_unref(s->built);
        s->built = NULL;
        if (closing(s)) {
            maybe_release(s);
            return;
        }
        poll_fail(s, F_INVALID, "ARM answered items the loader refuses",
                  s->why.n ? s->why.p : ag_err_str(status ? AG_E_IO : s->build_err));
        return;
    }
    ag_azrbac_stats_t st;
    ag_azrbac_stats(s->built, &st);
    gauge_set(s->m.unresolved, &s->g.unresolved, st.assignments_unknown_role);
    if (!s->once)
        ag_info("arm: Azure RBAC set published: %d role definitions, %d assignments kept "
                "(%d at other scopes, %d of an unknown role, %d conditional), %d deny "
                "assignments; poll %llu ms, build %llu ms",
                st.roles, st.assignments, st.assignments_ignored, st.assignments_unknown_role,
                st.assignments_conditional, st.deny_assignments,
                (unsigned long long)(uv_now(s->loop) - s->poll_t0),
                (unsigned long long)(s->build_ns / 1000000));
    s->publish(s->ud, s->built);
    s->built = NULL;
    poll_success(s, s->m.ok);
}

static void poll_complete(ag_armsync_t *s)
{
    const ag_azure_config_t *c = s->c;
    s->hash = pages_hash(s->cur);
    if (s->have_good && s->hash == s->good_hash &&
        c->ndefinitions + c->nassignments + c->ndeny == 0) {
        poll_success(s, s->m.unchanged);
        return;
    }
    s->work.data = s;
    s->pending++;
    if (s->once) {
        on_build(&s->work);
        on_built(&s->work, 0);
        return;
    }
    if (uv_queue_work(s->loop, &s->work, on_build, on_built) != 0) {
        s->pending--;
        poll_fail(s, F_INVALID, "cannot queue the snapshot build", NULL);
    }
}

/* The next request of the poll: the first page of <kind>, or the poll is complete. */
static void kind_start(ag_armsync_t *s)
{
    ag_buf_clear(&s->url);
    if (s->kind >= AG_ARM_KINDS) {
        poll_complete(s);
        return;
    }
    if (ag_arm_list_url(&s->url, s->c->arm.base_url, s->c->cluster_resource_id,
                        (ag_arm_kind)s->kind) != 0) {
        poll_fail(s, F_INVALID, "cannot build the list URL", NULL);
        return;
    }
    s->attempt = s->throttled = 0;
    s->auth_retried = false;
    request_start(s);
}

static void poll_start(ag_armsync_t *s)
{
    if (closing(s))
        return;
    s->poll_t0 = uv_now(s->loop);
    s->kind = 0;
    kind_start(s);
}

static void on_retry_timer(uv_timer_t *t)
{
    request_start(t->data);
}

/* A 200 page: keep it, then its nextLink or the next kind. */
static void on_page(ag_armsync_t *s, const ag_fetch_res_t *res, bool first)
{
    ag_arena_t arena;
    ag_arm_page_t pg;
    ag_arena_init(&arena, 0, 0);
    ag_err err = ag_arm_page_parse(res->body, s->c->arm.base_url, &arena, &pg);
    if (!err)
        err = pages_add(&s->cur[s->kind], res->body, pg.items);
    if (!err && first)
        snprintf(s->cur[s->kind].etag, sizeof s->cur[s->kind].etag, "%s", res->etag);
    if (!err && pg.next.p && s->cur[s->kind].n >= AG_ARMSYNC_MAX_PAGES)
        err = AG_E_TOO_BIG;
    if (!err && pg.next.p) {
        ag_buf_clear(&s->url);
        err = ag_buf_append_str(&s->url, pg.next);
    }
    ag_arena_dispose(&arena);
    if (err) {
        poll_fail(s, F_GARBAGE, "ARM answered a page that is not a list", ag_err_str(err));
        return;
    }
    if (pg.next.p) {
        s->attempt = s->throttled = 0;
        request_start(s);
        return;
    }
    s->kind++;
    kind_start(s);
}

/* 429 and 5xx: wait (Retry-After when ARM gave one) and ask again, within bounds. */
static bool retry_later(ag_armsync_t *s, const ag_fetch_res_t *res, int *reason)
{
    long long ra = res->retry_after_s;
    uint64_t ms;
    if (res->err == 0 && res->status == 429) {
        ag_metrics_inc(s->m.throttled);
        *reason = F_THROTTLED;
        if (++s->throttled > AG_ARMSYNC_MAX_THROTTLED)
            return false;
        ms = ra >= 0 ? (uint64_t)ra * 1000 : THROTTLE_DEFAULT_MS;
    } else {
        *reason = res->err == AG_E_TIMEOUT ? F_TIMEOUT : res->err ? F_NETWORK : F_HTTP;
        if (++s->attempt > AG_ARMSYNC_MAX_RETRIES)
            return false;
        ms = ra >= 0 && res->err == 0 ? (uint64_t)ra * 1000 : 1000ull << (s->attempt - 1);
    }
    if (ms > AG_ARMSYNC_MAX_WAIT_MS)
        ms = AG_ARMSYNC_MAX_WAIT_MS;
    schedule(s, ms, on_retry_timer);
    return true;
}

static void on_response(void *arg, const ag_fetch_res_t *res)
{
    ag_armsync_t *s = arg;
    bool first = s->cur[s->kind].n == 0;
    int reason;
    char detail[64];
    s->pending--;
    if (closing(s)) {
        maybe_release(s);
        return;
    }
    snprintf(detail, sizeof detail, "HTTP %ld from %s", res->status,
             ag_arm_kind_type((ag_arm_kind)s->kind));
    if (res->err == 0 && res->status == 200) {
        on_page(s, res, first);
        return;
    }
    if (res->err == 0 && res->status == 304 && first && s->have_good) {
        if (pages_copy(&s->cur[s->kind], &s->good[s->kind]) != 0) {
            poll_fail(s, F_INVALID, "out of memory", NULL);
            return;
        }
        s->kind++;
        kind_start(s);
        return;
    }
    if (res->err == 0 && res->status == 401 && !s->auth_retried) {
        s->auth_retried = true; /* the app token was refused: a new one, once */
        ag_apptoken_invalidate(s->tok, s->token_gen);
        request_start(s);
        return;
    }
    bool retryable = res->err ? res->err != AG_E_TOO_BIG : res->status == 429 || res->status >= 500;
    if (retryable && retry_later(s, res, &reason))
        return;
    if (!retryable)
        reason = res->err ? F_GARBAGE : res->status == 401 || res->status == 403 ? F_AUTH : F_HTTP;
    poll_fail(s, reason, res->err ? "ARM request failed" : "ARM answered an error status",
              res->err ? res->detail : detail);
}

static void on_token(ag_apptoken_wait_t *w, ag_err err, const char *reason, const char *detail)
{
    ag_armsync_t *s = (ag_armsync_t *)((char *)w - offsetof(ag_armsync_t, tw));
    s->waiting_token = false;
    if (err) {
        poll_fail(s, F_TOKEN, reason, detail);
        return;
    }
    request_start(s);
}

static void request_start(ag_armsync_t *s)
{
    if (closing(s))
        return;
    const char *auth = ag_apptoken_header(s->tok, &s->token_gen);
    if (!auth) {
        s->tw.cb = on_token;
        s->waiting_token = true;
        ag_apptoken_wait(s->tok, &s->tw);
        return;
    }
    char inm[300] = "";
    const pages_t *good = &s->good[s->kind];
    if (s->have_good && s->cur[s->kind].n == 0 && good->etag[0])
        snprintf(inm, sizeof inm, "If-None-Match: %s", good->etag);
    const char *headers[] = {auth, "Accept: application/json", inm[0] ? inm : NULL, NULL};
    ag_fetch_req_t req = {.url = s->url.p,
                          .method = "GET",
                          .headers = headers,
                          .timeout_ms = (long)s->c->arm.cred.timeout_ms,
                          .max_bytes = AG_ARM_MAX_PAGE_BYTES};
    ag_err err = ag_fetch_start(s->fetch, &req, on_response, s);
    if (err) {
        poll_fail(s, F_NETWORK, "could not start the ARM request", ag_err_str(err));
        return;
    }
    s->pending++;
    ag_metrics_inc(s->m.requests);
}

/* ---- life cycle ----------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
    ag_armsync_t *s = h->data;
    s->pending--;
    maybe_release(s);
}

static ag_err create(uv_loop_t *loop, const ag_azure_config_t *c, bool once, ag_armsync_t **out)
{
    ag_armsync_t *s = calloc(1, sizeof *s);
    ag_err err;
    if (!s)
        return AG_E_NOMEM;
    s->loop = loop;
    s->c = c;
    s->once = once;
    s->url = AG_BUF_INIT(16384);
    s->why = AG_BUF_INIT(16384);
    if (once)
        no_metrics(s);
    else
        register_metrics(s);
    if ((err = ag_fetch_create(loop, NULL, &s->fetch)) != 0 ||
        (err = ag_apptoken_create(loop, s->fetch, &c->arm.cred, "arm", s->m.tokens, &s->tok))) {
        ag_fetch_destroy(s->fetch);
        free(s);
        return err;
    }
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->age_timer);
    s->timer.data = s->age_timer.data = s;
    *out = s;
    return 0;
}

ag_err ag_armsync_create(uv_loop_t *loop, const ag_azure_config_t *c, ag_armsync_publish_fn fn,
                         void *ud, ag_armsync_t **out)
{
    ag_err err = create(loop, c, false, out);
    if (err)
        return err;
    (*out)->publish = fn;
    (*out)->ud = ud;
    uv_unref((uv_handle_t *)&(*out)->age_timer);
    uv_unref((uv_handle_t *)&(*out)->timer);
    uv_timer_start(&(*out)->age_timer, on_age, 1000, 1000);
    poll_start(*out);
    return 0;
}

void ag_armsync_destroy(ag_armsync_t *s)
{
    if (!s)
        return;
    s->stopping = true;
    if (s->waiting_token)
        ag_apptoken_cancel(s->tok, &s->tw);
    ag_apptoken_destroy(s->tok);
    s->tok = NULL;
    s->pending += 2;            /* the timers' closes */
    ag_fetch_destroy(s->fetch); /* a running request completes now (AG_E_CANCELED) */
    s->fetch = NULL;
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->age_timer, on_timer_closed);
}

static void keep_once(void *ud, ag_azrbac_t *az)
{
    ag_azrbac_t **out = ud;
    ag_azrbac_unref(*out);
    *out = az;
}

ag_err ag_armsync_once(const ag_azure_config_t *c, ag_azrbac_t **out, ag_buf_t *errmsg)
{
    uv_loop_t loop;
    ag_armsync_t *s = NULL;
    ag_err err;
    *out = NULL;
    if (uv_loop_init(&loop) != 0)
        return AG_E_IO;
    if ((err = create(&loop, c, true, &s)) == 0) {
        s->publish = keep_once;
        s->ud = out;
        poll_start(s);
        while (!s->done && uv_run(&loop, UV_RUN_ONCE))
            ;
        err = s->done ? s->once_err : AG_E_UPSTREAM;
        if (err && errmsg)
            ag_buf_printf(errmsg, "%s", s->why.n ? s->why.p : ag_err_str(err));
        ag_armsync_destroy(s);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (err) {
        ag_azrbac_unref(*out);
        *out = NULL;
    }
    return err;
}
