/* The upstream credential source (credential.h). The control thread is the only writer:
 * it stats the token file on a timer (and on SIGHUP), reads a changed file, validates it
 * and publishes a new immutable snapshot into the source's domain (snapshot.h); workers
 * enter it in send_request while ag_forward_head copies its bytes into the upstream head.
 * A replaced snapshot is wiped and freed on the control thread once no worker holds it.
 * Never logs a token, only its length. */
#include "http/credential.h"

#include <errno.h>
#include <mbedtls/platform_util.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "runtime/fileid.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/snapshot.h"

#define WARN_EVERY_MS 30000 /* a broken file is polled every 2 s: say so twice a minute */
#define BEARER "Bearer "

typedef struct snap {
    ag_snap_t snap; /* first: published through snapshot.h */
    size_t n;
    char value[]; /* "Bearer <token>" */
} snap_t;

struct ag_credential {
    char *path;
    ag_snap_domain_t *dom;
    ag_fileid_t seen; /* the file last read (or last failed on) */
    uv_timer_t timer;
    bool timer_on;
    uint64_t last_warn_ms;
    int warns_suppressed;
};

static ag_metric_id m_reloads = -1, m_errors = -1;

/* A snapshot holds the gateway's own bearer token: wiped before its memory is reused. */
static void snap_free(ag_snap_t *snap)
{
    snap_t *s = (snap_t *)snap;
    mbedtls_platform_zeroize(s->value, s->n);
    free(s);
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

ag_err ag_credential_parse(ag_str_t bytes, ag_str_t *token)
{
    ag_str_t t = bytes;
    while (t.n && (t.p[t.n - 1] == '\n' || t.p[t.n - 1] == '\r' || t.p[t.n - 1] == ' '))
        t.n--;
    if (t.n == 0)
        return AG_E_PARSE; /* an empty credential would be sent as "Bearer " */
    if (t.n > AG_CREDENTIAL_MAX_BYTES)
        return AG_E_TOO_BIG;
    for (size_t i = 0; i < t.n; i++) /* header injection: CR/LF, NUL, spaces, non-ASCII */
        if ((unsigned char)t.p[i] <= ' ' || (unsigned char)t.p[i] >= 0x7f)
            return AG_E_PARSE;
    *token = t;
    return 0;
}

/* Reads <path> into a new snapshot (owned by the caller). */
static ag_err load_snap(const char *path, snap_t **out)
{
    ag_buf_t text = AG_BUF_INIT(AG_CREDENTIAL_MAX_BYTES + 64);
    ag_str_t token;
    snap_t *s = NULL;
    ag_err err;
    if ((err = ag_buf_read_file(&text, path)) != 0 ||
        (err = ag_credential_parse(ag_buf_str(&text), &token)) != 0)
        goto out;
    if (!(s = malloc(sizeof *s + sizeof BEARER + token.n))) {
        err = AG_E_NOMEM;
        goto out;
    }
    s->snap = (ag_snap_t){.free = snap_free};
    s->n = sizeof BEARER - 1 + token.n;
    memcpy(s->value, BEARER, sizeof BEARER - 1);
    memcpy(s->value + sizeof BEARER - 1, token.p, token.n);
    s->value[s->n] = '\0';
    *out = s;
out:
    if (text.p)
        mbedtls_platform_zeroize(text.p, text.cap);
    ag_buf_dispose(&text);
    return err;
}

ag_err ag_credential_create(const char *path, ag_credential_t **out, ag_buf_t *errmsg)
{
    ag_credential_t *c = calloc(1, sizeof *c);
    snap_t *s = NULL;
    ag_err err = AG_E_NOMEM;
    if (!c || !(c->path = strdup(path)))
        goto fail;
    c->seen = ag_fileid_stat(path);
    if ((err = load_snap(path, &s)) != 0 ||
        (err = ag_snap_domain_create("upstream credential", &c->dom)) != 0)
        goto fail;
    ag_snap_publish(c->dom, &s->snap);
    *out = c;
    return 0;
fail:
    ag_buf_printf(errmsg, "upstream.token_file %s: %s", path, ag_err_str(err));
    if (s)
        snap_free(&s->snap);
    if (c)
        free(c->path);
    free(c);
    return err;
}

static void warn_reload(ag_credential_t *c, ag_err err)
{
    uint64_t now = now_ms();
    ag_metrics_inc(m_errors);
    if (c->last_warn_ms && now - c->last_warn_ms < WARN_EVERY_MS) {
        c->warns_suppressed++;
        return;
    }
    if (c->warns_suppressed)
        ag_warn("upstream credential: cannot reload %s: %s; still using the previous token "
                "(%d more failure(s) since the last warning)",
                c->path, ag_err_str(err), c->warns_suppressed);
    else
        ag_warn("upstream credential: cannot reload %s: %s; still using the previous token",
                c->path, ag_err_str(err));
    c->last_warn_ms = now;
    c->warns_suppressed = 0;
}

ag_err ag_credential_reload(ag_credential_t *c, bool force)
{
    snap_t *s = NULL, *old = (snap_t *)ag_snap_current(c->dom);
    ag_fileid_t id = ag_fileid_stat(c->path);
    ag_err err = 0;
    if (!force && ag_fileid_same(&id, &c->seen))
        return 0;
    c->seen = id;
    if ((err = load_snap(c->path, &s)) != 0) {
        warn_reload(c, err);
        return err;
    }
    if (s->n == old->n && memcmp(s->value, old->value, s->n) == 0) {
        snap_free(&s->snap); /* touched or SIGHUP, same token: nothing to publish */
        return 0;
    }
    ag_snap_publish(c->dom, &s->snap); /* <old> is wiped once no worker holds it */
    ag_metrics_inc(m_reloads);
    ag_info("upstream credential: new token from %s (%zu bytes)", c->path,
            s->n - (sizeof BEARER - 1));
    return 0;
}

static void on_poll(uv_timer_t *t)
{
    ag_credential_reload(t->data, false);
}

ag_err ag_credential_start(ag_credential_t *c, uv_loop_t *loop, uint64_t interval_ms)
{
    if (m_reloads < 0) {
        m_reloads = ag_metrics_counter("authgate_upstream_credential_reloads_total", NULL,
                                       "Upstream token file changes taken into use.");
        m_errors = ag_metrics_counter("authgate_upstream_credential_reload_errors_total", NULL,
                                      "Upstream token file reloads that failed (old token kept).");
    }
    if (uv_timer_init(loop, &c->timer) != 0)
        return AG_E_IO;
    c->timer.data = c;
    c->timer_on = true;
    uv_unref((uv_handle_t *)&c->timer);
    return uv_timer_start(&c->timer, on_poll, interval_ms, interval_ms) == 0 ? 0 : AG_E_IO;
}

ag_str_t ag_credential_enter(const ag_credential_t *c)
{
    if (!c)
        return AG_STR_NULL;
    snap_t *s = (snap_t *)ag_snap_enter(c->dom);
    return ag_str_make(s->value, s->n); /* never NULL: create publishes the first one */
}

void ag_credential_leave(const ag_credential_t *c)
{
    if (c)
        ag_snap_leave(c->dom);
}

uint64_t ag_credential_generation(const ag_credential_t *c)
{
    return c ? ag_snap_generation(c->dom) : 0;
}

void ag_credential_destroy(ag_credential_t *c)
{
    if (!c)
        return;
    ag_snap_domain_destroy(c->dom);
    free(c->path);
    free(c);
}
