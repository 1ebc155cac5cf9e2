/* Key manager (keys.h). One slot per issuer. A remote slot runs a small state machine
 * on the control loop: [discovery ->] JWKS -> publish -> timer -> ... ; failures keep
 * the published set and retry with backoff. Requests that met an unknown kid park a
 * waiter on the slot and are answered through their own loop's mailbox.
 *
 * Publication: each remote slot is a snapshot domain (snapshot.h) whose snapshots wrap
 * one parsed key set; a verification enters it for the length of one ag_authn_verify
 * (ag_keys_borrow_fn), the control loop publishes a fetched set and the replaced one is
 * freed on the control loop once no verification holds it. */
#include "authn/keys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/snapshot.h"

#define LOG_EVERY_MS (60 * 1000) /* repeated IdP failures: one WARN per issuer per minute */

typedef struct slot slot_t;

struct slot {
    ag_keys_t *k;
    const ag_issuer_t *iss;
    bool remote;
    ag_snap_domain_t *dom;    /* remote: published key sets; local: NULL (served from iss) */
    uv_timer_t refresh_timer; /* next scheduled refresh or retry */
    uv_timer_t wait_timer;    /* bounds how long waiters wait */
    char *jwks_uri;           /* configured, or learnt from discovery (owned) */
    bool rediscover;          /* discovery again before the next JWKS fetch */
    bool fetching, stale;
    bool kid_refreshed_once;
    uint64_t last_kid_refresh;     /* uv_now of the last unknown-kid refresh */
    uint64_t last_log;             /* uv_now of the last WARN */
    unsigned long long suppressed; /* failures not logged since */
    uint64_t next_at;              /* uv_now of the scheduled refresh */
    long long adopted_next_ms;     /* ag_keys_adopt: first refresh in this long; -1: now */
    long long backoff_ms;
    ag_keys_waiter_t *waiters;
    char last_err[512]; /* the last failed fetch, for /readyz */
    ag_keys_status_t st;
    /* per-issuer gauges (label issuer="<url>"); values set as deltas on the control slot */
    ag_metric_id m_issuer_stale, m_issuer_keys, m_issuer_success;
    long long shown_keys, shown_success;
};

struct ag_keys {
    uv_loop_t *loop;
    ag_fetch_t *fetch;
    const ag_issuer_set_t *issuers;
    ag_keys_opts_t o;
    ag_mailbox_t *inbox; /* waiters from workers */
    slot_t *slots;
    int nslots;
    atomic_bool ready;
    int open_handles, inflight;
    bool closing;
};

static ag_metric_id m_fetch_ok = -1, m_fetch_err = -1, m_fetch_invalid = -1, m_stale = -1,
                    m_kid_refresh = -1, m_kid_limited = -1, m_kid_timeout = -1;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void register_metrics(void)
{
    static const char *h1 = "JWKS and discovery fetches by result.";
    m_fetch_ok = ag_metrics_counter("authgate_jwks_fetch_total", "result=\"ok\"", h1);
    m_fetch_err = ag_metrics_counter("authgate_jwks_fetch_total", "result=\"error\"", h1);
    m_fetch_invalid = ag_metrics_counter("authgate_jwks_fetch_total", "result=\"invalid\"", h1);
    m_stale = ag_metrics_gauge("authgate_jwks_stale_issuers", NULL,
                               "Issuers whose last key refresh failed (last good keys serve).");
    static const char *h2 = "Unknown-kid refresh requests by outcome.";
    m_kid_refresh =
        ag_metrics_counter("authgate_jwks_unknown_kid_total", "outcome=\"refresh\"", h2);
    m_kid_limited =
        ag_metrics_counter("authgate_jwks_unknown_kid_total", "outcome=\"rate_limited\"", h2);
    m_kid_timeout =
        ag_metrics_counter("authgate_jwks_unknown_kid_total", "outcome=\"timeout\"", h2);
}

/* Label strings of per-issuer series: the metrics registry borrows them for the life of
 * the process, so they are interned here and never freed (reachable, not leaked). */
static char *issuer_labels[AG_METRICS_MAX];
static int nissuer_labels;
static pthread_mutex_t labels_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *intern_label(const char *label)
{
    const char *out = NULL;
    pthread_mutex_lock(&labels_lock);
    for (int i = 0; i < nissuer_labels && !out; i++)
        if (strcmp(issuer_labels[i], label) == 0)
            out = issuer_labels[i];
    if (!out && nissuer_labels < AG_METRICS_MAX && (issuer_labels[nissuer_labels] = strdup(label)))
        out = issuer_labels[nissuer_labels++];
    pthread_mutex_unlock(&labels_lock);
    return out;
}

