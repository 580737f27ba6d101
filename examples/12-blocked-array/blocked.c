/* A blocked parallel array computation (guide section 7.2, dask's (x + x.T).mean() on a
 * 10,000 x 10,000 array in 1,000 x 1,000 chunks). The matrix is cut into B x B blocks; block (I, J)
 * of x + x.T needs block (I, J) of x and block (J, I) transposed, and each block's sum is a task.
 * T threads take tasks from a shared counter; the partial sums are added in block order, so the
 * result is bit-for-bit the same for every T. Like dask's random arrays, each block of x is
 * generated from its own seed, so generation is parallel too. It prints both runs and the speedup.
 *
 * usage: blocked [N [CHUNK [T]]]   (default 10000, 1000, 2 threads; N a multiple of CHUNK) */
#include "ex.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    double *x;
    long n, chunk, nb; /* nb = n / chunk blocks a side */
    double *partial;   /* one sum a block, in block order */
    atomic_long next;  /* the next block (task) to take */
    int phase;         /* 0: generate x, 1: sum x + x.T */
} job_t;

static void generate(job_t *j, long bi, long bj) {
    uint64_t seed = (uint64_t)(bi * j->nb + bj) * 7919u + 1; /* a block's own stream */
    for (long i = bi * j->chunk; i < (bi + 1) * j->chunk; i++)
        for (long k = bj * j->chunk; k < (bj + 1) * j->chunk; k++)
            j->x[i * j->n + k] = ex_rand01(&seed);
}

/* guide:begin blocked_sum */
/* Sum of block (bi, bj) of x + x.T: x[i][k] + x[k][i], the second read down a column. */
static double block_sum(const job_t *j, long bi, long bj) {
    double s = 0;
    for (long i = bi * j->chunk; i < (bi + 1) * j->chunk; i++)
        for (long k = bj * j->chunk; k < (bj + 1) * j->chunk; k++)
            s += j->x[i * j->n + k] + j->x[k * j->n + i];
    return s;
}

static void *worker(void *arg) {
    job_t *j = arg;
    for (long b; (b = atomic_fetch_add(&j->next, 1)) < j->nb * j->nb;) {
        if (j->phase == 0)
            generate(j, b / j->nb, b % j->nb);
        else
            j->partial[b] = block_sum(j, b / j->nb, b % j->nb);
    }
    return NULL;
}
/* guide:end blocked_sum */

static void run_phase(job_t *j, int phase, int t) {
    pthread_t tids[64];
    j->phase = phase;
    atomic_store(&j->next, 0);
    for (int i = 0; i < t; i++)
        Pthread_create(&tids[i], worker, j);
    for (int i = 0; i < t; i++)
        Pthread_join(tids[i], NULL);
}

/* Generates x with t threads, then returns (x + x.T).mean() computed with t threads. */
static double mean_of(job_t *j, int t, double *secs) {
    run_phase(j, 0, t);
    double t0 = ex_now();
    run_phase(j, 1, t);
    double s = 0;
    for (long b = 0; b < j->nb * j->nb; b++) /* in block order: the same sum for every t */
        s += j->partial[b];
    *secs = ex_now() - t0;
    return s / ((double)j->n * (double)j->n);
}

int main(int argc, char **argv) {
    const char *usage = "[N [CHUNK [T]]]";
    long n = ex_arg(argc, argv, 1, 10000, 1, 20000, usage); /* 20000: 3.2 GB */
    long chunk = ex_arg(argc, argv, 2, 1000, 1, n, usage);
    int t = (int)ex_arg(argc, argv, 3, 2, 1, 64, usage);
    if (n % chunk) die("N (%ld) must be a multiple of CHUNK (%ld)", n, chunk);
    job_t j = {.x = Malloc((size_t)n * (size_t)n * sizeof(double)), .n = n, .chunk = chunk, .nb = n / chunk};
    j.partial = Malloc((size_t)(j.nb * j.nb) * sizeof(double));

    double s1, st;
    double m1 = mean_of(&j, 1, &s1);
    double mt = mean_of(&j, t, &st);
    printf("(x + x.T).mean() of %ldx%ld in %ldx%ld chunks: %.12f with 1 thread (%.3f s), "
           "%.12f with %d threads (%.3f s), speedup %.2f\n",
           n, n, chunk, chunk, m1, s1, mt, t, st, s1 / st);
    free(j.x);
    free(j.partial);
    return m1 != mt; /* the same blocks, added in the same order: equal to the last bit */
}
