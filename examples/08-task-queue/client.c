/* A task-queue client (guide section 5.4, celery's `add.delay(4, 4)` then `result.get()`): it
 * enqueues N tasks on the Redis broker and then collects each result from the result backend,
 * waiting (BLPOP) for the ones not yet done. It never runs a task itself: the workers do, in other
 * processes. Task ids come from INCR, so several clients can share a broker. Sibling: worker.c.
 *
 * usage: client [PORT [N]]   (Redis on 127.0.0.1:PORT, default 6379; 10 tasks: add(4, 4), add(5, 5), ...) */
#include "ex.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

static redisReply *checked(redisContext *r, redisReply *rep) {
    if (!rep) die("redis: %s", r->errstr);
    if (rep->type == REDIS_REPLY_ERROR) die("redis: %s", rep->str);
    return rep;
}

int main(int argc, char **argv) {
    int port = (int)ex_arg(argc, argv, 1, 6379, 1, 65535, "[PORT [N]]");
    int n = (int)ex_arg(argc, argv, 2, 10, 1, 100000, "[PORT [N]]");
    redisContext *r = redisConnect("127.0.0.1", port);
    if (!r || r->err) die("redis 127.0.0.1:%d: %s", port, r ? r->errstr : "out of memory");
    long *ids = Malloc((size_t)n * sizeof *ids);

    /* guide:begin task_client */
    for (int i = 0; i < n; i++) { /* add.delay(4 + i, 4 + i) */
        redisReply *rep = checked(r, redisCommand(r, "INCR ex:next_id"));
        ids[i] = rep->integer;
        freeReplyObject(rep);
        char task[64]; /* one argument: hiredis splits its format string at spaces */
        snprintf(task, sizeof task, "%ld add %d %d", ids[i], 4 + i, 4 + i);
        freeReplyObject(checked(r, redisCommand(r, "LPUSH ex:tasks %s", task)));
    }
    for (int i = 0; i < n; i++) { /* result.get(timeout=10) */
        redisReply *rep = checked(r, redisCommand(r, "BLPOP ex:result:%ld 10", ids[i]));
        if (rep->type != REDIS_REPLY_ARRAY)
            die("task %ld: no result within 10 s (is a worker running?)", ids[i]);
        printf("add(%d, %d) = %s\n", 4 + i, 4 + i, rep->element[1]->str);
        freeReplyObject(rep);
    }
    /* guide:end task_client */
    free(ids);
    redisFree(r);
    return 0;
}
