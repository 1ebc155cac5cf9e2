/* The contract between request-attribute derivation (reqinfo.c), the authorizers
 * (rbac.c for Kubernetes RBAC, azrbac.c for Azure RBAC) and their callers (the proxy
 * path, the SubjectAccessReview webhook, `authgate check`). Pure data; no I/O.
 *
 * Attributes mirror the API server's authorizer.Attributes. Slices borrow from the
 * request (or the SAR body) and live as long as it does. A decision carries its reason
 * as structured references into the policy snapshot (lifetime: snapshot), formatted
 * only when someone reads it (403 body, audit, --explain), so an allow on the hot path
 * builds no strings. */
#ifndef AG_AUTHZ_H
#define AG_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "authn/identity.h"
#include "base/buf.h"
#include "base/str.h"

typedef struct {
    bool resource_request;
    ag_str_t verb;       /* get, list, watch, create, update, patch, delete,
                            deletecollection; or the lower-case HTTP method for
                            non-resource requests; impersonate, bind, escalate, use */
    ag_str_t api_prefix; /* "api" or "apis" */
    ag_str_t api_group;  /* "" for the core group */
    ag_str_t api_version;
    ag_str_t namespace_;
    ag_str_t resource;
    ag_str_t subresource;
    ag_str_t name;
    ag_str_t path;                /* the URL path (non-resource requests are judged by it) */
    ag_str_t field_selector_name; /* metadata.name=<x> of a list/watch, if any */
} ag_attrs_t;

/* Bytes for an Azure data action plus a namespace scope (a Kubernetes group is at most
 * 253 bytes, a resource 63, a namespace 63, a cluster id a few hundred); longer fails
 * closed. */
#define AG_AUTHZ_AZURE_BUF 1536

typedef enum {
    AG_AUTHZ_NO_OPINION = 0, /* nothing granted it (RBAC never denies) */
    AG_AUTHZ_ALLOW,
    AG_AUTHZ_DENY, /* explicit deny (Azure deny assignment, or fail-closed error) */
} ag_authz_result;

typedef enum {
    AG_AUTHZ_BY_NONE = 0,
    AG_AUTHZ_BY_SUPERUSER, /* system:masters */
    AG_AUTHZ_BY_RBAC,
    AG_AUTHZ_BY_AZURE,
} ag_authz_source;

/* Why. Every field optional; all borrowed from the policy snapshot. */
typedef struct {
    ag_authz_result result;
    ag_authz_source source;
    /* Kubernetes RBAC: the binding and role that allowed, and the rule's index */
    ag_str_t binding_kind, binding_namespace, binding_name;
    ag_str_t role_kind, role_name;
    int rule_index;
    /* the binding's subject that matched the user (kind User/Group/ServiceAccount) */
    ag_str_t subject_kind, subject_namespace, subject_name;
    /* A time-bound binding (rbac.h): its window (ms since the epoch; INT64_MIN/INT64_MAX
     * for an open side) and the time it was judged at. outside_window: NO_OPINION, and the
     * binding named above would have allowed inside its window. */
    bool windowed, outside_window;
    int64_t not_before, expires_at, judged_at;
    /* Azure RBAC: assignment id, role definition name, scope, and the data action */
    ag_str_t assignment_id, azure_role, azure_scope;
    ag_str_t data_action; /* the data action checked (also set on a deny) */
    /* Storage for Azure strings computed per request (the data action, a namespace
     * scope), which live neither in the snapshot nor in the request: data_action and
     * azure_scope may point into it, so after an Azure evaluation pass the decision by
     * pointer, do not copy it by value. */
    char azure_buf[AG_AUTHZ_AZURE_BUF];
    const char *error; /* static text when evaluation failed (fail closed) */
} ag_authz_decision_t;

/* Starts a fresh decision in <d>: every field before azure_buf cleared (azure_buf is
 * storage only; clearing its 1.5 KiB would cost more than the rest), rule_index -1, and
 * <result> and <source> set. Used by every evaluator before it decides. */
void ag_authz_decision_reset(ag_authz_decision_t *d, ag_authz_result result,
                             ag_authz_source source);
/* The API server's denial message for <user> and <attrs>, e.g.
 *   User "alice" cannot list resource "pods" in API group "" in the namespace "default"
 * appended to <out> (written by rbac.c). */
ag_err ag_authz_deny_message(const ag_identity_t *user, const ag_attrs_t *attrs, ag_buf_t *out);
/* The full Forbidden Status message, as kube-apiserver words it:
 *   pods "web" is forbidden: User "alice" cannot get resource "pods" ...[: <reason>]
 * (<reason> may be empty; '&', '<', '>' are HTML-escaped as upstream does). */
ag_err ag_authz_forbidden_message(const ag_identity_t *user, const ag_attrs_t *attrs,
                                  ag_str_t reason, ag_buf_t *out);
/* Appends <s> as Go's %q does for the ASCII range (the API server's messages quote names
 * so): quotes, escapes '"' and '\\', writes control bytes and bytes >= 0x7f that are not
 * valid UTF-8 as \\xNN (valid UTF-8 passes through). */
ag_err ag_authz_quote(ag_buf_t *out, ag_str_t s);
/* ag_authz_quote of "<a>/<b>" (a namespaced name) without building it. */
ag_err ag_authz_quote_pair(ag_buf_t *out, ag_str_t a, ag_str_t b);

#endif
