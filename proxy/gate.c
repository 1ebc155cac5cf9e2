/* The gate (gate.h): the pass-through step and the request's audit ID. The pipeline that
 * runs the steps and resumes parked ones is pipeline.c. */
#include "gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

ag_gate_result ag_gate_passthrough(ag_gate_t *g, void *ud)
{
    (void)ud;
    g->identity = NULL; /* a plain proxy: the gateway's credential, no impersonation */
    return AG_GATE_ALLOW;
}

static uint64_t id_seed[2];
static _Atomic uint64_t id_next;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void seed_ids(void)
{
    if (getrandom(id_seed, sizeof id_seed, 0) != (ssize_t)sizeof id_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id_seed[0] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        id_seed[1] = (uint64_t)getpid();
    }
}

/* A v4-shaped UUID from a random seed and a counter (unique per process run). */
const char *ag_gate_audit_id(ag_gate_t *g)
{
    static const char hex[] = "0123456789abcdef";
    if (g->audit_id[0])
        return g->audit_id;
    pthread_once(&id_once, seed_ids);
    uint64_t n = atomic_fetch_add_explicit(&id_next, 1, memory_order_relaxed);
    uint64_t hi = id_seed[0] ^ (n * 0x9e3779b97f4a7c15ull), lo = id_seed[1] + n;
    hi = (hi & ~0xf000ull) | 0x4000ull;       /* version 4 */
    lo = (lo & ~(3ull << 62)) | (2ull << 62); /* RFC 4122 variant */
    int k = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            g->audit_id[k++] = '-';
        g->audit_id[k++] = hex[((i < 16 ? hi : lo) >> (60 - 4 * (i % 16))) & 0xf];
    }
    g->audit_id[36] = '\0';
    return g->audit_id;
}
