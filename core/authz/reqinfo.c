/* Request attributes (reqinfo.h): the API server's RequestInfoFactory rules (reference
 * §1), written from the spec. Owns nothing; slices borrow from the request target and
 * escaped values are decoded into the caller's arena. Must never judge a request or
 * normalise the path beyond what the API server does: the proxy forwards the target
 * byte for byte as authorized here. */
#include "authz/reqinfo.h"

#include <limits.h>

#define MAX_SEGS 12 /* prefix, group, version, verb, namespaces, ns, res, name, sub + slack */

typedef struct {
    ag_str_t seg[MAX_SEGS];
    int n;     /* segments stored (<= MAX_SEGS) */
    int total; /* segments in the path (may exceed n; the rest are ignored upstream) */
} segs_t;

/* Percent-decodes <s> (and '+' as space when <plus>) like Go's url unescaping. Returns
 * false on a malformed escape; allocates only when something needs decoding. */
static bool unescape(ag_str_t s, bool plus, ag_arena_t *arena, ag_str_t *out, ag_err *err)
{
    size_t i;
    for (i = 0; i < s.n; i++)
        if (s.p[i] == '%' || (plus && s.p[i] == '+'))
            break;
    if (i == s.n) {
        *out = s;
        return true;
    }
    char *o = arena ? ag_arena_alloc(arena, s.n + 1) : NULL;
    if (!o) {
        *err = arena ? AG_E_NOMEM : AG_E_INVAL;
        return false;
    }
    size_t k = 0;
    for (i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= s.n || (hi = ag_hex_digit(s.p[i + 1])) < 0 ||
                (lo = ag_hex_digit(s.p[i + 2])) < 0)
                return false;
            o[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            o[k++] = (plus && c == '+') ? ' ' : c;
        }
    }
    o[k] = '\0';
    *out = ag_str_make(o, k);
    return true;
}

static void split_path(ag_str_t path, segs_t *s)
{
    while (path.n && path.p[0] == '/')
        path = ag_str_sub(path, 1, path.n);
    while (path.n && path.p[path.n - 1] == '/')
        path.n--;
    s->n = s->total = 0;
    if (!path.n)
        return;
    for (;;) {
        ag_str_t head;
        ag_str_t rest = ag_str_split(path, '/', &head);
        if (s->n < MAX_SEGS)
            s->seg[s->n++] = head;
        s->total++;
        if (!rest.p)
            return;
        path = rest;
    }
}

static const char *const method_verbs[] = {"get",    "head",    "post",  "put",     "patch",
                                           "delete", "options", "trace", "connect", NULL};

/* The lower-cased method; static text for the usual ones. */
static bool lower_method(ag_str_t m, ag_arena_t *arena, ag_str_t *out)
{
    for (int i = 0; method_verbs[i]; i++)
        if (ag_str_ieq(m, ag_str_cstr(method_verbs[i]))) {
            *out = ag_str_cstr(method_verbs[i]);
            return true;
        }
    char *o = arena ? ag_arena_alloc(arena, m.n + 1) : NULL;
    if (!o)
        return false;
    for (size_t i = 0; i < m.n; i++)
        o[i] = ag_ascii_lower(m.p[i]);
    o[m.n] = '\0';
    *out = ag_str_make(o, m.n);
    return true;
}

static ag_str_t resource_verb(ag_str_t m)
{
    if (ag_str_eq_lit(m, "POST"))
        return AG_STR("create");
    if (ag_str_eq_lit(m, "GET") || ag_str_eq_lit(m, "HEAD"))
        return AG_STR("get");
    if (ag_str_eq_lit(m, "PUT"))
        return AG_STR("update");
    if (ag_str_eq_lit(m, "PATCH"))
        return AG_STR("patch");
    if (ag_str_eq_lit(m, "DELETE"))
        return AG_STR("delete");
    return AG_STR(""); /* OPTIONS, CONNECT, ...: the empty verb, as upstream */
}

/* ---- query: the list options the API server decodes ------------------------------ */

typedef struct {
    bool has_watch, has_field, has_label, has_limit, has_timeout;
    ag_str_t watch, field, label, limit, timeout; /* first occurrence, decoded */
} listopts_t;

/* url.ParseQuery as Go 1.17+ does it: '&'-separated pairs, a pair holding ';' is
 * dropped, as is one whose key or value has a malformed escape. */
