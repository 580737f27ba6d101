/* Async: one thread, one event loop, up to N transfers in flight, each a little state machine that
 * callbacks move along: take a page -> on the wire -> done (or: backoff timer -> on the wire again).
 * This is what asyncio does under its coroutines; here the continuations are written out by hand.
 *
 * The guide's asyncio crawler gathers a round of at most max_concurrent pages, waits for the whole
 * round, then starts the next from the links it found (and silently drops the frontier entries past
 * max_concurrent). One slow page holds up its whole round. Here there is no barrier: the moment a
 * transfer completes, its slot takes the next page, so N transfers stay on the wire as long as the
 * frontier has pages. (curlloop.c lets the requests started in one loop iteration leave together,
 * up to 16 at a time: a burst wakes the server once, where one request at a time woke it for each.)
 *
 * Single-threaded: crawl_take / crawl_done run only in loop callbacks, one at a time, so the shared
 * books need no lock at all. That, and never blocking, is the whole discipline of the model. */
#include "base/fdlimit.h"
#include "ev/curlloop.h"
#include "crawl/engine.h"

#include "base/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_US 50000 /* how often the Ctrl-C flag is looked at */

typedef struct async async_t;

/* One transfer slot. Its easy handle is created on first use and reused for every page the slot
 * fetches; the connection it used goes back to the multi handle's pool, so keep-alive needs no
 * more care than that. */
typedef struct async_slot {
    async_t *a;
    CURL *easy;
    fetch_result_t r;
    loop_timer_t backoff; /* running while the slot waits to retry: the page stays in flight */
    int64_t page;         /* -1: free */
    size_t len;
    char id[FRONTIER_ID_MAX + 1];
    struct async_slot *next_free;
} async_slot_t;

struct async {
    crawl_t *c;
    const fetch_opts_t *opts;
    loop_t *loop;
    curlloop_t *cl;
    loop_timer_t watch;
    async_slot_t *slots, *free_slots;
    uint32_t nslots;
    rng_t rng;
    int failed;
};

static void refill(async_t *a);

/* Over when the crawl is (nothing waiting, nothing in flight), or when the engine failed and the
 * transfers it had started have come back. */
static void stop_if_over(async_t *a) {
    if (crawl_idle(a->c) || (a->failed && crawl_in_flight(a->c) == 0)) loop_stop(a->loop);
}

static void release(async_t *a, async_slot_t *s) {
    s->page = -1;
    s->next_free = a->free_slots;
    a->free_slots = s;
}

/* An engine failure (not a page's): the page goes back to the frontier, no new page is taken, and
 * the loop ends once the others are back. */
static void fail_slot(async_t *a, async_slot_t *s, const char *what) {
    crawl_fail(a->c, "%s", what);
    a->failed = 1;
    crawl_requeue(a->c, (uint32_t)s->page);
    release(a, s);
}

/* The page's last attempt is in: parse it, hand it in, and give the slot to the next page. */
static void finish(async_t *a, async_slot_t *s) {
    page_links_t links;
    int parsed = s->r.outcome == FETCH_OK && crawl_page_parse(&s->r, s->id, s->len, &links) == 0;
    crawl_done(a->c, (uint32_t)s->page, &s->r, parsed ? &links : NULL);
    if (parsed) page_links_free(&links);
    release(a, s);
    refill(a);
    stop_if_over(a);
}

/* Puts the slot's page on the wire. CURLOPT_TIMEOUT_MS (fetch_easy_create) counts from the moment
 * the handle joins the multi, not from when bytes move. That is why a page is added only when a
 * slot is free, and a retry only when its backoff has passed: every handle in the multi is on the
 * wire, so the timeout measures time on the wire. Adding the whole frontier at once and letting
 * CURLMOPT_MAX_TOTAL_CONNECTIONS queue it would charge each page for its wait in the queue. */
static int64_t on_backoff(loop_t *l, void *data);

static void send_attempt(async_t *a, async_slot_t *s) {
    if (fetch_easy_url(s->easy, a->opts, s->id, s->len, &s->r) < 0) {
        snprintf(s->r.error, sizeof(s->r.error), "page id too long for a URL");
        finish(a, s); /* as fetcher_get does: the page fails, the crawl goes on */
    } else if (curlloop_add(a->cl, s->easy) < 0) {
        fail_slot(a, s, "libcurl refused a transfer");
        stop_if_over(a);
    }
}

static int64_t on_backoff(loop_t *l, void *data) {
    async_slot_t *s = data;
    send_attempt(s->a, s);
    return LOOP_TIMER_STOP;
}

/* Sends the slot's next attempt after `delay` and its turn in the crawl's pace (fetch.h); at once
 * when both are 0. */
static void send_after(async_t *a, async_slot_t *s, uint64_t delay) {
    delay += fetch_pace_wait_us(a->opts->pace);
    if (!delay) return send_attempt(a, s);
    if (loop_timer_start(a->loop, &s->backoff, delay, on_backoff, s) < 0) {
        fail_slot(a, s, "out of memory");
        stop_if_over(a);
    }
}

