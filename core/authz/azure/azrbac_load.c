/* Loading an Azure RBAC snapshot (azrbac.h: ag_azrbac_load_*): reads role definitions,
 * role assignments and deny assignments in the shapes `az` and the ARM REST API print,
 * compiles every permission list (azrbac_perm.h), keeps only what can apply to the configured
 * cluster, and indexes assignments by principal. Runs at start-up and on reload, never on
 * the request path. Unknown keys are ignored (az output grows fields between versions);
 * a known key with the wrong type stops the load with "SOURCE: [i].key: message". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/azure/azrbac_int.h"
#include "base/json.h"
#include "base/yaml2json.h"

/* cmake/embed_file.cmake: config/azure-builtin-roles.json compiled in. */
extern const char ag_azure_builtin_roles_json[];
extern const unsigned long ag_azure_builtin_roles_json_len;

#define AZ_ALL_PRINCIPALS "00000000-0000-0000-0000-000000000000"

typedef struct {
    ag_azrbac_t *p;
    ag_arena_t tmp; /* JSON tokens and unescaped strings of the current source */
    ag_json_t doc;
    const char *src;
    bool listed; /* the current source is an ARM list for the cluster's scope */
    ag_buf_t *errmsg;
} az_ld_t;

typedef ag_azrbac_src_t az_src_t;

typedef ag_err (*az_item_fn)(az_ld_t *ld, ag_json_ref item, int idx);

static ag_err fail(az_ld_t *ld, ag_err err, int idx, const char *key, const char *msg)
{
    if (ld->errmsg && ld->errmsg->n == 0) {
        if (idx >= 0)
            ag_buf_printf(ld->errmsg, "%s: [%d]%s%s: %s", ld->src, idx, key ? "." : "",
                          key ? key : "", msg);
        else
            ag_buf_printf(ld->errmsg, "%s: %s", ld->src, msg);
    }
    return err;
}

static ag_err grow(void **arr, int *cap, int n, size_t elsz)
{
    if (n < *cap)
        return 0;
    if (*cap > (1 << 24))
        return AG_E_TOO_BIG;
    int ncap = *cap ? *cap * 2 : 16;
    void *np = realloc(*arr, elsz * (size_t)ncap);
    if (!np)
        return AG_E_NOMEM;
    *arr = np;
    *cap = ncap;
    return 0;
}

static ag_str_t keep(az_ld_t *ld, ag_str_t s)
{
    return ag_arena_strdup(&ld->p->arena, s);
}

static ag_str_t keep_lower(az_ld_t *ld, ag_str_t s)
{
    ag_str_t c = keep(ld, s);
    for (size_t i = 0; c.p && i < c.n; i++)
        ((char *)c.p)[i] = ag_ascii_lower(c.p[i]);
    return c;
}

/* Member <key> of <obj> as a string (borrowed from the source or the tmp arena): absent
 * or null leaves *out empty. */
static ag_err member_str(az_ld_t *ld, ag_json_ref obj, const char *key, int idx, ag_str_t *out)
{
    *out = AG_STR_NULL;
    ag_json_ref v = ag_json_get(&ld->doc, obj, key);
    ag_json_type t = ag_json_typeof(&ld->doc, v);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_STRING)
        return fail(ld, AG_E_PARSE, idx, key, "expected a string");
    if (ag_json_str(&ld->doc, v, &ld->tmp, out) != 0)
        return fail(ld, AG_E_NOMEM, idx, key, "out of memory");
    return 0;
}

static ag_err member_bool(az_ld_t *ld, ag_json_ref obj, const char *key, int idx, bool *out)
{
    *out = false;
    ag_json_ref v = ag_json_get(&ld->doc, obj, key);
    ag_json_type t = ag_json_typeof(&ld->doc, v);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_BOOL)
        return fail(ld, AG_E_PARSE, idx, key, "expected true or false");
    return ag_json_bool(&ld->doc, v, out);
}

