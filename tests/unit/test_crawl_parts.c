/* The parts every crawler shares: frontier (dedup, FIFO, cap, requeue), histogram quantiles, page
 * parsing and link validation, and the ideal-time simulation on graphs small enough to do by hand. */
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

Test(ideal, chain_star_and_cap) {
    /* chain 0 -> 1 -> 2: three fetches one after another, whatever the concurrency */
    static const uint32_t l0[] = {1}, l1[] = {2};
    const uint32_t *chain[] = {l0, l1, NULL};
    const uint32_t chain_n[] = {1, 1, 0};
    frontier_t *f = graph_of(3, chain, chain_n);
    cr_assert_float_eq(ideal_crawl_s(f, 10, UINT64_MAX, 1.0), 3.0, 1e-9);
    frontier_free(f);

    /* star: 0 links to 1..10; with 5 slots the ten leaves take two rounds after the root */
    static const uint32_t leaves[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const uint32_t *star[11] = {leaves};
    uint32_t star_n[11] = {10};
    f = graph_of(11, star, star_n);
    cr_assert_float_eq(ideal_crawl_s(f, 5, UINT64_MAX, 0.5), 1.5, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 10, UINT64_MAX, 0.5), 1.0, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 1, UINT64_MAX, 0.5), 5.5, 1e-9);
    cr_assert_float_eq(ideal_crawl_s(f, 5, 6, 0.5), 1.0, 1e-9, "a cap of 6 pages: root plus one round");
    frontier_free(f);
}
