/* The admin listener on its own address, served by the control loop: GET /healthz (the
 * process runs), /livez, /readyz (ag_ready_check and not draining; ?verbose lists each check
 * as kube-apiserver does), /metrics (Prometheus text).
 * Tiny on purpose: one request per connection, heads up to 8 KiB, GET and HEAD only. */
#ifndef AG_ADMIN_H
#define AG_ADMIN_H

#include <uv.h>

#include "base/err.h"

typedef struct ag_admin ag_admin_t;

/* Binds <address> ("HOST:PORT", port 0 allowed) on <loop>. *bound gets "HOST:PORT".
 * AG_E_IN_USE when something already listens there. */
ag_err ag_admin_start(uv_loop_t *loop, const char *address, ag_admin_t **out, char *bound,
                      size_t boundlen);
/* Stops listening and closes open admin connections; frees on the loop's next turn. */
void ag_admin_stop(ag_admin_t *a);

#endif
