/* Tests for the local route table (proxy/http/routes.c): exact method and path, a '*' segment
 * for one non-empty segment (never ".."), the query ignored by the caller (req.path),
 * JSON-only routes leaving other encodings to the upstream, typed routes taking any, the
 * bounded table and handler storage that lives with it. */
#include "http/routes.h"
#include "testlib.h"

static ag_gate_result handler(ag_local_req_t *r, void *ud)
{
    (void)r, (void)ud;
    return AG_GATE_ALLOW;
}

static ag_header_t ctype;

static const ag_route_t *find(const ag_routes_t *t, const char *method, const char *path,
                              const char *content_type)
{
    ag_http_req_t req = {.method = ag_str_cstr(method), .path = ag_str_cstr(path)};
    if (content_type) {
        ctype = (ag_header_t){AG_STR("Content-Type"), ag_str_cstr(content_type), 0};
        req.headers = &ctype;
        req.nheaders = 1;
    }
    return ag_routes_find(t, &req);
}

TEST(routes_match_method_path_and_one_segment_wildcards)
{
    ag_routes_t t;
    ag_routes_init(&t);
    CHECK_EQ(ag_routes_add(&t, "POST", "/apis/a/v1/reviews", 10, handler, NULL, 0), 0);
    CHECK_EQ(ag_routes_add(&t, "POST", "/apis/a/v1/namespaces/*/local", 10, handler, NULL,
                           AG_ROUTE_TYPED),
             0);
    CHECK(find(&t, "POST", "/apis/a/v1/reviews", NULL) == &t.r[0]);
    CHECK(find(&t, "GET", "/apis/a/v1/reviews", NULL) == NULL);
    CHECK(find(&t, "POST", "/apis/a/v1/reviews/", NULL) == NULL);
    CHECK(find(&t, "POST", "/apis/a/v1/review", NULL) == NULL);
    CHECK(find(&t, "POST", "/apis/a/v1/namespaces/ns-1/local", NULL) == &t.r[1]);
    CHECK(find(&t, "POST", "/apis/a/v1/namespaces//local", NULL) == NULL);
    CHECK(find(&t, "POST", "/apis/a/v1/namespaces/../local", NULL) == NULL);
    CHECK(find(&t, "POST", "/apis/a/v1/namespaces/a/b/local", NULL) == NULL);
    CHECK(find(NULL, "POST", "/apis/a/v1/reviews", NULL) == NULL);
    ag_routes_dispose(&t);
}

TEST(routes_plain_ones_take_json_only_typed_ones_any_encoding)
{
    ag_routes_t t;
    ag_routes_init(&t);
    CHECK_EQ(ag_routes_add(&t, "POST", "/json", 10, handler, NULL, AG_ROUTE_WEBHOOK), 0);
    CHECK_EQ(ag_routes_add(&t, "POST", "/typed", 10, handler, NULL, AG_ROUTE_TYPED), 0);
    CHECK(find(&t, "POST", "/json", "application/json; charset=utf-8") == &t.r[0]);
    CHECK(find(&t, "POST", "/json", "Application/JSON ") == &t.r[0]);
    CHECK(find(&t, "POST", "/json", "application/vnd.kubernetes.protobuf") == NULL);
    CHECK(find(&t, "POST", "/typed", "application/vnd.kubernetes.protobuf") == &t.r[1]);
    ag_routes_dispose(&t);
}

TEST(routes_table_is_bounded_and_keeps_handler_storage)
{
    ag_routes_t t;
    ag_routes_init(&t);
    for (int i = 0; i < AG_MAX_ROUTES; i++)
        CHECK_EQ(ag_routes_add(&t, "POST", "/x", 10, handler, NULL, 0), 0);
    CHECK_EQ(ag_routes_add(&t, "POST", "/x", 10, handler, NULL, 0), AG_E_TOO_BIG);
    int *v = ag_routes_alloc(&t, sizeof *v);
    CHECK(v && *v == 0);
    ag_routes_dispose(&t);
}
