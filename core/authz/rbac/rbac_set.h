/* A mutable set of Kubernetes RBAC objects kept parsed, for a live source (the cluster's
 * list/watch, or any store that learns of objects one at a time): each object is parsed
 * once, when it arrives, and a snapshot (rbac.h ag_rbac_t) is built from the parsed set
 * without reading any JSON again. That is what makes one change cheap: at 100,000
 * objects a snapshot from the set costs the index build (bench/bench_rbac.c prints it),
 * not the parse of every object.
 *
 * Threads: one writer (put/remove/clear/view/destroy on one thread, or under the
 * caller's lock). A view is an immutable list of references to the objects in force; it
 * may be built into a snapshot on any thread while the writer goes on. Objects are
 * refcounted: a snapshot keeps the objects it was built from, whatever the set does
 * later. Lifetimes: the set is the caller's (create/destroy); views and snapshots are
 * refcounted or owned as their functions say. Never does I/O. */
#ifndef AG_RBAC_SET_H
#define AG_RBAC_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/rbac/rbac.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

typedef struct ag_rbac_set ag_rbac_set_t;
typedef struct ag_rbac_view ag_rbac_view_t;

/* A new empty set; with opts->bootstrap (NULL: default true) the built-in bootstrap
 * objects are in force until an object of the same kind/namespace/name replaces them. */
ag_err ag_rbac_set_create(const ag_rbac_opts_t *opts, ag_rbac_set_t **out);
void ag_rbac_set_destroy(ag_rbac_set_t *s); /* NULL ignored; snapshots live on */

/* Adds, or replaces by kind/namespace/name, every Role, ClusterRole, RoleBinding and
 * ClusterRoleBinding of <doc> (borrowed): one object as the API server sends it in a
 * watch event, or a List/typed list (a list page), JSON (or YAML when <name> ends in
 * .yaml/.yml), validated as ag_rbac_load validates files (time-bound windows included).
 * An invalid object is refused: it is not added, an earlier version of it is removed (a
 * refused update never leaves the old grant in force), "NAME:LINE:COL: ..." is appended
 * to <errmsg> (may be NULL; one line per object) and *refused (may be NULL) counts it;
 * the other objects of the document are applied. Errors (the set unchanged by the bad
 * part): AG_E_CONFIG for a document that is not JSON/YAML or not a Kubernetes object,
 * AG_E_NOMEM. */
ag_err ag_rbac_set_put(ag_rbac_set_t *s, ag_str_t doc, const char *name, int *refused,
                       ag_buf_t *errmsg);

/* The same for every document <src> yields (rbac.h), in order; stops at the first error,
 * <src>'s own included (an unreadable file, named in <errmsg> by <src>). Reading policy
 * files is the caller's: config/files.h ag_rbac_set_put_files. */
ag_err ag_rbac_set_put_from(ag_rbac_set_t *s, const ag_rbac_docs_t *src, int *refused,
                            ag_buf_t *errmsg);

/* Removes the object <kind> ("Role", "ClusterRole", "RoleBinding" or
 * "ClusterRoleBinding") <ns>/<name> (ns "" for cluster objects); false when the set has
 * none. A removed bootstrap replacement brings the bootstrap object back. */
bool ag_rbac_set_remove(ag_rbac_set_t *s, ag_str_t kind, ag_str_t ns, ag_str_t name);
/* Removes every object but the bootstrap ones (before a relist). */
void ag_rbac_set_clear(ag_rbac_set_t *s);
/* Objects put and in force (bootstrap objects not counted). */
size_t ag_rbac_set_count(const ag_rbac_set_t *s);

/* The objects in force now, as an immutable list (owned by the caller). O(objects). */
ag_err ag_rbac_set_view(ag_rbac_set_t *s, ag_rbac_view_t **out);
/* The objects in force across <layers>[0, n) (n >= 1), each layer's objects replacing
 * those of earlier layers with the same kind/namespace/name: the bootstrap objects of
 * layers[0] that no layer replaced, then each layer's objects no later layer replaced.
 * E.g. layers {cluster, files}: a local break-glass file wins over the cluster. Every
 * layer on the writer's thread. */
ag_err ag_rbac_set_view_layers(ag_rbac_set_t *const *layers, int n, ag_rbac_view_t **out);
/* <lower>'s objects that no object of <upper> replaces (same kind/namespace/name), then
 * <upper>'s objects: a live source's view (taken on its writer's thread) under a layer
 * built elsewhere, e.g. the policy files over the cluster. On <upper>'s writer thread;
 * <lower> is borrowed (immutable). Bootstrap objects of <lower> stay unless replaced. */
ag_err ag_rbac_view_over(const ag_rbac_view_t *lower, ag_rbac_set_t *upper, ag_rbac_view_t **out);
/* Objects in <v>, for logs and metrics. */
size_t ag_rbac_view_count(const ag_rbac_view_t *v);
/* A snapshot of <v> (any thread; <v> borrowed): *out has one reference. On failure
 * AG_E_NOMEM (nothing in a view can fail validation again). */
ag_err ag_rbac_view_build(const ag_rbac_view_t *v, ag_rbac_t **out, ag_buf_t *errmsg);
/* The same as ag_rbac_view_build, computed from <prev> (a snapshot built by this function
 * or ag_rbac_view_build before; borrowed, may be NULL) when only bindings changed since
 * the full snapshot <prev> rests on, and not too many: then bindings that are gone are
 * masked and the new ones indexed on their own over the full snapshot, which the result
 * keeps (a reference), so the cost follows the change and not the size of the policy. A
 * role change, or a delta past half of the objects, is a full build. Decisions,
 * rules reviews, who-can, explanations, counts and window boundaries are the same as a
 * full build's. */
ag_err ag_rbac_view_build_since(const ag_rbac_view_t *v, const ag_rbac_t *prev, ag_rbac_t **out,
                                ag_buf_t *errmsg);
void ag_rbac_view_destroy(ag_rbac_view_t *v); /* NULL ignored */
/* view + build + destroy, on the writer's thread. */
ag_err ag_rbac_set_build(ag_rbac_set_t *s, ag_rbac_t **out, ag_buf_t *errmsg);

#endif