/* Member <key> as an array of strings (tmp arena); absent or null is empty. */
static ag_err member_list(az_ld_t *ld, ag_json_ref obj, const char *key, int idx, ag_str_t **out,
                          int *n)
{
    *out = NULL;
    *n = 0;
    ag_json_ref arr = ag_json_get(&ld->doc, obj, key);
    ag_json_type t = ag_json_typeof(&ld->doc, arr);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_ARRAY)
        return fail(ld, AG_E_PARSE, idx, key, "expected an array of strings");
    int count = ag_json_count(&ld->doc, arr);
    if (count == 0)
        return 0;
    ag_str_t *list = ag_arena_alloc(&ld->tmp, sizeof *list * (size_t)count);
    if (!list)
        return fail(ld, AG_E_NOMEM, idx, key, "out of memory");
    for (ag_json_ref e = ag_json_first(&ld->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(&ld->doc, e)) {
        if (ag_json_typeof(&ld->doc, e) != AG_JSON_STRING ||
            ag_json_str(&ld->doc, e, &ld->tmp, &list[*n]) != 0)
            return fail(ld, AG_E_PARSE, idx, key, "expected an array of strings");
        if (list[*n].n == 0)
            return fail(ld, AG_E_PARSE, idx, key, "empty permission string");
        (*n)++;
    }
    *out = list;
    return 0;
}

static ag_err compile_list(az_ld_t *ld, ag_json_ref obj, const char *key, int idx,
                           ag_azperm_set_t *set)
{
    ag_str_t *list;
    int n;
    ag_err err = member_list(ld, obj, key, idx, &list, &n);
    if (!err && (err = ag_azperm_set_compile(set, list, n, &ld->p->arena)) != 0)
        return fail(ld, err, idx, key, "cannot compile permission strings");
    return err;
}

/* "permissions": [{actions, notActions, dataActions, notDataActions}, ...] of a role
 * definition or deny assignment. */
static ag_err parse_blocks(az_ld_t *ld, ag_json_ref obj, int idx, az_block_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    ag_json_ref perms = ag_json_get(&ld->doc, obj, "permissions");
    ag_json_type t = ag_json_typeof(&ld->doc, perms);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_ARRAY)
        return fail(ld, AG_E_PARSE, idx, "permissions", "expected an array");
    int count = ag_json_count(&ld->doc, perms);
    az_block_t *blocks = ag_arena_calloc(&ld->p->arena, sizeof *blocks * (size_t)(count + 1));
    if (!blocks)
        return fail(ld, AG_E_NOMEM, idx, "permissions", "out of memory");
    ag_err err = 0;
    for (ag_json_ref b = ag_json_first(&ld->doc, perms); b != AG_JSON_NONE && !err;
         b = ag_json_next(&ld->doc, b)) {
        if (ag_json_typeof(&ld->doc, b) != AG_JSON_OBJECT)
            return fail(ld, AG_E_PARSE, idx, "permissions", "expected objects");
        az_block_t *blk = &blocks[(*n)++];
        if ((err = compile_list(ld, b, "actions", idx, &blk->actions)) ||
            (err = compile_list(ld, b, "notActions", idx, &blk->not_actions)) ||
            (err = compile_list(ld, b, "dataActions", idx, &blk->data_actions)))
            break;
        err = compile_list(ld, b, "notDataActions", idx, &blk->not_data_actions);
    }
    *out = blocks;
    return err;
}

static ag_str_t last_segment(ag_str_t s)
{
    const char *slash = s.n ? memrchr(s.p, '/', s.n) : NULL;
    return slash ? ag_str_make(slash + 1, s.n - (size_t)(slash + 1 - s.p)) : s;
}

/* The scope part of an extension-resource id "<scope>/providers/<kind>/<guid>". */
static ag_str_t scope_from_id(ag_str_t id, const char *kind)
{
    char marker[96];
    int m = snprintf(marker, sizeof marker, "/providers/%s/", kind);
    for (size_t i = 0; m > 0 && i + (size_t)m <= id.n; i++)
        if (ag_str_ieq(ag_str_make(id.p + i, (size_t)m), ag_str_make(marker, (size_t)m)))
            return ag_str_make(id.p, i ? i : 1); /* "/providers/..." alone: root scope */
    return AG_STR_NULL;
}

/* "properties" when the item is in ARM REST shape, else the item itself (az shape). */
static ag_json_ref props_of(az_ld_t *ld, ag_json_ref item)
{
    ag_json_ref pr = ag_json_get(&ld->doc, item, "properties");
    return ag_json_typeof(&ld->doc, pr) == AG_JSON_OBJECT ? pr : item;
}

