/* The interactive and silent grant kinds of `authgate login` (login.h): device code
 * (RFC 8628) and refresh token (RFC 6749 §6). Both build their form and hand it to
 * ag_login_token_request; only the device flow waits. */
#include "login/login.h"

#include <string.h>

#include <mbedtls/platform_util.h>

#define SLOW_DOWN_STEP 5   /* RFC 8628 §3.5: slow_down adds 5 seconds to the interval */
#define MAX_FLOW_S 1800    /* whatever the IdP says, a sign-in is abandoned after 30 min */
#define MAX_INTERVAL_S 120 /* and a person does not wait longer than this between polls */

static const char *const device_grant = "urn:ietf:params:oauth:grant-type:device_code";

static ag_err str_param(ag_buf_t *form, const char *name, ag_str_t v)
{
    return ag_oauth_form_add(form, name, v);
}

static ag_login_status start_device(ag_login_t *lg, ag_oauth_device_t *d)
{
    ag_buf_t form = AG_BUF_INIT(8192), body = AG_BUF_INIT(AG_OAUTH_MAX_BODY);
    ag_oauth_error_t oerr;
    ag_login_status st = AG_LOGIN_FAILED;
    if (ag_login_add_scope(lg, &form) != 0)
        goto out;
    st = ag_login_post(lg, lg->device_endpoint, &form, &body, &oerr);
    if (st == AG_LOGIN_INVALID_GRANT) {
        ag_login_say("the device authorization request was refused: %.*s%s%.*s",
                     AG_STR_FMT(oerr.error), oerr.description.n ? ": " : "",
                     AG_STR_FMT(oerr.description));
        st = AG_LOGIN_IDP;
    }
    if (st == AG_LOGIN_OK && ag_oauth_parse_device(ag_buf_str(&body), &lg->arena, d) != 0) {
        ag_login_say("the device authorization response of %s is malformed (it needs "
                     "device_code, user_code, an https:// verification_uri and expires_in)",
                     lg->device_endpoint);
        st = AG_LOGIN_IDP;
    }
out:
    ag_buf_dispose(&form);
    ag_buf_dispose(&body);
    return st;
}

static void show_device(const ag_oauth_device_t *d)
{
    ag_login_say("To sign in, open %.*s and enter the code %.*s", AG_STR_FMT(d->verification_uri),
                 AG_STR_FMT(d->user_code));
    if (d->verification_uri_complete.n)
        ag_login_say("(or open %.*s)", AG_STR_FMT(d->verification_uri_complete));
    ag_login_say("waiting for the sign-in (the code expires in %lld s)...", d->expires_in);
}

/* One poll: OK, "keep waiting" (INVALID_GRANT with *again set), or the end. */
static ag_login_status poll_once(ag_login_t *lg, const ag_oauth_device_t *d, long long *interval,
                                 bool *again, ag_oauth_tokens_t *out)
{
    ag_buf_t form = AG_BUF_INIT(8192);
    ag_oauth_error_t e;
    bool v1 = lg->azure && lg->opts->azure_v1;
    ag_login_status st = AG_LOGIN_FAILED;
    *again = false;
    /* Azure AD v1 spells the grant "device_code" and the code "code", with resource=. */
    if (str_param(&form, "grant_type", ag_str_cstr(v1 ? "device_code" : device_grant)) ||
        str_param(&form, v1 ? "code" : "device_code", d->device_code) ||
        (v1 && ag_login_add_scope(lg, &form)))
        goto out;
    st = ag_login_token_request(lg, lg->token_endpoint, &form, out, &e);
    if (st != AG_LOGIN_INVALID_GRANT)
        goto out;
    if (ag_str_eq_lit(e.error, "authorization_pending")) {
        *again = true;
    } else if (ag_str_eq_lit(e.error, "slow_down")) {
        *interval += SLOW_DOWN_STEP;
        *again = true;
    } else if (ag_str_eq_lit(e.error, "access_denied") ||
               ag_str_eq_lit(e.error, "authorization_declined")) {
        ag_login_say("the sign-in was declined (%.*s)", AG_STR_FMT(e.error));
        st = AG_LOGIN_DENIED;
    } else if (ag_str_eq_lit(e.error, "expired_token") || ag_str_eq_lit(e.error, "code_expired")) {
        ag_login_say("the code expired before the sign-in was completed; run the command again");
        st = AG_LOGIN_EXPIRED;
    } else {
        ag_login_say("the sign-in failed: %.*s%s%.*s", AG_STR_FMT(e.error),
                     e.description.n ? ": " : "", AG_STR_FMT(e.description));
        st = AG_LOGIN_IDP;
    }
out:
    ag_buf_dispose(&form);
    return st;
}

static ag_login_status device_acquire(ag_login_t *lg, const ag_oauth_tokens_t *cached,
                                      ag_oauth_tokens_t *out)
{
    ag_oauth_device_t d;
    ag_login_status st = AG_LOGIN_FAILED;
    bool again = true;
    (void)cached;
    if (!lg->device_endpoint) {
        ag_login_say("%s does not offer the device authorization grant (no "
                     "device_authorization_endpoint in its OpenID configuration)",
                     lg->opts->issuer_url);
        return AG_LOGIN_IDP;
    }
    if ((st = start_device(lg, &d)) != AG_LOGIN_OK)
        return st;
    show_device(&d);
    long long interval = d.interval;
    long long deadline = lg->now() + (d.expires_in < MAX_FLOW_S ? d.expires_in : MAX_FLOW_S);
    while (again) {
        long long left = deadline - lg->now();
        if (left <= 0) {
            ag_login_say("the code expired before the sign-in was completed; run the command "
                         "again");
            return AG_LOGIN_EXPIRED;
        }
        /* RFC 8628 §3.5: wait the interval before every request, the first one too. */
        lg->sleep_s(interval < MAX_INTERVAL_S ? interval : MAX_INTERVAL_S);
        st = poll_once(lg, &d, &interval, &again, out);
    }
    if (st == AG_LOGIN_OK)
        ag_login_say("signed in");
    return st;
}

static ag_login_status refresh_acquire(ag_login_t *lg, const ag_oauth_tokens_t *cached,
                                       ag_oauth_tokens_t *out)
{
    ag_buf_t form = AG_BUF_INIT(AG_OAUTH_MAX_TOKEN + 8192);
    ag_oauth_error_t e;
    ag_login_status st = AG_LOGIN_FAILED;
    if (!cached || cached->refresh_token.n == 0)
        return AG_LOGIN_INVALID_GRANT;
    if (str_param(&form, "grant_type", AG_STR("refresh_token")) ||
        str_param(&form, "refresh_token", cached->refresh_token) || ag_login_add_scope(lg, &form))
        goto out;
    st = ag_login_token_request(lg, lg->token_endpoint, &form, out, &e);
    if (st == AG_LOGIN_INVALID_GRANT)
        ag_login_say("the cached refresh token was refused (%.*s)", AG_STR_FMT(e.error));
    /* RFC 6749 §6: the server may keep the refresh token; then the old one stays valid. */
    if (st == AG_LOGIN_OK && out->refresh_token.n == 0)
        out->refresh_token = cached->refresh_token;
out:
    if (form.p)
        mbedtls_platform_zeroize(form.p, form.cap);
    ag_buf_dispose(&form);
    return st;
}

const ag_grant_t ag_grant_device_code = {"devicecode", true, device_acquire};
const ag_grant_t ag_grant_refresh_token = {"refresh_token", false, refresh_acquire};
