/* Upstream head writer (forward.h). One pass over the client's headers with flags from
 * the interned table (headers.c), then the gateway's own headers, then an independent
 * re-read of the bytes written (fail closed, Pinniped-style). Appends to a reused
 * buffer; the only per-request cost is the bytes themselves. */
#include "forward.h"

#include "canon.h"
#include "headers.h"

#define MAX_CONN_TOKENS AG_CANON_MAX_CONN_TOKENS

/* Client headers never copied through: framing and Host are rewritten by us, the rest
 * is hop-by-hop (RFC 9110 §7.6.1) or identity-bearing (threat-model cases 1-9, 43). */
#define DROP_FLAGS                                                                     \
    (AG_HDR_HOP_BY_HOP | AG_HDR_STRIP | AG_HDR_HOST | AG_HDR_CONTENT_LENGTH |          \
     AG_HDR_TRANSFER_ENCODING | AG_HDR_CONNECTION | AG_HDR_UPGRADE |                   \
     AG_HDR_AUTHORIZATION | AG_HDR_IMPERSONATE | AG_HDR_UNDERSCORE)

typedef struct {
    ag_str_t v[MAX_CONN_TOKENS];
    int n;
    bool overflow;
} conn_list;

static bool collect_conn_cb(ag_str_t elem, void *ctx)
{
    conn_list *c = ctx;
    if (c->n == MAX_CONN_TOKENS) {
        c->overflow = true;
        return false;
    }
    c->v[c->n++] = elem;
    return true;
}

static bool nominated(const conn_list *c, ag_str_t name)
{
    for (int i = 0; i < c->n; i++)
        if (ag_str_ieq(c->v[i], name))
            return true;
    return false;
}

/* No control bytes (so no CR/LF/NUL: Envoy CVE-2019-9900) and nothing a parser trims. */
static bool value_ok(ag_str_t v)
{
    if (!ag_http_value_is_clean(v))
        return false;
    return !(v.n && (v.p[0] == ' ' || v.p[0] == '\t' || v.p[v.n - 1] == ' ' ||
                     v.p[v.n - 1] == '\t'));
}

static bool identity_value_ok(ag_str_t v)
{
    for (size_t i = 0; i < v.n; i++)
        if (v.p[i] == '\t') /* a tab inside an identity is never legitimate */
            return false;
    return value_ok(v);
}

static ag_err put_header(ag_buf_t *out, const char *name, ag_str_t value)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, name)) || (err = ag_buf_append(out, ": ", 2)) ||
        (err = ag_buf_append_str(out, value)) || (err = ag_buf_append(out, "\r\n", 2)))
        return err;
    return 0;
}

static bool is_ws_bearer(ag_str_t elem)
{
    return ag_str_istarts_with(elem, AG_STR(AG_WS_BEARER_PREFIX));
}

static bool no_ws_bearer_cb(ag_str_t elem, void *ctx)
{
    (void)ctx;
    return !is_ws_bearer(elem);
}

typedef struct {
    ag_buf_t *out;
    int kept;
    ag_err err;
} ws_ctx;

static bool ws_elem_cb(ag_str_t elem, void *ctx)
{
    ws_ctx *w = ctx;
    if (is_ws_bearer(elem))
        return true; /* the client's token: consumed by authn, never forwarded */
    if ((w->kept++ && (w->err = ag_buf_append(w->out, ", ", 2))) ||
        (w->err = ag_buf_append_str(w->out, elem)))
        return false;
    return true;
}

/* Sec-WebSocket-Protocol minus bearer-token elements; omitted when nothing is left. */
static ag_err put_ws_protocol(ag_buf_t *out, const ag_header_t *h)
{
    size_t mark = out->n;
    ws_ctx w = {out, 0, 0};
    ag_err err;

    if ((err = ag_buf_append_str(out, h->name)) || (err = ag_buf_append(out, ": ", 2)))
        return err;
    ag_http_list_each(h->value, ws_elem_cb, &w);
    if (w.err)
        return w.err;
    if (w.kept == 0) {
        out->n = mark;
        out->p[mark] = '\0';
        return 0;
    }
    return ag_buf_append(out, "\r\n", 2);
}

