/* The event loop: epoll for readiness, a binary min-heap of caller-owned timers delivered through
 * one timerfd, an eventfd for cross-thread wake-ups. Hand-written rather than libuv/libevent because
 * the loop is itself one of the lessons this project teaches, and because the server needs exactly
 * this much and nothing more on its hot path. */
#include "ev/loop.h"

#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

typedef struct loop_fd {
    loop_fd_fn *cb;
    void *data;
    int mask; /* 0 = not registered */
} loop_fd_t;

struct loop {
    int epfd;
    int timerfd;
    int wakefd;
    int setsize;             /* bound on fd + 1 */
    int fds_cap;             /* fds grows on demand up to setsize */
    loop_fd_t *fds;          /* indexed by fd */
    loop_timer_t **heap;     /* 1-based min-heap on (deadline, seq) */
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    uint64_t armed_us;       /* deadline the timerfd is armed for, 0 = disarmed */
    uint64_t now_us;
    uint64_t iterations;     /* epoll_wait calls: tests use it to tell a busy loop from an idle one */
    int stop;
    loop_hook_fn *before_sleep, *on_wake;
    void *before_sleep_data, *on_wake_data;
};

uint64_t loop_now(const loop_t *l) { return l->now_us; }
size_t loop_timer_count(const loop_t *l) { return l->heap_len; }
uint64_t loop_iterations(const loop_t *l) { return l->iterations; }

static int epoll_events_of(int mask) {
    return ((mask & LOOP_READABLE) ? EPOLLIN : 0) | ((mask & LOOP_WRITABLE) ? EPOLLOUT : 0);
}

loop_t *loop_create(int setsize, char *err, size_t errlen) {
    loop_t *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "loop: out of memory");
        return NULL;
    }
    l->epfd = l->timerfd = l->wakefd = -1;
    l->setsize = setsize;
    l->fds_cap = setsize < 1024 ? setsize : 1024;
    l->fds = calloc((size_t)l->fds_cap, sizeof(*l->fds));
    l->heap_cap = 64;
    l->heap = malloc((l->heap_cap + 1) * sizeof(*l->heap));
    if (!l->fds || !l->heap) {
        snprintf(err, errlen, "loop: out of memory");
        goto fail;
    }
    if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
        (l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "loop: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->timerfd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &ev) < 0) goto fail_errno;
    ev.data.fd = l->wakefd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) goto fail_errno;
    l->now_us = clock_now_us();
    return l;

fail_errno:
    snprintf(err, errlen, "loop: epoll_ctl: %s", strerror(errno));
fail:
    loop_free(l);
    return NULL;
}

void loop_free(loop_t *l) {
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    if (l->timerfd >= 0) close(l->timerfd);
    if (l->wakefd >= 0) close(l->wakefd);
    free(l->fds);
    free(l->heap);
    free(l);
}

/* Grows the fd table so that fd fits; the table is as large as the largest fd seen, not setsize. */
static int grow_fds(loop_t *l, int fd) {
    if (fd < l->fds_cap) return 0;
    int cap = l->fds_cap;
    while (cap <= fd) cap = cap > l->setsize / 2 ? l->setsize : cap * 2;
    loop_fd_t *p = realloc(l->fds, (size_t)cap * sizeof(*p));
    if (!p) return -1;
    memset(p + l->fds_cap, 0, (size_t)(cap - l->fds_cap) * sizeof(*p));
    l->fds = p;
    l->fds_cap = cap;
    return 0;
}

