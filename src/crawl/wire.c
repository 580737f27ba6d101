/* A page's outcome as packets on a socket (see wire.h). */
#include "crawl/wire.h"

#include "crawl/frontier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct wire_hdr {
    uint32_t page, outcome, attempts, tally[FETCH_TALLIES];
    int32_t http_status;
    uint64_t latency_us, body_len, server_us, waited_us;
    uint32_t untimed, parsed, nlinks, invalid;
} wire_hdr_t;

int wire_encode(buf_t *out, uint32_t page, const fetch_result_t *r, const page_links_t *links) {
    wire_hdr_t h = {.page = page, .outcome = r->outcome, .attempts = r->attempts, .http_status = r->http_status,
                    .latency_us = r->latency_us, .body_len = r->body.len, .server_us = r->server_us,
                    .waited_us = r->waited_us, .untimed = r->untimed, .parsed = links != NULL,
                    .nlinks = links ? links->n : 0, .invalid = links ? links->invalid : 0};
    memcpy(h.tally, r->tally, sizeof(h.tally));
    buf_clear(out);
    if (buf_append(out, &h, sizeof(h)) < 0) return -1;
    for (uint32_t i = 0; i < h.nlinks; i++) {
        unsigned char len = (unsigned char)links->lens[i]; /* <= FRONTIER_ID_MAX: page.c checked */
        if (buf_append(out, &len, 1) < 0 || buf_append(out, links->ids[i], len + 1u) < 0) return -1;
    }
    return 0;
}

int wire_decode(const buf_t *msg, uint32_t *page, fetch_result_t *r, int *parsed, page_links_t *links) {
    wire_hdr_t h;
    *links = (page_links_t){0};
    if (msg->len < sizeof(h)) return -1;
    memcpy(&h, msg->data, sizeof(h));
    if (h.outcome >= FETCH_OUTCOMES || h.nlinks > msg->len) return -1;
    links->n = h.nlinks, links->invalid = h.invalid;
    if (h.nlinks && (!(links->ids = malloc(h.nlinks * sizeof(*links->ids))) ||
                     !(links->lens = malloc(h.nlinks * sizeof(*links->lens)))))
        goto fail;
    const char *p = msg->data + sizeof(h), *end = msg->data + msg->len;
    for (uint32_t i = 0; i < h.nlinks; i++) {
        size_t len = p < end ? (unsigned char)*p++ : 0;
        if (len == 0 || len > FRONTIER_ID_MAX || (size_t)(end - p) < len + 1 || p[len] != '\0') goto fail;
        links->ids[i] = p;
        links->lens[i] = len;
        p += len + 1;
    }
    if (p != end) goto fail;
    *r = (fetch_result_t){.outcome = (fetch_outcome_t)h.outcome, .http_status = h.http_status,
                          .attempts = h.attempts, .latency_us = h.latency_us, .server_us = h.server_us,
                          .waited_us = h.waited_us, .untimed = h.untimed};
    memcpy(r->tally, h.tally, sizeof(r->tally));
    r->body.len = h.body_len; /* the bytes stayed with the sender; crawl_done reads only the length */
    *page = h.page;
    *parsed = h.parsed != 0;
    return 0;
fail:
    wire_links_free(links);
    return -1;
}

void wire_links_free(page_links_t *links) {
    free(links->ids);
    free(links->lens);
    links->ids = NULL;
    links->lens = NULL;
}

int wire_send(int fd, const char *data, size_t len) {
    do {
        size_t chunk = len < WIRE_PACKET_MAX - 1 ? len : WIRE_PACKET_MAX - 1;
        char more = chunk < len;
        struct iovec iov[2] = {{&more, 1}, {(void *)data, chunk}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t sent;
        while ((sent = sendmsg(fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
        if (sent < 0) return -1;
        data += chunk;
        len -= chunk;
    } while (len);
    return 0;
}

int wire_recv(int fd, buf_t *in) {
    for (;;) {
        char more;
        if (buf_reserve(in, WIRE_PACKET_MAX) < 0) return -1;
        struct iovec iov[2] = {{&more, 1}, {in->data + in->len, WIRE_PACKET_MAX - 1}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t got = recvmsg(fd, &m, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (got <= 0 || (m.msg_flags & MSG_TRUNC)) return -1; /* EOF: the sender is gone */
        in->len += (size_t)got - 1;
        if (!more) return 1;
    }
}
