/* Growable capped buffer (buf.h). No file I/O: config/files.c reads files. */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ag_buf_init(ag_buf_t *b, size_t max)
{
    *b = AG_BUF_INIT(max);
}

void ag_buf_dispose(ag_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

ag_err ag_buf_reserve(ag_buf_t *b, size_t extra)
{
    if (extra > b->max || b->n > b->max - extra)
        return AG_E_TOO_BIG;
    size_t need = b->n + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->p, cap);
    if (!p)
        return AG_E_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

ag_err ag_buf_append_grow(ag_buf_t *b, const void *p, size_t n)
{
    ag_err err = ag_buf_reserve(b, n);
    if (err)
        return err;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

ag_err ag_buf_vprintf(ag_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return AG_E_INVAL;
    ag_err err = ag_buf_reserve(b, (size_t)n);
    if (err)
        return err;
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    b->n += (size_t)n;
    return 0;
}

ag_err ag_buf_printf(ag_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ag_err err = ag_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

bool ag_str_to_u64(ag_str_t s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (s.n == 0 || s.n > 20)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (~0ULL - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
