/* loadgen: a closed-loop HTTP/1.1 load generator for crawlbench's latency benchmark. It holds many
 * connections open, of which only some carry traffic, which is what wrk cannot do: the question it
 * answers is whether a server with thousands of idle keep-alive clients still times its delayed
 * answers to the millisecond.
 *
 * How it works. One thread, one epoll set, level-triggered. Phases, in order:
 *
 *   CONNECT  open -c connections, at most CONNECT_BURST handshakes pending at a time so that the
 *            server's accept backlog never overflows (an overflow costs a 1 s SYN retransmit and
 *            would show up as latency that is not the server's);
 *   WARMUP   the first -a connections each keep exactly one request in flight: the next request
 *            goes out as soon as the previous answer is complete (a closed loop); nothing recorded.
 *            Their first requests go out evenly over -s milliseconds: started all at once, 1,000
 *            connections would stay in lock-step, each cycle a burst of 1,000 requests followed by
 *            silence, and the last answers of each burst would wait behind the first ones, in the
 *            server and in this program alike. Spread out, the same connections offer a steady rate;
 *   MEASURE  the same for -d seconds; every answer to a request sent in this phase is recorded;
 *   DRAIN    no new requests; wait up to DRAIN_US for the answers still due, then count the rest as
 *            timeouts.
 *
 * The idle connections send nothing and only watch for the server closing them, which counts as an
 * error. An active connection that fails is counted and reconnected, so the offered load stays put.
 *
 * Latency is from just before the request's send() to the read that completes its answer, on
 * CLOCK_MONOTONIC. The histogram has 1 us bins up to HIST_LINEAR_US (about 1 s) and power-of-two
 * bins above; percentiles are nearest-rank and exact to the microsecond below 1 s.
 *
 * Answers are checked: status line, Content-Length, and nothing extra (a pipelining server or a
 * framing bug would show as a protocol error). Only 200 counts as success.
 *
 *   loadgen -p PORT [-h 127.0.0.1] -c 10000 -a 1000 -s 1000 -w 3 -d 10 [-u paths.txt | -P /health]
 *
 * Output: a human summary on stderr and one line "RESULT key=value ..." on stdout. Exit status 0
 * when the run completed (errors or not), 1 when it could not run, 2 on a usage error. */
#define _GNU_SOURCE
#include "base/fdlimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_BURST 256          /* handshakes pending at once */
#define HEAD_CAP 4096              /* bytes of a response head we buffer */
#define HIST_LINEAR_US (1u << 20)  /* 1 us bins below this, about 1.05 s */
#define HIST_LOG_BINS 32           /* bins for 2^20 .. 2^52 us */
#define DRAIN_US 2000000ull
#define MAX_EVENTS 512

typedef enum { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE } phase_t;
typedef enum { C_CONNECTING, C_IDLE, C_SENDING, C_WAITING, C_DEAD } cstate_t;

typedef struct lg_conn {
    int fd;
    int active;          /* carries requests (the first -a connections) */
    cstate_t state;
    uint64_t sent_us;    /* when the request in flight went out */
    size_t path;         /* index of the next path to ask for */
    size_t out_off;      /* bytes of the current request already sent */
    char *head;          /* HEAD_CAP bytes, active connections only */
    size_t head_len;
    long body_left;      /* -1: still reading the head */
    int status;          /* of the answer being read, once its head is in */
} lg_conn_t;

typedef struct lg_hist {
    uint32_t *linear;    /* HIST_LINEAR_US bins of 1 us */
    uint64_t log[HIST_LOG_BINS];
    uint64_t count, sum_us, max_us, min_us;
} lg_hist_t;

typedef struct lg_stats {
    uint64_t connect_err;   /* connect() or the handshake failed */
    uint64_t closed;        /* the server closed or reset a connection */
    uint64_t status_err;    /* an answer other than 200 */
    uint64_t protocol_err;  /* an answer we could not frame */
    uint64_t timeouts;      /* still unanswered when the drain ended */
    uint64_t warm_answers, measured_answers;
} lg_stats_t;

