/* The non-interactive grant kinds of `authgate login` (login.h), for CI jobs and pods:
 *
 *   spn               client credentials (RFC 6749 §4.4) with a client secret, or with a
 *                     certificate: an RS256 client assertion (RFC 7523 §2.2, x5t header,
 *                     as Microsoft Entra ID wants it) signed with the certificate's key
 *   workloadidentity  client credentials with a federated token (a Kubernetes service
 *                     account token projected into the pod) as the client assertion
 *
 * None of them ever waits for a person. The secret is sent by ag_login_post (the
 * client_secret of the options); the assertions are added here. Token files are read on
 * every run, so a rotated projected token is the one sent. */
#include "login/login.h"

#include <string.h>

#include <mbedtls/platform_util.h>

#include "authn/graph.h"
#include "files.h"

#define FEDERATED_MAX 16384 /* a projected service account token is ~1 KiB */

static const char *const assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/* A JWT travels as is: base64url characters and the two dots, nothing else. */
static bool jwt_shaped(ag_str_t s)
{
    int dots = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return false;
    }
    return dots == 2 && s.n > 4;
}

/* The certificate's client assertion for the token endpoint, into <jwt>. */
static ag_login_status cert_assertion(ag_login_t *lg, ag_buf_t *jwt)
{
    const char *file = lg->opts->client_certificate;
    ag_graph_cfg_t cfg;
    ag_graph_creds_t *cr = NULL;
    ag_login_status st = AG_LOGIN_USAGE;
    ag_graph_cfg_defaults(&cfg);
    cfg.client_certificate_file = file; /* one PEM file: certificate and private key */
    cfg.client_key_file = lg->opts->client_key ? lg->opts->client_key : file;
    if (ag_graph_creds_load(&cfg, &cr) != 0) {
        ag_login_say("cannot use the client certificate %s: it needs a PEM certificate and "
                     "its RSA private key (unencrypted; convert a .pfx with `openssl pkcs12 "
                     "-nodes`)",
                     file);
        goto out;
    }
    st = AG_LOGIN_FAILED;
    if (ag_graph_client_assertion(jwt, cr, ag_str_cstr(lg->opts->client_id),
                                  ag_str_cstr(lg->token_endpoint), lg->now()) == 0)
        st = AG_LOGIN_OK;
out:
    ag_graph_creds_destroy(cr);
    return st;
}

/* The federated token file's content (re-read now), into <jwt>. */
static ag_login_status federated_assertion(ag_login_t *lg, ag_buf_t *jwt)
{
    const char *file = lg->opts->federated_token_file;
    ag_err err = ag_buf_read_file(jwt, file);
    while (!err && jwt->n && (unsigned char)jwt->p[jwt->n - 1] <= 0x20)
        jwt->p[--jwt->n] = '\0';
    if (err || !jwt_shaped(ag_buf_str(jwt))) {
        ag_login_say("cannot use the federated token file %s: %s", file,
                     err == AG_E_TOO_BIG ? "larger than 16 KiB"
                     : err               ? "cannot read it"
                                         : "it does not hold a JWT");
        return AG_LOGIN_USAGE;
    }
    return AG_LOGIN_OK;
}

static ag_login_status client_credentials(ag_login_t *lg, ag_buf_t *assertion,
                                          ag_oauth_tokens_t *out)
{
    ag_buf_t form = AG_BUF_INIT(FEDERATED_MAX + 8192);
    ag_oauth_error_t e;
    ag_login_status st = AG_LOGIN_FAILED;
    if (ag_oauth_form_add(&form, "grant_type", AG_STR("client_credentials")) ||
        ag_login_add_scope(lg, &form))
        goto out;
    if (assertion &&
        (ag_oauth_form_add(&form, "client_assertion_type", ag_str_cstr(assertion_type)) ||
         ag_oauth_form_add(&form, "client_assertion", ag_buf_str(assertion))))
        goto out;
    st = ag_login_token_request(lg, lg->token_endpoint, &form, out, &e);
    if (st == AG_LOGIN_INVALID_GRANT) {
        ag_login_say("the token request was refused: %.*s%s%.*s", AG_STR_FMT(e.error),
                     e.description.n ? ": " : "", AG_STR_FMT(e.description));
        st = ag_str_eq_lit(e.error, "access_denied") ? AG_LOGIN_DENIED : AG_LOGIN_INVALID_GRANT;
    }
out:
    if (form.p)
        mbedtls_platform_zeroize(form.p, form.cap);
    ag_buf_dispose(&form);
    return st;
}

/* Client credentials with the client assertion <make> writes. */
static ag_login_status with_assertion(ag_login_t *lg,
                                      ag_login_status (*make)(ag_login_t *, ag_buf_t *),
                                      ag_oauth_tokens_t *out)
{
    ag_buf_t jwt = AG_BUF_INIT(FEDERATED_MAX);
    ag_login_status st = make(lg, &jwt);
    if (st == AG_LOGIN_OK)
        st = client_credentials(lg, &jwt, out);
    if (jwt.p)
        mbedtls_platform_zeroize(jwt.p, jwt.cap);
    ag_buf_dispose(&jwt);
    return st;
}

static ag_login_status spn_acquire(ag_login_t *lg, const ag_oauth_tokens_t *cached,
                                   ag_oauth_tokens_t *out)
{
    (void)cached;
    if (lg->opts->client_certificate)
        return with_assertion(lg, cert_assertion, out);
    return client_credentials(lg, NULL, out); /* the secret: ag_login_post adds it */
}

static ag_login_status workload_acquire(ag_login_t *lg, const ag_oauth_tokens_t *cached,
                                        ag_oauth_tokens_t *out)
{
    (void)cached;
    return with_assertion(lg, federated_assertion, out);
}

const ag_grant_t ag_grant_spn = {"spn", false, spn_acquire};
const ag_grant_t ag_grant_workload_identity = {"workloadidentity", false, workload_acquire};
