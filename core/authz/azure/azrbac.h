/* Azure RBAC for Kubernetes authorization (the AKS model), decided locally from exported
 * role definitions, role assignments and deny assignments. In the request path it runs
 * after authentication for Azure AD identities (authz_chain.c decides who asks it): the
 * request becomes an Azure data action and a scope (<cluster> or
 * <cluster>/namespaces/<ns>), and the principal's and its groups' assignments decide.
 *
 * Owns: the policy snapshot (immutable once loaded, refcounted; a reload builds a new one).
 * Never: does I/O after load, allocates per request, or grants on an error (fail closed).
 * Spec: the shared reference ../shared/reference/azure-rbac.md (section numbers below refer to it).
 */
#ifndef AG_AZRBAC_H
#define AG_AZRBAC_H

#include "authn/identity.h"
#include "authz/authz.h"
#include "authz/rules.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

typedef struct ag_azrbac ag_azrbac_t; /* immutable snapshot, refcounted */

typedef struct {
    /* /subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/
     * managedClusters/NAME (borrowed during load; the snapshot keeps a copy). Required. */
    ag_str_t cluster_resource_id;
} ag_azrbac_opts_t;

#define AG_AZRBAC_MAX_FILE_BYTES (64u << 20) /* an export of 100k assignments is ~60 MiB */

/* The data-action prefix every Kubernetes data action shares. */
#define AG_AZ_MC "Microsoft.ContainerService/managedClusters"

/* Loads role definitions (`az role definition list -o json` shape; the built-in AKS roles
 * and Owner/Contributor/Reader are always present, matched by GUID, and a supplied
 * definition with the same GUID replaces the built-in), role assignments
 * (`az role assignment list --all -o json` shape) and optional deny assignments (REST
 * `{"value":[...]}` list, a bare array, with or without "properties" wrappers).
 * Compiles permissions per role and indexes assignments by principal id. Only
 * assignments at the cluster, a parent (subscription, resource group, "/") or a namespace
 * under it are kept; scopes compare by whole path segments, case-insensitively.
 * Assignments with a condition, or of a role that is not known, grant nothing (fail
 * closed) and are counted in ag_azrbac_stats. On failure returns AG_E_PARSE / AG_E_IO /
 * AG_E_TOO_BIG / AG_E_CONFIG / AG_E_NOMEM and appends "FILE: path: message" to <errmsg>
 * (may be NULL). *out is a new snapshot with one reference (owned by the caller). The
 * documents come from memory (ag_azrbac_load_srcs below); reading them from files is the
 * caller's (config/files.h: ag_azrbac_load). */
/* One input document: its text (JSON, or YAML when <name> says so) and a name for
 * messages. <listed>: an ARM list answer for the cluster's scope (proxy/authz/armsync.c), whose
 * items at a management group (/providers/Microsoft.Management/managementGroups/ID) ARM
 * says apply to the cluster, so they are kept as ancestors; from a file they are ignored
 * (the hierarchy is not derivable from an id, §4). */
typedef struct {
    ag_str_t text;
    const char *name;
    bool listed;
} ag_azrbac_src_t;
typedef struct {
    const ag_azrbac_src_t *defs, *asg, *deny; /* each document of a kind, in order */
    int ndefs, nasg, ndeny;
} ag_azrbac_srcs_t;
/* Loads from documents in memory (several pages of a list, files' contents) as described
 * above. Empty texts are skipped. Borrowed. */
ag_err ag_azrbac_load_srcs(const ag_azrbac_srcs_t *in, const ag_azrbac_opts_t *opts,
                           ag_azrbac_t **out, ag_buf_t *errmsg);
/* The same from memory; <definitions_json> and <deny_json> may be empty. Borrowed. */
ag_err ag_azrbac_load_mem(ag_str_t definitions_json, ag_str_t assignments_json, ag_str_t deny_json,
                          const ag_azrbac_opts_t *opts, ag_azrbac_t **out, ag_buf_t *errmsg);
void ag_azrbac_ref(ag_azrbac_t *p);
void ag_azrbac_unref(ag_azrbac_t *p); /* accepts NULL */

typedef struct {
    int roles;                    /* role definitions known (built-in + supplied) */
    int assignments;              /* assignments kept (apply to this cluster) */
    int assignments_ignored;      /* at other clusters / unrelated scopes */
    int assignments_conditional;  /* kept but granting nothing: conditions not evaluated */
    int assignments_unknown_role; /* kept but granting nothing: role definition unknown */
    int deny_assignments;         /* kept deny assignments */
    int principals;               /* distinct principal ids with kept assignments */
} ag_azrbac_stats_t;
void ag_azrbac_stats(const ag_azrbac_t *p, ag_azrbac_stats_t *out);
/* For tools (authgate check without --cluster-id): the one managed cluster that the
 * scopes in <assignments_json> name (…/managedClusters/NAME, any namespace suffix
 * dropped), appended to <out>. AG_E_NOT_FOUND when none does, AG_E_DUPLICATE when
 * several clusters appear, AG_E_PARSE for malformed JSON. */
