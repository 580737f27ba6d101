/* The demo server's connections and workers. Each worker thread owns one event loop, one
 * SO_REUSEPORT listening socket and every connection that socket accepts: nothing on the request
 * path is shared between threads except the graph (read-only) and the audit's per-page atomics.
 *
 * A connection is a small state machine:
 *
 *   READING --request--> reply now ---------------------------> READING (keep-alive) / CLOSING
 *           --request with a delay or a fault--> DELAYED --timer--> send, or apply the fault:
 *                                                  reset: RST now      close: FIN, no answer
 *                                                  truncate: half the body, then FIN
 *                                                  hang: HUNG until the client gives up
 *                                                  slow: SLOW, a few bytes per timer tick
 *
 * Pipelined requests are answered in order because nothing is parsed while a reply is pending.
 * Closing is deferred to the loop's before-sleep hook, so no callback ever frees the connection it
 * is running for (redis's freeClientAsync). */
#include "server/server.h"

#include "common/buf.h"
#include "server/audit.h"
#include "server/http.h"
#include "server/loop.h"
#include "server/routes.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADERS 64
#define MAX_BODY (64 * 1024)        /* request bodies are read and ignored; larger ones get 413 */
#define IN_LIMIT (HTTP_MAX_HEAD + MAX_BODY)
#define OUT_HIGH_WATER (256 * 1024) /* stop reading a client that does not read its answers */
#define SWEEP_INTERVAL_US 100000    /* timeout resolution */
#define READ_CHUNK 16384
#define ACCEPT_PAUSE_US 50000       /* out of fds: how long to stop accepting */

typedef enum conn_state { CONN_READING, CONN_DELAYED, CONN_HUNG, CONN_SLOW, CONN_CLOSING, CONN_CLOSED } conn_state_t;

typedef struct worker worker_t;

typedef struct conn {
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
    worker_t *workers;
    int threads;
    int started;      /* worker threads running */
    int port;
    uint64_t fd_limit;
    _Atomic uint32_t conns_open;
    _Atomic uint64_t random_calls;
    _Atomic int stopping;
};

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

static void conn_event(loop_t *l, int fd, void *data, int mask);
static int64_t conn_timer_fired(loop_t *l, void *data);
static void conn_process(conn_t *c);

/* ---- connection lifetime ---- */

/* Closes c now and frees it before the loop next sleeps. reset: abort with RST instead of FIN. */
static void conn_close(conn_t *c, int reset) {
    worker_t *w = c->w;
    if (c->state == CONN_CLOSED) return;
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    loop_forget_fd(w->loop, c->fd);
    loop_timer_stop(w->loop, &c->timer);
    close(c->fd);
    c->fd = -1;
    c->state = CONN_CLOSED;
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next_closed = w->closed;
    w->closed = c;
    w->nconns--;
    atomic_fetch_sub_explicit(&w->srv->conns_open, 1, memory_order_relaxed);
}

static void free_closed(worker_t *w) {
    while (w->closed) {
        conn_t *c = w->closed;
        w->closed = c->next_closed;
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->pending);
        free(c);
    }
}

static conn_t *conn_new(worker_t *w, int fd) {
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = fd;
    c->w = w;
    c->last_active_us = loop_now(w->loop);
    if (loop_add_fd(w->loop, fd, LOOP_READABLE, conn_event, c) < 0) {
        free(c);
        return NULL;
    }
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    return c;
}

/* ---- output ---- */

/* Writes as much of c->out as the socket takes and sets the events c waits for. Returns -1 when
 * the connection was closed (by error, or because it was CLOSING and is now flushed). */
