/* The distributed crawl's pure parts: the redis:// URL parser (table-driven, each input placed
 * against a PROT_NONE page so an over-read crashes), crawl ids, the lease a fetch policy needs, and
 * the latency keys. What needs a Redis is tested in tests/integration/test_distributed.py. */
#include "dist/dist.h"
#include "dist/store.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Copies s to the end of a page followed by a PROT_NONE page, and parses it there. */
static int parse_guarded(const char *s, rconn_url_t *u, char *err) {
    long pg = sysconf(_SC_PAGESIZE);
    size_t len = strlen(s);
    char *mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mem, MAP_FAILED);
    cr_assert_eq(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
    char *at = mem + pg - len;
    memcpy(at, s, len);
    int rc = rconn_url_parse(at, len, u, err, RCONN_ERR_LEN);
    munmap(mem, (size_t)pg * 2);
    return rc;
}

static const struct {
    const char *name, *url;
    int ok;
    const char *host, *user, *pass;
    int port, db;
} cases[] = {
    {"plain", "redis://127.0.0.1:6379/0", 1, "127.0.0.1", "", "", 6379, 0},
    {"defaults", "redis://localhost", 1, "localhost", "", "", 6379, 0},
    {"trailing slash", "redis://h/", 1, "h", "", "", 6379, 0},
    {"password", "redis://:s3cret@h:7000/2", 1, "h", "", "s3cret", 7000, 2},
    {"user and password", "redis://bob:pw@h", 1, "h", "bob", "pw", 6379, 0},
    {"ipv6", "redis://[::1]:6380/15", 1, "::1", "", "", 6380, 15},
    {"colon in password", "redis://:a:b@h", 1, "h", "", "a:b", 6379, 0},
    {"at in password", "redis://:a@b@h", 1, "h", "", "a@b", 6379, 0},
    {"not redis", "http://h:6379", 0, 0, 0, 0, 0, 0},
    {"empty", "", 0, 0, 0, 0, 0, 0},
    {"no host", "redis://", 0, 0, 0, 0, 0, 0},
    {"no host with port", "redis://:6379", 0, 0, 0, 0, 0, 0},
    {"port zero", "redis://h:0", 0, 0, 0, 0, 0, 0},
    {"port too big", "redis://h:65536", 0, 0, 0, 0, 0, 0},
    {"port not a number", "redis://h:12a", 0, 0, 0, 0, 0, 0},
    {"empty port", "redis://h:", 0, 0, 0, 0, 0, 0},
    {"db too big", "redis://h/16", 0, 0, 0, 0, 0, 0},
    {"db not a number", "redis://h/x", 0, 0, 0, 0, 0, 0},
    {"user without password", "redis://bob@h", 0, 0, 0, 0, 0, 0},
    {"open bracket", "redis://[::1", 0, 0, 0, 0, 0, 0},
    {"junk after bracket", "redis://[::1]x", 0, 0, 0, 0, 0, 0},
    {"space in host", "redis://a b", 0, 0, 0, 0, 0, 0},
};

Test(rconn, url_table) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rconn_url_t u;
        char err[RCONN_ERR_LEN] = "";
        int rc = parse_guarded(cases[i].url, &u, err);
        cr_assert_eq(rc == 0, cases[i].ok, "%s: '%s' gave %d (%s)", cases[i].name, cases[i].url, rc, err);
        if (!cases[i].ok) {
            cr_assert(strstr(err, "not a Redis URL"), "%s: error '%s'", cases[i].name, err);
            continue;
        }
        cr_assert_str_eq(u.host, cases[i].host, "%s", cases[i].name);
        cr_assert_str_eq(u.user, cases[i].user, "%s", cases[i].name);
        cr_assert_str_eq(u.pass, cases[i].pass, "%s", cases[i].name);
        cr_assert_eq(u.port, cases[i].port, "%s: port %d", cases[i].name, u.port);
        cr_assert_eq(u.db, cases[i].db, "%s: db %d", cases[i].name, u.db);
    }
}

Test(rconn, long_parts_are_refused_not_cut) {
    char url[700] = "redis://";
    memset(url + 8, 'h', 300);
    rconn_url_t u;
    char err[RCONN_ERR_LEN];
    cr_assert_eq(parse_guarded(url, &u, err), -1, "a 300-byte host does not fit");
    strcpy(url, "redis://:");
    memset(url + 9, 'p', 300);
    strcpy(url + 309, "@h");
    cr_assert_eq(parse_guarded(url, &u, err), -1, "a 300-byte password does not fit");
}

