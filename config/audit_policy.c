/* An audit.k8s.io/v1 Policy document as the audit rules (audit_config.h), so a cluster's
 * existing audit policy file can be reused as is: rules with level, users, userGroups,
 * verbs, resources (group, resources, resourceNames), namespaces, nonResourceURLs and
 * omitStages, the top-level omitStages; omitManagedFields and metadata are accepted and
 * mean nothing here (no bodies are recorded). Request and RequestResponse are recorded at
 * Metadata: the gateway never writes request or response bodies. */
#include <stdlib.h>
#include <string.h>

#include "audit_config.h"
#include "base/yaml2json.h"
#include "files.h"

#define POLICY_MAX_BYTES (4u << 20)

static const char *const levels[] = {"None", "Metadata", "Request", "RequestResponse", NULL};

static ag_err parse_stages(ag_cfg_obj_t *o, unsigned *out)
{
    static const char *const names[] = {"RequestReceived", "ResponseStarted", "ResponseComplete",
                                        "Panic"};
    ag_str_t *v = NULL;
    int n = 0;
    ag_err err = ag_cfg_str_array(o, "omitStages", AG_CFG_OPTIONAL, &v, &n);
    for (int i = 0; !err && i < n; i++) {
        int k = 0;
        while (k < 4 && !ag_str_eq_lit(v[i], names[k]))
            k++;
        if (k == 4)
            return ag_cfg_fail(o->cfg, o->obj, ag_cfg_path(o, "omitStages"),
                               "unknown stage \"%.*s\"", AG_STR_FMT(v[i]));
        *out |= 1u << k;
    }
    return err;
}

static ag_err parse_gr(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_audit_gr_t *g)
{
    ag_cfg_obj_t o;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_str(&o, "group", AG_CFG_OPTIONAL, &g->group)) ||
        (err = ag_cfg_str_array(&o, "resources", AG_CFG_OPTIONAL, &g->resources, &g->nresources)) ||
        (err = ag_cfg_str_array(&o, "resourceNames", AG_CFG_OPTIONAL, &g->names, &g->nnames)))
        return err;
    return ag_cfg_obj_end(&o);
}

