/* The authorization step (proxy/authz/authorize.c) in-process, and its config section
 * (config/authz_config.c): impersonation headers as the API server reads them (extra key
 * decoding, one user, groups/extra/uid need a user, the value cap), the checks per item,
 * the resulting identity (reference §7.3), anonymous judging, Forbidden messages. */
#include <stdlib.h>
#include <unistd.h>

#include "authz/authorize.h"
#include "authz/policy.h"
#include "config.h"
#include "testlib.h"

static const char policy[] =
    "{\"kind\":\"List\",\"items\":["
    "{\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"imp\"},\"rules\":["
    " {\"apiGroups\":[\"\"],\"resources\":[\"users\"],\"verbs\":[\"impersonate\"],"
    "  \"resourceNames\":[\"carol\",\"system:anonymous\"]},"
    " {\"apiGroups\":[\"\"],\"resources\":[\"groups\"],\"verbs\":[\"impersonate\"]},"
    " {\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"userextras/example.com/scopes\"],"
    "  \"verbs\":[\"impersonate\"]}]},"
    "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"bob-imp\"},"
    " \"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"imp\"},"
    " \"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]},"
    "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"carol-view\"},"
    " \"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"view\"},"
    " \"subjects\":[{\"kind\":\"User\",\"name\":\"carol\"}]}]}";

static ag_config_t *conf;
static ag_authorizer_t *authorizer;

static void setup_once(void)
{
    static char path[] = "/tmp/ag-authz-XXXXXX";
    if (conf)
        return;
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, policy, sizeof policy - 1) == (ssize_t)(sizeof policy - 1));
    close(fd);
    char text[1024];
    snprintf(
        text, sizeof text,
        "{\"listen\":{\"address\":\"127.0.0.1:0\"},\"upstream\":{\"url\":\"http://127.0.0.1:1\"},"
        "\"authorization\":{\"rbac\":{\"policies\":[\"%s\"]},\"reload_interval\":\"0s\"}}",
        path);
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_config_parse("gw.json", ag_str_cstr(text), &conf, &err), 0);
    CHECK_EQ(ag_policy_setup(conf, uv_default_loop(), &err), 0);
    CHECK_EQ(ag_authorizer_create(conf, &authorizer), 0);
    if (err.n)
        fprintf(stderr, "%s\n", err.p);
    ag_buf_dispose(&err);
    unlink(path);
}

typedef struct {
    ag_arena_t arena;
    ag_http_req_t req;
    ag_header_t h[80];
    ag_gate_t g;
    char msg[512];
} run_t;

/* Runs the step for <user> (NULL: no identity) on GET <target> with "Name: value" lines. */
static ag_gate_result run(run_t *r, const ag_identity_t *user, const char *target,
                          const char *const *headers)
{
    setup_once();
    ag_arena_init(&r->arena, 0, 0);
    memset(&r->req, 0, sizeof r->req);
    r->req.method = AG_STR("GET");
    r->req.target = ag_str_cstr(target);
    int n = 0;
    for (; headers && headers[n]; n++) {
        ag_str_t line = ag_str_cstr(headers[n]), name;
        ag_str_t value = ag_str_split(line, ':', &name);
        while (value.n && value.p[0] == ' ')
            value = ag_str_sub(value, 1, value.n);
        r->h[n] = (ag_header_t){name, value, 0};
    }
    r->req.headers = r->h;
    r->req.nheaders = n;
    r->g = (ag_gate_t){.req = &r->req, .arena = &r->arena, .worker = 1, .identity = user};
    ag_gate_result res = ag_authorize_gate(&r->g, authorizer);
    snprintf(r->msg, sizeof r->msg, "%.*s", AG_STR_FMT(r->g.message));
    return res;
}

static bool has(const ag_identity_t *id, const char *group)
{
    for (int i = 0; i < id->ngroups; i++)
        if (ag_str_eq_lit(id->groups[i], group))
            return true;
    return false;
}

static ag_str_t bob_groups[] = {AG_STR("ops"), AG_STR("system:authenticated")};
static const ag_identity_t bob = {
    .username = AG_STR("bob"), .groups = bob_groups, .ngroups = 2, .uid = AG_STR("bob-uid")};