static void register_issuer_metrics(slot_t *s)
{
    ag_str_t url = ag_issuer_url(s->iss);
    ag_buf_t label = AG_BUF_INIT(1024);
    s->m_issuer_stale = s->m_issuer_keys = s->m_issuer_success = -1;
    ag_buf_append_cstr(&label, "issuer=\"");
    for (size_t i = 0; i < url.n; i++) { /* Prometheus label escaping */
        char c = url.p[i];
        if (c == '\\' || c == '"')
            ag_buf_append(&label, "\\", 1);
        if (c == '\n')
            ag_buf_append_cstr(&label, "\\n");
        else if (ag_buf_append(&label, &c, 1) != 0)
            break;
    }
    const char *l = ag_buf_append_cstr(&label, "\"") == 0 ? intern_label(label.p) : NULL;
    ag_buf_dispose(&label);
    if (!l)
        return;
    s->m_issuer_stale = ag_metrics_gauge("authgate_jwks_issuer_stale", l,
                                         "1 while the issuer's last key refresh failed.");
    s->m_issuer_keys =
        ag_metrics_gauge("authgate_jwks_issuer_keys", l, "Keys in the issuer's published set.");
    s->m_issuer_success = ag_metrics_gauge("authgate_jwks_last_success_timestamp_seconds", l,
                                           "Unix time of the issuer's last successful key fetch.");
    /* shown while a manager has this issuer: an issuer a reload removed leaves /metrics */
    ag_metrics_retain(s->m_issuer_stale);
    ag_metrics_retain(s->m_issuer_keys);
    ag_metrics_retain(s->m_issuer_success);
}

static void show_issuer(slot_t *s, long long nkeys, long long success_s)
{
    ag_metrics_add(s->m_issuer_keys, nkeys - s->shown_keys);
    s->shown_keys = nkeys;
    if (success_s) {
        ag_metrics_add(s->m_issuer_success, success_s - s->shown_success);
        s->shown_success = success_s;
    }
}

/* ---- publication (any thread) --------------------------------------------------------- */

static slot_t *slot_of(ag_keys_t *k, const ag_issuer_t *iss)
{
    for (int i = 0; i < k->nslots; i++)
        if (k->slots[i].iss == iss)
            return &k->slots[i];
    return NULL;
}

/* A published key set: one parsed JWKS (owned reference). */
typedef struct {
    ag_snap_t snap;
    ag_jwks_t *ks;
} keyset_t;

static void keyset_free(ag_snap_t *s)
{
    ag_jwks_unref(((keyset_t *)s)->ks);
    free(s);
}

/* Control loop (the writer): the set in use, NULL before the first fetch. */
static ag_jwks_t *current_keys(slot_t *s)
{
    keyset_t *cur = (keyset_t *)ag_snap_current(s->dom);
    return cur ? cur->ks : NULL;
}

ag_jwks_t *ag_keys_acquire(ag_keys_t *k, const ag_issuer_t *iss)
{
    slot_t *s = k ? slot_of(k, iss) : NULL;
    ag_jwks_t *ks;
    if (!s || !s->remote) {
        ks = (ag_jwks_t *)ag_issuer_static_keys(iss);
        if (ks)
            ag_jwks_ref(ks);
        return ks;
    }
    keyset_t *cur = (keyset_t *)ag_snap_enter(s->dom);
    ks = cur ? cur->ks : NULL;
    if (ks)
        ag_jwks_ref(ks);
    ag_snap_leave(s->dom);
    return ks;
}

/* Takes over <ks>; a set that cannot be wrapped is dropped (the old one keeps serving). */
static bool publish(slot_t *s, ag_jwks_t *ks)
{
    keyset_t *set = malloc(sizeof *set);
    if (!set) {
        ag_jwks_unref(ks);
        return false;
    }
    *set = (keyset_t){.snap = {.free = keyset_free}, .ks = ks};
    ag_snap_publish(s->dom, &set->snap);
    return true;
}

bool ag_keys_ready(const ag_keys_t *k)
{
    return atomic_load(&k->ready);
}

