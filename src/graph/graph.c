/* The graph's storage and every read-only query on it: CSR link arrays, the id blob, the open-addressing
 * index from id to page, sampling, reachability and the shape figures. The two constructors live in
 * gen.c (synthetic graph) and snap.c (SNAP edge lists) and build through graph__new/add_id/finish.
 *
 * Memory layout, for P pages and E links (docs/GRAPH.md has the measured sizes):
 *   link_off  uint64_t[P + 1]  page p's links are links[link_off[p] .. link_off[p + 1])
 *   links     uint32_t[E]      target page indices, in source order
 *   id_off    uint32_t[P + 1]  page p's id is id_blob + id_off[p], NUL-terminated
 *   id_blob   char[]           all ids back to back; at most 4 GiB, which is what lets id_off be 32 bits
 *   index     uint32_t[2^k]    page indices by id hash, linear probing, 2^k >= 2P so load <= 0.5
 * Link offsets are 64 bits because a generated graph may hold more than 4G links; page indices are 32
 * bits, with UINT32_MAX kept free as the index's empty-slot marker. */
#include "graph/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

#define INDEX_EMPTY UINT32_MAX

struct graph {
    uint32_t pages;
    uint32_t ids_added; /* pages whose id is in place; equals pages once built */
    uint64_t seed;
    char *source;

    uint64_t *link_off;
    uint32_t *links;

    uint32_t *id_off;
    char *id_blob;
    uint64_t id_cap; /* bytes allocated for id_blob */

    uint32_t *index;
    size_t index_mask; /* slots - 1 */

    /* Shape figures, computed once by graph__finish() so graph_shape() needs no memory. */
    uint32_t max_out_degree;
    uint32_t max_in_degree;
    uint32_t zero_in_degree;
    uint32_t dangling;
};

void graph__errf(char *err, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, GRAPH_ERR_LEN, fmt, ap);
    va_end(ap);
}

/* The index hash: whole 8-byte words through splitmix64's finalizer, with the length mixed in so
 * strings that differ only by trailing NULs cannot collide. Byte order makes the slots differ between
 * machines but never what graph_find() answers. */
static uint64_t id_hash(const char *s, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = rng_mix64(h ^ w);
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    return rng_mix64(h ^ w);
}

static int id_equal(const graph_t *g, uint32_t page, const char *id, size_t len) {
    uint32_t off = g->id_off[page];
    return g->id_off[page + 1] - off - 1 == len && memcmp(g->id_blob + off, id, len) == 0;
}

/* The first slot that is empty or holds a page with this id. Load <= 0.5 guarantees an empty slot. */
static size_t index_slot(const graph_t *g, const char *id, size_t len) {
    size_t i = (size_t)id_hash(id, len) & g->index_mask;
    while (g->index[i] != INDEX_EMPTY && !id_equal(g, g->index[i], id, len))
        i = (i + 1) & g->index_mask;
    return i;
}

graph_t *graph__new(uint32_t pages, uint64_t id_bytes, uint64_t seed, const char *source, char *err) {
    graph_t *g = NULL;
    if (pages == 0 || pages == UINT32_MAX) {
        graph__errf(err, "graph: %u pages is out of range (1 to %u)", pages, UINT32_MAX - 1);
        goto fail;
    }
    if (id_bytes > UINT32_MAX) {
        graph__errf(err, "graph: %u pages need %llu bytes of ids, more than the 4 GiB limit", pages,
                    (unsigned long long)id_bytes);
        goto fail;
    }
    if (!(g = calloc(1, sizeof(*g)))) goto oom;
    g->pages = pages;
    g->seed = seed;
    g->id_cap = id_bytes;
    size_t slots = 2;
    while (slots < 2 * (size_t)pages) slots *= 2;
    g->index_mask = slots - 1;
    if (!(g->source = strdup(source))) goto oom;
    if (!(g->id_off = malloc(((size_t)pages + 1) * sizeof(uint32_t)))) goto oom;
    if (!(g->id_blob = malloc(id_bytes ? id_bytes : 1))) goto oom;
    if (!(g->index = malloc(slots * sizeof(uint32_t)))) goto oom;
    memset(g->index, 0xff, slots * sizeof(uint32_t)); /* every slot INDEX_EMPTY */
    g->id_off[0] = 0;
    return g;

oom:
    graph__errf(err, "graph: out of memory for %u pages", pages);
fail:
    graph_free(g);
    return NULL;
}

