/* The crawl driver: resolves the start page, runs one engine, keeps the books every engine shares
 * (frontier, cap, in-flight count, results), shows progress, and computes the ideal time. */
#include "crawl/crawl.h"

#include "crawl/engine.h"
#include "crawl/ideal.h"
#include "base/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct crawl {
    const crawl_config_t *cfg;
    frontier_t *frontier;
    crawl_result_t *res;
    uint32_t in_flight;
    char err[CRAWL_ERR_LEN];
    uint32_t *links_tmp; /* page numbers of one page's links, reused */
    uint32_t links_cap;
    uint64_t order_cap;
    uint64_t *cost_us;   /* per page: server-side time plus retry waits, for the ideal */
    uint32_t cost_cap;
    uint64_t untimed;    /* answers without Server-Timing: the ideal is then unknown */
    /* Published for the progress thread, which reads them without the engine's lock. */
    _Atomic uint64_t shown_done, shown_waiting;
    _Atomic uint32_t shown_in_flight;
};

const crawl_config_t *crawl_config(const crawl_t *c) { return c->cfg; }
uint32_t crawl_in_flight(const crawl_t *c) { return c->in_flight; }
int crawl_stopping(const crawl_t *c) { return c->cfg->stop && atomic_load_explicit(c->cfg->stop, memory_order_relaxed); }

