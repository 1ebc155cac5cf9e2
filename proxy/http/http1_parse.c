/* llhttp glue (http1_parse.h): callbacks only record slices or hand body bytes on; every
 * decision is taken after llhttp_execute returns. Never does I/O. */
#include "http/http1_parse.h"

#include <pthread.h>
#include <string.h>

#include "http/canon.h"

/* Process lifetime: filled once (pthread_once: workers accept concurrently), then only read. */
static llhttp_settings_t req_settings, resp_settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

/* Jumps from LF to LF with memchr (vectorised in libc): a bytewise loop over a head
 * carrying a 1 KB bearer token was ~1,500 instructions per request. */
size_t ag_h1_head_end(const char *p, size_t n)
{
    const char *q = p, *end = p + n;
    while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
        size_t i = (size_t)(q - p);
        if (i + 1 >= n)
            return 0;
        if (p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
        q++;
    }
    return 0;
}

int ag_h1_head_frame(const char *p, size_t n, size_t max_head, size_t max_url, size_t *head_len,
                     const char **reason)
{
    size_t end = ag_h1_head_end(p, n);
    *head_len = 0;
    if (end == 0 && !memchr(p, '\n', n) && n > max_url + 32) {
        *reason = "request URI too long";
        return 414;
    }
    if ((end == 0 && n >= max_head) || end > max_head) {
        *reason = "request header fields too large";
        return 431;
    }
    *head_len = end;
    return 0;
}

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

/* Header name bytes: a new line after a value (or the first), more of the same name
 * otherwise (one head, one buffer: llhttp's spans are adjacent). False past <max> lines. */
static bool field_bytes(ag_header_t *hdrs, int *n, int max, bool *in_value, const char *at,
                        size_t len)
{
    if (*in_value || *n == 0) {
        if (*n >= max)
            return false;
        hdrs[(*n)++] = (ag_header_t){{at, 0}, {NULL, 0}, 0};
        *in_value = false;
    }
    hdrs[*n - 1].name.n += len;
    return true;
}

static void value_bytes(ag_header_t *h, bool *in_value, const char *at, size_t len)
{
    if (!h->value.p)
        h->value.p = at;
    h->value.n += len;
    *in_value = true;
}

static int on_req_field(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    if (field_bytes(r->hdrs, &r->req->nheaders, r->max_headers, &r->in_value, at, n))
        return 0;
    r->limit_status = 431;
    return -1;
}

static int on_req_value(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_req_t *r = p->data;
    value_bytes(&r->hdrs[r->req->nheaders - 1], &r->in_value, at, n);
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

static void init_resp_settings(void);

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
    init_resp_settings();
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

int ag_h1_req_read_head(ag_h1_req_t *r, ag_str_t raw, const char **reason)
{
    if ((*reason = ag_canon_scan_head(raw)) != NULL)
        return 400;
    return ag_h1_req_head(r, raw, reason);
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

/* ---- the upstream's response ---------------------------------------------------------- */

static int on_resp_status(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_resp_t *r = p->data;
    if (!r->reason.p)
        r->reason.p = at;
    r->reason.n += n;
    return 0;
}

static int on_resp_field(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_resp_t *r = p->data; /* more lines than relayed: a 502 */
    return field_bytes(r->hdrs, &r->nhdrs, r->max_headers, &r->in_value, at, n) ? 0 : -1;
}

static int on_resp_value(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_resp_t *r = p->data;
    value_bytes(&r->hdrs[r->nhdrs - 1], &r->in_value, at, n);
    return 0;
}

static int on_resp_headers_complete(llhttp_t *p)
{
    ag_h1_resp_t *r = p->data;
    r->status = p->status_code;
    if (r->status == 101)
        return 2; /* no body; llhttp_execute returns HPE_PAUSED_UPGRADE */
    /* A response to HEAD and any 1xx, 204 or 304 ends at its head whatever its headers say
     * (RFC 9112 §6.3), as the client reads it: llhttp would read a Content-Length or chunked
     * body, relaying the bytes behind the head to a client that takes them for the next
     * response. */
    if (r->is_head || r->status < 200 || r->status == 204 || r->status == 304)
        return 1;
    return 0;
}

static int on_resp_body(llhttp_t *p, const char *at, size_t n)
{
    ag_h1_resp_t *r = p->data;
    if (n > 0)
        r->on_body(r->ud, at, n);
    return 0;
}

static int on_resp_complete(llhttp_t *p)
{
    ag_h1_resp_t *r = p->data;
    r->complete = true;
    return HPE_PAUSED;
}

static void init_resp_settings(void)
{
    llhttp_settings_init(&resp_settings);
    resp_settings.on_status = on_resp_status;
    resp_settings.on_header_field = on_resp_field;
    resp_settings.on_header_value = on_resp_value;
    resp_settings.on_headers_complete = on_resp_headers_complete;
    resp_settings.on_body = on_resp_body;
    resp_settings.on_message_complete = on_resp_complete;
}

void ag_h1_resp_init(ag_h1_resp_t *r, ag_header_t *hdrs, int max_headers, bool is_head,
                     ag_h1_body_fn on_body, void *ud)
{
    pthread_once(&settings_once, init_settings);
    *r = (ag_h1_resp_t){
        .hdrs = hdrs, .max_headers = max_headers, .is_head = is_head, .on_body = on_body, .ud = ud};
    llhttp_init(&r->parser, HTTP_RESPONSE, &resp_settings);
    r->parser.data = r;
}

int ag_h1_resp_feed(ag_h1_resp_t *r, const char *p, size_t n, size_t *used, const char **reason)
{
    llhttp_errno_t e = llhttp_execute(&r->parser, p, n);
    *used = n;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        *used = (size_t)(llhttp_get_error_pos(&r->parser) - p);
    } else if (e != HPE_OK) {
        *reason = llhttp_get_error_reason(&r->parser);
        return 502;
    }
    return 0;
}

bool ag_h1_resp_eof(ag_h1_resp_t *r)
{
    /* llhttp_finish passes on on_resp_complete's HPE_PAUSED when the EOF completes it */
    llhttp_errno_t e = llhttp_finish(&r->parser);
    return (e == HPE_OK || e == HPE_PAUSED) && r->complete;
}

bool ag_h1_resp_chunked(const ag_h1_resp_t *r)
{
    return (r->parser.flags & F_CHUNKED) != 0;
}

bool ag_h1_resp_keepalive(const ag_h1_resp_t *r)
{
    return llhttp_should_keep_alive(&r->parser) != 0;
}

const char *ag_h1_llhttp_version(void)
{
#define AG_STR2(x) #x
#define AG_STR1(x) AG_STR2(x)
    return AG_STR1(LLHTTP_VERSION_MAJOR) "." AG_STR1(LLHTTP_VERSION_MINOR) "." AG_STR1(
        LLHTTP_VERSION_PATCH);
#undef AG_STR1
#undef AG_STR2
}
