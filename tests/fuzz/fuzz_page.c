/* libFuzzer target for the crawler's page parser: the body of an /api answer is whatever the
 * server sent, so page_parse must reject or accept any bytes without a crash, every link it
 * accepts must be a valid page id (never a path, a URL or an empty string), and its scan of the
 * compact form must give exactly what cJSON's path gives (page_parse_json). */
#include "crawl/page.h"

#include "crawl/frontier.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The first byte picks the id the page must claim to be, so both answers are reached. */
    const char *expect = size && (data[0] & 1) ? "a" : "R4L90Hmc";
    page_links_t links;
    char err[128];
    page_links_t ref;
    char err2[128];
    int rc = page_parse((const char *)data, size, expect, strlen(expect), &links, err, sizeof(err));
    int rc2 = page_parse_json((const char *)data, size, expect, strlen(expect), &ref, err2, sizeof(err2));
    if (rc != rc2) abort();
    if (rc == 0) {
        if (links.n != ref.n || links.invalid != ref.invalid) abort();
        for (uint32_t i = 0; i < links.n; i++) {
            if (!page_id_valid(links.ids[i], links.lens[i]) || strlen(links.ids[i]) != links.lens[i]) abort();
            if (links.lens[i] != ref.lens[i] || memcmp(links.ids[i], ref.ids[i], links.lens[i])) abort();
        }
        page_links_free(&links);
        page_links_free(&ref);
    } else if (strcmp(err, err2)) {
        abort();
    }
    return 0;
}
