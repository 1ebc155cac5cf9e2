/* Microsoft Graph group resolution, the pure half: everything the resolver (proxy/authn/graph.c)
 * sends to or reads from Graph and the OAuth token endpoint, as bytes in and structs out.
 * Used when an Azure AD token carries a group-overage marker instead of a `groups` claim
 * (azure-rbac.md §11): the groups of the principal <oid> are looked up with
 * POST {base}/v1.0/users/{oid}/getMemberObjects|getMemberGroups.
 *
 * Owns: the "graph" config section, request bodies and URLs, strict response parsing,
 * the nextLink origin check, the client-credentials token request (secret or a
 * certificate-signed client assertion) and its response.
 * Never: opens a socket, or builds a URL from anything a token says — the only URLs are
 * the configured base and token endpoint (plus nextLinks proven to stay on the base's
 * origin); a token's `_claim_sources` endpoint is SSRF bait and is never read here. */
#ifndef AG_GRAPH_H
#define AG_GRAPH_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/cfg.h"
#include "base/err.h"
#include "base/str.h"

#define AG_GRAPH_DEFAULT_BASE "https://graph.microsoft.com"
#define AG_GRAPH_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define AG_GRAPH_GUID_LEN 36
/* 11,000 ids (Graph's documented getMemberGroups cap) * ~40 bytes, with headroom. */
#define AG_GRAPH_MAX_RESPONSE_BYTES (1u << 20)
/* An access token is a JWT of a few KiB; anything far larger is not one. */
#define AG_GRAPH_MAX_TOKEN_BYTES 16384
/* A lookup follows at most this many nextLinks: bounds Graph calls per request
 * (threat-model #40, amplification). */
#define AG_GRAPH_MAX_PAGES 32
/* Upper bound for max_groups: Graph itself refuses more than 11,000 (§11). */
#define AG_GRAPH_MAX_GROUPS_LIMIT 11000

typedef enum {
    AG_GRAPH_GET_MEMBER_OBJECTS = 0, /* transitive groups, directory roles, admin units */
    AG_GRAPH_GET_MEMBER_GROUPS = 1,  /* transitive groups only */
} ag_graph_method;

/* The "graph" config section. Strings are arena copies (lifetime: config snapshot). */
typedef struct {
    ag_str_t base_url;  /* scheme://host[:port][/path], no trailing slash */
    ag_str_t token_url; /* OAuth 2.0 v2 token endpoint */
    ag_str_t scope;     /* default "{base_url}/.default" */
    ag_str_t client_id;
    const char *client_secret_file;      /* exactly one of: secret file, */
    const char *client_certificate_file; /* or certificate + key files, */
    const char *client_key_file;
    const char *federated_token_file; /* or a federated token (workload identity) */
    ag_graph_method method;
    bool security_enabled_only;
    long long cache_ttl_ms;    /* a resolved group list is fresh this long */
    long long stale_ttl_ms;    /* ...then may still be served this long while Graph fails */
    long long timeout_ms;      /* whole lookup, token fetch and every page included */
    long long token_margin_ms; /* refresh the app token this long before it expires */
    int max_groups;            /* more groups than this: fail closed (AG_E_TOO_BIG) */
} ag_graph_cfg_t;

/* Defaults for every optional field (base URL, method, TTLs, cap). */
void ag_graph_cfg_defaults(ag_graph_cfg_t *c);

/* Reads the "graph" object at <ref> (<path> for messages) into <out>, which should hold
 * the defaults. Keys: base_url, method ("getMemberObjects" | "getMemberGroups"),
 * security_enabled_only, cache_ttl, stale_ttl, max_groups and the credential keys of
 * ag_entra_cred_read. */
ag_err ag_graph_cfg_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_graph_cfg_t *out);

/* The credential keys an Entra app section shares ("graph", "azure.arm"): tenant,
 * token_url, scope, client_id, client_secret_file | client_certificate_file +
 * client_key_file | federated_token_file, workload_identity, timeout,
 * token_refresh_margin. Read them between ag_cfg_obj_begin and ag_cfg_obj_end with
 * ag_entra_cred_read, then check and derive with ag_entra_cred_finish (once
 * out->base_url is final: the default scope is "{base_url}/.default").
 * "workload_identity": true takes what the AKS workload identity webhook injects:
 * client_id from AZURE_CLIENT_ID, tenant from AZURE_TENANT_ID, the token endpoint under
 * AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com/) and
 * federated_token_file from AZURE_FEDERATED_TOKEN_FILE, each unless set in the section.
 * token_url defaults to {authority}/{tenant}/oauth2/v2.0/token, so one of
 * tenant/token_url is required. */
typedef struct {
    ag_str_t tenant;
    bool workload_identity;
} ag_entra_keys_t;
/* The section's "base_url" (<url>, read already) checked as a configured endpoint: an
 * absolute URL without query or fragment, https unless on loopback; trailing '/' dropped. */
ag_err ag_graph_check_base_url(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_str_t *url);
ag_err ag_entra_cred_read(ag_cfg_obj_t *o, ag_graph_cfg_t *out, ag_entra_keys_t *k);
ag_err ag_entra_cred_finish(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_graph_cfg_t *out,
                            const ag_entra_keys_t *k);

