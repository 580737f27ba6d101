/* The event-driven worker of a distributed crawl (--model epoll or async): one thread, one loop
 * (ev/loop.h), N pages in flight. Pages are fetched on the loop through the project's own HTTP
 * client (crawl/hconn.h, as the local epoll model) or libcurl's multi interface (ev/curlloop.h, as
 * the local async model), with the fetch path's retry policy; Redis sits on the same loop, one
 * hiredis async connection (ev/redisloop.h) for everything. Scripts, keys and acks are worker.c's.
 *
 * Batching. No command leaves from where a page ends: the page is parked (DONE), and once per loop
 * iteration, before the loop sleeps, one batch goes out in one write: the acks of every page done
 * since, and one request for as many entries as there are free slots. Redis runs them in order, so
 * the read sees the links the acks just added. A page costs at most one round trip, shared with
 * every page done in the same iteration. At most one take (read or reclaim) is outstanding, and it
 * asks for no more entries than there are free slots, so its answer always fits.
 *
 * Blocking. An XREADGROUP BLOCK would hold up every command behind it on the one connection, so a
 * read blocks only when the worker holds no page at all. A worker with pages in flight whose last
 * read came back short (starved) asks again with its next acks, or every POLL_US.
 *
 * Redis going away: the replies lost are commands to send again (an ack twice counts a duplicate,
 * nothing more); the link is dialled again with backoff for up to --reconnect-for, and the scripts
 * are loaded again in case Redis restarted empty of them. */
#include "dist/store.h"

#include "base/clock.h"
#include "base/fdlimit.h"
#include "base/rng.h"
#include "crawl/hconn.h"
#include "ev/curlloop.h"
#include "ev/redisloop.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_US 50000  /* the stop flag, and a starved worker's next read */
#define BLOCK_MS "200" /* an idle worker looks at the end and stale leases this often */

enum slot_state { FREE, FETCH, DONE, ACKING, RETURN, RETURNING };

typedef struct evw evw_t;

typedef struct slot {
    evw_t *w;
    enum slot_state state;
    char entry[48], page[FRONTIER_ID_MAX + 1];
    fetch_result_t r;
    hconn_t *conn; /* epoll */
    CURL *easy;    /* async */
    loop_timer_t backoff;
    dist__ack_t ack;
    int built; /* ack holds the page's ack (kept to send again after a lost reply) */
} slot_t;

struct evw {
    const dist_worker_opts_t *o;
    const fetch_opts_t *fo;
    loop_t *loop;
    redisAsyncContext *ac; /* NULL while the link is down */
    hconn_target_t target;
    curlloop_t *cl;
    dist__keys_t keys;
    dist__meta_t meta;
    char name[128], cursor[48];
    rconn_script_t scripts[4]; /* ack, giveback, reclaim, renew */
    slot_t *slots;
    uint32_t n;
    int taking, starved, idle_round, need_load, finished, stopping, failed;
    int draining;            /* the link is being dropped: send nothing more on it */
    uint32_t waiting, asked; /* replies outstanding; entries the last read asked for */
    uint64_t cmds, trips, batch, cmds_reported, trips_reported;
    uint64_t last_reclaim_us, last_renew_us, lost_us, redial_us;
    loop_timer_t tick, redial;
    rng_t rng;
    dist_worker_stats_t st;
    char err[DIST_ERR_LEN];
};

enum { S_ACK, S_GIVEBACK, S_RECLAIM, S_RENEW };

static void fail(evw_t *w, const char *what, const char *why) {
    if (!w->failed) snprintf(w->err, sizeof(w->err), "%s%s", what, why);
    w->failed = 1;
    loop_stop(w->loop);
}

/* ---- fetching ---- */

static void attempt(slot_t *s);

static int64_t on_backoff(loop_t *l, void *data) {
    attempt(data);
    return LOOP_TIMER_STOP;
}

/* An attempt ended, r filled and counted: retry after the policy's wait, or park the page. When
 * stopping, a page that would be retried goes back to the stream instead (as worker.c). */
