/* The ideal crawl time: the same crawl simulated with zero CPU cost. Every fetch takes exactly the
 * latency, at most `concurrency` are in flight, a page becomes fetchable when the first fetch that
 * links to it completes, the frontier is FIFO, and the cap stops it after max_pages. Uses the links
 * the real crawl saw (a page it did not fetch has none). max(pages x latency / N, depth x latency)
 * is the simpler bound, but a real graph cannot reach it: pages at depth k cannot start before
 * k x latency, and a narrow level leaves slots idle. */
#ifndef CRAWLBENCH_IDEAL_H
#define CRAWLBENCH_IDEAL_H

#include "crawl/frontier.h"

#include <stdint.h>

/* Simulated seconds from the start page (page 0 of f). Returns -1 on out-of-memory. */
double ideal_crawl_s(const frontier_t *f, uint32_t concurrency, uint64_t max_pages, double latency_s);

#endif
