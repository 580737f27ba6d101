/* The guide's link score ("Multiprocessing for CPU-intensive graph analysis", analyze_page_content):
 * every distinct link id of a page scores (sum of the id's bytes) * (the id's length), a page scores
 * the sum over its distinct link ids, and the analysis prints the total over all pages. work repeats
 * each link's computation so that the CPU cost per page can be dialled up for teaching; the result
 * does not change. Integers throughout, so the total is exact under any split.
 * Conventions: 0 / -1 with "what: why" in err[256]. */
#ifndef CRAWLBENCH_SCORE_H
#define CRAWLBENCH_SCORE_H

#include <stdint.h>

#include "analyze/exec.h"
#include "analyze/pgraph.h"

/* The score of one link id. */
uint64_t score_link(const char *id, size_t len);

/* The total over every page, computed over ex's workers (blocks of PG_BLOCK pages, page numbering). */
int score_run(const pgraph_t *pg, exec_t *ex, uint32_t work, uint64_t *total, char *err);

#endif
