/* report.html: the comparison as one self-contained page for someone learning concurrency: the setup,
 * the results table, the chart (compare.svg, inline), what "x ideal" means, and what each model is and
 * when to reach for it; with a regime, its lesson first. Inline CSS only: no scripts, no network; every
 * string from the report escaped. The tour page (tour.c) shares the style sheet and the chart. */
#include "compare/compare.h"

#include "crawl/models/models.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


/* printf, escaped: for text that mixes the report's strings with numbers. */
__attribute__((format(printf, 2, 3))) static void html_escf(FILE *f, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    compare__escape(f, buf);
}

static const char html_css[] =
    ":root{--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--warn:#fff8c5;--warn-ink:#7d4e00}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#fff;color:var(--ink);font:15px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif}\n"
    "main{max-width:1160px;margin:0 auto;padding:36px 32px 56px}\n"
    "h1{font-size:28px;margin:0 0 6px;letter-spacing:-.01em}\n"
    "h2{font-size:19px;margin:40px 0 14px;padding-bottom:6px;border-bottom:1px solid var(--line)}\n"
    "h3{font-size:16px;margin:0 0 4px}\n"
    ".lead{color:var(--muted);margin:0;max-width:820px}\n"
    "p{max-width:860px}\n"
    "code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);"
    "padding:1px 5px;border-radius:4px}\n"
    "dl.setup{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:7px 20px;margin:0;"
    "padding:16px 20px;background:var(--soft);border-radius:8px}\n"
    "dl.setup dt{color:var(--muted)}dl.setup dd{margin:0;overflow-wrap:anywhere}\n"
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:13.5px;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:7px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}\n"
    "th{background:var(--soft);font-weight:600;border-bottom:2px solid var(--line);vertical-align:bottom}\n"
    "th:first-child,td:first-child{text-align:left}\n"
    "td.model{font-weight:600}\n"
    ".sub{color:var(--muted);font-weight:400}\n"
    "tr.warn td{background:var(--warn)}\n"
    "tr.group td{border-top:2px solid var(--line)}\n"
    "tr.note td{text-align:left;white-space:normal;color:var(--warn-ink);font-size:12.5px;padding-top:0}\n"
    "figure{margin:0}figure svg{display:block;width:100%;height:auto;border:1px solid var(--line);"
    "border-radius:8px}\n"
    "figcaption,.small{color:var(--muted);font-size:13px;margin-top:8px}\n"
    ".models{display:grid;grid-template-columns:1fr 1fr;gap:14px}\n"
    ".models article{display:flex;flex-direction:column;border:1px solid var(--line);border-radius:8px;"
    "padding:14px 18px}\n"
    ".models article p{margin:6px 0 0;font-size:14px}\n"
    ".models .here{color:var(--muted);font-size:13px;margin-top:auto;padding-top:8px}\n"
    "footer{margin-top:44px;color:var(--muted);font-size:12.5px}\n"
    ".lesson{max-width:none;padding:12px 16px;border-left:4px solid #0072B2;background:var(--soft);"
    "border-radius:4px}\n"
    ".lesson.bug{border-left-color:#cf222e;background:#ffebe9}\n"
    "@media (max-width:760px){.models{grid-template-columns:1fr}\n"
    "dl.setup{grid-template-columns:max-content 1fr}}\n";

/* The distinct models of the report, in order of first appearance. */
static size_t html_models(const compare_report_t *r, const char **out) {
    size_t n = 0;
    for (size_t i = 0; i < r->ncells && n < COMPARE_MAX_MODELS; i++) {
        size_t j = 0;
        while (j < n && strcmp(out[j], r->cells[i].model))
            j++;
        if (j == n) out[n++] = r->cells[i].model;
    }
    return n;
}

void compare__html_open(FILE *f, const char *title) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    compare__escape(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", html_css);
}

