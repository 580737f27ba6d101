/* The thread pool and its futures (see tpool.h). One mutex guards the whole pool: its queue, its
 * completion list and the state of every future, so a future needs no lock of its own, and
 * "wait for this future" and "wait for any future" are the same condition variable.
 *
 * A future moves QUEUED -> RUNNING -> DONE, or QUEUED -> CANCELLED at a shutdown that does not wait.
 * While queued it sits in p->queued; once finished, until collected, in p->completed (the
 * as_completed order). The pool's memory lives as long as its last future: p->refs counts the pool
 * itself until shutdown, plus every future not yet freed, so a future read after the shutdown still
 * finds the lock it needs. */
#include "base/tpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_QUEUED, F_RUNNING, F_DONE, F_CANCELLED } fstate_t;

struct tpool_future {
    tpool_t *pool;
    tpool_fn_t fn;
    void *arg, *result;
    fstate_t state;
    int collected; /* handed out by wait or next_completed */
    int detached;  /* freed by its owner before it finished: the pool frees it when it does */
    tpool_future_t *prev, *next; /* links in p->queued or p->completed */
};

typedef struct flist {
    tpool_future_t *head, *tail;
} flist_t;

struct tpool {
    pthread_mutex_t lock; /* guards everything below, and every future's state */
    pthread_cond_t work;  /* a call was queued, or the pool is stopping */
    pthread_cond_t done;  /* a future finished, or one fewer is coming */
    flist_t queued;       /* submitted, not started, FIFO */
    flist_t completed;    /* finished, not yet collected, in the order they finished */
    size_t coming;        /* futures queued or running that will land in completed */
    size_t refs;          /* the pool until shutdown + futures not yet freed */
    int stopping;
    unsigned nthreads;
    pthread_t threads[];
};

static void flist_push(flist_t *l, tpool_future_t *f) {
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail) l->tail->next = f;
    else l->head = f;
    l->tail = f;
}

