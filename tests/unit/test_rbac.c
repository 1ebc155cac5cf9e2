/* Kubernetes RBAC: rule semantics, binding resolution, aggregation, bootstrap policy and
 * loading, written from reference §2, §4, §5, §7.2 and §11 (one named case per
 * surprise). Policies are written with ' for " to keep them readable. */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/authz_chain.h"
#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_int.h" /* index_mem: which storage a big index landed in */
#include "authz/reqinfo.h"
#include "files.h"
#include "testlib.h"

static char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static ag_rbac_t *load(const char *json_sq, bool bootstrap)
{
    char *j = dq(json_sq);
    ag_rbac_opts_t o = {.bootstrap = bootstrap};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_err e = ag_rbac_load_mem(ag_str_cstr(j), "test.json", &o, &p, &err);
    if (e)
        fprintf(stderr, "load failed: %s\n", err.p ? err.p : ag_err_str(e));
    CHECK_EQ(e, 0);
    ag_buf_dispose(&err);
    free(j);
    return p;
}

/* Load error text, or "" when it loaded. */
static char *load_err(const char *json_sq)
{
    static char msg[1024];
    char *j = dq(json_sq);
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_err e = ag_rbac_load_mem(ag_str_cstr(j), "f.json", &o, &p, &err);
    snprintf(msg, sizeof msg, "%s", e ? (err.p ? err.p : "?") : "");
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    free(j);
    return msg;
}

/* user "name" with groups "g1,g2" */
typedef struct {
    ag_identity_t id;
    ag_str_t g[8];
} user_t;

static user_t mkuser(const char *name, const char *groups)
{
    user_t u = {0};
    u.id.username = ag_str_cstr(name);
    ag_str_t rest = ag_str_cstr(groups);
    while (rest.p && rest.n && u.id.ngroups < 8) {
        ag_str_t g;
        rest = ag_str_split(rest, ',', &g);
        u.g[u.id.ngroups++] = g;
    }
    return u;
}

/* Decision for a request "METHOD /target" by <name> in <groups>. */
static bool can(const ag_rbac_t *p, const char *name, const char *groups, const char *method,
                const char *target)
{
    user_t u = mkuser(name, groups);
    u.id.groups = u.g;
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_attrs_t at;
    CHECK_EQ(ag_reqinfo_parse(ag_str_cstr(method), ag_str_cstr(target), &a, &at), 0);
    ag_authz_decision_t d;
    ag_authz_result r = ag_rbac_eval(p, &u.id, &at, &d);
    CHECK(r != AG_AUTHZ_DENY);
    ag_arena_dispose(&a);
    return r == AG_AUTHZ_ALLOW;
}

/* Decision for explicit attributes (verbs like impersonate). */
static bool can_attrs(const ag_rbac_t *p, const char *name, const char *groups, ag_attrs_t at)
{
    user_t u = mkuser(name, groups);
    u.id.groups = u.g;
    ag_authz_decision_t d;
    return ag_rbac_eval(p, &u.id, &at, &d) == AG_AUTHZ_ALLOW;
}

#define CR(name, rules)                                                                            \
    "{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/v1','metadata':{'name':'" name  \
    "'},'rules':[" rules "]}"
#define CRB(name, role, subj)                                                                      \
    "{'kind':'ClusterRoleBinding','apiVersion':'rbac.authorization.k8s.io/"                        \
    "v1','metadata':{'name':'" name                                                                \
    "'},'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'ClusterRole','name':'" role      \
    "'},'subjects':[" subj "]}"
#define RB(ns, name, kind, role, subj)                                                             \
    "{'kind':'RoleBinding','apiVersion':'rbac.authorization.k8s.io/v1','metadata':{'name':'" name  \
    "','namespace':'" ns "'},'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'" kind      \
    "','name':'" role "'},'subjects':[" subj "]}"
#define ROLE(ns, name, rules)                                                                      \
    "{'kind':'Role','apiVersion':'rbac.authorization.k8s.io/v1','metadata':{'name':'" name         \
    "','namespace':'" ns "'},'rules':[" rules "]}"
/* A List of the given objects (NULL-terminated, joined with ','); static buffer. */
static const char *list_of(const char *first, ...)
{
    static char buf[16384];
    va_list ap;
    snprintf(buf, sizeof buf, "{'apiVersion':'v1','kind':'List','items':[");
    va_start(ap, first);
    bool any = false;
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        if (!*s)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s%s", any ? "," : "", s);
        any = true;
    }
    va_end(ap);
    size_t n = strlen(buf);
    snprintf(buf + n, sizeof buf - n, "]}");
    return buf;
}
#define LIST(...) list_of("", ##__VA_ARGS__, NULL)
#define USER(n) "{'kind':'User','apiGroup':'rbac.authorization.k8s.io','name':'" n "'}"
#define GROUP(n) "{'kind':'Group','apiGroup':'rbac.authorization.k8s.io','name':'" n "'}"
#define SA(ns, n) "{'kind':'ServiceAccount','name':'" n "','namespace':'" ns "'}"

/* one ClusterRole "r" with <rules> bound cluster-wide to user alice */
static ag_rbac_t *alice_with(const char *rules)
{
    return load(LIST(rules, CRB("b", "r", USER("alice"))), false);
}

static char *role_json(const char *rules)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/"
             "v1','metadata':{'name':'r'},'rules':[%s]}",
             rules);
    return buf;
}

