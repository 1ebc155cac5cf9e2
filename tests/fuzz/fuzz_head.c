/* libFuzzer target for the request-head safety layer: raw bytes -> ag_canon_scan_head ->
 * a test splitter (the role llhttp plays in the proxy) -> ag_canon_check ->
 * ag_forward_head. Asserts the invariants the gateway's security rests on:
 *  - a head canon accepted always forwards (no 500 for a clean request);
 *  - the forwarded head scans clean and passes canon again with the same target, path,
 *    framing and upgrade decision (nothing two parsers could read differently);
 *  - every Authorization / Impersonate-* line in the output is one the gateway wrote,
 *    byte for byte; no client Impersonate-, X-Remote-, Forwarded or WebSocket bearer
 *    token survives (threat-model cases 1-3, 8-10, 42). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "canon.h"
#include "forward.h"
#include "headers.h"
#include "status.h"
#include "tests/unit/headsplit.h"

#define FAIL(msg)                                                                      \
    do {                                                                               \
        fprintf(stderr, "invariant broken: %s\n", msg);                                \
        abort();                                                                       \
    } while (0)

static const ag_str_t self_names[] = {{"gw", 2}, {"gw:8443", 7}};
static const ag_canon_opts_t copts = {self_names, 2};

static const ag_str_t groups[] = {{"gw-group-1", 10}, {"gw, group 2", 11}};
static const ag_str_t xvals[] = {{"gw-extra-value", 14}};
static const ag_extra_t extras[] = {{{"gw.example/Key", 14}, xvals, 1}};
static const ag_identity_t ident = {.username = {"gw-user", 7}, .uid = {"gw-uid", 6},
                                    .groups = groups, .ngroups = 2,
                                    .extra = extras, .nextra = 1};

/* Lines the gateway writes for <ident>: the only identity lines allowed out. */
static const char *const ours[] = {
    "Authorization: Bearer GW-CREDENTIAL", "Impersonate-User: gw-user",
    "Impersonate-Group: gw-group-1",       "Impersonate-Group: gw, group 2",
    "Impersonate-Uid: gw-uid",             "Impersonate-Extra-gw.example%2Fkey: gw-extra-value"};

static bool is_ours(ag_str_t line)
{
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (ag_str_eq(line, ag_str_cstr(ours[i])))
            return true;
    return false;
}

static void check_output_lines(ag_str_t head)
{
    ag_str_t rest = head, line;
    int identity_lines = 0;
    rest = ag_str_split(rest, '\n', &line); /* request line */
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        if (line.n <= 1)
            break;
        line.n--; /* CR */
        ag_str_t name;
        ag_str_split(line, ':', &name);
        unsigned f = ag_header_classify(name);
        if (f & (AG_HDR_AUTHORIZATION | AG_HDR_IMPERSONATE)) {
            if (!is_ours(line))
                FAIL("client identity header forwarded");
            identity_lines++;
        } else if (f & AG_HDR_STRIP) {
            if (!ag_str_istarts_with(line, AG_STR("X-Forwarded-For: 192.0.2.1")) &&
                !ag_str_istarts_with(line, AG_STR("X-Forwarded-Proto: https")))
                FAIL("spoofable header forwarded");
        }
        if ((f & AG_HDR_WS_PROTOCOL) &&
            ag_str_istarts_with(ag_str_sub(line, name.n + 2, line.n), AG_STR(AG_WS_BEARER_PREFIX)))
            FAIL("websocket bearer token forwarded");
    }
    if (identity_lines != (int)(sizeof ours / sizeof ours[0]))
        FAIL("gateway identity lines missing or repeated");
}

static void check_reparse(const ag_http_req_t *in, ag_str_t head)
{
    static hs_head_t again;
    const char *reason;
    if (ag_canon_scan_head(head) != NULL)
        FAIL("forwarded head does not scan clean");
    if (hs_split(head, &again) != 0)
        FAIL("forwarded head does not split");
    if (ag_canon_check(&again.req, &copts, &reason) != 0)
        FAIL("forwarded head is not canonical");
    if (!ag_str_eq(again.req.target, in->target) || !ag_str_eq(again.req.path, in->path) ||
        !ag_str_eq(again.req.query, in->query))
        FAIL("forwarded target differs from the judged one");
    if (again.req.chunked != in->chunked || again.req.content_length != in->content_length)
        FAIL("forwarded framing differs");
    if (again.req.upgrade != in->upgrade || again.req.websocket != in->websocket)
        FAIL("forwarded upgrade differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hs_head_t h;
    static ag_buf_t out = {NULL, 0, 0, 1 << 20};
    ag_str_t head = ag_str_make((const char *)data, size);
    const char *reason = NULL;

    if (ag_canon_scan_head(head) != NULL || hs_split(head, &h) != 0)
        return 0;
    if (h.req.nheaders > HS_MAX_HEADERS - 16)
        return 0; /* room for the gateway's own lines when the output is split again */
    int rc = ag_canon_check(&h.req, &copts, &reason);
    if (rc != 0) {
        if (!reason || !(rc == AG_CANON_OPTIONS_STAR || (rc >= 400 && rc <= 599)))
            FAIL("rejection without reason or with a bad status");
        ag_buf_clear(&out);
        if (ag_status_response(&out, rc == AG_CANON_OPTIONS_STAR ? 200 : rc,
                               ag_str_cstr(reason), true) != 0)
            FAIL("status response failed");
        return 0;
    }
    ag_forward_opts_t fo = {.upstream_host = AG_STR("gw"),
                            .credential = AG_STR("Bearer GW-CREDENTIAL"),
                            .identity = &ident,
                            .client_ip = AG_STR("192.0.2.1"),
                            .client_tls = true};
    ag_buf_clear(&out);
    ag_err err = ag_forward_head(&h.req, &fo, &out);
    if (err != 0) {
        fprintf(stderr, "forward: %s\n", ag_err_str(err));
        FAIL("a canonical request did not forward");
    }
    ag_str_t fwd = ag_buf_str(&out);
    check_output_lines(fwd);
    check_reparse(&h.req, fwd);
    return 0;
}
