/* The Kubernetes list/watch wire format, as the gateway's RBAC reflector (proxy/authz/rbacsync.c)
 * reads it from the API server: list pages ({"metadata": {"resourceVersion", "continue"},
 * "items": [...]}) and the watch stream (one JSON event object per line: {"type": ADDED |
 * MODIFIED | DELETED | BOOKMARK | ERROR, "object": {...}}). Every byte here is untrusted:
 * anything that is not exactly such a page or event is an error (the reflector relists),
 * never a partial result. I/O-free; owns nothing past a call but the framer's buffer.
 *
 * Lifetimes: parsed slices point into the bytes given or into the caller's arena. */
#ifndef AG_KWATCH_H
#define AG_KWATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_KWATCH_MAX_RV 64 /* resourceVersion: opaque, etcd's is a decimal int64 */

typedef enum {
    AG_KW_ADDED,
    AG_KW_MODIFIED,
    AG_KW_DELETED,
    AG_KW_BOOKMARK,
    AG_KW_ERROR,
} ag_kw_type;

/* One object's identity and version as read from its metadata. */
typedef struct {
    ag_str_t kind;     /* "kind" when the object carries one (events do, list items not) */
    ag_str_t ns, name; /* unescaped (slices of the input or the arena); ns "" when cluster-scoped */
    ag_str_t rv;       /* metadata.resourceVersion (may be "" in a list item) */
    ag_str_t json;     /* the object's JSON text: a slice of the bytes parsed */
} ag_kw_object_t;

typedef struct {
    ag_kw_type type;
    ag_kw_object_t obj; /* ADDED/MODIFIED/DELETED: the object; BOOKMARK: rv only */
    int code;           /* ERROR: the Status's code (410 for an expired version), else 0 */
    ag_str_t message;   /* ERROR: the Status's message (arena) */
} ag_kw_event_t;

/* Parses one watch event line for a kind whose objects are <namespaced>. Objects must
 * carry metadata.name (and metadata.namespace when namespaced) and a resourceVersion;
 * ERROR carries a Status. AG_E_PARSE for anything else (garbage, unknown type, missing
 * fields), AG_E_TOO_BIG over the arena's limits. */
ag_err ag_kw_parse_event(ag_str_t line, bool namespaced, ag_arena_t *arena, ag_kw_event_t *ev);

/* One list page: its resourceVersion and continue token (arena; "" when last) and items.
 * <fn> is called for every item in order (its json a slice of <body>); a non-zero return
 * stops and is returned. The whole page is validated before the first call, so an
 * invalid page calls <fn> for nothing. */
typedef ag_err (*ag_kw_item_fn)(void *ctx, const ag_kw_object_t *item);
ag_err ag_kw_parse_page(ag_str_t body, bool namespaced, ag_arena_t *arena, ag_str_t *rv,
                        ag_str_t *cont, ag_kw_item_fn fn, void *ctx);

/* Splits a watch stream into lines. Bytes are appended to <buf> (its max bounds one
 * event: a longer line is AG_E_TOO_BIG); every complete line (without its "\n"; empty
 * lines skipped) goes to <fn>; a non-zero return from <fn> stops and is returned. */
typedef ag_err (*ag_kw_line_fn)(void *ctx, ag_str_t line);
ag_err ag_kw_feed(ag_buf_t *buf, ag_str_t data, ag_kw_line_fn fn, void *ctx);

const char *ag_kw_type_name(ag_kw_type t);

#endif