static int conn_flush(conn_t *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            audit_count(&c->w->counters->bytes_out, (uint64_t)n);
            c->out_off += (size_t)n;
            c->last_active_us = loop_now(c->w->loop);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_close(c, 0);
        return -1;
    }
    if (c->out_off == c->out.len) {
        buf_clear(&c->out);
        c->out_off = 0;
        if (c->state == CONN_CLOSING) { /* close() sends the FIN */
            conn_close(c, 0);
            return -1;
        }
    }
    if (!c->nodelay && c->state != CONN_CLOSING) {
        /* A connection that stays open gets TCP_NODELAY, so that a small answer following another
         * is not held back by Nagle; one closing after its answer does not need the syscall. */
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->nodelay = 1;
    }
    int pending = c->out_off < c->out.len;
    int mask = pending ? LOOP_WRITABLE : 0;
    /* Keep reading (to notice a client that hangs up) unless it has stopped reading our answers. */
    if (c->state != CONN_CLOSING && !c->read_eof && c->out.len - c->out_off < OUT_HIGH_WATER &&
        c->in.len < IN_LIMIT)
        mask |= LOOP_READABLE;
    if (loop_set_fd(c->w->loop, c->fd, mask) < 0) {
        conn_close(c, 0);
        return -1;
    }
    return 0;
}

/* Appends the head of r's answer up to, not including, its Connection line and final CRLF: those
 * depend on whether the connection stays open, which a delayed answer decides only when it is sent.
 * 200 is formatted without printf: it is the hot path. The caller reserved the room. */
static void write_head(buf_t *dst, const routes_reply_t *r) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nServer: crawlbench\r\nContent-Type: ";
    if (r->status == 200) {
        buf_append_unchecked(dst, ok, sizeof(ok) - 1);
    } else {
        char line[96];
        int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nServer: crawlbench\r\nContent-Type: ",
                         r->status, http_reason(r->status));
        buf_append_unchecked(dst, line, (size_t)n);
    }
    buf_append_unchecked(dst, r->content_type, strlen(r->content_type));
    buf_append_unchecked(dst, "\r\nContent-Length: ", 18);
    char digits[24];
    int i = sizeof(digits);
    size_t v = r->body->len;
    do digits[--i] = (char)('0' + v % 10); while (v /= 10);
    buf_append_unchecked(dst, digits + i, sizeof(digits) - (size_t)i);
    buf_append_unchecked(dst, "\r\n", 2);
    buf_append_unchecked(dst, r->headers, r->headers_len);
}

/* The end of a head: the Connection line where one is needed, then the blank line. */
static const char *head_end(int keep_alive, int minor_version, size_t *len) {
    static const char close_end[] = "Connection: close\r\n\r\n", keep_end[] = "Connection: keep-alive\r\n\r\n";
    if (!keep_alive) return *len = sizeof(close_end) - 1, close_end;
    if (minor_version == 0) return *len = sizeof(keep_end) - 1, keep_end;
    return *len = 2, "\r\n";
}

static size_t reply_size(const routes_reply_t *r) {
    return 200 + strlen(r->content_type) + r->headers_len + r->body->len;
}

/* Appends the whole answer for r (head, then body unless HEAD) to dst. -1 on out-of-memory. */
static int write_reply(buf_t *dst, const routes_reply_t *r, int keep_alive, int minor_version) {
    size_t end_len;
    if (buf_reserve(dst, reply_size(r)) < 0) return -1;
    write_head(dst, r);
    const char *end = head_end(keep_alive, minor_version, &end_len);
    buf_append_unchecked(dst, end, end_len);
    if (!r->head_only) buf_append_unchecked(dst, r->body->data ? r->body->data : "", r->body->len);
    dst->data[dst->len] = '\0';
    return 0;
}

/* Completes a pending answer's head now that it is being sent: inserts the Connection line and
 * the blank line at pending_head, according to whether the connection stays open now. */
static int finish_pending(conn_t *c) {
    size_t end_len, body_len = c->pending.len - c->pending_head;
    const char *end = head_end(c->keep_alive, c->pending_minor, &end_len);
    if (buf_reserve(&c->pending, end_len) < 0) return -1;
    char *at = c->pending.data + c->pending_head;
    memmove(at + end_len, at, body_len);
    memcpy(at, end, end_len);
    c->pending.len += end_len;
    c->pending_head += end_len; /* from here on: where the body starts */
    return 0;
}

