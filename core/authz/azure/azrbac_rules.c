/* Azure RBAC as rules (azrbac.h ag_azrbac_rules_for): the data actions of the role
 * assignments that apply to a principal in a namespace, translated back into Kubernetes
 * resource and non-resource rules (the inverse of guard's mapping in azrbac.c). Where the
 * translation cannot be exact (NotDataActions, deny assignments, ABAC conditions, patterns
 * with '*' inside a segment) the rules are marked incomplete; docs/azure-rbac.md has the
 * table. Pure; reads the snapshot only. */
#include <string.h>

#include "authz/azure/azrbac_int.h"

#define MC_LC "microsoft.containerservice/managedclusters/"

static const ag_str_t v_read[] = {AG_STR("get"), AG_STR("list"), AG_STR("watch")};
static const ag_str_t v_write[] = {AG_STR("create"), AG_STR("update"), AG_STR("patch")};
static const ag_str_t v_delete[] = {AG_STR("delete"), AG_STR("deletecollection")};
static const ag_str_t v_all[] = {AG_STR("*")};
static const ag_str_t v_bind[] = {AG_STR("bind")};
static const ag_str_t v_escalate[] = {AG_STR("escalate")};
static const ag_str_t v_use[] = {AG_STR("use")};
static const ag_str_t v_impersonate[] = {AG_STR("impersonate")};
static const ag_str_t v_get[] = {AG_STR("get")};
static const ag_str_t core_group[] = {AG_STR("")};

/* guard's verb suffixes, two-segment ones first; <url> says whether a non-resource
 * request can carry it (only GET maps, to read). */
static const struct {
    const char *suffix;
    ag_strs_t verbs;
    bool url;
} ops[] = {
    {"/bind/action", {v_bind, 1}, false},
    {"/escalate/action", {v_escalate, 1}, false},
    {"/use/action", {v_use, 1}, false},
    {"/impersonate/action", {v_impersonate, 1}, false},
    {"/exec/action", {v_all, 1}, false},
    {"/read", {v_read, 3}, true},
    {"/write", {v_write, 3}, false},
    {"/delete", {v_delete, 2}, false},
    {"/*", {v_all, 1}, true},
};

/* First path segments of the API server's non-resource URLs. */
static bool non_resource_root(ag_str_t seg)
{
    static const char *const roots[] = {"api",     "apis",    "healthz", "livez",       "readyz",
                                        "version", "metrics", "openapi", ".well-known", "logs"};
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (ag_str_eq_lit(seg, roots[i]))
            return true;
    return false;
}

static ag_strs_t one(ag_arena_t *a, ag_str_t s)
{
    ag_str_t *v = ag_arena_alloc(a, sizeof *v);
    if (!v)
        return (ag_strs_t){NULL, 0};
    *v = s;
    return (ag_strs_t){v, 1};
}

/* Everything: what "*" or "Microsoft.ContainerService/managedClusters/" "*" grant. */
static ag_err add_all(ag_rules_t *out)
{
    ag_rule_t res = {.verbs = {v_all, 1}, .groups = {v_all, 1}, .resources = {v_all, 1}};
    ag_rule_t url = {.verbs = {v_all, 1}, .urls = {v_all, 1}};
    ag_err err = ag_rules_add(out, &res);
    return err ? err : ag_rules_add(out, &url);
}

static ag_err add_url(ag_rules_t *out, ag_str_t target, int op)
{
    if (!ops[op].url)
        return 0; /* a non-resource request never maps to this suffix */
    char *p = ag_arena_alloc(out->arena, target.n + 2);
    if (!p)
        return AG_E_NOMEM;
    p[0] = '/';
    memcpy(p + 1, target.p, target.n);
    bool any = ag_str_eq_lit(target, "*"); /* every path: RBAC's "*" */
    ag_rule_t r = {.verbs = ops[op].suffix[1] == '*' ? ops[op].verbs : (ag_strs_t){v_get, 1},
                   .urls = one(out->arena, any ? AG_STR("*") : ag_str_make(p, target.n + 1))};
    return r.urls.n ? ag_rules_add(out, &r) : AG_E_NOMEM;
}

