/* Microsoft Graph requests and responses, pure (graph.h). Every byte read here comes from
 * the network (Graph, the token endpoint) or from configuration, and is checked strictly:
 * a malformed answer is an error, never a partial group list. */
#include "graph/graph.h"

#include <stdlib.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "base/b64.h"
#include "base/json.h"

/* Secrets and key files are small; a bigger file is a misconfiguration. */
#define SECRET_MAX_BYTES 4096
/* A projected service-account token is a JWT of one or two KiB. */
#define FEDERATED_MAX_BYTES 16384
#define PEM_MAX_BYTES (1u << 20) /* a certificate (chain) or a private key file */
/* Client assertions live briefly; Microsoft accepts up to 10 minutes. */
#define ASSERTION_LIFETIME_S 600
/* expires_in above a day is not an Entra app token (they last 60-90 minutes). */
#define TOKEN_MAX_LIFETIME_S 86400

struct ag_graph_creds {
    ag_buf_t secret; /* client secret or federated token, whitespace trimmed */
    bool federated;  /* <secret> is a federated token: send it as the assertion */
    bool have_cert;
    mbedtls_pk_context key; /* RSA private key matching the certificate */
    char x5t[32];           /* base64url(SHA-1(certificate DER)) */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

void ag_graph_cfg_defaults(ag_graph_cfg_t *c)
{
    memset(c, 0, sizeof(*c));
    c->base_url = AG_STR(AG_GRAPH_DEFAULT_BASE);
    c->method = AG_GRAPH_GET_MEMBER_OBJECTS;
    c->security_enabled_only = true;
    c->cache_ttl_ms = 5 * 60 * 1000; /* revocation bound, threat-model #28 (Guard: 3 m) */
    c->stale_ttl_ms = 5 * 60 * 1000;
    c->timeout_ms = 10 * 1000;
    c->token_margin_ms = 5 * 60 * 1000;
    c->max_groups = 1000; /* overage starts above 200; AZD caps forwarded groups at 50 */
}

/* ---- URLs ------------------------------------------------------------------------- */

typedef struct {
    ag_str_t scheme, host, rest;
    unsigned port;
} origin_t;

static bool url_bytes_ok(ag_str_t url)
{
    for (size_t i = 0; i < url.n; i++) {
        unsigned char ch = (unsigned char)url.p[i];
        /* No spaces, controls, non-ASCII (two parsers could read them differently), no
         * backslash (some clients treat it as '/'), no fragment. */
        if (ch <= 0x20 || ch >= 0x7f || ch == '\\' || ch == '#')
            return false;
    }
    return true;
}

/* Splits an absolute http(s) URL into scheme, host, port and the rest (path+query). */
static bool parse_origin(ag_str_t url, origin_t *o)
{
    if (!url_bytes_ok(url))
        return false;
    ag_str_t sep = AG_STR("://");
    size_t i = ag_str_find_char(url, ':');
    if (i == url.n || !ag_str_starts_with(ag_str_sub(url, i, url.n), sep))
        return false;
    o->scheme = ag_str_sub(url, 0, i);
    bool https = ag_str_ieq(o->scheme, AG_STR("https"));
    if (!https && !ag_str_ieq(o->scheme, AG_STR("http")))
        return false;
    ag_str_t after = ag_str_sub(url, i + sep.n, url.n);
    size_t end = 0;
    while (end < after.n && after.p[end] != '/' && after.p[end] != '?')
        end++;
    ag_str_t auth = ag_str_sub(after, 0, end);
    o->rest = ag_str_sub(after, end, after.n);
    if (auth.n == 0 || ag_str_find_char(auth, '@') != auth.n)
        return false; /* userinfo could disguise the host (RFC 3986 §7.6) */
    size_t colon;
    if (auth.p[0] == '[') {
        size_t close = ag_str_find_char(auth, ']');
        if (close == auth.n)
            return false;
        o->host = ag_str_sub(auth, 0, close + 1);
        colon = close + 1;
        if (colon < auth.n && auth.p[colon] != ':')
            return false;
    } else {
        colon = ag_str_find_char(auth, ':');
        o->host = ag_str_sub(auth, 0, colon);
    }
    if (o->host.n == 0)
        return false;
    o->port = https ? 443 : 80;
    if (colon < auth.n) {
        unsigned long long port;
        if (!ag_str_to_u64(ag_str_sub(auth, colon + 1, auth.n), &port) || port == 0 || port > 65535)
            return false;
        o->port = (unsigned)port;
    }
    return true;
}

bool ag_graph_same_origin(ag_str_t base, ag_str_t url)
{
    origin_t a, b;
    if (!parse_origin(base, &a) || !parse_origin(url, &b))
        return false;
    return ag_str_ieq(a.scheme, b.scheme) && ag_str_ieq(a.host, b.host) && a.port == b.port;
}

bool ag_graph_guid_valid(ag_str_t s)
{
    if (s.n != AG_GRAPH_GUID_LEN)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (dash ? ch != '-' : !hex)
            return false;
    }
    return true;
}

