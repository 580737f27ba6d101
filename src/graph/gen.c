/* The synthetic web graph: a deterministic function of (seed, pages, out_degree), byte-identical on
 * every machine because every decision is an integer drawn from base/rng.h (no floating point, no
 * libm, no platform rand()).
 *
 * The model is a Simon/Yule copying process, the simplest one known to give the web's heavy-tailed
 * in-degree. Pages are processed in index order. Page i first draws its out-degree d_i = 1 + a
 * geometric count with mean out_degree - 1 (capped at 16 * out_degree and at pages - 1). Then each of
 * its links picks a target either uniformly among ALL pages (probability 3/10) or by copying a
 * uniformly chosen entry of the links made so far. Copying an entry picks a page in proportion to
 * the in-links it already has, which is preferential attachment: in-degrees follow a power law with
 * exponent about 1 + 1/(1 - 3/10) = 2.4 (the web measures 2.1). Because targets range over all pages,
 * not just earlier ones, links point both forward and backward and a giant strongly connected core
 * forms; pages that no uniform draw hits (about e^-2.4 = 9% at out_degree 8) get no in-links at all,
 * and many more get only one or two, like the web's hard-to-find pages.
 *
 * A self-link or a second link to the same target is re-drawn, at most GEN_TRIES times; after that
 * (which at out_degree 8 happens to a few links per million, and often in tiny graphs) the link goes
 * to the first acceptable page at or after a uniform draw, so every page gets exactly d_i links.
 *
 * Changing anything here (constants, the order of draws, the id alphabet) changes every user's graph:
 * tests/unit/test_graph.c pins a checksum of the default graph to catch that. */
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "graph/graph.h"

#define GEN_UNIFORM_NUM 3 /* a link is uniform with probability 3/10, else copied */
#define GEN_UNIFORM_DEN 10
#define GEN_DEGREE_CAP 16 /* out-degree at most 16 * out_degree */
#define GEN_TRIES 16      /* draws per link before falling back to a scan */
#define GEN_ID_LEN 8      /* 62^8 = 2.2e14 ids: at a million pages, a collision in 500 graphs */
#define GEN_ID_ATTEMPTS 64
#define GEN_MAX_LINKS (1ULL << 34) /* pages * out_degree: 64 GiB of links; refused before drawing */

/* Distinct constants so the degree stream, the link stream and the ids are independent of one
 * another for the same seed. */
#define GEN_STREAM_DEGREES 0x6465677265657321ULL
#define GEN_STREAM_LINKS 0x6c696e6b73212121ULL

static const char gen_alphabet[62] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Ids are pure functions of (seed, page, attempt): 8 base-62 digits of one 64-bit hash (62^8 < 2^48,
 * so the digits come from well-mixed bits). A page whose id is taken draws again with attempt + 1;
 * since pages are named in index order that is deterministic too. */
static int gen_ids(graph_t *g, const graph_params_t *p, char *err) {
    char id[GEN_ID_LEN];
    for (uint32_t page = 0; page < p->pages; page++) {
        int rc = 1;
        for (uint64_t attempt = 0; rc == 1 && attempt < GEN_ID_ATTEMPTS; attempt++) {
            uint64_t h = rng_hash3(p->seed, page, attempt);
            for (int c = 0; c < GEN_ID_LEN; c++, h /= 62) id[c] = gen_alphabet[h % 62];
            rc = graph__add_id(g, id, GEN_ID_LEN);
        }
        if (rc != 0) {
            graph__errf(err, "graph: no free id for page %u", page);
            return -1;
        }
    }
    return 0;
}

/* Draws every page's out-degree into off[1..pages] and turns them into offsets (off[0] = 0).
 * The geometric count is a run of "continue" draws, each with probability (mean - 1) / mean, so its
 * cost is the degree itself: about as much work as drawing the links. */
