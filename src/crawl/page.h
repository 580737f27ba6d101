/* Parsing one /api page, the crawler's untrusted input: {"page_id": "<id>", "links": ["/api/<id>", ...]}.
 * The server's own compact form is scanned in place; anything else (spaces, escapes, other keys:
 * any JSON) goes through cJSON, with the same result. Then every link is validated before anything
 * follows it: a string, the "/api/" prefix, a non-empty id of at most FRONTIER_ID_MAX unreserved URL
 * characters. Links that fail are counted and skipped. */
#ifndef CRAWLBENCH_PAGE_H
#define CRAWLBENCH_PAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct page_links {
    uint32_t n;            /* valid links */
    uint32_t invalid;      /* links skipped as invalid */
    const char **ids;      /* ids[i] (without "/api/"), NUL-terminated, ... */
    size_t *lens;          /* ... of length lens[i]; they live until page_links_free() */
    void *tree;            /* private: the parsed document the ids point into (cJSON) */
    char *arena;           /* private: or the copy of them they point into (the compact form) */
    uint32_t cap;          /* private */
} page_links_t;

/* Parses body. Returns 0 with out filled, or -1 with a reason in err (not JSON, not an object, no
 * links array, a page_id other than expect_id); out then holds no links and needs no free. */
int page_parse(const char *body, size_t len, const char *expect_id, size_t expect_len, page_links_t *out,
               char *err, size_t errlen);
void page_links_free(page_links_t *pl);
/* page_parse through cJSON alone, whatever the form: for the fuzzer, which checks that both ways
 * give the same answer. */
int page_parse_json(const char *body, size_t len, const char *expect_id, size_t expect_len, page_links_t *out,
                    char *err, size_t errlen);

/* Whether id is a valid page id: 1..FRONTIER_ID_MAX characters of [A-Za-z0-9._~-]. */
int page_id_valid(const char *id, size_t len);

#endif
