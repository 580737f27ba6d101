/* `crawlbench crawl --model distributed --redis URL`: seeds a crawl in Redis, waits while workers
 * (`crawlbench worker`) crawl it, and reports it like any model; `crawlbench crawl --redis URL
 * --status NAME` shows a crawl's progress. cli_crawl() hands its arguments here when it sees --redis. */
#include "cli/cli.h"
#include "base/buf.h"
#include "crawl/page.h"
#include "dist/dist.h"
#include "crawl/fetch.h"

#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static atomic_int stop_requested;

static void on_sigint(int sig) {
    stop_requested = 1;
    signal(sig, SIG_DFL);
}

static void print_usage(FILE *f) {
    fputs("usage: crawlbench crawl [BASE_URL] --model distributed --redis URL [options]\n"
          "       crawlbench crawl --redis URL --status NAME [--json]\n"
          "\n"
          "Seeds a crawl of a crawlbench server in Redis, waits while 'crawlbench worker' processes\n"
          "crawl it (start them on any machines, before or after), and reports it like any model.\n"
          "\n"
          "      --redis URL          redis://[:PASSWORD@]HOST[:PORT][/DB]\n"
          "      --crawl-id NAME      the crawl's name in Redis (default 'default')\n"
          "      --resume             go on with an existing crawl of that name (its own options win)\n"
          "      --fresh              delete an existing crawl of that name and start again\n"
          "      --status NAME        print the crawl's progress and exit\n"
          "      --lease DUR          how long a worker may hold a page before others take it over\n"
          "                           (default: the longest a fetch can take with all its retries)\n"
          "  -n, --max-pages K, --start ID, --timeout DUR, --retries N, --backoff DUR,\n"
          "      --backoff-max DUR, --json: as for the other models ('crawlbench crawl --help')\n"
          "\n"
          "Exit codes: 0 crawl done, 1 runtime failure (Redis unreachable, login refused, the crawl\n"
          "exists without --resume/--fresh, keys of another program), 2 usage error, 130 interrupted\n"
          "(the crawl stays in Redis: --resume goes on with it).\n",
          f);
}

enum { OPT_REDIS = 256, OPT_ID, OPT_RESUME, OPT_FRESH, OPT_STATUS, OPT_LEASE, OPT_START, OPT_TIMEOUT, OPT_RETRIES,
       OPT_BACKOFF, OPT_BACKOFF_MAX, OPT_JSON, OPT_IGNORED };

static const struct option options[] = {
    {"model", required_argument, 0, 'm'},           {"redis", required_argument, 0, OPT_REDIS},
    {"crawl-id", required_argument, 0, OPT_ID},     {"resume", no_argument, 0, OPT_RESUME},
    {"fresh", no_argument, 0, OPT_FRESH},           {"status", required_argument, 0, OPT_STATUS},
    {"lease", required_argument, 0, OPT_LEASE},     {"max-pages", required_argument, 0, 'n'},
    {"start", required_argument, 0, OPT_START},     {"timeout", required_argument, 0, OPT_TIMEOUT},
    {"retries", required_argument, 0, OPT_RETRIES}, {"backoff", required_argument, 0, OPT_BACKOFF},
    {"backoff-max", required_argument, 0, OPT_BACKOFF_MAX}, {"json", no_argument, 0, OPT_JSON},
    {"progress", no_argument, 0, OPT_IGNORED},      {"no-progress", no_argument, 0, OPT_IGNORED},
    {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0},
};

typedef struct dist_cli {
    dist_spec_t spec;
    rconn_url_t url;
    int have_url, json;
    dist_mode_t mode;
    const char *model, *status;
    char base[256];
} dist_cli_t;

static int apply(dist_cli_t *o, int opt, const char *v) {
    char err[RCONN_ERR_LEN];
    uint64_t n;
    switch (opt) {
    case 'm': o->model = v; return 0;
    case OPT_REDIS:
        if (rconn_url_parse(v, strlen(v), &o->url, err, sizeof(err)) < 0) return cli_usage_error("crawl", "%s", err);
        o->have_url = 1;
        return 0;
    case OPT_ID: case OPT_STATUS:
        if (!dist_id_valid(v)) return cli_usage_error("crawl", "'%s' is not a crawl id (1-64 of A-Za-z0-9._-)", v);
        if (opt == OPT_STATUS) o->status = v;
        else o->spec.id = v;
        return 0;
    case OPT_RESUME: case OPT_FRESH:
        if (o->mode != DIST_NEW) return cli_usage_error("crawl", "--resume and --fresh exclude each other");
        o->mode = opt == OPT_RESUME ? DIST_RESUME : DIST_FRESH;
        return 0;
    case OPT_LEASE: if (cli_parse_duration("crawl", "--lease", v, &n)) return CLI_USAGE; o->spec.lease_ms = n / 1000 + !!(n % 1000); return 0;
    case 'n': return cli_parse_u64("--max-pages", v, 1, UINT64_MAX, &o->spec.max_pages) ? CLI_USAGE : 0;
    case OPT_START: o->spec.start = v; return 0;
    case OPT_TIMEOUT: return cli_parse_duration("crawl", "--timeout", v, &o->spec.fetch.timeout_us);
    case OPT_BACKOFF: return cli_parse_duration("crawl", "--backoff", v, &o->spec.fetch.backoff_us);
    case OPT_BACKOFF_MAX: return cli_parse_duration("crawl", "--backoff-max", v, &o->spec.fetch.backoff_max_us);
    case OPT_RETRIES: if (cli_parse_u64("--retries", v, 0, 100, &n)) return CLI_USAGE; o->spec.fetch.max_attempts = (uint32_t)n + 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_IGNORED: return 0;
    }
    return CLI_USAGE;
}

