/* Log-bucketed latency histogram (HdrHistogram-style) for the load generator and the
 * microbenchmarks. Values are unsigned integers (nanoseconds by convention); each power-of-
 * two range is split into AG_HIST_SUB_HALF linear sub-buckets, so any recorded value is
 * reported within 1/(2 * AG_HIST_SUB_HALF) (< 0.4%) of itself up to AG_HIST_MAX_VALUE.
 * Pure: no allocation (the caller owns the fixed-size struct), no I/O, no clock.
 * Lifetime: whatever the caller gives the struct; there is nothing to dispose. */
#ifndef AG_HIST_H
#define AG_HIST_H

#include <stdint.h>

#define AG_HIST_SUB_BITS 8 /* 256 exact values, then 128 sub-buckets per octave */
#define AG_HIST_SUB_COUNT (1u << AG_HIST_SUB_BITS)
#define AG_HIST_SUB_HALF (AG_HIST_SUB_COUNT / 2)
#define AG_HIST_MAX_VALUE 137438953471ULL /* 2^37 - 1 ns ~ 137 s: longer than any run */
/* Octaves above the exact range: values up to 2^37 need 37 - 8 = 29 of them. */
#define AG_HIST_BUCKETS (AG_HIST_SUB_COUNT + 29 * AG_HIST_SUB_HALF)

typedef struct {
    uint64_t counts[AG_HIST_BUCKETS];
    uint64_t total;    /* values recorded, overflowed ones included */
    uint64_t min, max; /* exact extremes (max clamped to AG_HIST_MAX_VALUE) */
    uint64_t overflow; /* values above AG_HIST_MAX_VALUE, recorded as the maximum */
    double sum;        /* for the mean */
} ag_hist_t;

/* Empties <h> (caller-owned storage). */
void ag_hist_init(ag_hist_t *h);
/* Records <v> once / <n> times. Values above AG_HIST_MAX_VALUE count in <overflow>. */
void ag_hist_record(ag_hist_t *h, uint64_t v);
void ag_hist_record_n(ag_hist_t *h, uint64_t v, uint64_t n);
/* Adds every count of <src> into <dst>. */
void ag_hist_merge(ag_hist_t *dst, const ag_hist_t *src);
/* The value at percentile <p> (0..100): the smallest recorded value v such that at least
 * p% of the values are <= v, reported as its bucket's midpoint clamped to [min, max].
 * p >= 100 gives max exactly, p <= 0 gives min. 0 when empty. */
uint64_t ag_hist_percentile(const ag_hist_t *h, double p);
/* Arithmetic mean of the recorded values (0 when empty). */
double ag_hist_mean(const ag_hist_t *h);

/* Bucket mapping, exposed for tests: index of <v> and the [lo, hi] range of index <i>. */
unsigned ag_hist_index(uint64_t v);
void ag_hist_bucket_range(unsigned i, uint64_t *lo, uint64_t *hi);

#endif
