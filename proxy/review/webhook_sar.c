/* SubjectAccessReview webhook (webhook_sar.h): a local route whose handler holds the
 * policy snapshot for one ag_sar_handle call. */
#include "review/webhook_sar.h"

#include <string.h>

#include "authz/authz_chain.h"
#include "authz/policy.h"
#include "base/json.h"
#include "http/status.h"
#include "review/review_route.h"
#include "review/sar.h"
#include "review/self_reviews.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

static ag_metric_id m_reviews[3]; /* allowed, denied, invalid */

static void review(ag_local_req_t *r)
{
    const ag_policy_t *p = ag_policy_enter();
    if (!p) { /* fail closed: nothing to judge by */
        ag_policy_leave();
        r->status = 503;
        ag_status_write(r->response, 503, AG_STR("authorization policy is not loaded"));
        return;
    }
    ag_err err = ag_sar_handle(r->body, ag_authz_chain_sar_decide, (void *)&p->chain, r->arena,
                               r->response, &r->status);
    ag_policy_leave();
    if (err) {
        ag_warn("SubjectAccessReview: cannot answer: %s (worker %d)", ag_err_str(err), r->worker);
        ag_buf_clear(r->response);
        r->status = 500;
        ag_status_write(r->response, 500, AG_STR("cannot answer the review"));
        return;
    }
    bool allowed = r->status == 201 && r->response->p &&
                   strstr(r->response->p, "\"status\":{\"allowed\":true") != NULL;
    ag_metrics_inc(m_reviews[r->status != 201 ? 2 : allowed ? 0 : 1]);
}

/* The route: answered synchronously. */
static ag_gate_result on_review(ag_local_req_t *r, void *ud)
{
    (void)ud;
    review(r);
    return AG_GATE_ALLOW;
}

/* ---- SelfSubjectAccessReview (kubectl auth can-i) --------------------------------------- */

/* The members a SelfSubjectAccessReviewSpec has, as sent, into *out (arena): the rest
 * (a SubjectAccessReview's user, groups, extra, uid, or anything else) is dropped as
 * kube-apiserver drops unknown fields, neither judged nor echoed. */
static ag_err self_spec(const ag_json_t *doc, ag_json_ref sp, ag_arena_t *arena, ag_str_t *out)
{
    static const char *const keep[] = {"resourceAttributes", "nonResourceAttributes"};
    ag_buf_t b = AG_BUF_INIT(2 * AG_SAR_MAX_BODY);
    ag_err err = ag_buf_append(&b, "{", 1);
    for (int i = 0; !err && i < 2; i++) {
        ag_json_ref v = ag_json_get(doc, sp, keep[i]);
        if (v != AG_JSON_NONE && !(b.n > 1 && (err = ag_buf_append(&b, ",", 1))) &&
            !(err = ag_buf_printf(&b, "\"%s\":", keep[i])))
            err = ag_buf_append_str(&b, ag_json_raw(doc, v));
    }
    char *p = err || ag_buf_append(&b, "}", 1) ? NULL : ag_arena_cstr(arena, ag_buf_str(&b));
    if (p)
        *out = ag_str_make(p, b.n);
    ag_buf_dispose(&b);
    return err ? err : p ? 0 : AG_E_NOMEM;
}

/* The review's spec is a SubjectAccessReview spec without the user: it is checked by the
 * same parser after a placeholder user is put in, then judged for the caller's identity.
 * Fills *spec with the spec's SelfSubjectAccessReviewSpec members (self_spec). */