TEST(rbac_verbs_match_exactly_or_by_star)
{
    ag_rbac_t *p = alice_with(role_json("{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods"));
    CHECK(!can(p, "bob", "", "GET", "/api/v1/namespaces/ns/pods/x"));
    ag_attrs_t at = {.resource_request = true, .verb = AG_STR("GET"), .resource = AG_STR("pods")};
    CHECK(!can_attrs(p, "alice", "", at)); /* verbs are case-sensitive: GET is not get */
    ag_rbac_unref(p);
    p = alice_with(role_json("{'verbs':['*'],'apiGroups':[''],'resources':['pods']}"));
    at.verb = AG_STR("frobnicate");
    CHECK(can_attrs(p, "alice", "", at));
    CHECK(can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns/pods"));
    ag_rbac_unref(p);
}

TEST(rbac_core_group_is_the_empty_string)
{
    ag_rbac_t *p =
        alice_with(role_json("{'verbs':['get'],'apiGroups':['core'],'resources':['pods']}"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x"));
    ag_rbac_unref(p);
    p = alice_with(role_json("{'verbs':['get'],'apiGroups':['apps'],'resources':['deployments']}"));
    CHECK(can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d"));
    CHECK(!can(p, "alice", "", "GET", "/apis/extensions/v1beta1/namespaces/ns/deployments/d"));
    CHECK(!can(p, "alice", "", "GET", "/apis/Apps/v1/namespaces/ns/deployments/d"));
    ag_rbac_unref(p);
}

/* §11.3 */
TEST(rbac_resource_star_includes_subresources_but_pods_excludes_pods_log)
{
    ag_rbac_t *p = alice_with(role_json("{'verbs':['get'],'apiGroups':['*'],'resources':['*']}"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x/log"));
    CHECK(can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale"));
    CHECK(!can(p, "alice", "", "GET", "/api")); /* says nothing about non-resource URLs */
    ag_rbac_unref(p);
    p = alice_with(role_json("{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x/log"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x/status"));
    ag_rbac_unref(p);
    p = alice_with(role_json("{'verbs':['get'],'apiGroups':[''],'resources':['pods/status']}"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x/status"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/x"));
    ag_rbac_unref(p);
}

/* §11.2 */
TEST(rbac_only_star_and_star_slash_sub_are_wildcards)
{
    ag_rbac_t *p =
        alice_with(role_json("{'verbs':['get'],'apiGroups':['*'],'resources':['*/scale']}"));
    CHECK(can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale"));
    CHECK(can(p, "alice", "", "GET", "/apis/x.io/v1/namespaces/ns/foos/f/scale"));
    CHECK(!can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/scale/d"));
    CHECK(!can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/status"));
    ag_rbac_unref(p);
    p = alice_with(
        role_json("{'verbs':['get'],'apiGroups':['apps'],'resources':['deployments/*','*/*']}"));
    CHECK(!can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/status"));
    CHECK(!can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d"));
    CHECK(can(p, "alice", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/*"));
    ag_rbac_unref(p);
}

/* §11.4 */
TEST(rbac_resource_names_do_not_grant_list)
{
    ag_rbac_t *p =
        alice_with(role_json("{'verbs':['get','list','watch','create','delete','deletecollection'],"
                             "'apiGroups':[''],'resources':['pods'],'resourceNames':['web']}"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/web"));
    CHECK(can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns/pods/web"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/other"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods?watch=1"));
    CHECK(!can(p, "alice", "", "POST", "/api/v1/namespaces/ns/pods"));
    CHECK(!can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns/pods"));
    /* a list becomes named only by an exact metadata.name field selector that decodes */
    CHECK(
        can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb"));
    CHECK(can(p, "alice", "", "GET",
              "/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name%3Dweb"));
    CHECK(!can(p, "alice", "", "GET",
               "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb&limit=abc"));
    CHECK(!can(p, "alice", "", "GET",
               "/api/v1/namespaces/ns/pods?fieldSelector=metadata.name!%3Dweb"));
    ag_rbac_unref(p);
}

/* §11.5 */
TEST(rbac_non_resource_head_is_not_get_and_star_is_a_raw_prefix)
{
    ag_rbac_t *p = alice_with(role_json(
        "{'verbs':['get'],'nonResourceURLs':['/healthz','/debug/pprof*','/apis/*','/logs/*']}"));
    CHECK(can(p, "alice", "", "GET", "/healthz"));
    CHECK(!can(p, "alice", "", "HEAD", "/healthz"));
    CHECK(!can(p, "alice", "", "POST", "/healthz"));
    CHECK(!can(p, "alice", "", "GET", "/healthz/etcd"));
    CHECK(can(p, "alice", "", "GET", "/debug/pprofile"));
    CHECK(can(p, "alice", "", "GET", "/apis/"));
    CHECK(can(p, "alice", "", "GET", "/apis/apps"));
    CHECK(!can(p, "alice", "", "GET", "/apis"));
    CHECK(!can(p, "alice", "", "GET", "/logsfoo"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods/healthz")); /* resource request */
    ag_rbac_unref(p);
    p = alice_with(role_json("{'verbs':['get'],'nonResourceURLs':['/a*b']}"));
    CHECK(!can(p, "alice", "", "GET", "/axb")); /* '*' not at the end is literal */
    ag_rbac_unref(p);
}

/* §11.6 */
TEST(rbac_rolebindings_never_apply_without_a_namespace)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['*'],'apiGroups':['*'],'resources':['*']},{'verbs':"
                                     "['get'],'nonResourceURLs':['*']}"),
                             RB("ns", "b", "ClusterRole", "r", USER("alice"))),
                        false);
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods"));
    CHECK(can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns/secrets/s"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/other/pods"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/pods"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/nodes/n"));
    CHECK(!can(p, "alice", "", "GET", "/healthz"));
    ag_rbac_unref(p);
}

/* §11.7 */
TEST(rbac_namespace_object_is_reached_by_namespaced_grants)
{
    ag_rbac_t *p =
        load(LIST(ROLE("ns1", "all", "{'verbs':['*'],'apiGroups':['*'],'resources':['*']}"),
                  RB("ns1", "b", "Role", "all", USER("alice"))),
             false);
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns1"));
    CHECK(can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns1"));
    CHECK(!can(p, "alice", "", "DELETE", "/api/v1/namespaces/ns2"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces"));
    ag_rbac_unref(p);
}

/* §11.10 */
TEST(rbac_role_ref_resolves_in_the_binding_namespace)
{
    ag_rbac_t *p =
        load(LIST(ROLE("b", "reader", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                  RB("a", "x", "Role", "reader", USER("alice")),
                  RB("a", "y", "ClusterRole", "missing", USER("alice")),
                  RB("b", "z", "Role", "reader", USER("bob"))),
             false);
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/a/pods/p"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/b/pods/p"));
    CHECK(can(p, "bob", "", "GET", "/api/v1/namespaces/b/pods/p"));
    /* a missing role only adds an evaluation error, reported with the denial */
    user_t u = mkuser("alice", "");
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("a"),
                     .name = AG_STR("p")};
    ag_authz_decision_t d;
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_NO_OPINION);
    CHECK(d.error != NULL);
    CHECK_STREQ(d.error, "role.rbac.authorization.k8s.io \"reader\" not found");
    ag_buf_t r = AG_BUF_INIT(1024);
    ag_authz_reason(&d, &r);
    CHECK_STREQ(r.p, "RBAC: role.rbac.authorization.k8s.io \"reader\" not found");
    ag_buf_dispose(&r);
    ag_rbac_stats_t st;
    ag_rbac_stats(p, &st);
    CHECK_EQ(st.missing_role_refs, 2);
    ag_rbac_unref(p);
}

TEST(rbac_missing_role_does_not_stop_other_bindings)
{
    ag_rbac_t *p =
        load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                  CRB("a-missing", "nope", USER("alice")), CRB("b-ok", "r", USER("alice"))),
             false);
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/x/pods/p"));
    ag_rbac_unref(p);
}

/* §11.11 */
TEST(rbac_user_subject_named_like_a_service_account_matches_it)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                             CRB("b", "r", USER("system:serviceaccount:ns:sa"))),
                        false);
    CHECK(can(p, "system:serviceaccount:ns:sa", "system:serviceaccounts,system:serviceaccounts:ns",
              "GET", "/api/v1/pods/p"));
    ag_rbac_unref(p);
}

TEST(rbac_service_account_subject_without_namespace_only_in_rolebindings)
{
    ag_rbac_t *p =
        load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                  RB("ns", "b", "ClusterRole", "r", "{'kind':'ServiceAccount','name':'sa'}"),
                  CRB("c", "r", SA("other", "bot"))),
             false);
    CHECK(can(p, "system:serviceaccount:ns:sa", "", "GET", "/api/v1/namespaces/ns/pods/p"));
    CHECK(!can(p, "system:serviceaccount:ns:sa", "", "GET", "/api/v1/namespaces/ns2/pods/p"));
    CHECK(!can(p, "system:serviceaccount:other:sa", "", "GET", "/api/v1/namespaces/ns/pods/p"));
    CHECK(can(p, "system:serviceaccount:other:bot", "", "GET", "/api/v1/pods/p"));
    ag_rbac_unref(p);
    /* a ClusterRoleBinding SA subject without namespace is refused at load */
    CHECK(strstr(load_err(LIST(CRB("c", "r", "{'kind':'ServiceAccount','name':'sa'}"))),
                 "subjects[].namespace") != NULL);
}

TEST(rbac_group_subjects_match_only_groups)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                             CRB("b", "r", GROUP("dev"))),
                        false);
    CHECK(can(p, "x", "dev", "GET", "/api/v1/pods/p"));
    CHECK(!can(p, "dev", "", "GET", "/api/v1/pods/p"));
    CHECK(!can(p, "x", "Dev", "GET", "/api/v1/pods/p"));
    ag_rbac_unref(p);
}

TEST(rbac_system_masters_is_always_allowed)
{
    ag_rbac_t *p = load(LIST(), false);
    CHECK(can(p, "anyone", "system:masters", "DELETE", "/api/v1/nodes/n"));
    CHECK(can(p, "anyone", "system:masters", "POST", "/anything"));
    CHECK(!can(p, "admin", "", "GET", "/api/v1/nodes/n")); /* superuser is by group only */
    CHECK(!can(p, "root", "system:authenticated", "GET", "/healthz"));
    ag_rbac_unref(p);
}

TEST(rbac_bootstrap_anonymous_reads_only_health_and_version)
{
    ag_rbac_t *p = load(LIST(), true);
    const char *anon = "system:unauthenticated";
    CHECK(can(p, "system:anonymous", anon, "GET", "/healthz"));
    CHECK(can(p, "system:anonymous", anon, "GET", "/livez"));
    CHECK(can(p, "system:anonymous", anon, "GET", "/readyz"));
    CHECK(can(p, "system:anonymous", anon, "GET", "/version"));
    CHECK(!can(p, "system:anonymous", anon, "GET", "/api"));
    CHECK(!can(p, "system:anonymous", anon, "GET", "/openapi/v2"));
    CHECK(!can(p, "system:anonymous", anon, "GET", "/api/v1/namespaces/default/pods"));
    const char *auth = "system:authenticated";
    CHECK(can(p, "alice", auth, "GET", "/api"));
    CHECK(can(p, "alice", auth, "GET", "/apis/apps/v1"));
    CHECK(can(p, "alice", auth, "GET", "/openapi/v3/apis/apps/v1"));
    CHECK(can(p, "alice", auth, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"));
    CHECK(can(p, "alice", auth, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews"));
    CHECK(!can(p, "alice", auth, "GET", "/metrics"));
    CHECK(!can(p, "alice", auth, "GET", "/api/v1/namespaces/default/pods"));
    CHECK(can(p, "prom", "system:monitoring", "GET", "/metrics"));
    CHECK(can(p, "system:serviceaccount:a:b", "system:serviceaccounts", "GET", "/openid/v1/jwks"));
    CHECK(!can(p, "alice", "", "GET", "/api")); /* no groups, no discovery */
    CHECK(can(p, "root", "system:masters", "DELETE", "/api/v1/nodes/n"));
    ag_rbac_unref(p);
    /* switched off: nothing but system:masters */
    p = load(LIST(), false);
    CHECK(!can(p, "system:anonymous", anon, "GET", "/healthz"));
    CHECK(!can(p, "alice", auth, "GET", "/api"));
    ag_rbac_unref(p);
}

static ag_rbac_t *bound(const char *role)
{
    char rb[1024];
    snprintf(rb, sizeof rb, RB("ns", "b", "ClusterRole", "%s", USER("u")), role);
    return load(LIST(rb), true);
}

TEST(rbac_view_never_reads_secrets)
{
    ag_rbac_t *p = bound("view");
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns/pods"));
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns/pods/p/log"));
    CHECK(can(p, "u", "", "GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale"));
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns"));
    CHECK(!can(p, "u", "", "GET", "/api/v1/namespaces/ns/secrets/s"));
    CHECK(!can(p, "u", "", "GET", "/api/v1/namespaces/ns/secrets"));
    CHECK(!can(p, "u", "", "POST", "/api/v1/namespaces/ns/pods"));
    CHECK(!can(p, "u", "", "GET", "/api/v1/namespaces/ns/pods/p/exec"));
    ag_rbac_unref(p);
}

/* §11.13 */
TEST(rbac_edit_can_impersonate_service_accounts_and_mint_tokens)
{
    ag_rbac_t *p = bound("edit");
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns/secrets/s"));
    CHECK(can(p, "u", "", "POST", "/api/v1/namespaces/ns/pods/p/exec"));
    CHECK(can(p, "u", "", "POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token"));
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns/pods")); /* edit includes view */
    ag_attrs_t imp = {.resource_request = true,
                      .verb = AG_STR("impersonate"),
                      .resource = AG_STR("serviceaccounts"),
                      .namespace_ = AG_STR("ns"),
                      .name = AG_STR("sa")};
    CHECK(can_attrs(p, "u", "", imp));
    imp.namespace_ = AG_STR("other");
    CHECK(!can_attrs(p, "u", "", imp));
    CHECK(!can(p, "u", "", "POST", "/api/v1/namespaces/ns/endpoints")); /* CVE-2021-25740 */
    CHECK(
        !can(p, "u", "", "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings"));
    ag_rbac_unref(p);
}

/* §11.12 */
TEST(rbac_admin_has_no_bind_or_escalate)
{
    ag_rbac_t *p = bound("admin");
    CHECK(can(p, "u", "", "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings"));
    CHECK(can(p, "u", "", "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles"));
    CHECK(can(p, "u", "", "POST",
              "/apis/authorization.k8s.io/v1/namespaces/ns/localsubjectaccessreviews"));
    CHECK(can(p, "u", "", "GET", "/api/v1/namespaces/ns/pods")); /* admin ⊇ edit ⊇ view */
    ag_attrs_t bind = {.resource_request = true,
                       .verb = AG_STR("bind"),
                       .api_group = AG_STR("rbac.authorization.k8s.io"),
                       .resource = AG_STR("clusterroles"),
                       .namespace_ = AG_STR("ns"),
                       .name = AG_STR("admin")};
    CHECK(!can_attrs(p, "u", "", bind));
    bind.verb = AG_STR("escalate");
    bind.resource = AG_STR("roles");
    CHECK(!can_attrs(p, "u", "", bind));
    CHECK(!can(p, "u", "", "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles"));
    ag_rbac_unref(p);
}

/* §11.15 */
TEST(rbac_aggregation_is_transitive_and_ignores_stored_rules)
{
    ag_rbac_t *p =
        load(LIST("{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/"
                  "v1','metadata':{'name':'crd-reader',"
                  "'labels':{'rbac.authorization.k8s.io/aggregate-to-view':'true'}},"
                  "'rules':[{'verbs':['get'],'apiGroups':['x.io'],'resources':['widgets']}]}",
                  "{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/"
                  "v1','metadata':{'name':'stale'},"
                  "'aggregationRule':{'clusterRoleSelectors':[{'matchLabels':{'none':'x'}}]},"
                  "'rules':[{'verbs':['*'],'apiGroups':['*'],'resources':['*']}]}",
                  RB("ns", "a", "ClusterRole", "admin", USER("adm")),
                  RB("ns", "s", "ClusterRole", "stale", USER("st"))),
             true);
    CHECK(can(p, "adm", "", "GET", "/apis/x.io/v1/namespaces/ns/widgets/w"));
    CHECK(!can(p, "adm", "", "DELETE", "/apis/x.io/v1/namespaces/ns/widgets/w"));
    CHECK(!can(p, "st", "", "GET", "/api/v1/namespaces/ns/pods/p"));
    ag_rbac_unref(p);
}

TEST(rbac_aggregation_selectors_use_match_expressions)
{
    ag_rbac_t *p =
        load(LIST("{'kind':'ClusterRole','metadata':{'name':'agg'},'aggregationRule':{'"
                  "clusterRoleSelectors':["
                  "{'matchExpressions':[{'key':'tier','operator':'In','values':['a','b']},{'key':'"
                  "skip','operator':'DoesNotExist'}]},"
                  "{'matchExpressions':[{'key':'extra','operator':'Exists'}]}]}}",
                  "{'kind':'ClusterRole','metadata':{'name':'one','labels':{'tier':'a'}},'rules':[{"
                  "'verbs':['get'],'apiGroups':[''],'resources':['one']}]}",
                  "{'kind':'ClusterRole','metadata':{'name':'two','labels':{'tier':'b','skip':'y'}}"
                  ",'rules':[{'verbs':['get'],'apiGroups':[''],'resources':['two']}]}",
                  "{'kind':'ClusterRole','metadata':{'name':'three','labels':{'extra':''}},'rules':"
                  "[{'verbs':['get'],'apiGroups':[''],'resources':['three']}]}",
                  "{'kind':'ClusterRole','metadata':{'name':'four','labels':{'tier':'c'}},'rules':["
                  "{'verbs':['get'],'apiGroups':[''],'resources':['four']}]}",
                  CRB("b", "agg", USER("u"))),
             false);
    CHECK(can(p, "u", "", "GET", "/api/v1/one/x"));
    CHECK(!can(p, "u", "", "GET", "/api/v1/two/x"));
    CHECK(can(p, "u", "", "GET", "/api/v1/three/x"));
    CHECK(!can(p, "u", "", "GET", "/api/v1/four/x"));
    ag_rbac_unref(p);
}

/* §7.2 and §11.2: userextras/ * is not a wildcard */
TEST(rbac_impersonation_rules_follow_resource_matching)
{
    ag_rbac_t *p = alice_with(
        role_json("{'verbs':['impersonate'],'apiGroups':[''],'resources':['users','groups']},"
                  "{'verbs':['impersonate'],'apiGroups':['authentication.k8s.io'],'resources':['"
                  "userextras/*']}"));
    ag_attrs_t u = {.resource_request = true,
                    .verb = AG_STR("impersonate"),
                    .resource = AG_STR("users"),
                    .name = AG_STR("bob")};
    CHECK(can_attrs(p, "alice", "", u));
    ag_attrs_t x = {.resource_request = true,
                    .verb = AG_STR("impersonate"),
                    .api_group = AG_STR("authentication.k8s.io"),
                    .resource = AG_STR("userextras"),
                    .subresource = AG_STR("scopes"),
                    .name = AG_STR("read")};
    CHECK(!can_attrs(p, "alice", "", x));
    ag_attrs_t sa = {.resource_request = true,
                     .verb = AG_STR("impersonate"),
                     .resource = AG_STR("serviceaccounts"),
                     .namespace_ = AG_STR("ns"),
                     .name = AG_STR("sa")};
    CHECK(!can_attrs(p, "alice", "", sa)); /* SAs need serviceaccounts, not users */
    ag_rbac_unref(p);
    p = alice_with(role_json(
        "{'verbs':['impersonate'],'apiGroups':['authentication.k8s.io'],'resources':['*']}"));
    CHECK(can_attrs(p, "alice", "", x));
    ag_rbac_unref(p);
}

TEST(rbac_allow_reason_names_binding_role_and_subject)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['list'],'apiGroups':[''],'resources':['nodes']},{'"
                                     "verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                             RB("ns", "rb", "ClusterRole", "r", SA("ns", "bot")),
                             CRB("crb", "r", GROUP("dev"))),
                        false);
    ag_buf_t r = AG_BUF_INIT(1024);
    user_t u = mkuser("system:serviceaccount:ns:bot", "");
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("ns")};
    ag_authz_decision_t d;
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(d.rule_index, 1);
    ag_authz_reason(&d, &r);
    CHECK_STREQ(
        r.p,
        "RBAC: allowed by RoleBinding \"rb/ns\" of ClusterRole \"r\" to ServiceAccount \"bot/ns\"");
    ag_buf_clear(&r);
    u = mkuser("carol", "dev");
    u.id.groups = u.g;
    at.verb = AG_STR("list"), at.resource = AG_STR("nodes"), at.namespace_ = AG_STR("");
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_ALLOW);
    ag_authz_reason(&d, &r);
    CHECK_STREQ(
        r.p, "RBAC: allowed by ClusterRoleBinding \"crb\" of ClusterRole \"r\" to Group \"dev\"");
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(rbac_deny_message_matches_the_api_server)
{
    ag_identity_t alice = {.username = AG_STR("alice")};
    ag_buf_t m = AG_BUF_INIT(1024);
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("list"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("kube-system")};
    ag_authz_deny_message(&alice, &at, &m);
    CHECK_STREQ(m.p, "User \"alice\" cannot list resource \"pods\" in API group \"\" in the "
                     "namespace \"kube-system\"");
    ag_buf_clear(&m);
    ag_attrs_t cl = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .api_group = AG_STR("apps"),
                     .resource = AG_STR("deployments"),
                     .subresource = AG_STR("scale"),
                     .name = AG_STR("d")};
    ag_authz_deny_message(&alice, &cl, &m);
    CHECK_STREQ(m.p, "User \"alice\" cannot get resource \"deployments/scale\" in API group "
                     "\"apps\" at the cluster scope");
    ag_buf_clear(&m);
    ag_attrs_t nr = {.verb = AG_STR("get"), .path = AG_STR("/metrics")};
    ag_identity_t sa = {.username = AG_STR("system:serviceaccount:ns:name")};
    ag_authz_deny_message(&sa, &nr, &m);
    CHECK_STREQ(m.p, "User \"system:serviceaccount:ns:name\" cannot get path \"/metrics\"");
    ag_buf_clear(&m);
    ag_identity_t odd = {.username = AG_STR("a\"b\\c\n")};
    ag_authz_deny_message(&odd, &nr, &m);
    CHECK_STREQ(m.p, "User \"a\\\"b\\\\c\\n\" cannot get path \"/metrics\"");
    ag_buf_clear(&m);
    ag_authz_forbidden_message(&alice, &cl, AG_STR(""), &m);
    CHECK_STREQ(m.p, "deployments.apps \"d\" is forbidden: User \"alice\" cannot get resource "
                     "\"deployments/scale\" in API group \"apps\" at the cluster scope");
    ag_buf_clear(&m);
    ag_authz_forbidden_message(&alice, &at, AG_STR("RBAC: x"), &m);
    CHECK_STREQ(m.p, "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group "
                     "\"\" in the namespace \"kube-system\": RBAC: x");
    ag_buf_clear(&m);
    ag_identity_t html = {.username = AG_STR("<b>&")};
    ag_authz_forbidden_message(&html, &nr, AG_STR(""), &m);
    CHECK_STREQ(m.p, "forbidden: User \"&lt;b&gt;&amp;\" cannot get path \"/metrics\"");
    ag_buf_dispose(&m);
}

typedef struct {
    char out[2048];
    int n;
} who_t;

static void on_who(void *ctx, ag_str_t kind, ag_str_t ns, ag_str_t name,
                   const ag_authz_decision_t *via)
{
    who_t *w = ctx;
    size_t len = strlen(w->out);
    snprintf(w->out + len, sizeof w->out - len, "%.*s/%.*s/%.*s via %.*s;", AG_STR_FMT(kind),
             AG_STR_FMT(ns), AG_STR_FMT(name), AG_STR_FMT(via->binding_name));
    w->n++;
}

TEST(rbac_who_can_lists_granting_subjects)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                             RB("ns", "rb", "ClusterRole", "r", SA("ns", "bot") "," USER("alice")),
                             RB("other", "rb2", "ClusterRole", "r", USER("eve")),
                             CRB("crb", "r", GROUP("dev")), CRB("none", "missing", USER("zed"))),
                        false);
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("ns")};
    who_t w = {{0}, 0};
    ag_rbac_who_can(p, &at, on_who, &w);
    CHECK_STREQ(w.out, "ServiceAccount/ns/bot via rb;User//alice via rb;Group//dev via crb;");
    at.verb = AG_STR("delete");
    w = (who_t){{0}, 0};
    ag_rbac_who_can(p, &at, on_who, &w);
    CHECK_EQ(w.n, 0);
    ag_rbac_unref(p);
}

TEST(rbac_load_rejects_invalid_objects_with_position)
{
    static const struct {
        const char *json, *want;
    } rows[] = {
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'apiGroups':[''],'resources':['"
         "pods']}]}",
         "verbs must contain"},
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'verbs':['get'],'resources':['"
         "pods']}]}",
         "at least one api group"},
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'verbs':['get'],'apiGroups':['']}"
         "]}",
         "at least one resource"},
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'verbs':['get'],'apiGroups':[''],"
         "'resources':['p'],'nonResourceURLs':['/x']}]}",
         "both regular resources"},
        {"{'kind':'Role','metadata':{'name':'r','namespace':'n'},'rules':[{'verbs':['get'],'"
         "nonResourceURLs':['/x']}]}",
         "non-resource URLs"},
        {"{'kind':'Role','metadata':{'name':'r'},'rules':[]}", "metadata.namespace"},
        {"{'kind':'ClusterRole','metadata':{},'rules':[]}", "metadata.name"},
        {"{'kind':'ClusterRoleBinding','metadata':{'name':'b'},'roleRef':{'kind':'Role','name':'r'}"
         "}",
         "roleRef.kind"},
        {"{'kind':'ClusterRoleBinding','metadata':{'name':'b'},'roleRef':{'kind':'Foo','name':'r'}"
         "}",
         "roleRef.kind"},
        {"{'kind':'ClusterRoleBinding','metadata':{'name':'b'}}", "roleRef"},
        {"{'kind':'ClusterRoleBinding','metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','"
         "name':'r'},'subjects':[{'kind':'Robot','name':'x'}]}",
         "subjects[].kind"},
        {"{'kind':'ClusterRoleBinding','metadata':{'name':'b'},'roleRef':{'kind':'ClusterRole','"
         "name':'r'},'subjects':[{'kind':'User','apiGroup':'x','name':'x'}]}",
         "subjects[].apiGroup"},
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'aggregationRule':{'clusterRoleSelectors':["
         "]}}",
         "clusterRoleSelectors"},
        {"{'kind':'Pod','metadata':{'name':'p'}}", "unsupported \"Pod\""},
        {"{'kind':'ClusterRole','apiVersion':'rbac.authorization.k8s.io/"
         "v1beta1','metadata':{'name':'r'}}",
         "apiVersion"},
        {"{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'verbs':'get'}]}",
         "verbs: must be a list"},
        {"[1,2", "f.json:1:"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *e = load_err(rows[i].json);
        if (!strstr(e, rows[i].want) || strncmp(e, "f.json:", 7) != 0) {
            fprintf(stderr, "  row %zu: got \"%s\", want \"%s\"\n", i, e, rows[i].want);
            CHECK(0);
        }
    }
    CHECK(strstr(load_err(LIST(CR("r", ""), CR("r", ""))), "f.json:1:") != NULL);
    CHECK(strstr(load_err(LIST(CR("r", ""), CR("r", ""))), "duplicate ClusterRole \"r\"") != NULL);
    /* line and column point at the offending rule */
    CHECK_STREQ(
        load_err(
            "{'kind':'ClusterRole','metadata':{'name':'r'},\n 'rules':[\n  {'apiGroups':['']}]}"),
        "f.json:3:3: rule: verbs must contain at least one value");
}

TEST(rbac_typed_lists_and_single_objects_load)
{
    ag_rbac_t *p =
        load("{'kind':'ClusterRoleList','apiVersion':'rbac.authorization.k8s.io/v1','items':["
             "{'metadata':{'name':'r'},'rules':[{'verbs':['get'],'apiGroups':[''],'resources':['"
             "pods']}]}]}",
             false);
    ag_rbac_stats_t st;
    ag_rbac_stats(p, &st);
    CHECK_EQ(st.cluster_roles, 1);
    CHECK_EQ(st.rules, 1);
    ag_rbac_unref(p);
    p = load(CR("solo", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"), false);
    ag_rbac_stats(p, &st);
    CHECK_EQ(st.cluster_roles, 1);
    ag_rbac_unref(p);
}

TEST(rbac_file_objects_replace_bootstrap_objects)
{
    /* a dump from a cluster holds the bootstrap objects too: no duplicate error, the file wins */
    ag_rbac_t *p =
        load(LIST(CRB("system:discovery", "system:discovery", GROUP("only-these"))), true);
    CHECK(!can(p, "a", "system:authenticated", "GET", "/api"));
    CHECK(can(p, "a", "only-these", "GET", "/api"));
    ag_rbac_unref(p);
}

TEST(rbac_load_reads_directories_of_json_and_yaml_files)
{
    char dir[] = "/tmp/ag_rbac_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    const char *files[][2] = {
        {"a.json", CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}")},
        {"b.json", CRB("b", "r", USER("alice"))},
        {"c.yaml", "kind: ClusterRoleBinding\nmetadata: {name: c}\nroleRef: "
                   "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
                   "name: r}\nsubjects: [{kind: User, name: bob}]\n"},
        {"d.txt", "not a policy, ignored"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        char *j = dq(files[i][1]);
        fputs(j, f);
        fclose(f);
        free(j);
    }
    const char *paths[] = {dir};
    ag_rbac_t *p = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_load(paths, 1, &o, &p, &err), 0);
    CHECK(p && can(p, "alice", "", "GET", "/api/v1/pods/x"));
    CHECK(p && can(p, "bob", "", "GET", "/api/v1/pods/x"));
    ag_rbac_unref(p);
    const char *missing[] = {"/nonexistent/policy.json"};
    p = NULL;
    CHECK_EQ(ag_rbac_load(missing, 1, &o, &p, &err), AG_E_IO);
    CHECK(p == NULL);
    ag_buf_dispose(&err);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        unlink(path);
    }
    rmdir(dir);
}

TEST(rbac_load_accepts_an_empty_directory)
{
    /* An empty policy directory loads as no rules (UBSan caught qsort given NULL, 0). */
    char dir[] = "/tmp/ag_rbac_empty_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *paths[] = {dir};
    ag_rbac_t *p = NULL;
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_load(paths, 1, &o, &p, &err), 0);
    CHECK(p && !can(p, "alice", "", "GET", "/api/v1/pods/x"));
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    rmdir(dir);
}

TEST(rbac_resource_names_empty_entry_matches_unnamed_requests)
{
    /* upstream compares names literally: an entry "" matches a request without a name */
    ag_rbac_t *p = alice_with(
        role_json("{'verbs':['list'],'apiGroups':[''],'resources':['pods'],'resourceNames':['']}"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/ns/pods"));
    ag_rbac_unref(p);
}

/* One principal's grants in several scopes (the subject index keeps them under one
 * entry): ClusterRoleBindings apply everywhere and are tried before any RoleBinding,
 * each namespace's RoleBindings only there, each list in binding order. */
TEST(rbac_one_principal_grants_stay_in_their_scope_and_order)
{
    ag_rbac_t *p =
        load(LIST(CR("get-pods", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                  CR("del-pods", "{'verbs':['delete'],'apiGroups':[''],'resources':['pods']}"),
                  CR("secrets", "{'verbs':['list'],'apiGroups':[''],'resources':['secrets']}"),
                  RB("a", "rb-a-get", "ClusterRole", "get-pods", USER("alice")),
                  RB("a", "rb-a-missing", "ClusterRole", "nope", USER("alice")),
                  RB("a", "rb-a-secrets", "ClusterRole", "secrets", USER("alice")),
                  RB("b", "rb-b-del", "ClusterRole", "del-pods", USER("alice")),
                  CRB("crb-get", "get-pods", USER("alice")),
                  RB("b", "rb-b-secrets", "ClusterRole", "secrets", USER("bob"))),
             false);
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/zz/pods/p"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/zz/secrets"));
    CHECK(can(p, "alice", "", "GET", "/api/v1/namespaces/a/secrets"));
    CHECK(!can(p, "alice", "", "GET", "/api/v1/namespaces/b/secrets"));
    CHECK(can(p, "bob", "", "GET", "/api/v1/namespaces/b/secrets"));
    CHECK(can(p, "alice", "", "DELETE", "/api/v1/namespaces/b/pods/p"));
    CHECK(!can(p, "alice", "", "DELETE", "/api/v1/namespaces/a/pods/p"));
    CHECK(!can(p, "alice", "", "DELETE", "/api/v1/pods"));

    user_t u = mkuser("alice", "");
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("a")};
    ag_authz_decision_t d;
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_ALLOW);
    CHECK_SLICE(d.binding_name, "crb-get"); /* cluster scope first, though listed later */
    at.verb = AG_STR("list"), at.resource = AG_STR("secrets");
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_ALLOW);
    CHECK_SLICE(d.binding_name, "rb-a-secrets");
    CHECK(d.error != NULL); /* rb-a-missing was passed on the way, in binding order */
    at.namespace_ = AG_STR("b");
    CHECK_EQ(ag_rbac_eval(p, &u.id, &at, &d), AG_AUTHZ_NO_OPINION);
    CHECK(d.error == NULL); /* the missing role is bound in "a" only */
    ag_rbac_unref(p);
}

