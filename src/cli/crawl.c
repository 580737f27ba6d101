/* `crawlbench crawl`: one crawl of a crawlbench server with one concurrency model, printed as a
 * table or as JSON. Ctrl-C or SIGTERM stops it cleanly: pages in flight finish, then the result is
 * printed and the pages fetched so far are written. */
#include "cli/cli.h"

#include "base/outfile.h"
#include "crawl/crawl.h"
#include "crawl/models/models.h"
#include "crawl/page.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_URL "http://127.0.0.1:5000"

static atomic_int stop_requested; /* the signal that asked to stop; lock-free: safe to set from the handler */

static void on_stop_signal(int sig) {
    stop_requested = sig;
    signal(sig, SIG_DFL); /* a second one ends it at once */
}

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: crawlbench crawl [BASE_URL] [options]\n"
            "\n"
            "Crawls a crawlbench server (default " DEFAULT_URL ") from a start page, following every\n"
            "link once, with one concurrency model, and reports pages, time, latency and faults.\n"
            "\n"
            "  -m, --model M         concurrency model (default sequential):\n");
    for (const crawl_engine_t *const *e = models_all; *e; e++)
        fprintf(f, "                          %-11s %s\n", (*e)->name, (*e)->summary);
    fprintf(f,
            "  -c, --concurrency N   transfers in flight at most (default 10; sequential: 1)\n"
            "  -n, --max-pages K     fetch at most K pages, failed ones included (default: no limit)\n"
            "      --start ID        start page id, or 'random' to ask the server (default random)\n"
            "      --timeout DUR     per attempt, counting only time on the wire (default 10s)\n"
            "      --retries N       attempts after the first for 5xx, 429, 408, resets, truncated\n"
            "                        bodies and timeouts (default 3)\n"
            "      --backoff DUR     first retry's delay, doubling, with full jitter (default 100ms);\n"
            "                        a 429/503's Retry-After is honoured when longer\n"
            "      --backoff-max DUR longest delay between attempts (default 10s)\n"
            "      --json            print one JSON object (docs/crawl-result.schema.json)\n"
            "  -o, --output FILE     write the fetched page ids there, one per line, in visit order\n"
            "      --save-graph FILE write every fetched page with its links there, for 'analyze --crawl'\n"
            "                        (PAGE_ID<TAB>LINK_ID ... a line; written atomically)\n"
            "      --page-log FILE   write how each page ended there: PAGE_ID<TAB>OUTCOME<TAB>HTTP_STATUS\n"
            "                        <TAB>ATTEMPTS a line (ok, invalid, http, timeout, reset, ...)\n"
            "      --progress, --no-progress   a progress line on stderr (default: if a terminal)\n"
            "      --seed N          seed for the retry jitter (default 1)\n"
            "      --list-models     print the model names, one per line, and exit\n"
            "  -m distributed --redis URL   crawl on many machines through Redis: see\n"
            "                        'crawlbench crawl --redis URL --help' and docs/DISTRIBUTED.md\n"
            "\n"
            "A server must be running: start one with 'crawlbench serve' (port 5000), or let\n"
            "'crawlbench compare' start its own.\n"
            "\n"
            "Exit codes (docs/CRAWL.md): 0 the crawl ran to its end (pages that failed through HTTP\n"
            "errors or injected faults are results, reported); 1 the server cannot be reached, stopped\n"
            "answering mid-crawl, or the start page does not exist (the report is still printed when\n"
            "the crawl ran); 2 usage error; 130 stopped by SIGINT, 143 by SIGTERM (report and -o written).\n");
}

enum { OPT_START = 256, OPT_TIMEOUT, OPT_RETRIES, OPT_BACKOFF, OPT_BACKOFF_MAX, OPT_JSON, OPT_PROGRESS,
       OPT_NO_PROGRESS, OPT_SEED, OPT_LIST, OPT_SAVE_GRAPH, OPT_PAGE_LOG };

