/* `crawlbench analyze`: the guide's CPU-bound half (docs/ANALYZE.md). Loads or generates a graph,
 * then computes the guide's link score, PageRank and graph statistics with one of four models, and
 * prints a table or JSON. Every output is produced after all the work succeeded, so a failed run
 * writes nothing; --ranks goes through a temporary file and a rename. */
#include "analyze/exec.h"
#include "analyze/gstats.h"
#include "analyze/pagerank.h"
#include "analyze/pgraph.h"
#include "analyze/score.h"
#include "cli/cli.h"

#include "base/outfile.h"
#include "crawl/crawl.h"
#include "crawl/models/models.h"
#include "graph/graph.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char analyze_usage[] =
    "usage: crawlbench analyze [options]\n"
    "\n"
    "Computes the guide's link score (analyze_page_content), PageRank and graph statistics with one\n"
    "concurrency model. Results are bit-identical for every model and number of workers.\n"
    "\n"
    "input (one of):\n"
    "  --pages N --seed S --out-degree D   the graph 'crawlbench serve' builds (default 1000, 42, 8)\n"
    "  --graph FILE          a SNAP edge list (plain or .gz)\n"
    "  --crawl FILE          a saved crawl: 'PAGE_ID<TAB>LINK_ID LINK_ID ...' a line\n"
    "  --from URL            crawl that server first (every page reachable from a random one), then\n"
    "                        analyse what was fetched; --crawl-model M (default async),\n"
    "                        --crawl-concurrency N (default 16), --crawl-start ID (default random)\n"
    "work:\n"
    "  --model M             sequential (default), threads, processes or openmp\n"
    "  --workers N           workers for threads, processes, openmp (default 1; at most 8 per CPU)\n"
    "  --work K              repeat each link's score computation K times (default 1)\n"
    "  --tolerance X         stop PageRank when the L1 change falls below X (default 1e-8)\n"
    "  --max-iter N          at most N PageRank iterations (default 200)\n"
    "  --order O             page order in memory: indegree (default) or natural\n"
    "  --prefetch N          software prefetch distance in links, 0 for none (default 0)\n"
    "  --repeat R            benchmarks: run PageRank R times on the loaded graph, report the fastest\n"
    "  --sweep workers=LIST  then time PageRank for threads, processes and openmp at each worker count\n"
    "                        (e.g. workers=1,2,4): speedups against sequential, Amdahl's law fitted\n"
    "  --svg FILE            with --sweep: the speedup chart (default analyze-sweep.svg), atomically\n"
    "output:\n"
    "  --json                one JSON object instead of the table\n"
    "  --top N               pages in the top lists (default 10, at most 100)\n"
    "  --ranks FILE          write 'page_id rank' lines (17 significant digits), atomically\n"
    "\n"
    "Exit codes: 0 ok, 1 runtime failure (unreadable or malformed input, a worker died), 2 usage.\n";

enum {
    OPT_PAGES = 256, OPT_SEED, OPT_OUT_DEGREE, OPT_GRAPH, OPT_CRAWL, OPT_MODEL, OPT_WORKERS, OPT_WORK,
    OPT_TOL, OPT_MAXITER, OPT_ORDER, OPT_PREFETCH, OPT_JSON, OPT_TOP, OPT_RANKS, OPT_REPEAT,
    OPT_FROM, OPT_CRAWL_MODEL, OPT_CRAWL_CONC, OPT_CRAWL_START, OPT_SWEEP, OPT_SVG,
};