/* Every group counts, however many: past the ones resolved up front too. */
TEST(rbac_identity_with_many_groups_checks_every_group)
{
    ag_rbac_t *p = load(LIST(CR("r", "{'verbs':['get'],'apiGroups':[''],'resources':['pods']}"),
                             RB("ns", "rb", "ClusterRole", "r", GROUP("g-39")),
                             CRB("crb", "r", GROUP("g-37"))),
                        false);
    char names[40][8];
    ag_str_t groups[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "g-%d", i);
        groups[i] = ag_str_cstr(names[i]);
    }
    ag_identity_t id = {.username = AG_STR("carol"), .groups = groups, .ngroups = 40};
    ag_attrs_t at = {.resource_request = true,
                     .verb = AG_STR("get"),
                     .resource = AG_STR("pods"),
                     .namespace_ = AG_STR("ns")};
    ag_authz_decision_t d;
    CHECK_EQ(ag_rbac_eval(p, &id, &at, &d), AG_AUTHZ_ALLOW);
    CHECK_SLICE(d.binding_name, "crb");
    id.ngroups = 38;
    CHECK_EQ(ag_rbac_eval(p, &id, &at, &d), AG_AUTHZ_ALLOW); /* g-37 via the CRB */
    groups[37] = AG_STR("other");
    CHECK_EQ(ag_rbac_eval(p, &id, &at, &d), AG_AUTHZ_NO_OPINION);
    id.ngroups = 40;
    CHECK_EQ(ag_rbac_eval(p, &id, &at, &d), AG_AUTHZ_ALLOW);
    CHECK_SLICE(d.binding_name, "rb"); /* g-39, a RoleBinding in "ns" */
    at.namespace_ = AG_STR("other");
    CHECK_EQ(ag_rbac_eval(p, &id, &at, &d), AG_AUTHZ_NO_OPINION);
    ag_rbac_unref(p);
}

