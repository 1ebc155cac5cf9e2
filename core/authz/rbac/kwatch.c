/* The list/watch wire format (kwatch.h): strict reading with core/base/json.c, one event line
 * or one list page at a time. A page is read twice (validate every item, then hand them
 * out) so a bad item anywhere leaves the caller's state untouched. */
#include "authz/rbac/kwatch.h"

#include <limits.h>
#include <string.h>

#include "base/json.h"

static ag_json_limits_t limits_for(size_t n)
{
    /* a token needs at least two bytes of JSON; 64 levels is far more than RBAC nests */
    size_t t = n / 2 + 64;
    return (ag_json_limits_t){.max_depth = 64,
                              .max_tokens = t < INT_MAX / 2 ? (int)t : INT_MAX / 2};
}

static ag_err str_field(const ag_json_t *d, ag_json_ref obj, const char *key, bool required,
                        ag_arena_t *arena, ag_str_t *out)
{
    ag_json_ref v = ag_json_get(d, obj, key);
    *out = AG_STR("");
    if (v == AG_JSON_NONE)
        return required ? AG_E_PARSE : 0;
    if (ag_json_typeof(d, v) != AG_JSON_STRING)
        return AG_E_PARSE;
    return ag_json_str(d, v, arena, out) != 0 ? AG_E_NOMEM : 0;
}

/* An object's identity from its metadata; <need_rv>: events carry one, list items may
 * not. A resourceVersion longer than AG_KWATCH_MAX_RV is refused (it is opaque, but
 * etcd's is a decimal int64, and the reflector keeps it in a fixed buffer). */
