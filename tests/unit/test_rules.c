/* The rule resolver behind SelfSubjectRulesReview (rbac.h ag_rbac_rules_for, authz_chain.h
 * ag_authz_chain_rules) and the review / kubectl table writers (core/authz/rules.h). Policies
 * are written with ' for " to keep them readable. */
#include <stdlib.h>

#include "authz/authz_chain.h"
#include "authz/rbac/rbac.h"
#include "authz/rules.h"
#include "testlib.h"

static char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

#define RB(kind, ns, name, rk, role, skind, sname)                                                 \
    "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'" kind "','metadata':{'name':'" name     \
    "'" ns "},'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'" rk "','name':'" role     \
    "'},'subjects':[{'kind':'" skind "','name':'" sname "'"                                        \
    ", 'namespace':'dev'}]}"

static const char policy[] =
    "{'kind':'List','apiVersion':'v1','items':["
    "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'ClusterRole','metadata':{'name':"
    "'pods-reader'},'rules':[{'apiGroups':[''],'resources':['pods','pods/log'],'verbs':"
    "['get','list']},{'nonResourceURLs':['/metrics'],'verbs':['get']}]},"
    "{'apiVersion':'rbac.authorization.k8s.io/v1','kind':'Role','metadata':{'name':'deployer',"
    "'namespace':'dev'},'rules':[{'apiGroups':['apps'],'resources':['deployments'],'verbs':"
    "['update'],'resourceNames':['web']},{'apiGroups':['apps'],'resources':['deployments'],"
    "'verbs':['get']}]}," RB(
        "ClusterRoleBinding", "", "readers", "ClusterRole", "pods-reader", "Group",
        "devs") "," RB("RoleBinding", ",'namespace':'dev'", "deployers", "Role", "deployer", "User",
                       "alice") "," RB("RoleBinding", ",'namespace':'prod'", "prod", "Role",
                                       "deployer", "User",
                                       "alice") "," RB("RoleBinding", ",'namespace':'dev'",
                                                       "broken", "ClusterRole", "gone", "User",
                                                       "alice") "," RB("RoleBinding",
                                                                       ",'namespace':'dev'",
                                                                       "broken2", "Role", "gone2",
                                                                       "Group",
                                                                       "devs") "," RB("RoleBinding",
                                                                                      ",'namespace'"
                                                                                      ":'dev'",
                                                                                      "sa", "Role",
                                                                                      "deployer",
                                                                                      "ServiceAccou"
                                                                                      "nt",
                                                                                      "ci") "]}";

static ag_rbac_t *load(void)
{
    ag_rbac_t *p = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    char *j = dq(policy);
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_load_mem(ag_str_cstr(j), "t.json", &o, &p, &err), 0);
    if (err.n)
        fprintf(stderr, "%s\n", err.p);
    ag_buf_dispose(&err);
    free(j);
    return p;
}

static const ag_str_t devs[] = {AG_STR("devs"), AG_STR("system:authenticated")};

/* The review JSON for <user> in <ns> over <p> (RBAC only). */
static void review(const ag_rbac_t *p, const ag_identity_t *u, const char *ns, ag_buf_t *out)
{
    ag_arena_t a;
    ag_rules_t r;
    ag_authz_chain_t c = {.mode = AG_CHAIN_RBAC_ONLY, .rbac = p};
    ag_arena_init(&a, 0, 0);
    ag_rules_init(&r, &a);
    CHECK_EQ(ag_authz_chain_rules(&c, u, ag_str_cstr(ns), &r), 0);
    ag_buf_clear(out);
    CHECK_EQ(ag_rules_write_review(out, AG_STR("authorization.k8s.io/v1"), ag_str_cstr(ns), &r), 0);
    ag_arena_dispose(&a);
}

