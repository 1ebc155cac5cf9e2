/* YAML policy input (yaml2json.h): the conversion to JSON (scalar typing, multi-document
 * streams, positions) and what it refuses, then RBAC and Azure loads of YAML documents
 * through the shared loaders, errors named FILE:LINE:COL in the YAML. */
#include <stdlib.h>
#include <unistd.h>

#include "authz/azure/azrbac.h"
#include "authz/rbac/rbac.h"
#include "authz/reqinfo.h"
#include "base/yaml2json.h"
#include "files.h"
#include "testlib.h"

/* The JSON for <yaml>, or "ERR L:C msg" (static buffer). */
static const char *conv(const char *yaml)
{
    static char out[4096];
    ag_yaml_json_t y;
    ag_json_error_t e = {0};
    ag_err err = ag_yaml_to_json(ag_str_cstr(yaml), 1 << 20, &y, &e);
    if (err)
        snprintf(out, sizeof out, "ERR %d:%d %s", e.line, e.col, e.msg ? e.msg : ag_err_str(err));
    else
        snprintf(out, sizeof out, "%s", ag_buf_str(&y.json).p);
    ag_yaml_json_dispose(&y);
    return out;
}

/* The RBAC load error for <yaml> named <name>, or "" when it loaded (static buffer). */
static const char *rbac_err(const char *yaml, const char *name)
{
    static char msg[1024];
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_err e = ag_rbac_load_mem(ag_str_cstr(yaml), name, &o, &p, &err);
    snprintf(msg, sizeof msg, "%s", e ? (err.p ? err.p : "?") : "");
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    return msg;
}

static bool can(const ag_rbac_t *p, const char *user, const char *method, const char *target)
{
    ag_identity_t id = {.username = ag_str_cstr(user)};
    ag_arena_t a;
    ag_attrs_t at;
    ag_authz_decision_t d;
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_reqinfo_parse(ag_str_cstr(method), ag_str_cstr(target), &a, &at), 0);
    bool ok = ag_rbac_eval(p, &id, &at, &d) == AG_AUTHZ_ALLOW;
    ag_arena_dispose(&a);
    return ok;
}

TEST(yaml_plain_scalars_take_json_types_quoted_stay_strings)
{
    CHECK_STREQ(conv("a: true\nb: 'true'\nc: 12\nd: \"12\"\ne: ~\nf:\ng: -1.5e3\nh: x y\n"),
                "[{\"a\":true,\"b\":\"true\",\"c\":12,\"d\":\"12\",\"e\":null,\"f\":null,"
                "\"g\":-1.5e3,\"h\":\"x y\"}]");
    CHECK_STREQ(conv("k: !!str 12\nl: |\n  two\n  lines\n"),
                "[{\"k\":\"12\",\"l\":\"two\\nlines\\n\"}]");
    CHECK_STREQ(conv("- [a, \"b\", {c: d}]\n"), "[[[\"a\",\"b\",{\"c\":\"d\"}]]]");
}

TEST(yaml_refuses_scalars_yaml_1_1_and_1_2_type_differently)
{
    const char *bad[] = {"v: yes\n",   "v: off\n",  "v: N\n",    "v: 0x1F\n",       "v: 012\n",
                         "v: 1_000\n", "v: .inf\n", "v: 1:30\n", "v: 2024-01-01\n", "v: +1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *r = conv(bad[i]);
        if (strncmp(r, "ERR 1:4 plain scalar is typed differently", 41) != 0) {
            fprintf(stderr, "  %s -> %s\n", bad[i], r);
            CHECK(0);
        }
    }
    CHECK_STREQ(conv("v: 'yes'\nw: \"0x1F\"\n"), "[{\"v\":\"yes\",\"w\":\"0x1F\"}]");
}

TEST(yaml_multi_document_streams_skip_empty_documents)
{
    CHECK_STREQ(conv("---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n---\n"),
                "[{\"a\":1},{\"b\":2}]");
    CHECK_STREQ(conv(""), "[]");
    CHECK_STREQ(conv("# nothing\n"), "[]");
}

TEST(yaml_refuses_aliases_merge_keys_tags_and_complex_keys)
{
    CHECK_STREQ(conv("a: &x [1]\nb: *x\n"), "ERR 2:4 aliases (*name) are not supported");
    CHECK_STREQ(conv("base: &b {x: 1}\nc:\n  <<: {y: 2}\n"),
                "ERR 3:3 merge keys (<<) are not supported");
    CHECK_STREQ(conv("a: !!int 3\n"), "ERR 1:4 tags other than !!str are not supported");
    CHECK_STREQ(conv("a: !custom {}\n"), "ERR 1:4 tags on mappings are not supported");
    CHECK_STREQ(conv("? [a]\n: b\n"), "ERR 1:3 mapping keys must be scalars");
    CHECK_STREQ(conv("true: b\n"), "ERR 1:1 a mapping key must be a string: quote it");
}

TEST(yaml_billion_laughs_stops_at_the_first_alias)
{
    const char *lol = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
    CHECK_STREQ(conv(lol), "ERR 2:8 aliases (*name) are not supported");
}

TEST(yaml_syntax_errors_and_depth_have_positions)
{
    CHECK_STREQ(conv("a: b\n c: d\n"), "ERR 2:3 mapping values are not allowed in this context");
    char deep[200] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    CHECK_STREQ(conv(deep), "ERR 1:65 nesting too deep");
    /* reader errors (bytes that are not UTF-8, control characters) at their byte, not 1:1 */
    CHECK_STREQ(conv("a: b\nkind: Role\nname: ali\xff\n"), "ERR 3:10 invalid leading UTF-8 octet");
    CHECK_STREQ(conv("a: b\n  \n- x: \x01\n"), "ERR 3:6 control characters are not allowed");
}

