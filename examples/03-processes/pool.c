/* A process pool on CPU-bound work (guide section 3): fork P children, give each a slice of the
 * range, and collect their results over a pipe. A child is a copy of the parent (copy-on-write), so
 * it starts with the arguments already in its memory: nothing is pickled on the way in; only the
 * result, 8 bytes, travels back. Sibling: ../02-threads/cpu_threads.c (the same count with threads).
 *
 * usage: pool [N [P]]   (default 2000000 and 2 processes) */
#include "ex.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#define BLOCK 1000

static int is_prime(long v) {
    if (v < 2) return 0;
    for (long d = 2; d * d <= v; d++)
        if (v % d == 0) return 0;
    return 1;
}

/* Blocks i, i + p, i + 2p, ... of [0, n), as in cpu_threads.c. */
static long count(long n, int i, int p) {
    long primes = 0;
    for (long b = (long)i * BLOCK; b < n; b += (long)p * BLOCK)
        for (long v = b; v < b + BLOCK && v < n; v++)
            primes += is_prime(v);
    return primes;
}

int main(int argc, char **argv) {
    long n = ex_arg(argc, argv, 1, 2000000, 1, 1000000000, "[N [P]]");
    int p = (int)ex_arg(argc, argv, 2, 2, 1, 256, "[N [P]]");
    int fd[256][2];
    pid_t pids[256];
    double w0 = ex_now();

    /* guide:begin pool_fork */
    for (int i = 0; i < p; i++) {
        Pipe(fd[i]);
        pids[i] = Fork();
        if (pids[i] == 0) { /* the child: compute, write 8 bytes, leave */
            close(fd[i][0]);
            long r = count(n, i, p);
            Write_all(fd[i][1], &r, sizeof r);
            _exit(0);
        }
        close(fd[i][1]); /* the parent keeps only the read ends */
    }
    long primes = 0;
    for (int i = 0; i < p; i++) {
        long r;
        if (Read_all(fd[i][0], &r, sizeof r) != sizeof r || !Waitpid_ok(pids[i])) die("worker %d failed", i);
        close(fd[i][0]);
        primes += r;
    }
    /* guide:end pool_fork */

    double wall = ex_now() - w0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) die("getrusage failed");
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    printf("primes below %ld: %ld (%d processes, wall %.3f s, cpu %.3f s, cpu/wall %.2f)\n", n, primes, p,
           wall, cpu, cpu / wall);
    return 0;
}
