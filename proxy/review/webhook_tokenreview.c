/* TokenReview webhook glue (webhook_tokenreview.h): parse, check the caller, verify,
 * answer. Answers as the API server does: 201 with the review, 400 Status for a bad
 * request, 403 for a caller not allowed; 503 when the identity cannot be completed now
 * (Graph down) so the caller retries instead of caching a denial. The reason a token
 * failed goes to the log and metrics; the caller reads only "invalid bearer token". */
#include "review/webhook_tokenreview.h"

#include "http/status.h"
#include "review/tokenreview.h"
#include "runtime/log.h"

struct ag_tokenreview_route {
    ag_authenticator_t *a;
    const ag_str_t *callers; /* borrowed */
    int ncallers;
    bool authz_decides; /* an authorization policy judged `create tokenreviews` */
};

typedef struct {
    ag_local_req_t *r;
    ag_tokenreview_req_t req;
    bool in_call, answered;
} review_t;

static void answer_status(ag_local_req_t *r, int code, const char *msg)
{
    ag_buf_clear(r->response);
    r->status = ag_status_write(r->response, code, ag_str_cstr(msg)) == 0 ? code : 500;
}

static void on_reviewed(void *arg, ag_authn_result res, const ag_identity_t *id,
                        const ag_str_t *audiences, int naudiences, int http_status)
{
    review_t *rv = arg;
    ag_local_req_t *r = rv->r;
    ag_tokenreview_status_t st = {.authenticated = res == AG_AUTHN_OK, .user = id};
    if (res == AG_AUTHN_OK && rv->req.naudiences) {
        st.audiences = audiences; /* the intersection actually satisfied (§8) */
        st.naudiences = naudiences;
    }
    if (res != AG_AUTHN_OK)
        st.error = AG_STR("invalid bearer token");
    ag_buf_clear(r->response);
    if (res != AG_AUTHN_OK && http_status >= 500)
        answer_status(r, http_status, "the identity cannot be resolved now, retry later");
    else if (ag_tokenreview_write(r->response, &rv->req, &st) != 0)
        answer_status(r, 500, "internal error");
    else
        r->status = 201; /* created, as the API server answers a TokenReview */
    rv->answered = true;
    if (!rv->in_call)
        ag_gate_done(r->gate, AG_GATE_ALLOW); /* the answer is in r */
}

static bool caller_allowed(const ag_tokenreview_route_t *rt, const ag_local_req_t *r)
{
    /* without an authorization section nothing decided `create tokenreviews`: an
     * unauthenticated caller (anonymous on) must not get a token oracle */
    if (rt->ncallers == 0)
        return rt->authz_decides || (r->identity && !(r->identity->flags & AG_ID_ANONYMOUS));
    for (int i = 0; r->identity && i < rt->ncallers; i++)
        if (ag_str_eq(rt->callers[i], r->identity->username))
            return true;
    return false;
}

/* ALLOW: answered in <r>; PENDING: on_reviewed answers through ag_gate_done. */
static ag_gate_result handle(ag_local_req_t *r, const ag_tokenreview_route_t *rt,
                             ag_tokenreview_version v)
{
    const char *why = NULL;
    review_t *rv = ag_arena_calloc(r->arena, sizeof *rv);
    if (!rv) {
        answer_status(r, 500, "internal error");
        return AG_GATE_ALLOW;
    }
    rv->r = r;
    if (!caller_allowed(rt, r)) {
        ag_warn("TokenReview refused: caller %.*s is not among tokenreview_callers",
                AG_STR_FMT(r->identity ? r->identity->username : AG_STR("(anonymous)")));
        answer_status(r, 403, "tokenreviews.authentication.k8s.io is forbidden for this caller");
        return AG_GATE_ALLOW;
    }
    if (ag_tokenreview_parse(r->body, r->arena, &rv->req, &why) != 0) {
        answer_status(r, 400, why ? why : "bad request");
        return AG_GATE_ALLOW;
    }
    if (rv->req.version != v) {
        answer_status(r, 400, "the API version in the data does not match the request path");
        return AG_GATE_ALLOW;
    }
    rv->in_call = true;
    ag_err err = ag_authn_review(rt->a, r->loop, r->worker, rv->req.token, rv->req.audiences,
                                 rv->req.naudiences, r->arena, on_reviewed, rv);
    rv->in_call = false;
    if (err)
        answer_status(r, 500, "internal error");
    return err || rv->answered ? AG_GATE_ALLOW : AG_GATE_PENDING;
}

ag_gate_result ag_webhook_tokenreview_v1(ag_local_req_t *r, void *ud)
{
    return handle(r, ud, AG_TOKENREVIEW_V1);
}

ag_gate_result ag_webhook_tokenreview_v1beta1(ag_local_req_t *r, void *ud)
{
    return handle(r, ud, AG_TOKENREVIEW_V1BETA1);
}

ag_err ag_webhook_tokenreview_register(ag_routes_t *t, ag_authenticator_t *a,
                                       const ag_str_t *callers, int ncallers, bool authorized,
                                       ag_tokenreview_route_t **out)
{
    ag_tokenreview_route_t *rt = ag_routes_alloc(t, sizeof *rt);
    ag_err err;
    if (!rt)
        return AG_E_NOMEM;
    *rt = (ag_tokenreview_route_t){a, callers, ncallers, authorized};
    if (out)
        *out = rt;
    if ((err = ag_routes_add(t, "POST", AG_TOKENREVIEW_PATH_V1, AG_TOKENREVIEW_MAX_BODY,
                             ag_webhook_tokenreview_v1, rt, AG_ROUTE_WEBHOOK)) != 0)
        return err;
    return ag_routes_add(t, "POST", AG_TOKENREVIEW_PATH_V1BETA1, AG_TOKENREVIEW_MAX_BODY,
                         ag_webhook_tokenreview_v1beta1, rt, AG_ROUTE_WEBHOOK);
}
