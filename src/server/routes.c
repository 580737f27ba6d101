/* The demo server's routes: /api/<id>, /graph/random, /graph/sample, /graph/stats (+ reset),
 * /metrics and /health. Bodies are JSON shaped exactly as the guide's Python clients expect. The
 * per-request test knobs (fault, latency, fail_first) are read here, from the query string or from
 * X-Crawlbench-* headers, so a test can ask for a 503 on one page without restarting the server. */
#include "server/routes.h"

#include "base/rng.h"
#include "base/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SAMPLE_DEFAULT 50
#define SAMPLE_MAX 100000
#define STREAM_RANDOM 0x72616e646f6d2121ULL

static int str_eq(const char *s, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static void add_header(routes_reply_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_header(routes_reply_t *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(out->headers) - out->headers_len;
    int n = vsnprintf(out->headers + out->headers_len, room, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < room) out->headers_len += (size_t)n;
}

void routes_error(int status, const char *message, buf_t *body, routes_reply_t *out) {
    out->status = status;
    out->content_type = "application/json";
    buf_clear(body);
    if (buf_puts(body, "{\"error\":") < 0 || buf_json_string(body, message, strlen(message)) < 0 ||
        buf_puts(body, "}") < 0)
        buf_clear(body);
    out->body = body;
}

/* Reads a per-request knob from the query string (name) or a header (hname), percent-decoded into
 * val. Returns 1 when present, 0 when absent, -1 when malformed. */
static int knob(const http_request_t *req, const char *name, const char *hname, char *val, size_t cap) {
    const char *raw;
    size_t raw_len;
    const http_header_t *h;
    if (http_query_param(req->target, req->target_len, name, &raw, &raw_len))
        return http_percent_decode(raw, raw_len, val, cap) < 0 ? -1 : 1;
    if ((h = http_find_header(req->headers, req->num_headers, hname))) {
        if (h->value_len >= cap) return -1;
        memcpy(val, h->value, h->value_len);
        val[h->value_len] = '\0';
        return 1;
    }
    return 0;
}

/* Parses a decimal count no greater than max; -1 when it is not one. */
static long long parse_count(const char *s, long long max) {
    long long v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > max) return -1;
    }
    return v;
}

/* The test knobs of one /api request, already validated. */
typedef struct api_knobs {
    int forced;            /* a fault was asked for */
    fault_kind_t fault;
    int has_latency;
    fault_latency_t latency;
    long long fail_first;  /* -1: not asked */
} api_knobs_t;

/* Whether the request may carry knobs at all: a query string, or an X-Crawlbench-* header. One
 * cheap pass, so that the ordinary request (a crawler's) pays for no lookups. */
static int may_have_knobs(const http_request_t *req) {
    if (memchr(req->target, '?', req->target_len)) return 1;
    for (size_t i = 0; i < req->num_headers; i++)
        if (req->headers[i].name_len > 13 && !strncasecmp(req->headers[i].name, "X-Crawlbench-", 13) &&
            !(req->headers[i].name_len == sizeof(HTTP_ATTEMPT_HEADER) - 1 &&
              !strncasecmp(req->headers[i].name, HTTP_ATTEMPT_HEADER, sizeof(HTTP_ATTEMPT_HEADER) - 1)))
            return 1; /* the attempt number is not a knob: every crawler request carries it */
    return 0;
}

static int read_knobs(const http_request_t *req, api_knobs_t *k, char *err, size_t errlen) {
    char v[128];
    int rc;
    *k = (api_knobs_t){.fail_first = -1};
    if (!may_have_knobs(req)) return 0;
    if ((rc = knob(req, "fault", "X-Crawlbench-Fault", v, sizeof(v))) < 0 ||
        (rc && fault_kind_parse(v, strlen(v), &k->fault) < 0)) {
        snprintf(err, errlen, "bad fault knob (one of none, 500, 503, 429, reset, close, truncate, hang, slow)");
        return -1;
    }
    k->forced = rc;
    if ((rc = knob(req, "latency", "X-Crawlbench-Latency", v, sizeof(v))) < 0) {
        snprintf(err, errlen, "bad latency knob");
        return -1;
    }
    if (rc && fault_latency_parse(v, strlen(v), &k->latency, err, errlen) < 0) return -1;
    k->has_latency = rc;
    if ((rc = knob(req, "fail_first", "X-Crawlbench-Fail-First", v, sizeof(v))) < 0 ||
        (rc && (k->fail_first = parse_count(v, 1000000)) < 0)) {
        snprintf(err, errlen, "bad fail_first knob (a count)");
        return -1;
    }
    return 0;
}

