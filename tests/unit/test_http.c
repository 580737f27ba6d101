/* Unit tests for the HTTP/1.x parser and its helpers (src/http/http.c). Table-driven like
 * picohttpparser's test.c: one line per case with its name and expected result. Every head is parsed
 * whole and then fed byte by byte with last_len, and both must agree; every input ends right against
 * a PROT_NONE page, so an over-read faults even without ASan. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/http.h"

#define ALL INT_MAX /* expected return: the whole input consumed */
#define DEFAULT_CAP 16
#define MAX_CAP 64

/* ---- Inputs against a guard page ---------------------------------------------------------------- */

typedef struct guard {
    char *base;  /* mapping: data pages, then one PROT_NONE page */
    size_t data; /* bytes before the guard page */
} guard_t;

static void guard_map(guard_t *g, size_t len) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    g->data = (len + page - 1) / page * page;
    if (g->data == 0) g->data = page;
    g->base = mmap(NULL, g->data + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(g->base, MAP_FAILED, "mmap: %s", strerror(errno));
    cr_assert_eq(mprotect(g->base + g->data, page, PROT_NONE), 0, "mprotect: %s", strerror(errno));
}

/* Copies src[0..len) so that its last byte is the last one before the guard page. */
static char *guard_place(guard_t *g, const char *src, size_t len) {
    char *p = g->base + g->data - len;

    memcpy(p, src, len);
    return p;
}

static void guard_unmap(guard_t *g) { munmap(g->base, g->data + (size_t)sysconf(_SC_PAGESIZE)); }

/* Asserts that a slice holds exactly the string want. */
static void expect_slice(const char *ctx, const char *what, const char *got, size_t got_len,
                         const char *want) {
    size_t n = strlen(want);

    cr_assert(got_len == n && (n == 0 || memcmp(got, want, n) == 0),
              "%s: %s is \"%.*s\" (%zu bytes), want \"%s\"", ctx, what, (int)got_len, got != NULL ? got : "",
              got_len, want);
}

/* Criterion runs each parameterized test in a fresh process image, where pointers inside our case
 * tables would dangle; so the parameter is the case's index into the table. */
#define CASES(table) (sizeof(table) / sizeof((table)[0]))
static size_t case_index[128];

static struct criterion_test_params case_params(size_t n) {
    cr_assert_leq(n, CASES(case_index));
    for (size_t i = 0; i < n; i++)
        case_index[i] = i;
    return cr_make_param_array(size_t, case_index, n);
}

/* ---- Request heads -------------------------------------------------------------------------------- */

typedef struct req_case {
    const char *name;
    const char *in;
    size_t in_len; /* 0: strlen(in); set for inputs holding a NUL */
    int ret;       /* bytes consumed (ALL: the whole input) or an HTTP_* error */
    const char *method, *target;
    int minor;
    size_t num_headers;
    const char *headers[4][2]; /* the first few: name, value */
    size_t cap;                /* header array capacity; 0: DEFAULT_CAP */
} req_case_t;

/* clang-format off */
#define H4 "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
#define H16 H4 H4 H4 H4
#define REQ1 "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
#define REQ2 "GET /two HTTP/1.1\r\nHost: b\r\n\r\n"
#define EMPTY10 "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
#define BAD(n, s) {.name = n, .in = s, .ret = HTTP_BAD}
#define BAD_NUL(n, s) {.name = n, .in = s, .in_len = sizeof(s) - 1, .ret = HTTP_BAD} /* holds a NUL */

