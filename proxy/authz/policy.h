/* The policy the authorize step and the SubjectAccessReview webhook judge by: Kubernetes
 * RBAC + Azure RBAC + the chain that routes between them, as ONE immutable snapshot
 * published through proxy/runtime/snapshot.h (its rules apply: a reader enters, judges and
 * leaves within one callback; nothing shared is written per decision). The control loop
 * builds a new snapshot off the hot path (libuv threadpool) on SIGHUP or when a policy
 * file changes (stat poll on the control loop), validates it and publishes it. A reload
 * that fails keeps the old snapshot, logs why and counts it in
 * authgate_policy_reloads_total{result="error"}; readiness ("policy") stays true because a
 * valid policy is still in force. Lifetimes: the holder is process; each policy is
 * snapshot (freed on the control thread once no reader holds it). */
#ifndef AG_POLICY_H
#define AG_POLICY_H

#include <stdint.h>
#include <uv.h>

#include "authz/authz_chain.h"
#include "authz/rbac/rbac_set.h"
#include "base/buf.h"
#include "base/err.h"
#include "config.h"
#include "runtime/snapshot.h"

typedef struct ag_policy {
    ag_snap_t snap;         /* first: published through snapshot.h */
    ag_authz_chain_t chain; /* borrows rbac and azure below */
    ag_rbac_t *rbac;        /* owned reference */
    ag_azrbac_t *azure;     /* owned reference; NULL without Azure RBAC */
    uint64_t generation;    /* 1 for the first snapshot, +1 per successful reload */
} ag_policy_t;

/* Builds a snapshot from <authz> and <azure> (NULL: no Azure RBAC) chained by <mode>.
 * On failure "FILE: ..." in <errmsg>. *out is owned by the caller until published. Any
 * thread. */
ag_err ag_policy_build(const ag_authz_config_t *authz, const ag_azure_config_t *azure,
                       ag_chain_mode mode, ag_policy_t **out, ag_buf_t *errmsg);
/* The same with RBAC from <rbac> (a reference taken over, also on failure) instead of
 * the policy files: a snapshot built from a live source's objects. */
ag_err ag_policy_build_rbac(ag_rbac_t *rbac, const ag_azure_config_t *azure, ag_chain_mode mode,
                            ag_policy_t **out, ag_buf_t *errmsg);
/* The same over a live source's objects <view> (borrowed): the policy files of <authz>
 * laid over them (a file object replaces a view object of the same identity), as serve
 * builds with "authorization.rbac.cluster"; `authgate check --config` uses it. */
ag_err ag_policy_build_over(const ag_authz_config_t *authz, const ag_azure_config_t *azure,
                            ag_chain_mode mode, const ag_rbac_view_t *view, ag_policy_t **out,
                            ag_buf_t *errmsg);
/* The Azure section and chain mode in force for <conf>: "authorization.azure", else the
 * top-level "azure"; the mode as "authorization.mode" says, else the azure section's,
 * else rbac. AG_E_CONFIG (and why in <errmsg>) for an Azure mode without Azure RBAC. */
ag_err ag_policy_effective(const ag_config_t *conf, const ag_azure_config_t **azure,
                           ag_chain_mode *mode, ag_buf_t *errmsg);
/* Frees a policy that was never published. NULL ignored. */
void ag_policy_destroy(ag_policy_t *p);

/* Reader, any thread: the current policy (NULL when none is published), valid until
 * ag_policy_leave on the same thread, in the same callback (snapshot.h rules 3-5). */
const ag_policy_t *ag_policy_enter(void);
void ag_policy_leave(void);
/* Control thread (the one writer): publishes <p> (takes it over); the previous policy is
 * freed on this thread once no reader holds it. */
void ag_policy_publish(ag_policy_t *p);

/* `authgate serve --check`: builds (and drops) the policy <conf> names; on failure says
 * why in <errmsg>. */
ag_err ag_policy_check(const ag_config_t *conf, ag_buf_t *errmsg);

/* `authgate serve` wiring: builds the first snapshot from <conf> (failure: the process
 * does not start), publishes it, registers readiness "policy", the SIGHUP hook, the
 * file poll timer on <control> and the metrics. */
ag_err ag_policy_setup(const ag_config_t *conf, uv_loop_t *control, ag_buf_t *errmsg);
/* Starts a rebuild now (control thread); a rebuild already running is followed by one
 * more. Also what SIGHUP does. */
void ag_policy_reload(void);
/* A live source of RBAC objects (proxy/authz/rbacsync.c), control thread only. <take> runs when
 * a rebuild starts and returns the objects to build with (a view, rbac_set.h; NULL: none
 * yet, the files alone decide); the policy files are laid over them (a file object
 * replaces a source object of the same kind/namespace/name). <done> gets the view back
 * when that rebuild ended, with the published snapshot's generation (0: the rebuild
 * failed and the old snapshot stays). */
typedef struct {
    ag_rbac_view_t *(*take)(void *ud);
    void (*done)(void *ud, ag_rbac_view_t *view, uint64_t generation);
    void *ud;
} ag_policy_source_t;
/* Installs <src> (copied) after ag_policy_setup; later rebuilds include its objects. */
void ag_policy_set_source(const ag_policy_source_t *src);

#endif
