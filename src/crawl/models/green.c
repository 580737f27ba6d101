/* Green threads: N coroutines, each running the sequential crawler's loop line for line (take,
 * fetch, parse, done), all on one thread and one event loop. This is the gevent lesson. gevent's
 * monkey.patch_all() swaps the blocking calls of the standard library (socket.recv, time.sleep, ...)
 * for versions that start the operation, switch to the hub, and come back when it is done, so that
 * `requests.get(url)` written for threads suddenly runs thousands at a time. green_perform() below
 * is our monkey patch of curl_easy_perform: it puts the transfer on the shared curl multi and yields
 * to the scheduler; the completion callback makes the coroutine runnable again. green_sleep() does
 * the same for the backoff. The worker's code cannot tell, which is the appeal and the danger: any
 * call that really blocks (a forgotten synchronous fetch, a slow parse) stops every green thread.
 *
 * The difference from threads.c is who decides when to switch: the code itself, at its fetches and
 * sleeps, never the kernel in the middle of crawl_done. So the frontier needs no lock, and the
 * condition variable becomes a plain wait list, used the same way: a worker with nothing to take
 * while pages are in flight waits until a page comes back with new links or the crawl is over.
 *
 * What a green thread costs: a coroutine record (about 200 bytes; 1 KB with ucontext) and a 64 KiB
 * stack reserved with MAP_NORESERVE, of which a worker touches one page (4 KiB, 8 KiB under ASan;
 * coro_stack_peak measures it in tests/unit/test_curlloop.c); its easy handle comes with its first
 * page. Measured: 10,000 green threads crawling 10,000 pages peak at 128 MB resident where async
 * at the same -c needs 76 MB, about 5 KB per green thread. */
#include "ev/coro.h"
#include "base/fdlimit.h"
#include "ev/curlloop.h"
#include "crawl/engine.h"

#include "base/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GREEN_STACK (64u << 10)
#define SLEEP_SLICE_US 50000 /* a backoff looks at the Ctrl-C flag this often */

typedef struct green_crawl {
    crawl_t *c;
    const fetch_opts_t *opts;
    loop_t *loop;
    curlloop_t *cl;
    coro_sched_t *sched;
    coro_queue_t changed; /* workers with nothing to take while pages are in flight */
    rng_t rng;
    int failed;
} green_crawl_t;

typedef struct green_worker {
    green_crawl_t *g;
    coro_t *co;
    CURL *easy; /* this green thread's connection handle, reused like a thread's */
    fetch_result_t r;
    CURLcode rc; /* what the completion callback handed over */
    int on_wire;
} green_worker_t;

static void fail(green_crawl_t *g, const char *what) {
    crawl_fail(g->c, "%s", what);
    g->failed = 1;
}

/* The completion callback, on the scheduler's stack: hands over the result, wakes the worker. */
static void on_done(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    green_worker_t *w;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&w);
    w->rc = rc;
    w->on_wire = 0;
    coro_wake(w->co);
}

/* curl_easy_perform, monkey-patched: start the transfer, switch away, return its result. */
static CURLcode green_perform(green_worker_t *w) {
    if (curlloop_add(w->g->cl, w->easy) < 0) {
        fail(w->g, "libcurl refused a transfer");
        return CURLE_FAILED_INIT;
    }
    w->on_wire = 1;
    coro_park(w->g->sched, NULL, NULL); /* not cancellable: green threads are never cancelled */
    return w->rc;
}

/* nanosleep, monkey-patched, in slices so that Ctrl-C is not kept waiting (as fetch.c sleeps). */
static void green_sleep(green_crawl_t *g, uint64_t us) {
    while (us && !crawl_stopping(g->c)) {
        uint64_t slice = us < SLEEP_SLICE_US ? us : SLEEP_SLICE_US;
        if (coro_sleep(g->sched, slice) < 0) return; /* no timer slot: retry at once */
        us -= slice;
    }
}

/* fetcher_get (fetch.c), unchanged but for the two patched calls. */
static const fetch_result_t *green_get(green_worker_t *w, const char *id, size_t len) {
    green_crawl_t *g = w->g;
    fetch_result_t *r = &w->r;
    fetch_result_reset(r);
    for (uint32_t attempt = 1;; attempt++) {
        green_sleep(g, fetch_pace_wait_us(g->opts->pace)); /* our turn, when the server limits our rate */
        if (crawl_stopping(g->c)) return r; /* stopped while waiting for its turn: no attempt */
        if (fetch_easy_url(w->easy, g->opts, id, len, r) < 0) {
            snprintf(r->error, sizeof(r->error), "page id too long for a URL");
            return r;
        }
        fetch_classify(w->easy, g->opts, green_perform(w), r);
        fetch_pace_note(g->opts->pace, r);
        if (!fetch_retryable(r) || attempt >= g->opts->max_attempts || crawl_stopping(g->c)) return r;
        green_sleep(g, fetch_retry_wait_us(g->opts, r, rng_next(&g->rng)));
        if (crawl_stopping(g->c)) return r; /* stopped during the wait: no further attempt */
    }
}