/* A big index (70,000 principals) lives in its own huge-page block, not the arena; its
 * decisions are the same. */
TEST(rbac_big_index_answers_like_a_small_one)
{
    enum { N = 70000 };
    ag_buf_t j = AG_BUF_INIT(16u << 20);
    ag_err e = ag_buf_append_cstr(
        &j,
        "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
        "{\"kind\":\"ClusterRole\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\","
        "\"metadata\":{\"name\":\"r\"},\"rules\":[{\"verbs\":[\"get\"],\"apiGroups\":[\"\"],"
        "\"resources\":[\"pods\"]}]},"
        "{\"kind\":\"RoleBinding\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\","
        "\"metadata\":{\"name\":\"rb\",\"namespace\":\"ns\"},\"roleRef\":{\"apiGroup\":"
        "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"r\"},\"subjects\":[");
    for (int i = 0; !e && i < N; i++)
        e = ag_buf_printf(&j, "%s{\"kind\":\"User\",\"name\":\"u-%d\"}", i ? "," : "", i);
    if (!e)
        e = ag_buf_append_cstr(&j, "]}]}");
    CHECK_EQ(e, 0);
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_rbac_load_mem(ag_buf_str(&j), "big.json", &o, &p, &err), 0);
    if (p) {
        CHECK(p->index_mem != NULL);
        CHECK(can(p, "u-0", "", "GET", "/api/v1/namespaces/ns/pods/p"));
        CHECK(can(p, "u-34567", "", "GET", "/api/v1/namespaces/ns/pods/p"));
        CHECK(can(p, "u-69999", "", "GET", "/api/v1/namespaces/ns/pods/p"));
        CHECK(!can(p, "u-70000", "", "GET", "/api/v1/namespaces/ns/pods/p"));
        CHECK(!can(p, "u-1", "", "GET", "/api/v1/namespaces/other/pods/p"));
        CHECK(!can(p, "u-1", "", "DELETE", "/api/v1/namespaces/ns/pods/p"));
    }
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    ag_buf_dispose(&j);
}

