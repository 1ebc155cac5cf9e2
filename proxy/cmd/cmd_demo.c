/* `authgate demo`: the whole product with no files given. It starts a built-in demo API
 * server on loopback (its own thread and loop; it answers discovery and lists pods and
 * secrets, as Tables for kubectl, showing the identity the gateway forwarded), generates a
 * self-signed certificate, a demo issuer key (demo_issuer.c) with tokens for a viewer and
 * an admin, an RBAC policy, a gateway configuration and a kubeconfig in a private temp
 * directory, prints what to run next and runs `authgate serve` on that configuration.
 * The files are removed on exit. The demo upstream trusts its only client, the gateway:
 * its HTTP parsing is deliberately minimal. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/json.h"
#include "cmd/cmd.h"
#include "cmd/demo_issuer.h"
#include "net/tls.h"

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

/* Calls <fn> for each header line of <head> (the request line skipped). */
static void each_header(ag_str_t head, void (*fn)(ag_str_t name, ag_str_t value, void *arg),
                        void *arg)
{
    ag_str_t rest = head, line;
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
        fn(name, value, arg);
    }
}

/* The credential the demo API server accepts: the gateway's (written to upstream.token).
 * File-static because the demo runs once per process. */
static char upstream_token[65];

typedef struct {
    ag_buf_t *o; /* NULL: only check the credential */
    bool first;
    int auth_headers;
    bool auth_ok;
} identity_walk_t;

static void on_identity_header(ag_str_t name, ag_str_t value, void *arg)
{
    identity_walk_t *w = arg;
    bool identity = ag_str_istarts_with(name, AG_STR("Impersonate-")) ||
                    ag_str_istarts_with(name, AG_STR("X-Forwarded-"));
    if (ag_str_ieq(name, AG_STR("Authorization"))) {
        w->auth_headers++;
        w->auth_ok = ag_str_starts_with(value, AG_STR("Bearer ")) &&
                     ag_str_eq_lit(ag_str_make(value.p + 7, value.n - 7), upstream_token);
        value = w->auth_ok ? AG_STR("(the gateway's credential)") : AG_STR("(something else)");
        identity = true;
    }
    if (!identity || !w->o)
        return;
    ag_buf_t line = AG_BUF_INIT(16384);
    ag_buf_printf(&line, "%.*s: %.*s", AG_STR_FMT(name), AG_STR_FMT(value));
    ag_buf_append_cstr(w->o, w->first ? "" : ",");
    ag_json_write_str(w->o, ag_buf_str(&line));
    ag_buf_dispose(&line);
    w->first = false;
}

/* True when <head> carries exactly one Authorization: the gateway's bearer token. */
static bool gateway_credential(ag_str_t head)
{
    identity_walk_t w = {NULL, true, 0, false};
    each_header(head, on_identity_header, &w);
    return w.auth_headers == 1 && w.auth_ok;
}

/* The identity headers the gateway forwarded, as a JSON array of "Name: value" strings. */
static void identity_json(ag_buf_t *o, ag_str_t head)
{
    identity_walk_t w = {o, true, 0, false};
    ag_buf_append_cstr(o, "[");
    each_header(head, on_identity_header, &w);
    ag_buf_append_cstr(o, "]");
}

typedef struct {
    ag_buf_t user, groups;
} summary_walk_t;

static void on_summary_header(ag_str_t name, ag_str_t value, void *arg)
{
    summary_walk_t *w = arg;
    if (ag_str_ieq(name, AG_STR("Impersonate-User"))) {
        ag_buf_append_str(&w->user, value);
    } else if (ag_str_ieq(name, AG_STR("Impersonate-Group"))) {
        ag_buf_append_cstr(&w->groups, w->groups.n ? ", " : "");
        ag_buf_append_str(&w->groups, value);
    }
}

