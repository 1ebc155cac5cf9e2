/* Cost of reading the published policy from several threads at once (proxy/authz/policy.c over
 * proxy/runtime/snapshot.c), the per-request step every worker takes: "bare" enters and leaves
 * the policy only; "decide" also judges one request (list pods in ns-1 for user-1) against
 * 10,000 RoleBindings of bench/gen.h plus bootstrap, as the authorization step does. With a
 * shared reference count every request wrote the same cache line from every worker, so
 * the per-thread cost grew with the threads; with per-thread reader slots it should not.
 *
 *   bench_snapshot [--seconds S] [--threads N]
 *
 * Prints one line per case and thread count (1..N, default 2): "CASE threads=T
 * ns/op=N ops=M" where ns/op is the CPU time of one thread per operation (thread CPU
 * clock: stalls on a contended cache line count, other processes on the machine do not),
 * averaged over the threads. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "authz/policy.h"
#include "gen.h"

#define MAX_THREADS 8

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void policy_free(ag_snap_t *s)
{
    ag_policy_destroy((ag_policy_t *)s);
}

/* The policy shape of bench/gen.h with 10,000 RoleBindings, plus bootstrap, published. */
static int publish_policy(void)
{
    ag_buf_t text = AG_BUF_INIT(64u << 20), why = AG_BUF_INIT(4096);
    ag_rbac_opts_t o = {.bootstrap = true};
    ag_policy_t *p = calloc(1, sizeof *p);
    int rc = 1;
    if (p && gen_rbac_policy(10000, &text) == 0 &&
        ag_rbac_load_mem(ag_buf_str(&text), "bench", &o, &p->rbac, &why) == 0) {
        p->snap.free = policy_free;
        p->chain = (ag_authz_chain_t){.mode = AG_CHAIN_RBAC_ONLY, .rbac = p->rbac};
        ag_policy_publish(p);
        p = NULL;
        rc = 0;
    } else {
        fprintf(stderr, "bench_snapshot: %s\n", why.p ? why.p : "cannot build the policy");
    }
    ag_policy_destroy(p);
    ag_buf_dispose(&text);
    ag_buf_dispose(&why);
    return rc;
}

static struct {
    double seconds;
    bool decide;
    uv_barrier_t start;
    atomic_long wrong;
} B;

typedef struct {
    uv_thread_t th;
    unsigned long long ops;
    double elapsed;
} runner_t;

static void run(void *arg)
{
    runner_t *r = arg;
    ag_identity_t user = {.username = AG_STR("user-1")}; /* edit in ns-1 (gen.h) */
    ag_attrs_t a = {.resource_request = true,
                    .verb = AG_STR("list"),
                    .resource = AG_STR("pods"),
                    .namespace_ = AG_STR("ns-1")};
    uv_barrier_wait(&B.start);
    double t0 = now_s(CLOCK_MONOTONIC), t1 = t0, cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    while (t1 - t0 < B.seconds) {
        for (int i = 0; i < 1000; i++, r->ops++) {
            const ag_policy_t *p = ag_policy_enter();
            ag_authz_decision_t d;
            if (!p || (B.decide && ag_authz_chain_eval(&p->chain, &user, &a, &d) != AG_AUTHZ_ALLOW))
                atomic_fetch_add(&B.wrong, 1);
            ag_policy_leave();
        }
        t1 = now_s(CLOCK_MONOTONIC);
    }
    r->elapsed = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
}

static void run_case(const char *name, bool decide, int nthreads)
{
    runner_t r[MAX_THREADS] = {0};
    double ns = 0;
    unsigned long long ops = 0;
    B.decide = decide;
    uv_barrier_init(&B.start, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++)
        uv_thread_create(&r[i].th, run, &r[i]);
    for (int i = 0; i < nthreads; i++) {
        uv_thread_join(&r[i].th);
        ns += r[i].elapsed * 1e9 / (double)r[i].ops / nthreads;
        ops += r[i].ops;
    }
    uv_barrier_destroy(&B.start);
    printf("%-8s threads=%d ns/op=%.1f ops=%llu\n", name, nthreads, ns, ops);
}

int main(int argc, char **argv)
{
    int threads = 2;
    B.seconds = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            B.seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
    }
    if (B.seconds <= 0 || B.seconds > 10)
        B.seconds = 1;
    if (threads < 1 || threads > MAX_THREADS)
        threads = 2;
    if (publish_policy() != 0)
        return 1;
    for (int t = 1; t <= threads; t++)
        run_case("bare", false, t);
    for (int t = 1; t <= threads; t++)
        run_case("decide", true, t);
    return atomic_load(&B.wrong) ? 2 : 0;
}
