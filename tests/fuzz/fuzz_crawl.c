/* libFuzzer shim for the saved-crawl loader (src/graph/crawlfile.c): graph_parse_crawl() over
 * arbitrary bytes, then, when it loads, the invariants analyze relies on: every page is found under
 * its own id, links point at real pages, never at their own page, and never twice from one page.
 * Then the PageRank CSR is built over it and its link count checked. Corpus: tests/fuzz/corpus/crawl/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/pgraph.h"
#include "graph/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[GRAPH_ERR_LEN];
    graph_t *g = graph_parse_crawl((const char *)data, size, "fuzz", err);
    if (!g) {
        if (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "fuzz", 4) != 0) abort();
        return 0;
    }
    uint32_t pages = graph_pages(g), n;
    if (pages == 0 || graph_edges(g) == 0) abort();
    for (uint32_t p = 0; p < pages && p < 4096; p++) {
        size_t len;
        const char *id = graph_id(g, p, &len);
        if (!id || len == 0 || len > GRAPH_ID_MAX || strlen(id) != len) abort();
        if (graph_find(g, id, len) != p) abort();
        const uint32_t *links = graph_links(g, p, &n);
        for (uint32_t j = 0; j < n; j++) {
            if (links[j] >= pages || links[j] == p) abort();
            for (uint32_t k = 0; k < j; k++)
                if (links[k] == links[j]) abort();
        }
    }
    pgraph_t *pg = pg_build(g, PG_ORDER_INDEGREE, err);
    if (!pg || pg->m != graph_edges(g) || pg->in_off[pg->n] != pg->m) abort();
    pg_free(pg);
    graph_free(g);
    return 0;
}
