/* Request attributes: table-driven cases written from reference §1 (and upstream's
 * requestinfo_test.go behaviour it describes). */
#include "authz/reqinfo.h"
#include "testlib.h"

typedef struct {
    const char *method, *target;
    bool resource;
    const char *verb, *prefix, *group, *version, *ns, *resource_, *sub, *name, *path;
} row_t;

static int run_rows(const row_t *rows, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        ag_arena_t a;
        ag_arena_init(&a, 0, 0);
        ag_attrs_t at;
        ag_err err = ag_reqinfo_parse(ag_str_cstr(r->method), ag_str_cstr(r->target), &a, &at);
        int before = ag_test_failures;
        CHECK_EQ(err, 0);
        CHECK_EQ(at.resource_request, r->resource);
        CHECK_SLICE(at.verb, r->verb);
        CHECK_SLICE(at.api_prefix, r->prefix);
        CHECK_SLICE(at.api_group, r->group);
        CHECK_SLICE(at.api_version, r->version);
        CHECK_SLICE(at.namespace_, r->ns);
        CHECK_SLICE(at.resource, r->resource_);
        CHECK_SLICE(at.subresource, r->sub);
        CHECK_SLICE(at.name, r->name);
        CHECK_SLICE(at.path, r->path);
        if (ag_test_failures != before) {
            fprintf(stderr, "  in row %zu: %s %s\n", i, r->method, r->target);
            bad++;
        }
        ag_arena_dispose(&a);
    }
    return bad;
}
#define RUN(rows) run_rows(rows, sizeof rows / sizeof rows[0])

TEST(reqinfo_resource_paths)
{
    static const row_t rows[] = {
        {"GET", "/api/v1/namespaces/default/pods/web", true, "get", "api", "", "v1", "default",
         "pods", "", "web", "/api/v1/namespaces/default/pods/web"},
        {"GET", "/api/v1/namespaces/default/pods", true, "list", "api", "", "v1", "default", "pods",
         "", "", "/api/v1/namespaces/default/pods"},
        {"GET", "/api/v1/pods", true, "list", "api", "", "v1", "", "pods", "", "", "/api/v1/pods"},
        {"POST", "/api/v1/namespaces/default/pods", true, "create", "api", "", "v1", "default",
         "pods", "", "", "/api/v1/namespaces/default/pods"},
        {"PUT", "/api/v1/namespaces/default/pods/web", true, "update", "api", "", "v1", "default",
         "pods", "", "web", "/api/v1/namespaces/default/pods/web"},
        {"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", true, "patch", "apis", "apps", "v1",
         "ns", "deployments", "", "d", "/apis/apps/v1/namespaces/ns/deployments/d"},
        {"DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", true, "delete", "apis", "apps",
         "v1", "ns", "deployments", "", "d", "/apis/apps/v1/namespaces/ns/deployments/d"},
        {"DELETE", "/apis/apps/v1/namespaces/ns/deployments", true, "deletecollection", "apis",
         "apps", "v1", "ns", "deployments", "", "", "/apis/apps/v1/namespaces/ns/deployments"},
        {"GET", "/apis/apps/v1/namespaces/ns/deployments/d/scale", true, "get", "apis", "apps",
         "v1", "ns", "deployments", "scale", "d",
         "/apis/apps/v1/namespaces/ns/deployments/d/scale"},
        {"GET", "/api/v1/namespaces/ns/pods/p/log/extra/more", true, "get", "api", "", "v1", "ns",
         "pods", "log", "p", "/api/v1/namespaces/ns/pods/p/log/extra/more"},
        {"GET", "/api/v1/nodes/n1", true, "get", "api", "", "v1", "", "nodes", "", "n1",
         "/api/v1/nodes/n1"},
        {"GET", "/api/v1/nodes/n1/proxy/metrics", true, "get", "api", "", "v1", "", "nodes",
         "proxy", "n1", "/api/v1/nodes/n1/proxy/metrics"},
        {"HEAD", "/api/v1/namespaces/ns/pods", true, "list", "api", "", "v1", "ns", "pods", "", "",
         "/api/v1/namespaces/ns/pods"},
        {"PUT", "/api/v1/namespaces/ns/pods", true, "update", "api", "", "v1", "ns", "pods", "", "",
         "/api/v1/namespaces/ns/pods"},
        {"POST", "/api/v1/namespaces/ns/pods/p/exec", true, "create", "api", "", "v1", "ns", "pods",
         "exec", "p", "/api/v1/namespaces/ns/pods/p/exec"},
        {"OPTIONS", "/api/v1/namespaces/ns/pods", true, "", "api", "", "v1", "ns", "pods", "", "",
         "/api/v1/namespaces/ns/pods"},
        {"GET", "/api/v1/namespaces/ns/services/https:web:443/proxy/x", true, "get", "api", "",
         "v1", "ns", "services", "proxy", "https:web:443",
         "/api/v1/namespaces/ns/services/https:web:443/proxy/x"},
        {"GET", "/api/v1/namespaces/ns/pods/", true, "list", "api", "", "v1", "ns", "pods", "", "",
         "/api/v1/namespaces/ns/pods/"},
    };
    CHECK_EQ(RUN(rows), 0);
}

