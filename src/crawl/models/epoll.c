/* epoll: what a library costs, and how close to the wire a crawler can get without one. One thread
 * per core, each with its own event loop (server/loop.h) and its own keep-alive connections
 * (hconn.c: our HTTP/1.1 client, our parser, no libcurl); the concurrency N is split across them.
 * What they share is the frontier, under one mutex, and the lesson is in how rarely they take it:
 *
 *  - Batching. A worker never touches the crawl from a callback. Answers are parsed (cJSON) where
 *    they arrive, outside any lock, and the page is parked on the worker's done list. Once per loop
 *    iteration, just before the loop sleeps, the worker takes the lock once: it hands back every
 *    page done since the last time, then takes a page for every idle connection. A busy loop
 *    gathers many answers per iteration, so the lock is taken once for many pages. Nothing is
 *    hoarded: a worker takes no more pages than it has idle connections, so in-flight never exceeds
 *    N and another worker is never starved by pages queued where nobody fetches them. The cap stays
 *    exact because crawl_take itself enforces it.
 *  - Sleeping and waking. A worker whose take came back short sleeps in epoll_wait with nothing to
 *    do; it must not poll. It is "hungry", and whoever later hands back pages and finds the frontier
 *    still not empty (it filled every idle connection of its own) wakes the hungry ones with
 *    loop_wake. The crawl is over when crawl_idle() says so under the lock: nothing waiting, and
 *    nothing in flight in ANY worker, since a page stays in flight until its worker has handed it
 *    back. Whoever sees that first wakes everyone, and every loop stops.
 *  - Retries: fetch_retryable() and fetch_retry_wait_us(), as every engine, with the backoff on a loop
 *    timer; the page stays with its connection meanwhile. A faulty connection is closed and the next
 *    attempt reconnects. libcurl hides a reset on a reused connection by silently sending the
 *    request again; here every reset and close is a counted attempt, so this engine's tallies are
 *    exactly the faults the server injected. */
#include "crawl/engine.h"

#include "base/fdlimit.h"
#include "base/rng.h"
#include "crawl/hconn.h"
#include "ev/loop.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define STOP_CHECK_US 100000 /* how soon a Ctrl-C cuts backoffs short */

typedef struct epoll_worker epoll_worker_t;

/* A transfer slot: one connection, and the page it fetches or waits to retry. */
typedef struct epoll_slot {
    epoll_worker_t *w;
    hconn_t *conn;
    uint32_t page;
    char id[FRONTIER_ID_MAX + 1];
    size_t len;
    fetch_result_t r;
    page_links_t links; /* parsed where the answer arrived; valid when parsed */
    int parsed;
    loop_timer_t backoff;
} epoll_slot_t;

typedef struct epoll_shared {
    crawl_t *c;
    hconn_target_t target; /* read-only once the workers run */
    pthread_mutex_t lock;  /* guards c, over, failed and every worker's hungry flag */
    int over;              /* crawl_idle() was seen: every loop stops */
    int failed;            /* a worker could not run: take nothing more, finish what is in flight */
    epoll_worker_t *workers;
    uint32_t nworkers;
} epoll_shared_t;

struct epoll_worker {
    epoll_shared_t *s;
    loop_t *loop;
    pthread_t thread;
    epoll_slot_t *slots;
    uint32_t nslots;
    uint32_t *idle, nidle;   /* slots without a page (a stack) */
    uint32_t *done, ndone;   /* slots whose page ended, to hand back */
    uint32_t *fresh, nfresh; /* slots given a page by the last exchange, to start */
    int starved;             /* this thread only: the last take came back short, wait to be woken */
    int hungry;              /* the same, under s->lock, for the other workers to see */
    rng_t rng;               /* backoff jitter */
    loop_timer_t tick;       /* checks the stop flag */
};

static void slot_attempt(epoll_slot_t *sl);

/* ---- a slot's page ---- */

