/* A worker of a distributed crawl: N fetch threads, each with its own Redis connection and its own
 * libcurl handle, take entries from the crawl's stream, fetch them with the local engines' fetch
 * path and retry policy (crawl/fetch.h), and hand each back through the ack script; one more thread
 * renews the leases of the pages in hand. The whole process is one consumer of the group, named
 * HOST:PID, so its pending entries are its pages in flight and nothing else.
 *
 * Stopping (SIGTERM): each thread lets its current attempt end; a page with a final answer is
 * acknowledged as usual, a page that would have been retried is given back to the stream. */
#include "dist/store.h"

#include "base/clock.h"
#include "crawl/page.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_MS "200" /* an idle thread looks at the end, the stop flag and stale leases this often */

typedef struct worker {
    const dist_worker_opts_t *o;
    dist__keys_t keys;
    dist__meta_t meta;
    char name[128];
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* the renewer's timer; signalled when the worker ends */
    char (*entries)[48];  /* per fetch thread: the stream entry in hand, "" when none */
    dist_worker_stats_t st;
    int finished, failed, exiting;
    char err[DIST_ERR_LEN];
} worker_t;

typedef struct thread_ctx {
    worker_t *w;
    uint32_t idx;
    pthread_t th;
    rconn_t *rc;
    fetcher_t *f;
    rconn_script_t ack, giveback, reclaim, renew; /* each thread its own SHA1 cache */
    uint64_t cmds_reported;
    uint64_t last_reclaim_us;
    char cursor[48]; /* where the next reclaim goes on scanning the pending list */
    dist_worker_stats_t st;
} thread_ctx_t;

static int running(worker_t *w) {
    pthread_mutex_lock(&w->lock);
    int go = !w->finished && !w->failed && !atomic_load(w->o->stop);
    pthread_mutex_unlock(&w->lock);
    return go;
}

static void fail(worker_t *w, const char *msg) {
    pthread_mutex_lock(&w->lock);
    if (!w->failed) snprintf(w->err, sizeof(w->err), "%s", msg);
    w->failed = 1;
    pthread_mutex_unlock(&w->lock);
}

static void set_entry(thread_ctx_t *t, const char *entry) {
    pthread_mutex_lock(&t->w->lock);
    snprintf(t->w->entries[t->idx], sizeof(t->w->entries[0]), "%s", entry);
    pthread_mutex_unlock(&t->w->lock);
}

/* Copies one stream entry [id, [field, value, ...]] into entry and page. Returns 0, or -1 when it is
 * not an entry of ours (a page id that is not one is acknowledged as failed by the caller). */
static int read_entry(const redisReply *e, char *entry, char *page) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[0]->len >= 48)
        return -1;
    memcpy(entry, e->element[0]->str, e->element[0]->len + 1);
    const redisReply *f = e->element[1];
    page[0] = '\0';
    if (f->type == REDIS_REPLY_ARRAY && f->elements == 2 && f->element[1]->type == REDIS_REPLY_STRING &&
        page_id_valid(f->element[1]->str, f->element[1]->len))
        memcpy(page, f->element[1]->str, f->element[1]->len + 1);
    return 0;
}

/* Takes over one entry whose lease ran out. Returns 1 with it, 0 when none, -1 on error. */
static int reclaim(thread_ctx_t *t, char *entry, char *page, char *err) {
    worker_t *w = t->w;
    char lease[24];
    snprintf(lease, sizeof(lease), "%" PRIu64, w->meta.spec.lease_ms);
    const char *argv[] = {w->keys.stream, w->keys.ctr, w->keys.workers, w->name, lease, "1", t->cursor};
    redisReply *r = rconn_eval(t->rc, &t->reclaim, 3, 7, argv, NULL, err);
    if (!r) return -1;
    t->last_reclaim_us = clock_now_us();
    int got = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < sizeof(t->cursor)) {
        memcpy(t->cursor, r->element[0]->str, r->element[0]->len + 1); /* "0-0" after a full pass */
        const redisReply *list = r->element[1];
        got = list->type == REDIS_REPLY_ARRAY && list->elements > 0 && read_entry(list->element[0], entry, page) == 0;
    }
    freeReplyObject(r);
    if (got) t->st.reclaimed++;
    return got;
}