static int find_role(const ag_azrbac_t *p, ag_str_t guid_lc)
{
    for (int i = 0; i < p->nroles; i++)
        if (ag_str_eq(p->roles[i].guid, guid_lc))
            return i;
    return -1;
}

static ag_err load_definition(az_ld_t *ld, ag_json_ref item, int idx)
{
    ag_json_ref props = props_of(ld, item);
    ag_str_t guid, id, name;
    az_role_t role = {0};
    ag_err err;
    if ((err = member_str(ld, item, "name", idx, &guid)) ||
        (err = member_str(ld, item, "id", idx, &id)) ||
        (err = member_str(ld, props, "roleName", idx, &name)))
        return err;
    if (!ag_az_is_guid(guid))
        guid = last_segment(id); /* definitions match by the GUID at the end of the id */
    if (!ag_az_is_guid(guid))
        return fail(ld, AG_E_PARSE, idx, "name", "role definition has no GUID name or id");
    role.guid = keep_lower(ld, guid);
    role.name = keep(ld, name.n ? name : guid);
    if (!role.guid.p || !role.name.p)
        return fail(ld, AG_E_NOMEM, idx, NULL, "out of memory");
    if ((err = parse_blocks(ld, props, idx, &role.blocks, &role.nblocks)) != 0)
        return err;
    ag_azrbac_t *p = ld->p;
    int at = find_role(p, role.guid);
    if (at < 0) {
        if ((err = grow((void **)&p->roles, &p->cap_roles, p->nroles, sizeof *p->roles)))
            return fail(ld, err, idx, NULL, "too many role definitions");
        at = p->nroles++;
    }
    p->roles[at] = role; /* a supplied definition replaces the built-in with its GUID */
    return 0;
}

/* A management group scope: an ancestor of the cluster's subscription that the id alone
 * does not show (§4), trusted as one only when ARM listed it for the cluster's scope. */
static bool mg_scope(ag_str_t s)
{
    static const ag_str_t mg = {"/providers/microsoft.management/managementgroups/", 49};
    return ag_str_starts_with(s, mg) && s.n > mg.n &&
           ag_str_find_char(ag_str_sub(s, mg.n, s.n), '/') == s.n - mg.n;
}

/* Where an assignment at <s> applies relative to the cluster, or -1 when it never does. */
static int classify_scope(ag_str_t cluster_lc, ag_str_t s, bool listed, ag_str_t *ns)
{
    static const ag_str_t nsseg = {"/namespaces/", 12};
    if (ag_azscope_covers(s, cluster_lc) || (listed && mg_scope(s)))
        return AZ_AT_ABOVE;
    if (!ag_azscope_covers(cluster_lc, s))
        return -1;
    ag_str_t rest = ag_str_sub(s, cluster_lc.n, s.n);
    if (!ag_str_starts_with(rest, nsseg))
        return -1;
    *ns = ag_str_sub(rest, nsseg.n, rest.n);
    return ns->n > 0 && ag_str_find_char(*ns, '/') == ns->n ? AZ_AT_NAMESPACE : -1;
}

