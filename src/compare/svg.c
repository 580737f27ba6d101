/* compare.svg: the comparison as a chart, plain SVG written by hand: no scripts, no external fonts or
 * links, every string escaped, so it renders the same as a file, in an <img>, in a README and inline
 * in report.html. One concurrency level gives horizontal bars, one per model, of the figure the
 * comparison's regime turns on (pages/s; pages per CPU-second; KiB per task in flight); a sweep gives
 * lines of pages/s. */
#include "compare/compare.h"

#include "crawl/models/models.h"

#include <math.h>
#include <string.h>

#define SVG_W 900
#define SVG_FONT "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
#define INK "#1f2328"   /* text and whiskers */
#define MUTED "#57606a" /* subtitles, tick labels */
#define GRID "#d8dee4"

/* Bars: a row per cell; the plot spans BAR_X0..BAR_X1 and leaves room for the value on the right. */
#define BAR_TOP 72
#define BAR_ROW 28
#define BAR_H 16
#define BAR_X0 178
#define BAR_X1 (SVG_W - 84)

/* Lines: a fixed canvas, the legend to the right of the plot. */
#define LINE_H 500
#define LINE_X0 78
#define LINE_X1 690
#define LINE_Y0 76
#define LINE_Y1 426

/* A colour per model, the same in every report, by the model's place in the table of models:
 * Okabe-Ito first (safe for the common colour blindnesses), then Paul Tol's. The baseline is a
 * neutral grey; a model this build does not know takes the next colour after the known ones. */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00",
                                      "#882255", "#332288", "#44AA99", "#999933", "#AA4499", "#117733",
                                      "#DDAA33", "#000000", "#6699CC", "#EE6677"};
#define BASELINE_COLOUR "#6e7781"
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

void compare__escape(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        size_t i = 1;
        while (i < len && (p[i] & 0xC0) == 0x80)
            i++;
        if (len == 0 || i < len || (len == 2 && c < 0xC2)) { /* invalid or overlong lead */
            fputc('?', f), p++;
            continue;
        }
        if (len > 1) {
            fwrite(p, 1, len, f), p += len;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(c < 0x20 && c != '\t' && c != '\n' ? '?' : c, f);
        }
        p++;
    }
}

/* 12.3k style: three significant figures at most, trailing zeros dropped (1.5k, 2k, 412, 0.25). */
static const char *svg_num(double v, char *buf, size_t cap) {
    double a = fabs(v);
    const char *unit = "";
    if (!isfinite(v)) return snprintf(buf, cap, "-"), buf;
    if (a >= 1e6)
        v /= 1e6, a /= 1e6, unit = "M";
    else if (a >= 1e3)
        v /= 1e3, a /= 1e3, unit = "k";
    snprintf(buf, cap, "%.*f", a >= 100 || a == 0 ? 0 : a >= 10 ? 1 : 2, v);
    if (strchr(buf, '.')) { /* 2.50 -> 2.5, 2.00 -> 2 */
        char *e = buf + strlen(buf) - 1;
        while (*e == '0')
            *e-- = '\0';
        if (*e == '.') *e = '\0';
    }
    strncat(buf, unit, cap - strlen(buf) - 1);
    return buf;
}

/* The smallest round tick step (1, 2, 2.5 or 5 times a power of ten) giving at most `ticks` intervals;
 * *top becomes the axis end, the first multiple of the step at or above max. */
static double svg_nice_step(double max, int ticks, double *top) {
    if (!(max > 0) || !isfinite(max)) max = 1;
    double raw = max / ticks, mag = pow(10, floor(log10(raw))), n = raw / mag;
    double step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
    *top = ceil(max / step - 1e-9) * step;
    return step;
}

static int svg_is_baseline(const char *model) {
    const crawl_engine_t *e = models_find(model);
    return e && e == models_baseline();
}

static const char *svg_colour(const compare_report_t *r, const char *model) {
    int known = 0, base = models_index(models_baseline()->name), idx = models_index(model);
    while (models_all[known]) known++;
    if (idx == base) return BASELINE_COLOUR;
    if (idx >= 0) return palette[(size_t)(idx > base ? idx - 1 : idx) % NPALETTE];
    /* An unknown model takes the next colour, counted in the order unknown models first appear. */
    size_t unknown = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        const char *m = r->cells[i].model;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(r->cells[j].model, m);
        if (seen || models_index(m) >= 0) continue;
        if (!strcmp(m, model)) break;
        unknown++;
    }
    return palette[((size_t)known - 1 + unknown) % NPALETTE];
}

