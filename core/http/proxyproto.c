/* PROXY protocol v1 and v2 header parser (proxyproto.h). Strict: anything the
 * specification does not allow is INVALID as early as the bytes show it (a v1 line is
 * checked character by character while it arrives, a v2 length before its bytes do), so
 * a broken or hostile sender is refused at once rather than at the header timeout. TLVs
 * after v2 addresses are skipped, each checked to lie inside the header. Pure. */
#include "http/proxyproto.h"

#include <string.h>

static const uint8_t v1_sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

#define R(s) (*why = (s), AG_PROXYPROTO_INVALID)

static ag_proxyproto_status match(const uint8_t *p, size_t n, const uint8_t *sig, size_t k)
{
    if (n > 0 && memcmp(p, sig, n < k ? n : k) != 0)
        return AG_PROXYPROTO_NONE;
    return n >= k ? AG_PROXYPROTO_DONE : AG_PROXYPROTO_MORE;
}

ag_proxyproto_status ag_proxyproto_sniff(const uint8_t *p, size_t n)
{
    ag_proxyproto_status a = match(p, n, v1_sig, sizeof v1_sig);
    ag_proxyproto_status b = match(p, n, v2_sig, sizeof v2_sig);
    if (a == AG_PROXYPROTO_DONE || b == AG_PROXYPROTO_DONE)
        return AG_PROXYPROTO_DONE;
    return a == AG_PROXYPROTO_MORE || b == AG_PROXYPROTO_MORE ? AG_PROXYPROTO_MORE
                                                              : AG_PROXYPROTO_NONE;
}

/* ---- version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" ------------------------------ */

/* The characters a v1 line of <proto> may hold after "PROXY <proto> ". */
static bool v1_char_ok(char proto, uint8_t c)
{
    if (proto == 'U') /* UNKNOWN: anything printable until CRLF */
        return c >= 0x20 && c <= 0x7e;
    if (c == ' ' || c == '.' || (c >= '0' && c <= '9'))
        return true;
    return proto == '6' && (c == ':' || ag_hex_digit(c) >= 0);
}

/* Checks the line so far (<s>: after "PROXY ", without CR) for what no complete line
 * could fix: an unknown protocol word or a character its addresses cannot hold. */
static const char *v1_prefix_error(ag_str_t s)
{
    static const char *const words[] = {"TCP4 ", "TCP6 ", "UNKNOWN"};
    size_t i;
    for (i = 0; i < 3; i++) {
        size_t k = strlen(words[i]);
        if (memcmp(s.p, words[i], s.n < k ? s.n : k) == 0)
            break;
    }
    if (i == 3)
        return "v1: the protocol is not TCP4, TCP6 or UNKNOWN";
    char proto = i == 2 ? 'U' : words[i][3];
    size_t k = strlen(words[i]);
    if (proto == 'U' && s.n > k && s.p[k] != ' ')
        return "v1: the protocol is not TCP4, TCP6 or UNKNOWN";
    for (size_t j = k; j < s.n; j++)
        if (!v1_char_ok(proto, (uint8_t)s.p[j]))
            return "v1: a character no address or port has";
    return NULL;
}

