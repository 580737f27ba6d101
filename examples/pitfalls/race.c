/* Pitfall: a race on a shared counter (guide section 9, "race conditions"). T threads each add 1 to
 * one counter N times. `counter++` is a load, an add and a store; two threads that load the same
 * value both store value + 1, and one update is lost. The program prints how many were lost (a
 * number that changes from run to run, and may even be 0); ThreadSanitizer reports the race every
 * time (build/examples-tsan/pitfalls/race). Fixed: race_fixed.c.
 *
 * usage: race [N [T]]   (default 10000000 increments, 2 threads) */
#include "ex.h"

#include <stdio.h>

static volatile long counter; /* volatile: one load and one store per ++, as written */
static long n;

/* guide:begin race */
static void *add(void *arg) {
    for (long i = 0; i < n; i++)
        counter++; /* load, add, store: another thread may store in between */
    return NULL;
}
/* guide:end race */

int main(int argc, char **argv) {
    n = ex_arg(argc, argv, 1, 10000000, 1, 1000000000, "[N [T]]");
    int t = (int)ex_arg(argc, argv, 2, 2, 1, 64, "[N [T]]");
    pthread_t tids[64];
    for (int i = 0; i < t; i++)
        Pthread_create(&tids[i], add, NULL);
    for (int i = 0; i < t; i++)
        Pthread_join(tids[i], NULL);
    printf("counter: %ld, should be %ld (%ld updates lost)\n", counter, n * t, n * t - counter);
    return 0;
}
