/* core/http/proxyproto: PROXY protocol v1 and v2 headers (HAProxy's proxy-protocol.txt), fed
 * whole and byte by byte; every refusal the specification asks for. */
#include "http/proxyproto.h"
#include "testlib.h"

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static ag_proxyproto_status pp(const void *p, size_t n, ag_proxyproto_t *h)
{
    const char *why = NULL;
    ag_proxyproto_t scratch;
    ag_proxyproto_status st = ag_proxyproto_parse(p, n, h ? h : &scratch, &why);
    if (st == AG_PROXYPROTO_INVALID || st == AG_PROXYPROTO_TOO_BIG)
        CHECK(why != NULL && why[0] != '\0');
    return st;
}

static ag_proxyproto_status pps(const char *s, ag_proxyproto_t *h)
{
    return pp(s, strlen(s), h);
}

/* Every proper prefix of <p,n> (n == full header length) asks for more. */
static void check_prefixes_want_more(const uint8_t *p, size_t n)
{
    ag_proxyproto_t h;
    for (size_t i = 0; i < n; i++) {
        ag_proxyproto_status st = pp(p, i, &h);
        CHECK_EQ(st, AG_PROXYPROTO_MORE);
        if (st != AG_PROXYPROTO_MORE) {
            fprintf(stderr, "  prefix of %zu bytes\n", i);
            return;
        }
    }
}

static const char *src_text(const ag_proxyproto_t *h, char *buf)
{
    ag_ipaddr_format(&h->src, buf, AG_IPADDR_STRLEN);
    return buf;
}