int loop_add_fd(loop_t *l, int fd, int mask, loop_fd_fn *cb, void *data) {
    if (fd < 0 || fd >= l->setsize) {
        errno = ERANGE;
        return -1;
    }
    if (grow_fds(l, fd) < 0) return -1;
    struct epoll_event ev = {.events = (uint32_t)epoll_events_of(mask), .data.fd = fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
    l->fds[fd] = (loop_fd_t){.cb = cb, .data = data, .mask = mask | 0x100};
    return 0;
}

int loop_set_fd(loop_t *l, int fd, int mask) {
    if ((l->fds[fd].mask & 0xff) == mask) return 0; /* no syscall when nothing changes */
    struct epoll_event ev = {.events = (uint32_t)epoll_events_of(mask), .data.fd = fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) return -1;
    l->fds[fd].mask = mask | 0x100;
    return 0;
}

void loop_forget_fd(loop_t *l, int fd) {
    if (fd >= 0 && fd < l->fds_cap) l->fds[fd] = (loop_fd_t){0};
}

void loop_del_fd(loop_t *l, int fd) {
    if (fd < 0 || fd >= l->fds_cap || !l->fds[fd].mask) return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->fds[fd] = (loop_fd_t){0};
}

/* ---- timers: a 1-based binary min-heap of pointers, each timer knowing its own slot ---- */

static int timer_before(const loop_timer_t *a, const loop_timer_t *b) {
    return a->deadline_us < b->deadline_us || (a->deadline_us == b->deadline_us && a->seq < b->seq);
}

static void heap_place(loop_t *l, size_t i, loop_timer_t *t) {
    l->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(loop_t *l, size_t i) {
    loop_timer_t *t = l->heap[i];
    while (i > 1 && timer_before(t, l->heap[i / 2])) {
        heap_place(l, i, l->heap[i / 2]);
        i /= 2;
    }
    heap_place(l, i, t);
}

static void heap_down(loop_t *l, size_t i) {
    loop_timer_t *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i;
        if (c > l->heap_len) break;
        if (c < l->heap_len && timer_before(l->heap[c + 1], l->heap[c])) c++;
        if (!timer_before(l->heap[c], t)) break;
        heap_place(l, i, l->heap[c]);
        i = c;
    }
    heap_place(l, i, t);
}

void loop_timer_stop(loop_t *l, loop_timer_t *t) {
    size_t i = t->heap_index;
    if (!i) return;
    loop_timer_t *last = l->heap[l->heap_len--];
    t->heap_index = 0;
    if (last == t) return;
    heap_place(l, i, last);
    heap_up(l, i);
    heap_down(l, last->heap_index);
}

int loop_timer_start(loop_t *l, loop_timer_t *t, uint64_t delay_us, loop_timer_fn *cb, void *data) {
    loop_timer_stop(l, t);
    if (l->heap_len == l->heap_cap) {
        loop_timer_t **h = realloc(l->heap, (l->heap_cap * 2 + 1) * sizeof(*h));
        if (!h) return -1;
        l->heap = h;
        l->heap_cap *= 2;
    }
    t->deadline_us = clock_now_us() + delay_us;
    t->seq = ++l->timer_seq;
    t->cb = cb;
    t->data = data;
    heap_place(l, ++l->heap_len, t);
    heap_up(l, l->heap_len);
    return 0;
}

/* Arms the timerfd for the earliest deadline, only when that deadline changed. */
static void arm_timerfd(loop_t *l) {
    uint64_t want = l->heap_len ? l->heap[1]->deadline_us : 0;
    if (want == l->armed_us) return;
    struct itimerspec its = {0};
    if (want) {
        its.it_value.tv_sec = (time_t)(want / 1000000u);
        its.it_value.tv_nsec = (long)(want % 1000000u) * 1000;
    }
    timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
    l->armed_us = want;
}

/* fired: the timerfd reported, so it must be read (emptied) and counts as disarmed. */
static void run_timers(loop_t *l, int fired) {
    uint64_t expired;
    if (fired) {
        if (read(l->timerfd, &expired, sizeof(expired)) < 0) { /* EAGAIN: spurious, fine */ }
        l->armed_us = 0;
    }
    uint64_t now = clock_now_us();
    while (l->heap_len && l->heap[1]->deadline_us <= now) {
        loop_timer_t *t = l->heap[1];
        loop_timer_stop(l, t);
        /* The callback may free the memory t lives in, so read nothing from t after it unless it
         * asked to be rescheduled (and then it must still be alive). */
        int64_t next = t->cb(l, t->data);
        /* Cannot fail: t's own heap slot was freed just above. */
        if (next >= 0) (void)loop_timer_start(l, t, (uint64_t)next, t->cb, t->data);
    }
}

/* ---- wake-ups and the run loop ---- */

void loop_set_before_sleep(loop_t *l, loop_hook_fn *cb, void *data) {
    l->before_sleep = cb;
    l->before_sleep_data = data;
}

void loop_set_wake(loop_t *l, loop_hook_fn *cb, void *data) {
    l->on_wake = cb;
    l->on_wake_data = data;
}

void loop_wake(loop_t *l) {
    uint64_t one = 1;
    if (write(l->wakefd, &one, sizeof(one)) < 0) { /* EAGAIN: a wake-up is already pending */ }
}

void loop_stop(loop_t *l) { l->stop = 1; }

int loop_run(loop_t *l) {
    struct epoll_event events[LOOP_MAX_EVENTS];
    l->stop = 0;
    while (!l->stop) {
        if (l->before_sleep) l->before_sleep(l, l->before_sleep_data);
        if (l->stop) break;
        /* A timer already due (started with delay 0, or expired while callbacks ran) needs no
         * timerfd round trip: look at the fds without sleeping, then run it in this iteration. */
        int due = l->heap_len && l->heap[1]->deadline_us <= clock_now_us();
        if (!due) arm_timerfd(l);
        int n = epoll_wait(l->epfd, events, LOOP_MAX_EVENTS, due ? 0 : -1);
        l->iterations++;
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        l->now_us = clock_now_us();
        int timers_due = 0;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == l->timerfd) { timers_due = 1; continue; }
            if (fd == l->wakefd) {
                uint64_t v;
                if (read(l->wakefd, &v, sizeof(v)) > 0 && l->on_wake) l->on_wake(l, l->on_wake_data);
                continue;
            }
            if (fd >= l->fds_cap || !l->fds[fd].mask) continue; /* closed earlier in this batch */
            loop_fd_t *f = &l->fds[fd];
            uint32_t e = events[i].events;
            int mask = 0;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) mask |= LOOP_READABLE;
            if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= LOOP_WRITABLE;
            f->cb(l, fd, f->data, mask);
        }
        if (timers_due || due) run_timers(l, timers_due);
    }
    return 0;
}