static double finite_or_0(double v) { return isfinite(v) && v > 0 ? v : 0; }

/* What the bars show: a figure of each run, its median over a cell's runs, and the ideal, if any. */
typedef struct svg_metric {
    const char *title, *axis, *unit;
    double (*of_run)(const compare_run_t *);
    double (*median)(const compare_cell_t *);
    double (*ideal)(const compare_cell_t *); /* NULL: no ideal to draw */
} svg_metric_t;

static double run_rate(const compare_run_t *run) { return run->pages_per_s; }
static double cell_rate_median(const compare_cell_t *c) { return c->pages_per_s.median; }
static double cell_cpu_median(const compare_cell_t *c) { return c->pages_per_cpu_s.median; }
static double cell_kib_median(const compare_cell_t *c) { return c->kib_per_task; }

static double cell_ideal_rate(const compare_cell_t *c) {
    return c->ideal_s > 0 && isfinite(c->ideal_s) ? finite_or_0((double)c->pages / c->ideal_s) : 0;
}

static const svg_metric_t metric_rate = {"Pages per second by model", "pages per second (higher is better)",
                                         "pages/s", run_rate, cell_rate_median, cell_ideal_rate};
static const svg_metric_t metric_cpu = {"Pages per CPU-second by model",
                                        "pages per CPU-second of the crawler (higher is better)", "pages/CPU-s",
                                        compare_run_pages_per_cpu_s, cell_cpu_median, NULL};
static const svg_metric_t metric_kib = {"Memory per request in flight",
                                        "KiB of resident memory per request in flight (lower is better)", "KiB",
                                        compare_run_kib_per_task, cell_kib_median, NULL};

static const svg_metric_t *svg_metric(const compare_report_t *r) {
    if (r->cfg.regime == COMPARE_REGIME_CPU) return &metric_cpu;
    if (r->cfg.regime == COMPARE_REGIME_CONNS) return &metric_kib;
    return &metric_rate;
}

/* Median, min and max of a cell's figure, min and max over its runs (the median when it has none). */
static void cell_rate(const svg_metric_t *m, const compare_cell_t *c, double *med, double *lo, double *hi) {
    *med = finite_or_0(m->median(c));
    *lo = c->nruns ? INFINITY : *med;
    *hi = c->nruns ? 0 : *med;
    for (uint32_t j = 0; j < c->nruns; j++) {
        double v = finite_or_0(m->of_run(&c->runs[j]));
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
    if (!isfinite(*lo)) *lo = 0;
}

static double cell_ideal(const svg_metric_t *m, const compare_cell_t *c) { return m->ideal ? m->ideal(c) : 0; }

static void svg_open(FILE *f, const compare_report_t *r, int w, int h, const char *title) {
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"%s\" font-size=\"12\" fill=\"%s\" role=\"img\">\n",
            w, h, w, h, SVG_FONT, INK);
    fprintf(f, "<title>%s</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", title, w, h);
    fprintf(f, "<text x=\"24\" y=\"30\" font-size=\"17\" font-weight=\"600\">%s</text>\n", title);
    /* The subtitle: what was crawled, so the chart still says it when it travels alone. */
    fprintf(
        f,
        "<text x=\"24\" y=\"50\" fill=\"%s\">median of %u run%s per point &#183; ", MUTED, r->cfg.repeat,
        r->cfg.repeat == 1 ? "" : "s");
    if (r->server_pages && r->cfg.max_pages >= r->server_pages) fputs("no cap", f);
    else fprintf(f, "at most %llu pages", (unsigned long long)r->cfg.max_pages);
    fputs(" &#183; latency ", f);
    compare__escape(f, r->server_latency[0] ? r->server_latency : "?");
    fputs(" &#183; ", f);
    compare__escape(f, r->url);
    fputs(r->embedded ? " (embedded)</text>\n" : "</text>\n", f);
}

