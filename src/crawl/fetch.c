/* libcurl glue and retry policy for every crawler (see fetch.h). */
#include "crawl/fetch.h"

#include "base/rng.h"
#include "http/http.h"
#include "crawl/page.h"

#include <cjson/cJSON.h>

#include "base/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (16u << 20) /* a page larger than this is not a crawlbench page */

static const char *const outcome_names[FETCH_OUTCOMES] = {"ok", "http", "timeout", "reset", "truncated",
                                                          "connect", "error"};

const char *fetch_outcome_name(fetch_outcome_t o) { return o < FETCH_OUTCOMES ? outcome_names[o] : "?"; }

static const char *const tally_names[FETCH_TALLIES] = {"ok", "5xx", "429", "other_http", "timeout", "reset",
                                                       "truncated", "connect", "error"};

const char *fetch_tally_name(fetch_tally_t t) { return t < FETCH_TALLIES ? tally_names[t] : "?"; }

void fetch_result_reset(fetch_result_t *r) {
    memset(r->tally, 0, sizeof(r->tally));
    r->attempts = 0;
    r->server_us = r->waited_us = 0;
    r->untimed = 0;
}

uint64_t fetch_retry_wait_us(const fetch_opts_t *o, fetch_result_t *r, uint64_t rnd) {
    uint64_t us = fetch_backoff_us(o, r->attempts + 1, r, rnd);
    r->waited_us += us;
    return us;
}

void fetch_count_server_time(uint64_t timeout_us, fetch_result_t *r, int has_timing, uint64_t timing_us) {
    if (has_timing) r->server_us += timing_us;
    else if (r->outcome == FETCH_TIMEOUT) r->server_us += timeout_us; /* a hang: no client waits less */
    else if (r->http_status) r->untimed++; /* an answer without it: the ideal cannot be known */
}

static fetch_tally_t tally_of(const fetch_result_t *r) { /* the finer kind of an attempt's end */
    switch (r->outcome) {
    case FETCH_OK: return TALLY_OK;
    case FETCH_HTTP:
        return r->http_status >= 500 ? TALLY_5XX : r->http_status == 429 ? TALLY_429 : TALLY_OTHER_HTTP;
    case FETCH_TIMEOUT: return TALLY_TIMEOUT;
    case FETCH_RESET: return TALLY_RESET;
    case FETCH_TRUNCATED: return TALLY_TRUNCATED;
    case FETCH_CONNECT: return TALLY_CONNECT;
    default: return TALLY_ERROR;
    }
}

/* Every response body goes through here, into the buf_t given as CURLOPT_WRITEDATA. */
static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    buf_t *b = arg;
    size_t len = size * n;
    if (b->len + len > MAX_BODY || buf_append(b, data, len) < 0) return 0; /* aborts the transfer */
    return len;
}

/* The options every request of the project sets, crawler transfer or API call. */
static CURL *easy_base(uint64_t timeout_us, buf_t *body) {
    long ms = (long)((timeout_us + 999) / 1000);
    CURL *easy = curl_easy_init();
    if (!easy) return NULL;
    int bad = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) ||
              curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms) ||
              curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms) ||
              curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body) ||
              curl_easy_setopt(easy, CURLOPT_WRITEDATA, body) ||
              curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http") ||
              /* Straight to the server under test: a proxy from http_proxy would be what we measure
               * (or would not be there at all), and libcurl would look the variables up again on
               * every transfer. */
              curl_easy_setopt(easy, CURLOPT_PROXY, "");
    if (bad) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

#define USER_AGENT "crawlbench/0.1"

/* Sent by every crawler transfer as a header of the list, not through CURLOPT_USERAGENT, from
 * which libcurl would format the same line again for every request (about 3,000 instructions,
 * 3% of an async crawler's page: callgrind). libcurl only reads the list. */
static struct curl_slist user_agent_header = {.data = "User-Agent: " USER_AGENT, .next = NULL};

CURL *fetch_easy_create(const fetch_opts_t *o, fetch_result_t *r, void *priv) {
    CURL *easy = easy_base(o->timeout_us, &r->body);
    r->attempt_header = (struct curl_slist){.data = r->attempt_line, .next = &user_agent_header};
    fetch_attempt_line(r);
    if (easy && (curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L) || curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L) ||
                 curl_easy_setopt(easy, CURLOPT_HTTPHEADER, &r->attempt_header) ||
                 curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, r->error) ||
                 curl_easy_setopt(easy, CURLOPT_PRIVATE, priv))) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

