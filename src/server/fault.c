/* Latency distributions and fault decisions for the demo server. Every draw starts from
 * rng_hash3(seed ^ stream, page, attempt), so it depends on nothing but those three numbers; the
 * streams keep the latency and the fault of one request independent of each other. */
#include "server/fault.h"

#include "base/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_FAULT   0x66617531746c7321ULL
#define STREAM_LATENCY 0x6c6174656e637921ULL
#define PPM 1000000u

static const char *const fault_names[FAULT_KINDS] = {
    "none", "500", "503", "429", "reset", "close", "truncate", "hang", "slow",
};

const char *fault_name(fault_kind_t k) {
    return (k >= 0 && k < FAULT_KINDS) ? fault_names[k] : "unknown";
}

int fault_kind_parse(const char *s, size_t len, fault_kind_t *out) {
    for (int k = 0; k < FAULT_KINDS; k++) {
        if (strlen(fault_names[k]) == len && memcmp(fault_names[k], s, len) == 0) {
            *out = (fault_kind_t)k;
            return 0;
        }
    }
    return -1;
}


/* Splits "a<sep>b" and parses both halves as durations. */
static int parse_pair(const char *s, size_t len, char sep, uint64_t *a, uint64_t *b, char *err,
                      size_t errlen) {
    const char *mid = memchr(s, sep, len);
    if (!mid) {
        snprintf(err, errlen, "expected two durations separated by '%c'", sep);
        return -1;
    }
    if (units_duration_parse(s, (size_t)(mid - s), a, err, errlen) < 0) return -1;
    return units_duration_parse(mid + 1, len - (size_t)(mid - s) - 1, b, err, errlen);
}

/* z of the standard normal's 99th percentile: lognormal P99 = median * exp(sigma * Z99). */
#define Z99 2.3263478740408408

int fault_latency_parse(const char *spec, size_t len, fault_latency_t *out, char *err, size_t errlen) {
    uint64_t a, b;
    const char *colon = memchr(spec, ':', len);
    memset(out, 0, sizeof(*out));
    if ((len == 4 && !memcmp(spec, "none", 4)) || (len == 1 && spec[0] == '0')) return 0;
    if (!colon) {
        if (units_duration_parse(spec, len, &a, err, errlen) < 0) return -1;
        *out = (fault_latency_t){.kind = a ? LATENCY_FIXED : LATENCY_NONE, .a = (double)a};
        return 0;
    }
    size_t name_len = (size_t)(colon - spec), rest_len = len - name_len - 1;
    const char *rest = colon + 1;
    if (name_len == 7 && !memcmp(spec, "uniform", 7)) {
        if (parse_pair(rest, rest_len, '-', &a, &b, err, errlen) < 0) return -1;
        if (b < a) {
            snprintf(err, errlen, "uniform latency: the upper bound is below the lower");
            return -1;
        }
        *out = (fault_latency_t){.kind = LATENCY_UNIFORM, .a = (double)a, .b = (double)b};
    } else if (name_len == 6 && !memcmp(spec, "normal", 6)) {
        if (parse_pair(rest, rest_len, ',', &a, &b, err, errlen) < 0) return -1;
        *out = (fault_latency_t){.kind = LATENCY_NORMAL, .a = (double)a, .b = (double)b};
    } else if (name_len == 9 && !memcmp(spec, "lognormal", 9)) {
        if (parse_pair(rest, rest_len, ',', &a, &b, err, errlen) < 0) return -1;
        if (a == 0 || b < a) {
            snprintf(err, errlen, "lognormal latency: need 0 < median <= p99");
            return -1;
        }
        double mu = log((double)a), sigma = (log((double)b) - mu) / Z99;
        *out = (fault_latency_t){.kind = LATENCY_LOGNORMAL, .a = mu, .b = sigma};
    } else {
        snprintf(err, errlen, "unknown latency distribution '%.*s' (fixed, uniform, normal, lognormal)",
                 (int)(name_len > 20 ? 20 : name_len), spec);
        return -1;
    }
    return 0;
}

static void format_us(double us, char *buf, size_t cap) {
    if (us >= 1000 && fmod(us, 1000) == 0) snprintf(buf, cap, "%.0fms", us / 1000);
    else snprintf(buf, cap, "%.0fus", us);
}

void fault_latency_format(const fault_latency_t *lat, char *buf, size_t cap) {
    char a[32], b[32];
    switch (lat->kind) {
    case LATENCY_NONE: snprintf(buf, cap, "none"); return;
    case LATENCY_FIXED: format_us(lat->a, buf, cap); return;
    case LATENCY_UNIFORM:
        format_us(lat->a, a, sizeof(a)), format_us(lat->b, b, sizeof(b));
        snprintf(buf, cap, "uniform:%s-%s", a, b);
        return;
    case LATENCY_NORMAL:
        format_us(lat->a, a, sizeof(a)), format_us(lat->b, b, sizeof(b));
        snprintf(buf, cap, "normal:%s,%s", a, b);
        return;
    case LATENCY_LOGNORMAL:
        format_us(round(exp(lat->a)), a, sizeof(a));
        format_us(round(exp(lat->a + lat->b * Z99)), b, sizeof(b));
        snprintf(buf, cap, "lognormal:%s,%s", a, b);
        return;
    }
    snprintf(buf, cap, "?");
}

