/* An HTTP/1.1 client connection without a library (see hconn.h). One attempt goes through
 *
 *   IDLE --hconn_get--> CONNECTING (a new socket) --writable--> SENDING --all written--> RECEIVING
 *        ---------------------------------------------------->  SENDING (a kept-alive socket)
 *
 *   RECEIVING --head, then Content-Length bytes--> IDLE (kept alive, or closed on "Connection: close")
 *             --EOF before the head ends--> RESET      --EOF inside the body--> TRUNCATED
 *             --ECONNRESET--> RESET                    --the attempt's timer--> TIMEOUT
 *
 * and always ends in deliver(), which counts the attempt and calls back. An attempt that ends
 * before it could reach the socket (connect refused at once, say) is delivered from a zero-delay
 * timer, so that the callback never runs inside hconn_get(). Any failure closes the socket: after a
 * reset, a timeout or a malformed answer nothing that arrives later can be trusted, and the next
 * attempt connects afresh. While IDLE the socket stays watched for reading, so a server that closes
 * an idle keep-alive connection is noticed and the socket closed before anyone writes to it. */
#include "crawl/hconn.h"
#include "base/clock.h"

#include "http/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HCONN_READ_CHUNK 16384
#define HCONN_MAX_HEADERS 32
#define HCONN_MAX_BODY (16u << 20)   /* as fetch.c: a larger page is not a crawlbench page */
#define HCONN_BODY_TO_EOF UINT64_MAX /* no Content-Length: the body ends when the server closes */

typedef enum hconn_state {
    HCONN_IDLE,       /* no attempt; the socket, if open, is watched for the server hanging up */
    HCONN_CONNECTING, /* connect() in progress, the request waiting in out */
    HCONN_SENDING,    /* the request partly written */
    HCONN_RECEIVING,  /* the request written, the answer arriving in in */
    HCONN_ENDED,      /* ended without the socket's help: delivered by the zero-delay timer */
} hconn_state_t;

struct hconn {
    loop_t *loop;
    const hconn_target_t *target;
    uint64_t timeout_us;
    int has_timing;      /* the answer stated its server-side time (Server-Timing) ... */
    uint64_t timing_us;  /* ... this long */
    hconn_done_fn *cb;
    void *data;
    int fd; /* -1 when closed */
    hconn_state_t state;
    fetch_result_t *r; /* the attempt's result; NULL while IDLE */
    buf_t out;         /* the request */
    size_t out_off;    /* bytes of it written */
    buf_t in;          /* the answer so far */
    size_t parsed_len; /* last_len for http_parse_response() */
    size_t head_len;   /* 0 until the head is parsed */
    uint64_t body_len; /* from Content-Length, or HCONN_BODY_TO_EOF */
    int keep_alive;
    uint64_t started_us;
    uint64_t connects;
    loop_timer_t timer; /* the attempt's timeout, or the deferred delivery */
};

static void on_event(loop_t *l, int fd, void *data, int mask);
static int64_t on_timer(loop_t *l, void *data);

/* ---- the target ---- */

/* Splits "HOST[:PORT]" or "[V6]:PORT" (n bytes at a) into host and port. Returns 0 or -1. */
static int split_authority(const char *a, size_t n, char *host, size_t hcap, char *port, size_t pcap) {
    const char *end = a + n, *hs = a, *he, *colon;
    if (*a == '[') {
        hs = a + 1;
        if (!(he = memchr(a, ']', n))) return -1;
        colon = he + 1 < end ? he + 1 : NULL;
        if (colon && *colon != ':') return -1;
    } else {
        colon = memchr(a, ':', n);
        he = colon ? colon : end;
    }
    if (he == hs || (size_t)(he - hs) >= hcap) return -1;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (!colon) return 0;
    size_t plen = (size_t)(end - colon - 1);
    if (plen == 0 || plen >= pcap || strspn(colon + 1, "0123456789") < plen) return -1;
    memcpy(port, colon + 1, plen);
    port[plen] = '\0';
    return 0;
}

