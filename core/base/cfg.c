/* Strict configuration reading (cfg.h). */
#include "base/cfg.h"

#include <stdarg.h>
#include <stdio.h>

ag_err ag_cfg_init(ag_cfg_t *cfg, const char *file, ag_str_t text, ag_arena_t *arena)
{
    /* Every field, so a caller's stack struct never carries garbage (skip_serving_files
     * is set by the caller after init). */
    *cfg = (ag_cfg_t){.file = file, .arena = arena, .err = AG_BUF_INIT(4096)};
    ag_json_t *doc = ag_arena_calloc(arena, sizeof(*doc));
    cfg->doc = doc;
    if (!doc)
        return AG_E_NOMEM;
    ag_json_error_t e = {0};
    ag_err err = ag_json_parse(doc, text, NULL, arena, &e);
    if (err == AG_E_NOMEM)
        return err;
    if (err) {
        ag_buf_printf(&cfg->err, "%s:%d:%d: %s", file, e.line, e.col,
                      e.msg ? e.msg : "invalid JSON");
        return AG_E_CONFIG;
    }
    return 0;
}

void ag_cfg_dispose(ag_cfg_t *cfg)
{
    ag_buf_dispose(&cfg->err);
}

ag_err ag_cfg_fail(ag_cfg_t *cfg, ag_json_ref at, const char *path, const char *fmt, ...)
{
    if (cfg->err.n)
        return AG_E_CONFIG;
    int line = 1, col = 1;
    if (at != AG_JSON_NONE)
        ag_json_pos(cfg->doc, at, &line, &col);
    ag_buf_printf(&cfg->err, "%s:%d:%d: %s: ", cfg->file, line, col,
                  path && *path ? path : "(top level)");
    va_list ap;
    va_start(ap, fmt);
    ag_buf_vprintf(&cfg->err, fmt, ap);
    va_end(ap);
    return AG_E_CONFIG;
}

ag_err ag_cfg_obj_begin(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_cfg_obj_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg = cfg;
    o->obj = ref;
    o->path = path;
    if (ag_json_typeof(cfg->doc, ref) != AG_JSON_OBJECT)
        return ag_cfg_fail(cfg, ref, path, "must be an object");
    if (ag_json_count(cfg->doc, ref) > AG_CFG_MAX_KEYS)
        return ag_cfg_fail(cfg, ref, path, "too many keys (at most %d)", AG_CFG_MAX_KEYS);
    return 0;
}

ag_err ag_cfg_obj_end(ag_cfg_obj_t *o)
{
    int i = 0;
    for (ag_json_ref k = ag_json_first(o->cfg->doc, o->obj); k != AG_JSON_NONE;
         k = ag_json_next(o->cfg->doc, k), i++) {
        if (!o->seen[i]) {
            ag_str_t name = ag_json_raw(o->cfg->doc, k);
            return ag_cfg_fail(o->cfg, k, o->path, "unknown key \"%.*s\"", AG_STR_FMT(name));
        }
    }
    return 0;
}

static const char *join(ag_arena_t *arena, const char *path, const char *key)
{
    ag_buf_t b = AG_BUF_INIT(1024);
    if (path && *path)
        ag_buf_printf(&b, "%s.%s", path, key);
    else
        ag_buf_append_cstr(&b, key);
    char *out = ag_arena_cstr(arena, ag_buf_str(&b));
    ag_buf_dispose(&b);
    return out ? out : key;
}

const char *ag_cfg_path(ag_cfg_obj_t *o, const char *key)
{
    return join(o->cfg->arena, o->path, key);
}

const char *ag_cfg_index_path(ag_cfg_t *cfg, const char *path, int i)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "[%d]", i);
    ag_buf_t b = AG_BUF_INIT(1024);
    ag_buf_printf(&b, "%s%s", path ? path : "", tmp);
    char *out = ag_arena_cstr(cfg->arena, ag_buf_str(&b));
    ag_buf_dispose(&b);
    return out ? out : "";
}

/* Finds <key>, marks it seen; AG_JSON_NONE if absent (an error if required). */
static ag_err lookup(ag_cfg_obj_t *o, const char *key, int required, ag_json_ref *out)
{
    if (o->cfg->err.n)
        return AG_E_CONFIG;
    int i = 0;
    for (ag_json_ref k = ag_json_first(o->cfg->doc, o->obj); k != AG_JSON_NONE;
         k = ag_json_next(o->cfg->doc, k), i++) {
        if (ag_json_str_eq(o->cfg->doc, k, key)) {
            o->seen[i] = true;
            *out = ag_json_value(k);
            return 0;
        }
    }
    *out = AG_JSON_NONE;
    if (required)
        return ag_cfg_fail(o->cfg, o->obj, ag_cfg_path(o, key), "required field is missing");
    return 0;
}

ag_err ag_cfg_value(ag_cfg_obj_t *o, const char *key, int required, ag_json_ref *out)
{
    return lookup(o, key, required, out);
}

ag_err ag_cfg_str(ag_cfg_obj_t *o, const char *key, int required, ag_str_t *out)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    ag_str_t s;
    if (ag_json_str(o->cfg->doc, v, o->cfg->arena, &s) != 0)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be a string");
    if (memchr(s.p, '\0', s.n))
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must not contain NUL");
    *out = ag_arena_strdup(o->cfg->arena, s); /* NUL-terminated copy */
    return out->p ? 0 : AG_E_NOMEM;
}