/* A standard normal deviate from 64 bits: Box-Muller on two 32-bit halves. */
static double std_normal(uint64_t bits) {
    double u1 = ((double)(bits >> 32) + 1.0) / 4294967297.0; /* (0, 1): log() stays finite */
    double u2 = (double)(bits & 0xffffffffu) / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t fault_latency_draw(const fault_latency_t *lat, uint64_t bits) {
    double us;
    switch (lat->kind) {
    case LATENCY_FIXED: us = lat->a; break;
    case LATENCY_UNIFORM: us = lat->a + (lat->b - lat->a) * rng_unit(bits); break;
    case LATENCY_NORMAL: us = lat->a + lat->b * std_normal(bits); break;
    case LATENCY_LOGNORMAL: us = exp(lat->a + lat->b * std_normal(bits)); break;
    default: return 0;
    }
    if (!(us > 0)) return 0;
    return us > FAULT_MAX_LATENCY_US ? FAULT_MAX_LATENCY_US : (uint64_t)(us + 0.5);
}

int fault_plan_parse(const char *spec, size_t len, fault_plan_t *plan, char *err, size_t errlen) {
    memset(plan->ppm, 0, sizeof(plan->ppm));
    if (len == 4 && !memcmp(spec, "none", 4)) return 0;
    uint64_t total = 0;
    const char *p = spec, *end = spec + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *colon = memchr(p, ':', (size_t)(item_end - p));
        fault_kind_t k;
        double rate;
        size_t n;
        if (!colon || fault_kind_parse(p, (size_t)(colon - p), &k) < 0 || k == FAULT_NONE) {
            snprintf(err, errlen, "bad fault '%.*s' (expected KIND:RATE, KIND one of 500, 503, 429, "
                     "reset, close, truncate, hang, slow)", (int)(item_end - p > 40 ? 40 : item_end - p), p);
            return -1;
        }
        const char *r = colon + 1;
        size_t rlen = (size_t)(item_end - r);
        if (units_number(r, rlen, &rate, &n) < 0 || (n < rlen && (n + 1 != rlen || r[n] != '%'))) {
            snprintf(err, errlen, "bad rate for fault %s (expected a fraction like 0.01 or a percentage like 1%%)",
                     fault_name(k));
            return -1;
        }
        if (n < rlen) rate /= 100; /* a percentage */
        if (rate > 1) {
            snprintf(err, errlen, "rate for fault %s is above 1", fault_name(k));
            return -1;
        }
        plan->ppm[k] = (uint32_t)(rate * PPM + 0.5);
        if (comma && comma + 1 == end) {
            snprintf(err, errlen, "fault list ends with a comma");
            return -1;
        }
        p = comma ? comma + 1 : end;
    }
    for (int k = 0; k < FAULT_KINDS; k++) total += plan->ppm[k];
    if (total > PPM) {
        snprintf(err, errlen, "fault rates add up to more than 1");
        return -1;
    }
    return 0;
}

void fault_plan_format(const fault_plan_t *plan, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 1; k < FAULT_KINDS && used < cap; k++) {
        if (!plan->ppm[k]) continue;
        /* Six decimals are exact for parts per million; trailing zeros dropped ("0.01", not "1e-02"),
         * so the text parses back to the same plan. */
        char rate[16];
        int n = snprintf(rate, sizeof(rate), "%u.%06u", plan->ppm[k] / PPM, plan->ppm[k] % PPM);
        while (n > 1 && rate[n - 1] == '0') rate[--n] = '\0';
        if (rate[n - 1] == '.') rate[--n] = '\0';
        used += (size_t)snprintf(buf + used, cap - used, "%s%s:%s", used ? "," : "", fault_names[k], rate);
    }
    if (!used) snprintf(buf, cap, "none");
}

fault_kind_t fault_decide(const fault_plan_t *plan, uint64_t seed, uint32_t page, uint32_t attempt) {
    if (attempt < plan->fail_first) return plan->fail_with;
    uint32_t total = 0;
    for (int k = 1; k < FAULT_KINDS; k++) total += plan->ppm[k];
    if (!total) return FAULT_NONE; /* no faults configured: skip the hash on the hot path */
    uint32_t u = (uint32_t)(rng_hash3(seed ^ STREAM_FAULT, page, attempt) % PPM);
    uint32_t edge = 0;
    for (int k = 1; k < FAULT_KINDS; k++) {
        edge += plan->ppm[k];
        if (u < edge) return (fault_kind_t)k;
    }
    return FAULT_NONE;
}

uint64_t fault_delay(const fault_latency_t *lat, uint64_t seed, uint32_t page, uint32_t attempt) {
    if (lat->kind == LATENCY_NONE) return 0;
    return fault_latency_draw(lat, rng_hash3(seed ^ STREAM_LATENCY, page, attempt));
}
