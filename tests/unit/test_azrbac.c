/* Azure RBAC (core/authz/azure/azrbac.c, core/authz/azure/azrbac_load.c,
 * core/authz/azure/azrbac_perm.c): every rule of spec §3-§8 and §13 and every surprise of §15,
 * table-driven, against the built-in role definitions. */
#include <stdarg.h>

#include "authz/azure/azrbac.h"
#include "authz/azure/azrbac_perm.h"
#include "files.h"
#include "testlib.h"

#define SUB "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
#define RG SUB "/resourceGroups/rg1"
#define CLUSTER RG "/providers/Microsoft.ContainerService/managedClusters/web"
#define MC "Microsoft.ContainerService/managedClusters/"

#define R_READER "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
#define R_WRITER "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"
#define R_ADMIN "3498e952-d568-435e-9b2c-8d77e338d7f7"
#define R_CADMIN "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
#define R_CADMIN_ROLE "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
#define R_CUSER "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
#define R_AKS_CONTRIB "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8"
#define R_MONITOR "1afdec4b-e479-420e-99e7-f82237c7c5e6"
#define R_GREADER "acdd72a7-3385-48ef-bd42-f606fba81ae7"
#define R_CONTRIB "b24988ac-6180-42a0-ab88-20f7382dd24c"
#define R_OWNER "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define R_CUSTOM "9d5b4a3c-1111-4222-8333-944455556666"
#define R_CUSTOM2 "9d5b4a3c-1111-4222-8333-944455557777"

#define U1 "aaaaaaaa-0000-4000-8000-000000000001"
#define U2 "aaaaaaaa-0000-4000-8000-000000000002"
#define G1 "bbbbbbbb-0000-4000-8000-000000000001"

#define NO ((int)AG_AUTHZ_NO_OPINION)
#define YES ((int)AG_AUTHZ_ALLOW)
#define DENY ((int)AG_AUTHZ_DENY)

typedef struct {
    const char *principal, *role, *scope, *condition;
} asg_t;

/* A scope "+..." is relative to CLUSTER. */
static void put_scope(ag_buf_t *b, const char *scope)
{
    if (scope[0] == '+')
        ag_buf_printf(b, "%s%s", CLUSTER, scope + 1);
    else
        ag_buf_append_cstr(b, scope);
}

/* Assignments in `az role assignment list --all -o json` shape. */
static void asg_json(ag_buf_t *b, const asg_t *asg, int n)
{
    ag_buf_append_cstr(b, "[");
    for (int i = 0; i < n; i++) {
        ag_buf_printf(b,
                      "%s{\"condition\":%s%s%s,\"conditionVersion\":null,"
                      "\"id\":\"",
                      i ? "," : "", asg[i].condition ? "\"" : "",
                      asg[i].condition ? asg[i].condition : "null", asg[i].condition ? "\"" : "");
        put_scope(b, asg[i].scope);
        ag_buf_printf(b,
                      "/providers/Microsoft.Authorization/roleAssignments/a%d\","
                      "\"name\":\"a%d\",\"principalId\":\"%s\",\"principalType\":\"User\","
                      "\"roleDefinitionId\":\"" SUB "/providers/Microsoft.Authorization/"
                      "roleDefinitions/%s\",\"scope\":\"",
                      i, i, asg[i].principal, asg[i].role);
        put_scope(b, asg[i].scope);
        ag_buf_append_cstr(b, "\",\"type\":\"Microsoft.Authorization/roleAssignments\"}");
    }
    ag_buf_append_cstr(b, "]");
}

static ag_azrbac_t *load_for(const char *cluster, const asg_t *asg, int n, const char *defs,
                             const char *deny)
{
    ag_buf_t b = AG_BUF_INIT(16 << 20), err = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;
    asg_json(&b, asg, n);
    ag_azrbac_opts_t o = {ag_str_cstr(cluster)};
    if (ag_azrbac_load_mem(ag_str_cstr(defs ? defs : ""), ag_buf_str(&b),
                           ag_str_cstr(deny ? deny : ""), &o, &p, &err) != 0)
        fprintf(stderr, "load failed: %s\n", err.p ? err.p : "");
    ag_buf_dispose(&b);
    ag_buf_dispose(&err);
    return p;
}

static ag_azrbac_t *load(const asg_t *asg, int n, const char *defs, const char *deny)
{
    return load_for(CLUSTER, asg, n, defs, deny);
}

typedef struct {
    const char *verb, *group, *resource, *sub, *ns, *path; /* path: non-resource */
} req_t;

static ag_attrs_t attrs_of(req_t r)
{
    ag_attrs_t a = {0};
    a.resource_request = r.path == NULL;
    a.verb = ag_str_cstr(r.verb);
    a.api_group = ag_str_cstr(r.group ? r.group : "");
    a.resource = ag_str_cstr(r.resource);
    a.subresource = ag_str_cstr(r.sub);
    a.namespace_ = ag_str_cstr(r.ns);
    a.path = ag_str_cstr(r.path);
    return a;
}

static ag_authz_result eval_as(const ag_azrbac_t *p, const char *oid, const char *group, req_t r,
                               ag_authz_decision_t *d)
{
    ag_str_t groups[1] = {ag_str_cstr(group)};
    ag_identity_t u = {.username = AG_STR("alice@example.com"),
                       .oid = ag_str_cstr(oid),
                       .groups = groups,
                       .ngroups = group ? 1 : 0,
                       .flags = AG_ID_AZURE_AD};
    ag_attrs_t a = attrs_of(r);
    return ag_azrbac_eval(p, &u, &a, d);
}

