/* The request parser the proxy drives (proxy/http/http1_parse.c): head limits, and chunked
 * bodies fed the way a read buffer delivers them (whole, or a few bytes more per read
 * with what was left unread kept in front): the same decoded bytes and message end
 * either way, and every framing error refused wherever the reads split it (issue 11,
 * defect 1). */
#include "http/http1_parse.h"
#include "testlib.h"

#define CHUNKED_HEAD "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
#define NEXT "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"

typedef struct {
    ag_h1_req_t rq;
    ag_http_req_t req;
    ag_header_t hdrs[8];
    char body[256];
    size_t nbody;
} px_t;

static void on_body(void *ud, const char *at, size_t n)
{
    px_t *x = ud;
    CHECK(n <= sizeof x->body - x->nbody);
    if (n <= sizeof x->body - x->nbody) {
        memcpy(x->body + x->nbody, at, n);
        x->nbody += n;
    }
}

/* Parses <head>; returns its status (0: accepted). */
static int start(px_t *x, const char *head, const char **reason)
{
    memset(x, 0, sizeof *x);
    x->req.content_length = -1;
    ag_h1_req_init(&x->rq, &x->req, x->hdrs, 8, 64, on_body, x);
    return ag_h1_req_head(&x->rq, ag_str_cstr(head), reason);
}

/* Feeds <b> as reads of <step> more bytes each (0: all at once); returns the status of
 * the last call and in <*end> the bytes consumed. */
static int feed(px_t *x, const char *b, size_t step, size_t *end)
{
    size_t n = strlen(b), off = 0, have = 0, used;
    const char *reason = NULL;
    int st = 0;
    while (st == 0 && !x->rq.complete && have < n) {
        have = step && have + step < n ? have + step : n;
        st = ag_h1_req_body(&x->rq, b + off, have - off, &used, &reason);
        off += used;
    }
    CHECK(st == 0 || reason != NULL);
    *end = off;
    return st;
}

/* Runs <body> with NEXT pipelined behind it through a fresh parser, in reads of <step>. */
static int run(px_t *x, const char *body, size_t step, size_t *end)
{
    const char *reason;
    char in[512];
    snprintf(in, sizeof in, "%s%s", body, NEXT);
    CHECK_EQ(start(x, CHUNKED_HEAD, &reason), 0);
    return feed(x, in, step, end);
}

static const size_t steps[] = {0, 1, 2, 3, 7};

/* <body> decodes to <want> and ends right before NEXT, however it is split. */
static void check_body(const char *body, const char *want)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        px_t x;
        size_t end;
        CHECK_EQ(run(&x, body, steps[i], &end), 0);
        CHECK(x.rq.complete);
        CHECK_EQ(end, strlen(body));
        CHECK_EQ(x.nbody, strlen(want));
        CHECK(memcmp(x.body, want, x.nbody) == 0);
    }
}

/* <body> is answered 400 before the message ends, however it is split. */
static void check_refused(const char *body)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        px_t x;
        size_t end;
        int st = run(&x, body, steps[i], &end);
        if (st != 400 || x.rq.complete)
            fprintf(stderr, "accepted in reads of %zu: %.*s\n", steps[i], 12, body);
        CHECK_EQ(st, 400);
        CHECK(!x.rq.complete);
    }
}

TEST(http1_parse_chunked_body_decodes_and_ends_the_same_for_any_split)
{
    check_body("5\r\nhello\r\n0\r\n\r\n", "hello");
    check_body("5;a=b\r\nhello\r\n6;c=\"d e\"\r\n world\r\n0;x\r\n\r\n", "hello world");
    check_body("0000000000000005\r\nhello\r\n0000000000000000\r\n\r\n", "hello");
    check_body("A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", "0123456789!");
    check_body("0\r\n\r\n", "");
}

TEST(http1_parse_refuses_data_not_followed_by_crlf)
{
    check_refused("5\r\nhelloXX0\r\n\r\n"); /* accepted before issue 11: llhttp not strict */
    check_refused("5\r\nhello\n\n0\r\n\r\n");
    check_refused("5\r\nhello\rX0\r\n\r\n");
    check_refused("5\r\nhello0\r\n\r\n");
    check_refused("3\r\nhello\r\n0\r\n\r\n");
}

TEST(http1_parse_refuses_malformed_chunk_size_lines)
{
    check_refused("5\nhello\r\n0\r\n\r\n");
    check_refused("5\rXhello\r\n0\r\n\r\n");
    check_refused("10000000000000000\r\nx\r\n0\r\n\r\n");     /* overflow */
    check_refused("00000000000000005\r\nhello\r\n0\r\n\r\n"); /* 17 digits */
    check_refused("5\r\nhello\r\n00000000000000000\r\n\r\n");
    check_refused("0x5\r\nhello\r\n0\r\n\r\n");
    check_refused("-5\r\nhello\r\n0\r\n\r\n");
    check_refused("5 \r\nhello\r\n0\r\n\r\n");
    check_refused("\r\nhello\r\n0\r\n\r\n");
    check_refused("5;a=b\nhello\r\n0\r\n\r\n");
    check_refused("5;a\rb\r\nhello\r\n0\r\n\r\n");
    check_refused("5;a=\"b\rc\"\r\nhello\r\n0\r\n\r\n");
    check_refused("5; a=b\r\nhello\r\n0\r\n\r\n");
}

TEST(http1_parse_refuses_anything_but_crlf_after_the_last_chunk)
{
    check_refused("0\r\nX-A: b\r\n\r\n");
    check_refused("0\r\nX-A: b\r\n c\r\n\r\n");
    check_refused("0\r\n\n");
    check_refused("0\r\n\rX");
    check_refused("5\r\nhello\r\n0\r\n: b\r\n\r\n");
}

