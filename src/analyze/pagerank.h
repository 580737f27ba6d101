/* PageRank as networkx defines it: damping d, uniform teleport, the rank of pages without out-links
 * spread uniformly over all pages, duplicate links counted once, start at 1/n. Jacobi iteration in
 * the pull direction:
 *
 *     rank'[v] = (1 - d) / n + d * dangling / n + d * sum over in-links u->v of rank[u] / outdeg[u]
 *
 * stopping when the L1 change sum |rank' - rank| falls below tol (networkx stops at n * tol: we are
 * stricter) or after max_iter iterations.
 *
 * Bit-identical for every model and worker count: each page's sum runs over its in-links in one fixed
 * order, and the L1 change and the dangling mass are summed per block of PG_BLOCK pages, the block sums
 * then added in block order by the caller's thread. Workers only decide who computes which block. */
#ifndef CRAWLBENCH_PAGERANK_H
#define CRAWLBENCH_PAGERANK_H

#include <stdint.h>

#include "analyze/exec.h"
#include "analyze/pgraph.h"

typedef struct pr_opts {
    double damping;    /* 0.85 */
    double tolerance;  /* 1e-8 */
    uint32_t max_iter; /* 200 */
    uint32_t prefetch; /* software prefetch distance in links, 0 for none (default PR_PREFETCH, off: docs/ANALYZE.md) */
} pr_opts_t;

#define PR_PREFETCH 0

typedef struct pr_result {
    uint32_t iterations;
    int converged; /* 1 when the L1 change fell below the tolerance */
    double l1;     /* the last iteration's L1 change */
} pr_result_t;

/* Ranks by page (graph_t numbering) into rank[pg->n]. -1 when a worker died or memory ran out. */
int pr_run(const pgraph_t *pg, exec_t *ex, const pr_opts_t *o, double *rank, pr_result_t *res, char *err);

#endif
