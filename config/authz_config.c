/* The "authorization" section (authz_config.h): strict reading with core/base/cfg.h. Policy
 * files are only named here; proxy/authz/policy.c loads them. */
#include "authz_config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Both spellings: the azure section and ag_chain_mode_parse use hyphens. */
static const char *const modes[] = {
    "rbac", "azure-then-rbac", "azure-or-rbac", "azure_then_rbac", "azure_or_rbac", NULL};

void ag_authz_config_defaults(ag_authz_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->mode = AG_CHAIN_RBAC_ONLY;
    c->bootstrap = true;
    c->impersonation = AG_IMPERSONATION_AUTHORIZE;
    c->reload_interval_ms = 1000;
    c->cluster = (ag_rbac_cluster_config_t){.page_size = 500,
                                            .watch_timeout_ms = 5 * 60 * 1000,
                                            .coalesce_ms = 50,
                                            .max_event_bytes = 4 << 20,
                                            .max_page_bytes = 256 << 20};
}

/* The <i>th element of the array at <arr> (for its line and column). */
static ag_json_ref nth(ag_cfg_t *cfg, ag_json_ref arr, int i)
{
    ag_json_ref r = ag_json_first(cfg->doc, arr);
    while (i-- > 0 && r != AG_JSON_NONE)
        r = ag_json_next(cfg->doc, r);
    return r != AG_JSON_NONE ? r : arr;
}

/* "policies": file or directory names, resolved against <dir>; each must exist. */
static ag_err parse_policies(ag_cfg_obj_t *o, const char *dir, ag_authz_config_t *c)
{
    ag_str_t *list = NULL;
    ag_json_ref at = AG_JSON_NONE;
    int n = 0;
    ag_err err = ag_cfg_value(o, "policies", AG_CFG_OPTIONAL, &at);
    if (!err)
        err = ag_cfg_str_array(o, "policies", AG_CFG_OPTIONAL, &list, &n);
    if (err || !list)
        return err;
    if (n > AG_AUTHZ_CONFIG_MAX_POLICIES)
        return ag_cfg_fail(o->cfg, at, ag_cfg_path(o, "policies"), "at most %d entries",
                           AG_AUTHZ_CONFIG_MAX_POLICIES);
    const char **paths = ag_arena_calloc(o->cfg->arena, sizeof *paths * (size_t)(n + 1));
    if (!paths)
        return AG_E_NOMEM;
    for (int i = 0; i < n; i++) {
        ag_buf_t b = AG_BUF_INIT(8192);
        if (list[i].n == 0) {
            ag_buf_dispose(&b);
            return ag_cfg_fail(o->cfg, at, ag_cfg_index_path(o->cfg, ag_cfg_path(o, "policies"), i),
                               "must not be empty");
        }
        if (dir && list[i].p[0] != '/')
            err = ag_buf_printf(&b, "%s/", dir);
        if (!err)
            err = ag_buf_append_str(&b, list[i]);
        paths[i] = err ? NULL : ag_arena_cstr(o->cfg->arena, ag_buf_str(&b));
        ag_buf_dispose(&b);
        if (!paths[i])
            return err ? err : AG_E_NOMEM;
        if (access(paths[i], F_OK) != 0 && errno == ENOENT)
            return ag_cfg_fail(o->cfg, nth(o->cfg, at, i),
                               ag_cfg_index_path(o->cfg, ag_cfg_path(o, "policies"), i),
                               "no such file or directory \"%s\"", paths[i]);
    }
    c->policies = paths;
    c->npolicies = n;
    return 0;
}

static ag_err parse_cluster(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                            ag_rbac_cluster_config_t *c)
{
    ag_cfg_obj_t o;
    long long page = c->page_size;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_int(&o, "page_size", AG_CFG_OPTIONAL, 1, 10000, &page)) ||
        (err = ag_cfg_duration_ms(&o, "watch_timeout", AG_CFG_OPTIONAL, 1000, 3600 * 1000,
                                  &c->watch_timeout_ms)) ||
        (err = ag_cfg_duration_ms(&o, "coalesce", AG_CFG_OPTIONAL, 0, 1000, &c->coalesce_ms)) ||
        (err = ag_cfg_duration_ms(&o, "stale_after", AG_CFG_OPTIONAL, 0, 24 * 3600 * 1000,
                                  &c->stale_after_ms)) ||
        (err = ag_cfg_int(&o, "max_event_bytes", AG_CFG_OPTIONAL, 4096, 64 << 20,
                          &c->max_event_bytes)) ||
        (err = ag_cfg_int(&o, "max_page_bytes", AG_CFG_OPTIONAL, 65536, 1ll << 30,
                          &c->max_page_bytes)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    c->page_size = (int)page;
    c->enabled = true;
    return 0;
}

static ag_err parse_rbac(ag_cfg_t *cfg, ag_json_ref ref, const char *path, const char *dir,
                         ag_authz_config_t *c)
{
    ag_cfg_obj_t o;
    ag_json_ref cluster = AG_JSON_NONE;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) || (err = parse_policies(&o, dir, c)) ||
        (err = ag_cfg_bool(&o, "bootstrap", AG_CFG_OPTIONAL, &c->bootstrap)) ||
        (err = ag_cfg_value(&o, "cluster", AG_CFG_OPTIONAL, &cluster)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (cluster != AG_JSON_NONE)
        return parse_cluster(cfg, cluster, ag_cfg_path(&o, "cluster"), &c->cluster);
    return 0;
}

ag_err ag_authz_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_authz_config_t *c)
{
    static const char *const imp[] = {"authorize", "deny", NULL};
    ag_cfg_obj_t o;
    ag_json_ref rbac = AG_JSON_NONE, azure = AG_JSON_NONE, mode_ref = AG_JSON_NONE;
    int mode = -1;
    ag_err err;

    ag_authz_config_defaults(c);
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_value(&o, "mode", AG_CFG_OPTIONAL, &mode_ref)) ||
        (err = ag_cfg_enum(&o, "mode", AG_CFG_OPTIONAL, modes, &mode)) ||
        (err = ag_cfg_value(&o, "rbac", AG_CFG_OPTIONAL, &rbac)) ||
        (err = ag_cfg_value(&o, "azure", AG_CFG_OPTIONAL, &azure)) ||
        (err = ag_cfg_enum(&o, "impersonation", AG_CFG_OPTIONAL, imp, &c->impersonation)) ||
        (err = ag_cfg_duration_ms(&o, "reload_interval", AG_CFG_OPTIONAL, 0, 3600 * 1000,
                                  &c->reload_interval_ms)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (c->reload_interval_ms > 0 && c->reload_interval_ms < 100)
        return ag_cfg_fail(cfg, ref, ag_cfg_path(&o, "reload_interval"),
                           "must be 0 (off) or at least 100ms");
    if (mode >= 0) {
        c->mode_set = true;
        c->mode = (ag_chain_mode)(mode >= 3 ? mode - 2 : mode);
    }
    if (rbac != AG_JSON_NONE &&
        (err = parse_rbac(cfg, rbac, ag_cfg_path(&o, "rbac"), config_dir, c)) != 0)
        return err;
    if (azure != AG_JSON_NONE) {
        if ((err = ag_azure_config_parse(cfg, azure, ag_cfg_path(&o, "azure"), config_dir,
                                         &c->azure)) != 0)
            return err;
        c->azure_enabled = true;
    }
    return 0;
}
