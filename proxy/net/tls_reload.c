/* Serving certificate reload (tls_reload.h). Control thread only; each listener is a
 * snapshot domain (snapshot.h) the workers follow through their *_next field (tls.h:
 * ag_tls_ctx_publish / ag_tls_ctx_take). */
#include "net/tls_reload.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/fileid.h"
#include "runtime/hooks.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

enum { F_CERT, F_KEY, F_CA, NFILES };

typedef struct {
    const char *name; /* "main", "webhooks" */
    bool webhooks;
    ag_tls_opts_t opts;
    ag_tls_shared_t *tickets;
    const char *files[NFILES];
    ag_fileid_t seen[NFILES]; /* as stat'ed before the last load (or failed load) */
    ag_snap_domain_t *dom;    /* the reloaded per-worker contexts */
    ag_metric_id m_ok, m_error;
} listener_t;

struct ag_tls_reload {
    ag_worker_t *workers;
    int n, nl;
    listener_t l[2];
    uv_timer_t timer;
};

void ag_tls_listener_opts(const ag_config_t *c, bool webhooks, ag_tls_opts_t *to)
{
    const ag_config_tls_t *t = webhooks ? &c->webhooks.tls : &c->tls;
    *to = (ag_tls_opts_t){.cert_file = t->cert_file,
                          .key_file = t->key_file,
                          .ca_file = t->client_ca_file,
                          .client_auth = webhooks ? AG_CLIENT_AUTH_REQUIRE : t->client_auth,
                          .record_layer = c->tls.record_layer};
}

/* Stats every file now; true when one differs from what was last loaded. */
static bool changed(listener_t *l, ag_fileid_t now[NFILES])
{
    bool diff = false;
    for (int i = 0; i < NFILES; i++) {
        now[i] = ag_fileid_stat(l->files[i]);
        diff |= !ag_fileid_same(&now[i], &l->seen[i]);
    }
    return diff;
}

/* One new context per worker, or none (the previous ones stay) and <why> says why. */
static bool build_all(ag_tls_reload_t *r, listener_t *l, ag_tls_ctx_t **ctx, char *why,
                      size_t whylen)
{
    for (int i = 0; i < r->n; i++) {
        if (ag_tls_ctx_create_server(&l->opts, l->tickets, &ctx[i], why, whylen) != 0) {
            while (i-- > 0)
                ag_tls_ctx_destroy(ctx[i]);
            return false;
        }
    }
    return true;
}

static void reload_listener(ag_tls_reload_t *r, listener_t *l, bool force)
{
    ag_fileid_t now[NFILES];
    char why[512] = "out of memory", serial[96] = "";
    ag_tls_ctx_t **ctx = calloc((size_t)r->n, sizeof *ctx);
    bool ok = false;
    if (!changed(l, now) && !force)
        goto out;
    memcpy(l->seen, now, sizeof l->seen); /* a failure is reported once per file state */
    if (ctx && build_all(r, l, ctx, why, sizeof why)) {
        ag_tls_ctx_serial(ctx[0], serial, sizeof serial);
        if (!(ok = ag_tls_ctx_publish(l->dom, ctx, r->n) == 0))
            snprintf(why, sizeof why, "out of memory");
    }
    if (!ok) {
        ag_metrics_inc(l->m_error);
        ag_warn("tls: %s listener: cannot reload the certificate: %s; still serving the "
                "previous one",
                l->name, why);
        goto out;
    }
    ag_metrics_inc(l->m_ok);
    ag_info("tls: %s listener: certificate %s (serial %s) reloaded; new connections use it",
            l->name, l->files[F_CERT], serial);
out:
    free(ctx);
}

void ag_tls_reload_now(ag_tls_reload_t *r, bool force)
{
    for (int i = 0; r && i < r->nl; i++)
        reload_listener(r, &r->l[i], force);
}

static void on_poll(uv_timer_t *t)
{
    ag_tls_reload_now(t->data, false);
}

static void on_sighup(void *ud)
{
    ag_tls_reload_now(ud, true);
}

static ag_err add_listener(ag_tls_reload_t *r, const ag_config_t *c, bool webhooks,
                           ag_tls_shared_t *tickets)
{
    static const char *h = "Serving certificate reloads by listener and result (an error "
                           "keeps the previous certificate).";
    listener_t *l = &r->l[r->nl++];
    l->name = webhooks ? "webhooks" : "main";
    l->webhooks = webhooks;
    l->tickets = tickets;
    ag_tls_listener_opts(c, webhooks, &l->opts);
    l->files[F_CERT] = l->opts.cert_file;
    l->files[F_KEY] = l->opts.key_file;
    l->files[F_CA] = l->opts.client_auth != AG_CLIENT_AUTH_NONE ? l->opts.ca_file : NULL;
    for (int i = 0; i < NFILES; i++)
        l->seen[i] = ag_fileid_stat(l->files[i]);
    l->m_ok = ag_metrics_counter(
        "authgate_tls_reloads_total",
        webhooks ? "listener=\"webhooks\",result=\"ok\"" : "listener=\"main\",result=\"ok\"", h);
    l->m_error = ag_metrics_counter("authgate_tls_reloads_total",
                                    webhooks ? "listener=\"webhooks\",result=\"error\""
                                             : "listener=\"main\",result=\"error\"",
                                    h);
    ag_err err =
        ag_snap_domain_create(webhooks ? "webhooks certificate" : "main certificate", &l->dom);
    for (int i = 0; i < r->n && !err; i++) {
        ag_worker_t *w = &r->workers[i];
        *(webhooks ? &w->tls_webhooks_next : &w->tls_server_next) =
            (ag_tls_follow_t){.dom = l->dom, .index = i};
    }
    return err;
}

ag_err ag_tls_reload_start(const ag_config_t *c, ag_worker_t *workers, int n,
                           ag_tls_shared_t *tickets, uv_loop_t *loop, ag_tls_reload_t **out)
{
    ag_tls_reload_t *r;
    *out = NULL;
    if (!(c->tls.enabled && c->tls.cert_file) && !c->webhooks.address)
        return 0;
    if (!(r = calloc(1, sizeof *r)))
        return AG_E_NOMEM;
    r->workers = workers;
    r->n = n;
    *out = r;
    ag_err err = 0;
    if (c->tls.enabled && c->tls.cert_file)
        err = add_listener(r, c, false, c->tls.session_tickets ? tickets : NULL);
    if (c->webhooks.address && !err)
        err = add_listener(r, c, true, NULL); /* no tickets there: server.c webhooks_tls */
    if (err)
        return err;
    if (uv_timer_init(loop, &r->timer) != 0)
        return AG_E_IO;
    r->timer.data = r;
    uv_unref((uv_handle_t *)&r->timer);
    if (uv_timer_start(&r->timer, on_poll, AG_TLS_RELOAD_POLL_MS, AG_TLS_RELOAD_POLL_MS) != 0)
        return AG_E_IO;
    return ag_reload_register(on_sighup, r);
}

void ag_tls_reload_destroy(ag_tls_reload_t *r)
{
    for (int i = 0; r && i < r->nl; i++)
        ag_snap_domain_destroy(r->l[i].dom); /* the workers have stopped */
    free(r);
}
