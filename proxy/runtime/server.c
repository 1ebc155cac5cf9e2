/* Process lifecycle (server.h): listeners bound up front (one socket per address, shared
 * by the workers, no SO_REUSEPORT: acceptor.h), worker threads, the control loop with signals and
 * the admin listener, drain on SIGTERM/SIGINT, reload hooks on SIGHUP, stop hooks once drained
 * (both registries in hooks.h, readiness in admin.h). */
#include "runtime/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/credential.h"
#include "http/http1.h"
#include "net/preface.h"
#include "net/tls_reload.h"
#include "net/upstream.h"
#include "runtime/admin.h"
#include "runtime/hooks.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/snapshot.h"
#include "runtime/worker.h"

struct ag_server {
    const ag_config_t *conf;
    uv_loop_t control;
    ag_worker_t *workers;
    int nworkers, nstarted;
    uv_async_t worker_done;
    atomic_int ndone;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    ag_admin_t *admin;
    ag_tls_shared_t *tickets;
    ag_credential_t *cred;                  /* NULL: no upstream token file */
    ag_tls_reload_t *tls_reload;            /* NULL: no TLS listener with files */
    ag_accept_group_t main_group, wh_group; /* each worker's acceptor per listener */
    char listen_addr[80], admin_addr[80], webhooks_addr[80];
    int listen_fd, wh_fd; /* the bound sockets until every worker has its dup; -1 */
    ag_arena_t arena;
    bool shutting_down, stopped;
};

bool ag_server_draining(void)
{
    return ag_ready_draining();
}

/* ---- binding ----------------------------------------------------------------------- */

