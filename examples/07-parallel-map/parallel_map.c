/* A parallel map (guide section 5.3, joblib's Parallel(n_jobs)(delayed(f)(x) for x in xs)):
 * out[i] = f(in[i]) for every i, on J threads that take chunks of indices from a shared atomic
 * counter, so a slow chunk does not hold the others up. The output is the same for every J; only
 * the time changes. Sibling: ../02-threads/cpu_threads.c (a fixed split instead of a shared counter).
 *
 * usage: parallel_map [N [J]]   (default 2000000 inputs, 2 jobs) */
#include "ex.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef long map_fn(long);

/* guide:begin parallel_map */
typedef struct {
    map_fn *f;
    const long *in;
    long *out;
    long n;
    atomic_long next; /* the next chunk to take: the only shared, written state */
} map_job_t;

enum { CHUNK = 256 };

static void *map_worker(void *arg) {
    map_job_t *j = arg;
    for (;;) {
        long lo = atomic_fetch_add(&j->next, CHUNK);
        if (lo >= j->n) return NULL;
        for (long i = lo; i < lo + CHUNK && i < j->n; i++)
            j->out[i] = j->f(j->in[i]); /* each i written by exactly one thread */
    }
}

static void parallel_map(map_fn *f, const long *in, long *out, long n, int n_jobs) {
    map_job_t j = {.f = f, .in = in, .out = out, .n = n};
    atomic_init(&j.next, 0);
    pthread_t tids[64];
    for (int t = 0; t < n_jobs; t++)
        Pthread_create(&tids[t], map_worker, &j);
    for (int t = 0; t < n_jobs; t++)
        Pthread_join(tids[t], NULL);
}
/* guide:end parallel_map */

static long square(long x) { return x * x; }

static long collatz_steps(long x) { /* uneven work: some inputs take far longer than others */
    long s = 0;
    for (unsigned long v = (unsigned long)x + 1; v != 1; s++)
        v = v % 2 ? 3 * v + 1 : v / 2;
    return s;
}

static long sum_of(const long *a, long n) {
    long s = 0;
    for (long i = 0; i < n; i++)
        s += a[i];
    return s;
}

int main(int argc, char **argv) {
    long n = ex_arg(argc, argv, 1, 2000000, 10, 100000000, "[N [J]]");
    int jobs = (int)ex_arg(argc, argv, 2, 2, 1, 64, "[N [J]]");
    long *in = Malloc((size_t)n * sizeof *in), *out = Malloc((size_t)n * sizeof *out);
    for (long i = 0; i < n; i++)
        in[i] = i, out[i] = -1; /* touch every page now, not inside the first timing */

    parallel_map(square, in, out, 10, jobs);
    printf("squares:");
    for (int i = 0; i < 10; i++)
        printf(" %ld", out[i]);
    printf("\n");

    double t = ex_now();
    parallel_map(collatz_steps, in, out, n, 1);
    double one = ex_now() - t;
    long s1 = sum_of(out, n);
    t = ex_now();
    parallel_map(collatz_steps, in, out, n, jobs);
    double many = ex_now() - t;
    printf("collatz steps of 1..%ld: %ld with 1 job (%.3f s), %ld with %d jobs (%.3f s), "
           "speedup %.2f\n",
           n, s1, one, sum_of(out, n), jobs, many, one / many);
    free(in);
    free(out);
    return 0;
}
