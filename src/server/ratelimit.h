/* Per-client rate limiting for the demo server: a token bucket per client address, refilled at
 * `rate` tokens a second up to `burst`; a request takes a token or is told how long until the
 * next one. Shared by every worker thread (a client's connections may land on any of them, through
 * SO_REUSEPORT), so the table is guarded by striped mutexes; it holds RATELIMIT_CLIENTS addresses,
 * and clients beyond that share one overflow bucket (said in /graph/stats).
 *
 * Conventions: ratelimit_parse returns 0, or -1 with a message in err. */
#ifndef CRAWLBENCH_RATELIMIT_H
#define CRAWLBENCH_RATELIMIT_H

#include "base/buf.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_CLIENTS 4096

typedef struct ratelimit ratelimit_t; /* opaque */

/* "N/s" or "N/s,BURST" (N > 0, may have decimals; BURST a whole number >= 1, default max(1, N)). */
int ratelimit_parse(const char *spec, size_t len, double *rate, uint32_t *burst, char *err, size_t errlen);

ratelimit_t *ratelimit_create(double rate, uint32_t burst);
void ratelimit_free(ratelimit_t *rl);

/* Takes a token for the client at addr at time now_us: 0 when it may go ahead, else the
 * microseconds until its next token (at least 1). Counts both outcomes for the client. */
uint64_t ratelimit_take(ratelimit_t *rl, const struct sockaddr_storage *addr, uint64_t now_us);

/* The header line that announces the limit on every answer (HTTP_RATELIMIT_POLICY_HEADER), with
 * its CRLF: "RateLimit-Policy: 200;w=1\r\n"; a fractional rate as a longer window (2.5/s: 25;w=10). */
void ratelimit_policy_line(const ratelimit_t *rl, char *buf, size_t cap);

/* Appends {"rate":N,"burst":B,"clients":{"ADDR":{"allowed":X,"limited":Y},...}} to body, counts since
 * the last ratelimit_reset_counts(). */
void ratelimit_stats_json(ratelimit_t *rl, buf_t *body);
void ratelimit_reset_counts(ratelimit_t *rl);

#endif
