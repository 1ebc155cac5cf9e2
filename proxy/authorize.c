/* The authorization step (authorize.h). Order per request, as kube-apiserver's filter
 * chain: impersonation (authorized for the requester) -> attributes -> authorize the
 * effective user -> the exec-as-GET `create` check. Everything synchronous on the worker;
 * the policy snapshot is held for the length of the decision only (reasons are copied
 * into the request arena before it is released). */
#include "authorize.h"

#include <string.h>

#include "audit.h"
#include "authenticate.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "reqinfo.h"
#include "webhook_sar.h"

#define MAX_IMPERSONATE 64 /* Impersonate-* values taken from one request; more is a 400 */

static const char *const verbs[] = {"get",    "list",   "watch",            "create", "update",
                                    "patch",  "delete", "deletecollection", NULL};
#define NVERBS (sizeof verbs / sizeof verbs[0]) /* the NULL slot counts "other" */
static const double buckets_s[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2};
#define NBUCKETS (sizeof buckets_s / sizeof buckets_s[0])

static struct {
    bool enabled;      /* a policy decides; false: allow all (audit only) */
    int impersonation; /* AG_IMPERSONATION_* */
    ag_metric_id m_decision[NVERBS][2];
    ag_metric_id m_bucket[NBUCKETS + 1], m_count, m_impersonation[2];
} A;

static ag_str_t anon_groups[] = {AG_STR_NULL};
static ag_identity_t anonymous;

/* ---- impersonation (reference §7) ------------------------------------------------------ */

typedef struct {
    ag_str_t user, uid;
    bool has_user, has_uid;
    ag_str_t groups[MAX_IMPERSONATE];
    int ngroups;
    ag_str_t xkeys[MAX_IMPERSONATE], xvalues[MAX_IMPERSONATE];
    int nextra;
    int total;
} imp_t;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Extra keys: lower-cased, then percent-decoded; a bad escape keeps the lower-cased text. */
static ag_str_t extra_key(ag_arena_t *arena, ag_str_t raw)
{
    char *low = ag_arena_alloc(arena, raw.n + 1), *dec = ag_arena_alloc(arena, raw.n + 1);
    size_t n = 0;
    if (!low || !dec)
        return AG_STR_NULL;
    for (size_t i = 0; i < raw.n; i++)
        low[i] = ag_ascii_lower(raw.p[i]);
    for (size_t i = 0; i < raw.n; i++) {
        if (low[i] != '%') {
            dec[n++] = low[i];
            continue;
        }
        int a = i + 2 < raw.n ? hexval(low[i + 1]) : -1;
        int b = i + 2 < raw.n ? hexval(low[i + 2]) : -1;
        if (a < 0 || b < 0)
            return ag_str_make(low, raw.n);
        dec[n++] = (char)(a * 16 + b);
        i += 2;
    }
    return ag_str_make(dec, n);
}

/* Collects the Impersonate-* headers. Returns 0, or the status to answer (400). */
static int collect(const ag_http_req_t *req, ag_arena_t *arena, imp_t *im)
{
    static const ag_str_t pfx = AG_STR("impersonate-"), xpfx = AG_STR("impersonate-extra-");
    for (int i = 0; i < req->nheaders; i++) {
        ag_str_t n = req->headers[i].name, v = req->headers[i].value;
        if (!ag_str_istarts_with(n, pfx))
            continue;
        if (++im->total > MAX_IMPERSONATE)
            return 400;
        if (ag_str_ieq(n, AG_STR("impersonate-user"))) {
            if (im->has_user)
                return 400; /* one user */
            im->user = v, im->has_user = true;
        } else if (ag_str_ieq(n, AG_STR("impersonate-uid"))) {
            if (im->has_uid)
                return 400;
            im->uid = v, im->has_uid = true;
        } else if (ag_str_ieq(n, AG_STR("impersonate-group"))) {
            im->groups[im->ngroups++] = v;
        } else if (ag_str_istarts_with(n, xpfx) && n.n > xpfx.n) {
            ag_str_t k = extra_key(arena, ag_str_sub(n, xpfx.n, n.n));
            if (!k.p)
                return 500;
            im->xkeys[im->nextra] = k;
            im->xvalues[im->nextra++] = v;
        }
    }
    if (!im->has_user && (im->ngroups || im->nextra || im->has_uid))
        return 400; /* the API server: "requested ... without impersonating a user" */
    return 0;
}

