/* Threads: the same N fetches as ../01-sequential/sequential.c, one thread each (guide section 2).
 * A thread blocked in recv() costs nothing while it waits, so N requests wait at the same time and
 * the whole batch takes about one request's latency instead of N. Each thread owns its libcurl
 * handle and its slot of the results array: nothing is shared, so nothing needs a lock.
 * Sibling: cpu_threads.c (CPU-bound work, where C threads also help: there is no GIL).
 *
 * usage: threads [URL [N]]   (default http://127.0.0.1:5000/ and 10 threads, one page each) */
#include "ex.h"
#include "exhttp.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *base;
    char id[EX_ID_MAX];
    long links; /* written by its thread, read by main after the join */
} job_t;

/* guide:begin threads_worker */
static void *worker(void *arg) {
    job_t *j = arg;
    char path[128];
    ex_http_t *h = ex_http_new(); /* one handle per thread: libcurl handles are not shared */
    snprintf(path, sizeof path, "api/%s", j->id);
    j->links = ex_links(ex_http_get(h, j->base, path), NULL, 0);
    ex_http_free(h);
    return NULL;
}
/* guide:end threads_worker */

int main(int argc, char **argv) {
    const char *base = ex_arg_str(argc, argv, 1, "http://127.0.0.1:5000/");
    int n = (int)ex_arg(argc, argv, 2, 10, 1, 1000, "[URL [N]]");
    char path[128];

    ex_http_init(); /* before any thread starts */
    ex_http_t *h = ex_http_new();
    snprintf(path, sizeof path, "graph/sample?n=%d", n);
    const char *sample = ex_http_get(h, base, path);
    job_t *jobs = Malloc((size_t)n * sizeof *jobs);
    pthread_t *tids = Malloc((size_t)n * sizeof *tids);
    for (int i = 0; i < n; i++) {
        jobs[i].base = base;
        ex_page_id(sample, i, jobs[i].id);
    }

    double t0 = ex_now();
    /* guide:begin threads_start_join */
    for (int i = 0; i < n; i++)
        Pthread_create(&tids[i], worker, &jobs[i]);
    long links = 0;
    for (int i = 0; i < n; i++) {
        Pthread_join(tids[i], NULL); /* after the join, jobs[i] is ours to read */
        links += jobs[i].links;
    }
    /* guide:end threads_start_join */
    double dt = ex_now() - t0;

    printf("threads: %d pages, %ld links in %.3f s with %d threads\n", n, links, dt, n);
    free(jobs);
    free(tids);
    ex_http_free(h);
    return 0;
}
