/* Builds the pull-direction CSR of src/analyze/pgraph.h in three linear passes: count distinct
 * out-links (a stamp array finds a repeated target in O(1)), order the pages, then scatter each link
 * into its target's in-list. Sources are visited in slot order, so every in-list comes out ascending
 * without a sort, which is also the fixed summation order that makes PageRank bit-identical.
 *
 * Why relabel by in-degree: PageRank reads contrib[source] once per link, at random. Putting the
 * most-linked-to pages first packs the entries read most often into few cache lines, so most reads hit
 * L1/L2 (docs/ANALYZE.md measures what it buys). */
#include "analyze/pgraph.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

static void pg_errf(char *err, const char *what) {
    if (err) snprintf(err, 256, "analyze: %s", what);
}

const uint32_t *pg_out(const pgraph_t *pg, uint32_t page, uint32_t *n) {
    if (!pg->out_off) return graph_links(pg->g, page, n);
    *n = (uint32_t)(pg->out_off[page + 1] - pg->out_off[page]);
    return pg->out_dst + pg->out_off[page];
}

/* Counts distinct out-links per page into deg[]; builds the deduplicated copy only when some page
 * repeats a link. Returns the distinct link count, or UINT64_MAX when out of memory. */
static uint64_t pg_dedupe(pgraph_t *pg, uint32_t *deg) {
    uint32_t n = pg->n, *stamp = calloc(n, sizeof(uint32_t));
    uint64_t m = 0, raw = 0;
    if (!stamp) return UINT64_MAX;
    for (uint32_t u = 0; u < n; u++) {
        uint32_t k;
        const uint32_t *l = graph_links(pg->g, u, &k);
        deg[u] = 0;
        for (uint32_t i = 0; i < k; i++)
            if (stamp[l[i]] != u + 1) stamp[l[i]] = u + 1, deg[u]++;
        m += deg[u];
        raw += k;
    }
    if (m != raw) { /* keep the first occurrence of each target, in the graph's order */
        pg->out_off = malloc(((size_t)n + 1) * sizeof(uint64_t));
        pg->out_dst = malloc((size_t)m * sizeof(uint32_t));
        if (!pg->out_off || !pg->out_dst) m = UINT64_MAX;
        memset(stamp, 0, (size_t)n * sizeof(uint32_t));
        for (uint32_t u = 0, j = 0; m != UINT64_MAX && u < n; u++) {
            uint32_t k;
            const uint32_t *l = graph_links(pg->g, u, &k);
            pg->out_off[u] = j;
            for (uint32_t i = 0; i < k; i++)
                if (stamp[l[i]] != u + 1) stamp[l[i]] = u + 1, pg->out_dst[j++] = l[i];
            pg->out_off[u + 1] = j;
        }
    }
    free(stamp);
    return m;
}

/* page_of[] sorted by key (a degree), highest first; a counting sort (stable, so ties keep page
 * order). */
static int pg_order_by(pgraph_t *pg, const uint32_t *indeg) {
    uint32_t n = pg->n, maxd = 0;
    for (uint32_t v = 0; v < n; v++)
        if (indeg[v] > maxd) maxd = (uint32_t)indeg[v];
    uint32_t *start = calloc((size_t)maxd + 2, sizeof(uint32_t));
    if (!start) return -1;
    for (uint32_t v = 0; v < n; v++) start[maxd - indeg[v] + 1]++;
    for (uint32_t d = 0; d <= maxd; d++) start[d + 1] += start[d];
    for (uint32_t v = 0; v < n; v++) pg->page_of[start[maxd - indeg[v]]++] = v;
    free(start);
    return 0;
}

/* Scatters every distinct link into its target's in-list, sources in slot order. in_off[] holds
 * in-degrees by page on entry. */
static void pg_fill(pgraph_t *pg, uint32_t *cnt) {
    uint32_t n = pg->n;
    uint32_t *pos = pg->in_off; /* reused: counts by page -> start offsets by slot */
    uint32_t acc = 0;
    for (uint32_t v = 0; v < n; v++) cnt[v] = pos[v];
    for (uint32_t s = 0; s < n; s++) {
        pos[s] = acc;
        acc += cnt[pg->page_of[s]];
    }
    pos[n] = acc;
    for (uint32_t v = 0; v < n; v++) cnt[v] = pos[pg->slot_of[v]]; /* next free place, by page */
    for (uint32_t s = 0; s < n; s++) {
        uint32_t k, u = pg->page_of[s];
        const uint32_t *l = pg_out(pg, u, &k);
        for (uint32_t i = 0; i < k; i++) pg->in_src[cnt[l[i]]++] = s;
    }
}