TEST(http1_parse_head_limits)
{
    px_t x;
    const char *reason = NULL;
    CHECK_EQ(start(&x,
                   "GET /a HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n"
                   "G: 7\r\nH: 8\r\nI: 9\r\n\r\n",
                   &reason),
             431);
    CHECK_STREQ(reason, "too many request headers");
    char url[128];
    snprintf(url, sizeof url, "GET /%070d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CHECK_EQ(start(&x, url, &reason), 414);
    CHECK_EQ(start(&x, "GET /a HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n", &reason), 0);
    CHECK(x.rq.complete && x.rq.keepalive);
    CHECK_EQ(x.req.nheaders, 2);
    CHECK_SLICE(x.req.headers[1].name, "X-A");
    CHECK_SLICE(x.req.headers[1].value, "b");
    CHECK_SLICE(x.req.target, "/a");
}

/* ---- head framing (ag_h1_head_frame), as the front end reads a head ---------------- */

static int frame(const char *in, size_t max_head, size_t max_url, size_t *len)
{
    const char *reason = NULL;
    int st = ag_h1_head_frame(in, strlen(in), max_head, max_url, len, &reason);
    CHECK(st == 0 || reason != NULL);
    return st;
}

TEST(http1_parse_head_frame_waits_ends_and_refuses_by_the_limits)
{
    size_t len = 99;
    CHECK_EQ(frame("GET / HTTP/1.1\r\nHost: x\r\n", 1024, 64, &len), 0);
    CHECK_EQ(len, 0); /* incomplete: wait */
    CHECK_EQ(frame("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 1024, 64, &len), 0);
    CHECK_EQ(len, 27);
    CHECK_EQ(frame("GET / HTTP/1.1\nHost: x\n\nrest", 1024, 64, &len), 0);
    CHECK_EQ(len, 24); /* bare LF ends a head too: the raw scan refuses it next */
    char line[200];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    CHECK_EQ(frame(line, 1024, 64, &len), 414); /* no line end past url + 32 */
    CHECK_EQ(frame(line, 1024, 200, &len), 0);  /* within the URL limit: wait */
    CHECK_EQ(frame(line, 150, 200, &len), 431); /* incomplete and at the head limit */
    CHECK_EQ(frame("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 20, 64, &len), 431); /* ends past it */
    const char *reason = NULL;
    px_t x;
    memset(&x, 0, sizeof x);
    ag_h1_req_init(&x.rq, &x.req, x.hdrs, 8, 64, on_body, &x);
    CHECK_EQ(ag_h1_req_read_head(&x.rq, ag_str_cstr("GET / HTTP/1.1\nHost: x\n\n"), &reason), 400);
}

/* ---- the upstream's response (ag_h1_resp_*) ----------------------------------------- */

static int resp(ag_h1_resp_t *r, ag_header_t *h, int max, bool is_head, const char *in,
                size_t *used, px_t *x)
{
    const char *reason = NULL;
    memset(x, 0, sizeof *x);
    ag_h1_resp_init(r, h, max, is_head, on_body, x);
    int st = ag_h1_resp_feed(r, in, strlen(in), used, &reason);
    CHECK(st == 0 || reason != NULL);
    return st;
}

TEST(http1_parse_response_bodies_ends_and_refusals)
{
    ag_h1_resp_t r;
    ag_header_t h[4];
    px_t x;
    size_t used = 0;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1";
    CHECK_EQ(resp(&r, h, 4, false, ok, &used, &x), 0);
    CHECK(r.complete && r.status == 200 && r.nhdrs == 1 && used == strlen(ok) - 8);
    CHECK(x.nbody == 3 && memcmp(x.body, "abc", 3) == 0 && ag_h1_resp_keepalive(&r));
    CHECK_SLICE(r.reason, "OK");
    /* HEAD, 204 and 1xx end at the head whatever the length says */
    CHECK_EQ(resp(&r, h, 4, true, ok, &used, &x), 0);
    CHECK(r.complete && x.nbody == 0 && used == strlen(ok) - 11);
    CHECK_EQ(
        resp(&r, h, 4, false, "HTTP/1.1 100 Continue\r\nContent-Length: 3\r\n\r\nabc", &used, &x),
        0);
    CHECK(r.complete && r.status == 100 && x.nbody == 0);
    const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n";
    CHECK_EQ(resp(&r, h, 4, false, ch, &used, &x), 0);
    CHECK(!r.complete && ag_h1_resp_chunked(&r) && x.nbody == 3);
    CHECK_EQ(resp(&r, h, 4, false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw",
                  &used, &x),
             0);
    CHECK(r.status == 101 &&
          used == strlen("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"));
    /* a close-delimited body ends at EOF; a cut length-delimited one does not */
    CHECK_EQ(resp(&r, h, 4, false, "HTTP/1.1 200 OK\r\n\r\nzz", &used, &x), 0);
    CHECK(!r.complete && ag_h1_resp_eof(&r) && r.complete && !ag_h1_resp_keepalive(&r));
    CHECK_EQ(resp(&r, h, 4, false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nzz", &used, &x), 0);
    CHECK(!ag_h1_resp_eof(&r));
    /* malformed, or more header lines than relayed: 502 */
    CHECK_EQ(resp(&r, h, 4, false, "HTTP/1.1 200 OK\r\nA b\r\n\r\n", &used, &x), 502);
    CHECK_EQ(resp(&r, h, 2, false, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &used, &x),
             502);
}
