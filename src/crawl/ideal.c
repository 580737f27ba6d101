/* The zero-CPU crawl replay (see ideal.h): an event simulation. The fetches in flight sit in a
 * binary min-heap keyed on their completion time; ties complete in start order (a sequence number),
 * so the replay is deterministic. */
#include "crawl/ideal.h"

#include <stdlib.h>

typedef struct ideal_event {
    uint64_t done_us, seq;
    uint32_t page;
} ideal_event_t;

static int earlier(const ideal_event_t *a, const ideal_event_t *b) {
    return a->done_us < b->done_us || (a->done_us == b->done_us && a->seq < b->seq);
}

static void heap_push(ideal_event_t *h, uint32_t *n, ideal_event_t e) {
    uint32_t i = (*n)++;
    for (; i && earlier(&e, &h[(i - 1) / 2]); i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
    h[i] = e;
}

static ideal_event_t heap_pop(ideal_event_t *h, uint32_t *n) {
    ideal_event_t top = h[0], last = h[--*n];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && earlier(&h[c + 1], &h[c])) c++;
        if (!earlier(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

double ideal_crawl_s(const frontier_t *f, uint32_t concurrency, uint64_t max_pages, const uint64_t *cost_us) {
    uint32_t n = frontier_discovered(f), qhead = 0, qtail = 0, running = 0;
    if (n == 0 || max_pages == 0 || concurrency == 0) return 0;
    uint32_t *queue = malloc((size_t)n * sizeof(*queue)); /* pages fetchable, FIFO */
    ideal_event_t *heap = malloc((size_t)(concurrency < n ? concurrency : n) * sizeof(*heap));
    uint8_t *seen = calloc(n, 1);
    double end = -1;
    if (!queue || !heap || !seen) goto out;
    uint64_t taken = 0, now = 0, seq = 0;
    queue[qtail++] = 0;
    seen[0] = 1;
    for (;;) {
        /* Fill free slots from the queue, all starting now. */
        while (running < concurrency && qhead < qtail && taken < max_pages) {
            uint32_t page = queue[qhead++];
            heap_push(heap, &running, (ideal_event_t){.done_us = now + cost_us[page], .seq = seq++, .page = page});
            taken++;
        }
        if (!running) break;
        /* The earliest fetch completes next; its links become fetchable. */
        ideal_event_t e = heap_pop(heap, &running);
        now = e.done_us;
        uint32_t nl;
        const uint32_t *links = frontier_links(f, e.page, &nl);
        for (uint32_t i = 0; i < nl; i++)
            if (!seen[links[i]]) {
                seen[links[i]] = 1;
                queue[qtail++] = links[i];
            }
    }
    end = (double)now / 1e6;
out:
    free(queue);
    free(heap);
    free(seen);
    return end;
}
