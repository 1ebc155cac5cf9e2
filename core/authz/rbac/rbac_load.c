/* Loading RBAC policy (rbac.h): Kubernetes Role, ClusterRole, RoleBinding and
 * ClusterRoleBinding objects from JSON (Lists as kubectl prints them, typed lists,
 * single objects), validated as the API server would (reference §2.1), role references
 * resolved, aggregation computed as the controller's fixpoint (§4), then the subject
 * index built. Runs off the hot path; a failure leaves no snapshot behind and names
 * FILE:LINE:COL. Never decides anything. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>

#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_int.h"
#include "base/json.h"
#include "base/rfc3339.h"
#include "base/yaml2json.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

/* Object identity map (kind 'R' Role, 'C' ClusterRole, 'r' RoleBinding, 'c'
 * ClusterRoleBinding; ns; name) -> index into the role or binding vector. */
typedef struct {
    unsigned long long hash;
    char kind;
    ag_str_t ns, name;
    int idx;
} ident_t;

typedef struct {
    ag_rbac_t *p;
    bool boot_phase;
    /* the document being read */
    const char *file;
    const ag_json_t *doc;
    ag_buf_t *errmsg;
    /* growing state (malloc; moved into the snapshot arena at the end) */
    rbac_role_t *roles;
    bool *role_boot;
    int nroles, caproles;
    rbac_binding_t *bindings;
    bool *binding_boot;
    int nbindings, capbindings;
    ident_t *ids;
    size_t nids, capids; /* capids is a power of two */
    ag_arena_t *tmp;     /* the current document's arena (escaped strings) */
    ag_arena_t *arena;   /* where parsed objects go: the snapshot's, or one object's */
    /* object-set mode (rbac_set.c): each object parsed into its own rbac_obj_t, handed to
     * sink; an invalid object is refused (refuse, refused++) and the rest goes on */
    rbac_obj_t *cur;
    ag_err (*sink)(void *ctx, rbac_obj_t *o);
    void (*refuse)(void *ctx, char kind, ag_str_t ns, ag_str_t name);
    void *ctx;
    int refused;
    ag_str_t *strs; /* interned strings: verbs, groups, kinds, namespaces repeat a lot */
    size_t nstrs, capstrs;
} loader_t;

static ag_err fail(loader_t *ld, ag_json_ref at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static ag_err fail(loader_t *ld, ag_json_ref at, const char *fmt, ...)
{
    if (ld->errmsg) {
        int line = 0, col = 0;
        if (at != AG_JSON_NONE)
            ag_json_pos(ld->doc, at, &line, &col);
        ag_buf_printf(ld->errmsg, "%s:%d:%d: ", ld->file, line, col);
        va_list ap;
        va_start(ap, fmt);
        ag_buf_vprintf(ld->errmsg, fmt, ap);
        va_end(ap);
    }
    return AG_E_CONFIG;
}

/* ---- identity map ------------------------------------------------------------------- */

static ident_t *id_probe(ident_t *t, size_t cap, unsigned long long h, char kind, ag_str_t ns,
                         ag_str_t name)
{
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!t[i].kind || (t[i].hash == h && t[i].kind == kind && ag_str_eq(t[i].ns, ns) &&
                           ag_str_eq(t[i].name, name)))
            return &t[i];
}

static ag_err id_grow(loader_t *ld)
{
    size_t cap = ld->capids ? ld->capids * 2 : 1024;
    ident_t *t = calloc(cap, sizeof *t);
    if (!t)
        return AG_E_NOMEM;
    for (size_t i = 0; i < ld->capids; i++)
        if (ld->ids[i].kind)
            *id_probe(t, cap, ld->ids[i].hash, ld->ids[i].kind, ld->ids[i].ns, ld->ids[i].name) =
                ld->ids[i];
    free(ld->ids);
    ld->ids = t;
    ld->capids = cap;
    return 0;
}

/* Finds or inserts; *idx is -1 for a new entry (the caller sets slot->idx). */
static ag_err id_upsert(loader_t *ld, char kind, ag_str_t ns, ag_str_t name, ident_t **slot)
{
    ag_err err;
    if ((ld->nids + 1) * 2 > ld->capids && (err = id_grow(ld)) != 0)
        return err;
    unsigned long long h = ag_rbac_key_hash(kind, ns, name);
    ident_t *e = id_probe(ld->ids, ld->capids, h, kind, ns, name);
    if (!e->kind) {
        *e = (ident_t){h, kind, ns, name, -1};
        ld->nids++;
    }
    *slot = e;
    return 0;
}

static const ident_t *id_find(const loader_t *ld, char kind, ag_str_t ns, ag_str_t name)
{
    if (!ld->capids)
        return NULL;
    const ident_t *e =
        id_probe(ld->ids, ld->capids, ag_rbac_key_hash(kind, ns, name), kind, ns, name);
    return e->kind ? e : NULL;
}

/* ---- JSON field helpers --------------------------------------------------------------- */

static bool absent(const loader_t *ld, ag_json_ref v)
{
    ag_json_type t = ag_json_typeof(ld->doc, v);
    return t == AG_JSON_ABSENT || t == AG_JSON_NULL;
}

/* A string copied into the snapshot. */
static ag_str_t *intern_probe(ag_str_t *t, size_t cap, unsigned long long h, ag_str_t s)
{
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!t[i].p || ag_str_eq(t[i], s))
            return &t[i];
}

/* One snapshot copy per distinct string. */
static ag_err intern(loader_t *ld, ag_str_t s, ag_str_t *out)
{
    if (!ld->p) { /* object-set mode: each object's own copy (a set's objects share no
                     arena); kinds and versions read before an object, for the document */
        *out = ag_arena_strdup(ld->cur ? ld->arena : ld->tmp, s);
        return out->p ? 0 : AG_E_NOMEM;
    }
    if ((ld->nstrs + 1) * 2 > ld->capstrs) {
        size_t cap = ld->capstrs ? ld->capstrs * 2 : 4096;
        ag_str_t *t = calloc(cap, sizeof *t);
        if (!t)
            return AG_E_NOMEM;
        for (size_t i = 0; i < ld->capstrs; i++)
            if (ld->strs[i].p)
                *intern_probe(t, cap, ag_str_hash(ld->strs[i]), ld->strs[i]) = ld->strs[i];
        free(ld->strs);
        ld->strs = t, ld->capstrs = cap;
    }
    ag_str_t *slot = intern_probe(ld->strs, ld->capstrs, ag_str_hash(s), s);
    if (!slot->p) {
        *slot = ag_arena_strdup(&ld->p->arena, s);
        if (!slot->p)
            return AG_E_NOMEM;
        ld->nstrs++;
    }
    *out = *slot;
    return 0;
}

