/* Upstream head rewriting (core/forward.c): what the API server receives. */
#include <stdio.h>

#include "canon.h"
#include "forward.h"
#include "headsplit.h"
#include "testlib.h"

static const ag_str_t groups[] = {{"devs", 4}, {"a, b", 4}};
static const ag_identity_t alice = {.username = {"alice", 5}, .uid = {"u-1", 3},
                                    .groups = groups, .ngroups = 2};

static ag_err fwd(const char *raw, const ag_identity_t *id, ag_buf_t *out)
{
    hs_head_t h;
    const char *reason;
    if (ag_canon_scan_head(ag_str_cstr(raw)) || hs_split(ag_str_cstr(raw), &h) ||
        ag_canon_check(&h.req, NULL, &reason) != 0)
        return -1;
    ag_forward_opts_t o = {.upstream_host = AG_STR("kas:6443"),
                           .credential = AG_STR("Bearer GW"),
                           .identity = id,
                           .client_ip = AG_STR("10.0.0.9"),
                           .client_tls = true};
    return ag_forward_head(&h.req, &o, out);
}

TEST(forward_writes_expected_head)
{
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(fwd("GET /api?x=1 HTTP/1.1\r\nHost: gw\r\nAccept: a\r\nAuthorization: Bearer c\r\n"
                 "Impersonate-User: root\r\n\r\n",
                 &alice, &out),
             0);
    CHECK_STREQ(out.p, "GET /api?x=1 HTTP/1.1\r\nAccept: a\r\nHost: kas:6443\r\n"
                       "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: https\r\n"
                       "Authorization: Bearer GW\r\nImpersonate-User: alice\r\n"
                       "Impersonate-Group: devs\r\nImpersonate-Group: a, b\r\n"
                       "Impersonate-Uid: u-1\r\n\r\n");
    ag_buf_dispose(&out);
}
