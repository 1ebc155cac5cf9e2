/* libFuzzer target for the request-head safety layer, through the code the proxy runs:
 * raw bytes -> the production head framing and reading (proxy/http/http1_parse.c: where the
 * head ends under the limits, ag_canon_scan_head, llhttp strict) -> ag_canon_check ->
 * ag_forward_head. Nothing of the front end's head path is copied here. Asserts the invariants the
 * gateway's security rests on:
 *  - an independent test splitter (headsplit.h) reads a head both accept the same way;
 *  - a head canon accepted always forwards (no 500 for a clean request);
 *  - the forwarded head scans clean and passes canon again with the same target, path,
 *    framing and upgrade decision (nothing two parsers could read differently);
 *  - every Authorization / Impersonate-* line in the output is one the gateway wrote,
 *    byte for byte; no client Impersonate-, X-Remote-, Forwarded or WebSocket bearer
 *    token survives (threat-model cases 1-3, 8-10, 42);
 *  - bytes after a chunked head are its body: the production parser accepts, decodes
 *    and ends it exactly as an independent decoder of the strict grammar does, however
 *    the bytes are split (threat-model case 42; issue 11, defect 1);
 *  - otherwise bytes after the head, when present, become an identity: forward accepts it exactly
 *    when every value is forwardable, and then the API server's reading of the
 *    Impersonate-* lines (extra keys lower-cased and percent-decoded) gives back that
 *    identity byte for byte (threat-model cases 2, 4, 5). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/canon.h"
#include "http/forward.h"
#include "http/headers.h"
#include "http/http1_parse.h"
#include "http/status.h"
#include "tests/unit/headsplit.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

static const ag_str_t self_names[] = {{"gw", 2}, {"gw:8443", 7}};
static const ag_canon_opts_t copts = {self_names, 2};

static const ag_str_t groups[] = {{"gw-group-1", 10}, {"gw, group 2", 11}};
static const ag_str_t xvals[] = {{"gw-extra-value", 14}};
static const ag_extra_t extras[] = {{{"gw.example/Key", 14}, xvals, 1}};
static const ag_identity_t ident = {.username = {"gw-user", 7},
                                    .uid = {"gw-uid", 6},
                                    .groups = groups,
                                    .ngroups = 2,
                                    .extra = extras,
                                    .nextra = 1};

/* Lines the gateway writes for <ident>: the only identity lines allowed out. */
static const char *const ours[] = {"Authorization: Bearer GW-CREDENTIAL",
                                   "Impersonate-User: gw-user",
                                   "Impersonate-Group: gw-group-1",
                                   "Impersonate-Group: gw, group 2",
                                   "Impersonate-Uid: gw-uid",
                                   "Impersonate-Extra-gw.example%2Fkey: gw-extra-value"};

static bool is_ours(ag_str_t line)
{
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (ag_str_eq(line, ag_str_cstr(ours[i])))
            return true;
    return false;
}

static void check_output_lines(ag_str_t head)
{
    ag_str_t rest = head, line;
    int identity_lines = 0;
    rest = ag_str_split(rest, '\n', &line); /* request line */
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        if (line.n <= 1)
            break;
        line.n--; /* CR */
        ag_str_t name;
        ag_str_split(line, ':', &name);
        unsigned f = ag_header_classify(name);
        if (f & (AG_HDR_AUTHORIZATION | AG_HDR_IMPERSONATE)) {
            if (!is_ours(line))
                FAIL("client identity header forwarded");
            identity_lines++;
        } else if (f & AG_HDR_STRIP) {
            if (!ag_str_istarts_with(line, AG_STR("X-Forwarded-For: 192.0.2.1")) &&
                !ag_str_istarts_with(line, AG_STR("X-Forwarded-Proto: https")))
                FAIL("spoofable header forwarded");
        }
        if ((f & AG_HDR_WS_PROTOCOL) &&
            ag_str_istarts_with(ag_str_sub(line, name.n + 2, line.n), AG_STR(AG_WS_BEARER_PREFIX)))
            FAIL("websocket bearer token forwarded");
    }
    if (identity_lines != (int)(sizeof ours / sizeof ours[0]))
        FAIL("gateway identity lines missing or repeated");
}

