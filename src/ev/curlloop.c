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
 * libcurl asks for timeout 0 ("act now") from inside calls such as curl_multi_add_handle, where
 * calling curl_multi_socket_action back would recurse into the multi handle. We never act inside a
 * libcurl callback: 0 becomes a loop timer due at once, run by the loop in this iteration. */
#include "ev/curlloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Handles queued by curlloop_add are given to libcurl at the end of the loop iteration, or as soon
 * as this many are waiting. 16 keeps most of the gain of sending together (the server is woken
 * once per burst) while a transfer waits for at most 16 others' completions to be processed
 * (about 0.3 ms) before its request leaves: a delay that would show in the crawl's latency. */
#define BURST 16

/* What the adapter knows of an fd (curlloop_t.fds, indexed by fd). */
#define FD_IN_LOOP 0x10 /* registered with the loop; the low bits are the LOOP_* mask it has */
#define FD_PARKED 0x20  /* libcurl released it: registered, but nobody is waiting on it */

struct curlloop {
    loop_t *loop;
    CURLM *multi;
    loop_timer_t timer; /* libcurl's single timeout */
    loop_timer_t kick;  /* adds the queued handles, due at once */
    curlloop_done_fn *done;
    void *data;
    uint32_t active;     /* added to the multi, not yet done */
    CURL **queue;        /* waiting for the kick */
    uint32_t queued, queue_cap;
    unsigned char *fds;
    int fds_cap;
    char err[128]; /* the first failure to watch a socket */
};

static int64_t on_kick(loop_t *l, void *data);

static unsigned char *fd_state(curlloop_t *cl, int fd) {
    if (fd >= cl->fds_cap) {
        int cap = cl->fds_cap ? cl->fds_cap : 64;
        while (cap <= fd) cap *= 2;
        unsigned char *p = realloc(cl->fds, (size_t)cap);
        if (!p) return NULL;
        memset(p + cl->fds_cap, 0, (size_t)(cap - cl->fds_cap));
        cl->fds = p;
        cl->fds_cap = cap;
    }
    return &cl->fds[fd];
}

/* Hands out every finished transfer. The message is read before the handle is removed, which
 * frees it; the callback then owns the handle and may queue it again while we keep draining. */
static void drain(curlloop_t *cl) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(cl->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(cl->multi, easy);
        cl->active--;
        cl->done(cl, easy, rc, cl->data);
    }
}

static void on_fd(loop_t *l, int fd, void *data, int mask) {
    curlloop_t *cl = data;
    int running;
    if (cl->fds[fd] & FD_PARKED) { /* an idle pooled connection: the peer closed it, most likely */
        /* Out of epoll altogether: a silenced fd would still report a hang-up or an error at every
         * epoll_wait. libcurl finds the connection dead when it next looks at its pool; if it is
         * alive after all and gets reused, on_socket adds it again. */
        loop_del_fd(l, fd);
        cl->fds[fd] = 0;
        return;
    }
    int ev = ((mask & LOOP_READABLE) ? CURL_CSELECT_IN : 0) | ((mask & LOOP_WRITABLE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(cl->multi, fd, ev, &running);
    drain(cl);
    if (cl->queued >= BURST) { /* a burst's worth: these need not wait for the rest of the iteration */
        loop_timer_stop(l, &cl->kick);
        on_kick(l, cl);
    }
}

/* The loop stopped the timer before calling us; if libcurl wants another timeout it restarts it
 * from inside socket_action (on_timer), so we return STOP and the loop leaves it alone. */
static int64_t on_timeout(loop_t *l, void *data) {
    curlloop_t *cl = data;
    int running;
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(cl);
    return LOOP_TIMER_STOP;
}

static int on_timer(CURLM *multi, long ms, void *arg) {
    curlloop_t *cl = arg;
    if (ms < 0) {
        loop_timer_stop(cl->loop, &cl->timer);
        return 0;
    }
    return loop_timer_start(cl->loop, &cl->timer, (uint64_t)ms * 1000u, on_timeout, cl) < 0 ? -1 : 0;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp) {
    curlloop_t *cl = arg;
    unsigned char *st = fd_state(cl, s);
    if (!st) goto fail;
    if (what == CURL_POLL_REMOVE) {
        if (*st & FD_IN_LOOP) *st |= FD_PARKED;
        return 0;
    }
    int mask = ((what & CURL_POLL_IN) ? LOOP_READABLE : 0) | ((what & CURL_POLL_OUT) ? LOOP_WRITABLE : 0);
    if (*st & FD_IN_LOOP) {
        if (loop_set_fd(cl->loop, s, mask) < 0) goto fail; /* no syscall if the mask is unchanged */
    } else if (loop_add_fd(cl->loop, s, mask, on_fd, cl) < 0) {
        goto fail;
    }
    *st = (unsigned char)(FD_IN_LOOP | mask);
    return 0;
fail:
    if (!cl->err[0]) snprintf(cl->err, sizeof(cl->err), "watching socket %d: %s", (int)s, strerror(errno));
    return -1; /* libcurl fails the transfers on this socket */
}

/* libcurl closes its sockets through here: close() takes the fd out of epoll itself (libcurl never
 * dup()s a socket), and the loop and the adapter forget it before the number can be reused. */
static int on_close(void *arg, curl_socket_t s) {
    curlloop_t *cl = arg;
    if (s < cl->fds_cap && (cl->fds[s] & FD_IN_LOOP)) {
        loop_forget_fd(cl->loop, s);
        cl->fds[s] = 0;
    }
    return close(s);
}

curlloop_t *curlloop_create(loop_t *l, uint32_t max_transfers, curlloop_done_fn *done, void *data, char *err,
                            size_t errlen) {
    curlloop_t *cl = calloc(1, sizeof(*cl));
    if (!cl || !(cl->multi = curl_multi_init())) {
        snprintf(err, errlen, "curlloop: cannot create a libcurl multi handle");
        free(cl);
        return NULL;
    }
    cl->loop = l;
    cl->done = done;
    cl->data = data;
    if (curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl) ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl) ||
        /* libcurl's default pool is 4 connections per handle added. Between a batch of transfers
         * ending and the next being added (on_kick), few handles are added, and it would close the
         * kept-alive connections the next batch is about to reuse. */
        curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, (long)(max_transfers ? max_transfers : 1))) {
        snprintf(err, errlen, "curlloop: cannot set libcurl multi options");
        curlloop_free(cl);
        return NULL;
    }
    return cl;
}

