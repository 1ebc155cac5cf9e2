/* The parsed RBAC object set (core/authz/rbac/rbac_set.c): objects put one at a time or by list
 * page, replaced and removed by identity, refused one by one (fail closed: a refused
 * update removes the old version), layered (a later set wins), and snapshots built from
 * it that decide exactly as a snapshot loaded from the same JSON and outlive the set.
 * Policies are written with ' for ". */
#include <stdint.h>

#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"
#include "bench/gen.h"
#include "testlib.h"

static char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

/* put of a ' document; returns the refused count (-1: the call failed) */
static int put(ag_rbac_set_t *s, const char *json_sq, ag_buf_t *why)
{
    char *j = dq(json_sq);
    int refused = -1;
    ag_err err = ag_rbac_set_put(s, ag_str_cstr(j), "obj.json", &refused, why);
    free(j);
    return err ? -1 : refused;
}

static ag_rbac_t *build(ag_rbac_set_t *s)
{
    ag_rbac_t *p = NULL;
    CHECK_EQ(ag_rbac_set_build(s, &p, NULL), 0);
    return p;
}

static bool can(const ag_rbac_t *p, const char *user, const char *verb, const char *res,
                const char *ns)
{
    ag_identity_t u = {.username = ag_str_cstr(user)};
    ag_attrs_t a = {.resource_request = true,
                    .verb = ag_str_cstr(verb),
                    .resource = ag_str_cstr(res),
                    .namespace_ = ag_str_cstr(ns)};
    ag_authz_decision_t d;
    return ag_rbac_eval(p, &u, &a, &d) == AG_AUTHZ_ALLOW;
}

#define CR(name, verb)                                                                             \
    "{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/v1','metadata':{'name':'" name  \
    "'},'rules':[{'verbs':['" verb "'],'apiGroups':[''],'resources':['pods']}]}"
#define RB(ns, name, role, user)                                                                   \
    "{'kind':'RoleBinding','apiVersion':'rbac.authorization.k8s.io/v1','metadata':{'name':'" name  \
    "','namespace':'" ns "'},'roleRef':{'kind':'ClusterRole','name':'" role                        \
    "'},'subjects':[{'kind':'User','name':'" user "'}]}"

TEST(rbac_set_put_replace_remove_take_effect_in_the_next_snapshot)
{
    ag_rbac_set_t *s = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    CHECK_EQ(ag_rbac_set_create(&o, &s), 0);
    CHECK_EQ(put(s, CR("r", "get"), NULL), 0);
    CHECK_EQ(put(s, RB("dev", "b", "r", "alice"), NULL), 0);
    ag_rbac_t *p1 = build(s);
    CHECK(can(p1, "alice", "get", "pods", "dev"));
    CHECK(!can(p1, "alice", "delete", "pods", "dev"));
    CHECK_EQ(put(s, CR("r", "delete"), NULL), 0); /* replaced by identity */
    CHECK_EQ(put(s, RB("dev", "b", "r", "bob"), NULL), 0);
    CHECK_EQ(ag_rbac_set_count(s), 2);
    ag_rbac_t *p2 = build(s);
    CHECK(!can(p2, "alice", "get", "pods", "dev"));
    CHECK(can(p2, "bob", "delete", "pods", "dev"));
    CHECK(can(p1, "alice", "get", "pods", "dev")); /* an older snapshot keeps its objects */
    CHECK(ag_rbac_set_remove(s, AG_STR("RoleBinding"), AG_STR("dev"), AG_STR("b")));
    CHECK(!ag_rbac_set_remove(s, AG_STR("RoleBinding"), AG_STR("dev"), AG_STR("b")));
    CHECK(!ag_rbac_set_remove(s, AG_STR("ClusterRoleBinding"), AG_STR(""), AG_STR("r")));
    ag_rbac_t *p3 = build(s);
    CHECK(!can(p3, "bob", "delete", "pods", "dev"));
    ag_rbac_set_destroy(s); /* snapshots outlive the set (ASan: no use after free) */
    CHECK(can(p2, "bob", "delete", "pods", "dev"));
    ag_rbac_unref(p1);
    ag_rbac_unref(p2);
    ag_rbac_unref(p3);
}

