/* coro: stackful coroutines scheduled on a loop_t, the machinery under green.c and nursery.c.
 * A coroutine runs ordinary straight-line C on its own small stack; where it would block it parks
 * (coro_park and the waits built on it) and the loop runs everything else until someone wakes it:
 * an fd or timer callback, or another coroutine. One thread; nothing here is thread-safe.
 *
 * Lifecycle: coro_spawn makes a coroutine runnable; the scheduler runs runnable coroutines in the
 * loop's before-sleep phase (it owns that hook), each until it parks or returns; coro_run runs the
 * loop until the last coroutine has returned. A coroutine that returns is recycled by the scheduler,
 * never by itself, since it is still standing on its own stack when it finishes.
 *
 * Cancellation, trio-style: coro_cancel marks a coroutine; its current wait, if cancellable, is
 * undone and returns -1 (ECANCELED), and so does every later wait, so that it unwinds through its
 * own error paths and returns. A wait with no undo function is not a cancellation point.
 *
 * Conventions: functions return 0 / -1 with errno, or NULL; coro_sched_create writes its reason into
 * err. Parking functions may be called only from inside a coroutine. */
#ifndef CRAWLBENCH_CORO_H
#define CRAWLBENCH_CORO_H

#include "ev/loop.h"

#include <stddef.h>
#include <stdint.h>

#define CORO_STACK_DEFAULT (64u << 10)

typedef struct coro coro_t;
typedef struct coro_sched coro_sched_t;
typedef void coro_fn(void *arg);
/* Abandons what a parked coroutine waits for (removes a transfer, stops a timer), on cancellation. */
typedef void coro_undo_fn(void *arg);

/* A list of parked coroutines (a condition variable without the mutex). Zero-initialise it.
 * Fields are private. */
typedef struct coro_queue {
    coro_t *head, *tail;
} coro_queue_t;

/* stack_size: usable bytes per coroutine, rounded up to pages; one PROT_NONE guard page below. */
coro_sched_t *coro_sched_create(loop_t *l, size_t stack_size, char *err, size_t errlen);
/* Frees the scheduler and every stack. Coroutines still alive (the loop failed) are discarded
 * without being resumed. */
void coro_sched_free(coro_sched_t *s);
/* Runs the loop until no coroutine is left. -1 when the loop itself failed. */
int coro_run(coro_sched_t *s);

/* Starts fn(arg) on a stack of its own, runnable now; it first runs at the next scheduling point.
 * NULL (ENOMEM) when no stack can be had. */
coro_t *coro_spawn(coro_sched_t *s, coro_fn *fn, void *arg);
coro_t *coro_current(const coro_sched_t *s); /* NULL outside coroutines */
uint32_t coro_alive(const coro_sched_t *s);

/* Parks the current coroutine until coro_wake(). 0 when woken; -1 (ECANCELED) when cancelled, after
 * undo(arg) ran. Cancelled before parking: undo runs at once and -1 comes back. */
int coro_park(coro_sched_t *s, coro_undo_fn *undo, void *arg);
/* Makes a parked coroutine runnable (taking it off any queue). No-op for one that is not parked. */
void coro_wake(coro_t *co);

/* Parks for us microseconds. 0, or -1 with errno ECANCELED or ENOMEM (no timer slot). */
int coro_sleep(coro_sched_t *s, uint64_t us);
/* Parks on q until coro_signal/coro_broadcast. 0, or -1 (ECANCELED). */
int coro_wait(coro_sched_t *s, coro_queue_t *q);
void coro_signal(coro_queue_t *q);    /* wakes the longest waiter, if any */
void coro_broadcast(coro_queue_t *q); /* wakes every waiter */

void coro_cancel(coro_t *co);
int coro_cancelled(const coro_t *co);

/* The deepest any coroutine has reached into its stack so far, in bytes, page-granular: stacks
 * are mapped lazily, so the pages the kernel has had to provide (mincore) are the high-water mark. */
size_t coro_stack_peak(const coro_sched_t *s);

#endif
