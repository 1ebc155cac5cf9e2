/* core/login/execcred: KUBERNETES_EXEC_INFO in, the ExecCredential kubectl reads out. */
#include "login/execcred.h"
#include "testlib.h"

static ag_arena_t arena_; /* reachable from a global: not a leak at exit */
static ag_arena_t *arena(void)
{
    static bool ready;
    if (!ready)
        ag_arena_init(&arena_, 4096, 1 << 16);
    ready = true;
    return &arena_;
}

TEST(execcred_reads_exec_info_v1_and_v1beta1)
{
    ag_execcred_info_t i;
    CHECK_EQ(ag_execcred_parse_info(AG_STR("{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                                           "\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":"
                                           "true}}"),
                                    arena(), &i),
             0);
    CHECK_STREQ(i.api_version, AG_EXECCRED_V1);
    CHECK(i.interactive);
    CHECK_EQ(ag_execcred_parse_info(AG_STR("{\"apiVersion\":\"client.authentication.k8s.io/"
                                           "v1beta1\",\"kind\":\"ExecCredential\",\"spec\":{}}"),
                                    arena(), &i),
             0);
    CHECK_STREQ(i.api_version, AG_EXECCRED_V1BETA1);
    CHECK(!i.interactive);
    /* v1 requires spec.interactive */
    CHECK(ag_execcred_parse_info(AG_STR("{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                                        "\"kind\":\"ExecCredential\",\"spec\":{}}"),
                                 arena(), &i) != 0);
    CHECK_EQ(ag_execcred_parse_info(AG_STR("{\"apiVersion\":\"client.authentication.k8s.io/"
                                           "v1alpha1\",\"kind\":\"ExecCredential\"}"),
                                    arena(), &i),
             AG_E_UNSUPPORTED);
}

TEST(execcred_writes_one_object_with_rfc3339_expiry)
{
    ag_buf_t b = AG_BUF_INIT(4096);
    CHECK_EQ(ag_execcred_write(&b, AG_EXECCRED_V1, AG_STR("tok"), 1796666343LL), 0);
    CHECK_STREQ(
        b.p, "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
             "\"status\":{\"token\":\"tok\",\"expirationTimestamp\":\"2026-12-07T17:59:03Z\"}}\n");
    ag_buf_dispose(&b);
}
