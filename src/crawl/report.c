/* A crawl result as a human table, as one JSON object (field names documented in
 * docs/crawl-result.schema.json and stable), and as the visit-order list. */
#include "crawl/crawl.h"

#include <cjson/cJSON.h>
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
    if (r->ideal_s < 0)
        fprintf(f, "ideal        unknown (the server does not say its own time: no Server-Timing)\n");
    else
        fprintf(f, "ideal        %.3f s (zero client CPU, the server's own times): %.2fx of ideal\n", r->ideal_s,
                r->over_ideal);
    fprintf(f, "peak         %u in flight, %.1f MiB RSS (%.1f MiB at the start)\n", r->peak_in_flight,
            (double)r->peak_rss_kb / 1024.0, (double)r->start_rss_kb / 1024.0);
    fprintf(f, "cpu          %.3f s (user + system), %.0f pages per CPU-second\n", r->cpu_s,
            r->cpu_s > 0 ? (double)r->pages / r->cpu_s : 0);
}

/* Adds key: v to o, where v is a count or a measurement; JSON numbers are doubles, exact for any
 * count below 2^53. */
static void num(cJSON *o, const char *key, double v) { cJSON_AddNumberToObject(o, key, v); }

static cJSON *latency_json(const hist_t *h) {
    cJSON *o = cJSON_CreateObject();
    num(o, "p50", ms(hist_quantile(h, 0.5)));
    num(o, "p90", ms(hist_quantile(h, 0.9)));
    num(o, "p99", ms(hist_quantile(h, 0.99)));
    num(o, "max", ms(h->max));
    num(o, "mean", hist_mean(h) / 1000.0);
    return o;
}

void crawl_print_json(FILE *f, const crawl_result_t *r) {
    cJSON *o = cJSON_CreateObject(), *att = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", r->model);
    num(o, "concurrency", r->concurrency);
    cJSON_AddStringToObject(o, "start", r->start);
    num(o, "pages", (double)r->pages);
    num(o, "failed", (double)r->failed);
    num(o, "discovered", (double)r->discovered);
    num(o, "requests", (double)r->requests);
    num(o, "retries", (double)r->retries);
    for (int t = 0; t < FETCH_TALLIES; t++) num(att, fetch_tally_name((fetch_tally_t)t), (double)r->tally[t]);
    cJSON_AddItemToObject(o, "attempts", att);
    num(o, "invalid_links", (double)r->invalid_links);
    num(o, "invalid_pages", (double)r->invalid_pages);
    num(o, "bytes", (double)r->bytes);
    num(o, "elapsed_s", r->elapsed_s);
    num(o, "pages_per_s", r->pages_per_s);
    cJSON_AddItemToObject(o, "latency_ms", latency_json(&r->latency));
    num(o, "peak_in_flight", r->peak_in_flight);
    num(o, "peak_rss_kb", (double)r->peak_rss_kb);
    num(o, "start_rss_kb", (double)r->start_rss_kb);
    num(o, "cpu_s", r->cpu_s);
    if (r->ideal_s < 0) { /* unknown, not guessed */
        cJSON_AddNullToObject(o, "ideal_s");
        cJSON_AddNullToObject(o, "over_ideal");
    } else {
        num(o, "ideal_s", r->ideal_s);
        num(o, "over_ideal", r->over_ideal);
    }
    cJSON_AddBoolToObject(o, "interrupted", r->interrupted);
    char *text = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(o);
}

int crawl_write_page_log(FILE *f, const crawl_result_t *r) {
    for (uint32_t p = 0; p < r->nends; p++) {
        const crawl_page_end_t *e = &r->ends[p];
        if (!e->attempts) continue;
        size_t len;
        const char *id = frontier_id(r->frontier, p, &len);
        const char *how = e->valid ? "ok" : e->outcome == FETCH_OK ? "invalid" : fetch_outcome_name(e->outcome);
        if (fprintf(f, "%.*s\t%s\t%u\t%u\n", (int)len, id, how, e->http_status, e->attempts) < 0) return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}

int crawl_write_order(FILE *f, const crawl_result_t *r) {
    for (uint64_t i = 0; i < r->norder; i++) {
        size_t len;
        const char *id = frontier_id(r->frontier, r->order[i], &len);
        if (fprintf(f, "%.*s\n", (int)len, id) < 0) return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}
