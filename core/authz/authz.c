/* Wording of authorization outcomes (authz.h): the API server's Forbidden message and
 * the Go %q quoting the authorizers' reasons use (each authorizer words its own reasons:
 * rbac/rbac_reason.c, azure/azrbac.c; authz_chain.c picks by the decision's source).
 * Formats only when asked; the decision path builds no strings. Owns nothing and never
 * decides. */
#include "authz/authz.h"

#include <stddef.h>
#include <string.h>

void ag_authz_decision_reset(ag_authz_decision_t *d, ag_authz_result result, ag_authz_source source)
{
    memset(d, 0, offsetof(ag_authz_decision_t, azure_buf));
    d->result = result;
    d->source = source;
    d->rule_index = -1;
    d->error = NULL;
}

/* Go's %q for the ASCII range: quotes, escapes '"' and '\', writes control bytes and
 * bytes >= 0x7f that are not valid UTF-8 as \xNN (valid UTF-8 passes through). */
static ag_err quote_body(ag_buf_t *out, ag_str_t s)
{
    ag_err err = 0;
    for (size_t i = 0; !err && i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc) {
            err = ag_buf_append_cstr(out, esc);
            continue;
        }
        if (c >= 0x20 && c < 0x7f) { /* the run of such bytes at once */
            size_t end = i + 1;
            while (end < s.n && (unsigned char)s.p[end] >= 0x20 && (unsigned char)s.p[end] < 0x7f &&
                   s.p[end] != '"' && s.p[end] != '\\')
                end++;
            err = ag_buf_append(out, &s.p[i], end - i);
            i = end - 1;
            continue;
        }
        size_t len = 0;
        if (c >= 0xc2 && c <= 0xf4) {
            len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            for (size_t k = 1; k < len; k++)
                if (i + k >= s.n || ((unsigned char)s.p[i + k] & 0xc0) != 0x80)
                    len = 0;
        }
        if (len) {
            err = ag_buf_append(out, &s.p[i], len);
            i += len - 1;
        } else {
            err = ag_buf_printf(out, "\\x%02x", c);
        }
    }
    return err;
}

ag_err ag_authz_quote(ag_buf_t *out, ag_str_t s)
{
    ag_err err;
    if ((err = ag_buf_append(out, "\"", 1)) || (err = quote_body(out, s)))
        return err;
    return ag_buf_append(out, "\"", 1);
}

/* ag_authz_quote() of "<a>/<b>" without building it: '/' is never escaped and no UTF-8 sequence
 * is valid across it, so the bytes are the same. */
ag_err ag_authz_quote_pair(ag_buf_t *out, ag_str_t a, ag_str_t b)
{
    ag_err err;
    if ((err = ag_buf_append(out, "\"", 1)) || (err = quote_body(out, a)) ||
        (err = ag_buf_append(out, "/", 1)) || (err = quote_body(out, b)))
        return err;
    return ag_buf_append(out, "\"", 1);
}

ag_err ag_authz_deny_message(const ag_identity_t *user, const ag_attrs_t *a, ag_buf_t *out)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "User ")) || (err = ag_authz_quote(out, user->username)) ||
        (err = ag_buf_printf(out, " cannot %.*s ", AG_STR_FMT(a->verb))))
        return err;
    if (!a->resource_request)
        return (err = ag_buf_append_cstr(out, "path ")) ? err : ag_authz_quote(out, a->path);
    /* resource[/subresource] in API group "g" in the namespace "ns" | at the cluster scope */
    ag_buf_t res = AG_BUF_INIT(a->resource.n + a->subresource.n + 2);
    if ((err = ag_buf_append_str(&res, a->resource)) ||
        (a->subresource.n && ((err = ag_buf_append(&res, "/", 1)) ||
                              (err = ag_buf_append_str(&res, a->subresource)))) ||
        (err = ag_buf_append_cstr(out, "resource ")) ||
        (err = ag_authz_quote(out, ag_buf_str(&res))) ||
        (err = ag_buf_append_cstr(out, " in API group ")) ||
        (err = ag_authz_quote(out, a->api_group)))
        goto out;
    if (a->namespace_.n)
        err = (err = ag_buf_append_cstr(out, " in the namespace "))
                  ? err
                  : ag_authz_quote(out, a->namespace_);
    else
        err = ag_buf_append_cstr(out, " at the cluster scope");
out:
    ag_buf_dispose(&res);
    return err;
}

/* Appends <s> with '&', '<', '>' HTML-escaped (the API server's sanitizer). */
static ag_err append_sanitized(ag_buf_t *out, ag_str_t s)
{
    ag_err err = 0;
    for (size_t i = 0; !err && i < s.n; i++) {
        char c = s.p[i];
        err = c == '&'   ? ag_buf_append_cstr(out, "&amp;")
              : c == '<' ? ag_buf_append_cstr(out, "&lt;")
              : c == '>' ? ag_buf_append_cstr(out, "&gt;")
                         : ag_buf_append(out, &c, 1);
    }
    return err;
}

ag_err ag_authz_forbidden_message(const ag_identity_t *user, const ag_attrs_t *a, ag_str_t reason,
                                  ag_buf_t *out)
{
    ag_buf_t msg = AG_BUF_INIT(out->max);
    ag_err err;
    /* apierrors.NewForbidden: "<resource>[.<group>] [\"<name>\"] is forbidden: <msg>" */
    if (a->resource_request && a->resource.n) {
        if ((err = ag_buf_append_str(out, a->resource)) ||
            (a->api_group.n && (err = ag_buf_printf(out, ".%.*s", AG_STR_FMT(a->api_group)))))
            goto out;
        if (a->name.n &&
            ((err = ag_buf_append(out, " ", 1)) || (err = ag_authz_quote(out, a->name))))
            goto out;
        if ((err = ag_buf_append_cstr(out, " is forbidden: ")))
            goto out;
    } else if ((err = ag_buf_append_cstr(out, "forbidden: "))) {
        goto out;
    }
    if ((err = ag_authz_deny_message(user, a, &msg)) ||
        (err = append_sanitized(out, ag_buf_str(&msg))))
        goto out;
    if (reason.n)
        err = (err = ag_buf_append_cstr(out, ": ")) ? err : ag_buf_append_str(out, reason);
out:
    ag_buf_dispose(&msg);
    return err;
}
