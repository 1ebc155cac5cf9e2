/* kubeconfig merge (kubeconfig.h): the existing file converted to JSON by yaml2json.c,
 * walked with json.c, copied member by member except what we replace. */
#include "login/kubeconfig.h"

#include <string.h>

#include "base/arena.h"
#include "base/yaml2json.h"

static const char *const lists[] = {"clusters", "users", "contexts"};

static ag_err put_str(ag_buf_t *out, const char *s)
{
    return ag_json_write_str(out, ag_str_cstr(s));
}

/* "key":"value", with a leading comma unless <first>. */
static ag_err put_member(ag_buf_t *out, bool first, const char *key, const char *value)
{
    ag_err err = first ? 0 : ag_buf_append(out, ",", 1);
    if (!err)
        err = put_str(out, key);
    if (!err)
        err = ag_buf_append(out, ":", 1);
    return err ? err : put_str(out, value);
}

static ag_err put_cluster(ag_buf_t *out, const ag_kubeconfig_entry_t *e)
{
    ag_err err = ag_buf_append_cstr(out, "{\"name\":");
    if (!err)
        err = put_str(out, e->name);
    if (!err)
        err = ag_buf_append_cstr(out, ",\"cluster\":{");
    if (!err)
        err = put_member(out, true, "server", e->server);
    if (!err && e->ca_data)
        err = put_member(out, false, "certificate-authority-data", e->ca_data);
    if (!err && e->tls_server_name)
        err = put_member(out, false, "tls-server-name", e->tls_server_name);
    return err ? err : ag_buf_append_cstr(out, "}}");
}

static ag_err put_user(ag_buf_t *out, const ag_kubeconfig_entry_t *e)
{
    ag_err err = ag_buf_append_cstr(out, "{\"name\":");
    if (!err)
        err = put_str(out, e->name);
    if (!err)
        err = ag_buf_append_cstr(out, ",\"user\":{\"exec\":{");
    if (!err)
        err = put_member(out, true, "apiVersion", "client.authentication.k8s.io/v1");
    if (!err)
        err = put_member(out, false, "command", e->command);
    if (!err)
        err = ag_buf_append_cstr(out, ",\"args\":[");
    for (int i = 0; !err && e->args[i]; i++)
        if (!(err = i ? ag_buf_append(out, ",", 1) : 0))
            err = put_str(out, e->args[i]);
    /* IfAvailable: kubectl tells the plugin whether a person is at a terminal, and the
     * plugin starts a sign-in only then. No cluster info: the plugin needs none. */
    if (!err)
        err = ag_buf_append_cstr(out, "],\"env\":null,\"interactiveMode\":\"IfAvailable\","
                                      "\"provideClusterInfo\":false}}}");
    return err;
}

static ag_err put_context(ag_buf_t *out, const ag_kubeconfig_entry_t *e)
{
    ag_err err = ag_buf_append_cstr(out, "{\"name\":");
    if (!err)
        err = put_str(out, e->name);
    if (!err)
        err = ag_buf_append_cstr(out, ",\"context\":{");
    if (!err)
        err = put_member(out, true, "cluster", e->name);
    if (!err)
        err = put_member(out, false, "user", e->name);
    if (!err && e->namespace_)
        err = put_member(out, false, "namespace", e->namespace_);
    return err ? err : ag_buf_append_cstr(out, "}}");
}

/* A value copied as it stands in the JSON text (strings: raw is inside the quotes). */
static ag_err put_raw(ag_buf_t *out, const ag_json_t *doc, ag_json_ref v)
{
    bool q = ag_json_typeof(doc, v) == AG_JSON_STRING;
    ag_err err = q ? ag_buf_append(out, "\"", 1) : 0;
    if (!err)
        err = ag_buf_append_str(out, ag_json_raw(doc, v));
    return err || !q ? err : ag_buf_append(out, "\"", 1);
}

/* Entry <v> of a named list: an object with a string "name". */
static bool named(const ag_json_t *doc, ag_json_ref v, const char *name, bool *same)
{
    ag_json_ref n = ag_json_get(doc, v, "name");
    if (ag_json_typeof(doc, n) != AG_JSON_STRING)
        return false;
    *same = ag_json_str_eq(doc, n, name);
    return true;
}

