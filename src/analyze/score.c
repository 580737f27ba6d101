/* The guide's link score (src/analyze/score.h) over the models of exec.h: one run, blocks of pages
 * split by out-links, a sum per block added in block order. */
#include "analyze/score.h"

#include <stdlib.h>

typedef struct score_state {
    const pgraph_t *pg;
    uint32_t work;
    uint64_t *blk; /* by block */
} score_state_t;

uint64_t score_link(const char *id, size_t len) {
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++) sum += (unsigned char)id[i];
    return sum * len;
}

static void score_blocks(void *ctx, uint32_t lo, uint32_t hi) {
    score_state_t *st = ctx;
    const pgraph_t *pg = st->pg;
    for (uint32_t b = lo; b < hi; b++) {
        uint32_t p0 = b * PG_BLOCK, p1 = p0 + PG_BLOCK < pg->n ? p0 + PG_BLOCK : pg->n;
        uint64_t sum = 0;
        for (uint32_t p = p0; p < p1; p++) {
            uint32_t k;
            const uint32_t *l = pg_out(pg, p, &k);
            for (uint32_t i = 0; i < k; i++) {
                size_t len;
                const char *id = graph_id(pg->g, l[i], &len);
                uint64_t s = 0;
                for (uint32_t w = 0; w < st->work; w++) {
                    /* Hide id from the optimiser so that each repetition is really computed. */
                    __asm__ volatile("" : "+r"(id));
                    s = score_link(id, len);
                }
                sum += s;
            }
        }
        st->blk[b] = sum;
    }
}

int score_run(const pgraph_t *pg, exec_t *ex, uint32_t work, uint64_t *total, char *err) {
    size_t bytes = sizeof(score_state_t) + (size_t)pg->nblocks * sizeof(uint64_t);
    uint64_t *prefix = calloc((size_t)pg->nblocks + 1, sizeof(uint64_t));
    char *mem = prefix ? exec_alloc(ex, bytes, err) : NULL;
    int rc = -1;
    if (!mem) {
        if (!prefix) exec__errf(err, "analyze: out of memory");
        free(prefix);
        return -1;
    }
    score_state_t *st = (score_state_t *)mem;
    *st = (score_state_t){pg, work ? work : 1, (uint64_t *)(mem + sizeof(score_state_t))};
    for (uint32_t b = 0; b < pg->nblocks; b++) { /* the split's weights: links of each block */
        uint32_t p0 = b * PG_BLOCK, p1 = p0 + PG_BLOCK < pg->n ? p0 + PG_BLOCK : pg->n, k;
        prefix[b + 1] = prefix[b] + (p1 - p0);
        for (uint32_t p = p0; p < p1; p++) prefix[b + 1] += (pg_out(pg, p, &k), k);
    }
    if (exec_begin(ex, pg->nblocks, prefix, err) < 0) goto done;
    rc = exec_run(ex, score_blocks, st, err);
    exec_end(ex);
    *total = 0;
    for (uint32_t b = 0; rc == 0 && b < pg->nblocks; b++) *total += st->blk[b];
done:
    exec_release(ex, mem);
    free(prefix);
    return rc;
}