/* The page ended: parse it here, outside any lock, and park it for the next exchange. */
static void slot_finish(epoll_slot_t *sl) {
    epoll_worker_t *w = sl->w;
    sl->parsed = sl->r.outcome == FETCH_OK && crawl_page_parse(&sl->r, sl->id, sl->len, &sl->links) == 0;
    w->done[w->ndone++] = (uint32_t)(sl - w->slots);
}

static int64_t slot_retry(loop_t *l, void *data) {
    slot_attempt(data);
    return LOOP_TIMER_STOP;
}

/* Starts the slot's next attempt after `delay` and its turn in the crawl's pace (fetch.h). */
static void slot_after(epoll_slot_t *sl, uint64_t delay) {
    delay += fetch_pace_wait_us(crawl_config(sl->w->s->c)->fetch.pace);
    if (!delay) return slot_attempt(sl);
    if (loop_timer_start(sl->w->loop, &sl->backoff, delay, slot_retry, sl) < 0) slot_finish(sl); /* OOM */
}

/* An attempt ended (hconn's callback): retry after a backoff when the policy says so, else done. */
static void slot_answered(hconn_t *h, void *data) {
    epoll_slot_t *sl = data;
    epoll_worker_t *w = sl->w;
    crawl_t *c = w->s->c;
    const fetch_opts_t *o = &crawl_config(c)->fetch;
    fetch_pace_note(o->pace, &sl->r);
    if (fetch_retryable(&sl->r) && sl->r.attempts < o->max_attempts && !crawl_stopping(c))
        return slot_after(sl, fetch_retry_wait_us(o, &sl->r, rng_next(&w->rng)));
    slot_finish(sl);
}

static void slot_attempt(epoll_slot_t *sl) {
    if (hconn_get(sl->conn, sl->id, sl->len, &sl->r) < 0) slot_finish(sl); /* out of memory */
}

/* ---- the exchange with the shared crawl ---- */

/* Wakes the other workers: all of them when the crawl is over, else the hungry ones (there may be
 * pages for them). Called with the lock held; loop_wake is a write to an eventfd. */
static void wake_others(epoll_worker_t *w, int all) {
    epoll_shared_t *s = w->s;
    for (uint32_t i = 0; i < s->nworkers; i++) {
        epoll_worker_t *o = &s->workers[i];
        if (o == w || !(all || o->hungry)) continue;
        o->hungry = 0; /* one wake per sleep: it sets the flag again if it finds nothing */
        loop_wake(o->loop);
    }
}

/* Hands back every page done, takes a page for every idle slot, notices the end. The only code
 * that touches the crawl. Returns 1 when this worker's loop should stop. */
static int worker_exchange(epoll_worker_t *w) {
    epoll_shared_t *s = w->s;
    int short_take = 0, stop;
    pthread_mutex_lock(&s->lock);
    /* Invariant: a page is in flight from crawl_take until crawl_done here, retries and the time on
     * the done list included; so crawl_idle() cannot be true while any worker still holds a page. */
    for (uint32_t i = 0; i < w->ndone; i++) {
        epoll_slot_t *sl = &w->slots[w->done[i]];
        crawl_done(s->c, sl->page, &sl->r, sl->parsed ? &sl->links : NULL);
        w->idle[w->nidle++] = w->done[i];
    }
    while (w->nidle && !s->over && !s->failed) {
        epoll_slot_t *sl = &w->slots[w->idle[w->nidle - 1]];
        int64_t page = crawl_take(s->c, sl->id, &sl->len);
        if (page < 0) {
            short_take = 1;
            break;
        }
        sl->page = (uint32_t)page;
        w->fresh[w->nfresh++] = w->idle[--w->nidle];
    }
    w->hungry = short_take;
    int ended_now = !s->over && crawl_idle(s->c);
    s->over |= ended_now;
    if (ended_now || (!short_take && !s->over)) wake_others(w, ended_now);
    stop = s->over || (s->failed && w->nidle == w->nslots);
    pthread_mutex_unlock(&s->lock);

    for (uint32_t i = 0; i < w->ndone; i++) {
        epoll_slot_t *sl = &w->slots[w->done[i]];
        if (sl->parsed) page_links_free(&sl->links);
        sl->parsed = 0;
    }
    w->ndone = 0;
    w->starved = w->nidle > 0; /* nothing more to take until someone wakes us */
    return stop;
}

