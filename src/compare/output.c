/* The comparison as text: a terminal table, compare.json (every figure, the machine, the server),
 * CSV and a Markdown table ready for a README. Field names in the JSON are stable and described by
 * docs/compare.schema.json. */
#include "compare/compare.h"

#include "crawl/models/models.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

static const char *level_label(const compare_cell_t *c, char *buf, size_t cap) {
    snprintf(buf, cap, "%u", c->concurrency);
    return buf;
}

static double col_pages_per_cpu(const compare_cell_t *c) { return c->pages_per_cpu_s.median; }
static double col_kib(const compare_cell_t *c) { return c->kib_per_task; }

compare__column_t compare__regime_column(const compare_report_t *r) {
    if (r->cfg.regime == COMPARE_REGIME_CPU) return (compare__column_t){"pg/CPU-s", col_pages_per_cpu};
    if (r->cfg.regime == COMPARE_REGIME_CONNS) return (compare__column_t){"KiB/task", col_kib};
    return (compare__column_t){NULL, NULL};
}

static void print_rows(FILE *f, const compare_report_t *r) {
    compare__column_t col = compare__regime_column(r);
    char vs[32];
    snprintf(vs, sizeof(vs), "vs %s", models_baseline()->name); /* the speedups' yardstick */
    fprintf(f, "%-11s %5s %6s %20s %9s %14s %7s %8s %8s %9s %4s", "model", "conc", "pages", "seconds (min..max)",
            "pages/s", vs, "x ideal", "p50 ms", "p99 ms", "retr/fail", "dups");
    fprintf(f, col.head ? " %9s\n" : "\n", col.head);
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        char lvl[16], range[40], speed[32] = "-";
        snprintf(range, sizeof(range), "%.3f (%.3f..%.3f)", c->elapsed.median, c->elapsed.min, c->elapsed.max);
        if (c->speedup > 0) snprintf(speed, sizeof(speed), "%.2f x +- %.2f", c->speedup, c->speedup_err);
        fprintf(f, "%-11s %5s %6llu %20s %9.1f %14s %7.2f %8.2f %8.2f %4llu/%-4llu %4llu", c->model,
                level_label(c, lvl, sizeof(lvl)), (unsigned long long)c->pages, range, c->pages_per_s.median, speed,
                c->over_ideal, c->p50_ms, c->p99_ms, (unsigned long long)c->retries, (unsigned long long)c->failed,
                (unsigned long long)c->duplicates);
        if (col.of) fprintf(f, " %9.1f", col.of(c));
        fputc('\n', f);
    }
}

/* The regime's lesson after its table; nothing without a regime. */
static void print_lesson(FILE *f, const compare_report_t *r) {
    compare_lesson_t l;
    if (r->cfg.regime == COMPARE_REGIME_NONE) return;
    if (compare_lesson(r, &l) < 0) fprintf(f, "\nlesson: not drawn (%s)\n", l.text);
    else fprintf(f, "\n%s %s\n", l.holds ? "lesson:" : "!!", l.text);
}

static size_t count_warnings(const compare_report_t *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->ncells; i++) n += r->cells[i].warning[0] != '\0';
    return n;
}

void compare_print_table(FILE *f, const compare_report_t *r) {
    const compare_config_t *cfg = &r->cfg;
    fprintf(f, "crawlbench compare: %s%s, start page %s, at most %llu pages, %u run%s each (+%u warm-up)\n",
            r->url, r->embedded ? " (embedded)" : "", r->start, (unsigned long long)cfg->max_pages, cfg->repeat,
            cfg->repeat == 1 ? "" : "s", cfg->warmup);
    fprintf(f, "server: %u pages, seed %llu, latency %s, faults %s\n\n", r->server_pages,
            (unsigned long long)r->server_seed, r->server_latency, r->server_faults);
    print_rows(f, r);
    if (count_warnings(r)) fprintf(f, "\nwarnings (a figure with these is less trustworthy):\n");
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        if (c->warning[0]) fprintf(f, "  %s c=%u: %s\n", c->model, c->concurrency, c->warning);
    }
    fprintf(f, "\n'x ideal': time over the same crawl replayed with zero client CPU at the server's own times "
               "(Server-Timing) and the retry waits.\n");
    print_lesson(f, r);
}

