/* Nursery: structured concurrency, as trio teaches it. A task may start concurrent children only
 * inside a nursery, a scope the parent opens and cannot leave until every child has finished:
 *
 *     async with trio.open_nursery() as nursery:      nursery_t n; nursery_open(&n, sched);
 *         nursery.start_soon(child, page)             nursery_start_soon(&n, child, page);
 *     # all children done here                        nursery_wait(&n);  all children done here
 *
 * Each page is a child task: it fetches, parses, hands the page in, and starts children for the
 * pages it brought, into the same nursery, at most N alive. When a child fails (for itself, not
 * for its page: out of memory, no libcurl handle) the nursery is cancelled: every sibling's pending
 * fetch is taken off the curl multi, its timers stopped, and it unwinds from its next wait through
 * its ordinary error path, giving its page back. The page cap needs no cancellation here: crawl_take
 * never hands out a page past it, so every child alive at the cap holds a page within it.
 *
 * The invariant that makes "nothing outlives its scope" true: a child counts in n->alive from
 * nursery_start_soon until its function has returned, children are started only by the parent or
 * by a living child (so into an open nursery), and a child gives back everything it acquired (its
 * slot, its transfer, its timer) before it returns, cancellation included, because cancellation
 * reaches it as an error return at a wait, never as a kill. So when alive reaches 0 and
 * nursery_wait returns, no child runs, no transfer of theirs is on the multi, no timer is armed.
 * The nursery itself lives in the parent's stack frame: nothing else could keep it alive longer.
 *
 * Coroutines come from coro.c, as in green.c; one thread, so crawl_take/crawl_done need no lock. */
#include "ev/coro.h"
#include "base/fdlimit.h"
#include "ev/curlloop.h"
#include "crawl/engine.h"

#include "base/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TASK_STACK (64u << 10)
#define SLEEP_SLICE_US 50000 /* a backoff looks at the Ctrl-C flag this often */

/* ---- the nursery ---- */

typedef struct nursery_child {
    struct nursery *n;
    coro_t *co;
    coro_fn *fn;
    void *arg;
    struct nursery_child *next, *prev;
} nursery_child_t;

typedef struct nursery {
    coro_sched_t *sched;
    coro_t *parent;
    nursery_child_t *children; /* alive ones, for cancellation */
    uint32_t alive;
    int cancelled, failed;
} nursery_t;

static void nursery_open(nursery_t *n, coro_sched_t *sched) {
    *n = (nursery_t){.sched = sched, .parent = coro_current(sched)};
}

static void nursery_cancel(nursery_t *n) {
    n->cancelled = 1;
    for (nursery_child_t *ch = n->children; ch; ch = ch->next) coro_cancel(ch->co);
}

/* A child failed for itself: trio cancels the siblings and re-raises in the parent. */
static void nursery_fail(nursery_t *n) {
    n->failed = 1;
    nursery_cancel(n);
}

static void child_main(void *arg) {
    nursery_child_t *ch = arg;
    nursery_t *n = ch->n;
    ch->fn(ch->arg);
    if (ch->prev) ch->prev->next = ch->next;
    else n->children = ch->next;
    if (ch->next) ch->next->prev = ch->prev;
    free(ch);
    if (--n->alive == 0) coro_wake(n->parent); /* a no-op unless it waits in nursery_wait */
}

/* Starts fn(arg) as a child; it runs from the next scheduling point. -1 (ENOMEM). A child started
 * into a cancelled nursery starts cancelled: it returns from its first wait. */
static int nursery_start_soon(nursery_t *n, coro_fn *fn, void *arg) {
    nursery_child_t *ch = malloc(sizeof(*ch));
    coro_t *co = ch ? coro_spawn(n->sched, child_main, ch) : NULL;
    if (!co) {
        free(ch);
        return -1;
    }
    *ch = (nursery_child_t){.n = n, .co = co, .fn = fn, .arg = arg, .next = n->children};
    if (ch->next) ch->next->prev = ch;
    n->children = ch;
    n->alive++;
    if (n->cancelled) coro_cancel(ch->co);
    return 0;
}

/* The end of the scope: parks the parent until the last child is gone. Not a cancellation point
 * (NULL undo): a parent never leaves its children behind. 0, or -1 when a child failed. */
static int nursery_wait(nursery_t *n) {
    while (n->alive) coro_park(n->sched, NULL, NULL);
    return n->failed ? -1 : 0;
}

/* ---- the crawl: one child task per page ---- */

typedef struct nursery_crawler nursery_crawler_t;

