/* HTTP/1.x head parsing for the server (requests) and the crawlers (responses), plus the helpers both
 * need around a parsed head: Connection, Content-Length, query strings, percent-decoding, reasons.
 *
 * How a parse works. A head is parsed in two phases. Phase one, scan_head(), finds where the head
 * ends (just past its empty line) without interpreting anything, and enforces the bounds: it looks
 * only at the bytes the previous call had not seen (from last_len - 3, since the end marker "\n\r\n"
 * is three bytes long), so a head that trickles in one byte per read() costs linear time, not
 * quadratic. Until the end is there, the answer is HTTP_INCOMPLETE, whatever garbage the head holds;
 * only the two bounds stop a client that never finishes. Phase two parses the complete head in one
 * pass. Because every line of it is known to end in LF and LF is in none of the character classes
 * below, each inner loop stops at the line's end at the latest: no loop needs a bounds check.
 *
 * The answer depends only on the bytes, never on how they arrived: for an honest last_len, the result
 * is the one a whole-buffer parse gives, and once a prefix gets a final answer (success or error),
 * every longer buffer gets the same one. tests/fuzz/fuzz_http.c checks both properties.
 *
 * Strictness (RFC 9112), every violation is HTTP_BAD:
 *  - line endings are CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept LF); a CR anywhere
 *    else is malformed, as is a line that starts with SP or HTAB (obsolete line folding, §5.2);
 *  - request line: method token, one SP, origin-form target ("/..." of visible ASCII 0x21-0x7e, or
 *    "*" for OPTIONS only), one SP, exactly "HTTP/1.0" or "HTTP/1.1". We serve only our own graph and
 *    are no proxy, so we reject absolute-form ("http://h/p"), though §3.2.2 asks servers to accept it,
 *    and authority-form (CONNECT). Other versions, HTTP/2.0 included, are malformed rather than 505;
 *  - status line: "HTTP/1.x", SP, three digits 100..999, SP, a reason of field bytes (maybe empty);
 *    the SP before an empty reason is required, as §4 writes it;
 *  - header name: a token directly followed by ':' (whitespace before the colon is a smuggling
 *    vector, §5.1); value: HTAB, SP, visible ASCII or obs-text, leading and trailing OWS trimmed;
 *  - up to MAX_EMPTY_LINES empty lines may precede a request line (§2.2); they count as consumed
 *    bytes and towards HTTP_MAX_HEAD. A response may not start with one.
 * A status line longer than HTTP_MAX_LINE is reported as HTTP_URI_TOO_LONG, like a request line. */
#include "http/http.h"

#include <string.h>

/* RFC 9112 asks us to ignore at least one empty line before a request; Apache httpd allows ten. The
 * cap keeps the rescan of that prefix on each call cheap, and keeps it well inside HTTP_MAX_HEAD. */
#define MAX_EMPTY_LINES 10

/* Character classes, one lookup per byte on the hot path. LF is in none of them (see above). */
enum {
    C_TCHAR = 1, /* token (RFC 9110 §5.6.2): method, header name */
    C_VCHAR = 2, /* visible ASCII 0x21-0x7e: request-target */
    C_FIELD = 4, /* HTAB, SP, visible ASCII, obs-text 0x80-0xff: header value, reason phrase */
};