static ag_err append_lower(ag_buf_t *out, ag_str_t s)
{
    ag_err err = ag_buf_reserve(out, s.n);
    if (err)
        return err;
    for (size_t i = 0; i < s.n; i++)
        out->p[out->n + i] = ag_ascii_lower(s.p[i]);
    out->n += s.n;
    out->p[out->n] = '\0';
    return 0;
}

ag_err ag_graph_member_url(ag_buf_t *out, const ag_graph_cfg_t *c, ag_str_t oid)
{
    ag_err err;
    if (!ag_graph_guid_valid(oid))
        return AG_E_INVAL;
    if ((err = ag_buf_append_str(out, c->base_url)) ||
        (err = ag_buf_append_cstr(out, "/v1.0/users/")) || (err = append_lower(out, oid)))
        return err;
    return ag_buf_append_cstr(out, c->method == AG_GRAPH_GET_MEMBER_GROUPS ? "/getMemberGroups"
                                                                           : "/getMemberObjects");
}

ag_err ag_graph_member_body(ag_buf_t *out, bool security_enabled_only)
{
    return ag_buf_append_cstr(out, security_enabled_only ? "{\"securityEnabledOnly\":true}"
                                                         : "{\"securityEnabledOnly\":false}");
}

/* ---- responses -------------------------------------------------------------------- */

