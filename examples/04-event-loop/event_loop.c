/* An event loop (guide section 4): one thread, N requests in flight. Each connection is a small
 * state machine (connecting -> sending -> reading -> done) that epoll moves along whenever its socket
 * is ready; nothing ever blocks, so the N requests wait together and the batch takes about one
 * latency. This is what asyncio does under `await asyncio.gather(...)`. Plain sockets, no library.
 * The real thing: src/ev/loop.c and src/crawl/models/epoll.c.
 *
 * usage: event_loop [PORT [N]]   (the demo server on 127.0.0.1:PORT, default 5000; 10 pages) */
#include "ex.h"
#include "exhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { SENDING, READING, DONE };
typedef struct {
    int fd, state;
    char req[160], resp[16384];
    size_t sent, got;
} conn_t;

static int open_nonblocking(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    return fd; /* the connect completes in the background; EPOLLOUT says when */
}

/* guide:begin event_loop_step */
/* One readiness event: do what can be done without blocking, and say whether the conn is done. */
static int step(conn_t *c) {
    if (c->state == SENDING) {
        ssize_t w = send(c->fd, c->req + c->sent, strlen(c->req) - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) /* not ready after all: wait for the next event */
            return 0;
        if (w < 0) die("send: %s", strerror(errno));
        if ((c->sent += (size_t)w) == strlen(c->req)) c->state = READING;
        return 0;
    }
    ssize_t r = recv(c->fd, c->resp + c->got, sizeof c->resp - 1 - c->got, 0);
    if (r < 0 && errno == EAGAIN) return 0;
    if (r < 0) die("recv: %s", strerror(errno));
    c->got += (size_t)r;
    c->resp[c->got] = '\0';
    return r == 0 || c->got == sizeof c->resp - 1; /* "Connection: close": the end is EOF */
}
/* guide:end event_loop_step */

int main(int argc, char **argv) {
    int port = (int)ex_arg(argc, argv, 1, 5000, 1, 65535, "[PORT [N]]");
    int n = (int)ex_arg(argc, argv, 2, 10, 1, 1000, "[PORT [N]]");
    char base[64], path[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/", port);
    ex_http_init();
    ex_http_t *h = ex_http_new(); /* the page ids, with one ordinary blocking request */
    snprintf(path, sizeof path, "graph/sample?n=%d", n);
    const char *sample = ex_http_get(h, base, path);

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    conn_t *conns = Malloc((size_t)n * sizeof *conns);
    double t0 = ex_now();
    for (int i = 0; i < n; i++) {
        char id[EX_ID_MAX];
        ex_page_id(sample, i, id);
        snprintf(conns[i].req, sizeof conns[i].req,
                 "GET /api/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", id);
        conns[i].fd = open_nonblocking(port);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &conns[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
    }
    /* guide:begin event_loop_run */
    for (int left = n; left > 0;) {
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, -1); /* the only place this thread ever waits */
        if (k < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int e = 0; e < k; e++) {
            conn_t *c = evs[e].data.ptr;
            if (c->state == DONE || !step(c)) continue;
            c->state = DONE;
            close(c->fd); /* also removes it from epoll */
            left--;
            printf("page %d done at %.3f s: %d links\n", (int)(c - conns), ex_now() - t0,
                   ex_links(strstr(c->resp, "\r\n\r\n") ?: "", NULL, 0));
        }
    }
    /* guide:end event_loop_run */
    printf("event loop: %d pages in %.3f s on one thread\n", n, ex_now() - t0);
    close(ep);
    free(conns);
    ex_http_free(h);
    return 0;
}
