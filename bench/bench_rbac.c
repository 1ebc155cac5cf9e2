/* Microbenchmark of Kubernetes RBAC (core/rbac.c): decision time at 100, 10,000 and
 * 100,000 RoleBindings (it should stay flat: bindings are indexed by subject), and load
 * time and resident memory for the largest policy. Not a test; prints figures.
 *
 *   bench_rbac [--quick]
 *
 * Policy shape per size N: bench/gen.h (gen_rbac_policy), plus the bootstrap policy.
 * bench/micro.c measures the same decisions with spread, beside its other figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "rbac.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *what;
    ag_attrs_t a;
    int user; /* index of the user asking */
    ag_authz_result want;
} question_t;

/* Median (and 5th/95th percentile) ns per decision over <samples> batches. */
static void time_question(const ag_rbac_t *p, int nbind, const question_t *q, int samples,
                          int batch)
{
    char name[32], group[32];
    int nns = gen_rbac_namespaces(nbind);
    int u = q->user % nbind;
    snprintf(name, sizeof name, "user-%d", u);
    snprintf(group, sizeof group, "group-%d", (u + 7) % 500);
    ag_str_t groups[] = {ag_str_cstr(group), AG_STR("system:authenticated")};
    ag_identity_t id = {.username = ag_str_cstr(name), .groups = groups, .ngroups = 2};
    char ns[32];
    snprintf(ns, sizeof ns, "ns-%d", u % nns);
    ag_attrs_t a = q->a;
    if (a.namespace_.n)
        a.namespace_ = ag_str_cstr(ns);
    ag_authz_decision_t d;
    if (ag_rbac_eval(p, &id, &a, &d) != q->want) {
        fprintf(stderr, "bench_rbac: unexpected decision for %s\n", q->what);
        exit(1);
    }
    double *t = malloc((size_t)samples * sizeof *t);
    volatile int sink = 0;
    for (int s = 0; s < samples; s++) {
        double t0 = now_ns();
        for (int i = 0; i < batch; i++)
            sink += ag_rbac_eval(p, &id, &a, &d);
        t[s] = (now_ns() - t0) / batch;
    }
    (void)sink;
    qsort(t, (size_t)samples, sizeof *t, cmp_double);
    printf("  %-44s median %7.1f ns  p5 %7.1f  p95 %7.1f\n", q->what, t[samples / 2],
           t[samples / 20], t[samples - 1 - samples / 20]);
    free(t);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const int sizes[] = {100, 10000, 100000};
    const question_t questions[] = {
        {"allow: get pods via RoleBinding to edit",
         {.resource_request = true,
          .verb = AG_STR("get"),
          .resource = AG_STR("pods"),
          .namespace_ = AG_STR("x"),
          .name = AG_STR("p")},
         1,
         AG_AUTHZ_ALLOW},
        {"allow: get secrets via RoleBinding to Role",
         {.resource_request = true,
          .verb = AG_STR("get"),
          .resource = AG_STR("secrets"),
          .namespace_ = AG_STR("x"),
          .name = AG_STR("s")},
         2,
         AG_AUTHZ_ALLOW},
        {"allow: get /api via bootstrap discovery",
         {.verb = AG_STR("get"), .path = AG_STR("/api")},
         3,
         AG_AUTHZ_ALLOW},
        {"no opinion: list nodes (cluster scope)",
         {.resource_request = true, .verb = AG_STR("list"), .resource = AG_STR("nodes")},
         5,
         AG_AUTHZ_NO_OPINION},
        {"no opinion: delete namespaces in own ns",
         {.resource_request = true,
          .verb = AG_STR("delete"),
          .resource = AG_STR("namespaces"),
          .namespace_ = AG_STR("x"),
          .name = AG_STR("x")},
         4,
         AG_AUTHZ_NO_OPINION},
    };
    int samples = quick ? 51 : 201, batch = quick ? 2000 : 5000;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        ag_buf_t text = AG_BUF_INIT((size_t)1 << 30);
        if (gen_rbac_policy(n, &text)) {
            fprintf(stderr, "bench_rbac: cannot build the policy\n");
            return 1;
        }
        long rss0 = gen_rss_kib();
        double t0 = now_ns(), c0 = cpu_ns();
        ag_rbac_t *p = NULL;
        ag_buf_t err = AG_BUF_INIT(4096);
        ag_rbac_opts_t opts = AG_RBAC_OPTS_DEFAULT;
        if (ag_rbac_load_mem(ag_buf_str(&text), "bench", &opts, &p, &err)) {
            fprintf(stderr, "bench_rbac: load failed: %s\n", err.p);
            return 1;
        }
        double load_ms = (now_ns() - t0) / 1e6, load_cpu_ms = (cpu_ns() - c0) / 1e6;
        long rss1 = gen_rss_kib();
        ag_rbac_stats_t st;
        ag_rbac_stats(p, &st);
        printf("%d RoleBindings (%d objects incl. bootstrap, %.1f MiB JSON): load %.1f ms wall, "
               "%.1f ms CPU; snapshot RSS +%.1f MiB, process peak RSS %.1f MiB\n",
               n, st.roles + st.cluster_roles + st.role_bindings + st.cluster_role_bindings,
               text.n / 1048576.0, load_ms, load_cpu_ms, (rss1 - rss0) / 1024.0,
               peak_rss_kib() / 1024.0);
        ag_buf_dispose(&text);
        for (size_t q = 0; q < sizeof questions / sizeof questions[0]; q++)
            time_question(p, n, &questions[q], samples, batch);
        ag_rbac_unref(p);
        ag_buf_dispose(&err);
    }
    return 0;
}
