/* Snapshot publication (proxy/runtime/snapshot.c): a snapshot entered by a reader survives any
 * number of publishes and sweeps until it leaves; nesting sees one snapshot; generations;
 * reader slot registration; and a multi-thread race of readers against a publishing
 * writer (labelled "tsan": under ThreadSanitizer a free racing a reader is reported).
 * CMakeLists.txt also builds this file against a mutant snapshot.c whose retire ignores
 * the reader slots (AG_SNAP_MUTANT_IGNORE_SLOTS) and expects the held and race cases to
 * FAIL there: the tests are shown to catch a broken retire. */
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "runtime/snapshot.h"
#include "testlib.h"

/* A test snapshot: <a>, <b> and <c> are derived from <value>; the free function poisons
 * them (plain writes: TSan sees a racing reader) and keeps the memory on a graveyard the
 * writer empties at the end, so a reader of a freed snapshot reads poison, not garbage. */
typedef struct tsnap {
    ag_snap_t snap;
    long value, a, b, c;
    struct tsnap *grave_next;
} tsnap_t;

static tsnap_t *graveyard;
static atomic_int nfreed;

static void tsnap_free(ag_snap_t *s)
{
    tsnap_t *t = (tsnap_t *)s;
    t->a = -3; /* distinct values: plain stores, not a memset call, which TSan's */
    t->b = -5; /* ignore_noninstrumented_modules would not check */
    t->c = -7;
    t->grave_next = graveyard;
    graveyard = t;
    atomic_fetch_add(&nfreed, 1);
}

static tsnap_t *tsnap_new(long value)
{
    tsnap_t *t = calloc(1, sizeof *t);
    t->snap.free = tsnap_free;
    t->value = value;
    t->a = value * 3;
    t->b = value * 5;
    t->c = value * 7;
    return t;
}

static bool tsnap_sound(const tsnap_t *t)
{
    return t->a == t->value * 3 && t->b == t->value * 5 && t->c == t->value * 7;
}

static void bury(void)
{
    while (graveyard) {
        tsnap_t *t = graveyard;
        graveyard = t->grave_next;
        free(t);
    }
}

static ag_snap_domain_t *domain(void)
{
    ag_snap_domain_t *d = NULL;
    CHECK_EQ(ag_snap_domain_create("test", &d), 0);
    atomic_store(&nfreed, 0);
    return d;
}

/* ---- one thread ---------------------------------------------------------------------------- */

TEST(snapshot_held_survives_publish_until_leave)
{
    ag_snap_domain_t *d = domain();
    CHECK(ag_snap_enter(d) == NULL); /* nothing published */
    ag_snap_leave(d);
    ag_snap_publish(d, &tsnap_new(1)->snap);
    tsnap_t *held = (tsnap_t *)ag_snap_enter(d);
    CHECK(held && held->value == 1);
    ag_snap_publish(d, &tsnap_new(2)->snap);
    ag_snap_publish(d, &tsnap_new(3)->snap); /* 2 was never held: freed at once */
    CHECK_EQ(atomic_load(&nfreed), 1);
    CHECK_EQ(ag_snap_sweep(d), 1); /* 1 is held */
    CHECK(tsnap_sound(held) && held->value == 1);
    ag_snap_leave(d);
    CHECK_EQ(ag_snap_sweep(d), 0);
    CHECK_EQ(atomic_load(&nfreed), 2);
    tsnap_t *now = (tsnap_t *)ag_snap_enter(d);
    CHECK(now && now->value == 3);
    ag_snap_leave(d);
    ag_snap_domain_destroy(d); /* frees the current one */
    CHECK_EQ(atomic_load(&nfreed), 3);
    bury();
}

TEST(snapshot_nested_enter_sees_one_snapshot)
{
    ag_snap_domain_t *d = domain();
    ag_snap_publish(d, &tsnap_new(1)->snap);
    ag_snap_t *outer = ag_snap_enter(d);
    ag_snap_publish(d, &tsnap_new(2)->snap);
    ag_snap_t *inner = ag_snap_enter(d);
    CHECK(inner == outer); /* the callback keeps one view */
    ag_snap_leave(d);
    CHECK_EQ(ag_snap_sweep(d), 1); /* the inner leave did not release the outer hold */
    ag_snap_leave(d);
    CHECK_EQ(ag_snap_sweep(d), 0);
    ag_snap_t *fresh = ag_snap_enter(d);
    CHECK(fresh && ((tsnap_t *)fresh)->value == 2);
    ag_snap_leave(d);
    ag_snap_domain_destroy(d);
    bury();
}

TEST(snapshot_generations_count_publishes)
{
    ag_snap_domain_t *d = domain();
    CHECK_EQ(ag_snap_generation(d), 0);
    tsnap_t *one = tsnap_new(1), *two = tsnap_new(2);
    ag_snap_publish(d, &one->snap);
    CHECK_EQ(one->snap.generation, 1);
    CHECK_EQ(ag_snap_generation(d), 1);
    ag_snap_publish(d, &two->snap);
    CHECK_EQ(two->snap.generation, 2);
    CHECK(ag_snap_current(d) == &two->snap);
    ag_snap_publish(d, NULL); /* withdrawn: readers see none */
    CHECK_EQ(ag_snap_generation(d), 3);
    CHECK(ag_snap_enter(d) == NULL);
    ag_snap_leave(d);
    CHECK_EQ(atomic_load(&nfreed), 2);
    ag_snap_domain_destroy(d);
    bury();
}

/* ---- readers racing a writer (TSan) ------------------------------------------------------- */

static struct {
    ag_snap_domain_t *d;
    atomic_bool stop;
    atomic_long reads, unsound, backwards;
} race;