/* Moves the pending reply (or its first `upto` bytes) into the output buffer. */
static int move_pending(conn_t *c, size_t upto) {
    int rc = buf_append(&c->out, c->pending.data + c->pending_off, upto - c->pending_off);
    c->pending_off = upto;
    return rc;
}

/* Sends the rest of a pending answer, counts the page as served, and goes on with requests that
 * arrived meanwhile. Returns -1 if c was closed. */
static int conn_send_pending(conn_t *c) {
    worker_t *w = c->w;
    if (move_pending(c, c->pending.len) < 0) {
        conn_close(c, 0);
        return -1;
    }
    if (c->pending_page >= 0) audit_served(w->srv->audit, w->counters, (uint32_t)c->pending_page);
    c->state = c->keep_alive ? CONN_READING : CONN_CLOSING;
    buf_clear(&c->pending);
    conn_process(c); /* requests that arrived meanwhile: their answers join the output */
    if (c->state == CONN_CLOSED) return -1;
    return conn_flush(c);
}

/* Sends the reply that was waiting in c->pending, applying its fault. Returns -1 if c was closed. */
static int conn_release(conn_t *c) {
    worker_t *w = c->w;
    if (w->draining || c->read_eof) c->keep_alive = 0;
    switch (c->pending_fault) {
    case FAULT_RESET:
        conn_close(c, 1);
        return -1;
    case FAULT_CLOSE:
        c->state = CONN_CLOSING; /* what was answered before still goes out, then FIN */
        return conn_flush(c);
    case FAULT_HANG:
        c->state = CONN_HUNG;
        loop_timer_start(w->loop, &c->timer, w->srv->cfg.hang_timeout_us, conn_timer_fired, c);
        return conn_flush(c);
    default:
        break;
    }
    if (finish_pending(c) < 0) {
        conn_close(c, 0);
        return -1;
    }
    if (c->pending_fault == FAULT_TRUNCATE) {
        move_pending(c, c->pending_head + (c->pending.len - c->pending_head) / 2);
        c->state = CONN_CLOSING;
        return conn_flush(c);
    }
    if (c->pending_fault == FAULT_SLOW) {
        /* The first piece goes out on the next loop iteration, not from here: no recursion. */
        c->state = CONN_SLOW;
        loop_timer_start(w->loop, &c->timer, 0, conn_timer_fired, c);
        return 0;
    }
    return conn_send_pending(c);
}

/* Timer: a delay ran out, a slow reply's next piece is due, or a hung request has hung long enough. */
static int64_t conn_timer_fired(loop_t *l, void *data) {
    conn_t *c = data;
    const server_config_t *cfg = &c->w->srv->cfg;
    (void)l;
    if (c->state == CONN_DELAYED) {
        conn_release(c);
        return LOOP_TIMER_STOP;
    }
    if (c->state == CONN_HUNG) {
        conn_close(c, 0);
        return LOOP_TIMER_STOP;
    }
    if (c->state != CONN_SLOW) return LOOP_TIMER_STOP;
    size_t upto = c->pending_off + cfg->slow_chunk;
    if (upto >= c->pending.len) { /* the last piece */
        conn_send_pending(c);
        return LOOP_TIMER_STOP;
    }
    if (move_pending(c, upto) < 0 || conn_flush(c) < 0) {
        if (c->state != CONN_CLOSED) conn_close(c, 0);
        return LOOP_TIMER_STOP;
    }
    return (int64_t)cfg->slow_interval_us;
}

/* Answers one routed request: now, or after its delay and with its fault. Faults that end the
 * connection without a whole answer (reset, close, hang, truncate) are counted as faults only, not
 * as responses of their status. */
