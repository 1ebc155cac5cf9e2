/* Microbenchmark of Kubernetes RBAC (core/authz/rbac/rbac.c): decision time at 100, 10,000 and
 * 100,000 RoleBindings (it should stay flat: bindings are indexed by subject), and load
 * time and resident memory for the largest policy. Then the cost of one change at each
 * size: a full load of the JSON (what a rebuild from files costs) against a snapshot from
 * the parsed object set (core/authz/rbac/rbac_set.h: what a live source pays per coalesced batch),
 * and a delta snapshot over the last one (ag_rbac_view_build_since: what it pays in practice). Not
 * a test; prints figures.
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

#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"
#include "gen.h"

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

static int cmp_ms(const void *a, const void *b)
{
    return cmp_double(a, b);
}

/* A changed RoleBinding rb-<i> (another user), as a watch event's object. */
static void changed_binding(int i, int nns, int gen, char *out, size_t n)
{
    snprintf(out, n,
             "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
             "\"metadata\":{\"name\":\"rb-%d\",\"namespace\":\"ns-%d\"},\"roleRef\":{"
             "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
             "\"view\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"moved-%d-%d\"}]}",
             i, i % nns, i, gen);
}

/* The cost of one change at <nbind> RoleBindings: a full load against a put into the
 * parsed set plus a snapshot of it; CPU ms, medians over <rounds>. */
static int time_changes(int nbind, const ag_buf_t *text, int rounds)
{
    ag_rbac_set_t *s = NULL;
    double c0 = cpu_ns(), t_full[32], t_one[32], t_batch[32];
    int refused = 0, nns = gen_rbac_namespaces(nbind);
    char obj[512];
    if (ag_rbac_set_create(NULL, &s) ||
        ag_rbac_set_put(s, ag_buf_str(text), "bench.json", &refused, NULL) || refused) {
        fprintf(stderr, "bench_rbac: set put failed\n");
        return 1;
    }
    double put_ms = (cpu_ns() - c0) / 1e6;
    double t_d1[32], t_d100[32];
    ag_rbac_t *prev = NULL;
    ag_rbac_set_build(s, &prev, NULL);
    for (int r = 0; r < rounds; r++) { /* deltas (rbac_delta.c) over the last snapshot */
        double t0 = cpu_ns();
        changed_binding((r * 7919) % nbind, nns, r + 2000, obj, sizeof obj);
        ag_rbac_set_put(s, ag_str_cstr(obj), "event", NULL, NULL);
        ag_rbac_view_t *v = NULL;
        ag_rbac_t *p = NULL;
        ag_rbac_set_view(s, &v);
        ag_rbac_view_build_since(v, prev, &p, NULL);
        ag_rbac_view_destroy(v);
        t_d1[r] = (cpu_ns() - t0) / 1e6;
        ag_rbac_unref(prev);
        prev = p;
        t0 = cpu_ns();
        for (int k = 0; k < 100; k++) {
            changed_binding((r * 7919 + k * 104729) % nbind, nns, r + 3000, obj, sizeof obj);
            ag_rbac_set_put(s, ag_str_cstr(obj), "event", NULL, NULL);
        }
        ag_rbac_set_view(s, &v);
        ag_rbac_view_build_since(v, prev, &p, NULL);
        ag_rbac_view_destroy(v);
        t_d100[r] = (cpu_ns() - t0) / 1e6;
        ag_rbac_unref(prev);
        prev = p;
    }
    ag_rbac_unref(prev);
    for (int r = 0; r < rounds; r++) {
        ag_rbac_t *p = NULL;
        double t0 = cpu_ns();
        ag_rbac_load_mem(ag_buf_str(text), "bench", NULL, &p, NULL);
        t_full[r] = (cpu_ns() - t0) / 1e6;
        ag_rbac_unref(p);
        t0 = cpu_ns(); /* one watch event: parse one object, snapshot the set */
        changed_binding((r * 7919) % nbind, nns, r, obj, sizeof obj);
        ag_rbac_set_put(s, ag_str_cstr(obj), "event", NULL, NULL);
        ag_rbac_set_build(s, &p, NULL);
        t_one[r] = (cpu_ns() - t0) / 1e6;
        ag_rbac_unref(p);
        t0 = cpu_ns(); /* a coalesced burst: 100 events, one snapshot */
        for (int k = 0; k < 100; k++) {
            changed_binding((r * 7919 + k * 104729) % nbind, nns, r + 1000, obj, sizeof obj);
            ag_rbac_set_put(s, ag_str_cstr(obj), "event", NULL, NULL);
        }
        ag_rbac_set_build(s, &p, NULL);
        t_batch[r] = (cpu_ns() - t0) / 1e6;
        ag_rbac_unref(p);
    }
    qsort(t_full, (size_t)rounds, sizeof(double), cmp_ms);
    qsort(t_one, (size_t)rounds, sizeof(double), cmp_ms);
    qsort(t_batch, (size_t)rounds, sizeof(double), cmp_ms);
    qsort(t_d1, (size_t)rounds, sizeof(double), cmp_ms);
    qsort(t_d100, (size_t)rounds, sizeof(double), cmp_ms);
    printf("  change at %d RoleBindings (CPU ms, median of %d): full load %.1f; parsed set: "
           "1 event + snapshot %.1f, 100 events + one snapshot %.1f (initial put %.1f); "
           "delta over the last snapshot: 1 event %.1f, 100 events %.1f\n",
           nbind, rounds, t_full[rounds / 2], t_one[rounds / 2], t_batch[rounds / 2], put_ms,
           t_d1[rounds / 2], t_d100[rounds / 2]);
    ag_rbac_set_destroy(s);
    return 0;
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
        if (time_changes(n, &text, quick ? 5 : 11))
            return 1;
        ag_buf_dispose(&text);
        for (size_t q = 0; q < sizeof questions / sizeof questions[0]; q++)
            time_question(p, n, &questions[q], samples, batch);
        ag_rbac_unref(p);
        ag_buf_dispose(&err);
    }
    return 0;
}
