/* `crawlbench compare`: the guide's performance comparison as one command. Parses the options,
 * starts the embedded server when no URL is given, runs src/compare/ with a launcher that runs each
 * crawl as `crawlbench crawl ... --json`, prints the table and writes the reports, all or nothing:
 * the files are written under temporary names and renamed only once every one of them is complete. */
#include "cli/cli.h"
#include "compare/compare.h"
#include "crawl/models/models.h"
#include "crawl/page.h"
#include "graph/graph.h"
#include "server/fault.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char compare_usage[] =
    "usage: crawlbench compare [BASE_URL] [options]\n"
    "\n"
    "Crawls the same pages with every concurrency model, from the same start page with the same cap,\n"
    "repeats each run, and reports them side by side: a table on stdout, and compare.json,\n"
    "compare.csv, compare.md, compare.svg and report.html in --out. Without BASE_URL it starts its\n"
    "own server (the default graph with --latency) on a free port, and stops it afterwards.\n"
    "\n"
    "  --models a,b,c        models to run (default: all; crawlbench crawl --list-models)\n"
    "  --concurrency N       transfers in flight per model (default 10; sequential always 1)\n"
    "  --sweep concurrency=1,2,4,...  run each model at each level instead (a line chart)\n"
    "  --max-pages K         pages per crawl (default 200)\n"
    "  --repeat N            measured runs per model and level (default 3)\n"
    "  --warmup N            discarded runs before them (default 1)\n"
    "  --start ID            start page (default: one random page, the same for every run)\n"
    "  --out DIR             where the reports go (default .)\n"
    "  --run-timeout DUR     a crawl running longer fails the comparison (default 300s)\n"
    "  --regime R            the lesson the reports draw from the runs, and the figure the chart plots:\n"
    "                        latency (pages/s), cpu (pages per CPU-second), conns (KiB per request in\n"
    "                        flight, p99), faults (the same pages for every model, a different time)\n"
    "  --tour [--quick]      every regime in turn and the CPU-bound analysis, each report in a folder\n"
    "                        of --out and a tour page, --out/report.html (make demo); --quick: smaller\n"
    "  --progress, --no-progress   progress on stderr (default: if a terminal)\n"
    "embedded server only:\n"
    "  --pages N             pages in the graph (default 1000)\n"
    "  --seed N              graph seed (default 42)\n"
    "  --latency SPEC        per-request latency, as for serve (default 20ms)\n"
    "  --faults SPEC         fault rates, as for serve (e.g. 500:0.2,reset:0.1; default none)\n"
    "  --fail-first K        fail the first K requests for every page with a 503, then succeed\n"
    "  --retry-after SECS    Retry-After sent with 429 and 503 (default 1)\n"
    "\n"
    "Exit codes: 0 ok, 1 runtime failure (server unreachable or not crawlbench, a crawl failed),\n"
    "2 usage error.\n";

enum { OPT_MODELS = 256, OPT_CONC, OPT_SWEEP, OPT_MAX_PAGES, OPT_REPEAT, OPT_WARMUP, OPT_START, OPT_OUT,
       OPT_TIMEOUT, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_PAGES, OPT_SEED, OPT_LATENCY, OPT_FAULTS, OPT_FAIL_FIRST,
       OPT_REGIME, OPT_RETRY_AFTER };

static const struct option compare_options[] = {
    {"models", required_argument, 0, OPT_MODELS},   {"concurrency", required_argument, 0, OPT_CONC},
    {"sweep", required_argument, 0, OPT_SWEEP},     {"max-pages", required_argument, 0, OPT_MAX_PAGES},
    {"repeat", required_argument, 0, OPT_REPEAT},   {"warmup", required_argument, 0, OPT_WARMUP},
    {"start", required_argument, 0, OPT_START},     {"out", required_argument, 0, OPT_OUT},
    {"run-timeout", required_argument, 0, OPT_TIMEOUT}, {"progress", no_argument, 0, OPT_PROGRESS},
    {"no-progress", no_argument, 0, OPT_NO_PROGRESS}, {"pages", required_argument, 0, OPT_PAGES},
    {"seed", required_argument, 0, OPT_SEED},       {"latency", required_argument, 0, OPT_LATENCY},
    {"faults", required_argument, 0, OPT_FAULTS},   {"fail-first", required_argument, 0, OPT_FAIL_FIRST},
    {"regime", required_argument, 0, OPT_REGIME},   {"retry-after", required_argument, 0, OPT_RETRY_AFTER},
    {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0},
};

typedef struct compare_opts {
    compare_config_t cfg;
    uint32_t pages;     /* the embedded server's graph, latency and faults */
    uint64_t seed;
    const char *latency;
    fault_plan_t faults;
    uint32_t retry_after_s;
    char models_buf[512];
    const char *out_dir;
    char url[256];
    int embedded_only; /* an embedded-server option was given */
} compare_opts_t;

