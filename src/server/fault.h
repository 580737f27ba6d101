/* Simulated latency and faults: parsing their specs and deciding, for one request, what happens.
 * Determinism is the contract: every decision is a pure function of (seed, page, attempt), where
 * attempt counts the earlier requests for the same page. A sequential crawler and a 1,000-way
 * concurrent one therefore meet exactly the same faults on the same pages, and a test can predict
 * them with fault_decide() itself.
 *
 * Conventions: parsers return 0, or -1 with a message in err. */
#ifndef CRAWLBENCH_FAULT_H
#define CRAWLBENCH_FAULT_H

#include "base/units.h"

#include <stddef.h>
#include <stdint.h>

typedef enum fault_kind {
    FAULT_NONE = 0,
    FAULT_500,      /* 500 Internal Server Error */
    FAULT_503,      /* 503 Service Unavailable, with Retry-After */
    FAULT_429,      /* 429 Too Many Requests, with Retry-After */
    FAULT_RESET,    /* connection reset (RST) instead of a response */
    FAULT_CLOSE,    /* connection closed (FIN) before any response */
    FAULT_TRUNCATE, /* full headers, then half the body, then close */
    FAULT_HANG,     /* no response until the client gives up */
    FAULT_SLOW,     /* the response trickled in small pieces */
    FAULT_KINDS
} fault_kind_t;

const char *fault_name(fault_kind_t k); /* "500", "reset", ... ("none" for FAULT_NONE) */
/* Parses a fault name; returns 0 and sets *out, or -1. */
int fault_kind_parse(const char *s, size_t len, fault_kind_t *out);

typedef enum latency_kind {
    LATENCY_NONE = 0,
    LATENCY_FIXED,     /* "50ms" */
    LATENCY_UNIFORM,   /* "uniform:10ms-100ms" */
    LATENCY_NORMAL,    /* "normal:50ms,10ms" (mean, standard deviation; clamped at 0) */
    LATENCY_LOGNORMAL, /* "lognormal:20ms,200ms" (median, 99th percentile) */
} latency_kind_t;

#define FAULT_MAX_LATENCY_US UNITS_MAX_DURATION_US

typedef struct fault_latency {
    latency_kind_t kind;
    double a, b; /* us: fixed (a); uniform [a, b]; normal mean a, sd b; lognormal mu a, sigma b (of ln us) */
} fault_latency_t;

/* Durations in a spec are base/units.h's: "250us", "50ms", "1.5s"; a bare number is ms. */
int fault_latency_parse(const char *spec, size_t len, fault_latency_t *out, char *err, size_t errlen);
/* Writes the canonical text of a latency spec ("none", "50ms", "lognormal:20ms,200ms"). */
void fault_latency_format(const fault_latency_t *lat, char *buf, size_t cap);
/* The delay in us for 64 random bits (the caller derives them from seed, page and attempt). */
uint64_t fault_latency_draw(const fault_latency_t *lat, uint64_t bits);

typedef struct fault_plan {
    uint32_t ppm[FAULT_KINDS]; /* rate of each fault, parts per million of requests */
    uint32_t fail_first;       /* the first K requests for every page fail ... */
    fault_kind_t fail_with;    /* ... with this fault (default 503) */
} fault_plan_t;

/* "500:0.01,503:1%,reset:0.005": kinds with rates as fractions or percentages; "none" for no
 * faults. The rates together may not exceed 1. Leaves fail_first/fail_with untouched. */
int fault_plan_parse(const char *spec, size_t len, fault_plan_t *plan, char *err, size_t errlen);
void fault_plan_format(const fault_plan_t *plan, char *buf, size_t cap);

/* The fault for the attempt-th request (0-based) for page, under plan. */
fault_kind_t fault_decide(const fault_plan_t *plan, uint64_t seed, uint32_t page, uint32_t attempt);
/* The delay in us for the same request. */
uint64_t fault_delay(const fault_latency_t *lat, uint64_t seed, uint32_t page, uint32_t attempt);

#endif