/* One principal holding <role> at <scope>, asking <r>. */
static ag_authz_result with_role(const char *role, const char *scope, req_t r)
{
    asg_t asg[] = {{U1, role, scope, NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    ag_authz_result res = p ? eval_as(p, U1, NULL, r, &d) : (ag_authz_result)-1;
    ag_azrbac_unref(p);
    return res;
}

typedef struct {
    const char *role, *scope;
    req_t r;
    int want;
} case_t;

static void run_cases(const case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = with_role(c[i].role, c[i].scope, c[i].r);
        if (got != c[i].want) {
            fprintf(stderr, "case %zu: role %s at %s: %s %s/%s%s%s ns=%s path=%s: got %d want %d\n",
                    i, c[i].role, c[i].scope, c[i].r.verb, c[i].r.group ? c[i].r.group : "",
                    c[i].r.resource ? c[i].r.resource : "", c[i].r.sub ? "/" : "",
                    c[i].r.sub ? c[i].r.sub : "", c[i].r.ns ? c[i].r.ns : "",
                    c[i].r.path ? c[i].r.path : "", got, c[i].want);
            CHECK(!"case failed");
        }
    }
}

/* ---- request -> data action (§8) ---------------------------------------------------- */

TEST(azrbac_data_action_follows_guard_mapping)
{
    static const struct {
        req_t r;
        const char *want;
    } cases[] = {
        {{"get", "", "pods", NULL, "dev", NULL}, MC "pods/read"},
        {{"list", "", "pods", NULL, NULL, NULL}, MC "pods/read"},
        {{"watch", "apps", "deployments", NULL, "dev", NULL}, MC "apps/deployments/read"},
        {{"create", "apps", "deployments", NULL, "dev", NULL}, MC "apps/deployments/write"},
        {{"update", "", "configmaps", NULL, "dev", NULL}, MC "configmaps/write"},
        {{"patch", "", "configmaps", NULL, "dev", NULL}, MC "configmaps/write"},
        {{"delete", "", "secrets", NULL, "dev", NULL}, MC "secrets/delete"},
        {{"deletecollection", "", "secrets", NULL, "dev", NULL}, MC "secrets/delete"},
        {{"bind", "rbac.authorization.k8s.io", "clusterroles", NULL, NULL, NULL},
         MC "rbac.authorization.k8s.io/clusterroles/bind/action"},
        {{"escalate", "rbac.authorization.k8s.io", "roles", NULL, "dev", NULL},
         MC "rbac.authorization.k8s.io/roles/escalate/action"},
        {{"impersonate", "", "users", NULL, NULL, NULL}, MC "users/impersonate/action"},
        {{"use", "policy", "podsecuritypolicies", NULL, NULL, NULL},
         MC "policy/podsecuritypolicies/use/action"},
        /* subresources fold into the resource ... */
        {{"get", "", "pods", "log", "dev", NULL}, MC "pods/read"},
        {{"create", "", "pods", "portforward", "dev", NULL}, MC "pods/write"},
        {{"update", "apps", "deployments", "scale", "dev", NULL}, MC "apps/deployments/write"},
        {{"create", "", "serviceaccounts", "token", "dev", NULL}, MC "serviceaccounts/write"},
        /* ... except pods/exec, for every verb (§15.10) */
        {{"create", "", "pods", "exec", "dev", NULL}, MC "pods/exec/action"},
        {{"get", "", "pods", "exec", "dev", NULL}, MC "pods/exec/action"},
        {{"get", "metrics.k8s.io", "pods", NULL, "dev", NULL}, MC "metrics.k8s.io/pods/read"},
        {{"get", "widgets.example.com", "widgets", NULL, "dev", NULL},
         MC "widgets.example.com/widgets/read"},
        {{"approve", "certificates.k8s.io", "certificatesigningrequests", NULL, NULL, NULL},
         MC "certificates.k8s.io/certificatesigningrequests"},
        {{"*", "", "pods", NULL, "dev", NULL}, MC "pods/*"},
        /* any group includes the core group, which has no segment */
        {{"get", "*", "pods", NULL, "dev", NULL}, MC "*pods/read"},
        {{"*", "*", "*", NULL, NULL, NULL}, MC "**/*"},
        /* non-resource URLs: path without the outer slashes + verb suffix */
        {{"get", NULL, NULL, NULL, NULL, "/healthz"}, MC "healthz/read"},
        {{"get", NULL, NULL, NULL, NULL, "/metrics"}, MC "metrics/read"},
        {{"get", NULL, NULL, NULL, NULL, "/apis"}, MC "apis/read"},
        {{"get", NULL, NULL, NULL, NULL, "/api"}, MC "api/read"},
        {{"get", NULL, NULL, NULL, NULL, "/version/"}, MC "version/read"},
        {{"get", NULL, NULL, NULL, NULL, "/openapi/v2"}, MC "openapi/v2/read"},
        {{"post", NULL, NULL, NULL, NULL, "/logs"}, MC "logs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ag_buf_t out = AG_BUF_INIT(4096);
        ag_attrs_t a = attrs_of(cases[i].r);
        CHECK_EQ(ag_azrbac_data_action(&a, &out), 0);
        if (!out.p || strcmp(out.p, cases[i].want) != 0) {
            fprintf(stderr, "case %zu: got %s\n", i, out.p ? out.p : "(null)");
            CHECK_STREQ(out.p, cases[i].want);
        }
        ag_buf_dispose(&out);
    }
    ag_buf_t out = AG_BUF_INIT(4096);
    ag_attrs_t a = attrs_of((req_t){"get", "", "", NULL, NULL, NULL});
    CHECK_EQ(ag_azrbac_data_action(&a, &out), AG_E_INVAL); /* a resource request needs one */
    a = attrs_of((req_t){"get", "x/y", "pods", NULL, NULL, NULL});
    CHECK_EQ(ag_azrbac_data_action(&a, &out), AG_E_INVAL); /* no forged segments */
    ag_buf_dispose(&out);
}

/* ---- built-in roles (§7, §15.8-9) ------------------------------------------------------ */

TEST(azrbac_rbac_reader_reads_most_but_not_secrets_nodes_or_rbac)
{
    static const case_t c[] = {
        {R_READER, "+", {"get", "", "pods", NULL, "dev", NULL}, YES},
        {R_READER, "+", {"list", "", "pods", NULL, NULL, NULL}, YES},
        {R_READER, "+", {"get", "", "pods", "log", "dev", NULL}, YES},
        {R_READER, "+", {"list", "apps", "deployments", NULL, "dev", NULL}, YES},
        {R_READER, "+", {"get", "", "configmaps", NULL, "dev", NULL}, YES},
        {R_READER, "+", {"get", "", "namespaces", NULL, "dev", NULL}, YES},
        {R_READER, "+", {"get", "metrics.k8s.io", "nodes", NULL, NULL, NULL}, YES},
        {R_READER, "+", {"get", "", "secrets", NULL, "dev", NULL}, NO},
        {R_READER, "+", {"list", "", "secrets", NULL, NULL, NULL}, NO},
        {R_READER, "+", {"get", "", "nodes", NULL, NULL, NULL}, NO},
        {R_READER, "+", {"get", "", "persistentvolumes", NULL, NULL, NULL}, NO},
        {R_READER, "+", {"get", "rbac.authorization.k8s.io", "roles", NULL, "dev", NULL}, NO},
        {R_READER, "+", {"get", "widgets.example.com", "widgets", NULL, "dev", NULL}, NO},
        {R_READER, "+", {"create", "", "pods", NULL, "dev", NULL}, NO},
        {R_READER, "+", {"create", "", "pods", "exec", "dev", NULL}, NO},
        {R_READER, "+", {"get", NULL, NULL, NULL, NULL, "/healthz"}, NO},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

TEST(azrbac_rbac_writer_writes_secrets_execs_but_not_rbac_or_events_k8s_io)
{
    static const case_t c[] = {
        {R_WRITER, "+", {"get", "", "secrets", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"create", "", "secrets", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"create", "", "pods", "exec", "dev", NULL}, YES},
        {R_WRITER, "+", {"get", "", "pods", "exec", "dev", NULL}, YES},
        {R_WRITER, "+", {"impersonate", "", "serviceaccounts", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"create", "", "events", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"get", "events.k8s.io", "events", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"create", "events.k8s.io", "events", NULL, "dev", NULL}, NO},
        {R_WRITER, "+", {"update", "coordination.k8s.io", "leases", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"delete", "apps", "deployments", NULL, "dev", NULL}, YES},
        {R_WRITER, "+", {"update", "apps", "controllerrevisions", NULL, "dev", NULL}, NO},
        {R_WRITER, "+", {"create", "rbac.authorization.k8s.io", "roles", NULL, "dev", NULL}, NO},
        {R_WRITER, "+", {"create", "", "namespaces", NULL, NULL, NULL}, NO},
        {R_WRITER, "+", {"update", "", "resourcequotas", NULL, "dev", NULL}, NO},
        {R_WRITER, "+", {"impersonate", "", "users", NULL, NULL, NULL}, NO},
        {R_WRITER, "+", {"get", "", "nodes", NULL, NULL, NULL}, NO},
        {R_WRITER, "+", {"*", "", "pods", NULL, "dev", NULL}, YES}, /* Writer holds pods/<any> */
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

TEST(azrbac_rbac_admin_is_all_but_namespace_and_quota_writes)
{
    static const case_t c[] = {
        {R_ADMIN, "+", {"create", "", "pods", NULL, "dev", NULL}, YES},
        {R_ADMIN, "+", {"get", "", "nodes", NULL, NULL, NULL}, YES},
        {R_ADMIN, "+", {"impersonate", "", "users", NULL, NULL, NULL}, YES},
        {R_ADMIN, "+", {"impersonate", "", "groups", NULL, NULL, NULL}, YES},
        {R_ADMIN,
         "+",
         {"bind", "rbac.authorization.k8s.io", "clusterroles", NULL, NULL, NULL},
         YES},
        {R_ADMIN,
         "+",
         {"escalate", "rbac.authorization.k8s.io", "clusterroles", NULL, NULL, NULL},
         YES},
        {R_ADMIN, "+", {"get", "widgets.example.com", "widgets", NULL, "dev", NULL}, YES},
        {R_ADMIN, "+", {"get", NULL, NULL, NULL, NULL, "/healthz"}, YES},
        {R_ADMIN, "+", {"get", "", "resourcequotas", NULL, "dev", NULL}, YES},
        {R_ADMIN, "+", {"create", "", "namespaces", NULL, NULL, NULL}, NO},
        {R_ADMIN, "+", {"delete", "", "namespaces", NULL, "dev", NULL}, NO},
        {R_ADMIN, "+", {"update", "", "resourcequotas", NULL, "dev", NULL}, NO},
        {R_ADMIN, "+", {"delete", "", "resourcequotas", NULL, "dev", NULL}, NO},
        /* a wildcard request touching an excluded action fails closed */
        {R_ADMIN, "+", {"*", "", "namespaces", NULL, NULL, NULL}, NO},
        {R_ADMIN, "+", {"*", "*", "*", NULL, NULL, NULL}, NO},
        {R_ADMIN, "+", {"create", "*", "namespaces", NULL, NULL, NULL}, NO},
        {R_ADMIN, "+", {"create", "*", "*", NULL, "dev", NULL}, NO},
        {R_ADMIN, "+", {"get", "*", "*", NULL, NULL, NULL}, YES},
        {R_ADMIN, "+", {"*", "", "pods", NULL, "dev", NULL}, YES},
        /* at namespace scope: namespace admin only */
        {R_ADMIN,
         "+/namespaces/dev",
         {"create", "rbac.authorization.k8s.io", "rolebindings", NULL, "dev", NULL},
         YES},
        {R_ADMIN, "+/namespaces/dev", {"get", "", "nodes", NULL, NULL, NULL}, NO},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

TEST(azrbac_rbac_cluster_admin_can_do_everything)
{
    static const case_t c[] = {
        {R_CADMIN, "+", {"create", "", "namespaces", NULL, NULL, NULL}, YES},
        {R_CADMIN, "+", {"delete", "", "resourcequotas", NULL, "dev", NULL}, YES},
        {R_CADMIN, "+", {"*", "*", "*", NULL, NULL, NULL}, YES},
        {R_CADMIN, "+", {"get", NULL, NULL, NULL, NULL, "/metrics"}, YES},
        {R_CADMIN, "+", {"post", NULL, NULL, NULL, NULL, "/logs"}, YES},
        {R_CADMIN,
         "+",
         {"approve", "certificates.k8s.io", "certificatesigningrequests", NULL, NULL, NULL},
         YES},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* §15.1: Actions never grant DataActions. */
TEST(azrbac_owner_contributor_reader_and_arm_roles_grant_no_kubernetes_access)
{
    const char *roles[] = {R_OWNER, R_CONTRIB,     R_GREADER, R_CADMIN_ROLE,
                           R_CUSER, R_AKS_CONTRIB, R_MONITOR};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        case_t c[] = {
            {roles[i], SUB, {"get", "", "pods", NULL, "dev", NULL}, NO},
            {roles[i], "+", {"list", "", "namespaces", NULL, NULL, NULL}, NO},
            {roles[i], "+", {"get", NULL, NULL, NULL, NULL, "/healthz"}, NO},
        };
        run_cases(c, sizeof c / sizeof c[0]);
    }
}

/* ---- control plane (§2, §15.1-2, §15.5) ---------------------------------------------- */

static ag_authz_result arm(const char *role, const char *scope, const char *action)
{
    asg_t asg[] = {{U1, role, scope, NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    ag_authz_result r =
        p ? ag_azrbac_eval_arm(p, AG_STR(U1), NULL, 0, ag_str_cstr(action), AG_STR_NULL, &d)
          : (ag_authz_result)-1;
    ag_azrbac_unref(p);
    return r;
}

TEST(azrbac_arm_kubeconfig_actions_per_role)
{
    const char *user = MC "listClusterUserCredential/action";
    const char *admin = MC "listClusterAdminCredential/action";
    CHECK_EQ(arm(R_READER, "+", user), NO); /* RBAC Reader/Writer cannot get a kubeconfig */
    CHECK_EQ(arm(R_WRITER, "+", user), NO);
    CHECK_EQ(arm(R_ADMIN, "+", user), YES);
    CHECK_EQ(arm(R_CADMIN, "+", user), YES);
    CHECK_EQ(arm(R_CUSER, "+", user), YES);
    CHECK_EQ(arm(R_ADMIN, "+/namespaces/dev", user), NO); /* checked at cluster scope */
    CHECK_EQ(arm(R_CUSER, RG, user), YES);
    CHECK_EQ(arm(R_OWNER, SUB, admin), YES); /* Owner/Contributor reach the admin kubeconfig */
    CHECK_EQ(arm(R_CONTRIB, RG, admin), YES);
    CHECK_EQ(arm(R_CADMIN_ROLE, "+", admin), YES);
    CHECK_EQ(arm(R_GREADER, "+", admin), NO);
    CHECK_EQ(arm(R_GREADER, "+", MC "read"), YES); /* Reader: any .../read */
    CHECK_EQ(arm(R_CADMIN, "+", admin), NO);
    CHECK_EQ(arm(R_MONITOR, "+", MC "listClusterMonitoringUserCredential/action"), YES);
}

TEST(azrbac_arm_wildcard_mid_string_blocks_role_assignment_writes)
{
    /* Contributor: everything minus Microsoft.Authorization/<any>/Write */
    CHECK_EQ(arm(R_CONTRIB, "+", "Microsoft.Authorization/roleAssignments/write"), NO);
    CHECK_EQ(arm(R_CONTRIB, "+", "microsoft.authorization/ROLEASSIGNMENTS/WRITE"), NO);
    CHECK_EQ(arm(R_CONTRIB, "+", "Microsoft.Authorization/roleAssignments/read"), YES);
    CHECK_EQ(arm(R_CONTRIB, "+", "Microsoft.Compute/virtualMachines/write"), YES);
    CHECK_EQ(arm(R_OWNER, "+", "Microsoft.Authorization/roleAssignments/write"), YES);
    /* Reader's wildcard read crosses '/' */
    CHECK_EQ(arm(R_GREADER, "+", "Microsoft.Compute/virtualMachines/read"), YES);
    CHECK_EQ(arm(R_GREADER, "+", "Microsoft.Compute/virtualMachines/write"), NO);
}

/* ---- scopes (§4, §15.6-7) ------------------------------------------------------------ */

TEST(azrbac_scope_applies_at_cluster_and_parents_only)
{
    req_t pods = {"get", "", "pods", NULL, "dev", NULL};
    static const char *yes[] = {
        "+",
        RG,
        SUB,
        "/",
        CLUSTER "/",
        ("/SUBSCRIPTIONS/0B1F6471-1BF0-4DDA-AEC3-CB9272F09590/resourcegroups"
         "/RG1/providers/microsoft.containerservice/MANAGEDCLUSTERS/Web")};
    static const char *no[] = {
        RG "/providers/Microsoft.ContainerService/managedClusters/other",  /* another cluster */
        RG "/providers/Microsoft.ContainerService/managedClusters/web-eu", /* not by prefix */
        RG "0",                                                            /* rg10 is not rg1 */
        SUB "0",
        "/subscriptions/11111111-1bf0-4dda-aec3-cb9272f09590",
        "/providers/Microsoft.Management/managementGroups/mg1", /* hierarchy unknown */
        "+/namespaces/other",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (with_role(R_CADMIN, yes[i], pods) != YES) {
            fprintf(stderr, "scope should apply: %s\n", yes[i]);
            CHECK(!"scope");
        }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (with_role(R_CADMIN, no[i], pods) != NO) {
            fprintf(stderr, "scope should not apply: %s\n", no[i]);
            CHECK(!"scope");
        }
}

TEST(azrbac_scope_compares_whole_segments_both_ways)
{
    /* the cluster named web-eu does not inherit from an assignment at cluster web */
    asg_t asg[] = {{U1, R_CADMIN, "+", NULL}};
    const char *web_eu = RG "/providers/Microsoft.ContainerService/managedClusters/web-eu";
    ag_azrbac_t *p = load_for(web_eu, asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    CHECK(p != NULL);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), NO);
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK_EQ(st.assignments, 0);
    CHECK_EQ(st.assignments_ignored, 1);
    ag_azrbac_unref(p);
    /* nor does a cluster in resource group rg10 from an assignment at rg1 */
    asg_t at_rg1[] = {{U1, R_CADMIN, RG, NULL}, {U1, R_CUSER, RG, NULL}};
    p = load_for(SUB "/resourceGroups/rg10/providers/Microsoft.ContainerService/"
                     "managedClusters/web",
                 at_rg1, 2, NULL, NULL);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), NO);
    CHECK_EQ(ag_azrbac_eval_arm(p, AG_STR(U1), NULL, 0,
                                AG_STR(MC "listClusterUserCredential/action"), AG_STR_NULL, &d),
             NO);
    ag_azrbac_unref(p);
    CHECK(ag_azscope_covers(AG_STR("/a/ns1"), AG_STR("/a/ns1/x")));
    CHECK(!ag_azscope_covers(AG_STR("/a/ns1"), AG_STR("/a/ns10")));
    CHECK(!ag_azscope_covers(AG_STR("/a/rg-x"), AG_STR("/a/rg-x-2")));
    CHECK(ag_azscope_covers(AG_STR("/"), AG_STR("/a")));
}

TEST(azrbac_namespace_assignment_stays_in_its_namespace)
{
    static const case_t c[] = {
        {R_WRITER, "+/namespaces/ns1", {"create", "", "pods", NULL, "ns1", NULL}, YES},
        {R_WRITER, "+/namespaces/ns1", {"create", "", "pods", NULL, "ns10", NULL}, NO},
        {R_WRITER, "+/namespaces/ns1", {"create", "", "pods", NULL, "ns2", NULL}, NO},
        {R_WRITER, "+/NAMESPACES/NS1", {"get", "", "pods", NULL, "ns1", NULL}, YES},
        /* cluster-wide list/watch, cluster-scoped resources, non-resource URLs: no */
        {R_READER, "+/namespaces/ns1", {"list", "", "pods", NULL, NULL, NULL}, NO},
        {R_READER, "+/namespaces/ns1", {"watch", "", "pods", NULL, NULL, NULL}, NO},
        {R_READER, "+/namespaces/ns1", {"list", "", "namespaces", NULL, NULL, NULL}, NO},
        {R_CADMIN, "+/namespaces/ns1", {"get", "", "nodes", NULL, NULL, NULL}, NO},
        {R_CADMIN, "+/namespaces/ns1", {"get", NULL, NULL, NULL, NULL, "/healthz"}, NO},
        /* but the Namespace object itself is evaluated in its namespace (§8.2) */
        {R_READER, "+/namespaces/ns1", {"get", "", "namespaces", NULL, "ns1", NULL}, YES},
        /* a scope below the namespace never covers a request */
        {R_CADMIN, "+/namespaces/ns1/pods/x", {"get", "", "pods", NULL, "ns1", NULL}, NO},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* ---- union, NotDataActions, deny assignments (§3.3, §5, §15.3-4) ------------------------ */

static const char custom_defs[] =
    "[{\"assignableScopes\":[\"" SUB "\"],\"id\":\"" SUB
    "/providers/Microsoft.Authorization/roleDefinitions/" R_CUSTOM "\",\"name\":\"" R_CUSTOM
    "\",\"permissions\":[{\"actions\":[],\"dataActions\":[\"Microsoft.ContainerService/"
    "managedClusters/*/read\"],\"notActions\":[],\"notDataActions\":[\"" MC
    "secrets/*\"]}],\"roleName\":\"Reads all but secrets\",\"roleType\":\"CustomRole\","
    "\"type\":\"Microsoft.Authorization/roleDefinitions\"},"
    /* no "name": the GUID comes from the end of the id; upper-case permission strings */
    "{\"id\":\"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/" R_CUSTOM2
    "\",\"roleName\":\"Namespace creator\",\"permissions\":[{\"dataActions\":["
    "\"MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/NAMESPACES/WRITE\"]}]}]";

TEST(azrbac_not_data_actions_subtract_only_within_their_role)
{
    asg_t one[] = {{U1, R_ADMIN, "+", NULL}};
    asg_t two[] = {{U1, R_ADMIN, "+", NULL}, {U1, R_CUSTOM2, "+", NULL}};
    req_t mkns = {"create", "", "namespaces", NULL, NULL, NULL};
    ag_authz_decision_t d;
    ag_azrbac_t *p = load(one, 1, custom_defs, NULL);
    CHECK_EQ(eval_as(p, U1, NULL, mkns, &d), NO);
    ag_azrbac_unref(p);
    p = load(two, 2, custom_defs, NULL); /* a second role restores the excluded action */
    CHECK_EQ(eval_as(p, U1, NULL, mkns, &d), YES);
    CHECK_SLICE(d.azure_role, "Namespace creator");
    ag_azrbac_unref(p);

    asg_t mix[] = {{U1, R_CUSTOM, "+", NULL}, {U1, R_WRITER, "+/namespaces/dev", NULL}};
    p = load(mix, 2, custom_defs, NULL);
    req_t sec_dev = {"get", "", "secrets", NULL, "dev", NULL};
    req_t sec_prod = {"get", "", "secrets", NULL, "prod", NULL};
    CHECK_EQ(eval_as(p, U1, NULL, sec_dev, &d), YES); /* Writer in dev */
    CHECK_EQ(eval_as(p, U1, NULL, sec_prod, &d), NO); /* custom role excludes secrets */
    /* MC/<any>/read reads CRDs (§8.4) but writes nothing */
    CHECK_EQ(eval_as(p, U1, NULL,
                     (req_t){"list", "widgets.example.com", "widgets", NULL, "prod", NULL}, &d),
             YES);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"create", "", "pods", NULL, "prod", NULL}, &d), NO);
    ag_azrbac_unref(p);
}

static const char deny_json[] =
    "{\"value\":[{\"id\":\"" CLUSTER "/providers/Microsoft.Authorization/denyAssignments/"
    "d1\",\"name\":\"d1\",\"properties\":{\"denyAssignmentName\":\"no secrets\","
    "\"permissions\":[{\"actions\":[],\"notActions\":[],\"dataActions\":[\"" MC
    "secrets/*\"],\"notDataActions\":[\"" MC "secrets/delete\"]}],"
    "\"scope\":\"" CLUSTER "\",\"doNotApplyToChildScopes\":false,"
    "\"principals\":[{\"id\":\"00000000-0000-0000-0000-000000000000\",\"type\":"
    "\"SystemDefined\"}],\"excludePrincipals\":[{\"id\":\"" U2 "\",\"type\":\"User\"}],"
    "\"isSystemProtected\":true}},"
    "{\"id\":\"" CLUSTER "/providers/Microsoft.Authorization/denyAssignments/d2\","
    "\"properties\":{\"denyAssignmentName\":\"no cluster-scope node writes\","
    "\"permissions\":[{\"dataActions\":[\"" MC "nodes/*\"]}],\"scope\":\"" CLUSTER "\","
    "\"doNotApplyToChildScopes\":true,\"principals\":[{\"id\":\"" G1 "\",\"type\":\"Group\"}]}},"
    "{\"id\":\"" RG "/providers/Microsoft.ContainerService/managedClusters/other/providers/"
    "Microsoft.Authorization/denyAssignments/d3\",\"properties\":{\"permissions\":[{"
    "\"dataActions\":[\"*\"]}],\"principals\":[{\"id\":\"00000000-0000-0000-0000-000000000000\","
    "\"type\":\"SystemDefined\"}]}}]}";

TEST(azrbac_deny_assignment_wins_over_any_grant)
{
    asg_t asg[] = {{U1, R_CADMIN, "+", NULL}, {U2, R_CADMIN, "+", NULL}};
    ag_azrbac_t *p = load(asg, 2, NULL, deny_json);
    ag_authz_decision_t d;
    CHECK(p != NULL);
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK_EQ(st.deny_assignments, 2); /* d3 is at another cluster */
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "secrets", NULL, "dev", NULL}, &d), DENY);
    CHECK_SLICE(d.azure_role, "no secrets");
    CHECK(d.error == NULL);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), YES);
    /* the deny's NotDataActions carve an exception out of the denied set */
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"delete", "", "secrets", NULL, "dev", NULL}, &d), YES);
    /* excluded principal */
    CHECK_EQ(eval_as(p, U2, NULL, (req_t){"get", "", "secrets", NULL, "dev", NULL}, &d), YES);
    /* a wildcard request that touches a denied action is denied */
    CHECK_EQ(eval_as(p, U2, G1, (req_t){"*", "", "*", NULL, NULL, NULL}, &d), DENY);
    /* doNotApplyToChildScopes: cluster scope only, and only for the group's members */
    req_t node = {"update", "", "nodes", NULL, NULL, NULL};
    CHECK_EQ(eval_as(p, U2, G1, node, &d), DENY);
    CHECK_EQ(eval_as(p, U2, NULL, node, &d), YES);
    ag_azrbac_unref(p);

    /* in a namespace, the exact-scope deny does not apply */
    const char *nsdeny = "[{\"properties\":{\"scope\":\"" CLUSTER "\",\"doNotApplyToChildScopes\""
                         ":true,\"permissions\":[{\"dataActions\":[\"" MC "*\"]}],"
                         "\"principals\":[{\"id\":\"" U1 "\",\"type\":\"User\"}]}}]";
    p = load(asg, 2, NULL, nsdeny);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), YES);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"list", "", "pods", NULL, NULL, NULL}, &d), DENY);
    ag_azrbac_unref(p);
}