static ag_err put_client_headers(const ag_http_req_t *req, ag_buf_t *out)
{
    conn_list conn = {.n = 0};
    ag_err err;

    for (int i = 0; i < req->nheaders; i++) {
        const ag_header_t *h = &req->headers[i];
        if ((ag_header_classify(h->name) & AG_HDR_CONNECTION) &&
            (!ag_http_list_each(h->value, collect_conn_cb, &conn) || conn.overflow))
            return AG_E_INVAL;
    }
    for (int i = 0; i < req->nheaders; i++) {
        const ag_header_t *h = &req->headers[i];
        /* Re-classify rather than trust h->flags: a caller that skipped canon still
         * cannot leak a credential. */
        unsigned f = ag_header_classify(h->name) | h->flags;
        if ((f & DROP_FLAGS) || nominated(&conn, h->name))
            continue;
        if (!ag_http_is_token(h->name) || !ag_http_value_is_clean(h->value))
            return AG_E_INVAL;
        if (f & AG_HDR_WS_PROTOCOL)
            err = put_ws_protocol(out, h);
        else if ((err = ag_buf_append_str(out, h->name)) == 0 &&
                 (err = ag_buf_append(out, ": ", 2)) == 0 &&
                 (err = ag_buf_append_str(out, ag_http_trim_ows(h->value))) == 0)
            err = ag_buf_append(out, "\r\n", 2);
        if (err)
            return err;
    }
    return 0;
}

