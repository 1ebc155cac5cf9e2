/* HTTP/1.1 parsing for the front end over llhttp, the only file that includes llhttp.h
 * (besides llhttp's own): where a head ends in a read buffer under the head limits
 * (-> 414, 431), the settings and callbacks that build an ag_http_req_t from a complete
 * head (slices into the caller's buffer, header count -> 431, URL length -> 414) and
 * decode the request body, and the upstream response's parser (head in one piece, body as
 * it arrives). No libuv, no I/O, no decisions beyond the status of a refused message:
 * proxy/http/http1.c and the fuzz target tests/fuzz/fuzz_head.c drive the same code.
 * Lifetime: one request; the structs are embedded in the connection (or the fuzzer's
 * state), nothing here allocates. */
#ifndef AG_HTTP1_PARSE_H
#define AG_HTTP1_PARSE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/httpreq.h"

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

/* The end of the head at the start of <p> (<n> bytes): the offset after its first empty
 * line, or 0 when it is not all there. Bare LF line ends count too, so
 * ag_canon_scan_head gets to refuse them. */
size_t ag_h1_head_end(const char *p, size_t n);
/* The same under the head limits: 0 with *head_len set (0: more bytes needed), or the
 * status to answer with <*reason> (static text): 414 for a request line longer than
 * <max_url> (+ slack for method and version), 431 for a head of <max_head> bytes or more. */
int ag_h1_head_frame(const char *p, size_t n, size_t max_head, size_t max_url, size_t *head_len,
                     const char **reason);

/* Starts a new request: <req> and <hdrs> are borrowed until the next init. */
void ag_h1_req_init(ag_h1_req_t *r, ag_http_req_t *req, ag_header_t *hdrs, int max_headers,
                    size_t max_url, ag_h1_body_fn on_body, void *ud);
/* Parses the complete head <raw> (up to and including its empty line) in one call, so
 * every slice in r->req points into <raw>. Returns 0, or the status to answer (400, 414,
 * 431) with <*reason> (static text). A message without a body is complete after it. */
int ag_h1_req_head(ag_h1_req_t *r, ag_str_t raw, const char **reason);
/* What the front end does with a framed head: the raw-byte scan (ag_canon_scan_head: 400)
 * first, then ag_h1_req_head. Returns 0 or the status with <*reason>. */
int ag_h1_req_read_head(ag_h1_req_t *r, ag_str_t raw, const char **reason);
/* Feeds <n> body bytes at <p>: decoded bytes go to on_body; parsing stops at the end of
 * the message (r->complete), leaving pipelined bytes unread. <*used> is how many bytes
 * were consumed (less than <n> also when the last bytes must wait for more). Returns 0,
 * or 400 with <*reason> when the body's framing is malformed: llhttp in strict mode
 * (CRLF after each chunk's data and size line, no bare CR or LF, hex sizes below 2^64,
 * well-formed extensions), at most 16 hex digits per size, an empty trailer section.
 * After a 400 nothing more may be read from that connection. */
int ag_h1_req_body(ag_h1_req_t *r, const char *p, size_t n, size_t *used, const char **reason);

/* ---- the upstream's response ---------------------------------------------------------- */

typedef struct {
    llhttp_t parser;
    int status;        /* 0 until the head was parsed */
    ag_str_t reason;   /* the status line's reason phrase (slice) */
    ag_header_t *hdrs; /* borrowed: max_headers entries; slices into the fed buffer */
    int max_headers;   /* more is a 502 */
    int nhdrs;
    bool is_head;  /* the request was HEAD: the response has no body */
    bool in_value; /* last callback was a header value */
    bool complete; /* the whole response was read */
    ag_h1_body_fn on_body;
    void *ud;
} ag_h1_resp_t;

/* Starts parsing a response to a request (<is_head>: a HEAD request); <hdrs> borrowed. */
void ag_h1_resp_init(ag_h1_resp_t *r, ag_header_t *hdrs, int max_headers, bool is_head,
                     ag_h1_body_fn on_body, void *ud);
/* Feeds <n> bytes: the head must come in one piece (the caller frames it with
 * ag_h1_head_end), body bytes go to on_body. Stops after a complete message or a 101's
 * head; <*used> is how many bytes were consumed. Returns 0, or 502 with <*reason> when
 * the response is malformed (llhttp strict) or has more than max_headers lines. A
 * response to HEAD and any 1xx, 204 or 304 ends at its head whatever its headers say. */
int ag_h1_resp_feed(ag_h1_resp_t *r, const char *p, size_t n, size_t *used, const char **reason);
/* The upstream closed the connection: true when that ended a close-delimited body. */
bool ag_h1_resp_eof(ag_h1_resp_t *r);
/* After the head: the body is chunked; the upstream connection may be kept alive. */
bool ag_h1_resp_chunked(const ag_h1_resp_t *r);
bool ag_h1_resp_keepalive(const ag_h1_resp_t *r);

/* The llhttp version compiled into authgate ("8.1.0"; built from Debian's C sources,
 * so it is also the one running). Static storage. */
const char *ag_h1_llhttp_version(void);

#endif
