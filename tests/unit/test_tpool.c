/* The thread pool and its futures: results through wait, as_completed in finishing order, each
 * future collected once, shutdown that waits or cancels, futures outliving the pool, detached
 * futures. Tasks are held on gates the test opens, so orders are forced, never timed. */
#include "base/tpool.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static tpool_t *new_pool(unsigned n) {
    char err[256];
    tpool_t *p = tpool_create(n, err, sizeof(err));
    cr_assert_not_null(p, "tpool_create: %s", err);
    return p;
}

static void *square(void *arg) {
    intptr_t x = (intptr_t)arg;
    return (void *)(x * x);
}

Test(tpool, wait_returns_each_result) {
    enum { N = 200 };
    tpool_t *p = new_pool(4);
    tpool_future_t *f[N];
    for (intptr_t i = 0; i < N; i++) cr_assert_not_null(f[i] = tpool_submit(p, square, (void *)i));
    for (intptr_t i = 0; i < N; i++) {
        intptr_t r = (intptr_t)tpool_future_wait(f[i]);
        cr_assert_eq(r, i * i, "future %ld gave %ld", (long)i, (long)r);
        cr_assert(tpool_future_done(f[i]));
        cr_assert_not(tpool_future_cancelled(f[i]));
        cr_assert_eq((intptr_t)tpool_future_wait(f[i]), i * i, "waiting twice gives the result again");
        tpool_future_free(f[i]);
    }
    cr_assert_null(tpool_next_completed(p), "every future was collected by wait");
    tpool_shutdown(p, 1);
}

Test(tpool, zero_threads_is_refused) {
    char err[256];
    cr_assert_null(tpool_create(0, err, sizeof(err)));
}

