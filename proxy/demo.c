/* `authgate demo`: the embedded default, runnable with no files at all. It generates a
 * self-signed P-256 certificate, starts a built-in demo upstream on loopback (its own
 * thread and loop; it answers like a tiny API server and echoes the identity headers the
 * gateway sent it), puts the gateway in front of it, and prints what to run next. Later
 * capabilities extend it here (an issuer, a policy, a kubeconfig). The demo upstream
 * trusts its only client, the gateway: its HTTP parsing is deliberately minimal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "cmd.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "tls.h"

#define DEMO_HEAD_MAX (64 * 1024)

typedef struct {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop;
    uv_thread_t thread;
    int port;
} demo_upstream_t;

typedef struct {
    uv_tcp_t tcp;
    char buf[DEMO_HEAD_MAX];
    size_t n;
} demo_conn_t;

typedef struct {
    uv_write_t req;
    ag_buf_t out;
} demo_write_t;

static void on_demo_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_demo_written(uv_write_t *req, int status)
{
    demo_write_t *w = (demo_write_t *)req;
    (void)status;
    ag_buf_dispose(&w->out);
    free(w);
}

/* The identity the gateway forwarded, as a JSON object. */
static void identity_json(ag_buf_t *o, ag_str_t head)
{
    ag_str_t rest = head, line;
    bool first = true;
    ag_buf_append_cstr(o, "{");
    rest = ag_str_split(rest, '\n', &line); /* skip the request line */
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        ag_str_t name, value = ag_str_split(line, ':', &name);
        if (!value.p)
            continue;
        while (value.n && value.p[0] == ' ')
            value.p++, value.n--;
        bool identity = ag_str_istarts_with(name, AG_STR("Impersonate-")) ||
                        ag_str_istarts_with(name, AG_STR("X-Forwarded-"));
        if (ag_str_ieq(name, AG_STR("Authorization")))
            value = AG_STR("(the gateway's credential)"), identity = true;
        if (!identity)
            continue;
        ag_buf_append_cstr(o, first ? "" : ",");
        ag_json_write_str(o, name);
        ag_buf_append_cstr(o, ":");
        ag_json_write_str(o, value);
        first = false;
    }
    ag_buf_append_cstr(o, "}");
}

static void demo_body(ag_buf_t *b, ag_str_t path, ag_str_t head, int *code)
{
    *code = 200;
    if (ag_str_eq_lit(path, "/version")) {
        ag_buf_append_cstr(b, "{\"major\":\"1\",\"minor\":\"30\",\"gitVersion\":\"v1.30.0-authgate-demo\","
                              "\"platform\":\"linux/amd64\"}");
    } else if (ag_str_eq_lit(path, "/api")) {
        ag_buf_append_cstr(b, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
                              "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
                              "\"serverAddress\":\"127.0.0.1:6443\"}]}");
    } else if (ag_str_eq_lit(path, "/api/v1/namespaces/default/pods")) {
        ag_buf_append_cstr(b, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
                              "{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":"
                              "\"demo\",\"namespace\":\"default\"},\"status\":{\"phase\":"
                              "\"Running\"}}],\"receivedIdentity\":");
        identity_json(b, head);
        ag_buf_append_cstr(b, "}");
    } else if (ag_str_eq_lit(path, "/whoami")) {
        identity_json(b, head);
    } else {
        *code = 404;
        ag_buf_append_cstr(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                              "\"status\":\"Failure\",\"message\":\"the demo API server has "
                              "/version, /api, /api/v1/namespaces/default/pods and /whoami\","
                              "\"reason\":\"NotFound\",\"code\":404}");
    }
}

/* Answers one complete head at c->buf[0..len); returns false to close. */
static bool demo_answer(demo_conn_t *c, size_t len)
{
    ag_str_t head = ag_str_make(c->buf, len), line, method, target, path;
    ag_str_split(head, '\n', &line);
    ag_str_t rest = ag_str_split(line, ' ', &method);
    ag_str_split(rest, ' ', &target);
    ag_str_split(target, '?', &path);
    demo_write_t *w = calloc(1, sizeof(*w));
    if (!w)
        return false;
    ag_buf_t body = AG_BUF_INIT(1u << 20);
    int code;
    demo_body(&body, path, head, &code);
    w->out = AG_BUF_INIT(2u << 20);
    ag_buf_printf(&w->out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                  code, code == 200 ? "OK" : "Not Found", body.n);
    if (!ag_str_eq_lit(method, "HEAD"))
        ag_buf_append(&w->out, body.p, body.n);
    ag_buf_dispose(&body);
    uv_buf_t b = uv_buf_init(w->out.p, (unsigned)w->out.n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_demo_written) != 0) {
        ag_buf_dispose(&w->out);
        free(w);
        return false;
    }
    return true;
}

static void on_demo_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    demo_conn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->buf + c->n, (unsigned)(sizeof c->buf - c->n));
}

