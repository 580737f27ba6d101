/* The examples' coroutines (see excoro.h): each has its own stack and saved registers; switching
 * is swapcontext(), a function call that returns in another coroutine. Never preempted: a
 * coroutine runs until it yields, blocks or returns. */
#include "excoro.h"

#include "ex.h"

#include <stdlib.h>
#include <ucontext.h>

enum { CO_MAX = 64, CO_STACK = 64 * 1024 };
enum { FREE, RUNNABLE, BLOCKED };

typedef struct {
    ucontext_t ctx;
    char *stack;
    int state;
    co_fn *fn;
    void *arg;
} coro_t;

static coro_t coros[CO_MAX];
static ucontext_t sched_ctx;
static int current = -1;

static void trampoline(void) {
    coro_t *c = &coros[current];
    c->fn(c->arg);
    c->state = FREE; /* returning switches to uc_link: the scheduler, which frees the stack */
}

/* Apart from co_spawn's loop, so that no loop variable lives across getcontext() (which returns
 * twice, as setjmp does). */
static void make_coro(coro_t *c) {
    c->stack = Malloc(CO_STACK);
    if (getcontext(&c->ctx) != 0) die("getcontext failed");
    c->ctx.uc_stack.ss_sp = c->stack;
    c->ctx.uc_stack.ss_size = CO_STACK;
    c->ctx.uc_link = &sched_ctx;
    makecontext(&c->ctx, trampoline, 0);
}

int co_spawn(co_fn *fn, void *arg) {
    for (int i = 0; i < CO_MAX; i++) {
        if (coros[i].state != FREE || coros[i].stack) continue;
        make_coro(&coros[i]);
        coros[i].fn = fn, coros[i].arg = arg, coros[i].state = RUNNABLE;
        return i;
    }
    die("more than %d coroutines", CO_MAX);
}

static void to_scheduler(void) {
    if (swapcontext(&coros[current].ctx, &sched_ctx) != 0) die("swapcontext failed");
}

void co_yield (void) { to_scheduler(); }
void co_block(void) {
    coros[current].state = BLOCKED;
    to_scheduler();
}
void co_wake(int id) {
    if (coros[id].state == BLOCKED) coros[id].state = RUNNABLE;
}
int co_self(void) { return current; }

void co_run(void (*idle)(void)) {
    for (;;) {
        int live = 0, ran = 0;
        for (int i = 0; i < CO_MAX; i++) {
            if (coros[i].state == FREE && coros[i].stack) { /* returned: reclaim its stack */
                free(coros[i].stack);
                coros[i].stack = NULL;
            }
            live += coros[i].state != FREE;
            if (coros[i].state != RUNNABLE) continue;
            current = i, ran = 1;
            if (swapcontext(&sched_ctx, &coros[i].ctx) != 0) die("swapcontext failed");
            current = -1;
        }
        if (!live) return;
        if (!ran && idle)
            idle();
        else if (!ran)
            die("every coroutine is blocked and nothing can wake them");
    }
}
