/* libcurl's multi-socket interface on a loop_t (see curlloop.h). Three callbacks tie the two:
 *
 *   libcurl -> on_socket: "watch fd for IN/OUT", or "forget fd": loop_add_fd / loop_set_fd
 *   libcurl -> on_timer:  "call me back in N ms", or -1 "never mind": one loop timer
 *   loop -> on_fd / on_timeout: curl_multi_socket_action, then hand every finished transfer out
 *
 * Two things keep the syscalls per transfer down to libcurl's own send, recv and liveness polls:
 *
 * - A kept-alive connection is released by libcurl at the end of each transfer ("forget fd") and
 *   claimed again by the next one a moment later. Taking it out of epoll and putting it back would
 *   be two epoll_ctl per page, so a released socket is only parked: it stays registered, and is
 *   taken out (one epoll_ctl) only if it reports an event while nobody wants it. libcurl's close
 *   goes through on_close, so a parked fd number that the kernel hands out again is never taken
 *   for the old socket.
 * - curlloop_add does not give the handle to libcurl at once: handles are queued and added together,
 *   BURST at a time or at the end of the loop iteration (a timer due at once). libcurl then sends
 *   their requests in one burst, instead of one between each two answers it reads; a server that is
 *   woken once per burst rather than once per request costs the client less in the kernel.
 *
 * - Many transfers are spread over several multi handles (shards), SHARD_TRANSFERS each. libcurl
 *   7.88 looks for a free connection by walking its pool's list for the host, so its work per
 *   transfer grows with the connections a multi handle holds: at -c 1000 a third of the client's
 *   instructions per page went there (callgrind: 97k a page at -c 10, 145k at -c 1000). A shard's
 *   pool holds only its own handles' connections. A handle always goes to the same shard (chosen
 *   by its address), so it finds its kept-alive connection there and a double add is still caught.
 *
 * libcurl asks for timeout 0 ("act now") from inside calls such as curl_multi_add_handle, where
 * calling curl_multi_socket_action back would recurse into the multi handle. We never act inside a
 * libcurl callback: 0 becomes a loop timer due at once, run by the loop in this iteration. */
#include "ev/curlloop.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Handles queued by curlloop_add are given to libcurl at the end of the loop iteration, or as soon
 * as this many are waiting. 16 keeps most of the gain of sending together (the server is woken
 * once per burst) while a transfer waits for at most 16 others' completions to be processed
 * (about 0.3 ms) before its request leaves: a delay that would show in the crawl's latency. */
#define BURST 16
/* Transfers per shard. Below about 100 connections libcurl's per-transfer cost barely moves
 * (97k instructions a page at -c 10, 101k at -c 100); 64 keeps a crawl of up to 64 transfers on
 * one multi handle, exactly as before sharding. */
#define SHARD_TRANSFERS 64
#define MAX_SHARDS 64

/* What the adapter knows of an fd (shard_t.fds, indexed by fd). */
#define FD_IN_LOOP 0x10 /* registered with the loop; the low bits are the LOOP_* mask it has */
#define FD_PARKED 0x20  /* libcurl released it: registered, but nobody is waiting on it */

typedef struct curlloop_shard { /* one multi handle and what the loop keeps for it */
    curlloop_t *cl;
    CURLM *multi;
    loop_timer_t timer; /* libcurl's single timeout */
    loop_timer_t kick;  /* adds the queued handles, due at once */
    uint32_t active;    /* added to the multi, not yet done */
    CURL **queue;       /* waiting for the kick */
    uint32_t queued, queue_cap;
    unsigned char *fds;
    int fds_cap;
} curlloop_shard_t;

struct curlloop {
    loop_t *loop;
    curlloop_done_fn *done;
    void *data;
    curlloop_shard_t *shards;
    uint32_t nshards;
    char err[128]; /* the first failure to watch a socket */
};

static int64_t on_kick(loop_t *l, void *data);

static unsigned char *fd_state(curlloop_shard_t *sh, int fd) {
    if (fd >= sh->fds_cap) {
        int cap = sh->fds_cap ? sh->fds_cap : 64;
        while (cap <= fd) cap *= 2;
        unsigned char *p = realloc(sh->fds, (size_t)cap);
        if (!p) return NULL;
        memset(p + sh->fds_cap, 0, (size_t)(cap - sh->fds_cap));
        sh->fds = p;
        sh->fds_cap = cap;
    }
    return &sh->fds[fd];
}