static ag_err read_object(const ag_json_t *d, ag_json_ref obj, bool namespaced, bool need_rv,
                          ag_arena_t *arena, ag_kw_object_t *out)
{
    ag_err err;
    ag_json_ref md = ag_json_get(d, obj, "metadata");
    if (ag_json_typeof(d, obj) != AG_JSON_OBJECT || ag_json_typeof(d, md) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if ((err = str_field(d, obj, "kind", false, arena, &out->kind)) ||
        (err = str_field(d, md, "name", true, arena, &out->name)) ||
        (err = str_field(d, md, "namespace", false, arena, &out->ns)) ||
        (err = str_field(d, md, "resourceVersion", need_rv, arena, &out->rv)))
        return err;
    if (!out->name.n || out->rv.n > AG_KWATCH_MAX_RV || (need_rv && !out->rv.n))
        return AG_E_PARSE;
    if (namespaced != (out->ns.n > 0))
        return AG_E_PARSE; /* a namespaced kind without a namespace, or the reverse */
    out->json = ag_json_raw(d, obj);
    return 0;
}

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *ag_kw_type_name(ag_kw_type t)
{
    return (unsigned)t < 5 ? type_names[t] : "?";
}

static ag_err read_status(const ag_json_t *d, ag_json_ref obj, ag_arena_t *arena, ag_kw_event_t *ev)
{
    long long code = 0;
    ag_json_ref c = ag_json_get(d, obj, "code");
    if (ag_json_typeof(d, obj) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if (c != AG_JSON_NONE && (ag_json_int(d, c, &code) != 0 || code < 0 || code > 999))
        return AG_E_PARSE;
    ev->code = (int)code;
    return str_field(d, obj, "message", false, arena, &ev->message);
}

static ag_err read_bookmark(const ag_json_t *d, ag_json_ref obj, ag_arena_t *arena,
                            ag_kw_event_t *ev)
{
    ag_json_ref md = ag_json_get(d, obj, "metadata");
    ag_err err;
    if (ag_json_typeof(d, obj) != AG_JSON_OBJECT || ag_json_typeof(d, md) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if ((err = str_field(d, md, "resourceVersion", true, arena, &ev->obj.rv)) != 0)
        return err;
    return ev->obj.rv.n && ev->obj.rv.n <= AG_KWATCH_MAX_RV ? 0 : AG_E_PARSE;
}

ag_err ag_kw_parse_event(ag_str_t line, bool namespaced, ag_arena_t *arena, ag_kw_event_t *ev)
{
    ag_json_t d;
    ag_json_limits_t lim = limits_for(line.n);
    ag_str_t type;
    ag_err err;
    memset(ev, 0, sizeof *ev);
    if ((err = ag_json_parse(&d, line, &lim, arena, NULL)) != 0)
        return err == AG_E_NOMEM || err == AG_E_TOO_BIG ? err : AG_E_PARSE;
    ag_json_ref root = ag_json_root(&d), obj = ag_json_get(&d, root, "object");
    if (ag_json_typeof(&d, root) != AG_JSON_OBJECT || obj == AG_JSON_NONE ||
        (err = str_field(&d, root, "type", true, arena, &type)) != 0)
        return err ? err : AG_E_PARSE;
    int t = -1;
    for (int i = 0; i < 5; i++)
        if (ag_str_eq_lit(type, type_names[i]))
            t = i;
    if (t < 0)
        return AG_E_PARSE;
    ev->type = (ag_kw_type)t;
    if (t == AG_KW_ERROR)
        return read_status(&d, obj, arena, ev);
    if (t == AG_KW_BOOKMARK)
        return read_bookmark(&d, obj, arena, ev);
    return read_object(&d, obj, namespaced, true, arena, &ev->obj);
}

ag_err ag_kw_parse_page(ag_str_t body, bool namespaced, ag_arena_t *arena, ag_str_t *rv,
                        ag_str_t *cont, ag_kw_item_fn fn, void *ctx)
{
    ag_json_t d;
    ag_json_limits_t lim = limits_for(body.n);
    ag_kw_object_t item;
    ag_err err;
    if ((err = ag_json_parse(&d, body, &lim, arena, NULL)) != 0)
        return err == AG_E_NOMEM || err == AG_E_TOO_BIG ? err : AG_E_PARSE;
    ag_json_ref root = ag_json_root(&d), md = ag_json_get(&d, root, "metadata"),
                items = ag_json_get(&d, root, "items");
    if (ag_json_typeof(&d, root) != AG_JSON_OBJECT || ag_json_typeof(&d, md) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if ((err = str_field(&d, md, "resourceVersion", true, arena, rv)) ||
        (err = str_field(&d, md, "continue", false, arena, cont)))
        return err;
    if (!rv->n || rv->n > AG_KWATCH_MAX_RV)
        return AG_E_PARSE;
    ag_json_type it = ag_json_typeof(&d, items);
    if (it != AG_JSON_ARRAY && it != AG_JSON_NULL && it != AG_JSON_ABSENT)
        return AG_E_PARSE;
    if (it != AG_JSON_ARRAY)
        return 0; /* an empty list: Go encodes a nil slice as null */
    for (int pass = 0; pass < 2; pass++)
        for (ag_json_ref e = ag_json_first(&d, items); e != AG_JSON_NONE; e = ag_json_next(&d, e)) {
            if ((err = read_object(&d, e, namespaced, false, arena, &item)) != 0)
                return err;
            if (pass == 1 && (err = fn(ctx, &item)) != 0)
                return err;
        }
    return 0;
}

ag_err ag_kw_feed(ag_buf_t *buf, ag_str_t data, ag_kw_line_fn fn, void *ctx)
{
    ag_err err = 0;
    while (data.n) {
        size_t nl = ag_str_find_char(data, '\n');
        size_t take = nl < data.n ? nl : data.n;
        if ((err = ag_buf_append(buf, data.p, take)) != 0)
            return err; /* one event longer than the buffer's max */
        if (nl >= data.n)
            return 0; /* the rest of this line comes with the next piece */
        data = ag_str_sub(data, nl + 1, data.n - nl - 1);
        ag_str_t line = ag_buf_str(buf);
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        err = line.n ? fn(ctx, line) : 0;
        ag_buf_clear(buf);
        if (err)
            return err;
    }
    return 0;
}