static ag_err str_at(loader_t *ld, ag_json_ref v, const char *what, ag_str_t *out)
{
    ag_str_t s;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_STRING)
        return fail(ld, v, "%s: must be a string", what);
    if (ag_json_str(ld->doc, v, ld->tmp, &s) != 0)
        return AG_E_NOMEM;
    return intern(ld, s, out);
}

static ag_err opt_str(loader_t *ld, ag_json_ref obj, const char *key, const char *what,
                      ag_str_t *out)
{
    ag_json_ref v = ag_json_get(ld->doc, obj, key);
    *out = AG_STR("");
    return absent(ld, v) ? 0 : str_at(ld, v, what, out);
}

static ag_err str_list(loader_t *ld, ag_json_ref obj, const char *key, rbac_list_t *out)
{
    ag_json_ref v = ag_json_get(ld->doc, obj, key);
    *out = (rbac_list_t){0};
    if (absent(ld, v))
        return 0;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_ARRAY)
        return fail(ld, v, "%s: must be a list of strings", key);
    int n = ag_json_count(ld->doc, v);
    ag_str_t *arr = n ? ag_arena_alloc(ld->arena, (size_t)n * sizeof *arr) : NULL;
    if (n && !arr)
        return AG_E_NOMEM;
    int i = 0;
    for (ag_json_ref e = ag_json_first(ld->doc, v); e != AG_JSON_NONE;
         e = ag_json_next(ld->doc, e)) {
        ag_err err = str_at(ld, e, key, &arr[i]);
        if (err)
            return err;
        if (ag_str_eq_lit(arr[i], "*"))
            out->star = true;
        i++;
    }
    out->v = arr;
    out->n = n;
    return 0;
}

/* ---- rules -------------------------------------------------------------------------- */

static ag_err parse_rule(loader_t *ld, ag_json_ref r, bool in_role, rbac_rule_t **out)
{
    ag_err err;
    if (ag_json_typeof(ld->doc, r) != AG_JSON_OBJECT)
        return fail(ld, r, "rules[]: must be an object");
    rbac_rule_t *rule = ag_arena_calloc(ld->arena, sizeof *rule);
    if (!rule)
        return AG_E_NOMEM;
    if ((err = str_list(ld, r, "verbs", &rule->verbs)) ||
        (err = str_list(ld, r, "apiGroups", &rule->groups)) ||
        (err = str_list(ld, r, "resources", &rule->resources)) ||
        (err = str_list(ld, r, "resourceNames", &rule->names)) ||
        (err = str_list(ld, r, "nonResourceURLs", &rule->urls)))
        return err;
    /* validation.go: the API server refuses to store any of these */
    if (!rule->verbs.n)
        return fail(ld, r, "rule: verbs must contain at least one value");
    if (rule->urls.n) {
        if (in_role)
            return fail(ld, r, "rule: namespaced rules cannot apply to non-resource URLs");
        if (rule->groups.n || rule->resources.n || rule->names.n)
            return fail(ld, r,
                        "rule: rules cannot apply to both regular resources and non-resource URLs");
    } else {
        if (!rule->groups.n)
            return fail(ld, r, "rule: resource rules must supply at least one api group");
        if (!rule->resources.n)
            return fail(ld, r, "rule: resource rules must supply at least one resource");
    }
    *out = rule;
    return 0;
}

static ag_err parse_rules(loader_t *ld, ag_json_ref obj, bool in_role, rbac_role_t *role)
{
    ag_json_ref v = ag_json_get(ld->doc, obj, "rules");
    if (absent(ld, v))
        return 0;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_ARRAY)
        return fail(ld, v, "rules: must be a list");
    int n = ag_json_count(ld->doc, v), i = 0;
    const rbac_rule_t **rules = n ? ag_arena_alloc(ld->arena, (size_t)n * sizeof *rules) : NULL;
    if (n && !rules)
        return AG_E_NOMEM;
    for (ag_json_ref r = ag_json_first(ld->doc, v); r != AG_JSON_NONE;
         r = ag_json_next(ld->doc, r)) {
        rbac_rule_t *rule = NULL;
        ag_err err = parse_rule(ld, r, in_role, &rule);
        if (err)
            return err;
        rules[i++] = rule;
    }
    role->rules = rules;
    role->nrules = n;
    return 0;
}

/* ---- labels and selectors --------------------------------------------------------------- */

static ag_err str_map(loader_t *ld, ag_json_ref v, const char *what, const rbac_label_t **out,
                      int *nout)
{
    *out = NULL, *nout = 0;
    if (absent(ld, v))
        return 0;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_OBJECT)
        return fail(ld, v, "%s: must be an object of strings", what);
    int n = ag_json_count(ld->doc, v), i = 0;
    rbac_label_t *l = n ? ag_arena_alloc(ld->arena, (size_t)n * sizeof *l) : NULL;
    if (n && !l)
        return AG_E_NOMEM;
    for (ag_json_ref k = ag_json_first(ld->doc, v); k != AG_JSON_NONE;
         k = ag_json_next(ld->doc, k)) {
        ag_err err;
        if ((err = str_at(ld, k, what, &l[i].key)) ||
            (err = str_at(ld, ag_json_value(k), what, &l[i].value)))
            return err;
        i++;
    }
    *out = l, *nout = n;
    return 0;
}

