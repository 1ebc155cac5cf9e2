/* `authgate login`: a kubectl exec credential plugin (client.authentication.k8s.io v1 and
 * v1beta1). Reads KUBERNETES_EXEC_INFO, takes the token cache lock, hands out a cached
 * access token while it is fresh, else refreshes it, else signs the person in with the
 * device code flow, and prints exactly one ExecCredential on stdout. Every word for the
 * person goes to stderr. The exit status is an ag_login_status (login.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/cmd_args.h"
#include "login/execcred.h"
#include "login/login.h"
#include "login/login_cache.h"

#include <mbedtls/platform_util.h>

/* Azure AD public client kubelogin and `az aks get-credentials` use for device code
 * sign-in to AKS (the "Azure Kubernetes Service AAD Client" application). */
#define AKS_CLIENT_APP_ID "80faf920-1908-4b52-b5ef-a8e7bedfc67a"

static const char login_help[] =
    "usage: authgate login (--issuer-url URL --client-id ID | --tenant-id TENANT) [options]\n"
    "\n"
    "A kubectl exec credential plugin: prints an ExecCredential with a bearer token on\n"
    "stdout. Signs in with the OAuth 2.0 device authorization grant (RFC 8628) the first\n"
    "time, then reuses the cached token until shortly before it expires and refreshes it\n"
    "with the refresh token. Messages (the sign-in URL and code) go to stderr.\n"
    "\n"
    "identity provider:\n"
    "  --issuer-url URL        OpenID Connect issuer (also --oidc-issuer-url); its discovery\n"
    "                          document names the device and token endpoints\n"
    "  --tenant-id TENANT      Azure AD (Entra ID) tenant instead of an issuer URL\n"
    "  --environment NAME      AzurePublicCloud (default), AzureChinaCloud,\n"
    "                          AzureUSGovernmentCloud\n"
    "  --authority-host URL    Azure AD login host (default: the environment's; also\n"
    "                          AZURE_AUTHORITY_HOST)\n"
    "  --legacy                Azure AD v1 endpoints (resource=) instead of v2 (scope=)\n"
    "  --client-id ID          OAuth client (also --oidc-client-id); Azure default:\n"
    "                          " AKS_CLIENT_APP_ID " (AKS client app)\n"
    "  --client-secret S       for a confidential client (also --oidc-client-secret);\n"
    "                          spn: prefer AZURE_CLIENT_SECRET (a flag shows in ps)\n"
    "  --scopes \"A B\"          scopes to ask for, space or comma separated (also --scope,\n"
    "                          repeatable); OIDC default \"openid offline_access\", Azure\n"
    "                          default \"<server-id>/.default offline_access\"\n"
    "  --audience AUD          OIDC: resource indicator (RFC 8707) for the gateway's\n"
    "                          audience; Azure: the server application id (also\n"
    "                          --server-id; default 6dae42f8-4368-4678-94ff-3960e28e3630)\n"
    "  --use-id-token          hand kubectl the ID token instead of the access token\n"
    "  --login MODE            devicecode (default); spn or workloadidentity sign in\n"
    "                          as the client itself, never ask a person, and are not\n"
    "                          cached (like kubelogin)\n"
    "  --client-certificate FILE  spn: PEM certificate and its RSA key (unencrypted; also\n"
    "                          AZURE_CLIENT_CERTIFICATE_PATH); signs an RS256 client\n"
    "                          assertion (RFC 7523) with an x5t header\n"
    "  --client-key FILE       spn: the certificate's key when not in the same file\n"
    "  --federated-token-file FILE  workloadidentity: the federated (service account)\n"
    "                          token sent as the client assertion, re-read on every run\n"
    "                          (also AZURE_FEDERATED_TOKEN_FILE)\n"
    "  --idp-certificate-authority FILE  PEM bundle to verify the identity provider's TLS\n"
    "                          (also --certificate-authority)\n"
    "\n"
    "cache:\n"
    "  --token-cache-dir DIR   default ~/.kube/cache/authgate (created 0700; refused when\n"
    "                          others can write it)\n"
    "  --logout                remove the cached tokens (of these flags, or all when no\n"
    "                          identity provider is named) and exit\n"
    "\n"
    "exit status: 0 ok, 2 usage, 3 identity provider unreachable or answered wrongly,\n"
    "4 sign-in declined, 5 code expired, 6 sign-in needed but kubectl is not interactive,\n"
    "7 token cache unsafe or unusable, 8 the grant or client was refused (invalid_grant,\n"
    "invalid_client).\n"
    "environment (spn, workloadidentity): AZURE_CLIENT_ID, AZURE_TENANT_ID,\n"
    "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE,\n"
    "AZURE_AUTHORITY_HOST; kubelogin's AAD_SERVICE_PRINCIPAL_CLIENT_ID/_SECRET/\n"
    "_CERTIFICATE too. Flags win over the environment.\n"
    "\n"
    "examples:\n"
    "  authgate login --issuer-url https://idp.example.com --client-id kubectl \\\n"
    "      --audience https://authgate.example.com\n"
    "  authgate login --tenant-id contoso.onmicrosoft.com --server-id 6dae42f8-4368-4678-"
    "94ff-3960e28e3630\n"
    "  AZURE_CLIENT_SECRET=... authgate login --login spn --tenant-id T --client-id APP\n"
    "  authgate login --login workloadidentity   # AZURE_* from the pod's webhook\n"
    "  authgate login --logout\n"
    "Write a kubeconfig that runs it for kubectl: authgate kubeconfig --help.\n";

