/* IP address text <-> bytes and CIDR networks (ipaddr.h). Mirrors glibc's inet_pton and
 * inet_ntop rule for rule (the differential fuzz target holds it to that), so that no
 * address has two readings in the gateway. Pure. */
#include "base/ipaddr.h"

#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Four decimal parts 0..255 separated by single dots, no leading zeros. */
static bool parse_v4(ag_str_t s, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= s.n || s.p[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(s.p[i++] - '0');
        if (i == start || v > 255 || (s.p[start] == '0' && i - start > 1))
            return false;
        out[part] = (uint8_t)v;
    }
    return i == s.n;
}

/* One group of 1-4 hex digits at s.p[*i]; false if there is none. */
static bool hex_group(ag_str_t s, size_t *i, unsigned *v)
{
    size_t start = *i;
    int d;
    *v = 0;
    while (*i < s.n && *i - start < 4 && (d = ag_hex_digit((unsigned char)s.p[*i])) >= 0) {
        *v = *v << 4 | (unsigned)d;
        (*i)++;
    }
    return *i > start;
}

/* Groups up to one "::" (whose position in bytes goes to *gap), a dotted IPv4 tail. */
static bool parse_v6_groups(ag_str_t s, uint8_t w[16], int *nout, int *gap)
{
    size_t i = 0;
    int n = 0;
    if (s.n >= 1 && s.p[0] == ':') {
        if (s.n < 2 || s.p[1] != ':')
            return false;
        *gap = 0;
        i = 2;
    }
    while (i < s.n) {
        size_t j = i;
        unsigned v;
        bool got = hex_group(s, &j, &v);
        if (j < s.n && s.p[j] == '.') { /* the rest is an IPv4 address */
            if (n > 12 || !parse_v4(ag_str_sub(s, i, s.n - i), w + n))
                return false;
            n += 4;
            break;
        }
        if (!got || n == 16)
            return false;
        w[n++] = (uint8_t)(v >> 8);
        w[n++] = (uint8_t)v;
        if ((i = j) == s.n)
            break;
        if (s.p[i++] != ':' || i == s.n) /* a single trailing ':' is not an address */
            return false;
        if (s.p[i] == ':') {
            if (*gap >= 0)
                return false;
            *gap = n;
            i++;
        }
    }
    *nout = n;
    return true;
}

static bool parse_v6(ag_str_t s, uint8_t out[16])
{
    uint8_t w[16] = {0};
    int n = 0, gap = -1;
    if (!parse_v6_groups(s, w, &n, &gap))
        return false;
    if (gap < 0) {
        if (n != 16)
            return false;
        memcpy(out, w, 16);
        return true;
    }
    if (n == 16) /* "::" must stand for at least one group */
        return false;
    memset(out, 0, 16);
    memcpy(out, w, (size_t)gap);
    memcpy(out + 16 - (n - gap), w + gap, (size_t)(n - gap));
    return true;
}

bool ag_ipaddr_parse(ag_str_t s, int family, ag_ipaddr_t *out)
{
    ag_ipaddr_t ip = {0};
    if ((family == 0 || family == AG_IPADDR_V4) && parse_v4(s, ip.a))
        ip.family = AG_IPADDR_V4;
    else if ((family == 0 || family == AG_IPADDR_V6) && parse_v6(s, ip.a))
        ip.family = AG_IPADDR_V6;
    else
        return false;
    *out = ip;
    return true;
}

/* Appends <src> at *at if it fits before <end> (one byte kept for the NUL). */
static bool put(char **at, const char *end, const char *src, size_t n)
{
    if ((size_t)(end - *at) <= n)
        return false;
    memcpy(*at, src, n);
    *at += n;
    return true;
}

static bool put_v4(char **at, const char *end, const uint8_t a[4])
{
    for (int i = 0; i < 4; i++) {
        char part[4];
        size_t k = 0;
        if (i > 0 && !put(at, end, ".", 1))
            return false;
        if (a[i] >= 100)
            part[k++] = (char)('0' + a[i] / 100);
        if (a[i] >= 10)
            part[k++] = (char)('0' + a[i] / 10 % 10);
        part[k++] = (char)('0' + a[i] % 10);
        if (!put(at, end, part, k))
            return false;
    }
    return true;
}

static bool put_hex(char **at, const char *end, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    char g[4];
    size_t k = 0;
    for (int shift = 12; shift >= 0; shift -= 4)
        if (k > 0 || (v >> shift) != 0 || shift == 0)
            g[k++] = hex[(v >> shift) & 15];
    return put(at, end, g, k);
}

