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

/* Loads a saved crawl ("PAGE_ID<TAB>LINK_ID LINK_ID ..." a line; src/graph/crawlfile.c and
 * docs/ANALYZE.md give the format), with the same error style as the SNAP loader. */
graph_t *graph_load_crawl(const char *path, char *err);
graph_t *graph_parse_crawl(const char *buf, size_t len, const char *name, char *err);

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

/* ---- Internal to src/graph/: the constructors in gen.c and snap.c build a graph through these three
 * steps; no other module calls them. graph__new() allocates a graph of `pages` pages with room for
 * id_bytes bytes of ids (each id's length + 1), graph__add_id() appends the next page's id, and
 * graph__finish() hands over the CSR arrays and computes the shape figures. */
graph_t *graph__new(uint32_t pages, uint64_t id_bytes, uint64_t seed, const char *source, char *err);

/* 0 when added, 1 when another page already has this id (nothing added), -1 when it does not fit. */
int graph__add_id(graph_t *g, const char *id, size_t len);

/* Takes ownership of link_off[pages + 1] and links[link_off[pages]] whether it succeeds or not; on
 * failure the caller still owns g and frees it with graph_free(). Returns 0 or -1. */
int graph__finish(graph_t *g, uint64_t *link_off, uint32_t *links, char *err);

/* snprintf into err (GRAPH_ERR_LEN bytes), which may be NULL. */
void graph__errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
