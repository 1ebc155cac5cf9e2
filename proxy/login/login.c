/* Token acquisition for `authgate login` (login.h): endpoints, the shared token request,
 * the grant registry, and the stderr voice. The grant kinds are in login_grant.c. */
#include "login/login.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#define ARENA_MAX (4u << 20)

/* Azure AD (Microsoft Entra ID) login hosts per cloud, as the Azure SDKs name them. */
static const struct {
    const char *name, *host;
} clouds[] = {
    {"AzurePublicCloud", "https://login.microsoftonline.com"},
    {"AzureChinaCloud", "https://login.chinacloudapi.cn"},
    {"AzureUSGovernmentCloud", "https://login.microsoftonline.us"},
};

/* The AKS AAD server application every AKS-managed Entra ID cluster's tokens are issued
 * for (the audience of its tokens; kubelogin's --server-id). */
#define AKS_SERVER_APP_ID "6dae42f8-4368-4678-94ff-3960e28e3630"

/* The grant kinds --login can name (refresh_token is only ever used on a cached entry). */
static const ag_grant_t *const grants[] = {&ag_grant_device_code, &ag_grant_spn,
                                           &ag_grant_workload_identity};

const ag_grant_t *ag_grant_find(const char *name)
{
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++)
        if (strcmp(grants[i]->name, name) == 0)
            return grants[i];
    return NULL;
}

void ag_login_say(const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)msg[i] < 0x20 && msg[i] != '\n') || msg[i] == 0x7f)
            msg[i] = '?';
    fprintf(stderr, "authgate: %.*s", (int)len, msg);
    if (len == 0 || msg[len - 1] != '\n')
        fputc('\n', stderr);
}

static long long wall_now(void)
{
    return (long long)time(NULL);
}