static const struct option analyze_options[] = {
    {"pages", required_argument, 0, OPT_PAGES},     {"seed", required_argument, 0, OPT_SEED},
    {"out-degree", required_argument, 0, OPT_OUT_DEGREE}, {"graph", required_argument, 0, OPT_GRAPH},
    {"crawl", required_argument, 0, OPT_CRAWL},     {"model", required_argument, 0, OPT_MODEL},
    {"workers", required_argument, 0, OPT_WORKERS}, {"work", required_argument, 0, OPT_WORK},
    {"tolerance", required_argument, 0, OPT_TOL},   {"max-iter", required_argument, 0, OPT_MAXITER},
    {"order", required_argument, 0, OPT_ORDER},     {"prefetch", required_argument, 0, OPT_PREFETCH},
    {"json", no_argument, 0, OPT_JSON},             {"top", required_argument, 0, OPT_TOP},
    {"ranks", required_argument, 0, OPT_RANKS},     {"repeat", required_argument, 0, OPT_REPEAT},
    {"from", required_argument, 0, OPT_FROM},       {"crawl-model", required_argument, 0, OPT_CRAWL_MODEL},
    {"crawl-concurrency", required_argument, 0, OPT_CRAWL_CONC}, {"crawl-start", required_argument, 0, OPT_CRAWL_START},
    {"sweep", required_argument, 0, OPT_SWEEP}, {"svg", required_argument, 0, OPT_SVG},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

#define SWEEP_MAX 16     /* worker counts in one sweep */
#define SWEEP_MODELS 3   /* threads, processes, openmp */
static const exec_model_t sweep_models[SWEEP_MODELS] = {EXEC_THREADS, EXEC_PROCESSES, EXEC_OPENMP};

typedef struct analyze_opts {
    graph_params_t gen;
    int gen_set;
    const char *graph_file, *crawl_file, *ranks_file, *crawl_model, *crawl_start;
    char from[256]; /* --from URL without trailing slashes, "" when not given */
    uint32_t crawl_concurrency;
    exec_model_t model;
    unsigned workers;
    uint32_t work, top, repeat;
    unsigned nsweep, sweep[SWEEP_MAX]; /* --sweep worker counts */
    const char *svg_file;
    pg_order_t order;
    pr_opts_t pr;
    int json;
} analyze_opts_t;

/* What a run measured, for the table and the JSON. */
typedef struct analyze_run {
    graph_t *g;
    pgraph_t *pg;
    double *rank;
    uint64_t score;
    pr_result_t pr;
    gstats_t st;
    double t_load, t_prepare, t_score, t_pagerank, t_stats;
    long rss_kib, child_rss_kib;
    /* --sweep: PageRank seconds, sequential and by model and worker count; Amdahl's serial fraction */
    double t_seq, t_sweep[SWEEP_MODELS][SWEEP_MAX], serial[SWEEP_MODELS];
} analyze_run_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_double(const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v <= min || v > max) {
        fprintf(stderr, "crawlbench: %s expects a number above %g and at most %g, not '%s'\n", opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "workers=1,2,4": up to SWEEP_MAX counts, each a valid --workers. */
static int parse_sweep(analyze_opts_t *o, const char *arg) {
    if (strncmp(arg, "workers=", 8) != 0)
        return cli_usage_error("analyze", "--sweep expects workers=LIST, like workers=1,2,4, not '%s'", arg);
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", arg + 8);
    o->nsweep = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t n;
        if (o->nsweep == SWEEP_MAX) return cli_usage_error("analyze", "--sweep: at most %d worker counts", SWEEP_MAX);
        if (cli_parse_u64("--sweep workers", t, 1, exec_max_workers(), &n)) return CLI_USAGE;
        o->sweep[o->nsweep++] = (unsigned)n;
    }
    return o->nsweep ? 0 : cli_usage_error("analyze", "--sweep: no worker counts in '%s'", arg);
}

/* One option; 0 when taken, CLI_USAGE when bad. */
static int analyze_option(analyze_opts_t *o, int opt, const char *arg, char **argv) {
    uint64_t n;
    switch (opt) {
    case OPT_PAGES: if (cli_parse_u64("--pages", arg, 1, 50000000, &n)) return CLI_USAGE; o->gen.pages = (uint32_t)n; o->gen_set = 1; return 0;
    case OPT_SEED: if (cli_parse_u64("--seed", arg, 0, UINT64_MAX, &n)) return CLI_USAGE; o->gen.seed = n; o->gen_set = 1; return 0;
    case OPT_OUT_DEGREE: if (cli_parse_u64("--out-degree", arg, 1, 1000, &n)) return CLI_USAGE; o->gen.out_degree = (uint32_t)n; o->gen_set = 1; return 0;
    case OPT_GRAPH: o->graph_file = arg; return 0;
    case OPT_CRAWL: o->crawl_file = arg; return 0;
    case OPT_FROM: {
        size_t len = strlen(arg);
        while (len && arg[len - 1] == '/') len--;
        if (strncmp(arg, "http://", 7) != 0 || len <= 7 || len >= sizeof(o->from) || strpbrk(arg, " \t\r\n?#"))
            return cli_usage_error("analyze", "'%s' is not a server URL like http://127.0.0.1:5000", arg);
        memcpy(o->from, arg, len);
        o->from[len] = '\0';
        return 0;
    }
    case OPT_CRAWL_MODEL:
        if (!models_find(arg)) return cli_usage_error("analyze", "unknown crawl model '%s'", arg);
        o->crawl_model = arg;
        return 0;
    case OPT_CRAWL_START: o->crawl_start = arg; return 0;
    case OPT_SVG: o->svg_file = arg; return 0;
    case OPT_SWEEP: return parse_sweep(o, arg);
    case OPT_CRAWL_CONC: if (cli_parse_u64("--crawl-concurrency", arg, 1, 100000, &n)) return CLI_USAGE; o->crawl_concurrency = (uint32_t)n; return 0;
    case OPT_MODEL:
        if (exec_model_parse(arg, &o->model) == 0) return 0;
        return cli_usage_error("analyze", "unknown model '%s' (sequential, threads, processes or openmp)", arg);
    case OPT_WORKERS: if (cli_parse_u64("--workers", arg, 1, exec_max_workers(), &n)) return CLI_USAGE; o->workers = (unsigned)n; return 0;
    case OPT_WORK: if (cli_parse_u64("--work", arg, 1, 1000000, &n)) return CLI_USAGE; o->work = (uint32_t)n; return 0;
    case OPT_TOL: return parse_double("--tolerance", arg, 0, 1, &o->pr.tolerance) ? CLI_USAGE : 0;
    case OPT_MAXITER: if (cli_parse_u64("--max-iter", arg, 1, 1000000, &n)) return CLI_USAGE; o->pr.max_iter = (uint32_t)n; return 0;
    case OPT_PREFETCH: if (cli_parse_u64("--prefetch", arg, 0, 1024, &n)) return CLI_USAGE; o->pr.prefetch = (uint32_t)n; return 0;
    case OPT_TOP: if (cli_parse_u64("--top", arg, 0, GSTATS_TOP_MAX, &n)) return CLI_USAGE; o->top = (uint32_t)n; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_REPEAT: if (cli_parse_u64("--repeat", arg, 1, 1000, &n)) return CLI_USAGE; o->repeat = (uint32_t)n; return 0;
    case OPT_RANKS: o->ranks_file = arg; return 0;
    case OPT_ORDER:
        if (!strcmp(arg, "indegree")) o->order = PG_ORDER_INDEGREE;
        else if (!strcmp(arg, "natural")) o->order = PG_ORDER_NATURAL;
        else if (!strcmp(arg, "outdegree")) o->order = PG_ORDER_OUTDEGREE;
        else return cli_usage_error("analyze", "unknown --order '%s' (indegree or natural)", arg);
        return 0;
    default: return cli_option_error("analyze", argv, opt);
    }
}

/* -1 for --help (done), 0 to run, CLI_USAGE. */
static int analyze_parse(int argc, char **argv, analyze_opts_t *o) {
    *o = (analyze_opts_t){.gen = {.seed = 42, .pages = 1000, .out_degree = 8}, .model = EXEC_SEQUENTIAL,
                          .workers = 1, .work = 1, .top = 10, .repeat = 1, .crawl_model = "async",
                          .crawl_concurrency = 16, .crawl_start = "random",
                          .svg_file = "analyze-sweep.svg", .order = PG_ORDER_INDEGREE,
                          .pr = {.damping = 0.85, .tolerance = 1e-8, .max_iter = 200, .prefetch = PR_PREFETCH}};
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", analyze_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(analyze_usage, stdout);
            return -1;
        }
        if ((rc = analyze_option(o, opt, optarg, argv))) return rc;
    }
    if (optind < argc) return cli_usage_error("analyze", "unexpected argument '%s'", argv[optind]);
    if ((o->graph_file != NULL) + (o->crawl_file != NULL) + (o->from[0] != 0) + o->gen_set > 1)
        return cli_usage_error("analyze", "choose one input: --graph, --crawl, --from, or --pages/--seed/--out-degree");
    if (o->model == EXEC_SEQUENTIAL && o->workers > 1)
        return cli_usage_error("analyze", "--workers is for threads, processes and openmp; sequential has one");
    return 0;
}

