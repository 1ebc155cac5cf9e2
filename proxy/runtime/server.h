/* The gateway process: binds the listeners (errors surface before anything runs), starts
 * one worker thread per configured worker, and runs the control loop on the calling
 * thread: signals (SIGTERM/SIGINT drain, SIGHUP reload hooks), the admin listener and any
 * slow work other modules attach to it. Also the process-wide registries other modules
 * use: readiness conditions and reload hooks (register at start-up, before ag_server_run).
 * Lifetime: process. */
#ifndef AG_SERVER_H
#define AG_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "config.h"

typedef struct ag_server ag_server_t;

typedef struct {
    const char *cert_pem, *key_pem; /* TLS identity from memory (demo): listen with TLS
                                     * with this certificate even without a tls section */
} ag_server_opts_t;

/* Validates and binds everything <conf> (borrowed; must outlive the server) asks for.
 * On failure describes why in <errmsg>. <opts> may be NULL. */
ag_err ag_server_create(const ag_config_t *conf, const ag_server_opts_t *opts, ag_server_t **out,
                        ag_buf_t *errmsg);
/* The control loop (for modules that need a loop thread for slow work). */
uv_loop_t *ag_server_loop(ag_server_t *s);
/* The upstream credential source of <s> (borrowed, lives as long as <s>; NULL without a
 * token file or a server): for modules that call the API server as the gateway does
 * (proxy/authn/sa_lookup.c). Read it with ag_credential_enter/leave. */
struct ag_credential;
const struct ag_credential *ag_server_credential(const ag_server_t *s);
/* The request pipeline every worker runs (borrowed, must outlive the server; NULL: every
 * request refused 401). Start-up only, before ag_server_run. */
struct ag_pipeline;
void ag_server_set_pipeline(ag_server_t *s, const struct ag_pipeline *p);
/* Bound addresses (port 0 in the config resolved), "HOST:PORT". */
const char *ag_server_listen_address(const ag_server_t *s);
const char *ag_server_admin_address(const ag_server_t *s);
/* What `serve --check` adds to parsing: the TLS material loads (certificates, keys, CAs
 * for the listener and the upstream) and the upstream token file is usable. Binds and
 * resolves nothing. */
ag_err ag_server_check(const ag_config_t *conf, ag_buf_t *errmsg);
/* Runs until drained after SIGTERM/SIGINT (or ag_server_shutdown). Returns 0. */
int ag_server_run(ag_server_t *s);
/* Starts the drain from the control thread (as SIGTERM does). */
void ag_server_shutdown(ag_server_t *s);
void ag_server_destroy(ag_server_t *s);
bool ag_server_draining(void);

/* Readiness conditions: runtime/admin.h (ag_ready_register), next to /readyz. */

/* Hooks on SIGHUP and after the drain: runtime/hooks.h (ag_reload_register,
 * ag_stop_register), which the server runs. */

#endif
