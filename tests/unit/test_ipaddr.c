/* core/base/ipaddr: address text as inet_pton/inet_ntop read and write it; CIDR networks for
 * listen.proxy_protocol.trusted. */
#include "base/ipaddr.h"
#include "testlib.h"

static bool parse(const char *s, int family, ag_ipaddr_t *ip)
{
    return ag_ipaddr_parse(ag_str_cstr(s), family, ip);
}

/* Parses <in> and formats it again. */
static const char *round_trip(const char *in, char *buf, size_t len)
{
    ag_ipaddr_t ip;
    if (!parse(in, 0, &ip))
        return "(unparsed)";
    return ag_ipaddr_format(&ip, buf, len) ? buf : "(unformatted)";
}

TEST(ipaddr_parses_strict_dotted_quads)
{
    ag_ipaddr_t ip;
    CHECK(parse("192.168.0.1", AG_IPADDR_V4, &ip));
    CHECK_EQ(ip.family, AG_IPADDR_V4);
    CHECK(ip.a[0] == 192 && ip.a[1] == 168 && ip.a[2] == 0 && ip.a[3] == 1);
    CHECK(parse("0.0.0.0", 0, &ip) && parse("255.255.255.255", 0, &ip));
    const char *bad[] = {"",          "1.2.3",     "1.2.3.4.5",  "01.2.3.4",  "1.2.3.04",
                         "256.1.1.1", "1.2.3.4 ",  " 1.2.3.4",   "1..2.3",    "1.2.3.",
                         "1.2.3.-4",  "0x1.2.3.4", "1234.1.1.1", "1.2.3.4/8", "1.2.3.a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!parse(bad[i], 0, &ip));
        if (parse(bad[i], 0, &ip))
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
    }
    CHECK(!parse("1.2.3.4", AG_IPADDR_V6, &ip)); /* the family asked for */
}

TEST(ipaddr_parses_ipv6_forms)
{
    ag_ipaddr_t ip;
    CHECK(parse("::1", AG_IPADDR_V6, &ip));
    CHECK(ip.family == AG_IPADDR_V6 && ip.a[15] == 1 && ip.a[0] == 0);
    const char *good[] = {"::",
                          "1::",
                          "::ffff:1.2.3.4",
                          "2001:DB8::A",
                          "1:2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:7::",
                          "::2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:1.2.3.4",
                          "fe80::1:0:0:1",
                          "0000:0000::0000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(parse(good[i], AG_IPADDR_V6, &ip));
        if (!parse(good[i], AG_IPADDR_V6, &ip))
            fprintf(stderr, "  refused \"%s\"\n", good[i]);
    }
    const char *bad[] = {":",
                         ":::",
                         "1:::2",
                         "1::2::3",
                         ":1::",
                         "1:",
                         "1::2:",
                         "12345::",
                         "1:2:3:4:5:6:7:8:9",
                         "1:2:3:4:5:6:7:8::",
                         "::1:2:3:4:5:6:7:8",
                         "1:2:3:4:5:6:7:1.2.3.4",
                         "::1.2.3",
                         "::01.2.3.4",
                         "[::1]",
                         "::1%lo",
                         "g::",
                         "1.2.3.4",
                         "::ffff:1.2.3.4:5",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!parse(bad[i], AG_IPADDR_V6, &ip));
        if (parse(bad[i], AG_IPADDR_V6, &ip))
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
    }
}