/* A list page with a bad object: the rest loads; the bad one is named and counted, and a
 * refused update removes the version before it (never left granting). */
TEST(rbac_set_refuses_bad_objects_one_by_one_and_fails_closed)
{
    ag_rbac_set_t *s = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_buf_t why = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_set_create(&o, &s), 0);
    CHECK_EQ(put(s,
                 "{'kind':'List','items':[" CR("r", "get") "," RB("dev", "b", "r", "alice") "," RB(
                     "dev", "c", "r", "carol") "]}",
                 NULL),
             0);
    ag_rbac_t *p = build(s);
    CHECK(can(p, "carol", "get", "pods", "dev"));
    ag_rbac_unref(p);
    CHECK_EQ(put(s,
                 "{'kind':'RoleBindingList','items':[" RB(
                     "dev", "b", "r",
                     "bob") ","
                            "{'metadata':{'name':'c','namespace':'dev','annotations':{'authgate.io/"
                            "expires-at':'soon'}},'roleRef':{'kind':'ClusterRole','name':'r'},'"
                            "subjects':[{'kind':'User','name':'carol'}]},"
                            "{'metadata':{'name':'d','namespace':'dev'},'roleRef':{'kind':'Robot','"
                            "name':'r'}}]}",
                 &why),
             2);
    CHECK(strstr(why.p, "obj.json:1:") == why.p);
    CHECK(
        strstr(
            why.p,
            "RoleBinding \"c\" in namespace \"dev\": "
            "metadata.annotations[\"authgate.io/expires-at\"]: \"soon\" is not an RFC 3339 time") !=
        NULL);
    CHECK(strstr(why.p, "\nobj.json:1:") != NULL && strstr(why.p, "roleRef.kind") != NULL);
    p = build(s);
    CHECK(can(p, "bob", "get", "pods", "dev"));
    CHECK(!can(p, "carol", "get", "pods", "dev")); /* the refused update removed c */
    CHECK_EQ(ag_rbac_set_count(s), 2);
    ag_rbac_unref(p);
    /* not a document at all: an error, the set unchanged */
    CHECK_EQ(put(s, "{'kind':", NULL), -1);
    CHECK_EQ(ag_rbac_set_count(s), 2);
    ag_buf_dispose(&why);
    ag_rbac_set_destroy(s);
}

TEST(rbac_set_bootstrap_replaced_and_restored_and_layers_shadow)
{
    ag_rbac_set_t *cluster = NULL, *files = NULL;
    CHECK_EQ(ag_rbac_set_create(NULL, &cluster), 0);
    ag_rbac_opts_t o = {.bootstrap = false};
    CHECK_EQ(ag_rbac_set_create(&o, &files), 0);
    CHECK_EQ(put(cluster, RB("dev", "b", "view", "alice"), NULL), 0);
    ag_rbac_t *p = build(cluster);
    CHECK(can(p, "alice", "get", "pods", "dev")); /* bootstrap view */
    ag_rbac_unref(p);
    CHECK_EQ(put(cluster, CR("view", "delete"), NULL), 0); /* replaces bootstrap view */
    p = build(cluster);
    CHECK(!can(p, "alice", "get", "pods", "dev"));
    CHECK(can(p, "alice", "delete", "pods", "dev"));
    ag_rbac_unref(p);
    /* a file layer over the cluster: its view wins; removing it brings the cluster's back */
    CHECK_EQ(put(files, CR("view", "watch"), NULL), 0);
    ag_rbac_set_t *layers[] = {cluster, files};
    ag_rbac_view_t *v = NULL;
    CHECK_EQ(ag_rbac_set_view_layers(layers, 2, &v), 0);
    CHECK_EQ(ag_rbac_view_build(v, &p, NULL), 0);
    ag_rbac_view_destroy(v);
    CHECK(can(p, "alice", "watch", "pods", "dev") && !can(p, "alice", "delete", "pods", "dev"));
    ag_rbac_unref(p);
    CHECK(ag_rbac_set_remove(cluster, AG_STR("ClusterRole"), AG_STR("ignored"), AG_STR("view")));
    p = build(cluster);
    CHECK(can(p, "alice", "get", "pods", "dev")); /* bootstrap view again */
    ag_rbac_unref(p);
    ag_rbac_set_destroy(files);
    ag_rbac_set_destroy(cluster);
}

