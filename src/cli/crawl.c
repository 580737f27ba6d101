/* `crawlbench crawl`: one crawl of a crawlbench server with one concurrency model, printed as a
 * table or as JSON. Ctrl-C stops it cleanly: pages in flight finish, then the result is printed. */
#include "cli/cli.h"
#include "crawl/crawl.h"
#include "server/fault.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_URL "http://127.0.0.1:5000"

static atomic_int stop_requested; /* lock-free: safe to set from the handler */

static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends it at once */
}

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: crawlbench crawl [BASE_URL] [options]\n"
            "\n"
            "Crawls a crawlbench server (default " DEFAULT_URL ") from a start page, following every\n"
            "link once, with one concurrency model, and reports pages, time, latency and faults.\n"
            "\n"
            "  -m, --model M         concurrency model (default sequential):\n");
    for (const char *const *n = crawl_engine_names(); *n; n++)
        fprintf(f, "                          %-11s %s\n", *n, crawl_engine_summary(*n));
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
            "      --progress, --no-progress   a progress line on stderr (default: if a terminal)\n"
            "      --seed N          seed for the retry jitter (default 1)\n"
            "      --list-models     print the model names, one per line, and exit\n"
            "  -m distributed --redis URL   crawl on many machines through Redis: see\n"
            "                        'crawlbench crawl --redis URL --help' and docs/DISTRIBUTED.md\n"
            "\n"
            "Exit codes: 0 crawl done (failed pages are reported, not fatal), 1 runtime failure\n"
            "(server unreachable or not a crawlbench API), 2 usage error, 130 interrupted.\n");
}

enum { OPT_START = 256, OPT_TIMEOUT, OPT_RETRIES, OPT_BACKOFF, OPT_BACKOFF_MAX, OPT_JSON, OPT_PROGRESS,
       OPT_NO_PROGRESS, OPT_SEED, OPT_LIST };

static const struct option crawl_options[] = {
    {"model", required_argument, 0, 'm'},        {"concurrency", required_argument, 0, 'c'},
    {"max-pages", required_argument, 0, 'n'},    {"start", required_argument, 0, OPT_START},
    {"timeout", required_argument, 0, OPT_TIMEOUT}, {"retries", required_argument, 0, OPT_RETRIES},
    {"backoff", required_argument, 0, OPT_BACKOFF}, {"backoff-max", required_argument, 0, OPT_BACKOFF_MAX},
    {"json", no_argument, 0, OPT_JSON},          {"output", required_argument, 0, 'o'},
    {"progress", no_argument, 0, OPT_PROGRESS},  {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
    {"seed", required_argument, 0, OPT_SEED},    {"list-models", no_argument, 0, OPT_LIST},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct crawl_opts {
    crawl_config_t cfg;
    char url[256];
    int json;
    const char *output;
} crawl_opts_t;

static int duration(const char *opt, const char *v, uint64_t *us) {
    char err[160];
    if (fault_duration_parse(v, strlen(v), us, err, sizeof(err)) == 0 && *us > 0) return 0;
    cli_usage_error("crawl", "%s: %s", opt, *us == 0 ? "must be above zero" : err);
    return -1;
}

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
    case 'm': c->model = v; return crawl_engine_summary(v) ? 0 : cli_usage_error("crawl", "unknown model '%s'", v);
    case 'c': if (cli_parse_u64("--concurrency", v, 1, 100000, &n)) return CLI_USAGE; c->concurrency = (uint32_t)n; return 0;
    case 'n': if (cli_parse_u64("--max-pages", v, 1, UINT64_MAX, &n)) return CLI_USAGE; c->max_pages = n; return 0;
    case OPT_START: c->start = v; return 0;
    case OPT_TIMEOUT: return duration("--timeout", v, &c->fetch.timeout_us) ? CLI_USAGE : 0;
    case OPT_BACKOFF: return duration("--backoff", v, &c->fetch.backoff_us) ? CLI_USAGE : 0;
    case OPT_BACKOFF_MAX: return duration("--backoff-max", v, &c->fetch.backoff_max_us) ? CLI_USAGE : 0;
    case OPT_RETRIES: if (cli_parse_u64("--retries", v, 0, 100, &n)) return CLI_USAGE; c->fetch.max_attempts = (uint32_t)n + 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case 'o': o->output = v; return 0;
    case OPT_PROGRESS: c->progress = 1; return 0;
    case OPT_NO_PROGRESS: c->progress = 0; return 0;
    case OPT_SEED: if (cli_parse_u64("--seed", v, 0, UINT64_MAX, &n)) return CLI_USAGE; c->seed = n; return 0;
    }
    return CLI_USAGE;
}

static int parse(int argc, char **argv, crawl_opts_t *o) {
    *o = (crawl_opts_t){.cfg = {.model = "sequential", .concurrency = 10, .max_pages = UINT64_MAX,
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
            for (const char *const *n = crawl_engine_names(); *n; n++) puts(*n);
            return -1;
        }
        if (opt == '?' || opt == ':') return cli_option_error("crawl", argv, opt);
        if ((rc = apply(o, opt, optarg))) return rc;
    }
    if (optind < argc && (rc = set_url(o, argv[optind++]))) return rc;
    if (optind < argc) return cli_usage_error("crawl", "unexpected argument '%s'", argv[optind]);
    if (!strcmp(o->cfg.model, "sequential")) o->cfg.concurrency = 1;
    o->cfg.fetch.base_url = o->url;
    return 0;
}

int cli_crawl(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* the distributed model has its own options: crawl_dist.c */
        if (!strncmp(argv[i], "--redis", 7) || !strcmp(argv[i], "distributed") || !strcmp(argv[i], "--model=distributed"))
            return cli_crawl_distributed(argc, argv);
    crawl_opts_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    FILE *out = NULL;
    if (o.output && !(out = fopen(o.output, "w"))) {
        fprintf(stderr, "crawlbench crawl: cannot write %s: %s\n", o.output, strerror(errno));
        return CLI_FAIL;
    }
    stop_requested = 0;
    o.cfg.stop = &stop_requested;
    signal(SIGINT, on_sigint);
    signal(SIGPIPE, SIG_IGN);

    crawl_result_t res;
    char err[CRAWL_ERR_LEN];
    if (crawl_run(&o.cfg, &res, err) < 0) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        crawl_result_free(&res);
        if (out) {
            fclose(out);
            remove(o.output); /* no partial file left behind */
        }
        return CLI_FAIL;
    }
    if (o.json) crawl_print_json(stdout, &res);
    else crawl_print_table(stdout, &res);
    rc = res.interrupted ? 130 : CLI_OK;
    if (out && (crawl_write_order(out, &res) < 0 || fclose(out) != 0)) {
        fprintf(stderr, "crawlbench crawl: cannot write %s: %s\n", o.output, strerror(errno));
        rc = CLI_FAIL;
    }
    crawl_result_free(&res);
    return rc;
}
