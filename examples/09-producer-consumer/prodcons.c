/* Producer-consumer with a bounded queue (guide section 6.1): a fast producer and a slow consumer
 * joined by a queue of CAP slots. When the queue is full, put() blocks: that is back-pressure, and
 * it is why the queue never holds more than CAP items however far ahead the producer would run.
 * The guide's queue.Queue() is unbounded; a crawler's frontier fed faster than it drains needs the
 * bound. End of stream: a sentinel (-1), the guide's None. The real thing: src/base/bqueue.c,
 * src/crawl/models/pipeline.c.
 *
 * usage: prodcons [N [CAP]]   (default 20 items, 4 slots; the consumer takes 5 ms an item) */
#include "ex.h"

#include <stdio.h>
#include <stdlib.h>

/* guide:begin bqueue */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    long *slot;
    int cap, head, count;
    int max_count, blocked; /* what the lesson prints: the highest fill, producer waits */
} bqueue_t;

static void put(bqueue_t *q, long item) {
    Pthread_mutex_lock(&q->mu);
    if (q->count == q->cap) q->blocked++;
    while (q->count == q->cap) /* full: the producer waits for the consumer (back-pressure) */
        Pthread_cond_wait(&q->not_full, &q->mu);
    q->slot[(q->head + q->count++) % q->cap] = item;
    if (q->count > q->max_count) q->max_count = q->count;
    Pthread_cond_signal(&q->not_empty);
    Pthread_mutex_unlock(&q->mu);
}

static long get(bqueue_t *q) {
    Pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        Pthread_cond_wait(&q->not_empty, &q->mu);
    long item = q->slot[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    Pthread_cond_signal(&q->not_full);
    Pthread_mutex_unlock(&q->mu);
    return item;
}
/* guide:end bqueue */

static long n_items;

static void *producer(void *arg) {
    for (long i = 0; i < n_items; i++)
        put(arg, i); /* as fast as it can */
    put(arg, -1);    /* the sentinel: no more items */
    return NULL;
}

static void *consumer(void *arg) {
    long expect = 0, item;
    while ((item = get(arg)) != -1) {
        if (item != expect++) die("item %ld arrived out of order", item);
        ex_sleep_ms(5); /* a slow consumer */
    }
    printf("consumer: %ld items, in order\n", expect);
    return NULL;
}

int main(int argc, char **argv) {
    n_items = ex_arg(argc, argv, 1, 20, 1, 1000000, "[N [CAP]]");
    int cap = (int)ex_arg(argc, argv, 2, 4, 1, 1000000, "[N [CAP]]");
    bqueue_t q = {.mu = PTHREAD_MUTEX_INITIALIZER,
                  .not_full = PTHREAD_COND_INITIALIZER,
                  .not_empty = PTHREAD_COND_INITIALIZER,
                  .slot = Malloc((size_t)cap * sizeof(long)),
                  .cap = cap};
    pthread_t p, c;
    Pthread_create(&p, producer, &q);
    Pthread_create(&c, consumer, &q);
    Pthread_join(p, NULL);
    Pthread_join(c, NULL);
    printf("queue: capacity %d, never held more than %d; the producer blocked %d times\n", cap, q.max_count,
           q.blocked);
    free(q.slot);
    return 0;
}