static ag_err self_review_body(ag_str_t body, const ag_kpb_kind_t *rk, ag_arena_t *arena,
                               ag_buf_t *sar, ag_str_t *spec, const char **why)
{
    ag_json_t doc;
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 1 << 16};
    ag_str_t kind = AG_STR_NULL, version = AG_STR_NULL;
    ag_err err = ag_json_parse(&doc, body, &lim, arena, NULL);
    ag_json_ref root = err ? AG_JSON_NONE : ag_json_root(&doc);
    if (err || ag_json_typeof(&doc, root) != AG_JSON_OBJECT)
        return *why = "malformed SelfSubjectAccessReview: not a JSON object", AG_E_PARSE;
    ag_json_ref k = ag_json_get(&doc, root, "kind"), v = ag_json_get(&doc, root, "apiVersion"),
                sp = ag_json_get(&doc, root, "spec");
    /* absent kind and apiVersion are the URL's, as kube-apiserver defaults them */
    kind = ag_str_cstr(rk->kind);
    version = ag_str_cstr(rk->api_version);
    if (k != AG_JSON_NONE)
        ag_json_str(&doc, k, arena, &kind);
    if (v != AG_JSON_NONE)
        ag_json_str(&doc, v, arena, &version);
    if (!ag_str_eq_lit(kind, "SelfSubjectAccessReview"))
        return *why = "kind must be SelfSubjectAccessReview", AG_E_PARSE;
    if (!ag_str_eq_lit(version, rk->api_version))
        return *why = "the object's apiVersion is not the one this URL serves", AG_E_PARSE;
    if (ag_json_typeof(&doc, sp) != AG_JSON_OBJECT)
        return *why = "malformed SelfSubjectAccessReview: spec must be an object", AG_E_PARSE;
    if (ag_review_metadata(&doc, root, why))
        return AG_E_PARSE;
    if ((err = self_spec(&doc, sp, arena, spec)) != 0)
        return err;
    ag_str_t inner = ag_str_sub(*spec, 1, spec->n - 2); /* between the braces */
    bool empty = inner.n == 0;
    if ((err = ag_buf_append_cstr(sar, "{\"apiVersion\":")) ||
        (err = ag_json_write_str(sar, version)) ||
        (err = ag_buf_append_cstr(sar, ",\"kind\":\"SubjectAccessReview\",\"spec\":"
                                       "{\"user\":\"-\"")) ||
        (!empty && ((err = ag_buf_append(sar, ",", 1)) || (err = ag_buf_append_str(sar, inner)))) ||
        (err = ag_buf_append_cstr(sar, "}}")))
        return err;
    return 0;
}

static void on_self_review(ag_local_req_t *r, void *ud)
{
    const ag_kpb_kind_t *rk = ud;
    static const ag_str_t sar_kind = AG_STR("{\"kind\":\"SubjectAccessReview\"");
    ag_buf_t sar = AG_BUF_INIT(2 * AG_SAR_MAX_BODY), why = AG_BUF_INIT(4096),
             out = AG_BUF_INIT(4u << 20);
    ag_sar_request_t req;
    ag_str_t spec = AG_STR_NULL;
    const char *bad = NULL;
    const ag_policy_t *p = NULL;
    bool entered = false;
    ag_err err = self_review_body(r->body, rk, r->arena, &sar, &spec, &bad);
    if (!err && (err = ag_sar_parse(ag_buf_str(&sar), r->arena, &req, &why)) == 0) {
        ag_authz_decision_t d = {.rule_index = -1};
        req.user = *ag_self_reviews_subject(r->identity); /* the caller, as authenticated */
        req.spec_raw = spec;
        entered = true;
        if (!(p = ag_policy_enter())) {
            r->status = 503;
            ag_status_write(r->response, 503, AG_STR("authorization policy is not loaded"));
            goto out;
        }
        d.result = ag_authz_chain_eval(&p->chain, &req.user, &req.attrs, &d);
        if ((err = ag_sar_write_response(&req, &d, &out)) == 0 && out.n > sar_kind.n) {
            r->status = 201; /* same document, this kind */
            ag_buf_append_cstr(r->response, "{\"kind\":\"SelfSubjectAccessReview\"");
            ag_buf_append_str(r->response, ag_str_sub(ag_buf_str(&out), sar_kind.n, out.n));
            goto out;
        }
    }
    if (err == AG_E_PARSE || err == AG_E_INVAL || err == AG_E_DUPLICATE) {
        r->status = err == AG_E_INVAL ? 422 : 400;
        ag_status_write(r->response, r->status, bad ? ag_str_cstr(bad) : ag_buf_str(&why));
    }
out:
    if (entered)
        ag_policy_leave();
    ag_buf_dispose(&sar);
    ag_buf_dispose(&why);
    ag_buf_dispose(&out);
}

ag_err ag_webhook_sar_register(ag_routes_t *t)
{
    static const char *h = "SubjectAccessReview webhook answers by outcome.";
    ag_err err;
    m_reviews[0] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"allowed\"", h);
    m_reviews[1] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"not_allowed\"", h);
    m_reviews[2] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"invalid\"", h);
    if ((err = ag_routes_add(t, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             AG_SAR_MAX_BODY, on_review, NULL, AG_ROUTE_WEBHOOK)) != 0 ||
        (err = ag_routes_add(t, "POST", "/apis/authorization.k8s.io/v1beta1/subjectaccessreviews",
                             AG_SAR_MAX_BODY, on_review, NULL, AG_ROUTE_WEBHOOK)) != 0 ||
        (err = ag_review_route(t, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                               "authorization.k8s.io/v1", "SelfSubjectAccessReview",
                               on_self_review)) != 0 ||
        (err = ag_review_route(t, "/apis/authorization.k8s.io/v1beta1/selfsubjectaccessreviews",
                               "authorization.k8s.io/v1beta1", "SelfSubjectAccessReview",
                               on_self_review)) != 0)
        return err;
    return ag_self_reviews_register(t);
}