/* The regime's lesson, first: what this comparison was run to show, with its figures. */
static void html_lesson(FILE *f, const compare_report_t *r) {
    compare_lesson_t l;
    if (r->cfg.regime == COMPARE_REGIME_NONE) return;
    int drawn = compare_lesson(r, &l) == 0;
    fprintf(f, "<h2>Lesson</h2>\n<p class=\"lesson%s\" id=\"lesson\">", drawn && l.holds ? "" : " bug");
    if (!drawn) fputs("Not drawn: ", f);
    compare__escape(f, l.text);
    fputs("</p>\n", f);
}

static void html_dt(FILE *f, const char *term) { fprintf(f, "<dt>%s</dt><dd>", term); }

/* One machine field from the report's JSON, or "?" when absent. */
static void html_machine_field(FILE *f, const cJSON *m, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    if (cJSON_IsString(v) && v->valuestring[0])
        compare__escape(f, v->valuestring);
    else if (cJSON_IsNumber(v))
        fprintf(f, "%g", v->valuedouble);
    else
        fputs("?", f);
}

static void html_setup(FILE *f, const compare_report_t *r) {
    const compare_config_t *cfg = &r->cfg;
    fputs("<h2>Setup</h2>\n<dl class=\"setup\">\n", f);
    html_dt(f, "Server");
    compare__escape(f, r->url);
    fputs(r->embedded ? " <span class=\"sub\">(embedded, started for this comparison)</span>" : "", f);
    fputs("</dd>", f);
    html_dt(f, "Graph");
    fprintf(f, "%u pages, seed %llu</dd>\n", r->server_pages, (unsigned long long)r->server_seed);
    html_dt(f, "Latency");
    compare__escape(f, r->server_latency[0] ? r->server_latency : "?");
    fputs("</dd>", f);
    html_dt(f, "Faults");
    compare__escape(f, r->server_faults[0] ? r->server_faults : "none");
    fputs("</dd>\n", f);
    html_dt(f, "Start page");
    fputs("<code>", f);
    compare__escape(f, r->start);
    fputs("</code></dd>", f);
    html_dt(f, "Pages per crawl");
    fprintf(f, "at most %llu</dd>\n", (unsigned long long)cfg->max_pages);
    html_dt(f, "Runs");
    fprintf(f, "%u measured, after %u warm-up</dd>", cfg->repeat, cfg->warmup);
    html_dt(f, "Total time");
    fprintf(f, "%.1f s</dd>\n", r->total_s);
    cJSON *m = cJSON_Parse(r->machine);
    if (cJSON_IsObject(m)) {
        static const char *const keys[][2] = {{"cpu", "CPU"},         {"cores", "Cores"},
                                              {"kernel", "Kernel"},   {"compiler", "Compiler"},
                                              {"libcurl", "libcurl"}, {"cjson", "cJSON"}};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            html_dt(f, keys[i][1]);
            html_machine_field(f, m, keys[i][0]);
            fputs(i % 2 ? "</dd>\n" : "</dd>", f);
        }
    } else {
        html_dt(f, "Machine");
        compare__escape(f, r->machine[0] ? r->machine : "not recorded");
        fputs("</dd>\n", f);
    }
    cJSON_Delete(m);
    fputs("</dl>\n", f);
}

/* The results, with the columns of compare_print_table; a cell with a warning is highlighted and its
 * warning follows on a row of its own. */