/* Hands out every finished transfer. The message is read before the handle is removed, which
 * frees it; the callback then owns the handle and may queue it again while we keep draining. */
static void drain(curlloop_shard_t *sh) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(sh->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(sh->multi, easy);
        sh->active--;
        sh->cl->done(sh->cl, easy, rc, sh->cl->data);
    }
}

static void on_fd(loop_t *l, int fd, void *data, int mask) {
    curlloop_shard_t *sh = data;
    int running;
    if (sh->fds[fd] & FD_PARKED) { /* an idle pooled connection: the peer closed it, most likely */
        /* Out of epoll altogether: a silenced fd would still report a hang-up or an error at every
         * epoll_wait. libcurl finds the connection dead when it next looks at its pool; if it is
         * alive after all and gets reused, on_socket adds it again. */
        loop_del_fd(l, fd);
        sh->fds[fd] = 0;
        return;
    }
    int ev = ((mask & LOOP_READABLE) ? CURL_CSELECT_IN : 0) | ((mask & LOOP_WRITABLE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(sh->multi, fd, ev, &running);
    drain(sh);
    if (sh->queued >= BURST) { /* a burst's worth: these need not wait for the rest of the iteration */
        loop_timer_stop(l, &sh->kick);
        on_kick(l, sh);
    }
}

/* The loop stopped the timer before calling us; if libcurl wants another timeout it restarts it
 * from inside socket_action (on_timer), so we return STOP and the loop leaves it alone. */
static int64_t on_timeout(loop_t *l, void *data) {
    curlloop_shard_t *sh = data;
    int running;
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(sh);
    return LOOP_TIMER_STOP;
}

static int on_timer(CURLM *multi, long ms, void *arg) {
    curlloop_shard_t *sh = arg;
    if (ms < 0) {
        loop_timer_stop(sh->cl->loop, &sh->timer);
        return 0;
    }
    return loop_timer_start(sh->cl->loop, &sh->timer, (uint64_t)ms * 1000u, on_timeout, sh) < 0 ? -1 : 0;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp) {
    curlloop_shard_t *sh = arg;
    unsigned char *st = fd_state(sh, s);
    if (!st) goto fail;
    if (what == CURL_POLL_REMOVE) {
        if (*st & FD_IN_LOOP) *st |= FD_PARKED;
        return 0;
    }
    int mask = ((what & CURL_POLL_IN) ? LOOP_READABLE : 0) | ((what & CURL_POLL_OUT) ? LOOP_WRITABLE : 0);
    if (*st & FD_IN_LOOP) {
        if (loop_set_fd(sh->cl->loop, s, mask) < 0) goto fail; /* no syscall if the mask is unchanged */
    } else if (loop_add_fd(sh->cl->loop, s, mask, on_fd, sh) < 0) {
        goto fail;
    }
    *st = (unsigned char)(FD_IN_LOOP | mask);
    return 0;
fail:
    if (!sh->cl->err[0])
        snprintf(sh->cl->err, sizeof(sh->cl->err), "watching socket %d: %s", (int)s, strerror(errno));
    return -1; /* libcurl fails the transfers on this socket */
}

/* libcurl closes its sockets through here: close() takes the fd out of epoll itself (libcurl never
 * dup()s a socket), and the loop and the adapter forget it before the number can be reused. */
static int on_close(void *arg, curl_socket_t s) {
    curlloop_shard_t *sh = arg;
    if (s < sh->fds_cap && (sh->fds[s] & FD_IN_LOOP)) {
        loop_forget_fd(sh->cl->loop, s);
        sh->fds[s] = 0;
    }
    return close(s);
}

static int shard_init(curlloop_shard_t *sh, curlloop_t *cl, long maxconnects) {
    sh->cl = cl;
    return !(sh->multi = curl_multi_init()) || curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
                   curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh) ||
                   curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
                   curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh) ||
                   curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, maxconnects)
               ? -1
               : 0;
}