static ag_err parse_doc(ag_str_t body, size_t max, ag_arena_t *arena, ag_json_t *doc)
{
    if (body.n > max)
        return AG_E_TOO_BIG;
    ag_json_limits_t lim = {.max_depth = 8, .max_tokens = 0};
    ag_err err = ag_json_parse(doc, body, &lim, arena, NULL);
    if (err == AG_E_NOMEM)
        return err;
    if (err || ag_json_typeof(doc, ag_json_root(doc)) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    return 0;
}

static ag_err parse_ids(const ag_json_t *doc, ag_json_ref arr, int room, ag_arena_t *arena,
                        ag_graph_page_t *page)
{
    int n = ag_json_count(doc, arr);
    if (n > room)
        return AG_E_TOO_BIG; /* the group cap: fail closed, never truncate */
    page->ids = ag_arena_alloc(arena, sizeof(ag_str_t) * (size_t)(n ? n : 1));
    if (!page->ids)
        return AG_E_NOMEM;
    for (ag_json_ref el = ag_json_first(doc, arr); el != AG_JSON_NONE; el = ag_json_next(doc, el)) {
        ag_str_t id;
        if (ag_json_typeof(doc, el) != AG_JSON_STRING || ag_json_str(doc, el, arena, &id) != 0 ||
            !ag_graph_guid_valid(id))
            return AG_E_PARSE;
        char *copy = ag_arena_alloc(arena, id.n + 1);
        if (!copy)
            return AG_E_NOMEM;
        for (size_t i = 0; i < id.n; i++)
            copy[i] = ag_ascii_lower(id.p[i]);
        copy[id.n] = '\0';
        page->ids[page->nids++] = ag_str_make(copy, id.n);
    }
    return 0;
}

ag_err ag_graph_page_parse(ag_str_t body, ag_str_t base, int room, ag_arena_t *arena,
                           ag_graph_page_t *page)
{
    ag_json_t doc;
    ag_err err;
    memset(page, 0, sizeof(*page));
    if ((err = parse_doc(body, AG_GRAPH_MAX_RESPONSE_BYTES, arena, &doc)) != 0)
        return err;
    ag_json_ref root = ag_json_root(&doc);
    ag_json_ref value = ag_json_get(&doc, root, "value");
    ag_json_ref next = ag_json_get(&doc, root, "@odata.nextLink");
    if (ag_json_typeof(&doc, value) != AG_JSON_ARRAY)
        return AG_E_PARSE;
    if (next != AG_JSON_NONE && ag_json_typeof(&doc, next) != AG_JSON_NULL) {
        ag_str_t link;
        if (ag_json_typeof(&doc, next) != AG_JSON_STRING ||
            ag_json_str(&doc, next, arena, &link) != 0 || !ag_graph_same_origin(base, link))
            return AG_E_PARSE; /* never follow a link off the configured Graph origin */
        page->next = ag_arena_strdup(arena, link);
        if (!page->next.p)
            return AG_E_NOMEM;
    }
    return parse_ids(&doc, value, room < 0 ? 0 : room, arena, page);
}

ag_err ag_graph_error_code(ag_str_t body, ag_arena_t *arena, ag_str_t *code)
{
    ag_json_t doc;
    ag_str_t c;
    ag_err err = parse_doc(body, 64 * 1024, arena, &doc);
    if (err)
        return err;
    ag_json_ref ref = ag_json_get(&doc, ag_json_get(&doc, ag_json_root(&doc), "error"), "code");
    if (ag_json_typeof(&doc, ref) != AG_JSON_STRING || ag_json_str(&doc, ref, arena, &c) != 0 ||
        c.n == 0 || c.n > 128)
        return AG_E_PARSE;
    for (size_t i = 0; i < c.n; i++)
        if ((unsigned char)c.p[i] <= 0x20 || (unsigned char)c.p[i] >= 0x7f)
            return AG_E_PARSE; /* it goes into a log line */
    *code = c;
    return 0;
}

bool ag_graph_error_is_size_limit(ag_str_t code)
{
    return ag_str_eq_lit(code, "Directory_ResultSizeLimitExceeded") ||
           ag_str_eq_lit(code, "DirectoryResultSizeLimitExceeded");
}

static bool token_bytes_ok(ag_str_t s)
{
    if (s.n == 0 || s.n > AG_GRAPH_MAX_TOKEN_BYTES)
        return false;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] >= 0x7f)
            return false; /* it goes into an Authorization header: no CR/LF/space */
    return true;
}

static ag_err parse_expires_in(const ag_json_t *doc, ag_json_ref ref, long long *out)
{
    unsigned long long v;
    if (ag_json_typeof(doc, ref) == AG_JSON_NUMBER) {
        long long i;
        if (ag_json_int(doc, ref, &i) != 0 || i < 0)
            return AG_E_PARSE;
        v = (unsigned long long)i;
    } else if (ag_json_typeof(doc, ref) == AG_JSON_STRING) {
        if (!ag_str_to_u64(ag_json_raw(doc, ref), &v)) /* v1 endpoints quote it */
            return AG_E_PARSE;
    } else {
        return AG_E_PARSE;
    }
    if (v == 0 || v > TOKEN_MAX_LIFETIME_S)
        return AG_E_PARSE;
    *out = (long long)v;
    return 0;
}

ag_err ag_graph_token_parse(ag_str_t body, ag_arena_t *arena, ag_graph_token_t *out)
{
    ag_json_t doc;
    ag_str_t tok;
    ag_err err;
    if ((err = parse_doc(body, 64 * 1024, arena, &doc)) != 0)
        return err;
    ag_json_ref root = ag_json_root(&doc);
    ag_json_ref type = ag_json_get(&doc, root, "token_type");
    ag_json_ref at = ag_json_get(&doc, root, "access_token");
    if (type != AG_JSON_NONE && (ag_json_typeof(&doc, type) != AG_JSON_STRING ||
                                 !ag_str_ieq(ag_json_raw(&doc, type), AG_STR("Bearer"))))
        return AG_E_PARSE;
    if (ag_json_typeof(&doc, at) != AG_JSON_STRING || ag_json_str(&doc, at, arena, &tok) != 0 ||
        !token_bytes_ok(tok))
        return AG_E_PARSE;
    if ((err = parse_expires_in(&doc, ag_json_get(&doc, root, "expires_in"), &out->expires_in_s)) !=
        0)
        return err;
    out->access_token = ag_arena_strdup(arena, tok);
    return out->access_token.p ? 0 : AG_E_NOMEM;
}

