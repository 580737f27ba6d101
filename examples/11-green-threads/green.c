/* Green threads (guide section 7.1, gevent): code that reads as blocking (connect, send, recv in
 * a plain loop, like ../01-sequential) runs as N coroutines on one thread. The trick is in
 * green_wait(): instead of blocking the thread, it parks the coroutine on its socket and switches
 * to the others; the hub polls every parked socket and wakes the ones that are ready. That is what
 * gevent's monkey.patch_all() does to socket.recv. The real thing: src/crawl/models/green.c.
 *
 * usage: green [PORT [N]]   (the demo server on 127.0.0.1:PORT, default 5000; 10 green threads) */
#include "ex.h"
#include "excoro.h"
#include "exhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { MAXG = 64 };
static struct pollfd waiting[MAXG]; /* waiting[i]: what green thread i is parked on (fd -1: none) */
static int port;

/* guide:begin green_wait */
/* "Blocks" the calling green thread until fd is ready for events; the thread itself never blocks. */
static void green_wait(int fd, short events) {
    waiting[co_self()] = (struct pollfd){.fd = fd, .events = events};
    co_block();
}

/* The hub: runs when every green thread is parked; wakes those whose socket is ready. */
static void hub(void) {
    if (poll(waiting, MAXG, -1) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    for (int i = 0; i < MAXG; i++)
        if (waiting[i].fd >= 0 && waiting[i].revents) {
            waiting[i].fd = -1;
            co_wake(i);
        }
}
/* guide:end green_wait */

/* guide:begin green_get */
/* Looks blocking, line for line; every wait is a green_wait(). Returns the links on the page. */
static int green_get(const char *id) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS))
        die("connect: %s", strerror(errno));
    char req[160], resp[16384];
    int len =
        snprintf(req, sizeof req, "GET /api/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", id);
    green_wait(fd, POLLOUT);
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) /* a small request fits the socket buffer */
        die("send: %s", strerror(errno));
    size_t got = 0;
    for (;;) { /* "Connection: close": the answer ends at end of file */
        green_wait(fd, POLLIN);
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r < 0) die("recv: %s", strerror(errno));
        if (r == 0 || (got += (size_t)r) == sizeof resp - 1) break;
    }
    resp[got] = '\0';
    close(fd);
    return ex_links(resp, NULL, 0);
}
/* guide:end green_get */

typedef struct {
    char id[EX_ID_MAX];
    int links;
} job_t;

static void fetcher(void *arg) {
    job_t *j = arg;
    j->links = green_get(j->id);
}

int main(int argc, char **argv) {
    port = (int)ex_arg(argc, argv, 1, 5000, 1, 65535, "[PORT [N]]");
    int n = (int)ex_arg(argc, argv, 2, 10, 1, MAXG, "[PORT [N]]");
    char base[64], path[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/", port);
    ex_http_init();
    ex_http_t *h = ex_http_new(); /* the page ids, with one ordinary request */
    snprintf(path, sizeof path, "graph/sample?n=%d", n);
    const char *sample = ex_http_get(h, base, path);
    job_t jobs[MAXG];
    for (int i = 0; i < MAXG; i++)
        waiting[i].fd = -1;

    double t0 = ex_now();
    for (int i = 0; i < n; i++) {
        ex_page_id(sample, i, jobs[i].id);
        co_spawn(fetcher, &jobs[i]);
    }
    co_run(hub);
    long links = 0;
    for (int i = 0; i < n; i++)
        links += jobs[i].links;
    printf("green threads: %d pages, %ld links in %.3f s on one thread\n", n, links, ex_now() - t0);
    ex_http_free(h);
    return 0;
}