TEST(reqinfo_namespace_object_has_its_own_namespace)
{
    static const row_t rows[] = {
        {"GET", "/api/v1/namespaces", true, "list", "api", "", "v1", "", "namespaces", "", "",
         "/api/v1/namespaces"},
        {"POST", "/api/v1/namespaces", true, "create", "api", "", "v1", "", "namespaces", "", "",
         "/api/v1/namespaces"},
        {"GET", "/api/v1/namespaces/ns1", true, "get", "api", "", "v1", "ns1", "namespaces", "",
         "ns1", "/api/v1/namespaces/ns1"},
        {"DELETE", "/api/v1/namespaces/ns1", true, "delete", "api", "", "v1", "ns1", "namespaces",
         "", "ns1", "/api/v1/namespaces/ns1"},
        {"PUT", "/api/v1/namespaces/ns1/status", true, "update", "api", "", "v1", "ns1",
         "namespaces", "status", "ns1", "/api/v1/namespaces/ns1/status"},
        {"PUT", "/api/v1/namespaces/ns1/finalize", true, "update", "api", "", "v1", "ns1",
         "namespaces", "finalize", "ns1", "/api/v1/namespaces/ns1/finalize"},
        {"GET", "/api/v1/namespaces/status", true, "get", "api", "", "v1", "status", "namespaces",
         "", "status", "/api/v1/namespaces/status"},
        {"GET", "/api/v1/namespaces/ns1/status/extra", true, "get", "api", "", "v1", "ns1",
         "namespaces", "status", "ns1", "/api/v1/namespaces/ns1/status/extra"},
    };
    CHECK_EQ(RUN(rows), 0);
}

TEST(reqinfo_non_resource_requests)
{
    static const row_t rows[] = {
        {"GET", "/healthz", false, "get", "", "", "", "", "", "", "", "/healthz"},
        {"HEAD", "/healthz", false, "head", "", "", "", "", "", "", "", "/healthz"},
        {"GET", "/readyz?verbose", false, "get", "", "", "", "", "", "", "", "/readyz"},
        {"GET", "/api", false, "get", "", "", "", "", "", "", "", "/api"},
        {"GET", "/api/v1", false, "get", "", "", "", "", "", "", "", "/api/v1"},
        {"GET", "/apis", false, "get", "", "", "", "", "", "", "", "/apis"},
        {"GET", "/apis/apps", false, "get", "", "", "", "", "", "", "", "/apis/apps"},
        {"POST", "/openapi/v3/apis/apps/v1", false, "post", "", "", "", "", "", "", "",
         "/openapi/v3/apis/apps/v1"},
        {"GET", "/", false, "get", "", "", "", "", "", "", "", "/"},
        {"OPTIONS", "/version", false, "options", "", "", "", "", "", "", "", "/version"},
        {"DELETE", "/not-api/v/r", false, "delete", "", "", "", "", "", "", "", "/not-api/v/r"},
        {"GET", "/logs/kube/x", false, "get", "", "", "", "", "", "", "", "/logs/kube/x"},
        {"FROB", "/x", false, "frob", "", "", "", "", "", "", "", "/x"},
    };
    CHECK_EQ(RUN(rows), 0);
}

/* §11.9 */
TEST(reqinfo_group_version_discovery_is_non_resource_with_apis_prefix)
{
    static const row_t rows[] = {
        {"GET", "/apis/apps/v1", false, "get", "apis", "", "", "", "", "", "", "/apis/apps/v1"},
        {"GET", "/apis/version/resource", false, "get", "apis", "", "", "", "", "", "",
         "/apis/version/resource"},
    };
    CHECK_EQ(RUN(rows), 0);
}

