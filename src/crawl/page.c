/* /api page parsing and strict link validation (see page.h). The compact form the server writes is
 * scanned by hand, because cJSON builds a node and a string per link and frees them again: 9.3k
 * instructions a page, 70% of the epoll crawler's user-space work (docs/BENCHMARKS.md, crawler
 * problem 2). Any other form goes to cJSON; the fuzzer checks that both ways agree. */
#include "crawl/page.h"

#include "crawl/frontier.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int page_id_valid(const char *id, size_t len) {
    if (len == 0 || len > FRONTIER_ID_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '.' || c == '_' || c == '~';
        if (!ok) return 0;
    }
    return 1;
}

static int add_link(page_links_t *out, const char *id, size_t len) {
    if (out->n == out->cap) {
        uint32_t cap = out->cap ? out->cap * 2 : 16;
        const char **ids = realloc(out->ids, cap * sizeof(*ids));
        if (ids) out->ids = ids;
        size_t *lens = realloc(out->lens, cap * sizeof(*lens));
        if (lens) out->lens = lens;
        if (!ids || !lens) return -1;
        out->cap = cap;
    }
    out->ids[out->n] = id;
    out->lens[out->n++] = len;
    return 0;
}

/* One link as the document holds it: counted invalid, or added (-1: out of memory). */
static int take_link(page_links_t *out, const char *s, size_t n) {
    if (n <= 5 || memcmp(s, "/api/", 5) != 0 || !page_id_valid(s + 5, n - 5)) {
        out->invalid++;
        return 0;
    }
    return add_link(out, s + 5, n - 5);
}

/* A JSON string without escapes at b[*i] (just after its opening quote): its length, with *i moved
 * past the closing quote, or -1 when it has an escape or a control character (cJSON's business) or
 * does not end. */
static long plain_string(const char *b, size_t len, size_t *i) {
    size_t start = *i;
    while (*i < len && b[*i] != '"') {
        unsigned char c = (unsigned char)b[*i];
        if (c == '\\' || c < 0x20) return -1;
        (*i)++;
    }
    if (*i == len) return -1;
    return (long)(*i)++ - (long)start;
}

#define PAGE_HEAD "{\"page_id\":\""
#define LINKS_HEAD "\",\"links\":["

/* The compact form, byte for byte: {"page_id":"ID","links":["...",...]} and nothing after. 1 with
 * out filled (ids copied, NUL-terminated, into out->arena), 0 when body is not in that form (out is
 * then empty), -1 when out of memory. The page_id must be expect_id; a different one is left to
 * cJSON's path, which says why. */
static int parse_compact(const char *b, size_t len, const char *expect, size_t elen, page_links_t *out) {
    size_t i = sizeof(PAGE_HEAD) - 1;
    if (len < i + elen + sizeof(LINKS_HEAD) + 1 || memcmp(b, PAGE_HEAD, i) || memcmp(b + i, expect, elen) ||
        memcmp(b + i + elen, LINKS_HEAD, sizeof(LINKS_HEAD) - 1))
        return 0;
    i += elen + sizeof(LINKS_HEAD) - 1;
    char *arena = out->arena = malloc(len);
    if (!arena) return -1;
    size_t used = 0;
    int more = b[i] != ']';
    if (!more) i++;
    while (more) {
        if (i >= len || b[i++] != '"') goto other;
        size_t at = i;
        long n = plain_string(b, len, &i);
        if (n < 0 || i >= len || (b[i] != ',' && b[i] != ']')) goto other;
        more = b[i++] == ',';
        memcpy(arena + used, b + at, (size_t)n);
        arena[used + (size_t)n] = '\0';
        if (take_link(out, arena + used, (size_t)n) < 0) return -1;
        used += (size_t)n + 1; /* a string's quotes leave room for its NUL */
    }
    if (i + 1 == len && b[i] == '}') return 1;
other:
    page_links_free(out);
    return 0;
}

int page_parse(const char *body, size_t len, const char *expect_id, size_t expect_len, page_links_t *out,
               char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    int rc = parse_compact(body, len, expect_id, expect_len, out);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        page_links_free(out);
        return -1;
    }
    return rc ? 0 : page_parse_json(body, len, expect_id, expect_len, out, err, errlen);
}

int page_parse_json(const char *body, size_t len, const char *expect_id, size_t expect_len, page_links_t *out,
                    char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const char *why = NULL;
    if (!doc) why = "not JSON";
    else if (!cJSON_IsObject(doc)) why = "not a JSON object";
    const cJSON *pid = doc ? cJSON_GetObjectItemCaseSensitive(doc, "page_id") : NULL;
    const cJSON *links = doc ? cJSON_GetObjectItemCaseSensitive(doc, "links") : NULL;
    if (!why && !cJSON_IsArray(links)) why = "no \"links\" array";
    else if (!why && (!cJSON_IsString(pid) || strlen(pid->valuestring) != expect_len ||
                      memcmp(pid->valuestring, expect_id, expect_len) != 0))
        why = "\"page_id\" is not the page asked for";
    if (why) {
        snprintf(err, errlen, "%s", why);
        cJSON_Delete(doc);
        return -1;
    }
    out->tree = doc;
    const cJSON *l;
    cJSON_ArrayForEach(l, links) {
        if (!cJSON_IsString(l)) {
            out->invalid++;
            continue;
        }
        if (take_link(out, l->valuestring, strlen(l->valuestring)) < 0) {
            snprintf(err, errlen, "out of memory");
            page_links_free(out);
            return -1;
        }
    }
    return 0;
}

void page_links_free(page_links_t *pl) {
    cJSON_Delete(pl->tree);
    free(pl->arena);
    free(pl->ids);
    free(pl->lens);
    memset(pl, 0, sizeof(*pl));
}
