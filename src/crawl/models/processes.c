/* Processes: the guide's multiprocessing (section 3). N worker processes fetch and parse; the parent
 * is the coordinator, and the only owner of the frontier. Nothing is shared: the coordinator sends a
 * worker a page id, the worker sends back what happened to it, over a socket.
 *
 * Why message passing and not the frontier in shared memory under a process-shared mutex: a worker
 * killed while holding that mutex leaves it locked (robust mutexes exist for this, and then someone
 * must repair whatever half-updated state the dead process left behind), and the frontier would have
 * to live in one fixed mapping instead of the heap. With messages the frontier has one owner and no
 * lock, and a dead worker is just a closed socket: the coordinator knows which page it had.
 *
 * The channel is a socketpair per worker, SOCK_SEQPACKET: reliable and ordered like a stream, but
 * message boundaries are kept, and the kernel closes a dead process's end, so its death reads as EOF.
 *   coordinator -> worker: one packet per page: task_msg_t {page, id}; an id of length 0 means stop.
 *   worker -> coordinator: the page's outcome and links, framed by crawl/wire.c.
 *
 * Faults. A worker killed mid-page (SIGKILL) loses nothing: the coordinator sees EOF, requeues the
 * page (crawl_requeue puts it back at the head), reaps the worker and forks a replacement. The
 * visited set stays exact, because crawl_done runs once per page, in the coordinator. But delivery
 * is at least once: if the server had already answered, the page is fetched twice, and the server's
 * audit counts a duplicate fetch for it. Workers die with their parent (PR_SET_PDEATHSIG).
 *
 * Ctrl-C signals the whole process group, so workers ignore SIGINT: stopping is the coordinator's
 * decision. It stops handing out pages, forwards the stop to busy workers as SIGUSR1 (so a worker in
 * a retry backoff gives up, as a thread does in threads.c), waits for their answers, then sends each
 * worker the stop message and reaps it.
 *
 * fork and libraries: libcurl handles must not cross a fork, so each worker creates its fetcher
 * after it (curl_global_init, done in main before any fork, is fine to inherit). The crawl process
 * may have a second thread (the progress line), and POSIX promises the child of a multithreaded
 * process only async-signal-safe calls; the workers rely on glibc, whose fork leaves malloc and
 * stdio usable in the child. GCC 12's ASan allocator makes no such promise: under ASan, with the
 * progress line on, a worker can deadlock in malloc (a sanitizer limit, not a bug of this file). */
#include "crawl/engine.h"
#include "crawl/wire.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_MS 100        /* how soon the coordinator notices a stop request when nothing happens */
#define EXIT_NO_FETCHER 3  /* a worker could not set up libcurl: replacing it would not help */

typedef struct task_msg {
    uint32_t page;
    uint32_t len; /* 0: stop */
    char id[FRONTIER_ID_MAX + 1];
} task_msg_t;

typedef struct proc_worker {
    pid_t pid;
    int fd;       /* the coordinator's end of the socketpair; -1: no worker in this slot */
    int64_t page; /* the page it is fetching, -1 when idle */
    uint64_t peak_kb; /* the highest peak RSS of the workers this slot has had (wait4 tells it) */
    buf_t in;     /* a result being reassembled from its packets */
} proc_worker_t;

typedef struct proc_coord {
    crawl_t *c;
    proc_worker_t *w;
    uint32_t n;
    pid_t self;
    uint32_t deaths; /* workers lost since the last result: bounds a crash loop */
    int failed;
} proc_coord_t;

/* ---- the worker process ---- */

static atomic_int worker_stop;

static void on_sigusr1(int sig) {
    (void)sig;
    worker_stop = 1;
}