/* The next entry for this worker: a new one from the stream (waiting up to BLOCK_MS), else one whose
 * lease ran out. Returns 1 with entry and page, 0 when there is none now, -1 on error. */
static int take(thread_ctx_t *t, char *entry, char *page, char *err) {
    worker_t *w = t->w;
    int rc;
    if (clock_now_us() - t->last_reclaim_us > w->meta.spec.lease_ms * 500 && (rc = reclaim(t, entry, page, err)))
        return rc; /* now and then even when busy, so that orphans do not wait for the end */
    redisReply *r = rconn_cmd(t->rc, err, 11, "XREADGROUP", "GROUP", DIST__GROUP, w->name, "COUNT", "1", "BLOCK",
                              BLOCK_MS, "STREAMS", w->keys.stream, ">");
    if (!r) return -1;
    rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->elements == 1)
        rc = read_entry(r->element[0]->element[1]->element[0], entry, page) == 0;
    freeReplyObject(r);
    return rc ? rc : reclaim(t, entry, page, err);
}

/* Acknowledges entry with the page's outcome and links (the ack script). */
static int ack(thread_ctx_t *t, const char *entry, const fetch_result_t *r, const page_links_t *links,
               const char *outcome, char *err) {
    worker_t *w = t->w;
    uint32_t nlinks = links ? links->n : 0;
    const char **argv = calloc(DIST__NKEYS + 17 + nlinks, sizeof(*argv));
    size_t *lens = calloc(DIST__NKEYS + 17 + nlinks, sizeof(*lens));
    char num[14][24];
    int rc = -1;
    if (!argv || !lens) {
        snprintf(err, RCONN_ERR_LEN, "out of memory");
        goto done;
    }
    uint64_t cmds = rconn_commands(t->rc) + 1 - t->cmds_reported; /* this ack included */
    uint64_t v[5] = {r->body.len, dist__lat_key(r->latency_us), r->attempts, cmds, links ? links->invalid : 0};
    int n = 0;
    for (int i = 0; i < DIST__NKEYS; i++) argv[n++] = w->keys.argv[i];
    argv[n++] = entry, argv[n++] = w->name, argv[n++] = outcome;
    for (int i = 0; i < 5; i++) snprintf(num[i], sizeof(num[i]), "%" PRIu64, v[i]), argv[n++] = num[i];
    for (int i = 0; i < FETCH_TALLIES; i++) snprintf(num[5 + i], sizeof(num[0]), "%" PRIu32, r->tally[i]), argv[n++] = num[5 + i];
    for (int i = 0; i < n; i++) lens[i] = strlen(argv[i]);
    for (uint32_t i = 0; i < nlinks; i++) argv[n] = links->ids[i], lens[n++] = links->lens[i];
    redisReply *rep = rconn_eval(t->rc, &t->ack, DIST__NKEYS, n, argv, lens, err);
    if (!rep) goto done;
    t->cmds_reported = rconn_commands(t->rc);
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && rep->element[0]->integer == 0) t->st.duplicates++;
    else if (!strcmp(outcome, "ok")) t->st.pages++;
    else t->st.failed++;
    freeReplyObject(rep);
    rc = 0;
done:
    free(argv);
    free(lens);
    return rc;
}

static int give_back(thread_ctx_t *t, const char *entry, const char *page, char *err) {
    worker_t *w = t->w;
    const char *argv[] = {w->keys.stream, w->keys.ctr, w->keys.workers, entry, page, w->name};
    redisReply *r = rconn_eval(t->rc, &t->giveback, 3, 6, argv, NULL, err);
    if (!r) return -1;
    t->st.returned += r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}