static void check_reparse(const ag_http_req_t *in, ag_str_t head)
{
    static hs_head_t again;
    const char *reason;
    if (ag_canon_scan_head(head) != NULL)
        FAIL("forwarded head does not scan clean");
    if (hs_split(head, &again) != 0)
        FAIL("forwarded head does not split");
    if (ag_canon_check(&again.req, &copts, &reason) != 0)
        FAIL("forwarded head is not canonical");
    if (!ag_str_eq(again.req.target, in->target) || !ag_str_eq(again.req.path, in->path) ||
        !ag_str_eq(again.req.query, in->query))
        FAIL("forwarded target differs from the judged one");
    if (again.req.chunked != in->chunked || again.req.content_length != in->content_length)
        FAIL("forwarded framing differs");
    if (again.req.upgrade != in->upgrade || again.req.websocket != in->websocket)
        FAIL("forwarded upgrade differs");
}

/* ---- the production parser (proxy/http/http1_parse.c) reads the head as the proxy does; the
 * test splitter (headsplit.h, written independently) must read a head both accept the
 * same way: same method, target, version, header names and values. A head the
 * production parser refuses is fine (the proxy answers 400/414/431); a different reading
 * is not. */

typedef struct {
    ag_h1_req_t rq;
    ag_http_req_t req;
    ag_header_t hdrs[HS_MAX_HEADERS];
} prod_head_t;

#define MAX_BODY 65536

/* Body bytes the production parser decoded. */
typedef struct {
    char p[MAX_BODY];
    size_t n;
} body_t;

static void on_prod_body(void *ud, const char *at, size_t n)
{
    body_t *b = ud;
    if (n > MAX_BODY - b->n)
        FAIL("more body decoded than sent");
    memcpy(b->p + b->n, at, n);
    b->n += n;
}

static body_t prod_body;

/* The head limits the fuzzer runs under (the proxy's are configured; these are large
 * enough for any input libFuzzer makes here). */
#define MAX_HEAD (1u << 20)
#define MAX_URL (1u << 20)

/* The head at the start of <input> as the front end frames it (ag_h1_head_frame): 0 with
 * *head_len (0: incomplete), or the refusal status. */
static int prod_frame(ag_str_t input, size_t *head_len)
{
    const char *reason = NULL;
    int st = ag_h1_head_frame(input.p, input.n, MAX_HEAD, MAX_URL, head_len, &reason);
    if (st != 0 && (!reason || (st != 414 && st != 431)))
        FAIL("head framing refused without reason or with a bad status");
    if (st == 0 && *head_len > input.n)
        FAIL("head framing ends past the input");
    return st;
}

/* 0 when the front end's head reading (ag_h1_req_read_head: the raw scan, then the
 * production parser) accepts the head <head> (complete, blank line included) with at
 * most <max_headers> lines. */
static int prod_parse(ag_str_t head, int max_headers, prod_head_t *h)
{
    const char *reason = NULL;
    memset(&h->req, 0, sizeof h->req);
    h->req.content_length = -1;
    prod_body.n = 0;
    ag_h1_req_init(&h->rq, &h->req, h->hdrs, max_headers, MAX_URL, on_prod_body, &prod_body);
    int st = ag_h1_req_read_head(&h->rq, head, &reason);
    if (st != 0 && (!reason || (st != 400 && st != 414 && st != 431)))
        FAIL("head refused without reason or with a bad status");
    if (st == 0 && ag_canon_scan_head(head) != NULL)
        FAIL("a head the raw scan refuses was read");
    return st;
}