CURL *fetch_api_easy(uint64_t timeout_us, buf_t *body) {
    CURL *easy = easy_base(timeout_us, body);
    if (easy && curl_easy_setopt(easy, CURLOPT_USERAGENT, USER_AGENT)) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

int fetch_random_page(const char *base_url, uint64_t timeout_us, char *id, size_t idcap, char *err, size_t errlen) {
    char url[512];
    buf_t body = BUF_INIT;
    long status = 0;
    int rc = -1;
    CURL *easy = fetch_api_easy(timeout_us, &body);
    if (!easy) {
        snprintf(err, errlen, "cannot create a libcurl handle");
        return -1;
    }
    snprintf(url, sizeof(url), "%s/graph/random", base_url);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    CURLcode cc = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    cJSON *doc = cc == CURLE_OK && status == 200 ? cJSON_ParseWithLength(body.data ? body.data : "", body.len) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "page_id");
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (cc != CURLE_OK)
        snprintf(err, errlen, "cannot reach %s: %s (is the server running? start one with 'crawlbench serve')",
                 base_url, curl_easy_strerror(cc));
    else if (!s || strlen(s) >= idcap || !page_id_valid(s, strlen(s)))
        snprintf(err, errlen, "%s does not look like a crawlbench server: GET /graph/random answered %ld "
                 "without a page id", base_url, status);
    else {
        memcpy(id, s, strlen(s) + 1);
        rc = 0;
    }
    cJSON_Delete(doc);
    buf_free(&body);
    curl_easy_cleanup(easy);
    return rc;
}

const char *fetch_attempt_line(fetch_result_t *r) {
    snprintf(r->attempt_line, sizeof(r->attempt_line), HTTP_ATTEMPT_HEADER ": %u", r->attempts + 1);
    return r->attempt_line;
}

int fetch_easy_url(CURL *easy, const fetch_opts_t *o, const char *id, size_t len, fetch_result_t *r) {
    char url[512];
    fetch_attempt_line(r); /* the header list of easy points at it */
    int n = snprintf(url, sizeof(url), "%s/api/%.*s", o->base_url, (int)len, id);
    buf_clear(&r->body);
    r->error[0] = '\0';
    r->outcome = FETCH_ERROR;
    r->http_status = 0;
    r->retry_after_us = 0;
    r->pace_us = 0;
    if (n < 0 || (size_t)n >= sizeof(url)) return -1;
    return curl_easy_setopt(easy, CURLOPT_URL, url) ? -1 : 0;
}

/* A header of the last answer through parse (0 with *us, or -1 when absent or unreadable). */
static int easy_header_us(CURL *easy, const char *name, int (*parse)(const char *, size_t, uint64_t *), uint64_t *us) {
    struct curl_header *h;
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) return -1;
    return parse(h->value, strlen(h->value), us);
}

void fetch_classify(CURL *easy, const fetch_opts_t *o, CURLcode rc, fetch_result_t *r) {
    long status = 0;
    curl_off_t us = 0, retry_after = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
    r->http_status = (int)status;
    r->latency_us = (uint64_t)us;
    r->retry_after_us = retry_after > 0 ? (uint64_t)retry_after * 1000000u : 0;
    uint64_t precise;
    if ((status == 429 || status == 503) && /* the only answers whose Retry-After is heeded */
        easy_header_us(easy, HTTP_RETRY_AFTER_US_HEADER, http_count_us, &precise) == 0)
        r->retry_after_us = precise;
    if (status && easy_header_us(easy, HTTP_RATELIMIT_POLICY_HEADER, http_ratelimit_interval_us, &r->pace_us) < 0)
        r->pace_us = 0;
    switch (rc) {
    case CURLE_OK: r->outcome = status == 200 ? FETCH_OK : FETCH_HTTP; break;
    case CURLE_OPERATION_TIMEDOUT: r->outcome = FETCH_TIMEOUT; break;
    case CURLE_PARTIAL_FILE: r->outcome = FETCH_TRUNCATED; break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING: r->outcome = FETCH_RESET; break;
    case CURLE_COULDNT_CONNECT: r->outcome = FETCH_CONNECT; break;
    default: r->outcome = FETCH_ERROR; break;
    }
    if (!r->error[0] && rc != CURLE_OK) snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
    uint64_t timing = 0;
    int has_timing = r->http_status && easy_header_us(easy, "Server-Timing", http_server_timing_us, &timing) == 0;
    fetch_count_server_time(o->timeout_us, r, has_timing, timing);
    fetch_count(r);
}

void fetch_count(fetch_result_t *r) {
    r->tally[tally_of(r)]++;
    r->attempts++;
}

int fetch_retryable(const fetch_result_t *r) {
    switch (r->outcome) {
    case FETCH_OK:
    case FETCH_ERROR: return 0;
    case FETCH_HTTP: return r->http_status >= 500 || r->http_status == 429 || r->http_status == 408;
    default: return 1;
    }
}

