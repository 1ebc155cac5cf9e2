#include "base/json.h"
#include "testlib.h"

static ag_err parse(const char *text, ag_json_t *doc, ag_arena_t *a)
{
    return ag_json_parse(doc, ag_str_cstr(text), NULL, a, NULL);
}

TEST(json_reads_nested_values)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_json_t d;
    CHECK_EQ(parse("{\"a\":[1,2,{\"b\":\"x\\u0041\"}],\"c\":true,\"n\":-12}", &d, &a), 0);
    ag_json_ref arr = ag_json_get(&d, 0, "a");
    CHECK_EQ(ag_json_count(&d, arr), 3);
    ag_json_ref third = ag_json_next(&d, ag_json_next(&d, ag_json_first(&d, arr)));
    ag_str_t s;
    CHECK_EQ(ag_json_str(&d, ag_json_get(&d, third, "b"), &a, &s), 0);
    CHECK_SLICE(s, "xA");
    bool b = false;
    CHECK_EQ(ag_json_bool(&d, ag_json_get(&d, 0, "c"), &b), 0);
    CHECK(b);
    long long n = 0;
    CHECK_EQ(ag_json_int(&d, ag_json_get(&d, 0, "n"), &n), 0);
    CHECK_EQ(n, -12);
    CHECK_EQ(ag_json_get(&d, 0, "missing"), AG_JSON_NONE);
    ag_arena_dispose(&a);
}

TEST(json_rejects_what_rfc8259_forbids)
{
    const char *bad[] = {"{\"a\":1 \"b\":2}",
                         "[1,]",
                         "{\"a\":tru}",
                         "[01]",
                         "[1.]",
                         "[\"\\x\"]",
                         "[\"a\nb\"]",
                         "{} {}",
                         "[NaN]",
                         "[Infinity]",
                         "[\"\\ud800\"]",
                         "[\"\xff\"]",
                         "[\"\xc0\xaf\"]",
                         "{a:1}",
                         "'x'",
                         "",
                         "[1e]",
                         "{\"a\"}",
                         "[-]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_arena_t a;
        ag_arena_init(&a, 0, 0);
        ag_json_t d;
        if (parse(bad[i], &d, &a) == 0) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            CHECK(!"invalid JSON accepted");
        }
        ag_arena_dispose(&a);
    }
}

TEST(json_rejects_duplicate_keys_even_when_escaped)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_json_t d;
    CHECK_EQ(parse("{\"alg\":\"RS256\",\"alg\":\"none\"}", &d, &a), AG_E_DUPLICATE);
    CHECK_EQ(parse("{\"alg\":\"RS256\",\"\\u0061lg\":\"none\"}", &d, &a), AG_E_DUPLICATE);
    CHECK_EQ(parse("{\"a\":{\"x\":1},\"b\":{\"x\":1}}", &d, &a), 0);
    ag_arena_dispose(&a);
}

TEST(json_limits_depth)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_json_t d;
    ag_json_limits_t lim = {.max_depth = 3};
    CHECK_EQ(ag_json_parse(&d, AG_STR("[[[1]]]"), &lim, &a, NULL), 0);
    CHECK_EQ(ag_json_parse(&d, AG_STR("[[[[1]]]]"), &lim, &a, NULL), AG_E_TOO_DEEP);
    ag_arena_dispose(&a);
}

TEST(json_numbers_must_be_finite_and_ints_exact)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_json_t d;
    CHECK_EQ(parse("[1e999, 1.5, 9223372036854775808, 3]", &d, &a), 0);
    double x;
    long long n;
    ag_json_ref r = ag_json_first(&d, 0);
    CHECK_EQ(ag_json_num(&d, r, &x), AG_E_INVAL);
    r = ag_json_next(&d, r);
    CHECK_EQ(ag_json_int(&d, r, &n), AG_E_INVAL);
    r = ag_json_next(&d, r);
    CHECK_EQ(ag_json_int(&d, r, &n), AG_E_INVAL);
    r = ag_json_next(&d, r);
    CHECK_EQ(ag_json_int(&d, r, &n), 0);
    CHECK_EQ(n, 3);
    ag_arena_dispose(&a);
}

TEST(json_error_positions_are_line_and_column)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_json_t d;
    ag_json_error_t e = {0};
    CHECK_EQ(ag_json_parse(&d, AG_STR("{\n  \"a\": 1,\n  \"b\": x\n}"), NULL, &a, &e), AG_E_PARSE);
    CHECK_EQ(e.line, 3);
    CHECK_EQ(e.col, 8);
    ag_arena_dispose(&a);
}

TEST(json_writer_escapes_controls_and_bad_utf8)
{
    ag_buf_t b = AG_BUF_INIT(1024);
    CHECK_EQ(ag_json_write_str(&b, AG_STR("a\"\\\n\x01<\xff\xc3\xa9")), 0);
    CHECK_STREQ(b.p, "\"a\\\"\\\\\\n\\u0001\\u003c\\ufffd\xc3\xa9\"");
    ag_buf_dispose(&b);
}

TEST(json_writer_accepts_null_empty_slice)
{
    ag_buf_t b = AG_BUF_INIT(64);
    CHECK_EQ(ag_json_write_str(&b, AG_STR_NULL), 0);
    CHECK_STREQ(b.p, "\"\"");
    ag_buf_dispose(&b);
}

/* The escaping ag_json_write_str had before its class table (byte by byte, the same rules
 * spelled out): the table-driven writer must give the same bytes for every input. */
static size_t ref_utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0], cp, min;
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || avail < len)
        return 0;
    cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : len;
}

static void ref_write_str(ag_buf_t *out, const unsigned char *s, size_t n)
{
    ag_buf_append(out, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t adv = c >= 0x80 ? ref_utf8_len(s + i, n - i) : 1;
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
            ag_buf_printf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
            ag_buf_printf(out, "\\u%04x", c);
        else if (adv == 0)
            ag_buf_append_cstr(out, "\\ufffd");
        else
            ag_buf_append(out, s + i, adv);
        i += adv ? adv : 1;
    }
    ag_buf_append(out, "\"", 1);
}

static void check_same_escaping(const unsigned char *s, size_t n)
{
    ag_buf_t got = AG_BUF_INIT(1024), want = AG_BUF_INIT(1024);
    CHECK_EQ(ag_json_write_str(&got, ag_str_make((const char *)s, n)), 0);
    ref_write_str(&want, s, n);
    CHECK(got.n == want.n && memcmp(got.p, want.p, got.n) == 0);
    ag_buf_dispose(&got);
    ag_buf_dispose(&want);
}

TEST(json_writer_escapes_every_byte_as_the_reference)
{
    unsigned char s[8];
    for (unsigned a = 0; a < 256; a++) { /* every byte alone and before each other byte */
        s[0] = (unsigned char)a;
        check_same_escaping(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b, s[2] = 'x';
            check_same_escaping(s, 3);
        }
    }
    unsigned x = 12345; /* and short strings biased to UTF-8 leads and continuations */
    static const unsigned char pick[] = {'a',  '"',  '\\', '\n', 0x01, '<',  0x7f, 0xc3,
                                         0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80,
                                         0xed, 0xa0, 0xc0, 0xf5, 0x80, 0xbf, ' '};
    for (int round = 0; round < 200000; round++) {
        size_t n = 1 + round % 8;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            s[i] = pick[(x >> 16) % sizeof pick];
        }
        check_same_escaping(s, n);
    }
}