typedef struct {
    ag_login_opts_t o;
    const char *cache_dir;
    bool logout;
    char scopes[2048];
} login_args_t;

static bool opt_alias(const char *const *names, int argc, char **argv, int *i, bool *missing,
                      const char **out)
{
    for (; *names; names++) {
        const char *v = ag_cmd_opt_value(*names, argc, argv, i, missing);
        if (v || *missing) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* --scopes "a b", --scopes a,b, --scope a --scope b: one space-separated list. */
static bool add_scopes(login_args_t *a, const char *v)
{
    size_t n = strlen(a->scopes);
    if (n + 1 + strlen(v) >= sizeof a->scopes)
        return false;
    snprintf(a->scopes + n, sizeof a->scopes - n, "%s%s", n ? " " : "", v);
    for (char *p = a->scopes; *p; p++)
        if (*p == ',')
            *p = ' ';
    a->o.scopes = a->scopes;
    return true;
}

#define FIELD(f) offsetof(login_args_t, f)
static const struct {
    const char *names[4];
    size_t field;
} value_opts[] = {
    {{"--issuer-url", "--oidc-issuer-url", NULL}, FIELD(o.issuer_url)},
    {{"--tenant-id", NULL}, FIELD(o.tenant_id)},
    {{"--environment", NULL}, FIELD(o.environment)},
    {{"--authority-host", NULL}, FIELD(o.authority_host)},
    {{"--client-id", "--oidc-client-id", NULL}, FIELD(o.client_id)},
    {{"--client-secret", "--oidc-client-secret", NULL}, FIELD(o.client_secret)},
    {{"--client-certificate", NULL}, FIELD(o.client_certificate)},
    {{"--client-key", NULL}, FIELD(o.client_key)},
    {{"--federated-token-file", NULL}, FIELD(o.federated_token_file)},
    {{"--audience", "--server-id", NULL}, FIELD(o.audience)},
    {{"--login", "-l", NULL}, FIELD(o.grant)},
    {{"--idp-certificate-authority", "--certificate-authority", NULL}, FIELD(o.ca_file)},
    {{"--token-cache-dir", "--cache-dir", NULL}, FIELD(cache_dir)},
};

static int usage_error(const char *what, const char *arg)
{
    ag_login_say("%s%s%s (authgate login --help)", what, arg ? " " : "", arg ? arg : "");
    return AG_LOGIN_USAGE;
}

/* One argv[*i]: 0 when taken, else an exit status. */
static int parse_one(login_args_t *a, int argc, char **argv, int *i)
{
    static const char *const scope_names[] = {"--scopes", "--scope", "--oidc-extra-scope", NULL};
    const char *arg = argv[*i], *v = NULL;
    bool missing = false;
    if (strcmp(arg, "--logout") == 0 || strcmp(arg, "--legacy") == 0 ||
        strcmp(arg, "--use-id-token") == 0) {
        bool *flag =
            arg[2] == 'l' ? (arg[3] == 'o' ? &a->logout : &a->o.azure_v1) : &a->o.use_id_token;
        *flag = true;
        return 0;
    }
    if (opt_alias(scope_names, argc, argv, i, &missing, &v))
        return missing            ? usage_error("missing value for", arg)
               : add_scopes(a, v) ? 0
                                  : usage_error("too many scopes", NULL);
    for (size_t k = 0; k < sizeof value_opts / sizeof value_opts[0]; k++)
        if (opt_alias(value_opts[k].names, argc, argv, i, &missing, &v)) {
            if (missing)
                return usage_error("missing value for", arg);
            *(const char **)((char *)a + value_opts[k].field) = v;
            return 0;
        }
    return usage_error("unknown option", arg);
}

/* Letters, digits, '.', '-' and '_' only: the tenant goes into the URL's path. */
static bool tenant_ok(const char *t)
{
    size_t n = strlen(t);
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return n > 0 && n <= 128;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The variables Azure's SDKs (and kubelogin) read, for what the flags leave unsaid:
 * AZURE_* first, then kubelogin's AAD_SERVICE_PRINCIPAL_*. */
static void from_env(ag_login_opts_t *o, const ag_grant_t *g)
{
    const char *v;
    if (!o->client_id &&
        ((v = env("AZURE_CLIENT_ID")) || (v = env("AAD_SERVICE_PRINCIPAL_CLIENT_ID"))))
        o->client_id = v;
    if (!o->tenant_id && !o->issuer_url && (v = env("AZURE_TENANT_ID")))
        o->tenant_id = v;
    if (g == &ag_grant_workload_identity && !o->federated_token_file)
        o->federated_token_file = env("AZURE_FEDERATED_TOKEN_FILE");
    if (g != &ag_grant_spn || o->client_secret || o->client_certificate)
        return;
    if ((v = env("AZURE_CLIENT_SECRET")) || (v = env("AAD_SERVICE_PRINCIPAL_CLIENT_SECRET")))
        o->client_secret = v;
    else if ((v = env("AZURE_CLIENT_CERTIFICATE_PATH")) ||
             (v = env("AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE")))
        o->client_certificate = v;
}

/* What a non-interactive mode needs: its own client id and exactly one credential. */
static int check_client(const ag_login_opts_t *o, const ag_grant_t *g)
{
    if (g->interactive)
        return 0;
    if (!o->client_id || !*o->client_id)
        return usage_error("--client-id (or AZURE_CLIENT_ID) is required with --login", g->name);
    if (g == &ag_grant_spn && !o->client_secret == !o->client_certificate)
        return usage_error("--login spn needs exactly one of --client-secret (or "
                           "AZURE_CLIENT_SECRET) and --client-certificate (or "
                           "AZURE_CLIENT_CERTIFICATE_PATH)",
                           NULL);
    if (g == &ag_grant_workload_identity &&
        (!o->federated_token_file || o->client_secret || o->client_certificate))
        return usage_error("--login workloadidentity needs --federated-token-file (or "
                           "AZURE_FEDERATED_TOKEN_FILE) and no other client credential",
                           NULL);
    return 0;
}

static int check_args(login_args_t *a)
{
    ag_login_opts_t *o = &a->o;
    if (!o->authority_host && getenv("AZURE_AUTHORITY_HOST") && *getenv("AZURE_AUTHORITY_HOST"))
        o->authority_host = getenv("AZURE_AUTHORITY_HOST");
    if (!o->grant)
        o->grant = "devicecode";
    const ag_grant_t *g = ag_grant_find(o->grant);
    if (!g)
        return usage_error("unsupported --login mode", o->grant);
    if (!g->interactive)
        from_env(o, g);
    if (a->logout && !o->issuer_url && !o->tenant_id)
        return 0; /* logout of everything */
    if (!o->issuer_url == !o->tenant_id)
        return usage_error("name exactly one of --issuer-url and --tenant-id", NULL);
    if (o->tenant_id && !tenant_ok(o->tenant_id))
        return usage_error("invalid --tenant-id", o->tenant_id);
    if (o->tenant_id && !o->client_id && g->interactive)
        o->client_id = AKS_CLIENT_APP_ID;
    if (g->interactive && (!o->client_id || !*o->client_id))
        return usage_error("--client-id is required with --issuer-url", NULL);
    return 0;
}

static int parse_args(login_args_t *a, int argc, char **argv, bool *help)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            *help = true;
            return 0;
        }
        int rc = parse_one(a, argc, argv, &i);
        if (rc)
            return rc;
    }
    return check_args(a);
}

