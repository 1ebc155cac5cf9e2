/* Cold-path token verification throughput: ag_authn_verify end to end (parse, issuer
 * pick, key lookup, signature, claims, identity) per algorithm, with no token cache,
 * plus the same path minus the signature (ag_jwt_parse + ag_authn_check_claims) to show
 * what is not crypto. Tokens and keys come from tests/fixtures/jwt (minted by jose).
 *
 *   bench_jwt [--seconds S] [--source DIR] [--threads N]   (DIR: the source tree, default ".")
 *
 * With --threads N (2..16) it instead runs N threads verifying rs256 and es256 tokens on
 * one shared key set for S seconds of wall time and prints the aggregate rate beside one
 * thread's: keys are shared snapshots, so this shows whether verification scales.
 *
 * Prints one line per algorithm: "<alg> <verifies/s> <us/op> <claims-only ops/s>". Each
 * measurement runs for S seconds of CPU time (default 1, at most 10) on one thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authn/authn.h"
#include "authn/jwt.h"
#include "files.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    ag_issuer_set_t *set;
    ag_json_t tokens;
    ag_json_ref map;
    long long now;
} fixture_t;

static int load(const char *src, ag_arena_t *a, fixture_t *f)
{
    static ag_buf_t cfgtext = AG_BUF_INIT(1 << 20), toktext = AG_BUF_INIT(1 << 22);
    static ag_cfg_t cfg;
    static char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/jwt", src);
    snprintf(path, sizeof path, "%s/issuers.json", dir);
    if (ag_buf_read_file(&cfgtext, path) != 0)
        return fprintf(stderr, "cannot read %s\n", path), -1;
    snprintf(path, sizeof path, "%s/tokens.json", dir);
    if (ag_buf_read_file(&toktext, path) != 0)
        return fprintf(stderr, "cannot read %s\n", path), -1;
    if (ag_cfg_init(&cfg, "issuers.json", ag_buf_str(&cfgtext), a) ||
        ag_issuers_parse(&cfg, ag_json_get(cfg.doc, 0, "issuers"), "issuers", dir, &f->set))
        return fprintf(stderr, "%s\n", ag_cfg_error(&cfg)), -1;
    if (ag_json_parse(&f->tokens, ag_buf_str(&toktext), NULL, a, NULL) ||
        ag_json_int(&f->tokens, ag_json_get(&f->tokens, 0, "now"), &f->now))
        return fprintf(stderr, "bad tokens.json\n"), -1;
    f->map = ag_json_get(&f->tokens, 0, "tokens");
    return 0;
}

/* Runs batches until <secs> of this thread's CPU time have passed (or 5 x secs of wall
 * time, on a busy machine); returns operations per CPU second, the divisor `openssl speed`
 * uses too, so the ratio does not depend on what else the machine is doing. */
static double measure(const fixture_t *f, ag_str_t tok, double secs, int claims_only, int *bad)
{
    ag_arena_t req;
    ag_identity_t id;
    long long ops = 0;
    ag_arena_init(&req, 1 << 14, 1 << 22);
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), c = c0, w0 = clock_s(CLOCK_MONOTONIC);
    while (c - c0 < secs && clock_s(CLOCK_MONOTONIC) - w0 < 5 * secs) {
        for (int i = 0; i < 64; i++) {
            ag_authn_result r;
            ag_arena_reset(&req);
            if (claims_only) {
                ag_jwt_t jwt;
                r = ag_jwt_parse(tok, 16384, &req, &jwt);
                if (r == AG_AUTHN_OK)
                    r = ag_authn_check_claims(ag_issuer_at(f->set, 0), &jwt, NULL, 0, f->now, &req,
                                              &id, NULL);
            } else {
                r = ag_authn_verify(f->set, NULL, NULL, tok, f->now, &req, &id, NULL);
            }
            *bad += r != AG_AUTHN_OK;
        }
        ops += 64;
        c = clock_s(CLOCK_THREAD_CPUTIME_ID);
    }
    ag_arena_dispose(&req);
    return (double)ops / (c - c0);
}

typedef struct {
    const fixture_t *f;
    ag_str_t tok;
    double secs;
    long long ops;
} mt_job_t;

static void *mt_run(void *arg)
{
    mt_job_t *j = arg;
    ag_arena_t req;
    ag_identity_t id;
    ag_arena_init(&req, 1 << 14, 1 << 22);
    double w0 = clock_s(CLOCK_MONOTONIC);
    while (clock_s(CLOCK_MONOTONIC) - w0 < j->secs) {
        for (int i = 0; i < 16; i++) {
            ag_arena_reset(&req);
            j->ops += ag_authn_verify(j->f->set, NULL, NULL, j->tok, j->f->now, &req, &id, NULL) ==
                      AG_AUTHN_OK;
        }
    }
    ag_arena_dispose(&req);
    return NULL;
}

/* Aggregate wall-clock verifications/s of <n> threads on one token. */
static double mt_rate(const fixture_t *f, ag_str_t tok, int n, double secs)
{
    pthread_t th[16];
    mt_job_t jobs[16];
    double t0 = clock_s(CLOCK_MONOTONIC);
    long long ops = 0;
    for (int i = 0; i < n; i++) {
        jobs[i] = (mt_job_t){f, tok, secs, 0};
        pthread_create(&th[i], NULL, mt_run, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ops += jobs[i].ops;
    }
    return (double)ops / (clock_s(CLOCK_MONOTONIC) - t0);
}

static int run_threads(const fixture_t *f, int n, double secs)
{
    static const char *const algs[] = {"rs256", "es256"};
    printf("%-6s %14s %14s %8s\n", "alg", "1 thread/s", "threads/s", "speedup");
    for (int i = 0; i < 2; i++) {
        ag_str_t tok = ag_json_raw(&f->tokens, ag_json_get(&f->tokens, f->map, algs[i]));
        double one = mt_rate(f, tok, 1, secs), many = mt_rate(f, tok, n, secs);
        printf("%-6s %14.0f %14.0f %7.2fx  (%d threads, wall clock)\n", algs[i], one, many,
               many / one, n);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const algs[] = {"rs256", "rs384", "rs512", "ps256", "ps384",
                                       "ps512", "es256", "es384", "es512"};
    const char *src = ".";
    double secs = 1;
    int threads = 0;
    ag_arena_t a;
    fixture_t f;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            secs = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--source") && i + 1 < argc)
            src = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else
            return fprintf(stderr, "usage: bench_jwt [--seconds S] [--source DIR] [--threads N]\n"),
                   2;
    }
    if (!(secs > 0 && secs <= 10) || (threads && (threads < 2 || threads > 16)))
        return fprintf(stderr, "--seconds must be in (0, 10], --threads in [2, 16]\n"), 2;
    ag_arena_init(&a, 1 << 16, 0);
    if (load(src, &a, &f) != 0)
        return 1;
    if (threads)
        return run_threads(&f, threads, secs);
    printf("%-6s %12s %9s %16s\n", "alg", "verifies/s", "us/op", "claims-only/s");
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        ag_str_t tok = ag_json_raw(&f.tokens, ag_json_get(&f.tokens, f.map, algs[i]));
        int bad = 0;
        double v = measure(&f, tok, secs, 0, &bad);
        double c = measure(&f, tok, secs / 4, 1, &bad);
        if (bad)
            return fprintf(stderr, "%s: %d verifications failed\n", algs[i], bad), 1;
        printf("%-6s %12.0f %9.1f %16.0f\n", algs[i], v, 1e6 / v, c);
        fflush(stdout);
    }
    ag_issuer_set_free(f.set);
    return 0;
}