/* The ticks of a linear x axis under the bars, with their grid lines up to the first row. */
static void bars_axis(FILE *f, const svg_metric_t *m, double top, double step, int y_top, int y_axis) {
    char num[32];
    for (double v = 0; v <= top + step / 2; v += step) {
        double x = BAR_X0 + (BAR_X1 - BAR_X0) * v / top;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>\n", x, y_top, x, y_axis,
                v == 0 ? MUTED : GRID);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n", x, y_axis + 16,
                MUTED, svg_num(v, num, sizeof(num)));
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
            (BAR_X0 + BAR_X1) / 2, y_axis + 34, MUTED, m->axis);
}

/* One model's row: the ideal as a pale bar with an edge, the median as a solid bar, the runs' range
 * as a whisker, and the median's value just past whatever ends furthest right of the bar itself. */
static void bars_row(FILE *f, const svg_metric_t *m, const compare_report_t *r, const compare_cell_t *c, int y,
                     double top) {
    double med, lo, hi, ideal = cell_ideal(m, c), k = (BAR_X1 - BAR_X0) / top;
    char num[32];
    cell_rate(m, c, &med, &lo, &hi);
    const char *col = svg_colour(r, c->model);
    int cy = y + BAR_ROW / 2, by = cy - BAR_H / 2;
    fputs("<g>\n<title>", f);
    compare__escape(f, c->model);
    fprintf(f, ": median %.1f %s, runs %.1f..%.1f", med, m->unit, lo, hi);
    fprintf(f, m->ideal ? ", ideal %.1f</title>\n" : "</title>\n", ideal);
    char lvl[16];
    int lw = snprintf(lvl, sizeof(lvl), "c=%u", c->concurrency); /* the name ends where this label begins */
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-weight=\"600\">", BAR_X0 - 22 - 7 * lw, cy + 4);
    compare__escape(f, c->model);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"%s\">%s</text>\n", BAR_X0 - 10,
            cy + 4, MUTED, lvl);
    if (ideal > 0)
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"0.16\"/>\n"
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" "
                "stroke-dasharray=\"3 2\"/>\n",
                BAR_X0, by - 3, ideal * k, BAR_H + 6, col, BAR_X0 + ideal * k, by - 3, BAR_X0 + ideal * k,
                by + BAR_H + 3, col);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"1.5\"/>\n", BAR_X0, by,
            med * k, BAR_H, col);
    if (hi > lo)
        fprintf(f,
                "<path d=\"M%.1f %dv8M%.1f %dh%.1fM%.1f %dv8\" stroke=\"%s\" stroke-width=\"1.3\" "
                "fill=\"none\"/>\n",
                BAR_X0 + lo * k, cy - 4, BAR_X0 + lo * k, cy, (hi - lo) * k, BAR_X0 + hi * k, cy - 4, INK);
    /* The value goes past the whisker, and past the ideal's edge too when that would cross it. */
    double lx = BAR_X0 + fmax(med, hi) * k + 6, ix = BAR_X0 + ideal * k;
    svg_num(med, num, sizeof(num));
    if (ideal > 0 && ix > lx - 4 && ix < lx + 7.5 * (double)strlen(num) + 4) lx = ix + 6;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-weight=\"600\" stroke=\"#ffffff\" stroke-width=\"3\" "
            "paint-order=\"stroke\">%s</text>\n</g>\n",
            lx, cy + 4, num);
}

/* The key under the bars: solid bar, whisker, ideal. */
static void bars_legend(FILE *f, const svg_metric_t *m, int y) {
    fprintf(f,
            "<g fill=\"%s\">\n<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"10\" fill=\"#6e7781\"/>\n"
            "<text x=\"%d\" y=\"%d\">median %s</text>\n",
            MUTED, BAR_X0, y - 9, BAR_X0 + 28, y, m->unit);
    fprintf(f,
            "<path d=\"M%d %dv8M%d %dh20M%d %dv8\" stroke=\"%s\" stroke-width=\"1.3\"/>\n"
            "<text x=\"%d\" y=\"%d\">fastest..slowest run</text>\n",
            BAR_X0 + 150, y - 8, BAR_X0 + 150, y - 4, BAR_X0 + 170, y - 8, INK, BAR_X0 + 176, y);
    if (!m->ideal) {
        fputs("</g>\n", f);
        return;
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"12\" fill=\"#6e7781\" "
            "fill-opacity=\"0.16\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#6e7781\" "
            "stroke-width=\"2\" stroke-dasharray=\"3 2\"/>\n<text x=\"%d\" y=\"%d\">ideal: zero client CPU, "
            "the server's own times</text>\n</g>\n",
            BAR_X0 + 318, y - 10, BAR_X0 + 340, y - 11, BAR_X0 + 340, y + 3, BAR_X0 + 346, y);
}

