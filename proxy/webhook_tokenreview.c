/* TokenReview webhook glue (webhook_tokenreview.h): parse, check the caller, verify,
 * answer. Answers as the API server does: 201 with the review, 400 Status for a bad
 * request, 403 for a caller that may not ask; 503 when the identity cannot be completed
 * now (Graph down) so the caller retries instead of caching a denial. The reason a token
 * failed goes to the log and metrics; the caller reads only "invalid bearer token". */
#include "webhook_tokenreview.h"

#include "log.h"
#include "status.h"
#include "tokenreview.h"

typedef struct {
    ag_authenticator_t *a;
    const ag_str_t *callers;
    int ncallers;
} route_t;

static route_t route;

typedef struct {
    ag_localroute_req_t *r;
    ag_tokenreview_req_t req;
} review_t;

static void answer_status(ag_localroute_req_t *r, int code, const char *msg)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    if (ag_status_write(&out, code, ag_str_cstr(msg)) != 0)
        code = 500;
    ag_localroute_respond(r, code, "application/json", ag_buf_str(&out));
    ag_buf_dispose(&out);
}

static void on_reviewed(void *arg, ag_authn_result res, const ag_identity_t *id,
                        const ag_str_t *audiences, int naudiences, int http_status)
{
    review_t *rv = arg;
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    if (res != AG_AUTHN_OK && http_status >= 500) {
        answer_status(rv->r, http_status, "the identity cannot be resolved now, retry later");
        return;
    }
    ag_tokenreview_status_t st = {.authenticated = res == AG_AUTHN_OK, .user = id};
    if (res == AG_AUTHN_OK && rv->req.naudiences) {
        st.audiences = audiences; /* the intersection actually satisfied (§8) */
        st.naudiences = naudiences;
    }
    if (res != AG_AUTHN_OK)
        st.error = AG_STR("invalid bearer token");
    if (ag_tokenreview_write(&out, &rv->req, &st) != 0)
        answer_status(rv->r, 500, "internal error");
    else
        ag_localroute_respond(rv->r, 201, "application/json", ag_buf_str(&out));
    ag_buf_dispose(&out);
}

static bool caller_allowed(const route_t *rt, const ag_localroute_req_t *r)
{
    if (rt->ncallers == 0)
        return true;
    if (!r->peer || !r->peer->verified)
        return false;
    for (int i = 0; i < rt->ncallers; i++)
        if (ag_str_eq(rt->callers[i], ag_str_cstr(r->peer->cn)))
            return true;
    return false;
}

void ag_webhook_tokenreview(ag_localroute_req_t *r, void *ud)
{
    route_t *rt = ud;
    const char *why = NULL;
    review_t *rv = ag_arena_calloc(r->arena, sizeof *rv);
    if (!rv) {
        answer_status(r, 500, "internal error");
        return;
    }
    rv->r = r;
    if (!caller_allowed(rt, r)) {
        ag_warn("TokenReview refused: caller %s is not an allowed client certificate",
                r->peer && r->peer->verified ? r->peer->cn : "(none)");
        answer_status(r, 403, "tokenreviews.authentication.k8s.io is forbidden for this caller");
        return;
    }
    if (ag_tokenreview_parse(r->body, r->arena, &rv->req, &why) != 0) {
        answer_status(r, 400, why ? why : "bad request");
        return;
    }
    ag_tokenreview_version v = ag_str_eq_lit(r->req->path, AG_TOKENREVIEW_PATH_V1BETA1)
                                   ? AG_TOKENREVIEW_V1BETA1
                                   : AG_TOKENREVIEW_V1;
    if (rv->req.version != v) {
        answer_status(r, 400, "the API version in the data does not match the request path");
        return;
    }
    if (ag_authn_review(rt->a, r->loop, r->worker, rv->req.token, rv->req.audiences,
                        rv->req.naudiences, r->arena, on_reviewed, rv) != 0)
        answer_status(r, 500, "internal error");
}

ag_err ag_webhook_tokenreview_register(ag_authenticator_t *a, const ag_str_t *callers,
                                       int ncallers)
{
    ag_err err;
    route = (route_t){a, callers, ncallers};
    if (ag_localroute_find(AG_STR("POST"), AG_STR(AG_TOKENREVIEW_PATH_V1)))
        return 0; /* registered before: the routes read the updated <route> */
    if ((err = ag_localroute_add("POST", AG_TOKENREVIEW_PATH_V1, AG_TOKENREVIEW_MAX_BODY,
                                 ag_webhook_tokenreview, &route)) != 0)
        return err;
    return ag_localroute_add("POST", AG_TOKENREVIEW_PATH_V1BETA1, AG_TOKENREVIEW_MAX_BODY,
                             ag_webhook_tokenreview, &route);
}