static void flist_unlink(flist_t *l, tpool_future_t *f) {
    if (f->prev) f->prev->next = f->next;
    else l->head = f->next;
    if (f->next) f->next->prev = f->prev;
    else l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void pool_destroy(tpool_t *p) {
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

/* Drops one reference; the caller holds the lock, and must destroy the pool (after unlocking) when
 * this returns 1. */
static int unref(tpool_t *p) { return --p->refs == 0; }

/* Delivers a future that just finished or was cancelled: to the completion list, or to the bin if
 * its owner no longer wants it. Lock held. */
static void finish(tpool_t *p, tpool_future_t *f, fstate_t state) {
    f->state = state;
    if (f->detached) {
        free(f);
        unref(p); /* never the last: the pool's own reference outlives its threads */
    } else {
        flist_push(&p->completed, f);
        p->coming--;
    }
    pthread_cond_broadcast(&p->done); /* waiters on one future and on any future alike */
}

static void *worker(void *arg) {
    tpool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* Invariant while waiting: nothing is queued and the pool is not stopping. */
        while (!p->queued.head && !p->stopping) pthread_cond_wait(&p->work, &p->lock);
        tpool_future_t *f = p->queued.head;
        if (!f) break; /* stopping, and the queue is drained (or was cancelled) */
        flist_unlink(&p->queued, f);
        f->state = F_RUNNING;
        pthread_mutex_unlock(&p->lock);

        void *result = f->fn(f->arg); /* the work itself: no lock held */

        pthread_mutex_lock(&p->lock);
        f->result = result;
        finish(p, f, F_DONE);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

tpool_t *tpool_create(unsigned nthreads, char *err, size_t errlen) {
    if (nthreads == 0) {
        snprintf(err, errlen, "a pool needs at least one thread");
        return NULL;
    }
    tpool_t *p = calloc(1, sizeof(*p) + nthreads * sizeof(pthread_t));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->refs = 1;
    for (; p->nthreads < nthreads; p->nthreads++) {
        int rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
        if (rc != 0) {
            snprintf(err, errlen, "could start only %u of %u threads: %s", p->nthreads, nthreads, strerror(rc));
            tpool_shutdown(p, 0);
            return NULL;
        }
    }
    return p;
}

tpool_future_t *tpool_submit(tpool_t *p, tpool_fn_t fn, void *arg) {
    tpool_future_t *f = malloc(sizeof(*f));
    if (!f) return NULL;
    *f = (tpool_future_t){.pool = p, .fn = fn, .arg = arg, .state = F_QUEUED};
    pthread_mutex_lock(&p->lock);
    if (p->stopping) { /* its threads may be gone: the call would never run */
        pthread_mutex_unlock(&p->lock);
        free(f);
        return NULL;
    }
    flist_push(&p->queued, f);
    p->coming++;
    p->refs++;
    pthread_cond_signal(&p->work); /* one call: one idle thread is enough */
    pthread_mutex_unlock(&p->lock);
    return f;
}

/* Marks f as handed out; if it was waiting in the completion list, it leaves it. Lock held. */
static void collect(tpool_t *p, tpool_future_t *f) {
    if (f->collected) return;
    flist_unlink(&p->completed, f);
    f->collected = 1;
}

void *tpool_future_wait(tpool_future_t *f) {
    tpool_t *p = f->pool;
    pthread_mutex_lock(&p->lock);
    /* Invariant while waiting: f is queued or running; its thread broadcasts done when it ends. */
    while (f->state == F_QUEUED || f->state == F_RUNNING) pthread_cond_wait(&p->done, &p->lock);
    collect(p, f);
    void *result = f->result;
    pthread_mutex_unlock(&p->lock);
    return result;
}

int tpool_future_done(tpool_future_t *f) {
    pthread_mutex_lock(&f->pool->lock);
    int done = f->state == F_DONE || f->state == F_CANCELLED;
    pthread_mutex_unlock(&f->pool->lock);
    return done;
}

int tpool_future_cancelled(tpool_future_t *f) {
    pthread_mutex_lock(&f->pool->lock);
    int cancelled = f->state == F_CANCELLED;
    pthread_mutex_unlock(&f->pool->lock);
    return cancelled;
}

tpool_future_t *tpool_next_completed(tpool_t *p) {
    pthread_mutex_lock(&p->lock);
    /* Invariant while waiting: nothing finished is uncollected, but something is still coming. */
    while (!p->completed.head && p->coming > 0) pthread_cond_wait(&p->done, &p->lock);
    tpool_future_t *f = p->completed.head;
    if (f) collect(p, f);
    pthread_mutex_unlock(&p->lock);
    return f;
}

void tpool_future_free(tpool_future_t *f) {
    if (!f) return;
    tpool_t *p = f->pool;
    int last = 0;
    pthread_mutex_lock(&p->lock);
    if (f->state == F_QUEUED || f->state == F_RUNNING) {
        f->detached = 1; /* the thread that finishes it frees it */
        p->coming--;
        pthread_cond_broadcast(&p->done); /* next_completed may now have nothing left to wait for */
    } else {
        collect(p, f);
        free(f);
        last = unref(p);
    }
    pthread_mutex_unlock(&p->lock);
    if (last) pool_destroy(p);
}

void tpool_shutdown(tpool_t *p, int wait) {
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    tpool_future_t *f;
    while (!wait && (f = p->queued.head)) {
        flist_unlink(&p->queued, f);
        finish(p, f, F_CANCELLED);
    }
    pthread_cond_broadcast(&p->work); /* idle threads: the queue is final now */
    pthread_mutex_unlock(&p->lock);

    for (unsigned i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);

    pthread_mutex_lock(&p->lock);
    int last = unref(p);
    pthread_mutex_unlock(&p->lock);
    if (last) pool_destroy(p);
}
