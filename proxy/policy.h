/* The policy the authorize step and the SubjectAccessReview webhook judge by: Kubernetes
 * RBAC + Azure RBAC + the chain that routes between them, as ONE immutable refcounted
 * snapshot published through an atomic pointer. Workers take a reference for the
 * length of one decision (lock-free: a per-thread hazard slot closes the window between
 * loading the pointer and taking the reference); the control loop builds a new snapshot
 * off the hot path (libuv threadpool) on SIGHUP or when a policy file changes (stat poll
 * on the control loop), validates it and swaps the pointer. A reload that fails keeps
 * the old snapshot, logs why and counts it in authgate_policy_reloads_total{result=
 * "error"}; readiness ("policy") stays true because a valid policy is still in force.
 * Lifetimes: the holder is process; each snapshot is snapshot (ref/unref). */
#ifndef AG_POLICY_H
#define AG_POLICY_H

#include <stdint.h>
#include <uv.h>

#include "authz_chain.h"
#include "buf.h"
#include "config.h"
#include "err.h"

typedef struct ag_policy {
    ag_authz_chain_t chain; /* borrows rbac and azure below */
    ag_rbac_t *rbac;        /* owned reference */
    ag_azrbac_t *azure;     /* owned reference; NULL without Azure RBAC */
    uint64_t generation;    /* 1 for the first snapshot, +1 per successful reload */
    _Atomic int refs;
} ag_policy_t;

/* Builds a snapshot from <authz> and <azure> (NULL: no Azure RBAC) chained by <mode>.
 * On failure "FILE: ..." in <errmsg>. *out has one reference. Any thread. */
ag_err ag_policy_build(const ag_authz_config_t *authz, const ag_azure_config_t *azure,
                       ag_chain_mode mode, ag_policy_t **out, ag_buf_t *errmsg);
/* The Azure section and chain mode in force for <conf>: "authorization.azure", else the
 * top-level "azure"; the mode as "authorization.mode" says, else the azure section's,
 * else rbac. AG_E_CONFIG (and why in <errmsg>) for an Azure mode without Azure RBAC. */
ag_err ag_policy_effective(const ag_config_t *conf, const ag_azure_config_t **azure,
                           ag_chain_mode *mode, ag_buf_t *errmsg);
void ag_policy_ref(ag_policy_t *p);
void ag_policy_unref(ag_policy_t *p); /* NULL ignored */

/* Reader threads: the control thread and every worker. */
#define AG_POLICY_SLOTS (1 + AG_CONFIG_MAX_WORKERS)

/* Gives the calling thread a hazard slot of its own (no other registered thread has it)
 * and puts it in *slot (may be NULL). Idempotent per thread. AG_E_TOO_BIG when all
 * AG_POLICY_SLOTS are taken: nothing is shared instead. Threads call it when they start
 * (server.c aborts the process on failure). The slot is released by unregister or when
 * the thread exits. */
ag_err ag_policy_thread_register(int *slot);
void ag_policy_thread_unregister(void);
/* The current snapshot with a reference (NULL when none is published), through the
 * calling thread's slot. A thread that has not registered is registered on its first
 * call; if no slot is left that aborts with a message (never a shared slot). */
ag_policy_t *ag_policy_acquire(void);
/* Publishes <p> (takes over the caller's reference); the previous snapshot is released
 * once no reader is between load and ref. Control thread (one writer). */
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
/* Stops the poll timer (control thread, before the loop ends). */
void ag_policy_stop(void);

#endif
