/* Pipeline: the guide's producer-consumer (section 6.1), in stages joined by bounded queues.
 *
 *   coordinator --to_fetch--> N fetchers --to_parse--> 1-2 parsers --results--> coordinator
 *
 * Each stage does one thing and owns what it needs for it: a fetcher its libcurl handle, the
 * coordinator (the main thread) the frontier, which therefore needs no lock. A page travels as one
 * heap item, and ownership passes with the pointer: whoever popped an item is the only one touching
 * it, body included, until it pushes it on. No item is ever shared, so the queues are the only
 * synchronisation in this file.
 *
 * Back-pressure: to_parse is small, so when the parsers fall behind the fetchers block in push
 * instead of piling up bodies in memory. The other two queues never fill: the coordinator keeps at
 * most N pages in flight, and to_fetch and results each hold N, so the coordinator never blocks on a
 * push, and the parsers never block on results while the coordinator waits on it (no cycle of full
 * queues, no deadlock).
 *
 * The end: the crawl is idle when nothing is waiting and nothing is in flight. Then a poison pill
 * (NULL, the guide's `None`) goes down each stage, one per thread: fetchers first, then, once they
 * are joined and to_parse can receive nothing else, the parsers. Every thread is joined. */
#include "base/bqueue.h"
#include "crawl/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define PARSE_BACKLOG 2 /* fetched pages waiting per parser before the fetchers block */

typedef struct pipeline_item {
    uint32_t page;
    size_t len;
    char id[FRONTIER_ID_MAX + 1];
    fetch_result_t r;   /* a copy of the fetch's outcome, with its own copy of the body */
    page_links_t links; /* filled by a parser when parsed */
    int parsed;
    int oom;            /* the body could not be copied */
} pipeline_item_t;

typedef struct pipeline {
    const crawl_config_t *cfg;
    bqueue_t *to_fetch, *to_parse, *results;
} pipeline_t;

typedef struct pipeline_fetch_stage {
    pipeline_t *p;
    fetcher_t *fetcher; /* this thread's alone: a curl handle is never shared */
    pthread_t th;
} pipeline_fetch_stage_t;

/* A fetcher: page ids in, fetched bodies out. The fetcher's own result is overwritten by its next
 * page, so the item leaves with a copy. */
static void *fetch_main(void *arg) {
    pipeline_fetch_stage_t *st = arg;
    pipeline_t *p = st->p;
    pipeline_item_t *it;
    while ((it = bqueue_pop(p->to_fetch))) {
        const fetch_result_t *r = fetcher_get(st->fetcher, it->id, it->len, p->cfg->stop);
        it->r = *r;
        it->r.body = (buf_t)BUF_INIT;
        it->oom = buf_append(&it->r.body, r->body.data, r->body.len) < 0;
        bqueue_push(p->to_parse, it); /* blocks while the parsers are behind: back-pressure */
    }
    fetcher_free(st->fetcher);
    return NULL;
}

/* A parser: bodies in, links out. */
static void *parse_main(void *arg) {
    pipeline_t *p = arg;
    pipeline_item_t *it;
    while ((it = bqueue_pop(p->to_parse))) {
        it->parsed = it->r.outcome == FETCH_OK && !it->oom &&
                     crawl_page_parse(&it->r, it->id, it->len, &it->links) == 0;
        bqueue_push(p->results, it); /* never blocks: results holds every page in flight */
    }
    return NULL;
}

static void item_free(pipeline_item_t *it) {
    if (it->parsed) page_links_free(&it->links);
    buf_free(&it->r.body);
    free(it);
}

/* Takes the next page and sends it down the pipeline: 1 when sent, 0 when there is no page to take
 * now, -1 when out of memory (after crawl_fail). */
static int feed(crawl_t *c, pipeline_t *p) {
    pipeline_item_t *it = calloc(1, sizeof(*it));
    if (!it) {
        crawl_fail(c, "out of memory");
        return -1;
    }
    int64_t page = crawl_take(c, it->id, &it->len);
    if (page < 0) {
        free(it);
        return 0;
    }
    it->page = (uint32_t)page;
    bqueue_push(p->to_fetch, it); /* never blocks: to_fetch holds every page in flight */
    return 1;
}