/* KUBERNETES_EXEC_INFO, or (run by hand, no kubectl) v1 with a person at the terminal. */
static int exec_info(ag_arena_t *arena, ag_execcred_info_t *info)
{
    const char *env = getenv("KUBERNETES_EXEC_INFO");
    info->api_version = AG_EXECCRED_V1;
    info->interactive = true;
    if (!env || !*env)
        return 0;
    ag_err err = ag_execcred_parse_info(ag_str_cstr(env), arena, info);
    if (err == AG_E_UNSUPPORTED)
        return usage_error("KUBERNETES_EXEC_INFO names an apiVersion other than " AG_EXECCRED_V1
                           " and " AG_EXECCRED_V1BETA1,
                           NULL);
    return err ? usage_error("KUBERNETES_EXEC_INFO is not an ExecCredential", NULL) : 0;
}

static void on_waiting(void)
{
    ag_login_say("another authgate login for the same account is running; waiting for it");
}

static int print_credential(const ag_execcred_info_t *info, const ag_login_opts_t *o,
                            const ag_oauth_tokens_t *t)
{
    ag_buf_t out = AG_BUF_INIT(4 * AG_OAUTH_MAX_TOKEN);
    int rc = AG_LOGIN_FAILED;
    ag_str_t tok = o->use_id_token ? t->id_token : t->access_token;
    if (ag_execcred_write(&out, info->api_version, tok, t->expires_at) == 0 &&
        fwrite(out.p, 1, out.n, stdout) == out.n && fflush(stdout) == 0)
        rc = AG_LOGIN_OK;
    if (out.p)
        mbedtls_platform_zeroize(out.p, out.cap);
    ag_buf_dispose(&out);
    return rc;
}

