/* Outbound HTTP(S) for the slow path: OIDC discovery, JWKS, and later Graph and OAuth
 * token requests. libcurl multi driven by the control loop ("multi-uv": curl tells us
 * which sockets to watch and when to wake, libuv watches them). This is the only file
 * pair that knows curl exists.
 *
 * Every fetch has a timeout and a response size cap; redirects are not followed and
 * environment proxies are ignored (the URLs come from configuration or from a
 * configured issuer's discovery document, never from a token). Workers never call
 * curl: they submit through ag_fetch_submit, the request runs on the control loop, and
 * the result is delivered back on the worker's own loop via its mailbox.
 *
 * Lifetime: an engine is process-lifetime state of the control loop. */
#ifndef AG_FETCH_H
#define AG_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "base/err.h"
#include "base/str.h"
#include "runtime/mailbox.h"

#define AG_FETCH_DEFAULT_TIMEOUT_MS 5000
#define AG_FETCH_DEFAULT_MAX_BYTES (1u << 20) /* a JWKS or discovery doc is a few KiB */
#define AG_FETCH_MAX_HEADERS 16

typedef struct ag_fetch ag_fetch_t;

typedef struct {
    const char *ca_file; /* PEM bundle for HTTPS; NULL = system default (borrowed) */
    long timeout_ms;     /* default per-request timeout; 0 = AG_FETCH_DEFAULT_TIMEOUT_MS */
    size_t max_bytes;    /* default response cap; 0 = AG_FETCH_DEFAULT_MAX_BYTES */
    const char *cert_file, *key_file; /* HTTPS client certificate (PEM), NULL = none (copied) */
    const char *connect_to; /* "NAME:PORT:HOST:PORT": connect to HOST for NAME, which stays
                               the TLS name (CURLOPT_CONNECT_TO); NULL = none (copied) */
} ag_fetch_opts_t;

typedef struct {
    const char *url;            /* http:// or https:// only (borrowed; copied at start) */
    const char *method;         /* NULL or "GET", or "POST" */
    ag_str_t body;              /* POST body (copied) */
    const char *const *headers; /* NULL-terminated "Name: value" lines (copied); <=16 */
    long timeout_ms;            /* 0 = engine default; whole transfer incl. connect */
    size_t max_bytes;           /* 0 = engine default; larger bodies fail AG_E_TOO_BIG */
    /* Streaming (a watch), ag_fetch_start only: each piece of the body goes to on_data as
     * it arrives, with the response's status, on the control loop; nothing is collected
     * (res.body is empty, max_bytes does not apply: the consumer bounds what it keeps).
     * Returning false aborts the transfer, which then completes with AG_E_CANCELED. */
    bool (*on_data)(void *arg, long status, ag_str_t data);
} ag_fetch_req_t;

typedef struct {
    ag_err err;              /* 0 when a complete HTTP response arrived, whatever its status;
                                AG_E_TIMEOUT, AG_E_TOO_BIG, AG_E_IO, AG_E_CANCELED otherwise */
    long status;             /* HTTP status, 0 when none */
    ag_str_t body;           /* borrowed: valid only during the callback */
    long long max_age_s;     /* Cache-Control max-age; 0 for no-store/no-cache; -1 when absent */
    long long retry_after_s; /* Retry-After in seconds from now (an HTTP-date converted,
                                a past date 0); -1 when absent or malformed */
    const char *etag;        /* the ETag header's value, "" when none or longer than 255
                                bytes (borrowed) */
    const char *detail;      /* curl's error text for logs, "" when none (borrowed) */
    double seconds;          /* total time */
} ag_fetch_res_t;

/* Runs on the loop that asked (the control loop for ag_fetch_start, the reply mailbox's
 * loop for ag_fetch_submit), exactly once per accepted request. */
typedef void (*ag_fetch_cb)(void *arg, const ag_fetch_res_t *res);

typedef struct {
    unsigned long long started, ok, failed, timeouts, too_big, canceled;
} ag_fetch_stats_t;

/* Creates an engine on <loop> (the control loop); call on that loop's thread. <opts>
 * may be NULL; ca_file is copied. */
ag_err ag_fetch_create(uv_loop_t *loop, const ag_fetch_opts_t *opts, ag_fetch_t **out);
/* Completes every pending request with AG_E_CANCELED (callbacks run now, on this
 * thread, for ag_fetch_start; submitted requests are answered through their mailbox),
 * then closes the handles; memory is released by the loop's close callbacks, so run the
 * loop once more before uv_loop_close. Must not be called from inside a fetch callback.
 * NULL is ignored. */
void ag_fetch_destroy(ag_fetch_t *f);

/* Control loop thread only: starts <req>. On a synchronous failure (bad URL scheme,
 * too many headers, out of memory) returns the error and never calls <cb>. */
ag_err ag_fetch_start(ag_fetch_t *f, const ag_fetch_req_t *req, ag_fetch_cb cb, void *arg);

/* Any thread: copies <req>, hands it to the control loop, and delivers the result by
 * running <cb> on <reply>'s loop. Returns AG_E_INVAL for a request ag_fetch_start would
 * refuse (checked here, synchronously) and AG_E_NOMEM; otherwise <cb> runs exactly
 * once. The engine and <reply> must outlive the request. */
ag_err ag_fetch_submit(ag_fetch_t *f, const ag_fetch_req_t *req, ag_mailbox_t *reply,
                       ag_fetch_cb cb, void *arg);

/* Counters (read on any thread; relaxed, for metrics). */
void ag_fetch_stats(const ag_fetch_t *f, ag_fetch_stats_t *out);

/* Parses a Cache-Control header value: max-age=N in seconds, 0 for no-store or
 * no-cache, -1 when neither appears or the value is malformed. Exposed for tests. */
long long ag_fetch_parse_max_age(ag_str_t value);

/* Parses a Retry-After header value (RFC 9110 10.2.3): delta-seconds, or an HTTP-date
 * turned into seconds after <now_s> (0 when it is past). -1 when malformed. Exposed for
 * tests. */
long long ag_fetch_parse_retry_after(const char *value, long long now_s);

/* The libcurl version authgate was compiled against (<running> false) or the library
 * loaded at run time ("7.88.1"). Static storage. */
const char *ag_fetch_curl_version(bool running);

#endif
