/* The demo server's connections: one state machine per client connection, run by its worker's
 * event loop.
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
#include "server/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADERS 64
#define MAX_BODY (64 * 1024)        /* request bodies are read and ignored; larger ones get 413 */
#define IN_LIMIT (HTTP_MAX_HEAD + MAX_BODY)
#define OUT_HIGH_WATER (256 * 1024) /* stop reading a client that does not read its answers */

static void conn_event(loop_t *l, int fd, void *data, int mask);
static int64_t conn_timer_fired(loop_t *l, void *data);
static void conn_process(conn_t *c);

/* ---- connection lifetime ---- */

void conn_close(conn_t *c, int reset) {
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

void conn_free_closed(worker_t *w) {
    while (w->closed) {
        conn_t *c = w->closed;
        w->closed = c->next_closed;
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->pending);
        free(c);
    }
}

conn_t *conn_new(worker_t *w, int fd, const struct sockaddr_storage *peer) {
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->peer = *peer;
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
int conn_flush(conn_t *c) {
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
void conn_reject(conn_t *c, int status, const char *message) {
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
        routes_handle(&w->srv->env, w->counters, &c->peer, &req, &w->body, &r);
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