static void conn_reply(conn_t *c, routes_reply_t *r, int minor_version) {
    worker_t *w = c->w;
    int conn_fault = r->fault >= FAULT_RESET;
    if (!conn_fault || r->fault == FAULT_SLOW) audit_response(w->counters, r->route, r->status);
    if (r->fault != FAULT_NONE) audit_count(&w->counters->faults[r->fault], 1);
    if (w->draining) c->keep_alive = 0;
    if (r->delay_us == 0 && !conn_fault) {
        if (write_reply(&c->out, r, c->keep_alive, minor_version) < 0) {
            conn_close(c, 0);
            return;
        }
        if (r->page >= 0) audit_served(w->srv->audit, w->counters, (uint32_t)r->page);
        if (!c->keep_alive) c->state = CONN_CLOSING;
        return;
    }
    buf_clear(&c->pending);
    if (buf_reserve(&c->pending, reply_size(r)) < 0) {
        conn_close(c, 0);
        return;
    }
    write_head(&c->pending, r);
    c->pending_head = c->pending.len;
    if (!r->head_only) buf_append_unchecked(&c->pending, r->body->data ? r->body->data : "", r->body->len);
    c->pending_off = 0;
    c->pending_minor = minor_version;
    c->pending_fault = r->fault;
    c->pending_page = r->page;
    c->state = CONN_DELAYED;
    if (r->delay_us) loop_timer_start(w->loop, &c->timer, r->delay_us, conn_timer_fired, c);
    else conn_release(c);
}

/* ---- input ---- */

/* Answers a request the parser or the server rejected; the connection closes once it is sent. */
static void conn_reject(conn_t *c, int status, const char *message) {
    routes_reply_t r;
    memset(&r, 0, sizeof(r));
    r.route = ROUTE_OTHER;
    r.page = -1;
    routes_error(status, message, &c->w->body, &r);
    c->keep_alive = 0;
    conn_reply(c, &r, 1);
    c->state = CONN_CLOSING;
}

/* Parses and answers every complete request in data[0..len), in order, while c is READING.
 * Returns the bytes consumed; the caller keeps the rest for later. A rejected request consumes
 * everything (the connection is closing). parsed_len is only meaningful when data is c->in. */
static size_t conn_parse(conn_t *c, const char *data, size_t len) {
    worker_t *w = c->w;
    size_t off = 0;
    while (c->state == CONN_READING && off < len) {
        http_header_t headers[MAX_HEADERS];
        http_request_t req = {.headers = headers, .num_headers = MAX_HEADERS};
        size_t avail = len - off;
        int n = http_parse_request(data + off, avail, &req, off ? 0 : c->parsed_len);
        uint64_t body_len = 0;
        if (n == HTTP_INCOMPLETE) {
            c->parsed_len = avail;
            if (!c->head_start_us) c->head_start_us = loop_now(w->loop);
            break;
        }
        if (n < 0 || http_body_length(headers, req.num_headers, &body_len) < 0 || body_len > MAX_BODY) {
            if (n == HTTP_URI_TOO_LONG) conn_reject(c, 414, "request line too long");
            else if (n == HTTP_HEADERS_TOO_LARGE) conn_reject(c, 431, "request header fields too large");
            else if (n < 0) conn_reject(c, 400, "malformed request");
            else if (body_len > MAX_BODY) conn_reject(c, 413, "request body too large");
            else conn_reject(c, 400, "bad Content-Length, or a Transfer-Encoding (not accepted here)");
            return len;
        }
        if (req.minor_version == 1 && !http_find_header(headers, req.num_headers, "Host")) {
            conn_reject(c, 400, "HTTP/1.1 request without a Host header"); /* RFC 9112, 3.2 */
            return len;
        }
        if (avail < (size_t)n + body_len) { /* the body is still on its way */
            c->parsed_len = 0;
            if (!c->head_start_us) c->head_start_us = loop_now(w->loop);
            break;
        }
        c->keep_alive = http_keep_alive(req.minor_version, headers, req.num_headers);
        routes_reply_t r;
        routes_handle(&w->srv->env, w->counters, &req, &w->body, &r);
        off += (size_t)n + (size_t)body_len;
        c->parsed_len = 0;
        c->head_start_us = off < len ? loop_now(w->loop) : 0;
        conn_reply(c, &r, req.minor_version);
    }
    return off;
}

/* Answers what waited in c->in while a reply was pending. */
static void conn_process(conn_t *c) {
    size_t used = conn_parse(c, c->in.data, c->in.len);
    if (c->state != CONN_CLOSED) buf_consume(&c->in, used);
}