static ag_err scan_query(ag_str_t q, ag_arena_t *arena, listopts_t *lo)
{
    while (q.p && q.n) {
        ag_str_t pair;
        q = ag_str_split(q, '&', &pair);
        if (!pair.n || ag_str_find_char(pair, ';') < pair.n)
            continue;
        ag_str_t rk, rv;
        rv = ag_str_split(pair, '=', &rk);
        ag_str_t k, v = AG_STR("");
        ag_err err = 0;
        if (!unescape(rk, true, arena, &k, &err) ||
            (rv.p && !unescape(rv, true, arena, &v, &err))) {
            if (err)
                return err;
            continue;
        }
        struct {
            const char *name;
            bool *has;
            ag_str_t *val;
        } known[] = {{"watch", &lo->has_watch, &lo->watch},
                     {"fieldSelector", &lo->has_field, &lo->field},
                     {"labelSelector", &lo->has_label, &lo->label},
                     {"limit", &lo->has_limit, &lo->limit},
                     {"timeoutSeconds", &lo->has_timeout, &lo->timeout}};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!*known[i].has && ag_str_eq_lit(k, known[i].name)) {
                *known[i].has = true;
                *known[i].val = v;
            }
    }
    return 0;
}

/* strconv.ParseInt(s, 10, 64) succeeds. */
static bool go_parse_int64(ag_str_t s)
{
    size_t i = 0;
    if (s.n && (s.p[0] == '+' || s.p[0] == '-'))
        i = 1;
    if (i == s.n)
        return false;
    unsigned long long v = 0, lim = s.p[0] == '-' ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    for (; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    return true;
}

/* The watch conversion: present and first value neither "0" nor "false" (any case). */
static bool watch_true(const listopts_t *lo)
{
    return lo->has_watch && !ag_str_eq_lit(lo->watch, "0") &&
           !ag_str_ieq(lo->watch, AG_STR("false"));
}

/* A name from a field selector must be a valid path segment name. */
static bool valid_segment_name(ag_str_t s)
{
    if (ag_str_eq_lit(s, ".") || ag_str_eq_lit(s, ".."))
        return false;
    return ag_str_find_char(s, '/') == s.n && ag_str_find_char(s, '%') == s.n;
}

static ag_err derive_list(ag_str_t query, ag_arena_t *arena, ag_attrs_t *out)
{
    listopts_t lo = {0};
    ag_err err = scan_query(query, arena, &lo);
    if (err)
        return err;
    out->verb = watch_true(&lo) ? AG_STR("watch") : AG_STR("list");
    ag_str_t name = AG_STR_NULL;
    bool has_name = false;
    if (lo.has_limit && !go_parse_int64(lo.limit))
        return 0; /* list options fail to decode: verb only, no name */
    if (lo.has_timeout && !go_parse_int64(lo.timeout))
        return 0;
    if (lo.has_label && !ag_reqinfo_label_selector_valid(lo.label))
        return 0;
    if (lo.has_field && !ag_reqinfo_field_selector_name(lo.field, arena, &name, &has_name))
        return 0;
    if (has_name && valid_segment_name(name)) {
        out->name = name;
        out->field_selector_name = name;
    }
    return 0;
}

static ag_err derive_resource(ag_str_t method, const segs_t *s, int at, ag_str_t query,
                              ag_arena_t *arena, ag_attrs_t *out)
{
    const ag_str_t *p = s->seg + at;
    int n = s->n - at;
    bool path_verb = false;

    out->resource_request = true;
    out->api_version = p[0];
    p++, n--;
    if (ag_str_eq_lit(p[0], "watch") || ag_str_eq_lit(p[0], "proxy")) {
        if (n < 2)
            return AG_E_PARSE; /* kube-apiserver: "failed to create RequestInfo" (500) */
        out->verb = p[0];
        path_verb = true;
        p++, n--;
    } else {
        out->verb = resource_verb(method);
    }
    if (ag_str_eq_lit(p[0], "namespaces")) {
        if (n > 1) {
            out->namespace_ = p[1];
            if (n > 2 && !ag_str_eq_lit(p[2], "status") && !ag_str_eq_lit(p[2], "finalize"))
                p += 2, n -= 2;
        }
    }
    bool is_proxy = ag_str_eq_lit(out->verb, "proxy");
    if (n >= 3 && !is_proxy)
        out->subresource = p[2];
    if (n >= 2)
        out->name = p[1];
    out->resource = p[0];
    if (!out->name.n && ag_str_eq_lit(out->verb, "get") && !path_verb) {
        ag_err err = derive_list(query, arena, out);
        if (err)
            return err;
    }
    if (!out->name.n && ag_str_eq_lit(out->verb, "delete"))
        out->verb = AG_STR("deletecollection");
    return 0;
}

ag_err ag_reqinfo_parse(ag_str_t method, ag_str_t target, ag_arena_t *arena, ag_attrs_t *out)
{
    *out = (ag_attrs_t){0};
    if (!method.n || !target.n || target.p[0] != '/')
        return AG_E_PARSE;
    ag_str_t rawpath, query = ag_str_split(target, '?', &rawpath);
    ag_err err = 0;
    if (!unescape(rawpath, false, arena, &out->path, &err))
        return err ? err : AG_E_PARSE;
    if (!lower_method(method, arena, &out->verb))
        return arena ? AG_E_NOMEM : AG_E_INVAL;

    segs_t s;
    split_path(out->path, &s);
    if (s.total < 3)
        return 0;
    bool groupless = ag_str_eq_lit(s.seg[0], "api");
    if (!groupless && !ag_str_eq_lit(s.seg[0], "apis"))
        return 0;
    out->api_prefix = s.seg[0];
    int at = 1;
    if (!groupless) {
        if (s.total - 1 < 3)
            return 0; /* group-version discovery: non-resource, apiPrefix stays "apis" */
        out->api_group = s.seg[1];
        at = 2;
    }
    return derive_resource(method, &s, at, query, arena, out);
}

bool ag_reqinfo_needs_create_check(const ag_attrs_t *a, bool websocket)
{
    if (!websocket || !a->resource_request || !ag_str_eq_lit(a->verb, "get") || a->api_group.n)
        return false;
    if (ag_str_eq_lit(a->resource, "pods"))
        return ag_str_eq_lit(a->subresource, "exec") || ag_str_eq_lit(a->subresource, "attach") ||
               ag_str_eq_lit(a->subresource, "portforward");
    return ag_str_eq_lit(a->resource, "nodes") && ag_str_eq_lit(a->subresource, "proxy");
}

/* ---- field selectors (fields.ParseSelector) ----------------------------------------- */

/* Splits at the first ',' not escaped by '\'. */
static ag_str_t next_term(ag_str_t s, ag_str_t *term)
{
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] == '\\' && i + 1 < s.n) {
            i++;
            continue;
        }
        if (s.p[i] == ',') {
            *term = ag_str_make(s.p, i);
            return ag_str_make(s.p + i + 1, s.n - i - 1);
        }
    }
    *term = s;
    return AG_STR_NULL;
}

