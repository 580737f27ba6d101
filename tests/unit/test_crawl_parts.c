/* The parts every crawler shares: frontier (dedup, FIFO, cap, requeue), histogram quantiles, page
 * parsing and link validation, and the ideal-time simulation on graphs small enough to do by hand. */
#include "base/rng.h"
#include "crawl/fetch.h"
#include "crawl/frontier.h"
#include "crawl/hist.h"
#include "crawl/ideal.h"
#include "crawl/page.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int64_t add(frontier_t *f, const char *id, int *is_new) { return frontier_add(f, id, strlen(id), is_new); }

Test(frontier, dedups_in_discovery_order_and_caps) {
    frontier_t *f = frontier_create(3);
    int n;
    cr_assert_eq(add(f, "a", &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(add(f, "b", &n), 1);
    cr_assert_eq(add(f, "a", &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(add(f, "c", &n), 2);
    cr_assert_eq(add(f, "d", &n), 3);
    cr_assert_eq(frontier_waiting(f), 3); /* four known, cap three */
    cr_assert_eq(frontier_next(f), 0);
    cr_assert_eq(frontier_next(f), 1);
    cr_assert_eq(frontier_requeue(f, 1), 0);
    cr_assert_eq(frontier_next(f), 1, "a requeued page comes first");
    cr_assert_eq(frontier_next(f), 2);
    cr_assert_eq(frontier_next(f), -1, "the cap stops the fourth");
    cr_assert(frontier_capped(f));
    cr_assert_eq(frontier_taken(f), 3);
    size_t len;
    const char *id = frontier_id(f, 3, &len);
    cr_assert_eq(len, 1);
    cr_assert_eq(id[0], 'd');
    frontier_free(f);
}

Test(frontier, many_ids_survive_rehashing) {
    frontier_t *f = frontier_create(UINT64_MAX);
    char id[16];
    int n;
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        cr_assert_eq(add(f, id, &n), i);
    }
    for (int i = 0; i < 100000; i += 997) {
        snprintf(id, sizeof(id), "p%d", i);
        cr_assert_eq(add(f, id, &n), i);
        cr_assert_eq(n, 0);
    }
    frontier_free(f);
}

Test(hist, quantiles_within_one_percent) {
    static hist_t h;
    hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++) hist_record(&h, v);
    uint64_t p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
    cr_assert(p50 >= 50000 && p50 <= 50500, "p50 %llu", (unsigned long long)p50);
    cr_assert(p99 >= 99000 && p99 <= 99900, "p99 %llu", (unsigned long long)p99);
    cr_assert_eq(hist_quantile(&h, 1.0), 100000);
    cr_assert_eq(h.min, 1);
    static hist_t g;
    hist_init(&g);
    hist_record(&g, UINT64_MAX); /* the largest value has a bucket too */
    hist_merge(&h, &g);
    cr_assert_eq(h.count, 100001);
    cr_assert_eq(hist_quantile(&h, 1.0), UINT64_MAX);
}

typedef struct parse_case {
    const char *body;
    int rc;
    uint32_t links, invalid;
} parse_case_t;

Test(page, parse_and_validate_links) {
    static const parse_case_t cases[] = {
        {"{\"page_id\":\"a\",\"links\":[\"/api/b\",\"/api/c\"]}", 0, 2, 0},
        {"{\"page_id\":\"a\",\"links\":[]}", 0, 0, 0},
        {"{\"links\":[\"/api/b\"],\"page_id\":\"a\"}", 0, 1, 0},
        {"{\"page_id\":\"a\",\"links\":[\"/api/\",\"/x/b\",\"http://evil/api/b\",7,null,\"/api/b c\","
         "\"/api/../etc\",\"/api/b%2F\",\"/api/ok\"]}", 0, 1, 8},
        {"{\"page_id\":\"z\",\"links\":[]}", -1, 0, 0},
        {"{\"page_id\":\"a\"}", -1, 0, 0},
        {"{\"page_id\":\"a\",\"links\":{}}", -1, 0, 0},
        {"[1,2]", -1, 0, 0},
        {"not json", -1, 0, 0},
        {"", -1, 0, 0},
        {"{\"page_id\":\"a\",\"links\":[\"/api/b\"", -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        page_links_t pl;
        char err[128];
        int rc = page_parse(cases[i].body, strlen(cases[i].body), "a", 1, &pl, err, sizeof(err));
        cr_assert_eq(rc, cases[i].rc, "case %zu (%s): rc %d", i, cases[i].body, rc);
        if (rc == 0) {
            cr_assert_eq(pl.n, cases[i].links, "case %zu: %u links", i, pl.n);
            cr_assert_eq(pl.invalid, cases[i].invalid, "case %zu: %u invalid", i, pl.invalid);
            page_links_free(&pl);
        }
    }
}

/* The compact form is scanned by hand and everything else goes through cJSON: the same document
 * written both ways gives the same ids, in order, and a compact document with an escape, spaces or
 * trailing bytes still parses (through cJSON) as JSON says. */
Test(page, the_compact_scan_and_cjson_agree) {
    static const char *const bodies[] = {
        "{\"page_id\":\"a\",\"links\":[\"/api/b\",\"/x/y\",\"/api/c-d\",\"/api/b c\",\"/api/e\"]}",
        "{ \"page_id\" : \"a\", \"links\" : [ \"/api/b\", \"/x/y\", \"/api/c-d\", \"/api/b c\", \"/api/e\" ] }",
        "{\"page_id\":\"a\",\"links\":[\"/api/b\",\"/x/y\",\"/api/c\\u002dd\",\"/api/b c\",\"/api/e\"]}",
        "{\"page_id\":\"a\",\"links\":[\"/api/b\",\"/x/y\",\"/api/c-d\",\"/api/b c\",\"/api/e\"]}\n",
    };
    static const char *const want[] = {"b", "c-d", "e"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        page_links_t pl, ref;
        char err[128];
        cr_assert_eq(page_parse(bodies[i], strlen(bodies[i]), "a", 1, &pl, err, sizeof(err)), 0, "%zu: %s", i, err);
        cr_assert_eq(page_parse_json(bodies[i], strlen(bodies[i]), "a", 1, &ref, err, sizeof(err)), 0, "%zu", i);
        cr_assert_eq(pl.n, 3, "body %zu: %u links", i, pl.n);
        cr_assert_eq(pl.invalid, 2, "body %zu: %u invalid", i, pl.invalid);
        for (uint32_t k = 0; k < 3; k++) {
            cr_assert_str_eq(pl.ids[k], want[k], "body %zu link %u", i, k);
            cr_assert_str_eq(ref.ids[k], want[k], "body %zu link %u (cJSON)", i, k);
        }
        page_links_free(&pl);
        page_links_free(&ref);
    }
}

/* Builds a frontier whose pages 0..n-1 have the given links, as a crawl would leave it. */
static frontier_t *graph_of(uint32_t n, const uint32_t *const *links, const uint32_t *counts) {
    frontier_t *f = frontier_create(UINT64_MAX);
    char id[16];
    int is_new;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "p%u", i);
        frontier_add(f, id, strlen(id), &is_new);
    }
    for (uint32_t i = 0; i < n; i++) frontier_set_links(f, i, links[i], counts[i]);
    return f;
}

/* n pages each costing us. */
static const uint64_t *costs(uint32_t n, uint64_t us) {
    static uint64_t c[64];
    for (uint32_t i = 0; i < n; i++) c[i] = us;
    return c;
}

Test(ideal, chain_star_and_cap) {
    /* chain 0 -> 1 -> 2: three fetches one after another, whatever the concurrency */
    static const uint32_t l0[] = {1}, l1[] = {2};
    const uint32_t *chain[] = {l0, l1, NULL};
    const uint32_t chain_n[] = {1, 1, 0};
    frontier_t *f = graph_of(3, chain, chain_n);
    cr_assert_float_eq(ideal_crawl_s(f, 10, UINT64_MAX, costs(3, 1000000)), 3.0, 1e-9);
    frontier_free(f);

    /* star: 0 links to 1..10; with 5 slots the ten leaves take two rounds after the root */
    static const uint32_t leaves[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const uint32_t *star[11] = {leaves};
    uint32_t star_n[11] = {10};
    f = graph_of(11, star, star_n);
    cr_assert_float_eq(ideal_crawl_s(f, 5, UINT64_MAX, costs(11, 500000)), 1.5, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 10, UINT64_MAX, costs(11, 500000)), 1.0, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 1, UINT64_MAX, costs(11, 500000)), 5.5, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 5, 6, costs(11, 500000)), 1.0, 1e-9, "a cap of 6 pages: root plus one round");
    frontier_free(f);
}

