/* The hiredis async adapter for loop_t (see redisloop.h). The fd is registered once, silent, at
 * attach time, so that hiredis's add/del hooks, which cannot fail, only change its mask. */
#include "ev/redisloop.h"

#include <stdlib.h>

typedef struct redisloop {
    redisAsyncContext *ac;
    loop_t *loop;
    int fd, mask;
    int in_cb, dead; /* hiredis may free the context inside a callback: free ourselves after it */
} redisloop_t;

static void on_fd(loop_t *l, int fd, void *data, int mask) {
    redisloop_t *e = data;
    e->in_cb = 1;
    if (mask & LOOP_READABLE) redisAsyncHandleRead(e->ac);
    if (!e->dead && (mask & LOOP_WRITABLE) && (e->mask & LOOP_WRITABLE)) redisAsyncHandleWrite(e->ac);
    e->in_cb = 0;
    if (e->dead) free(e);
}

static void set_mask(redisloop_t *e, int mask) {
    if (mask == e->mask) return;
    e->mask = mask;
    loop_set_fd(e->loop, e->fd, mask); /* a MOD on a registered fd: only ENOMEM could fail it */
}

static void add_read(void *p) { set_mask(p, ((redisloop_t *)p)->mask | LOOP_READABLE); }
static void del_read(void *p) { set_mask(p, ((redisloop_t *)p)->mask & ~LOOP_READABLE); }
static void add_write(void *p) { set_mask(p, ((redisloop_t *)p)->mask | LOOP_WRITABLE); }
static void del_write(void *p) { set_mask(p, ((redisloop_t *)p)->mask & ~LOOP_WRITABLE); }

/* hiredis frees the context: forget the fd before hiredis closes it. */
static void cleanup(void *p) {
    redisloop_t *e = p;
    loop_del_fd(e->loop, e->fd);
    if (e->in_cb)
        e->dead = 1;
    else
        free(e);
}

int redisloop_attach(loop_t *l, redisAsyncContext *ac) {
    if (ac->ev.data) return -1; /* something is attached already */
    redisloop_t *e = calloc(1, sizeof(*e));
    if (!e) return -1;
    *e = (redisloop_t){.ac = ac, .loop = l, .fd = ac->c.fd};
    if (loop_add_fd(l, e->fd, 0, on_fd, e) < 0) {
        free(e);
        return -1;
    }
    ac->ev.data = e;
    ac->ev.addRead = add_read, ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write, ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