static ag_err resolve(const char *host, int port, bool passive, struct sockaddr_storage *out)
{
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE | AI_NUMERICHOST : AI_ADDRCONFIG;
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) {
        hints.ai_flags = passive ? AI_PASSIVE : 0;
        if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
            return AG_E_NOT_FOUND;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* One listening socket per address, without SO_REUSEPORT: binding fails when anything
 * already listens there, and nothing can bind the address after us, not even a process
 * of the same user with SO_REUSEPORT (which would silently get a share of the
 * connections and their tokens). SO_REUSEADDR only lets a restart bind over connections
 * of the previous run still in TIME_WAIT. The workers share the socket (acceptor.h). */
static int bind_one(const struct sockaddr_storage *addr, int backlog, int *err)
{
    int one = 1;
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len =
        addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, backlog) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* The start-up error for a listener that cannot bind <address>: AG_E_IN_USE (exit 2)
 * when something already listens there. */
static ag_err listen_failed(const char *address, int e, ag_buf_t *errmsg)
{
    if (e == EADDRINUSE) {
        ag_buf_printf(errmsg, "address %s is already in use", address);
        return AG_E_IN_USE;
    }
    ag_buf_printf(errmsg, "cannot listen on %s: %s", address, strerror(e));
    return AG_E_IO;
}

/* Binds the listening socket for <address> (config key <key>) into <fd>; the address
 * actually bound (port 0 resolved) goes to <printed>. */
static ag_err bind_listener(ag_server_t *s, const char *key, const char *address, int *fd,
                            char *printed, size_t plen, ag_buf_t *errmsg)
{
    const char *host;
    int port, e = 0;
    struct sockaddr_storage addr;
    if (ag_config_split_address(&s->arena, address, &host, &port) != 0 ||
        resolve(host, port, true, &addr) != 0) {
        ag_buf_printf(errmsg, "%s \"%s\": not a numeric address", key, address);
        return AG_E_CONFIG;
    }
    if ((*fd = bind_one(&addr, s->conf->listen.backlog, &e)) < 0)
        return listen_failed(address, e, errmsg);
    if (port == 0)
        port = sock_port(*fd);
    snprintf(printed, plen, addr.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
    return 0;
}

static void close_bound(ag_server_t *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wh_fd >= 0)
        close(s->wh_fd);
    s->listen_fd = s->wh_fd = -1;
}

/* Host names this gateway answers to, for absolute-form targets. */
static void self_authorities(ag_server_t *s, ag_worker_t *w)
{
    const char *port = strrchr(s->listen_addr, ':');
    ag_str_t *a = ag_arena_calloc(&s->arena, sizeof(ag_str_t) * 3);
    if (!a || !port)
        return;
    char tmp[96];
    a[0] = ag_arena_strdup(&s->arena, ag_str_cstr(s->listen_addr));
    snprintf(tmp, sizeof tmp, "localhost%s", port);
    a[1] = ag_arena_strdup(&s->arena, ag_str_cstr(tmp));
    w->self_authorities = a;
    w->nself = 2;
}

/* The upstream token: read now (a start-up error if unusable), then followed on the
 * control loop every AG_CREDENTIAL_POLL_MS and on SIGHUP. */
static void on_credential_reload(void *ud)
{
    ag_credential_reload(ud, true);
}

const ag_credential_t *ag_server_credential(const ag_server_t *s)
{
    return s ? s->cred : NULL;
}

void ag_server_set_pipeline(ag_server_t *s, const struct ag_pipeline *p)
{
    for (int i = 0; i < s->nworkers; i++)
        s->workers[i].pipeline = p;
}

static ag_err start_credential(ag_server_t *s, ag_buf_t *errmsg)
{
    const char *path = s->conf->upstream.token_file;
    ag_err err;
    if (!path)
        return 0;
    if ((err = ag_credential_create(path, &s->cred, errmsg)) != 0)
        return err;
    if ((err = ag_credential_start(s->cred, &s->control, AG_CREDENTIAL_POLL_MS)) != 0 ||
        (err = ag_reload_register(on_credential_reload, s->cred)) != 0)
        ag_buf_printf(errmsg, "upstream.token_file %s: cannot watch it", path);
    return err;
}

/* ---- workers ----------------------------------------------------------------------- */

static void on_worker_connection(void *ud, int fd)
{
    ag_http1_accept(ud, fd);
}

static void on_webhook_connection(void *ud, int fd)
{
    ag_http1_accept_webhook(ud, fd);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Stops accepting (drain, stop): both listeners. */
static void close_listeners(ag_worker_t *w)
{
    ag_acceptor_close(&w->acceptor);
    ag_acceptor_close(&w->wh_acceptor);
}

/* Closes what the worker owns. Handles other modules keep on the loop (a gate's timer, a
 * fetch in flight) finish on their own; the loop ends when the last referenced one has. */
static void worker_stop_now(ag_worker_t *w)
{
    ag_http1_stop(w);
    ag_upstream_close_all(w);
    close_listeners(w);
    close_if_open((uv_handle_t *)&w->up_sweep);
    close_if_open((uv_handle_t *)&w->conn_sweep);
    close_if_open((uv_handle_t *)&w->wakeup);
}

static void on_drain_poll(uv_timer_t *t)
{
    ag_worker_t *w = t->data;
    if (w->nconns == 0)
        worker_stop_now(w);
}

static void on_worker_wakeup(uv_async_t *a)
{
    ag_worker_t *w = a->data;
    if (atomic_load(&w->stop_flag)) {
        worker_stop_now(w);
        return;
    }
    if (atomic_load(&w->drain_flag) && !w->draining) {
        w->draining = true;
        close_listeners(w);
        ag_http1_drain(w);
        ag_upstream_close_idle(w);
        uv_timer_start(&w->up_sweep, on_drain_poll, 20, 20); /* the sweep timer is free now */
    }
}

/* Every thread that reads snapshots gets its own reader slot (snapshot.h). There is one
 * per worker and one for the control thread, so this fails only on a bug: say so and
 * stop rather than run with two threads on one slot. */
_Static_assert(AG_SNAP_THREADS >= 1 + AG_CONFIG_MAX_WORKERS, "a reader slot per thread");
static void snap_register_or_abort(void)
{
    if (ag_snap_thread_register(NULL) != 0) {
        ag_log(AG_LOG_ERROR, "no snapshot reader slot left for this thread (%d in use)",
               AG_SNAP_THREADS);
        abort();
    }
}

static void worker_main(void *arg)
{
    ag_worker_t *w = arg;
    ag_metrics_thread(w->id);
    snap_register_or_abort();
    uv_run(&w->loop, UV_RUN_DEFAULT);
    ag_snap_thread_unregister();
    ag_http1_free_pool(w);
    atomic_fetch_add(&w->server->ndone, 1);
    uv_async_send(&w->server->worker_done);
}

/* The webhook listener's TLS: its own client CA, a certificate always required, and no
 * session tickets, so a session resumed here was verified here (a ticket issued on the
 * main listener, where a client certificate may be optional, is not accepted). */
static ag_err webhooks_tls(const ag_config_t *c, ag_tls_ctx_t **out, ag_buf_t *errmsg)
{
    char why[512] = "";
    ag_tls_opts_t to;
    ag_tls_listener_opts(c, true, &to);
    if (ag_tls_ctx_create_server(&to, NULL, out, why, sizeof why) != 0) {
        ag_buf_printf(errmsg, "webhooks.tls: %s", why);
        return AG_E_CONFIG;
    }
    return 0;
}

/* Every worker accepts on the webhook port too (one more acceptor each) rather than one
 * worker alone: the API server calls the webhooks on its own request path, so a
 * busy or stalled worker must not hold them up, and the cost is one idle handle each. */
static ag_err webhooks_init(ag_server_t *s, ag_worker_t *w, ag_buf_t *errmsg)
{
    const ag_config_t *c = s->conf;
    ag_err err;
    if ((err = webhooks_tls(c, &w->tls_webhooks, errmsg)) != 0)
        return err; /* before listening: this listener never accepts a plain connection */
    if (ag_acceptor_start(&w->wh_acceptor, &w->loop, s->wh_fd, s->webhooks_addr,
                          on_webhook_connection, w) != 0) {
        ag_buf_printf(errmsg, "cannot listen on %s", c->webhooks.address);
        return AG_E_IO;
    }
    return 0;
}

static ag_err worker_init(ag_server_t *s, ag_worker_t *w, const ag_server_opts_t *o,
                          ag_buf_t *errmsg)
{
    const ag_config_t *c = s->conf;
    char why[512] = "";
    ag_err err;
    w->server = s;
    w->conf = c;
    ag_link_init(&w->conns);
    ag_link_init(&w->up_idle);
    ag_link_init(&w->up_busy);
    w->scratch = malloc(AG_WORKER_SCRATCH);
    if (!w->scratch || uv_loop_init(&w->loop) != 0)
        return AG_E_NOMEM;
    w->loop_ready = true;
    uv_async_init(&w->loop, &w->wakeup, on_worker_wakeup);
    w->wakeup.data = w;
    uv_timer_init(&w->loop, &w->up_sweep);
    w->up_sweep.data = w;
    uv_timer_init(&w->loop, &w->conn_sweep);
    w->conn_sweep.data = w;
    if ((err = ag_accept_load_create(&w->loop, &w->nconns, &w->load)) != 0)
        return err;
    if (ag_acceptor_start(&w->acceptor, &w->loop, s->listen_fd, s->listen_addr,
                          on_worker_connection, w) != 0) {
        ag_buf_printf(errmsg, "cannot listen on %s", c->listen.address);
        return AG_E_IO;
    }
    if (c->tls.enabled || (o && o->cert_pem)) {
        ag_tls_opts_t to;
        ag_tls_listener_opts(c, false, &to);
        to.cert_pem = o ? o->cert_pem : NULL;
        to.key_pem = o ? o->key_pem : NULL;
        if (ag_tls_ctx_create_server(&to, c->tls.session_tickets ? s->tickets : NULL,
                                     &w->tls_server, why, sizeof why) != 0) {
            ag_buf_printf(errmsg, "tls: %s", why);
            return AG_E_CONFIG;
        }
    }
    if (s->wh_fd >= 0 && (err = webhooks_init(s, w, errmsg)) != 0)
        return err;
    if (c->upstream.https) {
        ag_tls_opts_t to = {.ca_file = c->upstream.ca_file,
                            .cert_file = c->upstream.cert_file,
                            .key_file = c->upstream.key_file,
                            .record_layer = c->tls.record_layer};
        if (ag_tls_ctx_create_client(&to, &w->tls_client, why, sizeof why) != 0) {
            ag_buf_printf(errmsg, "upstream: %s", why);
            return AG_E_CONFIG;
        }
    }
    return 0;
}

/* Every worker's acceptor of a listener in one group (acceptor.h), so that a burst of
 * connections is spread over the workers. */
static ag_err balance_listeners(ag_server_t *s)
{
    ag_accept_group_t *g[2] = {&s->main_group, &s->wh_group};
    for (int k = 0; k < (s->wh_fd >= 0 ? 2 : 1); k++) {
        g[k]->members = ag_arena_calloc(&s->arena, sizeof(ag_acceptor_t *) * (size_t)s->nworkers);
        if (!g[k]->members)
            return AG_E_NOMEM;
        g[k]->n = s->nworkers;
        for (int i = 0; i < s->nworkers; i++) {
            ag_worker_t *w = &s->workers[i];
            g[k]->members[i] = k == 0 ? &w->acceptor : &w->wh_acceptor;
            ag_acceptor_balance(g[k]->members[i], g[k], w->load);
        }
    }
    return 0;
}

/* ---- control loop ------------------------------------------------------------------ */

static void on_all_done(ag_server_t *s)
{
    if (s->stopped)
        return;
    s->stopped = true;
    ag_admin_stop(s->admin);
    s->admin = NULL;
    ag_stop_run();
    uv_walk(&s->control, close_walk, NULL);
}

static void on_worker_done(uv_async_t *a)
{
    ag_server_t *s = a->data;
    if (atomic_load(&s->ndone) >= s->nworkers)
        on_all_done(s);
}

static void stop_workers(ag_server_t *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i].stop_flag, true);
        uv_async_send(&s->workers[i].wakeup);
    }
}