/* Receives pages and answers them until the stop message or EOF. Never returns. */
static _Noreturn void worker_main(const proc_coord_t *k, uint32_t index, int fd, const sigset_t *mask) {
    /* Die with the coordinator; it may already be gone, in the instant before prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != k->self) _exit(1);
    signal(SIGINT, SIG_IGN); /* Ctrl-C and SIGTERM reach the whole process group: the coordinator */
    signal(SIGTERM, SIG_IGN); /* alone decides, and stops us with SIGUSR1 */
    struct sigaction sa = {.sa_handler = on_sigusr1}; /* fetcher_get checks the flag it sets */
    sigaction(SIGUSR1, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, mask, NULL);
    for (uint32_t i = 0; i < k->n; i++) /* other workers' channels: their EOF must not wait on us */
        if (k->w[i].fd >= 0) close(k->w[i].fd);

    const crawl_config_t *cfg = crawl_config(k->c);
    char err[256];
    fetcher_t *f = fetcher_create(&cfg->fetch, fetch_jitter_seed(cfg->seed, index), err, sizeof(err));
    if (!f) _exit(EXIT_NO_FETCHER);
    buf_t out = BUF_INIT;
    for (;;) {
        task_msg_t t;
        ssize_t got;
        while ((got = recv(fd, &t, sizeof(t), 0)) < 0 && errno == EINTR) {}
        if (got < (ssize_t)offsetof(task_msg_t, id) || t.len == 0 || t.len > FRONTIER_ID_MAX) break;
        t.id[t.len] = '\0'; /* the id travels without its NUL */
        const fetch_result_t *r = fetcher_get(f, t.id, t.len, &worker_stop);
        page_links_t links;
        int parsed = r->outcome == FETCH_OK && crawl_page_parse(r, t.id, t.len, &links) == 0;
        int rc = wire_encode(&out, t.page, r, parsed ? &links : NULL);
        if (parsed) page_links_free(&links);
        if (rc < 0 || wire_send(fd, out.data, out.len) < 0) break;
    }
    buf_free(&out);
    fetcher_free(f);
    _exit(0); /* not exit(): the parent's atexit handlers and stdio buffers are not ours */
}

/* ---- the coordinator ---- */

/* Forks a worker into slot w. Signals are blocked across the fork so that the child cannot take a
 * SIGINT, SIGTERM or SIGUSR1 before its own handlers are in place. Returns 0 or -1 (errno). */
static int spawn(proc_coord_t *k, proc_worker_t *w) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        sigdelset(&old, SIGUSR1);
        worker_main(k, (uint32_t)(w - k->w), sv[1], &old);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        errno = saved;
        return -1;
    }
    w->pid = pid;
    w->fd = sv[0];
    w->page = -1;
    buf_clear(&w->in);
    return 0;
}

/* Waits for w's process to end and keeps its peak RSS: a slot's workers never overlap (a replacement
 * is forked after its predecessor is reaped), so the slot's peak is the largest of theirs. */
static void reap(proc_worker_t *w, int *status) {
    struct rusage ru = {0};
    while (wait4(w->pid, status, 0, &ru) < 0 && errno == EINTR) {}
    if ((uint64_t)ru.ru_maxrss > w->peak_kb) w->peak_kb = (uint64_t)ru.ru_maxrss;
}

/* A worker is gone (EOF, a send that failed, a garbled result): requeue its page, reap it, and fork
 * a replacement unless it died of its own accord or the crawl is ending. */
static void bury(proc_coord_t *k, proc_worker_t *w) {
    int status = 0;
    kill(w->pid, SIGKILL); /* in case it is alive and merely garbled */
    close(w->fd);
    w->fd = -1;
    buf_clear(&w->in);
    reap(w, &status);
    if (w->page >= 0) crawl_requeue(k->c, (uint32_t)w->page);
    w->page = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NO_FETCHER) {
        crawl_fail(k->c, "a worker could not create its libcurl handle");
        k->failed = 1;
    } else if (++k->deaths > k->n) {
        crawl_fail(k->c, "%u workers died without finishing a page", k->deaths);
        k->failed = 1;
    } else if (!k->failed && !crawl_stopping(k->c) && spawn(k, w) < 0) {
        crawl_fail(k->c, "cannot fork a replacement worker: %s", strerror(errno));
        k->failed = 1;
    }
}

/* Hands the result reassembled in w->in to crawl_done. -1 if it is garbled or not w's page. */
static int deliver(proc_coord_t *k, proc_worker_t *w) {
    uint32_t page;
    fetch_result_t r;
    page_links_t links;
    int parsed;
    if (wire_decode(&w->in, &page, &r, &parsed, &links) < 0) return -1;
    if (page != w->page) {
        wire_links_free(&links);
        return -1;
    }
    crawl_done(k->c, page, &r, parsed ? &links : NULL);
    wire_links_free(&links);
    w->page = -1;
    k->deaths = 0;
    return 0;
}

/* Reads every packet waiting on w's socket, delivering each complete result. Returns 0, or -1 when
 * the worker is gone or garbled. */
static int drain(proc_coord_t *k, proc_worker_t *w) {
    int rc;
    while ((rc = wire_recv(w->fd, &w->in)) == 1) {
        if (w->page < 0 || deliver(k, w) < 0) return -1;
        buf_clear(&w->in);
    }
    return rc;
}