/* A transfer slot: what a page task needs that outlives one task, reused by the next (its easy
 * handle keeps its connection alive). There are N, and a task holds one until it has handed its page
 * in; after that it only starts its successors and returns, without waiting. So at every wait, at
 * most N page tasks are alive. */
typedef struct nursery_slot {
    nursery_crawler_t *k;
    CURL *easy;
    fetch_result_t r;
    CURLcode rc;
    int on_wire;
    coro_t *co;
    int64_t page;
    size_t len;
    char id[FRONTIER_ID_MAX + 1];
    struct nursery_slot *next_free;
} nursery_slot_t;

struct nursery_crawler {
    crawl_t *c;
    const fetch_opts_t *opts;
    coro_sched_t *sched;
    curlloop_t *cl;
    nursery_t *nursery;
    nursery_slot_t *slots, *free_slots;
    uint32_t nslots;
    rng_t rng;
    int failed;
};

static void task_fail(nursery_crawler_t *k, const char *what) {
    crawl_fail(k->c, "%s", what);
    nursery_fail(k->nursery);
}

static void on_done(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    nursery_slot_t *s;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    s->rc = rc;
    s->on_wire = 0;
    coro_wake(s->co);
}

static void undo_transfer(void *arg) {
    nursery_slot_t *s = arg;
    curlloop_remove(s->k->cl, s->easy);
    s->on_wire = 0;
}

/* A cancellation point: the transfer, or -1 when cancelled (then it is off the multi already). */
static int task_perform(nursery_slot_t *s, CURLcode *rc) {
    if (curlloop_add(s->k->cl, s->easy) < 0) {
        task_fail(s->k, "libcurl refused a transfer");
        return -1;
    }
    s->on_wire = 1;
    if (coro_park(s->k->sched, undo_transfer, s) < 0) return -1;
    *rc = s->rc;
    return 0;
}

/* A cancellation point too. Ctrl-C is not a cancellation: like every engine, a stopping crawl lets
 * fetches on the wire finish and only cuts backoffs short. */
static int task_sleep(nursery_slot_t *s, uint64_t us) {
    while (us && !crawl_stopping(s->k->c)) {
        uint64_t slice = us < SLEEP_SLICE_US ? us : SLEEP_SLICE_US;
        if (coro_sleep(s->k->sched, slice) < 0) {
            if (errno != ECANCELED) task_fail(s->k, "out of memory");
            return -1;
        }
        us -= slice;
    }
    return 0;
}

/* fetcher_get with cancellation points: 0 with s->r filled, or -1 when cancelled. */
static int task_fetch(nursery_slot_t *s) {
    nursery_crawler_t *k = s->k;
    fetch_result_reset(&s->r);
    for (uint32_t attempt = 1;; attempt++) {
        CURLcode rc;
        if (task_sleep(s, fetch_pace_wait_us(k->opts->pace)) < 0) return -1; /* our turn (fetch.h) */
        if (crawl_stopping(k->c)) return 0; /* stopped while waiting for its turn: no attempt */
        if (fetch_easy_url(s->easy, k->opts, s->id, s->len, &s->r) < 0) {
            snprintf(s->r.error, sizeof(s->r.error), "page id too long for a URL");
            return 0;
        }
        if (task_perform(s, &rc) < 0) return -1;
        fetch_classify(s->easy, k->opts, rc, &s->r);
        fetch_pace_note(k->opts->pace, &s->r);
        if (!fetch_retryable(&s->r) || attempt >= k->opts->max_attempts || crawl_stopping(k->c)) return 0;
        if (task_sleep(s, fetch_retry_wait_us(k->opts, &s->r, rng_next(&k->rng))) < 0) return -1;
        if (crawl_stopping(k->c)) return 0; /* stopped during the wait: no further attempt */
    }
}

static void page_task(void *arg);

/* Starts a child for each waiting page while a slot is free. Called by the root, and by each
 * child once it has handed its page in, so a page that brings links is followed at once. After
 * this, either N pages are in flight or none is waiting: no page is ever left behind. */
static void spawn_pages(nursery_crawler_t *k) {
    while (!k->nursery->cancelled && k->free_slots) {
        nursery_slot_t *s = k->free_slots;
        if ((s->page = crawl_take(k->c, s->id, &s->len)) < 0) return;
        k->free_slots = s->next_free;
        if (nursery_start_soon(k->nursery, page_task, s) < 0) {
            crawl_requeue(k->c, (uint32_t)s->page);
            s->next_free = k->free_slots;
            k->free_slots = s;
            return task_fail(k, "cannot start a task: out of memory");
        }
    }
}

