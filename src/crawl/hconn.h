/* One HTTP/1.1 client connection on the project's event loop, for the epoll crawler: a non-blocking
 * keep-alive TCP socket, one GET at a time (no pipelining), responses parsed with the server's own
 * parser (server/http.h) and framed by Content-Length. Every attempt ends in a fetch_result_t filled
 * exactly as fetch_classify() fills it for libcurl engines, so results compare across engines.
 *
 * Unlike libcurl, which silently resends a request when a reused connection turns out dead, every
 * reset and close here is one failed attempt, tallied: what the crawler counts is what happened.
 *
 * Conventions: hconn_target_parse returns 0 or -1 with a message in err; hconn_create returns NULL
 * when memory runs out. Not thread-safe: a connection belongs to its loop's thread. */
#ifndef CRAWLBENCH_HCONN_H
#define CRAWLBENCH_HCONN_H

#include "crawl/fetch.h"
#include "ev/loop.h"

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

/* Where the requests go: the base URL resolved once (getaddrinfo), shared read-only by every
 * connection of every thread. Fields are public and read-only. */
typedef struct hconn_target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[280]; /* the Host header's value: "HOST:PORT" as the URL spelled it */
} hconn_target_t;

/* Parses "http://HOST[:PORT]" (an IPv6 HOST in brackets; one trailing '/' allowed) and resolves
 * HOST. Blocking: call it once, before any loop runs. */
int hconn_target_parse(hconn_target_t *t, const char *base_url, char *err, size_t errlen);

typedef struct hconn hconn_t;

/* An attempt ended: the fetch_result_t given to hconn_get() is filled and counted in its tally.
 * Called from the loop, never from inside hconn_get(); the callback may start the next request. */
typedef void hconn_done_fn(hconn_t *h, void *data);

/* A connection to t (which must outlive it); timeout_us bounds each attempt, from the moment it is
 * handed to the connection (connect included) until the whole answer is in. */
hconn_t *hconn_create(loop_t *l, const hconn_target_t *t, uint64_t timeout_us, hconn_done_fn *cb, void *data);
/* Closes the socket and frees h. Not from inside h's own callback. */
void hconn_free(hconn_t *h);

/* Sends GET /api/ID and fills r when the answer is in: outcome, http_status, retry_after_us,
 * latency_us, body, error; then r->tally and r->attempts count the attempt. The tally is kept from
 * earlier attempts (clear it with fetch_result_reset() before a page's first). Connects first when
 * the connection is closed. h must not be busy; r must live until the callback.
 * Returns 0, and the callback follows; or -1 when memory ran out before anything was sent: r then
 * holds that FETCH_ERROR, counted, and no callback follows. */
int hconn_get(hconn_t *h, const char *id, size_t len, fetch_result_t *r);
int hconn_busy(const hconn_t *h);

/* Connections this one opened, counting the first (for tests and the report). */
uint64_t hconn_connects(const hconn_t *h);

#endif
