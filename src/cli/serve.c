/* `crawlbench serve`: builds or loads the graph, starts the server, and waits for SIGINT/SIGTERM,
 * on which it drains requests in flight and exits 0. */
#include "cli/cli.h"
#include "graph/graph.h"
#include "server/fault.h"
#include "base/clock.h"
#include "server/ratelimit.h"
#include "server/server.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char serve_usage[] =
    "usage: crawlbench serve [options]\n"
    "\n"
    "Serves a deterministic web graph over HTTP, the API of the guide's demo server:\n"
    "  GET /api/<page_id>      {\"page_id\": ..., \"links\": [\"/api/<id>\", ...]}\n"
    "  GET /graph/random       {\"page_id\": ...}\n"
    "  GET /graph/sample?n=50  {\"page_ids\": [...]}\n"
    "  GET /graph/stats        graph shape and the crawl audit (POST /graph/stats/reset to restart it)\n"
    "  GET /metrics            Prometheus text;  GET /health\n"
    "\n"
    "graph:\n"
    "  --seed N             graph, fault and latency seed (default 42)\n"
    "  --pages N            pages in the generated graph (default 1000)\n"
    "  --out-degree N       mean links per page (default 8)\n"
    "  --graph FILE         serve a SNAP edge list instead (plain or .gz), e.g. web-Google.txt.gz\n"
    "network:\n"
    "  --host ADDR          address to listen on (default 127.0.0.1)\n"
    "  --port N             port (default 5000; 0 picks a free one)\n"
    "  --threads N          worker threads, one event loop each (default: number of cores)\n"
    "  --max-conns N        open connections at most (default 10000)\n"
    "  --idle-timeout DUR   close keep-alive connections idle this long (default 60s)\n"
    "  --header-timeout DUR a request head must arrive within this (default 10s)\n"
    "simulated latency and faults (all deterministic in seed, page and attempt):\n"
    "  --latency SPEC       delay per /api request: 50ms | uniform:10ms-100ms | normal:50ms,10ms |\n"
    "                       lognormal:MEDIAN,P99 (e.g. lognormal:20ms,200ms)   (default none)\n"
    "  --faults SPEC        fault rates, e.g. 500:0.01,503:1%,429:0.01,reset:0.01,close:0.01,\n"
    "                       truncate:0.01,hang:0.001,slow:0.01   (default none)\n"
    "  --fail-first K       fail the first K requests for every page, then succeed\n"
    "  --fail-with KIND     the fault --fail-first uses (default 503)\n"
    "  --retry-after SECS   Retry-After sent with 429 and 503 (default 1)\n"
    "  --rate-limit N/s[,BURST]  per client address: at most N /api requests a second, BURST at\n"
    "                       once (default N); the rest get 429 with the wait until the next token\n"
    "  --hang-timeout DUR   close a hung request after this (default 300s)\n"
    "  --slow-chunk BYTES   slow bodies: bytes per piece (default 16)\n"
    "  --slow-interval DUR  slow bodies: time between pieces (default 10ms)\n"
    "  --drain-timeout DUR  on SIGINT/SIGTERM, wait this long for requests in flight (default 10s)\n"
    "\n"
    "Per-request knobs for tests: /api/<id>?fault=KIND, ?latency=SPEC, ?fail_first=K, or the headers\n"
    "X-Crawlbench-Fault, X-Crawlbench-Latency, X-Crawlbench-Fail-First. See docs/SERVER.md.\n";

enum {
    OPT_SEED = 256, OPT_PAGES, OPT_OUT_DEGREE, OPT_GRAPH, OPT_HOST, OPT_PORT, OPT_THREADS, OPT_MAX_CONNS,
    OPT_IDLE, OPT_HEADER, OPT_LATENCY, OPT_FAULTS, OPT_FAIL_FIRST, OPT_FAIL_WITH, OPT_RETRY_AFTER,
    OPT_HANG, OPT_SLOW_CHUNK, OPT_SLOW_INTERVAL, OPT_DRAIN, OPT_RATE_LIMIT,
};

