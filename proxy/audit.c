/* The audit log (audit.h): level rules, the Event JSON, and the writer thread behind a
 * bounded byte ring. Producers (workers) hold the mutex only to copy one line in; the
 * writer holds it only to copy whole lines out, and writes and rotates outside it. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "json.h"
#include "log.h"
#include "metrics.h"
#include "reqinfo.h"

#define AG_AUDIT_MAX_LINE (64 * 1024)        /* one event; bigger ones are dropped and counted */
#define WRITER_CHUNK (2 * AG_AUDIT_MAX_LINE) /* always holds at least one whole line */
#define DROP_LOG_INTERVAL_NS (10ull * 1000000000ull)
#define BATCH_NS (20ull * 1000000ull) /* an event reaches the file within ~20 ms */

/* ---- levels ------------------------------------------------------------------------------ */

static bool in_list(const ag_str_t *list, int n, ag_str_t v)
{
    for (int i = 0; i < n; i++)
        if (ag_str_eq(list[i], v) || ag_str_eq_lit(list[i], "*"))
            return true;
    return false;
}

static bool resource_matches(const ag_audit_rule_t *r, const ag_attrs_t *a)
{
    if (!a->resource_request)
        return false;
    for (int i = 0; i < r->nresources; i++) {
        ag_str_t e = r->resources[i], head;
        ag_str_t sub = ag_str_split(e, '/', &head);
        bool has_sub = head.n < e.n;
        if (ag_str_eq_lit(e, "*") || (!has_sub && !a->subresource.n && ag_str_eq(e, a->resource)))
            return true;
        if (has_sub && ag_str_eq(head, a->resource) && a->subresource.n &&
            (ag_str_eq_lit(sub, "*") || ag_str_eq(sub, a->subresource)))
            return true;
    }
    return false;
}

static bool path_matches(const ag_audit_rule_t *r, const ag_attrs_t *a)
{
    if (a->resource_request)
        return false;
    for (int i = 0; i < r->npaths; i++) {
        ag_str_t p = r->paths[i];
        if (ag_str_eq(p, a->path) ||
            (p.n && p.p[p.n - 1] == '*' && ag_str_starts_with(a->path, ag_str_sub(p, 0, p.n - 1))))
            return true;
    }
    return false;
}

static bool rule_matches(const ag_audit_rule_t *r, const ag_identity_t *u, const ag_attrs_t *a)
{
    if (r->nusers && !(u && in_list(r->users, r->nusers, u->username)))
        return false;
    if (r->ngroups) {
        bool any = false;
        for (int i = 0; u && !any && i < u->ngroups; i++)
            any = in_list(r->groups, r->ngroups, u->groups[i]);
        if (!any)
            return false;
    }
    if (r->nverbs && !(a && in_list(r->verbs, r->nverbs, a->verb)))
        return false;
    if (r->nresources && !(a && resource_matches(r, a)))
        return false;
    if (r->nnamespaces &&
        !(a && a->resource_request && in_list(r->namespaces, r->nnamespaces, a->namespace_)))
        return false;
    if (r->npaths && !(a && path_matches(r, a)))
        return false;
    return true;
}

/* ---- audit.k8s.io/v1 Policy rules, matched as kube-apiserver's policy checker ---------- */

static bool has(const ag_str_t *list, int n, ag_str_t v)
{
    for (int i = 0; i < n; i++)
        if (ag_str_eq(list[i], v))
            return true;
    return false;
}

/* "res" or "res/sub" exactly, "*", "* /sub" (any resource's sub) and "res/ *" (res and
 * all its subresources), without the spaces. */
static bool gr_resource_matches(ag_str_t spec, const ag_attrs_t *a)
{
    ag_str_t r = a->resource, s = a->subresource;
    if (ag_str_eq_lit(spec, "*"))
        return true;
    if (!s.n && ag_str_eq(spec, r))
        return true;
    if (s.n && spec.n == r.n + 1 + s.n && ag_str_starts_with(spec, r) && spec.p[r.n] == '/' &&
        memcmp(spec.p + r.n + 1, s.p, s.n) == 0)
        return true;
    if (s.n && spec.n == 2 + s.n && spec.p[0] == '*' && spec.p[1] == '/' &&
        memcmp(spec.p + 2, s.p, s.n) == 0)
        return true;
    return spec.n == r.n + 2 && ag_str_starts_with(spec, r) && spec.p[r.n] == '/' &&
           spec.p[r.n + 1] == '*';
}

