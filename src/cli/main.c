/* crawlbench's entry point: dispatches to a subcommand and owns the top-level --help/--version. */
#include "cli/cli.h"

#include "base/units.h"
#include "base/version.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char usage[] =
    "usage: crawlbench <command> [options]\n"
    "\n"
    "A deterministic web-graph server and the concurrency models that crawl it.\n"
    "\n"
    "commands:\n"
    "  serve     run the demo server (the guide's web graph over HTTP, with latency and faults)\n"
    "  crawl     crawl a server with one concurrency model and report what it took\n"
    "  compare   run every model side by side: a table, JSON, charts and an HTML report\n"
    "  graph     the graph a server would serve: its shape, the pages reachable from one, an edge list\n"
    "  analyze   CPU-bound work on a graph: link scores, PageRank, statistics, with four models\n"
    "  worker    fetch pages of a distributed crawl kept in Redis (crawl --model distributed)\n"
    "\n"
    "Run 'crawlbench <command> --help' for a command's options.\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 usage error.\n";

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "crawlbench %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'crawlbench %s --help'.\n", cmd);
    return CLI_USAGE;
}

int cli_option_error(const char *cmd, char **argv, int opt) {
    if (opt == ':') return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int cli_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t *us) {
    char err[160];
    uint64_t v = 0;
    int rc = units_duration_parse(s, strlen(s), &v, err, sizeof(err));
    if (rc == 0 && v > 0) {
        *us = v;
        return 0;
    }
    return cli_usage_error(cmd, "%s: %s", opt, rc == 0 ? "must be above zero" : err);
}

int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end;
    if (!s || !*s || *s < '0' || *s > '9') goto bad;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "crawlbench: %s expects a whole number from %llu to %llu, not '%s'\n", opt,
            (unsigned long long)min, (unsigned long long)max, s ? s : "");
    return -1;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cli_serve},
    {"crawl", cli_crawl},
    {"graph", cli_graph},
    {"compare", cli_compare},
    {"analyze", cli_analyze},
    {"worker", cli_worker},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("crawlbench %s\n", CRAWLBENCH_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        /* libcurl's global state, once, before any thread exists. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "crawlbench: cannot initialise libcurl\n");
            return CLI_FAIL;
        }
        int rc = commands[i].run(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "crawlbench: unknown command '%s'\n\n%s", cmd, usage);
    return CLI_USAGE;
}
