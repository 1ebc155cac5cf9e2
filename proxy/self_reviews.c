/* SelfSubjectReview, SelfSubjectRulesReview, LocalSubjectAccessReview (self_reviews.h). */
#include "self_reviews.h"

#include "authz_chain.h"
#include "http1.h"
#include "policy.h"
#include "review_route.h"
#include "tokenreview.h"

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
    ag_policy_t *p = ag_policy_acquire();
    if (!p) {
        ag_review_fail(r, 503, "authorization policy is not loaded");
        return;
    }
    ag_rules_init(&rules, r->arena);
    if (ag_authz_chain_rules(&p->chain, ag_self_reviews_subject(r->identity), ns, &rules) ||
        ag_rules_write_review(r->response, ag_str_cstr(k->api_version), ns, &rules))
        ag_review_fail(r, 500, "cannot answer the review");
    else
        r->status = 201;
    ag_policy_unref(p);
}

ag_err ag_self_reviews_register(void)
{
    ag_err err;
    if ((err = ag_review_route("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               "authentication.k8s.io/v1", "SelfSubjectReview", on_whoami)) ||
        (err = ag_review_route("/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
                               "authentication.k8s.io/v1beta1", "SelfSubjectReview", on_whoami)) ||
        (err = ag_review_route("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                               "authorization.k8s.io/v1", "SelfSubjectRulesReview", on_rules)) ||
        (err = ag_review_route("/apis/authorization.k8s.io/v1beta1/selfsubjectrulesreviews",
                               "authorization.k8s.io/v1beta1", "SelfSubjectRulesReview",
                               on_rules)))
        return err;
    return 0;
}