Test(dist, crawl_ids) {
    cr_assert(dist_id_valid("default"));
    cr_assert(dist_id_valid("crawl-2026.12_07"));
    cr_assert(!dist_id_valid(""));
    cr_assert(!dist_id_valid("a b"));
    cr_assert(!dist_id_valid("a}b"), "a brace would break the hash tag");
    cr_assert(!dist_id_valid("a:b"));
    char longest[DIST_ID_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    longest[DIST_ID_MAX] = '\0';
    cr_assert(dist_id_valid(longest));
    longest[DIST_ID_MAX] = 'x', longest[DIST_ID_MAX + 1] = '\0';
    cr_assert(!dist_id_valid(longest));
}

Test(dist, keys_share_one_hash_tag) {
    dist__keys_t k;
    dist__keys(&k, "c1");
    for (int i = 0; i < DIST__NKEYS; i++)
        cr_assert(!strncmp(k.argv[i], "crawlbench:{c1}:", 16), "key %s", k.argv[i]);
    cr_assert_str_eq(k.stream, "crawlbench:{c1}:frontier");
}

Test(dist, lease_covers_every_attempt_and_backoff) {
    /* 4 attempts of 10 s, backoffs 0.1 + 0.2 + 0.4 s: 40.7 s, a quarter more and a second. */
    fetch_opts_t o = {.timeout_us = 10000000, .max_attempts = 4, .backoff_us = 100000, .backoff_max_us = 10000000};
    uint64_t worst_ms = 40700;
    cr_assert_eq(dist_lease_ms(&o), worst_ms + worst_ms / 4 + 1000);
    o.backoff_max_us = 150000; /* capped backoffs: 0.1 + 0.15 + 0.15 */
    cr_assert_eq(dist_lease_ms(&o), 40400 + 40400 / 4 + 1000);
    o.max_attempts = 1;
    cr_assert_eq(dist_lease_ms(&o), 10000 + 2500 + 1000);
}

Test(dist, latency_keys_keep_seven_bits) {
    cr_assert_eq(dist__lat_key(0), 0);
    cr_assert_eq(dist__lat_key(127), 127);
    cr_assert_eq(dist__lat_key(128), 128);
    cr_assert_eq(dist__lat_key(1000), 1000);  /* 10 bits: 1111101000 keeps its top 7 -> 1000 */
    cr_assert_eq(dist__lat_key(1001), 1000);
    cr_assert_eq(dist__lat_key(50123), 49664); /* 97 * 512 */
    for (uint64_t v = 1; v < 10000000; v = v * 3 + 1)
        cr_assert(dist__lat_key(v) <= v && v - dist__lat_key(v) <= v / 64, "%lu -> %lu", (unsigned long)v,
                  (unsigned long)dist__lat_key(v));
}

Test(rconn, call_argv_builds_evalsha_and_plain_commands) {
    rconn_script_t s = {.src = "return 1", .sha = "0123456789012345678901234567890123456789"};
    const char *args[] = {"k1", "a\0b", "v"};
    size_t lens[] = {2, 3, 1};
    rconn_call_t k = {.script = &s, .nkeys = 1, .argc = 3, .argv = args, .lens = lens};
    int argc;
    size_t *al;
    char nk[16];
    const char **av = rconn_call_argv(&k, &argc, &al, nk);
    cr_assert(av);
    cr_assert_eq(argc, 6);
    cr_assert_str_eq(av[0], "EVALSHA");
    cr_assert_eq(av[1], s.sha);
    cr_assert_str_eq(av[2], "1");
    cr_assert_eq(al[1], 40);
    cr_assert_eq(al[4], 3, "binary-safe lengths are kept");
    cr_assert_eq(av[5], args[2]);
    free(av);
    k = (rconn_call_t){.argc = 2, .argv = (const char *[]){"PING", "hello"}}; /* plain, NUL-terminated */
    av = rconn_call_argv(&k, &argc, &al, nk);
    cr_assert(av);
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(av[0], "PING");
    cr_assert_eq(al[1], 5);
    free(av);
}

Test(dist, ack_carries_outcome_figures_and_links) {
    dist__keys_t keys;
    rconn_script_t script = {.src = dist__lua_ack};
    dist__keys(&keys, "t");
    fetch_result_t r = {.outcome = FETCH_ERROR, .attempts = 3, .tally = {[TALLY_5XX] = 3}};
    dist__ack_t a;
    char err[RCONN_ERR_LEN];
    cr_assert_eq(dist__ack_build(&a, &script, &keys, "h:1", "1-1", "abcd", &r, 5, 2, err), 0, "%s", err);
    cr_assert_str_eq(a.outcome, "failed");
    cr_assert_eq(a.call.argc, DIST__NKEYS + 18, "no links for a failed page");
    cr_assert_str_eq(a.call.argv[DIST__NKEYS + 5], "3", "attempts");
    cr_assert_str_eq(a.call.argv[DIST__NKEYS + 6], "5", "commands");
    cr_assert_str_eq(a.call.argv[DIST__NKEYS + 9], "3", "5xx tally");
    cr_assert_str_eq(a.call.argv[DIST__NKEYS + 17], "2", "round trips");
    dist__ack_free(&a);
    cr_assert_eq(dist__ack_build(&a, &script, &keys, "h:1", "1-2", "", &r, 0, 0, err), 0);
    cr_assert_str_eq(a.outcome, "failed", "an entry without a page id fails");
    dist__ack_free(&a);
}
