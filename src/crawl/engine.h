/* The interface between the crawl driver (crawl.c) and the concurrency models (one file each):
 * an engine gets a crawl_t, takes pages from it, fetches them however its model says, and hands
 * every outcome back. Everything else (frontier, cap, fetch path, parsing, results) is shared.
 *
 * crawl_take/crawl_done/crawl_idle are not thread-safe: the engine serialises them, and that
 * serialisation is the point of each model's file. crawl_page_parse is pure and safe anywhere. */
#ifndef CRAWLBENCH_ENGINE_H
#define CRAWLBENCH_ENGINE_H

#include "crawl/crawl.h"
#include "crawl/page.h"

typedef struct crawl crawl_t;

/* A model, described where it is written: every report (crawl --list-models, compare's table,
 * chart and report.html) reads these fields and names no model itself. */
struct crawl_engine {
    const char *name;         /* "threads": what -m takes */
    const char *summary;      /* one line, for --list-models */
    const char *title;        /* "Threads: shared memory and a lock" */
    const char *lesson;       /* what the model is: a paragraph (trusted HTML: <em> and <code> only) */
    const char *when;         /* when to reach for it: a paragraph, the same */
    const char *source;       /* its file: __FILE__, so it cannot drift */
    uint32_t max_concurrency; /* the most transfers in flight it can run; 1 marks the baseline */
    const char *limit_why;    /* why that is its limit, for the usage error */
    int (*run)(crawl_t *c);   /* 0, or -1 after crawl_fail() */
};

const crawl_config_t *crawl_config(const crawl_t *c);

/* The next page to fetch: its number, and its id copied into id (FRONTIER_ID_MAX + 1 bytes).
 * -1 when none is waiting, the cap is reached, or the crawl is stopping. Counts it as in flight. */
int64_t crawl_take(crawl_t *c, char *id, size_t *len);

/* Records how page's fetch ended (links parsed by crawl_page_parse, or NULL when it failed), adds
 * its new links to the frontier, and counts it out of flight. */
void crawl_done(crawl_t *c, uint32_t page, const fetch_result_t *r, const page_links_t *links);

/* Puts a page taken but never finished back in the queue (its worker died). */
void crawl_requeue(crawl_t *c, uint32_t page);

/* Pages crawl_take would hand out now (0 when capped or stopping). */
uint64_t crawl_waiting(const crawl_t *c);
/* The crawl is over: nothing waiting and nothing in flight (or stopping with nothing in flight). */
int crawl_idle(const crawl_t *c);
uint32_t crawl_in_flight(const crawl_t *c);
int crawl_stopping(const crawl_t *c);

/* Parses a successful fetch's body for the page id; returns 0 with links (free with
 * page_links_free), or -1 when the body is not a page. */
int crawl_page_parse(const fetch_result_t *r, const char *id, size_t len, page_links_t *links);

/* Adds kb to the crawl's peak RSS: for memory outside this process (a worker process's peak). The
 * result's peak_rss_kb is this process's own peak plus everything added. */
void crawl_add_rss(crawl_t *c, uint64_t kb);

/* Records why the engine failed; its run() then returns -1. The first call's message is kept:
 * later failures are usually consequences of the first. */
void crawl_fail(crawl_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
