/* A crawl result as a human table, as one JSON object (field names documented in
 * docs/crawl-result.schema.json and stable), and as the visit-order list. */
#include "crawl/crawl.h"

#include <errno.h>

static double ms(uint64_t us) { return (double)us / 1000.0; }

void crawl_print_table(FILE *f, const crawl_result_t *r) {
    const hist_t *h = &r->latency;
    fprintf(f, "model        %s (concurrency %u)%s\n", r->model, r->concurrency,
            r->interrupted ? "  [interrupted]" : "");
    fprintf(f, "start page   %s\n", r->start);
    fprintf(f, "pages        %llu fetched, %llu failed, %llu discovered\n", (unsigned long long)r->pages,
            (unsigned long long)r->failed, (unsigned long long)r->discovered);
    fprintf(f, "requests     %llu (%llu retries)", (unsigned long long)r->requests, (unsigned long long)r->retries);
    int first = 1;
    for (int t = TALLY_OK + 1; t < FETCH_TALLIES; t++) {
        if (!r->tally[t]) continue;
        fprintf(f, "%s%s %llu", first ? "; failed attempts: " : ", ", fetch_tally_name((fetch_tally_t)t),
                (unsigned long long)r->tally[t]);
        first = 0;
    }
    fprintf(f, "\n");
    if (r->invalid_links || r->invalid_pages)
        fprintf(f, "invalid      %llu links skipped, %llu pages unreadable\n", (unsigned long long)r->invalid_links,
                (unsigned long long)r->invalid_pages);
    fprintf(f, "time         %.3f s, %.1f pages/s, %.1f KiB received\n", r->elapsed_s, r->pages_per_s,
            (double)r->bytes / 1024.0);
    fprintf(f, "latency      p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", ms(hist_quantile(h, 0.5)),
            ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(h->max));
    fprintf(f, "ideal        %.3f s (zero CPU cost at the median latency): %.2fx of ideal\n", r->ideal_s,
            r->over_ideal);
    fprintf(f, "peak         %u in flight, %.1f MiB RSS\n", r->peak_in_flight, (double)r->peak_rss_kb / 1024.0);
}

void crawl_print_json(FILE *f, const crawl_result_t *r) {
    const hist_t *h = &r->latency;
    fprintf(f, "{\"model\":\"%s\",\"concurrency\":%u,\"start\":\"%s\",\"pages\":%llu,\"failed\":%llu,"
               "\"discovered\":%llu,\"requests\":%llu,\"retries\":%llu,",
            r->model, r->concurrency, r->start, (unsigned long long)r->pages, (unsigned long long)r->failed,
            (unsigned long long)r->discovered, (unsigned long long)r->requests, (unsigned long long)r->retries);
    fprintf(f, "\"attempts\":{");
    for (int t = 0; t < FETCH_TALLIES; t++)
        fprintf(f, "%s\"%s\":%llu", t ? "," : "", fetch_tally_name((fetch_tally_t)t), (unsigned long long)r->tally[t]);
    fprintf(f, "},\"invalid_links\":%llu,\"invalid_pages\":%llu,\"bytes\":%llu,\"elapsed_s\":%.6f,"
               "\"pages_per_s\":%.3f,",
            (unsigned long long)r->invalid_links, (unsigned long long)r->invalid_pages,
            (unsigned long long)r->bytes, r->elapsed_s, r->pages_per_s);
    fprintf(f, "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f},",
            ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(h->max),
            hist_mean(h) / 1000.0);
    fprintf(f, "\"peak_in_flight\":%u,\"peak_rss_kb\":%llu,\"ideal_s\":%.6f,\"over_ideal\":%.4f,"
               "\"interrupted\":%s}\n",
            r->peak_in_flight, (unsigned long long)r->peak_rss_kb, r->ideal_s, r->over_ideal,
            r->interrupted ? "true" : "false");
}

int crawl_write_order(FILE *f, const crawl_result_t *r) {
    for (uint64_t i = 0; i < r->norder; i++) {
        size_t len;
        const char *id = frontier_id(r->frontier, r->order[i], &len);
        if (fprintf(f, "%.*s\n", (int)len, id) < 0) return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}
