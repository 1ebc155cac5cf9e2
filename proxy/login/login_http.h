/* Blocking HTTP for `authgate login`, a command-line program with nothing else to do
 * while it waits: one private libuv loop running the same fetch engine the gateway uses
 * (fetch.h: timeouts, response size cap, no redirects, no environment proxies), turned
 * one request at a time until the answer is in. Refuses URLs that ag_oauth_url_allowed
 * refuses (http: to anything but loopback) before any byte is sent.
 *
 * Lifetime: created and destroyed by the command; not thread-safe. */
#ifndef AG_LOGIN_HTTP_H
#define AG_LOGIN_HTTP_H

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_LOGIN_HTTP_TIMEOUT_MS 15000

typedef struct ag_login_http ag_login_http_t;

/* <ca_file>: PEM bundle for HTTPS (copied), NULL for the system's. */
ag_err ag_login_http_create(const char *ca_file, ag_login_http_t **out);
void ag_login_http_destroy(ag_login_http_t *h);

/* GET <url> (form.p == NULL) or POST <form> as application/x-www-form-urlencoded.
 * On 0, *status is the HTTP status and <body> holds the response (at most body->max
 * bytes, else AG_E_TOO_BIG). AG_E_INVAL for a refused URL; AG_E_TIMEOUT, AG_E_IO
 * otherwise, with a short reason in <detail> (static or the engine's text, copied). */
ag_err ag_login_http_do(ag_login_http_t *h, const char *url, ag_str_t form, long *status,
                        ag_buf_t *body, char *detail, size_t detail_n);

#endif