/* A v2 header: ver_cmd, fam, then <alen> address bytes and <extra> TLV bytes. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t n)
{
    memcpy(out, SIG, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)n;
    if (n)
        memcpy(out + 16, body, n);
    return 16 + n;
}

TEST(proxyproto_sniff_decides_at_the_first_differing_byte)
{
    CHECK_EQ(ag_proxyproto_sniff(NULL, 0), AG_PROXYPROTO_MORE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"P", 1), AG_PROXYPROTO_MORE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"PROXY", 5), AG_PROXYPROTO_MORE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"PROXY ", 6), AG_PROXYPROTO_DONE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"PROPFIND", 8), AG_PROXYPROTO_NONE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"POST", 4), AG_PROXYPROTO_NONE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"\x16\x03\x01", 3), AG_PROXYPROTO_NONE);
    CHECK_EQ(ag_proxyproto_sniff((const uint8_t *)"\r\n\r\nGET", 7), AG_PROXYPROTO_NONE);
    CHECK_EQ(ag_proxyproto_sniff(SIG, 11), AG_PROXYPROTO_MORE);
    CHECK_EQ(ag_proxyproto_sniff(SIG, 12), AG_PROXYPROTO_DONE);
    CHECK_EQ(pps("GET / HTTP/1.1\r\n", NULL), AG_PROXYPROTO_NONE);
    CHECK_EQ(pp("\x16\x03\x01\x02\x00", 5, NULL), AG_PROXYPROTO_NONE);
    CHECK_EQ(pps("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", NULL), AG_PROXYPROTO_NONE);
}

TEST(proxyproto_v1_tcp4_header_and_what_follows)
{
    const char *in = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    ag_proxyproto_t h;
    char b[AG_IPADDR_STRLEN];
    CHECK_EQ(pps(in, &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(h.version, 1);
    CHECK_EQ(h.len, strlen("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
    CHECK(h.has_addr);
    CHECK_STREQ(src_text(&h, b), "192.168.0.1");
    CHECK_EQ(h.src.family, AG_IPADDR_V4);
    CHECK_EQ(h.dst.a[3], 11);
    CHECK_EQ(h.src_port, 56324);
    CHECK_EQ(h.dst_port, 443);
    check_prefixes_want_more((const uint8_t *)in, h.len);
}

TEST(proxyproto_v1_tcp6_and_unknown)
{
    ag_proxyproto_t h;
    char b[AG_IPADDR_STRLEN];
    CHECK_EQ(pps("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", &h), AG_PROXYPROTO_DONE);
    CHECK(h.has_addr && h.src.family == AG_IPADDR_V6);
    CHECK_STREQ(src_text(&h, b), "2001:db8::1");
    CHECK_EQ(h.src_port, 65535);
    CHECK_EQ(h.dst_port, 0);
    CHECK_EQ(pps("PROXY TCP6 ::ffff:10.1.2.3 ::ffff:10.0.0.1 1 2\r\n", &h), AG_PROXYPROTO_DONE);
    CHECK_STREQ(src_text(&h, b), "::ffff:10.1.2.3");
    CHECK_EQ(pps("PROXY UNKNOWN\r\n", &h), AG_PROXYPROTO_DONE);
    CHECK(!h.has_addr && h.len == 15);
    CHECK_EQ(pps("PROXY UNKNOWN anything at all ~!\r\nX", &h), AG_PROXYPROTO_DONE);
    CHECK(!h.has_addr && h.len == 34);
}

TEST(proxyproto_v1_longest_line_is_107_bytes)
{
    char line[160];
    /* the spec's worst case: UNKNOWN with two full IPv6 addresses and ports */
    const char *a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    snprintf(line, sizeof line, "PROXY UNKNOWN %s %s 65535 65535\r\n", a, a);
    CHECK_EQ(strlen(line), 107);
    ag_proxyproto_t h;
    CHECK_EQ(pps(line, &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(h.len, 107);
    snprintf(line, sizeof line, "PROXY TCP6 %s %s 65535 65535\r\n", a, a);
    CHECK_EQ(pps(line, &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(h.len, 104);
    /* one byte more: the CRLF ends at 108 */
    snprintf(line, sizeof line, "PROXY UNKNOWN %s %s 65535 655351\r\n", a, a);
    CHECK_EQ(pps(line, &h), AG_PROXYPROTO_TOO_BIG);
    CHECK_EQ(pp(line, 107, &h), AG_PROXYPROTO_TOO_BIG); /* the CR is byte 107 */
    CHECK_EQ(pp(line, 106, &h), AG_PROXYPROTO_MORE);
    memset(line + 14, 'x', 100);
    CHECK_EQ(pp(line, 114, &h), AG_PROXYPROTO_TOO_BIG);
}

TEST(proxyproto_v1_refuses_malformed_lines)
{
    const char *bad[] = {
        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8\r\n",
        "PROXY TCP4\r\n",
        "PROXY TCP\r\n",
        "PROXY \r\n",
        "PROXY UNKN\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n",
        "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
        "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        "PROXY TCP6 ::1 ::1::2 1 2\r\n",
        "PROXY TCP6 [::1] ::1 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
        "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
        "PROXY UNKNOWN \x01\r\n",
        "PROXY UNKNOWN \xc3\xa9\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_proxyproto_status st = pps(bad[i], NULL);
        CHECK_EQ(st, AG_PROXYPROTO_INVALID);
        if (st != AG_PROXYPROTO_INVALID)
            fprintf(stderr, "  case %zu: \"%s\"\n", i, bad[i]);
    }
    CHECK_EQ(pp("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n", 33, NULL), AG_PROXYPROTO_INVALID);
}

TEST(proxyproto_v1_refuses_before_the_crlf_when_it_can)
{
    /* what no later byte could repair is refused as soon as it arrives */
    CHECK_EQ(pps("PROXY X", NULL), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pps("PROXY TCP4 1.2.3.x", NULL), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pps("PROXY TCP6 ::g", NULL), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pps("PROXY TCP4 1\n", NULL), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pps("PROXY UNKNOWNz", NULL), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pps("PROXY TCP4 1.2.3.4 5", NULL), AG_PROXYPROTO_MORE);
    CHECK_EQ(pps("PROXY TCP6 ::1 ", NULL), AG_PROXYPROTO_MORE);
    CHECK_EQ(pps("PROXY UNKNOWN whatever", NULL), AG_PROXYPROTO_MORE);
    CHECK_EQ(pps("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", NULL), AG_PROXYPROTO_MORE);
}

TEST(proxyproto_v2_tcp4_tcp6_with_and_without_tlvs)
{
    uint8_t in[256], body[64] = {10, 1, 2, 3, 192, 168, 0, 11, 0xdc, 0x04, 0x01, 0xbb};
    ag_proxyproto_t h;
    char b[AG_IPADDR_STRLEN];
    size_t n = v2(in, 0x21, 0x11, body, 12);
    in[n] = 0x16; /* the ClientHello that follows is not part of it */
    CHECK_EQ(pp(in, n + 1, &h), AG_PROXYPROTO_DONE);
    CHECK(h.version == 2 && h.len == 28 && h.has_addr);
    CHECK_STREQ(src_text(&h, b), "10.1.2.3");
    CHECK_EQ(h.src_port, 56324);
    CHECK_EQ(h.dst_port, 443);
    check_prefixes_want_more(in, n);
    /* TLVs: ALPN "h2" and a NOOP of length 0, exactly filling the length */
    memcpy(body + 12, "\x01\x00\x02h2\x04\x00\x00", 8);
    n = v2(in, 0x21, 0x11, body, 20);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_DONE);
    CHECK(h.len == 36 && h.has_addr && h.src.a[0] == 10);
    uint8_t six[36] = {0x20, 0x01, 0x0d, 0xb8};
    six[15] = 1;
    six[31] = 2;
    six[33] = 80;
    n = v2(in, 0x21, 0x21, six, 36);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_DONE);
    CHECK(h.has_addr && h.src.family == AG_IPADDR_V6 && h.src_port == 80);
    CHECK_STREQ(src_text(&h, b), "2001:db8::1");
}

TEST(proxyproto_v2_local_unspec_udp_unix_keep_the_connection_address)
{
    uint8_t in[300], body[260] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
    ag_proxyproto_t h;
    /* LOCAL: the family byte is ignored and the length skipped, whatever they are */
    size_t n = v2(in, 0x20, 0xff, body, 12);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_DONE);
    CHECK(!h.has_addr && h.len == 28);
    CHECK_EQ(pp(in, v2(in, 0x20, 0x00, NULL, 0), &h), AG_PROXYPROTO_DONE);
    CHECK(!h.has_addr && h.len == 16);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x00, body, 5), &h), AG_PROXYPROTO_DONE); /* UNSPEC */
    CHECK(!h.has_addr && h.len == 21);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x12, body, 12), &h), AG_PROXYPROTO_DONE); /* UDP4 */
    CHECK(!h.has_addr);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x22, body, 36), &h), AG_PROXYPROTO_DONE); /* UDP6 */
    CHECK(!h.has_addr);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x31, body, 216), &h), AG_PROXYPROTO_DONE); /* UNIX */
    CHECK(!h.has_addr && h.len == 232);
}

