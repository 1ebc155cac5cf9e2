/* Admin endpoints (admin.h). Runs on the control loop, never on a worker, so a scrape
 * costs the data path nothing but the relaxed loads in ag_metrics_render. */
#include "runtime/admin.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "config.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

#define ADMIN_HEAD_MAX 8192
#define MAX_READY 32

/* ---- readiness registry (filled before threads start; read by /readyz below) -------- */

static atomic_bool draining;
static struct {
    const char *name;
    ag_ready_fn fn;
    ag_ready_list_fn list;
    void *ud;
} ready_hooks[MAX_READY];
static int nready;
struct ag_ready_report {
    ag_buf_t *out;
    bool ok;
};

ag_err ag_ready_register(const char *name, ag_ready_fn fn, void *ud)
{
    if (nready >= MAX_READY)
        return AG_E_TOO_BIG;
    ready_hooks[nready].name = name;
    ready_hooks[nready].fn = fn;
    ready_hooks[nready].list = NULL;
    ready_hooks[nready++].ud = ud;
    return 0;
}

ag_err ag_ready_register_list(ag_ready_list_fn fn, void *ud)
{
    ag_err err = ag_ready_register(NULL, NULL, ud);
    if (!err)
        ready_hooks[nready - 1].list = fn;
    return err;
}

void ag_ready_item(ag_ready_report_t *r, const char *name, bool ok, bool optional,
                   const char *reason)
{
    if (ok)
        ag_buf_printf(r->out, "[+]%s ok\n", name);
    else
        ag_buf_printf(r->out, "[-]%s failed: %s%s\n", name, reason,
                      optional ? " (optional: not counted)" : "");
    r->ok &= ok || optional;
}

bool ag_ready_check(ag_buf_t *out)
{
    ag_ready_report_t r = {out, true};
    ag_ready_item(&r, "shutdown", !atomic_load(&draining), false, "draining");
    for (int i = 0; i < nready; i++) {
        if (ready_hooks[i].list)
            ready_hooks[i].list(ready_hooks[i].ud, &r);
        else
            ag_ready_item(&r, ready_hooks[i].name, ready_hooks[i].fn(ready_hooks[i].ud), false,
                          "not ready");
    }
    return r.ok;
}

void ag_ready_set_draining(void)
{
    atomic_store(&draining, true);
}

bool ag_ready_draining(void)
{
    return atomic_load(&draining);
}

/* ---- the admin listener ------------------------------------------------------------- */

struct ag_admin {
    uv_tcp_t listener;
    bool stopping;
};

typedef struct {
    uv_tcp_t tcp;
    ag_admin_t *a;
    char buf[ADMIN_HEAD_MAX];
    size_t n;
    bool answered;
} aconn_t;

typedef struct {
    uv_write_t req;
    ag_buf_t body;
} awrite_t;

static void on_aconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *req, int status)
{
    awrite_t *w = (awrite_t *)req;
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_aconn_closed);
    ag_buf_dispose(&w->body);
    free(w);
}

static void answer(aconn_t *c, int code, const char *ctype, ag_buf_t *body, bool head)
{
    awrite_t *w = calloc(1, sizeof(*w));
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (!w) {
        uv_close((uv_handle_t *)&c->tcp, on_aconn_closed);
        return;
    }
    w->body = AG_BUF_INIT(1u << 24);
    ag_buf_printf(&w->body,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                  code,
                  code == 200   ? "OK"
                  : code == 503 ? "Service Unavailable"
                  : code == 404 ? "Not Found"
                  : code == 405 ? "Method Not Allowed"
                                : "Bad Request",
                  ctype, body->n);
    if (!head)
        ag_buf_append(&w->body, body->p ? body->p : "", body->n);
    uv_buf_t b = uv_buf_init(w->body.p, (unsigned)w->body.n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        ag_buf_dispose(&w->body);
        free(w);
        uv_close((uv_handle_t *)&c->tcp, on_aconn_closed);
    }
}

/* kube-apiserver's /livez and /readyz: "ok" when every check passes and ?verbose is not
 * asked; otherwise one "[+]name ok" / "[-]name failed: reason" line per check and
 * "<what> check passed|failed". */
static void health(aconn_t *c, const char *what, bool verbose, bool head)
{
    ag_buf_t body = AG_BUF_INIT(1u << 20), list = AG_BUF_INIT(1u << 20);
    bool ok;
    if (strcmp(what, "readyz") == 0) {
        ok = ag_ready_check(&list);
    } else {
        ag_buf_append_cstr(&list, "[+]ping ok\n"); /* the control loop answers: it runs */
        ok = true;
    }
    if (ok && !verbose)
        ag_buf_append_cstr(&body, "ok");
    else
        ag_buf_printf(&body, "%s%s check %s\n", list.p ? list.p : "", what,
                      ok ? "passed" : "failed");
    answer(c, ok ? 200 : 503, "text/plain; charset=utf-8", &body, head);
    ag_buf_dispose(&list);
    ag_buf_dispose(&body);
}