/* "a,b,c": known models, no repeats. */
static int parse_models(compare_opts_t *o, const char *v) {
    if (strlen(v) >= sizeof(o->models_buf)) return cli_usage_error("compare", "--models: list too long");
    strcpy(o->models_buf, v);
    o->cfg.nmodels = 0;
    for (char *save = NULL, *m = strtok_r(o->models_buf, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (!models_find(m))
            return cli_usage_error("compare", "--models: unknown model '%s' (see crawlbench crawl --list-models)", m);
        for (size_t i = 0; i < o->cfg.nmodels; i++)
            if (!strcmp(o->cfg.models[i], m)) return cli_usage_error("compare", "--models: '%s' twice", m);
        if (o->cfg.nmodels == COMPARE_MAX_MODELS) return cli_usage_error("compare", "--models: too many");
        o->cfg.models[o->cfg.nmodels++] = m;
    }
    if (!o->cfg.nmodels || v[strlen(v) - 1] == ',' || v[0] == ',' || strstr(v, ",,"))
        return cli_usage_error("compare", "--models: expected a comma-separated list like sequential,threads");
    return 0;
}

/* "concurrency=1,2,4": increasing levels from 1 to 100000. */
static int parse_sweep(compare_opts_t *o, const char *v) {
    const char *p = v;
    if (strncmp(p, "concurrency=", 12) != 0)
        return cli_usage_error("compare", "--sweep: expected concurrency=1,2,4,... not '%s'", v);
    p += 12;
    o->cfg.nlevels = 0;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9') goto bad;
        errno = 0;
        unsigned long n = strtoul(p, &end, 10);
        if (errno || n < 1 || n > 100000 || (*end && *end != ',') || (*end == ',' && !end[1])) goto bad;
        if (o->cfg.nlevels && n <= o->cfg.levels[o->cfg.nlevels - 1])
            return cli_usage_error("compare", "--sweep: levels must increase ('%s')", v);
        if (o->cfg.nlevels == COMPARE_MAX_LEVELS) return cli_usage_error("compare", "--sweep: at most 32 levels");
        o->cfg.levels[o->cfg.nlevels++] = (uint32_t)n;
        p = *end ? end + 1 : end;
    }
    if (!o->cfg.nlevels) goto bad;
    o->cfg.sweep = 1;
    return 0;
bad:
    return cli_usage_error("compare", "--sweep: '%s' does not parse: expected concurrency=1,2,4,... "
                           "(whole numbers from 1 to 100000)", v);
}

static int apply(compare_opts_t *o, int opt, const char *v) {
    compare_config_t *c = &o->cfg;
    uint64_t n;
    char err[160];
    fault_latency_t lat;
    switch (opt) {
    case OPT_MODELS: return parse_models(o, v);
    case OPT_SWEEP: return parse_sweep(o, v);
    case OPT_CONC:
        if (cli_parse_u64("--concurrency", v, 1, 100000, &n)) return CLI_USAGE;
        c->levels[0] = (uint32_t)n, c->nlevels = 1, c->sweep = 0;
        return 0;
    case OPT_MAX_PAGES: if (cli_parse_u64("--max-pages", v, 1, UINT64_MAX, &n)) return CLI_USAGE; c->max_pages = n; return 0;
    case OPT_REPEAT: if (cli_parse_u64("--repeat", v, 1, 64, &n)) return CLI_USAGE; c->repeat = (uint32_t)n; return 0;
    case OPT_WARMUP: if (cli_parse_u64("--warmup", v, 0, 100, &n)) return CLI_USAGE; c->warmup = (uint32_t)n; return 0;
    case OPT_START:
        if (!page_id_valid(v, strlen(v))) return cli_usage_error("compare", "--start: '%s' is not a page id", v);
        c->start = v;
        return 0;
    case OPT_OUT: o->out_dir = v; return 0;
    case OPT_TIMEOUT:
        if (units_duration_parse(v, strlen(v), &c->run_timeout_us, err, sizeof(err)) < 0 || !c->run_timeout_us)
            return cli_usage_error("compare", "--run-timeout: %s", c->run_timeout_us ? err : "must be above zero");
        return 0;
    case OPT_PROGRESS: c->progress = 1; return 0;
    case OPT_NO_PROGRESS: c->progress = 0; return 0;
    case OPT_PAGES: o->embedded_only = 1; if (cli_parse_u64("--pages", v, 1, 50000000, &n)) return CLI_USAGE; o->pages = (uint32_t)n; return 0;
    case OPT_SEED: o->embedded_only = 1; if (cli_parse_u64("--seed", v, 0, UINT64_MAX, &n)) return CLI_USAGE; o->seed = n; return 0;
    case OPT_LATENCY:
        o->embedded_only = 1;
        if (fault_latency_parse(v, strlen(v), &lat, err, sizeof(err)) < 0) return cli_usage_error("compare", "--latency: %s", err);
        o->latency = v;
        return 0;
    case OPT_FAULTS:
        o->embedded_only = 1;
        if (fault_plan_parse(v, strlen(v), &o->faults, err, sizeof(err)) < 0) return cli_usage_error("compare", "--faults: %s", err);
        return 0;
    case OPT_FAIL_FIRST:
        o->embedded_only = 1;
        if (cli_parse_u64("--fail-first", v, 0, 1000000, &n)) return CLI_USAGE;
        o->faults.fail_first = (uint32_t)n;
        return 0;
    case OPT_RETRY_AFTER:
        o->embedded_only = 1;
        if (cli_parse_u64("--retry-after", v, 0, 86400, &n)) return CLI_USAGE;
        o->retry_after_s = (uint32_t)n;
        return 0;
    case OPT_REGIME:
        if (compare_regime_parse(v, &c->regime) < 0 || c->regime == COMPARE_REGIME_NONE)
            return cli_usage_error("compare", "--regime: '%s' is not one of latency, cpu, conns, faults", v);
        return 0;
    }
    return CLI_USAGE;
}

