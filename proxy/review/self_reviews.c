/* SelfSubjectReview, SelfSubjectRulesReview, LocalSubjectAccessReview (self_reviews.h). */
#include "review/self_reviews.h"

#include <string.h>

#include "authz/authz_chain.h"
#include "authz/policy.h"
#include "http/routes.h"
#include "review/review_route.h"
#include "review/sar.h"
#include "review/tokenreview.h"

static const ag_str_t anon_groups[] = {AG_STR("system:unauthenticated")};
static const ag_identity_t anonymous = {.username = AG_STR("system:anonymous"),
                                        .groups = anon_groups,
                                        .ngroups = 1,
                                        .flags = AG_ID_ANONYMOUS};

const ag_identity_t *ag_self_reviews_subject(const ag_identity_t *gate_identity)
{
    return gate_identity ? gate_identity : &anonymous;
}

/* kubectl auth whoami: the identity as the gate judged it, extra included. */
static void on_whoami(ag_local_req_t *r, void *ud)
{
    const ag_kpb_kind_t *k = ud;
    const char *why = NULL;
    ag_json_t doc;
    int code = ag_review_body(r, k, &doc, &why);
    if (code) {
        ag_review_fail(r, code, why);
        return;
    }
    if (ag_selfsubjectreview_write(r->response, ag_str_cstr(k->api_version),
                                   ag_self_reviews_subject(r->identity)) != 0) {
        ag_review_fail(r, 500, "cannot write the answer");
        return;
    }
    r->status = 201;
}

/* The namespace a SelfSubjectRulesReview asks about (kube-apiserver requires one). */
static int rules_namespace(ag_local_req_t *r, const ag_kpb_kind_t *k, ag_str_t *ns,
                           const char **why)
{
    ag_json_t doc;
    int code = ag_review_body(r, k, &doc, why);
    if (code)
        return code;
    ag_json_ref spec = ag_json_get(&doc, ag_json_root(&doc), "spec");
    ag_json_ref v = ag_json_get(&doc, spec, "namespace");
    *ns = AG_STR_NULL;
    if (v != AG_JSON_NONE && ag_json_str(&doc, v, r->arena, ns) != 0)
        return *why = "spec.namespace must be a string", 400;
    if (!ns->n)
        return *why = "no namespace on request", 400;
    return 0;
}

/* kubectl auth can-i --list: the rules of the effective identity in spec.namespace. */
static void on_rules(ag_local_req_t *r, void *ud)
{
    const ag_kpb_kind_t *k = ud;
    const char *why = NULL;
    ag_str_t ns;
    ag_rules_t rules;
    int code = rules_namespace(r, k, &ns, &why);
    if (code) {
        ag_review_fail(r, code, why);
        return;
    }
    const ag_policy_t *p = ag_policy_enter();
    if (!p) {
        ag_policy_leave();
        ag_review_fail(r, 503, "authorization policy is not loaded");
        return;
    }
    ag_rules_init(&rules, r->arena);
    if (ag_authz_chain_rules(&p->chain, ag_self_reviews_subject(r->identity), ns, &rules) ||
        ag_rules_write_review(r->response, ag_str_cstr(k->api_version), ns, &rules))
        ag_review_fail(r, 500, "cannot answer the review");
    else
        r->status = 201;
    ag_policy_leave();
}

/* ---- LocalSubjectAccessReview ------------------------------------------------------------ */

/* The NS of .../namespaces/NS/localsubjectaccessreviews (the route matched that shape). */
static ag_str_t path_namespace(ag_str_t path)
{
    ag_str_t seg = AG_STR(""), rest = path;
    for (int i = 0; i < 6 && rest.p; i++) /* "", apis, group, version, namespaces, NS */
        rest = ag_str_split(rest, '/', &seg);
    return seg;
}

/* Checks the review as kube-apiserver validates one (metadata.namespace empty or the URL's,
 * spec.resourceAttributes.namespace the URL's, no nonResourceAttributes) and writes the
 * SubjectAccessReview with the same spec into <sar>. Returns 0 or the status for *why. */
static int local_review_sar(ag_local_req_t *r, const ag_kpb_kind_t *k, ag_str_t ns, ag_buf_t *sar,
                            const char **why)
{
    ag_json_t doc;
    int code = ag_review_body(r, k, &doc, why);
    if (code)
        return code;
    ag_json_ref root = ag_json_root(&doc), spec = ag_json_get(&doc, root, "spec");
    ag_json_ref mns = ag_json_get(&doc, ag_json_get(&doc, root, "metadata"), "namespace");
    ag_json_ref ra = ag_json_get(&doc, spec, "resourceAttributes");
    if (ag_json_typeof(&doc, spec) != AG_JSON_OBJECT)
        return *why = "malformed LocalSubjectAccessReview: spec must be an object", 400;
    if (mns != AG_JSON_NONE && !ag_json_str_eq(&doc, mns, "") &&
        !ag_json_str_eq(&doc, mns, ag_arena_cstr(r->arena, ns)))
        return *why = "the namespace of the provided object does not match the namespace sent "
                      "on the request",
               400;
    if (ag_json_get(&doc, spec, "nonResourceAttributes") != AG_JSON_NONE)
        return *why = "spec.nonResourceAttributes: disallowed on this kind of request", 422;
    if (ra != AG_JSON_NONE &&
        !ag_json_str_eq(&doc, ag_json_get(&doc, ra, "namespace"), ag_arena_cstr(r->arena, ns)))
        return *why = "spec.resourceAttributes.namespace: must match metadata.namespace", 422;
    const char *version = k->api_version + sizeof "authorization.k8s.io/" - 1;
    if (ag_buf_printf(sar,
                      "{\"apiVersion\":\"authorization.k8s.io/%s\",\"kind\":"
                      "\"SubjectAccessReview\",\"spec\":",
                      version) ||
        ag_buf_append_str(sar, ag_json_raw(&doc, spec)) || ag_buf_append(sar, "}", 1))
        return *why = "internal error", 500;
    return 0;
}

