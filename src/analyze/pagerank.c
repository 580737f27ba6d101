/* PageRank (src/analyze/pagerank.h) over the models of exec.h. One exec run per iteration: each
 * worker pulls the new rank of its pages from the precomputed contributions rank[u] / outdeg[u]
 * (one random read per link, so a division per page instead of per link) and, while the page is in
 * a register, writes its next contribution and its block's L1 change and dangling mass. The caller's
 * thread then adds the block sums in block order and swaps the arrays.
 *
 * One array per iteration instead of two: val[v] is the contribution rank[v] / outdeg[v] of a page
 * with out-links, and the rank itself of a page without (no link reads it, so it is free to hold the
 * rank). The old rank, for the L1 change and the result, is val[v] * outdeg[v], which may differ from
 * the rank in the last bit but the same way for every model. Streaming 16 bytes less per page buys
 * speed (docs/ANALYZE.md).
 *
 * The per-link loop keeps four partial sums, because one running sum would make every link wait for
 * the previous addition (4 cycles each); the order within a page is still fixed. */
#include "analyze/pagerank.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Everything a worker reads or writes; lives in exec_alloc() memory so that forked workers see the
 * pointer swaps and the new base the caller makes between iterations. */
typedef struct pr_state {
    const pgraph_t *pg;
    double *val, *vnext; /* by slot, see above */
    double *blk_l1, *blk_dangling;         /* by block */
    double base, damping;                  /* base: (1 - d) / n + d * dangling / n */
    uint32_t prefetch;
} pr_state_t;

/* The sum of contrib over slot v's in-links, in list order split four ways. */
static inline double pr_sum(const uint32_t *src, uint32_t a, uint32_t b, const double *c) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const uint32_t *p = src + a, *end = src + b; /* pointers: no 32-bit index arithmetic per link */
    for (; end - p >= 4; p += 4) {
        s0 += c[p[0]];
        s1 += c[p[1]];
        s2 += c[p[2]];
        s3 += c[p[3]];
    }
    for (; p < end; p++) s0 += c[*p];
    return (s0 + s1) + (s2 + s3);
}

/* The rank a page's value stands for. */
static inline double pr_rank(double val, uint32_t deg) { return deg ? val * deg : val; }

/* Iteration body for blocks [lo, hi). */
static void pr_step(void *ctx, uint32_t lo, uint32_t hi) {
    pr_state_t *st = ctx;
    const pgraph_t *pg = st->pg;
    const uint32_t *off = pg->in_off, *src = pg->in_src, *deg = pg->out_deg;
    const double *c = st->val;
    double *next = st->vnext, base = st->base, d = st->damping;
    uint32_t pf = st->prefetch;
    for (uint32_t b = lo; b < hi; b++) {
        uint32_t v0 = b * PG_BLOCK, v1 = v0 + PG_BLOCK < pg->n ? v0 + PG_BLOCK : pg->n, eend = off[v1];
        double l1 = 0, dangling = 0;
        for (uint32_t v = v0; v < v1; v++) {
            if (pf) /* the sources a few links ahead: their cache lines arrive while we add */
                for (uint32_t e = off[v] + pf, stop = off[v + 1] + pf < eend ? off[v + 1] + pf : eend; e < stop; e++)
                    __builtin_prefetch(&c[src[e]]);
            double r = base + d * pr_sum(src, off[v], off[v + 1], c);
            uint32_t k = deg[v];
            l1 += fabs(r - pr_rank(c[v], k));
            if (k) next[v] = r / k;
            else next[v] = r, dangling += r;
        }
        st->blk_l1[b] = l1;
        st->blk_dangling[b] = dangling;
    }
}

/* Start: rank 1/n as values, and the dangling mass of each block. */
static void pr_init(void *ctx, uint32_t lo, uint32_t hi) {
    pr_state_t *st = ctx;
    const pgraph_t *pg = st->pg;
    double r = 1.0 / pg->n;
    for (uint32_t b = lo; b < hi; b++) {
        uint32_t v0 = b * PG_BLOCK, v1 = v0 + PG_BLOCK < pg->n ? v0 + PG_BLOCK : pg->n;
        double dangling = 0;
        for (uint32_t v = v0; v < v1; v++) {
            st->val[v] = pg->out_deg[v] ? r / pg->out_deg[v] : r;
            if (!pg->out_deg[v]) dangling += r;
        }
        st->blk_dangling[b] = dangling;
        st->blk_l1[b] = 0;
    }
}

static double pr_total(const double *blk, uint32_t nblocks) {
    double s = 0;
    for (uint32_t b = 0; b < nblocks; b++) s += blk[b];
    return s;
}

static void pr_swap(double **a, double **b) {
    double *t = *a;
    *a = *b;
    *b = t;
}

/* The iterations, once the job runs: between two runs only this thread touches the state. */
static int pr_iterate(const pgraph_t *pg, exec_t *ex, pr_state_t *st, const pr_opts_t *o, pr_result_t *res,
                      char *err) {
    if (exec_run(ex, pr_init, st, err) < 0) return -1;
    *res = (pr_result_t){0, 0, INFINITY};
    while (res->iterations < o->max_iter && !res->converged) {
        double dangling = pr_total(st->blk_dangling, pg->nblocks);
        st->base = (1.0 - o->damping) / pg->n + o->damping * dangling / pg->n;
        if (exec_run(ex, pr_step, st, err) < 0) return -1;
        res->l1 = pr_total(st->blk_l1, pg->nblocks);
        res->iterations++;
        res->converged = res->l1 < o->tolerance;
        pr_swap(&st->val, &st->vnext);
    }
    return 0;
}

int pr_run(const pgraph_t *pg, exec_t *ex, const pr_opts_t *o, double *rank, pr_result_t *res, char *err) {
    size_t vec = (size_t)pg->n * sizeof(double), blk = (size_t)pg->nblocks * sizeof(double);
    size_t bytes = sizeof(pr_state_t) + 2 * vec + 2 * blk;
    int rc = -1;
    char *mem = exec_alloc(ex, bytes, err);
    if (!mem) return -1;
    pr_state_t *st = (pr_state_t *)mem;
    double *arr = (double *)(mem + sizeof(pr_state_t));
    *st = (pr_state_t){.pg = pg, .val = arr, .vnext = arr + pg->n, .blk_l1 = arr + 2 * (size_t)pg->n,
                       .blk_dangling = arr + 2 * (size_t)pg->n + pg->nblocks, .damping = o->damping,
                       .prefetch = o->prefetch};
    if (exec_begin(ex, pg->nblocks, pg->work_prefix, err) < 0) goto done;
    rc = pr_iterate(pg, ex, st, o, res, err);
    exec_end(ex);
    if (rc == 0)
        for (uint32_t p = 0; p < pg->n; p++) {
            uint32_t v = pg->slot_of[p];
            rank[p] = pr_rank(st->val[v], pg->out_deg[v]);
        }
done:
    exec_release(ex, mem);
    return rc;
}
