/* TokenReview request parsing and response writing (tokenreview.h). Tolerant of the
 * fields a TokenReview may carry that authgate does not read (metadata, status, unknown
 * members, as the API server's decoder is), strict about the ones it does. */
#include "review/tokenreview.h"

#include "base/json.h"

static const char *const api_versions[] = {"authentication.k8s.io/v1",
                                           "authentication.k8s.io/v1beta1"};

int ag_tokenreview_version_parse(ag_str_t api_version)
{
    for (int i = 0; i < 2; i++)
        if (ag_str_eq_lit(api_version, api_versions[i]))
            return i;
    return -1;
}

const char *ag_tokenreview_api_version(ag_tokenreview_version v)
{
    return api_versions[v == AG_TOKENREVIEW_V1BETA1 ? 1 : 0];
}

static ag_err parse_audiences(const ag_json_t *doc, ag_json_ref arr, ag_arena_t *arena,
                              ag_tokenreview_req_t *out, const char **why)
{
    ag_json_type t = ag_json_typeof(doc, arr);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_ARRAY) {
        *why = "spec.audiences must be an array of strings";
        return AG_E_PARSE;
    }
    int n = ag_json_count(doc, arr);
    if (n > AG_TOKENREVIEW_MAX_AUDIENCES) {
        *why = "too many spec.audiences";
        return AG_E_TOO_BIG;
    }
    ag_str_t *auds = ag_arena_alloc(arena, sizeof *auds * (size_t)(n ? n : 1));
    if (!auds)
        return AG_E_NOMEM;
    int i = 0;
    for (ag_json_ref el = ag_json_first(doc, arr); el != AG_JSON_NONE; el = ag_json_next(doc, el)) {
        if (ag_json_str(doc, el, arena, &auds[i]) != 0) {
            *why = "spec.audiences must be an array of strings";
            return AG_E_PARSE;
        }
        i++;
    }
    out->audiences = auds;
    out->naudiences = i;
    return 0;
}

ag_err ag_tokenreview_parse(ag_str_t body, ag_arena_t *arena, ag_tokenreview_req_t *out,
                            const char **why)
{
    ag_json_t doc;
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 4096};
    ag_str_t s;
    ag_err err;

    *out = (ag_tokenreview_req_t){0};
    *why = "request body is not a valid TokenReview";
    if (body.n > AG_TOKENREVIEW_MAX_BODY) {
        *why = "request body too large";
        return AG_E_TOO_BIG;
    }
    if ((err = ag_json_parse(&doc, body, &lim, arena, NULL)) != 0)
        return err == AG_E_NOMEM ? err : AG_E_PARSE;
    ag_json_ref root = ag_json_root(&doc);
    if (ag_json_typeof(&doc, root) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    ag_json_ref kind = ag_json_get(&doc, root, "kind");
    ag_json_ref apiv = ag_json_get(&doc, root, "apiVersion");
    if (!ag_json_str_eq(&doc, kind, "TokenReview") || ag_json_str(&doc, apiv, arena, &s) != 0 ||
        ag_tokenreview_version_parse(s) < 0) {
        *why = "expected kind TokenReview with apiVersion authentication.k8s.io/v1 or v1beta1";
        return AG_E_PARSE;
    }
    out->version = (ag_tokenreview_version)ag_tokenreview_version_parse(s);
    ag_json_ref spec = ag_json_get(&doc, root, "spec");
    ag_json_type st = ag_json_typeof(&doc, spec);
    if (st != AG_JSON_OBJECT && st != AG_JSON_ABSENT && st != AG_JSON_NULL) {
        *why = "spec must be an object";
        return AG_E_PARSE;
    }
    ag_json_ref tok = st == AG_JSON_OBJECT ? ag_json_get(&doc, spec, "token") : AG_JSON_NONE;
    ag_json_type tt = ag_json_typeof(&doc, tok);
    if (tt != AG_JSON_ABSENT && tt != AG_JSON_NULL && tt != AG_JSON_STRING) {
        *why = "spec.token must be a string";
        return AG_E_PARSE;
    }
    if (tt != AG_JSON_STRING || (err = ag_json_str(&doc, tok, arena, &out->token)) != 0 ||
        out->token.n == 0) {
        *why = "token is required"; /* the API server's own words (§8) */
        return err == AG_E_NOMEM ? err : AG_E_PARSE;
    }
    if (st == AG_JSON_OBJECT &&
        (err = parse_audiences(&doc, ag_json_get(&doc, spec, "audiences"), arena, out, why)) != 0)
        return err;
    return 0;
}

