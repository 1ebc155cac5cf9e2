/* Canonical-request rules (core/canon.c): every rejection in DESIGN.md "Canonical
 * requests", issue 2 and threat-model.md cases 2, 18, 42 has its own case. */
#include "canon.h"
#include "headers.h"
#include "headsplit.h"
#include "testlib.h"

static const ag_str_t self_names[] = {{"gw.example", 10}, {"gw.example:8443", 15}};
static const ag_canon_opts_t opts = {self_names, 2};

/* Scans, splits and checks <raw>; returns the canon result, -400 when the raw scan
 * refused it. <h> keeps the parsed request for further checks. */
static int run(const char *raw, hs_head_t *h, const char **reason)
{
    ag_str_t head = ag_str_cstr(raw);
    const char *why = ag_canon_scan_head(head);
    if (why) {
        *reason = why;
        return -400;
    }
    if (hs_split(head, h) != 0) {
        *reason = "split failed";
        return -1;
    }
    return ag_canon_check(&h->req, &opts, reason);
}

static int check_raw(const char *raw)
{
    hs_head_t h;
    const char *reason = NULL;
    return run(raw, &h, &reason);
}

static int check_target(const char *target)
{
    char raw[512];
    snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: gw.example\r\n\r\n", target);
    return check_raw(raw);
}

TEST(canon_accepts_plain_get)
{
    hs_head_t h;
    const char *reason = "x";
    CHECK_EQ(run("GET /api/v1/namespaces/default/pods?watch=true HTTP/1.1\r\n"
                 "Host: gw.example\r\nAccept: */*\r\n\r\n",
                 &h, &reason),
             0);
    CHECK(reason == NULL);
    CHECK_SLICE(h.req.path, "/api/v1/namespaces/default/pods");
    CHECK_SLICE(h.req.query, "watch=true");
    CHECK_SLICE(h.req.target, "/api/v1/namespaces/default/pods?watch=true");
    CHECK_EQ(h.req.content_length, -1);
    CHECK(!h.req.chunked);
    CHECK(!h.req.upgrade);
}

TEST(canon_rejects_encoded_slash)
{
    CHECK_EQ(check_target("/api/v1/namespaces/a%2Fb/pods"), 400);
    CHECK_EQ(check_target("/api/v1/namespaces/a%2fb/pods"), 400);
}
