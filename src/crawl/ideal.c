/* The zero-CPU crawl simulation (see ideal.h). All fetches last the same time, so completions come
 * out in the order they started: the in-flight set is a FIFO of start times, no heap needed. */
#include "crawl/ideal.h"

#include <stdlib.h>

double ideal_crawl_s(const frontier_t *f, uint32_t concurrency, uint64_t max_pages, double latency_s) {
    uint32_t n = frontier_discovered(f);
    if (n == 0 || max_pages == 0 || concurrency == 0) return 0;
    uint32_t *queue = malloc((size_t)n * sizeof(*queue));   /* pages fetchable, FIFO */
    double *started = malloc((size_t)n * sizeof(*started)); /* start time of each fetch, in order */
    uint32_t *running = malloc((size_t)n * sizeof(*running));
    uint8_t *seen = calloc(n, 1);
    double end = -1;
    if (!queue || !started || !running || !seen) goto out;

    uint32_t qhead = 0, qtail = 0, rhead = 0, rtail = 0;
    uint64_t taken = 0;
    double now = 0;
    queue[qtail++] = 0;
    seen[0] = 1;
    for (;;) {
        /* Fill free slots from the queue, all starting now. */
        while (rtail - rhead < concurrency && qhead < qtail && taken < max_pages) {
            running[rtail] = queue[qhead++];
            started[rtail++] = now;
            taken++;
        }
        if (rhead == rtail) break;
        /* The oldest fetch completes next; its links become fetchable. */
        uint32_t page = running[rhead];
        now = started[rhead++] + latency_s;
        uint32_t nl;
        const uint32_t *links = frontier_links(f, page, &nl);
        for (uint32_t i = 0; i < nl; i++)
            if (!seen[links[i]]) {
                seen[links[i]] = 1;
                queue[qtail++] = links[i];
            }
    }
    end = now;
out:
    free(queue);
    free(started);
    free(running);
    free(seen);
    return end;
}