static const struct option crawl_options[] = {
    {"model", required_argument, 0, 'm'},        {"concurrency", required_argument, 0, 'c'},
    {"max-pages", required_argument, 0, 'n'},    {"start", required_argument, 0, OPT_START},
    {"timeout", required_argument, 0, OPT_TIMEOUT}, {"retries", required_argument, 0, OPT_RETRIES},
    {"backoff", required_argument, 0, OPT_BACKOFF}, {"backoff-max", required_argument, 0, OPT_BACKOFF_MAX},
    {"json", no_argument, 0, OPT_JSON},          {"output", required_argument, 0, 'o'},
    {"progress", no_argument, 0, OPT_PROGRESS},  {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
    {"seed", required_argument, 0, OPT_SEED},    {"list-models", no_argument, 0, OPT_LIST},
    {"save-graph", required_argument, 0, OPT_SAVE_GRAPH}, {"page-log", required_argument, 0, OPT_PAGE_LOG},
    {"help", no_argument, 0, 'h'},               {0, 0, 0, 0},
};

typedef struct crawl_opts {
    crawl_config_t cfg;
    char url[256];
    int json;
    const char *output;
    const char *save_graph; /* --save-graph FILE, or NULL */
    const char *page_log;   /* --page-log FILE, or NULL */
} crawl_opts_t;

static int set_url(crawl_opts_t *o, const char *url) {
    size_t len = strlen(url);
    while (len && url[len - 1] == '/') len--;
    if (strncmp(url, "http://", 7) != 0 || len <= 7 || len >= sizeof(o->url) || strpbrk(url, " \t\r\n?#"))
        return cli_usage_error("crawl", "'%s' is not a server URL like " DEFAULT_URL, url);
    memcpy(o->url, url, len);
    o->url[len] = '\0';
    return 0;
}

static int apply(crawl_opts_t *o, int opt, const char *v) {
    crawl_config_t *c = &o->cfg;
    uint64_t n;
    switch (opt) {
    case 'm':
        c->engine = models_find(v);
        return c->engine ? 0 : cli_usage_error("crawl", "unknown model '%s' (see --list-models)", v);
    case 'c': if (cli_parse_u64("--concurrency", v, 1, 100000, &n)) return CLI_USAGE; c->concurrency = (uint32_t)n; return 0;
    case 'n': if (cli_parse_u64("--max-pages", v, 1, UINT64_MAX, &n)) return CLI_USAGE; c->max_pages = n; return 0;
    case OPT_START:
        if (strcmp(v, "random") && !page_id_valid(v, strlen(v)))
            return cli_usage_error("crawl", "--start: '%s' is not a page id (letters, digits, '-' and '_', "
                                   "at most %d) or 'random'", v, FRONTIER_ID_MAX);
        c->start = v;
        return 0;
    case OPT_TIMEOUT: return cli_parse_duration("crawl", "--timeout", v, &c->fetch.timeout_us);
    case OPT_BACKOFF: return cli_parse_duration("crawl", "--backoff", v, &c->fetch.backoff_us);
    case OPT_BACKOFF_MAX: return cli_parse_duration("crawl", "--backoff-max", v, &c->fetch.backoff_max_us);
    case OPT_RETRIES: if (cli_parse_u64("--retries", v, 0, 100, &n)) return CLI_USAGE; c->fetch.max_attempts = (uint32_t)n + 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case 'o': o->output = v; return 0;
    case OPT_SAVE_GRAPH: o->save_graph = v; return 0;
    case OPT_PAGE_LOG: o->page_log = v; return 0;
    case OPT_PROGRESS: c->progress = 1; return 0;
    case OPT_NO_PROGRESS: c->progress = 0; return 0;
    case OPT_SEED: if (cli_parse_u64("--seed", v, 0, UINT64_MAX, &n)) return CLI_USAGE; c->seed = n; return 0;
    }
    return CLI_USAGE;
}

static int parse(int argc, char **argv, crawl_opts_t *o) {
    *o = (crawl_opts_t){.cfg = {.engine = models_baseline(), .concurrency = 10, .max_pages = UINT64_MAX,
                                .start = "random", .progress = isatty(2), .seed = 1,
                                .fetch = {.timeout_us = 10000000, .max_attempts = 4, .backoff_us = 100000,
                                          .backoff_max_us = 10000000}}};
    snprintf(o->url, sizeof(o->url), DEFAULT_URL);
    optind = 1;
    opterr = 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, ":hm:c:n:o:", crawl_options, NULL)) != -1) {
        if (opt == 'h') {
            print_usage(stdout);
            return -1;
        }
        if (opt == OPT_LIST) {
            for (const crawl_engine_t *const *e = models_all; *e; e++) puts((*e)->name);
            return -1;
        }
        if (opt == '?' || opt == ':') return cli_option_error("crawl", argv, opt);
        if ((rc = apply(o, opt, optarg))) return rc;
    }
    if (optind < argc && (rc = set_url(o, argv[optind++]))) return rc;
    if (optind < argc) return cli_usage_error("crawl", "unexpected argument '%s'", argv[optind]);
    const crawl_engine_t *e = o->cfg.engine;
    if (e->max_concurrency == 1) o->cfg.concurrency = 1; /* the baseline: one at a time whatever is asked */
    else if (o->cfg.concurrency > e->max_concurrency)
        return cli_usage_error("crawl", "-c %u: %s runs at most %u (%s)", o->cfg.concurrency, e->name,
                               e->max_concurrency, e->limit_why);
    o->cfg.fetch.base_url = o->url;
    return 0;
}

