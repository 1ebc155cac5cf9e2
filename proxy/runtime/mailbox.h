/* Cross-loop calls: how a worker loop hands work to the control loop and how results
 * come back. A mailbox belongs to one libuv loop (one uv_async_t); any thread may post
 * a message to it, and the message's function then runs on that loop's thread. Messages
 * are intrusive (embedded in the poster's own struct), so posting never allocates and
 * never fails while the mailbox is open. Never blocks: the queue lock is held only to
 * link or unlink a node.
 *
 * Lifetime: process. A mailbox must outlive every thread that may post to it; it is
 * destroyed on its own loop thread, after which posting is a bug. */
#ifndef AG_MAILBOX_H
#define AG_MAILBOX_H

#include <uv.h>

#include "base/err.h"

typedef struct ag_mailbox ag_mailbox_t;
typedef struct ag_mailbox_msg ag_mailbox_msg_t;

/* Runs on the mailbox's loop thread. <msg> is the posted node (borrowed back to the
 * poster's struct: use container_of-style offset or keep msg first). */
typedef void (*ag_mailbox_fn)(ag_mailbox_msg_t *msg);

struct ag_mailbox_msg {
    ag_mailbox_fn fn;
    ag_mailbox_msg_t *next; /* private */
};

/* Creates a mailbox on <loop>; call on the loop's thread before the loop runs or from
 * it. The async handle is unreferenced so an idle mailbox never keeps a loop alive. */
ag_err ag_mailbox_create(uv_loop_t *loop, ag_mailbox_t **out);
/* Closes the handle; messages still queued run first (on this thread, now). Call on
 * the loop's thread; the memory is freed in the close callback. NULL is ignored. */
void ag_mailbox_destroy(ag_mailbox_t *mb);
/* Any thread: queues <msg> (msg->fn must be set) and wakes the loop. Messages from one
 * thread run in the order posted. */
void ag_mailbox_post(ag_mailbox_t *mb, ag_mailbox_msg_t *msg);
/* The loop the mailbox delivers on. */
uv_loop_t *ag_mailbox_loop(const ag_mailbox_t *mb);

#endif