static const struct option serve_options[] = {
    {"seed", required_argument, 0, OPT_SEED},          {"pages", required_argument, 0, OPT_PAGES},
    {"out-degree", required_argument, 0, OPT_OUT_DEGREE}, {"graph", required_argument, 0, OPT_GRAPH},
    {"host", required_argument, 0, OPT_HOST},          {"port", required_argument, 0, OPT_PORT},
    {"threads", required_argument, 0, OPT_THREADS},    {"max-conns", required_argument, 0, OPT_MAX_CONNS},
    {"idle-timeout", required_argument, 0, OPT_IDLE},  {"header-timeout", required_argument, 0, OPT_HEADER},
    {"latency", required_argument, 0, OPT_LATENCY},    {"faults", required_argument, 0, OPT_FAULTS},
    {"fail-first", required_argument, 0, OPT_FAIL_FIRST}, {"fail-with", required_argument, 0, OPT_FAIL_WITH},
    {"retry-after", required_argument, 0, OPT_RETRY_AFTER}, {"hang-timeout", required_argument, 0, OPT_HANG},
    {"rate-limit", required_argument, 0, OPT_RATE_LIMIT},
    {"slow-chunk", required_argument, 0, OPT_SLOW_CHUNK}, {"slow-interval", required_argument, 0, OPT_SLOW_INTERVAL},
    {"drain-timeout", required_argument, 0, OPT_DRAIN}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

typedef struct serve_opts {
    server_config_t cfg;
    graph_params_t graph;
    const char *graph_file;
} serve_opts_t;

static int duration_opt(const char *opt, const char *v, uint64_t *us) {
    char err[160];
    if (units_duration_parse(v, strlen(v), us, err, sizeof(err)) == 0) return 0;
    cli_usage_error("serve", "%s: %s", opt, err);
    return -1;
}

/* Applies one option; returns 0, or CLI_USAGE after printing why. */
static int apply_option(serve_opts_t *o, int opt, const char *v) {
    server_config_t *c = &o->cfg;
    uint64_t n;
    char err[256];
    switch (opt) {
    case OPT_SEED: if (cli_parse_u64("--seed", v, 0, UINT64_MAX, &n)) return CLI_USAGE; c->seed = o->graph.seed = n; break;
    case OPT_PAGES: if (cli_parse_u64("--pages", v, 1, 50000000, &n)) return CLI_USAGE; o->graph.pages = (uint32_t)n; break;
    case OPT_OUT_DEGREE: if (cli_parse_u64("--out-degree", v, 1, 1000, &n)) return CLI_USAGE; o->graph.out_degree = (uint32_t)n; break;
    case OPT_GRAPH: o->graph_file = v; break;
    case OPT_HOST: c->host = v; break;
    case OPT_PORT: if (cli_parse_u64("--port", v, 0, 65535, &n)) return CLI_USAGE; c->port = (int)n; break;
    case OPT_THREADS: if (cli_parse_u64("--threads", v, 1, 1024, &n)) return CLI_USAGE; c->threads = (int)n; break;
    case OPT_MAX_CONNS: if (cli_parse_u64("--max-conns", v, 1, 10000000, &n)) return CLI_USAGE; c->max_conns = (uint32_t)n; break;
    case OPT_IDLE: return duration_opt("--idle-timeout", v, &c->idle_timeout_us) ? CLI_USAGE : 0;
    case OPT_HEADER: return duration_opt("--header-timeout", v, &c->header_timeout_us) ? CLI_USAGE : 0;
    case OPT_HANG: return duration_opt("--hang-timeout", v, &c->hang_timeout_us) ? CLI_USAGE : 0;
    case OPT_SLOW_INTERVAL: return duration_opt("--slow-interval", v, &c->slow_interval_us) ? CLI_USAGE : 0;
    case OPT_DRAIN: return duration_opt("--drain-timeout", v, &c->drain_timeout_us) ? CLI_USAGE : 0;
    case OPT_LATENCY:
        if (fault_latency_parse(v, strlen(v), &c->latency, err, sizeof(err)) < 0)
            return cli_usage_error("serve", "--latency: %s", err);
        break;
    case OPT_FAULTS:
        if (fault_plan_parse(v, strlen(v), &c->faults, err, sizeof(err)) < 0)
            return cli_usage_error("serve", "--faults: %s", err);
        break;
    case OPT_FAIL_FIRST: if (cli_parse_u64("--fail-first", v, 0, 1000000, &n)) return CLI_USAGE; c->faults.fail_first = (uint32_t)n; break;
    case OPT_FAIL_WITH:
        if (fault_kind_parse(v, strlen(v), &c->faults.fail_with) < 0 || c->faults.fail_with == FAULT_NONE)
            return cli_usage_error("serve", "--fail-with: unknown fault '%s' (500, 503, 429, reset, close, truncate, hang, slow)", v);
        break;
    case OPT_RETRY_AFTER: if (cli_parse_u64("--retry-after", v, 0, 86400, &n)) return CLI_USAGE; c->retry_after_s = (uint32_t)n; break;
    case OPT_RATE_LIMIT:
        if (ratelimit_parse(v, strlen(v), &c->rate_limit, &c->rate_burst, err, sizeof(err)) < 0)
            return cli_usage_error("serve", "--rate-limit: %s", err);
        break;
    case OPT_SLOW_CHUNK: if (cli_parse_u64("--slow-chunk", v, 1, 1 << 20, &n)) return CLI_USAGE; c->slow_chunk = (uint32_t)n; break;
    default: return CLI_USAGE;
    }
    return 0;
}

static int parse_serve(int argc, char **argv, serve_opts_t *o) {
    server_config_init(&o->cfg);
    o->graph = (graph_params_t){.seed = 42, .pages = 1000, .out_degree = 8};
    o->graph_file = NULL;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", serve_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(serve_usage, stdout);
            return -1;
        }
        if (opt == '?' || opt == ':') return cli_option_error("serve", argv, opt);
        int rc = apply_option(o, opt, optarg);
        if (rc) return rc;
    }
    if (optind < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    return 0;
}

