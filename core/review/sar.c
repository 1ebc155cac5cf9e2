/* SubjectAccessReview (sar.h): the webhook authorizer's request and response, as
 * authorization.k8s.io v1 and v1beta1 define them (reference §9). Parses the body into
 * attributes and a user exactly as given (no groups added), validates it like the API
 * server (422), asks a decide callback, and writes the review back with status.allowed,
 * denied, reason and evaluationError. Never touches sockets and never decides itself. */
#include "review/sar.h"

#include "authz/authz_chain.h"
#include "authz/rbac/rbac.h"
#include "authz/reqinfo.h"
#include "base/json.h"
#include "http/status.h"

#define SAR_GROUP "authorization.k8s.io"

typedef struct {
    const ag_json_t *doc;
    ag_arena_t *arena;
    ag_buf_t *why;
    bool invalid; /* a validation failure (422) rather than a malformed body (400) */
} sar_ctx_t;

static ag_err bad(sar_ctx_t *c, bool invalid, const char *msg)
{
    if (c->why && !c->why->n)
        ag_buf_append_cstr(c->why, msg);
    c->invalid = invalid;
    return invalid ? AG_E_INVAL : AG_E_PARSE;
}

static bool absent(const sar_ctx_t *c, ag_json_ref v)
{
    ag_json_type t = ag_json_typeof(c->doc, v);
    return t == AG_JSON_ABSENT || t == AG_JSON_NULL;
}

/* Optional string member (null/absent = ""); a non-string is a decode error (400). */
static ag_err get_str(sar_ctx_t *c, ag_json_ref obj, const char *key, ag_str_t *out)
{
    ag_json_ref v = ag_json_get(c->doc, obj, key);
    *out = AG_STR("");
    if (absent(c, v))
        return 0;
    if (ag_json_typeof(c->doc, v) != AG_JSON_STRING)
        return bad(c, false, "malformed SubjectAccessReview: a string field holds another type");
    return ag_json_str(c->doc, v, c->arena, out);
}

static ag_err get_strs(sar_ctx_t *c, ag_json_ref v, const ag_str_t **out, int *n)
{
    *out = NULL, *n = 0;
    if (absent(c, v))
        return 0;
    if (ag_json_typeof(c->doc, v) != AG_JSON_ARRAY)
        return bad(c, false, "malformed SubjectAccessReview: expected a list of strings");
    int cnt = ag_json_count(c->doc, v), i = 0;
    ag_str_t *arr = ag_arena_alloc(c->arena, (size_t)(cnt + 1) * sizeof *arr);
    if (!arr)
        return AG_E_NOMEM;
    for (ag_json_ref e = ag_json_first(c->doc, v); e != AG_JSON_NONE; e = ag_json_next(c->doc, e)) {
        if (ag_json_typeof(c->doc, e) != AG_JSON_STRING)
            return bad(c, false, "malformed SubjectAccessReview: expected a list of strings");
        ag_err err = ag_json_str(c->doc, e, c->arena, &arr[i++]);
        if (err)
            return err;
    }
    *out = arr, *n = cnt;
    return 0;
}

static ag_err get_extra(sar_ctx_t *c, ag_json_ref v, ag_identity_t *u)
{
    if (absent(c, v))
        return 0;
    if (ag_json_typeof(c->doc, v) != AG_JSON_OBJECT)
        return bad(c, false, "malformed SubjectAccessReview: spec.extra must be an object");
    int n = ag_json_count(c->doc, v), i = 0;
    ag_extra_t *x = ag_arena_calloc(c->arena, (size_t)(n + 1) * sizeof *x);
    if (!x)
        return AG_E_NOMEM;
    for (ag_json_ref k = ag_json_first(c->doc, v); k != AG_JSON_NONE; k = ag_json_next(c->doc, k)) {
        ag_err err;
        if ((err = ag_json_str(c->doc, k, c->arena, &x[i].key)) ||
            (err = get_strs(c, ag_json_value(k), &x[i].values, &x[i].nvalues)))
            return err;
        i++;
    }
    u->extra = x, u->nextra = n;
    return 0;
}

/* A selector ({rawSelector} or {requirements}): RBAC ignores them, but parse problems
 * are reported in status.evaluationError, and giving both is invalid. */
