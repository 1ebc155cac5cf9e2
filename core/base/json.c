/* Strict JSON (json.h). Two passes: a small RFC 8259 validator that knows the exact
 * grammar, depth and string rules (jsmn alone accepts e.g. missing commas and bare
 * words) and counts the values and keys, then one jsmn pass into an array of exactly
 * that size for the token tree, then a duplicate-key check per object. */
#include "base/json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

struct ag_json_tok {
    jsmntok_t t;
    int next; /* index of the first token after this value's subtree */
};

/* ---- validator ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    int depth, max_depth;
    size_t ntok; /* values + object keys seen: jsmn's token count for a valid text */
    const char *msg;
    ag_err err;
} vstate;

static bool fail(vstate *v, const char *msg, ag_err err)
{
    if (!v->msg) {
        v->msg = msg;
        v->err = err;
    }
    return false;
}

static void skip_ws(vstate *v)
{
    while (v->i < v->n) {
        unsigned char c = v->s[v->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        v->i++;
    }
}

static bool read_u4(const unsigned char *p, size_t avail, unsigned *out)
{
    unsigned v = 0;
    if (avail < 4)
        return false;
    for (int k = 0; k < 4; k++) {
        int h = ag_hex_digit(p[k]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Length of a valid UTF-8 sequence at p (1..4), 0 if invalid (overlong, surrogate,
 * > U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min, cp;
    if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool v_string(vstate *v)
{
    v->i++; /* opening quote */
    while (v->i < v->n) {
        unsigned char c = v->s[v->i];
        if (c == '"') {
            v->i++;
            return true;
        }
        if (c < 0x20)
            return fail(v, "control character in string", AG_E_PARSE);
        if (c == '\\') {
            if (v->i + 1 >= v->n)
                break;
            unsigned char e = v->s[v->i + 1];
            if (e == 'u') {
                unsigned u;
                if (!read_u4(v->s + v->i + 2, v->n - v->i - 2, &u))
                    return fail(v, "invalid \\u escape", AG_E_PARSE);
                v->i += 6;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return fail(v, "lone low surrogate in \\u escape", AG_E_PARSE);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (v->i + 1 >= v->n || v->s[v->i] != '\\' || v->s[v->i + 1] != 'u' ||
                        !read_u4(v->s + v->i + 2, v->n - v->i - 2, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return fail(v, "lone high surrogate in \\u escape", AG_E_PARSE);
                    v->i += 6;
                }
                continue;
            }
            if (!memchr("\"\\/bfnrt", e, 8))
                return fail(v, "invalid escape in string", AG_E_PARSE);
            v->i += 2;
            continue;
        }
        size_t len = utf8_len(v->s + v->i, v->n - v->i);
        if (!len)
            return fail(v, "invalid UTF-8 in string", AG_E_PARSE);
        v->i += len;
    }
    return fail(v, "unterminated string", AG_E_PARSE);
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool v_number(vstate *v)
{
    if (v->i < v->n && v->s[v->i] == '-')
        v->i++;
    if (v->i >= v->n || !is_digit(v->s[v->i]))
        return fail(v, "invalid number", AG_E_PARSE);
    if (v->s[v->i] == '0') {
        v->i++;
        if (v->i < v->n && is_digit(v->s[v->i]))
            return fail(v, "leading zero in number", AG_E_PARSE);
    } else {
        while (v->i < v->n && is_digit(v->s[v->i]))
            v->i++;
    }
    if (v->i < v->n && v->s[v->i] == '.') {
        v->i++;
        if (v->i >= v->n || !is_digit(v->s[v->i]))
            return fail(v, "invalid fraction in number", AG_E_PARSE);
        while (v->i < v->n && is_digit(v->s[v->i]))
            v->i++;
    }
    if (v->i < v->n && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
        v->i++;
        if (v->i < v->n && (v->s[v->i] == '+' || v->s[v->i] == '-'))
            v->i++;
        if (v->i >= v->n || !is_digit(v->s[v->i]))
            return fail(v, "invalid exponent in number", AG_E_PARSE);
        while (v->i < v->n && is_digit(v->s[v->i]))
            v->i++;
    }
    return true;
}

static bool v_literal(vstate *v, const char *lit)
{
    size_t len = strlen(lit);
    if (v->n - v->i < len || memcmp(v->s + v->i, lit, len) != 0)
        return fail(v, "invalid literal", AG_E_PARSE);
    v->i += len;
    return true;
}

static bool v_value(vstate *v);

static bool v_container(vstate *v, bool object)
{
    unsigned char close = object ? '}' : ']';
    if (++v->depth > v->max_depth)
        return fail(v, "nesting too deep", AG_E_TOO_DEEP);
    v->i++;
    skip_ws(v);
    if (v->i < v->n && v->s[v->i] == close) {
        v->i++;
        v->depth--;
        return true;
    }
    for (;;) {
        skip_ws(v);
        if (object) {
            if (v->i >= v->n || v->s[v->i] != '"')
                return fail(v, "expected a string key", AG_E_PARSE);
            v->ntok++;
            if (!v_string(v))
                return false;
            skip_ws(v);
            if (v->i >= v->n || v->s[v->i] != ':')
                return fail(v, "expected ':'", AG_E_PARSE);
            v->i++;
        }
        if (!v_value(v))
            return false;
        skip_ws(v);
        if (v->i < v->n && v->s[v->i] == ',') {
            v->i++;
            continue;
        }
        if (v->i < v->n && v->s[v->i] == close) {
            v->i++;
            v->depth--;
            return true;
        }
        return fail(v, object ? "expected ',' or '}'" : "expected ',' or ']'", AG_E_PARSE);
    }
}

static bool v_value(vstate *v)
{
    skip_ws(v);
    if (v->i >= v->n)
        return fail(v, "unexpected end of input", AG_E_PARSE);
    v->ntok++;
    switch (v->s[v->i]) {
    case '{':
        return v_container(v, true);
    case '[':
        return v_container(v, false);
    case '"':
        return v_string(v);
    case 't':
        return v_literal(v, "true");
    case 'f':
        return v_literal(v, "false");
    case 'n':
        return v_literal(v, "null");
    default:
        return v_number(v);
    }
}

/* ---- positions ---------------------------------------------------------------- */

void ag_json_offset_pos(ag_str_t text, size_t offset, int *line, int *col)
{
    int l = 1, c = 1;
    if (offset > text.n)
        offset = text.n;
    for (size_t i = 0; i < offset; i++) {
        if (text.p[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static ag_err set_error(ag_json_error_t *e, ag_str_t text, size_t off, const char *msg, ag_err err)
{
    if (e) {
        e->offset = off;
        e->msg = msg;
        ag_json_offset_pos(text, off, &e->line, &e->col);
    }
    return err;
}

/* ---- unescaping ----------------------------------------------------------------- */

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes validated string bytes <raw> into <o> (capacity >= raw.n). */
static size_t unescape(ag_str_t raw, char *o)
{
    size_t w = 0;
    for (size_t i = 0; i < raw.n;) {
        char c = raw.p[i];
        if (c != '\\') {
            o[w++] = c;
            i++;
            continue;
        }
        char e = raw.p[i + 1];
        i += 2;
        switch (e) {
        case 'b':
            o[w++] = '\b';
            break;
        case 'f':
            o[w++] = '\f';
            break;
        case 'n':
            o[w++] = '\n';
            break;
        case 'r':
            o[w++] = '\r';
            break;
        case 't':
            o[w++] = '\t';
            break;
        case 'u': {
            unsigned u = 0, lo = 0;
            read_u4((const unsigned char *)raw.p + i, 4, &u);
            i += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                read_u4((const unsigned char *)raw.p + i + 2, 4, &lo);
                i += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            w += put_utf8(o + w, u);
            break;
        }
        default:
            o[w++] = e;
            break; /* " \ / */
        }
    }
    return w;
}

/* ---- duplicate keys ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    const ag_str_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->n ? memcmp(x->p, y->p, x->n) : 0;
}

/* Unescaped keys of object <obj> into <keys> (room for its size). */
static ag_err object_keys(const ag_json_t *doc, int obj, ag_arena_t *arena, ag_str_t *keys)
{
    int k = 0;
    for (ag_json_ref key = obj + 1; k < doc->tok[obj].t.size; key = doc->tok[key].next) {
        ag_err err = ag_json_str(doc, key, arena, &keys[k++]);
        if (err)
            return err;
    }
    return 0;
}

/* Small objects (JWT claims, JWKS keys) compare pairwise: cheaper than sorting. */
#define PAIRWISE_MAX_KEYS 8

static bool has_duplicate(const ag_json_t *doc, int obj, ag_arena_t *arena, ag_err *err)
{
    int n = doc->tok[obj].t.size;
    ag_str_t small[PAIRWISE_MAX_KEYS];
    ag_str_t *keys =
        n <= PAIRWISE_MAX_KEYS ? small : ag_arena_alloc(arena, sizeof(*keys) * (size_t)n);
    if (!keys) {
        *err = AG_E_NOMEM;
        return false;
    }
    if ((*err = object_keys(doc, obj, arena, keys)) != 0)
        return false;
    if (n <= PAIRWISE_MAX_KEYS) {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (keys[i].n == keys[j].n && cmp_str(&keys[i], &keys[j]) == 0)
                    return true;
        return false;
    }
    qsort(keys, (size_t)n, sizeof(*keys), cmp_str);
    for (int j = 1; j < n; j++)
        if (cmp_str(&keys[j - 1], &keys[j]) == 0)
            return true;
    return false;
}

static ag_err check_duplicates(ag_json_t *doc, ag_arena_t *arena, ag_json_error_t *e)
{
    for (int i = 0; i < doc->ntok; i++) {
        jsmntok_t *t = &doc->tok[i].t;
        if (t->type != JSMN_OBJECT || t->size < 2)
            continue;
        ag_err err = 0;
        if (has_duplicate(doc, i, arena, &err))
            return set_error(e, (ag_str_t){doc->src, doc->len}, (size_t)(doc->tok[i].t.start),
                             "duplicate key in object", AG_E_DUPLICATE);
        if (err)
            return err;
    }
    return 0;
}

/* ---- parse -------------------------------------------------------------------- */

ag_err ag_json_parse(ag_json_t *doc, ag_str_t text, const ag_json_limits_t *lim, ag_arena_t *arena,
                     ag_json_error_t *errinfo)
{
    int max_depth = lim && lim->max_depth > 0 ? lim->max_depth : 64;
    int max_tokens = lim && lim->max_tokens > 0 ? lim->max_tokens : 1 << 22;
    vstate v = {(const unsigned char *)text.p, text.n, 0, 0, max_depth, 0, NULL, 0};

    doc->src = text.p;
    doc->len = text.n;
    doc->ntok = 0;
    doc->tok = NULL;
    doc->posmap = NULL;
    if (text.n > (size_t)UINT32_MAX)
        return set_error(errinfo, text, 0, "document too large", AG_E_TOO_BIG);
    if (!v_value(&v))
        return set_error(errinfo, text, v.i, v.msg, v.err);
    skip_ws(&v);
    if (v.i != v.n)
        return set_error(errinfo, text, v.i, "trailing data after JSON value", AG_E_PARSE);

    /* The validator counted what jsmn will produce, so jsmn runs once (a mismatch
     * below would mean the two grammars disagree: refused, never trusted). */
    if (v.ntok > (size_t)max_tokens)
        return set_error(errinfo, text, 0, "too many JSON values", AG_E_TOO_BIG);
    int count = (int)v.ntok;
    jsmn_parser p;
    jsmntok_t *raw = ag_arena_alloc(arena, sizeof(*raw) * (size_t)count);
    struct ag_json_tok *tok = ag_arena_alloc(arena, sizeof(*tok) * (size_t)count);
    if (!raw || !tok)
        return AG_E_NOMEM;
    jsmn_init(&p);
    if (jsmn_parse(&p, text.p, text.n, raw, (unsigned)count) != count)
        return set_error(errinfo, text, 0, "malformed JSON", AG_E_PARSE);
    for (int i = count - 1; i >= 0; i--) { /* children have higher indices */
        tok[i].t = raw[i];
        int j = i + 1;
        for (int k = 0; k < raw[i].size; k++)
            j = tok[j].next;
        tok[i].next = j;
    }
    doc->ntok = count;
    doc->tok = tok;
    return check_duplicates(doc, arena, errinfo);
}

/* ---- access ------------------------------------------------------------------- */

static bool valid(const ag_json_t *doc, ag_json_ref ref)
{
    return ref >= 0 && ref < doc->ntok;
}

ag_json_type ag_json_typeof(const ag_json_t *doc, ag_json_ref ref)
{
    if (!valid(doc, ref))
        return AG_JSON_ABSENT;
    const jsmntok_t *t = &doc->tok[ref].t;
    switch (t->type) {
    case JSMN_OBJECT:
        return AG_JSON_OBJECT;
    case JSMN_ARRAY:
        return AG_JSON_ARRAY;
    case JSMN_STRING:
        return AG_JSON_STRING;
    case JSMN_PRIMITIVE:
        break;
    default:
        return AG_JSON_ABSENT;
    }
    char c = doc->src[t->start];
    if (c == 't' || c == 'f')
        return AG_JSON_BOOL;
    if (c == 'n')
        return AG_JSON_NULL;
    return AG_JSON_NUMBER;
}

int ag_json_count(const ag_json_t *doc, ag_json_ref ref)
{
    ag_json_type ty = ag_json_typeof(doc, ref);
    return (ty == AG_JSON_OBJECT || ty == AG_JSON_ARRAY) ? doc->tok[ref].t.size : 0;
}

ag_json_ref ag_json_first(const ag_json_t *doc, ag_json_ref c)
{
    return ag_json_count(doc, c) > 0 ? c + 1 : AG_JSON_NONE;
}

ag_json_ref ag_json_next(const ag_json_t *doc, ag_json_ref ref)
{
    if (!valid(doc, ref))
        return AG_JSON_NONE;
    int parent = doc->tok[ref].t.parent;
    int next = doc->tok[ref].next;
    /* an object key's subtree includes its value, so next is the next key */
    if (parent < 0 || next >= doc->ntok || next >= doc->tok[parent].next)
        return AG_JSON_NONE;
    return next;
}

ag_str_t ag_json_raw(const ag_json_t *doc, ag_json_ref ref)
{
    if (!valid(doc, ref))
        return AG_STR_NULL;
    const jsmntok_t *t = &doc->tok[ref].t;
    return ag_str_make(doc->src + t->start, (size_t)(t->end - t->start));
}

ag_err ag_json_str(const ag_json_t *doc, ag_json_ref ref, ag_arena_t *arena, ag_str_t *out)
{
    if (ag_json_typeof(doc, ref) != AG_JSON_STRING)
        return AG_E_INVAL;
    ag_str_t raw = ag_json_raw(doc, ref);
    if (!memchr(raw.p, '\\', raw.n)) {
        *out = raw;
        return 0;
    }
    char *o = ag_arena_alloc(arena, raw.n + 1);
    if (!o)
        return AG_E_NOMEM;
    size_t n = unescape(raw, o);
    o[n] = '\0';
    *out = ag_str_make(o, n);
    return 0;
}

/* <raw> (validated string bytes, still escaped) equals <s> of length <sl> unescaped. */
static bool raw_eq(ag_str_t raw, const char *s, size_t sl)
{
    /* unescaping never lengthens: shorter raw bytes cannot match, equal-length ones
     * match only byte for byte and without escapes */
    if (raw.n <= sl)
        return raw.n == sl && (!sl || (raw.p[0] == s[0] && memcmp(raw.p, s, sl) == 0)) &&
               !memchr(raw.p, '\\', raw.n);
    if (!memchr(raw.p, '\\', raw.n))
        return false;
    if (raw.n > 4096)
        return false;
    char tmp[4096];
    size_t n = unescape(raw, tmp);
    return n == sl && memcmp(tmp, s, sl) == 0;
}

bool ag_json_str_eq(const ag_json_t *doc, ag_json_ref ref, const char *s)
{
    if (ag_json_typeof(doc, ref) != AG_JSON_STRING)
        return false;
    return raw_eq(ag_json_raw(doc, ref), s, strlen(s));
}

ag_json_ref ag_json_get(const ag_json_t *doc, ag_json_ref obj, const char *key)
{
    if (ag_json_typeof(doc, obj) != AG_JSON_OBJECT)
        return AG_JSON_NONE;
    size_t kl = strlen(key);
    /* keys of a parsed object are strings; each key's subtree ends at the next key */
    ag_json_ref k = obj + 1;
    for (int i = 0; i < doc->tok[obj].t.size; i++, k = doc->tok[k].next) {
        const jsmntok_t *t = &doc->tok[k].t;
        if (raw_eq(ag_str_make(doc->src + t->start, (size_t)(t->end - t->start)), key, kl))
            return ag_json_value(k);
    }
    return AG_JSON_NONE;
}

ag_err ag_json_int(const ag_json_t *doc, ag_json_ref ref, long long *out)
{
    if (ag_json_typeof(doc, ref) != AG_JSON_NUMBER)
        return AG_E_INVAL;
    ag_str_t raw = ag_json_raw(doc, ref);
    bool neg = raw.n && raw.p[0] == '-';
    unsigned long long v;
    if (!ag_str_to_u64(ag_str_sub(raw, neg, raw.n), &v))
        return AG_E_INVAL; /* fraction, exponent or overflow */
    if (v > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
        return AG_E_INVAL;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

ag_err ag_json_num(const ag_json_t *doc, ag_json_ref ref, double *out)
{
    if (ag_json_typeof(doc, ref) != AG_JSON_NUMBER)
        return AG_E_INVAL;
    ag_str_t raw = ag_json_raw(doc, ref);
    char tmp[64];
    if (raw.n >= sizeof tmp)
        return AG_E_INVAL;
    memcpy(tmp, raw.p, raw.n);
    tmp[raw.n] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        return AG_E_INVAL;
    *out = d;
    return 0;
}

ag_err ag_json_bool(const ag_json_t *doc, ag_json_ref ref, bool *out)
{
    if (ag_json_typeof(doc, ref) != AG_JSON_BOOL)
        return AG_E_INVAL;
    *out = doc->src[doc->tok[ref].t.start] == 't';
    return 0;
}

void ag_json_pos(const ag_json_t *doc, ag_json_ref ref, int *line, int *col)
{
    size_t off = 0;
    if (valid(doc, ref)) {
        off = (size_t)doc->tok[ref].t.start;
        if (doc->tok[ref].t.type == JSMN_STRING && off > 0)
            off--; /* point at the opening quote */
    }
    if (doc->posmap)
        ag_json_posmap_find(doc->posmap, off, line, col);
    else
        ag_json_offset_pos(ag_str_make(doc->src, doc->len), off, line, col);
}

void ag_json_posmap_find(const ag_json_posmap_t *map, size_t offset, int *line, int *col)
{
    size_t lo = 0, hi = map->n; /* the answer is the last entry in [0, hi) with off <= offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->v[mid].off <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    *line = lo ? map->v[lo - 1].line : 0;
    *col = lo ? map->v[lo - 1].col : 0;
}

void ag_json_posmap_dispose(ag_json_posmap_t *map)
{
    free(map->v);
    *map = (ag_json_posmap_t){0};
}

/* ---- writing ------------------------------------------------------------------ */

/* What ag_json_write_str does with a byte: copied (0), a two-character escape (1),
 * \u00XX (2: other controls, and <, >, & as Go's encoding/json), or a UTF-8 lead to
 * check (3: bytes from 0x80; an invalid sequence becomes \ufffd). */
static const unsigned char json_class[256] = {
    [0 ... 0x08] = 2,    ['\t'] = 1, ['\n'] = 1,          [0x0b ... 0x0c] = 2, ['\r'] = 1,
    [0x0e ... 0x1f] = 2, ['"'] = 1,  ['\\'] = 1,          ['<'] = 2,           ['>'] = 2,
    ['&'] = 2,           [0x7f] = 2, [0x80 ... 0xff] = 3,
};

static ag_err put_escape(ag_buf_t *out, unsigned char c, unsigned char cls)
{
    static const char hex[] = "0123456789abcdef";
    if (cls == 3)
        return ag_buf_append(out, "\\ufffd", 6);
    if (cls == 2) {
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        return ag_buf_append(out, u, 6);
    }
    char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c};
    return ag_buf_append(out, e, 2);
}

ag_err ag_json_write_str(ag_buf_t *out, ag_str_t s)
{
    if (s.n == 0) /* also {NULL, 0}: no pointer arithmetic on NULL below */
        return ag_buf_append(out, "\"\"", 2);
    ag_err err = ag_buf_reserve(out, s.n + 2);
    if (err || (err = ag_buf_append(out, "\"", 1)) != 0)
        return err;
    const unsigned char *p = (const unsigned char *)s.p;
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < s.n;) {
        while (i + 4 <= s.n && !(json_class[p[i]] | json_class[p[i + 1]] | json_class[p[i + 2]] |
                                 json_class[p[i + 3]]))
            i += 4; /* four plain bytes a step: most of a URI, a name, a reason */
        if (i == s.n)
            break;
        unsigned char cls = json_class[p[i]];
        size_t adv = 1;
        if (cls == 3 && (adv = utf8_len(p + i, s.n - i)) != 0) {
            i += adv; /* valid UTF-8: copied */
            continue;
        }
        if (cls == 0) {
            i++;
            continue;
        }
        if ((err = ag_buf_append(out, s.p + run, i - run)) != 0 ||
            (err = put_escape(out, p[i], cls)) != 0)
            return err;
        run = ++i;
    }
    if ((err = ag_buf_append(out, s.p + run, s.n - run)) != 0)
        return err;
    return ag_buf_append(out, "\"", 1);
}

ag_err ag_json_write_strs(ag_buf_t *out, const ag_str_t *v, int n)
{
    ag_err err = ag_buf_append(out, "[", 1);
    for (int i = 0; i < n && !err; i++)
        if (!(i && (err = ag_buf_append(out, ",", 1))))
            err = ag_json_write_str(out, v[i]);
    return err ? err : ag_buf_append(out, "]", 1);
}
