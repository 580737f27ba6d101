/* delayrelay: a TCP relay that adds a fixed round trip, for bench/distributed.sh on kernels without
 * sch_netem (no `tc netem`). It listens on one address, connects each client to a target (Redis),
 * and forwards bytes both ways, holding each chunk for half the round trip in each direction, so
 * a request and its answer cross it in RTT more than they would directly.
 *
 * How. One thread, one epoll set, a timerfd. Every chunk read (from either side of any connection)
 * waits the same time, so the chunks fall due in the order they were read: one FIFO for all of
 * them, and the timer armed at the head's due time. A due chunk goes to its side's output buffer
 * and is written as far as the socket takes it (EPOLLOUT for the rest). An end of stream is a
 * chunk too, so the far side's shutdown comes after the data before it. A connection is freed once
 * it is closed and no queued chunk points at it. Bandwidth is not limited; only delay is added.
 *
 * usage: delayrelay LISTEN_IP:PORT TARGET_IP:PORT RTT_US   (PORT 0: any; prints "listening on
 * IP:PORT"; runs until SIGTERM or SIGINT) */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX 65536

typedef struct conn conn_t;

typedef struct side { /* one socket of a connection, and what waits to be written to it */
    conn_t *c;
    int fd;
    char *out;
    size_t outlen, outcap;
    int eof_due; /* shut down writing once out is empty */
    int rd_eof;  /* its peer sent an end of stream: nothing more to read */
    int gone;    /* hung up after that: out of the epoll set, nothing more to write either */
} side_t;

struct conn {
    side_t s[2];     /* 0: the client, 1: the target */
    uint32_t queued; /* chunks in the FIFO that point here */
    int closed;
    conn_t *next_dead; /* closed: freed at the end of the loop iteration once nothing points here */
};

typedef struct chunk {
    struct chunk *next;
    side_t *to;
    uint64_t due_us;
    size_t len; /* 0: end of stream */
    char data[];
} chunk_t;