/* Fetches one taken page and hands it back: acknowledged, or returned when stopped mid-retries. */
static int process(thread_ctx_t *t, const char *entry, const char *page, char *err) {
    static const fetch_result_t bad_id = {.outcome = FETCH_ERROR};
    worker_t *w = t->w;
    if (!page[0]) return ack(t, entry, &bad_id, NULL, "failed", err); /* not a page id: nothing to fetch */
    size_t len = strlen(page);
    const fetch_result_t *r = fetcher_get(t->f, page, len, w->o->stop);
    if (r->outcome != FETCH_OK && fetch_retryable(r) && r->attempts < w->meta.spec.fetch.max_attempts &&
        atomic_load(w->o->stop))
        return give_back(t, entry, page, err);
    page_links_t links;
    char why[128];
    if (r->outcome != FETCH_OK) return ack(t, entry, r, NULL, "failed", err);
    if (page_parse(r->body.data ? r->body.data : "", r->body.len, page, len, &links, why, sizeof(why)) < 0)
        return ack(t, entry, r, NULL, "invalid", err);
    int rc = ack(t, entry, r, &links, "ok", err);
    page_links_free(&links);
    return rc;
}

static int crawl_finished(thread_ctx_t *t, char *err) {
    dist__meta_t m;
    if (dist__read_meta(t->rc, &t->w->keys, &m, err) < 0) return -1;
    return !strcmp(m.state, "done");
}

