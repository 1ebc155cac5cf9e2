/* The parsed RBAC object set (core/authz/rbac/rbac_set.c): objects put one at a time or by list
 * page, replaced and removed by identity, refused one by one (fail closed: a refused
 * update removes the old version), layered (a later set wins), and snapshots built from
 * it that decide exactly as a snapshot loaded from the same JSON and outlive the set.
 * Policies are written with ' for ". */
#include <stdint.h>

#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"
#include "authz/rules.h"
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

/* ---- delta snapshots (core/rbac_delta.c) ------------------------------------------------ */

#include "authz/rbac/rbac_int.h" /* base: whether a build came out as a delta */

/* Everything a decision, a rules review and who-can say about every user in a few
 * namespaces, for comparing two snapshots. */
static void fingerprint(const ag_rbac_t *p, ag_buf_t *out)
{
    static const char *const verbs[] = {"get", "delete", "create"};
    static const char *const res[] = {"pods", "secrets", "configmaps"};
    static const char *const nss[] = {"ns0", "ns1", "ns2", "ns3", ""};
    char user[16], group[16];
    ag_rbac_stats_t st;
    ag_rbac_stats(p, &st);
    ag_buf_printf(out, "stats %d %d %d %d %d %d\n", st.role_bindings, st.cluster_role_bindings,
                  st.roles, st.cluster_roles, st.missing_role_refs, st.time_bound);
    for (int u = 0; u < 40; u++) {
        snprintf(user, sizeof user, "u%d", u);
        snprintf(group, sizeof group, "g%d", u % 5);
        ag_str_t groups[] = {ag_str_cstr(group)};
        ag_identity_t id = {.username = ag_str_cstr(user), .groups = groups, .ngroups = 1};
        for (int n = 0; n < 5; n++) {
            for (int k = 0; k < 9; k++) {
                ag_attrs_t at = {.resource_request = true,
                                 .verb = ag_str_cstr(verbs[k % 3]),
                                 .resource = ag_str_cstr(res[k / 3]),
                                 .namespace_ = ag_str_cstr(nss[n])};
                ag_authz_decision_t d;
                ag_authz_result r = ag_rbac_eval_at(p, &id, &at, 1796679000000LL, &d);
                ag_buf_t why = AG_BUF_INIT(4096);
                /* which rule --explain names may differ by scan order; that one exists may not */
                bool closest = r != AG_AUTHZ_ALLOW && ag_rbac_explain_denial(p, &id, &at, &why);
                ag_buf_dispose(&why);
                ag_buf_printf(out, "%d%s", r, closest ? "c" : "");
            }
            ag_arena_t arena;
            ag_arena_init(&arena, 0, 0);
            ag_rules_t rules;
            ag_rules_init(&rules, &arena);
            CHECK_EQ(ag_rbac_rules_for(p, &id, ag_str_cstr(nss[n]), &rules), 0);
            ag_buf_printf(out, " r%d e%d|", rules.n, rules.nerrors);
            ag_arena_dispose(&arena);
        }
        ag_buf_append_cstr(out, "\n");
    }
}

static void who_count(void *ctx, ag_str_t k, ag_str_t ns, ag_str_t n, const ag_authz_decision_t *v)
{
    (void)k, (void)ns, (void)n, (void)v;
    (*(int *)ctx)++;
}

static int who(const ag_rbac_t *p)
{
    int n = 0;
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("ns1")};
    ag_rbac_who_can(p, &at, who_count, &n);
    return n;
}