TEST(proxyproto_v2_refuses_bad_version_command_family_length)
{
    uint8_t in[4200], body[64] = {0};
    ag_proxyproto_t h;
    CHECK_EQ(pp(in, v2(in, 0x11, 0x11, body, 12), &h), AG_PROXYPROTO_INVALID); /* v1 byte */
    CHECK_EQ(pp(in, v2(in, 0x31, 0x11, body, 12), &h), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pp(in, v2(in, 0x22, 0x11, body, 12), &h), AG_PROXYPROTO_INVALID); /* command */
    CHECK_EQ(pp(in, v2(in, 0x2f, 0x11, body, 12), &h), AG_PROXYPROTO_INVALID);
    const uint8_t fams[] = {0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x33, 0x41, 0xff};
    for (size_t i = 0; i < sizeof fams; i++)
        CHECK_EQ(pp(in, v2(in, 0x21, fams[i], body, 40), &h), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 11), &h), AG_PROXYPROTO_INVALID); /* short */
    CHECK_EQ(pp(in, v2(in, 0x21, 0x21, body, 12), &h), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x31, body, 36), &h), AG_PROXYPROTO_INVALID);
    /* decided on the first bytes, before the rest arrives */
    v2(in, 0x31, 0x11, body, 12);
    CHECK_EQ(pp(in, 13, &h), AG_PROXYPROTO_INVALID);
    v2(in, 0x21, 0x41, body, 12);
    CHECK_EQ(pp(in, 14, &h), AG_PROXYPROTO_INVALID);
    v2(in, 0x21, 0x11, body, 8);
    CHECK_EQ(pp(in, 16, &h), AG_PROXYPROTO_INVALID);
}

