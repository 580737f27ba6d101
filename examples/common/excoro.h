/* The examples' coroutines: ucontext stacks and a round-robin scheduler on one thread, the least
 * that shows what asyncio's tasks and gevent's greenlets are underneath. The real thing, with
 * guard pages and an event loop: src/ev/coro.c. */
#ifndef EXCORO_H
#define EXCORO_H

typedef void co_fn(void *arg);

int co_spawn(co_fn *fn, void *arg); /* a new runnable coroutine; returns its id (0..63) */
void co_yield (void);               /* lets the others run; comes back later */
void co_block(void);                /* sleeps until someone calls co_wake(co_self()) */
void co_wake(int id);
int co_self(void);

/* Runs the coroutines until all have returned. When every live one is blocked, calls idle(),
 * which must wake at least one (it is where a hub waits for I/O or timers). */
void co_run(void (*idle)(void));

#endif
