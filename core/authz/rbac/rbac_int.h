/* Private to the RBAC module (rbac.c, rbac_load.c, rbac_bootstrap.c): the snapshot's
 * layout. Everything here lives in the snapshot (lifetime: snapshot) and is immutable
 * once ag_rbac_load returns. Nobody outside core/authz/rbac/rbac*.c includes this. */
#ifndef AG_RBAC_INT_H
#define AG_RBAC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "authz/rbac/rbac.h"
#include "base/arena.h"

typedef struct {
    const ag_str_t *v;
    int n;
    bool star; /* holds "*" */
} rbac_list_t;

typedef struct {
    rbac_list_t verbs, groups, resources, names, urls;
} rbac_rule_t;

typedef struct {
    ag_str_t key, value;
} rbac_label_t;

enum { SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOT_EXISTS };

typedef struct {
    ag_str_t key;
    int op;
    rbac_list_t values;
} rbac_expr_t;

typedef struct {
    const rbac_label_t *match;
    int nmatch;
    const rbac_expr_t *exprs;
    int nexprs;
} rbac_selector_t;

typedef struct rbac_role {
    bool cluster;
    ag_str_t ns, name;
    const rbac_rule_t **rules; /* effective rules (aggregated roles: the computed fixpoint) */
    int nrules;
    const rbac_label_t *labels;
    int nlabels;
    const rbac_selector_t *agg; /* aggregationRule.clusterRoleSelectors */
    int nagg;
    bool aggregated;
} rbac_role_t;

typedef struct {
    ag_str_t kind, ns, name; /* as written */
    ag_str_t eff_ns;         /* ServiceAccount: namespace, or the binding's when empty */
    char key_kind;           /* index key: 'U' (users, SA user names), 'G', 0 = never matches */
    ag_str_t key_name;       /* user/group name; system:serviceaccount:<ns>:<name> for SAs */
} rbac_subject_t;

typedef struct rbac_binding {
    bool cluster;
    ag_str_t ns, name;
    ag_str_t role_kind, role_name;
    const rbac_role_t *role; /* NULL when the referenced role does not exist */
    const char *error;       /* "clusterrole.rbac.authorization.k8s.io \"x\" not found" */
    const rbac_subject_t *subjects;
    int nsubjects;
    /* Time-bound binding (annotations authgate.io/not-before, authgate.io/expires-at):
     * grants only while not_before <= now < expires_at (ms since the epoch; INT64_MIN /
     * INT64_MAX for a side not given). windowed false: always. */
    bool windowed;
    int64_t not_before, expires_at;
} rbac_binding_t;

/* One binding naming one principal. role and subject are copies of binding->role (NULL:
 * missing) and &binding->subjects[i], so a decision reads them without chained loads. */
typedef struct {
    const rbac_binding_t *binding;
    const rbac_role_t *role;
    const rbac_subject_t *subject;
} rbac_grant_t;

/* The grants of one principal in one namespace: principal->grants[first, first + n). */
typedef struct {
    int ns; /* namespace id (p->nss) */
    int first, n;
} rbac_nsgrants_t;

/* Subject index entry: one per principal (kind 'U' user name incl. service-account user
 * names, 'G' group), holding every grant of it in every scope: ClusterRoleBindings
 * first (grants[0, ncluster)), then the RoleBindings of each namespace (nss, sorted by
 * namespace id). Each list is in binding order. One arena block: the header, the name
 * (so a hit is confirmed by one memcmp on the line just read), grants, nss. */
typedef struct {
    const rbac_grant_t *grants;
    const rbac_nsgrants_t *nss;
    int ncluster, nns;
    unsigned name_len;
    char kind;
    char name[]; /* not NUL-terminated */
} rbac_principal_t;

typedef struct {
    unsigned long long hash;
    const rbac_principal_t *pr; /* NULL: empty slot */
} rbac_slot_t;

/* Namespaces that hold at least one RoleBinding subject, numbered 0..n-1. */
typedef struct {
    unsigned long long hash;
    ag_str_t name; /* a binding's namespace (snapshot); p NULL: empty slot */
    int id;
} rbac_nsslot_t;

/* One parsed object of an object set (rbac_set.c): a Role/ClusterRole ('R'/'C') or a
 * RoleBinding/ClusterRoleBinding ('r'/'c'), everything it points to in its own arena.
 * Immutable once parsed; refcounted (atomic): the set holds one reference, and every
 * snapshot built from the set one more, so a snapshot's bindings and rules stay valid
 * after the set dropped or replaced the object. */
typedef struct rbac_obj {
    int refs;
    char kind;
    bool boot; /* from the built-in bootstrap policy */
    ag_arena_t arena;
    union {
        rbac_role_t role;
        rbac_binding_t binding;
    } u;
    size_t pos; /* the set's bookkeeping (writer thread only) */
} rbac_obj_t;

void ag_rbac_obj_ref(rbac_obj_t *o);
void ag_rbac_obj_unref(rbac_obj_t *o); /* NULL ignored */

