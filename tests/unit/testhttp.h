/* A loopback HTTP/1.1 server for proxy/ unit tests, on its own thread and libuv loop
 * (no external tools). One request per connection ("Connection: close"). The test's
 * handler runs on the server thread with the server lock held; tests that change what
 * the handler serves take th_lock()/th_unlock() around the change.
 *
 *   static void handle(const th_request_t *rq, th_reply_t *out) { out->status = 200; ... }
 *   int port = th_start(handle);
 */
#ifndef AG_TESTHTTP_H
#define AG_TESTHTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    char method[8];
    char path[256];
    const char *head; /* request line and headers, NUL-terminated */
    const char *body;
    size_t body_n;
} th_request_t;

typedef struct {
    int status;        /* 0: never answer (the connection hangs) */
    char headers[512]; /* extra header lines, each ending in \r\n */
    const char *body;  /* copied */
    size_t body_n;
    bool no_length; /* close-delimited body, no Content-Length */
} th_reply_t;

typedef void (*th_handler_fn)(const th_request_t *rq, th_reply_t *out);

static uv_loop_t th_loop;
static uv_tcp_t th_tcp;
static int th_port;
static pthread_t th_thread;
static pthread_mutex_t th_mutex = PTHREAD_MUTEX_INITIALIZER;
static th_handler_fn th_handler;

static void th_lock(void)
{
    pthread_mutex_lock(&th_mutex);
}
static void th_unlock(void)
{
    pthread_mutex_unlock(&th_mutex);
}

typedef struct {
    uv_tcp_t tcp;
    char buf[65536];
    size_t n;
    bool answered;
} th_conn_t;

typedef struct {
    uv_write_t w;
    char *data;
} th_write_t;

static void th_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void th_on_write(uv_write_t *w, int status)
{
    th_write_t *tw = (th_write_t *)w;
    (void)status;
    uv_close((uv_handle_t *)w->handle, th_on_close);
    free(tw->data);
    free(tw);
}

static void th_send(th_conn_t *c, const th_reply_t *r)
{
    char head[1024];
    int hn;
    if (r->no_length)
        hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\n%sConnection: close\r\n\r\n", r->status,
                      r->headers);
    else
        hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                      r->status, r->body_n, r->headers);
    th_write_t *tw = calloc(1, sizeof *tw);
    tw->data = malloc((size_t)hn + r->body_n + 1);
    memcpy(tw->data, head, (size_t)hn);
    if (r->body_n)
        memcpy(tw->data + hn, r->body, r->body_n);
    uv_buf_t b = uv_buf_init(tw->data, (unsigned)((size_t)hn + r->body_n));
    uv_write(&tw->w, (uv_stream_t *)&c->tcp, &b, 1, th_on_write);
}

static void th_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    th_conn_t *c = h->data;
    (void)hint;
    *b = uv_buf_init(c->buf + c->n, (unsigned)(sizeof c->buf - c->n - 1));
}

static void th_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    th_conn_t *c = s->data;
    (void)b;
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, th_on_close);
        return;
    }
    c->n += (size_t)nread;
    c->buf[c->n] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end || c->answered)
        return;
    const char *cl = strcasestr(c->buf, "\r\ncontent-length:");
    size_t hlen = (size_t)(end - c->buf) + 4,
           blen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    if (c->n < hlen + blen)
        return;
    c->answered = true;
    end[2] = '\0';
    th_request_t rq = {.head = c->buf, .body = c->buf + hlen, .body_n = blen};
    sscanf(c->buf, "%7s %255s", rq.method, rq.path);
    th_reply_t r = {.status = 500};
    th_lock();
    th_handler(&rq, &r);
    th_unlock();
    if (r.status)
        th_send(c, &r);
}

static void th_on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    th_conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(&th_loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, th_alloc, th_on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, th_on_close);
}

static void *th_main(void *arg)
{
    (void)arg;
    uv_run(&th_loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Starts the server once per process; returns its port. */
static int th_start(th_handler_fn fn)
{
    if (th_port)
        return th_port;
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    th_handler = fn;
    uv_loop_init(&th_loop);
    uv_tcp_init(&th_loop, &th_tcp);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&th_tcp, (struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&th_tcp, 64, th_on_conn);
    uv_tcp_getsockname(&th_tcp, (struct sockaddr *)&got, &len);
    th_port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    pthread_create(&th_thread, NULL, th_main, NULL);
    return th_port;
}

static void th_reply(th_reply_t *r, int status, const char *headers, const char *body)
{
    r->status = status;
    snprintf(r->headers, sizeof r->headers, "%s", headers ? headers : "");
    r->body = body;
    r->body_n = body ? strlen(body) : 0;
}

#endif