const ag_jwks_t *ag_keys_borrow_fn(void *ctx, const ag_issuer_t *iss)
{
    ag_keys_borrow_t *b = ctx;
    slot_t *s = b->keys ? slot_of(b->keys, iss) : NULL;
    ag_keys_borrow_release(b);
    if (!s || !s->remote)
        return ag_issuer_static_keys(iss); /* lives as long as the issuer set */
    keyset_t *cur = (keyset_t *)ag_snap_enter(s->dom);
    b->entered = s->dom;
    return cur ? cur->ks : NULL;
}

void ag_keys_borrow_release(ag_keys_borrow_t *b)
{
    if (b->entered)
        ag_snap_leave(b->entered);
    b->entered = NULL;
}

/* ---- waiters --------------------------------------------------------------------------- */

static void on_answer(ag_mailbox_msg_t *msg)
{
    ag_keys_waiter_t *w = (ag_keys_waiter_t *)msg;
    w->cb(w->arg, w->outcome);
}

static void answer(ag_keys_waiter_t *w, ag_keys_outcome o)
{
    w->outcome = o;
    w->msg.fn = on_answer;
    ag_mailbox_post(w->reply, &w->msg);
}

static void answer_all(slot_t *s, ag_keys_outcome o)
{
    ag_keys_waiter_t *w = s->waiters;
    s->waiters = NULL;
    uv_timer_stop(&s->wait_timer);
    while (w) {
        ag_keys_waiter_t *next = w->next;
        answer(w, o);
        w = next;
    }
}

static void on_wait_timeout(uv_timer_t *t)
{
    slot_t *s = t->data;
    for (ag_keys_waiter_t *w = s->waiters; w; w = w->next)
        ag_metrics_inc(m_kid_timeout);
    answer_all(s, AG_KEYS_TIMEOUT); /* the fetch goes on; later requests will see it */
}

/* ---- refresh state machine (control loop) ----------------------------------------------- */

static void refresh(slot_t *s);
static void failed(slot_t *s, bool invalid, const char *what, const char *detail);

static void update_ready(ag_keys_t *k)
{
    for (int i = 0; i < k->nslots; i++)
        if (k->slots[i].remote && !k->slots[i].iss->optional && !current_keys(&k->slots[i]))
            return;
    atomic_store(&k->ready, true);
}

static void on_refresh_timer(uv_timer_t *t)
{
    refresh(t->data);
}

static void arm(slot_t *s, long long ms)
{
    s->next_at = uv_now(s->k->loop) + (uint64_t)ms;
    uv_timer_start(&s->refresh_timer, on_refresh_timer, (uint64_t)ms, 0);
}

static void succeeded(slot_t *s, ag_jwks_t *ks, long long max_age_s)
{
    const ag_keys_opts_t *o = &s->k->o;
    long long next = max_age_s >= 0 ? max_age_s * 1000 : o->refresh_max_ms;
    if (next < o->refresh_min_ms)
        next = o->refresh_min_ms;
    if (next > o->refresh_max_ms)
        next = o->refresh_max_ms; /* a long max-age must not delay a rotation (#30) */
    if (!publish(s, ks)) {
        failed(s, false, "JWKS publish", "out of memory");
        return;
    }
    s->fetching = false;
    s->st.refreshes++;
    s->st.nkeys = ag_jwks_count(ks);
    s->st.has_keys = true;
    show_issuer(s, s->st.nkeys, (long long)time(NULL));
    if (s->stale) {
        s->stale = false;
        ag_metrics_add(m_stale, -1);
        ag_metrics_add(s->m_issuer_stale, -1);
        ag_info("keys for issuer %.*s are fresh again (%d keys)", AG_STR_FMT(ag_issuer_url(s->iss)),
                s->st.nkeys);
    }
    s->backoff_ms = o->retry_min_ms;
    ag_metrics_inc(m_fetch_ok);
    update_ready(s->k);
    arm(s, next);
    answer_all(s, AG_KEYS_REFRESHED);
}