static void page_json(const graph_t *g, uint32_t page, buf_t *body) {
    size_t id_len;
    uint32_t n;
    const char *id = graph_id(g, page, &id_len);
    const uint32_t *links = graph_links(g, page, &n);
    if (buf_reserve(body, 32 + id_len + (size_t)n * (GRAPH_ID_MAX + 10)) < 0) return;
    buf_append_unchecked(body, "{\"page_id\":\"", 12);
    buf_append_unchecked(body, id, id_len);
    buf_append_unchecked(body, "\",\"links\":[", 11);
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *lid = graph_id(g, links[i], &len);
        if (i) buf_append_unchecked(body, ",", 1);
        buf_append_unchecked(body, "\"/api/", 6);
        buf_append_unchecked(body, lid, len);
        buf_append_unchecked(body, "\"", 1);
    }
    buf_append_unchecked(body, "]}", 2);
    body->data[body->len] = '\0';
}

/* "Server-Timing: delay;dur=<ms with 3 decimals>", in integer arithmetic: printf of a double for
 * every answer was a third of the server's own work per request (callgrind). */
static void server_timing(routes_reply_t *out) {
    static const char name[] = "Server-Timing: delay;dur=";
    char digits[32];
    uint64_t ms = out->delay_us / 1000, frac = out->delay_us % 1000;
    int i = sizeof(digits);
    digits[--i] = '\n', digits[--i] = '\r';
    digits[--i] = (char)('0' + frac % 10), digits[--i] = (char)('0' + frac / 10 % 10);
    digits[--i] = (char)('0' + frac / 100), digits[--i] = '.';
    do digits[--i] = (char)('0' + ms % 10); while (ms /= 10);
    size_t len = sizeof(digits) - (size_t)i;
    if (out->headers_len + sizeof(name) - 1 + len > sizeof(out->headers)) return;
    memcpy(out->headers + out->headers_len, name, sizeof(name) - 1);
    memcpy(out->headers + out->headers_len + sizeof(name) - 1, digits + i, len);
    out->headers_len += sizeof(name) - 1 + len;
}

/* This request's 0-based attempt number for page: the one the client states in HTTP_ATTEMPT_HEADER
 * (a resend of an attempt already seen is counted as such, and meets the same fault), or else the
 * server's own count of the page's requests. A stated number that does not parse is a 400. */
static int attempt_of(const routes_env_t *env, audit_counters_t *counters, const http_request_t *req,
                      uint32_t page, uint32_t *attempt) {
    const http_header_t *h = http_find_header(req->headers, req->num_headers, HTTP_ATTEMPT_HEADER);
    if (!h) {
        *attempt = audit_attempt(env->audit, page);
        return 0;
    }
    char v[16];
    long long n = -1;
    if (h->value_len < sizeof(v)) {
        memcpy(v, h->value, h->value_len);
        v[h->value_len] = '\0';
        n = parse_count(v, 1000000);
    }
    if (n < 1) return -1;
    int resend;
    *attempt = audit_stated_attempt(env->audit, page, (uint32_t)n, &resend);
    if (resend) audit_count(&counters->resends, 1);
    return 0;
}

/* The client is over its rate: 429, with Retry-After in whole seconds (rounded up, as HTTP wants
 * them) and the exact wait in HTTP_RETRY_AFTER_US_HEADER, which crawlbench's clients prefer. */
