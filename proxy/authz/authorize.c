/* The authorization step (authorize.h). Order per request, as kube-apiserver's filter
 * chain: impersonation (authorized for the requester) -> attributes -> authorize the
 * effective user -> the exec-as-GET `create` check. Everything synchronous on the worker;
 * the policy snapshot is held for the length of the decision only (reasons are copied
 * into the request arena before it is released). */
#include "authz/authorize.h"

#include <stdlib.h>
#include <string.h>

#include "authz/audit.h"
#include "authz/impersonate.h"
#include "authz/policy.h"
#include "authz/reqinfo.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static const char *const verbs[] = {
    "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", NULL};
#define NVERBS (sizeof verbs / sizeof verbs[0]) /* the NULL slot counts "other" */
static const double buckets_s[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2};
#define NBUCKETS (sizeof buckets_s / sizeof buckets_s[0])

struct ag_authorizer {
    bool enabled;      /* a policy decides; false: allow all (audit only) */
    int impersonation; /* AG_IMPERSONATION_* */
    ag_metric_id m_decision[NVERBS][2];
    ag_metric_id m_duration, m_impersonation[2];
};

static const ag_str_t anon_groups[] = {AG_STR("system:unauthenticated")};
static const ag_identity_t anonymous = {.username = AG_STR("system:anonymous"),
                                        .groups = anon_groups,
                                        .ngroups = 1,
                                        .flags = AG_ID_ANONYMOUS};

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
     * RBAC's no-opinion has none for the client, but the audit event names a role
     * resolution error or a time-bound binding judged outside its window. */
    if (d && d->result != AG_AUTHZ_ALLOW &&
        (d->source == AG_AUTHZ_BY_AZURE || d->error || d->outside_window))
        ag_authz_reason(d, &why);
    ag_str_t suffix = d && d->source == AG_AUTHZ_BY_AZURE ? ag_buf_str(&why) : AG_STR_NULL;
    g->status = 403;
    if (ag_authz_forbidden_message(user, a, suffix, &msg) == 0)
        g->message = arena_buf(g->arena, &msg);
    if (!g->message.p)
        g->message = AG_STR("forbidden");
    if (a->resource_request)
        g->details =
            (ag_status_details_t){.name = a->name, .group = a->api_group, .kind = a->resource};
    if (e) {
        e->decision = AG_AUDIT_FORBID;
        e->reason = why.n ? arena_buf(g->arena, &why) : AG_STR_NULL;
    }
    return AG_GATE_DENY;
}

/* The chain starts <d> afresh itself (ag_authz_decision_reset: the fields, not the 1.5 KiB
 * of azure_buf), so nothing here clears the whole struct per evaluation. */
static bool allowed(const ag_policy_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                    ag_authz_decision_t *d)
{
    return ag_authz_chain_eval(&p->chain, user, a, d) == AG_AUTHZ_ALLOW;
}

/* Each impersonated item authorized for the requester (reference §7.2). */
static ag_gate_result check_impersonation(const ag_authorizer_t *az, ag_gate_t *g,
                                          ag_audit_entry_t *e, const ag_policy_t *p,
                                          const ag_identity_t *req, const ag_impersonate_t *im,
                                          ag_authz_decision_t *d)
{
    ag_attrs_t a;
    for (int i = 0, n = ag_impersonate_nchecks(im); i < n; i++) {
        ag_impersonate_check(im, i, &a);
        if (az->impersonation == AG_IMPERSONATION_DENY) /* the first item names the refusal */
            return forbid(g, e, req, &a, NULL);
        if (!allowed(p, req, &a, d))
            return forbid(g, e, req, &a, d);
    }
    return AG_GATE_ALLOW;
}

static ag_gate_result fail(ag_gate_t *g, int status, const char *msg)
{
    g->status = status;
    g->message = ag_str_cstr(msg);
    return AG_GATE_DENY;
}