/* ---- token request ---------------------------------------------------------------- */

ag_err ag_graph_form_escape(ag_buf_t *out, ag_str_t s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        ag_err err = plain ? ag_buf_append(out, &s.p[i], 1) : ag_buf_append(out, enc, 3);
        if (err)
            return err;
    }
    return 0;
}

/* Appends base64url (no padding, RFC 7515 §2) of <n> bytes to <out>. */
static ag_err b64url(ag_buf_t *out, const unsigned char *p, size_t n)
{
    ag_err err = ag_buf_reserve(out, ag_b64url_encoded_len(n));
    if (err)
        return err;
    out->n += ag_b64url_encode(p, n, out->p + out->n);
    out->p[out->n] = '\0';
    return 0;
}

static ag_err assertion_json(ag_buf_t *hdr, ag_buf_t *claims, ag_graph_creds_t *cr,
                             ag_str_t client_id, ag_str_t aud, long long now_s)
{
    unsigned char jti[16];
    ag_err err;
    if (mbedtls_ctr_drbg_random(&cr->drbg, jti, sizeof(jti)) != 0)
        return AG_E_CRYPTO;
    if ((err = ag_buf_printf(hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\"}", cr->x5t)) ||
        (err = ag_buf_append_cstr(claims, "{\"aud\":")) || (err = ag_json_write_str(claims, aud)) ||
        (err = ag_buf_append_cstr(claims, ",\"iss\":")) ||
        (err = ag_json_write_str(claims, client_id)) ||
        (err = ag_buf_append_cstr(claims, ",\"sub\":")) ||
        (err = ag_json_write_str(claims, client_id)) ||
        (err = ag_buf_append_cstr(claims, ",\"jti\":\"")))
        return err;
    for (size_t i = 0; i < sizeof(jti); i++)
        if ((err = ag_buf_printf(claims, "%02x", jti[i])) != 0)
            return err;
    return ag_buf_printf(claims, "\",\"nbf\":%lld,\"iat\":%lld,\"exp\":%lld}", now_s, now_s,
                         now_s + ASSERTION_LIFETIME_S);
}

ag_err ag_graph_client_assertion(ag_buf_t *out, ag_graph_creds_t *cr, ag_str_t client_id,
                                 ag_str_t audience, long long now_s)
{
    ag_buf_t hdr = AG_BUF_INIT(1024), claims = AG_BUF_INIT(8192);
    unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t siglen = 0, start = out->n;
    ag_err err = AG_E_INVAL;
    if (!cr || !cr->have_cert)
        goto out;
    if ((err = assertion_json(&hdr, &claims, cr, client_id, audience, now_s)) ||
        (err = b64url(out, (const unsigned char *)hdr.p, hdr.n)) ||
        (err = ag_buf_append(out, ".", 1)) ||
        (err = b64url(out, (const unsigned char *)claims.p, claims.n)))
        goto out;
    err = AG_E_CRYPTO;
    if (mbedtls_sha256_ret((const unsigned char *)out->p + start, out->n - start, hash, 0) ||
        mbedtls_pk_sign(&cr->key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &siglen,
                        mbedtls_ctr_drbg_random, &cr->drbg))
        goto out;
    if ((err = ag_buf_append(out, ".", 1)) == 0)
        err = b64url(out, sig, siglen);
out:
    ag_buf_dispose(&hdr);
    ag_buf_dispose(&claims);
    return err;
}