static int rate_limited(const routes_env_t *env, const struct sockaddr_storage *peer, buf_t *body,
                        routes_reply_t *out) {
    if (!env->ratelimit || !peer) return 0;
    uint64_t wait = ratelimit_take(env->ratelimit, peer, clock_now_us());
    if (!wait) {
        add_header(out, "%s", env->ratelimit_policy); /* on every answer: a client can pace itself */
        return 0;
    }
    routes_error(429, "rate limited: too many requests from this address", body, out);
    add_header(out, "%s", env->ratelimit_policy);
    add_header(out, "Retry-After: %llu\r\n" HTTP_RETRY_AFTER_US_HEADER ": %llu\r\n",
               (unsigned long long)((wait + 999999) / 1000000), (unsigned long long)wait);
    return 1;
}

static void route_api(const routes_env_t *env, audit_counters_t *counters, const struct sockaddr_storage *peer,
                      const http_request_t *req, const char *id, size_t id_len, buf_t *body, routes_reply_t *out) {
    char decoded[GRAPH_ID_MAX + 1], err[160];
    int64_t page;
    if (!memchr(id, '%', id_len)) { /* ids are URL-safe: decoding is for the odd client that escapes */
        page = graph_find(env->graph, id, id_len);
    } else {
        long dlen = http_percent_decode(id, id_len, decoded, sizeof(decoded));
        page = dlen < 0 ? -1 : graph_find(env->graph, decoded, (size_t)dlen);
    }
    api_knobs_t k;
    out->route = ROUTE_API;
    if (read_knobs(req, &k, err, sizeof(err)) < 0) {
        routes_error(400, err, body, out);
        return;
    }
    if (page < 0) {
        routes_error(404, "page not found", body, out);
        return;
    }
    const server_config_t *cfg = env->cfg;
    uint32_t attempt;
    if (attempt_of(env, counters, req, (uint32_t)page, &attempt) < 0) {
        routes_error(400, "bad " HTTP_ATTEMPT_HEADER " (a count from 1)", body, out);
        return;
    }
    /* Limited after the attempt is counted (a request for the page like any other, so the audit
     * holds every one) and before a fault is decided (the limit is the answer). */
    if (rate_limited(env, peer, body, out)) return;
    fault_kind_t f = fault_decide(&cfg->faults, cfg->seed, (uint32_t)page, attempt);
    if (k.fail_first >= 0) f = attempt < (uint64_t)k.fail_first ? cfg->faults.fail_with : FAULT_NONE;
    if (k.forced) f = k.fault;
    out->delay_us = fault_delay(k.has_latency ? &k.latency : &cfg->latency, cfg->seed, (uint32_t)page, attempt);
    server_timing(out);
    switch (f) {
    case FAULT_500: routes_error(500, "injected fault: internal server error", body, out); break;
    case FAULT_503:
        routes_error(503, "injected fault: service unavailable", body, out);
        add_header(out, "Retry-After: %u\r\n", cfg->retry_after_s);
        break;
    case FAULT_429:
        routes_error(429, "injected fault: too many requests", body, out);
        add_header(out, "Retry-After: %u\r\n", cfg->retry_after_s);
        break;
    default:
        out->status = 200;
        out->page = page;
        page_json(env->graph, (uint32_t)page, body);
        break;
    }
    out->fault = f; /* the sender counts it, and applies those that act on the connection */
}

static void route_random(const routes_env_t *env, buf_t *body, routes_reply_t *out) {
    uint64_t call = atomic_fetch_add_explicit(env->random_calls, 1, memory_order_relaxed);
    uint32_t page = (uint32_t)(rng_hash3(env->cfg->seed ^ STREAM_RANDOM, call, 0) % graph_pages(env->graph));
    size_t len;
    const char *id = graph_id(env->graph, page, &len);
    out->route = ROUTE_RANDOM;
    out->status = 200;
    buf_puts(body, "{\"page_id\":");
    buf_json_string(body, id, len);
    buf_puts(body, "}");
}