static ag_err check_selector(sar_ctx_t *c, ag_json_ref sel, bool field, ag_sar_request_t *req)
{
    static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist", NULL};
    if (absent(c, sel))
        return 0;
    if (ag_json_typeof(c->doc, sel) != AG_JSON_OBJECT)
        return bad(c, false, "malformed SubjectAccessReview: a selector must be an object");
    ag_str_t raw;
    ag_err err = get_str(c, sel, "rawSelector", &raw);
    if (err)
        return err;
    ag_json_ref reqs = ag_json_get(c->doc, sel, "requirements");
    if (raw.n && !absent(c, reqs) && ag_json_count(c->doc, reqs) > 0)
        return bad(c, true,
                   field ? "spec.resourceAttributes.fieldSelector.rawSelector: Invalid value: may "
                           "not specified at the same time as requirements"
                         : "spec.resourceAttributes.labelSelector.rawSelector: Invalid value: may "
                           "not specified at the same time as requirements");
    if (raw.n) {
        ag_str_t name;
        bool has_name;
        bool ok = field ? ag_reqinfo_field_selector_name(raw, c->arena, &name, &has_name)
                        : ag_reqinfo_label_selector_valid(raw);
        if (!ok && !req->eval_error)
            req->eval_error = field ? "spec.resourceAttributes.fieldSelector: invalid rawSelector"
                                    : "spec.resourceAttributes.labelSelector: invalid rawSelector";
        return 0;
    }
    if (absent(c, reqs))
        return 0;
    if (ag_json_typeof(c->doc, reqs) != AG_JSON_ARRAY)
        return bad(c, false, "malformed SubjectAccessReview: requirements must be a list");
    for (ag_json_ref r = ag_json_first(c->doc, reqs); r != AG_JSON_NONE;
         r = ag_json_next(c->doc, r)) {
        ag_str_t op, key;
        const ag_str_t *vals;
        int nvals;
        if (ag_json_typeof(c->doc, r) != AG_JSON_OBJECT)
            return bad(c, false, "malformed SubjectAccessReview: a requirement must be an object");
        if ((err = get_str(c, r, "key", &key)) || (err = get_str(c, r, "operator", &op)) ||
            (err = get_strs(c, ag_json_get(c->doc, r, "values"), &vals, &nvals)))
            return err;
        bool known = false;
        for (int i = 0; ops[i]; i++)
            known = known || ag_str_eq_lit(op, ops[i]);
        if ((!known || !key.n) && !req->eval_error)
            req->eval_error = field ? "spec.resourceAttributes.fieldSelector: invalid requirement"
                                    : "spec.resourceAttributes.labelSelector: invalid requirement";
    }
    return 0;
}

static ag_err parse_resource(sar_ctx_t *c, ag_json_ref ra, ag_sar_request_t *req)
{
    ag_attrs_t *a = &req->attrs;
    ag_err err;
    if (ag_json_typeof(c->doc, ra) != AG_JSON_OBJECT)
        return bad(c, false,
                   "malformed SubjectAccessReview: spec.resourceAttributes must be an object");
    a->resource_request = true;
    if ((err = get_str(c, ra, "namespace", &a->namespace_)) ||
        (err = get_str(c, ra, "verb", &a->verb)) ||
        (err = get_str(c, ra, "group", &a->api_group)) ||
        (err = get_str(c, ra, "version", &a->api_version)) ||
        (err = get_str(c, ra, "resource", &a->resource)) ||
        (err = get_str(c, ra, "subresource", &a->subresource)) ||
        (err = get_str(c, ra, "name", &a->name)) ||
        (err = check_selector(c, ag_json_get(c->doc, ra, "fieldSelector"), true, req)) ||
        (err = check_selector(c, ag_json_get(c->doc, ra, "labelSelector"), false, req)))
        return err;
    if (!a->api_version.n)
        a->api_version = AG_STR("*"); /* upstream: an empty version means all versions */
    a->api_prefix = a->api_group.n ? AG_STR("apis") : AG_STR("api");
    return 0;
}

