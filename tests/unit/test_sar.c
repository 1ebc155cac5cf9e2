/* SubjectAccessReview wire format and semantics (reference §9, §2.5, §11.1). Bodies are
 * written with ' for " to keep them readable. */
#include <stdlib.h>

#include "authz/rbac/rbac.h"
#include "review/sar.h"
#include "testlib.h"

static char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static ag_rbac_t *bootstrap_policy(const char *extra_sq)
{
    ag_rbac_t *p = NULL;
    ag_rbac_opts_t o = AG_RBAC_OPTS_DEFAULT;
    char *j = dq(extra_sq ? extra_sq : "{'kind':'List','apiVersion':'v1','items':[]}");
    CHECK_EQ(ag_rbac_load_mem(ag_str_cstr(j), "t.json", &o, &p, NULL), 0);
    free(j);
    return p;
}

/* Runs one review; returns the status and leaves the body in <resp>. */
static int review(ag_rbac_t *p, const char *body_sq, ag_buf_t *resp)
{
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    char *b = dq(body_sq);
    int status = 0;
    ag_buf_clear(resp);
    CHECK_EQ(ag_sar_handle(ag_str_cstr(b), ag_sar_rbac_decide, p, &a, resp, &status), 0);
    free(b);
    ag_arena_dispose(&a);
    return status;
}

#define V1 "{'apiVersion':'authorization.k8s.io/v1','kind':'SubjectAccessReview','spec':"

