/* Where the gateway's own requests to the upstream API server go (the TokenReview lookups
 * of sa_lookup.c, the RBAC list/watch of rbacsync.c): the base URL and, when the server's
 * certificate names server_name rather than the address dialled, the CURLOPT_CONNECT_TO
 * rule, from the upstream section. Never opens a connection itself. */
#ifndef AG_UPSTREAM_API_H
#define AG_UPSTREAM_API_H

#include "base/buf.h"
#include "base/err.h"
#include "config.h"

/* Appends "http(s)://authority" to <base> (no trailing slash); when the URL names
 * server_name instead of the host dialled, appends "NAME:PORT:HOST:PORT" to <via> and
 * returns true in *renamed. */
ag_err ag_upstream_api_target(const ag_config_upstream_t *up, ag_buf_t *base, ag_buf_t *via,
                              bool *renamed);

#endif