static bool policy_resource_matches(const ag_audit_rule_t *r, const ag_attrs_t *a)
{
    if (!a || !a->resource_request)
        return false;
    if (r->nnamespaces && !has(r->namespaces, r->nnamespaces, a->namespace_))
        return false;
    if (!r->ngrs)
        return true;
    for (int i = 0; i < r->ngrs; i++) {
        const ag_audit_gr_t *g = &r->grs[i];
        if (!ag_str_eq(g->group, a->api_group))
            continue;
        if (!g->nresources)
            return true;
        if (g->nnames && !has(g->names, g->nnames, a->name))
            continue;
        for (int k = 0; k < g->nresources; k++)
            if (gr_resource_matches(g->resources[k], a))
                return true;
    }
    return false;
}

static bool policy_path_matches(const ag_audit_rule_t *r, const ag_attrs_t *a)
{
    if (!a || a->resource_request)
        return false;
    for (int i = 0; i < r->npaths; i++) {
        ag_str_t p = r->paths[i];
        if (ag_str_eq_lit(p, "*") || ag_str_eq(p, a->path) ||
            (p.n && p.p[p.n - 1] == '*' && ag_str_starts_with(a->path, ag_str_sub(p, 0, p.n - 1))))
            return true;
    }
    return false;
}

static bool policy_rule_matches(const ag_audit_rule_t *r, const ag_identity_t *u,
                                const ag_attrs_t *a)
{
    static const ag_identity_t nobody = {0};
    if (!u)
        u = &nobody;
    if (r->nusers && !has(r->users, r->nusers, u->username))
        return false;
    if (r->ngroups) {
        bool any = false;
        for (int i = 0; !any && i < u->ngroups; i++)
            any = has(r->groups, r->ngroups, u->groups[i]);
        if (!any)
            return false;
    }
    if (r->nverbs && !(a && has(r->verbs, r->nverbs, a->verb)))
        return false;
    if (r->nnamespaces || r->ngrs)
        return policy_resource_matches(r, a);
    if (r->npaths)
        return policy_path_matches(r, a);
    return true;
}

const ag_audit_rule_t *ag_audit_rule_for(const ag_audit_config_t *c, const ag_identity_t *user,
                                         const ag_attrs_t *a)
{
    for (int i = 0; i < c->nrules; i++)
        if (c->policy ? policy_rule_matches(&c->rules[i], user, a)
                      : rule_matches(&c->rules[i], user, a))
            return &c->rules[i];
    return NULL;
}

ag_audit_level ag_audit_level_for(const ag_audit_config_t *c, const ag_identity_t *user,
                                  const ag_attrs_t *a)
{
    const ag_audit_rule_t *r = ag_audit_rule_for(c, user, a);
    return r ? r->level : c->policy ? AG_AUDIT_NONE : c->level;
}

/* ---- the Event ----------------------------------------------------------------------------- */

/* The Event is formatted on every audited request: plain appends, no printf. */
static ag_err put_uint(ag_buf_t *out, unsigned long long v, int width)
{
    char d[24];
    int n = 0;
    do
        d[sizeof d - 1 - n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < (int)sizeof d);
    while (n < width && n < (int)sizeof d)
        d[sizeof d - 1 - n++] = '0';
    return ag_buf_append(out, d + sizeof d - n, (size_t)n);
}

/* ,"KEY":"2026-11-29T06:13:32.734517Z" (RFC 3339, microseconds, as the API server). */
static ag_err put_ts(ag_buf_t *out, const char *key, uint64_t ns)
{
    time_t s = (time_t)(ns / 1000000000ull);
    struct tm tm;
    ag_err err;
    gmtime_r(&s, &tm);
    if ((err = ag_buf_append_cstr(out, ",\"")) || (err = ag_buf_append_cstr(out, key)) ||
        (err = ag_buf_append_cstr(out, "\":\"")) || (err = put_uint(out, tm.tm_year + 1900u, 4)) ||
        (err = ag_buf_append(out, "-", 1)) || (err = put_uint(out, tm.tm_mon + 1u, 2)) ||
        (err = ag_buf_append(out, "-", 1)) || (err = put_uint(out, (unsigned)tm.tm_mday, 2)) ||
        (err = ag_buf_append(out, "T", 1)) || (err = put_uint(out, (unsigned)tm.tm_hour, 2)) ||
        (err = ag_buf_append(out, ":", 1)) || (err = put_uint(out, (unsigned)tm.tm_min, 2)) ||
        (err = ag_buf_append(out, ":", 1)) || (err = put_uint(out, (unsigned)tm.tm_sec, 2)) ||
        (err = ag_buf_append(out, ".", 1)) || (err = put_uint(out, ns % 1000000000ull / 1000, 6)))
        return err;
    return ag_buf_append(out, "Z\"", 2);
}