int graph__add_id(graph_t *g, const char *id, size_t len) {
    if (g->ids_added == g->pages || len == 0 || len > GRAPH_ID_MAX) return -1;
    uint32_t off = g->id_off[g->ids_added];
    if (g->id_cap - off < len + 1) return -1;
    size_t slot = index_slot(g, id, len);
    if (g->index[slot] != INDEX_EMPTY) return 1;
    memcpy(g->id_blob + off, id, len);
    g->id_blob[off + len] = '\0';
    g->index[slot] = g->ids_added++;
    g->id_off[g->ids_added] = off + (uint32_t)len + 1;
    return 0;
}

int graph__finish(graph_t *g, uint64_t *link_off, uint32_t *links, char *err) {
    uint32_t *in = NULL;
    g->link_off = link_off;
    g->links = links;
    if (g->ids_added != g->pages) {
        graph__errf(err, "graph: internal error: %u of %u ids set", g->ids_added, g->pages);
        return -1;
    }
    /* In-degrees need one counter per page, so they are counted here, once, where a failure can
     * still be reported, rather than in graph_shape(). */
    if (!(in = calloc(g->pages, sizeof(uint32_t)))) {
        graph__errf(err, "graph: out of memory counting in-degrees of %u pages", g->pages);
        return -1;
    }
    for (uint32_t p = 0; p < g->pages; p++) {
        uint64_t deg = link_off[p + 1] - link_off[p];
        if (deg == 0) g->dangling++;
        if (deg > g->max_out_degree) g->max_out_degree = (uint32_t)deg;
        for (uint64_t k = link_off[p]; k < link_off[p + 1]; k++) in[links[k]]++;
    }
    for (uint32_t p = 0; p < g->pages; p++) {
        if (in[p] == 0) g->zero_in_degree++;
        if (in[p] > g->max_in_degree) g->max_in_degree = in[p];
    }
    free(in);
    return 0;
}

void graph_free(graph_t *g) {
    if (!g) return;
    free(g->source);
    free(g->link_off);
    free(g->links);
    free(g->id_off);
    free(g->id_blob);
    free(g->index);
    free(g);
}

uint32_t graph_pages(const graph_t *g) { return g->pages; }
uint64_t graph_edges(const graph_t *g) { return g->link_off[g->pages]; }
uint64_t graph_seed(const graph_t *g) { return g->seed; }
const char *graph_source(const graph_t *g) { return g->source; }

int64_t graph_find(const graph_t *g, const char *id, size_t len) {
    if (!id || len == 0 || len > GRAPH_ID_MAX) return -1;
    uint32_t page = g->index[index_slot(g, id, len)];
    return page == INDEX_EMPTY ? -1 : (int64_t)page;
}

const char *graph_id(const graph_t *g, uint32_t page, size_t *len) {
    if (page >= g->pages) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = g->id_off[page + 1] - g->id_off[page] - 1;
    return g->id_blob + g->id_off[page];
}

const uint32_t *graph_links(const graph_t *g, uint32_t page, uint32_t *n) {
    if (page >= g->pages) {
        *n = 0;
        return NULL;
    }
    /* A page's out-degree fits 32 bits: links to one page are distinct and pages < 2^32. */
    *n = (uint32_t)(g->link_off[page + 1] - g->link_off[page]);
    return g->links + g->link_off[page];
}

