/* The worker-to-coordinator messages of the processes model (src/crawl/wire.c): a round trip keeps
 * every field and link, a message cut into many packets arrives whole, and garbled messages are
 * refused, never read past their end. */
#include "crawl/wire.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static page_links_t links_of(const char **ids, uint32_t n, size_t *lens) {
    for (uint32_t i = 0; i < n; i++) lens[i] = strlen(ids[i]);
    return (page_links_t){.n = n, .invalid = 2, .ids = ids, .lens = lens};
}

Test(wire, round_trip_keeps_every_field_and_link) {
    const char *ids[] = {"a", "Bc-9", "zzzzzzzz"};
    size_t lens[3];
    page_links_t in = links_of(ids, 3, lens), out;
    fetch_result_t r = {.outcome = FETCH_OK, .http_status = 200, .attempts = 3, .latency_us = 1234};
    r.tally[TALLY_5XX] = 2, r.tally[TALLY_OK] = 1, r.body.len = 77;
    buf_t msg = BUF_INIT;
    cr_assert_eq(wire_encode(&msg, 41, &r, &in), 0);
    uint32_t page;
    int parsed;
    fetch_result_t back;
    cr_assert_eq(wire_decode(&msg, &page, &back, &parsed, &out), 0);
    cr_assert_eq(page, 41);
    cr_assert_eq(parsed, 1);
    cr_assert_eq(back.attempts, 3);
    cr_assert_eq(back.http_status, 200);
    cr_assert_eq(back.latency_us, 1234);
    cr_assert_eq(back.body.len, 77);
    cr_assert_eq(back.tally[TALLY_5XX], 2);
    cr_assert_eq(out.n, 3);
    cr_assert_eq(out.invalid, 2);
    for (uint32_t i = 0; i < 3; i++) cr_assert_str_eq(out.ids[i], ids[i]);
    wire_links_free(&out);
    buf_free(&msg);
}

Test(wire, garbled_messages_are_refused) {
    const char *ids[] = {"abc", "de"};
    size_t lens[2];
    page_links_t in = links_of(ids, 2, lens), out;
    fetch_result_t r = {.outcome = FETCH_OK}, back;
    buf_t msg = BUF_INIT;
    uint32_t page;
    int parsed;
    cr_assert_eq(wire_encode(&msg, 1, &r, &in), 0);
    size_t whole = msg.len;
    for (size_t cut = 0; cut < whole; cut++) { /* every truncation */
        msg.len = cut;
        cr_assert_eq(wire_decode(&msg, &page, &back, &parsed, &out), -1, "cut at %zu accepted", cut);
    }
    msg.len = whole;
    msg.data[whole - 1] = 'x'; /* a link without its NUL */
    cr_assert_eq(wire_decode(&msg, &page, &back, &parsed, &out), -1);
    buf_free(&msg);
}

Test(wire, a_long_message_crosses_the_socket_in_packets) {
    enum { N = 5000 }; /* about 45 KB of links: more than one packet */
    static const char *ids[N];
    static size_t lens[N];
    static char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "p%07d", i);
        ids[i] = names[i];
    }
    page_links_t in = links_of(ids, N, lens), out;
    fetch_result_t r = {.outcome = FETCH_OK}, back;
    buf_t msg = BUF_INIT, got = BUF_INIT;
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    cr_assert_eq(wire_encode(&msg, 9, &r, &in), 0);
    cr_assert_gt(msg.len, WIRE_PACKET_MAX);
    cr_assert_eq(wire_send(sv[0], msg.data, msg.len), 0);
    cr_assert_eq(wire_recv(sv[1], &got), 1);
    cr_assert_eq(got.len, msg.len);
    uint32_t page;
    int parsed;
    cr_assert_eq(wire_decode(&got, &page, &back, &parsed, &out), 0);
    cr_assert_eq(out.n, N);
    cr_assert_str_eq(out.ids[N - 1], "p0004999");
    buf_clear(&got);
    cr_assert_eq(wire_recv(sv[1], &got), 0, "nothing more waiting");
    close(sv[0]);
    cr_assert_eq(wire_recv(sv[1], &got), -1, "the peer's close reads as the end");
    wire_links_free(&out);
    buf_free(&msg);
    buf_free(&got);
    close(sv[1]);
}
