/* Crawl audit counters: shared per-page atomics, per-worker route/status counters, and a baseline
 * taken at reset so that a reset never has to write into another thread's counters. */
#include "server/audit.h"

#include "base/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const int audit_status_codes[AUDIT_STATUSES] = {200, 400, 404, 405, 408, 413, 414, 429,
                                                431, 500, 501, 503, 505, 204, 0};

static const char *const route_names[ROUTE_COUNT] = {
    "api", "random", "sample", "stats", "reset", "metrics", "health", "other",
};

struct audit {
    uint32_t pages;
    int workers;
    _Atomic uint32_t *attempts; /* requests per page, or the highest attempt stated for it */
    _Atomic uint32_t *served;   /* full 200 answers per page */
    audit_counters_t *counters; /* one per worker */
    pthread_mutex_t lock;       /* guards baseline and since */
    audit_snapshot_t baseline;
    uint64_t since_us;
};

audit_t *audit_create(uint32_t pages, int workers) {
    audit_t *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->pages = pages;
    a->workers = workers;
    a->attempts = calloc(pages ? pages : 1, sizeof(*a->attempts));
    a->served = calloc(pages ? pages : 1, sizeof(*a->served));
    a->counters = calloc((size_t)workers, sizeof(*a->counters));
    if (!a->attempts || !a->served || !a->counters) {
        audit_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    a->since_us = clock_now_us();
    return a;
}

void audit_free(audit_t *a) {
    if (!a) return;
    if (a->counters) pthread_mutex_destroy(&a->lock);
    free(a->attempts);
    free(a->served);
    free(a->counters);
    free(a);
}

audit_counters_t *audit_worker(audit_t *a, int worker) { return &a->counters[worker]; }

const char *audit_route_name(audit_route_t r) { return route_names[r]; }

uint32_t audit_attempt(audit_t *a, uint32_t page) {
    return atomic_fetch_add_explicit(&a->attempts[page], 1, memory_order_relaxed);
}

uint32_t audit_stated_attempt(audit_t *a, uint32_t page, uint32_t stated, int *resend) {
    uint32_t seen = atomic_load_explicit(&a->attempts[page], memory_order_relaxed);
    *resend = 1;
    while (stated > seen) /* an atomic max: concurrent resends of one attempt agree on who was first */
        if (atomic_compare_exchange_weak_explicit(&a->attempts[page], &seen, stated, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *resend = 0;
            break;
        }
    return stated ? stated - 1 : 0;
}

uint32_t audit_page_attempts(audit_t *a, uint32_t page) {
    return atomic_load_explicit(&a->attempts[page], memory_order_relaxed);
}

void audit_served(audit_t *a, audit_counters_t *c, uint32_t page) {
    uint32_t before = atomic_fetch_add_explicit(&a->served[page], 1, memory_order_relaxed);
    audit_count(before ? &c->duplicates : &c->distinct, 1);
}

void audit_response(audit_counters_t *c, audit_route_t route, int status) {
    int i = 0;
    while (i < AUDIT_STATUSES - 1 && audit_status_codes[i] != status) i++;
    audit_count(&c->responses[route][i], 1);
}

/* Sums every worker's counters (without the baseline) into s. */
static void sum_counters(audit_t *a, audit_snapshot_t *s) {
    memset(s, 0, sizeof(*s));
    for (int w = 0; w < a->workers; w++) {
        audit_counters_t *c = &a->counters[w];
        for (int r = 0; r < ROUTE_COUNT; r++)
            for (int i = 0; i < AUDIT_STATUSES; i++)
                s->responses[r][i] += atomic_load_explicit(&c->responses[r][i], memory_order_relaxed);
        for (int k = 0; k < FAULT_KINDS; k++)
            s->faults[k] += atomic_load_explicit(&c->faults[k], memory_order_relaxed);
        s->distinct += atomic_load_explicit(&c->distinct, memory_order_relaxed);
        s->duplicates += atomic_load_explicit(&c->duplicates, memory_order_relaxed);
        s->bytes_out += atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
        s->resends += atomic_load_explicit(&c->resends, memory_order_relaxed);
    }
}

void audit_snapshot(audit_t *a, audit_snapshot_t *s) {
    pthread_mutex_lock(&a->lock); /* a reset between summing and subtracting would underflow */
    sum_counters(a, s);
    const audit_snapshot_t *b = &a->baseline;
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int i = 0; i < AUDIT_STATUSES; i++) s->responses[r][i] -= b->responses[r][i];
    for (int k = 0; k < FAULT_KINDS; k++) s->faults[k] -= b->faults[k];
    s->distinct -= b->distinct;
    s->duplicates -= b->duplicates;
    s->bytes_out -= b->bytes_out;
    s->resends -= b->resends;
    s->since_s = (double)(clock_now_us() - a->since_us) / 1e6;
    pthread_mutex_unlock(&a->lock);
    uint32_t more = 0;
    for (uint32_t p = 0; p < a->pages; p++)
        more += atomic_load_explicit(&a->served[p], memory_order_relaxed) > 1;
    s->pages_more_than_once = more;
}

void audit_reset(audit_t *a) {
    pthread_mutex_lock(&a->lock);
    for (uint32_t p = 0; p < a->pages; p++) {
        atomic_store_explicit(&a->attempts[p], 0, memory_order_relaxed);
        atomic_store_explicit(&a->served[p], 0, memory_order_relaxed);
    }
    sum_counters(a, &a->baseline);
    a->since_us = clock_now_us();
    pthread_mutex_unlock(&a->lock);
}
