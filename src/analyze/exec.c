/* The sequential, threads and openmp models of src/analyze/exec.h, the chunks they share, and the
 * job memory; the processes model is in exec_proc.c.
 *
 * threads: workers - 1 pthreads, started by the first job and kept until exec_free() (the caller is
 * worker 0), meet the caller at two barriers per run, one to start and one to finish, and between
 * them take chunks from one atomic counter, so a PageRank iteration costs two barrier crossings and
 * one atomic add per chunk, and no thread creation. pthread_barrier_wait() orders memory: what one
 * worker wrote before the finishing barrier, every worker reads after it.
 *
 * Job memory is kept mapped when released and reused by the next job of at most its size: a repeated
 * PageRank run then touches no new page. That matters most to the processes model, whose shared
 * pages each process first-touches itself (a fork copies no page table entry of a shared mapping) and
 * whose workers are forked again whenever a new mapping appears. */
#include "analyze/exec.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const exec_names[EXEC_MODELS] = {"sequential", "threads", "processes", "openmp"};

typedef struct exec_threads {
    pthread_t *tids;
    unsigned started; /* threads created (1 .. workers - 1) */
    pthread_barrier_t start, done;
    /* The gate a new thread waits at until all are created: 1 go, -1 creation failed (leave). A
     * barrier counts every worker, so no thread may reach it before all of them exist. */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    int gate;
    exec_fn fn; /* written by worker 0 before the start barrier */
    void *ctx;
    int stop;
} exec_threads_t;

#define EXEC_MAPS 8 /* job memory kept for reuse; a job needs one or two */

typedef struct exec_map {
    void *p; /* NULL: slot unused */
    size_t bytes;
    int busy;
} exec_map_t;

struct exec {
    exec_model_t model;
    unsigned workers;
    exec__chunks_t *ch; /* the current job's chunks, shared with every worker */
    size_t ch_bytes;
    int running;
    exec_threads_t *th;
    exec__proc_t *proc;
    int proc_stale; /* a mapping was made after proc forked: its workers cannot see it */
    exec_map_t maps[EXEC_MAPS];
};

void exec__errf(char *err, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, EXEC_ERR_LEN, fmt, ap);
    va_end(ap);
}

int exec_model_parse(const char *name, exec_model_t *out) {
    for (int m = 0; m < EXEC_MODELS; m++)
        if (!strcmp(name, exec_names[m])) {
            *out = (exec_model_t)m;
            return 0;
        }
    return -1;
}

const char *exec_model_name(exec_model_t m) { return m < EXEC_MODELS ? exec_names[m] : "?"; }

unsigned exec_max_workers(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? 8 * (unsigned)n : 8;
}

exec_t *exec_new(exec_model_t m, unsigned workers, char *err) {
    if (m >= EXEC_MODELS) {
        exec__errf(err, "exec: unknown model");
        return NULL;
    }
    if (workers < 1 || workers > exec_max_workers()) {
        exec__errf(err, "exec: workers must be from 1 to %u (8 per CPU), not %u", exec_max_workers(), workers);
        return NULL;
    }
    exec_t *ex = calloc(1, sizeof(*ex));
    if (!ex) goto fail;
    ex->model = m;
    ex->workers = m == EXEC_SEQUENTIAL ? 1 : workers;
    size_t nchunks = (size_t)ex->workers * EXEC_CHUNKS_PER_WORKER;
    ex->ch_bytes = sizeof(exec__chunks_t) + (nchunks + 1) * sizeof(uint32_t);
    ex->ch = mmap(NULL, ex->ch_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ex->ch == MAP_FAILED) {
        ex->ch = NULL;
        goto fail;
    }
    return ex;
fail:
    exec_free(ex);
    exec__errf(err, "exec: out of memory");
    return NULL;
}

static void exec_threads_stop(exec_t *ex, int all_started);

void exec_free(exec_t *ex) {
    if (!ex) return;
    if (ex->th) exec_threads_stop(ex, 1);
    if (ex->proc) exec__proc_end(ex->proc);
    for (int i = 0; i < EXEC_MAPS; i++)
        if (ex->maps[i].p) munmap(ex->maps[i].p, ex->maps[i].bytes);
    if (ex->ch) munmap(ex->ch, ex->ch_bytes);
    free(ex);
}

#define EXEC_HUGE ((size_t)2 << 20) /* a transparent huge page on x86-64 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

/* Asks for huge pages in a new mapping. A private one gets them at its first touch (Debian's THP mode
 * is madvise). A shared one gets none that way under Debian's default shmem_enabled=never, and its
 * random reads then miss the TLB; MADV_COLLAPSE (Linux 6.1) builds them regardless of that setting
 * from pages already there, so the mapping is populated first. A worker forked afterwards maps each
 * 2 MiB with one page-table entry, and first-touches 8 instead of 4096 entries per 16 MiB. Both are
 * advice: on a kernel that refuses, small pages work too. */
