/* The authorizer chain (core/authz/authz_chain.c): who decides (Azure RBAC for Azure AD
 * identities, Kubernetes RBAC for the rest) and how the modes combine, with the real
 * Azure RBAC and Kubernetes RBAC engines and with an injected RBAC stub. */
#include "authz/authz_chain.h"
#include "review/sar.h"
#include "testlib.h"

#define CLUSTER                                                                                    \
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/"            \
    "Microsoft.ContainerService/managedClusters/web"
#define OID "aaaaaaaa-0000-4000-8000-000000000001"
#define GID "bbbbbbbb-0000-4000-8000-000000000001"
#define R_READER "7f6c6a51-bcf8-42ba-9220-52d62157d7db"

/* alice holds RBAC Reader in namespace dev; group GID holds it cluster-wide */
static const char assignments[] =
    "[{\"principalId\":\"" OID "\",\"roleDefinitionId\":\"/providers/Microsoft.Authorization/"
    "roleDefinitions/" R_READER "\",\"scope\":\"" CLUSTER "/namespaces/dev\",\"id\":\"a1\"},"
    "{\"principalId\":\"" GID "\",\"roleDefinitionId\":\"/providers/Microsoft.Authorization/"
    "roleDefinitions/" R_READER "\",\"scope\":\"" CLUSTER "\",\"id\":\"a2\"}]";

/* Kubernetes RBAC: alice (by name) may read secrets in dev; the service account may
 * list pods everywhere. */
static const char rbac_policy[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
    "{\"name\":\"secrets\",\"namespace\":\"dev\"},\"rules\":[{\"apiGroups\":[\"\"],"
    "\"resources\":[\"secrets\"],\"verbs\":[\"get\"]}]},"
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
    "{\"name\":\"alice-secrets\",\"namespace\":\"dev\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"secrets\"},\"subjects\":"
    "[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"alice\"}]},"
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
    "{\"name\":\"pod-lister\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
    "\"verbs\":[\"list\"]}]},"
    "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
    "\"metadata\":{\"name\":\"sa-pods\"},\"roleRef\":{\"apiGroup\":"
    "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"pod-lister\"},"
    "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"ci\",\"namespace\":\"ci\"}]}]}";

typedef struct {
    ag_rbac_t *rbac;
    ag_azrbac_t *azure;
} fixture_t;

static fixture_t setup(void)
{
    fixture_t f = {0};
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_azrbac_opts_t o = {AG_STR(CLUSTER)};
    CHECK_EQ(ag_rbac_load_mem(AG_STR(rbac_policy), "rbac", NULL, &f.rbac, &err), 0);
    CHECK_EQ(ag_azrbac_load_mem(AG_STR_NULL, AG_STR(assignments), AG_STR_NULL, &o, &f.azure, &err),
             0);
    if (err.n)
        fprintf(stderr, "%s\n", err.p);
    ag_buf_dispose(&err);
    return f;
}

static void teardown(fixture_t *f)
{
    ag_rbac_unref(f->rbac);
    ag_azrbac_unref(f->azure);
}

static const ag_str_t alice_groups[] = {AG_STR(GID)};

static ag_identity_t alice(bool in_group)
{
    return (ag_identity_t){.username = AG_STR("alice"),
                           .oid = AG_STR(OID),
                           .groups = alice_groups,
                           .ngroups = in_group ? 1 : 0,
                           .flags = AG_ID_AZURE_AD};
}

static ag_attrs_t res(const char *verb, const char *resource, const char *ns)
{
    return (ag_attrs_t){.resource_request = true,
                        .verb = ag_str_cstr(verb),
                        .resource = ag_str_cstr(resource),
                        .namespace_ = ag_str_cstr(ns)};
}

TEST(chain_azure_decides_for_azure_ad_identities_and_its_no_is_final)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_THEN_RBAC, f.rbac, f.azure, NULL};
    ag_identity_t u = alice(false);
    ag_authz_decision_t d;
    ag_attrs_t pods = res("get", "pods", "dev"), secrets = res("get", "secrets", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_AZURE);
    CHECK_SLICE(d.assignment_id, "a1");
    /* Kubernetes RBAC would allow alice's secrets read, but Azure decides for her */
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &secrets, &d), AG_AUTHZ_DENY);
    CHECK_EQ(d.source, AG_AUTHZ_BY_AZURE);
    CHECK_SLICE(d.data_action, "Microsoft.ContainerService/managedClusters/secrets/read");
    CHECK_SLICE(d.azure_scope, CLUSTER "/namespaces/dev");
    /* the group's cluster-wide assignment counts */
    ag_attrs_t list_all = res("list", "pods", NULL);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &list_all, &d), AG_AUTHZ_DENY);
    u = alice(true);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &list_all, &d), AG_AUTHZ_ALLOW);
    CHECK_SLICE(d.assignment_id, "a2");
    teardown(&f);
}