TEST(authorize_impersonated_user_gets_only_system_authenticated)
{
    run_t r;
    const char *h[] = {"Impersonate-User: carol", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/namespaces/default/pods", h), AG_GATE_ALLOW);
    CHECK(ag_str_eq_lit(r.g.identity->username, "carol"));
    CHECK_EQ(r.g.identity->ngroups, 1);
    CHECK(has(r.g.identity, "system:authenticated"));
    CHECK_EQ(r.g.identity->uid.n, 0); /* nothing carries over from bob */
    CHECK_EQ(r.g.identity->nextra, 0);
    ag_arena_dispose(&r.arena);
}

TEST(authorize_given_groups_are_kept_and_not_duplicated)
{
    run_t r;
    const char *h[] = {"impersonate-user: carol", "IMPERSONATE-GROUP: a",
                       "Impersonate-Group: system:authenticated", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", h), AG_GATE_ALLOW);
    CHECK_EQ(r.g.identity->ngroups, 2);
    CHECK(has(r.g.identity, "a") && has(r.g.identity, "system:authenticated"));
    ag_arena_dispose(&r.arena);
}

TEST(authorize_extra_keys_are_lowercased_then_percent_decoded)
{
    run_t r;
    const char *h[] = {"Impersonate-User: carol", "Impersonate-Extra-Example.com%2Fscopes: read",
                       "Impersonate-Extra-example.com%2fscopes: write", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", h), AG_GATE_ALLOW);
    CHECK_EQ(r.g.identity->nextra, 1);
    CHECK(ag_str_eq_lit(r.g.identity->extra[0].key, "example.com/scopes"));
    CHECK_EQ(r.g.identity->extra[0].nvalues, 2);
    CHECK(ag_str_eq_lit(r.g.identity->extra[0].values[1], "write"));
    ag_arena_dispose(&r.arena);
    /* a bad escape keeps the lower-cased raw key, which bob may not impersonate */
    const char *bad[] = {"Impersonate-User: carol", "Impersonate-Extra-Foo%zz: x", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", bad), AG_GATE_DENY);
    CHECK_EQ(r.g.status, 403);
    CHECK_STREQ(r.msg, "userextras.authentication.k8s.io \"x\" is forbidden: User \"bob\" cannot "
                       "impersonate resource \"userextras/foo%zz\" in API group "
                       "\"authentication.k8s.io\" at the cluster scope");
    ag_arena_dispose(&r.arena);
}

TEST(authorize_uid_needs_its_own_grant)
{
    run_t r;
    const char *h[] = {"Impersonate-User: carol", "Impersonate-Uid: 42", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", h), AG_GATE_DENY);
    CHECK_STREQ(r.msg, "uids.authentication.k8s.io \"42\" is forbidden: User \"bob\" cannot "
                       "impersonate resource \"uids\" in API group \"authentication.k8s.io\" at "
                       "the cluster scope");
    CHECK(ag_str_eq_lit(r.g.details.kind, "uids") && ag_str_eq_lit(r.g.details.name, "42"));
    ag_arena_dispose(&r.arena);
}

TEST(authorize_malformed_impersonation_is_a_400)
{
    run_t r;
    const char *no_user[] = {"Impersonate-Group: a", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", no_user), AG_GATE_DENY);
    CHECK_EQ(r.g.status, 400);
    ag_arena_dispose(&r.arena);
    const char *two[] = {"Impersonate-User: carol", "Impersonate-User: dave", NULL};
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", two), AG_GATE_DENY);
    CHECK_EQ(r.g.status, 400);
    ag_arena_dispose(&r.arena);
    static char lines[70][32];
    const char *many[72] = {"Impersonate-User: carol"};
    for (int i = 0; i < 70; i++) {
        snprintf(lines[i], sizeof lines[i], "Impersonate-Group: g%d", i);
        many[i + 1] = lines[i];
    }
    CHECK_EQ(run(&r, &bob, "/api/v1/pods", many), AG_GATE_DENY);
    CHECK_EQ(r.g.status, 400); /* more than 64 values */
    ag_arena_dispose(&r.arena);
}

TEST(authorize_impersonating_anonymous_gives_system_unauthenticated)
{
    run_t r;
    const char *h[] = {"Impersonate-User: system:anonymous", NULL};
    CHECK_EQ(run(&r, &bob, "/version", h), AG_GATE_ALLOW); /* bootstrap: /version for all */
    CHECK_EQ(r.g.identity->ngroups, 1);
    CHECK(has(r.g.identity, "system:unauthenticated"));
    ag_arena_dispose(&r.arena);
}

TEST(authorize_without_identity_judges_system_anonymous)
{
    run_t r;
    CHECK_EQ(run(&r, NULL, "/api/v1/namespaces/default/pods", NULL), AG_GATE_DENY);
    CHECK_STREQ(r.msg, "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" "
                       "in API group \"\" in the namespace \"default\"");
    ag_arena_dispose(&r.arena);
    CHECK_EQ(run(&r, NULL, "/version", NULL), AG_GATE_ALLOW); /* system:public-info-viewer */
    ag_arena_dispose(&r.arena);
}

TEST(authorize_non_resource_denial_names_the_path)
{
    run_t r;
    CHECK_EQ(run(&r, &bob, "/metrics", NULL), AG_GATE_DENY);
    CHECK_STREQ(r.msg, "forbidden: User \"bob\" cannot get path \"/metrics\"");
    CHECK_EQ(r.g.details.kind.n, 0); /* no details for non-resource requests */
    ag_arena_dispose(&r.arena);
}

static ag_err parse_authz(const char *text, ag_authz_config_t *c, char *msg, size_t cap,
                          ag_arena_t *arena)
{
    ag_cfg_t cfg;
    ag_err err = ag_cfg_init(&cfg, "gw.json", ag_str_cstr(text), arena);
    if (!err)
        err = ag_authz_config_parse(&cfg, ag_json_root(cfg.doc), "authorization", "/usr", c);
    snprintf(msg, cap, "%s", ag_cfg_error(&cfg) ? ag_cfg_error(&cfg) : "");
    ag_cfg_dispose(&cfg);
    return err;
}

TEST(authz_config_reads_modes_paths_and_impersonation)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_authz_config_t c;
    char msg[512];
    CHECK_EQ(parse_authz("{}", &c, msg, sizeof msg, &arena), 0);
    CHECK(!c.mode_set && c.bootstrap && c.impersonation == AG_IMPERSONATION_AUTHORIZE);
    CHECK_EQ(c.reload_interval_ms, 1000);
    CHECK_EQ(parse_authz("{\"mode\":\"azure_or_rbac\",\"impersonation\":\"deny\",\"rbac\":"
                         "{\"policies\":[\"lib/\",\"/etc/passwd\"],\"bootstrap\":false},"
                         "\"reload_interval\":\"0s\"}",
                         &c, msg, sizeof msg, &arena),
             0);
    CHECK(c.mode_set && c.mode == AG_CHAIN_AZURE_OR_RBAC);
    CHECK_EQ(c.impersonation, AG_IMPERSONATION_DENY);
    CHECK_EQ(c.npolicies, 2);
    CHECK_STREQ(c.policies[0], "/usr/lib/"); /* relative: against the config's directory */
    CHECK_STREQ(c.policies[1], "/etc/passwd");
    CHECK(!c.bootstrap);
    CHECK_EQ(c.reload_interval_ms, 0);
    CHECK_EQ(parse_authz("{\"mode\":\"azure-then-rbac\"}", &c, msg, sizeof msg, &arena), 0);
    CHECK_EQ(c.mode, AG_CHAIN_AZURE_THEN_RBAC);
    CHECK_EQ(parse_authz("{\"impersonation\":\"allow\"}", &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "authorization.impersonation") != NULL);
    CHECK_EQ(parse_authz("{\"reload_interval\":\"50ms\"}", &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK_EQ(parse_authz("{\"rbac\":{\"policy\":[]}}", &c, msg, sizeof msg, &arena), AG_E_CONFIG);
    CHECK(strstr(msg, "policy") != NULL);
    /* a policy path that does not exist names the key, the element and the path */
    CHECK_EQ(parse_authz("{\"rbac\":{\"policies\":[\"lib/\",\"no-such-dir/\"]}}", &c, msg,
                         sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "authorization.rbac.policies[1]: no such file or directory "
                      "\"/usr/no-such-dir/\"") != NULL);
    ag_arena_dispose(&arena);
}
