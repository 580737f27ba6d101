/* A growable byte buffer: the one way this project builds responses, request bodies and reports.
 * Fields are public and read-only for callers; grow only through these functions. Appends return 0,
 * or -1 when memory ran out (the buffer is then unchanged). */
#ifndef CRAWLBENCH_BUF_H
#define CRAWLBENCH_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

int buf_reserve(buf_t *b, size_t extra); /* room for extra more bytes (plus a NUL) */
int buf_append(buf_t *b, const void *p, size_t n);
int buf_puts(buf_t *b, const char *s);
int buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf_t *b, const char *fmt, va_list ap);
int buf_put_u64(buf_t *b, unsigned long long v); /* decimal, without printf's cost */
/* Appends s as a JSON string literal, quotes included, escaping what JSON requires. */
int buf_json_string(buf_t *b, const char *s, size_t n);
void buf_consume(buf_t *b, size_t n); /* drops the first n bytes */
void buf_clear(buf_t *b);             /* len = 0, memory kept */
void buf_free(buf_t *b);

/* Appends without a capacity check: the caller reserved the room. Hot paths only. */
static inline void buf_append_unchecked(buf_t *b, const void *p, size_t n) {
    __builtin_memcpy(b->data + b->len, p, n);
    b->len += n;
}

#endif
