/* libFuzzer target for the PROXY protocol parser (core/http/proxyproto.c) and the address text
 * it relies on (core/base/ipaddr.c). The gateway hands the parser a connection's first bytes
 * again each time more arrive, so the invariants are about prefixes:
 *  - feeding the input's prefixes in order gives MORE until one answer, and every longer
 *    prefix gives that same answer (a header, once complete, has one length and one
 *    address whatever follows it; a refusal is never taken back);
 *  - a header's length is within the bounds (107 bytes for v1, 16 + 2048 for v2) and the
 *    input holds it; parse answers NONE exactly when sniff does;
 *  - a v1 header with addresses, written again from what was parsed, parses the same;
 *  - ag_ipaddr_parse accepts exactly what glibc's inet_pton accepts, with the same bytes,
 *    and ag_ipaddr_format writes what inet_ntop writes. Any difference aborts. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ipaddr.h"
#include "http/proxyproto.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

static bool same_header(const ag_proxyproto_t *a, const ag_proxyproto_t *b)
{
    if (a->version != b->version || a->len != b->len || a->has_addr != b->has_addr)
        return false;
    return !a->has_addr || (a->src.family == b->src.family && a->dst.family == b->dst.family &&
                            !memcmp(a->src.a, b->src.a, 16) && !memcmp(a->dst.a, b->dst.a, 16) &&
                            a->src_port == b->src_port && a->dst_port == b->dst_port);
}

static void check_prefixes(const uint8_t *p, size_t n)
{
    ag_proxyproto_t first = {0}, h;
    ag_proxyproto_status decided = AG_PROXYPROTO_MORE;
    for (size_t i = 0; i <= n; i++) {
        ag_proxyproto_status st = ag_proxyproto_parse(p, i, &h, NULL);
        ag_proxyproto_status sn = ag_proxyproto_sniff(p, i);
        if ((st == AG_PROXYPROTO_NONE) != (sn == AG_PROXYPROTO_NONE))
            FAIL("parse and sniff disagree on NONE");
        if (decided == AG_PROXYPROTO_MORE) {
            decided = st;
            first = h;
        } else if (st != decided || (st == AG_PROXYPROTO_DONE && !same_header(&h, &first))) {
            FAIL("a longer input changed a decided answer");
        }
        if (st == AG_PROXYPROTO_DONE &&
            (h.len > i ||
             h.len > (h.version == 1 ? AG_PROXYPROTO_V1_MAX : 16u + AG_PROXYPROTO_V2_MAX_LEN)))
            FAIL("header length outside the input or the bound");
        if (decided != AG_PROXYPROTO_MORE && i + 64 < n)
            i = n - 64; /* the answer's stability: the longest prefixes suffice */
    }
}

static void check_v1_rewrite(const uint8_t *p, size_t n)
{
    ag_proxyproto_t h, again;
    if (ag_proxyproto_parse(p, n, &h, NULL) != AG_PROXYPROTO_DONE || h.version != 1 || !h.has_addr)
        return;
    char src[AG_IPADDR_STRLEN], dst[AG_IPADDR_STRLEN], line[160];
    if (!ag_ipaddr_format(&h.src, src, sizeof src) || !ag_ipaddr_format(&h.dst, dst, sizeof dst))
        FAIL("a parsed address does not format");
    int k = snprintf(line, sizeof line, "PROXY TCP%c %s %s %u %u\r\n",
                     h.src.family == AG_IPADDR_V4 ? '4' : '6', src, dst, h.src_port, h.dst_port);
    if (ag_proxyproto_parse((const uint8_t *)line, (size_t)k, &again, NULL) != AG_PROXYPROTO_DONE)
        FAIL("a v1 header written from a parsed one does not parse");
    again.len = h.len;
    if (!same_header(&h, &again))
        FAIL("a rewritten v1 header reads differently");
}

static void check_ipaddr_against_libc(const uint8_t *p, size_t n)
{
    char text[64];
    size_t k = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, p, k);
    text[k] = '\0';
    ag_str_t s = ag_str_make(text, strlen(text)); /* inet_pton stops at a NUL */
    uint8_t ref[16];
    ag_ipaddr_t ip;
    for (int fam = 0; fam < 2; fam++) {
        int af = fam ? AF_INET6 : AF_INET;
        bool libc = inet_pton(af, text, ref) == 1;
        bool ours = ag_ipaddr_parse(s, fam ? AG_IPADDR_V6 : AG_IPADDR_V4, &ip);
        if (libc != ours || (ours && memcmp(ip.a, ref, fam ? 16 : 4) != 0))
            FAIL("ag_ipaddr_parse differs from inet_pton");
    }
    if (n < 16)
        return;
    char a[AG_IPADDR_STRLEN], b[INET6_ADDRSTRLEN];
    for (int fam = 0; fam < 2; fam++) {
        ag_ipaddr_t raw = {.family = fam ? AG_IPADDR_V6 : AG_IPADDR_V4};
        memcpy(raw.a, p, fam ? 16 : 4);
        if (!ag_ipaddr_format(&raw, a, sizeof a) ||
            !inet_ntop(fam ? AF_INET6 : AF_INET, p, b, sizeof b) || strcmp(a, b) != 0)
            FAIL("ag_ipaddr_format differs from inet_ntop");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 + AG_PROXYPROTO_V2_MAX_LEN + 64)
        return 0;
    check_prefixes(data, size);
    check_v1_rewrite(data, size);
    check_ipaddr_against_libc(data, size);
    return 0;
}