/* [,]"KEY": — the separator unless first. */
static ag_err put_key(ag_buf_t *out, bool *first, const char *key)
{
    ag_err err;
    if ((!*first && (err = ag_buf_append(out, ",", 1))) || (err = ag_buf_append(out, "\"", 1)) ||
        (err = ag_buf_append_cstr(out, key)))
        return err;
    *first = false;
    return ag_buf_append(out, "\":", 2);
}

static ag_err put_field(ag_buf_t *out, bool *first, const char *key, ag_str_t v)
{
    ag_err err;
    if (!v.n)
        return 0;
    return (err = put_key(out, first, key)) ? err : ag_json_write_str(out, v);
}

static ag_err put_strs(ag_buf_t *out, const ag_str_t *v, int n)
{
    ag_err err = ag_buf_append(out, "[", 1);
    for (int i = 0; !err && i < n; i++)
        if (!(err = i ? ag_buf_append(out, ",", 1) : 0))
            err = ag_json_write_str(out, v[i]);
    return err ? err : ag_buf_append(out, "]", 1);
}

static ag_err put_user(ag_buf_t *out, const char *key, const ag_identity_t *u)
{
    bool first = false, inner = true;
    ag_err err;
    if ((err = put_key(out, &first, key)) || (err = ag_buf_append(out, "{", 1)) ||
        (err = put_field(out, &inner, "username", u->username)) ||
        (err = put_field(out, &inner, "uid", u->uid)))
        return err;
    if (u->ngroups &&
        ((err = put_key(out, &inner, "groups")) || (err = put_strs(out, u->groups, u->ngroups))))
        return err;
    if (u->nextra) {
        if ((err = put_key(out, &inner, "extra")) || (err = ag_buf_append(out, "{", 1)))
            return err;
        for (int i = 0; i < u->nextra; i++)
            if ((i && (err = ag_buf_append(out, ",", 1))) ||
                (err = ag_json_write_str(out, u->extra[i].key)) ||
                (err = ag_buf_append(out, ":", 1)) ||
                (err = put_strs(out, u->extra[i].values, u->extra[i].nvalues)))
                return err;
        if ((err = ag_buf_append(out, "}", 1)))
            return err;
    }
    return ag_buf_append(out, "}", 1);
}

static ag_err put_object_ref(ag_buf_t *out, const ag_attrs_t *a)
{
    bool first = true;
    ag_err err;
    if (!a->resource_request || !a->resource.n)
        return 0;
    if ((err = ag_buf_append_cstr(out, ",\"objectRef\":{")) ||
        (err = put_field(out, &first, "resource", a->resource)) ||
        (err = put_field(out, &first, "namespace", a->namespace_)) ||
        (err = put_field(out, &first, "name", a->name)) ||
        (err = put_field(out, &first, "apiGroup", a->api_group)) ||
        (err = put_field(out, &first, "apiVersion", a->api_version)) ||
        (err = put_field(out, &first, "subresource", a->subresource)))
        return err;
    return ag_buf_append(out, "}", 1);
}

/* ,"responseStatus":{...} as kube-apiserver writes it: for an answer the gateway gave
 * itself (a Status body), status, message and reason too; for the upstream's, the code. */
static ag_err put_response_status(ag_buf_t *out, const ag_audit_entry_t *e, int code)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, ",\"responseStatus\":{\"metadata\":{}")))
        return err;
    if (e->own_message.n) {
        const char *reason = ag_status_reason(code);
        if ((err = ag_buf_append_cstr(out, code < 400 ? ",\"status\":\"Success\""
                                                      : ",\"status\":\"Failure\"")) ||
            (err = ag_buf_append_cstr(out, ",\"message\":")) ||
            (err = ag_json_write_str(out, e->own_message)) ||
            (reason && *reason &&
             ((err = ag_buf_append_cstr(out, ",\"reason\":")) ||
              (err = ag_json_write_str(out, ag_str_cstr(reason))))))
            return err;
    }
    if ((err = ag_buf_append_cstr(out, ",\"code\":")) || (err = put_uint(out, (unsigned)code, 1)))
        return err;
    return ag_buf_append(out, "}", 1);
}

