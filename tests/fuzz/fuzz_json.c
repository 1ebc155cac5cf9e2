/* libFuzzer target for the strict JSON reader (core/base/json.c): parse arbitrary bytes, then
 * walk every value with every accessor, and check that accepted documents keep their
 * promises (keys unique and found by ag_json_get, strings unescape, ag_json_write_str
 * output parses back). Untrusted JSON reaches it from tokens, JWKS, webhooks, config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

static void walk(const ag_json_t *d, ag_json_ref ref, ag_arena_t *a, int depth)
{
    ag_json_type t = ag_json_typeof(d, ref);
    ag_str_t s;
    long long ll;
    double dbl;
    bool b;
    int line, col;

    if (depth > 200)
        FAIL("walk deeper than the depth limit");
    ag_json_pos(d, ref, &line, &col);
    if (line < 1 || col < 1)
        FAIL("bad position");
    (void)ag_json_raw(d, ref);
    switch (t) {
    case AG_JSON_OBJECT: {
        int n = 0;
        for (ag_json_ref k = ag_json_first(d, ref); k != AG_JSON_NONE; k = ag_json_next(d, k)) {
            if (ag_json_str(d, k, a, &s) != 0)
                FAIL("object key does not unescape");
            char *key = ag_arena_cstr(a, s);
            if (key && strlen(key) == s.n && ag_json_get(d, ref, key) != ag_json_value(k))
                FAIL("ag_json_get does not find a key");
            walk(d, ag_json_value(k), a, depth + 1);
            n++;
        }
        if (n != ag_json_count(d, ref))
            FAIL("object member count");
        break;
    }
    case AG_JSON_ARRAY: {
        int n = 0;
        for (ag_json_ref e = ag_json_first(d, ref); e != AG_JSON_NONE; e = ag_json_next(d, e)) {
            walk(d, e, a, depth + 1);
            n++;
        }
        if (n != ag_json_count(d, ref))
            FAIL("array element count");
        break;
    }
    case AG_JSON_STRING:
        if (ag_json_str(d, ref, a, &s) != 0)
            FAIL("accepted string does not unescape");
        (void)ag_json_str_eq(d, ref, "x");
        break;
    case AG_JSON_NUMBER:
        (void)ag_json_int(d, ref, &ll);
        (void)ag_json_num(d, ref, &dbl);
        break;
    case AG_JSON_BOOL:
        if (ag_json_bool(d, ref, &b) != 0)
            FAIL("bool does not read");
        break;
    case AG_JSON_NULL:
        break;
    default:
        FAIL("unknown type");
    }
}

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (len == 0 || n - i < len)
            return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* ag_json_write_str output always parses; for valid UTF-8 it reads back byte for byte. */
static void roundtrip_writer(const uint8_t *data, size_t size)
{
    ag_buf_t w = AG_BUF_INIT(1 << 20);
    ag_arena_t a;
    ag_json_t d;
    ag_str_t back;
    ag_arena_init(&a, 0, 1 << 24);
    if (ag_buf_append(&w, "[", 1) || ag_json_write_str(&w, ag_str_make((const char *)data, size)) ||
        ag_buf_append(&w, "]", 1))
        FAIL("writer failed");
    if (ag_json_parse(&d, ag_buf_str(&w), NULL, &a, NULL) != 0)
        FAIL("ag_json_write_str output does not parse");
    if (ag_json_str(&d, ag_json_first(&d, ag_json_root(&d)), &a, &back) != 0)
        FAIL("written string does not read back");
    if (utf8_valid(data, size) && !ag_str_eq(back, ag_str_make((const char *)data, size)))
        FAIL("valid UTF-8 does not round-trip through ag_json_write_str");
    ag_arena_dispose(&a);
    ag_buf_dispose(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_arena_t a;
    ag_json_t d;
    ag_json_error_t e = {0};
    ag_str_t text = ag_str_make((const char *)data, size);

    ag_arena_init(&a, 0, 1 << 26);
    ag_err err = ag_json_parse(&d, text, NULL, &a, &e);
    if (err == 0) {
        if (ag_json_root(&d) == AG_JSON_NONE)
            FAIL("accepted document without a root");
        walk(&d, ag_json_root(&d), &a, 0);
    } else {
        if (!e.msg || e.offset > size || e.line < 1 || e.col < 1)
            FAIL("error without message or position");
    }
    ag_arena_dispose(&a);
    if (size < 4096)
        roundtrip_writer(data, size);
    return 0;
}
