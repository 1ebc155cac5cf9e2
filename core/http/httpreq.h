/* One parsed HTTP/1.x request head, as the proxy hands it to core/: every field is a
 * slice borrowed from the connection's read buffer (lifetime: request), so nothing here
 * allocates. proxy/http/http1.c fills method/target/version/headers from llhttp callbacks;
 * ag_canon_check (canon.h) validates it and fills the derived fields; ag_forward_head
 * (forward.h) writes the upstream head from it. Plain data: no I/O, no ownership. */
#ifndef AG_HTTPREQ_H
#define AG_HTTPREQ_H

#include <stdbool.h>

#include "base/str.h"

typedef struct {
    ag_str_t name, value; /* value without surrounding OWS */
    unsigned flags;       /* AG_HDR_* from ag_header_classify (set by ag_canon_check) */
} ag_header_t;

typedef struct {
    ag_str_t method;      /* as received, e.g. "GET" */
    ag_str_t target;      /* request-target as received; after ag_canon_check, the
                           * origin-form target that is judged AND forwarded byte for byte */
    ag_str_t path, query; /* split of the (origin-form) target; query without '?' */
    int http_major, http_minor;
    ag_header_t *headers; /* borrowed array (request arena or connection storage) */
    int nheaders;
    bool upgrade;             /* client asked for Upgrade (set by ag_canon_check) */
    bool websocket;           /* Upgrade: websocket */
    bool chunked;             /* Transfer-Encoding: chunked (set by ag_canon_check) */
    long long content_length; /* -1 when absent; set by ag_canon_check */
    bool expect_continue;     /* Expect: 100-continue (set by ag_canon_check) */
    ag_str_t upgrade_proto;   /* the Upgrade header value when upgrade is true */
} ag_http_req_t;

#endif