void curlloop_free(curlloop_t *cl) {
    if (!cl) return;
    curl_multi_cleanup(cl->multi); /* closes pooled connections, through on_close */
    loop_timer_stop(cl->loop, &cl->timer);
    loop_timer_stop(cl->loop, &cl->kick);
    free(cl->queue);
    free(cl->fds);
    free(cl);
}

/* Gives libcurl every queued handle, then lets it start them all at once: one socket_action on the
 * timeout, which runs every transfer whose timer is due, the new ones first of all. */
static int64_t on_kick(loop_t *l, void *data) {
    curlloop_t *cl = data;
    int running;
    uint32_t n = cl->queued;
    cl->queued = 0;
    for (uint32_t i = 0; i < n; i++) {
        CURL *easy = cl->queue[i];
        CURLMcode rc = curl_multi_add_handle(cl->multi, easy);
        if (rc == CURLM_OK) {
            cl->active++;
            continue;
        }
        if (!cl->err[0]) snprintf(cl->err, sizeof(cl->err), "libcurl refused a transfer: %s", curl_multi_strerror(rc));
        /* Added twice is the owner's bug: its transfer is already running and will end once. Any
         * other refusal (out of memory) ends this one now, as a failed transfer. */
        if (rc != CURLM_ADDED_ALREADY) cl->done(cl, easy, CURLE_FAILED_INIT, cl->data);
    }
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(cl);
    return LOOP_TIMER_STOP;
}

int curlloop_add(curlloop_t *cl, CURL *easy) {
    if (cl->queued == cl->queue_cap) {
        uint32_t cap = cl->queue_cap ? cl->queue_cap * 2 : 64;
        CURL **q = realloc(cl->queue, cap * sizeof(*q));
        if (!q) return -1;
        cl->queue = q;
        cl->queue_cap = cap;
    }
    if (curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, cl) != CURLE_OK)
        return -1;
    if (!cl->queued && loop_timer_start(cl->loop, &cl->kick, 0, on_kick, cl) < 0) return -1;
    cl->queue[cl->queued++] = easy;
    return 0;
}

void curlloop_remove(curlloop_t *cl, CURL *easy) {
    for (uint32_t i = 0; i < cl->queued; i++)
        if (cl->queue[i] == easy) {
            memmove(&cl->queue[i], &cl->queue[i + 1], (cl->queued - i - 1) * sizeof(*cl->queue));
            cl->queued--;
            return;
        }
    if (curl_multi_remove_handle(cl->multi, easy) == CURLM_OK) cl->active--;
}

uint32_t curlloop_active(const curlloop_t *cl) { return cl->active + cl->queued; }
const char *curlloop_error(const curlloop_t *cl) { return cl->err[0] ? cl->err : NULL; }