static void exec_map_huge(void *p, size_t bytes, int shared) {
    madvise(p, bytes, MADV_HUGEPAGE);
    if (shared && bytes >= EXEC_HUGE && madvise(p, bytes, MADV_POPULATE_WRITE) == 0)
        madvise(p, bytes, MADV_COLLAPSE);
}

/* A new anonymous mapping, 2 MiB-aligned (a huge page needs an aligned address), shared for
 * processes and private otherwise: a reservation one huge page larger, the mapping placed at its
 * first aligned address, the rest given back. */
static void *exec_map_new(exec_t *ex, size_t bytes, char *err) {
    int shared = ex->model == EXEC_PROCESSES;
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED;
    char *r = mmap(NULL, bytes + EXEC_HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *p = r == MAP_FAILED ? r : (char *)(((uintptr_t)r + EXEC_HUGE - 1) & ~(uintptr_t)(EXEC_HUGE - 1));
    if (p != MAP_FAILED) p = mmap(p, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
        exec__errf(err, "exec: mmap %zu bytes: %s", bytes, strerror(errno));
        if (r != MAP_FAILED) munmap(r, bytes + EXEC_HUGE);
        return NULL;
    }
    if (p > r) munmap(r, (size_t)(p - r));
    munmap(p + bytes, (size_t)(r + EXEC_HUGE - p)); /* the tail: from p + bytes to r + bytes + EXEC_HUGE */
    exec_map_huge(p, bytes, shared);
    if (ex->proc) ex->proc_stale = 1;
    return p;
}

/* The smallest free mapping that holds bytes, else a new one in an unused slot, or in place of a
 * free mapping too small. Sizes are whole pages, so that a mapping's tail starts on one. */
void *exec_alloc(exec_t *ex, size_t bytes, char *err) {
    exec_map_t *fit = NULL, *unused = NULL, *small = NULL;
    bytes = bytes ? (bytes + 4095) & ~(size_t)4095 : 4096;
    for (int i = 0; i < EXEC_MAPS; i++) {
        exec_map_t *m = &ex->maps[i];
        if (!m->p) unused = unused ? unused : m;
        else if (m->busy) continue;
        else if (m->bytes < bytes) small = m;
        else if (!fit || m->bytes < fit->bytes) fit = m;
    }
    exec_map_t *slot = unused ? unused : small;
    if (!fit && !slot) {
        exec__errf(err, "exec: more than %d job allocations at once", EXEC_MAPS);
        return NULL;
    }
    if (!fit) {
        void *p = exec_map_new(ex, bytes, err);
        if (!p) return NULL;
        if (slot->p) munmap(slot->p, slot->bytes);
        *slot = (exec_map_t){p, bytes, 0};
        fit = slot;
    }
    fit->busy = 1;
    return fit->p;
}

void exec_release(exec_t *ex, void *p) {
    for (int i = 0; p && i < EXEC_MAPS; i++)
        if (ex->maps[i].p == p) ex->maps[i].busy = 0;
}

/* Cuts blocks into at most n chunks of about equal work (one for a single worker): the c-th cut is
 * the first block whose preceding work reaches c / n of the total. A block heavier than a chunk's
 * share makes cuts coincide; they are kept once, so that no chunk is empty. */
static void exec_cut(exec_t *ex, uint32_t nblocks, const uint64_t *prefix) {
    exec__chunks_t *ch = ex->ch;
    uint32_t n = ex->workers == 1 ? 1 : ex->workers * EXEC_CHUNKS_PER_WORKER, b = 0, k = 0;
    for (uint32_t c = 0; c < n; c++) {
        uint64_t goal = (uint64_t)((unsigned __int128)prefix[nblocks] * c / n);
        while (b < nblocks && prefix[b] < goal) b++;
        if (k == 0 || b > ch->cut[k - 1]) ch->cut[k++] = b;
    }
    if (ch->cut[k - 1] == nblocks) k--; /* a cut at the end starts no chunk */
    ch->cut[k] = nblocks;
    ch->n = k;
}

void exec__take(exec__chunks_t *ch, exec_fn fn, void *ctx) {
    uint32_t c;
    while ((c = atomic_fetch_add_explicit(&ch->next, 1, memory_order_relaxed)) < ch->n)
        fn(ctx, ch->cut[c], ch->cut[c + 1]);
}

static void exec_threads_open(exec_threads_t *th, int gate) {
    pthread_mutex_lock(&th->gate_lock);
    th->gate = gate;
    pthread_cond_broadcast(&th->gate_cond);
    pthread_mutex_unlock(&th->gate_lock);
}

static void *exec_thread_main(void *arg) {
    exec_t *ex = arg;
    exec_threads_t *th = ex->th;
    pthread_mutex_lock(&th->gate_lock);
    while (th->gate == 0) pthread_cond_wait(&th->gate_cond, &th->gate_lock);
    int go = th->gate > 0;
    pthread_mutex_unlock(&th->gate_lock);
    while (go) {
        pthread_barrier_wait(&th->start);
        if (th->stop) break;
        exec__take(ex->ch, th->fn, th->ctx);
        pthread_barrier_wait(&th->done);
    }
    return NULL;
}

/* Stops the threads: through the start barrier when they all run, through the gate when their
 * creation failed. */
static void exec_threads_stop(exec_t *ex, int all_started) {
    exec_threads_t *th = ex->th;
    if (all_started) {
        th->stop = 1;
        pthread_barrier_wait(&th->start);
    } else {
        exec_threads_open(th, -1);
    }
    for (unsigned i = 0; i < th->started; i++) pthread_join(th->tids[i], NULL);
    pthread_barrier_destroy(&th->start);
    pthread_barrier_destroy(&th->done);
    pthread_mutex_destroy(&th->gate_lock);
    pthread_cond_destroy(&th->gate_cond);
    free(th->tids);
    free(th);
    ex->th = NULL;
}

/* Creates the threads of a job; when a creation fails, the threads already made leave through the
 * gate, never having touched a barrier. */
static int exec_threads_begin(exec_t *ex, char *err) {
    exec_threads_t *th = calloc(1, sizeof(*th));
    if (!th || !(th->tids = calloc(ex->workers, sizeof(pthread_t)))) {
        free(th);
        exec__errf(err, "exec: out of memory");
        return -1;
    }
    pthread_barrier_init(&th->start, NULL, ex->workers);
    pthread_barrier_init(&th->done, NULL, ex->workers);
    pthread_mutex_init(&th->gate_lock, NULL);
    pthread_cond_init(&th->gate_cond, NULL);
    ex->th = th;
    for (unsigned w = 1; w < ex->workers; w++) {
        int rc = pthread_create(&th->tids[th->started], NULL, exec_thread_main, ex);
        if (rc != 0) {
            exec__errf(err, "exec: pthread_create: %s", strerror(rc));
            goto fail;
        }
        th->started++;
    }
    exec_threads_open(th, 1);
    return 0;
fail:
    exec_threads_stop(ex, 0);
    return -1;
}

/* Forks the processes when there are none, or again when they cannot see a mapping made since. */
static int exec_proc_ready(exec_t *ex, char *err) {
    if (ex->proc && !ex->proc_stale) return 0;
    if (ex->proc) exec__proc_end(ex->proc);
    ex->proc_stale = 0;
    return (ex->proc = exec__proc_begin(ex->workers, ex->ch, err)) ? 0 : -1;
}

int exec_begin(exec_t *ex, uint32_t nblocks, const uint64_t *prefix, char *err) {
    if (ex->running) {
        exec__errf(err, "exec: a job is already running");
        return -1;
    }
    exec_cut(ex, nblocks, prefix);
    if (ex->model == EXEC_THREADS && ex->workers > 1 && !ex->th && exec_threads_begin(ex, err) < 0) return -1;
    if (ex->model == EXEC_PROCESSES && ex->workers > 1 && exec_proc_ready(ex, err) < 0) return -1;
    ex->running = 1;
    return 0;
}

/* The same chunks, taken in turn by OpenMP's own counter. */
static void exec_run_openmp(exec_t *ex, exec_fn fn, void *ctx) {
    const exec__chunks_t *ch = ex->ch;
    int n = (int)ch->n;
#ifdef _OPENMP
#pragma omp parallel for num_threads((int)ex->workers) schedule(dynamic, 1)
#endif
    for (int c = 0; c < n; c++) fn(ctx, ch->cut[c], ch->cut[c + 1]);
}

int exec_run(exec_t *ex, exec_fn fn, void *ctx, char *err) {
    if (!ex->running) {
        exec__errf(err, "exec: no job is running");
        return -1;
    }
    /* Before any worker can take a chunk: the start barrier, or the socket message, orders it. */
    atomic_store_explicit(&ex->ch->next, 0, memory_order_relaxed);
    if (ex->th) {
        ex->th->fn = fn;
        ex->th->ctx = ctx;
        pthread_barrier_wait(&ex->th->start);
        exec__take(ex->ch, fn, ctx);
        pthread_barrier_wait(&ex->th->done);
        return 0;
    }
    if (ex->proc) {
        if (exec__proc_run(ex->proc, fn, ctx, err) == 0) return 0;
        exec__proc_end(ex->proc);
        ex->proc = NULL;
        ex->running = 0;
        return -1;
    }
    if (ex->model == EXEC_OPENMP) exec_run_openmp(ex, fn, ctx);
    else fn(ctx, 0, ex->ch->cut[ex->ch->n]); /* one worker: every block in one call */
    return 0;
}

void exec_end(exec_t *ex) { ex->running = 0; }
