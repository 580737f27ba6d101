/* What the guide_*.c crawlers share (header-only, like the guide's own helpers): fetch one page and
 * list its links, and gather() a batch of such fetches, one thread each, waiting for all (asyncio's
 * gather, or a FuturesSession's batch). The bugs and their fixes are in the crawlers' loops. */
#ifndef GUIDECRAWL_H
#define GUIDECRAWL_H

#include "ex.h"
#include "exhttp.h"
#include "exset.h"

#include <stdio.h>

typedef struct {
    const char *base;
    char id[EX_ID_MAX];
    long status;
    ex_list_t links; /* the page's links, when status is 200 */
} page_t;

static inline void *page_fetch(void *arg) {
    page_t *p = arg;
    char path[EX_ID_MAX + 8], ids[512][EX_ID_MAX];
    ex_http_t *h = ex_http_new();
    snprintf(path, sizeof path, "api/%s", p->id);
    const char *body = ex_http_get_status(h, p->base, path, &p->status);
    int n = p->status == 200 ? ex_links(body, ids, 512) : 0;
    for (int i = 0; i < n && i < 512; i++)
        ex_list_push(&p->links, ids[i]);
    ex_http_free(h);
    return NULL;
}

/* Fetches pages[0..n) at once and returns when every one is done. */
static inline void gather(page_t *pages, int n) {
    pthread_t tids[256];
    for (int i = 0; i < n; i++)
        Pthread_create(&tids[i], page_fetch, &pages[i]);
    for (int i = 0; i < n; i++)
        Pthread_join(tids[i], NULL);
}

#endif
