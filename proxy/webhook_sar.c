/* SubjectAccessReview webhook (webhook_sar.h): a local route whose handler holds the
 * policy snapshot for one ag_sar_handle call. */
#include "webhook_sar.h"

#include <string.h>

#include "authz_chain.h"
#include "http1.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "sar.h"
#include "status.h"

static ag_metric_id m_reviews[3]; /* allowed, denied, invalid */

static void on_review(ag_local_req_t *r, void *ud)
{
    (void)ud;
    ag_policy_t *p = ag_policy_acquire(r->worker);
    if (!p) { /* fail closed: nothing to judge by */
        r->status = 503;
        ag_status_write(r->response, 503, AG_STR("authorization policy is not loaded"));
        return;
    }
    ag_err err = ag_sar_handle(r->body, ag_authz_chain_sar_decide, &p->chain, r->arena,
                               r->response, &r->status);
    ag_policy_unref(p);
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

ag_err ag_webhook_sar_register(void)
{
    static const char *h = "SubjectAccessReview webhook answers by outcome.";
    ag_err err;
    m_reviews[0] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"allowed\"", h);
    m_reviews[1] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"not_allowed\"", h);
    m_reviews[2] = ag_metrics_counter("authgate_sar_reviews_total", "result=\"invalid\"", h);
    if ((err = ag_http1_route("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                              AG_SAR_MAX_BODY, on_review, NULL)) != 0 ||
        (err = ag_http1_route("POST", "/apis/authorization.k8s.io/v1beta1/subjectaccessreviews",
                              AG_SAR_MAX_BODY, on_review, NULL)) != 0)
        return err;
    return 0;
}