/* Memory for the arrays PageRank streams through every iteration (in_off, in_src: 4 bytes a link),
 * in huge pages where the kernel gives them (transparent huge pages, "madvise" mode on Debian):
 * 512 times fewer TLB entries, and the hardware prefetcher, which stops at a page boundary, runs
 * on. Freed with free(). */
static void *big_alloc(size_t bytes) {
    const size_t huge = 2u << 20;
    if (bytes < huge) return malloc(bytes ? bytes : 1);
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, rounded);
    if (p) madvise(p, rounded, MADV_HUGEPAGE); /* advice: where it is refused, small pages work too */
    return p;
}

pgraph_t *pg_build(const graph_t *g, pg_order_t order, char *err) {
    uint32_t n = graph_pages(g);
    uint32_t *tmp = NULL;
    pgraph_t *pg = calloc(1, sizeof(*pg));
    if (!pg) goto oom;
    pg->g = g;
    pg->n = n;
    pg->nblocks = (n + PG_BLOCK - 1) / PG_BLOCK;
    pg->out_deg = malloc((size_t)n * sizeof(uint32_t));
    pg->slot_of = malloc((size_t)n * sizeof(uint32_t));
    pg->page_of = malloc((size_t)n * sizeof(uint32_t));
    if ((pg->in_off = big_alloc(((size_t)n + 1) * sizeof(uint32_t))))
        memset(pg->in_off, 0, ((size_t)n + 1) * sizeof(uint32_t));
    pg->work_prefix = calloc((size_t)pg->nblocks + 1, sizeof(uint64_t));
    tmp = calloc((size_t)n, sizeof(uint32_t));
    if (!pg->out_deg || !pg->slot_of || !pg->page_of || !pg->in_off || !pg->work_prefix || !tmp) goto oom;
    if ((pg->m = pg_dedupe(pg, pg->out_deg)) == UINT64_MAX) goto oom;
    if (pg->m == 0) {
        pg_errf(err, "the graph has no links");
        goto fail;
    }
    if (pg->m >= UINT32_MAX) {
        pg_errf(err, "more than 4294967294 distinct links");
        goto fail;
    }
    if (!(pg->in_src = big_alloc(pg->m * sizeof(uint32_t)))) goto oom;
    for (uint32_t u = 0; u < n; u++) { /* in-degrees by page */
        uint32_t k;
        const uint32_t *l = pg_out(pg, u, &k);
        for (uint32_t i = 0; i < k; i++) pg->in_off[l[i]]++;
    }
    if (order == PG_ORDER_INDEGREE) {
        if (pg_order_by(pg, pg->in_off) < 0) goto oom;
    } else if (order == PG_ORDER_OUTDEGREE) {
        for (uint32_t v = 0; v < n; v++) tmp[v] = pg->out_deg[v];
        if (pg_order_by(pg, tmp) < 0) goto oom;
    } else {
        for (uint32_t v = 0; v < n; v++) pg->page_of[v] = v;
    }
    for (uint32_t s = 0; s < n; s++) pg->slot_of[pg->page_of[s]] = s;
    pg_fill(pg, tmp);
    for (uint32_t s = 0; s < n; s++) tmp[s] = pg->out_deg[pg->page_of[s]]; /* page -> slot numbering */
    memcpy(pg->out_deg, tmp, (size_t)n * sizeof(uint32_t));
    free(tmp);
    tmp = NULL;
    for (uint32_t b = 0; b < pg->nblocks; b++) {
        uint32_t end = (b + 1) * PG_BLOCK < n ? (b + 1) * PG_BLOCK : n;
        pg->work_prefix[b + 1] = (uint64_t)PG_WORK_LINK * pg->in_off[end] + (uint64_t)PG_WORK_PAGE * end;
    }
    return pg;
oom:
    pg_errf(err, "out of memory");
fail:
    free(tmp);
    pg_free(pg);
    return NULL;
}

void pg_free(pgraph_t *pg) {
    if (!pg) return;
    free(pg->in_off);
    free(pg->in_src);
    free(pg->out_deg);
    free(pg->slot_of);
    free(pg->page_of);
    free(pg->work_prefix);
    free(pg->out_off);
    free(pg->out_dst);
    free(pg);
}

uint64_t pg_bytes(const pgraph_t *pg) {
    uint64_t b = ((uint64_t)pg->n + 1) * 4 + pg->m * 4 + (uint64_t)pg->n * 12 + ((uint64_t)pg->nblocks + 1) * 8;
    if (pg->out_off) b += ((uint64_t)pg->n + 1) * 8 + pg->m * 4;
    return b;
}
