/* Futures and as_completed (guide section 5.1): a pool of worker threads runs submitted tasks, each
 * submission returns a future, and the caller takes results in the order they complete, not the
 * order they were submitted. The pool's completed queue is what as_completed() reads. Here task i
 * "does I/O" for (N - i) * 150 ms, so they finish in reverse order. The real thing:
 * src/base/tpool.c and src/crawl/models/pool.c.
 *
 * usage: futures [N [WORKERS]]   (default 4 tasks, 4 workers) */
#include "ex.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct future {
    int task, done;
    long ms, result;
    struct future *next_todo, *next_done;
} future_t;

/* guide:begin futures_pool */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t work, completed; /* "a task is waiting"; "a future completed" */
    future_t *todo, *done_head, **done_tail;
    int shutdown;
} pool_t;

static void *pool_worker(void *arg) {
    pool_t *p = arg;
    Pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->todo && !p->shutdown)
            Pthread_cond_wait(&p->work, &p->mu);
        if (!p->todo) break;
        future_t *f = p->todo;
        p->todo = f->next_todo;
        Pthread_mutex_unlock(&p->mu); /* run the task outside the lock */
        ex_sleep_ms(f->ms);           /* the "I/O" */
        long r = f->task * 10;
        Pthread_mutex_lock(&p->mu);
        f->result = r;
        f->done = 1;
        *p->done_tail = f; /* the as_completed queue */
        p->done_tail = &f->next_done;
        Pthread_cond_signal(&p->completed);
    }
    Pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* as_completed: the next future to complete, waiting for one if none has yet. */
static future_t *as_completed(pool_t *p) {
    Pthread_mutex_lock(&p->mu);
    while (!p->done_head)
        Pthread_cond_wait(&p->completed, &p->mu);
    future_t *f = p->done_head;
    if (!(p->done_head = f->next_done)) p->done_tail = &p->done_head;
    Pthread_mutex_unlock(&p->mu);
    return f;
}
/* guide:end futures_pool */

int main(int argc, char **argv) {
    int n = (int)ex_arg(argc, argv, 1, 4, 1, 64, "[N [WORKERS]]");
    int w = (int)ex_arg(argc, argv, 2, 4, 1, 64, "[N [WORKERS]]");
    pool_t p = {.mu = PTHREAD_MUTEX_INITIALIZER,
                .work = PTHREAD_COND_INITIALIZER,
                .completed = PTHREAD_COND_INITIALIZER};
    p.done_tail = &p.done_head;
    future_t *fs = Malloc((size_t)n * sizeof *fs);
    pthread_t tids[64];

    /* submit(): tasks queued in order 0, 1, 2, ... */
    future_t **tail = &p.todo;
    for (int i = 0; i < n; i++) {
        fs[i] = (future_t){.task = i, .ms = (n - i) * 150L};
        *tail = &fs[i];
        tail = &fs[i].next_todo;
    }
    double t0 = ex_now();
    for (int i = 0; i < w; i++)
        Pthread_create(&tids[i], pool_worker, &p);
    for (int k = 0; k < n; k++) {
        future_t *f = as_completed(&p);
        printf("completed: task %d (result %ld) after %.2f s\n", f->task, f->result, ex_now() - t0);
    }
    Pthread_mutex_lock(&p.mu); /* shutdown(wait=True) */
    p.shutdown = 1;
    Pthread_cond_broadcast(&p.work);
    Pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < w; i++)
        Pthread_join(tids[i], NULL);
    free(fs);
    return 0;
}