static ag_err parse_expr(loader_t *ld, ag_json_ref e, rbac_expr_t *x)
{
    static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist"};
    ag_str_t op;
    ag_err err;
    if (ag_json_typeof(ld->doc, e) != AG_JSON_OBJECT)
        return fail(ld, e, "matchExpressions[]: must be an object");
    if ((err = opt_str(ld, e, "key", "matchExpressions[].key", &x->key)) ||
        (err = opt_str(ld, e, "operator", "matchExpressions[].operator", &op)) ||
        (err = str_list(ld, e, "values", &x->values)))
        return err;
    x->op = -1;
    for (int i = 0; i < 4; i++)
        if (ag_str_eq_lit(op, ops[i]))
            x->op = i;
    if (x->op < 0)
        return fail(ld, e, "matchExpressions[].operator: \"%.*s\" is not a valid selector operator",
                    AG_STR_FMT(op));
    if (!x->key.n)
        return fail(ld, e, "matchExpressions[].key: must not be empty");
    bool set_op = x->op == SEL_IN || x->op == SEL_NOTIN;
    if (set_op != (x->values.n > 0))
        return fail(ld, e, "matchExpressions[].values: %s",
                    set_op ? "must be specified when `operator` is 'In' or 'NotIn'"
                           : "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    return 0;
}

static ag_err parse_selector(loader_t *ld, ag_json_ref s, rbac_selector_t *sel)
{
    ag_err err;
    if (ag_json_typeof(ld->doc, s) != AG_JSON_OBJECT)
        return fail(ld, s, "clusterRoleSelectors[]: must be an object");
    if ((err = str_map(ld, ag_json_get(ld->doc, s, "matchLabels"), "matchLabels", &sel->match,
                       &sel->nmatch)))
        return err;
    ag_json_ref v = ag_json_get(ld->doc, s, "matchExpressions");
    if (absent(ld, v))
        return 0;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_ARRAY)
        return fail(ld, v, "matchExpressions: must be a list");
    int n = ag_json_count(ld->doc, v), i = 0;
    rbac_expr_t *x = n ? ag_arena_calloc(ld->arena, (size_t)n * sizeof *x) : NULL;
    if (n && !x)
        return AG_E_NOMEM;
    for (ag_json_ref e = ag_json_first(ld->doc, v); e != AG_JSON_NONE; e = ag_json_next(ld->doc, e))
        if ((err = parse_expr(ld, e, &x[i++])))
            return err;
    sel->exprs = x, sel->nexprs = n;
    return 0;
}

static ag_err parse_aggregation(loader_t *ld, ag_json_ref obj, rbac_role_t *role)
{
    ag_json_ref ar = ag_json_get(ld->doc, obj, "aggregationRule");
    if (absent(ld, ar))
        return 0;
    ag_json_ref v = ag_json_get(ld->doc, ar, "clusterRoleSelectors");
    if (ag_json_typeof(ld->doc, v) != AG_JSON_ARRAY || ag_json_count(ld->doc, v) == 0)
        return fail(ld, ar,
                    "aggregationRule.clusterRoleSelectors: at least one clusterRoleSelector "
                    "required if aggregationRule is non-nil");
    int n = ag_json_count(ld->doc, v), i = 0;
    rbac_selector_t *sel = ag_arena_calloc(ld->arena, (size_t)n * sizeof *sel);
    if (!sel)
        return AG_E_NOMEM;
    for (ag_json_ref s = ag_json_first(ld->doc, v); s != AG_JSON_NONE;
         s = ag_json_next(ld->doc, s)) {
        ag_err err = parse_selector(ld, s, &sel[i++]);
        if (err)
            return err;
    }
    role->agg = sel, role->nagg = n, role->aggregated = true;
    return 0;
}

/* ---- objects ------------------------------------------------------------------------ */

static ag_err parse_meta(loader_t *ld, ag_json_ref obj, bool namespaced, ag_str_t *ns,
                         ag_str_t *name, ag_json_ref *labels)
{
    ag_err err;
    ag_json_ref md = ag_json_get(ld->doc, obj, "metadata");
    if (ag_json_typeof(ld->doc, md) != AG_JSON_OBJECT)
        return fail(ld, obj, "metadata: required");
    if ((err = opt_str(ld, md, "name", "metadata.name", name)) ||
        (err = opt_str(ld, md, "namespace", "metadata.namespace", ns)))
        return err;
    if (!name->n)
        return fail(ld, md, "metadata.name: Required value: name or generateName is required");
    if (namespaced && !ns->n)
        return fail(ld, md, "metadata.namespace: Required value");
    if (!namespaced)
        *ns = AG_STR("");
    if (labels)
        *labels = ag_json_get(ld->doc, md, "labels");
    return 0;
}

/* The slot for a new object of <kind>/<ns>/<name>, or an error for a duplicate. A file
 * object replaces a bootstrap one of the same identity. */
static ag_err claim(loader_t *ld, ag_json_ref at, char kind, const char *kname, ag_str_t ns,
                    ag_str_t name, int count, bool *boot_flags, int *idx)
{
    ident_t *e;
    ag_err err = id_upsert(ld, kind, ns, name, &e);
    if (err)
        return err;
    if (e->idx >= 0) {
        if (boot_flags[e->idx] && !ld->boot_phase) {
            boot_flags[e->idx] = false;
            *idx = e->idx;
            return 0;
        }
        return fail(ld, at, "duplicate %s \"%.*s\"%s%.*s", kname, AG_STR_FMT(name),
                    ns.n ? " in namespace " : "", AG_STR_FMT(ns));
    }
    e->idx = count;
    *idx = -1;
    return 0;
}

/* ---- time-bound bindings ------------------------------------------------------------ */

/* "RoleBinding \"x\" in namespace \"y\": " before a window error, so a message names the
 * object as well as FILE:LINE:COL. */
static void name_object(ag_buf_t *out, const char *kind, ag_str_t ns, ag_str_t name)
{
    ag_buf_printf(out, "%s \"%.*s\"%s%.*s%s: ", kind, AG_STR_FMT(name),
                  ns.n ? " in namespace \"" : "", AG_STR_FMT(ns), ns.n ? "\"" : "");
}

/* <v> as printable ASCII, at most 64 bytes ('?' for anything else), for an error. */
static void put_value(ag_buf_t *out, ag_str_t v)
{
    ag_buf_append_cstr(out, "\"");
    for (size_t i = 0; i < v.n && i < 64; i++)
        ag_buf_printf(out, "%c", v.p[i] >= 0x20 && v.p[i] < 0x7f && v.p[i] != '"' ? v.p[i] : '?');
    ag_buf_append_cstr(out, v.n > 64 ? "...\"" : "\"");
}

static ag_err window_fail(loader_t *ld, ag_json_ref at, const char *kind, ag_str_t ns,
                          ag_str_t name, ag_str_t key, ag_str_t val, const char *why)
{
    fail(ld, at, "%s", "");
    if (ld->errmsg) {
        name_object(ld->errmsg, kind, ns, name);
        ag_buf_printf(ld->errmsg, "metadata.annotations[\"%.*s\"]: ", AG_STR_FMT(key));
        if (val.p) {
            put_value(ld->errmsg, val);
            ag_buf_append_cstr(ld->errmsg, " ");
        }
        ag_buf_append_cstr(ld->errmsg, why);
    }
    return AG_E_CONFIG;
}