/* A random binding change (or, rarely, a role change) as a put or a remove. */
static void random_change(ag_rbac_set_t *s, unsigned *seed, int round)
{
    char json[768];
    unsigned r = (*seed = *seed * 1103515245u + 12345u) >> 8;
    int i = (int)(r % 60), ns = (int)((r >> 8) % 4), kind = (int)((r >> 12) % 8);
    if (kind == 0) { /* remove */
        char name[16], nsn[8];
        snprintf(name, sizeof name, "b%d", i);
        snprintf(nsn, sizeof nsn, "ns%d", i % 4);
        ag_rbac_set_remove(s, AG_STR("RoleBinding"), ag_str_cstr(nsn), ag_str_cstr(name));
        return;
    }
    if (kind == 1 && round % 7 == 0) { /* a role change: a full build */
        snprintf(json, sizeof json,
                 "{\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"cr\"},\"rules\":[{\"verbs\":["
                 "\"%s\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"configmaps\"]}]}",
                 round % 2 ? "get" : "delete");
    } else if (kind == 2) {
        snprintf(json, sizeof json,
                 "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"c%d\"},\"roleRef\":{"
                 "\"kind\":\"ClusterRole\",\"name\":\"%s\"},\"subjects\":[{\"kind\":\"Group\","
                 "\"name\":\"g%d\"}]}",
                 i % 6, i % 3 ? "cr" : "missing", (int)(r % 5));
    } else {
        snprintf(json, sizeof json,
                 "{\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"b%d\",\"namespace\":\"ns%d\"%"
                 "s},\"roleRef\":{\"kind\":\"%s\",\"name\":\"%s\"},\"subjects\":[{\"kind\":"
                 "\"User\",\"name\":\"u%d\"},{\"kind\":\"Group\",\"name\":\"g%d\"}]}",
                 i, i % 4,
                 kind == 3
                     ? ",\"annotations\":{\"authgate.io/expires-at\":\"2026-12-07T21:30:00Z\"}"
                     : "",
                 kind == 4 ? "Role" : "ClusterRole",
                 kind == 4   ? "reader"
                 : kind == 5 ? "cr"
                             : "view",
                 (int)(r % 40), ns + (int)(r % 2));
    }
    CHECK_EQ(ag_rbac_set_put(s, ag_str_cstr(json), "chg", NULL, NULL), 0);
}

/* 200 rounds of random changes: every snapshot built as a delta of the last one decides,
 * reviews rules, lists who-can and counts exactly as a full build of the same objects;
 * most of them are deltas, a role change never is. */
TEST(rbac_delta_snapshots_equal_full_builds)
{
    ag_rbac_set_t *s = NULL;
    CHECK_EQ(ag_rbac_set_create(NULL, &s), 0);
    for (int n = 0; n < 4; n++) {
        char json[256];
        snprintf(
            json, sizeof json,
            "{\"kind\":\"Role\",\"metadata\":{\"name\":\"reader\",\"namespace\":\"ns%d\"},"
            "\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],\"resources\":[\"secrets\"]}]}",
            n);
        CHECK_EQ(ag_rbac_set_put(s, ag_str_cstr(json), "r", NULL, NULL), 0);
    }
    unsigned seed = 42;
    for (int k = 0; k < 80; k++)
        random_change(s, &seed, 1);
    ag_rbac_t *prev = NULL;
    int deltas = 0, fulls = 0;
    for (int round = 0; round < 200; round++) {
        int nchanges = 1 + round % 5;
        for (int k = 0; k < nchanges; k++)
            random_change(s, &seed, round);
        ag_rbac_view_t *v = NULL;
        ag_rbac_t *inc = NULL, *full = NULL;
        CHECK_EQ(ag_rbac_set_view(s, &v), 0);
        CHECK_EQ(ag_rbac_view_build_since(v, prev, &inc, NULL), 0);
        CHECK_EQ(ag_rbac_view_build(v, &full, NULL), 0);
        ag_rbac_view_destroy(v);
        if (!inc || !full)
            break;
        deltas += inc->base != NULL, fulls += inc->base == NULL;
        ag_buf_t a = AG_BUF_INIT(1 << 20), b = AG_BUF_INIT(1 << 20);
        fingerprint(inc, &a);
        fingerprint(full, &b);
        if (strcmp(a.p, b.p) != 0 || who(inc) != who(full) ||
            ag_rbac_next_boundary(inc, 0) != ag_rbac_next_boundary(full, 0)) {
            fprintf(stderr, "round %d (%s) differs\n", round, inc->base ? "delta" : "full");
            ag_test_failures++;
        }
        ag_buf_dispose(&a);
        ag_buf_dispose(&b);
        ag_rbac_unref(full);
        ag_rbac_unref(prev);
        prev = inc;
    }
    CHECK(deltas > 100);
    CHECK(fulls > 5);
    ag_rbac_unref(prev);
    ag_rbac_set_destroy(s);
}
