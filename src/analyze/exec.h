/* How `crawlbench analyze` runs one loop over many workers: the four models of CPU-bound work
 * (sequential, threads, processes, openmp) behind one interface. A job is a loop over fixed blocks
 * of pages, cut into chunks of contiguous blocks that hold about the same work as the caller weighs
 * it (a power-law graph cut by pages leaves one worker with most of the work), EXEC_CHUNKS_PER_WORKER
 * per worker. Each worker takes the next chunk until none is left (dynamic scheduling, OpenMP's
 * schedule(dynamic)): a worker whose CPU is slowed by anything else takes fewer, where a fixed
 * range per worker would make every run wait for the slowest CPU.
 *
 * The workers (threads, processes) start at the first job and live until exec_free(), like a
 * ProcessPoolExecutor: a PageRank run then costs no fork, no thread creation and no first-touch page
 * faults in memory the previous run already touched (docs/ANALYZE.md, "Fixed cost per run").
 *
 * Conventions: functions return 0 / -1 (or NULL) and write "what: why" into err[EXEC_ERR_LEN].
 * Memory that a job writes must come from exec_alloc(): for the processes model it is a shared
 * mapping (MAP_SHARED), the only memory a forked worker writes that its parent can read. Everything
 * else the job reads (the graph) is shared copy-on-write by fork, so it must exist, and stay
 * unchanged, from before the first exec_begin(): a worker sees the parent's own memory as it was
 * when the worker was forked. */
#ifndef CRAWLBENCH_EXEC_H
#define CRAWLBENCH_EXEC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define EXEC_ERR_LEN 256
#define EXEC_CHUNKS_PER_WORKER 32 /* the last chunk idles the others for at most 1/32 of a run */

typedef enum exec_model {
    EXEC_SEQUENTIAL,
    EXEC_THREADS,
    EXEC_PROCESSES,
    EXEC_OPENMP,
    EXEC_MODELS /* count */
} exec_model_t;

typedef struct exec exec_t; /* opaque */

/* Runs blocks [lo, hi) of the current job (one chunk; a run calls it for every chunk, in any worker
 * and any order); ctx must point into exec_alloc() memory when the job's caller changes it between
 * runs (a forked worker sees the parent's later writes only there). */
typedef void (*exec_fn)(void *ctx, uint32_t lo, uint32_t hi);

/* The model called name, or -1 when there is none. */
int exec_model_parse(const char *name, exec_model_t *out);
const char *exec_model_name(exec_model_t m);

/* The most workers a run may ask for: 8 per online CPU (beyond that a CPU-bound job only slows). */
unsigned exec_max_workers(void);

/* workers in [1, exec_max_workers()]. The openmp model built without -fopenmp (the TSan build) runs
 * its workers' ranges one after another in the calling thread, with the same results. */
exec_t *exec_new(exec_model_t m, unsigned workers, char *err);
void exec_free(exec_t *ex); /* stops the workers and unmaps exec_alloc() memory */

/* Memory a job may write (shared with forked workers for the processes model), page-aligned. Released
 * memory stays mapped and is handed out again to a later exec_alloc() of at most its size, so its
 * contents are those of the previous job (zero only when new): a job initialises what it reads. */
void *exec_alloc(exec_t *ex, size_t bytes, char *err);
void exec_release(exec_t *ex, void *p);

/* Starts a job of nblocks blocks; prefix[nblocks + 1] holds the cumulative work before each block
 * and is read during this call only. The first job starts the threads or forks the processes;
 * processes are forked again when an exec_alloc() since made a new mapping (a forked worker sees only
 * the mappings that existed at its fork), so every exec_alloc() the job uses must come before. */
int exec_begin(exec_t *ex, uint32_t nblocks, const uint64_t *prefix, char *err);

/* Calls fn over every chunk of the job, each once, the workers taking them in turn, and returns when
 * all are done. -1 when a worker died (processes: named with its pid and signal); the job is then
 * over. */
int exec_run(exec_t *ex, exec_fn fn, void *ctx, char *err);

/* Ends the job; the workers wait for the next one. */
void exec_end(exec_t *ex);

/* ---- Internal to exec.c and exec_proc.c. The chunks of the current job, in memory every worker
 * shares (MAP_SHARED, mapped by exec_new() before any fork), and the loop that takes them. */
typedef struct exec__chunks {
    _Atomic uint32_t next; /* the next chunk to take; exec_run() resets it */
    uint32_t n;            /* chunks in this job */
    uint32_t cut[];        /* [n + 1]: chunk c is blocks [cut[c], cut[c + 1]) */
} exec__chunks_t;
void exec__take(exec__chunks_t *ch, exec_fn fn, void *ctx);

/* The processes model: begin forks workers - 1 processes (the caller is worker 0); run sends each
 * child the job's (fn, ctx) over its socket, takes chunks itself and waits for every child's reply,
 * a closed socket meaning a dead child; end stops and reaps them. */
typedef struct exec__proc exec__proc_t;
exec__proc_t *exec__proc_begin(unsigned workers, exec__chunks_t *ch, char *err);
int exec__proc_run(exec__proc_t *p, exec_fn fn, void *ctx, char *err);
void exec__proc_end(exec__proc_t *p); /* frees p */
void exec__errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