static ag_err parse_spec(sar_ctx_t *c, ag_json_ref spec, bool v1beta1, ag_sar_request_t *req)
{
    ag_identity_t *u = &req->user;
    ag_err err;
    if (ag_json_typeof(c->doc, spec) != AG_JSON_OBJECT)
        return bad(c, false, "malformed SubjectAccessReview: spec must be an object");
    req->spec_raw = ag_json_raw(c->doc, spec);
    /* v1beta1 names the list "group"; in v1 that key is an unknown field (ignored) */
    if ((err = get_str(c, spec, "user", &u->username)) ||
        (err = get_str(c, spec, "uid", &u->uid)) ||
        (err = get_strs(c, ag_json_get(c->doc, spec, v1beta1 ? "group" : "groups"), &u->groups,
                        &u->ngroups)) ||
        (err = get_extra(c, ag_json_get(c->doc, spec, "extra"), u)))
        return err;
    ag_json_ref ra = ag_json_get(c->doc, spec, "resourceAttributes");
    ag_json_ref na = ag_json_get(c->doc, spec, "nonResourceAttributes");
    bool has_ra = !absent(c, ra), has_na = !absent(c, na);
    if (has_ra && has_na)
        return bad(c, true,
                   "spec.nonResourceAttributes: Invalid value: \"null\": cannot be specified in "
                   "combination with resourceAttributes");
    if (!has_ra && !has_na)
        return bad(c, true,
                   "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                   "nonResourceAttributes or resourceAttributes must be specified");
    if (!u->username.n && !u->ngroups)
        return bad(
            c, true,
            "spec.user: Invalid value: \"\": at least one of user or group must be specified");
    if (has_ra)
        return parse_resource(c, ra, req);
    if (ag_json_typeof(c->doc, na) != AG_JSON_OBJECT)
        return bad(c, false,
                   "malformed SubjectAccessReview: spec.nonResourceAttributes must be an object");
    if ((err = get_str(c, na, "path", &req->attrs.path)) ||
        (err = get_str(c, na, "verb", &req->attrs.verb)))
        return err;
    return 0;
}

/* metadata must be empty: absent, null, {} or only "creationTimestamp": null. */
static bool metadata_empty(const sar_ctx_t *c, ag_json_ref md)
{
    if (absent(c, md))
        return true;
    if (ag_json_typeof(c->doc, md) != AG_JSON_OBJECT)
        return false;
    for (ag_json_ref k = ag_json_first(c->doc, md); k != AG_JSON_NONE;
         k = ag_json_next(c->doc, k)) {
        ag_json_type t = ag_json_typeof(c->doc, ag_json_value(k));
        bool empty = t == AG_JSON_NULL ||
                     ((t == AG_JSON_OBJECT || t == AG_JSON_ARRAY) &&
                      ag_json_count(c->doc, ag_json_value(k)) == 0) ||
                     (t == AG_JSON_STRING && ag_json_raw(c->doc, ag_json_value(k)).n == 0);
        if (!empty)
            return false;
    }
    return true;
}

ag_err ag_sar_parse(ag_str_t body, ag_arena_t *arena, ag_sar_request_t *req, ag_buf_t *why)
{
    ag_json_t doc;
    sar_ctx_t c = {&doc, arena, why, false};
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 1 << 16};
    *req = (ag_sar_request_t){0};
    if (body.n > AG_SAR_MAX_BODY)
        return bad(&c, false, "request body too large");
    ag_err err = ag_json_parse(&doc, body, &lim, arena, NULL);
    if (err)
        return err == AG_E_NOMEM ? err
                                 : bad(&c, false, "malformed SubjectAccessReview: not valid JSON");
    ag_json_ref root = ag_json_root(&doc);
    if (ag_json_typeof(&doc, root) != AG_JSON_OBJECT)
        return bad(&c, false, "malformed SubjectAccessReview: not a JSON object");
    ag_str_t kind;
    if ((err = get_str(&c, root, "apiVersion", &req->api_version)) ||
        (err = get_str(&c, root, "kind", &kind)))
        return err;
    bool v1 = ag_str_eq_lit(req->api_version, SAR_GROUP "/v1");
    bool v1beta1 = ag_str_eq_lit(req->api_version, SAR_GROUP "/v1beta1");
    if (!v1 && !v1beta1)
        return bad(&c, false,
                   "apiVersion must be authorization.k8s.io/v1 or authorization.k8s.io/v1beta1");
    if (!ag_str_eq_lit(kind, "SubjectAccessReview"))
        return bad(&c, false, "kind must be SubjectAccessReview");
    if (!metadata_empty(&c, ag_json_get(&doc, root, "metadata")))
        return bad(&c, true, "metadata: Invalid value: must be empty");
    return parse_spec(&c, ag_json_get(&doc, root, "spec"), v1beta1, req);
}

