/* HTTP/1.1 front end of a worker: client connections from accept to close. Parses request
 * heads (llhttp, strict) under the configured limits, applies the canonical-request
 * checks, runs the gate, forwards to a pooled upstream connection and relays the response
 * (streamed, with backpressure), tunnels upgrades after a 101. The parsers it drives are
 * http1_parse.c's (the only file that includes llhttp.h). Lifetime of a
 * connection: accept to close; its struct is pooled per worker. */
#ifndef AG_HTTP1_H
#define AG_HTTP1_H

#include <stddef.h>

#include "authn/identity.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "http/routes.h"
#include "runtime/worker.h"

/* Serves <fd>, a connection accepted on the main listener (w->acceptor). A connection
 * that cannot be set up (no memory, over limits.max_connections, draining) is closed at
 * once and counted; the listener is never affected. */
void ag_http1_accept(ag_worker_t *w, int fd);
/* The same for the "webhooks" listener: a webhook-only connection, which is
 * served only the pipeline's routes marked AG_ROUTE_WEBHOOK (routes.h; 404 otherwise,
 * never forwarded) and whose caller is the CN of its verified client certificate (403
 * unless among conf->webhooks.callers, when given); the pipeline's steps are not run. */
void ag_http1_accept_webhook(ag_worker_t *w, int fd);
/* Test hook: the next <conn> accepts fail to get a connection struct and the next
 * <stream> ones fail to set up its stream, as allocation failures would. */
void ag_http1_inject_accept_faults(int conn, int stream);
/* Drain: closes idle keep-alive connections and makes the others close after their
 * current response. */
void ag_http1_drain(ag_worker_t *w);
/* Closes every client connection now. */
void ag_http1_stop(ag_worker_t *w);
/* Frees pooled connection structs (after the loop has closed every handle). */
void ag_http1_free_pool(ag_worker_t *w);

#endif