static void on_done(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    async_t *a = data;
    async_slot_t *s;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    fetch_classify(easy, a->opts, rc, &s->r);
    fetch_pace_note(a->opts->pace, &s->r);
    if (!fetch_retryable(&s->r) || s->r.attempts >= a->opts->max_attempts || crawl_stopping(a->c))
        return finish(a, s);
    send_after(a, s, fetch_retry_wait_us(a->opts, &s->r, rng_next(&a->rng)));
}

/* Gives a free slot to each waiting page. */
static void refill(async_t *a) {
    while (!a->failed && a->free_slots) {
        async_slot_t *s = a->free_slots;
        int64_t page = crawl_take(a->c, s->id, &s->len);
        if (page < 0) return;
        a->free_slots = s->next_free;
        s->page = page;
        if (!s->easy && !(s->easy = fetch_easy_create(a->opts, &s->r, s)))
            return fail_slot(a, s, "cannot create a libcurl handle");
        fetch_result_reset(&s->r);
        send_after(a, s, 0);
    }
}

/* Ctrl-C: crawl_take already refuses new pages. Pages waiting to retry give up now, as fetcher_get
 * does; transfers on the wire finish (their timeout bounds the wait), and the last one stops the
 * loop through finish(). */
static int64_t on_watch(loop_t *l, void *data) {
    async_t *a = data;
    if (crawl_stopping(a->c)) {
        for (uint32_t i = 0; i < a->nslots; i++)
            if (loop_timer_active(&a->slots[i].backoff)) {
                loop_timer_stop(l, &a->slots[i].backoff);
                finish(a, &a->slots[i]);
            }
        stop_if_over(a);
    }
    return WATCH_US;
}

static void free_slots(async_t *a) {
    for (uint32_t i = 0; a->slots && i < a->nslots; i++) {
        async_slot_t *s = &a->slots[i];
        /* A slot still holding a page is on the wire or waiting to retry: only when the loop failed. */
        if (s->page >= 0 && !loop_timer_active(&s->backoff)) curlloop_remove(a->cl, s->easy);
        loop_timer_stop(a->loop, &s->backoff);
        curl_easy_cleanup(s->easy);
        buf_free(&s->r.body);
    }
    free(a->slots);
}

static int async_run(crawl_t *c) {
    const crawl_config_t *cfg = crawl_config(c);
    async_t a = {.c = c, .opts = &cfg->fetch, .nslots = cfg->concurrency, .failed = 1};
    char err[256];
    rng_seed(&a.rng, cfg->seed);
    if (!(a.loop = loop_create((int)fdlimit_raise(0), err, sizeof(err))) ||
        !(a.cl = curlloop_create(a.loop, a.nslots, on_done, &a, err, sizeof(err)))) {
        crawl_fail(c, "%s", err);
        goto out;
    }
    if (!(a.slots = calloc(a.nslots, sizeof(*a.slots))) ||
        loop_timer_start(a.loop, &a.watch, WATCH_US, on_watch, &a) < 0) {
        crawl_fail(c, "out of memory");
        goto out;
    }
    for (uint32_t i = a.nslots; i-- > 0;) {
        a.slots[i].a = &a;
        release(&a, &a.slots[i]);
    }
    a.failed = 0;
    refill(&a);
    if (!a.failed && !crawl_idle(c) && loop_run(a.loop) < 0) {
        crawl_fail(c, "epoll_wait: %s", strerror(errno));
        a.failed = 1;
    }
    if (!a.failed && curlloop_error(a.cl)) {
        crawl_fail(c, "%s", curlloop_error(a.cl));
        a.failed = 1;
    }
out:
    free_slots(&a);
    curlloop_free(a.cl);
    if (a.loop) loop_timer_stop(a.loop, &a.watch);
    loop_free(a.loop);
    return a.failed ? -1 : 0;
}

const crawl_engine_t engine_async = {
    .name = "async",
    .summary = "one thread, one event loop, libcurl multi-socket: N transfers, refilled as each ends",
    .title = "Async: one thread, one event loop",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "One thread runs an event loop (libcurl's multi interface) with up to N transfers in flight, each a "
        "small state machine moved along by callbacks: what asyncio does beneath its coroutines, written out "
        "by hand. When a transfer completes its slot takes the next page at once, with no "
        "<code>gather()</code> barrier. One thread, so the frontier needs no lock.",
    .when = /* when to reach for it */
        "I/O-bound work with many concurrent operations (hundreds to thousands of connections): a transfer in "
        "flight costs a little memory, not a thread. The discipline is never to block the loop: a blocking "
        "call or a long computation stalls every transfer at once.",
    .source = __FILE__,
    .max_concurrency = 65536,
    .limit_why = "a socket each, and the fds of one process",
    .run = async_run,
};
