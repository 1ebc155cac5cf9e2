/* Threat-model regressions at the core level (the shared reference
 * ../shared/reference/threat-model.md; each case names its number). The integration tests
 * tests/integration/t_threat_*.sh prove the same defences through the real binary; these pin the
 * core properties they rest on: what canon accepts is already the path the authorizer judges (#18),
 * the exec create rule covers every upgrade GET (#15), JSON duplicate keys never pass (#36). */
#include <stdio.h>
#include <string.h>

#include "authz/reqinfo.h"
#include "base/json.h"
#include "headsplit.h"
#include "http/canon.h"
#include "testlib.h"

/* ---- #18: accepted targets need no normalization and decode to the same segments ------- */

/* An independent decoder on purpose: the oracle must not share code with what it checks. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes <s> into <out> (NUL-terminated); false when an escape is malformed. */
static bool decode(ag_str_t s, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '%') {
            if (i + 2 >= s.n)
                return false;
            int h = hexval(s.p[i + 1]), l = hexval(s.p[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* The property an accepted path must have so that the gateway, a Go url.Path decoder and
 * path.Clean all see one and the same resource: no empty, "." or ".." segment, and no
 * segment that decodes (once or twice) to one, or to something containing '/' or '\'. */
static const char *path_problem(ag_str_t path)
{
    char once[512], twice[512];
    ag_str_t rest = ag_str_sub(path, 1, path.n), seg;
    if (path.n == 0 || path.p[0] != '/')
        return "not absolute";
    while (rest.p && rest.n) {
        rest = ag_str_split(rest, '/', &seg);
        if (seg.n == 0 && rest.p)
            return "empty segment";
        if (!decode(seg, once, sizeof once) || !decode(ag_str_cstr(once), twice, sizeof twice))
            return "bad escape";
        for (int k = 0; k < 2; k++) {
            const char *d = k ? twice : once;
            if (!strcmp(d, ".") || !strcmp(d, "..") || strchr(d, '/') || strchr(d, '\\'))
                return "segment decodes to a dot segment or a separator";
        }
    }
    return NULL;
}

TEST(threat18_accepted_targets_are_judged_exactly_as_forwarded)
{
    /* every 3-segment combination of these after a namespaced prefix: 15^3 targets */
    static const char *const part[] = {"pods", "..",  ".",     "%2e",   "%2E%2e",
                                       "%2f",  "%2F", "%252e", "..;",   ";",
                                       "",     "web", "%5c",   "a%3Ab", "se%63rets"};
    const size_t np = sizeof part / sizeof part[0];
    int accepted = 0, refused = 0;
    for (size_t i = 0; i < np * np * np; i++) {
        char head[512], target[256];
        snprintf(target, sizeof target, "/api/v1/namespaces/default/%s/%s/%s", part[i % np],
                 part[i / np % np], part[i / (np * np)]);
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
        hs_head_t h;
        const char *why = NULL;
        ag_str_t hs = ag_str_cstr(head);
        if (ag_canon_scan_head(hs) || hs_split(hs, &h) != 0 ||
            ag_canon_check(&h.req, NULL, &why) != 0) {
            refused++;
            continue;
        }
        accepted++;
        const char *problem = path_problem(h.req.path);
        if (problem)
            fprintf(stderr, "  accepted %s: %s\n", target, problem);
        CHECK(problem == NULL);
        CHECK(ag_str_eq(h.req.path, ag_str_cstr(target))); /* judged path == forwarded path */
        ag_arena_t a;
        ag_attrs_t at;
        ag_arena_init(&a, 0, 0);
        CHECK_EQ(ag_reqinfo_parse(h.req.method, h.req.target, &a, &at), 0);
        char dec[512]; /* attributes carry the decoded path, as Go's url.Path */
        CHECK(decode(h.req.path, dec, sizeof dec));
        if (!ag_str_eq(at.path, ag_str_cstr(dec)))
            fprintf(stderr, "  %s: attributes path %.*s\n", target, AG_STR_FMT(at.path));
        CHECK(ag_str_eq(at.path, ag_str_cstr(dec)));
        CHECK(!ag_str_eq_lit(at.resource, "secrets") || strstr(target, "secrets") != NULL);
        ag_arena_dispose(&a);
    }
    CHECK(accepted > 0); /* e.g. pods/web/web, pods/a%3Ab/... */
    CHECK(refused > accepted);
}

/* ---- #15: exec-like upgrades need create whatever the upgrade protocol ----------------- */

TEST(threat15_create_check_covers_exec_attach_portforward_and_node_proxy_upgrades)
{
    static const struct {
        const char *method, *target;
        bool need;
    } rows[] = {
        {"GET", "/api/v1/namespaces/d/pods/web/exec?command=sh", true},
        {"GET", "/api/v1/namespaces/d/pods/web/attach?stdout=1", true},
        {"GET", "/api/v1/namespaces/d/pods/web/portforward?ports=80", true},
        {"GET", "/api/v1/nodes/n1/proxy/exec/d/web/c?command=sh", true},
        {"GET", "/api/v1/nodes/n1/proxy", true},
        {"GET", "/api/v1/namespaces/d/pods/web/log?follow=1", false},
        {"GET", "/api/v1/namespaces/d/pods/web", false},
        {"POST", "/api/v1/namespaces/d/pods/web/exec?command=sh", false},  /* already create */
        {"GET", "/apis/example.com/v1/namespaces/d/pods/web/exec", false}, /* not core pods */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ag_arena_t a;
        ag_attrs_t at;
        ag_arena_init(&a, 0, 0);
        CHECK_EQ(
            ag_reqinfo_parse(ag_str_cstr(rows[i].method), ag_str_cstr(rows[i].target), &a, &at), 0);
        /* proxy/authz/authorize.c passes "any upgrade" (WebSocket or SPDY over GET) */
        if (ag_reqinfo_needs_create_check(&at, true) != rows[i].need)
            fprintf(stderr, "  row %zu: %s %s\n", i, rows[i].method, rows[i].target);
        CHECK_EQ(ag_reqinfo_needs_create_check(&at, true), rows[i].need);
        CHECK(!ag_reqinfo_needs_create_check(&at, false)); /* no upgrade: plain get */
        ag_arena_dispose(&a);
    }
}

/* ---- #36: duplicate JSON keys, however spelled, never pass -------------------------------- */

TEST(threat36_json_rejects_duplicate_keys_in_every_spelling)
{
    static const char *const dup[] = {
        "{\"iss\":\"a\",\"iss\":\"b\"}",
        "{\"iss\":\"a\",\"\\u0069ss\":\"b\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k\",\"alg\":\"none\"}",
        "{\"a\":{\"x\":1,\"x\":2}}",
        "{\"groups\":[{\"g\":1,\"g\":1}]}",
        "{\"\\u0061\":1,\"a\":2}",
    };
    static const char *const ok[] = {"{\"iss\":\"a\",\"Iss\":\"b\"}",
                                     "{\"a\":{\"x\":1},\"b\":{\"x\":1}}"};
    for (size_t i = 0; i < sizeof dup / sizeof dup[0]; i++) {
        ag_arena_t a;
        ag_json_t doc;
        ag_arena_init(&a, 0, 0);
        CHECK_EQ(ag_json_parse(&doc, ag_str_cstr(dup[i]), NULL, &a, NULL), AG_E_DUPLICATE);
        ag_arena_dispose(&a);
    }
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ag_arena_t a;
        ag_json_t doc;
        ag_arena_init(&a, 0, 0);
        CHECK_EQ(ag_json_parse(&doc, ag_str_cstr(ok[i]), NULL, &a, NULL), 0);
        ag_arena_dispose(&a);
    }
}

TEST(threat36_json_depth_is_bounded)
{
    char deep[300];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    ag_arena_t a;
    ag_json_t doc;
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_json_parse(&doc, ag_str_make(deep, sizeof deep), NULL, &a, NULL), AG_E_TOO_DEEP);
    ag_arena_dispose(&a);
}