int hconn_target_parse(hconn_target_t *t, const char *base_url, char *err, size_t errlen) {
    char host[256], port[8] = "80";
    memset(t, 0, sizeof(*t));
    if (strncmp(base_url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: only http:// URLs are supported", base_url);
        return -1;
    }
    const char *a = base_url + 7;
    size_t n = strlen(a);
    if (n && a[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof(t->host) || memchr(a, '/', n) || memchr(a, '@', n) ||
        split_authority(a, n, host, sizeof(host), port, sizeof(port)) < 0) {
        snprintf(err, errlen, "%s: expected http://HOST[:PORT]", base_url);
        return -1;
    }
    memcpy(t->host, a, n); /* the Host header repeats the URL's authority as written */

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    /* "localhost" is loopback by definition (RFC 6761, 6.3), whatever /etc/hosts says or lacks (a
     * minimal container may have none): resolved here as libcurl resolves it, without the resolver. */
    int rc = getaddrinfo(strcasecmp(host, "localhost") ? host : "127.0.0.1", port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s port %s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen); /* the first address: no happy eyeballs here */
    t->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- lifetime ---- */

hconn_t *hconn_create(loop_t *l, const hconn_target_t *t, uint64_t timeout_us, hconn_done_fn *cb,
                      void *data) {
    hconn_t *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    *h = (hconn_t){.loop = l, .target = t, .timeout_us = timeout_us, .cb = cb, .data = data, .fd = -1};
    return h;
}

/* Closes the socket and forgets any partial answer; the connection is then as new. */
static void drop_socket(hconn_t *h) {
    if (h->fd >= 0) {
        loop_del_fd(h->loop, h->fd);
        close(h->fd);
        h->fd = -1;
    }
    buf_clear(&h->in);
    h->parsed_len = h->head_len = 0;
}

void hconn_free(hconn_t *h) {
    if (!h) return;
    drop_socket(h);
    loop_timer_stop(h->loop, &h->timer);
    buf_free(&h->in);
    buf_free(&h->out);
    free(h);
}

int hconn_busy(const hconn_t *h) { return h->state != HCONN_IDLE; }
uint64_t hconn_connects(const hconn_t *h) { return h->connects; }

/* ---- ending an attempt ---- */

/* Counts the attempt and calls back; h is IDLE again, so the callback may start the next one. */
static void deliver(hconn_t *h) {
    fetch_result_t *r = h->r;
    loop_timer_stop(h->loop, &h->timer);
    r->latency_us = clock_now_us() - h->started_us;
    fetch_count_server_time(h->timeout_us, r, h->has_timing, h->timing_us);
    fetch_count(r);
    h->r = NULL;
    h->state = HCONN_IDLE;
    h->cb(h, h->data);
}

/* The attempt failed: records why, drops the socket and delivers. */
static void __attribute__((format(printf, 3, 4)))
fail(hconn_t *h, fetch_outcome_t outcome, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->r->error, sizeof(h->r->error), fmt, ap);
    va_end(ap);
    h->r->outcome = outcome;
    drop_socket(h);
    deliver(h);
}

/* Like fail, but from inside hconn_get(): the delivery waits for the loop. */
static void fail_later(hconn_t *h, fetch_outcome_t outcome, const char *what, int err) {
    snprintf(h->r->error, sizeof(h->r->error), "%s: %s", what, strerror(err));
    h->r->outcome = outcome;
    drop_socket(h);
    h->state = HCONN_ENDED;
    /* Cannot fail: the timer is scheduled already (hconn_get started it), so the heap has its slot. */
    (void)loop_timer_start(h->loop, &h->timer, 0, on_timer, h);
}

/* A whole answer (or, with TRUNCATED, as much as came): the body goes to r, the socket stays for
 * the next request only if the server allows it and nothing unexpected followed the answer. */
static void answered(hconn_t *h, fetch_outcome_t outcome) {
    fetch_result_t *r = h->r;
    size_t have = h->in.len - h->head_len;
    size_t body = h->body_len < have ? (size_t)h->body_len : have;
    if (have > body) h->keep_alive = 0; /* bytes nobody asked for: the framing is off */
    if (buf_append(&r->body, h->in.data + h->head_len, body) < 0)
        return fail(h, FETCH_ERROR, "out of memory");
    r->outcome = outcome != FETCH_OK ? outcome : r->http_status == 200 ? FETCH_OK : FETCH_HTTP;
    if (outcome == FETCH_TRUNCATED)
        snprintf(r->error, sizeof(r->error), "connection closed after %zu of %llu body bytes", body,
                 (unsigned long long)h->body_len);
    if (h->keep_alive) {
        buf_clear(&h->in);
        h->parsed_len = h->head_len = 0;
    } else {
        drop_socket(h);
    }
    deliver(h);
}

static int64_t on_timer(loop_t *l, void *data) {
    hconn_t *h = data;
    if (h->state == HCONN_ENDED)
        deliver(h);
    else if (h->state != HCONN_IDLE)
        fail(h, FETCH_TIMEOUT, "no whole answer within %llu ms", (unsigned long long)(h->timeout_us / 1000));
    return LOOP_TIMER_STOP;
}

/* ---- sending ---- */

/* Writes what is left of the request; once it is all out, waits for the answer. Returns 0, or -1
 * with errno when the socket failed (the caller ends the attempt: now, or later from hconn_get). */
static int send_request(hconn_t *h) {
    while (h->out_off < h->out.len) {
        ssize_t n = send(h->fd, h->out.data + h->out_off, h->out.len - h->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            h->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            h->state = HCONN_SENDING;
            return loop_set_fd(h->loop, h->fd, LOOP_WRITABLE);
        }
        return -1; /* EPIPE, ECONNRESET: the server went away */
    }
    h->state = HCONN_RECEIVING;
    return loop_set_fd(h->loop, h->fd, LOOP_READABLE);
}

/* Opens a non-blocking socket and starts connecting; the request goes out once it is writable.
 * Returns 0, or -1 with errno and *what naming the call that failed. */
static int start_connect(hconn_t *h, const char **what) {
    const hconn_target_t *t = h->target;
    int one = 1;
    *what = "socket";
    if ((h->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) return -1;
    h->connects++;
    /* One small request, then wait for the answer: Nagle would only ever delay it. */
    *what = "setsockopt";
    if (setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) return -1;
    *what = "connect";
    if (connect(h->fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) return -1;
    *what = "epoll_ctl";
    if (loop_add_fd(h->loop, h->fd, LOOP_WRITABLE, on_event, h) < 0) return -1;
    h->state = HCONN_CONNECTING;
    return 0;
}

/* Resets r for a new attempt, as fetch_easy_url() does; the tally is kept. */
static void clear_result(fetch_result_t *r) {
    buf_clear(&r->body);
    r->error[0] = '\0';
    r->outcome = FETCH_ERROR;
    r->http_status = 0;
    r->retry_after_us = 0;
    r->pace_us = 0;
    r->latency_us = 0;
}

int hconn_get(hconn_t *h, const char *id, size_t len, fetch_result_t *r) {
    size_t host_len = strlen(h->target->host);
    const char *what = "send";
    clear_result(r);
    h->r = r;
    h->has_timing = 0;
    h->started_us = clock_now_us();
    buf_clear(&h->out);
    h->out_off = 0;
    const char *attempt = fetch_attempt_line(r);
    size_t attempt_len = strlen(attempt);
    if (buf_reserve(&h->out, len + host_len + attempt_len + 40) < 0 ||
        loop_timer_start(h->loop, &h->timer, h->timeout_us, on_timer, h) < 0) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        r->outcome = FETCH_ERROR;
        fetch_count(r); /* an attempt that never started, but counted like any other */
        h->r = NULL;
        return -1;
    }
    buf_append_unchecked(&h->out, "GET /api/", 9);
    buf_append_unchecked(&h->out, id, len);
    buf_append_unchecked(&h->out, " HTTP/1.1\r\nHost: ", 17);
    buf_append_unchecked(&h->out, h->target->host, host_len);
    buf_append_unchecked(&h->out, "\r\n", 2);
    buf_append_unchecked(&h->out, attempt, attempt_len);
    buf_append_unchecked(&h->out, "\r\n\r\n", 4);
    /* A kept-alive socket takes the request at once, without waiting for epoll to say so. */
    fetch_outcome_t failed = FETCH_RESET;
    if (h->fd < 0)
        failed = start_connect(h, &what) == 0 ? FETCH_OK : FETCH_CONNECT;
    else if (send_request(h) == 0)
        failed = FETCH_OK;
    if (failed != FETCH_OK) {
        int e = errno;
        fail_later(h, strcmp(what, "epoll_ctl") ? failed : FETCH_ERROR, what, e);
    }
    return 0;
}

/* ---- receiving ---- */

/* Retry-After, in seconds or as an HTTP date (the wall clock is right here: the date is one). */
static uint64_t retry_after_of(const http_header_t *h) {
    return h ? http_retry_after_us(h->value, h->value_len, time(NULL)) : 0;
}

/* Takes what the head says about the answer. Returns 0, or -1 after failing the attempt. */
static int take_head(hconn_t *h, const http_response_t *res, size_t head_len) {
    uint64_t cl;
    h->r->http_status = res->status; /* reported even when the rest of the head is unusable */
    int rc = http_body_length(res->headers, res->num_headers, &cl);
    if (rc < 0) return fail(h, FETCH_ERROR, "invalid Content-Length or Transfer-Encoding"), -1;
    if (rc == 1) cl = res->status == 204 || res->status == 304 ? 0 : HCONN_BODY_TO_EOF;
    if (cl != HCONN_BODY_TO_EOF && cl > HCONN_MAX_BODY)
        return fail(h, FETCH_ERROR, "body of %llu bytes is too large", (unsigned long long)cl), -1;
    h->head_len = head_len;
    h->body_len = cl;
    h->keep_alive =
        cl != HCONN_BODY_TO_EOF && http_keep_alive(res->minor_version, res->headers, res->num_headers);
    h->r->retry_after_us = retry_after_of(http_find_header(res->headers, res->num_headers, "Retry-After"));
    const http_header_t *exact = http_find_header(res->headers, res->num_headers, HTTP_RETRY_AFTER_US_HEADER);
    uint64_t us;
    if ((res->status == 429 || res->status == 503) && exact && http_count_us(exact->value, exact->value_len, &us) == 0)
        h->r->retry_after_us = us;
    const http_header_t *policy = http_find_header(res->headers, res->num_headers, HTTP_RATELIMIT_POLICY_HEADER);
    if (policy && http_ratelimit_interval_us(policy->value, policy->value_len, &us) == 0) h->r->pace_us = us;
    const http_header_t *st = http_find_header(res->headers, res->num_headers, "Server-Timing");
    h->has_timing = st && http_server_timing_us(st->value, st->value_len, &h->timing_us) == 0;
    return 0;
}

/* Parses what has arrived. Returns 1 when the attempt ended (and was delivered), 0 for more. */
static int parse_answer(hconn_t *h) {
    while (!h->head_len) {
        http_header_t headers[HCONN_MAX_HEADERS];
        http_response_t res = {.headers = headers, .num_headers = HCONN_MAX_HEADERS};
        int n = http_parse_response(h->in.data, h->in.len, &res, h->parsed_len);
        if (n == HTTP_INCOMPLETE) {
            h->parsed_len = h->in.len;
            return 0;
        }
        if (n < 0) return fail(h, FETCH_ERROR, "malformed answer head (%d)", n), 1;
        if (res.status < 200) { /* 100 Continue and the like: interim, the real answer follows */
            buf_consume(&h->in, (size_t)n);
            h->parsed_len = 0;
            continue;
        }
        if (take_head(h, &res, (size_t)n) < 0) return 1;
    }
    if (h->body_len == HCONN_BODY_TO_EOF || h->in.len - h->head_len < h->body_len) return 0;
    answered(h, FETCH_OK);
    return 1;
}

/* The server closed its side: the end of the body when no length was given, else a failure. */
static void on_eof(hconn_t *h) {
    h->keep_alive = 0; /* a socket at EOF must not carry another request: it would end the same way */
    if (!h->head_len)
        return fail(h, FETCH_RESET,
                    h->in.len ? "connection closed inside the answer's head"
                              : "connection closed before any answer");
    if (h->body_len == HCONN_BODY_TO_EOF) return answered(h, FETCH_OK);
    answered(h, FETCH_TRUNCATED);
}

/* Reads while there is something to read; a read that does not fill the buffer has drained the
 * socket (level-triggered epoll reports the rest), which saves the read that would say EAGAIN. */
static void recv_answer(hconn_t *h) {
    for (;;) {
        if (buf_reserve(&h->in, HCONN_READ_CHUNK) < 0) return fail(h, FETCH_ERROR, "out of memory");
        size_t room = h->in.cap - h->in.len - 1;
        ssize_t n = recv(h->fd, h->in.data + h->in.len, room, 0);
        if (n > 0) {
            h->in.len += (size_t)n;
            h->in.data[h->in.len] = '\0';
            if (parse_answer(h) || (size_t)n < room) return;
            continue;
        }
        if (n == 0) return on_eof(h);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return fail(h, FETCH_RESET, "recv: %s", strerror(errno));
    }
}

/* An idle keep-alive socket became readable: the server closed it (or sent what nobody asked for).
 * Either way it cannot carry the next request; closing it now is not an attempt, nothing is counted. */
static void idle_readable(hconn_t *h) {
    char b[64];
    ssize_t n = recv(h->fd, b, sizeof(b), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    drop_socket(h);
}

static void on_event(loop_t *l, int fd, void *data, int mask) {
    hconn_t *h = data;
    switch (h->state) {
    case HCONN_CONNECTING: {
        int e = 0;
        socklen_t elen = sizeof(e);
        if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0) e = errno;
        if (e) return fail(h, FETCH_CONNECT, "connect: %s", strerror(e));
        if (send_request(h) < 0) fail(h, FETCH_RESET, "send: %s", strerror(errno));
        return;
    }
    case HCONN_SENDING:
        if (send_request(h) < 0) fail(h, FETCH_RESET, "send: %s", strerror(errno));
        return;
    case HCONN_RECEIVING:
        if (mask & LOOP_READABLE) recv_answer(h);
        return;
    case HCONN_IDLE: idle_readable(h); return;
    case HCONN_ENDED: return; /* the socket is closed already */
    }
}
