/* A tiny HTTP/1.x head splitter for tests and fuzz targets only: it turns a head that
 * ag_canon_scan_head accepted into an ag_http_req_t, the way proxy/http/http1.c does from
 * llhttp callbacks. Never used by the gateway itself (one parser in production). */
#ifndef AG_TEST_HEADSPLIT_H
#define AG_TEST_HEADSPLIT_H

#include "http/httpreq.h"

#define HS_MAX_HEADERS 64

typedef struct {
    ag_http_req_t req;
    ag_header_t hdrs[HS_MAX_HEADERS];
} hs_head_t;

static ag_str_t hs_trim(ag_str_t s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* 0 on success, -1 when the head does not split (caller must have scanned it first). */
static int hs_split(ag_str_t head, hs_head_t *h)
{
    ag_str_t rest = head, line, ver;
    memset(h, 0, sizeof *h);
    h->req.headers = h->hdrs;
    h->req.content_length = -1;
    while (rest.n >= 2 && rest.p[0] == '\r' && rest.p[1] == '\n')
        rest = ag_str_sub(rest, 2, rest.n);
    rest = ag_str_split(rest, '\n', &line);
    if (!rest.p || line.n < 1)
        return -1;
    line.n--; /* CR */
    ag_str_t t = ag_str_split(line, ' ', &h->req.method);
    ver = ag_str_split(t, ' ', &h->req.target);
    if (ver.n != 8 || memcmp(ver.p, "HTTP/", 5) != 0)
        return -1;
    h->req.http_major = ver.p[5] - '0';
    h->req.http_minor = ver.p[7] - '0';
    for (;;) {
        rest = ag_str_split(rest, '\n', &line);
        if (line.n < 1)
            return -1;
        line.n--;
        if (line.n == 0)
            return 0;
        if (h->req.nheaders == HS_MAX_HEADERS)
            return -1;
        ag_header_t *hd = &h->hdrs[h->req.nheaders++];
        ag_str_t v = ag_str_split(line, ':', &hd->name);
        if (!v.p)
            return -1;
        hd->value = hs_trim(v);
        if (!rest.p)
            return -1;
    }
}

#endif
