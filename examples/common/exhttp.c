/* The examples' blocking GET (libcurl easy interface) and link scanner (see exhttp.h). A scanner,
 * not a JSON parser: the demo server's pages are machine-written and small, and the lesson of every
 * example lies elsewhere. The real crawler parses with cJSON (src/crawl/page.c). */
#include "exhttp.h"

#include "ex.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct ex_http {
    CURL *easy;
    char *body;
    size_t len, cap;
};

void ex_http_init(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init failed");
}

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
    ex_http_t *h = arg;
    size_t add = size * n;
    if (h->len + add + 1 > h->cap) {
        h->cap = (h->len + add + 1) * 2;
        h->body = realloc(h->body, h->cap);
        if (!h->body) die("out of memory");
    }
    memcpy(h->body + h->len, p, add);
    h->len += add;
    h->body[h->len] = '\0';
    return add;
}

ex_http_t *ex_http_new(void) {
    ex_http_t *h = Malloc(sizeof *h);
    h->easy = curl_easy_init();
    if (!h->easy) die("curl_easy_init failed");
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for timeouts in threads */
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h->easy, CURLOPT_PROXY, ""); /* 127.0.0.1 only, whatever the environment */
    return h;
}

void ex_http_free(ex_http_t *h) {
    if (!h) return;
    curl_easy_cleanup(h->easy);
    free(h->body);
    free(h);
}

const char *ex_http_get_status(ex_http_t *h, const char *base, const char *path, long *status) {
    char url[512];
    size_t bl = strlen(base);
    while (*path == '/')
        path++;
    snprintf(url, sizeof url, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", path);
    h->len = 0;
    on_body("", 0, 0, h); /* an empty, terminated body even when the answer has none */
    curl_easy_setopt(h->easy, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(h->easy);
    if (rc != CURLE_OK) die("GET %s: %s", url, curl_easy_strerror(rc));
    *status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, status);
    return h->body;
}

const char *ex_http_get(ex_http_t *h, const char *base, const char *path) {
    long status;
    const char *body = ex_http_get_status(h, base, path, &status);
    if (status != 200) die("GET %s%s: HTTP status %ld", base, path, status);
    return body;
}

/* Copies the id that starts at p (ending at '"') into out; returns the byte after it. */
static const char *copy_id(const char *p, char out[EX_ID_MAX]) {
    size_t n = strcspn(p, "\"");
    if (n >= EX_ID_MAX) die("page id too long in answer");
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n;
}

int ex_links(const char *body, char (*ids)[EX_ID_MAX], int max) {
    int n = 0;
    char scratch[EX_ID_MAX];
    for (const char *p = body; (p = strstr(p, "\"/api/")) != NULL; n++)
        p = copy_id(p + 6, n < max ? ids[n] : scratch);
    return n;
}

void ex_page_id(const char *body, int k, char id[EX_ID_MAX]) {
    const char *p = strstr(body, "\"page_id");
    if (!p) die("no page_id in answer: %.80s", body);
    p = strchr(p, ':');
    for (int i = 0; p && i <= 2 * k; i++) /* two quotes an id */
        p = strchr(p + 1, '"');
    if (!p) die("fewer than %d page ids in answer", k + 1);
    copy_id(p + 1, id);
}