ag_err ag_audit_format(const ag_audit_entry_t *e, ag_audit_level level, int code, uint64_t stage_ns,
                       ag_str_t audit_id, ag_buf_t *out)
{
    static const ag_identity_t nobody = {0}; /* failed authentication: "user": {} */
    ag_str_t verb = e->have_attrs ? e->attrs.verb : AG_STR_NULL;
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\","
                                       "\"level\":\"")) ||
        (err = ag_buf_append_cstr(out, level == AG_AUDIT_METADATA ? "Metadata" : "None")) ||
        (err = ag_buf_append_cstr(out, "\",\"auditID\":")) ||
        (err = ag_json_write_str(out, audit_id)) ||
        (err = ag_buf_append_cstr(out, ",\"stage\":\"")) ||
        (err = ag_buf_append_cstr(out, e->started ? "ResponseStarted" : "ResponseComplete")) ||
        (err = ag_buf_append_cstr(out, "\",\"requestURI\":")) ||
        (err = ag_json_write_str(out, e->uri)) || (err = ag_buf_append_cstr(out, ",\"verb\":")) ||
        (err = ag_json_write_str(out, verb)) ||
        (err = put_user(out, "user", e->user ? e->user : &nobody)) ||
        (e->impersonated && (err = put_user(out, "impersonatedUser", e->impersonated))) ||
        (err = ag_buf_append_cstr(out, ",\"sourceIPs\":")) ||
        (err = put_strs(out, (ag_str_t[]){e->source_ip, e->proxy_ip},
                        e->source_ip.n ? (e->proxy_ip.n ? 2 : 1) : 0)))
        return err;
    if (e->user_agent.n && ((err = ag_buf_append_cstr(out, ",\"userAgent\":")) ||
                            (err = ag_json_write_str(out, e->user_agent))))
        return err;
    if ((e->have_attrs && (err = put_object_ref(out, &e->attrs))) ||
        (code > 0 && /* 0: the client left before any answer */
         (err = put_response_status(out, e, code))) ||
        (err = put_ts(out, "requestReceivedTimestamp", e->received_ns)) ||
        (err = put_ts(out, "stageTimestamp", stage_ns)))
        return err;
    if (e->decision != AG_AUDIT_UNDECIDED) {
        if ((err =
                 ag_buf_append_cstr(out, ",\"annotations\":{\"authorization.k8s.io/decision\":")) ||
            (err = ag_buf_append_cstr(out, e->decision == AG_AUDIT_ALLOW ? "\"allow\""
                                                                         : "\"forbid\"")) ||
            (err = ag_buf_append_cstr(out, ",\"authorization.k8s.io/reason\":")) ||
            (err = ag_json_write_str(out, e->reason)) || (err = ag_buf_append(out, "}", 1)))
            return err;
    }
    return ag_buf_append(out, "}", 1);
}

/* ---- the writer -------------------------------------------------------------------------- */

struct ag_audit_log {
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_thread_t thread;
    char *ring;
    size_t cap, head, len; /* bytes queued at ring[head..head+len) (wrapping) */
    bool stop;
    bool idle; /* the writer waits for the first event */
    int fd;
    const char *path;
    long long max_size, size;
    int backups;
    long long max_age_s; /* backups last written longer ago are removed (0: kept) */
    time_t last_prune;
    _Atomic uint64_t dropped;
    uint64_t reported; /* writer thread: drops already logged */
    uint64_t last_report;
};

static ag_err open_file(ag_audit_log_t *l, bool truncate)
{
    l->fd =
        open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
    if (l->fd < 0)
        return AG_E_IO;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (long long)st.st_size : 0;
    return 0;
}

/* Removes the backups FILE.1 .. FILE.N last written more than max_age ago, as
 * kube-apiserver's --audit-log-maxage (at start, at each rotation and hourly). */
