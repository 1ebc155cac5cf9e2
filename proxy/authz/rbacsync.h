/* Kubernetes RBAC from the cluster ("authorization.rbac.cluster"): a reflector per kind
 * (clusterroles, clusterrolebindings, roles, rolebindings of rbac.authorization.k8s.io/v1)
 * lists by pages and then watches the upstream API server, with the upstream's TLS
 * settings and the gateway's own credential, on the control loop through the fetch
 * engine (never on a worker). Objects go into an in-memory store (core/kstore.h); a
 * change arms a coalescing timer, and the policy holder (policy.c) rebuilds the snapshot
 * off the workers from the store and the policy files and swaps it in.
 *
 * As client-go's reflector: list with limit/continue, remember the list's resourceVersion,
 * watch from it with bookmarks; 410 Gone / an expired version, a garbage or oversized
 * event -> relist (the store keeps the last good objects until the new list is complete);
 * a dropped or ended watch -> watch again from the last version, with backoff and jitter.
 * Readiness "rbac-sync" holds once a snapshot built from a complete list of all four
 * kinds is in force; a broken watch afterwards keeps serving the last good state (metrics,
 * rate-limited WARN), unready only past "stale_after" when one is configured.
 *
 * Lifetime: process; everything on the control thread. */
#ifndef AG_RBACSYNC_H
#define AG_RBACSYNC_H

#include <uv.h>

#include "authz/rbac/rbac_set.h"
#include "base/buf.h"
#include "base/err.h"
#include "config.h"

struct ag_credential;

/* Starts the four reflectors on <control> (after ag_policy_setup) with the gateway's
 * credential source <cred> (borrowed, process lifetime; NULL: none), registers readiness
 * and metrics. Nothing to do when conf->authz.cluster is not enabled. */
ag_err ag_rbacsync_setup(const ag_config_t *conf, uv_loop_t *control,
                         const struct ag_credential *cred, ag_buf_t *errmsg);

/* `authgate check --config`: lists the four kinds once (no watch, no retry) with the
 * upstream settings and upstream.token_file of <conf>, on a private loop, for at most
 * <timeout_ms>; *out is the bootstrap policy (if configured) plus the cluster's objects,
 * for ag_policy_build_over. Any failure: an error and why in <errmsg>. */
ag_err ag_rbacsync_once(const ag_config_t *conf, long timeout_ms, ag_rbac_view_t **out,
                        ag_buf_t *errmsg);

#endif
