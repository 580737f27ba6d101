/* Unit tests for src/analyze: PageRank against closed forms on small graphs, duplicate links counted
 * once, SCC on hand-made graphs and on million-node chains (no recursion), the guide's link score,
 * the work split by edges, bit-identical results for every model and worker count, and a dead
 * worker reported by the processes model. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/exec.h"
#include "analyze/gstats.h"
#include "analyze/pagerank.h"
#include "analyze/pgraph.h"
#include "analyze/score.h"
#include "graph/graph.h"

static const pr_opts_t tight = {.damping = 0.85, .tolerance = 1e-15, .max_iter = 1000};

static graph_t *snap(const char *text) {
    char err[GRAPH_ERR_LEN] = "";
    graph_t *g = graph_parse_snap(text, strlen(text), "test", err);
    cr_assert_not_null(g, "graph_parse_snap: %s", err);
    return g;
}

/* Ranks by page of g, sequential, in-degree order. */
static double *ranks_of(const graph_t *g, pr_result_t *res) {
    char err[256] = "";
    pgraph_t *pg = pg_build(g, PG_ORDER_INDEGREE, err);
    cr_assert_not_null(pg, "pg_build: %s", err);
    exec_t *ex = exec_new(EXEC_SEQUENTIAL, 1, err);
    double *rank = malloc(graph_pages(g) * sizeof(double));
    cr_assert(ex && rank);
    cr_assert_eq(pr_run(pg, ex, &tight, rank, res, err), 0, "pr_run: %s", err);
    exec_free(ex);
    pg_free(pg);
    return rank;
}

static double rank_of(const graph_t *g, const double *rank, const char *id) {
    int64_t p = graph_find(g, id, strlen(id));
    cr_assert_geq(p, 0, "no page %s", id);
    return rank[p];
}

Test(pagerank, two_cycle_is_uniform_and_converges_at_once) {
    graph_t *g = snap("0\t1\n1\t0\n");
    pr_result_t res;
    double *r = ranks_of(g, &res);
    cr_assert_eq(r[0], 0.5, "rank %.17g", r[0]);
    cr_assert_eq(r[1], 0.5, "rank %.17g", r[1]);
    cr_assert_eq(res.iterations, 1, "iterations %u", res.iterations);
    cr_assert(res.converged);
    free(r);
    graph_free(g);
}

/* Three pages link to a dangling page 0. By symmetry pages 1..3 share a rank a and page 0 has b;
 * a = (1-d)/4 + d*b/4 (teleport plus 0's rank spread) and b = a + 3*d*a. */
Test(pagerank, star_into_a_dangling_page_matches_the_closed_form) {
    graph_t *g = snap("1\t0\n2\t0\n3\t0\n");
    pr_result_t res;
    double *r = ranks_of(g, &res), d = 0.85;
    double a = (1 - d) / 4 / (1 - d / 4 * (1 + 3 * d)), b = a * (1 + 3 * d);
    cr_assert_float_eq(rank_of(g, r, "0"), b, 1e-13, "page 0: %.17g, expected %.17g", rank_of(g, r, "0"), b);
    static const char *const ids[] = {"1", "2", "3"};
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(rank_of(g, r, ids[i]), a, 1e-13, "page %s: %.17g, expected %.17g", ids[i],
                           rank_of(g, r, ids[i]), a);
    double sum = 0;
    for (uint32_t p = 0; p < 4; p++) sum += r[p];
    cr_assert_float_eq(sum, 1.0, 1e-14, "sum %.17g", sum);
    free(r);
    graph_free(g);
}

/* A graph made with the graph module's own builder, so that a page can repeat a link (the loaders
 * never produce that): 0 -> 1 twice, 1 -> 0, 1 -> 2, 2 -> 0. */
