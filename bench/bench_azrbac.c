/* bench_azrbac: Azure RBAC decision time (core/authz/azure/azrbac.c) at 10, 1,000 and 10,000 role
 * assignments. The principal asking has an object id and 20 groups; 5 assignments are its
 * own or its groups' (RBAC Reader in "dev", Writer in "ci", a group's Cluster Admin at the
 * resource group, ...), the rest belong to other principals at the cluster, its namespaces,
 * other clusters and the subscription. Also the worst case where all N assignments are on
 * one of the principal's groups (the index cannot help; cost is O(N)). Shapes: bench/gen.h.
 * Each figure is the median over 15 rounds of ns per decision (thread CPU time), with min
 * and max of the rounds. Not a test.
 *
 *   build-azure/bench_azrbac [--quick]      (--quick: fewer iterations, for CI smoke) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/azure/azrbac.h"
#include "gen.h"

#define ROUNDS 15
#define NGROUPS GEN_AZ_NGROUPS
#define CLUSTER GEN_AZ_CLUSTER

/* <n> assignments; <worst>: all on the principal's last group. */
static ag_azrbac_t *build(int n, int worst, double *load_ms)
{
    ag_buf_t b = AG_BUF_INIT(256u << 20), err = AG_BUF_INIT(4096);
    if (gen_az_assignments(n, worst, &b) != 0) {
        fprintf(stderr, "cannot build the assignments\n");
        exit(1);
    }
    ag_azrbac_opts_t o = {AG_STR(CLUSTER)};
    ag_azrbac_t *p = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ag_azrbac_load_mem(AG_STR_NULL, ag_buf_str(&b), AG_STR_NULL, &o, &p, &err) != 0) {
        fprintf(stderr, "load: %s\n", err.p ? err.p : "?");
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *load_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ag_buf_dispose(&b);
    ag_buf_dispose(&err);
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile int sink;

static void measure(const char *label, int n, const ag_azrbac_t *p, const ag_attrs_t *a, int iters,
                    int want)
{
    ag_str_t groups[NGROUPS];
    for (int g = 0; g < NGROUPS; g++)
        groups[g] = ag_str_cstr(gen_az_groups[g]);
    ag_identity_t u = {.username = AG_STR("alice@contoso.com"),
                       .oid = ag_str_cstr(gen_az_oid),
                       .groups = groups,
                       .ngroups = NGROUPS,
                       .flags = AG_ID_AZURE_AD};
    ag_authz_decision_t d;
    double ns[ROUNDS];
    if ((int)ag_azrbac_eval(p, &u, a, &d) != want) {
        fprintf(stderr, "%s at %d: unexpected decision\n", label, n);
        exit(1);
    }
    for (int r = 0; r < ROUNDS; r++) {
        struct timespec t0, t1;
        /* thread CPU time: the machine is shared, time spent descheduled is not ours */
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int k = 0; k < iters; k++)
            sink += ag_azrbac_eval(p, &u, a, &d);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        ns[r] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / iters;
    }
    qsort(ns, ROUNDS, sizeof ns[0], cmp_double);
    printf("%-44s %6d  %9.0f  %9.0f  %9.0f\n", label, n, ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1]);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const int sizes[] = {10, 1000, 10000};
    gen_az_ids();
    ag_attrs_t pods = {.resource_request = true,
                       .verb = AG_STR("get"),
                       .resource = AG_STR("pods"),
                       .namespace_ = AG_STR("dev")};
    ag_attrs_t secrets = {.resource_request = true,
                          .verb = AG_STR("get"),
                          .resource = AG_STR("secrets"),
                          .namespace_ = AG_STR("dev")};
    ag_attrs_t deploy = {.resource_request = true,
                         .verb = AG_STR("create"),
                         .api_group = AG_STR("apps"),
                         .resource = AG_STR("deployments"),
                         .namespace_ = AG_STR("prod")};
    printf("%-44s %6s  %9s  %9s  %9s\n", "decision (ns per eval)", "N", "median", "min", "max");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double load_ms;
        ag_azrbac_t *p = build(sizes[i], 0, &load_ms);
        int iters = quick ? 2000 : 200000;
        measure("allow: get pods in dev (own Reader)", sizes[i], p, &pods, iters, AG_AUTHZ_ALLOW);
        measure("allow: create deployments (group RG Admin)", sizes[i], p, &deploy, iters,
                AG_AUTHZ_ALLOW);
        measure("allow: get secrets in dev (group Admin)", sizes[i], p, &secrets, iters,
                AG_AUTHZ_ALLOW);
        printf("%-44s %6d  %9.2f ms\n", "  load (parse+compile+index)", sizes[i], load_ms);
        ag_azrbac_unref(p);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double load_ms;
        ag_azrbac_t *p = build(sizes[i], 1, &load_ms);
        int iters = quick ? 200 : sizes[i] >= 10000 ? 2000 : 20000;
        measure("worst: N on one group, none applies (no)", sizes[i], p, &pods, iters,
                AG_AUTHZ_NO_OPINION);
        ag_azrbac_unref(p);
    }
    return 0;
}
