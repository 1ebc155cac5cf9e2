/* Token acquisition for `authgate login` (cmd_login.c): where the identity provider's
 * endpoints are (OIDC discovery, or Azure AD's by tenant), and the grant kinds that turn
 * a request into a token set, all behind one interface (ag_grant_t):
 *
 *   device_code    RFC 8628, a person signs in on another device   (login_grant.c)
 *   refresh_token  RFC 6749 §6, from a cached refresh token        (login_grant.c)
 *   spn            client credentials, secret or certificate       (login_client.c)
 *   workloadidentity  client credentials, federated token file     (login_client.c)
 *
 * A grant kind only says which form parameters it sends and how it waits; the token
 * request itself (client authentication, scope/resource, reading the answer strictly) is
 * ag_login_token_request, shared by all. New kinds (client credentials with a secret or a
 * certificate, a federated assertion) are one more ag_grant_t each.
 *
 * Everything for the person goes to stderr through ag_login_say (control characters from
 * the IdP are neutralised); stdout is the ExecCredential's alone.
 * Lifetime: one ag_login_t per command run; strings live in its arena. */
#ifndef AG_LOGIN_H
#define AG_LOGIN_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"
#include "login/login_http.h"
#include "login/oauth.h"

/* Outcomes, which are also the exit statuses of `authgate login`. */
typedef enum {
    AG_LOGIN_OK = 0,
    AG_LOGIN_FAILED = 1,        /* anything else (out of memory, internal) */
    AG_LOGIN_USAGE = 2,         /* bad flags or KUBERNETES_EXEC_INFO */
    AG_LOGIN_IDP = 3,           /* IdP unreachable, refused endpoint, malformed answer, error */
    AG_LOGIN_DENIED = 4,        /* access_denied: the person (or policy) said no */
    AG_LOGIN_EXPIRED = 5,       /* expired_token: the code was not used in time */
    AG_LOGIN_NEEDS_PERSON = 6,  /* a sign-in is needed but kubectl is not interactive */
    AG_LOGIN_CACHE = 7,         /* the token cache is unsafe or unusable */
    AG_LOGIN_INVALID_GRANT = 8, /* the grant itself was refused (revoked refresh token) */
} ag_login_status;

/* What the command line says (borrowed from argv/environment). */
typedef struct {
    const char *issuer_url;     /* OIDC issuer; NULL for Azure AD by tenant */
    const char *tenant_id;      /* Azure AD tenant (id or domain) */
    const char *environment;    /* AzurePublicCloud (default), AzureChinaCloud, ... */
    const char *authority_host; /* overrides the environment's login host (tests, sovereign) */
    bool azure_v1;              /* Azure AD v1 endpoints (resource=) instead of v2 (scope=) */
    const char *client_id;
    const char *client_secret;        /* optional: confidential clients */
    const char *client_certificate;   /* spn: PEM certificate (+ key unless client_key) */
    const char *client_key;           /* spn: PEM private key of the certificate */
    const char *federated_token_file; /* workloadidentity: the client assertion's file */
    const char *scopes;   /* space-separated; NULL = the default for the endpoint kind */
    const char *audience; /* OIDC: RFC 8707 resource; Azure: the server app id */
    const char *grant;    /* --login: "devicecode" (default), "spn", "workloadidentity" */
    const char *ca_file;  /* PEM bundle for the IdP's TLS; NULL = system */
    bool use_id_token;    /* hand kubectl the id_token instead of the access token */
} ag_login_opts_t;

typedef struct {
    const ag_login_opts_t *opts;
    ag_login_http_t *http;
    ag_arena_t arena;
    bool azure;
    const char *token_endpoint, *device_endpoint; /* arena; after ag_login_resolve */
    long long (*now)(void);                       /* wall clock, seconds */
    void (*sleep_s)(long long s);                 /* the device flow's wait */
} ag_login_t;

typedef struct {
    const char *name;
    bool interactive; /* needs a person: never started when kubectl says interactive=false */
    /* Acquires a token set into <out> (arena). <cached> is the cache entry or NULL. */
    ag_login_status (*acquire)(ag_login_t *lg, const ag_oauth_tokens_t *cached,
                               ag_oauth_tokens_t *out);
} ag_grant_t;

extern const ag_grant_t ag_grant_device_code;
extern const ag_grant_t ag_grant_refresh_token;
extern const ag_grant_t ag_grant_spn;
extern const ag_grant_t ag_grant_workload_identity;

/* The grant kind --login <name> selects, or NULL. */
const ag_grant_t *ag_grant_find(const char *name);

ag_err ag_login_init(ag_login_t *lg, const ag_login_opts_t *opts);
void ag_login_dispose(ag_login_t *lg);

/* The cache key: endpoint, client, scopes and audience, '\n'-joined (arena). */
ag_str_t ag_login_cache_key(ag_login_t *lg);

/* Finds the token and device endpoints (discovery for an issuer URL, fixed paths for
 * Azure AD); idempotent. */
ag_login_status ag_login_resolve(ag_login_t *lg);

/* The scope/resource parameters for the endpoint kind, appended to <form>. */
ag_err ag_login_add_scope(const ag_login_t *lg, ag_buf_t *form);

/* POSTs <form> plus client_id (and client_secret) to <url>. On 200 parses a token set
 * into <out>. On an OAuth error answer (400/401 with {"error":..}) returns
 * AG_LOGIN_INVALID_GRANT with <oerr> filled (the caller decides: pending, slow_down,
 * ...). AG_LOGIN_IDP for everything else, already said to the person. */
ag_login_status ag_login_token_request(ag_login_t *lg, const char *url, ag_buf_t *form,
                                       ag_oauth_tokens_t *out, ag_oauth_error_t *oerr);

/* POSTs <form> (with client_id) and returns the raw 200 body in <body>, or as above. */
ag_login_status ag_login_post(ag_login_t *lg, const char *url, ag_buf_t *form, ag_buf_t *body,
                              ag_oauth_error_t *oerr);

/* printf to stderr, prefixed "authgate: ", with control characters (but the final
 * newline) replaced by '?': IdP-supplied text cannot drive the person's terminal. */
void ag_login_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
