/* libFuzzer target for the HTTP parser (src/http/http.c). Each input is parsed as a request and as
 * a response: whole, in two pieces split at an offset the input picks, and in steps, each prefix in
 * its own exactly-sized copy so ASan sees any read past it. It aborts when the ways disagree, when a
 * parsed head breaks the grammar, and runs the helpers over whatever parsed and over the raw bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 24 /* header capacity: small enough that "too many headers" is reachable */

/* A parse result with every slice turned into an offset, so parses of copies compare equal. */
typedef struct outcome {
    long ret; /* longs and size_ts only: no padding to spoil memcmp() */
    long minor, status;
    size_t a, a_len; /* method, or reason */
    size_t b, b_len; /* target */
    size_t n;
    size_t h[CAP][4]; /* name, name_len, value, value_len */
} outcome_t;

static size_t off(const char *p, const char *base) {
    return p != NULL ? (size_t)(p - base) + 1 : 0; /* 0 stands for NULL */
}

static void take_headers(outcome_t *o, const http_header_t *h, size_t n, const char *base) {
    o->n = n;
    for (size_t i = 0; i < n; i++) {
        o->h[i][0] = off(h[i].name, base);
        o->h[i][1] = h[i].name_len;
        o->h[i][2] = off(h[i].value, base);
        o->h[i][3] = h[i].value_len;
    }
}

/* Parses data[0..len) from a fresh copy of exactly len bytes. */
static outcome_t parse(int is_request, const uint8_t *data, size_t len, size_t last_len) {
    char *buf = malloc(len ? len : 1);
    http_header_t h[CAP];
    outcome_t o;

    if (buf == NULL) abort();
    memcpy(buf, data, len);
    memset(&o, 0, sizeof o);
    if (is_request) {
        http_request_t req = {.headers = h, .num_headers = CAP};
        o.ret = http_parse_request(buf, len, &req, last_len);
        o.minor = req.minor_version;
        o.a = off(req.method, buf), o.a_len = req.method_len;
        o.b = off(req.target, buf), o.b_len = req.target_len;
        take_headers(&o, h, req.num_headers, buf);
    } else {
        http_response_t res = {.headers = h, .num_headers = CAP};
        o.ret = http_parse_response(buf, len, &res, last_len);
        o.minor = res.minor_version;
        o.status = res.status;
        o.a = off(res.reason, buf), o.a_len = res.reason_len;
        take_headers(&o, h, res.num_headers, buf);
    }
    free(buf);
    return o;
}

/* Feeds data in pieces, as a server reading a socket would: the first at cut, then step bytes at a
 * time, re-parsing with last_len after each HTTP_INCOMPLETE. Must match the whole-buffer parse. */