void crawl_fail(crawl_t *c, const char *fmt, ...) {
    if (c->err[0]) return; /* the first cause is the one to report: later ones are its consequences */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

static void publish(crawl_t *c) {
    atomic_store_explicit(&c->shown_done, c->res->pages + c->res->failed, memory_order_relaxed);
    atomic_store_explicit(&c->shown_waiting, frontier_waiting(c->frontier), memory_order_relaxed);
    atomic_store_explicit(&c->shown_in_flight, c->in_flight, memory_order_relaxed);
}

int64_t crawl_take(crawl_t *c, char *id, size_t *len) {
    if (crawl_stopping(c)) return -1;
    int64_t page = frontier_next(c->frontier);
    if (page < 0) return -1;
    const char *s = frontier_id(c->frontier, (uint32_t)page, len);
    memcpy(id, s, *len);
    id[*len] = '\0';
    if (++c->in_flight > c->res->peak_in_flight) c->res->peak_in_flight = c->in_flight;
    publish(c);
    return page;
}

void crawl_requeue(crawl_t *c, uint32_t page) {
    if (frontier_requeue(c->frontier, page) < 0) crawl_fail(c, "out of memory");
    c->in_flight--;
    publish(c);
}

uint64_t crawl_waiting(const crawl_t *c) {
    return crawl_stopping(c) || frontier_capped(c->frontier) ? 0 : frontier_waiting(c->frontier);
}

int crawl_idle(const crawl_t *c) {
    return c->in_flight == 0 && (crawl_stopping(c) || frontier_waiting(c->frontier) == 0);
}

int crawl_page_parse(const fetch_result_t *r, const char *id, size_t len, page_links_t *links) {
    char why[128];
    return page_parse(r->body.data ? r->body.data : "", r->body.len, id, len, links, why, sizeof(why));
}

/* Adds a fetched page's links to the frontier and keeps them for the ideal simulation. */
static void add_links(crawl_t *c, uint32_t page, const page_links_t *links) {
    if (links->n > c->links_cap) {
        uint32_t *p = realloc(c->links_tmp, links->n * sizeof(*p));
        if (!p) return crawl_fail(c, "out of memory");
        c->links_tmp = p;
        c->links_cap = links->n;
    }
    for (uint32_t i = 0; i < links->n; i++) {
        int is_new;
        int64_t p = frontier_add(c->frontier, links->ids[i], links->lens[i], &is_new);
        if (p < 0) return crawl_fail(c, "out of memory");
        c->links_tmp[i] = (uint32_t)p;
    }
    if (frontier_set_links(c->frontier, page, c->links_tmp, links->n) < 0) crawl_fail(c, "out of memory");
    c->res->invalid_links += links->invalid;
}

/* Appends page to the visit order (pages fetched with a valid answer, in completion order). */
static void record_order(crawl_t *c, uint32_t page) {
    crawl_result_t *res = c->res;
    if (res->norder == c->order_cap) {
        uint64_t cap = c->order_cap ? c->order_cap * 2 : 1024;
        uint32_t *o = realloc(res->order, cap * sizeof(*o));
        if (!o) return crawl_fail(c, "out of memory");
        res->order = o;
        c->order_cap = cap;
    }
    res->order[res->norder++] = page;
}

/* Keeps how page ended (the page log) and what it cost that no client could have saved (ideal.h). */
static void record_page(crawl_t *c, uint32_t page, const fetch_result_t *r, int valid) {
    crawl_result_t *res = c->res;
    if (page >= c->cost_cap) {
        uint32_t cap = c->cost_cap ? c->cost_cap : 1024;
        while (cap <= page) cap *= 2;
        uint64_t *p = realloc(c->cost_us, cap * sizeof(*p));
        if (p) c->cost_us = p;
        crawl_page_end_t *e = realloc(res->ends, cap * sizeof(*e));
        if (e) res->ends = e;
        if (!p || !e) return crawl_fail(c, "out of memory");
        memset(p + c->cost_cap, 0, (cap - c->cost_cap) * sizeof(*p));
        memset(e + c->cost_cap, 0, (cap - c->cost_cap) * sizeof(*e));
        c->cost_cap = res->nends = cap;
    }
    c->cost_us[page] = r->server_us + r->waited_us;
    c->untimed += r->untimed;
    res->ends[page] = (crawl_page_end_t){.attempts = r->attempts, .http_status = (uint16_t)r->http_status,
                                         .outcome = (uint8_t)r->outcome, .valid = (uint8_t)valid};
}

void crawl_done(crawl_t *c, uint32_t page, const fetch_result_t *r, const page_links_t *links) {
    crawl_result_t *res = c->res;
    if (!r->attempts && crawl_stopping(c)) { /* stopped before its first attempt: never fetched */
        c->in_flight--;
        publish(c);
        return;
    }
    record_page(c, page, r, r->outcome == FETCH_OK && links);
    if (page == 0) res->start_outcome = r->outcome, res->start_status = r->http_status; /* the start page */
    for (int t = 0; t < FETCH_TALLIES; t++) res->tally[t] += r->tally[t];
    res->requests += r->attempts;
    res->retries += r->attempts ? r->attempts - 1 : 0;
    if (r->outcome == FETCH_OK) {
        res->bytes += r->body.len;
        hist_record(&res->latency, r->latency_us);
    }
    if (r->outcome == FETCH_OK && links) {
        res->pages++;
        add_links(c, page, links);
        record_order(c, page);
    } else {
        res->invalid_pages += r->outcome == FETCH_OK;
        res->failed++;
    }
    c->in_flight--;
    publish(c);
}

/* ---- the driver ---- */

typedef struct progress {
    crawl_t *c;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} progress_t;

/* Prints a status line on stderr five times a second until the crawl ends. */
static void *progress_main(void *arg) {
    progress_t *p = arg;
    uint64_t t0 = clock_now_us();
    pthread_mutex_lock(&p->lock);
    while (!p->done) {
        struct timespec ts = clock_deadline(200000); /* monotonic: a clock change cannot stall it */
        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        double s = (double)(clock_now_us() - t0) / 1e6;
        uint64_t done = atomic_load_explicit(&p->c->shown_done, memory_order_relaxed);
        fprintf(stderr, "\r  %8llu pages  %9.1f pages/s  %5u in flight  %8llu waiting  %6.1fs ",
                (unsigned long long)done, s > 0 ? (double)done / s : 0,
                atomic_load_explicit(&p->c->shown_in_flight, memory_order_relaxed),
                (unsigned long long)atomic_load_explicit(&p->c->shown_waiting, memory_order_relaxed), s);
    }
    pthread_mutex_unlock(&p->lock);
    fprintf(stderr, "\r%*s\r", 78, "");
    return NULL;
}

/* This process's peak resident set (the kernel's high-water mark, in KiB). */
static uint64_t peak_rss_kb(void) {
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    return (uint64_t)self.ru_maxrss;
}

void crawl_add_rss(crawl_t *c, uint64_t kb) { c->res->peak_rss_kb += kb; }

/* This process's resident set now (/proc/self/statm), in KiB; 0 when unreadable. */
static uint64_t rss_now_kb(void) {
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    if (f) fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* CPU seconds used so far by this process and its reaped children (the processes model's workers,
 * which it waits for before its run returns). */
static double cpu_now_s(void) {
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    const struct timeval *t[] = {&self.ru_utime, &self.ru_stime, &kids.ru_utime, &kids.ru_stime};
    double s = 0;
    for (size_t i = 0; i < 4; i++) s += (double)t[i]->tv_sec + (double)t[i]->tv_usec / 1e6;
    return s;
}

/* Runs the engine between two clock readings, with the progress thread beside it when asked. */
static int run_engine(const crawl_engine_t *e, crawl_t *c) {
    progress_t p = {.c = c, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_condattr_t ca;
    pthread_t th;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p.cond, &ca);
    pthread_condattr_destroy(&ca);
    int with_progress = c->cfg->progress && pthread_create(&th, NULL, progress_main, &p) == 0;
    /* The engine alone: what setting up the process and the frontier costs is the same for every model. */
    c->res->start_rss_kb = rss_now_kb();
    double cpu0 = cpu_now_s();
    uint64_t t0 = clock_now_us();
    int rc = e->run(c);
    c->res->elapsed_s = (double)(clock_now_us() - t0) / 1e6;
    c->res->cpu_s = cpu_now_s() - cpu0;
    if (with_progress) {
        pthread_mutex_lock(&p.lock);
        p.done = 1;
        pthread_cond_signal(&p.cond);
        pthread_mutex_unlock(&p.lock);
        pthread_join(th, NULL);
    }
    pthread_cond_destroy(&p.cond);
    return rc;
}

/* The replay with zero client CPU (ideal.h), or unknown (-1) when the server did not say how long it
 * took: a guessed ideal would flatter or shame a model for nothing it did. */
static void ideal(crawl_t *c, crawl_result_t *out) {
    uint32_t n = frontier_discovered(c->frontier);
    out->ideal_s = out->over_ideal = -1;
    if (c->untimed) return;
    if (n > c->cost_cap) { /* pages discovered but never fetched cost nothing */
        uint64_t *p = realloc(c->cost_us, (size_t)n * sizeof(*p));
        if (!p) return;
        for (uint32_t i = c->cost_cap; i < n; i++) p[i] = 0;
        c->cost_us = p, c->cost_cap = n;
    }
    out->ideal_s = ideal_crawl_s(c->frontier, c->cfg->concurrency, c->cfg->max_pages, c->cost_us);
    out->over_ideal = out->ideal_s > 0 ? out->elapsed_s / out->ideal_s : 0; /* 0: no latency to compare with */
}

int crawl_run(const crawl_config_t *cfg, crawl_result_t *out, char *err) {
    const crawl_engine_t *e = cfg->engine;
    crawl_config_t run_cfg = *cfg; /* with the crawl's shared pace (fetch.h) */
    crawl_t c = {.cfg = &run_cfg, .res = out};
    int is_new;
    memset(out, 0, sizeof(*out));
    hist_init(&out->latency);
    snprintf(out->model, sizeof(out->model), "%s", e->name);
    out->concurrency = cfg->concurrency;
    if (!strcmp(cfg->start, "random")) {
        if (fetch_random_page(cfg->fetch.base_url, cfg->fetch.timeout_us, out->start, sizeof(out->start), err,
                              CRAWL_ERR_LEN) < 0)
            return -1;
    } else if (!page_id_valid(cfg->start, strlen(cfg->start))) {
        snprintf(err, CRAWL_ERR_LEN, "'%s' is not a valid page id", cfg->start);
        return -1;
    } else {
        snprintf(out->start, sizeof(out->start), "%s", cfg->start);
    }
    if (!(c.frontier = out->frontier = frontier_create(cfg->max_pages)) ||
        frontier_add(c.frontier, out->start, strlen(out->start), &is_new) < 0) {
        snprintf(err, CRAWL_ERR_LEN, "out of memory");
        return -1;
    }
    if (!(run_cfg.fetch.pace = fetch_pace_create())) {
        snprintf(err, CRAWL_ERR_LEN, "out of memory");
        return -1;
    }
    int rc = run_engine(e, &c);
    fetch_pace_free(run_cfg.fetch.pace);
    run_cfg.fetch.pace = NULL;
    free(c.links_tmp);
    if (rc < 0 || c.err[0]) {
        free(c.cost_us);
        snprintf(err, CRAWL_ERR_LEN, "%.20s: %.200s", e->name, c.err[0] ? c.err : "failed");
        return -1;
    }
    out->interrupted = crawl_stopping(&c);
    out->discovered = frontier_discovered(c.frontier);
    out->pages_per_s = out->elapsed_s > 0 ? (double)out->pages / out->elapsed_s : 0;
    out->peak_rss_kb += peak_rss_kb(); /* plus what the engine added for its worker processes */
    ideal(&c, out);
    free(c.cost_us);
    return 0;
}

void crawl_result_free(crawl_result_t *r) {
    frontier_free(r->frontier);
    free(r->order);
    free(r->ends);
    r->ends = NULL;
    r->frontier = NULL;
    r->order = NULL;
}

int crawl_result_verdict(const crawl_result_t *r, char *why, size_t len) {
    unsigned long long refused = r->tally[TALLY_CONNECT];
    if (r->pages == 0 && r->start_outcome == FETCH_CONNECT)
        snprintf(why, len, "cannot connect to the server: is it running? start one with 'crawlbench serve'");
    else if (r->start_outcome == FETCH_HTTP && r->start_status == 404)
        snprintf(why, len, "the start page '%s' does not exist on this server (404)", r->start);
    else if (refused)
        snprintf(why, len, "the server stopped answering after %llu pages: %llu connection attempts refused, "
                 "%llu pages failed", (unsigned long long)r->pages, refused, (unsigned long long)r->failed);
    else
        return 0;
    return -1;
}
