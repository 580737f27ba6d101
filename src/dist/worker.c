/* A worker of a distributed crawl: N fetch threads, each with its own Redis connection and its own
 * libcurl handle, take entries from the crawl's stream, fetch them with the local engines' fetch
 * path and retry policy (crawl/fetch.h), and hand each back through the ack script, pipelined with
 * the read of the next entry (one round trip a page); one more thread renews the leases of the
 * pages in hand. The whole process is one consumer of the group, named HOST:PID, so its pending
 * entries are its pages in flight and nothing else. --model threads; async and epoll: evworker.c.
 *
 * Stopping (SIGTERM): each thread lets its current attempt end; a page with a final answer is
 * acknowledged as usual, a page that would have been retried, or was taken but not yet tried, is
 * given back to the stream. */
#include "dist/store.h"

#include "base/clock.h"

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
    uint64_t cmds_reported, trips_reported; /* what the acks have counted in the crawl's figures */
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

/* Reads the reclaim script's reply {cursor, entries}: 1 with an entry taken over, else 0. */
static int reclaimed(thread_ctx_t *t, const redisReply *r, char *entry, char *page) {
    int got = 0;
    t->last_reclaim_us = clock_now_us();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < sizeof(t->cursor)) {
        memcpy(t->cursor, r->element[0]->str, r->element[0]->len + 1); /* "0-0" after a full pass */
        const redisReply *list = r->element[1];
        got = list->type == REDIS_REPLY_ARRAY && list->elements > 0 &&
              dist__read_entry(list->element[0], entry, page) == 0;
    }
    if (got) t->st.reclaimed++;
    return got;
}

/* Takes over one entry whose lease ran out. Returns 1 with it, 0 when none, -1 on error. */
static int reclaim(thread_ctx_t *t, char *entry, char *page, char *err) {
    worker_t *w = t->w;
    char lease[24];
    snprintf(lease, sizeof(lease), "%" PRIu64, w->meta.spec.lease_ms);
    const char *argv[] = {w->keys.stream, w->keys.ctr, w->keys.workers, w->name, lease, "1", t->cursor};
    redisReply *r = rconn_eval(t->rc, &t->reclaim, 3, 7, argv, NULL, err);
    if (!r) return -1;
    int got = reclaimed(t, r, entry, page);
    freeReplyObject(r);
    return got;
}

/* Counts one acknowledged (or duplicate) page from the ack script's reply. */
static void ack_counted(thread_ctx_t *t, const dist__ack_t *a, const redisReply *r) {
    if (!dist__ack_reply(r)) t->st.duplicates++;
    else if (!strcmp(a->outcome, "ok")) t->st.pages++;
    else t->st.failed++;
}

/* Sends pre (the ack of the page just done, or NULL) and the request for the next entry in one
 * round trip: a new entry from the stream (waiting up to BLOCK_MS), or, now and then even when
 * busy (so that orphans do not wait for the end) and whenever the stream has none, one whose lease
 * ran out. Returns 1 with entry and page, 0 when there is none now, -1 on error. */
static int take(thread_ctx_t *t, dist__ack_t *pre, char *entry, char *page, char *err) {
    worker_t *w = t->w;
    char lease[24];
    snprintf(lease, sizeof(lease), "%" PRIu64, w->meta.spec.lease_ms);
    const char *rd[] = {"XREADGROUP", "GROUP", DIST__GROUP, w->name, "COUNT", "1", "BLOCK", BLOCK_MS, "STREAMS",
                        w->keys.stream, ">"};
    const char *rcl[] = {w->keys.stream, w->keys.ctr, w->keys.workers, w->name, lease, "1", t->cursor};
    int due = clock_now_us() - t->last_reclaim_us > w->meta.spec.lease_ms * 500, n = 0, rc = 0;
    rconn_call_t calls[2];
    redisReply *rep[2];
    if (pre) calls[n++] = pre->call;
    calls[n++] = due ? (rconn_call_t){.script = &t->reclaim, .nkeys = 3, .argc = 7, .argv = rcl}
                     : (rconn_call_t){.argc = 11, .argv = rd};
    if (rconn_pipe(t->rc, n, calls, rep, err) < 0) return -1;
    if (pre) ack_counted(t, pre, rep[0]);
    const redisReply *r = rep[n - 1];
    if (due) rc = reclaimed(t, r, entry, page);
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2 &&
             r->element[0]->element[1]->elements == 1)
        rc = dist__read_entry(r->element[0]->element[1]->element[0], entry, page) == 0;
    for (int i = 0; i < n; i++) freeReplyObject(rep[i]);
    return rc || due ? rc : reclaim(t, entry, page, err);
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