ag_err ag_graph_token_body(ag_buf_t *out, const ag_graph_cfg_t *c, ag_graph_creds_t *cr,
                           long long now_s)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "grant_type=client_credentials&client_id=")) ||
        (err = ag_graph_form_escape(out, c->client_id)) ||
        (err = ag_buf_append_cstr(out, "&scope=")) || (err = ag_graph_form_escape(out, c->scope)))
        return err;
    if (!cr->have_cert && !cr->federated) {
        if ((err = ag_buf_append_cstr(out, "&client_secret=")) != 0)
            return err;
        return ag_graph_form_escape(out, ag_buf_str(&cr->secret));
    }
    if ((err = ag_buf_append_cstr(out, "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
                                       "%3Aclient-assertion-type%3Ajwt-bearer"
                                       "&client_assertion=")) != 0)
        return err;
    if (cr->federated) /* exchanged as is (Entra checks its issuer, subject and audience) */
        return ag_graph_form_escape(out, ag_buf_str(&cr->secret));
    /* The JWT is base64url and dots only: nothing to escape. */
    return ag_graph_client_assertion(out, cr, c->client_id, c->token_url, now_s);
}

/* ---- credentials ------------------------------------------------------------------ */

static ag_err load_secret(ag_graph_creds_t *cr, ag_read_file_fn reader, const char *path)
{
    ag_err err = reader ? reader(&cr->secret, path) : AG_E_IO;
    if (err)
        return err == AG_E_TOO_BIG ? err : AG_E_IO;
    while (cr->secret.n && (unsigned char)cr->secret.p[cr->secret.n - 1] <= 0x20)
        cr->secret.p[--cr->secret.n] = '\0'; /* editors and `echo` add a newline */
    return cr->secret.n ? 0 : AG_E_CONFIG;
}

/* Parses the certificate and the private key files (PEM or DER) <reader> reads. */
static ag_err parse_pair(mbedtls_x509_crt *crt, mbedtls_pk_context *key, ag_read_file_fn reader,
                         const char *cert_path, const char *key_path)
{
    ag_buf_t cert = AG_BUF_INIT(PEM_MAX_BYTES), pk = AG_BUF_INIT(PEM_MAX_BYTES);
    ag_err err = AG_E_CRYPTO;
    /* mbedTLS takes a PEM buffer with its terminating NUL counted, as its *_file did. */
    if (reader && reader(&cert, cert_path) == 0 && reader(&pk, key_path) == 0 && cert.p && pk.p &&
        mbedtls_x509_crt_parse(crt, (const unsigned char *)cert.p, cert.n + 1) == 0 &&
        mbedtls_pk_parse_key(key, (const unsigned char *)pk.p, pk.n + 1, NULL, 0) == 0)
        err = 0;
    if (pk.p)
        mbedtls_platform_zeroize(pk.p, pk.cap);
    ag_buf_dispose(&cert);
    ag_buf_dispose(&pk);
    return err;
}

static ag_err load_cert(ag_graph_creds_t *cr, ag_read_file_fn reader, const char *cert_path,
                        const char *key_path)
{
    mbedtls_x509_crt crt;
    unsigned char sha1[20];
    ag_buf_t x5t = AG_BUF_INIT(sizeof(cr->x5t) - 1);
    ag_err err = AG_E_CRYPTO;
    mbedtls_x509_crt_init(&crt);
    if (parse_pair(&crt, &cr->key, reader, cert_path, key_path) != 0)
        goto out;
    /* Microsoft accepts RS256 client assertions; the key must be the certificate's. */
    if (!mbedtls_pk_can_do(&cr->key, MBEDTLS_PK_RSA) ||
        mbedtls_pk_check_pair(&crt.pk, &cr->key) != 0 ||
        mbedtls_sha1_ret(crt.raw.p, crt.raw.len, sha1) != 0)
        goto out;
    if ((err = b64url(&x5t, sha1, sizeof(sha1))) != 0)
        goto out;
    memcpy(cr->x5t, x5t.p, x5t.n + 1);
    cr->have_cert = true;
out:
    ag_buf_dispose(&x5t);
    mbedtls_x509_crt_free(&crt);
    return err;
}

