/* Stackful coroutines on the project's loop (see coro.h). The context switch, on x86-64, is written
 * by hand (ctx_switch below: save the callee-saved registers and the stack pointer, load another's),
 * about 20 instructions and no system call. ucontext's swapcontext, the portable one used elsewhere
 * (or with -DCORO_UCONTEXT), also saves and restores the signal mask: one rt_sigprocmask system call
 * per switch, and getcontext one more per coroutine started, five a page for the green crawler.
 *
 * Stacks: mmap'd with MAP_NORESERVE, so a stack costs memory only for the pages it actually
 * touches, with a PROT_NONE guard page below it so that an overflow faults at once instead of
 * silently writing over its neighbour. Each stack is two VMAs (guard and stack), which bounds a
 * process to about 30,000 coroutines under the default vm.max_map_count of 65530. Finished
 * coroutines are kept, stack and all, and reused by the next spawn.
 *
 * Under the sanitizers every switch is announced (ASan's __sanitizer_start/finish_switch_fiber,
 * TSan's fibers), or ASan would take the jump to another stack for an overflow and TSan would lose
 * track of who called whom. (With ucontext, ASan prints once that it "doesn't fully support
 * swapcontext": that warning is about unannotated switches, and ours are annotated.) */
#include "ev/coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#elif __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* ---- the context: a stack pointer and what the ABI says a callee must preserve ---- */

static void trampoline(coro_t *co);

#if defined(__x86_64__) && !defined(CORO_UCONTEXT)
typedef struct {
    void *sp; /* everything else is on the stack it points into */
} coro_ctx_t;

/* ctx_switch(from, to): pushes the System V ABI's callee-saved state (rbp, rbx, r12-r15, the SSE
 * and x87 control words) on the current stack, stores the stack pointer in from, loads to's, pops
 * the same state there, and returns to wherever to last called ctx_switch. A new coroutine's stack
 * is made to look like such a call (ctx_make), returning into ctx_entry, which calls
 * trampoline(r12) by the pointer in r13. */
void coro__ctx_switch(coro_ctx_t *from, coro_ctx_t *to) __attribute__((visibility("hidden")));
void coro__ctx_entry(void) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl coro__ctx_switch\n"
        ".hidden coro__ctx_switch\n"
        ".type coro__ctx_switch, @function\n"
        ".p2align 4\n"
        "coro__ctx_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size coro__ctx_switch, .-coro__ctx_switch\n"
        ".globl coro__ctx_entry\n"
        ".hidden coro__ctx_entry\n"
        ".type coro__ctx_entry, @function\n"
        ".p2align 4\n"
        "coro__ctx_entry:\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n" /* trampoline never returns */
        ".size coro__ctx_entry, .-coro__ctx_entry\n");

static void ctx_switch(coro_ctx_t *from, coro_ctx_t *to) { coro__ctx_switch(from, to); }

/* The new stack, top down: ctx_entry as the return address (so that rsp is 16-byte aligned when
 * ctx_entry makes its call), then the registers ctx_switch pops: rbp 0 (the end of the frame
 * chain for debuggers and sanitizers), r12 the coroutine, r13 trampoline, and this thread's
 * current control words. */
static void ctx_make(coro_ctx_t *c, char *stack, size_t size, coro_t *co) {
    uint64_t *sp = (uint64_t *)((uintptr_t)(stack + size) & ~(uintptr_t)15);
    uint32_t mxcsr;
    uint16_t fpcw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpcw));
    *--sp = (uint64_t)(uintptr_t)coro__ctx_entry;
    *--sp = 0;                               /* rbp */
    *--sp = 0;                               /* rbx */
    *--sp = (uint64_t)(uintptr_t)co;         /* r12 */
    *--sp = (uint64_t)(uintptr_t)trampoline; /* r13 */
    *--sp = 0;                               /* r14 */
    *--sp = 0;                               /* r15 */
    *--sp = mxcsr | (uint64_t)fpcw << 32;    /* the control words: mxcsr at (%rsp), fpcw at 4(%rsp) */
    c->sp = sp;
}
#else
#include <ucontext.h>

typedef struct {
    ucontext_t uc;
} coro_ctx_t;

static void ctx_switch(coro_ctx_t *from, coro_ctx_t *to) { swapcontext(&from->uc, &to->uc); }

