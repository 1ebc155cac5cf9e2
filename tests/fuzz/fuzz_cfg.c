/* libFuzzer target for the strict config reader (core/base/cfg.c): arbitrary bytes through
 * ag_cfg_init, then every object walked with the generic getters, the getter chosen by
 * the value's type and the key's first letter, so every getter meets every shape. Any
 * error must come out as "FILE:LINE:COL: ..." and stop further reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

static ag_err read_obj(ag_cfg_t *cfg, ag_json_ref ref, const char *path, int depth);

static ag_err read_key(ag_cfg_t *cfg, ag_cfg_obj_t *o, const char *key, ag_json_ref v, int depth)
{
    static const char *const choices[] = {"off", "on", "auto", NULL};
    ag_str_t s, *arr;
    const char *cs;
    long long ll;
    bool b;
    int n;
    ag_json_ref r;

    switch (ag_json_typeof(cfg->doc, v)) {
    case AG_JSON_OBJECT:
        if (ag_cfg_value(o, key, AG_CFG_REQUIRED, &r))
            return AG_E_CONFIG;
        return read_obj(cfg, r, ag_cfg_path(o, key), depth + 1);
    case AG_JSON_ARRAY:
        return ag_cfg_str_array(o, key, AG_CFG_REQUIRED, &arr, &n);
    case AG_JSON_NUMBER:
        return key[0] == 'd' ? ag_cfg_duration_ms(o, key, AG_CFG_REQUIRED, 0, 86400000, &ll)
                             : ag_cfg_int(o, key, AG_CFG_REQUIRED, -1000, 1000000, &ll);
    case AG_JSON_STRING:
        if (key[0] == 'd')
            return ag_cfg_duration_ms(o, key, AG_CFG_REQUIRED, 1, 3600000, &ll);
        if (key[0] == 'e')
            return ag_cfg_enum(o, key, AG_CFG_REQUIRED, choices, &n);
        if (key[0] == 'c')
            return ag_cfg_cstr(o, key, AG_CFG_REQUIRED, &cs);
        return ag_cfg_str(o, key, AG_CFG_REQUIRED, &s);
    case AG_JSON_BOOL:
        return ag_cfg_bool(o, key, AG_CFG_OPTIONAL, &b);
    default:
        return ag_cfg_int(o, key, AG_CFG_REQUIRED, 0, 1, &ll); /* null: a type error */
    }
}

static ag_err read_obj(ag_cfg_t *cfg, ag_json_ref ref, const char *path, int depth)
{
    ag_cfg_obj_t o;
    ag_str_t k;
    ag_err err;

    if (!path || depth > 100)
        return AG_E_CONFIG;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) != 0)
        return err;
    for (ag_json_ref key = ag_json_first(cfg->doc, ref); key != AG_JSON_NONE;
         key = ag_json_next(cfg->doc, key)) {
        if (ag_json_str(cfg->doc, key, cfg->arena, &k) != 0)
            FAIL("accepted key does not unescape");
        const char *ck = ag_arena_cstr(cfg->arena, k);
        if (!ck)
            return AG_E_NOMEM;
        if (ck[0] == 'z')
            continue; /* leave some keys unread: obj_end must refuse them */
        if ((err = read_key(cfg, &o, ck, ag_json_value(key), depth)) != 0)
            return err;
    }
    (void)ag_cfg_index_path(cfg, path, depth);
    return ag_cfg_obj_end(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_arena_t a;
    ag_cfg_t cfg;
    ag_arena_init(&a, 0, 1 << 26);
    ag_err err = ag_cfg_init(&cfg, "fuzz.json", ag_str_make((const char *)data, size), &a);
    if (err == 0)
        err = read_obj(&cfg, ag_json_root(cfg.doc), "", 0);
    if (err == AG_E_CONFIG) {
        const char *msg = ag_cfg_error(&cfg);
        if (!msg || strncmp(msg, "fuzz.json:", 10) != 0)
            FAIL("config error without FILE:LINE:COL");
    }
    ag_cfg_dispose(&cfg);
    ag_arena_dispose(&a);
    return 0;
}