/* Pages of different costs (lognormal latency, retries): a slot frees as soon as its page is done,
 * not when the round is; a page that waited out retries holds its slot for them. */
Test(ideal, each_page_holds_a_slot_for_its_own_cost) {
    static const uint32_t leaves[] = {1, 2, 3};
    const uint32_t *star[4] = {leaves};
    uint32_t star_n[4] = {3};
    frontier_t *f = graph_of(4, star, star_n);
    uint64_t c[4] = {100000, 3000000, 1000000, 1000000}; /* root 0.1 s; leaf 1 is slow (retried) */
    /* 2 slots: leaves 1 and 2 start at 0.1; 2 ends at 1.1 and 3 runs to 2.1; 1 ends at 3.1 */
    cr_assert_float_eq(ideal_crawl_s(f, 2, UINT64_MAX, c), 3.1, 1e-9);
    /* 1 slot: one after another */
    cr_assert_float_eq(ideal_crawl_s(f, 1, UINT64_MAX, c), 5.1, 1e-9);
    frontier_free(f);
}

/* The retry policy as a unit: the ceiling doubles from --backoff up to --backoff-max, the jitter stays
 * within [0, ceiling] and covers it, Retry-After raises the wait only for 429 and 503, and the same
 * crawl seed and worker give the same waits. */