static void failed(slot_t *s, bool invalid, const char *what, const char *detail)
{
    ag_keys_t *k = s->k;
    uint64_t now = uv_now(k->loop);
    s->fetching = false;
    s->st.failures++;
    s->rediscover = ag_issuer_uses_discovery(s->iss); /* the jwks_uri may have moved */
    ag_metrics_inc(invalid ? m_fetch_invalid : m_fetch_err);
    snprintf(s->last_err, sizeof s->last_err, "%s failed: %s", what, detail);
    if (!s->stale && current_keys(s)) {
        s->stale = true;
        ag_metrics_add(m_stale, 1);
        ag_metrics_add(s->m_issuer_stale, 1);
    }
    if (s->last_log == 0 || now - s->last_log >= LOG_EVERY_MS) {
        ag_warn("keys for issuer %.*s: %s failed: %s; %s (retry in %lld ms, %llu failures not "
                "logged)",
                AG_STR_FMT(ag_issuer_url(s->iss)), what, detail,
                current_keys(s) ? "last good keys keep serving (stale)" : "no keys yet",
                s->backoff_ms, s->suppressed);
        s->last_log = now;
        s->suppressed = 0;
    } else {
        s->suppressed++;
    }
    arm(s, s->backoff_ms);
    s->backoff_ms = s->backoff_ms * 2 > k->o.retry_max_ms ? k->o.retry_max_ms : s->backoff_ms * 2;
    answer_all(s, AG_KEYS_FAILED);
}

static bool http_url(ag_str_t u)
{
    return ag_str_starts_with(u, AG_STR("https://")) || ag_str_starts_with(u, AG_STR("http://"));
}

/* A fetch callback's common prologue: false when the manager is going away. */
static bool fetch_returned(slot_t *s);

static void on_jwks(void *arg, const ag_fetch_res_t *res)
{
    slot_t *s = arg;
    ag_jwks_t *ks = NULL;
    char detail[96];
    if (!fetch_returned(s))
        return;
    if (res->err) {
        failed(s, false, "JWKS fetch", res->detail);
    } else if (res->status != 200) {
        snprintf(detail, sizeof detail, "HTTP status %ld", res->status);
        failed(s, false, "JWKS fetch", detail);
    } else if (ag_jwks_parse(res->body, &ks) != 0) {
        failed(s, true, "JWKS parse", "response is not a usable key set; not replacing keys");
    } else {
        succeeded(s, ks, res->max_age_s);
    }
}

static void start_jwks(slot_t *s)
{
    ag_keys_t *k = s->k;
    ag_fetch_req_t req = {.url = s->jwks_uri,
                          .headers = (const char *const[]){"Accept: application/json", NULL},
                          .timeout_ms = k->o.fetch_timeout_ms,
                          .max_bytes = k->o.max_bytes};
    if (ag_fetch_start(k->fetch, &req, on_jwks, s) != 0) {
        failed(s, false, "JWKS fetch", "request refused (bad jwks_uri?)");
        return;
    }
    k->inflight++;
}

/* "discovery document names issuer X, the configured issuer is Y" into <buf>: both values,
 * the remote one cut at 160 bytes and its non-printable bytes shown as '?'. */
static const char *issuer_mismatch(slot_t *s, ag_str_t got, char *buf, size_t len)
{
    char shown[161];
    size_t n = got.n < sizeof shown - 1 ? got.n : sizeof shown - 1;
    for (size_t i = 0; i < n; i++)
        shown[i] = got.p[i] >= 0x20 && got.p[i] < 0x7f && got.p[i] != '"' ? got.p[i] : '?';
    shown[n] = '\0';
    snprintf(buf, len,
             "discovery document names issuer \"%s\"%s but the configured issuer is "
             "\"%.*s\" (they must be equal byte for byte, trailing slash included)",
             shown, got.n > n ? "..." : "", AG_STR_FMT(ag_issuer_url(s->iss)));
    return buf;
}

/* OIDC Discovery 1.0 §4.3: the document's issuer must be exactly the configured one. */
static const char *read_discovery(slot_t *s, ag_str_t body, char *buf, size_t len)
{
    ag_arena_t arena;
    ag_json_t doc;
    ag_str_t iss, uri;
    const char *why = NULL;
    ag_arena_init(&arena, 0, 1u << 22);
    ag_json_ref root, r;
    if (ag_json_parse(&doc, body, NULL, &arena, NULL) != 0 ||
        ag_json_typeof(&doc, (root = ag_json_root(&doc))) != AG_JSON_OBJECT)
        why = "discovery document is not a JSON object";
    else if (ag_json_str(&doc, ag_json_get(&doc, root, "issuer"), &arena, &iss) != 0)
        why = "discovery document has no issuer string";
    else if (!ag_str_eq(iss, ag_issuer_url(s->iss)))
        why = issuer_mismatch(s, iss, buf, len);
    else if ((r = ag_json_get(&doc, root, "jwks_uri")) == AG_JSON_NONE ||
             ag_json_str(&doc, r, &arena, &uri) != 0 || !http_url(uri) ||
             memchr(uri.p, '\0', uri.n))
        why = "discovery document has no usable jwks_uri";
    else {
        char *copy = malloc(uri.n + 1);
        if (!copy) {
            why = "out of memory";
        } else {
            memcpy(copy, uri.p, uri.n);
            copy[uri.n] = '\0';
            free(s->jwks_uri);
            s->jwks_uri = copy;
        }
    }
    ag_arena_dispose(&arena);
    return why;
}

