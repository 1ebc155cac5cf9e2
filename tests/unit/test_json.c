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