static void answered(slot_t *s) {
    evw_t *w = s->w;
    fetch_pace_note(w->fo->pace, &s->r);
    s->state = DONE;
    if (!fetch_retryable(&s->r) || s->r.attempts >= w->fo->max_attempts) return;
    if (w->stopping) {
        s->state = RETURN;
        return;
    }
    s->state = FETCH;
    uint64_t wait = fetch_retry_wait_us(w->fo, &s->r, rng_next(&w->rng)) + fetch_pace_wait_us(w->fo->pace);
    if (loop_timer_start(w->loop, &s->backoff, wait, on_backoff, s) < 0) fail(w, "out of memory", "");
}

static void on_hconn(hconn_t *h, void *data) { answered(data); }

static void on_curl(curlloop_t *cl, CURL *easy, CURLcode rc, void *data) {
    evw_t *w = data;
    slot_t *s;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
    fetch_classify(easy, w->fo, rc, &s->r);
    answered(s);
}

static void attempt(slot_t *s) {
    evw_t *w = s->w;
    size_t len = strlen(s->page);
    if (s->conn) {
        if (hconn_get(s->conn, s->page, len, &s->r) < 0) answered(s); /* out of memory: r says so */
    } else if (fetch_easy_url(s->easy, w->fo, s->page, len, &s->r) < 0) {
        snprintf(s->r.error, sizeof(s->r.error), "page id too long for a URL");
        s->state = DONE;
    } else if (curlloop_add(w->cl, s->easy) < 0) {
        fail(w, "libcurl refused a transfer", "");
    }
}

/* A slot got an entry: fetch it (an entry without a page id fails at once, as in worker.c), or
 * give it back when stopping. */
static void start_page(slot_t *s) {
    fetch_result_reset(&s->r);
    if (s->w->stopping || !s->page[0]) {
        s->r.outcome = FETCH_ERROR;
        s->state = s->w->stopping ? RETURN : DONE;
        return;
    }
    s->state = FETCH;
    uint64_t pace = fetch_pace_wait_us(s->w->fo->pace);
    if (!pace) return attempt(s);
    if (loop_timer_start(s->w->loop, &s->backoff, pace, on_backoff, s) < 0) fail(s->w, "out of memory", "");
}

/* ---- Redis: sending ---- */

/* Queues a call on the connection; it leaves with the iteration's batch. 0, or -1 (worker failed). */
static int send_call(evw_t *w, redisCallbackFn *cb, void *priv, const rconn_call_t *k) {
    int argc;
    size_t *al;
    char nk[16];
    const char **av = rconn_call_argv(k, &argc, &al, nk);
    if (!av) return fail(w, "out of memory", ""), -1;
    int rc = redisAsyncCommandArgv(w->ac, cb, priv, argc, av, al); /* copied into hiredis's buffer */
    free(av);
    if (rc != REDIS_OK) return fail(w, "redis: cannot queue a command: ", w->ac->errstr), -1;
    w->cmds++, w->batch++, w->waiting++;
    return 0;
}

static int send_cmd(evw_t *w, redisCallbackFn *cb, void *priv, int argc, const char **argv) {
    return send_call(w, cb, priv, &(rconn_call_t){.argc = argc, .argv = argv});
}

/* Whether a reply can be used: 1 yes; 0 lost, or worth sending again after a reconnection (NOSCRIPT,
 * LOADING); -1 an error reply that fails the worker. Counts the reply in. */
static int usable(evw_t *w, const redisReply *r, const char *what) {
    w->waiting--;
    if (!r) return 0;
    if (r->type != REDIS_REPLY_ERROR) return 1;
    if (!strncmp(r->str, "NOSCRIPT", 8)) return w->need_load = 1, 0;
    if (!strncmp(r->str, "LOADING", 7)) { /* Redis is reading its AOF: come back when it is done */
        if (w->ac && !w->draining) redisAsyncDisconnect(w->ac); /* once the replies due are in */
        w->draining = 1;
        return 0;
    }
    char why[200];
    snprintf(why, sizeof(why), "%s: %.150s", what, r->str);
    fail(w, "redis ", why);
    return -1;
}

