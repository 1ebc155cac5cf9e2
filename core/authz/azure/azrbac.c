/* Azure RBAC decisions (azrbac.h): request -> data action and scope as AKS's guard
 * webhook forms them (spec §8), then the reference algorithm of spec §13 over a loaded
 * snapshot (azrbac_load.c builds it). Runs on the request path: no allocation, no I/O; the
 * per-request strings go into the decision's own buffer. Any failure denies. */
#include <stdlib.h>
#include <string.h>

#include "authz/azure/azrbac_int.h"

/* ---- snapshot lifetime --------------------------------------------------------------- */

void az_destroy(ag_azrbac_t *p)
{
    if (!p)
        return;
    free(p->roles);
    free(p->asg);
    free(p->ptab);
    free(p->deny);
    ag_arena_dispose(&p->arena);
    free(p);
}

void ag_azrbac_ref(ag_azrbac_t *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void ag_azrbac_unref(ag_azrbac_t *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        az_destroy(p);
}

void ag_azrbac_stats(const ag_azrbac_t *p, ag_azrbac_stats_t *out)
{
    *out = p->stats;
}

ag_str_t ag_azrbac_cluster(const ag_azrbac_t *p)
{
    return p->cluster;
}

const az_pslot_t *az_find_principal(const ag_azrbac_t *p, ag_az_guid_t pid)
{
    for (unsigned slot = (unsigned)ag_az_guid_hash(pid) & p->pmask; p->ptab[slot].count;
         slot = (slot + 1) & p->pmask)
        if (ag_az_guid_eq(p->ptab[slot].pid, pid))
            return &p->ptab[slot];
    return NULL;
}

/* ---- request -> data action ---------------------------------------------------------- */

/* Bounded writer over a fixed buffer: overflow is remembered, never truncated silently. */
typedef struct {
    char *p;
    size_t n, cap;
    bool over;
} az_w_t;

static void put(az_w_t *w, ag_str_t s)
{
    if (w->over || s.n > w->cap - w->n) {
        w->over = true;
        return;
    }
    if (s.n)
        memcpy(w->p + w->n, s.p, s.n);
    w->n += s.n;
}

/* guard's verb table (spec §8.1); other verbs get no suffix, as in guard. */
static ag_str_t verb_suffix(ag_str_t verb)
{
    static const struct {
        const char *verb, *suffix;
    } map[] = {
        {"get", "read"},
        {"list", "read"},
        {"watch", "read"},
        {"create", "write"},
        {"update", "write"},
        {"patch", "write"},
        {"delete", "delete"},
        {"deletecollection", "delete"},
        {"bind", "bind/action"},
        {"escalate", "escalate/action"},
        {"use", "use/action"},
        {"impersonate", "impersonate/action"},
        {"*", "*"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (ag_str_ieq(verb, ag_str_cstr(map[i].verb)))
            return ag_str_cstr(map[i].suffix);
    return AG_STR_NULL;
}

static bool has_slash(ag_str_t s)
{
    return ag_str_find_char(s, '/') < s.n;
}

static ag_err write_action(const ag_attrs_t *a, az_w_t *w)
{
    static const ag_str_t slash = {"/", 1};
    put(w, AG_STR(AG_AZ_MC));
    if (a->resource_request) {
        /* a '/' inside a name would forge another action: refuse */
        if (a->resource.n == 0 || has_slash(a->resource) || has_slash(a->api_group))
            return AG_E_INVAL;
        if (ag_str_eq_lit(a->api_group, "*"))
            put(w, AG_STR("/*")); /* any group, the core one (no segment) included */
        else if (a->api_group.n)
            put(w, slash), put(w, a->api_group), put(w, slash); /* core: no segment */
        else
            put(w, slash);
        put(w, a->resource);
        /* subresources fold into their resource, except pods/exec (any verb) */
        if (a->api_group.n == 0 && ag_str_ieq(a->resource, AG_STR("pods")) &&
            ag_str_ieq(a->subresource, AG_STR("exec"))) {
            put(w, AG_STR("/exec/action"));
            return w->over ? AG_E_TOO_BIG : 0;
        }
    } else {
        ag_str_t path = a->path;
        while (path.n && path.p[0] == '/')
            path = ag_str_sub(path, 1, path.n);
        while (path.n && path.p[path.n - 1] == '/')
            path.n--;
        if (path.n)
            put(w, slash), put(w, path);
    }
    ag_str_t suffix = verb_suffix(a->verb);
    if (suffix.n)
        put(w, slash), put(w, suffix);
    return w->over ? AG_E_TOO_BIG : 0;
}

ag_err ag_azrbac_data_action(const ag_attrs_t *a, ag_buf_t *out)
{
    char buf[AG_AUTHZ_AZURE_BUF];
    az_w_t w = {buf, 0, sizeof buf, false};
    ag_err err = write_action(a, &w);
    return err ? err : ag_buf_append(out, buf, w.n);
}

/* ---- the decision (spec §13) --------------------------------------------------------- */

typedef struct {
    ag_azperm_action_t act;
    bool data;         /* DataActions/NotDataActions, else Actions/NotActions */
    ag_str_t ns;       /* data requests: the namespace, "" at cluster scope */
    ag_str_t scope_lc; /* the request scope, normalized */
    bool on_line;      /* the request scope is the cluster, an ancestor or a descendant */
} az_req_t;

static bool block_grants(const az_block_t *b, const az_req_t *r)
{
    const ag_azperm_set_t *allow = r->data ? &b->data_actions : &b->actions;
    const ag_azperm_set_t *except = r->data ? &b->not_data_actions : &b->not_actions;
    /* Not-lists subtract within this block only; another role may still grant */
    return ag_azperm_covers(allow, &r->act) && !ag_azperm_overlaps(except, &r->act);
}

static bool block_denies(const az_block_t *b, const az_req_t *r)
{
    const ag_azperm_set_t *denied = r->data ? &b->data_actions : &b->actions;
    const ag_azperm_set_t *except = r->data ? &b->not_data_actions : &b->not_actions;
    return ag_azperm_overlaps(denied, &r->act) && !ag_azperm_covers(except, &r->act);
}

static bool asg_applies(const az_asg_t *g, const az_req_t *r)
{
    if (r->data) /* request scopes are <cluster> or <cluster>/namespaces/<ns> only */
        return g->kind == AZ_AT_ABOVE || (r->ns.n && ag_str_ieq(g->ns, r->ns));
    return ag_azscope_covers(g->scope_lc, r->scope_lc) || (g->listed_above && r->on_line);
}

static bool role_grants(const ag_azrbac_t *p, const az_asg_t *g, const az_req_t *r)
{
    const az_role_t *role = &p->roles[g->role];
    for (int b = 0; b < role->nblocks; b++)
        if (block_grants(&role->blocks[b], r))
            return true;
    return false;
}

/* The principal's assignments, or NULL when it has none (or is not a GUID: only GUIDs
 * are object ids, guard drops the rest). */
static const az_pslot_t *assignments_of(const ag_azrbac_t *p, ag_str_t principal)
{
    ag_az_guid_t pid;
    return ag_az_guid_parse(principal, &pid) ? az_find_principal(p, pid) : NULL;
}

static const az_asg_t *grant_of(const ag_azrbac_t *p, ag_str_t principal, const az_req_t *r)
{
    const az_pslot_t *s = assignments_of(p, principal);
    for (int i = 0; s && i < s->count; i++) {
        const az_asg_t *g = &p->asg[s->first + i];
        if (g->role < 0 || g->conditional || !asg_applies(g, r))
            continue; /* unknown roles and unevaluated conditions grant nothing */
        if (role_grants(p, g, r))
            return g;
    }
    return NULL;
}

/* An assignment of <principal> one field from granting: its role grants the action at
 * another scope (<scope_miss>), or it applies here and its role lacks the action. */
static const az_asg_t *near_grant_of(const ag_azrbac_t *p, ag_str_t principal, const az_req_t *r,
                                     bool scope_miss)
{
    const az_pslot_t *s = assignments_of(p, principal);
    for (int i = 0; s && i < s->count; i++) {
        const az_asg_t *g = &p->asg[s->first + i];
        if (g->role < 0 || g->conditional)
            continue;
        bool at = asg_applies(g, r), grants = role_grants(p, g, r);
        if (scope_miss ? !at && grants : at && !grants)
            return g;
    }
    return NULL;
}

static bool in_ids(ag_str_t id, const ag_str_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ag_str_ieq(ids[i], id))
            return true;
    return false;
}

static bool any_in_ids(ag_str_t principal, const ag_str_t *groups, int ngroups, const ag_str_t *ids,
                       int n)
{
    if (in_ids(principal, ids, n))
        return true;
    for (int i = 0; i < ngroups; i++)
        if (in_ids(groups[i], ids, n))
            return true;
    return false;
}

static const az_deny_t *deny_of(const ag_azrbac_t *p, ag_str_t principal, const ag_str_t *groups,
                                int ngroups, const az_req_t *r)
{
    for (int i = 0; i < p->ndeny; i++) {
        const az_deny_t *dn = &p->deny[i];
        bool at = dn->exact_scope_only ? ag_str_eq(dn->scope_lc, r->scope_lc)
                                       : ag_azscope_covers(dn->scope_lc, r->scope_lc) ||
                                             (dn->listed_above && r->on_line);
        if (!at)
            continue;
        if (!dn->all_principals &&
            !any_in_ids(principal, groups, ngroups, dn->principals, dn->nprincipals))
            continue;
        if (any_in_ids(principal, groups, ngroups, dn->excluded, dn->nexcluded))
            continue;
        for (int b = 0; b < dn->nblocks; b++)
            if (block_denies(&dn->blocks[b], r))
                return dn;
    }
    return NULL;
}

/* Union over the principal's and its groups' assignments; then deny assignments win. */
static ag_authz_result decide(const ag_azrbac_t *p, ag_str_t principal, const ag_str_t *groups,
                              int ngroups, const az_req_t *r, ag_authz_decision_t *d)
{
    const az_asg_t *g = grant_of(p, principal, r);
    for (int i = 0; !g && i < ngroups; i++)
        g = grant_of(p, groups[i], r);
    if (!g)
        return d->result = AG_AUTHZ_NO_OPINION;
    const az_deny_t *dn = deny_of(p, principal, groups, ngroups, r);
    if (dn) {
        d->assignment_id = dn->id;
        d->azure_role = dn->name;
        d->azure_scope = dn->scope;
        return d->result = AG_AUTHZ_DENY;
    }
    d->assignment_id = g->id;
    d->azure_role = p->roles[g->role].name;
    d->azure_scope = g->scope;
    return d->result = AG_AUTHZ_ALLOW;
}

static ag_authz_result fail_closed(ag_authz_decision_t *d, const char *why)
{
    d->error = why;
    return d->result = AG_AUTHZ_DENY;
}

/* Lower-cases <s> into <buf> as a normalized scope; false when malformed or too long. */
static bool scope_lc(ag_str_t s, char *buf, size_t cap, ag_str_t *out)
{
    if (s.n > 1 && s.p[s.n - 1] == '/')
        s.n--;
    if (s.n == 0 || s.n >= cap || s.p[0] != '/')
        return false;
    for (size_t i = 0; i < s.n; i++)
        buf[i] = ag_ascii_lower(s.p[i]);
    *out = ag_str_make(buf, s.n);
    return true;
}

ag_authz_result ag_azrbac_eval(const ag_azrbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                               ag_authz_decision_t *d)
{
    char lc[AG_AUTHZ_AZURE_BUF], sc[AG_AUTHZ_AZURE_BUF];
    az_w_t w = {d->azure_buf, 0, sizeof d->azure_buf, false};
    az_req_t r = {.data = true, .on_line = true};
    ag_authz_decision_reset(d, AG_AUTHZ_DENY, AG_AUTHZ_BY_AZURE);
    if (!p)
        return fail_closed(d, "Azure RBAC policy is not loaded");
    if (write_action(a, &w) != 0)
        return fail_closed(d, "the request does not map to an Azure data action");
    d->data_action = ag_str_make(w.p, w.n);
    d->azure_scope = p->cluster;
    r.scope_lc = p->cluster_lc;
    if (a->resource_request && a->namespace_.n) {
        if (has_slash(a->namespace_))
            return fail_closed(d, "the namespace is not a name");
        size_t at = w.n;
        put(&w, p->cluster), put(&w, AG_STR("/namespaces/")), put(&w, a->namespace_);
        d->azure_scope = ag_str_make(w.p + at, w.n - at);
        r.ns = a->namespace_;
        az_w_t sw = {sc, 0, sizeof sc, false};
        put(&sw, p->cluster_lc), put(&sw, AG_STR("/namespaces/")), put(&sw, a->namespace_);
        for (size_t i = p->cluster_lc.n; i < sw.n; i++)
            sc[i] = ag_ascii_lower(sc[i]);
        r.scope_lc = ag_str_make(sc, sw.n);
        if (sw.over)
            w.over = true;
    }
    if (w.over || ag_azperm_action_init(&r.act, d->data_action, lc, sizeof lc) != 0)
        return fail_closed(d, "the data action or scope is too long");
    if (!ag_az_is_guid(user->oid))
        return fail_closed(d, "the identity has no Azure AD object id (oid GUID)");
    return decide(p, user->oid, user->groups, user->ngroups, &r, d);
}

ag_authz_result ag_azrbac_eval_arm(const ag_azrbac_t *p, ag_str_t principal, const ag_str_t *groups,
                                   int ngroups, ag_str_t action, ag_str_t scope,
                                   ag_authz_decision_t *d)
{
    char lc[AG_AUTHZ_AZURE_BUF], sc[AG_AUTHZ_AZURE_BUF];
    az_w_t w = {d->azure_buf, 0, sizeof d->azure_buf, false};
    az_req_t r = {.data = false};
    ag_authz_decision_reset(d, AG_AUTHZ_DENY, AG_AUTHZ_BY_AZURE);
    if (!p)
        return fail_closed(d, "Azure RBAC policy is not loaded");
    if (scope.n == 0)
        scope = p->cluster;
    put(&w, action);
    d->data_action = ag_str_make(w.p, w.n);
    put(&w, scope);
    d->azure_scope = ag_str_make(w.p + action.n, scope.n);
    if (action.n == 0 || w.over ||
        ag_azperm_action_init(&r.act, d->data_action, lc, sizeof lc) != 0 ||
        !scope_lc(scope, sc, sizeof sc, &r.scope_lc))
        return fail_closed(d, "the action or scope is empty, malformed or too long");
    r.on_line = ag_azscope_covers(r.scope_lc, p->cluster_lc) ||
                ag_azscope_covers(p->cluster_lc, r.scope_lc);
    if (!ag_az_is_guid(principal))
        return fail_closed(d, "the principal is not an object id (GUID)");
    return decide(p, principal, groups, ngroups, &r, d);
}

/* printf arguments for a slice that may be {NULL, 0} */
#define FMT(s) (int)(s).n, (s).p ? (s).p : ""

ag_err ag_azrbac_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    if (d->error)
        return ag_buf_printf(out, "Azure RBAC: denied: %s (%.*s)", d->error, FMT(d->data_action));
    if (d->result == AG_AUTHZ_ALLOW)
        return ag_buf_printf(out,
                             "Azure RBAC: allowed by role assignment \"%.*s\" of role "
                             "\"%.*s\" at scope \"%.*s\" (%.*s)",
                             FMT(d->assignment_id), FMT(d->azure_role), FMT(d->azure_scope),
                             FMT(d->data_action));
    if (d->assignment_id.n)
        return ag_buf_printf(out,
                             "Azure RBAC: denied by deny assignment \"%.*s\" (\"%.*s\") at "
                             "scope \"%.*s\" (%.*s)",
                             FMT(d->assignment_id), FMT(d->azure_role), FMT(d->azure_scope),
                             FMT(d->data_action));
    return ag_buf_printf(out, "Azure RBAC: no role assignment grants %.*s at scope \"%.*s\"",
                         FMT(d->data_action), FMT(d->azure_scope));
}

bool ag_azrbac_explain_denial(const ag_azrbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                              const ag_authz_decision_t *d, ag_buf_t *out)
{
    char lc[AG_AUTHZ_AZURE_BUF];
    az_req_t r = {.data = true, .ns = a->resource_request ? a->namespace_ : AG_STR("")};
    const az_asg_t *g = NULL;
    bool scope_miss = false;
    if (!p || d->result == AG_AUTHZ_ALLOW || d->error || d->assignment_id.n ||
        ag_azperm_action_init(&r.act, d->data_action, lc, sizeof lc) != 0)
        return false; /* not a "nothing grants it" denial */
    for (int pass = 0; pass < 2 && !g; pass++) {
        scope_miss = pass == 0;
        for (int i = -1; i < user->ngroups && !g; i++)
            g = near_grant_of(p, i < 0 ? user->oid : user->groups[i], &r, scope_miss);
    }
    if (!g)
        return false;
    ag_buf_printf(out, "closest: role assignment \"%.*s\" of role \"%.*s\" at scope \"%.*s\"; ",
                  AG_STR_FMT(g->id), AG_STR_FMT(p->roles[g->role].name), AG_STR_FMT(g->scope));
    if (!scope_miss)
        return ag_buf_printf(out, "the role does not grant %.*s", AG_STR_FMT(d->data_action)) == 0;
    return ag_buf_printf(out, "it grants %.*s there, not at scope \"%.*s\"",
                         AG_STR_FMT(d->data_action), AG_STR_FMT(d->azure_scope)) == 0;
}