/* One annotation of the window: a string that is an RFC 3339 time. */
static ag_err window_time(loader_t *ld, ag_json_ref k, const char *kind, ag_str_t ns, ag_str_t name,
                          ag_str_t key, bool start, int64_t *ms)
{
    ag_json_ref v = ag_json_value(k);
    ag_str_t val;
    if (ag_json_typeof(ld->doc, v) != AG_JSON_STRING)
        return window_fail(ld, v, kind, ns, name, key, AG_STR_NULL, "must be a string");
    if (ag_json_str(ld->doc, v, ld->tmp, &val) != 0)
        return AG_E_NOMEM;
    if (ag_rfc3339_parse_ms(val, start, ms) != 0)
        return window_fail(ld, v, kind, ns, name, key, val,
                           "is not an RFC 3339 time (e.g. 2026-12-07T21:30:00Z)");
    return 0;
}

/* The window annotations of the object <obj> of <kind> into <b> (NULL: a role, which may
 * carry none). Any other authgate.io/ annotation is refused: a misspelt expires-at must
 * not leave a binding permanent. */
static ag_err parse_window(loader_t *ld, ag_json_ref obj, const char *kind, ag_str_t ns,
                           ag_str_t name, rbac_binding_t *b)
{
    ag_json_ref an = ag_json_get(ld->doc, ag_json_get(ld->doc, obj, "metadata"), "annotations");
    if (absent(ld, an))
        return 0;
    if (ag_json_typeof(ld->doc, an) != AG_JSON_OBJECT)
        return fail(ld, an, "metadata.annotations: must be an object of strings");
    for (ag_json_ref k = ag_json_first(ld->doc, an); k != AG_JSON_NONE;
         k = ag_json_next(ld->doc, k)) {
        ag_str_t key;
        ag_err err;
        if (ag_json_str(ld->doc, k, ld->tmp, &key) != 0)
            return AG_E_NOMEM;
        if (!ag_str_starts_with(key, AG_STR(AG_RBAC_ANNOTATION_PREFIX)))
            continue;
        bool nbf = ag_str_eq_lit(key, AG_RBAC_NOT_BEFORE),
             exp = ag_str_eq_lit(key, AG_RBAC_EXPIRES_AT);
        if (!b || (!nbf && !exp))
            return window_fail(
                ld, k, kind, ns, name, key, AG_STR_NULL,
                b ? "unknown annotation (expected " AG_RBAC_NOT_BEFORE " or " AG_RBAC_EXPIRES_AT ")"
                  : "a validity window applies to RoleBindings and ClusterRoleBindings only");
        if ((err = window_time(ld, k, kind, ns, name, key, nbf,
                               nbf ? &b->not_before : &b->expires_at)))
            return err;
        b->windowed = true;
    }
    if (b && b->windowed && b->not_before >= b->expires_at)
        return window_fail(ld, an, kind, ns, name, AG_STR(AG_RBAC_EXPIRES_AT), AG_STR_NULL,
                           "must be later than " AG_RBAC_NOT_BEFORE " (the window is empty)");
    return 0;
}

/* Appends <role> to the loader's roles (flagged as bootstrap in the bootstrap phase). */
static ag_err push_role(loader_t *ld, const rbac_role_t *role)
{
    if (ld->nroles == ld->caproles) {
        int cap = ld->caproles ? ld->caproles * 2 : 256;
        rbac_role_t *r = realloc(ld->roles, (size_t)cap * sizeof *r);
        bool *b = r ? realloc(ld->role_boot, (size_t)cap * sizeof *b) : NULL;
        if (r)
            ld->roles = r;
        if (!b)
            return AG_E_NOMEM;
        ld->role_boot = b, ld->caproles = cap;
    }
    ld->role_boot[ld->nroles] = ld->boot_phase;
    ld->roles[ld->nroles++] = *role;
    return 0;
}

static ag_err push_binding(loader_t *ld, const rbac_binding_t *b)
{
    if (ld->nbindings == ld->capbindings) {
        int cap = ld->capbindings ? ld->capbindings * 2 : 256;
        rbac_binding_t *r = realloc(ld->bindings, (size_t)cap * sizeof *r);
        bool *f = r ? realloc(ld->binding_boot, (size_t)cap * sizeof *f) : NULL;
        if (r)
            ld->bindings = r;
        if (!f)
            return AG_E_NOMEM;
        ld->binding_boot = f, ld->capbindings = cap;
    }
    ld->binding_boot[ld->nbindings] = ld->boot_phase;
    ld->bindings[ld->nbindings++] = *b;
    return 0;
}

static ag_err parse_role(loader_t *ld, ag_json_ref obj, bool cluster)
{
    rbac_role_t role = {.cluster = cluster};
    ag_json_ref labels = AG_JSON_NONE;
    ag_err err;
    if ((err = parse_meta(ld, obj, !cluster, &role.ns, &role.name, &labels)) ||
        (err = str_map(ld, labels, "metadata.labels", &role.labels, &role.nlabels)) ||
        (err = parse_rules(ld, obj, !cluster, &role)))
        return err;
    if (cluster && (err = parse_aggregation(ld, obj, &role)))
        return err;
    if ((err = parse_window(ld, obj, cluster ? "ClusterRole" : "Role", role.ns, role.name, NULL)))
        return err;
    if (role.aggregated)
        role.rules = NULL, role.nrules = 0; /* stored rules are not authoritative (§4) */
    if (ld->cur) {                          /* object-set mode: the object is the result */
        ld->cur->u.role = role;
        return 0;
    }
    int idx;
    if ((err = claim(ld, obj, cluster ? 'C' : 'R', cluster ? "ClusterRole" : "Role", role.ns,
                     role.name, ld->nroles, ld->role_boot, &idx)))
        return err;
    if (idx >= 0) {
        ld->roles[idx] = role;
        return 0;
    }
    return push_role(ld, &role);
}