/* ---- Redis: acks, give-backs, takes ---- */

static void on_ack(redisAsyncContext *ac, void *reply, void *priv) {
    slot_t *s = priv;
    evw_t *w = s->w;
    if (usable(w, reply, "script") != 1) {
        s->state = DONE; /* sent again with the next batch */
        return;
    }
    if (!dist__ack_reply(reply))
        w->st.duplicates++;
    else if (!strcmp(s->ack.outcome, "ok"))
        w->st.pages++;
    else
        w->st.failed++;
    dist__ack_free(&s->ack);
    s->built = 0;
    s->state = FREE;
}

static void send_ack(evw_t *w, slot_t *s) {
    if (!s->built) { /* figures up to and including this ack */
        uint64_t cmds = w->cmds + 1, trips = w->trips + 1;
        char err[RCONN_ERR_LEN];
        if (dist__ack_build(&s->ack, &w->scripts[S_ACK], &w->keys, w->name, s->entry, s->page, &s->r,
                            cmds - w->cmds_reported, trips - w->trips_reported, err) < 0)
            return fail(w, "", err);
        s->built = 1;
        w->cmds_reported = cmds, w->trips_reported = trips;
    }
    if (send_call(w, on_ack, s, &s->ack.call) == 0) s->state = ACKING;
}

static void on_giveback(redisAsyncContext *ac, void *reply, void *priv) {
    slot_t *s = priv;
    if (usable(s->w, reply, "script") != 1) {
        s->state = RETURN;
        return;
    }
    s->w->st.returned +=
        ((redisReply *)reply)->type == REDIS_REPLY_INTEGER && ((redisReply *)reply)->integer == 1;
    s->state = FREE;
}

static void send_giveback(evw_t *w, slot_t *s) {
    const char *argv[] = {w->keys.stream, w->keys.ctr, w->keys.workers, s->entry, s->page, w->name};
    rconn_call_t k = {.script = &w->scripts[S_GIVEBACK], .nkeys = 3, .argc = 6, .argv = argv};
    if (send_call(w, on_giveback, s, &k) == 0) s->state = RETURNING;
}

/* Hands entries (stream entry replies) to free slots; returns how many. */
static uint32_t fill(evw_t *w, const redisReply *list) {
    uint32_t got = 0, i = 0;
    for (size_t e = 0; list && list->type == REDIS_REPLY_ARRAY && e < list->elements; e++) {
        while (i < w->n && w->slots[i].state != FREE)
            i++;
        if (i == w->n) break; /* cannot happen: a take asks for no more than the free slots */
        slot_t *s = &w->slots[i];
        if (dist__read_entry(list->element[e], s->entry, s->page) < 0) continue;
        got++;
        start_page(s);
    }
    return got;
}

static void on_read(redisAsyncContext *ac, void *reply, void *priv) {
    evw_t *w = priv;
    const redisReply *r = reply;
    w->taking = 0;
    if (usable(w, r, "XREADGROUP") != 1) return;
    const redisReply *list = r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2
                                 ? r->element[0]->element[1]
                                 : NULL;
    uint32_t got = fill(w, list);
    w->starved = got < w->asked; /* short: ask again with the next acks, or after POLL_US */
    int all_free = 1;
    for (uint32_t i = 0; i < w->n; i++)
        all_free &= w->slots[i].state == FREE;
    w->idle_round = all_free && got == 0;
}

static void on_reclaim(redisAsyncContext *ac, void *reply, void *priv) {
    evw_t *w = priv;
    const redisReply *r = reply;
    w->taking = 0;
    w->last_reclaim_us = clock_now_us();
    if (usable(w, r, "script") != 1) return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len >= sizeof(w->cursor))
        return;
    memcpy(w->cursor, r->element[0]->str, r->element[0]->len + 1); /* "0-0" after a full pass */
    w->st.reclaimed += fill(w, r->element[1]);
}

static void on_state(redisAsyncContext *ac, void *reply, void *priv) {
    evw_t *w = priv;
    const redisReply *r = reply;
    if (usable(w, r, "HGET") == 1 && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "done"))
        w->finished = 1;
}