static void prune(ag_audit_log_t *l)
{
    char name[4096];
    time_t now = time(NULL);
    l->last_prune = now;
    for (int i = 1; l->max_age_s > 0 && i <= l->backups; i++) {
        struct stat st;
        snprintf(name, sizeof name, "%s.%d", l->path, i);
        if (stat(name, &st) == 0 && now - st.st_mtime > l->max_age_s && unlink(name) != 0)
            ag_warn("audit: cannot remove %s (older than max_age_days): %s", name, strerror(errno));
    }
}

/* FILE -> FILE.1 -> ... -> FILE.N (the oldest falls off); then a fresh FILE. */
static void rotate(ag_audit_log_t *l)
{
    char from[4096], to[4096];
    close(l->fd);
    l->fd = -1;
    for (int i = l->backups; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof from, "%s", l->path);
        else
            snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
        snprintf(to, sizeof to, "%s.%d", l->path, i);
        if (rename(from, to) != 0 && errno != ENOENT)
            ag_warn("audit: cannot rotate %s: %s", from, strerror(errno));
    }
    l->size = 0;
    if (open_file(l, true) != 0)
        ag_error("audit: cannot reopen %s: %s", l->path, strerror(errno));
    prune(l);
}

static void write_out(ag_audit_log_t *l, const char *p, size_t n)
{
    while (n > 0 && l->fd >= 0) {
        ssize_t k = write(l->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            ag_error("audit: write to %s failed: %s", l->path, strerror(errno));
            return;
        }
        p += k, n -= (size_t)k, l->size += k;
    }
}

/* Whole lines; a file is rotated before the line that would take it past max_size (a
 * single line longer than that gets a file of its own). */
static void write_lines(ag_audit_log_t *l, const char *p, size_t n)
{
    size_t seg = 0; /* bytes of p[0..seg) that fit in the current file */
    if (l->fd < 0 && open_file(l, false) != 0) { /* retried once per chunk */
        uint64_t lost = 0;
        for (size_t i = 0; i < n; i++)
            lost += p[i] == '\n';
        atomic_fetch_add(&l->dropped, lost); /* never silently */
        l->size = 0;
        return;
    }
    while (seg < n) {
        const char *nl = memchr(p + seg, '\n', n - seg);
        size_t line = (size_t)(nl - (p + seg)) + 1;
        if (l->size + (long long)(seg + line) > l->max_size && l->size + (long long)seg > 0) {
            write_out(l, p, seg);
            p += seg, n -= seg, seg = 0;
            rotate(l);
            continue;
        }
        seg += line;
    }
    write_out(l, p, seg);
}

static void report_drops(ag_audit_log_t *l)
{
    uint64_t d = atomic_load(&l->dropped), now = uv_hrtime();
    if (d == l->reported || now - l->last_report < DROP_LOG_INTERVAL_NS)
        return;
    ag_warn("audit: %llu event(s) dropped (queue full or event too large), %llu in total",
            (unsigned long long)(d - l->reported), (unsigned long long)d);
    l->reported = d;
    l->last_report = now;
}

/* Copies whole lines (at most WRITER_CHUNK bytes) out of the ring into <chunk>; under
 * the mutex. */
static size_t take_lines(ag_audit_log_t *l, char *chunk)
{
    size_t n = l->len < WRITER_CHUNK ? l->len : WRITER_CHUNK;
    size_t first = l->cap - l->head < n ? l->cap - l->head : n;
    memcpy(chunk, l->ring + l->head, first);
    memcpy(chunk + first, l->ring, n - first);
    while (n > 0 && chunk[n - 1] != '\n')
        n--; /* whole lines only, so rotation never splits one */
    l->head = (l->head + n) % l->cap;
    l->len -= n;
    return n;
}

static void writer(void *arg)
{
    ag_audit_log_t *l = arg;
    char *chunk = malloc(WRITER_CHUNK);
    if (!chunk)
        return;
    for (;;) {
        uv_mutex_lock(&l->mu);
        while (l->len == 0 && !l->stop) {
            l->idle = true; /* the next event wakes us */
            int rc = uv_cond_timedwait(&l->cv, &l->mu, 1000000000ull);
            l->idle = false;
            if (rc != 0)
                break; /* once a second: look at the drop counter */
        }
        /* Let a batch gather: producers only signal again past a quarter of the ring, so
         * a busy gateway costs one wake-up per batch, not one per event. */
        if (l->len && l->len < l->cap / 4 && !l->stop)
            uv_cond_timedwait(&l->cv, &l->mu, BATCH_NS);
        size_t n = take_lines(l, chunk);
        bool done = l->stop && l->len == 0;
        uv_mutex_unlock(&l->mu);
        if (n)
            write_lines(l, chunk, n);
        report_drops(l);
        if (l->max_age_s > 0 && time(NULL) - l->last_prune >= 3600)
            prune(l);
        if (done)
            break;
    }
    free(chunk);
}

