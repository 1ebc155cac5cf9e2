/* The audit log (audit.h): level rules, the Event JSON (formatted on the writer thread,
 * audit_log.c) and the request path: what a worker keeps of a request for its event, and
 * the hand-off of one compact record per event at the request's end. */
#include "authz/audit.h"

#include <stddef.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "authz/audit_pack.h"
#include "authz/authz_chain.h"
#include "authz/reqinfo.h"
#include "base/json.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

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

/* "YYYY-MM-DDTHH:MM:SS" of second <s>, remembered per thread: the writer formats two
 * stamps per event, mostly of the same second, and gmtime_r takes glibc's tz lock. */
static ag_err put_date(ag_buf_t *out, time_t s)
{
    static _Thread_local time_t last = -1;
    static _Thread_local char text[20];
    if (s != last) {
        struct tm tm;
        ag_buf_t b = {text, 0, sizeof text, sizeof text - 1};
        gmtime_r(&s, &tm);
        if (put_uint(&b, tm.tm_year + 1900u, 4) || ag_buf_append(&b, "-", 1) ||
            put_uint(&b, tm.tm_mon + 1u, 2) || ag_buf_append(&b, "-", 1) ||
            put_uint(&b, (unsigned)tm.tm_mday, 2) || ag_buf_append(&b, "T", 1) ||
            put_uint(&b, (unsigned)tm.tm_hour, 2) || ag_buf_append(&b, ":", 1) ||
            put_uint(&b, (unsigned)tm.tm_min, 2) || ag_buf_append(&b, ":", 1) ||
            put_uint(&b, (unsigned)tm.tm_sec, 2) || b.n != 19)
            return AG_E_INVAL; /* a year past 9999 */
        last = s;
    }
    return ag_buf_append(out, text, 19);
}

/* ,"KEY":"2026-11-29T06:13:32.734517Z" (RFC 3339, microseconds, as the API server). */
static ag_err put_ts(ag_buf_t *out, const char *key, uint64_t ns)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, ",\"")) || (err = ag_buf_append_cstr(out, key)) ||
        (err = ag_buf_append_cstr(out, "\":\"")) ||
        (err = put_date(out, (time_t)(ns / 1000000000ull))) || (err = ag_buf_append(out, ".", 1)) ||
        (err = put_uint(out, ns % 1000000000ull / 1000, 6)))
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

/* ---- the request path ---------------------------------------------------------------------- */

static struct {
    const ag_audit_config_t *conf;
    ag_audit_log_t *log;
    ag_metric_id m_events, m_dropped, m_blocked;
} S;

static ag_str_t header(const ag_http_req_t *r, ag_str_t name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (ag_str_ieq(r->headers[i].name, name))
            return r->headers[i].value;
    return AG_STR_NULL;
}

/* <s> copied to <*at> (advanced); empty stays empty. */
static ag_str_t keep(char **at, ag_str_t s)
{
    if (!s.n)
        return AG_STR_NULL;
    ag_ap_copy(*at, s.p, s.n);
    *at += s.n;
    return ag_str_make(*at - s.n, s.n);
}

/* One arena block for the entry and the head's strings it keeps (they do not outlive
 * forwarding): no formatting, one allocation. */
ag_audit_entry_t *ag_audit_begin(ag_gate_t *g)
{
    return S.log ? ag_audit_begin_at(g, g->received_at ? g->received_at : uv_hrtime()) : NULL;
}

ag_audit_entry_t *ag_audit_begin_at(ag_gate_t *g, uint64_t mono_ns)
{
    if (!S.log)
        return NULL;
    ag_str_t ua = header(g->req, AG_STR("user-agent"));
    size_t n = g->req->target.n + ua.n + g->client_ip.n + g->proxy_ip.n;
    ag_audit_entry_t *e = ag_arena_alloc(g->arena, sizeof *e + n);
    if (!e)
        return NULL;
    char *at = (char *)(e + 1);
    *e = (ag_audit_entry_t){
        .received_ns = ag_audit_log_wall_ns(S.log, g->received_at ? g->received_at : mono_ns)};
    e->uri = keep(&at, g->req->target);
    e->user_agent = keep(&at, ua);
    e->source_ip = keep(&at, g->client_ip);
    e->proxy_ip = keep(&at, g->proxy_ip);
    g->audit = e;
    return e;
}

/* ag_reqinfo_parse's slices are bytes of the target, of the arena (decoded) or static:
 * those of the target move to the entry's copy of it, the others stay as they are. */
