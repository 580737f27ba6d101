/* /api page parsing with cJSON and strict link validation (see page.h). */
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

int page_parse(const char *body, size_t len, const char *expect_id, size_t expect_len, page_links_t *out,
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
        const char *s = cJSON_IsString(l) ? l->valuestring : NULL;
        size_t n = s ? strlen(s) : 0;
        if (!s || n <= 5 || memcmp(s, "/api/", 5) != 0 || !page_id_valid(s + 5, n - 5)) {
            out->invalid++;
            continue;
        }
        if (add_link(out, s + 5, n - 5) < 0) {
            snprintf(err, errlen, "out of memory");
            page_links_free(out);
            return -1;
        }
    }
    return 0;
}

void page_links_free(page_links_t *pl) {
    cJSON_Delete(pl->tree);
    free(pl->ids);
    free(pl->lens);
    memset(pl, 0, sizeof(*pl));
}
