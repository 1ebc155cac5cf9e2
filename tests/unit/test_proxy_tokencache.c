/* Tests for proxy/authn/tokencache.c: keyed hashing, deep copies, lifetimes bounded by exp
 * and TTL, negative caching, bounds and LRU eviction, separation of failures from
 * successes, and single flight (waiters woken on their own loop, across threads). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "authn/tokencache.h"
#include "testlib.h"

static ag_tokencache_t *make(int entries, long long ttl_ms, int neg, long long neg_ttl, int shards)
{
    ag_tokencache_t *c = NULL;
    ag_tokencache_opts_t o = {entries, ttl_ms, neg, neg_ttl, shards};
    CHECK_EQ(ag_tokencache_create(&o, &c), 0);
    return c;
}

static void key_of(ag_tokencache_t *c, const char *token, ag_tokencache_key_t *k)
{
    ag_tokencache_key(c, 0, ag_str_cstr(token), NULL, 0, k);
}

/* An identity whose strings live in a scratch buffer the test scribbles over later. */
static char scratch[256];
static ag_str_t sgroups[2];
static ag_str_t svals[2];
static ag_extra_t sextra[1];

static ag_identity_t scratch_identity(const char *user)
{
    snprintf(scratch, sizeof scratch, "%s|42|dev|system:authenticated|scopes|read|write", user);
    size_t u = strlen(user);
    const char *p = scratch;
    sgroups[0] = ag_str_make(p + u + 4, 3);
    sgroups[1] = ag_str_make(p + u + 8, 20);
    svals[0] = ag_str_make(p + u + 36, 4);
    svals[1] = ag_str_make(p + u + 41, 5);
    sextra[0] = (ag_extra_t){ag_str_make(p + u + 29, 6), svals, 2};
    return (ag_identity_t){.username = ag_str_make(p, u),
                           .uid = ag_str_make(p + u + 1, 2),
                           .groups = sgroups,
                           .ngroups = 2,
                           .extra = sextra,
                           .nextra = 1,
                           .flags = AG_ID_AZURE_AD,
                           .oid = ag_str_make(p + u + 1, 2)};
}

/* Lookup that must miss, then completes it with a scratch identity. */
static void put(ag_tokencache_t *c, const char *token, long long now_ms, long long exp_s)
{
    ag_tokencache_key_t k;
    ag_identity_t id, got;
    int res;
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    key_of(c, token, &k);
    CHECK_EQ(ag_tokencache_lookup(c, &k, now_ms, &a, &got, &res, NULL), AG_TC_MISS);
    id = scratch_identity(token);
    CHECK_EQ(ag_tokencache_complete(c, &k, now_ms, &id, exp_s, now_ms / 1000), 0);
    ag_arena_dispose(&a);
}

static ag_tc_status get(ag_tokencache_t *c, const char *token, long long now_ms)
{
    ag_tokencache_key_t k;
    ag_identity_t got;
    int res = 0;
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    key_of(c, token, &k);
    ag_tc_status st = ag_tokencache_lookup(c, &k, now_ms, &a, &got, &res, NULL);
    if (st == AG_TC_MISS)
        ag_tokencache_abandon(c, &k); /* leave no pending entry behind */
    ag_arena_dispose(&a);
    return st;
}

/* Caches tokens <prefix><from> .. <prefix><to - 1>, all at <now_ms>. */
static void put_range(ag_tokencache_t *c, const char *prefix, int from, int to, long long now_ms)
{
    char name[32];
    for (int i = from; i < to; i++) {
        snprintf(name, sizeof name, "%s%d", prefix, i);
        put(c, name, now_ms, 0);
    }
}

/* Misses <token> at <now_ms> and completes the lookup as failed with <res>. */
static void fail(ag_tokencache_t *c, const char *token, long long now_ms, int res, bool cacheable)
{
    ag_tokencache_key_t k;
    ag_identity_t got;
    int r;
    key_of(c, token, &k);
    CHECK_EQ(ag_tokencache_lookup(c, &k, now_ms, NULL, &got, &r, NULL), AG_TC_MISS);
    ag_tokencache_fail(c, &k, now_ms, res, cacheable);
}

