/* Threads: N workers, each a copy of the sequential loop with its own connection, sharing the
 * frontier under one mutex. The lesson is in two places:
 *
 *  - What the lock protects: the frontier and the crawl's books (crawl_take, crawl_done). The fetch
 *    and the JSON parsing happen outside it; that is where the parallelism comes from.
 *  - How the crawl ends. An empty frontier does not mean the crawl is over: a page in flight may
 *    still bring new links. A worker that finds nothing to take waits on the condition variable;
 *    the crawl is over when the frontier is empty AND nothing is in flight, and the worker that sees
 *    this wakes all the others. Until then a finished page wakes only as many sleepers as there are
 *    pages for them. No timeout decides it (the guide's version ends when a queue.get()
 *    has waited one second, which is both slow and wrong under latency above a second). */
#include "crawl/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct threads_shared {
    crawl_t *c;
    pthread_mutex_t lock;   /* guards c: frontier, in-flight count, results */
    pthread_cond_t changed; /* a page finished: there may be new pages, or the crawl may be over */
    uint32_t sleepers;      /* workers waiting on changed */
    int failed;
    atomic_uint next_worker; /* each worker's number, for its jitter seed */
} threads_shared_t;

/* Called with the lock held by a worker that has just finished a page and is about to take the
 * next. Wakes one sleeper for each page waiting beyond the one it will take itself, or all of them
 * when the crawl is over. A broadcast for every page would wake every idle worker to compete for
 * one page: at -c 1000, hundreds of wake-ups through the mutex for nothing. */
static void wake(threads_shared_t *s) {
    if (s->failed || crawl_idle(s->c)) {
        pthread_cond_broadcast(&s->changed);
        return;
    }
    uint64_t more = crawl_waiting(s->c);
    for (uint64_t i = 1; i < more && i <= s->sleepers; i++) pthread_cond_signal(&s->changed);
}

static void *worker(void *arg) {
    threads_shared_t *s = arg;
    const crawl_config_t *cfg = crawl_config(s->c);
    char err[256], id[FRONTIER_ID_MAX + 1];
    size_t len;
    uint32_t me = atomic_fetch_add(&s->next_worker, 1);
    fetcher_t *f = fetcher_create(&cfg->fetch, fetch_jitter_seed(cfg->seed, me), err, sizeof(err));

    pthread_mutex_lock(&s->lock);
    if (!f) {
        crawl_fail(s->c, "%s", err);
        s->failed = 1;
    }
    for (;;) {
        int64_t page = -1;
        /* Invariant while waiting: nothing to take, but pages in flight may add some. */
        while (!s->failed && !crawl_idle(s->c) && (page = crawl_take(s->c, id, &len)) < 0) {
            s->sleepers++;
            pthread_cond_wait(&s->changed, &s->lock);
            s->sleepers--;
        }
        if (page < 0) break; /* idle: nothing waiting, nothing in flight */
        pthread_mutex_unlock(&s->lock);

        const fetch_result_t *r = fetcher_get(f, id, len, cfg->stop); /* no lock held */
        page_links_t links;
        int parsed = r->outcome == FETCH_OK && crawl_page_parse(r, id, len, &links) == 0;

        pthread_mutex_lock(&s->lock);
        crawl_done(s->c, (uint32_t)page, r, parsed ? &links : NULL);
        wake(s); /* new pages for sleepers, or the end for all */
        if (parsed) page_links_free(&links);
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    fetcher_free(f);
    return NULL;
}

static int threads_run(crawl_t *c) {
    uint32_t n = crawl_config(c)->concurrency, started = 0;
    threads_shared_t s = {.c = c, .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    pthread_t *th = calloc(n, sizeof(*th));
    if (!th) {
        crawl_fail(c, "out of memory");
        return -1;
    }
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, worker, &s) != 0) break;
    if (started < n) {
        pthread_mutex_lock(&s.lock);
        crawl_fail(c, "could start only %u of %u threads", started, n);
        s.failed = 1;
        pthread_cond_broadcast(&s.changed);
        pthread_mutex_unlock(&s.lock);
    }
    for (uint32_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    return s.failed ? -1 : 0;
}

const crawl_engine_t engine_threads = {
    .name = "threads",
    .summary = "N threads share the frontier under a mutex; a condition variable ends it",
    .title = "Threads: shared memory and a lock",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "N worker threads, each running the sequential loop with its own connection, share the frontier under "
        "one mutex. The fetch and the parse happen outside the lock, which is where the parallelism comes "
        "from. A worker that finds nothing to take waits on a condition variable: an empty frontier is not "
        "the end while pages in flight may still bring links.",
    .when = /* when to reach for it */
        "I/O-bound work with modest concurrency (tens of workers): the code stays blocking and easy to read. "
        "Each thread costs a stack and a kernel thread, and shared state needs locks, with races and "
        "deadlocks as the price of a mistake. In Python the GIL lets threads overlap their waiting, not their "
        "computing.",
    .source = __FILE__,
    .max_concurrency = 4096,
    .limit_why = "a kernel thread each (8 MiB of stack reserved); beyond a few thousand, use async, epoll or green",
    .run = threads_run,
};
