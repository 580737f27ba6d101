/* A small event loop in the shape of redis's ae: fd-indexed readiness callbacks on epoll, timers in a
 * min-heap, one cached monotonic "now" per iteration, a before-sleep hook, and an eventfd so that
 * another thread can wake the loop. One loop per thread; no function here is thread-safe except
 * loop_wake().
 *
 * Phases of one iteration of loop_run:
 *   1. before-sleep hook (flush output, accept backlog, ...)
 *   2. epoll_wait, with no timeout of its own: timers are delivered by a timerfd armed at the
 *      earliest deadline, so their resolution is the kernel's (microseconds), not epoll's (ms).
 *      When a timer is already due (a zero delay), epoll_wait only looks and does not sleep.
 *   3. now is updated, then fd callbacks run in the order epoll reported them
 *   4. expired timers run, earliest first, ties in the order they were started
 *
 * Conventions: functions return 0 / -1 (errno set); loop_create writes its reason into err. */
#ifndef CRAWLBENCH_LOOP_H
#define CRAWLBENCH_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define LOOP_READABLE 1
#define LOOP_WRITABLE 2
#define LOOP_TIMER_STOP (-1) /* a timer callback returns this to end, or its next interval in us */

typedef struct loop loop_t;

/* mask: LOOP_READABLE and/or LOOP_WRITABLE as reported (errors and hang-ups report both). */
typedef void loop_fd_fn(loop_t *l, int fd, void *data, int mask);
typedef int64_t loop_timer_fn(loop_t *l, void *data);
typedef void loop_hook_fn(loop_t *l, void *data);

/* A timer lives in memory its owner provides (embedded in a connection, say), so starting one never
 * allocates. Fields are private; zero-initialise it before first use. */
typedef struct loop_timer {
    uint64_t deadline_us;
    uint64_t seq;       /* tie-break: equal deadlines fire in start order */
    size_t heap_index;  /* 0 = not scheduled; else 1-based position in the heap */
    loop_timer_fn *cb;
    void *data;
} loop_timer_t;

/* setsize: the largest fd + 1 this loop may watch (grown on demand up to that bound). */
loop_t *loop_create(int setsize, char *err, size_t errlen);
void loop_free(loop_t *l);

int loop_add_fd(loop_t *l, int fd, int mask, loop_fd_fn *cb, void *data);
/* Changes the watched events of an fd already added; mask 0 keeps it registered but silent. */
int loop_set_fd(loop_t *l, int fd, int mask);
void loop_del_fd(loop_t *l, int fd);
/* Forgets an fd the caller is about to close, without the epoll_ctl: close() removes it from the
 * epoll set itself (the socket is never dup'ed). Saves a syscall per connection. */
void loop_forget_fd(loop_t *l, int fd);

/* Starts (or restarts) t to fire after delay_us. -1 (ENOMEM) only when the heap cannot grow. */
int loop_timer_start(loop_t *l, loop_timer_t *t, uint64_t delay_us, loop_timer_fn *cb, void *data);
void loop_timer_stop(loop_t *l, loop_timer_t *t);
static inline int loop_timer_active(const loop_timer_t *t) { return t->heap_index != 0; }
size_t loop_timer_count(const loop_t *l);
/* How many times the loop has polled (called epoll_wait) so far. */
uint64_t loop_iterations(const loop_t *l);

/* The monotonic time at the start of this iteration's callbacks, in microseconds. */
uint64_t loop_now(const loop_t *l);
/* A fresh reading of the same clock is base/clock.h's clock_now_us(). */

void loop_set_before_sleep(loop_t *l, loop_hook_fn *cb, void *data);
/* Registers the callback run on the loop's thread after loop_wake() from any thread. */
void loop_set_wake(loop_t *l, loop_hook_fn *cb, void *data);
void loop_wake(loop_t *l); /* thread-safe, async-signal-safe */

/* Runs until loop_stop(). Returns 0, or -1 if epoll itself failed. */
int loop_run(loop_t *l);
void loop_stop(loop_t *l); /* from the loop's own thread: returns after the current iteration */

#endif