/* Before the loop sleeps: the exchange, when there is something to exchange, then the new pages'
 * first attempts. An attempt that ends at once (out of memory) lands on the done list, hence the
 * loop: the worker must not sleep on a page nobody will hand back. */
static void worker_before_sleep(loop_t *l, void *data) {
    epoll_worker_t *w = data;
    while (w->ndone || (w->nidle && !w->starved)) {
        if (worker_exchange(w)) {
            loop_stop(l);
            return;
        }
        for (uint32_t i = 0; i < w->nfresh; i++) {
            epoll_slot_t *sl = &w->slots[w->fresh[i]];
            fetch_result_reset(&sl->r);
            slot_after(sl, 0);
        }
        w->nfresh = 0;
    }
}

static void worker_woken(loop_t *l, void *data) {
    epoll_worker_t *w = data;
    w->starved = 0; /* pages may be waiting, or the crawl is over: the next exchange tells */
}

/* Ctrl-C: backoffs end now (the page keeps its last answer); attempts on the wire finish. */
static int64_t worker_tick(loop_t *l, void *data) {
    epoll_worker_t *w = data;
    if (!crawl_stopping(w->s->c)) return STOP_CHECK_US;
    for (uint32_t i = 0; i < w->nslots; i++) {
        epoll_slot_t *sl = &w->slots[i];
        if (!loop_timer_active(&sl->backoff)) continue;
        loop_timer_stop(l, &sl->backoff);
        slot_finish(sl);
    }
    return STOP_CHECK_US;
}

/* ---- workers ---- */

static void worker_free(epoll_worker_t *w) {
    for (uint32_t i = 0; w->slots && i < w->nslots; i++) {
        hconn_free(w->slots[i].conn);
        buf_free(&w->slots[i].r.body);
        if (w->slots[i].parsed) page_links_free(&w->slots[i].links);
    }
    free(w->slots);
    free(w->idle);
    free(w->done);
    free(w->fresh);
    loop_free(w->loop);
}