/* The SubjectAccessReview answer <sar> (201) re-kinded as the LocalSubjectAccessReview. */
static ag_err local_answer(ag_buf_t *out, ag_str_t sar, ag_str_t ns)
{
    static const ag_str_t kind = AG_STR("{\"kind\":\"SubjectAccessReview\""),
                          meta = AG_STR("\"metadata\":{");
    size_t at = ag_str_find_char(sar, '}'); /* the first '}' closes metadata */
    ag_str_t head = ag_str_sub(sar, 0, at), rest = ag_str_sub(sar, at, sar.n - at);
    const char *m = head.n > kind.n ? memmem(head.p, head.n, meta.p, meta.n) : NULL;
    if (!ag_str_starts_with(sar, kind) || !m)
        return AG_E_INVAL;
    size_t mend = (size_t)(m - sar.p) + meta.n;
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"kind\":\"LocalSubjectAccessReview\"")) ||
        (err = ag_buf_append_str(out, ag_str_sub(sar, kind.n, mend - kind.n))) ||
        (err = ag_buf_append_cstr(out, "\"namespace\":")) || (err = ag_json_write_str(out, ns)) ||
        (err = ag_buf_append(out, ",", 1)) ||
        (err = ag_buf_append_str(out, ag_str_sub(sar, mend, at - mend))))
        return err;
    return ag_buf_append_str(out, rest);
}

/* POST .../namespaces/NS/localsubjectaccessreviews: the gate has authorized `create
 * localsubjectaccessreviews` in NS; the review is judged like a SubjectAccessReview. */
static void on_local(ag_local_req_t *r, void *ud)
{
    const ag_kpb_kind_t *k = ud;
    const char *why = NULL;
    ag_str_t ns = path_namespace(r->path);
    ag_buf_t sar = AG_BUF_INIT(2 * AG_SAR_MAX_BODY), ans = AG_BUF_INIT(4u << 20);
    const ag_policy_t *p = NULL;
    bool entered = false;
    int status = 0, code = local_review_sar(r, k, ns, &sar, &why);
    if (code) {
        ag_review_fail(r, code, why);
        goto out;
    }
    entered = true;
    if (!(p = ag_policy_enter())) {
        ag_review_fail(r, 503, "authorization policy is not loaded");
        goto out;
    }
    if (ag_sar_handle(ag_buf_str(&sar), ag_authz_chain_sar_decide, (void *)&p->chain, r->arena,
                      &ans, &status)) {
        ag_review_fail(r, 500, "cannot answer the review");
        goto out;
    }
    r->status = status;
    if (status == 201 && local_answer(r->response, ag_buf_str(&ans), ns))
        ag_review_fail(r, 500, "cannot answer the review");
    else if (status != 201)
        ag_buf_append_str(r->response, ag_buf_str(&ans)); /* 400/422 Status as is */
out:
    if (entered)
        ag_policy_leave();
    ag_buf_dispose(&sar);
    ag_buf_dispose(&ans);
}

ag_err ag_self_reviews_register(ag_routes_t *t)
{
    ag_err err;
    if ((err = ag_review_route(t, "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               "authentication.k8s.io/v1", "SelfSubjectReview", on_whoami)) ||
        (err = ag_review_route(t, "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
                               "authentication.k8s.io/v1beta1", "SelfSubjectReview", on_whoami)) ||
        (err = ag_review_route(t, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                               "authorization.k8s.io/v1", "SelfSubjectRulesReview", on_rules)) ||
        (err =
             ag_review_route(t, "/apis/authorization.k8s.io/v1beta1/selfsubjectrulesreviews",
                             "authorization.k8s.io/v1beta1", "SelfSubjectRulesReview", on_rules)) ||
        (err = ag_review_route(
             t, "/apis/authorization.k8s.io/v1/namespaces/*/localsubjectaccessreviews",
             "authorization.k8s.io/v1", "LocalSubjectAccessReview", on_local)) ||
        (err = ag_review_route(
             t, "/apis/authorization.k8s.io/v1beta1/namespaces/*/localsubjectaccessreviews",
             "authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", on_local)))
        return err;
    return 0;
}
