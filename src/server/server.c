/* The demo server's workers. Each worker thread owns one event loop, one SO_REUSEPORT listening
 * socket and every connection that socket accepts: nothing on the request path is shared between
 * threads except the graph (read-only) and the audit's per-page atomics.
 *
 * This file holds the workers: accepting, timeouts, draining, start and stop. Each connection is a
 * state machine of its own, in conn.c. */
#include "server/server.h"
#include "base/clock.h"
#include "base/fdlimit.h"

#include "server/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_INTERVAL_US 100000    /* timeout resolution */
#define ACCEPT_PAUSE_US 50000       /* out of fds: how long to stop accepting */

void server_config_init(server_config_t *cfg) {
    *cfg = (server_config_t){
        .host = "127.0.0.1",
        .port = 5000,
        .seed = 42,
        .faults = {.fail_with = FAULT_503},
        .retry_after_s = 1,
        .max_conns = 10000,
        .idle_timeout_us = 60 * 1000000ull,
        .header_timeout_us = 10 * 1000000ull,
        .hang_timeout_us = 300 * 1000000ull,
        .slow_chunk = 16,
        .slow_interval_us = 10000,
        .drain_timeout_us = 10 * 1000000ull,
    };
}

int server_port(const server_t *s) { return s->port; }
int server_threads(const server_t *s) { return s->threads; }
uint64_t server_fd_limit(const server_t *s) { return s->fd_limit; }

/* ---- workers: accepting, timeouts, draining ---- */

/* Timer: accepting was paused for want of file descriptors; try again. */
static int64_t resume_accepting(loop_t *l, void *data) {
    worker_t *w = data;
    if (w->reserve_fd < 0) w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (w->listen_fd >= 0) loop_set_fd(l, w->listen_fd, LOOP_READABLE);
    return LOOP_TIMER_STOP;
}

/* The keep-alive connection of this worker that has waited longest for a request, or NULL. */
static conn_t *oldest_idle(worker_t *w) {
    conn_t *oldest = NULL;
    for (conn_t *c = w->conns; c; c = c->next)
        if (c->state == CONN_READING && c->in.len == 0 && c->out_off == c->out.len &&
            (!oldest || c->last_active_us < oldest->last_active_us))
            oldest = c;
    return oldest;
}

/* Out of file descriptors. Like nginx, first close the keep-alive connection idle the longest: a
 * client waiting to connect matters more than one that may never send again. Failing that, spend
 * the spare descriptor to accept and drop a waiting client rather than leave it in the backlog
 * (libuv's trick). The spare is per worker and another worker may grab the number it frees, so
 * with no spare left, stop watching the listening socket for a moment: level-triggered epoll would
 * otherwise wake us for it in a tight loop. Returns 0 to go on accepting, -1 when paused. */
static int out_of_fds(worker_t *w) {
    conn_t *idle = oldest_idle(w);
    if (idle) {
        conn_close(idle, 0);
        if (w->reserve_fd < 0) w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return 0;
    }
    if (w->reserve_fd >= 0) {
        close(w->reserve_fd);
        int fd = accept(w->listen_fd, NULL, NULL);
        if (fd >= 0) close(fd);
        w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (w->reserve_fd >= 0) return 0;
    loop_set_fd(w->loop, w->listen_fd, 0);
    loop_timer_start(w->loop, &w->accept_timer, ACCEPT_PAUSE_US, resume_accepting, w);
    return -1;
}

static void accept_ready(loop_t *l, int lfd, void *data, int mask) {
    worker_t *w = data;
    server_t *srv = w->srv;
    (void)l;
    (void)mask;
    for (int i = 0; i < 64 && !w->draining; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EMFILE || errno == ENFILE) && out_of_fds(w) == 0) continue;
            return; /* EAGAIN, or an error the next readiness will show again */
        }
        if (atomic_fetch_add_explicit(&srv->conns_open, 1, memory_order_relaxed) >= srv->cfg.max_conns) {
            atomic_fetch_sub_explicit(&srv->conns_open, 1, memory_order_relaxed);
            close(fd);
            continue;
        }
        if (!conn_new(w, fd, &peer)) {
            atomic_fetch_sub_explicit(&srv->conns_open, 1, memory_order_relaxed);
            close(fd);
        }
    }
}

/* Timer, every SWEEP_INTERVAL_US: closes idle keep-alive connections, answers 408 to requests whose
 * head has been arriving for too long (slow loris), drops clients that stopped reading. */
static int64_t sweep(loop_t *l, void *data) {
    worker_t *w = data;
    const server_config_t *cfg = &w->srv->cfg;
    uint64_t now = clock_now_us();
    for (conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CONN_READING && c->head_start_us && now - c->head_start_us > cfg->header_timeout_us) {
            c->in.len = 0;
            conn_reject(c, 408, "request head not received in time");
            conn_flush(c);
        } else if ((c->state == CONN_READING || c->state == CONN_CLOSING) &&
                   now - c->last_active_us > cfg->idle_timeout_us) {
            conn_close(c, 0);
        }
    }
    (void)l;
    return SWEEP_INTERVAL_US;
}

static void stop_if_drained(worker_t *w) {
    if (w->draining && w->nconns == 0) loop_stop(w->loop);
}

static int64_t drain_deadline(loop_t *l, void *data) {
    worker_t *w = data;
    while (w->conns) conn_close(w->conns, 0);
    loop_stop(l);
    return LOOP_TIMER_STOP;
}

