/* `crawlbench compare --tour` (what `make demo` runs): the regimes where the models differ, each one
 * `crawlbench compare --regime R ...` run through the same parser and runner as a typed command, then
 * `crawlbench analyze --sweep`, and a tour page over them all. The tour lives in the binary rather
 * than in demo.sh so that the page is written from the reports in memory by src/compare/'s writers:
 * no second parser of compare.json, no figure copied from one file to another, one exit status. */
#include "base/clock.h"
#include "cli/cli.h"
#include "compare/compare.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 24
#define NSECTIONS (NREGIMES + 1) /* and the analysis */

/* A stop of the tour: compare's options as "--option value" pairs, and the values --quick changes. */
typedef struct regime {
    const char *name, *title;
    const char *args[MAX_ARGS];
    const char *quick[10]; /* NULL-terminated: one more than the longest */
} regime_t;

/* Sequential sits out "conns": one request in flight has no per-request share to measure, and its
 * 3,000 pages at 50 ms would take 150 s alone. "faults" has no cap: under one, which pages a
 * concurrent model reaches depends on timing, and the outcome must not. */
static const regime_t regimes[] = {
    {"latency",
     "Latency-bound: 20 ms a request, 10 in flight",
     {"--regime", "latency", "--max-pages", "100", "--repeat", "3", "--warmup", "0"},
     {"--max-pages", "30", "--repeat", "1"}},
    {"cpu",
     "CPU-bound crawling: no latency at all",
     {"--regime", "cpu", "--latency", "0ms", "--pages", "5000", "--max-pages", "5000", "--repeat", "3",
      "--warmup", "0"},
     {"--pages", "500", "--max-pages", "500", "--repeat", "1"}},
    {"conns",
     "Many connections: a thousand requests in flight at 50 ms",
     {"--regime", "conns", "--models", "threads,processes,async,epoll,pool,green,nursery,pipeline",
      "--concurrency", "1000", "--latency", "50ms", "--pages", "5000", "--max-pages", "3000", "--repeat", "1",
      "--warmup", "0"},
     {"--concurrency", "100", "--pages", "600", "--max-pages", "400", "--latency", "5ms"}},
    {"faults",
     "Faults: 20% of answers a 500, 10% a reset",
     {"--regime", "faults", "--faults", "500:0.2,reset:0.1", "--latency", "2ms", "--pages", "100",
      "--max-pages", "1000000", "--repeat", "1", "--warmup", "0"},
     {"--pages", "60"}},
};
#define NREGIMES (sizeof(regimes) / sizeof(regimes[0]))

typedef struct tour_opts {
    const char *out;
    int quick;
    const char *progress; /* passed on: "--progress" or "--no-progress" */
} tour_opts_t;

static int tour_parse(int argc, char **argv, tour_opts_t *o) {
    static const struct option opts[] = {
        {"tour", no_argument, 0, 't'},        {"quick", no_argument, 0, 'q'},
        {"out", required_argument, 0, 'o'},   {"progress", no_argument, 0, 'p'},
        {"no-progress", no_argument, 0, 'n'}, {0, 0, 0, 0}};
    int opt;
    *o = (tour_opts_t){.out = ".", .progress = isatty(2) ? "--progress" : "--no-progress"};
    optind = 0, opterr = 0; /* 0: glibc forgets any vector it permuted before */
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (opt == 'q')
            o->quick = 1;
        else if (opt == 'o')
            o->out = optarg;
        else if (opt == 'p' || opt == 'n')
            o->progress = opt == 'p' ? "--progress" : "--no-progress";
        else if (opt == ':')
            return cli_option_error("compare", argv, opt);
        else if (opt != 't')
            return cli_usage_error("compare",
                                   "--tour runs its own regimes: with it, only --quick, --out, --progress "
                                   "and --no-progress (not '%s')",
                                   argv[optind - 1]);
    }
    if (optind < argc) return cli_usage_error("compare", "--tour takes no server URL ('%s')", argv[optind]);
    struct stat st;
    if (stat(o->out, &st) < 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error("compare", "--out: '%s' is not a directory", o->out);
    return 0;
}

