/* Unit tests for proxy/runtime/log.c: the log rate limit (ag_log_limit). */
#include "runtime/log.h"
#include "testlib.h"

TEST(log_limit_one_line_a_second_counts_the_rest)
{
    ag_log_limit_t l = {0};
    unsigned held = 99;
    CHECK(ag_log_limit(&l, 5000, &held)); /* the first line always passes */
    CHECK_EQ(held, 0);
    for (uint64_t t = 5001; t < 6000; t += 10) /* 100 more within the second: held back */
        CHECK(!ag_log_limit(&l, t, &held));
    CHECK(ag_log_limit(&l, 6000, &held)); /* a second later: passes, with the count */
    CHECK_EQ(held, 100);
    CHECK(!ag_log_limit(&l, 6999, &held));
    CHECK(ag_log_limit(&l, 9000, &held));
    CHECK_EQ(held, 1); /* the count restarted at the previous line */
}

TEST(log_limit_at_time_zero_still_limits)
{
    /* uv_now() of a fresh loop can be 0: a line at 0 must not read as "never logged". */
    ag_log_limit_t l = {0};
    unsigned held;
    CHECK(ag_log_limit(&l, 0, &held));
    CHECK(!ag_log_limit(&l, 0, &held));
    CHECK(!ag_log_limit(&l, 999, &held));
    CHECK(ag_log_limit(&l, 1000, &held));
    CHECK_EQ(held, 2);
}