static ag_err parse_subject(loader_t *ld, ag_json_ref s, const rbac_binding_t *b,
                            rbac_subject_t *out)
{
    ag_str_t group;
    ag_err err;
    if (ag_json_typeof(ld->doc, s) != AG_JSON_OBJECT)
        return fail(ld, s, "subjects[]: must be an object");
    if ((err = opt_str(ld, s, "kind", "subjects[].kind", &out->kind)) ||
        (err = opt_str(ld, s, "apiGroup", "subjects[].apiGroup", &group)) ||
        (err = opt_str(ld, s, "name", "subjects[].name", &out->name)) ||
        (err = opt_str(ld, s, "namespace", "subjects[].namespace", &out->ns)))
        return err;
    if (!out->name.n)
        return fail(ld, s, "subjects[].name: Required value");
    if (ag_str_eq_lit(out->kind, "ServiceAccount")) {
        if (group.n)
            return fail(ld, s,
                        "subjects[].apiGroup: Unsupported value: \"%.*s\": supported values: \"\"",
                        AG_STR_FMT(group));
        if (b->cluster && !out->ns.n)
            return fail(ld, s, "subjects[].namespace: Required value");
        out->eff_ns = out->ns.n ? out->ns : b->ns;
        /* the SA's user name, system:serviceaccount:<ns>:<name>, is the index key */
        ag_str_t pre = AG_STR("system:serviceaccount:");
        size_t n = pre.n + out->eff_ns.n + 1 + out->name.n;
        char *o = ag_arena_alloc(ld->arena, n + 1);
        if (!o)
            return AG_E_NOMEM;
        memcpy(o, pre.p, pre.n);
        memcpy(o + pre.n, out->eff_ns.p, out->eff_ns.n);
        o[pre.n + out->eff_ns.n] = ':';
        memcpy(o + pre.n + out->eff_ns.n + 1, out->name.p, out->name.n);
        o[n] = '\0';
        out->key_kind = 'U', out->key_name = ag_str_make(o, n);
        return 0;
    }
    bool user = ag_str_eq_lit(out->kind, "User");
    if (!user && !ag_str_eq_lit(out->kind, "Group"))
        return fail(ld, s,
                    "subjects[].kind: Unsupported value: \"%.*s\": supported values: "
                    "\"ServiceAccount\", \"User\", \"Group\"",
                    AG_STR_FMT(out->kind));
    /* an empty apiGroup is what the API server defaults to rbac.authorization.k8s.io */
    if (group.n && !ag_str_eq_lit(group, RBAC_GROUP))
        return fail(
            ld, s,
            "subjects[].apiGroup: Unsupported value: \"%.*s\": supported values: \"" RBAC_GROUP
            "\"",
            AG_STR_FMT(group));
    out->key_kind = user ? 'U' : 'G', out->key_name = out->name;
    return 0;
}