/* A keyed bijection on [0, n): a 4-round Feistel network on 2*half bits (2^(2*half) >= n) whose
 * round function is rng_hash3, with cycle-walking to stay below n. Walking from x < n always comes
 * back under n because the permutation's cycle through x contains x itself; the expected number of
 * walks is below 4 because the domain is less than 4n. */
static uint64_t sample_permute(uint64_t x, uint64_t seed, unsigned half, uint64_t n) {
    uint64_t mask = (1ULL << half) - 1;
    do {
        uint64_t l = x >> half, r = x & mask;
        for (uint64_t round = 0; round < 4; round++) {
            uint64_t t = l ^ (rng_hash3(seed, round, r) & mask);
            l = r;
            r = t;
        }
        x = (l << half) | r;
    } while (x >= n);
    return x;
}

/* The sample is the first min(n, pages) values of a seeded permutation of the pages. That makes it
 * distinct by construction, needs no memory, and makes a smaller sample a prefix of a larger one. */
uint32_t graph_sample(const graph_t *g, uint64_t seed, uint32_t n, uint32_t *out) {
    uint32_t m = n < g->pages ? n : g->pages;
    unsigned half = 1;
    while ((1ULL << (2 * half)) < g->pages) half++;
    for (uint32_t k = 0; k < m; k++) out[k] = (uint32_t)sample_permute(k, seed, half, g->pages);
    return m;
}

/* The fallback when no queue can be allocated: sweep the pages in index order, expanding every page
 * marked 2 (reached, links not yet followed) and marking its new targets 2, until a sweep finds
 * nothing new. Each link is still followed once; the cost is one extra pass over mark per sweep. */
static uint32_t reachable_by_sweeps(const graph_t *g, uint32_t start, uint8_t *mark) {
    uint32_t count = 1;
    int grew = 1;
    mark[start] = 2;
    while (grew) {
        grew = 0;
        for (uint32_t p = 0; p < g->pages; p++) {
            if (mark[p] != 2) continue;
            mark[p] = 1;
            for (uint64_t k = g->link_off[p]; k < g->link_off[p + 1]; k++) {
                if (mark[g->links[k]]) continue;
                mark[g->links[k]] = 2;
                count++;
                grew = 1;
            }
        }
    }
    return count;
}

/* mark is cleared first, so the count is exactly the pages reachable from start. Every page enters
 * the queue at most once, so pages slots are enough. */
uint32_t graph_reachable(const graph_t *g, uint32_t start, uint8_t *mark) {
    memset(mark, 0, g->pages);
    if (start >= g->pages) return 0;
    uint32_t *queue = malloc((size_t)g->pages * sizeof(uint32_t));
    if (!queue) return reachable_by_sweeps(g, start, mark);
    uint32_t head = 0, tail = 0;
    queue[tail++] = start;
    mark[start] = 1;
    while (head < tail) {
        uint32_t p = queue[head++];
        for (uint64_t k = g->link_off[p]; k < g->link_off[p + 1]; k++) {
            uint32_t t = g->links[k];
            if (mark[t]) continue;
            mark[t] = 1;
            queue[tail++] = t;
        }
    }
    free(queue);
    return tail;
}

void graph_shape(const graph_t *g, graph_shape_t *out) {
    size_t slots = g->index_mask + 1;
    memset(out, 0, sizeof(*out));
    out->pages = g->pages;
    out->edges = graph_edges(g);
    out->mean_out_degree = (double)out->edges / g->pages;
    out->max_out_degree = g->max_out_degree;
    out->max_in_degree = g->max_in_degree;
    out->zero_in_degree = g->zero_in_degree;
    out->dangling = g->dangling;
    out->memory_bytes = sizeof(*g) + strlen(g->source) + 1 +
                        ((size_t)g->pages + 1) * (sizeof(uint64_t) + sizeof(uint32_t)) +
                        (size_t)out->edges * sizeof(uint32_t) + (size_t)g->id_cap +
                        slots * sizeof(uint32_t);
}