static void check_splitter_agrees(ag_str_t head, const ag_http_req_t *r)
{
    static hs_head_t h;
    if (hs_split(head, &h) != 0)
        return;
    if (!ag_str_eq(h.req.method, r->method) || !ag_str_eq(h.req.target, r->target) ||
        h.req.http_major != r->http_major || h.req.http_minor != r->http_minor)
        FAIL("the parsers read the request line differently");
    if (h.req.nheaders != r->nheaders)
        FAIL("the parsers see a different number of headers");
    for (int i = 0; i < r->nheaders; i++) {
        if (!ag_str_eq(h.req.headers[i].name, r->headers[i].name) ||
            !ag_str_eq(ag_http_trim_ows(h.req.headers[i].value),
                       ag_http_trim_ows(r->headers[i].value)))
            FAIL("the parsers read a header differently");
    }
}

/* After canon accepted: llhttp's own framing reading (which decodes the body) is the one
 * canon judged and forward writes. */
static void check_llhttp_framing(const prod_head_t *h)
{
    const llhttp_t *p = &h->rq.parser;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    long long cl = (p->flags & F_CONTENT_LENGTH) ? (long long)p->content_length : -1;
    if (chunked != h->req.chunked || (!chunked && cl != h->req.content_length))
        FAIL("llhttp frames the body differently");
}

/* ---- chunked mode: the bytes after a chunked head are its body. An independent decoder
 * of the grammar the gateway accepts (RFC 9112 §7.1 as llhttp strict reads it, with an
 * empty trailer section) must agree with the production parser on acceptance, on the
 * decoded bytes and on where the message ends, whatever way the bytes are split. */

typedef enum { REF_DONE, REF_MORE, REF_BAD } ref_result;

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool ref_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool ref_qdtext(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != '"' && c != '\\');
}

/* CRLF at p[*i]: advances past it. */
static ref_result ref_crlf(const char *p, size_t n, size_t *i)
{
    if (*i == n)
        return REF_MORE;
    if (p[*i] != '\r')
        return REF_BAD;
    if (*i + 1 == n)
        return REF_MORE;
    if (p[*i + 1] != '\n')
        return REF_BAD;
    *i += 2;
    return REF_DONE;
}

/* After an unquoted extension value, llhttp 8.1 takes the ';' as the end of the value and
 * wants another ';' or the CR next ("5;a=b;c=d" is refused, "5;a=b;;c=d" accepted): a
 * false refusal, never a false acceptance, modelled here as it is. */
static ref_result ref_after_value(const char *p, size_t n, size_t *i)
{
    if (*i < n && p[*i] == ';') {
        if (++*i == n)
            return REF_MORE;
        if (p[*i] != ';' && p[*i] != '\r')
            return REF_BAD;
    }
    return REF_DONE;
}

/* A quoted extension value (no escapes), then ';' or the CR. */
static ref_result ref_quoted(const char *p, size_t n, size_t *i)
{
    ++*i;
    while (*i < n && ref_qdtext((unsigned char)p[*i]))
        ++*i;
    if (*i == n)
        return REF_MORE;
    if (p[(*i)++] != '"')
        return REF_BAD;
    if (*i < n && p[*i] != ';' && p[*i] != '\r')
        return REF_BAD;
    return REF_DONE;
}

/* Chunk extensions up to (not including) the CR ending the size line. Names and values
 * are tokens (a name may be empty before '=' or ';'), a value may end in one quoted
 * string without escapes; no whitespace anywhere. */
static ref_result ref_ext(const char *p, size_t n, size_t *i)
{
    ref_result r = REF_DONE;
    while (r == REF_DONE && *i < n && p[*i] == ';') {
        if (++*i == n)
            return REF_MORE;
        if (p[*i] == '\r' || p[*i] == ' ')
            return REF_BAD;
        while (*i < n && ref_tchar((unsigned char)p[*i]))
            ++*i;
        if (*i == n || p[*i] != '=')
            continue;
        ++*i;
        while (*i < n && ref_tchar((unsigned char)p[*i]))
            ++*i;
        r = *i < n && p[*i] == '"' ? ref_quoted(p, n, i) : ref_after_value(p, n, i);
    }
    if (r != REF_DONE)
        return r;
    return *i == n ? REF_MORE : p[*i] == '\r' ? REF_DONE : REF_BAD;
}