TEST(ipaddr_formats_as_inet_ntop)
{
    char b[AG_IPADDR_STRLEN];
    CHECK_STREQ(round_trip("10.0.0.1", b, sizeof b), "10.0.0.1");
    CHECK_STREQ(round_trip("0:0:0:0:0:0:0:1", b, sizeof b), "::1");
    CHECK_STREQ(round_trip("2001:DB8:0:0:1:0:0:1", b, sizeof b), "2001:db8::1:0:0:1");
    CHECK_STREQ(round_trip("1:0:2:0:3:0:4:0", b, sizeof b), "1:0:2:0:3:0:4:0");
    CHECK_STREQ(round_trip("1:0:0:2:0:0:0:3", b, sizeof b), "1:0:0:2::3");
    CHECK_STREQ(round_trip("::ffff:7f00:2", b, sizeof b), "::ffff:127.0.0.2");
    CHECK_STREQ(round_trip("::102:304", b, sizeof b), "::1.2.3.4"); /* IPv4-compatible */
    CHECK_STREQ(round_trip("1::", b, sizeof b), "1::");
    CHECK_STREQ(round_trip("::", b, sizeof b), "::");
    CHECK_STREQ(round_trip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", b, sizeof b),
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    ag_ipaddr_t ip;
    char small[8] = "x";
    CHECK(parse("10.0.0.1", 0, &ip));
    CHECK_EQ(ag_ipaddr_format(&ip, small, 8), 0); /* 9 bytes needed */
    CHECK_STREQ(small, "");
    CHECK_EQ(ag_ipaddr_format(&ip, small, 0), 0);
}

static bool net(const char *s, ag_ipaddr_net_t *out)
{
    const char *why = NULL;
    bool ok = ag_ipaddr_net_parse(ag_str_cstr(s), out, &why);
    CHECK(ok || why != NULL);
    return ok;
}

static bool in(const char *netstr, const char *ipstr)
{
    ag_ipaddr_net_t n;
    ag_ipaddr_t ip;
    if (!net(netstr, &n) || !parse(ipstr, 0, &ip))
        return false;
    return ag_ipaddr_net_contains(&n, &ip);
}

TEST(ipaddr_nets_parse_and_refuse_typos)
{
    ag_ipaddr_net_t n;
    CHECK(net("10.0.0.0/8", &n) && n.bits == 8 && n.addr.family == AG_IPADDR_V4);
    CHECK(net("127.0.0.2", &n) && n.bits == 32);
    CHECK(net("::1", &n) && n.bits == 128);
    CHECK(net("fd00::/8", &n) && n.bits == 8);
    CHECK(net("0.0.0.0/0", &n) && n.bits == 0);
    CHECK(net("::/0", &n) && n.bits == 0);
    const char *bad[] = {
        "10.0.0.1/8",   "10.0.0.0/33", "10.0.0.0/",       "10.0.0.0/08", "::/129", "fd00::1/8",
        "10.0.0.0/8/8", "10.0.0.0 /8", "host.example/32", "10.0.0.0/-1", "",       "/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!net(bad[i], &n));
        if (net(bad[i], &n))
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
    }
}

TEST(ipaddr_net_contains_by_prefix)
{
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK(!in("10.0.0.0/8", "11.0.0.0"));
    CHECK(in("192.168.4.0/22", "192.168.7.255"));
    CHECK(!in("192.168.4.0/22", "192.168.8.0"));
    CHECK(!in("192.168.4.0/22", "192.168.3.255"));
    CHECK(in("127.0.0.2/32", "127.0.0.2"));
    CHECK(!in("127.0.0.2/32", "127.0.0.1"));
    CHECK(in("0.0.0.0/0", "203.0.113.9"));
    CHECK(!in("0.0.0.0/0", "::1")); /* families do not mix */
    CHECK(!in("::/0", "1.2.3.4"));
    CHECK(in("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK(!in("2001:db8::/33", "2001:db8:8000::1"));
    CHECK(in("::1/128", "::1"));
}

TEST(ipaddr_v4_mapped_peers_match_ipv4_nets)
{
    /* a dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d */
    CHECK(in("127.0.0.0/8", "::ffff:127.0.0.2"));
    CHECK(!in("127.0.0.0/8", "::ffff:128.0.0.2"));
    CHECK(!in("127.0.0.0/8", "::127.0.0.2")); /* IPv4-compatible is not mapped */
    ag_ipaddr_net_t n;
    CHECK(net("::ffff:10.0.0.0/104", &n)); /* written as mapped: an IPv4 /8 */
    CHECK(n.addr.family == AG_IPADDR_V4 && n.bits == 8);
    CHECK(in("::ffff:10.0.0.0/104", "10.1.2.3"));
    ag_ipaddr_net_t two[2];
    ag_ipaddr_t ip;
    CHECK(net("10.0.0.0/8", &two[0]) && net("::1/128", &two[1]) && parse("::1", 0, &ip));
    CHECK(ag_ipaddr_nets_contain(two, 2, &ip));
    CHECK(!ag_ipaddr_nets_contain(two, 1, &ip));
    CHECK(!ag_ipaddr_nets_contain(two, 0, &ip));
}