static ag_err parse_role_ref(loader_t *ld, ag_json_ref obj, rbac_binding_t *b)
{
    ag_json_ref rr = ag_json_get(ld->doc, obj, "roleRef");
    ag_str_t group;
    ag_err err;
    if (ag_json_typeof(ld->doc, rr) != AG_JSON_OBJECT)
        return fail(ld, obj, "roleRef: Required value");
    if ((err = opt_str(ld, rr, "apiGroup", "roleRef.apiGroup", &group)) ||
        (err = opt_str(ld, rr, "kind", "roleRef.kind", &b->role_kind)) ||
        (err = opt_str(ld, rr, "name", "roleRef.name", &b->role_name)))
        return err;
    if (group.n && !ag_str_eq_lit(group, RBAC_GROUP))
        return fail(ld, rr, "roleRef.apiGroup: Unsupported value: \"%.*s\"", AG_STR_FMT(group));
    bool is_role = ag_str_eq_lit(b->role_kind, "Role");
    if (!is_role && !ag_str_eq_lit(b->role_kind, "ClusterRole"))
        return fail(ld, rr,
                    "roleRef.kind: Unsupported value: \"%.*s\": supported values: \"Role\", "
                    "\"ClusterRole\"",
                    AG_STR_FMT(b->role_kind));
    if (is_role && b->cluster)
        return fail(ld, rr,
                    "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"");
    if (!b->role_name.n)
        return fail(ld, rr, "roleRef.name: Required value");
    return 0;
}

static ag_err parse_binding(loader_t *ld, ag_json_ref obj, bool cluster)
{
    rbac_binding_t b = {.cluster = cluster, .not_before = INT64_MIN, .expires_at = INT64_MAX};
    ag_err err;
    if ((err = parse_meta(ld, obj, !cluster, &b.ns, &b.name, NULL)) ||
        (err = parse_role_ref(ld, obj, &b)) ||
        (err = parse_window(ld, obj, cluster ? "ClusterRoleBinding" : "RoleBinding", b.ns, b.name,
                            &b)))
        return err;
    ag_json_ref subs = ag_json_get(ld->doc, obj, "subjects");
    if (!absent(ld, subs)) {
        if (ag_json_typeof(ld->doc, subs) != AG_JSON_ARRAY)
            return fail(ld, subs, "subjects: must be a list");
        int n = ag_json_count(ld->doc, subs), i = 0;
        rbac_subject_t *s = n ? ag_arena_calloc(ld->arena, (size_t)n * sizeof *s) : NULL;
        if (n && !s)
            return AG_E_NOMEM;
        for (ag_json_ref e = ag_json_first(ld->doc, subs); e != AG_JSON_NONE;
             e = ag_json_next(ld->doc, e))
            if ((err = parse_subject(ld, e, &b, &s[i++])))
                return err;
        b.subjects = s, b.nsubjects = n;
    }
    if (ld->cur) { /* object-set mode: the object is the result */
        ld->cur->u.binding = b;
        return 0;
    }
    int idx;
    if ((err = claim(ld, obj, cluster ? 'c' : 'r', cluster ? "ClusterRoleBinding" : "RoleBinding",
                     b.ns, b.name, ld->nbindings, ld->binding_boot, &idx)))
        return err;
    if (idx >= 0) {
        ld->bindings[idx] = b;
        return 0;
    }
    return push_binding(ld, &b);
}

static ag_err parse_kind(loader_t *ld, ag_json_ref obj, char kind)
{
    return kind == 'R' || kind == 'C' ? parse_role(ld, obj, kind == 'C')
                                      : parse_binding(ld, obj, kind == 'c');
}

/* The identity of a refused object, as far as it can be read (empty otherwise). */
static void refused_identity(loader_t *ld, ag_json_ref obj, char kind, ag_str_t *ns, ag_str_t *name)
{
    ag_json_ref md = ag_json_get(ld->doc, obj, "metadata");
    ag_json_ref n = ag_json_get(ld->doc, md, "name"), s = ag_json_get(ld->doc, md, "namespace");
    *ns = *name = AG_STR("");
    if (ag_json_typeof(ld->doc, n) == AG_JSON_STRING)
        (void)ag_json_str(ld->doc, n, ld->tmp, name);
    if ((kind == 'R' || kind == 'r') && ag_json_typeof(ld->doc, s) == AG_JSON_STRING)
        (void)ag_json_str(ld->doc, s, ld->tmp, ns);
}

/* Object-set mode: <obj> parsed into an rbac_obj_t of its own, handed to the sink. An
 * invalid object is refused: named in errmsg (one line each), counted, and reported to
 * refuse (which drops an earlier version of it: a refused update never leaves the old
 * grant in force); the rest of the document goes on. */
static ag_err set_object(loader_t *ld, ag_json_ref obj, char kind)
{
    rbac_obj_t *o = calloc(1, sizeof *o);
    if (!o)
        return AG_E_NOMEM;
    o->refs = 1, o->kind = kind;
    ag_arena_init(&o->arena, 512, 0);
    ld->arena = &o->arena, ld->cur = o;
    if (ld->errmsg && ld->errmsg->n && ld->errmsg->p[ld->errmsg->n - 1] != '\n')
        ag_buf_append_cstr(ld->errmsg, "\n");
    ag_err err = parse_kind(ld, obj, kind);
    ld->arena = NULL, ld->cur = NULL;
    if (!err)
        return ld->sink(ld->ctx, o);
    ag_rbac_obj_unref(o);
    if (err == AG_E_NOMEM)
        return err;
    ag_str_t ns, name;
    refused_identity(ld, obj, kind, &ns, &name);
    ld->refuse(ld->ctx, kind, ns, name);
    ld->refused++;
    return 0;
}

static ag_err parse_object(loader_t *ld, ag_json_ref obj, ag_str_t item_kind, int depth)
{
    ag_str_t kind = item_kind, ver = AG_STR("");
    ag_err err;
    if (ag_json_typeof(ld->doc, obj) != AG_JSON_OBJECT)
        return fail(ld, obj, "expected a Kubernetes object");
    ag_json_ref kv = ag_json_get(ld->doc, obj, "kind");
    if (!absent(ld, kv) && (err = str_at(ld, kv, "kind", &kind)))
        return err;
    if ((err = opt_str(ld, obj, "apiVersion", "apiVersion", &ver)))
        return err;
    if (!kind.n)
        return fail(ld, obj, "kind: Required value");
    if (kind.n >= 4 && memcmp(kind.p + kind.n - 4, "List", 4) == 0) {
        if (depth > 0)
            return fail(ld, obj, "kind: a %.*s inside a list is not supported", AG_STR_FMT(kind));
        ag_json_ref items = ag_json_get(ld->doc, obj, "items");
        if (absent(ld, items))
            return 0;
        if (ag_json_typeof(ld->doc, items) != AG_JSON_ARRAY)
            return fail(ld, items, "items: must be a list");
        ag_str_t inner = ag_str_eq_lit(kind, "List") ? AG_STR("") : ag_str_make(kind.p, kind.n - 4);
        for (ag_json_ref it = ag_json_first(ld->doc, items); it != AG_JSON_NONE;
             it = ag_json_next(ld->doc, it))
            if ((err = parse_object(ld, it, inner, depth + 1)))
                return err;
        return 0;
    }
    if (ver.n && !ag_str_eq_lit(ver, RBAC_GROUP "/v1"))
        return fail(ld, obj, "apiVersion: unsupported \"%.*s\" (expected " RBAC_GROUP "/v1)",
                    AG_STR_FMT(ver));
    char k = ag_str_eq_lit(kind, "Role")                 ? 'R'
             : ag_str_eq_lit(kind, "ClusterRole")        ? 'C'
             : ag_str_eq_lit(kind, "RoleBinding")        ? 'r'
             : ag_str_eq_lit(kind, "ClusterRoleBinding") ? 'c'
                                                         : 0;
    if (k && ld->sink)
        return set_object(ld, obj, k);
    if (k)
        return parse_kind(ld, obj, k);
    return fail(ld, kv,
                "kind: unsupported \"%.*s\" (expected Role, ClusterRole, RoleBinding, "
                "ClusterRoleBinding or a List of them)",
                AG_STR_FMT(kind));
}

static ag_json_limits_t doc_limits(size_t n)
{
    return (ag_json_limits_t){.max_depth = 32,
                              .max_tokens = n / 2 + 64 < (size_t)INT_MAX / 2 ? (int)(n / 2 + 64)
                                                                             : INT_MAX / 2};
}

static ag_err doc_error(loader_t *ld, ag_err err, const ag_json_error_t *je)
{
    if (ld->errmsg)
        ag_buf_printf(ld->errmsg, "%s:%d:%d: %s", ld->file, je->line, je->col,
                      je->msg ? je->msg : ag_err_str(err));
    return err == AG_E_NOMEM ? err : AG_E_CONFIG;
}

/* A YAML stream (yaml2json.h): every document is read as a JSON document would be. */
static ag_err add_yaml(loader_t *ld, ag_str_t text, ag_arena_t *tmp)
{
    ag_yaml_json_t y;
    ag_json_t doc;
    ag_json_error_t je = {0};
    ag_err err = ag_yaml_to_json(text, AG_RBAC_MAX_FILE_BYTES * 2ull, &y, &je);
    if (!err) {
        ag_json_limits_t lim = doc_limits(y.json.n);
        err = ag_yaml_json_parse(&y, &doc, &lim, tmp, &je);
    }
    if (err) {
        err = doc_error(ld, err, &je);
        goto out;
    }
    ld->doc = &doc;
    for (ag_json_ref d = ag_json_first(&doc, ag_json_root(&doc)); d != AG_JSON_NONE && !err;
         d = ag_json_next(&doc, d))
        err = parse_object(ld, d, AG_STR(""), 0);
    ld->doc = NULL;
out:
    ag_yaml_json_dispose(&y);
    return err;
}

static ag_err add_doc(loader_t *ld, ag_str_t text, const char *name)
{
    ag_arena_t tmp;
    ag_json_t doc;
    ag_json_error_t je = {0};
    ag_json_limits_t lim = doc_limits(text.n);
    ag_err err;
    ag_arena_init(&tmp, 1 << 16, 0);
    ld->file = name;
    ld->tmp = &tmp;
    if (ag_yaml_is_yaml_name(name)) {
        err = add_yaml(ld, text, &tmp);
        goto out;
    }
    if ((err = ag_json_parse(&doc, text, &lim, &tmp, &je))) {
        err = doc_error(ld, err, &je);
        goto out;
    }
    ld->doc = &doc;
    err = parse_object(ld, ag_json_root(&doc), AG_STR(""), 0);
    ld->doc = NULL;
out:
    ld->tmp = NULL;
    ag_arena_dispose(&tmp);
    return err;
}

/* ---- after loading: references, aggregation, index ---------------------------------- */

const char *ag_rbac_role_error(ag_arena_t *arena, const rbac_binding_t *b)
{
    bool is_role = ag_str_eq_lit(b->role_kind, "Role");
    ag_buf_t m = AG_BUF_INIT(4096);
    ag_err err = ag_buf_printf(&m, "%s.rbac.authorization.k8s.io \"%.*s\" not found",
                               is_role ? "role" : "clusterrole", AG_STR_FMT(b->role_name));
    char *s = err ? NULL : ag_arena_cstr(arena, ag_buf_str(&m));
    ag_buf_dispose(&m);
    return s;
}

static ag_err resolve_refs(loader_t *ld)
{
    ag_rbac_t *p = ld->p;
    for (int i = 0; i < p->nbindings; i++) {
        rbac_binding_t *b = &p->bindings[i];
        bool is_role = ag_str_eq_lit(b->role_kind, "Role");
        const ident_t *e =
            id_find(ld, is_role ? 'R' : 'C', is_role ? b->ns : AG_STR(""), b->role_name);
        if (e) {
            b->role = &p->roles[e->idx];
            continue;
        }
        /* upstream: the binding grants nothing and the lister's NotFound becomes an error */
        if (!(b->error = ag_rbac_role_error(&p->arena, b)))
            return AG_E_NOMEM;
        p->stats.missing_role_refs++;
    }
    return 0;
}

static bool label_get(const rbac_role_t *r, ag_str_t key, ag_str_t *val)
{
    for (int i = 0; i < r->nlabels; i++)
        if (ag_str_eq(r->labels[i].key, key)) {
            *val = r->labels[i].value;
            return true;
        }
    return false;
}

static bool selector_matches(const rbac_selector_t *s, const rbac_role_t *r)
{
    ag_str_t v;
    for (int i = 0; i < s->nmatch; i++)
        if (!label_get(r, s->match[i].key, &v) || !ag_str_eq(v, s->match[i].value))
            return false;
    for (int i = 0; i < s->nexprs; i++) {
        const rbac_expr_t *x = &s->exprs[i];
        bool has = label_get(r, x->key, &v), in = false;
        for (int k = 0; has && k < x->values.n; k++)
            in = in || ag_str_eq(x->values.v[k], v);
        bool ok = x->op == SEL_IN       ? in
                  : x->op == SEL_NOTIN  ? !in
                  : x->op == SEL_EXISTS ? has
                                        : !has;
        if (!ok)
            return false;
    }
    return true;
}

static bool list_eq(const rbac_list_t *a, const rbac_list_t *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (!ag_str_eq(a->v[i], b->v[i]))
            return false;
    return true;
}

static bool rule_eq(const rbac_rule_t *a, const rbac_rule_t *b)
{
    return a == b || (list_eq(&a->verbs, &b->verbs) && list_eq(&a->groups, &b->groups) &&
                      list_eq(&a->resources, &b->resources) && list_eq(&a->names, &b->names) &&
                      list_eq(&a->urls, &b->urls));
}

static int by_name(const void *x, const void *y)
{
    const rbac_role_t *a = *(rbac_role_t *const *)x, *b = *(rbac_role_t *const *)y;
    size_t m = a->name.n < b->name.n ? a->name.n : b->name.n;
    int c = memcmp(a->name.p, b->name.p, m);
    return c ? c : (a->name.n > b->name.n) - (a->name.n < b->name.n);
}

/* One controller pass over aggregated role <ar>: the union over its selectors of the
 * rules of every other matching ClusterRole, in name order, whole-rule deduplicated.
 * Returns 1 when the rule set grew, 0 when not, < 0 on error. */
static int aggregate_one(ag_rbac_t *p, rbac_role_t *ar, rbac_role_t *const *sorted, int ncluster)
{
    const rbac_rule_t **acc = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int s = 0; s < ar->nagg; s++)
        for (int k = 0; k < ncluster; k++) {
            const rbac_role_t *c = sorted[k];
            if (c == ar || !selector_matches(&ar->agg[s], c))
                continue;
            for (int r = 0; r < c->nrules; r++) {
                bool dup = false;
                for (int q = 0; q < n && !dup; q++)
                    dup = rule_eq(acc[q], c->rules[r]);
                if (dup)
                    continue;
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    const rbac_rule_t **na = realloc(acc, (size_t)cap * sizeof *na);
                    if (!na) {
                        rc = AG_E_NOMEM;
                        goto out;
                    }
                    acc = na;
                }
                acc[n++] = c->rules[r];
            }
        }
    if (n != ar->nrules) { /* monotone: inputs only grow, so a new count means new rules */
        const rbac_rule_t **keep = ag_arena_alloc(&p->arena, (size_t)n * sizeof *keep + 1);
        if (!keep) {
            rc = AG_E_NOMEM;
            goto out;
        }
        memcpy(keep, acc, (size_t)n * sizeof *keep);
        ar->rules = keep, ar->nrules = n;
        rc = 1;
    }