static int parse(int argc, char **argv, compare_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->cfg = (compare_config_t){.levels = {10}, .nlevels = 1, .repeat = 3, .warmup = 1, .max_pages = 200,
                                .run_timeout_us = 300000000, .progress = isatty(2)};
    o->pages = 1000, o->seed = 42, o->latency = "20ms", o->retry_after_s = 1;
    o->out_dir = ".";
    optind = 0; /* 0, not 1: glibc's getopt then forgets the last vector it permuted (the tour parses several) */
    opterr = 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, ":h", compare_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(compare_usage, stdout);
            return -1;
        }
        if (opt == '?' || opt == ':') return cli_option_error("compare", argv, opt);
        if ((rc = apply(o, opt, optarg))) return rc;
    }
    if (optind < argc) {
        const char *u = argv[optind++];
        size_t len = strlen(u);
        while (len && u[len - 1] == '/') len--;
        if (strncmp(u, "http://", 7) != 0 || len <= 7 || len >= sizeof(o->url) || strpbrk(u, " \t\r\n?#"))
            return cli_usage_error("compare", "'%s' is not a server URL like http://127.0.0.1:5000", u);
        memcpy(o->url, u, len);
        o->url[len] = '\0';
        o->cfg.url = o->url;
        if (o->embedded_only)
            return cli_usage_error("compare", "--pages, --seed, --latency, --faults, --fail-first and --retry-after are "
                                   "for the "
                                   "embedded server; "
                                   "with BASE_URL they are that server's own options");
    }
    if (optind < argc) return cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!o->cfg.nmodels)
        for (const crawl_engine_t *const *e = models_all; *e && o->cfg.nmodels < COMPARE_MAX_MODELS; e++)
            o->cfg.models[o->cfg.nmodels++] = (*e)->name;
    struct stat st;
    if (stat(o->out_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error("compare", "--out: '%s' is not a directory", o->out_dir);
    return 0;
}

/* The reports, each written to a temporary name first. */
static const struct {
    const char *name;
    int (*write)(FILE *, const compare_report_t *);
} reports[] = {
    {"compare.json", compare_write_json}, {"compare.csv", compare_write_csv}, {"compare.md", compare_write_markdown},
    {"compare.svg", compare_write_svg},   {"report.html", compare_write_html},
};
#define NREPORTS (sizeof(reports) / sizeof(reports[0]))

static int write_reports(const char *dir, const compare_report_t *r) {
    char tmp[NREPORTS][PATH_MAX], final[NREPORTS][PATH_MAX];
    size_t done = 0;
    for (; done < NREPORTS; done++) {
        snprintf(final[done], PATH_MAX, "%s/%s", dir, reports[done].name);
        snprintf(tmp[done], PATH_MAX, "%s/.%s.tmp", dir, reports[done].name);
        FILE *f = fopen(tmp[done], "w");
        int ok = f && reports[done].write(f, r) == 0;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) {
            fprintf(stderr, "crawlbench compare: cannot write %s: %s\n", tmp[done], strerror(errno));
            for (size_t i = 0; i <= done; i++) unlink(tmp[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < NREPORTS; i++) rename(tmp[i], final[i]);
    return 0;
}

/* Runs one crawl as `crawlbench crawl URL -m M -c N --start ID --max-pages K --json`, stdout to a
 * pipe. Crawls run this very binary through /proc/self/exe, which still names it if the file on
 * disk is replaced (by a rebuild) while the comparison runs. */
static pid_t launch_crawl(const compare_job_t *job, void *arg, int *out_fd, char *err, size_t errlen) {
    char conc[16], cap[24];
    snprintf(conc, sizeof(conc), "%u", job->concurrency);
    snprintf(cap, sizeof(cap), "%llu", (unsigned long long)job->max_pages);
    char *argv[] = {"crawlbench", "crawl", (char *)job->url, "-m", (char *)job->model, "-c", conc, "--start",
                    (char *)job->start, "--max-pages", cap, "--json", "--no-progress", NULL};
    int fds[2];
    (void)arg;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        return -1;
    }
    *out_fd = fds[0];
    return pid;
}

/* The embedded server: the default graph and the chosen latency, on a free port, one worker (a
 * worker loop serves far more than a crawl asks: the cores are left to the crawlers). */
typedef struct embedded {
    graph_t *graph;
    server_t *srv;
    char url[64];
} embedded_t;

static int embedded_start(embedded_t *em, const compare_opts_t *o) {
    char gerr[GRAPH_ERR_LEN], serr[SERVER_ERR_LEN];
    graph_params_t gp = {.seed = o->seed, .pages = o->pages, .out_degree = 8};
    server_config_t sc;
    server_config_init(&sc);
    if (fault_latency_parse(o->latency, strlen(o->latency), &sc.latency, serr, sizeof(serr)) < 0) {
        fprintf(stderr, "crawlbench compare: --latency: %s\n", serr);
        return -1;
    }
    fault_kind_t fail_with = sc.faults.fail_with; /* the server's default kind for --fail-first */
    sc.faults = o->faults;
    sc.faults.fail_with = fail_with;
    sc.retry_after_s = o->retry_after_s;
    if (!(em->graph = graph_generate(&gp, gerr))) {
        fprintf(stderr, "crawlbench compare: %s\n", gerr);
        return -1;
    }
    sc.graph = em->graph, sc.port = 0, sc.seed = o->seed, sc.threads = 1;
    if (!(em->srv = server_start(&sc, serr))) {
        fprintf(stderr, "crawlbench compare: embedded server: %s\n", serr);
        return -1;
    }
    snprintf(em->url, sizeof(em->url), "http://127.0.0.1:%d", server_port(em->srv));
    return 0;
}

static void embedded_stop(embedded_t *em) {
    if (em->srv) {
        server_stop(em->srv);
        server_wait(em->srv);
    }
    graph_free(em->graph);
}

/* Runs the comparison o describes, on the embedded server when it names no URL. 0, or CLI_FAIL with
 * the reason on stderr; report is the caller's to free in either case. */
static int run_comparison(compare_opts_t *o, compare_report_t *report) {
    embedded_t em = {0};
    char err[COMPARE_ERR_LEN];
    memset(report, 0, sizeof(*report));
    if (!o->cfg.url) {
        if (embedded_start(&em, o) < 0) {
            embedded_stop(&em);
            return CLI_FAIL;
        }
        o->cfg.url = em.url;
        o->cfg.embedded = 1;
    }
    o->cfg.launch = launch_crawl;
    int rc = compare_run(&o->cfg, report, err);
    if (rc < 0) fprintf(stderr, "crawlbench compare: %s\n", err);
    embedded_stop(&em);
    if (o->cfg.embedded) o->cfg.url = NULL; /* em.url is gone */
    return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cli_compare_run(int argc, char **argv, const char *title, compare_report_t *report) {
    compare_opts_t o;
    memset(report, 0, sizeof(*report));
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_USAGE : rc; /* --help is no regime */
    if ((rc = run_comparison(&o, report))) return rc;
    compare_print_brief(stdout, report, title);
    fflush(stdout);
    return write_reports(o.out_dir, report) < 0 ? CLI_FAIL : CLI_OK;
}

int cli_compare(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--tour")) return cli_compare_tour(argc, argv);
    compare_opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    compare_report_t report;
    if ((rc = run_comparison(&o, &report)) == CLI_OK) {
        compare_print_table(stdout, &report);
        rc = write_reports(o.out_dir, &report) < 0 ? CLI_FAIL : CLI_OK;
        if (rc == CLI_OK)
            printf("\nreports: %s/report.html (and compare.json, .csv, .md, .svg) in %.1f s\n", o.out_dir,
                   report.total_s);
        compare_lesson_t l;
        if (rc == CLI_OK && o.cfg.regime != COMPARE_REGIME_NONE && compare_lesson(&report, &l) == 0 && !l.holds) {
            fprintf(stderr, "crawlbench compare: the runs contradict the %s regime's lesson (the line marked !!)\n",
                    compare_regime_name(o.cfg.regime));
            rc = CLI_FAIL;
        }
    }
    compare_report_free(&report);
    return rc;
}
