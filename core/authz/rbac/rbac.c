/* Kubernetes RBAC decisions (rbac.h): rule matching exactly as upstream's RuleAllows
 * (reference §2.2), binding resolution through a subject index built at load (§2.3,
 * §2.4), system:masters (§2.6), and who-can. Loading lives in rbac_load.c, the default
 * policy in rbac_bootstrap.c. The decision path never allocates and never denies. */
#include "authz/rbac/rbac.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "authz/rbac/rbac_int.h"

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

int ag_rbac_rule_misses(const rbac_rule_t *r, const ag_attrs_t *a, const char **field)
{
    bool ok[4];
    static const char *const res_fields[] = {"verb", "apiGroup", "resource", "resourceName"};
    static const char *const url_fields[] = {"verb", "path"};
    const char *const *names = a->resource_request ? res_fields : url_fields;
    int n = a->resource_request ? 4 : 2, misses = 0;
    if (a->resource_request ? !r->resources.n : !r->urls.n)
        return 99; /* the other kind of rule: never one field away */
    ok[0] = list_has(&r->verbs, a->verb);
    if (a->resource_request) {
        ok[1] = list_has(&r->groups, a->api_group);
        ok[2] = resource_matches(&r->resources, a->resource, a->subresource);
        ok[3] = name_matches(&r->names, a->name);
    } else {
        ok[1] = url_matches(&r->urls, a->path);
    }
    *field = NULL;
    for (int i = 0; i < n; i++)
        if (!ok[i] && misses++ == 0)
            *field = names[i];
    return misses;
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

static bool principal_is(const rbac_principal_t *pr, char kind, ag_str_t name)
{
    return pr->kind == kind && pr->name_len == name.n &&
           (!name.n || memcmp(pr->name, name.p, name.n) == 0);
}

static unsigned long long principal_hash(char kind, ag_str_t name)
{
    return ag_rbac_key_hash(kind, AG_STR(""), name);
}

static const rbac_principal_t *find_hashed(const ag_rbac_t *p, unsigned long long h, char kind,
                                           ag_str_t name)
{
    size_t mask = p->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const rbac_slot_t *s = &p->slots[i];
        if (!s->pr)
            return NULL;
        if (s->hash == h && principal_is(s->pr, kind, name))
            return s->pr;
    }
}

const rbac_principal_t *ag_rbac_find_principal(const ag_rbac_t *p, char kind, ag_str_t name)
{
    return p->nslots ? find_hashed(p, principal_hash(kind, name), kind, name) : NULL;
}

/* The id of namespace <ns>, or -1 when no RoleBinding there names a subject. */
static int find_ns(const ag_rbac_t *p, ag_str_t ns)
{
    if (!p->nnsslots)
        return -1;
    unsigned long long h = ag_rbac_key_hash('N', ns, AG_STR(""));
    size_t mask = p->nnsslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const rbac_nsslot_t *s = &p->nss[i];
        if (!s->name.p)
            return -1;
        if (s->hash == h && ag_str_eq(s->name, ns))
            return s->id;
    }
}

