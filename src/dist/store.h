/* Private to src/dist: a crawl's Redis keys and the Lua scripts that change them, shared by the
 * coordinator's side (store.c) and the worker (worker.c). Not for other layers. */
#ifndef CRAWLBENCH_DIST_STORE_H
#define CRAWLBENCH_DIST_STORE_H

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

/* Latency rounded to 7 significant bits: the key of the lat hash. */
uint64_t dist__lat_key(uint64_t us);

#endif
