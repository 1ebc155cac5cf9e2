/* Serving certificate reload (main and webhooks listeners). The control thread stats the
 * certificate, key and client CA files of each TLS listener every AG_TLS_RELOAD_POLL_MS
 * and rebuilds on a change (a rewrite or a symlink swap, as cert-manager and Kubernetes
 * secret volumes do) or on SIGHUP. A new pair is loaded and checked (parses, key matches
 * the certificate) into one new context per worker, published to the workers
 * (ag_tls_ctx_publish): new handshakes use it, established connections keep the context
 * they were made with until they end. A broken pair keeps the previous one, logs why
 * (WARN) and counts authgate_tls_reloads_total{listener,result="error"}. */
#ifndef AG_TLS_RELOAD_H
#define AG_TLS_RELOAD_H

#include <uv.h>

#include "base/err.h"
#include "config.h"
#include "net/tls.h"
#include "runtime/worker.h"

#define AG_TLS_RELOAD_POLL_MS 2000 /* how soon a rotated certificate is served */

typedef struct ag_tls_reload ag_tls_reload_t;

/* The server context options of the main (<webhooks> false) or webhooks listener. */
void ag_tls_listener_opts(const ag_config_t *c, bool webhooks, ag_tls_opts_t *to);

/* Starts following the files of the configured TLS listeners (those with files: not the
 * demo's in-memory pair) for the <n> workers; registers the SIGHUP hook and metrics.
 * Control thread, before the workers start. *out is NULL when there is nothing to follow. */
ag_err ag_tls_reload_start(const ag_config_t *c, ag_worker_t *workers, int n,
                           ag_tls_shared_t *tickets, uv_loop_t *loop, ag_tls_reload_t **out);
/* Rebuilds the listeners whose files changed (all of them when <force>). */
void ag_tls_reload_now(ag_tls_reload_t *r, bool force);
/* After the control loop's handles are closed. */
void ag_tls_reload_destroy(ag_tls_reload_t *r);

#endif