/* A gate a task waits at until the test opens it. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open, started;
    int id;
    atomic_int *ran;
} gate_t;

static void gate_init(gate_t *g, int id, atomic_int *ran) {
    *g = (gate_t){.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .id = id, .ran = ran};
}

static void gate_open(gate_t *g) {
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* Waits until the task at the gate has started (so it is no longer queued). */
static void gate_wait_started(gate_t *g) {
    pthread_mutex_lock(&g->lock);
    while (!g->started) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void *wait_at_gate(void *arg) {
    gate_t *g = arg;
    pthread_mutex_lock(&g->lock);
    g->started = 1;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    if (g->ran) atomic_fetch_add(g->ran, 1);
    return g;
}

Test(tpool, as_completed_follows_the_finishing_order) {
    enum { N = 4 };
    const int order[N] = {2, 0, 3, 1};
    tpool_t *p = new_pool(N);
    gate_t g[N];
    for (int i = 0; i < N; i++) {
        gate_init(&g[i], i, NULL);
        cr_assert_not_null(tpool_submit(p, wait_at_gate, &g[i]));
    }
    for (int k = 0; k < N; k++) {
        gate_open(&g[order[k]]);
        tpool_future_t *f = tpool_next_completed(p);
        cr_assert_not_null(f);
        gate_t *which = tpool_future_wait(f);
        cr_assert_eq(which->id, order[k], "completion %d was task %d, expected %d", k, which->id, order[k]);
        tpool_future_free(f);
    }
    cr_assert_null(tpool_next_completed(p), "nothing is left to complete");
    tpool_shutdown(p, 1);
}

Test(tpool, as_completed_hands_out_each_future_once) {
    enum { N = 5000 };
    tpool_t *p = new_pool(4);
    static int seen[N];
    for (intptr_t i = 0; i < N; i++) cr_assert_not_null(tpool_submit(p, square, (void *)i));
    tpool_future_t *f;
    int got = 0;
    while ((f = tpool_next_completed(p))) {
        intptr_t r = (intptr_t)tpool_future_wait(f), i = 0;
        while (i * i < r) i++;
        cr_assert_eq(i * i, r);
        seen[i]++;
        got++;
        tpool_future_free(f);
    }
    cr_assert_eq(got, N, "%d futures completed, %d submitted", got, N);
    for (int i = 0; i < N; i++) cr_assert_eq(seen[i], 1, "future %d handed out %d times", i, seen[i]);
    tpool_shutdown(p, 1);
}

static void *add_one(void *arg) {
    atomic_fetch_add((atomic_int *)arg, 1);
    return arg;
}

Test(tpool, shutdown_with_wait_runs_the_queue_and_futures_outlive_the_pool) {
    enum { N = 100 };
    atomic_int ran = 0;
    tpool_t *p = new_pool(1);
    tpool_future_t *f[N];
    for (int i = 0; i < N; i++) f[i] = tpool_submit(p, add_one, &ran);
    tpool_shutdown(p, 1);
    cr_assert_eq(atomic_load(&ran), N, "%d of %d calls ran", atomic_load(&ran), N);
    for (int i = 0; i < N; i++) {
        cr_assert(tpool_future_done(f[i]));
        cr_assert_eq(tpool_future_wait(f[i]), &ran, "a future still answers after the shutdown");
        tpool_future_free(f[i]);
    }
}

typedef struct canceller {
    tpool_future_t *watch;
    gate_t *gate;
} canceller_t;

/* Opens the gate once the shutdown has cancelled the queue, so the running task ends only then. */
static void *open_after_cancel(void *arg) {
    canceller_t *c = arg;
    while (!tpool_future_cancelled(c->watch)) sched_yield();
    gate_open(c->gate);
    return NULL;
}

Test(tpool, shutdown_without_wait_cancels_the_queue) {
    enum { N = 10 };
    atomic_int ran = 0;
    gate_t g;
    gate_init(&g, 0, &ran);
    tpool_t *p = new_pool(1);
    tpool_future_t *first = tpool_submit(p, wait_at_gate, &g), *f[N];
    for (int i = 0; i < N; i++) f[i] = tpool_submit(p, add_one, &ran);
    gate_wait_started(&g); /* the one thread is busy: the N calls stay queued */
    canceller_t c = {.watch = f[N - 1], .gate = &g};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, open_after_cancel, &c), 0);
    tpool_shutdown(p, 0);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&ran), 1, "only the running call ran, not %d", atomic_load(&ran));
    cr_assert_eq(tpool_future_wait(first), &g);
    cr_assert_not(tpool_future_cancelled(first));
    for (int i = 0; i < N; i++) {
        cr_assert(tpool_future_cancelled(f[i]), "queued call %d was not cancelled", i);
        cr_assert_null(tpool_future_wait(f[i]));
        tpool_future_free(f[i]);
    }
    tpool_future_free(first);
}

Test(tpool, a_future_freed_before_it_finishes_is_detached) {
    atomic_int ran = 0;
    gate_t g;
    gate_init(&g, 0, &ran);
    tpool_t *p = new_pool(1);
    tpool_future_free(tpool_submit(p, wait_at_gate, &g)); /* running or queued: detached */
    gate_wait_started(&g);
    tpool_future_free(tpool_submit(p, add_one, &ran)); /* queued behind it: detached */
    cr_assert_null(tpool_next_completed(p), "a detached future is not handed out");
    tpool_future_t *kept = tpool_submit(p, add_one, &ran);
    gate_open(&g);
    cr_assert_eq(tpool_next_completed(p), kept);
    tpool_future_free(kept);
    tpool_shutdown(p, 1);
    cr_assert_eq(atomic_load(&ran), 3, "every call ran: %d", atomic_load(&ran));
}

Test(tpool, a_finished_future_left_uncollected_is_freed_cleanly) {
    tpool_t *p = new_pool(2);
    tpool_future_t *f = tpool_submit(p, square, (void *)3);
    tpool_shutdown(p, 1); /* f finished; nobody collected it */
    tpool_future_free(f); /* the last reference: frees the pool too (ASan checks the leak) */
}
