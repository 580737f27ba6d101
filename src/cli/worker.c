/* `crawlbench worker`: joins a distributed crawl kept in Redis and fetches its pages until the crawl
 * ends (exit 0), SIGTERM or Ctrl-C stops it (exit 0 after finishing or giving back its pages), or
 * Redis cannot be used (exit 1). Any number may run, on any machines, started at any time. */
#include "cli/cli.h"
#include "dist/dist.h"
#include "base/units.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int stop_requested; /* lock-free: safe to set from the handler */

static void on_stop(int sig) {
    stop_requested = 1;
    signal(sig, SIG_DFL); /* a second signal ends it at once */
}

static void print_usage(FILE *f) {
    fputs("usage: crawlbench worker --redis URL [options]\n"
          "\n"
          "Joins a distributed crawl started with 'crawlbench crawl --model distributed' and fetches\n"
          "its pages, with the crawl's own fetch options, until the crawl is finished.\n"
          "\n"
          "      --redis URL         redis://[:PASSWORD@]HOST[:PORT][/DB] (required)\n"
          "      --crawl-id NAME     the crawl to join (default 'default')\n"
          "  -c, --concurrency N     pages fetched at once (default 8)\n"
          "  -m, --model MODEL       how the worker is concurrent (default threads):\n"
          "                            threads  a thread a page, each its own Redis connection and libcurl handle\n"
          "                            async    one thread, one event loop: libcurl's multi interface, and one\n"
          "                                     asynchronous Redis connection\n"
          "                            epoll    the same loop with the project's own HTTP client, no libcurl\n"
          "      --reconnect-for DUR keep reconnecting this long when Redis goes away (default 60s)\n"
          "      --seed N            seed for the retry jitter (default: the process id)\n"
          "\n"
          "A page costs one Redis round trip: its acknowledgement travels with the read of the next\n"
          "(async and epoll: with every page done in the same loop iteration).\n"
          "SIGTERM or Ctrl-C: attempts on the wire end, a page with a final answer is acknowledged and\n"
          "one that would be retried is given back, then the worker exits.\n"
          "Exit codes: 0 the crawl is finished, or the worker was stopped; 1 runtime failure (Redis\n"
          "unreachable, login refused, no such crawl, keys of another program); 2 usage error.\n",
          f);
}

enum { OPT_REDIS = 256, OPT_ID, OPT_RECONNECT, OPT_SEED };

static const struct option worker_options[] = {
    {"redis", required_argument, 0, OPT_REDIS},   {"crawl-id", required_argument, 0, OPT_ID},
    {"concurrency", required_argument, 0, 'c'},   {"model", required_argument, 0, 'm'},
    {"reconnect-for", required_argument, 0, OPT_RECONNECT}, {"seed", required_argument, 0, OPT_SEED},
    {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
};

static int apply(dist_worker_opts_t *o, rconn_url_t *url, int opt, const char *v) {
    uint64_t n;
    char err[RCONN_ERR_LEN];
    switch (opt) {
    case OPT_REDIS:
        if (rconn_url_parse(v, strlen(v), url, err, sizeof(err)) < 0) return cli_usage_error("worker", "%s", err);
        o->url = url;
        return 0;
    case OPT_ID:
        o->id = v;
        return dist_id_valid(v) ? 0 : cli_usage_error("worker", "'%s' is not a crawl id (1-64 of A-Za-z0-9._-)", v);
    case 'c': if (cli_parse_u64("--concurrency", v, 1, 4096, &n)) return CLI_USAGE; o->concurrency = (uint32_t)n; return 0;
    case 'm':
        if (!strcmp(v, "threads")) o->model = DIST_THREADS;
        else if (!strcmp(v, "async")) o->model = DIST_ASYNC;
        else if (!strcmp(v, "epoll")) o->model = DIST_EPOLL;
        else return cli_usage_error("worker", "model '%s': one of threads, async, epoll", v);
        return 0;
    case OPT_RECONNECT:
        if (units_duration_parse(v, strlen(v), &o->retry_us, err, sizeof(err)) < 0)
            return cli_usage_error("worker", "--reconnect-for: %s", err);
        return 0;
    case OPT_SEED: if (cli_parse_u64("--seed", v, 0, UINT64_MAX, &n)) return CLI_USAGE; o->seed = n; return 0;
    }
    return CLI_USAGE;
}

int cli_worker(int argc, char **argv) {
    rconn_url_t url;
    dist_worker_opts_t o = {.id = "default", .concurrency = 8, .retry_us = 60000000, .seed = (uint64_t)getpid()};
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hc:m:", worker_options, NULL)) != -1) {
        if (opt == 'h') return print_usage(stdout), CLI_OK;
        if (opt == '?' || opt == ':') return cli_option_error("worker", argv, opt);
        if ((rc = apply(&o, &url, opt, optarg))) return rc;
    }
    if (optind < argc) return cli_usage_error("worker", "unexpected argument '%s'", argv[optind]);
    if (!o.url) return cli_usage_error("worker", "--redis URL is required");
    stop_requested = 0;
    o.stop = &stop_requested;
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    signal(SIGPIPE, SIG_IGN);

    dist_worker_stats_t st;
    char err[DIST_ERR_LEN];
    if (dist_worker_run(&o, &st, err) < 0) { /* one line: what went wrong */
        fprintf(stderr, "crawlbench worker: %s\n", err);
        return CLI_FAIL;
    }
    fprintf(stderr, "crawlbench worker: crawl %s %s: %llu pages, %llu failed, %llu fetched twice, %llu reclaimed, "
                    "%llu given back, %llu Redis commands in %llu round trips, %llu reconnections\n",
            o.id, st.finished ? "finished" : "stopped", (unsigned long long)st.pages,
            (unsigned long long)st.failed, (unsigned long long)st.duplicates, (unsigned long long)st.reclaimed,
            (unsigned long long)st.returned, (unsigned long long)st.commands, (unsigned long long)st.round_trips,
            (unsigned long long)st.reconnects);
    return CLI_OK;
}
