/* The comparison as text: a terminal table, compare.json (every figure, the machine, the server),
 * CSV and a Markdown table ready for a README. Field names in the JSON are stable and described by
 * docs/compare.schema.json. */
#include "compare/compare.h"

#include "base/buf.h"

#include <string.h>

/* Writes s as a JSON string literal: the URL, the server's own descriptions and warnings may hold
 * anything a foreign server sent. */
static void json_str(FILE *f, const char *s) {
    buf_t b = BUF_INIT;
    if (buf_json_string(&b, s, strlen(s)) == 0) fwrite(b.data, 1, b.len, f);
    else fputs("\"\"", f);
    buf_free(&b);
}

static const char *level_label(const compare_cell_t *c, char *buf, size_t cap) {
    snprintf(buf, cap, "%u", c->concurrency);
    return buf;
}

void compare_print_table(FILE *f, const compare_report_t *r) {
    const compare_config_t *cfg = &r->cfg;
    fprintf(f, "crawlbench compare: %s%s, start page %s, at most %llu pages, %u run%s each (+%u warm-up)\n",
            r->url, r->embedded ? " (embedded)" : "", r->start, (unsigned long long)cfg->max_pages, cfg->repeat,
            cfg->repeat == 1 ? "" : "s", cfg->warmup);
    fprintf(f, "server: %u pages, seed %llu, latency %s, faults %s\n\n", r->server_pages,
            (unsigned long long)r->server_seed, r->server_latency, r->server_faults);
    fprintf(f, "%-11s %5s %6s %20s %9s %14s %7s %8s %8s %9s %4s\n", "model", "conc", "pages", "seconds (min..max)",
            "pages/s", "vs sequential", "x ideal", "p50 ms", "p99 ms", "retr/fail", "dups");
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        char lvl[16], range[40], speed[32] = "-";
        snprintf(range, sizeof(range), "%.3f (%.3f..%.3f)", c->elapsed.median, c->elapsed.min, c->elapsed.max);
        if (c->speedup > 0) snprintf(speed, sizeof(speed), "%.2f x +- %.2f", c->speedup, c->speedup_err);
        fprintf(f, "%-11s %5s %6llu %20s %9.1f %14s %7.2f %8.2f %8.2f %4llu/%-4llu %4llu\n", c->model,
                level_label(c, lvl, sizeof(lvl)), (unsigned long long)c->pages, range, c->pages_per_s.median, speed,
                c->over_ideal, c->p50_ms, c->p99_ms, (unsigned long long)c->retries, (unsigned long long)c->failed,
                (unsigned long long)c->duplicates);
    }
    int warned = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        if (!c->warning[0]) continue;
        if (!warned++) fprintf(f, "\nwarnings (a figure with these is less trustworthy):\n");
        fprintf(f, "  %s c=%u: %s\n", c->model, c->concurrency, c->warning);
    }
    fprintf(f, "\n'x ideal': time over the same crawl simulated with zero CPU cost at the measured median latency.\n");
}

static void json_stat(FILE *f, const char *name, const compare_stat_t *s) {
    fprintf(f, "\"%s\":{\"median\":%.6f,\"mean\":%.6f,\"min\":%.6f,\"max\":%.6f,\"stddev\":%.6f,\"outliers\":%u}",
            name, s->median, s->mean, s->min, s->max, s->stddev, s->outliers);
}

