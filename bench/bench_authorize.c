/* Cost of the front door's authorization step (proxy/authorize.c) in-process, per
 * request: attributes, the impersonation scan, the chain decision against a policy of
 * 10,000 RoleBindings (plus bootstrap), and for a denial the Forbidden message; with
 * --audit also the audit entry, the Event JSON and the queue copy (written to a temp file
 * that is removed afterwards).
 *
 *   bench_authorize [--seconds S] [--audit]
 *
 * Prints one line per case: "CASE ns/request=N requests=M". Single thread; each case
 * runs S seconds (default 1, at most 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "authorize.h"
#include "config.h"
#include "policy.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_policy(const char *path)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"kind\":\"List\",\"items\":[");
    for (int i = 0; i < 10000; i++)
        fprintf(f,
                "%s{\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"b%d\",\"namespace\":"
                "\"ns-%d\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"%s\"},"
                "\"subjects\":[{\"kind\":\"User\",\"name\":\"%s\"}]}",
                i ? "," : "", i, i % 100, i % 2 ? "view" : "edit", i ? "user" : "alice");
    fprintf(f, ",{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"imp\"},\"roleRef\":"
               "{\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},\"subjects\":[{\"kind\":"
               "\"User\",\"name\":\"bob\"}]}]}");
    fclose(f);
}

static void run_case(const char *name, const char *target, const ag_identity_t *user,
                     const char *imp_user, double seconds, bool audit)
{
    ag_arena_t arena;
    ag_header_t h[3] = {{AG_STR("User-Agent"), AG_STR("kubectl/v1.31.0"), 0},
                        {AG_STR("Impersonate-User"), ag_str_cstr(imp_user ? imp_user : ""), 0}};
    ag_http_req_t req = {.method = AG_STR("GET"),
                         .target = ag_str_cstr(target),
                         .headers = h,
                         .nheaders = imp_user ? 2 : 1};
    unsigned long long n = 0;
    ag_arena_init(&arena, 16 * 1024, 0);
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < seconds) {
        for (int i = 0; i < 1000; i++, n++) {
            ag_gate_t g = {.req = &req,
                           .arena = &arena,
                           .worker = 1,
                           .identity = user,
                           .client_ip = AG_STR("10.0.0.1")};
            ag_gate_result r = ag_authorize_gate(&g, NULL);
            if (audit)
                ag_audit_finish(&g, r == AG_GATE_ALLOW ? 200 : g.status, true);
            ag_arena_reset(&arena);
        }
        t1 = now_s();
    }
    printf("%-28s ns/request=%.0f requests=%llu\n", name, (t1 - t0) * 1e9 / (double)n, n);
    ag_arena_dispose(&arena);
}

int main(int argc, char **argv)
{
    double seconds = 1;
    bool audit = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--audit"))
            audit = true;
    }
    if (seconds <= 0 || seconds > 10)
        seconds = 1;
    char dir[] = "/tmp/ag-bench-authz-XXXXXX", policy[128], log[128], text[1024];
    if (!mkdtemp(dir))
        return 1;
    snprintf(policy, sizeof policy, "%s/policy.json", dir);
    snprintf(log, sizeof log, "%s/audit.log", dir);
    write_policy(policy);
    snprintf(
        text, sizeof text,
        "{\"listen\":{\"address\":\"127.0.0.1:0\"},\"upstream\":{\"url\":\"http://127.0.0.1:1\"},"
        "\"log\":{\"level\":\"warn\"},\"authorization\":{\"rbac\":{\"policies\":[\"%s\"]},"
        "\"reload_interval\":\"0s\"}%s%s%s}",
        policy, audit ? ",\"audit\":{\"file\":\"" : "", audit ? log : "", audit ? "\"}" : "");
    ag_config_t *conf = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    if (ag_config_parse("bench.json", ag_str_cstr(text), &conf, &err) != 0 ||
        ag_policy_setup(conf, uv_default_loop(), &err) != 0 || ag_audit_setup(conf, &err) != 0 ||
        ag_authorize_setup(conf) != 0) {
        fprintf(stderr, "bench_authorize: %s\n", err.p ? err.p : "setup failed");
        return 1;
    }
    ag_str_t groups[] = {AG_STR("devs"), AG_STR("system:authenticated")};
    ag_identity_t alice = {.username = AG_STR("alice"), .groups = groups, .ngroups = 2};
    ag_identity_t bob = {.username = AG_STR("bob"), .groups = groups + 1, .ngroups = 1};
    run_case("allow list pods", "/api/v1/namespaces/ns-0/pods", &alice, NULL, seconds, audit);
    run_case("allow get pod (named)", "/api/v1/namespaces/ns-0/pods/web", &alice, NULL, seconds,
             audit);
    run_case("deny list secrets (403)", "/api/v1/namespaces/ns-1/secrets", &alice, NULL, seconds,
             audit);
    run_case("impersonated allow", "/api/v1/namespaces/ns-0/pods", &bob, "alice", seconds, audit);
    ag_audit_shutdown();
    unlink(log);
    unlink(policy);
    rmdir(dir);
    ag_buf_dispose(&err);
    return 0;
}