/* A count from the query string: dflt when absent, -1 when malformed or above max. */
static long long query_count(const http_request_t *req, const char *name, long long dflt, long long max) {
    const char *raw;
    size_t raw_len;
    char v[32];
    if (!http_query_param(req->target, req->target_len, name, &raw, &raw_len)) return dflt;
    return http_percent_decode(raw, raw_len, v, sizeof(v)) < 0 ? -1 : parse_count(v, max);
}

static void route_sample(const routes_env_t *env, const http_request_t *req, buf_t *body,
                         routes_reply_t *out) {
    long long n = query_count(req, "n", SAMPLE_DEFAULT, SAMPLE_MAX);
    out->route = ROUTE_SAMPLE;
    if (n < 0) {
        routes_error(400, "n must be a count from 0 to 100000", body, out);
        return;
    }
    uint32_t *pages = malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    if (!pages) {
        routes_error(500, "out of memory", body, out);
        return;
    }
    uint32_t got = graph_sample(env->graph, env->cfg->seed, (uint32_t)n, pages);
    out->status = 200;
    buf_puts(body, "{\"page_ids\":[");
    for (uint32_t i = 0; i < got; i++) {
        size_t len;
        const char *id = graph_id(env->graph, pages[i], &len);
        if (i) buf_puts(body, ",");
        buf_json_string(body, id, len);
    }
    buf_puts(body, "]}");
    free(pages);
}

/* /graph/stats/pages?from=N&limit=M: the attempts the server saw for each page (page numbers from N,
 * M of them), so that a crawler's own per-page counts can be checked page by page. Paged so that a
 * request on a graph of millions of pages cannot make the server build one huge body. */
#define PAGES_LIMIT_DEFAULT 100000
#define PAGES_LIMIT_MAX 1000000

static void route_stats_pages(const routes_env_t *env, const http_request_t *req, buf_t *body,
                              routes_reply_t *out) {
    uint32_t pages = graph_pages(env->graph);
    long long from = query_count(req, "from", 0, pages), limit = query_count(req, "limit", PAGES_LIMIT_DEFAULT,
                                                                              PAGES_LIMIT_MAX);
    out->route = ROUTE_STATS;
    if (from < 0 || limit < 0) {
        routes_error(400, "from must be a page number up to the graph's size, limit a count up to 1000000",
                     body, out);
        return;
    }
    uint32_t end = (uint64_t)from + (uint64_t)limit < pages ? (uint32_t)(from + limit) : pages;
    out->status = 200;
    buf_puts(body, "{\"attempts\":{");
    for (uint32_t p = (uint32_t)from, first = 1; p < end; p++) {
        uint32_t n = audit_page_attempts(env->audit, p);
        if (!n) continue;
        size_t len;
        const char *id = graph_id(env->graph, p, &len);
        if (!first) buf_puts(body, ",");
        buf_json_string(body, id, len);
        buf_printf(body, ":%u", n);
        first = 0;
    }
    if (end < pages) buf_printf(body, "},\"next\":%u}", end);
    else buf_puts(body, "},\"next\":null}");
}

/* Writes {"200":n,...} for one route's non-zero status counters. */
static void status_counts_json(const uint64_t *counts, buf_t *body) {
    int first = 1;
    buf_puts(body, "{");
    for (int i = 0; i < AUDIT_STATUSES; i++) {
        if (!counts[i]) continue;
        char code[8] = "other";
        if (audit_status_codes[i]) snprintf(code, sizeof(code), "%d", audit_status_codes[i]);
        buf_printf(body, "%s\"%s\":%llu", first ? "" : ",", code, (unsigned long long)counts[i]);
        first = 0;
    }
    buf_puts(body, "}");
}