static graph_t *with_duplicates(int dup) {
    char err[GRAPH_ERR_LEN];
    graph_t *g = graph__new(3, 6, 0, "dup", err);
    cr_assert_not_null(g, "%s", err);
    graph__add_id(g, "a", 1), graph__add_id(g, "b", 1), graph__add_id(g, "c", 1);
    uint64_t *off = malloc(4 * sizeof(uint64_t));
    uint32_t *links = malloc(5 * sizeof(uint32_t)), k = 0;
    off[0] = 0;
    links[k++] = 1;
    if (dup) links[k++] = 1;
    off[1] = k;
    links[k++] = 0, links[k++] = 2, off[2] = k;
    links[k++] = 0, off[3] = k;
    cr_assert_eq(graph__finish(g, off, links, err), 0, "%s", err);
    return g;
}

Test(pagerank, a_repeated_link_counts_once) {
    graph_t *g1 = with_duplicates(1), *g0 = with_duplicates(0);
    char err[256];
    pgraph_t *pg = pg_build(g1, PG_ORDER_NATURAL, err);
    cr_assert_not_null(pg, "%s", err);
    cr_assert_eq(pg->m, 4, "distinct links %llu", (unsigned long long)pg->m);
    pg_free(pg);
    pr_result_t r1, r0;
    double *a = ranks_of(g1, &r1), *b = ranks_of(g0, &r0);
    cr_assert_eq(memcmp(a, b, 3 * sizeof(double)), 0, "ranks differ: %.17g vs %.17g", a[0], b[0]);
    cr_assert_eq(r1.iterations, r0.iterations);
    free(a), free(b);
    graph_free(g1), graph_free(g0);
}

Test(pagerank, max_iter_stops_without_converging) {
    graph_t *g = snap("1\t0\n2\t0\n3\t0\n0\t3\n");
    char err[256];
    pgraph_t *pg = pg_build(g, PG_ORDER_NATURAL, err);
    exec_t *ex = exec_new(EXEC_SEQUENTIAL, 1, err);
    pr_opts_t o = tight;
    o.max_iter = 3;
    double rank[4];
    pr_result_t res;
    cr_assert_eq(pr_run(pg, ex, &o, rank, &res, err), 0, "%s", err);
    cr_assert_eq(res.iterations, 3);
    cr_assert_not(res.converged, "converged after 3 iterations with l1 %g", res.l1);
    exec_free(ex);
    pg_free(pg);
    graph_free(g);
}

/* ---- strongly connected components ---- */

/* A chain 0 -> 1 -> ... -> n-1, closed into a cycle when `closed`. */
static void chain(uint32_t n, int closed, uint32_t **off, uint32_t **dst) {
    *off = malloc(((size_t)n + 1) * sizeof(uint32_t));
    *dst = malloc((size_t)n * sizeof(uint32_t));
    cr_assert(*off && *dst);
    uint32_t k = 0;
    for (uint32_t v = 0; v < n; v++) {
        (*off)[v] = k;
        if (v + 1 < n) (*dst)[k++] = v + 1;
        else if (closed) (*dst)[k++] = 0;
    }
    (*off)[n] = k;
}

Test(scc, million_node_chain_is_a_million_components) {
    uint32_t *off;
    uint32_t *dst, count, largest, n = 1000000;
    char err[256];
    chain(n, 0, &off, &dst);
    cr_assert_eq(gstats_scc(n, off, dst, NULL, &count, &largest, err), 0, "%s", err);
    cr_assert_eq(count, n, "components %u", count);
    cr_assert_eq(largest, 1, "largest %u", largest);
    free(off), free(dst);
}

Test(scc, million_node_cycle_is_one_component) {
    uint32_t *off;
    uint32_t *dst, count, largest, n = 1000000;
    char err[256];
    chain(n, 1, &off, &dst);
    uint32_t *comp = malloc(n * sizeof(uint32_t));
    cr_assert_eq(gstats_scc(n, off, dst, comp, &count, &largest, err), 0, "%s", err);
    cr_assert_eq(count, 1, "components %u", count);
    cr_assert_eq(largest, n, "largest %u", largest);
    cr_assert_eq(comp[0], comp[n - 1]);
    free(off), free(dst), free(comp);
}