ag_err ag_forward_encode_extra_key(ag_buf_t *out, ag_str_t key)
{
    static const char hex[] = "0123456789ABCDEF";
    ag_err err = 0;

    for (size_t i = 0; i < key.n && !err; i++) {
        unsigned char c = (unsigned char)key.p[i];
        if (ag_http_is_tchar(c) && c != '%') { /* client-go headerKeyEscape */
            char l = ag_ascii_lower((char)c);
            err = ag_buf_append(out, &l, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = ag_buf_append(out, e, 3);
        }
    }
    return err;
}

static ag_err put_extras(const ag_identity_t *id, ag_buf_t *out, int *nimp)
{
    ag_err err;
    for (int i = 0; i < id->nextra; i++) {
        const ag_extra_t *x = &id->extra[i];
        if (x->key.n == 0)
            return AG_E_INVAL;
        for (int j = 0; j < x->nvalues; j++) {
            if (!identity_value_ok(x->values[j]))
                return AG_E_INVAL;
            if ((err = ag_buf_append_cstr(out, "Impersonate-Extra-")) ||
                (err = ag_forward_encode_extra_key(out, x->key)) ||
                (err = ag_buf_append(out, ": ", 2)) ||
                (err = ag_buf_append_str(out, x->values[j])) ||
                (err = ag_buf_append(out, "\r\n", 2)))
                return err;
            (*nimp)++;
        }
    }
    return 0;
}

/* Impersonate-* for <id> (kubernetes-authz.md §7.1, §7.4): one line per group, never
 * comma-joined (threat-model case 4). */
static ag_err put_identity(const ag_identity_t *id, ag_buf_t *out, int *nimp)
{
    ag_err err;

    if (id->username.n == 0 || !identity_value_ok(id->username))
        return AG_E_INVAL; /* an empty Impersonate-User would forward as the gateway */
    if ((err = put_header(out, "Impersonate-User", id->username)) != 0)
        return err;
    (*nimp)++;
    for (int i = 0; i < id->ngroups; i++) {
        if (id->groups[i].n == 0 || !identity_value_ok(id->groups[i]))
            return AG_E_INVAL;
        if ((err = put_header(out, "Impersonate-Group", id->groups[i])) != 0)
            return err;
        (*nimp)++;
    }
    if (id->uid.n) {
        if (!identity_value_ok(id->uid))
            return AG_E_INVAL;
        if ((err = put_header(out, "Impersonate-Uid", id->uid)) != 0)
            return err;
        (*nimp)++;
    }
    return put_extras(id, out, nimp);
}

static bool upgrade_ok_cb(ag_str_t elem, void *ctx)
{
    (void)ctx;
    ag_str_t name;
    ag_str_split(elem, '/', &name);
    return !ag_str_ieq(name, AG_STR("h2c")); /* h2c is never forwarded */
}

static ag_err put_framing(const ag_http_req_t *req, ag_buf_t *out)
{
    ag_err err = 0;
    if (req->upgrade) {
        if (req->upgrade_proto.n == 0 || !value_ok(req->upgrade_proto) ||
            !ag_http_list_each(req->upgrade_proto, upgrade_ok_cb, NULL))
            return AG_E_INVAL;
        if ((err = ag_buf_append_cstr(out, "Connection: Upgrade\r\n")) ||
            (err = put_header(out, "Upgrade", req->upgrade_proto)))
            return err;
    }
    if (req->chunked)
        err = ag_buf_append_cstr(out, "Transfer-Encoding: chunked\r\n");
    else if (req->content_length >= 0)
        err = ag_buf_printf(out, "Content-Length: %lld\r\n", req->content_length);
    return err;
}

static ag_err put_gateway_headers(const ag_http_req_t *req, const ag_forward_opts_t *o,
                                  ag_buf_t *out, int *nimp)
{
    ag_err err;

    if (!value_ok(o->upstream_host) || o->upstream_host.n == 0 || !value_ok(o->client_ip) ||
        !value_ok(o->credential))
        return AG_E_INVAL;
    if ((err = put_header(out, "Host", o->upstream_host)) != 0)
        return err;
    if (o->client_ip.n && (err = put_header(out, "X-Forwarded-For", o->client_ip)) != 0)
        return err;
    if ((err = put_header(out, "X-Forwarded-Proto",
                          o->client_tls ? AG_STR("https") : AG_STR("http"))) != 0)
        return err;
    if (o->credential.n && (err = put_header(out, "Authorization", o->credential)) != 0)
        return err;
    if (o->identity && (err = put_identity(o->identity, out, nimp)) != 0)
        return err;
    return put_framing(req, out);
}

/* Re-reads the finished head (threat-model case 10): it must scan clean, the client's
 * part may hold no credential, identity, hop-by-hop or framing header, and the gateway's
 * part exactly the Authorization/Impersonate-* lines it meant to write. */
static ag_err verify_head(ag_str_t head, size_t gw_off, int want_imp, int want_auth)
{
    int imp = 0, auth = 0;
    size_t i;

    if (ag_canon_scan_head(head) != NULL)
        return AG_E_INVAL;
    i = ag_str_find_char(head, '\n') + 1;
    while (i < head.n) {
        ag_str_t rest = ag_str_sub(head, i, head.n - i), line;
        ag_str_split(rest, '\n', &line);
        if (line.n <= 1)
            break; /* "\r": the blank line */
        ag_str_t name, value = ag_str_split(ag_str_make(line.p, line.n - 1), ':', &name);
        unsigned f = ag_header_classify(name);
        if (i < gw_off) {
            if (f & DROP_FLAGS)
                return AG_E_INVAL;
        } else {
            imp += (f & AG_HDR_IMPERSONATE) != 0;
            auth += (f & AG_HDR_AUTHORIZATION) != 0;
        }
        if ((f & AG_HDR_WS_PROTOCOL) && !ag_http_list_each(value, no_ws_bearer_cb, NULL))
            return AG_E_INVAL;
        i += line.n + 1;
    }
    return (imp == want_imp && auth == want_auth) ? 0 : AG_E_INVAL;
}

static bool target_ok(ag_str_t t)
{
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] < 0x21 || (unsigned char)t.p[i] > 0x7e)
            return false;
    return t.n > 0;
}

ag_err ag_forward_head(const ag_http_req_t *req, const ag_forward_opts_t *o, ag_buf_t *out)
{
    size_t base = out->n, gw_off;
    int nimp = 0;
    ag_err err;

    if (!ag_http_is_token(req->method) || !target_ok(req->target)) {
        err = AG_E_INVAL;
        goto out;
    }
    if ((err = ag_buf_append_str(out, req->method)) || (err = ag_buf_append(out, " ", 1)) ||
        (err = ag_buf_append_str(out, req->target)) ||
        (err = ag_buf_append_cstr(out, " HTTP/1.1\r\n")))
        goto out;
    if ((err = put_client_headers(req, out)) != 0)
        goto out;
    gw_off = out->n - base;
    if ((err = put_gateway_headers(req, o, out, &nimp)) != 0 ||
        (err = ag_buf_append(out, "\r\n", 2)) != 0)
        goto out;
    err = verify_head(ag_str_make(out->p + base, out->n - base), gw_off, nimp,
                      o->credential.n ? 1 : 0);
out:
    if (err && out->p) { /* nothing usable: the caller answers 500 and forwards nothing */
        out->n = base;
        out->p[base] = '\0';
    }
    return err;
}