curlloop_t *curlloop_create(loop_t *l, uint32_t max_transfers, curlloop_done_fn *done, void *data, char *err,
                            size_t errlen) {
    uint32_t n = max_transfers / SHARD_TRANSFERS + (max_transfers % SHARD_TRANSFERS != 0);
    n = n < 1 ? 1 : n > MAX_SHARDS ? MAX_SHARDS : n;
    curlloop_t *cl = calloc(1, sizeof(*cl));
    if (!cl || !(cl->shards = calloc(n, sizeof(*cl->shards)))) {
        snprintf(err, errlen, "curlloop: out of memory");
        free(cl);
        return NULL;
    }
    cl->loop = l;
    cl->done = done;
    cl->data = data;
    cl->nshards = n;
    for (uint32_t i = 0; i < n; i++)
        /* libcurl's default pool is 4 connections per handle added. Between a batch of transfers
         * ending and the next being added (on_kick), few handles are added, and it would close the
         * kept-alive connections the next batch is about to reuse. The pool is as large as the
         * whole crawl's transfers: addresses need not spread the handles evenly over the shards. */
        if (shard_init(&cl->shards[i], cl, (long)(max_transfers ? max_transfers : 1)) < 0) {
            snprintf(err, errlen, "curlloop: cannot create a libcurl multi handle");
            curlloop_free(cl);
            return NULL;
        }
    return cl;
}

void curlloop_free(curlloop_t *cl) {
    if (!cl) return;
    for (uint32_t i = 0; i < cl->nshards; i++) {
        curlloop_shard_t *sh = &cl->shards[i];
        if (sh->multi) curl_multi_cleanup(sh->multi); /* closes pooled connections, through on_close */
        loop_timer_stop(cl->loop, &sh->timer);
        loop_timer_stop(cl->loop, &sh->kick);
        free(sh->queue);
        free(sh->fds);
    }
    free(cl->shards);
    free(cl);
}

/* Gives libcurl every queued handle, then lets it start them all at once: one socket_action on the
 * timeout, which runs every transfer whose timer is due, the new ones first of all. */
static int64_t on_kick(loop_t *l, void *data) {
    curlloop_shard_t *sh = data;
    curlloop_t *cl = sh->cl;
    int running;
    uint32_t n = sh->queued;
    sh->queued = 0;
    for (uint32_t i = 0; i < n; i++) {
        CURL *easy = sh->queue[i];
        CURLMcode rc = curl_multi_add_handle(sh->multi, easy);
        if (rc == CURLM_OK) {
            sh->active++;
            continue;
        }
        if (!cl->err[0]) snprintf(cl->err, sizeof(cl->err), "libcurl refused a transfer: %s", curl_multi_strerror(rc));
        /* Added twice is the owner's bug: its transfer is already running and will end once. Any
         * other refusal (out of memory) ends this one now, as a failed transfer. */
        if (rc != CURLM_ADDED_ALREADY) cl->done(cl, easy, CURLE_FAILED_INIT, cl->data);
    }
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(sh);
    return LOOP_TIMER_STOP;
}

static curlloop_shard_t *shard_of(curlloop_t *cl, CURL *easy) {
    uint64_t h = (uint64_t)(uintptr_t)easy * 0x9E3779B97F4A7C15u; /* Fibonacci hashing of the address */
    return &cl->shards[(h >> 32) % cl->nshards];
}

int curlloop_add(curlloop_t *cl, CURL *easy) {
    curlloop_shard_t *sh = shard_of(cl, easy);
    if (sh->queued == sh->queue_cap) {
        uint32_t cap = sh->queue_cap ? sh->queue_cap * 2 : 64;
        CURL **q = realloc(sh->queue, cap * sizeof(*q));
        if (!q) return -1;
        sh->queue = q;
        sh->queue_cap = cap;
    }
    if (curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, sh) != CURLE_OK)
        return -1;
    if (!sh->queued && loop_timer_start(cl->loop, &sh->kick, 0, on_kick, sh) < 0) return -1;
    sh->queue[sh->queued++] = easy;
    return 0;
}

void curlloop_remove(curlloop_t *cl, CURL *easy) {
    curlloop_shard_t *sh = shard_of(cl, easy);
    for (uint32_t i = 0; i < sh->queued; i++)
        if (sh->queue[i] == easy) {
            memmove(&sh->queue[i], &sh->queue[i + 1], (sh->queued - i - 1) * sizeof(*sh->queue));
            sh->queued--;
            return;
        }
    if (curl_multi_remove_handle(sh->multi, easy) == CURLM_OK) sh->active--;
}

uint32_t curlloop_active(const curlloop_t *cl) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < cl->nshards; i++) n += cl->shards[i].active + cl->shards[i].queued;
    return n;
}

uint32_t curlloop_shards(const curlloop_t *cl) { return cl->nshards; }
const char *curlloop_error(const curlloop_t *cl) { return cl->err[0] ? cl->err : NULL; }