ag_err ag_graph_creds_load_with(const ag_graph_cfg_t *c, ag_read_file_fn reader,
                                ag_graph_creds_t **out)
{
    static const unsigned char pers[] = "authgate-graph";
    ag_graph_creds_t *cr = calloc(1, sizeof(*cr));
    ag_err err = AG_E_NOMEM;
    if (!cr)
        return err;
    cr->secret = AG_BUF_INIT(SECRET_MAX_BYTES);
    mbedtls_pk_init(&cr->key);
    mbedtls_entropy_init(&cr->entropy);
    mbedtls_ctr_drbg_init(&cr->drbg);
    err = AG_E_CRYPTO;
    if (mbedtls_ctr_drbg_seed(&cr->drbg, mbedtls_entropy_func, &cr->entropy, pers,
                              sizeof(pers) - 1) != 0)
        goto out;
    if (c->client_secret_file)
        err = load_secret(cr, reader, c->client_secret_file);
    else if (c->federated_token_file) {
        cr->secret.max = FEDERATED_MAX_BYTES;
        cr->federated = true;
        err = load_secret(cr, reader, c->federated_token_file);
    } else if (c->client_certificate_file && c->client_key_file)
        err = load_cert(cr, reader, c->client_certificate_file, c->client_key_file);
    else
        err = AG_E_CONFIG;
    if (err)
        goto out;
    *out = cr;
    cr = NULL;
out:
    ag_graph_creds_destroy(cr);
    return err;
}

void ag_graph_creds_destroy(ag_graph_creds_t *cr)
{
    if (!cr)
        return;
    if (cr->secret.p)
        mbedtls_platform_zeroize(cr->secret.p, cr->secret.cap);
    ag_buf_dispose(&cr->secret);
    mbedtls_pk_free(&cr->key);
    mbedtls_ctr_drbg_free(&cr->drbg);
    mbedtls_entropy_free(&cr->entropy);
    free(cr);
}

/* ---- config ----------------------------------------------------------------------- */

static bool tenant_ok(ag_str_t t)
{
    if (t.n == 0 || t.n > 253)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return false; /* a GUID or a domain: it is spliced into the token URL */
    }
    return true;
}

static bool loopback(ag_str_t host)
{
    return ag_str_eq_lit(host, "127.0.0.1") || ag_str_eq_lit(host, "[::1]") ||
           ag_str_ieq(host, AG_STR("localhost"));
}

static ag_err check_url(ag_cfg_t *cfg, ag_cfg_obj_t *o, const char *key, ag_str_t *url)
{
    origin_t org;
    ag_json_ref at = ag_json_get(cfg->doc, o->obj, key);
    if (!parse_origin(*url, &org) || ag_str_find_char(org.rest, '?') != org.rest.n)
        return ag_cfg_fail(cfg, at, ag_cfg_path(o, key),
                           "must be an absolute http or https URL without query or fragment");
    /* The app token and the client secret travel to these URLs: plain HTTP only on
     * loopback (test fixtures, a local sidecar). */
    if (ag_str_ieq(org.scheme, AG_STR("http")) && !loopback(org.host))
        return ag_cfg_fail(cfg, at, ag_cfg_path(o, key),
                           "must use https (http is allowed for loopback addresses only)");
    while (url->n && url->p[url->n - 1] == '/')
        url->n--;
    return 0;
}

/* Environment values the AKS workload identity webhook injects into the pod. */
#define ENV_CLIENT_ID "AZURE_CLIENT_ID"
#define ENV_TENANT_ID "AZURE_TENANT_ID"
#define ENV_AUTHORITY "AZURE_AUTHORITY_HOST"
#define ENV_TOKEN_FILE "AZURE_FEDERATED_TOKEN_FILE"

/* The authority for the derived token URL: AZURE_AUTHORITY_HOST under workload identity
 * (checked like a configured URL), else the public cloud's. */
static ag_err authority(ag_cfg_t *cfg, ag_cfg_obj_t *o, const ag_entra_keys_t *k, ag_str_t *out)
{
    const char *env = k->workload_identity ? getenv(ENV_AUTHORITY) : NULL;
    origin_t org;
    *out = AG_STR(AG_GRAPH_DEFAULT_AUTHORITY);
    if (!env || !*env)
        return 0;
    *out = ag_str_cstr(env);
    if (!parse_origin(*out, &org) || ag_str_find_char(org.rest, '?') != org.rest.n ||
        (ag_str_ieq(org.scheme, AG_STR("http")) && !loopback(org.host)))
        return ag_cfg_fail(cfg, o->obj, o->path,
                           ENV_AUTHORITY " must be an https URL (http for loopback only)");
    while (out->n && out->p[out->n - 1] == '/')
        out->n--;
    return 0;
}