uint64_t fetch_backoff_us(const fetch_opts_t *o, uint32_t attempt, const fetch_result_t *r, uint64_t rnd) {
    if (o->pace && r->pace_us && r->http_status == 429) return 0; /* the crawl's pace is the wait */
    if ((r->http_status == 429 || r->http_status == 503) && r->retry_after_us)
        /* The server said when. Half as long again at most, at random: clients told the same
         * instant (a rate limit's next token) would otherwise all come back at once. */
        return r->retry_after_us + rnd % (r->retry_after_us / 2 + 1);
    uint64_t ceiling = o->backoff_us;
    for (uint32_t i = 2; i < attempt && ceiling < o->backoff_max_us; i++) ceiling *= 2;
    if (ceiling > o->backoff_max_us) ceiling = o->backoff_max_us;
    return ceiling ? rnd % (ceiling + 1) : 0;
}

uint64_t fetch_jitter_seed(uint64_t crawl_seed, uint32_t worker) { return rng_hash3(crawl_seed, worker, 0x6a17); }

struct fetch_pace {
    _Atomic uint64_t next_us;     /* the earliest start of the next attempt (CLOCK_MONOTONIC) */
    _Atomic uint64_t interval_us; /* between two attempts; 0: not paced */
};

fetch_pace_t *fetch_pace_create(void) {
    void *p = mmap(NULL, sizeof(fetch_pace_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* zeroed: not paced */
}

void fetch_pace_free(fetch_pace_t *p) {
    if (p) munmap(p, sizeof(*p));
}

uint64_t fetch_pace_wait_us(fetch_pace_t *p) {
    uint64_t interval = p ? atomic_load_explicit(&p->interval_us, memory_order_relaxed) : 0;
    if (!interval) return 0;
    uint64_t now = clock_now_us(), next = atomic_load_explicit(&p->next_us, memory_order_relaxed), slot;
    do slot = next > now ? next : now;
    while (!atomic_compare_exchange_weak_explicit(&p->next_us, &next, slot + interval, memory_order_relaxed,
                                                  memory_order_relaxed));
    return slot - now;
}

void fetch_pace_note(fetch_pace_t *p, const fetch_result_t *r) {
    if (!p || !r->http_status) return; /* no answer, nothing said */
    uint64_t interval = r->pace_us + r->pace_us / 100, zero = 0;
    uint64_t was = atomic_exchange_explicit(&p->interval_us, interval, memory_order_relaxed);
    /* The first policy heard: the attempt it answers took this interval's turn, so the next one
     * waits a whole interval from now rather than leaving at once into an empty bucket. */
    if (!was && interval)
        atomic_compare_exchange_strong_explicit(&p->next_us, &zero, clock_now_us() + interval, memory_order_relaxed,
                                                memory_order_relaxed);
}

struct fetcher {
    fetch_opts_t opts;
    CURL *easy;
    rng_t rng;
    fetch_result_t result;
};

fetcher_t *fetcher_create(const fetch_opts_t *o, uint64_t seed, char *err, size_t errlen) {
    fetcher_t *f = calloc(1, sizeof(*f));
    if (!f || !(f->easy = fetch_easy_create(o, &f->result, NULL))) {
        snprintf(err, errlen, "cannot create a libcurl handle");
        free(f);
        return NULL;
    }
    f->opts = *o;
    rng_seed(&f->rng, seed);
    return f;
}

void fetcher_free(fetcher_t *f) {
    if (!f) return;
    curl_easy_cleanup(f->easy);
    buf_free(&f->result.body);
    free(f);
}

static void sleep_us(uint64_t us, atomic_int *stop) {
    while (us && !(stop && *stop)) { /* in slices, so that Ctrl-C is not kept waiting */
        uint64_t slice = us < 100000 ? us : 100000;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
        us -= slice;
    }
}

const fetch_result_t *fetcher_get(fetcher_t *f, const char *id, size_t len, atomic_int *stop) {
    fetch_result_t *r = &f->result;
    fetch_result_reset(r);
    for (uint32_t attempt = 1;; attempt++) {
        sleep_us(fetch_pace_wait_us(f->opts.pace), stop); /* our turn, when the server limits our rate */
        if (stop && *stop) return r; /* stopped while waiting for its turn: no attempt */
        if (fetch_easy_url(f->easy, &f->opts, id, len, r) < 0) {
            snprintf(r->error, sizeof(r->error), "page id too long for a URL");
            return r;
        }
        fetch_classify(f->easy, &f->opts, curl_easy_perform(f->easy), r);
        fetch_pace_note(f->opts.pace, r);
        if (!fetch_retryable(r) || attempt >= f->opts.max_attempts || (stop && *stop)) return r;
        sleep_us(fetch_retry_wait_us(&f->opts, r, rng_next(&f->rng)), stop);
        if (stop && *stop) return r; /* stopped during the wait: the page keeps its last answer */
    }
}