static ag_err load_assignment(az_ld_t *ld, ag_json_ref item, int idx)
{
    ag_json_ref props = props_of(ld, item);
    ag_str_t principal, roledef, scope, id, name, cond, scope_lc, ns = AG_STR_NULL;
    ag_err err;
    if ((err = member_str(ld, props, "principalId", idx, &principal)) ||
        (err = member_str(ld, props, "roleDefinitionId", idx, &roledef)) ||
        (err = member_str(ld, props, "scope", idx, &scope)) ||
        (err = member_str(ld, item, "id", idx, &id)) ||
        (err = member_str(ld, item, "name", idx, &name)) ||
        (err = member_str(ld, props, "condition", idx, &cond)))
        return err;
    ag_az_guid_t pid;
    if (!ag_az_guid_parse(principal, &pid))
        return fail(ld, AG_E_PARSE, idx, "principalId", "expected an object id (GUID)");
    ag_str_t role_guid = last_segment(roledef);
    if (!ag_az_is_guid(role_guid))
        return fail(ld, AG_E_PARSE, idx, "roleDefinitionId", "expected a role definition id");
    if (scope.n == 0)
        scope = scope_from_id(id, "Microsoft.Authorization/roleAssignments");
    if (ag_azscope_normalize(scope, &ld->p->arena, &scope_lc) != 0)
        return fail(ld, AG_E_PARSE, idx, "scope", "expected a scope such as /subscriptions/ID");
    ag_azrbac_t *p = ld->p;
    int kind = classify_scope(p->cluster_lc, scope_lc, ld->listed, &ns);
    if (kind < 0) {
        p->stats.assignments_ignored++;
        return 0;
    }
    if ((err = grow((void **)&p->asg, &p->cap_asg, p->nasg, sizeof *p->asg)))
        return fail(ld, err, idx, NULL, "too many role assignments");
    az_asg_t *a = &p->asg[p->nasg];
    char guid_lc[36];
    for (size_t i = 0; i < 36; i++)
        guid_lc[i] = ag_ascii_lower(role_guid.p[i]);
    *a = (az_asg_t){.pid = pid,
                    .id = keep(ld, id.n     ? id
                                   : name.n ? name
                                            : AG_STR("(no id)")),
                    .scope = keep(ld, scope),
                    .scope_lc = scope_lc,
                    .ns = ns,
                    .kind = kind,
                    .role = find_role(p, ag_str_make(guid_lc, 36)),
                    .conditional = cond.n > 0,
                    .listed_above = ld->listed && mg_scope(scope_lc)};
    if (!a->id.p || !a->scope.p)
        return fail(ld, AG_E_NOMEM, idx, NULL, "out of memory");
    p->nasg++;
    p->stats.assignments_conditional += a->conditional;
    p->stats.assignments_unknown_role += a->role < 0;
    return 0;
}

/* principals / excludePrincipals: [{"id": GUID, "type": ...}] -> lower-case ids. */
static ag_err load_principals(az_ld_t *ld, ag_json_ref obj, const char *key, int idx,
                              const ag_str_t **out, int *n, bool *all)
{
    *out = NULL;
    *n = 0;
    ag_json_ref arr = ag_json_get(&ld->doc, obj, key);
    ag_json_type t = ag_json_typeof(&ld->doc, arr);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_ARRAY)
        return fail(ld, AG_E_PARSE, idx, key, "expected an array of {id, type}");
    int count = ag_json_count(&ld->doc, arr);
    ag_str_t *ids = ag_arena_alloc(&ld->p->arena, sizeof *ids * (size_t)(count + 1));
    if (!ids)
        return fail(ld, AG_E_NOMEM, idx, key, "out of memory");
    for (ag_json_ref e = ag_json_first(&ld->doc, arr); e != AG_JSON_NONE;
         e = ag_json_next(&ld->doc, e)) {
        ag_str_t id;
        ag_err err = ag_json_typeof(&ld->doc, e) == AG_JSON_OBJECT
                         ? member_str(ld, e, "id", idx, &id)
                         : fail(ld, AG_E_PARSE, idx, key, "expected an array of {id, type}");
        if (err)
            return err;
        if (!ag_az_is_guid(id))
            return fail(ld, AG_E_PARSE, idx, key, "principal id is not a GUID");
        if (all && ag_str_eq_lit(id, AZ_ALL_PRINCIPALS))
            *all = true;
        if (!(ids[*n] = keep_lower(ld, id)).p)
            return fail(ld, AG_E_NOMEM, idx, key, "out of memory");
        (*n)++;
    }
    *out = ids;
    return 0;
}

/* A deny assignment's condition is not evaluated: it then denies unconditionally, the
 * fail-closed reading. */
