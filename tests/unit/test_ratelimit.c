/* The server's per-client token buckets (src/server/ratelimit.c), on a clock the test sets: a burst
 * goes through, then one request per 1/rate seconds, the wait told is exactly the time to the next
 * token, clients are counted apart, and the spec parser takes only what it documents. */
#include "server/ratelimit.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

static struct sockaddr_storage addr4(const char *ip, int port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    return ss;
}

Test(ratelimit, burst_then_one_token_per_interval_with_the_exact_wait) {
    ratelimit_t *rl = ratelimit_create(50, 5); /* a token every 20 ms */
    struct sockaddr_storage a = addr4("127.0.0.1", 40000);
    uint64_t t = 1000000;
    for (int i = 0; i < 5; i++) cr_assert_eq(ratelimit_take(rl, &a, t), 0, "burst request %d", i);
    cr_assert_eq(ratelimit_take(rl, &a, t), 20000, "the next token is 20 ms away");
    cr_assert_eq(ratelimit_take(rl, &a, t + 5000), 15000, "and 15 ms, 5 ms later");
    cr_assert_eq(ratelimit_take(rl, &a, t + 20000), 0, "the token has come");
    cr_assert_eq(ratelimit_take(rl, &a, t + 20000), 20000);
    cr_assert_eq(ratelimit_take(rl, &a, t + 10000000), 0, "after a long pause ...");
    for (int i = 0; i < 4; i++) cr_assert_eq(ratelimit_take(rl, &a, t + 10000000), 0);
    cr_assert_neq(ratelimit_take(rl, &a, t + 10000000), 0, "... the bucket holds the burst, no more");
    ratelimit_free(rl);
}

Test(ratelimit, clients_are_counted_apart_by_address_not_port) {
    ratelimit_t *rl = ratelimit_create(1, 1);
    struct sockaddr_storage a = addr4("127.0.0.1", 1), a2 = addr4("127.0.0.1", 2), b = addr4("127.0.0.2", 1);
    cr_assert_eq(ratelimit_take(rl, &a, 0), 0);
    cr_assert_eq(ratelimit_take(rl, &a2, 0), 1000000, "another connection of the same client");
    cr_assert_eq(ratelimit_take(rl, &b, 0), 0, "another client has its own bucket");
    buf_t j = BUF_INIT;
    ratelimit_stats_json(rl, &j);
    cr_assert(strstr(j.data, "\"127.0.0.1\":{\"allowed\":1,\"limited\":1}"), "%s", j.data);
    cr_assert(strstr(j.data, "\"127.0.0.2\":{\"allowed\":1,\"limited\":0}"), "%s", j.data);
    ratelimit_reset_counts(rl);
    buf_clear(&j);
    ratelimit_stats_json(rl, &j);
    cr_assert(strstr(j.data, "\"127.0.0.1\":{\"allowed\":0,\"limited\":0}"), "%s", j.data);
    buf_free(&j);
    ratelimit_free(rl);
}

Test(ratelimit, parse) {
    double rate;
    uint32_t burst;
    char err[160];
    cr_assert_eq(ratelimit_parse("50/s", 4, &rate, &burst, err, sizeof(err)), 0);
    cr_assert(rate == 50 && burst == 50);
    cr_assert_eq(ratelimit_parse("2.5/s,1", 7, &rate, &burst, err, sizeof(err)), 0);
    cr_assert(rate == 2.5 && burst == 1);
    cr_assert_eq(ratelimit_parse("0.5/s", 5, &rate, &burst, err, sizeof(err)), 0);
    cr_assert_eq(burst, 1);
    static const char *bad[] = {"", "50", "50/m", "0/s", "-1/s", "50/s,", "50/s,0", "50/s,x", "/s", "50/s,5x", "inf/s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(ratelimit_parse(bad[i], strlen(bad[i]), &rate, &burst, err, sizeof(err)), -1, "'%s'", bad[i]);
}
