/* Kubernetes RBAC decisions (rbac.h): rule matching exactly as upstream's RuleAllows
 * (reference §2.2), binding resolution through a subject index built at load (§2.3,
 * §2.4), system:masters (§2.6), and who-can. Loading lives in rbac_load.c, the default
 * policy in rbac_bootstrap.c. The decision path never allocates and never denies. */
#include "rbac.h"

#include <stdlib.h>

#include "rbac_int.h"

/* ---- rule matching ----------------------------------------------------------------- */

static bool list_has(const rbac_list_t *l, ag_str_t s)
{
    if (l->star)
        return true;
    for (int i = 0; i < l->n; i++)
        if (ag_str_eq(l->v[i], s))
            return true;
    return false;
}

/* "*", the combined "resource/subresource", or "* /<sub>" when there is a subresource. */
static bool resource_matches(const rbac_list_t *l, ag_str_t res, ag_str_t sub)
{
    if (l->star)
        return true;
    for (int i = 0; i < l->n; i++) {
        ag_str_t r = l->v[i];
        if (!sub.n) {
            if (ag_str_eq(r, res))
                return true;
            continue;
        }
        if (r.n == res.n + 1 + sub.n && memcmp(r.p, res.p, res.n) == 0 && r.p[res.n] == '/' &&
            memcmp(r.p + res.n + 1, sub.p, sub.n) == 0)
            return true;
        if (r.n == sub.n + 2 && r.p[0] == '*' && r.p[1] == '/' &&
            memcmp(r.p + 2, sub.p, sub.n) == 0)
            return true;
    }
    return false;
}

/* No resourceNames: any name (also none). Otherwise the exact name must be listed. */
static bool name_matches(const rbac_list_t *l, ag_str_t name)
{
    if (!l->n)
        return true;
    for (int i = 0; i < l->n; i++)
        if (ag_str_eq(l->v[i], name))
            return true;
    return false;
}

/* "*", exact, or a trailing-'*' entry whose text before the '*'s is a raw string prefix. */
static bool url_matches(const rbac_list_t *l, ag_str_t path)
{
    if (l->star)
        return true;
    for (int i = 0; i < l->n; i++) {
        ag_str_t u = l->v[i];
        if (ag_str_eq(u, path))
            return true;
        if (u.n && u.p[u.n - 1] == '*') {
            while (u.n && u.p[u.n - 1] == '*')
                u.n--;
            if (ag_str_starts_with(path, u))
                return true;
        }
    }
    return false;
}

bool ag_rbac_rule_allows(const rbac_rule_t *r, const ag_attrs_t *a)
{
    if (!list_has(&r->verbs, a->verb))
        return false;
    if (a->resource_request)
        return list_has(&r->groups, a->api_group) &&
               resource_matches(&r->resources, a->resource, a->subresource) &&
               name_matches(&r->names, a->name);
    return url_matches(&r->urls, a->path);
}

/* ---- subject index ---------------------------------------------------------------- */

unsigned long long ag_rbac_key_hash(char kind, ag_str_t ns, ag_str_t name)
{
    unsigned long long h = 1469598103934665603ULL;
    h = (h ^ (unsigned char)kind) * 1099511628211ULL;
    for (size_t i = 0; i < ns.n; i++)
        h = (h ^ (unsigned char)ns.p[i]) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL; /* separator no name byte can forge */
    for (size_t i = 0; i < name.n; i++)
        h = (h ^ (unsigned char)name.p[i]) * 1099511628211ULL;
    return h;
}

/* The key a filled slot stands for, read from its first grant. */
static bool grant_key_eq(const rbac_grant_t *g, char kind, ag_str_t ns, ag_str_t name)
{
    const rbac_subject_t *s = &g->binding->subjects[g->subject];
    return s->key_kind == kind && ag_str_eq(s->key_name, name) &&
           ag_str_eq(g->binding->cluster ? AG_STR("") : g->binding->ns, ns);
}

