/* The "authentication" section (authn_config.h): strict reading with core/base/cfg.h,
 * defaults from the modules the knobs belong to. */
#include "authn_config.h"

#include <string.h>

#include "files.h"

static ag_err parse_cache(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_authn_config_t *c)
{
    ag_cfg_obj_t o;
    long long entries = c->cache_entries, neg = c->cache_negative_entries, shards = c->cache_shards;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_int(&o, "max_entries", AG_CFG_OPTIONAL, 1, 10000000, &entries)) ||
        (err = ag_cfg_duration_ms(&o, "ttl", AG_CFG_OPTIONAL, 1000, 24LL * 3600 * 1000,
                                  &c->cache_ttl_ms)) ||
        (err = ag_cfg_int(&o, "negative_max_entries", AG_CFG_OPTIONAL, 1, 10000000, &neg)) ||
        /* 0 = failures are not cached; an hour at most: a fixed clock must not lock out */
        (err = ag_cfg_duration_ms(&o, "negative_ttl", AG_CFG_OPTIONAL, 0, 3600 * 1000,
                                  &c->cache_negative_ttl_ms)) ||
        (err = ag_cfg_int(&o, "shards", AG_CFG_OPTIONAL, 1, 1024, &shards)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    c->cache_entries = (int)entries;
    c->cache_negative_entries = (int)neg;
    c->cache_shards = (int)shards;
    return 0;
}

static ag_err parse_keys(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_authn_config_t *c)
{
    ag_cfg_obj_t o;
    const long long hour = 3600 * 1000, day = 24 * hour;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_duration_ms(&o, "refresh_min", AG_CFG_OPTIONAL, 100, day,
                                  &c->refresh_min_ms)) ||
        (err = ag_cfg_duration_ms(&o, "refresh_max", AG_CFG_OPTIONAL, 100, 7 * day,
                                  &c->refresh_max_ms)) ||
        (err = ag_cfg_duration_ms(&o, "unknown_kid_interval", AG_CFG_OPTIONAL, 1, hour,
                                  &c->kid_interval_ms)) ||
        (err = ag_cfg_duration_ms(&o, "unknown_kid_wait", AG_CFG_OPTIONAL, 1, 60 * 1000,
                                  &c->kid_wait_ms)) ||
        (err = ag_cfg_duration_ms(&o, "fetch_timeout", AG_CFG_OPTIONAL, 100, 120 * 1000,
                                  &c->fetch_timeout_ms)) ||
        (err = ag_cfg_int(&o, "max_bytes", AG_CFG_OPTIONAL, 1024, 64 << 20, &c->max_bytes)) ||
        (err = ag_cfg_file(&o, "ca_file", AG_CFG_OPTIONAL, &c->ca_file)))
        return err;
    if (c->refresh_max_ms < c->refresh_min_ms)
        return ag_cfg_fail(cfg, ref, path, "refresh_max must not be below refresh_min");
    return ag_cfg_obj_end(&o);
}

ag_err ag_authn_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_authn_config_t *c)
{
    ag_cfg_obj_t o;
    ag_json_ref issuers = AG_JSON_NONE, cache = AG_JSON_NONE, keys = AG_JSON_NONE;
    ag_err err;

    memset(c, 0, sizeof *c);
    c->tokenreview = true;
    c->cache_entries = AG_AUTHN_DEFAULT_CACHE_ENTRIES;
    c->cache_negative_entries = AG_AUTHN_DEFAULT_CACHE_NEG_ENTRIES;
    c->cache_shards = AG_AUTHN_DEFAULT_CACHE_SHARDS;
    c->cache_ttl_ms = AG_AUTHN_DEFAULT_CACHE_TTL_MS;
    c->cache_negative_ttl_ms = AG_AUTHN_DEFAULT_CACHE_NEG_TTL_MS;
    c->refresh_min_ms = 60 * 1000;
    c->refresh_max_ms = 3600 * 1000;
    c->kid_interval_ms = 10 * 1000;
    c->kid_wait_ms = 2000;
    c->fetch_timeout_ms = AG_AUTHN_DEFAULT_FETCH_TIMEOUT_MS;
    c->max_bytes = AG_AUTHN_DEFAULT_MAX_BYTES;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_value(&o, "issuers", AG_CFG_REQUIRED, &issuers)) ||
        (err = ag_cfg_bool(&o, "anonymous", AG_CFG_OPTIONAL, &c->anonymous)) ||
        (err = ag_cfg_bool(&o, "tokenreview", AG_CFG_OPTIONAL, &c->tokenreview)) ||
        (err = ag_cfg_str_array(&o, "tokenreview_callers", AG_CFG_OPTIONAL, &c->tokenreview_callers,
                                &c->ntokenreview_callers)) ||
        (err = ag_cfg_value(&o, "token_cache", AG_CFG_OPTIONAL, &cache)) ||
        (err = ag_cfg_value(&o, "keys", AG_CFG_OPTIONAL, &keys)) || (err = ag_cfg_obj_end(&o)))
        return err;
    if ((err = ag_issuers_parse(cfg, issuers, ag_cfg_path(&o, "issuers"), config_dir,
                                &c->issuers)) != 0)
        return err;
    if (cache != AG_JSON_NONE && (err = parse_cache(cfg, cache, ag_cfg_path(&o, "token_cache"), c)))
        return err;
    if (keys != AG_JSON_NONE && (err = parse_keys(cfg, keys, ag_cfg_path(&o, "keys"), c)))
        return err;
    return 0;
}

void ag_authn_config_dispose(ag_authn_config_t *c)
{
    if (!c)
        return;
    ag_issuer_set_free(c->issuers);
    c->issuers = NULL;
}
