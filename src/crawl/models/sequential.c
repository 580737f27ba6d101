/* The baseline: one loop, one keep-alive connection, one page at a time. Take the next page, fetch
 * it, parse it, hand its links to the frontier, repeat until the frontier is empty. Every other
 * model does exactly this, only several at once. */
#include "crawl/engine.h"

static int sequential_run(crawl_t *c) {
    char err[256], id[FRONTIER_ID_MAX + 1];
    size_t len;
    fetcher_t *f = fetcher_create(&crawl_config(c)->fetch, crawl_config(c)->seed, err, sizeof(err));
    if (!f) {
        crawl_fail(c, "%s", err);
        return -1;
    }
    int64_t page;
    while ((page = crawl_take(c, id, &len)) >= 0) {
        const fetch_result_t *r = fetcher_get(f, id, len, crawl_config(c)->stop);
        page_links_t links;
        int parsed = r->outcome == FETCH_OK && crawl_page_parse(r, id, len, &links) == 0;
        crawl_done(c, (uint32_t)page, r, parsed ? &links : NULL);
        if (parsed) page_links_free(&links);
    }
    fetcher_free(f);
    return 0;
}

const crawl_engine_t engine_sequential = {
    .name = "sequential",
    .summary = "one loop, one connection, one page at a time: the baseline",
    .title = "Sequential: the baseline",
    .lesson = /* what the model is (HTML: <em> and <code> only) */
        "One loop, one keep-alive connection, one page at a time: take the next page, fetch it, parse it, "
        "hand its links to the frontier, repeat until the frontier is empty. Every other model does exactly "
        "this, only with several pages at once, which is why its time is the yardstick of the <em>vs "
        "sequential</em> column.",
    .when = /* when to reach for it */
        "Simple scripts, and work that is fast enough already. Always write it first: it is the measurement "
        "every concurrent version must beat (the guide's <em>profile first</em>), and the simplest correct "
        "answer.",
    .source = __FILE__,
    .max_concurrency = 1,
    .limit_why = "one page at a time is the lesson",
    .run = sequential_run,
};