static void json_cell(FILE *f, const compare_cell_t *c) {
    fputs("{\"model\":", f);
    json_str(f, c->model);
    fprintf(f, ",\"concurrency\":%u,\"pages\":%llu,", c->concurrency, (unsigned long long)c->pages);
    json_stat(f, "elapsed_s", &c->elapsed);
    fputc(',', f);
    json_stat(f, "pages_per_s", &c->pages_per_s);
    fprintf(f, ",\"speedup\":%.4f,\"speedup_err\":%.4f,\"ideal_s\":%.6f,\"over_ideal\":%.4f,\"p50_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"retries\":%llu,\"failed\":%llu,\"duplicates\":%llu,\"warning\":",
            c->speedup, c->speedup_err, c->ideal_s, c->over_ideal, c->p50_ms, c->p99_ms,
            (unsigned long long)c->retries, (unsigned long long)c->failed, (unsigned long long)c->duplicates);
    json_str(f, c->warning);
    fputs(",\"runs\":[", f);
    for (uint32_t i = 0; i < c->nruns; i++) {
        const compare_run_t *run = &c->runs[i];
        fprintf(f, "%s{\"elapsed_s\":%.6f,\"pages\":%llu,\"pages_per_s\":%.3f,\"ideal_s\":%.6f,\"over_ideal\":%.4f,"
                   "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"retries\":%llu,\"failed\":%llu,\"requests\":%llu,"
                   "\"peak_rss_kb\":%llu,\"peak_in_flight\":%u,\"duplicates\":%llu,\"errors_served\":%llu}",
                i ? "," : "", run->elapsed_s, (unsigned long long)run->pages, run->pages_per_s, run->ideal_s,
                run->over_ideal, run->p50_ms, run->p99_ms, (unsigned long long)run->retries,
                (unsigned long long)run->failed, (unsigned long long)run->requests,
                (unsigned long long)run->peak_rss_kb, run->peak_in_flight, (unsigned long long)run->duplicates,
                (unsigned long long)run->errors_served);
    }
    fputs("]}", f);
}

int compare_write_json(FILE *f, const compare_report_t *r) {
    const compare_config_t *cfg = &r->cfg;
    fputs("{\"tool\":\"crawlbench compare\",\"url\":", f);
    json_str(f, r->url);
    fprintf(f, ",\"embedded\":%s,\"start\":", r->embedded ? "true" : "false");
    json_str(f, r->start);
    fprintf(f, ",\"max_pages\":%llu,\"repeat\":%u,\"warmup\":%u,\"sweep\":%s,\"total_s\":%.3f,",
            (unsigned long long)cfg->max_pages, cfg->repeat, cfg->warmup, cfg->sweep ? "true" : "false", r->total_s);
    fprintf(f, "\"server\":{\"pages\":%u,\"seed\":%llu,\"latency\":", r->server_pages,
            (unsigned long long)r->server_seed);
    json_str(f, r->server_latency);
    fputs(",\"faults\":", f);
    json_str(f, r->server_faults);
    fprintf(f, "},\"machine\":%s,\"results\":[", r->machine);
    for (size_t i = 0; i < r->ncells; i++) {
        if (i) fputc(',', f);
        json_cell(f, &r->cells[i]);
    }
    fputs("]}\n", f);
    return ferror(f) ? -1 : 0;
}

int compare_write_csv(FILE *f, const compare_report_t *r) {
    fputs("model,concurrency,pages,elapsed_median_s,elapsed_min_s,elapsed_max_s,elapsed_stddev_s,pages_per_s,"
          "speedup,speedup_err,ideal_s,over_ideal,p50_ms,p99_ms,retries,failed,duplicates\n", f);
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        fprintf(f, "%s,%u,%llu,%.6f,%.6f,%.6f,%.6f,%.3f,%.4f,%.4f,%.6f,%.4f,%.3f,%.3f,%llu,%llu,%llu\n", c->model,
                c->concurrency, (unsigned long long)c->pages, c->elapsed.median, c->elapsed.min, c->elapsed.max,
                c->elapsed.stddev, c->pages_per_s.median, c->speedup, c->speedup_err, c->ideal_s, c->over_ideal,
                c->p50_ms, c->p99_ms, (unsigned long long)c->retries, (unsigned long long)c->failed,
                (unsigned long long)c->duplicates);
    }
    return ferror(f) ? -1 : 0;
}

int compare_write_markdown(FILE *f, const compare_report_t *r) {
    fprintf(f, "| model | concurrency | pages | seconds (min..max) | pages/s | vs sequential | x ideal | p50 ms | p99 ms |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        fprintf(f, "| %s | %u | %llu | %.3f (%.3f..%.3f) | %.1f | %.2f x +- %.2f | %.2f | %.2f | %.2f |\n", c->model,
                c->concurrency, (unsigned long long)c->pages, c->elapsed.median, c->elapsed.min, c->elapsed.max,
                c->pages_per_s.median, c->speedup, c->speedup_err, c->over_ideal, c->p50_ms, c->p99_ms);
    }
    fprintf(f, "\n%s, start page `%s`, at most %llu pages, median of %u runs.\n", r->url, r->start,
            (unsigned long long)r->cfg.max_pages, r->cfg.repeat);
    return ferror(f) ? -1 : 0;
}