/* "verbose" as a query parameter (?verbose, ?verbose=1, ?a&verbose) */
static bool has_verbose(ag_str_t query)
{
    while (query.n) {
        ag_str_t param;
        query = ag_str_split(query, '&', &param);
        ag_str_t name;
        ag_str_split(param, '=', &name);
        if (ag_str_eq_lit(name, "verbose"))
            return true;
    }
    return false;
}

static void route(aconn_t *c, ag_str_t method, ag_str_t path)
{
    ag_buf_t body = AG_BUF_INIT(1u << 22);
    bool head = ag_str_eq_lit(method, "HEAD");
    size_t q = ag_str_find_char(path, '?');
    ag_str_t query = q < path.n ? ag_str_sub(path, q + 1, path.n - q - 1) : AG_STR_NULL;
    path = ag_str_sub(path, 0, q);
    if (!head && !ag_str_eq_lit(method, "GET")) {
        ag_buf_append_cstr(&body, "method not allowed\n");
        answer(c, 405, "text/plain", &body, head);
    } else if (ag_str_eq_lit(path, "/healthz")) {
        health(c, "healthz", has_verbose(query), head);
    } else if (ag_str_eq_lit(path, "/livez")) {
        health(c, "livez", has_verbose(query), head);
    } else if (ag_str_eq_lit(path, "/readyz")) {
        health(c, "readyz", has_verbose(query), head);
    } else if (ag_str_eq_lit(path, "/metrics")) {
        ag_metrics_render(&body);
        answer(c, 200, "text/plain; version=0.0.4", &body, head);
    } else {
        ag_buf_append_cstr(&body, "not found\n");
        answer(c, 404, "text/plain", &body, head);
    }
    ag_buf_dispose(&body);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    aconn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->buf + c->n, (unsigned)(sizeof c->buf - c->n));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    aconn_t *c = s->data;
    (void)buf;
    if (c->answered)
        return;
    if (nread < 0 || (nread == 0 && c->n == sizeof c->buf)) {
        uv_close((uv_handle_t *)&c->tcp, on_aconn_closed);
        return;
    }
    c->n += (size_t)nread;
    ag_str_t all = ag_str_make(c->buf, c->n);
    size_t eol = ag_str_find_char(all, '\n');
    if (eol == all.n) {
        if (c->n == sizeof c->buf) {
            ag_buf_t body = AG_BUF_INIT(64);
            answer(c, 400, "text/plain", &body, false);
        }
        return;
    }
    /* request line: METHOD SP PATH SP VERSION; the rest of the head is ignored */
    ag_str_t line = ag_str_sub(all, 0, eol), method, path, rest;
    rest = ag_str_split(line, ' ', &method);
    ag_str_split(rest, ' ', &path);
    route(c, method, path);
}

static void on_connection(uv_stream_t *server, int status)
{
    ag_admin_t *a = server->data;
    if (status < 0 || a->stopping)
        return;
    aconn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->a = a;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_aconn_closed);
}

ag_err ag_admin_start(uv_loop_t *loop, const char *address, ag_admin_t **out, char *bound,
                      size_t boundlen)
{
    ag_arena_t ar;
    const char *host;
    int port;
    struct sockaddr_storage ss;
    ag_arena_init(&ar, 256, 0);
    ag_err err = ag_config_split_address(&ar, address, &host, &port);
    if (!err && uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        err = AG_E_INVAL;
    ag_admin_t *a = err ? NULL : calloc(1, sizeof(*a));
    if (!err && !a)
        err = AG_E_NOMEM;
    if (!err) {
        uv_tcp_init(loop, &a->listener);
        a->listener.data = a;
        /* no SO_REUSEPORT (libuv sets only SO_REUSEADDR): a busy address fails here (on
         * Linux at uv_listen) and nothing can join it later */
        int rc = uv_tcp_bind(&a->listener, (struct sockaddr *)&ss, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&a->listener, 128, on_connection);
        if (rc != 0) {
            uv_close((uv_handle_t *)&a->listener, (uv_close_cb)free);
            a = NULL;
            err = rc == UV_EADDRINUSE ? AG_E_IN_USE : AG_E_IO;
        }
    }
    if (!err) {
        struct sockaddr_storage got;
        int len = sizeof got;
        char ip[64] = "";
        uv_tcp_getsockname(&a->listener, (struct sockaddr *)&got, &len);
        if (got.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&got, ip, sizeof ip);
            snprintf(bound, boundlen, "[%s]:%d", ip,
                     ntohs(((struct sockaddr_in6 *)&got)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&got, ip, sizeof ip);
            snprintf(bound, boundlen, "%s:%d", ip, ntohs(((struct sockaddr_in *)&got)->sin_port));
        }
        *out = a;
    }
    ag_arena_dispose(&ar);
    return err;
}

void ag_admin_stop(ag_admin_t *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = true;
    /* listener handle is the first member: free() in its close callback frees a */
    uv_close((uv_handle_t *)&a->listener, (uv_close_cb)free);
}