TEST(tokencache_key_is_keyed_and_length_prefixed)
{
    ag_tokencache_t *c1 = make(0, 0, 0, 0, 0), *c2 = make(0, 0, 0, 0, 0);
    ag_tokencache_key_t a, b;
    key_of(c1, "tok", &a);
    key_of(c1, "tok", &b);
    CHECK(memcmp(a.b, b.b, 32) == 0);
    key_of(c2, "tok", &b);
    CHECK(memcmp(a.b, b.b, 32) != 0); /* per-process random key */
    /* the key is not the plain SHA-256 of the token: it contains no token bytes either */
    ag_str_t au1[] = {AG_STR("c")}, au2[] = {AG_STR("bc")}, au3[] = {AG_STR("x"), AG_STR("y")},
             au4[] = {AG_STR("y"), AG_STR("x")}, au5[] = {AG_STR("")};
    ag_tokencache_key(c1, 0, AG_STR("ab"), au1, 1, &a);
    ag_tokencache_key(c1, 0, AG_STR("a"), au2, 1, &b);
    CHECK(memcmp(a.b, b.b, 32) != 0);
    ag_tokencache_key(c1, 0, AG_STR("t"), au3, 2, &a);
    ag_tokencache_key(c1, 0, AG_STR("t"), au4, 2, &b);
    CHECK(memcmp(a.b, b.b, 32) != 0);
    ag_tokencache_key(c1, 0, AG_STR("t"), NULL, 0, &a);
    ag_tokencache_key(c1, 0, AG_STR("t"), au5, 1, &b);
    CHECK(memcmp(a.b, b.b, 32) != 0);
    /* another authentication generation (a reload): another key, the old entry unseen */
    ag_tokencache_key(c1, 1, AG_STR("t"), NULL, 0, &b);
    CHECK(memcmp(a.b, b.b, 32) != 0);
    ag_tokencache_key(c1, 1ull << 40, AG_STR("t"), NULL, 0, &a);
    CHECK(memcmp(a.b, b.b, 32) != 0);
    ag_tokencache_destroy(c1);
    ag_tokencache_destroy(c2);
}

TEST(tokencache_hit_returns_a_deep_copy)
{
    ag_tokencache_t *c = make(0, 0, 0, 0, 0);
    put(c, "alice", 1000, 0);
    memset(scratch, '#', sizeof scratch - 1); /* the source identity is gone */
    ag_tokencache_key_t k;
    ag_identity_t got;
    int res;
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    key_of(c, "alice", &k);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 2000, &a, &got, &res, NULL), AG_TC_HIT);
    CHECK_SLICE(got.username, "alice");
    CHECK_SLICE(got.uid, "42");
    CHECK_SLICE(got.oid, "42");
    CHECK_EQ(got.ngroups, 2);
    CHECK_SLICE(got.groups[0], "dev");
    CHECK_SLICE(got.groups[1], "system:authenticated");
    CHECK_EQ(got.nextra, 1);
    CHECK_SLICE(got.extra[0].key, "scopes");
    CHECK_EQ(got.extra[0].nvalues, 2);
    CHECK_SLICE(got.extra[0].values[0], "read");
    CHECK_SLICE(got.extra[0].values[1], "write");
    CHECK_EQ(got.flags, AG_ID_AZURE_AD);
    CHECK_EQ(get(c, "bob", 2000), AG_TC_MISS);
    ag_arena_dispose(&a);
    ag_tokencache_destroy(c);
}

TEST(tokencache_entry_never_outlives_token_exp)
{
    ag_tokencache_t *c = make(0, 60000, 0, 0, 0);
    put(c, "t", 100000, 102); /* now = 100 s, exp = 102 s */
    CHECK_EQ(get(c, "t", 101999), AG_TC_HIT);
    CHECK_EQ(get(c, "t", 102000), AG_TC_MISS);
    put(c, "expired", 100000, 100); /* exp == now: not cached at all */
    CHECK_EQ(get(c, "expired", 100000), AG_TC_MISS);
    ag_tokencache_stats_t st;
    ag_tokencache_stats(c, &st);
    CHECK_EQ(st.expired, 1);
    ag_tokencache_destroy(c);
}

TEST(tokencache_entry_never_outlives_ttl)
{
    ag_tokencache_t *c = make(0, 1500, 0, 0, 0);
    put(c, "t", 10000, 1000000); /* exp far away */
    CHECK_EQ(get(c, "t", 11499), AG_TC_HIT);
    CHECK_EQ(get(c, "t", 11500), AG_TC_MISS);
    ag_tokencache_destroy(c);
}

TEST(tokencache_failures_cached_only_when_enabled_and_cacheable)
{
    ag_tokencache_key_t k;
    ag_identity_t got;
    int res = 0;
    ag_tokencache_t *off = make(0, 0, 0, 0, 0), *on = make(0, 0, 0, 500, 0);

    fail(off, "bad", 0, 7, true);
    CHECK_EQ(get(off, "bad", 1), AG_TC_MISS);

    fail(on, "bad", 0, 7, true);
    key_of(on, "bad", &k);
    CHECK_EQ(ag_tokencache_lookup(on, &k, 499, NULL, &got, &res, NULL), AG_TC_NEGATIVE);
    CHECK_EQ(res, 7);
    CHECK_EQ(get(on, "bad", 500), AG_TC_MISS);

    fail(on, "transient", 0, 9, false);
    CHECK_EQ(get(on, "transient", 1), AG_TC_MISS);
    ag_tokencache_destroy(off);
    ag_tokencache_destroy(on);
}

