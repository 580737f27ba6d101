/* Runs the comparison against the server given: for every model and level a warm-up and `repeat`
 * measured crawls, each a child process started by the caller's launch function, whose JSON result
 * and the server's audit after it become one compare_run_t. */
#include "compare/compare.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/version.h"
#include "crawl/fetch.h"
#include "crawl/models/models.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct runner {
    const compare_config_t *cfg;
    compare_report_t *rep;
    char *err;
    CURL *easy;     /* for the server's own API: stats, reset */
    buf_t body;
    uint32_t done, total;
} runner_t;

static int fail(runner_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(runner_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, COMPARE_ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

/* GETs (or POSTs) a path of the server's API and parses the JSON answer. NULL with err on failure. */
static cJSON *api(runner_t *r, const char *path, int post) {
    char url[512];
    long status = 0;
    snprintf(url, sizeof(url), "%s%s", r->rep->url, path);
    buf_clear(&r->body);
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_POST, (long)post);
    if (post) curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, 0L);
    else curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
    CURLcode rc = curl_easy_perform(r->easy);
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        fail(r, "cannot reach %s: %s (is the server running?)", r->rep->url, curl_easy_strerror(rc));
        return NULL;
    }
    cJSON *doc = status == 200 ? cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len) : NULL;
    if (!doc)
        fail(r, "%s does not look like a crawlbench server: %s %s answered %ld%s", r->rep->url, post ? "POST" : "GET",
             path, status, status == 200 ? " without JSON" : "");
    return doc;
}

static double num(const cJSON *o, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The machine, as a JSON object built with cJSON (so any text in it is escaped). */
static void describe_machine(compare_report_t *rep) {
    struct utsname u;
    char cpu[128] = "unknown", kernel[160];
    FILE *f = fopen("/proc/cpuinfo", "r");
    for (char line[256]; f && fgets(line, sizeof(line), f);) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(cpu, sizeof(cpu), "%s", colon + 2);
            cpu[strcspn(cpu, "\n")] = '\0';
            break;
        }
    }
    if (f) fclose(f);
    uname(&u);
    snprintf(kernel, sizeof(kernel), "%s %s", u.sysname, u.release);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "crawlbench", CRAWLBENCH_VERSION);
    cJSON_AddNumberToObject(m, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddStringToObject(m, "cpu", cpu);
    cJSON_AddStringToObject(m, "kernel", kernel);
    cJSON_AddStringToObject(m, "compiler", __VERSION__);
    cJSON_AddStringToObject(m, "libcurl", curl_version_info(CURLVERSION_NOW)->version);
    cJSON_AddStringToObject(m, "cjson", cJSON_Version());
    char *text = cJSON_PrintUnformatted(m);
    snprintf(rep->machine, sizeof(rep->machine), "%s", text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(m);
}

/* Records what the report says about the server and the machine, and picks the start page. */
static int describe(runner_t *r) {
    compare_report_t *rep = r->rep;
    cJSON *stats = api(r, "/graph/stats", 0);
    if (!stats) return -1;
    rep->server_pages = (uint32_t)num(stats, "graph", "pages");
    rep->server_seed = (uint64_t)num(stats, "graph", "seed");
    snprintf(rep->server_latency, sizeof(rep->server_latency), "%s", str(stats, "server", "latency"));
    snprintf(rep->server_faults, sizeof(rep->server_faults), "%s", str(stats, "server", "faults"));
    cJSON_Delete(stats);
    if (r->cfg->start) {
        snprintf(rep->start, sizeof(rep->start), "%s", r->cfg->start);
    } else {
        char err[512];
        if (fetch_random_page(rep->url, 10000000, rep->start, sizeof(rep->start), err, sizeof(err)) < 0)
            return fail(r, "%s", err);
    }
    describe_machine(rep);
    return 0;
}

/* Runs one crawl as a child process (the caller's launch function) and reads its JSON result,
 * killing it when it runs past the timeout. */
static int crawl_child(runner_t *r, const char *model, uint32_t level, cJSON **out) {
    const compare_config_t *cfg = r->cfg;
    compare_job_t job = {.url = r->rep->url, .model = model, .start = r->rep->start, .concurrency = level,
                         .max_pages = cfg->max_pages};
    char lerr[256];
    int fd;
    pid_t pid = cfg->launch(&job, cfg->launch_arg, &fd, lerr, sizeof(lerr));
    if (pid < 0) return fail(r, "%s -c %u: %s", model, level, lerr);
    buf_t text = BUF_INIT;
    uint64_t deadline = clock_now_us() + cfg->run_timeout_us;
    int timed_out = 0;
    for (;;) {
        char chunk[4096];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = clock_now_us();
        if (now >= deadline) {
            timed_out = 1;
            break;
        }
        int n = poll(&p, 1, (int)((deadline - now) / 1000 + 1));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got <= 0) break;
        buf_append(&text, chunk, (size_t)got);
    }
    close(fd);
    if (timed_out) kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    *out = NULL;
    if (timed_out) fail(r, "%s -c %u did not finish within %.0f s", model, level, (double)cfg->run_timeout_us / 1e6);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail(r, "%s -c %u: the crawl failed (exit %d); run that model alone against %s to see why", model, level,
             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), r->rep->url);
    else if (!(*out = cJSON_ParseWithLength(text.data ? text.data : "", text.len)))
        fail(r, "%s -c %u: the crawl printed no JSON result", model, level);
    buf_free(&text);
    return *out ? 0 : -1;
}

