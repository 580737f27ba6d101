/* Measures the shape of generated (or SNAP-loaded) graphs: the figures quoted in docs/GRAPH.md.
 * Not part of the Makefile build; from the repository root:
 *
 *   cc -std=gnu17 -D_GNU_SOURCE -O2 -Isrc -o build/graph_props bench/graph_props.c \
 *       src/graph/graph.c src/graph/gen.c src/graph/snap.c -lz -lm
 *   build/graph_props                     # 1,000 / 10,000 / 1,000,000 pages, seed 42, out_degree 8
 *   build/graph_props -s 7 -d 12 50000    # other seed, degree and sizes
 *   build/graph_props -f web-Google.txt.gz
 *
 * Floating point is fine here: this program reports on graphs, it never decides one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "graph/graph.h"

#define UNSET UINT32_MAX

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "graph_props: out of memory\n");
        exit(1);
    }
    return p;
}

/* In-degree tail: how many pages have in-degree >= 1, 2, 4, ..., and the slope of that CCDF on
 * log-log axes, fitted by least squares over the thresholds >= 4 still holding >= 10 pages. A CCDF
 * slope of -a means a density exponent of 1 + a (the web: about 2.1). */
static void in_degree_tail(const graph_t *g) {
    uint32_t n = graph_pages(g), *in = xcalloc(n, sizeof(uint32_t));
    for (uint32_t p = 0; p < n; p++) {
        uint32_t deg;
        const uint32_t *l = graph_links(g, p, &deg);
        for (uint32_t k = 0; k < deg; k++) in[l[k]]++;
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int points = 0;
    printf("  in-degree >= k:");
    for (uint64_t k = 1; k <= n; k *= 2) {
        uint32_t c = 0;
        for (uint32_t p = 0; p < n; p++) c += in[p] >= k;
        if (c == 0) break;
        printf(" %llu:%u", (unsigned long long)k, c);
        if (k >= 4 && c >= 10) {
            double x = log((double)k), y = log((double)c);
            sx += x, sy += y, sxx += x * x, sxy += x * y, points++;
        }
    }
    printf("\n");
    if (points >= 2) {
        double slope = (points * sxy - sx * sy) / (points * sxx - sx * sx);
        printf("  in-degree tail: CCDF slope %.2f, density exponent %.2f (%d points)\n", slope,
               1 - slope, points);
    }
    free(in);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fraction of pages reachable from 10 sampled start pages, and the BFS depth from the first. */
static void reachability(const graph_t *g) {
    uint32_t n = graph_pages(g), starts[10], *dist = xcalloc(n, sizeof(uint32_t));
    uint32_t *queue = xcalloc(n, sizeof(uint32_t));
    uint8_t *mark = xcalloc(n, 1);
    double frac[10];
    uint32_t m = graph_sample(g, 1, 10, starts);
    for (uint32_t k = 0; k < m; k++) frac[k] = (double)graph_reachable(g, starts[k], mark) / n;
    qsort(frac, m, sizeof(double), cmp_double);
    printf("  reachable from %u start pages: min %.3f median %.3f max %.3f\n", m, frac[0],
           frac[m / 2], frac[m - 1]);

    for (uint32_t p = 0; p < n; p++) dist[p] = UNSET;
    uint32_t head = 0, tail = 0, depth = 0;
    uint64_t sum = 0;
    dist[starts[0]] = 0;
    queue[tail++] = starts[0];
    while (head < tail) {
        uint32_t p = queue[head++], deg;
        const uint32_t *l = graph_links(g, p, &deg);
        sum += dist[p];
        if (dist[p] > depth) depth = dist[p];
        for (uint32_t k = 0; k < deg; k++)
            if (dist[l[k]] == UNSET) dist[l[k]] = dist[p] + 1, queue[tail++] = l[k];
    }
    printf("  BFS from page %u: depth %u, mean distance %.2f\n", starts[0], depth, (double)sum / tail);
    free(dist);
    free(queue);
    free(mark);
}

/* Largest strongly connected component by Tarjan's algorithm, made iterative with an explicit call
 * stack of (page, next link) frames so a million-page graph cannot overflow the C stack. */
static uint32_t largest_scc(const graph_t *g) {
    uint32_t n = graph_pages(g), counter = 0, best = 0, sp = 0, fp = 0;
    uint32_t *idx = xcalloc(n, 4), *low = xcalloc(n, 4), *stack = xcalloc(n, 4), *frame = xcalloc(n, 4);
    uint32_t *pos = xcalloc(n, 4);
    uint8_t *on = xcalloc(n, 1);
    for (uint32_t p = 0; p < n; p++) idx[p] = UNSET;
    for (uint32_t root = 0; root < n; root++) {
        if (idx[root] != UNSET) continue;
        frame[fp++] = root;
        idx[root] = low[root] = counter++, stack[sp++] = root, on[root] = 1, pos[root] = 0;
        while (fp) {
            uint32_t v = frame[fp - 1], deg;
            const uint32_t *l = graph_links(g, v, &deg);
            if (pos[v] < deg) {
                uint32_t w = l[pos[v]++];
                if (idx[w] == UNSET) {
                    frame[fp++] = w;
                    idx[w] = low[w] = counter++, stack[sp++] = w, on[w] = 1, pos[w] = 0;
                } else if (on[w] && idx[w] < low[v]) {
                    low[v] = idx[w];
                }
                continue;
            }
            if (low[v] == idx[v]) { /* v roots a component: pop it */
                uint32_t size = 0, w;
                do w = stack[--sp], on[w] = 0, size++;
                while (w != v);
                if (size > best) best = size;
            }
            if (--fp && low[v] < low[frame[fp - 1]]) low[frame[fp - 1]] = low[v];
        }
    }
    free(idx), free(low), free(stack), free(frame), free(pos), free(on);
    return best;
}

static void report(const graph_t *g, double secs, long rss_before_kb) {
    graph_shape_t s;
    struct rusage ru;
    graph_shape(g, &s);
    getrusage(RUSAGE_SELF, &ru);
    printf("%s: %u pages, %llu links\n", graph_source(g), s.pages, (unsigned long long)s.edges);
    printf("  built in %.3f s; arrays %.1f MiB; peak RSS %.1f MiB (%.1f MiB before)\n", secs,
           s.memory_bytes / 1048576.0, ru.ru_maxrss / 1024.0, rss_before_kb / 1024.0);
    printf("  out-degree mean %.2f max %u; in-degree max %u; zero in-degree %u (%.1f%%); dangling %u\n",
           s.mean_out_degree, s.max_out_degree, s.max_in_degree, s.zero_in_degree,
           100.0 * s.zero_in_degree / s.pages, s.dangling);
    in_degree_tail(g);
    reachability(g);
    uint32_t scc = largest_scc(g);
    printf("  largest SCC: %u pages (%.1f%%)\n", scc, 100.0 * scc / s.pages);
}

int main(int argc, char **argv) {
    graph_params_t p = {.seed = 42, .pages = 1000, .out_degree = 8};
    const char *file = NULL;
    char err[GRAPH_ERR_LEN];
    int opt, status = 0;
    while ((opt = getopt(argc, argv, "s:d:f:")) != -1) {
        if (opt == 's') p.seed = strtoull(optarg, NULL, 10);
        else if (opt == 'd') p.out_degree = (uint32_t)strtoul(optarg, NULL, 10);
        else if (opt == 'f') file = optarg;
        else {
            fprintf(stderr, "usage: graph_props [-s seed] [-d out_degree] [pages ...] | -f snap-file\n");
            return 2;
        }
    }
    static const char *sizes[] = {"1000", "10000", "1000000"};
    char **list = optind < argc ? argv + optind : (char **)sizes;
    int count = optind < argc ? argc - optind : 3;
    for (int k = 0; k < (file ? 1 : count); k++) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        p.pages = file ? 0 : (uint32_t)strtoul(list[k], NULL, 10);
        double t0 = now_s();
        graph_t *g = file ? graph_load_snap(file, err) : graph_generate(&p, err);
        double t1 = now_s();
        if (!g) {
            fprintf(stderr, "graph_props: %s\n", err);
            status = 1;
            continue;
        }
        if (!file) printf("seed %llu, out_degree %u, ", (unsigned long long)p.seed, p.out_degree);
        report(g, t1 - t0, ru.ru_maxrss);
        graph_free(g);
    }
    return status;
}