/* "system:serviceaccount:NS:NAME" -> ns, name. */
static bool sa_name(ag_str_t user, ag_str_t *ns, ag_str_t *name)
{
    static const ag_str_t p = AG_STR("system:serviceaccount:");
    if (!ag_str_starts_with(user, p))
        return false;
    ag_str_t rest = ag_str_sub(user, p.n, user.n);
    size_t c = ag_str_find_char(rest, ':');
    if (c == 0 || c >= rest.n - 1 || c == rest.n)
        return false;
    *ns = ag_str_sub(rest, 0, c);
    *name = ag_str_sub(rest, c + 1, rest.n);
    return ag_str_find_char(*name, ':') == name->n;
}

static ag_attrs_t imp_attrs(ag_str_t group, ag_str_t resource, ag_str_t sub, ag_str_t ns,
                            ag_str_t name)
{
    return (ag_attrs_t){.resource_request = true, .verb = AG_STR("impersonate"),
                        .api_prefix = AG_STR("apis"), .api_group = group, .resource = resource,
                        .subresource = sub, .namespace_ = ns, .name = name};
}

static bool has_group(const ag_str_t *gs, int n, ag_str_t g)
{
    for (int i = 0; i < n; i++)
        if (ag_str_eq(gs[i], g))
            return true;
    return false;
}

/* The identity the request continues as (reference §7.3). */
static ag_identity_t *impersonated(const imp_t *im, ag_arena_t *arena)
{
    ag_identity_t *id = ag_arena_calloc(arena, sizeof *id);
    ag_str_t *gs = ag_arena_calloc(arena, sizeof *gs * (size_t)(im->ngroups + 3));
    ag_extra_t *xs = ag_arena_calloc(arena, sizeof *xs * (size_t)(im->nextra + 1));
    ag_str_t *xv = ag_arena_calloc(arena, sizeof *xv * (size_t)(im->nextra + 1));
    ag_str_t ns, name;
    int ng = 0;
    if (!id || !gs || !xs || !xv)
        return NULL;
    id->username = im->user;
    id->uid = im->has_uid ? im->uid : AG_STR_NULL;
    for (int i = 0; i < im->ngroups; i++)
        gs[ng++] = im->groups[i];
    if (sa_name(im->user, &ns, &name)) {
        id->flags |= AG_ID_SERVICE_ACCOUNT;
        if (ng == 0) {
            gs[ng++] = AG_STR("system:serviceaccounts");
            size_t len = sizeof "system:serviceaccounts:" - 1 + ns.n;
            char *p = ag_arena_alloc(arena, len);
            if (!p)
                return NULL;
            memcpy(p, "system:serviceaccounts:", len - ns.n);
            memcpy(p + len - ns.n, ns.p, ns.n);
            gs[ng++] = ag_str_make(p, len);
        }
    }
    if (ag_str_eq_lit(im->user, "system:anonymous")) {
        id->flags |= AG_ID_ANONYMOUS;
        if (!has_group(gs, ng, AG_STR("system:unauthenticated")))
            gs[ng++] = AG_STR("system:unauthenticated");
    } else if (!has_group(gs, ng, AG_STR("system:authenticated")) &&
               !has_group(gs, ng, AG_STR("system:unauthenticated"))) {
        gs[ng++] = AG_STR("system:authenticated");
    }
    id->groups = gs, id->ngroups = ng;
    /* extras grouped by key in order of first appearance; values packed per key */
    int nx = 0, nv = 0;
    for (int i = 0; i < im->nextra; i++) {
        int k = 0;
        while (k < nx && !ag_str_eq(xs[k].key, im->xkeys[i]))
            k++;
        if (k < nx)
            continue;
        xs[nx].key = im->xkeys[i];
        xs[nx].values = xv + nv;
        for (int j = i; j < im->nextra; j++)
            if (ag_str_eq(im->xkeys[j], im->xkeys[i]))
                xv[nv++] = im->xvalues[j];
        xs[nx].nvalues = (int)(xv + nv - xs[nx].values);
        nx++;
    }
    id->extra = xs, id->nextra = nx;
    return id;
}