/* Sets up a worker with nslots connections (none open yet: each connects on its first request). */
static int worker_init(epoll_worker_t *w, epoll_shared_t *s, uint32_t nslots, uint64_t seed, int setsize,
                       char *err, size_t errlen) {
    const crawl_config_t *cfg = crawl_config(s->c);
    *w = (epoll_worker_t){.s = s, .nslots = nslots};
    rng_seed(&w->rng, seed);
    if (!(w->loop = loop_create(setsize, err, errlen))) return -1;
    w->slots = calloc(nslots, sizeof(*w->slots));
    w->idle = calloc(nslots, sizeof(*w->idle));
    w->done = calloc(nslots, sizeof(*w->done));
    w->fresh = calloc(nslots, sizeof(*w->fresh));
    if (!w->slots || !w->idle || !w->done || !w->fresh) goto fail;
    for (uint32_t i = 0; i < nslots; i++) {
        epoll_slot_t *sl = &w->slots[i];
        sl->w = w;
        if (!(sl->conn = hconn_create(w->loop, &s->target, cfg->fetch.timeout_us, slot_answered, sl)))
            goto fail;
        w->idle[w->nidle++] = nslots - 1 - i; /* slot 0 on top: the first pages use the first slots */
    }
    loop_set_before_sleep(w->loop, worker_before_sleep, w);
    loop_set_wake(w->loop, worker_woken, w);
    if (cfg->stop && loop_timer_start(w->loop, &w->tick, STOP_CHECK_US, worker_tick, w) < 0) goto fail;
    return 0;

fail:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void worker_run(epoll_worker_t *w) {
    if (loop_run(w->loop) == 0) return;
    /* epoll itself failed: the pages this worker holds are lost, and so is the crawl. */
    pthread_mutex_lock(&w->s->lock);
    crawl_fail(w->s->c, "epoll_wait failed");
    w->s->failed = 1;
    wake_others(w, 1);
    pthread_mutex_unlock(&w->s->lock);
}

static void *worker_main(void *arg) {
    worker_run(arg);
    return NULL;
}

/* One worker per CPU this process may run on (taskset counts), but no more than N. */
static uint32_t worker_count(uint32_t concurrency) {
    cpu_set_t set;
    long cpus =
        sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    return concurrency < (uint32_t)cpus ? concurrency : (uint32_t)cpus;
}

/* Starts workers 1.. on threads of their own and runs worker 0 on the caller's thread. */
static void run_workers(epoll_shared_t *s) {
    uint32_t started = 1;
    for (; started < s->nworkers; started++)
        if (pthread_create(&s->workers[started].thread, NULL, worker_main, &s->workers[started]) != 0) break;
    if (started < s->nworkers) {
        pthread_mutex_lock(&s->lock);
        crawl_fail(s->c, "could start only %u of %u threads", started, s->nworkers);
        s->failed = 1;
        pthread_mutex_unlock(&s->lock);
    }
    worker_run(&s->workers[0]);
    for (uint32_t i = 1; i < started; i++)
        pthread_join(s->workers[i].thread, NULL);
}

static int epoll_run(crawl_t *c) {
    const crawl_config_t *cfg = crawl_config(c);
    epoll_shared_t s = {.c = c, .lock = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    uint32_t n = worker_count(cfg->concurrency), ready = 0;
    int setsize = (int)fdlimit_raise((uint64_t)cfg->concurrency + 64); /* room for N sockets */
    if (hconn_target_parse(&s.target, cfg->fetch.base_url, err, sizeof(err)) < 0) goto fail;
    if (!(s.workers = calloc(n, sizeof(*s.workers)))) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    s.nworkers = n;
    for (; ready < n; ready++) {
        uint32_t slots = cfg->concurrency / n + (ready < cfg->concurrency % n);
        if (worker_init(&s.workers[ready], &s, slots, rng_mix64(cfg->seed + ready), setsize, err,
                        sizeof(err)) < 0) {
            worker_free(&s.workers[ready]);
            goto fail;
        }
    }
    run_workers(&s);
    for (uint32_t i = 0; i < n; i++)
        worker_free(&s.workers[i]);
    free(s.workers);
    return s.failed ? -1 : 0;

fail:
    crawl_fail(c, "%s", err);
    for (uint32_t i = 0; i < ready; i++)
        worker_free(&s.workers[i]);
    free(s.workers);
    return -1;
}

const crawl_engine_t engine_epoll = {
    .name = "epoll",
    .summary = "a loop per core, our own HTTP/1.1 keep-alive client, no libcurl: the wire limit",
    .title = "epoll: no library at all",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "One thread per core, each with its own epoll loop and keep-alive connections speaking HTTP/1.1 "
        "through the project's own client and parser (<code>src/crawl/hconn.c</code>), no libcurl. The "
        "threads share the frontier under a mutex they take once per loop iteration for a whole batch of "
        "pages, and every reset, retry and partial read is handled in plain sight.",
    .when = /* when to reach for it */
        "Rarely in application code. Read it to see what asyncio, libuv or libcurl do for you, and to measure "
        "what they cost: the gap between this row and <em>async</em> is the price of the library, and the "
        "size of the file is the price of doing without.",
    .source = __FILE__,
    .max_concurrency = 65536,
    .limit_why = "a socket each, and the fds of one process",
    .run = epoll_run,
};
