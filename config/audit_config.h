/* The "audit" configuration section: where audit events go and which requests are
 * recorded at which level, as a small ordered rule list in the spirit of the API
 * server's audit policy (the first matching rule decides; no rule matched: "level").
 * Part of the config snapshot (lifetime: snapshot; strings in the config arena). Never
 * opens a file: proxy/authz/audit.c does.
 *
 *   "audit": {
 *     "file": "audit.log",           (required; relative to the config file)
 *     "max_size": 104857600,         (bytes before rotation to FILE.1; >= 4096)
 *     "max_backups": 5,              (FILE.1 .. FILE.N kept; 0 = truncate in place)
 *     "max_age_days": 0,             (backups last written longer ago are removed, as
 *                                     --audit-log-maxage; 0 = no age limit)
 *     "queue_bytes": 4194304,        (events waiting for the writer, split between the
 *                                     workers' rings; beyond: see "mode")
 *     "mode": "batch",               (a full ring: "batch" drops the event, counted in
 *                                     authgate_audit_dropped_total; "blocking" makes the
 *                                     worker wait for the writer, counted in
 *                                     authgate_audit_blocked_total)
 *     "level": "Metadata",           (None | Metadata: the default)
 *     "policy_file": "audit-policy.yaml", (instead of level and rules: an audit.k8s.io/v1
 *                                     Policy document, JSON or YAML; audit_policy.c)
 *     "rules": [{"level": "None", "users": ["system:kube-proxy"], "groups": [],
 *                "verbs": ["watch"], "resources": ["events", "pods/log"],
 *                "namespaces": ["kube-system"], "paths": ["/healthz*"]}]
 *   }
 * A rule matches when every list it has matches (an absent or empty list matches all);
 * resources match "res", "res/sub", "res/ANY" (a "*" after the slash) or "*"; paths match exactly
 * or by a trailing "*" prefix (non-resource requests only). */
#ifndef AG_AUDIT_CONFIG_H
#define AG_AUDIT_CONFIG_H

#include <stdbool.h>

#include "base/cfg.h"
#include "base/str.h"

#define AG_AUDIT_MAX_RULES 64

typedef enum { AG_AUDIT_NONE = 0, AG_AUDIT_METADATA = 1 } ag_audit_level;
typedef enum { AG_AUDIT_MODE_BATCH = 0, AG_AUDIT_MODE_BLOCKING = 1 } ag_audit_mode;

/* Stages the gateway writes (bits of omit_stages); RequestReceived and Panic are
 * accepted in a Policy and never written. */
enum {
    AG_AUDIT_STAGE_REQUEST_RECEIVED = 1,
    AG_AUDIT_STAGE_RESPONSE_STARTED = 2,
    AG_AUDIT_STAGE_RESPONSE_COMPLETE = 4,
    AG_AUDIT_STAGE_PANIC = 8
};

/* audit.k8s.io/v1 GroupResources: an API group, resources ("pods", "pods/log", "*",
 * "pods/ *", "* /log" without the spaces), resourceNames. */
typedef struct {
    ag_str_t group;
    ag_str_t *resources, *names;
    int nresources, nnames;
} ag_audit_gr_t;

typedef struct {
    ag_audit_level level;
    ag_str_t *users, *groups, *verbs, *resources, *namespaces, *paths; /* arena */
    int nusers, ngroups, nverbs, nresources, nnamespaces, npaths;
    ag_audit_gr_t *grs; /* Policy rules: resources as GroupResources */
    int ngrs;
    unsigned omit_stages; /* Policy rules: AG_AUDIT_STAGE_* bits */
} ag_audit_rule_t;

typedef struct {
    const char *file; /* arena */
    long long max_size;
    int max_backups;
    long long max_age_days;
    long long queue_bytes;
    ag_audit_mode mode;
    ag_audit_level level;   /* when no rule matches */
    ag_audit_rule_t *rules; /* arena */
    int nrules;
    bool policy;          /* rules from an audit.k8s.io/v1 Policy (policy_file): its
                             matching; no rule matched: None */
    unsigned omit_stages; /* the Policy's top-level omitStages */
} ag_audit_config_t;

/* Reads the audit.k8s.io/v1 Policy document in <file> (JSON, or YAML by its name) into
 * c->rules (audit_policy.c); errors name FILE:LINE:COL in that file. */
ag_err ag_audit_policy_load(ag_cfg_t *cfg, const char *file, ag_audit_config_t *c);

/* Reads the section at <ref>; a relative "file" resolves against <config_dir>. */
ag_err ag_audit_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_audit_config_t *out);

#endif