/* The cached entry when it can be handed out (0), else what to try next. */
static ag_login_status try_cache(ag_login_t *lg, ag_login_cache_t *c, ag_oauth_tokens_t *t,
                                 bool *have)
{
    char why[512];
    ag_err err = ag_login_cache_read(c, &lg->arena, t, why, sizeof why);
    *have = err == 0;
    if (err == AG_E_CONFIG) {
        ag_login_say("%s", why);
        return AG_LOGIN_CACHE;
    }
    if (err && err != AG_E_NOT_FOUND)
        ag_login_say("%s", why); /* unreadable or malformed: sign in again */
    if (*have && lg->opts->use_id_token && t->id_token.n == 0)
        *have = false;
    return *have && ag_oauth_tokens_fresh(t, lg->now()) ? AG_LOGIN_OK : AG_LOGIN_INVALID_GRANT;
}

/* Under the lock: cache, refresh, sign-in. Fills <t> with what to print. */
static ag_login_status acquire(ag_login_t *lg, ag_login_cache_t *c, bool interactive,
                               ag_oauth_tokens_t *t)
{
    ag_oauth_tokens_t cached, fresh;
    bool have;
    char why[512];
    ag_login_status st = try_cache(lg, c, &cached, &have);
    if (st != AG_LOGIN_INVALID_GRANT) {
        *t = cached;
        return st;
    }
    if ((st = ag_login_resolve(lg)) != AG_LOGIN_OK)
        return st;
    st = have ? ag_grant_refresh_token.acquire(lg, &cached, &fresh) : AG_LOGIN_INVALID_GRANT;
    if (st == AG_LOGIN_INVALID_GRANT) {
        const ag_grant_t *g = ag_grant_find(lg->opts->grant);
        if (g->interactive && !interactive) {
            ag_login_say("a sign-in is needed, but kubectl runs without a terminal "
                         "(interactive: false); run `kubectl` from a terminal once, or "
                         "authgate login with the same flags by hand");
            return AG_LOGIN_NEEDS_PERSON;
        }
        st = g->acquire(lg, have ? &cached : NULL, &fresh);
    }
    if (st != AG_LOGIN_OK)
        return st;
    if (ag_login_cache_write(c, &fresh, why, sizeof why) != 0)
        ag_login_say("%s (the token is used, but not kept)", why);
    *t = fresh;
    return AG_LOGIN_OK;
}