ag_err ag_cfg_cstr(ag_cfg_obj_t *o, const char *key, int required, const char **out)
{
    ag_str_t s = AG_STR_NULL;
    ag_err err = ag_cfg_str(o, key, required, &s);
    if (!err && s.p)
        *out = s.p;
    return err;
}

const char *ag_cfg_resolve(ag_cfg_t *cfg, ag_str_t name)
{
    if (!cfg->dir || !*cfg->dir || (name.n && name.p[0] == '/'))
        return ag_arena_cstr(cfg->arena, name);
    ag_buf_t b = AG_BUF_INIT(4096);
    const char *r = NULL;
    if (ag_buf_printf(&b, "%s/%.*s", cfg->dir, AG_STR_FMT(name)) == 0)
        r = ag_arena_cstr(cfg->arena, ag_buf_str(&b));
    ag_buf_dispose(&b);
    return r;
}

ag_err ag_cfg_file(ag_cfg_obj_t *o, const char *key, int required, const char **out)
{
    ag_str_t s = AG_STR_NULL;
    ag_err err = ag_cfg_str(o, key, required, &s);
    if (err || !s.p)
        return err;
    return (*out = ag_cfg_resolve(o->cfg, s)) ? 0 : AG_E_NOMEM;
}

ag_err ag_cfg_int(ag_cfg_obj_t *o, const char *key, int required, long long min, long long max,
                  long long *out)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    long long n;
    if (ag_json_int(o->cfg->doc, v, &n) != 0)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be an integer");
    if (n < min || n > max)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be between %lld and %lld", min,
                           max);
    *out = n;
    return 0;
}

ag_err ag_cfg_bool(ag_cfg_obj_t *o, const char *key, int required, bool *out)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    if (ag_json_bool(o->cfg->doc, v, out) != 0)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be true or false");
    return 0;
}

static bool parse_duration(ag_str_t s, long long *ms)
{
    size_t i = 0;
    while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
        i++;
    unsigned long long v;
    if (!ag_str_to_u64(ag_str_sub(s, 0, i), &v) || v > (1ULL << 40))
        return false;
    ag_str_t unit = ag_str_sub(s, i, s.n);
    long long mul;
    if (ag_str_eq_lit(unit, "ms"))
        mul = 1;
    else if (ag_str_eq_lit(unit, "s"))
        mul = 1000;
    else if (ag_str_eq_lit(unit, "m"))
        mul = 60000;
    else if (ag_str_eq_lit(unit, "h"))
        mul = 3600000;
    else
        return false;
    *ms = (long long)v * mul;
    return true;
}

ag_err ag_cfg_duration_ms(ag_cfg_obj_t *o, const char *key, int required, long long min_ms,
                          long long max_ms, long long *out)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    long long ms;
    const ag_json_t *d = o->cfg->doc;
    if (ag_json_typeof(d, v) == AG_JSON_NUMBER) {
        if (ag_json_int(d, v, &ms) != 0 || ms < 0 || ms > (1LL << 40))
            return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key),
                               "must be a whole number of seconds or a string like \"30s\"");
        ms *= 1000;
    } else if (ag_json_typeof(d, v) != AG_JSON_STRING || !parse_duration(ag_json_raw(d, v), &ms)) {
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key),
                           "must be a duration like \"250ms\", \"30s\", \"5m\" or \"1h\"");
    }
    if (ms < min_ms || ms > max_ms)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be between %lldms and %lldms",
                           min_ms, max_ms);
    *out = ms;
    return 0;
}

ag_err ag_cfg_str_array(ag_cfg_obj_t *o, const char *key, int required, ag_str_t **out, int *n)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    const ag_json_t *d = o->cfg->doc;
    if (ag_json_typeof(d, v) != AG_JSON_ARRAY)
        return ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be an array of strings");
    int count = ag_json_count(d, v), i = 0;
    ag_str_t *arr = ag_arena_calloc(o->cfg->arena, sizeof(*arr) * (size_t)(count ? count : 1));
    if (!arr)
        return AG_E_NOMEM;
    for (ag_json_ref e = ag_json_first(d, v); e != AG_JSON_NONE; e = ag_json_next(d, e), i++) {
        ag_str_t s;
        if (ag_json_str(d, e, o->cfg->arena, &s) != 0)
            return ag_cfg_fail(o->cfg, e, ag_cfg_index_path(o->cfg, ag_cfg_path(o, key), i),
                               "must be a string");
        arr[i] = ag_arena_strdup(o->cfg->arena, s);
    }
    *out = arr;
    *n = count;
    return 0;
}

ag_err ag_cfg_enum(ag_cfg_obj_t *o, const char *key, int required, const char *const *choices,
                   int *out)
{
    ag_json_ref v;
    ag_err err = lookup(o, key, required, &v);
    if (err || v == AG_JSON_NONE)
        return err;
    for (int i = 0; choices[i]; i++) {
        if (ag_json_str_eq(o->cfg->doc, v, choices[i])) {
            *out = i;
            return 0;
        }
    }
    ag_buf_t list = AG_BUF_INIT(1024);
    for (int i = 0; choices[i]; i++)
        ag_buf_printf(&list, "%s\"%s\"", i ? ", " : "", choices[i]);
    err = ag_cfg_fail(o->cfg, v, ag_cfg_path(o, key), "must be one of %s", list.p ? list.p : "");
    ag_buf_dispose(&list);
    return err;
}
