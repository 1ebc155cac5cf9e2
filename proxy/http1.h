/* HTTP/1.1 front end of a worker: client connections from accept to close. Parses request
 * heads (llhttp, strict) under the configured limits, applies the canonical-request
 * checks, runs the gate, forwards to a pooled upstream connection and relays the response
 * (streamed, with backpressure), tunnels upgrades after a 101. The only file that includes
 * llhttp.h (requests and responses alike). Lifetime of a connection: accept to close; its
 * struct is pooled per worker. */
#ifndef AG_HTTP1_H
#define AG_HTTP1_H

#include "worker.h"

/* Accepts one pending connection on w->listener. */
void ag_http1_accept(ag_worker_t *w);
/* Drain: closes idle keep-alive connections and makes the others close after their
 * current response. */
void ag_http1_drain(ag_worker_t *w);
/* Closes every client connection now. */
void ag_http1_stop(ag_worker_t *w);
/* Frees pooled connection structs (after the loop has closed every handle). */
void ag_http1_free_pool(ag_worker_t *w);

#endif