/* makecontext passes int arguments only, hence the pointer in halves. */
static void ctx_entry(unsigned hi, unsigned lo) {
    trampoline((coro_t *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

/* noinline: getcontext returns twice as far as the compiler knows, which endangers a caller's locals. */
static __attribute__((noinline)) void ctx_make(coro_ctx_t *c, char *stack, size_t size, coro_t *co) {
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL; /* trampoline never returns */
    uintptr_t p = (uintptr_t)co;
    makecontext(&c->uc, (void (*)(void))ctx_entry, 2, (unsigned)(p >> 32), (unsigned)p);
}
#endif

typedef enum { CORO_RUNNABLE, CORO_RUNNING, CORO_PARKED, CORO_DONE } coro_state_t;

struct coro {
    coro_sched_t *s;
    coro_ctx_t ctx;
    coro_fn *fn;
    void *arg;
    char *map;           /* guard page + stack */
    coro_t *next, *prev; /* on one list at a time: the run queue, a wait queue, or the free list */
    coro_queue_t *queue; /* the list it is on, if any */
    coro_t *all_next;    /* every coroutine ever made, for coro_stack_peak and coro_sched_free */
    coro_undo_fn *undo;  /* abandons the current wait; NULL: not cancellable */
    void *undo_arg;
    loop_timer_t timer; /* coro_sleep's */
    coro_state_t state;
    int cancelled, woken_by_cancel;
    void *asan_fake_stack;
    void *tsan_fiber;
};

struct coro_sched {
    loop_t *loop;
    size_t page, stack_size;
    coro_ctx_t main_ctx; /* the loop's own stack, where the scheduler runs */
    coro_t *current;
    coro_queue_t runq, free_list;
    coro_t *all;
    uint32_t alive;
    const void *main_stack_bottom; /* for ASan's fiber switches */
    size_t main_stack_size;
    void *tsan_main;
};

/* ---- queues: doubly linked, so a cancelled waiter leaves its queue in O(1) ---- */

static void q_push(coro_queue_t *q, coro_t *co) {
    co->next = NULL;
    co->prev = q->tail;
    if (q->tail) q->tail->next = co;
    else q->head = co;
    q->tail = co;
    co->queue = q;
}

static void q_unlink(coro_t *co) {
    coro_queue_t *q = co->queue;
    if (!q) return;
    if (co->prev) co->prev->next = co->next;
    else q->head = co->next;
    if (co->next) co->next->prev = co->prev;
    else q->tail = co->prev;
    co->next = co->prev = NULL;
    co->queue = NULL;
}

static coro_t *q_pop(coro_queue_t *q) {
    coro_t *co = q->head;
    if (co) q_unlink(co);
    return co;
}

/* ---- switching: scheduler -> coroutine (resume) and back (suspend) ---- */

static void resume(coro_sched_t *s, coro_t *co) {
    void *fake = NULL;
    s->current = co;
    co->state = CORO_RUNNING;
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(&fake, co->map + s->page, s->stack_size);
#endif
#ifdef CORO_TSAN
    s->tsan_main = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
    ctx_switch(&s->main_ctx, &co->ctx);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    (void)fake;
    s->current = NULL;
}

static void suspend(coro_sched_t *s, coro_t *co) {
#ifdef CORO_ASAN
    /* A finished coroutine's fake stack is released: it will never come back to this frame. */
    __sanitizer_start_switch_fiber(co->state == CORO_DONE ? NULL : &co->asan_fake_stack,
                                   s->main_stack_bottom, s->main_stack_size);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(s->tsan_main, 0);
#endif
    ctx_switch(&co->ctx, &s->main_ctx);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(co->asan_fake_stack, &s->main_stack_bottom, &s->main_stack_size);
#endif
}

/* TSan keeps a shadow call stack per fiber, and a finished coroutine never returns from its
 * trampoline: a fresh fiber per run, or the recycled ones' shadow stacks would only grow. */
static void fiber_begin(coro_t *co) {
#ifdef CORO_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    (void)co;
}

static void fiber_end(coro_t *co) {
#ifdef CORO_TSAN
    if (co->tsan_fiber) __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
    (void)co;
}

/* Every coroutine starts here, on its own stack. */
static void trampoline(coro_t *co) {
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &co->s->main_stack_bottom, &co->s->main_stack_size);
#endif
    co->fn(co->arg);
    co->state = CORO_DONE;
    suspend(co->s, co); /* never returns: the scheduler recycles co */
}

/* The scheduler: the loop's before-sleep hook. Runs every runnable coroutine, including those made
 * runnable meanwhile, then stops the loop when none is left alive. */
static void run_ready(loop_t *l, void *data) {
    coro_sched_t *s = data;
    coro_t *co;
    while ((co = q_pop(&s->runq))) {
        resume(s, co);
        if (co->state == CORO_DONE) {
            fiber_end(co);
            s->alive--;
            q_push(&s->free_list, co);
        }
    }
    if (s->alive == 0) loop_stop(l);
}

coro_sched_t *coro_sched_create(loop_t *l, size_t stack_size, char *err, size_t errlen) {
    coro_sched_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "coro: out of memory");
        return NULL;
    }
    s->loop = l;
    s->page = (size_t)sysconf(_SC_PAGESIZE);
    s->stack_size = (stack_size + s->page - 1) / s->page * s->page;
    loop_set_before_sleep(l, run_ready, s);
    return s;
}