TEST(tokencache_is_bounded_and_evicts_least_recently_used)
{
    ag_tokencache_t *c = make(8, 0, 0, 0, 1);
    put_range(c, "t", 0, 8, 0);
    CHECK_EQ(get(c, "t0", 1), AG_TC_HIT); /* t0 becomes most recently used */
    put_range(c, "t", 8, 20, 2);
    ag_tokencache_stats_t st;
    ag_tokencache_stats(c, &st);
    CHECK_EQ(st.entries, 8);
    CHECK_EQ(st.evictions, 12);
    CHECK_EQ(get(c, "t19", 3), AG_TC_HIT);
    CHECK_EQ(get(c, "t12", 3), AG_TC_HIT);
    CHECK_EQ(get(c, "t1", 3), AG_TC_MISS);
    ag_tokencache_destroy(c);
}

TEST(tokencache_failures_never_evict_successes)
{
    ag_tokencache_t *c = make(4, 0, 4, 10000, 1);
    char name[16];
    put_range(c, "good", 0, 4, 0);
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "garbage%d", i);
        fail(c, name, 1, 3, true);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "good%d", i);
        CHECK_EQ(get(c, name, 2), AG_TC_HIT);
    }
    ag_tokencache_stats_t st;
    ag_tokencache_stats(c, &st);
    CHECK_EQ(st.negative_entries, 4);
    ag_tokencache_destroy(c);
}

/* ---- single flight ------------------------------------------------------------------ */

typedef struct {
    ag_tokencache_waiter_t w;
    int woken;
    pthread_t thread;
} waiter_t;

static void on_woken(ag_tokencache_waiter_t *w)
{
    waiter_t *x = w->arg;
    x->woken++;
    x->thread = pthread_self();
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs <loop> until <pred> is true or a second passes. */
static void run_until(uv_loop_t *loop, int *count, int want)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    uint64_t t0 = uv_hrtime();
    while (__atomic_load_n(count, __ATOMIC_ACQUIRE) < want && uv_hrtime() - t0 < 1000000000ULL)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

TEST(tokencache_concurrent_first_uses_verify_once)
{
    ag_tokencache_t *c = make(0, 0, 0, 0, 0);
    uv_loop_t loop;
    ag_mailbox_t *mb;
    ag_tokencache_key_t k;
    ag_identity_t got;
    int res;
    waiter_t w[5];
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    uv_loop_init(&loop);
    CHECK_EQ(ag_mailbox_create(&loop, &mb), 0);
    key_of(c, "shared", &k);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, &a, &got, &res, NULL), AG_TC_MISS);
    for (int i = 0; i < 5; i++) {
        w[i] = (waiter_t){.w = {.mailbox = mb, .fn = on_woken, .arg = &w[i]}};
        CHECK_EQ(ag_tokencache_lookup(c, &k, 0, &a, &got, &res, &w[i].w), AG_TC_WAIT);
    }
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, &a, &got, &res, NULL), AG_TC_NOCACHE);
    ag_identity_t id = scratch_identity("carol");
    CHECK_EQ(ag_tokencache_complete(c, &k, 0, &id, 0, 0), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    for (int n = 0; n < 100 && w[0].woken + w[1].woken + w[2].woken + w[3].woken + w[4].woken < 5;
         n++)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(w[i].woken, 1);
        CHECK_EQ(w[i].w.result, AG_TC_RETRY_RESULT);
        /* the woken request re-enters through the same lookup and hits */
        CHECK_EQ(ag_tokencache_lookup(c, &k, 1, &a, &got, &res, &w[i].w), AG_TC_HIT);
        CHECK_SLICE(got.username, "carol");
    }
    ag_tokencache_stats_t st;
    ag_tokencache_stats(c, &st);
    CHECK_EQ(st.misses, 1);
    CHECK_EQ(st.waits, 5);
    ag_mailbox_destroy(mb);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    ag_arena_dispose(&a);
    ag_tokencache_destroy(c);
}

