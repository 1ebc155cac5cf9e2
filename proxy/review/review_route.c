/* Content negotiation for the review routes (review_route.h). */
#include "review/review_route.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "http/status.h"
#include "review/kpb.h"
#include "review/sar.h"

struct review_route {
    ag_review_fn fn;
    const ag_kpb_kind_t *kind;
};

static ag_media_t media_of(ag_str_t type)
{
    if (ag_str_ieq(type, AG_STR(AG_KPB_MEDIA_TYPE)))
        return AG_MEDIA_PROTOBUF;
    if (ag_str_ieq(type, AG_STR("application/json")) || ag_str_ieq(type, AG_STR("*/*")) ||
        ag_str_ieq(type, AG_STR("application/*")))
        return AG_MEDIA_JSON;
    return AG_MEDIA_NONE;
}

/* q of one media range's parameters (1 when absent, 0 when unreadable). */
static int quality(ag_str_t params)
{
    ag_str_t p;
    while (params.p) {
        params = ag_str_split(params, ';', &p);
        p = ag_str_trim_ows(p);
        if (p.n >= 2 && (p.p[0] == 'q' || p.p[0] == 'Q') && p.p[1] == '=') {
            ag_str_t v = ag_str_sub(p, 2, p.n - 2);
            if (ag_str_eq_lit(v, "1") || ag_str_starts_with(v, AG_STR("1.")))
                return 1000;
            if (!ag_str_starts_with(v, AG_STR("0")))
                return 0;
            int q = 0, scale = 100;
            for (size_t i = 2; i < v.n && i < 5 && v.p[i] >= '0' && v.p[i] <= '9'; i++)
                q += (v.p[i] - '0') * scale, scale /= 10;
            return q;
        }
    }
    return 1000;
}

ag_media_t ag_review_accept(ag_str_t accept)
{
    ag_media_t best = AG_MEDIA_NONE;
    int best_q = 0;
    ag_str_t range, type;
    if (ag_str_trim_ows(accept).n == 0)
        return AG_MEDIA_JSON;
    while (accept.p) {
        accept = ag_str_split(accept, ',', &range);
        ag_str_t params = ag_str_split(range, ';', &type);
        ag_media_t m = media_of(ag_str_trim_ows(type));
        int q = m ? quality(params) : 0;
        if (q > best_q)
            best = m, best_q = q;
    }
    return best;
}

static void answer_status(ag_local_req_t *r, int code, const char *msg)
{
    ag_buf_clear(r->response);
    r->status = code;
    r->response_type = NULL;
    ag_status_write(r->response, code, ag_str_cstr(msg));
}

/* The request body as JSON: as sent, or transcoded from protobuf. Returns 0 or the status. */
static int request_json(ag_local_req_t *r, const ag_kpb_kind_t *k, ag_buf_t *json, const char **why)
{
    ag_str_t type;
    ag_str_split(r->content_type, ';', &type);
    type = ag_str_trim_ows(type);
    if (type.n == 0 || ag_str_ieq(type, AG_STR("application/json")))
        return 0;
    if (!ag_str_ieq(type, AG_STR(AG_KPB_MEDIA_TYPE))) {
        *why =
            "the body's Content-Type is not supported here (application/json or " AG_KPB_MEDIA_TYPE
            ")";
        return 415;
    }
    ag_err err = ag_kpb_to_json(r->body, k, json, why);
    if (err == AG_E_TOO_BIG)
        *why = "the request body is too large once decoded";
    if (err)
        return err == AG_E_PARSE || err == AG_E_TOO_BIG ? 400 : 500;
    r->body = ag_buf_str(json);
    return 0;
}

static ag_gate_result on_review(ag_local_req_t *r, void *ud)
{
    const struct review_route *rt = ud;
    ag_buf_t json = AG_BUF_INIT(8u << 20), pb = AG_BUF_INIT(r->response->max);
    const char *why = "internal error";
    ag_media_t want = ag_review_accept(r->accept);
    int code = want ? request_json(r, rt->kind, &json, &why) : 406;
    if (code) {
        answer_status(r, code,
                      code == 406 ? "none of the Accept media types is served here "
                                    "(application/json, " AG_KPB_MEDIA_TYPE ")"
                                  : why);
        goto out;
    }
    rt->fn(r, (void *)rt->kind);
    if (want == AG_MEDIA_PROTOBUF && r->status >= 200 && r->status < 300) {
        if (ag_kpb_from_json(ag_buf_str(r->response), rt->kind, r->arena, &pb) != 0) {
            answer_status(r, 500, "cannot encode the answer as protobuf");
            goto out;
        }
        ag_buf_clear(r->response);
        ag_buf_append_str(r->response, ag_buf_str(&pb));
        r->response_type = AG_KPB_MEDIA_TYPE;
    }
out:
    ag_buf_dispose(&json);
    ag_buf_dispose(&pb);
    return AG_GATE_ALLOW; /* answered */
}

ag_err ag_review_route(ag_routes_t *t, const char *path, const char *api_version, const char *kind,
                       ag_review_fn fn)
{
    const ag_kpb_kind_t *k = ag_kpb_find(ag_str_cstr(api_version), ag_str_cstr(kind));
    struct review_route *rr = ag_routes_alloc(t, sizeof *rr);
    if (!k)
        return AG_E_INVAL;
    if (!rr)
        return AG_E_NOMEM;
    *rr = (struct review_route){fn, k};
    return ag_routes_add(t, "POST", path, AG_SAR_MAX_BODY, on_review, rr, AG_ROUTE_TYPED);
}

int ag_review_body(ag_local_req_t *r, const ag_kpb_kind_t *k, ag_json_t *doc, const char **why)
{
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 1 << 16};
    ag_err err = ag_json_parse(doc, r->body, &lim, r->arena, NULL);
    ag_json_ref root = err ? AG_JSON_NONE : ag_json_root(doc);
    if (err || ag_json_typeof(doc, root) != AG_JSON_OBJECT)
        return *why = "malformed review: not a JSON object", 400;
    ag_json_ref kind = ag_json_get(doc, root, "kind"), av = ag_json_get(doc, root, "apiVersion");
    if ((kind != AG_JSON_NONE && !ag_json_str_eq(doc, kind, k->kind)) ||
        (av != AG_JSON_NONE && !ag_json_str_eq(doc, av, k->api_version)))
        return *why = "the object's kind or apiVersion is not the one this URL serves", 400;
    return ag_review_metadata(doc, root, why);
}

int ag_review_metadata(const ag_json_t *doc, ag_json_ref root, const char **why)
{
    /* as kube-apiserver's decoder: an ObjectMeta is an object, its namespace a string */
    ag_json_ref meta = ag_json_get(doc, root, "metadata");
    ag_json_ref ns = ag_json_get(doc, meta, "namespace");
    int mt = ag_json_typeof(doc, meta), nt = ag_json_typeof(doc, ns);
    if ((meta != AG_JSON_NONE && mt != AG_JSON_OBJECT && mt != AG_JSON_NULL) ||
        (ns != AG_JSON_NONE && nt != AG_JSON_STRING && nt != AG_JSON_NULL))
        return *why = "malformed review: metadata must be an object, metadata.namespace a string",
               400;
    return 0;
}

void ag_review_fail(ag_local_req_t *r, int code, const char *msg)
{
    answer_status(r, code, msg);
}
