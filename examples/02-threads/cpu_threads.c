/* CPU-bound threads: in C, unlike CPython, threads run on every core at once (there is no GIL).
 * It counts the primes below N by trial division, the range split between T threads, and prints
 * the wall time next to the CPU time: on an idle machine with two cores, CPU time is about twice
 * the wall time. The count is the same for every T; that is what the test checks, since a shared,
 * loaded machine may not give us two cores. Sibling: ../03-processes/pool.c (the same with fork).
 *
 * usage: cpu_threads [N [T]]   (default 2000000 and 2 threads) */
#include "ex.h"

#include <stdio.h>

#define BLOCK 1000

typedef struct {
    long n;      /* count below n */
    int i, t;    /* this thread takes blocks i, i + t, i + 2t, ... */
    long primes; /* this thread's own result: no sharing, no lock */
} part_t;

static int is_prime(long v) {
    if (v < 2) return 0;
    for (long d = 2; d * d <= v; d++)
        if (v % d == 0) return 0;
    return 1;
}

static void *count(void *arg) {
    part_t *p = arg;
    for (long b = (long)p->i * BLOCK; b < p->n; b += (long)p->t * BLOCK)
        for (long v = b; v < b + BLOCK && v < p->n; v++)
            p->primes += is_prime(v);
    return NULL;
}

int main(int argc, char **argv) {
    const char *usage = "[N [T]]";
    long n = ex_arg(argc, argv, 1, 2000000, 1, 1000000000, usage);
    int t = (int)ex_arg(argc, argv, 2, 2, 1, 256, usage);
    pthread_t tids[256];
    part_t parts[256] = {{0}};

    double w0 = ex_now(), c0 = ex_cpu();
    /* Interleaved blocks, so that each thread gets large and small numbers alike: trial division
     * costs more the larger the number. */
    for (int i = 0; i < t; i++) {
        parts[i] = (part_t){.n = n, .i = i, .t = t};
        Pthread_create(&tids[i], count, &parts[i]);
    }
    long primes = 0;
    for (int i = 0; i < t; i++) {
        Pthread_join(tids[i], NULL);
        primes += parts[i].primes;
    }
    double wall = ex_now() - w0, cpu = ex_cpu() - c0;
    printf("primes below %ld: %ld (%d threads, wall %.3f s, cpu %.3f s, cpu/wall %.2f)\n", n, primes, t, wall,
           cpu, cpu / wall);
    return 0;
}