static void route_stats(const routes_env_t *env, buf_t *body, routes_reply_t *out) {
    const graph_shape_t *sh = &env->shape;
    const server_config_t *cfg = env->cfg;
    audit_snapshot_t s;
    char lat[96], faults[256];
    audit_snapshot(env->audit, &s);
    fault_latency_format(&cfg->latency, lat, sizeof(lat));
    fault_plan_format(&cfg->faults, faults, sizeof(faults));
    out->route = ROUTE_STATS;
    out->status = 200;
    buf_printf(body, "{\"graph\":{\"source\":");
    buf_json_string(body, graph_source(env->graph), strlen(graph_source(env->graph)));
    buf_printf(body, ",\"seed\":%llu,\"pages\":%u,\"edges\":%llu,\"mean_out_degree\":%.3f,"
               "\"max_out_degree\":%u,\"max_in_degree\":%u,\"zero_in_degree\":%u,\"dangling\":%u},",
               (unsigned long long)graph_seed(env->graph), sh->pages, (unsigned long long)sh->edges,
               sh->mean_out_degree, sh->max_out_degree, sh->max_in_degree, sh->zero_in_degree, sh->dangling);
    buf_printf(body, "\"server\":{\"threads\":%d,\"uptime_s\":%.3f,\"connections_open\":%u,"
               "\"seed\":%llu,\"latency\":\"%s\",\"faults\":\"%s\",\"fail_first\":%u,\"fail_with\":\"%s\"},",
               env->threads, (double)(clock_now_us() - env->started_us) / 1e6,
               atomic_load_explicit(env->conns_open, memory_order_relaxed), (unsigned long long)cfg->seed,
               lat, faults, cfg->faults.fail_first, fault_name(cfg->faults.fail_with));
    buf_printf(body, "\"audit\":{\"since_s\":%.3f,\"requests\":{", s.since_s);
    for (int r = 0; r < ROUTE_COUNT; r++) {
        buf_printf(body, "%s\"%s\":", r ? "," : "", audit_route_name((audit_route_t)r));
        status_counts_json(s.responses[r], body);
    }
    buf_puts(body, "},\"faults\":{");
    for (int k = 1; k < FAULT_KINDS; k++)
        buf_printf(body, "%s\"%s\":%llu", k > 1 ? "," : "", fault_name((fault_kind_t)k),
                   (unsigned long long)s.faults[k]);
    buf_printf(body, "},\"pages_served\":%llu,\"duplicate_fetches\":%llu,"
               "\"pages_served_more_than_once\":%u,\"resends\":%llu,\"bytes_out\":%llu",
               (unsigned long long)s.distinct, (unsigned long long)s.duplicates, s.pages_more_than_once,
               (unsigned long long)s.resends, (unsigned long long)s.bytes_out);
    if (env->ratelimit) { /* per client address: requests let through and answered 429 */
        buf_puts(body, ",\"rate_limit\":");
        ratelimit_stats_json(env->ratelimit, body);
    }
    buf_puts(body, "}}");
}