static int svg_bars(FILE *f, const compare_report_t *r) {
    const svg_metric_t *m = svg_metric(r);
    size_t n = r->ncells;
    int y_axis = BAR_TOP + (int)n * BAR_ROW + 4, h = y_axis + 76;
    double max = 0;
    for (size_t i = 0; i < n; i++) {
        double med, lo, hi;
        cell_rate(m, &r->cells[i], &med, &lo, &hi);
        max = fmax(max, fmax(hi, fmax(med, cell_ideal(m, &r->cells[i]))));
    }
    double top, step = svg_nice_step(max, 7, &top);
    svg_open(f, r, SVG_W, h, m->title);
    bars_axis(f, m, top, step, BAR_TOP - 4, y_axis);
    for (size_t i = 0; i < n; i++)
        bars_row(f, m, r, &r->cells[i], BAR_TOP + (int)i * BAR_ROW, top);
    bars_legend(f, m, y_axis + 62);
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

/* The concurrency of cell i on the x axis. A sweep runs every model at every level, model-major, so
 * the level is the asked one: the baseline records 1 (it always runs alone) yet belongs on each level. */
static uint32_t line_level(const compare_report_t *r, size_t i) {
    const compare_config_t *cfg = &r->cfg;
    if (cfg->nlevels && r->ncells == cfg->nmodels * cfg->nlevels) return cfg->levels[i % cfg->nlevels];
    return r->cells[i].concurrency;
}

/* A marker shape per model as well as a colour, so the lines can be told apart in grey too. */
static void line_marker(FILE *f, int shape, double x, double y, const char *col) {
    const char *attr = "stroke=\"#ffffff\" stroke-width=\"1.2\"";
    switch (shape % 4) {
    case 0:
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.2\" fill=\"%s\" %s/>\n", x, y, col, attr);
        break;
    case 1:
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\" %s/>\n", x - 4, y - 4,
                col, attr);
        break;
    case 2: fprintf(f, "<path d=\"M%.1f %.1fl5 5-5 5-5-5z\" fill=\"%s\" %s/>\n", x, y - 5, col, attr); break;
    default: fprintf(f, "<path d=\"M%.1f %.1fl5 9h-10z\" fill=\"%s\" %s/>\n", x, y - 5.5, col, attr); break;
    }
}

static double line_x(const uint32_t *lv, size_t nlv, uint32_t level) {
    if (nlv < 2 || level == 0) return (LINE_X0 + LINE_X1) / 2.0;
    double a = log2(lv[0]), b = log2(lv[nlv - 1]), pad = 28;
    return LINE_X0 + pad + (LINE_X1 - LINE_X0 - 2 * pad) * (log2(level) - a) / (b - a);
}

/* The axes of the line chart: x at each level on a log2 scale, y linear from 0 with round ticks. */
static void lines_axes(FILE *f, const uint32_t *lv, size_t nlv, double top, double step) {
    char num[32];
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = LINE_Y1 - (LINE_Y1 - LINE_Y0) * v / top;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n", LINE_X0, y, LINE_X1,
                y, v == 0 ? MUTED : GRID);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">%s</text>\n", LINE_X0 - 8,
                y + 4, MUTED, svg_num(v, num, sizeof(num)));
    }
    for (size_t i = 0; i < nlv; i++) {
        double x = line_x(lv, nlv, lv[i]);
        fprintf(
            f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-dasharray=\"2 3\"/>\n",
            x, LINE_Y0, x, LINE_Y1, GRID);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%u</text>\n", x,
                LINE_Y1 + 18, MUTED, lv[i]);
    }
    fprintf(
        f,
        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">concurrency (transfers in flight, log2 "
        "scale)</text>\n",
        (LINE_X0 + LINE_X1) / 2, LINE_Y1 + 40, MUTED);
    fprintf(f,
            "<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\" fill=\"%s\">pages per "
            "second (median)</text>\n",
            (LINE_Y0 + LINE_Y1) / 2, MUTED);
}