static void on_plain(redisAsyncContext *ac, void *reply, void *priv) { usable(priv, reply, "command"); }

static void send_reclaim(evw_t *w, uint32_t nfree) {
    char lease[24], count[16];
    snprintf(lease, sizeof(lease), "%" PRIu64, w->meta.spec.lease_ms);
    snprintf(count, sizeof(count), "%" PRIu32, nfree);
    const char *argv[] = {w->keys.stream, w->keys.ctr, w->keys.workers, w->name, lease, count, w->cursor};
    rconn_call_t k = {.script = &w->scripts[S_RECLAIM], .nkeys = 3, .argc = 7, .argv = argv};
    if (send_call(w, on_reclaim, w, &k) == 0) w->taking = 1;
}

/* One take for the free slots: after an idle block, the end's check and a reclaim; now and then a
 * reclaim (orphans must not wait for the end); else a read, blocking only when no page is held. */
static void take(evw_t *w) {
    uint32_t nfree = 0;
    for (uint32_t i = 0; i < w->n; i++)
        nfree += w->slots[i].state == FREE;
    if (w->taking || w->stopping || w->finished || !nfree || (nfree < w->n && w->starved)) return;
    if (w->idle_round) {
        const char *argv[] = {"HGET", w->keys.meta, "state"};
        w->idle_round = 0;
        if (send_cmd(w, on_state, w, 3, argv) == 0) send_reclaim(w, nfree);
        return;
    }
    if (clock_now_us() - w->last_reclaim_us > w->meta.spec.lease_ms * 500) return send_reclaim(w, nfree);
    char count[16];
    snprintf(count, sizeof(count), "%" PRIu32, nfree);
    const char *argv[] = {"XREADGROUP", "GROUP",  DIST__GROUP, w->name,        "COUNT", count,
                          "BLOCK",      BLOCK_MS, "STREAMS",   w->keys.stream, ">"};
    int block = nfree == w->n;
    if (!block) argv[6] = "STREAMS", argv[7] = w->keys.stream, argv[8] = ">";
    if (send_cmd(w, on_read, w, block ? 11 : 9, argv) == 0) w->taking = 1, w->asked = nfree;
}

/* Every third of a lease: the leases of every page in hand (see the renew script). */
static void renew(evw_t *w) {
    uint64_t now = clock_now_us();
    if (now - w->last_renew_us < w->meta.spec.lease_ms * 1000 / 3) return;
    w->last_renew_us = now;
    const char **argv = calloc(w->n + 2, sizeof(*argv));
    if (!argv) return fail(w, "out of memory", "");
    int m = 0;
    argv[m++] = w->keys.stream, argv[m++] = w->name;
    for (uint32_t i = 0; i < w->n; i++)
        if (w->slots[i].state != FREE) argv[m++] = w->slots[i].entry;
    if (m > 2)
        send_call(w, on_plain, w,
                  &(rconn_call_t){.script = &w->scripts[S_RENEW], .nkeys = 1, .argc = m, .argv = argv});
    free(argv);
}

/* After a reconnection, or a NOSCRIPT: Redis may have restarted without them. */
static void load_scripts(evw_t *w) {
    w->need_load = 0;
    for (int i = 0; i < 4; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", w->scripts[i].src};
        if (send_cmd(w, on_plain, w, 3, argv) < 0) return;
    }
}

/* ---- the link ---- */

static void dial(evw_t *w);

static int64_t on_redial(loop_t *l, void *data) {
    dial(data);
    return LOOP_TIMER_STOP;
}

/* The link is down (hiredis frees the context itself): dial again after a backoff (10 ms doubling
 * to 1 s), for up to the reconnect time since it went down. */