/* Gives every idle worker a page, while the frontier has some. */
static void dispatch(proc_coord_t *k) {
    for (uint32_t i = 0; i < k->n && !k->failed; i++) {
        proc_worker_t *w = &k->w[i];
        if (w->fd < 0 || w->page >= 0) continue;
        task_msg_t t;
        size_t len;
        int64_t page = crawl_take(k->c, t.id, &len);
        if (page < 0) return;
        t.page = (uint32_t)page;
        t.len = (uint32_t)len;
        w->page = page;
        ssize_t sent;
        while ((sent = send(w->fd, &t, offsetof(task_msg_t, id) + len, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
        if (sent < 0) bury(k, w); /* requeues the page, and may fill the slot again */
    }
}

/* Waits up to POLL_MS for results or deaths, and handles them. */
static void wait_events(proc_coord_t *k, struct pollfd *pfd) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < k->n; i++)
        if (k->w[i].fd >= 0) pfd[m++] = (struct pollfd){.fd = k->w[i].fd, .events = POLLIN};
    if (m == 0) { /* every slot is empty: replacements failed */
        if (!k->failed) crawl_fail(k->c, "no worker left");
        k->failed = 1;
        return;
    }
    if (poll(pfd, m, POLL_MS) <= 0) return; /* a timeout, or EINTR: both mean look again */
    for (uint32_t i = 0, j = 0; i < k->n; i++) {
        proc_worker_t *w = &k->w[i];
        if (w->fd < 0 || pfd[j].fd != w->fd) continue;
        if (pfd[j++].revents && drain(k, w) < 0) bury(k, w);
    }
}

/* Tells busy workers to give up their retries, once, when a stop is requested. */
static void forward_stop(proc_coord_t *k) {
    for (uint32_t i = 0; i < k->n; i++)
        if (k->w[i].fd >= 0 && k->w[i].page >= 0) kill(k->w[i].pid, SIGUSR1);
}

static int processes_run(crawl_t *c) {
    proc_coord_t k = {.c = c, .n = crawl_config(c)->concurrency, .self = getpid()};
    int stop_forwarded = 0;
    struct pollfd *pfd = calloc(k.n, sizeof(*pfd));
    if (!pfd || !(k.w = calloc(k.n, sizeof(*k.w)))) {
        crawl_fail(c, "out of memory");
        free(pfd);
        return -1;
    }
    for (uint32_t i = 0; i < k.n; i++) k.w[i].fd = -1;
    for (uint32_t i = 0; i < k.n && !k.failed; i++) {
        if (spawn(&k, &k.w[i]) < 0) {
            crawl_fail(c, "cannot fork worker %u of %u: %s", i + 1, k.n, strerror(errno));
            k.failed = 1;
        }
    }
    for (;;) {
        if (!k.failed) dispatch(&k);
        /* Over when nothing is in flight and either nothing waits, a stop was asked, or we failed:
         * results of pages in flight are always waited for, so no page is left half-done. */
        if (crawl_idle(c) || (k.failed && crawl_in_flight(c) == 0)) break;
        if (crawl_stopping(c) && !stop_forwarded) {
            forward_stop(&k);
            stop_forwarded = 1;
        }
        wait_events(&k, pfd);
    }

    /* The stop message to every worker first, so that they all exit at once; then reap them. */
    task_msg_t stop = {.len = 0};
    for (uint32_t i = 0; i < k.n; i++)
        if (k.w[i].fd >= 0) send(k.w[i].fd, &stop, offsetof(task_msg_t, id), MSG_NOSIGNAL | MSG_DONTWAIT);
    for (uint32_t i = 0; i < k.n; i++) {
        proc_worker_t *w = &k.w[i];
        if (w->fd >= 0) {
            close(w->fd);
            reap(w, NULL);
        }
        crawl_add_rss(c, w->peak_kb); /* workers of different slots run at the same time: they add up */
        buf_free(&w->in);
    }
    free(k.w);
    free(pfd);
    return k.failed ? -1 : 0;
}

const crawl_engine_t engine_processes = {
    .name = "processes",
    .summary = "N forked workers; the parent owns the frontier and talks to them by messages",
    .title = "Processes: nothing shared, messages instead",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "N worker processes fetch and parse; the parent alone owns the frontier and sends each worker a page "
        "id over a socket, receiving the page's links back. No memory is shared, so no lock is needed, and a "
        "worker killed mid-page is just a closed socket: its page is requeued and a replacement forked.",
    .when = /* when to reach for it */
        "CPU-bound work that must run truly in parallel (in Python: past the GIL), or tasks that must be "
        "isolated so that one crash cannot take down the rest. The price is memory per process and the cost "
        "of every message (the guide's pickling and communication pitfalls).",
    .source = __FILE__,
    .max_concurrency = 1024,
    .limit_why = "a process each (its own address space and libcurl); beyond a thousand, use async or epoll",
    .run = processes_run,
};
