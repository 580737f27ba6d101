/* A bounded blocking queue of pointers: Python's queue.Queue(maxsize) in C, the channel between the
 * stages of a producer-consumer pipeline (the guide, section 6.1). push blocks while the queue is
 * full, which is the back-pressure: a fast stage waits for a slow one instead of piling up work.
 * pop blocks while it is empty.
 *
 * Items are opaque pointers and ownership passes with them: what a thread pushes is no longer its
 * own. NULL is a valid item, the conventional poison pill (the guide's `None`). Safe for any number
 * of producers and consumers. bqueue_create returns NULL when memory runs out. */
#ifndef CRAWLBENCH_BQUEUE_H
#define CRAWLBENCH_BQUEUE_H

#include <stddef.h>

typedef struct bqueue bqueue_t;

bqueue_t *bqueue_create(size_t capacity); /* capacity >= 1 */
void bqueue_free(bqueue_t *q);            /* the queue must be empty of items that own memory */

void bqueue_push(bqueue_t *q, void *item); /* waits for room */
void *bqueue_pop(bqueue_t *q);             /* waits for an item */
/* Without waiting: 0 when done, -1 when the queue is full (push) or empty (pop). */
int bqueue_try_push(bqueue_t *q, void *item);
int bqueue_try_pop(bqueue_t *q, void **item);

size_t bqueue_len(bqueue_t *q);            /* a snapshot, stale as soon as it returns */
size_t bqueue_capacity(const bqueue_t *q);

#endif
