/* Kubernetes RBAC: step 5 of a request's path for identities judged by Kubernetes
 * roles. Owns the immutable policy snapshot (Roles, ClusterRoles with aggregation
 * computed at load, RoleBindings, ClusterRoleBindings, the built-in bootstrap policy)
 * and the decision over it (reference §2, §4, §5). Allow-only: RBAC never denies, it has
 * no opinion. Never does I/O beyond reading policy files at load, never allocates on
 * the decision path.
 *
 * Lifetimes: a snapshot is refcounted (ref/unref); everything a decision points to lives
 * as long as the snapshot. */
#ifndef AG_RBAC_H
#define AG_RBAC_H

#include <stdbool.h>
#include <stdint.h>

#include "authn/identity.h"
#include "authz/authz.h"
#include "authz/rules.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_RBAC_MAX_FILE_BYTES (512u << 20) /* one policy file; a 100k-object dump is ~60 MiB */
#define AG_RBAC_MAX_FILES 4096              /* files in one load (directories included) */

typedef struct ag_rbac ag_rbac_t; /* immutable policy snapshot, refcounted */

/* Time-bound (just-in-time) bindings: a RoleBinding or ClusterRoleBinding carrying either
 * or both of these annotations (RFC 3339, rfc3339.h) grants only while
 * not-before <= now < expires-at. A value that does not parse, an empty window, any other
 * "authgate.io/" annotation, or these on a Role/ClusterRole is a load error naming the
 * object: a window is never dropped silently (which would make the binding permanent). */
#define AG_RBAC_NOT_BEFORE "authgate.io/not-before"
#define AG_RBAC_EXPIRES_AT "authgate.io/expires-at"
#define AG_RBAC_ANNOTATION_PREFIX "authgate.io/"

typedef struct {
    bool bootstrap; /* built-in default roles and bindings (reference §5); default true */
} ag_rbac_opts_t;

#define AG_RBAC_OPTS_DEFAULT ((ag_rbac_opts_t){.bootstrap = true})

/* A source of policy documents, pulled one at a time: next() sets *text and *name (both
 * borrowed until the next call) and returns 0; at the end it leaves *name NULL; on an error
 * (say an unreadable file) it returns it, having named it in the loader's <errmsg>. Core
 * does no file I/O: config/files.h reads files and directories into one. */
typedef struct {
    ag_err (*next)(void *ctx, ag_str_t *text, const char **name);
    void *ctx;
} ag_rbac_docs_t;

/* Loads Kubernetes objects from the documents <src> yields (config/files.h ag_rbac_load:
 * files, or directories whose *.json, *.yaml and *.yml files are read in name order),
 * each: a List (as printed by `kubectl get clusterroles,
 * clusterrolebindings,roles,rolebindings -A -o json` or `-o yaml`), a RoleList/
 * ClusterRoleList/..., or single objects. A file (or in-memory document) whose name ends
 * in .yaml/.yml is a YAML stream of such documents (yaml2json.h); anything else is JSON.
 * <opts> may be NULL (defaults). Objects in the files replace bootstrap objects of the
 * same kind/namespace/name; two file objects with the same identity are an error.
 * On failure returns AG_E_CONFIG (or AG_E_IO, AG_E_TOO_BIG, AG_E_NOMEM) and appends
 * "FILE:LINE:COL: what is wrong" to <errmsg> (may be NULL). *out gets a new snapshot
 * with one reference (owned by the caller). */
ag_err ag_rbac_load_from(const ag_rbac_docs_t *src, const ag_rbac_opts_t *opts, ag_rbac_t **out,
                         ag_buf_t *errmsg);
/* Same for one in-memory document; <name> names it in errors. <json> is borrowed. */
ag_err ag_rbac_load_mem(ag_str_t json, const char *name, const ag_rbac_opts_t *opts,
                        ag_rbac_t **out, ag_buf_t *errmsg);
/* Several in-memory documents (bench, tests). */
ag_err ag_rbac_load_docs(const ag_str_t *docs, const char *const *names, int ndocs,
                         const ag_rbac_opts_t *opts, ag_rbac_t **out, ag_buf_t *errmsg);

void ag_rbac_ref(ag_rbac_t *p);
void ag_rbac_unref(ag_rbac_t *p); /* accepts NULL */

