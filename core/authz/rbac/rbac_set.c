/* The parsed object set (rbac_set.h): a vector of object references in arrival order and
 * an identity map (open addressing, linear probing, backward-shift deletion) from
 * kind/namespace/name to the vector slot. Parsing is rbac_load.c's (object-set mode),
 * the snapshot build is rbac_load.c's too (ag_rbac_build_from); this file only keeps
 * the set. Writer thread only; no I/O. */
#include "authz/rbac/rbac_set.h"

#include <stdlib.h>
#include <string.h>

#include "authz/rbac/rbac_int.h"

struct ag_rbac_set {
    rbac_obj_t **objs; /* owned references, arrival order (a removal moves the last in) */
    size_t n, cap;
    rbac_obj_t **map; /* slots: borrowed from objs; NULL empty; cap a power of two */
    size_t mapcap;
    rbac_obj_t **boot; /* the bootstrap objects (owned references) */
    size_t nboot;
};

struct ag_rbac_view {
    rbac_obj_t **objs; /* owned references */
    size_t n;
};

static ag_str_t obj_ns(const rbac_obj_t *o)
{
    return o->kind == 'R' || o->kind == 'C' ? o->u.role.ns : o->u.binding.ns;
}

static ag_str_t obj_name(const rbac_obj_t *o)
{
    return o->kind == 'R' || o->kind == 'C' ? o->u.role.name : o->u.binding.name;
}

static bool obj_is(const rbac_obj_t *o, char kind, ag_str_t ns, ag_str_t name)
{
    return o->kind == kind && ag_str_eq(obj_ns(o), ns) && ag_str_eq(obj_name(o), name);
}

/* The slot holding kind/ns/name, or the empty slot where it would go. */
static size_t probe(const ag_rbac_set_t *s, char kind, ag_str_t ns, ag_str_t name)
{
    size_t mask = s->mapcap - 1, i = (size_t)ag_rbac_key_hash(kind, ns, name) & mask;
    while (s->map[i] && !obj_is(s->map[i], kind, ns, name))
        i = (i + 1) & mask;
    return i;
}

static rbac_obj_t *find(const ag_rbac_set_t *s, char kind, ag_str_t ns, ag_str_t name)
{
    return s->mapcap ? s->map[probe(s, kind, ns, name)] : NULL;
}

static ag_err map_grow(ag_rbac_set_t *s)
{
    size_t cap = s->mapcap ? s->mapcap * 2 : 1024;
    rbac_obj_t **old = s->map;
    size_t oldcap = s->mapcap;
    if (!(s->map = calloc(cap, sizeof *s->map))) {
        s->map = old;
        return AG_E_NOMEM;
    }
    s->mapcap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            s->map[probe(s, old[i]->kind, obj_ns(old[i]), obj_name(old[i]))] = old[i];
    free(old);
    return 0;
}

