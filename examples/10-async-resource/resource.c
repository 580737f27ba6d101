/* A resource held across suspension points (guide section 6.2: `async with` and async generators).
 * Two coroutines share one thread and switch at every co_yield(), the C spelling of `await`. Each
 * holds a resource while it is suspended, and releases it on every way out: with_resource() is
 * __aenter__/__aexit__ (the body's failure still releases), and the generator's close is aclose():
 * when its consumer stops after K items, the generator is resumed once more to release its cursor.
 *
 * usage: resource [K]   (default: the consumer stops after 3 items of the generator's 10) */
#include "ex.h"
#include "excoro.h"

#include <stdio.h>

static int open_resources;

static void acquire(const char *who, const char *what) {
    printf("%s: acquiring %s\n", who, what);
    co_yield (); /* acquiring takes a round trip: others run meanwhile */
    open_resources++;
}

static void release(const char *who, const char *what) {
    printf("%s: releasing %s\n", who, what);
    co_yield ();
    open_resources--;
}

/* guide:begin with_resource */
/* async with Resource() as r: body(r)  -- the release runs whatever the body returns. */
static int with_resource(const char *who, const char *what, int (*body)(const char *)) {
    acquire(who, what);
    int rc = body(who);
    release(who, what);
    return rc;
}
/* guide:end with_resource */

static int use_connection(const char *who) {
    for (int step = 1; step <= 3; step++) {
        printf("%s: using the connection, step %d\n", who, step);
        co_yield ();
    }
    printf("%s: the body fails\n", who);
    return -1;
}

static void user(void *arg) {
    int rc = with_resource("user", "connection", use_connection);
    printf("user: with_resource returned %d, the connection was released anyway\n", rc);
}

typedef struct {
    int item, ready, closed, finished, consumer;
} gen_t;

/* guide:begin async_generator */
static void generator(void *arg) {
    gen_t *g = arg;
    acquire("generator", "cursor");
    for (int i = 0; i < 10 && !g->closed; i++) {
        g->item = i, g->ready = 1; /* yield i */
        co_wake(g->consumer);
        while (g->ready && !g->closed)
            co_block(); /* suspended, cursor held, until the next item is wanted */
    }
    release("generator", "cursor"); /* reached by exhaustion and by aclose() alike */
    g->finished = 1;
    co_wake(g->consumer);
}
/* guide:end async_generator */

static long stop_after;

static void consumer(void *arg) {
    gen_t *g = arg;
    g->consumer = co_self();
    int gen = co_spawn(generator, g);
    for (long taken = 0; taken < stop_after; taken++) { /* async for item in generator(): */
        while (!g->ready)
            co_block();
        printf("consumer: got item %d\n", g->item);
        g->ready = 0;
        co_wake(gen);
    }
    printf("consumer: stops early (break), closing the generator\n");
    g->closed = 1; /* aclose(): resume it so it can clean up, and wait until it has */
    co_wake(gen);
    while (!g->finished)
        co_block();
}

int main(int argc, char **argv) {
    stop_after = ex_arg(argc, argv, 1, 3, 0, 10, "[K]");
    gen_t g = {0};
    co_spawn(user, NULL);
    co_spawn(consumer, &g);
    co_run(NULL);
    printf("resources still open: %d\n", open_resources);
    return open_resources != 0;
}
