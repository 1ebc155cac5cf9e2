/* The gate (gate.h): the pass-through step and the request's audit ID. The pipeline that
 * runs the steps and resumes parked ones is pipeline.c. */
#include "http/gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
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

/* Each thread takes ID_BLOCK numbers at a time: one write to the shared counter per block,
 * not per request. */
#define ID_BLOCK 4096
static _Thread_local uint64_t my_next, my_end;

static void put_hex(char *out, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 0xf];
}

uint64_t ag_gate_audit_seq(ag_gate_t *g)
{
    if (g->audit_seq)
        return g->audit_seq;
    if (my_next == my_end) {
        pthread_once(&id_once, seed_ids);
        my_next = atomic_fetch_add_explicit(&id_next, ID_BLOCK, memory_order_relaxed);
        my_end = my_next + ID_BLOCK;
    }
    return g->audit_seq = ++my_next; /* 0 is never handed out */
}

/* A v4-shaped UUID from a random seed and the counter (unique per process run). The seed
 * was set before <seq> was handed out, which happens before any thread formats it. */
void ag_gate_audit_id_format(uint64_t seq, char out[37])
{
    char h[32];
    uint64_t n = seq - 1;
    uint64_t hi = id_seed[0] ^ (n * 0x9e3779b97f4a7c15ull), lo = id_seed[1] + n;
    hi = (hi & ~0xf000ull) | 0x4000ull;       /* version 4 */
    lo = (lo & ~(3ull << 62)) | (2ull << 62); /* RFC 4122 variant */
    put_hex(h, hi);
    put_hex(h + 16, lo);
    char *o = out; /* 8-4-4-4-12 */
    memcpy(o, h, 8), o[8] = '-', memcpy(o + 9, h + 8, 4), o[13] = '-';
    memcpy(o + 14, h + 12, 4), o[18] = '-', memcpy(o + 19, h + 16, 4), o[23] = '-';
    memcpy(o + 24, h + 20, 12), o[36] = '\0';
}

const char *ag_gate_audit_id(ag_gate_t *g)
{
    if (!g->audit_id[0])
        ag_gate_audit_id_format(ag_gate_audit_seq(g), g->audit_id);
    return g->audit_id;
}