/* Wake-up from server_stop(): stop accepting, close what is idle, let requests in flight finish. */
static void on_wake(loop_t *l, void *data) {
    worker_t *w = data;
    if (!atomic_load(&w->srv->stopping) || w->draining) return;
    w->draining = 1;
    if (w->listen_fd >= 0) {
        loop_del_fd(l, w->listen_fd);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    for (conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        int owes_output = c->out_off < c->out.len;
        int idle = c->state == CONN_READING && c->in.len == 0 && !owes_output;
        c->keep_alive = 0;
        if (idle || c->state == CONN_HUNG) conn_close(c, 0);
        else if (c->state == CONN_READING && owes_output) c->state = CONN_CLOSING; /* flush, then close */
    }
    loop_timer_start(l, &w->drain_timer, w->srv->cfg.drain_timeout_us, drain_deadline, w);
}

static void before_sleep(loop_t *l, void *data) {
    worker_t *w = data;
    (void)l;
    conn_free_closed(w);
    stop_if_drained(w);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    loop_timer_start(w->loop, &w->sweep_timer, SWEEP_INTERVAL_US, sweep, w);
    if (loop_run(w->loop) < 0) perror("crawlbench: epoll_wait");
    while (w->conns) conn_close(w->conns, 0);
    conn_free_closed(w);
    return NULL;
}

/* ---- start and stop ---- */

/* Opens one listening socket on host:port with SO_REUSEPORT, so that every worker can have its own
 * and the kernel spreads connections between them. With `exclusive`, binds without SO_REUSEPORT
 * (and is closed again by the caller): that bind fails if any socket, of any process, already
 * listens there, which SO_REUSEPORT alone would let us join. Returns the fd, or -1 with err set. */
static int listen_on(const char *host, int port, int exclusive, char *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL, *ai;
    char portstr[16];
    int fd = -1, rc;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        snprintf(err, SERVER_ERR_LEN, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            (exclusive || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0) &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && (exclusive || listen(fd, 4096) == 0))
            break;
        snprintf(err, SERVER_ERR_LEN, "cannot listen on %s:%d: %s%s", host, port, strerror(errno),
                 errno == EADDRINUSE ? " (is another server running? choose another --port)" : "");
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* Frees every worker's resources; workers that were never initialised hold only -1 and NULL. */
static void free_workers(server_t *s) {
    for (int i = 0; i < s->threads; i++) {
        worker_t *w = &s->workers[i];
        if (w->listen_fd >= 0) close(w->listen_fd);
        if (w->reserve_fd >= 0) close(w->reserve_fd);
        loop_free(w->loop);
        buf_free(&w->body);
    }
    free(s->workers);
}

static int init_worker(server_t *s, int i, char *err) {
    worker_t *w = &s->workers[i];
    w->srv = s;
    w->index = i;
    w->counters = audit_worker(s->audit, i);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int setsize = s->fd_limit > (1u << 24) ? (1 << 24) : (int)s->fd_limit;
    if (!(w->loop = loop_create(setsize, err, SERVER_ERR_LEN))) return -1;
    if ((w->listen_fd = listen_on(s->cfg.host, s->port, 0, err)) < 0) return -1;
    if (s->port == 0) s->port = bound_port(w->listen_fd); /* the others join the port chosen here */
    if (loop_add_fd(w->loop, w->listen_fd, LOOP_READABLE, accept_ready, w) < 0) {
        snprintf(err, SERVER_ERR_LEN, "epoll: %s", strerror(errno));
        return -1;
    }
    loop_set_before_sleep(w->loop, before_sleep, w);
    loop_set_wake(w->loop, on_wake, w);
    return 0;
}

server_t *server_start(const server_config_t *cfg, char *err) {
    server_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, SERVER_ERR_LEN, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->threads < 1) s->threads = 1;
    s->port = cfg->port;
    s->fd_limit = fdlimit_raise(0);
    s->audit = audit_create(graph_pages(cfg->graph), s->threads);
    s->workers = calloc((size_t)s->threads, sizeof(*s->workers));
    if (cfg->rate_limit > 0) s->ratelimit = ratelimit_create(cfg->rate_limit, cfg->rate_burst ? cfg->rate_burst : 1);
    if (!s->audit || !s->workers || (cfg->rate_limit > 0 && !s->ratelimit)) {
        snprintf(err, SERVER_ERR_LEN, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->threads; i++) s->workers[i].listen_fd = s->workers[i].reserve_fd = -1;
    if (s->port != 0) { /* refuse a port someone already listens on, rather than share it */
        int probe = listen_on(cfg->host, s->port, 1, err);
        if (probe < 0) goto fail;
        close(probe);
    }
    for (int i = 0; i < s->threads; i++)
        if (init_worker(s, i, err) < 0) goto fail;
    s->env = (routes_env_t){.cfg = &s->cfg, .graph = cfg->graph, .audit = s->audit, .threads = s->threads,
                            .started_us = clock_now_us(), .conns_open = &s->conns_open,
                            .random_calls = &s->random_calls, .ratelimit = s->ratelimit};
    graph_shape(cfg->graph, &s->env.shape);
    if (s->ratelimit) ratelimit_policy_line(s->ratelimit, s->env.ratelimit_policy, sizeof(s->env.ratelimit_policy));
    for (; s->started < s->threads; s->started++) {
        int rc = pthread_create(&s->workers[s->started].thread, NULL, worker_main, &s->workers[s->started]);
        if (rc) {
            snprintf(err, SERVER_ERR_LEN, "cannot start worker thread: %s", strerror(rc));
            goto fail;
        }
    }
    return s;
fail:
    server_stop(s);
    server_wait(s);
    return NULL;
}

void server_stop(server_t *s) {
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->started; i++) loop_wake(s->workers[i].loop);
}

void server_wait(server_t *s) {
    for (int i = 0; i < s->started; i++) pthread_join(s->workers[i].thread, NULL);
    if (s->workers) free_workers(s);
    audit_free(s->audit);
    ratelimit_free(s->ratelimit);
    free(s);
}
