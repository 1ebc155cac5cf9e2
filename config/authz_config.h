/* The "authorization" configuration section: which policy judges requests after
 * authentication (Kubernetes RBAC files, optionally Azure RBAC chained in front), and
 * what happens to client impersonation headers. Part of the config snapshot (lifetime:
 * snapshot; strings in the config arena). Loading the policy files is proxy/authz/policy.c's
 * job, so a reload rebuilds the policy without re-reading the config. Never opens a
 * socket.
 *
 *   "authorization": {
 *     "mode": "rbac",                 (rbac | azure-then-rbac | azure-or-rbac; underscores
 *                                      accepted; default: the azure section's mode when
 *                                      one is present, else rbac)
 *     "rbac": {"policies": ["policies/", "extra.json"], "bootstrap": true,
 *              "cluster": {...}},     (list/watch RBAC from the upstream API server,
 *                                      proxy/authz/rbacsync.h; keys in ag_rbac_cluster_config_t)
 *     "azure": { ...config/azure_config.h... },   (or a top-level "azure" section)
 *     "impersonation": "authorize",   (authorize | deny: Impersonate-* from clients)
 *     "reload_interval": "1s"         (policy file poll; "0s" turns polling off; SIGHUP
 *                                      always reloads)
 *   }
 * Relative paths resolve against the config file's directory. */
#ifndef AG_AUTHZ_CONFIG_H
#define AG_AUTHZ_CONFIG_H

#include <stdbool.h>

#include "authz/authz_chain.h"
#include "azure_config.h"
#include "base/cfg.h"

#define AG_AUTHZ_CONFIG_MAX_POLICIES 256

enum { AG_IMPERSONATION_AUTHORIZE = 0, AG_IMPERSONATION_DENY = 1 };

/* "authorization.rbac.cluster": Kubernetes RBAC read from the upstream API server by
 * list/watch (proxy/authz/rbacsync.c), combined with the policy files. */
typedef struct {
    bool enabled;               /* the "cluster" object is present */
    int page_size;              /* list ?limit= (default 500) */
    long long watch_timeout_ms; /* each watch asks timeoutSeconds in [t, 2t) (default 5m) */
    long long coalesce_ms;      /* a change waits at most this for more before the rebuild
                                   (default 50ms) */
    long long stale_after_ms;   /* unready when a kind's watch has been down this long
                                   (0, the default: never, the last good state serves) */
    long long max_event_bytes;  /* one watch event line (default 4 MiB) */
    long long max_page_bytes;   /* one list page (default 256 MiB) */
} ag_rbac_cluster_config_t;

typedef struct {
    bool mode_set; /* "mode" given explicitly */
    ag_chain_mode mode;
    const char **policies; /* arena paths (files or directories) */
    int npolicies;
    bool bootstrap; /* built-in bootstrap roles and bindings (default true) */
    ag_rbac_cluster_config_t cluster;
    int impersonation;            /* AG_IMPERSONATION_* */
    long long reload_interval_ms; /* 0: no file polling */
    bool azure_enabled;           /* a nested "azure" object is present */
    ag_azure_config_t azure;
} ag_authz_config_t;

/* Defaults for an absent section (bootstrap on, impersonation authorized, 1 s polling). */
void ag_authz_config_defaults(ag_authz_config_t *c);
/* Reads the section at <ref> (<path> in messages); relative paths against <config_dir>
 * (NULL: as written). */
ag_err ag_authz_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_authz_config_t *out);

#endif
