/* RFC 3339 timestamps (core/base/rfc3339.c): what a time-bound binding's window annotations
 * accept and refuse. Hostile inputs never parse to a time, and every slice is read only
 * within its length (the ASan build runs these on exact-size heap copies). */
#include <stdint.h>

#include "base/rfc3339.h"
#include "testlib.h"

/* Parses a heap copy of exactly strlen(s) bytes, so a read past the end is caught. */
static ag_err parse(const char *s, int64_t *sec, int32_t *nsec)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    ag_err err = ag_rfc3339_parse(ag_str_make(copy, n), sec, nsec);
    free(copy);
    return err;
}

static int64_t secs(const char *s)
{
    int64_t sec = -1;
    int32_t nsec = -1;
    CHECK_EQ(parse(s, &sec, &nsec), 0);
    return sec;
}

TEST(rfc3339_parses_utc_offsets_and_fractions)
{
    int64_t sec;
    int32_t nsec;
    CHECK_EQ(secs("1970-01-01T00:00:00Z"), 0);
    CHECK_EQ(secs("2026-12-07T21:30:00Z"), 1796679000);
    CHECK_EQ(secs("2026-12-07T23:30:00+02:00"), 1796679000);
    CHECK_EQ(secs("2026-12-07T16:00:00-05:30"), 1796679000);
    CHECK_EQ(secs("2026-12-07t21:30:00z"), 1796679000); /* §5.6 note: lower case allowed */
    CHECK_EQ(secs("1969-12-31T23:59:59Z"), -1);
    CHECK_EQ(secs("2000-02-29T00:00:00Z"), 951782400); /* leap year by 400 */
    CHECK_EQ(secs("0000-01-01T00:00:00Z"), -62167219200LL);
    CHECK_EQ(secs("9999-12-31T23:59:59Z"), 253402300799LL);
    CHECK_EQ(parse("2026-12-07T21:30:00.5Z", &sec, &nsec), 0);
    CHECK_EQ(nsec, 500000000);
    CHECK_EQ(parse("2026-12-07T21:30:00.000000001Z", &sec, &nsec), 0);
    CHECK_EQ(nsec, 1);
    CHECK_EQ(sec, 1796679000);
}

TEST(rfc3339_refuses_hostile_and_near_miss_inputs)
{
    static const char *const bad[] = {
        "",
        " ",
        "Z",
        "2026",
        "2026-12-07",
        "2026-12-07T21:30Z",
        "2026-12-07T21:30:00",
        "2026-12-07 21:30:00Z", /* space: RFC 3339 allows it only by agreement */
        " 2026-12-07T21:30:00Z",
        "2026-12-07T21:30:00Z ",
        "2026-12-07T21:30:00ZZ",
        "2026-12-07T21:30:00+0200",
        "2026-12-07T21:30:00+02",
        "2026-12-07T21:30:00+24:00",
        "2026-12-07T21:30:00+02:60",
        "2026-13-07T21:30:00Z",
        "2026-00-07T21:30:00Z",
        "2026-12-00T21:30:00Z",
        "2026-12-32T21:30:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-12-07T24:00:00Z",
        "2026-12-07T21:60:00Z",
        "2026-12-07T21:30:60Z", /* leap second */
        "2026-12-07T21:30:00.Z",
        "2026-12-07T21:30:00.1234567890Z",
        "2026-12-07T21:30:00,5Z",
        "+2026-12-07T21:30:00Z",
        "-001-12-07T21:30:00Z",
        "20261-12-07T21:30:00Z",
        "2026-1-07T21:30:00Z",
        "2026-12-7T21:30:00Z",
        "2026-12-07T2:30:00Z",
        "2026-12-07T21:3:00Z",
        "2026-12-07T21:30:0Z",
        "2026/12/07T21:30:00Z",
        "2026-12-07X21:30:00Z",
        "2026-12-07T21-30-00Z",
        "2026-12-07T21:30:00+02:00:00",
        "2026-12-07T21:30:00-",
        "2026-12-07T21:30:00+",
        "1796679000",
        "now",
        "never",
        "0x7E9-12-07T21:30:00Z",
        "２０２６-12-07T21:30:00Z",
        "2026-12-07T21:30:00Ｚ",
        "2026-12-07T21:30:00\xe2\x80\x8bZ",
        "9999-99-99T99:99:99Z",
        "2026-12-07T21:30:00.-5Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t sec = 42;
        int32_t nsec = 7;
        if (parse(bad[i], &sec, &nsec) != AG_E_PARSE)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]), ag_test_failures++;
    }
    /* a NUL inside the slice, and a NULL slice */
    int64_t sec;
    int32_t nsec;
    CHECK_EQ(ag_rfc3339_parse(ag_str_make("2026-12-07T21:30:00Z\0", 21), &sec, &nsec), AG_E_PARSE);
    CHECK_EQ(ag_rfc3339_parse(ag_str_make("2026-12-07\0T21:30:00Z", 21), &sec, &nsec), AG_E_PARSE);
    CHECK_EQ(ag_rfc3339_parse(AG_STR_NULL, &sec, &nsec), AG_E_PARSE);
}