static void on_demo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    demo_conn_t *c = s->data;
    (void)buf;
    if (nread < 0 || (nread == 0 && c->n == sizeof c->buf)) {
        uv_close((uv_handle_t *)s, on_demo_closed);
        return;
    }
    c->n += (size_t)nread;
    for (;;) { /* keep-alive: answer every complete request (bodies are not expected) */
        char *end = memmem(c->buf, c->n, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t len = (size_t)(end - c->buf) + 4;
        if (memmem(c->buf, len, "\r\nContent-Length: ", 18) ||
            memmem(c->buf, len, "\r\nTransfer-Encoding:", 20) || !demo_answer(c, len)) {
            uv_close((uv_handle_t *)s, on_demo_closed);
            return;
        }
        memmove(c->buf, c->buf + len, c->n - len);
        c->n -= len;
    }
}

static void on_demo_connection(uv_stream_t *server, int status)
{
    demo_conn_t *c = status == 0 ? calloc(1, sizeof(*c)) : NULL;
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_demo_alloc, on_demo_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_demo_closed);
}

static void demo_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h->data ? on_demo_closed : NULL);
}

static void on_demo_stop(uv_async_t *a)
{
    uv_walk(a->loop, demo_close_walk, NULL);
}

static void demo_thread(void *arg)
{
    demo_upstream_t *d = arg;
    uv_run(&d->loop, UV_RUN_DEFAULT);
}

static int demo_upstream_start(demo_upstream_t *d)
{
    struct sockaddr_in addr;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_loop_init(&d->loop) != 0)
        return -1;
    uv_tcp_init(&d->loop, &d->listener);
    d->listener.data = NULL;
    uv_async_init(&d->loop, &d->stop, on_demo_stop);
    if (uv_tcp_bind(&d->listener, (struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&d->listener, 128, on_demo_connection) != 0 ||
        uv_tcp_getsockname(&d->listener, (struct sockaddr *)&got, &len) != 0)
        return -1;
    d->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return uv_thread_create(&d->thread, demo_thread, d);
}

static void demo_upstream_stop(demo_upstream_t *d)
{
    uv_async_send(&d->stop);
    uv_thread_join(&d->thread);
    uv_loop_close(&d->loop);
}

static char *write_cert(const char *pem)
{
    char *dir = strdup("/tmp/authgate-demo-XXXXXX"), *path = NULL;
    if (!dir || !mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    size_t n = strlen(dir) + 16;
    path = malloc(n);
    if (path) {
        snprintf(path, n, "%s/demo.crt", dir);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(pem, f);
            fclose(f);
        }
    }
    free(dir);
    return path;
}

int ag_cmd_demo(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8443";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else {
            fprintf(stderr, "usage: authgate demo [--listen HOST:PORT]\n");
            return 2;
        }
    }
    char *cert = NULL, *key = NULL, *cert_path = NULL, url[64];
    demo_upstream_t up = {0};
    ag_config_t conf = {0};
    ag_server_t *srv = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    int rc = 1;
    signal(SIGPIPE, SIG_IGN);
    if (ag_tls_selfsigned("localhost", &cert, &key) != 0 || demo_upstream_start(&up) != 0) {
        fprintf(stderr, "authgate demo: cannot set up the demo\n");
        goto out;
    }
    ag_arena_init(&conf.arena, 4096, 0);
    ag_config_defaults(&conf);
    conf.workers = 2;
    conf.listen.address = listen;
    conf.admin.address = "127.0.0.1:0";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", up.port);
    conf.upstream.url = url;
    conf.upstream.host = "127.0.0.1";
    conf.upstream.port = up.port;
    conf.upstream.authority = ag_arena_strdup(&conf.arena, ag_str_cstr(url + 7));
    ag_server_opts_t opts = {.cert_pem = cert, .key_pem = key};
    if (ag_server_create(&conf, &opts, &srv, &err) != 0) {
        ag_buf_clear(&err); /* the default port is taken: let the kernel pick one */
        conf.listen.address = "127.0.0.1:0";
        if (ag_server_create(&conf, &opts, &srv, &err) != 0) {
            fprintf(stderr, "authgate demo: %s\n", err.p ? err.p : "cannot start");
            goto out;
        }
    }
    cert_path = write_cert(cert);
    const char *gw = ag_server_listen_address(srv), *admin = ag_server_admin_address(srv);
    const char *ca = cert_path ? cert_path : "<certificate>";
    printf("authgate demo\n"
           "  gateway (TLS, self-signed):  https://%s\n"
           "  its certificate:             %s\n"
           "  demo API server behind it:   %s\n"
           "  admin:                       http://%s/metrics /healthz /readyz\n\n"
           "try:\n"
           "  curl --cacert %s https://%s/version\n"
           "  curl --cacert %s https://%s/api/v1/namespaces/default/pods\n"
           "  curl --cacert %s -H 'Impersonate-User: admin' https://%s/whoami   "
           "# client impersonation is stripped\n"
           "  curl http://%s/metrics\n\n"
           "Ctrl-C stops it.\n",
           gw, ca, url, admin, ca, gw, ca, gw, ca, gw, admin);
    fflush(stdout);
    rc = ag_server_run(srv);
out:
    ag_server_destroy(srv);
    if (up.port)
        demo_upstream_stop(&up);
    ag_arena_dispose(&conf.arena);
    ag_buf_dispose(&err);
    free(cert);
    free(key);
    free(cert_path);
    return rc;
}
