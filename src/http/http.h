/* HTTP/1.x message parsing, in the style of picohttpparser: stateless, allocation-free, every output
 * a slice of the caller's buffer, a header array whose capacity the caller sets. Strict: anything
 * RFC 9112 does not allow is malformed, and every length is bounded.
 *
 * Parsers return the number of bytes consumed (> 0) once the head is complete, HTTP_INCOMPLETE when
 * more bytes are needed, or one of the negative errors below. Outputs are reset on entry. */
#ifndef CRAWLBENCH_HTTP_H
#define CRAWLBENCH_HTTP_H

#include <stddef.h>
#include <time.h>
#include <stdint.h>

#define HTTP_INCOMPLETE        (-2)
#define HTTP_BAD               (-1) /* malformed: answer 400 and close */
#define HTTP_URI_TOO_LONG      (-3) /* request line longer than HTTP_MAX_LINE: 414 */
#define HTTP_HEADERS_TOO_LARGE (-4) /* head longer than HTTP_MAX_HEAD, or more headers than fit: 431 */

#define HTTP_MAX_LINE 8192  /* request line, bytes, CRLF included */
#define HTTP_MAX_HEAD 16384 /* whole head (request line + headers + blank line), bytes */

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing spaces/tabs trimmed */
    size_t value_len;
} http_header_t;

typedef struct http_request {
    const char *method;
    size_t method_len;
    const char *target; /* origin-form: path plus optional ?query */
    size_t target_len;
    int minor_version;  /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
    http_header_t *headers; /* caller's array; in: its capacity in num_headers */
    size_t num_headers;     /* out: how many were parsed */
} http_request_t;

typedef struct http_response {
    int status;           /* 100..999 */
    int minor_version;
    const char *reason;
    size_t reason_len;
    http_header_t *headers; /* caller's array; in: capacity in num_headers */
    size_t num_headers;
} http_response_t;

/* Parses a request head from buf[0..len). last_len is the length already seen incomplete on a
 * previous call with the same buffer (0 on the first), so re-parsing partial input stays cheap. A
 * head whose request line exceeds HTTP_MAX_LINE returns HTTP_URI_TOO_LONG as soon as that is known,
 * even while incomplete; likewise HTTP_HEADERS_TOO_LARGE for HTTP_MAX_HEAD. */
int http_parse_request(const char *buf, size_t len, http_request_t *req, size_t last_len);

/* Parses a response head (for crawlers). Same conventions as http_parse_request(). */
int http_parse_response(const char *buf, size_t len, http_response_t *res, size_t last_len);

/* The header with this name (case-insensitive), or NULL. */
const http_header_t *http_find_header(const http_header_t *h, size_t n, const char *name);

/* Whether the connection stays open after this message: HTTP/1.1 unless "Connection: close",
 * HTTP/1.0 only with "Connection: keep-alive". Connection is a comma-separated token list. */
int http_keep_alive(int minor_version, const http_header_t *h, size_t n);

/* The message body length from Content-Length: 0 with *out set when present and valid, 1 when
 * absent (*out = 0), -1 when invalid (not digits, overflow, or several differing values) or when
 * Transfer-Encoding is present (we accept no chunked request bodies). */
int http_body_length(const http_header_t *h, size_t n, uint64_t *out);

/* Looks up a query parameter in a request target ("/a?x=1&y=2"). Returns 1 and the raw (still
 * percent-encoded) value slice when found, 0 when not. */
int http_query_param(const char *target, size_t len, const char *name, const char **val,
                     size_t *val_len);

/* Percent-decodes src into dst (capacity dst_cap, NUL-terminated). Returns the decoded length, or
 * -1 on a malformed escape, an encoded NUL, or when it does not fit. '+' is left as is. */
long http_percent_decode(const char *src, size_t len, char *dst, size_t dst_cap);

/* Retry-After's value in microseconds from now (wall-clock seconds since the epoch, as HTTP dates
 * are): delta-seconds ("120"), or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"; a date in the
 * past is 0). 0 for anything else: the obsolete RFC 850 and asctime forms are not read. At most
 * HTTP_RETRY_AFTER_MAX_S: a server that asks a crawler to wait longer than a day is not heeded
 * beyond it. */
#define HTTP_RETRY_AFTER_MAX_S 86400u
uint64_t http_retry_after_us(const char *v, size_t len, time_t now);

/* A whole number of microseconds (HTTP_RETRY_AFTER_US_HEADER's value), at most a day. 0 with *us
 * set, or -1 when the value is not one. */
int http_count_us(const char *v, size_t len, uint64_t *us);

/* The interval between requests that a RateLimit-Policy value allows ("200;w=1": 5,000 us), in
 * microseconds. 0 with *us set, or -1 when the value is not "Q;w=W" with whole Q, W >= 1. */
int http_ratelimit_interval_us(const char *v, size_t len, uint64_t *us);

/* The server-side time a Server-Timing header value states ("delay;dur=12.345": milliseconds, the
 * first dur= of the value), in microseconds. 0 with *us set, or -1 when there is none. */
int http_server_timing_us(const char *v, size_t len, uint64_t *us);

/* The standard reason phrase for a status code ("Not Found"), or "Unknown". */
const char *http_reason(int status);

/* The header in which a crawler states which attempt at a page a request is (1 for the first). The
 * demo server then keys its fault decisions on it instead of counting requests itself, so that a
 * request an HTTP library resends on its own (libcurl does, when a reused connection dies before
 * the answer) meets the same decision again and is counted as a resend, not a new attempt. */
#define HTTP_ATTEMPT_HEADER "X-Crawlbench-Attempt"

/* Retry-After counts whole seconds; a rate limit of 50 requests a second means waits of 20 ms. The
 * demo server also sends the exact wait in microseconds in this header, and crawlbench's clients
 * prefer it when present. */
#define HTTP_RETRY_AFTER_US_HEADER "X-Crawlbench-Retry-After-Us"

/* A server that limits each client's rate says so on every answer, in the form of the IETF draft
 * on rate-limit headers (draft-ietf-httpapi-ratelimit-headers-07): "RateLimit-Policy: 200;w=1",
 * 200 requests per 1-second window. A client can then pace itself instead of learning the limit
 * from 429s. */
#define HTTP_RATELIMIT_POLICY_HEADER "RateLimit-Policy"

#endif