typedef struct lg {
    struct sockaddr_in addr;
    int epfd;
    lg_conn_t *conns;
    int total, active;
    int connecting, open, next_to_open;
    int next_to_start;   /* active connections whose first request has gone out */
    uint64_t spread_us, warm_start_us;
    char **reqs;         /* one preformatted request per path */
    char **paths;        /* the paths themselves */
    size_t *req_lens;
    size_t nreqs;
    phase_t phase;
    uint64_t phase_end_us, measure_start_us, measure_end_us, connect_start_us, connect_us;
    int in_flight;
    lg_hist_t hist;
    lg_stats_t st;
    char scratch[65536];
} lg_t;

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- histogram ---- */

static void hist_add(lg_hist_t *h, uint64_t us) {
    if (us < HIST_LINEAR_US) {
        h->linear[us]++;
    } else {
        int b = 63 - __builtin_clzll(us) - 20; /* 0 for [2^20, 2^21) */
        h->log[b < HIST_LOG_BINS ? b : HIST_LOG_BINS - 1]++;
    }
    if (h->count == 0 || us < h->min_us) h->min_us = us;
    if (us > h->max_us) h->max_us = us;
    h->count++;
    h->sum_us += us;
}

/* Nearest-rank percentile p (0..100]: the smallest value with at least p% of samples at or below
 * it. Above the linear range it answers the top of the power-of-two bin, capped at the maximum. */
static uint64_t hist_percentile(const lg_hist_t *h, double p) {
    if (h->count == 0) return 0;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t us = 0; us < HIST_LINEAR_US; us++)
        if ((seen += h->linear[us]) >= rank) return us;
    for (int b = 0; b < HIST_LOG_BINS; b++)
        if ((seen += h->log[b]) >= rank) {
            uint64_t top = (2ull << (b + 20)) - 1;
            return top < h->max_us ? top : h->max_us;
        }
    return h->max_us;
}

/* ---- connections ---- */

static void conn_start_request(lg_t *g, lg_conn_t *c);

/* Opens connection i (non-blocking connect). Counts and returns -1 on an immediate failure. */
static int conn_open(lg_t *g, int i) {
    lg_conn_t *c = &g->conns[i];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
        g->st.connect_err++;
        c->state = C_DEAD;
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        fprintf(stderr, "loadgen: TCP_NODELAY: %s\n", strerror(errno));
    }
    if (connect(fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) < 0 && errno != EINPROGRESS) {
        fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
        close(fd);
        g->st.connect_err++;
        c->state = C_DEAD;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fprintf(stderr, "loadgen: epoll_ctl: %s\n", strerror(errno));
        close(fd);
        g->st.connect_err++;
        c->state = C_DEAD;
        return -1;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->head_len = 0;
    c->body_left = -1;
    g->connecting++;
    return 0;
}

/* Starts as many handshakes as the burst allows. */
static void open_more(lg_t *g) {
    while (g->connecting < CONNECT_BURST && g->next_to_open < g->total) conn_open(g, g->next_to_open++);
}

static void set_events(lg_t *g, lg_conn_t *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - g->conns)};
    if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fprintf(stderr, "loadgen: epoll_ctl(MOD): %s\n", strerror(errno));
}

/* A connection failed after it was open: count it, close it, and reopen it if it carries load and
 * the run still wants requests. A request in flight is lost (counted under `closed`). */
static void conn_fail(lg_t *g, lg_conn_t *c, uint64_t *counter) {
    int was_open = c->state != C_CONNECTING;
    if (c->state == C_WAITING || c->state == C_SENDING) g->in_flight--;
    (*counter)++;
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (was_open) g->open--;
    else g->connecting--;
    c->state = C_DEAD;
    if (c->active && (g->phase == PH_WARMUP || g->phase == PH_MEASURE)) conn_open(g, (int)(c - g->conns));
}

/* The handshake finished (or failed). */
static void conn_connected(lg_t *g, lg_conn_t *c) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
        if (g->st.connect_err < 5) fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
        conn_fail(g, c, &g->st.connect_err);
        return;
    }
    g->connecting--;
    g->open++;
    c->state = C_IDLE;
    set_events(g, c, EPOLLIN);
    if (c->active && (int)(c - g->conns) < g->next_to_start && (g->phase == PH_WARMUP || g->phase == PH_MEASURE))
        conn_start_request(g, c);
}

