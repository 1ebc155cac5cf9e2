/* Unit tests for core/authz/azure/azrbac_arm.c (ARM list URLs, strict page reading) and for loading
 * an Azure RBAC snapshot from ARM pages (ag_azrbac_load_srcs): several pages per kind, REST shapes,
 * management-group assignments kept only when ARM listed them, hostile pages refused. */
#include <stdio.h>

#include "authz/azure/azrbac.h"
#include "authz/azure/azrbac_arm.h"
#include "testlib.h"

#define BASE "http://127.0.0.1:8124"
#define SUB "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
#define CLUSTER SUB "/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/web"
#define MG "/providers/Microsoft.Management/managementGroups/corp"
#define R_READER "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
#define R_CUSTOM "9d5b4a3c-1111-4222-8333-944455556666"
#define U1 "aaaaaaaa-0000-4000-8000-000000000001"
#define U2 "aaaaaaaa-0000-4000-8000-000000000002"

TEST(arm_list_url_names_the_scope_type_and_api_version)
{
    ag_buf_t b = AG_BUF_INIT(4096);
    CHECK_EQ(ag_arm_list_url(&b, AG_STR(BASE), AG_STR(CLUSTER), AG_ARM_ROLE_ASSIGNMENTS), 0);
    CHECK_STREQ(b.p, BASE CLUSTER "/providers/Microsoft.Authorization/roleAssignments"
                                  "?api-version=2022-04-01");
    ag_buf_clear(&b);
    CHECK_EQ(ag_arm_list_url(&b, AG_STR(BASE), AG_STR(SUB "/resourceGroups/r g?x#/"),
                             AG_ARM_DENY_ASSIGNMENTS),
             0);
    CHECK_STREQ(b.p, BASE SUB "/resourceGroups/r%20g%3Fx%23/providers/Microsoft.Authorization/"
                              "denyAssignments?api-version=2022-04-01");
    ag_buf_clear(&b);
    CHECK_EQ(ag_arm_list_url(&b, AG_STR(BASE), AG_STR(CLUSTER), AG_ARM_ROLE_DEFINITIONS), 0);
    CHECK(strstr(b.p, "/providers/Microsoft.Authorization/roleDefinitions?") != NULL);
    CHECK_EQ(ag_arm_list_url(&b, AG_STR(BASE), AG_STR("subscriptions/x"), AG_ARM_ROLE_DEFINITIONS),
             AG_E_INVAL);
    CHECK_EQ(ag_arm_list_url(&b, AG_STR(BASE), AG_STR(CLUSTER), AG_ARM_KINDS), AG_E_INVAL);
    CHECK_STREQ(ag_arm_kind_label(AG_ARM_DENY_ASSIGNMENTS), "deny_assignments");
    ag_buf_dispose(&b);
}

static ag_err page(const char *body, ag_arm_page_t *pg)
{
    static ag_arena_t a;
    static int inited;
    if (!inited)
        ag_arena_init(&a, 0, 0), inited = 1;
    return ag_arm_page_parse(ag_str_cstr(body), AG_STR(BASE), &a, pg);
}

TEST(arm_page_parse_counts_items_and_reads_next_link)
{
    ag_arm_page_t pg;
    CHECK_EQ(page("{\"value\":[{\"id\":\"a\"},{}],\"nextLink\":\"" BASE "/x?$skipToken=2\"}", &pg),
             0);
    CHECK_EQ(pg.items, 2);
    CHECK_SLICE(pg.next, BASE "/x?$skipToken=2");
    CHECK_EQ(page("{\"value\":[],\"nextLink\":null}", &pg), 0);
    CHECK_EQ(pg.items, 0);
    CHECK(pg.next.p == NULL);
    CHECK_EQ(page("{\"value\":[{}],\"nextLink\":\"\"}", &pg), 0);
    CHECK(pg.next.p == NULL);
    CHECK_EQ(page("{\"value\":[{}],\"other\":1}", &pg), 0);
}