static ag_err load_deny(az_ld_t *ld, ag_json_ref item, int idx)
{
    ag_json_ref props = props_of(ld, item);
    ag_str_t id, name, scope, scope_lc;
    az_deny_t d = {0};
    ag_err err;
    if ((err = member_str(ld, item, "id", idx, &id)) ||
        (err = member_str(ld, props, "denyAssignmentName", idx, &name)) ||
        (!name.n && (err = member_str(ld, item, "name", idx, &name))) ||
        (err = member_str(ld, props, "scope", idx, &scope)) ||
        (err = member_bool(ld, props, "doNotApplyToChildScopes", idx, &d.exact_scope_only)))
        return err;
    if (scope.n == 0)
        scope = scope_from_id(id, "Microsoft.Authorization/denyAssignments");
    if (ag_azscope_normalize(scope, &ld->p->arena, &scope_lc) != 0)
        return fail(ld, AG_E_PARSE, idx, "scope", "expected a scope such as /subscriptions/ID");
    ag_azrbac_t *p = ld->p;
    d.listed_above = ld->listed && mg_scope(scope_lc);
    if (!ag_azscope_covers(scope_lc, p->cluster_lc) &&
        !ag_azscope_covers(p->cluster_lc, scope_lc) && !d.listed_above)
        return 0; /* elsewhere: never applies to this cluster */
    if ((err = parse_blocks(ld, props, idx, &d.blocks, &d.nblocks)) ||
        (err = load_principals(ld, props, "principals", idx, &d.principals, &d.nprincipals,
                               &d.all_principals)) ||
        (err =
             load_principals(ld, props, "excludePrincipals", idx, &d.excluded, &d.nexcluded, NULL)))
        return err;
    d.id = keep(ld, id.n ? id : name.n ? name : AG_STR("(no id)"));
    d.name = keep(ld, name.n ? name : d.id);
    d.scope = keep(ld, scope);
    d.scope_lc = scope_lc;
    if (!d.id.p || !d.name.p || !d.scope.p)
        return fail(ld, AG_E_NOMEM, idx, NULL, "out of memory");
    if ((err = grow((void **)&p->deny, &p->cap_deny, p->ndeny, sizeof *p->deny)))
        return fail(ld, err, idx, NULL, "too many deny assignments");
    p->deny[p->ndeny++] = d;
    return 0;
}

/* Calls <fn> per item of one document <root>: a JSON array, a REST list {"value": [...]},
 * or a single object. <idx> counts items across the documents of a source. */
static ag_err load_items(az_ld_t *ld, ag_json_ref root, az_item_fn fn, int *idx)
{
    ag_err err;
    ag_json_ref list = ag_json_get(&ld->doc, root, "value");
    if (ag_json_typeof(&ld->doc, list) == AG_JSON_ARRAY)
        root = list;
    if (ag_json_typeof(&ld->doc, root) == AG_JSON_OBJECT)
        return fn(ld, root, (*idx)++);
    if (ag_json_typeof(&ld->doc, root) != AG_JSON_ARRAY)
        return fail(ld, AG_E_PARSE, -1, NULL, "expected a JSON array of objects");
    for (ag_json_ref e = ag_json_first(&ld->doc, root); e != AG_JSON_NONE;
         e = ag_json_next(&ld->doc, e), (*idx)++) {
        if (ag_json_typeof(&ld->doc, e) != AG_JSON_OBJECT)
            return fail(ld, AG_E_PARSE, *idx, NULL, "expected an object");
        if ((err = fn(ld, e, *idx)) != 0)
            return err;
    }
    return 0;
}

/* Parses one source (JSON, or a YAML stream when its name says so: yaml2json.h) and calls
 * <fn> per item. */
static ag_err load_source(az_ld_t *ld, const az_src_t *src, az_item_fn fn)
{
    ag_json_error_t je = {0};
    ag_yaml_json_t y = {0};
    bool yaml = ag_yaml_is_yaml_name(src->name);
    int idx = 0;
    ag_err err;
    ld->src = src->name;
    ld->listed = src->listed;
    ag_arena_reset(&ld->tmp);
    if (yaml && (err = ag_yaml_to_json(src->text, AG_AZRBAC_MAX_FILE_BYTES * 2ull, &y, &je)) == 0)
        err = ag_yaml_json_parse(&y, &ld->doc, NULL, &ld->tmp, &je);
    else if (!yaml)
        err = ag_json_parse(&ld->doc, src->text, NULL, &ld->tmp, &je);
    if (err) {
        if (ld->errmsg && ld->errmsg->n == 0)
            ag_buf_printf(ld->errmsg, "%s:%d:%d: %s", ld->src, je.line, je.col,
                          je.msg ? je.msg : ag_err_str(err));
        goto out;
    }
    if (!yaml) {
        err = load_items(ld, ag_json_root(&ld->doc), fn, &idx);
        goto out;
    }
    for (ag_json_ref d = ag_json_first(&ld->doc, ag_json_root(&ld->doc)); d != AG_JSON_NONE && !err;
         d = ag_json_next(&ld->doc, d))
        err = load_items(ld, d, fn, &idx);
out:
    ag_yaml_json_dispose(&y);
    return err;
}

