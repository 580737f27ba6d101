/* The demo server: worker threads, each with its own epoll loop and its own SO_REUSEPORT listening
 * socket (shared-nothing, as in wrk and lwan), serving the web graph over HTTP/1.1 with simulated
 * latency and faults. Used by `crawlbench serve` and embedded in-process by `crawlbench compare`.
 *
 * Conventions: server_start returns NULL with a message in err; server_stop is thread-safe and
 * async-signal-safe. */
#ifndef CRAWLBENCH_SERVER_H
#define CRAWLBENCH_SERVER_H

#include "graph/graph.h"
#include "server/fault.h"

#include <stdint.h>

#define SERVER_ERR_LEN 256

typedef struct server_config {
    const char *host;           /* default "127.0.0.1" */
    int port;                   /* default 5000; 0 picks a free port */
    int threads;                /* worker threads; 0 = number of online cores */
    const graph_t *graph;       /* required; must outlive the server */
    uint64_t seed;              /* drives faults, latency and /graph/random */
    fault_latency_t latency;    /* applied to /api requests */
    fault_plan_t faults;
    uint32_t retry_after_s;     /* Retry-After on 429 and 503, default 1 */
    double rate_limit;          /* /api requests per second per client address; 0 (default): none */
    uint32_t rate_burst;        /* the bucket's size: requests a client may send at once */
    uint32_t max_conns;         /* default 10000 */
    uint64_t idle_timeout_us;   /* keep-alive connection with no request, default 60 s */
    uint64_t header_timeout_us; /* a request head must arrive whole within this, default 10 s */
    uint64_t hang_timeout_us;   /* a hung request is closed after this, default 300 s */
    uint32_t slow_chunk;        /* slow bodies: bytes per piece, default 16 */
    uint64_t slow_interval_us;  /* slow bodies: gap between pieces, default 10 ms */
    uint64_t drain_timeout_us;  /* on stop, wait this long for requests in flight, default 10 s */
} server_config_t;

typedef struct server server_t; /* opaque */

/* Fills cfg with the defaults above. */
void server_config_init(server_config_t *cfg);

/* Binds, then starts the workers. On return the server is accepting connections. */
server_t *server_start(const server_config_t *cfg, char *err);
int server_port(const server_t *s);
int server_threads(const server_t *s);
/* The open-file limit after the server raised it as far as the hard limit allows. */
uint64_t server_fd_limit(const server_t *s);

/* Asks the workers to stop accepting, finish requests in flight (up to drain_timeout_us) and exit. */
void server_stop(server_t *s);
/* Waits for the workers to exit, then frees everything. */
void server_wait(server_t *s);

#endif
