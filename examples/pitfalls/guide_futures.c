/* The guide's bug: its requests-futures crawler overshoots max_pages. It checks the cap once per
 * batch (`while to_visit and len(visited) < max_pages`) and then adds up to 5 pages, so with 48
 * visited and a cap of 50 it fetches 53. This is that loop in C. Fixed: guide_futures_fixed.c,
 * which checks the cap for every page it adds.
 *
 * usage: guide_futures URL START [MAX_PAGES]   (default 50; batches of 5) */
#include "guidecrawl.h"

int main(int argc, char **argv) {
    const char *usage = "URL START [MAX_PAGES]";
    if (argc < 3) ex_usage(argv, usage);
    long max = ex_arg(argc, argv, 3, 50, 1, 10000000, usage);
    ex_http_init();
    ex_set_t *visited = ex_set_new();
    ex_list_t to_visit = {0};
    ex_list_push(&to_visit, argv[2]);
    page_t batch[5];

    while (to_visit.head < to_visit.len && ex_set_count(visited) < max) {
        int n = 0;
        for (const char *id; n < 5 && (id = ex_list_pop(&to_visit)) != NULL;) {
            /* guide:begin guide_futures */
            if (!ex_set_add(visited, id)) /* if path not in visited: visited.add(path) */
                continue;
            /* guide:end guide_futures */
            batch[n] = (page_t){.base = argv[1]};
            snprintf(batch[n++].id, EX_ID_MAX, "%s", id);
        }
        gather(batch, n); /* futures = [session.get(...) ...]; future.result() for each */
        for (int k = 0; k < n; k++) {
            for (long i = 0; i < batch[k].links.len; i++)
                if (!ex_set_has(visited, batch[k].links.id[i])) ex_list_push(&to_visit, batch[k].links.id[i]);
            ex_list_free(&batch[k].links);
        }
    }
    printf("visited %ld pages (max_pages %ld)\n", ex_set_count(visited), max);
    ex_list_free(&to_visit);
    ex_set_free(visited);
    return 0;
}
