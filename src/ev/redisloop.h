/* redisloop: runs a hiredis 0.14 async connection (redisAsyncContext) on the project's loop_t, the
 * way hiredis's adapters/ae.h runs one on redis's ae loop: hiredis says when it wants to read or
 * write its socket, the adapter watches the fd and calls redisAsyncHandleRead/Write back. Commands
 * issued in one loop iteration leave in one write when the socket turns writable: pipelining for
 * free. Everything runs on the loop's thread. */
#ifndef CRAWLBENCH_REDISLOOP_H
#define CRAWLBENCH_REDISLOOP_H

#include "ev/loop.h"

#include <hiredis/async.h>

/* Attaches ac (fresh from redisAsyncConnect, no error set) to l. The adapter lives until hiredis
 * frees the context (its cleanup hook), which removes the fd from the loop. 0, or -1 (errno) when
 * the fd cannot be watched or memory runs out: then the caller still owns ac and frees it. */
int redisloop_attach(loop_t *l, redisAsyncContext *ac);

#endif
