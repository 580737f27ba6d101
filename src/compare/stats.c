/* Summary statistics for repeated measurements, as hyperfine reports them: median, mean, range,
 * standard deviation, and outliers by the modified z-score (Iglewicz and Hoaglin: 0.6745 times the
 * distance from the median over the median absolute deviation, above 3.5). With the few runs a
 * comparison makes, the MAD can be tiny, so a run must also be 10% away from the median to count:
 * an "outlier" that moves nothing is not worth a warning. Also the figures derived from one run. */
#include "compare/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_sorted(const double *v, size_t n) {
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void compare_stat_of(const double *v, size_t n, compare_stat_t *out) {
    double s[64], dev[64];
    memset(out, 0, sizeof(*out));
    if (n == 0) return;
    if (n > 64) n = 64;
    memcpy(s, v, n * sizeof(*v));
    qsort(s, n, sizeof(*s), cmp_double);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) sum += s[i];
    out->mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) sq += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;
    out->median = median_sorted(s, n);
    out->min = s[0];
    out->max = s[n - 1];
    for (size_t i = 0; i < n; i++) dev[i] = fabs(s[i] - out->median);
    qsort(dev, n, sizeof(*dev), cmp_double);
    double mad = median_sorted(dev, n);
    for (size_t i = 0; mad > 0 && i < n; i++)
        if (0.6745 * fabs(s[i] - out->median) / mad > 3.5 && fabs(s[i] - out->median) > 0.1 * out->median)
            out->outliers++;
}

double compare_run_pages_per_cpu_s(const compare_run_t *run) {
    return run->cpu_s > 0 ? (double)run->pages / run->cpu_s : 0;
}

/* A crawl's start RSS already holds the process, libcurl and the frontier: what grows past it is what
 * its tasks in flight (stacks, handles, buffers, worker processes) cost. */
double compare_run_kib_per_task(const compare_run_t *run) {
    if (!run->peak_in_flight || run->peak_rss_kb <= run->start_rss_kb) return 0;
    return (double)(run->peak_rss_kb - run->start_rss_kb) / run->peak_in_flight;
}
