/* The epoll crawler's HTTP client connection (src/crawl/hconn.c) against a scripted server: a thread
 * with a blocking socket that answers each request exactly as a case says, down to the byte: whole,
 * a byte at a time, interim 100s, resets, closes, truncations, silence. One line per case with the
 * outcome, status, tally and body it must end in; the callback must run exactly once per attempt. */
#include "crawl/hconn.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CASES(table) (sizeof(table) / sizeof((table)[0]))
#define OK_200 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

/* ---- the scripted server ---- */

typedef enum step_kind {
    S_END,     /* the script is over (the connection stays open until the thread ends) */
    S_ACCEPT,  /* accepts the next connection */
    S_READ,    /* reads one request head and keeps it in srv.request */
    S_SEND,    /* sends data */
    S_TRICKLE, /* sends data one byte at a time, 1 ms apart */
    S_CLOSE,   /* closes: FIN */
    S_RESET,   /* closes with SO_LINGER 0: RST */
    S_DRAIN,   /* reads until the client closes (a hung request, as the client sees it) */
} step_kind_t;

typedef struct step {
    step_kind_t kind;
    const char *data;
} step_t;

typedef struct script_server {
    int lfd, fd, port;
    const step_t *steps;
    char request[512]; /* the last request head read */
    pthread_t thread;
} script_server_t;

static void srv_read_head(script_server_t *s) {
    size_t n = 0;
    s->request[0] = '\0';
    while (n < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
        ssize_t r = recv(s->fd, s->request + n, 1, 0);
        if (r <= 0) return;
        s->request[++n] = '\0';
    }
}

static void *srv_main(void *arg) {
    script_server_t *s = arg;
    int one = 1;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    char b[256];
    for (const step_t *st = s->steps; st->kind != S_END; st++) {
        switch (st->kind) {
        case S_ACCEPT:
            if (s->fd >= 0) close(s->fd);
            s->fd = accept(s->lfd, NULL, NULL);
            setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            break;
        case S_READ: srv_read_head(s); break;
        case S_SEND: send(s->fd, st->data, strlen(st->data), MSG_NOSIGNAL); break;
        case S_TRICKLE:
            for (const char *p = st->data; *p; p++) {
                send(s->fd, p, 1, MSG_NOSIGNAL);
                usleep(1000);
            }
            break;
        case S_RESET: setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* fall through */
        case S_CLOSE:
            close(s->fd);
            s->fd = -1;
            break;
        case S_DRAIN:
            while (recv(s->fd, b, sizeof(b), 0) > 0) {
            }
            break;
        case S_END: break;
        }
    }
    return NULL;
}

static void srv_start(script_server_t *s, const step_t *steps) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    *s = (script_server_t){.fd = -1, .steps = steps};
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->lfd, 0);
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->lfd, 8), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(script_server_t *s) {
    pthread_join(s->thread, NULL);
    if (s->fd >= 0) close(s->fd);
    close(s->lfd);
}

/* ---- the client side: one loop, one connection, callbacks counted ---- */

typedef struct client {
    loop_t *loop;
    hconn_target_t target;
    hconn_t *h;
    fetch_result_t r;
    int calls;
} client_t;

static void on_done(hconn_t *h, void *data) {
    client_t *c = data;
    c->calls++;
    loop_stop(c->loop);
}

static void client_open(client_t *c, int port, uint64_t timeout_us) {
    char err[256], url[64];
    memset(c, 0, sizeof(*c));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cr_assert_eq(hconn_target_parse(&c->target, url, err, sizeof(err)), 0, "%s", err);
    c->loop = loop_create(1024, err, sizeof(err));
    cr_assert_not_null(c->loop, "%s", err);
    c->h = hconn_create(c->loop, &c->target, timeout_us, on_done, c);
    cr_assert_not_null(c->h);
}

/* One attempt, run to its end: exactly one more callback, never from inside hconn_get(). */
static void client_get(client_t *c, const char *id) {
    int before = c->calls;
    cr_assert_eq(hconn_get(c->h, id, strlen(id), &c->r), 0);
    cr_assert_eq(c->calls, before, "callback ran inside hconn_get");
    cr_assert(hconn_busy(c->h));
    cr_assert_eq(loop_run(c->loop), 0);
    cr_assert_eq(c->calls, before + 1, "callbacks: %d, want %d", c->calls, before + 1);
    cr_assert(!hconn_busy(c->h));
}

static int64_t stop_loop(loop_t *l, void *data) {
    loop_stop(l);
    return LOOP_TIMER_STOP;
}