TEST(chain_non_azure_identities_go_to_kubernetes_rbac_only)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_THEN_RBAC, f.rbac, f.azure, NULL};
    ag_authz_decision_t d;
    /* a service account whose groups happen to contain a GUID with Azure assignments */
    const ag_str_t groups[] = {AG_STR(GID), AG_STR("system:serviceaccounts")};
    ag_identity_t sa = {.username = AG_STR("system:serviceaccount:ci:ci"),
                        .groups = groups,
                        .ngroups = 2,
                        .flags = AG_ID_SERVICE_ACCOUNT};
    ag_attrs_t list_all = res("list", "pods", NULL), get_pod = res("get", "pods", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &sa, &list_all, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_RBAC);
    CHECK_EQ(ag_authz_chain_eval(&c, &sa, &get_pod, &d), AG_AUTHZ_NO_OPINION);
    /* system: users are not Azure's even when flagged (guard's first rule) */
    sa.flags |= AG_ID_AZURE_AD;
    sa.oid = AG_STR(OID);
    CHECK_EQ(ag_authz_chain_eval(&c, &sa, &get_pod, &d), AG_AUTHZ_NO_OPINION);
    CHECK(!ag_identity_is_azure(&sa));
    /* a client-certificate user without the flag: RBAC */
    ag_identity_t cert = {.username = AG_STR("alice"), .flags = AG_ID_CLIENT_CERT};
    ag_attrs_t secrets = res("get", "secrets", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &cert, &secrets, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_RBAC);
    teardown(&f);
}

TEST(chain_rbac_only_ignores_azure_assignments)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_RBAC_ONLY, f.rbac, f.azure, NULL};
    ag_identity_t u = alice(true);
    ag_authz_decision_t d;
    ag_attrs_t pods = res("get", "pods", "dev"), secrets = res("get", "secrets", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_NO_OPINION);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &secrets, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_RBAC);
    teardown(&f);
}

TEST(chain_azure_or_rbac_lets_rbac_allow_but_deny_assignments_win)
{
    static const char deny[] =
        "[{\"properties\":{\"scope\":\"" CLUSTER "\",\"permissions\":[{\"dataActions\":["
        "\"Microsoft.ContainerService/managedClusters/pods/*\"]}],\"principals\":[{\"id\":"
        "\"00000000-0000-0000-0000-000000000000\",\"type\":\"SystemDefined\"}]}}]";
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_OR_RBAC, f.rbac, f.azure, NULL};
    ag_identity_t u = alice(false);
    ag_authz_decision_t d;
    ag_attrs_t secrets = res("get", "secrets", "dev"), cm = res("get", "configmaps", "dev");
    ag_attrs_t nodes = res("get", "nodes", NULL), pods = res("get", "pods", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &secrets, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_RBAC);
    CHECK_SLICE(d.binding_name, "alice-secrets");
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &cm, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.source, AG_AUTHZ_BY_AZURE);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &nodes, &d), AG_AUTHZ_DENY);
    CHECK_EQ(d.source, AG_AUTHZ_BY_AZURE);
    CHECK_SLICE(d.data_action, "Microsoft.ContainerService/managedClusters/nodes/read");
    ag_azrbac_unref(f.azure);
    ag_azrbac_opts_t o = {AG_STR(CLUSTER)};
    CHECK_EQ(ag_azrbac_load_mem(AG_STR_NULL, AG_STR(assignments), AG_STR(deny), &o, &f.azure, NULL),
             0);
    c.azure = f.azure;
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_DENY);
    CHECK(d.assignment_id.n > 0); /* names the deny assignment */
    teardown(&f);
}