static int write_ranks(FILE *f, void *ctx) {
    const analyze_run_t *r = ctx;
    for (uint32_t p = 0; p < r->pg->n; p++) {
        size_t len;
        const char *id = graph_id(r->g, p, &len);
        if (fprintf(f, "%.*s %.17g\n", (int)len, id, r->rank[p]) < 0) return -1;
    }
    return 0;
}

/* --from: crawls the server with the chosen engine, then parses what was fetched, in memory, in
 * exactly the format `crawl --save-graph` writes. */
static graph_t *analyze_crawl_from(const analyze_opts_t *o, char *err) {
    const crawl_engine_t *e = models_find(o->crawl_model);
    crawl_config_t cfg = {
        .engine = e, .concurrency = o->crawl_concurrency < e->max_concurrency ? o->crawl_concurrency : e->max_concurrency,
        .max_pages = UINT64_MAX, .start = o->crawl_start, .seed = 1,
        .fetch = {.base_url = o->from, .timeout_us = 10000000, .max_attempts = 4, .backoff_us = 100000,
                  .backoff_max_us = 10000000}};
    crawl_result_t res;
    char *buf = NULL;
    size_t len = 0;
    graph_t *g = NULL;
    if (crawl_run(&cfg, &res, err) < 0) goto done;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, 256, "out of memory");
        goto done;
    }
    int rc = crawl_write_graph(f, &res);
    if (fclose(f) != 0 || rc < 0) snprintf(err, 256, "out of memory");
    else g = graph_parse_crawl(buf, len, o->from, err);