static void on_discovery(void *arg, const ag_fetch_res_t *res)
{
    slot_t *s = arg;
    char detail[400];
    const char *why;
    if (!fetch_returned(s))
        return;
    if (res->err) {
        failed(s, false, "discovery", res->detail);
    } else if (res->status != 200) {
        snprintf(detail, sizeof detail, "HTTP status %ld", res->status);
        failed(s, false, "discovery", detail);
    } else if ((why = read_discovery(s, res->body, detail, sizeof detail)) != NULL) {
        failed(s, true, "discovery", why);
    } else {
        s->rediscover = false;
        start_jwks(s);
    }
}

static void start_discovery(slot_t *s)
{
    ag_keys_t *k = s->k;
    ag_str_t u = ag_issuer_discovery_url(s->iss);
    char *url = malloc(u.n + 1);
    if (!url) {
        failed(s, false, "discovery", "out of memory");
        return;
    }
    memcpy(url, u.p, u.n);
    url[u.n] = '\0';
    ag_fetch_req_t req = {.url = url,
                          .headers = (const char *const[]){"Accept: application/json", NULL},
                          .timeout_ms = k->o.fetch_timeout_ms,
                          .max_bytes = k->o.max_bytes};
    ag_err err = ag_fetch_start(k->fetch, &req, on_discovery, s);
    free(url); /* copied by the engine */
    if (err) {
        failed(s, false, "discovery", "request refused (bad issuer URL?)");
        return;
    }
    k->inflight++;
}

static void refresh(slot_t *s)
{
    if (s->fetching || s->k->closing)
        return;
    s->fetching = true;
    uv_timer_stop(&s->refresh_timer);
    if (s->rediscover || !s->jwks_uri)
        start_discovery(s);
    else
        start_jwks(s);
}

/* ---- unknown kid (control loop side) ----------------------------------------------------- */

static void on_kid_request(ag_mailbox_msg_t *msg)
{
    ag_keys_waiter_t *w = (ag_keys_waiter_t *)msg;
    ag_keys_t *k = w->keys;
    slot_t *s = &k->slots[w->slot];
    uint64_t now = uv_now(k->loop);
    if (k->closing) {
        answer(w, AG_KEYS_FAILED);
        return;
    }
    ag_jwks_t *cur = current_keys(s); /* the control loop is the only writer */
    if (cur && w->kid_n && ag_jwks_find(cur, ag_str_make(w->kid, w->kid_n), AG_STR_NULL)) {
        answer(w, AG_KEYS_REFRESHED); /* published meanwhile: verify again */
        return;
    }
    if (!s->fetching && s->kid_refreshed_once &&
        now - s->last_kid_refresh < (uint64_t)k->o.kid_interval_ms) {
        ag_metrics_inc(m_kid_limited);
        answer(w, AG_KEYS_UNCHANGED); /* threat-model #29: one fetch per interval */
        return;
    }
    w->next = s->waiters;
    s->waiters = w;
    if (!uv_is_active((uv_handle_t *)&s->wait_timer))
        uv_timer_start(&s->wait_timer, on_wait_timeout, (uint64_t)k->o.kid_wait_ms, 0);
    if (!s->fetching) {
        s->kid_refreshed_once = true;
        s->last_kid_refresh = now;
        s->st.kid_refreshes++;
        ag_metrics_inc(m_kid_refresh);
        refresh(s); /* may fail at once: then the waiters are answered already */
    }
}