static void feed(int is_request, const uint8_t *data, size_t size, size_t cut, size_t step,
                 const outcome_t *whole) {
    size_t len = cut < size ? cut : size, last = 0;
    outcome_t o;

    for (;;) {
        o = parse(is_request, data, len, last);
        if (o.ret != HTTP_INCOMPLETE || len == size) break;
        last = len;
        len = size - len < step ? size : len + step;
    }
    if (memcmp(&o, whole, sizeof o) != 0) abort();
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* What any accepted head must satisfy, whatever the input. */
static void check_head(const uint8_t *data, size_t size, const outcome_t *o) {
    const char *s = (const char *)data;

    if ((size_t)o->ret > size || o->ret > HTTP_MAX_HEAD || (o->minor != 0 && o->minor != 1)) abort();
    if (s[o->ret - 1] != '\n' || !(s[o->ret - 2] == '\n' || s[o->ret - 2] == '\r')) abort();
    for (size_t i = 0; i < o->n; i++) {
        const char *name = s + o->h[i][0] - 1, *value = s + o->h[i][2] - 1;
        size_t vlen = o->h[i][3];
        if (o->h[i][1] == 0 || memchr(name, ':', o->h[i][1]) != NULL) abort();
        if (memchr(value, '\r', vlen) || memchr(value, '\n', vlen) || memchr(value, 0, vlen)) abort();
        if (vlen > 0 && (is_ows(value[0]) || is_ows(value[vlen - 1]))) abort();
    }
}

/* Runs the helpers over a target, with names and capacities the input picks. */
static void check_target(const char *t, size_t len, const char *name, size_t small_cap) {
    static char dst[HTTP_MAX_HEAD + 1];
    const char *v;
    size_t vlen;
    long r;

    if (http_query_param(t, len, name, &v, &vlen) == 1 && (v < t || v + vlen > t + len)) abort();
    if (http_query_param(t, len, "q", &v, &vlen) == 0 && (v != NULL || vlen != 0)) abort();
    r = http_percent_decode(t, len, dst, sizeof dst < len + 1 ? sizeof dst : len + 1);
    if (r > (long)len || (r >= 0 && (dst[r] != '\0' || strlen(dst) != (size_t)r))) abort();
    r = http_percent_decode(t, len, dst, small_cap);
    if (r >= (long)small_cap || (r >= 0 && strlen(dst) != (size_t)r)) abort();
}

static void check_helpers(const uint8_t *data, size_t size, const outcome_t *o, int is_request) {
    const char *s = (const char *)data;
    http_header_t h[CAP];
    uint64_t len;
    int ka;

    for (size_t i = 0; i < o->n; i++)
        h[i] = (http_header_t){s + o->h[i][0] - 1, o->h[i][1], s + o->h[i][2] - 1, o->h[i][3]};
    const http_header_t *host = http_find_header(h, o->n, "host");
    if (host != NULL && (host->name_len != 4 || host < h || host >= h + o->n)) abort();
    ka = http_keep_alive(o->minor, h, o->n);
    if ((ka != 0 && ka != 1) || (o->minor == 0 && ka && !http_keep_alive(1, h, o->n))) abort();
    if (http_body_length(h, o->n, &len) == 1 && len != 0) abort();
    if (is_request)
        check_target(s + o->b - 1, o->b_len, "a", size % 17);
    else if (http_reason(o->status) == NULL)
        abort();
}

/* The helpers must cope with any bytes, not only those a parse let through. */
static void check_raw(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    size_t k = size / 2;
    http_header_t h[2] = {{"Content-Length", 14, s, k}, {"Connection", 10, s + k, size - k}};
    char name[8] = {0};
    uint64_t len;

    http_body_length(h, 1, &len);
    http_keep_alive(0, h + 1, 1);
    /* Retry-After as a crawler reads it: any bytes, never a read past them, never an overflow. */
    if (http_retry_after_us(s, size, 1700000000) > (uint64_t)HTTP_RETRY_AFTER_MAX_S * 1000000u) abort();
    uint64_t us;
    (void)http_server_timing_us(s, size, &us); /* the other headers a crawler reads */
    (void)http_ratelimit_interval_us(s, size, &us);
    (void)http_count_us(s, size, &us);
    memcpy(name, s, size < 7 ? size : 7);
    check_target(s, size, name, k % 9);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The input picks the cut and the step with its last two bytes. */
    size_t cut = size >= 2 ? (data[size - 2] | (size_t)data[size - 1] << 8) % (size + 1) : 0;
    size_t step = 1 + (size >= 1 ? data[size - 1] % 31 : 0) + size / 64;

    for (int is_request = 1; is_request >= 0; is_request--) {
        outcome_t whole = parse(is_request, data, size, 0);
        feed(is_request, data, size, cut, size, &whole); /* two pieces */
        feed(is_request, data, size, step, step, &whole);
        if (whole.ret > 0) {
            check_head(data, size, &whole);
            check_helpers(data, size, &whole, is_request);
        }
    }
    check_raw(data, size);
    return 0;
}