static int make_easy(green_worker_t *w) {
    if ((w->easy = fetch_easy_create(w->g->opts, &w->r, w)))
        return 0;
    fail(w->g, "cannot create a libcurl handle");
    return -1;
}

/* One green thread: threads.c's worker with the lock taken out and the condition variable
 * replaced by a wait list. Waking is passed on rather than broadcast: a worker that takes a page
 * while more are waiting wakes one more waiter, who takes the next page and does the same, until
 * the frontier is empty. With 10,000 workers, broadcasting on every page would wake all of them for
 * each of the 10,000 pages. The end is the one broadcast: nothing waiting, nothing in flight. */
static void worker_main(void *arg) {
    green_worker_t *w = arg;
    green_crawl_t *g = w->g;
    char id[FRONTIER_ID_MAX + 1];
    size_t len;
    w->co = coro_current(g->sched);
    for (;;) {
        int64_t page = -1;
        /* Invariant while waiting: nothing to take, but pages in flight may add some. */
        while (!g->failed && !crawl_idle(g->c) && (page = crawl_take(g->c, id, &len)) < 0)
            coro_wait(g->sched, &g->changed);
        if (page < 0) break; /* idle, or failed */
        if (crawl_waiting(g->c)) coro_signal(&g->changed); /* more to take: pass it on */
        if (!w->easy && make_easy(w) < 0) { /* at its first page: an idle worker costs no handle */
            crawl_requeue(g->c, (uint32_t)page);
            break;
        }

        const fetch_result_t *r = green_get(w, id, len); /* looks blocking; yields */
        page_links_t links;
        int parsed = r->outcome == FETCH_OK && crawl_page_parse(r, id, len, &links) == 0;
        crawl_done(g->c, (uint32_t)page, r, parsed ? &links : NULL);
        if (parsed) page_links_free(&links);
    }
    coro_broadcast(&g->changed); /* the end, for everyone */
}

static void free_workers(green_crawl_t *g, green_worker_t *w, uint32_t n) {
    for (uint32_t i = 0; w && i < n; i++) {
        if (w[i].on_wire) curlloop_remove(g->cl, w[i].easy); /* only when the loop itself failed */
        curl_easy_cleanup(w[i].easy);
        buf_free(&w[i].r.body);
    }
    free(w);
}

static int green_run(crawl_t *c) {
    const crawl_config_t *cfg = crawl_config(c);
    uint32_t n = cfg->concurrency;
    green_crawl_t g = {.c = c, .opts = &cfg->fetch};
    green_worker_t *workers = NULL;
    char err[256];
    rng_seed(&g.rng, cfg->seed);
    if (!(g.loop = loop_create((int)fdlimit_raise(0), err, sizeof(err))) ||
        !(g.cl = curlloop_create(g.loop, n, on_done, &g, err, sizeof(err))) ||
        !(g.sched = coro_sched_create(g.loop, GREEN_STACK, err, sizeof(err)))) {
        fail(&g, err);
        goto out;
    }
    if (!(workers = calloc(n, sizeof(*workers)))) {
        fail(&g, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        workers[i].g = &g;
        if (!coro_spawn(g.sched, worker_main, &workers[i])) {
            snprintf(err, sizeof(err), "could start only %u of %u green threads: %s", i, n, strerror(errno));
            fail(&g, err); /* those started see it and end */
            break;
        }
    }
    if (coro_run(g.sched) < 0) fail(&g, "epoll_wait failed");
    if (curlloop_error(g.cl)) fail(&g, curlloop_error(g.cl));
out:
    free_workers(&g, workers, n);
    coro_sched_free(g.sched);
    curlloop_free(g.cl);
    loop_free(g.loop);
    return g.failed ? -1 : 0;
}

const crawl_engine_t engine_green = {
    .name = "green",
    .summary = "N coroutines run the sequential loop; fetch and sleep yield to one event loop (gevent)",
    .title = "Green threads: blocking code, event-loop scale",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "N coroutines, each running the sequential loop line for line, share one thread and one event loop. "
        "The blocking fetch is swapped for one that starts the transfer and switches to the scheduler until "
        "it is done: gevent's monkey patching. The code switches only at its fetches and sleeps, so the "
        "frontier needs no lock. Coroutines come from <code>src/ev/coro.c</code>; each reserves a 64 KiB "
        "stack and touches about 8.",
    .when = /* when to reach for it */
        "You have blocking-style code or libraries and want thousands of concurrent operations without "
        "rewriting them into callbacks or async/await. The danger: any call that really blocks stops every "
        "green thread.",
    .source = __FILE__,
    .max_concurrency = 65536,
    .limit_why = "a socket and a 64 KiB coroutine stack each",
    .run = green_run,
};
