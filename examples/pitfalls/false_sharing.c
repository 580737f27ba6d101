/* Pitfall: false sharing. T threads each increment their own counter: no data is shared, no lock
 * is needed. But when the counters sit side by side they share one 64-byte cache line, and every
 * write by one core invalidates that line in the others' caches: the line bounces between cores.
 * Padding each counter to its own line removes the bouncing. It runs both layouts and prints the
 * times; the slowdown needs the threads on different cores at the same time (an idle machine).
 *
 * usage: false_sharing [N [T]]   (default 50000000 increments a thread, 2 threads) */
#include "ex.h"

#include <stdatomic.h>
#include <stdio.h>

/* guide:begin false_sharing */
typedef struct {
    atomic_long v;
} packed_t; /* 8 bytes: 8 to a line */
typedef struct {
    _Alignas(64) atomic_long v;
} padded_t; /* one cache line each */
/* guide:end false_sharing */

static packed_t packed[64];
static padded_t padded[64];
static long n;

static void *bump(void *arg) {
    atomic_long *c = arg;
    for (long i = 0; i < n; i++) /* a relaxed atomic: a real store to memory every time */
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    return NULL;
}

static double run(int t, int pad) {
    pthread_t tids[64];
    double t0 = ex_now();
    for (int i = 0; i < t; i++)
        Pthread_create(&tids[i], bump, pad ? &padded[i].v : &packed[i].v);
    for (int i = 0; i < t; i++)
        Pthread_join(tids[i], NULL);
    return ex_now() - t0;
}

int main(int argc, char **argv) {
    n = ex_arg(argc, argv, 1, 50000000, 1, 10000000000L, "[N [T]]");
    int t = (int)ex_arg(argc, argv, 2, 2, 1, 64, "[N [T]]");
    double same_line = run(t, 0), own_line = run(t, 1);
    long total = 0;
    for (int i = 0; i < t; i++)
        total += atomic_load(&packed[i].v) + atomic_load(&padded[i].v);
    printf("%d threads x %ld increments: one cache line %.3f s, padded %.3f s, slowdown %.2fx "
           "(counts %s)\n",
           t, n, same_line, own_line, same_line / own_line, total == 2 * n * t ? "correct" : "WRONG");
    return total != 2 * n * t;
}