static int cmp_asg(const void *x, const void *y)
{
    const az_asg_t *a = x, *b = y;
    if (a->pid.hi != b->pid.hi)
        return a->pid.hi < b->pid.hi ? -1 : 1;
    if (a->pid.lo != b->pid.lo)
        return a->pid.lo < b->pid.lo ? -1 : 1;
    size_t n = a->id.n < b->id.n ? a->id.n : b->id.n;
    int c = memcmp(a->id.p, b->id.p, n); /* deterministic: the same export names the same grant */
    return c ? c : (int)(a->id.n > b->id.n) - (int)(a->id.n < b->id.n);
}

ag_err az_index_principals(ag_azrbac_t *p)
{
    if (p->nasg > 1)
        qsort(p->asg, (size_t)p->nasg, sizeof *p->asg, cmp_asg);
    int distinct = 0;
    for (int i = 0; i < p->nasg; i++)
        distinct += i == 0 || !ag_az_guid_eq(p->asg[i].pid, p->asg[i - 1].pid);
    unsigned size = 4;
    while (size < (unsigned)distinct * 2u)
        size <<= 1;
    if (!(p->ptab = calloc(size, sizeof *p->ptab)))
        return AG_E_NOMEM;
    p->pmask = size - 1;
    for (int i = 0; i < p->nasg;) {
        int j = i;
        while (j < p->nasg && ag_az_guid_eq(p->asg[j].pid, p->asg[i].pid))
            j++;
        unsigned slot = (unsigned)ag_az_guid_hash(p->asg[i].pid) & p->pmask;
        while (p->ptab[slot].count)
            slot = (slot + 1) & p->pmask;
        p->ptab[slot] = (az_pslot_t){p->asg[i].pid, i, j - i};
        i = j;
    }
    p->stats.principals = distinct;
    return 0;
}

static ag_err load_all(const az_src_t *defs, int ndef, const az_src_t *asg, int nasg,
                       const az_src_t *deny, int ndeny, const ag_azrbac_opts_t *opts,
                       ag_azrbac_t **out, ag_buf_t *errmsg)
{
    az_ld_t ld = {.errmsg = errmsg, .src = "azure"};
    const az_src_t builtin = {{ag_azure_builtin_roles_json, ag_azure_builtin_roles_json_len},
                              "built-in role definitions",
                              false};
    ag_err err = 0;
    ag_arena_init(&ld.tmp, 1 << 16, 0);
    if (!(ld.p = calloc(1, sizeof *ld.p))) {
        err = AG_E_NOMEM;
        goto out;
    }
    atomic_init(&ld.p->refs, 1);
    ag_arena_init(&ld.p->arena, 1 << 16, 0);
    if (!opts ||
        ag_azscope_normalize(opts->cluster_resource_id, &ld.p->arena, &ld.p->cluster_lc) != 0) {
        err = fail(&ld, AG_E_CONFIG, -1, NULL,
                   "cluster_resource_id must be the cluster's resource id "
                   "(/subscriptions/S/resourceGroups/RG/providers/"
                   "Microsoft.ContainerService/managedClusters/NAME)");
        goto out;
    }
    ld.p->cluster = keep(&ld, opts->cluster_resource_id);
    if ((err = load_source(&ld, &builtin, load_definition)))
        goto out;
    for (int i = 0; i < ndef && !err; i++)
        err = defs[i].text.n ? load_source(&ld, &defs[i], load_definition) : 0;
    for (int i = 0; i < nasg && !err; i++)
        err = asg[i].text.n ? load_source(&ld, &asg[i], load_assignment) : 0;
    for (int i = 0; i < ndeny && !err; i++)
        err = deny[i].text.n ? load_source(&ld, &deny[i], load_deny) : 0;
    if (err || (err = az_index_principals(ld.p)))
        goto out;
    ld.p->stats.roles = ld.p->nroles;
    ld.p->stats.assignments = ld.p->nasg;
    ld.p->stats.deny_assignments = ld.p->ndeny;
    *out = ld.p;
    ld.p = NULL; /* ownership moved to the caller */
out:
    if (ld.p)
        az_destroy(ld.p);
    ag_arena_dispose(&ld.tmp);
    return err;
}