static void html_table(FILE *f, const compare_report_t *r) {
    compare__column_t col = compare__regime_column(r);
    fprintf(f, "<h2>Results</h2>\n<div class=\"scroll\"><table id=\"results\">\n<thead><tr><th>model</th>"
          "<th>concurrency</th><th>pages</th><th>seconds<br><span class=\"sub\">median (min..max)</span></th>"
          "<th>pages/s</th><th>vs %s<br><span class=\"sub\">speedup &#177; err</span></th>"
          "<th>&#215; ideal</th><th>p50 ms</th><th>p99 ms</th><th>retries /<br>failed</th><th>duplicates</th>"
          "%s%s%s</tr></thead>\n<tbody>\n",
          models_baseline()->name, col.head ? "<th>" : "", col.head ? col.head : "", col.head ? "</th>" : "");
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        /* In a sweep a model has a row per level: a heavier rule where the next model starts. */
        int group = i > 0 && strcmp(r->cells[i - 1].model, c->model) != 0;
        fprintf(f, "<tr class=\"row%s%s\"><td class=\"model\">", c->warning[0] ? " warn" : "",
                group ? " group" : "");
        compare__escape(f, c->model);
        fprintf(
            f,
            "</td><td>%u</td><td>%llu</td><td>%.3f <span class=\"sub\">(%.3f..%.3f)</span></td><td>%.1f</td>",
            c->concurrency, (unsigned long long)c->pages, c->elapsed.median, c->elapsed.min, c->elapsed.max,
            c->pages_per_s.median);
        if (c->speedup > 0)
            fprintf(f, "<td>%.2f&#215; <span class=\"sub\">&#177; %.2f</span></td>", c->speedup,
                    c->speedup_err);
        else
            fputs("<td>&#8211;</td>", f);
        fprintf(f, "<td>%.2f&#215;</td><td>%.2f</td><td>%.2f</td><td>%llu / %llu</td><td>%llu</td>",
                c->over_ideal, c->p50_ms, c->p99_ms, (unsigned long long)c->retries,
                (unsigned long long)c->failed, (unsigned long long)c->duplicates);
        if (col.of) fprintf(f, "<td>%.1f</td>", col.of(c));
        fputs("</tr>\n", f);
        if (c->warning[0]) {
            fprintf(f, "<tr class=\"warn note\"><td colspan=\"%d\">&#9888; ", col.of ? 12 : 11);
            html_escf(f, "%s at concurrency %u: %s. This figure is less trustworthy than the others.",
                      c->model, c->concurrency, c->warning);
            fputs("</td></tr>\n", f);
        }
    }
    fprintf(f,
            "</tbody></table></div>\n<p class=\"small\">Each figure is the median of %u runs. <em>vs "
            "%s</em>: the %s crawl's median time over this one's, &#177; the propagated "
            "standard deviation. p50/p99: request latency seen by the crawler. retries/failed: the largest "
            "over the runs; duplicates: pages the server served twice during a run.</p>\n",
            r->cfg.repeat, models_baseline()->name, models_baseline()->name);
}

/* The chart: compare.svg itself, inline (without its XML declaration, which HTML does not take). */
int compare__html_chart(FILE *f, const compare_report_t *r) {
    char *svg = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&svg, &len);
    if (!mem) return -1;
    int rc = compare_write_svg(mem, r);
    if (fclose(mem) != 0) rc = -1;
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (rc == 0 && !start) rc = -1, errno = EINVAL;
    if (rc == 0) {
        fputs("<figure>\n", f);
        fwrite(start, 1, len - (size_t)(start - svg), f);
        static const char sweep_caption[] =
            "Median pages per second at each concurrency level; the faint vertical strokes span the fastest "
            "and slowest runs.";
        static const char bars_caption[] =
            "Solid bars: median pages per second; whiskers: fastest to slowest run; pale bars ending in a "
            "dashed edge: the ideal, the same crawl with zero CPU cost. The gap between a bar and its ideal "
            "is what the model itself costs.";
        static const char figure_caption[] =
            "Solid bars: the median over the runs; whiskers: the lowest to the highest run.";
        int figure = r->cfg.regime == COMPARE_REGIME_CPU || r->cfg.regime == COMPARE_REGIME_CONNS;
        const char *caption = r->cfg.sweep ? sweep_caption : figure ? figure_caption : bars_caption;
        fprintf(f, "<figcaption>%s The same chart is in compare.svg.</figcaption>\n</figure>\n", caption);
    }
    free(svg);
    return rc;
}

