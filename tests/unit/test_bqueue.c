/* The bounded blocking queue: FIFO order, capacity, NULL as an item, the bound held against a fast
 * producer, and many producers and consumers losing and duplicating nothing. Counts and orders only,
 * never durations. */
#include "base/bqueue.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define ITEM(i) ((void *)(uintptr_t)((i) + 1)) /* never NULL: NULL is the pill */
#define INDEX(p) ((size_t)(uintptr_t)(p) - 1)

Test(bqueue, fifo_order_and_capacity) {
    bqueue_t *q = bqueue_create(4);
    cr_assert_not_null(q);
    cr_assert_eq(bqueue_capacity(q), 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(bqueue_try_push(q, ITEM(i)), 0);
    cr_assert_eq(bqueue_try_push(q, ITEM(4)), -1, "a full queue refuses without waiting");
    cr_assert_eq(bqueue_len(q), 4);
    for (size_t i = 0; i < 4; i++) {
        void *p = bqueue_pop(q);
        cr_assert_eq(INDEX(p), i, "popped %zu, expected %zu", INDEX(p), i);
    }
    void *p;
    cr_assert_eq(bqueue_try_pop(q, &p), -1, "an empty queue refuses without waiting");
    bqueue_free(q);
}

Test(bqueue, ring_wraps_around) {
    bqueue_t *q = bqueue_create(3);
    size_t next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        bqueue_push(q, ITEM(next_in++));
        bqueue_push(q, ITEM(next_in++));
        for (int k = 0; k < 2; k++) {
            void *p = bqueue_pop(q);
            cr_assert_eq(INDEX(p), next_out, "popped %zu, expected %zu", INDEX(p), next_out);
            next_out++;
        }
    }
    cr_assert_eq(bqueue_len(q), 0);
    bqueue_free(q);
}

Test(bqueue, null_is_an_item) {
    bqueue_t *q = bqueue_create(2);
    bqueue_push(q, NULL);
    bqueue_push(q, ITEM(7));
    cr_assert_null(bqueue_pop(q));
    cr_assert_eq(INDEX(bqueue_pop(q)), 7);
    bqueue_free(q);
}

Test(bqueue, zero_capacity_is_refused) { cr_assert_null(bqueue_create(0)); }

typedef struct bounded {
    bqueue_t *q;
    size_t n;
    atomic_size_t pushed;
} bounded_t;

static void *fast_producer(void *arg) {
    bounded_t *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        bqueue_push(b->q, ITEM(i));
        atomic_fetch_add(&b->pushed, 1);
    }
    return NULL;
}

/* Back-pressure: however fast the producer, it is never more than the capacity ahead. */
Test(bqueue, a_producer_stays_within_capacity) {
    enum { CAP = 2, N = 5000 };
    bounded_t b = {.q = bqueue_create(CAP), .n = N};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fast_producer, &b), 0);
    for (size_t popped = 0; popped < N; popped++) {
        size_t ahead = atomic_load(&b.pushed);
        /* pushed counts a push after it returns, so at most popped + CAP pushes have returned. */
        cr_assert_leq(ahead, popped + CAP, "%zu pushed with %zu popped, capacity %d", ahead, popped, CAP);
        void *p = bqueue_pop(b.q);
        cr_assert_eq(INDEX(p), popped);
    }
    pthread_join(th, NULL);
    bqueue_free(b.q);
}

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 10000 };

typedef struct mpmc {
    bqueue_t *q;
    int base;
    atomic_int *seen; /* times each item was popped */
} mpmc_t;

static void *producer(void *arg) {
    mpmc_t *m = arg;
    for (int i = 0; i < PER_PRODUCER; i++) bqueue_push(m->q, ITEM(m->base + i));
    return NULL;
}

static void *consumer(void *arg) {
    mpmc_t *m = arg;
    void *p;
    while ((p = bqueue_pop(m->q))) atomic_fetch_add(&m->seen[INDEX(p)], 1);
    return NULL; /* the poison pill */
}

Test(bqueue, many_producers_and_consumers_lose_nothing) {
    bqueue_t *q = bqueue_create(8);
    atomic_int *seen = calloc(PRODUCERS * PER_PRODUCER, sizeof(*seen));
    mpmc_t p[PRODUCERS], c = {.q = q, .seen = seen};
    pthread_t pth[PRODUCERS], cth[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) cr_assert_eq(pthread_create(&cth[i], NULL, consumer, &c), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (mpmc_t){.q = q, .base = i * PER_PRODUCER};
        cr_assert_eq(pthread_create(&pth[i], NULL, producer, &p[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(pth[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) bqueue_push(q, NULL); /* one pill per consumer */
    for (int i = 0; i < CONSUMERS; i++) pthread_join(cth[i], NULL);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        cr_assert_eq(atomic_load(&seen[i]), 1, "item %d popped %d times", i, atomic_load(&seen[i]));
    cr_assert_eq(bqueue_len(q), 0);
    free(seen);
    bqueue_free(q);
}
