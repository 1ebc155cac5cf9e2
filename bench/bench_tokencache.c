/* Warm-path cost: what a request with an already verified token pays in the token cache
 * (proxy/authn/tokencache.c): HMAC-SHA256 of the token (a ~900-byte RS256 JWT), the shard
 * lookup under its mutex, and the deep copy of a typical identity (username, uid,
 * 6 groups, 1 extra) into the request arena. Compare with bench_jwt's cold path.
 *
 *   bench_tokencache [--seconds S] [--threads N]
 *
 * Prints "threads=N lookups/s=X ns/lookup=Y" (per thread, then total). Every thread
 * looks up its own 1000 tokens round robin; each run is bounded by S seconds (<= 10). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authn/tokencache.h"

#define NTOK 1000
static ag_tokencache_t *cache;
static double seconds = 1;
static char tokens[8][NTOK][900];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(int t)
{
    static const ag_str_t groups[] = {AG_STR("developers"), AG_STR("oncall"),
                                      AG_STR("viewers"),    AG_STR("ops"),
                                      AG_STR("sre"),        AG_STR("system:authenticated")};
    static const ag_str_t vals[] = {AG_STR("11111111-1111-1111-1111-111111111111")};
    static const ag_extra_t extra[] = {{AG_STR("oid"), vals, 1}};
    ag_identity_t id = {.username = AG_STR("alice@example.com"),
                        .uid = AG_STR("42"),
                        .groups = groups,
                        .ngroups = 6,
                        .extra = extra,
                        .nextra = 1};
    for (int i = 0; i < NTOK; i++) {
        char *p = tokens[t][i];
        memset(p, 'A' + (i % 26), sizeof tokens[t][i] - 1);
        snprintf(p, 40, "eyJhbGciOiJSUzI1NiJ9.%d.%d.", t, i);
        p[strlen(p)] = 'x';
        p[sizeof tokens[t][i] - 1] = '\0';
        ag_tokencache_key_t k;
        ag_identity_t got;
        int res;
        ag_tokencache_key(cache, 0, ag_str_cstr(p), NULL, 0, &k);
        if (ag_tokencache_lookup(cache, &k, 0, NULL, &got, &res, NULL) == AG_TC_MISS)
            ag_tokencache_complete(cache, &k, 0, &id, 0, 0);
    }
}

static void *run(void *arg)
{
    int t = (int)(long)arg;
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    unsigned long long n = 0, miss = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < seconds) {
        for (int i = 0; i < NTOK; i++) {
            ag_tokencache_key_t k;
            ag_identity_t got;
            int res;
            ag_tokencache_key(cache, 0, ag_str_cstr(tokens[t][i]), NULL, 0, &k);
            if (ag_tokencache_lookup(cache, &k, 1, &a, &got, &res, NULL) != AG_TC_HIT)
                miss++;
            ag_arena_reset(&a);
        }
        n += NTOK;
        t1 = now_s();
    }
    ag_arena_dispose(&a);
    double per = (double)n / (t1 - t0);
    printf("thread %d: lookups/s=%.0f ns/lookup=%.0f misses=%llu\n", t, per, 1e9 / per, miss);
    return (void *)(long)(per);
}

int main(int argc, char **argv)
{
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (int)strtol(argv[i + 1], NULL, 10);
    }
    if (seconds <= 0 || seconds > 10)
        seconds = 1;
    if (threads < 1 || threads > 8)
        threads = 1;
    ag_tokencache_opts_t o = {.max_entries = 8 * NTOK, .ttl_ms = 3600 * 1000};
    if (ag_tokencache_create(&o, &cache) != 0)
        return 1;
    for (int t = 0; t < threads; t++)
        fill(t);
    pthread_t th[8];
    double total = 0;
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, run, (void *)(long)t);
    for (int t = 0; t < threads; t++) {
        void *r;
        pthread_join(th[t], &r);
        total += (double)(long)r;
    }
    printf("threads=%d total lookups/s=%.0f\n", threads, total);
    ag_tokencache_destroy(cache);
    return 0;
}