/* <target> (the action without prefix and verb suffix) as a rule with ops[op]'s verbs. */
static ag_err add_target(ag_rules_t *out, ag_str_t target, int op)
{
    ag_str_t seg0, rest = ag_str_split(target, '/', &seg0), seg1 = AG_STR_NULL;
    ag_str_t more = rest.p ? ag_str_split(rest, '/', &seg1) : AG_STR_NULL;
    if (ag_str_find_char(target, '*') < target.n && !ag_str_eq_lit(seg0, "*") &&
        !(rest.p && ag_str_eq_lit(seg1, "*") && !more.p))
        return out->incomplete = true, 0; /* a '*' inside a segment: not a rule */
    if (ag_str_eq_lit(target, "*")) {     /* any group and resource, and any URL */
        ag_rule_t r = {.verbs = ops[op].verbs, .groups = {v_all, 1}, .resources = {v_all, 1}};
        ag_err err = ag_rules_add(out, &r);
        return err ? err : add_url(out, target, op);
    }
    if (non_resource_root(seg0))
        return add_url(out, target, op);
    bool exec = strcmp(ops[op].suffix, "/exec/action") == 0;
    if (more.p || (exec && (rest.p || !ag_str_eq_lit(seg0, "pods"))))
        return out->incomplete = true, 0; /* deeper than group/resource */
    ag_rule_t r = {.verbs = ops[op].verbs};
    ag_err err = 0;
    if (exec)
        r.groups = (ag_strs_t){core_group, 1}, r.resources = one(out->arena, AG_STR("pods/exec"));
    else if (!rest.p)
        r.groups = (ag_strs_t){core_group, 1}, r.resources = one(out->arena, seg0);
    else
        r.groups = one(out->arena, seg0), r.resources = one(out->arena, seg1);
    if (!rest.p && !exec && ops[op].suffix[1] == '*') { /* X/ * is also group X, any resource */
        ag_rule_t g = {
            .verbs = ops[op].verbs, .groups = one(out->arena, seg0), .resources = {v_all, 1}};
        if ((err = g.groups.n ? ag_rules_add(out, &g) : AG_E_NOMEM))
            return err;
    }
    return r.resources.n && r.groups.n ? ag_rules_add(out, &r) : AG_E_NOMEM;
}

/* One DataActions pattern (lower case) as rules. */
static ag_err add_pattern(ag_rules_t *out, ag_str_t pat)
{
    static const ag_str_t mc = AG_STR(MC_LC);
    size_t star = ag_str_find_char(pat, '*');
    if (!ag_str_starts_with(pat, mc)) {
        /* "*", "microsoft.containerservice/" "*": every data action of the cluster */
        if (star < pat.n && ag_str_starts_with(mc, ag_str_sub(pat, 0, star)))
            return star == pat.n - 1 ? add_all(out) : (out->incomplete = true, 0);
        return 0; /* another provider's data action */
    }
    ag_str_t rest = ag_str_sub(pat, mc.n, pat.n - mc.n);
    if (ag_str_eq_lit(rest, "*"))
        return add_all(out);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        ag_str_t suf = ag_str_cstr(ops[i].suffix);
        if (rest.n > suf.n && ag_str_eq(ag_str_sub(rest, rest.n - suf.n, suf.n), suf))
            return add_target(out, ag_str_sub(rest, 0, rest.n - suf.n), (int)i);
    }
    out->incomplete = true; /* a verb suffix guard never produces */
    return 0;
}

static ag_err add_set(ag_rules_t *out, const ag_azperm_set_t *set)
{
    ag_err err = 0;
    for (int i = 0; !err && i < set->nexact; i++)
        err = add_pattern(out, set->exact[i]);
    for (int i = 0; !err && i < set->nglobs; i++)
        err = add_pattern(out, set->globs[i]);
    return err;
}

static ag_err add_principal(const ag_azrbac_t *p, ag_str_t principal, ag_str_t ns, ag_rules_t *out)
{
    ag_az_guid_t pid;
    ag_err err = 0;
    if (!ag_az_guid_parse(principal, &pid)) /* only GUIDs are object ids */
        return 0;
    const az_pslot_t *s = az_find_principal(p, pid);
    for (int i = 0; !err && s && i < s->count; i++) {
        const az_asg_t *g = &p->asg[s->first + i];
        if (g->role < 0 || !(g->kind == AZ_AT_ABOVE || (ns.n && ag_str_ieq(g->ns, ns))))
            continue;
        if (g->conditional) { /* not evaluated: grants nothing, may grant something */
            ag_rules_error(out, "Azure RBAC: conditional role assignments are not listed");
            out->incomplete = true;
            continue;
        }
        const az_role_t *role = &p->roles[g->role];
        for (int b = 0; !err && b < role->nblocks; b++) {
            const az_block_t *blk = &role->blocks[b];
            if (blk->not_data_actions.nexact || blk->not_data_actions.nglobs)
                out->incomplete = true; /* the rules cannot say "except" */
            err = add_set(out, &blk->data_actions);
        }
    }
    return err;
}

static bool names_principal(const az_deny_t *dn, const ag_identity_t *u)
{
    if (dn->all_principals)
        return true;
    for (int i = 0; i < dn->nprincipals; i++) {
        if (ag_str_ieq(dn->principals[i], u->oid))
            return true;
        for (int g = 0; g < u->ngroups; g++)
            if (ag_str_ieq(dn->principals[i], u->groups[g]))
                return true;
    }
    return false;
}

ag_err ag_azrbac_rules_for(const ag_azrbac_t *p, const ag_identity_t *user, ag_str_t ns,
                           ag_rules_t *out)
{
    ag_err err = add_principal(p, user->oid, ns, out);
    for (int g = 0; !err && g < user->ngroups; g++)
        err = add_principal(p, user->groups[g], ns, out);
    for (int i = 0; !err && i < p->ndeny; i++)
        if (names_principal(&p->deny[i], user)) {
            ag_rules_error(out, "Azure RBAC: deny assignments are not subtracted from the rules");
            out->incomplete = true;
            break;
        }
    if (!err && out->incomplete && !out->nerrors)
        ag_rules_error(out, "Azure RBAC: some data actions cannot be listed as Kubernetes rules "
                            "(NotDataActions, or a pattern with '*' inside a segment)");
    return err;
}