static chunk_t *head, *tail;
static conn_t *dead;
static char ev_listen, ev_timer; /* their addresses tell the listener's and the timer's events */
static int ep, tfd;
static uint64_t half_us;
static volatile sig_atomic_t stopping;

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void arm(void) {
    struct itimerspec it = {0};
    if (head) {
        uint64_t t = head->due_us;
        it.it_value =
            (struct timespec){.tv_sec = (time_t)(t / 1000000), .tv_nsec = (long)(t % 1000000) * 1000};
        if (!t) it.it_value.tv_nsec = 1;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* Closes both sockets; the memory waits for reap(): later events of this iteration point at it. */
static void conn_close(conn_t *c) {
    if (c->closed) return;
    for (int i = 0; i < 2; i++)
        close(c->s[i].fd); /* close() takes them out of the epoll set */
    c->closed = 1;
    c->next_dead = dead;
    dead = c;
}

/* Frees the closed connections no queued chunk points at. */
static void reap(void) {
    conn_t **p = &dead;
    while (*p) {
        conn_t *c = *p;
        if (c->queued) {
            p = &c->next_dead;
            continue;
        }
        *p = c->next_dead;
        free(c->s[0].out);
        free(c->s[1].out);
        free(c);
    }
}

/* Both ways ended and everything delivered: close. */
static void maybe_done(conn_t *c) {
    side_t *a = &c->s[0], *b = &c->s[1];
    if (a->eof_due && b->eof_due && !a->outlen && !b->outlen && !c->queued) conn_close(c);
}

static void watch(side_t *s) {
    struct epoll_event ev = {.events = (s->rd_eof ? 0 : EPOLLIN) | (s->outlen ? EPOLLOUT : 0), .data.ptr = s};
    if (!s->gone) epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Writes what s has due; shuts its writing down after an end of stream. -1: the connection died. */
static int flush(side_t *s) {
    if (s->gone) s->outlen = 0; /* its peer is gone: nobody to write to */
    while (s->outlen) {
        ssize_t n = send(s->fd, s->out, s->outlen, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        memmove(s->out, s->out + n, s->outlen - (size_t)n);
        s->outlen -= (size_t)n;
    }
    watch(s);
    if (!s->outlen && s->eof_due && !s->gone) shutdown(s->fd, SHUT_WR);
    maybe_done(s->c);
    return 0;
}

static int deliver(chunk_t *k) {
    side_t *s = k->to;
    if (!k->len) return s->eof_due = 1, flush(s);
    if (s->outlen + k->len > s->outcap) {
        size_t cap = (s->outlen + k->len) * 2;
        char *p = realloc(s->out, cap);
        if (!p) return -1;
        s->out = p, s->outcap = cap;
    }
    memcpy(s->out + s->outlen, k->data, k->len);
    s->outlen += k->len;
    return flush(s);
}

/* The timer: every chunk due goes out. */
static void on_timer(void) {
    uint64_t expirations, now = now_us();
    if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) return;
    while (head && head->due_us <= now) {
        chunk_t *k = head;
        head = k->next;
        if (!head) tail = NULL;
        conn_t *c = k->to->c;
        c->queued--;
        if (!c->closed && deliver(k) < 0) conn_close(c);
        free(k);
    }
    arm();
}

/* Reads what side s has and queues it for the other side. */
static void on_read(side_t *s) {
    conn_t *c = s->c;
    char buf[CHUNK_MAX];
    ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) return conn_close(c);
    chunk_t *k = malloc(sizeof(*k) + (size_t)n);
    if (!k) return conn_close(c);
    *k = (chunk_t){.to = &c->s[s == &c->s[0]], .due_us = now_us() + half_us, .len = (size_t)n};
    memcpy(k->data, buf, (size_t)n);
    if (n == 0) { /* end of stream: stop reading this side */
        s->rd_eof = 1;
        watch(s);
    }
    c->queued++;
    if (tail)
        tail->next = k;
    else
        head = k;
    tail = k;
    if (head == k) arm();
}

static int parse_addr(const char *s, struct sockaddr_in *a) {
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host)) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int add(int fd, void *ptr) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* A client: connect it to the target (blocking: the target is near), and watch both sockets. */
static void on_accept(int lfd, const struct sockaddr_in *target) {
    int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), b = -1, one = 1;
    conn_t *c = NULL;
    if (a < 0) return;
    if ((b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(b, (const struct sockaddr *)target, sizeof(*target)) < 0 || !(c = calloc(1, sizeof(*c))))
        goto fail;
    if (fcntl(b, F_SETFL, O_NONBLOCK) < 0) goto fail;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* the delay is ours, not Nagle's */
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->s[0] = (side_t){.c = c, .fd = a}, c->s[1] = (side_t){.c = c, .fd = b};
    if (add(a, &c->s[0]) == 0 && add(b, &c->s[1]) == 0) return;
fail:
    close(a);
    if (b >= 0) close(b);
    free(c);
}

/* One socket event: the listener, the timer, or a side of a connection. */
static void dispatch(const struct epoll_event *ev, int lfd, const struct sockaddr_in *target) {
    if (ev->data.ptr == &ev_listen) return on_accept(lfd, target);
    if (ev->data.ptr == &ev_timer) return on_timer();
    side_t *s = ev->data.ptr;
    if ((ev->events & EPOLLOUT) && !s->c->closed && flush(s) < 0) conn_close(s->c);
    if (s->c->closed || !(ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    if (!s->rd_eof) return on_read(s);
    if (s->gone) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL); /* hung up after its end of stream: stop hearing of it */
    s->gone = 1;
    s->eof_due = 1;
    flush(s);
}

static void on_stop(int sig) { (void)sig, stopping = 1; }

static int listen_on(const struct sockaddr_in *addr) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    char ip[INET_ADDRSTRLEN];
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&got, &len) < 0)
        return -1;
    printf("listening on %s:%d\n", inet_ntop(AF_INET, &got.sin_addr, ip, sizeof(ip)), ntohs(got.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv) {
    struct sockaddr_in laddr, target;
    if (argc != 4 || parse_addr(argv[1], &laddr) < 0 || parse_addr(argv[2], &target) < 0) {
        fprintf(stderr, "usage: delayrelay LISTEN_IP:PORT TARGET_IP:PORT RTT_US\n");
        return 2;
    }
    half_us = strtoull(argv[3], NULL, 10) / 2;
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    prctl(PR_SET_TIMERSLACK, 1UL); /* the kernel's default 50 us slack would add to every chunk */
    int lfd = listen_on(&laddr);
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (lfd < 0 || ep < 0 || tfd < 0 || add(lfd, &ev_listen) < 0 || add(tfd, &ev_timer) < 0) {
        perror("delayrelay");
        return 1;
    }
    while (!stopping) {
        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, -1);
        for (int i = 0; i < n; i++)
            dispatch(&ev[i], lfd, &target);
        reap();
    }
    return 0;
}
