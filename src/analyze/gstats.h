/* Graph statistics for `crawlbench analyze`: degree distributions, pages without out-links,
 * strongly connected components, and the top pages by rank and by in-degree. Sequential: these are
 * one linear pass each, small beside PageRank's iterations.
 * Conventions: 0 / -1 with "what: why" in err[256]. */
#ifndef CRAWLBENCH_GSTATS_H
#define CRAWLBENCH_GSTATS_H

#include <stdint.h>

#include "analyze/pgraph.h"

#define GSTATS_BUCKETS 34 /* bucket 0: degree 0; bucket k >= 1: degrees in [2^(k-1), 2^k) */
#define GSTATS_TOP_MAX 100

typedef struct gstats {
    uint32_t in_hist[GSTATS_BUCKETS], out_hist[GSTATS_BUCKETS];
    uint32_t max_in, max_out;
    uint32_t dangling; /* pages without out-links */
    uint32_t zero_in;  /* pages without in-links */
    uint32_t scc_count, scc_largest;
    uint32_t ntop;                        /* entries in the two lists below */
    uint32_t top_rank[GSTATS_TOP_MAX];    /* pages (graph numbering), highest rank first */
    uint32_t top_indeg[GSTATS_TOP_MAX];   /* pages, highest in-degree first */
    uint32_t top_indeg_n[GSTATS_TOP_MAX]; /* their in-degrees */
} gstats_t;

/* Strongly connected components of the CSR graph (off[n + 1], dst[off[n]]) by Tarjan's algorithm
 * with an explicit stack: no recursion, so a chain of any length is fine. comp[n] (may be NULL) gets
 * each node's component number. */
int gstats_scc(uint32_t n, const uint32_t *off, const uint32_t *dst, uint32_t *comp, uint32_t *count,
               uint32_t *largest, char *err);

/* Everything above; rank[n] by page, top <= GSTATS_TOP_MAX (ties go to the lower page index). */
int gstats_compute(const pgraph_t *pg, const double *rank, uint32_t top, gstats_t *out, char *err);

/* The bucket of a degree. */
unsigned gstats_bucket(uint64_t degree);

#endif