/* Decides <a> for <user> (both borrowed). Cost O(rules reachable from the user's name and
 * groups): bindings are indexed by subject at load. Group system:masters is always
 * allowed (source SUPERUSER). Returns ALLOW or NO_OPINION, never DENY. <d> is filled:
 * on allow the binding/role/rule/subject that allowed; on no opinion d->error may point
 * to the first role-resolution error of a binding that applied to the user (lifetime:
 * snapshot). No allocation. */
ag_authz_result ag_rbac_eval(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                             ag_authz_decision_t *d);
/* The same at wall-clock time <now_ms> (ms since the epoch) for time-bound bindings;
 * AG_RBAC_NOW reads the clock, and only when a time-bound grant would allow (what
 * ag_rbac_eval does). A grant outside its window does not allow; the first such grant
 * that would have allowed is named in <d> (binding_*, role_*, subject_*, the window,
 * outside_window true) while the result stays NO_OPINION. */
#define AG_RBAC_NOW INT64_MIN
ag_authz_result ag_rbac_eval_at(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                                int64_t now_ms, ag_authz_decision_t *d);
/* Wall-clock milliseconds since the epoch (CLOCK_REALTIME), as window checks read it. */
int64_t ag_rbac_now_ms(void);
/* The earliest window start or end of any binding strictly after <now_ms>, INT64_MAX when
 * none: when the gateway re-publishes the policy (the decision checks windows itself). */
int64_t ag_rbac_next_boundary(const ag_rbac_t *p, int64_t now_ms);

/* who-can: calls <fn> for each subject (kind, namespace, name) of every binding that
 * grants <a> (RoleBindings only when a->namespace_ is theirs), with the binding, role and
 * rule in <via>. Slices live as long as the snapshot. */
typedef void (*ag_rbac_who_fn)(void *ctx, ag_str_t subject_kind, ag_str_t subject_ns,
                               ag_str_t subject_name, const ag_authz_decision_t *via);
void ag_rbac_who_can(const ag_rbac_t *p, const ag_attrs_t *a, ag_rbac_who_fn fn, void *ctx);

/* The reason of a decision RBAC made (source AG_AUTHZ_BY_RBAC), as the API server words
 * it: "RBAC: allowed by ClusterRoleBinding \"x\" of ClusterRole \"y\" to Group \"z\"", a
 * time-bound binding's window, "RBAC: outside the validity window of ...", or "RBAC: " and
 * the role-resolution error; nothing for a plain denial (rbac_reason.c). */
ag_err ag_rbac_reason(const ag_authz_decision_t *d, ag_buf_t *out);

/* For a request ag_rbac_eval did not allow: appends to <out> the rule <user> (or one of
 * its groups) can reach that misses <a> by exactly one field, and that field:
 *   closest: ClusterRole "view" rule 3 (ClusterRoleBinding "ops-view" to Group "ops")
 *   allows get,list,watch on pods in API groups ""; missing verb "delete"
 * A RoleBinding in another namespace counts the namespace as that field (looked at only
 * when no rule in scope is one field away). False (nothing appended) when no rule is.
 * Walks every grant of the user and its groups: for tools, not the request path. */
bool ag_rbac_explain_denial(const ag_rbac_t *p, const ag_identity_t *user, const ag_attrs_t *a,
                            ag_buf_t *out);

/* The rule resolver behind SelfSubjectRulesReview, as kube-apiserver's RBAC one: the rules
 * of every ClusterRoleBinding, then (when <ns> is not empty) every RoleBinding in <ns>,
 * that names <user> (user name, a group, or the service account the user name says), in
 * binding order; a binding whose role does not exist adds its error ("clusterrole.rbac.
 * authorization.k8s.io \"x\" not found") instead. Rules and messages live as long as
 * the snapshot. */
ag_err ag_rbac_rules_for(const ag_rbac_t *p, const ag_identity_t *user, ag_str_t ns,
                         ag_rules_t *out);

/* Counts, for logs and /metrics. */
typedef struct {
    int roles, cluster_roles, role_bindings, cluster_role_bindings, rules, aggregated;
    int missing_role_refs; /* bindings whose role does not exist (grant nothing) */
    int time_bound;        /* bindings with a validity window */
} ag_rbac_stats_t;
void ag_rbac_stats(const ag_rbac_t *p, ag_rbac_stats_t *out);

/* The built-in bootstrap policy as a Kubernetes List JSON document (static). */
ag_str_t ag_rbac_bootstrap_json(void);

#endif