/* Two cycles {0,1,2} and {3,4} joined one way (2 -> 3), and a lone 5 pointed at by 4. */
Test(scc, small_graph_components) {
    uint32_t off[] = {0, 1, 2, 4, 5, 7, 7};
    uint32_t dst[] = {1, 2, 0, 3, 4, 3, 5}, comp[6], count, largest;
    char err[256];
    cr_assert_eq(gstats_scc(6, off, dst, comp, &count, &largest, err), 0, "%s", err);
    cr_assert_eq(count, 3, "components %u", count);
    cr_assert_eq(largest, 3, "largest %u", largest);
    cr_assert(comp[0] == comp[1] && comp[1] == comp[2]);
    cr_assert(comp[3] == comp[4] && comp[3] != comp[0] && comp[5] != comp[3]);
}

Test(gstats, degrees_and_top_lists) {
    graph_t *g = snap("1\t0\n2\t0\n3\t0\n0\t3\n");
    pr_result_t res;
    double *r = ranks_of(g, &res);
    char err[256];
    pgraph_t *pg = pg_build(g, PG_ORDER_INDEGREE, err);
    gstats_t st;
    cr_assert_eq(gstats_compute(pg, r, 2, &st, err), 0, "%s", err);
    cr_assert_eq(st.max_in, 3);
    cr_assert_eq(st.zero_in, 2, "pages 1 and 2 have no in-links: %u", st.zero_in);
    cr_assert_eq(st.dangling, 0);
    cr_assert_eq(st.in_hist[0], 2);
    cr_assert_eq(st.in_hist[1], 1);
    cr_assert_eq(st.in_hist[2], 1);
    cr_assert_eq(st.top_indeg[0], (uint32_t)graph_find(g, "0", 1));
    cr_assert_eq(st.top_indeg_n[0], 3);
    cr_assert_eq(st.top_rank[0], (uint32_t)graph_find(g, "0", 1));
    cr_assert_eq(st.top_rank[1], (uint32_t)graph_find(g, "3", 1));
    cr_assert_eq(st.scc_count, 3, "{0,3}, {1}, {2}: %u", st.scc_count);
    pg_free(pg), free(r), graph_free(g);
}

/* ---- the guide's link score ---- */

Test(score, link_score_is_byte_sum_times_length) {
    cr_assert_eq(score_link("abc", 3), (uint64_t)(97 + 98 + 99) * 3);
    cr_assert_eq(score_link("Z", 1), 90);
}

Test(score, total_counts_distinct_links_and_ignores_work) {
    graph_t *g = with_duplicates(1); /* a -> b (twice), b -> a, b -> c, c -> a */
    char err[256];
    pgraph_t *pg = pg_build(g, PG_ORDER_INDEGREE, err);
    uint64_t expect = 98 + 97 + 99 + 97, t1, t7;
    for (int m = 0; m < EXEC_MODELS; m++) {
        exec_t *ex = exec_new((exec_model_t)m, m == EXEC_SEQUENTIAL ? 1 : 2, err);
        cr_assert_eq(score_run(pg, ex, 1, &t1, err), 0, "%s", err);
        cr_assert_eq(score_run(pg, ex, 7, &t7, err), 0, "%s", err);
        cr_assert_eq(t1, expect, "%s: %llu", exec_model_name((exec_model_t)m), (unsigned long long)t1);
        cr_assert_eq(t7, expect);
        exec_free(ex);
    }
    pg_free(pg), graph_free(g);
}

/* ---- the models ---- */

/* Each block records the start of the range that ran it; one writer per block, so no race. */
typedef struct split_rec {
    uint32_t owner[64];
    uint32_t runs[64];
} split_rec_t;