static void link_lost(evw_t *w, const char *why) {
    uint64_t now = clock_now_us();
    w->ac = NULL;
    w->taking = 0;
    if (w->failed || w->finished) return;
    if (!w->lost_us) w->lost_us = now, w->redial_us = 10000;
    if (now - w->lost_us >= w->o->retry_us) {
        char what[160];
        snprintf(what, sizeof(what), "cannot reach redis at %.100s:%d: ", w->o->url->host, w->o->url->port);
        return fail(w, what, why);
    }
    if (loop_timer_start(w->loop, &w->redial, w->redial_us, on_redial, w) < 0)
        return fail(w, "out of memory", "");
    w->redial_us = w->redial_us * 2 > 1000000 ? 1000000 : w->redial_us * 2;
}

static void on_connect(const redisAsyncContext *ac, int status) {
    if (status != REDIS_OK) link_lost(ac->data, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    link_lost(ac->data, status == REDIS_OK ? "disconnected" : ac->errstr);
}

/* The login's reply: a refused password fails the worker; the link is up once it is accepted. */
static void on_login(redisAsyncContext *ac, void *reply, void *priv) {
    evw_t *w = priv;
    if (usable(w, reply, "login") != 1) return;
    if (w->lost_us) w->st.reconnects++;
    w->lost_us = 0;
}

static void dial(evw_t *w) {
    const rconn_url_t *u = w->o->url;
    char db[16];
    redisAsyncContext *ac = redisAsyncConnect(u->host, u->port);
    if (!ac) return fail(w, "out of memory", "");
    if (ac->err || redisloop_attach(w->loop, ac) < 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s", ac->err ? ac->errstr : "cannot watch the socket");
        redisAsyncFree(ac);
        return link_lost(w, why);
    }
    ac->data = w;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    w->ac = ac;
    w->draining = 0;
    const char *auth[] = {"AUTH", u->user[0] ? u->user : u->pass, u->pass}, *ping[] = {"PING"};
    snprintf(db, sizeof(db), "%d", u->db);
    const char *sel[] = {"SELECT", db};
    if (u->pass[0] ? send_cmd(w, on_login, w, u->user[0] ? 3 : 2, auth) : send_cmd(w, on_login, w, 1, ping))
        return;
    if (u->db && send_cmd(w, on_plain, w, 2, sel)) return;
    w->need_load = 1;
}

/* ---- the loop ---- */

static int all_free(const evw_t *w) {
    for (uint32_t i = 0; i < w->n; i++)
        if (w->slots[i].state != FREE) return 0;
    return 1;
}

/* Before the loop sleeps: the iteration's batch, one write (see the top), then whether to end. */
static void flush(loop_t *l, void *data) {
    evw_t *w = data;
    if (w->ac && !w->draining && !w->failed) {
        if (w->need_load) load_scripts(w);
        int acks = 0;
        for (uint32_t i = 0; i < w->n && !w->failed; i++) {
            slot_t *s = &w->slots[i];
            if (s->state == DONE)
                send_ack(w, s), acks++;
            else if (s->state == RETURN)
                send_giveback(w, s);
        }
        if (acks) w->starved = 0; /* the acks may add links, and the read goes after them */
        if (!w->failed) take(w);
        if (!w->failed) renew(w);
    }
    if (w->batch) w->trips++, w->batch = 0;
    if (w->failed || ((w->finished || w->stopping) && all_free(w) && !w->waiting)) loop_stop(l);
}

/* The stop flag (backoffs end: those pages go back), and a starved worker's next read. */
static int64_t on_tick(loop_t *l, void *data) {
    evw_t *w = data;
    w->starved = 0;
    if (!w->stopping && atomic_load(w->o->stop)) {
        w->stopping = 1;
        for (uint32_t i = 0; i < w->n; i++)
            if (loop_timer_active(&w->slots[i].backoff)) {
                loop_timer_stop(l, &w->slots[i].backoff);
                w->slots[i].state = RETURN; /* it would have been tried again */
            }
    }
    return POLL_US;
}

/* ---- setting up ---- */

/* The slots and their HTTP clients: a connection each (epoll), or an easy handle each (async). */
static int setup_slots(evw_t *w, char *err) {
    int epoll = w->o->model == DIST_EPOLL;
    if (!(w->slots = calloc(w->n, sizeof(*w->slots))))
        return snprintf(err, DIST_ERR_LEN, "out of memory"), -1;
    if (epoll && hconn_target_parse(&w->target, w->fo->base_url, err, DIST_ERR_LEN) < 0) return -1;
    if (!epoll && !(w->cl = curlloop_create(w->loop, w->n, on_curl, w, err, DIST_ERR_LEN))) return -1;
    for (uint32_t i = 0; i < w->n; i++) {
        slot_t *s = &w->slots[i];
        s->w = w;
        if (epoll ? !(s->conn = hconn_create(w->loop, &w->target, w->fo->timeout_us, on_hconn, s))
                  : !(s->easy = fetch_easy_create(w->fo, &s->r, s)))
            return snprintf(err, DIST_ERR_LEN, "out of memory"), -1;
    }
    return 0;
}

/* Joins the crawl and loads the scripts on a blocking connection first, so that a Redis that
 * cannot be used is a clear error at once; the loop's own connection follows. */
static int setup(evw_t *w, char *err) {
    static const char *const *src[4] = {&dist__lua_ack, &dist__lua_giveback, &dist__lua_reclaim,
                                        &dist__lua_renew};
    rconn_t *rc = rconn_open(w->o->url, 0, err, DIST_ERR_LEN);
    int ok = rc && dist__join(rc, w->o->id, w->n, &w->keys, &w->meta, w->name, err) == 0;
    for (int i = 0; ok && i < 4; i++) {
        w->scripts[i].src = *src[i];
        ok = rconn_script_load(rc, &w->scripts[i], err) == 0;
    }
    rconn_close(rc);
    if (!ok) return -1;
    w->fo = &w->meta.spec.fetch;
    int setsize = (int)fdlimit_raise((uint64_t)w->n + 64); /* a socket a slot, and Redis's */
    if (!(w->loop = loop_create(setsize, err, DIST_ERR_LEN)) || setup_slots(w, err) < 0) return -1;
    loop_set_before_sleep(w->loop, flush, w);
    if (loop_timer_start(w->loop, &w->tick, POLL_US, on_tick, w) < 0)
        return snprintf(err, DIST_ERR_LEN, "out of memory"), -1;
    dial(w);
    return 0;
}

static void teardown(evw_t *w) {
    if (w->ac) redisAsyncFree(w->ac); /* its callbacks see NULL replies: nothing waits by now */
    w->ac = NULL;
    for (uint32_t i = 0; w->slots && i < w->n; i++) {
        slot_t *s = &w->slots[i];
        /* On the wire (only after a failure): take it off. Waiting on its timer, it is not. */
        if (s->easy && s->state == FETCH && !loop_timer_active(&s->backoff)) curlloop_remove(w->cl, s->easy);
        if (w->loop) loop_timer_stop(w->loop, &s->backoff);
        hconn_free(s->conn);
        if (s->easy) curl_easy_cleanup(s->easy);
        buf_free(&s->r.body);
        if (s->built) dist__ack_free(&s->ack);
    }
    free(w->slots);
    curlloop_free(w->cl);
    loop_free(w->loop);
}

int dist_evworker_run(const dist_worker_opts_t *o, dist_worker_stats_t *st, char *err) {
    evw_t *w = calloc(1, sizeof(*w));
    int ret = -1;
    memset(st, 0, sizeof(*st));
    if (!w) return snprintf(err, DIST_ERR_LEN, "out of memory"), -1;
    *w = (evw_t){.o = o,
                 .n = o->concurrency,
                 .cursor = "0-0",
                 .last_reclaim_us = clock_now_us(),
                 .last_renew_us = clock_now_us()};
    rng_seed(&w->rng, fetch_jitter_seed(o->seed ^ (uint64_t)getpid(), 0));
    if (setup(w, err) < 0) goto done;
    if (loop_run(w->loop) < 0) fail(w, "epoll_wait failed", "");
    if (w->failed) {
        snprintf(err, DIST_ERR_LEN, "%s", w->err);
        goto done;
    }
    w->st.finished = w->finished;
    ret = 0;
done:
    w->st.commands = w->cmds, w->st.round_trips = w->trips;
    *st = w->st;
    teardown(w);
    free(w);
    return ret;
}
