/* Saving what a crawl found as a graph (`crawl --save-graph FILE`), for `crawlbench analyze --crawl`:
 * one fetched page a line, in visit order, "PAGE_ID<TAB>LINK_ID LINK_ID ...", each link as the page
 * listed it. A page that failed has no line; a link to a page never fetched still appears as a link.
 * The format and its parser are in docs/ANALYZE.md and src/graph/crawlfile.c. */
#include "crawl/crawl.h"

int crawl_write_graph(FILE *f, const crawl_result_t *r) {
    if (fprintf(f, "# crawlbench crawl --save-graph: %llu pages fetched, model %s\n",
                (unsigned long long)r->norder, r->model) < 0)
        return -1;
    for (uint64_t i = 0; i < r->norder; i++) {
        size_t len;
        uint32_t n;
        const char *id = frontier_id(r->frontier, r->order[i], &len);
        const uint32_t *links = frontier_links(r->frontier, r->order[i], &n);
        if (fprintf(f, "%.*s\t", (int)len, id) < 0) return -1;
        for (uint32_t k = 0; k < n; k++) {
            const char *to = frontier_id(r->frontier, links[k], &len);
            if (fprintf(f, k ? " %.*s" : "%.*s", (int)len, to) < 0) return -1;
        }
        if (fputc('\n', f) == EOF) return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}
