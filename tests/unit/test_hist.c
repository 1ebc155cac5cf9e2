/* Unit tests for bench/hist.c: bucket tiling, relative error, percentile ranks, merge. */
#include <math.h>
#include <stdlib.h>

#include "bench/hist.h"
#include "testlib.h"

static ag_hist_t *new_hist(void)
{
    ag_hist_t *h = malloc(sizeof *h);
    if (h)
        ag_hist_init(h);
    return h;
}

static int within(uint64_t got, uint64_t want, double rel)
{
    double d = fabs((double)got - (double)want);
    return d <= rel * (double)want;
}

TEST(hist_buckets_tile_the_whole_range)
{
    uint64_t prev_hi = 0;
    int bad = 0;
    for (unsigned i = 0; i < AG_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        ag_hist_bucket_range(i, &lo, &hi);
        if ((i > 0 && lo != prev_hi + 1) || hi < lo || ag_hist_index(lo) != i ||
            ag_hist_index(hi) != i)
            bad++;
        /* never wider than 1/128 of the lower bound */
        if (lo >= AG_HIST_SUB_COUNT && (hi - lo + 1) * AG_HIST_SUB_HALF > lo)
            bad++;
        prev_hi = hi;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(prev_hi, AG_HIST_MAX_VALUE);
    CHECK_EQ(ag_hist_index(AG_HIST_MAX_VALUE + 1000), AG_HIST_BUCKETS - 1);
}

TEST(hist_reports_any_value_within_half_a_percent)
{
    ag_hist_t *h = new_hist();
    CHECK(h != NULL);
    int bad = 0;
    /* log-uniform values from 1 us to 100 s (in ns) */
    for (int k = 0; k < 2000 && h; k++) {
        uint64_t v = (uint64_t)(1000.0 * pow(10.0, 8.0 * k / 1999.0)) + (uint64_t)k;
        ag_hist_init(h);
        ag_hist_record(h, v);
        ag_hist_record(h, v + (v >> 9)); /* a neighbour so min/max do not hide the bucket */
        ag_hist_record(h, v - (v >> 9));
        if (!within(ag_hist_percentile(h, 50), v, 0.004))
            bad++;
    }
    CHECK_EQ(bad, 0);
    free(h);
}

TEST(hist_percentiles_of_uniform_values)
{
    ag_hist_t *h = new_hist();
    CHECK(h != NULL);
    if (!h)
        return;
    for (uint64_t us = 1; us <= 100000; us++)
        ag_hist_record(h, us * 1000);
    CHECK_EQ(h->total, 100000);
    CHECK(within(ag_hist_percentile(h, 50), 50000000, 0.01));
    CHECK(within(ag_hist_percentile(h, 90), 90000000, 0.01));
    CHECK(within(ag_hist_percentile(h, 99), 99000000, 0.01));
    CHECK(within(ag_hist_percentile(h, 99.9), 99900000, 0.01));
    CHECK(within(ag_hist_percentile(h, 99.99), 99990000, 0.01));
    CHECK_EQ(ag_hist_percentile(h, 100), 100000000);
    CHECK_EQ(ag_hist_percentile(h, 0), 1000);
    CHECK(within((uint64_t)ag_hist_mean(h), 50000500, 0.0001));
    free(h);
}

TEST(hist_p9999_separates_one_outlier_in_ten_thousand)
{
    ag_hist_t *h = new_hist();
    CHECK(h != NULL);
    if (!h)
        return;
    ag_hist_record_n(h, 250000, 9999); /* 250 us */
    ag_hist_record(h, 3000000000ULL);  /* 3 s */
    CHECK(within(ag_hist_percentile(h, 99.99), 250000, 0.004));
    CHECK(within(ag_hist_percentile(h, 99.995), 3000000000ULL, 0.004));
    CHECK(within(ag_hist_percentile(h, 50), 250000, 0.004));
    CHECK_EQ(h->min, 250000);
    CHECK_EQ(h->max, 3000000000ULL);
    free(h);
}

TEST(hist_merge_adds_counts_and_extremes)
{
    ag_hist_t *a = new_hist(), *b = new_hist();
    CHECK(a && b);
    if (a && b) {
        for (int i = 0; i < 100; i++)
            ag_hist_record(a, 1000);
        for (int i = 0; i < 100; i++)
            ag_hist_record(b, 9000);
        ag_hist_record(b, 5);
        ag_hist_merge(a, b);
        CHECK_EQ(a->total, 201);
        CHECK_EQ(a->min, 5);
        CHECK_EQ(a->max, 9000);
        CHECK(within(ag_hist_percentile(a, 40), 1000, 0.004));
        CHECK(within(ag_hist_percentile(a, 60), 9000, 0.004));
    }
    free(a);
    free(b);
}

TEST(hist_clamps_overflow_and_handles_empty)
{
    ag_hist_t *h = new_hist();
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_EQ(ag_hist_percentile(h, 99), 0);
    CHECK(ag_hist_mean(h) == 0.0);
    ag_hist_record(h, UINT64_MAX);
    CHECK_EQ(h->overflow, 1);
    CHECK_EQ(h->total, 1);
    CHECK_EQ(ag_hist_percentile(h, 50), AG_HIST_MAX_VALUE);
    ag_hist_record_n(h, 7, 0); /* zero count records nothing */
    CHECK_EQ(h->total, 1);
    free(h);
}