static ag_err put_list(ag_buf_t *out, const ag_json_t *doc, ag_json_ref list, int which,
                       const ag_kubeconfig_entry_t *e)
{
    static ag_err (*const put[])(ag_buf_t *, const ag_kubeconfig_entry_t *) = {
        put_cluster, put_user, put_context};
    ag_err err = ag_buf_printf(out, ",\"%s\":[", lists[which]);
    ag_json_type t = ag_json_typeof(doc, list);
    if (t != AG_JSON_ABSENT && t != AG_JSON_NULL && t != AG_JSON_ARRAY)
        return AG_E_PARSE;
    for (ag_json_ref v = ag_json_first(doc, list); !err && v != AG_JSON_NONE;
         v = ag_json_next(doc, v)) {
        bool same = false;
        if (!named(doc, v, e->name, &same))
            return AG_E_PARSE;
        if (!same && !(err = put_raw(out, doc, v)))
            err = ag_buf_append(out, ",", 1);
    }
    if (!err)
        err = put[which](out, e);
    return err ? err : ag_buf_append(out, "]", 1);
}

static bool ours(const ag_json_t *doc, ag_json_ref key)
{
    static const char *const keys[] = {"apiVersion", "kind",     "clusters",
                                       "users",      "contexts", "current-context"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (ag_json_str_eq(doc, key, keys[i]))
            return true;
    return false;
}

static ag_err put_config(ag_buf_t *out, const ag_json_t *doc, ag_json_ref root,
                         const ag_kubeconfig_entry_t *e)
{
    ag_err err = ag_buf_append_cstr(out, "{\"apiVersion\":\"v1\",\"kind\":\"Config\"");
    for (ag_json_ref k = ag_json_first(doc, root); !err && k != AG_JSON_NONE;
         k = ag_json_next(doc, k)) {
        if (ours(doc, k))
            continue;
        if (!(err = ag_buf_append(out, ",", 1)) && !(err = put_raw(out, doc, k)) &&
            !(err = ag_buf_append(out, ":", 1)))
            err = put_raw(out, doc, ag_json_value(k));
    }
    for (int i = 0; !err && i < 3; i++)
        err = put_list(out, doc, ag_json_get(doc, root, lists[i]), i, e);
    if (!err)
        err = put_member(out, false, "current-context", e->name);
    return err ? err : ag_buf_append_cstr(out, "}\n");
}

static bool blank(ag_str_t s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] != ' ' && s.p[i] != '\n' && s.p[i] != '\t' && s.p[i] != '\r')
            return false;
    return true;
}

ag_err ag_kubeconfig_merge(ag_str_t existing, const ag_kubeconfig_entry_t *e, ag_buf_t *out,
                           ag_json_error_t *errinfo)
{
    ag_yaml_json_t y;
    ag_json_t doc = {0};
    ag_arena_t arena;
    ag_json_ref root = AG_JSON_NONE;
    ag_err err = 0;
    ag_arena_init(&arena, 64 * 1024, 8 * AG_KUBECONFIG_MAX_BYTES);
    memset(errinfo, 0, sizeof *errinfo);
    if (blank(existing))
        goto write; /* a new file */
    if ((err = ag_yaml_to_json(existing, AG_KUBECONFIG_MAX_BYTES * 2ull, &y, errinfo)) != 0 ||
        (err = ag_yaml_json_parse(&y, &doc, NULL, &arena, errinfo)) != 0)
        goto out;
    root = ag_json_first(&doc, ag_json_root(&doc)); /* the documents of the stream */
    if (ag_json_count(&doc, ag_json_root(&doc)) > 1 ||
        (root != AG_JSON_NONE && ag_json_typeof(&doc, root) != AG_JSON_OBJECT)) {
        errinfo->msg = "a kubeconfig is one mapping";
        err = AG_E_PARSE;
        goto out;
    }
write:
    if ((err = put_config(out, &doc, root, e)) == AG_E_PARSE)
        errinfo->msg = "clusters, users and contexts must be lists of entries with a name";
out:
    if (!blank(existing))
        ag_yaml_json_dispose(&y);
    ag_arena_dispose(&arena);
    return err;
}