ag_err ag_azrbac_load_srcs(const ag_azrbac_srcs_t *in, const ag_azrbac_opts_t *opts,
                           ag_azrbac_t **out, ag_buf_t *errmsg)
{
    return load_all(in->defs, in->ndefs, in->asg, in->nasg, in->deny, in->ndeny, opts, out, errmsg);
}

ag_err ag_azrbac_load_mem(ag_str_t definitions_json, ag_str_t assignments_json, ag_str_t deny_json,
                          const ag_azrbac_opts_t *opts, ag_azrbac_t **out, ag_buf_t *errmsg)
{
    az_src_t d = {definitions_json, "role definitions", false};
    az_src_t a = {assignments_json, "role assignments", false};
    az_src_t n = {deny_json, "deny assignments", false};
    return load_all(&d, 1, &a, 1, &n, 1, opts, out, errmsg);
}

/* The cluster part of <scope>: up to and including the segment after
 * "/providers/Microsoft.ContainerService/managedClusters/", or empty. */
static ag_str_t cluster_of(ag_str_t scope)
{
    static const ag_str_t mc = {"/providers/Microsoft.ContainerService/managedClusters/", 54};
    for (size_t i = 0; i + mc.n < scope.n; i++) {
        if (!ag_str_ieq(ag_str_make(scope.p + i, mc.n), mc))
            continue;
        ag_str_t rest = ag_str_sub(scope, i + mc.n, scope.n);
        size_t end = i + mc.n + ag_str_find_char(rest, '/');
        return ag_str_make(scope.p, end);
    }
    return AG_STR_NULL;
}

/* The clusters the items of one document <root> name, into <found>. */
static ag_err scan_clusters(const ag_json_t *doc, ag_json_ref root, ag_arena_t *arena,
                            ag_str_t *found)
{
    ag_json_ref list = ag_json_get(doc, root, "value");
    ag_err err = 0;
    if (ag_json_typeof(doc, list) == AG_JSON_ARRAY)
        root = list;
    for (ag_json_ref e = ag_json_first(doc, root); e != AG_JSON_NONE && !err;
         e = ag_json_next(doc, e)) {
        ag_json_ref pr = ag_json_get(doc, e, "properties");
        ag_json_ref sref =
            ag_json_get(doc, ag_json_typeof(doc, pr) == AG_JSON_OBJECT ? pr : e, "scope");
        ag_str_t scope = AG_STR_NULL, c;
        if (ag_json_typeof(doc, sref) == AG_JSON_STRING &&
            ag_json_str(doc, sref, arena, &scope) != 0)
            err = AG_E_NOMEM;
        if (err || (c = cluster_of(scope)).n == 0)
            continue;
        if (found->n && !ag_str_ieq(*found, c))
            err = AG_E_DUPLICATE;
        *found = c;
    }
    return err;
}

ag_err ag_azrbac_infer_cluster_named(ag_str_t assignments, const char *name, ag_buf_t *out)
{
    ag_arena_t arena;
    ag_json_t doc;
    ag_yaml_json_t y = {0};
    ag_str_t found = AG_STR_NULL;
    bool yaml = ag_yaml_is_yaml_name(name);
    ag_err err;
    ag_arena_init(&arena, 1 << 16, 0);
    if (yaml &&
        (err = ag_yaml_to_json(assignments, AG_AZRBAC_MAX_FILE_BYTES * 2ull, &y, NULL)) == 0)
        err = ag_yaml_json_parse(&y, &doc, NULL, &arena, NULL);
    else if (!yaml)
        err = ag_json_parse(&doc, assignments, NULL, &arena, NULL);
    if (err)
        goto out;
    if (!yaml)
        err = scan_clusters(&doc, ag_json_root(&doc), &arena, &found);
    for (ag_json_ref d = yaml ? ag_json_first(&doc, ag_json_root(&doc)) : AG_JSON_NONE;
         d != AG_JSON_NONE && !err; d = ag_json_next(&doc, d))
        err = scan_clusters(&doc, d, &arena, &found);
    if (!err)
        err = found.n ? ag_buf_append_str(out, found) : AG_E_NOT_FOUND;
out:
    ag_yaml_json_dispose(&y);
    ag_arena_dispose(&arena);
    return err;
}

ag_err ag_azrbac_infer_cluster(ag_str_t assignments_json, ag_buf_t *out)
{
    return ag_azrbac_infer_cluster_named(assignments_json, "assignments.json", out);
}