/* Calls <fn> for each element of the array at <ref> (or fails: not an array). */
static ag_err each(ag_cfg_t *cfg, ag_json_ref arr, const char *path, int max, void *items,
                   size_t size, int *n, ag_err (*fn)(ag_cfg_t *, ag_json_ref, const char *, void *))
{
    if (ag_json_typeof(cfg->doc, arr) != AG_JSON_ARRAY)
        return ag_cfg_fail(cfg, arr, path, "must be an array");
    int i = 0;
    for (ag_json_ref e = ag_json_first(cfg->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(cfg->doc, e), i++) {
        if (i >= max)
            return ag_cfg_fail(cfg, arr, path, "at most %d entries", max);
        ag_err err = fn(cfg, e, ag_cfg_index_path(cfg, path, i), (char *)items + size * (size_t)i);
        if (err)
            return err;
    }
    *n = i;
    return 0;
}

static ag_err gr_fn(ag_cfg_t *cfg, ag_json_ref ref, const char *path, void *item)
{
    return parse_gr(cfg, ref, path, item);
}

static ag_err parse_rule(ag_cfg_t *cfg, ag_json_ref ref, const char *path, void *item)
{
    ag_audit_rule_t *r = item;
    ag_cfg_obj_t o;
    ag_json_ref res = AG_JSON_NONE;
    bool omf;
    int level = -1;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_enum(&o, "level", AG_CFG_REQUIRED, levels, &level)) ||
        (err = ag_cfg_str_array(&o, "users", AG_CFG_OPTIONAL, &r->users, &r->nusers)) ||
        (err = ag_cfg_str_array(&o, "userGroups", AG_CFG_OPTIONAL, &r->groups, &r->ngroups)) ||
        (err = ag_cfg_str_array(&o, "verbs", AG_CFG_OPTIONAL, &r->verbs, &r->nverbs)) ||
        (err = ag_cfg_value(&o, "resources", AG_CFG_OPTIONAL, &res)) ||
        (err = ag_cfg_str_array(&o, "namespaces", AG_CFG_OPTIONAL, &r->namespaces,
                                &r->nnamespaces)) ||
        (err = ag_cfg_str_array(&o, "nonResourceURLs", AG_CFG_OPTIONAL, &r->paths, &r->npaths)) ||
        (err = parse_stages(&o, &r->omit_stages)) ||
        (err = ag_cfg_bool(&o, "omitManagedFields", AG_CFG_OPTIONAL, &omf)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    r->level = level == 0 ? AG_AUDIT_NONE : AG_AUDIT_METADATA;
    if (res == AG_JSON_NONE)
        return 0;
    r->grs = ag_arena_calloc(cfg->arena, sizeof *r->grs * AG_AUDIT_MAX_RULES);
    return r->grs ? each(cfg, res, ag_cfg_path(&o, "resources"), AG_AUDIT_MAX_RULES, r->grs,
                         sizeof *r->grs, &r->ngrs, gr_fn)
                  : AG_E_NOMEM;
}

/* The Policy object: the JSON root, or the only document of a YAML stream (an array). */
static ag_err policy_root(ag_cfg_t *cfg, bool yaml, ag_json_ref *out)
{
    ag_json_ref root = ag_json_root(cfg->doc);
    if (!yaml) {
        *out = root;
        return 0;
    }
    *out = ag_json_first(cfg->doc, root);
    if (*out == AG_JSON_NONE || ag_json_next(cfg->doc, *out) != AG_JSON_NONE)
        return ag_cfg_fail(cfg, root, "", "one Policy document expected");
    return 0;
}

static ag_err parse_policy(ag_cfg_t *cfg, bool yaml, ag_audit_config_t *c)
{
    ag_cfg_obj_t o;
    ag_str_t api = AG_STR_NULL, kind = AG_STR_NULL;
    ag_json_ref rules = AG_JSON_NONE, meta;
    bool omf;
    ag_json_ref root;
    ag_err err;
    if ((err = policy_root(cfg, yaml, &root)) || (err = ag_cfg_obj_begin(cfg, root, "", &o)) ||
        (err = ag_cfg_str(&o, "apiVersion", AG_CFG_REQUIRED, &api)) ||
        (err = ag_cfg_str(&o, "kind", AG_CFG_REQUIRED, &kind)) ||
        (err = ag_cfg_value(&o, "metadata", AG_CFG_OPTIONAL, &meta)) ||
        (err = ag_cfg_value(&o, "rules", AG_CFG_REQUIRED, &rules)) ||
        (err = parse_stages(&o, &c->omit_stages)) ||
        (err = ag_cfg_bool(&o, "omitManagedFields", AG_CFG_OPTIONAL, &omf)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    if (!ag_str_eq_lit(kind, "Policy") ||
        (!ag_str_eq_lit(api, "audit.k8s.io/v1") && !ag_str_eq_lit(api, "audit.k8s.io/v1beta1")))
        return ag_cfg_fail(cfg, root, "",
                           "not an audit.k8s.io/v1 Policy (apiVersion \"%.*s\", kind \"%.*s\")",
                           AG_STR_FMT(api), AG_STR_FMT(kind));
    c->rules = ag_arena_calloc(cfg->arena, sizeof *c->rules * AG_AUDIT_MAX_RULES);
    if (!c->rules)
        return AG_E_NOMEM;
    c->policy = true;
    return each(cfg, rules, "rules", AG_AUDIT_MAX_RULES, c->rules, sizeof *c->rules, &c->nrules,
                parse_rule);
}

/* The document in <text> as cfg->doc: JSON, or the single YAML document (yaml2json.h;
 * the doc borrows <y>, which the caller disposes after reading it). */
static ag_err load_doc(ag_cfg_t *pc, const char *file, ag_str_t text, ag_arena_t *arena,
                       ag_yaml_json_t *y)
{
    if (!ag_yaml_is_yaml_name(file))
        return ag_cfg_init(pc, file, text, arena);
    *pc = (ag_cfg_t){.file = file, .arena = arena, .err = AG_BUF_INIT(4096)};
    ag_json_t *doc = ag_arena_calloc(arena, sizeof *doc);
    ag_json_error_t e = {0};
    if (!doc)
        return AG_E_NOMEM;
    ag_err err = ag_yaml_to_json(text, POLICY_MAX_BYTES * 2ull, y, &e);
    if (!err)
        err = ag_yaml_json_parse(y, doc, NULL, arena, &e);
    pc->doc = doc;
    if (err && err != AG_E_NOMEM)
        ag_buf_printf(&pc->err, "%s:%d:%d: %s", file, e.line, e.col,
                      e.msg ? e.msg : "invalid YAML (one Policy document expected)");
    return err == AG_E_NOMEM ? err : err ? AG_E_CONFIG : 0;
}

ag_err ag_audit_policy_load(ag_cfg_t *cfg, const char *file, ag_audit_config_t *c)
{
    ag_buf_t text = AG_BUF_INIT(POLICY_MAX_BYTES);
    ag_cfg_t pc;
    ag_yaml_json_t y = {0};
    ag_err err = ag_buf_read_file(&text, file);
    if (err) {
        ag_buf_dispose(&text);
        return ag_cfg_fail(cfg, AG_JSON_NONE, "audit.policy_file", "cannot read %s: %s", file,
                           ag_err_str(err));
    }
    err = load_doc(&pc, file, ag_buf_str(&text), cfg->arena, &y);
    if (!err)
        err = parse_policy(&pc, ag_yaml_is_yaml_name(file), c);
    if (err && pc.err.n && !cfg->err.n)
        ag_buf_append(&cfg->err, pc.err.p, pc.err.n);
    ag_cfg_dispose(&pc);
    if (ag_yaml_is_yaml_name(file))
        ag_yaml_json_dispose(&y);
    ag_buf_dispose(&text);
    return err && err != AG_E_NOMEM ? AG_E_CONFIG : err;
}
