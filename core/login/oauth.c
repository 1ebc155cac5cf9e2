/* OAuth 2.0 client messages (oauth.h): strict readers over json.c for what an identity
 * provider answers, the form encoder and URL rule for what we send, and the token cache
 * entry. No I/O: the caller fetches and stores the bytes. */
#include "login/oauth.h"

#include <string.h>
#include <time.h>

#include "base/json.h"

#define DEFAULT_INTERVAL 5 /* RFC 8628 §3.2: "If no value is provided, clients MUST use 5" */
#define MAX_SKEW 60

/* ---- field readers ------------------------------------------------------------------ */

static ag_err parse_object(ag_str_t body, ag_arena_t *arena, ag_json_t *doc)
{
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 4096};
    if (body.n > AG_OAUTH_MAX_BODY)
        return AG_E_TOO_BIG;
    ag_err err = ag_json_parse(doc, body, &lim, arena, NULL);
    if (err)
        return err;
    return ag_json_typeof(doc, ag_json_root(doc)) == AG_JSON_OBJECT ? 0 : AG_E_PARSE;
}

/* String member <key>, copied into <arena>; AG_E_PARSE when absent or not a string and
 * <required>. */
static ag_err get_str(const ag_json_t *doc, const char *key, bool required, ag_arena_t *arena,
                      ag_str_t *out)
{
    ag_json_ref v = ag_json_get(doc, ag_json_root(doc), key);
    *out = AG_STR("");
    if (v == AG_JSON_NONE || ag_json_typeof(doc, v) == AG_JSON_NULL)
        return required ? AG_E_PARSE : 0;
    if (ag_json_str(doc, v, arena, out) != 0)
        return AG_E_PARSE;
    *out = ag_arena_strdup(arena, *out); /* never borrowed: the caller wipes the body */
    if (!out->p)
        return AG_E_NOMEM;
    return required && out->n == 0 ? AG_E_PARSE : 0;
}

/* Integer member <key>, a JSON number or a string of digits (Azure AD v1); <dflt> when
 * absent; AG_E_PARSE when present but not an integer in [0, 10^9]. */
static ag_err get_int(const ag_json_t *doc, const char *key, long long dflt, long long *out)
{
    ag_json_ref v = ag_json_get(doc, ag_json_root(doc), key);
    unsigned long long u;
    *out = dflt;
    if (v == AG_JSON_NONE)
        return 0;
    if (ag_json_typeof(doc, v) == AG_JSON_NUMBER) {
        if (ag_json_int(doc, v, out) != 0)
            return AG_E_PARSE;
    } else if (ag_json_typeof(doc, v) == AG_JSON_STRING) {
        ag_str_t raw = ag_json_raw(doc, v);
        if (raw.n == 0 || raw.n > 10 || !ag_str_to_u64(raw, &u))
            return AG_E_PARSE;
        *out = (long long)u;
    } else {
        return AG_E_PARSE;
    }
    return *out >= 0 && *out <= 1000000000LL ? 0 : AG_E_PARSE;
}

/* RFC 6750 §2.1 b64token: what kubectl puts after "Bearer " must be exactly this. */
static bool b64token(ag_str_t s)
{
    size_t i = 0;
    if (s.n == 0 || s.n > AG_OAUTH_MAX_TOKEN)
        return false;
    for (; i < s.n && s.p[i] != '='; i++) {
        char c = s.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
            return false;
    }
    for (; i < s.n; i++)
        if (s.p[i] != '=')
            return false;
    return s.p[0] != '=';
}

/* Opaque credentials (refresh tokens): visible ASCII only, bounded. */
static bool visible_ascii(ag_str_t s)
{
    if (s.n > AG_OAUTH_MAX_TOKEN)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] < 0x21 || s.p[i] > 0x7e)
            return false;
    return true;
}

/* ---- responses ----------------------------------------------------------------------- */

ag_err ag_oauth_parse_discovery(ag_str_t body, ag_str_t issuer, ag_arena_t *arena,
                                ag_oauth_discovery_t *out)
{
    ag_json_t doc;
    ag_err err;
    memset(out, 0, sizeof *out);
    if ((err = parse_object(body, arena, &doc)) != 0 ||
        (err = get_str(&doc, "issuer", true, arena, &out->issuer)) != 0 ||
        (err = get_str(&doc, "token_endpoint", true, arena, &out->token_endpoint)) != 0 ||
        (err = get_str(&doc, "device_authorization_endpoint", false, arena,
                       &out->device_authorization_endpoint)) != 0)
        return err;
    if (!ag_str_eq(out->issuer, issuer) || !ag_oauth_url_allowed(out->token_endpoint))
        return AG_E_PARSE;
    if (out->device_authorization_endpoint.n &&
        !ag_oauth_url_allowed(out->device_authorization_endpoint))
        return AG_E_PARSE;
    return 0;
}

