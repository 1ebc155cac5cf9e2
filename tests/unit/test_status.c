/* Kubernetes Status bodies (core/http/status.c): what kubectl prints for the gateway's own
 * answers. */
#include "base/arena.h"
#include "base/json.h"
#include "http/status.h"
#include "testlib.h"

TEST(status_writes_kubernetes_status_json)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    CHECK_EQ(ag_status_write(&out, 403,
                             AG_STR("pods is forbidden: User \"bob\" cannot list "
                                    "resource \"pods\"")),
             0);
    CHECK_STREQ(out.p, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                       "\"status\":\"Failure\",\"message\":\"pods is forbidden: User "
                       "\\\"bob\\\" cannot list resource \\\"pods\\\"\",\"reason\":"
                       "\"Forbidden\",\"code\":403}");
    ag_buf_dispose(&out);
}

TEST(status_body_is_strict_json_with_every_field)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    ag_arena_t a;
    ag_json_t d;
    ag_str_t s;
    long long code = 0;
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_status_write(&out, 401, AG_STR("Unauthorized\n\"<x>\" \x01 \xff")), 0);
    CHECK_EQ(ag_json_parse(&d, ag_buf_str(&out), NULL, &a, NULL), 0);
    CHECK(ag_json_str_eq(&d, ag_json_get(&d, 0, "kind"), "Status"));
    CHECK(ag_json_str_eq(&d, ag_json_get(&d, 0, "apiVersion"), "v1"));
    CHECK(ag_json_str_eq(&d, ag_json_get(&d, 0, "status"), "Failure"));
    CHECK(ag_json_str_eq(&d, ag_json_get(&d, 0, "reason"), "Unauthorized"));
    CHECK_EQ(ag_json_typeof(&d, ag_json_get(&d, 0, "metadata")), AG_JSON_OBJECT);
    CHECK_EQ(ag_json_int(&d, ag_json_get(&d, 0, "code"), &code), 0);
    CHECK_EQ(code, 401);
    CHECK_EQ(ag_json_str(&d, ag_json_get(&d, 0, "message"), &a, &s), 0);
    CHECK(ag_str_starts_with(s, AG_STR("Unauthorized\n\"<x>\" \x01 ")));
    CHECK(strchr(out.p, '<') == NULL); /* escaped, safe to embed */
    ag_arena_dispose(&a);
    ag_buf_dispose(&out);
}

TEST(status_reason_follows_kubernetes_status_reasons)
{
    static const struct {
        int code;
        const char *reason;
    } t[] = {{400, "BadRequest"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "NotFound"},
             {405, "MethodNotAllowed"},
             {406, "NotAcceptable"},
             {408, "Timeout"},
             {409, "Conflict"},
             {410, "Gone"},
             {413, "RequestEntityTooLarge"},
             {415, "UnsupportedMediaType"},
             {422, "Invalid"},
             {429, "TooManyRequests"},
             {500, "InternalError"},
             {502, "InternalError"},
             {503, "ServiceUnavailable"},
             {504, "Timeout"},
             {414, "BadRequest"},
             {417, "BadRequest"},
             {431, "BadRequest"},
             {501, "InternalError"},
             {505, "InternalError"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK_STREQ(ag_status_reason(t[i].code), t[i].reason);
}

TEST(status_http_reason_phrases)
{
    CHECK_STREQ(ag_http_reason_phrase(200), "OK");
    CHECK_STREQ(ag_http_reason_phrase(400), "Bad Request");
    CHECK_STREQ(ag_http_reason_phrase(403), "Forbidden");
    CHECK_STREQ(ag_http_reason_phrase(414), "URI Too Long");
    CHECK_STREQ(ag_http_reason_phrase(431), "Request Header Fields Too Large");
    CHECK_STREQ(ag_http_reason_phrase(502), "Bad Gateway");
    CHECK_STREQ(ag_http_reason_phrase(505), "HTTP Version Not Supported");
    CHECK_STREQ(ag_http_reason_phrase(299), "Unknown");
}

TEST(status_writes_details)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    ag_status_details_t det = {.name = AG_STR("web-0"), .kind = AG_STR("pods")};
    CHECK_EQ(ag_status_write_details(&out, 404, AG_STR("pods \"web-0\" not found"), &det), 0);
    CHECK(strstr(out.p, ",\"reason\":\"NotFound\",\"details\":{\"name\":\"web-0\","
                        "\"kind\":\"pods\"},\"code\":404}") != NULL);
    ag_buf_dispose(&out);
}

TEST(status_response_is_a_complete_http_answer)
{
    ag_buf_t out = AG_BUF_INIT(4096);
    CHECK_EQ(ag_status_response(&out, 400, AG_STR("encoded slash in path"), true), 0);
    CHECK(ag_str_starts_with(ag_buf_str(&out), AG_STR("HTTP/1.1 400 Bad Request\r\n")));
    CHECK(strstr(out.p, "Content-Type: application/json\r\n") != NULL);
    CHECK(strstr(out.p, "X-Content-Type-Options: nosniff\r\n") != NULL);
    CHECK(strstr(out.p, "Connection: close\r\n") != NULL);
    const char *body = strstr(out.p, "\r\n\r\n");
    CHECK(body != NULL);
    if (body) {
        body += 4;
        char want[64];
        snprintf(want, sizeof want, "Content-Length: %zu\r\n", strlen(body));
        CHECK(strstr(out.p, want) != NULL);
        CHECK(strstr(body, "\"code\":400}") != NULL);
    }
    ag_buf_clear(&out);
    CHECK_EQ(ag_status_response(&out, 403, AG_STR("no"), false), 0);
    CHECK(strstr(out.p, "Connection: close") == NULL);
    ag_buf_dispose(&out);
}

TEST(status_leaves_buffer_unchanged_when_full)
{
    ag_buf_t out = AG_BUF_INIT(60);
    CHECK_EQ(ag_buf_append_cstr(&out, "keep"), 0);
    CHECK_EQ(ag_status_write(&out, 500, AG_STR("a long message that will not fit in the cap")),
             AG_E_TOO_BIG);
    CHECK_STREQ(out.p, "keep");
    CHECK_EQ(ag_status_response(&out, 500, AG_STR("x"), true), AG_E_TOO_BIG);
    CHECK_STREQ(out.p, "keep");
    ag_buf_dispose(&out);
}
