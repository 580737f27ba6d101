/* The guide's bugs: its threading crawler (1) quits a worker after one idle second
 * (`to_visit.get(timeout=1)`), so while the first page is in flight the other workers give up and
 * the crawl goes on with one thread; and (2) hangs for ever on a page without "links" (an error
 * answer): the KeyError is not a RequestException, the worker dies without task_done(), and
 * to_visit.join() waits for it. In C, a watchdog reports the hang instead. Exits 3 on the hang.
 * Fixed: guide_threading_fixed.c.
 *
 * usage: guide_threading URL START [MAX_PAGES [THREADS [IDLE_MS]]]   (default 50, 5, 1000) */
#include "guidecrawl.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled on put and on task_done */
static ex_list_t to_visit;
static ex_set_t *visited;
static long unfinished, max_pages, idle_ms, quit_early; /* unfinished: Queue.unfinished_tasks */
static const char *base;

static int timed_wait(long ms) { /* ETIMEDOUT or 0; with mu held */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000, t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return pthread_cond_timedwait(&cv, &mu, &t);
}

/* guide:begin guide_threading */
static void *worker(void *arg) {
    for (;;) {
        Pthread_mutex_lock(&mu);
        int rc = 0;
        while (to_visit.head == to_visit.len && rc != ETIMEDOUT)
            rc = timed_wait(idle_ms);        /* current_path = to_visit.get(timeout=1) */
        if (to_visit.head == to_visit.len) { /* except: break */
            quit_early += unfinished > 0;    /* ...while another worker still fetches */
            Pthread_mutex_unlock(&mu);
            return NULL;
        }
        page_t p = {.base = base};
        snprintf(p.id, EX_ID_MAX, "%s", ex_list_pop(&to_visit));
        int skip = ex_set_count(visited) >= max_pages || !ex_set_add(visited, p.id);
        Pthread_mutex_unlock(&mu);
        if (!skip) {
            page_fetch(&p);
            if (p.status != 200) { /* data["links"]: KeyError, not caught */
                printf("worker: no links on %s (HTTP %ld): the thread dies\n", p.id, p.status);
                return NULL; /* ...without task_done() */
            }
        }
        Pthread_mutex_lock(&mu);
        for (long i = 0; i < p.links.len; i++)
            if (!ex_set_has(visited, p.links.id[i])) ex_list_push(&to_visit, p.links.id[i]), unfinished++;
        unfinished--; /* to_visit.task_done() */
        Pthread_cond_broadcast(&cv);
        Pthread_mutex_unlock(&mu);
        ex_list_free(&p.links);
    }
}
/* guide:end guide_threading */

int main(int argc, char **argv) {
    const char *usage = "URL START [MAX_PAGES [THREADS [IDLE_MS]]]";
    if (argc < 3) ex_usage(argv, usage);
    base = argv[1];
    max_pages = ex_arg(argc, argv, 3, 50, 1, 10000000, usage);
    int t = (int)ex_arg(argc, argv, 4, 5, 1, 256, usage);
    idle_ms = ex_arg(argc, argv, 5, 1000, 1, 600000, usage);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
        pthread_cond_init(&cv, &ca))
        die("pthread_cond_init failed");
    ex_http_init();
    visited = ex_set_new();
    ex_list_push(&to_visit, argv[2]);
    unfinished = 1;
    pthread_t tid;
    for (int i = 0; i < t; i++) /* daemon threads: never joined */
        Pthread_create(&tid, worker, NULL);

    Pthread_mutex_lock(&mu); /* to_visit.join(), with a watchdog: 10 idle periods */
    while (unfinished > 0)
        if (timed_wait(10 * idle_ms) == ETIMEDOUT) {
            printf("hang: to_visit.join() still waiting after %ld ms: %ld tasks never marked done\n",
                   10 * idle_ms, unfinished);
            fflush(stdout);
            _exit(3); /* the daemon threads cannot be joined: they may be waiting for ever */
        }
    printf("visited %ld pages; %ld of %d workers quit while the crawl still had work\n",
           ex_set_count(visited), quit_early, t);
    Pthread_mutex_unlock(&mu);
    exit(0); /* like Python's exit, with the daemon workers still waiting */
}