/* The closest-rule explanation for <name> (groups <groups>) asking "METHOD /target", or ""
 * (static buffer). */
static const char *closest(const ag_rbac_t *p, const char *name, const char *groups,
                           const char *method, const char *target)
{
    static char out[2048];
    user_t u = mkuser(name, groups);
    u.id.groups = u.g;
    ag_arena_t a;
    ag_attrs_t at;
    ag_authz_decision_t d;
    ag_buf_t b = AG_BUF_INIT(4096);
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_reqinfo_parse(ag_str_cstr(method), ag_str_cstr(target), &a, &at), 0);
    CHECK(ag_rbac_eval(p, &u.id, &at, &d) != AG_AUTHZ_ALLOW);
    CHECK_EQ(ag_rbac_explain_denial(p, &u.id, &at, &b), b.n > 0);
    snprintf(out, sizeof out, "%s", ag_buf_str(&b).p);
    ag_buf_dispose(&b);
    ag_arena_dispose(&a);
    return out;
}

TEST(rbac_explain_names_the_rule_one_field_away)
{
    ag_rbac_t *p = load(
        LIST(CR("r", "{'verbs':['get','list'],'apiGroups':[''],'resources':['pods','pods/log']},"
                     "{'verbs':['get','list'],'apiGroups':['apps'],'resources':['deployments'],'"
                     "resourceNames':['web']},"
                     "{'verbs':['get'],'nonResourceURLs':['/healthz','/api/*']}"),
             CRB("b", "r", GROUP("ops")),
             ROLE("dev", "w", "{'verbs':['delete','list'],'apiGroups':[''],'resources':['pods']}"),
             RB("dev", "rb", "Role", "w", USER("bob"))),
        false);
    CHECK_STREQ(
        closest(p, "x", "ops", "DELETE", "/api/v1/namespaces/a/pods/p"),
        "closest: ClusterRole \"r\" rule 0 (ClusterRoleBinding \"b\" to Group \"ops\") allows "
        "get,list on pods,pods/log in API groups \"\"; missing verb \"delete\"");
    CHECK(strstr(closest(p, "x", "ops", "GET", "/apis/extensions/v1/namespaces/a/pods"),
                 "; missing apiGroup \"extensions\"") != NULL);
    CHECK(strstr(closest(p, "x", "ops", "GET", "/api/v1/namespaces/a/pods/p/exec"),
                 "; missing resource \"pods/exec\"") != NULL);
    CHECK(strstr(closest(p, "x", "ops", "GET", "/apis/apps/v1/namespaces/a/deployments/api"),
                 "named \"web\"; missing resourceName \"api\"") != NULL);
    CHECK(strstr(closest(p, "x", "ops", "GET", "/apis/apps/v1/namespaces/a/deployments"),
                 "; the request names no object and the rule only named ones") != NULL);
    CHECK(strstr(closest(p, "x", "ops", "GET", "/metrics"),
                 "allows get on /healthz,/api/*; missing path \"/metrics\"") != NULL);
    /* a RoleBinding elsewhere: the namespace is the field; cluster-wide asks too */
    CHECK_STREQ(
        closest(p, "bob", "", "DELETE", "/api/v1/namespaces/prod/pods/p"),
        "closest: Role \"w\" rule 0 (RoleBinding \"rb/dev\" to User \"bob\") allows delete,list "
        "on pods in API groups \"\"; bound in namespace \"dev\" only, asked in \"prod\"");
    CHECK(strstr(closest(p, "bob", "", "GET", "/api/v1/pods"),
                 "bound in namespace \"dev\" only, asked cluster-wide") != NULL);
    /* two fields away, or nothing reachable: no explanation */
    CHECK_STREQ(closest(p, "x", "ops", "DELETE", "/api/v1/namespaces/a/secrets/s"), "");
    CHECK_STREQ(closest(p, "nobody", "", "GET", "/api/v1/namespaces/a/pods"), "");
    ag_rbac_unref(p);
}

