/* Pool: the guide's ThreadPoolExecutor (section 5.1). A pool of N threads runs "fetch and parse this
 * page" as tasks; the main thread submits one per page and takes their futures back as they
 * complete (as_completed), so the frontier has a single owner and needs no lock at all: only the
 * main thread ever calls crawl_take and crawl_done. Compare threads.c, where every worker touches
 * the frontier and a mutex and a condition variable have to say who may, and when the crawl ends.
 *
 * The lesson is how much of threads.c the pool absorbs. The end of the crawl is plain counting:
 * the main thread keeps at most N futures pending, and when none is pending and crawl_take has
 * nothing to give, nothing in flight can bring new links: the crawl is idle. What the pool cannot
 * absorb is state a thread must own: a libcurl handle may not be shared between threads, and a pool
 * task does not choose its thread, so each thread creates its own fetcher the first time it needs
 * one (thread-specific data) and frees it when it exits. The pool itself is src/base/tpool.c. */
#include "base/tpool.h"
#include "crawl/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_shared {
    const crawl_config_t *cfg; /* read-only while tasks run */
    pthread_key_t fetcher;     /* each pool thread's fetcher_t */
    atomic_uint next_thread;   /* each pool thread's number, for its fetcher's jitter seed */
} pool_shared_t;

/* One page's trip through the pool: filled by the main thread, then by a pool thread, then read by
 * the main thread again; the future's completion orders the two. */
typedef struct pool_task {
    pool_shared_t *s;
    uint32_t page;
    size_t len;
    char id[FRONTIER_ID_MAX + 1];
    fetch_result_t r; /* a copy: the fetcher's own is overwritten by its thread's next page */
    page_links_t links;
    int parsed;
    char err[256]; /* set when the thread could not get a fetcher */
} pool_task_t;

static void fetcher_destructor(void *f) { fetcher_free(f); }

/* The calling thread's fetcher, created on its first task. */
static fetcher_t *thread_fetcher(pool_shared_t *s, char *err, size_t errlen) {
    fetcher_t *f = pthread_getspecific(s->fetcher);
    if (f) return f;
    f = fetcher_create(&s->cfg->fetch, fetch_jitter_seed(s->cfg->seed, atomic_fetch_add(&s->next_thread, 1)), err,
                       errlen);
    if (f && pthread_setspecific(s->fetcher, f) != 0) {
        fetcher_free(f);
        snprintf(err, errlen, "cannot keep a fetcher per thread");
        return NULL;
    }
    return f;
}

/* The task, run on a pool thread: fetch with retries, then parse, outside any lock. */
static void *fetch_task(void *arg) {
    pool_task_t *t = arg;
    fetcher_t *f = thread_fetcher(t->s, t->err, sizeof(t->err));
    if (!f) return t;
    const fetch_result_t *r = fetcher_get(f, t->id, t->len, t->s->cfg->stop);
    t->parsed = r->outcome == FETCH_OK && crawl_page_parse(r, t->id, t->len, &t->links) == 0;
    t->r = *r;
    /* The body's bytes stay in the fetcher, parsed already; crawl_done reads only its length. */
    t->r.body = (buf_t){.data = NULL, .len = r->body.len, .cap = 0};
    return t;
}

/* Takes the next page and submits it. 1 when submitted, 0 when there is no page to take now, -1
 * when the submission failed (the page is requeued and the crawl failed). */
static int submit_next(crawl_t *c, pool_shared_t *s, tpool_t *pool) {
    int64_t page;
    pool_task_t *t = calloc(1, sizeof(*t));
    if (!t) goto fail;
    if ((page = crawl_take(c, t->id, &t->len)) < 0) {
        free(t);
        return 0;
    }
    t->s = s;
    t->page = (uint32_t)page;
    if (tpool_submit(pool, fetch_task, t)) return 1;
    crawl_requeue(c, t->page);
    free(t);
fail:
    crawl_fail(c, "out of memory");
    return -1;
}

/* Hands a finished task's outcome to the crawl; -1 if its thread had no fetcher. */
static int complete(crawl_t *c, pool_task_t *t) {
    int rc = 0;
    if (t->err[0]) {
        crawl_requeue(c, t->page);
        crawl_fail(c, "%s", t->err);
        rc = -1;
    } else {
        crawl_done(c, t->page, &t->r, t->parsed ? &t->links : NULL);
    }
    if (t->parsed) page_links_free(&t->links);
    free(t);
    return rc;
}

static int pool_run(crawl_t *c) {
    pool_shared_t s = {.cfg = crawl_config(c)};
    uint32_t n = s.cfg->concurrency, pending = 0;
    char err[256];
    int failed = 0, rc;
    if (pthread_key_create(&s.fetcher, fetcher_destructor) != 0) {
        crawl_fail(c, "cannot create a thread-specific key");
        return -1;
    }
    tpool_t *pool = tpool_create(n, err, sizeof(err));
    if (!pool) {
        crawl_fail(c, "%s", err);
        pthread_key_delete(s.fetcher);
        return -1;
    }
    for (;;) {
        /* Keep N tasks pending: the pool's threads are the concurrency limit. */
        while (!failed && pending < n && (rc = submit_next(c, &s, pool)) != 0) {
            if (rc < 0) failed = 1;
            else pending++;
        }
        if (pending == 0) break; /* nothing to take and nothing pending: crawl_idle(c) */
        tpool_future_t *f = tpool_next_completed(pool); /* as_completed: whichever ends first */
        pool_task_t *t = tpool_future_wait(f);               /* it has finished: this does not block */
        tpool_future_free(f);
        pending--;
        if (complete(c, t) < 0) failed = 1;
    }
    tpool_shutdown(pool, 1); /* joins the threads, whose exit frees their fetchers */
    pthread_key_delete(s.fetcher);
    return failed ? -1 : 0;
}

const crawl_engine_t engine_pool = {
    .name = "pool",
    .summary = "a thread pool with futures; the main thread alone owns the frontier (as_completed)",
    .title = "Pool: futures, the clean API",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "The guide's <code>ThreadPoolExecutor</code>: a pool of N threads (<code>src/base/tpool.c</code>) "
        "runs \"fetch and parse this page\" as tasks. The main thread submits one per page and takes the "
        "futures back as they complete, so it alone touches the frontier and the crawl ends by plain "
        "counting: no lock, no condition variable.",
    .when = /* when to reach for it */
        "When you want threads' overlap behind a clean API: submit work, collect results. The pool owns the "
        "workers and their lifetimes, which <em>threads</em> does by hand. Reach for it before raw threads.",
    .source = __FILE__,
    .max_concurrency = 4096,
    .limit_why = "a kernel thread each in the pool; beyond a few thousand, use async, epoll or green",
    .run = pool_run,
};