/* Lets the loop run for a while with no attempt (to notice what the server did meanwhile). */
static void client_idle(client_t *c, uint64_t us) {
    loop_timer_t t = {0};
    loop_timer_start(c->loop, &t, us, stop_loop, NULL);
    loop_run(c->loop);
}

static void client_close(client_t *c) {
    hconn_free(c->h);
    buf_free(&c->r.body);
    cr_assert_eq(loop_timer_count(c->loop), 0, "timers left: %zu", loop_timer_count(c->loop));
    loop_free(c->loop);
}

/* ---- one attempt per case ---- */

typedef struct hconn_case {
    const char *name;
    step_t steps[8];
    fetch_outcome_t outcome;
    int status; /* -1: not checked */
    fetch_tally_t tally;
    const char *body; /* NULL: not checked */
    uint64_t retry_after_us;
} hconn_case_t;

/* clang-format off */
#define ANSWER(...) {{S_ACCEPT, 0}, {S_READ, 0}, __VA_ARGS__, {S_END, 0}}

static const hconn_case_t cases[] = {
    {"whole answer", ANSWER({S_SEND, OK_200}), FETCH_OK, 200, TALLY_OK, "hello", 0},
    {"a byte at a time", ANSWER({S_TRICKLE, OK_200}), FETCH_OK, 200, TALLY_OK, "hello", 0},
    {"head and body apart",
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"}, {S_TRICKLE, "hello"}),
     FETCH_OK, 200, TALLY_OK, "hello", 0},
    {"interim 100 first, in the same write",
     ANSWER({S_SEND, "HTTP/1.1 100 Continue\r\n\r\n" OK_200}), FETCH_OK, 200, TALLY_OK, "hello", 0},
    {"empty body", ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}), FETCH_OK, 200, TALLY_OK,
     "", 0},
    {"no Content-Length: the body ends at close",
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\n\r\nhello"}, {S_CLOSE, 0}), FETCH_OK, 200, TALLY_OK, "hello", 0},
    {"503 with Retry-After",
     ANSWER({S_SEND, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 2\r\n\r\nno"}),
     FETCH_HTTP, 503, TALLY_5XX, "no", 2000000},
    {"500", ANSWER({S_SEND, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"}), FETCH_HTTP,
     500, TALLY_5XX, "", 0},
    {"429 with Retry-After 0",
     ANSWER({S_SEND, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"}),
     FETCH_HTTP, 429, TALLY_429, "", 0},
    {"Retry-After as a date in the past is none",
     ANSWER({S_SEND, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
                     "Content-Length: 0\r\n\r\n"}),
     FETCH_HTTP, 429, TALLY_429, "", 0},
    {"404", ANSWER({S_SEND, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot"}), FETCH_HTTP, 404,
     TALLY_OTHER_HTTP, "not", 0},
    {"reset instead of an answer", ANSWER({S_RESET, 0}), FETCH_RESET, 0, TALLY_RESET, NULL, 0},
    {"closed before any answer", ANSWER({S_CLOSE, 0}), FETCH_RESET, 0, TALLY_RESET, NULL, 0},
    {"closed inside the head", ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Le"}, {S_CLOSE, 0}),
     FETCH_RESET, 0, TALLY_RESET, NULL, 0},
    {"closed inside the body",
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"}, {S_CLOSE, 0}),
     FETCH_TRUNCATED, 200, TALLY_TRUNCATED, "hello", 0},
    {"reset inside the body", /* the RST may overtake the bytes before them: status 200 or 0 */
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"}, {S_RESET, 0}), FETCH_RESET, -1,
     TALLY_RESET, NULL, 0},
    {"no answer at all: timeout", ANSWER({S_DRAIN, 0}), FETCH_TIMEOUT, 0, TALLY_TIMEOUT, NULL, 0},
    {"half an answer, then silence: timeout",
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"}, {S_DRAIN, 0}), FETCH_TIMEOUT, 200,
     TALLY_TIMEOUT, NULL, 0},
    {"malformed status line", ANSWER({S_SEND, "HTTP/1.1 2xx OK\r\n\r\n"}), FETCH_ERROR, 0, TALLY_ERROR, NULL,
     0},
    {"not HTTP at all", ANSWER({S_SEND, "SSH-2.0-OpenSSH_9.6\r\n\r\n"}), FETCH_ERROR, 0, TALLY_ERROR, NULL,
     0},
    {"bad Content-Length", ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"}),
     FETCH_ERROR, 200, TALLY_ERROR, NULL, 0},
    {"chunked is not spoken",
     ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}),
     FETCH_ERROR, 200, TALLY_ERROR, NULL, 0},
    {"a body too large", ANSWER({S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"}),
     FETCH_ERROR, 200, TALLY_ERROR, NULL, 0},
};
/* clang-format on */

static size_t case_index[CASES(cases)];

ParameterizedTestParameters(hconn, attempt) {
    for (size_t i = 0; i < CASES(cases); i++)
        case_index[i] = i;
    return cr_make_param_array(size_t, case_index, CASES(cases));
}

ParameterizedTest(size_t *idx, hconn, attempt, .timeout = 10) {
    const hconn_case_t *k = &cases[*idx];
    script_server_t s;
    client_t c;
    char want_req[128];
    srv_start(&s, k->steps);
    client_open(&c, s.port, 200000);
    fetch_result_reset(&c.r);
    client_get(&c, "abc");
    cr_assert_eq(c.r.outcome, k->outcome, "%s: outcome %s, want %s (%s)", k->name,
                 fetch_outcome_name(c.r.outcome), fetch_outcome_name(k->outcome), c.r.error);
    if (k->status >= 0)
        cr_assert_eq(c.r.http_status, k->status, "%s: status %d, want %d", k->name, c.r.http_status,
                     k->status);
    cr_assert_eq(c.r.attempts, 1, "%s: attempts %u", k->name, c.r.attempts);
    for (int t = 0; t < FETCH_TALLIES; t++)
        cr_assert_eq(c.r.tally[t], t == (int)k->tally, "%s: tally %s = %u", k->name,
                     fetch_tally_name((fetch_tally_t)t), c.r.tally[t]);
    cr_assert_eq(c.r.retry_after_us, k->retry_after_us, "%s: Retry-After %llu us", k->name,
                 (unsigned long long)c.r.retry_after_us);
    if (k->body)
        cr_assert(c.r.body.len == strlen(k->body) && !memcmp(c.r.body.data, k->body, c.r.body.len),
                  "%s: body '%.*s', want '%s'", k->name, (int)c.r.body.len, c.r.body.data, k->body);
    if (k->outcome != FETCH_OK && k->outcome != FETCH_HTTP)
        cr_assert_neq(c.r.error[0], '\0', "%s: no error message", k->name);
    snprintf(want_req, sizeof(want_req), "GET /api/abc HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" HTTP_ATTEMPT_HEADER ": 1\r\n\r\n",
             s.port);
    client_close(&c); /* before joining: a draining server waits for the client to close */
    srv_stop(&s);
    cr_assert_str_eq(s.request, want_req, "%s: the request sent", k->name);
}

/* ---- connections across attempts ---- */

Test(hconn, keep_alive_reuses_one_connection) {
    static const step_t steps[] = {{S_ACCEPT, 0},       {S_READ, 0}, {S_SEND, OK_200}, {S_READ, 0},
                                   {S_TRICKLE, OK_200}, {S_READ, 0}, {S_SEND, OK_200}, {S_END, 0}};
    script_server_t s;
    client_t c;
    srv_start(&s, steps);
    client_open(&c, s.port, 1000000);
    fetch_result_reset(&c.r);
    for (int i = 0; i < 3; i++) {
        client_get(&c, "abc");
        cr_assert_eq(c.r.outcome, FETCH_OK, "attempt %d: %s", i, c.r.error);
    }
    cr_assert_eq(c.r.tally[TALLY_OK], 3);
    cr_assert_eq(c.r.attempts, 3);
    cr_assert_eq(hconn_connects(c.h), 1, "connects: %llu", (unsigned long long)hconn_connects(c.h));
    client_close(&c);
    srv_stop(&s);
}

/* "Connection: close", a close while idle, and bytes after the answer all mean: do not reuse. Each
 * next attempt connects afresh and succeeds; no failed attempt is counted for it. */
Test(hconn, reconnects_when_the_connection_cannot_be_reused) {
    /* clang-format off */
    static const step_t steps[] = {
        {S_ACCEPT, 0}, {S_READ, 0},
        {S_SEND, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"},
        {S_ACCEPT, 0}, {S_READ, 0}, {S_SEND, OK_200},   {S_CLOSE, 0}, /* closes while the client idles */
        {S_ACCEPT, 0}, {S_READ, 0}, {S_SEND, OK_200 "HTTP/1.1 200 OK\r\n"}, /* what nobody asked for */
        {S_ACCEPT, 0}, {S_READ, 0}, {S_SEND, OK_200},   {S_END, 0}};
    /* clang-format on */
    script_server_t s;
    client_t c;
    srv_start(&s, steps);
    client_open(&c, s.port, 1000000);
    fetch_result_reset(&c.r);
    for (int i = 0; i < 4; i++) {
        client_get(&c, "abc");
        cr_assert_eq(c.r.outcome, FETCH_OK, "attempt %d: %s", i, c.r.error);
        cr_assert_eq(c.r.body.len, 5, "attempt %d: %zu body bytes", i, c.r.body.len);
        if (i == 1) client_idle(&c, 50000); /* the server's close arrives meanwhile */
    }
    cr_assert_eq(c.r.tally[TALLY_OK], 4);
    cr_assert_eq(c.r.attempts, 4);
    cr_assert_eq(hconn_connects(c.h), 4, "connects: %llu", (unsigned long long)hconn_connects(c.h));
    client_close(&c);
    srv_stop(&s);
}

/* After a failure the socket is dropped: the next attempt connects again and can succeed. */
Test(hconn, a_failure_closes_and_the_next_attempt_reconnects) {
    /* clang-format off */
    static const step_t steps[] = {
        {S_ACCEPT, 0}, {S_READ, 0}, {S_RESET, 0},
        {S_ACCEPT, 0}, {S_READ, 0},
        {S_SEND, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"}, {S_CLOSE, 0},
        {S_ACCEPT, 0}, {S_READ, 0}, {S_SEND, OK_200}, {S_END, 0}};
    /* clang-format on */
    script_server_t s;
    client_t c;
    srv_start(&s, steps);
    client_open(&c, s.port, 1000000);
    fetch_result_reset(&c.r);
    client_get(&c, "abc");
    cr_assert_eq(c.r.outcome, FETCH_RESET);
    client_get(&c, "abc");
    cr_assert_eq(c.r.outcome, FETCH_TRUNCATED);
    client_get(&c, "abc");
    cr_assert_eq(c.r.outcome, FETCH_OK, "%s", c.r.error);
    cr_assert_eq(c.r.tally[TALLY_RESET], 1);
    cr_assert_eq(c.r.tally[TALLY_TRUNCATED], 1);
    cr_assert_eq(c.r.tally[TALLY_OK], 1);
    cr_assert_eq(c.r.attempts, 3);
    cr_assert_eq(hconn_connects(c.h), 3);
    client_close(&c);
    srv_stop(&s);
}

Test(hconn, refused_connection_is_a_connect_failure) {
    script_server_t s;
    client_t c;
    static const step_t none[] = {{S_END, 0}};
    srv_start(&s, none);
    srv_stop(&s); /* the port is now closed */
    client_open(&c, s.port, 1000000);
    fetch_result_reset(&c.r);
    client_get(&c, "abc");
    cr_assert_eq(c.r.outcome, FETCH_CONNECT, "outcome %s (%s)", fetch_outcome_name(c.r.outcome), c.r.error);
    cr_assert_eq(c.r.tally[TALLY_CONNECT], 1);
    client_close(&c);
}

/* ---- base URLs ---- */

typedef struct url_case {
    const char *url;
    int ok;
    const char *host; /* the Host header, when ok */
} url_case_t;

Test(hconn, base_urls) {
    static const url_case_t urls[] = {
        {"http://127.0.0.1:5000", 1, "127.0.0.1:5000"},
        {"http://127.0.0.1:5000/", 1, "127.0.0.1:5000"},
        {"http://127.0.0.1", 1, "127.0.0.1"},
        {"http://localhost:80", 1, "localhost:80"},
        {"http://[::1]:8080", 1, "[::1]:8080"},
        {"https://127.0.0.1:5000", 0, NULL},
        {"127.0.0.1:5000", 0, NULL},
        {"http://", 0, NULL},
        {"http://:5000", 0, NULL},
        {"http://127.0.0.1:", 0, NULL},
        {"http://127.0.0.1:50x0", 0, NULL},
        {"http://127.0.0.1:5000/api", 0, NULL},
        {"http://user@127.0.0.1:5000", 0, NULL},
        {"http://[::1", 0, NULL},
        {"http://[::1]x", 0, NULL},
        {"http://127.0.0.1:123456789", 0, NULL},
    };
    for (size_t i = 0; i < CASES(urls); i++) {
        hconn_target_t t;
        char err[256] = "";
        int rc = hconn_target_parse(&t, urls[i].url, err, sizeof(err));
        cr_assert_eq(rc == 0, urls[i].ok, "%s: returned %d (%s)", urls[i].url, rc, err);
        if (urls[i].ok)
            cr_assert_str_eq(t.host, urls[i].host, "%s: Host %s", urls[i].url, t.host);
        else
            cr_assert_neq(err[0], '\0', "%s: no message", urls[i].url);
    }
}
