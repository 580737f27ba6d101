/* The comparison's derived figures and lessons on reports built by hand: pages per CPU-second and
 * memory per task in flight from one run, each regime's sentence and figure from the cells, and the
 * faults regime's check, which must fail when two models end with different pages or failures. */
#include "compare/compare.h"

#include <criterion/criterion.h>
#include <string.h>

static compare_cell_t cells[4];

/* A report over the first n cells; each cell one run with the given figures. */
static compare_report_t report_of(compare_regime_t g, size_t n) {
    compare_report_t r;
    memset(&r, 0, sizeof(r));
    r.cfg.regime = g;
    r.cells = cells;
    r.ncells = n;
    snprintf(r.server_latency, sizeof(r.server_latency), "20ms");
    return r;
}

static void cell(size_t i, const char *model, double elapsed, uint64_t pages, uint64_t failed) {
    memset(&cells[i], 0, sizeof(cells[i]));
    snprintf(cells[i].model, sizeof(cells[i].model), "%s", model);
    cells[i].concurrency = strcmp(model, "sequential") ? 10 : 1;
    cells[i].nruns = 1;
    cells[i].runs[0] = (compare_run_t){.elapsed_s = elapsed, .pages = pages, .failed = failed};
    cells[i].elapsed.median = elapsed;
    cells[i].pages = pages;
    cells[i].failed = failed;
}

Test(compare, derived_figures_of_a_run) {
    compare_run_t run = {
        .pages = 1000, .cpu_s = 0.025, .peak_rss_kb = 12000, .start_rss_kb = 10000, .peak_in_flight = 100};
    cr_assert_float_eq(compare_run_pages_per_cpu_s(&run), 40000, 1e-6);
    cr_assert_float_eq(compare_run_kib_per_task(&run), 20, 1e-9);
    run.cpu_s = 0, run.peak_in_flight = 0;
    cr_assert_eq(compare_run_pages_per_cpu_s(&run), 0, "no CPU measured: no figure, not infinity");
    cr_assert_eq(compare_run_kib_per_task(&run), 0);
}

Test(compare, regime_names_round_trip) {
    compare_regime_t g;
    for (int i = COMPARE_REGIME_LATENCY; i <= COMPARE_REGIME_FAULTS; i++) {
        cr_assert_eq(compare_regime_parse(compare_regime_name((compare_regime_t)i), &g), 0);
        cr_assert_eq(g, (compare_regime_t)i);
    }
    cr_assert_eq(compare_regime_parse("gil", &g), -1);
}

/* Three models under faults, epoll ending with the pages and failures given, and their lesson. */
static compare_lesson_t faults_lesson(uint64_t epoll_pages, uint64_t epoll_failed) {
    cell(0, "sequential", 4.0, 91, 2);
    cell(1, "threads", 1.0, 91, 2);
    cell(2, "epoll", 0.5, epoll_pages, epoll_failed);
    compare_report_t r = report_of(COMPARE_REGIME_FAULTS, 3);
    compare_lesson_t l;
    cr_assert_eq(compare_lesson(&r, &l), 0);
    return l;
}

Test(compare, faults_lesson_holds_when_every_model_ends_alike) {
    compare_lesson_t l = faults_lesson(91, 2);
    cr_assert(l.holds);
    cr_assert_float_eq(l.figure, 8.0, 1e-9, "slowest over fastest");
    cr_assert(strstr(l.text, "the same 91 pages") && strstr(l.text, "the same 2"), "%s", l.text);
}

Test(compare, faults_lesson_fails_when_a_model_disagrees) {
    compare_lesson_t l = faults_lesson(90, 3);
    cr_assert_not(l.holds);
    cr_assert(strncmp(l.text, "BUG", 3) == 0 && strstr(l.text, "epoll"), "%s", l.text);
}

Test(compare, cpu_and_conns_lessons_quote_the_cells) {
    cell(0, "threads", 1.0, 5000, 0);
    cell(1, "epoll", 1.0, 5000, 0);
    cells[0].pages_per_cpu_s.median = 20000, cells[1].pages_per_cpu_s.median = 80000;
    cells[0].kib_per_task = 48, cells[1].kib_per_task = 8, cells[0].p99_ms = 130, cells[1].p99_ms = 100;
    compare_report_t r = report_of(COMPARE_REGIME_CPU, 2);
    compare_lesson_t l;
    cr_assert_eq(compare_lesson(&r, &l), 0);
    cr_assert_float_eq(l.figure, 4.0, 1e-9);
    cr_assert(strstr(l.text, "epoll crawled 80000") && strstr(l.text, "threads 20000"), "%s", l.text);
    r.cfg.regime = COMPARE_REGIME_CONNS;
    cr_assert_eq(compare_lesson(&r, &l), 0);
    cr_assert_float_eq(l.figure, 6.0, 1e-9);
    cr_assert(strstr(l.text, "threads needed 48.0 KiB") && strstr(l.text, "130 ms (threads)"), "%s", l.text);
}

Test(compare, latency_lesson_needs_the_baseline) {
    cell(0, "threads", 1.0, 100, 0);
    compare_report_t r = report_of(COMPARE_REGIME_LATENCY, 1);
    compare_lesson_t l;
    cr_assert_eq(compare_lesson(&r, &l), -1, "no sequential: no speedup to quote");
    cell(0, "sequential", 2.0, 100, 0);
    cell(1, "threads", 0.25, 100, 0);
    cells[0].speedup = 1, cells[1].speedup = 8, cells[0].over_ideal = 1.02, cells[1].over_ideal = 1.1;
    r = report_of(COMPARE_REGIME_LATENCY, 2);
    cr_assert_eq(compare_lesson(&r, &l), 0);
    cr_assert(strstr(l.text, "8.0x (threads)") && strstr(l.text, "at most 1.10x"), "%s", l.text);
    r.cfg.regime = COMPARE_REGIME_NONE;
    cr_assert_eq(compare_lesson(&r, &l), -1);
}