#define ROLE_YAML                                                                                  \
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n"     \
    "rules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list]\n"
#define BINDING_YAML                                                                               \
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n"              \
    "  name: alice-reads\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"                       \
    "  kind: ClusterRole\n  name: reader\nsubjects:\n- kind: User\n  name: alice\n"                \
    "  apiGroup: rbac.authorization.k8s.io\n"

TEST(yaml_rbac_multi_document_file_and_list_load)
{
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_load_mem(ag_str_cstr("---\n" ROLE_YAML "---\n" BINDING_YAML), "p.yaml", &o, &p,
                              &err),
             0);
    CHECK(p && can(p, "alice", "GET", "/api/v1/namespaces/x/pods"));
    CHECK(p && !can(p, "alice", "DELETE", "/api/v1/namespaces/x/pods/a"));
    ag_rbac_unref(p);
    p = NULL;
    /* as `kubectl get clusterroles -o yaml` prints them: a List */
    CHECK_EQ(
        ag_rbac_load_mem(ag_str_cstr("apiVersion: v1\nkind: List\nitems:\n- kind: ClusterRole\n"
                                     "  apiVersion: rbac.authorization.k8s.io/v1\n"
                                     "  metadata: {name: r}\n  rules: []\n"),
                         "list.yml", &o, &p, &err),
        0);
    CHECK(p != NULL);
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
}

TEST(yaml_rbac_errors_name_file_line_col_in_the_yaml)
{
    CHECK_STREQ(rbac_err("---\n" ROLE_YAML "---\nkind: Pod\nmetadata: {name: x}\n", "p.yaml"),
                "p.yaml:11:7: kind: unsupported \"Pod\" (expected Role, ClusterRole, RoleBinding, "
                "ClusterRoleBinding or a List of them)");
    CHECK_STREQ(rbac_err("kind: ClusterRole\nmetadata:\n  name: r\n  name: s\n", "dup.yaml"),
                "dup.yaml:3:3: duplicate key in object");
    CHECK_STREQ(
        rbac_err("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- verbs: get\n", "t.yaml"),
        "t.yaml:4:10: verbs: must be a list of strings");
    CHECK_STREQ(
        rbac_err("kind: ClusterRole\nmetadata: {name: r}\nrules: [{verbs: [yes]}]\n", "y.yaml"),
        "y.yaml:3:18: plain scalar is typed differently by YAML 1.1 and 1.2: quote it");
    /* the same bytes named .json are read as JSON, as before */
    CHECK(strstr(rbac_err("kind: ClusterRole\n", "p.json"), "p.json:1:1: ") != NULL);
}

/* <text> in a new temporary file ending in <suffix>; the path is static. */
static const char *temp_file(const char *text, const char *suffix)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ag_yaml_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    return path;
}

static ag_err az_load(const char *file, ag_azrbac_stats_t *st, ag_buf_t *err)
{
    ag_azrbac_opts_t o = {.cluster_resource_id = AG_STR("/subscriptions/s/resourceGroups/rg/"
                                                        "providers/Microsoft.ContainerService/"
                                                        "managedClusters/c")};
    ag_azrbac_t *p = NULL;
    ag_err e = ag_azrbac_load(NULL, 0, &file, 1, NULL, 0, &o, &p, err);
    if (!e)
        ag_azrbac_stats(p, st);
    ag_azrbac_unref(p);
    return e;
}

#define AZ_ASG                                                                                     \
    "- principalId: 00000000-0000-0000-0000-000000000001\n  principalType: User\n"                 \
    "  roleDefinitionId: /subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"      \
    "7f6c6a51-bcf8-42ba-9220-52d62157d7db\n"                                                       \
    "  scope: /subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"            \
    "managedClusters/c\n  createdOn: '2026-10-01T09:12:44.000000+00:00'\n  condition: null\n"

TEST(yaml_azure_assignments_as_az_prints_them)
{
    ag_azrbac_stats_t st = {0};
    ag_buf_t err = AG_BUF_INIT(4096);
    const char *f =
        temp_file(AZ_ASG "- id: /x/2\n  principalId: 11111111-1111-1111-1111-111111111111\n"
                         "  roleDefinitionId: /r/7f6c6a51-bcf8-42ba-9220-52d62157d7db\n"
                         "  scope: /subscriptions/s\n",
                  ".yaml");
    CHECK_EQ(az_load(f, &st, &err), 0);
    CHECK_EQ(st.assignments, 2);
    CHECK_EQ(st.principals, 2);
    unlink(f);
    /* several documents, and a REST list {value: [...]} */
    f = temp_file("---\n" AZ_ASG "---\nvalue:\n" AZ_ASG, ".yml");
    CHECK_EQ(az_load(f, &st, &err), 0);
    CHECK_EQ(st.assignments, 2);
    unlink(f);
    f = temp_file(AZ_ASG "  principalId: 00000000-0000-0000-0000-000000000002\n", ".yaml");
    CHECK_EQ(az_load(f, &st, &err), AG_E_DUPLICATE);
    CHECK(strstr(ag_buf_str(&err).p, ".yaml:1:3: duplicate key in object") != NULL);
    unlink(f);
    ag_buf_dispose(&err);
}