/* The coordinator: feeds pages and takes results until the crawl is idle. Returns 0, or -1 after
 * crawl_fail; either way every item sent has come back and is freed. */
static int coordinate(crawl_t *c, pipeline_t *p) {
    uint32_t n = p->cfg->concurrency, pending = 0;
    int failed = 0, rc;
    for (;;) {
        while (!failed && pending < n && (rc = feed(c, p)) != 0) {
            if (rc < 0) failed = 1;
            else pending++;
        }
        if (pending == 0) break; /* nothing to take, nothing in flight: crawl_idle(c) */
        pipeline_item_t *it = bqueue_pop(p->results);
        pending--;
        if (it->oom && !failed) {
            crawl_fail(c, "out of memory");
            failed = 1;
        }
        crawl_done(c, it->page, &it->r, it->parsed ? &it->links : NULL);
        item_free(it);
    }
    return failed ? -1 : 0;
}

/* Starts the stages, coordinates, and shuts the stages down in order with poison pills. */
static int pipeline_run(crawl_t *c) {
    const crawl_config_t *cfg = crawl_config(c);
    uint32_t n = cfg->concurrency, nparsers = n >= 4 ? 2 : 1, fetchers = 0, parsers = 0;
    pipeline_t p = {.cfg = cfg};
    pipeline_fetch_stage_t *fs = calloc(n, sizeof(*fs));
    pthread_t parser_th[2];
    char err[256];
    int rc = -1;
    if (!fs || !(p.to_fetch = bqueue_create(n)) || !(p.to_parse = bqueue_create(PARSE_BACKLOG * nparsers)) ||
        !(p.results = bqueue_create(n))) {
        crawl_fail(c, "out of memory");
        goto fail;
    }
    for (; fetchers < n; fetchers++) {
        pipeline_fetch_stage_t *st = &fs[fetchers];
        st->p = &p;
        if (!(st->fetcher = fetcher_create(&cfg->fetch, fetch_jitter_seed(cfg->seed, fetchers), err, sizeof(err)))) {
            crawl_fail(c, "%s", err);
            goto fail;
        }
        if (pthread_create(&st->th, NULL, fetch_main, st) != 0) {
            fetcher_free(st->fetcher);
            crawl_fail(c, "could start only %u of %u fetcher threads", fetchers, n);
            goto fail;
        }
    }
    for (; parsers < nparsers; parsers++) {
        if (pthread_create(&parser_th[parsers], NULL, parse_main, &p) != 0) {
            crawl_fail(c, "cannot start a parser thread");
            goto fail;
        }
    }
    rc = coordinate(c, &p);
fail:
    /* Nothing is in flight now, so each queue has room for its pills. The parsers get theirs only
     * after the last fetcher is joined: a pill overtaking a fetched page would strand it. */
    for (uint32_t i = 0; i < fetchers; i++) bqueue_push(p.to_fetch, NULL);
    for (uint32_t i = 0; i < fetchers; i++) pthread_join(fs[i].th, NULL);
    for (uint32_t i = 0; i < parsers; i++) bqueue_push(p.to_parse, NULL);
    for (uint32_t i = 0; i < parsers; i++) pthread_join(parser_th[i], NULL);
    bqueue_free(p.to_fetch);
    bqueue_free(p.to_parse);
    bqueue_free(p.results);
    free(fs);
    return rc;
}

const crawl_engine_t engine_pipeline = {
    .name = "pipeline",
    .summary = "fetch and parse stages joined by bounded queues (producer-consumer, back-pressure)",
    .title = "Pipeline: stages and back-pressure",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "The guide's producer-consumer: the coordinator feeds N fetcher threads, which feed one or two "
        "parsers, which report back, each stage joined to the next by a bounded queue. Each stage owns what "
        "it touches, so the queues are the only synchronisation. The small queue before the parsers is "
        "back-pressure: when parsing falls behind, fetchers wait instead of piling pages up in memory. Poison "
        "pills end it.",
    .when = /* when to reach for it */
        "Work that splits into stages with different costs or resources, where each stage is sized on its own "
        "and memory must stay bounded: downloads feeding parsers, parsers feeding a database.",
    .source = __FILE__,
    .max_concurrency = 4096,
    .limit_why = "a fetcher thread each; beyond a few thousand, use async, epoll or green",
    .run = pipeline_run,
};
