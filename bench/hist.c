/* Log-bucketed histogram: see hist.h. Values below AG_HIST_SUB_COUNT have a bucket each;
 * above, octave e (v in [2^(e+7), 2^(e+8))) is split into 128 buckets of width 2^e, so a
 * bucket is never wider than 1/128 of its lower bound. */
#include "bench/hist.h"

#include <string.h>

void ag_hist_init(ag_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned floor_log2(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v); /* v > 0 */
}

unsigned ag_hist_index(uint64_t v)
{
    if (v > AG_HIST_MAX_VALUE)
        v = AG_HIST_MAX_VALUE;
    if (v < AG_HIST_SUB_COUNT)
        return (unsigned)v;
    unsigned e = floor_log2(v) - (AG_HIST_SUB_BITS - 1);
    return AG_HIST_SUB_COUNT + (e - 1) * AG_HIST_SUB_HALF + (unsigned)((v >> e) - AG_HIST_SUB_HALF);
}

void ag_hist_bucket_range(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < AG_HIST_SUB_COUNT) {
        *lo = *hi = i;
        return;
    }
    unsigned k = i - AG_HIST_SUB_COUNT;
    unsigned e = k / AG_HIST_SUB_HALF + 1;
    uint64_t m = k % AG_HIST_SUB_HALF + AG_HIST_SUB_HALF;
    *lo = m << e;
    *hi = *lo + ((uint64_t)1 << e) - 1;
}

void ag_hist_record_n(ag_hist_t *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v > AG_HIST_MAX_VALUE) {
        h->overflow += n;
        v = AG_HIST_MAX_VALUE;
    }
    h->counts[ag_hist_index(v)] += n;
    h->total += n;
    h->sum += (double)v * (double)n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void ag_hist_record(ag_hist_t *h, uint64_t v)
{
    ag_hist_record_n(h, v, 1);
}

void ag_hist_merge(ag_hist_t *dst, const ag_hist_t *src)
{
    if (src->total == 0)
        return;
    for (unsigned i = 0; i < AG_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->overflow += src->overflow;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t ag_hist_percentile(const ag_hist_t *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* rank = ceil(p% of total), at least 1: the rank-th smallest value */
    double want = p / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < AG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            ag_hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max; /* unreachable while counts sum to total */
}

double ag_hist_mean(const ag_hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