/* One chunk-size line: 1 to 16 hex digits (leading zeros allowed), extensions, CRLF. */
static ref_result ref_size_line(const char *p, size_t n, size_t *i, uint64_t *size)
{
    size_t digits = 0;
    int v;
    *size = 0;
    while (*i < n && (v = hexv(ag_ascii_lower(p[*i]))) >= 0) {
        if (*size >> 60 || digits == 16)
            return REF_BAD; /* the next digit overflows 64 bits, or is the 17th */
        *size = *size * 16 + (uint64_t)v;
        ++*i, digits++;
    }
    if (*i == n)
        return REF_MORE;
    if (digits == 0)
        return REF_BAD;
    ref_result r = ref_ext(p, n, i);
    return r == REF_DONE ? ref_crlf(p, n, i) : r;
}

static ref_result ref_chunked(const char *p, size_t n, body_t *body, size_t *end)
{
    size_t i = 0;
    uint64_t size;
    ref_result r;
    body->n = 0;
    for (;;) {
        if ((r = ref_size_line(p, n, &i, &size)) != REF_DONE)
            return r;
        if (size == 0)
            break;
        if (size > n - i)
            return REF_MORE;
        memcpy(body->p + body->n, p + i, size);
        body->n += size;
        i += size;
        if ((r = ref_crlf(p, n, &i)) != REF_DONE)
            return r;
    }
    if ((r = ref_crlf(p, n, &i)) == REF_DONE) /* the trailer section is empty */
        *end = i;
    return r;
}

/* Feeds <tail> to the production parser in two pieces split at <cut> (the second piece
 * holds what the first call left unread, as the proxy's read buffer does). */
static int prod_chunked(prod_head_t *h, ag_str_t tail, size_t cut, size_t *off)
{
    size_t used = 0;
    const char *reason = NULL;
    int st = ag_h1_req_body(&h->rq, tail.p, cut, &used, &reason);
    *off = used;
    if (st == 0 && !h->rq.complete) {
        st = ag_h1_req_body(&h->rq, tail.p + *off, tail.n - *off, &used, &reason);
        *off += used;
    }
    if (st != 0 && (st != 400 || !reason))
        FAIL("body refused without reason or with a bad status");
    return st;
}

static void chunked_mode(prod_head_t *h, ag_str_t tail, size_t cut)
{
    static body_t ref;
    size_t end = 0, off;
    if (tail.n > MAX_BODY)
        return;
    ref_result want = ref_chunked(tail.p, tail.n, &ref, &end);
    int st = prod_chunked(h, tail, cut, &off);
    if (want == REF_BAD) {
        if (st != 400 || h->rq.complete)
            FAIL("the production parser accepts a chunked body the grammar refuses");
        return;
    }
    if (st != 0)
        FAIL("the production parser refuses a well-formed chunked body");
    if (prod_body.n < ref.n || memcmp(prod_body.p, ref.p, ref.n) != 0)
        FAIL("the production parser decodes a chunked body differently");
    if (want == REF_MORE) {
        if (h->rq.complete)
            FAIL("the production parser ends a chunked body early");
        return;
    }
    if (!h->rq.complete || off != end || prod_body.n != ref.n)
        FAIL("the production parser ends a chunked body elsewhere");
}

/* ---- identity mode: the bytes after the head become the identity to forward ---------- */

#define MAXI 8

typedef struct {
    ag_str_t groups[MAXI], xkeys[MAXI], xvals[MAXI];
    ag_extra_t extra[MAXI];
    ag_identity_t id;
} fuzz_identity_t;