TEST(arm_page_parse_refuses_hostile_pages)
{
    static const char *const bad[] = {
        "",
        "<html>upstream connect error</html>",
        "[]",
        "{}",
        "{\"value\":{}}",
        "{\"value\":[1]}",
        "{\"value\":[{}],\"nextLink\":7}",
        "{\"value\":[{}],\"nextLink\":\"https://evil.example/x\"}",
        "{\"value\":[{}],\"nextLink\":\"http://127.0.0.1:8125/x\"}",
        "{\"value\":[{}],\"nextLink\":\"http://user@127.0.0.1:8124/x\"}",
        "{\"value\":[{}],\"nextLink\":\"http://127.0.0.1:8124/x y\"}",
        "{\"value\":[{}],\"nextLink\":\"http://127.0.0.1:8124/x#f\"}",
        "{\"value\":[{}]",
        "{\"value\":[{}]} trailing",
        "{\"value\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_arm_page_t pg;
        ag_err err = page(bad[i], &pg);
        if (err != AG_E_PARSE)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_EQ(err, AG_E_PARSE);
    }
    ag_buf_t big = AG_BUF_INIT(AG_ARM_MAX_PAGE_BYTES + 64);
    ag_buf_append_cstr(&big, "{\"value\":[],\"x\":\"");
    while (big.n <= AG_ARM_MAX_PAGE_BYTES)
        ag_buf_append_cstr(&big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ag_buf_append_cstr(&big, "\"}");
    ag_arm_page_t pg;
    CHECK_EQ(page(big.p, &pg), AG_E_TOO_BIG);
    ag_buf_dispose(&big);
}

/* One REST role assignment item. */
#define RA(name, scope, pid, role)                                                                 \
    "{\"id\":\"" scope "/providers/Microsoft.Authorization/roleAssignments/" name "\","            \
    "\"name\":\"" name "\",\"type\":\"Microsoft.Authorization/roleAssignments\","                  \
    "\"properties\":{\"roleDefinitionId\":\"" SUB                                                  \
    "/providers/Microsoft.Authorization/roleDefinitions/" role "\",\"principalId\":\"" pid         \
    "\",\"principalType\":\"User\",\"scope\":\"" scope "\"}}"

static ag_azrbac_src_t src(const char *text, const char *name, bool listed)
{
    return (ag_azrbac_src_t){ag_str_cstr(text), name, listed};
}

static int decide(const ag_azrbac_t *p, const char *oid, const char *verb, const char *res,
                  const char *ns)
{
    ag_identity_t id = {.oid = ag_str_cstr(oid)};
    ag_attrs_t a = {.verb = ag_str_cstr(verb),
                    .resource = ag_str_cstr(res),
                    .namespace_ = ag_str_cstr(ns),
                    .resource_request = true};
    ag_authz_decision_t d;
    return (int)ag_azrbac_eval(p, &id, &a, &d);
}

TEST(arm_pages_load_as_one_snapshot)
{
    const char *defs1 = "{\"value\":[{\"id\":\"" SUB "/providers/Microsoft.Authorization/"
                        "roleDefinitions/" R_CUSTOM "\",\"name\":\"" R_CUSTOM "\","
                        "\"properties\":{\"roleName\":\"Secret reader\",\"type\":\"CustomRole\","
                        "\"permissions\":[{\"actions\":[],\"notActions\":[],\"dataActions\":["
                        "\"Microsoft.ContainerService/managedClusters/secrets/read\"],"
                        "\"notDataActions\":[]}],\"assignableScopes\":[\"" SUB "\"]}}],"
                        "\"nextLink\":\"" BASE "/p2\"}";
    const char *asg1 =
        "{\"value\":[" RA("a1", CLUSTER "/namespaces/dev", U1, R_READER) "],"
                                                                         "\"nextLink\":\"" BASE
                                                                         "/p2\"}";
    const char *asg2 =
        "{\"value\":[" RA("a2", CLUSTER, U2, R_CUSTOM) "," RA("a3", MG, U1, R_CUSTOM) "]}";
    ag_azrbac_src_t d[] = {src(defs1, "role definitions page 1", true)};
    ag_azrbac_src_t a[] = {src(asg1, "role assignments page 1", true),
                           src(asg2, "role assignments page 2", true)};
    ag_azrbac_srcs_t in = {d, a, NULL, 1, 2, 0};
    ag_azrbac_opts_t opts = {AG_STR(CLUSTER)};
    ag_azrbac_t *p = NULL;
    ag_buf_t why = AG_BUF_INIT(4096);
    CHECK_EQ(ag_azrbac_load_srcs(&in, &opts, &p, &why), 0);
    if (!p)
        return;
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK_EQ(st.assignments, 3);
    CHECK_EQ(st.assignments_unknown_role, 0);
    CHECK_EQ(decide(p, U1, "get", "pods", "dev"), (int)AG_AUTHZ_ALLOW);
    CHECK_EQ(decide(p, U1, "get", "pods", "prod"), (int)AG_AUTHZ_NO_OPINION);
    CHECK_EQ(decide(p, U2, "get", "secrets", "prod"), (int)AG_AUTHZ_ALLOW);
    /* U1's custom role at the management group: ARM listed it for the cluster. */
    CHECK_EQ(decide(p, U1, "get", "secrets", "prod"), (int)AG_AUTHZ_ALLOW);
    ag_azrbac_unref(p);
    p = NULL;
    /* The same page from a file: a management group is not known to be an ancestor. */
    a[1].listed = false;
    CHECK_EQ(ag_azrbac_load_srcs(&in, &opts, &p, &why), 0);
    if (p) {
        CHECK_EQ(decide(p, U1, "get", "secrets", "prod"), (int)AG_AUTHZ_NO_OPINION);
        CHECK_EQ(decide(p, U2, "get", "secrets", "prod"), (int)AG_AUTHZ_ALLOW);
    }
    ag_azrbac_unref(p);
    ag_buf_dispose(&why);
}

/* An assignment whose role ARM did not list grants nothing and is counted; a malformed
 * item fails the whole load (the poller then keeps its last good snapshot). */
TEST(arm_pages_unknown_role_counted_and_bad_items_refused)
{
    const char *asg =
        "{\"value\":[" RA("a1", CLUSTER, U1, "11111111-2222-4333-8444-555555555555") "]}";
    ag_azrbac_src_t a[] = {src(asg, "role assignments", true)};
    ag_azrbac_srcs_t in = {NULL, a, NULL, 0, 1, 0};
    ag_azrbac_opts_t opts = {AG_STR(CLUSTER)};
    ag_azrbac_t *p = NULL;
    ag_buf_t why = AG_BUF_INIT(4096);
    CHECK_EQ(ag_azrbac_load_srcs(&in, &opts, &p, &why), 0);
    if (p) {
        ag_azrbac_stats_t st;
        ag_azrbac_stats(p, &st);
        CHECK_EQ(st.assignments_unknown_role, 1);
        CHECK_EQ(decide(p, U1, "get", "pods", "dev"), (int)AG_AUTHZ_NO_OPINION);
    }
    ag_azrbac_unref(p);
    p = NULL;
    static const char *const bad[] = {
        "{\"value\":[{\"properties\":{\"principalId\":\"not-a-guid\",\"roleDefinitionId\":"
        "\"x/" R_READER "\",\"scope\":\"" CLUSTER "\"}}]}",
        "{\"value\":[{\"properties\":{\"principalId\":\"" U1 "\",\"roleDefinitionId\":7,"
        "\"scope\":\"" CLUSTER "\"}}]}",
        "{\"value\":[{\"properties\":{\"principalId\":\"" U1 "\",\"roleDefinitionId\":\"x/" R_READER
        "\",\"scope\":\"no-slash\"}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a[0] = src(bad[i], "role assignments", true);
        ag_buf_clear(&why);
        CHECK_EQ(ag_azrbac_load_srcs(&in, &opts, &p, &why), AG_E_PARSE);
        CHECK(strncmp(why.p ? why.p : "", "role assignments: [0]", 21) == 0);
    }
    ag_buf_dispose(&why);
}