/* dir/name, made if missing. */
static int subdir(const char *dir, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    if (mkdir(path, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "crawlbench compare: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The argument vector of a regime, and the command a person would type for it. */
static void regime_argv(const regime_t *g, const tour_opts_t *o, const char *dir, char **argv, char *cmd,
                        size_t cap) {
    int n = 0;
    size_t w = (size_t)snprintf(cmd, cap, "crawlbench compare");
    argv[n++] = "compare";
    for (const char *const *a = g->args; *a; a++)
        argv[n++] = (char *)*a;
    for (const char *const *q = g->quick; o->quick && q[0] && q[1]; q += 2) { /* "--opt value" pairs */
        int j = 1;
        while (j < n && strcmp(argv[j], q[0]))
            j += 2;
        if (j < n) {
            argv[j + 1] = (char *)q[1];
        } else {
            argv[n++] = (char *)q[0];
            argv[n++] = (char *)q[1];
        }
    }
    for (int i = 1; i < n && w < cap; i++)
        w += (size_t)snprintf(cmd + w, cap - w, " %s", argv[i]);
    if (w < cap) snprintf(cmd + w, cap - w, " --out %.900s", dir); /* a longer path is cut in the text only */
    argv[n++] = "--out", argv[n++] = (char *)dir, argv[n++] = (char *)o->progress;
    argv[n] = NULL;
}

/* A whole file, NUL-terminated, or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = f ? open_memstream(&text, &len) : NULL;
    for (char buf[8192]; mem;) {
        size_t got = fread(buf, 1, sizeof(buf), f);
        if (!got) break;
        fwrite(buf, 1, got, mem);
    }
    if (mem) fclose(mem);
    if (f) fclose(f);
    return text;
}

/* CPU seconds the whole machine has spent busy (/proc/stat's first line), or -1. */
static double machine_busy_s(void) {
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7])
              : 0;
    if (f) fclose(f);
    if (n < 8) return -1;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* Runs `crawlbench analyze ARGV --json` with its stdout in json_path, and says how busy the other
 * programs kept the cores meanwhile (*others: a share of all the cores over the run, 0 to 1), since
 * speedups need idle cores. 0, or -1 with the reason printed. */
static int analyze_child(char **argv, const char *json_path, double *others) {
    double busy0 = machine_busy_s();
    uint64_t t0 = clock_now_us();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(json_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) _exit(127);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "crawlbench compare: the analysis (crawlbench analyze) failed\n");
        return -1;
    }
    double wall = (double)(clock_now_us() - t0) / 1e6, busy1 = machine_busy_s();
    double own = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    *others = busy0 < 0 || busy1 < 0 || wall <= 0
                  ? 0
                  : (busy1 - busy0 - own) / (wall * (double)sysconf(_SC_NPROCESSORS_ONLN));
    if (*others < 0) *others = 0; /* tick rounding */
    return 0;
}

/* The analysis's lesson from its --json sweep: each parallel model's speedup at the most workers. */
static int analyze_lesson(const char *json, double others, char *text, size_t cap, FILE *out) {
    cJSON *doc = cJSON_Parse(json ? json : "");
    const cJSON *runs =
                    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "sweep"), "runs"),
                *r;
    double best[3] = {0, 0, 0}, top = 0;
    static const char *const models[] = {"threads", "processes", "openmp"};
    cJSON_ArrayForEach(r, runs) top =
        fmax(top, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "workers")));
    fprintf(out, "%-10s %7s %9s %8s\n", "model", "workers", "seconds", "speedup");
    cJSON_ArrayForEach(r, runs) {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "model"));
        double w = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "workers"));
        double sp = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "speedup"));
        fprintf(out, "%-10s %7.0f %9.3f %7.2fx\n", m ? m : "?", w,
                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "seconds")), sp);
        for (int i = 0; i < 3 && m; i++)
            if (!strcmp(m, models[i]) && w == top) best[i] = sp;
    }
    cJSON_Delete(doc);
    if (!(top > 0)) return snprintf(text, cap, "the analysis printed no sweep"), -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char shared[96] = "";
    if (others > 0.1) /* speedups need idle cores: say when other programs were using them */
        snprintf(shared, sizeof(shared), " (other programs kept %.0f%% of the cores busy meanwhile)",
                 100 * others);
    snprintf(text, cap,
             "C threads have no GIL: with %.0f workers on %ld cores, PageRank ran %.2fx as fast as "
             "sequential with "
             "threads, %.2fx with processes and %.2fx with OpenMP%s, where CPython's GIL would hold threads "
             "to one "
             "core.",
             top, cores, best[0], best[1], best[2], shared);
    return 0;
}

/* The tour's last stop: `crawlbench analyze --sweep workers=1,2,..` up to the cores (at least 2), its
 * JSON and chart in dir/analyze/. Fills the section; its strings are in the caller's buffers. */