/* True for a canonical-form GUID "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, any case).
 * Only such an oid is ever put into a Graph URL (threat-model #19: no path injection). */
bool ag_graph_guid_valid(ag_str_t s);

/* Appends "{base}/v1.0/users/{oid}/{getMemberObjects|getMemberGroups}" to <out>.
 * AG_E_INVAL unless <oid> is a GUID. */
ag_err ag_graph_member_url(ag_buf_t *out, const ag_graph_cfg_t *c, ag_str_t oid);
/* Appends {"securityEnabledOnly":true|false}. */
ag_err ag_graph_member_body(ag_buf_t *out, bool security_enabled_only);

/* True when absolute http(s) URL <url> has the same scheme, host and port as <base>
 * (default ports filled in, scheme and host compared case-insensitively), carries no
 * userinfo, fragment, whitespace, control or non-ASCII bytes. Only such a nextLink is
 * followed. */
bool ag_graph_same_origin(ag_str_t base, ag_str_t url);

/* One page of a getMemberObjects/getMemberGroups answer. */
typedef struct {
    ag_str_t *ids; /* arena array of GUID strings (arena copies) */
    int nids;
    ag_str_t next; /* @odata.nextLink (arena), or p == NULL when absent */
} ag_graph_page_t;

/* Parses {"value":[ids...], "@odata.nextLink": URL, ...} strictly: a JSON object, "value"
 * an array of GUID strings, nextLink (if present and not null) a string on <base>'s
 * origin. <room> is how many more ids the caller accepts: more is AG_E_TOO_BIG (the
 * group cap, checked before anything is copied). Other errors: AG_E_PARSE,
 * AG_E_TOO_BIG (body size), AG_E_NOMEM. */
ag_err ag_graph_page_parse(ag_str_t body, ag_str_t base, int room, ag_arena_t *arena,
                           ag_graph_page_t *page);

/* Reads error.code from a Graph error answer ({"error":{"code":"...","message":...}}) into
 * <code> (arena, printable ASCII only, for logs). AG_E_PARSE when there is none. */
ag_err ag_graph_error_code(ag_str_t body, ag_arena_t *arena, ag_str_t *code);
/* True for the code Graph answers when a principal has more memberships than it returns
 * (11,000; "Directory_ResultSizeLimitExceeded", also spelt without the underscore). */
bool ag_graph_error_is_size_limit(ag_str_t code);

/* Credentials the gateway uses to get its own Graph (or ARM) token: a client secret, a
 * certificate and its private key, or a federated token (the Kubernetes service-account
 * token the workload identity webhook projects; it rotates, so it is read again before
 * every token request). Owned by the resolver (process lifetime); never logged. */
typedef struct ag_graph_creds ag_graph_creds_t;

/* Loads the secret file, the certificate + key files or the federated token file named
 * in <c>, read with <read> (base/buf.h; core does no file I/O, config/files.h
 * ag_graph_creds_load passes ag_buf_read_file; NULL: none can be read). */
ag_err ag_graph_creds_load_with(const ag_graph_cfg_t *c, ag_read_file_fn read,
                                ag_graph_creds_t **out);
void ag_graph_creds_destroy(ag_graph_creds_t *cr);

/* Appends the form-encoded client-credentials request body:
 * grant_type=client_credentials&client_id=..&scope=..& then client_secret=.. or
 * client_assertion_type=..jwt-bearer&client_assertion=<RS256 JWT with x5t> (issued at
 * <now_s>, valid 10 minutes, audience the token endpoint), or for a federated token
 * client_assertion_type=..jwt-bearer&client_assertion=<the token file's content>. */
ag_err ag_graph_token_body(ag_buf_t *out, const ag_graph_cfg_t *c, ag_graph_creds_t *cr,
                           long long now_s);
/* The client assertion alone (RFC 7523 §2.2 / Microsoft certificate credentials):
 * header {"alg":"RS256","typ":"JWT","x5t":b64url(SHA-1(cert DER))}, claims aud, iss,
 * sub, jti, nbf, iat, exp. AG_E_INVAL when <cr> holds no certificate. */
ag_err ag_graph_client_assertion(ag_buf_t *out, ag_graph_creds_t *cr, ag_str_t client_id,
                                 ag_str_t audience, long long now_s);

typedef struct {
    ag_str_t access_token; /* arena copy; printable ASCII, never logged */
    long long expires_in_s;
} ag_graph_token_t;

/* Parses {"token_type":"Bearer","expires_in":N,"access_token":"..."} (expires_in as a
 * number or a numeric string, as v1 endpoints send it). AG_E_PARSE on anything else. */
ag_err ag_graph_token_parse(ag_str_t body, ag_arena_t *arena, ag_graph_token_t *out);

/* Appends application/x-www-form-urlencoded <s> (unreserved bytes as is, others %XX). */
ag_err ag_graph_form_escape(ag_buf_t *out, ag_str_t s);

#endif