static int write_graph(FILE *f, void *ctx) { return crawl_write_graph(f, ctx); }
static int write_page_log(FILE *f, void *ctx) { return crawl_write_page_log(f, ctx); }

/* Prints the result and writes -o; the exit status for a crawl that ran. */
static int report(const crawl_opts_t *o, const crawl_result_t *res, outfile_t *out) {
    char why[CRAWL_ERR_LEN], err[512];
    int rc = CLI_OK;
    if (o->json) crawl_print_json(stdout, res);
    else crawl_print_table(stdout, res);
    fflush(stdout);
    if (res->interrupted) {
        rc = 128 + atomic_load(&stop_requested);
    } else if (crawl_result_verdict(res, why, sizeof(why)) < 0) {
        fprintf(stderr, "crawlbench crawl: %s\n", why);
        rc = CLI_FAIL;
    }
    if (o->save_graph && outfile_write(o->save_graph, write_graph, (void *)res, err, sizeof(err)) < 0) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        rc = CLI_FAIL;
    }
    if (o->page_log && outfile_write(o->page_log, write_page_log, (void *)res, err, sizeof(err)) < 0) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        rc = CLI_FAIL;
    }
    if (out) {
        if (crawl_write_order(outfile_stream(out), res) < 0) {
            outfile_abort(out);
            fprintf(stderr, "crawlbench crawl: cannot write %s: %s\n", o->output, strerror(errno));
            return CLI_FAIL;
        }
        if (outfile_commit(out, err, sizeof(err)) < 0) {
            fprintf(stderr, "crawlbench crawl: %s\n", err);
            return CLI_FAIL;
        }
    }
    return rc;
}

int cli_crawl(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* the distributed model has its own options: crawl_dist.c */
        if (!strncmp(argv[i], "--redis", 7) || !strcmp(argv[i], "distributed") || !strcmp(argv[i], "--model=distributed"))
            return cli_crawl_distributed(argc, argv);
    crawl_opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    outfile_t *out = NULL;
    char err[512];
    /* Opened first, so that a directory that cannot be written fails before the crawl, not after;
     * the user's file itself is only replaced once the new one is complete. */
    if (o.output && !(out = outfile_open(o.output, err, sizeof(err)))) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        return CLI_FAIL;
    }
    stop_requested = 0;
    o.cfg.stop = &stop_requested;
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    signal(SIGPIPE, SIG_IGN);

    crawl_result_t res;
    if (crawl_run(&o.cfg, &res, err) < 0) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        crawl_result_free(&res);
        outfile_abort(out);
        return CLI_FAIL;
    }
    rc = report(&o, &res, out);
    crawl_result_free(&res);
    return rc;
}
