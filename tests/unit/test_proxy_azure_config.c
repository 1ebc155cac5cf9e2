/* The "azure" config section (config/azure_config.c): strict reading, defaults, relative
 * paths, and loading the policy it names from the samples in config/azure/. */
#include "azure_config.h"
#include "testlib.h"

#define CLUSTER                                                                                    \
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/"            \
    "Microsoft.ContainerService/managedClusters/web"

static ag_err parse(const char *text, const char *dir, ag_azure_config_t *c, char *msg, size_t cap,
                    ag_arena_t *arena)
{
    ag_cfg_t cfg;
    ag_err err = ag_cfg_init(&cfg, "gw.json", ag_str_cstr(text), arena);
    if (!err)
        err = ag_azure_config_parse(&cfg, ag_json_root(cfg.doc), "azure", dir, c);
    snprintf(msg, cap, "%s", ag_cfg_error(&cfg) ? ag_cfg_error(&cfg) : "");
    ag_cfg_dispose(&cfg);
    return err;
}

TEST(azure_config_reads_the_section_and_loads_its_policy)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_azure_config_t c;
    char msg[512];
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"role_assignments\":"
                   "[\"azure/role-assignments.json\"],\"role_definitions\":"
                   "[\"azure/role-definitions.json\"],\"deny_assignments\":"
                   "[\"/nonexistent/deny.json\"]}",
                   "config", &c, msg, sizeof msg, &arena),
             0);
    CHECK_EQ(c.mode, AG_CHAIN_AZURE_THEN_RBAC);
    CHECK_EQ(c.nassignments, 1);
    CHECK_STREQ(c.assignments[0], "config/azure/role-assignments.json");
    CHECK_STREQ(c.definitions[0], "config/azure/role-definitions.json");
    CHECK_STREQ(c.deny[0], "/nonexistent/deny.json"); /* absolute paths stay */
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;
    CHECK_EQ(ag_azure_config_load(&c, &p, &err), AG_E_IO); /* the deny file is missing */
    CHECK(strstr(err.p, "/nonexistent/deny.json") != NULL);
    c.ndeny = 0;
    CHECK_EQ(ag_azure_config_load(&c, &p, &err), 0);
    ag_azrbac_stats_t st;
    ag_azrbac_stats(p, &st);
    CHECK(st.assignments > 0);
    CHECK_EQ(st.roles, 12); /* 11 built-in + the custom one */
    ag_azrbac_unref(p);
    ag_buf_dispose(&err);
    ag_arena_dispose(&arena);
}

TEST(azure_config_rejects_what_it_does_not_know)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_azure_config_t c;
    char msg[512];
    CHECK_EQ(parse("{\"mode\":\"azure-or-rbac\",\"cluster_resource_id\":\"" CLUSTER "\","
                   "\"role_assignments\":[\"a.json\"]}",
                   NULL, &c, msg, sizeof msg, &arena),
             0);
    CHECK_EQ(c.mode, AG_CHAIN_AZURE_OR_RBAC);
    CHECK_STREQ(c.assignments[0], "a.json");
    CHECK_EQ(parse("{\"mode\":\"azure\",\"cluster_resource_id\":\"" CLUSTER "\","
                   "\"role_assignments\":[\"a.json\"]}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "azure.mode") != NULL);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"web\",\"role_assignments\":[\"a.json\"]}", NULL, &c,
                   msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "gw.json:1:") == msg);
    CHECK(strstr(msg, "azure.cluster_resource_id") != NULL);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"role_assignments\":[]}", NULL, &c,
                   msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\"}", NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"role_assignments\":[\"a\"],"
                   "\"extra\":1}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "extra") != NULL);
    ag_arena_dispose(&arena);
}

/* "arm": ARM replaces the required role_assignments; defaults for the endpoint, the poll
 * interval, the per-request timeout and the token scope; credentials as for Graph. */
TEST(azure_config_arm_section)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_azure_config_t c;
    char msg[512];
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"arm\":{\"tenant\":\"t1\","
                   "\"client_id\":\"app\",\"client_secret_file\":\"/run/s\"}}",
                   NULL, &c, msg, sizeof msg, &arena),
             0);
    CHECK(c.arm.enabled);
    CHECK_EQ(c.nassignments, 0);
    CHECK_SLICE(c.arm.base_url, "https://management.azure.com");
    CHECK_SLICE(c.arm.cred.scope, "https://management.azure.com/.default");
    CHECK_SLICE(c.arm.cred.token_url, "https://login.microsoftonline.com/t1/oauth2/v2.0/token");
    CHECK_EQ(c.arm.poll_interval_ms, 60000);
    CHECK_EQ(c.arm.cred.timeout_ms, 30000);
    CHECK_EQ(
        parse(
            "{\"cluster_resource_id\":\"" CLUSTER "\",\"role_assignments\":[\"a.json\"],"
            "\"arm\":{\"base_url\":\"http://127.0.0.1:9/\",\"token_url\":\"http://127.0.0.1:9/t\","
            "\"client_id\":\"app\",\"federated_token_file\":\"/tok\",\"poll_interval\":\"1s\","
            "\"timeout\":\"2s\"}}",
            NULL, &c, msg, sizeof msg, &arena),
        0);
    CHECK_EQ(c.nassignments, 1); /* files and ARM together */
    CHECK_SLICE(c.arm.base_url, "http://127.0.0.1:9");
    CHECK_SLICE(c.arm.cred.scope, "http://127.0.0.1:9/.default");
    CHECK_STREQ(c.arm.cred.federated_token_file, "/tok");
    CHECK_EQ(c.arm.poll_interval_ms, 1000);
    CHECK_EQ(c.arm.cred.timeout_ms, 2000);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"arm\":{\"tenant\":\"t1\","
                   "\"client_id\":\"app\"}}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "azure.arm: needs exactly one of") != NULL);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"arm\":{\"tenant\":\"t1\","
                   "\"client_id\":\"app\",\"client_secret_file\":\"s\",\"base_url\":"
                   "\"http://management.azure.com\"}}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK(strstr(msg, "azure.arm.base_url: must use https") != NULL);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"arm\":{\"tenant\":\"t1\","
                   "\"client_id\":\"app\",\"client_secret_file\":\"s\",\"poll_interval\":\"1ms\"}}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\",\"arm\":{\"tenant\":\"t1\","
                   "\"client_id\":\"app\",\"client_secret_file\":\"s\",\"filter\":\"x\"}}",
                   NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG);
    CHECK_EQ(parse("{\"cluster_resource_id\":\"" CLUSTER "\"}", NULL, &c, msg, sizeof msg, &arena),
             AG_E_CONFIG); /* neither files nor ARM */
    ag_arena_dispose(&arena);
}