ag_err ag_azrbac_infer_cluster(ag_str_t assignments_json, ag_buf_t *out);
/* The same for the contents of file <name>: YAML when the name says so (yaml2json.h). */
ag_err ag_azrbac_infer_cluster_named(ag_str_t assignments, const char *name, ag_buf_t *out);

/* The cluster id this snapshot decides for (as configured). */
ag_str_t ag_azrbac_cluster(const ag_azrbac_t *p);

/* Maps the request to a data action as AKS/guard does (§8) and the scope
 * (<cluster>/namespaces/<ns> for namespaced requests, <cluster> otherwise), then decides
 * for the principal (user->oid, a GUID) and its GUID-valued groups: union over applicable
 * assignments of (DataActions minus the same role's NotDataActions); a deny assignment
 * wins. Cost: O(assignments of this principal and its groups + deny assignments).
 * Returns AG_AUTHZ_ALLOW (d names the assignment, role and scope), AG_AUTHZ_NO_OPINION
 * (nothing grants it; d names the data action and scope) or AG_AUTHZ_DENY (a deny
 * assignment applies, or evaluation failed: d->error). d->source = AG_AUTHZ_BY_AZURE;
 * d's strings borrow from <p> and d->azure_buf. */
ag_authz_result ag_azrbac_eval(const ag_azrbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                               ag_authz_decision_t *d);

/* Appends the data action for <a> to <out>, e.g. AG_AZ_MC "/pods/read",
 * AG_AZ_MC "/apps/deployments/write", pods/exec (any verb) -> AG_AZ_MC "/pods/exec/action",
 * GET /healthz -> AG_AZ_MC "/healthz/read". Verbs outside guard's table get no suffix,
 * as in guard (only wildcard roles grant those). AG_E_INVAL when a resource request has
 * no resource. */
ag_err ag_azrbac_data_action(const ag_attrs_t *a, ag_buf_t *out);

/* Control-plane (ARM) actions with the same engine (Actions minus NotActions), e.g.
 * AG_AZ_MC "/listClusterUserCredential/action" at the cluster scope. <scope> empty means
 * the cluster. <principal> must be a GUID; non-GUID <groups> are ignored. Only the
 * assignments kept for this cluster are consulted, so at a scope outside the cluster's
 * ancestry (another resource group) only those at shared parents count. */
ag_authz_result ag_azrbac_eval_arm(const ag_azrbac_t *p, ag_str_t principal, const ag_str_t *groups,
                                   int ngroups, ag_str_t action, ag_str_t scope,
                                   ag_authz_decision_t *d);

/* For a denial because no assignment grants <a> (<d> from ag_azrbac_eval): appends the
 * assignment of the principal or one of its groups one field from granting it, and that
 * field: its role grants the data action at another scope (looked for first), or it
 * applies at the request's scope but its role lacks the action:
 *   closest: role assignment "ID" of role "NAME" at scope "S"; it grants ACTION there,
 *   not at scope "REQ"
 * False (nothing appended) for other denials or when no assignment is one field away. */
bool ag_azrbac_explain_denial(const ag_azrbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                              const ag_authz_decision_t *d, ag_buf_t *out);

/* `kubectl auth can-i --list` for an Azure AD identity (user->oid and its GUID groups):
 * the DataActions of every role assignment that applies in namespace <ns> (at the cluster
 * or above, or at <cluster>/namespaces/<ns>) translated to Kubernetes rules (azrbac_rules.c;
 * the mapping is in docs/azure-rbac.md). out->incomplete is set, with an evaluation
 * error, where rules cannot say it exactly: NotDataActions, deny assignments, conditional
 * assignments, patterns with '*' inside a segment. Strings borrow from <p> or live in
 * out->arena. */
ag_err ag_azrbac_rules_for(const ag_azrbac_t *p, const ag_identity_t *user, ag_str_t ns,
                           ag_rules_t *out);

/* Appends a human-readable reason for an Azure decision (d->source == AG_AUTHZ_BY_AZURE):
 *   Azure RBAC: allowed by role assignment "ID" of role "NAME" at scope "S" (ACTION)
 *   Azure RBAC: no role assignment grants ACTION at scope "S"
 *   Azure RBAC: denied by deny assignment "ID" ("NAME") at scope "S" (ACTION)
 * For ag_authz_reason to call when the source is Azure. */
ag_err ag_azrbac_reason(const ag_authz_decision_t *d, ag_buf_t *out);

#endif