static int run_analysis(const tour_opts_t *o, char *cmd, size_t cap, char *lesson, size_t lcap, char **svg) {
    char dir[PATH_MAX], json_path[PATH_MAX + 16], svg_path[PATH_MAX + 24], sweep[64] = "workers=1,2";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    for (long w = 4; w <= cores && w <= 16; w *= 2)
        snprintf(sweep + strlen(sweep), sizeof(sweep) - strlen(sweep), ",%ld", w);
    if (subdir(o->out, "analyze", dir, sizeof(dir)) < 0) return -1;
    snprintf(json_path, sizeof(json_path), "%s/analyze.json", dir);
    snprintf(svg_path, sizeof(svg_path), "%s/analyze-sweep.svg", dir);
    char *argv[] = {"crawlbench", "analyze", "--pages",  o->quick ? "20000" : "200000",
                    "--sweep",    sweep,     "--repeat", o->quick ? "1" : "5",
                    "--json",     "--svg",   svg_path,   NULL};
    size_t w = 0;
    for (int i = 0; argv[i] && w < cap; i++)
        w += (size_t)snprintf(cmd + w, cap - w, "%s%s", i ? " " : "", argv[i]);
    printf("== CPU-bound analysis: PageRank on %s pages, %s\n", argv[3], sweep);
    double others = 0;
    if (analyze_child(argv, json_path, &others) < 0) return -1;
    char *json = slurp(json_path);
    int rc = analyze_lesson(json, others, lesson, lcap, stdout);
    free(json);
    *svg = slurp(svg_path);
    printf("\n%s %s\n\n", rc == 0 ? "lesson:" : "lesson: not drawn:", lesson);
    return rc;
}

/* The tour page, under a temporary name first like compare's own reports. */
static int write_tour(const char *out, const compare_tour_section_t *s, size_t n, double total_s) {
    char tmp[PATH_MAX], final[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/.report.html.tmp", out);
    snprintf(final, sizeof(final), "%s/report.html", out);
    FILE *f = fopen(tmp, "w");
    int ok = f && compare_write_tour(f, s, n, total_s) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, final) < 0) {
        fprintf(stderr, "crawlbench compare: cannot write %s: %s\n", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The regimes in turn; a lesson the data contradicts (models that disagree under faults) fails the tour. */
static int run_regimes(const tour_opts_t *o, compare_report_t *reps, compare_tour_section_t *sec,
                       char (*cmds)[1024], char (*dirs)[PATH_MAX], char (*links)[PATH_MAX + 16],
                       int *contradicted) {
    for (size_t i = 0; i < NREGIMES; i++) {
        char *argv[MAX_ARGS + 8];
        compare_lesson_t l;
        if (subdir(o->out, regimes[i].name, dirs[i], sizeof(dirs[i])) < 0) return CLI_FAIL;
        regime_argv(&regimes[i], o, dirs[i], argv, cmds[i], sizeof(cmds[i]));
        int argc = 0;
        while (argv[argc])
            argc++;
        int rc = cli_compare_run(argc, argv, regimes[i].title, &reps[i]);
        if (rc != CLI_OK) return rc;
        if (compare_lesson(&reps[i], &l) < 0 || !l.holds) *contradicted = 1;
        snprintf(links[i], sizeof(links[i]), "%s/report.html", regimes[i].name);
        sec[i] = (compare_tour_section_t){.name = regimes[i].name,
                                          .title = regimes[i].title,
                                          .command = cmds[i],
                                          .link = links[i],
                                          .report = &reps[i],
                                          .holds = 1};
        putchar('\n');
    }
    return CLI_OK;
}

int cli_compare_tour(int argc, char **argv) {
    static compare_report_t reps[NREGIMES];
    static char cmds[NSECTIONS][1024], dirs[NREGIMES][PATH_MAX], links[NREGIMES][PATH_MAX + 16];
    compare_tour_section_t sec[NSECTIONS];
    char lesson[640] = "";
    char *svg = NULL;
    tour_opts_t o;
    int contradicted = 0, rc = tour_parse(argc, argv, &o);
    if (rc) return rc;
    uint64_t t0 = clock_now_us();
    rc = run_regimes(&o, reps, sec, cmds, dirs, links, &contradicted);
    if (rc == CLI_OK &&
        run_analysis(&o, cmds[NREGIMES], sizeof(cmds[NREGIMES]), lesson, sizeof(lesson), &svg) < 0)
        rc = CLI_FAIL;
    if (rc == CLI_OK) {
        sec[NREGIMES] = (compare_tour_section_t){.name = "analyze",
                                                 .title = "CPU-bound analysis: PageRank on workers",
                                                 .command = cmds[NREGIMES],
                                                 .link = "analyze/analyze.json",
                                                 .lesson = lesson,
                                                 .svg = svg,
                                                 .holds = 1};
        double total = (double)(clock_now_us() - t0) / 1e6;
        rc = write_tour(o.out, sec, NSECTIONS, total) < 0 ? CLI_FAIL : CLI_OK;
        if (rc == CLI_OK)
            printf("tour: %s/report.html, each regime's report in its folder, in %.1f s\n", o.out, total);
    }
    for (size_t i = 0; i < NREGIMES; i++)
        compare_report_free(&reps[i]);
    free(svg);
    if (rc == CLI_OK && contradicted) {
        fprintf(stderr,
                "crawlbench compare: a regime's data contradicts its lesson (see the lines marked !!)\n");
        rc = CLI_FAIL;
    }
    return rc;
}