static uint64_t gen_degrees(const graph_params_t *p, uint64_t *off) {
    uint64_t cap = (uint64_t)GEN_DEGREE_CAP * p->out_degree;
    if (cap > p->pages - 1) cap = p->pages - 1;
    rng_t r;
    rng_seed(&r, p->seed ^ GEN_STREAM_DEGREES);
    off[0] = 0;
    for (uint32_t i = 0; i < p->pages; i++) {
        uint64_t d = 1;
        while (d < cap && rng_below(&r, p->out_degree) != 0) d++;
        off[i + 1] = off[i] + (cap ? d : 0);
    }
    return off[p->pages];
}

/* One link target for page i, given links[0..w) made so far: uniform or copied, re-drawn while it is
 * i itself or already linked from i (stamp[t] == i + 1). The fallback scan always ends because page i
 * has fewer than pages - 1 links so far (its degree is capped at pages - 1). */
static uint32_t gen_target(rng_t *r, uint32_t pages, uint32_t i, const uint32_t *links, uint64_t w,
                           const uint32_t *stamp) {
    uint32_t to;
    for (int t = 0; t < GEN_TRIES; t++) {
        if (w == 0 || rng_below(r, GEN_UNIFORM_DEN) < GEN_UNIFORM_NUM)
            to = (uint32_t)rng_below(r, pages);
        else
            to = links[rng_below(r, w)];
        if (to != i && stamp[to] != i + 1) return to;
    }
    to = (uint32_t)rng_below(r, pages);
    while (to == i || stamp[to] == i + 1) to = to + 1 == pages ? 0 : to + 1;
    return to;
}

/* Draws the links page by page, in place: links[0..w) is both the finished part of the CSR array and
 * the urn the copying step draws from. stamp[] makes the duplicate check O(1) without clearing
 * anything between pages. */
static void gen_links(const graph_params_t *p, const uint64_t *off, uint32_t *links, uint32_t *stamp) {
    rng_t r;
    rng_seed(&r, p->seed ^ GEN_STREAM_LINKS);
    for (uint32_t i = 0; i < p->pages; i++) {
        for (uint64_t w = off[i]; w < off[i + 1]; w++) {
            links[w] = gen_target(&r, p->pages, i, links, w, stamp);
            stamp[links[w]] = i + 1;
        }
    }
}

/* params NULL means the defaults (seed 42, 1000 pages, 8 links per page). */
graph_t *graph_generate(const graph_params_t *params, char *err) {
    static const graph_params_t defaults = {.seed = 42, .pages = 1000, .out_degree = 8};
    const graph_params_t *p = params ? params : &defaults;
    graph_t *g = NULL;
    uint64_t *off = NULL;
    uint32_t *links = NULL, *stamp = NULL;

    if (p->pages == 0 || p->pages == UINT32_MAX) {
        graph__errf(err, "graph: pages must be between 1 and %u", UINT32_MAX - 1);
        goto fail;
    }
    if (p->out_degree == 0) {
        graph__errf(err, "graph: out_degree must be at least 1");
        goto fail;
    }
    if ((uint64_t)p->pages * p->out_degree > GEN_MAX_LINKS) {
        graph__errf(err, "graph: %u pages with %u links each is more than 2^34 links", p->pages,
                    p->out_degree);
        goto fail;
    }
    g = graph__new(p->pages, (uint64_t)p->pages * (GEN_ID_LEN + 1), p->seed, "generated", err);
    if (!g || gen_ids(g, p, err) < 0) goto fail;

    if (!(off = malloc(((size_t)p->pages + 1) * sizeof(uint64_t)))) goto oom;
    uint64_t edges = gen_degrees(p, off);
    if (edges > SIZE_MAX / sizeof(uint32_t) || !(links = malloc(edges ? edges * 4 : 1))) goto oom;
    if (!(stamp = calloc(p->pages, sizeof(uint32_t)))) goto oom;
    gen_links(p, off, links, stamp);
    free(stamp);
    stamp = NULL;
    int rc = graph__finish(g, off, links, err); /* owns off and links from here on */
    off = NULL;
    links = NULL;
    if (rc < 0) goto fail;
    return g;

oom:
    graph__errf(err, "graph: out of memory generating %u pages", p->pages);
fail:
    free(stamp);
    free(links);
    free(off);
    graph_free(g);
    return NULL;
}