static void on_drain_timeout(uv_timer_t *t)
{
    ag_server_t *s = t->data;
    ag_log(AG_LOG_WARN, "drain timeout: closing the connections still open");
    stop_workers(s);
}

void ag_server_shutdown(ag_server_t *s)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    ag_ready_set_draining(); /* /readyz turns false now */
    ag_log(AG_LOG_INFO, "draining: no new connections, waiting up to %lldms",
           (long long)s->conf->timeouts.drain_ms);
    for (int i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i].drain_flag, true);
        uv_async_send(&s->workers[i].wakeup);
    }
    uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)s->conf->timeouts.drain_ms + 1, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    ag_server_t *s = h->data;
    if (signum == SIGHUP) {
        ag_log(AG_LOG_INFO, "SIGHUP: running %d reload hook(s)", ag_reload_count());
        ag_reload_run();
        return;
    }
    if (s->shutting_down) { /* asked twice (Ctrl-C again): do not wait for the drain */
        ag_log(AG_LOG_WARN, "second stop signal: closing every connection now");
        stop_workers(s);
        return;
    }
    ag_server_shutdown(s);
}

ag_err ag_server_create(const ag_config_t *conf, const ag_server_opts_t *opts, ag_server_t **out,
                        ag_buf_t *errmsg)
{
    ag_tls_malloc_tune(); /* before the worker threads and their malloc arenas exist */
    ag_server_t *s = calloc(1, sizeof(*s));
    ag_err err;
    if (!s)
        return AG_E_NOMEM;
    s->conf = conf;
    ag_arena_init(&s->arena, 4096, 0);
    s->nworkers = conf->workers;
    s->workers = calloc((size_t)s->nworkers, sizeof(ag_worker_t));
    if (!s->workers || uv_loop_init(&s->control) != 0) {
        free(s->workers);
        free(s);
        return AG_E_NOMEM;
    }
    s->listen_fd = s->wh_fd = -1;
    for (int i = 0; i < s->nworkers; i++)
        s->workers[i].id = i + 1;
    ag_metrics_init();
    ag_metrics_workers(s->nworkers);
    ag_acceptor_metrics_init();
    ag_preface_metrics_init();
    if ((err = bind_listener(s, "listen.address", conf->listen.address, &s->listen_fd,
                             s->listen_addr, sizeof s->listen_addr, errmsg)) != 0)
        goto fail;
    if (conf->webhooks.address &&
        (err = bind_listener(s, "webhooks.address", conf->webhooks.address, &s->wh_fd,
                             s->webhooks_addr, sizeof s->webhooks_addr, errmsg)) != 0)
        goto fail;
    if ((conf->tls.enabled || (opts && opts->cert_pem)) && conf->tls.session_tickets &&
        (err = ag_tls_shared_create((int)(conf->tls.ticket_lifetime_ms / 1000), &s->tickets)))
        goto fail;
    struct sockaddr_storage up;
    if (resolve(conf->upstream.host, conf->upstream.port, false, &up) != 0) {
        ag_buf_printf(errmsg, "upstream.url: cannot resolve \"%s\"", conf->upstream.host);
        err = AG_E_CONFIG;
        goto fail;
    }
    if ((err = start_credential(s, errmsg)) != 0)
        goto fail;
    for (int i = 0; i < s->nworkers; i++) {
        ag_worker_t *w = &s->workers[i];
        w->up_addr = up;
        w->credential = s->cred;
        self_authorities(s, w);
        if ((err = worker_init(s, w, opts, errmsg)) != 0)
            goto fail;
    }
    if (s->nworkers > 1 && (err = balance_listeners(s)) != 0)
        goto fail;
    if ((err = ag_tls_reload_start(conf, s->workers, s->nworkers, s->tickets, &s->control,
                                   &s->tls_reload)) != 0) {
        ag_buf_printf(errmsg, "tls: cannot watch the certificate files");
        goto fail;
    }
    close_bound(s); /* each worker has its dup: the socket closes with the last one */
    uv_async_init(&s->control, &s->worker_done, on_worker_done);
    s->worker_done.data = s;
    uv_timer_init(&s->control, &s->drain_timer);
    s->drain_timer.data = s;
    if (conf->admin.address && (err = ag_admin_start(&s->control, conf->admin.address, &s->admin,
                                                     s->admin_addr, sizeof s->admin_addr)) != 0) {
        if (err == AG_E_IN_USE)
            listen_failed(conf->admin.address, EADDRINUSE, errmsg);
        else
            ag_buf_printf(errmsg, "admin.address \"%s\": cannot listen", conf->admin.address);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    ag_server_destroy(s);
    return err;
}

ag_err ag_server_check(const ag_config_t *conf, ag_buf_t *errmsg)
{
    ag_server_t s = {.conf = conf};
    ag_tls_ctx_t *ctx = NULL;
    char why[512] = "";
    ag_credential_t *cred = NULL;
    ag_err err = 0;
    ag_arena_init(&s.arena, 1024, 0);
    if (conf->tls.enabled) {
        ag_tls_opts_t to;
        ag_tls_listener_opts(conf, false, &to);
        if (ag_tls_ctx_create_server(&to, NULL, &ctx, why, sizeof why) != 0) {
            ag_buf_printf(errmsg, "%s: tls: %s", conf->file, why);
            err = AG_E_CONFIG;
        }
        ag_tls_ctx_destroy(ctx);
        ctx = NULL;
    }
    if (!err && conf->webhooks.address) {
        ag_buf_t reason = AG_BUF_INIT(1024);
        if ((err = webhooks_tls(conf, &ctx, &reason)) != 0)
            ag_buf_printf(errmsg, "%s: %.*s", conf->file, AG_STR_FMT(ag_buf_str(&reason)));
        ag_buf_dispose(&reason);
        ag_tls_ctx_destroy(ctx);
        ctx = NULL;
    }
    if (!err && conf->upstream.https) {
        ag_tls_opts_t to = {.ca_file = conf->upstream.ca_file,
                            .cert_file = conf->upstream.cert_file,
                            .key_file = conf->upstream.key_file,
                            .record_layer = conf->tls.record_layer};
        if (ag_tls_ctx_create_client(&to, &ctx, why, sizeof why) != 0) {
            ag_buf_printf(errmsg, "%s: upstream: %s", conf->file, why);
            err = AG_E_CONFIG;
        }
        ag_tls_ctx_destroy(ctx);
    }
    if (!err && conf->upstream.token_file &&
        ag_credential_create(conf->upstream.token_file, &cred, errmsg) != 0)
        err = AG_E_CONFIG;
    ag_credential_destroy(cred);
    ag_arena_dispose(&s.arena);
    return err;
}

uv_loop_t *ag_server_loop(ag_server_t *s)
{
    return &s->control;
}

const char *ag_server_listen_address(const ag_server_t *s)
{
    return s->listen_addr;
}

const char *ag_server_admin_address(const ag_server_t *s)
{
    return s->admin_addr[0] ? s->admin_addr : NULL;
}

int ag_server_run(ag_server_t *s)
{
    uv_signal_init(&s->control, &s->sigterm);
    uv_signal_init(&s->control, &s->sigint);
    uv_signal_init(&s->control, &s->sighup);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sighup, on_signal, SIGHUP);
    ag_metrics_thread(0);
    snap_register_or_abort();
    ag_snap_attach(&s->control);
    for (int i = 0; i < s->nworkers; i++) {
        if (uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]) != 0) {
            ag_log(AG_LOG_ERROR, "cannot start worker thread %d", i + 1);
            close_listeners(&s->workers[i]); /* no connection waits for it */
            atomic_fetch_add(&s->ndone, 1);
            continue;
        }
        s->nstarted++;
    }
    ag_log(AG_LOG_INFO, "listening on %s (%s) with %d worker(s), upstream %s%s%s%s%s",
           s->listen_addr, s->workers[0].tls_server ? "TLS" : "plain HTTP", s->nworkers,
           s->conf->upstream.url, s->admin ? ", admin on " : "", s->admin ? s->admin_addr : "",
           s->webhooks_addr[0] ? ", webhooks on " : "", s->webhooks_addr);
    uv_run(&s->control, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].thread)
            uv_thread_join(&s->workers[i].thread);
    ag_snap_thread_unregister();
    ag_log(AG_LOG_INFO, "drained, exiting");
    return 0;
}

void ag_server_destroy(ag_server_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nworkers; i++) {
        ag_worker_t *w = &s->workers[i];
        if (w->loop_ready) { /* threads are joined: close whatever a failed start left */
            close_listeners(w);
            ag_accept_load_destroy(w->load); /* before the loop's last run: its handle */
            uv_walk(&w->loop, close_walk, NULL);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            ag_http1_free_pool(w);
            uv_loop_close(&w->loop);
        }
        ag_tls_ctx_destroy(w->tls_server);
        ag_tls_ctx_destroy(w->tls_webhooks);
        ag_tls_ctx_destroy(w->tls_client);
        free(w->scratch);
    }
    close_bound(s);
    uv_walk(&s->control, close_walk, NULL);
    uv_run(&s->control, UV_RUN_DEFAULT);
    uv_loop_close(&s->control);
    ag_credential_destroy(s->cred); /* its timer was closed with the loop's handles */
    ag_tls_reload_destroy(s->tls_reload);
    ag_tls_shared_destroy(s->tickets);
    ag_arena_dispose(&s->arena);
    free(s->workers);
    free(s);
}