/* Keeps bytes that were not consumed for the next round; frees a large buffer once it drains, so
 * that thousands of idle keep-alive connections hold no input memory. */
static int conn_keep(conn_t *c, const char *data, size_t len, size_t used, int in_scratch) {
    if (in_scratch) {
        if (used < len && buf_append(&c->in, data + used, len - used) < 0) return -1;
    } else {
        buf_consume(&c->in, used);
    }
    if (c->in.len == 0 && c->in.cap > 4096) buf_free(&c->in);
    return 0;
}

/* The client shut down its sending side. Like nginx, answer what it already asked for (a client
 * may half-close after its request, as `nc -N` does), then close; a hung request ends here. Returns
 * -1 when there is nothing left to answer. */
static int conn_half_closed(conn_t *c) {
    int owed = c->state == CONN_DELAYED || c->state == CONN_SLOW || c->out_off < c->out.len;
    if (!owed) return -1;
    c->read_eof = 1;
    c->keep_alive = 0;
    if (c->state == CONN_READING) c->state = CONN_CLOSING;
    return 0;
}

/* Reads what the socket has and answers the complete requests in it. Most reads land in the
 * worker's scratch buffer and are answered from there; only leftovers (a partial request, or
 * requests arriving while a reply is pending) are copied into the connection's own buffer.
 * Returns -1 when c was closed (EOF, error). */
static int conn_read(conn_t *c) {
    worker_t *w = c->w;
    for (int rounds = 0; rounds < 4 && c->in.len < IN_LIMIT; rounds++) {
        int in_scratch = c->in.len == 0;
        char *dst = w->rbuf;
        size_t room = sizeof(w->rbuf);
        if (!in_scratch) {
            if (buf_reserve(&c->in, READ_CHUNK) < 0) goto fail;
            dst = c->in.data + c->in.len;
            room = c->in.cap - c->in.len - 1;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n == 0 && conn_half_closed(c) == 0) return 0;
        if (n <= 0) goto fail; /* the client is gone, whatever we owed it */
        c->last_active_us = loop_now(w->loop);
        const char *data = in_scratch ? w->rbuf : c->in.data;
        size_t len = in_scratch ? (size_t)n : c->in.len + (size_t)n;
        if (!in_scratch) c->in.len = len;
        size_t used = c->state == CONN_READING ? conn_parse(c, data, len) : 0;
        if (c->state == CONN_CLOSED) return -1;
        if (conn_keep(c, data, len, used, in_scratch) < 0) goto fail;
        if ((size_t)n < room) return 0;
    }
    return 0;
fail:
    conn_close(c, 0);
    return -1;
}

static void conn_event(loop_t *l, int fd, void *data, int mask) {
    conn_t *c = data;
    (void)l;
    (void)fd;
    if ((mask & LOOP_READABLE) && c->read_eof) {
        conn_close(c, 0); /* readiness we stopped asking for: an error or a hang-up */
        return;
    }
    if ((mask & LOOP_READABLE) && c->state != CONN_CLOSING && conn_read(c) < 0) return;
    conn_flush(c);
}

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
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        if (!conn_new(w, fd)) {
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
    uint64_t now = loop_clock_us();
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
    free_closed(w);
    stop_if_drained(w);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    loop_timer_start(w->loop, &w->sweep_timer, SWEEP_INTERVAL_US, sweep, w);
    if (loop_run(w->loop) < 0) perror("crawlbench: epoll_wait");
    while (w->conns) conn_close(w->conns, 0);
    free_closed(w);
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

/* Raises the soft open-file limit to the hard one; returns the limit now in force. */
static uint64_t raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
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
    s->fd_limit = raise_fd_limit();
    s->audit = audit_create(graph_pages(cfg->graph), s->threads);
    s->workers = calloc((size_t)s->threads, sizeof(*s->workers));
    if (!s->audit || !s->workers) {
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
                            .started_us = loop_clock_us(), .conns_open = &s->conns_open,
                            .random_calls = &s->random_calls};
    graph_shape(cfg->graph, &s->env.shape);
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
    free(s);
}
