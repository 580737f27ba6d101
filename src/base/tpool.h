/* A fixed pool of threads with futures: concurrent.futures.ThreadPoolExecutor in C (the guide,
 * section 5.1). submit() queues a call and returns at once with a future; a future is waited on
 * alone (future.result()) or as one of all the pool's pending futures, in the order they finish
 * (as_completed()).
 *
 * Ownership: the caller owns every future submit() returns and frees it with tpool_future_free().
 * Each finished future is "collected" exactly once, by tpool_future_wait() or by
 * tpool_next_completed(), whichever sees it first; after that it is only read and freed. Freeing a
 * future that has not finished detaches it: the call still runs and its result is dropped.
 *
 * Lifetime: tpool_shutdown() stops the pool and joins its threads; the pool handle is then gone, but
 * its futures stay valid (all finished or cancelled) until each is freed.
 *
 * Errors: tpool_create returns NULL (with the reason in err) when a thread cannot start or memory
 * runs out; tpool_submit returns NULL when memory runs out or the pool is shutting down.
 * A task may submit more calls, but must not wait on the pool it runs on (with every thread
 * waiting, nothing runs: the classic pool deadlock), nor free its own future. */
#ifndef CRAWLBENCH_TPOOL_H
#define CRAWLBENCH_TPOOL_H

#include <stddef.h>

typedef struct tpool tpool_t;
typedef struct tpool_future tpool_future_t;
typedef void *(*tpool_fn_t)(void *arg);

tpool_t *tpool_create(unsigned nthreads, char *err, size_t errlen);

/* Queues fn(arg) to run on one of the pool's threads, in submission order. */
tpool_future_t *tpool_submit(tpool_t *p, tpool_fn_t fn, void *arg);

/* Waits for f to finish and collects it; returns fn's result, or NULL if f was cancelled. */
void *tpool_future_wait(tpool_future_t *f);
int tpool_future_done(tpool_future_t *f);      /* finished or cancelled; never waits */
int tpool_future_cancelled(tpool_future_t *f); /* dropped from the queue by tpool_shutdown(p, 0) */
void tpool_future_free(tpool_future_t *f);

/* as_completed: the next of the pool's futures to finish, collected; it may have finished before
 * this call. NULL when no uncollected future is queued, running or finished: none will come. */
tpool_future_t *tpool_next_completed(tpool_t *p);

/* Stops the pool. wait: every queued call still runs first; otherwise queued calls are cancelled
 * (their futures finish with NULL) and only the running ones are waited for. Joins every thread. */
void tpool_shutdown(tpool_t *p, int wait);

#endif