static void html_ideal(FILE *f) {
    fputs("<h2>What &#8220;&#215; ideal&#8221; means</h2>\n<p>Each crawl is replayed in a simulation with "
          "zero client CPU: every page holds one of the model's slots for exactly the time the server says "
          "it spent on the page's attempts (its <code>Server-Timing</code> header, which the client "
          "cannot move) plus the waits the retry policy imposed, at most as "
          "many requests are in flight as the model was allowed, and a page becomes fetchable only when a "
          "page linking to it has been fetched. <strong>&#215; ideal</strong> is the measured time over that "
          "simulated time: 1.00&#215; would be a perfect crawler, 1.50&#215; spends half as long again as "
          "latency alone requires. The ideal is not simply pages &#215; latency &#247; concurrency: pages at "
          "depth <em>k</em> of the crawl cannot start before <em>k</em> &#215; latency, however many slots "
          "are free, so a deep or narrow graph caps every model alike, and there more concurrency buys "
          "nothing. The gap between a model and its ideal is what the model itself costs: CPU, locks, "
          "scheduling, copying.</p>\n",
          f);
}

/* The cell to quote for a model: its fastest level. */
static const compare_cell_t *html_best(const compare_report_t *r, const char *model) {
    const compare_cell_t *best = NULL;
    for (size_t i = 0; i < r->ncells; i++)
        if (!strcmp(r->cells[i].model, model) &&
            (!best || r->cells[i].pages_per_s.median > best->pages_per_s.median))
            best = &r->cells[i];
    return best;
}

static void html_model(FILE *f, const compare_report_t *r, const char *model) {
    const crawl_engine_t *e = models_find(model);
    fputs("<article>\n<h3>", f);
    if (e) {
        fprintf(f,
                "%s</h3>\n<p><code>%s</code></p>\n<p><strong>How it works here.</strong> %s</p>\n"
                "<p><strong>When to use it.</strong> %s</p>\n",
                e->title, e->source, e->lesson, e->when);
    } else { /* a name from a compare.json of another build */
        compare__escape(f, model);
        fputs("</h3>\n<p>A model this build does not know.</p>\n", f);
    }
    const compare_cell_t *c = html_best(r, model);
    const crawl_engine_t *base = models_baseline();
    if (c) {
        fputs("<p class=\"here\">In this report: ", f);
        html_escf(f, "%.1f pages/s at concurrency %u", c->pages_per_s.median, c->concurrency);
        if (c->speedup > 0 && e != base) fprintf(f, ", %.2f&#215; %s", c->speedup, base->name);
        if (c->over_ideal > 0) fprintf(f, ", %.2f&#215; its ideal time", c->over_ideal);
        fputs(r->cfg.sweep ? " (its fastest level).</p>\n" : ".</p>\n", f);
    }
    fputs("</article>\n", f);
}

int compare_write_html(FILE *f, const compare_report_t *r) {
    const char *models[COMPARE_MAX_MODELS];
    size_t nm = html_models(r, models);
    char title[64];
    snprintf(title, sizeof(title), "crawlbench compare: %zu model%s", nm, nm == 1 ? "" : "s");
    compare__html_open(f, title);
    fputs("<h1>crawlbench compare</h1>\n<p class=\"lead\">", f);
    for (size_t i = 0; i < nm; i++) {
        compare__escape(f, models[i]);
        fputs(i + 2 < nm ? ", " : i + 2 == nm ? " and " : "", f);
    }
    html_escf(
        f,
        " crawled the same pages of the demo web graph, from the same start page with the same cap of %llu "
        "pages. Each was measured %u time%s; every figure below is the median.",
        (unsigned long long)r->cfg.max_pages, r->cfg.repeat, r->cfg.repeat == 1 ? "" : "s");
    fputs("</p>\n", f);
    html_lesson(f, r);
    html_setup(f, r);
    html_table(f, r);
    fputs("<h2>Chart</h2>\n", f);
    if (compare__html_chart(f, r) != 0) return -1;
    html_ideal(f);
    fputs("<h2>The models</h2>\n<p>Every model crawls the same way (take a page, fetch it, parse its links, "
          "hand them to the frontier); they differ only in how several pages are in progress at once, and in "
          "who may touch the frontier when.</p>\n<div class=\"models\">\n",
          f);
    for (size_t i = 0; i < nm; i++)
        html_model(f, r, models[i]);
    fputs(
        "</div>\n<footer>Generated by <code>crawlbench compare</code>. The same figures are in compare.json, "
        "compare.csv and compare.md.</footer>\n</main>\n</body>\n</html>\n",
        f);
    return ferror(f) ? -1 : 0;
}