/* Thousands of puts and removals in a scrambled order: the identity map (backward-shift
 * deletion) finds exactly what is left. */
TEST(rbac_set_many_removals_keep_the_map_consistent)
{
    ag_rbac_set_t *s = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    char json[512], name[32];
    CHECK_EQ(ag_rbac_set_create(&o, &s), 0);
    CHECK_EQ(put(s, CR("r", "get"), NULL), 0);
    for (int i = 0; i < 3000; i++) {
        snprintf(json, sizeof json,
                 "{\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"b%d\",\"namespace\":\"ns%d\"},"
                 "\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"r\"},\"subjects\":[{\"kind\":"
                 "\"User\",\"name\":\"u%d\"}]}",
                 i, i % 7, i);
        CHECK_EQ(ag_rbac_set_put(s, ag_str_cstr(json), "x.json", NULL, NULL), 0);
    }
    for (int k = 0; k < 3000; k++) {
        int i = (int)((k * 1237u) % 3000); /* a permutation of 0..2999 */
        if (i % 3 == 0)
            continue;
        snprintf(name, sizeof name, "b%d", i);
        char ns[8];
        snprintf(ns, sizeof ns, "ns%d", i % 7);
        CHECK(ag_rbac_set_remove(s, AG_STR("RoleBinding"), ag_str_cstr(ns), ag_str_cstr(name)));
    }
    CHECK_EQ(ag_rbac_set_count(s), 1 + 1000);
    ag_rbac_t *p = build(s);
    for (int i = 0; i < 3000; i += 1) {
        char u[16], ns[8];
        snprintf(u, sizeof u, "u%d", i);
        snprintf(ns, sizeof ns, "ns%d", i % 7);
        if (can(p, u, "get", "pods", ns) != (i % 3 == 0))
            fprintf(stderr, "u%d wrong\n", i), ag_test_failures++;
    }
    ag_rbac_unref(p);
    ag_rbac_set_destroy(s);
}

/* The set and the file loader decide alike on the benchmark's policy shape. */
TEST(rbac_set_snapshot_decides_as_the_loaded_policy)
{
    ag_buf_t text = AG_BUF_INIT(64u << 20);
    CHECK_EQ(gen_rbac_policy(3000, &text), 0);
    ag_rbac_t *loaded = NULL, *built = NULL;
    CHECK_EQ(ag_rbac_load_mem(ag_buf_str(&text), "gen.json", NULL, &loaded, NULL), 0);
    ag_rbac_set_t *s = NULL;
    CHECK_EQ(ag_rbac_set_create(NULL, &s), 0);
    int refused = -1;
    CHECK_EQ(ag_rbac_set_put(s, ag_buf_str(&text), "gen.json", &refused, NULL), 0);
    CHECK_EQ(refused, 0);
    built = build(s);
    ag_rbac_stats_t a, b;
    ag_rbac_stats(loaded, &a);
    ag_rbac_stats(built, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    static const char *const verbs[] = {"get", "list", "delete", "create"};
    static const char *const res[] = {"pods", "secrets", "configmaps", "nodes"};
    for (int u = 0; u < 3000; u += 7)
        for (int k = 0; k < 16; k++) {
            char name[32], group[32], ns[32];
            snprintf(name, sizeof name, "user-%d", u);
            snprintf(group, sizeof group, "group-%d", (u + k) % 500);
            snprintf(ns, sizeof ns, "ns-%d", (u + k / 4) % gen_rbac_namespaces(3000));
            ag_str_t groups[] = {ag_str_cstr(group)};
            ag_identity_t id = {.username = ag_str_cstr(name), .groups = groups, .ngroups = 1};
            ag_attrs_t at = {.resource_request = true,
                             .verb = ag_str_cstr(verbs[k % 4]),
                             .resource = ag_str_cstr(res[k / 4]),
                             .namespace_ = ag_str_cstr(ns)};
            ag_authz_decision_t d1, d2;
            CHECK_EQ(ag_rbac_eval(loaded, &id, &at, &d1), ag_rbac_eval(built, &id, &at, &d2));
        }
    ag_rbac_unref(loaded);
    ag_rbac_unref(built);
    ag_rbac_set_destroy(s);
    ag_buf_dispose(&text);
}