/* ---- principals, groups, conditions, role ids (§3.1, §6, §13.3, §15.11) ----------------- */

TEST(azrbac_groups_and_object_ids_compare_case_insensitively)
{
    asg_t asg[] = {{"BBBBBBBB-0000-4000-8000-000000000001", R_READER, "+", NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    req_t pods = {"get", "", "pods", NULL, "dev", NULL};
    CHECK_EQ(eval_as(p, U1, G1, pods, &d), YES);
    CHECK_EQ(eval_as(p, U1, "bbbbbbbb-0000-4000-8000-00000000000", pods, &d), NO);
    CHECK_EQ(eval_as(p, U1, NULL, pods, &d), NO);
    CHECK_EQ(eval_as(p, G1, NULL, pods, &d), YES); /* the oid is matched like any principal */
    CHECK_EQ(eval_as(p, "BBBBBBBB-0000-4000-8000-000000000001", NULL, pods, &d), YES);
    /* an identity without a GUID oid fails closed */
    CHECK_EQ(eval_as(p, "alice", G1, pods, &d), DENY);
    CHECK(d.error != NULL);
    CHECK_EQ(eval_as(p, NULL, G1, pods, &d), DENY);
    ag_azrbac_unref(p);
}

TEST(azrbac_conditional_and_unknown_role_assignments_grant_nothing)
{
    asg_t asg[] = {
        {U1, R_CADMIN, "+", "@Request[x] StringEquals 'y'"},
        {U2, "12345678-1234-1234-1234-123456789012", "+", NULL},
    };
    ag_azrbac_t *p = load(asg, 2, NULL, NULL);
    ag_authz_decision_t d;
    req_t pods = {"get", "", "pods", NULL, "dev", NULL};
    CHECK_EQ(eval_as(p, U1, NULL, pods, &d), NO);
    CHECK_EQ(eval_as(p, U2, NULL, pods, &d), NO);
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK_EQ(st.assignments_conditional, 1);
    CHECK_EQ(st.assignments_unknown_role, 1);
    CHECK_EQ(st.roles, 11);
    ag_azrbac_unref(p);
}

TEST(azrbac_role_definitions_match_by_guid_across_subscriptions)
{
    /* the same built-in referenced from another subscription, in REST shape */
    const char *asg = "{\"value\":[{\"id\":\"" CLUSTER "/providers/Microsoft.Authorization/"
                      "roleAssignments/r1\",\"properties\":{\"principalId\":\"" U1 "\","
                      "\"roleDefinitionId\":\"/subscriptions/ffffffff-1bf0-4dda-aec3-"
                      "cb9272f09590/providers/Microsoft.Authorization/roleDefinitions/"
                      "7F6C6A51-BCF8-42BA-9220-52D62157D7DB\"}}]}";
    ag_azrbac_opts_t o = {AG_STR(CLUSTER)};
    ag_azrbac_t *p = NULL;
    CHECK_EQ(ag_azrbac_load_mem(AG_STR_NULL, ag_str_cstr(asg), AG_STR_NULL, &o, &p, NULL), 0);
    ag_authz_decision_t d;
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), YES);
    CHECK_SLICE(d.azure_role, "Azure Kubernetes Service RBAC Reader");
    CHECK_SLICE(d.azure_scope, CLUSTER); /* scope taken from the assignment id */
    ag_azrbac_unref(p);
}

