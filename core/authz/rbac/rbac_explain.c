/* Why not (rbac.h ag_rbac_explain_denial): for a request Kubernetes RBAC did not allow,
 * the rule the user can reach that misses it by exactly one field, for `authgate check
 * --explain`. Reads the snapshot only; off the request path (it walks every grant of the
 * user and its groups, in every namespace). Never changes a decision. */
#include "authz/rbac/rbac_int.h"

typedef struct {
    const rbac_grant_t *grant;
    int rule;
    const char *field; /* the one field the rule misses */
} closest_t;

/* The first rule in g[0, n) one field away from <a>; a RoleBinding outside the request's
 * namespace counts "namespace" as a field, and is looked at only when <other_ns>. */
static bool scan(const rbac_grant_t *g, int n, const ag_attrs_t *a, bool other_ns,
                 const ag_rbac_t *masker, closest_t *best)
{
    int64_t now = ag_rbac_now_ms();
    for (int i = 0; i < n; i++) {
        const rbac_binding_t *b = g[i].binding;
        bool elsewhere = !b->cluster && !(a->namespace_.n && ag_str_eq(b->ns, a->namespace_));
        if (!g[i].role || elsewhere != other_ns || (elsewhere && !a->resource_request) ||
            !ag_rbac_binding_in_window(b, now) || /* outside: the decision names it instead */
            (masker && ag_rbac_masked(masker, b)))
            continue;
        for (int r = 0; r < g[i].role->nrules; r++) {
            const char *field;
            int misses = ag_rbac_rule_misses(g[i].role->rules[r], a, &field) + elsewhere;
            if (misses == 1) {
                *best = (closest_t){&g[i], r, elsewhere ? "namespace" : field};
                return true;
            }
        }
    }
    return false;
}

static bool scan_principal(const rbac_principal_t *x, const ag_attrs_t *a, bool other_ns,
                           const ag_rbac_t *masker, closest_t *best)
{
    if (scan(x->grants, x->ncluster, a, other_ns, masker, best))
        return true;
    for (int k = 0; k < x->nns; k++)
        if (scan(x->grants + x->nss[k].first, x->nss[k].n, a, other_ns, masker, best))
            return true;
    return false;
}

/* The principal <kind>/<name> in <p>'s own index and, for a delta, in its base's (less
 * the bindings it masked). */
static bool scan_named(const ag_rbac_t *p, char kind, ag_str_t name, const ag_attrs_t *a,
                       bool other_ns, closest_t *best)
{
    const rbac_principal_t *x;
    if (p->base && (x = ag_rbac_find_principal(p->base, kind, name)) &&
        scan_principal(x, a, other_ns, p, best))
        return true;
    return (x = ag_rbac_find_principal(p, kind, name)) &&
           scan_principal(x, a, other_ns, NULL, best);
}

static void put_list(ag_buf_t *out, const rbac_list_t *l, bool quote)
{
    for (int i = 0; i < l->n; i++)
        ag_buf_printf(out, quote ? "%s\"%.*s\"" : "%s%.*s", i ? "," : "", AG_STR_FMT(l->v[i]));
}

static void put_rule(ag_buf_t *out, const rbac_rule_t *r)
{
    ag_buf_append_cstr(out, "allows ");
    put_list(out, &r->verbs, false);
    ag_buf_append_cstr(out, " on ");
    if (!r->resources.n) {
        put_list(out, &r->urls, false);
        return;
    }
    put_list(out, &r->resources, false);
    ag_buf_append_cstr(out, " in API groups ");
    put_list(out, &r->groups, true);
    if (r->names.n) {
        ag_buf_append_cstr(out, " named ");
        put_list(out, &r->names, true);
    }
}

static void put_missing(ag_buf_t *out, const closest_t *c, const ag_attrs_t *a)
{
    const char *f = c->field;
    ag_str_t v = a->verb;
    if (strcmp(f, "namespace") == 0) {
        ag_buf_printf(out, "; bound in namespace \"%.*s\" only, asked %s%.*s%s",
                      AG_STR_FMT(c->grant->binding->ns), a->namespace_.n ? "in \"" : "",
                      AG_STR_FMT(a->namespace_), a->namespace_.n ? "\"" : "cluster-wide");
        return;
    }
    if (strcmp(f, "resource") == 0) {
        ag_buf_printf(out, "; missing resource \"%.*s%s%.*s\"", AG_STR_FMT(a->resource),
                      a->subresource.n ? "/" : "", AG_STR_FMT(a->subresource));
        return;
    }
    if (strcmp(f, "resourceName") == 0 && !a->name.n) {
        ag_buf_append_cstr(out, "; the request names no object and the rule only named ones");
        return;
    }
    v = strcmp(f, "apiGroup") == 0       ? a->api_group
        : strcmp(f, "resourceName") == 0 ? a->name
        : strcmp(f, "path") == 0         ? a->path
                                         : v;
    ag_buf_printf(out, "; missing %s \"%.*s\"", f, AG_STR_FMT(v));
}

bool ag_rbac_explain_denial(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                            ag_buf_t *out)
{
    closest_t c = {0};
    bool found = false;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (int i = 0; i <= user->ngroups && !found; i++) {
            ag_str_t name = i ? user->groups[i - 1] : user->username;
            found = scan_named(p, i ? 'G' : 'U', name, a, pass == 1, &c);
        }
    if (!found)
        return false;
    const rbac_binding_t *b = c.grant->binding;
    const rbac_subject_t *s = c.grant->subject;
    ag_buf_printf(out, "closest: %.*s \"%.*s\" rule %d (%s \"%.*s%s%.*s\" to %.*s \"%.*s\") ",
                  AG_STR_FMT(b->role_kind), AG_STR_FMT(b->role_name), c.rule,
                  b->cluster ? "ClusterRoleBinding" : "RoleBinding", AG_STR_FMT(b->name),
                  b->cluster ? "" : "/", AG_STR_FMT(b->ns), AG_STR_FMT(s->kind),
                  AG_STR_FMT(s->name));
    put_rule(out, c.grant->role->rules[c.rule]);
    put_missing(out, &c, a);
    return true;
}