static ag_gate_result decide(const ag_authorizer_t *az, ag_gate_t *g, ag_audit_entry_t *e,
                             const ag_policy_t *p, const ag_identity_t *requester, ag_str_t *verb)
{
    ag_impersonate_t imp_storage; /* ~3 KiB and ~1.6 KiB: the stack, not the arena, so a */
    ag_authz_decision_t dec;      /* request without impersonation costs no arena block */
    ag_impersonate_t *im = &imp_storage;
    ag_authz_decision_t *d = &dec;
    ag_identity_t *imp = NULL;
    const ag_identity_t *user = requester;
    const char *why = NULL;
    ag_attrs_t a;
    ag_gate_result r;
    ag_err err;
    if (ag_reqinfo_parse(g->req->method, g->req->target, g->arena, &a) != 0)
        return fail(g, 400, "cannot derive request attributes from the request target");
    *verb = a.verb;
    if (e)
        ag_audit_set_attrs(e, g->arena, &a, g->req->target);
    if ((err = ag_impersonate_parse(g->req->headers, g->req->nheaders, g->arena, im, &why)))
        return fail(g, err == AG_E_INVAL ? 400 : 500, why ? why : "internal error");
    if (im->has_user) {
        ag_metrics_inc(az->m_impersonation[az->impersonation == AG_IMPERSONATION_DENY]);
        if (!p) { /* no policy (audit only): nobody may impersonate */
            ag_impersonate_check(im, 0, &a);
            return forbid(g, e, requester, &a, NULL);
        }
        if ((r = check_impersonation(az, g, e, p, requester, im, d)) != AG_GATE_ALLOW)
            return r;
        if (ag_impersonate_identity(im, g->arena, &imp) != 0)
            return fail(g, 500, "internal error");
        user = imp;
        if (e)
            e->impersonated = imp;
    }
    if (p) {
        if (!allowed(p, user, &a, d))
            return forbid(g, e, user, &a, d);
        /* any upgrade GET, not only WebSocket: SPDY also upgrades on GET (threat-model #15) */
        if (ag_reqinfo_needs_create_check(&a, g->req->upgrade)) {
            ag_attrs_t c = a;
            c.verb = AG_STR("create");
            if (!allowed(p, user, &c, d))
                return forbid(g, e, user, &c, d);
        }
    }
    if (e && p) /* the reason is worded by the audit writer, off this thread */
        ag_audit_set_allow(e, g->arena, d);
    else if (e)
        e->decision = AG_AUDIT_ALLOW;
    g->identity = user;
    return AG_GATE_ALLOW;
}

static void observe(const ag_authorizer_t *az, ag_str_t verb, bool allow, uint64_t ns)
{
    ag_metrics_inc(az->m_decision[verb_slot(verb)][allow ? 0 : 1]);
    ag_metrics_observe(az->m_duration, ns);
}

ag_gate_result ag_authorize_gate(ag_gate_t *g, void *ud)
{
    const ag_authorizer_t *az = ud;
    uint64_t t0 = uv_hrtime();
    ag_audit_entry_t *e = ag_audit_begin_at(g, t0); /* received: one clock reading */
    const ag_identity_t *requester = g->identity ? g->identity : &anonymous;
    const ag_policy_t *p = az->enabled ? ag_policy_enter() : NULL;
    ag_gate_result r;
    ag_str_t verb = AG_STR("other");
    if (e)
        e->user = requester;
    if (az->enabled && !p) { /* fail closed: no policy published */
        g->status = 503;
        g->message = AG_STR("authorization policy is not loaded");
        r = AG_GATE_DENY;
    } else {
        r = decide(az, g, e, p, requester, &verb);
    }
    if (az->enabled)
        ag_policy_leave();
    observe(az, verb, r == AG_GATE_ALLOW, uv_hrtime() - t0);
    if (r == AG_GATE_DENY && g->status == 403)
        ag_log_req(AG_LOG_DEBUG, g->client_ip.p, ag_gate_audit_id(g),
                   "forbidden for %.*s: %.*s (worker %d)", AG_STR_FMT(requester->username),
                   AG_STR_FMT(g->message), g->worker);
    return r;
}

/* ---- start-up ---------------------------------------------------------------------------- */

static void register_metrics(ag_authorizer_t *az)
{
    static char labels[NVERBS][2][64];
    static const char *h = "Authorization decisions by verb and decision.";
    for (size_t i = 0; i < NVERBS; i++)
        for (int k = 0; k < 2; k++) {
            snprintf(labels[i][k], sizeof labels[i][k], "verb=\"%s\",decision=\"%s\"",
                     verbs[i] ? verbs[i] : "other", k ? "forbid" : "allow");
            az->m_decision[i][k] =
                ag_metrics_counter("authgate_authz_decisions_total", labels[i][k], h);
        }
    az->m_duration =
        ag_metrics_histogram("authgate_authz_duration_seconds", NULL,
                             "Authorization step latency in seconds.", buckets_s, (int)NBUCKETS);
    static const char *hi = "Requests carrying Impersonate-User, by impersonation mode.";
    az->m_impersonation[0] =
        ag_metrics_counter("authgate_impersonation_requests_total", "mode=\"authorize\"", hi);
    az->m_impersonation[1] =
        ag_metrics_counter("authgate_impersonation_requests_total", "mode=\"deny\"", hi);
}

ag_err ag_authorizer_create(const ag_config_t *conf, ag_authorizer_t **out)
{
    ag_authorizer_t *az = calloc(1, sizeof *az);
    if (!az)
        return AG_E_NOMEM;
    az->enabled = conf->authz_enabled;
    az->impersonation = conf->authz.impersonation;
    register_metrics(az);
    ag_info("authorization: %s, impersonation %s%s", az->enabled ? "policy" : "off (audit only)",
            az->impersonation == AG_IMPERSONATION_DENY ? "denied" : "authorized",
            conf->authn_enabled ? "" : "; no authentication: every request is system:anonymous");
    *out = az;
    return 0;
}

void ag_authorizer_destroy(ag_authorizer_t *az)
{
    free(az);
}