/* Sends what remains of c's current request. */
static void conn_send(lg_t *g, lg_conn_t *c) {
    const char *req = g->reqs[c->path];
    size_t len = g->req_lens[c->path];
    while (c->out_off < len) {
        ssize_t n = send(c->fd, req + c->out_off, len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(g, c, EPOLLIN | EPOLLOUT);
            return;
        }
        conn_fail(g, c, &g->st.closed);
        return;
    }
    if (c->state == C_SENDING) {
        c->state = C_WAITING;
        set_events(g, c, EPOLLIN);
    }
}

static void conn_start_request(lg_t *g, lg_conn_t *c) {
    c->out_off = 0;
    c->head_len = 0;
    c->body_left = -1;
    c->sent_us = now_us();
    c->state = C_WAITING; /* C_SENDING only while a send is partial */
    g->in_flight++;
    const char *req = g->reqs[c->path];
    size_t len = g->req_lens[c->path];
    ssize_t n = send(c->fd, req, len, MSG_NOSIGNAL);
    if (n == (ssize_t)len) return;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_fail(g, c, &g->st.closed);
        return;
    }
    c->out_off = n > 0 ? (size_t)n : 0;
    c->state = C_SENDING;
    conn_send(g, c);
}

/* Parses the status and Content-Length of a complete head. Returns the status, or -1. */
static int parse_head(const char *h, size_t len, long *content_length) {
    if (len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ') return -1;
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    if (status < 100 || status > 599) return -1;
    *content_length = -1;
    const char *end = h + len, *line = memchr(h, '\n', len);
    while (line && ++line < end) {
        static const char cl[] = "content-length:";
        if ((size_t)(end - line) > sizeof(cl) && strncasecmp(line, cl, sizeof(cl) - 1) == 0) {
            char *stop;
            long v = strtol(line + sizeof(cl) - 1, &stop, 10);
            if (v < 0 || stop == line + sizeof(cl) - 1) return -1;
            *content_length = v;
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return *content_length < 0 ? -1 : status;
}

/* An answer is complete: record it and send the next request. */
static void conn_answered(lg_t *g, lg_conn_t *c, int status) {
    uint64_t t = now_us();
    g->in_flight--;
    c->state = C_IDLE;
    if (status != 200) g->st.status_err++;
    else if (c->sent_us >= g->measure_start_us && g->measure_start_us) {
        hist_add(&g->hist, t - c->sent_us);
        g->st.measured_answers++;
    } else {
        g->st.warm_answers++;
    }
    c->path = (c->path + 1) % g->nreqs;
    if (g->phase == PH_WARMUP || g->phase == PH_MEASURE) conn_start_request(g, c);
}

/* Feeds bytes read from c into its answer. Returns -1 when c failed. */
static int conn_feed(lg_t *g, lg_conn_t *c, const char *p, size_t n) {
    while (n > 0) {
        if (c->state != C_WAITING) {
            conn_fail(g, c, &g->st.protocol_err); /* bytes nobody asked for */
            return -1;
        }
        if (c->body_left < 0) {
            size_t take = n < HEAD_CAP - c->head_len ? n : HEAD_CAP - c->head_len;
            memcpy(c->head + c->head_len, p, take);
            size_t scan_from = c->head_len > 3 ? c->head_len - 3 : 0;
            c->head_len += take;
            char *eoh = memmem(c->head + scan_from, c->head_len - scan_from, "\r\n\r\n", 4);
            if (!eoh) {
                if (c->head_len == HEAD_CAP) {
                    conn_fail(g, c, &g->st.protocol_err);
                    return -1;
                }
                return 0;
            }
            size_t head_len = (size_t)(eoh - c->head) + 4;
            long cl;
            int status = parse_head(c->head, head_len, &cl);
            if (status < 0) {
                conn_fail(g, c, &g->st.protocol_err);
                return -1;
            }
            size_t used = head_len - (c->head_len - take); /* bytes of p that belonged to the head */
            p += used;
            n -= used;
            c->body_left = cl;
            c->status = status;
        }
        size_t take = (size_t)c->body_left < n ? (size_t)c->body_left : n;
        c->body_left -= (long)take;
        p += take;
        n -= take;
        if (c->body_left == 0) {
            if (n > 0) { /* bytes after the answer, before we asked again */
                conn_fail(g, c, &g->st.protocol_err);
                return -1;
            }
            conn_answered(g, c, c->status);
        }
    }
    return 0;
}

static void conn_readable(lg_t *g, lg_conn_t *c) {
    for (;;) {
        ssize_t n = recv(c->fd, g->scratch, sizeof(g->scratch), 0);
        if (n > 0) {
            if (!c->active) {
                conn_fail(g, c, &g->st.protocol_err);
                return;
            }
            if (conn_feed(g, c, g->scratch, (size_t)n) < 0) return;
            /* The next request may have failed to go out, and c been closed or reopened. */
            if (c->state == C_DEAD || c->state == C_CONNECTING) return;
            if ((size_t)n < sizeof(g->scratch)) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        conn_fail(g, c, &g->st.closed); /* EOF or reset */
        return;
    }
}

static void on_event(lg_t *g, uint32_t i, uint32_t events) {
    lg_conn_t *c = &g->conns[i];
    if (c->state == C_DEAD) return;
    if (c->state == C_CONNECTING) {
        conn_connected(g, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_readable(g, c);
        if (c->state == C_DEAD || c->state == C_CONNECTING) return;
    }
    if ((events & EPOLLOUT) && c->state == C_SENDING) conn_send(g, c);
}

/* ---- phases ---- */

/* When active connection i sends its first request: evenly over the spread, from the warm-up's start. */
static uint64_t start_time(const lg_t *g, int i) {
    return g->warm_start_us + g->spread_us * (uint64_t)i / (uint64_t)g->active;
}

/* Sends the first request of every active connection whose time has come. */
static void start_due(lg_t *g, uint64_t now) {
    while (g->next_to_start < g->active && start_time(g, g->next_to_start) <= now) {
        lg_conn_t *c = &g->conns[g->next_to_start++];
        if (c->state == C_IDLE) conn_start_request(g, c);
    }
}

static void enter_phase(lg_t *g, phase_t ph, uint64_t now, uint64_t length_us) {
    g->phase = ph;
    g->phase_end_us = now + length_us;
    if (ph == PH_WARMUP) {
        g->connect_us = now - g->connect_start_us;
        g->warm_start_us = now;
        start_due(g, now);
    } else if (ph == PH_MEASURE) {
        g->measure_start_us = now;
    } else if (ph == PH_DRAIN) {
        g->measure_end_us = now;
    }
}

static int run(lg_t *g, uint64_t warm_us, uint64_t dur_us) {
    struct epoll_event evs[MAX_EVENTS];
    g->connect_start_us = now_us();
    g->phase = PH_CONNECT;
    open_more(g);
    while (g->phase != PH_DONE) {
        uint64_t now = now_us();
        if (g->phase == PH_CONNECT && g->connecting == 0 && g->next_to_open == g->total) {
            enter_phase(g, PH_WARMUP, now, warm_us);
        } else if (g->phase == PH_WARMUP && now >= g->phase_end_us) {
            enter_phase(g, PH_MEASURE, now, dur_us);
        } else if (g->phase == PH_MEASURE && now >= g->phase_end_us) {
            enter_phase(g, PH_DRAIN, now, DRAIN_US);
        } else if (g->phase == PH_DRAIN && (g->in_flight == 0 || now >= g->phase_end_us)) {
            g->st.timeouts += (uint64_t)g->in_flight;
            g->phase = PH_DONE;
            break;
        }
        int timeout_ms = 100;
        if (g->phase != PH_CONNECT) {
            uint64_t next = g->phase_end_us;
            if (g->next_to_start < g->active && start_time(g, g->next_to_start) < next)
                next = start_time(g, g->next_to_start);
            uint64_t left = next > now ? next - now : 0;
            timeout_ms = (int)((left + 999) / 1000);
            if (timeout_ms > 100) timeout_ms = 100;
        }
        int n = epoll_wait(g->epfd, evs, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "loadgen: epoll_wait: %s\n", strerror(errno));
            return -1;
        }
        for (int k = 0; k < n; k++) on_event(g, evs[k].data.u32, evs[k].events);
        if (g->phase == PH_CONNECT) open_more(g);
        if (g->phase == PH_WARMUP || g->phase == PH_MEASURE) start_due(g, now_us());
    }
    return 0;
}

static int add_request(lg_t *g, const char *host, int port, const char *path, size_t cap) {
    if (g->nreqs == cap) return -1;
    char *r, *p = strdup(path);
    int n = asprintf(&r, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: crawlbench-loadgen\r\n\r\n", path, host, port);
    if (n < 0 || !p) {
        if (n >= 0) free(r);
        free(p);
        return -1;
    }
    g->paths[g->nreqs] = p;
    g->reqs[g->nreqs] = r;
    g->req_lens[g->nreqs++] = (size_t)n;
    return 0;
}

static int load_paths(lg_t *g, const char *host, int port, const char *file, const char *fixed) {
    size_t cap = 1;
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
            return -1;
        }
        int ch;
        while ((ch = fgetc(f)) != EOF) cap += ch == '\n';
        rewind(f);
        g->reqs = calloc(cap, sizeof(*g->reqs));
        g->paths = calloc(cap, sizeof(*g->paths));
        g->req_lens = calloc(cap, sizeof(*g->req_lens));
        char line[2048];
        while (g->reqs && g->paths && g->req_lens && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] && add_request(g, host, port, line, cap) < 0) break;
        }
        fclose(f);
    } else {
        g->reqs = calloc(1, sizeof(*g->reqs));
        g->paths = calloc(1, sizeof(*g->paths));
        g->req_lens = calloc(1, sizeof(*g->req_lens));
        if (g->reqs && g->paths && g->req_lens) add_request(g, host, port, fixed, 1);
    }
    if (g->nreqs == 0) {
        fprintf(stderr, "loadgen: no paths to request\n");
        return -1;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: loadgen -p PORT [-h ADDR] [-c TOTAL] [-a ACTIVE] [-s SPREAD_MS] [-w WARMUP_S] [-d DURATION_S]\n"
               "               [-u PATHS_FILE | -P PATH]\n"
               "  -c  connections to open (default 100); -a of them carry one request at a time (default all)\n"
               "  -s  send the active connections' first requests evenly over this many ms (default 0:\n"
               "      all at once); at most the warm-up\n"
               "  -w  seconds of warm-up, not recorded (default 2); -d seconds measured (default 10)\n"
               "  -u  file of paths, one a line, requested in turn; -P one fixed path (default /health)\n");
}

static void report(const lg_t *g, uint64_t dur_us) {
    const lg_hist_t *h = &g->hist;
    const lg_stats_t *s = &g->st;
    double secs = (double)dur_us / 1e6;
    uint64_t errors = s->connect_err + s->closed + s->status_err + s->protocol_err + s->timeouts;
    double mean = h->count ? (double)h->sum_us / (double)h->count : 0;
    uint64_t p50 = hist_percentile(h, 50), p90 = hist_percentile(h, 90), p99 = hist_percentile(h, 99),
             p999 = hist_percentile(h, 99.9);
    fprintf(stderr,
            "connections: %d of %d open at the end (%d active), all opened in %.2f s\n"
            "answers: %llu measured in %.2f s = %.0f req/s (%llu during warm-up)\n"
            "latency us: min %llu  mean %.0f  p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n"
            "errors: %llu (connect %llu, closed %llu, status %llu, protocol %llu, timeout %llu)\n",
            g->open, g->total, g->active, (double)g->connect_us / 1e6, (unsigned long long)s->measured_answers,
            secs, (double)s->measured_answers / secs, (unsigned long long)s->warm_answers,
            (unsigned long long)h->min_us, mean, (unsigned long long)p50, (unsigned long long)p90,
            (unsigned long long)p99, (unsigned long long)p999, (unsigned long long)h->max_us,
            (unsigned long long)errors, (unsigned long long)s->connect_err, (unsigned long long)s->closed,
            (unsigned long long)s->status_err, (unsigned long long)s->protocol_err, (unsigned long long)s->timeouts);
    printf("RESULT conns=%d open=%d active=%d connect_s=%.3f requests=%llu rps=%.0f min_us=%llu mean_us=%.0f "
           "p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu errors=%llu connect_err=%llu "
           "closed=%llu status_err=%llu protocol_err=%llu timeouts=%llu\n",
           g->total, g->open, g->active, (double)g->connect_us / 1e6, (unsigned long long)s->measured_answers,
           (double)s->measured_answers / secs, (unsigned long long)h->min_us, mean, (unsigned long long)p50,
           (unsigned long long)p90, (unsigned long long)p99, (unsigned long long)p999,
           (unsigned long long)h->max_us, (unsigned long long)errors, (unsigned long long)s->connect_err,
           (unsigned long long)s->closed, (unsigned long long)s->status_err, (unsigned long long)s->protocol_err,
           (unsigned long long)s->timeouts);
}

static long parse_num(const char *s, long lo, long hi, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "loadgen: %s must be a number from %ld to %ld, not '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    static lg_t g; /* large (a scratch buffer); zeroed */
    const char *host = "127.0.0.1", *file = NULL, *fixed = "/health";
    int port = 0, opt, rc = 1;
    long warm_s = 2, dur_s = 10, spread_ms = 0;
    g.total = 100;
    g.active = -1;
    g.epfd = -1;
    while ((opt = getopt(argc, argv, "p:h:c:a:s:w:d:u:P:")) != -1) {
        switch (opt) {
        case 'p': port = (int)parse_num(optarg, 1, 65535, "-p"); break;
        case 'h': host = optarg; break;
        case 'c': g.total = (int)parse_num(optarg, 1, 1000000, "-c"); break;
        case 'a': g.active = (int)parse_num(optarg, 0, 1000000, "-a"); break;
        case 's': spread_ms = parse_num(optarg, 0, 3600000, "-s"); break;
        case 'w': warm_s = parse_num(optarg, 0, 3600, "-w"); break;
        case 'd': dur_s = parse_num(optarg, 1, 3600, "-d"); break;
        case 'u': file = optarg; break;
        case 'P': fixed = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (!port || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (g.active < 0 || g.active > g.total) g.active = g.total;
    if (spread_ms > warm_s * 1000) {
        fprintf(stderr, "loadgen: -s %ld ms is longer than the warm-up (-w %ld s)\n", spread_ms, warm_s);
        return 2;
    }
    g.spread_us = (uint64_t)spread_ms * 1000u;
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: -h wants an IPv4 address, not '%s'\n", host);
        return 2;
    }
    if (load_paths(&g, host, port, file, fixed) < 0) goto done;
    if (fdlimit_raise((uint64_t)g.total + 16) < (uint64_t)g.total + 16) {
        fprintf(stderr, "loadgen: need %d open files, more than the hard limit (ulimit -Hn)\n", g.total + 16);
        goto done;
    }
    g.conns = calloc((size_t)g.total, sizeof(*g.conns));
    g.hist.linear = calloc(HIST_LINEAR_US, sizeof(*g.hist.linear));
    if (!g.conns || !g.hist.linear) {
        fprintf(stderr, "loadgen: out of memory\n");
        goto done;
    }
    for (int i = 0; i < g.total; i++) {
        g.conns[i].fd = -1;
        g.conns[i].path = (size_t)i % g.nreqs;
        g.conns[i].active = i < g.active;
        if (g.conns[i].active && !(g.conns[i].head = malloc(HEAD_CAP))) {
            fprintf(stderr, "loadgen: out of memory\n");
            goto done;
        }
    }
    if ((g.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fprintf(stderr, "loadgen: epoll_create1: %s\n", strerror(errno));
        goto done;
    }
    if (run(&g, (uint64_t)warm_s * 1000000u, (uint64_t)dur_s * 1000000u) < 0) goto done;
    report(&g, g.measure_end_us - g.measure_start_us);
    rc = 0;
done:
    if (g.conns) {
        for (int i = 0; i < g.total; i++) {
            if (g.conns[i].fd >= 0) close(g.conns[i].fd);
            free(g.conns[i].head);
        }
        free(g.conns);
    }
    for (size_t i = 0; i < g.nreqs; i++) {
        free(g.reqs[i]);
        free(g.paths[i]);
    }
    free(g.reqs);
    free(g.paths);
    free(g.req_lens);
    free(g.hist.linear);
    if (g.epfd >= 0) close(g.epfd);
    return rc;
}