TEST(azrbac_supplied_definition_replaces_builtin_with_same_guid)
{
    const char *defs = "[{\"name\":\"" R_READER "\",\"roleName\":\"Reader (live)\","
                       "\"permissions\":[{\"dataActions\":[\"" MC "secrets/read\"]}]}]";
    asg_t asg[] = {{U1, R_READER, "+", NULL}};
    ag_azrbac_t *p = load(asg, 1, defs, NULL);
    ag_authz_decision_t d;
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "secrets", NULL, "dev", NULL}, &d), YES);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), NO);
    ag_azrbac_unref(p);
}

/* ---- index, reasons, loading --------------------------------------------------------- */

TEST(azrbac_index_finds_each_principal_among_many)
{
    enum { N = 2000 };
    static asg_t asg[N];
    static char ids[N][37];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "cccccccc-0000-4000-8000-%012d", i);
        asg[i] =
            (asg_t){ids[i], i % 2 ? R_READER : R_WRITER, i % 3 ? "+" : "+/namespaces/dev", NULL};
    }
    ag_azrbac_t *p = load(asg, N, NULL, NULL);
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK_EQ(st.principals, N);
    ag_authz_decision_t d;
    req_t sec = {"get", "", "secrets", NULL, "prod", NULL};
    int yes = 0;
    for (int i = 0; i < N; i++)
        yes += eval_as(p, ids[i], NULL, sec, &d) == YES;
    /* writers (even i) at cluster scope (i % 3 != 0) */
    int want = 0;
    for (int i = 0; i < N; i++)
        want += i % 2 == 0 && i % 3 != 0;
    CHECK_EQ(yes, want);
    ag_azrbac_unref(p);
}

