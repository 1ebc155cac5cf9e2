/* Token issuers from configuration: who may sign bearer tokens, with which keys, for
 * which audiences, and how their claims map to a Kubernetes identity. Parsed once per
 * config load (lifetime: snapshot, owned by the config); read-only afterwards, so any
 * number of workers read it without locks.
 *
 * Config shape (one element of the "issuers" array):
 *   {"issuer": URL, "audiences": [..], "type": "oidc" | "azure_ad" | "kubernetes_serviceaccount",
 *    "keys": {"discovery": true} | {"jwks_uri": URL} | {"jwks_file": PATH} |
 *            {"pem_file": PATH} | {"jwks": {inline JWKS}},
 *    "claims": {"username": "sub", "username_prefix": "..", "groups": "groups",
 *               "groups_prefix": "..", "uid": "..", "extra": {"key": "claim"}},
 *    "required_claims": {"claim": "value"}, "clock_leeway": "60s", "max_token_bytes": 16384,
 *    "algorithms": ["RS256", ...] (default: all nine, the key decides; Entra ID signs RS256),
 *    kubernetes_serviceaccount only: "lookup": true|false (default true), "lookup_ttl": "10s",
 *    "optional": true|false (default false: the gateway is not ready until this issuer's
 *    remote keys are loaded; true: listed in /readyz?verbose but not counted)}
 * Azure AD preset: {"type": "azure_ad", "tenant_id": GUID, "audiences": [..]} becomes two
 * issuers, v1 https://sts.windows.net/{tid}/ and v2 https://login.microsoftonline.com/{tid}/v2.0.
 * Local key files are read at parse time (relative to the config file's directory);
 * remote keys are fetched by the proxy from ag_issuer_discovery_url / ag_issuer_jwks_uri.
 * Never does network I/O. */
#ifndef AG_ISSUER_H
#define AG_ISSUER_H

#include <stdbool.h>

#include "authn/jwks.h"
#include "base/arena.h"
#include "base/cfg.h"

#define AG_ISSUER_DEFAULT_LEEWAY_S 60     /* clock skew allowed on exp/nbf/iat */
#define AG_ISSUER_DEFAULT_MAX_TOKEN 16384 /* bytes; bigger bearer tokens are refused */
#define AG_ISSUER_MAX_TOKEN 65536         /* upper bound a config may set */
#define AG_ISSUER_MAX_AUDIENCES 32
#define AG_ISSUER_MAX_EXTRA 16
#define AG_ISSUER_MAX_REQUIRED 16
#define AG_ISSUER_MAX_GROUPS 1024             /* groups taken from one token (DoS cap) */
#define AG_ISSUER_DEFAULT_LOOKUP_TTL_MS 10000 /* a deleted pod's token dies within this */
#define AG_AZURE_AKS_SERVER_APP "6dae42f8-4368-4678-94ff-3960e28e3630"

typedef enum {
    AG_ISSUER_OIDC = 0,
    AG_ISSUER_AZURE_AD,
    AG_ISSUER_KUBERNETES_SA,
} ag_issuer_type;

typedef struct {
    ag_str_t key;   /* extra key, lower case */
    ag_str_t claim; /* claim name (string or array of strings) */
} ag_issuer_extra_t;

typedef struct {
    ag_str_t claim, value;
} ag_issuer_required_t;

/* Plain data; prefer the accessors below outside authn.c. */
typedef struct ag_issuer {
    ag_issuer_type type;
    ag_str_t url;           /* exact "iss" */
    ag_str_t discovery_url; /* when keys come from OIDC discovery, else empty */
    ag_str_t jwks_uri;      /* when keys come from a given URL, else empty */
    ag_jwks_t *static_keys; /* from a local file or inline (ref), else NULL */
    const ag_str_t *audiences;
    int naudiences;
    ag_str_t username_claim, username_prefix;
    ag_str_t groups_claim, groups_prefix; /* groups_claim empty: no groups */
    ag_str_t uid_claim;
    const ag_issuer_extra_t *extra;
    int nextra;
    const ag_issuer_required_t *required;
    int nrequired;
    ag_str_t tenant_id; /* azure_ad: the tid every token must carry */
    bool legacy_sa;     /* kubernetes_serviceaccount with iss kubernetes/serviceaccount */
    long long leeway_s;
    long long max_token_bytes;
    unsigned algorithms;     /* allowed algs: bit (1u << ag_jwt_alg) */
    bool lookup;             /* kubernetes_serviceaccount: confirm each new token with a
                                TokenReview to the upstream API server (threat #39) */
    long long lookup_ttl_ms; /* cache lifetime cap of a token so confirmed */
    bool optional;           /* readiness does not wait for this issuer's keys */
} ag_issuer_t;

typedef struct ag_issuer_set ag_issuer_set_t;

/* Parses the array <arr> of <cfg> found at <path> (for messages, e.g. "authentication.issuers")
 * and loads local key files relative to <config_dir> (NULL: the working directory) with
 * <read> (base/buf.h; NULL: none can be read). Errors are recorded in cfg (FILE:LINE:COL: path:
 * message) and returned as AG_E_CONFIG. Duplicate issuer URLs are an error. *out is owned
 * by the caller (ag_issuer_set_free). */
ag_err ag_issuers_parse_with(ag_cfg_t *cfg, ag_json_ref arr, const char *path,
                             const char *config_dir, ag_read_file_fn read, ag_issuer_set_t **out);
void ag_issuer_set_free(ag_issuer_set_t *s); /* accepts NULL */

int ag_issuer_count(const ag_issuer_set_t *s);
const ag_issuer_t *ag_issuer_at(const ag_issuer_set_t *s, int i);
/* Issuer whose URL equals <iss> byte for byte (no case or trailing-slash folding), or NULL. */
const ag_issuer_t *ag_issuer_find(const ag_issuer_set_t *s, ag_str_t iss);
/* Largest max_token_bytes of the set (checked before the issuer is known). */
long long ag_issuer_set_max_token(const ag_issuer_set_t *s);

ag_str_t ag_issuer_url(const ag_issuer_t *i);
/* Where remote keys come from. With discovery, fetch ag_issuer_discovery_url, take its
 * "jwks_uri" and require its "issuer" to equal ag_issuer_url (OIDC Discovery §4.3). */
bool ag_issuer_uses_discovery(const ag_issuer_t *i);
ag_str_t ag_issuer_discovery_url(const ag_issuer_t *i);
ag_str_t ag_issuer_jwks_uri(const ag_issuer_t *i); /* configured jwks_uri, else empty */
/* Reads the OpenID provider configuration (OIDC Discovery §3) fetched from
 * ag_issuer_discovery_url(<i>) (<json> borrowed): its "issuer" must equal ag_issuer_url(<i>)
 * byte for byte (§4.3: a mismatch means the document may not be used) and its "jwks_uri"
 * must be https (or loopback http). *jwks_uri is copied into <arena>. Returns 0,
 * AG_E_PARSE (not JSON, members missing or of the wrong type), AG_E_INVAL (issuer
 * mismatch or unacceptable jwks_uri). */
ag_err ag_issuer_parse_discovery(const ag_issuer_t *i, ag_str_t json, ag_arena_t *arena,
                                 ag_str_t *jwks_uri);
bool ag_issuer_keys_remote(const ag_issuer_t *i);
const ag_jwks_t *ag_issuer_static_keys(const ag_issuer_t *i); /* borrowed; NULL when remote */
ag_issuer_type ag_issuer_type_of(const ag_issuer_t *i);

#endif
