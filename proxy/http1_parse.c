/* llhttp glue for requests (http1_parse.h): callbacks only record slices or hand body
 * bytes on; every decision is taken after llhttp_execute returns. Never does I/O. */
#include "http1_parse.h"

#include <pthread.h>
#include <string.h>

/* Process lifetime: filled once (pthread_once: workers accept concurrently), then only read. */
static llhttp_settings_t req_settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static int on_req_url(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    if (!r->req->target.p)
        r->req->target.p = at;
    r->req->target.n += n;
    if (r->req->target.n > r->max_url) {
        r->limit_status = 414;
        return -1;
    }
    return 0;
}

static int on_req_method(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    if (!r->req->method.p)
        r->req->method.p = at;
    r->req->method.n += n;
    return 0;
}

static int on_req_field(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    if (r->in_value || r->req->nheaders == 0) {
        if (r->req->nheaders >= r->max_headers) {
            r->limit_status = 431;
            return -1;
        }
        r->hdrs[r->req->nheaders++] = (ag_header_t){{at, 0}, {NULL, 0}, 0};
        r->in_value = false;
    }
    r->hdrs[r->req->nheaders - 1].name.n += n; /* one head, one buffer: spans are adjacent */
    return 0;
}

static int on_req_value(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    ag_header_t *h = &r->hdrs[r->req->nheaders - 1];
    if (!h->value.p)
        h->value.p = at;
    h->value.n += n;
    r->in_value = true;
    return 0;
}

static int on_req_headers_complete(llhttp_t *p)
{
    ag_h1_req_t *r = p->data;
    r->req->http_major = p->http_major;
    r->req->http_minor = p->http_minor;
    r->keepalive = llhttp_should_keep_alive(p);
    r->at_size = (p->flags & F_CHUNKED) != 0; /* the first chunk-size line comes next */
    return 0;
}

static int on_req_body(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    if (r->on_body)
        r->on_body(r->ud, at, n);
    return 0;
}

/* The last chunk: llhttp pauses after its line so ag_h1_req_body can require an empty
 * trailer section (see there). */
static int on_req_chunk_header(llhttp_t *p)
{
    ag_h1_req_t *r = p->data;
    if (p->content_length != 0)
        return 0;
    r->last_chunk = r->last_seen = true;
    return HPE_PAUSED;
}

/* After a chunk's data and CRLF: llhttp pauses at the start of the next size line so
 * ag_h1_req_body can count its digits (see there). The last chunk ends the message. */
static int on_req_chunk_complete(llhttp_t *p)
{
    ag_h1_req_t *r = p->data;
    if (r->last_seen)
        return 0;
    r->at_size = true;
    r->size_digits = 0;
    return HPE_PAUSED;
}

static int on_req_complete(llhttp_t *p)
{
    ag_h1_req_t *r = p->data;
    r->complete = true;
    return HPE_PAUSED; /* stop at the message boundary: pipelined bytes wait their turn */
}

static void init_settings(void)
{
    llhttp_settings_init(&req_settings);
    req_settings.on_url = on_req_url;
    req_settings.on_method = on_req_method;
    req_settings.on_header_field = on_req_field;
    req_settings.on_header_value = on_req_value;
    req_settings.on_headers_complete = on_req_headers_complete;
    req_settings.on_body = on_req_body;
    req_settings.on_chunk_header = on_req_chunk_header;
    req_settings.on_chunk_complete = on_req_chunk_complete;
    req_settings.on_message_complete = on_req_complete;
}

void ag_h1_req_init(ag_h1_req_t *r, ag_http_req_t *req, ag_header_t *hdrs, int max_headers,
                    size_t max_url, ag_h1_body_fn on_body, void *ud)
{
    pthread_once(&settings_once, init_settings);
    *r = (ag_h1_req_t){.req = req,
                       .hdrs = hdrs,
                       .max_headers = max_headers,
                       .max_url = max_url,
                       .keepalive = true,
                       .on_body = on_body,
                       .ud = ud};
    llhttp_init(&r->parser, HTTP_REQUEST, &req_settings);
    r->parser.data = r;
}

int ag_h1_req_head(ag_h1_req_t *r, ag_str_t raw, const char **reason)
{
    llhttp_errno_t e = llhttp_execute(&r->parser, raw.p, raw.n);
    if (e != HPE_OK && e != HPE_PAUSED && e != HPE_PAUSED_UPGRADE) {
        if (r->limit_status == 431)
            *reason = "too many request headers";
        else if (r->limit_status == 414)
            *reason = "request URI too long";
        else
            *reason = llhttp_get_error_reason(&r->parser);
        return r->limit_status ? r->limit_status : 400;
    }
    r->req->headers = r->hdrs;
    return 0;
}

/* After the last chunk only CRLF may follow: a request's trailer section must be empty.
 * No Kubernetes client sends request trailers and the gateway would drop them, while
 * llhttp reads some trailer forms other parsers refuse (obs-fold, an empty field name, a
 * bare LF ending the section: RFC 9112 §5.2, §2.2), so a trailer is a framing error.
 * Returns 0 when the section is empty, 1 when the CRLF is not all here yet, 400
 * otherwise. */
static int check_trailer_section(ag_h1_req_t *r, const char *p, size_t n, const char **reason)
{
    if (p[0] == '\r' && n < 2)
        return 1;
    if (p[0] != '\r' || p[1] != '\n') {
        *reason = "trailer fields or a bare LF after the last chunk";
        return 400;
    }
    r->last_chunk = false;
    return 0;
}

/* The hex digits of a chunk-size line, counted before llhttp reads them (they may span
 * reads). llhttp takes any number of leading zeros; more than 16 digits is refused, as
 * the API server's own reader (Go net/http) does, so no parser along the way can stop
 * early at a digit limit and read the rest of the line differently. */
static int count_size_digits(ag_h1_req_t *r, const char *p, size_t n, const char **reason)
{
    size_t k = 0;
    while (k < n && ag_hex_digit((unsigned char)p[k]) >= 0)
        k++;
    r->size_digits += k;
    if (r->size_digits > 16) {
        *reason = "chunk size with more than 16 hex digits";
        return 400;
    }
    if (k < n)
        r->at_size = false; /* the digits end here; llhttp reads the rest of the line */
    return 0;
}

int ag_h1_req_body(ag_h1_req_t *r, const char *p, size_t n, size_t *used, const char **reason)
{
    size_t off = 0;
    int rc = 0;
    /* Paused at the end of the message, the rest is the next request's. */
    while (off < n && !r->complete) {
        if (r->last_chunk)
            rc = check_trailer_section(r, p + off, n - off, reason);
        else if (r->at_size)
            rc = count_size_digits(r, p + off, n - off, reason);
        if (rc != 0)
            break;
        if (r->paused)
            llhttp_resume(&r->parser); /* at a chunk boundary, checked above */
        llhttp_errno_t e = llhttp_execute(&r->parser, p + off, n - off);
        r->paused = false;
        if (e == HPE_OK) {
            off = n;
        } else if (e == HPE_PAUSED) {
            off = (size_t)(llhttp_get_error_pos(&r->parser) - p);
            r->paused = !r->complete;
        } else {
            *reason = llhttp_get_error_reason(&r->parser);
            rc = 400;
            break;
        }
    }
    *used = off;
    return rc == 1 ? 0 : rc;
}