/* The allow reason names "name/namespace" for a namespaced binding and a service account,
 * quoted as one string (Go's %q): escapes and broken UTF-8 on either side of the slash
 * come out as they would from the joined string. */
TEST(rbac_reason_quotes_name_and_namespace_as_one_string)
{
    ag_authz_decision_t d;
    ag_authz_decision_reset(&d, AG_AUTHZ_ALLOW, AG_AUTHZ_BY_RBAC);
    d.binding_kind = AG_STR("RoleBinding");
    d.binding_name = AG_STR("b\"1\xe2");
    d.binding_namespace = AG_STR("\x80ns");
    d.role_kind = AG_STR("ClusterRole");
    d.role_name = AG_STR("edit\xc3\xa9");
    d.subject_kind = AG_STR("ServiceAccount");
    d.subject_name = AG_STR("sa\\");
    d.subject_namespace = AG_STR("kube-system\t");
    ag_buf_t out = AG_BUF_INIT(4096);
    CHECK_EQ(ag_authz_reason(&d, &out), 0);
    CHECK_STREQ(out.p, "RBAC: allowed by RoleBinding \"b\\\"1\\xe2/\\x80ns\" of ClusterRole "
                       "\"edit\xc3\xa9\" to ServiceAccount \"sa\\\\/kube-system\\t\"");
    ag_buf_clear(&out);
    d.binding_namespace = AG_STR_NULL; /* a ClusterRoleBinding: the name alone */
    d.binding_kind = AG_STR("ClusterRoleBinding");
    d.subject_kind = AG_STR("User");
    d.subject_name = AG_STR("alice");
    CHECK_EQ(ag_authz_reason(&d, &out), 0);
    CHECK_STREQ(out.p, "RBAC: allowed by ClusterRoleBinding \"b\\\"1\\xe2\" of ClusterRole "
                       "\"edit\xc3\xa9\" to User \"alice\"");
    ag_buf_dispose(&out);
}
