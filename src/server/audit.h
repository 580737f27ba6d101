/* The crawl audit: what the server has served since start or the last reset, so that a crawler's
 * correctness can be checked from the outside. Per-page counters are shared atomics (a page's attempt
 * number must be global for fault decisions to be deterministic); per-route/status counters are
 * per-worker, written by one thread only and summed when read, as wrk's stats are.
 *
 * Thread-safety: audit_attempt/audit_served from any thread; audit_counters_t fields are written only
 * by their owner thread; audit_snapshot/audit_reset from any thread. */
#ifndef CRAWLBENCH_AUDIT_H
#define CRAWLBENCH_AUDIT_H

#include "server/fault.h"

#include <stdatomic.h>
#include <stdint.h>

typedef enum audit_route {
    ROUTE_API, ROUTE_RANDOM, ROUTE_SAMPLE, ROUTE_STATS, ROUTE_RESET, ROUTE_METRICS, ROUTE_HEALTH,
    ROUTE_OTHER, ROUTE_COUNT
} audit_route_t;

/* The statuses the server can answer, in a fixed order; anything else lands in the last slot. */
#define AUDIT_STATUSES 15
extern const int audit_status_codes[AUDIT_STATUSES];

/* One worker's counters. Single writer (its worker), relaxed atomic reads by others. */
typedef struct audit_counters {
    _Atomic uint64_t responses[ROUTE_COUNT][AUDIT_STATUSES];
    _Atomic uint64_t faults[FAULT_KINDS];
    _Atomic uint64_t resends;    /* requests that stated an attempt already seen for their page */
    _Atomic uint64_t distinct;   /* first 200 for a page */
    _Atomic uint64_t duplicates; /* every later 200 for the same page */
    _Atomic uint64_t bytes_out;
} audit_counters_t;

typedef struct audit audit_t; /* opaque */

audit_t *audit_create(uint32_t pages, int workers);
void audit_free(audit_t *a);
audit_counters_t *audit_worker(audit_t *a, int worker);

/* Counts a request for page and returns how many came before it (its 0-based attempt number). */
uint32_t audit_attempt(audit_t *a, uint32_t page);
/* For a request that states its attempt number (1-based, HTTP_ATTEMPT_HEADER): records it and
 * returns its 0-based attempt number, setting *resend when the page has already had a request with
 * that number or a later one (a request a library sent again on its own). */
uint32_t audit_stated_attempt(audit_t *a, uint32_t page, uint32_t stated, int *resend);
/* Requests for page since the last reset (resends excluded when the client states its attempts). */
uint32_t audit_page_attempts(audit_t *a, uint32_t page);
/* Counts a full 200 answer for page in c (distinct or duplicate). */
void audit_served(audit_t *a, audit_counters_t *c, uint32_t page);

static inline void audit_count(_Atomic uint64_t *v, uint64_t n) {
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n, memory_order_relaxed);
}
void audit_response(audit_counters_t *c, audit_route_t route, int status);

/* Totals over all workers, minus the baseline of the last reset. */
typedef struct audit_snapshot {
    uint64_t responses[ROUTE_COUNT][AUDIT_STATUSES];
    uint64_t faults[FAULT_KINDS];
    uint64_t distinct, duplicates, bytes_out, resends;
    uint32_t pages_more_than_once; /* pages served two or more times */
    double since_s;                /* seconds since start or reset */
} audit_snapshot_t;

void audit_snapshot(audit_t *a, audit_snapshot_t *s);
/* Starts a new audit: zeroes the per-page counters (so attempt numbers, and with them the fault
 * pattern, start again) and takes the current totals as the new baseline. Meant to be called
 * between crawls; requests in flight during a reset may be counted on either side of it. */
void audit_reset(audit_t *a);

const char *audit_route_name(audit_route_t r);

#endif
