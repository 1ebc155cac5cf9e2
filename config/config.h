/* The gateway configuration model: one JSON file read strictly with core/base/cfg.h into an
 * immutable snapshot (lifetime: snapshot; everything hangs off cfg->arena). The top level
 * dispatches each known key to a section parser listed in one table in config.c, so a new
 * section ("issuers", "authorization", "azure", "audit") is one field here plus one line
 * there. Field-by-field documentation: config/README.md. Never opens sockets. */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <stdbool.h>

#include "audit_config.h"
#include "authn_config.h"
#include "authz_config.h"
#include "azure_config.h"
#include "base/arena.h"
#include "base/cfg.h"
#include "base/err.h"
#include "base/ipaddr.h"
#include "base/str.h"
#include "graph/graph.h"

#define AG_CONFIG_MAX_BYTES (4u << 20) /* a config file is small; cap the read */
#define AG_CONFIG_MAX_WORKERS 64       /* per-worker metric slots are sized for this */

enum { AG_CLIENT_AUTH_NONE = 0, AG_CLIENT_AUTH_OPTIONAL, AG_CLIENT_AUTH_REQUIRE };
/* tls.record_layer: who protects TLS records once mbedTLS's handshake is done. */
enum { AG_TLS_RECORD_LIBCRYPTO = 0, AG_TLS_RECORD_MBEDTLS };

typedef struct {
    const char *address; /* "HOST:PORT" ([v6]:port allowed), as written */
    int backlog;
    /* listen.proxy_protocol.trusted (arena): the networks whose connections must open
     * with a PROXY protocol header (core/http/proxyproto.h); from anyone else a header is
     * refused. ntrusted 0: no section, every PROXY header is refused. */
    ag_ipaddr_net_t *pp_trusted;
    int pp_ntrusted;
} ag_config_listen_t;

typedef struct {
    bool enabled;          /* false: plain HTTP listener */
    const char *cert_file; /* PEM chain, leaf first */
    const char *key_file;
    const char *client_ca_file; /* NULL: no client certificates asked for */
    int client_auth;            /* AG_CLIENT_AUTH_* */
    bool session_tickets;
    long long ticket_lifetime_ms;
    int record_layer; /* AG_TLS_RECORD_*; the main section's applies to every TLS session */
} ag_config_tls_t;

typedef struct {
    const char *url; /* as written */
    bool https;
    const char *host; /* connect host (no brackets) */
    int port;
    ag_str_t authority;    /* Host header value sent upstream: host[:port] */
    const char *ca_file;   /* https: NULL = system CA bundle */
    const char *cert_file; /* optional client certificate for the upstream */
    const char *key_file;
    const char *server_name; /* SNI/verification name; default host */
    const char *token_file;  /* optional bearer token the gateway authenticates with */
    int pool_size;           /* idle keep-alive connections kept per worker */
    bool in_cluster;         /* url, token_file, ca and the default server_name came from
                              * the pod's environment and service-account mount */
} ag_config_upstream_t;

/* In-cluster defaults: the directory kubelet mounts the service-account token and the
 * cluster CA in (AG_SERVICEACCOUNT_DIR_ENV overrides it, for tests), and the name the API
 * server's serving certificate carries (mbedTLS cannot verify the usual IP address). */
#define AG_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define AG_SERVICEACCOUNT_DIR_ENV "AUTHGATE_SERVICEACCOUNT_DIR"
#define AG_IN_CLUSTER_SERVER_NAME "kubernetes.default.svc"

typedef struct {
    int header_bytes;       /* request head, request line included -> 431 */
    int header_count;       /* -> 431 */
    int url_bytes;          /* request target -> 414 */
    int max_connections;    /* per worker; further accepts are closed at once */
    long long linger_bytes; /* discarded after an error answer before the close */
} ag_config_limits_t;

typedef struct {
    long long header_read_ms;         /* first byte to end of head -> 408 and close */
    long long idle_ms;                /* keep-alive wait for the next request -> close */
    long long upstream_connect_ms;    /* connect + TLS handshake -> 504 */
    long long upstream_first_byte_ms; /* request sent to response head -> 504 */
    long long upstream_idle_ms;       /* idle pooled upstream connection lifetime */
    long long drain_ms;               /* SIGTERM: wait for in-flight requests at most this */
    long long body_grace_ms;          /* a request body may take body_grace + bytes/min_rate */
    long long body_min_rate;          /* bytes/s; 0: body_grace bounds the whole body -> 408 */
    long long linger_ms;              /* lingering close after an error answer: at most this */
    long long linger_idle_ms;         /* ... and this long without a byte from the client */
    long long send_ms;                /* bytes queued for the client, no write progress -> close */
} ag_config_timeouts_t;