/* "viewer@demo (groups: a, b)": who the gateway said the request is from, as a JSON string. */
static void identity_summary(ag_buf_t *o, ag_str_t head)
{
    summary_walk_t w = {AG_BUF_INIT(4096), AG_BUF_INIT(4096)};
    each_header(head, on_summary_header, &w);
    if (!w.user.n)
        ag_buf_append_cstr(&w.user, "(nobody: no Impersonate-User)");
    if (w.groups.n)
        ag_buf_printf(&w.user, " (groups: %s)", w.groups.p);
    ag_json_write_str(o, ag_buf_str(&w.user));
    ag_buf_dispose(&w.user);
    ag_buf_dispose(&w.groups);
}

/* A meta.k8s.io/v1 Table (what kubectl asks for) with <ncols> string columns; each row is
 * a name followed by its other cells' JSON in <rows> (name, cells-json pairs). */
static void table_json(ag_buf_t *b, const char *const *cols, int ncols, const char *ns,
                       const char *const *rows, int nrows)
{
    ag_buf_append_cstr(b, "{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":"
                          "{\"resourceVersion\":\"1\"},\"columnDefinitions\":[");
    for (int i = 0; i < ncols; i++)
        ag_buf_printf(b,
                      "%s{\"name\":\"%s\",\"type\":\"string\",\"format\":\"%s\",\"description\":"
                      "\"%s\",\"priority\":0}",
                      i ? "," : "", cols[i], i ? "" : "name", cols[i]);
    ag_buf_append_cstr(b, "],\"rows\":[");
    for (int i = 0; i < nrows; i++)
        ag_buf_printf(b,
                      "%s{\"cells\":[\"%s\",%s],\"object\":{\"kind\":\"PartialObjectMetadata\","
                      "\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{\"name\":\"%s\"%s%s%s}}}",
                      i ? "," : "", rows[2 * i], rows[2 * i + 1], rows[2 * i],
                      ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "");
    ag_buf_append_cstr(b, "]}");
}

static const char api_resources[] =
    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"v1\",\"resources\":["
    "{\"name\":\"namespaces\",\"singularName\":\"namespace\",\"namespaced\":false,\"kind\":"
    "\"Namespace\",\"verbs\":[\"get\",\"list\"],\"shortNames\":[\"ns\"]},"
    "{\"name\":\"pods\",\"singularName\":\"pod\",\"namespaced\":true,\"kind\":\"Pod\",\"verbs\":"
    "[\"get\",\"list\"],\"shortNames\":[\"po\"],\"categories\":[\"all\"]},"
    "{\"name\":\"secrets\",\"singularName\":\"secret\",\"namespaced\":true,\"kind\":\"Secret\","
    "\"verbs\":[\"get\",\"list\"]}]}";

/* Pods and secrets of "default" (other namespaces are empty), as a Table or a List. */
static void list_body(ag_buf_t *b, ag_str_t ns, ag_str_t res, bool table, ag_str_t head)
{
    static const char *const pod_cols[] = {"Name", "Status", "API server saw"};
    static const char *const secret_cols[] = {"Name", "Type", "Data"};
    bool pods = ag_str_eq_lit(res, "pods"), some = ag_str_eq_lit(ns, "default");
    ag_buf_t seen = AG_BUF_INIT(8192), cells = AG_BUF_INIT(8192);
    identity_summary(&seen, head);
    if (table) {
        ag_buf_printf(&cells, pods ? "\"Running\",%s" : "\"Opaque\",\"1\"", seen.p);
        const char *rows[] = {pods ? "demo-web" : "demo-db-password", cells.p};
        table_json(b, pods ? pod_cols : secret_cols, 3, "default", rows, some ? 1 : 0);
    } else if (pods) {
        ag_buf_printf(
            b,
            "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
            "\"1\"},\"items\":[%s],\"receivedIdentity\":",
            some ? "{\"metadata\":{\"name\":\"demo-web\",\"namespace\":\"default\"},"
                   "\"status\":{\"phase\":\"Running\"}}"
                 : "");
        identity_json(b, head);
        ag_buf_append_cstr(b, "}");
    } else {
        ag_buf_printf(
            b,
            "{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
            "\"1\"},\"items\":[%s]}",
            some ? "{\"metadata\":{\"name\":\"demo-db-password\",\"namespace\":\"default\"},"
                   "\"type\":\"Opaque\",\"data\":{\"password\":\"ZGVtbw==\"}}"
                 : "");
    }
    ag_buf_dispose(&seen);
    ag_buf_dispose(&cells);
}

