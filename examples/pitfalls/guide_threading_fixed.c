/* guide_threading.c fixed. Workers wait for work without a timeout, and the crawl ends when no
 * page is queued and none is in flight (unfinished == 0), not when a worker has been idle for a
 * second: a worker can be idle only because another is still fetching. A page without links is
 * counted as failed and still marked done, so the count always reaches 0. Workers are joined.
 * The real thing: src/crawl/models/threads.c.
 *
 * usage: guide_threading_fixed URL START [MAX_PAGES [THREADS]]   (default 50, 5) */
#include "guidecrawl.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER; /* on put, and when unfinished reaches 0 */
static ex_list_t to_visit;
static ex_set_t *visited;
static long unfinished, max_pages, failed;
static const char *base;

/* guide:begin guide_threading_fixed */
static void *worker(void *arg) {
    Pthread_mutex_lock(&mu);
    for (;;) {
        while (to_visit.head == to_visit.len && unfinished > 0)
            Pthread_cond_wait(&cv, &mu); /* idle only while another worker is fetching */
        if (unfinished == 0)             /* nothing queued, nothing in flight: the end */
            break;
        page_t p = {.base = base};
        snprintf(p.id, EX_ID_MAX, "%s", ex_list_pop(&to_visit));
        int skip = ex_set_count(visited) >= max_pages || !ex_set_add(visited, p.id);
        Pthread_mutex_unlock(&mu);
        if (!skip) page_fetch(&p);
        Pthread_mutex_lock(&mu);
        failed += !skip && p.status != 200; /* no links: counted, and still done */
        for (long i = 0; i < p.links.len; i++)
            if (!ex_set_has(visited, p.links.id[i])) ex_list_push(&to_visit, p.links.id[i]), unfinished++;
        if (--unfinished == 0 || p.links.len > 0) Pthread_cond_broadcast(&cv);
        ex_list_free(&p.links);
    }
    Pthread_mutex_unlock(&mu);
    return NULL;
}
/* guide:end guide_threading_fixed */

int main(int argc, char **argv) {
    const char *usage = "URL START [MAX_PAGES [THREADS]]";
    if (argc < 3) ex_usage(argv, usage);
    base = argv[1];
    max_pages = ex_arg(argc, argv, 3, 50, 1, 10000000, usage);
    int t = (int)ex_arg(argc, argv, 4, 5, 1, 256, usage);
    ex_http_init();
    visited = ex_set_new();
    ex_list_push(&to_visit, argv[2]);
    unfinished = 1;
    pthread_t tids[256];
    for (int i = 0; i < t; i++)
        Pthread_create(&tids[i], worker, NULL);
    for (int i = 0; i < t; i++)
        Pthread_join(tids[i], NULL);
    printf("visited %ld pages (%ld failed); all %d workers worked to the end\n", ex_set_count(visited),
           failed, t);
    ex_list_free(&to_visit);
    ex_set_free(visited);
    return 0;
}
