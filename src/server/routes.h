/* The HTTP API of the demo server: turns one parsed request into a reply (status, JSON body, extra
 * headers) plus the simulated delay and fault that go with it. No I/O: server.c sends what this
 * decides, so every route is testable without sockets. */
#ifndef CRAWLBENCH_ROUTES_H
#define CRAWLBENCH_ROUTES_H

#include "base/buf.h"
#include "graph/graph.h"
#include "server/audit.h"
#include "server/ratelimit.h"
#include "http/http.h"
#include "server/server.h"

#include <stdatomic.h>

/* What the routes read of the server. All fields are set by server.c and shared read-only, except
 * the atomics. */
typedef struct routes_env {
    const server_config_t *cfg;
    const graph_t *graph;
    audit_t *audit;
    int threads;
    uint64_t started_us;
    _Atomic uint32_t *conns_open;
    _Atomic uint64_t *random_calls; /* how many /graph/random answers so far */
    graph_shape_t shape;            /* computed once at start */
    ratelimit_t *ratelimit;         /* NULL: no rate limit */
    char ratelimit_policy[64];      /* its header line, "RateLimit-Policy: 200;w=1\r\n" */
} routes_env_t;

typedef struct routes_reply {
    int status;
    audit_route_t route;
    const char *content_type;
    buf_t *body;        /* the caller's scratch buffer, filled by routes_handle */
    char headers[256];  /* extra header lines, each ending in CRLF */
    size_t headers_len;
    uint64_t delay_us;  /* send after this long */
    fault_kind_t fault; /* connection-level fault to apply when sending (reset, close, ...) */
    int64_t page;       /* the page answered, for the audit; -1 when none */
    int head_only;      /* HEAD request: send the head alone */
} routes_reply_t;

/* Decides the reply to req from the client at peer. body is cleared and filled. Never fails: out-of-memory becomes a 500. */
void routes_handle(const routes_env_t *env, audit_counters_t *counters, const struct sockaddr_storage *peer,
                   const http_request_t *req, buf_t *body, routes_reply_t *out);

/* Fills a reply for a request the parser rejected (400, 414, 431, 408, 413): a JSON error body. */
void routes_error(int status, const char *message, buf_t *body, routes_reply_t *out);

#endif
