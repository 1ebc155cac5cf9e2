/* One worker: a thread with its own libuv loop, its own acceptor on the listening socket
 * all workers share (acceptor.h: connections balanced over the workers), its own TLS contexts,
 * connection pool and upstream keep-alive pool. Nothing a worker touches on the hot path is shared
 * with another worker; the control thread talks to it only through an uv_async (drain, stop).
 * Lifetime: process (created by server.c). */
#ifndef AG_WORKER_H
#define AG_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "http/credential.h" /* ag_credential_enter for send_request */
#include "net/acceptor.h"
#include "net/tls.h"

typedef struct ag_server ag_server_t;
typedef struct ag_upconn ag_upconn_t;

#define AG_WORKER_SCRATCH (17 * 1024) /* one TLS record plus header */

/* Intrusive doubly-linked list (connections per worker). */
typedef struct ag_link {
    struct ag_link *prev, *next;
} ag_link_t;

static inline void ag_link_init(ag_link_t *l)
{
    l->prev = l->next = l;
}
static inline void ag_link_push(ag_link_t *head, ag_link_t *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}
static inline void ag_link_remove(ag_link_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}
static inline bool ag_link_empty(const ag_link_t *head)
{
    return head->next == head;
}

typedef struct ag_worker {
    int id; /* 1..n; 0 is the control thread */
    uv_loop_t loop;
    uv_thread_t thread;
    ag_acceptor_t acceptor; /* on the listening socket server.c bound */
    ag_accept_load_t *load; /* its connections and those handed to it (acceptor.h) */
    bool loop_ready;        /* for teardown after a failed start */
    uv_async_t wakeup;      /* control -> worker: look at the flags below */
    atomic_bool drain_flag, stop_flag;
    bool draining;
    ag_server_t *server;
    const ag_config_t *conf;  /* snapshot, borrowed */
    ag_tls_ctx_t *tls_server; /* NULL: plain HTTP listener */
    ag_tls_ctx_t *tls_client; /* NULL: plain HTTP upstream */
    /* the "webhooks" listener (conf->webhooks.address set): webhook routes only, callers
     * known by their client certificate (http1.c's webhook-only connections) */
    ag_acceptor_t wh_acceptor; /* open only when webhooks.address is set */
    ag_tls_ctx_t *tls_webhooks;
    /* reloaded certificates published by the control thread (tls_reload.h), adopted
     * before the next accept on that listener (ag_tls_ctx_take) */
    ag_tls_follow_t tls_server_next, tls_webhooks_next;
    char *scratch; /* AG_WORKER_SCRATCH bytes: ciphertext reads */
    /* client connections (http1.c) */
    ag_link_t conns;       /* open */
    uv_timer_t conn_sweep; /* idle ones give their buffers back (http1.c) */
    void *free_conns;      /* pooled, singly linked through http1's struct */
    atomic_int nconns;     /* written by this worker only; read by the others' acceptors */
    int nfree;
    /* upstream connections (upstream.c) */
    ag_link_t up_idle, up_busy;
    int nidle;
    uv_timer_t up_sweep;                /* closes idle upstream connections past their time */
    struct sockaddr_storage up_addr;    /* resolved once at start */
    const ag_credential_t *credential;  /* upstream token source, borrowed from the server;
                                         * NULL: none. ag_credential_enter per request */
    const struct ag_pipeline *pipeline; /* the request pipeline (borrowed; NULL: refuse) */
    ag_str_t *self_authorities;         /* for absolute-form reduction */
    int nself;
} ag_worker_t;

#endif
