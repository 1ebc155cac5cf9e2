/* The local route table (routes.h). */
#include "http/routes.h"

void ag_routes_init(ag_routes_t *t)
{
    t->n = 0;
    ag_arena_init(&t->arena, 1024, 0);
}

void ag_routes_dispose(ag_routes_t *t)
{
    ag_arena_dispose(&t->arena);
    t->n = 0;
}

ag_err ag_routes_add(ag_routes_t *t, const char *method, const char *path, size_t max_body,
                     ag_local_fn fn, void *ud, unsigned flags)
{
    if (t->n >= AG_MAX_ROUTES)
        return AG_E_TOO_BIG;
    t->r[t->n++] = (ag_route_t){method, path, max_body, fn, ud, flags};
    return 0;
}

void *ag_routes_alloc(ag_routes_t *t, size_t n)
{
    return ag_arena_calloc(&t->arena, n);
}

/* Local routes speak JSON: a body in another encoding (kubectl sends protobuf for
 * SelfSubjectAccessReview) is forwarded to the API server, which understands it. */
static bool json_body(const ag_http_req_t *req)
{
    for (int i = 0; i < req->nheaders; i++)
        if (ag_str_ieq(req->headers[i].name, AG_STR("content-type"))) {
            ag_str_t v = req->headers[i].value, type;
            ag_str_split(v, ';', &type);
            while (type.n && type.p[type.n - 1] == ' ')
                type.n--;
            return ag_str_ieq(type, AG_STR("application/json"));
        }
    return true;
}

/* <path> against a route's pattern, where a "*" segment stands for one non-empty segment. */
static bool path_matches(ag_str_t path, const char *pattern)
{
    ag_str_t pat = ag_str_cstr(pattern), ps, ss;
    while (pat.p && path.p) {
        pat = ag_str_split(pat, '/', &ps);
        path = ag_str_split(path, '/', &ss);
        if (ag_str_eq_lit(ps, "*") ? ss.n == 0 || ag_str_eq_lit(ss, "..") : !ag_str_eq(ps, ss))
            return false;
    }
    return !pat.p && !path.p;
}

const ag_route_t *ag_routes_find(const ag_routes_t *t, const ag_http_req_t *req)
{
    if (!t || t->n == 0)
        return NULL;
    bool json = json_body(req);
    for (int i = 0; i < t->n; i++) {
        const ag_route_t *rt = &t->r[i];
        if ((json || (rt->flags & AG_ROUTE_TYPED)) && ag_str_eq_lit(req->method, rt->method) &&
            path_matches(req->path, rt->path))
            return rt;
    }
    return NULL;
}