void compare_print_brief(FILE *f, const compare_report_t *r, const char *title) {
    size_t w = count_warnings(r);
    fprintf(f, "== %s (%u run%s each, %.1f s)\n", title, r->cfg.repeat, r->cfg.repeat == 1 ? "" : "s", r->total_s);
    print_rows(f, r);
    if (w) fprintf(f, "(%zu model%s with warnings: see the report)\n", w, w == 1 ? "" : "s");
    print_lesson(f, r);
}

static void num(cJSON *o, const char *key, double v) { cJSON_AddNumberToObject(o, key, v); }

static cJSON *json_stat(const compare_stat_t *s) {
    cJSON *o = cJSON_CreateObject();
    num(o, "median", s->median), num(o, "mean", s->mean), num(o, "min", s->min), num(o, "max", s->max);
    num(o, "stddev", s->stddev), num(o, "outliers", s->outliers);
    return o;
}

static cJSON *json_run(const compare_run_t *run) {
    cJSON *o = cJSON_CreateObject();
    num(o, "elapsed_s", run->elapsed_s), num(o, "pages", (double)run->pages);
    num(o, "pages_per_s", run->pages_per_s), num(o, "ideal_s", run->ideal_s);
    num(o, "over_ideal", run->over_ideal), num(o, "p50_ms", run->p50_ms), num(o, "p99_ms", run->p99_ms);
    num(o, "retries", (double)run->retries), num(o, "failed", (double)run->failed);
    num(o, "requests", (double)run->requests), num(o, "peak_rss_kb", (double)run->peak_rss_kb);
    num(o, "peak_in_flight", run->peak_in_flight), num(o, "duplicates", (double)run->duplicates);
    num(o, "errors_served", (double)run->errors_served);
    num(o, "start_rss_kb", (double)run->start_rss_kb), num(o, "cpu_s", run->cpu_s);
    num(o, "throttled", (double)run->throttled);
    return o;
}

static cJSON *json_cell(const compare_cell_t *c) {
    cJSON *o = cJSON_CreateObject(), *runs = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", c->model);
    num(o, "concurrency", c->concurrency), num(o, "pages", (double)c->pages);
    cJSON_AddItemToObject(o, "elapsed_s", json_stat(&c->elapsed));
    cJSON_AddItemToObject(o, "pages_per_s", json_stat(&c->pages_per_s));
    num(o, "speedup", c->speedup), num(o, "speedup_err", c->speedup_err), num(o, "ideal_s", c->ideal_s);
    num(o, "over_ideal", c->over_ideal), num(o, "p50_ms", c->p50_ms), num(o, "p99_ms", c->p99_ms);
    num(o, "retries", (double)c->retries), num(o, "failed", (double)c->failed);
    num(o, "duplicates", (double)c->duplicates);
    num(o, "throttled", (double)c->throttled);
    cJSON_AddItemToObject(o, "pages_per_cpu_s", json_stat(&c->pages_per_cpu_s));
    num(o, "kib_per_task", c->kib_per_task);
    cJSON_AddStringToObject(o, "warning", c->warning);
    for (uint32_t i = 0; i < c->nruns; i++) cJSON_AddItemToArray(runs, json_run(&c->runs[i]));
    cJSON_AddItemToObject(o, "runs", runs);
    return o;
}

/* The regime and its lesson; null without a regime. */
static cJSON *json_lesson(const compare_report_t *r) {
    compare_lesson_t l;
    if (r->cfg.regime == COMPARE_REGIME_NONE) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    int drawn = compare_lesson(r, &l) == 0;
    cJSON_AddStringToObject(o, "regime", compare_regime_name(r->cfg.regime));
    cJSON_AddStringToObject(o, drawn ? "text" : "not_drawn", l.text);
    num(o, "figure", l.figure);
    cJSON_AddBoolToObject(o, "holds", drawn && l.holds);
    return o;
}