/* ---- deciding ------------------------------------------------------------------------------ */

static int verb_slot(ag_str_t v)
{
    for (size_t i = 0; verbs[i]; i++)
        if (ag_str_eq_lit(v, verbs[i]))
            return (int)i;
    return (int)NVERBS - 1;
}

static ag_str_t arena_buf(ag_arena_t *arena, const ag_buf_t *b)
{
    char *s = ag_arena_cstr(arena, ag_buf_str(b));
    return s ? ag_str_make(s, b->n) : AG_STR_NULL;
}

/* Scratch text for messages and reasons: per thread, fixed, never reallocated (a deny or
 * an audited allow builds no heap buffer). The result is copied into the request arena. */
#define SCRATCH_MSG (16 * 1024)
#define SCRATCH_WHY 4096
static _Thread_local char scratch_msg[SCRATCH_MSG + 1], scratch_why[SCRATCH_WHY + 1];

static ag_buf_t scratch(char *p, size_t cap)
{
    p[0] = '\0';
    return (ag_buf_t){p, 0, cap, cap - 1};
}

/* Answers 403 for <user> on <a>: the Forbidden message and details, the audit reason. */
static ag_gate_result forbid(ag_gate_t *g, ag_audit_entry_t *e, const ag_identity_t *user,
                             const ag_attrs_t *a, const ag_authz_decision_t *d)
{
    ag_buf_t msg = scratch(scratch_msg, sizeof scratch_msg),
             why = scratch(scratch_why, sizeof scratch_why);
    /* The API server appends the authorizer's reason (webhooks, i.e. Azure via guard);
     * RBAC's no-opinion has none. */
    if (d && d->result != AG_AUTHZ_ALLOW && (d->source == AG_AUTHZ_BY_AZURE || d->error))
        ag_authz_reason(d, &why);
    ag_str_t suffix = d && d->source == AG_AUTHZ_BY_AZURE ? ag_buf_str(&why) : AG_STR_NULL;
    g->status = 403;
    if (ag_authz_forbidden_message(user, a, suffix, &msg) == 0)
        g->message = arena_buf(g->arena, &msg);
    if (!g->message.p)
        g->message = AG_STR("forbidden");
    if (a->resource_request)
        g->details = (ag_status_details_t){.name = a->name, .group = a->api_group,
                                           .kind = a->resource};
    if (e) {
        e->decision = AG_AUDIT_FORBID;
        e->reason = why.n ? arena_buf(g->arena, &why) : AG_STR_NULL;
    }
    return AG_GATE_DENY;
}

static bool allowed(const ag_policy_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                    ag_authz_decision_t *d)
{
    memset(d, 0, sizeof *d);
    return ag_authz_chain_eval(&p->chain, user, a, d) == AG_AUTHZ_ALLOW;
}

/* Each impersonated item authorized for the requester (reference §7.2). */
static ag_gate_result check_impersonation(ag_gate_t *g, ag_audit_entry_t *e,
                                          const ag_policy_t *p, const ag_identity_t *req,
                                          const imp_t *im, ag_authz_decision_t *d)
{
    const ag_str_t core = AG_STR_NULL, authn = AG_STR("authentication.k8s.io");
    ag_str_t ns, name;
    ag_attrs_t a = sa_name(im->user, &ns, &name)
                       ? imp_attrs(core, AG_STR("serviceaccounts"), AG_STR_NULL, ns, name)
                       : imp_attrs(core, AG_STR("users"), AG_STR_NULL, AG_STR_NULL, im->user);
    if (A.impersonation == AG_IMPERSONATION_DENY || !allowed(p, req, &a, d))
        return forbid(g, e, req, &a, A.impersonation == AG_IMPERSONATION_DENY ? NULL : d);
    for (int i = 0; i < im->ngroups; i++) {
        a = imp_attrs(core, AG_STR("groups"), AG_STR_NULL, AG_STR_NULL, im->groups[i]);
        if (!allowed(p, req, &a, d))
            return forbid(g, e, req, &a, d);
    }
    for (int i = 0; i < im->nextra; i++) {
        a = imp_attrs(authn, AG_STR("userextras"), im->xkeys[i], AG_STR_NULL, im->xvalues[i]);
        if (!allowed(p, req, &a, d))
            return forbid(g, e, req, &a, d);
    }
    if (im->has_uid) {
        a = imp_attrs(authn, AG_STR("uids"), AG_STR_NULL, AG_STR_NULL, im->uid);
        if (!allowed(p, req, &a, d))
            return forbid(g, e, req, &a, d);
    }
    return AG_GATE_ALLOW;
}

