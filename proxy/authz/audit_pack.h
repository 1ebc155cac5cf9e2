/* The byte encoding of what a worker hands the audit writer (audit.c, audit_log.c): a
 * string is its length as a LEB128 varint (one byte below 128) and its bytes; a count is a
 * varint. Writing runs twice over the same fields, with p NULL to size, then into the
 * ring; reading checks every length against the end and fails closed (r->bad). Most
 * strings of an event are a few bytes, so they are copied inline, not by a libc call.
 * Internal to proxy/authz. Lifetime: the reader borrows its bytes. */
#ifndef AG_AUDIT_PACK_H
#define AG_AUDIT_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/str.h"

static inline size_t ag_ap_n(char *p, size_t at, size_t n)
{
    do {
        if (p)
            p[at] = (char)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        at++;
    } while ((n >>= 7) != 0);
    return at;
}

/* <n> bytes, n <= 16 without a call (overlapping 8- and 4-byte moves). */
static inline void ag_ap_copy(char *d, const char *s, size_t n)
{
    uint64_t a, b;
    uint32_t c, e;
    if (n >= 8 && n <= 16) {
        memcpy(&a, s, 8), memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8), memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(&c, s, 4), memcpy(&e, s + n - 4, 4);
        memcpy(d, &c, 4), memcpy(d + n - 4, &e, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, n);
    }
}

static inline size_t ag_ap_s(char *p, size_t at, ag_str_t s)
{
    at = ag_ap_n(p, at, s.n);
    if (p)
        ag_ap_copy(p + at, s.p, s.n);
    return at + s.n;
}

typedef struct {
    const char *p, *end;
    bool bad;
} ag_ap_reader_t;

static inline size_t ag_ap_get_n(ag_ap_reader_t *r)
{
    size_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->p >= r->end)
            break;
        unsigned char b = (unsigned char)*r->p++;
        v |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true; /* cut short, or more than 32 bits */
    return 0;
}

static inline ag_str_t ag_ap_get_s(ag_ap_reader_t *r)
{
    size_t n = ag_ap_get_n(r);
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return AG_STR_NULL;
    }
    r->p += n;
    return n ? ag_str_make(r->p - n, n) : AG_STR_NULL;
}

#endif