done:
    crawl_result_free(&res);
    free(buf);
    return g;
}

/* One PageRank run, timed; *best keeps the fastest (first: this is the first run). */
static int pr_timed(const analyze_opts_t *o, const pgraph_t *pg, exec_t *ex, double *rank, pr_result_t *res,
                    int first, double *best, char *err) {
    double t = now_s();
    if (pr_run(pg, ex, &o->pr, rank, res, err) < 0) return -1;
    t = now_s() - t;
    if (first || t < *best) *best = t;
    return 0;
}

/* Load, prepare, score, PageRank, statistics, each timed. -1 with err on failure. */
static int analyze_compute(const analyze_opts_t *o, analyze_run_t *r, char *err) {
    exec_t *ex = NULL;
    int rc = -1;
    double t = now_s();
    if (o->graph_file) r->g = graph_load_snap(o->graph_file, err);
    else if (o->crawl_file) r->g = graph_load_crawl(o->crawl_file, err);
    else if (o->from[0]) r->g = analyze_crawl_from(o, err);
    else r->g = graph_generate(&o->gen, err);
    if (!r->g) return -1;
    r->t_load = now_s() - t;
    t = now_s();
    if (!(r->pg = pg_build(r->g, o->order, err))) return -1;
    if (!(r->rank = malloc((size_t)r->pg->n * sizeof(double)))) {
        snprintf(err, 256, "out of memory");
        return -1;
    }
    if (!(ex = exec_new(o->model, o->workers, err))) return -1;
    r->t_prepare = now_s() - t;
    t = now_s();
    if (score_run(r->pg, ex, o->work, &r->score, err) < 0) goto done;
    r->t_score = now_s() - t;
    for (uint32_t k = 0; k < o->repeat; k++)
        if (pr_timed(o, r->pg, ex, r->rank, &r->pr, k == 0, &r->t_pagerank, err) < 0) goto done;
    exec_free(ex); /* its workers and job memory, before the statistics allocate theirs */
    ex = NULL;
    t = now_s();
    if (gstats_compute(r->pg, r->rank, o->top, &r->st, err) < 0) goto done;
    r->t_stats = now_s() - t;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) r->rss_kib = ru.ru_maxrss;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) r->child_rss_kib = ru.ru_maxrss;
    rc = 0;
done:
    exec_free(ex);
    return rc;
}

/* One configuration of the sweep: a model, its workers kept for every run, its fastest time. */
typedef struct sweep_cfg {
    exec_model_t m;
    unsigned w;
    exec_t *ex;
    double *best;
} sweep_cfg_t;

/* One PageRank run of c, timed; its ranks must be the bits of the main run's (a cheap end-to-end
 * check of bit-identity). */
static int sweep_time(const analyze_opts_t *o, const analyze_run_t *r, sweep_cfg_t *c, int first, double *rank,
                      char *err) {
    pr_result_t res;
    if (pr_timed(o, r->pg, c->ex, rank, &res, first, c->best, err) < 0) return -1;
    if (memcmp(rank, r->rank, (size_t)r->pg->n * sizeof(double)) != 0) {
        snprintf(err, 256, "internal error: %s with %u workers gave other ranks", exec_model_name(c->m), c->w);
        return -1;
    }
    return 0;
}