void ag_audit_set_attrs(ag_audit_entry_t *e, ag_arena_t *arena, const ag_attrs_t *a,
                        ag_str_t target)
{
    e->attrs = *a;
    ag_str_t *f[] = {&e->attrs.verb,       &e->attrs.api_group, &e->attrs.api_version,
                     &e->attrs.namespace_, &e->attrs.resource,  &e->attrs.subresource,
                     &e->attrs.name,       &e->attrs.path,      &e->attrs.api_prefix};
    bool copied = e->uri.n == target.n && target.n;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        ag_str_t *s = f[i];
        size_t off = (size_t)(s->p - target.p);
        if (!s->n)
            *s = AG_STR_NULL;
        else if (s->p >= target.p && off <= target.n && s->n <= target.n - off)
            *s = copied ? ag_str_make(e->uri.p + off, s->n) : ag_arena_strdup(arena, *s);
    }
    e->attrs.field_selector_name = AG_STR_NULL;
    e->have_attrs = true;
}

/* The decision's fields ag_authz_reason words an allow from, in their encoded order. */
static const size_t why_off[] = {offsetof(ag_authz_decision_t, binding_kind),
                                 offsetof(ag_authz_decision_t, binding_namespace),
                                 offsetof(ag_authz_decision_t, binding_name),
                                 offsetof(ag_authz_decision_t, role_kind),
                                 offsetof(ag_authz_decision_t, role_name),
                                 offsetof(ag_authz_decision_t, subject_kind),
                                 offsetof(ag_authz_decision_t, subject_namespace),
                                 offsetof(ag_authz_decision_t, subject_name),
                                 offsetof(ag_authz_decision_t, assignment_id),
                                 offsetof(ag_authz_decision_t, azure_role),
                                 offsetof(ag_authz_decision_t, azure_scope),
                                 offsetof(ag_authz_decision_t, data_action)};
#define WHY_FIELDS (sizeof why_off / sizeof why_off[0])
#define WHY_FIELD(d, i) ((ag_str_t *)((char *)(d) + why_off[i]))
enum { W_WINDOWED = 1, W_OUTSIDE = 2, W_ERROR = 4 };

/* The encoding: result, source, flags; the error (static text: its address) and the
 * window when there are any; the fields (audit_pack.h). Sizes with p NULL. */
static size_t put_why(char *p, const ag_authz_decision_t *d)
{
    size_t at = 3;
    if (p) {
        p[0] = (char)d->result, p[1] = (char)d->source;
        p[2] = (char)((d->windowed ? W_WINDOWED : 0) | (d->outside_window ? W_OUTSIDE : 0) |
                      (d->error ? W_ERROR : 0));
    }
    if (d->error && p)
        memcpy(p + at, &d->error, sizeof d->error);
    at += d->error ? sizeof d->error : 0;
    if (d->windowed && p) {
        int64_t t[3] = {d->not_before, d->expires_at, d->judged_at};
        memcpy(p + at, t, sizeof t);
    }
    at += d->windowed ? 3 * sizeof(int64_t) : 0;
    for (size_t i = 0; i < WHY_FIELDS; i++)
        at = ag_ap_s(p, at, *WHY_FIELD(d, i));
    return at;
}

/* Encodes the fields into one arena block of their size: no formatting; the writer
 * words them (ag_audit_why_word). Out of memory: worded here instead. */
void ag_audit_set_allow(ag_audit_entry_t *e, ag_arena_t *arena, const ag_authz_decision_t *d)
{
    size_t n = put_why(NULL, d);
    char *p = ag_arena_alloc(arena, n);
    e->decision = AG_AUDIT_ALLOW;
    if (p) {
        put_why(p, d);
        e->why = ag_str_make(p, n);
        return;
    }
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    if (ag_authz_reason(d, &b) == 0 && b.n)
        e->reason = ag_arena_strdup(arena, ag_buf_str(&b));
    ag_buf_dispose(&b);
}