/* Attribute slices borrow from the head, which does not outlive forwarding: the audit
 * entry keeps arena copies. */
static void keep_attrs(ag_arena_t *arena, ag_audit_entry_t *e, const ag_attrs_t *a)
{
    e->attrs = *a;
    ag_str_t *f[] = {&e->attrs.verb,      &e->attrs.api_group,   &e->attrs.api_version,
                     &e->attrs.namespace_, &e->attrs.resource,   &e->attrs.subresource,
                     &e->attrs.name,      &e->attrs.path,        &e->attrs.api_prefix};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = f[i]->n ? ag_arena_strdup(arena, *f[i]) : AG_STR_NULL;
    e->attrs.field_selector_name = AG_STR_NULL;
    e->have_attrs = true;
}

static ag_gate_result decide(ag_gate_t *g, ag_audit_entry_t *e, const ag_policy_t *p,
                             const ag_identity_t *requester, ag_str_t *verb)
{
    imp_t *im = ag_arena_calloc(g->arena, sizeof *im);
    ag_authz_decision_t *d = ag_arena_alloc(g->arena, sizeof *d);
    ag_attrs_t a;
    const ag_identity_t *user = requester;
    ag_gate_result r;
    int st;
    if (!im || !d)
        return g->status = 500, g->message = AG_STR("internal error"), AG_GATE_DENY;
    if ((st = collect(g->req, g->arena, im)) != 0) {
        g->status = st;
        g->message = st == 400 ? AG_STR("impersonation headers are malformed: one "
                                        "Impersonate-User is required with groups, extra "
                                        "or uid, and at most 64 values")
                               : AG_STR("internal error");
        return AG_GATE_DENY;
    }
    if (ag_reqinfo_parse(g->req->method, g->req->target, g->arena, &a) != 0) {
        g->status = 400;
        g->message = AG_STR("cannot derive request attributes from the request target");
        return AG_GATE_DENY;
    }
    *verb = a.verb;
    if (e)
        keep_attrs(g->arena, e, &a);
    if (im->has_user) {
        ag_metrics_inc(A.m_impersonation[A.impersonation == AG_IMPERSONATION_DENY]);
        if (!p) /* no policy (audit only): nobody may impersonate */
            return forbid(g, e, requester,
                          &(ag_attrs_t){.resource_request = true, .verb = AG_STR("impersonate"),
                                        .resource = AG_STR("users"), .name = im->user},
                          NULL);
        if ((r = check_impersonation(g, e, p, requester, im, d)) != AG_GATE_ALLOW)
            return r;
        if (!(user = impersonated(im, g->arena)))
            return g->status = 500, g->message = AG_STR("internal error"), AG_GATE_DENY;
        if (e)
            e->impersonated = user;
    }
    if (p) {
        if (!allowed(p, user, &a, d))
            return forbid(g, e, user, &a, d);
        if (ag_reqinfo_needs_create_check(&a, g->req->websocket)) {
            ag_attrs_t c = a;
            c.verb = AG_STR("create");
            if (!allowed(p, user, &c, d))
                return forbid(g, e, user, &c, d);
        }
    }
    if (e) {
        ag_buf_t why = scratch(scratch_why, sizeof scratch_why);
        e->decision = AG_AUDIT_ALLOW;
        if (p && ag_authz_reason(d, &why) == 0 && why.n)
            e->reason = arena_buf(g->arena, &why);
    }
    g->identity = user;
    return AG_GATE_ALLOW;
}

static void observe(ag_str_t verb, bool allow, uint64_t ns)
{
    ag_metrics_inc(A.m_decision[verb_slot(verb)][allow ? 0 : 1]);
    double s = (double)ns / 1e9;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (s <= buckets_s[i])
            ag_metrics_inc(A.m_bucket[i]);
    ag_metrics_inc(A.m_bucket[NBUCKETS]);
    ag_metrics_inc(A.m_count);
}

