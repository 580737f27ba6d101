/* The routes as a pure function from request to reply: shapes of the bodies, error statuses, the
 * per-request knobs, and the determinism of faults across a reset. No sockets involved. */
#include "server/routes.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static graph_t *g;
static audit_t *audit;
static server_config_t cfg;
static routes_env_t env;
static _Atomic uint32_t conns;
static _Atomic uint64_t randoms;
static buf_t body;

static void setup(void) {
    char err[GRAPH_ERR_LEN];
    graph_params_t p = {.seed = 42, .pages = 500, .out_degree = 8};
    g = graph_generate(&p, err);
    cr_assert_not_null(g, "%s", err);
    server_config_init(&cfg);
    cfg.graph = g;
    audit = audit_create(graph_pages(g), 1);
    env = (routes_env_t){.cfg = &cfg, .graph = g, .audit = audit, .threads = 1, .conns_open = &conns,
                         .random_calls = &randoms};
    graph_shape(g, &env.shape);
}

static void teardown(void) {
    audit_free(audit);
    graph_free(g);
    buf_free(&body);
}

/* Routes a request given as "METHOD target" plus optional header lines. */
static routes_reply_t route(const char *method, const char *target, const char *hname, const char *hval) {
    http_header_t h[1] = {{hname, hname ? strlen(hname) : 0, hval, hval ? strlen(hval) : 0}};
    http_request_t req = {.method = method, .method_len = strlen(method), .target = target,
                          .target_len = strlen(target), .minor_version = 1, .headers = h,
                          .num_headers = hname ? 1 : 0};
    routes_reply_t r;
    routes_handle(&env, audit_worker(audit, 0), NULL, &req, &body, &r);
    return r;
}

static const char *page_id(uint32_t page) {
    size_t len;
    return graph_id(g, page, &len);
}

TestSuite(routes, .init = setup, .fini = teardown);

Test(routes, api_page_lists_its_links) {
    char target[64], want[64];
    snprintf(target, sizeof(target), "/api/%s", page_id(3));
    routes_reply_t r = route("GET", target, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.page, 3);
    cr_assert_eq(r.route, ROUTE_API);
    snprintf(want, sizeof(want), "{\"page_id\":\"%s\",\"links\":[", page_id(3));
    cr_assert_eq(strncmp(body.data, want, strlen(want)), 0, "body %s", body.data);
    uint32_t n;
    const uint32_t *links = graph_links(g, 3, &n);
    for (uint32_t i = 0; i < n; i++) {
        char link[64];
        snprintf(link, sizeof(link), "\"/api/%s\"", page_id(links[i]));
        cr_assert_not_null(strstr(body.data, link), "link %s missing from %s", link, body.data);
    }
}

Test(routes, errors_have_their_status_and_a_json_error) {
    static const struct { const char *method, *target; int status; } cases[] = {
        {"GET", "/api/no-such-page", 404}, {"GET", "/nope", 404},         {"POST", "/api/x", 405},
        {"DELETE", "/graph/random", 405},  {"GET", "/graph/stats/reset", 405},
        {"GET", "/graph/sample?n=abc", 400}, {"GET", "/graph/sample?n=100001", 400},
        {"GET", "/api/%zz", 404}, {"GET", "/graph/stats/pages?from=501", 400},
        {"GET", "/graph/stats/pages?limit=1000001", 400}, {"GET", "/graph/stats/pages?from=-1", 400},
        {"POST", "/graph/stats/pages", 405},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        routes_reply_t r = route(cases[i].method, cases[i].target, NULL, NULL);
        cr_assert_eq(r.status, cases[i].status, "%s %s: %d", cases[i].method, cases[i].target, r.status);
        cr_assert_eq(strncmp(body.data, "{\"error\":", 9), 0, "%s %s: %s", cases[i].method, cases[i].target, body.data);
    }
    routes_reply_t r = route("PUT", "/graph/stats", NULL, NULL);
    cr_assert_not_null(strstr(r.headers, "Allow: GET, HEAD\r\n"));
}

Test(routes, knobs_force_faults_and_latency) {
    char target[96];
    snprintf(target, sizeof(target), "/api/%s?fault=503", page_id(1));
    routes_reply_t r = route("GET", target, NULL, NULL);
    cr_assert_eq(r.status, 503);
    cr_assert_not_null(strstr(r.headers, "Retry-After: 1\r\n"), "%s", r.headers);

    snprintf(target, sizeof(target), "/api/%s", page_id(1));
    r = route("GET", target, "X-Crawlbench-Fault", "reset");
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.fault, FAULT_RESET);

    snprintf(target, sizeof(target), "/api/%s?latency=uniform%%3A10ms-20ms", page_id(1));
    r = route("GET", target, NULL, NULL);
    cr_assert(r.delay_us >= 10000 && r.delay_us <= 20000, "delay %llu", (unsigned long long)r.delay_us);

    snprintf(target, sizeof(target), "/api/%s?fault=teapot", page_id(1));
    cr_assert_eq(route("GET", target, NULL, NULL).status, 400);
}

