/* The guide's bug: its asyncio crawler loses frontier entries. Each round it gathers the first C
 * pages of to_visit, then sets to_visit to the links those pages found, and the pages of to_visit
 * past the first C are forgotten (`to_visit = [link for link in new_links if link not in visited]`).
 * On the guide's own 10,000-page graph it finds 7,038 of the 8,955 reachable pages. This is that
 * loop in C, round for round. Fixed: guide_asyncio_fixed.c (which keeps to_visit[C:]).
 *
 * usage: guide_asyncio URL START [MAX_PAGES [C]]   (default 100000 pages, 10 at a time) */
#include "guidecrawl.h"

#include <stdlib.h>

int main(int argc, char **argv) {
    const char *usage = "URL START [MAX_PAGES [C]]";
    if (argc < 3) ex_usage(argv, usage);
    long max = ex_arg(argc, argv, 3, 100000, 1, 10000000, usage);
    int c = (int)ex_arg(argc, argv, 4, 10, 1, 256, usage);
    ex_http_init();
    ex_set_t *visited = ex_set_new();
    ex_list_t to_visit = {0};
    ex_list_push(&to_visit, argv[2]);
    page_t *batch = Malloc((size_t)c * sizeof *batch);

    while (to_visit.len > 0 && ex_set_count(visited) < max) {
        int n = 0; /* gather(*[fetch_page(p) for p in to_visit[:C]]), each skipping seen pages */
        for (long i = 0; i < to_visit.len && i < c; i++) {
            if (ex_set_count(visited) >= max || !ex_set_add(visited, to_visit.id[i])) continue;
            batch[n] = (page_t){.base = argv[1]};
            snprintf(batch[n++].id, EX_ID_MAX, "%s", to_visit.id[i]);
        }
        gather(batch, n);
        ex_list_t next = {0};
        /* guide:begin guide_asyncio */
        /* to_visit = [link for link in new_links if link not in visited] */
        for (int k = 0; k < n; k++)
            for (long i = 0; i < batch[k].links.len; i++)
                if (!ex_set_has(visited, batch[k].links.id[i])) ex_list_push(&next, batch[k].links.id[i]);
        /* guide:end guide_asyncio */
        for (int k = 0; k < n; k++)
            ex_list_free(&batch[k].links);
        ex_list_free(&to_visit);
        to_visit = next;
    }
    printf("visited %ld pages\n", ex_set_count(visited));
    ex_list_free(&to_visit);
    ex_set_free(visited);
    free(batch);
    return 0;
}