int compare_write_json(FILE *f, const compare_report_t *r) {
    const compare_config_t *cfg = &r->cfg;
    cJSON *o = cJSON_CreateObject(), *srv = cJSON_CreateObject(), *results = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "tool", "crawlbench compare");
    cJSON_AddStringToObject(o, "url", r->url);
    cJSON_AddBoolToObject(o, "embedded", r->embedded);
    cJSON_AddStringToObject(o, "start", r->start);
    num(o, "max_pages", (double)cfg->max_pages), num(o, "repeat", cfg->repeat), num(o, "warmup", cfg->warmup);
    cJSON_AddBoolToObject(o, "sweep", cfg->sweep);
    num(o, "total_s", r->total_s);
    num(srv, "pages", r->server_pages), num(srv, "seed", (double)r->server_seed);
    cJSON_AddStringToObject(srv, "latency", r->server_latency);
    cJSON_AddStringToObject(srv, "faults", r->server_faults);
    cJSON_AddItemToObject(o, "server", srv);
    cJSON *machine = cJSON_Parse(r->machine);
    cJSON_AddItemToObject(o, "machine", machine ? machine : cJSON_CreateObject());
    for (size_t i = 0; i < r->ncells; i++) cJSON_AddItemToArray(results, json_cell(&r->cells[i]));
    cJSON_AddItemToObject(o, "results", results);
    cJSON_AddItemToObject(o, "lesson", json_lesson(r));
    char *text = cJSON_PrintUnformatted(o);
    int rc = text && fprintf(f, "%s\n", text) >= 0 && !ferror(f) ? 0 : -1;
    if (!text) errno = ENOMEM;
    cJSON_free(text);
    cJSON_Delete(o);
    return rc;
}

int compare_write_csv(FILE *f, const compare_report_t *r) {
    fputs("model,concurrency,pages,elapsed_median_s,elapsed_min_s,elapsed_max_s,elapsed_stddev_s,pages_per_s,"
          "speedup,speedup_err,ideal_s,over_ideal,p50_ms,p99_ms,retries,failed,duplicates,pages_per_cpu_s,"
          "kib_per_task\n", f);
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        fprintf(f, "%s,%u,%llu,%.6f,%.6f,%.6f,%.6f,%.3f,%.4f,%.4f,%.6f,%.4f,%.3f,%.3f,%llu,%llu,%llu,%.1f,%.2f\n", c->model,
                c->concurrency, (unsigned long long)c->pages, c->elapsed.median, c->elapsed.min, c->elapsed.max,
                c->elapsed.stddev, c->pages_per_s.median, c->speedup, c->speedup_err, c->ideal_s, c->over_ideal,
                c->p50_ms, c->p99_ms, (unsigned long long)c->retries, (unsigned long long)c->failed,
                (unsigned long long)c->duplicates, c->pages_per_cpu_s.median, c->kib_per_task);
    }
    return ferror(f) ? -1 : 0;
}

int compare_write_markdown(FILE *f, const compare_report_t *r) {
    fprintf(f, "| model | concurrency | pages | seconds (min..max) | pages/s | vs %s | x ideal | p50 ms | p99 ms |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", models_baseline()->name);
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        fprintf(f, "| %s | %u | %llu | %.3f (%.3f..%.3f) | %.1f | %.2f x +- %.2f | %.2f | %.2f | %.2f |\n", c->model,
                c->concurrency, (unsigned long long)c->pages, c->elapsed.median, c->elapsed.min, c->elapsed.max,
                c->pages_per_s.median, c->speedup, c->speedup_err, c->over_ideal, c->p50_ms, c->p99_ms);
    }
    fprintf(f, "\n%s, start page `%s`, at most %llu pages, median of %u runs.\n", r->url, r->start,
            (unsigned long long)r->cfg.max_pages, r->cfg.repeat);
    compare_lesson_t l;
    if (r->cfg.regime != COMPARE_REGIME_NONE && compare_lesson(r, &l) == 0)
        fprintf(f, "\n**Lesson.** %s\n", l.text);
    return ferror(f) ? -1 : 0;
}