ag_err ag_oauth_parse_device(ag_str_t body, ag_arena_t *arena, ag_oauth_device_t *out)
{
    ag_json_t doc;
    ag_err err;
    memset(out, 0, sizeof *out);
    if ((err = parse_object(body, arena, &doc)) != 0 ||
        (err = get_str(&doc, "device_code", true, arena, &out->device_code)) != 0 ||
        (err = get_str(&doc, "user_code", true, arena, &out->user_code)) != 0 ||
        (err = get_str(&doc, "verification_uri", false, arena, &out->verification_uri)) != 0 ||
        (err = get_str(&doc, "verification_uri_complete", false, arena,
                       &out->verification_uri_complete)) != 0 ||
        (err = get_str(&doc, "message", false, arena, &out->message)) != 0 ||
        (err = get_int(&doc, "expires_in", -1, &out->expires_in)) != 0 ||
        (err = get_int(&doc, "interval", DEFAULT_INTERVAL, &out->interval)) != 0)
        return err;
    if (out->verification_uri.n == 0 && /* Azure AD v1 */
        (err = get_str(&doc, "verification_url", true, arena, &out->verification_uri)) != 0)
        return err;
    if (out->expires_in <= 0 || !visible_ascii(out->device_code) ||
        !visible_ascii(out->user_code) || out->user_code.n > 64 ||
        !ag_oauth_url_allowed(out->verification_uri) ||
        (out->verification_uri_complete.n && !ag_oauth_url_allowed(out->verification_uri_complete)))
        return AG_E_PARSE;
    if (out->interval < 1)
        out->interval = DEFAULT_INTERVAL; /* 0 would mean polling flat out */
    return 0;
}

static ag_err check_tokens(const ag_oauth_tokens_t *t)
{
    if (!b64token(t->access_token) || !visible_ascii(t->refresh_token) ||
        (t->id_token.n && !b64token(t->id_token)) || t->expires_at <= t->obtained_at)
        return AG_E_PARSE;
    return 0;
}

ag_err ag_oauth_parse_tokens(ag_str_t body, long long now, ag_arena_t *arena,
                             ag_oauth_tokens_t *out)
{
    ag_json_t doc;
    ag_str_t type;
    long long expires_in;
    ag_err err;
    memset(out, 0, sizeof *out);
    if ((err = parse_object(body, arena, &doc)) != 0 ||
        (err = get_str(&doc, "token_type", true, arena, &type)) != 0 ||
        (err = get_str(&doc, "access_token", true, arena, &out->access_token)) != 0 ||
        (err = get_str(&doc, "refresh_token", false, arena, &out->refresh_token)) != 0 ||
        (err = get_str(&doc, "id_token", false, arena, &out->id_token)) != 0 ||
        (err = get_int(&doc, "expires_in", -1, &expires_in)) != 0)
        return err;
    /* RFC 6749 §7.1: a client must not use a token whose type it does not understand.
     * expires_in is RECOMMENDED only, but without it we could not tell kubectl when the
     * credential ends, so a response without it is refused. */
    if (!ag_str_ieq(type, AG_STR("Bearer")) || expires_in <= 0)
        return AG_E_PARSE;
    out->obtained_at = now;
    out->expires_at = now + expires_in;
    return check_tokens(out);
}

ag_err ag_oauth_parse_error(ag_str_t body, ag_arena_t *arena, ag_oauth_error_t *out)
{
    ag_json_t doc;
    ag_err err;
    memset(out, 0, sizeof *out);
    if ((err = parse_object(body, arena, &doc)) != 0 ||
        (err = get_str(&doc, "error", true, arena, &out->error)) != 0 ||
        (err = get_str(&doc, "error_description", false, arena, &out->description)) != 0)
        return err;
    /* RFC 6749 §5.2: error is %x20-21 / %x23-5B / %x5D-7E; anything else is not one. */
    if (!visible_ascii(out->error) || out->error.n > 128)
        return AG_E_PARSE;
    if (out->description.n > 1024)
        out->description.n = 1024; /* shown to the person; a novel is not useful */
    return 0;
}

/* ---- cache entry ------------------------------------------------------------------------ */

