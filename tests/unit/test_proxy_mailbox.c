/* The cross-loop mailbox (proxy/runtime/mailbox.c) under concurrent posters: every message posted
 * from any thread runs exactly once, on the mailbox's loop thread, in each poster's order,
 * and sees what its poster wrote before posting. Run under -fsanitize=thread (build-tsan)
 * too, where a missing happens-before edge between post and delivery is a report. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include "runtime/mailbox.h"
#include "testlib.h"

enum { POSTERS = 4, PER_POSTER = 2000 };

typedef struct {
    ag_mailbox_msg_t msg; /* first: the callback casts back */
    int poster, seq;
    int payload; /* written by the poster before posting */
} note_t;

static struct {
    uv_thread_t loop_thread;
    int next[POSTERS]; /* the sequence number each poster's next message must carry */
    int delivered, out_of_order, bad_payload, wrong_thread;
} rx; /* touched on the loop thread only */

static ag_mailbox_t *mb;
static note_t notes[POSTERS][PER_POSTER];

static void on_note(ag_mailbox_msg_t *m)
{
    note_t *n = (note_t *)m;
    uv_thread_t self = uv_thread_self();
    rx.wrong_thread += !uv_thread_equal(&self, &rx.loop_thread);
    rx.out_of_order += n->seq != rx.next[n->poster];
    rx.next[n->poster] = n->seq + 1;
    rx.bad_payload += n->payload != n->poster * 100000 + n->seq;
    rx.delivered++;
}

static void *poster(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER_POSTER; i++) {
        note_t *n = &notes[p][i];
        n->msg.fn = on_note;
        n->poster = p;
        n->seq = i;
        n->payload = p * 100000 + i;
        ag_mailbox_post(mb, &n->msg);
        if (i % 64 == 0)
            sched_yield(); /* let the loop drain mid-stream, so wake-ups interleave */
    }
    return NULL;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

TEST(mailbox_posts_from_threads_run_once_in_order_on_the_loop)
{
    uv_loop_t loop;
    uv_timer_t tick; /* the mailbox's handle is unreferenced: keep the loop running */
    memset(&rx, 0, sizeof rx);
    rx.loop_thread = uv_thread_self();
    CHECK_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    CHECK_EQ(ag_mailbox_create(&loop, &mb), 0);
    pthread_t th[POSTERS];
    for (int p = 0; p < POSTERS; p++)
        CHECK_EQ(pthread_create(&th[p], NULL, poster, (void *)(intptr_t)p), 0);
    uint64_t t0 = uv_hrtime();
    while (rx.delivered < POSTERS * PER_POSTER && uv_hrtime() - t0 < 10000000000ULL)
        uv_run(&loop, UV_RUN_ONCE);
    for (int p = 0; p < POSTERS; p++)
        pthread_join(th[p], NULL);
    ag_mailbox_destroy(mb); /* runs anything still queued, here, now */
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(rx.delivered, POSTERS * PER_POSTER);
    CHECK_EQ(rx.out_of_order, 0);
    CHECK_EQ(rx.bad_payload, 0);
    CHECK_EQ(rx.wrong_thread, 0);
    for (int p = 0; p < POSTERS; p++)
        CHECK_EQ(rx.next[p], PER_POSTER);
}
