/* Internal to src/server/: the connection state machine (conn.c) and the worker and server state it
 * shares with server.c. Nothing outside src/server/ includes this; the public API is server.h.
 *
 * Fields of conn_t are private to conn.c except fd, state, in, out, out_off, head_start_us,
 * last_active_us and keep_alive, which server.c reads (timeouts, draining) and may set
 * (keep_alive = 0, state = CONN_CLOSING when draining). */
#ifndef CRAWLBENCH_CONN_H
#define CRAWLBENCH_CONN_H

#include "base/buf.h"
#include "server/audit.h"
#include "http/http.h"
#include "ev/loop.h"
#include "server/routes.h"
#include "server/server.h"

#include <pthread.h>
#include <stdatomic.h>

#define READ_CHUNK 16384

typedef enum conn_state { CONN_READING, CONN_DELAYED, CONN_HUNG, CONN_SLOW, CONN_CLOSING, CONN_CLOSED } conn_state_t;

typedef struct worker worker_t;

typedef struct conn {
    struct sockaddr_storage peer; /* the client's address, for its rate limit */
    int fd;
    conn_state_t state;
    worker_t *w;
    buf_t in, out;
    size_t out_off;          /* bytes of out already written */
    size_t parsed_len;       /* last_len for the parser */
    uint64_t head_start_us;  /* when the current, unfinished request began arriving; 0 = none */
    uint64_t last_active_us;
    int keep_alive;          /* of the request being answered */
    int read_eof;            /* the client half-closed: answer what is pending, then close */
    int nodelay;             /* TCP_NODELAY is set */
    loop_timer_t timer;      /* delay, slow trickle or hang */
    buf_t pending;           /* a reply waiting for its delay, or being trickled */
    size_t pending_off;
    size_t pending_head;     /* until released: where the head's Connection line and CRLF go */
    int pending_minor;       /* the request's HTTP minor version */
    fault_kind_t pending_fault;
    int64_t pending_page;
    struct conn *prev, *next; /* the worker's list of connections */
    struct conn *next_closed;
} conn_t;

struct worker {
    server_t *srv;
    int index;
    pthread_t thread;
    loop_t *loop;
    int listen_fd;
    int reserve_fd;           /* spare fd, released to accept-and-drop when out of fds */
    conn_t *conns;            /* all open connections */
    conn_t *closed;           /* closed, to be freed before the next sleep */
    uint32_t nconns;
    audit_counters_t *counters;
    buf_t body;               /* scratch for route bodies */
    char rbuf[READ_CHUNK];    /* scratch for reads */
    loop_timer_t sweep_timer, drain_timer, accept_timer;
    int draining;
};

struct server {
    server_config_t cfg;
    routes_env_t env;
    audit_t *audit;
    ratelimit_t *ratelimit;  /* NULL: no rate limit */
    worker_t *workers;
    int threads;
    int started;      /* worker threads running */
    int port;
    uint64_t fd_limit;
    _Atomic uint32_t conns_open;
    _Atomic uint64_t random_calls;
    _Atomic int stopping;
};

/* Wraps an accepted socket in a connection of w, watching it for requests. NULL on OOM. */
conn_t *conn_new(worker_t *w, int fd, const struct sockaddr_storage *peer);
/* Closes c now (reset: with RST instead of FIN); its memory is freed by conn_free_closed(). */
void conn_close(conn_t *c, int reset);
/* Frees the connections closed since the last call. Called before the loop sleeps. */
void conn_free_closed(worker_t *w);
/* Writes what c owes; -1 when c was closed by it. */
int conn_flush(conn_t *c);
/* Answers status with a JSON error and closes c once the answer is out. */
void conn_reject(conn_t *c, int status, const char *message);

#endif
