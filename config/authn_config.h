/* The "authentication" configuration section: who may sign bearer tokens (the issuers,
 * parsed by core/authn/issuer.c), whether anonymous requests pass, and the knobs of the key
 * manager (proxy/authn/keys.h), the token cache (proxy/authn/tokencache.h) and the TokenReview
 * webhook. Part of the config snapshot (lifetime: snapshot); never opens a socket.
 *
 *   "authentication": {
 *     "issuers": [ ...core/issuer.h... ],
 *     "anonymous": false,
 *     "tokenreview": true, "tokenreview_callers": ["kube-apiserver"],
 *     "token_cache": {"max_entries": 10000, "ttl": "2m", "negative_max_entries": 1000,
 *                     "negative_ttl": "5s", "shards": 16},
 *     "keys": {"refresh_min": "1m", "refresh_max": "1h", "unknown_kid_interval": "10s",
 *              "unknown_kid_wait": "2s", "fetch_timeout": "5s", "max_bytes": 1048576,
 *              "ca_file": "idp-ca.pem"}
 *   } */
#ifndef AG_AUTHN_CONFIG_H
#define AG_AUTHN_CONFIG_H

#include <stdbool.h>

#include "authn/issuer.h"
#include "base/cfg.h"

/* Defaults of the section (proxy/authn/tokencache.h names the cache ones as its own). */
#define AG_AUTHN_DEFAULT_CACHE_ENTRIES 10000
#define AG_AUTHN_DEFAULT_CACHE_TTL_MS (120 * 1000)
#define AG_AUTHN_DEFAULT_CACHE_NEG_ENTRIES 1000
#define AG_AUTHN_DEFAULT_CACHE_NEG_TTL_MS (5 * 1000)
#define AG_AUTHN_DEFAULT_CACHE_SHARDS 16
#define AG_AUTHN_DEFAULT_FETCH_TIMEOUT_MS 5000 /* keys.fetch_timeout */
#define AG_AUTHN_DEFAULT_MAX_BYTES (1u << 20)  /* keys.max_bytes: a JWKS is a few KiB */

typedef struct {
    ag_issuer_set_t *issuers;      /* owned: ag_authn_config_dispose */
    bool anonymous;                /* requests without credentials pass as system:anonymous */
    bool tokenreview;              /* serve the TokenReview webhook on the main listener */
    ag_str_t *tokenreview_callers; /* usernames allowed to call it on top of what authorization
                                      grants (arena); none: whoever the gate lets through */
    int ntokenreview_callers;
    int cache_entries, cache_negative_entries, cache_shards;
    long long cache_ttl_ms, cache_negative_ttl_ms;
    long long refresh_min_ms, refresh_max_ms, kid_interval_ms, kid_wait_ms, fetch_timeout_ms;
    long long max_bytes;
    const char *ca_file; /* arena; NULL: system CAs */
} ag_authn_config_t;

/* Reads the section at <ref>; relative key files resolve against <config_dir>. */
ag_err ag_authn_config_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                             const char *config_dir, ag_authn_config_t *out);
void ag_authn_config_dispose(ag_authn_config_t *c);

#endif