static void sleep_seconds(long long s)
{
    struct timespec ts = {.tv_sec = (time_t)s};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

ag_err ag_login_init(ag_login_t *lg, const ag_login_opts_t *opts)
{
    memset(lg, 0, sizeof *lg);
    lg->opts = opts;
    lg->azure = opts->issuer_url == NULL;
    lg->now = wall_now;
    lg->sleep_s = sleep_seconds;
    ag_arena_init(&lg->arena, 16 * 1024, ARENA_MAX);
    return ag_login_http_create(opts->ca_file, &lg->http);
}

void ag_login_dispose(ag_login_t *lg)
{
    ag_login_http_destroy(lg->http);
    ag_arena_dispose(&lg->arena);
}

static const char *azure_host(const ag_login_opts_t *o)
{
    if (o->authority_host)
        return o->authority_host;
    for (size_t i = 0; i < sizeof clouds / sizeof clouds[0]; i++)
        if (strcmp(clouds[i].name, o->environment ? o->environment : "AzurePublicCloud") == 0)
            return clouds[i].host;
    return NULL;
}

static const char *audience(const ag_login_t *lg)
{
    if (lg->opts->audience)
        return lg->opts->audience;
    return lg->azure ? AKS_SERVER_APP_ID : NULL;
}

/* The scopes sent (space-separated). OIDC: openid offline_access (a refresh token);
 * Azure AD v2: the server app's ".default" scope plus offline_access. A client signing
 * in as itself (spn, workloadidentity) gets no refresh token: ".default" alone, which
 * is also all Entra ID accepts for client credentials. */
static const char *scopes(ag_login_t *lg)
{
    char buf[1024];
    const ag_grant_t *g = lg->opts->grant ? ag_grant_find(lg->opts->grant) : NULL;
    bool person = !g || g->interactive;
    if (lg->opts->scopes)
        return lg->opts->scopes;
    if (!lg->azure)
        return person ? "openid offline_access" : "";
    if (lg->opts->azure_v1)
        return "";
    snprintf(buf, sizeof buf, "%s/.default%s", audience(lg), person ? " offline_access" : "");
    return ag_arena_cstr(&lg->arena, ag_str_cstr(buf));
}

/* Trailing slashes off, so "https://x/" and "https://x" are one issuer for the cache. */
static ag_str_t base_url(const char *url)
{
    ag_str_t s = ag_str_cstr(url);
    while (s.n > 1 && s.p[s.n - 1] == '/')
        s.n--;
    return s;
}

ag_str_t ag_login_cache_key(ag_login_t *lg)
{
    const ag_login_opts_t *o = lg->opts;
    char key[4096];
    const char *host = lg->azure ? azure_host(o) : o->issuer_url;
    ag_str_t b = base_url(host ? host : "");
    snprintf(key, sizeof key, "%.*s%s%s%s\n%s\n%s\n%s\n%s", AG_STR_FMT(b), lg->azure ? "/" : "",
             lg->azure ? o->tenant_id : "", lg->azure && o->azure_v1 ? " v1" : "", o->client_id,
             scopes(lg), audience(lg) ? audience(lg) : "",
             o->use_id_token ? "id_token" : "access_token");
    return ag_arena_strdup(&lg->arena, ag_str_cstr(key));
}

static const char *join(ag_login_t *lg, const char *a, const char *b, const char *c)
{
    ag_buf_t s = AG_BUF_INIT(4096);
    const char *out = NULL;
    ag_str_t base = base_url(a);
    if (ag_buf_printf(&s, "%.*s%s%s", AG_STR_FMT(base), b, c) == 0)
        out = ag_arena_cstr(&lg->arena, ag_buf_str(&s));
    ag_buf_dispose(&s);
    return out;
}

static ag_login_status resolve_azure(ag_login_t *lg)
{
    const ag_login_opts_t *o = lg->opts;
    const char *host = azure_host(o);
    if (!host) {
        ag_login_say("unknown --environment %s (AzurePublicCloud, AzureChinaCloud, "
                     "AzureUSGovernmentCloud)",
                     o->environment);
        return AG_LOGIN_USAGE;
    }
    const char *path = o->azure_v1 ? "/oauth2/" : "/oauth2/v2.0/";
    char t[300];
    snprintf(t, sizeof t, "/%s%s", o->tenant_id, path);
    lg->token_endpoint = join(lg, host, t, "token");
    lg->device_endpoint =
        join(lg, host, t, o->azure_v1 ? "devicecode?api-version=1.0" : "devicecode");
    return lg->token_endpoint && lg->device_endpoint ? AG_LOGIN_OK : AG_LOGIN_FAILED;
}

static ag_login_status resolve_oidc(ag_login_t *lg)
{
    const char *issuer = lg->opts->issuer_url;
    const char *url = join(lg, issuer, "/.well-known/openid-configuration", "");
    ag_buf_t body = AG_BUF_INIT(AG_OAUTH_MAX_BODY);
    ag_oauth_discovery_t d;
    ag_login_status st = AG_LOGIN_IDP;
    char detail[256];
    long status = 0;
    ag_err err =
        url ? ag_login_http_do(lg->http, url, AG_STR_NULL, &status, &body, detail, sizeof detail)
            : AG_E_NOMEM;
    if (err || status != 200) {
        ag_login_say("cannot read the OpenID configuration of %s: %s", issuer,
                     err      ? detail
                     : status ? "unexpected HTTP status"
                              : "no answer");
        goto out;
    }
    if (ag_oauth_parse_discovery(ag_buf_str(&body), ag_str_cstr(issuer), &lg->arena, &d) != 0) {
        ag_login_say("the OpenID configuration of %s is malformed, names another issuer, or "
                     "points at an endpoint that is neither https:// nor loopback",
                     issuer);
        goto out;
    }
    lg->token_endpoint = ag_arena_cstr(&lg->arena, d.token_endpoint);
    lg->device_endpoint = d.device_authorization_endpoint.n
                              ? ag_arena_cstr(&lg->arena, d.device_authorization_endpoint)
                              : NULL;
    st = lg->token_endpoint ? AG_LOGIN_OK : AG_LOGIN_FAILED;
out:
    ag_buf_dispose(&body);
    return st;
}

ag_login_status ag_login_resolve(ag_login_t *lg)
{
    if (lg->token_endpoint)
        return AG_LOGIN_OK;
    return lg->azure ? resolve_azure(lg) : resolve_oidc(lg);
}

ag_err ag_login_add_scope(const ag_login_t *lg, ag_buf_t *form)
{
    ag_login_t *l = (ag_login_t *)lg; /* scopes() caches its string in the arena */
    const char *sc = scopes(l), *aud = audience(lg);
    ag_err err = 0;
    if (*sc)
        err = ag_oauth_form_add(form, "scope", ag_str_cstr(sc));
    /* Azure AD v1 names the server app as resource=; an OIDC issuer takes the gateway's
     * audience as an RFC 8707 resource indicator. Azure AD v2 has it in the scope. */
    if (!err && aud && (!lg->azure || lg->opts->azure_v1))
        err = ag_oauth_form_add(form, "resource", ag_str_cstr(aud));
    return err;
}

static ag_err add_client(const ag_login_t *lg, ag_buf_t *form)
{
    ag_err err = ag_oauth_form_add(form, "client_id", ag_str_cstr(lg->opts->client_id));
    if (!err && lg->opts->client_secret) /* RFC 6749 §2.3.1: in the body is allowed */
        err = ag_oauth_form_add(form, "client_secret", ag_str_cstr(lg->opts->client_secret));
    return err;
}

ag_login_status ag_login_post(ag_login_t *lg, const char *url, ag_buf_t *form, ag_buf_t *body,
                              ag_oauth_error_t *oerr)
{
    char detail[256];
    long status = 0;
    ag_err err;
    memset(oerr, 0, sizeof *oerr);
    if (add_client(lg, form) != 0)
        return AG_LOGIN_FAILED;
    err = ag_login_http_do(lg->http, url, ag_buf_str(form), &status, body, detail, sizeof detail);
    if (err) {
        ag_login_say("request to %s failed: %s", url,
                     err == AG_E_TOO_BIG ? "the answer is too large" : detail);
        return AG_LOGIN_IDP;
    }
    if (status == 200)
        return AG_LOGIN_OK;
    /* RFC 6749 §5.2: errors come as 400 (401 for client authentication) with JSON. */
    if ((status == 400 || status == 401) &&
        ag_oauth_parse_error(ag_buf_str(body), &lg->arena, oerr) == 0)
        return AG_LOGIN_INVALID_GRANT;
    ag_login_say("%s answered HTTP %ld without an OAuth error in the expected form", url, status);
    return AG_LOGIN_IDP;
}

ag_login_status ag_login_token_request(ag_login_t *lg, const char *url, ag_buf_t *form,
                                       ag_oauth_tokens_t *out, ag_oauth_error_t *oerr)
{
    ag_buf_t body = AG_BUF_INIT(AG_OAUTH_MAX_BODY);
    ag_login_status st = ag_login_post(lg, url, form, &body, oerr);
    if (st == AG_LOGIN_OK &&
        ag_oauth_parse_tokens(ag_buf_str(&body), lg->now(), &lg->arena, out) != 0) {
        ag_login_say("the token response of %s is malformed (it needs token_type Bearer, a "
                     "well-formed access_token and expires_in); no token was used",
                     url);
        st = AG_LOGIN_IDP;
    }
    if (st == AG_LOGIN_OK && lg->opts->use_id_token && out->id_token.n == 0) {
        ag_login_say("the token response of %s has no id_token", url);
        st = AG_LOGIN_IDP;
    }
    if (body.p)
        mbedtls_platform_zeroize(body.p, body.cap);
    ag_buf_dispose(&body);
    return st;
}