ag_err ag_audit_log_create(const ag_audit_config_t *c, ag_audit_log_t **out, ag_buf_t *errmsg)
{
    ag_audit_log_t *l = calloc(1, sizeof *l);
    if (!l || !(l->ring = malloc((size_t)c->queue_bytes))) {
        free(l);
        return AG_E_NOMEM;
    }
    l->cap = (size_t)c->queue_bytes;
    l->path = c->file;
    l->max_size = c->max_size;
    l->backups = c->max_backups;
    l->max_age_s = c->max_age_days * 86400;
    prune(l);
    if (open_file(l, false) != 0) {
        if (errmsg)
            ag_buf_printf(errmsg, "audit: cannot open %s: %s", c->file, strerror(errno));
        free(l->ring);
        free(l);
        return AG_E_IO;
    }
    uv_mutex_init(&l->mu);
    uv_cond_init(&l->cv);
    if (uv_thread_create(&l->thread, writer, l) != 0) {
        close(l->fd);
        uv_mutex_destroy(&l->mu);
        uv_cond_destroy(&l->cv);
        free(l->ring);
        free(l);
        return AG_E_NOMEM;
    }
    *out = l;
    return 0;
}

bool ag_audit_log_write(ag_audit_log_t *l, ag_str_t line)
{
    size_t need = line.n + 1;
    uv_mutex_lock(&l->mu);
    if (l->stop || need > l->cap - l->len) {
        uv_mutex_unlock(&l->mu);
        atomic_fetch_add(&l->dropped, 1);
        return false;
    }
    size_t tail = (l->head + l->len) % l->cap, first = l->cap - tail;
    if (first > line.n)
        first = line.n;
    memcpy(l->ring + tail, line.p, first);
    memcpy(l->ring, line.p + first, line.n - first);
    l->ring[(tail + line.n) % l->cap] = '\n';
    bool wake = l->idle || (l->len < l->cap / 4 && l->len + need >= l->cap / 4);
    l->len += need;
    if (wake) /* the writer sleeps, or a batch just grew large: one wake-up */
        uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
    return true;
}

void ag_audit_log_destroy(ag_audit_log_t *l)
{
    if (!l)
        return;
    uv_mutex_lock(&l->mu);
    l->stop = true;
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
    uv_thread_join(&l->thread);
    if (l->fd >= 0)
        close(l->fd);
    uv_mutex_destroy(&l->mu);
    uv_cond_destroy(&l->cv);
    free(l->ring);
    free(l);
}

uint64_t ag_audit_log_dropped(const ag_audit_log_t *l)
{
    return atomic_load(&((ag_audit_log_t *)l)->dropped);
}

/* ---- the request path ---------------------------------------------------------------------- */

static struct {
    const ag_audit_config_t *conf;
    ag_audit_log_t *log;
    ag_metric_id m_events, m_dropped;
} S;

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static ag_str_t header(const ag_http_req_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (ag_str_ieq(r->headers[i].name, ag_str_cstr(name)))
            return r->headers[i].value;
    return AG_STR_NULL;
}

ag_audit_entry_t *ag_audit_begin(ag_gate_t *g)
{
    if (!S.log)
        return NULL;
    ag_audit_entry_t *e = ag_arena_calloc(g->arena, sizeof *e);
    if (!e)
        return NULL;
    e->received_ns = wall_ns();
    e->uri = ag_arena_strdup(g->arena, g->req->target);
    e->user_agent = ag_arena_strdup(g->arena, header(g->req, "user-agent"));
    e->source_ip = ag_arena_strdup(g->arena, g->client_ip);
    e->proxy_ip = ag_arena_strdup(g->arena, g->proxy_ip);
    g->audit = e;
    return e;
}