/* Empties slot <i>, moving later entries of its probe run back (no tombstones). */
static void map_delete(ag_rbac_set_t *s, size_t i)
{
    size_t mask = s->mapcap - 1, j = i;
    s->map[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        rbac_obj_t *o = s->map[j];
        if (!o)
            return;
        size_t home = (size_t)ag_rbac_key_hash(o->kind, obj_ns(o), obj_name(o)) & mask;
        /* o may move to i when i lies cyclically in [home, j) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            s->map[i] = o;
            s->map[j] = NULL;
            i = j;
        }
    }
}

/* Takes <o> (its reference) into the set, replacing the object of the same identity. */
static ag_err on_object(void *ctx, rbac_obj_t *o)
{
    ag_rbac_set_t *s = ctx;
    ag_err err;
    if ((s->n + 1) * 2 > s->mapcap && (err = map_grow(s)) != 0)
        goto fail;
    size_t slot = probe(s, o->kind, obj_ns(o), obj_name(o));
    rbac_obj_t *old = s->map[slot];
    if (old) {
        o->pos = old->pos;
        s->objs[o->pos] = o;
        s->map[slot] = o;
        ag_rbac_obj_unref(old);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        rbac_obj_t **v = realloc(s->objs, cap * sizeof *v);
        if (!v) {
            err = AG_E_NOMEM;
            goto fail;
        }
        s->objs = v, s->cap = cap;
    }
    o->pos = s->n;
    s->objs[s->n++] = o;
    s->map[slot] = o;
    return 0;
fail:
    ag_rbac_obj_unref(o);
    return err;
}

static bool remove_kind(ag_rbac_set_t *s, char kind, ag_str_t ns, ag_str_t name)
{
    if (!s->mapcap)
        return false;
    size_t slot = probe(s, kind, ns, name);
    rbac_obj_t *o = s->map[slot];
    if (!o)
        return false;
    map_delete(s, slot);
    s->objs[o->pos] = s->objs[--s->n];
    s->objs[o->pos]->pos = o->pos;
    ag_rbac_obj_unref(o);
    return true;
}

static void on_refused(void *ctx, char kind, ag_str_t ns, ag_str_t name)
{
    remove_kind(ctx, kind, ns, name);
}

static char kind_code(ag_str_t kind)
{
    return ag_str_eq_lit(kind, "Role")                 ? 'R'
           : ag_str_eq_lit(kind, "ClusterRole")        ? 'C'
           : ag_str_eq_lit(kind, "RoleBinding")        ? 'r'
           : ag_str_eq_lit(kind, "ClusterRoleBinding") ? 'c'
                                                       : 0;
}

bool ag_rbac_set_remove(ag_rbac_set_t *s, ag_str_t kind, ag_str_t ns, ag_str_t name)
{
    char k = kind_code(kind);
    return k && remove_kind(s, k, k == 'R' || k == 'r' ? ns : AG_STR(""), name);
}

ag_err ag_rbac_set_put(ag_rbac_set_t *s, ag_str_t doc, const char *name, int *refused,
                       ag_buf_t *errmsg)
{
    rbac_sink_t sink = {on_object, on_refused, s};
    int n = 0;
    ag_err err = ag_rbac_parse_objects(doc, name, &sink, &n, errmsg);
    if (refused)
        *refused = n;
    return err;
}

ag_err ag_rbac_set_put_from(ag_rbac_set_t *s, const ag_rbac_docs_t *src, int *refused,
                            ag_buf_t *errmsg)
{
    rbac_sink_t sink = {on_object, on_refused, s};
    int n = 0;
    ag_err err = ag_rbac_parse_from(src, &sink, &n, errmsg);
    if (refused)
        *refused = n;
    return err;
}

static ag_err on_boot_object(void *ctx, rbac_obj_t *o)
{
    ag_rbac_set_t *s = ctx;
    rbac_obj_t **v = realloc(s->boot, (s->nboot + 1) * sizeof *v);
    if (!v) {
        ag_rbac_obj_unref(o);
        return AG_E_NOMEM;
    }
    o->boot = true;
    s->boot = v;
    s->boot[s->nboot++] = o;
    return 0;
}

static void on_boot_refused(void *ctx, char kind, ag_str_t ns, ag_str_t name)
{
    (void)ctx, (void)kind, (void)ns, (void)name; /* the built-in policy is valid */
}

ag_err ag_rbac_set_create(const ag_rbac_opts_t *opts, ag_rbac_set_t **out)
{
    ag_rbac_set_t *s = calloc(1, sizeof *s);
    ag_err err = 0;
    int refused = 0;
    if (!s)
        return AG_E_NOMEM;
    if (!opts || opts->bootstrap) {
        rbac_sink_t sink = {on_boot_object, on_boot_refused, s};
        err = ag_rbac_parse_objects(ag_rbac_bootstrap_json(), "<bootstrap policy>", &sink, &refused,
                                    NULL);
    }
    if (err || refused) {
        ag_rbac_set_destroy(s);
        return err ? err : AG_E_CONFIG;
    }
    *out = s;
    return 0;
}

void ag_rbac_set_clear(ag_rbac_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        ag_rbac_obj_unref(s->objs[i]);
    s->n = 0;
    if (s->mapcap)
        memset(s->map, 0, s->mapcap * sizeof *s->map);
}

void ag_rbac_set_destroy(ag_rbac_set_t *s)
{
    if (!s)
        return;
    ag_rbac_set_clear(s);
    for (size_t i = 0; i < s->nboot; i++)
        ag_rbac_obj_unref(s->boot[i]);
    free(s->boot);
    free(s->objs);
    free(s->map);
    free(s);
}

size_t ag_rbac_set_count(const ag_rbac_set_t *s)
{
    return s->n;
}

/* Whether an object of <o>'s identity is in any of layers[from, n). */
static bool shadowed(ag_rbac_set_t *const *layers, int from, int n, const rbac_obj_t *o)
{
    for (int k = from; k < n; k++)
        if (find(layers[k], o->kind, obj_ns(o), obj_name(o)))
            return true;
    return false;
}

ag_err ag_rbac_set_view_layers(ag_rbac_set_t *const *layers, int n, ag_rbac_view_t **out)
{
    size_t total = layers[0]->nboot + 1;
    for (int k = 0; k < n; k++)
        total += layers[k]->n;
    ag_rbac_view_t *v = calloc(1, sizeof *v);
    if (!v || !(v->objs = malloc(total * sizeof *v->objs))) {
        free(v);
        return AG_E_NOMEM;
    }
    for (size_t i = 0; i < layers[0]->nboot; i++) /* bootstrap objects nobody replaced */
        if (!shadowed(layers, 0, n, layers[0]->boot[i]))
            ag_rbac_obj_ref(v->objs[v->n++] = layers[0]->boot[i]);
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < layers[k]->n; i++)
            if (k == n - 1 || !shadowed(layers, k + 1, n, layers[k]->objs[i]))
                ag_rbac_obj_ref(v->objs[v->n++] = layers[k]->objs[i]);
    *out = v;
    return 0;
}

ag_err ag_rbac_set_view(ag_rbac_set_t *s, ag_rbac_view_t **out)
{
    return ag_rbac_set_view_layers(&s, 1, out);
}

ag_err ag_rbac_view_over(const ag_rbac_view_t *lower, ag_rbac_set_t *upper, ag_rbac_view_t **out)
{
    ag_rbac_view_t *v = calloc(1, sizeof *v);
    if (!v || !(v->objs = malloc((lower->n + upper->n + 1) * sizeof *v->objs))) {
        free(v);
        return AG_E_NOMEM;
    }
    for (size_t i = 0; i < lower->n; i++) {
        rbac_obj_t *o = lower->objs[i];
        if (!find(upper, o->kind, obj_ns(o), obj_name(o)))
            ag_rbac_obj_ref(v->objs[v->n++] = o);
    }
    for (size_t i = 0; i < upper->n; i++)
        ag_rbac_obj_ref(v->objs[v->n++] = upper->objs[i]);
    *out = v;
    return 0;
}

size_t ag_rbac_view_objects(const ag_rbac_view_t *v, rbac_obj_t *const **objs)
{
    *objs = v->objs;
    return v->n;
}

size_t ag_rbac_view_count(const ag_rbac_view_t *v)
{
    return v->n;
}

ag_err ag_rbac_view_build(const ag_rbac_view_t *v, ag_rbac_t **out, ag_buf_t *errmsg)
{
    return ag_rbac_build_from(v->objs, v->n, out, errmsg);
}

void ag_rbac_view_destroy(ag_rbac_view_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        ag_rbac_obj_unref(v->objs[i]);
    free(v->objs);
    free(v);
}

ag_err ag_rbac_set_build(ag_rbac_set_t *s, ag_rbac_t **out, ag_buf_t *errmsg)
{
    ag_rbac_view_t *v = NULL;
    ag_err err = ag_rbac_set_view(s, &v);
    if (!err)
        err = ag_rbac_view_build(v, out, errmsg);
    ag_rbac_view_destroy(v);
    return err;
}