static ag_err fill_derived(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_graph_cfg_t *c,
                           const ag_entra_keys_t *k)
{
    ag_buf_t b = AG_BUF_INIT(2048);
    ag_str_t auth;
    ag_err err = 0;
    if (!c->token_url.p) {
        if (!k->tenant.p)
            return ag_cfg_fail(cfg, o->obj, o->path,
                               k->workload_identity
                                   ? "needs \"tenant\" or \"token_url\" (or " ENV_TENANT_ID ")"
                                   : "needs \"tenant\" or \"token_url\"");
        if (!tenant_ok(k->tenant))
            return ag_cfg_fail(cfg, ag_json_get(cfg->doc, o->obj, "tenant"),
                               ag_cfg_path(o, "tenant"), "must be a tenant id or domain");
        if ((err = authority(cfg, o, k, &auth)) != 0)
            return err;
        err = ag_buf_printf(&b, "%.*s/%.*s/oauth2/v2.0/token", AG_STR_FMT(auth),
                            AG_STR_FMT(k->tenant));
        c->token_url = err ? AG_STR_NULL : ag_arena_strdup(cfg->arena, ag_buf_str(&b));
    }
    if (!err && !c->scope.p) {
        ag_buf_clear(&b);
        err = ag_buf_printf(&b, "%.*s/.default", AG_STR_FMT(c->base_url));
        c->scope = err ? AG_STR_NULL : ag_arena_strdup(cfg->arena, ag_buf_str(&b));
    }
    ag_buf_dispose(&b);
    if (err || !c->token_url.p || !c->scope.p)
        return err ? err : AG_E_NOMEM;
    return 0;
}

static ag_err check_creds(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_graph_cfg_t *c)
{
    bool secret = c->client_secret_file != NULL;
    bool cert = c->client_certificate_file != NULL || c->client_key_file != NULL;
    bool fed = c->federated_token_file != NULL;
    if (secret + cert + fed != 1)
        return ag_cfg_fail(
            cfg, o->obj, o->path,
            "needs exactly one of \"client_secret_file\", "
            "\"client_certificate_file\" + \"client_key_file\" or "
            "\"federated_token_file\" (\"workload_identity\": true reads " ENV_TOKEN_FILE ")");
    if (cert && (!c->client_certificate_file || !c->client_key_file))
        return ag_cfg_fail(cfg, o->obj, o->path,
                           "\"client_certificate_file\" and \"client_key_file\" go together");
    if (c->client_id.n == 0)
        return ag_cfg_fail(cfg, ag_json_get(cfg->doc, o->obj, "client_id"),
                           ag_cfg_path(o, "client_id"),
                           "must not be empty (under workload identity: or set " ENV_CLIENT_ID ")");
    return 0;
}

/* Under workload identity, what the section leaves out comes from the environment. */
static ag_err workload_defaults(ag_cfg_t *cfg, ag_graph_cfg_t *c, ag_entra_keys_t *k)
{
    const char *id = getenv(ENV_CLIENT_ID), *tenant = getenv(ENV_TENANT_ID);
    const char *file = getenv(ENV_TOKEN_FILE);
    if (!k->workload_identity)
        return 0;
    if (!c->client_id.p && id && *id &&
        !(c->client_id = ag_arena_strdup(cfg->arena, ag_str_cstr(id))).p)
        return AG_E_NOMEM;
    if (!k->tenant.p && tenant && *tenant &&
        !(k->tenant = ag_arena_strdup(cfg->arena, ag_str_cstr(tenant))).p)
        return AG_E_NOMEM;
    if (!c->federated_token_file && !c->client_secret_file && !c->client_certificate_file &&
        !c->client_key_file && file && *file &&
        !(c->federated_token_file = ag_cfg_resolve(cfg, ag_str_cstr(file))))
        return AG_E_NOMEM;
    return 0;
}

ag_err ag_graph_check_base_url(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_str_t *url)
{
    return check_url(cfg, o, "base_url", url);
}

