/* Upstream head writer (forward.h). Validates everything it will write first, reserves
 * an upper bound once, then writes with bounds-checked memcpy (a wrong bound fails
 * closed, never overruns): one pass over the client's headers
 * with flags from the interned table (headers.c), then the gateway's own headers, then
 * an independent re-read of the bytes written (fail closed, Pinniped-style). Appends to
 * a reused buffer; after warm-up a request costs no allocation at all. */
#include "http/forward.h"

#include "http/canon.h"
#include "http/headers.h"

#define MAX_CONN_TOKENS AG_CANON_MAX_CONN_TOKENS

/* Client headers never copied through: framing and Host are rewritten by us, the rest
 * is hop-by-hop (RFC 9110 §7.6.1) or identity-bearing (threat-model cases 1-9, 43). */
#define DROP_FLAGS                                                                                 \
    (AG_HDR_HOP_BY_HOP | AG_HDR_STRIP | AG_HDR_HOST | AG_HDR_CONTENT_LENGTH |                      \
     AG_HDR_TRANSFER_ENCODING | AG_HDR_CONNECTION | AG_HDR_UPGRADE | AG_HDR_AUTHORIZATION |        \
     AG_HDR_IMPERSONATE | AG_HDR_UNDERSCORE)

/* ---- validation ------------------------------------------------------------------ */