TEST(rules_for_lists_cluster_then_namespace_bindings_that_name_the_user)
{
    ag_rbac_t *p = load();
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_identity_t alice = {.username = AG_STR("alice"), .groups = devs, .ngroups = 2};
    review(p, &alice, "dev", &out);
    CHECK_STREQ(out.p,
                "{\"kind\":\"SelfSubjectRulesReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
                "\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"namespace\":\"dev\"},"
                "\"status\":{\"resourceRules\":[{\"verbs\":[\"get\",\"list\"],\"apiGroups\":"
                "[\"\"],\"resources\":[\"pods\",\"pods/log\"]},{\"verbs\":[\"update\"],"
                "\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"],\"resourceNames\":"
                "[\"web\"]},{\"verbs\":[\"get\"],\"apiGroups\":[\"apps\"],\"resources\":"
                "[\"deployments\"]}],\"nonResourceRules\":[{\"verbs\":[\"get\"],"
                "\"nonResourceURLs\":[\"/metrics\"]}],\"incomplete\":false,\"evaluationError\":"
                "\"[clusterrole.rbac.authorization.k8s.io \\\"gone\\\" not found, "
                "role.rbac.authorization.k8s.io \\\"gone2\\\" not found]\"}}");
    /* another namespace: the cluster binding only, and no errors */
    review(p, &alice, "kube-system", &out);
    CHECK(strstr(out.p, "\"resources\":[\"deployments\"]") == NULL);
    CHECK(strstr(out.p, "\"incomplete\":false}}") != NULL);
    /* the service account system:serviceaccount:dev:ci, by its user name */
    ag_identity_t sa = {.username = AG_STR("system:serviceaccount:dev:ci")};
    review(p, &sa, "dev", &out);
    CHECK(strstr(out.p, "\"resourceNames\":[\"web\"]") != NULL);
    CHECK(strstr(out.p, "pods") == NULL);
    /* nobody: empty lists, as kube-apiserver writes them */
    ag_identity_t bob = {.username = AG_STR("bob")};
    review(p, &bob, "dev", &out);
    CHECK(strstr(out.p, "\"status\":{\"resourceRules\":[],\"nonResourceRules\":[],"
                        "\"incomplete\":false}}") != NULL);
    ag_rbac_unref(p);
    ag_buf_dispose(&out);
}

TEST(rules_for_system_masters_has_everything_first)
{
    ag_rbac_t *p = load();
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    static const ag_str_t masters[] = {AG_STR("system:masters")};
    ag_identity_t root = {.username = AG_STR("root"), .groups = masters, .ngroups = 1};
    review(p, &root, "dev", &out);
    CHECK(strstr(out.p, "\"resourceRules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],"
                        "\"resources\":[\"*\"]}],\"nonResourceRules\":[{\"verbs\":[\"*\"],"
                        "\"nonResourceURLs\":[\"*\"]}]") != NULL);
    ag_rbac_unref(p);
    ag_buf_dispose(&out);
}

/* kubectl's table: broken down per group/resource/name, verbs merged, sorted by the rule's
 * text, URL rows not merged (a URL granted twice shows twice, as kubectl shows it). */
TEST(rules_table_is_kubectls)
{
    ag_arena_t a;
    ag_rules_t r;
    static const ag_str_t get[] = {AG_STR("get")}, list[] = {AG_STR("list"), AG_STR("get")},
                          core[] = {AG_STR("")}, apps[] = {AG_STR("apps"), AG_STR("extensions")},
                          res[] = {AG_STR("deployments/scale"), AG_STR("pods")},
                          url[] = {AG_STR("/healthz")}, names[] = {AG_STR("a"), AG_STR("b")};
    ag_rule_t r1 = {{get, 1}, {apps, 2}, {res, 2}, {NULL, 0}, {NULL, 0}};
    ag_rule_t r2 = {{list, 2}, {apps, 1}, {res, 1}, {NULL, 0}, {url, 1}};
    ag_rule_t r3 = {{get, 1}, {core, 1}, {res + 1, 1}, {names, 2}, {NULL, 0}};
    ag_rule_t r4 = {{get, 1}, {NULL, 0}, {NULL, 0}, {NULL, 0}, {url, 1}};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_arena_init(&a, 0, 0);
    ag_rules_init(&r, &a);
    CHECK_EQ(ag_rules_add(&r, &r1) | ag_rules_add(&r, &r2) | ag_rules_add(&r, &r3) |
                 ag_rules_add(&r, &r4),
             0);
    CHECK_EQ(ag_rules_print_table(&out, &r, false), 0);
    /* PolicyRule.String() order: "Verbs:[get list]" < "Verbs:[get]" (' ' < ']'), and
     * "APIGroups:[]" < "APIGroups:[apps]" (']' < 'a') */
    CHECK_STREQ(out.p,
                "Resources                      Non-Resource URLs   Resource Names   Verbs\n"
                "deployments.apps/scale         []                  []               [get list]\n"
                "                               [/healthz]          []               [get]\n"
                "pods                           []                  [a]              [get]\n"
                "pods                           []                  [b]              [get]\n"
                "pods.apps                      []                  []               [get]\n"
                "deployments.extensions/scale   []                  []               [get]\n"
                "pods.extensions                []                  []               [get]\n"
                "                               [/healthz]          []               [list get]\n");
    ag_arena_dispose(&a);
    ag_buf_dispose(&out);
}