static void record_range(void *ctx, uint32_t lo, uint32_t hi) {
    split_rec_t *r = ctx;
    for (uint32_t b = lo; b < hi; b++) r->owner[b] = lo, r->runs[b]++;
}

/* Block 0 holds as much work as the 63 others together: with two workers it must be a chunk alone,
 * which a split by pages would not make it. */
Test(exec, work_is_split_by_edges_and_every_block_runs_once) {
    uint64_t prefix[65] = {0};
    for (int b = 0; b < 64; b++) prefix[b + 1] = prefix[b] + (b == 0 ? 63 : 1);
    char err[EXEC_ERR_LEN];
    for (int m = 1; m < EXEC_MODELS; m++) {
        exec_t *ex = exec_new((exec_model_t)m, 2, err);
        cr_assert_not_null(ex, "%s", err);
        split_rec_t *r = exec_alloc(ex, sizeof(*r), err);
        cr_assert_eq(exec_begin(ex, 64, prefix, err), 0, "%s", err);
        cr_assert_eq(exec_run(ex, record_range, r, err), 0, "%s", err);
        exec_end(ex);
        for (int b = 0; b < 64; b++) cr_assert_eq(r->runs[b], 1, "%s: block %d ran %u times", exec_model_name((exec_model_t)m), b, r->runs[b]);
        cr_assert_eq(r->owner[0], 0);
        cr_assert_eq(r->owner[1], 1, "%s: block 1 ran in the range starting at %u", exec_model_name((exec_model_t)m), r->owner[1]);
        exec_release(ex, r);
        exec_free(ex);
    }
}

/* The first chunk to start stalls until every other block is done: only workers that take chunks
 * in turn can finish them (a fixed range per worker leaves the stalled one's range undone, and the
 * wait times out). So one slowed worker does not hold up the run. */
typedef struct stall {
    _Atomic unsigned done;
    _Atomic int stalled, timed_out;
} stall_t;

/* Waits until *x reaches goal, for at most 10 s (a test must not hang); whether it did. */
static int reaches(_Atomic unsigned *x, unsigned goal) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while (atomic_load(x) < goal && t.tv_sec - t0.tv_sec < 10);
    return atomic_load(x) >= goal;
}

static void stall_first(void *ctx, uint32_t lo, uint32_t hi) {
    stall_t *s = ctx;
    int no = 0;
    if (atomic_compare_exchange_strong(&s->stalled, &no, 1) && !reaches(&s->done, 64 - (hi - lo)))
        atomic_store(&s->timed_out, 1);
    atomic_fetch_add(&s->done, hi - lo);
}

Test(exec, a_stalled_worker_leaves_its_share_to_the_others, .timeout = 60) {
    uint64_t prefix[65] = {0};
    for (int b = 0; b < 64; b++) prefix[b + 1] = prefix[b] + 1;
    char err[EXEC_ERR_LEN] = "";
    for (int m = 1; m < EXEC_MODELS; m++) {
        exec_t *ex = exec_new((exec_model_t)m, 2, err);
        stall_t *s = ex ? exec_alloc(ex, sizeof(*s), err) : NULL;
        cr_assert_not_null(s, "%s", err);
        cr_assert_eq(exec_begin(ex, 64, prefix, err), 0, "%s", err);
        cr_assert_eq(exec_run(ex, stall_first, s, err), 0, "%s", err);
        exec_end(ex);
        cr_assert_eq(atomic_load(&s->done), 64, "%s", exec_model_name((exec_model_t)m));
        cr_assert(!atomic_load(&s->timed_out), "%s: the stalled worker's blocks were left to it",
                  exec_model_name((exec_model_t)m));
        exec_release(ex, s);
        exec_free(ex);
    }
}

