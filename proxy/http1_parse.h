/* Request parsing for proxy/http1.c over llhttp: the settings and callbacks that build an
 * ag_http_req_t from a complete head (slices into the caller's buffer) and that decode
 * the request body, with the head limits that are pure parsing (header count -> 431, URL
 * length -> 414). No libuv, no I/O, no decisions beyond the status of a refused head or
 * body: proxy/http1.c and the fuzz target tests/fuzz/fuzz_head.c drive the same code.
 * With http1.c the only file that includes llhttp.h. Lifetime: one request; the struct
 * is embedded in the connection (or the fuzzer's state), nothing here allocates. */
#ifndef AG_HTTP1_PARSE_H
#define AG_HTTP1_PARSE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "httpreq.h"

/* Receives decoded body bytes (chunk framing removed) as llhttp finds them. */
typedef void (*ag_h1_body_fn)(void *ud, const char *at, size_t n);

typedef struct {
    llhttp_t parser;
    ag_http_req_t *req; /* borrowed: filled by ag_h1_req_head */
    ag_header_t *hdrs;  /* borrowed: max_headers entries (trailers reuse them) */
    int max_headers;    /* limits.header_count: more is a 431 */
    size_t max_url;     /* limits.url_bytes: a longer target is a 414 */
    int limit_status;   /* set by a callback that refused the head */
    bool in_value;      /* last callback was a header value */
    bool complete;      /* the whole message (head and body) was read */
    bool keepalive;     /* llhttp_should_keep_alive after the head */
    bool at_size;       /* the next bytes are (still) the digits of a chunk-size line */
    size_t size_digits; /* digits of that line so far */
    bool last_chunk;    /* paused after the last chunk's line (trailers come next) */
    bool last_seen;     /* the last chunk was read */
    bool paused;        /* llhttp paused at a chunk boundary: resume before the next bytes */
    ag_h1_body_fn on_body;
    void *ud;
} ag_h1_req_t;

/* Starts a new request: <req> and <hdrs> are borrowed until the next init. */
void ag_h1_req_init(ag_h1_req_t *r, ag_http_req_t *req, ag_header_t *hdrs, int max_headers,
                    size_t max_url, ag_h1_body_fn on_body, void *ud);
/* Parses the complete head <raw> (up to and including its empty line) in one call, so
 * every slice in r->req points into <raw>. Returns 0, or the status to answer (400, 414,
 * 431) with <*reason> (static text). A message without a body is complete after it. */
int ag_h1_req_head(ag_h1_req_t *r, ag_str_t raw, const char **reason);
/* Feeds <n> body bytes at <p>: decoded bytes go to on_body; parsing stops at the end of
 * the message (r->complete), leaving pipelined bytes unread. <*used> is how many bytes
 * were consumed (less than <n> also when the last bytes must wait for more). Returns 0,
 * or 400 with <*reason> when the body's framing is malformed: llhttp in strict mode
 * (CRLF after each chunk's data and size line, no bare CR or LF, hex sizes below 2^64,
 * well-formed extensions), at most 16 hex digits per size, an empty trailer section.
 * After a 400 nothing more may be read from that connection. */
int ag_h1_req_body(ag_h1_req_t *r, const char *p, size_t n, size_t *used, const char **reason);

#endif