ag_err ag_oauth_tokens_write(ag_buf_t *out, const ag_oauth_tokens_t *t)
{
    ag_err err = 0;
    if ((err = ag_buf_append_cstr(out, "{\"access_token\":")) != 0 ||
        (err = ag_json_write_str(out, t->access_token)) != 0 ||
        (err = ag_buf_append_cstr(out, ",\"refresh_token\":")) != 0 ||
        (err = ag_json_write_str(out, t->refresh_token)) != 0 ||
        (err = ag_buf_append_cstr(out, ",\"id_token\":")) != 0 ||
        (err = ag_json_write_str(out, t->id_token)) != 0)
        return err;
    return ag_buf_printf(out, ",\"obtained_at\":%lld,\"expires_at\":%lld}\n", t->obtained_at,
                         t->expires_at);
}

ag_err ag_oauth_tokens_parse(ag_str_t body, ag_arena_t *arena, ag_oauth_tokens_t *out)
{
    ag_json_t doc;
    ag_err err;
    memset(out, 0, sizeof *out);
    if ((err = parse_object(body, arena, &doc)) != 0 ||
        (err = get_str(&doc, "access_token", true, arena, &out->access_token)) != 0 ||
        (err = get_str(&doc, "refresh_token", false, arena, &out->refresh_token)) != 0 ||
        (err = get_str(&doc, "id_token", false, arena, &out->id_token)) != 0)
        return err;
    ag_json_ref o = ag_json_get(&doc, 0, "obtained_at"), e = ag_json_get(&doc, 0, "expires_at");
    if (ag_json_int(&doc, o, &out->obtained_at) != 0 || ag_json_int(&doc, e, &out->expires_at) != 0)
        return AG_E_PARSE;
    return check_tokens(out);
}

long long ag_oauth_expiry_skew(const ag_oauth_tokens_t *t)
{
    long long quarter = (t->expires_at - t->obtained_at) / 4;
    return quarter < MAX_SKEW ? quarter : MAX_SKEW;
}

bool ag_oauth_tokens_fresh(const ag_oauth_tokens_t *t, long long now)
{
    /* A clock that went backwards past obtained_at is not trusted either. */
    return now >= t->obtained_at && now < t->expires_at - ag_oauth_expiry_skew(t);
}

/* ---- what we send ----------------------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

ag_err ag_oauth_form_add(ag_buf_t *form, const char *name, ag_str_t value)
{
    static const char hex[] = "0123456789ABCDEF";
    ag_str_t n = ag_str_cstr(name);
    ag_err err = form->n ? ag_buf_append(form, "&", 1) : 0;
    for (int part = 0; part < 2 && !err; part++) {
        ag_str_t s = part ? value : n;
        if (part)
            err = ag_buf_append(form, "=", 1);
        for (size_t i = 0; i < s.n && !err; i++) {
            unsigned char c = (unsigned char)s.p[i];
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = unreserved(c) ? ag_buf_append(form, s.p + i, 1) : ag_buf_append(form, esc, 3);
        }
    }
    return err;
}

/* Host part of an authority "[userinfo@]host[:port]" is loopback. */
static bool loopback_host(ag_str_t auth)
{
    ag_str_t host = auth;
    size_t colon = ag_str_find_char(auth, ':');
    if (auth.n && auth.p[0] == '[')
        return ag_str_starts_with(auth, AG_STR("[::1]")) && (auth.n == 5 || auth.p[5] == ':');
    if (colon < auth.n)
        host = ag_str_sub(auth, 0, colon);
    if (ag_str_ieq(host, AG_STR("localhost")))
        return true;
    if (!ag_str_starts_with(host, AG_STR("127.")))
        return false;
    int dots = 0;
    for (size_t i = 0; i < host.n; i++) {
        if (host.p[i] == '.')
            dots++;
        else if (host.p[i] < '0' || host.p[i] > '9')
            return false;
    }
    return dots == 3;
}

bool ag_oauth_url_allowed(ag_str_t url)
{
    bool https = ag_str_istarts_with(url, AG_STR("https://"));
    size_t skip = https ? 8 : 7;
    if (url.n > 2048 || (!https && !ag_str_istarts_with(url, AG_STR("http://"))))
        return false;
    for (size_t i = 0; i < url.n; i++)
        if ((unsigned char)url.p[i] <= 0x20 || url.p[i] == 0x7f || url.p[i] == '#' ||
            url.p[i] == '\\')
            return false;
    ag_str_t rest = ag_str_sub(url, skip, url.n - skip);
    size_t end = 0;
    while (end < rest.n && rest.p[end] != '/' && rest.p[end] != '?')
        end++;
    ag_str_t auth = ag_str_sub(rest, 0, end);
    if (auth.n == 0 || ag_str_find_char(auth, '@') < auth.n)
        return false; /* credentials in a URL end up in logs */
    return https || loopback_host(auth);
}

void ag_oauth_rfc3339(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        memcpy(out, "1970-01-01T00:00:00Z", 21);
}