/* Times every configuration o->repeat times, keeping each one's fastest. The configurations take
 * turns, one run each per round, so that a machine whose speed drifts over seconds (turbo, other
 * guests on the host) slows them alike rather than whichever ran during a slow spell. */
static int sweep_times(const analyze_opts_t *o, analyze_run_t *r, char *err) {
    sweep_cfg_t cfg[1 + SWEEP_MODELS * SWEEP_MAX];
    unsigned n = 0;
    int rc = -1;
    double *rank = malloc((size_t)r->pg->n * sizeof(double));
    if (!rank) return snprintf(err, 256, "out of memory"), -1;
    cfg[n++] = (sweep_cfg_t){EXEC_SEQUENTIAL, 1, NULL, &r->t_seq};
    for (int m = 0; m < SWEEP_MODELS; m++)
        for (unsigned i = 0; i < o->nsweep; i++)
            cfg[n++] = (sweep_cfg_t){sweep_models[m], o->sweep[i], NULL, &r->t_sweep[m][i]};
    for (unsigned i = 0; i < n; i++)
        if (!(cfg[i].ex = exec_new(cfg[i].m, cfg[i].w, err))) goto done;
    for (uint32_t k = 0; k < o->repeat; k++)
        for (unsigned i = 0; i < n; i++)
            if (sweep_time(o, r, &cfg[i], k == 0, rank, err) < 0) goto done;
    rc = 0;
done:
    for (unsigned i = 0; i < n; i++) exec_free(cfg[i].ex);
    free(rank);
    return rc;
}

/* Amdahl's law, speedup(n) = 1 / (s + (1 - s) / n), fitted by least squares on 1/speedup, which is
 * linear in s: 1/S - 1/n = s (1 - 1/n). NAN without a point at n > 1. */
static double amdahl_fit(const unsigned *n, const double *speedup, unsigned k) {
    double num = 0, den = 0;
    for (unsigned i = 0; i < k; i++) {
        double x = 1 - 1.0 / n[i];
        num += (1 / speedup[i] - 1.0 / n[i]) * x;
        den += x * x;
    }
    return den > 0 ? num / den : NAN;
}

static int sweep_run(const analyze_opts_t *o, analyze_run_t *r, char *err) {
    if (sweep_times(o, r, err) < 0) return -1;
    for (int m = 0; m < SWEEP_MODELS; m++) {
        double speedup[SWEEP_MAX];
        for (unsigned i = 0; i < o->nsweep; i++) speedup[i] = r->t_seq / r->t_sweep[m][i];
        r->serial[m] = amdahl_fit(o->sweep, speedup, o->nsweep);
    }
    return 0;
}

static void print_sweep(const analyze_opts_t *o, const analyze_run_t *r) {
    printf("\nsweep: PageRank, the fastest of %u runs; speedup against sequential (%.4f s)\n", o->repeat, r->t_seq);
    printf("  %-10s %7s %10s %8s\n", "model", "workers", "seconds", "speedup");
    for (int m = 0; m < SWEEP_MODELS; m++)
        for (unsigned i = 0; i < o->nsweep; i++)
            printf("  %-10s %7u %10.4f %7.2fx\n", exec_model_name(sweep_models[m]), o->sweep[i], r->t_sweep[m][i],
                   r->t_seq / r->t_sweep[m][i]);
    printf("  Amdahl's law fitted, serial fraction:");
    int above = 0, below = 0;
    for (int m = 0; m < SWEEP_MODELS; m++) {
        printf(" %s %.3f", exec_model_name(sweep_models[m]), r->serial[m]);
        above |= r->serial[m] > 1;
        below |= r->serial[m] < 0;
    }
    /* Outside 0..1 no serial part explains the figures: say what does, beside the fitted number. */
    if (above)
        printf("\n  (above 1: more workers made it slower: on a graph this small, starting and joining the"
               "\n  workers each iteration dominates; or other work holds the CPUs)");
    if (below)
        printf("\n  (below 0: faster than linear: the runs vary more than the effect, or the workers' caches"
               "\n  together hold what one worker's could not)");
    printf("\n  chart: %s\n", o->svg_file);
}

/* The sweep chart, plain SVG by hand: speedup against workers, one line per model (dots measured,
 * dotted Amdahl fit), the ideal y = x dashed. */
