/* libcurl's multi-socket interface on a loop_t (see curlloop.h). Three callbacks tie the two:
 *
 *   libcurl -> on_socket: "watch fd for IN/OUT", or "forget fd": loop_add_fd / loop_set_fd / loop_del_fd
 *   libcurl -> on_timer:  "call me back in N ms", or -1 "never mind": one loop_timer_t
 *   loop -> on_fd / on_timeout: curl_multi_socket_action, then hand every finished transfer out
 *
 * libcurl asks for timeout 0 ("act now") from inside calls such as curl_multi_add_handle, where
 * calling curl_multi_socket_action back would recurse into the multi handle. We never act inside a
 * libcurl callback: 0 becomes a loop timer due at once, run by the loop on its next iteration. */
#include "crawl/curlloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct curlloop {
    loop_t *loop;
    CURLM *multi;
    loop_timer_t timer; /* libcurl's single timeout */
    curlloop_done_fn *done;
    void *data;
    uint32_t active;
    char err[128]; /* the first failure to watch a socket */
};

/* The socketp libcurl keeps for a socket we registered: its address means "in the loop already",
 * which tells loop_add_fd from loop_set_fd. No per-socket state is needed beyond that. */
static char registered;

/* Hands out every finished transfer. The message is read before the handle is removed, which
 * frees it; the callback then owns the handle and may re-add it while we keep draining. */
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
    int ev = ((mask & LOOP_READABLE) ? CURL_CSELECT_IN : 0) | ((mask & LOOP_WRITABLE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(cl->multi, fd, ev, &running);
    drain(cl);
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
    if (what == CURL_POLL_REMOVE) {
        if (socketp) loop_del_fd(cl->loop, s); /* before libcurl closes it: epoll forgets nothing */
        return 0;
    }
    int mask = ((what & CURL_POLL_IN) ? LOOP_READABLE : 0) | ((what & CURL_POLL_OUT) ? LOOP_WRITABLE : 0);
    if (socketp ? loop_set_fd(cl->loop, s, mask) == 0
                : loop_add_fd(cl->loop, s, mask, on_fd, cl) == 0 &&
                      curl_multi_assign(cl->multi, s, &registered) == CURLM_OK)
        return 0;
    if (!cl->err[0]) snprintf(cl->err, sizeof(cl->err), "watching socket %d: %s", (int)s, strerror(errno));
    return -1; /* libcurl fails the transfers on this socket */
}

curlloop_t *curlloop_create(loop_t *l, curlloop_done_fn *done, void *data, char *err, size_t errlen) {
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
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl)) {
        snprintf(err, errlen, "curlloop: cannot set libcurl multi options");
        curlloop_free(cl);
        return NULL;
    }
    return cl;
}

void curlloop_free(curlloop_t *cl) {
    if (!cl) return;
    curl_multi_cleanup(cl->multi); /* closes pooled connections: on_socket REMOVE for each */
    loop_timer_stop(cl->loop, &cl->timer);
    free(cl);
}

int curlloop_add(curlloop_t *cl, CURL *easy) {
    if (curl_multi_add_handle(cl->multi, easy) != CURLM_OK) return -1;
    cl->active++;
    return 0;
}

void curlloop_remove(curlloop_t *cl, CURL *easy) {
    if (curl_multi_remove_handle(cl->multi, easy) == CURLM_OK) cl->active--;
}

uint32_t curlloop_active(const curlloop_t *cl) { return cl->active; }
const char *curlloop_error(const curlloop_t *cl) { return cl->err[0] ? cl->err : NULL; }

int curlloop_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
    if (rl.rlim_cur < want) {
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl.rlim_cur = want;
    }
    return rl.rlim_cur > (1u << 20) ? (1 << 20) : (int)rl.rlim_cur;
}
