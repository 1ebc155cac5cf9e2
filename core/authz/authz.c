/* Wording of authorization outcomes (authz.h): the API server's Forbidden message and
 * the human-readable reason of a decision, for the 403 Status body, audit and
 * --explain. Formats only when asked; the decision path builds no strings. Owns nothing
 * and never decides. */
#include "authz/authz.h"

#include <stddef.h>
#include <string.h>

#include "authz/azure/azrbac.h"
#include "base/rfc3339.h"

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
        if (c >= 0x20 && c < 0x7f) {
            err = ag_buf_append(out, &s.p[i], 1);
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

static ag_err quote(ag_buf_t *out, ag_str_t s)
{
    ag_err err;
    if ((err = ag_buf_append(out, "\"", 1)) || (err = quote_body(out, s)))
        return err;
    return ag_buf_append(out, "\"", 1);
}

/* quote() of "<a>/<b>" without building it: '/' is never escaped and no UTF-8 sequence
 * is valid across it, so the bytes are the same. */
static ag_err quote_pair(ag_buf_t *out, ag_str_t a, ag_str_t b)
{
    ag_err err;
    if ((err = ag_buf_append(out, "\"", 1)) || (err = quote_body(out, a)) ||
        (err = ag_buf_append(out, "/", 1)) || (err = quote_body(out, b)))
        return err;
    return ag_buf_append(out, "\"", 1);
}

/* "<s> " (a kind word): plain appends, no printf, on the audit writer's path. */
static ag_err word(ag_buf_t *out, ag_str_t s)
{
    ag_err err = ag_buf_append_str(out, s);
    return err ? err : ag_buf_append(out, " ", 1);
}

ag_err ag_authz_deny_message(const ag_identity_t *user, const ag_attrs_t *a, ag_buf_t *out)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "User ")) || (err = quote(out, user->username)) ||
        (err = ag_buf_printf(out, " cannot %.*s ", AG_STR_FMT(a->verb))))
        return err;
    if (!a->resource_request)
        return (err = ag_buf_append_cstr(out, "path ")) ? err : quote(out, a->path);
    /* resource[/subresource] in API group "g" in the namespace "ns" | at the cluster scope */
    ag_buf_t res = AG_BUF_INIT(a->resource.n + a->subresource.n + 2);
    if ((err = ag_buf_append_str(&res, a->resource)) ||
        (a->subresource.n && ((err = ag_buf_append(&res, "/", 1)) ||
                              (err = ag_buf_append_str(&res, a->subresource)))) ||
        (err = ag_buf_append_cstr(out, "resource ")) || (err = quote(out, ag_buf_str(&res))) ||
        (err = ag_buf_append_cstr(out, " in API group ")) || (err = quote(out, a->api_group)))
        goto out;
    if (a->namespace_.n)
        err =
            (err = ag_buf_append_cstr(out, " in the namespace ")) ? err : quote(out, a->namespace_);
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
        if (a->name.n && ((err = ag_buf_append(out, " ", 1)) || (err = quote(out, a->name))))
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

/* "User \"alice\"", "ServiceAccount \"name/ns\"" as upstream's describeSubject. */
static ag_err describe_subject(const ag_authz_decision_t *d, ag_buf_t *out)
{
    ag_err err = word(out, d->subject_kind);
    if (err)
        return err;
    if (!ag_str_eq_lit(d->subject_kind, "ServiceAccount"))
        return quote(out, d->subject_name);
    return quote_pair(out, d->subject_name, d->subject_namespace);
}

/* ", time-bound from A until B" (either side may be open); when <d> was judged outside
 * the window, also why: "(expired at B)" or "(not yet valid, starts at A)". */
static ag_err window_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    char a[AG_RFC3339_BUF], b[AG_RFC3339_BUF];
    ag_rfc3339_format_ms(d->not_before, a);
    ag_rfc3339_format_ms(d->expires_at, b);
    ag_err err = ag_buf_append_cstr(out, ", time-bound");
    if (!err && d->not_before != INT64_MIN)
        err = ag_buf_printf(out, " from %s", a);
    if (!err && d->expires_at != INT64_MAX)
        err = ag_buf_printf(out, " until %s", b);
    if (err || !d->outside_window)
        return err;
    return d->judged_at >= d->expires_at ? ag_buf_printf(out, " (expired at %s)", b)
                                         : ag_buf_printf(out, " (not yet valid, starts at %s)", a);
}

/* ClusterRoleBinding "x" of ClusterRole "y" to Group "z" */
static ag_err rbac_binding(const ag_authz_decision_t *d, ag_buf_t *out)
{
    ag_err err;
    if ((err = word(out, d->binding_kind)) ||
        (err = d->binding_namespace.n ? quote_pair(out, d->binding_name, d->binding_namespace)
                                      : quote(out, d->binding_name)) ||
        (err = ag_buf_append_cstr(out, " of ")) || (err = word(out, d->role_kind)) ||
        (err = quote(out, d->role_name)) || (err = ag_buf_append_cstr(out, " to ")) ||
        (err = describe_subject(d, out)))
        return err;
    return d->windowed ? window_reason(d, out) : 0;
}

/* RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"[, time-bound ...] */
static ag_err rbac_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    ag_err err = ag_buf_append_cstr(out, "RBAC: allowed by ");
    return err ? err : rbac_binding(d, out);
}

/* RBAC: outside the validity window of RoleBinding "x/ns" of ... to ..., time-bound until B
 * (expired at B)[; the first role-resolution error] */
static ag_err outside_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    ag_err err = ag_buf_append_cstr(out, "RBAC: outside the validity window of ");
    if (err || (err = rbac_binding(d, out)))
        return err;
    return d->error ? ag_buf_printf(out, "; %s", d->error) : 0;
}

ag_err ag_authz_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    if (d->source == AG_AUTHZ_BY_AZURE)
        return ag_azrbac_reason(d, out); /* azrbac.c words its own allows and denies */
    if (d->result == AG_AUTHZ_ALLOW && d->source == AG_AUTHZ_BY_SUPERUSER)
        return ag_buf_append_cstr(out, "allowed: user is in group \"system:masters\"");
    if (d->result == AG_AUTHZ_ALLOW && d->source == AG_AUTHZ_BY_RBAC)
        return rbac_reason(d, out);
    /* not allowed: upstream RBAC says nothing unless role resolution failed; a time-bound
     * binding that would have allowed outside its window is named (audit, --explain) */
    if (d->outside_window && d->source == AG_AUTHZ_BY_RBAC)
        return outside_reason(d, out);
    if (d->error)
        return ag_buf_printf(out, "%s%s", d->source == AG_AUTHZ_BY_RBAC ? "RBAC: " : "", d->error);
    return 0;
}
