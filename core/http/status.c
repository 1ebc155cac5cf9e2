/* Kubernetes Status bodies (status.h). Field order follows what the API server emits
 * (kind, apiVersion, metadata, status, message, reason, details, code) so byte-level
 * comparisons in tests against real KAS answers stay simple. */
#include "http/status.h"

#include "base/json.h"

const char *ag_status_reason(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 408:
        return "Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        break;
    }
    return code >= 500 ? "InternalError" : "BadRequest";
}

const char *ag_http_reason_phrase(int code)
{
    switch (code) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        break;
    }
    return "Unknown";
}

static ag_err put_details(ag_buf_t *out, const ag_status_details_t *d)
{
    const char *sep = "";
    ag_err err;

    if ((err = ag_buf_append_cstr(out, ",\"details\":{")) != 0)
        return err;
    const struct {
        const char *key;
        ag_str_t val;
    } f[] = {{"name", d->name}, {"group", d->group}, {"kind", d->kind}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].val.n == 0)
            continue;
        if ((err = ag_buf_printf(out, "%s\"%s\":", sep, f[i].key)) ||
            (err = ag_json_write_str(out, f[i].val)))
            return err;
        sep = ",";
    }
    return ag_buf_append_cstr(out, "}");
}

ag_err ag_status_write_details(ag_buf_t *out, int code, ag_str_t message,
                               const ag_status_details_t *details)
{
    size_t base = out->n;
    ag_err err;

    if ((err = ag_buf_append_cstr(out, "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                                       "\"metadata\":{},\"status\":\"Failure\",\"message\":")) ||
        (err = ag_json_write_str(out, message)) ||
        (err = ag_buf_printf(out, ",\"reason\":\"%s\"", ag_status_reason(code))) ||
        (details && (err = put_details(out, details))) ||
        (err = ag_buf_printf(out, ",\"code\":%d}", code)))
        goto out;
out:
    if (err && out->p) {
        out->n = base;
        out->p[base] = '\0';
    }
    return err;
}

ag_err ag_status_write(ag_buf_t *out, int code, ag_str_t message)
{
    return ag_status_write_details(out, code, message, NULL);
}

ag_err ag_status_response(ag_buf_t *out, int code, ag_str_t message, bool close)
{
    ag_buf_t body = AG_BUF_INIT(out->max);
    size_t base = out->n;
    ag_err err;

    if ((err = ag_status_write(&body, code, message)) ||
        (err = ag_buf_printf(out,
                             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "Cache-Control: no-cache, private\r\nContent-Length: %zu\r\n%s\r\n",
                             code, ag_http_reason_phrase(code), body.n,
                             close ? "Connection: close\r\n" : "")) ||
        (err = ag_buf_append(out, body.p, body.n)))
        goto out;
out:
    if (err && out->p) {
        out->n = base;
        out->p[base] = '\0';
    }
    ag_buf_dispose(&body);
    return err;
}
