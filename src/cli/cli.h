/* The crawlbench command line: one binary, one function per subcommand, shared option parsing.
 * Exit codes everywhere: 0 ok, 1 runtime failure, 2 usage error. */
#ifndef CRAWLBENCH_CLI_H
#define CRAWLBENCH_CLI_H

#include <stdint.h>
#include <stdio.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int cli_serve(int argc, char **argv);
int cli_crawl(int argc, char **argv);
int cli_graph(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_analyze(int argc, char **argv);
int cli_worker(int argc, char **argv);
/* `crawl --redis ...`: the distributed model and --status (crawl_dist.c). */
int cli_crawl_distributed(int argc, char **argv);

/* `compare --tour` (tour.c): every regime in turn through cli_compare_run (compare.c), which runs
 * `crawlbench compare ARGV` but prints the short table under title; it returns CLI_OK with the report,
 * to free with compare_report_free() in every case, CLI_USAGE or CLI_FAIL. */
struct compare_report;
int cli_compare_tour(int argc, char **argv);
int cli_compare_run(int argc, char **argv, const char *title, struct compare_report *report);

/* Parses a whole decimal number in [min, max]; on failure prints "crawlbench OPTION: ..." to stderr
 * and returns -1. */
int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a duration above zero (base/units.h: "250us", "50ms", "1.5s"); on failure prints the usage
 * error for cmd's option opt and returns CLI_USAGE. */
int cli_parse_duration(const char *cmd, const char *opt, const char *s, uint64_t *us);

/* Prints "crawlbench CMD: message" and a pointer to --help, returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long returns with a leading ':' in the short options: '?' for an
 * unknown option, ':' for one missing its value. */
int cli_option_error(const char *cmd, char **argv, int opt);

#endif
