/* A page's outcome as a message, for crawlers whose workers are other processes: the header (the
 * fetch_result_t fields crawl_done reads) and the page's valid links, each [length byte][id][NUL],
 * sent over a SOCK_SEQPACKET socket in packets of at most WIRE_PACKET_MAX bytes, each opening with
 * one byte: 1 if more packets follow, 0 on the last. Why packets: a page may have thousands of links
 * and one packet must fit in the socket's buffer. Both ends are the same binary, so the header
 * travels as a raw struct; the receiver still checks every length against what it got.
 *
 * Conventions: 0 / -1. */
#ifndef CRAWLBENCH_WIRE_H
#define CRAWLBENCH_WIRE_H

#include "base/buf.h"
#include "crawl/fetch.h"
#include "crawl/page.h"

#include <stdint.h>

#define WIRE_PACKET_MAX 32768 /* well below the default AF_UNIX socket buffer (208 KiB) */

/* Serialises page's outcome into out (cleared first); links NULL when the page gave none. */
int wire_encode(buf_t *out, uint32_t page, const fetch_result_t *r, const page_links_t *links);

/* Rebuilds an outcome from a whole message. r gets the counts and the body's length (not its bytes,
 * which stayed with the sender); *parsed whether links were sent; links->ids point into msg, which
 * must outlive them; free with wire_links_free(). -1 when the message is garbled. */
int wire_decode(const buf_t *msg, uint32_t *page, fetch_result_t *r, int *parsed, page_links_t *links);
void wire_links_free(page_links_t *links);

/* Sends len bytes as one message, in packets. -1 with errno when the socket fails. */
int wire_send(int fd, const char *data, size_t len);

/* Reads the packets waiting on a non-blocking read of fd into in. 1: a whole message is in `in`
 * (clear it before the next); 0: nothing more waiting yet; -1: EOF, an error or a truncated packet. */
int wire_recv(int fd, buf_t *in);

#endif
