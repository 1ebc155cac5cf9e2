/* The upstream API server as a fetch target (upstream_api.h). */
#include "net/upstream_api.h"

#include <string.h>

ag_err ag_upstream_api_target(const ag_config_upstream_t *up, ag_buf_t *base, ag_buf_t *via,
                              bool *renamed)
{
    /* The API server's certificate names server_name, not necessarily the address we dial
     * (in-cluster: an IP); the URL carries the name and curl is told where to connect. */
    *renamed = up->https && up->server_name && strcmp(up->server_name, up->host) != 0;
    if (!*renamed)
        return ag_buf_printf(base, "%s://%.*s", up->https ? "https" : "http",
                             AG_STR_FMT(up->authority));
    bool v6 = strchr(up->host, ':') != NULL; /* an IPv6 host needs its brackets */
    ag_err err = ag_buf_printf(base, "https://%s:%d", up->server_name, up->port);
    return err ? err
               : ag_buf_printf(via, "%s:%d:%s%s%s:%d", up->server_name, up->port, v6 ? "[" : "",
                               up->host, v6 ? "]" : "", up->port);
}