static int logout(ag_login_t *lg, const char *dir, bool all)
{
    ag_login_cache_t *c = NULL;
    char why[512];
    int n = 0;
    ag_err err;
    if (all) {
        if ((err = ag_login_cache_remove_all(dir, &n, why, sizeof why)) != 0) {
            ag_login_say("%s", why);
            return AG_LOGIN_CACHE;
        }
        ag_login_say("removed %d cached token set(s) from %s", n, dir);
        return AG_LOGIN_OK;
    }
    if ((err = ag_login_cache_open(dir, ag_login_cache_key(lg), &c, why, sizeof why)) != 0 ||
        (err = ag_login_cache_lock(c, on_waiting)) != 0 || (err = ag_login_cache_remove(c)) != 0)
        ag_login_say("%s", err == AG_E_CONFIG || !c ? why : "cannot remove the cached tokens");
    else
        ag_login_say("removed the cached tokens");
    ag_login_cache_close(c);
    return err ? AG_LOGIN_CACHE : AG_LOGIN_OK;
}

static int run_cached(login_args_t *a, const ag_execcred_info_t *info, ag_login_t *lg)
{
    ag_login_cache_t *c = NULL;
    ag_oauth_tokens_t t;
    char dir[4096], why[512];
    int rc = AG_LOGIN_CACHE;
    if (a->cache_dir)
        snprintf(dir, sizeof dir, "%s", a->cache_dir);
    else if (ag_login_cache_default_dir(dir, sizeof dir) != 0)
        return usage_error("HOME is not set: name --token-cache-dir", NULL);
    if (a->logout)
        return logout(lg, dir, !a->o.issuer_url && !a->o.tenant_id);
    if (ag_login_cache_open(dir, ag_login_cache_key(lg), &c, why, sizeof why) != 0) {
        ag_login_say("%s", why);
        goto out;
    }
    if (ag_login_cache_lock(c, on_waiting) != 0) {
        ag_login_say("cannot lock the token cache in %s (a lock file others can write, or "
                     "not a regular file)",
                     dir);
        goto out;
    }
    if ((rc = acquire(lg, c, info->interactive, &t)) == AG_LOGIN_OK)
        rc = print_credential(info, &a->o, &t);
out:
    ag_login_cache_close(c);
    return rc;
}

/* A client signing in as itself: no cache (like kubelogin), since the credential is at
 * hand on every run, a rotated federated token must be the one used, and CI runners'
 * home directories are often shared; kubectl keeps the token in memory until its
 * expirationTimestamp. */
static int run_client(login_args_t *a, const ag_execcred_info_t *info, ag_login_t *lg,
                      const ag_grant_t *g)
{
    ag_oauth_tokens_t t;
    ag_login_status st = ag_login_resolve(lg);
    if (st == AG_LOGIN_OK)
        st = g->acquire(lg, NULL, &t);
    return st == AG_LOGIN_OK ? print_credential(info, &a->o, &t) : (int)st;
}

static int run(login_args_t *a, const ag_execcred_info_t *info, ag_login_t *lg)
{
    const ag_grant_t *g = ag_grant_find(a->o.grant);
    if (!g->interactive && !a->logout)
        return run_client(a, info, lg, g);
    return run_cached(a, info, lg);
}

int ag_cmd_login(int argc, char **argv)
{
    login_args_t a = {0};
    ag_execcred_info_t info;
    ag_login_t lg;
    bool help = false;
    int rc = parse_args(&a, argc, argv, &help);
    if (help) {
        fputs(login_help, stdout);
        return 0;
    }
    /* The credential itself is checked only here: `authgate kubeconfig --login spn` may
     * run where the secret is not (it comes from the CI job's environment). */
    if (!rc && !a.logout)
        rc = check_client(&a.o, ag_grant_find(a.o.grant));
    if (rc)
        return rc;
    if (ag_login_init(&lg, &a.o) != 0) {
        ag_login_say("cannot set up HTTP");
        return AG_LOGIN_FAILED;
    }
    if ((rc = exec_info(&lg.arena, &info)) == 0)
        rc = run(&a, &info, &lg);
    ag_login_dispose(&lg);
    return rc;
}

int ag_cmd_login_check_args(int argc, char **argv)
{
    login_args_t a = {0};
    bool help = false;
    int rc = parse_args(&a, argc, argv, &help);
    if (!rc && (help || a.logout))
        rc = usage_error("--help and --logout are not sign-in options", NULL);
    return rc;
}
