/* The distributed crawl on Redis: a crawl's state lives in Redis under crawlbench:{ID}:*, any number
 * of worker processes on any machines fetch its pages, and a coordinator seeds it, waits for its end
 * and reports. The design (keys, scripts, leases, the end of a crawl) is in docs/DISTRIBUTED.md and
 * at the top of store.c.
 *
 * Conventions: functions return 0 (or a documented positive value), or -1 with a message in err
 * (DIST_ERR_LEN); DIST_EXISTS and DIST_FOREIGN are the -1 cases a caller may want to tell apart. */
#ifndef CRAWLBENCH_DIST_H
#define CRAWLBENCH_DIST_H

#include "crawl/crawl.h"
#include "dist/rconn.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define DIST_ERR_LEN 256
#define DIST_ID_MAX 64

/* Whether id is a crawl id: 1..DIST_ID_MAX characters of [A-Za-z0-9._-]. */
int dist_id_valid(const char *id);

/* What a crawl is: fixed when it is created, read by every worker that joins. */
typedef struct dist_spec {
    const char *id;
    const char *start;   /* a page id (the coordinator resolves "random" first) */
    uint64_t max_pages;
    fetch_opts_t fetch;  /* base URL, timeout, attempts, backoff: every worker fetches with these */
    uint64_t lease_ms;   /* 0: derived from fetch (the longest a page can take, with all retries) */
} dist_spec_t;

typedef enum dist_mode { DIST_NEW, DIST_RESUME, DIST_FRESH } dist_mode_t;

/* The lease a fetch policy needs: every attempt timing out and every backoff at its longest, plus a
 * margin. */
uint64_t dist_lease_ms(const fetch_opts_t *o);

/* Creates the crawl. An existing crawl of that id is an error in DIST_NEW, kept in DIST_RESUME
 * (its own spec wins) and deleted first in DIST_FRESH; keys of that id that are not a crawlbench
 * crawl are never touched. Returns 0 when created, 1 when resumed, -1 with err. */
int dist_create(rconn_t *c, const dist_spec_t *s, dist_mode_t mode, char *err);

/* Waits until the crawl is finished (0), or *stop is set (1). */
int dist_wait(rconn_t *c, const char *id, atomic_int *stop, char *err);

/* Prints the crawl's state: progress, in flight, pending per worker, reclaimed, rate (a table, or
 * one JSON object). Returns 0, or -1 when there is no such crawl. */
int dist_print_status(rconn_t *c, const char *id, int json, FILE *f, char *err);

/* Prints the crawl's result like any model's (crawl_print_table/json), plus the distributed
 * figures: per worker, reclaimed and duplicate fetches, Redis commands per page. */
int dist_print_result(rconn_t *c, const char *id, int json, FILE *f, char *err);

/* How a worker is concurrent. threads: a thread per page in flight, each with its own blocking
 * Redis connection and libcurl handle (worker.c). async and epoll: one thread, one event loop, one
 * asynchronous Redis connection, pages fetched through libcurl's multi interface (async) or the
 * project's own HTTP client (epoll), as the local models of those names (evworker.c). */
typedef enum dist_model { DIST_THREADS, DIST_ASYNC, DIST_EPOLL } dist_model_t;

typedef struct dist_worker_opts {
    const rconn_url_t *url;
    const char *id;
    dist_model_t model;
    uint32_t concurrency; /* pages fetched at once */
    uint64_t seed;       /* backoff jitter */
    uint64_t retry_us;   /* how long to keep reconnecting to a Redis that went away */
    atomic_int *stop;    /* set by SIGTERM/SIGINT: finish or give back the pages in hand, leave */
} dist_worker_opts_t;

typedef struct dist_worker_stats {
    uint64_t pages, failed, duplicates, reclaimed, returned, commands, round_trips, reconnects;
    int finished;        /* 1: the crawl ended; 0: stopped early */
} dist_worker_stats_t;

/* Joins crawl o->id and fetches its pages until it ends or *o->stop is set. */
int dist_worker_run(const dist_worker_opts_t *o, dist_worker_stats_t *st, char *err);
/* The same for the models async and epoll (dist_worker_run hands them over). */
int dist_evworker_run(const dist_worker_opts_t *o, dist_worker_stats_t *st, char *err);

#endif
