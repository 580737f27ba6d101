/* Latency and fault specs: parsing (table-driven), canonical formatting, and the decisions' two
 * promises: determinism in (seed, page, attempt) and rates that match the plan. */
#include "server/fault.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

typedef struct dur_case {
    const char *in;
    int ok;
    uint64_t us;
} dur_case_t;

Test(fault, durations) {
    static const dur_case_t cases[] = {
        {"50ms", 1, 50000}, {"50", 1, 50000},   {"250us", 1, 250}, {"1.5s", 1, 1500000}, {"0", 1, 0},
        {"0.5ms", 1, 500},  {"", 0, 0},         {"ms", 0, 0},      {"-5ms", 0, 0},       {"5m", 0, 0},
        {"1e3ms", 0, 0},    {"5 ms", 0, 0},     {"nan", 0, 0},     {"601s", 0, 0},       {"1..2ms", 0, 0},
        {"0x10", 0, 0},     {"50msx", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t us = 12345;
        char err[128];
        int rc = units_duration_parse(cases[i].in, strlen(cases[i].in), &us, err, sizeof(err));
        cr_assert_eq(rc == 0, cases[i].ok, "'%s': rc %d", cases[i].in, rc);
        if (cases[i].ok) cr_assert_eq(us, cases[i].us, "'%s': %llu us", cases[i].in, (unsigned long long)us);
    }
}

typedef struct lat_case {
    const char *in;
    int ok;
    const char *canonical;
} lat_case_t;

Test(fault, latency_specs_parse_and_format) {
    static const lat_case_t cases[] = {
        {"none", 1, "none"},
        {"0", 1, "none"},
        {"50ms", 1, "50ms"},
        {"uniform:10ms-100ms", 1, "uniform:10ms-100ms"},
        {"normal:50ms,10ms", 1, "normal:50ms,10ms"},
        {"lognormal:20ms,200ms", 1, "lognormal:20ms,200ms"},
        {"uniform:100ms-10ms", 0, NULL},
        {"uniform:10ms", 0, NULL},
        {"lognormal:0,10ms", 0, NULL},
        {"lognormal:20ms,10ms", 0, NULL},
        {"pareto:1,2", 0, NULL},
        {"normal:", 0, NULL},
        {":", 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fault_latency_t lat;
        char err[128], out[96];
        int rc = fault_latency_parse(cases[i].in, strlen(cases[i].in), &lat, err, sizeof(err));
        cr_assert_eq(rc == 0, cases[i].ok, "'%s': rc %d", cases[i].in, rc);
        if (!cases[i].ok) continue;
        fault_latency_format(&lat, out, sizeof(out));
        cr_assert_str_eq(out, cases[i].canonical, "'%s' formats as '%s'", cases[i].in, out);
    }
}

Test(fault, fault_plans) {
    fault_plan_t p = {0};
    char err[256], out[256];
    cr_assert_eq(fault_plan_parse("500:0.01,503:2%,reset:0.5", 25, &p, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(p.ppm[FAULT_500], 10000);
    cr_assert_eq(p.ppm[FAULT_503], 20000);
    cr_assert_eq(p.ppm[FAULT_RESET], 500000);
    fault_plan_format(&p, out, sizeof(out));
    cr_assert_str_eq(out, "500:0.01,503:0.02,reset:0.5");
    static const char *const bad[] = {"500", "500:", "foo:0.1", "none:0.1", "500:1.5", "500:0.6,503:0.6",
                                      "500:-1", "500:0.1,", "500:abc", "500:5%%", ",", "hang:1e-3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(fault_plan_parse(bad[i], strlen(bad[i]), &p, err, sizeof(err)), -1, "'%s' accepted", bad[i]);
    cr_assert_eq(fault_plan_parse("none", 4, &p, err, sizeof(err)), 0);
    fault_plan_format(&p, out, sizeof(out));
    cr_assert_str_eq(out, "none");
}

Test(fault, decisions_are_a_function_of_seed_page_attempt) {
    fault_plan_t p = {.fail_with = FAULT_503};
    char err[128];
    fault_plan_parse("500:0.1,reset:0.1,slow:0.1", 26, &p, err, sizeof(err));
    int differ = 0;
    for (uint32_t page = 0; page < 1000; page++)
        for (uint32_t a = 0; a < 5; a++) {
            cr_assert_eq(fault_decide(&p, 42, page, a), fault_decide(&p, 42, page, a));
            differ += fault_decide(&p, 42, page, a) != fault_decide(&p, 43, page, a);
        }
    cr_assert_gt(differ, 500, "another seed changed only %d of 5000 decisions", differ);
}

Test(fault, rates_match_the_plan) {
    fault_plan_t p = {0};
    char err[128];
    fault_plan_parse("500:0.05,503:0.1,hang:0.01", 26, &p, err, sizeof(err));
    uint64_t count[FAULT_KINDS] = {0};
    const uint32_t n = 200000;
    for (uint32_t i = 0; i < n; i++) count[fault_decide(&p, 7, i, i % 3)]++;
    /* Binomial bounds at 5 standard deviations. */
    const struct { fault_kind_t k; double rate; } want[] = {
        {FAULT_500, 0.05}, {FAULT_503, 0.1}, {FAULT_HANG, 0.01}, {FAULT_RESET, 0}, {FAULT_NONE, 0.84}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double mean = n * want[i].rate, sd = __builtin_sqrt(n * want[i].rate * (1 - want[i].rate));
        cr_assert(count[want[i].k] >= mean - 5 * sd - 0.5 && count[want[i].k] <= mean + 5 * sd + 0.5,
                  "%s: %llu, expected %.0f +- %.0f", fault_name(want[i].k), (unsigned long long)count[want[i].k],
                  mean, 5 * sd);
    }
}

Test(fault, fail_first_fails_exactly_the_first_attempts) {
    fault_plan_t p = {.fail_first = 2, .fail_with = FAULT_RESET};
    for (uint32_t page = 0; page < 100; page++) {
        cr_assert_eq(fault_decide(&p, 1, page, 0), FAULT_RESET);
        cr_assert_eq(fault_decide(&p, 1, page, 1), FAULT_RESET);
        cr_assert_eq(fault_decide(&p, 1, page, 2), FAULT_NONE);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(fault, latency_distributions_have_their_parameters) {
    enum { N = 100000 };
    static uint64_t d[N];
    fault_latency_t lat;
    char err[128];
    fault_latency_parse("lognormal:20ms,200ms", 20, &lat, err, sizeof(err));
    for (uint32_t i = 0; i < N; i++) d[i] = fault_delay(&lat, 42, i, 0);
    qsort(d, N, sizeof(d[0]), cmp_u64);
    cr_assert(d[N / 2] > 19000 && d[N / 2] < 21000, "median %llu us", (unsigned long long)d[N / 2]);
    cr_assert(d[N * 99 / 100] > 185000 && d[N * 99 / 100] < 215000, "p99 %llu us", (unsigned long long)d[N * 99 / 100]);

    fault_latency_parse("uniform:10ms-20ms", 17, &lat, err, sizeof(err));
    for (uint32_t i = 0; i < N; i++) d[i] = fault_delay(&lat, 42, i, 1);
    qsort(d, N, sizeof(d[0]), cmp_u64);
    cr_assert_geq(d[0], 10000);
    cr_assert_leq(d[N - 1], 20000);
    cr_assert(d[N / 2] > 14800 && d[N / 2] < 15200, "median %llu us", (unsigned long long)d[N / 2]);

    fault_latency_parse("50ms", 4, &lat, err, sizeof(err));
    cr_assert_eq(fault_delay(&lat, 1, 2, 3), 50000);
    fault_latency_parse("normal:50ms,10ms", 16, &lat, err, sizeof(err));
    for (uint32_t i = 0; i < N; i++) d[i] = fault_delay(&lat, 42, i, 2);
    qsort(d, N, sizeof(d[0]), cmp_u64);
    cr_assert(d[N / 2] > 49500 && d[N / 2] < 50500, "median %llu us", (unsigned long long)d[N / 2]);
}