Test(routes, fail_first_counts_attempts_per_page_and_reset_restarts_them) {
    char target[96];
    snprintf(target, sizeof(target), "/api/%s?fail_first=2", page_id(7));
    cr_assert_eq(route("GET", target, NULL, NULL).status, 503);
    cr_assert_eq(route("GET", target, NULL, NULL).status, 503);
    cr_assert_eq(route("GET", target, NULL, NULL).status, 200);
    cr_assert_eq(route("POST", "/graph/stats/reset", NULL, NULL).status, 200);
    cr_assert_eq(route("GET", target, NULL, NULL).status, 503);
}

Test(routes, configured_faults_repeat_after_a_reset) {
    char err[128], target[64];
    cr_assert_eq(fault_plan_parse("500:0.2,503:0.2,reset:0.2", 25, &cfg.faults, err, sizeof(err)), 0);
    int first[200], second[200];
    for (int pass = 0; pass < 2; pass++) {
        route("POST", "/graph/stats/reset", NULL, NULL);
        for (int i = 0; i < 200; i++) {
            snprintf(target, sizeof(target), "/api/%s", page_id((uint32_t)(i % 50)));
            routes_reply_t r = route("GET", target, NULL, NULL);
            (pass ? second : first)[i] = r.status * 100 + (int)r.fault;
        }
    }
    cr_assert_eq(memcmp(first, second, sizeof(first)), 0);
}

Test(routes, sample_random_stats_health) {
    routes_reply_t r = route("GET", "/graph/sample?n=3", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(strncmp(body.data, "{\"page_ids\":[\"", 14), 0, "%s", body.data);
    int commas = 0;
    for (const char *p = body.data; *p; p++) commas += *p == ',';
    cr_assert_eq(commas, 2, "%s", body.data);
    cr_assert_eq(route("GET", "/graph/random", NULL, NULL).status, 200);
    cr_assert_eq(strncmp(body.data, "{\"page_id\":\"", 12), 0);
    cr_assert_eq(route("HEAD", "/health", NULL, NULL).head_only, 1);
    r = route("GET", "/graph/stats", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(body.data, "\"pages\":500"), "%s", body.data);
    cr_assert_not_null(strstr(body.data, "\"duplicate_fetches\":0"), "%s", body.data);
    r = route("GET", "/metrics", NULL, NULL);
    cr_assert_not_null(strstr(body.data, "crawlbench_graph_pages 500\n"), "%s", body.data);
}

/* A client that states its attempt numbers gets the fault of that attempt, whatever the server has
 * counted, and a request stating a number already seen (a library's own resend) meets the same
 * fault again and is counted as a resend. */
Test(routes, a_stated_attempt_keys_the_fault_and_a_repeat_is_a_resend) {
    char target[64];
    cfg.faults.fail_first = 2;
    cfg.faults.fail_with = FAULT_RESET;
    snprintf(target, sizeof(target), "/api/%s", page_id(5));
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "1").fault, FAULT_RESET);
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "1").fault, FAULT_RESET, "the resend: same fault");
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "3").status, 200, "attempt 3 is past fail_first");
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "2").fault, FAULT_RESET, "late, but keyed");
    audit_snapshot_t s;
    audit_snapshot(audit, &s);
    cr_assert_eq(s.resends, 2, "attempt 1 twice, and 2 after 3: %llu", (unsigned long long)s.resends);
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "0").status, 400);
    cr_assert_eq(route("GET", target, HTTP_ATTEMPT_HEADER, "x1").status, 400);
}

/* /graph/stats/pages lists the requests per page since the last reset, by page number, in pages of
 * `limit` page numbers; "next" says where to go on. */
Test(routes, stats_pages_lists_each_pages_requests_in_pages_of_limit) {
    char target[64], want[64];
    for (int i = 0; i < 3; i++) {
        snprintf(target, sizeof(target), "/api/%s", page_id(7));
        route("GET", target, NULL, NULL);
    }
    snprintf(target, sizeof(target), "/api/%s", page_id(300));
    route("GET", target, NULL, NULL);
    routes_reply_t r = route("GET", "/graph/stats/pages", NULL, NULL);
    cr_assert_eq(r.status, 200);
    snprintf(want, sizeof(want), "{\"attempts\":{\"%s\":3,\"%s\":1},\"next\":null}", page_id(7), page_id(300));
    cr_assert_str_eq(body.data, want);
    route("GET", "/graph/stats/pages?from=0&limit=100", NULL, NULL);
    snprintf(want, sizeof(want), "{\"attempts\":{\"%s\":3},\"next\":100}", page_id(7));
    cr_assert_str_eq(body.data, want);
    route("GET", "/graph/stats/pages?from=300&limit=1", NULL, NULL);
    snprintf(want, sizeof(want), "{\"attempts\":{\"%s\":1},\"next\":301}", page_id(300));
    cr_assert_str_eq(body.data, want);
    route("GET", "/graph/stats/pages?from=500", NULL, NULL);
    cr_assert_str_eq(body.data, "{\"attempts\":{},\"next\":null}");
    audit_reset(audit);
    route("GET", "/graph/stats/pages", NULL, NULL);
    cr_assert_str_eq(body.data, "{\"attempts\":{},\"next\":null}");
}
