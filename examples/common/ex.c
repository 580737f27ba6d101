/* The examples' checked wrappers (see ex.h). Nothing here is a lesson; it is what keeps the error
 * handling out of the lessons' way. */
#include "ex.h"

#include <errno.h> /* program_invocation_short_name (GNU) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

long ex_arg(int argc, char **argv, int i, long def, long min, long max, const char *usage) {
    if (argc <= i) return def;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (errno || end == argv[i] || *end || v < min || v > max) {
        fprintf(stderr, "%s: bad argument '%s' (expected %ld..%ld)\nusage: %s %s\n",
                program_invocation_short_name, argv[i], min, max, argv[0], usage);
        exit(2);
    }
    return v;
}

void ex_usage(char **argv, const char *usage) {
    fprintf(stderr, "%s: missing arguments\nusage: %s %s\n", program_invocation_short_name, argv[0], usage);
    exit(2);
}

const char *ex_arg_str(int argc, char **argv, int i, const char *def) { return argc > i ? argv[i] : def; }

static double ts_sec(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) die("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double ex_now(void) { return ts_sec(CLOCK_MONOTONIC); }
double ex_cpu(void) { return ts_sec(CLOCK_PROCESS_CPUTIME_ID); }

void ex_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        if (errno != EINTR) die("nanosleep: %s", strerror(errno));
}

void *Malloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

#define CHECK_EN(call, what)                                                                                 \
    do {                                                                                                     \
        int en_ = (call);                                                                                    \
        if (en_ != 0) die("%s: %s", what, strerror(en_));                                                    \
    } while (0)

void Pthread_create(pthread_t *t, void *(*fn)(void *), void *arg) {
    CHECK_EN(pthread_create(t, NULL, fn, arg), "pthread_create");
}
void Pthread_join(pthread_t t, void **ret) { CHECK_EN(pthread_join(t, ret), "pthread_join"); }
void Pthread_mutex_lock(pthread_mutex_t *m) { CHECK_EN(pthread_mutex_lock(m), "pthread_mutex_lock"); }
void Pthread_mutex_unlock(pthread_mutex_t *m) { CHECK_EN(pthread_mutex_unlock(m), "pthread_mutex_unlock"); }
void Pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
    CHECK_EN(pthread_cond_wait(c, m), "pthread_cond_wait");
}
void Pthread_cond_signal(pthread_cond_t *c) { CHECK_EN(pthread_cond_signal(c), "pthread_cond_signal"); }
void Pthread_cond_broadcast(pthread_cond_t *c) {
    CHECK_EN(pthread_cond_broadcast(c), "pthread_cond_broadcast");
}

pid_t Fork(void) {
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    return pid;
}

void Pipe(int fd[2]) {
    if (pipe(fd) != 0) die("pipe: %s", strerror(errno));
}

void Write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("write: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

size_t Read_all(int fd, void *p, size_t n) {
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read: %s", strerror(errno));
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

int Waitpid_ok(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

uint64_t ex_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double ex_rand01(uint64_t *state) { return (double)(ex_rand(state) >> 11) * 0x1.0p-53; }
