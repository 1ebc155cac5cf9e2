/* The "azure" section (azure_config.h): strict reading with core/base/cfg.h; the policy itself
 * is read by files.c and loaded by core/authz/azure/azrbac_load.c. */
#include "azure_config.h"

#include <string.h>

#include "authz/azure/azrbac_arm.h"
#include "authz/azure/azrbac_perm.h"
#include "files.h"

static const char *const modes[] = {"rbac", "azure-then-rbac", "azure-or-rbac", NULL};

/* <key>: array of file names -> arena C strings resolved against <dir>. */
static ag_err paths(ag_cfg_obj_t *o, const char *key, int required, const char *dir,
                    const char ***out, int *n)
{
    ag_str_t *list = NULL;
    ag_json_ref at = AG_JSON_NONE;
    ag_err err = ag_cfg_value(o, key, required, &at);
    if (!err)
        err = ag_cfg_str_array(o, key, required, &list, n);
    if (err || !list)
        return err;
    if (*n > AG_AZURE_CONFIG_MAX_FILES || (required && *n == 0))
        return ag_cfg_fail(o->cfg, at, ag_cfg_path(o, key), "give between 1 and %d files",
                           AG_AZURE_CONFIG_MAX_FILES);
    const char **files = ag_arena_calloc(o->cfg->arena, sizeof *files * (size_t)(*n + 1));
    if (!files)
        return AG_E_NOMEM;
    for (int i = 0; i < *n; i++) {
        ag_buf_t b = AG_BUF_INIT(8192);
        if (dir && list[i].n && list[i].p[0] != '/')
            err = ag_buf_printf(&b, "%s/", dir);
        if (!err)
            err = ag_buf_append_str(&b, list[i]);
        files[i] = err ? NULL : ag_arena_cstr(o->cfg->arena, ag_buf_str(&b));
        ag_buf_dispose(&b);
        if (!files[i])
            return err ? err : AG_E_NOMEM;
    }
    *out = files;
    return 0;
}

/* "arm": the ARM poller's endpoint, credentials and interval. */
static ag_err parse_arm(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_arm_config_t *a)
{
    ag_cfg_obj_t o;
    ag_entra_keys_t k;
    ag_err err;
    ag_graph_cfg_defaults(&a->cred);
    a->cred.timeout_ms = AG_ARM_DEFAULT_TIMEOUT_MS;
    a->base_url = a->cred.base_url = AG_STR(AG_ARM_DEFAULT_BASE);
    a->poll_interval_ms = AG_ARM_DEFAULT_POLL_MS;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_str(&o, "base_url", AG_CFG_OPTIONAL, &a->cred.base_url)) ||
        (err = ag_cfg_duration_ms(&o, "poll_interval", AG_CFG_OPTIONAL, 200, 86400000LL,
                                  &a->poll_interval_ms)) ||
        (err = ag_entra_cred_read(&o, &a->cred, &k)) || (err = ag_cfg_obj_end(&o)))
        return err;
    if ((err = ag_graph_check_base_url(cfg, &o, &a->cred.base_url)) != 0 ||
        (err = ag_entra_cred_finish(cfg, &o, &a->cred, &k)) != 0)
        return err;
    a->base_url = a->cred.base_url;
    a->enabled = true;
    return 0;
}

ag_err ag_azure_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_azure_config_t *c)
{
    ag_cfg_obj_t o;
    int mode = AG_CHAIN_AZURE_THEN_RBAC;
    ag_json_ref at = AG_JSON_NONE, arm = AG_JSON_NONE;
    ag_str_t scope;
    ag_arena_t tmp;
    ag_err err;
    memset(c, 0, sizeof *c);
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_enum(&o, "mode", AG_CFG_OPTIONAL, modes, &mode)) ||
        (err = ag_cfg_value(&o, "cluster_resource_id", AG_CFG_REQUIRED, &at)) ||
        (err = ag_cfg_str(&o, "cluster_resource_id", AG_CFG_REQUIRED, &c->cluster_resource_id)) ||
        (err = ag_cfg_value(&o, "arm", AG_CFG_OPTIONAL, &arm)) ||
        (arm != AG_JSON_NONE &&
         (err = parse_arm(cfg, arm, ag_cfg_path(&o, "arm"), &c->arm)) != 0) ||
        (err = paths(&o, "role_assignments", c->arm.enabled ? AG_CFG_OPTIONAL : AG_CFG_REQUIRED,
                     config_dir, &c->assignments, &c->nassignments)) ||
        (err = paths(&o, "role_definitions", AG_CFG_OPTIONAL, config_dir, &c->definitions,
                     &c->ndefinitions)) ||
        (err = paths(&o, "deny_assignments", AG_CFG_OPTIONAL, config_dir, &c->deny, &c->ndeny)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    c->mode = (ag_chain_mode)mode;
    ag_arena_init(&tmp, 0, 0);
    err = ag_azscope_normalize(c->cluster_resource_id, &tmp, &scope);
    ag_arena_dispose(&tmp);
    if (err)
        return ag_cfg_fail(cfg, at, ag_cfg_path(&o, "cluster_resource_id"),
                           "must be a resource id such as /subscriptions/S/resourceGroups/RG/"
                           "providers/Microsoft.ContainerService/managedClusters/NAME");
    return 0;
}

ag_err ag_azure_config_load(const ag_azure_config_t *c, ag_azrbac_t **out, ag_buf_t *errmsg)
{
    ag_azrbac_opts_t opts = {c->cluster_resource_id};
    return ag_azrbac_load(c->definitions, c->ndefinitions, c->assignments, c->nassignments, c->deny,
                          c->ndeny, &opts, out, errmsg);
}
