/* Internal layout of an Azure RBAC snapshot, shared by azrbac_load.c (builds it) and
 * azrbac.c (decides with it), and azrbac_rules.c (lists it as rules). Not for use elsewhere.
 * Everything is immutable after ag_azrbac_load* returns; strings live in the snapshot arena, the
 * four arrays are malloc'ed (owned by the snapshot). */
#ifndef AG_AZRBAC_INT_H
#define AG_AZRBAC_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "authz/azure/azrbac.h"
#include "authz/azure/azrbac_perm.h"
#include "base/arena.h"

/* One permission block of a role or deny assignment, each list compiled. */
typedef struct {
    ag_azperm_set_t actions, not_actions, data_actions, not_data_actions;
} az_block_t;

typedef struct {
    ag_str_t guid; /* lower-case role GUID (the definition's "name") */
    ag_str_t name; /* roleName, for reasons */
    az_block_t *blocks;
    int nblocks;
} az_role_t;

enum {
    AZ_AT_ABOVE = 0, /* at the cluster or a parent: applies to every request scope */
    AZ_AT_NAMESPACE, /* at <cluster>/namespaces/<ns>: applies to requests in <ns> */
};

typedef struct {
    ag_az_guid_t pid;  /* principal object id */
    ag_str_t id;       /* assignment id as exported (for reasons) */
    ag_str_t scope;    /* as exported (for reasons) */
    ag_str_t scope_lc; /* normalized, lower-case */
    ag_str_t ns;       /* lower-case namespace when kind == AZ_AT_NAMESPACE */
    int kind;
    int role;          /* index into roles; -1 when the role is unknown (grants nothing) */
    bool conditional;  /* carries an ABAC condition: grants nothing (not evaluated) */
    bool listed_above; /* at a management group ARM listed for the cluster: an ancestor */
} az_asg_t;

/* Principal index: open addressing over object ids -> a run of assignments (the
 * assignment array is sorted by principal). */
typedef struct {
    ag_az_guid_t pid;
    int first, count; /* count 0: empty slot */
} az_pslot_t;

typedef struct {
    ag_str_t id, name, scope, scope_lc;
    bool exact_scope_only; /* doNotApplyToChildScopes */
    bool listed_above;     /* at a management group ARM listed for the cluster */
    bool all_principals;   /* principals holds the All Principals id */
    az_block_t *blocks;
    int nblocks;
    const ag_str_t *principals; /* lower-case ids */
    int nprincipals;
    const ag_str_t *excluded; /* lower-case ids */
    int nexcluded;
} az_deny_t;

struct ag_azrbac {
    atomic_int refs;
    ag_arena_t arena;
    ag_str_t cluster;    /* as configured */
    ag_str_t cluster_lc; /* normalized */
    az_role_t *roles;
    int nroles, cap_roles;
    az_asg_t *asg;
    int nasg, cap_asg;
    az_pslot_t *ptab;
    unsigned pmask;
    az_deny_t *deny;
    int ndeny, cap_deny;
    ag_azrbac_stats_t stats;
};

/* azrbac.c: frees a snapshot under construction or at its last unref. */
void az_destroy(ag_azrbac_t *p);
/* azrbac_load.c: fills the principal index once all assignments are in. */
ag_err az_index_principals(ag_azrbac_t *p);
/* azrbac.c: the index entry of <pid> or NULL. */
const az_pslot_t *az_find_principal(const ag_azrbac_t *p, ag_az_guid_t pid);

#endif
