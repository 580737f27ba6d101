/* Sequential: one step after another, each waiting for the last (guide section 1). It fetches N
 * pages of the demo server one at a time, so the time is N times one request's latency: the
 * baseline every other example is measured against. Sibling: ../02-threads/threads.c does the same
 * fetches at once.
 *
 * usage: sequential [URL [N]]   (default http://127.0.0.1:5000/ and 10 pages) */
#include "ex.h"
#include "exhttp.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *usage = "[URL [N]]";
    const char *base = ex_arg_str(argc, argv, 1, "http://127.0.0.1:5000/");
    int n = (int)ex_arg(argc, argv, 2, 10, 1, 1000, usage);
    char path[128];

    ex_http_init();
    ex_http_t *h = ex_http_new();
    double t0 = ex_now();

    /* guide:begin sequential */
    /* Step 1: which pages (one request). */
    snprintf(path, sizeof path, "graph/sample?n=%d", n);
    const char *sample = ex_http_get(h, base, path);
    char(*ids)[EX_ID_MAX] = Malloc((size_t)n * EX_ID_MAX);
    for (int i = 0; i < n; i++)
        ex_page_id(sample, i, ids[i]);

    /* Step 2: fetch them, one after another: each request waits for the one before. */
    long links = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "api/%s", ids[i]);
        links += ex_links(ex_http_get(h, base, path), NULL, 0);
    }
    /* guide:end sequential */

    double dt = ex_now() - t0;
    /* Step 3: report. */
    printf("sequential: %d pages, %ld links in %.3f s (%.3f s a page)\n", n, links, dt, dt / n);
    free(ids);
    ex_http_free(h);
    return 0;
}