ag_err ag_entra_cred_read(ag_cfg_obj_t *o, ag_graph_cfg_t *out, ag_entra_keys_t *k)
{
    ag_err err;
    memset(k, 0, sizeof(*k));
    if ((err = ag_cfg_str(o, "tenant", AG_CFG_OPTIONAL, &k->tenant)) ||
        (err = ag_cfg_bool(o, "workload_identity", AG_CFG_OPTIONAL, &k->workload_identity)) ||
        (err = ag_cfg_str(o, "token_url", AG_CFG_OPTIONAL, &out->token_url)) ||
        (err = ag_cfg_str(o, "scope", AG_CFG_OPTIONAL, &out->scope)) ||
        (err = ag_cfg_str(o, "client_id", k->workload_identity ? AG_CFG_OPTIONAL : AG_CFG_REQUIRED,
                          &out->client_id)) ||
        (err = ag_cfg_file(o, "client_secret_file", AG_CFG_OPTIONAL, &out->client_secret_file)) ||
        (err = ag_cfg_file(o, "client_certificate_file", AG_CFG_OPTIONAL,
                           &out->client_certificate_file)) ||
        (err = ag_cfg_file(o, "client_key_file", AG_CFG_OPTIONAL, &out->client_key_file)) ||
        (err =
             ag_cfg_file(o, "federated_token_file", AG_CFG_OPTIONAL, &out->federated_token_file)) ||
        (err = ag_cfg_duration_ms(o, "timeout", AG_CFG_OPTIONAL, 10, 120000, &out->timeout_ms)))
        return err;
    return ag_cfg_duration_ms(o, "token_refresh_margin", AG_CFG_OPTIONAL, 0, 3600000,
                              &out->token_margin_ms);
}

ag_err ag_entra_cred_finish(ag_cfg_t *cfg, ag_cfg_obj_t *o, ag_graph_cfg_t *out,
                            const ag_entra_keys_t *keys)
{
    ag_entra_keys_t k = *keys;
    ag_err err;
    if ((err = workload_defaults(cfg, out, &k)) ||
        (out->token_url.p && (err = check_url(cfg, o, "token_url", &out->token_url))) ||
        (err = check_creds(cfg, o, out)))
        return err;
    return fill_derived(cfg, o, out, &k);
}

ag_err ag_graph_cfg_parse(ag_cfg_t *cfg, ag_json_ref ref, const char *path, ag_graph_cfg_t *out)
{
    static const char *const methods[] = {"getMemberObjects", "getMemberGroups", NULL};
    ag_cfg_obj_t o;
    ag_entra_keys_t k;
    int method = (int)out->method;
    long long max_groups = out->max_groups;
    ag_err err;
    if ((err = ag_cfg_obj_begin(cfg, ref, path, &o)) ||
        (err = ag_cfg_str(&o, "base_url", AG_CFG_OPTIONAL, &out->base_url)) ||
        (err = ag_entra_cred_read(&o, out, &k)) ||
        (err = ag_cfg_enum(&o, "method", AG_CFG_OPTIONAL, methods, &method)) ||
        (err = ag_cfg_bool(&o, "security_enabled_only", AG_CFG_OPTIONAL,
                           &out->security_enabled_only)) ||
        (err = ag_cfg_duration_ms(&o, "cache_ttl", AG_CFG_OPTIONAL, 1000, 86400000LL,
                                  &out->cache_ttl_ms)) ||
        (err = ag_cfg_duration_ms(&o, "stale_ttl", AG_CFG_OPTIONAL, 0, 86400000LL,
                                  &out->stale_ttl_ms)) ||
        (err = ag_cfg_int(&o, "max_groups", AG_CFG_OPTIONAL, 1, AG_GRAPH_MAX_GROUPS_LIMIT,
                          &max_groups)) ||
        (err = ag_cfg_obj_end(&o)))
        return err;
    out->method = (ag_graph_method)method;
    out->max_groups = (int)max_groups;
    if ((err = ag_graph_check_base_url(cfg, &o, &out->base_url)) != 0)
        return err;
    return ag_entra_cred_finish(cfg, &o, out, &k);
}
