/* Cross-loop calls (mailbox.h): a uv_async_t plus a mutex-protected singly linked
 * FIFO of intrusive nodes. uv_async_send coalesces wake-ups, so the drain loop takes
 * the whole list each time. */
#include "runtime/mailbox.h"

#include <pthread.h>
#include <stdlib.h>

struct ag_mailbox {
    uv_async_t async;
    pthread_mutex_t lock;
    ag_mailbox_msg_t *head, *tail; /* under lock */
};

static void drain(ag_mailbox_t *mb)
{
    for (;;) {
        pthread_mutex_lock(&mb->lock);
        ag_mailbox_msg_t *m = mb->head;
        mb->head = mb->tail = NULL;
        pthread_mutex_unlock(&mb->lock);
        if (!m)
            return;
        while (m) {
            ag_mailbox_msg_t *next = m->next; /* fn may free m */
            m->next = NULL;
            m->fn(m);
            m = next;
        }
    }
}

static void on_async(uv_async_t *h)
{
    drain(h->data);
}

static void on_close(uv_handle_t *h)
{
    ag_mailbox_t *mb = h->data;
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

ag_err ag_mailbox_create(uv_loop_t *loop, ag_mailbox_t **out)
{
    ag_mailbox_t *mb = calloc(1, sizeof *mb);
    if (!mb)
        return AG_E_NOMEM;
    if (pthread_mutex_init(&mb->lock, NULL) != 0) {
        free(mb);
        return AG_E_NOMEM;
    }
    if (uv_async_init(loop, &mb->async, on_async) != 0) {
        pthread_mutex_destroy(&mb->lock);
        free(mb);
        return AG_E_IO;
    }
    mb->async.data = mb;
    uv_unref((uv_handle_t *)&mb->async);
    *out = mb;
    return 0;
}

void ag_mailbox_destroy(ag_mailbox_t *mb)
{
    if (!mb)
        return;
    drain(mb);
    uv_close((uv_handle_t *)&mb->async, on_close);
}

void ag_mailbox_post(ag_mailbox_t *mb, ag_mailbox_msg_t *msg)
{
    msg->next = NULL;
    pthread_mutex_lock(&mb->lock);
    if (mb->tail)
        mb->tail->next = msg;
    else
        mb->head = msg;
    mb->tail = msg;
    pthread_mutex_unlock(&mb->lock);
    uv_async_send(&mb->async);
}

uv_loop_t *ag_mailbox_loop(const ag_mailbox_t *mb)
{
    return mb->async.loop;
}
