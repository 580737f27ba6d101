/* Graph statistics (src/analyze/gstats.h). The SCC search is Tarjan's, made iterative: each frame of
 * the explicit call stack holds a node and the position of its next unexplored link, which is all a
 * recursive call would keep. Components are found on the in-link CSR: reversing every link leaves the
 * strongly connected components unchanged. */
#include "analyze/gstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNSEEN UINT32_MAX

unsigned gstats_bucket(uint64_t degree) {
    unsigned k = 0;
    while (degree) degree >>= 1, k++;
    return k;
}

typedef struct scc_work {
    uint32_t *index, *low, *stack, *frame_v, *frame_e;
    uint8_t *on_stack;
} scc_work_t;

/* Pops one finished component (root v) off the node stack. Returns its size. */
static uint32_t scc_pop(scc_work_t *w, uint32_t *sp, uint32_t v, uint32_t id, uint32_t *comp) {
    uint32_t size = 0, x;
    do {
        x = w->stack[--*sp];
        w->on_stack[x] = 0;
        if (comp) comp[x] = id;
        size++;
    } while (x != v);
    return size;
}

/* One depth-first search from root r. */
static void scc_from(scc_work_t *w, const uint32_t *off, const uint32_t *dst, uint32_t r, uint32_t *next_index,
                     uint32_t *sp, uint32_t *comp, uint32_t *count, uint32_t *largest) {
    uint32_t fp = 0;
    w->frame_v[fp] = r, w->frame_e[fp++] = off[r];
    w->index[r] = w->low[r] = (*next_index)++;
    w->stack[(*sp)++] = r, w->on_stack[r] = 1;
    while (fp) {
        uint32_t v = w->frame_v[fp - 1];
        if (w->frame_e[fp - 1] < off[v + 1]) {
            uint32_t x = dst[w->frame_e[fp - 1]++];
            if (w->index[x] == UNSEEN) { /* "recurse" into x */
                w->frame_v[fp] = x, w->frame_e[fp++] = off[x];
                w->index[x] = w->low[x] = (*next_index)++;
                w->stack[(*sp)++] = x, w->on_stack[x] = 1;
            } else if (w->on_stack[x] && w->index[x] < w->low[v]) {
                w->low[v] = w->index[x];
            }
            continue;
        }
        fp--; /* v is done: "return" to its parent */
        if (w->low[v] == w->index[v]) {
            uint32_t size = scc_pop(w, sp, v, *count, comp);
            (*count)++;
            if (size > *largest) *largest = size;
        }
        if (fp && w->low[v] < w->low[w->frame_v[fp - 1]]) w->low[w->frame_v[fp - 1]] = w->low[v];
    }
}

int gstats_scc(uint32_t n, const uint32_t *off, const uint32_t *dst, uint32_t *comp, uint32_t *count,
               uint32_t *largest, char *err) {
    scc_work_t w = {0};
    int rc = -1;
    w.index = malloc((size_t)n * sizeof(uint32_t));
    w.low = malloc((size_t)n * sizeof(uint32_t));
    w.stack = malloc((size_t)n * sizeof(uint32_t));
    w.frame_v = malloc((size_t)n * sizeof(uint32_t));
    w.frame_e = malloc((size_t)n * sizeof(uint32_t));
    w.on_stack = calloc(n, 1);
    if (!w.index || !w.low || !w.stack || !w.frame_v || !w.frame_e || !w.on_stack) {
        if (err) snprintf(err, 256, "analyze: out of memory");
        goto done;
    }
    memset(w.index, 0xff, (size_t)n * sizeof(uint32_t));
    uint32_t next_index = 0, sp = 0;
    *count = *largest = 0;
    for (uint32_t r = 0; r < n; r++)
        if (w.index[r] == UNSEEN) scc_from(&w, off, dst, r, &next_index, &sp, comp, count, largest);
    rc = 0;
done:
    free(w.index);
    free(w.low);
    free(w.stack);
    free(w.frame_v);
    free(w.frame_e);
    free(w.on_stack);
    return rc;
}

/* Keeps list[0..*len) as the best `top` pages by (key desc, page asc); pages arrive in ascending order,
 * so an equal key never displaces an earlier page. */
static void top_insert(uint32_t *list, double *keys, uint32_t *len, uint32_t top, uint32_t page, double key) {
    if (*len == top && key <= keys[top - 1]) return;
    uint32_t i = *len < top ? (*len)++ : top - 1;
    while (i > 0 && keys[i - 1] < key) list[i] = list[i - 1], keys[i] = keys[i - 1], i--;
    list[i] = page, keys[i] = key;
}

int gstats_compute(const pgraph_t *pg, const double *rank, uint32_t top, gstats_t *out, char *err) {
    double krank[GSTATS_TOP_MAX], kin[GSTATS_TOP_MAX];
    uint32_t nr = 0, ni = 0;
    memset(out, 0, sizeof(*out));
    if (top > GSTATS_TOP_MAX) top = GSTATS_TOP_MAX;
    if (top > pg->n) top = pg->n;
    for (uint32_t p = 0; p < pg->n; p++) {
        uint32_t s = pg->slot_of[p], od = pg->out_deg[s];
        uint32_t id = pg->in_off[s + 1] - pg->in_off[s];
        out->in_hist[gstats_bucket(id)]++;
        out->out_hist[gstats_bucket(od)]++;
        if (id > out->max_in) out->max_in = (uint32_t)id;
        if (od > out->max_out) out->max_out = od;
        out->dangling += od == 0;
        out->zero_in += id == 0;
        if (top) {
            top_insert(out->top_rank, krank, &nr, top, p, rank[p]);
            top_insert(out->top_indeg, kin, &ni, top, p, (double)id);
        }
    }
    out->ntop = top;
    for (uint32_t i = 0; i < ni; i++) out->top_indeg_n[i] = (uint32_t)kin[i];
    return gstats_scc(pg->n, pg->in_off, pg->in_src, NULL, &out->scc_count, &out->scc_largest, err);
}