static void route_metrics(const routes_env_t *env, buf_t *body, routes_reply_t *out) {
    audit_snapshot_t s;
    audit_snapshot(env->audit, &s);
    out->route = ROUTE_METRICS;
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_puts(body, "# HELP crawlbench_responses_total HTTP responses sent since start or reset, by route and status.\n"
                   "# TYPE crawlbench_responses_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int i = 0; i < AUDIT_STATUSES; i++)
            if (s.responses[r][i])
                buf_printf(body, "crawlbench_responses_total{route=\"%s\",status=\"%d\"} %llu\n",
                           audit_route_name((audit_route_t)r), audit_status_codes[i],
                           (unsigned long long)s.responses[r][i]);
    buf_puts(body, "# HELP crawlbench_faults_total Faults injected, by kind.\n# TYPE crawlbench_faults_total counter\n");
    for (int k = 1; k < FAULT_KINDS; k++)
        buf_printf(body, "crawlbench_faults_total{kind=\"%s\"} %llu\n", fault_name((fault_kind_t)k),
                   (unsigned long long)s.faults[k]);
    buf_printf(body,
               "# HELP crawlbench_pages_served Distinct pages answered with 200.\n# TYPE crawlbench_pages_served gauge\n"
               "crawlbench_pages_served %llu\n"
               "# HELP crawlbench_duplicate_fetches_total 200 answers for pages already served.\n"
               "# TYPE crawlbench_duplicate_fetches_total counter\ncrawlbench_duplicate_fetches_total %llu\n"
               "# HELP crawlbench_bytes_out_total Response bytes written.\n# TYPE crawlbench_bytes_out_total counter\n"
               "crawlbench_bytes_out_total %llu\n"
               "# HELP crawlbench_connections_open Client connections open now.\n# TYPE crawlbench_connections_open gauge\n"
               "crawlbench_connections_open %u\n"
               "# HELP crawlbench_graph_pages Pages in the graph.\n# TYPE crawlbench_graph_pages gauge\n"
               "crawlbench_graph_pages %u\n"
               "# HELP crawlbench_graph_edges Links in the graph.\n# TYPE crawlbench_graph_edges gauge\n"
               "crawlbench_graph_edges %llu\n",
               (unsigned long long)s.distinct, (unsigned long long)s.duplicates, (unsigned long long)s.bytes_out,
               atomic_load_explicit(env->conns_open, memory_order_relaxed), env->shape.pages,
               (unsigned long long)env->shape.edges);
}

/* Answers 405 with the methods the path does allow. */
static void method_not_allowed(const char *allow, buf_t *body, routes_reply_t *out) {
    routes_error(405, "method not allowed", body, out);
    add_header(out, "Allow: %s\r\n", allow);
}

void routes_handle(const routes_env_t *env, audit_counters_t *counters, const struct sockaddr_storage *peer,
                   const http_request_t *req, buf_t *body, routes_reply_t *out) {
    const char *path = req->target;
    const char *q = memchr(path, '?', req->target_len);
    size_t path_len = q ? (size_t)(q - path) : req->target_len;
    int is_get = str_eq(req->method, req->method_len, "GET");
    int is_head = str_eq(req->method, req->method_len, "HEAD");
    int is_post = str_eq(req->method, req->method_len, "POST");

    buf_clear(body);
    memset(out, 0, sizeof(*out));
    out->content_type = "application/json";
    out->body = body;
    out->page = -1;
    out->route = ROUTE_OTHER;
    out->head_only = is_head;

    if (path_len == 18 && !memcmp(path, "/graph/stats/reset", 18)) {
        out->route = ROUTE_RESET;
        if (!is_post) return method_not_allowed("POST", body, out);
        audit_reset(env->audit);
        if (env->ratelimit) ratelimit_reset_counts(env->ratelimit);
        out->status = 200;
        buf_puts(body, "{\"reset\":true}");
        return;
    }
    if (!is_get && !is_head) {
        int known = path_len > 5 ? !memcmp(path, "/api/", 5) : 0;
        known |= str_eq(path, path_len, "/graph/random") || str_eq(path, path_len, "/graph/sample") ||
                 str_eq(path, path_len, "/graph/stats") || str_eq(path, path_len, "/graph/stats/pages") ||
                 str_eq(path, path_len, "/metrics") ||
                 str_eq(path, path_len, "/health");
        if (known) return method_not_allowed("GET, HEAD", body, out);
        routes_error(404, "no such route", body, out);
        return;
    }
    if (path_len > 5 && !memcmp(path, "/api/", 5))
        route_api(env, counters, peer, req, path + 5, path_len - 5, body, out);
    else if (str_eq(path, path_len, "/graph/random")) route_random(env, body, out);
    else if (str_eq(path, path_len, "/graph/sample")) route_sample(env, req, body, out);
    else if (str_eq(path, path_len, "/graph/stats")) route_stats(env, body, out);
    else if (str_eq(path, path_len, "/graph/stats/pages")) route_stats_pages(env, req, body, out);
    else if (str_eq(path, path_len, "/metrics")) route_metrics(env, body, out);
    else if (str_eq(path, path_len, "/health")) {
        out->route = ROUTE_HEALTH;
        out->status = 200;
        buf_puts(body, "{\"status\":\"ok\"}");
    } else routes_error(404, "no such route (try /api/<page_id>, /graph/random, /graph/sample, /graph/stats)",
                        body, out);
}