/* §11.1 */
TEST(sar_adds_no_groups)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        review(p, V1 "{'user':'alice','nonResourceAttributes':{'path':'/api','verb':'get'}}}", &r),
        201);
    CHECK(strstr(r.p, "\"status\":{\"allowed\":false}") != NULL);
    CHECK_EQ(review(p,
                    V1 "{'user':'alice','groups':['system:authenticated'],'nonResourceAttributes':{"
                       "'path':'/api','verb':'get'}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"allowed\":true") != NULL);
    /* a service-account user gets no SA groups either */
    CHECK_EQ(review(p,
                    V1 "{'user':'system:serviceaccount:a:b','nonResourceAttributes':{'path':'/"
                       "openid/v1/jwks','verb':'get'}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"allowed\":false") != NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(sar_response_echoes_spec_and_fills_status)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    const char *body =
        V1 "{'user':'root','groups':['system:masters'],'uid':'7','extra':{'scopes':['a','b']},"
           "'resourceAttributes':{'namespace':'ns','verb':'delete','resource':'pods','name':'p'}}}";
    CHECK_EQ(review(p, body, &r), 201);
    char *want = dq(
        "{'kind':'SubjectAccessReview','apiVersion':'authorization.k8s.io/"
        "v1','metadata':{'creationTimestamp':null},"
        "'spec':{'user':'root','groups':['system:masters'],'uid':'7','extra':{'scopes':['a','b']},"
        "'resourceAttributes':{'namespace':'ns','verb':'delete','resource':'pods','name':'p'}},"
        "'status':{'allowed':true,'reason':'allowed: user is in group \\\"system:masters\\\"'}}");
    CHECK_STREQ(r.p, want);
    free(want);
    CHECK_EQ(review(p,
                    V1 "{'user':'alice','groups':['system:authenticated'],'nonResourceAttributes':{"
                       "'path':'/healthz','verb':'get'}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "RBAC: allowed by ClusterRoleBinding ") != NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(sar_v1beta1_reads_group_not_groups)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        review(p,
               "{'apiVersion':'authorization.k8s.io/v1beta1','kind':'SubjectAccessReview','spec':"
               "{'user':'a','group':['system:authenticated'],'nonResourceAttributes':{'path':'/"
               "api','verb':'get'}}}",
               &r),
        201);
    CHECK(strstr(r.p, "\"apiVersion\":\"authorization.k8s.io/v1beta1\"") != NULL);
    CHECK(strstr(r.p, "\"allowed\":true") != NULL);
    /* in v1 the key "group" is an unknown field: the user is in no groups */
    CHECK_EQ(review(p,
                    V1 "{'user':'a','group':['system:authenticated'],'nonResourceAttributes':{'"
                       "path':'/api','verb':'get'}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"allowed\":false") != NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(sar_invalid_reviews_are_422)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    const char *bad[] = {
        V1 "{'user':'a','resourceAttributes':{'verb':'get'},'nonResourceAttributes':{'path':'/"
           "','verb':'get'}}}",
        V1 "{'user':'a'}}",
        V1 "{'nonResourceAttributes':{'path':'/','verb':'get'}}}",
        "{'apiVersion':'authorization.k8s.io/"
        "v1','kind':'SubjectAccessReview','metadata':{'name':'x'},'spec':{'user':'a','"
        "nonResourceAttributes':{'path':'/','verb':'get'}}}",
        V1 "{'user':'a','resourceAttributes':{'verb':'list','resource':'pods','fieldSelector':{'"
           "rawSelector':'a=b','requirements':[{'key':'a','operator':'In','values':['b']}]}}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = review(p, bad[i], &r);
        if (st != 422 || !strstr(r.p, "\"reason\":\"Invalid\"") || !strstr(r.p, "\"code\":422")) {
            fprintf(stderr, "  row %zu: %d %s\n", i, st, r.p);
            CHECK(0);
        }
    }
    /* a group-only review is legal */
    CHECK_EQ(review(p,
                    V1 "{'groups':['system:authenticated'],'nonResourceAttributes':{'path':'/"
                       "api','verb':'get'}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"allowed\":true") != NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(sar_malformed_reviews_are_400)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    const char *bad[] = {
        "{",
        "[]",
        "{'apiVersion':'authorization.k8s.io/v2','kind':'SubjectAccessReview','spec':{}}",
        "{'apiVersion':'authorization.k8s.io/v1','kind':'TokenReview','spec':{}}",
        V1 "{'user':5,'nonResourceAttributes':{'path':'/','verb':'get'}}}",
        V1 "{'user':'a','groups':'g','nonResourceAttributes':{'path':'/','verb':'get'}}}",
        V1 "{'user':'a','nonResourceAttributes':{'path':'/','verb':'get'}}} trailing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = review(p, bad[i], &r);
        if (st != 400 || !strstr(r.p, "\"kind\":\"Status\"") ||
            !strstr(r.p, "\"reason\":\"BadRequest\"")) {
            fprintf(stderr, "  row %zu: %d %s\n", i, st, r.p);
            CHECK(0);
        }
    }
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

typedef struct {
    ag_attrs_t seen;
    ag_authz_result answer;
    int calls;
} probe_t;

static ag_authz_result probe_decide(void *ctx, const ag_identity_t *user, const ag_attrs_t *a,
                                    ag_authz_decision_t *d)
{
    probe_t *pr = ctx;
    (void)user;
    pr->seen = *a;
    pr->calls++;
    d->result = pr->answer;
    if (pr->answer == AG_AUTHZ_DENY) {
        d->source = AG_AUTHZ_BY_AZURE;
        d->data_action = AG_STR("Microsoft.ContainerService/managedClusters/pods/read");
    }
    return pr->answer;
}

TEST(sar_maps_attributes_and_explicit_denies)
{
    probe_t pr = {.answer = AG_AUTHZ_DENY};
    ag_arena_t a;
    ag_arena_init(&a, 0, 0);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    char *b = dq(V1 "{'user':'a','resourceAttributes':{'namespace':'ns','verb':'get','group':'apps'"
                    ",'resource':'deployments','subresource':'scale','name':'d'}}}");
    int st = 0;
    CHECK_EQ(ag_sar_handle(ag_str_cstr(b), probe_decide, &pr, &a, &r, &st), 0);
    CHECK_EQ(st, 201);
    CHECK_EQ(pr.calls, 1);
    CHECK(pr.seen.resource_request);
    CHECK_SLICE(pr.seen.api_version, "*"); /* an empty version means all versions */
    CHECK_SLICE(pr.seen.api_group, "apps");
    CHECK_SLICE(pr.seen.subresource, "scale");
    CHECK_SLICE(pr.seen.namespace_, "ns");
    CHECK(strstr(r.p, "\"status\":{\"allowed\":false,\"denied\":true,\"reason\":\"Azure RBAC: ") !=
          NULL);
    free(b);
    /* a parse error never calls the decide step */
    pr.calls = 0;
    ag_buf_clear(&r);
    CHECK_EQ(ag_sar_handle(AG_STR("{"), probe_decide, &pr, &a, &r, &st), 0);
    CHECK_EQ(pr.calls, 0);
    CHECK_EQ(st, 400);
    ag_buf_dispose(&r);
    ag_arena_dispose(&a);
}

TEST(sar_selector_problems_go_to_evaluation_error)
{
    ag_rbac_t *p = bootstrap_policy(NULL);
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    CHECK_EQ(review(p,
                    V1 "{'user':'a','groups':['system:masters'],'resourceAttributes':{'verb':'list'"
                       ",'resource':'pods',"
                       "'fieldSelector':{'rawSelector':'metadata.name'}}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"allowed\":true") != NULL);
    CHECK(
        strstr(
            r.p,
            "\"evaluationError\":\"spec.resourceAttributes.fieldSelector: invalid rawSelector\"") !=
        NULL);
    CHECK_EQ(review(p,
                    V1 "{'user':'a','groups':['system:masters'],'resourceAttributes':{'verb':'list'"
                       ",'resource':'pods',"
                       "'labelSelector':{'requirements':[{'key':'app','operator':'Equals','values':"
                       "['x']}]}}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"evaluationError\"") != NULL);
    CHECK_EQ(review(p,
                    V1 "{'user':'a','groups':['system:masters'],'resourceAttributes':{'verb':'list'"
                       ",'resource':'pods',"
                       "'fieldSelector':{'requirements':[{'key':'metadata.name','operator':'In','"
                       "values':['web']}]}}}}",
                    &r),
             201);
    CHECK(strstr(r.p, "\"evaluationError\"") == NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}

TEST(sar_denial_reason_carries_role_resolution_errors)
{
    ag_rbac_t *p = bootstrap_policy(
        "{'kind':'ClusterRoleBinding','apiVersion':'rbac.authorization.k8s.io/"
        "v1','metadata':{'name':'b'},"
        "'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'ClusterRole','name':'gone'},"
        "'subjects':[{'kind':'User','apiGroup':'rbac.authorization.k8s.io','name':'alice'}]}");
    ag_buf_t r = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        review(p, V1 "{'user':'alice','resourceAttributes':{'verb':'get','resource':'pods'}}}", &r),
        201);
    CHECK(strstr(r.p, "\"status\":{\"allowed\":false,\"reason\":\"RBAC: "
                      "clusterrole.rbac.authorization.k8s.io \\\"gone\\\" not found\"}") != NULL);
    ag_buf_dispose(&r);
    ag_rbac_unref(p);
}