TEST(tokencache_failure_is_handed_to_waiters_and_abandon_makes_a_new_owner)
{
    ag_tokencache_t *c = make(0, 0, 0, 0, 0);
    uv_loop_t loop;
    ag_mailbox_t *mb;
    ag_tokencache_key_t k;
    ag_identity_t got;
    int res;
    waiter_t w = {0};
    uv_loop_init(&loop);
    CHECK_EQ(ag_mailbox_create(&loop, &mb), 0);
    w.w = (ag_tokencache_waiter_t){.mailbox = mb, .fn = on_woken, .arg = &w};
    key_of(c, "x", &k);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, NULL, &got, &res, NULL), AG_TC_MISS);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, NULL, &got, &res, &w.w), AG_TC_WAIT);
    ag_tokencache_fail(c, &k, 0, 11, true); /* negative caching off: not stored */
    run_until(&loop, &w.woken, 1);
    CHECK_EQ(w.woken, 1);
    CHECK_EQ(w.w.result, 11);

    w.woken = 0;
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, NULL, &got, &res, NULL), AG_TC_MISS);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, NULL, &got, &res, &w.w), AG_TC_WAIT);
    ag_tokencache_abandon(c, &k);
    run_until(&loop, &w.woken, 1);
    CHECK_EQ(w.w.result, AG_TC_RETRY_RESULT);
    CHECK_EQ(ag_tokencache_lookup(c, &k, 0, NULL, &got, &res, &w.w), AG_TC_MISS);
    ag_tokencache_abandon(c, &k);
    ag_mailbox_destroy(mb);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    ag_tokencache_destroy(c);
}

/* Several worker threads, each with its own loop and mailbox, hammer a few keys. Every
 * miss is completed by its owner; waiters are woken on their own thread. */
enum { NTHREADS = 4, NKEYS = 8, ROUNDS = 400 };
static ag_tokencache_t *mt_cache;
static int mt_verifications[NKEYS];

typedef struct {
    int idx, woken;
    bool wrong_thread;
} mt_state_t;

static void on_mt_woken(ag_tokencache_waiter_t *w)
{
    waiter_t *x = w->arg;
    x->thread = pthread_self();
    __atomic_fetch_add(&x->woken, 1, __ATOMIC_RELEASE);
}

static void *mt_worker(void *arg)
{
    mt_state_t *st = arg;
    uv_loop_t loop;
    ag_mailbox_t *mb;
    ag_arena_t a;
    uv_loop_init(&loop);
    ag_mailbox_create(&loop, &mb);
    ag_arena_init(&a, 0, 0);
    for (int r = 0; r < ROUNDS; r++) {
        int ki = (r * 7 + st->idx) % NKEYS;
        char name[8];
        snprintf(name, sizeof name, "k%d", ki);
        ag_tokencache_key_t k;
        ag_identity_t got;
        int res;
        waiter_t w = {0};
        w.w = (ag_tokencache_waiter_t){.mailbox = mb, .fn = on_mt_woken, .arg = &w};
        key_of(mt_cache, name, &k);
        long long now = r / 40; /* entries expire every so often: new misses */
        for (int tries = 0; tries < 10; tries++) {
            ag_tc_status s = ag_tokencache_lookup(mt_cache, &k, now * 1000, &a, &got, &res, &w.w);
            if (s == AG_TC_MISS) {
                __atomic_fetch_add(&mt_verifications[ki], 1, __ATOMIC_RELAXED);
                ag_identity_t id = {.username = ag_str_cstr(name)};
                ag_tokencache_complete(mt_cache, &k, now * 1000, &id, now + 1, now);
                break;
            }
            if (s == AG_TC_HIT) {
                if (!ag_str_eq(got.username, ag_str_cstr(name)))
                    st->wrong_thread = true;
                break;
            }
            if (s == AG_TC_WAIT) {
                run_until(&loop, &w.woken, 1);
                if (!pthread_equal(w.thread, pthread_self()))
                    st->wrong_thread = true;
                w.woken = 0;
                st->woken++;
            }
        }
        ag_arena_reset(&a);
    }
    ag_arena_dispose(&a);
    ag_mailbox_destroy(mb);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return NULL;
}

TEST(tokencache_threads_share_entries_safely)
{
    pthread_t t[NTHREADS];
    mt_state_t st[NTHREADS];
    memset(st, 0, sizeof st);
    mt_cache = make(64, 0, 0, 0, 4);
    for (int i = 0; i < NTHREADS; i++) {
        st[i].idx = i;
        pthread_create(&t[i], NULL, mt_worker, &st[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    ag_tokencache_stats_t s;
    ag_tokencache_stats(mt_cache, &s);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(!st[i].wrong_thread);
    /* Entries live one "second" and threads drift across epochs, so a key may be
     * verified a few times per epoch, but far fewer times than it is looked up. */
    int total = 0;
    for (int i = 0; i < NKEYS; i++) {
        CHECK(mt_verifications[i] >= 1);
        total += mt_verifications[i];
    }
    CHECK(total < NTHREADS * ROUNDS / 4);
    CHECK_EQ(s.misses, mt_verifications[0] + mt_verifications[1] + mt_verifications[2] +
                           mt_verifications[3] + mt_verifications[4] + mt_verifications[5] +
                           mt_verifications[6] + mt_verifications[7]);
    ag_tokencache_destroy(mt_cache);
}
