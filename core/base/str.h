/* Byte slices: the currency of the hot path. A slice borrows bytes owned by someone
 * else (a read buffer, an arena, a snapshot); it never owns and is never NUL-terminated
 * by contract. Pure helpers, no allocation. */
#ifndef AG_STR_H
#define AG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t n;
} ag_str_t;

#define AG_STR(lit) ((ag_str_t){(lit), sizeof(lit) - 1})
#define AG_STR_NULL ((ag_str_t){NULL, 0})
#define AG_STR_FMT(s) (int)(s).n, (s).p /* printf("%.*s", AG_STR_FMT(s)) */

static inline ag_str_t ag_str_make(const char *p, size_t n)
{
    return (ag_str_t){p, n};
}

static inline ag_str_t ag_str_cstr(const char *s)
{
    return (ag_str_t){s, s ? strlen(s) : 0};
}

static inline bool ag_str_eq(ag_str_t a, ag_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool ag_str_eq_lit(ag_str_t a, const char *lit)
{
    return ag_str_eq(a, ag_str_cstr(lit));
}

static inline char ag_ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* ASCII case-insensitive equality (header names, schemes, Azure permissions). */
/* The value of hex digit <c> (0-9, a-f, A-F), or -1 for any other byte. */
static inline int ag_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline bool ag_str_ieq(ag_str_t a, ag_str_t b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if (ag_ascii_lower(a.p[i]) != ag_ascii_lower(b.p[i]))
            return false;
    return true;
}

static inline bool ag_str_starts_with(ag_str_t s, ag_str_t prefix)
{
    return s.n >= prefix.n && memcmp(s.p, prefix.p, prefix.n) == 0;
}

static inline bool ag_str_istarts_with(ag_str_t s, ag_str_t prefix)
{
    return s.n >= prefix.n && ag_str_ieq(ag_str_make(s.p, prefix.n), prefix);
}

static inline ag_str_t ag_str_sub(ag_str_t s, size_t off, size_t n)
{
    if (off > s.n)
        off = s.n;
    if (n > s.n - off)
        n = s.n - off;
    return (ag_str_t){s.p + off, n};
}

/* Index of the first <c> in <s>, or s.n when absent. */
static inline size_t ag_str_find_char(ag_str_t s, char c)
{
    const char *hit = s.n ? memchr(s.p, c, s.n) : NULL;
    return hit ? (size_t)(hit - s.p) : s.n;
}

/* Splits <s> at the first <sep>: *head gets the part before, returns the rest after
 * the separator (or an empty slice with p == NULL when <sep> is absent). */
static inline ag_str_t ag_str_split(ag_str_t s, char sep, ag_str_t *head)
{
    size_t i = ag_str_find_char(s, sep);
    *head = ag_str_make(s.p, i);
    if (i == s.n)
        return AG_STR_NULL;
    return ag_str_make(s.p + i + 1, s.n - i - 1);
}

/* <s> without leading and trailing spaces and tabs (HTTP's optional whitespace). */
static inline ag_str_t ag_str_trim_ows(ag_str_t s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

/* Parses a non-negative decimal integer that fits in uint64 with no sign, spaces or
 * leading '+'. Returns false on any other input (replaces atoi/strtoul). */
bool ag_str_to_u64(ag_str_t s, unsigned long long *out);

/* FNV-1a, for load-time hash tables (not for anything an attacker keys: those use
 * ag_hash_keyed). */
static inline unsigned long long ag_str_hash(ag_str_t s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < s.n; i++) {
        h ^= (unsigned char)s.p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
