/* A latency histogram: log-linear buckets (HdrHistogram's idea, in 60 lines), microsecond values,
 * relative error under 1%, constant memory, O(1) record. One per crawl, or one per worker merged at
 * the end. Not thread-safe. */
#ifndef CRAWLBENCH_HIST_H
#define CRAWLBENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7 /* 128 sub-buckets per power of two: < 0.8% error */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((65 - HIST_SUB_BITS) * HIST_SUB) /* 0..127 exact, then 57 powers of two */

typedef struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t min;
    double sum;
    uint32_t counts[HIST_BUCKETS];
} hist_t;

void hist_init(hist_t *h);
void hist_record(hist_t *h, uint64_t v);
void hist_merge(hist_t *dst, const hist_t *src);
/* The value at quantile q in [0, 1] (the bucket's upper bound, capped at the maximum seen); 0 when empty. */
uint64_t hist_quantile(const hist_t *h, double q);
double hist_mean(const hist_t *h);

#endif