/* ---- response ------------------------------------------------------------------------ */

ag_err ag_user_info_write(ag_buf_t *out, const ag_identity_t *u)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"username\":")) ||
        (err = ag_json_write_str(out, u->username)))
        return err;
    if (u->uid.n &&
        ((err = ag_buf_append_cstr(out, ",\"uid\":")) || (err = ag_json_write_str(out, u->uid))))
        return err;
    if (u->ngroups && ((err = ag_buf_append_cstr(out, ",\"groups\":")) ||
                       (err = ag_json_write_strs(out, u->groups, u->ngroups))))
        return err;
    if (u->nextra) {
        if ((err = ag_buf_append_cstr(out, ",\"extra\":{")))
            return err;
        for (int i = 0; i < u->nextra; i++) {
            const ag_extra_t *e = &u->extra[i];
            if ((i && (err = ag_buf_append_cstr(out, ","))) ||
                (err = ag_json_write_str(out, e->key)) || (err = ag_buf_append_cstr(out, ":")) ||
                (err = ag_json_write_strs(out, e->values, e->nvalues)))
                return err;
        }
        if ((err = ag_buf_append_cstr(out, "}")))
            return err;
    }
    return ag_buf_append_cstr(out, "}");
}

ag_err ag_tokenreview_write(ag_buf_t *out, const ag_tokenreview_req_t *req,
                            const ag_tokenreview_status_t *status)
{
    ag_err err;
    if ((err = ag_buf_printf(out,
                             "{\"kind\":\"TokenReview\",\"apiVersion\":\"%s\","
                             "\"metadata\":{\"creationTimestamp\":null},\"spec\":{",
                             ag_tokenreview_api_version(req->version))))
        return err;
    if (req->naudiences && ((err = ag_buf_append_cstr(out, "\"audiences\":")) ||
                            (err = ag_json_write_strs(out, req->audiences, req->naudiences))))
        return err;
    /* authenticated is omitempty in Go; written false too, which every reader takes alike */
    if ((err = ag_buf_printf(out, "},\"status\":{\"authenticated\":%s",
                             status->authenticated ? "true" : "false")))
        return err;
    if (status->authenticated && status->user &&
        ((err = ag_buf_append_cstr(out, ",\"user\":")) ||
         (err = ag_user_info_write(out, status->user))))
        return err;
    if (status->naudiences &&
        ((err = ag_buf_append_cstr(out, ",\"audiences\":")) ||
         (err = ag_json_write_strs(out, status->audiences, status->naudiences))))
        return err;
    if (status->error.n && ((err = ag_buf_append_cstr(out, ",\"error\":")) ||
                            (err = ag_json_write_str(out, status->error))))
        return err;
    return ag_buf_append_cstr(out, "}}");
}

ag_err ag_selfsubjectreview_write(ag_buf_t *out, ag_str_t api_version, const ag_identity_t *u)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"kind\":\"SelfSubjectReview\",\"apiVersion\":")) ||
        (err = ag_json_write_str(out, api_version)) ||
        (err = ag_buf_append_cstr(out, ",\"metadata\":{\"creationTimestamp\":null},"
                                       "\"status\":{\"userInfo\":")) ||
        (err = ag_user_info_write(out, u)))
        return err;
    return ag_buf_append_cstr(out, "}}");
}
