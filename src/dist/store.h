/* Private to src/dist: a crawl's Redis keys and the Lua scripts that change them, shared by the
 * coordinator's side (store.c) and the worker (worker.c). Not for other layers. */
#ifndef CRAWLBENCH_DIST_STORE_H
#define CRAWLBENCH_DIST_STORE_H

#include "crawl/page.h"
#include "dist/dist.h"

#define DIST__GROUP "workers"
#define DIST__KIND "crawlbench-crawl"
#define DIST__NKEYS 7

/* Every key of one crawl, in the order the scripts take them as KEYS[1..7]. */
typedef struct dist__keys {
    char meta[96];    /* HASH: kind, version, state (running|done), spec, created_us, finished_us */
    char ctr[96];     /* HASH: pending, admitted, pages, failed, requests, reclaimed, duplicates, ... */
    char seen[96];    /* SET: every page id discovered */
    char stream[96];  /* STREAM + group "workers": the frontier, one entry per page to fetch */
    char workers[96]; /* HASH: "<worker>|<figure>" -> count */
    char done[96];    /* LIST: one element pushed when the crawl ends (wakes the coordinator) */
    char lat[96];     /* HASH: latency (us, 7 significant bits) -> pages */
    const char *argv[DIST__NKEYS];
} dist__keys_t;

void dist__keys(dist__keys_t *k, const char *id);

/* The scripts' sources; each thread keeps its own rconn_script_t (the SHA1 cache). */
extern const char *const dist__lua_ack;     /* a page done: links in, entry acked, counters */
extern const char *const dist__lua_giveback; /* a page not done: back into the stream */
extern const char *const dist__lua_renew;   /* extend the leases of a worker's own pages */
extern const char *const dist__lua_reclaim; /* take over pages whose lease ran out */

/* Reads the meta hash into a spec (strings copied into the caller's bufs). Returns 0, or -1 when
 * there is no crawl of that id or its keys are not a crawlbench crawl. */
typedef struct dist__meta {
    char state[16];
    char start[FRONTIER_ID_MAX + 1];
    char base_url[256];
    dist_spec_t spec;
    uint64_t created_us, finished_us;
} dist__meta_t;
int dist__read_meta(rconn_t *c, const dist__keys_t *k, dist__meta_t *m, char *err);

/* A page's acknowledgement, ready to send as one call of a pipeline: the ack script's arguments and
 * the links they point into. Shared by both workers, so that a page ends the same in each. */
typedef struct dist__ack {
    rconn_call_t call;
    const char *outcome; /* "ok", "failed" (no answer, or no page id), "invalid" (not a page) */
    page_links_t links;
    int parsed;
    char num[15][24];
} dist__ack_t;

/* Builds the ack of entry (page: its page id, "" when it held none) from the fetch's result; parses
 * the body for links. cmds, trips: the worker's Redis commands and round trips since its last ack,
 * for the crawl's counters. 0, or -1 when out of memory. */
int dist__ack_build(dist__ack_t *a, rconn_script_t *script, const dist__keys_t *k, const char *worker,
                    const char *entry, const char *page, const fetch_result_t *r, uint64_t cmds, uint64_t trips,
                    char *err);
/* 1: the ack script acknowledged the entry; 0: it had been already (a duplicate fetch). */
int dist__ack_reply(const redisReply *r);
void dist__ack_free(dist__ack_t *a);

/* Copies one stream entry [id, [field, value, ...]] into entry (48 bytes) and page (FRONTIER_ID_MAX
 * + 1; "" when the entry holds no page id). 0, or -1 when it is not an entry. */
int dist__read_entry(const redisReply *e, char *entry, char *page);

/* Reads the crawl's spec into m and announces worker `name` (HOST:PID, written into name) with its
 * concurrency, for the report. 0, or -1 with err. */
int dist__join(rconn_t *c, const char *id, uint32_t concurrency, dist__keys_t *k, dist__meta_t *m, char name[128],
               char *err);

/* Latency rounded to 7 significant bits: the key of the lat hash. */
uint64_t dist__lat_key(uint64_t us);

#endif
