/* Error bodies as the Kubernetes API server writes them: a v1 Status object, so kubectl
 * and client libraries print a familiar message for every answer the gateway gives
 * itself (401, 403, 400 for non-canonical requests, 502/504 for upstream trouble).
 * Pure formatting into a caller-owned buffer. */
#ifndef AG_STATUS_H
#define AG_STATUS_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

/* Optional "details" (metav1.StatusDetails); empty slices are left out. */
typedef struct {
    ag_str_t name;  /* e.g. the object name */
    ag_str_t group; /* API group, "" for core */
    ag_str_t kind;  /* resource, e.g. "pods" */
} ag_status_details_t;

/* Appends {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 * "message":<message>,"reason":<ag_status_reason(code)>,"code":<code>} to <out>.
 * <message> is borrowed and JSON-escaped. */
ag_err ag_status_write(ag_buf_t *out, int code, ag_str_t message);
/* Same with "details" between "reason" and "code" (as KAS orders them); NULL = none. */
ag_err ag_status_write_details(ag_buf_t *out, int code, ag_str_t message,
                               const ag_status_details_t *details);

/* metav1.StatusReason for <code>: 400 BadRequest, 401 Unauthorized, 403 Forbidden,
 * 404 NotFound, 405 MethodNotAllowed, 406 NotAcceptable, 408 Timeout, 409 Conflict,
 * 410 Gone, 413 RequestEntityTooLarge, 415 UnsupportedMediaType, 422 Invalid,
 * 429 TooManyRequests, 500 InternalError, 503 ServiceUnavailable, 504 Timeout.
 * Codes Kubernetes has no reason for: other 4xx (414, 417, 431, ...) "BadRequest",
 * other 5xx (502, 501, 505) "InternalError", as client-go reads an unknown 5xx
 * (apimachinery has no BadGateway reason). The gateway's own upstream answers follow
 * kube-apiserver's proxy: upstream unreachable 503 ServiceUnavailable, upstream too slow
 * 504 Timeout, a broken upstream answer 502 InternalError. Never NULL. */
const char *ag_status_reason(int code);

/* RFC 9110 reason phrase ("Forbidden"); "Unknown" for codes it does not know. */
const char *ag_http_reason_phrase(int code);

/* Appends a complete response: "HTTP/1.1 <code> <phrase>\r\n", Content-Type:
 * application/json, Content-Length, "Connection: close" when <close>, blank line, the
 * Status body. For the gateway's own answers (errors before or instead of forwarding). */
ag_err ag_status_response(ag_buf_t *out, int code, ag_str_t message, bool close);

#endif
