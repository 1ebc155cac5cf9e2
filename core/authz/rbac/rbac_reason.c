/* Reasons of Kubernetes RBAC decisions (rbac.h ag_rbac_reason), worded as the API server
 * words them, plus the validity window of a time-bound binding. */
#include <stdint.h>

#include "authz/authz.h"
#include "authz/rbac/rbac.h"
#include "base/rfc3339.h"

/* "<s> " (a kind word): plain appends, no printf, on the audit writer's path. */
static ag_err word(ag_buf_t *out, ag_str_t s)
{
    ag_err err = ag_buf_append_str(out, s);
    return err ? err : ag_buf_append(out, " ", 1);
}

/* "User \"alice\"", "ServiceAccount \"name/ns\"" as upstream's describeSubject. */
static ag_err describe_subject(const ag_authz_decision_t *d, ag_buf_t *out)
{
    ag_err err = word(out, d->subject_kind);
    if (err)
        return err;
    if (!ag_str_eq_lit(d->subject_kind, "ServiceAccount"))
        return ag_authz_quote(out, d->subject_name);
    return ag_authz_quote_pair(out, d->subject_name, d->subject_namespace);
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
        (err = d->binding_namespace.n
                   ? ag_authz_quote_pair(out, d->binding_name, d->binding_namespace)
                   : ag_authz_quote(out, d->binding_name)) ||
        (err = ag_buf_append_cstr(out, " of ")) || (err = word(out, d->role_kind)) ||
        (err = ag_authz_quote(out, d->role_name)) || (err = ag_buf_append_cstr(out, " to ")) ||
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

ag_err ag_rbac_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    if (d->result == AG_AUTHZ_ALLOW)
        return rbac_reason(d, out);
    /* not allowed: upstream RBAC says nothing unless role resolution failed; a time-bound
     * binding that would have allowed outside its window is named (audit, --explain) */
    if (d->outside_window)
        return outside_reason(d, out);
    return d->error ? ag_buf_printf(out, "RBAC: %s", d->error) : 0;
}
