/* The one fetch path of the crawlers: libcurl setup, outcome classification and the retry policy,
 * shared by every engine that uses libcurl, plus a blocking fetch-with-retries for the engines whose
 * workers block (sequential, threads, processes, pool, pipeline). Event-driven engines use the same
 * setup, classification and policy, and schedule the retries on their own timers.
 *
 * libcurl use: one easy handle per transfer slot, reused so its connection stays alive;
 * CURLOPT_NOSIGNAL (threads); curl_global_init once, in main, before any thread. A handle is never
 * shared between threads. */
#ifndef CRAWLBENCH_FETCH_H
#define CRAWLBENCH_FETCH_H

#include "base/buf.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum fetch_outcome {
    FETCH_OK = 0,    /* 200 with the whole body */
    FETCH_HTTP,      /* another status: see http_status */
    FETCH_TIMEOUT,   /* no whole answer within the timeout (a hung request) */
    FETCH_RESET,     /* connection reset, or closed before any answer */
    FETCH_TRUNCATED, /* the body stopped short of its Content-Length */
    FETCH_CONNECT,   /* could not connect */
    FETCH_ERROR,     /* anything else libcurl reports */
    FETCH_OUTCOMES
} fetch_outcome_t;

const char *fetch_outcome_name(fetch_outcome_t o); /* "ok", "http", "timeout", ... */

typedef struct fetch_pace fetch_pace_t; /* see fetch_pace_create() */

typedef struct fetch_opts {
    const char *base_url;      /* "http://127.0.0.1:5000", no trailing slash */
    fetch_pace_t *pace;        /* the crawl's shared pacing; NULL: none */
    uint64_t timeout_us;       /* per attempt, time on the wire */
    uint32_t max_attempts;     /* at least 1 */
    uint64_t backoff_us;       /* first retry's delay; doubles each time, with full jitter */
    uint64_t backoff_max_us;
} fetch_opts_t;

/* What each attempt ended in, finer than the outcome: what the crawl result reports, and what must
 * come out the same in every engine for a given server seed. */
typedef enum fetch_tally {
    TALLY_OK, TALLY_5XX, TALLY_429, TALLY_OTHER_HTTP, TALLY_TIMEOUT, TALLY_RESET, TALLY_TRUNCATED,
    TALLY_CONNECT, TALLY_ERROR, FETCH_TALLIES
} fetch_tally_t;

const char *fetch_tally_name(fetch_tally_t t); /* "ok", "5xx", "429", ... */

typedef struct fetch_result {
    uint32_t tally[FETCH_TALLIES]; /* attempts for this page, by how they ended */
    fetch_outcome_t outcome;
    int http_status;
    uint64_t retry_after_us; /* the server's Retry-After, 0 when none */
    uint64_t pace_us;        /* the interval the server's RateLimit-Policy allows; 0 when none */
    uint64_t latency_us;     /* of the last attempt */
    uint32_t attempts;
    /* What the page cost that no client could have saved, for the ideal (ideal.c): the server-side
     * time of its attempts (Server-Timing; a hang: the whole timeout), and the waits the retry
     * policy imposed between them. untimed: answers that carried no Server-Timing. */
    uint64_t server_us, waited_us;
    uint32_t untimed;
    buf_t body;              /* the last attempt's body */
    char error[CURL_ERROR_SIZE];
    /* private: the attempt-number header of the next attempt (HTTP_ATTEMPT_HEADER), as the one-line
     * header list of a libcurl handle made by fetch_easy_create(), which points at it */
    char attempt_line[48];
    struct curl_slist attempt_header;
} fetch_result_t;

/* A libcurl easy handle for crawler transfers, with every option the project sets (no signals, no
 * proxy from the environment, http only, timeouts, keep-alive), its body into r->body, its errors
 * into r->error, and priv as CURLOPT_PRIVATE (may be NULL). Reuse it for every attempt of its slot,
 * so that its connection stays alive. NULL when libcurl cannot make one. */
CURL *fetch_easy_create(const fetch_opts_t *o, fetch_result_t *r, void *priv);
/* The same options for a call to the server's own API (/graph/...), the body into *body. */
CURL *fetch_api_easy(uint64_t timeout_us, buf_t *body);
/* Asks BASE for a random page (GET /graph/random, JSON), which also checks that it speaks the
 * crawlbench API; copies its id into id (idcap bytes). 0, or -1 with a message that says what to
 * do in err. */