ag_err ag_keys_refresh_for_kid(ag_keys_t *k, const ag_issuer_t *iss, ag_str_t kid,
                               ag_mailbox_t *reply, ag_keys_cb cb, void *arg, ag_keys_waiter_t *w)
{
    slot_t *s = k ? slot_of(k, iss) : NULL;
    if (!s || !s->remote || !reply || !cb || kid.n > AG_KEYS_MAX_KID)
        return AG_E_INVAL;
    memset(w, 0, sizeof *w);
    w->keys = k;
    w->slot = (int)(s - k->slots);
    if (kid.n)
        memcpy(w->kid, kid.p, kid.n); /* the request arena is not the control loop's */
    w->kid_n = kid.n;
    w->reply = reply;
    w->cb = cb;
    w->arg = arg;
    w->msg.fn = on_kid_request;
    ag_mailbox_post(k->inbox, &w->msg);
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void maybe_free(ag_keys_t *k)
{
    if (!k->closing || k->open_handles > 0 || k->inflight > 0)
        return;
    for (int i = 0; i < k->nslots; i++) {
        ag_snap_domain_destroy(k->slots[i].dom);
        free(k->slots[i].jwks_uri);
    }
    free(k->slots);
    free(k);
}

static bool fetch_returned(slot_t *s)
{
    ag_keys_t *k = s->k;
    k->inflight--;
    if (k->closing) {
        s->fetching = false;
        maybe_free(k);
        return false;
    }
    return true;
}

static void on_handle_close(uv_handle_t *h)
{
    slot_t *s = h->data;
    ag_keys_t *k = s->k;
    k->open_handles--;
    maybe_free(k);
}

static void set_defaults(ag_keys_opts_t *o)
{
    if (o->refresh_min_ms <= 0)
        o->refresh_min_ms = 60 * 1000;
    if (o->refresh_max_ms <= 0)
        o->refresh_max_ms = 60 * 60 * 1000;
    if (o->refresh_max_ms < o->refresh_min_ms)
        o->refresh_max_ms = o->refresh_min_ms;
    if (o->kid_interval_ms <= 0)
        o->kid_interval_ms = 10 * 1000;
    if (o->kid_wait_ms <= 0)
        o->kid_wait_ms = 2000;
    if (o->retry_min_ms <= 0)
        o->retry_min_ms = 1000;
    if (o->retry_max_ms < o->retry_min_ms)
        o->retry_max_ms = o->retry_min_ms > 60000 ? o->retry_min_ms : 60000;
    if (o->fetch_timeout_ms <= 0)
        o->fetch_timeout_ms = AG_FETCH_DEFAULT_TIMEOUT_MS;
    if (o->max_bytes == 0)
        o->max_bytes = AG_FETCH_DEFAULT_MAX_BYTES;
}

ag_err ag_keys_create(uv_loop_t *loop, ag_fetch_t *fetch, const ag_issuer_set_t *issuers,
                      const ag_keys_opts_t *opts, ag_keys_t **out)
{
    ag_keys_t *k = calloc(1, sizeof *k);
    int n = ag_issuer_count(issuers);
    if (!k || !(k->slots = calloc((size_t)(n ? n : 1), sizeof *k->slots))) {
        free(k);
        return AG_E_NOMEM;
    }
    pthread_once(&metrics_once, register_metrics);
    k->loop = loop;
    k->fetch = fetch;
    k->issuers = issuers;
    k->o = opts ? *opts : (ag_keys_opts_t){0};
    set_defaults(&k->o);
    k->nslots = n;
    ag_err err = ag_mailbox_create(loop, &k->inbox);
    for (int i = 0; i < n && !err; i++) {
        slot_t *s = &k->slots[i];
        s->k = k;
        s->iss = ag_issuer_at(issuers, i);
        s->remote = ag_issuer_keys_remote(s->iss);
        s->backoff_ms = k->o.retry_min_ms;
        s->adopted_next_ms = -1;
        s->st.remote = s->remote;
        s->st.has_keys = !s->remote && ag_issuer_static_keys(s->iss);
        s->st.nkeys = s->st.has_keys ? ag_jwks_count(ag_issuer_static_keys(s->iss)) : 0;
        if (!s->remote)
            continue;
        if ((err = ag_snap_domain_create("issuer keys", &s->dom)) != 0)
            break;
        ag_str_t u = ag_issuer_jwks_uri(s->iss);
        if (u.n && (s->jwks_uri = malloc(u.n + 1)) == NULL) {
            err = AG_E_NOMEM;
            break;
        }
        if (u.n) {
            memcpy(s->jwks_uri, u.p, u.n);
            s->jwks_uri[u.n] = '\0';
        }
        register_issuer_metrics(s);
        uv_timer_init(loop, &s->refresh_timer);
        uv_timer_init(loop, &s->wait_timer);
        s->refresh_timer.data = s->wait_timer.data = s;
        k->open_handles += 2;
    }
    if (err) {
        ag_keys_destroy(k);
        return err;
    }
    update_ready(k);
    *out = k;
    return 0;
}

void ag_keys_start(ag_keys_t *k)
{
    for (int i = 0; i < k->nslots; i++) {
        slot_t *s = &k->slots[i];
        if (!s->remote)
            continue;
        if (s->adopted_next_ms >= 0) /* keys carried over: keep the old schedule */
            arm(s, s->adopted_next_ms);
        else
            refresh(s);
    }
}

/* <from>'s remote slot that fetches keys for <iss> the same way, or NULL. */
static slot_t *same_source(ag_keys_t *from, const ag_issuer_t *iss)
{
    for (int i = 0; i < from->nslots; i++) {
        const ag_issuer_t *o = from->slots[i].iss;
        if (from->slots[i].remote && ag_str_eq(ag_issuer_url(o), ag_issuer_url(iss)) &&
            ag_str_eq(ag_issuer_jwks_uri(o), ag_issuer_jwks_uri(iss)) &&
            ag_issuer_uses_discovery(o) == ag_issuer_uses_discovery(iss))
            return &from->slots[i];
    }
    return NULL;
}

/* One slot of ag_keys_adopt: publishes <o>'s keys in <s> and takes over its schedule. */
static void adopt_slot(slot_t *s, slot_t *o)
{
    ag_jwks_t *ks = current_keys(o);
    uint64_t now = uv_now(s->k->loop);
    if (!ks)
        return;
    ag_jwks_ref(ks);
    if (!publish(s, ks))
        return;
    if (o->jwks_uri && !s->jwks_uri)
        s->jwks_uri = strdup(o->jwks_uri); /* learnt from discovery; NULL: discover again */
    s->st = o->st;
    s->adopted_next_ms =
        o->fetching || o->stale || o->next_at <= now ? 0 : (long long)(o->next_at - now);
    show_issuer(s, s->st.nkeys, o->shown_success);
}

void ag_keys_adopt(ag_keys_t *k, ag_keys_t *from)
{
    for (int i = 0; from && i < k->nslots; i++) {
        slot_t *s = &k->slots[i], *o = s->remote ? same_source(from, s->iss) : NULL;
        if (o)
            adopt_slot(s, o);
    }
    update_ready(k);
}

void ag_keys_destroy(ag_keys_t *k)
{
    if (!k)
        return;
    k->closing = true;
    ag_mailbox_destroy(k->inbox); /* queued waiters run now and are answered FAILED */
    for (int i = 0; i < k->nslots; i++) {
        slot_t *s = &k->slots[i];
        if (!s->remote || !s->refresh_timer.loop)
            continue;
        answer_all(s, AG_KEYS_FAILED);
        if (s->stale) {
            ag_metrics_add(m_stale, -1);
            ag_metrics_add(s->m_issuer_stale, -1);
        }
        ag_metrics_add(s->m_issuer_keys, -s->shown_keys);
        ag_metrics_add(s->m_issuer_success, -s->shown_success);
        ag_metrics_release(s->m_issuer_stale);
        ag_metrics_release(s->m_issuer_keys);
        ag_metrics_release(s->m_issuer_success);
        uv_close((uv_handle_t *)&s->refresh_timer, on_handle_close);
        uv_close((uv_handle_t *)&s->wait_timer, on_handle_close);
    }
    maybe_free(k);
}

void ag_keys_status(ag_keys_t *k, int i, ag_keys_status_t *out)
{
    slot_t *s = &k->slots[i];
    *out = s->st;
    out->stale = s->stale;
    out->next_refresh_ms =
        s->fetching || !s->remote ? -1 : (long long)(s->next_at - uv_now(k->loop));
}

bool ag_keys_issuer_ready(ag_keys_t *k, int i, char *why, size_t n)
{
    slot_t *s = &k->slots[i];
    if (!s->remote || current_keys(s))
        return true;
    snprintf(why, n, "no keys yet: %s", s->last_err[0] ? s->last_err : "first fetch pending");
    return false;
}