TEST(proxyproto_v2_length_is_bounded_before_it_arrives)
{
    uint8_t in[16 + AG_PROXYPROTO_V2_MAX_LEN + 1];
    static uint8_t body[AG_PROXYPROTO_V2_MAX_LEN + 1];
    ag_proxyproto_t h;
    size_t n = v2(in, 0x21, 0x11, body, AG_PROXYPROTO_V2_MAX_LEN + 1);
    CHECK_EQ(pp(in, 16, &h), AG_PROXYPROTO_TOO_BIG);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_TOO_BIG);
    in[14] = 0xff, in[15] = 0xff;
    CHECK_EQ(pp(in, 16, &h), AG_PROXYPROTO_TOO_BIG);
    /* 2048: 12 address bytes, then 2036 bytes of TLVs; as 678 empty TLVs they leave 2
     * bytes that are no TLV; as one TLV of 2033 bytes they fill it exactly */
    n = v2(in, 0x21, 0x11, body, AG_PROXYPROTO_V2_MAX_LEN);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_INVALID);
    in[16 + 12] = 0x04;
    in[16 + 12 + 2] = (uint8_t)(AG_PROXYPROTO_V2_MAX_LEN - 12 - 3); /* one TLV, 2033 bytes */
    in[16 + 12 + 1] = (uint8_t)((AG_PROXYPROTO_V2_MAX_LEN - 12 - 3) >> 8);
    CHECK_EQ(pp(in, n, &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(h.len, 16 + AG_PROXYPROTO_V2_MAX_LEN);
    CHECK_EQ(pp(in, n - 1, &h), AG_PROXYPROTO_MORE);
}

TEST(proxyproto_v2_tlvs_stay_inside_the_header)
{
    uint8_t in[128], body[64] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2};
    ag_proxyproto_t h;
    memcpy(body + 12, "\x02\x00\x05", 3); /* AUTHORITY claiming 5 bytes, 4 present */
    memcpy(body + 15, "host", 4);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 19), &h), AG_PROXYPROTO_INVALID);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 20), &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 13), &h), AG_PROXYPROTO_INVALID); /* 1 byte */
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 14), &h), AG_PROXYPROTO_INVALID); /* 2 bytes */
    body[13] = 0xff;
    body[14] = 0xff; /* 65535-byte TLV inside a 20-byte block */
    CHECK_EQ(pp(in, v2(in, 0x21, 0x11, body, 20), &h), AG_PROXYPROTO_INVALID);
    /* LOCAL and UNSPEC blocks are skipped unread */
    CHECK_EQ(pp(in, v2(in, 0x20, 0x11, body, 14), &h), AG_PROXYPROTO_DONE);
    CHECK_EQ(pp(in, v2(in, 0x21, 0x00, body, 14), &h), AG_PROXYPROTO_DONE);
}

TEST(proxyproto_fed_one_byte_at_a_time_completes_once)
{
    const char *v1 = "PROXY TCP4 203.0.113.7 10.0.0.1 40000 8443\r\n\x16\x03";
    uint8_t in[64], body[12] = {203, 0, 113, 7, 10, 0, 0, 1, 0x9c, 0x40, 0x20, 0xfb};
    size_t n2 = v2(in, 0x21, 0x11, body, 12);
    in[n2] = 'G';
    const struct {
        const uint8_t *p;
        size_t n, hlen;
    } cases[] = {{(const uint8_t *)v1, strlen(v1), strlen(v1) - 2}, {in, n2 + 1, n2}};
    for (int c = 0; c < 2; c++) {
        ag_proxyproto_t h;
        for (size_t i = 0; i <= cases[c].n; i++) {
            ag_proxyproto_status st = pp(cases[c].p, i, &h);
            CHECK_EQ(st, i < cases[c].hlen ? AG_PROXYPROTO_MORE : AG_PROXYPROTO_DONE);
        }
        char b[AG_IPADDR_STRLEN];
        CHECK_STREQ(src_text(&h, b), "203.0.113.7");
        CHECK_EQ(h.src_port, 40000);
        CHECK_EQ(h.dst_port, 8443);
        CHECK_EQ(h.len, cases[c].hlen);
    }
}
