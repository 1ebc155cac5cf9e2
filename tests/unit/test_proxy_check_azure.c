/* `authgate check` for Azure RBAC (proxy/cmd/cmd_check_azure.c) against the sample exports in
 * config/azure/: the exit status answers (0 yes, 1 no, 2 usage/load error). */
#include <stdbool.h>

#include "cmd/cmd_check_azure.h"
#include "testlib.h"

#define ASG "config/azure/role-assignments.json"
#define DEFS "config/azure/role-definitions.json"
#define DENY "config/azure/deny-assignments.json"
#define ALICE "1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001"
#define ADMINS "8d2e4c6a-0b1f-4e3d-a5c7-9f1e2d3c0002"
#define DEVS "6e5d4c3b-2a19-4f8e-b7d6-c5b4a3920005"
#define CI_SP "4b9a7c5e-3d2f-4a1b-8c6d-2e0f1a9b0003"
#define DAVE "2d7e8f90-1a2b-4c3d-9e8f-7a6b5c4d0009"
#define CAROL "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b0006"
#define NOBODY "ffffffff-0000-4000-8000-00000000ffff"
#define MC "Microsoft.ContainerService/managedClusters/"

#define CLUSTER                                                                                    \
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/"            \
    "Microsoft.ContainerService/managedClusters/web"

/* Runs `authgate check ARGS`, with --cluster-id CLUSTER first when <cluster>. */
static int run(bool cluster, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"check";
    if (cluster) {
        argv[argc++] = (char *)"--cluster-id";
        argv[argc++] = (char *)CLUSTER;
    }
    for (; *args && argc < 31; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    fflush(stdout);
    return ag_cmd_check_azure(argc, argv);
}

#define RUN(...) run(true, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_RAW(...) run(false, (const char *const[]){__VA_ARGS__, NULL})

TEST(check_azure_arm_actions_answer_who_may_pull_kubeconfigs)
{
    const char *user = MC "listClusterUserCredential/action";
    const char *admin = MC "listClusterAdminCredential/action";
    /* alice: Cluster User Role at the cluster (cluster inferred from the assignments) */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--arm-action", user, "--principal", ALICE), 0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--arm-action", admin, "--principal", ALICE), 1);
    /* the CI service principal holds only RBAC Writer in a namespace */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--arm-action", user, "--principal", CI_SP), 1);
    /* platform admins (group) hold RBAC Cluster Admin: user credential yes, admin no */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--arm-action", user, "--principal", NOBODY, "--group",
                 ADMINS, "--explain"),
             0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--arm-action", admin, "--principal", NOBODY,
                 "--group", ADMINS),
             1);
    /* carol is subscription Owner: the admin kubeconfig */
    CHECK_EQ(
        RUN("--azure-assignments", ASG, "--arm-action", admin, "--principal", CAROL, "--explain"),
        0);
}

TEST(check_azure_data_actions_through_the_cli)
{
    /* alice: RBAC Reader in dev only */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", ALICE, "get", "pods", "-n", "dev"), 0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", ALICE, "get", "pods", "-n", "prod"), 1);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", ALICE, "--explain", "get", "secrets",
                 "-n", "dev"),
             1);
    /* developers: the custom CRD reader at the resource group (with its definition) */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-definitions", DEFS, "--principal", NOBODY,
                 "--group", DEVS, "list", "widgets.example.com", "-n", "prod"),
             0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", NOBODY, "--group", DEVS, "list",
                 "widgets.example.com", "-n", "prod"),
             1); /* unknown role without it */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-definitions", DEFS, "--principal", NOBODY,
                 "--group", DEVS, "get", "secrets", "-n", "prod"),
             1);
    /* CI writer execs in ci */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", CI_SP, "create", "pods",
                 "--subresource", "exec", "-n", "ci"),
             0);
    /* admins: everything, except kube-system secrets are behind a deny assignment that
     * excludes only the admins group itself */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-deny", DENY, "--principal", NOBODY, "--group",
                 ADMINS, "get", "secrets", "-n", "kube-system"),
             0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-deny", DENY, "--principal", NOBODY, "--group",
                 ADMINS, "get", "/healthz"),
             0);
    /* dave: RBAC Writer at the cluster reads secrets, but not in kube-system */
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-deny", DENY, "--principal", DAVE, "get",
                 "secrets", "-n", "dev"),
             0);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--azure-deny", DENY, "--principal", DAVE, "--explain",
                 "get", "secrets", "-n", "kube-system"),
             1);
    CHECK_EQ(
        RUN("--azure-assignments", ASG, "--principal", DAVE, "get", "secrets", "-n", "kube-system"),
        0);
}

TEST(check_azure_usage_and_load_errors_exit_2)
{
    /* the sample names two clusters (web and web-eu): --cluster-id is needed */
    CHECK_EQ(RUN_RAW("--azure-assignments", ASG, "--principal", ALICE, "get", "pods"), 2);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", ALICE), 2);
    CHECK_EQ(RUN("--azure-assignments", ASG, "get", "pods"), 2);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal", ALICE, "--bogus", "get", "pods"), 2);
    CHECK_EQ(RUN("--azure-assignments", "config/azure/missing.json", "--cluster-id",
                 "/subscriptions/x", "--principal", ALICE, "get", "pods"),
             2);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--cluster-id", "not-a-scope", "--principal", ALICE,
                 "get", "pods"),
             2);
    CHECK_EQ(RUN("--azure-assignments", ASG, "--principal"), 2);
    CHECK(ag_cmd_check_wants_azure(3, (char *[]){"check", "--arm-action", "x", NULL}));
    CHECK(ag_cmd_check_wants_azure(2, (char *[]){"check", "--azure-assignments=f", NULL}));
    CHECK(!ag_cmd_check_wants_azure(3, (char *[]){"check", "get", "pods", NULL}));
}
