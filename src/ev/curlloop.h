/* curlloop: drives a libcurl multi handle from the project's loop_t, the way curl's
 * docs/examples/ephiperfifo.c drives one from raw epoll and hiredis's adapters/ae.h attaches to
 * redis's loop. libcurl says which sockets it wants watched and when it next needs a timeout; the
 * adapter turns that into loop fds and one loop timer, and hands each finished transfer to the
 * owner. Nothing here blocks; everything runs on the loop's thread.
 *
 * Conventions: functions return 0 / -1; curlloop_create writes its reason into err. The done
 * callback receives an easy handle already removed from the multi: it may add it again, free it,
 * or leave it, and may add or remove other handles. Free the adapter (after removing your handles)
 * before freeing the loop: libcurl closes its pooled connections through the adapter. */
#ifndef CRAWLBENCH_CURLLOOP_H
#define CRAWLBENCH_CURLLOOP_H

#include "ev/loop.h"

#include <curl/curl.h>

typedef struct curlloop curlloop_t;

/* A transfer ended (rc is its result: see fetch_classify). data is curlloop_create's. */
typedef void curlloop_done_fn(curlloop_t *cl, CURL *easy, CURLcode rc, void *data);

/* max_transfers: the most transfers the owner keeps added at once; the pool keeps that many idle
 * connections open for reuse. Above 64, the transfers are spread over several libcurl multi
 * handles (see curlloop.c), invisibly to the owner. */
curlloop_t *curlloop_create(loop_t *l, uint32_t max_transfers, curlloop_done_fn *done, void *data, char *err,
                            size_t errlen);
/* Cleans up the multi handle, which closes its pooled connections. Handles still added are detached
 * by libcurl, not freed: they are the caller's. NULL is fine. */
void curlloop_free(curlloop_t *cl);

/* Starts a transfer. easy is queued, and given to libcurl together with the other handles queued in
 * the same loop iteration (up to 16 at a time, or once the iteration's callbacks have run), so that
 * their requests leave in one burst. -1 when out of memory. A handle added twice is a bug: the
 * second add is ignored and curlloop_error() says so. The handle's CURLOPT_CLOSESOCKETFUNCTION is
 * set to the adapter's: do not use it with another multi handle, or after curlloop_free(), without
 * resetting that. */
int curlloop_add(curlloop_t *cl, CURL *easy);
/* Abandons a transfer added and not yet done: its done callback will not run, and its connection
 * is closed (libcurl cannot reuse a connection in the middle of an answer). */
void curlloop_remove(curlloop_t *cl, CURL *easy);
uint32_t curlloop_active(const curlloop_t *cl); /* handles added and not yet done */
uint32_t curlloop_shards(const curlloop_t *cl); /* libcurl multi handles behind it */

/* The first failure to watch a socket ("loop_add_fd: ..."), or NULL. Transfers it hit end with an
 * error of their own; the owner may want to report it. */
const char *curlloop_error(const curlloop_t *cl);

#endif
