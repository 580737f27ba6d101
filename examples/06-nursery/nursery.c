/* A nursery (guide section 5.2, trio): children are started inside a block that cannot be left
 * until every child has finished, and when one child fails, the nursery cancels its siblings and
 * then re-raises the failure. Nothing outlives the block. Children here are threads; cancellation
 * is cooperative: a child's waits are "checkpoints" that return early once the nursery is cancelled.
 * The real thing, on coroutines: src/crawl/models/nursery.c.
 *
 * usage: nursery [FAIL_MS]   (default: child B fails after 100 ms; A and C would take 5 s) */
#include "ex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* guide:begin nursery */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cancel; /* broadcast when cancelled becomes 1 */
    int cancelled, failed;
} nursery_t;

static void nursery_init(nursery_t *n) {
    pthread_condattr_t a; /* the cond's clock must be the deadline's: CLOCK_MONOTONIC */
    if (pthread_condattr_init(&a) || pthread_condattr_setclock(&a, CLOCK_MONOTONIC) ||
        pthread_cond_init(&n->cancel, &a) || pthread_mutex_init(&n->mu, NULL))
        die("nursery_init failed");
    pthread_condattr_destroy(&a);
    n->cancelled = n->failed = 0;
}

/* A checkpoint: sleeps ms unless the nursery is cancelled first. 0 when slept, -1 when cancelled. */
static int nursery_sleep(nursery_t *n, long ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    if ((until.tv_nsec += (ms % 1000) * 1000000L) >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    Pthread_mutex_lock(&n->mu);
    while (!n->cancelled && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&n->cancel, &n->mu, &until);
    int cancelled = n->cancelled;
    Pthread_mutex_unlock(&n->mu);
    return cancelled ? -1 : 0;
}

/* A child failed: remember it and cancel every sibling. */
static void nursery_fail(nursery_t *n) {
    Pthread_mutex_lock(&n->mu);
    n->failed++;
    n->cancelled = 1;
    Pthread_cond_broadcast(&n->cancel);
    Pthread_mutex_unlock(&n->mu);
}
/* guide:end nursery */

typedef struct {
    nursery_t *n;
    char name;
    long fail_after_ms; /* 0: this child does not fail */
    double t0;
} child_t;

static void *child(void *arg) {
    child_t *c = arg;
    printf("%c: started\n", c->name);
    if (c->fail_after_ms) {
        nursery_sleep(c->n, c->fail_after_ms);
        printf("%c: failed after %.2f s\n", c->name, ex_now() - c->t0);
        nursery_fail(c->n);
    } else if (nursery_sleep(c->n, 5000) != 0) {
        printf("%c: cancelled after %.2f s\n", c->name, ex_now() - c->t0);
    } else {
        printf("%c: finished after %.2f s\n", c->name, ex_now() - c->t0);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long fail_ms = ex_arg(argc, argv, 1, 100, 1, 4000, "[FAIL_MS]");
    nursery_t n;
    nursery_init(&n);
    double t0 = ex_now();
    child_t kids[3] = {{&n, 'A', 0, t0}, {&n, 'B', fail_ms, t0}, {&n, 'C', 0, t0}};
    pthread_t tids[3];

    /* async with open_nursery() as nursery: nursery.start_soon(child, ...) x 3 */
    for (int i = 0; i < 3; i++)
        Pthread_create(&tids[i], child, &kids[i]);
    for (int i = 0; i < 3; i++) /* the end of the block: wait for every child */
        Pthread_join(tids[i], NULL);

    printf("nursery: block left after %.2f s, %d failed, 0 children still running\n", ex_now() - t0,
           n.failed);
    if (n.failed) printf("nursery: re-raises the failure of B\n");
    return 0;
}