/* §11.8 */
TEST(reqinfo_legacy_watch_and_proxy_prefixes_override_the_method)
{
    static const row_t rows[] = {
        {"GET", "/api/v1/watch/namespaces/ns/pods", true, "watch", "api", "", "v1", "ns", "pods",
         "", "", "/api/v1/watch/namespaces/ns/pods"},
        {"DELETE", "/api/v1/watch/namespaces/ns/pods", true, "watch", "api", "", "v1", "ns", "pods",
         "", "", "/api/v1/watch/namespaces/ns/pods"},
        {"GET", "/api/v1/watch/pods/p?fieldSelector=metadata.name%3Dq", true, "watch", "api", "",
         "v1", "", "pods", "", "p", "/api/v1/watch/pods/p"},
        {"GET", "/api/v1/watch/pods?fieldSelector=metadata.name%3Dq", true, "watch", "api", "",
         "v1", "", "pods", "", "", "/api/v1/watch/pods"},
        {"POST", "/api/v1/proxy/namespaces/ns/pods/p/a/b", true, "proxy", "api", "", "v1", "ns",
         "pods", "", "p", "/api/v1/proxy/namespaces/ns/pods/p/a/b"},
        {"GET", "/api/v1/proxy/nodes/n1/stats", true, "proxy", "api", "", "v1", "", "nodes", "",
         "n1", "/api/v1/proxy/nodes/n1/stats"},
    };
    CHECK_EQ(RUN(rows), 0);
}

TEST(reqinfo_bare_watch_or_proxy_fails)
{
    const char *bad[] = {"/api/v1/watch", "/apis/apps/v1/proxy", "/api/v1/watch/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_attrs_t at;
        CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), ag_str_cstr(bad[i]), NULL, &at), AG_E_PARSE);
    }
}

TEST(reqinfo_watch_query_values)
{
    static const struct {
        const char *q, *verb;
    } rows[] = {{"?watch", "watch"},
                {"?watch=", "watch"},
                {"?watch=1", "watch"},
                {"?watch=true", "watch"},
                {"?watch=yes", "watch"},
                {"?watch=TRUE", "watch"},
                {"?watch=0", "list"},
                {"?watch=False", "list"},
                {"?watch=false&watch=true", "list"},
                {"?watch=true&watch=false", "watch"},
                {"", "list"},
                {"?watch%3D1", "list"},
                {"?w%61tch=1", "watch"},
                {"?watch=1;x", "list"},
                {"?watch=%zz", "list"},
                {"?limit=5&watch=1", "watch"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ag_arena_t a;
        ag_arena_init(&a, 0, 0);
        char t[128];
        snprintf(t, sizeof t, "/api/v1/pods%s", rows[i].q);
        ag_attrs_t at;
        CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), ag_str_cstr(t), &a, &at), 0);
        int before = ag_test_failures;
        CHECK_SLICE(at.verb, rows[i].verb);
        if (ag_test_failures != before)
            fprintf(stderr, "  query %s\n", rows[i].q);
        ag_arena_dispose(&a);
    }
}

static ag_attrs_t parse_get(ag_arena_t *a, const char *target)
{
    ag_attrs_t at;
    ag_err err = ag_reqinfo_parse(AG_STR("GET"), ag_str_cstr(target), a, &at);
    CHECK_EQ(err, 0);
    return at;
}

