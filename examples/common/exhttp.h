/* The examples' HTTP helper: one blocking GET through libcurl, and the link scanner for the demo
 * server's pages ({"page_id":"ID","links":["/api/ID2",...]}). Failures die() (see ex.h): the
 * examples talk to the demo server on 127.0.0.1, where a failure is a bug worth stopping for. */
#ifndef EXHTTP_H
#define EXHTTP_H

#include <stddef.h>

#define EX_ID_MAX 64 /* longest page id the examples accept, terminator included */

typedef struct ex_http ex_http_t; /* one libcurl handle and its body buffer; one thread at a time */

void ex_http_init(void); /* once, before any thread starts (curl_global_init is not thread-safe) */
ex_http_t *ex_http_new(void);
void ex_http_free(ex_http_t *h);

/* GETs base + path (base "http://127.0.0.1:PORT/", path "api/ID" or "/api/ID"); returns the body,
 * valid until the next call on h. An HTTP status other than 200 or a transport error dies. */
const char *ex_http_get(ex_http_t *h, const char *base, const char *path);

/* The same, but any HTTP status is returned in *status instead of dying (a transport error still
 * dies): for the crawlers that meet the server's injected faults. */
const char *ex_http_get_status(ex_http_t *h, const char *base, const char *path, long *status);

/* Scans body for "/api/ID" links and copies up to max ids into ids; returns how many there were
 * (which may exceed max). The page's own "page_id" is not a link and is not counted. */
int ex_links(const char *body, char (*ids)[EX_ID_MAX], int max);

/* The first page id of a JSON answer's "page_id" (or the k-th of "page_ids"), into id. */
void ex_page_id(const char *body, int k, char id[EX_ID_MAX]);

#endif