/* rbac_load.c for rbac_set.c: parses the object(s) of one document (as ag_rbac_load reads
 * a file: a List, a typed list, a single object; YAML by <name>) into rbac_obj_t, each
 * given to sink (which takes the reference; a sink error stops the parse). An invalid
 * object is named in <errmsg> (one line each), counted in *refused and passed to refuse
 * (kind, namespace and name as far as they could be read); the rest goes on. Returns an
 * error only for a document that is not one (syntax, not an object) or AG_E_NOMEM. */
typedef struct {
    ag_err (*sink)(void *ctx, rbac_obj_t *o);
    void (*refuse)(void *ctx, char kind, ag_str_t ns, ag_str_t name);
    void *ctx;
} rbac_sink_t;
ag_err ag_rbac_parse_objects(ag_str_t doc, const char *name, const rbac_sink_t *sink, int *refused,
                             ag_buf_t *errmsg);
/* The same for every document <src> yields, in order; stops at the first error. */
ag_err ag_rbac_parse_from(const ag_rbac_docs_t *src, const rbac_sink_t *sink, int *refused,
                          ag_buf_t *errmsg);
/* A snapshot of objs[0, n) (each gets a reference the snapshot holds): no duplicates
 * (the caller resolved them), no parsing; role references, aggregation, the subject
 * index and the window boundaries computed as ag_rbac_load does. */
ag_err ag_rbac_build_from(rbac_obj_t *const *objs, size_t n, ag_rbac_t **out, ag_buf_t *errmsg);

struct ag_rbac {
    int refs;
    rbac_obj_t **objs; /* owned references: the objects this snapshot was built from */
    size_t nobjs;
    ag_arena_t arena;
    rbac_role_t *roles;
    int nroles;
    rbac_binding_t *bindings;
    int nbindings;
    rbac_slot_t *slots; /* principals; open addressing; nslots is a power of two */
    size_t nslots;
    rbac_nsslot_t *nss; /* namespace ids; open addressing; nnsslots is a power of two */
    size_t nnsslots;
    void *index_mem;     /* owned: slots and principals of a big index (else in the arena) */
    int64_t *boundaries; /* every window start and end, sorted, distinct (arena) */
    int nboundaries;
    ag_rbac_stats_t stats;
    /* A delta snapshot (rbac_delta.c): decisions read <base> (a full snapshot; ref)
     * without the bindings flagged in <masked> (bit i: base->bindings[i] was removed or
     * replaced since), then this snapshot's own bindings and index, which hold only the
     * bindings new since <base> (their roles are base's: a role change is a full build). */
    struct ag_rbac *base;
    uint64_t *masked; /* base->nbindings bits (owned) */
    /* A full snapshot built from objects: what a delta is computed against (owned). */
    int *obj_binding;            /* per objs[i]: its index in bindings, -1 for a role */
    struct rbac_ptrslot *objmap; /* objs[i] pointer -> i; open addressing */
    size_t nobjmap;
    int *rolemap; /* role identity -> index in roles, -1 empty; open addressing */
    size_t nrolemap;
};

/* Whether <b> (a binding a decision reached through <top>'s base) is masked in <top>. */
static inline bool ag_rbac_masked(const ag_rbac_t *top, const rbac_binding_t *b)
{
    const ag_rbac_t *base = top->base;
    if (!top->masked || b < base->bindings || b >= base->bindings + base->nbindings)
        return false;
    size_t i = (size_t)(b - base->bindings);
    return (top->masked[i / 64] >> (i % 64)) & 1;
}

/* rbac_set.c: a view's objects (borrowed), for rbac_delta.c. */
struct ag_rbac_view;
size_t ag_rbac_view_objects(const struct ag_rbac_view *v, rbac_obj_t *const **objs);
/* rbac_delta.c: the maps a later delta needs, for a snapshot built from objects. */
ag_err ag_rbac_delta_prepare(ag_rbac_t *p);
/* The "role(s) ... not found" error of a binding whose role does not exist (arena). */
const char *ag_rbac_role_error(ag_arena_t *arena, const rbac_binding_t *b);
/* rbac_load.c: the finish steps after an object-built load (sorted window boundaries). */
ag_err ag_rbac_collect_boundaries(ag_rbac_t *p);

unsigned long long ag_rbac_key_hash(char kind, ag_str_t ns, ag_str_t name);
/* The principal (kind, name), or NULL when no binding names it. */
const rbac_principal_t *ag_rbac_find_principal(const ag_rbac_t *p, char kind, ag_str_t name);
/* Builds p->slots and p->nss from p->bindings (load time). */
ag_err ag_rbac_build_index(ag_rbac_t *p);
bool ag_rbac_rule_allows(const rbac_rule_t *r, const ag_attrs_t *a);
/* Whether <b> grants at <now> (ms since the epoch): always for a binding without window. */
static inline bool ag_rbac_binding_in_window(const rbac_binding_t *b, int64_t now)
{
    return !b->windowed || (b->not_before <= now && now < b->expires_at);
}
/* How many of <a>'s fields rule <r> fails (verb, apiGroup, resource incl. subresource,
 * resourceName; or verb, path), the first of them in *field (static; NULL at 0). A rule of
 * the other kind (URLs for a resource request, resources for a URL) counts as 99. */
int ag_rbac_rule_misses(const rbac_rule_t *r, const ag_attrs_t *a, const char **field);

#endif