/* The grants of <pr> in namespace <ns>, or NULL. */
static const rbac_nsgrants_t *ns_grants(const rbac_principal_t *pr, int ns)
{
    int lo = 0, hi = pr->nns;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (pr->nss[mid].ns < ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pr->nns && pr->nss[lo].ns == ns ? &pr->nss[lo] : NULL;
}

/* ---- index build (load time) ----------------------------------------------------- */

typedef struct {
    char kind;
    ag_str_t ns, name; /* ns "": ClusterRoleBinding */
    int binding, subject;
    int pr, nsid; /* principal number; namespace id or -1 */
} keyed_t;        /* collected in binding order, which sort_keys keeps within a scope */

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
            v[n] =
                (keyed_t){s->key_kind, b->cluster ? AG_STR("") : b->ns, s->key_name, i, j, -1, -1};
            n++;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

static size_t table_size(size_t n)
{
    size_t t = 16;
    while (t < n * 2 + 16)
        t *= 2;
    return t;
}

/* A numbering table's slot: the first key of an entry, and its hash's high half, so a
 * probe rejects most other entries without reading their key (a cache miss each). */
typedef struct {
    unsigned h;
    int k; /* -1: empty */
} numslot_t;

/* The number of the entry equal to keys[k] (hash <h>) in <tab>, inserting it as number
 * (*n)++ when new; <ns>: entries are namespaces (else principals). */
static int number_one(numslot_t *tab, size_t mask, keyed_t *keys, size_t k, unsigned long long h,
                      bool ns, int *n)
{
    size_t i = (size_t)h & mask;
    const keyed_t *e = &keys[k];
    for (;; i = (i + 1) & mask) {
        if (tab[i].k < 0) {
            tab[i] = (numslot_t){(unsigned)(h >> 32), (int)k};
            return (*n)++;
        }
        const keyed_t *o = &keys[tab[i].k];
        if (tab[i].h == (unsigned)(h >> 32) &&
            (ns ? ag_str_eq(o->ns, e->ns) : o->kind == e->kind && ag_str_eq(o->name, e->name)))
            return ns ? o->nsid : o->pr;
    }
}

/* p->nss from the namespace numbering table. */
static ag_err fill_nss(ag_rbac_t *p, const numslot_t *nstab, size_t tsize, const keyed_t *keys,
                       int nns)
{
    p->nnsslots = table_size((size_t)nns);
    if (!(p->nss = ag_arena_calloc(&p->arena, p->nnsslots * sizeof *p->nss)))
        return AG_E_NOMEM;
    for (size_t t = 0; t < tsize; t++) {
        if (nstab[t].k < 0)
            continue;
        const keyed_t *e = &keys[nstab[t].k];
        unsigned long long h = ag_rbac_key_hash('N', e->ns, AG_STR(""));
        size_t i = (size_t)h & (p->nnsslots - 1);
        while (p->nss[i].name.p)
            i = (i + 1) & (p->nnsslots - 1);
        p->nss[i] = (rbac_nsslot_t){h, e->ns, e->nsid};
    }
    return 0;
}

/* Numbers the distinct (kind, name) of <keys> (key->pr) and the distinct non-empty
 * namespaces (key->nsid), filling p->nss. The counts in *npr and *nns. */
static ag_err number_keys(ag_rbac_t *p, keyed_t *keys, size_t nkeys, int *npr, int *nns)
{
    size_t tsize = table_size(nkeys), mask = tsize - 1;
    numslot_t *tab = malloc(tsize * sizeof *tab), *nstab = malloc(tsize * sizeof *nstab);
    ag_err err = AG_E_NOMEM;
    *npr = *nns = 0;
    if (!tab || !nstab)
        goto out;
    memset(tab, 0xff, tsize * sizeof *tab);
    memset(nstab, 0xff, tsize * sizeof *nstab);
    for (size_t k = 0; k < nkeys; k++) {
        keyed_t *e = &keys[k];
        e->pr = number_one(tab, mask, keys, k, principal_hash(e->kind, e->name), false, npr);
        if (e->ns.n)
            e->nsid = number_one(nstab, mask, keys, k, ag_rbac_key_hash('N', e->ns, AG_STR("")),
                                 true, nns);
    }
    err = fill_nss(p, nstab, tsize, keys, *nns);
out:
    free(tab);
    free(nstab);
    return err;
}

/* One stable counting-sort pass of src[0, n) into dst by key(x) in [0, nb). */
static ag_err count_pass(const keyed_t *src, keyed_t *dst, size_t n, int nb, bool by_pr)
{
    size_t *at = calloc((size_t)nb + 1, sizeof *at);
    if (!at)
        return AG_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        at[(by_pr ? src[i].pr : src[i].nsid + 1) + 1]++;
    for (int b = 0; b < nb; b++)
        at[b + 1] += at[b];
    for (size_t i = 0; i < n; i++)
        dst[at[by_pr ? src[i].pr : src[i].nsid + 1]++] = src[i];
    free(at);
    return 0;
}

/* Sorts <keys> by principal, then cluster scope (-1) before namespaces by id, then
 * binding order (the collection order): two stable counting passes, O(n), where a
 * comparison sort of 200,000 keys was a third of a 100k-object build. */
static ag_err sort_keys(keyed_t *keys, size_t n, int npr, int nns)
{
    keyed_t *tmp = malloc((n + 1) * sizeof *tmp);
    ag_err err = AG_E_NOMEM;
    if (tmp && !(err = count_pass(keys, tmp, n, nns + 1, false)))
        err = count_pass(tmp, keys, n, npr, true);
    free(tmp);
    return err;
}

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

/* Where the index lives: big indexes get one block of their own, 2 MiB-aligned and
 * advised for huge pages, so a decision's probes (slot, then principal) cost no page
 * walk each (at 100k bindings 4 KiB pages made every probe a TLB miss); small ones
 * live in the arena. */
#define HUGE_INDEX_MIN (4u << 20)
#define HUGE_PAGE (2u << 20)

typedef struct {
    unsigned char *p; /* NULL: use the arena */
    size_t used, cap;
} region_t;

static void *index_alloc(ag_rbac_t *p, region_t *r, size_t n)
{
    if (!r->p)
        return ag_arena_alloc(&p->arena, n);
    n = ALIGN16(n);
    if (n > r->cap - r->used)
        return NULL;
    r->used += n;
    return r->p + r->used - n;
}

/* Bytes of the block of the principal whose sorted keys are g[0, n); its cluster grant
 * and namespace counts in *ncluster, *nns. */
static size_t principal_size(const keyed_t *g, int n, int *ncluster, int *nns)
{
    *ncluster = *nns = 0;
    for (int i = 0; i < n; i++) {
        *ncluster += g[i].nsid < 0;
        *nns += g[i].nsid >= 0 && (i == 0 || g[i - 1].nsid != g[i].nsid);
    }
    return ALIGN8(sizeof(rbac_principal_t) + g[0].name.n) + (size_t)n * sizeof(rbac_grant_t) +
           (size_t)*nns * sizeof(rbac_nsgrants_t);
}

/* One principal from its sorted keys g[0, n): header, name, grants, namespace ranges. */
static ag_err add_principal(ag_rbac_t *p, region_t *reg, const keyed_t *g, int n)
{
    int nns, ncluster;
    size_t size = principal_size(g, n, &ncluster, &nns);
    size_t head = ALIGN8(sizeof(rbac_principal_t) + g[0].name.n);
    size_t gsz = (size_t)n * sizeof(rbac_grant_t);
    unsigned char *blk = index_alloc(p, reg, size);
    if (!blk)
        return AG_E_NOMEM;
    rbac_principal_t *pr = (rbac_principal_t *)blk;
    rbac_grant_t *grants = (rbac_grant_t *)(blk + head);
    rbac_nsgrants_t *nss = (rbac_nsgrants_t *)(blk + head + gsz);
    pr->grants = grants;
    pr->nss = nss;
    pr->ncluster = ncluster;
    pr->nns = nns;
    pr->kind = g[0].kind;
    pr->name_len = (unsigned)g[0].name.n;
    if (g[0].name.n)
        memcpy(pr->name, g[0].name.p, g[0].name.n);
    int r = -1;
    for (int i = 0; i < n; i++) {
        const rbac_binding_t *b = &p->bindings[g[i].binding];
        grants[i] = (rbac_grant_t){b, b->role, &b->subjects[g[i].subject]};
        if (g[i].nsid < 0)
            continue;
        if (r < 0 || nss[r].ns != g[i].nsid)
            nss[++r] = (rbac_nsgrants_t){g[i].nsid, i, 0};
        nss[r].n++;
    }
    size_t mask = p->nslots - 1;
    unsigned long long h = principal_hash(pr->kind, g[0].name);
    size_t i = (size_t)h & mask;
    while (p->slots[i].pr)
        i = (i + 1) & mask;
    p->slots[i] = (rbac_slot_t){h, pr};
    return 0;
}

/* Sets up <reg> for an index of slot table + principal blocks of keys[0, nkeys). */
static void index_region(ag_rbac_t *p, const keyed_t *keys, size_t nkeys, region_t *reg)
{
    size_t total = ALIGN16(p->nslots * sizeof(rbac_slot_t));
    int a, b;
    for (size_t i = 0, j; i < nkeys; i = j) {
        for (j = i + 1; j < nkeys && keys[j].pr == keys[i].pr;)
            j++;
        total += ALIGN16(principal_size(keys + i, (int)(j - i), &a, &b));
    }
    *reg = (region_t){0};
    if (total < HUGE_INDEX_MIN)
        return;
    size_t cap = (total + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (!(reg->p = aligned_alloc(HUGE_PAGE, cap)))
        return; /* the arena will do, with small pages */
#ifdef MADV_HUGEPAGE
    (void)madvise(reg->p, cap, MADV_HUGEPAGE); /* advice only: fine if refused */
#endif
    reg->cap = cap;
    p->index_mem = reg->p;
}

ag_err ag_rbac_build_index(ag_rbac_t *p)
{
    keyed_t *keys = NULL;
    size_t nkeys = 0;
    int npr = 0, nns = 0;
    region_t reg;
    ag_err err = collect_keys(p, &keys, &nkeys);
    if (err || (err = number_keys(p, keys, nkeys, &npr, &nns)) != 0 ||
        (err = sort_keys(keys, nkeys, npr, nns)) != 0)
        goto out;
    p->nslots = table_size((size_t)npr);
    index_region(p, keys, nkeys, &reg);
    if (!(p->slots = index_alloc(p, &reg, p->nslots * sizeof *p->slots))) {
        err = AG_E_NOMEM;
        goto out;
    }
    memset(p->slots, 0, p->nslots * sizeof *p->slots);
    for (size_t i = 0, j; i < nkeys; i = j) {
        for (j = i + 1; j < nkeys && keys[j].pr == keys[i].pr;)
            j++;
        if ((err = add_principal(p, &reg, keys + i, (int)(j - i))) != 0)
            goto out;
    }
out:
    free(keys);
    return err;
}

/* ---- decisions -------------------------------------------------------------------- */

static void fill_allow(ag_authz_decision_t *d, const rbac_binding_t *b, const rbac_subject_t *s,
                       int rule)
{
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
    d->windowed = b->windowed;
    d->outside_window = false;
    d->not_before = b->not_before;
    d->expires_at = b->expires_at;
}

int64_t ag_rbac_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t own_next_boundary(const ag_rbac_t *p, int64_t now_ms);

int64_t ag_rbac_next_boundary(const ag_rbac_t *p, int64_t now_ms)
{
    int64_t own = own_next_boundary(p, now_ms);
    if (!p->base) /* a delta: its base's too (a masked binding's costs one spare rebuild) */
        return own;
    int64_t base = own_next_boundary(p->base, now_ms);
    return base < own ? base : own;
}

static int64_t own_next_boundary(const ag_rbac_t *p, int64_t now_ms)
{
    int lo = 0, hi = p->nboundaries; /* the first boundary > now_ms */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (p->boundaries[mid] <= now_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nboundaries ? p->boundaries[lo] : INT64_MAX;
}

/* Whether the time-bound binding of a grant whose rule <r> allows grants at *now (read
 * from the clock on first need); when not, the first such grant is named in <d>. */
static bool window_allows(const rbac_grant_t *g, int r, int64_t *now, ag_authz_decision_t *d)
{
    const rbac_binding_t *b = g->binding;
    if (*now == AG_RBAC_NOW)
        *now = ag_rbac_now_ms();
    if (ag_rbac_binding_in_window(b, *now))
        return true;
    if (!d->outside_window) {
        fill_allow(d, b, g->subject, r);
        d->result = AG_AUTHZ_NO_OPINION;
        d->outside_window = true;
        d->judged_at = *now;
    }
    return false;
}

/* Visits grants g[0, n) in order; true when one allowed (d filled). A time-bound grant
 * costs a clock read only once its rule has matched. */
static bool visit_grants(const rbac_grant_t *g, int n, const ag_attrs_t *a, int64_t *now,
                         const ag_rbac_t *masker, ag_authz_decision_t *d)
{
    for (int i = 0; i < n; i++) {
        const rbac_role_t *role = g[i].role;
        if (!role) {
            if (!d->error && !(masker && ag_rbac_masked(masker, g[i].binding)))
                d->error = g[i].binding->error;
            continue;
        }
        for (int r = 0; r < role->nrules; r++) {
            if (!ag_rbac_rule_allows(role->rules[r], a))
                continue;
            /* a binding a delta removed or replaced (checked only once a rule matched) */
            if (masker && ag_rbac_masked(masker, g[i].binding))
                break;
            if (g[i].binding->windowed && !window_allows(&g[i], r, now, d))
                break;
            fill_allow(d, g[i].binding, g[i].subject, r);
            if (g[i].binding->windowed)
                d->judged_at = *now;
            return true;
        }
    }
    return false;
}

/* Principals resolved once per decision and reused for the namespace scope; an identity
 * with more groups re-probes the rest (correct, only slower). */
#define PROBE_MAX 32

static ag_str_t principal_name(const ag_identity_t *user, int i, char *kind)
{
    *kind = i ? 'G' : 'U';
    return i ? user->groups[i - 1] : user->username;
}

/* Probes principals [0, n) of <user> into pr: hashes first and prefetches their slots,
 * so the cache misses of the user and each group overlap instead of queueing. */
static void resolve_principals(const ag_rbac_t *p, const ag_identity_t *user, int n,
                               const rbac_principal_t **pr)
{
    unsigned long long h[PROBE_MAX];
    char kind;
    for (int i = 0; i < n; i++) {
        pr[i] = NULL;
        if (!p->nslots)
            continue;
        ag_str_t name = principal_name(user, i, &kind);
        h[i] = principal_hash(kind, name);
        __builtin_prefetch(&p->slots[(size_t)h[i] & (p->nslots - 1)]);
    }
    for (int i = 0; i < n && p->nslots; i++) {
        ag_str_t name = principal_name(user, i, &kind);
        pr[i] = find_hashed(p, h[i], kind, name);
    }
}

/* Principal <i> of <user>: from <pr> when it was resolved there, else probed now. */
static const rbac_principal_t *principal_at(const ag_rbac_t *p, const ag_identity_t *user, int i,
                                            const rbac_principal_t **pr, int kept)
{
    char kind;
    if (i < kept)
        return pr[i];
    ag_str_t name = principal_name(user, i, &kind);
    return ag_rbac_find_principal(p, kind, name);
}

/* All ClusterRoleBindings (user, then each group), then the RoleBindings of the
 * request's namespace (same order): the first grant that allows decides. */
ag_authz_result ag_rbac_eval(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                             ag_authz_decision_t *d)
{
    return ag_rbac_eval_at(p, user, a, AG_RBAC_NOW, d);
}

/* On no opinion, what a grant outside its window left in <d> is kept (named, not allowed). */
static ag_authz_result no_opinion(ag_authz_decision_t *d)
{
    d->result = AG_AUTHZ_NO_OPINION;
    d->source = AG_AUTHZ_BY_RBAC;
    return AG_AUTHZ_NO_OPINION;
}

/* All ClusterRoleBindings (user, then each group), then the RoleBindings of the
 * request's namespace (same order) in the index of <p>, skipping bindings <masker> masks
 * (NULL: none): true when a grant allowed (d filled). */
static bool scan_index(const ag_rbac_t *p, const ag_rbac_t *masker, const ag_identity_t *user,
                       const ag_attrs_t *a, int64_t *now, ag_authz_decision_t *d)
{
    const rbac_principal_t *pr[PROBE_MAX];
    int n = 1 + (user->ngroups > 0 ? user->ngroups : 0);
    int kept = n < PROBE_MAX ? n : PROBE_MAX;
    resolve_principals(p, user, kept, pr);
    for (int i = 0; i < n; i++) {
        const rbac_principal_t *x = principal_at(p, user, i, pr, kept);
        if (x && visit_grants(x->grants, x->ncluster, a, now, masker, d))
            return true;
    }
    int ns = a->namespace_.n ? find_ns(p, a->namespace_) : -1;
    for (int i = 0; ns >= 0 && i < n; i++) {
        const rbac_principal_t *x = principal_at(p, user, i, pr, kept);
        const rbac_nsgrants_t *r = x ? ns_grants(x, ns) : NULL;
        if (r && visit_grants(x->grants + r->first, r->n, a, now, masker, d))
            return true;
    }
    return false;
}

ag_authz_result ag_rbac_eval_at(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                                int64_t now, ag_authz_decision_t *d)
{
    ag_authz_decision_reset(d, AG_AUTHZ_NO_OPINION, AG_AUTHZ_BY_NONE);
    for (int g = 0; g < user->ngroups; g++)
        if (ag_str_eq_lit(user->groups[g], "system:masters")) {
            d->result = AG_AUTHZ_ALLOW;
            d->source = AG_AUTHZ_BY_SUPERUSER;
            d->subject_kind = AG_STR("Group");
            d->subject_name = AG_STR("system:masters");
            return AG_AUTHZ_ALLOW;
        }
    /* a delta snapshot: its base without the bindings it masked, then its own */
    if (p->base && scan_index(p->base, p, user, a, &now, d))
        return AG_AUTHZ_ALLOW;
    return scan_index(p, NULL, user, a, &now, d) ? AG_AUTHZ_ALLOW : no_opinion(d);
}

/* The bindings of <p> in force: a delta's base's unmasked ones, then its own (binding
 * order). Returns the next after *at, or NULL at the end; *at starts at 0. */
static const rbac_binding_t *next_binding(const ag_rbac_t *p, int *at)
{
    int nb = p->base ? p->base->nbindings : 0;
    for (; *at < nb; (*at)++)
        if (!ag_rbac_masked(p, &p->base->bindings[*at]))
            return &p->base->bindings[(*at)++];
    return *at - nb < p->nbindings ? &p->bindings[(*at)++ - nb] : NULL;
}

void ag_rbac_who_can(const ag_rbac_t *p, const ag_attrs_t *a, ag_rbac_who_fn fn, void *ctx)
{
    int64_t now = ag_rbac_now_ms();
    const rbac_binding_t *b;
    for (int at = 0; (b = next_binding(p, &at)) != NULL;) {
        if (!b->role || (!b->cluster && !ag_str_eq(b->ns, a->namespace_)) ||
            !ag_rbac_binding_in_window(b, now))
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
                fill_allow(&via, b, s, r);
                fn(ctx, s->kind, sa ? s->eff_ns : s->ns, s->name, &via);
            }
            break;
        }
    }
}

static bool names_user(const rbac_binding_t *b, const ag_identity_t *u)
{
    for (int i = 0; i < b->nsubjects; i++) {
        const rbac_subject_t *s = &b->subjects[i];
        if (s->key_kind == 'U' && ag_str_eq(s->key_name, u->username))
            return true;
        for (int g = 0; s->key_kind == 'G' && g < u->ngroups; g++)
            if (ag_str_eq(s->key_name, u->groups[g]))
                return true;
    }
    return false;
}

static ag_strs_t strs(const rbac_list_t *l)
{
    return (ag_strs_t){l->v, l->n};
}

static ag_err binding_rules(const rbac_binding_t *b, ag_rules_t *out)
{
    ag_err err = 0;
    if (!b->role) {
        ag_rules_error(out, b->error ? b->error : "role not found");
        return 0;
    }
    for (int r = 0; !err && r < b->role->nrules; r++) {
        const rbac_rule_t *x = b->role->rules[r];
        ag_rule_t rule = {strs(&x->verbs), strs(&x->groups), strs(&x->resources), strs(&x->names),
                          strs(&x->urls)};
        err = ag_rules_add(out, &rule);
    }
    return err;
}

ag_err ag_rbac_rules_for(const ag_rbac_t *p, const ag_identity_t *user, ag_str_t ns,
                         ag_rules_t *out)
{
    ag_err err = 0;
    int64_t now = ag_rbac_now_ms();
    for (int pass = 0; pass < (ns.n ? 2 : 1); pass++)
        for (int at = 0; !err;) {
            const rbac_binding_t *b = next_binding(p, &at);
            if (!b)
                break;
            if (b->cluster == (pass == 0) && (pass == 0 || ag_str_eq(b->ns, ns)) &&
                ag_rbac_binding_in_window(b, now) && names_user(b, user))
                err = binding_rules(b, out);
        }
    return err;
}

void ag_rbac_ref(ag_rbac_t *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void ag_rbac_unref(ag_rbac_t *p)
{
    if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < p->nobjs; i++)
        ag_rbac_obj_unref(p->objs[i]);
    free(p->objs);
    ag_rbac_unref(p->base);
    free(p->masked);
    free(p->obj_binding);
    free(p->objmap);
    free(p->rolemap);
    ag_arena_dispose(&p->arena);
    free(p->index_mem);
    free(p);
}

void ag_rbac_obj_ref(rbac_obj_t *o)
{
    __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
}

void ag_rbac_obj_unref(rbac_obj_t *o)
{
    if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    ag_arena_dispose(&o->arena);
    free(o);
}

void ag_rbac_stats(const ag_rbac_t *p, ag_rbac_stats_t *out)
{
    *out = p->stats;
}
