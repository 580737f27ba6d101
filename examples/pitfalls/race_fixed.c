/* The race of race.c, fixed with a mutex around the update: the load-add-store is now one step
 * that no other thread can interleave with. (An atomic_fetch_add would do for a counter; the mutex
 * is the general answer, for any update of several fields.) ThreadSanitizer reports nothing.
 *
 * usage: race_fixed [N [T]]   (default 10000000 increments, 2 threads) */
#include "ex.h"

#include <stdio.h>

static long counter; /* guarded by mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n;

/* guide:begin race_fixed */
static void *add(void *arg) {
    for (long i = 0; i < n; i++) {
        Pthread_mutex_lock(&mu);
        counter++;
        Pthread_mutex_unlock(&mu);
    }
    return NULL;
}
/* guide:end race_fixed */

int main(int argc, char **argv) {
    n = ex_arg(argc, argv, 1, 10000000, 1, 1000000000, "[N [T]]");
    int t = (int)ex_arg(argc, argv, 2, 2, 1, 64, "[N [T]]");
    pthread_t tids[64];
    for (int i = 0; i < t; i++)
        Pthread_create(&tids[i], add, NULL);
    for (int i = 0; i < t; i++)
        Pthread_join(tids[i], NULL);
    printf("counter: %ld, should be %ld (%ld updates lost)\n", counter, n * t, n * t - counter);
    return counter != n * t;
}