ag_err ag_sar_write_response(const ag_sar_request_t *req, const ag_authz_decision_t *d,
                             ag_buf_t *out)
{
    ag_buf_t reason = AG_BUF_INIT(64 * 1024);
    ag_err err;
    if ((err = ag_authz_reason(d, &reason)))
        goto out;
    /* field order as the Go types serialize: kind, apiVersion, metadata, spec, status */
    if ((err = ag_buf_printf(out, "{\"kind\":\"SubjectAccessReview\",\"apiVersion\":")) ||
        (err = ag_json_write_str(out, req->api_version)) ||
        (err = ag_buf_append_cstr(out, ",\"metadata\":{\"creationTimestamp\":null},\"spec\":")) ||
        (err = ag_buf_append_str(out, req->spec_raw.n ? req->spec_raw : AG_STR("{}"))) ||
        (err = ag_buf_printf(out, ",\"status\":{\"allowed\":%s",
                             d->result == AG_AUTHZ_ALLOW ? "true" : "false")))
        goto out;
    if (d->result == AG_AUTHZ_DENY && (err = ag_buf_append_cstr(out, ",\"denied\":true")))
        goto out;
    if (reason.n && ((err = ag_buf_append_cstr(out, ",\"reason\":")) ||
                     (err = ag_json_write_str(out, ag_buf_str(&reason)))))
        goto out;
    if (req->eval_error && ((err = ag_buf_append_cstr(out, ",\"evaluationError\":")) ||
                            (err = ag_json_write_str(out, ag_str_cstr(req->eval_error)))))
        goto out;
    err = ag_buf_append_cstr(out, "}}");
out:
    ag_buf_dispose(&reason);
    return err;
}

ag_err ag_sar_handle(ag_str_t body, ag_sar_decide_fn decide, void *ctx, ag_arena_t *arena,
                     ag_buf_t *response, int *http_status)
{
    ag_sar_request_t req;
    ag_buf_t why = AG_BUF_INIT(4096), msg = AG_BUF_INIT(8192);
    ag_err err = ag_sar_parse(body, arena, &req, &why);
    if (err == AG_E_PARSE || err == AG_E_INVAL) {
        bool invalid = err == AG_E_INVAL;
        static const ag_status_details_t details = {
            {NULL, 0}, AG_STR(SAR_GROUP), AG_STR("SubjectAccessReview")};
        *http_status = invalid ? 422 : 400;
        if (invalid)
            err = ag_buf_printf(&msg,
                                "SubjectAccessReview.authorization.k8s.io \"\" is invalid: %.*s",
                                AG_STR_FMT(ag_buf_str(&why)));
        else
            err = ag_buf_append_str(&msg, ag_buf_str(&why));
        if (!err)
            err = ag_status_write_details(response, *http_status, ag_buf_str(&msg),
                                          invalid ? &details : NULL);
        goto out;
    }
    if (err)
        goto out;
    ag_authz_decision_t d = {.rule_index = -1};
    d.result = decide(ctx, &req.user, &req.attrs, &d);
    if (d.result == AG_AUTHZ_DENY && d.source == AG_AUTHZ_BY_NONE && !d.error)
        d.error = "denied"; /* an explicit deny always says so */
    *http_status = 201;
    err = ag_sar_write_response(&req, &d, response);
out:
    ag_buf_dispose(&why);
    ag_buf_dispose(&msg);
    return err;
}

ag_authz_result ag_sar_rbac_decide(void *ctx, const ag_identity_t *user, const ag_attrs_t *a,
                                   ag_authz_decision_t *d)
{
    return ag_rbac_eval((const ag_rbac_t *)ctx, user, a, d);
}