TEST(azrbac_reasons_name_assignment_role_scope_and_action)
{
    asg_t asg[] = {{U1, R_READER, "+/namespaces/dev", NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    ag_buf_t out = AG_BUF_INIT(4096);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "pods", NULL, "dev", NULL}, &d), YES);
    CHECK_EQ(d.source, AG_AUTHZ_BY_AZURE);
    CHECK_EQ(ag_azrbac_reason(&d, &out), 0);
    CHECK_STREQ(out.p, "Azure RBAC: allowed by role assignment \"" CLUSTER
                       "/namespaces/dev/providers/Microsoft.Authorization/roleAssignments/a0\""
                       " of role \"Azure Kubernetes Service RBAC Reader\" at scope \"" CLUSTER
                       "/namespaces/dev\" (" MC "pods/read)");
    ag_buf_clear(&out);
    CHECK_EQ(eval_as(p, U1, NULL, (req_t){"get", "", "secrets", NULL, "dev", NULL}, &d), NO);
    CHECK_EQ(ag_azrbac_reason(&d, &out), 0);
    CHECK_STREQ(out.p, "Azure RBAC: no role assignment grants " MC
                       "secrets/read at scope \"" CLUSTER "/namespaces/dev\"");
    ag_buf_dispose(&out);
    ag_azrbac_unref(p);
}