/* Unescapes a selector value: only "\\", "\," and "\=" are escapes. */
static bool unescape_value(ag_str_t v, ag_arena_t *arena, ag_str_t *out)
{
    if (ag_str_find_char(v, '\\') == v.n) {
        *out = v;
        return true;
    }
    char *o = arena ? ag_arena_alloc(arena, v.n + 1) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] == '\\') {
            if (i + 1 >= v.n || !memchr("\\,=", v.p[i + 1], 3))
                return false;
            i++;
        }
        if (o)
            o[k] = v.p[i];
        k++;
    }
    if (!o)
        return false; /* valid, but nowhere to put it */
    o[k] = '\0';
    *out = ag_str_make(o, k);
    return true;
}

bool ag_reqinfo_field_selector_name(ag_str_t sel, ag_arena_t *arena, ag_str_t *name, bool *has_name)
{
    ag_str_t best_term = AG_STR_NULL;
    *has_name = false;
    while (sel.p && sel.n) {
        ag_str_t term;
        sel = next_term(sel, &term);
        if (!term.n)
            continue;
        size_t i;
        size_t oplen = 0;
        bool exact = false;
        for (i = 0; i < term.n; i++) {
            ag_str_t rest = ag_str_sub(term, i, term.n);
            if (ag_str_starts_with(rest, AG_STR("!="))) {
                oplen = 2;
                break;
            }
            if (ag_str_starts_with(rest, AG_STR("=="))) {
                oplen = 2, exact = true;
                break;
            }
            if (rest.p[0] == '=') {
                oplen = 1, exact = true;
                break;
            }
        }
        if (!oplen)
            return false; /* a term without an operator */
        ag_str_t lhs = ag_str_make(term.p, i), rhs = ag_str_sub(term, i + oplen, term.n);
        ag_str_t val;
        if (!unescape_value(rhs, arena, &val))
            return false;
        /* Upstream sorts the terms and RequiresExactMatch returns the first match. */
        if (exact && ag_str_eq_lit(lhs, "metadata.name")) {
            bool smaller = !best_term.p;
            if (!smaller) {
                size_t m = term.n < best_term.n ? term.n : best_term.n;
                int c = memcmp(term.p, best_term.p, m);
                smaller = c < 0 || (c == 0 && term.n < best_term.n);
            }
            if (smaller) {
                best_term = term;
                *name = val;
                *has_name = true;
            }
        }
    }
    return true;
}

/* ---- label selectors (labels.Parse) --------------------------------------------------- */

typedef enum {
    T_END,
    T_IDENT,
    T_NOT,
    T_EQ,
    T_DEQ,
    T_NEQ,
    T_IN,
    T_NOTIN,
    T_GT,
    T_LT,
    T_OPEN,
    T_CLOSE,
    T_COMMA
} tok_kind;

typedef struct {
    ag_str_t s;
    size_t i;
    ag_str_t text;
} lex_t;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static bool is_special(char c)
{
    return c == '!' || c == '=' || c == '>' || c == '<' || c == '(' || c == ')' || c == ',';
}