typedef struct sweep_chart {
    const analyze_opts_t *o;
    const analyze_run_t *r;
} sweep_chart_t;

#define SX0 70.0
#define SX1 520.0
#define SY0 40.0
#define SY1 380.0

static int write_sweep_svg(FILE *f, void *ctx) {
    const sweep_chart_t *c = ctx;
    static const char *const colour[SWEEP_MODELS] = {"#0072B2", "#D55E00", "#009E73"};
    double xmax = 1, ymax = 1;
    for (unsigned i = 0; i < c->o->nsweep; i++) {
        if (c->o->sweep[i] > xmax) xmax = c->o->sweep[i];
        for (int m = 0; m < SWEEP_MODELS; m++) ymax = fmax(ymax, c->r->t_seq / c->r->t_sweep[m][i]);
    }
    ymax = ceil(fmax(ymax, xmax) * 1.1);
#define PX(x) (SX0 + ((x)-1) / (xmax > 1 ? xmax - 1 : 1) * (SX1 - SX0))
#define PY(y) (SY1 - (y) / ymax * (SY1 - SY0))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"440\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"720\" height=\"440\" fill=\"white\"/>\n"
               "<text x=\"%g\" y=\"22\" font-size=\"14\">PageRank speedup against sequential (%.4f s), %u pages</text>\n",
            SX0, c->r->t_seq, c->r->pg->n);
    for (double y = 0; y <= ymax; y += ymax > 10 ? ceil(ymax / 8) : 1)
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d8dee4\"/><text x=\"%g\" y=\"%.1f\" "
                   "text-anchor=\"end\">%gx</text>\n", SX0, SX1, PY(y), PY(y), SX0 - 6, PY(y) + 4, y);
    for (unsigned i = 0; i < c->o->nsweep; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%u</text>\n", PX(c->o->sweep[i]), SY1 + 18,
                c->o->sweep[i]);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">workers</text>\n", (SX0 + SX1) / 2, SY1 + 36);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#57606a\" stroke-dasharray=\"6 4\"/>\n",
            PX(1), PY(1), PX(xmax), PY(xmax));
    for (int m = 0; m < SWEEP_MODELS; m++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour[m]);
        for (unsigned i = 0; i < c->o->nsweep; i++)
            fprintf(f, "%.1f,%.1f ", PX(c->o->sweep[i]), PY(c->r->t_seq / c->r->t_sweep[m][i]));
        fprintf(f, "\"/>\n");
        for (unsigned i = 0; i < c->o->nsweep; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", PX(c->o->sweep[i]),
                    PY(c->r->t_seq / c->r->t_sweep[m][i]), colour[m]);
        double sf = c->r->serial[m];
        if (isfinite(sf)) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-dasharray=\"2 3\" points=\"", colour[m]);
            for (int k = 0; k <= 40; k++) {
                double n = 1 + (xmax - 1) * k / 40.0, sp = 1 / (sf + (1 - sf) / n);
                fprintf(f, "%.1f,%.1f ", PX(n), PY(fmin(fmax(sp, 0), ymax)));
            }
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "<rect x=\"540\" y=\"%d\" width=\"14\" height=\"4\" fill=\"%s\"/><text x=\"560\" y=\"%d\">%s, "
                   "serial %.3f</text>\n", 56 + 22 * m, colour[m], 62 + 22 * m, exec_model_name(sweep_models[m]), sf);
    }
    fprintf(f, "<text x=\"540\" y=\"%d\" fill=\"#57606a\">dashed: ideal</text>\n<text x=\"540\" y=\"%d\" "
               "fill=\"#57606a\">dotted: Amdahl's law fitted</text>\n</svg>\n",
            62 + 22 * SWEEP_MODELS, 80 + 22 * SWEEP_MODELS);
#undef PX
#undef PY
    return ferror(f) ? -1 : 0;
}

static double ns_per_edge_iter(const analyze_run_t *r) {
    double work = (double)r->pg->m * (r->pr.iterations ? r->pr.iterations : 1);
    return r->t_pagerank * 1e9 / work;
}

/* The histogram as "bucket: count" items, buckets up to the last non-empty one. */
static void print_hist(const char *name, const uint32_t *h) {
    unsigned last = 0;
    for (unsigned k = 0; k < GSTATS_BUCKETS; k++)
        if (h[k]) last = k;
    printf("  %-10s", name);
    for (unsigned k = 0; k <= last; k++) {
        if (k <= 1) printf(" %u:%u", k, h[k]);
        else printf(" %llu-%llu:%u", 1ULL << (k - 1), (1ULL << k) - 1, h[k]);
    }
    printf("\n");
}