static void race_reader(void *arg)
{
    (void)arg;
    uint64_t last = 0;
    while (!atomic_load(&race.stop)) {
        tsnap_t *t = (tsnap_t *)ag_snap_enter(race.d);
        if (t) {
            bool ok = tsnap_sound(t);
            sched_yield(); /* hold it a while: the writer publishes meanwhile */
            ok = ok && tsnap_sound(t);
            if (!ok)
                atomic_fetch_add(&race.unsound, 1);
            if (t->snap.generation < last)
                atomic_fetch_add(&race.backwards, 1);
            last = t->snap.generation;
            atomic_fetch_add(&race.reads, 1);
        }
        ag_snap_leave(race.d);
    }
}

TEST(snapshot_tsan_readers_race_publisher)
{
    enum { READERS = 3, PUBLISHES = 8000 };
    uv_thread_t th[READERS];
    race.d = domain();
    atomic_store(&race.stop, false);
    ag_snap_publish(race.d, &tsnap_new(1)->snap);
    for (int i = 0; i < READERS; i++)
        CHECK_EQ(uv_thread_create(&th[i], race_reader, NULL), 0);
    for (long v = 2; v <= PUBLISHES; v++) {
        ag_snap_publish(race.d, &tsnap_new(v)->snap);
        /* pauses: readers enter the current snapshot between bursts of publishes */
        if (v % 16 == 0)
            usleep(50);
    }
    atomic_store(&race.stop, true);
    for (int i = 0; i < READERS; i++)
        uv_thread_join(&th[i]);
    CHECK_EQ(atomic_load(&race.unsound), 0);
    CHECK_EQ(atomic_load(&race.backwards), 0);
    CHECK(atomic_load(&race.reads) > 0);
    CHECK_EQ(ag_snap_sweep(race.d), 0); /* every reader left: nothing stays retired */
    CHECK_EQ(atomic_load(&nfreed), PUBLISHES - 1);
    ag_snap_domain_destroy(race.d);
    bury();
}

/* ---- reader slots --------------------------------------------------------------------------- */

/* Every thread that registers holds an index no other thread has until it unregisters;
 * once all are taken registration fails instead of handing out a shared one. */
static struct {
    uv_barrier_t registered, release;
    atomic_int ok, refused;
    atomic_int index[2 * AG_SNAP_THREADS];
} reg;

static void registrant(void *arg)
{
    int i = (int)(intptr_t)arg, index = -7;
    ag_err err = ag_snap_thread_register(&index);
    atomic_store(&reg.index[i], err ? -1 : index);
    atomic_fetch_add(err ? &reg.refused : &reg.ok, 1);
    if (!err)
        CHECK(index >= 0 && index < AG_SNAP_THREADS);
    else
        CHECK_EQ(err, AG_E_TOO_BIG);
    uv_barrier_wait(&reg.registered); /* everyone holds their index at once */
    uv_barrier_wait(&reg.release);
    ag_snap_thread_unregister();
}

static void reader_once(void *arg)
{
    ag_snap_enter(arg); /* registers on first use, never unregisters */
    ag_snap_leave(arg);
}

/* Starts <n> threads that register together; returns how many got an index. */
static int register_threads(int n)
{
    uv_thread_t th[2 * AG_SNAP_THREADS];
    atomic_store(&reg.ok, 0);
    atomic_store(&reg.refused, 0);
    uv_barrier_init(&reg.registered, (unsigned)n + 1);
    uv_barrier_init(&reg.release, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        CHECK_EQ(uv_thread_create(&th[i], registrant, (void *)(intptr_t)i), 0);
    uv_barrier_wait(&reg.registered);
    bool seen[AG_SNAP_THREADS] = {false};
    for (int i = 0; i < n; i++) {
        int s = atomic_load(&reg.index[i]);
        if (s < 0)
            continue;
        CHECK(!seen[s]); /* distinct */
        seen[s] = true;
    }
    uv_barrier_wait(&reg.release);
    for (int i = 0; i < n; i++)
        uv_thread_join(&th[i]);
    uv_barrier_destroy(&reg.registered);
    uv_barrier_destroy(&reg.release);
    return atomic_load(&reg.ok);
}

TEST(snapshot_threads_get_distinct_slots)
{
    int mine = -1;
    CHECK_EQ(ag_snap_thread_register(&mine), 0);
    CHECK_EQ(register_threads(8), 8);
    CHECK_EQ(atomic_load(&reg.refused), 0);
    for (int i = 0; i < 8; i++)
        CHECK(atomic_load(&reg.index[i]) != mine);
    int again = -1;
    CHECK_EQ(ag_snap_thread_register(&again), 0); /* idempotent */
    CHECK_EQ(again, mine);
    ag_snap_thread_unregister();
}

TEST(snapshot_registration_fails_when_slots_run_out)
{
    int n = AG_SNAP_THREADS + 3;
    ag_snap_domain_t *d = domain();
    ag_snap_thread_unregister(); /* all indices free: earlier threads have exited */
    CHECK_EQ(register_threads(n), AG_SNAP_THREADS);
    CHECK_EQ(atomic_load(&reg.refused), 3);
    /* released on unregister: the next threads get indices again */
    CHECK_EQ(register_threads(4), 4);
    /* and when a thread ends without unregistering */
    uv_thread_t t;
    CHECK_EQ(uv_thread_create(&t, reader_once, d), 0);
    uv_thread_join(&t);
    CHECK_EQ(register_threads(n), AG_SNAP_THREADS);
    ag_snap_publish(d, &tsnap_new(7)->snap);
    tsnap_t *p = (tsnap_t *)ag_snap_enter(d); /* this thread registers on first use */
    CHECK(p && p->value == 7);
    ag_snap_leave(d);
    ag_snap_thread_unregister();
    ag_snap_domain_destroy(d);
    bury();
}