void coro_sched_free(coro_sched_t *s) {
    if (!s) return;
    loop_set_before_sleep(s->loop, NULL, NULL);
    for (coro_t *co = s->all, *next; co; co = next) {
        next = co->all_next;
        loop_timer_stop(s->loop, &co->timer);
        fiber_end(co);
        munmap(co->map, s->page + s->stack_size);
        free(co);
    }
    free(s);
}

int coro_run(coro_sched_t *s) { return s->alive ? loop_run(s->loop) : 0; }

/* A new coroutine with a fresh stack: guard page first, since stacks grow down. */
static coro_t *coro_new(coro_sched_t *s) {
    coro_t *co = calloc(1, sizeof(*co));
    if (!co) return NULL;
    co->map = mmap(NULL, s->page + s->stack_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (co->map == MAP_FAILED) goto fail;
    if (mprotect(co->map, s->page, PROT_NONE) < 0) {
        munmap(co->map, s->page + s->stack_size);
        goto fail;
    }
    co->s = s;
    co->all_next = s->all;
    s->all = co;
    return co;

fail:
    free(co);
    errno = ENOMEM;
    return NULL;
}

coro_t *coro_spawn(coro_sched_t *s, coro_fn *fn, void *arg) {
    coro_t *co = q_pop(&s->free_list);
    if (!co && !(co = coro_new(s))) return NULL;
    ctx_make(&co->ctx, co->map + s->page, s->stack_size, co);
    fiber_begin(co);
    co->fn = fn;
    co->arg = arg;
    co->cancelled = co->woken_by_cancel = 0;
    co->undo = NULL;
    co->state = CORO_RUNNABLE;
    q_push(&s->runq, co);
    s->alive++;
    return co;
}

coro_t *coro_current(const coro_sched_t *s) { return s->current; }
uint32_t coro_alive(const coro_sched_t *s) { return s->alive; }
int coro_cancelled(const coro_t *co) { return co->cancelled; }

int coro_park(coro_sched_t *s, coro_undo_fn *undo, void *arg) {
    coro_t *co = s->current;
    if (co->cancelled && undo) {
        undo(arg);
        errno = ECANCELED;
        return -1;
    }
    co->undo = undo;
    co->undo_arg = arg;
    co->state = CORO_PARKED;
    suspend(s, co);
    co->undo = NULL;
    if (!co->woken_by_cancel) return 0;
    co->woken_by_cancel = 0;
    errno = ECANCELED;
    return -1;
}

void coro_wake(coro_t *co) {
    if (co->state != CORO_PARKED) return;
    q_unlink(co); /* off its wait queue, if it was on one */
    co->state = CORO_RUNNABLE;
    q_push(&co->s->runq, co);
}

/* The three states cancellation meets: parked in a cancellable wait (undo it, wake it with -1),
 * parked in one that is not, runnable or running (it finds the mark at its next wait). */
void coro_cancel(coro_t *co) {
    if (co->state == CORO_DONE || co->cancelled) return;
    co->cancelled = 1;
    if (co->state != CORO_PARKED || !co->undo) return;
    co->undo(co->undo_arg);
    co->woken_by_cancel = 1;
    coro_wake(co);
}

static int64_t on_sleep_done(loop_t *l, void *data) {
    coro_wake(data);
    return LOOP_TIMER_STOP;
}

static void undo_sleep(void *arg) {
    coro_t *co = arg;
    loop_timer_stop(co->s->loop, &co->timer);
}

int coro_sleep(coro_sched_t *s, uint64_t us) {
    coro_t *co = s->current;
    if (loop_timer_start(s->loop, &co->timer, us, on_sleep_done, co) < 0) return -1;
    return coro_park(s, undo_sleep, co);
}

static void undo_wait(void *arg) { q_unlink(arg); }

int coro_wait(coro_sched_t *s, coro_queue_t *q) {
    coro_t *co = s->current;
    q_push(q, co);
    return coro_park(s, undo_wait, co);
}

void coro_signal(coro_queue_t *q) {
    if (q->head) coro_wake(q->head);
}

void coro_broadcast(coro_queue_t *q) {
    while (q->head) coro_wake(q->head);
}

size_t coro_stack_peak(const coro_sched_t *s) {
    size_t pages = s->stack_size / s->page, peak = 0;
    unsigned char *vec = malloc(pages);
    for (const coro_t *co = s->all; vec && co; co = co->all_next) {
        if (mincore(co->map + s->page, s->stack_size, vec) < 0) continue;
        size_t low = 0;
        while (low < pages && !(vec[low] & 1)) low++; /* the lowest page ever touched */
        if ((pages - low) * s->page > peak) peak = (pages - low) * s->page;
    }
    free(vec);
    return peak;
}