static int check(dist_cli_t *o, int argc, char **argv) {
    if (optind < argc) {
        const char *u = argv[optind++];
        size_t len = strlen(u);
        while (len && u[len - 1] == '/') len--;
        if (strncmp(u, "http://", 7) != 0 || len <= 7 || len >= sizeof(o->base) || strpbrk(u, " \t\r\n?#"))
            return cli_usage_error("crawl", "'%s' is not a server URL like http://127.0.0.1:5000", u);
        memcpy(o->base, u, len);
        o->base[len] = '\0';
    }
    if (optind < argc) return cli_usage_error("crawl", "unexpected argument '%s'", argv[optind]);
    if (!o->have_url) return cli_usage_error("crawl", "the distributed model needs --redis URL");
    if (!o->status && (!o->model || strcmp(o->model, "distributed")))
        return cli_usage_error("crawl", "--redis goes with --model distributed or --status NAME");
    if (strcmp(o->spec.start, "random") && !page_id_valid(o->spec.start, strlen(o->spec.start)))
        return cli_usage_error("crawl", "'%s' is not a valid page id", o->spec.start);
    return 0;
}

static int parse(int argc, char **argv, dist_cli_t *o) {
    *o = (dist_cli_t){.spec = {.id = "default", .start = "random", .max_pages = UINT64_MAX,
                               .fetch = {.timeout_us = 10000000, .max_attempts = 4, .backoff_us = 100000,
                                         .backoff_max_us = 10000000}}};
    snprintf(o->base, sizeof(o->base), "http://127.0.0.1:5000");
    optind = 1;
    opterr = 0;
    int opt, rc;
    while ((opt = getopt_long(argc, argv, ":hm:n:", options, NULL)) != -1) {
        if (opt == 'h') return print_usage(stdout), -1;
        if (opt == '?' || opt == ':') return cli_option_error("crawl", argv, opt);
        if ((rc = apply(o, opt, optarg))) return rc;
    }
    o->spec.fetch.base_url = o->base;
    return check(o, argc, argv);
}

/* Seeds (or resumes) the crawl, waits for its end, prints the result. */
static int coordinate(dist_cli_t *o, rconn_t *c, char *err) {
    char start[FRONTIER_ID_MAX + 1];
    if (!strcmp(o->spec.start, "random")) {
        if (fetch_random_page(o->base, 10000000, start, sizeof(start), err, DIST_ERR_LEN) < 0) return CLI_FAIL;
        o->spec.start = start;
    }
    int created = dist_create(c, &o->spec, o->mode, err);
    if (created < 0) return CLI_FAIL;
    fprintf(stderr, "crawlbench crawl: crawl %s %s; workers join with: crawlbench worker --redis URL --crawl-id %s\n",
            o->spec.id, created ? "resumed" : "seeded", o->spec.id);
    stop_requested = 0;
    signal(SIGINT, on_sigint);
    int rc = dist_wait(c, o->spec.id, &stop_requested, err);
    if (rc < 0) return CLI_FAIL;
    if (dist_print_result(c, o->spec.id, o->json, stdout, err) < 0) return CLI_FAIL;
    return rc == 1 ? 130 : CLI_OK;
}

int cli_crawl_distributed(int argc, char **argv) {
    dist_cli_t o;
    char err[DIST_ERR_LEN];
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    signal(SIGPIPE, SIG_IGN);
    rconn_t *c = rconn_open(&o.url, 60000000, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "crawlbench crawl: %s\n", err);
        return CLI_FAIL;
    }
    if (o.status) rc = dist_print_status(c, o.status, o.json, stdout, err) < 0 ? CLI_FAIL : CLI_OK;
    else rc = coordinate(&o, c, err);
    if (rc == CLI_FAIL) fprintf(stderr, "crawlbench crawl: %s\n", err);
    rconn_close(c);
    return rc;
}