static void demo_body(ag_buf_t *b, ag_str_t path, ag_str_t head, int *code)
{
    static const char *const ns_cols[] = {"Name", "Status"};
    static const char *const ns_rows[] = {"default", "\"Active\""};
    bool table = memmem(head.p, head.n, "as=Table", 8) != NULL;
    ag_str_t ns = AG_STR_NULL, res = AG_STR_NULL;
    *code = 200;
    if (!gateway_credential(head)) { /* as an API server would: only the gateway gets in */
        *code = 401;
        ag_buf_append_cstr(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                              "\"status\":\"Failure\",\"message\":\"Unauthorized\","
                              "\"reason\":\"Unauthorized\",\"code\":401}");
        return;
    }
    if (ag_str_starts_with(path, AG_STR("/api/v1/namespaces/"))) {
        ag_str_t rest = ag_str_split(ag_str_make(path.p + 19, path.n - 19), '/', &ns);
        res = rest;
    }
    if (ag_str_eq_lit(path, "/version")) {
        ag_buf_append_cstr(
            b, "{\"major\":\"1\",\"minor\":\"30\",\"gitVersion\":\"v1.30.0-authgate-demo\","
               "\"platform\":\"linux/amd64\"}");
    } else if (ag_str_eq_lit(path, "/api")) {
        ag_buf_append_cstr(b, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
                              "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
                              "\"serverAddress\":\"127.0.0.1:6443\"}]}");
    } else if (ag_str_eq_lit(path, "/apis")) {
        ag_buf_append_cstr(b, "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[]}");
    } else if (ag_str_eq_lit(path, "/api/v1")) {
        ag_buf_append_cstr(b, api_resources);
    } else if (ag_str_eq_lit(path, "/api/v1/namespaces") && table) {
        table_json(b, ns_cols, 2, NULL, ns_rows, 1);
    } else if (ns.n && (ag_str_eq_lit(res, "pods") || ag_str_eq_lit(res, "secrets"))) {
        list_body(b, ns, res, table, head);
    } else if (ag_str_eq_lit(path, "/whoami")) {
        identity_json(b, head);
    } else {
        *code = 404;
        ag_buf_append_cstr(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                              "\"status\":\"Failure\",\"message\":\"the demo API server has "
                              "/version, discovery, pods and secrets lists, and /whoami\","
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
    ag_buf_printf(&w->out,
                  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                  code,
                  code == 200   ? "OK"
                  : code == 401 ? "Unauthorized"
                                : "Not Found",
                  body.n);
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

/* ---- the demo's files: certificate, issuer keys, policy, configuration, kubeconfig ---- */

#define DEMO_ISSUER "https://authgate.demo"
#define DEMO_AUDIENCE "authgate-demo"
#define DEMO_TOKEN_TTL_S (24 * 3600)

typedef struct {
    char dir[64];
    char listen[64], admin[64];
    int upstream_port;
    ag_buf_t viewer_token, admin_token;
} demo_t;

static const char *const demo_files[] = {"tls.crt",      "tls.key",       "jwks.json",
                                         "policy.json",  "authgate.json", "kubeconfig",
                                         "viewer.token", "admin.token",   "upstream.token"};

/* <dir>/<name> into <path> (capacity 128). */
static const char *demo_path(const demo_t *d, const char *name, char *path)
{
    snprintf(path, 128, "%s/%s", d->dir, name);
    return path;
}

static ag_err write_file(const demo_t *d, const char *name, const char *text, size_t n)
{
    char path[128];
    FILE *f = fopen(demo_path(d, name, path), "w");
    if (!f)
        return AG_E_IO;
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : AG_E_IO;
}

/* Removes the demo's files (they hold tokens and a private key) and its directory. */
static void remove_files(const demo_t *d)
{
    char path[128];
    if (!d->dir[0])
        return;
    for (size_t i = 0; i < sizeof demo_files / sizeof demo_files[0]; i++)
        unlink(demo_path(d, demo_files[i], path));
    rmdir(d->dir);
}

/* "HOST:PORT" that can be listened on now: the one asked for, or for port 0 one the kernel
 * picks (a small race with other programs is acceptable for a demo; serve checks again).
 * AG_E_IN_USE when something already uses the port asked for: never another one, the
 * user would connect to whatever listens there. IPv4. */
static ag_err pick_address(const char *want, char *out, size_t cap)
{
    char host[48];
    const char *colon = strrchr(want, ':');
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (!colon || (size_t)(colon - want) >= sizeof host)
        return AG_E_INVAL;
    memcpy(host, want, (size_t)(colon - want));
    host[colon - want] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return AG_E_INVAL;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return AG_E_IO;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as serve binds */
    a.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        ag_err err = errno == EADDRINUSE ? AG_E_IN_USE : AG_E_IO;
        close(fd);
        return err;
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    snprintf(out, cap, "%s:%u", host, ntohs(a.sin_port));
    return 0;
}

static ag_err write_policy(const demo_t *d)
{
    static const char policy[] =
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
        "  {\"apiVersion\": \"rbac.authorization.k8s.io/v1\", \"kind\": \"RoleBinding\",\n"
        "   \"metadata\": {\"name\": \"demo-viewer\", \"namespace\": \"default\"},\n"
        "   \"roleRef\": {\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", "
        "\"name\": \"view\"},\n"
        "   \"subjects\": [{\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"User\", "
        "\"name\": \"viewer@demo\"}]},\n"
        "  {\"apiVersion\": \"rbac.authorization.k8s.io/v1\", \"kind\": \"ClusterRoleBinding\",\n"
        "   \"metadata\": {\"name\": \"demo-admin\"},\n"
        "   \"roleRef\": {\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", "
        "\"name\": \"cluster-admin\"},\n"
        "   \"subjects\": [{\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"User\", "
        "\"name\": \"admin@demo\"}]}\n"
        "]}\n";
    return write_file(d, "policy.json", policy, sizeof policy - 1);
}

static ag_err write_config(const demo_t *d)
{
    ag_buf_t c = AG_BUF_INIT(16384);
    ag_err err = ag_buf_printf(&c,
                               "{\n"
                               "  \"listen\": {\"address\": \"%s\"},\n"
                               "  \"tls\": {\"cert\": \"%s/tls.crt\", \"key\": \"%s/tls.key\"},\n"
                               "  \"upstream\": {\"url\": \"http://127.0.0.1:%d\", \"token_file\": "
                               "\"%s/upstream.token\"},\n"
                               "  \"admin\": {\"address\": \"%s\"},\n"
                               "  \"workers\": 2,\n"
                               "  \"authentication\": {\n"
                               "    \"issuers\": [{\"issuer\": \"" DEMO_ISSUER
                               "\", \"audiences\": [\"" DEMO_AUDIENCE "\"],\n"
                               "                 \"keys\": {\"jwks_file\": \"%s/jwks.json\"},\n"
                               "                 \"claims\": {\"username\": \"sub\", "
                               "\"username_prefix\": \"-\", \"groups\": \"groups\"}}]\n"
                               "  },\n"
                               "  \"authorization\": {\"mode\": \"rbac\", \"rbac\": {\"policies\": "
                               "[\"%s/policy.json\"]}}\n"
                               "}\n",
                               d->listen, d->dir, d->dir, d->upstream_port, d->dir, d->admin,
                               d->dir, d->dir);
    if (!err)
        err = write_file(d, "authgate.json", c.p, c.n);
    ag_buf_dispose(&c);
    return err;
}

static ag_err write_kubeconfig(const demo_t *d)
{
    ag_buf_t k = AG_BUF_INIT(65536);
    ag_err err = ag_buf_printf(
        &k,
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: authgate-demo\n  cluster:\n    server: https://%s\n"
        "    certificate-authority: %s/tls.crt\n"
        "users:\n- name: viewer@demo\n  user:\n    token: %s\n"
        "- name: admin@demo\n  user:\n    token: %s\n"
        "contexts:\n- name: viewer\n  context: {cluster: authgate-demo, user: viewer@demo, "
        "namespace: default}\n"
        "- name: admin\n  context: {cluster: authgate-demo, user: admin@demo, namespace: default}\n"
        "current-context: viewer\n",
        d->listen, d->dir, d->viewer_token.p, d->admin_token.p);
    if (!err)
        err = write_file(d, "kubeconfig", k.p, k.n);
    ag_buf_dispose(&k);
    return err;
}

/* Fills <out> (capacity <cap>, odd) with cap/2 random bytes in hex. */
static ag_err random_hex(char *out, size_t cap)
{
    unsigned char raw[32];
    size_t n = cap / 2 < sizeof raw ? cap / 2 : sizeof raw;
    if (getrandom(raw, n, 0) != (ssize_t)n)
        return AG_E_IO;
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Generates the issuer key, mints both users' tokens and writes every file. */
static ag_err write_files(demo_t *d)
{
    static const char *const viewer_groups[] = {"demo:viewers", NULL};
    static const char *const admin_groups[] = {"demo:admins", NULL};
    char *cert = NULL, *key = NULL;
    ag_demo_issuer_t *is = NULL;
    ag_buf_t jwks = AG_BUF_INIT(4096);
    long long now = (long long)time(NULL);
    ag_err err;
    umask(077); /* the directory holds tokens and private keys */
    if (!mkdtemp(d->dir))
        return AG_E_IO;
    if ((err = ag_tls_selfsigned("localhost", &cert, &key)) ||
        (err = write_file(d, "tls.crt", cert, strlen(cert))) ||
        (err = write_file(d, "tls.key", key, strlen(key))) || (err = ag_demo_issuer_create(&is)) ||
        (err = ag_demo_issuer_jwks(is, &jwks)) ||
        (err = write_file(d, "jwks.json", jwks.p, jwks.n)) ||
        (err = ag_demo_issuer_token(is, DEMO_ISSUER, DEMO_AUDIENCE, "viewer@demo", viewer_groups,
                                    now, DEMO_TOKEN_TTL_S, &d->viewer_token)) ||
        (err = ag_demo_issuer_token(is, DEMO_ISSUER, DEMO_AUDIENCE, "admin@demo", admin_groups, now,
                                    DEMO_TOKEN_TTL_S, &d->admin_token)) ||
        (err = write_file(d, "viewer.token", d->viewer_token.p, d->viewer_token.n)) ||
        (err = write_file(d, "admin.token", d->admin_token.p, d->admin_token.n)) ||
        (err = write_file(d, "upstream.token", upstream_token, strlen(upstream_token))) ||
        (err = write_policy(d)) || (err = write_config(d)) || (err = write_kubeconfig(d)))
        goto out;
out:
    ag_demo_issuer_destroy(is);
    ag_buf_dispose(&jwks);
    free(cert);
    free(key);
    return err;
}

static void print_banner(const demo_t *d)
{
    const char *dir = d->dir;
    printf("authgate demo: authentication and authorization in front of a tiny API server\n\n"
           "  gateway (TLS, self-signed):  https://%s\n"
           "  its certificate:             %s/tls.crt\n"
           "  demo API server behind it:   http://127.0.0.1:%d (sees only the gateway's credential "
           "and Impersonate-* headers)\n"
           "  admin:                       http://%s/metrics /healthz /readyz\n"
           "  kubeconfig:                  %s/kubeconfig (contexts: viewer, admin)\n"
           "  configuration:               %s/authgate.json (policy: %s/policy.json)\n"
           "  (the files are removed when the demo stops)\n\n"
           "users (tokens of the built-in demo issuer " DEMO_ISSUER ", valid 24 hours):\n"
           "  viewer@demo  view in namespace default  token: %s\n"
           "  admin@demo   cluster-admin              token: %s\n\n"
           "try:\n"
           "  export KUBECONFIG=%s/kubeconfig\n"
           "  kubectl get pods                       # viewer@demo: allowed\n"
           "  kubectl get secrets                    # viewer@demo: 403 Forbidden\n"
           "  kubectl --context admin get secrets    # admin@demo: allowed\n"
           "  curl --cacert %s/tls.crt -H \"Authorization: Bearer $(cat %s/viewer.token)\" "
           "https://%s/api/v1/namespaces/default/pods\n"
           "  curl http://%s/metrics\n\n"
           "Ctrl-C stops it.\n",
           d->listen, dir, d->upstream_port, d->admin, dir, dir, dir, d->viewer_token.p,
           d->admin_token.p, dir, dir, dir, d->listen, d->admin);
    fflush(stdout);
}

/* `authgate demo [--listen HOST:PORT]`: writes a complete configuration into a private
 * temporary directory and runs it with `authgate serve`, so the demo exercises exactly the
 * code a real deployment runs. */
int ag_cmd_demo(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8443";
    for (int i = 1; i < argc; i++) {
        bool help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
            continue;
        }
        if (!help)
            fprintf(stderr, "authgate demo: unknown option %s\n", argv[i]);
        fprintf(help ? stdout : stderr,
                "usage: authgate demo [--listen HOST:PORT]\n"
                "Runs a complete gateway on loopback (an issuer, an API server stand-in, RBAC)\n"
                "from a configuration written to a private temporary directory.\n"
                "\n"
                "  --listen HOST:PORT  the gateway's address (default 127.0.0.1:8443)\n"
                "  -h, --help          this help\n"
                "\n"
                "examples:\n"
                "  authgate demo\n"
                "  authgate demo --listen 127.0.0.1:9443\n");
        return help ? 0 : 2;
    }
    demo_t d = {.dir = "/tmp/authgate-demo-XXXXXX",
                .viewer_token = AG_BUF_INIT(16384),
                .admin_token = AG_BUF_INIT(16384)};
    demo_upstream_t up = {0};
    char config[128];
    int rc = 1;
    signal(SIGPIPE, SIG_IGN);
    ag_err e = pick_address(listen, d.listen, sizeof d.listen);
    if (e == AG_E_IN_USE) {
        fprintf(stderr, "authgate demo: address %s is already in use\n", listen);
        rc = 2;
        goto out;
    }
    if (e != 0 || pick_address("127.0.0.1:0", d.admin, sizeof d.admin) != 0) {
        fprintf(stderr, "authgate demo: cannot listen on %s (want a numeric IPv4 HOST:PORT)\n",
                listen);
        goto out;
    }
    if (random_hex(upstream_token, sizeof upstream_token) != 0 || demo_upstream_start(&up) != 0) {
        fprintf(stderr, "authgate demo: cannot start the demo API server\n");
        goto out;
    }
    d.upstream_port = up.port;
    if (write_files(&d) != 0) {
        fprintf(stderr, "authgate demo: cannot write the demo files under /tmp\n");
        goto out;
    }
    print_banner(&d);
    char *serve_argv[] = {"serve", "--config", (char *)demo_path(&d, "authgate.json", config),
                          NULL};
    rc = ag_cmd_serve(3, serve_argv);
out:
    if (up.port)
        demo_upstream_stop(&up);
    remove_files(&d);
    ag_buf_dispose(&d.viewer_token);
    ag_buf_dispose(&d.admin_token);
    return rc;
}
