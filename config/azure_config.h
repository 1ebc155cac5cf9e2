/* The "azure" configuration section: Azure RBAC for Kubernetes authorization (core/
 * azrbac.h) and how it is chained with Kubernetes RBAC (core/authz/authz_chain.h). Part of the
 * config snapshot (lifetime: snapshot; strings in cfg->arena); loading the policy files is
 * a separate step so a reload can rebuild the policy without re-reading the config.
 *
 *   "azure": {
 *     "mode": "azure-then-rbac",        (rbac | azure-then-rbac | azure-or-rbac; default
 *                                         azure-then-rbac)
 *     "cluster_resource_id": "/subscriptions/S/resourceGroups/RG/providers/
 *                             Microsoft.ContainerService/managedClusters/NAME",
 *     "role_assignments": ["azure/role-assignments.json"],    (az role assignment list
 *                                                              --all -o json; required)
 *     "role_definitions": ["azure/role-definitions.json"],    (custom roles; optional)
 *     "deny_assignments": ["azure/deny-assignments.json"],    (optional)
 *     "arm": {                                                (optional: poll Azure
 *       "poll_interval": "60s",                                Resource Manager instead
 *       "base_url": "https://management.azure.com",            of, or besides, the files;
 *       "tenant": "...", "client_id": "...",                   role_assignments is then
 *       "client_secret_file" | "client_certificate_file" +     optional)
 *       "client_key_file" | "federated_token_file" | "workload_identity": true,
 *       "timeout": "30s", "token_refresh_margin": "5m" }
 *   }
 * Relative paths resolve against the config file's directory. Never opens a socket. */
#ifndef AG_AZURE_CONFIG_H
#define AG_AZURE_CONFIG_H

#include "authz/authz_chain.h"
#include "authz/azure/azrbac.h"
#include "base/cfg.h"
#include "graph/graph.h"

#define AG_AZURE_CONFIG_MAX_FILES 256
#define AG_ARM_DEFAULT_POLL_MS 60000
#define AG_ARM_DEFAULT_TIMEOUT_MS 30000

/* "azure.arm": where and how the ARM poller (proxy/authz/armsync.c) reads role assignments,
 * role definitions and deny assignments. */
typedef struct {
    bool enabled;
    ag_str_t base_url;          /* scheme://host[:port], no trailing slash (arena) */
    ag_graph_cfg_t cred;        /* the app's credential fields (core/graph/graph.h; scope
                                   "{base_url}/.default"); cred.timeout_ms is per request */
    long long poll_interval_ms; /* between the end of one poll and the next */
} ag_arm_config_t;

typedef struct {
    ag_chain_mode mode;
    ag_str_t cluster_resource_id;                    /* arena */
    const char **assignments, **definitions, **deny; /* arena paths */
    int nassignments, ndefinitions, ndeny;
    ag_arm_config_t arm;
} ag_azure_config_t;

/* Reads the section at <ref> (path <path> in messages) into <out>. */
ag_err ag_azure_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_azure_config_t *out);
/* Loads the policy the section names: a new snapshot in *out (one reference, owned by
 * the caller); on failure "FILE: ..." in <errmsg>. */
ag_err ag_azure_config_load(const ag_azure_config_t *c, ag_azrbac_t **out, ag_buf_t *errmsg);

#endif