typedef struct {
    const char *address; /* NULL: no admin listener */
} ag_config_admin_t;

/* The "log" section's vocabulary; proxy/runtime/log.h logs by it. */
typedef enum { AG_LOG_ERROR = 0, AG_LOG_WARN, AG_LOG_INFO, AG_LOG_DEBUG } ag_log_level;
typedef enum { AG_LOG_TEXT = 0, AG_LOG_JSON } ag_log_format;

#define AG_LOG_REQUEST_RATE 5   /* per-request lines per second and thread (default) */
#define AG_LOG_REQUEST_BURST 10 /* ... and the bucket's depth */

typedef struct {
    int level;                             /* ag_log_level */
    int format;                            /* ag_log_format: 0 text, 1 json */
    long long request_rate, request_burst; /* per-request lines per second and thread */
} ag_config_log_t;

/* "webhooks": a second listener that serves only the TokenReview and SubjectAccessReview
 * routes, to callers authenticated by a verified client certificate alone. */
typedef struct {
    const char *address; /* NULL: no webhook listener */
    ag_config_tls_t tls; /* client_ca required, client_auth always REQUIRE */
    ag_str_t *callers;   /* CNs allowed (arena); ncallers 0: any verified certificate */
    int ncallers;
    bool serve_on_main; /* false: the main listener proxies these paths like any other */
} ag_config_webhooks_t;

typedef struct ag_config {
    ag_arena_t arena; /* owns every string below */
    const char *file;
    ag_config_listen_t listen;
    ag_config_tls_t tls;
    ag_config_upstream_t upstream;
    ag_config_limits_t limits;
    ag_config_timeouts_t timeouts;
    ag_config_admin_t admin;
    int workers; /* resolved: >= 1 */
    ag_config_log_t log;
    ag_config_webhooks_t webhooks;
    bool graph_enabled;      /* a "graph" section is present: resolve Azure AD group
                                overage through Microsoft Graph (proxy/authn/graph.h) */
    ag_graph_cfg_t graph;    /* core/graph/graph.h; strings in <arena> */
    bool authn_enabled;      /* an "authentication" section is present: bearer tokens and
                                client certificates are verified (proxy/authn/authenticate.h) */
    ag_authn_config_t authn; /* config/authn_config.h; issuers owned, freed with the config */
    bool authz_enabled;      /* an "authorization" (or "azure") section is present: requests
                                are judged by proxy/authz/authorize.c against
                                proxy/authz/policy.c */
    ag_authz_config_t authz; /* config/authz_config.h */
    bool azure_enabled;      /* a top-level "azure" section (config/azure_config.h) */
    ag_azure_config_t azure;
    bool audit_enabled;        /* an "audit" section: proxy/authz/audit.c writes events */
    bool insecure_passthrough; /* top-level "insecure_passthrough": true (only without
                                  authentication and authorization): forward every request
                                  with the gateway's credential. Without it and without
                                  both sections every request is refused (401). */
    ag_audit_config_t audit;   /* config/audit_config.h */
} ag_config_t;

/* A section parser: reads the value <ref> of top-level key <path> into <conf>. */
typedef ag_err (*ag_config_section_fn)(ag_cfg_t *cfg, ag_json_ref ref, const char *path,
                                       ag_config_t *conf);

/* Parses <text> (borrowed for the call) named <file> into a new snapshot. On a config
 * error returns AG_E_CONFIG and copies "FILE:LINE:COL: path: message" into <errmsg>
 * (owned by the caller, may be NULL). */
ag_err ag_config_parse(const char *file, ag_str_t text, ag_config_t **out, ag_buf_t *errmsg);
/* Reads and parses <path>; an unreadable file is reported in <errmsg> as well. */
ag_err ag_config_load(const char *path, ag_config_t **out, ag_buf_t *errmsg);
/* The same for tools that ask the policy and serve nothing (authgate check --config):
 * every key is validated as serve validates it, but the files only serving needs (TLS
 * certificates, keys and CAs, issuer key files, the service-account token and CA) are
 * neither opened nor checked, so the configuration can be read where they are absent.
 * Issuers keep no static keys. The policy files are read by ag_policy_build as usual. */
ag_err ag_config_load_for_policy(const char *path, ag_config_t **out, ag_buf_t *errmsg);
void ag_config_destroy(ag_config_t *conf);
/* Applies defaults to a zeroed config (used by `authgate demo`, which has no file). */
void ag_config_defaults(ag_config_t *conf);

/* Splits "HOST:PORT" / "[V6]:PORT" into host (arena) and port; AG_E_INVAL if malformed. */
ag_err ag_config_split_address(ag_arena_t *arena, const char *addr, const char **host, int *port);

#endif