/* The longest run of two or more zero groups (the first of equal ones), as inet_ntop. */
static void zero_run(const unsigned w[8], int *base, int *len)
{
    *base = -1;
    *len = 0;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > *len && j - i >= 2)
            *base = i, *len = j - i;
        i = j > i ? j : i + 1;
    }
}

static bool put_v6(char **at, const char *end, const uint8_t a[16])
{
    unsigned w[8];
    int base, len;
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    zero_run(w, &base, &len);
    for (int i = 0; i < 8; i++) {
        if (base >= 0 && i >= base && i < base + len) {
            if (i == base && !put(at, end, ":", 1))
                return false;
            continue;
        }
        if (i != 0 && !put(at, end, ":", 1))
            return false;
        /* IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) keep the dotted tail */
        if (i == 6 && base == 0 && (len == 6 || (len == 5 && w[5] == 0xffff)))
            return put_v4(at, end, a + 12);
        if (!put_hex(at, end, w[i]))
            return false;
    }
    return !(base >= 0 && base + len == 8) || put(at, end, ":", 1);
}

size_t ag_ipaddr_format(const ag_ipaddr_t *ip, char *buf, size_t len)
{
    char *at = buf, *end = buf + len;
    bool ok = len > 0 && (ip->family == AG_IPADDR_V4   ? put_v4(&at, end, ip->a)
                          : ip->family == AG_IPADDR_V6 ? put_v6(&at, end, ip->a)
                                                       : false);
    if (len > 0)
        *(ok ? at : buf) = '\0';
    return ok ? (size_t)(at - buf) : 0;
}

static bool prefix_bits(ag_str_t s, unsigned max, unsigned *bits)
{
    unsigned long long v;
    if (s.n > 3 || (s.n > 1 && s.p[0] == '0') || !ag_str_to_u64(s, &v) || v > max)
        return false;
    *bits = (unsigned)v;
    return true;
}

/* Whether the first <bits> bits of <a> and <b> are equal. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    size_t whole = bits / 8;
    unsigned rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool ag_ipaddr_net_parse(ag_str_t s, ag_ipaddr_net_t *out, const char **why)
{
    size_t slash = ag_str_find_char(s, '/');
    ag_ipaddr_net_t net = {0};
    unsigned bits;
    if (!ag_ipaddr_parse(ag_str_sub(s, 0, slash), 0, &net.addr)) {
        *why = "is not an IPv4 or IPv6 address or network (\"10.0.0.0/8\", \"fd00::/8\")";
        return false;
    }
    unsigned max = net.addr.family == AG_IPADDR_V4 ? 32 : 128;
    bits = max;
    if (slash < s.n && !prefix_bits(ag_str_sub(s, slash + 1, s.n), max, &bits)) {
        *why = max == 32 ? "has a prefix length that is not 0..32"
                         : "has a prefix length that is not 0..128";
        return false;
    }
    ag_ipaddr_t masked = {net.addr.family, {0}};
    memcpy(masked.a, net.addr.a, bits / 8);
    if (bits % 8)
        masked.a[bits / 8] = (uint8_t)(net.addr.a[bits / 8] & (0xff << (8 - bits % 8)));
    if (memcmp(masked.a, net.addr.a, 16) != 0) {
        *why = "has bits set after the prefix length (write the network address)";
        return false;
    }
    if (net.addr.family == AG_IPADDR_V6 && bits >= 96 &&
        memcmp(net.addr.a, v4mapped_prefix, 12) == 0) { /* ::ffff:a.b.c.d/N: an IPv4 net */
        net.addr.family = AG_IPADDR_V4;
        memmove(net.addr.a, net.addr.a + 12, 4);
        memset(net.addr.a + 4, 0, 12);
        bits -= 96;
    }
    net.bits = (uint8_t)bits;
    *out = net;
    return true;
}

bool ag_ipaddr_net_contains(const ag_ipaddr_net_t *net, const ag_ipaddr_t *ip)
{
    const uint8_t *a = ip->a;
    int family = ip->family;
    if (family == AG_IPADDR_V6 && memcmp(a, v4mapped_prefix, 12) == 0) {
        family = AG_IPADDR_V4;
        a += 12;
    }
    return family == net->addr.family && same_prefix(a, net->addr.a, net->bits);
}

bool ag_ipaddr_nets_contain(const ag_ipaddr_net_t *nets, int n, const ag_ipaddr_t *ip)
{
    for (int i = 0; i < n; i++)
        if (ag_ipaddr_net_contains(&nets[i], ip))
            return true;
    return false;
}