ag_gate_result ag_authorize_gate(ag_gate_t *g, void *ud)
{
    (void)ud;
    uint64_t t0 = uv_hrtime();
    ag_audit_entry_t *e = ag_audit_begin(g);
    const ag_identity_t *requester = g->identity ? g->identity : &anonymous;
    ag_policy_t *p = A.enabled ? ag_policy_acquire(g->worker) : NULL;
    ag_gate_result r;
    ag_str_t verb = AG_STR("other");
    if (e)
        e->user = requester;
    if (A.enabled && !p) { /* fail closed: no policy published */
        g->status = 503;
        g->message = AG_STR("authorization policy is not loaded");
        r = AG_GATE_DENY;
    } else {
        r = decide(g, e, p, requester, &verb);
    }
    ag_policy_unref(p);
    observe(verb, r == AG_GATE_ALLOW, uv_hrtime() - t0);
    if (r == AG_GATE_DENY && g->status == 403)
        ag_debug("forbidden for %.*s: %.*s (worker %d)", AG_STR_FMT(requester->username),
                 AG_STR_FMT(g->message), g->worker);
    return r;
}

/* ---- start-up ---------------------------------------------------------------------------- */

static void register_metrics(void)
{
    static char labels[NVERBS][2][64];
    static const char *h = "Authorization decisions by verb and decision.";
    for (size_t i = 0; i < NVERBS; i++)
        for (int k = 0; k < 2; k++) {
            snprintf(labels[i][k], sizeof labels[i][k], "verb=\"%s\",decision=\"%s\"",
                     verbs[i] ? verbs[i] : "other", k ? "forbid" : "allow");
            A.m_decision[i][k] = ag_metrics_counter("authgate_authz_decisions_total",
                                                    labels[i][k], h);
        }
    static char le[NBUCKETS + 1][32];
    static const char *hb = "Authorization step latency (cumulative buckets, seconds).";
    for (size_t i = 0; i <= NBUCKETS; i++) {
        if (i < NBUCKETS)
            snprintf(le[i], sizeof le[i], "le=\"%g\"", buckets_s[i]);
        else
            snprintf(le[i], sizeof le[i], "le=\"+Inf\"");
        A.m_bucket[i] = ag_metrics_counter("authgate_authz_duration_seconds_bucket", le[i], hb);
    }
    A.m_count = ag_metrics_counter("authgate_authz_duration_seconds_count", NULL,
                                   "Authorization steps timed.");
    static const char *hi = "Requests carrying Impersonate-User, by impersonation mode.";
    A.m_impersonation[0] = ag_metrics_counter("authgate_impersonation_requests_total",
                                              "mode=\"authorize\"", hi);
    A.m_impersonation[1] = ag_metrics_counter("authgate_impersonation_requests_total",
                                              "mode=\"deny\"", hi);
}

ag_err ag_authorize_setup(const ag_config_t *conf, uv_loop_t *control, ag_buf_t *errmsg)
{
    ag_err err;
    if (!conf->authz_enabled && !conf->audit_enabled)
        return 0;
    anonymous = (ag_identity_t){.username = AG_STR("system:anonymous"),
                                .groups = anon_groups, .ngroups = 1,
                                .flags = AG_ID_ANONYMOUS};
    anon_groups[0] = AG_STR("system:unauthenticated");
    A.enabled = conf->authz_enabled;
    A.impersonation = conf->authz.impersonation;
    if (A.enabled && ((err = ag_policy_setup(conf, control, errmsg)) != 0 ||
                      (err = ag_webhook_sar_register()) != 0))
        return err;
    if ((err = ag_audit_setup(conf, errmsg)) != 0)
        return err;
    register_metrics();
    ag_authenticator_t *a = ag_authenticator_default();
    if (a)
        ag_authenticator_set_next(a, ag_authorize_gate, NULL);
    else
        ag_gate_install(ag_authorize_gate, NULL); /* no authentication: all anonymous */
    ag_info("authorization: %s, impersonation %s%s", A.enabled ? "policy" : "off (audit only)",
            A.impersonation == AG_IMPERSONATION_DENY ? "denied" : "authorized",
            a ? "" : "; no authentication: every request is system:anonymous");
    return 0;
}
