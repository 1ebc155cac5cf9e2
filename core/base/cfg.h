/* Strict configuration reading over a parsed JSON document. Every module parses its own
 * section with these helpers, so all config errors look alike:
 *
 *     FILE:LINE:COL: path.to.key: message
 *
 * and unknown keys, wrong types, out-of-range values and missing required fields all
 * stop the load. The first error is kept in cfg->err; every helper returns AG_E_CONFIG
 * once an error is recorded. Strings returned are arena copies (lifetime: the snapshot
 * that owns the arena).
 *
 *     ag_cfg_obj_t o;
 *     if ((err = ag_cfg_obj_begin(cfg, ref, "upstream", &o)) ||
 *         (err = ag_cfg_str(&o, "url", AG_CFG_REQUIRED, &url)) ||
 *         (err = ag_cfg_int(&o, "pool_size", AG_CFG_OPTIONAL, 1, 4096, &pool)) ||
 *         (err = ag_cfg_obj_end(&o)))
 *         return err;
 */
#ifndef AG_CFG_H
#define AG_CFG_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

#define AG_CFG_MAX_KEYS 64 /* keys per object a reader tracks; more is a config error */

typedef struct {
    const char *file; /* for messages; borrowed */
    const ag_json_t *doc;
    ag_arena_t *arena;
    ag_buf_t err;            /* first error message, empty when none (owned) */
    bool skip_serving_files; /* authgate check: TLS, key and token files are not opened;
                              * set after ag_cfg_init, which clears every field */
    const char *dir;         /* the config file's directory (arena); NULL: the working one;
                              * set after ag_cfg_init too */
} ag_cfg_t;

typedef struct {
    ag_cfg_t *cfg;
    ag_json_ref obj;
    const char *path; /* arena string, e.g. "issuers[1].claims" */
    bool seen[AG_CFG_MAX_KEYS];
} ag_cfg_obj_t;

enum { AG_CFG_OPTIONAL = 0, AG_CFG_REQUIRED = 1 };

/* Parses <text> as JSON into cfg->doc (allocated in <arena>); a syntax error becomes
 * "FILE:LINE:COL: message". <text> must outlive the cfg. */
ag_err ag_cfg_init(ag_cfg_t *cfg, const char *file, ag_str_t text, ag_arena_t *arena);
void ag_cfg_dispose(ag_cfg_t *cfg);
/* Records "FILE:LINE:COL: path: message" at value <at> (unless an error is already
 * recorded) and returns AG_E_CONFIG. */
ag_err ag_cfg_fail(ag_cfg_t *cfg, ag_json_ref at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline const char *ag_cfg_error(const ag_cfg_t *cfg)
{
    return cfg->err.n ? cfg->err.p : NULL;
}

/* Starts reading object <ref> at <path> (fails if not an object). */
ag_err ag_cfg_obj_begin(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_cfg_obj_t *o);
/* Fails on the first key of the object that no getter asked for. */
ag_err ag_cfg_obj_end(ag_cfg_obj_t *o);
/* Child path "<o.path>.<key>" (arena). */
const char *ag_cfg_path(ag_cfg_obj_t *o, const char *key);
/* Child path "<path>[i]" (arena). */
const char *ag_cfg_index_path(ag_cfg_t *cfg, const char *path, int i);

/* Getters: absent + optional leaves *out untouched and returns 0. */
ag_err ag_cfg_str(ag_cfg_obj_t *o, const char *key, int required, ag_str_t *out);
ag_err ag_cfg_cstr(ag_cfg_obj_t *o, const char *key, int required, const char **out);
/* A file or directory name: a relative one is resolved against cfg->dir (the config
 * file's directory), the one rule for every path-valued key (config/README.md). */
ag_err ag_cfg_file(ag_cfg_obj_t *o, const char *key, int required, const char **out);
/* <name> resolved against cfg->dir as above (arena copy; NULL when out of memory). */
const char *ag_cfg_resolve(ag_cfg_t *cfg, ag_str_t name);
ag_err ag_cfg_int(ag_cfg_obj_t *o, const char *key, int required, long long min, long long max,
                  long long *out);
ag_err ag_cfg_bool(ag_cfg_obj_t *o, const char *key, int required, bool *out);
/* Duration in milliseconds from a string like "250ms", "30s", "5m", "1h" or an integer
 * number of seconds. */
ag_err ag_cfg_duration_ms(ag_cfg_obj_t *o, const char *key, int required, long long min_ms,
                          long long max_ms, long long *out);
/* Any value: marks the key seen and returns its ref (AG_JSON_NONE when absent). */
ag_err ag_cfg_value(ag_cfg_obj_t *o, const char *key, int required, ag_json_ref *out);
/* Array of strings into an arena array. */
ag_err ag_cfg_str_array(ag_cfg_obj_t *o, const char *key, int required, ag_str_t **out, int *n);
/* One of <choices> (NULL-terminated); *out gets its index. */
ag_err ag_cfg_enum(ag_cfg_obj_t *o, const char *key, int required, const char *const *choices,
                   int *out);

#endif
