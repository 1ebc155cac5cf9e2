/* Accept negotiation for the review routes (proxy/review/review_route.h), as kube-apiserver
 * picks the response encoding. */
#include "review/review_route.h"
#include "testlib.h"

static ag_media_t acc(const char *s)
{
    return ag_review_accept(ag_str_cstr(s));
}

TEST(review_accept_picks_the_preferred_served_type)
{
    CHECK_EQ(acc(""), AG_MEDIA_JSON); /* none: JSON */
    CHECK_EQ(acc("application/vnd.kubernetes.protobuf,application/json"), AG_MEDIA_PROTOBUF);
    CHECK_EQ(acc("application/json, application/vnd.kubernetes.protobuf"), AG_MEDIA_JSON);
    CHECK_EQ(acc("application/json, */*"), AG_MEDIA_JSON);
    CHECK_EQ(acc("*/*"), AG_MEDIA_JSON);
    CHECK_EQ(acc("application/*"), AG_MEDIA_JSON);
    CHECK_EQ(acc("Application/Vnd.Kubernetes.Protobuf"), AG_MEDIA_PROTOBUF);
    CHECK_EQ(acc("application/json;q=0.5, application/vnd.kubernetes.protobuf;q=0.9"),
             AG_MEDIA_PROTOBUF);
    CHECK_EQ(acc("application/vnd.kubernetes.protobuf;q=0.1, application/json"), AG_MEDIA_JSON);
    CHECK_EQ(acc("application/vnd.kubernetes.protobuf ; q=1.0"), AG_MEDIA_PROTOBUF);
}

TEST(review_accept_refuses_when_nothing_served_is_acceptable)
{
    CHECK_EQ(acc("text/html"), AG_MEDIA_NONE);
    CHECK_EQ(acc("application/yaml"), AG_MEDIA_NONE);
    CHECK_EQ(acc("application/json;q=0"), AG_MEDIA_NONE);
    CHECK_EQ(acc("application/json;q=0.000, text/plain"), AG_MEDIA_NONE);
    CHECK_EQ(acc("text/html, application/json;q=0.001"), AG_MEDIA_JSON);
    CHECK_EQ(acc(","), AG_MEDIA_NONE);
}