/* No control bytes (so no CR/LF/NUL: Envoy CVE-2019-9900) and nothing a parser trims. */
static bool value_ok(ag_str_t v)
{
    if (!ag_http_value_is_clean(v))
        return false;
    return !(v.n &&
             (v.p[0] == ' ' || v.p[0] == '\t' || v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t'));
}

static bool identity_value_ok(ag_str_t v)
{
    if (v.n && memchr(v.p, '\t', v.n)) /* a tab inside an identity is never legitimate */
        return false;
    return value_ok(v);
}

/* Checks <id> and adds to *bytes an upper bound of its header lines. */
static ag_err check_identity(const ag_identity_t *id, size_t *bytes, int *nimp)
{
    if (id->username.n == 0 || !identity_value_ok(id->username))
        return AG_E_INVAL; /* an empty Impersonate-User would forward as the gateway */
    *bytes += 20 + id->username.n;
    (*nimp)++;
    for (int i = 0; i < id->ngroups; i++) {
        if (id->groups[i].n == 0 || !identity_value_ok(id->groups[i]))
            return AG_E_INVAL;
        *bytes += 21 + id->groups[i].n;
        (*nimp)++;
    }
    if (id->uid.n) {
        if (!identity_value_ok(id->uid))
            return AG_E_INVAL;
        *bytes += 19 + id->uid.n;
        (*nimp)++;
    }
    for (int i = 0; i < id->nextra; i++) {
        const ag_extra_t *x = &id->extra[i];
        if (x->key.n == 0)
            return AG_E_INVAL;
        for (int j = 0; j < x->nvalues; j++) {
            if (!identity_value_ok(x->values[j]))
                return AG_E_INVAL;
            *bytes += 22 + 3 * x->key.n + x->values[j].n;
            (*nimp)++;
        }
    }
    return 0;
}

static bool upgrade_ok_cb(ag_str_t elem, void *ctx)
{
    (void)ctx;
    ag_str_t name;
    ag_str_split(elem, '/', &name);
    return !ag_str_ieq(name, AG_STR("h2c")); /* h2c is never forwarded */
}

static bool target_ok(ag_str_t t)
{
    for (size_t i = 0; i < t.n; i++)
        if (!(ag_http_ctype[(unsigned char)t.p[i]] & AG_HTTP_VCHAR))
            return false;
    return t.n > 0;
}

/* Everything but the client headers: validated before a byte is written. */
static ag_err check_inputs(const ag_http_req_t *req, const ag_forward_opts_t *o, size_t *bytes,
                           int *nimp)
{
    if (!ag_http_is_token(req->method) || !target_ok(req->target))
        return AG_E_INVAL;
    if (o->upstream_host.n == 0 || !value_ok(o->upstream_host) || !value_ok(o->client_ip) ||
        !value_ok(o->credential))
        return AG_E_INVAL;
    if (req->upgrade && (req->upgrade_proto.n == 0 || !value_ok(req->upgrade_proto) ||
                         !ag_http_list_each(req->upgrade_proto, upgrade_ok_cb, NULL)))
        return AG_E_INVAL;
    *bytes += req->method.n + req->target.n + 12;                /* request line */
    *bytes += 8 + o->upstream_host.n + 19 + o->client_ip.n + 26; /* Host, X-Forwarded-* */
    *bytes += 17 + o->credential.n;                              /* Authorization */
    *bytes += 32 + req->upgrade_proto.n + 40 + 2;                /* framing, blank line */
    return o->identity ? check_identity(o->identity, bytes, nimp) : 0;
}

/* ---- writing into reserved space ------------------------------------------------- */

typedef struct {
    char *p;       /* next byte */
    char *end;     /* end of the room reserved up front */
    bool overflow; /* the bound was wrong: fail closed, never write past it */
} wr_t;

static inline void put(wr_t *w, const void *p, size_t n)
{
    if (n == 0)
        return; /* empty slices may have p == NULL */
    if (n > (size_t)(w->end - w->p)) {
        w->overflow = true;
        return;
    }
    memcpy(w->p, p, n);
    w->p += n;
}

static inline void put_char(wr_t *w, char c)
{
    put(w, &c, 1);
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_header(wr_t *w, const char *name, size_t nlen, ag_str_t value)
{
    put(w, name, nlen);
    PUT_LIT(w, ": ");
    put(w, value.p, value.n);
    PUT_LIT(w, "\r\n");
}

#define PUT_HEADER(w, lit, value) put_header((w), (lit), sizeof(lit) - 1, (value))

static void put_u64(wr_t *w, unsigned long long v)
{
    char d[20];
    int n = 20;
    do
        d[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(w, d + n, (size_t)(20 - n));
}

/* client-go headerKeyEscape: every byte that is not a token character, and '%', as %XX
 * upper-case hex; letters lower-cased because KAS lower-cases keys before decoding. */
static void put_extra_key(wr_t *w, ag_str_t key)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < key.n; i++) {
        unsigned char c = (unsigned char)key.p[i];
        if (ag_http_is_tchar(c) && c != '%') {
            put_char(w, ag_ascii_lower((char)c));
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(w, e, 3);
        }
    }
}

ag_err ag_forward_encode_extra_key(ag_buf_t *out, ag_str_t key)
{
    ag_err err;
    if (key.n > out->max / 3 || (err = ag_buf_reserve(out, 3 * key.n)) != 0)
        return AG_E_TOO_BIG;
    wr_t w = {out->p + out->n, out->p + out->n + 3 * key.n, false};
    put_extra_key(&w, key);
    out->n = (size_t)(w.p - out->p);
    out->p[out->n] = '\0';
    return 0;
}

/* Impersonate-* for <id> (kubernetes-authz.md §7.1, §7.4): one line per group, never
 * comma-joined (threat-model case 4). Values were checked by check_identity. */
static void put_identity(wr_t *w, const ag_identity_t *id)
{
    PUT_HEADER(w, "Impersonate-User", id->username);
    for (int i = 0; i < id->ngroups; i++)
        PUT_HEADER(w, "Impersonate-Group", id->groups[i]);
    if (id->uid.n)
        PUT_HEADER(w, "Impersonate-Uid", id->uid);
    for (int i = 0; i < id->nextra; i++) {
        const ag_extra_t *x = &id->extra[i];
        for (int j = 0; j < x->nvalues; j++) {
            PUT_LIT(w, "Impersonate-Extra-");
            put_extra_key(w, x->key);
            PUT_LIT(w, ": ");
            put(w, x->values[j].p, x->values[j].n);
            PUT_LIT(w, "\r\n");
        }
    }
}

static void put_gateway_headers(wr_t *w, const ag_http_req_t *req, const ag_forward_opts_t *o)
{
    PUT_HEADER(w, "Host", o->upstream_host);
    if (o->client_ip.n)
        PUT_HEADER(w, "X-Forwarded-For", o->client_ip);
    PUT_HEADER(w, "X-Forwarded-Proto", o->client_tls ? AG_STR("https") : AG_STR("http"));
    if (o->credential.n)
        PUT_HEADER(w, "Authorization", o->credential);
    if (o->identity)
        put_identity(w, o->identity);
    if (req->upgrade) {
        PUT_LIT(w, "Connection: Upgrade\r\n");
        PUT_HEADER(w, "Upgrade", req->upgrade_proto);
    }
    if (req->chunked) {
        PUT_LIT(w, "Transfer-Encoding: chunked\r\n");
    } else if (req->content_length >= 0) {
        PUT_LIT(w, "Content-Length: ");
        put_u64(w, (unsigned long long)req->content_length);
        PUT_LIT(w, "\r\n");
    }
    PUT_LIT(w, "\r\n");
}

/* ---- client headers ------------------------------------------------------------------ */

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
    wr_t *w;
    int kept;
} ws_ctx;

static bool ws_elem_cb(ag_str_t elem, void *ctx)
{
    ws_ctx *c = ctx;
    if (is_ws_bearer(elem))
        return true; /* the client's token: consumed by authn, never forwarded */
    if (c->kept++)
        PUT_LIT(c->w, ", ");
    put(c->w, elem.p, elem.n);
    return true;
}

/* Sec-WebSocket-Protocol minus bearer-token elements (threat-model case 9); omitted when
 * nothing is left. Re-joined with ", ", so at most twice the client's value (the bound in
 * scan_client_headers counts that). */
static void put_ws_protocol(wr_t *w, const ag_header_t *h)
{
    char *mark = w->p;
    ws_ctx c = {w, 0};
    put(w, h->name.p, h->name.n);
    PUT_LIT(w, ": ");
    ag_http_list_each(h->value, ws_elem_cb, &c);
    if (c.kept == 0)
        w->p = mark;
    else
        PUT_LIT(w, "\r\n");
}

/* Connection options of the request, and the bytes its headers could take at most. */
static ag_err scan_client_headers(const ag_http_req_t *req, conn_list *conn, size_t *bytes)
{
    for (int i = 0; i < req->nheaders; i++) {
        const ag_header_t *h = &req->headers[i];
        *bytes += h->name.n + h->value.n + 4;
        if (h->name.n == 22) /* Sec-WebSocket-Protocol is re-joined with ", ": "a,b" grows */
            *bytes += h->value.n;
        if (h->name.n == 10 && ag_str_ieq(h->name, AG_STR("connection")) &&
            (!ag_http_list_each(h->value, collect_conn_cb, conn) || conn->overflow))
            return AG_E_INVAL;
    }
    return 0;
}

static ag_err put_client_headers(wr_t *w, const ag_http_req_t *req, const conn_list *conn)
{
    for (int i = 0; i < req->nheaders; i++) {
        const ag_header_t *h = &req->headers[i];
        /* Classify again rather than trust h->flags: a caller that skipped canon still
         * cannot leak a credential. */
        unsigned f = ag_header_classify(h->name) | h->flags;
        if ((f & DROP_FLAGS) || (conn->n && nominated(conn, h->name)))
            continue;
        if ((f & AG_HDR_EXPECT) && !req->expect_continue)
            continue; /* an HTTP/1.0 client cannot take the 100 the upstream would send */
        if (!ag_http_is_token(h->name) || !ag_http_value_is_clean(h->value))
            return AG_E_INVAL;
        if (f & AG_HDR_WS_PROTOCOL)
            put_ws_protocol(w, h);
        else
            put_header(w, h->name.p, h->name.n, ag_http_trim_ows(h->value));
    }
    return 0;
}

/* ---- the fail-closed re-read (threat-model case 10) ---------------------------------- */

/* Every line of the finished head must end in CRLF with no other CR, LF or NUL in it;
 * its client part may hold no credential, identity, hop-by-hop or framing header; the
 * gateway part exactly the Authorization and Impersonate-* lines it meant to write. This
 * reads the bytes as the upstream will, independently of how they were produced. */
static ag_err verify_head(ag_str_t head, size_t gw_off, int want_imp, int want_auth)
{
    int imp = 0, auth = 0;
    size_t i = 0;
    bool first = true;

    while (i < head.n) {
        const char *line = head.p + i, *lf = memchr(line, '\n', head.n - i);
        if (!lf || lf == line || lf[-1] != '\r')
            return AG_E_INVAL;
        size_t len = (size_t)(lf - line) - 1; /* without CR */
        if (memchr(line, '\r', len) || memchr(line, '\0', len))
            return AG_E_INVAL;
        i += len + 2;
        if (first) {
            first = false;
            continue; /* the request line */
        }
        if (len == 0)
            break; /* the blank line */
        ag_str_t name, value = ag_str_split(ag_str_make(line, len), ':', &name);
        unsigned f = ag_header_classify(name);
        if ((size_t)(line - head.p) < gw_off) {
            if (f & DROP_FLAGS)
                return AG_E_INVAL;
        } else {
            imp += (f & AG_HDR_IMPERSONATE) != 0;
            auth += (f & AG_HDR_AUTHORIZATION) != 0;
        }
        if ((f & AG_HDR_WS_PROTOCOL) && !ag_http_list_each(value, no_ws_bearer_cb, NULL))
            return AG_E_INVAL;
    }
    return (i == head.n && imp == want_imp && auth == want_auth) ? 0 : AG_E_INVAL;
}

ag_err ag_forward_head(const ag_http_req_t *req, const ag_forward_opts_t *o, ag_buf_t *out)
{
    size_t base = out->n, bytes = 0, gw_off;
    conn_list conn = {.n = 0};
    int nimp = 0;
    ag_err err;
    wr_t w;

    if ((err = check_inputs(req, o, &bytes, &nimp)) != 0 ||
        (err = scan_client_headers(req, &conn, &bytes)) != 0 ||
        (err = ag_buf_reserve(out, bytes)) != 0)
        goto out;
    w = (wr_t){out->p + base, out->p + base + bytes, false};
    put(&w, req->method.p, req->method.n);
    PUT_LIT(&w, " ");
    put(&w, req->target.p, req->target.n);
    PUT_LIT(&w, " HTTP/1.1\r\n");
    if ((err = put_client_headers(&w, req, &conn)) != 0)
        goto out;
    gw_off = (size_t)(w.p - (out->p + base));
    put_gateway_headers(&w, req, o);
    if (w.overflow) {
        err = AG_E_INVAL;
        goto out;
    }
    out->n = (size_t)(w.p - out->p);
    out->p[out->n] = '\0';
    err = verify_head(ag_str_make(out->p + base, out->n - base), gw_off, nimp,
                      o->credential.n ? 1 : 0);
out:
    if (err && out->p) { /* nothing usable: the caller answers 500 and forwards nothing */
        out->n = base;
        out->p[base] = '\0';
    }
    return err;
}
