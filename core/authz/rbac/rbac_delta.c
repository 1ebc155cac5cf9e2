/* Delta snapshots (rbac_int.h: ag_rbac_t.base/masked): what makes one change to a large
 * live policy cost about the change, not the policy. A snapshot built from objects keeps
 * a map from each object (by pointer: objects are immutable, a changed object is a new
 * one) to its binding, and one from role identity to role. The next build compares the
 * new object list with it: bindings that are gone are masked, new ones get an index of
 * their own over the base's roles, and nothing else is touched. Any role change, or a
 * delta past half of the base, is a full build instead (the next base). A delta always
 * rests on a full snapshot, never on another delta. Decisions (rbac.c) read base minus
 * masked, then the delta's own index. Off the hot path; never decides. */
#include <stdlib.h>
#include <string.h>

#include "authz/rbac/rbac_int.h"
#include "authz/rbac/rbac_set.h"

typedef struct rbac_ptrslot {
    const rbac_obj_t *o; /* NULL: empty */
    size_t i;
} ptrslot_t;

static size_t pow2_at_least(size_t n)
{
    size_t t = 16;
    while (t < n)
        t *= 2;
    return t;
}

static size_t ptr_hash(const void *p)
{
    unsigned long long x = (unsigned long long)(uintptr_t)p;
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33;
    return (size_t)x;
}

static long objmap_find(const ag_rbac_t *p, const rbac_obj_t *o)
{
    size_t mask = p->nobjmap - 1;
    for (size_t i = ptr_hash(o) & mask; p->objmap[i].o; i = (i + 1) & mask)
        if (p->objmap[i].o == o)
            return (long)p->objmap[i].i;
    return -1;
}

static size_t role_slot(const ag_rbac_t *p, char kind, ag_str_t ns, ag_str_t name)
{
    size_t mask = p->nrolemap - 1, i = (size_t)ag_rbac_key_hash(kind, ns, name) & mask;
    for (; p->rolemap[i] >= 0; i = (i + 1) & mask) {
        const rbac_role_t *r = &p->roles[p->rolemap[i]];
        if ((r->cluster ? 'C' : 'R') == kind && ag_str_eq(r->ns, ns) && ag_str_eq(r->name, name))
            break;
    }
    return i;
}

ag_err ag_rbac_delta_prepare(ag_rbac_t *p)
{
    p->nobjmap = pow2_at_least(p->nobjs * 2 + 1);
    p->nrolemap = pow2_at_least((size_t)p->nroles * 2 + 1);
    p->objmap = calloc(p->nobjmap, sizeof *p->objmap);
    p->rolemap = malloc(p->nrolemap * sizeof *p->rolemap);
    if (!p->objmap || !p->rolemap)
        return AG_E_NOMEM;
    for (size_t k = 0; k < p->nobjs; k++) {
        size_t mask = p->nobjmap - 1, i = ptr_hash(p->objs[k]) & mask;
        while (p->objmap[i].o)
            i = (i + 1) & mask;
        p->objmap[i] = (ptrslot_t){p->objs[k], k};
    }
    memset(p->rolemap, 0xff, p->nrolemap * sizeof *p->rolemap);
    for (int k = 0; k < p->nroles; k++) {
        const rbac_role_t *r = &p->roles[k];
        p->rolemap[role_slot(p, r->cluster ? 'C' : 'R', r->ns, r->name)] = k;
    }
    return 0;
}

/* The base's role a binding refers to, or NULL. */
static const rbac_role_t *base_role(const ag_rbac_t *base, const rbac_binding_t *b)
{
    bool is_role = ag_str_eq_lit(b->role_kind, "Role");
    int k = base->rolemap[role_slot(base, is_role ? 'R' : 'C', is_role ? b->ns : AG_STR(""),
                                    b->role_name)];
    return k >= 0 ? &base->roles[k] : NULL;
}

/* Splits <objs> against <base>: bits of base bindings no longer present into <masked>,
 * new objects into added[0, *nadded). False when the change is not a delta's (a role
 * came or went, or more than half of the base changed). */
