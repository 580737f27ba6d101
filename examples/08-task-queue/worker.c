/* A task-queue worker (guide section 5.4, celery's worker) on a real broker, Redis. Tasks wait in
 * the Redis list "ex:tasks" as "ID add X Y"; a worker pops one (BRPOP blocks until there is one),
 * runs it, and pushes the result to the list "ex:result:ID" (the result backend), where the client
 * waits for it. Start as many workers as you like, on any machine that reaches the broker: they
 * share nothing but Redis. Sibling: client.c.
 *
 * usage: worker [PORT [MAX_TASKS]]   (Redis on 127.0.0.1:PORT, default 6379; 0: run until SIGTERM) */
#include "ex.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { stop = sig; }

static redisReply *command(redisContext *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    if (!rep) die("redis: %s", r->errstr);
    if (rep->type == REDIS_REPLY_ERROR) die("redis: %s", rep->str);
    return rep;
}

int main(int argc, char **argv) {
    int port = (int)ex_arg(argc, argv, 1, 6379, 1, 65535, "[PORT [MAX_TASKS]]");
    long max = ex_arg(argc, argv, 2, 0, 0, 1000000000, "[PORT [MAX_TASKS]]");
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    redisContext *r = redisConnect("127.0.0.1", port);
    if (!r || r->err) die("redis 127.0.0.1:%d: %s", port, r ? r->errstr : "out of memory");
    printf("worker: ready\n"); /* connected, and SIGTERM handled from here on */
    fflush(stdout);

    long done = 0;
    /* guide:begin task_worker */
    while (!stop && (max == 0 || done < max)) {
        /* Wait up to 1 s for a task, so that a SIGTERM is noticed within a second. */
        redisReply *rep = command(r, "BRPOP ex:tasks 1");
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
            long id, x, y;
            if (sscanf(rep->element[1]->str, "%ld add %ld %ld", &id, &x, &y) != 3)
                die("bad task '%s'", rep->element[1]->str);
            freeReplyObject(command(r, "RPUSH ex:result:%ld %ld", id, x + y));
            done++;
        }
        freeReplyObject(rep);
    }
    /* guide:end task_worker */
    printf("worker: %ld tasks done\n", done);
    redisFree(r);
    return 0;
}