static ag_err load_err(const char *asg, const char *cluster, char *msg, size_t cap)
{
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;
    ag_azrbac_opts_t o = {ag_str_cstr(cluster)};
    ag_err e = ag_azrbac_load_mem(AG_STR_NULL, ag_str_cstr(asg), AG_STR_NULL, &o, &p, &err);
    snprintf(msg, cap, "%s", err.p ? err.p : "");
    ag_azrbac_unref(p);
    ag_buf_dispose(&err);
    return e;
}

TEST(azrbac_load_rejects_malformed_input_with_location)
{
    char msg[512];
    CHECK_EQ(load_err("[{\"principalId\":", CLUSTER, msg, sizeof msg), AG_E_PARSE);
    CHECK(strncmp(msg, "role assignments:1:", 19) == 0);
    CHECK_EQ(load_err("[{\"principalId\":\"bob\",\"roleDefinitionId\":\"x/" R_READER
                      "\",\"scope\":\"/\"}]",
                      CLUSTER, msg, sizeof msg),
             AG_E_PARSE);
    CHECK_STREQ(msg, "role assignments: [0].principalId: expected an object id (GUID)");
    CHECK_EQ(load_err("[{\"principalId\":\"" U1 "\",\"roleDefinitionId\":\"x/" R_READER
                      "\",\"scope\":7}]",
                      CLUSTER, msg, sizeof msg),
             AG_E_PARSE);
    CHECK_STREQ(msg, "role assignments: [0].scope: expected a string");
    CHECK_EQ(load_err("[{\"principalId\":\"" U1 "\",\"roleDefinitionId\":\"x/" R_READER
                      "\",\"scope\":\"subscriptions//x\"}]",
                      CLUSTER, msg, sizeof msg),
             AG_E_PARSE);
    CHECK_EQ(load_err("[1]", CLUSTER, msg, sizeof msg), AG_E_PARSE);
    CHECK_EQ(load_err("[]", "", msg, sizeof msg), AG_E_CONFIG);
    CHECK_EQ(load_err("[]", "web", msg, sizeof msg), AG_E_CONFIG);
    CHECK_EQ(load_err("[]", CLUSTER, msg, sizeof msg), 0);
}

TEST(azrbac_loads_files_and_the_sample_configs)
{
    const char *defs[] = {"config/azure/role-definitions.json"};
    const char *asg[] = {"config/azure/role-assignments.json"};
    const char *deny[] = {"config/azure/deny-assignments.json"};
    ag_azrbac_opts_t o = {AG_STR(CLUSTER)};
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;
    CHECK_EQ(ag_azrbac_load(defs, 1, asg, 1, deny, 1, &o, &p, &err), 0);
    if (err.n)
        fprintf(stderr, "%s\n", err.p);
    CHECK(p != NULL);
    if (p) {
        ag_azrbac_stats_t st;
        ag_azrbac_stats(p, &st);
        CHECK(st.assignments >= 4);
        CHECK(st.assignments_ignored >= 1);
        CHECK_EQ(st.deny_assignments, 1);
        ag_azrbac_ref(p);
        ag_azrbac_unref(p);
        ag_azrbac_unref(p);
    }
    const char *missing[] = {"config/azure/no-such-file.json"};
    ag_buf_clear(&err);
    CHECK_EQ(ag_azrbac_load(NULL, 0, missing, 1, NULL, 0, &o, &p, &err), AG_E_IO);
    CHECK(strstr(err.p, "no-such-file.json") != NULL);
    ag_buf_dispose(&err);
}

TEST(azperm_glob_star_crosses_slashes_and_sits_anywhere)
{
    CHECK(ag_azperm_glob(AG_STR("*/read"), AG_STR("microsoft.compute/virtualmachines/read")));
    CHECK(ag_azperm_glob(AG_STR("mc/*/read"), AG_STR("mc/widgets.example.com/widgets/read")));
    CHECK(!ag_azperm_glob(AG_STR("mc/*/read"), AG_STR("mc/pods/write")));
    CHECK(ag_azperm_glob(AG_STR("mc/*/read"), AG_STR("mc/secrets/read"))); /* §15.5 */
    CHECK(ag_azperm_glob(AG_STR("a/*/b/*/c"), AG_STR("a/x/b/y/b/z/c")));
    CHECK(!ag_azperm_glob(AG_STR("mc/pods"), AG_STR("mc/pods/read")));
    CHECK(ag_azperm_glob(AG_STR("*"), AG_STR("")));
}

TEST(azrbac_infers_the_one_cluster_an_export_names)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    CHECK_EQ(ag_azrbac_infer_cluster(
                 AG_STR("[{\"scope\":\"" SUB "\"},{\"scope\":\"" CLUSTER
                        "/namespaces/dev\"},{\"properties\":{\"scope\":\"" CLUSTER "\"}}]"),
                 &out),
             0);
    CHECK_STREQ(out.p, CLUSTER);
    ag_buf_clear(&out);
    CHECK_EQ(ag_azrbac_infer_cluster(
                 AG_STR("[{\"scope\":\"" CLUSTER "\"},{\"scope\":\"" CLUSTER "-eu\"}]"), &out),
             AG_E_DUPLICATE);
    CHECK_EQ(ag_azrbac_infer_cluster(AG_STR("[{\"scope\":\"" SUB "\"}]"), &out), AG_E_NOT_FOUND);
    CHECK_EQ(ag_azrbac_infer_cluster(AG_STR("[{\"scope\":"), &out), AG_E_PARSE);
    ag_buf_dispose(&out);
}