Test(exec, worker_counts_are_checked) {
    char err[EXEC_ERR_LEN] = "";
    cr_assert_null(exec_new(EXEC_THREADS, 0, err));
    cr_assert(strstr(err, "workers"), "%s", err);
    cr_assert_null(exec_new(EXEC_THREADS, exec_max_workers() + 1, err));
    exec_model_t m;
    cr_assert_eq(exec_model_parse("fibers", &m), -1);
    cr_assert_eq(exec_model_parse("openmp", &m), 0);
    cr_assert_eq(m, EXEC_OPENMP);
}

/* Dynamic scheduling lets a worker that starts first take every chunk; a test that needs every
 * worker to take part meets them first: each worker's first chunk of run `job` waits until all have
 * arrived. Bounded: after 10 s it goes on, and the test's assertions then say who never came. The
 * meeting lives in exec_alloc() memory, so forked workers count too. */
typedef struct meeting {
    _Atomic unsigned arrived;
    unsigned workers, job;
} meeting_t;

static _Thread_local unsigned met_job; /* per thread, and per process after a fork */

static void meet(meeting_t *m) {
    if (met_job == m->job) return;
    met_job = m->job;
    atomic_fetch_add(&m->arrived, 1);
    reaches(&m->arrived, m->workers);
}

static void meeting_start(meeting_t *m, unsigned workers) {
    static unsigned jobs;
    atomic_store(&m->arrived, 0);
    m->workers = workers;
    m->job = ++jobs;
}

static pid_t test_parent;

static void die_in_worker(void *ctx, uint32_t lo, uint32_t hi) {
    meet(ctx);
    if (getpid() != test_parent) raise(SIGKILL);
}

Test(exec, a_dead_worker_is_reported_not_waited_for) {
    uint64_t prefix[5] = {0, 1, 2, 3, 4};
    char err[EXEC_ERR_LEN] = "";
    test_parent = getpid();
    exec_t *ex = exec_new(EXEC_PROCESSES, 3, err);
    meeting_t *m = exec_alloc(ex, sizeof(*m), err);
    cr_assert_not_null(m, "%s", err);
    meeting_start(m, 3);
    cr_assert_eq(exec_begin(ex, 4, prefix, err), 0, "%s", err);
    cr_assert_eq(exec_run(ex, die_in_worker, m, err), -1);
    cr_assert(strstr(err, "died") && strstr(err, "Killed"), "message: %s", err);
    cr_assert_eq(exec_run(ex, record_range, NULL, err), -1, "a job whose worker died is over");
    exec_free(ex);
}

/* Each block records the process that ran it. */
typedef struct pid_rec {
    meeting_t m;
    pid_t pid[64];
} pid_rec_t;

static void record_pid(void *ctx, uint32_t lo, uint32_t hi) {
    pid_rec_t *r = ctx;
    meet(&r->m);
    for (uint32_t b = lo; b < hi; b++) r->pid[b] = getpid();
}

/* Runs record_pid over 64 blocks with 2 processes; returns the pid of the forked one. */
static pid_t run_record_pid(exec_t *ex, pid_rec_t *r, const uint64_t *prefix) {
    char err[EXEC_ERR_LEN] = "";
    meeting_start(&r->m, 2);
    cr_assert_eq(exec_begin(ex, 64, prefix, err), 0, "%s", err);
    cr_assert_eq(exec_run(ex, record_pid, r, err), 0, "%s", err);
    exec_end(ex);
    pid_t child = 0;
    int parent = 0;
    for (int b = 0; b < 64; b++) {
        if (r->pid[b] == getpid()) parent = 1;
        else if (!child) child = r->pid[b];
        else cr_assert_eq(r->pid[b], child, "blocks ran in three processes");
    }
    cr_assert(parent && child > 0, "the parent and a forked worker both ran blocks (%d, %d)", parent, (int)child);
    return child;
}

/* The processes are a pool: the next job reuses them and the memory released by the last one; a
 * mapping made after their fork (here: two at once) makes the next job fork them again, or the
 * children would fault on memory they never mapped and be reported dead. */