static const req_case_t req_cases[] = {
    /* Well-formed heads. */
    {"simple GET", "GET / HTTP/1.1\r\n\r\n", 0, ALL, "GET", "/", 1, 0, {{0}}, 0},
    {"typical GET",
     "GET /api/abc123 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n", 0,
     ALL, "GET", "/api/abc123", 1, 3,
     {{"Host", "127.0.0.1:5000"}, {"User-Agent", "x"}, {"Accept", "*/*"}}, 0},
    {"HTTP/1.0", "HEAD /x HTTP/1.0\r\n\r\n", 0, ALL, "HEAD", "/x", 0, 0, {{0}}, 0},
    {"query and fragment bytes", "GET /a?b=c&d=%2F#e HTTP/1.1\r\n\r\n", 0, ALL, "GET",
     "/a?b=c&d=%2F#e", 1, 0, {{0}}, 0},
    {"lowercase and custom methods are tokens", "purge! /p HTTP/1.1\r\n\r\n", 0, ALL, "purge!",
     "/p", 1, 0, {{0}}, 0},
    {"OPTIONS *", "OPTIONS * HTTP/1.1\r\n\r\n", 0, ALL, "OPTIONS", "*", 1, 0, {{0}}, 0},
    {"OWS trimmed", "GET / HTTP/1.1\r\nHost:example.com\r\nX: \t a  b \t \r\nEmpty:\r\nSp:   \r\n\r\n",
     0, ALL, "GET", "/", 1, 4, {{"Host", "example.com"}, {"X", "a  b"}, {"Empty", ""}, {"Sp", ""}},
     0},
    {"obs-text in value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\xff\r\n\r\n", 0, ALL, "GET", "/", 1, 1,
     {{"X", "caf\xc3\xa9\xff"}}, 0},
    {"as many headers as fit", "GET / HTTP/1.1\r\n" H16 "\r\n", 0, ALL, "GET", "/", 1, 16,
     {{"A", "1"}, {"B", "2"}, {"C", "3"}, {"D", "4"}}, 0},
    {"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 0, ALL, "GET", "/", 1, 1, {{"Host", "a"}}, 0},
    {"mixed CRLF and LF", "GET / HTTP/1.1\r\nHost: a\n\r\n", 0, ALL, "GET", "/", 1, 1,
     {{"Host", "a"}}, 0},
    {"leading CRLF", "\r\nGET / HTTP/1.1\r\n\r\n", 0, ALL, "GET", "/", 1, 0, {{0}}, 0},
    {"leading LF and CRLF", "\n\r\nGET / HTTP/1.1\r\n\r\n", 0, ALL, "GET", "/", 1, 0, {{0}}, 0},
    {"ten leading empty lines", EMPTY10 "GET / HTTP/1.1\r\n\r\n", 0, ALL, "GET", "/", 1, 0, {{0}}, 0},
    {"pipelined: first only", REQ1 REQ2, 0, (int)sizeof(REQ1) - 1, "GET", "/one", 1, 1,
     {{"Host", "a"}}, 0},
    {"body bytes after the head", "GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 0,
     (int)sizeof("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\n") - 1, "GET", "/", 1, 1,
     {{"Content-Length", "2"}}, 0},

    /* Not there yet. */
    {"empty", "", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0, {{0}}, 0},
    {"only CRLF", "\r\n", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0, {{0}}, 0},
    {"only CR", "\r", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0, {{0}}, 0},
    {"request line only", "GET / HTTP/1.1\r\n", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0, {{0}}, 0},
    {"last CR missing its LF", "GET / HTTP/1.1\r\nA: b\r\n\r", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0,
     {{0}}, 0},
    {"garbage but unfinished", "\x01\x02 garbage", 0, HTTP_INCOMPLETE, NULL, NULL, 0, 0, {{0}}, 0},

    /* Bounds. */
    {"too many headers", "GET / HTTP/1.1\r\n" H16 "E: 5\r\n\r\n", 0, HTTP_HEADERS_TOO_LARGE, NULL,
     NULL, 0, 0, {{0}}, 0},
    {"too many for a small array", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", 0,
     HTTP_HEADERS_TOO_LARGE, NULL, NULL, 0, 0, {{0}}, 1},
    BAD("eleven leading empty lines", EMPTY10 "\r\nGET / HTTP/1.1\r\n\r\n"),

    /* Request line. */
    BAD("lone CR before the request", "\rGET / HTTP/1.1\r\n\r\n"),
    BAD("bad method char", "G(T / HTTP/1.1\r\n\r\n"),
    BAD("method with slash", "GET/ / HTTP/1.1\r\n\r\n"),
    BAD("empty method", " / HTTP/1.1\r\n\r\n"),
    BAD("tab after method", "GET\t/ HTTP/1.1\r\n\r\n"),
    BAD("two spaces after method", "GET  / HTTP/1.1\r\n\r\n"),
    BAD("two spaces before version", "GET /  HTTP/1.1\r\n\r\n"),
    BAD("empty target", "GET  HTTP/1.1\r\n\r\n"),
    BAD("missing version", "GET /\r\n\r\n"),
    BAD("missing version after SP", "GET / \r\n\r\n"),
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"),
    BAD("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n"),
    BAD("HTTP/1.1x", "GET / HTTP/1.1x\r\n\r\n"),
    BAD("HTTP/1.1 and a space", "GET / HTTP/1.1 \r\n\r\n"),
    BAD("HTTP/11", "GET / HTTP/11\r\n\r\n"),
    BAD("short version", "GET / HTTP/1\n\n"),
    BAD("lowercase http/1.1", "GET / http/1.1\r\n\r\n"),
    BAD("CR inside the request line", "GET /\r HTTP/1.1\r\n\r\n"),
    BAD("CR CR LF", "GET / HTTP/1.1\r\r\n\r\n"),
    BAD("non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"),
    BAD("control char in target", "GET /a\x01 HTTP/1.1\r\n\r\n"),
    BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\n\r\n"),
    BAD_NUL("NUL in target", "GET /a\0 HTTP/1.1\r\n\r\n"),
    BAD("absolute-form target", "GET http://example.com/ HTTP/1.1\r\n\r\n"),
    BAD("authority-form target", "CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
    BAD("asterisk for GET", "GET * HTTP/1.1\r\n\r\n"),
    BAD("asterisk and more", "OPTIONS *x HTTP/1.1\r\n\r\n"),

    /* Header fields. */
    BAD("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
    BAD("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
    BAD("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
    BAD("obs-fold with tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"),
    BAD("whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
    BAD("no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"),
    BAD("empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n"),
    BAD("bad name char", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"),
    BAD("non-ASCII name", "GET / HTTP/1.1\r\nH\xc3\xa9: a\r\n\r\n"),
    BAD_NUL("NUL in value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"),
    BAD_NUL("NUL in name", "GET / HTTP/1.1\r\nX\0: a\r\n\r\n"),
    BAD("control char in value", "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"),
    BAD("DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"),
    BAD("CR inside value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
    BAD("CR CR LF after value", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n"),
    BAD("CR then LF CR X", "GET / HTTP/1.1\r\nX: a\n\rX\r\n\r\n"),
};
/* clang-format on */

/* Checks fields against the case, or their reset state when the parse gave no head. */
static void expect_request(const req_case_t *c, const char *how, int r, const http_request_t *req) {
    char ctx[256];

    snprintf(ctx, sizeof ctx, "%s (%s)", c->name, how);
    if (r <= 0) {
        cr_assert(req->method == NULL && req->target == NULL && req->minor_version == -1 &&
                      req->num_headers == 0,
                  "%s: outputs not reset after %d", ctx, r);
        return;
    }
    if (c->method == NULL) return; /* generated cases check what they need themselves */
    expect_slice(ctx, "method", req->method, req->method_len, c->method);
    expect_slice(ctx, "target", req->target, req->target_len, c->target);
    cr_assert_eq(req->minor_version, c->minor, "%s: minor %d, want %d", ctx, req->minor_version, c->minor);
    cr_assert_eq(req->num_headers, c->num_headers, "%s: %zu headers, want %zu", ctx, req->num_headers,
                 c->num_headers);
    for (size_t i = 0; i < 4 && i < c->num_headers && c->headers[i][0] != NULL; i++) {
        expect_slice(ctx, "header name", req->headers[i].name, req->headers[i].name_len, c->headers[i][0]);
        expect_slice(ctx, "header value", req->headers[i].value, req->headers[i].value_len, c->headers[i][1]);
    }
}

/* Parses the case whole, then fed one byte at a time as a server would, re-parsing with last_len
 * after each INCOMPLETE and stopping at the first other answer; both must give the expected one. */
static void check_request(const req_case_t *c) {
    size_t len = c->in_len != 0 ? c->in_len : strlen(c->in), cap = c->cap ? c->cap : DEFAULT_CAP;
    int want = c->ret == ALL ? (int)len : c->ret, r;
    http_header_t h[MAX_CAP];
    http_request_t req = {.headers = h, .num_headers = cap};
    size_t last = 0;
    guard_t g;

    guard_map(&g, len);
    r = http_parse_request(guard_place(&g, c->in, len), len, &req, 0);
    cr_assert_eq(r, want, "%s (whole): returned %d, want %d", c->name, r, want);
    expect_request(c, "whole", r, &req);

    r = HTTP_INCOMPLETE;
    for (size_t i = 1; i <= len && r == HTTP_INCOMPLETE; last = i++) {
        req.num_headers = cap;
        r = http_parse_request(guard_place(&g, c->in, i), i, &req, last);
    }
    cr_assert_eq(r, want, "%s (byte by byte): returned %d after %zu bytes, want %d", c->name, r, last, want);
    expect_request(c, "byte by byte", r, &req);
    guard_unmap(&g);
}

ParameterizedTestParameters(http, request) { return case_params(CASES(req_cases)); }

ParameterizedTest(size_t *idx, http, request) { check_request(&req_cases[*idx]); }

/* A request whose request line is line_len bytes (CRLF included) and whose head is head_len bytes
 * (one big header fills the gap; head_len 0: no end of head at all). */
static char *long_request(size_t line_len, size_t head_len) {
    size_t cap = (head_len > line_len ? head_len : line_len) + 1, n = 0;
    char *s = malloc(cap);

    cr_assert_not_null(s);
    n += (size_t)sprintf(s, "GET /");
    memset(s + n, 'a', line_len - 16);
    n += line_len - 16;
    n += (size_t)sprintf(s + n, " HTTP/1.1\r\n");
    cr_assert_eq(n, line_len);
    if (head_len == 0) return s;
    if (head_len > line_len + 2) {
        size_t value = head_len - line_len - 2 - 5; /* "X: " value "\r\n" */
        n += (size_t)sprintf(s + n, "X: ");
        memset(s + n, 'b', value);
        n += value;
        n += (size_t)sprintf(s + n, "\r\n");
    }
    n += (size_t)sprintf(s + n, "\r\n");
    cr_assert_eq(n, head_len);
    return s;
}

static void check_long(const char *name, size_t line_len, size_t head_len, int want) {
    req_case_t c = {.name = name, .ret = want};

    c.in = long_request(line_len, head_len);
    c.in_len = head_len ? head_len : line_len;
    check_request(&c);
    free((char *)c.in);
}

Test(http, request_line_bounds) {
    check_long("8192-byte request line", HTTP_MAX_LINE, HTTP_MAX_LINE + 2, ALL);
    check_long("8193-byte request line", HTTP_MAX_LINE + 1, HTTP_MAX_LINE + 3, HTTP_URI_TOO_LONG);
    check_long("8193-byte request line, unfinished", HTTP_MAX_LINE + 1, 0, HTTP_URI_TOO_LONG);
    check_long("8192-byte request line, unfinished", HTTP_MAX_LINE, 0, HTTP_INCOMPLETE);
}

Test(http, head_bounds) {
    check_long("16384-byte head", 100, HTTP_MAX_HEAD, ALL);
    check_long("16385-byte head", 100, HTTP_MAX_HEAD + 1, HTTP_HEADERS_TOO_LARGE);
    check_long("16384-byte head, long line", HTTP_MAX_LINE, HTTP_MAX_HEAD, ALL);

    /* Unfinished: 16383 bytes may still end well, 16384 without an end cannot. */
    char *s = long_request(100, HTTP_MAX_HEAD + 1);
    req_case_t c = {
        .name = "16383 bytes, unfinished", .in = s, .in_len = HTTP_MAX_HEAD - 1, .ret = HTTP_INCOMPLETE};
    check_request(&c);
    c.name = "16384 bytes, unfinished";
    c.in_len = HTTP_MAX_HEAD;
    c.ret = HTTP_HEADERS_TOO_LARGE;
    check_request(&c);
    free(s);
}

Test(http, zero_capacity) {
    http_request_t req = {.headers = NULL, .num_headers = 0};

    cr_assert_eq(http_parse_request("GET / HTTP/1.1\r\n\r\n", 18, &req, 0), 18);
    req.num_headers = 0;
    cr_assert_eq(http_parse_request("GET / HTTP/1.1\r\nA: b\r\n\r\n", 24, &req, 0), HTTP_HEADERS_TOO_LARGE);
}

Test(http, outputs_reset_on_entry) {
    http_header_t h[4];
    http_request_t req = {.method = "x",
                          .method_len = 1,
                          .target = "y",
                          .target_len = 1,
                          .minor_version = 7,
                          .headers = h,
                          .num_headers = 4};

    cr_assert_eq(http_parse_request("GET / HTTP/1.1\r\n", 16, &req, 0), HTTP_INCOMPLETE);
    cr_assert(req.method == NULL && req.method_len == 0 && req.target == NULL && req.target_len == 0 &&
              req.minor_version == -1 && req.num_headers == 0);
}

Test(http, last_len_beyond_len_is_harmless) {
    const char *s = "GET / HTTP/1.1\r\n\r\n";
    http_request_t req = {0};

    cr_assert_eq(http_parse_request(s, 18, &req, 1000), 18);
}

/* ---- Response heads ------------------------------------------------------------------------------- */

typedef struct res_case {
    const char *name;
    const char *in;
    int ret;
    int status, minor;
    const char *reason;
    size_t num_headers;
    const char *headers[2][2];
} res_case_t;

/* clang-format off */
#define RBAD(n, s) {.name = n, .in = s, .ret = HTTP_BAD}
#define RES_BODY "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"

static const res_case_t res_cases[] = {
    {"200 OK", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", ALL, 200, 1,
     "OK", 2, {{"Content-Length", "5"}, {"Connection", "close"}}},
    {"404 with empty reason", "HTTP/1.0 404 \r\n\r\n", ALL, 404, 0, "", 0, {{0}}},
    {"reason with spaces and obs-text", "HTTP/1.1 503 Busy \t now \xe2\x80\x94\r\n\r\n", ALL, 503, 1,
     "Busy \t now \xe2\x80\x94", 0, {{0}}},
    {"100 and 999 are in range", "HTTP/1.1 999 X\n\n", ALL, 999, 1, "X", 0, {{0}}},
    {"body after the head", RES_BODY "hi", (int)sizeof(RES_BODY) - 1, 200, 1, "OK", 1,
     {{"Content-Length", "2"}}},
    {"unfinished", "HTTP/1.1 200 OK\r\n", HTTP_INCOMPLETE, 0, 0, NULL, 0, {{0}}},
    {"empty", "", HTTP_INCOMPLETE, 0, 0, NULL, 0, {{0}}},
    RBAD("missing SP before empty reason", "HTTP/1.1 404\r\n\r\n"),
    RBAD("status 99", "HTTP/1.1 99 X\r\n\r\n"),
    RBAD("status 099", "HTTP/1.1 099 X\r\n\r\n"),
    RBAD("status 1000", "HTTP/1.1 1000 X\r\n\r\n"),
    RBAD("status with a letter", "HTTP/1.1 2x0 X\r\n\r\n"),
    RBAD("HTTP/2", "HTTP/2 200 OK\r\n\r\n"),
    RBAD("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"),
    RBAD("lowercase version", "http/1.1 200 OK\r\n\r\n"),
    RBAD("two spaces", "HTTP/1.1  200 OK\r\n\r\n"),
    RBAD("version only", "HTTP/1.1\n\n"),
    RBAD("short", "HTTP\n\n"),
    RBAD("control char in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"),
    RBAD("leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n"),
    RBAD("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
    RBAD("space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n"),
};
/* clang-format on */

static void expect_response(const res_case_t *c, const char *how, int r, const http_response_t *res) {
    char ctx[256];

    snprintf(ctx, sizeof ctx, "%s (%s)", c->name, how);
    if (r <= 0) {
        cr_assert(res->status == 0 && res->reason == NULL && res->num_headers == 0,
                  "%s: outputs not reset after %d", ctx, r);
        return;
    }
    cr_assert_eq(res->status, c->status, "%s: status %d, want %d", ctx, res->status, c->status);
    cr_assert_eq(res->minor_version, c->minor, "%s: minor %d, want %d", ctx, res->minor_version, c->minor);
    expect_slice(ctx, "reason", res->reason, res->reason_len, c->reason);
    cr_assert_eq(res->num_headers, c->num_headers, "%s: %zu headers, want %zu", ctx, res->num_headers,
                 c->num_headers);
    for (size_t i = 0; i < 2 && i < c->num_headers; i++) {
        expect_slice(ctx, "header name", res->headers[i].name, res->headers[i].name_len, c->headers[i][0]);
        expect_slice(ctx, "header value", res->headers[i].value, res->headers[i].value_len, c->headers[i][1]);
    }
}

ParameterizedTestParameters(http, response) { return case_params(CASES(res_cases)); }

ParameterizedTest(size_t *idx, http, response) {
    const res_case_t *c = &res_cases[*idx];
    size_t len = strlen(c->in), last = 0;
    int want = c->ret == ALL ? (int)len : c->ret, r;
    http_header_t h[DEFAULT_CAP];
    http_response_t res = {.headers = h, .num_headers = DEFAULT_CAP};
    guard_t g;

    guard_map(&g, len);
    r = http_parse_response(guard_place(&g, c->in, len), len, &res, 0);
    cr_assert_eq(r, want, "%s (whole): returned %d, want %d", c->name, r, want);
    expect_response(c, "whole", r, &res);
    r = HTTP_INCOMPLETE;
    for (size_t i = 1; i <= len && r == HTTP_INCOMPLETE; last = i++) {
        res.num_headers = DEFAULT_CAP;
        r = http_parse_response(guard_place(&g, c->in, i), i, &res, last);
    }
    cr_assert_eq(r, want, "%s (byte by byte): returned %d, want %d", c->name, r, want);
    expect_response(c, "byte by byte", r, &res);
    guard_unmap(&g);
}

Test(http, response_status_line_bound) {
    char *s = malloc(HTTP_MAX_LINE + 1);
    http_response_t res = {0};

    cr_assert_not_null(s);
    memcpy(s, "HTTP/1.1 200 ", 13);
    memset(s + 13, 'x', HTTP_MAX_LINE - 13);
    cr_assert_eq(http_parse_response(s, HTTP_MAX_LINE, &res, 0), HTTP_URI_TOO_LONG);
    cr_assert_eq(http_parse_response(s, HTTP_MAX_LINE - 1, &res, 0), HTTP_INCOMPLETE);
    free(s);
}

/* ---- Helpers over header arrays ------------------------------------------------------------------- */

typedef struct hdr_case {
    const char *name;
    int minor;
    const char *h[4][2]; /* up to four headers, name and value; a NULL name ends them */
    int want;
    uint64_t want_len;
} hdr_case_t;

static size_t make_headers(const hdr_case_t *c, http_header_t *h) {
    size_t n = 0;

    for (; n < 4 && c->h[n][0] != NULL; n++)
        h[n] = (http_header_t){c->h[n][0], strlen(c->h[n][0]), c->h[n][1], strlen(c->h[n][1])};
    return n;
}

/* clang-format off */
static const hdr_case_t keep_alive_cases[] = {
    {"1.1 default", 1, {{0}}, 1, 0},
    {"1.0 default", 0, {{0}}, 0, 0},
    {"1.1 close", 1, {{"Connection", "close"}}, 0, 0},
    {"1.1 CLOSE, header upper case", 1, {{"CONNECTION", "CLOSE"}}, 0, 0},
    {"1.0 keep-alive", 0, {{"Connection", "keep-alive"}}, 1, 0},
    {"1.0 Keep-Alive", 0, {{"connection", "Keep-Alive"}}, 1, 0},
    {"1.1 keep-alive, close", 1, {{"Connection", "keep-alive, close"}}, 0, 0},
    {"1.0 keep-alive then close header", 0, {{"Connection", "keep-alive"}, {"Connection", "close"}},
     0, 0},
    {"1.1 list with close last", 1, {{"Connection", "upgrade ,\t close"}}, 0, 0},
    {"1.0 empty elements", 0, {{"Connection", ",, keep-alive ,,"}}, 1, 0},
    {"1.1 closed is not close", 1, {{"Connection", "closed"}}, 1, 0},
    {"1.1 xclose is not close", 1, {{"Connection", "xclose, close-ish"}}, 1, 0},
    {"1.0 keep-alives is not keep-alive", 0, {{"Connection", "keep-alives"}}, 0, 0},
    {"1.1 Connections is another header", 1, {{"Connections", "close"}}, 1, 0},
    {"1.0 Proxy-Connection does not count", 0, {{"Proxy-Connection", "keep-alive"}}, 0, 0},
    {"1.1 empty value", 1, {{"Connection", ""}}, 1, 0},
};
/* clang-format on */

ParameterizedTestParameters(http, keep_alive) { return case_params(CASES(keep_alive_cases)); }

ParameterizedTest(size_t *idx, http, keep_alive) {
    const hdr_case_t *c = &keep_alive_cases[*idx];
    http_header_t h[4];
    size_t n = make_headers(c, h);
    int r = http_keep_alive(c->minor, h, n);

    cr_assert_eq(r, c->want, "%s: got %d, want %d", c->name, r, c->want);
}

/* clang-format off */
static const hdr_case_t body_length_cases[] = {
    {"absent", 1, {{"Host", "a"}}, 1, 0},
    {"zero", 1, {{"Content-Length", "0"}}, 0, 0},
    {"123", 1, {{"Content-Length", "123"}}, 0, 123},
    {"name case", 1, {{"content-LENGTH", "7"}}, 0, 7},
    {"leading zeros", 1, {{"Content-Length", "007"}}, 0, 7},
    {"UINT64_MAX", 1, {{"Content-Length", "18446744073709551615"}}, 0, UINT64_MAX},
    {"2^64 overflows", 1, {{"Content-Length", "18446744073709551616"}}, -1, 0},
    {"far overflow", 1, {{"Content-Length", "99999999999999999999999"}}, -1, 0},
    {"12a", 1, {{"Content-Length", "12a"}}, -1, 0},
    {"+1", 1, {{"Content-Length", "+1"}}, -1, 0},
    {"-1", 1, {{"Content-Length", "-1"}}, -1, 0},
    {"0x10", 1, {{"Content-Length", "0x10"}}, -1, 0},
    {"1 2", 1, {{"Content-Length", "1 2"}}, -1, 0},
    {"empty", 1, {{"Content-Length", ""}}, -1, 0},
    {"duplicate equal", 1, {{"Content-Length", "5"}, {"Content-Length", "5"}}, 0, 5},
    {"duplicate differing", 1, {{"Content-Length", "5"}, {"Content-Length", "6"}}, -1, 0},
    {"duplicate, second bad", 1, {{"Content-Length", "5"}, {"Content-Length", "5x"}}, -1, 0},
    {"list equal", 1, {{"Content-Length", "5, 5,5"}}, 0, 5},
    {"list differing", 1, {{"Content-Length", "5, 6"}}, -1, 0},
    {"list trailing comma", 1, {{"Content-Length", "5,"}}, -1, 0},
    {"list leading comma", 1, {{"Content-Length", ",5"}}, -1, 0},
    {"Transfer-Encoding", 1, {{"Transfer-Encoding", "chunked"}}, -1, 0},
    {"Transfer-Encoding and Content-Length", 1,
     {{"Content-Length", "3"}, {"transfer-encoding", "identity"}}, -1, 0},
};
/* clang-format on */

ParameterizedTestParameters(http, body_length) { return case_params(CASES(body_length_cases)); }

ParameterizedTest(size_t *idx, http, body_length) {
    const hdr_case_t *c = &body_length_cases[*idx];
    http_header_t h[4];
    size_t n = make_headers(c, h);
    uint64_t len = 42;
    int r = http_body_length(h, n, &len);

    cr_assert_eq(r, c->want, "%s: returned %d, want %d", c->name, r, c->want);
    cr_assert_eq(len, c->want_len, "%s: length %llu, want %llu", c->name, (unsigned long long)len,
                 (unsigned long long)c->want_len);
}

Test(http, find_header) {
    http_header_t h[] = {{"Host", 4, "a", 1}, {"Content-Length", 14, "5", 1}, {"host", 4, "b", 1}};

    cr_assert_eq(http_find_header(h, 3, "host"), &h[0]);
    cr_assert_eq(http_find_header(h, 3, "CONTENT-length"), &h[1]);
    cr_assert_null(http_find_header(h, 3, "Content-Len"));
    cr_assert_null(http_find_header(h, 3, "Hosts"));
    cr_assert_null(http_find_header(h, 0, "Host"));
}

/* ---- Query strings and percent-decoding ---------------------------------------------------------- */

typedef struct query_case {
    const char *target, *name;
    int found;
    const char *value;
} query_case_t;

/* clang-format off */
static const query_case_t query_cases[] = {
    {"/a?x=1&y=2", "x", 1, "1"},
    {"/a?x=1&y=2", "y", 1, "2"},
    {"/a?x=1&y=2", "z", 0, NULL},
    {"/a?xx=1", "x", 0, NULL},
    {"/a?x=1", "xx", 0, NULL},
    {"/a?x", "x", 1, ""},
    {"/a?x=", "x", 1, ""},
    {"/a?x&y=2", "x", 1, ""},
    {"/a?x=1&x=2", "x", 1, "1"},
    {"/a?x=1=2", "x", 1, "1=2"},
    {"/a?&&x=3&", "x", 1, "3"},
    {"/a?y=1#x=2", "x", 0, NULL},
    {"/a?x=1#frag", "x", 1, "1"},
    {"/a#?x=1", "x", 0, NULL},
    {"/a", "x", 0, NULL},
    {"/a?", "x", 0, NULL},
    {"/p/x=1?y", "x", 0, NULL},
    {"/a?a%20b=1", "a b", 0, NULL},
    {"/a?a%20b=1", "a%20b", 1, "1"},
    {"/a?q=a+b%2Fc", "q", 1, "a+b%2Fc"},
    {"/a?=v", "", 1, "v"},
    {"", "x", 0, NULL},
};
/* clang-format on */

Test(http, query_param) {
    for (size_t i = 0; i < CASES(query_cases); i++) {
        const query_case_t *c = &query_cases[i];
        size_t len = strlen(c->target), vlen = 99;
        const char *v = "junk";
        guard_t g;
        char ctx[128];

        guard_map(&g, len);
        int r = http_query_param(guard_place(&g, c->target, len), len, c->name, &v, &vlen);
        snprintf(ctx, sizeof ctx, "query \"%s\" name \"%s\"", c->target, c->name);
        cr_assert_eq(r, c->found, "%s: returned %d, want %d", ctx, r, c->found);
        if (r)
            expect_slice(ctx, "value", v, vlen, c->value);
        else
            cr_assert(v == NULL && vlen == 0, "%s: outputs not reset", ctx);
        guard_unmap(&g);
    }
}

typedef struct decode_case {
    const char *src;
    size_t src_len; /* 0: strlen(src) */
    size_t cap;
    long ret;
    const char *out;
} decode_case_t;

/* clang-format off */
static const decode_case_t decode_cases[] = {
    {"abc", 0, 16, 3, "abc"},
    {"%2F", 0, 16, 1, "/"},
    {"a%2fb", 0, 16, 3, "a/b"},
    {"%41%42", 0, 16, 2, "AB"},
    {"%e2%82%AC", 0, 16, 3, "\xe2\x82\xac"},
    {"a+b", 0, 16, 3, "a+b"},
    {"", 0, 1, 0, ""},
    {"%zz", 0, 16, -1, ""},
    {"%g0", 0, 16, -1, ""},
    {"%0g", 0, 16, -1, ""},
    {"%4", 0, 16, -1, ""},
    {"a%4", 0, 16, -1, ""},
    {"%", 0, 16, -1, ""},
    {"100%", 0, 16, -1, ""},
    {"%%41", 0, 16, -1, ""},
    {"%00", 0, 16, -1, ""},
    {"a\0b", 3, 16, -1, ""},
    {"abc", 0, 4, 3, "abc"},
    {"abc", 0, 3, -1, ""},
    {"%2F", 0, 2, 1, "/"},
    {"%2F", 0, 1, -1, ""},
    {"abc", 0, 0, -1, NULL},
};
/* clang-format on */

Test(http, percent_decode) {
    for (size_t i = 0; i < CASES(decode_cases); i++) {
        const decode_case_t *c = &decode_cases[i];
        size_t len = c->src_len ? c->src_len : strlen(c->src);
        guard_t in, out;

        /* Both the source and the destination end at a guard page. */
        guard_map(&in, len);
        guard_map(&out, c->cap);
        char *dst = out.base + out.data - c->cap;
        long r = http_percent_decode(guard_place(&in, c->src, len), len, dst, c->cap);
        cr_assert_eq(r, c->ret, "decode \"%s\" into %zu: returned %ld, want %ld", c->src, c->cap, r, c->ret);
        if (c->out != NULL)
            cr_assert_str_eq(dst, c->out, "decode \"%s\": got \"%s\", want \"%s\"", c->src, dst, c->out);
        guard_unmap(&in);
        guard_unmap(&out);
    }
}

Test(http, reason) {
    cr_assert_str_eq(http_reason(200), "OK");
    cr_assert_str_eq(http_reason(404), "Not Found");
    cr_assert_str_eq(http_reason(414), "URI Too Long");
    cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
    cr_assert_str_eq(http_reason(999), "Unknown");
    cr_assert_str_eq(http_reason(-1), "Unknown");
}

Test(http, retry_after_in_seconds_and_as_a_date) {
    time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    static const struct {
        const char *in;
        uint64_t us;
    } cases[] = {
        {"0", 0},
        {"3", 3000000},
        {"120", 120000000},
        {"Tue, 14 Nov 2023 22:13:27 GMT", 7000000},  /* 7 s from now */
        {"Tue, 14 Nov 2023 22:13:20 GMT", 0},        /* now */
        {"Wed, 21 Oct 2015 07:28:00 GMT", 0},        /* the past */
        {"-1", 0}, {"1.5", 0}, {"", 0}, {"9999999999", 0}, /* not delta-seconds */
        {"999999999", 86400000000ull}, {"Fri, 31 Dec 9999 23:59:59 GMT", 86400000000ull}, /* capped: a day */
        {"Tue, 14 Nov 2023 22:13:27 UTC", 0},        /* not an IMF-fixdate */
        {"Tuesday, 14-Nov-23 22:13:27 GMT", 0},      /* RFC 850: obsolete, not read */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = http_retry_after_us(cases[i].in, strlen(cases[i].in), now);
        cr_assert_eq(got, cases[i].us, "'%s': %llu us, want %llu", cases[i].in, (unsigned long long)got,
                     (unsigned long long)cases[i].us);
    }
}

Test(http, server_timing_duration) {
    static const struct {
        const char *in;
        int rc;
        uint64_t us;
    } cases[] = {
        {"delay;dur=12.345", 0, 12345}, {"delay;dur=50", 0, 50000},     {"db;dur=0.5, app;dur=2", 0, 500},
        {"delay;dur=1.23456", 0, 1234}, {"delay", -1, 0},                {"delay;dur=", -1, 0},
        {"delay;dur=x", -1, 0},         {"", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t us = 0;
        int rc = http_server_timing_us(cases[i].in, strlen(cases[i].in), &us);
        cr_assert_eq(rc, cases[i].rc, "'%s'", cases[i].in);
        if (rc == 0) cr_assert_eq(us, cases[i].us, "'%s': %llu us", cases[i].in, (unsigned long long)us);
    }
}

Test(http, ratelimit_policy_interval) {
    uint64_t us = 0;
    cr_assert_eq(http_ratelimit_interval_us("200;w=1", 7, &us), 0);
    cr_assert_eq(us, 5000);
    cr_assert_eq(http_ratelimit_interval_us("25;w=10", 7, &us), 0);
    cr_assert_eq(us, 400000);
    static const char *bad[] = {"", "200", "200;w=", "0;w=1", "200;w=0", "200;x=1", "200;w=1;burst=5", "-1;w=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(http_ratelimit_interval_us(bad[i], strlen(bad[i]), &us), -1, "'%s'", bad[i]);
    cr_assert_eq(http_count_us("1500", 4, &us), 0);
    cr_assert_eq(us, 1500);
    cr_assert_eq(http_count_us("15x", 3, &us), -1);
}
