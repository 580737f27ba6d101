/* libFuzzer target for the crawler's page parser: the body of an /api answer is whatever the
 * server sent, so page_parse must reject or accept any bytes without a crash, and every link it
 * accepts must be a valid page id (never a path, a URL or an empty string). */
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
    if (page_parse((const char *)data, size, expect, strlen(expect), &links, err, sizeof(err)) == 0) {
        for (uint32_t i = 0; i < links.n; i++)
            if (!page_id_valid(links.ids[i], links.lens[i]) || strlen(links.ids[i]) != links.lens[i]) abort();
        page_links_free(&links);
    }
    return 0;
}
