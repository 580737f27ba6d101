/* The examples' tiny shared helper, in the spirit of OSTEP's mythreads.h and TLPI's tlpi_hdr.h:
 * every call that can fail is checked here, so that an example's own lines show only its lesson.
 * A wrapper that fails prints "program: what: reason" and exits 1; a bad argument exits 2. */
#ifndef EX_H
#define EX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Prints "program: message" (printf-style) to stderr and exits 1 (a runtime failure). */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* argv[i] as an integer in [min, max], or def when argc <= i; anything else prints the usage line
 * and exits 2. */
long ex_arg(int argc, char **argv, int i, long def, long min, long max, const char *usage);

/* Prints "usage: PROGRAM USAGE" to stderr and exits 2 (for arguments that have no default). */
void ex_usage(char **argv, const char *usage) __attribute__((noreturn));

/* argv[i] as a string, or def when argc <= i. */
const char *ex_arg_str(int argc, char **argv, int i, const char *def);

double ex_now(void); /* monotonic seconds */
double ex_cpu(void); /* CPU seconds used by the whole process (all threads) */
void ex_sleep_ms(long ms);
void *Malloc(size_t n); /* zeroed */

/* pthreads return the error number instead of setting errno (TLPI's errExitEN). */
void Pthread_create(pthread_t *t, void *(*fn)(void *), void *arg);
void Pthread_join(pthread_t t, void **ret);
void Pthread_mutex_lock(pthread_mutex_t *m);
void Pthread_mutex_unlock(pthread_mutex_t *m);
void Pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
void Pthread_cond_signal(pthread_cond_t *c);
void Pthread_cond_broadcast(pthread_cond_t *c);

pid_t Fork(void);
void Pipe(int fd[2]);
void Write_all(int fd, const void *p, size_t n);
size_t Read_all(int fd, void *p, size_t n); /* until n bytes or end of file; returns bytes read */
int Waitpid_ok(pid_t pid);                  /* waits; 1 when the child exited 0 */

/* A deterministic pseudo-random stream (splitmix64), so that every run prints the same numbers. */
uint64_t ex_rand(uint64_t *state);
double ex_rand01(uint64_t *state); /* uniform in [0, 1) */

#endif