static void print_table(const analyze_opts_t *o, const analyze_run_t *r) {
    const gstats_t *s = &r->st;
    printf("graph      %s: %u pages, %llu distinct links\n", graph_source(r->g), r->pg->n,
           (unsigned long long)r->pg->m);
    printf("model      %s, %u worker%s\n", exec_model_name(o->model), o->workers, o->workers > 1 ? "s" : "");
    printf("Total analysis score: %llu   (work %u)\n", (unsigned long long)r->score, o->work);
    printf("pagerank   %u iterations, L1 change %.3g, %s\n", r->pr.iterations, r->pr.l1,
           r->pr.converged ? "converged" : "NOT converged (max-iter reached)");
    printf("\nphase        seconds\n  load      %9.3f\n  prepare   %9.3f\n  score     %9.3f\n", r->t_load,
           r->t_prepare, r->t_score);
    printf("  pagerank  %9.3f   %.3f ns per link per iteration\n  stats     %9.3f\n", r->t_pagerank,
           ns_per_edge_iter(r), r->t_stats);
    printf("  peak RSS  %9.1f MiB\n", r->rss_kib / 1024.0);
    printf("\npages without out-links %u, without in-links %u; max out-degree %u, max in-degree %u\n",
           s->dangling, s->zero_in, s->max_out, s->max_in);
    printf("strongly connected components %u, the largest %u pages (%.1f%%)\n", s->scc_count, s->scc_largest,
           100.0 * s->scc_largest / r->pg->n);
    printf("degree distributions (degree range: pages)\n");
    print_hist("in", s->in_hist);
    print_hist("out", s->out_hist);
    if (!s->ntop) return;
    printf("\n%-4s %-34s %-22s %-34s %s\n", "#", "top by PageRank", "rank", "top by in-degree", "in-links");
    for (uint32_t i = 0; i < s->ntop; i++) {
        const char *a = graph_id(r->g, s->top_rank[i], NULL), *b = graph_id(r->g, s->top_indeg[i], NULL);
        printf("%-4u %-34s %-22.17g %-34s %u\n", i + 1, a, r->rank[s->top_rank[i]], b, s->top_indeg_n[i]);
    }
}

static cJSON *json_hist(const uint32_t *h) {
    unsigned last = 0;
    for (unsigned k = 0; k < GSTATS_BUCKETS; k++)
        if (h[k]) last = k;
    cJSON *a = cJSON_CreateArray();
    for (unsigned k = 0; a && k <= last; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(h[k]));
    return a;
}