/* Decimal 0..65535 without leading zeros (spec 2.1). */
static bool v1_port(ag_str_t s, uint16_t *out)
{
    unsigned long long v;
    if (s.n > 5 || (s.n > 1 && s.p[0] == '0') || !ag_str_to_u64(s, &v) || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* The complete line <s> (after "PROXY ", without CRLF). */
static ag_proxyproto_status v1_line(ag_str_t s, ag_proxyproto_t *h, const char **why)
{
    if (ag_str_eq_lit(s, "UNKNOWN") || ag_str_starts_with(s, AG_STR("UNKNOWN "))) {
        h->has_addr = false; /* the rest of the line is ignored (spec 2.1) */
        return AG_PROXYPROTO_DONE;
    }
    int family;
    if (ag_str_starts_with(s, AG_STR("TCP4 ")))
        family = AG_IPADDR_V4;
    else if (ag_str_starts_with(s, AG_STR("TCP6 ")))
        family = AG_IPADDR_V6;
    else
        return R("v1: the protocol is not TCP4, TCP6 or UNKNOWN");
    ag_str_t f[4], rest = ag_str_sub(s, 5, s.n);
    for (int i = 0; i < 4; i++) {
        size_t sp = ag_str_find_char(rest, ' ');
        if ((i < 3) != (sp < rest.n))
            return R("v1: not exactly four fields after the protocol");
        f[i] = ag_str_sub(rest, 0, sp);
        rest = sp < rest.n ? ag_str_sub(rest, sp + 1, rest.n) : AG_STR_NULL;
    }
    if (!ag_ipaddr_parse(f[0], family, &h->src) || !ag_ipaddr_parse(f[1], family, &h->dst))
        return R("v1: an address that is not the protocol's family in canonical form");
    if (!v1_port(f[2], &h->src_port) || !v1_port(f[3], &h->dst_port))
        return R("v1: a port that is not 0..65535 in decimal without leading zeros");
    h->has_addr = true;
    return AG_PROXYPROTO_DONE;
}

static ag_proxyproto_status parse_v1(const uint8_t *p, size_t n, ag_proxyproto_t *h,
                                     const char **why)
{
    size_t lim = n < AG_PROXYPROTO_V1_MAX ? n : AG_PROXYPROTO_V1_MAX, i;
    for (i = sizeof v1_sig; i < lim; i++) {
        if (p[i] == '\r')
            break;
        if (p[i] < 0x20 || p[i] > 0x7e)
            return R("v1: a control or non-ASCII byte before CRLF");
    }
    ag_str_t line = ag_str_make((const char *)p + sizeof v1_sig, i - sizeof v1_sig);
    const char *bad = v1_prefix_error(line);
    if (bad)
        return R(bad);
    if (i == lim) /* no CR yet */
        return n >= AG_PROXYPROTO_V1_MAX
                   ? (*why = "v1: no CRLF in 107 bytes", AG_PROXYPROTO_TOO_BIG)
                   : AG_PROXYPROTO_MORE;
    if (i + 2 > AG_PROXYPROTO_V1_MAX) /* the LF would be byte 108 */
        return *why = "v1: no CRLF in 107 bytes", AG_PROXYPROTO_TOO_BIG;
    if (i + 1 == n)
        return AG_PROXYPROTO_MORE;
    if (p[i + 1] != '\n')
        return R("v1: a CR not followed by LF");
    h->version = 1;
    h->len = i + 2;
    return v1_line(line, h, why);
}

/* ---- version 2: binary ------------------------------------------------------------ */

/* Address block bytes of a family/transport byte (spec 2.2), -1 for one not allowed. */
static int v2_addr_len(uint8_t fam)
{
    switch (fam) {
    case 0x00: /* UNSPEC */
        return 0;
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        return 12;
    case 0x21: /* TCP over IPv6 */
    case 0x22: /* UDP over IPv6 */
        return 36;
    case 0x31: /* UNIX stream */
    case 0x32: /* UNIX datagram */
        return 216;
    default:
        return -1;
    }
}

/* TLVs fill p[at..end) exactly: each type, 16-bit length and value inside the header. */
static bool v2_tlvs_fit(const uint8_t *p, size_t at, size_t end)
{
    while (at < end) {
        if (end - at < 3)
            return false;
        size_t vlen = (size_t)p[at + 1] << 8 | p[at + 2];
        if (vlen > end - at - 3)
            return false;
        at += 3 + vlen;
    }
    return true;
}

static void v2_addresses(const uint8_t *a, uint8_t fam, ag_proxyproto_t *h)
{
    size_t k = fam == 0x11 ? 4 : 16;
    h->has_addr = true;
    h->src = h->dst = (ag_ipaddr_t){.family = fam == 0x11 ? AG_IPADDR_V4 : AG_IPADDR_V6};
    memcpy(h->src.a, a, k);
    memcpy(h->dst.a, a + k, k);
    h->src_port = (uint16_t)(a[2 * k] << 8 | a[2 * k + 1]);
    h->dst_port = (uint16_t)(a[2 * k + 2] << 8 | a[2 * k + 3]);
}

static ag_proxyproto_status parse_v2(const uint8_t *p, size_t n, ag_proxyproto_t *h,
                                     const char **why)
{
    if (n <= 12)
        return AG_PROXYPROTO_MORE;
    if (p[12] >> 4 != 2)
        return R("v2: version is not 2");
    bool local = (p[12] & 15) == 0;
    if (!local && (p[12] & 15) != 1)
        return R("v2: command is neither LOCAL nor PROXY");
    if (n == 13)
        return AG_PROXYPROTO_MORE;
    int alen = local ? 0 : v2_addr_len(p[13]); /* LOCAL: the family is ignored (spec 2.2) */
    if (alen < 0)
        return R("v2: unknown address family or transport");
    if (n < AG_PROXYPROTO_V2_HEAD)
        return AG_PROXYPROTO_MORE;
    size_t len = (size_t)p[14] << 8 | p[15];
    if (len > AG_PROXYPROTO_V2_MAX_LEN)
        return *why = "v2: length over 2048 bytes", AG_PROXYPROTO_TOO_BIG;
    if (len < (size_t)alen)
        return R("v2: length shorter than the family's addresses");
    if (n < AG_PROXYPROTO_V2_HEAD + len)
        return AG_PROXYPROTO_MORE;
    if (alen > 0 &&
        !v2_tlvs_fit(p, AG_PROXYPROTO_V2_HEAD + (size_t)alen, AG_PROXYPROTO_V2_HEAD + len))
        return R("v2: a TLV runs past the header");
    h->version = 2;
    h->len = AG_PROXYPROTO_V2_HEAD + len;
    h->has_addr = false;
    if (!local && (p[13] == 0x11 || p[13] == 0x21))
        v2_addresses(p + AG_PROXYPROTO_V2_HEAD, p[13], h);
    return AG_PROXYPROTO_DONE;
}

ag_proxyproto_status ag_proxyproto_parse(const uint8_t *p, size_t n, ag_proxyproto_t *h,
                                         const char **why)
{
    const char *unused;
    if (!why)
        why = &unused;
    ag_proxyproto_t tmp;
    ag_proxyproto_status st;
    if (match(p, n, v2_sig, sizeof v2_sig) != AG_PROXYPROTO_NONE)
        st = parse_v2(p, n, &tmp, why);
    else if (match(p, n, v1_sig, sizeof v1_sig) != AG_PROXYPROTO_NONE)
        st = n < sizeof v1_sig ? AG_PROXYPROTO_MORE : parse_v1(p, n, &tmp, why);
    else
        return AG_PROXYPROTO_NONE;
    if (st == AG_PROXYPROTO_DONE)
        *h = tmp;
    return st;
}