static graph_t *build_graph(const serve_opts_t *o, double *ms) {
    char err[GRAPH_ERR_LEN];
    uint64_t t0 = clock_now_us();
    graph_t *g = o->graph_file ? graph_load_snap(o->graph_file, err) : graph_generate(&o->graph, err);
    *ms = (double)(clock_now_us() - t0) / 1000.0;
    if (!g) fprintf(stderr, "crawlbench serve: %s\n", err);
    return g;
}

static void print_banner(const serve_opts_t *o, const graph_t *g, double ms, server_t *srv) {
    char lat[96], faults[256];
    const server_config_t *c = &o->cfg;
    fault_latency_format(&c->latency, lat, sizeof(lat));
    fault_plan_format(&c->faults, faults, sizeof(faults));
    if (o->graph_file)
        fprintf(stderr, "crawlbench serve: %u pages, %llu links, loaded from %s in %.1f ms\n", graph_pages(g),
                (unsigned long long)graph_edges(g), o->graph_file, ms);
    else
        fprintf(stderr, "crawlbench serve: %u pages, %llu links, generated from seed %llu in %.1f ms\n",
                graph_pages(g), (unsigned long long)graph_edges(g), (unsigned long long)o->graph.seed, ms);
    fprintf(stderr, "crawlbench serve: %d worker threads; latency %s; faults %s", server_threads(srv), lat, faults);
    if (c->faults.fail_first) fprintf(stderr, "; first %u requests per page fail with %s", c->faults.fail_first,
                                      fault_name(c->faults.fail_with));
    if (c->rate_limit > 0) fprintf(stderr, "; at most %g requests/s per client, %u at once", c->rate_limit, c->rate_burst);
    fprintf(stderr, "\n");
    if (server_fd_limit(srv) < (uint64_t)c->max_conns + 64)
        fprintf(stderr, "crawlbench serve: warning: the open-file limit is %llu (hard limit), below --max-conns %u; "
                "raise it with 'ulimit -Hn' as root to serve that many connections\n",
                (unsigned long long)server_fd_limit(srv), c->max_conns);
    /* The one line on stdout: scripts and tests read the URL from it. */
    printf("listening on http://%s%s%s:%d/\n", strchr(c->host, ':') ? "[" : "", c->host,
           strchr(c->host, ':') ? "]" : "", server_port(srv));
    fflush(stdout);
}

int cli_serve(int argc, char **argv) {
    serve_opts_t o;
    int rc = parse_serve(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;

    double ms;
    graph_t *g = build_graph(&o, &ms);
    if (!g) return CLI_FAIL;
    o.cfg.graph = g;

    /* Block the stop signals before any worker exists, so that they are delivered to sigwait()
     * here and never interrupt a worker mid-request. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[SERVER_ERR_LEN];
    server_t *srv = server_start(&o.cfg, err);
    if (!srv) {
        fprintf(stderr, "crawlbench serve: %s\n", err);
        graph_free(g);
        return CLI_FAIL;
    }
    print_banner(&o, g, ms, srv);
    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "crawlbench serve: %s: finishing requests in flight, then exiting\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(srv);
    server_wait(srv);
    graph_free(g);
    return CLI_OK;
}
