/* The admin listener on its own address, served by the control loop: GET /healthz (the
 * process runs), /livez, /readyz (ag_ready_check and not draining; ?verbose lists each check
 * as kube-apiserver does), /metrics (Prometheus text).
 * Tiny on purpose: one request per connection, heads up to 8 KiB, GET and HEAD only. */
#ifndef AG_ADMIN_H
#define AG_ADMIN_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"

/* Readiness: /readyz answers 200 only when every registered condition holds and the
 * process is not draining. <fn> runs on the control thread; <name> is borrowed. */
typedef bool (*ag_ready_fn)(void *ud);
ag_err ag_ready_register(const char *name, ag_ready_fn fn, void *ud);
/* A source of several checks (one per issuer): <fn> calls ag_ready_item once for each. */
typedef struct ag_ready_report ag_ready_report_t;
typedef void (*ag_ready_list_fn)(void *ud, ag_ready_report_t *r);
ag_err ag_ready_register_list(ag_ready_list_fn fn, void *ud);
/* One check: "[+]<name> ok" or "[-]<name> failed: <reason>"; an <optional> failure is
 * listed but leaves the gateway ready. */
void ag_ready_item(ag_ready_report_t *r, const char *name, bool ok, bool optional,
                   const char *reason);
/* Every check as kube-apiserver lists them, one "[+]name ok" / "[-]name failed: reason"
 * line each, into <out>; true when ready. */
bool ag_ready_check(ag_buf_t *out);

/* The process started draining (SIGTERM/SIGINT, ag_server_shutdown): /readyz turns 503
 * ("[-]shutdown failed: draining") from now on. */
void ag_ready_set_draining(void);
bool ag_ready_draining(void);

typedef struct ag_admin ag_admin_t;

/* Binds <address> ("HOST:PORT", port 0 allowed) on <loop>. *bound gets "HOST:PORT".
 * AG_E_IN_USE when something already listens there. */
ag_err ag_admin_start(uv_loop_t *loop, const char *address, ag_admin_t **out, char *bound,
                      size_t boundlen);
/* Stops listening and closes open admin connections; frees on the loop's next turn. */
void ag_admin_stop(ag_admin_t *a);

#endif
