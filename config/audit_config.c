/* The "audit" section (audit_config.h): strict reading with core/base/cfg.h. */
#include "audit_config.h"

#include <string.h>

static const char *const levels[] = {"None", "Metadata", NULL};
static const char *const modes[] = {"batch", "blocking", NULL};

static ag_err parse_rule(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_audit_rule_t *r)
{
    ag_cfg_obj_t o;
    int level = -1;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_enum(&o, "level", AG_CFG_REQUIRED, levels, &level)) ||
        (err = ag_cfg_str_array(&o, "users", AG_CFG_OPTIONAL, &r->users, &r->nusers)) ||
        (err = ag_cfg_str_array(&o, "groups", AG_CFG_OPTIONAL, &r->groups, &r->ngroups)) ||
        (err = ag_cfg_str_array(&o, "verbs", AG_CFG_OPTIONAL, &r->verbs, &r->nverbs)) ||
        (err = ag_cfg_str_array(&o, "resources", AG_CFG_OPTIONAL, &r->resources, &r->nresources)) ||
        (err = ag_cfg_str_array(&o, "namespaces", AG_CFG_OPTIONAL, &r->namespaces,
                                &r->nnamespaces)) ||
        (err = ag_cfg_str_array(&o, "paths", AG_CFG_OPTIONAL, &r->paths, &r->npaths)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    r->level = (ag_audit_level)level;
    return 0;
}

static ag_err parse_rules(ag_cfg_t *cfg, ag_json_ref arr, const char *path, ag_audit_config_t *c)
{
    if (ag_json_typeof(cfg->doc, arr) != AG_JSON_ARRAY)
        return ag_cfg_fail(cfg, arr, path, "must be an array of rules");
    int n = 0;
    for (ag_json_ref e = ag_json_first(cfg->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(cfg->doc, e))
        n++;
    if (n > AG_AUDIT_MAX_RULES)
        return ag_cfg_fail(cfg, arr, path, "at most %d rules", AG_AUDIT_MAX_RULES);
    c->rules = ag_arena_calloc(cfg->arena, sizeof *c->rules * (size_t)(n ? n : 1));
    if (!c->rules)
        return AG_E_NOMEM;
    int i = 0;
    for (ag_json_ref e = ag_json_first(cfg->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(cfg->doc, e), i++) {
        ag_err err = parse_rule(cfg, e, ag_cfg_index_path(cfg, path, i), &c->rules[i]);
        if (err)
            return err;
    }
    c->nrules = n;
    return 0;
}

ag_err ag_audit_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_audit_config_t *c)
{
    ag_cfg_obj_t o;
    ag_json_ref rules = AG_JSON_NONE, lvl = AG_JSON_NONE;
    const char *policy_file = NULL;
    long long backups = 5;
    int level = AG_AUDIT_METADATA, mode = AG_AUDIT_MODE_BATCH;
    const char *file = NULL;
    ag_err err;

    memset(c, 0, sizeof *c);
    c->max_size = 100LL << 20;
    c->queue_bytes = 4LL << 20;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_cstr(&o, "file", AG_CFG_REQUIRED, &file)) ||
        (err = ag_cfg_int(&o, "max_size", AG_CFG_OPTIONAL, 4096, 1LL << 40, &c->max_size)) ||
        (err = ag_cfg_int(&o, "max_backups", AG_CFG_OPTIONAL, 0, 1000, &backups)) ||
        (err = ag_cfg_int(&o, "max_age_days", AG_CFG_OPTIONAL, 0, 36500, &c->max_age_days)) ||
        (err = ag_cfg_int(&o, "queue_bytes", AG_CFG_OPTIONAL, 64 * 1024, 1LL << 30,
                          &c->queue_bytes)) ||
        (err = ag_cfg_enum(&o, "mode", AG_CFG_OPTIONAL, modes, &mode)) ||
        (err = ag_cfg_enum(&o, "level", AG_CFG_OPTIONAL, levels, &level)) ||
        (err = ag_cfg_value(&o, "level", AG_CFG_OPTIONAL, &lvl)) ||
        (err = ag_cfg_value(&o, "rules", AG_CFG_OPTIONAL, &rules)) ||
        (err = ag_cfg_file(&o, "policy_file", AG_CFG_OPTIONAL, &policy_file)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (policy_file && (rules != AG_JSON_NONE || lvl != AG_JSON_NONE))
        return ag_cfg_fail(cfg, rules != AG_JSON_NONE ? rules : lvl, ag_cfg_path(&o, "policy_file"),
                           "either an audit policy file or \"level\" and \"rules\", not both");
    c->max_backups = (int)backups;
    c->level = (ag_audit_level)level;
    c->mode = (ag_audit_mode)mode;
    if (file[0] != '/' && config_dir) {
        ag_buf_t b = AG_BUF_INIT(8192);
        err = ag_buf_printf(&b, "%s/%s", config_dir, file);
        c->file = err ? NULL : ag_arena_cstr(cfg->arena, ag_buf_str(&b));
        ag_buf_dispose(&b);
        if (!c->file)
            return err ? err : AG_E_NOMEM;
    } else {
        c->file = file;
    }
    if (policy_file)
        return ag_audit_policy_load(cfg, policy_file, c);
    if (rules != AG_JSON_NONE)
        return parse_rules(cfg, rules, ag_cfg_path(&o, "rules"), c);
    return 0;
}