int fetch_random_page(const char *base_url, uint64_t timeout_us, char *id, size_t idcap, char *err, size_t errlen);

/* Clears a page's attempt count and tally before its first attempt. */
void fetch_result_reset(fetch_result_t *r);
/* Points easy at BASE/api/ID and clears r for a new attempt (the tally is kept: clear it with
 * fetch_result_reset() before a page's first attempt). */
int fetch_easy_url(CURL *easy, const fetch_opts_t *o, const char *id, size_t len, fetch_result_t *r);
/* Writes the header line that states r's next attempt number ("X-Crawlbench-Attempt: 2") into r
 * and returns it; fetch_easy_url() does it for libcurl handles, our own client calls it. The server
 * keys its faults on it, so a resend by the library meets the same fault and is not an attempt. */
const char *fetch_attempt_line(fetch_result_t *r);
/* Fills r's outcome, status, Retry-After and latency from a finished transfer, and counts the
 * attempt in r->tally. */
void fetch_classify(CURL *easy, const fetch_opts_t *o, CURLcode rc, fetch_result_t *r);

/* Counts a finished attempt whose outcome and status are set: r->attempts and r->tally. For
 * engines with their own HTTP client; fetch_classify() calls it for libcurl transfers. */
void fetch_count(fetch_result_t *r);

/* Whether another attempt may succeed: 5xx, 429, 408, timeouts, resets, truncated bodies, refused
 * connections. A 404 or a 400 will not change. */
int fetch_retryable(const fetch_result_t *r);
/* The wait before r's next attempt (fetch_backoff_us for attempt r->attempts + 1), counted in
 * r->waited_us: what every engine calls before it sleeps. */
uint64_t fetch_retry_wait_us(const fetch_opts_t *o, fetch_result_t *r, uint64_t rnd);
/* Counts an attempt's server-side time into r: the Server-Timing value (has_timing) of an answer,
 * the timeout of a hung attempt; fetch_classify() calls it, our own client too. */
void fetch_count_server_time(uint64_t timeout_us, fetch_result_t *r, int has_timing, uint64_t timing_us);
/* Delay before attempt number `attempt` (2 for the first retry): after a 429 or 503 that says
 * Retry-After, that long plus up to half as long again at random (so that clients told the same
 * instant do not return together); otherwise exponential backoff with full jitter (random in
 * [0, base * 2^(attempt-2)], capped). rnd: 64 random bits. */
uint64_t fetch_backoff_us(const fetch_opts_t *o, uint32_t attempt, const fetch_result_t *r, uint64_t rnd);

/* The jitter seed of worker number `worker` (0, 1, ...) of a crawl with seed crawl_seed: the same
 * crawl with the same seed makes the same retry waits, and no two workers draw the same ones. */
uint64_t fetch_jitter_seed(uint64_t crawl_seed, uint32_t worker);

/* Pacing. A server that limits each client's rate says how fast it may go on every answer
 * (RateLimit-Policy, http.h). The limit is the client's, not the page's: a worker told to wait
 * while seven others fire would only earn seven more 429s. So the crawl shares one pace: every
 * attempt of the whole crawl takes the next turn, one interval (1% more than the policy allows, for
 * the clocks' jitter) after the last, and the crawl runs at the server's rate instead of bouncing off
 * it. An answer without the policy lifts the pace. The pace lives in shared memory, so worker
 * processes share it too, and its fields are lock-free atomics. An ordinary 429 (an injected fault)
 * with Retry-After is a wait for that page alone. */
fetch_pace_t *fetch_pace_create(void); /* NULL when out of memory */
void fetch_pace_free(fetch_pace_t *p);
/* How long the next attempt must wait for its turn (0 while not paced); reserves that turn. */
uint64_t fetch_pace_wait_us(fetch_pace_t *p);
/* Learns the pace from a finished attempt's answer (none: nothing to learn). */
void fetch_pace_note(fetch_pace_t *p, const fetch_result_t *r);

/* A blocking fetcher: one easy handle, reused. seed: fetch_jitter_seed(). */
typedef struct fetcher fetcher_t;
fetcher_t *fetcher_create(const fetch_opts_t *o, uint64_t seed, char *err, size_t errlen);
void fetcher_free(fetcher_t *f);
/* Fetches page id, retrying as the policy says, sleeping between attempts; gives up early when
 * *stop becomes non-zero. The result lives until the next call. */
const fetch_result_t *fetcher_get(fetcher_t *f, const char *id, size_t len, atomic_int *stop);

#endif