TEST(chain_fails_closed_without_an_azure_policy_or_oid)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_OR_RBAC, f.rbac, NULL, NULL};
    ag_identity_t u = alice(true);
    ag_authz_decision_t d;
    ag_attrs_t secrets = res("get", "secrets", "dev");
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &secrets, &d), AG_AUTHZ_DENY);
    CHECK(d.error != NULL);
    c.azure = f.azure;
    u.oid = AG_STR_NULL; /* flagged Azure AD but no object id */
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &secrets, &d), AG_AUTHZ_DENY);
    CHECK(d.error != NULL);
    teardown(&f);
}

static int stub_calls;
static ag_authz_result stub_allow(const ag_rbac_t *p, const ag_identity_t *user,
                                  const ag_attrs_t *a, ag_authz_decision_t *d)
{
    (void)p, (void)user, (void)a;
    stub_calls++;
    d->source = AG_AUTHZ_BY_RBAC;
    d->binding_name = AG_STR("stub");
    return d->result = AG_AUTHZ_ALLOW;
}

TEST(chain_asks_rbac_only_where_the_mode_says)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_THEN_RBAC, f.rbac, f.azure, stub_allow};
    ag_identity_t u = alice(false);
    ag_identity_t sa = {.username = AG_STR("system:serviceaccount:a:b")};
    ag_authz_decision_t d;
    ag_attrs_t nodes = res("get", "nodes", NULL), pods = res("get", "pods", "dev");
    stub_calls = 0;
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &nodes, &d), AG_AUTHZ_DENY);
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(stub_calls, 0);
    CHECK_EQ(ag_authz_chain_eval(&c, &sa, &nodes, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(stub_calls, 1);
    c.mode = AG_CHAIN_AZURE_OR_RBAC;
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &pods, &d), AG_AUTHZ_ALLOW); /* Azure grants: */
    CHECK_EQ(stub_calls, 1);                                          /* RBAC not asked */
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &nodes, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(stub_calls, 2);
    CHECK_SLICE(d.binding_name, "stub");
    c.mode = AG_CHAIN_RBAC_ONLY;
    CHECK_EQ(ag_authz_chain_eval(&c, &u, &nodes, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(stub_calls, 3);
    teardown(&f);
}

TEST(chain_identity_from_sar_extra_oid)
{
    const ag_str_t one[] = {AG_STR(OID)};
    const ag_str_t two[] = {AG_STR(OID), AG_STR(GID)};
    ag_extra_t extra[] = {{AG_STR("scopes"), one, 1}, {AG_STR("oid"), one, 1}};
    ag_identity_t u = {.username = AG_STR("alice@contoso.com"), .extra = extra, .nextra = 2};
    CHECK(!ag_identity_is_azure(&u));
    CHECK(ag_identity_azure_from_extra(&u));
    CHECK(ag_identity_is_azure(&u));
    CHECK_SLICE(u.oid, OID);
    extra[1].values = two;
    extra[1].nvalues = 2;
    ag_identity_t v = {.username = AG_STR("bob"), .extra = extra, .nextra = 2};
    CHECK(ag_identity_azure_from_extra(&v));
    CHECK(v.flags & AG_ID_AZURE_AD);
    CHECK_EQ(v.oid.n, 0); /* ambiguous: Azure RBAC will fail closed */
    ag_identity_t w = {.username = AG_STR("carol"), .extra = extra, .nextra = 1};
    CHECK(!ag_identity_azure_from_extra(&w));
    CHECK_EQ(w.flags, 0);
}

TEST(chain_mode_names_round_trip)
{
    ag_chain_mode m;
    const char *names[] = {"rbac", "azure-then-rbac", "azure-or-rbac"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(ag_chain_mode_parse(ag_str_cstr(names[i]), &m), 0);
        CHECK_EQ(m, i);
        CHECK_STREQ(ag_chain_mode_name(m), names[i]);
    }
    CHECK_EQ(ag_chain_mode_parse(AG_STR("azure"), &m), AG_E_INVAL);
}

/* A SubjectAccessReview as AKS's API server sends it: Azure AD users carry extra.oid. */
static void review(const ag_authz_chain_t *c, const char *user, const char *extra,
                   const char *attrs, ag_buf_t *resp)
{
    ag_buf_t body = AG_BUF_INIT(1 << 16);
    ag_arena_t arena;
    int status = 0;
    ag_arena_init(&arena, 0, 0);
    ag_buf_printf(&body,
                  "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                  "\"SubjectAccessReview\",\"spec\":{\"user\":\"%s\",\"groups\":[\"%s\","
                  "\"system:authenticated\"],%s\"resourceAttributes\":{%s}}}",
                  user, GID, extra, attrs);
    ag_buf_clear(resp);
    CHECK_EQ(ag_sar_handle(ag_buf_str(&body), ag_authz_chain_sar_decide, (void *)c, &arena, resp,
                           &status),
             0);
    CHECK_EQ(status, 201);
    ag_buf_dispose(&body);
    ag_arena_dispose(&arena);
}

TEST(chain_through_the_subjectaccessreview_webhook)
{
    fixture_t f = setup();
    ag_authz_chain_t c = {AG_CHAIN_AZURE_THEN_RBAC, f.rbac, f.azure, NULL};
    ag_buf_t resp = AG_BUF_INIT(1 << 16);
    const char *oid = "\"extra\":{\"oid\":[\"" OID "\"]},";
    /* Azure AD (extra.oid): the group's cluster-wide Reader allows listing pods */
    review(&c, "alice", oid, "\"verb\":\"list\",\"resource\":\"pods\"", &resp);
    CHECK(strstr(resp.p, "\"allowed\":true") != NULL);
    CHECK(strstr(resp.p, "Azure RBAC") != NULL);
    /* ... but not secrets, even though Kubernetes RBAC binds alice: denied, final */
    review(&c, "alice", oid, "\"verb\":\"get\",\"resource\":\"secrets\",\"namespace\":\"dev\"",
           &resp);
    CHECK(strstr(resp.p, "\"allowed\":false") != NULL);
    CHECK(strstr(resp.p, "\"denied\":true") != NULL);
    CHECK(strstr(resp.p, "secrets/read") != NULL);
    /* without extra.oid the same user is Kubernetes RBAC's: allowed by the RoleBinding */
    review(&c, "alice", "", "\"verb\":\"get\",\"resource\":\"secrets\",\"namespace\":\"dev\"",
           &resp);
    CHECK(strstr(resp.p, "\"allowed\":true") != NULL);
    /* and RBAC's "no" leaves the decision to other authorizers (no denied:true) */
    review(&c, "alice", "", "\"verb\":\"list\",\"resource\":\"pods\"", &resp);
    CHECK(strstr(resp.p, "\"allowed\":false") != NULL);
    CHECK(strstr(resp.p, "\"denied\":true") == NULL);
    ag_buf_dispose(&resp);
    teardown(&f);
}
