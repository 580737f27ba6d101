/* Log-linear histogram. Values below HIST_SUB are exact; above, each power of two is split into
 * HIST_SUB equal sub-buckets, so a bucket's width is under 1/HIST_SUB of its values. */
#include "crawl/hist.h"

#include <string.h>

void hist_init(hist_t *h) {
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v) {
    if (v < HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);  /* >= HIST_SUB_BITS */
    unsigned shift = msb - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & (HIST_SUB - 1);
    return (shift + 1) * HIST_SUB + sub;
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_top(unsigned b) {
    if (b < HIST_SUB) return b;
    unsigned shift = b / HIST_SUB - 1;
    uint64_t base = ((uint64_t)HIST_SUB + (b % HIST_SUB)) << shift;
    return base + ((1ull << shift) - 1);
}

void hist_record(hist_t *h, uint64_t v) {
    h->counts[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

void hist_merge(hist_t *dst, const hist_t *src) {
    for (unsigned b = 0; b < HIST_BUCKETS; b++) dst->counts[b] += src->counts[b];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max) dst->max = src->max;
    if (src->min < dst->min) dst->min = src->min;
}

uint64_t hist_quantile(const hist_t *h, double q) {
    if (!h->count) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top > h->max ? h->max : top;
        }
    }
    return h->max;
}

double hist_mean(const hist_t *h) { return h->count ? h->sum / (double)h->count : 0; }