out:
    free(acc);
    return rc;
}

static ag_err aggregate(ag_rbac_t *p)
{
    rbac_role_t **sorted = malloc((size_t)(p->nroles + 1) * sizeof *sorted);
    int ncluster = 0, nagg = 0;
    ag_err err = 0;
    if (!sorted)
        return AG_E_NOMEM;
    for (int i = 0; i < p->nroles; i++)
        if (p->roles[i].cluster) {
            sorted[ncluster++] = &p->roles[i];
            nagg += p->roles[i].aggregated;
        }
    qsort(sorted, (size_t)ncluster, sizeof *sorted, by_name);
    /* the fixpoint: every pass can only add; nagg + 1 passes reach any chain's end */
    for (int pass = 0; pass <= nagg && nagg; pass++) {
        bool changed = false;
        for (int k = 0; k < ncluster; k++) {
            rbac_role_t *r = sorted[k];
            if (!r->aggregated)
                continue;
            int rc = aggregate_one(p, r, sorted, ncluster);
            if (rc < 0) {
                err = rc;
                goto out;
            }
            changed = changed || rc;
        }
        if (!changed)
            break;
    }
out:
    free(sorted);
    p->stats.aggregated = nagg;
    return err;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* p->boundaries: every finite window start and end, sorted and distinct. */
ag_err ag_rbac_collect_boundaries(ag_rbac_t *p)
{
    int n = 0;
    int64_t *v = ag_arena_alloc(&p->arena, (size_t)p->stats.time_bound * 2 * sizeof *v + 1);
    if (!v)
        return AG_E_NOMEM;
    for (int i = 0; i < p->nbindings; i++) {
        const rbac_binding_t *b = &p->bindings[i];
        if (b->windowed && b->not_before != INT64_MIN)
            v[n++] = b->not_before;
        if (b->windowed && b->expires_at != INT64_MAX)
            v[n++] = b->expires_at;
    }
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i])
            v[k++] = v[i];
    p->boundaries = v, p->nboundaries = k;
    return 0;
}