/* One model: its range at each level as a faint whisker, the medians joined, a marker on each, and
 * its entry in the legend. Sequential is dashed: it is the same single-connection crawl everywhere. */
static void lines_model(FILE *f, const compare_report_t *r, size_t first, int idx, const uint32_t *lv,
                        size_t nlv, double top) {
    const char *model = r->cells[first].model, *col = svg_colour(r, model);
    double k = (LINE_Y1 - LINE_Y0) / top, xs[COMPARE_MAX_LEVELS * 2], ys[COMPARE_MAX_LEVELS * 2];
    size_t np = 0;
    fputs("<g>\n<title>", f);
    compare__escape(f, model);
    fputs("</title>\n", f);
    for (size_t i = first; i < r->ncells && np < sizeof(xs) / sizeof(xs[0]); i++) {
        if (strcmp(r->cells[i].model, model)) continue;
        double med, lo, hi;
        cell_rate(&metric_rate, &r->cells[i], &med, &lo, &hi);
        xs[np] = line_x(lv, nlv, line_level(r, i)), ys[np] = LINE_Y1 - med * k;
        if (hi > lo)
            fprintf(
                f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-opacity=\"0.45\" "
                "stroke-width=\"1.5\"/>\n",
                xs[np], LINE_Y1 - lo * k, xs[np], LINE_Y1 - hi * k, col);
        np++;
    }
    fprintf(
        f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-linejoin=\"round\"%s points=\"",
        col, svg_is_baseline(model) ? " stroke-dasharray=\"6 4\"" : "");
    for (size_t p = 0; p < np; p++)
        fprintf(f, "%s%.1f,%.1f", p ? " " : "", xs[p], ys[p]);
    fputs("\"/>\n", f);
    for (size_t p = 0; p < np; p++)
        line_marker(f, idx, xs[p], ys[p], col);
    int ly = LINE_Y0 + 8 + idx * 22;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.2\"%s/>\n",
            LINE_X1 + 30, ly, LINE_X1 + 58, ly, col,
            svg_is_baseline(model) ? " stroke-dasharray=\"6 4\"" : "");
    line_marker(f, idx, LINE_X1 + 44, ly, col);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", LINE_X1 + 66, ly + 4);
    compare__escape(f, model);
    fputs(svg_is_baseline(model) ? " (always 1)</text>\n</g>\n" : "</text>\n</g>\n", f);
}

static int svg_lines(FILE *f, const compare_report_t *r) {
    uint32_t lv[COMPARE_MAX_LEVELS * 2];
    size_t nlv = 0;
    double max = 0;
    for (size_t i = 0; i < r->ncells; i++) { /* the distinct levels, kept sorted */
        uint32_t l = line_level(r, i), j = 0;
        double med, lo, hi;
        cell_rate(&metric_rate, &r->cells[i], &med, &lo, &hi);
        max = fmax(max, hi);
        while (j < nlv && lv[j] < l)
            j++;
        if (l == 0 || (j < nlv && lv[j] == l) || nlv == sizeof(lv) / sizeof(lv[0])) continue;
        memmove(lv + j + 1, lv + j, (nlv - j) * sizeof(*lv));
        lv[j] = l, nlv++;
    }
    double top, step = svg_nice_step(max, 6, &top);
    svg_open(f, r, SVG_W, LINE_H, "Pages per second by concurrency");
    lines_axes(f, lv, nlv, top, step);
    int idx = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(r->cells[j].model, r->cells[i].model);
        if (!seen) lines_model(f, r, i, idx++, lv, nlv, top);
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" fill=\"%s\">faint vertical strokes:<tspan x=\"%d\" dy=\"15\">fastest "
            "to slowest run</tspan></text>\n",
            LINE_X1 + 30, LINE_Y0 + 8 + idx * 22 + 12, MUTED, LINE_X1 + 30);
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

int compare_write_svg(FILE *f, const compare_report_t *r) {
    return r->cfg.sweep ? svg_lines(f, r) : svg_bars(f, r);
}
