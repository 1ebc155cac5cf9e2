/* Growable byte buffer with a hard maximum: every buffer that grows has a cap, and
 * exceeding it is an error (AG_E_TOO_BIG), never silent truncation. Owns its bytes. */
#ifndef AG_BUF_H
#define AG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "base/err.h"
#include "base/str.h"

typedef struct {
    char *p;
    size_t n;   /* bytes used; p[n] is always '\0' when p != NULL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on n */
} ag_buf_t;

#define AG_BUF_INIT(maxbytes) ((ag_buf_t){NULL, 0, 0, (maxbytes)})

void ag_buf_init(ag_buf_t *b, size_t max);
void ag_buf_dispose(ag_buf_t *b);
static inline void ag_buf_clear(ag_buf_t *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}
ag_err ag_buf_reserve(ag_buf_t *b, size_t extra);
/* ag_buf_append when the bytes may not fit the room allocated (grows or fails). */
ag_err ag_buf_append_grow(ag_buf_t *b, const void *p, size_t n);
/* Inline when the bytes fit the room already allocated and the cap (the common case of
 * the audit writer's and the Status bodies' many short appends); otherwise the same
 * checks as ag_buf_reserve. */
static inline ag_err ag_buf_append(ag_buf_t *b, const void *p, size_t n)
{
    /* cap 0 (no p yet) and a cap lowered below n: the slow path decides */
    if (n >= b->cap - b->n || b->n > b->max || n > b->max - b->n)
        return ag_buf_append_grow(b, p, n);
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}
static inline ag_err ag_buf_append_str(ag_buf_t *b, ag_str_t s)
{
    return ag_buf_append(b, s.p, s.n);
}
/* Inline: a literal's length is known at compile time. */
static inline ag_err ag_buf_append_cstr(ag_buf_t *b, const char *s)
{
    return ag_buf_append(b, s, strlen(s));
}
ag_err ag_buf_printf(ag_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ag_err ag_buf_vprintf(ag_buf_t *b, const char *fmt, va_list ap);
static inline ag_str_t ag_buf_str(const ag_buf_t *b)
{
    return (ag_str_t){b->p ? b->p : "", b->n};
}
/* A file reader: appends the whole file at <path> to <b>; AG_E_TOO_BIG past b->max,
 * AG_E_IO otherwise. For core code that takes file names from the configuration but
 * leaves the reading to its caller (core does no file I/O; config/files.h
 * ag_buf_read_file is the one implementation). */
typedef ag_err (*ag_read_file_fn)(ag_buf_t *b, const char *path);

#endif