/* Lines: username, uid, then "=key" followed by its value line, or a group. */
static void identity_from(ag_str_t tail, fuzz_identity_t *f)
{
    ag_str_t line;
    memset(f, 0, sizeof *f);
    tail = ag_str_split(tail, '\n', &f->id.username);
    if (tail.p)
        tail = ag_str_split(tail, '\n', &f->id.uid);
    while (tail.p && f->id.ngroups < MAXI && f->id.nextra < MAXI) {
        tail = ag_str_split(tail, '\n', &line);
        if (line.n && line.p[0] == '=') {
            int i = f->id.nextra++;
            f->xkeys[i] = ag_str_sub(line, 1, line.n);
            if (tail.p)
                tail = ag_str_split(tail, '\n', &f->xvals[i]);
            f->extra[i] = (ag_extra_t){f->xkeys[i], &f->xvals[i], 1};
        } else {
            f->groups[f->id.ngroups++] = line;
        }
    }
    f->id.groups = f->groups;
    f->id.extra = f->extra;
}

/* What forward.h promises to accept, computed independently. */
static bool id_value_valid(ag_str_t v, bool need_nonempty)
{
    if (need_nonempty && v.n == 0)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return !(v.n && (v.p[0] == ' ' || v.p[v.n - 1] == ' '));
}

static bool identity_valid(const fuzz_identity_t *f)
{
    bool ok = id_value_valid(f->id.username, true) && id_value_valid(f->id.uid, false);
    for (int i = 0; i < f->id.ngroups; i++)
        ok = ok && id_value_valid(f->groups[i], true);
    for (int i = 0; i < f->id.nextra; i++)
        ok = ok && f->xkeys[i].n > 0 && id_value_valid(f->xvals[i], false);
    return ok;
}

/* The API server's reading of an Impersonate-Extra-<enc> key (kubernetes-authz.md §7.1):
 * lower-case, then percent-decode. Must give back the lower-cased key. */
static void check_extra_key(ag_str_t enc, ag_str_t key)
{
    size_t j = 0;
    for (size_t i = 0; i < enc.n; i++, j++) {
        char c = ag_ascii_lower(enc.p[i]);
        if (c == '%') {
            if (enc.n - i < 3 || hexv(ag_ascii_lower(enc.p[i + 1])) < 0 ||
                hexv(ag_ascii_lower(enc.p[i + 2])) < 0)
                FAIL("extra key does not percent-decode");
            c = (char)(hexv(ag_ascii_lower(enc.p[i + 1])) * 16 +
                       hexv(ag_ascii_lower(enc.p[i + 2])));
            i += 2;
        } else if (!ag_http_is_tchar((unsigned char)c)) {
            FAIL("extra key holds a non-token byte");
        }
        if (j >= key.n || c != ag_ascii_lower(key.p[j]))
            FAIL("extra key does not round-trip");
    }
    if (j != key.n)
        FAIL("extra key does not round-trip (length)");
}

/* Every Impersonate-* line carries exactly the identity, in order, byte for byte. */
static void check_identity_lines(ag_str_t head, const fuzz_identity_t *f)
{
    ag_str_t rest = head, line, name;
    int user = 0, group = 0, uid = 0, extra = 0;
    while (rest.p) {
        rest = ag_str_split(rest, '\n', &line);
        if (line.n <= 1)
            continue;
        line.n--;
        ag_str_t value = ag_str_split(line, ':', &name);
        if (!(ag_header_classify(name) & AG_HDR_IMPERSONATE))
            continue;
        if (!value.p || value.n == 0 || value.p[0] != ' ')
            FAIL("identity line without \": \"");
        value = ag_str_sub(value, 1, value.n);
        if (ag_str_eq_lit(name, "Impersonate-User")) {
            if (user++ || !ag_str_eq(value, f->id.username))
                FAIL("Impersonate-User differs");
        } else if (ag_str_eq_lit(name, "Impersonate-Group")) {
            if (group >= f->id.ngroups || !ag_str_eq(value, f->groups[group++]))
                FAIL("Impersonate-Group differs");
        } else if (ag_str_eq_lit(name, "Impersonate-Uid")) {
            if (uid++ || !ag_str_eq(value, f->id.uid))
                FAIL("Impersonate-Uid differs");
        } else if (ag_str_starts_with(name, AG_STR("Impersonate-Extra-"))) {
            if (extra >= f->id.nextra || !ag_str_eq(value, f->xvals[extra]))
                FAIL("Impersonate-Extra value differs");
            check_extra_key(ag_str_sub(name, 18, name.n), f->xkeys[extra++]);
        } else {
            FAIL("unexpected Impersonate- line");
        }
    }
    if (user != 1 || group != f->id.ngroups || uid != (f->id.uid.n > 0) || extra != f->id.nextra)
        FAIL("identity lines missing");
}