/* One page, start to finish. Cancelled (or failed) midway, it gives its page back to the frontier
 * and returns: the books stay exact, nothing is left on the multi. */
static void page_task(void *arg) {
    nursery_slot_t *s = arg;
    nursery_crawler_t *k = s->k;
    int ok = -1;
    s->co = coro_current(k->sched);
    if (!s->easy && !(s->easy = fetch_easy_create(k->opts, &s->r, s)))
        task_fail(k, "cannot create a libcurl handle");
    else
        ok = task_fetch(s);
    if (ok == 0) {
        page_links_t links;
        int parsed = s->r.outcome == FETCH_OK && crawl_page_parse(&s->r, s->id, s->len, &links) == 0;
        crawl_done(k->c, (uint32_t)s->page, &s->r, parsed ? &links : NULL);
        if (parsed) page_links_free(&links);
    } else {
        crawl_requeue(k->c, (uint32_t)s->page);
    }
    s->next_free = k->free_slots; /* the slot is free before the successors are started */
    k->free_slots = s;
    spawn_pages(k);
}

/* The root task: open the scope, start the first page, wait for the whole crawl. */
static void root_task(void *arg) {
    nursery_crawler_t *k = arg;
    nursery_t n;
    nursery_open(&n, k->sched);
    k->nursery = &n;
    spawn_pages(k);
    k->failed = nursery_wait(&n) < 0; /* the only way out of the scope */
    k->nursery = NULL;
}

static int nursery_run(crawl_t *c) {
    const crawl_config_t *cfg = crawl_config(c);
    nursery_crawler_t k = {.c = c, .opts = &cfg->fetch, .nslots = cfg->concurrency, .failed = 1};
    loop_t *loop = NULL;
    char err[256];
    rng_seed(&k.rng, cfg->seed);
    if (!(loop = loop_create((int)fdlimit_raise(0), err, sizeof(err))) ||
        !(k.cl = curlloop_create(loop, k.nslots, on_done, &k, err, sizeof(err))) ||
        !(k.sched = coro_sched_create(loop, TASK_STACK, err, sizeof(err)))) {
        crawl_fail(c, "%s", err);
        goto out;
    }
    if (!(k.slots = calloc(k.nslots, sizeof(*k.slots))) || !coro_spawn(k.sched, root_task, &k)) {
        crawl_fail(c, "out of memory");
        goto out;
    }
    for (uint32_t i = k.nslots; i-- > 0;) {
        k.slots[i] = (nursery_slot_t){.k = &k, .page = -1, .next_free = k.free_slots};
        k.free_slots = &k.slots[i];
    }
    k.failed = 0;
    if (coro_run(k.sched) < 0) {
        crawl_fail(c, "epoll_wait: %s", strerror(errno));
        k.failed = 1;
    } else if (!k.failed && curlloop_error(k.cl)) {
        crawl_fail(c, "%s", curlloop_error(k.cl));
        k.failed = 1;
    }
out:
    /* Every task has returned, or (the loop having failed) never will. */
    for (uint32_t i = 0; k.slots && i < k.nslots; i++) {
        if (k.slots[i].on_wire) curlloop_remove(k.cl, k.slots[i].easy); /* the loop failed */
        curl_easy_cleanup(k.slots[i].easy);
        buf_free(&k.slots[i].r.body);
    }
    free(k.slots);
    coro_sched_free(k.sched);
    curlloop_free(k.cl);
    loop_free(loop);
    return k.failed ? -1 : 0;
}

const crawl_engine_t engine_nursery = {
    .name = "nursery",
    .summary = "structured concurrency (trio): a task per page in one nursery; a failure cancels all",
    .title = "Nursery: structured concurrency",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "Trio's nursery: each page is a child task started into a scope its parent cannot leave until every "
        "child has finished, at most N alive. When a child fails, the nursery cancels its siblings, and they "
        "unwind through their ordinary error paths, giving back their pages, transfers and timers. Nothing "
        "outlives the scope that started it.",
    .when = /* when to reach for it */
        "Whenever tasks must not outlive their scope: cancellation, timeouts and errors propagate "
        "predictably, and no forgotten task runs on in the background. It costs little over plain async and "
        "buys correctness.",
    .source = __FILE__,
    .max_concurrency = 65536,
    .limit_why = "a socket and a 64 KiB coroutine stack each",
    .run = nursery_run,
};