/* One measured (or warm-up) run: reset the audit, crawl, read the audit. */
static int one_run(runner_t *r, const char *model, uint32_t level, compare_run_t *run) {
    cJSON *reset = api(r, "/graph/stats/reset", 1), *res = NULL, *stats = NULL;
    if (!reset) return -1;
    cJSON_Delete(reset);
    if (crawl_child(r, model, level, &res) < 0) return -1;
    if (!(stats = api(r, "/graph/stats", 0))) {
        cJSON_Delete(res);
        return -1;
    }
    *run = (compare_run_t){
        .elapsed_s = num(res, "elapsed_s", NULL), .pages_per_s = num(res, "pages_per_s", NULL),
        .ideal_s = num(res, "ideal_s", NULL), .over_ideal = num(res, "over_ideal", NULL),
        .p50_ms = num(res, "latency_ms", "p50"), .p99_ms = num(res, "latency_ms", "p99"),
        .pages = (uint64_t)num(res, "pages", NULL), .failed = (uint64_t)num(res, "failed", NULL),
        .retries = (uint64_t)num(res, "retries", NULL), .requests = (uint64_t)num(res, "requests", NULL),
        .peak_rss_kb = (uint64_t)num(res, "peak_rss_kb", NULL),
        .start_rss_kb = (uint64_t)num(res, "start_rss_kb", NULL), .cpu_s = num(res, "cpu_s", NULL),
        .peak_in_flight = (uint32_t)num(res, "peak_in_flight", NULL),
        .duplicates = (uint64_t)num(stats, "audit", "duplicate_fetches"),
        .throttled = (uint64_t)num(res, "attempts", "429"),
    };
    /* Everything /api answered that was not a 200. */
    const cJSON *api_counts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(stats, "audit"), "requests"), "api");
    const cJSON *c;
    cJSON_ArrayForEach(c, api_counts) if (strcmp(c->string, "200") != 0) run->errors_served += (uint64_t)c->valuedouble;
    cJSON_Delete(res);
    cJSON_Delete(stats);
    return 0;
}

static void show_progress(runner_t *r, const char *model, uint32_t level, uint32_t run, uint32_t runs, int warm) {
    if (!r->cfg->progress) return;
    fprintf(stderr, "\r  [%3u/%u] %-11s c=%-5u %s %u/%u   ", r->done + 1, r->total, model, level,
            warm ? "warm-up" : "run    ", run, runs);
}

static int measure_cell(runner_t *r, compare_cell_t *cell) {
    const compare_config_t *cfg = r->cfg;
    compare_run_t scratch;
    for (uint32_t i = 0; i < cfg->warmup; i++) {
        show_progress(r, cell->model, cell->concurrency, i + 1, cfg->warmup, 1);
        if (one_run(r, cell->model, cell->concurrency, &scratch) < 0) return -1;
        r->done++;
    }
    for (uint32_t i = 0; i < cfg->repeat; i++) {
        show_progress(r, cell->model, cell->concurrency, i + 1, cfg->repeat, 0);
        if (one_run(r, cell->model, cell->concurrency, &cell->runs[cell->nruns]) < 0) return -1;
        cell->nruns++;
        r->done++;
    }
    return 0;
}

/* The medians and warnings of one cell, and its speedup over the baseline's cell of the same level
 * (or of any level: the baseline runs with concurrency 1 whatever it is asked). */
