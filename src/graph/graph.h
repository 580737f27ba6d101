/* The web-graph model: pages with short string ids and directed links, stored compactly (CSR arrays
 * plus one open-addressing hash index from id to page). No I/O except graph_load_snap(), which reads
 * a file. Built once, then read-only: every function taking a const graph_t * is safe to call from
 * any number of threads at once.
 *
 * Conventions: constructors return NULL and write "what: why" into err[GRAPH_ERR_LEN]. */
#ifndef CRAWLBENCH_GRAPH_H
#define CRAWLBENCH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define GRAPH_ERR_LEN 256
#define GRAPH_ID_MAX 32 /* longest page id, bytes, without NUL */

typedef struct graph graph_t; /* opaque */

typedef struct graph_params {
    uint64_t seed;       /* default 42 */
    uint32_t pages;      /* default 1000; at least 1 */
    uint32_t out_degree; /* mean links per page, default 8; at least 1 */
} graph_params_t;

/* Generates the deterministic synthetic web graph (model described in docs/GRAPH.md). The same
 * params give a byte-identical graph on every machine. */
graph_t *graph_generate(const graph_params_t *p, char *err);

/* Loads a SNAP edge list ("# comment" lines, "From<TAB>To" lines of decimal node ids), plain or gzip.
 * The page ids are the file's node ids as decimal strings. A malformed line fails the whole load
 * with its line number in err ("graph.txt:17: expected two node ids"). */
graph_t *graph_load_snap(const char *path, char *err);

/* Same as graph_load_snap() over a buffer already in memory (used by the loader and the fuzzer). */
graph_t *graph_parse_snap(const char *buf, size_t len, const char *name, char *err);

void graph_free(graph_t *g);

uint32_t graph_pages(const graph_t *g);
uint64_t graph_edges(const graph_t *g);
uint64_t graph_seed(const graph_t *g);     /* 0 for a loaded graph */
const char *graph_source(const graph_t *g); /* "generated" or the file path */

/* Page index for an id, or -1 when no page has it. */
int64_t graph_find(const graph_t *g, const char *id, size_t len);

/* The id of a page; *len gets its length. The string is NUL-terminated and lives as long as g. */
const char *graph_id(const graph_t *g, uint32_t page, size_t *len);

/* The out-links of a page as page indices; *n gets their count. Lives as long as g. */
const uint32_t *graph_links(const graph_t *g, uint32_t page, uint32_t *n);

/* Writes min(n, pages) distinct page indices into out, a deterministic function of (g, seed, n):
 * the same call always gives the same sample. Returns how many were written. */
uint32_t graph_sample(const graph_t *g, uint64_t seed, uint32_t n, uint32_t *out);

/* Marks every page reachable from start (start included) with 1 in mark[pages] and returns their
 * count. mark must hold graph_pages(g) bytes. Breadth-first, iterative. */
uint32_t graph_reachable(const graph_t *g, uint32_t start, uint8_t *mark);

/* Shape figures for /graph/stats and docs/GRAPH.md. */
typedef struct graph_shape {
    uint32_t pages;
    uint64_t edges;
    double mean_out_degree;
    uint32_t max_out_degree;
    uint32_t max_in_degree;
    uint32_t zero_in_degree;   /* pages no other page links to */
    uint32_t dangling;         /* pages with no out-links */
    size_t memory_bytes;       /* bytes held by the graph's arrays */
} graph_shape_t;

void graph_shape(const graph_t *g, graph_shape_t *out);

#endif