/* azure-then-rbac: Azure's "no" is final for Azure AD users, except for the reviews of their
 * own access, which RBAC's system:basic-user grants (else kubectl auth can-i is refused). */
TEST(chain_self_reviews_fall_back_to_rbac_for_azure_users)
{
    ag_rbac_t *rbac = NULL;
    ag_azrbac_t *az = NULL;
    ag_rbac_opts_t ro = AG_RBAC_OPTS_DEFAULT; /* bootstrap: system:basic-user */
    ag_azrbac_opts_t ao = {AG_STR("/subscriptions/s/resourceGroups/rg/providers/"
                                  "Microsoft.ContainerService/managedClusters/c")};
    CHECK_EQ(ag_rbac_load_mem(AG_STR("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[]}"),
                              "t.json", &ro, &rbac, NULL),
             0);
    CHECK_EQ(ag_azrbac_load_mem(AG_STR_NULL, AG_STR("[]"), AG_STR_NULL, &ao, &az, NULL), 0);
    ag_authz_chain_t c = {.mode = AG_CHAIN_AZURE_THEN_RBAC, .rbac = rbac, .azure = az};
    static const ag_str_t auth[] = {AG_STR("system:authenticated")};
    ag_identity_t u = {.username = AG_STR("a@contoso.com"),
                       .groups = auth,
                       .ngroups = 1,
                       .flags = AG_ID_AZURE_AD,
                       .oid = AG_STR("aaaaaaaa-0000-4000-8000-000000000001")};
    ag_attrs_t ssar = {.resource_request = true,
                       .verb = AG_STR("create"),
                       .api_group = AG_STR("authorization.k8s.io"),
                       .resource = AG_STR("selfsubjectaccessreviews")};
    ag_attrs_t sar = ssar, pods = {.resource_request = true,
                                   .verb = AG_STR("get"),
                                   .resource = AG_STR("pods"),
                                   .namespace_ = AG_STR("d")};
    sar.resource = AG_STR("subjectaccessreviews");
    ag_authz_decision_t d;
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &ssar, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &sar, &d), AG_AUTHZ_DENY);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_DENY);
    /* and --list shows exactly those three */
    ag_arena_t a;
    ag_rules_t r;
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    ag_arena_init(&a, 0, 0);
    ag_rules_init(&r, &a);
    CHECK_EQ(ag_authz_chain_rules(&c, &u, AG_STR("d"), &r), 0);
    CHECK_EQ(ag_rules_print_table(&out, &r, true), 0);
    CHECK_STREQ(out.p, "selfsubjectreviews.authentication.k8s.io        []    []    [create]\n"
                       "selfsubjectaccessreviews.authorization.k8s.io   []    []    [create]\n"
                       "selfsubjectrulesreviews.authorization.k8s.io    []    []    [create]\n");
    ag_arena_dispose(&a);
    ag_buf_dispose(&out);
    ag_azrbac_unref(az);
    ag_rbac_unref(rbac);
}