TEST(reqinfo_field_selector_names_a_list)
{
    static const struct {
        const char *target, *verb, *name;
    } rows[] = {
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb", "list", "web"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name==web", "list", "web"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name!%3Dweb", "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=status.phase%3DRunning,metadata.name%3Dx",
         "list", "x"},
        {"/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name%3Dweb", "watch", "web"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Da,foo", "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb&limit=x", "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb&timeoutSeconds=1.5", "list",
         ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb&limit=500&timeoutSeconds=-3",
         "list", "web"},
        {"/api/v1/namespaces/ns/"
         "pods?fieldSelector=metadata.name%3Dweb&labelSelector=app%3Dx,tier+in+(a,b)",
         "list", "web"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb&labelSelector=%3D%3D",
         "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3D..", "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Da%2Fb", "list", ""},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Da%25b", "list", ""},
        {"/api/v1/namespaces/ns/"
         "pods?fieldSelector=metadata.name%3Dweb&fieldSelector=metadata.name%3Dother",
         "list", "web"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Db,metadata.name%3Da", "list",
         "a"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Da%5C,b", "list", "a,b"},
        {"/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Da%5Cb", "list", ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ag_arena_t a;
        ag_arena_init(&a, 0, 0);
        ag_attrs_t at = parse_get(&a, rows[i].target);
        int before = ag_test_failures;
        CHECK_SLICE(at.verb, rows[i].verb);
        CHECK_SLICE(at.name, rows[i].name);
        if (ag_test_failures != before)
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].target);
        ag_arena_dispose(&a);
    }
}

TEST(reqinfo_delete_never_takes_a_name_from_the_field_selector)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_attrs_t at;
    CHECK_EQ(ag_reqinfo_parse(
                 AG_STR("DELETE"),
                 AG_STR("/api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dweb"), &a, &at),
             0);
    CHECK_SLICE(at.verb, "deletecollection");
    CHECK_SLICE(at.name, "");
    ag_arena_dispose(&a);
}

TEST(reqinfo_path_is_percent_decoded)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_attrs_t at = parse_get(&a, "/api/v1/namespaces/n%73/pods/a%3Ab");
    CHECK_SLICE(at.namespace_, "ns");
    CHECK_SLICE(at.name, "a:b");
    CHECK_SLICE(at.path, "/api/v1/namespaces/ns/pods/a:b");
    CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), AG_STR("/api/v1/pods/%zz"), &a, &at), AG_E_PARSE);
    CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), AG_STR("/api/v1/pods/%4"), &a, &at), AG_E_PARSE);
    CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), AG_STR("api/v1/pods"), &a, &at), AG_E_PARSE);
    CHECK_EQ(ag_reqinfo_parse(AG_STR(""), AG_STR("/api/v1/pods"), &a, &at), AG_E_PARSE);
    ag_arena_dispose(&a);
}

TEST(reqinfo_websocket_exec_needs_create)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_attrs_t at = parse_get(&a, "/api/v1/namespaces/ns/pods/p/exec?command=sh");
    CHECK(ag_reqinfo_needs_create_check(&at, true));
    CHECK(!ag_reqinfo_needs_create_check(&at, false));
    at = parse_get(&a, "/api/v1/namespaces/ns/pods/p/attach");
    CHECK(ag_reqinfo_needs_create_check(&at, true));
    at = parse_get(&a, "/api/v1/namespaces/ns/pods/p/portforward");
    CHECK(ag_reqinfo_needs_create_check(&at, true));
    at = parse_get(&a, "/api/v1/nodes/n/proxy/x");
    CHECK(ag_reqinfo_needs_create_check(&at, true));
    at = parse_get(&a, "/api/v1/namespaces/ns/pods/p/log");
    CHECK(!ag_reqinfo_needs_create_check(&at, true));
    ag_attrs_t post;
    CHECK_EQ(
        ag_reqinfo_parse(AG_STR("POST"), AG_STR("/api/v1/namespaces/ns/pods/p/exec"), &a, &post),
        0);
    CHECK(!ag_reqinfo_needs_create_check(&post, true));
    ag_arena_dispose(&a);
}

TEST(reqinfo_label_selector_grammar)
{
    const char *good[] = {"",
                          "a",
                          "!a",
                          "a=b",
                          "a==b",
                          "a!=b",
                          "a=",
                          "a in (x,y)",
                          "a notin (x)",
                          "a>3",
                          "a<1",
                          "example.com/app=web",
                          "a=b,c!=d,!e",
                          " a = b "};
    const char *bad[] = {"==",   "a in ()",         "a in (x", "a>b",   "a=b c", "-a=b",
                         "a=-b", "Example.com/a=b", "a,",      "a=b=c", "!a=b",  "a in x"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!ag_reqinfo_label_selector_valid(ag_str_cstr(good[i]))) {
            fprintf(stderr, "  rejected %s\n", good[i]);
            CHECK(0);
        }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ag_reqinfo_label_selector_valid(ag_str_cstr(bad[i]))) {
            fprintf(stderr, "  accepted %s\n", bad[i]);
            CHECK(0);
        }
}