void ag_audit_set_attrs(ag_audit_entry_t *e, ag_arena_t *arena, const ag_attrs_t *a)
{
    e->attrs = *a;
    ag_str_t *f[] = {&e->attrs.verb,       &e->attrs.api_group, &e->attrs.api_version,
                     &e->attrs.namespace_, &e->attrs.resource,  &e->attrs.subresource,
                     &e->attrs.name,       &e->attrs.path,      &e->attrs.api_prefix};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = f[i]->n ? ag_arena_strdup(arena, *f[i]) : AG_STR_NULL;
    e->attrs.field_selector_name = AG_STR_NULL;
    e->have_attrs = true;
}

/* A request the gate refused before the authorization step (authentication failed, or
 * group resolution did): audited as the API server's failed-authentication handler does,
 * with the user unknown. Only called while the head is still in the read buffer (the
 * gateway answered at once). */
static ag_audit_entry_t *refused_early(ag_gate_t *g)
{
    ag_audit_entry_t *e = ag_audit_begin(g);
    ag_attrs_t a;
    if (e && ag_reqinfo_parse(g->req->method, g->req->target, g->arena, &a) == 0)
        ag_audit_set_attrs(e, g->arena, &a);
    if (e)
        e->user = g->identity; /* NULL for a failed authentication */
    return e;
}

/* Requests the API server treats as long-running: their event is written when the
 * response starts, since the client may end them by going away. */
static bool long_running(const ag_gate_t *g, const ag_audit_entry_t *e)
{
    static const ag_str_t follow = AG_STR("follow=true");
    if (g->req->upgrade || (e->have_attrs && ag_str_eq_lit(e->attrs.verb, "watch")))
        return true;
    for (size_t i = 0; i + follow.n <= e->uri.n; i++)
        if (memcmp(e->uri.p + i, follow.p, follow.n) == 0)
            return true;
    return false;
}

void ag_audit_finish(ag_gate_t *g, int code, bool complete)
{
    static _Thread_local char line[AG_AUDIT_MAX_LINE + 1];
    ag_audit_entry_t *e = g->audit;
    if (!S.log || (e && e->written) || (!complete && (!e || !long_running(g, e))))
        return; /* an ordinary request is written when it completes, and once */
    if (!e && g->req && code >= 400) /* only ever before forwarding: the head is intact */
        e = refused_early(g);
    if (!e)
        return;
    e->written = true;
    e->started = !complete || code == 101;
    if (g->status == code && g->message.n) /* the gateway answered with a Status itself */
        e->own_message = g->message;
    const ag_attrs_t *a = e->have_attrs ? &e->attrs : NULL;
    const ag_audit_rule_t *rule = ag_audit_rule_for(S.conf, e->user, a);
    ag_audit_level level = ag_audit_level_for(S.conf, e->user, a);
    unsigned stage =
        e->started ? AG_AUDIT_STAGE_RESPONSE_STARTED : AG_AUDIT_STAGE_RESPONSE_COMPLETE;
    if (level == AG_AUDIT_NONE || (S.conf->omit_stages & stage) ||
        (rule && (rule->omit_stages & stage)))
        return;
    ag_buf_t b = {line, 0, sizeof line, sizeof line - 1}; /* never reallocates: cap fixed */
    line[0] = '\0';
    if (ag_audit_format(e, level, code, wall_ns(), ag_str_cstr(ag_gate_audit_id(g)), &b) != 0 ||
        !ag_audit_log_write(S.log, ag_buf_str(&b))) {
        if (b.p != line) /* defensive: a format error must not leave a heap buffer */
            ag_buf_dispose(&b);
        ag_metrics_inc(S.m_dropped);
        return;
    }
    ag_metrics_inc(S.m_events);
}

ag_err ag_audit_setup(const ag_config_t *conf, ag_buf_t *errmsg)
{
    ag_err err;
    if (!conf->audit_enabled || S.log)
        return 0;
    S.conf = &conf->audit;
    if ((err = ag_audit_log_create(&conf->audit, &S.log, errmsg)) != 0)
        return err;
    S.m_events = ag_metrics_counter("authgate_audit_events_total", NULL,
                                    "Audit events queued for the audit log.");
    S.m_dropped = ag_metrics_counter("authgate_audit_dropped_total", NULL,
                                     "Audit events dropped (queue full or event too large).");
    ag_info("audit: writing to %s (rotate at %lld bytes, %d backups, queue %lld bytes)",
            conf->audit.file, conf->audit.max_size, conf->audit.max_backups,
            conf->audit.queue_bytes);
    return 0;
}

void ag_audit_shutdown(void)
{
    ag_audit_log_destroy(S.log);
    S.log = NULL;
}