const rbac_slot_t *ag_rbac_find_slot(const ag_rbac_t *p, char kind, ag_str_t ns, ag_str_t name)
{
    if (!p->nslots)
        return NULL;
    unsigned long long h = ag_rbac_key_hash(kind, ns, name);
    size_t mask = p->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const rbac_slot_t *s = &p->slots[i];
        if (!s->ngrants)
            return NULL;
        if (s->hash == h && grant_key_eq(&s->grants[0], kind, ns, name))
            return s;
    }
}

typedef struct {
    char kind;
    ag_str_t ns, name;
    int binding, subject;
} keyed_t;

static ag_err collect_keys(ag_rbac_t *p, keyed_t **out, size_t *nout)
{
    size_t n = 0, cap = 0;
    keyed_t *v = NULL;
    for (int i = 0; i < p->nbindings; i++) {
        const rbac_binding_t *b = &p->bindings[i];
        for (int j = 0; j < b->nsubjects; j++) {
            const rbac_subject_t *s = &b->subjects[j];
            if (!s->key_kind)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                keyed_t *nv = realloc(v, cap * sizeof *v);
                if (!nv) {
                    free(v);
                    return AG_E_NOMEM;
                }
                v = nv;
            }
            v[n++] = (keyed_t){s->key_kind, b->cluster ? AG_STR("") : b->ns, s->key_name, i, j};
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

/* Build-time probe: slots are matched against the key that first landed there. */
static rbac_slot_t *build_probe(rbac_slot_t *slots, size_t nslots, const keyed_t *keys, size_t k,
                                unsigned long long h)
{
    size_t mask = nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        rbac_slot_t *s = &slots[i];
        if (!s->ngrants)
            return s;
        const keyed_t *f = &keys[s->first];
        if (s->hash == h && f->kind == keys[k].kind && ag_str_eq(f->ns, keys[k].ns) &&
            ag_str_eq(f->name, keys[k].name))
            return s;
    }
}

ag_err ag_rbac_build_index(ag_rbac_t *p)
{
    keyed_t *keys = NULL;
    rbac_slot_t **at = NULL; /* the slot of each key */
    size_t nkeys = 0, nslots = 16;
    ag_err err = collect_keys(p, &keys, &nkeys);
    if (err)
        goto out;
    while (nslots < nkeys * 2 + 16)
        nslots *= 2;
    p->slots = ag_arena_calloc(&p->arena, nslots * sizeof *p->slots);
    at = malloc((nkeys + 1) * sizeof *at);
    if (!p->slots || !at) {
        err = AG_E_NOMEM;
        goto out;
    }
    p->nslots = nslots;
    /* pass 1: count grants per key; pass 2: allocate; pass 3: fill in binding order */
    for (size_t i = 0; i < nkeys; i++) {
        unsigned long long h = ag_rbac_key_hash(keys[i].kind, keys[i].ns, keys[i].name);
        rbac_slot_t *s = build_probe(p->slots, nslots, keys, i, h);
        if (!s->ngrants)
            s->hash = h, s->first = (int)i;
        s->ngrants++;
        at[i] = s;
    }
    for (size_t i = 0; i < nslots; i++) {
        rbac_slot_t *s = &p->slots[i];
        if (!s->ngrants)
            continue;
        s->grants = ag_arena_alloc(&p->arena, (size_t)s->ngrants * sizeof *s->grants);
        if (!s->grants) {
            err = AG_E_NOMEM;
            goto out;
        }
        s->first = 0; /* now the fill cursor */
    }
    for (size_t i = 0; i < nkeys; i++)
        at[i]->grants[at[i]->first++] =
            (rbac_grant_t){&p->bindings[keys[i].binding], keys[i].subject};
out:
    free(at);
    free(keys);
    return err;
}

/* ---- decisions -------------------------------------------------------------------- */

static void fill_allow(ag_authz_decision_t *d, const rbac_binding_t *b, int subject, int rule)
{
    const rbac_subject_t *s = &b->subjects[subject];
    d->result = AG_AUTHZ_ALLOW;
    d->source = AG_AUTHZ_BY_RBAC;
    d->binding_kind = b->cluster ? AG_STR("ClusterRoleBinding") : AG_STR("RoleBinding");
    d->binding_namespace = b->ns;
    d->binding_name = b->name;
    d->role_kind = b->role_kind;
    d->role_name = b->role_name;
    d->rule_index = rule;
    d->subject_kind = s->kind;
    d->subject_namespace = ag_str_eq_lit(s->kind, "ServiceAccount") ? s->eff_ns : s->ns;
    d->subject_name = s->name;
}

/* Visits the grants under one key; true when one allowed (d filled). */
static bool visit_key(const ag_rbac_t *p, char kind, ag_str_t ns, ag_str_t name,
                      const ag_attrs_t *a, ag_authz_decision_t *d)
{
    const rbac_slot_t *s = ag_rbac_find_slot(p, kind, ns, name);
    if (!s)
        return false;
    for (int i = 0; i < s->ngrants; i++) {
        const rbac_binding_t *b = s->grants[i].binding;
        if (!b->role) {
            if (!d->error)
                d->error = b->error;
            continue;
        }
        for (int r = 0; r < b->role->nrules; r++)
            if (ag_rbac_rule_allows(b->role->rules[r], a)) {
                fill_allow(d, b, s->grants[i].subject, r);
                return true;
            }
    }
    return false;
}

/* All ClusterRoleBindings (ns ""), then the RoleBindings of the request's namespace. */
static bool visit_scope(const ag_rbac_t *p, ag_str_t ns, const ag_identity_t *user,
                        const ag_attrs_t *a, ag_authz_decision_t *d)
{
    if (visit_key(p, 'U', ns, user->username, a, d))
        return true;
    for (int g = 0; g < user->ngroups; g++)
        if (visit_key(p, 'G', ns, user->groups[g], a, d))
            return true;
    return false;
}

ag_authz_result ag_rbac_eval(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                             ag_authz_decision_t *d)
{
    *d = (ag_authz_decision_t){.rule_index = -1};
    for (int g = 0; g < user->ngroups; g++)
        if (ag_str_eq_lit(user->groups[g], "system:masters")) {
            d->result = AG_AUTHZ_ALLOW;
            d->source = AG_AUTHZ_BY_SUPERUSER;
            d->subject_kind = AG_STR("Group");
            d->subject_name = AG_STR("system:masters");
            return AG_AUTHZ_ALLOW;
        }
    if (visit_scope(p, AG_STR(""), user, a, d))
        return AG_AUTHZ_ALLOW;
    if (a->namespace_.n && visit_scope(p, a->namespace_, user, a, d))
        return AG_AUTHZ_ALLOW;
    d->result = AG_AUTHZ_NO_OPINION;
    d->source = AG_AUTHZ_BY_RBAC;
    return AG_AUTHZ_NO_OPINION;
}

void ag_rbac_who_can(const ag_rbac_t *p, const ag_attrs_t *a, ag_rbac_who_fn fn, void *ctx)
{
    for (int i = 0; i < p->nbindings; i++) {
        const rbac_binding_t *b = &p->bindings[i];
        if (!b->role || (!b->cluster && !ag_str_eq(b->ns, a->namespace_)))
            continue;
        for (int r = 0; r < b->role->nrules; r++) {
            if (!ag_rbac_rule_allows(b->role->rules[r], a))
                continue;
            for (int j = 0; j < b->nsubjects; j++) {
                const rbac_subject_t *s = &b->subjects[j];
                bool sa = ag_str_eq_lit(s->kind, "ServiceAccount");
                if (sa && !s->eff_ns.n)
                    continue; /* can never match (ClusterRoleBinding without namespace) */
                ag_authz_decision_t via = {.rule_index = -1};
                fill_allow(&via, b, j, r);
                fn(ctx, s->kind, sa ? s->eff_ns : s->ns, s->name, &via);
            }
            break;
        }
    }
}

void ag_rbac_ref(ag_rbac_t *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void ag_rbac_unref(ag_rbac_t *p)
{
    if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    ag_arena_dispose(&p->arena);
    free(p);
}

void ag_rbac_stats(const ag_rbac_t *p, ag_rbac_stats_t *out)
{
    *out = p->stats;
}