/* Every prefix of a valid stamp and every single-byte change of it either parses to a
 * real time or is refused; none crashes or reads outside the slice. */
TEST(rfc3339_every_prefix_and_byte_flip_is_safe)
{
    const char *good = "2024-02-29T23:59:59.999999999+14:00";
    size_t n = strlen(good);
    char buf[64];
    int64_t sec;
    int32_t nsec;
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, good, k);
        buf[k] = '\0';
        CHECK_EQ(parse(buf, &sec, &nsec), AG_E_PARSE);
    }
    for (size_t k = 0; k < n; k++)
        for (int c = 0; c < 256; c++) {
            memcpy(buf, good, n + 1);
            buf[k] = (char)c;
            if (c == 0)
                continue;
            if (parse(buf, &sec, &nsec) == 0) {
                CHECK(nsec >= 0 && nsec < 1000000000);
                CHECK(sec > -62167219200LL - 86400 && sec < 253402300799LL + 86400);
            }
        }
}

TEST(rfc3339_milliseconds_round_toward_granting_less)
{
    int64_t ms;
    CHECK_EQ(ag_rfc3339_parse_ms(AG_STR("1970-01-01T00:00:01.0001Z"), false, &ms), 0);
    CHECK_EQ(ms, 1000);
    CHECK_EQ(ag_rfc3339_parse_ms(AG_STR("1970-01-01T00:00:01.0001Z"), true, &ms), 0);
    CHECK_EQ(ms, 1001);
    CHECK_EQ(ag_rfc3339_parse_ms(AG_STR("1970-01-01T00:00:01.250Z"), true, &ms), 0);
    CHECK_EQ(ms, 1250);
    CHECK_EQ(ag_rfc3339_parse_ms(AG_STR("1969-12-31T23:59:59.5Z"), false, &ms), 0);
    CHECK_EQ(ms, -500);
    CHECK_EQ(ag_rfc3339_parse_ms(AG_STR("bad"), false, &ms), AG_E_PARSE);
}

TEST(rfc3339_format_round_trips)
{
    char out[AG_RFC3339_BUF];
    static const char *const stamps[] = {"1970-01-01T00:00:00Z",     "2026-12-07T21:30:00Z",
                                         "2026-12-07T21:30:00.250Z", "1969-12-31T23:59:59.500Z",
                                         "2000-02-29T12:00:00Z",     "0000-01-01T00:00:00Z",
                                         "9999-12-31T23:59:59.999Z"};
    for (size_t i = 0; i < sizeof stamps / sizeof stamps[0]; i++) {
        int64_t ms;
        CHECK_EQ(ag_rfc3339_parse_ms(ag_str_cstr(stamps[i]), false, &ms), 0);
        ag_rfc3339_format_ms(ms, out);
        CHECK_STREQ(out, stamps[i]);
    }
    ag_rfc3339_format_ms(INT64_MAX, out);
    CHECK_STREQ(out, "9999-12-31T23:59:59.999Z");
    ag_rfc3339_format_ms(INT64_MIN, out);
    CHECK_STREQ(out, "0000-01-01T00:00:00Z");
}