static void identity_mode(const ag_http_req_t *req, ag_str_t tail, ag_buf_t *out)
{
    static fuzz_identity_t f;
    identity_from(tail, &f);
    ag_forward_opts_t fo = {
        .upstream_host = AG_STR("gw"), .identity = &f.id, .client_ip = AG_STR("192.0.2.1")};
    ag_buf_clear(out);
    ag_err err = ag_forward_head(req, &fo, out);
    if ((err == 0) != identity_valid(&f))
        FAIL("forward accepted an invalid identity or refused a valid one");
    if (err == 0)
        check_identity_lines(ag_buf_str(out), &f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static prod_head_t h;
    static ag_buf_t out = {NULL, 0, 0, 1 << 20};
    ag_str_t input = ag_str_make((const char *)data, size);
    const char *reason = NULL;
    size_t head_len = 0;

    if (prod_frame(input, &head_len) != 0 || head_len == 0)
        return 0;
    ag_str_t head = ag_str_make(input.p, head_len);
    const char *end = input.p + head_len;
    /* Room for the gateway's own lines when the output is split again. */
    if (prod_parse(head, HS_MAX_HEADERS - 16, &h) != 0)
        return 0;
    check_splitter_agrees(head, &h.req);
    ag_str_t wstok;
    if (ag_ws_bearer_token(h.req.headers, h.req.nheaders, &wstok) == 0 && wstok.n &&
        (wstok.p < head.p || wstok.p + wstok.n > head.p + head.n))
        FAIL("websocket token is not a slice of the head");
    int rc = ag_canon_check(&h.req, &copts, &reason);
    if (rc != 0) {
        if (!reason || !(rc == AG_CANON_OPTIONS_STAR || (rc >= 400 && rc <= 599)))
            FAIL("rejection without reason or with a bad status");
        ag_buf_clear(&out);
        if (ag_status_response(&out, rc == AG_CANON_OPTIONS_STAR ? 200 : rc, ag_str_cstr(reason),
                               true) != 0)
            FAIL("status response failed");
        return 0;
    }
    ag_forward_opts_t fo = {.upstream_host = AG_STR("gw"),
                            .credential = AG_STR("Bearer GW-CREDENTIAL"),
                            .identity = &ident,
                            .client_ip = AG_STR("192.0.2.1"),
                            .client_tls = true};
    ag_buf_clear(&out);
    ag_err err = ag_forward_head(&h.req, &fo, &out);
    if (err != 0) {
        fprintf(stderr, "forward: %s\n", ag_err_str(err));
        FAIL("a canonical request did not forward");
    }
    ag_str_t fwd = ag_buf_str(&out);
    check_llhttp_framing(&h);
    check_output_lines(fwd);
    check_reparse(&h.req, fwd);
    ag_str_t tail = ag_str_make(end, input.n - head.n);
    if (h.req.chunked)
        chunked_mode(&h, tail, size % (tail.n + 1));
    else if (tail.n)
        identity_mode(&h.req, tail, &out);
    return 0;
}
