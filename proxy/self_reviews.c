/* SelfSubjectReview, SelfSubjectRulesReview, LocalSubjectAccessReview (self_reviews.h). */
#include "self_reviews.h"

#include "http1.h"
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

ag_err ag_self_reviews_register(void)
{
    ag_err err;
    if ((err = ag_review_route("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                               "authentication.k8s.io/v1", "SelfSubjectReview", on_whoami)) ||
        (err = ag_review_route("/apis/authentication.k8s.io/v1beta1/selfsubjectreviews",
                               "authentication.k8s.io/v1beta1", "SelfSubjectReview", on_whoami)))
        return err;
    return 0;
}