TEST(azperm_guid_parse_accepts_only_8_4_4_4_12_hex)
{
    ag_az_guid_t a, b;
    CHECK(ag_az_guid_parse(AG_STR("7f6c6a51-bcf8-42ba-9220-52d62157d7db"), &a));
    CHECK(ag_az_guid_parse(AG_STR("7F6C6A51-BCF8-42BA-9220-52D62157D7DB"), &b));
    CHECK(ag_az_guid_eq(a, b));
    CHECK_EQ(a.hi, 0x7f6c6a51bcf842baULL);
    CHECK_EQ(a.lo, (long long)0x922052d62157d7dbULL);
    const char *bad[] = {
        "7f6c6a51-bcf8-42ba-9220-52d62157d7dg", "7f6c6a51bcf8-42ba-9220-52d62157d7db0",
        "7f6c6a51-bcf8-42ba-9220-52d62157d7d",  "",
        "7f6c6a51-bcf8-42ba-9220 52d62157d7db", "7f6c6a51-bcf8-42ba-9220-52d62157d7d\xdb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!ag_az_guid_parse(ag_str_cstr(bad[i]), &a));
}

/* "group/resource" -> attrs for verb <verb> in namespace dev */
static req_t res_of(const char *gr, const char *verb, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", gr);
    char *slash = strchr(buf, '/');
    req_t r = {verb, "", buf, NULL, "dev", NULL};
    if (slash) {
        *slash = '\0';
        r.group = buf;
        r.resource = slash + 1;
    }
    return r;
}

/* Spec §7 lists R (Reader) and W (Writer), merged: each resource once, with what each role
 * holds on it. Reader: list yes, update no. Writer: WILD allows every verb, RO reads only. */
enum { W_NONE, W_WILD, W_RO };
typedef struct {
    const char *gr; /* "group/resource" */
    bool in_r;
    int w;
} spec_res_t;

static const spec_res_t spec_res[] = {
    {"apps/controllerrevisions", true, W_RO},
    {"apps/daemonsets", true, W_WILD},
    {"apps/deployments", true, W_WILD},
    {"apps/replicasets", true, W_WILD},
    {"apps/statefulsets", true, W_WILD},
    {"autoscaling/horizontalpodautoscalers", true, W_WILD},
    {"batch/cronjobs", true, W_WILD},
    {"batch/jobs", true, W_WILD},
    {"configmaps", true, W_WILD},
    {"discovery.k8s.io/endpointslices", true, W_RO},
    {"endpoints", true, W_WILD},
    {"events.k8s.io/events", true, W_RO},
    {"events", true, W_WILD},
    {"extensions/daemonsets", true, W_WILD},
    {"extensions/deployments", true, W_WILD},
    {"extensions/ingresses", true, W_WILD},
    {"extensions/networkpolicies", true, W_WILD},
    {"extensions/replicasets", true, W_WILD},
    {"limitranges", true, W_RO},
    {"metrics.k8s.io/pods", true, W_RO},
    {"metrics.k8s.io/nodes", true, W_RO},
    {"namespaces", true, W_RO},
    {"networking.k8s.io/ingresses", true, W_WILD},
    {"networking.k8s.io/networkpolicies", true, W_WILD},
    {"persistentvolumeclaims", true, W_WILD},
    {"pods", true, W_WILD},
    {"policy/poddisruptionbudgets", true, W_WILD},
    {"replicationcontrollers", true, W_WILD},
    {"resourcequotas", true, W_RO},
    {"secrets", false, W_WILD},
    {"serviceaccounts", true, W_WILD},
    {"services", true, W_WILD},
};

static size_t count_spec_res(bool in_r, int w)
{
    size_t n = 0;
    for (size_t i = 0; i < AG_NELEMS(spec_res); i++)
        n += in_r ? spec_res[i].in_r : spec_res[i].w == w;
    return n;
}

/* Spec §7 list R, entry by entry: read yes, write no. */
TEST(azrbac_rbac_reader_matches_spec_list_r)
{
    CHECK_EQ(count_spec_res(true, 0), 31);
    asg_t asg[] = {{U1, R_READER, "+", NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    char buf[128];
    for (size_t i = 0; i < AG_NELEMS(spec_res); i++) {
        const char *gr = spec_res[i].gr;
        if (!spec_res[i].in_r)
            continue;
        if (eval_as(p, U1, NULL, res_of(gr, "list", buf, sizeof buf), &d) != YES ||
            eval_as(p, U1, NULL, res_of(gr, "update", buf, sizeof buf), &d) != NO) {
            fprintf(stderr, "reader: %s\n", gr);
            CHECK(!"list R");
        }
    }
    ag_azrbac_unref(p);
}

/* Spec §7 list W: wildcard entries (x/<any>) allow every verb, the others exactly what they
 * name. */
TEST(azrbac_rbac_writer_matches_spec_list_w)
{
    static const char *verbs[] = {"get",    "list",  "watch",  "create",
                                  "update", "patch", "delete", "deletecollection"};
    asg_t asg[] = {{U1, R_WRITER, "+", NULL}};
    ag_azrbac_t *p = load(asg, 1, NULL, NULL);
    ag_authz_decision_t d;
    char buf[128];
    /* 24 wildcards + 8 read-only + leases read/write/delete = 35 entries */
    CHECK_EQ(count_spec_res(false, W_WILD), 24);
    CHECK_EQ(count_spec_res(false, W_WILD) + count_spec_res(false, W_RO) + 3, 35);
    for (size_t i = 0; i < AG_NELEMS(spec_res); i++) {
        const char *gr = spec_res[i].gr;
        for (size_t v = 0; spec_res[i].w == W_WILD && v < AG_NELEMS(verbs); v++)
            if (eval_as(p, U1, NULL, res_of(gr, verbs[v], buf, sizeof buf), &d) != YES) {
                fprintf(stderr, "writer: %s %s\n", verbs[v], gr);
                CHECK(!"list W wildcard");
            }
        if (spec_res[i].w == W_RO &&
            (eval_as(p, U1, NULL, res_of(gr, "get", buf, sizeof buf), &d) != YES ||
             eval_as(p, U1, NULL, res_of(gr, "patch", buf, sizeof buf), &d) != NO ||
             eval_as(p, U1, NULL, res_of(gr, "delete", buf, sizeof buf), &d) != NO)) {
            fprintf(stderr, "writer: %s\n", gr);
            CHECK(!"list W read-only");
        }
    }
    const char *leases = "coordination.k8s.io/leases";
    CHECK_EQ(eval_as(p, U1, NULL, res_of(leases, "get", buf, sizeof buf), &d), YES);
    CHECK_EQ(eval_as(p, U1, NULL, res_of(leases, "update", buf, sizeof buf), &d), YES);
    CHECK_EQ(eval_as(p, U1, NULL, res_of(leases, "delete", buf, sizeof buf), &d), YES);
    CHECK_EQ(eval_as(p, U1, NULL, res_of(leases, "bind", buf, sizeof buf), &d), NO);
    ag_azrbac_unref(p);
}

/* The explanation of <r>'s denial for U1 (in group G1), "" when none (static buffer). */
static const char *near_of(const asg_t *asg, int n, req_t r)
{
    static char out[2048];
    ag_azrbac_t *p = load(asg, n, NULL, NULL);
    ag_authz_decision_t d;
    ag_buf_t b = AG_BUF_INIT(4096);
    ag_str_t groups[1] = {AG_STR(G1)};
    ag_identity_t u = {.oid = AG_STR(U1), .groups = groups, .ngroups = 1};
    ag_attrs_t a = attrs_of(r);
    CHECK(ag_azrbac_eval(p, &u, &a, &d) != AG_AUTHZ_ALLOW);
    bool found = ag_azrbac_explain_denial(p, &u, &a, &d, &b);
    CHECK_EQ(found, b.n > 0);
    snprintf(out, sizeof out, "%s", ag_buf_str(&b).p);
    ag_buf_dispose(&b);
    ag_azrbac_unref(p);
    return out;
}

TEST(azrbac_explain_names_the_assignment_one_field_away)
{
    req_t prod = {"get", "", "pods", NULL, "prod", NULL};
    /* the role grants it in another namespace: the scope is the missing field */
    asg_t in_dev[] = {{U1, R_READER, "+/namespaces/dev", NULL}};
    CHECK_STREQ(near_of(in_dev, 1, prod),
                "closest: role assignment \"" CLUSTER "/namespaces/dev/providers/"
                "Microsoft.Authorization/roleAssignments/a0\" of role \"Azure Kubernetes Service "
                "RBAC Reader\" at scope \"" CLUSTER "/namespaces/dev\"; it grants " MC
                "pods/read there, not at scope \"" CLUSTER "/namespaces/prod\"");
    /* a group's assignment applies here, its role lacks the action */
    asg_t reader[] = {{G1, R_READER, "+", NULL}};
    req_t del = {"delete", "", "pods", NULL, "prod", NULL};
    CHECK(strstr(near_of(reader, 1, del), "; the role does not grant " MC "pods/delete") != NULL);
    /* a scope miss is preferred to an action miss */
    asg_t both[] = {{U1, R_CUSER, "+", NULL}, {U1, R_READER, "+/namespaces/dev", NULL}};
    CHECK(strstr(near_of(both, 2, prod), "not at scope") != NULL);
    /* two fields away (wrong namespace and an action the role lacks): nothing */
    CHECK_STREQ(near_of(in_dev, 1, del), "");
    /* conditional assignments grant nothing and explain nothing */
    asg_t cond[] = {{U1, R_READER, "+/namespaces/dev", "@Resource[x] StringEquals 'y'"}};
    CHECK_STREQ(near_of(cond, 1, prod), "");
}

/* ---- data actions as Kubernetes rules (azrbac_rules.c; kubectl auth can-i --list) ------------ */

#define R_MAP "9d5b4a3c-1111-4222-8333-944455558888"
#define R_ODD "9d5b4a3c-1111-4222-8333-944455559999"
static const char map_defs[] =
    "[{\"id\":\"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/" R_MAP
    "\",\"roleName\":\"Map\",\"permissions\":[{\"dataActions\":[\"" MC "pods/read\",\"" MC
    "apps/deployments/*\",\"" MC "batch/*\",\"" MC "pods/exec/action\",\"" MC "healthz/read\",\"" MC
    "rbac.authorization.k8s.io/clusterroles/bind/action\",\"" MC
    "configmaps/delete\",\"Microsoft.Storage/storageAccounts/blobServices/read\"]}]},"
    "{\"id\":\"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/" R_ODD
    "\",\"roleName\":\"Odd\",\"permissions\":[{\"dataActions\":[\"" MC "secrets/re*d\"]}]}]";

/* The rules U1 (plus <groups>) has in <ns>, as kubectl prints them. */
static void rules_table(ag_azrbac_t *p, const char *ns, ag_buf_t *out, bool *incomplete)
{
    ag_arena_t a;
    ag_rules_t r;
    ag_identity_t u = {
        .username = AG_STR("u1@contoso.com"), .oid = AG_STR(U1), .flags = AG_ID_AZURE_AD};
    ag_arena_init(&a, 0, 0);
    ag_rules_init(&r, &a);
    CHECK_EQ(ag_azrbac_rules_for(p, &u, ag_str_cstr(ns), &r), 0);
    ag_buf_clear(out);
    CHECK_EQ(ag_rules_print_table(out, &r, true), 0);
    *incomplete = r.incomplete;
    ag_arena_dispose(&a);
}

TEST(azrbac_rules_translate_data_actions)
{
    asg_t asg[] = {{U1, R_MAP, "+/namespaces/dev", NULL}};
    ag_azrbac_t *p = load(asg, 1, map_defs, NULL);
    ag_buf_t t = AG_BUF_INIT(1 << 16);
    bool inc;
    rules_table(p, "dev", &t, &inc);
    CHECK(!inc);
    /* batch/ * is group batch and core resource batch; Microsoft.Storage is not Kubernetes;
     * sorted as kubectl sorts (by the PolicyRule's text: verbs, then groups, ...) */
    CHECK_STREQ(t.p,
                "batch                                    []           []    [*]\n"
                "pods/exec                                []           []    [*]\n"
                "deployments.apps                         []           []    [*]\n"
                "*.batch                                  []           []    [*]\n"
                "clusterroles.rbac.authorization.k8s.io   []           []    [bind]\n"
                "configmaps                               []           []    "
                "[delete deletecollection]\n"
                "pods                                     []           []    [get list watch]\n"
                "                                         [/healthz]   []    [get]\n");
    rules_table(p, "prod", &t, &inc); /* the assignment is in dev only */
    CHECK_EQ(t.n, 0);
    ag_azrbac_unref(p);
    ag_buf_dispose(&t);
}

TEST(azrbac_rules_mark_what_they_cannot_say)
{
    ag_buf_t t = AG_BUF_INIT(1 << 16);
    bool inc;
    asg_t odd[] = {{U1, R_ODD, "+", NULL}}; /* '*' inside a segment */
    ag_azrbac_t *p = load(odd, 1, map_defs, NULL);
    rules_table(p, "dev", &t, &inc);
    CHECK(inc);
    CHECK_EQ(t.n, 0);
    ag_azrbac_unref(p);
    asg_t nda[] = {{U1, R_CUSTOM, "+", NULL}}; /* all reads except secrets: NotDataActions */
    p = load(nda, 1, custom_defs, NULL);
    rules_table(p, "dev", &t, &inc);
    CHECK(inc);
    CHECK_STREQ(t.p, "*.*   []    []    [get list watch]\n"
                     "      [*]   []    [get]\n");
    ag_azrbac_unref(p);
    asg_t cadmin[] = {{U1, R_CADMIN, "+", NULL}}; /* managedClusters/ * : everything */
    p = load(cadmin, 1, NULL, NULL);
    rules_table(p, "dev", &t, &inc);
    CHECK(!inc);
    CHECK_STREQ(t.p, "*.*   []    []    [*]\n"
                     "      [*]   []    [*]\n");
    ag_azrbac_unref(p);
    asg_t cond[] = {{U1, R_READER, "+", "@Resource[x] == 'y'"}}; /* ABAC: not evaluated */
    p = load(cond, 1, NULL, NULL);
    rules_table(p, "dev", &t, &inc);
    CHECK(inc);
    CHECK_EQ(t.n, 0);
    ag_azrbac_unref(p);
    ag_buf_dispose(&t);
}
