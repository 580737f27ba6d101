/* What a comparison teaches, as one sentence whose figures come from its runs: a comparison run for
 * a regime (--regime, or one stop of --tour) says its lesson in the table, compare.json, report.html
 * and the tour page, all from compare_lesson(), so the sentence and its numbers cannot drift apart.
 * The faults regime also checks its lesson: models that disagree on the outcome are a bug, said so. */
#include "compare/compare.h"

#include "crawl/models/models.h"

#include <math.h>
#include <string.h>

static const char *const regime_names[] = {"none", "latency", "cpu", "conns", "faults"};
#define NREGIMES (sizeof(regime_names) / sizeof(regime_names[0]))

const char *compare_regime_name(compare_regime_t g) { return (size_t)g < NREGIMES ? regime_names[g] : NULL; }

int compare_regime_parse(const char *s, compare_regime_t *out) {
    for (size_t i = 0; i < NREGIMES; i++)
        if (!strcmp(s, regime_names[i])) return *out = (compare_regime_t)i, 0;
    return -1;
}

static int is_baseline(const compare_cell_t *c) { return models_find(c->model) == models_baseline(); }

/* The cells with the smallest and largest value of a figure, the baseline left out when asked (its
 * speedup is 1 by definition). 0, or -1 when no cell has a positive value. */
static int extremes(const compare_report_t *r, double (*of)(const compare_cell_t *), int skip_base,
                    const compare_cell_t **lo, const compare_cell_t **hi) {
    *lo = *hi = NULL;
    for (size_t i = 0; i < r->ncells; i++) {
        const compare_cell_t *c = &r->cells[i];
        double v = of(c);
        if ((skip_base && is_baseline(c)) || !(v > 0) || !isfinite(v)) continue;
        if (!*lo || v < of(*lo)) *lo = c;
        if (!*hi || v > of(*hi)) *hi = c;
    }
    return *lo ? 0 : -1;
}

static double of_speedup(const compare_cell_t *c) { return c->speedup; }
static double of_over_ideal(const compare_cell_t *c) { return c->over_ideal; }
static double of_pages_per_cpu(const compare_cell_t *c) { return c->pages_per_cpu_s.median; }
static double of_kib(const compare_cell_t *c) { return c->kib_per_task; }
static double of_p99(const compare_cell_t *c) { return c->p99_ms; }
static double of_elapsed(const compare_cell_t *c) { return c->elapsed.median; }

static int lesson_latency(const compare_report_t *r, compare_lesson_t *l) {
    const compare_cell_t *lo, *hi, *ilo, *ihi;
    if (extremes(r, of_speedup, 1, &lo, &hi) < 0 || extremes(r, of_over_ideal, 0, &ilo, &ihi) < 0)
        return snprintf(l->text, sizeof(l->text), "needs sequential and a concurrent model, with latency"),
               -1;
    l->figure = hi->speedup / lo->speedup;
    snprintf(
        l->text, sizeof(l->text),
        "Waiting is what concurrency hides: with %s per request and %u requests in flight, the concurrent "
        "models ran %.1fx (%s) to %.1fx (%s) faster than sequential, at most %.2fx their ideal time; %s "
        "(%.2fx from the slowest to the fastest).",
        r->server_latency, hi->concurrency, lo->speedup, lo->model, hi->speedup, hi->model, ihi->over_ideal,
        l->figure < 1.5 ? "while latency dominates, the model matters little"
                        : "here the models' own costs still show",
        l->figure);
    return 0;
}