/* Fetches one taken page. Returns 1 with its ack built (to be sent with the next read, or alone
 * when stopping: alone says which, for the round-trip count), 0 when it was given back (stopped
 * before its first attempt or between two), -1 on error. */
static int process(thread_ctx_t *t, const char *entry, const char *page, dist__ack_t *a, int alone, char *err) {
    static const fetch_result_t bad_id = {.outcome = FETCH_ERROR};
    worker_t *w = t->w;
    const fetch_result_t *r = page[0] ? fetcher_get(t->f, page, strlen(page), w->o->stop) : &bad_id;
    /* Stopped with the page unfinished: before its first attempt (fetcher_get makes none once it
     * sees the stop, and r then holds only what the last page left there; the local engines drop
     * such a page in crawl_done), or with attempts left that would have been made. */
    int unfinished = r->attempts == 0 || (r->outcome != FETCH_OK && fetch_retryable(r) &&
                                          r->attempts < w->meta.spec.fetch.max_attempts);
    if (page[0] && unfinished && atomic_load(w->o->stop)) return give_back(t, entry, page, err);
    /* The figures up to and including the round trip that will carry this ack. */
    uint64_t cmds = rconn_commands(t->rc) + (alone ? 1 : 2), trips = rconn_round_trips(t->rc) + 1;
    if (dist__ack_build(a, &t->ack, &w->keys, w->name, entry, page, r, cmds - t->cmds_reported,
                        trips - t->trips_reported, err) < 0)
        return -1;
    t->cmds_reported = cmds, t->trips_reported = trips;
    return 1;
}

/* Sends an ack on its own (the worker is stopping). */
static int send_ack(thread_ctx_t *t, dist__ack_t *a, char *err) {
    redisReply *r;
    if (rconn_pipe(t->rc, 1, &a->call, &r, err) < 0) return -1;
    ack_counted(t, a, r);
    freeReplyObject(r);
    return 0;
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
    dist__ack_t ack, *pre = NULL; /* the page done, acknowledged with the next read */
    int rc = 0;
    while (rc >= 0 && running(w)) {
        rc = take(t, pre, entry, page, err);
        if (pre) dist__ack_free(pre), pre = NULL;
        set_entry(t, rc == 1 ? entry : ""); /* in hand, renewed, until its ack has run */
        if (rc == 0 && (rc = crawl_finished(t, err)) == 1) {
            pthread_mutex_lock(&w->lock);
            w->finished = 1;
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (rc == 1 && (rc = process(t, entry, page, &ack, !running(w), err)) == 1) pre = &ack;
    }
    if (pre && rc >= 0) rc = send_ack(t, pre, err); /* stopped: the last page still counts */
    if (pre) dist__ack_free(pre);
    set_entry(t, "");
    if (rc < 0 && running(w)) fail(w, err); /* left the loop on an error */
    return NULL;
}

/* Renews the leases of the pages in hand every third of a lease, until the worker ends. */
static void *renew_main(void *arg) {
    thread_ctx_t *t = arg;
    worker_t *w = t->w;
    uint32_t n = w->o->concurrency;
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
    if (idx == w->o->concurrency) return 0; /* the renewer fetches nothing */
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

/* Starts the fetch threads and the renewer, waits for them, and sums their figures. */
static int run_threads(worker_t *w, thread_ctx_t *t, char *err) {
    uint32_t n = w->o->concurrency, started = 0;
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
        w->st.commands += rconn_commands(t[i].rc), w->st.round_trips += rconn_round_trips(t[i].rc);
        w->st.reconnects += rconn_reconnects(t[i].rc);
        thread_close(&t[i]);
    }
    return w->failed ? -1 : 0;
}

int dist_worker_run(const dist_worker_opts_t *o, dist_worker_stats_t *st, char *err) {
    if (o->model != DIST_THREADS) return dist_evworker_run(o, st, err);
    worker_t w = {.o = o, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_condattr_t ca; /* the renewer's waits are timed on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.wake, &ca);
    pthread_condattr_destroy(&ca);
    thread_ctx_t *t = calloc(o->concurrency + 1, sizeof(*t));
    rconn_t *rc = NULL;
    int ret = -1;
    memset(st, 0, sizeof(*st));
    if (!t || !(w.entries = calloc(o->concurrency, sizeof(*w.entries)))) {
        snprintf(err, DIST_ERR_LEN, "out of memory");
        goto fail;
    }
    if (!(rc = rconn_open(o->url, o->retry_us, err, DIST_ERR_LEN)) ||
        dist__join(rc, o->id, o->concurrency, &w.keys, &w.meta, w.name, err) < 0)
        goto fail;
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