Test(retry, backoff_doubles_to_its_cap_with_jitter_in_range) {
    fetch_opts_t o = {.backoff_us = 100000, .backoff_max_us = 1000000, .max_attempts = 10};
    fetch_result_t r = {.outcome = FETCH_HTTP, .http_status = 500};
    rng_t rng;
    rng_seed(&rng, 1);
    for (uint32_t attempt = 2; attempt <= 9; attempt++) {
        uint64_t ceiling = o.backoff_us << (attempt - 2);
        if (ceiling > o.backoff_max_us) ceiling = o.backoff_max_us;
        cr_assert_eq(fetch_backoff_us(&o, attempt, &r, ceiling), ceiling, "attempt %u: top of the range", attempt);
        cr_assert_eq(fetch_backoff_us(&o, attempt, &r, ceiling + 1), 0, "attempt %u: bottom", attempt);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            uint64_t d = fetch_backoff_us(&o, attempt, &r, rng_next(&rng));
            cr_assert_leq(d, ceiling);
            lo = d < lo ? d : lo, hi = d > hi ? d : hi;
        }
        cr_assert(lo < ceiling / 10 && hi > ceiling - ceiling / 10, "attempt %u: jitter %llu..%llu of %llu",
                  attempt, (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)ceiling);
    }
}

Test(retry, retry_after_is_honoured_for_429_and_503_only) {
    fetch_opts_t o = {.backoff_us = 1000, .backoff_max_us = 10000, .max_attempts = 4};
    fetch_result_t r = {.outcome = FETCH_HTTP, .retry_after_us = 3000000};
    for (int status = 500; status <= 504; status++) {
        r.http_status = status;
        uint64_t d = fetch_backoff_us(&o, 2, &r, 123456789);
        if (status == 503) cr_assert(d >= 3000000 && d <= 4500000, "503: %llu", (unsigned long long)d);
        else cr_assert_leq(d, 1000, "%d must not wait for Retry-After", status);
    }
    r.http_status = 429;
    cr_assert_eq(fetch_backoff_us(&o, 2, &r, 0), 3000000, "the wait the server said, at least");
    cr_assert_eq(fetch_backoff_us(&o, 2, &r, 1500000), 4500000, "and half as long again at most");
    cr_assert_eq(fetch_backoff_us(&o, 5, &r, 0), 3000000, "whatever the attempt: the server said when");
    r.retry_after_us = 0; /* Retry-After: 0, or none: the backoff */
    cr_assert_eq(fetch_backoff_us(&o, 2, &r, 700), 700);
}

Test(retry, what_is_retried_and_reproducible_seeds) {
    fetch_result_t r = {.outcome = FETCH_HTTP};
    static const int again[] = {500, 502, 503, 504, 429, 408}, never[] = {400, 403, 404, 410};
    for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++) {
        r.http_status = again[i];
        cr_assert(fetch_retryable(&r), "%d", again[i]);
    }
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        r.http_status = never[i];
        cr_assert_not(fetch_retryable(&r), "%d", never[i]);
    }
    fetch_outcome_t transient[] = {FETCH_TIMEOUT, FETCH_RESET, FETCH_TRUNCATED, FETCH_CONNECT};
    for (size_t i = 0; i < 4; i++) {
        r.outcome = transient[i];
        cr_assert(fetch_retryable(&r));
    }
    r.outcome = FETCH_OK;
    cr_assert_not(fetch_retryable(&r));
    cr_assert_eq(fetch_jitter_seed(7, 3), fetch_jitter_seed(7, 3));
    cr_assert_neq(fetch_jitter_seed(7, 3), fetch_jitter_seed(7, 4));
    cr_assert_neq(fetch_jitter_seed(7, 3), fetch_jitter_seed(8, 3));
}
