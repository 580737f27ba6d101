/* The ideal crawl time: the same crawl replayed with zero client CPU. Every page occupies one of the
 * `concurrency` slots for exactly what the real crawl could not have saved: the server-side time of
 * each of its attempts (the server's own Server-Timing, so lognormal latency is replayed as it was;
 * a hung attempt costs its whole timeout) plus the waits the retry policy imposed between them. A
 * page becomes fetchable when the first fetch that links to it completes, the frontier is FIFO, and
 * the cap stops it after max_pages. Uses the links and costs the real crawl saw.
 *
 * Why the server's time and not the client's: a client that queues its own requests measures a
 * longer latency, and would raise its own ideal; the server's time is one the client cannot move.
 * max(pages x latency / N, depth x latency) is the simpler bound, but a real graph cannot reach it:
 * pages at depth k cannot start before k x latency, and a narrow level leaves slots idle. */
#ifndef CRAWLBENCH_IDEAL_H
#define CRAWLBENCH_IDEAL_H

#include "crawl/frontier.h"

#include <stdint.h>

/* Simulated seconds from the start page (page 0 of f); cost_us[p] is page p's cost (0 for a page
 * never fetched). Returns -1 on out-of-memory. */
double ideal_crawl_s(const frontier_t *f, uint32_t concurrency, uint64_t max_pages, const uint64_t *cost_us);

#endif
