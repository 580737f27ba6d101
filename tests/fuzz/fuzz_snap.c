/* libFuzzer shim for the SNAP loader: graph_parse_snap() over arbitrary bytes (plain text or gzip),
 * then, when it loads, the queries a server makes, checked against each other: every page is found
 * under its own id, and every link points at a real page. Corpus: tests/fuzz/corpus/snap/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[GRAPH_ERR_LEN];
    graph_t *g = graph_parse_snap((const char *)data, size, "fuzz", err);
    if (!g) {
        if (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "fuzz", 4) != 0) abort();
        return 0;
    }
    uint32_t pages = graph_pages(g), n, sample[8];
    if (pages == 0 || graph_edges(g) == 0) abort();
    uint32_t m = graph_sample(g, size, 8, sample);
    for (uint32_t k = 0; k < m; k++) {
        size_t len;
        const char *id = graph_id(g, sample[k], &len);
        if (!id || len == 0 || len > GRAPH_ID_MAX || strlen(id) != len) abort();
        if (graph_find(g, id, len) != sample[k]) abort();
        const uint32_t *links = graph_links(g, sample[k], &n);
        for (uint32_t j = 0; j < n; j++)
            if (links[j] >= pages || links[j] == sample[k]) abort();
    }
    if (graph_find(g, (const char *)data, size < GRAPH_ID_MAX ? size : GRAPH_ID_MAX) >= pages) abort();
    uint8_t *mark = malloc(pages);
    if (mark) {
        uint32_t reached = graph_reachable(g, sample[0], mark);
        if (reached == 0 || reached > pages || !mark[sample[0]]) abort();
        free(mark);
    }
    graph_shape_t s;
    graph_shape(g, &s);
    if (s.pages != pages || s.edges != graph_edges(g)) abort();
    graph_free(g);
    return 0;
}