static bool diff(const ag_rbac_t *base, rbac_obj_t *const *objs, size_t n, uint64_t *masked,
                 unsigned char *seen, rbac_obj_t **added, size_t *nadded)
{
    size_t limit = base->nobjs / 2 + 64, changed = 0;
    *nadded = 0;
    for (size_t k = 0; k < n; k++) {
        long j = objmap_find(base, objs[k]);
        if (j >= 0) {
            seen[j] = 1;
            continue;
        }
        if (objs[k]->kind == 'R' || objs[k]->kind == 'C' || ++changed > limit)
            return false;
        added[(*nadded)++] = objs[k];
    }
    for (size_t j = 0; j < base->nobjs; j++) {
        if (seen[j])
            continue;
        int b = base->obj_binding[j];
        if (b < 0 || ++changed > limit)
            return false;
        masked[b / 64] |= 1ull << (b % 64);
    }
    return true;
}

/* The delta's own part: added[0, n) as bindings over base's roles, its index, its
 * window boundaries, and stats (base's minus the masked, plus these). */
static ag_err fill_delta(ag_rbac_t *s, ag_rbac_t *base, rbac_obj_t **added, size_t n)
{
    s->bindings = ag_arena_alloc(&s->arena, n * sizeof *s->bindings + 1);
    if (!s->bindings)
        return AG_E_NOMEM;
    s->stats = base->stats;
    for (size_t k = 0; k < n; k++) {
        rbac_binding_t *b = &s->bindings[s->nbindings++];
        ag_rbac_obj_ref(s->objs[s->nobjs++] = added[k]);
        *b = added[k]->u.binding;
        if (!(b->role = base_role(base, b)) && !(b->error = ag_rbac_role_error(&s->arena, b)))
            return AG_E_NOMEM;
        s->stats.missing_role_refs += !b->role;
        s->stats.cluster_role_bindings += b->cluster;
        s->stats.role_bindings += !b->cluster;
        s->stats.time_bound += b->windowed;
    }
    for (int i = 0; i < base->nbindings; i++) {
        const rbac_binding_t *b = &base->bindings[i];
        if (!((s->masked[i / 64] >> (i % 64)) & 1))
            continue;
        s->stats.missing_role_refs -= !b->role;
        s->stats.cluster_role_bindings -= b->cluster;
        s->stats.role_bindings -= !b->cluster;
        s->stats.time_bound -= b->windowed;
    }
    ag_err err = ag_rbac_build_index(s);
    return err ? err : ag_rbac_collect_boundaries(s);
}

/* A delta of <objs> over <base>; *out NULL (and 0) when it is not a delta's change. */
static ag_err build_delta(ag_rbac_t *base, rbac_obj_t *const *objs, size_t n, ag_rbac_t **out)
{
    ag_rbac_t *s = calloc(1, sizeof *s);
    unsigned char *seen = calloc(base->nobjs + 1, 1);
    rbac_obj_t **added = malloc((n + 1) * sizeof *added);
    size_t nadded = 0;
    ag_err err = AG_E_NOMEM;
    *out = NULL;
    if (!s || !seen || !added)
        goto out;
    s->refs = 1;
    ag_arena_init(&s->arena, 1 << 14, 0);
    if (!(s->masked = calloc((size_t)base->nbindings / 64 + 1, sizeof *s->masked)))
        goto out;
    err = 0;
    if (!diff(base, objs, n, s->masked, seen, added, &nadded))
        goto out; /* not a delta: the caller builds in full */
    ag_rbac_ref(base);
    s->base = base;
    if (nadded && !(s->objs = malloc(nadded * sizeof *s->objs)))
        err = AG_E_NOMEM;
    if (!err && !(err = fill_delta(s, base, added, nadded))) {
        *out = s;
        s = NULL;
    }
out:
    ag_rbac_unref(s);
    free(seen);
    free(added);
    return err;
}

ag_err ag_rbac_view_build_since(const ag_rbac_view_t *v, const ag_rbac_t *prev, ag_rbac_t **out,
                                ag_buf_t *errmsg)
{
    ag_rbac_t *base = prev ? (prev->base ? prev->base : (ag_rbac_t *)prev) : NULL;
    rbac_obj_t *const *objs;
    size_t n = ag_rbac_view_objects(v, &objs);
    if (base && base->objmap) {
        ag_err err = build_delta(base, objs, n, out);
        if (err || *out)
            return err;
    }
    return ag_rbac_view_build(v, out, errmsg);
}
