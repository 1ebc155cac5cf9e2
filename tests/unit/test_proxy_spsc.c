/* The single-producer single-consumer record ring (proxy/runtime/spsc.h): records come out whole
 * and in order across the wrap (padding included), a full ring refuses and recovers, a
 * record bigger than a quarter never goes in, and a producer and a consumer on two
 * threads agree on every byte (the spsc_tsan case also runs under ThreadSanitizer:
 * CTest label "tsan"). */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/spsc.h"
#include "testlib.h"

/* Record i: its length and bytes are a function of i, so a torn or misplaced one shows. */
static size_t rec_len(uint32_t i)
{
    return 1 + (i * 37u) % 53u; /* 1..53: within a 256-byte ring's quarter */
}

static void rec_fill(uint32_t i, unsigned char *p)
{
    for (size_t k = 0; k < rec_len(i); k++)
        p[k] = (unsigned char)(i * 131u + k);
}

static bool rec_ok(uint32_t i, const unsigned char *p, size_t n)
{
    if (n != rec_len(i))
        return false;
    for (size_t k = 0; k < n; k++)
        if (p[k] != (unsigned char)(i * 131u + k))
            return false;
    return true;
}

static bool push(ag_spsc_t *r, uint32_t i)
{
    unsigned char *p = ag_spsc_reserve(r, rec_len(i));
    if (!p)
        return false;
    rec_fill(i, p);
    ag_spsc_commit(r);
    return true;
}

static bool pop(ag_spsc_t *r, uint32_t i)
{
    size_t n = 0;
    const unsigned char *p = ag_spsc_peek(r, &n);
    bool ok = p && rec_ok(i, p, n);
    if (p)
        ag_spsc_release(r);
    return ok;
}

TEST(spsc_records_come_out_whole_and_in_order_across_many_wraps)
{
    ag_spsc_t r;
    CHECK_EQ(ag_spsc_init(&r, 300), 0); /* rounded down to 256 */
    CHECK_EQ(r.cap, 256);
    size_t n;
    CHECK(ag_spsc_peek(&r, &n) == NULL);
    uint32_t in = 0, out = 0;
    for (int round = 0; round < 2000; round++) { /* ~100 KB through 256 bytes */
        int k = 1 + round % 3;
        for (int j = 0; j < k; j++)
            if (push(&r, in))
                in++;
        while (out + 1 < in) /* keep one queued: the wrap happens with data in flight */
            CHECK(pop(&r, out++));
    }
    while (out < in)
        CHECK(pop(&r, out++));
    CHECK(ag_spsc_peek(&r, &n) == NULL);
    CHECK_EQ(ag_spsc_used(&r), 0);
    CHECK(in > 1000);
    ag_spsc_dispose(&r);
}

TEST(spsc_full_ring_refuses_until_the_consumer_frees_room)
{
    ag_spsc_t r;
    CHECK_EQ(ag_spsc_init(&r, 256), 0);
    int queued = 0;
    while (ag_spsc_reserve(&r, 24) != NULL) { /* 32 bytes each with the header */
        ag_spsc_commit(&r);
        queued++;
    }
    CHECK_EQ(queued, 8); /* exactly full */
    CHECK_EQ(ag_spsc_used(&r), 256);
    CHECK(ag_spsc_reserve(&r, 1) == NULL); /* still full */
    size_t n;
    CHECK(ag_spsc_peek(&r, &n) != NULL);
    ag_spsc_release(&r);
    CHECK(ag_spsc_reserve(&r, 24) != NULL); /* one record's room again */
    ag_spsc_commit(&r);
    CHECK(ag_spsc_reserve(&r, 1) == NULL);
    /* head 32, tail 288: drain to one record, then fill up to offset 224 */
    for (int i = 0; i < 7; i++) {
        CHECK(ag_spsc_peek(&r, &n) != NULL && n == 24);
        ag_spsc_release(&r);
    }
    for (int i = 0; i < 6; i++) {
        CHECK(ag_spsc_reserve(&r, 24) != NULL);
        ag_spsc_commit(&r);
    }
    CHECK(ag_spsc_peek(&r, &n) != NULL);
    ag_spsc_release(&r); /* 192 bytes queued, 64 free, but only 32 before the end */
    CHECK(ag_spsc_reserve(&r, 56) == NULL); /* 64 bytes + 32 of padding: no room */
    CHECK(ag_spsc_peek(&r, &n) != NULL);
    ag_spsc_release(&r);
    CHECK(ag_spsc_reserve(&r, 56) != NULL); /* now there is */
    ag_spsc_commit(&r);
    for (int i = 0; i < 5; i++) {
        CHECK(ag_spsc_peek(&r, &n) != NULL && n == 24);
        ag_spsc_release(&r);
    }
    CHECK(ag_spsc_peek(&r, &n) != NULL && n == 56); /* after the padding record */
    ag_spsc_release(&r);
    CHECK_EQ(ag_spsc_used(&r), 0);
    ag_spsc_dispose(&r);
}

TEST(spsc_record_bigger_than_a_quarter_never_fits)
{
    ag_spsc_t r;
    CHECK_EQ(ag_spsc_init(&r, 1024), 0);
    CHECK_EQ(AG_SPSC_MAX_RECORD(r.cap), 248);
    CHECK(ag_spsc_reserve(&r, 249) == NULL);
    CHECK(ag_spsc_reserve(&r, 248) != NULL);
    ag_spsc_commit(&r);
    CHECK_EQ(ag_spsc_used(&r), 256);
    ag_spsc_dispose(&r);
}

enum { SPSC_RECORDS = 50000 };

static void *consume(void *arg)
{
    ag_spsc_t *r = arg;
    uintptr_t bad = 0;
    for (uint32_t i = 0; i < SPSC_RECORDS;) {
        size_t n = 0;
        const unsigned char *p = ag_spsc_peek(r, &n);
        if (!p) {
            sched_yield(); /* the producer is running */
            continue;
        }
        bad += !rec_ok(i++, p, n);
        ag_spsc_release(r);
    }
    return (void *)bad;
}

TEST(spsc_tsan_producer_and_consumer_threads_agree_on_every_byte)
{
    ag_spsc_t r;
    pthread_t th;
    void *bad = NULL;
    CHECK_EQ(ag_spsc_init(&r, 4096), 0); /* small: the ring is full and empty often */
    CHECK_EQ(pthread_create(&th, NULL, consume, &r), 0);
    unsigned long long full = 0;
    for (uint32_t i = 0; i < SPSC_RECORDS;)
        if (push(&r, i))
            i++;
        else
            full++, sched_yield();
    pthread_join(th, &bad);
    CHECK(bad == NULL);
    CHECK_EQ(ag_spsc_used(&r), 0);
    printf("producer found the ring full %llu times\n", full);
    ag_spsc_dispose(&r);
}
