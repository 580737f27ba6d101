/* The bounded blocking queue (see bqueue.h): a ring of pointers under one mutex, with one condition
 * variable per direction so that a push wakes only consumers and a pop wakes only producers. */
#include "base/bqueue.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct bqueue {
    pthread_mutex_t lock;     /* guards everything below */
    pthread_cond_t not_empty; /* signalled by push: len went above 0 */
    pthread_cond_t not_full;  /* signalled by pop: len went below cap */
    size_t head, len, cap;    /* items live in ring[head .. head + len) mod cap */
    void *ring[];
};

bqueue_t *bqueue_create(size_t capacity) {
    if (capacity == 0 || capacity > (SIZE_MAX - sizeof(bqueue_t)) / sizeof(void *)) return NULL;
    bqueue_t *q = calloc(1, sizeof(*q) + capacity * sizeof(void *));
    if (!q) return NULL;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->cap = capacity;
    return q;
}

void bqueue_free(bqueue_t *q) {
    if (!q) return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q);
}

/* Both of these run with the lock held and their precondition checked. */
static void put(bqueue_t *q, void *item) {
    q->ring[(q->head + q->len++) % q->cap] = item;
    pthread_cond_signal(&q->not_empty); /* one item: one consumer can take it */
}

static void *take(bqueue_t *q) {
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full); /* one slot: one producer can fill it */
    return item;
}

void bqueue_push(bqueue_t *q, void *item) {
    pthread_mutex_lock(&q->lock);
    /* Invariant while waiting: the ring is full; only a pop makes room, and it signals not_full. */
    while (q->len == q->cap) pthread_cond_wait(&q->not_full, &q->lock);
    put(q, item);
    pthread_mutex_unlock(&q->lock);
}

void *bqueue_pop(bqueue_t *q) {
    pthread_mutex_lock(&q->lock);
    /* Invariant while waiting: the ring is empty; only a push fills it, and it signals not_empty. */
    while (q->len == 0) pthread_cond_wait(&q->not_empty, &q->lock);
    void *item = take(q);
    pthread_mutex_unlock(&q->lock);
    return item;
}

int bqueue_try_push(bqueue_t *q, void *item) {
    pthread_mutex_lock(&q->lock);
    int full = q->len == q->cap;
    if (!full) put(q, item);
    pthread_mutex_unlock(&q->lock);
    return full ? -1 : 0;
}

int bqueue_try_pop(bqueue_t *q, void **item) {
    pthread_mutex_lock(&q->lock);
    int empty = q->len == 0;
    if (!empty) *item = take(q);
    pthread_mutex_unlock(&q->lock);
    return empty ? -1 : 0;
}

size_t bqueue_len(bqueue_t *q) {
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t bqueue_capacity(const bqueue_t *q) { return q->cap; }