static void summarise(compare_report_t *rep, compare_cell_t *cell, const compare_cell_t *seq) {
    double el[64], ps[64], id[64], p50[64], p99[64], pages[64], pcpu[64], kib[64];
    for (uint32_t i = 0; i < cell->nruns; i++) {
        const compare_run_t *run = &cell->runs[i];
        el[i] = run->elapsed_s, ps[i] = run->pages_per_s, id[i] = run->ideal_s;
        pcpu[i] = compare_run_pages_per_cpu_s(run), kib[i] = compare_run_kib_per_task(run);
        p50[i] = run->p50_ms, p99[i] = run->p99_ms, pages[i] = (double)run->pages;
        if (run->retries > cell->retries) cell->retries = run->retries;
        if (run->failed > cell->failed) cell->failed = run->failed;
        if (run->duplicates > cell->duplicates) cell->duplicates = run->duplicates;
        if (run->throttled > cell->throttled) cell->throttled = run->throttled;
    }
    compare_stat_t s;
    compare_stat_of(el, cell->nruns, &cell->elapsed);
    compare_stat_of(ps, cell->nruns, &cell->pages_per_s);
    compare_stat_of(id, cell->nruns, &s), cell->ideal_s = s.median;
    compare_stat_of(p50, cell->nruns, &s), cell->p50_ms = s.median;
    compare_stat_of(p99, cell->nruns, &s), cell->p99_ms = s.median;
    compare_stat_of(pages, cell->nruns, &s), cell->pages = (uint64_t)s.median;
    compare_stat_of(pcpu, cell->nruns, &cell->pages_per_cpu_s);
    compare_stat_of(kib, cell->nruns, &s), cell->kib_per_task = s.median;
    cell->over_ideal = cell->ideal_s > 0 ? cell->elapsed.median / cell->ideal_s : 0;
    if (seq && seq->elapsed.median > 0 && cell->elapsed.median > 0) {
        double a = seq->elapsed.median, b = cell->elapsed.median;
        cell->speedup = a / b;
        cell->speedup_err = cell->speedup * sqrt(pow(seq->elapsed.stddev / a, 2) + pow(cell->elapsed.stddev / b, 2));
    }
    size_t w = 0;
    if (cell->nruns > 1 && cell->elapsed.stddev > 0.1 * cell->elapsed.median)
        w += (size_t)snprintf(cell->warning + w, sizeof(cell->warning) - w, "spread %.0f%% of the median; ",
                              100 * cell->elapsed.stddev / cell->elapsed.median);
    if (cell->elapsed.outliers && w < sizeof(cell->warning))
        w += (size_t)snprintf(cell->warning + w, sizeof(cell->warning) - w, "%u outlier run(s); ", cell->elapsed.outliers);
    if (cell->duplicates && w < sizeof(cell->warning))
        w += (size_t)snprintf(cell->warning + w, sizeof(cell->warning) - w, "%llu duplicate fetches; ",
                              (unsigned long long)cell->duplicates);
    if (cell->throttled && w < sizeof(cell->warning))
        w += (size_t)snprintf(cell->warning + w, sizeof(cell->warning) - w, "%llu answers were 429 (%.0f pages/s achieved); ",
                              (unsigned long long)cell->throttled, cell->pages_per_s.median);
    if (w >= 2 && w < sizeof(cell->warning)) cell->warning[w - 2] = '\0';
    (void)rep;
}

static int run_all(runner_t *r) {
    const compare_config_t *cfg = r->cfg;
    compare_report_t *rep = r->rep;
    rep->ncells = cfg->nmodels * cfg->nlevels;
    if (!(rep->cells = calloc(rep->ncells, sizeof(*rep->cells)))) return fail(r, "out of memory");
    r->total = (uint32_t)(rep->ncells * (cfg->warmup + cfg->repeat));
    for (size_t m = 0; m < cfg->nmodels; m++)
        for (size_t l = 0; l < cfg->nlevels; l++) {
            compare_cell_t *cell = &rep->cells[m * cfg->nlevels + l];
            snprintf(cell->model, sizeof(cell->model), "%s", cfg->models[m]);
            const crawl_engine_t *e = models_find(cell->model);
            if (!e) return fail(r, "unknown model '%s'", cell->model);
            cell->concurrency = cfg->levels[l] < e->max_concurrency ? cfg->levels[l] : e->max_concurrency;
            if (measure_cell(r, cell) < 0) return -1;
        }
    if (cfg->progress) fprintf(stderr, "\r%*s\r", 60, "");
    /* Speedups are over the baseline at the same level, when it was run. */
    for (size_t l = 0; l < cfg->nlevels; l++) {
        const compare_cell_t *seq = NULL;
        for (size_t m = 0; m < cfg->nmodels; m++)
            if (models_find(cfg->models[m]) == models_baseline()) seq = &rep->cells[m * cfg->nlevels + l];
        if (seq) summarise(rep, (compare_cell_t *)seq, NULL);
        for (size_t m = 0; m < cfg->nmodels; m++) {
            compare_cell_t *cell = &rep->cells[m * cfg->nlevels + l];
            if (cell != seq) summarise(rep, cell, seq);
        }
        if (seq) ((compare_cell_t *)seq)->speedup = 1.0;
    }
    return 0;
}

int compare_run(const compare_config_t *cfg, compare_report_t *report, char *err) {
    runner_t r = {.cfg = cfg, .rep = report, .err = err};
    memset(report, 0, sizeof(*report));
    report->cfg = *cfg;
    uint64_t t0 = clock_now_us();
    int rc = -1;
    if (!cfg->url || !cfg->launch) {
        snprintf(err, COMPARE_ERR_LEN, "no server URL or no way to launch a crawl");
        return -1;
    }
    if (!(r.easy = fetch_api_easy(10000000, &r.body))) {
        snprintf(err, COMPARE_ERR_LEN, "cannot create a libcurl handle");
        return -1;
    }
    snprintf(report->url, sizeof(report->url), "%s", cfg->url);
    report->embedded = cfg->embedded;
    if (describe(&r) < 0 || run_all(&r) < 0) goto out;
    rc = 0;
out:
    if (rc < 0 && cfg->progress) fprintf(stderr, "\r%*s\r", 60, "");
    report->total_s = (double)(clock_now_us() - t0) / 1e6;
    curl_easy_cleanup(r.easy);
    buf_free(&r.body);
    return rc;
}

void compare_report_free(compare_report_t *r) {
    free(r->cells);
    r->cells = NULL;
}