ag_err ag_audit_why_word(ag_str_t why, ag_buf_t *out)
{
    ag_ap_reader_t r = {why.p, why.p + why.n, why.n < 3};
    ag_authz_decision_t d;
    if (r.bad)
        return AG_E_INVAL;
    unsigned flags = (unsigned char)why.p[2];
    ag_authz_decision_reset(&d, (ag_authz_result)why.p[0], (ag_authz_source)why.p[1]);
    r.p += 3;
    d.windowed = flags & W_WINDOWED;
    d.outside_window = flags & W_OUTSIDE;
    size_t fixed = (flags & W_ERROR ? sizeof d.error : 0) + (d.windowed ? 3 * sizeof(int64_t) : 0);
    if ((size_t)(r.end - r.p) < fixed)
        return AG_E_INVAL;
    if (flags & W_ERROR)
        memcpy(&d.error, r.p, sizeof d.error), r.p += sizeof d.error;
    if (d.windowed) {
        int64_t t[3];
        memcpy(t, r.p, sizeof t), r.p += sizeof t;
        d.not_before = t[0], d.expires_at = t[1], d.judged_at = t[2];
    }
    for (size_t i = 0; i < WHY_FIELDS; i++)
        *WHY_FIELD(&d, i) = ag_ap_get_s(&r);
    return r.bad || r.p != r.end ? AG_E_INVAL : ag_authz_reason(&d, out);
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
        ag_audit_set_attrs(e, g->arena, &a, g->req->target);
    if (e)
        e->user = g->identity; /* NULL for a failed authentication */
    return e;
}

/* Requests the API server treats as long-running: their event is written when the
 * response starts, since the client may end them by going away. */
static bool long_running(const ag_gate_t *g, const ag_audit_entry_t *e)
{
    if (g->req->upgrade || (e->have_attrs && ag_str_eq_lit(e->attrs.verb, "watch")))
        return true;
    /* "follow=true" anywhere in the target: found by its '=' (one memchr per '=', not a
     * compare per byte; most targets have no '=' at all) */
    const char *u = e->uri.p, *end = u + e->uri.n, *q = u;
    while (q < end && (q = memchr(q, '=', (size_t)(end - q)))) {
        if (q - u >= 6 && end - q >= 5 && !memcmp(q - 6, "follow", 6) && !memcmp(q + 1, "true", 4))
            return true;
        q++;
    }
    return false;
}

/* The level <e> is written at (None: not at all) for its stage. One rule lookup. */
static ag_audit_level level_for(const ag_audit_entry_t *e)
{
    const ag_attrs_t *a = e->have_attrs ? &e->attrs : NULL;
    const ag_audit_rule_t *rule = ag_audit_rule_for(S.conf, e->user, a);
    ag_audit_level level = rule ? rule->level : S.conf->policy ? AG_AUDIT_NONE : S.conf->level;
    unsigned stage =
        e->started ? AG_AUDIT_STAGE_RESPONSE_STARTED : AG_AUDIT_STAGE_RESPONSE_COMPLETE;
    if ((S.conf->omit_stages & stage) || (rule && (rule->omit_stages & stage)))
        return AG_AUDIT_NONE;
    return level;
}

/* The worker's part: a record into its own ring (no lock, no JSON); the writer thread
 * formats the Event. */
void ag_audit_finish(ag_gate_t *g, int code, bool complete)
{
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
    ag_audit_level level = level_for(e);
    if (level == AG_AUDIT_NONE)
        return;
    uint64_t now = g->finished_at && complete ? g->finished_at : uv_hrtime();
    int r = ag_audit_log_event(S.log, e, level, code, ag_audit_log_wall_ns(S.log, now),
                               ag_gate_audit_seq(g));
    ag_metrics_inc(r == AG_AUDIT_DROPPED ? S.m_dropped : S.m_events);
    if (r == AG_AUDIT_QUEUED_AFTER_WAIT)
        ag_metrics_inc(S.m_blocked);
}

ag_err ag_audit_setup(const ag_config_t *conf, ag_buf_t *errmsg)
{
    ag_err err;
    if (!conf->audit_enabled || S.log)
        return 0;
    S.conf = &conf->audit;
    if ((err = ag_audit_log_create(&conf->audit, conf->workers, &S.log, errmsg)) != 0)
        return err;
    S.m_events = ag_metrics_counter("authgate_audit_events_total", NULL,
                                    "Audit events queued for the audit log.");
    S.m_dropped = ag_metrics_counter("authgate_audit_dropped_total", NULL,
                                     "Audit events dropped (queue full or event too large).");
    S.m_blocked =
        ag_metrics_counter("authgate_audit_blocked_total", NULL,
                           "Audit events a worker waited for room for (audit.mode \"blocking\").");
    ag_info("audit: writing to %s (rotate at %lld bytes, %d backups, queue %lld bytes over %d "
            "worker(s), mode %s)",
            conf->audit.file, conf->audit.max_size, conf->audit.max_backups,
            conf->audit.queue_bytes, conf->workers,
            conf->audit.mode == AG_AUDIT_MODE_BLOCKING ? "blocking" : "batch");
    return 0;
}

void ag_audit_shutdown(void)
{
    ag_audit_log_destroy(S.log);
    S.log = NULL;
}

ag_audit_log_t *ag_audit_current(void)
{
    return S.log;
}
