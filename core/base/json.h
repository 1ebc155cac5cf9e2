/* Strict JSON reading (over jsmn) and writing. Untrusted bytes (tokens, JWKS, webhook
 * bodies, config, policy) all come through here, so the reader rejects what RFC 8259
 * does not allow and what two parsers could read differently: duplicate keys (compared
 * after unescaping), invalid escapes or UTF-8, lone surrogates, control characters,
 * trailing data, nesting beyond a limit. Numbers convert only when finite.
 *
 * A parsed document borrows <text> and keeps its token arrays in the caller's arena
 * (lifetime: arena). Values are referred to by token index (ag_json_ref); -1 = absent. */
#ifndef AG_JSON_H
#define AG_JSON_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

typedef int ag_json_ref;
#define AG_JSON_NONE (-1)

typedef enum {
    AG_JSON_ABSENT = 0,
    AG_JSON_OBJECT,
    AG_JSON_ARRAY,
    AG_JSON_STRING,
    AG_JSON_NUMBER,
    AG_JSON_BOOL,
    AG_JSON_NULL,
} ag_json_type;

typedef struct {
    int max_depth;  /* default 64 */
    int max_tokens; /* default 1<<22 */
} ag_json_limits_t;

typedef struct {
    size_t offset;   /* byte offset of the error */
    int line, col;   /* 1-based */
    const char *msg; /* static */
} ag_json_error_t;

/* Positions in a source that was converted to JSON (yaml2json.h): entries sorted by JSON
 * offset; a JSON offset maps to the last entry at or before it. */
typedef struct {
    size_t off;
    int line, col; /* 1-based, in the original source */
} ag_json_mark_t;

typedef struct {
    ag_json_mark_t *v; /* malloc */
    size_t n, cap;
} ag_json_posmap_t;

typedef struct {
    const char *src;
    size_t len;
    int ntok;
    struct ag_json_tok *tok;        /* arena */
    const ag_json_posmap_t *posmap; /* borrowed; NULL: positions are in <src> itself */
} ag_json_t;

/* Parses <text> (borrowed; must outlive <doc>). <lim> may be NULL for defaults. On
 * failure returns AG_E_PARSE / AG_E_TOO_DEEP / AG_E_DUPLICATE / AG_E_TOO_BIG / AG_E_NOMEM
 * and fills <errinfo> (may be NULL). */
ag_err ag_json_parse(ag_json_t *doc, ag_str_t text, const ag_json_limits_t *lim, ag_arena_t *arena,
                     ag_json_error_t *errinfo);

static inline ag_json_ref ag_json_root(const ag_json_t *doc)
{
    return doc->ntok > 0 ? 0 : AG_JSON_NONE;
}
ag_json_type ag_json_typeof(const ag_json_t *doc, ag_json_ref ref);
/* Member count of an object, element count of an array, 0 otherwise. */
int ag_json_count(const ag_json_t *doc, ag_json_ref ref);
/* Value of member <key> of object <obj>, or AG_JSON_NONE (also when obj is not an
 * object). Keys are compared after unescaping. */
ag_json_ref ag_json_get(const ag_json_t *doc, ag_json_ref obj, const char *key);
/* Iteration. For arrays: first element, then ag_json_next. For objects: the first KEY;
 * its value is ag_json_value(key); the next key is ag_json_next(doc, key). Returns
 * AG_JSON_NONE at the end. */
ag_json_ref ag_json_first(const ag_json_t *doc, ag_json_ref container);
ag_json_ref ag_json_next(const ag_json_t *doc, ag_json_ref ref);
static inline ag_json_ref ag_json_value(ag_json_ref key)
{
    return key + 1;
}

/* The raw bytes of a value (strings: between the quotes, still escaped). */
ag_str_t ag_json_raw(const ag_json_t *doc, ag_json_ref ref);
/* Unescaped string value. Returns a borrowed slice when no escapes are present, else
 * an arena copy. AG_E_INVAL when <ref> is not a string. */
ag_err ag_json_str(const ag_json_t *doc, ag_json_ref ref, ag_arena_t *arena, ag_str_t *out);
/* Integer value: exact, no fraction or exponent, within long long. */
ag_err ag_json_int(const ag_json_t *doc, ag_json_ref ref, long long *out);
/* Any finite number. */
ag_err ag_json_num(const ag_json_t *doc, ag_json_ref ref, double *out);
ag_err ag_json_bool(const ag_json_t *doc, ag_json_ref ref, bool *out);
/* True when <ref> is a string whose unescaped value equals <s>. */
bool ag_json_str_eq(const ag_json_t *doc, ag_json_ref ref, const char *s);
/* 1-based line and column of a value in the source (for config error messages). */
void ag_json_pos(const ag_json_t *doc, ag_json_ref ref, int *line, int *col);
void ag_json_offset_pos(ag_str_t text, size_t offset, int *line, int *col);
/* Position of JSON offset <offset> in the source <map> describes (line 0 col 0 when the
 * map is empty). */
void ag_json_posmap_find(const ag_json_posmap_t *map, size_t offset, int *line, int *col);
void ag_json_posmap_dispose(ag_json_posmap_t *map);

/* Writing: appends "<s>" with JSON escaping (control characters as \u00XX, and
 * '<', '>', '&' escaped too so output is safe to embed). Invalid UTF-8 bytes are
 * replaced with U+FFFD. */
ag_err ag_json_write_str(ag_buf_t *out, ag_str_t s);
/* Appends the array ["<v[0]>",...] (each as ag_json_write_str). */
ag_err ag_json_write_strs(ag_buf_t *out, const ag_str_t *v, int n);

#endif