static tok_kind lex(lex_t *l)
{
    while (l->i < l->s.n && is_space(l->s.p[l->i]))
        l->i++;
    if (l->i >= l->s.n)
        return T_END;
    const char *c = l->s.p + l->i;
    size_t left = l->s.n - l->i;
    if (is_special(*c)) {
        struct {
            const char *op;
            tok_kind k;
        } ops[] = {{"==", T_DEQ}, {"!=", T_NEQ}, {"=", T_EQ},    {"!", T_NOT},  {">", T_GT},
                   {"<", T_LT},   {"(", T_OPEN}, {")", T_CLOSE}, {",", T_COMMA}};
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            size_t n = strlen(ops[k].op);
            if (left >= n && memcmp(c, ops[k].op, n) == 0) {
                l->i += n;
                return ops[k].k;
            }
        }
    }
    size_t n = 0;
    while (n < left && !is_space(c[n]) && !is_special(c[n]))
        n++;
    l->i += n;
    l->text = ag_str_make(c, n);
    if (ag_str_eq_lit(l->text, "in"))
        return T_IN;
    if (ag_str_eq_lit(l->text, "notin"))
        return T_NOTIN;
    return T_IDENT;
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label value / the name part of a key: <= 63, alphanumerics at the ends, -_. inside. */
static bool label_name(ag_str_t s, bool allow_empty)
{
    if (!s.n)
        return allow_empty;
    if (s.n > 63 || !alnum(s.p[0]) || !alnum(s.p[s.n - 1]))
        return false;
    for (size_t i = 0; i < s.n; i++)
        if (!alnum(s.p[i]) && s.p[i] != '-' && s.p[i] != '_' && s.p[i] != '.')
            return false;
    return true;
}

/* DNS-1123 subdomain: <= 253, dot-separated labels of lower-case alphanumerics and '-',
 * each starting and ending with an alphanumeric. */
static bool dns_subdomain(ag_str_t s)
{
    if (!s.n || s.n > 253)
        return false;
    while (s.p) {
        ag_str_t label;
        s = ag_str_split(s, '.', &label);
        if (!label.n || label.p[0] == '-' || label.p[label.n - 1] == '-')
            return false;
        for (size_t i = 0; i < label.n; i++) {
            char c = label.p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
        }
    }
    return true;
}

static bool label_key(ag_str_t k)
{
    size_t slash = ag_str_find_char(k, '/');
    if (slash == k.n)
        return label_name(k, false);
    return dns_subdomain(ag_str_make(k.p, slash)) &&
           label_name(ag_str_sub(k, slash + 1, k.n), false);
}

static bool parse_requirement(lex_t *l, tok_kind *next)
{
    tok_kind t = lex(l);
    bool negated = t == T_NOT;
    if (negated)
        t = lex(l);
    if (t != T_IDENT || !label_key(l->text))
        return false;
    t = lex(l);
    if (negated || t == T_END || t == T_COMMA) {
        *next = t;
        return !negated || t == T_END || t == T_COMMA;
    }
    if (t == T_EQ || t == T_DEQ || t == T_NEQ || t == T_GT || t == T_LT) {
        tok_kind v = lex(l);
        ag_str_t val = AG_STR("");
        if (v == T_IDENT || v == T_IN || v == T_NOTIN) {
            val = l->text;
            v = lex(l);
        } else if (t == T_GT || t == T_LT) {
            return false;
        }
        if ((t == T_GT || t == T_LT) && !go_parse_int64(val))
            return false;
        if (!label_name(val, true))
            return false;
        *next = v;
        return v == T_END || v == T_COMMA;
    }
    if (t != T_IN && t != T_NOTIN)
        return false;
    if (lex(l) != T_OPEN)
        return false;
    int nvals = 0;
    for (;;) {
        tok_kind v = lex(l);
        if (v == T_CLOSE && nvals == 0)
            return false; /* values set can't be empty */
        ag_str_t val = AG_STR("");
        if (v == T_IDENT || v == T_IN || v == T_NOTIN) {
            val = l->text;
            v = lex(l);
        }
        if (!label_name(val, true))
            return false;
        nvals++;
        if (v == T_CLOSE)
            break;
        if (v != T_COMMA)
            return false;
    }
    *next = lex(l);
    return *next == T_END || *next == T_COMMA;
}

bool ag_reqinfo_label_selector_valid(ag_str_t sel)
{
    lex_t l = {sel, 0, AG_STR_NULL};
    lex_t probe = l;
    if (lex(&probe) == T_END)
        return true; /* empty selector: everything */
    for (;;) {
        tok_kind next;
        if (!parse_requirement(&l, &next))
            return false;
        if (next == T_END)
            return true;
    }
}