static cJSON *json_top(const analyze_run_t *r, int by_rank) {
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < r->st.ntop; i++) {
        uint32_t p = by_rank ? r->st.top_rank[i] : r->st.top_indeg[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", graph_id(r->g, p, NULL));
        if (by_rank) cJSON_AddNumberToObject(e, "rank", r->rank[p]);
        else cJSON_AddNumberToObject(e, "in_degree", r->st.top_indeg_n[i]);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static cJSON *json_sweep(const analyze_opts_t *o, const analyze_run_t *r) {
    cJSON *sw = cJSON_CreateObject(), *runs = cJSON_CreateArray(), *serial = cJSON_CreateObject();
    cJSON_AddNumberToObject(sw, "sequential_seconds", r->t_seq);
    for (int m = 0; m < SWEEP_MODELS; m++) {
        for (unsigned i = 0; i < o->nsweep; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "model", exec_model_name(sweep_models[m]));
            cJSON_AddNumberToObject(e, "workers", o->sweep[i]);
            cJSON_AddNumberToObject(e, "seconds", r->t_sweep[m][i]);
            cJSON_AddNumberToObject(e, "speedup", r->t_seq / r->t_sweep[m][i]);
            cJSON_AddItemToArray(runs, e);
        }
        cJSON_AddNumberToObject(serial, exec_model_name(sweep_models[m]), r->serial[m]);
    }
    cJSON_AddItemToObject(sw, "runs", runs);
    cJSON_AddItemToObject(sw, "amdahl_serial_fraction", serial);
    return sw;
}

static int print_json(const analyze_opts_t *o, const analyze_run_t *r) {
    char raw[32];
    cJSON *j = cJSON_CreateObject(), *pr = cJSON_CreateObject(), *t = cJSON_CreateObject(), *st = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", exec_model_name(o->model));
    cJSON_AddNumberToObject(j, "workers", o->workers);
    cJSON_AddStringToObject(j, "source", graph_source(r->g));
    cJSON_AddNumberToObject(j, "pages", r->pg->n);
    cJSON_AddNumberToObject(j, "edges", (double)r->pg->m);
    snprintf(raw, sizeof(raw), "%llu", (unsigned long long)r->score); /* exact beyond 2^53 */
    cJSON_AddRawToObject(j, "score_total", raw);
    cJSON_AddNumberToObject(j, "work", o->work);
    cJSON_AddNumberToObject(pr, "iterations", r->pr.iterations);
    cJSON_AddBoolToObject(pr, "converged", r->pr.converged);
    cJSON_AddNumberToObject(pr, "l1", r->pr.l1);
    cJSON_AddNumberToObject(pr, "tolerance", o->pr.tolerance);
    cJSON_AddNumberToObject(pr, "damping", o->pr.damping);
    cJSON_AddNumberToObject(pr, "ns_per_edge_iteration", ns_per_edge_iter(r));
    cJSON_AddItemToObject(j, "pagerank", pr);
    cJSON_AddNumberToObject(t, "load", r->t_load);
    cJSON_AddNumberToObject(t, "prepare", r->t_prepare);
    cJSON_AddNumberToObject(t, "score", r->t_score);
    cJSON_AddNumberToObject(t, "pagerank", r->t_pagerank);
    cJSON_AddNumberToObject(t, "stats", r->t_stats);
    cJSON_AddItemToObject(j, "seconds", t);
    cJSON_AddNumberToObject(j, "ns_per_edge_iteration", ns_per_edge_iter(r));
    cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)r->rss_kib * 1024);
    cJSON_AddNumberToObject(j, "children_peak_rss_bytes", (double)r->child_rss_kib * 1024);
    cJSON_AddNumberToObject(j, "pgraph_bytes", (double)pg_bytes(r->pg));
    cJSON_AddNumberToObject(st, "dangling", r->st.dangling);
    cJSON_AddNumberToObject(st, "zero_in_degree", r->st.zero_in);
    cJSON_AddNumberToObject(st, "max_in_degree", r->st.max_in);
    cJSON_AddNumberToObject(st, "max_out_degree", r->st.max_out);
    cJSON_AddNumberToObject(st, "scc_count", r->st.scc_count);
    cJSON_AddNumberToObject(st, "scc_largest", r->st.scc_largest);
    cJSON_AddItemToObject(st, "in_degree_log2_hist", json_hist(r->st.in_hist));
    cJSON_AddItemToObject(st, "out_degree_log2_hist", json_hist(r->st.out_hist));
    cJSON_AddItemToObject(st, "top_by_rank", json_top(r, 1));
    cJSON_AddItemToObject(st, "top_by_in_degree", json_top(r, 0));
    cJSON_AddItemToObject(j, "stats", st);
    if (o->nsweep) cJSON_AddItemToObject(j, "sweep", json_sweep(o, r));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text) return -1;
    puts(text);
    cJSON_free(text);
    return 0;
}

int cli_analyze(int argc, char **argv) {
    analyze_opts_t o;
    analyze_run_t r = {0};
    char err[256] = "";
    int rc = analyze_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    rc = CLI_FAIL;
    if (analyze_compute(&o, &r, err) < 0) goto done;
    if (o.nsweep && sweep_run(&o, &r, err) < 0) goto done;
    if (o.ranks_file && outfile_write(o.ranks_file, write_ranks, &r, err, sizeof(err)) < 0) goto done;
    sweep_chart_t chart = {&o, &r};
    if (o.nsweep && outfile_write(o.svg_file, write_sweep_svg, &chart, err, sizeof(err)) < 0) goto done;
    if (o.json) {
        if (print_json(&o, &r) < 0) {
            snprintf(err, sizeof(err), "out of memory printing JSON");
            goto done;
        }
    } else {
        print_table(&o, &r);
        if (o.nsweep) print_sweep(&o, &r);
    }
    rc = CLI_OK;
done:
    if (rc != CLI_OK) fprintf(stderr, "crawlbench analyze: %s\n", err);
    free(r.rank);
    pg_free(r.pg);
    graph_free(r.g);
    return rc;
}
