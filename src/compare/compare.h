/* `crawlbench compare`: the guide's performance comparison. Runs every crawl model from the same
 * start page with the same cap (each as a child `crawlbench crawl --json`, so a model's memory and
 * threads are its own), against an embedded server or a given one, resets the server's audit
 * between runs, repeats each measurement, and summarises the way hyperfine does (median, range,
 * deviation, outliers, speedup with its uncertainty). Reports: a table, compare.json, CSV,
 * Markdown, compare.svg and report.html; with a regime, each opens with the lesson drawn from the runs
 * (lesson.c), and a tour of regimes gets a page of its own (tour.c).
 *
 * Conventions: functions return 0, or -1 with a message in err (COMPARE_ERR_LEN). */
#ifndef CRAWLBENCH_COMPARE_H
#define CRAWLBENCH_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define COMPARE_ERR_LEN 512
#define COMPARE_MAX_MODELS 16
#define COMPARE_MAX_LEVELS 32

/* One crawl the comparison asks for. */
typedef struct compare_job {
    const char *url;            /* the server */
    const char *model;
    const char *start;          /* a page id */
    uint32_t concurrency;
    uint64_t max_pages;
} compare_job_t;

/* What a comparison is meant to show: its lesson (one sentence, its figures computed from the runs),
 * the figure its chart plots, and the column its table adds. COMPARE_REGIME_NONE: a plain comparison. */
typedef enum compare_regime {
    COMPARE_REGIME_NONE,
    COMPARE_REGIME_LATENCY, /* pages/s: waiting is what concurrency hides */
    COMPARE_REGIME_CPU,     /* pages per CPU-second: at zero latency a model's own cost decides */
    COMPARE_REGIME_CONNS,   /* KiB per task in flight and p99: what a thousand connections cost */
    COMPARE_REGIME_FAULTS,  /* the same pages fetched and failed by every model, at a different cost in time */
} compare_regime_t;

/* "latency" and so on; NULL for an unknown regime, or -1 from compare_regime_parse. */
const char *compare_regime_name(compare_regime_t g);
int compare_regime_parse(const char *s, compare_regime_t *out);

/* Starts job as a child process whose stdout, the read end *out_fd, carries the crawl's JSON result
 * (docs/crawl-result.schema.json) and whose exit status says whether it ran. The comparison only
 * reads results; how a crawl is started (the command line and its flags) is the caller's. Returns the
 * child's pid, or -1 with a message in err. */
typedef pid_t compare_launch_fn(const compare_job_t *job, void *arg, int *out_fd, char *err, size_t errlen);

typedef struct compare_config {
    const char *url;            /* the server: required */
    int embedded;               /* the caller started that server for this comparison (for the report) */
    compare_launch_fn *launch;  /* starts one crawl: required */
    void *launch_arg;
    const char *models[COMPARE_MAX_MODELS];
    size_t nmodels;
    uint32_t levels[COMPARE_MAX_LEVELS]; /* concurrency levels: one, or a sweep */
    size_t nlevels;
    int sweep;                  /* levels came from --sweep */
    uint32_t repeat;            /* measured runs per model and level */
    uint32_t warmup;            /* discarded runs before them */
    uint64_t max_pages;         /* the cap every crawl gets */
    const char *start;          /* start page id, or NULL: one random page for all runs */
    uint64_t run_timeout_us;    /* a crawl taking longer is killed and the comparison fails */
    int progress;               /* progress on stderr */
    compare_regime_t regime;    /* the lesson the reports draw */
} compare_config_t;

/* One crawl, as its --json result and the server's audit after it. */
typedef struct compare_run {
    double elapsed_s, pages_per_s, ideal_s, over_ideal, p50_ms, p99_ms;
    uint64_t pages, failed, retries, requests, peak_rss_kb, start_rss_kb;
    double cpu_s;               /* the crawl's client CPU while its model ran */
    uint32_t peak_in_flight;
    uint64_t duplicates;        /* the server's duplicate fetches during this run */
    uint64_t errors_served;     /* non-200 answers the server gave to /api during this run */
    uint64_t throttled;         /* the crawl's attempts answered 429 */
} compare_run_t;

typedef struct compare_stat {
    double median, mean, min, max, stddev;
    uint32_t outliers;          /* runs whose modified z-score exceeds 3.5 (hyperfine's rule) */
} compare_stat_t;