static void *fetch_main(void *arg) {
    thread_ctx_t *t = arg;
    worker_t *w = t->w;
    char err[RCONN_ERR_LEN], entry[48], page[FRONTIER_ID_MAX + 1];
    while (running(w)) {
        int rc = take(t, entry, page, err);
        if (rc == 0 && (rc = crawl_finished(t, err)) == 1) {
            pthread_mutex_lock(&w->lock);
            w->finished = 1;
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (rc < 0) break;
        if (rc == 0) continue;
        set_entry(t, entry);
        rc = process(t, entry, page, err);
        set_entry(t, "");
        if (rc < 0) break;
    }
    if (running(w)) fail(w, err); /* left the loop on an error */
    return NULL;
}

/* Renews the leases of the pages in hand every third of a lease, until the worker ends. */
static void *renew_main(void *arg) {
    thread_ctx_t *t = arg;
    worker_t *w = t->w;
    uint32_t n = w->o->threads;
    const char **argv = calloc(n + 2, sizeof(*argv));
    char (*held)[48] = calloc(n, sizeof(*held));
    char err[RCONN_ERR_LEN];
    pthread_mutex_lock(&w->lock);
    while (argv && held && !w->exiting) {
        struct timespec ts = clock_deadline((uint64_t)w->meta.spec.lease_ms * 1000 / 3); /* monotonic */
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        int m = 2;
        argv[0] = w->keys.stream, argv[1] = w->name;
        for (uint32_t i = 0; i < n; i++)
            if (w->entries[i][0]) memcpy(held[m - 2], w->entries[i], 48), argv[m] = held[m - 2], m++;
        if (m == 2 || w->exiting) continue;
        pthread_mutex_unlock(&w->lock); /* no lock across a round trip */
        redisReply *r = rconn_eval(t->rc, &t->renew, 1, m, argv, NULL, err);
        if (r) freeReplyObject(r);
        else fail(w, err);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    free(argv);
    free(held);
    return NULL;
}

static int thread_open(worker_t *w, thread_ctx_t *t, uint32_t idx, char *err) {
    *t = (thread_ctx_t){.w = w, .idx = idx, .ack = {.src = dist__lua_ack}, .giveback = {.src = dist__lua_giveback},
                        .reclaim = {.src = dist__lua_reclaim}, .renew = {.src = dist__lua_renew},
                        .last_reclaim_us = clock_now_us(), .cursor = "0-0"};
    if (!(t->rc = rconn_open(w->o->url, w->o->retry_us, err, RCONN_ERR_LEN))) return -1;
    if (idx == w->o->threads) return 0; /* the renewer fetches nothing */
    /* Jitter from the crawl seed and the thread's number; the pid tells this worker's threads from
     * another worker's on the same crawl. */
    t->f = fetcher_create(&w->meta.spec.fetch, fetch_jitter_seed(w->o->seed ^ (uint64_t)getpid(), idx), err,
                          RCONN_ERR_LEN);
    if (t->f) return 0;
    rconn_close(t->rc);
    return -1;
}

static void thread_close(thread_ctx_t *t) {
    rconn_close(t->rc);
    fetcher_free(t->f);
}

/* Reads the crawl's spec and announces this worker (its thread count, for the report). */
static int join(worker_t *w, rconn_t *rc, char *err) {
    char host[64] = "localhost", threads[16];
    gethostname(host, sizeof(host) - 1);
    snprintf(w->name, sizeof(w->name), "%s:%ld", host, (long)getpid());
    dist__keys(&w->keys, w->o->id);
    if (dist__read_meta(rc, &w->keys, &w->meta, err) < 0) return -1;
    w->meta.spec.start = w->meta.start; /* the copy must point into itself */
    w->meta.spec.fetch.base_url = w->meta.base_url;
    char field[160];
    snprintf(field, sizeof(field), "%s|threads", w->name);
    snprintf(threads, sizeof(threads), "%" PRIu32, w->o->threads);
    redisReply *r = rconn_cmd(rc, err, 4, "HINCRBY", w->keys.workers, field, threads);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

/* Starts the fetch threads and the renewer, waits for them, and sums their figures. */
static int run_threads(worker_t *w, thread_ctx_t *t, char *err) {
    uint32_t n = w->o->threads, started = 0;
    for (; started <= n; started++) {
        if (thread_open(w, &t[started], started, err) < 0) break;
        if (pthread_create(&t[started].th, NULL, started == n ? renew_main : fetch_main, &t[started]) != 0) {
            snprintf(err, DIST_ERR_LEN, "cannot start a thread");
            thread_close(&t[started]);
            t[started].rc = NULL;
            break;
        }
    }
    if (started <= n) fail(w, err);
    for (uint32_t i = 0; i < started && i < n; i++) pthread_join(t[i].th, NULL);
    pthread_mutex_lock(&w->lock);
    w->exiting = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (started > n) pthread_join(t[n].th, NULL);
    for (uint32_t i = 0; i < started; i++) {
        dist_worker_stats_t *s = &t[i].st;
        w->st.pages += s->pages, w->st.failed += s->failed, w->st.duplicates += s->duplicates;
        w->st.reclaimed += s->reclaimed, w->st.returned += s->returned;
        w->st.commands += rconn_commands(t[i].rc), w->st.reconnects += rconn_reconnects(t[i].rc);
        thread_close(&t[i]);
    }
    return w->failed ? -1 : 0;
}

int dist_worker_run(const dist_worker_opts_t *o, dist_worker_stats_t *st, char *err) {
    worker_t w = {.o = o, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_condattr_t ca; /* the renewer's waits are timed on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.wake, &ca);
    pthread_condattr_destroy(&ca);
    thread_ctx_t *t = calloc(o->threads + 1, sizeof(*t));
    rconn_t *rc = NULL;
    int ret = -1;
    memset(st, 0, sizeof(*st));
    if (!t || !(w.entries = calloc(o->threads, sizeof(*w.entries)))) {
        snprintf(err, DIST_ERR_LEN, "out of memory");
        goto fail;
    }
    if (!(rc = rconn_open(o->url, o->retry_us, err, DIST_ERR_LEN)) || join(&w, rc, err) < 0) goto fail;
    if (run_threads(&w, t, err) < 0) {
        snprintf(err, DIST_ERR_LEN, "%s", w.err);
        goto fail;
    }
    w.st.finished = w.finished;
    ret = 0;
fail:
    *st = w.st;
    rconn_close(rc);
    free(w.entries);
    free(t);
    pthread_cond_destroy(&w.wake);
    return ret;
}
