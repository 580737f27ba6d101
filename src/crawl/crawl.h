/* Crawling the demo server: one configuration, one result, any concurrency model. This is the API
 * the `crawl` and `compare` commands use; the models themselves sit behind engine.h.
 *
 * Conventions: crawl_run returns 0, or -1 with a message in err (CRAWL_ERR_LEN). */
#ifndef CRAWLBENCH_CRAWL_H
#define CRAWLBENCH_CRAWL_H

#include "crawl/fetch.h"
#include "crawl/frontier.h"
#include "crawl/hist.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define CRAWL_ERR_LEN 256

typedef struct crawl_engine crawl_engine_t; /* a model: engine.h; the nine: crawl/models/models.h */

typedef struct crawl_config {
    const crawl_engine_t *engine; /* the model that runs the crawl */
    uint32_t concurrency;    /* transfers in flight at most (workers, tasks, ...) */
    uint64_t max_pages;      /* pages fetched at most, failed ones included */
    const char *start;       /* a page id, or "random" (ask the server) */
    fetch_opts_t fetch;      /* base URL, timeout, attempts, backoff */
    int progress;            /* a progress line on stderr */
    uint64_t seed;           /* for backoff jitter */
    atomic_int *stop;        /* set (by a signal handler) to stop early; may be NULL. Atomic, as
                                worker threads read it: lock-free, so a handler may write it */
} crawl_config_t;

/* How one page's fetch ended, for --page-log (crawl_result_t.ends, indexed by page number). */
typedef struct crawl_page_end {
    uint32_t attempts;    /* requests sent for it; 0: never fetched (only discovered, or stopped) */
    uint16_t http_status; /* of the last attempt; 0: no answer */
    uint8_t outcome;      /* fetch_outcome_t of the last attempt */
    uint8_t valid;        /* a 200 whose body was a page */
} crawl_page_end_t;

typedef struct crawl_result {
    char model[16];
    uint32_t concurrency;
    char start[FRONTIER_ID_MAX + 1];
    uint64_t pages;          /* distinct pages fetched with a valid answer */
    uint64_t failed;         /* pages given up on after every attempt */
    uint64_t requests;       /* attempts sent */
    uint64_t retries;        /* requests - pages attempted */
    uint64_t tally[FETCH_TALLIES]; /* attempts, by how they ended */
    uint64_t invalid_links;  /* links skipped as not /api/<id> */
    uint64_t invalid_pages;  /* 200 answers whose body was not a page */
    uint64_t bytes;          /* body bytes received */
    uint64_t discovered;     /* distinct page ids seen */
    double elapsed_s;
    double pages_per_s;
    hist_t latency;          /* us, successful attempts, wire time */
    uint32_t peak_in_flight;
    uint64_t peak_rss_kb;
    uint64_t start_rss_kb;   /* resident when the engine started: peak - start is what its tasks cost */
    double cpu_s;            /* client CPU (user + system) while the engine ran, its child processes too */
    double ideal_s;          /* the same crawl with zero client CPU (ideal.h); -1: unknown */
    double over_ideal;       /* elapsed_s / ideal_s; -1: unknown */
    int interrupted;         /* stopped early by a signal */
    fetch_outcome_t start_outcome; /* how the start page's fetch ended, and its HTTP status */
    int start_status;
    uint32_t *order;         /* pages in the order their fetch completed (page numbers) */
    uint64_t norder;
    frontier_t *frontier;    /* page ids and links, owned by the result */
    crawl_page_end_t *ends;  /* per page number, nends of them (pages beyond: never fetched) */
    uint32_t nends;
} crawl_result_t;

/* Runs one crawl. The result is the caller's to free with crawl_result_free(). */
int crawl_run(const crawl_config_t *cfg, crawl_result_t *out, char *err);
void crawl_result_free(crawl_result_t *r);

/* Whether a crawl that ran also reached its end: 0, or -1 with the reason in why when there was no
 * server to connect to, the start page does not exist (404), or the server stopped accepting
 * connections mid-crawl. Pages lost to HTTP errors or injected faults (the start page's too) are
 * results, not a failed crawl. */
int crawl_result_verdict(const crawl_result_t *r, char *why, size_t len);

void crawl_print_table(FILE *f, const crawl_result_t *r);
void crawl_print_json(FILE *f, const crawl_result_t *r);
/* One visited page id per line, in visit order. Returns 0 or -1 (errno). */
int crawl_write_order(FILE *f, const crawl_result_t *r);
/* Every page fetched or given up on, "PAGE_ID<TAB>OUTCOME<TAB>HTTP_STATUS<TAB>ATTEMPTS" a line, in
 * the order pages were discovered; OUTCOME is ok, invalid (a 200 that was not a page) or how the
 * last attempt failed (fetch_outcome_name). Returns 0 or -1 (errno). */
int crawl_write_page_log(FILE *f, const crawl_result_t *r);
/* Every fetched page with its links, "PAGE_ID<TAB>LINK_ID ..." a line, in visit order (graphfile.c,
 * docs/ANALYZE.md). Returns 0 or -1 (errno). */
int crawl_write_graph(FILE *f, const crawl_result_t *r);

#endif