/* One model at one concurrency level: its runs and their summary. */
typedef struct compare_cell {
    char model[16];
    uint32_t concurrency;       /* as asked; sequential always runs with 1 */
    compare_run_t runs[64];
    uint32_t nruns;
    compare_stat_t elapsed, pages_per_s;
    double speedup, speedup_err; /* median time of sequential / this, with propagated deviation */
    double ideal_s, over_ideal;  /* medians */
    double p50_ms, p99_ms;       /* medians */
    compare_stat_t pages_per_cpu_s; /* compare_run_pages_per_cpu_s over the runs */
    double kib_per_task;         /* median of compare_run_kib_per_task */
    uint64_t pages;              /* median */
    uint64_t retries, failed, duplicates, throttled; /* the largest over runs */
    char warning[160];           /* spread too wide, outliers, duplicates: "" when none */
} compare_cell_t;

typedef struct compare_report {
    compare_config_t cfg;
    char url[256];
    int embedded;
    char start[72];
    char server_latency[64], server_faults[128];
    uint32_t server_pages;
    uint64_t server_seed;
    char machine[512];          /* JSON object text: cores, cpu, kernel, compiler, versions */
    compare_cell_t *cells;      /* models x levels, model-major */
    size_t ncells;
    double total_s;
} compare_report_t;

/* Runs the whole comparison. report must be freed with compare_report_free() in every case. */
int compare_run(const compare_config_t *cfg, compare_report_t *report, char *err);
void compare_report_free(compare_report_t *r);

/* Summary statistics of n values (n >= 1). */
void compare_stat_of(const double *v, size_t n, compare_stat_t *out);

/* Figures derived from one run, 0 where they cannot be: pages over the client CPU seconds, and the
 * memory its tasks in flight cost, (peak RSS - RSS at the start) / peak in flight, in KiB. */
double compare_run_pages_per_cpu_s(const compare_run_t *run);
double compare_run_kib_per_task(const compare_run_t *run);

/* A regime's lesson, from the report alone. holds is 0 when the data contradicts it (in the faults
 * regime: models that disagree on the pages fetched or failed, which is a bug); text is one sentence
 * for a person and figure the number it turns on (a ratio, KiB, seconds), for a test or a script. */
typedef struct compare_lesson {
    char text[640];
    double figure;
    int holds;
} compare_lesson_t;

/* 0 with the lesson; -1 when the report has no regime or too little to draw it from (text says why). */
int compare_lesson(const compare_report_t *r, compare_lesson_t *out);

/* Outputs. The writers return 0, or -1 with errno set. */
void compare_print_table(FILE *f, const compare_report_t *r);
int compare_write_json(FILE *f, const compare_report_t *r);
int compare_write_csv(FILE *f, const compare_report_t *r);
int compare_write_markdown(FILE *f, const compare_report_t *r);
int compare_write_svg(FILE *f, const compare_report_t *r);
int compare_write_html(FILE *f, const compare_report_t *r);

/* The tour: one page with a section per regime (its lesson, its chart, a link to its full report in
 * DIR/report.html) and sections written elsewhere (the analysis, whose figures come from another
 * command), in order. A section has either a report or its own lesson text and SVG. */
typedef struct compare_tour_section {
    const char *name;           /* a folder under the tour's directory, and the section's anchor */
    const char *title;
    const char *command;        /* the command that reproduces it */
    const char *link;           /* its full report, relative to the tour page */
    const compare_report_t *report; /* NULL: lesson and svg below */
    const char *lesson;
    const char *svg;            /* an SVG document, or NULL */
    int holds;
} compare_tour_section_t;

int compare_write_tour(FILE *f, const compare_tour_section_t *s, size_t n, double total_s);
/* The terminal's short form: a title, the table without its footnotes, the lesson. */
void compare_print_brief(FILE *f, const compare_report_t *r, const char *title);

/* Internal to src/compare/ (svg.c, html.c, tour.c): writes s as XML/HTML text or attribute content, markup
 * characters as entities, control characters and bytes that are not valid UTF-8 as '?', so that a
 * hostile URL or model name cannot break the document. */
void compare__escape(FILE *f, const char *s);

/* Internal (output.c, html.c): the one column a regime adds to the tables, the figure its lesson turns
 * on; head is NULL when it adds none. */
typedef struct compare__column {
    const char *head;
    double (*of)(const compare_cell_t *);
} compare__column_t;
compare__column_t compare__regime_column(const compare_report_t *r);

/* Internal (html.c, tour.c): a page's doctype, head with the shared style sheet, and <main>; and
 * compare.svg of a report, inline in a <figure> with its caption. */
void compare__html_open(FILE *f, const char *title);
int compare__html_chart(FILE *f, const compare_report_t *r);

#endif