static int lesson_cpu(const compare_report_t *r, compare_lesson_t *l) {
    const compare_cell_t *lo, *hi;
    if (extremes(r, of_pages_per_cpu, 0, &lo, &hi) < 0)
        return snprintf(l->text, sizeof(l->text), "no run measured its CPU time"), -1;
    l->figure = hi->pages_per_cpu_s.median / lo->pages_per_cpu_s.median;
    snprintf(
        l->text, sizeof(l->text),
        "With nothing to wait for, a model's own cost decides: %s crawled %.0f pages per CPU-second and %s "
        "%.0f, %.1fx the CPU per page, the price of its thread switches, processes or HTTP library.",
        hi->model, hi->pages_per_cpu_s.median, lo->model, lo->pages_per_cpu_s.median, l->figure);
    return 0;
}

static int lesson_conns(const compare_report_t *r, compare_lesson_t *l) {
    const compare_cell_t *lo, *hi, *plo, *phi;
    if (extremes(r, of_kib, 1, &lo, &hi) < 0 || extremes(r, of_p99, 1, &plo, &phi) < 0)
        return snprintf(l->text, sizeof(l->text), "no run grew its memory with its tasks in flight"), -1;
    l->figure = hi->kib_per_task / lo->kib_per_task;
    snprintf(
        l->text, sizeof(l->text),
        "With %u requests in flight, what each task holds adds up: %s needed %.1f KiB per request in flight "
        "and %s %.1f KiB (%.0fx), and the p99 latency ran from %.0f ms (%s) to %.0f ms (%s).",
        hi->concurrency, hi->model, hi->kib_per_task, lo->model, lo->kib_per_task, l->figure, plo->p99_ms,
        plo->model, phi->p99_ms, phi->model);
    return 0;
}

/* Every run of every model must end with the same pages fetched and failed: the faults are a pure
 * function of (seed, page, attempt), and with no cap the pages reached do not depend on timing. */
static int lesson_faults(const compare_report_t *r, compare_lesson_t *l) {
    const compare_cell_t *lo, *hi, *first = r->ncells ? &r->cells[0] : NULL;
    if (!first || !first->nruns || extremes(r, of_elapsed, 0, &lo, &hi) < 0)
        return snprintf(l->text, sizeof(l->text), "no runs"), -1;
    const compare_run_t *a = &first->runs[0];
    for (size_t i = 0; i < r->ncells; i++)
        for (uint32_t j = 0; j < r->cells[i].nruns; j++) {
            const compare_run_t *b = &r->cells[i].runs[j];
            if (b->pages == a->pages && b->failed == a->failed) continue;
            l->holds = 0, l->figure = 0;
            snprintf(
                l->text, sizeof(l->text),
                "BUG: the models disagree on the outcome under the same faults: %s fetched %llu pages and "
                "gave up on %llu, %s %llu and %llu; every model should reach the same pages.",
                first->model, (unsigned long long)a->pages, (unsigned long long)a->failed, r->cells[i].model,
                (unsigned long long)b->pages, (unsigned long long)b->failed);
            return 0;
        }
    l->figure = hi->elapsed.median / lo->elapsed.median;
    snprintf(
        l->text, sizeof(l->text),
        "Faults change the cost, not the outcome: every model fetched the same %llu pages and gave up on "
        "the same %llu after %llu retries, in %.2f s (%s) to %.2f s (%s), %.1fx apart.",
        (unsigned long long)a->pages, (unsigned long long)a->failed, (unsigned long long)a->retries,
        lo->elapsed.median, lo->model, hi->elapsed.median, hi->model, l->figure);
    return 0;
}

int compare_lesson(const compare_report_t *r, compare_lesson_t *out) {
    memset(out, 0, sizeof(*out));
    out->holds = 1;
    switch (r->cfg.regime) {
    case COMPARE_REGIME_LATENCY: return lesson_latency(r, out);
    case COMPARE_REGIME_CPU: return lesson_cpu(r, out);
    case COMPARE_REGIME_CONNS: return lesson_conns(r, out);
    case COMPARE_REGIME_FAULTS: return lesson_faults(r, out);
    case COMPARE_REGIME_NONE: break;
    }
    snprintf(out->text, sizeof(out->text), "no regime");
    return -1;
}