static ag_err finish(loader_t *ld)
{
    ag_rbac_t *p = ld->p;
    ag_err err;
    p->roles = ag_arena_alloc(&p->arena, (size_t)ld->nroles * sizeof *p->roles + 1);
    p->bindings = ag_arena_alloc(&p->arena, (size_t)ld->nbindings * sizeof *p->bindings + 1);
    if (!p->roles || !p->bindings)
        return AG_E_NOMEM;
    if (ld->nroles)
        memcpy(p->roles, ld->roles, (size_t)ld->nroles * sizeof *p->roles);
    if (ld->nbindings)
        memcpy(p->bindings, ld->bindings, (size_t)ld->nbindings * sizeof *p->bindings);
    p->nroles = ld->nroles, p->nbindings = ld->nbindings;
    if ((err = resolve_refs(ld)) || (err = aggregate(p)) || (err = ag_rbac_build_index(p)))
        return err;
    for (int i = 0; i < p->nroles; i++) {
        p->stats.rules += p->roles[i].nrules;
        p->stats.cluster_roles += p->roles[i].cluster;
        p->stats.roles += !p->roles[i].cluster;
    }
    for (int i = 0; i < p->nbindings; i++) {
        p->stats.cluster_role_bindings += p->bindings[i].cluster;
        p->stats.role_bindings += !p->bindings[i].cluster;
        p->stats.time_bound += p->bindings[i].windowed;
    }
    return ag_rbac_collect_boundaries(p);
}

static ag_err loader_begin(loader_t *ld, const ag_rbac_opts_t *opts, ag_buf_t *errmsg)
{
    *ld = (loader_t){.errmsg = errmsg};
    ld->p = calloc(1, sizeof *ld->p);
    if (!ld->p)
        return AG_E_NOMEM;
    ld->p->refs = 1;
    ag_arena_init(&ld->p->arena, 1 << 16, 0);
    ld->arena = &ld->p->arena;
    if (opts && !opts->bootstrap)
        return 0;
    ld->boot_phase = true;
    ag_err err = add_doc(ld, ag_rbac_bootstrap_json(), "<bootstrap policy>");
    ld->boot_phase = false;
    return err;
}

static ag_err loader_end(loader_t *ld, ag_err err, ag_rbac_t **out)
{
    if (!err)
        err = finish(ld);
    free(ld->roles);
    free(ld->role_boot);
    free(ld->bindings);
    free(ld->binding_boot);
    free(ld->ids);
    free(ld->strs);
    if (err) {
        ag_rbac_unref(ld->p);
        return err;
    }
    *out = ld->p;
    return 0;
}

ag_err ag_rbac_load_docs(const ag_str_t *docs, const char *const *names, int ndocs,
                         const ag_rbac_opts_t *opts, ag_rbac_t **out, ag_buf_t *errmsg)
{
    loader_t ld;
    ag_err err = loader_begin(&ld, opts, errmsg);
    for (int i = 0; !err && i < ndocs; i++)
        err = add_doc(&ld, docs[i], names[i]);
    return loader_end(&ld, err, out);
}

ag_err ag_rbac_load_mem(ag_str_t json, const char *name, const ag_rbac_opts_t *opts,
                        ag_rbac_t **out, ag_buf_t *errmsg)
{
    return ag_rbac_load_docs(&json, &name, 1, opts, out, errmsg);
}

/* Every document <src> yields into <ld>, in order; stops at the first error (<src>'s own,
 * a read error it has named in the message buffer, or the document's). */
static ag_err add_docs(loader_t *ld, const ag_rbac_docs_t *src)
{
    for (;;) {
        ag_str_t text = AG_STR_NULL;
        const char *name = NULL;
        ag_err err = src->next(src->ctx, &text, &name);
        if (err || !name)
            return err;
        if ((err = add_doc(ld, text, name)) != 0)
            return err;
    }
}

ag_err ag_rbac_load_from(const ag_rbac_docs_t *src, const ag_rbac_opts_t *opts, ag_rbac_t **out,
                         ag_buf_t *errmsg)
{
    loader_t ld;
    ag_err err = loader_begin(&ld, opts, errmsg);
    if (!err)
        err = add_docs(&ld, src);
    return loader_end(&ld, err, out);
}

/* ---- object sets (rbac_int.h, for rbac_set.c) ----------------------------------------- */

ag_err ag_rbac_parse_objects(ag_str_t doc, const char *name, const rbac_sink_t *sink, int *refused,
                             ag_buf_t *errmsg)
{
    loader_t ld = {.errmsg = errmsg, .sink = sink->sink, .refuse = sink->refuse, .ctx = sink->ctx};
    ag_err err = add_doc(&ld, doc, name);
    *refused = ld.refused;
    return err;
}

ag_err ag_rbac_parse_from(const ag_rbac_docs_t *src, const rbac_sink_t *sink, int *refused,
                          ag_buf_t *errmsg)
{
    loader_t ld = {.errmsg = errmsg, .sink = sink->sink, .refuse = sink->refuse, .ctx = sink->ctx};
    ag_err err = add_docs(&ld, src);
    *refused = ld.refused;
    return err;
}

/* The objects into the loader: roles also into the identity map role references use. */
static ag_err adopt_objects(loader_t *ld, rbac_obj_t *const *objs, size_t n)
{
    ag_rbac_t *p = ld->p;
    if (n && (!(p->objs = malloc(n * sizeof *p->objs)) ||
              !(p->obj_binding = malloc(n * sizeof *p->obj_binding))))
        return AG_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        rbac_obj_t *o = objs[i];
        ag_err err;
        ident_t *e;
        ag_rbac_obj_ref(o);
        p->obj_binding[p->nobjs] = o->kind == 'r' || o->kind == 'c' ? ld->nbindings : -1;
        p->objs[p->nobjs++] = o;
        if (o->kind == 'r' || o->kind == 'c') {
            if ((err = push_binding(ld, &o->u.binding)))
                return err;
            continue;
        }
        if ((err = id_upsert(ld, o->kind, o->u.role.ns, o->u.role.name, &e)))
            return err;
        e->idx = ld->nroles;
        if ((err = push_role(ld, &o->u.role)))
            return err;
    }
    return 0;
}

ag_err ag_rbac_build_from(rbac_obj_t *const *objs, size_t n, ag_rbac_t **out, ag_buf_t *errmsg)
{
    loader_t ld;
    ag_rbac_opts_t none = {.bootstrap = false};
    ag_err err = loader_begin(&ld, &none, errmsg);
    if (!err)
        err = adopt_objects(&ld, objs, n);
    if ((err = loader_end(&ld, err, out)) == 0 && (err = ag_rbac_delta_prepare(*out)) != 0)
        ag_rbac_unref(*out);
    return err;
}