static const unsigned char char_class[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
    /* 0x30 */ 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,
    /* 0x40 */ 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    /* 0x50 */ 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
    /* 0x60 */ 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    /* 0x70 */ 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
    /* 0x80 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x90 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xa0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xb0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xc0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xd0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xe0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0xf0 */ 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

#define IS(c, cls) (char_class[(unsigned char)(c)] & (cls))
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')

/* Skips the empty lines a request may start with; *start gets the offset of the first other byte. */
static int skip_empty_lines(const char *buf, size_t len, size_t *start) {
    size_t i = 0;

    for (int n = 0;; n++) {
        if (i < len && buf[i] == '\n') {
            i++;
        } else if (i < len && buf[i] == '\r') {
            if (i + 1 == len) return HTTP_INCOMPLETE;
            if (buf[i + 1] != '\n') return HTTP_BAD;
            i += 2;
        } else {
            break;
        }
        if (n == MAX_EMPTY_LINES) return HTTP_BAD;
    }
    *start = i;
    return 0;
}

/* Phase one: the length of the head (up to and including its empty line), HTTP_INCOMPLETE, or a bound
 * error. Looks only at bytes from last_len - 3 on, except for the short empty-line prefix. The checks
 * run in a fixed order, each decided by a fixed prefix of buf, which is what makes the answer
 * independent of how the bytes arrived. */
static int scan_head(const char *buf, size_t len, size_t last_len, int is_request, size_t *start) {
    const char *p, *end, *lf;
    size_t lim, from;

    *start = 0;
    if (is_request) {
        int r = skip_empty_lines(buf, len, start);
        if (r != 0) return r;
    }
    if (*start == len) return HTTP_INCOMPLETE;
    if (last_len > len) last_len = len;

    /* The first line is too long once HTTP_MAX_LINE bytes follow its start without an LF. A previous
     * call that had already seen that many bytes and answered INCOMPLETE has seen the LF too. */
    if (len - *start >= HTTP_MAX_LINE && last_len < *start + HTTP_MAX_LINE &&
        memchr(buf + *start, '\n', HTTP_MAX_LINE) == NULL)
        return HTTP_URI_TOO_LONG;

    /* The end marker is an LF followed by an empty line: "\n\n" or "\n\r\n". */
    lim = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    from = last_len > *start + 3 ? last_len - 3 : *start;
    end = buf + lim;
    for (p = buf + from; p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL; p = lf + 1) {
        if (end - lf < 2) break;
        if (lf[1] == '\n') return (int)(lf + 2 - buf);
        if (lf[1] == '\r') {
            if (end - lf < 3) break;
            if (lf[2] == '\n') return (int)(lf + 3 - buf);
        }
    }
    return len >= HTTP_MAX_HEAD ? HTTP_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
}

/* Consumes a CRLF or LF line ending at *p. Returns 0, or HTTP_BAD for anything else there. */
static int eat_eol(const char **p) {
    const char *q = *p;

    if (*q == '\r') q++;
    if (*q != '\n') return HTTP_BAD;
    *p = q + 1;
    return 0;
}

/* Matches "HTTP/1.0" or "HTTP/1.1" at p, with at least 8 bytes before end. The minor version, or -1. */
static int parse_version(const char *p, const char *end) {
    if (end - p < 8 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    if (p[7] != '0' && p[7] != '1') return -1;
    return p[7] - '0';
}

/* Phase two, the header fields: from p, the start of the second line, through the empty line at
 * end. Fills h[0..cap) and *num. */
static int parse_headers(const char *p, const char *end, http_header_t *h, size_t cap, size_t *num) {
    size_t n = 0;

    for (;;) {
        const char *name = p, *value, *value_end;

        if (*p == '\r' || *p == '\n') break; /* the empty line */
        while (IS(*p, C_TCHAR))
            p++;
        /* An empty name also catches obs-fold and whitespace before the colon, both HTTP_BAD. */
        if (p == name || *p != ':') return HTTP_BAD;
        if (n == cap) return HTTP_HEADERS_TOO_LARGE;
        h[n].name = name;
        h[n].name_len = (size_t)(p - name);
        p++;
        while (IS_OWS(*p))
            p++;
        value = p;
        while (IS(*p, C_FIELD))
            p++;
        value_end = p;
        if (eat_eol(&p) != 0) return HTTP_BAD; /* a control byte, NUL, or a lone CR */
        while (value_end > value && IS_OWS(value_end[-1]))
            value_end--;
        h[n].value = value;
        h[n].value_len = (size_t)(value_end - value);
        n++;
    }
    /* A line starting with a lone CR lands here too. p == end always, but a check costs nothing. */
    if (eat_eol(&p) != 0 || p != end) return HTTP_BAD;
    *num = n;
    return 0;
}

int http_parse_request(const char *buf, size_t len, http_request_t *req, size_t last_len) {
    size_t cap = req->num_headers, start, method_len;
    const char *p, *end, *method, *target, *target_end;
    int head, minor, r;

    req->method = req->target = NULL;
    req->method_len = req->target_len = 0;
    req->minor_version = -1;
    req->num_headers = 0;

    head = scan_head(buf, len, last_len, 1, &start);
    if (head < 0) return head;
    p = buf + start;
    end = buf + head;

    method = p;
    while (IS(*p, C_TCHAR))
        p++;
    method_len = (size_t)(p - method);
    if (method_len == 0 || *p != ' ') return HTTP_BAD;
    target = ++p;
    while (IS(*p, C_VCHAR))
        p++;
    target_end = p;
    if (*p != ' ') return HTTP_BAD;
    /* Origin-form, or asterisk-form for OPTIONS; this also rules out an empty target. */
    if (*target != '/' &&
        !(target_end - target == 1 && *target == '*' && method_len == 7 && memcmp(method, "OPTIONS", 7) == 0))
        return HTTP_BAD;
    minor = parse_version(++p, end);
    if (minor < 0) return HTTP_BAD;
    p += 8;
    if (eat_eol(&p) != 0) return HTTP_BAD;
    /* Already enforced by scan_head() for an honest last_len; a caller's wrong one is caught here. */
    if (p - (buf + start) > HTTP_MAX_LINE) return HTTP_URI_TOO_LONG;

    r = parse_headers(p, end, req->headers, cap, &req->num_headers);
    if (r != 0) return r;
    req->method = method;
    req->method_len = method_len;
    req->target = target;
    req->target_len = (size_t)(target_end - target);
    req->minor_version = minor;
    return head;
}

int http_parse_response(const char *buf, size_t len, http_response_t *res, size_t last_len) {
    size_t cap = res->num_headers, start;
    const char *p, *end, *reason, *reason_end;
    int head, minor, status, r;

    res->status = 0;
    res->minor_version = -1;
    res->reason = NULL;
    res->reason_len = 0;
    res->num_headers = 0;

    head = scan_head(buf, len, last_len, 0, &start);
    if (head < 0) return head;
    p = buf;
    end = buf + head;

    /* "HTTP/1.1 200 " is 13 bytes; the version check makes sure the first 8 exist, the && chain
     * stops at the line's LF at the latest. */
    minor = parse_version(p, end);
    if (minor < 0 || p[8] != ' ') return HTTP_BAD;
    p += 9;
    if (!(p[0] >= '1' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
          p[3] == ' '))
        return HTTP_BAD;
    status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    p += 4;
    reason = p;
    while (IS(*p, C_FIELD))
        p++;
    reason_end = p;
    if (eat_eol(&p) != 0) return HTTP_BAD;
    if (p - buf > HTTP_MAX_LINE) return HTTP_URI_TOO_LONG;

    r = parse_headers(p, end, res->headers, cap, &res->num_headers);
    if (r != 0) return r;
    res->status = status;
    res->minor_version = minor;
    res->reason = reason;
    res->reason_len = (size_t)(reason_end - reason);
    return head;
}

/* ASCII-only case folding: header names are ASCII tokens, and the locale must not matter. */
static inline unsigned char lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Whether s[0..len) equals the lowercase string lc[0..len), ignoring case. */
static int eq_nocase(const char *s, const char *lc, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lc[i]) return 0;
    return 1;
}

/* Same as eq_nocase() for a name whose length must match too. */
static int is_name(const http_header_t *h, const char *lc, size_t len) {
    return h->name_len == len && eq_nocase(h->name, lc, len);
}

const http_header_t *http_find_header(const http_header_t *h, size_t n, const char *name) {
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len != len) continue;
        size_t j = 0;
        while (j < len && lower((unsigned char)h[i].name[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == len) return &h[i];
    }
    return NULL;
}

/* Calls fn on each element of a comma-separated list value, OWS trimmed, empty ones included (a
 * value "" is one empty element). Stops early when fn returns nonzero, and returns that. */
static int each_element(const http_header_t *h, int (*fn)(const char *, size_t, void *), void *arg) {
    const char *v = h->value, *end = v + h->value_len;

    for (;;) {
        const char *comma = v < end ? memchr(v, ',', (size_t)(end - v)) : NULL, *e;
        if (comma == NULL) comma = end;
        e = comma;
        while (v < e && IS_OWS(*v))
            v++;
        while (e > v && IS_OWS(e[-1]))
            e--;
        int r = fn(v, (size_t)(e - v), arg);
        if (r != 0 || comma == end) return r;
        v = comma + 1;
    }
}

enum { CONN_CLOSE = 1, CONN_KEEP_ALIVE = 2 };

/* One Connection option; empty elements, which RFC 9110 §5.6.1 says to ignore, match nothing. */
static int connection_option(const char *s, size_t len, void *arg) {
    int *seen = arg;

    if (len == 5 && eq_nocase(s, "close", 5)) *seen |= CONN_CLOSE;
    if (len == 10 && eq_nocase(s, "keep-alive", 10)) *seen |= CONN_KEEP_ALIVE;
    return 0;
}

int http_keep_alive(int minor_version, const http_header_t *h, size_t n) {
    int seen = 0;

    /* The header may repeat; its options add up, and "close" wins over anything else. */
    for (size_t i = 0; i < n; i++)
        if (is_name(&h[i], "connection", 10)) each_element(&h[i], connection_option, &seen);
    if (seen & CONN_CLOSE) return 0;
    return minor_version >= 1 || (seen & CONN_KEEP_ALIVE) != 0;
}

typedef struct length_state {
    unsigned count; /* elements seen so far, over all Content-Length headers */
    uint64_t value;
} length_state_t;

/* One Content-Length element: 1*DIGIT, no sign, no overflow, equal to every earlier one. Unlike a
 * Connection list, an empty element is an error here: "12," is not a length. */
static int length_element(const char *s, size_t len, void *arg) {
    length_state_t *st = arg;
    uint64_t v = 0;

    if (len == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (st->count > 0 && v != st->value) return -1;
    st->count++;
    st->value = v;
    return 0;
}

int http_body_length(const http_header_t *h, size_t n, uint64_t *out) {
    length_state_t st = {0, 0};

    *out = 0;
    for (size_t i = 0; i < n; i++) {
        /* Both headers together are the classic smuggling setup; we take no chunked bodies at all. */
        if (is_name(&h[i], "transfer-encoding", 17)) return -1;
        if (is_name(&h[i], "content-length", 14) && each_element(&h[i], length_element, &st) != 0) return -1;
    }
    if (st.count == 0) return 1;
    *out = st.value;
    return 0;
}

int http_query_param(const char *target, size_t len, const char *name, const char **val, size_t *val_len) {
    size_t name_len = strlen(name);
    const char *end, *p, *hash;

    *val = NULL;
    *val_len = 0;
    if (len == 0) return 0; /* memchr() must not see a NULL target */
    hash = memchr(target, '#', len);
    end = hash != NULL ? hash : target + len;
    p = memchr(target, '?', (size_t)(end - target));
    if (p == NULL) return 0;

    for (p++;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *eq, *key_end;
        if (amp == NULL) amp = end;
        eq = memchr(p, '=', (size_t)(amp - p));
        key_end = eq != NULL ? eq : amp;
        if ((size_t)(key_end - p) == name_len && memcmp(p, name, name_len) == 0) {
            *val = eq != NULL ? eq + 1 : amp; /* "?flag" has the empty value */
            *val_len = (size_t)(amp - *val);
            return 1;
        }
        if (amp == end) return 0;
        p = amp + 1;
    }
}

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Besides an encoded NUL, a raw one is refused too: either would cut the C string short, and a path
 * that means one thing to memcmp() and another to strcmp() is how traversal checks get bypassed. */
long http_percent_decode(const char *src, size_t len, char *dst, size_t dst_cap) {
    size_t o = 0;

    if (dst_cap == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3) goto fail;
            hi = hex_digit((unsigned char)src[i + 1]);
            lo = hex_digit((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) goto fail;
            c = hi << 4 | lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= dst_cap) goto fail;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return (long)o;
fail:
    dst[0] = '\0';
    return -1;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

uint64_t http_retry_after_us(const char *v, size_t len, time_t now) {
    char buf[40];
    uint64_t s = 0;
    size_t i = 0;
    for (; i < len && i < 10 && v[i] >= '0' && v[i] <= '9'; i++) s = s * 10 + (uint64_t)(v[i] - '0');
    if (i == len && len > 0 && len <= 9) return (s < HTTP_RETRY_AFTER_MAX_S ? s : HTTP_RETRY_AFTER_MAX_S) * 1000000u;
    if (len != 29 || len >= sizeof(buf)) return 0; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    memcpy(buf, v, len);
    buf[len] = '\0';
    struct tm tm = {0};
    const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end) return 0;
    time_t at = timegm(&tm);
    if (at <= now) return 0;
    return ((uint64_t)(at - now) < HTTP_RETRY_AFTER_MAX_S ? (uint64_t)(at - now) : HTTP_RETRY_AFTER_MAX_S) * 1000000u;
}

int http_server_timing_us(const char *v, size_t len, uint64_t *us) {
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(v + i, "dur=", 4) != 0) continue;
        uint64_t whole = 0, frac = 0, scale = 1000; /* ms to us: three decimals count */
        size_t j = i + 4, digits = 0;
        for (; j < len && v[j] >= '0' && v[j] <= '9' && digits < 12; j++, digits++) whole = whole * 10 + (uint64_t)(v[j] - '0');
        if (!digits) return -1;
        if (j < len && v[j] == '.')
            for (j++; j < len && v[j] >= '0' && v[j] <= '9'; j++)
                if (scale > 1) scale /= 10, frac += (uint64_t)(v[j] - '0') * scale;
        *us = whole * 1000 + frac;
        return 0;
    }
    return -1;
}

int http_count_us(const char *v, size_t len, uint64_t *us) {
    uint64_t n = 0;
    if (len == 0 || len > 11) return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n > (uint64_t)HTTP_RETRY_AFTER_MAX_S * 1000000u) return -1;
    *us = n;
    return 0;
}

/* A whole number at v[*i], at most 10 digits; -1 when there is none. */
static int64_t whole_at(const char *v, size_t len, size_t *i) {
    int64_t n = 0;
    size_t start = *i;
    for (; *i < len && *i - start < 10 && v[*i] >= '0' && v[*i] <= '9'; (*i)++) n = n * 10 + (v[*i] - '0');
    return *i > start ? n : -1;
}

int http_ratelimit_interval_us(const char *v, size_t len, uint64_t *us) {
    size_t i = 0;
    int64_t q = whole_at(v, len, &i), w;
    if (q < 1 || len - i < 3 || memcmp(v + i, ";w=", 3) != 0) return -1;
    i += 3;
    if ((w = whole_at(v, len, &i)) < 1 || i != len) return -1;
    *us = (uint64_t)w * 1000000u / (uint64_t)q;
    return 0;
}