Test(exec, processes_serve_every_job_and_see_memory_mapped_after_their_fork) {
    uint64_t prefix[65] = {0};
    for (int b = 0; b < 64; b++) prefix[b + 1] = prefix[b] + 1;
    char err[EXEC_ERR_LEN] = "";
    exec_t *ex = exec_new(EXEC_PROCESSES, 2, err);
    cr_assert_not_null(ex, "%s", err);
    pid_rec_t *a = exec_alloc(ex, sizeof(*a), err);
    cr_assert_not_null(a, "%s", err);
    pid_t child = run_record_pid(ex, a, prefix);
    exec_release(ex, a);
    pid_rec_t *b = exec_alloc(ex, sizeof(*b), err);
    cr_assert_eq(b, a, "released job memory is handed out again");
    cr_assert_eq(run_record_pid(ex, b, prefix), child, "the same worker serves the next job");
    pid_rec_t *c = exec_alloc(ex, sizeof(*c), err);
    cr_assert(c && c != b, "%s", err);
    pid_t refork = run_record_pid(ex, c, prefix);
    cr_assert_neq(refork, child, "a new worker after a new mapping (was %d)", (int)child);
    exec_release(ex, b);
    exec_release(ex, c);
    exec_free(ex);
}

/* Every model and worker count gives the same bits: ranks, iterations and the score total. */
Test(exec, results_are_bit_identical_across_models_and_workers, .timeout = 120) {
    graph_params_t p = {.seed = 7, .pages = 30000, .out_degree = 6};
    char err[256];
    graph_t *g = graph_generate(&p, err);
    pgraph_t *pg = pg_build(g, PG_ORDER_INDEGREE, err);
    cr_assert(g && pg, "%s", err);
    pr_opts_t o = {.damping = 0.85, .tolerance = 1e-12, .max_iter = 200, .prefetch = 8};
    double *ref = malloc(p.pages * sizeof(double)), *r = malloc(p.pages * sizeof(double));
    double *again = malloc(p.pages * sizeof(double));
    pr_result_t rref, res;
    uint64_t sref = 0, s;
    static const unsigned workers[] = {1, 2, 3, 5, 8};
    for (int m = 0; m < EXEC_MODELS; m++)
        for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
            if (m == EXEC_SEQUENTIAL && w > 0) break;
            exec_t *ex = exec_new((exec_model_t)m, workers[w], err);
            cr_assert_not_null(ex, "%s", err);
            double *out = m == 0 ? ref : r;
            /* score first: PageRank then needs a larger mapping than the workers were forked with;
             * PageRank twice: the second reuses the first's memory, holding its last values */
            cr_assert_eq(score_run(pg, ex, 1, m == 0 ? &sref : &s, err), 0, "%s", err);
            cr_assert_eq(pr_run(pg, ex, &o, again, &res, err), 0, "%s", err);
            cr_assert_eq(pr_run(pg, ex, &o, out, m == 0 ? &rref : &res, err), 0, "%s", err);
            exec_free(ex);
            const char *name = exec_model_name((exec_model_t)m);
            cr_assert_eq(memcmp(again, out, p.pages * sizeof(double)), 0, "%s x%u: a repeated run differs", name,
                         workers[w]);
            if (m == 0) continue;
            cr_assert_eq(memcmp(ref, r, p.pages * sizeof(double)), 0, "%s x%u: ranks differ", name, workers[w]);
            cr_assert_eq(res.iterations, rref.iterations, "%s x%u: %u iterations, not %u", name, workers[w],
                         res.iterations, rref.iterations);
            cr_assert_eq(s, sref, "%s x%u: score", name, workers[w]);
        }
    cr_assert(rref.converged && rref.iterations > 5, "%u iterations", rref.iterations);
    free(ref), free(r), free(again);
    pg_free(pg), graph_free(g);
}
