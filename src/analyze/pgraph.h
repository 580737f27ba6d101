/* The graph as PageRank reads it: a compact pull-direction CSR (each page's in-links, 32-bit page
 * indices and 32-bit offsets, so at most 2^32 - 1 distinct links; duplicates removed), out-degrees, and an optional relabelling of the pages applied once
 * here so that the pages most linked to sit together in memory. Built once from a graph_t, then
 * read-only and safe to share between threads and forked processes.
 *
 * Two numberings: "page" is graph_t's index, "slot" the relabelled one (slot = pg_slot(pg, page)).
 * Every array below is indexed by slot; results are mapped back to pages by the callers.
 * Conventions: NULL / -1 with "what: why" in err[256]. */
#ifndef CRAWLBENCH_PGRAPH_H
#define CRAWLBENCH_PGRAPH_H

#include <stdint.h>

#include "graph/graph.h"

#define PG_BLOCK 1024 /* pages per block: the grain of the work split and of every reduction */

/* PageRank's work, in halves of an in-link: a page costs about 2.5 in-links (its offsets, a division,
 * the change, a store), measured by timing two workers' ranges one after the other: split by in-links
 * alone, the range of the many small pages took 1.5x the other's time (docs/ANALYZE.md). */
#define PG_WORK_LINK 2
#define PG_WORK_PAGE 5

typedef enum pg_order {
    PG_ORDER_NATURAL,  /* slot = page */
    PG_ORDER_INDEGREE, /* by in-degree, highest first, ties by page index */
    PG_ORDER_OUTDEGREE, /* by out-degree, highest first, ties by page index */
} pg_order_t;

typedef struct pgraph {
    /* public, read-only */
    uint32_t n;          /* pages */
    uint64_t m;          /* distinct links */
    uint32_t nblocks;    /* ceil(n / PG_BLOCK) */
    uint32_t *in_off;    /* [n + 1]: in-links of slot v are in_src[in_off[v] .. in_off[v + 1]) */
    uint32_t *in_src;    /* [m]: source slots, ascending within each page */
    uint32_t *out_deg;   /* [n]: distinct out-links */
    uint32_t *slot_of;   /* [n]: page -> slot */
    uint32_t *page_of;   /* [n]: slot -> page */
    uint64_t *work_prefix; /* [nblocks + 1]: PageRank's work before each block, the split's weights */
    /* Out-links in page numbering, duplicates removed: out_off/out_dst when the graph had any
     * duplicate, else NULL and the graph's own arrays are read through pg_out(). */
    const graph_t *g;
    uint64_t *out_off;
    uint32_t *out_dst;
} pgraph_t;

pgraph_t *pg_build(const graph_t *g, pg_order_t order, char *err);
void pg_free(pgraph_t *pg);

/* Distinct out-links of a page (page numbering); *n gets their count. */
const uint32_t *pg_out(const pgraph_t *pg, uint32_t page, uint32_t *n);

/* Bytes held by the arrays above. */
uint64_t pg_bytes(const pgraph_t *pg);

#endif
