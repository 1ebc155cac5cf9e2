/* bench_forward: the per-request cost of the HTTP request-safety layer on the hot path:
 * ag_canon_scan_head (raw head scan), ag_canon_check (canonical checks, header flags),
 * ag_forward_head (upstream head with identity, plus its fail-closed re-read) and
 * ag_header_classify, on a realistic kubectl head (8 headers, 413 bytes) forwarded with a
 * bearer credential and an identity of 3 groups. Each figure is the median over 9 rounds
 * of ns per call (thread CPU time), with min and max of the rounds. Not a test.
 *
 *   bench_forward [--quick]      (--quick: fewer iterations, for CI smoke) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/canon.h"
#include "http/forward.h"
#include "http/headers.h"
#include "tests/unit/headsplit.h"

#define ROUNDS 9

static const char head[] =
    "GET /api/v1/namespaces/default/pods?limit=500 HTTP/1.1\r\nHost: gw.example:8443\r\n"
    "User-Agent: kubectl/v1.30.0 (linux/amd64) kubernetes/abcdef\r\n"
    "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2ln\r\n"
    "Kubectl-Command: kubectl get\r\nKubectl-Session: 1234-5678\r\nAccept-Encoding: gzip\r\n"
    "X-Forwarded-For: 1.2.3.4\r\n\r\n";

static const ag_str_t groups[] = {{"system:authenticated", 20}, {"devs", 4}, {"team-a", 6}};
static const ag_identity_t ident = {
    .username = {"alice@example.com", 17}, .uid = {"0000-1111", 9}, .groups = groups, .ngroups = 3};
static const ag_str_t self[] = {{"gw.example:8443", 15}};

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile unsigned sink;

typedef enum { OP_SCAN, OP_CHECK, OP_FORWARD, OP_CLASSIFY } op_t;

/* Runs <op> <n> times; returns ns per call, or -1 when an operation failed. */
static double run(op_t op, long n, hs_head_t *h, ag_buf_t *out)
{
    static const ag_canon_opts_t co = {self, 1};
    ag_forward_opts_t fo = {.upstream_host = AG_STR("10.0.0.1:6443"),
                            .credential = AG_STR("Bearer gateway-token"),
                            .identity = &ident,
                            .client_ip = AG_STR("10.1.2.3"),
                            .client_tls = true};
    unsigned acc = 0;
    const char *reason;
    double t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        switch (op) {
        case OP_SCAN:
            if (ag_canon_scan_head(AG_STR(head)) != NULL)
                return -1;
            break;
        case OP_CHECK:
            if (ag_canon_check(&h->req, &co, &reason) != 0)
                return -1;
            break;
        case OP_FORWARD:
            ag_buf_clear(out);
            if (ag_forward_head(&h->req, &fo, out) != 0)
                return -1;
            break;
        case OP_CLASSIFY:
            acc += ag_header_classify(h->req.headers[i & 7].name);
            break;
        }
    }
    double ns = (cpu_ns() - t0) / (double)n;
    sink = acc; /* keeps the classify loop from being optimised away */
    return ns;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"scan_head", "canon_check", "forward_head", "classify"};
    long n = (argc > 1 && strcmp(argv[1], "--quick") == 0) ? 2000 : 200000;
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    hs_head_t h;
    const char *reason;

    if (hs_split(AG_STR(head), &h) != 0 || ag_canon_check(&h.req, NULL, &reason) != 0) {
        fprintf(stderr, "bench_forward: the sample head does not parse\n");
        return 1;
    }
    printf("%-13s %10s %10s %10s   (ns per call, %d rounds of %ld)\n", "operation", "median", "min",
           "max", ROUNDS, n);
    for (int op = OP_SCAN; op <= OP_CLASSIFY; op++) {
        double r[ROUNDS];
        for (int k = 0; k < ROUNDS; k++) {
            if ((r[k] = run((op_t)op, n, &h, &out)) < 0) {
                fprintf(stderr, "bench_forward: %s failed\n", names[op]);
                return 1;
            }
        }
        qsort(r, ROUNDS, sizeof r[0], cmp_double);
        printf("%-13s %10.1f %10.1f %10.1f\n", names[op], r[ROUNDS / 2], r[0], r[ROUNDS - 1]);
    }
    printf("forwarded head: %zu bytes\n", out.n);
    ag_buf_dispose(&out);
    return 0;
}
